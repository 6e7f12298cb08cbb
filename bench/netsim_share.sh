#!/usr/bin/env bash
# bench/netsim_share.sh: how konce shares one netsim link, with itself and with TCP (issue 13's
# fairness and background-class figures).  Not part of make test; needs root and the netsim tools.
# Run it under the netsim lock:
#
#     flock /tmp/netsim.lock bench/netsim_share.sh                    # 100mbit, 40 ms RTT, no loss
#     flock /tmp/netsim.lock bench/netsim_share.sh 100mbit 40ms 1%    # another link
#     BENCH_QUICK=1 ...                                               # a second or two per phase
#
#     konce nodes A1 (:7807), A2 (:7808), iperf3 -c   (a, 203.0.113.20) === internet
#         ==[ rate, delay, loss ]== konce node B, iperf3 -s (b, 203.0.113.21)
#
# Every flow goes from a to b through b's link, so they share its tbf (netsim/lib/impair.sh: rate R
# each way, a queue of 200 ms at R) and its delay and loss.  The impaired link is b's, not a's: the
# tbf for a-to-b traffic then sits in the internet's namespace, as a router's queue would, and not
# on the senders' own eth0, where TCP Small Queues lets a TCP socket hold only about 1 ms of its
# pacing rate in the qdisc (measured: beside a konce background flow at 20 Mbit/s, TCP CUBIC stayed
# at 5-10 Mbit/s with a constant window and no loss, and never built the queue LEDBAT yields to).
# The run is a series of phases; in each,
# the flows start together, run BENCH_WARM seconds (default 4) unmeasured, then BENCH_WINDOW
# seconds (default 8) measured, and stop.  A konce flow is one node's session to B, kept busy by
# BENCH_LOOPS (default 3) `konce send --file` loops on that one session and controller, each
# message of a size drawn at random from 1/4, 3/8 .. 8/8 of BENCH_MSG (default 4 MiB); a TCP flow
# is `iperf3 -c -t` with -C bbr or -C cubic.  The nodes are restarted for each phase.
#
# Why so: a konce flow must stay backlogged, as iperf3's does; if it pauses at message ends, the
# comparison with TCP measures the pauses.  The sender starts a message only while the charges
# of its started messages fit the receiver's credit (docs/PROTOCOL.md, flow control), and a node's
# budget is by default one 16 MiB message.  So two loops of 16 MiB messages (this script until
# 2026-12-04) sent one message at a time, and at each one's end the link idled for about an RTT
# (until the last fragments were acked) before the next could start: sampled every ~45 ms, B's
# counter for konce saw no bytes for 30-75 ms every 1.5 s alone and every ~2 s beside TCP BBR.
# Messages of at most 4 MiB let two or three be started together.  Started messages are served
# round-robin, so messages that start together end together, and loops with one fixed size were
# seen to stay in step (they then all wait for their last acks, and all restart the CLI, at
# once); random sizes keep them apart, so at one message's end another mostly still has data to
# send (traced: all three ended together, leaving ~35 ms without konce bytes, twice in 9 s alone).
# The CLI runs outside the netsim host (it only needs the node's control socket): a `netsim exec`
# costs ~40 ms of CPU per message.
#
# What is measured: for each flow, the IP bytes B receives in the window (an nftables counter per
# flow in b's input hook: retransmissions included, the same measure for konce and TCP), as Mbit/s.
# The link's own rate is the baseline for the shares; each flow's rate alone, measured in the same
# run, is the baseline for its rate beside another.  Jain's index of n rates x: (sum x)^2 / (n sum x^2).
# The background phase also reports goodput: the bytes of the messages completed, over the time
# from the phase's start to the last completion (so it includes the ramp, and understates).
# BENCH_PHASES (default all) picks phases by name: fg fg2 bbr fg+bbr cubic fg+cubic bg bbr+bg cubic+bg
# bbr+cubic bbr+bbr (bbr+cubic: two TCP flows, BBR and CUBIC, started together, the yardstick for
# "its share" of a loss-based flow beside TCP BBR; bbr+bbr: below).
# BENCH_LINK=a impairs a's link instead of b's.
#
# Start order.  Beside TCP BBR the share in the window is decided in the first second (traced,
# docs/BENCH.md): the flow that starts into the other's STARTUP queue keeps a small estimate until
# the other's PROBE_RTT.  So the phases that mix konce and TCP (fg+bbr, fg+cubic) start their two
# flows one after the other, in an order BENCH_ORDER picks: konce (konce first), tcp (TCP first) or
# both (default: the phase twice, once each way).  The second flow is started so that its first
# data reaches b BENCH_GAP seconds (default 0.5) after the first flow's did (each flow's first
# data: its counter at b 4 kB past its value before the start, polled in b every ~5-10 ms; the
# time from a launch to its first data is learned per kind of flow and place, from the last one
# seen, and subtracted), and the gap achieved is printed.  The window then starts BENCH_WARM seconds after
# the first flow's first data.  The bbr+bbr phase is the yardstick for that: two TCP BBR flows
# (ports 5201 and 5202) started the same way, and the share the first-started one keeps.  These
# phases flush Linux's TCP metrics cache (ip tcp_metrics) in a and b first, so that a TCP flow
# does not start from what an earlier phase's flow to the same host left there.
# BENCH_CONGESTION=newreno|cubic|bbr starts every node with --congestion (the controller of the
# default class, the fg phases' flows; the background class is LEDBAT whatever it says).
set -uo pipefail
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/../tests/netsim/konce_lib.sh"
set +eE # konce_lib's -e: a bench reports what it measured; its own checks say what failed
trap - ERR
fail() {
	echo "FAIL: $*" >&2
	local f
	for f in "$KTMP/${KRUN:-}"*.err; do [ -s "$f" ] && { echo "--- $(basename "$f")"; tail -n 15 "$f"; } >&2; done
	exit 1
}
for t in iperf3 nft; do command -v "$t" >/dev/null || fail "$t is missing (make deps)"; done

