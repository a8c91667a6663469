#!/usr/bin/env bash
# The newcomer's command: install what kvmini needs (as root), build it, build
# the guest images, and boot a Linux guest to a shell on this terminal.
#
#   bash images/quickstart.sh [kvmini run options...]
#
# On a host whose /dev/kvm is hardware-backed the guest boots directly. On a
# host like our CI machines (/dev/kvm from kvm_pvm, a software hypervisor that
# cannot boot Linux in useful time) it boots inside the nested lab: QEMU's
# emulator runs an L1 Linux with KVM, and kvmini runs there (tests/lab/boot.sh).
# Leave the guest shell with `exit` or Ctrl-D (the guest powers off).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
	bash images/install-deps.sh
else
	echo "quickstart: not root, so no packages are installed; if the build fails, run: sudo bash images/install-deps.sh"
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
bash images/build-guest.sh
exec bash tests/lab/boot.sh "$@"
