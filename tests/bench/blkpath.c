/* kvmini-blkpath: how fast is kvmini's virtio-blk device path, without a VM?
 *
 * The real device (devices/virtio/blk.c, blk_req.c, the blk_aio engines)
 * serves simulated guest split rings in host memory (blkpath_guest.c). Per
 * queue, a driver thread keeps --qd requests in flight; an iothread (kvmini's
 * own vmm/iothread.c) watches the queue's kick eventfd (as KVM's ioeventfd)
 * and its engine's eventfd, and calls ops->queue_notify and
 * virtio_blk_queue_complete exactly as vmm/virtio_kvm.c and vmm/vdev_blk.c
 * do; the device's interrupts wake the driver through an eventfd (as an
 * irqfd). Prints kIOPS, MB/s and the process's CPU time per I/O.
 *
 * A benchmark, not a test: no assertion on time anywhere, not run by ctest.
 * tests/bench/blkpath.sh sets it beside fio on the same file. */
#define _GNU_SOURCE
#include "blkpath.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/cli.h"
#include "vmm/size.h"

#define PROG "kvmini-blkpath"
#define FILL_CHUNK (1u << 20)

static struct bp bench;
static bool file_open, dev_open;
static unsigned iothreads_started;

static const char usage[] =
	"usage: " PROG " [options]\n"
	"  --file PATH         backing file (default: a new file on /dev/shm, removed at the end);\n"
	"                      created and filled if missing or shorter than --size\n"
	"  --size SIZE         bytes the I/O covers (default 1G, or the existing file's size)\n"
	"  --queues N          request queues, each with a driver thread (1-16, default 1)\n"
	"  --iothreads N       iothreads serving them (default: one per queue)\n"
	"  --qd N              requests in flight per queue (default 32)\n"
	"  --qsize N           ring size (power of two, 2-256, default 256 as Linux takes)\n"
	"  --bs SIZE           request size, a multiple of 512 up to 1M (default 4k)\n"
	"  --rw MODE           randread (default), randwrite, read (sequential)\n"
	"  --runtime SECONDS   measured time (default 5; 0: only prepare the file)\n"
	"  --ramp SECONDS      run this long before measuring (default 0)\n"
	"  --aio ENGINE        io_uring, threads, sync, auto (default auto)\n"
	"  --cache MODE        writeback (default) or none (O_DIRECT)\n"
	"  --notify HOW        eventfd (default: an iothread, as with ioeventfd) or\n"
	"                      direct (queue_notify on the driver thread, as --no-ioeventfd)\n"
	"  --poll USECS        the iothread polls each queue up to this long before\n"
	"                      sleeping, as --disk ...,poll= (default 0: never)\n"
	"  --no-event-idx      do not negotiate EVENT_IDX\n"
	"  --no-indirect       do not negotiate INDIRECT_DESC (3 descriptors a request)\n"
	"  --json              one JSON object on stdout instead of text\n";

static int bad(const char *opt, const char *val, const char *what)
{
	fprintf(stderr, PROG ": %s: '%s' %s\n", opt, val, what);
	return -EINVAL;
}

static int parse_uint(const char *opt, const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	char *end, what[64];
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi) {
		snprintf(what, sizeof(what), "is not a number from %u to %u", lo, hi);
		return bad(opt, v, what);
	}
	*out = (unsigned)n;
	return 0;
}

static int parse_seconds(const char *opt, const char *v, double *out)
{
	char *end;
	double s = strtod(v, &end);
	if (end == v || *end || !(s >= 0 && s <= 86400))
		return bad(opt, v, "is not a number of seconds from 0 to 86400");
	*out = s;
	return 0;
}

