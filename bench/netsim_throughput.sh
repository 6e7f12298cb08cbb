#!/usr/bin/env bash
# bench/netsim_throughput.sh: konce beside TCP on one impaired netsim link (issue 13).  Not part of
# make test; needs root and the netsim tools, and takes several minutes (TCP CUBIC and konce
# NewReno need a minute or more for 16 MiB at 1-3% loss).  Run it under the netsim lock:
#
#     flock /tmp/netsim.lock bench/netsim_throughput.sh            # every row below
#     flock /tmp/netsim.lock bench/netsim_throughput.sh "100mbit 40ms 1%"   # one row
#
#     konce node A, iperf3 -c (a, 203.0.113.20) ==[ rate, delay, loss, jitter ]== internet
#         === konce node B, iperf3 -s (b, 203.0.113.21)
#
# Only a's link is impaired, with netsim's own settings (netsim/lib/impair.sh): rate is a tbf in
# each direction, delay is the whole round trip, loss (and jitter) apply to each direction, so acks
# are lost too.  For each row, in the same run on the same link, one after the other:
#   TCP BBR     iperf3 -c B -n 16M -C bbr     (receiver's rate; the kernel's tcp_bbr, BBR v1)
#   TCP CUBIC   iperf3 -c B -n 16M -C cubic
#   konce bbr   konce send --file F (16 MiB - 64 B, KONCE_MESSAGE_MAX) from A to B, after a short
#               message has opened the session; the rate is the file's bytes over the time from the
#               send command's start to B's log line of the whole file ("N s"), as iperf3's is the
#               receiver's; "acked" is when the send command returned (B's acknowledgement of
#               every byte, half a round trip later)
#   konce newreno  the same, the nodes restarted with --congestion newreno (BENCH_NEWRENO=0 skips it)
#   konce cubic    the same with --congestion cubic (BENCH_CUBIC=0 skips it)
# BENCH_TCP=0 skips the iperf3 rows (a quick look at konce alone; no ratio then).
# A send that takes longer than BENCH_TIMEOUT seconds (default 300) shows as "> N s".
# BENCH_BYTES (default and at most 16777216) sets the transfer: iperf3 -n BENCH_BYTES, a konce file of 64 B
# less; a few sizes in one link show what a transfer's start costs beside its steady rate.
# The machine may be shared: the header prints the load average, and figures vary run to run.
#
# What each figure measures.  iperf3's received rate is the bytes the server had when the
# client's TEST_END reached it, over the server's test time: that clock starts when the server
# lets the test run (a round trip before the first byte arrives; the data connection is already
# open), and stops with some of the transfer still in flight (at 100 Mbit/s, 40 ms: ~1.4 of the
# 16 MiB).  konce's clock starts when the send command starts (the session is already open; the
# command hands the file's name to node A over the control socket, and the node reads it and queues
# it, 10-30 ms before the first packet; the command runs outside the namespaces, as it needs none)
# and stops when B's node logs the whole file.  Both are rates at the receiver from before the
# first byte; konce's start carries the command's and the node's own 10-30 ms.
set -uo pipefail
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/../tests/netsim/konce_lib.sh"
# konce_lib's fail, but on stderr: the measurements' stdout goes to a file
# and the log watchers' processes (they hold the netsim lock's descriptor: left behind, they keep it)
fail() {
	echo "FAIL: $*" >&2
	# shellcheck disable=SC2086 # two pids
	[ -z "${WATCHERS:-}" ] || kill -s PIPE $WATCHERS 2>/dev/null || true
	local f
	for f in "$KTMP/${KRUN:-}"*.err; do [ -s "$f" ] && { echo "--- $(basename "$f")"; tail -n 15 "$f"; } >&2; done
	exit 1
}
command -v iperf3 >/dev/null || fail "iperf3 is missing (make deps)"

