#!/usr/bin/env bash
# tools/wireshark/konce.lua on real traffic: a netsim run of real konce daemons is captured with
# dumpcap inside the namespaces, and tshark with the dissector must decode and name every konce
# datagram in it, none malformed and no Lua error:
#
#     node A (a) --- nat1 (port-restricted) --- internet --- nat2 (symmetric) --- node B (b)
#        dumpcap                                  |                                 dumpcap
#                      pub: R1 203.0.113.10:7807, R2 203.0.113.11:7807 (rendezvous)
#                           konce probe listen 203.0.113.10:3478              dumpcap
#
# A and B register with both rendezvous (handshakes, then DATA), A learns its mapping lifetime
# (bare LIFE_REQ / LIFE_ACK / LIFE_PROBE), both run the filtering test (bare FILTER echoes and
# probes), A connects to B by key alone: a port-restricted x symmetric pair is a birthday pair, so
# PUNCH probes cross the NATs from random ports while the session runs through R1.  A then sends
# konce probes to the listener on pub, over UDP, in ICMP echoes and in TCP SYNs.  Most of these ports are not 7807: they reach the dissector
# only through its heuristic.  Every UDP datagram in the captures must be konce's (nothing else
# runs but the nodes' port-mapping discovery, NAT-PMP and SSDP, which Wireshark decodes itself), so a
# datagram the dissector leaves undecoded is a failure too.  Sending hosts batch datagrams to one
# destination into GSO trains, which the captures see as one large UDP payload: the dissector must
# split them back into datagrams.
#
# Needs root, namespaces and tshark (make deps).  Without tshark it skips, except under CI=true,
# where it fails.
if ! command -v tshark >/dev/null || ! command -v dumpcap >/dev/null; then
	[ "${CI:-}" = true ] && { echo "FAIL: tshark/dumpcap missing (make deps installs tshark)"; exit 1; }
	echo "SKIP: tshark/dumpcap missing (make deps)"
	exit 77
fi
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"
LUA=$TOP/tools/wireshark/konce.lua
[ -r "$LUA" ] || fail "no $LUA"

run=kd$$
KRUN=$run
topo=$KTMP/dissector.topo
printf 'internet\nrouter nat1 preset=port-restricted-cone\nrouter nat2 preset=symmetric\nhost a behind nat1\nhost b behind nat2\nhost pub addr=203.0.113.10,203.0.113.11\n' >"$topo"
kup "$topo" "$run"
aip=$(kaddr "$run" a) bip=$(kaddr "$run" b)

# dumpcap in each host's namespace, all interfaces: UDP, and ICMP and TCP for the raw probes
declare -A CAP=()
for h in a b pub; do
	"$NETSIM" exec --name "$run" "$h" -- dumpcap -q -i any -f 'udp or icmp or tcp' -w "$KTMP/$h.pcapng" \
		>"$KTMP/$run.dumpcap-$h.err" 2>&1 &
	CAP[$h]=$!
	NPID[dumpcap-$h]=$! # killed by kcleanup if we fail before stopping it
done
for h in a b pub; do
	for _ in $(seq 100); do
		grep -q "^Capturing on" "$KTMP/$run.dumpcap-$h.err" && break
		kill -0 "${CAP[$h]}" 2>/dev/null || fail "dumpcap in $h exited: $(cat "$KTMP/$run.dumpcap-$h.err")"
		sleep 0.1
	done
	grep -q "^Capturing on" "$KTMP/$run.dumpcap-$h.err" || fail "dumpcap in $h did not start capturing in 10 s"
done

kstart "$run" pub R1 203.0.113.10:7807 --rendezvous yes
kstart "$run" pub R2 203.0.113.11:7807 --rendezvous yes
kr1=$(kfield "$run" R1 "public key") kr2=$(kfield "$run" R2 "public key")
rdv=(--rendezvous-peer "$kr1@203.0.113.10:7807" --rendezvous-peer "$kr2@203.0.113.11:7807")
kstart "$run" a A "$aip:7807" "${rdv[@]}" --nat-lifetime 2:3:12
kstart "$run" b B "$bip:7807" "${rdv[@]}"
ka=$(kfield "$run" A "public key") kb=$(kfield "$run" B "public key")
kwaitreg "$run" a A
kwaitreg "$run" b B

out=$(kcli "$run" a A connect --json "$kb") || fail "connect by key failed: $out"
check "A connects to B by key" jqt "$out" ".ok == true"
out=$(kcli "$run" a A ping --json -c 2 -i 0.2 -W 3 "$kb") || fail "ping failed: $out"
check "2 of 2 pings answered" jqt "$out" '.sent == 2 and .received == 2'
for _ in $(seq 100); do # the first punch attempt ends (direct, or given up: T + 4 s)
	out=$(kcli "$run" a A path --json "$kb") || fail "path failed"
	jqt "$out" '.state == "direct" or .probes.giveups >= 1' && break
	sleep 0.1
