#!/usr/bin/env bash
# A consensus group of three real `konce node` daemons on public addresses (issue 11):
#
#     P1 (203.0.113.21) --- internet --- P2 (203.0.113.22), P3 (203.0.113.23)
#
# With the konce CLI only: P1 creates the group and invites; P2 and P3 join with the tokens (each
# token carries where P1 reaches every member, so the joiner opens a session to each by key); every
# node proposes decisions and every member's `konce group log` shows the same sequence; a malformed
# token is refused with exit 2; `kill -9` of P3 gets it evicted (a view of two without it on P1 and
# P2) and the two go on committing; P2 restarted keeps its place and its log.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"
# shellcheck source=tests/netsim/group_lib.sh
. "$(dirname "$0")/group_lib.sh"

run=kg$$
gthree "$run"
a1=$(kaddr "$run" p1)
k3=$(kfield "$run" P3 "public key")

state_is() { gstate_is "$run" "p$1" "P$1" "$2" "$3" "$4"; } # state_is N GROUP STATE MEMBERS
log_of() { kcli "$run" "p$1" "P$1" group log demo --json | jq -c '[.entries[] | [.seq, .origin, .text]]'; }
log_len_is() { [ "$(log_of "$1" | jq length)" = "$2" ]; }

out=$(kcli "$run" p1 P1 group create demo --json) || fail "group create failed"
check "P1 founds the group alone" jqt "$out" '.group.members_count == 1 and .group.state == "member"'

for j in 2 3; do
	tok=$(kcli "$run" p1 P1 group invite demo --expires 10m --addr "$a1:7807") || fail "invite failed"
	check "invite prints a token" has "$tok" '^konce-invite:[A-Za-z0-9_-]+$'
	kcli "$run" "p$j" "P$j" group join "$tok" --name demo >/dev/null || fail "P$j: join failed"
	wait_for 15 "P$j becomes a member of a view of $j" state_is "$j" demo member "$j"
done
wait_for 10 "P1 sees three members" state_is 1 demo member 3
rc=0
out=$(kcli "$run" p2 P2 group join konce-invite:AAAA 2>&1) || rc=$?
check "a malformed token is refused with exit 2 ($out)" [ "$rc" = 2 ]

for k in $(seq 10); do
	for i in 1 2 3; do
		kcli "$run" "p$i" "P$i" group propose demo "d$k-from-P$i" >/dev/null || fail "P$i: propose $k failed"
	done
done
for i in 1 2 3; do
	wait_for 15 "P$i delivers the 30 decisions" log_len_is "$i" 30
done
l1=$(log_of 1) l2=$(log_of 2) l3=$(log_of 3)
check "P1 and P2 log the same sequence" [ "$l1" = "$l2" ]
check "P1 and P3 log the same sequence" [ "$l1" = "$l3" ]
check "every decision is in it once" [ "$(jq -r '.[][2]' <<<"$l1" | sort -u | wc -l)" = 30 ]

kill -KILL "${NPID[$run.P3]}"
wait "${NPID[$run.P3]}" 2>/dev/null || true
unset "NPID[$run.P3]"
wait_for 20 "P1 evicts the silent P3" state_is 1 demo member 2
wait_for 10 "P2 installs the same view" state_is 2 demo member 2
out=$(kcli "$run" p1 P1 group members demo --json) || fail "members failed"
check "P3's key is not in the view" jqt "$out" "[.group.members[] | select(.key == \"$k3\")] | length == 0"
kcli "$run" p2 P2 group propose demo after-eviction >/dev/null || fail "propose after the eviction failed"
wait_for 10 "P1 delivers the decision made after the eviction" log_len_is 1 31
wait_for 10 "P2 delivers it too" log_len_is 2 31
check "P1 and P2 still log the same sequence" [ "$(log_of 1)" = "$(log_of 2)" ]

kstop "$run" P2
kstart "$run" p2 P2 "$(kaddr "$run" p2):7807"
check "P2 restarted is still a member of the view of two" state_is 2 demo member 2
kcli "$run" p2 P2 group propose demo after-restart >/dev/null || fail "propose after the restart failed"
wait_for 10 "both deliver the decision made after the restart" log_len_is 1 32
wait_for 10 "P2 too" log_len_is 2 32
check "and their logs are the same" [ "$(log_of 1)" = "$(log_of 2)" ]
kstop "$run" P1
kstop "$run" P2
echo "ok: three daemons formed a group, agreed on 32 decisions, evicted the killed member"
