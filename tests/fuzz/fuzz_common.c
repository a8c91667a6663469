/* Guest RAM with guard pages, and guest field access: see fuzz_common.h. */
#include "fuzz_common.h"

#include <sys/mman.h>
#include <unistd.h>

static struct fuzz_ram ram;
static uint64_t mapped_gpa[FUZZ_MAX_REGIONS];
static size_t mapped_size[FUZZ_MAX_REGIONS];

static uint8_t *map_guarded(size_t size)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *base = mmap(NULL, size + 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			     MAP_NORESERVE, -1, 0);

	FZ_CHECK(base != MAP_FAILED);
	FZ_CHECK(mprotect(base + pg, size, PROT_READ | PROT_WRITE) == 0);
	return base + pg;
}

struct fuzz_ram *fuzz_ram_get(const uint64_t *gpa, const size_t *size, int nr)
{
	bool same = nr == ram.nr;

	FZ_CHECK(nr > 0 && nr <= FUZZ_MAX_REGIONS);
	for (int i = 0; same && i < nr; i++)
		same = mapped_gpa[i] == gpa[i] && mapped_size[i] == size[i];
	if (!same) {
		size_t pg = (size_t)sysconf(_SC_PAGESIZE);

		for (int i = 0; i < ram.nr; i++)
			munmap(ram.r[i].hva - pg, ram.r[i].size + 2 * pg);
		memset(&ram, 0, sizeof(ram));
		for (int i = 0; i < nr; i++) {
			ram.r[i] = (struct fuzz_region){ gpa[i], size[i], map_guarded(size[i]) };
			mapped_gpa[i] = gpa[i];
			mapped_size[i] = size[i];
			FZ_CHECK(gm_add_region(&ram.gm, gpa[i], size[i], ram.r[i].hva) == 0);
		}
		ram.nr = nr;
		return &ram;
	}
	for (int i = 0; i < nr; i++) {
		/* Big regions: give the pages back rather than write them all. */
		if (size[i] > (1u << 20))
			FZ_CHECK(madvise(ram.r[i].hva, size[i], MADV_DONTNEED) == 0);
		else
			memset(ram.r[i].hva, 0, size[i]);
	}
	return &ram;
}

uint8_t *fuzz_ram_ptr(struct fuzz_ram *m, uint64_t gpa, uint64_t len)
{
	return gm_ptr(&m->gm, gpa, len);
}

bool fuzz_ram_contains(const struct fuzz_ram *m, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (int i = 0; i < m->nr; i++) {
		const struct fuzz_region *r = &m->r[i];
		if (b >= r->hva && b <= r->hva + r->size && len <= (size_t)(r->hva + r->size - b))
			return true;
	}
	return false;
}

void fuzz_wr(struct fuzz_ram *m, uint64_t gpa, uint64_t v, int bytes, bool be)
{
	uint8_t *p = fuzz_ram_ptr(m, gpa, (uint64_t)bytes);

	if (!p)
		return;
	for (int i = 0; i < bytes; i++)
		p[be ? bytes - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

uint64_t fuzz_rd(struct fuzz_ram *m, uint64_t gpa, int bytes, bool be)
{
	const uint8_t *p = fuzz_ram_ptr(m, gpa, (uint64_t)bytes);
	uint64_t v = 0;

	if (!p)
		return 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[be ? bytes - 1 - i : i] << (8 * i);
	return v;
}

bool fuzz_tracing(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("KVMINI_FUZZ_TRACE") != NULL;
	return on;
}
