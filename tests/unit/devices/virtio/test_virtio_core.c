/* The virtio core's status state machine (virtio 1.2 §2.1, §3.1), feature
 * negotiation, queue-configuration windows, reset, and config space bounds,
 * driven the way a transport would, with a fake device and transport that
 * count their callbacks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtio.h"

#define GPA_BASE 0x10000ull
#define RAM_SIZE 0x10000ull
#define F(b) (1ull << (b))
#define OFFERED (F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_EVENT_IDX) | F(VIRTIO_F_RING_INDIRECT_DESC) | 0x3)

#define S_ACK VIRTIO_STATUS_ACKNOWLEDGE
#define S_DRV VIRTIO_STATUS_DRIVER
#define S_FOK VIRTIO_STATUS_FEATURES_OK
#define S_DOK VIRTIO_STATUS_DRIVER_OK
#define S_NR VIRTIO_STATUS_NEEDS_RESET

struct fx {
	struct guest_mem gm;
	uint8_t *ram;
	struct virtio_dev d;
	struct virtio_platform plat;
	uint8_t config[12];
	int resets, activates, activate_rc, started, stopped, interrupts, cfg_reads, cfg_writes;
	int last_irq_q;
	uint32_t last_irq_bits;
};

static struct fx *fx_of(struct virtio_dev *d) { return d->dev_priv; }

static void cfg_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	fx_of(d)->cfg_reads++;
	memcpy(data, fx_of(d)->config + off, len);
}

static void cfg_write(struct virtio_dev *d, uint32_t off, const uint8_t *data, uint32_t len)
{
	fx_of(d)->cfg_writes++;
	memcpy(fx_of(d)->config + off, data, len);
}

static int activate(struct virtio_dev *d)
{
	fx_of(d)->activates++;
	return fx_of(d)->activate_rc;
}

static void dev_reset(struct virtio_dev *d)
{
	struct fx *f = fx_of(d);
	f->resets++;
	/* ops->reset runs with queues already reset. */
	assert_false(d->vq[0].ready);
	assert_int_equal(d->status, 0);
}

static void irq(struct virtio_dev *d, int q, uint32_t bits)
{
	struct fx *f = d->transport_priv;
	f->interrupts++;
	f->last_irq_q = q;
	f->last_irq_bits = bits;
}

static void started(struct virtio_dev *d) { ((struct fx *)d->transport_priv)->started++; }
static void stopped(struct virtio_dev *d) { ((struct fx *)d->transport_priv)->stopped++; }

static const struct virtio_dev_ops ops = {
	.name = "fake", .device_id = 2, .num_queues = 2, .queue_max_size = 64,
	.config_size = sizeof(((struct fx *)0)->config),
	.config_read = cfg_read, .config_write = cfg_write,
	.activate = activate, .reset = dev_reset,
};

static const struct virtio_transport_ops tops = {
	.interrupt = irq, .started = started, .stopped = stopped,
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->ram = calloc(1, RAM_SIZE);
	gm_add_region(&f->gm, GPA_BASE, RAM_SIZE, f->ram);
	f->plat.default_endian = VIRTIO_ENDIAN_LITTLE;
	for (unsigned i = 0; i < sizeof(f->config); i++)
		f->config[i] = (uint8_t)(0xa0 + i);
	virtio_dev_init(&f->d, &ops, f, OFFERED, &f->gm, &f->plat);
	f->d.tops = &tops;
	f->d.transport_priv = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_dev_destroy(&f->d);
	free(f->ram);
	free(f);
	return 0;
}

static void ack_features(struct virtio_dev *d, uint64_t feat)
{
	virtio_set_guest_features(d, 0, (uint32_t)feat);
	virtio_set_guest_features(d, 1, (uint32_t)(feat >> 32));
}

/* Queue 0 laid out at valid addresses (size 16). */
static void setup_queue0(struct virtio_dev *d)
{
	struct virtq *q = &d->vq[0];
	q->num = 16;
	q->desc_gpa = GPA_BASE;
	q->avail_gpa = GPA_BASE + 0x1000;
	q->used_gpa = GPA_BASE + 0x2000;
	q->ready = true;
}

/* §3.1.1 up to FEATURES_OK. */
static void negotiate(struct fx *f, uint64_t feat)
{
	virtio_set_status(&f->d, S_ACK);
	virtio_set_status(&f->d, S_ACK | S_DRV);
	ack_features(&f->d, feat);
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK);
}

