/* Disk images and taps behind the virtio devices: see backends.h. */
#include "vmm/backends.h"

#include <string.h>

int backends_open(struct backends *b, const struct vm_config *cfg, char *err, size_t errlen)
{
	int r = 0;

	memset(b, 0, sizeof(*b));
	for (int i = 0; i < cfg->ndisks && !r; i++) {
		const struct disk_config *dc = &cfg->disks[i];
		r = blk_file_open(&b->disks[i], dc->path, dc->readonly,
				  dc->cache == DISK_CACHE_NONE ? BLK_CACHE_NONE : BLK_CACHE_WRITEBACK,
				  err, errlen);
		if (!r)
			b->ndisks++;
	}
	/* Taps last: creating one is the most visible thing we do to the host. */
	for (int i = 0; i < cfg->nnets && !r; i++) {
		r = net_tap_open(&b->taps[i], cfg->nets[i].tap, err, errlen);
		if (!r)
			b->nnets++;
	}
	if (r)
		backends_close(b);
	return r;
}

void backends_close(struct backends *b)
{
	for (int i = 0; i < b->ndisks; i++)
		blk_file_close(&b->disks[i]);
	for (int i = 0; i < b->nnets; i++)
		net_tap_close(&b->taps[i]);
	b->ndisks = b->nnets = 0;
}
