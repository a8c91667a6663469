# CI verdict scenarios (sourced after <arch>/common.sh; KERNEL: the guest
# kernel). Each runs kvmini with --result and prints the JSON between
# RESULT-JSON-BEGIN and RESULT-JSON-END lines; tests/lab/check-result.sh
# validates it on the host (the lab has no JSON parser).

# show_result FILE: prints the --result file for the host-side check.
show_result() {
	[ -s "$1" ] || fail "no --result file $1"
	echo "RESULT-JSON-BEGIN"
	cat "$1"
	echo "RESULT-JSON-END"
}

# result_has FILE TEXT: fail unless the JSON file holds TEXT (grep -F).
result_has() {
	grep -qF -- "$2" "$1" || fail "--result lacks $2"
}

# --expect ends a run early with success: the guest would sleep 600 s.
ci_expect() {
	run_guest expect "$KERNEL" "sleep 600" --expect 'KVMINI-GUEST-UP cpus=[0-9]+' \
		--result "$WORK/expect.json" --timeout "$L2_TIMEOUT"
	expect_rc 0
	show_result "$WORK/expect.json"
	result_has "$WORK/expect.json" '"outcome": "expect"'
	result_has "$WORK/expect.json" '"status": 0'
	grep -q '"boot_marker_s": [0-9]' "$WORK/expect.json" || fail "no boot marker time"
	grep -q '"first_output_s": [0-9]' "$WORK/expect.json" || fail "no first-output time"
	awk -v s="$SECS" 'BEGIN { exit !(s < 100) }' || fail "the run took ${SECS}s: --expect did not end it"
}

# --fail-on catches a forced kernel WARNING (written to /dev/kmsg at a
# level the console shows despite quiet).
ci_fail_on() {
	run_guest failon "$KERNEL" "echo '<2>WARNING: CPU: 0 PID: 1 at lab/ci.sh forced by the lab' >/dev/kmsg; sleep 600" \
		--fail-on 'Kernel panic|BUG:' --fail-on 'WARNING:' --expect 'NEVER-PRINTED' \
		--result "$WORK/failon.json" --timeout "$L2_TIMEOUT"
	expect_rc 6
	show_result "$WORK/failon.json"
	result_has "$WORK/failon.json" '"outcome": "fail-on"'
	result_has "$WORK/failon.json" '"matched": "WARNING:"'
}

# --idle-timeout ends a guest that sleeps without a word.
ci_idle() {
	run_guest idle "$KERNEL" "sleep 600" --idle-timeout 8 --result "$WORK/idle.json" \
		--timeout "$L2_TIMEOUT"
	expect_rc 7
	show_result "$WORK/idle.json"
	result_has "$WORK/idle.json" '"outcome": "idle-timeout"'
}

# A guest that powers off before --expect's pattern shows: status 8. With
# --guest-status, a reboot is kvmini's own outcome: 243, not the guest's 3.
ci_no_expect() {
	run_guest noexpect "$KERNEL" "true" --expect 'NEVER-PRINTED' --result "$WORK/noexpect.json" \
		--timeout "$L2_TIMEOUT"
	expect_rc 8
	show_result "$WORK/noexpect.json"
	result_has "$WORK/noexpect.json" '"outcome": "no-expect"'
	run_guest reboot-gs "$KERNEL" "reboot -f" --guest-status --timeout "$L2_TIMEOUT"
	expect_rc 243
}
