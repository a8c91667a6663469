/* A disk image in a raw file (or a host block device): positioned
 * scatter-gather I/O, flush, discard and write-zeroes. Knows nothing of
 * virtio; the virtio-blk device (blk.c) drives it.
 *
 * All functions return 0 (or a byte count) on success and -errno on failure.
 * Thread safety: the I/O calls keep no state beyond the descriptor, so they
 * may run concurrently on one blk_file. */
#ifndef KVMINI_DEVICES_VIRTIO_BLK_FILE_H
#define KVMINI_DEVICES_VIRTIO_BLK_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum blk_cache {
	BLK_CACHE_WRITEBACK,   /* through the host page cache; FLUSH = fdatasync */
	BLK_CACHE_NONE,        /* O_DIRECT: bypass the host page cache */
};

struct blk_file {
	int fd;
	uint64_t size;            /* bytes; a block device's size comes from BLKGETSIZE64 */
	bool readonly;
	bool direct;              /* opened with O_DIRECT (cache=none) */
	/* Offsets and lengths must be multiples of block_size for O_DIRECT
	 * (statx STATX_DIOALIGN when the kernel reports it, else 512); 512
	 * otherwise. */
	uint32_t block_size;
	uint32_t mem_align;       /* O_DIRECT buffer alignment (>= 512) */
	bool can_discard, can_write_zeroes;
	uint64_t bounces;         /* O_DIRECT transfers that went through a bounce buffer */
};

/* Opens path as a disk. readonly opens O_RDONLY (writes then fail with
 * -EROFS). cache == BLK_CACHE_NONE opens with O_DIRECT; a file system that
 * refuses O_DIRECT (open fails with EINVAL: e.g. procfs, older tmpfs) makes
 * the open fail with a message saying so -- there is deliberately no silent
 * fallback to the page cache, since the user asked for cache=none (for
 * benchmarks or for crash consistency) and would otherwise measure the wrong
 * thing. On failure err holds one line starting with "--disk: " that names
 * the path, and the return value is -errno. */
int blk_file_open(struct blk_file *f, const char *path, bool readonly, enum blk_cache cache,
		  char *err, size_t errlen);

/* Read/write exactly the sum of the iovec lengths at byte offset off: the
 * full length, or -errno (short transfers are retried; end of file inside
 * the range is -EIO). With O_DIRECT, iovecs whose address or length is not a
 * multiple of mem_align go through an aligned bounce buffer (in bounded
 * chunks); off and the total length must still be multiples of block_size
 * (-EINVAL from the kernel otherwise). n must be 0..1024. */
ssize_t blk_file_preadv(struct blk_file *f, const struct iovec *iov, int n, uint64_t off);
ssize_t blk_file_pwritev(struct blk_file *f, const struct iovec *iov, int n, uint64_t off);

/* Makes completed writes durable (fdatasync). */
int blk_file_flush(struct blk_file *f);

/* Deallocates [off, off+len) (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
 * reads of the range return zeroes afterwards. -EOPNOTSUPP if the file
 * system cannot. */
int blk_file_discard(struct blk_file *f, uint64_t off, uint64_t len);

/* Makes [off, off+len) read as zeroes: punches a hole if may_unmap, else
 * FALLOC_FL_ZERO_RANGE; when the file system supports neither, writes zeroes. */
int blk_file_write_zeroes(struct blk_file *f, uint64_t off, uint64_t len, bool may_unmap);

/* Locks the image against other users, as QEMU does: an exclusive OFD lock
 * for a read-write disk, a shared one for a read-only disk (so several
 * read-only users may share it, but no writer may join them). The lock
 * lives as long as the descriptor. 0, or -EAGAIN when another process holds
 * a conflicting lock, or -errno; err then holds one "--disk: " line. */
int blk_file_lock(struct blk_file *f, const char *path, char *err, size_t errlen);

void blk_file_close(struct blk_file *f);

#endif