static int parse_opts(int argc, char **argv, struct bp_opts *o, double *ramp)
{
	enum { O_FILE = 256, O_SIZE, O_QUEUES, O_IOTHREADS, O_QD, O_QSIZE, O_BS, O_RW, O_RUNTIME,
	       O_RAMP, O_AIO, O_CACHE, O_NOTIFY, O_POLL, O_NO_EVENT_IDX, O_NO_INDIRECT, O_JSON, O_HELP };
	static const struct option lo[] = {
		{ "file", 1, 0, O_FILE }, { "size", 1, 0, O_SIZE }, { "queues", 1, 0, O_QUEUES },
		{ "iothreads", 1, 0, O_IOTHREADS }, { "qd", 1, 0, O_QD }, { "qsize", 1, 0, O_QSIZE },
		{ "bs", 1, 0, O_BS }, { "rw", 1, 0, O_RW }, { "runtime", 1, 0, O_RUNTIME },
		{ "ramp", 1, 0, O_RAMP }, { "aio", 1, 0, O_AIO }, { "cache", 1, 0, O_CACHE },
		{ "notify", 1, 0, O_NOTIFY }, { "poll", 1, 0, O_POLL },
		{ "no-event-idx", 0, 0, O_NO_EVENT_IDX },
		{ "no-indirect", 0, 0, O_NO_INDIRECT }, { "json", 0, 0, O_JSON },
		{ "help", 0, 0, O_HELP }, { 0, 0, 0, 0 } };
	uint64_t v;
	int c, r = 0;

	*o = (struct bp_opts){ .size = 1ull << 30, .queues = 1, .qd = 32, .qsize = 256,
			       .bs = 4096, .rw = BP_RANDREAD, .runtime = 5, .aio = BLK_AIO_AUTO,
			       .cache = BLK_CACHE_WRITEBACK, .event_idx = true, .indirect = true };
	opterr = 0;
	while (!r && (c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_FILE: o->file = optarg; break;
		case O_SIZE:
			if (parse_size(optarg, 0, &v) || v < 512)
				r = bad("--size", optarg, "is not a size (use e.g. 1G or 256M)");
			o->size = v;
			o->size_set = true;
			break;
		case O_QUEUES: r = parse_uint("--queues", optarg, 1, VIRTIO_BLK_MAX_QUEUES, &o->queues); break;
		case O_IOTHREADS: r = parse_uint("--iothreads", optarg, 1, VIRTIO_BLK_MAX_QUEUES, &o->iothreads); break;
		case O_QD: r = parse_uint("--qd", optarg, 1, VIRTIO_BLK_QUEUE_SIZE, &o->qd); break;
		case O_QSIZE:
			r = parse_uint("--qsize", optarg, 2, VIRTIO_BLK_QUEUE_SIZE, &o->qsize);
			if (!r && (o->qsize & (o->qsize - 1)))
				r = bad("--qsize", optarg, "is not a power of two");
			break;
		case O_BS:
			if (parse_size(optarg, 0, &v) || v % 512 || v > VIRTIO_BLK_SIZE_MAX)
				r = bad("--bs", optarg, "is not a multiple of 512 up to 1M");
			o->bs = (uint32_t)v;
			break;
		case O_RW:
			if (!strcmp(optarg, "randread")) o->rw = BP_RANDREAD;
			else if (!strcmp(optarg, "randwrite")) o->rw = BP_RANDWRITE;
			else if (!strcmp(optarg, "read")) o->rw = BP_READ;
			else r = bad("--rw", optarg, "is not randread, randwrite or read");
			break;
		case O_RUNTIME: r = parse_seconds("--runtime", optarg, &o->runtime); break;
		case O_RAMP: r = parse_seconds("--ramp", optarg, ramp); break;
		case O_AIO:
			if (blk_aio_parse_kind(optarg, &o->aio))
				r = bad("--aio", optarg, "is not io_uring, threads, sync or auto");
			break;
		case O_CACHE:
			if (!strcmp(optarg, "none")) o->cache = BLK_CACHE_NONE;
			else if (!strcmp(optarg, "writeback")) o->cache = BLK_CACHE_WRITEBACK;
			else r = bad("--cache", optarg, "is not none or writeback");
			break;
		case O_NOTIFY:
			if (!strcmp(optarg, "direct")) o->notify_direct = true;
			else if (strcmp(optarg, "eventfd")) r = bad("--notify", optarg, "is not eventfd or direct");
			break;
		case O_POLL: r = parse_uint("--poll", optarg, 0, CLI_MAX_DISK_POLL_US, &o->poll_us); break;
		case O_NO_EVENT_IDX: o->event_idx = false; break;
		case O_NO_INDIRECT: o->indirect = false; break;
		case O_JSON: o->json = true; break;
		case O_HELP: case 'h': fputs(usage, stdout); exit(0);
		default:
			fprintf(stderr, PROG ": unknown option, or one without its value: '%s' "
				"(see --help)\n", argv[optind - 1]);
			r = -EINVAL;
		}
	}
	if (!r && optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
		r = -EINVAL;
	}
	if (!r && !o->indirect && o->qd > o->qsize / 3) {
		fprintf(stderr, PROG ": --qd: %u requests of 3 descriptors do not fit a ring of %u "
			"without indirect descriptors\n", o->qd, o->qsize);
		r = -EINVAL;
	}
	if (!r && o->indirect && o->qd > o->qsize) {
		fprintf(stderr, PROG ": --qd: %u is more than the ring size %u\n", o->qd, o->qsize);
		r = -EINVAL;
	}
	if (!o->iothreads || o->iothreads > o->queues)
		o->iothreads = o->queues;
	return r;
}