RATE=${1:-100mbit} DELAY=${2:-40ms} LOSS=${3:-0%}
if [ "${BENCH_QUICK:-0}" = 1 ]; then WARM=${BENCH_WARM:-0.5} WINDOW=${BENCH_WINDOW:-1.5}
else WARM=${BENCH_WARM:-4} WINDOW=${BENCH_WINDOW:-8}; fi
PHASES=${BENCH_PHASES:-fg fg2 bbr fg+bbr cubic fg+cubic bg bbr+bg cubic+bg bbr+cubic bbr+bbr}
GAP=${BENCH_GAP:-0.5}
case ${BENCH_ORDER:-both} in
konce | tcp) ORDERS=("$BENCH_ORDER") ;;
both) ORDERS=(konce tcp) ;;
*) echo "BENCH_ORDER is konce, tcp or both, not $BENCH_ORDER" >&2; exit 2 ;;
esac
CONGESTION=${BENCH_CONGESTION:-}
KOPTS=()
if [ -n "$CONGESTION" ]; then KOPTS=(--congestion "$CONGESTION"); fi
link_mbit=$(awk -v r="$RATE" 'BEGIN { n = r + 0; u = r; sub(/^[0-9.]+/, "", u)
	m = (u == "gbit") ? 1000 : (u == "mbit") ? 1 : (u == "kbit") ? 0.001 : 1e-6; print n * m }')

