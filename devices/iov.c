#include "iov.h"

#include <string.h>

size_t iov_copy(const struct iovec *iov, unsigned n, uint64_t pos, void *buf, size_t len,
		int to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		if (pos >= iov[i].iov_len) {
			pos -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - (size_t)pos;
		if (k > len - done)
			k = len - done;
		char *p = (char *)iov[i].iov_base + pos;
		if (to_iov)
			memcpy(p, (char *)buf + done, k);
		else
			memcpy((char *)buf + done, p, k);
		done += k;
		pos = 0;
	}
	return done;
}

unsigned iov_slice(struct iovec *out, const struct iovec *iov, unsigned n, uint64_t skip,
		   uint64_t len)
{
	unsigned c = 0;

	for (unsigned i = 0; i < n && len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		uint64_t k = iov[i].iov_len - skip;
		if (k > len)
			k = len;
		out[c].iov_base = (char *)iov[i].iov_base + skip;
		out[c].iov_len = (size_t)k;
		c++;
		len -= k;
		skip = 0;
	}
	return c;
}
