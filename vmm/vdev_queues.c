/* kvmini ctl SOCK queues: every device's queues as both sides see them now
 * (devices/virtio/virtq.h, struct virtq_view), for telling "the device
 * waits for a kick" from "the driver waits for an interrupt" in a guest
 * that stopped moving. Read-only. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include "vmm/vdev.h"

static void queue_json(FILE *f, unsigned i, const struct virtq_view *v)
{
	fprintf(f, "{\"index\": %u, \"layout\": \"%s\", \"size\": %u, \"event_idx\": %s, "
		"\"broken\": %s, \"desc\": \"0x%" PRIx64 "\", \"driver\": \"0x%" PRIx64 "\", "
		"\"device\": \"0x%" PRIx64 "\", \"last_avail\": %u, \"used\": %u, \"signalled\": %u, ",
		i, v->packed ? "packed" : "split", v->num, v->event_idx ? "true" : "false",
		v->broken ? "true" : "false", v->desc_gpa, v->avail_gpa, v->used_gpa, v->last_avail,
		v->used, v->signalled);
	if (v->packed)
		fprintf(f, "\"avail_wrap\": %d, \"used_wrap\": %d, \"signalled_wrap\": %d, "
			"\"in_flight\": %u, \"next_flags\": \"0x%04x\", ",
			v->avail_wrap, v->used_wrap, v->signalled_wrap, v->in_flight, v->next_flags);
	else
		fprintf(f, "\"signalled_valid\": %s, \"avail_idx\": %u, \"used_ring_idx\": %u, ",
			v->signalled_valid ? "true" : "false", v->avail_idx, v->used_ring_idx);
	fprintf(f, "\"has_work\": %s, \"driver_flags\": \"0x%04x\", \"driver_event\": \"0x%04x\", "
		"\"device_flags\": \"0x%04x\", \"device_event\": \"0x%04x\"}",
		v->has_work ? "true" : "false", v->drv_flags, v->drv_event, v->dev_flags,
		v->dev_event);
}

void vdev_queues_json(struct vdev *v, FILE *f)
{
	struct virtio_dev *d = v->vd;
	struct virtq_view qv[VIRTIO_MAX_QUEUES];
	uint16_t n;
	uint8_t status;
	uint64_t features;

	/* One consistent picture: the device lock keeps the I/O thread out
	 * while we look (the guest's side may move; that is the point). */
	pthread_mutex_lock(&d->lock);
	n = d->num_queues;
	status = d->status;
	features = d->guest_features & d->host_features;
	for (uint16_t i = 0; i < n; i++)
		virtq_view(&d->vq[i], &qv[i]);
	pthread_mutex_unlock(&d->lock);

	fprintf(f, "{\"option\": \"%s\", \"index\": %d, \"status\": \"0x%02x\", "
		"\"features\": \"0x%" PRIx64 "\", \"legacy\": %s, \"queues\": [",
		v->cls->opt, v->index, status, features, d->legacy ? "true" : "false");
	for (uint16_t i = 0, k = 0; i < n; i++) {
		if (!qv[i].ready)
			continue;
		fputs(k++ ? ", " : "", f);
		queue_json(f, i, &qv[i]);
	}
	fputs("]", f);
	if (v->cls->stats_json) {
		fputs(", \"counters\": ", f);
		v->cls->stats_json(v, v->index, f);
	}
	fputs("}", f);
}
