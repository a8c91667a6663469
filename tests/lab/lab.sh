#!/bin/bash
# tests/lab/lab.sh — run the Linux boot scenarios against a kvmini binary.
#
# Usage:
#   tests/lab/lab.sh --arch x86_64|aarch64 --kvmini PATH --results FILE
#                    [--scenarios DIR] [--timeout SECS] [--pass-if-complete]
#                    [--need linux|tiny]
#
#   --arch       the guest architecture (default x86_64); --kvmini must be a
#                kvmini built for it (aarch64: cross-built with
#                tests/cross/aarch64.cmake; dynamic or static)
#
#   --scenarios  default tests/lab/scenarios/<arch>; every NN-name.sh in it
#                runs in order (busybox sh in the lab), exit 0 = pass
#   --timeout    time limit per scenario (default 240); the whole L1 run is
#                limited to KVMINI_LAB_TOTAL_TIMEOUT (default 1400) seconds
#   --need       what the scenarios boot (lab-common.sh lab_mode): linux
#                (default) runs them directly only on hardware KVM; tiny
#                (tests/kvm's freestanding guests) wherever /dev/kvm works
#   --pass-if-complete  exit 0 once the run reached LAB-DONE even if scenarios
#                failed (for ctest: a failed fixture setup would stop the
#                per-scenario tests, which report the failures instead)
#
# Two modes (see lab-common.sh; KVMINI_LAB=0/1 forces one):
#   direct  the host's /dev/kvm is hardware-backed: scenarios run here.
#   lab     otherwise: an L1 Debian kernel boots under qemu-system-x86_64 or
#           qemu-system-aarch64 (TCG) with an initramfs holding busybox, the
#           kvm modules, kvmini (+ its libraries), the L2 images and the
#           scenarios; L1 loads kvm-amd (x86_64; arm64's KVM is built in) and
#           runs them with real KVM.
# Output: FILE.log has the whole console (L1's in lab mode), FILE the lines
#   LAB-RESULT <name> PASS|FAIL rc=<rc> secs=<s> where=direct|lab
# Exit status: 0 all passed; 1 a scenario failed or the run did not reach
# LAB-DONE; 2 usage or set-up error.
# Scenario environment: KVMINI, BZIMAGE VMLINUX (x86_64) or IMAGE (aarch64),
#   INITRD (L2 guest initrd), WORK (scratch dir, tmpfs in the lab),
#   LAB_DIRECT (1 in direct mode), LAB_COMMON (tests/lab/scenarios/common).
# Guest images come from images/build-guest.sh --arch ARCH (built on first use).
set -u
LAB_PROG=lab.sh
. "$(dirname "$0")/lab-common.sh"

ARCH=x86_64 KVMINI="" RESULTS="" SCEN="" LIMIT=240 COMPLETE_OK=0 NEED=linux
while [ $# -gt 0 ]; do
	case "$1" in
	--arch) ARCH=${2:?}; shift 2 ;;
	--kvmini) KVMINI=${2:?}; shift 2 ;;
	--results) RESULTS=${2:?}; shift 2 ;;
	--scenarios) SCEN=${2:?}; shift 2 ;;
	--timeout) LIMIT=${2:?}; shift 2 ;;
	--pass-if-complete) COMPLETE_OK=1; shift ;;
	--need) NEED=${2:?}; shift 2 ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) lab_die "unknown argument '$1' (try --help)" ;;
	esac
done
lab_arch "$ARCH"
ARCH=$LAB_ARCH
[ -n "$KVMINI" ] || lab_die "--kvmini PATH is required"
[ -x "$KVMINI" ] || lab_die "--kvmini: '$KVMINI' is not an executable"
lab_check_kvmini "$KVMINI"
[ -n "$RESULTS" ] || lab_die "--results FILE is required"
case "$NEED" in linux|tiny) ;; *) lab_die "--need: '$NEED' is not linux or tiny" ;; esac
[[ "$LIMIT" =~ ^[0-9]+$ ]] || lab_die "--timeout: '$LIMIT' is not a number of seconds"
SCEN=${SCEN:-$LAB_DIR/scenarios/$ARCH}
[ -d "$SCEN" ] || lab_die "--scenarios: '$SCEN' is not a directory"
KVMINI=$(realpath "$KVMINI")
SCEN=$(realpath "$SCEN")
mkdir -p "$(dirname "$RESULTS")"
RESULTS=$(realpath "$RESULTS")
LOG=$RESULTS.log
: >"$RESULTS"

lab_mode "$NEED"
MODE=$LAB_MODE
# Tiny guests run directly need no Linux images; everything else does.
if [ "$MODE" = lab ] || [ "$NEED" = linux ]; then
	lab_images
else
	IMG=$KVMINI_CACHE/$LAB_ARCH
fi
nscen=$(ls "$SCEN"/[0-9]*.sh 2>/dev/null | wc -l)
echo "lab.sh: mode: $MODE ($LAB_MODE_WHY); $nscen scenario(s) from $SCEN; limit ${LIMIT}s each"
t0=$(date +%s)

