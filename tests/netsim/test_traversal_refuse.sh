#!/usr/bin/env bash
# "A node can refuse introductions from keys it does not know" (issue 7), with real nodes on netsim:
#
#     A (a) --- nat1 ---+                      +--- nat2 --- B (b), introductions = known
#     C (c) --- nat3 ---+------ internet ------+
#                                |
#           pub: rendezvous R1 (203.0.113.10:7807) and R2 (203.0.113.11:7807)
#
# B runs with --introductions known and has A's key aliased (`konce alias A_KEY alice` on B); it
# has never talked to C.  C runs `konce connect B_KEY`: R1 introduces C to B, B refuses the INTRO
# (INTRO_REFUSE), R1 closes the pair and tells C (INTRO_FAIL DECLINED), and C's connect must fail
# at once (well before the 6 s connect timeout) with the distinct "introduction refused" error, not
# as unreachable.  A then connects by key, pings and sends: an aliased key is accepted.  The
# counters on all three sides (konce status --json .traversal) must show the refusal.  B then
# reaches C by key itself.  After B restarts (same data directory) the handshake its presence store
# recorded for that session does not make C known (issue 15: one handshake must not make a key
# known for ever): C's connect is refused again, and accepted once B gives C a petname.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"

run=ktr$$
KRUN=$run
topo=$KTMP/refuse.topo
printf 'internet\nrouter nat1 preset=port-restricted-cone\nrouter nat2 preset=port-restricted-cone\nrouter nat3 preset=full-cone\nhost a behind nat1\nhost b behind nat2\nhost c behind nat3\nhost pub addr=203.0.113.10,203.0.113.11\n' >"$topo"
kup "$topo" "$run"

kstart "$run" pub R1 203.0.113.10:7807 --rendezvous yes
kstart "$run" pub R2 203.0.113.11:7807 --rendezvous yes
kr1=$(kfield "$run" R1 "public key") kr2=$(kfield "$run" R2 "public key")
RDV=(--rendezvous-peer "$kr1@203.0.113.10:7807" --rendezvous-peer "$kr2@203.0.113.11:7807")
kstart "$run" a A "$(kaddr "$run" a):7807" "${RDV[@]}"
kstart "$run" b B "$(kaddr "$run" b):7807" --introductions known "${RDV[@]}"
kstart "$run" c C "$(kaddr "$run" c):7807" "${RDV[@]}"
ka=$(kfield "$run" A "public key") kb=$(kfield "$run" B "public key") kc=$(kfield "$run" C "public key")
for h in a:A b:B c:C; do kwaitreg "$run" "${h%%:*}" "${h##*:}"; done
out=$(kcli "$run" b B status --json) || fail "status on B failed"
check "B reports introductions = known" jqt "$out" '.traversal.introductions == "known"'
kcli "$run" b B alias "$ka" alice >/dev/null || fail "konce alias on B failed"

# C, a stranger to B: refused, quickly, with a reason of its own
t0=$(date +%s%N)
out=$(kcli "$run" c C connect "$kb" 2>&1) && fail "C's connect to B succeeded: $out"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "     C: $out"
check "C's connect fails with the introduction-refused reason" has "$out" "introduction refused"
check "C's connect fails fast ($ms ms, the connect timeout is 6000 ms)" [ "$ms" -lt 4000 ]
out=$(kcli "$run" c C send "$kb" "let me in" 2>&1) && fail "C's send to B succeeded: $out"
check "C's send fails the same way (errno EACCES): $out" has "$out" 'introduction refused.*\(EACCES\)'
check "B never logged a message from C" bash -c "! grep -q 'message from $kc' '$KTMP/$run.B.err'"
out=$(kcli "$run" b B status --json) || fail "status on B failed"
check "B counted the refused introductions ($(jq -c .traversal.intros_refused <<<"$out"))" jqt "$out" '.traversal.intros_refused >= 2'
out=$(kcli "$run" b B peers --json) || fail "peers on B failed"
check "B has no session with C" jqt "$out" "[.peers[] | select(.public_key == \"$kc\" and .state == \"up\")] | length == 0"
out=$(kcli "$run" c C status --json) || fail "status on C failed"
check "C counted the declined introductions ($(jq -c .traversal.intros_declined <<<"$out"))" jqt "$out" '.traversal.intros_declined >= 2'
out=$(kcli "$run" pub R1 status --json) || fail "status on R1 failed"
check "R1 forwarded the refusals ($(jq -c .traversal.rendezvous_service.intro_declined <<<"$out"))" \
	jqt "$out" '.traversal.rendezvous_service.intro_declined >= 2'

