#!/bin/sh
# Snapshot and restore a running guest (issue 13). The guest has a disk and a
# network card on PCI and runs two loops: one writes 64 KiB blocks to /dev/vda
# and reads each back with its checksum, the other downloads 40 chunks from
# L1's httpd, checksumming each. While both are busy, L1 pauses the guest,
# snapshots it through the API socket (kvmini ctl), copies the disk image (the
# user's copy: the VM is paused) and kills kvmini with SIGKILL. Then:
#   restore 1: the snapshot, on the original image, in L1's network namespace;
#   restore 2: the same snapshot at the same time, on the copy, in a network
#              namespace of its own (same tap name, same addresses).
# Both must carry on where the snapshot left them: every block and every
# chunk checks out, a final pass re-reads every block, and the images hold
# exactly what each guest wrote. Restore 2's download in flight at the
# snapshot has no server socket in its namespace: it is refused and retried.
# The scenario prints how long a restore takes to run the guest again against
# the original boot's time to its first line.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/ci.sh"
L2_MEMORY=256M
NB=40
TAP=ksnap0
TAPMAC=02:00:00:00:5a:01
L1_IP=192.0.2.1
snap=$WORK/snap
img=$WORK/disk.img
www=$WORK/www
mkdir -p "$www"
dd if=/dev/zero of="$img" bs=1M count=0 seek=16 2>/dev/null
i=1
while [ $i -le $NB ]; do
	head -c 131072 /dev/urandom >"$www/c$i"
	i=$((i + 1))
done

# The guest's loops: one quoted init argument, no double quotes inside.
# timeout(1) bounds each download: busybox 1.35's own wget -T segfaults.
g="ip link set eth0 up && ip addr add 192.0.2.2/24 dev eth0 || exit 1"
g="$g; (i=1; while [ \$i -le $NB ]; do t=0; until timeout 10 wget -q -O /tmp/c http://$L1_IP:8080/c\$i; do t=\$((t+1)); [ \$t -lt 60 ] || break; echo RETRY \$i; sleep 1; done; echo CHUNK \$i \$(sha256sum /tmp/c | cut -c1-16); i=\$((i+1)); sleep 0.3; done; echo CHUNKS-DONE) &"
g="$g i=1; while [ \$i -le $NB ]; do dd if=/dev/urandom of=/tmp/b bs=64k count=1 2>/dev/null; w=\$(sha256sum /tmp/b | cut -c1-16); echo \$w >/tmp/sum\$i; dd if=/tmp/b of=/dev/vda bs=64k seek=\$i count=1 oflag=direct conv=fsync 2>/dev/null; r=\$(dd if=/dev/vda bs=64k skip=\$i count=1 iflag=direct 2>/dev/null | sha256sum | cut -c1-16); [ \$w = \$r ] && echo DISK \$i \$w OK || echo DISK \$i \$w BAD \$r; i=\$((i+1)); sleep 0.3; done; wait"
g="$g; bad=0; i=1; while [ \$i -le $NB ]; do r=\$(dd if=/dev/vda bs=64k skip=\$i count=1 iflag=direct 2>/dev/null | sha256sum | cut -c1-16); [ \$r = \$(cat /tmp/sum\$i) ] || { echo VERIFY-BAD \$i; bad=1; }; i=\$((i+1)); done; echo VERIFY bad=\$bad"

# net_up [nsenter prefix...]: L1's end of the tap, always the same MAC (the
# guest's ARP cache survives the snapshot), and httpd on it.
net_up() {
	n=0
	while ! "$@" ip link show $TAP >/dev/null 2>&1; do
		n=$((n + 1)); [ $n -lt 300 ] || fail "no tap $TAP"
		sleep 0.1
	done
	"$@" ip link set $TAP address $TAPMAC
	"$@" ip addr add $L1_IP/24 dev $TAP
	"$@" ip link set $TAP up || fail "cannot bring $TAP up"
	"$@" httpd -f -p $L1_IP:8080 -h "$www" &
	HPID=$!
}

