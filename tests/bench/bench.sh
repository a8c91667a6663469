#!/bin/bash
# tests/bench/bench.sh — virtio I/O benchmark: fio and iperf3 in a guest,
# under kvmini and QEMU side by side, N interleaved runs, mean ± sd.
#
# Usage:
#   bash tests/bench/bench.sh [options]
#
# Boots the benchmark guest (images/build-bench.sh: the Debian 6.1 kernel of
# images/build-guest.sh, busybox, Debian's fio and iperf3) under each VMM in
# turn, once per run, interleaved (A B A B ...), so slow drift of the machine
# hits every VMM alike. In each boot the guest runs every fio job against
# /dev/vda (virtio-blk, direct=1, io_uring or else libaio) and, unless
# --no-net, iperf3 TCP and UDP in both directions against the VMM's host over
# a tap (virtio-net). After the VMMs of a run, the same fio jobs run directly
# on the VMM's host against the same backing file: the host-direct ceiling.
#
# Options:
#   --vmm SPEC       a VMM to measure; repeat for several (default: kvmini and
#                    qemu). SPEC is KIND[=PATH][,KEY=VALUE]..., KIND kvmini or
#                    qemu, PATH the binary (kvmini: build-bench/kvmini, else
#                    build/kvmini, else built into build-bench/; qemu:
#                    qemu-system-x86_64 from PATH). Keys:
#                      name=LABEL       how the report names it (default KIND,
#                                       then KIND-2, KIND-3 ...)
#                      disk-opts=OPTS   appended to the disk: kvmini
#                                       --disk PATH,OPTS; qemu -drive ...,OPTS
#                      net-opts=OPTS    appended likewise to --net / -netdev
#                      args=WORDS       extra command-line words for the VMM,
#                                       split on blanks
#                    A value may hold commas; it ends where ",name=",
#                    ",disk-opts=", ",net-opts=" or ",args=" begins.
#                    Examples (an A/B of two builds, and of a device option):
#                      --vmm kvmini=build/kvmini,name=main --vmm kvmini=../other/build/kvmini,name=branch
#                      --vmm kvmini,name=pci --vmm 'kvmini,name=mmio,disk-opts=transport=mmio'
#                      --vmm kvmini --vmm 'kvmini,name=no-ioeventfd,args=--no-ioeventfd'
#   --runs N         boots per VMM (default 10; mean and sd need N >= 2)
#   --runtime SECS   each fio job and iperf3 test (default 5 in the nested
#                    lab, 10 directly)
#   --job FILE       a fio job file of your own; repeatable; replaces the
#                    default jobs (tests/bench/jobs/*.fio). Leave out the
#                    file name: bench.sh puts a [global] section in front with
#                    filename, direct=1, ioengine, time_based, runtime and
#                    group_reporting; ${BENCH_CPUS} is the vCPU count
#   --disk PATH      a raw image of your own as the guest's /dev/vda and the
#                    host-direct file. The write jobs overwrite its contents.
#                    In the lab it is copied into L1's memory (keep it small)
#   --disk-size SIZE the default disk: a new file of zeros (written, not
#                    sparse), 512M in L1's tmpfs in the lab, 1G in a temp
#                    directory directly
#   --cpus N         guest vCPUs (default 2)
#   --memory SIZE    guest RAM (default 1G; the guest initramfs takes ~170M)
#   --no-net         skip the network part
#   --net-tests LIST comma-separated, from tcp-tx,tcp-rx,udp-tx,udp-rx (the
#                    default: all; tx = guest to host, rx = host to guest,
#                    iperf3 -R)
#   --no-ceiling     skip the host-direct ceiling
#   --boot-timeout S time for a VMM to boot the guest to its first step
#                    (default 300 in the lab, 60 directly); a VMM that misses
#                    it, or hangs in a step, is killed and reported as failed
#   --out DIR        results directory (default /tmp/kvmini-bench-DATE-TIME)
#   -h, --help       this text
#
# Where it runs (tests/lab/lab-common.sh lab_mode linux; KVMINI_LAB=0/1
# forces one): on a host with hardware KVM, everything runs right there (as
# root for the tap and KVM's exit counters; the tap and the iperf3 server
# live in a network namespace of their own). Elsewhere both VMMs run inside
# one nested-lab L1 (QEMU TCG with its own KVM), packed into L1's initramfs
# with their libraries and firmware; absolute numbers there measure QEMU's
# emulator, not the VMMs. Only one emulator at a time: everything runs under
# flock /tmp/kvmini-lab.lock (KVMINI_LAB_LOCK).
#
# Output: a table on stdout (each fio job in kIOPS and MB/s, each network
# test in Gbit/s, mean ± sd over the runs that passed, per VMM and for the
# host-direct ceiling, the ratio of each VMM to the first, and KVM exits per
# I/O from the VMM host's debugfs counters, which do mean something in the
# lab); in --out: results.json, table.txt, chart.png (gnuplot: bars with
# error bars), the raw per-run results (raw/rNN/LABEL/) and the logs.
# Exit status: 0 every VMM passed every run; 1 some run or step failed (the
# table still shows the rest); 2 usage or set-up error.
set -u
LAB_PROG=bench.sh
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH_DIR/../lab/lab-common.sh"
die() { echo "bench.sh: error: $*" >&2; exit 2; }
say() { echo "bench.sh: $*" >&2; }

