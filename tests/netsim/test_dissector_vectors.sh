#!/usr/bin/env bash
# tools/wireshark/konce.lua against known bytes, without namespaces (no root needed):
#
#   konce_vectors (tests/netsim/konce_vectors.c) --> vectors.pcap --> tshark -X lua_script:konce.lua
#
# konce_vectors writes every packet type with konce's own encoders (node/transport/hs_packets.c,
# nat/rdvwire.c, nat/probewire.c), malformed copies of some, and foreign traffic, each with what
# the dissector must say: decoded and named, flagged konce.malformed, or left alone.  The
# handshake test vectors of docs/PROTOCOL.md (tests/unit/test_handshake_vectors.c) go in too, and
# their fields must come out with the values the vectors were built from.  No packet may raise a
# Lua error.  tshark comes from `make deps`; without it the test skips, except under CI=true,
# where it fails.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
LUA=$TOP/tools/wireshark/konce.lua
VEC=${NETSIM_TOOLS:-$TOP/build/tests/netsim}/konce_vectors

fail() { echo "FAIL: $*"; exit 1; }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then echo "ok   $what"; else fail "$what"; fi
}
if ! command -v tshark >/dev/null; then
	[ "${CI:-}" = true ] && fail "tshark is missing (make deps installs it)"
	echo "SKIP: tshark is missing (make deps)"
	exit 77
fi
[ -x "$VEC" ] || fail "no $VEC (make tests)"
[ -r "$LUA" ] || fail "no $LUA"

T=$(mktemp -d /tmp/konce-dissector.XXXXXX)
trap 'rm -rf "$T"' EXIT

# The hex strings V_NAME = "..." "..."; of the unit test, joined
vector() {
	awk -v n="$1" '
		$0 ~ "static const char \\*" n " = " { on = 1 }
		on { s = $0; while (match(s, /"[0-9a-f]*"/)) { v = v substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, RSTART + RLENGTH) } }
		on && /;/ { print v; exit }' "$TOP/tests/unit/test_handshake_vectors.c"
}
hello=$(vector V_HELLO_HEAD)
check "the HELLO head vector is 52 bytes" [ "${#hello}" = 104 ]
hello=$hello$(printf '0%.0s' $(seq $((2 * (1200 - 52)))))
args=(HELLO="$hello")
for v in V_COOKIE V_INITIATE V_ACCEPT V_DATA; do
	h=$(vector "$v")
	check "vector $v found in the unit test" [ -n "$h" ]
	args+=("${v#V_}=$h")
done

"$VEC" "$T/v.pcap" "${args[@]}" >"$T/expect" || fail "konce_vectors failed"
nexp=$(wc -l <"$T/expect")
check "konce_vectors wrote $nexp packets" [ "$nexp" -ge 80 ]

# one line per frame: number | konce.packet | konce.malformed | expert messages
tshark -X lua_script:"$LUA" -r "$T/v.pcap" -T fields -E separator='|' -E occurrence=a -E aggregator=';' \
	-e frame.number -e konce.packet -e konce.malformed -e _ws.expert.message >"$T/got" 2>"$T/stderr" ||
	fail "tshark failed: $(cat "$T/stderr")"
check "tshark loaded the dissector without complaint" \
	[ -z "$(grep -v 'Running as user "root"' "$T/stderr")" ]
check "tshark decoded $nexp frames" [ "$(wc -l <"$T/got")" = "$nexp" ]
check "no Lua error on any packet" [ -z "$(grep -i 'lua error' "$T/got")" ]

bad=0
while IFS='|' read -r n packet malformed experts; do
	read -r en expect name <<<"$(sed -n "${n}p" "$T/expect")"
	[ "$en" = "$n" ] || fail "frame $n: expectation line out of order"
	outer=${packet##*;} # a RELAY's own name comes last, after its payload's
	case $expect in
	ok) [ "$outer" = "$name" ] && [ -z "$malformed" ] && [[ $experts != *alformed* ]] ;;
	bad) [ "$outer" = "$name" ] && [ -n "$malformed" ] ;;
	none) [ -z "$packet" ] ;;
	any) [ -z "$packet" ] || [[ $experts != *xception* ]] ;; # another dissector's exception is not ours
	esac || {
		echo "  frame $n: expected $expect $name, got packet='$packet' malformed='$malformed' experts='$experts'"
		bad=$((bad + 1))
	}