run=share$$
KRUN=$run
printf 'host a addr=203.0.113.20\nhost b addr=203.0.113.21\n' >"$KTMP/share.topo"
NLOOPS=${BENCH_LOOPS:-3} MSG=${BENCH_MSG:-$((4 * 1024 * 1024))}
for k in $(seq 2 8); do head -c $((MSG * k / 8)) /dev/urandom >"$KTMP/file.$k.bin"; done # the sizes (above)
nx() { "$NETSIM" exec --name "$run" "$@"; }
kup "$KTMP/share.topo" "$run"
aip=$(kaddr "$run" a) bip=$(kaddr "$run" b)
LINK=${BENCH_LINK:-b} # a: the senders' own link, to see what TCP Small Queues does (above)
"$NETSIM" impair --name "$run" "$LINK" clear rate="$RATE" delay="$DELAY" loss="$LOSS" >/dev/null ||
	fail "netsim impair $LINK rate=$RATE delay=$DELAY loss=$LOSS"

# One counter per flow on b's input: konce from A1 and A2, and TCP to each iperf3 server's port.
nx b nft -f - <<EOF || fail "nft in b"
table inet share {
	counter k1 {}
	counter k2 {}
	counter t1 {}
	counter t2 {}
	chain in {
		type filter hook input priority 0; policy accept;
		ip saddr $aip udp sport 7807 counter name k1
		ip saddr $aip udp sport 7808 counter name k2
		ip saddr $aip tcp dport 5201 counter name t1
		ip saddr $aip tcp dport 5202 counter name t2
	}
}
EOF
# counters: "K1 K2 TCP TCP2" bytes so far
counters() {
	nx b nft -j list counters table inet share |
		jq -r '[.nftables[] | select(.counter) | .counter | {(.name): .bytes}] | add | "\(.k1) \(.k2) \(.t1) \(.t2)"'
}

