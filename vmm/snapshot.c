/* Taking a snapshot: see snapshot.h. The order matters:
 *
 *   1. every vCPU parked out of KVM_RUN (vm_pause): no guest instruction,
 *      no MMIO access, no new queue notification;
 *   2. the I/O threads parked and every device quiesced: block requests in
 *      flight finished and answered, receive buffers a network card held
 *      given back -- nothing writes guest memory any more;
 *   3. state gathered (vCPUs, then interrupt controllers and clocks, which
 *      by then hold every interrupt the devices raised), memory written;
 *   4. devices and vCPUs resumed, unless the VM was paused before. */
#define _GNU_SOURCE
#include "vmm/snapshot.h"

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
#include "vmm/snapconf.h"
#include "vmm/snapfile.h"
#include "vmm/virtio_host.h"
#include "vmm/vm.h"

static char *disk_abs[CLI_MAX_DISKS];

void snapshot_prepare(const struct vm_config *cfg)
{
	for (int i = 0; i < cfg->ndisks; i++) {
		free(disk_abs[i]);
		disk_abs[i] = realpath(cfg->disks[i].path, NULL);
	}
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* ---- gathering ---- */

static int gather(struct vm *vm, struct state_w *w, char *err, size_t errlen)
{
	struct snap_header hd = {
		.arch = SNAP_ARCH_HERE, .ram_size = vm->ram_size, .ncpus = (uint32_t)vm->nr_vcpus,
		.created = (uint64_t)time(NULL),
	};
	struct snapconf conf;
	size_t at;
	int r;

	snprintf(hd.kvmini_version, sizeof(hd.kvmini_version), "%s", KVMINI_VERSION);
	snap_write_header(w, &hd);
	if (snapconf_from_config(&conf, vm->cfg, (const char *const *)disk_abs)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	at = snap_begin(w, SNAP_TAG_CONF, 0, 1);
	snapconf_save(&conf, w);
	sw_end(w, at);
	snapconf_free(&conf);
	for (int i = 0; i < vm->nr_vcpus; i++) {
		at = snap_begin(w, SNAP_TAG_VCPU, (uint32_t)i, 1);
		if ((r = arch_vcpu_save(&vm->arch, vm->vcpus[i].fd, i, w, err, errlen)))
			return r;
		sw_end(w, at);
	}
	at = snap_begin(w, SNAP_TAG_ARCH, 0, 1);
	if ((r = arch_vm_save(&vm->arch, w, err, errlen)))
		return r;
	sw_end(w, at);
	at = snap_begin(w, SNAP_TAG_UART, 0, 1);
	uart_save_state(&vm->uart, w);
	sw_end(w, at);
	virtio_host_save(vm->virtio, w);
	snap_finish(w);
	if (w->err) {
		snprintf(err, errlen, "cannot build the state: %s", strerror(-w->err));
		return w->err;
	}
	return 0;
}

/* ---- writing ---- */

static int fail_errno(char *err, size_t errlen, const char *what, const char *path)
{
	int e = errno;

	snprintf(err, errlen, "%s '%s': %s", what, path, strerror(e));
	return -e;
}

static int write_all(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n) {
		ssize_t k = pwrite(fd, p, n, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

#define PAGE 4096u

/* Is [p, p + n) all zeros? (n is a page, or the tail of RAM) */
static bool zero(const uint8_t *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, 8);
		if (v)
			return false;
	}
	for (; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* RAM with holes for pages of zeros: a guest that touched little of its
 * memory makes a small file, and a restore maps the holes as zeros. */
static int write_memory(struct vm *vm, int fd, uint64_t *written)
{
	uint64_t size = vm->ram_size, off = 0;
	int r;

	if (ftruncate(fd, (off_t)size) < 0)
		return -errno;
	*written = 0;
#define CHUNK(o) (size - (o) < PAGE ? (size_t)(size - (o)) : PAGE)
	while (off < size) {
		while (off < size && zero(vm->ram + off, CHUNK(off)))
			off += CHUNK(off);
		uint64_t start = off;
		while (off < size && !zero(vm->ram + off, CHUNK(off)))
			off += CHUNK(off);
		if (off > start) {
			if ((r = write_all(fd, vm->ram + start, off - start, (off_t)start)))
				return r;
			*written += off - start;
		}
	}
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int write_file(const char *dir, const char *name, struct vm *vm, const struct state_w *w,
		      uint64_t *bytes, char *err, size_t errlen)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	int fd, r;

	if (snprintf(final, sizeof(final), "%s/%s", dir, name) >= (int)sizeof(final) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "'%s': the directory name is too long", dir);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail_errno(err, errlen, "cannot create", tmp);
	if (w) {
		r = write_all(fd, w->buf, w->len, 0);
		if (!r && fdatasync(fd) < 0)
			r = -errno;
		*bytes = w->len;
	} else {
		r = write_memory(vm, fd, bytes);
	}
	close(fd);
	if (!r && rename(tmp, final) < 0)
		r = -errno;
	if (r) {
		unlink(tmp);
		snprintf(err, errlen, "cannot write '%s': %s", final, strerror(-r));
	}
	return r;
}

static int make_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return fail_errno(err, errlen, "cannot create the directory", dir);
	if (stat(dir, &st) < 0)
		return fail_errno(err, errlen, "cannot look at", dir);
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a directory", dir);
		return -ENOTDIR;
	}
	return 0;
}

int vm_snapshot(struct vm *vm, const char *dir, struct snap_stats *st, char *err, size_t errlen)
{
	struct state_w w;
	bool was_paused = vm->paused;
	double t0;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = virtio_host_check_saveable(vm->virtio, err, errlen)) ||
	    (r = make_dir(dir, err, errlen)))
		return r;
	/* An older snapshot here goes first: never its state with our memory. */
	char old[PATH_MAX];
	snprintf(old, sizeof(old), "%s/state", dir);
	if (unlink(old) < 0 && errno != ENOENT)
		return fail_errno(err, errlen, "cannot replace", old);
	t0 = now_ms();
	if (!was_paused && (r = vm_pause(vm, err, errlen)))
		return r;
	virtio_host_quiesce(vm->virtio);
	sw_init(&w);
	r = gather(vm, &w, err, errlen);
	/* Memory first: a state file names a complete snapshot. */
	if (!r)
		r = write_file(dir, "memory", vm, NULL, &st->memory_bytes, err, errlen);
	if (!r)
		r = write_file(dir, "state", vm, &w, &st->state_bytes, err, errlen);
	sw_free(&w);
	virtio_host_resume(vm->virtio);
	st->paused_ms = now_ms() - t0;
	if (!was_paused)
		vm_resume(vm);
	return r;
}
