/* THE ENDIANNESS RULE (DESIGN.md): a legacy device takes the byte order of
 * the vCPU that reset it; a system reset takes the platform default; a
 * modern device is little-endian whatever the vCPU. The simulated driver
 * below writes rings byte by byte in an explicit order, so these tests mean
 * the same on a little- and a big-endian host (tests/cross/run-unit-s390x.sh). */
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
#define RAM_SIZE 0x20000ull
#define DESC_GPA (GPA_BASE + 0x0000)
#define AVAIL_GPA (GPA_BASE + 0x1000)
#define USED_GPA (GPA_BASE + 0x2000)
#define IND_GPA (GPA_BASE + 0x3000)
#define BUF_GPA (GPA_BASE + 0x8000)
#define NUM 8

#define F(b) (1ull << (b))
#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4

struct fx {
	struct guest_mem gm;
	uint8_t *ram;
	struct virtio_dev d;
	struct virtio_platform plat;
	int vcpu_be;         /* what the platform hook answers */
	int hook_calls;
	bool be;             /* byte order the simulated driver writes */
	uint16_t avail_idx;
	struct virtq_elem e;
	struct iovec e_iov[VIRTQ_MAX_SEGS];
};

static int hook(void *opaque)
{
	struct fx *f = opaque;
	f->hook_calls++;
	return f->vcpu_be;
}

