#!/usr/bin/env bash
# test_service.sh - the systemd unit that `make install` puts in PREFIX/lib/systemd/system passes
# `systemd-analyze verify` without a single warning, runs the installed binary with flags
# `konce node` accepts, keeps its data and control socket in the directories systemd makes for it,
# and has a LimitMEMLOCK that covers what a node with the default session count locks.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
K=${KONCE_BIN:-$root/build/konce}
build=$(cd "$(dirname "$K")" && pwd)
[[ -x $build/konce ]] || { echo "no konce in $build (build first, or set KONCE_BIN)"; exit 1; }
if ! command -v systemd-analyze >/dev/null || ! command -v man >/dev/null; then
	# make deps installs both (systemd, man-db); CI must not pass without them
	[[ ${CI:-} == true ]] && { echo "FAIL: systemd-analyze or man missing (make deps)"; exit 1; }
	echo "skip: systemd-analyze or man missing (make deps installs them)"
	exit 77
fi

tmp=$(mktemp -d /tmp/konce-test-service.XXXXXX)
node=
cleanup() {
	[[ -n $node ]] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
dest=$tmp/dest
fail() { echo "FAIL: $*"; exit 1; }

env -u MAKEFLAGS -u MAKELEVEL make --no-print-directory -C "$root" BUILD="$build" install DESTDIR="$dest" PREFIX=/usr \
	>"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "make install"; }
unit=$dest/usr/lib/systemd/system/konce.service
[[ -f $unit ]] || fail "make install did not install /usr/lib/systemd/system/konce.service"

# key NAME: the value of the unit's (last, uncommented) NAME= line
key() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
exec_start=$(key ExecStart)
read -r -a argv <<<"$exec_start"
[[ ${argv[0]} == /usr/bin/konce ]] || fail "ExecStart runs ${argv[0]}, not PREFIX/bin/konce (/usr/bin/konce)"
[[ -x $dest${argv[0]} ]] || fail "ExecStart's ${argv[0]} is not installed"

# verify: the installed unit, with only ExecStart's path moved into DESTDIR (verify checks that the
# binary exists) and man looking there for the Documentation= pages.  Any output is a finding: verify
# exits 0 on unknown keys and invalid values, and only says so.
mkdir -p "$tmp/verify"
sed "s|^ExecStart=/usr/bin/konce |ExecStart=$dest/usr/bin/konce |" "$unit" >"$tmp/verify/konce.service"
rc=0
MANPATH=$dest/usr/share/man systemd-analyze verify "$tmp/verify/konce.service" >"$tmp/verify.out" 2>&1 || rc=$?
[[ $rc == 0 && ! -s $tmp/verify.out ]] || { cat "$tmp/verify.out"; fail "systemd-analyze verify (exit $rc)"; }
echo "ok: systemd-analyze verify: no warnings"

# the hardening the unit promises is there
for want in DynamicUser=yes StateDirectory=konce RuntimeDirectory=konce NoNewPrivileges=yes ProtectSystem=strict \
	ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet=; do
	grep -qx "$want" "$unit" || fail "the unit lacks $want"
done
for k in MemoryMax LimitMEMLOCK RestrictAddressFamilies SystemCallFilter; do
	[[ -n $(key "$k") ]] || fail "the unit sets no $k"
done

# ExecStart's data and control paths are the directories systemd makes (StateDirectory, RuntimeDirectory)
data=
ctl=
for ((i = 1; i < ${#argv[@]}; i++)); do
	case ${argv[i]} in
	--data) data=${argv[i + 1]} ;;
	--control) ctl=${argv[i + 1]} ;;
	esac
done
[[ ${argv[1]} == node ]] || fail "ExecStart does not run konce node"
[[ $data == "/var/lib/$(key StateDirectory)" ]] || fail "--data $data is not /var/lib/StateDirectory"
[[ $(dirname "$ctl") == "/run/$(key RuntimeDirectory)" ]] || fail "--control $ctl is not in /run/RuntimeDirectory"

# The installed binary takes ExecStart's flags: run it with the paths moved under tmp, on a free
# loopback port, and reach it through the control socket.  As systemd would run it: an empty
# environment, RLIMIT_MEMLOCK at the unit's LimitMEMLOCK, and (as root) an unprivileged user, not
# root, owning its two directories (mode 0700) - DynamicUser's shape, without the sandbox.
memlock=$(numfmt --from=iec "$(key LimitMEMLOCK)")
memmax=$(numfmt --from=iec "$(key MemoryMax)")
mkdir -p "$tmp$data" "$tmp$(dirname "$ctl")"
chmod 0700 "$tmp$data" "$tmp$(dirname "$ctl")"
runas=()
if [[ $(id -u) == 0 ]]; then
	chown 65534:65534 "$tmp$data" "$tmp$(dirname "$ctl")"
	chmod 0755 "$tmp" "$tmp/var" "$tmp/var/lib" "$tmp/run"
	runas=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
fi
args=()
for a in "${argv[@]:1}"; do
	case $a in
	"$data" | "$ctl") args+=("$tmp$a") ;;
	*) args+=("$a") ;;
	esac
done
prlimit --memlock="$memlock:$memlock" "${runas[@]}" env -i HOME=/ PATH=/usr/bin:/bin \
	"$dest/usr/bin/konce" "${args[@]}" --listen 127.0.0.1:0 >"$tmp/node.out" 2>"$tmp/node.err" &
node=$!
for _ in $(seq 100); do
	[[ -S $tmp$ctl ]] && break
	kill -0 "$node" 2>/dev/null || { cat "$tmp/node.err"; fail "konce ${args[*]} exited"; }
	sleep 0.1
done
[[ -S $tmp$ctl ]] || fail "no control socket at $tmp$ctl"
"$dest/usr/bin/konce" status --control "$tmp$ctl" >"$tmp/status" || fail "konce status over the unit's socket"
grep -qF -- "$(sed -n 's/^public key *//p' "$tmp/node.out")" "$tmp/status" || fail "status does not show the node's key"
[[ -f $tmp$data/identity.key ]] || fail "no identity in the unit's data directory"

owner=$(id -u)
[[ ${#runas[@]} == 0 ]] || owner=65534
[[ $(stat -c %u "$tmp$data/identity.key") == "$owner" ]] || fail "the identity is not the node user's"
# Under LimitMEMLOCK the node still locked its whole session key slab (sodium_malloc() leaves memory
# it cannot lock unlocked, silently): 224 bytes per session at the default --max-sessions 1024
# (node/transport/keyslab.h), plus at least one page for the identity.  MemoryMax is well above an idle node.
[[ $(cat "/proc/$node/comm") == konce ]] || fail "pid $node is not the node"
lck_kb=$(awk '/^VmLck:/ { print $2 }' "/proc/$node/status")
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$node/status")
echo "node as $(stat -c %U "/proc/$node"): VmLck ${lck_kb} kB, VmRSS ${rss_kb} kB; unit: LimitMEMLOCK $memlock B, MemoryMax $memmax B"
((lck_kb * 1024 >= 1024 * 224 + 4096)) || fail "only ${lck_kb} kB locked under LimitMEMLOCK $memlock: the key slab is not all locked"
((lck_kb * 1024 <= memlock)) || fail "the node locks ${lck_kb} kB, more than LimitMEMLOCK $memlock B"
((rss_kb * 1024 * 4 <= memmax)) || fail "MemoryMax $memmax B leaves less than 4x an idle node (${rss_kb} kB)"
echo "ok: the unit's ExecStart runs, its control socket answers, LimitMEMLOCK and MemoryMax fit the node"
