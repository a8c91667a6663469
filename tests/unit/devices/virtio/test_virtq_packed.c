/* Packed virtqueues (virtio 1.2 §2.8) against a simulated driver: guest RAM
 * fenced by PROT_NONE guard pages, and a driver below that lays out
 * descriptors and event-suppression structures byte by byte, little-endian,
 * independently of the code under test -- so on a big-endian host (s390x)
 * this proves the device reads and writes the ring in the spec's order.
 * Covered: many laps of wrap-around with completions out of order and in
 * batches, indirect tables, both event-suppression structures in each mode,
 * and every hostile case: ids out of range or already in flight, chains
 * longer than the ring, descriptors of a chain not available, indirect
 * inside indirect or inside a chain, zero-length and out-of-RAM buffers. */
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
#define DRV_GPA (GPA_BASE + 0x8000)    /* driver event suppression */
#define DEV_GPA (GPA_BASE + 0x9000)    /* device event suppression */
#define IND_GPA (GPA_BASE + 0xc000)    /* indirect tables */
#define BUF_GPA (GPA_BASE + 0x20000)   /* data buffers */

#define F(b) (1ull << (b))
#define FEAT (F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_INDIRECT_DESC) | F(VIRTIO_F_RING_PACKED))
#define FEAT_EV (FEAT | F(VIRTIO_F_RING_EVENT_IDX))

#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4
#define D_AVAIL (1u << 7)
#define D_USED (1u << 15)

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool w;
};

struct guest {
	uint8_t *map, *ram;
	size_t map_len;
	struct guest_mem gm;
	struct virtio_dev d;
	struct virtq *q;
	struct virtq_elem e;
	struct iovec e_iov[VIRTQ_MAX_SEGS];
	uint8_t *snap;
	/* the driver */
	uint16_t num, next_avail, next_used;
	bool avail_wrap, used_wrap;
	uint16_t chain_len[1024];
};

static const struct virtio_dev_ops fake_ops = {
	.name = "test", .device_id = 2, .num_queues = 1, .queue_max_size = 1024,
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
	virtio_dev_init(&g->d, &fake_ops, NULL, FEAT_EV, &g->gm, NULL);
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

/* ---- little-endian guest memory, byte by byte ---- */

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

static void pdesc_at(struct guest *g, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t id, uint16_t flags)
{
	uint64_t p = table + 16ull * i;
	w64(g, p, addr);
	w32(g, p + 8, len);
	w16(g, p + 12, id);
	w16(g, p + 14, flags);
}

/* ---- the driver (§2.8.21) ---- */

static int start_q(struct guest *g, uint16_t num, uint64_t features)
{
	g->num = num;
	g->next_avail = g->next_used = 0;
	g->avail_wrap = g->used_wrap = true;
	g->d.guest_features = features;
	g->q->num = num;
	g->q->desc_gpa = DESC_GPA;
	g->q->avail_gpa = DRV_GPA;
	g->q->used_gpa = DEV_GPA;
	g->q->ready = true;
	return virtq_start(g->q);
}

static uint16_t avail_bits(bool wrap)
{
	return wrap ? D_AVAIL : D_USED;
}

/* Makes a chain of n descriptors with buffer id available; the first
 * descriptor's flags are written last. extra: flags or-ed into every one. */
static void post(struct guest *g, const struct seg *s, int n, uint16_t id, uint16_t extra)
{
	uint16_t first = g->next_avail, first_flags = 0;

	for (int i = 0; i < n; i++) {
		uint16_t f = (uint16_t)((i < n - 1 ? D_NEXT : 0) | (s[i].w ? D_WRITE : 0) | extra |
					avail_bits(g->avail_wrap));
		if (i == 0) {
			first_flags = f;
			pdesc_at(g, DESC_GPA, g->next_avail, s[i].gpa, s[i].len, id, 0);
		} else {
			pdesc_at(g, DESC_GPA, g->next_avail, s[i].gpa, s[i].len, id, f);
		}
		if (++g->next_avail == g->num) {
			g->next_avail = 0;
			g->avail_wrap = !g->avail_wrap;
		}
	}
	g->chain_len[id] = (uint16_t)n;
	w16(g, DESC_GPA + 16ull * first + 14, first_flags);
}

/* The next used element, if any: true with its id and length. */
static bool take_used(struct guest *g, uint16_t *id, uint32_t *len)
{
	uint64_t p = DESC_GPA + 16ull * g->next_used;
	uint16_t f = r16(g, p + 14);
	bool a = f & D_AVAIL, u = f & D_USED;

	if (a != g->used_wrap || u != g->used_wrap)
		return false;
	*id = r16(g, p + 12);
	*len = r32(g, p + 8);
	assert_true(*id < g->num);
	uint32_t next = (uint32_t)g->next_used + g->chain_len[*id];
	if (next >= g->num) {
		next -= g->num;
		g->used_wrap = !g->used_wrap;
	}
	g->next_used = (uint16_t)next;
	return true;
}

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

static void test_start(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 10, FEAT), 0);          /* any size, not only 2^n */
	assert_int_equal(g->q->layout, VIRTQ_PACKED);
	assert_true(g->q->avail_wrap && g->q->used_wrap);
	assert_int_equal(start_q(g, 0, FEAT), -EINVAL);
	assert_int_equal(start_q(g, 1025, FEAT), -EINVAL);  /* > num_max */
	g->q->num_max = 2048;
	assert_int_equal(start_q(g, 2048, FEAT), -EINVAL);  /* > what we track */
	g->q->num_max = 1024;
	assert_int_equal(start_q(g, 1024, FEAT), 0);
	g->q->desc_gpa = DESC_GPA + 8;                      /* misaligned */
	assert_int_equal(virtq_start(g->q), -EINVAL);
	g->q->desc_gpa = DESC_GPA;
	g->q->avail_gpa = DRV_GPA + 2;
	assert_int_equal(virtq_start(g->q), -EINVAL);
	g->q->avail_gpa = DRV_GPA;
	g->q->used_gpa = GPA_BASE + RAM_SIZE - 2;           /* outside RAM */
	assert_int_equal(virtq_start(g->q), -EINVAL);
	g->q->used_gpa = DEV_GPA;
	g->q->desc_gpa = GPA_BASE + RAM_SIZE - 16 * 512;    /* 1024 descriptors do not fit */
	assert_int_equal(virtq_start(g->q), -EINVAL);
	/* without RING_PACKED the same queue is split (and must be 2^n) */
	assert_int_equal(start_q(g, 16, F(VIRTIO_F_VERSION_1)), 0);
	assert_int_equal(g->q->layout, VIRTQ_SPLIT);
}

