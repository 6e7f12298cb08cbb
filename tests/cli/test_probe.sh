#!/usr/bin/env bash
# test_probe.sh - `konce probe` over loopback, no root needed (the raw-socket part runs only as root).
# A sub-check that cannot run (no root for the raw sockets, Debian's stun/stund missing) fails under
# CI=true, where `make deps` installs them and CI runs as root; locally it is skipped, and if nothing
# failed the program exits 77 naming what it skipped.
#
#   konce probe listen 127.0.0.1:P1 --also 127.0.0.2:P2      stund -h 127.0.0.1 -a 127.0.0.2 -p S1 -o S2
#        ^   ^   ^                                                ^
#        |   |   +-- Debian's RFC 3489 client `stun`              +-- konce probe stun / nat --proto stun
#        |   +------ konce probe nat (classifies loopback as "open")
#        +---------- konce probe send (mapping equals the real source), garbage, truncated STUN
#   socat "liar" on L: answers every probe with a reply carrying the wrong nonce
set -u
KONCE=${KONCE_BIN:-$(dirname "$0")/../../build/konce}
[ -x "$KONCE" ] || { echo "no konce binary at $KONCE"; exit 1; }
for t in socat ss timeout; do
	command -v "$t" >/dev/null && continue
	[ "${CI:-}" = true ] && { echo "FAIL: missing tool $t (make deps)"; exit 1; }
	echo "SKIP: missing tool $t (make deps)"; exit 77
done
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0 skipped=()
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
# cannot WHAT: a sub-check cannot run here: a failure under CI=true, a named skip otherwise
cannot() {
	if [ "${CI:-}" = true ]; then bad "$* (required under CI=true: make deps, run as root)"; else
		echo "skip: $*"; skipped+=("$*"); fi
}
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
has() { grep -q -- "$2" "$1"; }
# wait_udp PORT: until something listens on UDP PORT (at most 5 s)
wait_udp() {
	for _ in $(seq 50); do
		ss -Hlun "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	echo "nothing came to listen on UDP port $1"
	return 1
}

# Ports unlikely to collide with other test runs on the same machine.
base=$((20000 + ($$ % 2000) * 10))
P1=$base P2=$((base + 1)) S1=$((base + 2)) S2=$((base + 3)) L=$((base + 4)) F=$((base + 5)) F2=$((base + 6))

# 127.0.0.2 answers on Linux loopback without configuration; skip if this system differs.
if ! timeout 2 socat -u /dev/null UDP-SENDTO:127.0.0.2:9,bind=127.0.0.2 2>/dev/null; then
	echo "SKIP: cannot use 127.0.0.2 as a second loopback address"
	exit 77
fi

# --- usage and help ---------------------------------------------------------------------------
for m in listen send stun nat; do
	"$KONCE" probe "$m" --help >/dev/null; check "probe $m --help exits 0" [ $? -eq 0 ]
done
"$KONCE" probe send >/dev/null 2>&1; check "send without a target exits 2" [ $? -eq 2 ]
"$KONCE" probe send 127.0.0.1:1 --command bogus >/dev/null 2>&1; check "unknown --command exits 2" [ $? -eq 2 ]
"$KONCE" probe nat 127.0.0.1:1 --lifetime=99999 >/dev/null 2>&1; check "--lifetime above the bound exits 2" [ $? -eq 2 ]
"$KONCE" probe frobnicate >/dev/null 2>&1; check "unknown mode exits 2" [ $? -eq 2 ]
"$KONCE" probe send no-such-host.invalid:1 >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc -eq 1 ] && has "$tmp/err" "no-such-host.invalid"; then ok "unresolvable host exits 1 and says why"; else bad "unresolvable host exits 1 and says why"; fi

# --- the listener ------------------------------------------------------------------------------
"$KONCE" probe listen 127.0.0.1:$P1 --also 127.0.0.2:$P2 --json --duration 60 >"$tmp/listen.json" 2>"$tmp/listen.err" &
pids+=($!)
wait_udp $P1

"$KONCE" probe send 127.0.0.1:$P1 --from $F --count 3 --interval 10 --json >"$tmp/send.json"
check "send: 3 replies" has "$tmp/send.json" '"event":"summary","sent":3,"replies":3'
check "send: the mapping is the real source 127.0.0.1:$F" has "$tmp/send.json" "\"mapped\":\"127.0.0.1:$F\",\"rewrite\":\"not rewritten\""
check "send: the listener's TTL is shown" has "$tmp/send.json" '"ttl":64'
check "send: the listener's other address is shown" has "$tmp/send.json" "\"other\":\"127.0.0.2:$P2\""

