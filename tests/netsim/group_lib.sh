# shellcheck shell=bash
# tests/netsim/group_lib.sh: sourced by the consensus group scenarios (test_group_*.sh) after
# konce_lib.sh.  The helpers drive `konce group` on daemons started with kstart; a node is named by
# RUN HOST NAME as in kcli.  Every wait is bounded and fails the test with what it waited for.
#
# The control socket is a path in the file system (not bound to a network namespace), so
# gpropose_burst talks to it from here over one connection (socat), which is what makes a thousand
# proposals take seconds rather than a thousand `netsim exec` start-ups.

for t in socat sha256sum; do command -v "$t" >/dev/null || skip "missing tool $t (make deps)"; done

# wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds, at most SECONDS
wait_for() {
	local secs=$1 what=$2
	shift 2
	for _ in $(seq $((secs * 5))); do
		"$@" && return 0
		sleep 0.2
	done
	fail "$what: not within $secs s"
}
# gthree RUN: netsim/topologies/three-public.topo up as RUN (the run whose logs fail() shows), with
# a node Pi on each host pi (i = 1..3) listening on its address, port 7807
gthree() {
	local i
	# shellcheck disable=SC2034 # read by konce_lib.sh (fail() shows this run's node logs)
	KRUN=$1
	kup "$TOPOS/three-public.topo" "$1"
	for i in 1 2 3; do
		kstart "$1" "p$i" "P$i" "$(kaddr "$1" "p$i"):7807"
	done
}
# gregistered RUN HOST NAME: the node is registered with its rendezvous
gregistered() {
	local out
	out=$(kcli "$1" "$2" "$3" netcheck --json 2>/dev/null) || return 1
	jqt "$out" '.registered'
}
# gmembers RUN HOST NAME GROUP: the group object with its members (konce group members --json)
gmembers() { kcli "$1" "$2" "$3" group members "$4" --json | jq -c .group; }
# gstate_is RUN HOST NAME GROUP STATE COUNT: the node is in STATE in a view of COUNT members
gstate_is() {
	local out
	out=$(gmembers "$1" "$2" "$3" "$4") || return 1
	jqt "$out" ".state == \"$5\" and .members_count == $6"
}
# glog RUN HOST NAME GROUP: the decisions the node delivered, one per line: SEQ ORIGIN TEXT
glog() { kcli "$1" "$2" "$3" group log "$4"; }
# glog_has RUN HOST NAME GROUP TEXT: the node delivered a decision whose text is TEXT
glog_has() { glog "$1" "$2" "$3" "$4" | awk -v t="$5" '$3 == t { f = 1 } END { exit !f }'; }
# glog_after RUN HOST NAME GROUP SEQ: the delivered decisions after seq SEQ
glog_after() { glog "$1" "$2" "$3" "$4" | awk -v s="$5" '$1 > s'; }
# glog_seq_of RUN HOST NAME GROUP TEXT: the seq of the last decision whose text is TEXT
glog_seq_of() { glog "$1" "$2" "$3" "$4" | awk -v t="$5" '$3 == t { s = $1 } END { print s }'; }

declare -A GTOKEN=() # GTOKEN[NAME]: the last token gjoin gave NAME
# gjoin RUN GROUP COUNT IHOST INAME JHOST JNAME [INVITE ARGS...]: INAME invites, JNAME joins with
# the token and becomes a member of a view of COUNT; then a decision "joined-JNAME" proposed by
# the joiner is delivered by the joiner itself, so it has its state (a joiner delivers nothing
# before its snapshot) and knows the invitations committed from then on (the next join's
# invitation, created after this returns, is voted on by every member knowing it)
gjoin() {
	local run=$1 grp=$2 count=$3 ih=$4 in=$5 jh=$6 jn=$7 tok
	shift 7
	tok=$(kcli "$run" "$ih" "$in" group invite "$grp" "$@") || fail "$in: invite failed"
	# shellcheck disable=SC2034 # read by the tests that source this file
	GTOKEN[$jn]=$tok
	kcli "$run" "$jh" "$jn" group join "$tok" --name "$grp" >/dev/null || fail "$jn: join failed"
	wait_for 30 "$jn becomes a member of a view of $count" gstate_is "$run" "$jh" "$jn" "$grp" member "$count"
	kcli "$run" "$jh" "$jn" group propose "$grp" "joined-$jn" >/dev/null || fail "$jn: propose failed"
	wait_for 30 "$jn delivers its own first decision" glog_has "$run" "$jh" "$jn" "$grp" "joined-$jn"
}

# gpropose_burst SOCK GROUP PREFIX N: propose PREFIX-1 .. PREFIX-N in that order over one control
# connection, each after the previous one was taken; EAGAIN (32 of this node's proposals waiting
# for their commit) is retried 10 ms later, for 30 s at most.  Returns non-zero (with the answer) on
# any other error.
gpropose_burst() {
	local sock=$1 grp=$2 pfx=$3 n=$4 i line tries
	coproc GPB { exec socat - "UNIX-CONNECT:$sock"; }
	for ((i = 1; i <= n; i++)); do
		for ((tries = 0; ; tries++)); do
			[ "$tries" -lt 3000 ] || { echo "$pfx-$i: still EAGAIN after 30 s"; return 1; }
			printf '{"cmd":"group.propose","group":"%s","text":"%s-%d"}\n' "$grp" "$pfx" "$i" >&"${GPB[1]}"
			IFS= read -r -t 10 line <&"${GPB[0]}" || { echo "$pfx-$i: no answer within 10 s"; return 1; }
			[[ $line =~ \"ok\":\ ?true ]] && break
			[[ $line =~ EAGAIN ]] || { echo "$pfx-$i: $line"; return 1; }
			sleep 0.01
		done
	done
	local wfd=${GPB[1]}
	exec {wfd}>&- # socat sees the end of its input and exits
	wait "$GPB_PID" 2>/dev/null || true
}

# glog_hash RUN HOST NAME GROUP AFTER: count and sha256 of the decisions delivered after seq AFTER
glog_hash() {
	local l
	l=$(glog_after "$@")
	echo "$(grep -c . <<<"$l") $(sha256sum <<<"$l" | cut -d' ' -f1)"
}

# gpartition RUN "HOSTS A" "HOSTS B": nftables in every host drops all IPv4 to and from the
# other side's addresses; gheal RUN HOSTS...: removes it
gpartition() {
	local run=$1 h o addrs i pids=() hosts=()
	# Every host's rules go in at once, not one host after another: on a loaded 2-core VM the
	# `netsim exec nft` calls took long enough that a 2-side host still reached the 3-side after
	# its partner was cut off, and the 3-side evicted the partner alone, in a view with that host
	# in it: not the partition a test means.
	for h in $2 $3; do
		addrs=''
		if [[ " $2 " == *" $h "* ]]; then o=$3; else o=$2; fi
		for x in $o; do addrs+="${addrs:+, }$(kaddr "$run" "$x")"; done
		"$NETSIM" exec --name "$run" "$h" -- nft -f - <<EOF &
table ip gpart {
	chain in { type filter hook input priority -10; ip saddr { $addrs } drop; }
	chain out { type filter hook output priority -10; ip daddr { $addrs } drop; }
}
EOF
		pids+=($!) hosts+=("$h")
	done
	for i in "${!pids[@]}"; do wait "${pids[$i]}" || fail "${hosts[$i]}: nft failed"; done
}
gheal() {
	local run=$1 h
	shift
	for h in "$@"; do "$NETSIM" exec --name "$run" "$h" -- nft delete table ip gpart || fail "$h: nft delete failed"; done
}
