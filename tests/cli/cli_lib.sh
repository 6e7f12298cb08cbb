# cli_lib.sh - what the tests/cli scripts that drive `konce node` daemons on 127.0.0.1 share.
# Source it with the test's short name: `. "$(dirname "$0")/cli_lib.sh" NAME`.  It sets K (the
# konce binary), tmp (a fresh directory, removed at exit, that HOME and the XDG directories point
# into, so the user's konce files stay out), out and err (the last `run`'s output), pid (the nodes
# started, killed at exit) and these helpers:
#   fail MSG           prints MSG, the last output and each node's log tail; exits 1
#   run RC ARGS...     runs konce ARGS (30 s at most), expects exit status RC
#   has FILE TEXT      FILE contains TEXT;  jqt EXPR: the last output satisfies jq EXPR
#   is_key TEXT        TEXT is a key's 43-character text
#   start NAME ARGS... starts `konce node` NAME in the background, until it serves its socket
#   stop NAME SIG      signals node NAME and expects exit 0 within 5 s, with its socket removed
#   field NAME LABEL   a value from node NAME's start-up lines ("listening", "public key", ...)
# shellcheck shell=bash disable=SC2034

K=${KONCE_BIN:-build/konce}
[[ -x $K ]] || { echo "no konce binary at $K (set KONCE_BIN)"; exit 1; }
command -v jq >/dev/null || { echo "jq is not installed (make deps)"; exit 77; }

tmp=$(mktemp -d "/tmp/konce-test-$1.XXXXXX")
declare -A pid=()
cleanup() {
	for p in "${pid[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/xdgdata
unset XDG_RUNTIME_DIR
out=$tmp/out err=$tmp/err

fail() {
	echo "FAIL: $*"
	echo "--- stdout"; cat "$out" 2>/dev/null || true
	echo "--- stderr"; cat "$err" 2>/dev/null || true
	for n in "${!pid[@]}"; do echo "--- node $n log"; tail -n 20 "$tmp/$n.err" 2>/dev/null || true; done
	exit 1
}
run() {
	local want=$1 rc=0
	shift
	timeout 30 "$K" "$@" >"$out" 2>"$err" || rc=$?
	[[ $rc == "$want" ]] || fail "konce $* exited $rc, expected $want"
}
has() { grep -q -- "$2" "$1" || fail "$1 lacks '$2'"; }
jqt() { jq -e "$1" "$out" >/dev/null || fail "jq '$1' is not true"; }
is_key() { [[ $1 =~ ^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$ ]]; }
start() {
	local n=$1
	shift
	"$K" node --listen 127.0.0.1:0 --data "$tmp/$n" --control "$tmp/$n.sock" "$@" >"$tmp/$n.out" 2>"$tmp/$n.err" &
	pid[$n]=$!
	for _ in $(seq 100); do
		[[ -S $tmp/$n.sock && $(wc -l <"$tmp/$n.out") -ge 3 ]] && return 0
		kill -0 "${pid[$n]}" 2>/dev/null || { cat "$tmp/$n.err"; fail "node $n exited during start-up"; }
		sleep 0.1
	done
	fail "node $n did not open its control socket within 10 s"
}
stop() {
	local n=$1 p=${pid[$1]} rc=0
	kill "-$2" "$p"
	for _ in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$p" 2>/dev/null && fail "node $n still running 5 s after SIG$2"
	wait "$p" || rc=$?
	unset "pid[$n]"
	[[ $rc == 0 ]] || fail "node $n exited $rc after SIG$2"
	has "$tmp/$n.err" "SIG$2: shutting down"
	[[ ! -e $tmp/$n.sock ]] || fail "node $n left its control socket behind"
}
field() { awk -v f="$2" '$1 " " $2 == f || $1 == f { print $NF }' "$tmp/$1.out"; }