static const struct virtio_dev_ops ops = {
	.name = "endian", .device_id = 2, .num_queues = 1, .queue_max_size = NUM,
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	virtq_elem_init(&f->e, f->e_iov, VIRTQ_MAX_SEGS);

	f->ram = calloc(1, RAM_SIZE);
	gm_add_region(&f->gm, GPA_BASE, RAM_SIZE, f->ram);
	f->plat.current_vcpu_is_big_endian = hook;
	f->plat.opaque = f;
	f->plat.default_endian = VIRTIO_ENDIAN_LITTLE;
	virtio_dev_init(&f->d, &ops, f,
			F(VIRTIO_F_RING_INDIRECT_DESC) | F(VIRTIO_F_RING_EVENT_IDX) |
			F(VIRTIO_F_VERSION_1), &f->gm, &f->plat);
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

/* ---- the simulated driver, in an explicit byte order ---- */

static void wr(struct fx *f, uint64_t gpa, uint64_t v, unsigned n)
{
	uint8_t *p = f->ram + (gpa - GPA_BASE);
	for (unsigned i = 0; i < n; i++)
		p[f->be ? n - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rd(struct fx *f, uint64_t gpa, unsigned n)
{
	const uint8_t *p = f->ram + (gpa - GPA_BASE);
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[f->be ? n - 1 - i : i] << (8 * i);
	return v;
}

static void desc_at(struct fx *f, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next)
{
	uint64_t p = table + 16ull * i;
	wr(f, p, addr, 8);
	wr(f, p + 8, len, 4);
	wr(f, p + 12, flags, 2);
	wr(f, p + 14, next, 2);
}

static void avail(struct fx *f, uint16_t head)
{
	wr(f, AVAIL_GPA + 4 + 2u * (f->avail_idx % NUM), head, 2);
	f->avail_idx++;
	wr(f, AVAIL_GPA + 2, f->avail_idx, 2);
}

/* A legacy driver's bring-up (§4.2.4 / legacy interface): no FEATURES_OK. */
static void legacy_bringup(struct fx *f, uint32_t features)
{
	struct virtq *q = &f->d.vq[0];

	f->d.legacy = true;
	virtio_set_status(&f->d, 0);     /* guest-initiated reset: samples the vCPU */
	virtio_set_status(&f->d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_set_guest_features(&f->d, 0, features);
	memset(f->ram, 0, RAM_SIZE);
	f->avail_idx = 0;
	q->num = NUM;
	q->desc_gpa = DESC_GPA;
	q->avail_gpa = AVAIL_GPA;
	q->used_gpa = USED_GPA;
	q->ready = true;
	virtio_set_status(&f->d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->d.status & VIRTIO_STATUS_NEEDS_RESET, 0);
	assert_non_null(q->avail);
}

/* Out header + indirect (in data, in status) chain with 64-bit addresses
 * whose bytes differ, so a wrong byte order misses RAM. */
static void request_roundtrip(struct fx *f)
{
	struct virtq *q = &f->d.vq[0];

	desc_at(f, DESC_GPA, 3, BUF_GPA, 16, D_NEXT, 5);
	desc_at(f, DESC_GPA, 5, IND_GPA, 32, D_INDIRECT, 0);
	desc_at(f, IND_GPA, 0, BUF_GPA + 0x1234, 0x201, D_WRITE | D_NEXT, 1);
	desc_at(f, IND_GPA, 1, BUF_GPA + 0x3001, 1, D_WRITE, 0);
	avail(f, 3);
	assert_true(virtq_has_work(q));
	assert_int_equal(virtq_pop(q, &f->e), 1);
	assert_int_equal(f->e.head, 3);
	assert_int_equal(f->e.nout, 1);
	assert_int_equal(f->e.nin, 2);
	assert_ptr_equal(f->e.iov[0].iov_base, f->ram + (BUF_GPA - GPA_BASE));
	assert_int_equal(f->e.iov[0].iov_len, 16);
	assert_ptr_equal(f->e.iov[1].iov_base, f->ram + (BUF_GPA + 0x1234 - GPA_BASE));
	assert_int_equal(f->e.iov[1].iov_len, 0x201);
	assert_ptr_equal(f->e.iov[2].iov_base, f->ram + (BUF_GPA + 0x3001 - GPA_BASE));
	virtq_push(q, &f->e, 0x202);
	assert_int_equal(rd(f, USED_GPA + 2, 2), 1);
	assert_int_equal(rd(f, USED_GPA + 4, 4), 3);
	assert_int_equal(rd(f, USED_GPA + 8, 4), 0x202);
}

/* ---- tests ---- */

static void test_accessor_bytes(void **state)
{
	struct fx *f = *state;
	uint8_t b[8];
	static const uint8_t be64[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t le64[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };

	/* Modern: little-endian even with device_endian big. */
	f->d.device_endian = VIRTIO_ENDIAN_BIG;
	f->d.legacy = false;
	assert_false(virtio_is_big_endian(&f->d));
	virtio_put64(&f->d, b, 0x0102030405060708ull);
	assert_memory_equal(b, le64, 8);
	assert_int_equal(virtio_get64(&f->d, b), 0x0102030405060708ull);
	virtio_put32(&f->d, b, 0x0a0b0c0d);
	assert_int_equal(b[0], 0x0d);
	virtio_put16(&f->d, b, 0x1122);
	assert_int_equal(b[0], 0x22);
	assert_int_equal(b[1], 0x11);

	/* Legacy, big. */
	f->d.legacy = true;
	assert_true(virtio_is_big_endian(&f->d));
	virtio_put64(&f->d, b, 0x0102030405060708ull);
	assert_memory_equal(b, be64, 8);
	assert_int_equal(virtio_get64(&f->d, b), 0x0102030405060708ull);
	virtio_put32(&f->d, b + 1, 0x0a0b0c0d);    /* unaligned */
	assert_int_equal(b[1], 0x0a);
	assert_int_equal(b[4], 0x0d);
	assert_int_equal(virtio_get32(&f->d, b + 1), 0x0a0b0c0d);
	virtio_put16(&f->d, b + 3, 0x1122);
	assert_int_equal(b[3], 0x11);
	assert_int_equal(virtio_get16(&f->d, b + 3), 0x1122);

	/* Legacy, little. */
	f->d.device_endian = VIRTIO_ENDIAN_LITTLE;
	virtio_put64(&f->d, b, 0x0102030405060708ull);
	assert_memory_equal(b, le64, 8);
}

static void test_accessor_roundtrip(void **state)
{
	struct fx *f = *state;
	static const uint8_t raw[8] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0 };

	for (int be = 0; be < 2; be++) {
		uint16_t v16;
		uint32_t v32;
		uint64_t v64;

		f->d.legacy = true;
		f->d.device_endian = be ? VIRTIO_ENDIAN_BIG : VIRTIO_ENDIAN_LITTLE;
		memcpy(&v16, raw, 2);
		memcpy(&v32, raw, 4);
		memcpy(&v64, raw, 8);
		assert_int_equal(virtio16_to_cpu(&f->d, v16), be ? 0x1234 : 0x3412);
		assert_int_equal(virtio32_to_cpu(&f->d, v32), be ? 0x12345678u : 0x78563412u);
		assert_int_equal(virtio64_to_cpu(&f->d, v64),
				 be ? 0x123456789abcdef0ull : 0xf0debc9a78563412ull);
		assert_int_equal(cpu_to_virtio16(&f->d, virtio16_to_cpu(&f->d, v16)), v16);
		assert_int_equal(cpu_to_virtio32(&f->d, virtio32_to_cpu(&f->d, v32)), v32);
		assert_int_equal(cpu_to_virtio64(&f->d, virtio64_to_cpu(&f->d, v64)), v64);
	}
}

static void test_legacy_big_endian_vcpu(void **state)
{
	struct fx *f = *state;

	f->vcpu_be = 1;
	legacy_bringup(f, F(VIRTIO_F_RING_INDIRECT_DESC));
	assert_int_equal(f->hook_calls, 1);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_BIG);
	assert_true(virtio_is_big_endian(&f->d));
	f->be = true;
	request_roundtrip(f);
}

static void test_legacy_flips_back_to_little(void **state)
{
	struct fx *f = *state;

	f->vcpu_be = 1;
	legacy_bringup(f, F(VIRTIO_F_RING_INDIRECT_DESC));
	f->be = true;
	request_roundtrip(f);

	f->vcpu_be = 0;
	legacy_bringup(f, F(VIRTIO_F_RING_INDIRECT_DESC));
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_LITTLE);
	f->be = false;
	request_roundtrip(f);

	/* A big-endian layout now reads as garbage and is refused. */
	legacy_bringup(f, F(VIRTIO_F_RING_INDIRECT_DESC));
	f->be = true;
	desc_at(f, DESC_GPA, 1, BUF_GPA, 16, 0, 0);
	avail(f, 1);
	assert_int_equal(virtq_pop(&f->d.vq[0], &f->e), -EINVAL);
}

static void test_legacy_event_idx_big_endian(void **state)
{
	struct fx *f = *state;
	struct virtq *q = &f->d.vq[0];

	f->vcpu_be = 1;
	legacy_bringup(f, F(VIRTIO_F_RING_EVENT_IDX));
	f->be = true;
	assert_true(q->event_idx);
	wr(f, AVAIL_GPA + 4 + 2 * NUM, 0x0100, 2);   /* used_event 256: far away */
	desc_at(f, DESC_GPA, 0, BUF_GPA, 8, D_WRITE, 0);
	avail(f, 0);
	assert_int_equal(virtq_pop(q, &f->e), 1);
	virtq_push(q, &f->e, 8);
	assert_true(virtq_should_notify(q));     /* first */
	avail(f, 0);
	assert_int_equal(virtq_pop(q, &f->e), 1);
	virtq_push(q, &f->e, 8);
	/* Read little-endian, 0x0100 would be 1 = in [1, 2): a notify. */
	assert_false(virtq_should_notify(q));
	wr(f, AVAIL_GPA + 4 + 2 * NUM, 2, 2);
	avail(f, 0);
	assert_int_equal(virtq_pop(q, &f->e), 1);
	virtq_push(q, &f->e, 8);
	assert_true(virtq_should_notify(q));
	virtq_enable_notify(q, true);
	assert_int_equal(rd(f, USED_GPA + 4 + 8 * NUM, 2), 3);   /* avail_event, BE */
}

static void test_legacy_no_interrupt_big_endian(void **state)
{
	struct fx *f = *state;
	struct virtq *q = &f->d.vq[0];

	f->vcpu_be = 1;
	legacy_bringup(f, 0);
	f->be = true;
	wr(f, AVAIL_GPA, 1, 2);   /* NO_INTERRUPT, big-endian: byte 1 */
	assert_false(virtq_should_notify(q));
	virtq_enable_notify(q, false);
	assert_int_equal(rd(f, USED_GPA, 2), 1);
}

static void test_system_reset_default(void **state)
{
	struct fx *f = *state;

	f->vcpu_be = 1;
	legacy_bringup(f, 0);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_BIG);
	virtio_system_reset(&f->d);   /* no vCPU: the hook is not asked */
	assert_int_equal(f->hook_calls, 1);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_LITTLE);

	f->plat.default_endian = VIRTIO_ENDIAN_BIG;
	f->vcpu_be = 0;
	virtio_set_status(&f->d, 0);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_LITTLE);
	virtio_system_reset(&f->d);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_BIG);
}

