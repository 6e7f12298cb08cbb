# netsim/lib/impair.sh: link impairments, with tc netem or with netsim-wire, and rates with tbf.
#
# A link is a node's uplink: a veth pair between the node (eth0 on hosts, wan on routers) and its
# parent (the internet's bridge, or the router's lan bridge), named after the node on the parent's
# side.  Every setting applies to each direction:
#   delay=D      adds D to the round trip: D/2 on each direction
#   jitter=J     a normal spread of sigma J/2 on each direction
#   loss=P       P% of packets lost in each direction
#   reorder=P    P% of packets sent early (skipping the delay) in each direction (needs a delay)
#   duplicate=P  P% duplicated in each direction
#   rate=R       a tbf bucket of rate R in each direction (both backends)
# Backends for everything but rate (chosen once per run, recorded in STATE/impair_backend):
#   netem  tc netem on both ends of the veth pair (netem delays only egress), under the tbf if any.
#   wire   for kernels without sch_netem: the link is spliced into two pairs with netsim-wire in
#          between, in its own namespace ns-RUN-NODE-wire:
#              NODE:eth0 <-> wn [netsim-wire] wp <-> NODE (port of the parent's bridge)
#          netsim-wire (netsim/wire.c) forwards frames both ways, impaired, from AF_PACKET sockets.
#          Live changes rewrite STATE/wire.NODE.conf and send it SIGHUP; "clear" unsplices it.
# NETSIM_IMPAIR=auto (default: netem if the kernel has it, else wire), netem or wire forces one.
# The current settings of each link live in STATE/link.NODE; "impair" merges new ones into them.

# to_us VALUE: 40ms -> 40000
to_us() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "s") n *= 1000000; else if (u == "ms") n *= 1000
		printf "%d\n", n }'
}

# link_ends RUN NODE: print "NS DEV" for both ends of NODE's uplink.
link_ends() {
	local run=$1 n=$2 type parent
	type=$(node_field "$run" "$n" 2)
	parent=$(node_field "$run" "$n" 3)
	if [ "$type" = router ]; then echo "$(ns_name "$run" "$n") wan"; else echo "$(ns_name "$run" "$n") eth0"; fi
	if [ "$parent" = internet ]; then echo "$(ns_name "$run" inet) $n"; else echo "$(ns_name "$run" "$parent") $n"; fi
}

# find_wire: the netsim-wire binary: $NETSIM_WIRE if set (and then only that), else beside the
# installed lib, else in the source tree's default build dir.
find_wire() {
	local w
	if [ -n "${NETSIM_WIRE:-}" ]; then
		[ -x "$NETSIM_WIRE" ] && echo "$NETSIM_WIRE"
		return
	fi
	for w in "$NETSIM_LIB/netsim-wire" "${NETSIM_SELF%/*}/../build/netsim-wire"; do
		[ -x "$w" ] && { echo "$w"; return 0; }
	done
	return 1
}

# netem_available NS: can this kernel attach a netem qdisc (tried on NS's loopback)?
netem_available() {
	tc -n "$1" qdisc add dev lo root handle 1: netem delay 0ms 2>/dev/null || return 1
	tc -n "$1" qdisc del dev lo root 2>/dev/null || true
}

# impair_backend RUN: netem or wire, decided on first use and recorded for the run.
impair_backend() {
	local run=$1 f b
	f=$(state_dir "$run")/impair_backend
	if [ -s "$f" ]; then cat "$f"; return 0; fi
	case ${NETSIM_IMPAIR:-auto} in
	netem) netem_available "$(ns_name "$run" inet)" ||
		die $EX_TOOL "NETSIM_IMPAIR=netem, but this kernel has no sch_netem (CONFIG_NET_SCH_NETEM, module sch_netem)"
		b=netem ;;
	wire) find_wire >/dev/null ||
		die $EX_TOOL "NETSIM_IMPAIR=wire, but netsim-wire is not found (${NETSIM_WIRE:+NETSIM_WIRE=$NETSIM_WIRE is not executable; }build it with make, or set NETSIM_WIRE)"
		b=wire ;;
	auto) if netem_available "$(ns_name "$run" inet)"; then b=netem
		elif find_wire >/dev/null; then b=wire
		else die $EX_TOOL "impairments need tc netem or netsim-wire, and neither is here: this kernel has no sch_netem (CONFIG_NET_SCH_NETEM), and netsim-wire was not found (${NETSIM_WIRE:+NETSIM_WIRE=$NETSIM_WIRE is not executable; }build it with make, or set NETSIM_WIRE)"
		fi ;;
	*) die $EX_USAGE "NETSIM_IMPAIR must be auto, netem or wire, not '$NETSIM_IMPAIR'" ;;
	esac
	echo "$b" >"$f"
	echo "$b"
}

