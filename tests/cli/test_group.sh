#!/usr/bin/env bash
# test_group.sh - a consensus group of two `konce node` daemons on 127.0.0.1, driven by the CLI.
#
#     konce node A  <--- UDP, 127.0.0.1, free ports --->  konce node B
#        ^ A.sock                                            ^ B.sock
#
# Checks: `konce group invite` prints a token only once the invitation has committed (every member
# stores it), so a joiner can use it at once; with a member down the invitation cannot commit (two
# members cannot evict each other) and invite fails after --wait with a clear error and no token.
# `konce group status` shows each member: key, petname, coordinator, last heard, acks (at the
# coordinator) and suspicion, in text and JSON; a dead member turns from healthy to suspected.
set -eu

K=${KONCE_BIN:-build/konce}
[[ -x $K ]] || { echo "no konce binary at $K (set KONCE_BIN)"; exit 1; }
command -v jq >/dev/null || { echo "jq is not installed (make deps)"; exit 77; }

tmp=$(mktemp -d /tmp/konce-test-group.XXXXXX)
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
# run EXPECTED_STATUS ARGS...: runs konce with stdout in $out and stderr in $err
run() {
	local want=$1 rc=0
	shift
	timeout 30 "$K" "$@" >"$out" 2>"$err" || rc=$?
	[[ $rc == "$want" ]] || fail "konce $* exited $rc, expected $want"
}
has() { grep -q -- "$2" "$1" || fail "$1 lacks '$2'"; }
jqt() { jq -e "$1" "$out" >/dev/null || fail "jq '$1' is not true"; }

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
field() { awk -v f="$2" '$1 " " $2 == f || $1 == f { print $NF }' "$tmp/$1.out"; }
# wait_members NODE COUNT: until NODE is a member of a view of COUNT, at most 15 s
wait_members() {
	for _ in $(seq 75); do
		if "$K" group members demo --json -s "$tmp/$1.sock" >"$out" 2>"$err" &&
			jq -e ".group.state == \"member\" and .group.members_count == $2" "$out" >/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	fail "node $1 is not a member of a view of $2 within 15 s"
}

start A
start B
PA=$(field A listening)

run 0 group create demo -s "$tmp/A.sock"
# Alone, the invitation commits at once.
run 0 group invite demo --addr "$PA" -s "$tmp/A.sock"
tok=$(cat "$out")
[[ $tok =~ ^konce-invite:[A-Za-z0-9_-]+$ ]] || fail "invite printed '$tok', not a token"
run 0 group join "$tok" --name demo -s "$tmp/B.sock"
wait_members B 2
wait_members A 2

# status, member by member, on the coordinator (A: epoch 2 of two) and on B
KA=$(field A "public key") KB=$(field B "public key")
run 0 alias "$KB" bob -s "$tmp/A.sock"
run 0 group status demo --json -s "$tmp/A.sock"
jqt '.ok == true and .group.state == "member" and .group.epoch == 2 and .group.members_count == 2'
jqt "[.group.members[] | .key] == [\"$KA\", \"$KB\"]"
jqt '.group.members[0].self == true and .group.members[0].coordinator == true and .group.members[1].self == false'
# (B is new to the view: within 1.5 s of its join it is in its grace)
jqt '.group.members[1].name == "bob" and (.group.members[1].suspicion | IN("healthy", "grace")) and .group.members[1].heard_ms < 600'
jqt '(.group.members[1].acked | type) == "number" and .group.members[0].acked == .group.last'
run 0 group status demo --json -s "$tmp/B.sock"
jqt '.group.members[0].acked == null and .group.members[1].self == true and (.group.members[0].suspicion | IN("healthy", "grace"))'
run 0 group status demo -s "$tmp/A.sock"
has "$out" "^demo: member, epoch 2, 2 members, commit [0-9]*, log [0-9]*$"
has "$out" "^  $KB  bob  heard [0-9]* ms ago  acked [0-9]*  \(healthy\|grace\)$"
has "$out" "^  $KA  (this node)  (coordinator)  acked [0-9]*  healthy$"
run 1 group status nosuch -s "$tmp/A.sock"
has "$err" "status nosuch: no such group here"

# With both members up, invite waits for both to store the invitation, then prints the token.
run 0 group invite demo --addr "$PA" --json -s "$tmp/A.sock"
jqt '.ok == true and .committed == true and (.token | startswith("konce-invite:"))'
run 0 group invite demo --addr "$PA" -s "$tmp/B.sock" # from the other member too
[[ $(cat "$out") =~ ^konce-invite:[A-Za-z0-9_-]+$ ]] || fail "B's invite printed '$(cat "$out")'"

run 1 group invite nosuch -s "$tmp/B.sock"
has "$err" "invite nosuch: no such group here"

# B down: a pair cannot evict, so nothing commits; invite gives up after --wait, printing no token.
kill -KILL "${pid[B]}"
wait "${pid[B]}" 2>/dev/null || true
unset "pid[B]"
run 1 group invite demo --wait 2 -s "$tmp/A.sock"
[[ ! -s $out ]] || fail "invite printed a token that has not committed: $(cat "$out")"
has "$err" "has not committed within 2 s"
# by now A has not heard B for over 2 s: suspected (a pair cannot evict it, so the view stays)
run 0 group status demo --json -s "$tmp/A.sock"
jqt '.group.members[1].suspicion == "suspected" and .group.members[1].heard_ms > 2000'
jqt '.group.state == "view-change"' 
run 2 group invite demo --wait 0 -s "$tmp/A.sock"
has "$err" "bad duration"
echo "ok: group invite prints a token only once the invitation has committed"
