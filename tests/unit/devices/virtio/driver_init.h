/* The driver's side of §3.1.1 for device tests: reset, ACKNOWLEDGE and
 * DRIVER, the features wanted, FEATURES_OK (modern only), queue 0 at the
 * given rings, DRIVER_OK. A legacy driver skips FEATURES_OK and never sees
 * VERSION_1. Header-only: each test program includes it once. */
#ifndef KVMINI_TEST_DRIVER_INIT_H
#define KVMINI_TEST_DRIVER_INIT_H

#include "virtio/virtio.h"

struct test_rings {
	uint16_t num;
	uint64_t desc, avail, used;
};

static inline void driver_init_queue0(struct virtio_dev *d, uint64_t want, bool legacy,
				      struct test_rings r)
{
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	virtio_set_status(d, st);
	if (legacy)   /* the transport hides VERSION_1 from a legacy driver */
		want &= ~(1ull << VIRTIO_F_VERSION_1);
	virtio_set_guest_features(d, 0, (uint32_t)want);
	virtio_set_guest_features(d, 1, (uint32_t)(want >> 32));
	if (!legacy) {
		st |= VIRTIO_STATUS_FEATURES_OK;
		virtio_set_status(d, st);
		assert_true(d->status & VIRTIO_STATUS_FEATURES_OK);
	}
	d->vq[0].num = r.num;
	d->vq[0].desc_gpa = r.desc;
	d->vq[0].avail_gpa = r.avail;
	d->vq[0].used_gpa = r.used;
	d->vq[0].ready = true;
	virtio_set_status(d, st | VIRTIO_STATUS_DRIVER_OK);
	assert_false(d->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(d->status & VIRTIO_STATUS_DRIVER_OK);
}

#endif
