#!/usr/bin/env bash
# Endpoint-independent mapping really holds.  Linux masquerade only keeps a port while the whole
# 5-tuple is unique, so two LAN hosts using the same source port can share one external port
# towards different servers, and then one of them gets a different port per destination.  netsim's
# @eim map must keep each inside endpoint on one external port for every destination, and never
# give two endpoints the same one.  The same sequence through plain masquerade is printed as a
# baseline.
. "$(dirname "$0")/lib.sh"
run=te$$
up "$TOPOS/same-lan.topo" "$run"
reflect "$run"

sequence() { # a:45000 -> P0, b:45000 -> P1, b:45000 -> P0, a:45000 -> P1: four observed endpoints
	local x
	x=$(probe "$run" a bind s 45000 send s "$P0" who recv s 1000)
	echo "${x#* }"
	x=$(probe "$run" b bind s 45000 send s "$P1" who recv s 1000 send s "$P0" who recv s 1000)
	echo "$x" | awk '{print $2}'
	x=$(probe "$run" a bind s 45000 send s "$P1" who recv s 1000)
	echo "${x#* }"
}
read -r a0 b1 b0 a1 <<<"$(sequence | tr '\n' ' ')"
echo "netsim EIM: a->P0 $a0, b->P1 $b1, b->P0 $b0, a->P1 $a1"
check "a keeps one external endpoint for both servers" [ "$a0" = "$a1" ]
check "b keeps one external endpoint for both servers" [ "$b0" = "$b1" ]
check "a and b never share an external endpoint" [ "$a0" != "$b0" ]
check "a's port is preserved" [ "${a0##*:}" = 45000 ]

# Baseline: the same through plain masquerade (not asserted: it documents why @eim exists).
nx "$run" nat nft -f - <<'NFT'
delete table ip netsim
table ip masq {
	chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade; }
}
NFT
"$NETSIM" exec --name "$run" nat -- sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
read -r a0 b1 b0 a1 <<<"$({
	probe "$run" a bind s 45001 send s "$P0" who recv s 1000
	probe "$run" b bind s 45001 send s "$P1" who recv s 1000 send s "$P0" who recv s 1000
	probe "$run" a bind s 45001 send s "$P1" who recv s 1000
} | awk '{print $2}' | tr '\n' ' ')"
echo "baseline masquerade: a->P0 $a0, b->P1 $b1, b->P0 $b0, a->P1 $a1"
[ "$b0" != "$b1" ] && echo "baseline: masquerade gave b two different ports, i.e. it is not endpoint-independent"
exit 0
