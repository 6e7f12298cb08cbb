# netsim/lib/impair.sh: link impairments with tc netem and tbf.
#
# A link is a node's uplink: a veth pair between the node (eth0 on hosts, wan on routers) and its
# parent (the internet's bridge, or the router's lan bridge), named after the node on the parent's
# side.  netem shapes only egress, so every setting is applied on BOTH ends:
#   delay=D      adds D to the round trip: D/2 on each direction
#   jitter=J     +-J/2 on each direction (netem's normal distribution around the delay)
#   loss=P       P% of packets lost in each direction
#   reorder=P    P% of packets sent early in each direction (needs a delay)
#   duplicate=P  P% duplicated in each direction
#   rate=R       a tbf bucket of rate R in each direction, netem runs under it
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

# impair_apply RUN NODE "k=v ...": replace the qdiscs on both ends with these settings.
impair_apply() {
	local run=$1 n=$2 kv k v delay=0 jitter=0 loss= reorder= dup= rate= netem ns dev burst
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
	[ -z "$reorder" ] || [ "$delay" -gt 0 ] || die $EX_USAGE "reorder needs a delay (netem sends reordered packets early)"
	netem="delay $((delay / 2))us"
	[ "$jitter" = 0 ] || netem+=" $((jitter / 2))us distribution normal"
	[ -z "$loss" ] || netem+=" loss $loss%"
	[ -z "$reorder" ] || netem+=" reorder $reorder%"
	[ -z "$dup" ] || netem+=" duplicate $dup%"
	while read -r ns dev; do
		ip -n "$ns" link show "$dev" >/dev/null 2>&1 || die $EX_NORUN "link '$n': device $dev missing in $ns"
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
		[ "$netem" != "delay 0us" ] || continue
		local err
		if ! err=$(tc -n "$ns" qdisc add dev "$dev" $parent handle 10: netem $netem limit 10000 2>&1); then
			[[ $err != *"kind is unknown"* ]] ||
				err="this kernel has no sch_netem (CONFIG_NET_SCH_NETEM, module sch_netem)"
			die $EX_FAIL "tc netem on $ns/$dev failed: $err"
		fi
	done < <(link_ends "$run" "$n")
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

