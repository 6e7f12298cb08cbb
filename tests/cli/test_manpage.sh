#!/usr/bin/env bash
# test_manpage.sh - docs/konce.1 documents exactly the commands `konce --help` lists, each in the
# SYNOPSIS and in its own COMMANDS section, and for every command (and every `konce probe` mode) the
# options its --help lists, no more:
#   - every option of a --help line is in the command's section (short and long form), and the line
#     appears in the command's SYNOPSIS entry (in either form);
#   - every option the section defines (the tag line of a .TP item) and every option of the SYNOPSIS
#     entry is one the --help lists.
# docs/konce.conf.5 has one KEYS item for each configuration key `konce node` knows, and groff renders
# both man pages without a warning.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
K=${KONCE_BIN:-$root/build/konce}
[[ -x $K ]] || { echo "no konce binary at $K (set KONCE_BIN)"; exit 1; }
man1=$root/docs/konce.1
if ! command -v groff >/dev/null; then
	# groff-base comes with man-db, which make deps installs; CI must not pass without it
	[[ ${CI:-} == true ]] && { echo "FAIL: groff missing (make deps)"; exit 1; }
	echo "skip: groff missing (make deps installs man-db)"
	exit 77
fi
tmp=$(mktemp -d /tmp/konce-test-manpage.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# the man page as plain words: \- is -, font changes go, quotes go
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq/"/g' -e 's/"//g'; }
# option tokens in stdin (-x, --long, --long[=ARG] -> --long), one per line, sorted, unique
opts() { grep -oE '(^|[^A-Za-z0-9_-])--?[A-Za-z0-9][A-Za-z0-9-]*' | sed -E 's/^[^-]+//' | sort -u; }

for f in "$man1" "$root/docs/konce.conf.5"; do
	groff -t -man -ww -z "$f" >"$tmp/groff" 2>&1 || true
	[[ ! -s $tmp/groff ]] || { cat "$tmp/groff"; bad "groff warns about ${f#"$root"/}"; }
done

# --- commands: `konce --help`, the COMMANDS sections, the SYNOPSIS
"$K" --help | awk '/^Commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }' | sort >"$tmp/cmds.help"
[[ -s $tmp/cmds.help ]] || bad "konce --help lists no commands"
# section headings: .SS "konce node", .SS "konce probe listen ...", .SS "konce help, konce version"
grep '^\.SS "konce ' "$man1" | plain | sed 's/^\.SS //' | tr ',' '\n' |
	awk '$1 == "konce" { print $2 }' | sort -u >"$tmp/cmds.sections"
# synopsis entries: the line after each .SY konce (.B node, .B probe listen, .RB { help | version })
awk '/^\.SH SYNOPSIS/ { on = 1; next } /^\.SH/ { on = 0 } on && prev == ".SY konce" { print } { prev = $0 }' "$man1" |
	plain | sed -E 's/^\.R?B //' | tr -d '{}|' | awk '{ if ($1 == "probe") print $1; else for (i = 1; i <= NF; i++) print $i }' |
	sort -u >"$tmp/cmds.synopsis"
for where in sections synopsis; do
	if ! diff -u --label "konce --help" --label "konce.1 $where" "$tmp/cmds.help" "$tmp/cmds.$where" >"$tmp/diff"; then
		cat "$tmp/diff"
		bad "the commands of konce --help and of konce.1's $where differ"
	fi
done

# --- options, per command and per probe mode
units=()
while read -r c; do
	case $c in
	help | version) ;;
	probe) for m in $("$K" probe --help | awk '/^Modes:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }'); do
		units+=("probe $m")
	done ;;
	*) units+=("$c") ;;
	esac
