/* kvmini restore: see restore.h. */
#define _GNU_SOURCE
#include "vmm/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "state.h"
#include "vmm/cli.h"
#include "vmm/snapconf.h"
#include "vmm/snapfile.h"
#include "vmm/virtio_host.h"
#include "vmm/vm.h"

#define STATE_MAX (64u << 20)

struct restore_src {
	char dir[PATH_MAX];
	uint8_t *buf;                 /* DIR/state */
	size_t len;
	struct snapfile file;
	struct snapconf conf;
	char **argv;                  /* what cli_parse saw; cfg points into it */
	int argc;
	int mem_fd;
	struct timespec t0;           /* restore_prepare's start: about the process's */
};

static int read_state(struct restore_src *rs, char *err, size_t errlen)
{
	char path[PATH_MAX + 8];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/state", rs->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_fail(err, errlen, "restore: cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATE_MAX) {
		close(fd);
		return cli_fail(err, errlen, "restore: '%s' is not a snapshot's state file", path);
	}
	rs->len = (size_t)st.st_size;
	rs->buf = malloc(rs->len ? rs->len : 1);
	size_t got = 0;
	while (rs->buf && got < rs->len) {
		ssize_t n = read(fd, rs->buf + got, rs->len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!rs->buf || got != rs->len)
		return cli_fail(err, errlen, "restore: cannot read '%s'", path);
	char why[200];
	if (snap_parse(rs->buf, rs->len, SNAP_ARCH_HERE, &rs->file, why, sizeof(why)))
		return cli_fail(err, errlen, "restore: '%s': %s", path, why);
	return 0;
}

