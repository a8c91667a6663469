/* fakekvm.so: an LD_PRELOAD stand-in for /dev/kvm, so tests can show kvmini
 * a KVM it cannot use (tests/kvm/args.sh, on any host) or a real KVM that
 * lacks an optional feature (tests/kvm/cases.sh, where KVM works).
 *
 * FAKEKVM, comma-separated, picks the behaviour:
 *   api=N          KVM_GET_API_VERSION answers N (default: 12, or the real
 *                  answer with "forward")
 *   create-vm=ERR  KVM_CREATE_VM fails with errno ERR: EPERM, EINVAL, ENOMEM
 *                  or a number
 *   no-cap=CAP     KVM_CHECK_EXTENSION answers 0 for CAP (a KVM_CAP_* name
 *                  from the table below, or a number); repeatable
 *   forward        open the real /dev/kvm and pass everything else to it
 *   forbid-on-run  before each KVM_RUN, make a system call kvmini's vCPU
 *                  threads may not (socket): the seccomp filter must stop
 *                  the process with SIGSYS (a stand-in for a guest that got
 *                  a vCPU thread to stray)
 *
 * Without "forward" no KVM is needed: opening /dev/kvm gives a memfd, every
 * capability not named is there, and any other ioctl on it (or on a VM it
 * "created") fails with ENOTTY. With "forward", the ioctl a missing
 * capability stands for (KVM_IOEVENTFD, KVM_IRQFD) fails with ENOTTY as on
 * a kernel without it, and a line "fakekvm: ..." on stderr says kvmini used
 * it anyway, for the test to look for.
 *
 * Only calls kvmini makes itself pass through here: open, openat (and their
 * 64-bit and fortified names), ioctl and close. */
#define _GNU_SOURCE
#undef _FORTIFY_SOURCE        /* we define open() itself, not fortify's inline */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#define CAP(c) { #c, c }
static const struct { const char *name; int cap; } cap_names[] = {
	CAP(KVM_CAP_USER_MEMORY), CAP(KVM_CAP_SET_TSS_ADDR), CAP(KVM_CAP_SET_IDENTITY_MAP_ADDR),
	CAP(KVM_CAP_IRQCHIP), CAP(KVM_CAP_PIT2), CAP(KVM_CAP_EXT_CPUID),
	CAP(KVM_CAP_IMMEDIATE_EXIT), CAP(KVM_CAP_SIGNAL_MSI), CAP(KVM_CAP_IRQ_ROUTING),
	CAP(KVM_CAP_IOEVENTFD), CAP(KVM_CAP_IRQFD), CAP(KVM_CAP_ONE_REG),
	CAP(KVM_CAP_ARM_PSCI_0_2), CAP(KVM_CAP_DEVICE_CTRL),
};

#define MAX_NO_CAPS 16
#define MAX_VMS 8

static struct {
	bool parsed, forward, forbid_on_run;
	int api;                      /* 0: not given */
	int create_vm_errno;
	int no_caps[MAX_NO_CAPS];
	int nr_no_caps;
} cfg;

/* The fds that are "KVM": ioctl runs on vCPU threads too, so lookups are
 * lock-free. -1: free slot. */
static atomic_int kvm_fd = -1;
static atomic_int vm_fds[MAX_VMS] = { -1, -1, -1, -1, -1, -1, -1, -1 };

static void die(const char *what, const char *v)
{
	fprintf(stderr, "fakekvm: bad FAKEKVM %s '%s'\n", what, v);
	abort();
}

static int parse_errno(const char *v)
{
	if (!strcmp(v, "EPERM"))
		return EPERM;
	if (!strcmp(v, "EINVAL"))
		return EINVAL;
	if (!strcmp(v, "ENOMEM"))
		return ENOMEM;
	char *end;
	long n = strtol(v, &end, 0);
	if (*end || n <= 0)
		die("errno", v);
	return (int)n;
}

static int parse_cap(const char *v)
{
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (!strcmp(v, cap_names[i].name))
			return cap_names[i].cap;
	char *end;
	long n = strtol(v, &end, 0);
	if (*end || n <= 0)
		die("capability", v);
	return (int)n;
}

/* Runs on the first open of /dev/kvm, single-threaded in kvmini. */
static void parse_cfg(void)
{
	const char *env = getenv("FAKEKVM");
	char buf[512], *save = NULL;

	cfg.parsed = true;
	snprintf(buf, sizeof(buf), "%s", env ? env : "");
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "forward"))
			cfg.forward = true;
		else if (!strcmp(t, "forbid-on-run"))
			cfg.forbid_on_run = true;
		else if (!strncmp(t, "api=", 4) && atoi(t + 4) > 0)
			cfg.api = atoi(t + 4);
		else if (!strncmp(t, "create-vm=", 10))
			cfg.create_vm_errno = parse_errno(t + 10);
		else if (!strncmp(t, "no-cap=", 7) && cfg.nr_no_caps < MAX_NO_CAPS)
			cfg.no_caps[cfg.nr_no_caps++] = parse_cap(t + 7);
		else
			die("item", t);
	}
}

static bool cap_missing(int cap)
{
	for (int i = 0; i < cfg.nr_no_caps; i++)
		if (cfg.no_caps[i] == cap)
			return true;
	return false;
}

static bool is_vm_fd(int fd)
{
	for (int i = 0; i < MAX_VMS; i++)
		if (fd >= 0 && atomic_load(&vm_fds[i]) == fd)
			return true;
	return false;
}

