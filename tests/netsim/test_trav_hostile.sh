#!/usr/bin/env bash
# Traversal under attack: a registered attacker (tests/netsim/travhostile.c) against two honest
# nodes mid-transfer.  On netsim:
#
#     A (a, public 203.0.113.21) ----------+
#     B (b) --- nat2 (port-restricted) ----+---- internet ---- pub: R1, R2 (rendezvous, 203.0.113.10/.11)
#     C (c, public 203.0.113.31) ----------+
#         x: the attacker (identities on 203.0.113.64 to .71, forged PUNCH alone from .72)
#         v: the victim (203.0.113.99, counts UDP)
#
# A and B register with R1 and R2 and go direct.  Then, for ATTACK_S seconds, the attacker runs
# at once (the sim's tests/sim/test_traversal_hostile.c, on real daemons):
#   - hijack (finding 1): every 20 ms a PUNCH probe and a PUNCH ack naming B, sent to A from .72,
#     and naming A, sent to B's NAT mapping (learned from B's probes of the attacker, whose NAT
#     then lets the attacker's socket through) from the socket B probed; the intro id alternates
#     between a random one and that of an introduction of the attacker's own identities to that
#     node, MAC'd with its secret.  Every probe of A or B that reaches the attacker (HELLO copies,
#     and PUNCH: half the identities register so that their pairs start relay first, whose
#     probes are PUNCH) is echoed as the other honest node's ack, with the probe's intro id and a
#     MAC made with the secret of that introduction, which the attacker holds as the other side
#     of it; only the secret of the A-B introduction, which it never sees, would make it count;
#   - reflection: SESSIONS sessions with R1 under fresh identities, spread over eight addresses
#     (the rendezvous charges new registrations to their source: 8 at once per address), each
#     registered with the victim's addresses as its claimed candidates, asking every 500 ms for
#     an introduction to A and to B until it got one: each introduction tells them to probe the
#     victim;
#   - table filling: those identities are strangers to A and B, in two waves of 16 (the stranger
#     pool's size) WAVE_S apart.  They never answer a handshake, so A's and B's dials to them fail
#     and their entries lose the session that protected them; the second wave then evicts them.
# Meanwhile A sends B a 4 MiB file and messages, and pings it.  Asserted:
#   - the attack ran (all SESSIONS identities registered, each introduced to A and to B, more
#     than the pool holds; forged PUNCHes sent to A and to B's mapping);
#   - A and B refused the forged PUNCHes (konce path: security.forged counts PUNCHes naming the
#     peer refused for their key, intro id or MAC): A's count for B covers every forged probe, ack
#     and echo sent to A naming B, B's count for A every one sent to B naming A;
#   - probes of A and B reached the attacker in both forms (HELLO copies and PUNCH) and were
#     echoed; every probe and ack that reached the attacker belongs to one of its identities'
#     introductions: none answers a forged PUNCH (the forging socket received nothing at all),
#     nothing learned from an unauthenticated packet is probed;
#   - A's path to B and B's to A are never the attacker's address (sampled through the attack),
#     and end on the addresses they verified before the attack, direct, with no move undone;
#   - the bytes that reached the victim stay within the claimed-target budget: each stranger's
#     traversal entry sends its claimed candidates at most KONCE_PUNCH_CLAIMED_BUDGET (6) PUNCH
#     probes of 78 bytes, one more per 10 s (nat/punch.h), so at most E x (6 + ATTACK_S / 10 + 1)
#     PUNCH probes for the E stranger entries A and B made (in their pools or evicted); nothing
#     else reaches it; and fewer bytes than the attacker sent the rendezvous;
#   - every honest send is answered, the file included, and every ping;
#   - the strangers stayed in their pool (konce status: traversal.peer_table): A holds at most
#     stranger_capacity of them beside its solicited entry for B; B, to which A and the first
#     wave are all strangers (17), holds exactly stranger_capacity and refused the 17th
#     (peers_full); both evicted strangers without a session (strangers_evicted), and every
#     stranger introduced beyond the pool was refused or evicted one; A's entry for B (solicited)
#     and B's for A (a stranger's, with a session) stayed;
#   - after the flood, C, a key new to B, reaches B: B evicts a dead stranger for it.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"