/* ---- normal chains ---- */

static void test_one_chain(void **state)
{
	struct guest *g = *state;
	struct seg s[] = { { BUF_GPA, 16, false }, { BUF_GPA + 0x100, 512, true },
			   { BUF_GPA + 0x400, 1, true } };
	uint16_t id;
	uint32_t len;

	assert_int_equal(start_q(g, 8, FEAT), 0);
	assert_false(virtq_has_work(g->q));
	assert_int_equal(virtq_pop(g->q, &g->e), 0);
	post(g, s, 3, 5, 0);
	assert_true(virtq_has_work(g->q));
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	assert_int_equal(g->e.head, 5);
	assert_int_equal(g->e.ndescs, 3);
	assert_int_equal(g->e.nout, 1);
	assert_int_equal(g->e.nin, 2);
	assert_int_equal(g->e.out_len, 16);
	assert_int_equal(g->e.in_len, 513);
	assert_ptr_equal(g->e.iov[1].iov_base, at(g, BUF_GPA + 0x100));
	assert_false(virtq_has_work(g->q));
	assert_false(take_used(g, &id, &len));
	virtq_push(g->q, &g->e, 9999);                      /* clamped to in_len */
	assert_true(take_used(g, &id, &len));
	assert_int_equal(id, 5);
	assert_int_equal(len, 513);
	assert_int_equal(r16(g, DESC_GPA + 14) & (D_AVAIL | D_USED | D_WRITE),
			 D_AVAIL | D_USED | D_WRITE);
}

/* Many laps of a 7-slot ring (not a power of two): chains of 1-3
 * descriptors, completed in a shuffled order, in batches of 1-4; the
 * driver sees every id exactly once per post with its length. */
