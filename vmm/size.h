#ifndef KVMINI_VMM_SIZE_H
#define KVMINI_VMM_SIZE_H

#include <stdint.h>

/* Parses "512M", "2G", "1536k", "4096" (a bare number is in units of
 * 1 << default_shift, e.g. 20 for MiB as QEMU's -m does). Suffixes K, M, G, T
 * (binary, case-insensitive, optionally followed by "iB" or "B").
 * Returns 0, or -EINVAL for junk, -ERANGE for overflow or zero. */
int parse_size(const char *s, unsigned default_shift, uint64_t *out);

#endif
