/* virtio-blk (virtio 1.2 §5.2): 1..16 request queues, each served
 * asynchronously through its own block engine (blk_aio.h) over one
 * blk_file backend. Knows nothing of its transport, nor of threads: the host
 * calls virtio_blk_queue_complete() when a queue's engine fd is readable. */
#ifndef KVMINI_DEVICES_VIRTIO_BLK_H
#define KVMINI_DEVICES_VIRTIO_BLK_H

#include <stdint.h>

#include "guest_mem.h"
#include "virtio/blk_aio.h"
#include "virtio/blk_file.h"
#include "virtio/virtio.h"
#include "virtio/virtq.h"
#include "virtio/vq_poll.h"

#define VIRTIO_ID_BLOCK 2

/* Feature bits (§5.2.3) */
#define VIRTIO_BLK_F_SIZE_MAX      1
#define VIRTIO_BLK_F_SEG_MAX       2
#define VIRTIO_BLK_F_GEOMETRY      4
#define VIRTIO_BLK_F_RO            5
#define VIRTIO_BLK_F_BLK_SIZE      6
#define VIRTIO_BLK_F_FLUSH         9
#define VIRTIO_BLK_F_TOPOLOGY      10
#define VIRTIO_BLK_F_CONFIG_WCE    11
#define VIRTIO_BLK_F_MQ            12
#define VIRTIO_BLK_F_DISCARD       13
#define VIRTIO_BLK_F_WRITE_ZEROES  14

/* Request types (§5.2.6) */
#define VIRTIO_BLK_T_IN            0
#define VIRTIO_BLK_T_OUT           1
#define VIRTIO_BLK_T_FLUSH         4
#define VIRTIO_BLK_T_FLUSH_OUT     5     /* legacy synonym of FLUSH (§5.2.6.4) */
#define VIRTIO_BLK_T_GET_ID        8
#define VIRTIO_BLK_T_DISCARD       11
#define VIRTIO_BLK_T_WRITE_ZEROES  13

/* Status byte (§5.2.6) */
#define VIRTIO_BLK_S_OK            0
#define VIRTIO_BLK_S_IOERR         1
#define VIRTIO_BLK_S_UNSUPP        2

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u
#define VIRTIO_BLK_ID_BYTES        20
#define VIRTIO_BLK_SECTOR_SIZE     512u

/* Config space offsets (§5.2.4, struct virtio_blk_config; packed) */
#define VIRTIO_BLK_CFG_CAPACITY        0    /* le64 */
#define VIRTIO_BLK_CFG_SIZE_MAX        8    /* le32 */
#define VIRTIO_BLK_CFG_SEG_MAX         12   /* le32 */
#define VIRTIO_BLK_CFG_GEOMETRY        16   /* le16 cylinders, u8 heads, u8 sectors */
#define VIRTIO_BLK_CFG_BLK_SIZE        20   /* le32 */
#define VIRTIO_BLK_CFG_PHYS_BLOCK_EXP  24   /* u8 */
#define VIRTIO_BLK_CFG_ALIGN_OFFSET    25   /* u8 */
#define VIRTIO_BLK_CFG_MIN_IO_SIZE     26   /* le16 */
#define VIRTIO_BLK_CFG_OPT_IO_SIZE     28   /* le32 */
#define VIRTIO_BLK_CFG_WRITEBACK       32   /* u8 */
#define VIRTIO_BLK_CFG_NUM_QUEUES      34   /* le16 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG     40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN       44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS      48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG          52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP        56   /* u8, then 3 bytes padding */
#define VIRTIO_BLK_CONFIG_SIZE             60

#define VIRTIO_BLK_QUEUE_SIZE      256
/* Largest single segment we announce (VIRTIO_BLK_F_SIZE_MAX). The backend has
 * no per-segment limit; 1 MiB keeps a request's bounce chunks and the guest's
 * scatter lists reasonable. */
#define VIRTIO_BLK_SIZE_MAX        (1u << 20)
/* Limits we advertise for DISCARD / WRITE_ZEROES (per segment, segments). */
#define VIRTIO_BLK_MAX_DWZ_SECTORS (1u << 21)    /* 1 GiB */
#define VIRTIO_BLK_MAX_DWZ_SEG     32u

