# netsim/lib/nat.sh: a router's NAT as one nftables table ("ip netsim"), plus miniupnpd.
#
# The RFC 4787 axes map onto nftables like this (W is the router's WAN address):
#   mapping    The external port of an inside endpoint E=(addr,port) lives in the dynamic map
#              @eim, keyed by E (endpoint-independent) or E plus the remote address
#              (address-dependent).  A new flow from E first looks there, so every destination sees
#              the same W:port for as long as the mapping lives; Linux masquerade alone does not
#              promise that.  Address-and-port-dependent mapping has no @eim: every conntrack entry
#              gets its own allocation.
#   allocation preserve: take E's own port unless it is already some mapping's external port
#              (@rev), else a random one.  random: "snat ... random".  sequential: numgen inc from a
#              base chosen at load time, so consecutive mappings get consecutive ports.
#   filtering  Outbound packets record (external port, remote address[, remote port]) in @perm_a and
#              @perm_ap.  A new inbound flow to W:port is DNATed to @rev[port] if the filter allows it:
#              always (endpoint-independent), if @perm_a holds the sender's address
#              (address-dependent), or if @perm_ap holds its address and port (address-and-port-
#              dependent).  Anything else never matches a conntrack entry and is dropped.
#   hairpin    on: an inside packet to W:port is DNATed through @rev and SNATed to the sender's own
#              mapping, so the target sees the sender's external endpoint.
#   timeout    the element timeout of every set, and this netns's nf_conntrack_udp_timeout*.
# The record chain runs after SNAT (priority srcnat + 10) so it sees the external port the kernel
# chose, and refuses (drops) a packet whose external port already belongs to another inside
# endpoint: that can only happen after a random pick collides, and the sender's retry gets a new one.
# Every packet is put in conntrack zone Z; "nat flush" moves the router to a fresh zone and reloads the
# table, so every mapping, conntrack entry and filter permission is forgotten at once (no conntrack
# tool needed).  TCP and other protocols get plain SNAT to W and conntrack-only filtering.

# router_state_write RUN ROUTER: persist what nat set/flush need later.
router_state_write() {
	local r=$2
	{
		echo "preset=${R_PRESET[$r]}"
		echo "mapping=${R_MAP[$r]}"
		echo "filtering=${R_FILT[$r]}"
		echo "allocation=${R_ALLOC[$r]}"
		echo "hairpin=${R_HAIR[$r]}"
		echo "timeout=${R_TIMEOUT[$r]}"
		echo "udp=${R_UDP[$r]}"
		echo "upnp=${R_UPNP[$r]}"
		echo "lan=${R_LAN[$r]}"
		echo "wan=${N_ADDRS[$r]}"
		echo "zone=${R_ZONE[$r]}"
	} >"$(state_dir "$1")/router.$r"
}

declare -A R_ZONE=()

# router_state_read RUN ROUTER: load a router's settings into the R_* arrays.
router_state_read() {
	local r=$2 f k v
	f=$(state_dir "$1")/router.$r
	[ -f "$f" ] || die $EX_NORUN "no NAT state for router '$r' in run '$1'"
	while IFS== read -r k v; do
		case $k in
		preset) R_PRESET[$r]=$v ;; mapping) R_MAP[$r]=$v ;; filtering) R_FILT[$r]=$v ;;
		allocation) R_ALLOC[$r]=$v ;; hairpin) R_HAIR[$r]=$v ;; timeout) R_TIMEOUT[$r]=$v ;;
		udp) R_UDP[$r]=$v ;; upnp) R_UPNP[$r]=$v ;; lan) R_LAN[$r]=$v ;; wan) N_ADDRS[$r]=$v ;;
		zone) R_ZONE[$r]=$v ;;
		esac
	done <"$f"
}

# Sequential allocation: nft 1.0.6 feeds numgen's host-order counter to NAT without a byteorder
# conversion (consecutive values come out 256 ports apart), so the counter indexes a map of
# consecutive ports starting at a random base; after SEQ_PORTS mappings it wraps.
readonly SEQ_PORTS=1000
seq_map() {
	local base=$((20000 + RANDOM % 30000))
	awk -v b=$base -v n=$SEQ_PORTS 'BEGIN { for (i = 0; i < n; i++) printf "%s%d : %d", (i ? ", " : ""), i, b + i }'
}