static void test_wrap_out_of_order(void **state)
{
	struct guest *g = *state;
	const uint16_t N = 7;
	struct virtq_token pend[16];
	int npend = 0, posted = 0, completed = 0;
	uint16_t free_ids[16], nfree = 0, slots_free = N;
	unsigned rnd = 12345;

	assert_int_equal(start_q(g, N, FEAT), 0);
	for (uint16_t i = 0; i < N; i++)
		free_ids[nfree++] = (uint16_t)(N - 1 - i);
	for (int step = 0; step < 3000; step++) {
		rnd = rnd * 1103515245u + 12345u;
		int len = 1 + (int)((rnd >> 16) % 3);
		/* the driver posts while ids and slots allow */
		if (nfree && slots_free >= len) {
			uint16_t id = free_ids[--nfree];
			struct seg s[3];
			for (int k = 0; k < len; k++)
				s[k] = (struct seg){ BUF_GPA + 0x1000u * id + 0x100u * k, 64, k == len - 1 };
			post(g, s, len, id, 0);
			slots_free = (uint16_t)(slots_free - len);
			posted++;
		}
		/* the device pops everything available */
		int r;
		while ((r = virtq_pop(g->q, &g->e)) == 1) {
			assert_int_equal(g->e.in_len, 64);
			pend[npend++] = virtq_token_of(&g->e);
		}
		assert_int_equal(r, 0);
		/* and completes a shuffled batch now and then */
		if (npend && (rnd >> 8) % 3 == 0) {
			for (int k = npend - 1; k > 0; k--) {
				rnd = rnd * 1103515245u + 12345u;
				int j = (int)((rnd >> 16) % (unsigned)(k + 1));
				struct virtq_token t = pend[k];
				pend[k] = pend[j];
				pend[j] = t;
			}
			int batch = 1 + (int)((rnd >> 4) % 4);
			if (batch > npend)
				batch = npend;
			for (int k = 0; k < batch; k++)
				virtq_fill_token(g->q, &pend[k], 32, (uint16_t)k);
			virtq_flush(g->q, (uint16_t)batch);
			memmove(pend, pend + batch, (size_t)(npend - batch) * sizeof(pend[0]));
			npend -= batch;
		}
		/* the driver reaps */
		uint16_t id;
		uint32_t l;
		while (take_used(g, &id, &l)) {
			assert_int_equal(l, 32);
			slots_free = (uint16_t)(slots_free + g->chain_len[id]);
			free_ids[nfree++] = id;
			completed++;
		}
	}
	assert_false(g->q->broken);
	assert_true(completed > 1000);
	assert_true(completed <= posted && posted - completed <= N);
}

/* An indirect descriptor: its table's buffers, one ring slot. */
static void test_indirect(void **state)
{
	struct guest *g = *state;
	uint16_t id;
	uint32_t len;

	assert_int_equal(start_q(g, 4, FEAT), 0);
	pdesc_at(g, IND_GPA, 0, BUF_GPA, 16, 0, 0);
	pdesc_at(g, IND_GPA, 1, BUF_GPA + 0x100, 100, 0, D_WRITE);
	pdesc_at(g, IND_GPA, 2, BUF_GPA + 0x200, 1, 0, D_WRITE);
	struct seg s[] = { { IND_GPA, 48, false } };
	post(g, s, 1, 2, D_INDIRECT);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	assert_int_equal(g->e.head, 2);
	assert_int_equal(g->e.ndescs, 1);
	assert_int_equal(g->e.nout, 1);
	assert_int_equal(g->e.nin, 2);
	assert_int_equal(g->e.in_len, 101);
	virtq_push(g->q, &g->e, 101);
	assert_true(take_used(g, &id, &len));
	assert_int_equal(id, 2);
	assert_int_equal(len, 101);
}

/* ---- event suppression (§2.8.10) ---- */

static void complete_one(struct guest *g, uint16_t id)
{
	struct seg s[] = { { BUF_GPA, 8, true } };
	uint32_t len;
	post(g, s, 1, id, 0);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	virtq_push(g->q, &g->e, 8);
	assert_true(take_used(g, &id, &len));
}

static void test_driver_event_modes(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 4, FEAT), 0);          /* no EVENT_IDX */
	w16(g, DRV_GPA + 2, 0);                             /* ENABLE */
	complete_one(g, 0);
	assert_true(virtq_should_notify(g->q));
	w16(g, DRV_GPA + 2, 1);                             /* DISABLE */
	complete_one(g, 1);
	assert_false(virtq_should_notify(g->q));
	w16(g, DRV_GPA + 2, 2);                             /* DESC without EVENT_IDX: notify */
	complete_one(g, 2);
	assert_true(virtq_should_notify(g->q));
}

/* EVENT_IDX: interrupt exactly when the used position passes the event,
 * across a wrap of the 4-slot ring. */
