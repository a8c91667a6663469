/* The host side of every --disk and --net: disk images and taps, opened once
 * per process before /dev/kvm, so a missing or unwritable image or a tap we
 * may not create is named before anything else happens. They stay open
 * across --on-reboot restarts (each VM's devices borrow them), and a tap
 * kvmini created goes away when backends_close closes it. */
#ifndef KVMINI_VMM_BACKENDS_H
#define KVMINI_VMM_BACKENDS_H

#include <stddef.h>

#include "virtio/blk_aio.h"
#include "virtio/blk_file.h"
#include "virtio/net_tap.h"
#include "vmm/cli.h"

struct backends {
	struct blk_file disks[CLI_MAX_DISKS];   /* cfg->disks[i] */
	enum blk_aio_kind disk_aio[CLI_MAX_DISKS];   /* its engine, resolved (never AUTO) */
	struct net_tap taps[CLI_MAX_NETS];      /* cfg->nets[i] */
	int ndisks, nnets;                      /* how many are open */
	/* --port out=FILE (appended to) and in=FILE (read from the start by
	 * each VM): cfg->vcon.ports[i], -1 where not given. */
	int port_out[CLI_MAX_PORTS], port_in[CLI_MAX_PORTS];
};

/* Opens every disk and settles its block engine (aio=io_uring refused here
 * is an error; the default falls back to threads, said once), every
 * --port file, then every tap. 0, or -errno with one line in err
 * naming the option, and nothing left open. */
int backends_open(struct backends *b, const struct vm_config *cfg, char *err, size_t errlen);
void backends_close(struct backends *b);

#endif
