#!/usr/bin/env bash
# A consensus group of three `konce node` daemons behind three different NATs, found by key through
# a rendezvous (issue 11):
#
#     A (behind a full cone), B (behind a port-restricted cone), C (behind a restricted cone)
#     R: rendezvous on pub (203.0.113.10:7807); A, B and C register with it
#
# Tokens carry no addresses (invite without --addr): each joiner opens a session to every member by
# key through R (introduction, hole punching, or R's relay).  A creates the group; B and C join;
# each proposes; every member logs the same sequence; `kill -9` of C gets it evicted and A and B go
# on committing.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"
# shellcheck source=tests/netsim/group_lib.sh
. "$(dirname "$0")/group_lib.sh"

run=kgn$$
KRUN=$run
topo=$KTMP/group-nat.topo
printf 'internet\nrouter n1 preset=full-cone\nrouter n2 preset=port-restricted-cone\nrouter n3 preset=restricted-cone\nhost a behind n1\nhost b behind n2\nhost c behind n3\nhost pub addr=203.0.113.10\n' >"$topo"
kup "$topo" "$run"
kstart "$run" pub R 203.0.113.10:7807 --rendezvous yes
kr=$(kfield "$run" R "public key")
hosts=(a b c)
names=(A B C)
for i in 0 1 2; do
	kstart "$run" "${hosts[$i]}" "${names[$i]}" "$(kaddr "$run" "${hosts[$i]}"):7807" --rendezvous-peer "$kr@203.0.113.10:7807"
done
kc=$(kfield "$run" C "public key")

for i in 0 1 2; do
	wait_for 10 "${names[$i]} registers with R" gregistered "$run" "${hosts[$i]}" "${names[$i]}"
done
state_is() { gstate_is "$run" "$1" "$2" demo "$3" "$4"; } # state_is HOST NAME STATE MEMBERS
log_of() { kcli "$run" "$1" "$2" group log demo --json | jq -c '[.entries[] | [.seq, .origin, .text]]'; }
log_len_is() { [ "$(log_of "$1" "$2" | jq length)" = "$3" ]; }

kcli "$run" a A group create demo >/dev/null || fail "group create failed"
for j in 1 2; do
	tok=$(kcli "$run" a A group invite demo --expires 1h) || fail "invite failed"
	kcli "$run" "${hosts[$j]}" "${names[$j]}" group join "$tok" --name demo >/dev/null || fail "${names[$j]}: join failed"
	wait_for 30 "${names[$j]} becomes a member of a view of $((j + 1))" state_is "${hosts[$j]}" "${names[$j]}" member $((j + 1))
	sleep 2 # the new member learns the invitations (its snapshot) before the next join is voted on
done
wait_for 15 "A sees three members" state_is a A member 3

for k in $(seq 5); do
	for i in 0 1 2; do
		kcli "$run" "${hosts[$i]}" "${names[$i]}" group propose demo "d$k-from-${names[$i]}" >/dev/null ||
			fail "${names[$i]}: propose $k failed"
	done
done
for i in 0 1 2; do
	wait_for 20 "${names[$i]} delivers the 15 decisions" log_len_is "${hosts[$i]}" "${names[$i]}" 15
done
la=$(log_of a A) lb=$(log_of b B) lc=$(log_of c C)
check "A and B log the same sequence" [ "$la" = "$lb" ]
check "A and C log the same sequence" [ "$la" = "$lc" ]

kill -KILL "${NPID[$run.C]}"
wait "${NPID[$run.C]}" 2>/dev/null || true
unset "NPID[$run.C]"
wait_for 30 "A evicts the silent C" state_is a A member 2
wait_for 15 "B installs the same view" state_is b B member 2
out=$(kcli "$run" a A group members demo --json) || fail "members failed"
check "C's key is not in the view" jqt "$out" "[.group.members[] | select(.key == \"$kc\")] | length == 0"
kcli "$run" b B group propose demo after-eviction >/dev/null || fail "propose after the eviction failed"
wait_for 15 "A delivers the decision made after the eviction" log_len_is a A 16
wait_for 15 "B too" log_len_is b B 16
check "A and B still log the same sequence" [ "$(log_of a A)" = "$(log_of b B)" ]
kstop "$run" A
kstop "$run" B
kstop "$run" R
echo "ok: three daemons behind NATs formed a group through a rendezvous and evicted the killed member"