static void test_driver_event_desc(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 4, FEAT_EV), 0);
	w16(g, DRV_GPA + 2, 2);                             /* DESC */
	w16(g, DRV_GPA, 2 | 0x8000);                        /* after the 3rd element, lap 1 */
	complete_one(g, 0);
	assert_false(virtq_should_notify(g->q));
	complete_one(g, 1);
	assert_false(virtq_should_notify(g->q));
	complete_one(g, 2);                                 /* writes slot 2: passes it */
	assert_true(virtq_should_notify(g->q));
	complete_one(g, 3);
	assert_false(virtq_should_notify(g->q));
	w16(g, DRV_GPA, 1);                                 /* slot 1 of lap 2 (wrap 0) */
	complete_one(g, 0);                                 /* slot 0 of lap 2 */
	assert_false(virtq_should_notify(g->q));
	complete_one(g, 1);                                 /* slot 1 of lap 2 */
	assert_true(virtq_should_notify(g->q));
	/* a batch that jumps over the event position notifies once */
	w16(g, DRV_GPA, 3);
	struct seg s[] = { { BUF_GPA, 8, true } };
	post(g, s, 1, 2, 0);
	post(g, s, 1, 3, 0);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	struct virtq_token a = virtq_token_of(&g->e);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	struct virtq_token b = virtq_token_of(&g->e);
	virtq_fill_token(g->q, &b, 8, 0);
	virtq_fill_token(g->q, &a, 8, 1);
	virtq_flush(g->q, 2);
	assert_true(virtq_should_notify(g->q));
	assert_false(virtq_should_notify(g->q));
}

static void test_device_event(void **state)
{
	struct guest *g = *state;
	struct seg s[] = { { BUF_GPA, 8, true } };

	assert_int_equal(start_q(g, 4, FEAT), 0);
	virtq_enable_notify(g->q, false);
	assert_int_equal(r16(g, DEV_GPA + 2), 1);           /* DISABLE */
	virtq_enable_notify(g->q, true);
	assert_int_equal(r16(g, DEV_GPA + 2), 0);           /* ENABLE */
	assert_int_equal(start_q(g, 4, FEAT_EV), 0);
	post(g, s, 1, 0, 0);
	post(g, s, 1, 1, 0);
	post(g, s, 1, 2, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(virtq_pop(g->q, &g->e), 1);
	virtq_enable_notify(g->q, true);
	assert_int_equal(r16(g, DEV_GPA + 2), 2);           /* DESC */
	assert_int_equal(r16(g, DEV_GPA), 3 | 0x8000);      /* next slot 3, lap 1 */
	post(g, s, 1, 3, 0);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	virtq_enable_notify(g->q, true);
	assert_int_equal(r16(g, DEV_GPA), 0);               /* slot 0, lap 2: wrap 0 */
}

/* ---- hostile drivers ---- */

static void test_hostile_id_out_of_range(void **state)
{
	struct guest *g = *state;
	struct seg s[] = { { BUF_GPA, 8, true } };

	assert_int_equal(start_q(g, 4, FEAT), 0);
	post(g, s, 1, 4, 0);
	expect_broken(g);
}

static void test_hostile_id_in_flight(void **state)
{
	struct guest *g = *state;
	struct seg s[] = { { BUF_GPA, 8, true } };

	assert_int_equal(start_q(g, 4, FEAT), 0);
	post(g, s, 1, 1, 0);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	post(g, s, 1, 1, 0);                                /* reused before it came back */
	expect_broken(g);
}

static void test_id_reused_after_completion(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 4, FEAT), 0);
	for (int i = 0; i < 10; i++)
		complete_one(g, 1);
	assert_false(g->q->broken);
}

/* Every descriptor says NEXT: the chain never ends within the ring. */
static void test_hostile_chain_longer_than_ring(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 4, FEAT), 0);
	for (int i = 0; i < 4; i++)
		pdesc_at(g, DESC_GPA, (unsigned)i, BUF_GPA, 8, 0, D_NEXT | D_AVAIL);
	expect_broken(g);
}

/* The head is available, the next descriptor of its chain is not (AVAIL
 * and USED bits both set: a used one). */
static void test_hostile_chain_not_available(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 4, FEAT), 0);
	pdesc_at(g, DESC_GPA, 1, BUF_GPA + 0x100, 8, 0, D_WRITE | D_AVAIL | D_USED);
	pdesc_at(g, DESC_GPA, 0, BUF_GPA, 8, 0, D_NEXT | D_AVAIL);
	expect_broken(g);
}

