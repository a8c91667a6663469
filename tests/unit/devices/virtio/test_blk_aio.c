/* The block I/O engines (sync, threads, io_uring) against real files: every
 * operation, many requests in flight completing in any order, the depth
 * limit, errors, and closing with requests in flight.
 *
 * io_uring is required where KVMINI_TEST_REQUIRE_IO_URING=1 (the native
 * builds, set by ctest); elsewhere (user-mode emulation, which has no
 * io_uring) the test checks that it is refused cleanly and that "auto"
 * falls back to the thread pool. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "virtio/blk_aio.h"
#include "virtio/blk_file.h"

#define DISK_SIZE (2 * 1024 * 1024)
#define NREQ 64

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9));
}

static char *make_image(void)
{
	char *path;
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	assert_true(asprintf(&path, "%s/kvmini-blkaio-XXXXXX", dir) > 0);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	uint8_t *buf = malloc(DISK_SIZE);
	for (uint64_t i = 0; i < DISK_SIZE; i++)
		buf[i] = pattern(i);
	assert_int_equal(write(fd, buf, DISK_SIZE), DISK_SIZE);
	free(buf);
	close(fd);
	return path;
}

struct fixture {
	char *path;
	struct blk_file f;
	struct blk_aio *a;
	enum blk_aio_kind kind;
};

static bool io_uring_required(void)
{
	const char *e = getenv("KVMINI_TEST_REQUIRE_IO_URING");
	return e && !strcmp(e, "1");
}

/* Opens the image and an engine of kind; false when io_uring is refused
 * here and not required (the caller then has nothing to test). */
static bool setup_kind(struct fixture *x, enum blk_aio_kind kind, bool ro, enum blk_cache c)
{
	char err[256] = "";
	memset(x, 0, sizeof(*x));
	x->path = make_image();
	x->kind = kind;
	if (blk_file_open(&x->f, x->path, ro, c, err, sizeof(err)))
		fail_msg("open: %s", err);
	int r = blk_aio_open(&x->a, kind, &x->f, NREQ);
	if (r && kind == BLK_AIO_IO_URING && !io_uring_required()) {
		print_message("io_uring refused here (%s): the engine cannot be tested\n",
			      strerror(-r));
		assert_true(r == -ENOSYS || r == -EPERM || r == -ENOMEM);
		blk_file_close(&x->f);
		unlink(x->path);
		free(x->path);
		return false;
	}
	assert_int_equal(r, 0);
	assert_int_equal(blk_aio_kind_of(x->a), kind);
	return true;
}

static void teardown_fx(struct fixture *x)
{
	blk_aio_close(x->a);
	blk_file_close(&x->f);
	unlink(x->path);
	free(x->path);
}

/* Submits r, kicks, and waits for it alone. */
static int64_t run_one(struct blk_aio *a, struct blk_aio_req *r)
{
	struct blk_aio_req *done[4];
	assert_int_equal(blk_aio_submit(a, r), 0);
	blk_aio_kick(a);
	int n = blk_aio_reap(a, done, 4, true);
	assert_int_equal(n, 1);
	assert_ptr_equal(done[0], r);
	return r->result;
}

static void check_bytes(const uint8_t *buf, uint64_t off, size_t len, bool zero)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (zero ? 0 : pattern(off + i)))
			fail_msg("byte %zu of [%llu,+%zu): %02x", i, (unsigned long long)off, len,
				 buf[i]);
}

/* Reads [off, off+len) back through the engine, in three segments. */
static void read_back(struct blk_aio *a, uint64_t off, size_t len, bool zero)
{
	uint8_t *buf = malloc(len);
	memset(buf, 0xaa, len);
	struct iovec iov[3] = { { buf, 512 }, { buf + 512, len - 1024 }, { buf + len - 512, 512 } };
	struct blk_aio_req r = { .op = BLK_AIO_READ, .iov = iov, .iovcnt = 3, .off = off,
				 .len = len };
	assert_int_equal(run_one(a, &r), (int64_t)len);
	check_bytes(buf, off, len, zero);
	free(buf);
}