TRAVHOSTILE=${NETSIM_TOOLS:-$TOP/build/tests/netsim}/travhostile
[ -x "$TRAVHOSTILE" ] || { echo "FAIL: no travhostile at $TRAVHOSTILE (make tests)"; exit 1; }
ATTACK_S=${ATTACK_S:-15}
WAVE=16 SESSIONS=32 WAVE_S=8
PUNCH_BYTES=78 CLAIMED_BUDGET=6
XS=203.0.113.64,203.0.113.65,203.0.113.66,203.0.113.67,203.0.113.68,203.0.113.69,203.0.113.70,203.0.113.71
XH=203.0.113.72 XRE='^203\.0\.113\.(6[4-9]|7[0-2]):'

run=kth$$
KRUN=$run
topo=$KTMP/travhostile.topo
printf 'internet\nrouter nat2 preset=port-restricted-cone\nhost a addr=203.0.113.21\nhost b behind nat2\nhost c addr=203.0.113.31\nhost pub addr=203.0.113.10,203.0.113.11\nhost x addr=%s,%s\nhost v addr=203.0.113.99\n' "$XS" "$XH" >"$topo"
kup "$topo" "$run"

# the victim counts every UDP datagram that reaches it (packets and bytes, IP headers included),
# and apart those that are not PUNCH probes by their size.  A sender's segmentation offload
# (konce's UDP_SEGMENT batches, node/io/udp.c) carries several equal datagrams to one address in
# one packet, which the counter sees whole, with one IPv4 and one UDP header: PUNCH-sized is a
# UDP payload of a whole number of probes, and the probes are the payload bytes over 78.
punch_lens=$(seq -s, $((PUNCH_BYTES + 8)) "$PUNCH_BYTES" $((64 * PUNCH_BYTES + 8)))
"$NETSIM" exec --name "$run" v -- nft -f - <<EOF
table inet vcount {
	chain in {
		type filter hook input priority 0;
		meta l4proto udp counter
		udp length != { $punch_lens } counter
	}
}
EOF
# victim_count packets|bytes: [all UDP, not PUNCH-sized]
victim_count() {
	"$NETSIM" exec --name "$run" v -- nft -j list table inet vcount |
		jq -c "[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.$1]"
}

kstart "$run" pub R1 203.0.113.10:7807 --rendezvous yes
kstart "$run" pub R2 203.0.113.11:7807 --rendezvous yes
kr1=$(kfield "$run" R1 "public key") kr2=$(kfield "$run" R2 "public key")
rdvs=(--rendezvous-peer "$kr1@203.0.113.10:7807" --rendezvous-peer "$kr2@203.0.113.11:7807")
kstart "$run" a A 203.0.113.21:7807 "${rdvs[@]}"
bip=$(kaddr "$run" b)
kstart "$run" b B "$bip:7807" "${rdvs[@]}"
kstart "$run" c C 203.0.113.31:7807 "${rdvs[@]}"
ka=$(kfield "$run" A "public key") kb=$(kfield "$run" B "public key")
for n in a:A b:B c:C; do
	for _ in $(seq 100); do
		out=$(kcli "$run" "${n%:*}" "${n#*:}" netcheck --json 2>/dev/null) &&
			jqt "$out" '.registered and ([.rendezvous[] | select(.reflexive != null)] | length == 2)' && break
		sleep 0.1
	done
	check "${n#*:} registered with both rendezvous" jqt "$out" '.registered'
done

out=$(kcli "$run" a A connect --json "$kb") || fail "A could not connect to B: $out"
for _ in $(seq 50); do
	out=$(kcli "$run" a A path --json "$kb") || fail "path failed"
	outb=$(kcli "$run" b B path --json "$ka") || fail "B's path failed"
	jqt "$out" '.state == "direct"' && jqt "$outb" '.state == "direct"' && break
	sleep 0.1
