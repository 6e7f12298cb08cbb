#!/usr/bin/env bash
# A 2|3 partition of a five-member consensus group of `konce node` daemons (issue 11):
#
#     P1 .. P5 on public addresses 203.0.113.21 .. .25; tokens carry the inviter's address
#
# 1. P1 founds the group and invites the four others (gjoin); all five commit 10 decisions.
# 2. nftables in every host drops all traffic between the two sides: the 2-side is the coordinator
#    and the last joiner (P5; P4 if P5 is the coordinator): the 3-side must replace its
#    coordinator.
# 3. The 3-side (a strict majority of the old view) installs a view of three without the two, and
#    keeps committing (decisions proposed on each of the three, delivered by all three, same log).
# 4. The 2-side halts and says so: `konce group members` and `konce group status` show halted
#    (JSON) and HALTED (text), status with the three suspected; the daemon logs "halted (no
#    majority for a new view)"; a decision proposed there is taken but never delivered, and the
#    two logs do not move.
# 5. Healed: the two learn from the 3-side's view that they are out (state "out", the daemon logs
#    "out (evicted)"), and deliver nothing of the 3-side's decisions.  An old invitation does not
#    bring them back (it was used: the joiner ends out, never in the view); a fresh invitation from
#    the 3-side does (each becomes a member again; the view is of five; decisions from a returned
#    member are delivered by all five, in the same order everywhere from that point on).
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"
# shellcheck source=tests/netsim/group_lib.sh
. "$(dirname "$0")/group_lib.sh"

run=kgp$$
KRUN=$run
topo=$KTMP/group-part.topo
{
	echo internet
	for i in 1 2 3 4 5; do echo "host p$i addr=203.0.113.2$i"; done
} >"$topo"
kup "$topo" "$run"
declare -A KEY=() HOST=() ADDR=()
for i in 1 2 3 4 5; do
	kstart "$run" "p$i" "P$i" "203.0.113.2$i:7807"
	KEY[P$i]=$(kfield "$run" "P$i" "public key") HOST[P$i]=p$i ADDR[P$i]=203.0.113.2$i:7807
done
all=(P1 P2 P3 P4 P5)
# n NAME ARGS...: kcli on node NAME
n() { local m=$1; shift; kcli "$run" "${HOST[$m]}" "$m" "$@"; }
g_state_is() { gstate_is "$run" "${HOST[$1]}" "$1" demo "$2" "$3"; }
g_has() { glog_has "$run" "${HOST[$1]}" "$1" demo "$2"; }
g_out() { local o; o=$(gmembers "$run" "${HOST[$1]}" "$1" demo) || return 1; jqt "$o" '.state == "out"'; }
g_last() { glog "$run" "${HOST[$1]}" "$1" demo | awk 'END { print $1 + 0 }'; } # the last seq delivered
g_count() { glog "$run" "${HOST[$1]}" "$1" demo | grep -c . || true; }
g_after() { glog_after "$run" "${HOST[$1]}" "$1" demo "$2"; }

n P1 group create demo >/dev/null || fail "group create failed"
for j in 2 3 4 5; do
	gjoin "$run" demo "$j" p1 P1 "p$j" "P$j" --expires 1h --addr "${ADDR[P1]}"
done
for m in "${all[@]}"; do wait_for 15 "$m is in the view of five" g_state_is "$m" member 5; done
for m in "${all[@]}"; do
	for k in 1 2; do n "$m" group propose demo "before-$m-$k" >/dev/null || fail "$m: propose failed"; done
done
for m in "${all[@]}"; do wait_for 20 "$m delivers the 10 decisions" g_has "$m" before-P5-2; done
v5=$(gmembers "$run" p1 P1 demo)
e5=$(jq .epoch <<<"$v5")
ck=$(jq -r '.members[] | select(.coordinator) | .key' <<<"$v5")
two=() three=()
for m in "${all[@]}"; do [ "${KEY[$m]}" != "$ck" ] || two=("$m"); done
if [ "${two[0]:-}" = P5 ]; then two+=(P4); else two+=(P5); fi
for m in "${all[@]}"; do [[ " ${two[*]} " == *" $m "* ]] || three+=("$m"); done
echo "     view of five at epoch $e5, coordinator ${two[0]}; partition ${two[*]} | ${three[*]}"
check "the 2-side holds the coordinator" [ "${KEY[${two[0]}]}" = "$ck" ]
check "the sides are 2 and 3" [ "${#two[@]}:${#three[@]}" = 2:3 ]
pre=$(g_last "${three[0]}")

gpartition "$run" "${HOST[${two[0]}]} ${HOST[${two[1]}]}" "${HOST[${three[0]}]} ${HOST[${three[1]}]} ${HOST[${three[2]}]}"
for m in "${three[@]}"; do wait_for 30 "$m installs a view of three" g_state_is "$m" member 3; done
v3=$(gmembers "$run" "${HOST[${three[0]}]}" "${three[0]}" demo)
check "the view of three is a later epoch ($(jq .epoch <<<"$v3") > $e5)" jqt "$v3" ".epoch > $e5"
for m in "${two[@]}"; do
	check "$m's key is not in the 3-side's view" jqt "$v3" "[.members[] | select(.key == \"${KEY[$m]}\")] | length == 0"
done
for m in "${three[@]}"; do
	for k in 1 2 3; do n "$m" group propose demo "major-$m-$k" >/dev/null || fail "$m: propose failed"; done
