#!/bin/sh
# /dev/kvm exists and kvmini runs at all (prints its version).
. "$(dirname "$0")/common.sh"
[ -c /dev/kvm ] || fail "/dev/kvm missing"
ls -l /dev/kvm
uname -m
"$KVMINI" --version || echo "note: kvmini --version exited $?"
exit 0
