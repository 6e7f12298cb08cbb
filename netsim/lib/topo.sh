# netsim/lib/topo.sh: the topology file parser and address plan.
#
# Format (docs/netsim.md has the full description):
#   # comment                      anything after '#' is ignored; blank lines too
#   internet                       the public network (implicit; may be declared once)
#   router NAME [behind PARENT] [preset=P] [mapping=M] [filtering=F] [allocation=A]
#          [hairpin=on|off] [timeout=SECONDS] [udp=allow|block] [upnp=off|igd|natpmp]
#          [lan=CIDR] [wan=ADDR/PFX] [IMPAIRMENT...]
#   host NAME [behind PARENT] [addr=ADDR[/PFX][,ADDR...]] [IMPAIRMENT...]
#   link NAME IMPAIRMENT...        impair the uplink of host or router NAME
# IMPAIRMENT is delay=, jitter=, loss=, reorder=, duplicate=, rate= (see impair.sh).
# PARENT is "internet" (the default) or a router declared on an earlier line.

readonly INET_WAN_NET=11.0.0.0/24   # routers on the internet: see "Addresses" in docs/netsim.md
readonly INET_HOST_NET=203.0.113.0/24
readonly IMPAIR_KEYS="delay jitter loss reorder duplicate rate"

declare -a NODES=()
declare -A N_TYPE=() N_PARENT=() N_LINE=() N_ADDRS=() L_IMP=()
declare -A R_MAP=() R_FILT=() R_ALLOC=() R_HAIR=() R_TIMEOUT=() R_UDP=() R_UPNP=() R_PRESET=()
declare -A R_LAN=() R_WAN=() R_NEXT=()

TOPO_FILE= TOPO_LINE=0

topo_err() { die $EX_TOPO "$TOPO_FILE:$TOPO_LINE: $*"; }

ip2int() {
	local IFS=. a b c d
	read -r a b c d <<<"$1"
	echo $(((a << 24) | (b << 16) | (c << 8) | d))
}
int2ip() { echo "$((($1 >> 24) & 255)).$((($1 >> 16) & 255)).$((($1 >> 8) & 255)).$(($1 & 255))"; }

valid_ip() {
	local IFS=. o
	[[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
	for o in $1; do ((o <= 255)) || return 1; done
}
valid_cidr() { [[ $1 == */* ]] && valid_ip "${1%/*}" && [[ ${1#*/} =~ ^[0-9]+$ ]] && ((${1#*/} >= 8 && ${1#*/} <= 30)); }

# cidr_host CIDR N: the Nth address of the network (N=1 is the first usable one).
cidr_host() {
	local net=${1%/*} pfx=${1#*/} base
	base=$(($(ip2int "$net") & ~((1 << (32 - pfx)) - 1) & 0xffffffff))
	(( $2 < (1 << (32 - pfx)) - 1 )) || return 1
	echo "$(int2ip $((base + $2)))/$pfx"
}

# Presets: the RFC 4787 axes each one sets.  Explicit keys on the router line override them.
preset_apply() { # preset_apply ROUTER PRESET
	local r=$1 m f a h u=allow p=off
	case $2 in
	full-cone) m=eim f=eif a=preserve h=on ;;
	restricted-cone) m=eim f=adf a=preserve h=on ;;
	port-restricted-cone) m=eim f=apdf a=preserve h=on ;;
	symmetric) m=apdm f=apdf a=random h=off ;;
	symmetric-sequential) m=apdm f=apdf a=sequential h=off ;;
	cgnat) m=eim f=apdf a=random h=on ;;
	blocked-udp) m=eim f=apdf a=preserve h=off u=block ;;
	upnp) m=eim f=apdf a=preserve h=on p=igd ;;
	natpmp) m=eim f=apdf a=preserve h=on p=natpmp ;;
	*) return 1 ;;
	esac
	R_PRESET[$r]=$2 R_MAP[$r]=$m R_FILT[$r]=$f R_ALLOC[$r]=$a R_HAIR[$r]=$h R_UDP[$r]=$u R_UPNP[$r]=$p
}
readonly PRESETS="full-cone restricted-cone port-restricted-cone symmetric symmetric-sequential cgnat blocked-udp upnp natpmp"

norm_dep() { # endpoint-independent | address-dependent | address-and-port-dependent, short or long
	case $1 in
	ei | endpoint-independent) echo ei ;;
	ad | address-dependent) echo ad ;;
	apd | address-and-port-dependent) echo apd ;;
	*) return 1 ;;
	esac
}

