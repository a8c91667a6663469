/* Split virtqueues against a simulated guest: a RAM buffer fenced by
 * PROT_NONE guard pages (any host access outside guest RAM faults), and a
 * "driver" below that lays out rings and descriptors byte by byte in little-
 * endian order, independently of the code under test. Every hostile chain
 * must come back -EINVAL with the queue broken and guest RAM unchanged. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "virtio/virtio.h"

#define GPA_BASE 0x10000ull
#define RAM_SIZE 0x40000ull
#define DESC_GPA (GPA_BASE + 0x0000)
#define AVAIL_GPA (GPA_BASE + 0x8000)
#define USED_GPA (GPA_BASE + 0x9000)
#define IND_GPA (GPA_BASE + 0xc000)   /* indirect tables */
#define BUF_GPA (GPA_BASE + 0x20000)  /* data buffers */

#define F(b) (1ull << (b))
#define FEAT_ALL (F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_INDIRECT_DESC) | F(VIRTIO_F_RING_EVENT_IDX))

#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4

/* ---- the simulated guest ---- */

struct guest {
	uint8_t *map, *ram;
	size_t map_len;
	struct guest_mem gm;
	struct virtio_dev d;
	struct virtq *q;
	uint16_t num, avail_idx;
	struct virtq_elem e;
	struct iovec e_iov[VIRTQ_MAX_SEGS];
	uint8_t *snap;
};

static const struct virtio_dev_ops fake_ops = {
	.name = "test", .device_id = 2, .num_queues = 2, .queue_max_size = 4096,
};

static int setup(void **state)
{
	struct guest *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	virtq_elem_init(&g->e, g->e_iov, VIRTQ_MAX_SEGS);
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	g->map_len = RAM_SIZE + 2 * pg;
	g->map = mmap(NULL, g->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED)
		return -1;
	g->ram = g->map + pg;
	if (mprotect(g->ram, RAM_SIZE, PROT_READ | PROT_WRITE))
		return -1;
	if (gm_add_region(&g->gm, GPA_BASE, RAM_SIZE, g->ram))
		return -1;
	g->snap = malloc(RAM_SIZE);
	virtio_dev_init(&g->d, &fake_ops, NULL, FEAT_ALL, &g->gm, NULL);
	g->q = &g->d.vq[0];
	*state = g;
	return 0;
}

static int teardown(void **state)
{
	struct guest *g = *state;

	virtio_dev_destroy(&g->d);
	munmap(g->map, g->map_len);
	free(g->snap);
	free(g);
	return 0;
}

static uint8_t *at(struct guest *g, uint64_t gpa) { return g->ram + (gpa - GPA_BASE); }

