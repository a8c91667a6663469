/* virtio-blk's polling (virtio_blk_queue_poll, queue_notify_poll): the real
 * device, core and split ring over a simulated guest RAM, the sync engine,
 * and a fake clock that moves on by 1 us a reading. The "guest" acts from
 * inside the clock: it makes a request available, resets the device or
 * holds the device lock at a chosen instant of the poll, so every case is
 * exact and nothing depends on real time. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "virtio/blk.h"
#include "virtio/blk_file.h"
#include "virtio/virtio.h"

#include "driver_init.h"

#define RAM_GPA    0x100000ull
#define RAM_SIZE   (1u << 20)
#define QSZ        16
#define DESC_GPA   (RAM_GPA + 0x0000)
#define AVAIL_GPA  (RAM_GPA + 0x1000)
#define USED_GPA   (RAM_GPA + 0x2000)
#define HDR_GPA    (RAM_GPA + 0x3000)     /* a header per request, 16 bytes apart */
#define STATUS_GPA (RAM_GPA + 0x3800)     /* a status byte per request */
#define DATA_GPA   (RAM_GPA + 0x10000)    /* 512 bytes per request */
#define AVAIL_EVENT_GPA (USED_GPA + 4 + 8u * QSZ)
#define USED_F_NO_NOTIFY 1
#define STEP_NS    1000u

enum act { ACT_NONE, ACT_ADD, ACT_RESET, ACT_LOCK };

struct tenv {
	uint8_t *ram;
	struct guest_mem gm;
	char path[64];
	struct blk_file file;
	struct virtio_blk blk;
	struct virtio_platform plat;
	bool event_idx;
	uint16_t avail_idx, kicked_idx;
	uint64_t now;                 /* the fake clock */
	uint64_t act_at;              /* the reading at which the guest acts */
	enum act act;
	bool locked, stop;
	int would_kick;               /* the guest's verdict when it added its request */
};

static void no_interrupt(struct virtio_dev *d, int q, uint32_t bits)
{
	(void)d, (void)q, (void)bits;
}

static const struct virtio_transport_ops fake_tops = { .interrupt = no_interrupt };

static uint8_t *gp(struct tenv *t, uint64_t gpa)
{
	return t->ram + (gpa - RAM_GPA);
}

