#!/usr/bin/env bash
# Path MTU discovery on real links (node/transport/pmtud.h, docs/PROTOCOL.md section 16), on
# links of MTU 9000, 1500 and 1280:
#
#     node A (a, 203.0.113.20, 50 Mbit/s, MTU 9000) --- internet bridge --- node D (d, MTU 9000)
#                                                          |         `----- node C (c, MTU 1500)
#                                               router r (full cone): LAN MTU 1280, and the
#                                                          |   "fragmentation needed" errors it
#                                                          |   would send dropped by nftables
#                                                       node B (b)
#
# A's interface says 9000, so every search starts with an 8972-byte probe.  A sends an 8 MiB file
# to D, C and B, twice each: the search starts with the first and has settled (6 s later) before
# the second.
# nftables counters on the internet's bridge count A's datagrams to each by size (A's interface
# takes no GSO trains, so each datagram crosses the bridge on its own):
#   - A -> D, 9000 all the way: the file goes in datagrams within 100 bytes of 8972 (data packets
#     fill the PLPMTU up to a 64-byte unit), none larger;
#   - A -> C, 1500 at C's port: the bridge drops larger frames silently (no ICMP can exist at
#     layer 2): probes of 1473 bytes go exactly MAX_PROBES (3) times, one of 1472 passes, and the
#     second file goes within 100 bytes of 1472, none larger;
#   - A -> B, a black hole above 1252 bytes of UDP payload (1280 - 28) behind a router that drops
#     its own ICMP errors (its nftables counter shows it tried): 1253 three times, 1252 passes,
#     then within 100 bytes of 1252, none larger.
# Every send is answered.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"

run=pm$$
KRUN=$run
SIZE=$((8 * 1024 * 1024))
cat >"$KTMP/pmtud.topo" <<'T'
internet
host a addr=203.0.113.20 rate=50mbit
host c addr=203.0.113.30
host d addr=203.0.113.40
router r preset=full-cone
host b behind r
T
kup "$KTMP/pmtud.topo" "$run"
ns() { echo "ns-$run-$1"; }

# jumbo frames from A to D; C's port and LAN stay at 1500
for dev in a d; do ip -n "$(ns inet)" link set dev "$dev" mtu 9000; done
for h in a d; do ip -n "$(ns "$h")" link set dev eth0 mtu 9000; done
# B's LAN carries 1280-byte packets; the router's errors about it are dropped
ip -n "$(ns r)" link set dev b mtu 1280
ip -n "$(ns r)" link set dev lan mtu 1280
ip -n "$(ns b)" link set dev eth0 mtu 1280
ip netns exec "$(ns r)" nft -f - <<N
table ip pmtutest {
	chain out {
		type filter hook output priority 0;
		icmp type destination-unreachable icmp code frag-needed counter drop
	}
}
N
# Datagram sizes on the wire, counted on the internet's bridge as frames are forwarded to DEST:
# UDP length = payload + 8.  A sends each datagram on its own (no GSO train), so each is a frame,
# and the sizes are the ones konce chose (konce's own sockets use GSO; this only moves the
# segmentation into A's kernel).
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
declare -A DEST=([d]=203.0.113.40 [c]=203.0.113.30 [b]=$(kaddr "$run" r)) SIZEOF=([d]=8972 [c]=1472 [b]=1252)
for to in d c b; do count_rules "$to" "${DEST[$to]}" "${SIZEOF[$to]}"; done
reset_counts() { # reset_counts NAME SIZE: rule counters start from zero (a new table)
	ip netns exec "$(ns inet)" nft delete table bridge "pmtu$1"
	count_rules "$1" "${DEST[$1]}" "$2"
}

kstart "$run" a A 203.0.113.20:7807
kstart "$run" c C 203.0.113.30:7807
kstart "$run" d D 203.0.113.40:7807
kb_addr=$(kaddr "$run" b)
kstart "$run" b B "$kb_addr:7807"
ka=$(kfield "$run" A "public key") kc=$(kfield "$run" C "public key") kb=$(kfield "$run" B "public key")
kd=$(kfield "$run" D "public key")
out=$(kcli "$run" a A connect --json "$kc@203.0.113.30:7807") || fail "A -> C connect failed: $out"
out=$(kcli "$run" a A connect --json "$kd@203.0.113.40:7807") || fail "A -> D connect failed: $out"
out=$(kcli "$run" b B connect --json "$ka@203.0.113.20:7807") || fail "B -> A connect failed: $out"
# B dialled A, so A knows B by the per-server key B shows it (docs/KEYS.md), not B's master key
kb_shown=$(kshown "$run" b B "$ka")
[ -n "$kb_shown" ] || fail "B has no session to A"
declare -A KEY=([d]=$kd [c]=$kc [b]=$kb_shown)
head -c "$SIZE" /dev/urandom >"$KTMP/big"

send() { # send TO_KEY: A sends the file, must be answered
	local o
	o=$(timeout 60 "$NETSIM" exec --name "$run" a -- "$K" send --control "$KTMP/$run.A.sock" --json \
		--file "$KTMP/big" "$1") || fail "send failed: $o"
	jqt "$o" '.outcome == "replied"' || fail "send not answered: $o"
}

for to in d c b; do
	key=${KEY[$to]} size=${SIZEOF[$to]}
	send "$key" # the search starts with this one
	sleep 6 # to the byte, it takes a few seconds of probe timeouts
	at=$(counter "$to" at) above=$(counter "$to" above)
	echo "     A -> $to, first file and search: $at datagrams of $size bytes, $above of $((size + 1))"
	check "A -> $to: a probe of $size bytes got through" [ "$at" -ge 1 ]
	if [ "$to" != d ]; then
		check "A -> $to: the search probed $((size + 1)) bytes exactly 3 times" [ "$above" = 3 ]
	fi
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