static void engine_ops(enum blk_aio_kind kind)
{
	struct fixture x;
	if (!setup_kind(&x, kind, false, BLK_CACHE_WRITEBACK))
		return;
	read_back(x.a, 4096, 8192, false);

	/* A write in two segments, read back. */
	uint8_t *w = malloc(8192);
	for (int i = 0; i < 8192; i++)
		w[i] = pattern(65536 + (uint64_t)i);
	struct iovec wi[2] = { { w, 4096 }, { w + 4096, 4096 } };
	struct blk_aio_req r = { .op = BLK_AIO_WRITE, .iov = wi, .iovcnt = 2, .off = 65536,
				 .len = 8192 };
	assert_int_equal(run_one(x.a, &r), 8192);
	read_back(x.a, 65536, 8192, false);
	free(w);

	struct blk_aio_req fl = { .op = BLK_AIO_FLUSH };
	assert_int_equal(run_one(x.a, &fl), 0);

	/* DISCARD may deallocate; where it does, the range reads as zeroes. */
	struct blk_aio_req d = { .op = BLK_AIO_DISCARD, .off = 131072, .len = 65536 };
	int64_t dr = run_one(x.a, &d);
	assert_true(dr == 65536 || dr == -EOPNOTSUPP);
	if (dr == 65536)
		read_back(x.a, 131072, 65536, true);

	/* WRITE_ZEROES must zero, unmapping or not. */
	struct blk_aio_req z = { .op = BLK_AIO_WRITE_ZEROES, .off = 262144, .len = 65536 };
	assert_int_equal(run_one(x.a, &z), 65536);
	read_back(x.a, 262144, 65536, true);
	struct blk_aio_req zu = { .op = BLK_AIO_WRITE_ZEROES_UNMAP, .off = 393216, .len = 8192 };
	assert_int_equal(run_one(x.a, &zu), 8192);
	read_back(x.a, 393216, 8192, true);

	/* Outside the disk: refused, nothing written. */
	uint8_t b[512];
	struct iovec bi = { b, 512 };
	struct blk_aio_req bad = { .op = BLK_AIO_WRITE, .iov = &bi, .iovcnt = 1,
				   .off = DISK_SIZE, .len = 512 };
	assert_int_equal(run_one(x.a, &bad), -EINVAL);
	struct blk_aio_req bad2 = { .op = BLK_AIO_WRITE_ZEROES, .off = DISK_SIZE - 512,
				    .len = 1024 };
	assert_int_equal(run_one(x.a, &bad2), -EINVAL);
	struct stat st;
	assert_int_equal(stat(x.path, &st), 0);
	assert_int_equal(st.st_size, DISK_SIZE);

	const struct blk_aio_stats *s = blk_aio_get_stats(x.a);
	assert_true(s->submitted == s->completed);
	assert_int_equal(blk_aio_inflight(x.a), 0);
	teardown_fx(&x);
}

static void sync_ops(void **state) { engine_ops(BLK_AIO_SYNC); }
static void threads_ops(void **state) { engine_ops(BLK_AIO_THREADS); }
static void uring_ops(void **state) { engine_ops(BLK_AIO_IO_URING); }

/* NREQ reads of different blocks in flight together: each comes back once,
 * in whatever order, with its own bytes; one more is refused (-EAGAIN). */
static void engine_many(enum blk_aio_kind kind)
{
	struct fixture x;
	if (!setup_kind(&x, kind, false, BLK_CACHE_WRITEBACK))
		return;
	static uint8_t bufs[NREQ][4096];
	struct iovec iov[NREQ];
	struct blk_aio_req r[NREQ], extra = { .op = BLK_AIO_FLUSH };
	int seen[NREQ] = { 0 };

	for (int i = 0; i < NREQ; i++) {
		uint64_t off = (uint64_t)((i * 37) % (DISK_SIZE / 4096)) * 4096;
		iov[i] = (struct iovec){ bufs[i], 4096 };
		r[i] = (struct blk_aio_req){ .op = BLK_AIO_READ, .iov = &iov[i], .iovcnt = 1,
					     .off = off, .len = 4096, .opaque = (void *)(intptr_t)i };
		assert_int_equal(blk_aio_submit(x.a, &r[i]), 0);
	}
	assert_int_equal(blk_aio_submit(x.a, &extra), -EAGAIN);
	blk_aio_kick(x.a);
	assert_int_equal(blk_aio_inflight(x.a), NREQ);
	for (int got = 0; got < NREQ;) {
		struct blk_aio_req *done[16];
		int n = blk_aio_reap(x.a, done, 16, true);
		assert_true(n > 0);
		for (int k = 0; k < n; k++) {
			int i = (int)(intptr_t)done[k]->opaque;
			assert_int_equal(seen[i], 0);
			seen[i] = 1;
			assert_int_equal(done[k]->result, 4096);
			check_bytes(bufs[i], r[i].off, 4096, false);
		}
		got += n;
	}
	assert_int_equal(blk_aio_inflight(x.a), 0);
	teardown_fx(&x);
}

static void sync_many(void **state) { engine_many(BLK_AIO_SYNC); }
static void threads_many(void **state) { engine_many(BLK_AIO_THREADS); }
static void uring_many(void **state) { engine_many(BLK_AIO_IO_URING); }

/* A backend error is that request's result only: the file shrinks under
 * the engine, a read past the new end fails (-EIO), a read before it works. */