static void test_init_state(void **state)
{
	struct fx *f = *state;

	assert_int_equal(f->d.status, 0);
	assert_int_equal(f->d.guest_features, 0);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_LITTLE);
	assert_int_equal(f->d.vq[0].num_max, 64);
	assert_int_equal(f->d.vq[0].num, 64);
	assert_int_equal(f->d.vq[1].index, 1);
	assert_int_equal(f->d.vq[2].num_max, 0);   /* beyond num_queues */
	assert_ptr_equal(f->d.vq[1].dev, &f->d);
	assert_int_equal(virtio_get_host_features(&f->d, 0), (uint32_t)OFFERED);
	assert_int_equal(virtio_get_host_features(&f->d, 1), (uint32_t)(OFFERED >> 32));
	assert_int_equal(virtio_get_host_features(&f->d, 2), 0);
}

static void test_features_ok_happy(void **state)
{
	struct fx *f = *state;

	negotiate(f, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_EVENT_IDX));
	assert_int_equal(f->d.status, S_ACK | S_DRV | S_FOK);
	assert_true(virtio_has_feature(&f->d, VIRTIO_F_RING_EVENT_IDX));
	assert_false(virtio_has_feature(&f->d, VIRTIO_F_RING_INDIRECT_DESC));
}

static void test_features_not_offered_refused(void **state)
{
	struct fx *f = *state;

	negotiate(f, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_PACKED));
	assert_int_equal(f->d.status & S_FOK, 0);
	assert_int_equal(f->d.status, S_ACK | S_DRV);
	/* The driver may try again (features still writable). */
	ack_features(&f->d, F(VIRTIO_F_VERSION_1));
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK);
	assert_int_equal(f->d.status & S_FOK, S_FOK);
}

static void test_modern_without_version1_refused(void **state)
{
	struct fx *f = *state;

	negotiate(f, F(VIRTIO_F_RING_EVENT_IDX));
	assert_int_equal(f->d.status & S_FOK, 0);
}

static void test_feature_writes_ignored_after_features_ok(void **state)
{
	struct fx *f = *state;
	uint64_t feat = F(VIRTIO_F_VERSION_1) | 1;

	negotiate(f, feat);
	ack_features(&f->d, OFFERED);
	assert_int_equal(f->d.guest_features, feat);
	virtio_set_guest_features(&f->d, 7, 0xffffffff);   /* bad selector */
	assert_int_equal(f->d.guest_features, feat);
}

static void test_driver_ok_before_features_ok(void **state)
{
	struct fx *f = *state;

	virtio_set_status(&f->d, S_ACK | S_DRV);
	ack_features(&f->d, F(VIRTIO_F_VERSION_1));
	setup_queue0(&f->d);
	virtio_set_status(&f->d, S_ACK | S_DRV | S_DOK);
	assert_true(f->d.status & S_NR);
	assert_int_equal(f->activates, 0);
	assert_int_equal(f->started, 0);
	assert_null(f->d.vq[0].avail);
	assert_int_equal(f->interrupts, 1);   /* config change for NEEDS_RESET */
	assert_int_equal(f->last_irq_q, -1);
	assert_int_equal(f->last_irq_bits, 2);
	assert_true(f->d.isr & 2);
}

static void test_driver_ok_starts_queues(void **state)
{
	struct fx *f = *state;

	negotiate(f, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_EVENT_IDX));
	setup_queue0(&f->d);
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(f->d.status, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(f->activates, 1);
	assert_int_equal(f->started, 1);
	assert_non_null(f->d.vq[0].avail);
	assert_true(f->d.vq[0].event_idx);
	assert_false(f->d.vq[0].indirect);
	assert_null(f->d.vq[1].avail);        /* not ready: not started */
	/* Rewriting the same status does not activate twice. */
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(f->activates, 1);
}

static void test_driver_ok_bad_queue(void **state)
{
	struct fx *f = *state;

	negotiate(f, F(VIRTIO_F_VERSION_1));
	setup_queue0(&f->d);
	f->d.vq[0].num = 12;   /* not a power of two */
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_true(f->d.status & S_NR);
	assert_int_equal(f->activates, 0);
	assert_int_equal(f->started, 0);
}