static void w16(struct guest *g, uint64_t gpa, uint16_t v)
{
	uint8_t *p = at(g, gpa);
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void w32(struct guest *g, uint64_t gpa, uint32_t v)
{
	w16(g, gpa, (uint16_t)v);
	w16(g, gpa + 2, (uint16_t)(v >> 16));
}

static void w64(struct guest *g, uint64_t gpa, uint64_t v)
{
	w32(g, gpa, (uint32_t)v);
	w32(g, gpa + 4, (uint32_t)(v >> 32));
}

static uint16_t r16(struct guest *g, uint64_t gpa)
{
	uint8_t *p = at(g, gpa);
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t r32(struct guest *g, uint64_t gpa)
{
	return r16(g, gpa) | (uint32_t)r16(g, gpa + 2) << 16;
}

static void desc_at(struct guest *g, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next)
{
	uint64_t p = table + 16ull * i;
	w64(g, p, addr);
	w32(g, p + 8, len);
	w16(g, p + 12, flags);
	w16(g, p + 14, next);
}

static void desc(struct guest *g, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	desc_at(g, DESC_GPA, i, addr, len, flags, next);
}

/* Driver makes head available (§2.7.13). */
static void avail(struct guest *g, uint16_t head)
{
	w16(g, AVAIL_GPA + 4 + 2u * (g->avail_idx & (g->num - 1)), head);
	g->avail_idx++;
	w16(g, AVAIL_GPA + 2, g->avail_idx);
}

static uint16_t used_idx(struct guest *g) { return r16(g, USED_GPA + 2); }
static uint32_t used_id(struct guest *g, unsigned slot) { return r32(g, USED_GPA + 4 + 8 * slot); }
static uint32_t used_len(struct guest *g, unsigned slot) { return r32(g, USED_GPA + 8 + 8 * slot); }
static void set_used_event(struct guest *g, uint16_t v) { w16(g, AVAIL_GPA + 4 + 2u * g->num, v); }
static uint16_t avail_event(struct guest *g) { return r16(g, USED_GPA + 4 + 8u * g->num); }

static int start_q(struct guest *g, uint16_t num, uint64_t features)
{
	g->num = num;
	g->d.guest_features = features;
	g->q->num = num;
	g->q->desc_gpa = DESC_GPA;
	g->q->avail_gpa = AVAIL_GPA;
	g->q->used_gpa = USED_GPA;
	g->q->ready = true;
	return virtq_start(g->q);
}

/* A hostile chain: refused, queue broken, nothing written, and it stays
 * refused. (Host memory outside RAM is PROT_NONE: touching it faults.) */
static void expect_broken(struct guest *g)
{
	memcpy(g->snap, g->ram, RAM_SIZE);
	assert_int_equal(virtq_pop(g->q, &g->e), -EINVAL);
	assert_true(g->q->broken);
	assert_memory_equal(g->snap, g->ram, RAM_SIZE);
	assert_int_equal(virtq_pop(g->q, &g->e), -EINVAL);
	assert_false(virtq_has_work(g->q));
}

/* ---- start ---- */

static void test_start_ok(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 256, FEAT_ALL), 0);
	assert_ptr_equal(g->q->desc, at(g, DESC_GPA));
	assert_ptr_equal(g->q->avail, at(g, AVAIL_GPA));
	assert_ptr_equal(g->q->used, at(g, USED_GPA));
	assert_int_equal(g->q->layout, VIRTQ_SPLIT);
	assert_true(g->q->event_idx);
	assert_true(g->q->indirect);
	assert_int_equal(start_q(g, 1, F(VIRTIO_F_VERSION_1)), 0);
	assert_false(g->q->event_idx);
	assert_false(g->q->indirect);
}

static void test_start_bad_size(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 0, FEAT_ALL), -EINVAL);
	assert_int_equal(start_q(g, 3, FEAT_ALL), -EINVAL);
	assert_int_equal(start_q(g, 96, FEAT_ALL), -EINVAL);
	assert_int_equal(start_q(g, 8192, FEAT_ALL), -EINVAL);   /* > num_max 4096 */
	assert_null(g->q->desc);
}

static void test_start_misaligned(void **state)
{
	struct guest *g = *state;

	g->q->num = 16;
	g->q->desc_gpa = DESC_GPA + 8;
	g->q->avail_gpa = AVAIL_GPA;
	g->q->used_gpa = USED_GPA;
	assert_int_equal(virtq_start(g->q), -EINVAL);
	g->q->desc_gpa = DESC_GPA;
	g->q->avail_gpa = AVAIL_GPA + 1;
	assert_int_equal(virtq_start(g->q), -EINVAL);
	g->q->avail_gpa = AVAIL_GPA;
	g->q->used_gpa = USED_GPA + 2;
	assert_int_equal(virtq_start(g->q), -EINVAL);
	g->q->used_gpa = USED_GPA;
	assert_int_equal(virtq_start(g->q), 0);
}

