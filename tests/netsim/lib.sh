# tests/netsim/lib.sh: shared by the netsim scenario tests.  Sourcing it skips the test (exit 77,
# with the reason) unless we are root with the tools and the udpecho helper; it gives each test
# unique run names and tears every run down on exit.
set -euo pipefail
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/netsim/check.sh
. "$TOP/tests/netsim/check.sh"
check_lint "$0" || { echo "FAIL: $0: a check followed by &&, || or | (see tests/netsim/check.sh)"; exit 1; }
NETSIM=$TOP/netsim/netsim
TOPOS=$TOP/netsim/topologies
UDPECHO=${NETSIM_TOOLS:-$TOP/build/tests/netsim}/udpecho
export NETSIM_WIRE=${NETSIM_WIRE:-$TOP/build/netsim-wire}

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "netsim needs root (network namespaces, nftables)"
for t in ip nft tc "$@"; do command -v "$t" >/dev/null || skip "missing tool $t"; done
[ -x "$UDPECHO" ] || skip "udpecho not built ($UDPECHO; run make tests)"
ip netns add "nsprobe$$" 2>/dev/null || skip "cannot create network namespaces here"
ip netns del "nsprobe$$"

RUNS=()
cleanup() {
	local r
	for r in "${RUNS[@]}"; do "$NETSIM" down --name "$r" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
# A failing command outside check still says so.
trap 'echo "FAIL: $(basename "$0"):$LINENO: $BASH_COMMAND"' ERR

# up FILE RUN: bring a run up (quietly) and register it for cleanup.
up() {
	RUNS+=("$2")
	"$NETSIM" up "$1" --name "$2" --quiet
}
nx() { local r=$1 n=$2; shift 2; "$NETSIM" exec --name "$r" "$n" -- "$@"; }

# reflect RUN: start the reflector on pub: sockets 0..3 = IP1:3478 IP1:3479 IP2:3478 IP2:3479.
reflect() {
	local ips
	ips=($("$NETSIM" addr --name "$1" pub))
	nx "$1" pub "$UDPECHO" serve "${ips[0]}:3478" "${ips[0]}:3479" "${ips[1]}:3478" "${ips[1]}:3479" \
		>/dev/null 2>&1 &
	P0=${ips[0]}:3478 P1=${ips[0]}:3479 P2=${ips[1]}:3478 P3=${ips[1]}:3479
	local i
	for i in $(seq 50); do # until it answers
		[ "$(nx "$1" pub "$UDPECHO" probe bind s 0 send s "$P0" who recv s 100)" != timeout ] && return 0
	done
	fail "reflector on pub did not start"
}

# probe RUN NODE STEP...: udpecho probe inside NODE
probe() { local r=$1 n=$2; shift 2; nx "$r" "$n" "$UDPECHO" probe "$@"; }

# mapped "FROM TEXT" -> TEXT (the endpoint the reflector saw), or "timeout"
seen() { if [ "$1" = timeout ]; then echo timeout; else echo "${1#* }"; fi; }
port() { echo "${1##*:}"; }

# catch RUN NODE PORT MS SENDER STEP...: bind NODE:PORT, wait until it is really bound, run the
# probe STEPs on SENDER, and print what NODE received ("timeout" if nothing).  NODE listens for MS +
# CATCH_SLACK_MS ms from its bind, so that MS is left after the sender starts: under load
# (test_presets.sh runs nine topologies at once on two cores) seeing the bind and starting the
# sender through `netsim exec` can take most of a second, and a CI run's restricted-cone preset
# read a working hairpin as none with a 1,000 ms window from the bind.
CATCH_SLACK_MS=2000
catch() {
	local r=$1 n=$2 port=$3 ms=$4 sn=$5 out pid i
	shift 5
	out=$(mktemp)
	probe "$r" "$n" bind c "$port" recv c "$((ms + CATCH_SLACK_MS))" >"$out" &
	pid=$!
	for i in $(seq 200); do
		[ -z "$(nx "$r" "$n" ss -Hlun "sport = :$port")" ] || break
		sleep 0.01
	done
	probe "$r" "$sn" "$@" >/dev/null
	wait "$pid" || true
	cat "$out"
	rm -f "$out"
}