static void engine_error(enum blk_aio_kind kind)
{
	struct fixture x;
	if (!setup_kind(&x, kind, false, BLK_CACHE_WRITEBACK))
		return;
	assert_int_equal(truncate(x.path, DISK_SIZE / 2), 0);
	static uint8_t b1[4096], b2[4096];
	struct iovec i1 = { b1, 4096 }, i2 = { b2, 4096 };
	struct blk_aio_req bad = { .op = BLK_AIO_READ, .iov = &i1, .iovcnt = 1,
				   .off = DISK_SIZE - 4096, .len = 4096 };
	struct blk_aio_req good = { .op = BLK_AIO_READ, .iov = &i2, .iovcnt = 1, .off = 0,
				    .len = 4096 };
	assert_int_equal(blk_aio_submit(x.a, &bad), 0);
	assert_int_equal(blk_aio_submit(x.a, &good), 0);
	blk_aio_kick(x.a);
	for (int got = 0; got < 2;) {
		struct blk_aio_req *done[2];
		got += blk_aio_reap(x.a, done, 2, true);
	}
	assert_int_equal(bad.result, -EIO);
	assert_int_equal(good.result, 4096);
	check_bytes(b2, 0, 4096, false);
	assert_int_equal(blk_aio_get_stats(x.a)->errors, 1);
	teardown_fx(&x);
}

static void sync_error(void **state) { engine_error(BLK_AIO_SYNC); }
static void threads_error(void **state) { engine_error(BLK_AIO_THREADS); }
static void uring_error(void **state) { engine_error(BLK_AIO_IO_URING); }

/* A read-only disk: writes of every kind refused, flush a no-op. */
static void engine_readonly(enum blk_aio_kind kind)
{
	struct fixture x;
	if (!setup_kind(&x, kind, true, BLK_CACHE_WRITEBACK))
		return;
	uint8_t b[512] = { 0 };
	struct iovec bi = { b, 512 };
	struct blk_aio_req w = { .op = BLK_AIO_WRITE, .iov = &bi, .iovcnt = 1, .len = 512 };
	struct blk_aio_req z = { .op = BLK_AIO_WRITE_ZEROES, .len = 512 };
	struct blk_aio_req d = { .op = BLK_AIO_DISCARD, .len = 512 };
	struct blk_aio_req f = { .op = BLK_AIO_FLUSH };
	assert_int_equal(run_one(x.a, &w), -EROFS);
	assert_int_equal(run_one(x.a, &z), -EROFS);
	assert_int_equal(run_one(x.a, &d), -EROFS);
	assert_int_equal(run_one(x.a, &f), 0);
	read_back(x.a, 0, 4096, false);
	teardown_fx(&x);
}

static void sync_readonly(void **state) { engine_readonly(BLK_AIO_SYNC); }
static void threads_readonly(void **state) { engine_readonly(BLK_AIO_THREADS); }
static void uring_readonly(void **state) { engine_readonly(BLK_AIO_IO_URING); }

/* Closing with requests in flight waits for them (no use after free: the
 * sanitizer build checks), and the data they wrote is there. */
static void engine_close_inflight(enum blk_aio_kind kind)
{
	struct fixture x;
	if (!setup_kind(&x, kind, false, BLK_CACHE_WRITEBACK))
		return;
	static uint8_t w[16][65536];
	struct iovec iov[16];
	struct blk_aio_req r[16];
	for (int i = 0; i < 16; i++) {
		memset(w[i], 0x40 + i, sizeof(w[i]));
		iov[i] = (struct iovec){ w[i], sizeof(w[i]) };
		r[i] = (struct blk_aio_req){ .op = BLK_AIO_WRITE, .iov = &iov[i], .iovcnt = 1,
					     .off = (uint64_t)i * 65536, .len = 65536 };
		assert_int_equal(blk_aio_submit(x.a, &r[i]), 0);
	}
	blk_aio_kick(x.a);
	blk_aio_close(x.a);
	x.a = NULL;
	blk_file_close(&x.f);
	int fd = open(x.path, O_RDONLY);
	uint8_t b[65536];
	for (int i = 0; i < 16; i++) {
		assert_int_equal(pread(fd, b, sizeof(b), i * 65536), sizeof(b));
		for (size_t k = 0; k < sizeof(b); k++)
			if (b[k] != 0x40 + i)
				fail_msg("block %d byte %zu: %02x", i, k, b[k]);
	}
	close(fd);
	unlink(x.path);
	free(x.path);
}

static void threads_close_inflight(void **state) { engine_close_inflight(BLK_AIO_THREADS); }
static void uring_close_inflight(void **state) { engine_close_inflight(BLK_AIO_IO_URING); }

