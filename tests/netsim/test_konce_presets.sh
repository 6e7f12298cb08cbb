#!/usr/bin/env bash
# A real `konce node` on host a behind every NAT preset reaches a `konce node` on pub (issue 5):
#
#     konce node A (a, 10.x.0.2) --- NAT router(s) --- internet --- konce node P (pub, 203.0.113.10:7807)
#
# From a: konce connect P@203.0.113.10:7807, konce ping -c 3, konce send.  From pub: konce peers --json
# must list A's key at the outermost router's WAN address (the NAT's public mapping), never at a's
# private address: that is the proof the packets crossed the NAT.  pub's log must show the message.
# blocked-udp: connect must fail promptly (bounded, no hang) with exit 1 and EHOSTUNREACH, and pub
# must never have heard of A.  Every node then gets SIGTERM and must exit 0.
# Presets run in parallel, at most KONCE_NETSIM_JOBS (default 4) at once; a table sums them up.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"

# name          topology file          router on the internet (whose WAN A must appear at)
PRESETS="full-cone            full-cone            nat
restricted-cone      restricted-cone      nat
port-restricted-cone port-restricted-cone nat
symmetric            symmetric            nat
symmetric-sequential symmetric-sequential nat
cgnat                cgnat                nat
cgnat-nested         cgnat-nested         cgn
upnp                 upnp                 nat
natpmp               natpmp               nat
blocked-udp          blocked-udp          nat"

# one NAME TOPO WANROUTER IDX: the whole scenario for one preset; the last line is its table row
one() {
	local name=$1 topo=$2 wanr=$3 run=kp$$_$4 pubip wan aip kp ka kap pa out rc t0 secs hs rtt mapped
	KRUN=$run
	trap kcleanup EXIT
	echo "== $name"
	kup "$TOPOS/$topo.topo" "$run"
	pubip=$(kaddr "$run" pub) wan=$(kaddr "$run" "$wanr") aip=$(kaddr "$run" a)
	kstart "$run" pub P "$pubip:7807"
	kstart "$run" a A "$aip:0"
	kp=$(kfield "$run" P "public key") ka=$(kfield "$run" A "public key") pa=$(kfield "$run" A listening)
	check "$name: a's node listens on its private address ($pa)" [ "${pa%:*}" = "$aip" ]

	if [ "$name" = blocked-udp ]; then
		t0=$(date +%s%N)
		rc=0
		out=$(kcli "$run" a A connect "$kp@$pubip:7807" 2>&1) || rc=$?
		secs=$((($(date +%s%N) - t0) / 1000000))
		echo "     connect: exit $rc after $secs ms: $out"
		check "$name: connect fails with exit 1, not a hang (timeout(1) gives 124)" [ "$rc" = 1 ]
		check "$name: the error says unreachable, where, and EHOSTUNREACH" \
			has "$out" "unreachable: no answer from $pubip:7807 within [0-9.]+ s \(EHOSTUNREACH\)"
		check "$name: it gave up within 15 s ($secs ms)" [ "$secs" -lt 15000 ]
		out=$(kcli "$run" pub P peers --json) || fail "$name: peers on pub failed"
		check "$name: pub never heard of a" \
			jqt "$out" "[.peers[] | select(.public_key == \"$ka\")] | length == 0"
		out=$(kcli "$run" pub P status --json) || fail "$name: status on pub failed"
		check "$name: not one packet reached pub" jqt "$out" '.counters.rx_packets == 0'
		kstop "$run" A
		kstop "$run" P
		echo "ok   $name: both nodes exit 0 on SIGTERM"
		echo "ROW $name no(EHOSTUNREACH,${secs}ms) - - -"
		return 0
	fi

	out=$(kcli "$run" a A connect --json "$kp@$pubip:7807") || fail "$name: connect failed: $out"
	check "$name: connect answers ok for pub's key" \
		jqt "$out" ".ok == true and .public_key == \"$kp\" and .address == \"$pubip:7807\""
	hs=$(jq -r '.rtt_ms | . * 100 | round / 100' <<<"$out")
	out=$(kcli "$run" a A ping --json -c 3 -i 0.2 -W 2 "$kp") || fail "$name: ping failed: $out"
	check "$name: 3 of 3 pings answered" jqt "$out" '.sent == 3 and .received == 3'
	rtt=$(jq -r '.rtt_ms.avg | . * 1000 | round / 1000' <<<"$out")
	out=$(kcli "$run" a A send --json "$kp" "hello from a behind $name") || fail "$name: send failed: $out"
	check "$name: send is answered" jqt "$out" '.ok == true and .outcome == "replied"'
	# a dialled pub by address: it shows pub the key derived for pub, never its master key
	kap=$(kshown "$run" a A "$kp")
	check "$name: a shows pub a per-server key, not its master key" [ -n "$kap" -a "$kap" != null -a "$kap" != "$ka" ]
	check "$name: pub's node logged the message from the key a shows it" \
		grep -q "message from $kap: hello from a behind $name" "$KTMP/$run.P.err"
	check "$name: pub's node never logged a's master key" not grep -qF -- "$ka" "$KTMP/$run.P.err"

	out=$(kcli "$run" pub P peers --json) || fail "$name: peers on pub failed"
	mapped=$(jq -r ".peers[] | select(.public_key == \"$kap\") | .address" <<<"$out")
	echo "     a's node: $pa inside; pub sees it at $mapped; router $wanr's WAN is $wan"
	check "$name: pub has a session up with a's key" \
		jqt "$out" ".peers[] | select(.public_key == \"$kap\") | .state == \"up\" and .identity == \"master\""
	check "$name: pub sees a at the NAT's public address $wan, not at $aip" [ "${mapped%:*}" = "$wan" ]
	check "$name: the mapped endpoint is not a's private endpoint" [ "$mapped" != "$pa" ]
	out=$(kcli "$run" a A peers --json) || fail "$name: peers on a failed"
	check "$name: a has the session up with pub at $pubip:7807" \
		jqt "$out" ".peers[] | select(.public_key == \"$kp\") | .state == \"up\" and .address == \"$pubip:7807\""

	kstop "$run" A
	kstop "$run" P
	echo "ok   $name: both nodes exit 0 on SIGTERM"
	echo "ROW $name yes(${hs}ms) $rtt $mapped $pa"
}

jobs_max=${KONCE_NETSIM_JOBS:-4}
pids=() i=0
while read -r name topo wanr; do
	i=$((i + 1))
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
	(one "$name" "$topo" "$wanr" "$i" >"$KTMP/log.$i" 2>&1) &
	pids[i]=$!
done <<<"$PRESETS"

rc=0 rows=()
for i in "${!pids[@]}"; do
	wait "${pids[i]}" || rc=1
	grep -v '^ROW ' "$KTMP/log.$i"
	row=$(grep '^ROW ' "$KTMP/log.$i" | cut -c5- || true)
	[ -n "$row" ] || row="$(sed -n "${i}p" <<<"$PRESETS" | awk '{print $1}') FAILED - - -"
	rows+=("$row")
done
echo
printf '%-22s %-24s %-10s %-20s %s\n' preset "connect (handshake)" "ping avg" "pub sees a at" "a inside"
for row in "${rows[@]}"; do
	read -r a b c d e <<<"$row"
	printf '%-22s %-24s %-10s %-20s %s\n' "$a" "$b" "$c$([ "$c" = - ] || echo ' ms')" "$d" "${e:--}"
done
[ $rc = 0 ] && echo "konce crosses every preset that lets UDP out; blocked-udp fails promptly as unreachable"
exit $rc