ROWS=("$@")
[ ${#ROWS[@]} -gt 0 ] || ROWS=("100mbit 40ms 0%" "100mbit 40ms 0.1%" "100mbit 40ms 1%" "100mbit 40ms 3%"
	"20mbit 150ms 0.5%")
TIMEOUT=${BENCH_TIMEOUT:-300}
BYTES=${BENCH_BYTES:-16777216}
[ "$BYTES" -gt 64 ] 2>/dev/null || fail "BENCH_BYTES must be a number above 64"
# konce's largest message (KONCE_MESSAGE_MAX) is 16 MiB - 64 B: the file is 64 B less than BYTES
[ "$BYTES" -le 16777216 ] || fail "BENCH_BYTES above 16777216: konce's largest message is 16 MiB - 64 B"
run=tput$$
KRUN=$run
topo=$KTMP/tput.topo
printf 'host a addr=203.0.113.20\nhost b addr=203.0.113.21\n' >"$topo"
file=$KTMP/file.bin
head -c $((BYTES - 64)) /dev/urandom >"$file"
fbytes=$(stat -c %s "$file")

nx() { local r=$1; shift; "$NETSIM" exec --name "$r" "$@"; }

kup "$topo" "$run"
aip=$(kaddr "$run" a) bip=$(kaddr "$run" b)

# tcp CC: Mbit/s and retransmits of one iperf3 -n 16M, or "failed"
tcp() {
	local out
	nx "$run" b iperf3 -s -1 -B "$bip" -p 5201 >/dev/null 2>&1 &
	for _ in $(seq 100); do [ -n "$(nx "$run" b ss -Hltn 'sport = :5201')" ] && break; sleep 0.05; done
	out=$(timeout $((TIMEOUT + 30)) "$NETSIM" exec --name "$run" a -- \
		iperf3 -c "$bip" -p 5201 -n "$BYTES" -C "$1" -J 2>/dev/null) || { echo failed; wait; return; }
	wait
	jq -r '"\(.end.sum_received.bits_per_second / 1e6 * 10 | round / 10) \(.end.sum_sent.retransmits)"' <<<"$out"
}

# rxwatch: reads B's log, prints the time ($EPOCHREALTIME) of the line that reports the file's arrival
rxwatch() {
	local l
	while IFS= read -r l; do
		if [[ $l == *"($fbytes bytes)" ]]; then echo "$EPOCHREALTIME"; return; fi
	done
}

# konce CC: start both nodes with --congestion CC, open the session, time the file; "MBIT SECS ACKSECS":
# the rate and the time from the send command's start to B's log of the whole file, and to the
# send command's return (B's acknowledgement of every byte, half a round trip later)
konce() {
	local cc=$1 kb t0 t1 trx out tpid wpid fifo=$KTMP/$run.rxfifo stamp=$KTMP/$run.rxtime
	kstart "$run" b B "$bip:7807" --congestion "$cc"
	kstart "$run" a A "$aip:7807" --congestion "$cc"
	kb=$(kfield "$run" B "public key")
	out=$(kcli "$run" a A send --json -a "$bip:7807" "$kb" "hello") || fail "konce: the first message failed: $out"
	rm -f "$fifo" "$stamp"
	mkfifo "$fifo" || fail "mkfifo $fifo"
	tail -n0 -F "$KTMP/$run.B.err" 2>/dev/null >"$fifo" &
	tpid=$!
	rxwatch <"$fifo" >"$stamp" &
	wpid=$!
	WATCHERS="$tpid $wpid"
	# the stamp's readers run at real-time priority: on a loaded machine, tail's and the shell's
	# wake-ups otherwise put 5-100 ms of the harness's own scheduling between B's log line and
	# its stamp (seen: B's log stamped later than A's command had B's acknowledgement)
	chrt -f -p 10 "$tpid" >/dev/null 2>&1 || true
	chrt -f -p 10 "$wpid" >/dev/null 2>&1 || true
	sleep 0.1 # tail has its place at the end of B's log
	t0=$EPOCHREALTIME
	# the command talks to node A only through its control socket (a file): it runs here, not
	# under `netsim exec`, whose own start (a bash script, ip netns exec) took 10-40 ms
	out=$(timeout $((TIMEOUT + 10)) "$K" send --control "$KTMP/$run.A.sock" \
		--json -W "$TIMEOUT" --file "$file" "$kb" 2>&1)
	t1=$EPOCHREALTIME
	for _ in $(seq 50); do [ -s "$stamp" ] && break; sleep 0.02; done
	kill -s PIPE "$tpid" "$wpid" 2>/dev/null || true
	wait "$tpid" "$wpid" 2>/dev/null || true
	WATCHERS=''
	trx=$(cat "$stamp" 2>/dev/null || true)
	if jq -e '.ok == true' <<<"$out" >/dev/null 2>&1 && [ -n "$trx" ]; then
		awk -v b="$fbytes" -v t0="$t0" -v t1="$t1" -v tr="$trx" \
			'BEGIN { printf "%.1f %.3f %.3f\n", b * 8 / ((tr - t0) * 1e6), tr - t0, t1 - t0 }'
	elif jq -e '.ok == true' <<<"$out" >/dev/null 2>&1; then
		echo "konce $cc: B's log does not show the file's arrival" >&2
		echo failed
	else
		echo "> $TIMEOUT"
	fi
	kill -0 "${NPID[$run.A]}" 2>/dev/null || echo "konce $cc: node A is gone after the send" >&2
	if [ -n "${BENCH_VERBOSE:-}" ]; then
		for f in "$KTMP/$run.A.err" "$KTMP/$run.B.err"; do echo "--- konce $cc: $(basename "$f")" >&2; tail -n 20 "$f" >&2; done
	fi
	kstop "$run" A
	kstop "$run" B
	rm -rf "$KTMP/$run.A" "$KTMP/$run.B"
}

echo "# $(date -u +%FT%TZ), commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; $fbytes-byte file, iperf3 -n $BYTES"
printf '| %-24s | %-18s | %-18s | %-18s | %-18s | %-18s | %-16s |\n' "link (a's uplink)" "TCP BBR" "TCP CUBIC" \
	"konce bbr" "konce newreno" "konce cubic" "konce bbr / best TCP"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..26})" "$(printf -- '-%.0s' {1..20})" \
	"$(printf -- '-%.0s' {1..20})" "$(printf -- '-%.0s' {1..20})" "$(printf -- '-%.0s' {1..20})" \
	"$(printf -- '-%.0s' {1..20})" "$(printf -- '-%.0s' {1..18})"