/* ---- the backing file ---- */

/* Makes path at least size bytes, writing a pattern over what is missing
 * (a hole would read faster than data). Regular files only. */
static int prepare_file(const char *path, uint64_t size, bool create_new)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | (create_new ? 0 : O_CREAT), 0644);
	struct stat st;
	uint8_t *buf;
	int r = 0;

	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, PROG ": --file: cannot open '%s': %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size >= size) {
		close(fd);
		return 0;
	}
	if (!(buf = malloc(FILL_CHUNK))) {
		close(fd);
		return -ENOMEM;
	}
	for (uint64_t off = (uint64_t)st.st_size / FILL_CHUNK * FILL_CHUNK; off < size && !r;) {
		size_t n = size - off < FILL_CHUNK ? (size_t)(size - off) : FILL_CHUNK;
		for (size_t i = 0; i < n; i += 8) {
			uint64_t w = (off + i) * 0x9e3779b97f4a7c15ull | 1;
			memcpy(buf + i, &w, n - i < 8 ? n - i : 8);
		}
		ssize_t k = pwrite(fd, buf, n, (off_t)off);
		if (k <= 0) {
			fprintf(stderr, PROG ": --file: cannot fill '%s': %s\n", path,
				k < 0 ? strerror(errno) : "short write");
			r = -EIO;
		}
		off += k > 0 ? (uint64_t)k : 0;
	}
	if (!r && fdatasync(fd))
		r = -errno;
	free(buf);
	close(fd);
	return r;
}

/* ---- measuring ---- */

struct sample {
	double wall;                  /* seconds */
	double cpu;                   /* process: user + system */
	double driver, iothread;      /* thread CPU, summed */
	uint64_t ios;
};

static double ts_sec(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec * 1e-9;
}

static double clock_sec(clockid_t c)
{
	struct timespec t;
	return clock_gettime(c, &t) ? 0 : ts_sec(&t);
}

