#!/usr/bin/env bash
# bench/netsim_group.sh: a consensus group's commit latency on links with delay, beside its
# baseline from the same run (issue 11, "Benchmarks").  Not part of make test; needs root and the
# netsim tools; about a minute.  Run it under the netsim lock:
#
#     flock /tmp/netsim.lock bench/netsim_group.sh              # 20 ms RTT, 200 decisions
#     flock /tmp/netsim.lock bench/netsim_group.sh 40ms 100     # RTT between any two hosts, N
#
#     P1 (203.0.113.21) ==[ RTT/2 ]== internet ==[ RTT/2 ]== P2 (203.0.113.22), P3 (203.0.113.23)
#
# Three real `konce node` daemons on public addresses (netsim/topologies/three-public.topo) form a
# group with the CLI (P1 creates, P2 and P3 join with invitation tokens).  Each host's link gets
# netsim's delay=RTT/2 (netsim/lib/impair.sh: delay adds D to a link's round trip, D/2 each way), so
# the round trip between any two hosts is RTT (10 ms one way for the default 20 ms).
#
# Measured, one after the other, on the group's coordinator C (P1 for a group formed this way; the
# script asks `konce group members` and proposes from whichever node it is):
#   commit latency  N decisions proposed one at a time at C over its control socket (socat, one
#                   connection): from sending group.propose to the first group.log answer, polled
#                   back to back on the same connection, that holds the decision; median and p99
#   round trip      `konce ping -c 20` from C to each other member (the node's own RTT figure,
#                   no CLI in it); the median of each, and the slowest member's median
#   durable commit  the same commit latency for a 1-member group founded on C (same node, same
#                   store, same disk, the same control-socket polling): one durable SQLite commit
#                   plus what the measurement itself costs
# and prints the group's median against baseline = slowest round trip + durable commit.  The
# polling adds the cost of one group.log exchange (a fraction of a millisecond) to both the group's
# and the 1-member figure, so it appears once on each side of the ratio.
# The machine may be shared: the header prints the load average, and figures vary run to run.
set -uo pipefail
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/../tests/netsim/konce_lib.sh"
# shellcheck source=tests/netsim/group_lib.sh
. "$TOP/tests/netsim/group_lib.sh"
fail() { # konce_lib's, but on stderr
	echo "FAIL: $*" >&2
	local f
	for f in "$KTMP/${KRUN:-}"*.err; do [ -s "$f" ] && { echo "--- $(basename "$f")"; tail -n 15 "$f"; } >&2; done
	exit 1
}

RTT=${1:-20ms}
N=${2:-200}
[[ $RTT =~ ^([0-9]+)ms$ ]] || fail "RTT: a whole number of milliseconds, e.g. 20ms"
HALF=$((BASH_REMATCH[1] / 2))ms

run=gbn$$
KRUN=$run
kup "$TOPOS/three-public.topo" "$run"
for i in 1 2 3; do
	kstart "$run" "p$i" "P$i" "$(kaddr "$run" "p$i"):7807"
done
a1=$(kaddr "$run" p1)

