#!/usr/bin/env bash
# bench/store_stall.sh: does a locked presence store stall the node's packet path?  Not part of make
# test; needs the sqlite3 CLI (make deps) and takes about 15 s per binary.
#
#     bench/store_stall.sh [KONCE ...]      # default: build/konce; give an older build to compare
#
# Two `konce node`s on loopback; A pings B once (the session, and A's store notes), then another
# connection holds A's peers.db write-locked (BEGIN IMMEDIATE) for 10 s while A pings B 40 times at
# 0.2 s.  While notes are queued, a store write waits out SQLite's 2 s busy timeout and fails; the
# ping's max RTT shows whether the node's loop waited with it.  Each binary prints its ping summary
# and how often A logged the failing store (once per failing spell).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
(($#)) || set -- "$root/build/konce"
command -v sqlite3 >/dev/null || { echo "store_stall: no sqlite3 CLI (make deps)" >&2; exit 1; }
for K in "$@"; do
	tmp=$(mktemp -d /tmp/konce-stall.XXXXXX)
	"$K" node --listen 127.0.0.1:0 --data "$tmp/a" --control "$tmp/a.sock" >"$tmp/a.out" 2>"$tmp/a.err" &
	pa=$!
	"$K" node --listen 127.0.0.1:0 --data "$tmp/b" --control "$tmp/b.sock" >"$tmp/b.out" 2>"$tmp/b.err" &
	pb=$!
	for _ in $(seq 50); do [[ -s $tmp/b.out && -S $tmp/a.sock ]] && break; sleep 0.1; done
	kb=$(awk '/^public key/{print $3}' "$tmp/b.out")
	ab=$(awk '/^listening/{print $2}' "$tmp/b.out")
	"$K" ping -c 1 --control "$tmp/a.sock" --addr "$ab" "$kb" >/dev/null
	(echo "BEGIN IMMEDIATE;"; sleep 10; echo "COMMIT;") | sqlite3 "$tmp/a/peers.db" &
	pl=$!
	sleep 0.3
	echo "== $K"
	"$K" ping -c 40 -i 0.2 --control "$tmp/a.sock" "$kb" | tail -2
	wait "$pl"
	kill "$pa" "$pb"
	wait "$pa" "$pb" 2>/dev/null
	echo "store failures logged by A: $(grep -c 'cannot write queued records' "$tmp/a.err")"
	rm -rf "$tmp"
done
