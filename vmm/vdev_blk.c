/* --disk: a virtio-blk device on the disk image backends.c opened, its
 * queues spread over the disk I/O threads, each queue's engine watched on
 * the thread that serves the queue's kicks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio/blk.h"
#include "vmm/backends.h"
#include "vmm/vdev.h"
#include "vmm/vm.h"

struct blk_host {
	struct virtio_blk dev;
	bool ready;
	struct io_watch done[VIRTIO_BLK_MAX_QUEUES];   /* engine completions */
	struct vdev *v;
};

static void completions(struct io_watch *w)
{
	struct blk_host *b = w->opaque;
	uint64_t cnt;

	if (read(w->fd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: another pass already took them; look anyway */
	}
	uint16_t q = (uint16_t)(w - b->done);
	struct vq_poll_env env = iothread_poll_env(b->v->queue_io[q]);
	virtio_blk_queue_poll(&b->dev, q, &env);
}

static int count(const struct vm_config *cfg)
{
	return cfg->ndisks;
}

static const struct transport_config *transport(const struct vm_config *cfg, int i)
{
	return &cfg->disks[i].t;
}

static int create(struct vdev *v, int i, char *err, size_t errlen)
{
	const struct vm_config *cfg = vdev_config(v);
	const struct disk_config *dc = &cfg->disks[i];
	struct vm *vm = vdev_vm(v);
	struct blk_host *b = calloc(1, sizeof(*b));
	char serial[32];      /* the device keeps the first 20 bytes */
	int r;

	if (!b)
		return -ENOMEM;
	v->priv = b;
	b->v = v;
	snprintf(serial, sizeof(serial), "kvmini-disk%d", i);
	struct virtio_blk_opts o = { .serial = serial,
				     .num_queues = (uint16_t)cli_disk_queues(cfg, dc),
				     .aio = vm->env->backends->disk_aio[i],
				     .poll_us = (uint32_t)dc->poll_us };
	r = virtio_blk_init(&b->dev, &vm->env->backends->disks[i], &o, &vm->mem,
			    vdev_platform(v));
	if (r) {
		snprintf(err, errlen, "--disk: cannot set up '%s': %s", dc->path, strerror(-r));
		return r;
	}
	b->ready = true;
	v->vd = &b->dev.vdev;
	for (uint16_t q = 0; q < o.num_queues; q++) {
		struct iothread *io = vdev_disk_iothread(v, dc->iothread);
		if (!io)
			return -EAGAIN;
		vdev_set_queue_io(v, q, io);
		b->done[q] = (struct io_watch){ .fd = virtio_blk_queue_fd(&b->dev, q),
						.cb = completions, .opaque = b };
		if ((r = iothread_add(io, &b->done[q]))) {
			snprintf(err, errlen, "--disk: cannot watch '%s': %s", dc->path,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

static void destroy(struct vdev *v)
{
	struct blk_host *b = v->priv;

	if (b && b->ready)
		virtio_blk_destroy(&b->dev);
	free(b);
	v->priv = NULL;
}

/* Polling's cost beside what it found: the CPU it burnt is visible. */
static void poll_stats(struct blk_host *b, FILE *out, bool json)
{
	struct vq_poll_stats p;

	virtio_blk_poll_stats(&b->dev, &p);
	fprintf(out, json ? ", \"poll_max_us\": %u, \"polls\": %llu, \"polls_found\": %llu, "
			    "\"poll_us\": %llu" :
			    " poll_max_us %u polls %llu found %llu poll_us %llu",
		(unsigned)(b->dev.q[0].poll.max_ns / 1000), (unsigned long long)p.polls,
		(unsigned long long)p.found, (unsigned long long)(p.ns / 1000));
}

static void stats(struct vdev *v, int i, FILE *out)
{
	struct blk_host *b = v->priv;
	const struct virtio_blk_stats *s = &b->dev.stats;

	fprintf(out, "kvmini: stats: disk%d: aio %s queues %u reads %llu (%llu bytes) "
		"writes %llu (%llu bytes) flushes %llu discards %llu write_zeroes %llu "
		"ioerr %llu unsupp %llu malformed %llu",
		i, blk_aio_kind_name(b->dev.aio_kind), b->dev.vdev.num_queues,
		(unsigned long long)s->reads, (unsigned long long)s->read_bytes,
		(unsigned long long)s->writes, (unsigned long long)s->write_bytes,
		(unsigned long long)s->flushes, (unsigned long long)s->discards,
		(unsigned long long)s->write_zeroes, (unsigned long long)s->ioerr,
		(unsigned long long)s->unsupp, (unsigned long long)s->malformed);
	poll_stats(b, out, false);
	fputc('\n', out);
}

static void stats_json(struct vdev *v, int i, FILE *out)
{
	struct blk_host *b = v->priv;
	const struct virtio_blk_stats *s = &b->dev.stats;

	fprintf(out, "{\"device\": \"disk%d\", \"aio\": \"%s\", \"queues\": %u, \"reads\": %llu, "
		"\"read_bytes\": %llu, \"writes\": %llu, \"write_bytes\": %llu, \"flushes\": %llu, "
		"\"discards\": %llu, \"write_zeroes\": %llu, \"ioerr\": %llu, \"unsupp\": %llu, "
		"\"malformed\": %llu",
		i, blk_aio_kind_name(b->dev.aio_kind), b->dev.vdev.num_queues,
		(unsigned long long)s->reads, (unsigned long long)s->read_bytes,
		(unsigned long long)s->writes, (unsigned long long)s->write_bytes,
		(unsigned long long)s->flushes, (unsigned long long)s->discards,
		(unsigned long long)s->write_zeroes, (unsigned long long)s->ioerr,
		(unsigned long long)s->unsupp, (unsigned long long)s->malformed);
	poll_stats(b, out, true);
	fputc('}', out);
}

static void quiesce(struct vdev *v)
{
	virtio_blk_quiesce(&((struct blk_host *)v->priv)->dev);
}

static void save(struct vdev *v, struct state_w *w)
{
	virtio_blk_save_state(&((struct blk_host *)v->priv)->dev, w);
}

static int load(struct vdev *v, struct state_r *r)
{
	return virtio_blk_load_state(&((struct blk_host *)v->priv)->dev, r);
}

const struct vdev_class vdev_blk_class = {
	.opt = "--disk", .count = count, .transport = transport,
	.create = create, .destroy = destroy, .stats = stats, .stats_json = stats_json,
	.quiesce = quiesce, .save = save, .load = load,
};