# glatency SOCK GROUP PREFIX N: propose PREFIX-1 .. PREFIX-N one at a time over one control
# connection; for each, the microseconds from sending group.propose to the first group.log answer
# (from the next seq on) that holds it; one figure per line
glatency() {
	local sock=$1 grp=$2 pfx=$3 n=$4 i line from t0 t1 last
	coproc GL { exec socat - "UNIX-CONNECT:$sock"; }
	# the next seq: after the last delivered decision
	printf '{"cmd":"group.log","group":"%s","from":1}\n' "$grp" >&"${GL[1]}"
	IFS= read -r -t 10 line <&"${GL[0]}" || fail "$grp: no group.log answer"
	last=$(jq '[.entries[].seq] | max // 0' <<<"$line")
	[ "$(jq '.more' <<<"$line")" = false ] || fail "$grp: more than one page of log before the bench"
	from=$((last + 1))
	for ((i = 1; i <= n; i++)); do
		t0=${EPOCHREALTIME/./}
		printf '{"cmd":"group.propose","group":"%s","text":"%s-%d"}\n' "$grp" "$pfx" "$i" >&"${GL[1]}"
		IFS= read -r -t 10 line <&"${GL[0]}" || fail "$pfx-$i: no answer to group.propose"
		[[ $line =~ \"ok\":\ ?true ]] || fail "$pfx-$i: $line"
		for ((;;)); do
			printf '{"cmd":"group.log","group":"%s","from":%d}\n' "$grp" "$from" >&"${GL[1]}"
			IFS= read -r -t 10 line <&"${GL[0]}" || fail "$pfx-$i: no group.log answer"
			[[ $line == *'"entries":[]'* || $line == *'"entries": []'* ]] && continue
			t1=${EPOCHREALTIME/./}
			# the only proposer here: the next decision is ours
			[[ $line == *"\"$pfx-$i\""* ]] || fail "$pfx-$i: another decision came first: $line"
			from=$((from + 1))
			echo $((t1 - t0))
			break
		done
		[ $((t1 - t0)) -lt 10000000 ] || fail "$pfx-$i: not decided within 10 s"
	done
	local wfd=${GL[1]}
	exec {wfd}>&-
	wait "$GL_PID" 2>/dev/null || true
}
# stats: "MEDIAN P99" in ms of the microsecond figures on stdin
stats() {
	sort -n | awk '{ v[NR] = $1 } END {
		p = int(NR * 99 / 100) + 1; if (p > NR) p = NR
		if (NR) printf "%.3f %.3f\n", v[int(NR / 2) + 1] / 1000, v[p] / 1000 }'
}
# median: the median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int(NR / 2) + 1] }'; }

kcli "$run" p1 P1 group create bench >/dev/null || fail "group create failed"
gjoin "$run" bench 2 p1 P1 p2 P2 --expires 10m --addr "$a1:7807"
gjoin "$run" bench 3 p1 P1 p3 P3 --expires 10m --addr "$a1:7807"
wait_for 10 "P1 sees three members" gstate_is "$run" p1 P1 bench member 3

for i in 1 2 3; do
	"$NETSIM" impair --name "$run" "p$i" clear delay="$HALF" >/dev/null || fail "netsim impair p$i delay=$HALF"
done

# the coordinator, by its key
members=$(kcli "$run" p1 P1 group members bench --json) || fail "group members failed"
ckey=$(jq -r '.group.members[] | select(.coordinator) | .key' <<<"$members")
c=''
for i in 1 2 3; do [ "$(kfield "$run" "P$i" "public key")" = "$ckey" ] && c=$i; done
[ -n "$c" ] || fail "no coordinator in $members"

# round trips from the coordinator to each other member (the session is open: the group's)
slow=0 rtts=''
for i in 1 2 3; do
	[ "$i" = "$c" ] && continue
	out=$(kcli "$run" "p$c" "P$c" ping --json -c 20 -i 0.05 -a "$(kaddr "$run" "p$i"):7807" "$(kfield "$run" "P$i" "public key")") ||
		fail "ping P$c -> P$i failed: $out"
	m=$(jq -r '.replies[] | select(.rtt_ms) | .rtt_ms' <<<"$out" | median)
	rtts+="${rtts:+, }P$i $m ms"
	slow=$(awk -v a="$slow" -v b="$m" 'BEGIN { print (b > a) ? b : a }')
done

sock=$KTMP/$run.P$c.sock
glatency "$sock" bench warm 10 >/dev/null || fail "the warm-up failed"
read -r g50 g99 < <(glatency "$sock" bench lat "$N" | stats) || fail "the group's latency run failed"

kcli "$run" "p$c" "P$c" group create solo >/dev/null || fail "P$c: group create solo failed"
glatency "$sock" solo warm 10 >/dev/null || fail "the 1-member warm-up failed"
read -r s50 s99 < <(glatency "$sock" solo lat "$N" | stats) || fail "the 1-member group's latency run failed"

echo "# $(date -u +%FT%TZ), commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; every link delay=$HALF ($RTT RTT" \
	"between any two hosts), $N decisions each, proposed one at a time at the coordinator P$c"
echo "round trip from P$c (konce ping -c 20, median): $rtts; slowest $slow ms"
echo "durable commit (1-member group on P$c): median $s50 ms, p99 $s99 ms"
awk -v g50="$g50" -v g99="$g99" -v rtt="$slow" -v d="$s50" 'BEGIN {
	b = rtt + d
	printf "group of 3: commit latency median %.3f ms, p99 %.3f ms; baseline %.3f + %.3f = %.3f ms; " \
		"%.2fx the baseline\n", g50, g99, rtt, d, b, g50 / b }'
