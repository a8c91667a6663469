/* The machine a snapshot needs (its CONF section): the `kvmini run`
 * options that build the same VM again -- memory, vCPUs, I/O threads, and
 * every disk and network card with the options that shape its device --
 * kept as command-line words, so a restore rebuilds the machine through
 * the ordinary command-line parser and a later kvmini reads them as it
 * reads any command line. Disk paths are absolute.
 *
 * Payload: u32 count, then count words, each u32 length + bytes. */
#ifndef KVMINI_VMM_SNAPCONF_H
#define KVMINI_VMM_SNAPCONF_H

#include <stddef.h>

#include "state.h"
#include "vmm/cli.h"

struct snapconf {
	char **argv;
	int argc;
};

/* The words for cfg; disk_paths[i] replaces cfg->disks[i].path (absolute
 * paths), or NULL to keep them. 0 or -ENOMEM. */
int snapconf_from_config(struct snapconf *c, const struct vm_config *cfg,
			 const char *const *disk_paths);
void snapconf_free(struct snapconf *c);
void snapconf_save(const struct snapconf *c, struct state_w *w);
int snapconf_load(struct snapconf *c, struct state_r *r);

/* kvmini restore --disk / --net: the i-th override replaces the i-th saved
 * disk's path (--disk PATH[,opts]: its options after the saved ones, so
 * they win) or the i-th card's tap (--net tap=NAME[,opts]). More overrides
 * than the snapshot has devices is an error naming the option. */
int snapconf_override(struct snapconf *c, const char *opt, const char *const *vals, int n,
		      char *err, size_t errlen);

#endif
