#!/usr/bin/env bash
# Progress and traffic, as a user watching a long transfer sees them:
#
#     node A (a, 203.0.113.20, 20 Mbit/s each way) --- internet --- node B (b, 203.0.113.30)
#
# A sends B an 8 MiB file (about 3.5 s at 20 Mbit/s) three times:
#   - `konce send --json --progress`: progress objects, one per line, before the answer: acked_bytes
#     never goes down and stays within total_bytes (8 MiB), at least two of them come while bytes are
#     still unacknowledged, and the answer ("replied") comes last;
#   - meanwhile `konce status --json` and `konce peers --json` on A show the session's traffic: B
#     among the busiest peers with an outgoing rate above 1 Mbit/s and below the link's 20 Mbit/s,
#     and `konce peers --watch=0.5 --count 3 --json` prints three lists, one JSON object per line;
#   - on a terminal (script(1) gives it one) the progress line reads "X MiB of 8.0 MiB (N%)";
#   - `konce send --background` is answered too, and a node started with --file-background 1M
#     answers a file send without the flag.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"
command -v script >/dev/null || fail "script(1) is missing (bsdutils, make deps)"

run=kp$$
KRUN=$run
SIZE=$((8 * 1024 * 1024))
printf 'internet\nhost a addr=203.0.113.20 rate=20mbit\nhost b addr=203.0.113.30\n' >"$KTMP/progress.topo"
kup "$KTMP/progress.topo" "$run"
kstart "$run" a A 203.0.113.20:7807
kstart "$run" b B 203.0.113.30:7807 --file-background 1M
ka=$(kfield "$run" A "public key") kb=$(kfield "$run" B "public key")
out=$(kcli "$run" a A connect --json "$kb@203.0.113.30:7807") || fail "connect failed: $out"
head -c "$SIZE" /dev/urandom >"$KTMP/big"

# --json --progress, with status and peers sampled while it runs
timeout 60 "$NETSIM" exec --name "$run" a -- "$K" send --control "$KTMP/$run.A.sock" --json --progress \
	--file "$KTMP/big" "$kb" >"$KTMP/send.out" 2>"$KTMP/send.err" &
spid=$!
sleep 2
st=$(kcli "$run" a A status --json) || fail "status failed: $st"
pe=$(kcli "$run" a A peers --json) || fail "peers failed: $pe"
kcli "$run" a A peers --watch=0.5 --count 3 --json >"$KTMP/watch.out" || fail "peers --watch failed"
wait "$spid" || fail "send --progress failed: $(cat "$KTMP/send.out" "$KTMP/send.err")"

echo "     $(grep -c progress "$KTMP/send.out") progress lines; status traffic: $(jq -c .traffic.tx_bytes_per_s <<<"$st") B/s out"
all=$(jq -s . "$KTMP/send.out") || fail "send --json --progress printed something that is not JSON"
check "the answer comes last, replied" jqt "$all" 'last | .ok == true and .outcome == "replied"'
check "everything before it is a progress object" jqt "$all" '.[:-1] | all(has("progress"))'
prog=$(jq '[.[:-1][].progress]' <<<"$all")
check "at least two progress objects came while bytes were unacknowledged" \
	jqt "$prog" "[.[] | select(.acked_bytes < .total_bytes)] | length >= 2"
check "every progress object counts the 8 MiB file" jqt "$prog" "all(.[]; .total_bytes == $SIZE and .acked_bytes <= $SIZE)"
check "acked_bytes never goes down" jqt "$prog" '[range(1; length) as $i | .[$i].acked_bytes >= .[$i - 1].acked_bytes] | all'
check "the rates and elapsed times are numbers" jqt "$prog" 'all(.[]; (.rate_bytes_per_s | type) == "number" and .elapsed_ms >= 0)'
lim=$((20 * 1000 * 1000 / 8))
check "status: A sends to B at 1 Mbit/s or more and at most the link's 20 Mbit/s" \
	jqt "$st" ".traffic.busiest[0].public_key == \"$kb\" and .traffic.busiest[0].tx_bytes_per_s > 125000 and .traffic.tx_bytes_per_s <= $lim * 1.05"
check "peers: B's session shows the outgoing rate and byte count" \
	jqt "$pe" ".peers[] | select(.public_key == \"$kb\") | .tx_bytes_per_s > 125000 and .tx_bytes > 1000000 and .rx_bytes > 0"
check "peers --watch --count 3 --json printed three lists" [ "$(jq -s 'map(select(.ok == true and (.peers | type) == "array")) | length' "$KTMP/watch.out")" = 3 ]

# a terminal gets the human progress line on standard error
timeout 60 "$NETSIM" exec --name "$run" a -- script -qec "$K send --control $KTMP/$run.A.sock --file $KTMP/big $kb" \
	/dev/null >"$KTMP/tty.out" 2>&1 || fail "send on a terminal failed: $(cat "$KTMP/tty.out")"
tr '\r\n' '  ' <"$KTMP/tty.out" >"$KTMP/tty.line"
check "the terminal shows 'N MiB of 8.0 MiB (P%)' and the answer" \
	grep -Eq '[0-9.]+ (B|KiB|MiB) of 8\.0 MiB \([0-9]+%\).*replied' "$KTMP/tty.line"

out=$(kcli "$run" a A send --json --background --file "$KTMP/big" "$kb") || fail "send --background failed: $out"
check "send --background is answered" jqt "$out" '.outcome == "replied"'
head -c $((2 * 1024 * 1024)) /dev/urandom >"$KTMP/mid"
# B sends back over A's session, to the key A shows it (a per-server key: A dialled B by address)
kab=$(kshown "$run" a A "$kb")
out=$(kcli "$run" b B send --json --file "$KTMP/mid" "$kab") || fail "B's send failed: $out"
check "a node with --file-background 1M answers a 2 MiB file send" jqt "$out" '.outcome == "replied"'
out=$(kcli "$run" a A send --json --progress "$kb" "a short one") || fail "short send failed: $out"
check "a short send with --progress is answered without progress objects" jqt "$(jq -s . <<<"$out")" 'length == 1 and .[0].outcome == "replied"' 
echo "test_konce_progress: ok"
