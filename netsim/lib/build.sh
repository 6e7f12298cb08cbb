# netsim/lib/build.sh: "up" and "down": namespaces, links, addresses, routes, then NAT and impairments.
#
# Layout of run RUN:
#   ns-RUN-inet     the internet: one bridge (br0), no addresses, no route anywhere
#   ns-RUN-NODE     one namespace per host and router
#   uplink          veth pair created directly inside the two namespaces (never in the root namespace):
#                   NODE side "eth0" (host) or "wan" (router); parent side named NODE, a port of the
#                   parent's bridge (br0 on the internet, lan on a router)
#   STATE           /run/netsim/RUN: topo (copy), nodes ("NAME TYPE PARENT"), owner, router.R, link.N,
#                   impair_backend, wire.N.{conf,status,log}, miniupnpd.*
#   ns-RUN-N-wire   only for a link impaired by netsim-wire (impair.sh)
# Internet addresses sit on one bridge in two ranges; every internet node routes "default dev IF", so
# all of them are on-link to each other and ARP does the rest.

# build_up RUN FILE: FILE is already parsed (topo_parse) and RUN known not to exist.
build_up() {
	local run=$1 file=$2 d n p ns pns dev
	d=$(state_dir "$run")
	mkdir -p "$d"
	cp "$file" "$d/topo"
	for n in "${NODES[@]}"; do echo "$n ${N_TYPE[$n]} ${N_PARENT[$n]}"; done >"$d/nodes"
	# Who made the run: "down --all" removes only the invoking user's runs (see cmd_down).
	echo "uid=$(run_owner) pid=$$ created=$(date -u +%Y-%m-%dT%H:%M:%SZ) topo=$(readlink -f "$file")" >"$d/owner"

	# Concurrent "ip netns add" calls race while setting up the /run/netns mount and can leave a
	# namespace file that is not a namespace: serialise creation across parallel runs.
	local lock
	exec {lock}>"$NETSIM_STATE_ROOT/.lock"
	flock "$lock"
	for n in inet "${NODES[@]}"; do
		ip netns add "$(ns_name "$run" "$n")" || die $EX_CLASH "cannot create namespace $(ns_name "$run" "$n")"
	done
	flock -u "$lock"
	exec {lock}>&-
	for n in inet "${NODES[@]}"; do ns_sysctls "$(ns_name "$run" "$n")" "${N_TYPE[$n]:-inet}"; done
	ip -n "$(ns_name "$run" inet)" link add br0 type bridge forward_delay 0 mcast_snooping 0
	ip -n "$(ns_name "$run" inet)" link set br0 up
	for n in "${NODES[@]}"; do
		[ "${N_TYPE[$n]}" = router ] || continue
		ns=$(ns_name "$run" "$n")
		ip -n "$ns" link add lan type bridge forward_delay 0 mcast_snooping 0
		ip -n "$ns" addr add "$(lan_ip "$n")" dev lan
		ip -n "$ns" link set lan up
	done
	for n in "${NODES[@]}"; do
		p=${N_PARENT[$n]}
		ns=$(ns_name "$run" "$n")
		if [ "${N_TYPE[$n]}" = router ]; then dev=wan; else dev=eth0; fi
		if [ "$p" = internet ]; then pns=$(ns_name "$run" inet); else pns=$(ns_name "$run" "$p"); fi
		ip -n "$ns" link add "$dev" type veth peer name "$n" netns "$pns" ||
			die $EX_FAIL "cannot create the link of '$n'"
		ip -n "$pns" link set dev "$n" master "$([ "$p" = internet ] && echo br0 || echo lan)" up
		local a
		for a in ${N_ADDRS[$n]}; do ip -n "$ns" addr add "$a" dev "$dev"; done
		ip -n "$ns" link set "$dev" up
		if [ "$p" = internet ]; then
			ip -n "$ns" route add default dev "$dev"
		else
			ip -n "$ns" route add default via "$(lan_ip "$p" | cut -d/ -f1)" dev "$dev"
		fi
	done
	for n in "${NODES[@]}"; do
		[ "${N_TYPE[$n]}" = router ] && router_setup "$run" "$n"
	done
	for n in "${NODES[@]}"; do
		[ -z "${L_IMP[$n]:-}" ] || impair_apply "$run" "$n" "$(impair_merge "" "${L_IMP[$n]}")"
	done
	return 0
}

# ns_sysctls NS TYPE: loopback up, no IPv6 (netsim is IPv4), routers forward and send no redirects.
ns_sysctls() {
	local s='echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
		echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter
		ip link set lo up'
	[ "$2" = router ] && s+='; echo 1 > /proc/sys/net/ipv4/ip_forward
		echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects; echo 0 > /proc/sys/net/ipv4/conf/default/send_redirects'
	nsx "$1" sh -c "$s" || die $EX_FAIL "configuring namespace $1 failed"
}

# down RUN: works from namespace names alone, so a half-built or orphaned run goes too.
build_down() {
	local run=$1 d ns pid found=0
	d=$(state_dir "$run")
	for ns in $(run_namespaces "$run"); do
		found=1
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
	done
	for ns in $(run_namespaces "$run"); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			for _ in 1 2 3 4 5 6 7 8 9 10; do alive "$pid" || break; sleep 0.05; done
			kill -9 "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || { sleep 0.1; ip netns del "$ns"; } ||
			die $EX_FAIL "cannot delete namespace $ns"
	done
	[ -d "$d" ] && found=1
	rm -rf "$d"
	[ $found = 1 ] || die $EX_NORUN "no run named '$run' (netsim ls lists runs)"
}

# draw RUN: an ASCII picture of the topology with addresses (needs topo_parse'd arrays).
draw() {
	echo "internet (ns-$1-inet, bridge br0)"
	draw_children "$1" internet ""
}

draw_children() {
	local run=$1 parent=$2 indent=$3 n kids=() i last branch next desc
	for n in "${NODES[@]}"; do [ "${N_PARENT[$n]}" = "$parent" ] && kids+=("$n"); done
	for i in "${!kids[@]}"; do
		n=${kids[$i]}
		last=$([ "$i" = $((${#kids[@]} - 1)) ] && echo 1 || echo 0)
		if [ "$last" = 1 ]; then branch='`-- ' next='    '; else branch='|-- ' next='|   '; fi
		if [ "${N_TYPE[$n]}" = router ]; then
			desc="router $n [${R_PRESET[$n]}: ${R_MAP[$n]} ${R_FILT[$n]} ${R_ALLOC[$n]} hairpin=${R_HAIR[$n]} timeout=${R_TIMEOUT[$n]}s"
			[ "${R_UDP[$n]}" = allow ] || desc+=" udp=${R_UDP[$n]}"
			[ "${R_UPNP[$n]}" = off ] || desc+=" upnp=${R_UPNP[$n]}"
			desc+="] wan ${N_ADDRS[$n]// /, } lan $(lan_ip "$n")"
		else
			desc="host $n ${N_ADDRS[$n]// /, }"
		fi
		[ -z "${L_IMP[$n]:-}" ] || desc+="  {link:$(impair_merge "" "${L_IMP[$n]}" | sed 's/ $//') via $(link_backend "$run" "$n")}"
		echo "$indent$branch$desc"
		[ "${N_TYPE[$n]}" = router ] && draw_children "$run" "$n" "$indent$next"
	done
	return 0
}