declare -a LOOPS=()
trap 'rm -f "$KTMP"/flow.*; for p in "${LOOPS[@]}"; do kill "$p" 2>/dev/null; done; kcleanup; rm -rf "$KTMP"' EXIT
# konce_up: B, and the A nodes named in $@ (A1, A2), each with a session to B
konce_up() {
	local n port out
	kstart "$run" b B "$bip:7807" "${KOPTS[@]}"
	KB=$(kfield "$run" B "public key")
	for n in "$@"; do
		port=$((7806 + ${n#A}))
		kstart "$run" a "$n" "$aip:$port" "${KOPTS[@]}"
		out=$(kcli "$run" a "$n" send --json -a "$bip:7807" "$KB" "hello") || fail "konce $n: the first message failed: $out"
	done
}
# konce_flow NODE CLASS: NLOOPS send loops from NODE (above), while $KTMP/flow.NODE exists; each
# logs "NS BYTES" per completed message
konce_flow() {
	local n=$1 cls=$2
	: >"$KTMP/flow.$n"
	for _ in $(seq "$NLOOPS"); do
		(
			while [ -e "$KTMP/flow.$n" ]; do
				f=$KTMP/file.$((RANDOM % 7 + 2)).bin
				# shellcheck disable=SC2086 # $cls is empty or one word
				if "$K" send --control "$KTMP/$run.$n.sock" --json $cls -W 120 --file "$f" "$KB" 2>&1 |
					jq -e '.ok == true' >/dev/null 2>&1; then
					echo "$(date +%s%N) $(stat -c %s "$f")" >>"$KTMP/done.$n"
				else
					sleep 0.2 # the node is going away (the end of the phase), or a failure
				fi
			done
		) &
		LOOPS+=($!)
	done
}
konce_down() {
	local p n
	rm -f "$KTMP"/flow.*
	for p in "${LOOPS[@]}"; do kill "$p" 2>/dev/null; done
	for n in "$@" B; do kstop "$run" "$n"; done
	for p in "${LOOPS[@]}"; do wait "$p" 2>/dev/null; done
	LOOPS=()
	rm -rf "$KTMP/$run".A* "$KTMP/$run.B"
}
declare -a TCP_PIDS=() TCP_SRVS=()
tcp_server() { # PORT: one iperf3 -s, listening when this returns
	nx b iperf3 -s -1 -B "$bip" -p "$1" >/dev/null 2>&1 &
	TCP_SRVS+=($!)
	for _ in $(seq 100); do [ -n "$(nx b ss -Hltn "sport = :$1")" ] && break; sleep 0.05; done
}
tcp_client() { # CC PORT: iperf3 -c for the whole phase
	nx a iperf3 -c "$bip" -p "$2" -C "$1" -t "$(awk -v w="$WARM" -v m="$WINDOW" 'BEGIN { print int(w + m + 1.99) }')" \
		>"$KTMP/iperf.$2.out" 2>&1 &
	TCP_PIDS+=($!)
}
tcp_flow() { # CC [PORT, default 5201]: iperf3 for the whole phase
	tcp_server "${2:-5201}"
	tcp_client "$1" "${2:-5201}"
}
tcp_down() {
	local p
	for p in "${TCP_PIDS[@]}"; do wait "$p" || echo "iperf3 -c failed: $(tail -q -n 3 "$KTMP"/iperf.*.out)" >&2; done
	for p in "${TCP_SRVS[@]}"; do wait "$p"; done
	TCP_PIDS=() TCP_SRVS=()
}

# measure [START_NS, default now]: WARM after START, the window's rates "K1 K2 TCP TCP2" in Mbit/s
measure() {
	local c0 c1 t0 t1
	t0=${1:-$(date +%s%N)}
	sleep "$(awk -v w="$WARM" -v s="$t0" -v n="$(date +%s%N)" 'BEGIN { d = w - (n - s) / 1e9; print (d > 0 ? d : 0) }')"
	t0=$(date +%s%N); c0=$(counters); sleep "$WINDOW"; c1=$(counters); t1=$(date +%s%N)
	awk -v a="$c0" -v b="$c1" -v ns=$((t1 - t0)) 'BEGIN { split(a, x); split(b, y)
		for (i = 1; i <= 4; i++) printf "%.1f%s", (y[i] - x[i]) * 8 / (ns / 1e3), i < 4 ? " " : "\n" }'
}
# goodput NODE START_NS: Mbit/s of the messages NODE completed since START_NS
goodput() {
	local f=$KTMP/done.$1
	[ -s "$f" ] || { echo 0; return; }
	awk -v s="$2" '{ b += $2; last = $1 } END { printf "%.1f\n", b * 8 / ((last - s) / 1e3) }' "$f"
}

# Flows started in order (above).  A flow is k (konce from A1, counter k1), or CC@PORT (iperf3 -C CC
# to PORT, counter t1 for 5201, t2 for 5202).  LAT: seconds from a launch to its first data at b,
# per kind (k, tcp) and place (1: on an idle link, 2: into the first flow's queue, where TCP's
# handshakes take several of its RTTs), the last seen; a first guess until then.
declare -A LAT=([k1]=0.05 [tcp1]=0.2 [k2]=0.2 [tcp2]=0.55)
kind() { case $1 in k) echo k ;; *) echo tcp ;; esac; }
ctr_of() { case $1 in k) echo 1 ;; *@5201) echo 3 ;; *@5202) echo 4 ;; esac; } # its field in counters()
launch() { case $1 in k) konce_flow A1 "" ;; *) tcp_client "${1%@*}" "${1#*@}" ;; esac; }
# first_data FLOW PLACE [AT_NS]: launch FLOW (at AT, or now if that has passed; in this shell: its
# processes are the phase's to stop); set D to the time (ns) its counter at b passes 4 kB beyond
# its value before the launch (polled by a loop in b started before the launch; 10 s at most, else
# fail), and learn LAT[kind PLACE]
first_data() {
	local from t0 pid
	from=$(counters | cut -d' ' -f"$(ctr_of "$1")")
	: >"$KTMP/first"
	# shellcheck disable=SC2016 # expanded by the bash in b
	"$NETSIM" exec --name "$run" b -- bash -c 'echo ready; for _ in $(seq 2000); do
		c=$(nft list counter inet share "$1")
		[[ $c =~ bytes\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge "$2" ] && { date +%s%N; exit 0; }
		sleep 0.005
	done; exit 1' _ "$(echo "k1 k2 t1 t2" | cut -d' ' -f"$(ctr_of "$1")")" $((from + 4096)) >"$KTMP/first" &
	pid=$!
	for _ in $(seq 500); do grep -q ready "$KTMP/first" && break; sleep 0.01; done
	sleep "$(awk -v a="${3:-0}" -v n="$(date +%s%N)" 'BEGIN { d = (a - n) / 1e9; print (d > 0 ? d : 0) }')"
	t0=$(date +%s%N)
	launch "$1"
	wait "$pid" || fail "flow $1: no data at b within 10 s of its start"
	D=$(tail -n 1 "$KTMP/first")
	LAT[$(kind "$1")$2]=$(awk -v a="$t0" -v b="$D" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
}
# staggered FIRST SECOND: start FIRST; start SECOND so that its first data reaches b GAP s after
# FIRST's; measure from FIRST's first data; "K1 K2 TCP TCP2 GAP" into r
staggered() {
	local d1 d2
	nx a ip tcp_metrics flush all 2>/dev/null
	nx b ip tcp_metrics flush all 2>/dev/null
	first_data "$1" 1
	d1=$D
	first_data "$2" 2 "$(awk -v g="$GAP" -v l="${LAT[$(kind "$2")2]}" -v s="$d1" 'BEGIN { printf "%.0f", s + (g - l) * 1e9 }')"
	d2=$D
	r="$(measure "$d1") $(awk -v a="$d1" -v b="$d2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')"
}

# phase NAME: run it in this shell (the nodes it starts are its own to stop); "K1 K2 TCP TCP2 [GOODPUT|GAP]"
# into $KTMP/r
phase() {
	local r t0
	rm -f "$KTMP"/done.*
	case $1 in
	fg) konce_up A1; konce_flow A1 ""; r=$(measure); konce_down A1 ;;
	fg2) konce_up A1 A2; konce_flow A1 ""; konce_flow A2 ""; r=$(measure); konce_down A1 A2 ;;
	bbr | cubic) tcp_flow "$1"; r=$(measure); tcp_down ;;
	fg+bbr/* | fg+cubic/*) # the order after the /: konce or tcp first
		local cc=${1%/*}
		cc=${cc#fg+}
		konce_up A1; tcp_server 5201
		if [ "${1#*/}" = konce ]; then staggered k "$cc@5201"; else staggered "$cc@5201" k; fi
		tcp_down; konce_down A1 ;;
	bg) konce_up A1; t0=$(date +%s%N); konce_flow A1 --background; r=$(measure)
		r="$r $(goodput A1 "$t0")"; konce_down A1 ;;
	bbr+bg | cubic+bg) konce_up A1; konce_flow A1 --background; tcp_flow "${1%+bg}"; r=$(measure); tcp_down; konce_down A1 ;;
	bbr+cubic) tcp_flow bbr 5201; tcp_flow cubic 5202; r=$(measure); tcp_down ;;
	bbr+bbr) tcp_server 5201; tcp_server 5202; staggered bbr@5201 bbr@5202; tcp_down ;;
	*) fail "unknown phase $1" ;;
	esac
	echo "$r" >"$KTMP/r"
}