done
check "A and B went direct before the attack" jqt "$out" '.state == "direct" and .path != null'
check "B went direct to A before the attack" jqt "$outb" '.state == "direct" and .path != null'
path0=$(jq -r .path <<<"$out") pathb0=$(jq -r .path <<<"$outb")
echo "     A's path to B: $path0, B's to A: $pathb0"
v0=$(victim_count bytes) vp0=$(victim_count packets)

"$NETSIM" exec --name "$run" x -- "$TRAVHOSTILE" --rdv "$kr1@203.0.113.10:7807" --src "$XS" --hijack-src "$XH" \
	--victim 203.0.113.99:7001 --targets "$ka,$kb" --hijack "$kb@203.0.113.21:7807" \
	--seconds "$ATTACK_S" --sessions "$SESSIONS" --wave "$WAVE" --wave-s "$WAVE_S" >"$KTMP/att.json" 2>"$KTMP/att.err" &
NPID[att]=$!
t0=$(date +%s)
sleep 2
head -c $((4 << 20)) /dev/urandom >"$KTMP/file.bin"
out=$(kcli "$run" a A send --json -W 30 --file "$KTMP/file.bin" "$kb") || fail "the file send failed: $out"
check "the 4 MiB file from A to B was answered under the attack" jqt "$out" '.ok == true and .outcome == "replied"'
i=0 failed=0 moved=0
while [ $(($(date +%s) - t0)) -lt $((ATTACK_S - 1)) ]; do
	i=$((i + 1))
	out=$(kcli "$run" a A send --json -W 10 "$kb" "round $i" 2>&1) || out="{\"error\": \"$out\"}"
	jqt "$out" '.ok == true and .outcome == "replied"' || { failed=$((failed + 1)); echo "     round $i failed: $out"; }
	out=$(kcli "$run" a A ping --json -c 1 -W 5 "$kb" 2>&1) || out="{}"
	jqt "$out" '.received == 1' || { failed=$((failed + 1)); echo "     ping $i failed: $out"; }
	out=$(kcli "$run" a A path --json "$kb") || fail "path failed"
	has "$(jq -r '.path // ""' <<<"$out")" "$XRE" && { moved=$((moved + 1)); echo "     A's path moved to the attacker: $out"; }
	out=$(kcli "$run" b B path --json "$ka") || fail "B's path failed"
	has "$(jq -r '.path // ""' <<<"$out")" "$XRE" && { moved=$((moved + 1)); echo "     B's path moved to the attacker: $out"; }
	sleep 0.3
done
wait "${NPID[att]}" || fail "travhostile failed: $(cat "$KTMP/att.err")"
unset "NPID[att]"
att=$(cat "$KTMP/att.json")
vc=$(victim_count bytes) vp=$(victim_count packets)
vb=$(($(jq '.[0]' <<<"$vc") - $(jq '.[0]' <<<"$v0"))) vn=$(($(jq '.[0]' <<<"$vp") - $(jq '.[0]' <<<"$vp0")))
vother=$(($(jq '.[1]' <<<"$vp") - $(jq '.[1]' <<<"$vp0")))
vprobes=$(((vb - 28 * vn) / PUNCH_BYTES)) # IPv4 and UDP headers: 28 bytes a packet
trace=$(kcli "$run" a A path --json "$kb") || fail "path failed"
traceb=$(kcli "$run" b B path --json "$ka") || fail "B's path to A failed"
echo "     attacker: $att"
echo "     A's trace of B: $(jq -c '{state, path, security, liveness}' <<<"$trace")"
echo "     B's trace of A: $(jq -c '{state, path, security, liveness}' <<<"$traceb")"
echo "     the victim got $vb bytes in $vn packets ($vprobes PUNCH probes), $vother not PUNCH-sized"