lines() { tr -d '\r' <"$1" | grep -c "^$2 " ; }

# ---- the original run ----
CONSOLE=$WORK/run.console
echo "run: kvmini run --disk disk.img --net tap=$TAP --api-socket api.sock (guest: $NB blocks, $NB chunks)"
"$KVMINI" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$CMDLINE_BASE -- \"$g\"" \
	--memory $L2_MEMORY --console "file:$CONSOLE" --disk "$img" --net "tap=$TAP" \
	--api-socket "$WORK/api.sock" --result "$WORK/run.json" --timeout 300 2>"$WORK/run.stderr" &
kpid=$!
net_up
h0=$HPID
n=0
until [ "$(lines "$CONSOLE" DISK)" -ge 8 ] && [ "$(lines "$CONSOLE" CHUNK)" -ge 8 ]; do
	kill -0 $kpid 2>/dev/null || fail "kvmini ended before the loops got going"
	n=$((n + 1)); [ $n -lt 1500 ] || fail "the loops did not get going"
	sleep 0.1
done
st=$("$KVMINI" ctl "$WORK/api.sock" status) || fail "ctl status: $st"
echo "status: $st"
echo "$st" | grep -q '"state": "running"' || fail "not running: $st"
p=$("$KVMINI" ctl "$WORK/api.sock" pause) || fail "ctl pause: $p"
echo "pause: $p"
s=$("$KVMINI" ctl "$WORK/api.sock" snapshot "$snap") || fail "ctl snapshot: $s"
echo "snapshot: $s"
echo "$s" | grep -q '"state": "paused"' || fail "the snapshot did not leave the VM paused"
echo "snapshot files: $(ls -ls "$snap" | tr -s ' ' | tail -n +2 | cut -d' ' -f1,6,10 | tr '\n' ';')"
cp "$img" "$WORK/copy.img"
mem_sum=$(md5sum <"$snap/memory")
kill -KILL $kpid
wait $kpid
kill $h0 2>/dev/null
# The tap kvmini created goes with its last fd, but its unregistering can
# trail the exit: a restore must not find the old one and lose it.
n=0
while ip link show $TAP >/dev/null 2>&1; do
	n=$((n + 1)); [ $n -lt 100 ] || fail "tap $TAP outlived kvmini by 10 s"
	sleep 0.1
done
cat "$WORK/run.stderr" >&2
before=$(lines "$CONSOLE" DISK)
echo "killed kvmini (SIGKILL) after $before blocks and $(lines "$CONSOLE" CHUNK) chunks"
tr -d '\r' <"$CONSOLE" | grep -q 'KVMINI-GUEST-UP' || fail "no boot marker"

# ---- two restores of the one snapshot, side by side ----
C1=$WORK/r1.console C2=$WORK/r2.console
t=$(now)
KVMINI_STATS=1 "$KVMINI" restore "$snap" --console "file:$C1" --api-socket "$WORK/r1.sock" \
	--result "$WORK/r1.json" --timeout 300 2>"$WORK/r1.stderr" &
r1=$!
net_up
h1=$HPID
KVMINI_STATS=1 unshare -n "$KVMINI" restore "$snap" --disk "$WORK/copy.img" \
	--console "file:$C2" --result "$WORK/r2.json" --timeout 300 2>"$WORK/r2.stderr" &