declare -A R=()
for p in $PHASES; do
	case $p in
	fg+bbr | fg+cubic) for o in "${ORDERS[@]}"; do phase "$p/$o"; R[$p/$o]=$(cat "$KTMP/r"); done ;;
	*) phase "$p"; R[$p]=$(cat "$KTMP/r") ;;
	esac
done

sum() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a + b }'; }
col() { read -r -a v <<<"${R[$1]:-}"; echo "${v[$2]:--}"; } # PHASE INDEX (0 k1, 1 k2, 2 tcp, 3 tcp2, 4 goodput or gap)
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.0f%%", 100 * a / b }'; }
jain() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a + b == 0) print "-"; else printf "%.3f", (a + b) ^ 2 / (2 * (a * a + b * b)) }'; }

echo "# $(date -u +%FT%TZ), commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; $LINK's link $RATE, $DELAY RTT, $LOSS loss;" \
	"warm ${WARM} s, window ${WINDOW} s; flows started in order $GAP s apart (BENCH_GAP) in the konce + TCP and bbr+bbr phases; konce flows of $NLOOPS loops of 1/4-1 x $MSG-byte messages; konce's default class ${CONGESTION:-bbr (the default)};" \
	"Mbit/s of IP bytes at the receiver"
echo "| phase | flow 1 | flow 2 | baseline, same run | figure |"
echo "|---|---|---|---|---|"
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
has_p() { [ -n "${R[$1]:-}" ]; }
if has_p fg; then row "konce alone" "$(col fg 0)" "" "link $link_mbit" "$(pct "$(col fg 0)" "$link_mbit") of the link"; fi
if has_p fg2; then
	row "two konce flows" "$(col fg2 0)" "$(col fg2 1)" "konce alone $(col fg 0)" \
		"Jain $(jain "$(col fg2 0)" "$(col fg2 1)"); sum $(sum "$(col fg2 0)" "$(col fg2 1)") = $(pct "$(sum "$(col fg2 0)" "$(col fg2 1)")" "$link_mbit") of the link"
