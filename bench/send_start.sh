#!/usr/bin/env bash
# bench/send_start.sh - how long `konce send --file` takes to put the file's first datagram on the
# wire: two `konce node` daemons on 127.0.0.1 (tests/cli/cli_lib.sh), a short message opens the
# session, then A sends B a (16 MiB - 64 B) file ROUNDS times (default 6).  tcpdump captures the
# datagrams to B (kernel timestamps); each send's figure is the time from the moment the script
# starts the send command to the first datagram of more than 1,000 bytes to B after it: the
# command's own start (~2-5 ms), the control request, the node reading the file and queueing it.
# Not part of make test; needs root (tcpdump on lo).
#
#     bench/send_start.sh [KONCE_BIN...]     # default build/konce; several binaries alternate,
#                                            # 3 runs each, for a before/after in one run
#
# The machine may be shared: the header prints the load average, and the figures vary run to run.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-6}
[ $# -gt 0 ] || set -- "$TOP/build/konce"
command -v tcpdump >/dev/null || { echo "send_start.sh: tcpdump is missing (make deps)" >&2; exit 1; }

one() { # KONCE_BIN: one line of figures
	(
		export KONCE_BIN=$1
		# shellcheck source=tests/cli/cli_lib.sh
		. "$TOP/tests/cli/cli_lib.sh" send-start
		start B
		start A
		kb=$(field B "public key")
		pb=$(field B listening)
		run 0 send -s "$tmp/A.sock" -a "$pb" "$kb" "hello"
		bytes=$((16 * 1024 * 1024 - 64))
		head -c $bytes /dev/urandom >"$tmp/file"
		tcpdump -i lo -n -p -U -w "$tmp/cap" "udp and dst port ${pb##*:} and greater 1000" 2>/dev/null &
		tdp=$!
		pid[tcpdump]=$tdp
		sleep 1 # tcpdump has its socket open
		: >"$tmp/t0"
		for _ in $(seq "$ROUNDS"); do
			echo "$EPOCHREALTIME" >>"$tmp/t0"
			run 0 send --json -s "$tmp/A.sock" -W 60 --file "$tmp/file" "$kb"
			sleep 0.2
		done
		kill -INT "$tdp"
		wait "$tdp" 2>/dev/null || true
		tcpdump -n -tt -r "$tmp/cap" 2>/dev/null | awk '{ print $1 }' >"$tmp/pk"
		# each start's first capture after it, in ms
		awk 'BEGIN { i = 0 }
		     NR == FNR { t[n++] = $1; next }
		     { p = $1 + 0; while (i < n && t[i] + 0 <= p) { if (!(i in d)) d[i] = p - t[i]; i++ } }
		     END { s = ""; for (k = 0; k < n; k++) s = s sprintf(" %.1f", (k in d) ? d[k] * 1000 : -1); print "ms to the first datagram:" s }' \
			"$tmp/t0" "$tmp/pk"
	) 2>/dev/null
}

# shellcheck source=bench/alternate_lib.sh
. "$TOP/bench/alternate_lib.sh"
bench_alternate "$@"