static void test_start_outside_ram(void **state)
{
	struct guest *g = *state;
	uint64_t end = GPA_BASE + RAM_SIZE;

	g->q->num = 16;
	g->q->avail_gpa = AVAIL_GPA;
	g->q->used_gpa = USED_GPA;
	g->q->desc_gpa = end - 16 * 8;          /* half the table beyond RAM */
	assert_int_equal(virtq_start(g->q), -EINVAL);
	g->q->desc_gpa = 0;                      /* below RAM */
	assert_int_equal(virtq_start(g->q), -EINVAL);
	g->q->desc_gpa = DESC_GPA;
	g->q->avail_gpa = end - 6 - 2 * 16 + 2;  /* used_event slot beyond RAM */
	assert_int_equal(virtq_start(g->q), -EINVAL);
	g->q->avail_gpa = AVAIL_GPA;
	g->q->used_gpa = end - 6 - 8 * 16 + 4;   /* avail_event beyond RAM */
	assert_int_equal(virtq_start(g->q), -EINVAL);
	g->q->used_gpa = 0xfffffffffffffff0ull;  /* wraps 2^64 */
	assert_int_equal(virtq_start(g->q), -EINVAL);
	assert_null(g->q->used);
}

/* ---- normal chains ---- */

static void test_empty(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	assert_false(virtq_has_work(g->q));
	assert_int_equal(virtq_pop(g->q, &g->e), 0);
}

static void test_direct_single(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 5, BUF_GPA, 512, 0, 0);
	avail(g, 5);
	assert_true(virtq_has_work(g->q));
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	assert_int_equal(g->e.head, 5);
	assert_int_equal(g->e.ndescs, 1);
	assert_int_equal(g->e.nout, 1);
	assert_int_equal(g->e.nin, 0);
	assert_int_equal(g->e.out_len, 512);
	assert_ptr_equal(g->e.iov[0].iov_base, at(g, BUF_GPA));
	assert_int_equal(g->e.iov[0].iov_len, 512);
	assert_false(virtq_has_work(g->q));
	assert_int_equal(virtq_pop(g->q, &g->e), 0);
}

static void test_out_in_chain_and_used(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	/* virtio-blk shape: header (out), data (in), status (in) */
	desc(g, 2, BUF_GPA, 16, D_NEXT, 7);
	desc(g, 7, BUF_GPA + 0x1000, 4096, D_NEXT | D_WRITE, 0);
	desc(g, 0, BUF_GPA + 0x3000, 1, D_WRITE, 9);   /* next ignored without NEXT */
	avail(g, 2);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	assert_int_equal(g->e.head, 2);
	assert_int_equal(g->e.ndescs, 3);
	assert_int_equal(g->e.nout, 1);
	assert_int_equal(g->e.nin, 2);
	assert_int_equal(g->e.out_len, 16);
	assert_int_equal(g->e.in_len, 4097);
	assert_ptr_equal(g->e.iov[1].iov_base, at(g, BUF_GPA + 0x1000));
	assert_int_equal(g->e.iov[1].iov_len, 4096);
	assert_ptr_equal(g->e.iov[2].iov_base, at(g, BUF_GPA + 0x3000));

	virtq_push(g->q, &g->e, 4097);
	assert_int_equal(used_idx(g), 1);
	assert_int_equal(used_id(g, 0), 2);
	assert_int_equal(used_len(g, 0), 4097);
	assert_int_equal(g->q->used_idx, 1);
}

static void test_push_len_clamped(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, BUF_GPA, 64, D_NEXT, 1);
	desc(g, 1, BUF_GPA + 64, 32, D_WRITE, 0);
	avail(g, 0);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	virtq_push(g->q, &g->e, 1000);
	assert_int_equal(used_len(g, 0), 32);
}

static void test_several_in_order(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 4, FEAT_ALL), 0);
	for (unsigned i = 0; i < 4; i++) {
		desc(g, i, BUF_GPA + 0x100 * i, 0x10 + i, D_WRITE, 0);
		avail(g, (uint16_t)(3 - i));
	}
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(virtq_pop(g->q, &g->e), 1);
		assert_int_equal(g->e.head, 3 - i);
		assert_int_equal(g->e.in_len, 0x10 + 3 - i);
		virtq_push(g->q, &g->e, 1);
		assert_int_equal(used_id(g, i), 3 - i);
	}
	assert_int_equal(virtq_pop(g->q, &g->e), 0);
	assert_int_equal(used_idx(g), 4);
}