static void test_activate_failure(void **state)
{
	struct fx *f = *state;

	f->activate_rc = -EIO;
	negotiate(f, F(VIRTIO_F_VERSION_1));
	setup_queue0(&f->d);
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_int_equal(f->activates, 1);
	assert_true(f->d.status & S_NR);
	assert_int_equal(f->started, 0);
	assert_int_equal(f->last_irq_bits, 2);
}

static void test_needs_reset_sticky(void **state)
{
	struct fx *f = *state;

	negotiate(f, F(VIRTIO_F_VERSION_1));
	/* The driver cannot set NEEDS_RESET... */
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK | S_NR);
	assert_int_equal(f->d.status & S_NR, 0);
	/* ...nor clear it except by reset. */
	virtio_set_needs_reset(&f->d);
	assert_int_equal(f->interrupts, 0);   /* not live: no interrupt */
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK | VIRTIO_STATUS_FAILED);
	assert_true(f->d.status & S_NR);
	virtio_set_status(&f->d, 0);
	assert_int_equal(f->d.status, 0);
}

static void test_queue_config_windows(void **state)
{
	struct fx *f = *state;

	assert_false(virtio_queue_config_allowed(&f->d));
	virtio_set_status(&f->d, S_ACK | S_DRV);
	assert_false(virtio_queue_config_allowed(&f->d));
	ack_features(&f->d, F(VIRTIO_F_VERSION_1));
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK);
	assert_true(virtio_queue_config_allowed(&f->d));
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK | S_DOK);
	assert_false(virtio_queue_config_allowed(&f->d));
	virtio_set_status(&f->d, 0);
	assert_false(virtio_queue_config_allowed(&f->d));

	/* Legacy: any time before DRIVER_OK, no FEATURES_OK. */
	f->d.legacy = true;
	assert_true(virtio_queue_config_allowed(&f->d));
	virtio_set_status(&f->d, S_ACK | S_DRV);
	assert_true(virtio_queue_config_allowed(&f->d));
	virtio_set_status(&f->d, S_ACK | S_DRV | S_DOK);
	assert_false(virtio_queue_config_allowed(&f->d));
}

static void test_legacy_negotiation(void **state)
{
	struct fx *f = *state;

	f->d.legacy = true;
	virtio_set_status(&f->d, S_ACK | S_DRV);
	/* Unoffered bits are dropped, not refused (there is no handshake). */
	virtio_set_guest_features(&f->d, 0, F(VIRTIO_F_RING_EVENT_IDX) | 0x1 | 0x100);
	assert_int_equal(f->d.guest_features, F(VIRTIO_F_RING_EVENT_IDX) | 0x1);
	setup_queue0(&f->d);
	virtio_set_status(&f->d, S_ACK | S_DRV | S_DOK);   /* no FEATURES_OK needed */
	assert_int_equal(f->d.status & S_NR, 0);
	assert_int_equal(f->activates, 1);
	assert_int_equal(f->started, 1);
	assert_true(f->d.vq[0].event_idx);
	virtio_set_guest_features(&f->d, 0, 0);             /* after DRIVER_OK: ignored */
	assert_int_equal(f->d.guest_features, F(VIRTIO_F_RING_EVENT_IDX) | 0x1);
}

static void test_reset_clears_everything(void **state)
{
	struct fx *f = *state;
	struct virtq *q = &f->d.vq[0];

	negotiate(f, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_EVENT_IDX));
	setup_queue0(&f->d);
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK | S_DOK);
	q->last_avail_idx = 5;
	q->used_idx = 4;
	q->broken = true;
	f->d.isr = 3;
	virtio_set_status(&f->d, 0);
	assert_int_equal(f->d.status, 0);
	assert_int_equal(f->d.guest_features, 0);
	assert_int_equal(f->d.isr, 0);
	assert_false(q->ready);
	assert_false(q->broken);
	assert_int_equal(q->num, 64);
	assert_int_equal(q->desc_gpa, 0);
	assert_int_equal(q->used_gpa, 0);
	assert_null(q->avail);
	assert_int_equal(q->last_avail_idx, 0);
	assert_int_equal(q->used_idx, 0);
	assert_int_equal(q->index, 0);
	assert_ptr_equal(q->dev, &f->d);
	assert_int_equal(f->resets, 1);
	assert_int_equal(f->stopped, 1);
	virtio_system_reset(&f->d);
	assert_int_equal(f->resets, 2);
	assert_int_equal(f->stopped, 2);
}

