#!/usr/bin/env bash
# The netsim matrix of issue 7: every unordered pair (45, same-kind pairs included) of
#
#     public full-cone restricted-cone port-restricted-cone symmetric symmetric-sequential
#     cgnat upnp natpmp
#
# each in its own generated topology (its own run, run in parallel, KONCE_NETSIM_JOBS at a time,
# default 6):
#
#     node A (a) --- nat1 --- internet --- nat2 --- node B (b)        ("public": a or b sits on
#                                |                                      the internet, no router)
#           pub: rendezvous R1 (203.0.113.10:7807) and R2 (203.0.113.11:7807)
#
# exactly as tests/netsim/test_traversal.sh: R1 and R2 run `konce node --rendezvous yes`, A and B
# register with both; A runs `konce connect B_KEY` (the key alone), then `konce ping -c 2` and
# `konce send`; B's log must show the message from A's key.  A is the kind listed first.
#
# The rule asserted, from each preset's mapping (M) and filtering (F) (docs/netsim.md) and what the
# node implements (docs/TRAVERSAL.md: PUNCH probes from the node's socket to host, port-mapped,
# predicted (sequential allocators: the last seen port + 1..16) and reflexive candidates, and
# birthday probing from 256 extra sockets on the random side):
#
#     public               M none (EIM)      F none (EIF)
#     full-cone            EIM               EIF
#     restricted-cone      EIM               address-dependent
#     port-restricted-cone EIM               address+port-dependent (APDF)
#     cgnat                EIM (random port) APDF
#     upnp, natpmp         EIM               APDF, and the node leases its port (port-mapped
#                                            candidate, which passes anything: an EIF port)
#     symmetric            EDM random        APDF
#     symmetric-sequential EDM sequential    APDF
#
#   direct (konce peers says "direct" or "port-mapped") unless ...
#   relayed when both sides have APDF or EDM with no port mapping, and one side maps EDM *random*
#           while the other maps endpoint-dependently too: no side can learn the port the random
#           side's NAT opens toward it.  That is symmetric x symmetric, symmetric x
#           symmetric-sequential.
#   birthday (marked "*" in the grid) when the random side's peer maps EIM but filters by port:
#           port-restricted-cone x symmetric, cgnat x symmetric.  The EIM side probes 256 random
#           ports of the random side's IP, the random side probes the EIM side's address from 256
#           extra sockets (256 fresh mappings); the attempt goes direct when the two sets share a
#           port, ~64% of the time.  The random side's node socket probes the EIM side's
#           reflexive candidate as in every attempt, so its mapping is a 257th member of the set:
#           about 1 attempt in 250 goes direct on it (path_socket 0).  Asserted: connectivity as
#           everywhere, and the path must be consistent with what happened: direct with the random
#           side's verified pair on one of its 257 sockets (path_socket 0..256, as it says which)
#           that carried session datagrams both ways, or relayed
#           after a give-up with all 256 extra sockets opened and every probe sent.  Which of the
#           two is printed (D* / R*) and counted at the end; docs/TRAVERSAL.md has the rate.
#   upnp / natpmp x symmetric are direct only because of the lease (port-mapped).
#   symmetric-sequential x symmetric-sequential is direct: both sides probe the other's predicted
#   ports first, so that the k-th new mappings of both NATs are made for each other (A probes
#   B:b0+k from a0+k, B probes A:a0+k from b0+k).  Every new destination costs a sequential NAT a
#   port, even the other side's host candidate (a private address on another LAN that the NAT
#   translates all the same: udpecho's "who" from p, datagrams to 10.2.0.2:7807 and :7808, "who"
#   again from p + 3), so the host and reflexive candidates come after the window
#   (nat/candidates.h; before, the host probe went first and the pair was relayed).
#
# Relay first (nat/punch.h): for the relayed and birthday pairs the INTRO starts both sides in
# PROBING, so the connect must be answered over the relay before the first attempt gives up; the
# path checks then wait for that attempt's outcome.
#
# Hosts behind one CGNAT (cgnat preset; netsim's cgnat-nested.topo), three more pairs: a home
# port-restricted NAT and a host directly behind the CGNAT; home NATs port-restricted and
# symmetric-sequential behind it; the same with the CGNAT's hairpin off.  Both reflexive addresses
# share the CGNAT's one public address and no host candidate is offered (the default), so the
# INTRO starts both sides on the relay (nat/candidates.h), and only the CGNAT's hairpin can carry
# a direct path.  The CGNAT allocates its ports at random, so the sequential home NAT's mappings
# come out of it endpoint-dependent and random: with two rendezvous that pair is a birthday pair
# (through the hairpin), with one it is relayed.  Where the CGNAT does not hairpin, the pair is
# relayed and `konce path` says the shared address gave no answer.
#
# TRAVERSAL_NRDV=1 (test_traversal_matrix_one_rdv.sh) registers A and B with R1 alone: neither
# knows its mapping, so every pair without a lease starts on the relay, nobody predicts or runs
# birthday probing, and what needs either stays relayed (the pairs with a port-restricted or cgnat
# side against a symmetric one, and both endpoint-dependent); the rest upgrades to direct.
#
# Every pair must connect and exchange messages (100%); the path must be the one above, and
# `konce path --json` on A must agree (verified pair and no give-up, or give-up and relayed
# datagrams).  The first answer (the reply to `konce connect KEY`, the handshake done) must come
# before any attempt gave up and within 4 s: no pair waits for the 4 s give-up.  Its bound is 4
# relay RTTs (A's and B's registration RTTs to R1) plus the start delay the rendezvous chose plus
# 500 ms, and every pair must meet it: a pair past it with six pairs at a time (on a shared 2-core
# machine a daemon can be descheduled for a second) is measured again alone, and alone it must
# meet it.  How many pairs were past it in the parallel run, and the median pair's margin, are
# printed, not checked: they measure the machine (on a slower 2-core VM, 41 of 48 pairs were past
# it with six at a time, the median by 140 ms, and every one of them met it alone).  The
# simulated matrix holds the bound per pair in virtual time.  The grid at
# the end shows the path from A's side (D direct, P port-mapped as B sees it, R relayed), the time
# from `konce connect KEY` to the first reply, and the time from the ask to the verified direct
# pair (`konce path` result_ms), in ms.
#
# The full 45 and the 3 CGNAT pairs are the default (about 45 s with 6 runs at a time on 2 cores).
# TRAVERSAL_MATRIX=quick runs a subset (one pair for each kind of outcome, 10 pairs: see below,
# and the CGNAT pairs) instead of all 45; TRAVERSAL_ONLY=KIND1:KIND2[,...] (short kinds: pub fcone rcone prcone sym symseq
# cgnat upnp natpmp) runs only those pairs.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"