if [ "$MODE" = direct ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/kvmini-lab.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	if [ "$ARCH" = aarch64 ]; then
		kenv=(IMAGE="$IMG/Image")
	else
		kenv=(BZIMAGE="$IMG/bzImage" VMLINUX="$IMG/vmlinux")
	fi
	env KVMINI="$KVMINI" "${kenv[@]}" INITRD="$IMG/guest-initrd.cpio.gz" LAB_COMMON="$LAB_DIR/scenarios/common" \
		GUESTS="${KVMINI_LAB_GUESTS:-}" LAB_DIRECT=1 LAB_WORK="$work" sh "$LAB_DIR/run-scenarios.sh" "$SCEN" "$LIMIT" 2>&1 | tee "$LOG"
else
	command -v "${LAB_QEMU[0]}" >/dev/null || lab_die "${LAB_QEMU[0]} missing; run images/install-deps.sh"
	# One emulator at a time on a 2-core machine: lab runs and benchmarks
	# queue on this lock, held by this script alone (children get 9>&-:
	# a stray one must not keep it).
	exec 9>"${KVMINI_LAB_LOCK:-/tmp/kvmini-lab.lock}"
	flock 9 || lab_die "cannot lock ${KVMINI_LAB_LOCK:-/tmp/kvmini-lab.lock}"
	total=${KVMINI_LAB_TOTAL_TIMEOUT:-1400}
	# A scenario is killed after $LIMIT s, so an L1 silent for longer than
	# that has hung (QEMU's emulated SVM/EL2 occasionally does, more so on
	# an overloaded host): kill it and boot a fresh L1 for what is left.
	stall=${KVMINI_LAB_STALL_TIMEOUT:-$((LIMIT + 60))}
	initramfs=$(mktemp "${TMPDIR:-/tmp}/kvmini-l1.XXXXXX.cpio")
	rest=$(mktemp -d "${TMPDIR:-/tmp}/kvmini-rest.XXXXXX")
	trap 'rm -rf "$initramfs" "$rest"' EXIT
	: >"$LOG"

	# run_l1 SCENARIO-DIR ATTEMPT-LOG: one L1 boot running those scenarios.
	run_l1() {
		local dir=$1 alog=$2 qpid last size quiet=0
		lab_initramfs "$initramfs" "$KVMINI" "$dir" "LAB_MODE=run
LAB_TIMEOUT=$LIMIT"
		echo "lab.sh: L1 initramfs $(($(stat -c %s "$initramfs") / 1048576)) MiB; booting L1 (limit ${total}s, stall ${stall}s)"
		timeout -k 10 "$total" "${LAB_QEMU[@]}" -serial stdio \
			-kernel "$IMG/${LAB_KERNELS[0]}" -initrd "$initramfs" -append "$LAB_APPEND" \
			</dev/null >"$alog" 2>&1 9>&- &
		qpid=$!
		last=0
		while kill -0 $qpid 2>/dev/null; do
			sleep 5
			size=$(stat -c %s "$alog" 2>/dev/null || echo 0)
			if [ "$size" != "$last" ]; then
				last=$size quiet=0
			else
				quiet=$((quiet + 5))
				if [ $quiet -ge "$stall" ]; then
					echo "lab.sh: L1 silent for ${quiet}s: killing it"
					pkill -P $qpid 2>/dev/null
					kill $qpid 2>/dev/null
					break
				fi
			fi
		done
		wait $qpid
		local qrc=$?
		[ "$qrc" = 124 ] && echo "lab.sh: L1 exceeded its time limit of ${total}s"
		cat "$alog" >>"$LOG"
		tr -d '\r' <"$alog" | grep -q 'LAB-DONE'
	}

	if ! run_l1 "$SCEN" "$rest/attempt1.log"; then
		# Once more, on a fresh L1, for the scenarios without a result.
		cp "$SCEN"/*.sh "$rest/" 2>/dev/null
		rm -f "$rest"/[0-9]*.sh
		left=0
		for f in "$SCEN"/[0-9]*.sh; do
			name=$(basename "$f" .sh | sed 's/^[0-9]*-//')
			if ! tr -d '\r' <"$LOG" | grep -q "LAB-RESULT $name "; then
				cp "$f" "$rest/"
				left=$((left + 1))
			fi
		done
		echo "lab.sh: L1 did not finish: a fresh L1 for the $left scenario(s) without a result"
		run_l1 "$rest" "$rest/attempt2.log" || true
	fi
fi

tr -d '\r' <"$LOG" | grep -o 'LAB-RESULT .*' >"$RESULTS"
secs=$(($(date +%s) - t0))
if ! tr -d '\r' <"$LOG" | grep -q 'LAB-DONE' || [ "$(wc -l <"$RESULTS")" -lt "$nscen" ]; then
	echo "lab.sh: FAIL: the run did not reach LAB-DONE (${secs}s; see $LOG)"
	exit 1
fi
if grep -q ' FAIL ' "$RESULTS"; then
	echo "lab.sh: FAIL: $(grep -c ' FAIL ' "$RESULTS") scenario(s) failed (${secs}s; see $LOG):"
	grep ' FAIL ' "$RESULTS" | sed 's/^/  /'
	[ $COMPLETE_OK = 1 ] && { echo "lab.sh: the run completed (--pass-if-complete): exit 0"; exit 0; }
	exit 1
fi
echo "lab.sh: PASS: $(wc -l <"$RESULTS") scenario(s) in ${secs}s ($MODE mode); results in $RESULTS"