# nat_ruleset ROUTER: print the nft script for the router's table.
nat_ruleset() {
	local r=$1 w=${N_ADDRS[$1]%%/*} t=${R_TIMEOUT[$1]} z=${R_ZONE[$1]:-1}
	local m=${R_MAP[$1]} f=${R_FILT[$1]} a=${R_ALLOC[$1]} h=${R_HAIR[$1]}
	local keytype lookup korig krepl inside_o='ct original ip saddr . ct original proto-src'
	local inside_r='ct reply ip saddr . ct reply proto-src' u='meta l4proto udp'
	local outs=('oifname "wan"') o sets="flags dynamic,timeout; timeout ${t}s; size 65535;"
	# Hairpinned packets: DNATed, and back out of lan (iifname is unknown in postrouting).
	[ "$h" = on ] && outs+=("oifname \"lan\" ip saddr ${R_LAN[$1]} ct status dnat")
	case $m in
	eim) keytype='ipv4_addr . inet_service' lookup='ip saddr . udp sport'
		korig=$inside_o krepl=$inside_r ;;
	adm) keytype='ipv4_addr . inet_service . ipv4_addr' lookup='ip saddr . udp sport . ct original ip daddr'
		korig="$inside_o . ct original ip daddr" krepl="$inside_r . ct reply ip daddr" ;;
	esac
	echo "table ip netsim"
	echo "delete table ip netsim"
	echo "table ip netsim {"
	[ "$m" = apdm ] || echo "	map eim { type $keytype : inet_service; $sets }"
	echo "	map rev { type inet_service : ipv4_addr . inet_service; $sets }"
	echo "	set owner { type inet_service . ipv4_addr . inet_service; $sets }"
	echo "	set perm_a { type inet_service . ipv4_addr; $sets }"
	echo "	set perm_ap { type inet_service . ipv4_addr . inet_service; $sets }"
	echo "	chain raw_pre { type filter hook prerouting priority raw; ct zone set $z; }"
	echo "	chain raw_out { type filter hook output priority raw; ct zone set $z; }"

	echo "	chain pre_nat {"
	echo "		type nat hook prerouting priority dstnat; policy accept;"
	case $f in
	eif) echo "		iifname \"wan\" ip daddr $w $u udp dport @rev dnat ip to udp dport map @rev" ;;
	adf) echo "		iifname \"wan\" ip daddr $w $u udp dport . ip saddr @perm_a dnat ip to udp dport map @rev" ;;
	apdf) echo "		iifname \"wan\" ip daddr $w $u udp dport . ip saddr . udp sport @perm_ap dnat ip to udp dport map @rev" ;;
	esac
	[ "$h" = on ] && echo "		iifname \"lan\" ip daddr $w $u udp dport @rev dnat ip to udp dport map @rev"
	echo "	}"

	echo "	chain post_nat {"
	echo "		type nat hook postrouting priority srcnat; policy accept;"
	for o in "${outs[@]}"; do
		[ "$m" = apdm ] || echo "		$o $u $lookup @eim snat ip to $w : $lookup map @eim"
		case $a:$m in
		preserve:apdm) echo "		$o $u snat ip to $w" ;;
		preserve:*) echo "		$o $u udp sport != @rev snat ip to $w : udp sport"
			echo "		$o $u snat ip to $w : 1024-65535 random" ;;
		random:*) echo "		$o $u snat ip to $w : 1024-65535 random" ;;
		sequential:*) echo "		$o $u snat ip to $w : numgen inc mod $SEQ_PORTS map { $(seq_map) }" ;;
		esac
		echo "		$o snat ip to $w"
	done
	echo "	}"

	echo "	chain record {"
	echo "		type filter hook postrouting priority srcnat + 10; policy accept;"
	for o in "${outs[@]}"; do
		[ "$m" = apdm ] ||
			echo "		$o $u ct direction original udp sport @rev udp sport . $inside_o != @owner drop"
		echo "		$o $u ct direction original update @rev { udp sport : $inside_o } update @owner { udp sport . $inside_o }"
		[ "$m" = apdm ] || echo "		$o $u ct direction original update @eim { $korig : udp sport }"
	done
	echo "		oifname \"wan\" $u ct direction reply update @rev { udp sport : $inside_r } update @owner { udp sport . $inside_r }"
	[ "$m" = apdm ] || echo "		oifname \"wan\" $u ct direction reply update @eim { $krepl : udp sport }"
	echo "		oifname \"wan\" $u update @perm_a { udp sport . ip daddr } update @perm_ap { udp sport . ip daddr . udp dport }"
	echo "	}"

	echo "	chain forward {"
	echo "		type filter hook forward priority filter; policy drop;"
	[ "${R_UDP[$r]}" = block ] && echo "		iifname \"lan\" oifname \"wan\" $u drop"
	echo "		ct state established,related accept"
	# LAN to LAN is switched by the lan bridge; br_netfilter (bridge-nf-call-iptables) still shows
	# those frames to this hook with in = out = the bridge.  A home router does not filter its own
	# switch, so neither does netsim: two hosts behind one router reach each other directly.
	echo "		iifname \"lan\" oifname \"lan\" accept"
	echo "		iifname \"lan\" oifname \"wan\" accept"
	echo "		ct status dnat accept"
	echo "	}"
	echo "	chain input {"
	echo "		type filter hook input priority filter; policy accept;"
	echo "		ct state established,related accept"
	echo "		iifname \"wan\" meta l4proto { tcp, udp } drop"
	echo "		iifname \"lan\" ip daddr $w drop"
	echo "	}"
	echo "}"
}

# nat_load RUN ROUTER: (re)load the router's table atomically and set its conntrack timeouts.
nat_load() {
	local ns t=${R_TIMEOUT[$2]}
	ns=$(ns_name "$1" "$2")
	nat_ruleset "$2" | nsx "$ns" nft -f - || die $EX_FAIL "loading the NAT ruleset of '$2' failed"
	nsx "$ns" sh -c "echo $t > /proc/sys/net/netfilter/nf_conntrack_udp_timeout &&
		echo $t > /proc/sys/net/netfilter/nf_conntrack_udp_timeout_stream" ||
		die $EX_FAIL "setting conntrack timeouts in $ns failed"
	router_state_write "$1" "$2"
}

# miniupnpd's nftables skeleton.  Debian's nft_init.sh sources a helper file the package does not
# ship, so netsim creates the table and chains named in the config it writes.
upnp_tables() {
	cat <<'NFT'
table inet miniupnpd
delete table inet miniupnpd
table inet miniupnpd {
	chain forward { type filter hook forward priority filter - 1; policy accept; jump miniupnpd; }
	chain miniupnpd { }
	chain prerouting { type nat hook prerouting priority dstnat - 1; policy accept; jump prerouting_miniupnpd; }
	chain postrouting { type nat hook postrouting priority srcnat - 1; policy accept; jump postrouting_miniupnpd; }
	chain prerouting_miniupnpd { }
	chain postrouting_miniupnpd { }
}
NFT
}

upnp_conf() { # upnp_conf RUN ROUTER
	local r=$2 d
	d=$(state_dir "$1")
	cat <<CONF
ext_ifname=wan
listening_ip=lan
http_port=5000
enable_upnp=$([ "${R_UPNP[$r]}" = igd ] && echo yes || echo no)
enable_natpmp=$([ "${R_UPNP[$r]}" = natpmp ] && echo yes || echo no)
secure_mode=yes
system_uptime=yes
notify_interval=30
clean_ruleset_interval=600
lease_file=$d/miniupnpd.$r.leases
uuid=$(printf '4e657473-696d-4000-8000-%012x' "$(cksum <<<"$1/$r" | cut -d' ' -f1)")
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 ${R_LAN[$r]} 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
CONF
}

# upnp_start RUN ROUTER: fresh miniupnpd tables and daemon (a restart forgets every lease).
upnp_start() {
	local d ns i
	d=$(state_dir "$1")
	ns=$(ns_name "$1" "$2")
	upnp_stop "$1" "$2"
	[ "${R_UPNP[$2]}" != off ] || return 0
	need_tools miniupnpd
	upnp_tables | nsx "$ns" nft -f - || die $EX_FAIL "creating miniupnpd's nftables chains in $ns failed"
	upnp_conf "$1" "$2" >"$d/miniupnpd.$2.conf"
	: >"$d/miniupnpd.$2.leases"
	# -P: miniupnpd's own pid file; ours (miniupnpd.R.pid) must not be it, or it thinks it runs already.
	setsid ip netns exec "$ns" miniupnpd -d -f "$d/miniupnpd.$2.conf" -P "$d/miniupnpd.$2.mpid" \
		>"$d/miniupnpd.$2.log" 2>&1 </dev/null &
	echo $! >"$d/miniupnpd.$2.pid"
	for i in $(seq 50); do # wait until it listens, so callers can use it right after up
		if nsx "$ns" ss -lnu | grep -qE ':(1900|5351)\b'; then return 0; fi
		kill -0 "$(cat "$d/miniupnpd.$2.pid")" 2>/dev/null || break
		sleep 0.05
	done
	die $EX_FAIL "miniupnpd on '$2' did not start; see $d/miniupnpd.$2.log: $(tail -n 3 "$d/miniupnpd.$2.log")"
}

upnp_stop() {
	local d pid
	d=$(state_dir "$1")
	[ -f "$d/miniupnpd.$2.pid" ] || return 0
	pid=$(cat "$d/miniupnpd.$2.pid")
	kill "$pid" 2>/dev/null && for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$d/miniupnpd.$2.pid"
	nsx "$(ns_name "$1" "$2")" nft delete table inet miniupnpd 2>/dev/null || true
}

# router_setup RUN ROUTER: NAT rules, timeouts and UPnP for a freshly built router.
router_setup() {
	R_ZONE[$2]=1
	nat_load "$1" "$2"
	[ "${R_UPNP[$2]}" = off ] || upnp_start "$1" "$2"
}

# nat_flush RUN ROUTER: forget every mapping, as a NAT reboot would.
nat_flush() {
	router_state_read "$1" "$2"
	R_ZONE[$2]=$((R_ZONE[$2] + 1))
	nat_load "$1" "$2"
	[ "${R_UPNP[$2]}" = off ] || upnp_start "$1" "$2"
}

# nat_set RUN ROUTER PRESET: switch behaviour; mappings are forgotten like on a reboot.
nat_set() {
	local old_upnp
	router_state_read "$1" "$2"
	old_upnp=${R_UPNP[$2]}
	preset_apply "$2" "$3" || die $EX_USAGE "unknown preset '$3' (one of: $PRESETS)"
	R_ZONE[$2]=$((R_ZONE[$2] + 1))
	nat_load "$1" "$2"
	if [ "${R_UPNP[$2]}" != off ]; then
		upnp_start "$1" "$2"
	elif [ "$old_upnp" != off ]; then
		upnp_stop "$1" "$2"
	fi
}