r2=$!
# Until unshare has made its namespace, nsenter would enter ours and set up
# restore 1's tap a second time.
n=0
while [ "$(readlink /proc/$r2/ns/net 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ]; do
	n=$((n + 1)); [ $n -lt 100 ] || fail "restore 2 has no network namespace of its own"
	sleep 0.1
done
net_up nsenter -t $r2 -n
h2=$HPID
wait $r1
rc1=$?
wait $r2
rc2=$?
kill $h1 $h2 2>/dev/null
cat "$WORK/r1.stderr" "$WORK/r2.stderr" >&2
echo "restore 1 exit status $rc1, restore 2 exit status $rc2 ($(since "$t")s for both)"
CONSOLE=$C1; [ $rc1 = 0 ] || fail "restore 1 ended with status $rc1"
CONSOLE=$C2; [ $rc2 = 0 ] || fail "restore 2 ended with status $rc2"

# ---- what each guest did ----
# check CONSOLE IMAGE NAME: every block and chunk of the run (the original
# console, then this restore's) checks out, in the guest and in the image.
check() {
	CONSOLE=$1
	all=$WORK/$3.all
	tr -d '\r' <"$WORK/run.console" >"$all"
	tr -d '\r' <"$1" >>"$all"
	expect_console '^VERIFY bad=0$'
	expect_console '^CHUNKS-DONE$'
	expect_console 'KVMINI-GUEST-CMD-EXIT 0'
	grep -q '^KVMINI-GUEST-UP' "$1" && fail "$3: the guest booted again"
	grep -q ' BAD ' "$all" && fail "$3: $(grep ' BAD ' "$all" | head -3)"
	i=1
	while [ $i -le $NB ]; do
		w=$(grep "^DISK $i " "$all" | tail -n 1 | cut -d' ' -f3)
		[ -n "$w" ] || fail "$3: block $i never written"
		d=$(dd if="$2" bs=64k skip=$i count=1 2>/dev/null | sha256sum | cut -c1-16)
		[ "$d" = "$w" ] || fail "$3: block $i in the image is $d, the guest wrote $w"
		c=$(grep "^CHUNK $i " "$all" | tail -n 1 | cut -d' ' -f3)
		e=$(sha256sum "$www/c$i" | cut -c1-16)
		[ "$c" = "$e" ] || fail "$3: chunk $i arrived as '$c', L1 served $e"
		i=$((i + 1))
	done
	echo "$3: $NB blocks and $NB chunks check out, $(grep -c '^DISK ' "$1") blocks and $(grep -c '^CHUNK ' "$1") chunks of them after the restore ($(grep -c '^RETRY ' "$1") download retries)"
}
check "$C1" "$img" restore-1
check "$C2" "$WORK/copy.img" restore-2
# Both guests wrote their memory; the snapshot's file is as it was.
[ "$(md5sum <"$snap/memory")" = "$mem_sum" ] || fail "the restores changed $snap/memory"
echo "both restores ran from $snap/memory (MAP_PRIVATE): the file is unchanged"

# ---- how long ----
# The original run was killed (SIGKILL writes no --result): a fresh boot of
# the same guest, ended by --expect at its boot marker, is the comparison.
"$KVMINI" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$CMDLINE_BASE -- \"sleep 60\"" \
	--memory $L2_MEMORY --console "file:$WORK/fresh.console" \
	--expect KVMINI-GUEST-UP --result "$WORK/fresh.json" --timeout 120 2>"$WORK/fresh.stderr" ||
	fail "the fresh boot did not reach its boot marker (status $?)"
show_result "$WORK/fresh.json"
show_result "$WORK/r1.json"
boot=$(sed -n 's/.*"first_output_s": \([0-9.]*\).*/\1/p' "$WORK/fresh.json")
marker=$(sed -n 's/.*"boot_marker_s": \([0-9.]*\).*/\1/p' "$WORK/fresh.json")
res=$(sed -n 's/.*"first_output_s": \([0-9.]*\).*/\1/p' "$WORK/r1.json")
load=$(sed -n 's/.*runs again \([0-9.]*\) ms.*/\1/p' "$WORK/r1.stderr")
[ -n "$boot" ] && [ -n "$marker" ] && [ -n "$res" ] && [ -n "$load" ] ||
	fail "a time is missing (fresh '$boot' '$marker', restore '$load' '$res')"
echo "MEASURE fresh boot: first console line ${boot}s, boot marker ${marker}s; restore: guest running ${load} ms after start, first console line ${res}s"