static void test_hostile_nested_indirect(void **state)
{
	struct guest *g = *state;
	struct seg s[] = { { IND_GPA, 32, false } };

	assert_int_equal(start_q(g, 4, FEAT), 0);
	pdesc_at(g, IND_GPA, 0, BUF_GPA, 8, 0, 0);
	pdesc_at(g, IND_GPA, 1, IND_GPA + 0x100, 16, 0, D_INDIRECT);
	post(g, s, 1, 0, D_INDIRECT);
	expect_broken(g);
}

static void test_hostile_indirect_in_chain(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 4, FEAT), 0);
	pdesc_at(g, IND_GPA, 0, BUF_GPA, 8, 0, D_WRITE);
	pdesc_at(g, DESC_GPA, 1, IND_GPA, 16, 0, D_INDIRECT | D_AVAIL);
	pdesc_at(g, DESC_GPA, 0, BUF_GPA + 0x100, 8, 0, D_NEXT | D_AVAIL);
	expect_broken(g);
}

static void test_hostile_indirect_not_negotiated(void **state)
{
	struct guest *g = *state;
	struct seg s[] = { { IND_GPA, 16, false } };

	assert_int_equal(start_q(g, 4, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED)), 0);
	pdesc_at(g, IND_GPA, 0, BUF_GPA, 8, 0, D_WRITE);
	post(g, s, 1, 0, D_INDIRECT);
	expect_broken(g);
}

static void test_hostile_indirect_bad_length(void **state)
{
	struct guest *g = *state;
	struct seg s[] = { { IND_GPA, 20, false } };

	assert_int_equal(start_q(g, 4, FEAT), 0);
	post(g, s, 1, 0, D_INDIRECT);
	expect_broken(g);
}

static void test_hostile_zero_length(void **state)
{
	struct guest *g = *state;
	struct seg s[] = { { BUF_GPA, 8, false }, { BUF_GPA + 0x100, 0, true } };

	assert_int_equal(start_q(g, 4, FEAT), 0);
	post(g, s, 2, 0, 0);
	expect_broken(g);
}

static void test_hostile_outside_ram(void **state)
{
	struct guest *g = *state;
	struct seg s[] = { { GPA_BASE + RAM_SIZE - 4, 8, true } };

	assert_int_equal(start_q(g, 4, FEAT), 0);
	post(g, s, 1, 0, 0);
	expect_broken(g);
}

static void test_hostile_readable_after_writable(void **state)
{
	struct guest *g = *state;
	struct seg s[] = { { BUF_GPA, 8, true }, { BUF_GPA + 0x100, 8, false } };

	assert_int_equal(start_q(g, 4, FEAT), 0);
	post(g, s, 2, 0, 0);
	expect_broken(g);
}

/* A driver that makes slots available again before the device has used
 * them hands over more chains than the ring holds: a 2-slot ring, two
 * 2-descriptor chains in flight at once. Completing both in one batch
 * moves the used position by two laps; it must stay inside the ring, and
 * every write inside the descriptor ring (fuzz_virtq_packed found the
 * device writing past the ring's end). */
static void test_hostile_batch_longer_than_ring(void **state)
{
	struct guest *g = *state;
	struct seg a[] = { { BUF_GPA, 16, false }, { BUF_GPA + 0x100, 16, true } };
	struct seg b[] = { { BUF_GPA + 0x200, 16, false }, { BUF_GPA + 0x300, 16, true } };
	struct virtq_token t[2];

	assert_int_equal(start_q(g, 2, FEAT), 0);
	post(g, a, 2, 0, 0);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	t[0] = virtq_token_of(&g->e);
	post(g, b, 2, 1, 0);                                /* over chain 0's slots */
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	t[1] = virtq_token_of(&g->e);
	for (int round = 0; round < 3; round++) {
		memcpy(g->snap, g->ram, RAM_SIZE);
		virtq_fill_token(g->q, &t[0], 16, 0);
		virtq_fill_token(g->q, &t[1], 16, 1);
		virtq_flush(g->q, 2);
		assert_true(g->q->used_idx < g->num);
		/* only the two descriptors of the ring were written */
		assert_memory_equal(g->snap + 32, g->ram + 32, RAM_SIZE - 32);
	}
}


