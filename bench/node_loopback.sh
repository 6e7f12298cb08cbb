#!/usr/bin/env bash
# bench/node_loopback.sh - the daemon's own I/O path over loopback: two `konce node` daemons on
# 127.0.0.1 (tests/cli/cli_lib.sh), A sends B a (16 MiB - 64 B) file ROUNDS times (default 6) with
# `konce send --file`, after a short message has opened the session.  Prints each send's rate
# (file bytes over the wall time of the send command, which returns when B has acknowledged every
# byte) and each daemon's CPU seconds per GB over all the sends (/proc/PID/schedstat, time on a
# CPU).  Not part of make test; no root needed.
#
#     bench/node_loopback.sh [KONCE_BIN...]     # default build/konce; several binaries alternate,
#                                               # 3 runs each, for a before/after in one run
#
# The machine may be shared: the header prints the load average, and rates vary run to run; the
# CPU per GB is the steadier figure.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-6}
[ $# -gt 0 ] || set -- "$TOP/build/konce"

one() { # KONCE_BIN: one line of figures
	(
		export KONCE_BIN=$1
		# shellcheck source=tests/cli/cli_lib.sh
		. "$TOP/tests/cli/cli_lib.sh" node-loopback
		start B
		start A
		kb=$(field B "public key")
		run 0 send -s "$tmp/A.sock" -a "$(field B listening)" "$kb" "hello"
		bytes=$((16 * 1024 * 1024 - 64))
		head -c $bytes /dev/urandom >"$tmp/file"
		cpu() { awk '{ print $1 }' "/proc/$1/schedstat"; }
		a0=$(cpu "${pid[A]}") b0=$(cpu "${pid[B]}") rates=""
		for _ in $(seq "$ROUNDS"); do
			t0=$(date +%s%N)
			run 0 send --json -s "$tmp/A.sock" -W 60 --file "$tmp/file" "$kb"
			t1=$(date +%s%N)
			rates="$rates $(awk -v b=$bytes -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", b * 8 / (ns / 1e3) }')"
		done
		a1=$(cpu "${pid[A]}") b1=$(cpu "${pid[B]}")
		awk -v r="$rates" -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v gb="$(awk -v n="$ROUNDS" -v b=$bytes 'BEGIN { print n * b / 1e9 }')" \
			'BEGIN { printf "Mbit/s%s; CPU s/GB sender %.2f, receiver %.2f\n", r, a / 1e9 / gb, b / 1e9 / gb }'
	) 2>/dev/null
}

# shellcheck source=bench/alternate_lib.sh
. "$TOP/bench/alternate_lib.sh"
bench_alternate "$@"
