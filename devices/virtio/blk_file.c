/* Raw disk image backend: see blk_file.h. */
#define _GNU_SOURCE
#include "virtio/blk_file.h"

#include "iov.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/fs.h>

#define BLK_MIN_ALIGN 512u
/* Bounce and zero buffers are this big at most, whatever the guest asks:
 * a request's size is guest input and must not size a host allocation. */
#define BLK_CHUNK (256u * 1024u)

static bool range_ok(const struct blk_file *f, uint64_t off, uint64_t len)
{
	return off <= f->size && len <= f->size - off;
}

static void probe_dio_align(struct blk_file *f, const char *path)
{
	f->block_size = BLK_MIN_ALIGN;
	f->mem_align = BLK_MIN_ALIGN;
#ifdef STATX_DIOALIGN
	struct statx sx;
	if (!f->direct || statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) ||
	    !(sx.stx_mask & STATX_DIOALIGN))
		return;
	if (sx.stx_dio_offset_align > BLK_MIN_ALIGN && sx.stx_dio_offset_align <= 65536)
		f->block_size = sx.stx_dio_offset_align;
	if (sx.stx_dio_mem_align > BLK_MIN_ALIGN && sx.stx_dio_mem_align <= 65536)
		f->mem_align = sx.stx_dio_mem_align;
#endif
	(void)path;
}

/* Can the file system punch holes? Probed beyond end of file with
 * KEEP_SIZE, which changes nothing when it is supported. */
static bool probe_punch_hole(struct blk_file *f, bool is_blkdev)
{
	if (f->readonly)
		return false;
	if (is_blkdev)
		return true;     /* blkdev_fallocate: PUNCH_HOLE|KEEP_SIZE since Linux 4.9 */
	int r = fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t)f->size + 65536, 65536);
	return r == 0;
}

int blk_file_open(struct blk_file *f, const char *path, bool readonly, enum blk_cache cache,
		  char *err, size_t errlen)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int r;

	*f = (struct blk_file){ .fd = -1, .readonly = readonly, .direct = cache == BLK_CACHE_NONE };
	if (f->direct)
		flags |= O_DIRECT;
	f->fd = open(path, flags);
	if (f->fd < 0) {
		r = -errno;
		if (r == -EINVAL && f->direct)
			snprintf(err, errlen,
				 "--disk: cannot open '%s' with cache=none: its file system "
				 "does not support O_DIRECT (use cache=writeback, or move the "
				 "image to a file system that does)", path);
		else if (r == -EISDIR)
			snprintf(err, errlen, "--disk: '%s' is a directory, not a disk image", path);
		else if (!readonly && (r == -EACCES || r == -EPERM || r == -EROFS))
			/* Read-write is the default; say how to ask for less. */
			snprintf(err, errlen, "--disk: cannot open '%s' for writing: %s (add "
				 "readonly=on to use it read-only)", path, strerror(-r));
		else
			snprintf(err, errlen, "--disk: cannot open '%s': %s", path, strerror(-r));
		return r;
	}
	if (fstat(f->fd, &st)) {
		r = -errno;
		snprintf(err, errlen, "--disk: cannot stat '%s': %s", path, strerror(-r));
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz;
		if (ioctl(f->fd, BLKGETSIZE64, &sz)) {
			r = -errno;
			snprintf(err, errlen, "--disk: cannot get the size of '%s': %s", path,
				 strerror(-r));
			goto fail;
		}
		f->size = sz;
	} else if (S_ISREG(st.st_mode)) {
		f->size = (uint64_t)st.st_size;
	} else {
		r = -EINVAL;
		snprintf(err, errlen, "--disk: '%s' is not a regular file or a block device", path);
		goto fail;
	}
	probe_dio_align(f, path);
	f->can_discard = probe_punch_hole(f, S_ISBLK(st.st_mode));
	/* Always possible when writable: the slow path writes zeroes. */
	f->can_write_zeroes = !readonly;
	return 0;
fail:
	close(f->fd);
	f->fd = -1;
	return r;
}

