# shellcheck shell=bash
# tests/netsim/konce_lib.sh: sourced by the test_konce_*.sh scenarios, which run real `konce node`
# daemons inside netsim hosts and drive them with the konce CLI through their control sockets.
# Sourcing it skips the test (exit 77, with the reason) unless we are root with the netsim tools;
# a missing konce binary is a failure (the build is broken), as in tests/cli/test_node.sh.
#
# Nodes are named RUN.NAME.  Each gets its own data dir and control socket under one temp dir.
# `netsim exec` execs `ip netns exec`, which execs konce, so $! is the node's own pid and SIGTERM
# reaches it directly.  Every wait is bounded; the EXIT trap kills the nodes and downs the runs.
#
# set -e (with -E, so the ERR trap names the line, in functions and subshells too): a command that
# fails outside an if, a while, or the left of && / || fails the test.  A command whose failure is
# expected is written `out=$(cmd) || rc=$?`, never `out=$(cmd); rc=$?`.
set -eEuo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/netsim/check.sh
. "$TOP/tests/netsim/check.sh"
check_lint "$0" || { echo "FAIL: $0: a check followed by &&, || or | (see tests/netsim/check.sh)"; exit 1; }
NETSIM=$TOP/netsim/netsim
# shellcheck disable=SC2034 # used by the tests that source this file
TOPOS=$TOP/netsim/topologies
K=${KONCE_BIN:-$TOP/build/konce}

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "netsim needs root (network namespaces, nftables)"
for t in ip nft tc jq timeout; do command -v "$t" >/dev/null || skip "missing tool $t (make deps)"; done
[ -x "$NETSIM" ] || skip "no netsim at $NETSIM"
[[ $K == /* ]] || K=$(pwd)/$K
[ -x "$K" ] || { echo "FAIL: no konce binary at $K (make, or set KONCE_BIN)"; exit 1; }
ip netns add "nsprobe$$" 2>/dev/null || skip "cannot create network namespaces here"
ip netns del "nsprobe$$"

KTMP=$(mktemp -d /tmp/konce-netsim.XXXXXX)
# keep the user's real konce files and sockets out of this
export HOME=$KTMP/home XDG_CONFIG_HOME=$KTMP/config XDG_DATA_HOME=$KTMP/xdgdata
unset XDG_RUNTIME_DIR

declare -A NPID=()
KRUN='' # the run whose node logs fail() shows
RUNS=()
# kcleanup: kill this shell's nodes and down its runs (each parallel subshell calls it for its own)
kcleanup() {
	local p r
	for p in "${NPID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for r in "${RUNS[@]}"; do timeout 60 "$NETSIM" down --name "$r" >/dev/null 2>&1 || true; done
}
trap 'kcleanup; rm -rf "$KTMP"' EXIT

fail() {
	echo "FAIL: $*"
	local f
	for f in "$KTMP/${KRUN:-}"*.err; do
		[ -s "$f" ] && { echo "--- $(basename "$f")"; tail -n 15 "$f"; }
	done
	exit 1
}
trap 'echo "FAIL: $(basename "$0"):$LINENO: $BASH_COMMAND"' ERR
# jqt JSON FILTER: FILTER is true of JSON;  has TEXT REGEX: TEXT matches REGEX (grep -E)
jqt() { jq -e "$2" <<<"$1" >/dev/null; }
has() { grep -Eq -- "$2" <<<"$1"; }

# kup FILE RUN: bring a run up quietly and register it for cleanup
kup() {
	RUNS+=("$2")
	timeout 60 "$NETSIM" up "$1" --name "$2" --quiet || fail "netsim up $1 --name $2 failed"
}
# kaddr RUN NODE: NODE's primary address
kaddr() { "$NETSIM" addr --name "$1" "$2" | sed -n 1p; } # sed reads all: no SIGPIPE under pipefail

# kstart RUN HOST NAME LISTEN [ARGS...]: start a node in HOST; wait (10 s at most) until it has
# printed its key, its address and its control socket, and serves that socket
kstart() {
	local run=$1 host=$2 n=$1.$3 listen=$4
	shift 4
	"$NETSIM" exec --name "$run" "$host" -- "$K" node --listen "$listen" --data "$KTMP/$n" \
		--control "$KTMP/$n.sock" "$@" >"$KTMP/$n.out" 2>"$KTMP/$n.err" &
	NPID[$n]=$!
	for _ in $(seq 100); do
		[[ -S $KTMP/$n.sock && $(wc -l <"$KTMP/$n.out") -ge 3 ]] && return 0
		kill -0 "${NPID[$n]}" 2>/dev/null || fail "node $n exited during start-up"
		sleep 0.1
	done
	fail "node $n did not open its control socket within 10 s"
}
# kfield RUN NAME FIELD: a line of the node's start-up output ("public key", "listening")
kfield() { awk -v f="$3" '$1 " " $2 == f || $1 == f { print $NF }' "$KTMP/$1.$2.out"; }

# kshown RUN HOST NAME PEERKEY: the key node NAME shows the peer PEERKEY in their session (konce
# peers --json local_key): a key derived for that peer alone when NAME dialled it by address
# (docs/KEYS.md, "Which key a node shows"); what the peer sees NAME as
kshown() {
	kcli "$1" "$2" "$3" peers --json | jq -r ".peers[] | select(.public_key == \"$4\") | .local_key"
}

# kwaitreg RUN HOST NAME: until node NAME is registered with both rendezvous (10 s at most)
kwaitreg() {
	local out
	for _ in $(seq 100); do
		out=$(kcli "$1" "$2" "$3" netcheck --json 2>/dev/null) &&
			jqt "$out" '.registered and ([.rendezvous[] | select(.reflexive != null)] | length == 2)' && return 0
		sleep 0.1
	done
	fail "node $3 did not register with both rendezvous within 10 s: $out"
}

# kcli RUN HOST NAME ARGS...: konce ARGS in HOST, talking to node NAME; output on stdout, exit code
# passed back; 30 s at most (SIGKILL 5 s after the SIGTERM)
kcli() {
	local run=$1 host=$2 n=$1.$3 cmd=$4
	shift 4
	timeout -k 5 30 "$NETSIM" exec --name "$run" "$host" -- "$K" "$cmd" --control "$KTMP/$n.sock" "$@"
}

# kstop RUN NAME: SIGTERM the node; it must exit 0 within 5 s and remove its socket
kstop() {
	local n=$1.$2 p rc=0
	p=${NPID[$n]}
	kill -TERM "$p"
	for _ in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$p" 2>/dev/null && fail "node $n still running 5 s after SIGTERM"
	wait "$p" || rc=$?
	unset "NPID[$n]"
	[ "$rc" = 0 ] || fail "node $n exited $rc after SIGTERM"
	[ ! -e "$KTMP/$n.sock" ] || fail "node $n left its control socket behind"
}
