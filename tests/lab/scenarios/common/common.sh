# Helpers for the lab scenarios of every architecture (sourced by
# <arch>/common.sh, which sets CMDLINE_BASE and KERNEL first; busybox sh in
# the lab). Environment from run-scenarios.sh: KVMINI INITRD WORK LAB_DIRECT,
# and the kernels: BZIMAGE VMLINUX (x86_64) or IMAGE (aarch64).
CMDLINE_BASE=${CMDLINE_BASE:-console=ttyS0 quiet panic=-1}
# kvmini's own --timeout for a guest that should finish by itself: well above
# an L2 boot in the lab (10-40 s seen), so a hang shows up as status 124.
L2_TIMEOUT=${L2_TIMEOUT:-120}
L2_MEMORY=${L2_MEMORY:-512M}

now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# show_console FILE: the guest console's tail, for diagnosis.
show_console() {
	echo "--- guest console $1 (last 60 lines):"
	if [ -s "$1" ]; then tail -n 60 "$1" | tr -d '\r' | sed 's/^/    | /'; else echo "    (empty)"; fi
	echo "---"
}

fail() {
	echo "FAIL: $*"
	[ -n "${CONSOLE:-}" ] && show_console "$CONSOLE"
	exit 1
}

# run_guest TAG KERNEL "GUEST COMMAND" [kvmini args...]
# Boots KERNEL with the guest initrd, console to $WORK/TAG.console, and sets
# RC (kvmini's exit status), SECS (wall time) and CONSOLE.
run_guest() {
	tag=$1 kernel=$2 gcmd=$3
	shift 3
	CONSOLE=$WORK/$tag.console
	cl="$CMDLINE_BASE${GUEST_APPEND:+ $GUEST_APPEND}"
	# One quoted init argument: Linux gives init at most 32 arguments, and
	# its parser keeps a double-quoted token whole (so no '"' inside gcmd).
	[ -n "$gcmd" ] && cl="$cl -- \"$gcmd\""
	echo "run: kvmini run --kernel $(basename "$kernel") --cmdline \"$cl\" $*"
	t=$(now)
	"$KVMINI" run --kernel "$kernel" --initrd "$INITRD" --cmdline "$cl" \
		--memory "$L2_MEMORY" --console "file:$CONSOLE" "$@" 2>"$WORK/$tag.stderr"
	RC=$?
	# kvmini's stderr, kept per run (KVMINI_STATS, verdicts) and shown.
	cat "$WORK/$tag.stderr" >&2
	SECS=$(since "$t")
	echo "kvmini exit status $RC after ${SECS}s"
}

# expect_rc WANT: fail unless kvmini exited with WANT.
expect_rc() {
	[ "$RC" = "$1" ] || fail "kvmini exit status $RC, expected $1"
}

# expect_console PATTERN: fail unless the guest console has PATTERN (grep -E).
expect_console() {
	tr -d '\r' <"$CONSOLE" | grep -Eq "$1" || fail "guest console lacks /$1/"
}

