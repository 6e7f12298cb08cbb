#!/usr/bin/env bash
# test_exports.sh - libkonce.so exports the public API and nothing else: the dynamic symbol table
# defines exactly the calls that include/konce/*.h declares, and every call declared there carries
# KONCE_API (the library is built with -fvisibility=hidden, so a call without it would be missing
# from the .so).  Internal symbols stay in the static libkonce.a, which tests and tools link.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
K=${KONCE_BIN:-$root/build/konce}
build=$(cd "$(dirname "$K")" && pwd)
so=$build/libkonce.so
[[ -f $so ]] || { echo "FAIL: no $so (build first, or set KONCE_BIN)"; exit 1; }
tmp=$(mktemp -d /tmp/konce-test-exports.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# A declaration of a call starts in column 0 and names konce_...( ; typedefs of callbacks do not count.
grep -h -E '^[A-Za-z_].*[ *]konce_[a-z0-9_]+\(' "$root"/include/konce/*.h | grep -v '^typedef' >"$tmp/decl"
[[ -s $tmp/decl ]] || bad "found no call declared in include/konce/*.h"
while IFS= read -r line; do
	[[ $line == KONCE_API\ * ]] || bad "declared without KONCE_API, so libkonce.so hides it: $line"
done <"$tmp/decl"
sed -E 's/^[^(]*[ *](konce_[a-z0-9_]+)\(.*/\1/' "$tmp/decl" | sort -u >"$tmp/api"

nm -D --defined-only "$so" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/exported"
[[ -s $tmp/exported ]] || bad "nm finds no dynamic symbol defined in $so"

extra=$(comm -13 "$tmp/api" "$tmp/exported")
missing=$(comm -23 "$tmp/api" "$tmp/exported")
[[ -z $extra ]] || bad "libkonce.so exports $(wc -l <<<"$extra") symbols outside the public API: $(echo $extra)"
[[ -z $missing ]] || bad "libkonce.so does not export these public calls: $(echo $missing)"

if ((fails)); then
	echo "$fails failure(s)"
	exit 1
fi
echo "ok: libkonce.so exports exactly the $(wc -l <"$tmp/api") calls of include/konce/*.h"
