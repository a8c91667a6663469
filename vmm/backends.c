/* Disk images and taps behind the virtio devices: see backends.h. */
#include "vmm/backends.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A --port file: out= created or appended to, in= a regular file. */
static int open_port_file(const char *path, bool out, int *fd, char *err, size_t errlen)
{
	struct stat st;

	*fd = open(path, out ? O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC : O_RDONLY | O_CLOEXEC,
		   0644);
	if (*fd < 0) {
		snprintf(err, errlen, "--port: cannot open '%s': %s", path, strerror(errno));
		return -errno;
	}
	if (!out && (fstat(*fd, &st) || !S_ISREG(st.st_mode))) {
		snprintf(err, errlen, "--port: in=%s is not a regular file", path);
		return -EINVAL;
	}
	return 0;
}

static int open_ports(struct backends *b, const struct vm_config *cfg, char *err, size_t errlen)
{
	for (int i = 0; i < cfg->vcon.nports; i++) {
		const struct port_config *p = &cfg->vcon.ports[i];
		int r = 0;
		if (p->out[0])
			r = open_port_file(p->out, true, &b->port_out[i], err, errlen);
		if (!r && p->in[0])
			r = open_port_file(p->in, false, &b->port_in[i], err, errlen);
		if (r)
			return r;
	}
	return 0;
}

int backends_open(struct backends *b, const struct vm_config *cfg, char *err, size_t errlen)
{
	int r = 0;

	memset(b, 0, sizeof(*b));
	for (int i = 0; i < CLI_MAX_PORTS; i++)
		b->port_out[i] = b->port_in[i] = -1;
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
	if (!r)
		r = open_ports(b, cfg, err, errlen);
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
	for (int i = 0; i < CLI_MAX_PORTS; i++) {
		if (b->port_out[i] >= 0)
			close(b->port_out[i]);
		if (b->port_in[i] >= 0)
			close(b->port_in[i]);
		b->port_out[i] = b->port_in[i] = -1;
	}
}
