#!/usr/bin/env bash
# The NAT mapping lifetime, learned by the real node through real conntrack timeouts (issue 7):
#
#     node A (a) --+
#                  +- nat1 (UDP timeout 6 s) --+
#     node E (e) --+                            |
#     node C (c) --+                            +--- internet --- pub: rendezvous R (203.0.113.10)
#                  +- nat2 (UDP timeout 60 s) --+                     node B     (203.0.113.20)
#     node D (d) --+
#
# netsim's timeout=SECONDS sets the router's nf_conntrack_udp_timeout and _stream and the
# timeout of its nft mapping and filter sets.  A, C and D register with R; B registers too and
# is public.  To fit in about 90 s the experiments use short bounds (--nat-lifetime MIN:START:MAX):
#   A: 2:3:12   must learn a lower bound inside (4.5 s, 6 s] and a keepalive below 6 s; then,
#               idle for 15 s (2.5 timeouts), its mapping toward R must never expire (polled every
#               0.5 s in nat1's nft @rev map) and its reflexive address must not change; then B
#               connects to A by key alone (an introduction through R), pings and sends a message;
#               their direct path then idles 12 s and must not be lost (A's keepalive probes on
#               it follow the learned interval, below the default 10 s).
#   C: 4:32:32  behind a 60 s NAT: the first experiment (32 s, the max) succeeds, so C learns
#               >= 32 s and keeps a 24 s keepalive (75% of the start value from the beginning),
#               longer than the fixed 20 s registration refresh.
#   D: off      the fixed keepalives, as a baseline in the same run.  nat2 counts the datagrams
#               from C's and D's node sockets to R, polled every 0.5 s for 75 s: the longest
#               silence of each is its real keepalive.
#   E: off      behind nat1 like A: the control for A's idle check, whose poll must see E's
#               mapping toward R vanish between E's fixed keepalives.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"

run=klt$$
KRUN=$run
topo=$KTMP/lifetime.topo
cat >"$topo" <<'EOF'
internet
router nat1 preset=port-restricted-cone timeout=6
router nat2 preset=port-restricted-cone timeout=60
host a behind nat1
host e behind nat1
host c behind nat2
host d behind nat2
host pub addr=203.0.113.10,203.0.113.20
EOF
kup "$topo" "$run"
aip=$(kaddr "$run" a) cip=$(kaddr "$run" c) dip=$(kaddr "$run" d) eip=$(kaddr "$run" e)
R=203.0.113.10:7807

# nat2 counts what the node sockets of C and D send to R (not the probe socket: another port)
"$NETSIM" exec --name "$run" nat2 -- nft -f - <<NFT || fail "cannot add the counters to nat2"
table ip ltc {
	chain fw {
		type filter hook forward priority 0; policy accept;
		ip saddr $cip udp sport 7807 ip daddr 203.0.113.10 counter
		ip saddr $dip udp sport 7807 ip daddr 203.0.113.10 counter
	}
}
NFT
# counts: "C D" packets so far
counts() {
	"$NETSIM" exec --name "$run" nat2 -- nft -j list table ip ltc |
		jq -r '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | join(" ")'
}

kstart "$run" pub R "$R" --rendezvous yes
kr=$(kfield "$run" R "public key")
kstart "$run" a A "$aip:7807" --rendezvous-peer "$kr@$R" --nat-lifetime 2:3:12
kstart "$run" c C "$cip:7807" --rendezvous-peer "$kr@$R" --nat-lifetime 4:32:32
kstart "$run" d D "$dip:7807" --rendezvous-peer "$kr@$R" --nat-lifetime off
kstart "$run" e E "$eip:7807" --rendezvous-peer "$kr@$R" --nat-lifetime off
kstart "$run" pub B 203.0.113.20:7807 --rendezvous-peer "$kr@$R" --nat-lifetime off
ka=$(kfield "$run" A "public key") kb=$(kfield "$run" B "public key")
t0=$(date +%s)
# "milliseconds C D" every 0.5 s, in the background, until the file "stop" appears
(
	while [ ! -e "$KTMP/stop" ]; do
		echo "$(($(date +%s%N) / 1000000)) $(counts)"
		sleep 0.5
	done
) >"$KTMP/counts" 2>/dev/null &
poller=$!

# waitlearned HOST NAME SECONDS: until netcheck says learned; prints the JSON
waitlearned() {
	local out
	for _ in $(seq $(($3 * 2))); do
		out=$(kcli "$run" "$1" "$2" netcheck --json 2>/dev/null) && jqt "$out" '.lifetime.state == "learned"' && break
		sleep 0.5
	done
	echo "$out"
}

out=$(waitlearned a A 60)
echo "     A after $(($(date +%s) - t0)) s: $(jq -c '.lifetime | {state, lower_bound_s, upper_bound_s, keepalive_s, experiments, failures, retries}' <<<"$out")"
check "A learned its mapping lifetime" jqt "$out" '.lifetime.state == "learned"'
check "A's lower bound is within (4.5 s, 6 s] of nat1's 6 s timeout" jqt "$out" '.lifetime.lower_bound_s > 4.5 and .lifetime.lower_bound_s <= 6.05'
check "A's keepalive is below the timeout" jqt "$out" '.lifetime.keepalive_s < 6'
kcli "$run" a A netcheck | grep 'mapping lifetime' | sed 's/^/     A: /'
refl=$(jq -r '.rendezvous[0].reflexive' <<<"$out")