int blk_file_lock(struct blk_file *f, const char *path, char *err, size_t errlen)
{
	struct flock l = { .l_type = f->readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };
	int r;

	/* OFD locks belong to the open file description: they conflict with
	 * another kvmini (or QEMU, which takes the same kind) and are not
	 * dropped when some other descriptor of ours on the file closes. */
	do {
		r = fcntl(f->fd, F_OFD_SETLK, &l);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	r = -errno;
	if (r == -EAGAIN || r == -EACCES) {
		snprintf(err, errlen, "--disk: '%s' is in use by another process (it holds a%s lock "
			 "on it; add lock=off to share it anyway)", path,
			 f->readonly ? "n exclusive" : "");
		return -EAGAIN;
	}
	snprintf(err, errlen, "--disk: cannot lock '%s': %s (add lock=off to go without)", path,
		 strerror(-r));
	return r;
}

void blk_file_close(struct blk_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static uint64_t iov_total(const struct iovec *iov, int n)
{
	uint64_t t = 0;
	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

static bool iov_aligned(const struct blk_file *f, const struct iovec *iov, int n)
{
	uint64_t mask = f->mem_align - 1;
	for (int i = 0; i < n; i++)
		if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & mask)
			return false;
	return true;
}

/* pread/pwrite of one buffer until done: len, or -errno (-EIO at EOF). */
static ssize_t rw_full(struct blk_file *f, bool write, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = write ? pwrite(f->fd, (char *)buf + done, len - done, (off_t)(off + done))
				  : pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return (ssize_t)len;
}

/* Fast path: one preadv/pwritev; on a short transfer, finish the remaining
 * bytes buffer by buffer (rare: signals, a file system's limits). */
static ssize_t rw_vec(struct blk_file *f, bool write, const struct iovec *iov, int n,
		      uint64_t off, uint64_t total)
{
	ssize_t r;

	do {
		r = write ? pwritev(f->fd, iov, n, (off_t)off) : preadv(f->fd, iov, n, (off_t)off);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if ((uint64_t)r == total)
		return r;
	uint64_t skip = (uint64_t)r, pos = off + (uint64_t)r;
	for (int i = 0; i < n; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t len = iov[i].iov_len - (size_t)skip;
		ssize_t k = rw_full(f, write, (char *)iov[i].iov_base + skip, len, pos);
		if (k < 0)
			return k;
		pos += len;
		skip = 0;
	}
	return (ssize_t)total;
}

/* O_DIRECT with buffers the kernel may refuse: through an aligned buffer,
 * BLK_CHUNK bytes at a time. */
static ssize_t rw_bounce(struct blk_file *f, bool write, const struct iovec *iov, int n,
			 uint64_t off, uint64_t total)
{
	size_t cap = total < BLK_CHUNK ? (size_t)total : BLK_CHUNK;
	void *bounce;
	ssize_t r = 0;

	if (posix_memalign(&bounce, f->mem_align > 4096 ? f->mem_align : 4096, cap ? cap : 1))
		return -ENOMEM;
	f->bounces++;
	for (uint64_t done = 0; done < total; done += (uint64_t)r) {
		size_t len = total - done < cap ? (size_t)(total - done) : cap;
		if (write)
			iov_to_buf(iov, (unsigned)n, done, bounce, len);
		r = rw_full(f, write, bounce, len, off + done);
		if (r < 0)
			break;
		if (!write)
			iov_from_buf(iov, (unsigned)n, done, bounce, len);
	}
	free(bounce);
	return r < 0 ? r : (ssize_t)total;
}

static ssize_t blk_file_rw(struct blk_file *f, bool write, const struct iovec *iov, int n,
			   uint64_t off)
{
	if (n < 0 || n > IOV_MAX)
		return -EINVAL;
	if (write && f->readonly)
		return -EROFS;
	uint64_t total = iov_total(iov, n);
	if (total > SSIZE_MAX || !range_ok(f, off, total))
		return -EINVAL;
	if (!total)
		return 0;
	if (f->direct && !iov_aligned(f, iov, n))
		return rw_bounce(f, write, iov, n, off, total);
	return rw_vec(f, write, iov, n, off, total);
}

ssize_t blk_file_preadv(struct blk_file *f, const struct iovec *iov, int n, uint64_t off)
{
	return blk_file_rw(f, false, iov, n, off);
}

ssize_t blk_file_pwritev(struct blk_file *f, const struct iovec *iov, int n, uint64_t off)
{
	return blk_file_rw(f, true, iov, n, off);
}

int blk_file_flush(struct blk_file *f)
{
	if (f->readonly)
		return 0;     /* nothing of ours can be dirty */
	return fdatasync(f->fd) ? -errno : 0;
}

static int do_fallocate(struct blk_file *f, int mode, uint64_t off, uint64_t len)
{
	int r;
	do {
		r = fallocate(f->fd, mode, (off_t)off, (off_t)len);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

int blk_file_discard(struct blk_file *f, uint64_t off, uint64_t len)
{
	if (f->readonly)
		return -EROFS;
	if (!range_ok(f, off, len))
		return -EINVAL;
	if (!len)
		return 0;
	return do_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
}

static int write_zero_buffers(struct blk_file *f, uint64_t off, uint64_t len)
{
	size_t cap = len < BLK_CHUNK ? (size_t)len : BLK_CHUNK;
	void *zeroes;
	ssize_t r = 0;

	if (posix_memalign(&zeroes, f->mem_align > 4096 ? f->mem_align : 4096, cap))
		return -ENOMEM;
	memset(zeroes, 0, cap);
	for (uint64_t done = 0; done < len; done += (uint64_t)r) {
		size_t k = len - done < cap ? (size_t)(len - done) : cap;
		r = rw_full(f, true, zeroes, k, off + done);
		if (r < 0)
			break;
	}
	free(zeroes);
	return r < 0 ? (int)r : 0;
}

static bool not_supported(int r)
{
	return r == -EOPNOTSUPP || r == -ENOSYS || r == -ENOTTY || r == -ENODEV;
}

int blk_file_write_zeroes(struct blk_file *f, uint64_t off, uint64_t len, bool may_unmap)
{
	int r = -EOPNOTSUPP;

	if (f->readonly)
		return -EROFS;
	if (!range_ok(f, off, len))
		return -EINVAL;
	if (!len)
		return 0;
	if (may_unmap && f->can_discard)
		r = do_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	if (not_supported(r))
		r = do_fallocate(f, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len);
	/* Block devices may also refuse ZERO_RANGE with EINVAL for ranges
	 * the hardware cannot zero; writing zeroes always works. */
	if (not_supported(r) || r == -EINVAL)
		r = write_zero_buffers(f, off, len);
	return r;
}
