#!/usr/bin/env bash
# run-all.sh SECONDS OUTDIR FUZZER...: runs each libFuzzer binary for SECONDS from its corpus
# (OUTDIR/corpus/NAME, grown in place, plus the seeds in tests/fuzz/corpus/NAME if present), as
# many at once as the machine has cores (FUZZ_JOBS overrides), since each target is one
# single-threaded process and the targets share nothing.  Each target's output goes to
# OUTDIR/NAME.log; its last progress line is printed in the order given.  Exits 1 if any target
# failed (a crash, a leak, a sanitizer report), after printing the tail of each failed target's log.
set -u
secs=$1 out=$2
shift 2
jobs=${FUZZ_JOBS:-$(nproc)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
run_one() {
	local f=$1 n=${1##*/fuzz_} seeds=
	mkdir -p "$out/corpus/$n"
	[ -d "tests/fuzz/corpus/$n" ] && seeds=tests/fuzz/corpus/$n
	"$f" -max_total_time="$secs" -print_final_stats=0 -close_fd_mask=3 "$out/corpus/$n" $seeds \
		>"$out/$n.log" 2>&1
	echo $? >"$out/$n.rc"
}
running=0
for f in "$@"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	echo "fuzz: ${f##*/fuzz_} for ${secs}s"
	rm -f "$out/${f##*/fuzz_}.rc"
	run_one "$f" &
	running=$((running + 1))
done
wait
failed=0
for f in "$@"; do
	n=${f##*/fuzz_}
	r=$(cat "$out/$n.rc" 2>/dev/null || echo missing)
	if [ "$r" != 0 ]; then
		tail -n 40 "$out/$n.log"
		echo "fuzz: $n FAILED (exit $r)"
		failed=1
	else
		printf 'fuzz: %s: ' "$n"
		grep -E '^(#[0-9]+|Done [0-9]+ runs)' "$out/$n.log" | tail -n 1
	fi
done
exit $failed
