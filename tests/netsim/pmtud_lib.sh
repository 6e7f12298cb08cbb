# shellcheck shell=bash
# tests/netsim/pmtud_lib.sh: sourced by the path MTU scenarios (test_pmtud.sh, test_pmtud_shrink.sh)
# after konce_lib.sh; pmtud_up builds the network.  Node A (daemon A in namespace a) sends 8 MiB
# files ($SIZE bytes, $KTMP/big); router r drops its own "fragmentation needed" errors, so every
# size konce settles at comes from its own probes; nftables counters on the internet's bridge
# count A's datagrams by size as the frames are forwarded.
# shellcheck disable=SC2154 # run (the test's), K, KTMP, NETSIM (konce_lib.sh)

SIZE=$((8 * 1024 * 1024)) # the file A sends

# pmtud_up NAME: run=NAME$$, and kup its topology: the internet, host a (A: 203.0.113.20,
# 50 Mbit/s), then the test's own lines, read from stdin.
pmtud_up() {
	run=$1$$
	# shellcheck disable=SC2034 # read by konce_lib.sh (fail() shows this run's node logs)
	KRUN=$run
	{
		printf 'internet\nhost a addr=203.0.113.20 rate=50mbit\n'
		cat
	} >"$KTMP/$1.topo"
	kup "$KTMP/$1.topo" "$run"
}
ns() { echo "ns-$run-$1"; }

# r's ICMP "fragmentation needed" errors are counted and dropped (pmtud_router_drops reads them).
pmtud_quiet_router() {
	ip netns exec "$(ns r)" nft -f - <<N
table ip pmtutest {
	chain out {
		type filter hook output priority 0;
		icmp type destination-unreachable icmp code frag-needed counter drop
	}
}
N
}
pmtud_router_drops() {
	ip netns exec "$(ns r)" nft list table ip pmtutest |
		awk '/counter/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

# A sends each datagram on its own (no GSO train), so each is a frame of the size konce chose
# (konce's own sockets use GSO; this only moves the segmentation into A's kernel).
pmtud_single_frames() { ip -n "$(ns a)" link set dev eth0 gso_max_segs 1; }

# pmtud_count NAME DEST SIZE: counters from zero (a new table bridge pmtuNAME) of A's datagrams
# to DEST: UDP length = payload + 8, so "at" is SIZE bytes of payload, "above" SIZE + 1, "near"
# within 100 bytes of SIZE, "over" larger than SIZE, "every" all.
pmtud_count() {
	ip netns exec "$(ns inet)" nft delete table bridge "pmtu$1" 2>/dev/null || true
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
pmtud_counter() { # pmtud_counter NAME COMMENT: packets of that rule
	ip netns exec "$(ns inet)" nft list table bridge "pmtu$1" |
		awk -v c="\"$2\"" '$0 ~ "comment " c { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

pmtud_send() { # pmtud_send KEY: A sends the file to KEY; it must be answered
	local o
	o=$(timeout 60 "$NETSIM" exec --name "$run" a -- "$K" send --control "$KTMP/$run.A.sock" --json \
		--file "$KTMP/big" "$1") || fail "send failed: $o"
	jqt "$o" '.outcome == "replied"' || fail "send not answered: $o"
}

# pmtud_stage LABEL NAME DEST SIZE KEY: the file twice to KEY, with the counters pmtuNAME of
# datagrams to DEST started before (pmtud_count NAME DEST SIZE); SIZE is where the search must
# settle.  The search runs during the first file and the 6 s after it: a probe of SIZE bytes got
# through and, below the 9000 path's 8972, SIZE + 1 was probed exactly MAX_PROBES (3) times.  The
# second file, counted from zero, went mostly (80%) in datagrams within 100 bytes of SIZE, none
# larger.
pmtud_stage() {
	local label=$1 name=$2 dest=$3 size=$4 key=$5 at above near over all
	pmtud_send "$key" # the search starts with this one
	sleep 6 # to the byte, it takes a few seconds of probe timeouts
	at=$(pmtud_counter "$name" at) above=$(pmtud_counter "$name" above)
	echo "     $label, first file and search: $at datagrams of $size bytes, $above of $((size + 1))"
	check "$label: a probe of $size bytes got through" [ "$at" -ge 1 ]
	if [ "$size" -lt 8972 ]; then
		check "$label: the search probed $((size + 1)) bytes exactly 3 times" [ "$above" = 3 ]
	fi
	pmtud_count "$name" "$dest" "$size"
	pmtud_send "$key"
	near=$(pmtud_counter "$name" near) over=$(pmtud_counter "$name" over) all=$(pmtud_counter "$name" every)
	echo "     $label, second file: $all datagrams, $near within 100 bytes of $size, $over larger"
	check "$label: most of the file went in datagrams within 100 bytes of $size" \
		[ "$near" -ge $((SIZE * 8 / (10 * size))) ]
	check "$label: none larger than $size" [ "$over" = 0 ]
}
