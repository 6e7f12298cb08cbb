#!/usr/bin/env bash
# For every NAT preset, observe from pub (two addresses, two ports each) what the NAT does and
# compare it with the preset's claim on each RFC 4787 axis:
#   mapping     one inside socket sends to IP1:P1, IP1:P2 and IP2:P1; the reflector reports the
#               external endpoint each time: EIM = all equal, APDM = all different
#   allocation  preserve = external port equals the inside port; sequential = successive mappings
#               are consecutive; random = neither
#   filtering   a fresh socket asks IP1:P1 to answer from IP1:P2 (same address, other port) and
#               another asks for an answer from IP2:P1: EIF gets both, ADF the first, APDF neither
#   hairpin     socket h2 on LAN host b sends to socket h1's (on a) external endpoint: on = h1 receives it from h2's
#               external endpoint (the router's public address), off = nothing arrives
# Presets run in parallel (each in its own run); the output of each is printed in order.
. "$(dirname "$0")/lib.sh"

# preset  mapping  filtering  allocation  hairpin  udp
CLAIMS="full-cone            eim  eif  preserve   on  allow
restricted-cone      eim  adf  preserve   on  allow
port-restricted-cone eim  apdf preserve   on  allow
symmetric            apdm apdf random     off allow
symmetric-sequential apdm apdf sequential off allow
cgnat                eim  apdf random     on  allow
blocked-udp          eim  apdf preserve   off block
upnp                 eim  apdf preserve   on  allow
natpmp               eim  apdf preserve   on  allow"

check_preset() {
	local preset=$1 m=$2 f=$3 a=$4 h=$5 u=$6 run=tp$$_$7 out hp w m0 m1 m2 x y
	trap cleanup EXIT
	up "$TOPOS/$preset.topo" "$run"
	reflect "$run"
	w=$("$NETSIM" addr --name "$run" nat)
	echo "== $preset (claims mapping=$m filtering=$f allocation=$a hairpin=$h udp=$u)"

	out=($(probe "$run" a bind s 40001 send s "$P0" who recv s 1000 send s "$P1" who recv s 1000 \
		send s "$P2" who recv s 1000 | awk '{print ($1 == "timeout") ? "timeout" : $2}'))
	m0=${out[0]} m1=${out[1]} m2=${out[2]}
	echo "     mappings seen from pub: to IP1:P1 $m0, to IP1:P2 $m1, to IP2:P1 $m2"
	if [ "$u" = block ]; then
		check "$preset: outbound UDP is dropped" [ "$m0 $m1 $m2" = "timeout timeout timeout" ]
		local tcp
		nx "$run" pub socat TCP-LISTEN:8080,bind="${P0%:*}",reuseaddr SYSTEM:'echo tcp-ok' >/dev/null 2>&1 &
		sleep 0.3
		tcp=$(nx "$run" a socat -T2 - TCP:"${P0%:*}":8080 </dev/null 2>/dev/null || true)
		check "$preset: TCP still passes" [ "$tcp" = tcp-ok ]
		return 0
	fi
	check "$preset: mapped address is the router's WAN address" [ "${m0%:*}" = "$w" ]
	case $m in
	eim)
		check "$preset: endpoint-independent mapping: destinations 0 and 1 see one endpoint ($m0, $m1)" [ "$m0" = "$m1" ]
		check "$preset: endpoint-independent mapping: destinations 1 and 2 see one endpoint ($m1, $m2)" [ "$m1" = "$m2" ]
		;;
	apdm)
		check "$preset: address-and-port-dependent mapping: 0 and 1 differ ($m0, $m1)" [ "$m0" != "$m1" ]
		check "$preset: address-and-port-dependent mapping: 1 and 2 differ ($m1, $m2)" [ "$m1" != "$m2" ]
		check "$preset: address-and-port-dependent mapping: 0 and 2 differ ($m0, $m2)" [ "$m0" != "$m2" ]
		;;
	esac
	x=$(port "$m0") y=$(port "$m1")
	case $a in
	preserve) check "$preset: port preserved (40001)" [ "$x" = 40001 ] ;;
	sequential)
		check "$preset: sequential ports: the second follows the first ($x, $y)" [ $((y - x)) = 1 ]
		check "$preset: sequential ports: the third follows the second ($y, $(port "$m2"))" [ $(($(port "$m2") - y)) = 1 ]
		;;
	random)
		check "$preset: random port (not the inside port)" [ "$x" != 40001 ]
		if [ "$m" != eim ]; then
			# three random ports in a row by chance: about 1 in 60,000^2
			z=$(port "$m2")
			consecutive=$(((y - x) == 1 && (z - y) == 1))
			check "$preset: random ports (not three consecutive: $x, $y, $z)" [ "$consecutive" = 0 ]
		fi
		;;
	esac

	x=$(seen "$(probe "$run" a bind s 40002 send s "$P0" 'who via 1' recv s 700)")
	y=$(seen "$(probe "$run" a bind s 40003 send s "$P0" 'who via 2' recv s 700)")
	echo "     replies from another port: $x; from another address: $y"
	case $f in
	eif)
		check "$preset: endpoint-independent filtering: a reply from another port passes" [ "$x" != timeout ]
		check "$preset: endpoint-independent filtering: a reply from another address passes" [ "$y" != timeout ]
		;;
	adf)
		check "$preset: address-dependent filtering: a reply from another port passes" [ "$x" != timeout ]
		check "$preset: address-dependent filtering: a reply from another address is dropped" [ "$y" = timeout ]
		;;
	apdf)
		check "$preset: address-and-port-dependent filtering: a reply from another port is dropped" [ "$x" = timeout ]
		check "$preset: address-and-port-dependent filtering: a reply from another address is dropped" [ "$y" = timeout ]
		;;
	esac

	m0=$(seen "$(probe "$run" a bind h1 40004 send h1 "$P0" who recv h1 1000)")
	hp=$(catch "$run" a 40004 1000 b bind h2 40005 send h2 "$m0" hairpin)
	echo "     hairpin to $m0: $hp"
	if [ "$h" = on ]; then
		check "$preset: hairpin delivers, from the sender's external address" [ "${hp%%:*}" = "$w" ]
	else
		check "$preset: no hairpin" [ "$hp" = timeout ]
	fi
}

pids=() i=0
while read -r preset m f a h u; do
	i=$((i + 1))
	(check_preset "$preset" "$m" "$f" "$a" "$h" "$u" "$i" >"/tmp/netsim-presets.$$.$i" 2>&1) &
	pids+=($!)
done <<<"$CLAIMS"
rc=0 i=0
for p in "${pids[@]}"; do
	i=$((i + 1))
	wait "$p" || rc=1
	cat "/tmp/netsim-presets.$$.$i"
	rm -f "/tmp/netsim-presets.$$.$i"
done
[ $rc = 0 ] && echo "all presets behave as claimed"
exit $rc
