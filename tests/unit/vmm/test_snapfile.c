/* The snapshot file format (vmm/snapfile.c) and the machine description
 * it carries (vmm/snapconf.c): a file this kvmini wrote reads back; a
 * truncated, damaged, foreign or newer one is refused with one line, never
 * half-read. The bytes are little-endian on every host (s390x too). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli.h"
#include "vmm/snapconf.h"
#include "vmm/snapfile.h"

#define HERE SNAP_ARCH_X86_64

static struct snapfile f;     /* big: keep it off the stack */

static void build(struct state_w *w, uint32_t arch)
{
	struct snap_header h = { .arch = arch, .ram_size = 512ull << 20, .ncpus = 2, .created = 1 };
	size_t at;

	strcpy(h.kvmini_version, "0.1.0");
	sw_init(w);
	snap_write_header(w, &h);
	at = snap_begin(w, SNAP_TAG_CONF, 0, 1);
	sw_u32(w, 0);
	sw_end(w, at);
	for (uint32_t i = 0; i < 2; i++) {
		at = snap_begin(w, SNAP_TAG_VCPU, i, 1);
		sw_u64(w, 0x1111111111111111ull * (i + 1));
		sw_end(w, at);
	}
	snap_finish(w);
	assert_int_equal(w->err, 0);
}

static int parse(const struct state_w *w, size_t len, char *err)
{
	return snap_parse(w->buf, len, HERE, &f, err, 200);
}

static void roundtrip(void **s)
{
	struct state_w w;
	char err[200] = "";

	build(&w, HERE);
	assert_memory_equal(w.buf, "KVMISNAP\x01\0\0\0\x01\0\0\0", 16);
	assert_int_equal(parse(&w, w.len, err), 0);
	assert_int_equal(f.h.version, 1);
	assert_string_equal(f.h.kvmini_version, "0.1.0");
	assert_int_equal(f.h.ram_size, 512ull << 20);
	assert_int_equal(f.h.ncpus, 2);
	assert_int_equal(f.n, 3);
	assert_int_equal(snap_count(&f, SNAP_TAG_VCPU), 2);
	const struct snap_section *v = snap_find(&f, SNAP_TAG_VCPU, 1);
	assert_non_null(v);
	assert_int_equal(v->len, 8);
	assert_int_equal(v->p[0], 0x22);
	assert_null(snap_find(&f, SNAP_TAG_VCPU, 2));
	sw_free(&w);
}

static void expect(const struct state_w *w, size_t len, const char *msg)
{
	char err[200] = "";

	assert_int_equal(parse(w, len, err), -EINVAL);
	if (!strstr(err, msg))
		fail_msg("expected '%s', got '%s'", msg, err);
}

static void truncated_everywhere(void **s)
{
	struct state_w w;

	build(&w, HERE);
	for (size_t len = 0; len < w.len; len++)
		expect(&w, len, len < 8 ? "not a kvmini snapshot" : "truncated");
	sw_free(&w);
}

static void wrong_magic_version_arch(void **s)
{
	struct state_w w;

	build(&w, HERE);
	w.buf[3] = 'X';
	expect(&w, w.len, "not a kvmini snapshot (no KVMISNAP header)");
	w.buf[3] = 'I';
	w.buf[8] = 2;                 /* format version 2 */
	expect(&w, w.len, "snapshot format version 2 (kvmini 0.1.0) is newer than this kvmini reads (1)");
	w.buf[8] = 0;
	expect(&w, w.len, "version 0");
	w.buf[8] = 1;
	sw_free(&w);

	build(&w, SNAP_ARCH_AARCH64);
	expect(&w, w.len, "a snapshot of an aarch64 guest; this kvmini runs x86_64 guests");
	sw_free(&w);
	build(&w, 77);
	expect(&w, w.len, "an unknown architecture");
	sw_free(&w);
}

static void damaged_and_bad_sections(void **s)
{
	struct state_w w;

	build(&w, HERE);
	w.buf[SNAP_HEADER_SIZE + 20] ^= 1;      /* inside the CONF section */
	expect(&w, w.len, "damaged");
	w.buf[SNAP_HEADER_SIZE + 20] ^= 1;
	/* a section claiming more than the file holds */
	w.buf[SNAP_HEADER_SIZE + 12] = 0xff;
	expect(&w, w.len, "claims");
	w.buf[SNAP_HEADER_SIZE + 12] = 4;
	/* bytes after the END section */
	uint8_t *longer = malloc(w.len + 3);
	memcpy(longer, w.buf, w.len);
	memset(longer + w.len, 0, 3);
	char err[200];
	assert_int_equal(snap_parse(longer, w.len + 3, HERE, &f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "3 bytes after the END section"));
	free(longer);
	/* a section twice: VCPU 1 renamed VCPU 0 (and the checksum made good) */
	size_t v1 = SNAP_HEADER_SIZE + 16 + 4 + 16 + 8;
	assert_int_equal(w.buf[v1], 'V');
	w.buf[v1 + 4] = 0;
	size_t end = w.len - 20;
	uint32_t crc = snap_crc32(w.buf, end);
	for (int i = 0; i < 4; i++)
		w.buf[end + 16 + i] = (uint8_t)(crc >> (8 * i));
	expect(&w, w.len, "section VCPU (0) appears twice");
	sw_free(&w);
}

