#!/usr/bin/env bash
# down leaves no namespace, link, nft table, process or state behind: after a clean up, and after
# "kill -9" of netsim in the middle of up.  Also checks how long up and down take for 10 hosts and
# 5 routers against netsim's targets, < 5 s and < 2 s.  Measured on the shared 2-core build machine
# (7 runs): up 266-1294 ms, down 45-283 ms, the high ends under other people's load; the targets
# leave about 4x (up) and 7x (down) over the worst of those.
. "$(dirname "$0")/lib.sh"

root_links() { ip -o link show | awk -F': ' '{print $2}' | sort; }
root_tables() { nft list tables | sort; }
links0=$(root_links) tables0=$(root_tables)

leftovers() { # leftovers RUN: print anything of the run still present
	ip netns list | awk '{print $1}' | grep "^ns-$1-" || true
	[ ! -e "/run/netsim/$1" ] || echo "/run/netsim/$1"
	pgrep -f "/run/netsim/$1/" || true
}

run=td$$
RUNS+=("$run")
start=$(date +%s%N)
time "$NETSIM" up "$TOPOS/big.topo" --name "$run" --quiet
up_ms=$((($(date +%s%N) - start) / 1000000))
check "15 namespaces plus the internet exist" [ "$(ip netns list | grep -c "^ns-$run-")" = 16 ]
nx "$run" pub "$UDPECHO" serve 203.0.113.10:3478 >/dev/null 2>&1 &
sleep 0.2
check "a host behind a nested NAT reaches pub" \
	[ "$(probe "$run" h8 bind s 0 send s 203.0.113.10:3478 who recv s 2000 | cut -d' ' -f2 | cut -d: -f1)" = 11.0.0.13 ]
start=$(date +%s%N)
time "$NETSIM" down --name "$run"
down_ms=$((($(date +%s%N) - start) / 1000000))
echo "speed: up (10 hosts, 5 routers) ${up_ms} ms, down ${down_ms} ms"
check "nothing left after down" [ -z "$(leftovers "$run")" ]
check "up under 5 s ($up_ms ms)" [ $up_ms -lt 5000 ]
check "down under 2 s ($down_ms ms)" [ $down_ms -lt 2000 ]

# kill -9 at several points of up, then down.  The upnp topology also leaves a daemon behind.
for delay in 0.02 0.06 0.12 0.2 0.35; do
	r=tk$$_${delay#0.}
	RUNS+=("$r")
	# Its own process group, killed whole: netsim and whatever ip/nft/tc child it was running.
	setsid "$NETSIM" up "$TOPOS/big.topo" --name "$r" --quiet >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	got=$(ip netns list | grep -c "^ns-$r-" || true)
	"$NETSIM" down --name "$r" >/dev/null 2>&1 || true # "no such run" is fine if nothing was made yet
	left=$(leftovers "$r")
	check "kill -9 after ${delay}s ($got namespaces built): down leaves nothing${left:+ (left: $left)}" [ -z "$left" ]
done
r=tu$$
RUNS+=("$r")
"$NETSIM" up "$TOPOS/upnp.topo" --name "$r" --quiet
check "miniupnpd runs in the upnp run" pgrep -f "/run/netsim/$r/miniupnpd"
"$NETSIM" down --name "$r"
check "miniupnpd gone after down" [ -z "$(leftovers "$r")" ]
check "no link appeared in the root namespace" [ "$(root_links)" = "$links0" ]
check "no nft table appeared in the root namespace" [ "$(root_tables)" = "$tables0" ]

# down --all: only runs in its own state root, only the invoking user's (SUDO_UID under sudo), and
# it names each one it removes or leaves alone.  A private state root keeps this test away from
# any other run on the machine.
sroot=$(mktemp -d)
mine=dm$$ theirs=dt$$ elsewhere=de$$
RUNS+=("$mine" "$theirs" "$elsewhere")
NETSIM_STATE_ROOT=$sroot "$NETSIM" up "$TOPOS/same-lan.topo" --name "$mine" --quiet
NETSIM_STATE_ROOT=$sroot SUDO_UID=4242 "$NETSIM" up "$TOPOS/same-lan.topo" --name "$theirs" --quiet
"$NETSIM" up "$TOPOS/same-lan.topo" --name "$elsewhere" --quiet
check "the owner file records the sudo caller" grep -q '^uid=4242 ' "$sroot/$theirs/owner"
msg=$(NETSIM_STATE_ROOT=$sroot "$NETSIM" down --all 2>&1)
echo "$msg"
check "down --all names the run it removes" grep -q "removing run $mine (uid=0 " <<<"$msg"
check "down --all removed it" [ -z "$(leftovers "$mine")" ]
check "down --all leaves another user's run alone, and says so" grep -q "leaving run $theirs alone: owner uid 4242" <<<"$msg"
check "that run's namespaces are intact" [ "$(ip netns list 2>/dev/null | grep -c "^ns-$theirs-")" = 5 ]
check "that run's state is intact" [ -d "$sroot/$theirs" ]
check "a run in another state root is not even listed" [ -z "$(grep "$elsewhere" <<<"$msg")" ]
check "and is intact" [ "$(ip netns list 2>/dev/null | grep -c "^ns-$elsewhere-")" = 5 ]
msg=$(NETSIM_STATE_ROOT=$sroot "$NETSIM" down --all --any-owner 2>&1)
check "--any-owner names the other user's run" grep -q "removing run $theirs" <<<"$msg"
check "--any-owner removes it" [ ! -d "$sroot/$theirs" ]
"$NETSIM" down --name "$elsewhere"
rm -rf "$sroot"