static void test_indirect(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc_at(g, IND_GPA, 0, BUF_GPA, 16, D_NEXT, 2);
	desc_at(g, IND_GPA, 2, BUF_GPA + 0x100, 200, D_NEXT | D_WRITE, 1);
	desc_at(g, IND_GPA, 1, BUF_GPA + 0x400, 1, D_WRITE, 0);
	/* §2.7.5.3.2: WRITE on the indirect descriptor itself is ignored. */
	desc(g, 3, IND_GPA, 3 * 16, D_INDIRECT | D_WRITE, 0);
	avail(g, 3);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	assert_int_equal(g->e.head, 3);
	assert_int_equal(g->e.ndescs, 1);
	assert_int_equal(g->e.nout, 1);
	assert_int_equal(g->e.nin, 2);
	assert_int_equal(g->e.in_len, 201);
	assert_ptr_equal(g->e.iov[0].iov_base, at(g, BUF_GPA));
	assert_ptr_equal(g->e.iov[1].iov_base, at(g, BUF_GPA + 0x100));
	assert_ptr_equal(g->e.iov[2].iov_base, at(g, BUF_GPA + 0x400));
	virtq_push(g->q, &g->e, 201);
	assert_int_equal(used_id(g, 0), 3);
}

static void test_direct_then_indirect(void **state)
{
	struct guest *g = *state;

	/* §2.7.5.3.2: zero or more direct descriptors, then one indirect. */
	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, BUF_GPA, 16, D_NEXT, 1);
	desc(g, 1, IND_GPA, 32, D_INDIRECT, 0);
	desc_at(g, IND_GPA, 0, BUF_GPA + 0x10, 8, D_NEXT, 1);
	desc_at(g, IND_GPA, 1, BUF_GPA + 0x20, 4, D_WRITE, 0);
	avail(g, 0);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	assert_int_equal(g->e.ndescs, 2);
	assert_int_equal(g->e.nout, 2);
	assert_int_equal(g->e.nin, 1);
	assert_int_equal(g->e.out_len, 24);
}

static void test_max_segments_ok(void **state)
{
	struct guest *g = *state;

	/* Exactly VIRTQ_MAX_SEGS segments through one indirect table. */
	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	for (unsigned i = 0; i < VIRTQ_MAX_SEGS; i++)
		desc_at(g, IND_GPA, i, BUF_GPA + i, 1, i + 1 < VIRTQ_MAX_SEGS ? D_NEXT : 0,
			(uint16_t)(i + 1));
	desc(g, 0, IND_GPA, 16 * VIRTQ_MAX_SEGS, D_INDIRECT, 0);
	avail(g, 0);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	assert_int_equal(g->e.nout, VIRTQ_MAX_SEGS);
}

static void test_wraparound(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 4, FEAT_ALL), 0);
	g->q->last_avail_idx = g->q->used_idx = 65533;
	g->avail_idx = 65533;
	w16(g, USED_GPA + 2, 65533);
	for (unsigned i = 0; i < 4; i++)
		desc(g, i, BUF_GPA + 0x10 * i, 0x10, D_WRITE, 0);
	for (unsigned round = 0; round < 3; round++) {   /* 65533 .. 65544 */
		for (unsigned i = 0; i < 4; i++)
			avail(g, (uint16_t)i);
		for (unsigned i = 0; i < 4; i++) {
			uint16_t slot = g->q->used_idx & 3;
			assert_int_equal(virtq_pop(g->q, &g->e), 1);
			assert_int_equal(g->e.head, i);
			virtq_push(g->q, &g->e, i + 1);
			assert_int_equal(used_id(g, slot), i);
			assert_int_equal(used_len(g, slot), i + 1);
		}
		assert_int_equal(virtq_pop(g->q, &g->e), 0);
	}
	assert_int_equal(g->q->last_avail_idx, (uint16_t)(65533 + 12));
	assert_int_equal(used_idx(g), (uint16_t)(65533 + 12));
}