done <"$tmp/cmds.help"
[[ ${#units[@]} -ge 10 ]] || bad "only ${#units[@]} commands and probe modes to check"

for u in "${units[@]}"; do
	# shellcheck disable=SC2086  # "probe listen" is two words
	"$K" $u --help >"$tmp/help" 2>&1 || { bad "konce $u --help exited non-zero"; continue; }
	# --help's option lines: the part before the description (two spaces), one line per option
	grep -E '^ +-' "$tmp/help" | sed -E 's/^ +//; s/   .*//; s/  [a-z(].*//' |
		grep -vE '^-h, --help$' >"$tmp/help.lines" || true
	opts <"$tmp/help.lines" >"$tmp/help.opts"
	[[ $u == probe\ * || -s $tmp/help.opts ]] || bad "konce $u --help lists no options"
	# the section: from its .SS heading to the next heading
	awk -v u="$u" '
		/^\.S[SH] / { on = 0 }
		/^\.SS "konce / { h = $0; gsub(/\\f[BIRP]/, "", h); sub(/^\.SS "konce /, "", h)
			n = split(h, w, /[ ,"]+/); key = (w[1] == "probe" && w[2] != "MODE") ? w[1] " " w[2] : w[1]
			on = (key == u) }
		on' "$man1" >"$tmp/section"
	[[ -s $tmp/section ]] || { bad "konce.1 has no section for konce $u"; continue; }
	plain <"$tmp/section" | opts >"$tmp/section.opts"
	# the options the section defines: the tag line after each .TP (and .TQ)
	awk 'tag { print; tag = 0 } /^\.T[PQ]/ { tag = 1 }' "$tmp/section" | plain | opts >"$tmp/section.defined"
	# the SYNOPSIS entry: from .SY konce / .B u to .YS
	awk -v u="$u" '/^\.SY konce/ { sy = 1; next } sy == 1 { on = ($0 == ".B " u); sy = 0 } /^\.YS/ { on = 0 } on' \
		"$man1" | plain | opts >"$tmp/synopsis.opts"
	[[ -s $tmp/synopsis.opts || ! -s $tmp/help.opts ]] || bad "konce.1's SYNOPSIS has no options for konce $u"

	missing=$(comm -23 "$tmp/help.opts" "$tmp/section.opts" | tr '\n' ' ')
	[[ -z $missing ]] || bad "konce $u: --help has options its konce.1 section does not mention: $missing"
	extra=$(comm -13 "$tmp/help.opts" "$tmp/section.defined" | tr '\n' ' ')
	[[ -z $extra ]] || bad "konce $u: konce.1 defines options its --help does not have: $extra"
	extra=$(comm -13 "$tmp/help.opts" "$tmp/synopsis.opts" | tr '\n' ' ')
	[[ -z $extra ]] || bad "konce $u: konce.1's SYNOPSIS has options its --help does not have: $extra"
	while read -r line; do
		opts <<<"$line" | grep -qxFf "$tmp/synopsis.opts" || bad "konce $u: '$line' is not in konce.1's SYNOPSIS"
	done <"$tmp/help.lines"
	echo "konce $u: $(wc -l <"$tmp/help.opts") options in --help"
done

# --- konce.conf(5): one KEYS item per key the node knows.  konce names them all when it meets a key it
# does not know; an item whose key it does not know is refused at start.
printf 'no_such_key = 1\n' >"$tmp/bad.conf"
timeout 10 "$K" node --config "$tmp/bad.conf" --data "$tmp/data" --control "$tmp/ctl.sock" 2>&1 |
	sed -n 's/.*(known keys: \(.*\))$/\1/p' | tr -d ' ' | tr ',' '\n' | sort >"$tmp/keys.node"
[[ $(wc -l <"$tmp/keys.node") -ge 5 ]] || bad "konce node did not list its configuration keys"
awk '/^\.SH KEYS/ { on = 1; next } /^\.SH/ { on = 0 } on && tag { print $2; tag = 0 } on && /^\.TP/ { tag = 1 }' \
	"$root/docs/konce.conf.5" | plain | sort >"$tmp/keys.man"
if ! diff -u --label "konce node's keys" --label "konce.conf.5 KEYS" "$tmp/keys.node" "$tmp/keys.man" >"$tmp/diff"; then
	cat "$tmp/diff"
	bad "the keys konce node knows and konce.conf.5 documents differ"
else
	echo "konce.conf(5): $(wc -l <"$tmp/keys.node") keys, all documented"
fi

((fails == 0)) || { echo "$fails findings"; exit 1; }
echo "ok: konce.1 documents the $(wc -l <"$tmp/cmds.help") commands of konce --help and every option of each," \
	"konce.conf.5 every configuration key"
