/* The raw-file disk backend against real files: the build's file system
 * (ext4 here), tmpfs (/dev/shm) and procfs (which refuses O_DIRECT). */
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

#include "virtio/blk_file.h"

#define DISK_SIZE (1024 * 1024)

/* A fresh image of DISK_SIZE bytes filled with pattern(off), in dir. */
static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9));
}

static char *make_image(const char *dir)
{
	char *path;
	assert_true(asprintf(&path, "%s/kvmini-blkfile-XXXXXX", dir) > 0);
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

static void drop_image(char *path)
{
	unlink(path);
	free(path);
}

static void open_or_fail(struct blk_file *f, const char *path, bool ro, enum blk_cache c)
{
	char err[512] = "";
	int r = blk_file_open(f, path, ro, c, err, sizeof(err));
	if (r)
		fail_msg("open %s: %d %s", path, r, err);
}

static void expect_zeroes(struct blk_file *f, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);
	memset(buf, 0xaa, len);
	struct iovec iov = { buf, len };
	assert_int_equal(blk_file_preadv(f, &iov, 1, off), (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			fail_msg("byte %zu of [%llu,+%zu) is %#x", i, (unsigned long long)off, len, buf[i]);
	free(buf);
}

static void expect_pattern(struct blk_file *f, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);
	struct iovec iov = { buf, len };
	assert_int_equal(blk_file_preadv(f, &iov, 1, off), (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern(off + i))
			fail_msg("byte at %llu differs", (unsigned long long)(off + i));
	free(buf);
}

static void open_missing_file(void **s)
{
	struct blk_file f;
	char err[512];
	assert_int_equal(blk_file_open(&f, "/nonexistent/disk.img", false, BLK_CACHE_WRITEBACK,
				       err, sizeof(err)), -ENOENT);
	assert_true(strncmp(err, "--disk: ", 8) == 0);
	assert_non_null(strstr(err, "/nonexistent/disk.img"));
	assert_int_equal(f.fd, -1);
}

static void open_directory(void **s)
{
	struct blk_file f;
	char err[512];
	/* read-write: the kernel says EISDIR; read-only opens, then we refuse */
	assert_int_equal(blk_file_open(&f, "/tmp", false, BLK_CACHE_WRITEBACK, err, sizeof(err)),
			 -EISDIR);
	assert_non_null(strstr(err, "'/tmp'"));
	assert_non_null(strstr(err, "is a directory"));
	assert_int_equal(blk_file_open(&f, "/tmp", true, BLK_CACHE_WRITEBACK, err, sizeof(err)),
			 -EINVAL);
	assert_true(strncmp(err, "--disk: ", 8) == 0);
	assert_non_null(strstr(err, "not a regular file"));
}

static void size_and_roundtrip(void **s)
{
	char *path = make_image("/var/tmp");
	struct blk_file f;
	open_or_fail(&f, path, false, BLK_CACHE_WRITEBACK);
	assert_int_equal(f.size, DISK_SIZE);
	assert_false(f.readonly);
	assert_false(f.direct);
	assert_int_equal(f.block_size, 512);

	uint8_t a[100], b[412], c[512], back[1024];
	memset(a, 1, sizeof(a)); memset(b, 2, sizeof(b)); memset(c, 3, sizeof(c));
	struct iovec w[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	assert_int_equal(blk_file_pwritev(&f, w, 3, 4096), 1024);
	struct iovec r = { back, sizeof(back) };
	assert_int_equal(blk_file_preadv(&f, &r, 1, 4096), 1024);
	assert_memory_equal(back, a, 100);
	assert_memory_equal(back + 100, b, 412);
	assert_memory_equal(back + 512, c, 512);
	expect_pattern(&f, 0, 4096);
	expect_pattern(&f, 5120, 4096);
	assert_int_equal(blk_file_flush(&f), 0);

	/* the last byte is reachable; one past it is not */
	assert_int_equal(blk_file_preadv(&f, &r, 1, DISK_SIZE - 1024), 1024);
	assert_int_equal(blk_file_preadv(&f, &r, 1, DISK_SIZE - 512), -EINVAL);
	assert_int_equal(blk_file_pwritev(&f, &r, 1, UINT64_MAX - 100), -EINVAL);
	assert_int_equal(blk_file_discard(&f, DISK_SIZE, 512), -EINVAL);
	assert_int_equal(blk_file_write_zeroes(&f, UINT64_MAX, 2, false), -EINVAL);
	blk_file_close(&f);
	drop_image(path);
}

static void readonly_refuses_writes(void **s)
{
	char *path = make_image("/var/tmp");
	struct blk_file f;
	open_or_fail(&f, path, true, BLK_CACHE_WRITEBACK);
	assert_true(f.readonly);
	assert_false(f.can_discard);
	assert_false(f.can_write_zeroes);
	uint8_t buf[512] = { 0 };
	struct iovec iov = { buf, sizeof(buf) };
	ssize_t r = blk_file_pwritev(&f, &iov, 1, 0);
	assert_true(r == -EROFS || r == -EBADF);
	assert_int_equal(blk_file_discard(&f, 0, 512), -EROFS);
	assert_int_equal(blk_file_write_zeroes(&f, 0, 512, true), -EROFS);
	assert_int_equal(blk_file_flush(&f), 0);
	expect_pattern(&f, 0, 4096);
	/* the descriptor itself is read-only: the kernel refuses too */
	assert_int_equal(pwrite(f.fd, buf, 512, 0), -1);
	assert_int_equal(errno, EBADF);
	blk_file_close(&f);
	drop_image(path);
}

static void discard_reads_zeroes(void **s)
{
	static const char *dirs[] = { "/var/tmp", "/dev/shm" };
	for (unsigned i = 0; i < 2; i++) {
		char *path = make_image(dirs[i]);
		struct blk_file f;
		open_or_fail(&f, path, false, BLK_CACHE_WRITEBACK);
		assert_true(f.can_discard);   /* ext4 and tmpfs both punch holes */
		assert_int_equal(blk_file_discard(&f, 8192, 65536), 0);
		expect_pattern(&f, 0, 8192);
		expect_zeroes(&f, 8192, 65536);
		expect_pattern(&f, 8192 + 65536, 4096);
		assert_int_equal(blk_file_discard(&f, 0, 0), 0);
		struct stat st;
		assert_int_equal(fstat(f.fd, &st), 0);
		assert_int_equal(st.st_size, DISK_SIZE);   /* KEEP_SIZE */
		blk_file_close(&f);
		drop_image(path);
	}
}

static void write_zeroes_all_paths(void **s)
{
	/* ext4: punch hole and ZERO_RANGE; tmpfs: no ZERO_RANGE, so the
	 * non-unmap case falls back to writing zeroes. */
	static const char *dirs[] = { "/var/tmp", "/dev/shm" };
	for (unsigned i = 0; i < 2; i++) {
		char *path = make_image(dirs[i]);
		struct blk_file f;
		open_or_fail(&f, path, false, BLK_CACHE_WRITEBACK);
		assert_true(f.can_write_zeroes);
		assert_int_equal(blk_file_write_zeroes(&f, 512, 1024, false), 0);
		assert_int_equal(blk_file_write_zeroes(&f, 65536, 600 * 1024, true), 0);
		assert_int_equal(blk_file_write_zeroes(&f, 4096, 300 * 1024, false), 0);
		expect_pattern(&f, 0, 512);
		expect_zeroes(&f, 512, 1024);
		expect_pattern(&f, 1536, 4096 - 1536);
		expect_zeroes(&f, 4096, 65536 + 600 * 1024 - 4096);
		expect_pattern(&f, 65536 + 600 * 1024, DISK_SIZE - 65536 - 600 * 1024);
		struct stat st;
		assert_int_equal(fstat(f.fd, &st), 0);
		assert_int_equal(st.st_size, DISK_SIZE);
		blk_file_close(&f);
		drop_image(path);
	}
}

/* procfs refuses O_DIRECT at open (EINVAL) on every kernel: the message
 * must say so rather than fall back to the page cache. */
static void direct_refused_is_explained(void **s)
{
	struct blk_file f;
	char err[512];
	assert_int_equal(blk_file_open(&f, "/proc/version", true, BLK_CACHE_NONE, err,
				       sizeof(err)), -EINVAL);
	assert_true(strncmp(err, "--disk: ", 8) == 0);
	assert_non_null(strstr(err, "'/proc/version'"));
	assert_non_null(strstr(err, "O_DIRECT"));
	assert_non_null(strstr(err, "cache=none"));
}

/* tmpfs refused O_DIRECT before Linux 6.6 and accepts it since: either the
 * clear error, or a working disk. */
static void direct_on_tmpfs(void **s)
{
	char *path = make_image("/dev/shm");
	struct blk_file f;
	char err[512];
	int r = blk_file_open(&f, path, false, BLK_CACHE_NONE, err, sizeof(err));
	if (r) {
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(err, "O_DIRECT"));
		assert_non_null(strstr(err, path));
	} else {
		assert_true(f.direct);
		expect_pattern(&f, 0, 8192);
		blk_file_close(&f);
	}
	drop_image(path);
}

static void direct_bounces_unaligned_iovecs(void **s)
{
	char *path = make_image("/var/tmp");
	struct blk_file f;
	open_or_fail(&f, path, false, BLK_CACHE_NONE);
	assert_true(f.direct);
	assert_true(f.block_size >= 512 && f.mem_align >= 512);
	int fl = fcntl(f.fd, F_GETFL);
	assert_true(fl & O_DIRECT);

	/* aligned buffers go straight through */
	uint8_t *al = NULL;
	assert_int_equal(posix_memalign((void **)&al, 4096, 8192), 0);
	struct iovec iov = { al, 4096 };
	assert_int_equal(blk_file_preadv(&f, &iov, 1, 0), 4096);
	assert_int_equal(f.bounces, 0);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(al[i], pattern((uint64_t)i));

	/* misaligned address and odd lengths, total 2048, at offset 8192 */
	uint8_t *raw = malloc(8192);
	uint8_t *src = raw + 1;
	for (int i = 0; i < 2048; i++)
		src[i] = (uint8_t)(i ^ 0x5a);
	struct iovec w[3] = { { src, 100 }, { src + 100, 1000 }, { src + 1100, 948 } };
	assert_int_equal(blk_file_pwritev(&f, w, 3, 8192), 2048);
	assert_int_equal(f.bounces, 1);
	uint8_t *dst = raw + 4096 + 3;   /* another odd address */
	memset(dst, 0, 2048);
	struct iovec r[2] = { { dst, 333 }, { dst + 333, 2048 - 333 } };
	assert_int_equal(blk_file_preadv(&f, r, 2, 8192), 2048);
	assert_int_equal(f.bounces, 2);
	assert_memory_equal(dst, src, 2048);
	expect_pattern(&f, 8192 + 2048, 4096);

	/* bigger than one bounce chunk: 768 KiB through a misaligned buffer */
	size_t big = 768 * 1024;
	uint8_t *braw = malloc(big + 8);
	uint8_t *b = braw + 8;       /* 8-aligned, not 512-aligned */
	struct iovec bi = { b, big };
	assert_int_equal(blk_file_preadv(&f, &bi, 1, 0), (ssize_t)big);
	for (size_t i = 0; i < big; i++)
		if (i < 8192 || i >= 8192 + 2048)
			if (b[i] != pattern(i))
				fail_msg("big read differs at %zu", i);
	for (size_t i = 0; i < big; i++)
		b[i] = (uint8_t)~i;
	assert_int_equal(blk_file_pwritev(&f, &bi, 1, 65536), (ssize_t)big);
	blk_file_close(&f);

	/* read back without O_DIRECT: what reached the file is right */
	open_or_fail(&f, path, true, BLK_CACHE_WRITEBACK);
	memset(b, 0, big);
	assert_int_equal(blk_file_preadv(&f, &bi, 1, 65536), (ssize_t)big);
	for (size_t i = 0; i < big; i++)
		if (b[i] != (uint8_t)~i)
			fail_msg("big write differs at %zu", i);
	blk_file_close(&f);
	free(braw);
	free(raw);
	free(al);
	drop_image(path);
}

/* OFD locks: one writer, or any number of readers; a second open of the
 * same image conflicts even inside one process; closing releases. */
static void image_locks(void **s)
{
	char *path = make_image("/var/tmp"), err[512];
	struct blk_file a, b, c;

	open_or_fail(&a, path, false, BLK_CACHE_WRITEBACK);
	assert_int_equal(blk_file_lock(&a, path, err, sizeof(err)), 0);
	open_or_fail(&b, path, false, BLK_CACHE_WRITEBACK);
	assert_int_equal(blk_file_lock(&b, path, err, sizeof(err)), -EAGAIN);
	assert_non_null(strstr(err, "in use by another process"));
	assert_non_null(strstr(err, "lock=off"));
	open_or_fail(&c, path, true, BLK_CACHE_WRITEBACK);
	assert_int_equal(blk_file_lock(&c, path, err, sizeof(err)), -EAGAIN);
	assert_non_null(strstr(err, "exclusive"));
	blk_file_close(&a);
	assert_int_equal(blk_file_lock(&c, path, err, sizeof(err)), 0);    /* a reader now */
	struct blk_file d;
	open_or_fail(&d, path, true, BLK_CACHE_WRITEBACK);
	assert_int_equal(blk_file_lock(&d, path, err, sizeof(err)), 0);    /* and another */
	assert_int_equal(blk_file_lock(&b, path, err, sizeof(err)), -EAGAIN); /* no writer */
	blk_file_close(&b);
	blk_file_close(&c);
	blk_file_close(&d);
	drop_image(path);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(image_locks),
		cmocka_unit_test(open_missing_file),
		cmocka_unit_test(open_directory),
		cmocka_unit_test(size_and_roundtrip),
		cmocka_unit_test(readonly_refuses_writes),
		cmocka_unit_test(discard_reads_zeroes),
		cmocka_unit_test(write_zeroes_all_paths),
		cmocka_unit_test(direct_refused_is_explained),
		cmocka_unit_test(direct_on_tmpfs),
		cmocka_unit_test(direct_bounces_unaligned_iovecs),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
