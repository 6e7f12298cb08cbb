#!/usr/bin/env bash
# Path MTU discovery on real links (node/transport/pmtud.h, docs/PROTOCOL.md section 16), on
# links of MTU 9000, 1500 and 1280:
#
#     node A (a, 203.0.113.20, 50 Mbit/s, MTU 9000) --- internet bridge --- node D (d, MTU 9000)
#                                                          |         `----- node C (c, MTU 1500)
#                                               router r (full cone): LAN MTU 1280, and the
#                                                          |   "fragmentation needed" errors it
#                                                          |   would send dropped by nftables
#                                                       node B (b)
#
# A's interface says 9000, so every search starts with an 8972-byte probe.  A sends an 8 MiB file
# to D, C and B, twice each: the search starts with the first and has settled (6 s later) before
# the second.
# nftables counters on the internet's bridge count A's datagrams to each by size (A's interface
# takes no GSO trains, so each datagram crosses the bridge on its own):
#   - A -> D, 9000 all the way: the file goes in datagrams within 100 bytes of 8972 (data packets
#     fill the PLPMTU up to a 64-byte unit), none larger;
#   - A -> C, 1500 at C's port: the bridge drops larger frames silently (no ICMP can exist at
#     layer 2): probes of 1473 bytes go exactly MAX_PROBES (3) times, one of 1472 passes, and the
#     second file goes within 100 bytes of 1472, none larger;
#   - A -> B, a black hole above 1252 bytes of UDP payload (1280 - 28) behind a router that drops
#     its own ICMP errors (its nftables counter shows it tried): 1253 three times, 1252 passes,
#     then within 100 bytes of 1252, none larger.
# Every send is answered.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"
# shellcheck source=tests/netsim/pmtud_lib.sh
. "$(dirname "$0")/pmtud_lib.sh"

pmtud_up pm <<'T'
host c addr=203.0.113.30
host d addr=203.0.113.40
router r preset=full-cone
host b behind r
T

# jumbo frames from A to D; C's port and LAN stay at 1500
for dev in a d; do ip -n "$(ns inet)" link set dev "$dev" mtu 9000; done
for h in a d; do ip -n "$(ns "$h")" link set dev eth0 mtu 9000; done
# B's LAN carries 1280-byte packets; the router's errors about it are dropped
ip -n "$(ns r)" link set dev b mtu 1280
ip -n "$(ns r)" link set dev lan mtu 1280
ip -n "$(ns b)" link set dev eth0 mtu 1280
pmtud_quiet_router
pmtud_single_frames
declare -A DEST=([d]=203.0.113.40 [c]=203.0.113.30 [b]=$(kaddr "$run" r)) SIZEOF=([d]=8972 [c]=1472 [b]=1252)
for to in d c b; do pmtud_count "$to" "${DEST[$to]}" "${SIZEOF[$to]}"; done

kstart "$run" a A 203.0.113.20:7807
kstart "$run" c C 203.0.113.30:7807
kstart "$run" d D 203.0.113.40:7807
kb_addr=$(kaddr "$run" b)
kstart "$run" b B "$kb_addr:7807"
ka=$(kfield "$run" A "public key") kc=$(kfield "$run" C "public key")
kd=$(kfield "$run" D "public key")
out=$(kcli "$run" a A connect --json "$kc@203.0.113.30:7807") || fail "A -> C connect failed: $out"
out=$(kcli "$run" a A connect --json "$kd@203.0.113.40:7807") || fail "A -> D connect failed: $out"
out=$(kcli "$run" b B connect --json "$ka@203.0.113.20:7807") || fail "B -> A connect failed: $out"
# B dialled A, so A knows B by the per-server key B shows it (docs/KEYS.md), not B's master key
kb_shown=$(kshown "$run" b B "$ka")
[ -n "$kb_shown" ] || fail "B has no session to A"
declare -A KEY=([d]=$kd [c]=$kc [b]=$kb_shown)
head -c "$SIZE" /dev/urandom >"$KTMP/big"

for to in d c b; do
	pmtud_stage "A -> $to" "$to" "${DEST[$to]}" "${SIZEOF[$to]}" "${KEY[$to]}"
done
drops=$(pmtud_router_drops)
echo "     the router dropped $drops of its own fragmentation-needed errors"
check "the router would have told A (ICMP fragmentation needed), and nftables kept it quiet" [ "$drops" -gt 0 ]
out=$(kcli "$run" b B send --json "$ka" "still there") || fail "B's send failed: $out"
check "a short message still goes both ways" jqt "$out" '.outcome == "replied"'
echo "test_pmtud: ok"