sa=$(kcli "$run" a A status --json) || fail "A's status failed"
sb=$(kcli "$run" b B status --json) || fail "B's status failed"
echo "     A's peer table: $(jq -c '.traversal | {peer_table, peers_full, strangers_evicted, probes_refused}' <<<"$sa")"
echo "     B's peer table: $(jq -c '.traversal | {peer_table, peers_full, strangers_evicted, probes_refused}' <<<"$sb")"
echo "     R1: $(kcli "$run" pub R1 status --json | jq -c '.traversal.rendezvous_service')"

check "the attack ran: $(jq .established <<<"$att") sessions, $(jq .intro_requests <<<"$att") introduction requests, $(jq .forged_probes <<<"$att") forged PUNCH pairs ($(jq .forged_own_id <<<"$att") with an introduction's id and MAC)" \
	jqt "$att" '.established >= 1 and .intro_requests > 0 and .forged_probes > 100 and .forged_own_id > 50'
check "all $SESSIONS attacker identities registered, from $(jq .sources <<<"$att") addresses ($(jq .registered <<<"$att"))" \
	jqt "$att" ".sessions == $SESSIONS and .registered == $SESSIONS and .sources == 8"
check "more identities were introduced to A and to B than their stranger pools hold ($(jq -c .intro_keys <<<"$att"))" \
	jqt "$att" ".intro_keys | .[0] > $WAVE and .[1] > $WAVE"
check "the attacker learned B's NAT mapping from its probes and forged PUNCHes at it ($(jq -c .learned[1] <<<"$att"))" \
	jqt "$att" '.learned[1] != null and .named[1] > .echoes_to[1]'
check "probes of A and B reached the attacker ($(jq .hello_rx <<<"$att") HELLO copies, $(jq .punch_rx <<<"$att") PUNCH) and it echoed them as the other's acks ($(jq .echoed <<<"$att"), $(jq .echoed_keyed <<<"$att") with a real introduction's MAC)" \
	jqt "$att" '.hello_rx > 0 and .punch_rx > 0 and .echoed_keyed > 0 and (.echoes_to | .[0] > 0 and .[1] > 0)'
# every PUNCH naming B that reached A is refused (the forged ones, from .72, and the echoes of A's
# probes); 2% of them may be lost on the way (none were in the runs so far), far fewer than the
# echoes among them; the same for PUNCHes naming A that reached B
for n in 0:A:B:trace 1:B:A:traceb; do
	IFS=: read -r k me peer var <<<"$n"
	fsent=$(jq ".named[$k]" <<<"$att") echoes=$(jq ".echoes_to[$k]" <<<"$att") tr=${!var}
	check "$me refused the forged and echoed PUNCHes naming $peer: $(jq .security.forged <<<"$tr") refused, $fsent sent ($echoes echoes of $me's probes)" \
		jqt "$tr" ".security.forged >= $fsent - $fsent / 50 and .security.forged - ($fsent - $echoes) > 0"
done
check "every probe and ack that reached the attacker was one of its own introductions' ($(jq .probes_ours <<<"$att"); $(jq .foreign <<<"$att") foreign, $(jq .acks_rx <<<"$att") acks): nothing answered a forged PUNCH" \
	jqt "$att" '.probes_ours > 0 and .foreign == 0 and .acks_rx == 0 and .pending_overflow == 0'
check "the socket that sent only forged PUNCHes received nothing ($(jq .hijack_rx <<<"$att") datagrams)" \
	jqt "$att" '.hijack_rx == 0'
check "honest rounds ran under the attack ($i, at least 5 wanted)" [ "$i" -ge 5 ]
check "every honest send and ping under the attack was answered ($failed failed)" [ "$failed" = 0 ]
check "A's path to B and B's to A were never the attacker's address ($moved of $((2 * i)) samples)" [ "$moved" = 0 ]
check "A's path to B ends where it was verified before the attack, direct, no move undone" \
	jqt "$trace" ".state == \"direct\" and .path == \"$path0\" and .liveness.moves_undone == 0"
