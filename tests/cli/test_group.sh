#!/usr/bin/env bash
# test_group.sh - a consensus group of two `konce node` daemons on 127.0.0.1, driven by the CLI.
#
#     konce node A  <--- UDP, 127.0.0.1, free ports --->  konce node B
#        ^ A.sock                                            ^ B.sock
#
# Checks: `konce group invite` prints a token only once the invitation has committed (every member
# stores it), so a joiner can use it at once; with a member down the invitation cannot commit (two
# members cannot evict each other) and invite fails after --wait with a clear error and no token.
# `konce group status` shows each member: key, petname (as `konce alias` sets, renames and removes
# it), coordinator, last heard, acks (at the coordinator) and suspicion, in text and JSON; a dead
# member turns from healthy to suspected; a restarted node still names its members.  `join --timeout`
# takes 1 s to 1 d and goes to the node.
set -eu

# shellcheck source=tests/cli/cli_lib.sh
. "$(dirname "$0")/cli_lib.sh" group
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
# join --timeout: 1 s to 1 d, for join only (checked before anything reaches the node)
run 0 group --help
has "$out" "--timeout DUR   join: give up (withdraw) if not admitted within DUR"
run 2 group join "$tok" --name demo --timeout 0 -s "$tmp/B.sock"
has "$err" "bad --timeout '0': 1 s to 1 d"
run 2 group join "$tok" --name demo --timeout 2d -s "$tmp/B.sock"
has "$err" "bad --timeout '2d'"
run 2 group list --timeout 5 -s "$tmp/B.sock"
has "$err" "--timeout applies to join only"
run 0 group join "$tok" --name demo --timeout 2m --json -s "$tmp/B.sock"
jqt '.ok == true and .timeout == 120'
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
# a petname renamed or removed with `konce alias` shows in the next status
run 0 alias "$KB" robert -s "$tmp/A.sock"
run 0 group status demo --json -s "$tmp/A.sock"
jqt '.group.members[1].name == "robert"'
run 0 alias "$KB" "" -s "$tmp/A.sock"
run 0 group status demo --json -s "$tmp/A.sock"
jqt '.group.members[1].name == ""'

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
# restarted, A names B by the petname it loads from its store at start
run 0 alias "$KB" bob -s "$tmp/A.sock"
stop A TERM
start A
run 0 group status demo --json -s "$tmp/A.sock"
jqt '.group.members[1].name == "bob" and .group.members[0].self == true'
echo "ok: group invite prints a token only once the invitation has committed"