done <"$T/got"
check "every frame decoded, flagged or left alone as expected ($(cut -d' ' -f2 "$T/expect" | sort | uniq -c | xargs))" [ "$bad" = 0 ]

# cut short by the capture's snapshot length: shown as far as captured, still no Lua error
for snap in 30 40 64 100; do
	editcap -s $((28 + snap)) "$T/v.pcap" "$T/snap.pcap" || fail "editcap failed"
	tshark -X lua_script:"$LUA" -r "$T/snap.pcap" -T fields -e _ws.expert.message >"$T/snap" 2>&1 ||
		fail "tshark failed on the $snap-byte snapshot"
	grep -qi 'lua error' "$T/snap" && fail "a Lua error with a $snap-byte snapshot: $(grep -i 'lua error' "$T/snap" | head -n 1)"
done
echo "ok   snapshots cut at 30, 40, 64 and 100 bytes of payload raise no Lua error"

# every packet type appears, both through the heuristic (random ports) and on port 7807
for name in HELLO COOKIE INITIATE ACCEPT DATA VERSION REGISTER REGISTERED INTRO_REQUEST INTRO INTRO_FAIL \
	RELAY RELAYED PUNCH INTRO_REFUSE FILTER LIFE_REQ LIFE_ACK LIFE_PROBE 'PROBE REQUEST' 'PROBE REPLY' \
	INTRO_OFFER INTRO_ACCEPT; do
	c=$(tshark -X lua_script:"$LUA" -r "$T/v.pcap" -Y "konce.packet == \"$name\" && udp.dstport != 7807" \
		-T fields -e frame.number 2>/dev/null | wc -l)
	[ "$c" -ge 1 ] || fail "$name was not claimed by the heuristic"
done
echo "ok   the heuristic claims every packet type on random ports"

# field values: the handshake vectors (docs/PROTOCOL.md section 9) and the generated packets
f() { # f FILTER FIELD...: the fields of the frames matching FILTER, one line per frame
	local filter="frame.number <= $last && ($1)"
	shift
	tshark -X lua_script:"$LUA" -r "$T/v.pcap" -Y "$filter" -T fields -E separator=' ' -E occurrence=a \
		"${@/#/-e}" 2>/dev/null
}
last=$(grep -vc ' any ' "$T/expect") # then come the mutated copies
first=$((last - 5))                    # the five handshake vectors come just before them
vf() { f "frame.number > $first && $1" "${@:2}"; }
check "HELLO vector: client cid 11..11, time 1000, versions 1" \
	[ "$(vf 'konce.packet == "HELLO"' konce.client_cid konce.client_time konce.version)" = "1111111111111111 1000 1" ]
check "COOKIE vector: challenge, server time, key id, MAC" \
	[ "$(vf 'konce.packet == "COOKIE"' konce.challenge konce.server_time konce.key_id konce.mac)" = \
		"0x0123456789abcdef 2000 1 42b320b0f47be2d316c9f340de3374bb" ]
check "INITIATE vector: box 1 is 72 bytes + tag, box 2 (MESSAGE \"hello?\") 9 bytes + tag" \
	[ "$(vf 'konce.packet == "INITIATE"' konce.encrypted.len konce.tag)" = \
		"72,9 91732a59be34f892b2f38e90506cb919,40d96812898a66b312c37277eaa867d0" ]
check "ACCEPT vector: cids 11..11 -> 22..22, 6 encrypted bytes + tag" \
	[ "$(vf 'konce.packet == "ACCEPT"' konce.client_cid konce.server_cid konce.encrypted.len)" = \
		"1111111111111111 2222222222222222 6" ]
check "DATA vector: dcid 22..22, pn 2 in a 1-byte window, 7 encrypted bytes + tag" \
	[ "$(vf 'konce.packet == "DATA"' konce.data.dcid konce.data.pn konce.data.pn_len konce.encrypted.len)" = \
		"2222222222222222 2 1 7" ]
