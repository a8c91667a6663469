/* Tests for the address-space bus: window registration (sorted, no overlap),
 * binary-search lookup, offsets passed to devices, and unmapped accesses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "vmm/bus.h"

/* A fake device: records its last access and answers reads with a pattern
 * derived from its id and the offset, so a read proves which device and
 * which offset it reached. */
struct fake {
	int id;
	int reads, writes;
	uint64_t offset;
	uint32_t len;
	uint8_t data[8];
};

static void fake_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct fake *f = dev;

	f->reads++;
	f->offset = offset;
	f->len = len;
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(f->id * 16 + offset + i);
}

static void fake_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct fake *f = dev;

	f->writes++;
	f->offset = offset;
	f->len = len;
	memcpy(f->data, data, len);
}

static const struct io_ops fake_ops = { fake_read, fake_write };

static void check_sorted(const struct bus *b)
{
	for (int i = 1; i < b->nr; i++)
		assert_true(b->w[i - 1].base + b->w[i - 1].len <= b->w[i].base);
}

static void map_and_access(void **state)
{
	struct bus b = { 0 };
	struct fake f = { .id = 1 };
	uint8_t d[8];

	(void)state;
	assert_int_equal(bus_map(&b, 0x3F8, 8, &fake_ops, &f), 0);
	assert_int_equal(b.nr, 1);

	memset(d, 0, sizeof(d));
	assert_int_equal(bus_access(&b, 0x3FA, d, 2, 0), 0);
	assert_int_equal(f.reads, 1);
	assert_int_equal(f.writes, 0);
	assert_int_equal(f.offset, 2);
	assert_int_equal(f.len, 2);
	assert_int_equal(d[0], 16 + 2);
	assert_int_equal(d[1], 16 + 3);

	memcpy(d, "\x11\x22\x33\x44", 4);
	assert_int_equal(bus_access(&b, 0x3FC, d, 4, 1), 0);
	assert_int_equal(f.writes, 1);
	assert_int_equal(f.reads, 1);
	assert_int_equal(f.offset, 4);
	assert_int_equal(f.len, 4);
	assert_memory_equal(f.data, "\x11\x22\x33\x44", 4);

	/* First and last byte of the window. */
	assert_int_equal(bus_access(&b, 0x3F8, d, 1, 0), 0);
	assert_int_equal(f.offset, 0);
	assert_int_equal(bus_access(&b, 0x3FF, d, 1, 1), 0);
	assert_int_equal(f.offset, 7);
	/* A whole-window access. */
	assert_int_equal(bus_access(&b, 0x3F8, d, 8, 0), 0);
	assert_int_equal(f.offset, 0);
	assert_int_equal(f.len, 8);
	bus_free(&b);
}