KINDS="public full-cone restricted-cone port-restricted-cone symmetric symmetric-sequential cgnat upnp natpmp"
short() {
	case $1 in
	public) echo pub ;; full-cone) echo fcone ;; restricted-cone) echo rcone ;;
	port-restricted-cone) echo prcone ;; symmetric) echo sym ;; symmetric-sequential) echo symseq ;;
	cgn/* | cgn0/*) echo "${1%%/*}-$(short "${1#*/}")" ;;
	*) echo "$1" ;;
	esac
}
NRDV=${TRAVERSAL_NRDV:-2}
[[ $NRDV =~ ^[12]$ ]] || { echo "FAIL: TRAVERSAL_NRDV must be 1 or 2"; exit 1; }
eim() { case $1 in symmetric | symmetric-sequential) return 1 ;; esac; }
leased() { case $1 in upnp | natpmp) return 0 ;; esac; return 1; }
# expect P1 P2: the node's path (the rule in the header): direct, relayed or birthday
expect() {
	local o
	case "$1 $2" in
	"cgn/port-restricted-cone cgn") echo direct; return ;;
	"cgn/port-restricted-cone cgn/symmetric-sequential") [ "$NRDV" = 2 ] && echo birthday || echo relayed; return ;;
	cgn0/*) echo relayed; return ;;
	esac
	if [ "$NRDV" = 1 ]; then
		# one rendezvous: no mapping known, so no prediction and no birthday probing
		if leased "$1" || leased "$2" || { eim "$1" && eim "$2"; }; then echo direct; return; fi
		for o in "$1 $2" "$2 $1"; do
			case $o in
			"public "* | "full-cone "* | "restricted-cone "*) eim "${o%% *}" && ! eim "${o#* }" && { echo direct; return; } ;;
			esac
		done
		echo relayed
		return
	fi
	for o in "$1 $2" "$2 $1"; do
		case $o in
		"symmetric symmetric" | "symmetric symmetric-sequential") echo relayed; return ;;
		"port-restricted-cone symmetric" | "cgnat symmetric") echo birthday; return ;;
		esac
	done
	echo direct
}
# relay_first P1 P2: the INTRO starts both sides on the relay (punch.h, candidates.h): direct not
# expected, or a mapping unknown (one rendezvous) without a lease, or both behind one public address
relay_first() {
	case $1 in cgn | cgn/* | cgn0/*) return 0 ;; esac
	[ "$(expect "$1" "$2")" != direct ] && return 0
	[ "$NRDV" = 1 ] && ! leased "$1" && ! leased "$2"
}

PAIRS=''
set -f
# shellcheck disable=SC2206
kinds=($KINDS)
set +f
for ((x = 0; x < ${#kinds[@]}; x++)); do
	for ((y = x; y < ${#kinds[@]}; y++)); do
		PAIRS+="${kinds[x]} ${kinds[y]}"$'\n'
	done
done
if [ "${TRAVERSAL_MATRIX:-full}" = quick ]; then
	# one pair per kind of outcome: both EIM, cone vs EDM, APDF vs sequential, the
	# sequential pair, the relayed ones (incl. the birthday pair), port mapping, public, cgnat
	PAIRS=$(grep -xE "public symmetric|full-cone symmetric|restricted-cone symmetric|port-restricted-cone port-restricted-cone|port-restricted-cone symmetric-sequential|port-restricted-cone symmetric|symmetric-sequential symmetric-sequential|symmetric symmetric|cgnat cgnat|symmetric upnp" <<<"$PAIRS")$'\n'
fi
if [ -n "${TRAVERSAL_ONLY:-}" ]; then
	sel=''
	while read -r p1 p2; do
		[ -n "$p1" ] || continue
		case ",$TRAVERSAL_ONLY," in
		*",$(short "$p1"):$(short "$p2"),"* | *",$(short "$p2"):$(short "$p1"),"*) sel+="$p1 $p2"$'\n' ;;
		esac
	done <<<"$PAIRS"
	PAIRS=$sel
fi
# hosts behind one CGNAT (cgnat preset, hairpin on; cgn0: hairpin=off): "cgn/HOME" behind a home
# NAT with preset HOME behind it, "cgn" directly behind it (netsim's cgnat-nested.topo)
SHARED="cgn/port-restricted-cone cgn
cgn/port-restricted-cone cgn/symmetric-sequential
cgn0/port-restricted-cone cgn0/symmetric-sequential"
[ -n "${TRAVERSAL_ONLY:-}" ] || PAIRS+=$'\n'"$SHARED"
PAIRS=$(sed '/^$/d' <<<"$PAIRS")
[ -n "$PAIRS" ] || { echo "FAIL: no pair selected"; exit 1; }

# waitreg RUN HOST NAME: registered with every rendezvous, and the filtering test's fresh mapping
# known (with two rendezvous it refines a sequential NAT's step, candidates.h: an introduction
# before that would carry the step read off the registrations alone)
waitreg() {
	local out
	for _ in $(seq 100); do
		out=$(kcli "$1" "$2" "$3" netcheck --json 2>/dev/null) &&
			jqt "$out" ".registered and ([.rendezvous[] | select(.reflexive != null)] | length == $NRDV) and (.filtering.mapping != null or (.filtering.result | test(\"not measured\")))" && return 0
		sleep 0.1
	done
	fail "node $3 did not register with its $NRDV rendezvous within 10 s: $out"
}
# waitlease RUN HOST NAME PRESET: until the node leased its port over upnp/natpmp (10 s at most)
waitlease() {
	local out
	for _ in $(seq 100); do
		out=$(kcli "$1" "$2" "$3" netcheck --json) && jqt "$out" '.portmap.state == "mapped"' && break
		sleep 0.1
	done
	check "$3 leased its port over $4 ($(jq -c .portmap <<<"$out"))" \
		jqt "$out" ".portmap.state == \"mapped\" and .portmap.protocol == \"$4\""
}

# side TOPO N PRESET: host a (N=1) or b (N=2) behind router natN with PRESET, or on the internet
side() {
	local h
	h=$([ "$2" = 1 ] && echo a || echo b)
	case $3 in
	cgn/* | cgn0/*) printf 'router nat%s behind cgn preset=%s\nhost %s behind nat%s\n' "$2" "${3#*/}" "$h" "$2" >>"$1"; return ;;
	cgn) echo "host $h behind cgn" >>"$1"; return ;;
	esac
	if [ "$3" = public ]; then
		echo "host $h addr=203.0.113.2$2" >>"$1"
	else
		printf 'router nat%s preset=%s\nhost %s behind nat%s\n' "$2" "$3" "$h" "$2" >>"$1"
	fi
}

