#!/usr/bin/env bash
# Path MTU discovery when the path changes under a live session (node/transport/pmtud.h, docs/PROTOCOL.md
# section 16): the session grows to a jumbo PLPMTU, then its path shrinks twice, and it must keep
# delivering and settle, each time, at exactly the largest datagram the new path carries.
#
#     node A (a, 203.0.113.20, 50 Mbit/s, MTU 9000) --- internet bridge (9000) --- router r (full cone,
#                                                       random ports): wan 9000, LAN 9000 -> 1500 -> 1280,
#                                                       its "fragmentation needed" errors dropped by nftables
#                                                          |
#                                                       node B (b)
#
# B dials A; A sends B an 8 MiB file in each stage, twice: the search runs during the first (and the
# 6 s after it), the second shows where it settled.  A's interface says 9000 throughout and no ICMP
# ever reaches it, so its kernel never learns of a smaller path: every size comes from konce's probes.
#   1. 9000 all the way: probes of 8972 bytes pass, and the second file goes in datagrams within 100
#      bytes of 8972.
#   2. A migration onto a smaller path: the NAT forgets its mappings (B's next packet leaves from a
#      new port) at the moment r's LAN shrinks to 1500.  A sees B at a new address (its path_changed
#      counter goes up), which restarts the search from the base size (pmtu_resets goes up,
#      pmtu_blackholes does not): 1473 is probed exactly MAX_PROBES (3) times, 1472 passes, and the
#      second file goes within 100 bytes of 1472, none larger.
#   3. No migration, a black hole: r's LAN shrinks to 1280 while A sends at 1472.  A's large
#      datagrams vanish (the router's errors are dropped), A detects the black hole from the losses
#      alone (pmtu_blackholes goes up by one, pmtu_resets does not), and searches again: 1253 three
#      times, 1252 passes, the second file within 100 bytes of 1252, none larger.
# Every send is answered, and A opens no second session to B.
# Datagram sizes are counted by nftables on the internet's bridge, as the frames to r are forwarded.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"
# shellcheck source=tests/netsim/pmtud_lib.sh
. "$(dirname "$0")/pmtud_lib.sh"

pmtud_up ps <<'T'
router r preset=full-cone allocation=random
host b behind r
T

# jumbo frames from A to B: A's link, r's uplink and r's LAN
for dev in a r; do ip -n "$(ns inet)" link set dev "$dev" mtu 9000; done
ip -n "$(ns a)" link set dev eth0 mtu 9000
ip -n "$(ns r)" link set dev wan mtu 9000
lan_mtu() { # lan_mtu MTU: r's LAN (the bridge the router routes into, its port to b) and b's eth0
	ip -n "$(ns r)" link set dev b mtu "$1"
	ip -n "$(ns r)" link set dev lan mtu "$1"
	ip -n "$(ns b)" link set dev eth0 mtu "$1"
}
lan_mtu 9000
pmtud_quiet_router
pmtud_single_frames
WAN=$(kaddr "$run" r)
acount() { kcli "$run" a A status --json | jq -r ".counters.$1"; }

kstart "$run" a A 203.0.113.20:7807
kb_addr=$(kaddr "$run" b)
kstart "$run" b B "$kb_addr:7807"
ka=$(kfield "$run" A "public key")
out=$(kcli "$run" b B connect --json "$ka@203.0.113.20:7807") || fail "B -> A connect failed: $out"
kb=$(kshown "$run" b B "$ka") # the key A knows B by (docs/KEYS.md)
[ -n "$kb" ] || fail "B has no session to A"
head -c "$SIZE" /dev/urandom >"$KTMP/big"

# stage NAME SIZE: the file twice; SIZE is where the search must settle.  The counters were
# started (count_rules SIZE) before the path changed: a search a path change restarts may run ahead
# of the first file.
count_rules() { pmtud_count s "$WAN" "$1"; }
stage() { pmtud_stage "$1" s "$WAN" "$2" "$kb"; }

count_rules 8972
stage "9000 path" 8972

opened=$(acount sessions_opened) moved=$(acount path_changed)
resets=$(acount pmtu_resets) holes=$(acount pmtu_blackholes)
count_rules 1472
"$NETSIM" nat --name "$run" r flush || fail "netsim nat flush failed"
lan_mtu 1500
# B's next packet leaves from a new port: A must see B move (a random pick can land on the same
# port: then flush again)
for _ in 1 2 3; do
	out=$(kcli "$run" b B send --json "$ka" "moved") || fail "B's send after the flush failed: $out"
	jqt "$out" '.outcome == "replied"' || fail "B's send after the flush not answered: $out"
	[ "$(acount path_changed)" -gt "$moved" ] && break
	"$NETSIM" nat --name "$run" r flush || fail "netsim nat flush failed"
done
check "A saw B move to a new address (path_changed $moved -> $(acount path_changed))" [ "$(acount path_changed)" -gt "$moved" ]
stage "after the move to a 1500 path" 1472
check "the move restarted A's search (pmtu_resets $resets -> $(acount pmtu_resets))" [ "$(acount pmtu_resets)" -gt "$resets" ]
check "with no black hole to find (pmtu_blackholes $holes -> $(acount pmtu_blackholes))" [ "$(acount pmtu_blackholes)" = "$holes" ]

resets=$(acount pmtu_resets)
count_rules 1252
lan_mtu 1280
stage "after a black hole below 1500 (1280)" 1252
check "A found the black hole from the losses alone (pmtu_blackholes $holes -> $(acount pmtu_blackholes))" \
	[ "$(acount pmtu_blackholes)" = $((holes + 1)) ]
check "with no path change (pmtu_resets $resets -> $(acount pmtu_resets))" [ "$(acount pmtu_resets)" = "$resets" ]

drops=$(pmtud_router_drops)
echo "     the router dropped $drops of its own fragmentation-needed errors"
check "the router would have told A (ICMP fragmentation needed), and nftables kept it quiet" [ "$drops" -gt 0 ]
check "A opened no new session to B (sessions_opened $opened -> $(acount sessions_opened))" \
	[ "$(acount sessions_opened)" = "$opened" ]
out=$(kcli "$run" b B send --json "$ka" "still there") || fail "B's send failed: $out"
check "a short message still goes both ways" jqt "$out" '.outcome == "replied"'
echo "test_pmtud_shrink: ok"
