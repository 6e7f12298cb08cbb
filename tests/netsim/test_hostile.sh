#!/usr/bin/env bash
# Hostile peer (issue 14): a real konce daemon built with ASan and UBSan keeps serving honest
# peers while one attacker host runs tests/netsim/hostile.c against it.  On netsim:
#
#     A (a) --- nat1 (port-restricted) ---+
#     B (b) --- nat2 (full-cone) ---------+---- internet ---- pub: D, the ASan daemon (203.0.113.10,
#                                         |                        256 sessions, 16 per source)
#                                att: the attacker (203.0.113.66)
#
# The attacker, for ATTACK_S seconds: junk (1-byte INITIATEs, forged HELLOs and INITIATEs, random
# bytes) at JUNK_PPS; up to 64 sessions at once, each with a fresh identity and paying the proof of
# work D demands; on each, every 20 ms in turn, the first fragment of a 16 MiB message that never
# finishes, an 8 KiB ECHO request whose answer it never reads (no credit), a packet of 390
# MESSAGE frames, and a PING.  Meanwhile A, connected before the attack, sends a message and pings
# D in rounds, and B dials D for the first time in the middle of it.  Asserted:
#   - every honest send is answered (replied) and every ping gets its reply, before and during the
#     attack; B's new handshake completes and its message is answered;
#   - D keeps at most 16 of the attacker's sessions (its per-source cap refused the rest: the
#     attacker's handshakes beyond it fail, D's status counts them in init_source_full, and D's
#     live sessions never exceed 16 + A and B);
#   - back-pressure engages under the MESSAGE flood (D's status: msg_events_held > 0, and no event
#     is dropped), and D's message memory, sampled through the attack (status .memory), is charged
#     by the attacker's fragments yet stays within its budgets;
#   - the attack really ran (sessions established, fragments, echoes and floods sent);
#   - D is alive, exits 0 on SIGTERM (LeakSanitizer runs then), and its log has no ASan, LSan or
#     UBSan report.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"