#define VIRTIO_BLK_MAX_QUEUES      16

struct virtio_blk_stats {
	uint64_t reads, writes, flushes, discards, write_zeroes, get_ids;
	uint64_t read_bytes, write_bytes;
	uint64_t ioerr, unsupp, malformed;
};

struct blk_req;

/* One request queue: its engine, and a slot per request in flight. */
struct virtio_blk_queue {
	struct virtio_blk *blk;
	uint16_t index;
	struct blk_aio *aio;
	struct blk_req *slots;       /* as many as the driver's queue size, from DRIVER_OK */
	uint16_t nslots;
	struct blk_req *free;        /* free slots */
	unsigned busy;               /* slots in use */
	struct vq_poll poll;         /* the serving thread's alone */
};

struct virtio_blk_opts {
	const char *serial;          /* GET_ID's answer (first 20 bytes) */
	uint16_t num_queues;         /* 1..VIRTIO_BLK_MAX_QUEUES; more than 1 offers MQ */
	enum blk_aio_kind aio;       /* engine of every queue */
	uint32_t poll_us;            /* most a queue is polled before sleeping; 0: never */
};

struct virtio_blk {
	struct virtio_dev vdev;      /* embedded; vdev.dev_priv == this */
	struct blk_file *backend;
	char serial[VIRTIO_BLK_ID_BYTES + 1];
	struct virtq_elem *elem;     /* scratch for pops (it's big), under vdev.lock */
	struct virtio_blk_queue q[VIRTIO_BLK_MAX_QUEUES];
	enum blk_aio_kind aio_kind;  /* the engine in use (AUTO resolved) */
	struct virtio_blk_stats stats;   /* under vdev.lock */
};

/* backend stays owned by the caller and must outlive the device. Opens
 * one engine per queue: 0, or -errno (-ENOSYS/-EPERM: io_uring asked for
 * and refused). */
int virtio_blk_init(struct virtio_blk *b, struct blk_file *backend,
		    const struct virtio_blk_opts *o, struct guest_mem *mem,
		    const struct virtio_platform *platform);
/* Waits for requests in flight, then frees everything. */
void virtio_blk_destroy(struct virtio_blk *b);

/* The fd to watch for queue q's completions (an eventfd: read it, then call
 * virtio_blk_queue_complete), for the device's whole life. */
int virtio_blk_queue_fd(const struct virtio_blk *b, uint16_t q);
/* Completes what queue q's engine finished, hands it to the driver, and
 * takes more requests if there is room. Any thread; takes vdev.lock. */
void virtio_blk_queue_complete(struct virtio_blk *b, uint16_t q);
/* The same, then, from a thread that may busy-wait (an I/O thread, never
 * a vCPU's): while the queue keeps finding work within its adaptive
 * window (vq_poll.h; at most poll_us), polls its completions and avail
 * ring with kicks off; returns with kicks on. Serves both the queue's
 * kicks and its engine's completions. */
void virtio_blk_queue_poll(struct virtio_blk *b, uint16_t q, const struct vq_poll_env *env);
/* Polling's counters, summed over the queues (read them when the serving
 * threads have stopped). */
void virtio_blk_poll_stats(const struct virtio_blk *b, struct vq_poll_stats *s);
/* Requests of queue q between pop and completion. */
unsigned virtio_blk_inflight(struct virtio_blk *b, uint16_t q);

/* Snapshots. quiesce waits for every request in flight and answers it
 * (data in guest memory, used entries published, the driver interrupted):
 * afterwards the device writes no guest memory until it is kicked again.
 * Call with the queues' notifications stopped (vCPUs and I/O threads
 * parked). save/load: the device's own part (blk_state.c; the order of a
 * restore: virtio_state.h). */
struct state_w;
struct state_r;
void virtio_blk_quiesce(struct virtio_blk *b);
void virtio_blk_save_state(struct virtio_blk *b, struct state_w *w);
int virtio_blk_load_state(struct virtio_blk *b, struct state_r *r);

#endif