static void wr(struct tenv *t, uint64_t gpa, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		gp(t, gpa)[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rd(struct tenv *t, uint64_t gpa, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)gp(t, gpa)[i] << (8 * i);
	return v;
}

/* Request n: a 512-byte read of sector n, in descriptors 3n..3n+2. */
static void add_read(struct tenv *t)
{
	uint16_t n = t->avail_idx, base = (uint16_t)(3 * n);
	uint64_t segs[3][3] = { { HDR_GPA + 16u * n, 16, 0 }, { DATA_GPA + 512u * n, 512, 2 },
				{ STATUS_GPA + n, 1, 2 } };

	wr(t, HDR_GPA + 16u * n, 0 /* IN */, 4);
	wr(t, HDR_GPA + 16u * n + 8, n, 8);
	*gp(t, STATUS_GPA + n) = 0xee;
	for (int i = 0; i < 3; i++) {
		uint64_t dg = DESC_GPA + 16u * (base + i);
		wr(t, dg, segs[i][0], 8);
		wr(t, dg + 8, segs[i][1], 4);
		wr(t, dg + 12, (i < 2 ? 1 : 0) | segs[i][2], 2);
		wr(t, dg + 14, (uint64_t)(base + i + 1), 2);
	}
	wr(t, AVAIL_GPA + 4 + 2u * (n % QSZ), base, 2);
	t->avail_idx++;
	wr(t, AVAIL_GPA + 2, t->avail_idx, 2);
}

/* Would Linux's driver kick now (virtqueue_kick_prepare)? */
static bool driver_would_kick(struct tenv *t)
{
	uint16_t old = t->kicked_idx, new_idx = t->avail_idx;

	t->kicked_idx = new_idx;
	if (!t->event_idx)
		return !(rd(t, USED_GPA, 2) & USED_F_NO_NOTIFY);
	uint16_t ev = (uint16_t)rd(t, AVAIL_EVENT_GPA, 2);
	return (uint16_t)(new_idx - ev - 1) < (uint16_t)(new_idx - old);
}

static uint64_t fake_now(void *opaque)
{
	struct tenv *t = opaque;
	uint64_t now = t->now;

	t->now += STEP_NS;
	if (now == t->act_at) {
		switch (t->act) {
		case ACT_ADD:
			add_read(t);
			t->would_kick = driver_would_kick(t);
			break;
		case ACT_RESET:
			virtio_set_status(&t->blk.vdev, 0);
			break;
		case ACT_LOCK:      /* a vCPU holds the lock over the next look */
			pthread_mutex_lock(&t->blk.vdev.lock);
			t->locked = true;
			t->act_at += STEP_NS;
			t->act = ACT_NONE;
			return now;
		case ACT_NONE:
			break;
		}
	}
	if (t->locked && now > t->act_at - STEP_NS) {
		pthread_mutex_unlock(&t->blk.vdev.lock);
		t->locked = false;
	}
	return now;
}

static bool fake_stop(void *opaque)
{
	return ((struct tenv *)opaque)->stop;
}

static struct tenv *setup(bool event_idx)
{
	struct tenv *t = calloc(1, sizeof(*t));
	char err[256];

	t->event_idx = event_idx;
	t->would_kick = -1;
	t->act_at = UINT64_MAX;
	assert_int_equal(posix_memalign((void **)&t->ram, 4096, RAM_SIZE), 0);
	memset(t->ram, 0, RAM_SIZE);
	assert_int_equal(gm_add_region(&t->gm, RAM_GPA, RAM_SIZE, t->ram), 0);
	strcpy(t->path, "/var/tmp/kvmini-vblkpoll-XXXXXX");
	int fd = mkstemp(t->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 64 * 512), 0);
	close(fd);
	assert_int_equal(blk_file_open(&t->file, t->path, true, BLK_CACHE_WRITEBACK, err,
				       sizeof(err)), 0);
	t->plat = (struct virtio_platform){ .default_endian = VIRTIO_ENDIAN_LITTLE, .opaque = t };
	struct virtio_blk_opts bo = { .serial = "poll", .num_queues = 1, .aio = BLK_AIO_SYNC,
				      .poll_us = 50 };
	assert_int_equal(virtio_blk_init(&t->blk, &t->file, &bo, &t->gm, &t->plat), 0);
	struct virtio_dev *d = &t->blk.vdev;
	d->tops = &fake_tops;
	d->transport_priv = t;
	virtio_set_status(d, 0);
	uint64_t want = d->host_features;
	if (!event_idx)
		want &= ~(1ull << VIRTIO_F_RING_EVENT_IDX);
	driver_init_queue0(d, want, false, (struct test_rings){ QSZ, DESC_GPA, AVAIL_GPA, USED_GPA });
	return t;
}

static void teardown(struct tenv *t)
{
	virtio_blk_destroy(&t->blk);
	blk_file_close(&t->file);
	unlink(t->path);
	free(t->ram);
	free(t);
}

/* The guest adds a request and kicks: the I/O thread serves and polls. */
static void kick_and_poll(struct tenv *t)
{
	struct vq_poll_env env = { .should_stop = fake_stop, .now_ns = fake_now, .opaque = t };

	add_read(t);
	assert_true(driver_would_kick(t));
	t->blk.vdev.ops->queue_notify_poll(&t->blk.vdev, 0, &env);
}

static uint16_t used_idx(struct tenv *t)
{
	return (uint16_t)rd(t, USED_GPA + 2, 2);
}

static const struct vq_poll_stats *stats(struct tenv *t)
{
	return &t->blk.q[0].poll.stats;
}

/* Kicks are on again: a request added now would be kicked. */
static void assert_kicks_on(struct tenv *t)
{
	add_read(t);
	assert_true(driver_would_kick(t));
}

