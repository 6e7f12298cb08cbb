#!/usr/bin/env bash
# `konce netcheck` prints the NAT's mapping, filtering and allocation pattern (issue 7), measured
# by the real node through its two rendezvous on netsim:
#
#     node A (a) --- nat (PRESET) --- internet --- pub: R1 (203.0.113.10:7807), R2 (203.0.113.11:7807)
#
# Filtering (nat/filtertest.h): once registered, A opens a fresh socket, learns its mapping X from
# R1 (bare ECHO_REQ / ECHO), then asks R2 (another IP, never contacted from that socket) and R1
# (from a second port) to probe X.  Which probe arrives gives the verdict.  Expected, per netsim's
# preset definitions: full-cone endpoint-independent, restricted-cone address-dependent,
# port-restricted-cone and symmetric address-and-port-dependent.  Mapping and allocation come from
# the registrations: endpoint-independent and port-preserving for the cones, endpoint-dependent
# random for symmetric.  The presets run one after another.
# shellcheck source=tests/netsim/konce_lib.sh
. "$(dirname "$0")/konce_lib.sh"

CASES="full-cone            endpoint-independent       endpoint-independent           port-preserving
restricted-cone      address-dependent          endpoint-independent           port-preserving
port-restricted-cone address-and-port-dependent endpoint-independent           port-preserving
symmetric            address-and-port-dependent endpoint-dependent,.random     random"

i=0
while read -r preset filt map alloc; do
	i=$((i + 1))
	map=${map//./ }
	run=knf$$_$i
	KRUN=$run
	echo "== $preset"
	printf 'internet\nrouter nat preset=%s\nhost a behind nat\nhost pub addr=203.0.113.10,203.0.113.11\n' "$preset" >"$KTMP/$preset.topo"
	kup "$KTMP/$preset.topo" "$run"
	kstart "$run" pub R1 203.0.113.10:7807 --rendezvous yes
	kstart "$run" pub R2 203.0.113.11:7807 --rendezvous yes
	kr1=$(kfield "$run" R1 "public key") kr2=$(kfield "$run" R2 "public key")
	kstart "$run" a A "$(kaddr "$run" a):7807" --rendezvous-peer "$kr1@203.0.113.10:7807" --rendezvous-peer "$kr2@203.0.113.11:7807"
	for _ in $(seq 100); do
		out=$(kcli "$run" a A netcheck --json) &&
			jqt "$out" '.filtering.result != "measuring" and .filtering.result != "waiting for registration"' && break
		sleep 0.1
	done
	echo "     A: filtering $(jq -c .filtering <<<"$out")"
	check "$preset: filtering measured as $filt" jqt "$out" ".filtering.result == \"$filt\""
	check "$preset: mapping $map, allocation $alloc" jqt "$out" ".nat.mapping == \"$map\" and .allocation == \"$alloc\""
	text=$(kcli "$run" a A netcheck)
	echo "$text" | sed 's/^/     A: /'
	check "$preset: konce netcheck prints the three" bash -c 'grep -q "^NAT mapping    $1" <<<"$4" && grep -q "^NAT filtering  $2 (probed on a fresh mapping" <<<"$4" && grep -q "^NAT allocation $3" <<<"$4"' _ "$map" "$filt" "$alloc" "$text"
	s1=$(kcli "$run" pub R1 status --json | jq -c .traversal.filter_service)
	s2=$(kcli "$run" pub R2 status --json | jq -c .traversal.filter_service)
	check "$preset: R1 echoed and probed from its second port ($s1), R2 probed ($s2)" \
		jqt "{\"r1\": $s1, \"r2\": $s2}" '.r1.filter_echoes >= 1 and .r1.filter_probes >= 1 and .r2.filter_probes >= 1 and .r1.filter_refused == 0'
	for n in A R1 R2; do kstop "$run" "$n"; done
	"$NETSIM" down --name "$run" >/dev/null 2>&1
done <<<"$CASES"
echo "ok   every preset measured"
