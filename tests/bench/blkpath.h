/* kvmini-blkpath: kvmini's real virtio-blk device (devices/virtio/blk*.c and
 * its block engines) driven through simulated guest split rings in host
 * memory -- no VM, no KVM. Between blkpath.c (options, the backing file,
 * threads, the report) and blkpath_guest.c (the guest side: negotiation,
 * rings, the driver loop, the fake transport). */
#ifndef KVMINI_TESTS_BENCH_BLKPATH_H
#define KVMINI_TESTS_BENCH_BLKPATH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "guest_mem.h"
#include "virtio/blk.h"
#include "vmm/iothread.h"

enum bp_rw { BP_RANDREAD, BP_RANDWRITE, BP_READ };

struct bp_opts {
	const char *file;             /* NULL: a file of our own on /dev/shm */
	uint64_t size;                /* bytes of the file the I/O covers */
	bool size_set;
	unsigned queues, qd, qsize, iothreads, poll_us;
	uint32_t bs;
	enum bp_rw rw;
	double runtime;               /* seconds; 0: prepare the file and exit */
	enum blk_aio_kind aio;
	enum blk_cache cache;
	bool json, notify_direct, event_idx, indirect;
};

/* One queue: the guest driver's view of its rings, and its counters. */
struct bp_queue {
	struct bp *b;
	uint16_t index;
	uint8_t *desc, *avail, *used;         /* host views of the rings */
	uint8_t *meta, *data;                 /* per slot: table, header, status; buffers */
	uint64_t desc_gpa, avail_gpa, used_gpa, meta_gpa, data_gpa;
	uint16_t avail_idx, kicked_idx, last_used;
	unsigned inflight;
	uint64_t rng, seq_off;
	int kick_fd, irq_fd;                  /* "ioeventfd" and "irqfd" */
	struct io_watch kick_w, done_w;
	struct iothread *io;                  /* the one serving this queue */
	pthread_t thread;
	clockid_t cpu_clock;
	/* the driver's, read by main after the stop */
	uint64_t ios, errors, kicks, wakeups;
	uint64_t completed;                   /* every answer, the drain's too */
	atomic_uint_fast64_t ios_live;        /* ios so far, for the window's edges */
	uint64_t irqs;                        /* under the device lock */
	uint64_t kick_calls, done_calls;      /* the iothread's callbacks */
};

struct bp {
	struct bp_opts o;
	uint8_t *ram;
	uint64_t ram_size;
	struct guest_mem gm;
	struct blk_file file;
	struct virtio_blk blk;
	uint64_t span;                        /* offsets fall in [0, span) */
	struct bp_queue q[VIRTIO_BLK_MAX_QUEUES];
	struct iothread io[VIRTIO_BLK_MAX_QUEUES];
	atomic_bool stop;                     /* stop posting, drain, leave */
	atomic_bool broken;                   /* the device asked for a reset */
};

/* Guest RAM for every queue's rings, slots and buffers, registered as
 * guest memory; then the Linux driver's negotiation up to DRIVER_OK. 0, or
 * -errno with err filled. The device must be initialised. */
int bp_guest_setup(struct bp *b, char *err, size_t errlen);
void bp_guest_teardown(struct bp *b);
/* One queue's driver thread (arg: struct bp_queue *). */
void *bp_driver_main(void *arg);
/* The iothread callbacks: a kick (the ioeventfd), an engine completion. */
void bp_on_kick(struct io_watch *w);
void bp_on_done(struct io_watch *w);

#endif
