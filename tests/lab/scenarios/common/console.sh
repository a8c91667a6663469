# The virtio-console and --guest-status scenarios, the same on every
# architecture (sourced after the architecture's common.sh: KERNEL,
# INITRD, run_guest, expect_*). Each function is one scenario; the
# scenario files of x86_64 and aarch64 call them.

# --guest-status: the status of the guest's command is kvmini's, written by
# the guest image's init to the kvmini.exit port of the virtio-console
# device (PCI): true 0, false 1, exit 7.
guest_status() {
	for c in "0 true" "1 false" "7 exit 7"; do
		want=${c%% *} cmd=${c#* }
		run_guest "status-$want" "$KERNEL" "$cmd" --guest-status --timeout "$L2_TIMEOUT"
		expect_console "KVMINI-GUEST-CMD-EXIT $want"
		expect_rc "$want"
	done
}

# --console virtio with console=hvc0 alone: the guest's console is hvc0 on
# a virtio-console device. Its output (KVMINI-GUEST-UP, the command's)
# reaches kvmini's stdout, and kvmini's stdin reaches the guest: the
# command reads a line from its console and answers it.
console_hvc0() {
	CONSOLE=$WORK/hvc0.console
	cl="console=hvc0 quiet panic=-1 -- \"read l; echo GOT-\$l; cat /sys/class/tty/console/active\""
	echo "run: kvmini run --console virtio --cmdline '$cl' <<< hello-hvc0"
	t=$(now)
	printf 'hello-hvc0\n' | "$KVMINI" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$cl" \
		--memory "$L2_MEMORY" --console virtio --timeout "$L2_TIMEOUT" >"$CONSOLE"
	RC=$?
	echo "kvmini exit status $RC after $(since "$t")s"
	expect_rc 0
	expect_console 'KVMINI-GUEST-UP'
	expect_console '^GOT-hello-hvc0'
	expect_console '^hvc0'
	expect_console 'KVMINI-GUEST-CMD-EXIT 0'
	show_console "$CONSOLE"
	# To a file, on virtio-mmio, with both consoles (console=ttyS0 console=hvc0:
	# the kernel writes to both, init's /dev/console is hvc0).
	GUEST_APPEND="console=hvc0" run_guest hvc0-file "$KERNEL" "cat /sys/class/tty/console/active" \
		--timeout "$L2_TIMEOUT" --console "virtio,transport=mmio,file:$WORK/hvc0-file.console"
	CONSOLE=$WORK/hvc0-file.console
	expect_rc 0
	expect_console 'KVMINI-GUEST-UP'
	expect_console 'hvc0$'
	expect_console 'KVMINI-GUEST-CMD-EXIT 0'
}

# Named virtio-console ports carry data both ways: "feed" (in=FILE) gives
# the guest 200 kB, then end-of-file; the guest writes 300 kB to "sink"
# (out=FILE). Both checksums must match on both sides.
console_port() {
	head -c 200000 /dev/urandom >"$WORK/in.bin"
	in_sha=$(sha256sum <"$WORK/in.bin" | cut -d' ' -f1)
	g='w() { i=0; while [ $i -lt 100 ]; do for p in /sys/class/virtio-ports/*; do [ x$(cat $p/name 2>/dev/null) = x$1 ] && echo /dev/${p##*/} && return; done; sleep 0.1; i=$((i+1)); done; }'
	g="$g; F=\$(w feed); S=\$(w sink); echo PORTS \$F \$S; ls /sys/class/virtio-ports"
	g="$g; cat \$F >/tmp/got; echo GOT=\$(sha256sum </tmp/got | cut -c1-64)"
	g="$g; head -c 300000 /dev/urandom >/tmp/sent; cat /tmp/sent >\$S; echo SENT=\$(sha256sum </tmp/sent | cut -c1-64)"
	KVMINI_STATS=1 run_guest port "$KERNEL" "$g" --timeout "$L2_TIMEOUT" \
		--port "feed,in=$WORK/in.bin" --port "sink,out=$WORK/out.bin" --guest-status
	expect_rc 0
	expect_console "^GOT=$in_sha\$"
	out_sha=$(sha256sum <"$WORK/out.bin" | cut -d' ' -f1)
	expect_console "^SENT=$out_sha\$"
	echo "200 kB in ($in_sha), 300 kB out ($out_sha)"
}

# --guest-status on legacy virtio-mmio (version=1): exit 5 gives 5. A guest
# that powers off itself, without reporting, gives 240.
guest_status_more() {
	run_guest status-mmio1 "$KERNEL" "exit 5" --guest-status --port x,transport=mmio,version=1 \
		--timeout "$L2_TIMEOUT"
	expect_console 'KVMINI-GUEST-CMD-EXIT 5'
	expect_rc 5
	run_guest status-none "$KERNEL" "sync; poweroff -f" --guest-status --timeout "$L2_TIMEOUT"
	expect_console 'KVMINI-GUEST-UP'
	expect_rc 240
}
