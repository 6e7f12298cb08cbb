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
#           port, ~64% of the time.  Asserted: connectivity as everywhere, and the path must be
#           consistent with what happened: direct with the random side's verified pair on an
#           extra socket (path_socket >= 1) that carried session datagrams both ways, or relayed
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
# Every pair must connect and exchange messages (100%); the path must be the one above, and
# `konce path --json` on A must agree (verified pair and no give-up, or give-up and relayed
# datagrams).  The grid at the end shows the path from A's side (D direct, P port-mapped as B sees
# it, R relayed) and the time from `konce connect KEY` to the first answered message, in ms.
#
# The full 45 is the default (about 40 s with 6 runs at a time on 2 cores).  TRAVERSAL_MATRIX=quick
# runs a subset (one pair for each kind of outcome, 10 pairs: see below) instead
# of all 45; TRAVERSAL_ONLY=KIND1:KIND2[,...] (short kinds: pub fcone rcone prcone sym symseq
# cgnat upnp natpmp) runs only those pairs.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"

KINDS="public full-cone restricted-cone port-restricted-cone symmetric symmetric-sequential cgnat upnp natpmp"
short() {
	case $1 in
	public) echo pub ;; full-cone) echo fcone ;; restricted-cone) echo rcone ;;
	port-restricted-cone) echo prcone ;; symmetric) echo sym ;; symmetric-sequential) echo symseq ;;
	*) echo "$1" ;;
	esac
}
# expect P1 P2: the node's path (the rule in the header): direct or relayed
expect() {
	local o
	for o in "$1 $2" "$2 $1"; do
		case $o in
		"symmetric symmetric" | "symmetric symmetric-sequential") echo relayed; return ;;
		"port-restricted-cone symmetric" | "cgnat symmetric") echo birthday; return ;;
		esac
	done
	echo direct
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
PAIRS=$(sed '/^$/d' <<<"$PAIRS")
[ -n "$PAIRS" ] || { echo "FAIL: no pair selected"; exit 1; }