static void finds_request_without_a_kick(bool event_idx)
{
	struct tenv *t = setup(event_idx);

	t->act = ACT_ADD;
	t->act_at = 2 * STEP_NS;      /* within the first 4 us window */
	kick_and_poll(t);
	assert_int_equal(t->would_kick, 0);          /* kicks were off */
	assert_int_equal(used_idx(t), 2);            /* and it was served */
	assert_int_equal(*gp(t, STATUS_GPA + 0), VIRTIO_BLK_S_OK);
	assert_int_equal(*gp(t, STATUS_GPA + 1), VIRTIO_BLK_S_OK);
	/* a window found the request, the next its completion (the sync
	 * engine's, reaped on the next look), the third nothing */
	assert_int_equal(stats(t)->found, 2);
	assert_int_equal(stats(t)->polls, 3);
	assert_kicks_on(t);
	teardown(t);
}

static void finds_request_without_a_kick_flags(void **s) { (void)s; finds_request_without_a_kick(false); }
static void finds_request_without_a_kick_event_idx(void **s) { (void)s; finds_request_without_a_kick(true); }

static void gives_up_and_turns_kicks_back_on(void **s)
{
	struct tenv *t = setup(true);

	(void)s;
	kick_and_poll(t);
	assert_int_equal(used_idx(t), 1);
	assert_int_equal(stats(t)->polls, 1);
	assert_int_equal(stats(t)->found, 0);
	assert_int_equal(stats(t)->ns, VQ_POLL_INITIAL_NS);
	assert_kicks_on(t);
	teardown(t);
}

/* Added on the clock reading that ends the window, after the last look:
 * no kick comes (kicks were off), so the last pass must find it. */
static void request_as_polling_gives_up_is_not_lost(void **s)
{
	struct tenv *t = setup(false);

	(void)s;
	t->act = ACT_ADD;
	t->act_at = VQ_POLL_INITIAL_NS;
	kick_and_poll(t);
	assert_int_equal(t->would_kick, 0);
	assert_int_equal(stats(t)->found, 0);
	assert_int_equal(used_idx(t), 2);
	assert_int_equal(*gp(t, STATUS_GPA + 1), VIRTIO_BLK_S_OK);
	teardown(t);
}

static void stop_flag_ends_polling(void **s)
{
	struct tenv *t = setup(true);

	(void)s;
	t->stop = true;
	kick_and_poll(t);
	assert_int_equal(used_idx(t), 1);
	assert_int_equal(stats(t)->ns, 0);            /* not one look */
	assert_kicks_on(t);
	teardown(t);
}

/* A vCPU holding the device lock (a register access, a reset on its way)
 * ends polling at the next look, rather than waiting for the window. */
static void wanted_lock_ends_polling(void **s)
{
	struct tenv *t = setup(true);

	(void)s;
	t->act = ACT_LOCK;
	t->act_at = 1 * STEP_NS;
	kick_and_poll(t);
	assert_false(t->locked);
	assert_int_equal(stats(t)->polls, 1);
	assert_true(stats(t)->ns < VQ_POLL_INITIAL_NS);
	assert_int_equal(used_idx(t), 1);
	assert_kicks_on(t);
	teardown(t);
}

static void reset_ends_polling(void **s)
{
	struct tenv *t = setup(true);

	(void)s;
	t->act = ACT_RESET;
	t->act_at = 1 * STEP_NS;
	kick_and_poll(t);
	assert_false(t->blk.vdev.status & VIRTIO_STATUS_DRIVER_OK);
	assert_true(stats(t)->ns < VQ_POLL_INITIAL_NS);
	assert_int_equal(stats(t)->found, 0);
	teardown(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(finds_request_without_a_kick_flags),
		cmocka_unit_test(finds_request_without_a_kick_event_idx),
		cmocka_unit_test(gives_up_and_turns_kicks_back_on),
		cmocka_unit_test(request_as_polling_gives_up_is_not_lost),
		cmocka_unit_test(stop_flag_ends_polling),
		cmocka_unit_test(wanted_lock_ends_polling),
		cmocka_unit_test(reset_ends_polling),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