done
check "A's first attempt to go direct to B ended ($(jq -c '{state, probes}' <<<"$out"))" \
	jqt "$out" '.state == "direct" or .probes.giveups >= 1'
for _ in $(seq 200); do # A's first lifetime probe came back (delay 3 s); B's filtering test is done
	outa=$(kcli "$run" a A netcheck --json) && outb=$(kcli "$run" b B netcheck --json) &&
		jqt "$outa" '.lifetime.successes >= 1' &&
		jqt "$outb" '.filtering.result != "measuring" and .filtering.result != "waiting for registration"' && break
	sleep 0.1
done
check "A's first mapping lifetime experiment came back ($(jq -c '.lifetime | {state, experiments, successes}' <<<"$outa"))" \
	jqt "$outa" '.lifetime.successes >= 1'
check "B's filtering test finished ($(jq -c .filtering.result <<<"$outb"))" \
	jqt "$outb" '.filtering.result != "measuring" and .filtering.result != "waiting for registration"'

"$NETSIM" exec --name "$run" pub -- "$K" probe listen 203.0.113.10:3478 --icmp --tcp --duration 30 >/dev/null 2>&1 &
NPID[listen]=$!
for _ in $(seq 100); do
	[ -n "$("$NETSIM" exec --name "$run" pub -- ss -Hlun "sport = :3478")" ] && break
	sleep 0.05
done
out=$("$NETSIM" exec --name "$run" a -- "$K" probe send 203.0.113.10:3478 --count 2 --json) ||
	fail "probe send failed: $out"
check "konce probe send got answers from the listener" has "$out" '"rewrite"'
# raw probes: ICMP through nat1; TCP from pub itself (a SYN-ACK does not come back through netsim's NAT)
out=$("$NETSIM" exec --name "$run" a -- "$K" probe send 203.0.113.10:3478 --icmp --count 1 --json) ||
	fail "probe send --icmp failed: $out"
check "konce probe send --icmp got an answer from the listener" has "$out" '"rewrite"'
out=$("$NETSIM" exec --name "$run" pub -- "$K" probe send 203.0.113.10:3478 --tcp --from 4000 --count 1 --json) ||
	fail "probe send --tcp failed: $out"
check "konce probe send --tcp got an answer from the listener" has "$out" '"rewrite"'
kill "${NPID[listen]}" 2>/dev/null
sleep 0.5 # the last datagrams reach the captures

for h in a b pub; do
	kill -INT "${CAP[$h]}"
	wait "${CAP[$h]}" 2>/dev/null
	unset "NPID[dumpcap-$h]"
done
mergecap -w "$KTMP/all.pcapng" "$KTMP/a.pcapng" "$KTMP/b.pcapng" "$KTMP/pub.pcapng" || fail "mergecap failed"
# DISSECTOR_CAPTURE=FILE keeps the merged capture, to look at in Wireshark
[ -z "${DISSECTOR_CAPTURE:-}" ] || cp "$KTMP/all.pcapng" "$DISSECTOR_CAPTURE"

# Random ports collide with ports other dissectors own (a birthday probe to port 6118 is "TIPC"),
# and Wireshark's UDP tries the lower port first; docs/DISSECTOR.md says to try heuristics first.
TS=(tshark -X lua_script:"$LUA" -o udp.try_heuristic_first:TRUE -r "$KTMP/all.pcapng")
# One line per frame: number | konce.packet | konce.malformed | _ws.malformed | experts | protocols |
# icmp.type | tcp.flags.syn
"${TS[@]}" -T fields -E separator='|' -E occurrence=f -E aggregator=';' -e frame.number -e konce.packet \
	-e konce.malformed -e _ws.malformed -e _ws.expert.message -e frame.protocols -e icmp.type \
	-e tcp.flags.syn >"$KTMP/all" 2>"$KTMP/tshark.err" || fail "tshark failed: $(cat "$KTMP/tshark.err")"
# konce.packet and the experts of every occurrence (a GSO train names each datagram)
"${TS[@]}" -T fields -E separator='|' -E occurrence=a -E aggregator=';' -e frame.number -e konce.packet \
	-e _ws.expert.message >"$KTMP/names" 2>/dev/null || fail "tshark failed"
