#!/usr/bin/env bash
# tests/bench/boot-exits.sh [--kvmini PATH] [--out DIR]: where a Linux boot's
# KVM exits go. Runs tests/bench/boot-exits/10-boot-exits.sh as a lab
# scenario (three boots of the guest image, 2 vCPUs, a disk on PCI, to
# power-off), with every exit of the VM traced in L1, and prints per boot
# the exits by reason, port and MMIO page (TRACE lines) beside kvmini's own
# counters (KVMINI_STATS=1, --result "exits"). Takes the lab lock like
# every lab run; about 2 minutes of lab time.
set -euo pipefail
cd "$(dirname "$0")/../.."
kvmini=build/kvmini out=$(mktemp -d "${TMPDIR:-/tmp}/kvmini-boot-exits.XXXXXX")
while [ $# -gt 0 ]; do
	case "$1" in
	--kvmini) kvmini=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	*) echo "boot-exits.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
scen=$out/scenarios
mkdir -p "$scen"
cp tests/lab/scenarios/x86_64/common.sh tests/bench/boot-exits/10-boot-exits.sh "$scen/"
bash tests/lab/lab.sh --arch x86_64 --kvmini "$kvmini" --results "$out/results" \
	--scenarios "$scen" --timeout 400
tr -d '\r' <"$out/results.log" | grep -E 'TRACE boot|kvmini: exits:' | sed 's/^ *\[boot-exits\] //'
echo "boot-exits.sh: the whole log is $out/results.log"
