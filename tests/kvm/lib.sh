# Helpers shared by tests/kvm/args.sh and cases.sh (sourced; bash).
# Expects case_name, KVMINI, out, err and con to be set.

fail() {
	echo "FAIL [$case_name]: $*"
	echo "--- stdout"; cat "$out" 2>/dev/null
	echo "--- stderr"; cat "$err" 2>/dev/null
	echo "--- console"; cat "$con" 2>/dev/null
	exit 1
}

# run EXPECTED_STATUS kvmini-args...: runs kvmini with no stdin, checks status
run() {
	local want=$1; shift
	timeout -s KILL 50 "$KVMINI" "$@" </dev/null >"$out" 2>"$err"
	local st=$?
	[ "$st" = "$want" ] || fail "exit status $st, expected $want (args: $*)"
}
has() { grep -qF -- "$2" "$1" || fail "'$2' not found in $(basename "$1")"; }
hasnt() { ! grep -qF -- "$2" "$1" || fail "'$2' unexpectedly found in $(basename "$1")"; }

# A bad argument: status 2, exactly one line on stderr naming it, nothing on stdout.
bad_arg() {
	local name=$1; shift
	run 2 "$@"
	[ "$(wc -l <"$err")" = 1 ] || fail "expected exactly one line on stderr"
	grep -q "^kvmini: .*$name" "$err" || fail "stderr does not name '$name'"
	[ ! -s "$out" ] || fail "unexpected stdout"
}

# wait_for FILE TEXT: until FILE holds TEXT, up to 30 s; 1 if it never does.
wait_for() {
	local i
	for i in $(seq 150); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