static void crc_known_value(void **s)
{
	/* the IEEE CRC-32 check value */
	assert_int_equal(snap_crc32("123456789", 9), 0xcbf43926u);
}

/* ---- the machine description ---- */

static int parse_cli(struct snapconf *c, struct vm_config *cfg)
{
	char *argv[300], err[CLI_ERR_MAX];
	int n = 0;

	argv[n++] = "kvmini";
	argv[n++] = "run";
	argv[n++] = "--kernel";
	argv[n++] = "/snap";
	for (int i = 0; i < c->argc; i++)
		argv[n++] = c->argv[i];
	int r = cli_parse(n, argv, cfg, err, sizeof(err));
	if (r != CLI_RUN)
		fail_msg("%s", err);
	return r;
}

static void conf_roundtrip(void **s)
{
	char *argv[] = { "kvmini", "run", "--kernel", "k", "--memory", "768M", "--cpus", "3",
			 "--iothreads", "2", "--no-ioeventfd",
			 "--disk", "rel.img,readonly=on,cache=none,aio=threads,queues=2,iothread=1,lock=off,poll=50",
			 "--disk", "b.img,transport=mmio,version=1",
			 "--net", "tap=ktap0,mac=02:00:00:00:00:07,transport=pci,legacy=off,packed=on" };
	struct vm_config a, b;
	struct snapconf c, d;
	struct state_w w;
	struct state_err e = { 0 };
	struct state_r r;
	char err[CLI_ERR_MAX];
	const char *abs[] = { "/abs/rel.img", NULL };

	assert_int_equal(cli_parse(sizeof(argv) / sizeof(argv[0]), argv, &a, err, sizeof(err)),
			 CLI_RUN);
	assert_int_equal(snapconf_from_config(&c, &a, abs), 0);
	sw_init(&w);
	snapconf_save(&c, &w);
	sr_init(&r, w.buf, w.len, &e);
	assert_int_equal(snapconf_load(&d, &r), 0);
	assert_int_equal(sr_end(&r, "conf"), 0);
	parse_cli(&d, &b);
	assert_int_equal(b.mem_size, 768ull << 20);
	assert_int_equal(b.ncpus, 3);
	assert_int_equal(b.iothreads, 2);
	assert_int_equal(b.no_ioeventfd, 1);
	assert_int_equal(b.ndisks, 2);
	assert_string_equal(b.disks[0].path, "/abs/rel.img");
	assert_string_equal(b.disks[1].path, "b.img");
	assert_int_equal(b.disks[0].readonly, 1);
	assert_int_equal(b.disks[0].cache, DISK_CACHE_NONE);
	assert_int_equal(b.disks[0].aio, DISK_AIO_THREADS);
	assert_int_equal(b.disks[0].queues, 2);
	assert_int_equal(b.disks[0].iothread, 1);
	assert_int_equal(b.disks[0].nolock, 1);
	assert_int_equal(b.disks[0].poll_us, 50);
	assert_int_equal(b.disks[1].poll_us, 0);
	assert_int_equal(b.disks[1].queues, 3);   /* the default then, one per vCPU, kept */
	assert_int_equal(b.disks[1].t.transport, TRANSPORT_MMIO);
	assert_int_equal(b.disks[1].t.version, 1);
	assert_int_equal(b.nnets, 1);
	assert_string_equal(b.nets[0].tap, "ktap0");
	assert_int_equal(b.nets[0].has_mac, 1);
	assert_int_equal(b.nets[0].mac[5], 7);
	assert_int_equal(b.nets[0].t.legacy, 0);
	assert_int_equal(b.nets[0].t.packed, 1);

	/* restore --disk / --net: paths and taps replaced, the rest kept */
	const char *disks[] = { "/copy.img", "/copy2.img,aio=sync" };
	const char *nets[] = { "tap=ktap9" };
	assert_int_equal(snapconf_override(&d, "--disk", disks, 2, err, sizeof(err)), 0);
	assert_int_equal(snapconf_override(&d, "--net", nets, 1, err, sizeof(err)), 0);
	parse_cli(&d, &b);
	assert_string_equal(b.disks[0].path, "/copy.img");
	assert_int_equal(b.disks[0].readonly, 1);
	assert_int_equal(b.disks[0].poll_us, 50);
	assert_string_equal(b.disks[1].path, "/copy2.img");
	assert_int_equal(b.disks[1].aio, DISK_AIO_SYNC);
	assert_int_equal(b.disks[1].t.transport, TRANSPORT_MMIO);
	assert_string_equal(b.nets[0].tap, "ktap9");
	assert_int_equal(b.nets[0].mac[5], 7);
	const char *three[] = { "a", "b", "c" };
	assert_int_equal(snapconf_override(&d, "--disk", three, 3, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--disk: given 3 times, but the snapshot has 2 disks");

	/* a description cut short is refused */
	memset(&e, 0, sizeof(e));
	sr_init(&r, w.buf, w.len - 1, &e);
	struct snapconf x;
	assert_int_equal(snapconf_load(&x, &r), -EINVAL);
	snapconf_free(&c);
	snapconf_free(&d);
	sw_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(truncated_everywhere),
		cmocka_unit_test(wrong_magic_version_arch),
		cmocka_unit_test(damaged_and_bad_sections),
		cmocka_unit_test(crc_known_value),
		cmocka_unit_test(conf_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
