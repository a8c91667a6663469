/* Shared by the libFuzzer targets (tests/fuzz): reading the input as a
 * stream of small fields, guest RAM with guard pages around it, and the
 * check that makes a broken invariant a crash the fuzzer reports.
 *
 * Every target links the real device or boot code; only the guest (rings,
 * register writes, kernel files) and the host edges (tap, disk file) are
 * simulated. An input is read front to back; a field read past its end is
 * 0, so every input, however short, is a valid program. */
#ifndef KVMINI_FUZZ_COMMON_H
#define KVMINI_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_mem.h"

/* A broken invariant: say which, and abort (libFuzzer saves the input). */
#define FZ_CHECK(cond)                                                              \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, \
				__FILE__, __LINE__);                                \
			abort();                                                    \
		}                                                                   \
	} while (0)

/* A line to stderr when KVMINI_FUZZ_TRACE is set: what a target does with
 * an input, to understand a crash (run the target on the file). */
bool fuzz_tracing(void);
#define FZ_TRACE(...)                                   \
	do {                                            \
		if (fuzz_tracing())                     \
			fprintf(stderr, __VA_ARGS__);   \
	} while (0)

/* ---- the input ---- */

struct fz {
	const uint8_t *p;
	size_t n, i;
};

static inline void fz_init(struct fz *f, const uint8_t *p, size_t n)
{
	f->p = p;
	f->n = n;
	f->i = 0;
}

static inline bool fz_more(const struct fz *f)
{
	return f->i < f->n;
}

static inline uint8_t fz_u8(struct fz *f)
{
	return f->i < f->n ? f->p[f->i++] : 0;
}

static inline uint16_t fz_u16(struct fz *f)
{
	return (uint16_t)(fz_u8(f) | fz_u8(f) << 8);
}

static inline uint32_t fz_u32(struct fz *f)
{
	return (uint32_t)fz_u16(f) | (uint32_t)fz_u16(f) << 16;
}

static inline uint64_t fz_u64(struct fz *f)
{
	return (uint64_t)fz_u32(f) | (uint64_t)fz_u32(f) << 32;
}

/* n bytes into dst; zeros past the end of the input. */
static inline void fz_bytes(struct fz *f, void *dst, size_t n)
{
	size_t k = f->n - f->i < n ? f->n - f->i : n;

	memcpy(dst, f->p + f->i, k);
	memset((uint8_t *)dst + k, 0, n - k);
	f->i += k;
}

/* ---- guest RAM ---- */

/* One RAM region of guest memory, mapped with an inaccessible page on each
 * side, so a host pointer that leaves it faults at once. */
struct fuzz_region {
	uint64_t gpa;
	size_t size;
	uint8_t *hva;
};

#define FUZZ_MAX_REGIONS 2

struct fuzz_ram {
	struct fuzz_region r[FUZZ_MAX_REGIONS];
	int nr;
	struct guest_mem gm;
};

/* Maps the regions once (per process) and returns them zeroed; later calls
 * with the same layout only clear them. sizes are page multiples. */
struct fuzz_ram *fuzz_ram_get(const uint64_t *gpa, const size_t *size, int nr);
/* Host pointer of [gpa, gpa+len) when it is RAM, else NULL. */
uint8_t *fuzz_ram_ptr(struct fuzz_ram *m, uint64_t gpa, uint64_t len);
/* Is [p, p+len) inside one region's host mapping? */
bool fuzz_ram_contains(const struct fuzz_ram *m, const void *p, size_t len);

/* Little- or big-endian stores and loads of guest fields (bytes written
 * one by one, independently of the device's accessors). No-ops / 0 when
 * the address is not RAM. */
void fuzz_wr(struct fuzz_ram *m, uint64_t gpa, uint64_t v, int bytes, bool be);
uint64_t fuzz_rd(struct fuzz_ram *m, uint64_t gpa, int bytes, bool be);

#endif
