#!/usr/bin/env bash
# tests/bench/footprint.sh — kvmini's own memory: what it keeps resident
# beside guest RAM while a guest runs with a disk and a network card.
#
#   bash tests/bench/footprint.sh [--kvmini PATH] [--memory 256M] [--seconds 20]
#                                 [--config CPUS:QUEUES]...
#
# Boots the guest image of images/build-guest.sh (a Debian kernel, busybox)
# once per configuration (default: 1:1, 2:2 and 1:4 -- vCPUs : disk queues)
# with one virtio-blk disk and one virtio-net card (a tap); the guest writes
# 8 MiB to the disk, pings nothing, and sleeps. /proc/PID/smaps is sampled
# every 0.2 s: resident memory in every mapping except guest RAM, anonymous
# and file-backed apart (shared libraries count in full, as if no other
# process used them), and the thread count; the kernel and initrd files,
# mapped only while they are copied into guest RAM at start, are counted
# apart (boot_kib) and not in the total. Prints, per configuration,
#   FOOTPRINT cpus=C queues=Q anon_kib=N file_kib=N total_kib=N boot_kib=N threads=N samples=N
# (peaks over the run) and a line in MiB; then what each extra vCPU and queue
# costs, from the differences. Runs directly where KVM is hardware-backed,
# in the nested lab's L1 elsewhere (tests/lab/lab-common.sh decides), all
# configurations in one L1 boot. A measurement, not a test: nothing here
# passes or fails on a number.
set -u
here=$(cd "$(dirname "$0")" && pwd)
KVMINI=$here/../../build/kvmini MEM=256M SECS=20 CONFIGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kvmini) KVMINI=${2:?}; shift 2 ;;
	--memory) MEM=${2:?}; shift 2 ;;
	--seconds) SECS=${2:?}; shift 2 ;;
	--config) CONFIGS+=("${2:?}"); shift 2 ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "footprint.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(1:1 2:2 1:4)
[ -x "$KVMINI" ] || { echo "footprint.sh: no kvmini at $KVMINI (build it, or --kvmini PATH)" >&2; exit 2; }
case "$MEM" in
*[Gg]) ram_kib=$((${MEM%[Gg]} * 1048576)) ;;
*[Mm]) ram_kib=$((${MEM%[Mm]} * 1024)) ;;
*) echo "footprint.sh: --memory: give MiB or GiB (256M, 1G)" >&2; exit 2 ;;
esac
for c in "${CONFIGS[@]}"; do
	[[ "$c" =~ ^[0-9]+:[0-9]+$ ]] || { echo "footprint.sh: --config '$c': not CPUS:QUEUES" >&2; exit 2; }
done

