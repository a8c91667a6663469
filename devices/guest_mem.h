/* Guest physical memory as the host sees it: a few RAM regions, each a
 * contiguous host mapping. Every pointer a device makes from a guest address
 * comes from gm_ptr(), which refuses ranges that leave RAM or wrap around. */
#ifndef KVMINI_DEVICES_GUEST_MEM_H
#define KVMINI_DEVICES_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 4

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	struct gm_region r[GM_MAX_REGIONS];
	int nr;
};

/* Adds a region; regions must not overlap. Returns 0 or -EINVAL/-ENOSPC. */
int gm_add_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *hva);

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one RAM region,
 * else NULL. len 0 is valid for any gpa inside a region. */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers: 0 on success, -EFAULT if the range is not guest RAM. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len);

#endif
