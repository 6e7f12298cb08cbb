#!/usr/bin/env bash
# A consensus group whose coordinator reaches another member only through the rendezvous relay
# (issue 11):
#
#     A behind a symmetric NAT, B behind another symmetric NAT: no direct path between them
#     (docs/TRAVERSAL.md: symmetric x symmetric is relayed), C behind a full cone
#     R: rendezvous and relay on pub (203.0.113.10); A, B and C register with it
#
# A founds the group, B joins, then C (tokens without addresses: members are found by key through
# R).  A's and B's sessions to each other must be relayed (konce peers says so on both sides, and
# the path trace shows relayed datagrams both ways), and the view's coordinator must be A or B, so
# that every commit (PROPOSE to B, B's ACK) crosses the relay.  Each member proposes 20 decisions;
# every member delivers the same 60 in the same order.  Then C is killed: A and B (two of three, a
# strict majority) evict it over the relay and go on committing.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"
# shellcheck source=tests/netsim/group_lib.sh
. "$(dirname "$0")/group_lib.sh"

run=kgr$$
KRUN=$run
topo=$KTMP/group-relay.topo
printf '%s\n' internet 'router n1 preset=symmetric' 'router n2 preset=symmetric' 'router n3 preset=full-cone' \
	'host a behind n1' 'host b behind n2' 'host c behind n3' 'host pub addr=203.0.113.10' >"$topo"
kup "$topo" "$run"
kstart "$run" pub R 203.0.113.10:7807 --rendezvous yes
kr=$(kfield "$run" R "public key")
hosts=(a b c)
names=(A B C)
declare -A KEY=()
for i in 0 1 2; do
	kstart "$run" "${hosts[$i]}" "${names[$i]}" "$(kaddr "$run" "${hosts[$i]}"):7807" --rendezvous-peer "$kr@203.0.113.10:7807"
	KEY[${names[$i]}]=$(kfield "$run" "${names[$i]}" "public key")
done
for i in 0 1 2; do
	wait_for 10 "${names[$i]} registers with R" gregistered "$run" "${hosts[$i]}" "${names[$i]}"
done

kcli "$run" a A group create demo >/dev/null || fail "group create failed"
gjoin "$run" demo 2 a A b B --expires 1h
gjoin "$run" demo 3 a A c C --expires 1h
for i in 0 1 2; do
	wait_for 15 "${names[$i]} is in the view of three" gstate_is "$run" "${hosts[$i]}" "${names[$i]}" demo member 3
done

# peer_path HOST NAME PEER: the path of NAME's live session to PEER (konce peers)
peer_path() { kcli "$run" "$1" "$2" peers --json | jq -r ".peers[] | select(.public_key == \"${KEY[$3]}\" and .state == \"up\") | .path"; }
check "A's session to B is relayed ($(peer_path a A B))" [ "$(peer_path a A B)" = relayed ]
check "B's session to A is relayed ($(peer_path b B A))" [ "$(peer_path b B A)" = relayed ]
for p in "a A B" "b B A"; do
	set -f
	# shellcheck disable=SC2086
	set -- $p
	set +f
	out=$(kcli "$run" "$1" "$2" path --json "${KEY[$3]}") || fail "$2: path failed"
	echo "     $2's trace to $3: $(jq -c '{state, datagrams}' <<<"$out")"
	check "$2's datagrams to $3 went through the relay both ways, none direct" \
		jqt "$out" '.datagrams.relayed_tx > 0 and .datagrams.relayed_rx > 0 and .datagrams.direct_tx == 0 and .datagrams.direct_rx == 0'
done
for p in "a A C" "b B C"; do
	set -f
	# shellcheck disable=SC2086
	set -- $p
	set +f
	echo "     $2's path to $3: $(peer_path "$1" "$2" "$3")"
done
v=$(gmembers "$run" a A demo)
ck=$(jq -r '.members[] | select(.coordinator) | .key' <<<"$v")
coord=C
[ "$ck" != "${KEY[A]}" ] || coord=A
[ "$ck" != "${KEY[B]}" ] || coord=B
echo "     view of three at epoch $(jq .epoch <<<"$v"), coordinator $coord"
check "the coordinator is one of the relayed pair ($coord): its commits to the other cross the relay" has "$coord" '^[AB]$'

base=$(glog "$run" c C demo | awk 'END { print $1 + 0 }')
relayed_ab() { kcli "$run" a A path --json "${KEY[B]}" | jq '.datagrams.relayed_tx + .datagrams.relayed_rx'; }
r0=$(relayed_ab)
pids=()
for i in 0 1 2; do
	gpropose_burst "$KTMP/$run.${names[$i]}.sock" demo "${names[$i]}" 20 &
	pids+=($!)
done
for i in 0 1 2; do wait "${pids[$i]}" || fail "${names[$i]}: proposing failed"; done
delivered() { [ "$(glog_after "$run" "$1" "$2" demo "$base" | grep -c .)" -ge 60 ]; }
for i in 0 1 2; do wait_for 30 "${names[$i]} delivers the 60 decisions" delivered "${hosts[$i]}" "${names[$i]}"; done
h=$(glog_hash "$run" c C demo "$base")
check "C delivered exactly 60 decisions ($h)" [ "${h%% *}" = 60 ]
for i in 0 1; do
	check "${names[$i]} delivered the same 60 in the same order" [ "$(glog_hash "$run" "${hosts[$i]}" "${names[$i]}" demo "$base")" = "$h" ]
done
r1=$(relayed_ab)
check "the commits crossed the relay (A-B relayed datagrams $r0 -> $r1)" [ "$r1" -gt "$r0" ]
check "every decision once" [ "$(glog_after "$run" a A demo "$base" | awk '{ print $3 }' | sort -u | wc -l)" = 60 ]

kill -KILL "${NPID[$run.C]}"
wait "${NPID[$run.C]}" 2>/dev/null || true
unset "NPID[$run.C]"
wait_for 30 "A evicts the killed C" gstate_is "$run" a A demo member 2
wait_for 15 "B installs the same view" gstate_is "$run" b B demo member 2
kcli "$run" b B group propose demo after-eviction >/dev/null || fail "propose after the eviction failed"
wait_for 15 "A delivers the decision made after the eviction" glog_has "$run" a A demo after-eviction
wait_for 15 "B delivers it too" glog_has "$run" b B demo after-eviction
check "A and B log the same sequence" [ "$(glog "$run" a A demo)" = "$(glog "$run" b B demo)" ]
check "A's session to B is still relayed" [ "$(peer_path a A B)" = relayed ]
kstop "$run" A
kstop "$run" B
kstop "$run" R
echo "ok: two members that reach each other only through the relay formed a group with a third, committed, and evicted it"