# waitreg RUN HOST NAME: until the node is registered with both rendezvous (10 s at most)
waitreg() {
	local out
	for _ in $(seq 100); do
		out=$(kcli "$1" "$2" "$3" netcheck --json 2>/dev/null) &&
			jqt "$out" '.registered and ([.rendezvous[] | select(.reflexive != null)] | length == 2)' && return 0
		sleep 0.1
	done
	fail "node $3 did not register with both rendezvous within 10 s: $out"
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
	check "$name: $1: the random side's pair is on an extra socket and carried the session both ways" \
		jqt "$strace" '.state == "direct" and .path_socket >= 1 and .path_socket <= 256 and .datagrams.direct_tx > 0 and .datagrams.direct_rx > 0'
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
	local p1=$1 p2=$2 run=km$$_$3 name want states topo aip bip kr1 kr2 ka kb out t0 ms path bpath
	name=$(short "$p1")-x-$(short "$p2")
	want=$(expect "$p1" "$p2")
	KRUN=$run
	trap kcleanup EXIT
	echo "== $name ($p1 x $p2, expect $want$([ "$want" = birthday ] && echo ': direct ~64% per attempt, else relayed'))"
	topo=$KTMP/$name.topo
	echo internet >"$topo"
	side "$topo" 1 "$p1"
	side "$topo" 2 "$p2"
	echo "host pub addr=203.0.113.10,203.0.113.11" >>"$topo"
	kup "$topo" "$run"
	aip=$(kaddr "$run" a) bip=$(kaddr "$run" b)
	kstart "$run" pub R1 203.0.113.10:7807 --rendezvous yes
	kstart "$run" pub R2 203.0.113.11:7807 --rendezvous yes
	kr1=$(kfield "$run" R1 "public key") kr2=$(kfield "$run" R2 "public key")
	kstart "$run" a A "$aip:7807" --rendezvous-peer "$kr1@203.0.113.10:7807" --rendezvous-peer "$kr2@203.0.113.11:7807"
	kstart "$run" b B "$bip:7807" --rendezvous-peer "$kr1@203.0.113.10:7807" --rendezvous-peer "$kr2@203.0.113.11:7807"
	ka=$(kfield "$run" A "public key") kb=$(kfield "$run" B "public key")
	waitreg "$run" a A
	waitreg "$run" b B
	case $p1 in upnp | natpmp) waitlease "$run" a A "$p1" ;; esac
	case $p2 in upnp | natpmp) waitlease "$run" b B "$p2" ;; esac
	case "$p1 $p2" in *upnp* | *natpmp*) sleep 0.5 ;; esac # the lease's REGISTER reaches R1

	t0=$(date +%s%N)
	out=$(kcli "$run" a A connect --json "$kb") || fail "$name: connect by key failed: $out"
	ms=$((($(date +%s%N) - t0) / 1000000))
	check "$name: connect by key alone answers for B's key" jqt "$out" ".ok == true and .public_key == \"$kb\""
	if [ "$want" != direct ]; then
		# direct not expected (punch.h): the INTRO put both sides in PROBING, so the handshake
		# went through the relay while the attempt was still running, not after its give-up
		out=$(kcli "$run" a A path --json "$kb") || fail "$name: path failed"
		echo "     A's trace at connect: $(jq -c '{state, probes, datagrams}' <<<"$out")"
		check "$name: connected over the relay before the attempt gave up" \
			jqt "$out" '.probes.giveups == 0 and .datagrams.relayed_tx > 0 and .datagrams.relayed_rx > 0'
	fi
	out=$(kcli "$run" a A ping --json -c 2 -i 0.2 -W 3 "$kb") || fail "$name: ping failed: $out"
	check "$name: 2 of 2 pings answered" jqt "$out" '.sent == 2 and .received == 2'
	out=$(kcli "$run" a A send --json "$kb" "hello from a behind $p1") || fail "$name: send failed: $out"
	check "$name: send is answered" jqt "$out" '.ok == true and .outcome == "replied"'
	check "$name: B logged the message from A's key" grep -q "message from $ka: hello from a behind $p1" "$KTMP/$run.B.err"

	if [ "$want" != direct ]; then
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
	echo "     A's trace: $(jq -c '{state, path, probes, handshake, why_relayed}' <<<"$out")"
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
	# the side that sees the port-mapped candidate used says so
	[ "$bpath" = port-mapped ] && path=port-mapped
	[ -n "${TRAVERSAL_KEEP_LOGS:-}" ] && cp "$KTMP/$run".*.err /tmp/ 2>/dev/null
	for n in A B R1 R2; do kstop "$run" "$n"; done
	echo "ok   $name: every node exits 0 on SIGTERM"
	echo "ROW $p1 $p2 $path ${ms}"
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

rc=0 nok=0 nall=0 nbd=0 nbt=0 nbr=0
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
		read -r _ _ path ms <<<"$row"
		case $path in direct) c=D ;; port-mapped) c=P ;; relayed) c=R ;; *) c="?" ;; esac
		CELL[$p1,$p2]="$c$mark ${ms}"
	else
		CELL[$p1,$p2]="FAIL$mark"
	fi
done
secs=$(($(date +%s) - T0))
echo
echo "path from A (row) to B (column): D direct, P port-mapped, R relayed; ms from connect-by-key to the first reply"
echo "(* = birthday pair: direct when the random side's 256 extra sockets meet the EIM side's 256 random"
echo "     ports, ~64% per attempt, else relayed; both are correct outcomes)"
printf '%-8s' ''
for k in $KINDS; do printf '%-11s' "$(short "$k")"; done
echo
for r in $KINDS; do
	printf '%-8s' "$(short "$r")"
	for c in $KINDS; do printf '%-11s' "${CELL[$r,$c]:-}"; done
	echo
done
echo
[ "$nbt" = 0 ] || echo "birthday pairs: $nbd of $nbt direct at once, $nbr more after the quick retry"
echo "$nok of $nall pairs passed every check, in ${secs} s (${jobs_max} at a time)"
exit $rc