static void take_sample(struct bp *b, struct sample *s)
{
	struct rusage ru;
	clockid_t c;

	*s = (struct sample){ .wall = clock_sec(CLOCK_MONOTONIC) };
	for (unsigned i = 0; i < b->o.queues; i++) {
		s->ios += atomic_load_explicit(&b->q[i].ios_live, memory_order_relaxed);
		s->driver += clock_sec(b->q[i].cpu_clock);
	}
	for (unsigned i = 0; i < b->o.iothreads; i++)
		if (!pthread_getcpuclockid(b->io[i].thread, &c))
			s->iothread += clock_sec(c);
	getrusage(RUSAGE_SELF, &ru);
	s->cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 +
		 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static void on_signal(int sig)
{
	atomic_store(&bench.stop, true);
}

/* Sleeps s seconds, or less if a signal asked us to stop. */
static void nap(double s)
{
	double end = clock_sec(CLOCK_MONOTONIC) + s;
	while (!atomic_load(&bench.stop)) {
		double left = end - clock_sec(CLOCK_MONOTONIC);
		if (left <= 0)
			break;
		if (left > 0.1)
			left = 0.1;
		struct timespec t = { 0, (long)(left * 1e9) };
		nanosleep(&t, NULL);
	}
}

static const char *rw_name(enum bp_rw rw)
{
	return rw == BP_RANDREAD ? "randread" : rw == BP_RANDWRITE ? "randwrite" : "read";
}

static void report(struct bp *b, const struct sample *t0, const struct sample *t1,
		   const char *path)
{
	const struct bp_opts *o = &b->o;
	double wall = t1->wall - t0->wall, cpu = t1->cpu - t0->cpu;
	double drv = t1->driver - t0->driver, iot = t1->iothread - t0->iothread;
	uint64_t ios = t1->ios - t0->ios, kicks = 0, irqs = 0, wakeups = 0, errors = 0, io_calls = 0;
	double n = ios ? (double)ios : 1;

	for (unsigned i = 0; i < o->queues; i++) {
		kicks += b->q[i].kicks;
		irqs += b->q[i].irqs;
		wakeups += b->q[i].wakeups;
		errors += b->q[i].errors;
		io_calls += b->q[i].kick_calls + b->q[i].done_calls;
	}
	/* kicks and interrupts over the whole run: per I/O of the whole run */
	uint64_t all = 0;
	for (unsigned i = 0; i < o->queues; i++)
		all += b->q[i].completed;
	double na = all ? (double)all : 1;
	struct vq_poll_stats ps;       /* the whole run's too, like kicks */
	virtio_blk_poll_stats(&b->blk, &ps);
	double kiops = (double)ios / wall / 1e3, mbps = (double)ios * o->bs / wall / 1e6;
	if (o->json) {
		printf("{\"tool\":\"kvmini-blkpath\",\"file\":\"%s\",\"size\":%llu,\"rw\":\"%s\","
		       "\"bs\":%u,\"qd\":%u,\"queues\":%u,\"iothreads\":%u,\"aio\":\"%s\","
		       "\"cache\":\"%s\",\"notify\":\"%s\",\"event_idx\":%s,\"indirect\":%s,"
		       "\"runtime_s\":%.3f,\"ios\":%llu,\"ios_all\":%llu,\"kiops\":%.3f,\"mbps\":%.3f,"
		       "\"cpu_s\":%.3f,\"cpu_us_per_io\":%.4f,\"driver_us_per_io\":%.4f,"
		       "\"iothread_us_per_io\":%.4f,\"kicks_per_io\":%.4f,\"irqs_per_io\":%.4f,"
		       "\"wakeups_per_io\":%.4f,\"iothread_calls_per_io\":%.4f,\"errors\":%llu,"
		       "\"poll_us\":%u,\"polls_per_io\":%.4f,\"poll_found_per_io\":%.4f,"
		       "\"poll_us_per_io\":%.4f}\n",
		       path, (unsigned long long)b->span, rw_name(o->rw), o->bs, o->qd, o->queues,
		       o->iothreads, blk_aio_kind_name(b->blk.aio_kind),
		       o->cache == BLK_CACHE_NONE ? "none" : "writeback",
		       o->notify_direct ? "direct" : "eventfd", o->event_idx ? "true" : "false",
		       o->indirect ? "true" : "false", wall, (unsigned long long)ios,
		       (unsigned long long)all, kiops, mbps,
		       cpu, cpu * 1e6 / n, drv * 1e6 / n, iot * 1e6 / n, kicks / na, irqs / na,
		       wakeups / na, io_calls / na, (unsigned long long)errors,
		       o->poll_us, ps.polls / na, ps.found / na, ps.ns / 1e3 / na);
		return;
	}
	printf(PROG ": %s bs=%u qd=%u queues=%u iothreads=%u aio=%s cache=%s notify=%s "
	       "event_idx=%s indirect=%s\n  file %s (%.2f GiB), %.2f s measured\n",
	       rw_name(o->rw), o->bs, o->qd, o->queues, o->iothreads,
	       blk_aio_kind_name(b->blk.aio_kind), o->cache == BLK_CACHE_NONE ? "none" : "writeback",
	       o->notify_direct ? "direct" : "eventfd", o->event_idx ? "on" : "off",
	       o->indirect ? "on" : "off", path, (double)b->span / (1 << 30), wall);
	printf("  %.1f kIOPS  %.1f MB/s  CPU %.2f us/IO (%.2f cores: drivers %.2f, iothreads %.2f, "
	       "other %.2f)\n  per I/O: %.3f kicks, %.3f interrupts, %.3f driver wake-ups, "
	       "%.3f iothread callbacks; errors %llu\n"
	       "  polling (poll=%u us): %.3f windows and %.3f that found work per I/O, %.2f us polled/IO\n",
	       kiops, mbps, cpu * 1e6 / n, cpu / wall,
	       drv / wall, iot / wall, (cpu - drv - iot) / wall, kicks / na, irqs / na,
	       wakeups / na, io_calls / na, (unsigned long long)errors,
	       o->poll_us, ps.polls / na, ps.found / na, ps.ns / 1e3 / na);
}

/* ---- the run ---- */

static int open_device(struct bp *b, const char *path)
{
	char err[512];
	struct virtio_blk_opts bo = { .serial = "kvmini-blkpath", .num_queues = (uint16_t)b->o.queues,
				      .aio = b->o.aio, .poll_us = b->o.poll_us };
	int r = blk_file_open(&b->file, path, b->o.rw == BP_RANDREAD || b->o.rw == BP_READ,
			      b->o.cache, err, sizeof(err));

	file_open = !r;
	if (r) {
		/* "--disk: ..." names kvmini's option; ours is --file / --cache */
		fprintf(stderr, PROG ": %s\n", strncmp(err, "--disk: ", 8) ? err : err + 8);
		return r;
	}
	b->span = b->o.size_set && b->o.size < b->file.size ? b->o.size : b->file.size;
	b->span = b->span / b->o.bs * b->o.bs;
	if (!b->span) {
		fprintf(stderr, PROG ": '%s' is smaller than one request (%u bytes)\n", path, b->o.bs);
		return -EINVAL;
	}
	if (b->o.bs % b->file.block_size) {
		fprintf(stderr, PROG ": --bs: %u is not a multiple of the O_DIRECT block size %u "
			"of '%s'\n", b->o.bs, b->file.block_size, path);
		return -EINVAL;
	}
	r = virtio_blk_init(&b->blk, &b->file, &bo, &b->gm, NULL);
	dev_open = !r;
	if (r)
		fprintf(stderr, PROG ": --aio %s: cannot open the engine: %s\n",
			blk_aio_kind_name(b->o.aio), strerror(-r));
	return r;
}

static int start_threads(struct bp *b)
{
	int r;

	for (unsigned i = 0; i < b->o.iothreads; i++) {
		if ((r = iothread_start(&b->io[i])))
			return r;
		iothreads_started++;
	}
	for (unsigned i = 0; i < b->o.queues; i++) {
		struct bp_queue *q = &b->q[i];
		struct iothread *io = &b->io[i % b->o.iothreads];
		q->io = io;
		q->done_w = (struct io_watch){ .fd = virtio_blk_queue_fd(&b->blk, q->index),
					       .cb = bp_on_done, .opaque = q };
		q->kick_w = (struct io_watch){ .fd = q->kick_fd, .cb = bp_on_kick, .opaque = q };
		if ((r = iothread_add(io, &q->done_w)) ||
		    (!b->o.notify_direct && (r = iothread_add(io, &q->kick_w))))
			return r;
	}
	for (unsigned i = 0; i < b->o.queues; i++) {
		struct bp_queue *q = &b->q[i];
		if ((r = -pthread_create(&q->thread, NULL, bp_driver_main, q)))
			return r;
		pthread_getcpuclockid(q->thread, &q->cpu_clock);
	}
	return 0;
}

/* Stop posting; every driver drains its queue. A driver still busy after
 * 10 s means a lost interrupt or a stuck device: say so. */
static int stop_threads(struct bp *b)
{
	struct timespec dl;
	int r = 0;

	atomic_store(&b->stop, true);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	for (unsigned i = 0; i < b->o.queues; i++) {
		if (!b->q[i].thread)
			continue;
		if (pthread_timedjoin_np(b->q[i].thread, NULL, &dl)) {
			fprintf(stderr, PROG ": queue %u: %u requests still in flight 10 s after "
				"the stop (a lost interrupt?)\n", i, b->q[i].inflight);
			return -ETIMEDOUT;
		}
	}
	for (unsigned i = 0; i < iothreads_started; i++)
		iothread_stop(&b->io[i]);
	if (atomic_load(&b->broken)) {
		fprintf(stderr, PROG ": the device set NEEDS_RESET (see its message above)\n");
		r = -EPROTO;
	}
	return r;
}

int main(int argc, char **argv)
{
	struct bp *b = &bench;
	char tmp[] = "/dev/shm/kvmini-blkpath-XXXXXX", err[512];
	const char *path;
	double ramp = 0;
	int r, rc = 2;

	if (parse_opts(argc, argv, &b->o, &ramp))
		return 2;
	path = b->o.file;
	if (!path) {
		int fd = mkstemp(tmp);
		if (fd < 0) {
			fprintf(stderr, PROG ": cannot create a file in /dev/shm: %s\n", strerror(errno));
			return 2;
		}
		close(fd);
		path = tmp;
	}
	if (prepare_file(path, b->o.size, !b->o.file))
		goto out;
	if (b->o.runtime == 0) {
		rc = 0;
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (open_device(b, path))
		goto out;
	if ((r = bp_guest_setup(b, err, sizeof(err)))) {
		fprintf(stderr, PROG ": %s\n", err);
		goto out_dev;
	}
	rc = 1;
	if ((r = start_threads(b))) {
		fprintf(stderr, PROG ": cannot start threads: %s\n", strerror(-r));
		if (stop_threads(b) == -ETIMEDOUT)
			goto out;     /* threads still running: no teardown under them */
		goto out_dev;
	}
	struct sample t0, t1;
	nap(ramp);
	take_sample(b, &t0);
	nap(b->o.runtime);
	take_sample(b, &t1);
	if ((r = stop_threads(b)))
		goto out_stopped;
	report(b, &t0, &t1, path);
	rc = 0;
	for (unsigned i = 0; i < b->o.queues; i++)
		if (b->q[i].errors)
			rc = 1;
	if (rc)
		fprintf(stderr, PROG ": some requests came back with errors\n");
out_stopped:
	if (r == -ETIMEDOUT)
		goto out;
out_dev:
	if (dev_open)
		virtio_blk_destroy(&b->blk);
	if (file_open)
		blk_file_close(&b->file);
	bp_guest_teardown(b);
out:
	if (!b->o.file)
		unlink(tmp);
	return rc;
}