/* fill writes a batch without publishing it; flush publishes it at once,
 * across the 16-bit wrap and the ring's end. */
static void test_fill_flush_batch(void **state)
{
	struct guest *g = *state;
	struct virtq_elem popped[3];
	struct iovec popped_iov[3][4];

	for (unsigned i = 0; i < 3; i++)
		virtq_elem_init(&popped[i], popped_iov[i], 4);
	assert_int_equal(start_q(g, 4, FEAT_ALL), 0);
	g->q->last_avail_idx = g->q->used_idx = 65534;
	g->avail_idx = 65534;
	w16(g, USED_GPA + 2, 65534);
	for (unsigned i = 0; i < 3; i++) {
		desc(g, i, BUF_GPA + 0x100 * i, 0x40, D_WRITE, 0);
		avail(g, (uint16_t)i);
	}
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(virtq_pop(g->q, &popped[i]), 1);
	for (unsigned i = 0; i < 3; i++) {
		virtq_fill(g->q, &popped[i], 0x10 + i, (uint16_t)i);
		assert_int_equal(used_idx(g), 65534);          /* nothing visible yet */
		assert_int_equal(g->q->used_idx, 65534);
	}
	/* slots 65534 & 3 = 2, then 3, then 0 (wrapped) */
	assert_int_equal(used_id(g, 2), 0);
	assert_int_equal(used_id(g, 3), 1);
	assert_int_equal(used_id(g, 0), 2);
	assert_int_equal(used_len(g, 0), 0x12);
	virtq_flush(g->q, 3);
	assert_int_equal(used_idx(g), 1);                      /* 65534 + 3 wraps to 1 */
	assert_int_equal(g->q->used_idx, 1);
	virtq_flush(g->q, 0);                                  /* a no-op */
	assert_int_equal(used_idx(g), 1);
	/* fill clamps to the writable length like push */
	desc(g, 0, BUF_GPA, 0x20, D_WRITE, 0);
	avail(g, 0);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	virtq_fill(g->q, &g->e, 0x1000, 0);
	virtq_flush(g->q, 1);
	assert_int_equal(used_len(g, 1), 0x20);
}

/* ---- notifications ---- */

static void pop_push(struct guest *g, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		desc(g, 0, BUF_GPA, 8, D_WRITE, 0);
		avail(g, 0);
		assert_int_equal(virtq_pop(g->q, &g->e), 1);
		virtq_push(g->q, &g->e, 8);
	}
}

static void test_no_interrupt_flag(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, F(VIRTIO_F_VERSION_1)), 0);
	pop_push(g, 1);
	assert_true(virtq_should_notify(g->q));
	w16(g, AVAIL_GPA, 1);   /* VRING_AVAIL_F_NO_INTERRUPT */
	pop_push(g, 1);
	assert_false(virtq_should_notify(g->q));
	w16(g, AVAIL_GPA, 0);
	pop_push(g, 1);
	assert_true(virtq_should_notify(g->q));
}

static void test_event_idx_notify(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	w16(g, AVAIL_GPA, 1);   /* NO_INTERRUPT means nothing with EVENT_IDX */
	set_used_event(g, 100);
	pop_push(g, 1);          /* used 1 */
	assert_true(virtq_should_notify(g->q));    /* first signal always */
	assert_false(virtq_should_notify(g->q));   /* nothing new */
	set_used_event(g, 1);
	pop_push(g, 1);          /* used 2: event 1 in [1, 2) */
	assert_true(virtq_should_notify(g->q));
	pop_push(g, 1);          /* used 3: event 1 not in [2, 3) */
	assert_false(virtq_should_notify(g->q));
	set_used_event(g, 3);
	pop_push(g, 2);          /* used 5: event 3 in [3, 5) */
	assert_true(virtq_should_notify(g->q));
	set_used_event(g, 9);
	pop_push(g, 2);          /* used 7: event 9 not in [5, 7) */
	assert_false(virtq_should_notify(g->q));
}