usage() { sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# mib SIZE: SIZE (512M, 1G, 2048K, a bare number of MiB) in MiB.
mib() {
	local n=${1%[KkMmGg]} u=${1: -1}
	[[ "$n" =~ ^[0-9]+$ ]] || return 1
	case "$u" in
	[Kk]) echo $(((n + 1023) / 1024)) ;;
	[Gg]) echo $((n * 1024)) ;;
	*) echo "$n" ;;
	esac
}

VMM_SPECS=() JOBS=() RUNS=10 RUNTIME="" DISK="" DISK_SIZE="" CPUS=2 MEMORY=1G NET=1 CEILING=1
NET_TESTS="tcp-tx,tcp-rx,udp-tx,udp-rx" BOOT_LIMIT="" OUT=""
while [ $# -gt 0 ]; do
	opt=$1 val=""
	case "$opt" in
	--*=*) val=${opt#*=}; opt=${opt%%=*} ;;
	esac
	case "$opt" in
	--vmm|--runs|--runtime|--job|--disk|--disk-size|--cpus|--memory|--net-tests|--boot-timeout|--out)
		if [ -z "$val" ]; then
			[ $# -ge 2 ] || die "$opt needs a value (try --help)"
			val=$2
			shift
		fi ;;
	esac
	case "$opt" in
	--vmm) VMM_SPECS+=("$val") ;;
	--runs) RUNS=$val ;;
	--runtime) RUNTIME=$val ;;
	--job) JOBS+=("$val") ;;
	--disk) DISK=$val ;;
	--disk-size) DISK_SIZE=$val ;;
	--cpus) CPUS=$val ;;
	--memory) MEMORY=$val ;;
	--no-net) NET=0 ;;
	--net-tests) NET_TESTS=$val ;;
	--no-ceiling) CEILING=0 ;;
	--boot-timeout) BOOT_LIMIT=$val ;;
	--out) OUT=$val ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown argument '$1' (try --help)" ;;
	esac
	shift
done

# --- check the options ------------------------------------------------------------
[[ "$RUNS" =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] && [ "$RUNS" -le 1000 ] || die "--runs: '$RUNS' is not a number from 1 to 1000"
[ "$RUNS" -ge 2 ] || say "note: --runs 1 gives no standard deviation"
[[ "$CPUS" =~ ^[0-9]+$ ]] && [ "$CPUS" -ge 1 ] && [ "$CPUS" -le 64 ] || die "--cpus: '$CPUS' is not a number from 1 to 64"
MEM_MIB=$(mib "$MEMORY") && [ "$MEM_MIB" -ge 256 ] || die "--memory: '$MEMORY' is not a size of at least 256M (the guest initramfs alone is ~170M)"
[ -z "$RUNTIME" ] || { [[ "$RUNTIME" =~ ^[0-9]+$ ]] && [ "$RUNTIME" -ge 1 ]; } || die "--runtime: '$RUNTIME' is not a number of seconds"
[ -z "$BOOT_LIMIT" ] || { [[ "$BOOT_LIMIT" =~ ^[0-9]+$ ]] && [ "$BOOT_LIMIT" -ge 5 ]; } || die "--boot-timeout: '$BOOT_LIMIT' is not a number of seconds (at least 5)"
NET_TESTS=${NET_TESTS//,/ }
for t in $NET_TESTS; do
	case "$t" in tcp-tx|tcp-rx|udp-tx|udp-rx) ;; *) die "--net-tests: '$t' is not tcp-tx, tcp-rx, udp-tx or udp-rx" ;; esac
