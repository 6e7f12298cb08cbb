#!/usr/bin/env bash
# konce portmap against real miniupnpd: for the natpmp and upnp presets, a mapping is made, pub's
# datagram to the external address:port reaches a, the lease is renewed past its first lifetime
# and still works, and after --hold it is deleted (miniupnpd's lease list empties and the same
# datagram no longer arrives).  Behind port-restricted-cone (no miniupnpd) konce portmap says
# "unavailable" within its bounded timeout and exits 1.
#
#   pub 203.0.113.10 ---- internet ---- nat 11.0.0.10 [natpmp | upnp | port-restricted-cone]
#                                        `-- a 10.1.0.2  (konce portmap --port P; udpecho on P)
. "$(dirname "$0")/lib.sh" jq
KONCE=${KONCE_BIN:-$TOP/build/konce}
[ -x "$KONCE" ] || skip "konce not built ($KONCE)"
P=45123
LIFE=4 # seconds asked for: renewal is due every 2 s, and miniupnpd expires leases it is not given
HOLD=9

mapped_line() { grep -m1 '"event":"mapped"' "$1" || true; }

for preset in natpmp upnp; do
	run=pm${preset:0:2}$$
	up "$TOPOS/$preset.topo" "$run"
	w=$("$NETSIM" addr --name "$run" nat)
	leases=/run/netsim/$run/miniupnpd.nat.leases
	out=$(mktemp) err=$(mktemp)
	nx "$run" a "$KONCE" portmap --port $P --lifetime $LIFE --hold $HOLD --json -v >"$out" 2>"$err" &
	pid=$!
	for i in $(seq 100); do [ -z "$(mapped_line "$out")" ] || break; sleep 0.1; done
	m=$(mapped_line "$out")
	echo "$preset: $m"
	check "$preset: a mapping is reported" [ -n "$m" ]
	check "$preset: made with $preset" [ "$(jq -r .protocol <<<"$m")" = "$preset" ]
	check "$preset: external address is the router's WAN address $w" [ "$(jq -r .external_address <<<"$m")" = "$w" ]
	check "$preset: internal port $P" [ "$(jq -r .internal_port <<<"$m")" = $P ]
	ext=$(jq -r .external_port <<<"$m")
	life=$(jq -r .lifetime_s <<<"$m")
	check "$preset: granted lifetime $life s >= 1 s" [ "$life" -ge 1 ]
	check "$preset: granted lifetime $life s <= $LIFE s asked" [ "$life" -le $LIFE ]
	check "$preset: miniupnpd's lease list has UDP $ext" grep -q "^UDP:$ext:" "$leases"

	out1=$(catch "$run" a $P 1000 pub bind s 0 send s "$w:$ext" knock1)
	check "$preset: pub reaches a through $w:$ext ($out1)" [ "${out1#* }" = knock1 ]
	# Past the first lease's end: only renewals keep it (miniupnpd removes expired leases).
	sleep $((LIFE + 2))
	out2=$(catch "$run" a $P 1000 pub bind s 0 send s "$w:$ext" knock2)
	check "$preset: still reachable $((LIFE + 2)) s later, past the first lease ($out2)" [ "${out2#* }" = knock2 ]
	renews=$(grep -c "request [0-9]*: renew $preset internal $P external $ext" "$err" || true)
	check "$preset: the lease was renewed ($renews renewals in the trace)" [ "$renews" -ge 2 ]
	# a renewal whose request is in the trace may still wait for its answer: give it 3 s
	for i in $(seq 30); do
		[ "$(grep -c "result [0-9]*: ok, external $w:$ext" "$err")" -ge $((renews + 1)) ] && break
		sleep 0.1
	done
	check "$preset: every renewal succeeded" [ "$(grep -c "result [0-9]*: ok, external $w:$ext" "$err")" -ge $((renews + 1)) ]

	rc=0
	wait "$pid" || rc=$?
	check "$preset: konce portmap exits 0 after --hold (exit $rc)" [ "$rc" = 0 ]
	check "$preset: it reports the deletion" grep -q '"event":"deleted"' "$out"
	check "$preset: the delete went to the gateway" grep -q "request [0-9]*: delete $preset internal $P external $ext" "$err"
	check "$preset: miniupnpd's lease list no longer has UDP $ext" not grep -q "^UDP:$ext:" "$leases"
	out3=$(catch "$run" a $P 1000 pub bind s 0 send s "$w:$ext" knock3)
	check "$preset: after the delete pub no longer reaches a ($out3)" [ "$out3" = timeout ]
	rm -f "$out" "$err"

	# Control: a client that dies (no renewal, no delete) loses the mapping when the lease ends,
	# so the renewals above are what kept it alive.
	q=$((P + 1)) pidf=$(mktemp) out=$(mktemp)
	nx "$run" a sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pidf" \
		"$KONCE" portmap --port $q --lifetime $LIFE --hold 60 --json >"$out" 2>/dev/null &
	for i in $(seq 100); do [ -z "$(mapped_line "$out")" ] || break; sleep 0.1; done
	qext=$(jq -r .external_port <<<"$(mapped_line "$out")")
	kill -KILL "$(cat "$pidf")"
	wait 2>/dev/null || true
	out1=$(catch "$run" a $q 1000 pub bind s 0 send s "$w:$qext" ctl1)
	check "$preset control: mapped $w:$qext reaches a while its lease runs ($out1)" [ "${out1#* }" = ctl1 ]
	sleep $((LIFE + 2))
	out2=$(catch "$run" a $q 1000 pub bind s 0 send s "$w:$qext" ctl2)
	check "$preset control: without renewal it is gone after the lease ($out2)" [ "$out2" = timeout ]
	rm -f "$pidf" "$out"
done

# No miniupnpd: NAT-PMP gets ICMP port unreachable, SSDP gets no answer within -W.
run=pmpr$$
up "$TOPOS/port-restricted-cone.topo" "$run"
out=$(mktemp) err=$(mktemp)
start=$(date +%s%N)
rc=0
nx "$run" a "$KONCE" portmap --port $P -W 1 --json >"$out" 2>"$err" || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
cat "$err"
check "port-restricted-cone: exit 1 (got $rc)" [ "$rc" = 1 ]
check "port-restricted-cone: JSON says unavailable" [ "$(jq -r .event "$out")" = unavailable ]
check "port-restricted-cone: the message says no gateway would map" grep -q "no gateway would map the port" "$err"
check "port-restricted-cone: gave up within the bounded timeout (${ms} ms; -W 1 per protocol, bound 10000)" [ "$ms" -lt 10000 ]
rm -f "$out" "$err"
