#!/bin/sh
# --hugepages: guest RAM from reserved 2 MiB huge pages (hugetlbfs). L1
# reserves 64 more of them (128 MiB); a 128 MiB guest boots into them:
# while it runs they are taken (free minus reserved drops by 64), and once
# it has exited they are free again. Asking for more than is reserved is
# refused in one line naming --hugepages, before KVM is touched.
. "$(dirname "$0")/common.sh"
L2_MEMORY=128M
H=/sys/kernel/mm/hugepages/hugepages-2048kB
avail() { echo $(($(cat $H/free_hugepages) - $(cat $H/resv_hugepages))); }
# On a host of its own (direct mode) the reservation it had is put back.
old=$(cat /proc/sys/vm/nr_hugepages)
echo $((old + 64)) >/proc/sys/vm/nr_hugepages
before=$(avail)
[ "$before" -ge 64 ] || { echo "$old" >/proc/sys/vm/nr_hugepages; fail "only $before huge pages could be reserved"; }
rm -f "$WORK/hp.done"
(
	m=$before
	while [ ! -e "$WORK/hp.done" ]; do
		a=$(avail); [ "$a" -lt "$m" ] && m=$a
		echo "$m" >"$WORK/hp.min"
		sleep 0.1
	done
) &
sampler=$!
run_guest hugepages "$BZIMAGE" "sleep 2" --hugepages --timeout "$L2_TIMEOUT"
touch "$WORK/hp.done"
wait $sampler
after=$(avail)
echo "$old" >/proc/sys/vm/nr_hugepages
expect_rc 0
expect_console 'KVMINI-GUEST-CMD-EXIT 0'
min=$(cat "$WORK/hp.min")
[ $((before - min)) -ge 64 ] || fail "the guest took $((before - min)) huge pages, not 64"
[ "$after" = "$before" ] || fail "after the run $after of $before huge pages are available"
echo "guest RAM took 64 huge pages while it ran; all free again after"
L2_MEMORY=1T
run_guest hugepages-short "$BZIMAGE" "true" --hugepages --timeout "$L2_TIMEOUT"
expect_rc 2
grep -q '^kvmini: --hugepages: 1048576 MiB of guest RAM needs 524288 free 2 MiB huge pages' \
	"$WORK/hugepages-short.stderr" || fail "no one-line refusal naming --hugepages"
