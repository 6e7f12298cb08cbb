# netsim/lib/common.sh: errors, exit codes, preconditions, run names and the state directory.
# Sourced by netsim/netsim; every other lib file relies on these helpers.

# Exit codes (documented in docs/netsim.md).
readonly EX_FAIL=1      # a command inside the kernel plumbing failed
readonly EX_USAGE=2     # bad command line
readonly EX_TOPO=3      # bad topology file (message names the line)
readonly EX_ROOT=4      # not root
readonly EX_TOOL=5      # a required tool is missing
readonly EX_CLASH=6     # the run already exists, or names clash
readonly EX_NORUN=7     # no such run, host, router or link

NETSIM_STATE_ROOT=${NETSIM_STATE_ROOT:-/run/netsim}
NETSIM_QUIET=${NETSIM_QUIET:-0}

die() { # die CODE MESSAGE...
	local code=$1
	shift
	printf 'netsim: %s\n' "$*" >&2
	exit "$code"
}

info() { [ "$NETSIM_QUIET" = 1 ] || printf '%s\n' "$*"; }

need_root() {
	[ "$(id -u)" = 0 ] || die $EX_ROOT "must run as root (network namespaces and nftables need CAP_NET_ADMIN)"
}

need_tools() { # need_tools TOOL...
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || die $EX_TOOL "missing tool '$t' (Debian: apt-get install $(tool_pkg "$t"))"
	done
}

tool_pkg() {
	case $1 in
	ip | tc) echo iproute2 ;;
	nft) echo nftables ;;
	miniupnpd) echo miniupnpd-nftables ;;
	*) echo "$1" ;;
	esac
}

# Run names become part of namespace names (ns-RUN-NODE), so they may not contain '-':
# that keeps the prefix "ns-RUN-" unambiguous between runs such as "a" and "a-b".
check_run_name() {
	[[ $1 =~ ^[A-Za-z0-9_]{1,16}$ ]] || die $EX_USAGE "bad run name '$1': use 1-16 of [A-Za-z0-9_]"
}

# run_owner: the user behind this command (the sudo caller, not root, when run under sudo).
run_owner() { echo "${SUDO_UID:-$(id -u)}"; }

state_dir() { printf '%s/%s' "$NETSIM_STATE_ROOT" "$1"; }
ns_name() { printf 'ns-%s-%s' "$1" "$2"; } # ns_name RUN NODE

# Namespaces that belong to a run: those with our prefix.  Works without any state file.
run_namespaces() {
	local run=$1 n
	for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ $n == "ns-$run-"* ]] && printf '%s\n' "$n"
	done
	return 0
}

# Runs known either from the state directory or from namespace names.
list_runs() {
	{
		local d
		for d in "$NETSIM_STATE_ROOT"/*/; do
			[ -f "$d/topo" ] && basename "$d"
		done
		ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^ns-\([A-Za-z0-9_]*\)-.*/\1/p' |
			while read -r r; do [ -d "$NETSIM_STATE_ROOT/$r" ] && echo "$r"; done
	} | sort -u
}

# require_run RUN: the run must exist.
require_run() {
	[ -d "$(state_dir "$1")" ] || [ -n "$(run_namespaces "$1")" ] ||
		die $EX_NORUN "no run named '$1' (netsim ls lists runs)"
}

# alive PID: the process exists and is not a zombie (whoever inherits netsim's daemons may never
# reap them, so kill -0 alone would wait for a corpse).
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# nsx NS CMD...: run a command inside a namespace.
nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# The node table written by up: one line per node, "NAME TYPE PARENT".
node_field() { # node_field RUN NODE FIELD(2=type,3=parent)
	awk -v n="$2" -v f="$3" '$1 == n { print $f }' "$(state_dir "$1")/nodes" 2>/dev/null
}

require_node() { # require_node RUN NODE [TYPE]
	local t
	t=$(node_field "$1" "$2" 2)
	[ -n "$t" ] || die $EX_NORUN "run '$1' has no host or router named '$2'"
	[ -z "${3:-}" ] || [ "$t" = "$3" ] || die $EX_USAGE "'$2' is a $t, not a $3"
	# 2>/dev/null: another run's namespace half created or deleted makes `ip netns list` print
	# "Error: Peer netns reference is invalid." for it, which says nothing of this one
	ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$(ns_name "$1" "$2")" ||
		die $EX_NORUN "namespace $(ns_name "$1" "$2") is gone (run half torn down? try netsim down --name $1)"
}
