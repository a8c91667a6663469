#!/bin/sh
# SIGTERM to kvmini while the guest sleeps: kvmini exits 143.
. "$(dirname "$0")/common.sh"
CONSOLE=$WORK/sigterm.console
cl="$CMDLINE_BASE -- sleep 600"
t=$(now)
"$KVMINI" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "$cl" --cpus 1 \
	--memory "$L2_MEMORY" --console "file:$CONSOLE" --timeout 600 &
pid=$!
i=0
while ! grep -q KVMINI-GUEST-UP "$CONSOLE" 2>/dev/null; do
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"
		fail "kvmini exited (status $?) before the guest came up"
	fi
	i=$((i + 1))
	if [ $i -ge $((L2_TIMEOUT * 2)) ]; then
		kill -KILL "$pid"
		fail "guest not up after ${L2_TIMEOUT}s (is the console file flushed as output arrives?)"
	fi
	sleep 0.5
done
echo "guest up after $(since "$t")s; sending SIGTERM"
sleep 1
kill -TERM "$pid"
wait "$pid"
RC=$?
echo "kvmini exit status $RC after $(since "$t")s"
expect_rc 143
