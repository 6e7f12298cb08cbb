#!/usr/bin/env bash
# test_probe_wait.sh - `konce probe nat --lifetime` says what it waits for.
#
#     konce probe nat --lifetime=2  --- UDP, 127.0.0.1 --->  konce probe listen 127.0.0.1:PORT
#
# The lifetime test sits idle for seconds to minutes per step.  Each step prints what it waits for
# ("first N s idle", with what is known so far), and on a terminal (script(1) gives it one) a
# countdown redrawn once a second.  Loopback has no NAT, so the mapping outlives the 2 s bound.
set -eu
K=${KONCE_BIN:-build/konce}
[[ -x $K ]] || { echo "no konce binary at $K (set KONCE_BIN)"; exit 1; }
command -v script >/dev/null || { echo "FAIL: script(1) is missing (bsdutils)"; exit 1; }
tmp=$(mktemp -d /tmp/konce-probe-wait.XXXXXX)
lp=
cleanup() { [[ -n $lp ]] && kill "$lp" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$tmp/out" 2>/dev/null; exit 1; }

port=$((20000 + RANDOM % 20000))
"$K" probe listen "127.0.0.1:$port" >"$tmp/listen" 2>&1 &
lp=$!
sleep 0.3
kill -0 "$lp" 2>/dev/null || fail "probe listen did not start: $(cat "$tmp/listen")"

timeout 60 script -qec "$K probe nat 127.0.0.1:$port --lifetime=2" /dev/null >"$tmp/out" 2>&1 ||
	fail "probe nat --lifetime on a terminal failed"
tr '\r' '\n' <"$tmp/out" >"$tmp/lines"
grep -Eq 'lifetime: is the mapping still there +first 2 s idle' "$tmp/lines" || fail "no 'first 2 s idle' line"
grep -q '2 s of idleness left' "$tmp/lines" || fail "no countdown on the terminal"
grep -q '1 s of idleness left' "$tmp/lines" || fail "the countdown did not go on"
grep -Eq 'mapping lifetime +at least 2 s idle' "$tmp/lines" || fail "no lifetime result"
echo "ok   a terminal sees what the lifetime test waits for, counted down"

timeout 60 "$K" probe nat "127.0.0.1:$port" --lifetime=2 >"$tmp/out" 2>&1 || fail "probe nat --lifetime (no terminal) failed"
grep -Eq 'first 2 s idle$' "$tmp/out" || fail "no 'first 2 s idle' line without a terminal"
! grep -q 'idleness left' "$tmp/out" || fail "a countdown went to a file"
echo "ok   without a terminal, one line per wait and no countdown"
echo "test_probe_wait: ok"
