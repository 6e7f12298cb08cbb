#!/usr/bin/env bash
# Path MTU discovery on real links (node/transport/pmtud.h, docs/PROTOCOL.md section 16):
#
#     node A (a, 203.0.113.20, 50 Mbit/s) --- internet (MTU 1500) --- node C (c, 203.0.113.30)
#                                                  |
#                                         router r (full cone): LAN MTU 1428, and every ICMP
#                                                  |             error it would send dropped by nftables
#                                               node B (b)
#
# A sends an 8 MiB file to C, then to B, twice each: the search runs during the first, and has
# settled before the second.  nftables counters on the internet's bridge count A's datagrams to
# each by size (A's interface takes no GSO trains, so each datagram crosses the bridge on its own):
#   - A -> C, a 1500-byte path: during the second file, most datagrams are within 100 bytes of 1472
#     (1500 - IPv4 - UDP: data packets fill the PLPMTU up to a 64-byte unit), none larger;
#   - A -> B, a black hole above 1400 bytes of UDP payload (1428 - 28): the router drops larger
#     datagrams and its "fragmentation needed" errors never leave (its nftables counter shows it
#     tried), so nothing tells A.  During the first file A's probes of 1401 bytes go exactly
#     MAX_PROBES (3) times and one of 1400 passes; during the second, most datagrams are within 100
#     bytes of 1400 and none is larger.  Every send is answered.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"

run=pm$$
KRUN=$run
SIZE=$((8 * 1024 * 1024))
cat >"$KTMP/pmtud.topo" <<'T'
internet
host a addr=203.0.113.20 rate=50mbit
host c addr=203.0.113.30
router r preset=full-cone
host b behind r
T
kup "$KTMP/pmtud.topo" "$run"
ns() { echo "ns-$run-$1"; }

# B's LAN carries 1428-byte packets; the router's errors about it are dropped
ip -n "$(ns r)" link set dev b mtu 1428
ip -n "$(ns r)" link set dev lan mtu 1428
ip -n "$(ns b)" link set dev eth0 mtu 1428
ip netns exec "$(ns r)" nft -f - <<N
table ip pmtutest {
	chain out {
		type filter hook output priority 0;
		icmp type destination-unreachable icmp code frag-needed counter drop
	}
}
N
# Datagram sizes on the wire, counted on the internet's bridge as frames are forwarded to DEST:
# UDP length = payload + 8.  A sends each datagram on its own (no GSO train), so each is a frame.
ip -n "$(ns a)" link set dev eth0 gso_max_segs 1
count_rules() { # count_rules NAME DEST SIZE
	ip netns exec "$(ns inet)" nft -f - <<N
table bridge pmtu$1 {
	chain sizes {
		type filter hook forward priority 0;
		ip daddr $2 udp length $(($3 + 8)) counter comment "at"
		ip daddr $2 udp length $(($3 + 9)) counter comment "above"
		ip daddr $2 udp length $(($3 + 8 - 100))-$(($3 + 8)) counter comment "near"
		ip daddr $2 udp length > $(($3 + 8)) counter comment "over"
		ip daddr $2 meta l4proto udp counter comment "every"
	}
}
N
}
counter() { # counter NAME COMMENT: packets of that rule
	ip netns exec "$(ns inet)" nft list table bridge "pmtu$1" |
		awk -v c="\"$2\"" '$0 ~ "comment " c { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}
declare -A DEST=([c]=203.0.113.30 [b]=$(kaddr "$run" r))
count_rules c "${DEST[c]}" 1472
count_rules b "${DEST[b]}" 1400
reset_counts() { # reset_counts NAME SIZE: rule counters start from zero (a new table)
	ip netns exec "$(ns inet)" nft delete table bridge "pmtu$1"
	count_rules "$1" "${DEST[$1]}" "$2"
}

kstart "$run" a A 203.0.113.20:7807
kstart "$run" c C 203.0.113.30:7807
kb_addr=$(kaddr "$run" b)
kstart "$run" b B "$kb_addr:7807"
ka=$(kfield "$run" A "public key") kc=$(kfield "$run" C "public key") kb=$(kfield "$run" B "public key")
out=$(kcli "$run" a A connect --json "$kc@203.0.113.30:7807") || fail "A -> C connect failed: $out"
out=$(kcli "$run" b B connect --json "$ka@203.0.113.20:7807") || fail "B -> A connect failed: $out"
head -c "$SIZE" /dev/urandom >"$KTMP/big"

send() { # send TO_KEY: A sends the file, must be answered
	local o
	o=$(timeout 60 "$NETSIM" exec --name "$run" a -- "$K" send --control "$KTMP/$run.A.sock" --json \
		--file "$KTMP/big" "$1") || fail "send failed: $o"
	jqt "$o" '.outcome == "replied"' || fail "send not answered: $o"
}

for to in c b; do
	key=$kc size=1472
	[ $to = b ] && key=$kb size=1400
	send "$key" # the search runs during this one
	at=$(counter "$to" at) above=$(counter "$to" above)
	echo "     A -> $to, first file: $at datagrams of $size bytes, $above of $((size + 1))"
	if [ $to = b ]; then
		check "A -> B: the search probed 1401 bytes exactly 3 times" [ "$above" = 3 ]
		check "A -> B: and 1400 bytes got through" [ "$at" -ge 1 ]
	fi
	sleep 3
	reset_counts "$to" "$size"
	send "$key"
	near=$(counter "$to" near) over=$(counter "$to" over) all=$(counter "$to" every)
	full=$((SIZE / size))
	echo "     A -> $to, second file: $all datagrams, $near within 100 bytes of $size, $over larger"
	check "A -> $to: most of the file went in datagrams within 100 bytes of $size" [ "$near" -ge $((full * 8 / 10)) ]
	check "A -> $to: none larger than $size" [ "$over" = 0 ]
done
drops=$(ip netns exec "$(ns r)" nft list table ip pmtutest | awk '/counter/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')
echo "     the router dropped $drops of its own fragmentation-needed errors"
check "the router would have told A (ICMP fragmentation needed), and nftables kept it quiet" [ "$drops" -gt 0 ]
out=$(kcli "$run" b B send --json "$ka" "still there") || fail "B's send failed: $out"
check "a short message still goes both ways" jqt "$out" '.outcome == "replied"'
echo "test_pmtud: ok"