# UDP frames (not ICMP errors quoting a UDP datagram)
awk -F'|' '$6 ~ /:udp/ && $6 !~ /:icmp/' "$KTMP/all" >"$KTMP/fields"
total=$(wc -l <"$KTMP/fields")
check "the captures hold UDP frames ($total)" [ "$total" -ge 100 ]
complaints=$(grep -v 'Running as user "root"' "$KTMP/tshark.err" || true)
check "tshark loaded the dissector without complaint${complaints:+: $complaints}" [ -z "$complaints" ]
luaerr=$(grep -i 'lua error' "$KTMP/names" | head -n 5 || true)
check "no Lua error on any packet ($(wc -l <"$KTMP/all") frames)${luaerr:+: $luaerr}" [ -z "$luaerr" ]
malformed=$(awk -F'|' '$3 != "" || $4 != ""' "$KTMP/all")
[ -z "$malformed" ] || head -n 5 <<<"$malformed"
check "no konce.malformed, no _ws.malformed in any frame ($(grep -c . <<<"$malformed" || true) frames)" [ -z "$malformed" ]
unnamed=$(awk -F'|' '$2 == "" && $6 !~ /:udp:(portcontrol|ssdp)$/' "$KTMP/fields")
[ -z "$unnamed" ] || head -n 5 <<<"$unnamed"
check "every UDP datagram is decoded and named by the dissector ($(grep -c . <<<"$unnamed" || true) not)" [ -z "$unnamed" ]
raw=$(awk -F'|' '($7 == 0 || $7 == 8) && $7 != "" || $8 == 1' "$KTMP/all")
unraw=$(awk -F'|' '$2 == ""' <<<"$raw")
[ -z "$unraw" ] || head -n 5 <<<"$unraw"
nicmp=$(awk -F'|' '$7 != ""' <<<"$raw" | grep -c .) ntcp=$(awk -F'|' '$8 == 1' <<<"$raw" | grep -c .)
rawok=no
[ "$nicmp" -ge 2 ] && [ "$ntcp" -ge 2 ] && [ -z "$unraw" ] && rawok=yes # check takes one command
check "every ICMP echo ($nicmp) and TCP SYN ($ntcp) carries a probe, and it is decoded" [ "$rawok" = yes ]

# what the run produced, by name (every datagram of a GSO train counts)
udponly() { cut -d'|' -f1 "$KTMP/fields" | awk -F'|' 'NR == FNR { udp[$1] = 1; next } udp[$1] { print $1 "|" $2 }' - "$1"; }
udponly "$KTMP/names" | awk -F'|' '$2 != "" { n = split($2, p, ";"); for (i = 1; i <= n; i++) print p[i] }' |
	sort | uniq -c | sort -rn >"$KTMP/types"
sed 's/^/     /' "$KTMP/types"
for name in HELLO COOKIE INITIATE ACCEPT DATA PUNCH FILTER LIFE_REQ LIFE_ACK LIFE_PROBE 'PROBE REQUEST' 'PROBE REPLY'; do
	c=$(awk -v n="$name" '{ c = $1; $1 = ""; sub(/^ /, ""); if ($0 == n) print c }' "$KTMP/types")
	check "$name appears and is decoded (${c:-0})" [ "${c:-0}" -ge 1 ]
done
for k in "$ka" "$kb"; do
	c=$("${TS[@]}" -Y "konce.packet == \"PUNCH\" && konce.key_text == \"$k\" && !icmp" -T fields -e frame.number \
		2>/dev/null | wc -l)
	check "PUNCH names its sender by the key konce printed ($k: $c)" [ "$c" -ge 1 ]
done
# the heuristic alone (no port registered) must find every one of them, named the same way
"${TS[@]}" -o konce.port:0 -T fields -E separator='|' -E occurrence=a -E aggregator=';' -e frame.number \
	-e konce.packet >"$KTMP/heur" 2>/dev/null || fail "tshark failed"
udponly "$KTMP/names" >"$KTMP/port.udp"
udponly "$KTMP/heur" >"$KTMP/heur.udp"
# (an ICMP error's quote is left to the port: the heuristic never claims a quote)
check "with no port registered (-o konce.port:0), the heuristic decodes every UDP frame the same" \
	cmp -s "$KTMP/port.udp" "$KTMP/heur.udp"
off=$("${TS[@]}" -Y 'konce && udp.srcport != 7807 && udp.dstport != 7807 && !icmp' -T fields -e frame.number \
	2>/dev/null | wc -l)
check "konce datagrams with port 7807 on neither side were decoded ($off)" [ "$off" -ge 1 ]
trains=$("${TS[@]}" -Y 'konce.train.count' -T fields -e frame.number 2>/dev/null | wc -l)
echo "     GSO trains split back into datagrams: $trains"
exit 0