# link_backend RUN NODE: what impairs the link now: wire, netem, tbf (rate only) or none.
link_backend() {
	local f
	f=$(state_dir "$1")/link.$2
	if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$(wire_ns "$1" "$2")"; then echo wire
	elif [ -s "$f" ] && grep -qv '^rate=' "$f"; then echo netem
	elif [ -s "$f" ]; then echo tbf
	else echo none; fi
}

wire_ns() { printf 'ns-%s-%s-wire' "$1" "$2"; } # node names have no '-': never a node's namespace

# wire_splice RUN NODE: put a wire namespace into NODE's link (no-op if it is there).  The node's
# own device keeps its addresses and routes: only the parent's end moves into the wire namespace.
wire_splice() {
	local run=$1 n=$2 wns ns dev pns pdev br mac lock
	wns=$(wire_ns "$run" "$n")
	! ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$wns" || return 0
	{ read -r ns dev; read -r pns pdev; } < <(link_ends "$run" "$n")
	if [ "$(node_field "$run" "$n" 3)" = internet ]; then br=br0; else br=lan; fi
	exec {lock}>"$NETSIM_STATE_ROOT/.lock"
	flock "$lock"
	ip netns add "$wns" || die $EX_CLASH "cannot create namespace $wns"
	flock -u "$lock"
	exec {lock}>&-
	ns_sysctls "$wns" wire
	# A bridge takes its lowest port's MAC unless one is set: pin it, or the LAN's gateway MAC
	# could change under the hosts' ARP caches when the port is replaced.
	mac=$(ip -n "$pns" -br link show dev "$br" | awk '{print $3}')
	ip -n "$pns" link set dev "$br" address "$mac"
	ip -n "$pns" link set dev "$pdev" nomaster
	ip -n "$pns" link set dev "$pdev" netns "$wns"
	ip -n "$wns" link set dev "$pdev" name wn
	ip -n "$wns" link add wp type veth peer name "$pdev" netns "$pns"
	ip -n "$pns" link set dev "$pdev" master "$br" up
	ip -n "$wns" link set wn up
	ip -n "$wns" link set wp up
	# One frame per packet (no GSO bursts of 64 KiB), so loss and delay apply per packet.
	ip -n "$ns" link set dev "$dev" gso_max_segs 1
	ip -n "$pns" link set dev "$pdev" gso_max_segs 1
}

# wire_stop RUN NODE: TERM the wire (it prints its counters to STATE/wire.NODE.log), then KILL.
wire_stop() {
	local st pid
	st=$(state_dir "$1")/wire.$2.status
	pid=$(wire_pid "$1" "$2") || return 0
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 40); do alive "$pid" || break; sleep 0.025; done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$st"
}