done
[ -n "$NET_TESTS" ] || NET=0
for j in "${JOBS[@]+"${JOBS[@]}"}"; do
	[ -f "$j" ] && [ -r "$j" ] || die "--job: cannot read '$j'"
done
if [ -n "$DISK" ]; then
	[ -f "$DISK" ] && [ -r "$DISK" ] && [ -w "$DISK" ] || die "--disk: '$DISK' is not a regular file we can read and write"
	DISK=$(realpath "$DISK")
	[ -n "$DISK_SIZE" ] && die "--disk and --disk-size: give one or the other"
fi
[ -z "$DISK_SIZE" ] || { DISK_MIB=$(mib "$DISK_SIZE") && [ "$DISK_MIB" -ge 16 ]; } || die "--disk-size: '$DISK_SIZE' is not a size of at least 16M"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
command -v "$PY" >/dev/null || die "python3 missing; run images/install-deps.sh"
command -v gnuplot >/dev/null || say "note: no gnuplot (images/install-deps.sh installs gnuplot-nox): no chart"

lab_arch x86_64
[ "$(uname -m)" = x86_64 ] || die "the benchmark is x86_64 only for now (this host is $(uname -m))"
lab_mode linux
MODE=$LAB_MODE
if [ "$MODE" = lab ]; then
	RUNTIME=${RUNTIME:-5} BOOT_LIMIT=${BOOT_LIMIT:-300} GRACE=60
	DISK_MIB=${DISK_MIB:-512}
else
	RUNTIME=${RUNTIME:-10} BOOT_LIMIT=${BOOT_LIMIT:-60} GRACE=30
	DISK_MIB=${DISK_MIB:-1024}
fi

# --- the VMMs ------------------------------------------------------------------------
[ ${#VMM_SPECS[@]} -gt 0 ] || VMM_SPECS=(kvmini qemu)
default_kvmini() {
	local b
	for b in "$REPO_DIR/build-bench/kvmini" "$REPO_DIR/build/kvmini"; do
		[ -x "$b" ] && { echo "$b"; return; }
	done
	say "no kvmini built yet: building build-bench/ (RelWithDebInfo)"
	cmake -S "$REPO_DIR" -B "$REPO_DIR/build-bench" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2 &&
		cmake --build "$REPO_DIR/build-bench" -j2 >&2 || die "building kvmini failed"
	echo "$REPO_DIR/build-bench/kvmini"
}
NVMM=0
declare -a V_LABEL V_KIND V_BIN V_DOPTS V_NOPTS V_ARGS
for spec in "${VMM_SPECS[@]}"; do
	# Split at ",KEY=" for the known keys only, so values may hold commas.
	s=$(printf '%s' "$spec" | sed -E 's/,(name|disk-opts|net-opts|args)=/\x1f\1=/g')
	IFS=$'\x1f' read -r -a parts <<<"$s"
	head=${parts[0]} kind=${head%%=*} bin="" label="" dopts="" nopts="" args=""
	case "$head" in *,*) die "--vmm '$spec': unknown key after '${head%%,*}' (the keys are name=, disk-opts=, net-opts=, args=)" ;; esac
	[ "$head" != "$kind" ] && bin=${head#*=}
	for p in "${parts[@]:1}"; do
		case "$p" in
		name=*) label=${p#name=} ;;
		disk-opts=*) dopts=${p#disk-opts=} ;;
		net-opts=*) nopts=${p#net-opts=} ;;
		args=*) args=${p#args=} ;;
		esac
	done
	case "$kind" in
	kvmini)
		[ -n "$bin" ] || bin=$(default_kvmini)
		[ -x "$bin" ] || die "--vmm '$spec': '$bin' is not an executable"
		bin=$(realpath "$bin")
		lab_check_kvmini "$bin" ;;
	qemu)
		if [ -z "$bin" ]; then
			bin=$(command -v qemu-system-x86_64) || die "--vmm '$spec': no qemu-system-x86_64 (run images/install-deps.sh)"
		fi
		[ -x "$bin" ] || die "--vmm '$spec': '$bin' is not an executable"
		bin=$(realpath "$bin") ;;
	*) die "--vmm '$spec': the kind must be kvmini or qemu (e.g. --vmm kvmini=build/kvmini or --vmm qemu)" ;;
	esac
	if [ -z "$label" ]; then
		label=$kind n=1
		while printf '%s\n' "${V_LABEL[@]+"${V_LABEL[@]}"}" | grep -qx -- "$label"; do
			n=$((n + 1)) label=$kind-$n
		done
	fi
	[[ "$label" =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$ ]] || die "--vmm '$spec': name '$label' must be 1-32 letters, digits, '.', '_' or '-'"
	[ "$label" = host ] && die "--vmm '$spec': the name 'host' is the host-direct ceiling's"
	printf '%s\n' "${V_LABEL[@]+"${V_LABEL[@]}"}" | grep -qx -- "$label" && die "--vmm: two VMMs named '$label' (use name=)"
	V_LABEL+=("$label") V_KIND+=("$kind") V_BIN+=("$bin") V_DOPTS+=("$dopts") V_NOPTS+=("$nopts") V_ARGS+=("$args")
	NVMM=$((NVMM + 1))
