# bench/alternate_lib.sh - sourced by the loopback bench scripts (node_loopback.sh, send_start.sh).
# bench_alternate prints the header (date, commit, load average, cores, ROUNDS) and then runs the
# script's one() for each KONCE_BIN given: once for a single binary, 3 alternating runs for several,
# so a before/after shares one run's machine load.
# shellcheck shell=bash

bench_alternate() { # KONCE_BIN...: needs TOP, ROUNDS and one()
	echo "# $(date -u +%FT%TZ), commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
		"load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; $ROUNDS sends of 16 MiB - 64 B"
	local runs=1 k
	[ $# -gt 1 ] && runs=3
	for _ in $(seq $runs); do
		for k in "$@"; do echo "$k: $(one "$k")"; done
	done
}