HOSTILE=${NETSIM_TOOLS:-$TOP/build/tests/netsim}/hostile
[ -x "$HOSTILE" ] || { echo "FAIL: no hostile at $HOSTILE (make tests)"; exit 1; }
KASAN=${KONCE_ASAN_BIN:-$TOP/build-asan/konce}
[[ $KASAN == /* ]] || KASAN=$(pwd)/$KASAN
[ -x "$KASAN" ] || { echo "FAIL: no ASan konce at $KASAN (make asan-konce)"; exit 1; }
ATTACK_S=${ATTACK_S:-20}
JUNK_PPS=${JUNK_PPS:-3000}
MAX_SESSIONS=256
PER_SOURCE=16

run=kho$$
KRUN=$run
topo=$KTMP/hostile.topo
printf 'internet\nrouter nat1 preset=port-restricted-cone\nrouter nat2 preset=full-cone\nhost a behind nat1\nhost b behind nat2\nhost pub addr=203.0.113.10\nhost att addr=203.0.113.66\n' >"$topo"
kup "$topo" "$run"

# halt on the first report; LeakSanitizer runs when D exits
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	K=$KASAN kstart "$run" pub D 203.0.113.10:7807 --max-sessions $MAX_SESSIONS --max-per-source $PER_SOURCE
kd=$(kfield "$run" D "public key")
aip=$(kaddr "$run" a) bip=$(kaddr "$run" b)
kstart "$run" a A "$aip:7807"

status() { kcli "$run" pub D status --json; }
# one honest round from NODE on HOST: a message answered, and one echo
round() {
	local out
	RERR=
	out=$(kcli "$run" "$1" "$2" send --json -W 10 "$kd" "round $3" 2>"$KTMP/round.err") ||
		{ RERR="send failed: $out $(cat "$KTMP/round.err")"; return 1; }
	jqt "$out" '.ok == true and .outcome == "replied"' || { RERR="no reply: $out"; return 1; }
	out=$(kcli "$run" "$1" "$2" ping -c 1 -W 5 "$kd" 2>&1) || { RERR="ping failed: $out"; return 1; }
}

out=$(kcli "$run" a A connect --json "$kd@203.0.113.10:7807") || fail "A could not connect to D: $out"
for i in 1 2 3; do round a A "base$i" || fail "honest round $i before the attack failed: $RERR"; done
echo "     D before the attack: $(status | jq -c '.counters | {sessions_live, hello_rx, initiate_rx, data_rx}')"

"$NETSIM" exec --name "$run" att -- "$HOSTILE" --target "$kd@203.0.113.10:7807" --src 203.0.113.66 \
	--seconds "$ATTACK_S" --sessions 64 --junk-pps "$JUNK_PPS" >"$KTMP/hostile.json" 2>"$KTMP/hostile.err" &
NPID[hostile]=$!
t0=$(date +%s)
sleep 2
i=0 failed=0 maxlive=0 b_done=0 maxreasm=0 maxsend=0 overbudget=0
while [ $(($(date +%s) - t0)) -lt $((ATTACK_S - 1)) ]; do
	i=$((i + 1))
	if ! round a A "attack$i"; then
		failed=$((failed + 1))
		echo "     round $i under attack failed: $RERR"
	fi
	if [ $b_done = 0 ] && [ $(($(date +%s) - t0)) -ge $((ATTACK_S / 2)) ]; then
		# a peer D has never seen dials it in the middle of the attack
		kstart "$run" b B "$bip:7807"
		out=$(kcli "$run" b B connect --json "$kd@203.0.113.10:7807") || fail "B could not connect to D under attack: $out"
		round b B "first" || fail "B's first round under attack failed: $RERR"
		b_done=1
	fi
	read -r live reasm rbudget sendq sbudget < <(status | jq -r '[.counters.sessions_live,
		.memory.reassembly.used, .memory.reassembly.budget, .memory.send_queues.used,
		.memory.send_queues.budget] | @tsv')
	if [ "$live" -gt "$maxlive" ]; then maxlive=$live; fi
	if [ "$reasm" -gt "$maxreasm" ]; then maxreasm=$reasm; fi
	if [ "$sendq" -gt "$maxsend" ]; then maxsend=$sendq; fi
	if [ "$reasm" -gt "$rbudget" ] || [ "$sendq" -gt "$sbudget" ]; then overbudget=$((overbudget + 1)); fi
done
wait "${NPID[hostile]}" || fail "hostile failed: $(cat "$KTMP/hostile.err")"
unset "NPID[hostile]"
att=$(cat "$KTMP/hostile.json")
st=$(status) || fail "D does not answer after the attack"
cnt=$(jq -c '.counters | {sessions_live, sessions_opened, hello_rx, initiate_rx, accept_tx, data_rx, data_auth_fail, pow_bits, input_shed, init_source_full, init_full, sessions_evicted, msg_events_held, ring_full_events}' <<<"$st")
echo "     attacker: $att"
echo "     D after the attack: $cnt; most sessions live $maxlive"
echo "     D's message memory at most: reassembly $maxreasm of $rbudget bytes, send queues $maxsend of $sbudget bytes"

check "the attack ran: $(jq .established <<<"$att") sessions, $(jq .fragments <<<"$att") fragments, $(jq .echo_requests <<<"$att") echo requests, $(jq .message_floods <<<"$att") floods, $(jq .junk <<<"$att") junk" \
	jqt "$att" '.established >= 16 and .fragments > 0 and .echo_requests > 0 and .message_floods > 0 and .junk > 1000'
check "honest rounds ran under the attack ($i, at least 5 wanted)" [ "$i" -ge 5 ]
check "every honest round under the attack succeeded ($failed failed)" [ "$failed" = 0 ]
check "B connected and was answered in the middle of the attack" [ "$b_done" = 1 ]
check "D refused the attacker's sessions beyond its per-source cap ($(jq .established <<<"$att") kept, $(jq .handshakes_failed <<<"$att") refused)" \
	jqt "$att" ".established <= $PER_SOURCE and .handshakes_failed > 0"
check "D's status counts the refusals of its per-source cap (init_source_full $(jq .counters.init_source_full <<<"$st"))" \
	jqt "$st" '.counters.init_source_full > 0'
check "back-pressure held the MESSAGE flood (msg_events_held $(jq .counters.msg_events_held <<<"$st"), no event dropped)" \
	jqt "$st" '.counters.msg_events_held > 0 and .counters.ring_full_events == 0'
# (the echoes' answers do not pile up: the attacker's credit runs out, so the peer refuses them and
# they fail, as they must; the send-queue peak is printed above, the budget checked below)
check "the attacker's fragments charged D's reassembly memory ($maxreasm bytes at most)" [ "$maxreasm" -gt 0 ]
check "D's message memory stayed within its budgets in every sample ($overbudget over)" [ "$overbudget" = 0 ]
check "D held at most the cap plus A and B ($maxlive sessions at most)" [ "$maxlive" -le $((PER_SOURCE + 2)) ]
for n in A B; do kstop "$run" "$n"; done
kill -0 "${NPID[$run.D]}" 2>/dev/null || fail "D died during the attack"
kstop "$run" D
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$KTMP/$run.D.err"; then
	grep -E -A 20 'AddressSanitizer|LeakSanitizer|runtime error:' "$KTMP/$run.D.err" | head -n 40
	fail "D's log has a sanitizer report"
fi
echo "ok   D (ASan + UBSan) served A and B through the attack and exited 0 with no sanitizer report"
