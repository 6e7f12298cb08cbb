#!/usr/bin/env bash
# `konce probe nat` from host a classifies every NAT preset (RFC 5780), against a konce probe
# listener on pub and against Debian's stund (a STUN server we did not write) on pub; and Debian's own
# RFC 3489 classifier (the stun client) must agree with each preset's name:
#
#   a 10.x ---- [ router: PRESET ] ---- internet ---- pub IP1, IP2
#   konce probe nat IP1:3478                         konce probe listen IP1:3478 --also IP2:3479
#   konce probe stun IP1:3480                        stund -h IP1 -a IP2 -p 3480 -o 3481
#   konce probe nat IP1:3480 --proto stun
#
# Topologies: netsim/topologies/PRESET.topo, and cgnat-nested.topo (a port-restricted home NAT behind
# the carrier-grade one: a's packets are translated twice and the outcome is their composition).
# Then the mapping lifetime on a NAT whose mappings last 8 s idle.
# Hairpinning is shown but not asserted: netsim hairpins between two LAN hosts, while RFC 5780's test
# (and ours) sends from a second socket on the same host, which netsim's NAT does not turn back.
. "$(dirname "$0")/lib.sh" stund stun ss
KONCE=${KONCE_BIN:-$TOP/build/konce}
[ -x "$KONCE" ] || fail "no konce binary at $KONCE"

# topology  what must be found (strings in the JSON result)
WANT='full-cone            "classic":"full-cone" "mapping":"EIM" "filtering":"EIF" "port_allocation":"preserving"
restricted-cone      "classic":"restricted-cone" "mapping":"EIM" "filtering":"ADF" "port_allocation":"preserving"
port-restricted-cone "classic":"port-restricted-cone" "mapping":"EIM" "filtering":"APDF" "port_allocation":"preserving"
symmetric            "classic":"symmetric" "mapping":"APDM" "filtering":"APDF" "port_allocation":"random"
symmetric-sequential "classic":"symmetric-sequential" "mapping":"APDM" "filtering":"APDF" "port_allocation":"sequential"
cgnat                "classic":"port-restricted-cone" "mapping":"EIM" "filtering":"APDF" "port_allocation":"random"
cgnat-nested         "classic":"port-restricted-cone" "mapping":"EIM" "filtering":"APDF" "port_allocation":"random"
blocked-udp          "classic":"blocked" "blocked":true "nat":false'

# What Debian's stun client (RFC 3489) must print on its "Primary:" line for each topology
declare -A STUNCLIENT=(
	[full-cone]='Independent Mapping, Independent Filter'
	[restricted-cone]='Independent Mapping, Address Dependent Filter'
	[port-restricted-cone]='Independent Mapping, Port Dependent Filter'
	[symmetric]='Dependent Mapping, random port'
	[symmetric-sequential]='Dependent Mapping'
	[cgnat]='Independent Mapping, Port Dependent Filter, random port'
	[cgnat-nested]='Independent Mapping, Port Dependent Filter, random port'
	[blocked-udp]='Blocked'
)

# wait_udp RUN NODE PORT: until something listens there
wait_udp() {
	local i
	for i in $(seq 100); do
		[ -z "$(nx "$1" "$2" ss -Hlun "sport = :$3")" ] || return 0
		sleep 0.05
	done
	fail "nothing listens on $2 UDP port $3"
}

# has_all FILE STRING...: every STRING occurs in FILE
has_all() {
	local f=$1 w
	shift
	for w in "$@"; do grep -qF -- "$w" "$f" || { echo "     missing $w in: $(cat "$f")"; return 1; }; done
}

