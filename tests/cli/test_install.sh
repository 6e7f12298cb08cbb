#!/usr/bin/env bash
# test_install.sh - `make install DESTDIR=... PREFIX=/usr` gives a library people can build against:
# the API.md example compiles with only the installed headers and `pkg-config konce`, links once
# against libkonce.so and once against libkonce.a (`pkg-config --static`), and each binary runs and
# gets its reply.  Then `make uninstall` removes every file it installed.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
K=${KONCE_BIN:-$root/build/konce}
build=$(cd "$(dirname "$K")" && pwd)
[[ -f $build/libkonce.a && -f $build/libkonce.so ]] || { echo "no libkonce in $build (build first, or set KONCE_BIN)"; exit 1; }
version=$(sed -n 's/^#define KONCE_VERSION_STRING "\(.*\)"/\1/p' "$root/include/konce/konce.h")

tmp=$(mktemp -d /tmp/konce-test-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
fail() { echo "FAIL: $*"; exit 1; }

# the make that built KONCE_BIN, so nothing is rebuilt with other flags
mk() { env -u MAKEFLAGS -u MAKELEVEL make --no-print-directory -C "$root" BUILD="$build" "$@"; }
mk install DESTDIR="$dest" PREFIX=/usr >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "make install"; }
for f in bin/konce lib/libkonce.a lib/libkonce.so.0 lib/libkonce.so lib/pkgconfig/konce.pc \
	include/konce/konce.h share/man/man1/konce.1 share/man/man5/konce.conf.5; do
	[[ -e $dest/usr/$f ]] || fail "make install did not install /usr/$f"
done
[[ $(readlink "$dest/usr/lib/libkonce.so") == libkonce.so.0 ]] || fail "libkonce.so is not a link to libkonce.so.0"
[[ $(readelf -d "$dest/usr/lib/libkonce.so.0" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p') == libkonce.so.0 ]] \
	|| fail "libkonce.so.0 has the wrong soname"

# pkg-config sees only the staged tree: PKG_CONFIG_SYSROOT_DIR maps the file's /usr into it
export PKG_CONFIG_PATH=$dest/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
[[ $(pkg-config --modversion konce) == "$version" ]] || fail "konce.pc says version $(pkg-config --modversion konce), konce.h $version"
prefix=$(sed -n 's/^prefix=//p' "$dest/usr/lib/pkgconfig/konce.pc")
[[ $prefix == /usr ]] || fail "the installed konce.pc has prefix=$prefix, not /usr (stale?)"
# every library libkonce.a needs is named by the .pc file: the PKGS of the Makefile, and natpmp
pkgs=$(sed -n 's/^PKGS *:= *//p' "$root/Makefile")
for p in $pkgs; do
	pkg-config --print-requires-private konce | grep -qx "$p" || fail "konce.pc does not require $p"
done
pkg-config --static --libs konce | grep -q -- -lnatpmp || fail "konce.pc: --static --libs has no -lnatpmp"

# the one ```c block of API.md, verbatim
awk '/^```c$/ { n++; on = 1; next } /^```$/ { on = 0 } on { print }  END { exit n == 1 ? 0 : 1 }' \
	"$root/docs/API.md" >"$tmp/two_nodes.c" || fail "docs/API.md must hold exactly one \`\`\`c block"

# a sanitizer build of the library (make asan) needs the same runtime in the program
san=
nm "$build/libkonce.a" 2>/dev/null | grep -q __asan_ && san="-fsanitize=address,undefined"
cflags=$(pkg-config --cflags konce libevent)
# the headers the example compiles against are the installed ones, not the source tree's or the system's
# shellcheck disable=SC2086  # flags are meant to split
cc $cflags -std=gnu11 -D_GNU_SOURCE -M "$tmp/two_nodes.c" | grep -q "$dest/usr/include/konce/konce.h" \
	|| fail "the example does not include the installed konce.h"

# build NAME LIBS...: compiles the example against the staged headers, linked with LIBS
build() {
	local name=$1
	shift
	# shellcheck disable=SC2086
	cc $san -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror $cflags -o "$tmp/$name" "$tmp/two_nodes.c" "$@" \
		2>"$tmp/cc.err" || { cat "$tmp/cc.err"; fail "the example does not link ($name): cc ... $*"; }
}
# run NAME [ENV...]: runs it; it must print B's view of the request and A's reply
run() {
	local name=$1 rc=0
	shift
	env "$@" timeout 30 "$tmp/$name" >"$tmp/out" 2>"$tmp/err" || rc=$?
	[[ $rc == 0 ]] || { cat "$tmp/out" "$tmp/err"; fail "$name exited $rc"; }
	grep -qx 'A: reply: hello, A' "$tmp/out" || { cat "$tmp/out" "$tmp/err"; fail "$name: no reply line"; }
	grep -Eq '^B: request from [A-Za-z0-9_-]{8}\.\.\.: A$' "$tmp/out" || fail "$name: B did not see the request"
}

# shared: `pkg-config --libs konce` is enough, the .so records its own dependencies
libs=$(pkg-config --libs konce libevent)
# shellcheck disable=SC2086
build shared $libs
readelf -d "$tmp/shared" | grep -q 'NEEDED.*\[libkonce\.so\.0\]' || fail "the shared build does not need libkonce.so.0"
LD_LIBRARY_PATH=$dest/usr/lib ldd "$tmp/shared" | grep -q "libkonce.so.0 => $dest/usr/lib/libkonce.so.0" \
	|| fail "the shared build does not load the installed libkonce.so.0"
run shared LD_LIBRARY_PATH="$dest/usr/lib"
echo "ok: shared: cc two_nodes.c $libs"

# static: libkonce.a with what `pkg-config --static --libs konce` lists, and nothing else
libs=$(pkg-config --static --libs konce libevent)
[[ " $libs " == *" -lkonce "* ]] || fail "pkg-config --static --libs konce has no -lkonce: $libs"
static_libs=${libs/ -lkonce / -l:libkonce.a }
# shellcheck disable=SC2086
build static $static_libs
! readelf -d "$tmp/static" | grep -q 'NEEDED.*libkonce' || fail "the static build still needs libkonce.so"
run static
echo "ok: static: cc two_nodes.c ${static_libs# }"

# uninstall removes every file install put there
mk uninstall DESTDIR="$dest" PREFIX=/usr >"$tmp/uninstall.log" 2>&1 || { cat "$tmp/uninstall.log"; fail "make uninstall"; }
left=$(find "$dest" ! -type d)
[[ -z $left ]] || fail "make uninstall left: $left"
echo "ok: make install DESTDIR PREFIX=/usr, the example against the installed .pc (shared and static), make uninstall"
