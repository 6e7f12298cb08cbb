#!/usr/bin/env bash
# The background class yields to TCP and takes the link back when TCP stops:
#
#     konce node A, iperf3 -c (a, 203.0.113.20) === internet
#         ==[ 20 Mbit/s, 40 ms RTT ]== konce node B, iperf3 -s (b, 203.0.113.21)
#
# The impaired link is b's, so the bottleneck's queue is in the internet's namespace, as a router's
# would be: on a's own eth0, TCP Small Queues keeps TCP from ever building a queue beside UDP
# (bench/netsim_share.sh says more).
# A keeps B busy with `konce send --background --file` (two loops of 4 MiB, so the queue never
# empties between messages).  An nftables counter on b's input counts the IP bytes of the konce
# flow and of the TCP flow.  Three windows, each against the others in the same run (behaviour,
# not speed: the link's rate appears in no bound):
#   alone   the background flow by itself;
#   beside  while `iperf3 -C cubic` runs (CUBIC fills tbf's 200 ms queue: the delay LEDBAT yields to):
#           the background flow gets less than half of what it got alone, and less than TCP;
#   after   once TCP has stopped: the background flow takes the link back, more than half of alone.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"
for t in iperf3 nft; do command -v "$t" >/dev/null || fail "$t is missing (make deps)"; done

run=kbg$$
KRUN=$run
printf 'host a addr=203.0.113.20\nhost b addr=203.0.113.21\n' >"$KTMP/bg.topo"
kup "$KTMP/bg.topo" "$run"
aip=$(kaddr "$run" a) bip=$(kaddr "$run" b)
"$NETSIM" impair --name "$run" b rate=20mbit delay=40ms >/dev/null
"$NETSIM" exec --name "$run" b -- nft -f - <<EOF
table inet bgtest {
	counter k {}
	counter t {}
	chain in {
		type filter hook input priority 0; policy accept;
		ip saddr $aip udp sport 7807 counter name k
		ip saddr $aip tcp dport 5201 counter name t
	}
}
EOF
# bytes: "KONCE TCP" IP bytes so far
bytes() {
	"$NETSIM" exec --name "$run" b -- nft -j list counters table inet bgtest |
		jq -r '[.nftables[] | select(.counter) | .counter | {(.name): .bytes}] | add | "\(.k) \(.t)"'
}
# rates SECONDS: "KONCE TCP" in kbit/s over the next SECONDS
rates() {
	local c0 c1 t0 t1
	t0=$(date +%s%N) c0=$(bytes)
	sleep "$1"
	t1=$(date +%s%N) c1=$(bytes)
	awk -v a="$c0" -v b="$c1" -v ns=$((t1 - t0)) \
		'BEGIN { split(a, x); split(b, y); printf "%d %d\n", (y[1] - x[1]) * 8e6 / ns, (y[2] - x[2]) * 8e6 / ns }'
}

kstart "$run" b B "$bip:7807"
kstart "$run" a A "$aip:7807"
kb=$(kfield "$run" B "public key")
out=$(kcli "$run" a A send --json -a "$bip:7807" "$kb" "hello") || fail "the first message failed: $out"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$KTMP/file"
: >"$KTMP/flow"
loops=()
for _ in 1 2; do
	(
		while [ -e "$KTMP/flow" ]; do
			"$NETSIM" exec --name "$run" a -- "$K" send --control "$KTMP/$run.A.sock" --json --background -W 60 \
				--file "$KTMP/file" "$kb" >>"$KTMP/sends" 2>&1 || sleep 0.2
		done
	) &
	loops+=($!)
done
stop_loops() {
	rm -f "$KTMP/flow"
	for p in "${loops[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap 'stop_loops; kcleanup; rm -rf "$KTMP"' EXIT

sleep 3
read -r alone _ < <(rates 4)
"$NETSIM" exec --name "$run" b -- iperf3 -s -1 -B "$bip" -p 5201 >/dev/null 2>&1 &
srv=$!
for _ in $(seq 100); do [ -n "$("$NETSIM" exec --name "$run" b -- ss -Hltn 'sport = :5201')" ] && break; sleep 0.05; done
"$NETSIM" exec --name "$run" a -- iperf3 -c "$bip" -p 5201 -C cubic -t 10 >"$KTMP/iperf.out" 2>&1 &
cli=$!
sleep 4
read -r beside tcp < <(rates 4)
wait "$cli" || fail "iperf3 -c failed: $(tail -n 3 "$KTMP/iperf.out")"
wait "$srv" || true
sleep 6 # LEDBAT grows back from its floor at one mss per round trip below target
read -r after tcp_after < <(rates 4)
echo "     background flow: alone $alone kbit/s; beside TCP CUBIC $beside kbit/s (TCP $tcp kbit/s); after $after kbit/s (TCP $tcp_after)"
check "the background flow moved data alone" [ "$alone" -gt 0 ]
check "beside TCP it takes less than half of what it took alone" [ $((beside * 2)) -lt "$alone" ]
check "beside TCP it takes less than TCP" [ "$beside" -lt "$tcp" ]
# bounds from six runs on a loaded 2-core machine: after/alone 0.45-1.21, beside <= 80 kbit/s
check "after TCP stops it takes the link back: more than a third of alone" [ $((after * 3)) -gt "$alone" ]
check "after TCP stops it takes more than 4x what it took beside TCP" [ "$after" -gt $((beside * 4)) ]
stop_loops
kstop "$run" A
kstop "$run" B
n=$(grep -c '"ok": true' "$KTMP/sends") || true
check "background sends completed ($n)" [ "$n" -gt 0 ]
