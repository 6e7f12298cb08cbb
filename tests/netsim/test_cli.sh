#!/usr/bin/env bash
# The command line: help, exit codes and messages for bad topology lines, name clashes, missing
# tools and non-root callers, exec passing the exit code back, addr, ls and run.
. "$(dirname "$0")/lib.sh"
d=$(mktemp -d)
trap 'rm -rf "$d"; cleanup' EXIT
rc() { set +e; "$@" >"$d/out" 2>&1; echo $?; set -e; }

for c in up down exec addr ls impair nat run; do
	check "$c --help exits 0" [ "$(rc "$NETSIM" "$c" --help)" = 0 ]
	check "$c --help shows usage" grep -q "usage: netsim $c" "$d/out"
done
printf 'host pub\nrouter r preset=nonsense\n' >"$d/bad.topo"
check "unknown preset: exit 3" [ "$(rc "$NETSIM" up "$d/bad.topo" --name cx$$)" = 3 ]
check "unknown preset: the message names line 2" grep -q 'bad.topo:2: unknown preset' "$d/out"
printf '# c\nhost a\n\nhost a\n' >"$d/dup.topo"
check "duplicate name: exit 3" [ "$(rc "$NETSIM" up "$d/dup.topo" --name cx$$)" = 3 ]
check "duplicate name: the message names line 4 and line 2" grep -q 'dup.topo:4: name clash.*line 2' "$d/out"
printf 'host a behind r\n' >"$d/par.topo"
check "unknown parent: exit 3" [ "$(rc "$NETSIM" up "$d/par.topo" --name cx$$)" = 3 ]
check "bad run name: exit 2" [ "$(rc "$NETSIM" up "$TOPOS/full-cone.topo" --name a-b)" = 2 ]
check "nothing was built by the failures" [ -z "$(ip netns list | grep "^ns-cx$$-")" ]

run=cl$$
up "$TOPOS/same-lan.topo" "$run"
check "second up with the same name: exit 6" [ "$(rc "$NETSIM" up "$TOPOS/same-lan.topo" --name "$run")" = 6 ]
check "second up with the same name: says it already exists" grep -q 'already exists' "$d/out"
check "exec passes the exit code back" [ "$(rc "$NETSIM" exec --name "$run" a -- sh -c 'exit 42')" = 42 ]
check "exec runs inside the host" [ "$("$NETSIM" exec --name "$run" b -- cat /proc/net/route | awk 'NR > 1 { print $1 }' | sort -u | tr '\n' ' ')" = "eth0 " ]
check "addr prints both of pub's addresses" [ "$("$NETSIM" addr --name "$run" pub | tr '\n' ' ')" = "203.0.113.10 203.0.113.11 " ]
check "exec on an unknown host: exit 7" [ "$(rc "$NETSIM" exec --name "$run" zz -- true)" = 7 ]
lsrun=$("$NETSIM" ls | grep -A4 "^run $run\$" || true)
check "ls lists the run and its hosts" grep -q 'host *b *behind nat *10.1.0.3' <<<"$lsrun"
check "impair with a bad value: exit 2" [ "$(rc "$NETSIM" impair --name "$run" a loss=lots)" = 2 ]
check "nat on a host: exit 2" [ "$(rc "$NETSIM" nat --name "$run" a flush)" = 2 ]
mkdir "$d/bin" && ln -s "$(command -v ip)" "$(command -v nft)" "$d/bin/" # no tc
check "missing tool: exit 5" [ "$(PATH=$d/bin:/usr/bin:/bin rc /bin/bash "$NETSIM" up "$TOPOS/full-cone.topo" --name zz$$)" = 5 ]
check "missing tool: the message names tc" grep -q "missing tool 'tc'" "$d/out"
# setpriv is util-linux's (Essential in Debian): its absence is a broken system, not a skip
check "not root: exit 4" [ "$(rc setpriv --reuid=65534 --regid=65534 --clear-groups "$NETSIM" ls)" = 4 ]
check "not root: says it must run as root" grep -q 'must run as root' "$d/out"

cat >"$d/scen.sh" <<'S'
# netsim-topology: TOPO
set -e
[ "$($NETSIM addr a)" = 10.1.0.2 ]
$NETSIM exec b -- true
exit 3
S
sed -i "s|TOPO|$TOPOS/same-lan.topo|" "$d/scen.sh"
check "run: the scenario's exit code comes back" [ "$(rc "$NETSIM" run "$d/scen.sh" --name rs$$)" = 3 ]
check "run: no namespace left afterwards" [ -z "$(ip netns list | grep "^ns-rs$$-")" ]
check "run: no state left afterwards" [ ! -e /run/netsim/rs$$ ]