"$KONCE" probe send localhost:$P1 -4 --command other-addr --json >"$tmp/send2.json"
check "send by host name, reply from the other address" has "$tmp/send2.json" "\"from\":\"127.0.0.2:$P2\""
"$KONCE" probe send 127.0.0.1:$P1 --command other-port --json >"$tmp/send3.json"
check "reply from the other port" has "$tmp/send3.json" "\"from\":\"127.0.0.1:$P2\""
"$KONCE" probe send 127.0.0.1:$P1 --from $F2 --command reply-to-port --reply-port $F --json >"$tmp/send4.json"; rc=$?
if [ $rc -eq 1 ] && has "$tmp/send4.json" '"replies":0' && has "$tmp/listen.json" "\"sent_to\":\"127.0.0.1:$F\""; then ok "reply-to-port goes to the other port, not to the sender"; else bad "reply-to-port goes to the other port, not to the sender"; fi
"$KONCE" probe send 127.0.0.1:$P1 --command display >/dev/null; check "display-only exits 0" [ $? -eq 0 ]

# bad input to the listener: garbage, truncated STUN, a malformed probe; it must survive all three
printf 'hello' | socat -u - UDP-SENDTO:127.0.0.1:$P1
printf '\x00\x01\x00\x08\x21\x12\xa4\x42\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x00\x20' | socat -u - UDP-SENDTO:127.0.0.1:$P1
printf 'KPRB\x01\x01\x09\x00' | socat -u - UDP-SENDTO:127.0.0.1:$P1
"$KONCE" probe send 127.0.0.1:$P1 >/dev/null; check "listener alive after bad input" [ $? -eq 0 ]
check "garbage shown as raw bytes" has "$tmp/listen.json" '"kind":"raw","hex":"68656c6c6f"'
check "truncated STUN shown as such" has "$tmp/listen.json" '"kind":"malformed-stun"'
check "malformed probe shown as such" has "$tmp/listen.json" '"kind":"malformed-probe","error":"wrong size for a probe"'

# Debian's stun client (RFC 3489) against the listener
if command -v stun >/dev/null; then
	timeout 20 stun 127.0.0.1:$P1 -v -p $F2 >"$tmp/stunclient.out" 2>&1
	check "Debian stun client gets its mapped address from the listener" has "$tmp/stunclient.out" "MappedAddress = 127.0.0.1:$F2"
	check "Debian stun client sees the listener's changed address" has "$tmp/stunclient.out" "ChangedAddress = 127.0.0.2:$P2"
	check "Debian stun client classifies loopback as open" has "$tmp/stunclient.out" "Primary: Open"
else
	cannot "Debian's stun client (package stun-client) is not installed"
fi

# our own STUN client against our listener
"$KONCE" probe stun 127.0.0.1:$P1 --from $F --json >"$tmp/stun.json"; rc=$?
if [ $rc -eq 0 ] && has "$tmp/stun.json" "\"mapped\":\"127.0.0.1:$F\"" && has "$tmp/stun.json" '"fingerprint":true'; then ok "probe stun against the listener"; else bad "probe stun against the listener"; fi
"$KONCE" probe stun 127.0.0.1:$P1 --change both --json >"$tmp/stun2.json"
check "CHANGE-REQUEST ip+port answered from the other address" has "$tmp/stun2.json" "\"from\":\"127.0.0.2:$P2\""

# classification against the listener: loopback has no NAT
"$KONCE" probe nat 127.0.0.1:$P1 --json --timeout 500 >"$tmp/nat.json"; rc=$?
check "probe nat exits 0" [ $rc -eq 0 ]
check "probe nat: loopback is open, no NAT" has "$tmp/nat.json" '"protocol":"probe","classic":"open","blocked":false,"nat":false'
check "probe nat: filtering endpoint-independent" has "$tmp/nat.json" '"filtering":"EIF"'
check "probe nat: ports preserved" has "$tmp/nat.json" '"port_allocation":"preserving"'

# the lifetime test end to end: no NAT on loopback, so the mapping outlives the (2 s) bound
"$KONCE" probe nat 127.0.0.1:$P1 --json --timeout 500 --lifetime=2 >"$tmp/life.json"; rc=$?
if [ $rc -eq 0 ] && has "$tmp/life.json" '"lifetime":{"alive_after_s":2,"gone_after_s":null}'; then ok "lifetime test bounded at 2 s"; else bad "lifetime test bounded at 2 s"; fi