static void test_config_bounds(void **state)
{
	struct fx *f = *state;
	uint8_t buf[32];

	memset(buf, 0xee, sizeof(buf));
	virtio_config_read(&f->d, 4, buf, 4);
	assert_int_equal(buf[0], 0xa4);
	assert_int_equal(buf[3], 0xa7);
	virtio_config_read(&f->d, 8, buf, 4);   /* the last four bytes */
	assert_int_equal(buf[3], 0xab);
	assert_int_equal(f->cfg_reads, 2);

	memset(buf, 0xee, sizeof(buf));
	virtio_config_read(&f->d, 10, buf, 4);          /* straddles the end */
	virtio_config_read(&f->d, 12, buf + 4, 1);      /* just past it */
	virtio_config_read(&f->d, 0xffffffffu, buf + 5, 2);   /* off+len wraps */
	virtio_config_read(&f->d, 2, buf + 7, 11);      /* len > size - off */
	virtio_config_read(&f->d, 12, buf + 18, 0);     /* empty, at the end: harmless */
	for (unsigned i = 0; i < 18; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[18], 0xee);
	assert_int_equal(f->cfg_reads, 3);

	buf[0] = 0x55;
	virtio_config_write(&f->d, 11, buf, 2);
	virtio_config_write(&f->d, 0xfffffffeu, buf, 4);
	assert_int_equal(f->cfg_writes, 0);
	virtio_config_write(&f->d, 11, buf, 1);
	assert_int_equal(f->cfg_writes, 1);
	assert_int_equal(f->config[11], 0x55);
}

static void test_config_generation(void **state)
{
	struct fx *f = *state;
	uint32_t g0 = f->d.config_generation;

	virtio_config_changed(&f->d);
	assert_int_equal(f->d.config_generation, g0 + 1);
	assert_int_equal(f->interrupts, 0);   /* not live yet */
	negotiate(f, F(VIRTIO_F_VERSION_1));
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK | S_DOK);
	virtio_config_changed(&f->d);
	assert_int_equal(f->d.config_generation, g0 + 2);
	assert_int_equal(f->interrupts, 1);
	assert_int_equal(f->last_irq_q, -1);
	assert_int_equal(f->last_irq_bits, 2);
	assert_int_equal(f->d.isr, 2);
}

static void test_queue_notify_driver(void **state)
{
	struct fx *f = *state;
	struct virtq *q = &f->d.vq[0];
	struct virtq_elem *e = calloc(1, sizeof(*e));
	uint8_t *avail = f->ram + 0x1000;

	negotiate(f, F(VIRTIO_F_VERSION_1));
	setup_queue0(&f->d);
	virtio_set_status(&f->d, S_ACK | S_DRV | S_FOK | S_DOK);
	e->head = 0;
	virtq_push(q, e, 0);
	virtio_queue_notify_driver(&f->d, 0);
	assert_int_equal(f->interrupts, 1);
	assert_int_equal(f->last_irq_q, 0);
	assert_int_equal(f->last_irq_bits, 1);
	assert_int_equal(f->d.isr, 1);
	avail[0] = 1;   /* VRING_AVAIL_F_NO_INTERRUPT (little-endian) */
	virtq_push(q, e, 0);
	virtio_queue_notify_driver(&f->d, 0);
	assert_int_equal(f->interrupts, 1);
	virtio_queue_notify_driver(&f->d, 200);   /* bad queue: ignored */
	assert_int_equal(f->interrupts, 1);
	free(e);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init_state),
		T(test_features_ok_happy),
		T(test_features_not_offered_refused),
		T(test_modern_without_version1_refused),
		T(test_feature_writes_ignored_after_features_ok),
		T(test_driver_ok_before_features_ok),
		T(test_driver_ok_starts_queues),
		T(test_driver_ok_bad_queue),
		T(test_activate_failure),
		T(test_needs_reset_sticky),
		T(test_queue_config_windows),
		T(test_legacy_negotiation),
		T(test_reset_clears_everything),
		T(test_config_bounds),
		T(test_config_generation),
		T(test_queue_notify_driver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