static void add_vm_fd(int fd)
{
	for (int i = 0; i < MAX_VMS; i++) {
		int free_slot = -1;
		if (atomic_compare_exchange_strong(&vm_fds[i], &free_slot, fd))
			return;
	}
	fprintf(stderr, "fakekvm: more than %d VMs at once\n", MAX_VMS);
	abort();
}

/* ---- open ---- */

/* The next definition of a function we wrap (libc's, or a sanitizer's),
 * looked up once. A race between threads stores the same pointer. */
#define REAL(name)                                                         \
	({                                                                 \
		static typeof(&name) real_;                                \
		typeof(&name) p_ = __atomic_load_n(&real_, __ATOMIC_RELAXED); \
		if (!p_) {                                                 \
			p_ = (typeof(&name))dlsym(RTLD_NEXT, #name);       \
			__atomic_store_n(&real_, p_, __ATOMIC_RELAXED);    \
		}                                                          \
		p_;                                                        \
	})

/* /dev/kvm is opened once, by kvmini's main thread, before any other. */
static bool is_dev_kvm(const char *path)
{
	if (!path || strcmp(path, "/dev/kvm"))
		return false;
	if (!cfg.parsed)
		parse_cfg();
	return true;
}

static int fake_open(int flags)
{
	int fd = memfd_create("fakekvm", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);

	if (fd >= 0)
		atomic_store(&kvm_fd, fd);
	return fd;
}

static int opened(int fd)
{
	if (fd >= 0)
		atomic_store(&kvm_fd, fd);
	return fd;
}

/* The mode argument exists only with O_CREAT or O_TMPFILE (open(2)). */
#define MODE_ARG(flags, mode)                                              \
	do {                                                               \
		if ((flags) & (O_CREAT | O_TMPFILE)) {                     \
			va_list ap;                                        \
			va_start(ap, flags);                               \
			mode = (mode_t)va_arg(ap, int);                    \
			va_end(ap);                                        \
		}                                                          \
	} while (0)

#define OPEN_WRAPPER(name)                                                 \
	int name(const char *path, int flags, ...)                         \
	{                                                                  \
		mode_t mode = 0;                                           \
		MODE_ARG(flags, mode);                                     \
		if (!is_dev_kvm(path))                                     \
			return REAL(name)(path, flags, mode);              \
		if (!cfg.forward)                                          \
			return fake_open(flags);                           \
		return opened(REAL(name)(path, flags, mode));              \
	}

#define OPENAT_WRAPPER(name)                                               \
	int name(int dirfd, const char *path, int flags, ...)              \
	{                                                                  \
		mode_t mode = 0;                                           \
		MODE_ARG(flags, mode);                                     \
		if (!is_dev_kvm(path))                                     \
			return REAL(name)(dirfd, path, flags, mode);       \
		if (!cfg.forward)                                          \
			return fake_open(flags);                           \
		return opened(REAL(name)(dirfd, path, flags, mode));       \
	}

OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

/* _FORTIFY_SOURCE turns open() with non-constant flags into these. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);

int __open_2(const char *path, int flags)
{
	return open(path, flags);
}

int __open64_2(const char *path, int flags)
{
	return open64(path, flags);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	return openat(dirfd, path, flags);
}

int close(int fd)
{
	int k = fd;

	if (fd >= 0) {
		atomic_compare_exchange_strong(&kvm_fd, &k, -1);
		for (int i = 0; i < MAX_VMS; i++) {
			int v = fd;
			atomic_compare_exchange_strong(&vm_fds[i], &v, -1);
		}
	}
	return REAL(close)(fd);
}

/* ---- ioctl ---- */

static int fail(int e)
{
	errno = e;
	return -1;
}

/* The ioctl a capability stands for, where a kernel without it lacks it. */
static int cap_of_ioctl(unsigned long req)
{
	switch (req) {
	case KVM_IOEVENTFD:
		return KVM_CAP_IOEVENTFD;
	case KVM_IRQFD:
		return KVM_CAP_IRQFD;
	default:
		return -1;
	}
}

static int fake_ioctl(int fd, unsigned long req, void *arg)
{
	bool kvm = fd == atomic_load(&kvm_fd);

	if (kvm && req == KVM_GET_API_VERSION && (cfg.api || !cfg.forward))
		return cfg.api ? cfg.api : KVM_API_VERSION;
	if (req == KVM_CHECK_EXTENSION && cap_missing((int)(unsigned long)arg))
		return 0;
	if (kvm && req == KVM_CREATE_VM && cfg.create_vm_errno)
		return fail(cfg.create_vm_errno);
	if (!cfg.forward) {
		if (req == KVM_CHECK_EXTENSION)
			return 1;
		if (kvm && req == KVM_CREATE_VM) {
			int vm = memfd_create("fakekvm-vm", MFD_CLOEXEC);
			if (vm >= 0)
				add_vm_fd(vm);
			return vm;
		}
		return fail(ENOTTY);
	}
	int cap = cap_of_ioctl(req);
	if (cap >= 0 && cap_missing(cap)) {
		fprintf(stderr, "fakekvm: kvmini called an ioctl of a capability KVM says "
			"it lacks (%d)\n", cap);
		return fail(ENOTTY);
	}
	int r = REAL(ioctl)(fd, req, arg);
	if (kvm && req == KVM_CREATE_VM && r >= 0)
		add_vm_fd(r);
	return r;
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd >= 0 && (fd == atomic_load(&kvm_fd) || is_vm_fd(fd)))
		return fake_ioctl(fd, req, arg);
	if (req == KVM_RUN && cfg.forbid_on_run)
		syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	return REAL(ioctl)(fd, req, arg);
}
