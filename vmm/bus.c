#include "vmm/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bus_map(struct bus *b, uint64_t base, uint64_t len, const struct io_ops *ops, void *dev)
{
	int i;

	if (!len || base + len < base)
		return -EINVAL;
	for (i = 0; i < b->nr; i++) {
		struct bus_window *w = &b->w[i];
		if (base < w->base + w->len && w->base < base + len)
			return -EBUSY;
		if (w->base > base)
			break;
	}
	if (b->nr == b->cap) {
		int cap = b->cap ? 2 * b->cap : 16;
		struct bus_window *nw = realloc(b->w, (size_t)cap * sizeof(*nw));
		if (!nw)
			return -ENOMEM;
		b->w = nw;
		b->cap = cap;
	}
	memmove(&b->w[i + 1], &b->w[i], (size_t)(b->nr - i) * sizeof(*b->w));
	b->w[i] = (struct bus_window){ base, len, ops, dev };
	b->nr++;
	return 0;
}

static struct bus_window *find(struct bus *b, uint64_t addr)
{
	int lo = 0, hi = b->nr - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		struct bus_window *w = &b->w[mid];
		if (addr < w->base)
			hi = mid - 1;
		else if (addr - w->base >= w->len)
			lo = mid + 1;
		else
			return w;
	}
	return NULL;
}

int bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len, int is_write)
{
	struct bus_window *w = find(b, addr);

	if (!w || len > w->len - (addr - w->base)) {
		if (!is_write)
			memset(data, 0xFF, len);
		return -ENOENT;
	}
	if (is_write)
		w->ops->write(w->dev, addr - w->base, data, len);
	else
		w->ops->read(w->dev, addr - w->base, data, len);
	return 0;
}

void bus_free(struct bus *b)
{
	free(b->w);
	*b = (struct bus){ 0 };
}
