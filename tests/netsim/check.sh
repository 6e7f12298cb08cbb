# shellcheck shell=bash
# tests/netsim/check.sh: the assertion shared by lib.sh and konce_lib.sh (each defines fail()).
#
# check DESCRIPTION COMMAND [ARG...] runs exactly one command and prints "ok   DESCRIPTION", or
# fails the test.  A condition of several parts is several checks, or one command that evaluates
# them all (jqt with `and`, a test with -a).  "check D [ a ] && [ b ]" would be wrong: the shell
# parses it as (check D [ a ]) && [ b ], so check sees only [ a ], prints ok, and a failing [ b ]
# is the middle or last operand of a list that set -e does not stop on.  Likewise
# "check D cmd | grep -q x" checks cmd alone and pipes check's own output into grep.  check_lint,
# run when a lib is sourced, refuses any script with a check followed by an unquoted &&, || or |.

check() {
	local what=$1
	shift
	[ $# -gt 0 ] || fail "check \"$what\" has no command"
	if "$@"; then echo "ok   $what"; else fail "$what"; fi
}

# not COMMAND [ARG...]: COMMAND failed (for check: "check D not grep -q x f")
not() { ! "$@"; }

# check_lint FILE: print each line (backslash continuations joined) where a check call is followed
# by an unquoted &&, || or |; return 1 if there is one.
check_lint() {
	awk '
	/^[ \t]*#/ { next }
	{
		n = NR; line = $0
		while (line ~ /\\$/ && (getline nxt) > 0)
			line = substr(line, 1, length(line) - 1) " " nxt
		# blank out quoted text, left to right (a quote inside the other kind is text)
		s = ""; q = ""
		for (i = 1; i <= length(line); i++) {
			c = substr(line, i, 1)
			if (q == "") { if (c == "\047" || c == "\"") q = c; else s = s c }
			else if (q == "\"" && c == "\\") i++
			else if (c == q) q = ""
		}
		if (match(s, /(^|[;&|(){}]|then|do|else)[ \t]*check[ \t]/)) {
			rest = substr(s, RSTART + RLENGTH)
			if (rest ~ /&&|\|/) { print FILENAME ":" n ": " line; bad = 1 }
		}
	}
	END { exit bad }' "$1"
}