check "B's path to A ends where it was verified before the attack, direct, no move undone" \
	jqt "$traceb" ".state == \"direct\" and .path == \"$pathb0\" and .liveness.moves_undone == 0"
check "A's strangers stayed in their pool: $(jq -c .traversal.peer_table <<<"$sa")" \
	jqt "$sa" '.traversal.peer_table | .strangers >= 1 and .strangers <= .stranger_capacity and .solicited >= 1'
# B asked for no key: A (whose introduction A asked for) and the first wave's 16 identities are
# all strangers to it, 17 for a pool of 16, introduced within a second or two, while every entry
# still has its dial running (a session, unevictable): the 17th is refused (peers_full)
check "B's strangers filled their pool and no more, the 17th refused: $(jq -c '.traversal | {peer_table, peers_full}' <<<"$sb")" \
	jqt "$sb" '.traversal | .peers_full >= 1 and (.peer_table | .strangers == .stranger_capacity and .used == .strangers)'
# the second wave came after the first's dials failed: each of its identities evicted a stranger
# without a session; every stranger beyond the pool was refused or evicted one
for n in 0:A:sa:0 1:B:sb:1; do
	IFS=: read -r k me var extra <<<"$n"
	st=${!var}
	intro=$(($(jq ".intro_keys[$k]" <<<"$att") + extra))
	check "$me evicted strangers without a session, and refused or evicted one for each stranger beyond its pool's size ($intro introduced): $(jq -c '.traversal | {strangers_evicted, peers_full}' <<<"$st")" \
		jqt "$st" ".traversal | .strangers_evicted > 0 and .strangers_evicted + .peers_full >= $intro - .peer_table.stranger_capacity"
done
check "A's entry for B stayed, solicited, on its verified path" \
	jqt "$trace" ".security.solicited == true and .path == \"$path0\""
check "B's entry for A stayed, a stranger's, direct ($(jq -c '{state, path, solicited: .security.solicited}' <<<"$traceb"))" \
	jqt "$traceb" '.state == "direct" and .security.solicited == false'
# the claimed budget is per traversal entry: every stranger's entry A and B made (those still in
# the pool and those evicted from it, whose later introduction starts a fresh entry)
entries=$(jq -s 'map(.traversal | .peer_table.strangers + .strangers_evicted) | add' <<<"$sa$sb")
probes=$((entries * (CLAIMED_BUDGET + ATTACK_S / 10 + 1)))
budget=$((probes * PUNCH_BYTES + 28 * vn))
check "every packet that reached the victim was PUNCH probes by its size ($vn packets, $vother other)" [ "$vother" = 0 ]
check "the victim got $vprobes PUNCH probes, within the budget of $probes ($entries stranger entries)" [ "$vprobes" -le "$probes" ]
check "the victim got $vb bytes, within the budget of $budget ($probes probes, and the headers of $vn packets)" [ "$vb" -le "$budget" ]
check "the victim got fewer bytes than the attacker sent the rendezvous ($(jq .wire_bytes <<<"$att"); message bodies $(jq .spent_bytes <<<"$att"))" \
	[ "$vb" -le "$(jq .wire_bytes <<<"$att")" ]

# after the flood: C, a key B never saw, reaches B, whose pool is full of strangers whose dials
# failed: one of them makes room
ev0=$(jq .traversal.strangers_evicted <<<"$sb")
out=$(kcli "$run" c C send --json -W 20 "$kb" "after the flood") || fail "C's send to B failed: $out"
check "C, new to B after the flood, was answered" jqt "$out" '.ok == true and .outcome == "replied"'
sb=$(kcli "$run" b B status --json) || fail "B's status failed"
check "B evicted a dead stranger for C ($(jq -c '.traversal | {peer_table, strangers_evicted, peers_full}' <<<"$sb"))" \
	jqt "$sb" ".traversal | .strangers_evicted > $ev0 and (.peer_table | .strangers == .stranger_capacity)"
for n in A B C R1 R2; do kstop "$run" "$n"; done
echo "ok   every node exits 0 on SIGTERM"