# A, aliased on B: accepted
out=$(kcli "$run" a A connect --json "$kb") || fail "A's connect to B failed: $out"
check "A (aliased on B) connects by key" jqt "$out" ".ok == true and .public_key == \"$kb\""
out=$(kcli "$run" a A ping --json -c 3 -i 0.2 -W 3 "$kb") || fail "A's ping failed: $out"
check "3 of 3 pings answered" jqt "$out" '.sent == 3 and .received == 3'
out=$(kcli "$run" a A send --json "$kb" "hello from alice") || fail "A's send failed: $out"
check "A's send is answered" jqt "$out" '.ok == true and .outcome == "replied"'
check "B logged A's message" grep -q "message from $ka: hello from alice" "$KTMP/$run.B.err"

# B itself may still reach C: its own request makes C known to it for this introduction
out=$(kcli "$run" b B ping --json -c 1 -W 3 "$kc") || fail "B's ping to C failed: $out"
check "B (known-only) can still reach C by asking itself" jqt "$out" '.received == 1'

# The session B made with C by key (through R1, at a virtual address) is a handshake the presence
# store keeps; after B restarts on the same data directory it no longer makes C known: only a
# petname (or B asking for C itself) does.  C is restarted too, so that its connect is a new
# introduction and not its stale session.
kstop "$run" B
kstop "$run" C
kstart "$run" b B "$(kaddr "$run" b):7807" --introductions known "${RDV[@]}"
kstart "$run" c C "$(kaddr "$run" c):7807" "${RDV[@]}"
for h in b:B c:C; do kwaitreg "$run" "${h%%:*}" "${h##*:}"; done
out=$(kcli "$run" b B peers --json) || fail "peers on B failed"
echo "     B's record of C after the restart: $(jq -c ".peers[] | select(.public_key == \"$kc\")" <<<"$out")"
check "B's store kept the handshake with C, and no address (neither virtual nor the punched mapping)" \
	jqt "$out" "[.peers[] | select(.public_key == \"$kc\" and .handshakes >= 1 and .petname == null and
	    .address == null)] | length == 1"
out=$(kcli "$run" c C connect "$kb" 2>&1) && fail "C's connect to B after B's restart succeeded: a past handshake made C known: $out"
check "C's connect after B's restart is refused (a past handshake is not a petname)" has "$out" "introduction refused"
out=$(kcli "$run" b B status --json) || fail "status on B failed"
check "B refused C since its restart ($(jq -c .traversal.intros_refused <<<"$out"))" jqt "$out" '.traversal.intros_refused >= 1'
kcli "$run" b B alias "$kc" carol >/dev/null || fail "konce alias on B failed"
out=$(kcli "$run" c C connect --json "$kb" 2>&1) || fail "C's connect to B once aliased failed: $out"
check "C, aliased on B, connects by key" jqt "$out" ".ok == true and .public_key == \"$kb\""
out=$(kcli "$run" c C send --json "$kb" "hello again") || fail "C's send failed: $out"
check "C's send is answered" jqt "$out" '.ok == true and .outcome == "replied"'

for n in A B C R1 R2; do kstop "$run" "$n"; done
echo "ok   every node exits 0 on SIGTERM"
