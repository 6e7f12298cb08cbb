#!/usr/bin/env bash
# nat flush forgets mappings, nat set switches behaviour live, per-router conntrack timeouts expire
# mappings, and miniupnpd answers NAT-PMP and opens a port through a port-restricted NAT.
. "$(dirname "$0")/lib.sh"
f=$(mktemp)
trap 'rm -f "$f"; cleanup' EXIT

mapping() { seen "$(probe "$1" a bind s "$2" send s "$P0" who recv s 1000)"; }

# flush on a random-allocation EIM NAT: the same socket gets a new external port.
run=tn$$
up "$TOPOS/cgnat.topo" "$run"
reflect "$run"
m1=$(mapping "$run" 41000)
m2=$(mapping "$run" 41000)
check "mapping is stable before flush ($m1 = $m2)" [ "$m1" = "$m2" ]
"$NETSIM" nat --name "$run" nat flush
m3=$(mapping "$run" 41000)
check "after nat flush the reflector still answers ($m3)" [ "$m3" != timeout ]
check "nat flush changes the mapping ($m1 -> $m3)" [ "$m3" != "$m1" ]

# flush on a full-cone NAT forgets the inbound path: pub can no longer reach a unsolicited.
"$NETSIM" nat --name "$run" nat set full-cone
m1=$(mapping "$run" 41001)
x=$(seen "$(probe "$run" a bind s 41001 send s "$P0" 'who via 2' recv s 700)")
check "full-cone after nat set: another address gets in ($x)" [ "$x" != timeout ]
out=$(catch "$run" a 41001 1000 pub bind s 5555 send s "$m1" knock)
check "full-cone: an unsolicited packet reaches a ($out)" [ "$out" != timeout ]
"$NETSIM" nat --name "$run" nat flush
out=$(catch "$run" a 41001 1000 pub bind s 5555 send s "$m1" knock)
check "after flush the old mapping is gone ($out)" [ "$out" = timeout ]
"$NETSIM" nat --name "$run" nat set symmetric
read -r x y <<<"$(probe "$run" a bind s 41002 send s "$P0" who recv s 1000 send s "$P2" who recv s 1000 |
	awk '{ print $2 }' | tr '\n' ' ')"
check "nat set symmetric: the second destination answers ($y)" [ -n "$y" ]
check "nat set symmetric: two destinations, two mappings ($x, $y)" [ "$x" != "$y" ]

# a 2 s mapping timeout, per router: the sysctl is per namespace and the map entry expires.
cat >"$f" <<'T'
router nat preset=port-restricted-cone allocation=random timeout=2
host a behind nat
host pub addr=203.0.113.10,203.0.113.11
T
run2=tt$$
up "$f" "$run2"
reflect "$run2"
check "conntrack UDP timeout is 2 s inside the router" \
	[ "$(nx "$run2" nat cat /proc/sys/net/netfilter/nf_conntrack_udp_timeout)" = 2 ]
check "and unchanged in the root namespace" \
	[ "$(cat /proc/sys/net/netfilter/nf_conntrack_udp_timeout)" != 2 ]
m1=$(mapping "$run2" 42000)
sleep 1
m2=$(mapping "$run2" 42000)
check "refreshed within the timeout: same mapping ($m1)" [ "$m1" = "$m2" ]
sleep 3.5
m3=$(mapping "$run2" 42000)
check "idle past the timeout: the reflector still answers ($m3)" [ "$m3" != timeout ]
check "idle past the timeout: new mapping ($m1 -> $m3)" [ "$m3" != "$m1" ]

# NAT-PMP: map UDP 43000 for 60 s, then pub reaches a through the port-restricted NAT.
run3=tp$$
up "$TOPOS/natpmp.topo" "$run3"
gw=10.1.0.1
resp=$(probe "$run3" a bind s 43000 send s "$gw:5351" hex:0000 recv s 1000 \
	send s "$gw:5351" hex:00010000a7f8a7f80000003c recv s 1000)
echo "$resp"
ext=$(echo "$resp" | sed -n 2p | sed -n 's/.*hex:0081\(....\)........\(....\)\(....\).*/\1 \2 \3/p')
check "NAT-PMP: public address answer" grep -q "hex:00800000........0b00000a" <<<"$(echo "$resp" | head -n1)"
read -r result inport export <<<"$ext"
check "NAT-PMP: mapping granted (result $result)" [ "$result" = 0000 ]
check "NAT-PMP: for the internal port asked (internal $inport)" [ "$inport" = a7f8 ]
export=$((16#$export))
out=$(catch "$run3" a 43000 1000 pub bind s 5556 send s "11.0.0.10:$export" via-natpmp)
check "NAT-PMP: pub reaches a through external port $export ($out)" [ "${out#* }" = via-natpmp ]