done
for m in "${three[@]}"; do wait_for 20 "$m delivers the 3-side's 9 decisions" g_has "$m" "major-${three[2]}-3"; done
l0=$(g_after "${three[0]}" "$pre")
check "the 3-side delivered 9 decisions during the partition ($(grep -c . <<<"$l0") after seq $pre: $(awk '{ printf "%s ", $3 }' <<<"$l0"))" [ "$(grep -c . <<<"$l0")" = 9 ]
for m in "${three[@]:1}"; do check "$m delivered them in the same order" [ "$(g_after "$m" "$pre")" = "$l0" ]; done

halted() { local o; o=$(gmembers "$run" "${HOST[$1]}" "$1" demo) || return 1; jqt "$o" '.halted and .state == "view-change"'; }
for m in "${two[@]}"; do wait_for 15 "$m halts" halted "$m"; done
for m in "${two[@]}"; do
	out=$(n "$m" group members demo) || fail "$m: members failed"
	check "$m's members says HALTED ($out)" has "$out" 'HALTED'
	st=$(n "$m" group status demo --json) || fail "$m: status failed"
	check "$m's group status says halted, and suspects the 3-side ($(jq -c '[.group.halted, [.group.members[].suspicion]]' <<<"$st"))" \
		jqt "$st" '.group.halted and ([.group.members[] | select(.suspicion == "suspected")] | length) == 3'
	out=$(n "$m" group status demo) || fail "$m: status failed"
	check "$m's status text says HALTED" has "$out" 'HALTED'
	check "$m's daemon logged the halt" grep -q "group demo: halted (no majority for a new view)" "$KTMP/$run.$m.err"
done
declare -A before=()
for m in "${two[@]}"; do before[$m]=$(g_count "$m"); done
n "${two[0]}" group propose demo minority-decision >/dev/null || fail "${two[0]}: propose on the halted side failed"
sleep 2 # a working group commits in milliseconds: give the halted one time to (wrongly) do so
for m in "${two[@]}"; do
	check "$m delivered nothing while halted" [ "$(g_count "$m")" = "${before[$m]}" ]
	check "$m is still halted" halted "$m"
done

gheal "$run" "${HOST[${two[0]}]}" "${HOST[${two[1]}]}" "${HOST[${three[0]}]}" "${HOST[${three[1]}]}" "${HOST[${three[2]}]}"
for m in "${two[@]}"; do
	wait_for 20 "$m learns that it is out" g_out "$m"
	check "$m's daemon logged it" grep -q "group demo: out (evicted)" "$KTMP/$run.$m.err"
	check "$m delivered none of the 3-side's decisions" not g_has "$m" "major-${three[0]}-1"
	check "$m is not in the view the 3-side holds" not jqt "$(gmembers "$run" "${HOST[${three[0]}]}" "${three[0]}" demo)" ".members[] | select(.key == \"${KEY[$m]}\")"
done
for m in "${three[@]}"; do check "$m never delivered the halted side's decision" not g_has "$m" minority-decision; done
for m in "${three[@]}"; do check "$m is still in the view of three" g_state_is "$m" member 3; done

# back only by a new invitation.  The old token of the later joiner of the two (P5, or P4 when P5
# is the coordinator) names every member of the 3-side, so its JOIN reaches the 3-side's
# coordinator, which refuses it (the view that admitted it used that invitation).  The evicted
# member may first hear of the view that evicted the other of the two (from that one, which passes
# its last view on: docs/CONSENSUS.md, "Install"), and is then told of the view that evicted
# itself: either way it ends out, never in the 3-side's view.
inv=${three[0]} old=${two[1]}
n "$old" group join "${GTOKEN[$old]}" --name demo >/dev/null || fail "$old: join with the old token failed"
wait_for 15 "$old is out again after joining with its old token" g_out "$old"
last=$(grep "group demo: " "$KTMP/$run.$old.err" | tail -n 1)
check "$old's daemon logged it ($last)" has "$last" 'group demo: out \((refused|evicted)\)$'
sleep 1
check "$old is still out a second later" g_out "$old"
v=$(gmembers "$run" "${HOST[$inv]}" "$inv" demo)
check "the 3-side's view is still the view of three without $old" jqt "$v" ".members_count == 3 and ([.members[] | select(.key == \"${KEY[$old]}\")] | length == 0)"
count=3
for m in "${two[@]}"; do
	count=$((count + 1))
	gjoin "$run" demo "$count" "${HOST[$inv]}" "$inv" "${HOST[$m]}" "$m" --expires 1h --addr "${ADDR[$inv]}"
done
for m in "${all[@]}"; do wait_for 15 "$m is in the view of five again" g_state_is "$m" member 5; done
after=$(glog_seq_of "$run" "${HOST[$inv]}" "$inv" demo "joined-${two[1]}")
for m in "${all[@]}"; do n "$m" group propose demo "healed-$m" >/dev/null || fail "$m: propose failed"; done
for m in "${all[@]}"; do
	for k in "${all[@]}"; do wait_for 20 "$m delivers healed-$k" g_has "$m" "healed-$k"; done
done
l0=$(g_after "$inv" "$after")
check "5 decisions after the rejoins (after seq $after: $(awk '{ printf "%s %s, ", $1, $3 }' <<<"$l0"))" [ "$(grep -c . <<<"$l0")" = 5 ]
for m in "${all[@]}"; do check "$m delivered them in the same order" [ "$(g_after "$m" "$after")" = "$l0" ]; done
for m in "${all[@]}"; do kstop "$run" "$m"; done
echo "ok: the three evicted the two and went on; the two halted, learned they were out, and came back by new invitations"