done

if [ "$MODE" = direct ] && [ "$(id -u)" != 0 ]; then
	[ $NET = 1 ] && say "note: not root: no tap, so no network part (--no-net)"
	NET=0
fi

# --- images and the results directory --------------------------------------------------
OUT=${OUT:-${TMPDIR:-/tmp}/kvmini-bench-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" || die "--out: cannot create '$OUT'"
OUT=$(realpath "$OUT")
[ -e "$OUT/raw" ] && die "--out: '$OUT' already holds results (raw/); name a new directory"
mkdir -p "$OUT/raw"
say "mode: $MODE ($LAB_MODE_WHY); results in $OUT"
lab_images
"$REPO_DIR/images/build-bench.sh" || die "images/build-bench.sh failed"
BROOT=$IMG/bench/root

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/kvmini-bench-stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

# The fio jobs, each behind a [global] section with the run's disk and limits
# (fio expands ${VAR} from the environment: guest.sh and driver.sh set them).
mkdir -p "$STAGE/guest/bench/jobs"
if [ ${#JOBS[@]} -eq 0 ]; then
	JOBS=("$BENCH_DIR"/jobs/*.fio)
	USER_JOBS=0
else
	USER_JOBS=1
fi
JOB_NAMES=()
n=10
for j in "${JOBS[@]}"; do
	name=$(basename "$j" .fio)
	name=${name#[0-9]*-}
	name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_')
	printf '%s\n' "${JOB_NAMES[@]+"${JOB_NAMES[@]}"}" | grep -qx -- "$name" && name=$name-$n
	JOB_NAMES+=("$name")
	{
		echo "; tests/bench/bench.sh: the run's disk, engine and time limit, then $(basename "$j")"
		echo "[global]"
		echo "filename=\${BENCH_FILE}"
		echo "direct=\${BENCH_DIRECT}"
		echo "ioengine=\${BENCH_ENGINE}"
		echo "time_based=1"
		echo "runtime=\${BENCH_RUNTIME}"
		echo "group_reporting=1"
		echo
		cat "$j"
	} >"$STAGE/guest/bench/jobs/$n-$name.fio"
	n=$((n + 1))
done
if [ -n "$DISK" ] && grep -Eqs '^[[:space:]]*rw[[:space:]]*=[[:space:]]*(rand)?(write|rw|readwrite|trim|randtrim|trimwrite)' "$STAGE"/guest/bench/jobs/*.fio; then
	say "warning: the write jobs overwrite the contents of --disk $DISK"
fi
HOST_IP=192.0.2.1 GUEST_IP=192.0.2.2
cat >"$STAGE/guest/bench/config" <<EOF
BENCH_RUNTIME=$RUNTIME
BENCH_GRACE=$GRACE
BENCH_NET=$NET
BENCH_NET_TESTS="$NET_TESTS"
BENCH_HOST_IP=$HOST_IP
BENCH_GUEST_IP=$GUEST_IP
EOF
cp "$BENCH_DIR/guest.sh" "$STAGE/guest/bench/guest.sh"
# The guest initramfs: build-bench.sh's, then a second archive with this
# run's /bench (Linux unpacks concatenated cpio archives in order).
{
	cat "$IMG/bench/bench-initrd.cpio"
	(cd "$STAGE/guest" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0)
} >"$STAGE/initrd.cpio"

# driver_config FILE KEY=VALUE...: the driver's settings (shell-quoted).
driver_config() {
	local f=$1 kv i
	shift
	{
		for kv in "$@"; do printf '%s=%s\n' "${kv%%=*}" "$(printf '%q' "${kv#*=}")"; done
		echo "BENCH_NVMM=$NVMM"
		for ((i = 0; i < NVMM; i++)); do
			printf 'VMM%d_LABEL=%q\nVMM%d_KIND=%q\nVMM%d_DISKOPTS=%q\nVMM%d_NETOPTS=%q\nVMM%d_ARGS=%q\n' \
				$((i + 1)) "${V_LABEL[i]}" $((i + 1)) "${V_KIND[i]}" $((i + 1)) "${V_DOPTS[i]}" \
				$((i + 1)) "${V_NOPTS[i]}" $((i + 1)) "${V_ARGS[i]}"
		done
	} >"$f"
}
# printf %q may write $'...' (bash only): the lab driver runs under busybox
# sh, so keep values plain.
for v in "${V_DOPTS[@]}" "${V_NOPTS[@]}" "${V_ARGS[@]}" "$DISK"; do
	case "$v" in *[$'\n\t'\'\"\\\$\`]*) die "quotes, backslashes, '\$', '\`', tabs and newlines are not allowed in VMM options or paths: '$v'" ;; esac
done
COMMON=(BENCH_CPUS="$CPUS" BENCH_MEMORY_MIB="$MEM_MIB" BENCH_RUNTIME="$RUNTIME" BENCH_GRACE="$GRACE"
	BENCH_BOOT_LIMIT="$BOOT_LIMIT" BENCH_NET="$NET" BENCH_NET_TESTS="$NET_TESTS" BENCH_TAP=kbench0
	BENCH_HOST_IP="$HOST_IP" BENCH_GUEST_IP="$GUEST_IP" BENCH_CEILING="$CEILING"
	BENCH_CMDLINE="console=ttyS0 quiet panic=-1")

NJOBS=${#JOB_NAMES[@]}
NNET=0
[ $NET = 1 ] && NNET=$(echo $NET_TESTS | wc -w)
# The longest a VMM boot may take, and the longest the driver stays silent.
VMM_WORST=$((BOOT_LIMIT + (NJOBS + NNET) * (RUNTIME + GRACE + 90) + 60))
SILENCE=$((BOOT_LIMIT > RUNTIME + GRACE + 30 ? BOOT_LIMIT + 120 : RUNTIME + GRACE + 150))

# --- metadata ---------------------------------------------------------------------------
{
	echo "date=$(date -R)"
	echo "mode=$MODE"
	echo "mode_why=$LAB_MODE_WHY"
	echo "host=$(uname -srm)"
	echo "os=$(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown}")"
	echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "host_cpus=$(nproc)"
	echo "host_mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "runs=$RUNS"
	echo "runtime=$RUNTIME"
	echo "cpus=$CPUS"
	echo "memory_mib=$MEM_MIB"
	echo "net=$NET"
	echo "net_tests=$NET_TESTS"
	echo "ceiling=$CEILING"
	echo "jobs=${JOB_NAMES[*]}"
	echo "user_jobs=$USER_JOBS"
	echo "disk=${DISK:-(new file of zeros)}"
	echo "disk_mib=$([ -n "$DISK" ] && echo $(($(stat -c %s "$DISK") / 1048576)) || echo "$DISK_MIB")"
	echo "kernel=$(cat "$IMG/kernel.release")"
	echo "packages=$(grep -E '^(fio|iperf3)=' "$IMG/bench/packages.txt" | tr '\n' ' ')"
	echo "kvmini_commit=$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo unknown)"
	for ((i = 0; i < NVMM; i++)); do
		ver=$("${V_BIN[i]}" --version 2>/dev/null | head -n1)
		echo "vmm.${V_LABEL[i]}=${V_KIND[i]}|${V_BIN[i]}|${ver}|${V_DOPTS[i]}|${V_NOPTS[i]}|${V_ARGS[i]}"
	done
} >"$OUT/meta.txt"
for ((i = 0; i < NVMM; i++)); do
	say "VMM ${V_LABEL[i]}: ${V_KIND[i]} ${V_BIN[i]}${V_DOPTS[i]:+ disk-opts=${V_DOPTS[i]}}${V_NOPTS[i]:+ net-opts=${V_NOPTS[i]}}${V_ARGS[i]:+ args=${V_ARGS[i]}}"
done
say "$RUNS run(s) x $NVMM VMM(s) x ($NJOBS fio job(s) + $NNET network test(s)) of ${RUNTIME}s; vCPUs $CPUS, memory ${MEM_MIB}M"

# One emulator or benchmark at a time on this machine.
LOCK=${KVMINI_LAB_LOCK:-/tmp/kvmini-lab.lock}
exec 9>"$LOCK"
if ! flock -n 9; then
	say "waiting for the lab lock $LOCK (another lab run or benchmark holds it)"
	flock 9 || die "cannot lock $LOCK"
fi

# runs_missing: the runs without a complete result (every VMM and the host).
runs_missing() {
	local r d l ok
	for ((r = 1; r <= RUNS; r++)); do
		d=$OUT/raw/r$(printf '%02d' $r)
		ok=1
		for l in "${V_LABEL[@]}" $([ $CEILING = 1 ] && echo host); do
			grep -qs '^status=' "$d/$l/status" || ok=0
		done
		[ $ok = 1 ] || echo $r
	done
}

T0=$(cut -d. -f1 /proc/uptime)
if [ "$MODE" = direct ]; then
	# --- directly on this host ------------------------------------------------------------
	if [ -n "$DISK" ]; then
		dcfg=(BENCH_DISK="$DISK" BENCH_DISK_CREATE_MIB=0)
	else
		dcfg=(BENCH_DISK="$STAGE/disk.img" BENCH_DISK_CREATE_MIB="$DISK_MIB")
	fi
	cfg=("${COMMON[@]}" "${dcfg[@]}" BENCH_OUT="$OUT/raw" BENCH_RUNS="$(seq -s ' ' 1 "$RUNS")"
		BENCH_KERNEL="$IMG/bzImage" BENCH_INITRD="$STAGE/initrd.cpio" BENCH_JOBS="$STAGE/guest/bench/jobs"
		BENCH_TOOLS="$BROOT" BENCH_CHUNKS=0 BENCH_NETNS="$([ $NET = 1 ] && echo kvmini-bench-$$)")
	driver_config "$STAGE/driver.conf" "${cfg[@]}"
	for ((i = 0; i < NVMM; i++)); do echo "VMM$((i + 1))_BIN=$(printf '%q' "${V_BIN[i]}")"; done >>"$STAGE/driver.conf"
	timeout -k 10 $((RUNS * (NVMM * VMM_WORST + NJOBS * (RUNTIME + GRACE) + 60) + 120)) \
		sh "$BENCH_DIR/driver.sh" "$STAGE/driver.conf" 9>&- 2>&1 | tee "$OUT/bench.log" | grep --line-buffered '^bench: ' >&2
else
	# --- inside the nested lab's L1 -------------------------------------------------------
	L=$STAGE/l1
	mkdir -p "$L/bench/vmm"
	# ldd_copy FILE: FILE's shared libraries, at their host paths, into L1.
	ldd_copy() {
		local lib
		for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*'); do
			mkdir -p "$L$(dirname "$lib")"
			[ -e "$L$lib" ] || cp -L "$lib" "$L$lib"
		done
	}
	first_kvmini=""
	for ((i = 0; i < NVMM; i++)); do
		case "${V_KIND[i]}" in
		kvmini)
			mkdir -p "$L/bench/vmm/$((i + 1))"
			cp "${V_BIN[i]}" "$L/bench/vmm/$((i + 1))/kvmini"
			ldd_copy "${V_BIN[i]}"
			V_L1BIN[i]=/bench/vmm/$((i + 1))/kvmini
			first_kvmini=${first_kvmini:-${V_BIN[i]}} ;;
		qemu)
			# QEMU looks for its firmware beside its binary: ../share/qemu
			# and ../share/seabios. romfile= spares virtio-net's PXE ROM.
			mkdir -p "$L/bench/vmm/$((i + 1))/bin" "$L/bench/vmm/$((i + 1))/share/qemu" "$L/bench/vmm/$((i + 1))/share/seabios"
			cp "${V_BIN[i]}" "$L/bench/vmm/$((i + 1))/bin/qemu-system-x86_64"
			ldd_copy "${V_BIN[i]}"
			qd=$(dirname "${V_BIN[i]}")/../share
			for f in qemu/kvmvapic.bin qemu/linuxboot_dma.bin seabios/bios-256k.bin; do
				src=""
				for d in "$qd" /usr/share; do [ -f "$d/$f" ] && { src=$d/$f; break; }; done
				[ -n "$src" ] || die "QEMU firmware $f not found (in $qd or /usr/share; install seabios and qemu-system-data)"
				cp -L "$src" "$L/bench/vmm/$((i + 1))/share/$f"
			done
			V_L1BIN[i]=/bench/vmm/$((i + 1))/bin/qemu-system-x86_64 ;;
		esac
	done
	# lab_initramfs needs a kvmini for /lab/bin; any will do when none is measured.
	[ -n "$first_kvmini" ] || first_kvmini=$(default_kvmini)
	cp -al "$BROOT" "$L/benchroot" 2>/dev/null || cp -a "$BROOT" "$L/benchroot"
	cp "$STAGE/initrd.cpio" "$L/bench/initrd.cpio"
	cp -r "$STAGE/guest/bench/jobs" "$L/bench/jobs"
	cp "$BENCH_DIR/driver.sh" "$L/bench/driver.sh"
	if [ -n "$DISK" ]; then
		cp "$DISK" "$L/bench/disk.img"
		dcfg=(BENCH_DISK=/bench/disk.img BENCH_DISK_CREATE_MIB=0)
		l1mem=$((3072 + 2 * $(stat -c %s "$DISK") / 1048576))
	else
		# L1's /work is a 1 GiB tmpfs: bigger disks live in its rootfs.
		if [ "$DISK_MIB" -le 768 ]; then
			dcfg=(BENCH_DISK=/work/disk.img BENCH_DISK_CREATE_MIB="$DISK_MIB")
		else
			dcfg=(BENCH_DISK=/bench/disk.img BENCH_DISK_CREATE_MIB="$DISK_MIB")
		fi
		l1mem=$((3072 + DISK_MIB))
	fi
	l1mem=$((l1mem + MEM_MIB > 4096 ? l1mem + MEM_MIB - 1024 : l1mem))
	echo "l1=${LAB_QEMU[*]} -m $l1mem (the later -m wins)" >>"$OUT/meta.txt"
	mkdir -p "$STAGE/scen"
	cat >"$STAGE/scen/10-bench.sh" <<'EOF'
#!/bin/sh
# Generated by tests/bench/bench.sh: the benchmark driver, its output straight
# on L1's console (bench.sh picks the results out of it).
exec >/dev/console 2>&1
echo "bench: L1 has $(awk '/MemTotal/ { printf "%d MiB", $2 / 1024 }' /proc/meminfo), $(grep -c '^processor' /proc/cpuinfo) CPUs"
sh /bench/driver.sh /bench/config
EOF
	# The L2 kernel: bzImage only (lab_initramfs would copy vmlinux too).
	LAB_KERNELS=(bzImage)
	attempt=0
	missing=$(seq -s ' ' 1 "$RUNS")
	while [ -n "$missing" ] && [ $attempt -lt 3 ]; do
		attempt=$((attempt + 1))
		nmiss=$(echo $missing | wc -w)
		cfg=("${COMMON[@]}" "${dcfg[@]}" BENCH_OUT=/work/out BENCH_RUNS="$missing"
			BENCH_KERNEL=/lab/images/bzImage BENCH_INITRD=/bench/initrd.cpio BENCH_JOBS=/bench/jobs
			BENCH_TOOLS=/benchroot BENCH_CHUNKS=1 BENCH_NETNS="")
		driver_config "$L/bench/config" "${cfg[@]}"
		for ((i = 0; i < NVMM; i++)); do echo "VMM$((i + 1))_BIN=${V_L1BIN[i]}"; done >>"$L/bench/config"
		total=$((nmiss * (NVMM * VMM_WORST + NJOBS * (RUNTIME + GRACE) + 60) + 300))
		lab_initramfs "$STAGE/l1.cpio" "$first_kvmini" "$STAGE/scen" "LAB_MODE=run
LAB_TIMEOUT=$total"
		(cd "$L" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >>"$STAGE/l1.cpio"
		alog=$OUT/lab-attempt$attempt.log
		say "L1 attempt $attempt: runs $missing; initramfs $(($(stat -c %s "$STAGE/l1.cpio") / 1048576)) MiB, L1 memory ${l1mem}M; limit ${total}s, killed after ${SILENCE}s of silence"
		timeout -k 10 "$total" "${LAB_QEMU[@]}" -m "$l1mem" -serial stdio \
			-kernel "$IMG/bzImage" -initrd "$STAGE/l1.cpio" -append "$LAB_APPEND" \
			</dev/null >"$alog" 2>&1 &
		qpid=$!
		last=0 quiet=0 shown=0
		while kill -0 $qpid 2>/dev/null; do
			sleep 2
			# Progress: the driver's own lines.
			lines=$(tr -d '\r' <"$alog" | grep -a '^bench: ' | wc -l)
			if [ "$lines" -gt "$shown" ]; then
				tr -d '\r' <"$alog" | grep -a '^bench: ' | tail -n +$((shown + 1)) | head -n $((lines - shown)) >&2
				shown=$lines
			fi
			size=$(stat -c %s "$alog" 2>/dev/null || echo 0)
			if [ "$size" != "$last" ]; then
				last=$size quiet=0
			else
				quiet=$((quiet + 2))
				if [ $quiet -ge "$SILENCE" ]; then
					say "L1 silent for ${quiet}s: killing it"
					kill $qpid 2>/dev/null
					break
				fi
			fi
		done
		wait $qpid
		qrc=$?
		[ $qrc = 124 ] && say "L1 exceeded its time limit of ${total}s"
		cat "$alog" >>"$OUT/bench.log"
		# The chunks: base64 of rNN/LABEL .tar.gz, checked against their md5.
		mkdir -p "$STAGE/chunks"
		tr -d '\r' <"$alog" | awk -v d="$STAGE/chunks" '
			/^BENCH-CHUNK-BEGIN / { n++; f = d "/" n ".b64"; inb = 1; printf "" >f; next }
			/^BENCH-CHUNK-END / { inb = 0; close(f); print $3 >(f ".md5"); next }
			inb { print >f }'
		for c in "$STAGE"/chunks/*.b64; do
			[ -f "$c" ] || continue
			if [ -f "$c.md5" ] && [ "$(md5sum <"$c" | cut -c1-32)" = "$(cat "$c.md5")" ]; then
				base64 -d <"$c" | tar -xzf - -C "$OUT/raw" || say "a damaged result chunk was dropped"
			else
				say "a result chunk that did not arrive whole was dropped"
			fi
			rm -f "$c" "$c.md5"
		done
		missing=$(runs_missing | tr '\n' ' ' | sed 's/ $//')
		if [ -n "$missing" ]; then
			tr -d '\r' <"$alog" | grep -q 'LAB-ABORT\|LAB-ERROR' && tr -d '\r' <"$alog" | grep 'LAB-ABORT\|LAB-ERROR' >&2
			say "L1 attempt $attempt ended with run(s) $missing incomplete (log: $alog)"
			# Partial runs are measured again in full, on a fresh L1, if the
			# driver got going at all (else another L1 would fail alike).
			for r in $missing; do rm -rf "$OUT/raw/r$(printf '%02d' "$r")"; done
			if ! tr -d '\r' <"$alog" | grep -q '^bench: run '; then
				say "the benchmark driver never started in L1: giving up (see $alog)"
				break
			fi
		fi
	done
fi
T1=$(cut -d. -f1 /proc/uptime)
echo "elapsed_secs=$((T1 - T0))" >>"$OUT/meta.txt"
exec 9>&-

# --- the report ---------------------------------------------------------------------------
say "measured in $((T1 - T0))s; report:"
"$PY" "$BENCH_DIR/report.py" "$OUT"
