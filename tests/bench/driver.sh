#!/bin/sh
# tests/bench/driver.sh CONFIG — the benchmark's loop on the VMMs' host.
#
# Runs inside the nested lab's L1 (busybox sh, started by a generated lab
# scenario) or, on a host with hardware KVM, right there (sh); bench.sh writes
# CONFIG and reads what this leaves in $BENCH_OUT. POSIX sh only.
#
# For each run in $BENCH_RUNS, each VMM in turn (interleaved: A B A B ..., so
# that drift hits all of them alike), then the host-direct ceiling:
#   VMM: boot the benchmark guest (tests/bench/guest.sh) with the disk and a
#     tap; for each step the guest announces, sample KVM's exit counters of
#     this VM (debugfs), let it run, sample again (see guest.sh for the
#     handshake on the console), then decode its results from the console.
#   host: the same fio jobs run here against the same backing file.
# Results: $BENCH_OUT/rNN/LABEL/ with status (ok/failed and why), steps
# ("K STEP rc=RC"), K.json (fio or iperf3 output), K.before / K.after (KVM
# counters), console.txt, stderr.txt, cmd. With BENCH_CHUNKS=1 each finished
# rNN/LABEL is also printed on stdout as base64 of a .tar.gz between
# "BENCH-CHUNK-BEGIN rNN/LABEL" and "BENCH-CHUNK-END rNN/LABEL <md5>", for
# bench.sh to pick out of L1's console.
# Every boot, step and fio run is time-limited: a VMM that does not boot or
# hangs is killed and recorded as failed, and the loop goes on.
set -u
case "$1" in /*) . "$1" ;; *) . "./$1" ;; esac
OUT=$BENCH_OUT
mkdir -p "$OUT"
NS=""
IPN=""
if [ -n "${BENCH_NETNS:-}" ]; then
	NS="ip netns exec $BENCH_NETNS"
	IPN="-n $BENCH_NETNS"
fi
T=$BENCH_TOOLS
RUNTOOL="$T/lib64/ld-linux-x86-64.so.2 --inhibit-cache --library-path $T/lib/x86_64-linux-gnu"
FIO="$RUNTOOL $T/usr/bin/fio"
IPERF3="$RUNTOOL $T/usr/bin/iperf3"
# KVM's per-VM counters (debugfs, summed over the vCPUs) read around each step.
STATS="exits io_exits mmio_exits halt_exits halt_wakeup irq_exits irq_window_exits request_irq_exits
  irq_injections insn_emulation pf_taken hypercalls signal_exits"

log() { echo "bench: $*"; }
now() { cut -d' ' -f1 /proc/uptime; }
secs() { cut -d. -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# Shell-quote one word.
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# --- set-up -----------------------------------------------------------------------
if [ ! -d /sys/kernel/debug/kvm ] && ! grep -q ' /sys/kernel/debug ' /proc/mounts; then
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
fi
[ -d /sys/kernel/debug/kvm ] || log "no /sys/kernel/debug/kvm here: no KVM exit counts"
if [ -n "${BENCH_NETNS:-}" ] && [ "${BENCH_NET:-0}" = 1 ]; then
	ip netns add "$BENCH_NETNS" || { log "cannot create network namespace $BENCH_NETNS: no network steps"; BENCH_NET=0; }
	ip $IPN link set lo up 2>/dev/null
fi
cleanup() {
	[ -n "${IPERF_PID:-}" ] && kill "$IPERF_PID" 2>/dev/null
	[ -n "${BENCH_NETNS:-}" ] && ip netns del "$BENCH_NETNS" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 143' TERM INT

if [ "${BENCH_DISK_CREATE_MIB:-0}" -gt 0 ]; then
	log "creating the disk: $BENCH_DISK, $BENCH_DISK_CREATE_MIB MiB of zeros (written, not sparse)"
	dd if=/dev/zero of="$BENCH_DISK" bs=1M count="$BENCH_DISK_CREATE_MIB" 2>/dev/null ||
		{ log "FATAL: cannot create $BENCH_DISK"; exit 1; }
fi
[ -f "$BENCH_DISK" ] || { log "FATAL: no disk file $BENCH_DISK"; exit 1; }

# The host-direct ceiling: io_uring if it works here, O_DIRECT if the file
# system takes it (L1's tmpfs does not, and then neither VMM gets it either:
# both open the file through the page cache).
HOST_ENGINE=io_uring HOST_DIRECT=1
probe() { $FIO --name=probe --filename="$BENCH_DISK" --ioengine="$1" --direct="$2" --rw=read \
	--bs=4k --size=4k --output=/dev/null >/dev/null 2>&1; }
if [ "${BENCH_CEILING:-1}" = 1 ]; then
	if probe io_uring 1; then :
	elif probe libaio 1; then HOST_ENGINE=libaio
	elif probe io_uring 0; then HOST_DIRECT=0
	else HOST_ENGINE=libaio HOST_DIRECT=0
	fi
	echo "host_engine=$HOST_ENGINE host_direct=$HOST_DIRECT" >"$OUT/host-probe"
	log "host-direct ceiling: ioengine=$HOST_ENGINE direct=$HOST_DIRECT"
fi

# --- one VMM boot ---------------------------------------------------------------------
# vmm_cmd I: the command line of VMM I, shell-quoted, on stdout.
QEMU_AIO=${BENCH_QEMU_AIO:-io_uring}
vmm_cmd() {
	local kind bin dopts nopts args a d
	eval "kind=\$VMM$1_KIND bin=\$VMM$1_BIN dopts=\$VMM$1_DISKOPTS nopts=\$VMM$1_NETOPTS args=\$VMM$1_ARGS"
	printf 'exec %s ' "$NS"
	case "$kind" in
	kvmini)
		printf '%s run --kernel %s --initrd %s --cmdline %s --cpus %s --memory %sM --console stdio --timeout %s --disk %s ' \
			"$(q "$bin")" "$(q "$BENCH_KERNEL")" "$(q "$BENCH_INITRD")" "$(q "$BENCH_CMDLINE")" \
			"$BENCH_CPUS" "$BENCH_MEMORY_MIB" "$VMM_LIMIT" "$(q "$BENCH_DISK${dopts:+,$dopts}")"
		[ "$BENCH_NET" = 1 ] && printf -- '--net %s ' "$(q "tap=$BENCH_TAP${nopts:+,$nopts}")"
		# For queues_dump: a step that outlives its time shows its queues.
		printf -- '--api-socket %s ' "$(q "$D/api.sock")"
		;;
	qemu)
		printf '%s -M q35 -accel kvm -cpu host -smp %s -m %sM -nodefaults -no-user-config -display none -no-reboot -serial stdio ' \
			"$(q "$bin")" "$BENCH_CPUS" "$BENCH_MEMORY_MIB"
		printf -- '-kernel %s -initrd %s -append %s ' "$(q "$BENCH_KERNEL")" "$(q "$BENCH_INITRD")" "$(q "$BENCH_CMDLINE")"
		# Our cache= and aio= unless disk-opts names its own.
		d="file=$BENCH_DISK,if=none,id=vd0,format=raw"
		case ",$dopts" in *,cache=*) ;; *) d="$d,cache=writeback" ;; esac
		case ",$dopts" in *,aio=*) ;; *) d="$d,aio=$QEMU_AIO" ;; esac
		printf -- '-object iothread,id=iot0 -drive %s -device virtio-blk-pci,drive=vd0,iothread=iot0 ' \
			"$(q "$d${dopts:+,$dopts}")"
		[ "$BENCH_NET" = 1 ] && printf -- '-netdev %s -device virtio-net-pci,netdev=n0,romfile= ' \
			"$(q "tap,id=n0,ifname=$BENCH_TAP,script=no,downscript=no${nopts:+,$nopts}")"
		;;
	esac
	# Extra arguments, split on blanks.
	for a in $args; do printf '%s ' "$(q "$a")"; done
	echo
}

# kvm_sample PID FILE: this VM's exit counters (debugfs dir PID-FD).
kvm_sample() {
	local dir f
	dir=$(ls -d /sys/kernel/debug/kvm/"$1"-* 2>/dev/null | head -n1)
	{
		echo "time=$(now)"
		if [ -n "$dir" ]; then
			for f in $STATS; do [ -r "$dir/$f" ] && echo "$f=$(cat "$dir/$f")"; done
		fi
	} >"$2"
}

# wait_line PATTERN LIMIT: 0 when the console has a line matching PATTERN
# (grep), 2 when the VMM is gone without it, 1 after LIMIT seconds.
wait_line() {
	local wl_end
	wl_end=$(($(secs) + $2))
	while :; do
		grep -q -- "$1" "$CON" 2>/dev/null && return 0
		if ! kill -0 "$VPID" 2>/dev/null; then
			grep -q -- "$1" "$CON" 2>/dev/null && return 0
			return 2
		fi
		[ "$(secs)" -ge $wl_end ] && return 1
		sleep 0.1
	done
}

# tap_up: give L1's (or the namespace's) end of the tap its address once
# the VMM has created it.
tap_up() {
	local i=0
	while [ $i -lt 300 ]; do
		if ip $IPN link show "$BENCH_TAP" >/dev/null 2>&1; then
			ip $IPN addr add "$BENCH_HOST_IP/24" dev "$BENCH_TAP" 2>/dev/null
			ip $IPN link set "$BENCH_TAP" up && return 0
		fi
		kill -0 "$VPID" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# guest_trouble: the guest kernel's first complaint on the console, if any.
guest_trouble() {
	local l
	l=$(tr -d '\r' <"$CON" | grep -a -m1 -E 'Kernel panic|PANIC|BUG:|Oops|double fault|general protection|hung_task|blocked for more than' |
		sed 's/^\[ *[0-9.]*\] //')
	[ -n "$l" ] && printf '; guest: %s' "$l"
}

# queues_dump K WHEN: a kvmini's virtqueues as they stand (kvmini ctl
# queues) into K.queues-WHEN, when step K ran past its time or failed: what
# tells "the device waits for a kick" from "the driver waits for an
# interrupt" in a guest whose I/O stopped moving.
queues_dump() {
	local bin
	[ -S "$D/api.sock" ] || return 0
	eval "bin=\$VMM${VI}_BIN"
	"$bin" ctl "$D/api.sock" queues >"$D/$1.queues-$2" 2>&1
	log "$LABEL run $RUN: step $1 $2: queues in $D/$1.queues-$2"
}

fail_run() { echo "status=failed" >>"$D/status"; echo "reason=$*" >>"$D/status"; log "$LABEL run $RUN: FAILED: $*"; }

# boot_vmm I: one boot of VMM I into $D; returns 0 when the guest finished.
boot_vmm() {
	local i=$1 t0 ok k limit r step rc e b
	VI=$i
	CON=$D/console.raw
	rm -f "$D/in" "$CON"
	mkfifo "$D/in"
	vmm_cmd "$i" >"$D/cmd"
	if [ "$BENCH_NET" = 1 ]; then
		$NS $IPERF3 -s >"$D/iperf3-server.txt" 2>&1 &
		IPERF_PID=$!
	fi
	t0=$(now)
	sh "$D/cmd" <"$D/in" >"$CON" 2>"$D/stderr.txt" &
	VPID=$!
	exec 7>"$D/in"
	echo "pid=$VPID" >>"$D/status"
	# The watchdog: nothing of this boot outlives its limit. Its sleep is
	# ended with the boot, and it kills nothing once the VMM is reaped (a
	# stale kill could hit a new process that reused the pid).
	rm -f "$D/.reaped" "$D/.wd"
	( sleep "$VMM_LIMIT" & echo $! >"$D/.wd"; wait $!; [ -e "$D/.reaped" ] || kill -KILL "$VPID" ) >/dev/null 2>&1 &
	WD=$!
	ok=1
	if [ "$BENCH_NET" = 1 ] && ! tap_up; then
		if kill -0 "$VPID" 2>/dev/null; then
			fail_run "tap $BENCH_TAP did not appear"
		else
			fail_run "the VMM exited before step 1 (boot): $(tail -n 2 "$D/stderr.txt" | tr '\n' ' ')"
		fi
		ok=0
	fi
	k=1 limit=$BENCH_BOOT_LIMIT
	while [ $ok = 1 ]; do
		wait_line "^BENCH-READY $k [^ ]* \.\|^BENCH-GUEST-DONE\|^KVMINI-BENCH-GUEST-EXIT" "$limit"
		r=$?
		if [ $r = 0 ] && ! grep -q "^BENCH-READY $k " "$CON"; then
			grep -q '^BENCH-GUEST-DONE' "$CON" || { fail_run "the guest stopped early: $(grep '^BENCH-GUEST ' "$CON" | tail -n 1 | tr -d '\r')"; ok=0; }
			break
		fi
		case $r in
		1) fail_run "no step $k within ${limit}s$([ $k = 1 ] && echo ' (boot)')"; ok=0; break ;;
		2) sleep 1; fail_run "the VMM exited before step $k$([ $k = 1 ] && echo ' (boot)'): $(tail -n 2 "$D/stderr.txt" | tr '\n' ' ')$(guest_trouble)"; ok=0; break ;;
		esac
		[ $k = 1 ] && echo "boot_secs=$(since "$t0")" >>"$D/status"
		step=$(tr -d '\r' <"$CON" | sed -n "s/^BENCH-READY $k \([^ ]*\).*/\1/p" | head -n1)
		kvm_sample "$VPID" "$D/$k.before"
		echo "go $k" >&7
		# Past its run time and some: look at the queues while it hangs.
		( sleep $((BENCH_RUNTIME + 5)); grep -q "^BENCH-END $k " "$CON" || queues_dump $k late ) &
		QD=$!
		wait_line "^BENCH-END $k [^ ]* rc=[0-9]* \." $((BENCH_RUNTIME + BENCH_GRACE + 30))
		r=$?
		kill $QD 2>/dev/null
		wait $QD 2>/dev/null
		case $r in
		1) fail_run "step $k ($step) did not end within $((BENCH_RUNTIME + BENCH_GRACE + 30))s$(guest_trouble)"; ok=0; break ;;
		2) sleep 1; fail_run "the VMM exited during step $k ($step): $(tail -n 1 "$D/stderr.txt")$(guest_trouble)"; ok=0; break ;;
		esac
		kvm_sample "$VPID" "$D/$k.after"
		echo "ack $k" >&7
		rc=$(tr -d '\r' <"$CON" | sed -n "s/^BENCH-END $k [^ ]* rc=\([0-9]*\).*/\1/p" | head -n1)
		[ "$rc" = 0 ] || queues_dump $k failed
		echo "$k $step rc=$rc" >>"$D/steps"
		log "$LABEL run $RUN: $step rc=$rc"
		k=$((k + 1))
		limit=60
	done
	# Let it power off (a failed one is asked to stop), then make sure it is gone.
	e=600
	[ $ok = 1 ] || { kill -TERM "$VPID" 2>/dev/null; e=100; }
	while kill -0 "$VPID" 2>/dev/null && [ $e -gt 0 ]; do sleep 0.1; e=$((e - 1)); done
	kill -KILL "$VPID" 2>/dev/null
	wait "$VPID"
	echo "vmm_rc=$?" >>"$D/status"
	: >"$D/.reaped"
	[ -s "$D/.wd" ] && kill "$(cat "$D/.wd")" 2>/dev/null
	wait "$WD" 2>/dev/null
	rm -f "$D/.reaped" "$D/.wd"
	exec 7>&-
	rm -f "$D/in"
	if [ -n "${IPERF_PID:-}" ]; then
		kill "$IPERF_PID" 2>/dev/null
		wait "$IPERF_PID" 2>/dev/null
		IPERF_PID=""
	fi
	# Results: the base64 blocks back into files; the console without them.
	tr -d '\r' <"$CON" | awk -v d="$D" '
		/^BENCH-DATA-BEGIN / { f = d "/" $2 ".b64"; inb = 1; printf "" >f; next }
		/^BENCH-DATA-END / { inb = 0; close(f); next }
		inb { print >f; next }
		{ print >(d "/console.txt") }'
	rm -f "$CON"
	for b in "$D"/*.b64; do
		[ -f "$b" ] || continue
		base64 -d <"$b" 2>/dev/null | gunzip >"${b%.b64}.json" 2>/dev/null || rm -f "${b%.b64}.json"
		rm -f "$b"
	done
	grep -q '^BENCH-GUEST-DONE' "$D/console.txt" 2>/dev/null && [ $ok = 1 ]
}

run_vmm() {
	local i=$1
	eval "LABEL=\$VMM${i}_LABEL KIND=\$VMM${i}_KIND"
	D=$OUT/$RDIR/$LABEL
	rm -rf "$D"
	mkdir -p "$D"
	log "run $RUN: $LABEL booting"
	: >"$D/status"
	if boot_vmm "$i"; then
		echo "status=ok" >>"$D/status"
		log "$LABEL run $RUN: done"
	elif [ "$KIND" = qemu ] && [ "$QEMU_AIO" = io_uring ] && [ ! -s "$D/steps" ] &&
		grep -qi 'unable to use io_uring\|io_uring.*not supported\|not accept value .io_uring' "$D/stderr.txt"; then
		log "QEMU refused aio=io_uring ($(head -n1 "$D/stderr.txt")): falling back to aio=threads"
		echo "QEMU refused aio=io_uring ($(head -n1 "$D/stderr.txt" | tr -d '\r')); QEMU runs with aio=threads" >>"$OUT/notes"
		QEMU_AIO=threads
		run_vmm "$i"
		return
	fi
	[ "$KIND" = qemu ] && echo "aio=$QEMU_AIO" >>"$D/status"
	chunk "$RDIR/$LABEL"
}

# --- the host-direct ceiling ---------------------------------------------------------
run_host() {
	local k j name rc
	LABEL=host
	D=$OUT/$RDIR/host
	rm -rf "$D"
	mkdir -p "$D"
	echo "engine=$HOST_ENGINE direct=$HOST_DIRECT" >"$D/status"
	k=1
	for j in "$BENCH_JOBS"/*.fio; do
		[ -f "$j" ] || continue
		name=$(basename "$j" .fio)
		name=${name#[0-9]*-}
		BENCH_FILE=$BENCH_DISK BENCH_DIRECT=$HOST_DIRECT BENCH_ENGINE=$HOST_ENGINE \
			BENCH_CPUS=$BENCH_CPUS BENCH_RUNTIME=$BENCH_RUNTIME \
			timeout -s KILL $((BENCH_RUNTIME + BENCH_GRACE)) \
			$FIO --output-format=json --output="$D/$k.json" "$j" >"$D/$k.err" 2>&1
		rc=$?
		echo "$k fio:$name rc=$rc" >>"$D/steps"
		[ -s "$D/$k.err" ] || rm -f "$D/$k.err"
		log "host run $RUN: fio:$name rc=$rc"
		k=$((k + 1))
	done
	echo "status=ok" >>"$D/status"
	chunk "$RDIR/host"
}

chunk() {
	local sum
	[ "${BENCH_CHUNKS:-0}" = 1 ] || return 0
	(cd "$OUT" && tar -czf - "$1") | base64 >"$OUT/.chunk"
	sum=$(md5sum <"$OUT/.chunk" | cut -c1-32)
	echo "BENCH-CHUNK-BEGIN $1"
	cat "$OUT/.chunk"
	echo "BENCH-CHUNK-END $1 $sum"
	rm -f "$OUT/.chunk"
}

# A VMM boot may take this long in all: boot, every step, power-off.
nsteps=$(ls "$BENCH_JOBS"/*.fio 2>/dev/null | wc -l)
[ "$BENCH_NET" = 1 ] && nsteps=$((nsteps + $(echo $BENCH_NET_TESTS | wc -w)))
VMM_LIMIT=$((BENCH_BOOT_LIMIT + nsteps * (BENCH_RUNTIME + BENCH_GRACE + 90) + 60))

for RUN in $BENCH_RUNS; do
	RDIR=r$(printf '%02d' "$RUN")
	v=1
	while [ $v -le "$BENCH_NVMM" ]; do
		run_vmm $v
		v=$((v + 1))
	done
	[ "${BENCH_CEILING:-1}" = 1 ] && run_host
	log "run $RUN done"
done
log "all runs done"
echo "BENCH-DRIVER-DONE"
