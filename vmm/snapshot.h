/* Snapshots of a running VM (issue 13): the guest paused, its devices
 * quiesced, and everything written to a directory:
 *
 *   DIR/state    header and sections (vmm/snapfile.h): the machine's
 *                options, vCPUs, interrupt controllers and clocks, the
 *                UART, the PCI host bridge and every virtio device
 *   DIR/memory   guest RAM, as many bytes as the VM has, sparse: pages of
 *                zeros are holes
 *
 * Files are written beside their final names and renamed into place, so a
 * failed snapshot never leaves a half-written state where a restore would
 * find it. Disks are not copied: the image files are the user's (see
 * kvmini restore --disk). */
#ifndef KVMINI_VMM_SNAPSHOT_H
#define KVMINI_VMM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/cli.h"

struct vm;

struct snap_stats {
	uint64_t state_bytes;
	uint64_t memory_bytes;        /* written (the rest are holes) */
	double paused_ms;             /* the guest stood still this long */
};

/* Before the system-call filter: the disks' absolute paths, which the
 * snapshot records (a restore may run elsewhere). */
void snapshot_prepare(const struct vm_config *cfg);

/* Pauses (unless paused already), quiesces, writes, resumes (unless it was
 * paused). 0, or -errno with one line in err; the VM runs on either way. */
int vm_snapshot(struct vm *vm, const char *dir, struct snap_stats *st, char *err, size_t errlen);

#endif