static void test_event_idx_wraps(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	g->q->last_avail_idx = g->q->used_idx = 65534;
	g->avail_idx = 65534;
	pop_push(g, 1);          /* used 65535 */
	assert_true(virtq_should_notify(g->q));
	set_used_event(g, 65535);
	pop_push(g, 2);          /* used 1: event 65535 in [65535, 1) */
	assert_true(virtq_should_notify(g->q));
	set_used_event(g, 0);
	pop_push(g, 1);          /* used 2: event 0 not in [1, 2) */
	assert_false(virtq_should_notify(g->q));
}

static void test_event_idx_stale_signal(void **state)
{
	struct guest *g = *state;

	/* More than 2^15 pushes without a signal: the 16-bit window is
	 * ambiguous, so the next check must notify. */
	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	pop_push(g, 1);
	assert_true(virtq_should_notify(g->q));
	for (unsigned i = 0; i < 40000; i++)
		virtq_push(g->q, &g->e, 8);
	set_used_event(g, (uint16_t)(g->q->used_idx + 100));
	assert_true(virtq_should_notify(g->q));
}

static void test_enable_notify(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, F(VIRTIO_F_VERSION_1)), 0);
	virtq_enable_notify(g->q, false);
	assert_int_equal(r16(g, USED_GPA), 1);   /* VRING_USED_F_NO_NOTIFY */
	virtq_enable_notify(g->q, true);
	assert_int_equal(r16(g, USED_GPA), 0);

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	pop_push(g, 3);
	virtq_enable_notify(g->q, true);
	assert_int_equal(avail_event(g), 3);
	assert_int_equal(r16(g, USED_GPA), 0);   /* flags untouched */
	pop_push(g, 2);
	virtq_enable_notify(g->q, false);
	assert_int_equal(avail_event(g), 3);     /* left behind = suppressed */
	virtq_enable_notify(g->q, true);
	assert_int_equal(avail_event(g), 5);
}

/* ---- hostile chains ---- */

static void test_hostile_loop(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, BUF_GPA, 8, D_NEXT, 1);
	desc(g, 1, BUF_GPA, 8, D_NEXT, 2);
	desc(g, 2, BUF_GPA, 8, D_NEXT, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_self_loop(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 4, BUF_GPA, 8, D_NEXT, 4);
	avail(g, 4);
	expect_broken(g);
}

static void test_hostile_chain_longer_than_num(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 4, FEAT_ALL), 0);
	for (unsigned i = 0; i < 4; i++)   /* 0 1 2 3 0 ...: five links */
		desc(g, i, BUF_GPA, 8, D_NEXT, (uint16_t)((i + 1) & 3));
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_next_out_of_range(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, BUF_GPA, 8, D_NEXT, 16);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_head_out_of_range(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	avail(g, 16);
	expect_broken(g);
}