check "DATA: pn 300000 with nothing acked travels in a 4-byte window, key phase 1" \
	[ "$(f 'konce.data.dcid == 5e:5e:5e:5e:5e:5e:5e:5e && udp.dstport == 7807 && !konce.malformed && !konce.rdv.relay.len && !konce.train.count' \
		konce.data.pn konce.data.pn_bits konce.data.flags.key_phase)" = "300000 28 1" ]
check "HELLO copy: the traversal tag names key aa..aa and intro 0x1122334455667788" \
	[ "$(f 'konce.hello.trav.magic && udp.dstport == 7807' konce.hello.trav.magic konce.hello.trav.key konce.hello.trav.intro)" = \
		"KTRV $(printf 'aa%.0s' $(seq 32)) 0x1122334455667788" ]
check "GSO trains come apart: 3 DATA (74, 74, 50 bytes), 3 DATA of 1000, 4 PUNCH of 78" \
	[ "$(f 'konce.train.count && udp.dstport == 7807' konce.train.count konce.train.segment konce.data.pn konce.punch.seq | xargs)" = \
		"3 74 97,98,99 3 1000 70,71,72 4 78 10,11,12,13" ]
check "INTRO_REQUEST: requester aa..aa and target bb..bb in konce's key text (base64url)" \
	[ "$(f 'konce.packet == "INTRO_REQUEST" && udp.dstport == 7807' konce.key_text)" = \
		"qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo,u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7s" ]
check "the probe in ICMP echo and in TCP SYN / SYN-ACK (konce probe --icmp, --tcp) is decoded" \
	[ "$(f 'icmp || tcp' konce.packet konce.probe.transport konce.probe.seq | xargs)" = \
		"PROBE REQUEST 1 7 PROBE REPLY 1 7 PROBE REQUEST 1 7 PROBE REPLY 1 7" ]
check "VERSION lists 2,3,4" [ "$(f 'konce.packet == "VERSION" && udp.dstport == 7807' konce.version)" = "2,3,4" ]
check "REGISTER: a host candidate 10.0.0.2:7807 and a mapped one [2001:db8::5]:7000, sequential NAT" \
	[ "$(f 'konce.packet == "REGISTER" && udp.dstport == 7807 && !konce.malformed' konce.rdv.cand.type \
		konce.addr.ipv4 konce.addr.ipv6 konce.addr.port konce.rdv.nat.mapping konce.rdv.nat.last_port)" = \
		"1,3 10.0.0.2 2001:db8::5 7807,7000 2 40002" ]
check "REGISTERED: reflexive address 203.0.113.50:31000, refresh 20000 ms" \
	[ "$(f 'konce.packet == "REGISTERED" && udp.dstport == 7807' konce.addr.ipv4 konce.addr.port konce.rdv.refresh)" = \
		"203.0.113.50 31000 20000" ]
check "RELAY carries the DATA datagram, named and decoded inside" \
	[ "$(f 'konce.packet == "RELAY" && udp.dstport == 7807 && !konce.malformed' konce.rdv.relay.len konce.packet konce.data.pn)" = \
		"74 DATA,RELAY 300000" ]
check "PUNCH ACK: seq 3, seen 203.0.113.60:40001" \
	[ "$(f 'konce.punch.ack == 1 && udp.dstport == 7807 && !konce.rdv.relay.len' konce.punch.seq konce.addr.ipv4 konce.addr.port)" = \
		"3 203.0.113.60 40001" ]
check "FILTER: the six operations in order" \
	[ "$(f 'konce.packet == "FILTER" && udp.dstport == 7807' konce.filter.op | xargs)" = "1 2 3 4 5 6" ]
check "LIFE_ACK busy, LIFE_PROBE copy 2, delay 3000 ms" \
	[ "$(f 'konce.packet contains "LIFE_" && udp.dstport == 7807 && !konce.malformed' konce.life.delay konce.life.busy konce.life.copy | xargs)" = \
		"3000 3000 1 3000 2" ]
check "PROBE REPLY: seen 203.0.113.80:1234, TTL 61, alternate 198.51.100.2:3479" \
	[ "$(f 'konce.packet == "PROBE REPLY" && udp.dstport == 7807 && !konce.malformed' konce.probe.ttl konce.addr.ipv4 konce.addr.port)" = \
		"61 203.0.113.80,198.51.100.1,198.51.100.1,198.51.100.2 1234,3478,3479,3479" ]
exit 0
