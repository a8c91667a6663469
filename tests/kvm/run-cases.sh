#!/usr/bin/env bash
# tests/kvm/run-cases.sh — run every tiny-guest case of tests/kvm/cases.sh
# where KVM is: directly on this host when its /dev/kvm works (hardware or
# kvm_pvm alike), otherwise inside one boot of the nested lab's L1, whose KVM
# is real. Nothing is skipped for want of /dev/kvm.
#
#   run-cases.sh --kvmini PATH --guests DIR --results FILE [--pass-if-complete]
#                [--only CASE,...]
#
#   --guests   the directory with guest-pvh.elf, guest-bzimage and guest-vblk
#              (the build's tests/kvm); any *.so there goes along too
#   --results  FILE gets one line per case,
#                LAB-RESULT <case> PASS|FAIL rc=<rc> secs=<s> where=direct|lab
#              and FILE.log the whole output (L1's console in lab mode)
#   --only     run just these cases
#   KVMINI_LAB=0|1 forces direct or lab (tests/lab/lab-common.sh lab_mode).
# Each case is wrapped as a lab scenario and run by tests/lab/lab.sh, so the
# lab's time limits, hang detection and retry apply unchanged.
set -u
here=$(cd "$(dirname "$0")" && pwd)
KVMINI="" GUESTS="" RESULTS="" ONLY="" pass_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kvmini) KVMINI=${2:?}; shift 2 ;;
	--guests) GUESTS=${2:?}; shift 2 ;;
	--results) RESULTS=${2:?}; shift 2 ;;
	--only) ONLY=${2:?}; shift 2 ;;
	--pass-if-complete) pass_args+=(--pass-if-complete); shift ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run-cases.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$KVMINI" ] && [ -n "$GUESTS" ] && [ -n "$RESULTS" ] ||
	{ echo "run-cases.sh: --kvmini, --guests and --results are required" >&2; exit 2; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/kvmini-kvmcases.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/guests" "$stage/scenarios"
# What a case needs, in one flat directory: in the lab it becomes /lab/guests.
cp "$GUESTS"/guest-pvh.elf "$GUESTS"/guest-bzimage "$GUESTS"/guest-vblk \
	"$here/cases.sh" "$here/lib.sh" "$stage/guests/" || exit 2
for so in "$GUESTS"/*.so; do [ -e "$so" ] && cp "$so" "$stage/guests/"; done
# The scripts themselves, for the direct-path case: inside L1, which has a
# real /dev/kvm, it runs this script again and must find direct mode.
(cd "$here/../.." && tar cf "$stage/guests/scripts.tar" tests/kvm/*.sh tests/lab/*.sh images/elf-libs.sh) || exit 2

# One scenario per case, in the order cases.sh lists them.
n=0
for c in $(sed -n 's/^\([a-z0-9|-]*\)).*/\1/p' "$here/cases.sh" | tr '|' ' '); do
	if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$c,"* ]]; then continue; fi
	n=$((n + 1))
	cat >"$stage/scenarios/$(printf %03d $n)-$c.sh" <<EOS
#!/bin/sh
# tests/kvm/cases.sh $c, as a lab scenario.
TMPDIR=\$WORK exec bash "\$GUESTS/cases.sh" $c "\$KVMINI" "\$GUESTS/guest-pvh.elf" \\
	"\$GUESTS/guest-bzimage" "\$GUESTS/guest-vblk"
EOS
done
[ $n -gt 0 ] || { echo "run-cases.sh: no case matches '$ONLY'" >&2; exit 2; }

# bash runs the cases; script(1) gives console-tty its pty (busybox's lacks
# -e); readelf is for lab.sh in the direct-path case.
export KVMINI_LAB_GUESTS=$stage/guests LAB_HOST_TOOLS="bash script readelf"
# Every case takes a few seconds at most, so 30 s is a hung case (killed,
# FAIL) and an L1 silent for 45 s has hung: QEMU's emulated SVM does that
# now and then (seen once in six runs of reboot-restart, which builds and
# tears down VMs in a tight loop); lab.sh then boots a fresh L1 for the rest.
export KVMINI_LAB_STALL_TIMEOUT=${KVMINI_LAB_STALL_TIMEOUT:-45}
# reboot-restart builds and destroys some 25 VMs a second, and under QEMU's
# multi-threaded TCG that hangs the whole L1 now and then, twice in a row in
# CI on 2026-12-03 (lab-common.sh, KVMINI_LAB_TCG). L1's CPUs taking turns on
# one host thread did not hang in 1,500 VMs, and all 33 cases take 28 s.
export KVMINI_LAB_TCG=${KVMINI_LAB_TCG:-single}
bash "$here/../lab/lab.sh" --arch x86_64 --need tiny --kvmini "$KVMINI" \
	--results "$RESULTS" --scenarios "$stage/scenarios" --timeout 30 "${pass_args[@]}"
exit $?
