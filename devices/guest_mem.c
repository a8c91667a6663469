#include "guest_mem.h"

#include <errno.h>
#include <string.h>

int gm_add_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *hva)
{
	if (!size || gpa + size < gpa)
		return -EINVAL;
	if (gm->nr >= GM_MAX_REGIONS)
		return -ENOSPC;
	for (int i = 0; i < gm->nr; i++) {
		const struct gm_region *o = &gm->r[i];
		if (gpa < o->gpa + o->size && o->gpa < gpa + size)
			return -EINVAL;
	}
	gm->r[gm->nr++] = (struct gm_region){ .gpa = gpa, .size = size, .hva = hva };
	return 0;
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		/* Written as a subtraction so a huge len cannot wrap the sum. */
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}
