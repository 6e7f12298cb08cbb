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
#                   connection): from sending group.propose to the first group.members answer,
#                   polled back to back on the same connection, whose commit index covers the
#                   decision (committed at C; C delivers it in the same loop turn); median and p99
#   round trip      `konce ping -c 20` from C to each other member (the node's own RTT figure,
#                   no CLI in it); the median of each, and the slowest member's median
#   durable commit  the same commit latency for a 1-member group founded on C (same node, same
#                   store, same disk, the same control-socket polling): one durable SQLite commit
#                   plus what the measurement itself costs
# and prints the group's median against baseline = slowest round trip + durable commit.  The
# polling adds up to one group.members exchange (a fraction of a millisecond) to both the group's
# and the 1-member figure, so it appears on each side of the ratio.
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
gthree "$run"
a1=$(kaddr "$run" p1)
# kcli_sock SOCK ARGS...: konce ARGS on the control socket SOCK (a path: no namespace needed)
kcli_sock() { local sock=$1 cmd=$2; shift 2; timeout -k 5 30 "$K" "$cmd" --control "$sock" "$@"; }

# glatency SOCK GROUP PREFIX N: propose PREFIX-1 .. PREFIX-N one at a time over one control
# connection; for each, the microseconds from sending group.propose to the first group.members
# answer whose commit index (the core's, konce_group_info.commit) covers it; one figure per line.
# This node is the only proposer, so decision i takes the next seq; checked at the end against the
# log (group.log reads the store, whose delivery marks are written up to 5 ms late: not a clock).
glatency() {
	local sock=$1 grp=$2 pfx=$3 n=$4 i line first seq t0 t1
	coproc GL { exec socat - "UNIX-CONNECT:$sock"; }
	gcommit() { # the commit index in a group.members answer, into seq
		printf '{"cmd":"group.members","group":"%s"}\n' "$grp" >&"${GL[1]}"
		IFS= read -r -t 10 line <&"${GL[0]}" || fail "$grp: no group.members answer"
		[[ $line =~ \"commit\":\ ?([0-9]+) ]] || fail "$grp: no commit index in $line"
		seq=${BASH_REMATCH[1]}
	}
	gcommit
	first=$((seq + 1))
	for ((i = 1; i <= n; i++)); do
		t0=${EPOCHREALTIME/./}
		printf '{"cmd":"group.propose","group":"%s","text":"%s-%d"}\n' "$grp" "$pfx" "$i" >&"${GL[1]}"
		IFS= read -r -t 10 line <&"${GL[0]}" || fail "$pfx-$i: no answer to group.propose"
		[[ $line =~ \"ok\":\ ?true ]] || fail "$pfx-$i: $line"
		for ((;;)); do
			gcommit
			t1=${EPOCHREALTIME/./}
			[ "$seq" -ge $((first + i - 1)) ] && break
			[ $((t1 - t0)) -lt 10000000 ] || fail "$pfx-$i: not committed within 10 s"
		done
		echo $((t1 - t0))
	done
	local wfd=${GL[1]}
	exec {wfd}>&-
	wait "$GL_PID" 2>/dev/null || true
	# every decision at the seq it was counted at, once the delivery marks are written
	local want got
	want=$(for ((i = 1; i <= n; i++)); do echo "$((first + i - 1)) $pfx-$i"; done)
	for _ in $(seq 50); do
		got=$(kcli_sock "$sock" group log "$grp" |
			awk -v f="$first" -v l="$((first + n - 1))" '$1 >= f && $1 <= l { print $1, $3 }') || got=
		[ "$got" = "$want" ] && return 0
		sleep 0.1
	done
	fail "$grp: the log does not hold $pfx-1 .. $pfx-$n at seqs $first .. $((first + n - 1))"
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
glatency "$sock" bench lat "$N" >"$KTMP/lat.group" || fail "the group's latency run failed"
read -r g50 g99 < <(stats <"$KTMP/lat.group")

kcli "$run" "p$c" "P$c" group create solo >/dev/null || fail "P$c: group create solo failed"
glatency "$sock" solo warm 10 >/dev/null || fail "the 1-member warm-up failed"
glatency "$sock" solo lat "$N" >"$KTMP/lat.solo" || fail "the 1-member group's latency run failed"
read -r s50 s99 < <(stats <"$KTMP/lat.solo")

echo "# $(date -u +%FT%TZ), commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; every link delay=$HALF ($RTT RTT" \
	"between any two hosts), $N decisions each, proposed one at a time at the coordinator P$c"
echo "round trip from P$c (konce ping -c 20, median): $rtts; slowest $slow ms"
echo "durable commit (1-member group on P$c): median $s50 ms, p99 $s99 ms"
awk -v g50="$g50" -v g99="$g99" -v rtt="$slow" -v d="$s50" 'BEGIN {
	b = rtt + d
	printf "group of 3: commit latency median %.3f ms, p99 %.3f ms; baseline %.3f + %.3f = %.3f ms; " \
		"%.2fx the baseline\n", g50, g99, rtt, d, b, g50 / b }'