valid_impair() { # valid_impair KEY VALUE
	case $1 in
	delay | jitter) [[ $2 =~ ^[0-9]+(\.[0-9]+)?(us|ms|s)$ ]] ;;
	loss | reorder | duplicate) [[ $2 =~ ^[0-9]+(\.[0-9]+)?%?$ ]] && [ "$(awk -v v="${2%\%}" 'BEGIN{print (v<=100)}')" = 1 ] ;;
	rate) [[ $2 =~ ^[0-9]+(\.[0-9]+)?(bit|kbit|mbit|gbit)$ ]] ;;
	*) return 1 ;;
	esac
}

# add_impair NODE KEY=VALUE: record an impairment for NODE's uplink.
add_impair() {
	local k=${2%%=*} v=${2#*=}
	valid_impair "$k" "$v" || topo_err "bad impairment '$2' (delay=40ms jitter=5ms loss=1% reorder=25% duplicate=1% rate=10mbit)"
	L_IMP[$1]="${L_IMP[$1]:-} $k=$v"
}

is_impair_key() { [[ " $IMPAIR_KEYS " == *" $1 "* ]]; }

topo_node() { # topo_node TYPE NAME ARGS...
	local type=$1 name=$2 parent=internet w k v
	shift 2
	[[ $name =~ ^[a-z][a-z0-9_]{0,10}$ ]] ||
		topo_err "bad $type name '$name': 1-11 of [a-z0-9_], starting with a letter"
	[[ " internet lan wan eth0 br0 lo " != *" $name "* ]] || topo_err "'$name' is reserved (it names the internet or an interface)"
	[ -z "${N_TYPE[$name]:-}" ] || topo_err "name clash: '$name' already declared on line ${N_LINE[$name]}"
	if [ "${1:-}" = behind ]; then
		[ $# -ge 2 ] || topo_err "'behind' needs a router name or 'internet'"
		parent=$2
		shift 2
		if [ "$parent" != internet ]; then
			[ "${N_TYPE[$parent]:-}" = router ] || topo_err "'$parent' is not a router declared on an earlier line"
		fi
	fi
	N_TYPE[$name]=$type N_PARENT[$name]=$parent N_LINE[$name]=$TOPO_LINE N_ADDRS[$name]=
	NODES+=("$name")
	[ "$type" = router ] && preset_apply "$name" port-restricted-cone && R_TIMEOUT[$name]=120
	# A preset first, so explicit keys on the same line override it whatever their order.
	for w in "$@"; do
		[[ $w == preset=* ]] || continue
		[ "$type" = router ] || topo_err "'preset' is only for routers"
		preset_apply "$name" "${w#preset=}" || topo_err "unknown preset '${w#preset=}' (one of: $PRESETS)"
	done
	for w in "$@"; do
		[[ $w == *=* ]] || topo_err "expected KEY=VALUE, got '$w'"
		k=${w%%=*} v=${w#*=}
		if is_impair_key "$k"; then
			add_impair "$name" "$w"
			continue
		fi
		case $type:$k in
		router:preset) ;;
		router:mapping) v=$(norm_dep "$v") || topo_err "bad mapping '$w' (endpoint-independent|address-dependent|address-and-port-dependent)"
			R_MAP[$name]=${v}m ;;
		router:filtering) v=$(norm_dep "$v") || topo_err "bad filtering '$w' (endpoint-independent|address-dependent|address-and-port-dependent)"
			R_FILT[$name]=${v}f ;;
		router:allocation) [[ $v =~ ^(preserve|sequential|random)$ ]] || topo_err "bad allocation '$w' (preserve|sequential|random)"
			R_ALLOC[$name]=$v ;;
		router:hairpin) [[ $v =~ ^(on|off)$ ]] || topo_err "bad hairpin '$w' (on|off)"
			R_HAIR[$name]=$v ;;
		router:timeout) [[ $v =~ ^[0-9]+$ ]] && ((v >= 1 && v <= 86400)) || topo_err "bad timeout '$w' (seconds, 1-86400)"
			R_TIMEOUT[$name]=$v ;;
		router:udp) [[ $v =~ ^(allow|block)$ ]] || topo_err "bad udp '$w' (allow|block)"
			R_UDP[$name]=$v ;;
		router:upnp) [[ $v =~ ^(off|igd|natpmp)$ ]] || topo_err "bad upnp '$w' (off|igd|natpmp)"
			R_UPNP[$name]=$v ;;
		router:lan) valid_cidr "$v" || topo_err "bad lan '$w' (a CIDR such as 10.1.0.0/24, prefix 8-30)"
			R_LAN[$name]=$v ;;
		router:wan) [[ $v == */* ]] || v=$v/24
			valid_cidr "$v" || topo_err "bad wan '$w' (an address such as 11.0.0.7/24)"
			N_ADDRS[$name]=$v ;;
		host:addr) local a list=
			IFS=, read -ra list <<<"$v"
			[ ${#list[@]} -gt 0 ] || topo_err "empty addr="
			for a in "${list[@]}"; do
				[[ $a == */* ]] || a=$a/24
				valid_cidr "$a" || topo_err "bad address '$a' in '$w'"
				N_ADDRS[$name]="${N_ADDRS[$name]} $a"
			done ;;
		*) topo_err "unknown key '$k' for a $type" ;;
		esac
	done
	if [ "$type" = router ] && [ "${R_HAIR[$name]}" = on ] && [ "${R_MAP[$name]}" = apdm ]; then
		topo_err "hairpin=on needs endpoint-independent or address-dependent mapping"
	fi
	return 0
}

