#!/usr/bin/env bash
# test_circulation.sh - which key a node shows, and limited-circulation servers, with `konce node`
# daemons on 127.0.0.1 driven by the CLI (docs/KEYS.md "Which key a node shows", docs/PROTOCOL.md
# section 8):
#   - B serves a group (--group-key G from `konce keygen --group`).  A, without G, dials B: the
#     connect fails as unreachable and B sends not one datagram (a client without the key learns
#     nothing, not even that a node is there).  A wrong group key fares no better.  With
#     KB+G@ADDR the connect succeeds, a later `konce send KB` needs no G (the node keeps it), and
#     `konce ping KB+G --addr` works from a third node;
#   - identity: a node dialling by address shows a per-server key (peers: SHOWN per-server); with
#     --identity master, with --identity-master KEY, or for a key with a petname it shows its
#     master key, and the server's log names it;
#   - bad values of group_key, identity and identity_master are refused with FILE:LINE or the flag.
set -eu

# shellcheck source=tests/cli/cli_lib.sh
. "$(dirname "$0")/cli_lib.sh" circ
# settled NODE PEERKEY: waits (bounded) until NODE's failed attempt toward PEERKEY is gone: the
# connect's deadline can answer the CLI a moment before the endpoint gives the attempt up, and a
# dial made meanwhile would join the dying attempt
settled() {
	for _ in $(seq 50); do
		timeout 10 "$K" peers --json -s "$tmp/$1.sock" |
			jq -e "[.peers[] | select(.public_key == \"$2\" and .state == \"connecting\")] | length == 0" \
				>/dev/null && return 0
		sleep 0.1
	done
	fail "$1 still has an attempt toward $2 5 s after it failed"
}
counter() { timeout 10 "$K" status --json -s "$tmp/$1.sock" | jq -r ".counters.$2"; }
# shown NODE PEERKEY: the key NODE shows PEERKEY in their session
shown() { timeout 10 "$K" peers --json -s "$tmp/$1.sock" | jq -r ".peers[] | select(.public_key == \"$2\") | .local_key"; }

run 0 keygen --group
G=$(cat "$out")
is_key "$G" || fail "keygen --group printed '$G', not a key's text"
run 0 keygen --group
[[ $(cat "$out") != "$G" ]] || fail "two group keys are the same"
run 2 keygen --group --json
run 0 keygen --group
W=$(cat "$out") # another group's key

start B --group-key "$G" -v
start A
start C
KA=$(field A "public key") KB=$(field B "public key") KC=$(field C "public key")
PB=$(field B listening) PC=$(field C listening)

# --- a client without the group key learns nothing
run 1 connect -s "$tmp/A.sock" "$KB@$PB"
has "$err" "unreachable"
[[ $(counter B rx_packets) -ge 1 ]] || fail "B heard nothing from A"
[[ $(counter B tx_packets) == 0 ]] || fail "B answered a client without the group key"
[[ $(counter B hello_rx) -ge 1 ]] || fail "B counted no HELLO"
run 1 connect -s "$tmp/C.sock" "$KB+$W@$PB"
[[ $(counter B tx_packets) == 0 ]] || fail "B answered a client with the wrong group key"

# --- with it
settled A "$KB"
run 0 connect --json -s "$tmp/A.sock" "$KB+$G@$PB"
jqt ".ok == true and .public_key == \"$KB\" and .address == \"$PB\""
[[ $(counter B tx_packets) -ge 1 ]] || fail "B sent nothing to a client with the group key"
run 0 send -s "$tmp/A.sock" "$KB" "inside the group" # the node kept G for KB
has "$out" "^replied in"
settled C "$KB"
run 0 ping -c 1 -W 5 -s 0 --control "$tmp/C.sock" --addr "$PB" "$KB+$G"
has "$out" "1 sent, 1 received"
run 2 ping -c 1 --control "$tmp/C.sock" "$KB+$G@$PB"
has "$err" "no @HOST:PORT"

# --- identity: per-server by default, master on request
KAB=$(shown A "$KB")
is_key "$KAB" && [[ $KAB != "$KA" ]] || fail "A shows B '$KAB', not a per-server key"
for _ in $(seq 20); do grep -q "inside the group" "$tmp/B.err" && break; sleep 0.1; done
has "$tmp/B.err" "message from $KAB: inside the group"
grep -q "$KA" "$tmp/B.err" && fail "B's log names A's master key"
run 0 peers -s "$tmp/A.sock"
has "$out" "^KEY  *PETNAME  *ADDRESS  *PATH  *STATE  *SHOWN"
has "$out" "^${KB:0:12}\.\.  *-  *$PB  *direct  *up  *per-server "

start D --identity master
KD=$(field D "public key")
run 0 send -s "$tmp/D.sock" --addr "$PC" "$KC" "from D"
for _ in $(seq 20); do grep -q "from D" "$tmp/C.err" && break; sleep 0.1; done
has "$tmp/C.err" "message from $KD: from D"
[[ $(shown D "$KC") == "$KD" ]] || fail "D with --identity master shows C '$(shown D "$KC")'"

start E --identity-master "$KC,$KB"
KE=$(field E "public key")
run 0 send -s "$tmp/E.sock" --addr "$PC" "$KC" "from E"
for _ in $(seq 20); do grep -q "from E" "$tmp/C.err" && break; sleep 0.1; done
has "$tmp/C.err" "message from $KE: from E"
run 0 peers --json -s "$tmp/E.sock"
jqt ".peers[] | select(.public_key == \"$KC\") | .identity == \"master\" and .local_key == \"$KE\""

# a petname: A names C, and dials it with its master key
run 0 alias -s "$tmp/A.sock" "$KC" carol
run 0 send -s "$tmp/A.sock" --addr "$PC" carol "from A"
for _ in $(seq 20); do grep -q "from A" "$tmp/C.err" && break; sleep 0.1; done
has "$tmp/C.err" "message from $KA: from A"

# --- bad values
run 2 node --group-key nonsense --data "$tmp/X"
has "$err" "--group-key: group_key: not a key's text"
run 2 node --identity anonymous --data "$tmp/X"
has "$err" "--identity: identity: 'anonymous' is not per-server or master"
run 2 node --identity-master "$KA, $KB" --data "$tmp/X"
has "$err" "--identity-master: identity_master: not a list of public keys"
printf 'listen = 127.0.0.1:0\ngroup_key = %s\n' "${G:0:42}" >"$tmp/g.conf"
run 1 node --config "$tmp/g.conf" --data "$tmp/X"
has "$err" "$tmp/g.conf:2: group_key: not a key's text"
printf 'listen = 127.0.0.1:0\ngroup_key = %s\nidentity = master\ncontrol = %s\n' "$G" "$tmp/F.sock" >"$tmp/f.conf"
"$K" node --config "$tmp/f.conf" --data "$tmp/F" >"$tmp/F.out" 2>"$tmp/F.err" &
pid[F]=$!
for _ in $(seq 100); do [[ -S $tmp/F.sock ]] && break; sleep 0.1; done
KF=$(field F "public key")
PF=$(field F listening)
run 1 connect -s "$tmp/C.sock" "$KF@$PF"
settled C "$KF"
run 0 connect -s "$tmp/C.sock" "$KF+$G@$PF"
echo "ok: limited circulation (no answer without the group key; KEY+GROUP connects), per-server and master identities"