scen=$(mktemp -d "${TMPDIR:-/tmp}/kvmini-footprint.XXXXXX")
res=$(mktemp "${TMPDIR:-/tmp}/kvmini-footprint-res.XXXXXX")
trap 'rm -rf "$scen" "$res" "$res.log"' EXIT
cp "$here/../lab/scenarios/x86_64/common.sh" "$scen/"
i=0
for c in "${CONFIGS[@]}"; do
	i=$((i + 1))
	cpus=${c%:*} queues=${c#*:}
	cat >"$scen/$(printf %02d $i)-footprint-$cpus-$queues.sh" <<EOS
#!/bin/sh
# One guest with a disk and a network card; kvmini's smaps sampled.
. "\$(dirname "\$0")/common.sh"
img=\$WORK/fp.img
rm -f "\$img"
dd if=/dev/zero of="\$img" bs=1M count=0 seek=64 2>/dev/null
"\$KVMINI" run --kernel "\$BZIMAGE" --initrd "\$INITRD" --memory $MEM --cpus $cpus \\
	--cmdline "\$CMDLINE_BASE -- \\"ip link set eth0 up; dd if=/dev/zero of=/dev/vda bs=1M count=8 oflag=direct 2>/dev/null; dd if=/dev/vda of=/dev/null bs=1M count=8 iflag=direct 2>/dev/null; sync; sleep $SECS\\"" \\
	--disk "\$img,queues=$queues" --net tap=kfp$i --console "file:\$WORK/fp$i.console" --timeout $((SECS + 120)) &
pid=\$!
kfile=\$(readlink -f "\$BZIMAGE") ifile=\$(readlink -f "\$INITRD")
peak_a=0 peak_f=0 peak_b=0 peak_t=0 peak_th=0 n=0
while kill -0 \$pid 2>/dev/null; do
	# Guest RAM is the one mapping exactly $ram_kib KiB large (vm.c maps it
	# alone, 2 MiB-aligned, MADV_HUGEPAGE, so it never merges with another).
	# The kernel and initrd files are mapped only while they are copied
	# into guest RAM: their pages are counted apart (boot_kib).
	set -- \$(awk -v ram=$ram_kib -v k="\$kfile" -v i="\$ifile" '
		/^[0-9a-f]+-[0-9a-f]+ / { anon = (\$6 == "" || \$6 ~ /^\\[/); boot = (\$6 == k || \$6 == i); skip = 0; next }
		/^Size:/ { skip = (\$2 == ram); next }
		/^Rss:/ { if (skip) next; if (boot) b += \$2; else if (anon) a += \$2; else f += \$2 }
		END { print a + 0, f + 0, b + 0 }' /proc/\$pid/smaps 2>/dev/null) 0 0 0
	th=\$(ls /proc/\$pid/task 2>/dev/null | wc -l)
	[ \$1 -gt \$peak_a ] && peak_a=\$1
	[ \$2 -gt \$peak_f ] && peak_f=\$2
	[ \$3 -gt \$peak_b ] && peak_b=\$3
	[ \$((\$1 + \$2)) -gt \$peak_t ] && peak_t=\$((\$1 + \$2))
	[ \$th -gt \$peak_th ] && peak_th=\$th
	n=\$((n + 1))
	# Once, with the guest up: the mappings holding 64 KiB or more.
	[ \$n = 40 ] && awk '/^[0-9a-f]+-[0-9a-f]+ / { p = (\$6 == "" ? "[anon]" : \$6) } /^Rss:/ { if (\$2 >= 64) print "MAP", \$2, "KiB", p }' /proc/\$pid/smaps 2>/dev/null
	sleep 0.2
done
wait \$pid
echo "kvmini exit status \$?"
echo "FOOTPRINT cpus=$cpus queues=$queues anon_kib=\$peak_a file_kib=\$peak_f total_kib=\$peak_t boot_kib=\$peak_b threads=\$peak_th samples=\$n"
EOS
done
bash "$here/../lab/lab.sh" --arch x86_64 --kvmini "$KVMINI" --results "$res" --scenarios "$scen" \
	--timeout $((SECS + 240)) >/dev/null
lines=$(tr -d '\r' <"$res.log" | grep -ao 'FOOTPRINT cpus=.*')
tr -d '\r' <"$res.log" | grep -ao 'MAP [0-9]* KiB .*' | sed 's/^/  /' >&2
[ -n "$lines" ] || { echo "footprint.sh: the runs printed no figures (see the lab log)" >&2; exit 1; }
echo "$lines"
echo "$lines" | awk -v m="$MEM" '
	{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	  c = v["cpus"]; q = v["queues"]; t[c ":" q] = v["total_kib"]; a[c ":" q] = v["anon_kib"]
	  printf "kvmini beside %s of guest RAM, %d vCPU, 1 disk (%d queue%s), 1 net: %.2f MiB resident at peak (%.2f MiB anonymous, %.2f MiB file-backed), %d threads; kernel and initrd while loading: %.1f MiB\n",
		m, c, q, (q > 1 ? "s" : ""), v["total_kib"] / 1024, v["anon_kib"] / 1024, v["file_kib"] / 1024, v["threads"], v["boot_kib"] / 1024 }
	END {
	  if (("1:1" in t) && ("2:2" in t) && ("1:4" in t)) {
		perq = (t["1:4"] - t["1:1"]) / 3
		printf "each extra disk queue: %+.0f KiB; each extra vCPU (with its queue): %+.0f KiB, so %+.0f KiB for the vCPU alone\n",
			perq, t["2:2"] - t["1:1"], t["2:2"] - t["1:1"] - perq
	  }
	}'