fi
for cc in bbr cubic; do
	if has_p "$cc"; then row "TCP $cc alone" "" "$(col "$cc" 2)" "link $link_mbit" "$(pct "$(col "$cc" 2)" "$link_mbit") of the link"; fi
	for o in konce tcp; do
		if has_p "fg+$cc/$o"; then
			k=$(col "fg+$cc/$o" 0) t=$(col "fg+$cc/$o" 2)
			row "konce + TCP $cc, $o first (gap $(col "fg+$cc/$o" 4) s)" "$k" "$t" "konce alone $(col fg 0), TCP $cc alone $(col "$cc" 2)" \
				"konce $(pct "$k" "$(sum "$k" "$t")") of the two; Jain $(jain "$k" "$t")"
		fi
	done
done
if has_p bg; then
	row "konce background alone" "$(col bg 0)" "" "link $link_mbit, konce alone $(col fg 0)" \
		"$(pct "$(col bg 0)" "$link_mbit") of the link; goodput $(col bg 4) = $(pct "$(col bg 4)" "$link_mbit")"
fi
for cc in bbr cubic; do
	if has_p "$cc+bg"; then
		row "TCP $cc + konce background" "$(col "$cc+bg" 0)" "$(col "$cc+bg" 2)" "TCP $cc alone $(col "$cc" 2)" \
			"TCP keeps $(pct "$(col "$cc+bg" 2)" "$(col "$cc" 2)") of its rate alone; background $(pct "$(col "$cc+bg" 0)" "$link_mbit") of the link"
	fi
done
if has_p bbr+cubic; then
	b=$(col bbr+cubic 2) c=$(col bbr+cubic 3)
	row "TCP bbr + TCP cubic" "$b" "$c" "TCP bbr alone $(col bbr 2), TCP cubic alone $(col cubic 2)" \
		"TCP cubic $(pct "$c" "$(sum "$b" "$c")") of the two; Jain $(jain "$b" "$c")"
fi
if has_p bbr+bbr; then
	b=$(col bbr+bbr 2) c=$(col bbr+bbr 3)
	row "TCP bbr + TCP bbr, 5201 first (gap $(col bbr+bbr 4) s)" "$b" "$c" "TCP bbr alone $(col bbr 2)" \
		"the first-started flow $(pct "$b" "$(sum "$b" "$c")") of the two; Jain $(jain "$b" "$c")"
fi