# bday_traces A_TRACE: sets strace (the random side's trace) and otrace (the EIM side's)
bday_traces() {
	local bt
	bt=$(kcli "$run" b B path --json "$ka") || fail "$name: path on b failed"
	if [ "$p1" = symmetric ]; then strace=$1 otrace=$bt; else strace=$bt otrace=$1; fi
	echo "     random side's trace: $(jq -c '{state, path, path_socket, probes, birthday_sockets, datagrams}' <<<"$strace")"
}
# bday_direct WHEN A_TRACE: a direct birthday path is on an extra socket of the random side
bday_direct() {
	check "$name: $1: A's trace shows a verified pair" jqt "$2" '.state == "direct" and .probes.verified >= 1'
	local where="an extra socket"
	jqt "$strace" '.path_socket == 0' && where="its node socket (the EIM side's random probe hit that mapping)"
	check "$name: $1: the random side's pair is on $where and carried the session both ways" \
		jqt "$strace" '.state == "direct" and .path_socket >= 0 and .path_socket <= 256 and .datagrams.direct_tx > 0 and .datagrams.direct_rx > 0'
	check "$name: $1: the EIM side's pair is on its node socket" jqt "$otrace" '.state == "direct" and .path_socket == 0'
}
# birthday_checks A_TRACE (uses one()'s locals): the path is consistent with what happened
birthday_checks() {
	local strace otrace out
	bday_traces "$1"
	if [ "$path" = direct ]; then
		echo "BIRTHDAY $name direct"
		bday_direct direct "$1"
		# the session came up over the relay (relay first): the birthday pair moved it, and a
		# move with a session stands only once session traffic came over the new pair
		check "$name: direct: the move off the relay was confirmed by session traffic ($(jq -c .liveness <<<"$1"))" \
			jqt "$1" '.liveness.moves_confirmed >= 1 and .liveness.moves_undone == 0'
		return
	fi
	echo "BIRTHDAY $name relayed"
	check "$name: relayed: konce peers on A says so ($path)" [ "$path" = relayed ]
	check "$name: relayed: A's trace shows the give-up and relayed datagrams" \
		jqt "$1" '(.state == "relayed" or .state == "probing") and .probes.giveups >= 1 and .datagrams.relayed_tx > 0 and .datagrams.relayed_rx > 0'
	check "$name: relayed: the random side opened its 256 extra sockets and sent every birthday probe" \
		jqt "$strace" '.birthday_sockets.opened >= 256 and .birthday_sockets.open_failed == 0 and .probes.birthday_not_sent == 0'
	# The upgrade: an attempt that heard nothing from the peer is retried 2 s after its give-up
	# with fresh sets (punch.h).  Wait for the retry's outcome (both sides were introduced again,
	# so A counts a second attempt) and, if it went direct, use the path.
	local opened
	opened=$(kcli "$run" a A status --json | jq .counters.sessions_opened) || fail "$name: status failed"
	for _ in $(seq 150); do
		out=$(kcli "$run" a A path --json "$kb") || fail "$name: path failed"
		jqt "$out" '.probes.attempts >= 2 and (.state == "direct" or .state == "relayed")' && break
		sleep 0.1
	done
	check "$name: the quick retry ran and ended ($(jq -c '{state, attempts: .probes.attempts}' <<<"$out"))" \
		jqt "$out" '.probes.attempts >= 2 and (.state == "direct" or .state == "relayed")'
	if jqt "$out" '.state == "direct"'; then
		echo "BIRTHDAY_RETRY $name direct"
		local sent
		sent=$(kcli "$run" a A send --json "$kb" "after the upgrade from a behind $p1") || fail "$name: send failed: $sent"
		check "$name: upgraded: a send is answered over the direct path" jqt "$sent" '.ok == true and .outcome == "replied"'
		out=$(kcli "$run" a A path --json "$kb") || fail "$name: path failed"
		bday_traces "$out"
		bday_direct upgraded "$out"
		# with a session, a PUNCH-verified move stands only once session traffic came over it
		check "$name: upgraded: the move was confirmed by session traffic over the pair ($(jq -c .liveness <<<"$out"))" \
			jqt "$out" '.liveness.moves_confirmed >= 1 and .liveness.moves_undone == 0'
		out=$(kcli "$run" a A peers --json) || fail "$name: peers failed"
		check "$name: upgraded: konce peers on A says direct" \
			jqt "$out" ".peers[] | select(.public_key == \"$kb\" and .state == \"up\") | .path == \"direct\""
		out=$(kcli "$run" a A status --json) || fail "$name: status failed"
		check "$name: upgraded: no new session on A (the endpoint did not notice the move; $opened opened)" \
			jqt "$out" ".counters.sessions_opened == $opened"
	else
		echo "BIRTHDAY_RETRY $name relayed"
	fi
}