static void test_system_reset_default_big_works(void **state)
{
	struct fx *f = *state;
	struct virtq *q = &f->d.vq[0];

	/* A big-endian-default platform, device brought up after a system
	 * reset only (the driver never wrote status 0). */
	f->plat.default_endian = VIRTIO_ENDIAN_BIG;
	virtio_system_reset(&f->d);
	f->d.legacy = true;
	virtio_set_status(&f->d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_set_guest_features(&f->d, 0, F(VIRTIO_F_RING_INDIRECT_DESC));
	q->num = NUM;
	q->desc_gpa = DESC_GPA;
	q->avail_gpa = AVAIL_GPA;
	q->used_gpa = USED_GPA;
	q->ready = true;
	virtio_set_status(&f->d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->hook_calls, 0);
	f->be = true;
	request_roundtrip(f);
}

static void test_hook_not_on_vcpu(void **state)
{
	struct fx *f = *state;

	f->vcpu_be = -1;
	virtio_set_status(&f->d, 0);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_LITTLE);
	f->plat.default_endian = VIRTIO_ENDIAN_BIG;
	virtio_set_status(&f->d, 0);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_BIG);
	assert_int_equal(f->hook_calls, 2);
	/* No hook at all: the default too. */
	f->plat.current_vcpu_is_big_endian = NULL;
	f->plat.default_endian = VIRTIO_ENDIAN_LITTLE;
	virtio_set_status(&f->d, 0);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_LITTLE);
}