/* The device used two laps and more of the ring between two looks at the
 * driver's event (a long receive pass while the driver refills on another
 * vCPU): positions modulo two laps cannot say whether it passed the event,
 * so it must notify. Before the fix, 9 elements on a 4-slot ring after an
 * event one slot ahead looked like one element that had not reached it,
 * and the interrupt was lost: the driver waited for it, the device for
 * buffers (a packed RX stall under a UDP flood in the lab). */
static void test_driver_event_after_two_laps(void **state)
{
	struct guest *g = *state;

	assert_int_equal(start_q(g, 4, FEAT_EV), 0);
	w16(g, DRV_GPA + 2, 2);                             /* DESC */
	complete_one(g, 0);
	virtq_should_notify(g->q);                          /* looked at slot 1 */
	w16(g, DRV_GPA, 2 | 0x8000);                        /* slot 2 of lap 1 */
	for (int i = 0; i < 9; i++)                         /* slots 1..9: 2 laps and a bit */
		complete_one(g, (uint16_t)(i % 4));
	assert_true(virtq_should_notify(g->q));
	/* and in one batch of many laps */
	w16(g, DRV_GPA, g->q->used_idx | (g->q->used_wrap ? 0x8000 : 0));
	for (int i = 0; i < 8; i++)
		complete_one(g, (uint16_t)(i % 4));
	assert_true(virtq_should_notify(g->q));
	/* one element that does not reach the event: still quiet */
	w16(g, DRV_GPA, (uint16_t)((g->q->used_idx + 2) % 4) |
		(((g->q->used_idx + 2) < 4) == g->q->used_wrap ? 0x8000 : 0));
	complete_one(g, 0);
	assert_false(virtq_should_notify(g->q));
}

/* kvmini ctl queues: the view reports both sides without changing either. */
static void test_view(void **state)
{
	struct guest *g = *state;
	struct seg s[] = { { BUF_GPA, 8, true } };
	struct virtq_view v;

	assert_int_equal(start_q(g, 4, FEAT_EV), 0);
	g->q->ready = true;
	w16(g, DRV_GPA, 2 | 0x8000);                         /* driver: off_wrap */
	w16(g, DRV_GPA + 2, 2);                              /* driver: DESC */
	post(g, s, 1, 0, 0);
	post(g, s, 1, 3, 0);
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	virtq_enable_notify(g->q, true);
	memcpy(g->snap, g->ram, RAM_SIZE);
	virtq_view(g->q, &v);
	assert_memory_equal(g->snap, g->ram, RAM_SIZE);
	assert_true(v.ready && v.mapped && v.packed && v.event_idx);
	assert_false(v.broken);
	assert_int_equal(v.num, 4);
	assert_int_equal(v.last_avail, 1);
	assert_int_equal(v.used, 0);
	assert_true(v.avail_wrap && v.used_wrap);
	assert_int_equal(v.in_flight, 1);
	assert_true(v.has_work);                             /* id 3 waits at slot 1 */
	assert_int_equal(v.next_flags & (D_AVAIL | D_USED), D_AVAIL);
	assert_int_equal(v.drv_flags, 2);
	assert_int_equal(v.drv_event, 2 | 0x8000);
	assert_int_equal(v.dev_flags, 2);
	assert_int_equal(v.dev_event, 1 | 0x8000);
	/* the view does not pop: the next pop still finds id 3 */
	assert_int_equal(virtq_pop(g->q, &g->e), 1);
	assert_int_equal(g->e.head, 3);
	virtq_view(g->q, &v);
	assert_false(v.has_work);
	assert_int_equal(v.in_flight, 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_start),
		T(test_one_chain),
		T(test_wrap_out_of_order),
		T(test_indirect),
		T(test_driver_event_modes),
		T(test_driver_event_desc),
		T(test_device_event),
		T(test_hostile_id_out_of_range),
		T(test_hostile_id_in_flight),
		T(test_id_reused_after_completion),
		T(test_hostile_chain_longer_than_ring),
		T(test_hostile_chain_not_available),
		T(test_hostile_nested_indirect),
		T(test_hostile_indirect_in_chain),
		T(test_hostile_indirect_not_negotiated),
		T(test_hostile_indirect_bad_length),
		T(test_hostile_zero_length),
		T(test_hostile_outside_ram),
		T(test_hostile_readable_after_writable),
		T(test_hostile_batch_longer_than_ring),
		T(test_driver_event_after_two_laps),
		T(test_view),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
