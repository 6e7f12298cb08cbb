#!/usr/bin/env bash
# test_probe_reflect.sh - `konce probe listen` is no amplifier for spoofed STUN floods (issue 14).
#
#     bash /dev/udp (one socket, 127.0.0.1) --- 200 bare 20-byte Binding requests ---> konce probe listen
#
# A bare request is answered with 4 to 7 times its size.  The listener gives each source a budget of
# excess bytes (nat/stun_limit.h): the first answers go out, then only answers no larger than their
# request would.  Checks: some answers were sent, the rest were refused as rate-limited, and the
# bytes sent exceed the bytes received by at most KONCE_STUN_LIMIT_BURST (2048) plus the refill.
set -u

KONCE=${KONCE_BIN:-build/konce}
[[ -x $KONCE ]] || { echo "no konce binary at $KONCE (set KONCE_BIN)"; exit 1; }
command -v jq >/dev/null || { echo "jq is not installed (make deps)"; exit 1; }

tmp=$(mktemp -d /tmp/konce-test-reflect.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }

P=$((24000 + ($$ % 2000) * 3))
N=200
"$KONCE" probe listen 127.0.0.1:$P --json --count $N --duration 30 >"$tmp/listen.json" 2>"$tmp/listen.err" &
lpid=$!
pids+=($lpid)
for _ in $(seq 50); do ss -Hlun "sport = :$P" | grep -q . && break; sleep 0.1; done

exec 3>/dev/udp/127.0.0.1/$P
for i in $(seq $N); do
	# type 0x0001, length 0, magic cookie, a 12-byte transaction id
	printf '\x00\x01\x00\x00\x21\x12\xa4\x42\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00%b' "\\x$(printf %02x $((i % 256)))" >&3
done
exec 3>&-

# the listener exits after N packets (its output is complete then)
for _ in $(seq 100); do kill -0 "$lpid" 2>/dev/null || break; sleep 0.1; done
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null
got=$(jq -s 'map(select(.kind == "stun")) | length' "$tmp/listen.json")
answered=$(jq -s 'map(select(.kind == "stun" and .sent_to != null)) | length' "$tmp/listen.json")
limited=$(jq -s 'map(select(.kind == "stun" and ((.not_answered // "") | startswith("rate-limited")))) | length' "$tmp/listen.json")
rx=$(jq -s 'map(select(.kind == "stun") | .size) | add // 0' "$tmp/listen.json")
tx=$(jq -s 'map(select(.kind == "stun") | .sent_bytes // 0) | add // 0' "$tmp/listen.json")
echo "requests $got ($rx bytes), answered $answered ($tx bytes), rate-limited $limited"

check "the listener saw all $N requests" [ "$got" -eq "$N" ]
check "the first requests were answered" [ "$answered" -ge 1 ]
check "most were refused as rate-limited" [ "$limited" -ge $((N / 2)) ]
check "answered + rate-limited = all" [ $((answered + limited)) -eq "$N" ]
# each answer costs at least 36 excess bytes: at most 2048 / 36 + a little refill are answered
check "at most 60 answers" [ "$answered" -le 60 ]
check "bytes sent <= bytes received + 2048 + refill" [ "$tx" -le $((rx + 2048 + 30 * 256)) ]

[ $fails -eq 0 ] && echo "ok: probe listen bounds its STUN answers per source" || exit 1