static int push(struct restore_src *rs, const char *s)
{
	char **v = realloc(rs->argv, (size_t)(rs->argc + 2) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	rs->argv = v;
	rs->argv[rs->argc++] = (char *)s;
	rs->argv[rs->argc] = NULL;
	return 0;
}

/* --name VALUE or --name=VALUE at argv[*i]: the value, *i past it. */
static const char *value_of(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (!strcmp(argv[*i], name) && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static bool is_opt(const char *a, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(a, name, n) && (a[n] == 0 || a[n] == '=');
}

/* Options a restore refuses, whatever the snapshot: checked first. */
static int refuse_options(int argc, char **argv, char *err, size_t errlen)
{
	static const char *const fixed[] = { "--kernel", "--initrd", "--cmdline", "--memory",
					     "--cpus" };
	const char *v;

	for (int i = 3; i < argc; i++) {
		for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
			if (is_opt(argv[i], fixed[k]))
				return cli_fail(err, errlen, "%s: comes from the snapshot; a restore cannot "
					    "change it", fixed[k]);
		if (is_opt(argv[i], "--hugepages"))
			return cli_fail(err, errlen, "--hugepages: a restored guest's RAM is the snapshot's "
				    "memory file, mapped copy-on-write");
		if (is_opt(argv[i], "--on-reboot")) {
			int at = i;
			v = value_of(argc, argv, &i, "--on-reboot");
			if (v && !strcmp(v, "restart"))
				return cli_fail(err, errlen, "--on-reboot: restart is not for a restored guest "
					    "(there is no kernel to boot again)");
			i = at;
		}
	}
	return 0;
}

/* The user's options: overrides apart, the rest after the snapshot's. */
static int user_options(struct restore_src *rs, int argc, char **argv, char *err, size_t errlen)
{
	const char *disks[CLI_MAX_DISKS + 1], *nets[CLI_MAX_NETS + 1], *v;
	int nd = 0, nn = 0;

	for (int i = 3; i < argc; i++) {
		if (is_opt(argv[i], "--disk") || is_opt(argv[i], "--net")) {
			bool disk = is_opt(argv[i], "--disk");
			if (!(v = value_of(argc, argv, &i, disk ? "--disk" : "--net")))
				return cli_fail(err, errlen, "%s: missing value", disk ? "--disk" : "--net");
			if (disk && nd <= CLI_MAX_DISKS)
				disks[nd++] = v;
			else if (!disk && nn <= CLI_MAX_NETS)
				nets[nn++] = v;
			continue;
		}
	}
	if (snapconf_override(&rs->conf, "--disk", disks, nd, err, errlen) ||
	    snapconf_override(&rs->conf, "--net", nets, nn, err, errlen))
		return -EINVAL;
	int r = 0;
	r = r ?: push(rs, argv[0]);
	r = r ?: push(rs, "run");
	r = r ?: push(rs, "--kernel");
	r = r ?: push(rs, rs->dir);     /* never opened: a restore loads no kernel */
	for (int i = 0; i < rs->conf.argc && !r; i++)
		r = push(rs, rs->conf.argv[i]);
	for (int i = 3; i < argc && !r; i++) {
		if (is_opt(argv[i], "--disk") || is_opt(argv[i], "--net")) {
			if (!strchr(argv[i], '='))
				i++;
			continue;
		}
		r = push(rs, argv[i]);
	}
	return r ? cli_fail(err, errlen, "out of memory") : 0;
}

static int open_memory(struct restore_src *rs, const struct vm_config *cfg, char *err,
		       size_t errlen)
{
	char path[PATH_MAX + 8];
	struct stat st;

	snprintf(path, sizeof(path), "%s/memory", rs->dir);
	rs->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (rs->mem_fd < 0)
		return cli_fail(err, errlen, "restore: cannot open '%s': %s", path, strerror(errno));
	if (fstat(rs->mem_fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != rs->file.h.ram_size)
		return cli_fail(err, errlen, "restore: '%s' holds %lld bytes, the snapshot's RAM is %llu",
			    path, (long long)st.st_size, (unsigned long long)rs->file.h.ram_size);
	if (cfg->mem_size != rs->file.h.ram_size || (uint32_t)cfg->ncpus != rs->file.h.ncpus)
		return cli_fail(err, errlen, "restore: '%s/state': its machine (%llu bytes, %d vCPUs) "
			    "disagrees with its header (%llu, %u)", rs->dir,
			    (unsigned long long)cfg->mem_size, cfg->ncpus,
			    (unsigned long long)rs->file.h.ram_size, rs->file.h.ncpus);
	return 0;
}

int restore_prepare(int argc, char **argv, struct restore_src **out, struct vm_config *cfg,
		    char *err, size_t errlen)
{
	struct restore_src *rs = calloc(1, sizeof(*rs));
	const struct snap_section *c;
	struct state_err e = { 0 };
	struct state_r r;
	int rc;

	*out = rs;
	if (!rs)
		return cli_fail(err, errlen, "out of memory");
	clock_gettime(CLOCK_MONOTONIC, &rs->t0);
	rs->mem_fd = -1;
	if (argc < 3 || !strncmp(argv[2], "--", 2))
		return cli_fail(err, errlen, "restore: missing the snapshot's directory (kvmini restore "
			    "DIR [options])");
	if (strlen(argv[2]) >= sizeof(rs->dir))
		return cli_fail(err, errlen, "restore: '%s': the directory name is too long", argv[2]);
	strcpy(rs->dir, argv[2]);
	if ((rc = refuse_options(argc, argv, err, errlen)) || (rc = read_state(rs, err, errlen)))
		return rc;
	if (!(c = snap_find(&rs->file, SNAP_TAG_CONF, 0)))
		return cli_fail(err, errlen, "restore: '%s/state' has no machine description (CONF)",
			    rs->dir);
	sr_init(&r, c->p, c->len, &e);
	if (snapconf_load(&rs->conf, &r) || sr_end(&r, "CONF"))
		return cli_fail(err, errlen, "restore: '%s/state': %s", rs->dir,
			    e.err ? e.msg : "out of memory");
	if ((rc = user_options(rs, argc, argv, err, errlen)))
		return rc;
	char why[CLI_ERR_MAX];
	rc = cli_parse(rs->argc, rs->argv, cfg, why, sizeof(why));
	if (rc != CLI_RUN)
		return cli_fail(err, errlen, "%s", rc < 0 ? why : "restore: --help is kvmini --help");
	return open_memory(rs, cfg, err, errlen);
}

void restore_free(struct restore_src *rs)
{
	if (!rs)
		return;
	if (rs->mem_fd >= 0)
		close(rs->mem_fd);
	snapconf_free(&rs->conf);
	free(rs->argv);
	free(rs->buf);
	free(rs);
}

int restore_memory_fd(const struct restore_src *rs)
{
	return rs->mem_fd;
}

/* ---- loading, in vm_build ---- */

static const uint32_t known[] = { SNAP_TAG_CONF, SNAP_TAG_VCPU, SNAP_TAG_ARCH, SNAP_TAG_UART,
				  SNAP_TAG_PCIH, SNAP_TAG_VDEV };

static int check_sections(const struct snapfile *f, struct state_r *r)
{
	char t[5];

	for (int i = 0; i < f->n; i++) {
		size_t k = 0;
		while (k < sizeof(known) / sizeof(known[0]) && known[k] != f->s[i].tag)
			k++;
		if (k == sizeof(known) / sizeof(known[0]))
			return sr_fail(r, "section %s (%u) is unknown to this kvmini",
				       state_tag_name(f->s[i].tag, t), f->s[i].instance);
		if (f->s[i].version != 1)
			return sr_fail(r, "section %s (%u) version %u is newer than this kvmini reads (1)",
				       state_tag_name(f->s[i].tag, t), f->s[i].instance, f->s[i].version);
	}
	return 0;
}

/* Section (tag, instance) into r, or a message. */
static int section(const struct snapfile *f, uint32_t tag, uint32_t instance, struct state_r *r,
		   struct state_err *e, const char *what)
{
	const struct snap_section *s = snap_find(f, tag, instance);

	sr_init(r, s ? s->p : NULL, s ? s->len : 0, e);
	return s ? 0 : sr_fail(r, "no state for %s", what);
}

int vm_restore_state(struct vm *vm, char *err, size_t errlen)
{
	const struct restore_src *rs = vm->env->restore;
	const struct snapfile *f = &rs->file;
	struct state_err e = { 0 };
	struct state_r r;
	char what[32];

	sr_init(&r, NULL, 0, &e);
	if (check_sections(f, &r) == 0 && snap_count(f, SNAP_TAG_VCPU) != vm->nr_vcpus)
		sr_fail(&r, "%d vCPUs saved, the machine has %d", snap_count(f, SNAP_TAG_VCPU),
			vm->nr_vcpus);
	for (int i = 0; i < vm->nr_vcpus && !e.err; i++) {
		snprintf(what, sizeof(what), "vCPU %d", i);
		if (!section(f, SNAP_TAG_VCPU, (uint32_t)i, &r, &e, what))
			if (!arch_vcpu_load(&vm->arch, vm->vcpus[i].fd, i, &r))
				sr_end(&r, what);
	}
	if (!e.err && !section(f, SNAP_TAG_ARCH, 0, &r, &e, "the interrupt controllers"))
		if (!arch_vm_load(&vm->arch, &r))
			sr_end(&r, "the interrupt controllers");
	if (!e.err && !section(f, SNAP_TAG_UART, 0, &r, &e, "the UART"))
		if (!uart_load_state(&vm->uart, &r))
			sr_end(&r, "the UART");
	if (!e.err)
		virtio_host_load(vm->virtio, f, &e);
	if (e.err) {
		snprintf(err, errlen, "restore: '%s/state': %s", rs->dir, e.msg);
		return -EINVAL;
	}
	return 0;
}

void restore_note_running(const struct restore_src *rs)
{
	struct timespec t;

	if (!vm_stats_wanted())
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	fprintf(stderr, "kvmini: stats: restore: the guest runs again %.1f ms after kvmini "
		"restore started (%s)\n", (double)(t.tv_sec - rs->t0.tv_sec) * 1e3 +
		(double)(t.tv_nsec - rs->t0.tv_nsec) / 1e6, rs->dir);
}