for row in "${ROWS[@]}"; do
	read -r rate delay loss jitter <<<"$row"
	set -- rate="$rate" delay="$delay" loss="$loss"
	[ -n "${jitter:-}" ] && set -- "$@" jitter="$jitter"
	"$NETSIM" impair --name "$run" a clear "$@" >/dev/null || fail "netsim impair a $*"
	# each in this shell (not a pipe's subshell): the nodes it starts are its own to stop
	r=$KTMP/result
	bbr=- cubic=- bbr_rx='' cubic_rx=''
	if [ "${BENCH_TCP:-1}" = 1 ]; then
		tcp bbr >"$r"; read -r bbr bbr_rx <"$r"
		tcp cubic >"$r"; read -r cubic cubic_rx <"$r"
	fi
	konce bbr >"$r"; read -r kbbr kbbr_s kbbr_a <"$r"
	kreno="-" kreno_s="" kreno_a=""
	if [ "${BENCH_NEWRENO:-1}" = 1 ]; then konce newreno >"$r"; read -r kreno kreno_s kreno_a <"$r"; fi
	kcubic="-" kcubic_s="" kcubic_a=""
	if [ "${BENCH_CUBIC:-1}" = 1 ]; then konce cubic >"$r"; read -r kcubic kcubic_s kcubic_a <"$r"; fi
	ratio=$(awk -v k="$kbbr" -v a="$bbr" -v b="$cubic" 'BEGIN {
		m = (a + 0 > b + 0) ? a + 0 : b + 0; if (k + 0 == 0 || m == 0) print "-"; else printf "%.2f", k / m }')
	fmt() { # MBIT EXTRA UNIT [ACKSECS]
		if [ "$1" = ">" ]; then echo "> $2 s"; elif [ "$1" = failed ] || [ "$1" = - ]; then echo "$1"
		elif [ -n "${4:-}" ]; then echo "$1 Mbit/s ($2 $3, acked $4)"
		else echo "$1 Mbit/s ($2 $3)"; fi
	}
	printf '| %-24s | %-18s | %-18s | %-18s | %-18s | %-18s | %-16s |\n' \
		"$rate, ${delay} RTT, $loss${jitter:+, jitter $jitter}" \
		"$(fmt "$bbr" "$bbr_rx" rtx)" "$(fmt "$cubic" "$cubic_rx" rtx)" "$(fmt "$kbbr" "$kbbr_s" s "$kbbr_a")" \
		"$(fmt "$kreno" "$kreno_s" s "$kreno_a")" "$(fmt "$kcubic" "$kcubic_s" s "$kcubic_a")" "$ratio"
done
