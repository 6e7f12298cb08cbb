#!/usr/bin/env bash
# test_api_example.sh - the example program in docs/API.md compiles against libkonce.a, runs, and
# gets its reply: two nodes in one process over loopback UDP.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
K=${KONCE_BIN:-$root/build/konce}
lib=$(dirname "$K")/libkonce.a
[[ -f $lib ]] || { echo "no $lib (build first, or set KONCE_BIN)"; exit 1; }
pkgs=$(sed -n 's/^PKGS *:= *//p' "$root/Makefile")
[[ -n $pkgs ]] || { echo "cannot read PKGS from the Makefile"; exit 1; }

tmp=$(mktemp -d /tmp/konce-test-api.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# the one ```c block of API.md, verbatim
awk '/^```c$/ { n++; on = 1; next } /^```$/ { on = 0 } on { print }  END { exit n == 1 ? 0 : 1 }' \
	"$root/docs/API.md" >"$tmp/two_nodes.c" || { echo "FAIL: docs/API.md must hold exactly one \`\`\`c block"; exit 1; }
grep -q 'int main' "$tmp/two_nodes.c" || { echo "FAIL: the example has no main"; exit 1; }

# a sanitizer build of the library (make asan) needs the same runtime in the program
san=
nm "$lib" 2>/dev/null | grep -q __asan_ && san="-fsanitize=address,undefined"
# shellcheck disable=SC2086,SC2046  # the flags and pkg-config output are meant to split
cc $san -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$root/include" -o "$tmp/two_nodes" "$tmp/two_nodes.c" "$lib" \
	$(pkg-config --cflags --libs $pkgs) -lnatpmp -lpthread 2>"$tmp/cc.err" \
	|| { echo "FAIL: the example does not compile"; cat "$tmp/cc.err"; exit 1; }

rc=0
timeout 30 "$tmp/two_nodes" >"$tmp/out" 2>"$tmp/err" || rc=$?
cat "$tmp/out"
[[ $rc == 0 ]] || { echo "FAIL: the example exited $rc"; cat "$tmp/err"; exit 1; }
grep -qx 'A: reply: hello, A' "$tmp/out" || { echo "FAIL: no reply line"; cat "$tmp/err"; exit 1; }
grep -Eq '^B: request from [A-Za-z0-9_-]{8}\.\.\.: A$' "$tmp/out" || { echo "FAIL: B did not see the request"; exit 1; }
echo "ok: the API.md example builds, runs and gets its reply"
