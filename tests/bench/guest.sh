#!/bin/sh
# tests/bench/guest.sh — the benchmark guest's side (busybox sh, run by the
# /init of images/build-bench.sh as /bench/guest.sh; bench.sh packs it with
# /bench/config and the fio jobs in /bench/jobs/).
#
# Every measured step (a fio job, an iperf3 test) is bracketed by a handshake
# with the driver on the VMM's host (tests/bench/driver.sh), over the serial
# console, so that it can read KVM's exit counters right before and right
# after the step and nothing else (boot, result printing) lands in between:
#   guest: BENCH-READY <k> <step> .       driver samples, then sends "go <k>"
#   guest: runs the step
#   guest: BENCH-END <k> <step> rc=<rc> . driver samples, then sends "ack <k>"
# (the final " ." tells the driver, which reads the console as it grows,
# that the line is whole)
#   guest: BENCH-DATA-BEGIN <k> <step>, base64 of the gzipped JSON result,
#          BENCH-DATA-END <k> <step>
# and at the end BENCH-GUEST-DONE. A missing go/ack (end of input) ends the
# run early.
export PATH=/bin:/sbin:/usr/bin
. /bench/config
BENCH_CPUS=$(grep -c '^processor' /proc/cpuinfo)
export BENCH_CPUS
DEV=/dev/vda
# The driver's "go" lines must not echo back into the console it reads.
stty -echo 2>/dev/null

info() { echo "BENCH-GUEST $*"; }

handshake() { # WORD K: wait for "WORD K" from the driver
	while read -r w n; do
		[ "$w" = "$1" ] && [ "$n" = "$2" ] && return 0
	done
	info "end of input while waiting for '$1 $2'"
	exit 1
}

K=0
# step NAME LIMIT RESULT-FILE COMMAND...: one measured step.
step() {
	name=$1 limit=$2 res=$3
	shift 3
	K=$((K + 1))
	rm -f "$res"
	echo "BENCH-READY $K $name ."
	handshake go $K
	timeout -s KILL "$limit" "$@" >/tmp/step.out 2>&1
	rc=$?
	echo "BENCH-END $K $name rc=$rc ."
	handshake ack $K
	[ $rc = 0 ] || tail -n 20 /tmp/step.out | sed "s/^/BENCH-GUEST [$name] /"
	if [ -s "$res" ]; then
		echo "BENCH-DATA-BEGIN $K $name"
		gzip -c "$res" | base64
		echo "BENCH-DATA-END $K $name"
	fi
}

[ -b $DEV ] || { info "no $DEV: the VMM gave the guest no disk"; exit 1; }
info "disk=$DEV size=$(($(cat /sys/block/vda/size) / 2048))MiB queues=$(ls /sys/block/vda/mq 2>/dev/null | wc -l) cpus=$BENCH_CPUS"
# io_uring where the kernel and fio take it (Debian 6.1 + fio 3.33 do), else libaio.
BENCH_ENGINE=io_uring
fio --name=probe --filename=$DEV --ioengine=io_uring --direct=1 --rw=read --bs=4k --size=4k \
	--output=/dev/null >/dev/null 2>&1 || BENCH_ENGINE=libaio
BENCH_DIRECT=1 BENCH_FILE=$DEV
export BENCH_ENGINE BENCH_DIRECT BENCH_FILE BENCH_RUNTIME
info "engine=$BENCH_ENGINE"

for j in /bench/jobs/*.fio; do
	[ -f "$j" ] || continue
	name=$(basename "$j" .fio)
	name=${name#[0-9]*-}
	step "fio:$name" $((BENCH_RUNTIME + BENCH_GRACE)) /tmp/res.json \
		fio --output-format=json --output=/tmp/res.json "$j"
done

if [ "${BENCH_NET:-0}" = 1 ]; then
	ip link set eth0 up && ip addr add "$BENCH_GUEST_IP/24" dev eth0 ||
		{ info "cannot configure eth0"; ip link; exit 1; }
	up=0 i=0
	while [ $i -lt 60 ]; do
		ping -c 1 -W 1 "$BENCH_HOST_IP" >/dev/null 2>&1 && { up=1; break; }
		i=$((i + 1))
	done
	[ $up = 1 ] || { info "no answer from $BENCH_HOST_IP: no network steps"; ip addr; exit 1; }
	# -i 0: no interval reports, a short JSON. UDP at -b 0: as fast as it goes.
	for t in $BENCH_NET_TESTS; do
		case "$t" in
		tcp-tx) a="" ;;
		tcp-rx) a="-R" ;;
		udp-tx) a="-u -b 0" ;;
		udp-rx) a="-u -b 0 -R" ;;
		*) info "unknown network test $t"; continue ;;
		esac
		# shellcheck disable=SC2086
		step "net:$t" $((BENCH_RUNTIME + BENCH_GRACE)) /tmp/res.json \
			iperf3 -c "$BENCH_HOST_IP" -t "$BENCH_RUNTIME" -i 0 -J --connect-timeout 10000 \
			--logfile /tmp/res.json $a
	done
fi
echo "BENCH-GUEST-DONE steps=$K"