# wire_pid RUN NODE: the running wire's pid, or fail.
wire_pid() {
	local st pid
	st=$(state_dir "$1")/wire.$2.status
	[ -s "$st" ] || return 1
	pid=$(awk '{print $2}' "$st")
	[[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = netsim-wire ] || return 1
	echo "$pid"
}

# wire_unsplice RUN NODE: stop the wire and join the link's two ends again.
wire_unsplice() {
	local run=$1 n=$2 wns ns dev pns pdev br
	wns=$(wire_ns "$run" "$n")
	ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$wns" || return 0
	{ read -r ns dev; read -r pns pdev; } < <(link_ends "$run" "$n")
	if [ "$(node_field "$run" "$n" 3)" = internet ]; then br=br0; else br=lan; fi
	wire_stop "$run" "$n"
	ip -n "$wns" link del wp # and its peer, the parent's end
	ip -n "$wns" link set dev wn netns "$pns"
	ip -n "$pns" link set dev wn name "$pdev"
	ip -n "$pns" link set dev "$pdev" master "$br" up
	ip -n "$ns" link set dev "$dev" gso_max_segs 65535
	ip netns del "$wns"
	rm -f "$(state_dir "$run")/wire.$n".{conf,status} # the log keeps the wire's final counters
}

# wire_configure RUN NODE SETTINGS: start the wire with SETTINGS, or make a running one reload.
# Returns once the wire says (in its status file) that it runs with them.
wire_configure() {
	local run=$1 n=$2 d wire pid st conf log old now
	d=$(state_dir "$run")
	st=$d/wire.$n.status conf=$d/wire.$n.conf log=$d/wire.$n.log
	printf '%s\n' "$3" >"$conf.tmp" && mv "$conf.tmp" "$conf"
	if pid=$(wire_pid "$run" "$n"); then
		old=$(awk '{print $4}' "$st")
		kill -HUP "$pid"
		for _ in $(seq 200); do
			now=$(awk '{print $4}' "$st" 2>/dev/null)
			[ "$now" = "$old" ] || break
			sleep 0.01
		done
		[ "$now" != "$old" ] || die $EX_FAIL "netsim-wire of link '$n' (pid $pid) did not reload (see $log)"
		grep -q ' ok$' "$st" || die $EX_FAIL "netsim-wire of link '$n' rejected its settings: $(tail -n 1 "$log")"
		return 0
	fi
	wire=$(find_wire) || die $EX_TOOL "netsim-wire not found (build it with make, or set NETSIM_WIRE)"
	rm -f "$st"
	# Its own session, its output in the log: it outlives this command and holds none of its pipes.
	ip netns exec "$(wire_ns "$run" "$n")" setsid "$wire" --config "$conf" --status "$st" wn wp \
		</dev/null >>"$log" 2>&1 &
	for _ in $(seq 200); do
		[ -s "$st" ] && return 0
		alive $! || break
		sleep 0.01
	done
	[ -s "$st" ] || die $EX_FAIL "netsim-wire of link '$n' did not start: $(tail -n 2 "$log" | tr '\n' ' ')"
}

# impair_apply RUN NODE "k=v ...": replace the impairments on both ends with these settings.
impair_apply() {
	local run=$1 n=$2 kv k v delay=0 jitter=0 loss= reorder= dup= rate= netem backend=none ns dev burst
	for kv in $3; do
		k=${kv%%=*} v=${kv#*=}
		case $k in
		delay) delay=$(to_us "$v") ;;
		jitter) jitter=$(to_us "$v") ;;
		loss) loss=${v%\%} ;;
		reorder) reorder=${v%\%} ;;
		duplicate) dup=${v%\%} ;;
		rate) rate=$v ;;
		*) die $EX_USAGE "unknown impairment '$k' (one of: $IMPAIR_KEYS)" ;;
		esac
	done
	[ -z "$reorder" ] || [ "$delay" -gt 0 ] || die $EX_USAGE "reorder needs a delay (reordered packets are sent early)"
	netem="delay $((delay / 2))us"
	[ "$jitter" = 0 ] || netem+=" $((jitter / 2))us distribution normal"
	[ -z "$loss" ] || netem+=" loss $loss%"
	[ -z "$reorder" ] || netem+=" reorder $reorder%"
	[ -z "$dup" ] || netem+=" duplicate $dup%"
	if [ "$netem" != "delay 0us" ]; then backend=$(impair_backend "$run") || exit $?; fi
	if [ "$backend" = wire ]; then wire_splice "$run" "$n"; else wire_unsplice "$run" "$n"; fi
	while read -r ns dev; do
		ip -n "$ns" link show dev "$dev" >/dev/null 2>&1 || die $EX_NORUN "link '$n': device $dev missing in $ns"
		tc -n "$ns" qdisc del dev "$dev" root 2>/dev/null || true
		[ -n "$(echo "$3")" ] || continue
		local parent=root
		if [ -n "$rate" ]; then
			burst=$(awk -v r="$rate" 'BEGIN { n = r + 0; u = r; sub(/^[0-9.]+/, "", u)
				m = (u == "gbit") ? 1e9 : (u == "mbit") ? 1e6 : (u == "kbit") ? 1e3 : 1
				b = int(n * m / 8 / 100); if (b < 3200) b = 3200; print b }')
			tc -n "$ns" qdisc add dev "$dev" root handle 1: tbf rate "$rate" burst "$burst" latency 200ms ||
				die $EX_FAIL "tc tbf failed on $ns/$dev"
			parent="parent 1:1"
		fi
		[ "$backend" = netem ] || continue
		local err
		if ! err=$(tc -n "$ns" qdisc add dev "$dev" $parent handle 10: netem $netem limit 10000 2>&1); then
			[[ $err != *"kind is unknown"* ]] ||
				err="this kernel has no sch_netem (CONFIG_NET_SCH_NETEM, module sch_netem)"
			die $EX_FAIL "tc netem on $ns/$dev failed: $err"
		fi
	done < <(link_ends "$run" "$n")
	if [ "$backend" = wire ]; then
		wire_configure "$run" "$n" "$(awk -v d="$delay" -v j="$jitter" -v l="${loss:-0}" -v r="${reorder:-0}" -v u="${dup:-0}" \
			'BEGIN { printf "delay=%dus jitter=%dus dist=normal loss=%.4f%% reorder=%.4f%% duplicate=%.4f%%", int(d / 2), int(j / 2), l, r, u }')"
	fi
	echo "$3" | tr ' ' '\n' | sed '/^$/d' >"$(state_dir "$run")/link.$n"
}

# impair_merge OLD NEW: key=value lists, NEW wins; "clear" empties.
impair_merge() {
	local -A cur=()
	local kv order=()
	for kv in $1 $2; do
		if [ "$kv" = clear ]; then cur=() order=(); continue; fi
		[ -n "${cur[${kv%%=*}]+x}" ] || order+=("${kv%%=*}")
		cur[${kv%%=*}]=${kv#*=}
	done
	for kv in "${order[@]}"; do [ -z "${cur[$kv]+x}" ] || printf '%s=%s ' "$kv" "${cur[$kv]}"; done
}

