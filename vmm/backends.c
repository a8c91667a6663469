/* Disk images and taps behind the virtio devices: see backends.h. */
#include "vmm/backends.h"

#include <stdio.h>
#include <string.h>

static const enum blk_aio_kind aio_of[] = {
	[DISK_AIO_AUTO] = BLK_AIO_AUTO, [DISK_AIO_IO_URING] = BLK_AIO_IO_URING,
	[DISK_AIO_THREADS] = BLK_AIO_THREADS, [DISK_AIO_SYNC] = BLK_AIO_SYNC,
};

/* Which engine disk i runs: asked for, or io_uring where the kernel lets us
 * (a throwaway ring tells), else the thread pool. */
static int settle_engine(struct backends *b, int i, const struct disk_config *dc,
			 char *err, size_t errlen)
{
	static int noted;
	struct blk_aio *a;
	enum blk_aio_kind want = aio_of[dc->aio];
	int r;

	if (want == BLK_AIO_THREADS || want == BLK_AIO_SYNC) {
		b->disk_aio[i] = want;
		return 0;
	}
	r = blk_aio_open(&a, BLK_AIO_IO_URING, &b->disks[i], 1);
	if (!r) {
		blk_aio_close(a);
		b->disk_aio[i] = BLK_AIO_IO_URING;
		return 0;
	}
	if (want == BLK_AIO_IO_URING) {
		snprintf(err, errlen, "--disk: aio=io_uring: io_uring is refused here (%s); "
			 "use aio=threads", strerror(-r));
		return r;
	}
	if (!noted++)
		fprintf(stderr, "kvmini: note: io_uring is refused here (%s); disks use aio=threads\n",
			strerror(-r));
	b->disk_aio[i] = BLK_AIO_THREADS;
	return 0;
}

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
		if (!r && !dc->nolock)
			r = blk_file_lock(&b->disks[i], dc->path, err, errlen);
		if (!r)
			r = settle_engine(b, i, dc, err, errlen);
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