# A is idle (no application traffic) for 15 s; its mapping toward R must hold throughout.  E's,
# held by the fixed keepalives, is the control: it must go missing
gone=0 egone=0
for _ in $(seq 30); do
	map=$("$NETSIM" exec --name "$run" nat1 -- nft -j list map ip netsim rev)
	has_map() { jq -e --arg ip "$1" '[.nftables[] | select(.map) | .map.elem[]? | select(.[1].concat? == [$ip, 7807])] | length > 0' <<<"$map" >/dev/null; }
	has_map "$aip" || gone=$((gone + 1))
	has_map "$eip" || egone=$((egone + 1))
	sleep 0.5
done
check "A's mapping toward R never expired while idle (30 polls, missing in $gone)" [ "$gone" = 0 ]
check "the control E (fixed keepalives, same NAT) lost its mapping in $egone of 30 polls" [ "$egone" -gt 0 ]
out=$(kcli "$run" a A netcheck --json) || fail "netcheck on A failed"
check "A's reflexive address did not change ($refl)" jqt "$out" ".rendezvous[0].reflexive == \"$refl\" and .lifetime.rebounds == 0"

# after the idle period, B reaches A by key alone: R introduces them over A's held session
out=$(kcli "$run" pub B connect --json "$ka") || fail "connect B -> A by key failed: $out"
check "B connected to A by key after A's idle period" jqt "$out" ".ok == true and .public_key == \"$ka\""
out=$(kcli "$run" pub B ping --json -c 3 -i 0.2 -W 3 "$ka") || fail "ping B -> A failed: $out"
check "3 of 3 pings from B answered by A" jqt "$out" '.sent == 3 and .received == 3'
out=$(kcli "$run" pub B send --json "$ka" "after the idle period") || fail "send B -> A failed: $out"
check "B's message is answered" jqt "$out" '.ok == true and .outcome == "replied"'
check "A logged the message from B's key" grep -q "message from $kb: after the idle period" "$KTMP/$run.A.err"
# the direct path between them idles for 12 s (2 timeouts): A's keepalive probes on it follow the
# learned 3.9 s instead of the default 10 s, so the path is never lost (C learns meanwhile)
# B is public and A's NAT is a port-restricted cone: direct is always possible, so it is required
# (the session may have come up over the relay first: wait for the punch, 10 s at most)
for _ in $(seq 100); do
	out=$(kcli "$run" a A path --json "$kb") || fail "path on A failed"
	jqt "$out" '.state == "direct"' && break
	sleep 0.1
done
echo "     A's path to B: $(jq -c '{state, path, probes: {verified: .probes.verified, lost: .probes.lost}}' <<<"$out")"
check "A's path to the public B is direct" jqt "$out" '.state == "direct"'
sleep 12
out=$(kcli "$run" a A path --json "$kb") || fail "path on A failed"
check "the direct path A-B survived 12 s idle behind the 6 s NAT ($(jq -c '{state, lost: .probes.lost}' <<<"$out"))" \
	jqt "$out" '.state == "direct" and .probes.lost == 0'
out=$(kcli "$run" pub B send --json "$ka" "after the direct path idled") || fail "send B -> A failed: $out"
check "a message over the idle direct path is answered" jqt "$out" '.ok == true and .outcome == "replied"'

out=$(waitlearned c C 40)
echo "     C after $(($(date +%s) - t0)) s: $(jq -c '.lifetime | {state, lower_bound_s, keepalive_s, experiments, failures}' <<<"$out")"
check "C learned >= 32 s (the max) behind the 60 s NAT" jqt "$out" '.lifetime.state == "learned" and .lifetime.lower_bound_s >= 32'
check "C's keepalive (24 s) is longer than the fixed 20 s registration refresh" jqt "$out" '.lifetime.keepalive_s > 20'
out=$(kcli "$run" d D netcheck --json) || fail "netcheck on D failed"
check "D runs with fixed keepalives" jqt "$out" '.lifetime.state == "off"'
kcli "$run" c C netcheck | grep 'mapping lifetime' | sed 's/^/     C: /'
kcli "$run" d D netcheck | grep 'mapping lifetime' | sed 's/^/     D: /'
while [ $(($(date +%s) - t0)) -lt 75 ]; do sleep 1; done
touch "$KTMP/stop"
wait "$poller"
# longest silence (ms) of column COL: between two polls whose counts differ, from the first change
gap() { awk -v c="$1" 'NF == 3 { if (seen && $c != last) { g = $1 - t; if (g > max) max = g } if (!seen || $c != last) { t = $1; last = $c; seen = 1 } } END { print max + 0 }' "$KTMP/counts"; }
cg=$(gap 2) dg=$(gap 3)
read -r _ cn dn <<<"$(tail -n1 "$KTMP/counts")"
echo "     node socket -> R over $(($(date +%s) - t0)) s: C (learned) $cn datagrams, longest silence $((cg / 1000)).$((cg % 1000 / 100)) s; D (fixed) $dn datagrams, longest silence $((dg / 1000)).$((dg % 1000 / 100)) s"
check "C's longest silence toward R is longer than 21 s (its 24 s keepalive)" [ "$cg" -gt 21000 ]
check "D's longest silence is at most 21 s (the fixed 20 s refresh), shorter than C's" [ "$dg" -le 21000 -a "$dg" -lt "$cg" ]
out=$(kcli "$run" c C netcheck --json) || fail "netcheck on C failed"
check "C is still registered" jqt "$out" '.registered and .rendezvous[0].session'
echo "     total $(($(date +%s) - t0)) s"
echo "PASS"
