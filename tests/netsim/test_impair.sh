#!/usr/bin/env bash
# Impairments hold: ping RTT within 10% of the configured delay (split across both ends), loss
# within a binomial tolerance, and "netsim impair" changes a live link.
. "$(dirname "$0")/lib.sh"
f=$(mktemp)
trap 'rm -f "$f"; cleanup' EXIT
cat >"$f" <<'T'
host pub addr=203.0.113.10,203.0.113.11
host c addr=203.0.113.20 rate=1mbit
T
run=ti$$
up "$f" "$run"
reflect "$run"

# udping COUNT GAP_MS: "sent N received M rtt_ms AVG" for c -> pub's echo port
udping() { probe "$run" c bind s 0 ping s "${P0%:*}:3478" "$1" "$2"; }
check "rate alone is a tbf on both ends" grep -q 'tbf.*rate 1Mbit' <<<"$(nx "$run" c tc qdisc show dev eth0)"
check "traffic passes the tbf" [ "$(udping 10 10 | awk '{ print $4 }')" = 10 ]
if ! nx "$run" c tc qdisc replace dev eth0 root netem delay 1ms 2>/dev/null; then
	# tc parses netem options before the kernel sees them: a syntax error would show here.
	st=0
	msg=$("$NETSIM" impair --name "$run" c delay=10ms jitter=2ms loss=1% reorder=5% duplicate=1% 2>&1) || st=$?
	check "without netem, impair fails (exit 1) naming the missing qdisc, not a tc syntax error" \
		[ $st = 1 ] && grep -q 'no sch_netem' <<<"$msg"
	skip "this kernel has no sch_netem (CONFIG_NET_SCH_NETEM): only tbf was checked; delay, jitter, loss, reorder and duplicate were not"
fi
"$NETSIM" impair --name "$run" c clear delay=100ms
rtt() { udping 20 50 | awk '{ print $6 }'; }
within() { awk -v v="$1" -v want="$2" -v tol="$3" 'BEGIN { exit !(v >= want * (1 - tol) && v <= want * (1 + tol)) }'; }

r=$(rtt)
echo "delay=100ms: measured RTT $r ms"
check "RTT within 10% of 100 ms" within "$r" 100 0.10
check "the delay is split: each end delays 50 ms" \
	[ "$(nx "$run" c tc qdisc show dev eth0 | grep -o 'delay [0-9.]*ms')" = "delay 50ms" ]

"$NETSIM" impair --name "$run" c delay=40ms
r=$(rtt)
echo "impair delay=40ms: measured RTT $r ms"
check "RTT within 10% of 40 ms after impair" within "$r" 40 0.10

"$NETSIM" impair --name "$run" c clear loss=20%
out=$(udping 400 5)
lost=$(echo "$out" | awk '{ printf "%.1f", 100 * ($2 - $4) / $2 }')
# 20% each way: a ping round trip survives with 0.8^2, so 36% expected; sd ~2.4% at n=400.
echo "loss=20% each way: measured round-trip loss $lost% (expected 36%)"
check "round-trip loss within 36% +- 10" within "$lost" 36 0.28

"$NETSIM" impair --name "$run" c clear rate=1mbit delay=10ms jitter=2ms duplicate=1% reorder=5%
q=$(nx "$run" c tc qdisc show dev eth0)
echo "$q"
check "rate uses tbf with netem below it" grep -q 'tbf.*rate 1Mbit' <<<"$q"
check "jitter, duplicate and reorder reach netem" grep -q 'delay 5ms  1ms.*duplicate 1%' <<<"$q"
check "link state records the merged settings" \
	[ "$(tr '\n' ' ' </run/netsim/$run/link.c)" = "rate=1mbit delay=10ms jitter=2ms duplicate=1% reorder=5% " ]
"$NETSIM" impair --name "$run" c clear
check "clear removes the qdiscs" [ -z "$(nx "$run" c tc qdisc show dev eth0 | grep -E 'netem|tbf')" ]
