/* virtio-console (virtio 1.2 §5.3) with VIRTIO_CONSOLE_F_MULTIPORT: up to
 * VIRTIO_CONSOLE_MAX_PORTS ports, each a receive/transmit queue pair, and a
 * control queue pair on which ports are announced, named, made consoles and
 * opened or closed (console_ctrl.c). Knows nothing of its transport.
 *
 * Ports are numbered by the host before the guest runs; port 0 may be the
 * console port (hvc0 in Linux), any port may carry a name (PORT_NAME: Linux
 * shows it as /sys/class/virtio-ports/vportNpM/name). A port the host did
 * not add stays unannounced; its queues exist but carry nothing.
 *
 * The host side of a port: the guest's bytes go to host->output; bytes for
 * the guest are copied by virtio_console_send() straight into receive
 * buffers the guest posted, as many as there is room for. When a send came
 * up short, the device calls host->writable once the guest has added
 * buffers (as virtio-net's rx_poll). Only a port the guest has open takes
 * data: Linux discards what arrives on a closed port.
 *
 * Threads: everything runs under vdev.lock. The host callbacks are called
 * with it held, from whichever thread serves the device (or from the vCPU
 * resetting it): they must not call back into the device. */
#ifndef KVMINI_DEVICES_VIRTIO_CONSOLE_H
#define KVMINI_DEVICES_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"
#include "virtio/virtio.h"
#include "virtio/virtq.h"

#define VIRTIO_ID_CONSOLE 3

/* Feature bits (§5.3.3) */
#define VIRTIO_CONSOLE_F_SIZE        0
#define VIRTIO_CONSOLE_F_MULTIPORT   1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

/* Config space (§5.3.4): le16 cols, le16 rows, le32 max_nr_ports, le32
 * emerg_wr; in the device's byte order for a legacy device. */
#define VIRTIO_CONSOLE_CFG_COLS         0
#define VIRTIO_CONSOLE_CFG_ROWS         2
#define VIRTIO_CONSOLE_CFG_MAX_NR_PORTS 4
#define VIRTIO_CONSOLE_CFG_EMERG_WR     8
#define VIRTIO_CONSOLE_CONFIG_SIZE      12

/* Control messages (§5.3.6.2): le32 id, le16 event, le16 value, then for
 * PORT_NAME the name (we send it NUL-terminated, as QEMU does). */
#define VIRTIO_CONSOLE_DEVICE_READY  0
#define VIRTIO_CONSOLE_DEVICE_ADD    1
#define VIRTIO_CONSOLE_DEVICE_REMOVE 2
#define VIRTIO_CONSOLE_PORT_READY    3
#define VIRTIO_CONSOLE_CONSOLE_PORT  4
#define VIRTIO_CONSOLE_RESIZE        5
#define VIRTIO_CONSOLE_PORT_OPEN     6
#define VIRTIO_CONSOLE_PORT_NAME     7
#define VIRTIO_CONSOLE_CTRL_LEN      8

/* Queues (§5.3.2): port 0 receive 0, transmit 1; control receive 2,
 * transmit 3; port N >= 1: 2N+2 and 2N+3. VIRTIO_MAX_QUEUES (32) makes 15
 * ports. */
#define VIRTIO_CONSOLE_CTRL_RXQ      2
#define VIRTIO_CONSOLE_CTRL_TXQ      3
#define VIRTIO_CONSOLE_MAX_PORTS     15
#define VIRTIO_CONSOLE_NAME_MAX      63
#define VIRTIO_CONSOLE_QUEUE_SIZE    64
/* Control messages waiting for the driver's receive buffers: every port's
 * announcements (add, console, name, open) fit. */
#define VIRTIO_CONSOLE_OUTBOX        64

static inline uint16_t virtio_console_rxq(unsigned port)
{
	return (uint16_t)(port == 0 ? 0 : 2 * port + 2);
}

static inline uint16_t virtio_console_txq(unsigned port)
{
	return (uint16_t)(virtio_console_rxq(port) + 1);
}

