#!/usr/bin/env bash
# bench/node_start.sh: how long `konce node` takes to start serving with 100,000 keys in its store.
# Not part of make test; needs the sqlite3 CLI (make deps) and takes about 20 s for two binaries.
#
#     bench/node_start.sh [KONCE ...]      # default: build/konce; give an older build to compare
#
# The time is from exec to the node's third line on stdout (its control socket), which it prints
# after konce_node_new() returned: the store opened (PRAGMA quick_check) on the loop's connection
# and the worker's, every stored key loaded into the known set, the sockets bound.  Baseline, in the
# same run: the same binary starting on an empty store.  The 100,000-key store is written once by
# the sqlite3 CLI into a database the first binary created (key i has i % 5 addresses: a fifth
# none), copied fresh before each start.  Binaries and stores alternate, ROUNDS (default 7) rounds;
# each prints its best and median.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
(($#)) || set -- "$root/build/konce"
command -v sqlite3 >/dev/null || { echo "node_start: no sqlite3 CLI (make deps)" >&2; exit 1; }
rounds=${ROUNDS:-7}
keys=100000
tmp=$(mktemp -d /tmp/konce-start.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# A node's start, in ms: exec to its control line.  $1 binary, $2 data dir.
start_ms() {
	local t0 t1 line pid
	rm -f "$tmp/c.sock"
	t0=$(date +%s%N)
	coproc NODE { exec "$1" node --listen 127.0.0.1:0 --data "$2" --control "$tmp/c.sock" 2>>"$tmp/err"; }
	pid=$NODE_PID
	while IFS= read -r line <&"${NODE[0]}"; do
		[[ $line == control* ]] && break
	done
	t1=$(date +%s%N)
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[[ $line == control* ]] || { echo "node_start: $1 did not start (see below)" >&2; cat "$tmp/err" >&2; exit 1; }
	echo $(((t1 - t0) / 1000000))
}

# The stores: an empty one and one with $keys keys, both made by the first binary.
mkdir -m 700 "$tmp/empty" "$tmp/full"
start_ms "$1" "$tmp/empty" >/dev/null
cp "$tmp/empty/identity.key" "$tmp/full/"
sqlite3 "$tmp/empty/peers.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
cp "$tmp/empty/peers.db" "$tmp/full.db"
sqlite3 "$tmp/full.db" >/dev/null <<EOF
BEGIN;
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < $keys - 1)
INSERT INTO peers (pk, first_seen, last_seen, rtt_us, handshakes)
  SELECT randomblob(32), 1700000000, 1700000000 + i * 10, 1000, 1 FROM c;
INSERT INTO addrs SELECT pk, CAST(x'00000000000000000000ffff0a' || randomblob(3) AS BLOB), 7000 + j, 1,
  last_seen + j FROM peers, (SELECT 0 AS j UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3)
  WHERE (last_seen / 10) % 5 > j;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
n=$(sqlite3 "$tmp/full.db" "SELECT count(*) FROM peers")
a=$(sqlite3 "$tmp/full.db" "SELECT count(*) FROM addrs")
[[ $n == "$keys" ]] || { echo "node_start: the store holds $n keys, not $keys" >&2; exit 1; }
echo "node_start: $n keys, $a addresses; $rounds rounds, binaries and stores alternating"

declare -A times
for ((r = 0; r < rounds; r++)); do
	for K in "$@"; do
		rm -rf "$tmp/e" && mkdir -m 700 "$tmp/e" && cp "$tmp/empty/identity.key" "$tmp/e/"
		times[$K,empty]+="$(start_ms "$K" "$tmp/e") "
		rm -f "$tmp/full/peers.db"*
		cp "$tmp/full.db" "$tmp/full/peers.db"
		chmod 600 "$tmp/full/peers.db"
		times[$K,full]+="$(start_ms "$K" "$tmp/full") "
	done
done
# best and median of the times on stdin (median: the lower middle for an even count)
summary() {
	tr ' ' '\n' | grep . | sort -n |
		awk '{v[NR] = $1} END {printf "best %5d ms  median %5d ms", v[1], v[int((NR + 1) / 2)]}'
}
for K in "$@"; do
	echo "== $K"
	echo "  empty store (baseline):  $(echo "${times[$K,empty]}" | summary)"
	echo "  $keys keys:             $(echo "${times[$K,full]}" | summary)"
done
