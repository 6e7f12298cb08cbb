#!/usr/bin/env bash
# Five `konce node` daemons behind five different kinds of network form one consensus group through
# a rendezvous with invitation tokens, and agree on 1,000 decisions (issue 11):
#
#     A public (203.0.113.21)      B behind a full cone       C behind a restricted cone
#     D behind a symmetric NAT     E behind a symmetric NAT   R: rendezvous on pub (203.0.113.10)
#
# D and E can reach each other only through R's relay (docs/TRAVERSAL.md: symmetric x symmetric);
# every other pair goes direct.  Tokens carry no addresses: each joiner opens a session to every
# member by key through R.  A founds the group and invites B, C, D and E in turn (gjoin: each
# joiner delivers a decision of its own before the next invitation).  Then all five propose 200
# decisions each at once, over their control sockets; every member must deliver the same 1,000
# decisions in the same order (count and SHA-256 of the log after the last join, compared across
# members; every decision exactly once).  The elapsed time and decisions/s are printed as
# information only (the benchmark with its baseline is bench/).
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"
# shellcheck source=tests/netsim/group_lib.sh
. "$(dirname "$0")/group_lib.sh"

PER=200 # decisions per member
run=kgs$$
KRUN=$run
topo=$KTMP/group-scale.topo
printf '%s\n' internet 'router n1 preset=full-cone' 'router n2 preset=restricted-cone' \
	'router n3 preset=symmetric' 'router n4 preset=symmetric' 'host a addr=203.0.113.21' \
	'host b behind n1' 'host c behind n2' 'host d behind n3' 'host e behind n4' \
	'host pub addr=203.0.113.10' >"$topo"
kup "$topo" "$run"
kstart "$run" pub R 203.0.113.10:7807 --rendezvous yes
kr=$(kfield "$run" R "public key")
hosts=(a b c d e)
names=(A B C D E)
for i in 0 1 2 3 4; do
	kstart "$run" "${hosts[$i]}" "${names[$i]}" "$(kaddr "$run" "${hosts[$i]}"):7807" --rendezvous-peer "$kr@203.0.113.10:7807"
done
for i in 0 1 2 3 4; do
	wait_for 10 "${names[$i]} registers with R" gregistered "$run" "${hosts[$i]}" "${names[$i]}"
done

kcli "$run" a A group create demo >/dev/null || fail "group create failed"
for j in 1 2 3 4; do
	gjoin "$run" demo $((j + 1)) a A "${hosts[$j]}" "${names[$j]}" --expires 1h
done
for i in 0 1 2 3 4; do
	wait_for 15 "${names[$i]} is in the view of five" gstate_is "$run" "${hosts[$i]}" "${names[$i]}" demo member 5
done
kd=$(kfield "$run" D "public key") ke=$(kfield "$run" E "public key")
dpath=$(kcli "$run" d D peers --json | jq -r ".peers[] | select(.public_key == \"$ke\" and .state == \"up\") | .path")
check "D's session to E goes through the relay ($dpath)" [ "$dpath" = relayed ]
epath=$(kcli "$run" e E peers --json | jq -r ".peers[] | select(.public_key == \"$kd\" and .state == \"up\") | .path")
check "E's session to D goes through the relay ($epath)" [ "$epath" = relayed ]
# the decisions of this run come after every member's join marker
base=0
for i in 0 1 2 3 4; do
	s=$(glog_seq_of "$run" a A demo "joined-${names[$i]}")
	[ -z "$s" ] || [ "$s" -le "$base" ] || base=$s
done
ck=$(gmembers "$run" a A demo | jq -r '.members[] | select(.coordinator) | .key')
coord='?'
for n in "${names[@]}"; do [ "$(kfield "$run" "$n" "public key")" != "$ck" ] || coord=$n; done
echo "     the view of five: epoch $(gmembers "$run" a A demo | jq .epoch), coordinator $coord; decisions after seq $base"

t0=$(date +%s%N)
pids=()
for i in 0 1 2 3 4; do
	gpropose_burst "$KTMP/$run.${names[$i]}.sock" demo "${names[$i]}" "$PER" &
	pids+=($!)
done
for i in 0 1 2 3 4; do
	wait "${pids[$i]}" || fail "${names[$i]}: proposing its $PER decisions failed"
done
total=$((5 * PER))
delivered() { [ "$(glog_after "$run" "$1" "$2" demo "$base" | grep -c .)" -ge "$total" ]; }
for i in 0 1 2 3 4; do
	wait_for 60 "${names[$i]} delivers the $total decisions" delivered "${hosts[$i]}" "${names[$i]}"
done
ms=$((($(date +%s%N) - t0) / 1000000))
echo "     $total decisions proposed by 5 members and delivered by all in $ms ms: $((total * 1000 / (ms > 0 ? ms : 1))) decisions/s (information, not asserted)"

ha=$(glog_hash "$run" a A demo "$base")
echo "     A's log after seq $base: $ha"
check "A delivered exactly $total decisions after the joins" [ "${ha%% *}" = "$total" ]
for i in 1 2 3 4; do
	h=$(glog_hash "$run" "${hosts[$i]}" "${names[$i]}" demo "$base")
	check "${names[$i]}'s log after seq $base has the same count and SHA-256 as A's ($h)" [ "$h" = "$ha" ]
done
# more than one page of the control protocol's group.log (256): --json gathers every page
js=$(kcli "$run" a A group log demo --json) || fail "A: group log --json failed"
check "A's group log --json holds every decision once, in the order of its text log" \
	[ "$(jq -r '.entries[] | "\(.seq) \(.origin) \(.text)"' <<<"$js")" = "$(glog "$run" a A demo)" ]
check "and says there is no more" jqt "$js" '.more == false and (.entries | length) > 1000'
texts=$(glog_after "$run" a A demo "$base" | awk '{ print $3 }' | sort)
want=$(for n in "${names[@]}"; do seq -f "$n-%.0f" "$PER"; done | sort)
check "every decision proposed is delivered exactly once" [ "$texts" = "$want" ]
seqs=$(glog_after "$run" a A demo "$base" | awk -v b="$base" '$1 != b + NR { bad = 1 } END { print bad ? "gap" : "dense" }')
check "at consecutive seqs" [ "$seqs" = dense ]

for n in "${names[@]}" R; do kstop "$run" "$n"; done
echo "ok: five daemons behind five kinds of network, two of them relayed, agreed on $total decisions"