/* O_DIRECT: aligned buffers go straight through; unaligned ones are bounced
 * (io_uring hands them to its helper thread). Where the file system refuses
 * O_DIRECT there is nothing to test. */
static void engine_direct(enum blk_aio_kind kind)
{
	struct fixture x;
	char *path = make_image();
	char err[256];
	memset(&x, 0, sizeof(x));
	x.path = path;
	if (blk_file_open(&x.f, path, false, BLK_CACHE_NONE, err, sizeof(err))) {
		print_message("O_DIRECT refused here: %s\n", err);
		unlink(path);
		free(path);
		return;
	}
	int r = blk_aio_open(&x.a, kind, &x.f, 8);
	if (r && kind == BLK_AIO_IO_URING && !io_uring_required()) {
		blk_file_close(&x.f);
		unlink(path);
		free(path);
		return;
	}
	assert_int_equal(r, 0);
	uint8_t *raw = malloc(8192 + 4096 + 1);
	uint8_t *aligned = (uint8_t *)(((uintptr_t)raw + 4095) & ~(uintptr_t)4095);
	struct iovec a = { aligned, 4096 };
	struct blk_aio_req ra = { .op = BLK_AIO_READ, .iov = &a, .iovcnt = 1, .off = 8192,
				  .len = 4096 };
	assert_int_equal(run_one(x.a, &ra), 4096);
	check_bytes(aligned, 8192, 4096, false);
	struct iovec u = { aligned + 1, 4096 };     /* misaligned guest buffer */
	struct blk_aio_req ru = { .op = BLK_AIO_READ, .iov = &u, .iovcnt = 1, .off = 16384,
				  .len = 4096 };
	assert_int_equal(run_one(x.a, &ru), 4096);
	check_bytes(aligned + 1, 16384, 4096, false);
	if (kind == BLK_AIO_IO_URING)
		assert_int_equal(blk_aio_get_stats(x.a)->punted, 1);
	free(raw);
	teardown_fx(&x);
}

static void threads_direct(void **state) { engine_direct(BLK_AIO_THREADS); }
static void uring_direct(void **state) { engine_direct(BLK_AIO_IO_URING); }

/* auto is io_uring where the kernel allows it, else the thread pool. */
static void auto_resolves(void **state)
{
	char *path = make_image();
	char err[256];
	struct blk_file f;
	struct blk_aio *a;
	assert_int_equal(blk_file_open(&f, path, false, BLK_CACHE_WRITEBACK, err, sizeof(err)), 0);
	assert_int_equal(blk_aio_open(&a, BLK_AIO_AUTO, &f, 4), 0);
	enum blk_aio_kind k = blk_aio_kind_of(a);
	print_message("auto -> %s\n", blk_aio_kind_name(k));
	if (io_uring_required())
		assert_int_equal(k, BLK_AIO_IO_URING);
	else
		assert_true(k == BLK_AIO_IO_URING || k == BLK_AIO_THREADS);
	assert_true(blk_aio_fd(a) >= 0);
	blk_aio_close(a);
	blk_file_close(&f);
	unlink(path);
	free(path);
}

static void parse_kinds(void **state)
{
	enum blk_aio_kind k;
	const char *names[] = { "auto", "io_uring", "threads", "sync" };
	for (int i = 0; i < 4; i++) {
		assert_int_equal(blk_aio_parse_kind(names[i], &k), 0);
		assert_string_equal(blk_aio_kind_name(k), names[i]);
	}
	assert_int_equal(blk_aio_parse_kind("uring", &k), -EINVAL);
	assert_int_equal(blk_aio_parse_kind("", &k), -EINVAL);
	struct blk_aio *a;
	struct blk_file f = { .fd = -1 };
	assert_int_equal(blk_aio_open(&a, BLK_AIO_SYNC, &f, 0), -EINVAL);
	assert_int_equal(blk_aio_open(&a, BLK_AIO_SYNC, &f, 5000), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sync_ops), cmocka_unit_test(threads_ops),
		cmocka_unit_test(uring_ops),
		cmocka_unit_test(sync_many), cmocka_unit_test(threads_many),
		cmocka_unit_test(uring_many),
		cmocka_unit_test(sync_error), cmocka_unit_test(threads_error),
		cmocka_unit_test(uring_error),
		cmocka_unit_test(sync_readonly), cmocka_unit_test(threads_readonly),
		cmocka_unit_test(uring_readonly),
		cmocka_unit_test(threads_close_inflight), cmocka_unit_test(uring_close_inflight),
		cmocka_unit_test(threads_direct), cmocka_unit_test(uring_direct),
		cmocka_unit_test(auto_resolves), cmocka_unit_test(parse_kinds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