/* What the host hears from the device (see the top of this file). */
struct virtio_console_host_ops {
	/* Bytes the guest wrote to port. */
	void (*output)(void *opaque, unsigned port, const uint8_t *buf, size_t len);
	/* The guest opened (true) or closed (false) port; a reset closes
	 * every open port. */
	void (*guest_open)(void *opaque, unsigned port, bool open);
	/* A short virtio_console_send() on port can go on: the guest posted
	 * receive buffers. */
	void (*writable)(void *opaque, unsigned port);
};

struct virtio_console_port {
	/* Set by the host before the guest runs. */
	bool present;
	bool console;
	char name[VIRTIO_CONSOLE_NAME_MAX + 1];   /* "": no name */
	bool host_open;                  /* PORT_OPEN 1 towards the guest */
	/* The driver's view, forgotten at reset. */
	bool added;                      /* DEVICE_ADD sent */
	bool ready;                      /* the driver said PORT_READY 1 */
	bool guest_open;
	bool want_writable;              /* a send came up short */
	uint64_t rx_bytes, tx_bytes;     /* to the guest, from the guest */
};

struct virtio_console_msg {
	uint32_t id;
	uint16_t event, value;
};

struct virtio_console_stats {
	uint64_t rx_bytes, tx_bytes;     /* to the guest, from the guest (all ports) */
	uint64_t ctrl_in, ctrl_out;      /* control messages from / to the driver */
	uint64_t ctrl_bad;               /* short, out of range, or unexpected: ignored */
	uint64_t ctrl_dropped;           /* outbox full */
	uint64_t discarded;              /* bytes from the guest on a port nobody has */
	uint64_t malformed;              /* chains that set NEEDS_RESET */
};

struct virtio_console {
	struct virtio_dev vdev;          /* embedded; vdev.dev_priv == this */
	unsigned nports;                 /* max_nr_ports: ids 0..nports-1 */
	struct virtio_console_port port[VIRTIO_CONSOLE_MAX_PORTS];
	/* Control messages for the driver, oldest at out_head. */
	struct virtio_console_msg outbox[VIRTIO_CONSOLE_OUTBOX];
	unsigned out_head, out_len;
	const struct virtio_console_host_ops *host;
	void *host_opaque;
	struct virtq_elem *elem;         /* scratch for pops (it's big) */
	struct virtio_console_stats stats;
};

/* nports: 1..VIRTIO_CONSOLE_MAX_PORTS. multiport: offer F_MULTIPORT (with
 * it nports ports and the control queues; without, port 0 alone, which the
 * driver takes for a console). 0 or -errno. */
int virtio_console_init(struct virtio_console *c, unsigned nports, bool multiport,
			struct guest_mem *mem, const struct virtio_platform *platform);
void virtio_console_destroy(struct virtio_console *c);

/* Before the guest runs: port id exists, with name (NULL or "": none; at
 * most VIRTIO_CONSOLE_NAME_MAX bytes) and as the console port or not. 0 or
 * -EINVAL. */
int virtio_console_add_port(struct virtio_console *c, unsigned id, const char *name,
			    bool console);
/* Before the guest runs. */
void virtio_console_set_host(struct virtio_console *c, const struct virtio_console_host_ops *ops,
			     void *opaque);

/* Copies up to len bytes into port's receive buffers; returns how many
 * (0 while the guest does not have the port open). Takes vdev.lock. */
size_t virtio_console_send(struct virtio_console *c, unsigned port, const void *buf, size_t len);
/* The host end of port opens or closes (PORT_OPEN towards the guest: a
 * Linux reader sees end-of-file once the host is closed and the data read;
 * a Linux writer waits while it is closed). Ports start closed. Takes
 * vdev.lock. */
void virtio_console_set_host_open(struct virtio_console *c, unsigned port, bool open);
bool virtio_console_guest_open(struct virtio_console *c, unsigned port);

/* Snapshots (console_state.c; the order of a restore: virtio_state.h):
 * the ports as the driver knows them, the control messages waiting, the
 * counters. Nothing is held between calls: no quiesce is needed. Load
 * onto a device whose ports were added as the saved one's were. */
struct state_w;
struct state_r;
void virtio_console_save_state(struct virtio_console *c, struct state_w *w);
int virtio_console_load_state(struct virtio_console *c, struct state_r *r);

#endif
