#!/usr/bin/env bash
# NAT rebinding under a live konce session: a's node (behind a port-restricted cone NAT) has a
# session with pub's node; `netsim nat nat flush` makes the NAT forget every mapping, so a's next
# packet leaves from a new external port.  The session must carry on over the SAME connection ids:
#   - pub's `konce peers --json` shows a's key at the new mapped address;
#   - pub's path_changed counter went up by one (path validated: PATH_CHALLENGE/RESPONSE);
#   - no new handshake on either side: pub's hello_rx, initiate_rx, accept_tx and sessions_opened,
#     and a's sessions_opened, are unchanged (in-memory counters: the peers list's "handshakes"
#     comes from the presence store, whose batched writes can lag behind);
#   - pings after the move are answered.
# The router uses allocation=random: with the preset's port preservation the NAT would hand a
# the same external port again after the flush, and nothing would have moved.
#
# The first request after the rebinding must be answered too: pub first answers it on the old,
# still-validated path (the new one is only being probed) and the NAT drops that answer, but the
# reliable message layer resends it, and the resend goes out on the new path once it is validated.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"

run=kr$$
KRUN=$run
sed 's/preset=port-restricted-cone/& allocation=random/' "$TOPOS/port-restricted-cone.topo" >"$KTMP/rebind.topo"
kup "$KTMP/rebind.topo" "$run"
pubip=$(kaddr "$run" pub) wan=$(kaddr "$run" nat) aip=$(kaddr "$run" a)
kstart "$run" pub P "$pubip:7807"
kstart "$run" a A "$aip:0"
kp=$(kfield "$run" P "public key") ka=$(kfield "$run" A "public key")

out=$(kcli "$run" a A connect "$kp@$pubip:7807") || fail "connect failed: $out"
echo "     $out"
out=$(kcli "$run" a A ping --json -c 2 -i 0.2 -W 2 "$kp") || fail "ping before the rebinding failed: $out"
check "2 of 2 pings answered before the rebinding" jqt "$out" '.received == 2'

# peer_field NODE NAME KEY FIELD;  counter NAME COUNTER
peer_field() { kcli "$run" "$1" "$2" peers --json | jq -r ".peers[] | select(.public_key == \"$3\") | .$4"; }
counter() { kcli "$run" "$([ "$1" = P ] && echo pub || echo a)" "$1" status --json | jq -r ".counters.$2"; }
hs_counters="hello_rx initiate_rx accept_tx sessions_opened path_changed"
snap() { local c; for c in $hs_counters; do printf '%s=%s ' "$c" "$(counter P "$c")"; done; }

ka=$(kshown "$run" a A "$kp") # the key a shows pub, which pub knows it by
m1=$(peer_field pub P "$ka" address)
before=$(snap)
hs1=$(counter A sessions_opened)
check "before: pub sees a at the NAT's address ($m1)" [ "${m1%:*}" = "$wan" ]
echo "     pub before: $before; a's sessions_opened: $hs1"

# flush until the NAT really picks another port (a random pick can land on the same one)
for try in 1 2 3; do
	"$NETSIM" nat --name "$run" nat flush || fail "netsim nat flush failed"
	out=$(kcli "$run" a A ping --json -c 4 -i 0.3 -W 1.5 "$kp") || true # judged below, from the replies
	echo "     flush $try, then ping -c 4: $(jq -c '[.sent, .received, [.replies[] | .errno // "ok"]]' <<<"$out")"
	m2=$(peer_field pub P "$ka" address)
	[ "$m2" != "$m1" ] && break
done
moved=$out
after=$(snap)
hs2=$(counter A sessions_opened)
echo "     pub after:  $after; a's sessions_opened: $hs2"
echo "     pub saw a at $m1, now at $m2"

check "pub sees a at a new mapped address ($m1 -> $m2)" [ "$m2" != "$m1" ]
check "on the same NAT ($wan)" [ "${m2%:*}" = "$wan" ]
check "pub still has the session up" [ "$(peer_field pub P "$ka" state)" = up ]
for c in hello_rx initiate_rx accept_tx sessions_opened; do
	b=$(grep -o "$c=[0-9]*" <<<"$before") a=$(grep -o "$c=[0-9]*" <<<"$after")
	check "no new handshake: pub's $c unchanged ($b, $a)" [ "$b" = "$a" ]
done
p1=$(grep -o "path_changed=[0-9]*" <<<"$before") p2=$(grep -o "path_changed=[0-9]*" <<<"$after")
check "pub validated the new path: $p1 -> $p2" [ "${p2#*=}" -gt "${p1#*=}" ]
check "a had opened one session before the flush (sessions_opened $hs1)" [ "$hs1" = 1 ]
check "a opened no new session (sessions_opened $hs1 -> $hs2)" [ "$hs2" = 1 ]
check "pub's log says: peer moved to $m2" grep -q "peer moved to $m2" "$KTMP/$run.P.err"

check "the pings after the first one were answered over the moved session" \
	jqt "$moved" '[.replies[1:][] | select(.rtt_ms == null)] | length == 0'
out=$(kcli "$run" a A ping --json -c 3 -i 0.2 -W 2 "$kp") || fail "ping after the rebinding failed: $out"
check "3 of 3 pings answered after the move" jqt "$out" '.received == 3'
out=$(kcli "$run" a A send --json "$kp" "after the rebinding") || fail "send after the rebinding failed: $out"
check "send after the move is answered" jqt "$out" '.outcome == "replied"'
check "and still no new handshake (pub initiate_rx $(counter P initiate_rx))" \
	[ "initiate_rx=$(counter P initiate_rx)" = "$(grep -o "initiate_rx=[0-9]*" <<<"$before")" ]

if jqt "$moved" '.replies[0].rtt_ms != null'; then
	echo "ok   even the first request after the rebinding was answered"
else
	fail "the first request after the rebinding got no answer ($(jq -r '.replies[0].errno' <<<"$moved"))"
fi
kstop "$run" A
kstop "$run" P
echo "ok   both nodes exit 0 on SIGTERM"