static void test_modern_ignores_device_endian(void **state)
{
	struct fx *f = *state;
	struct virtq *q = &f->d.vq[0];

	f->vcpu_be = 1;
	f->d.legacy = false;
	virtio_set_status(&f->d, 0);
	assert_int_equal(f->d.device_endian, VIRTIO_ENDIAN_BIG);   /* sampled... */
	assert_false(virtio_is_big_endian(&f->d));                 /* ...and ignored */
	virtio_set_status(&f->d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_set_guest_features(&f->d, 0, F(VIRTIO_F_RING_INDIRECT_DESC));
	virtio_set_guest_features(&f->d, 1, 1);   /* VERSION_1 */
	virtio_set_status(&f->d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK);
	assert_true(f->d.status & VIRTIO_STATUS_FEATURES_OK);
	q->num = NUM;
	q->desc_gpa = DESC_GPA;
	q->avail_gpa = AVAIL_GPA;
	q->used_gpa = USED_GPA;
	q->ready = true;
	virtio_set_status(&f->d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->d.status & VIRTIO_STATUS_NEEDS_RESET, 0);
	f->be = false;
	request_roundtrip(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_accessor_bytes),
		T(test_accessor_roundtrip),
		T(test_legacy_big_endian_vcpu),
		T(test_legacy_flips_back_to_little),
		T(test_legacy_event_idx_big_endian),
		T(test_legacy_no_interrupt_big_endian),
		T(test_system_reset_default),
		T(test_system_reset_default_big_works),
		T(test_hook_not_on_vcpu),
		T(test_modern_ignores_device_endian),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
