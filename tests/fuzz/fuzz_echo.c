/* The transport targets' device: see fuzz_echo.h. */
#include "fuzz_echo.h"

#include "fuzz_common.h"
#include "iov.h"

static struct echo *to_echo(struct virtio_dev *d)
{
	return d->dev_priv;
}

static void echo_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, uint32_t len)
{
	FZ_CHECK(off <= ECHO_CONFIG_SIZE && len <= ECHO_CONFIG_SIZE - off);
	memcpy(data, to_echo(d)->cfg + off, len);
}

static void echo_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data, uint32_t len)
{
	FZ_CHECK(off <= ECHO_CONFIG_SIZE && len <= ECHO_CONFIG_SIZE - off);
	memcpy(to_echo(d)->cfg + off, data, len);
}

static int echo_activate(struct virtio_dev *d)
{
	to_echo(d)->activations++;
	return 0;
}

static void echo_reset(struct virtio_dev *d)
{
	to_echo(d)->resets++;
}

static int handle(void *ctx, const struct virtq_elem *e)
{
	static const uint8_t pattern[64] = "echo echo echo echo echo echo echo echo echo echo echo echo!!";
	struct echo *x = ctx;
	uint8_t first = 0;

	if (e->nout && iov_to_buf(e->iov, e->nout, 0, &first, 1) == 1 && first == 0xee)
		return -1;
	size_t n = e->in_len < sizeof(pattern) ? (size_t)e->in_len : sizeof(pattern);
	FZ_CHECK(iov_from_buf(e->iov + e->nout, e->nin, 0, pattern, n) == n);
	x->served++;
	return (int)n;
}

static void echo_queue_notify(struct virtio_dev *d, uint16_t q)
{
	struct echo *x = to_echo(d);

	pthread_mutex_lock(&d->lock);
	/* Notifications through an ioeventfd reach the device whatever its
	 * state: it checks, as blk and net do. */
	if ((d->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	    VIRTIO_STATUS_DRIVER_OK && q < d->num_queues && d->vq[q].ready)
		virtio_queue_serve(d, q, x->e, handle, x);
	pthread_mutex_unlock(&d->lock);
}

static struct virtio_dev_ops echo_ops[2] = {
	{ .name = "echo", .device_id = 1, .num_queues = 1, .queue_max_size = 64,
	  .config_size = ECHO_CONFIG_SIZE, .config_read = echo_config_read,
	  .config_write = echo_config_write, .activate = echo_activate, .reset = echo_reset,
	  .queue_notify = echo_queue_notify },
	{ .name = "echo", .device_id = 2, .num_queues = 1, .queue_max_size = 64,
	  .config_size = ECHO_CONFIG_SIZE, .config_read = echo_config_read,
	  .config_write = echo_config_write, .activate = echo_activate, .reset = echo_reset,
	  .queue_notify = echo_queue_notify },
};

void echo_init(struct echo *x, uint32_t device_id, uint16_t num_queues, uint64_t features,
	       struct guest_mem *mem, const struct virtio_platform *platform)
{
	struct virtq_elem *e = x->e;

	memset(x, 0, sizeof(*x));
	x->e = e ? e : virtq_elem_new(64);     /* the queues' largest size, as a device sizes it */
	FZ_CHECK(x->e);
	for (unsigned i = 0; i < ECHO_CONFIG_SIZE; i++)
		x->cfg[i] = (uint8_t)(0x40 + i);
	virtio_dev_init(&x->d, &echo_ops[device_id == 2], x, features, mem, platform);
	virtio_dev_set_num_queues(&x->d, num_queues);
}

void echo_destroy(struct echo *x)
{
	virtio_dev_destroy(&x->d);
}
