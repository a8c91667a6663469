/* kvmini restore DIR [options]: a new process that rebuilds the snapshot's
 * machine from its CONF section (through the ordinary command-line
 * parser), maps DIR/memory copy-on-write (MAP_PRIVATE: pages are read from
 * the file as the guest touches them and its writes stay in this process,
 * so two restores of one snapshot never see each other), reopens disks and
 * taps, loads every vCPU, interrupt controller and device, and lets the
 * vCPUs run where they stopped.
 *
 * Everything that can be checked is checked before a vCPU runs: the file's
 * magic, format version, architecture, checksum and section bounds, then
 * every section against the device it is for. Any mismatch ends kvmini
 * with status 2 and one line; no guest runs on half a state.
 *
 * Options: --disk PATH[,opts] and --net tap=NAME[,opts] replace the first,
 * second, ... saved disk's image and card's tap (their other options stay
 * the snapshot's); run options that do not shape the machine (--console,
 * --timeout, --api-socket, --result, verdicts, --seccomp, --iothreads)
 * apply as for kvmini run. --kernel, --initrd, --cmdline, --memory and
 * --cpus come from the snapshot; --on-reboot restart is refused (there is
 * no kernel to boot again). */
#ifndef KVMINI_VMM_RESTORE_H
#define KVMINI_VMM_RESTORE_H

#include <stddef.h>

#include "vmm/cli.h"

struct restore_src;
struct vm;

/* argv is the whole command line (argv[1] == "restore"). Reads and checks
 * DIR/state, builds cfg (whose strings point into *out, which must live
 * as long as cfg), opens DIR/memory. 0, or -errno with one line in err. */
int restore_prepare(int argc, char **argv, struct restore_src **out, struct vm_config *cfg,
		    char *err, size_t errlen);
void restore_free(struct restore_src *rs);

/* The memory file, to map MAP_PRIVATE (vm.c). */
int restore_memory_fd(const struct restore_src *rs);

/* In vm_build, once vCPUs and devices exist: loads every section. 0, or
 * -EINVAL with one line in err. */
int vm_restore_state(struct vm *vm, char *err, size_t errlen);

/* Once the vCPUs run: with KVMINI_STATS=1, one line saying how long after
 * the start of kvmini restore that was. */
void restore_note_running(const struct restore_src *rs);

#endif