# a listener that lies: every probe gets a reply with the wrong nonce
reply="KPRB\x01\x02\x01\x01\xde\xad\xbe\xef\xde\xad\xbe\xef"
reply+=$(printf '\\x00%.0s' $(seq 88))
printf "$reply" >"$tmp/liar.bin"
socat UDP-RECVFROM:$L,bind=127.0.0.1,fork SYSTEM:"cat $tmp/liar.bin" 2>/dev/null &
pids+=($!)
wait_udp $L
"$KONCE" probe send 127.0.0.1:$L --timeout 2000 >"$tmp/liar.out"; rc=$?
if [ $rc -eq 1 ] && has "$tmp/liar.out" "wrong nonce"; then ok "a reply with the wrong nonce is shown as such and not counted"; else bad "a reply with the wrong nonce is shown as such and not counted"; fi

# nothing listening: no answer is a failure for send and stun, "blocked" (exit 0) for nat
"$KONCE" probe stun 127.0.0.1:$S2 --timeout 300 >/dev/null; check "stun with no server exits 1" [ $? -eq 1 ]
"$KONCE" probe nat 127.0.0.1:$S2 --timeout 200 --json >"$tmp/blocked.json"; rc=$?
if [ $rc -eq 0 ] && has "$tmp/blocked.json" '"classic":"blocked","blocked":true'; then ok "nat with no server reports blocked, exit 0"; else bad "nat with no server reports blocked, exit 0"; fi

# --- Debian's stund (RFC 3489) as the server ----------------------------------------------------
if command -v stund >/dev/null; then
	stund -h 127.0.0.1 -a 127.0.0.2 -p $S1 -o $S2 >"$tmp/stund.out" 2>&1 &
	pids+=($!)
	wait_udp $S1
	"$KONCE" probe stun 127.0.0.1:$S1 --from $F2 --json >"$tmp/stund.json"; rc=$?
	if [ $rc -eq 0 ] && has "$tmp/stund.json" "\"mapped\":\"127.0.0.1:$F2\""; then ok "probe stun against Debian's stund"; else bad "probe stun against Debian's stund"; fi
	check "stund's CHANGED-ADDRESS understood" has "$tmp/stund.json" "\"other\":\"127.0.0.2:$S2\""
	"$KONCE" probe nat 127.0.0.1:$S1 --proto stun --json --timeout 500 >"$tmp/stundnat.json"; rc=$?
	if [ $rc -eq 0 ] && has "$tmp/stundnat.json" '"protocol":"stun","classic":"open"' && has "$tmp/stundnat.json" '"filtering":"EIF"'; then ok "probe nat against stund: open, EIF"; else bad "probe nat against stund: open, EIF"; fi
else
	cannot "Debian's stund (package stun-server) is not installed"
fi

# --- raw transports ----------------------------------------------------------------------------
R=$((base + 7))
if [ "$(id -u)" = 0 ]; then
	"$KONCE" probe listen 127.0.0.1:$R --icmp --tcp --duration 20 >"$tmp/raw.out" 2>&1 &
	pids+=($!)
	wait_udp $R
	"$KONCE" probe send 127.0.0.1 --icmp --from 4242 --json >"$tmp/icmp.json"; rc=$?
	if [ $rc -eq 0 ] && has "$tmp/icmp.json" '"mapped":"127.0.0.1:4242"'; then ok "probe in ICMP echo answered in-band"; else bad "probe in ICMP echo answered in-band"; fi
	"$KONCE" probe send 127.0.0.1:$R --tcp --from $F --json >"$tmp/tcp.json"; rc=$?
	if [ $rc -eq 0 ] && has "$tmp/tcp.json" "\"mapped\":\"127.0.0.1:$F\""; then ok "probe in a fake TCP SYN answered with a SYN-ACK"; else bad "probe in a fake TCP SYN answered with a SYN-ACK"; fi
else
	"$KONCE" probe send 127.0.0.1 --icmp >/dev/null 2>"$tmp/eperm"; rc=$?
	if [ $rc -eq 1 ] && has "$tmp/eperm" "CAP_NET_RAW"; then ok "raw mode without privilege says why"; else bad "raw mode without privilege says why"; fi
	cannot "the ICMP and fake-TCP probes need root (raw sockets)"
fi

echo "test_probe: $fails failure(s), ${#skipped[@]} sub-check(s) skipped"
[ $fails -eq 0 ] || exit 1
if [ ${#skipped[@]} -gt 0 ]; then
	echo "SKIP: $(IFS=';'; echo "${skipped[*]}")"
	exit 77
fi
exit 0
