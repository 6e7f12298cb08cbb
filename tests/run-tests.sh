#!/usr/bin/env bash
# run-tests.sh PROGRAM...: runs each test program (cmocka binary or shell scenario) and prints one
# summary line at the end.  Exit codes: 0 passed, 77 skipped (the program says why), anything else failed.
# Each program's output is shown; a failing one is named again in the summary.
set -u
pass=0 fail=0 skip=0 failed=()
for t in "$@"; do
	[ -e "$t" ] || continue
	name=${t#./}
	printf '\n=== %s\n' "$name"
	start=$(date +%s)
	if [[ $t == *.sh ]]; then
		bash "$t"
	else
		"$t"
	fi
	rc=$?
	secs=$(($(date +%s) - start))
	case $rc in
	0) pass=$((pass + 1)); printf -- '--- ok      %s (%ss)\n' "$name" "$secs" ;;
	77) skip=$((skip + 1)); printf -- '--- skipped %s\n' "$name" ;;
	*) fail=$((fail + 1)); failed+=("$name"); printf -- '--- FAILED  %s (exit %d)\n' "$name" "$rc" ;;
	esac
done
echo
for f in "${failed[@]}"; do echo "failed: $f"; done
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