static void test_hostile_addr_outside_ram(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, GPA_BASE + RAM_SIZE, 1, 0, 0);   /* first byte past RAM */
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_addr_below_ram(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, GPA_BASE - 1, 2, D_WRITE, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_len_crosses_ram_end(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, BUF_GPA, 8, D_NEXT, 1);
	desc(g, 1, GPA_BASE + RAM_SIZE - 16, 17, D_WRITE, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_addr_len_wraps(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, 0xffffffffffffff00ull, 0x1000, D_WRITE, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_zero_length(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, BUF_GPA, 0, 0, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_readable_after_writable(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, BUF_GPA, 8, D_NEXT | D_WRITE, 1);
	desc(g, 1, BUF_GPA + 8, 8, 0, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_readable_after_writable_indirect(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, BUF_GPA, 8, D_NEXT | D_WRITE, 1);   /* writable, then */
	desc(g, 1, IND_GPA, 16, D_INDIRECT, 0);        /* a readable one inside */
	desc_at(g, IND_GPA, 0, BUF_GPA + 8, 8, 0, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_avail_idx_jump(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, BUF_GPA, 8, 0, 0);
	w16(g, AVAIL_GPA + 2, 17);
	assert_true(virtq_has_work(g->q));
	expect_broken(g);
}

static void test_hostile_nested_indirect(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, IND_GPA, 32, D_INDIRECT, 0);
	desc_at(g, IND_GPA, 0, BUF_GPA, 8, D_NEXT, 1);
	desc_at(g, IND_GPA, 1, IND_GPA + 0x100, 16, D_INDIRECT, 0);
	desc_at(g, IND_GPA + 0x100, 0, BUF_GPA, 8, 0, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_indirect_with_next(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, IND_GPA, 16, D_INDIRECT | D_NEXT, 1);
	desc(g, 1, BUF_GPA, 8, D_WRITE, 0);
	desc_at(g, IND_GPA, 0, BUF_GPA, 8, 0, 0);
	avail(g, 0);
	expect_broken(g);
}

static void indirect_table_len(struct guest *g, uint64_t addr, uint32_t len)
{
	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc_at(g, IND_GPA, 0, BUF_GPA, 8, 0, 0);
	desc(g, 0, addr, len, D_INDIRECT, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_indirect_len_not_multiple(void **state)
{
	indirect_table_len(*state, IND_GPA, 24);
}

static void test_hostile_indirect_len_zero(void **state)
{
	indirect_table_len(*state, IND_GPA, 0);
}

static void test_hostile_indirect_table_outside_ram(void **state)
{
	indirect_table_len(*state, GPA_BASE + RAM_SIZE - 16, 32);
}

static void test_hostile_indirect_table_wraps(void **state)
{
	indirect_table_len(*state, 0xfffffffffffffff0ull, 32);
}

static void test_hostile_indirect_not_negotiated(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, F(VIRTIO_F_VERSION_1)), 0);
	desc_at(g, IND_GPA, 0, BUF_GPA, 8, 0, 0);
	desc(g, 0, IND_GPA, 16, D_INDIRECT, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_indirect_loop(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, IND_GPA, 48, D_INDIRECT, 0);
	desc_at(g, IND_GPA, 0, BUF_GPA, 8, D_NEXT, 1);
	desc_at(g, IND_GPA, 1, BUF_GPA, 8, D_NEXT, 2);
	desc_at(g, IND_GPA, 2, BUF_GPA, 8, D_NEXT, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_indirect_next_beyond_table(void **state)
{
	struct guest *g = *state;

	/* Entry 2 exists in memory but is outside the 2-entry table. */
	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, IND_GPA, 32, D_INDIRECT, 0);
	desc_at(g, IND_GPA, 0, BUF_GPA, 8, D_NEXT, 2);
	desc_at(g, IND_GPA, 2, BUF_GPA, 8, 0, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_indirect_addr_outside_ram(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, IND_GPA, 32, D_INDIRECT, 0);
	desc_at(g, IND_GPA, 0, BUF_GPA, 8, D_NEXT, 1);
	desc_at(g, IND_GPA, 1, GPA_BASE + RAM_SIZE, 8, D_WRITE, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_too_many_segments(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	for (unsigned i = 0; i <= VIRTQ_MAX_SEGS; i++)
		desc_at(g, IND_GPA, i, BUF_GPA + i, 1, i < VIRTQ_MAX_SEGS ? D_NEXT : 0,
			(uint16_t)(i + 1));
	desc(g, 0, IND_GPA, 16 * (VIRTQ_MAX_SEGS + 1), D_INDIRECT, 0);
	avail(g, 0);
	expect_broken(g);
}

static void test_hostile_too_many_segments_direct(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 2048, FEAT_ALL), 0);
	for (unsigned i = 0; i <= VIRTQ_MAX_SEGS; i++)
		desc(g, i, BUF_GPA + i, 1, i < VIRTQ_MAX_SEGS ? D_NEXT : 0, (uint16_t)(i + 1));
	avail(g, 0);
	expect_broken(g);
}

static void test_broken_after_good(void **state)
{
	struct guest *g = *state;

	/* Good chains before the bad one are served; the bad one stops it. */
	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	desc(g, 0, BUF_GPA, 8, 0, 0);
	desc(g, 1, BUF_GPA, 8, D_NEXT, 99);
	avail(g, 0);
	avail(g, 1);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	virtq_push(g->q, &g->e, 0);
	expect_broken(g);
	/* Restarting (DRIVER_OK after reset) clears broken. */
	virtq_reset(g->q);
	assert_false(g->q->broken);
}


/* kvmini ctl queues: the view reports both sides without changing either. */
static void test_view(void **state)
{
	struct guest *g = *state;
	struct virtq_view v;

	virtq_view(g->q, &v);                 /* not started: nothing mapped */
	assert_false(v.ready || v.mapped || v.has_work);
	assert_int_equal(start_q(g, 16, FEAT_ALL), 0);
	pop_push(g, 3);
	virtq_enable_notify(g->q, true);
	set_used_event(g, 7);
	w16(g, AVAIL_GPA, 1);                 /* driver: NO_INTERRUPT */
	desc(g, 0, BUF_GPA, 8, D_WRITE, 0);
	avail(g, 0);
	memcpy(g->snap, g->ram, RAM_SIZE);
	virtq_view(g->q, &v);
	assert_memory_equal(g->snap, g->ram, RAM_SIZE);
	assert_true(v.ready && v.mapped && v.event_idx);
	assert_false(v.packed || v.broken);
	assert_int_equal(v.num, 16);
	assert_int_equal(v.last_avail, 3);
	assert_int_equal(v.used, 3);
	assert_int_equal(v.used_ring_idx, 3);
	assert_int_equal(v.avail_idx, 4);
	assert_true(v.has_work);
	assert_int_equal(v.drv_flags, 1);
	assert_int_equal(v.drv_event, 7);
	assert_int_equal(v.dev_event, 3);     /* avail_event: kick us at 3 */
	assert_int_equal(virtq_pop(g->q, &g->e), 1);   /* the view popped nothing */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_start_ok),
		T(test_start_bad_size),
		T(test_start_misaligned),
		T(test_start_outside_ram),
		T(test_empty),
		T(test_direct_single),
		T(test_out_in_chain_and_used),
		T(test_push_len_clamped),
		T(test_several_in_order),
		T(test_indirect),
		T(test_direct_then_indirect),
		T(test_max_segments_ok),
		T(test_wraparound),
		T(test_fill_flush_batch),
		T(test_no_interrupt_flag),
		T(test_event_idx_notify),
		T(test_event_idx_wraps),
		T(test_event_idx_stale_signal),
		T(test_enable_notify),
		T(test_hostile_loop),
		T(test_hostile_self_loop),
		T(test_hostile_chain_longer_than_num),
		T(test_hostile_next_out_of_range),
		T(test_hostile_head_out_of_range),
		T(test_hostile_addr_outside_ram),
		T(test_hostile_addr_below_ram),
		T(test_hostile_len_crosses_ram_end),
		T(test_hostile_addr_len_wraps),
		T(test_hostile_zero_length),
		T(test_hostile_readable_after_writable),
		T(test_hostile_readable_after_writable_indirect),
		T(test_hostile_avail_idx_jump),
		T(test_hostile_nested_indirect),
		T(test_hostile_indirect_with_next),
		T(test_hostile_indirect_len_not_multiple),
		T(test_hostile_indirect_len_zero),
		T(test_hostile_indirect_table_outside_ram),
		T(test_view),
		T(test_hostile_indirect_table_wraps),
		T(test_hostile_indirect_not_negotiated),
		T(test_hostile_indirect_loop),
		T(test_hostile_indirect_next_beyond_table),
		T(test_hostile_indirect_addr_outside_ram),
		T(test_hostile_too_many_segments),
		T(test_hostile_too_many_segments_direct),
		T(test_broken_after_good),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