classify() { # classify TOPOLOGY INDEX WANT...
	local topo=$1 run=pn$$_$2 out=/tmp/netsim-probe.$$.$2 ips wan mapped seen
	shift 2
	trap cleanup EXIT
	up "$TOPOS/$topo.topo" "$run"
	ips=($("$NETSIM" addr --name "$run" pub))
	nx "$run" pub "$KONCE" probe listen "${ips[0]}:3478" --also "${ips[1]}:3479" --duration 120 >/dev/null 2>&1 &
	nx "$run" pub stund -h "${ips[0]}" -a "${ips[1]}" -p 3480 -o 3481 >/dev/null 2>&1 &
	wait_udp "$run" pub 3478
	wait_udp "$run" pub 3480
	echo "== $topo"

	nx "$run" a "$KONCE" probe nat "${ips[0]}:3478" --json --timeout 800 >"$out.listener"
	echo "     $(grep -o '"classic":"[^"]*"\|"mapping":"[^"]*"\|"filtering":"[^"]*"\|"port_allocation":"[^"]*"\|"hairpinning":"[^"]*"' "$out.listener" | tr '\n' ' ')"
	check "$topo: probe nat against the konce listener finds $*" has_all "$out.listener" "$@" '"protocol":'

	nx "$run" a "$KONCE" probe nat "${ips[0]}:3480" --proto stun --json --timeout 800 >"$out.stund"
	check "$topo: probe nat against Debian's stund finds the same" has_all "$out.stund" "$@"

	# An independent classifier: Debian's RFC 3489 client (stun-client 0.97) against stund.  It does not
	# tell sequential from random ports, so symmetric-sequential reads as plain symmetric there.
	local verdict
	verdict=$(nx "$run" a timeout 30 stun "${ips[0]}:3480" 2>&1 | grep -m1 '^Primary:' || true)
	echo "     stun client: ${verdict:-no answer}"
	check "$topo: Debian's stun client agrees (${STUNCLIENT[$topo]})" grep -qF -- "${STUNCLIENT[$topo]}" <<<"$verdict"

	if [ "$topo" != blocked-udp ]; then
		# the outermost NAT's public address, as both servers report it
		wan=$(grep -o '"mapped":"[0-9.]*' "$out.listener" | head -1 | cut -d'"' -f4)
		nx "$run" a "$KONCE" probe stun "${ips[0]}:3480" --json >"$out.stun"
		mapped=$(grep -o '"mapped":"[0-9.]*' "$out.stun" | head -1 | cut -d'"' -f4)
		check "$topo: the listener saw a's public address ($wan)" [ -n "$wan" ]
		check "$topo: probe stun against stund maps a to $wan, as the listener saw" [ "$mapped" = "$wan" ]
		seen=$(nx "$run" a "$KONCE" probe send "${ips[0]}:3478" --json | grep -o '"rewrite":"[^"]*"')
		check "$topo: probe send reports the rewrite ($seen)" [ -n "$seen" ]
		check "$topo: probe send shows a's source rewritten ($seen)" [ "$seen" != '"rewrite":"not rewritten"' ]
	fi
	rm -f "$out".*
}

pids=() i=0
while read -r topo want; do
	i=$((i + 1))
	read -ra words <<<"$want"
	(classify "$topo" "$i" "${words[@]}" >"/tmp/netsim-probe-out.$$.$i" 2>&1) &
	pids+=($!)
done <<<"$WANT"
rc=0 i=0
for p in "${pids[@]}"; do
	i=$((i + 1))
	wait "$p" || rc=1
	cat "/tmp/netsim-probe-out.$$.$i"
	rm -f "/tmp/netsim-probe-out.$$.$i"
done

# The mapping lifetime, on a NAT whose mappings last 8 s idle; no idle period over 30 s is tried.
life=/tmp/netsim-probe-life.$$
cat >"$life.topo" <<'TOPO'
internet
router nat preset=port-restricted-cone timeout=8
host a behind nat
host pub addr=203.0.113.10,203.0.113.11
TOPO
up "$life.topo" pnl$$
ips=($("$NETSIM" addr --name pnl$$ pub))
nx pnl$$ pub "$KONCE" probe listen "${ips[0]}:3478" --also "${ips[1]}:3479" --duration 120 >/dev/null 2>&1 &
wait_udp pnl$$ pub 3478
nx pnl$$ a "$KONCE" probe nat "${ips[0]}:3478" --json --timeout 600 --lifetime=30 >"$life.json"
alive=$(grep -o '"alive_after_s":[0-9]*' "$life.json" | cut -d: -f2)
gone=$(grep -o '"gone_after_s":[0-9]*' "$life.json" | cut -d: -f2)
rm -f "$life.topo" "$life.json"
echo "== lifetime: alive after ${alive:-?} s idle, gone after ${gone:-?} s"
check "the lifetime test found a mapping alive after ${alive:-?} s" [ -n "$alive" ]
check "the lifetime test found it gone after ${gone:-?} s" [ -n "$gone" ]
check "an 8 s mapping was alive after $alive s <= 8 s" [ "$alive" -le 8 ]
check "an 8 s mapping was gone after $gone s >= 8 s" [ "$gone" -ge 8 ]
check "an 8 s mapping was found gone by 10 s ($gone s)" [ "$gone" -le 10 ]

[ $rc = 0 ] && echo "every preset classified as netsim claims"
exit $rc