static void unmapped(void **state)
{
	struct bus b = { 0 };
	struct fake f = { .id = 2 };
	uint8_t d[8];

	(void)state;
	/* An empty bus. */
	memset(d, 0x12, sizeof(d));
	assert_int_equal(bus_access(&b, 0, d, 4, 0), -ENOENT);
	assert_memory_equal(d, "\xFF\xFF\xFF\xFF\x12\x12\x12\x12", 8);

	assert_int_equal(bus_map(&b, 0x1000, 0x100, &fake_ops, &f), 0);
	memset(d, 0x12, sizeof(d));
	assert_int_equal(bus_access(&b, 0xFFF, d, 2, 0), -ENOENT);
	assert_memory_equal(d, "\xFF\xFF\x12\x12\x12\x12\x12\x12", 8);
	assert_int_equal(bus_access(&b, 0x1100, d, 8, 0), -ENOENT);
	assert_memory_equal(d, "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 8);
	assert_int_equal(bus_access(&b, UINT64_MAX, d, 1, 0), -ENOENT);

	/* An unmapped write leaves the data alone and reaches no device. */
	memset(d, 0x34, sizeof(d));
	assert_int_equal(bus_access(&b, 0x2000, d, 4, 1), -ENOENT);
	assert_memory_equal(d, "\x34\x34\x34\x34", 4);
	assert_int_equal(f.reads, 0);
	assert_int_equal(f.writes, 0);
	bus_free(&b);
}

static void straddle(void **state)
{
	struct bus b = { 0 };
	struct fake f = { .id = 3 }, g = { .id = 4 };
	uint8_t d[8];

	(void)state;
	/* Two adjacent windows: an access across the seam belongs to neither. */
	assert_int_equal(bus_map(&b, 0x100, 0x10, &fake_ops, &f), 0);
	assert_int_equal(bus_map(&b, 0x110, 0x10, &fake_ops, &g), 0);
	memset(d, 0, sizeof(d));
	assert_int_equal(bus_access(&b, 0x10E, d, 4, 0), -ENOENT);
	assert_memory_equal(d, "\xFF\xFF\xFF\xFF", 4);
	assert_int_equal(bus_access(&b, 0x10F, d, 2, 1), -ENOENT);
	assert_int_equal(bus_access(&b, 0x11C, d, 8, 0), -ENOENT);
	assert_int_equal(f.reads + f.writes + g.reads + g.writes, 0);
	/* Ending exactly at the window's end is fine. */
	assert_int_equal(bus_access(&b, 0x10C, d, 4, 0), 0);
	assert_int_equal(f.offset, 0xC);
	assert_int_equal(bus_access(&b, 0x110, d, 4, 0), 0);
	assert_int_equal(g.offset, 0);
	assert_int_equal(g.reads, 1);
	assert_int_equal(f.reads, 1);
	bus_free(&b);
}

/* Many windows mapped in a scrambled order: each lookup reaches the right
 * device at the right offset, and the gaps between them are unmapped. */
#define NWIN 100

static void many_windows(void **state)
{
	static struct fake devs[NWIN];
	struct bus b = { 0 };
	uint8_t d[8];

	(void)state;
	for (int k = 0; k < NWIN; k++) {
		int i = (k * 37 + 11) % NWIN;    /* 37 is coprime to 100: a permutation */

		devs[i] = (struct fake){ .id = i };
		assert_int_equal(bus_map(&b, 0x10000 + (uint64_t)i * 0x1000, 0x100 + i,
					 &fake_ops, &devs[i]), 0);
		check_sorted(&b);
	}
	assert_int_equal(b.nr, NWIN);
	assert_true(b.cap >= NWIN);
	for (int i = 0; i < NWIN; i++) {
		uint64_t base = 0x10000 + (uint64_t)i * 0x1000;

		assert_int_equal(b.w[i].base, base);
		assert_ptr_equal(b.w[i].dev, &devs[i]);
		assert_int_equal(bus_access(&b, base + 0x80, d, 1, 0), 0);
		assert_int_equal(devs[i].reads, 1);
		assert_int_equal(devs[i].offset, 0x80);
		assert_int_equal(d[0], (uint8_t)(i * 16 + 0x80));
		/* Last byte in, first byte out. */
		assert_int_equal(bus_access(&b, base + 0xFF + i, d, 1, 1), 0);
		assert_int_equal(devs[i].offset, 0xFF + (uint64_t)i);
		assert_int_equal(bus_access(&b, base + 0x100 + i, d, 1, 0), -ENOENT);
		assert_int_equal(d[0], 0xFF);
	}
	for (int i = 0; i < NWIN; i++)
		assert_int_equal(devs[i].reads + devs[i].writes, 2);
	assert_int_equal(bus_access(&b, 0xFFFF, d, 1, 0), -ENOENT);
	assert_int_equal(bus_access(&b, 0x10000 + NWIN * 0x1000, d, 1, 0), -ENOENT);
	bus_free(&b);
}

static void overlap_refused(void **state)
{
	struct bus b = { 0 };
	struct fake f = { 0 };

	(void)state;
	assert_int_equal(bus_map(&b, 0x1000, 0x1000, &fake_ops, &f), 0);
	assert_int_equal(bus_map(&b, 0x4000, 0x1000, &fake_ops, &f), 0);
	assert_int_equal(bus_map(&b, 0x1000, 0x1000, &fake_ops, &f), -EBUSY);  /* same */
	assert_int_equal(bus_map(&b, 0x0800, 0x0801, &fake_ops, &f), -EBUSY);  /* head */
	assert_int_equal(bus_map(&b, 0x1FFF, 0x10, &fake_ops, &f), -EBUSY);    /* tail */
	assert_int_equal(bus_map(&b, 0x1400, 0x10, &fake_ops, &f), -EBUSY);    /* inside */
	assert_int_equal(bus_map(&b, 0x0000, 0x10000, &fake_ops, &f), -EBUSY); /* around both */
	assert_int_equal(bus_map(&b, 0x3000, 0x1001, &fake_ops, &f), -EBUSY);  /* into second */
	assert_int_equal(bus_map(&b, 0x4FFF, 1, &fake_ops, &f), -EBUSY);
	assert_int_equal(b.nr, 2);
	/* Touching is not overlapping. */
	assert_int_equal(bus_map(&b, 0x0800, 0x0800, &fake_ops, &f), 0);
	assert_int_equal(bus_map(&b, 0x2000, 0x2000, &fake_ops, &f), 0);
	assert_int_equal(bus_map(&b, 0x5000, 1, &fake_ops, &f), 0);
	assert_int_equal(b.nr, 5);
	check_sorted(&b);
	bus_free(&b);
}

static void bad_ranges(void **state)
{
	struct bus b = { 0 };
	struct fake f = { 0 };

	(void)state;
	assert_int_equal(bus_map(&b, 0x1000, 0, &fake_ops, &f), -EINVAL);
	assert_int_equal(bus_map(&b, UINT64_MAX, 2, &fake_ops, &f), -EINVAL);
	assert_int_equal(bus_map(&b, 0xFFFFFFFFFFFFF000ULL, 0x2000, &fake_ops, &f), -EINVAL);
	assert_int_equal(b.nr, 0);
	/* The very top of the space, up to but not including the wrap. */
	assert_int_equal(bus_map(&b, 0xFFFFFFFFFFFFF000ULL, 0xFFF, &fake_ops, &f), 0);
	uint8_t d[1];
	assert_int_equal(bus_access(&b, 0xFFFFFFFFFFFFFFFEULL, d, 1, 0), 0);
	assert_int_equal(f.offset, 0xFFE);
	assert_int_equal(bus_access(&b, UINT64_MAX, d, 1, 0), -ENOENT);
	bus_free(&b);
}

static void free_resets(void **state)
{
	struct bus b = { 0 };
	struct fake f = { 0 };
	uint8_t d[1];

	(void)state;
	for (int i = 0; i < 40; i++)
		assert_int_equal(bus_map(&b, (uint64_t)i * 16, 16, &fake_ops, &f), 0);
	bus_free(&b);
	assert_null(b.w);
	assert_int_equal(b.nr, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(bus_access(&b, 0, d, 1, 0), -ENOENT);
	/* Usable again after free, and freeing twice is harmless. */
	assert_int_equal(bus_map(&b, 0, 16, &fake_ops, &f), 0);
	assert_int_equal(bus_access(&b, 4, d, 1, 0), 0);
	bus_free(&b);
	bus_free(&b);
	assert_null(b.w);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(map_and_access),
		cmocka_unit_test(unmapped),
		cmocka_unit_test(straddle),
		cmocka_unit_test(many_windows),
		cmocka_unit_test(overlap_refused),
		cmocka_unit_test(bad_ranges),
		cmocka_unit_test(free_resets),
	};

	return cmocka_run_group_tests(t, NULL, NULL);
}