one() {
	local p1=$1 p2=$2 run=km$$_$3 name want states topo aip bip kr1 kr2 ka kb out t0 ms path bpath rdvs rtt bound dms hp
	name=$(short "$p1")-x-$(short "$p2")
	want=$(expect "$p1" "$p2")
	KRUN=$run
	trap kcleanup EXIT
	echo "== $name ($p1 x $p2, $NRDV rendezvous, expect $want$([ "$want" = birthday ] && echo ': direct ~64% per attempt, else relayed'))"
	topo=$KTMP/$name.topo
	echo internet >"$topo"
	case $p1 in
	cgn/* | cgn) echo "router cgn preset=cgnat" >>"$topo" ;;
	cgn0/*) echo "router cgn preset=cgnat hairpin=off" >>"$topo" ;;
	esac
	side "$topo" 1 "$p1"
	side "$topo" 2 "$p2"
	echo "host pub addr=203.0.113.10,203.0.113.11" >>"$topo"
	kup "$topo" "$run"
	aip=$(kaddr "$run" a) bip=$(kaddr "$run" b)
	kstart "$run" pub R1 203.0.113.10:7807 --rendezvous yes
	kr1=$(kfield "$run" R1 "public key")
	rdvs=(--rendezvous-peer "$kr1@203.0.113.10:7807")
	if [ "$NRDV" = 2 ]; then
		kstart "$run" pub R2 203.0.113.11:7807 --rendezvous yes
		kr2=$(kfield "$run" R2 "public key")
		rdvs+=(--rendezvous-peer "$kr2@203.0.113.11:7807")
	fi
	kstart "$run" a A "$aip:7807" "${rdvs[@]}"
	kstart "$run" b B "$bip:7807" "${rdvs[@]}"
	ka=$(kfield "$run" A "public key") kb=$(kfield "$run" B "public key")
	waitreg "$run" a A
	waitreg "$run" b B
	case $p1 in upnp | natpmp) waitlease "$run" a A "$p1" ;; esac
	case $p2 in upnp | natpmp) waitlease "$run" b B "$p2" ;; esac
	case "$p1 $p2" in *upnp* | *natpmp*) sleep 0.5 ;; esac # the lease's REGISTER reaches R1
	# the relay's round trip: A's and B's registration RTTs to the primary
	rtt=0
	for n in a:A b:B; do
		out=$(kcli "$run" "${n%:*}" "${n#*:}" netcheck --json) || fail "$name: netcheck failed"
		rtt=$(jq -n "$rtt + ($(jq '.rendezvous[0].register_rtt_ms // 0' <<<"$out"))")
	done

	t0=$(date +%s%N)
	out=$(kcli "$run" a A connect --json "$kb") || fail "$name: connect by key failed: $out"
	ms=$((($(date +%s%N) - t0) / 1000000))
	check "$name: connect by key alone answers for B's key" jqt "$out" ".ok == true and .public_key == \"$kb\""
	out=$(kcli "$run" a A path --json "$kb") || fail "$name: path failed"
	echo "     A's trace at connect: $(jq -c '{state, delay_ms, probes, datagrams}' <<<"$out")"
	# The first answer (the connect's reply: the handshake done) within the relay's round trips:
	# the introduction (ask, consent, INTRO: 2 relay RTTs), the start delay the rendezvous chose
	# (the handshake of a held pair waits for it), the handshake (2 relay RTTs), plus a margin of
	# 500 ms for the CLI's start and the daemons' scheduling.  Each pair must answer before the 4 s
	# give-up, without one; a pair past the bound is measured again alone at the end.
	bound=$(jq -n "4 * $rtt + ($(jq '.delay_ms // 0' <<<"$out")) + 500 | floor")
	echo "     first answer in $ms ms (bound $bound ms, relay RTT $rtt ms)"
	check "$name: the first answer in $ms ms came before the 4 s give-up" [ "$ms" -lt 4000 ]
	check "$name: no attempt gave up before the first answer" jqt "$out" '.probes.giveups == 0'
	if relay_first "$p1" "$p2"; then
		# direct not known to be possible (punch.h): the INTRO put both sides in PROBING, so the
		# handshake went through the relay while the attempt was still running
		check "$name: connected over the relay before the attempt gave up" \
			jqt "$out" '.state != "punching" and .datagrams.relayed_tx > 0 and .datagrams.relayed_rx > 0'
	fi
	out=$(kcli "$run" a A ping --json -c 2 -i 0.2 -W 3 "$kb") || fail "$name: ping failed: $out"
	check "$name: 2 of 2 pings answered" jqt "$out" '.sent == 2 and .received == 2'
	out=$(kcli "$run" a A send --json "$kb" "hello from a behind $p1") || fail "$name: send failed: $out"
	check "$name: send is answered" jqt "$out" '.ok == true and .outcome == "replied"'
	check "$name: B logged the message from A's key" grep -q "message from $ka: hello from a behind $p1" "$KTMP/$run.B.err"

	if relay_first "$p1" "$p2"; then
		# the checks below are about how the first attempt ended: wait for that (T + 4 s)
		for _ in $(seq 100); do
			out=$(kcli "$run" a A path --json "$kb") || fail "$name: path failed"
			jqt "$out" '.state == "direct" or .probes.giveups >= 1' && break
			sleep 0.1
		done
	fi
	out=$(kcli "$run" a A peers --json) || fail "$name: peers failed"
	path=$(jq -r ".peers[] | select(.public_key == \"$kb\" and .state == \"up\") | .path" <<<"$out")
	out=$(kcli "$run" b B peers --json) || fail "$name: peers on b failed"
	bpath=$(jq -r ".peers[] | select(.public_key == \"$ka\" and .state == \"up\") | .path" <<<"$out")
	echo "     path: A sees $path, B sees $bpath"
	out=$(kcli "$run" a A path --json "$kb") || fail "$name: path failed"
	echo "     A's trace: $(jq -c '{state, path, result_ms, probes, handshake, why_relayed}' <<<"$out")"
	# the time to the direct path: the verified pair's event, from the ask
	dms=$(jq -r 'if .state == "direct" and .result_ms != null then (.result_ms | floor) else "-" end' <<<"$out")
	# "probing" is relayed with an upgrade attempt running (the quick retry 2 s after a give-up
	# that heard nothing from the peer: the check can come that late on a loaded machine)
	case $want in relayed) states='relayed|probing' ;; birthday) states='direct|relayed|probing' ;; *) states=$want ;; esac
	has "$(jq -r .state <<<"$out")" "^($states)\$" ||
		{ echo "     unexpected path: A's and B's full traces"; kcli "$run" a A path "$kb" | sed 's/^/     A: /'; kcli "$run" b B path "$ka" | sed 's/^/     B: /'; }
	if [ "$want" = birthday ]; then
		birthday_checks "$out"
	elif [ "$want" = direct ]; then
		check "$name: konce peers on A shows a direct path to B ($path)" has "$path" '^(direct|port-mapped)$'
		check "$name: the trace shows a verified pair and no give-up" \
			jqt "$out" '.state == "direct" and .probes.verified >= 1 and .probes.giveups == 0 and .path != null'
	else
		check "$name: konce peers on A shows the path to B as relayed ($path)" [ "$path" = relayed ]
		# probing: after a give-up in which no probe from the peer arrived, the punch core tries once
		# more 2 s later (its INTRO may have been lost); traffic stays relayed meanwhile, and the
		# trace's why_relayed waits for that attempt's result
		check "$name: the trace shows the give-up, relayed datagrams and why" \
			jqt "$out" '((.state == "relayed" and .why_relayed != null) or .state == "probing") and .probes.giveups >= 1 and .datagrams.relayed_tx > 0 and .datagrams.relayed_rx > 0'
	fi
	# behind one CGNAT, konce path says what its hairpin did (the give-up's quick retry, which
	# starts afresh, is 2 s away)
	case $p1 in
	cgn0/*)
		# the quick retry 2 s after the give-up starts afresh (hairpin unknown again, state
		# probing) and gives up again 4 s later: a check that lands inside it waits for that
		hp='.hairpin == "no" and (.why_relayed | test("hairpin"))'
		for _ in $(seq 40); do
			jqt "$out" "$hp" && break
			sleep 0.25
			out=$(kcli "$run" a A path --json "$kb") || fail "$name: path failed"
		done
		check "$name: konce path says the shared address gave no answer: hairpin off ($(jq -c .hairpin <<<"$out"))" \
			jqt "$out" "$hp" ;;
	cgn/*) if [ "$(jq -r .state <<<"$out")" = direct ]; then
		check "$name: konce path says the pair runs through the shared address's hairpin" jqt "$out" '.hairpin == "yes"'
	fi ;;
	esac
	# the side that sees the port-mapped candidate used says so
	[ "$bpath" = port-mapped ] && path=port-mapped
	[ -n "${TRAVERSAL_KEEP_LOGS:-}" ] && cp "$KTMP/$run".*.err /tmp/ 2>/dev/null
	for n in A B R1 R2; do
		if [ -n "${NPID[$run.$n]:-}" ]; then kstop "$run" "$n"; fi
	done
	echo "ok   $name: every node exits 0 on SIGTERM"
	echo "ROW $p1 $p2 $path ${ms} $dms $bound"
}

T0=$(date +%s)
jobs_max=${KONCE_NETSIM_JOBS:-6}
pids=() i=0
while read -r p1 p2; do
	i=$((i + 1))
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
	(one "$p1" "$p2" "$i" >"$KTMP/log.$i" 2>&1) &
	pids[i]=$!
done <<<"$PAIRS"

rc=0 nok=0 nall=0 nbd=0 nbt=0 nbr=0 shared='' over=0 slack=() overs=()
declare -A CELL=()
for i in "${!pids[@]}"; do
	nall=$((nall + 1))
	wait "${pids[i]}" || rc=1
	grep -v '^ROW ' "$KTMP/log.$i"
	row=$(grep '^ROW ' "$KTMP/log.$i" | cut -c5- || true)
	read -r p1 p2 <<<"$(sed -n "${i}p" <<<"$PAIRS")"
	mark=$([ "$(expect "$p1" "$p2")" = birthday ] && echo '*' || echo '')
	grep -q '^BIRTHDAY .* direct$' "$KTMP/log.$i" && nbd=$((nbd + 1))
	grep -q '^BIRTHDAY_RETRY .* direct$' "$KTMP/log.$i" && nbr=$((nbr + 1))
	grep -q '^BIRTHDAY ' "$KTMP/log.$i" && nbt=$((nbt + 1))
	if [ -n "$row" ]; then
		nok=$((nok + 1))
		read -r _ _ path ms dms bound <<<"$row"
		slack+=($((ms - bound)))
		[ "$ms" -le "$bound" ] || { over=$((over + 1)) overs+=("$i"); }
		case $path in direct) c=D ;; port-mapped) c=P ;; relayed) c=R ;; *) c="?" ;; esac
		CELL[$p1,$p2]="$c$mark ${ms}/${dms}"
	else
		CELL[$p1,$p2]="FAIL$mark"
		ms=- dms=- bound=-
	fi
	case $p1 in cgn/* | cgn0/*) shared+=$(printf '  %-50s %-8s first answer %5s ms (bound %s ms), direct %s ms' "$p1 x $p2" "${CELL[$p1,$p2]%% *}" "$ms" "$bound" "$dms")$'\n' ;; esac
done
secs=$(($(date +%s) - T0))
echo
echo "$NRDV rendezvous.  Path from A (row) to B (column): D direct, P port-mapped, R relayed; \"first/direct\" ="
echo "ms from connect-by-key to the first reply / from the ask to the verified direct pair (- none)"
echo "(* = birthday pair: direct when the random side's 256 extra sockets meet the EIM side's 256 random"
echo "     ports, ~64% per attempt, else relayed; both are correct outcomes)"
printf '%-8s' ''
for k in $KINDS; do printf '%-13s' "$(short "$k")"; done
echo
for r in $KINDS; do
	printf '%-8s' "$(short "$r")"
	for c in $KINDS; do printf '%-13s' "${CELL[$r,$c]:-}"; done
	echo
done
if [ -n "$shared" ]; then
	echo
	echo "hosts behind one CGNAT (cgn: hairpin on, cgn0: off; /HOME: behind a home NAT):"
	printf '%s' "$shared"
fi
echo
if [ "${#slack[@]}" -gt 0 ]; then
	med=$(printf '%s\n' "${slack[@]}" | sort -n | sed -n "$(((${#slack[@]} + 1) / 2))p")
	echo "first answer past its bound (4 relay RTTs + start delay + 500 ms) with $jobs_max pairs at a time: $over of ${#slack[@]} pairs; median pair $med ms from it (the machine's load: each pair past it is measured again alone)"
fi
# Every pair must answer within its bound.  Six pairs at a time on a 2-core machine, each with
# four daemons, can deschedule a daemon past the 500 ms margin, so a pair past its bound is
# measured again alone: alone it must meet the bound, or the test fails.
for i in "${overs[@]}"; do
	read -r p1 p2 <<<"$(sed -n "${i}p" <<<"$PAIRS")"
	echo "== again, alone: $p1 x $p2 (past its bound with $jobs_max pairs at a time)"
	(one "$p1" "$p2" "r$i" >"$KTMP/log.r$i" 2>&1) || rc=1
	grep -v '^ROW ' "$KTMP/log.r$i"
	row=$(grep '^ROW ' "$KTMP/log.r$i" | cut -c5- || true)
	if [ -z "$row" ]; then
		echo "FAIL: $p1 x $p2 failed a check when run alone"
		rc=1
		continue
	fi
	read -r _ _ path ms dms bound <<<"$row"
	if [ "$ms" -le "$bound" ]; then
		echo "ok   $p1 x $p2 alone: first answer in $ms ms, within its bound of $bound ms"
	else
		echo "FAIL: $p1 x $p2 alone: first answer in $ms ms, past its bound of $bound ms"
		rc=1
	fi
done
[ "$nbt" = 0 ] || echo "birthday pairs: $nbd of $nbt direct at once, $nbr more after the quick retry"
echo "$nok of $nall pairs passed every check, in ${secs} s (${jobs_max} at a time)"
exit $rc
