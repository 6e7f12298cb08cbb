#!/usr/bin/env bash
# run-tests.sh PROGRAM...: runs each test program (cmocka binary or shell scenario) and prints one
# summary line at the end.  Exit codes: 0 passed, 77 skipped (the program says why), anything else failed.
# Each program's output is shown; a failing one is named again in the summary.
#
# Each program gets TEST_TIMEOUT seconds (default 600; the slowest, the netsim traversal matrices,
# take 320-380 s on a slow 2-core VM and about half that on a fast one).  One
# that runs longer is killed (its whole process group, SIGKILL 10 s after SIGTERM) and counts as
# failed, named as a hang.
#
# A skip (exit 77) is a skip for a local run, named with its reason (the program's "SKIP:" line).
# Under CI=true it is a failure: CI runs as root with `make deps` installed, so a test that cannot
# run there is a broken runner or a missing dependency, never a pass.
set -u
timeout_s=${TEST_TIMEOUT:-600}
ci=false
[ "${CI:-}" = true ] && ci=true
pass=0 fail=0 skip=0 failed=() skipped=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	[ -e "$t" ] || continue
	name=${t#./}
	printf '\n=== %s\n' "$name"
	start=$(date +%s)
	# timeout puts the program in its own process group and signals the group, so a scenario's
	# background daemons go with it
	if [[ $t == *.sh ]]; then
		timeout -k 10 "$timeout_s" bash "$t" 2>&1 | tee "$log"
	else
		timeout -k 10 "$timeout_s" "$t" 2>&1 | tee "$log"
	fi
	rc=${PIPESTATUS[0]}
	secs=$(($(date +%s) - start))
	why=$(grep -m1 '^SKIP: ' "$log" | cut -c7-)
	case $rc in
	0) pass=$((pass + 1)); printf -- '--- ok      %s (%ss)\n' "$name" "$secs" ;;
	77)
		if $ci; then
			fail=$((fail + 1)); failed+=("$name: skipped under CI=true (${why:-no reason given})")
			printf -- '--- FAILED  %s (skipped under CI=true: %s)\n' "$name" "${why:-no reason given}"
		else
			skip=$((skip + 1)); skipped+=("$name: ${why:-no reason given}")
			printf -- '--- skipped %s (%s)\n' "$name" "${why:-no reason given}"
		fi
		;;
	124 | 137)
		if [ "$secs" -lt "$timeout_s" ]; then # its own exit code or kill, not ours
			fail=$((fail + 1)); failed+=("$name"); printf -- '--- FAILED  %s (exit %d)\n' "$name" "$rc"
			continue
		fi
		fail=$((fail + 1)); failed+=("$name: hung, killed after ${timeout_s}s (TEST_TIMEOUT)")
		printf -- '--- FAILED  %s (hung: killed after %ss; TEST_TIMEOUT=%s)\n' "$name" "$secs" "$timeout_s"
		;;
	*) fail=$((fail + 1)); failed+=("$name"); printf -- '--- FAILED  %s (exit %d)\n' "$name" "$rc" ;;
	esac
done
echo
for f in "${skipped[@]}"; do echo "skipped: $f"; done
for f in "${failed[@]}"; do echo "failed: $f"; done
if $ci; then
	echo "tests: $pass passed, $fail failed, $skip skipped (CI=true: a skip counts as a failure)"
else
	echo "tests: $pass passed, $fail failed, $skip skipped"
fi
[ "$fail" -eq 0 ]
