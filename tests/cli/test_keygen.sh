#!/usr/bin/env bash
# test_keygen.sh - konce keygen and konce pubkey, end to end, in a temporary XDG_DATA_HOME.
set -eu

K=${KONCE_BIN:-build/konce}
[[ -x $K ]] || { echo "no konce binary at $K (set KONCE_BIN)"; exit 1; }

tmp=$(mktemp -d /tmp/konce-test-keygen.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export XDG_DATA_HOME=$tmp/data HOME=$tmp/home
key=$XDG_DATA_HOME/konce/identity.key
out=$tmp/out err=$tmp/err

fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$out" 2>/dev/null || true; echo "--- stderr"; cat "$err" 2>/dev/null || true; exit 1; }
# run EXPECTED_STATUS ARGS...: runs konce, keeping stdout in $out and stderr in $err
run() {
	local want=$1 rc=0
	shift
	"$K" "$@" >"$out" 2>"$err" || rc=$?
	[[ $rc == "$want" ]] || fail "konce $* exited $rc, expected $want"
}
is_key() { [[ $1 =~ ^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$ ]]; }

# keygen with the default path creates the directories 0700 and the file 0600
run 0 keygen
pub=$(cat "$out")
is_key "$pub" || fail "keygen printed '$pub', not a key"
[[ -f $key ]] || fail "no key file at $key"
[[ $(stat -c %a "$key") == 600 ]] || fail "key file mode $(stat -c %a "$key")"
[[ $(stat -c %a "$XDG_DATA_HOME/konce") == 700 ]] || fail "data dir mode"
[[ $(stat -c %a "$XDG_DATA_HOME") == 700 ]] || fail "XDG_DATA_HOME mode"
grep -q "$key" "$err" || fail "keygen did not say where it saved the key"
[[ $(head -n 1 "$key") == "# konce secret key v1 - keep private" ]] || fail "key file header"
[[ $(sed -n 3p "$key") == "public: $pub" ]] || fail "key file public line"

# pubkey reads it back, plain and as JSON
run 0 pubkey
[[ $(cat "$out") == "$pub" ]] || fail "pubkey printed another key"
run 0 pubkey --json
[[ $(cat "$out") == "{\"public_key\": \"$pub\", \"file\": \"$key\"}" ]] || fail "pubkey --json"
run 0 pubkey -f "$key"
[[ $(cat "$out") == "$pub" ]] || fail "pubkey -f"

# no overwrite without --force; the key is unchanged
run 1 keygen
grep -q "already exists" "$err" || fail "overwrite refusal message"
grep -q -- "--force" "$err" || fail "overwrite refusal does not mention --force"
run 0 pubkey
[[ $(cat "$out") == "$pub" ]] || fail "refused keygen changed the key"
run 0 keygen --force --json
pub2=$(sed -n 's/^{"public_key": "\([^"]*\)", "file": "[^"]*"}$/\1/p' "$out")
is_key "$pub2" || fail "keygen --json output"
[[ $pub2 != "$pub" ]] || fail "--force did not make a new key"
run 0 pubkey
[[ $(cat "$out") == "$pub2" ]] || fail "pubkey after --force"

# -f elsewhere, creating its directory; HOME alone gives ~/.local/share
run 0 keygen -f "$tmp/other/dir/my.key"
[[ $(stat -c %a "$tmp/other/dir/my.key") == 600 ]] || fail "-f key mode"
env -u XDG_DATA_HOME "$K" keygen >"$out" 2>"$err" || fail "keygen with HOME only"
[[ -f $HOME/.local/share/konce/identity.key ]] || fail "HOME default path"
env -u XDG_DATA_HOME -u HOME "$K" pubkey >"$out" 2>"$err" && fail "pubkey without HOME succeeded"
grep -q "set HOME or XDG_DATA_HOME" "$err" || fail "no-HOME message"

# permissions too open: refused with the mode and the fix
chmod 644 "$key"
run 1 pubkey
grep -q "permissions 0644 are too open" "$err" || fail "0644 message"
grep -q "chmod 600 $key" "$err" || fail "0644 fix"
chmod 640 "$key"
run 1 pubkey
chmod 600 "$key"
run 0 pubkey

# missing file, directory, damaged file: exit 1 naming the file
run 1 pubkey -f "$tmp/nope.key"
grep -q "$tmp/nope.key: no such key file" "$err" || fail "missing file message"
run 1 pubkey -f "$tmp"
grep -q "not a regular file" "$err" || fail "directory message"
head -c 100 "$key" >"$tmp/cut.key"
chmod 600 "$tmp/cut.key"
run 1 pubkey -f "$tmp/cut.key"
grep -q "$tmp/cut.key: line 3" "$err" || fail "truncated file message"
touch "$tmp/afile"
run 1 keygen -f "$tmp/afile/sub/k.key"
grep -q "cannot create the directory" "$err" || fail "mkdir failure message"

# help and usage errors
run 0 keygen --help
grep -q "^Usage: konce keygen" "$out" || fail "keygen --help"
run 0 pubkey -h
grep -q "^Usage: konce pubkey" "$out" || fail "pubkey -h"
run 2 keygen --bogus
grep -q "Usage: konce keygen" "$err" || fail "bad flag shows usage"
run 2 pubkey extra
run 2 pubkey -f
run 2 pubkey --force
run 0 help
grep -q "keygen" "$out" || fail "help lists keygen"
echo "keygen/pubkey: all checks passed"