topo_parse() { # topo_parse FILE
	TOPO_FILE=$1 TOPO_LINE=0
	[ -r "$1" ] || die $EX_USAGE "cannot read topology file '$1'"
	local line words seen_inet=0
	while IFS= read -r line || [ -n "$line" ]; do
		TOPO_LINE=$((TOPO_LINE + 1))
		line=${line%%#*}
		read -ra words <<<"$line"
		[ ${#words[@]} -gt 0 ] || continue
		case ${words[0]} in
		internet) [ ${#words[@]} = 1 ] || topo_err "'internet' takes no arguments"
			[ $seen_inet = 0 ] || topo_err "'internet' declared twice"
			seen_inet=1 ;;
		router | host) [ ${#words[@]} -ge 2 ] || topo_err "'${words[0]}' needs a name"
			topo_node "${words[@]}" ;;
		link) [ ${#words[@]} -ge 3 ] || topo_err "'link' needs a node name and at least one impairment"
			[ -n "${N_TYPE[${words[1]}]:-}" ] || topo_err "'link ${words[1]}': no such host or router declared above"
			local w
			for w in "${words[@]:2}"; do
				is_impair_key "${w%%=*}" || topo_err "unknown impairment '${w%%=*}' (one of: $IMPAIR_KEYS)"
				add_impair "${words[1]}" "$w"
			done ;;
		*) topo_err "unknown declaration '${words[0]}' (internet, router, host or link)" ;;
		esac
	done <"$1"
	TOPO_LINE=0
	[ ${#NODES[@]} -gt 0 ] || die $EX_TOPO "$1: declares no hosts or routers"
	topo_plan
}

# topo_plan: give every node without explicit addresses its addresses, and check for clashes.
topo_plan() {
	local n p k=0 ninet_r=0 ninet_h=0 a
	declare -A used=()
	for n in "${NODES[@]}"; do
		[ "${N_TYPE[$n]}" = router ] || continue
		k=$((k + 1))
		if [ -z "${R_LAN[$n]:-}" ]; then
			if [ "${R_PRESET[$n]}" = cgnat ]; then R_LAN[$n]=100.64.$k.0/24; else R_LAN[$n]=10.$k.0.0/24; fi
		fi
		R_NEXT[$n]=2
	done
	for n in "${NODES[@]}"; do
		p=${N_PARENT[$n]}
		if [ -z "${N_ADDRS[$n]}" ]; then
			if [ "$p" = internet ]; then
				if [ "${N_TYPE[$n]}" = router ]; then
					ninet_r=$((ninet_r + 1))
					N_ADDRS[$n]=$(cidr_host $INET_WAN_NET $((9 + ninet_r))) || die $EX_TOPO "too many routers on the internet"
				else
					ninet_h=$((ninet_h + 1))
					N_ADDRS[$n]=$(cidr_host $INET_HOST_NET $((9 + ninet_h))) || die $EX_TOPO "too many hosts on the internet"
				fi
			else
				N_ADDRS[$n]=$(cidr_host "${R_LAN[$p]}" "${R_NEXT[$p]}") ||
					die $EX_TOPO "line ${N_LINE[$n]}: LAN ${R_LAN[$p]} of '$p' is full"
				R_NEXT[$p]=$((R_NEXT[$p] + 1))
			fi
		fi
		N_ADDRS[$n]=$(echo ${N_ADDRS[$n]})
		for a in ${N_ADDRS[$n]}; do
			[ -z "${used[${a%/*}]:-}" ] || die $EX_TOPO "line ${N_LINE[$n]}: address ${a%/*} of '$n' clashes with '${used[${a%/*}]}'"
			used[${a%/*}]=$n
		done
	done
	for n in "${NODES[@]}"; do
		[ "${N_TYPE[$n]}" = router ] || continue
		a=$(cidr_host "${R_LAN[$n]}" 1)
		[ -z "${used[${a%/*}]:-}" ] || die $EX_TOPO "line ${N_LINE[$n]}: LAN address ${a%/*} of '$n' clashes with '${used[${a%/*}]}'"
		used[${a%/*}]=$n
	done
}

# lan_ip ROUTER: the router's own LAN address with prefix.
lan_ip() { cidr_host "${R_LAN[$1]}" 1; }
