/* Copying between scatter lists (struct iovec arrays, e.g. the segments of a
 * popped virtqueue chain) and flat buffers. Shared by devices and backends. */
#ifndef KVMINI_DEVICES_IOV_H
#define KVMINI_DEVICES_IOV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Copy len bytes at byte pos of the iov stream into buf, or (to_iov) from buf
 * into the stream. Returns the bytes copied: less than len when the stream
 * ends first. */
size_t iov_copy(const struct iovec *iov, unsigned n, uint64_t pos, void *buf, size_t len,
		int to_iov);

/* The sub-stream [skip, skip+len) of iov as a new iovec array in out, which
 * has room for n entries (n >= the entries of iov suffices). Returns the
 * number of entries written; they cover less than len if iov is shorter. */
unsigned iov_slice(struct iovec *out, const struct iovec *iov, unsigned n, uint64_t skip,
		   uint64_t len);

static inline size_t iov_to_buf(const struct iovec *iov, unsigned n, uint64_t pos,
				void *buf, size_t len)
{
	return iov_copy(iov, n, pos, buf, len, 0);
}

static inline size_t iov_from_buf(const struct iovec *iov, unsigned n, uint64_t pos,
				  const void *buf, size_t len)
{
	return iov_copy(iov, n, pos, (void *)buf, len, 1);
}

#endif
