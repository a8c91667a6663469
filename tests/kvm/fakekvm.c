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
 *   fake-vm        a whole VM without a kernel KVM, up to its first
 *                  KVM_RUN (tests/bench/startup.sh measures kvmini's start
 *                  with it): KVM_CREATE_VM, KVM_CREATE_VCPU (3 pages, what
 *                  KVM_GET_VCPU_MMAP_SIZE says, for kvmini to mmap as
 *                  struct kvm_run) and KVM_CREATE_DEVICE give memfds; a
 *                  capability KVM answers with a count (KVM_CAP_NR_VCPUS,
 *                  KVM_CAP_NR_MEMSLOTS, ...) gets one; the "get" ioctls
 *                  answer plausible content (this CPU's CPUID with KVM's
 *                  leaves, a short MSR list, register state as after
 *                  reset, zeros elsewhere); KVM_SET_MSRS and
 *                  KVM_GET_MSRS do every MSR; any other ioctl on those fds
 *                  succeeds. The first KVM_RUN prints "fakekvm: first
 *                  KVM_RUN" on stderr and ends the process with _exit(0)
 *                  (after forbid-on-run's system call, if that is given
 *                  too). Not with "forward"; kvmini needs --seccomp off
 *                  (memfd_create is not in its filters).
 *   exits          with fake-vm: vCPU 0's KVM_RUN plays a fixed list of
 *                  exits instead of ending the process (exit_script below:
 *                  port writes "hi\n" to COM1, two reads of its line
 *                  status, one string write of 4 bytes to port 0x80, two
 *                  MMIO reads and a write to an unmapped page, then a
 *                  shutdown system event, so kvmini powers off with status
 *                  0); other vCPUs wait. For checking kvmini's exit
 *                  accounting (tests/kvm/args.sh args-exit-stats).
 *
 * Without "forward" no KVM is needed: opening /dev/kvm gives a memfd, every
 * capability not named is there, and any other ioctl on it (or on a VM it
 * "created") fails with ENOTTY, unless "fake-vm" answers it as above. With
 * "forward", the ioctl a missing capability stands for (KVM_IOEVENTFD,
 * KVM_IRQFD) fails with ENOTTY as on a kernel without it, and a line
 * "fakekvm: ..." on stderr says kvmini used it anyway, for the test to look
 * for.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

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
	bool parsed, forward, forbid_on_run, fake_vm, exits;
	int api;                      /* 0: not given */
	int create_vm_errno;
	int no_caps[MAX_NO_CAPS];
	int nr_no_caps;
} cfg;

/* The fds that are "KVM": ioctl runs on vCPU threads too, so lookups are
 * lock-free. -1: free slot. */
static atomic_int kvm_fd = -1;
static atomic_int vm_fds[MAX_VMS] = { -1, -1, -1, -1, -1, -1, -1, -1 };

/* fake-vm: the vCPU and device fds it handed out, a bit per fd number. */
#define MAX_FAKE_FD 4096
static atomic_ulong fake_fds[MAX_FAKE_FD / 64];

static bool is_fake_fd(int fd)
{
	return fd >= 0 && fd < MAX_FAKE_FD &&
	       (atomic_load(&fake_fds[fd / 64]) >> (fd % 64) & 1);
}

static void set_fake_fd(int fd, bool on)
{
	unsigned long bit = 1ul << (fd % 64);

	if (on)
		atomic_fetch_or(&fake_fds[fd / 64], bit);
	else
		atomic_fetch_and(&fake_fds[fd / 64], ~bit);
}

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
		else if (!strcmp(t, "fake-vm"))
			cfg.fake_vm = true;
		else if (!strcmp(t, "exits"))
			cfg.exits = true;
		else if (!strncmp(t, "api=", 4) && atoi(t + 4) > 0)
			cfg.api = atoi(t + 4);
		else if (!strncmp(t, "create-vm=", 10))
			cfg.create_vm_errno = parse_errno(t + 10);
		else if (!strncmp(t, "no-cap=", 7) && cfg.nr_no_caps < MAX_NO_CAPS)
			cfg.no_caps[cfg.nr_no_caps++] = parse_cap(t + 7);
		else
			die("item", t);
	}
	if (cfg.fake_vm && cfg.forward)
		die("items", "fake-vm with forward");
	if (cfg.exits && !cfg.fake_vm)
		die("items", "exits without fake-vm");
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
		if (is_fake_fd(fd))
			set_fake_fd(fd, false);
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

/* ---- fake-vm ---- */

#define VCPU_MMAP_PAGES 3
static int vcpu_ids[MAX_FAKE_FD];       /* written before kvmini starts its threads */

/* A memfd of size bytes that is one of our vCPU or device fds from now on. */
static int new_fake_fd(const char *name, off_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fd >= MAX_FAKE_FD) {
		fprintf(stderr, "fakekvm: fd %d, more than fake-vm keeps track of\n", fd);
		abort();
	}
	if (size && ftruncate(fd, size) < 0) {
		int e = errno;
		REAL(close)(fd);
		return fail(e);
	}
	set_fake_fd(fd, true);
	return fd;
}

static long vcpu_mmap_size(void)
{
	return VCPU_MMAP_PAGES * sysconf(_SC_PAGESIZE);
}

/* KVM_CHECK_EXTENSION: the capabilities that answer a count do so. */
static int fake_vm_cap(long cap)
{
	switch (cap) {
	case KVM_CAP_NR_VCPUS:
		return 8;
	case KVM_CAP_MAX_VCPUS:
	case KVM_CAP_MAX_VCPU_ID:
		return 1024;
	case KVM_CAP_NR_MEMSLOTS:
		return 32764;
#if defined(KVM_CAP_XSAVE2) && (defined(__x86_64__) || defined(__i386__))
	case KVM_CAP_XSAVE2:
		return (int)sizeof(struct kvm_xsave);
#endif
	default:
		return 1;
	}
}

#if defined(__x86_64__) || defined(__i386__)
/* KVM_GET_SUPPORTED_CPUID: this CPU's leaves (every index of those that
 * have them, as KVM lists them) and KVM's own at 0x40000000. */
static bool cpuid_indexed(uint32_t fn)
{
	switch (fn) {
	case 4: case 7: case 0xB: case 0xD: case 0xF: case 0x10: case 0x12: case 0x14:
	case 0x17: case 0x18: case 0x1D: case 0x1E: case 0x1F: case 0x8000001D:
		return true;
	default:
		return false;
	}
}

static struct kvm_cpuid_entry2 *cpuid_add(struct kvm_cpuid2 *c, uint32_t max, uint32_t fn,
					  uint32_t idx)
{
	if (c->nent >= max)
		return NULL;
	struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];
	*e = (struct kvm_cpuid_entry2){ .function = fn, .index = idx };
	if (cpuid_indexed(fn))
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	__cpuid_count(fn, idx, e->eax, e->ebx, e->ecx, e->edx);
	return e;
}

/* One leaf and its indices; false when the caller's array is full. */
static bool cpuid_leaf(struct kvm_cpuid2 *c, uint32_t max, uint32_t fn)
{
	struct kvm_cpuid_entry2 *e = cpuid_add(c, max, fn, 0);
	uint32_t n;

	if (!e)
		return false;
	switch (fn) {
	case 4:
	case 0x8000001D:        /* cache levels, up to the null one */
		for (n = 1; (e->eax & 0x1F) && n < 64; n++)
			if (!(e = cpuid_add(c, max, fn, n)))
				return false;
		break;
	case 0xB:
	case 0x1F:              /* topology levels, up to the invalid one */
		for (n = 1; (e->ecx & 0xFF00) && n < 64; n++)
			if (!(e = cpuid_add(c, max, fn, n)))
				return false;
		break;
	case 7:
		for (n = 1; n <= e->eax && n < 4; n++)
			if (!cpuid_add(c, max, fn, n))
				return false;
		break;
	case 0xD:               /* XSAVE: 1, and each state component there is */
		for (n = 1; n < 64; n++) {
			uint32_t a, b, cx, d;
			__cpuid_count(fn, n, a, b, cx, d);
			if ((n == 1 || a) && !cpuid_add(c, max, fn, n))
				return false;
		}
		break;
	}
	return true;
}

static int fake_cpuid(struct kvm_cpuid2 *c)
{
	uint32_t max = c->nent, basic = __get_cpuid_max(0, NULL), ext = __get_cpuid_max(0x80000000, NULL);
	struct kvm_cpuid_entry2 *e;

	c->nent = 0;
	if (basic > 0x1F)
		basic = 0x1F;
	if (ext > 0x80000021)
		ext = 0x80000021;
	for (uint32_t fn = 0; fn <= basic; fn++)
		if (!cpuid_leaf(c, max, fn))
			return fail(E2BIG);
	if (c->nent)
		c->entries[0].eax = basic;
	if (!(e = cpuid_add(c, max, 0x40000000, 0)))
		return fail(E2BIG);
	*e = (struct kvm_cpuid_entry2){ .function = 0x40000000, .eax = 0x40000001,
		.ebx = 0x4B4D564B, .ecx = 0x564B4D56, .edx = 0x4D };          /* KVMKVMKVM */
	if (!(e = cpuid_add(c, max, 0x40000001, 0)))
		return fail(E2BIG);
	/* CLOCKSOURCE, NOP_IO_DELAY, CLOCKSOURCE2, CLOCKSOURCE_STABLE */
	*e = (struct kvm_cpuid_entry2){ .function = 0x40000001, .eax = 1u << 0 | 1u << 1 | 1u << 3 | 1u << 24 };
	for (uint32_t fn = 0x80000000; ext >= 0x80000000 && fn <= ext; fn++)
		if (!cpuid_leaf(c, max, fn))
			return fail(E2BIG);
	return 0;
}

/* KVM_GET_MSR_INDEX_LIST and the feature list: KVM's answer, count first. */
static int msr_list(struct kvm_msr_list *l, const uint32_t *msrs, uint32_t n)
{
	uint32_t room = l->nmsrs;

	l->nmsrs = n;
	if (room < n)
		return fail(E2BIG);
	memcpy(l->indices, msrs, n * sizeof(msrs[0]));
	return 0;
}

static const uint32_t x86_msrs[] = {
	0x10, 0x1B, 0x174, 0x175, 0x176, 0x1A0, 0x277, 0x2FF,          /* TSC ... MTRRdefType */
	0xC0000080, 0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084,    /* EFER, STAR ... */
	0xC0000100, 0xC0000101, 0xC0000102, 0xC0000103,                /* FS/GS bases, TSC_AUX */
	0x4B564D00, 0x4B564D01,                                        /* KVM clocks */
};
static const uint32_t x86_feature_msrs[] = { 0x10A };                 /* ARCH_CAPABILITIES */

/* Register state as a vCPU has it after reset. */
static void reset_sregs(struct kvm_sregs *s, int id)
{
	struct kvm_segment data = { .limit = 0xFFFF, .type = 3, .present = 1, .s = 1 };

	memset(s, 0, sizeof(*s));
	s->cs = (struct kvm_segment){ .base = 0xFFFF0000, .limit = 0xFFFF, .selector = 0xF000,
				      .type = 0xB, .present = 1, .s = 1 };
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->ldt = (struct kvm_segment){ .limit = 0xFFFF, .type = 2, .present = 1 };
	s->tr = (struct kvm_segment){ .limit = 0xFFFF, .type = 0xB, .present = 1 };
	s->gdt.limit = s->idt.limit = 0xFFFF;
	s->cr0 = 0x60000010;
	s->apic_base = 0xFEE00800 | (id == 0 ? 0x100 : 0);
}

static void lapic_reg(struct kvm_lapic_state *l, unsigned off, uint32_t v)
{
	memcpy(&l->regs[off], &v, sizeof(v));
}

static void reset_lapic(struct kvm_lapic_state *l, int id)
{
	memset(l, 0, sizeof(*l));
	lapic_reg(l, 0x20, (uint32_t)id << 24);         /* ID */
	lapic_reg(l, 0x30, 0x50014);                    /* version */
	lapic_reg(l, 0xE0, 0xFFFFFFFF);                 /* DFR */
	lapic_reg(l, 0xF0, 0xFF);                       /* SVR, APIC off */
	for (unsigned off = 0x320; off <= 0x370; off += 0x10)
		lapic_reg(l, off, 0x10000);             /* LVTs masked */
}
#endif

/* "exits": what vCPU 0's KVM_RUN reports, one exit per call. */
static const struct fake_exit {
	uint32_t reason;
	uint64_t addr;                /* port or guest-physical address */
	uint8_t write, size, count;   /* count: accesses of a string port exit */
	uint8_t data;
} exit_script[] = {
	{ KVM_EXIT_IO, 0x3f8, 1, 1, 1, 'h' },
	{ KVM_EXIT_IO, 0x3f8, 1, 1, 1, 'i' },
	{ KVM_EXIT_IO, 0x3f8, 1, 1, 1, '\n' },
	{ KVM_EXIT_IO, 0x3fd, 0, 1, 1, 0 },
	{ KVM_EXIT_IO, 0x3fd, 0, 1, 1, 0 },
	{ KVM_EXIT_IO, 0x80, 1, 1, 4, 0x55 },
	{ KVM_EXIT_MMIO, 0xfed00000, 0, 4, 1, 0 },
	{ KVM_EXIT_MMIO, 0xfed00ffc, 0, 4, 1, 0 },
	{ KVM_EXIT_MMIO, 0xfed00010, 1, 4, 1, 0x11 },
	{ KVM_EXIT_SYSTEM_EVENT, 0, 0, 0, 0, 0 },
};

/* A vCPU with nothing (more) to run waits as KVM_RUN would, until kvmini
 * kicks it out: immediate_exit, set before the kick signal, ends the wait
 * with EINTR (polled, so a signal that came first is not missed). */
static int wait_kick(struct kvm_run *run)
{
	while (!__atomic_load_n(&run->immediate_exit, __ATOMIC_SEQ_CST))
		usleep(1000);
	errno = EINTR;
	return -1;
}

/* Fills the vCPU's kvm_run (its memfd, mapped here too) with the next exit
 * of the script; vCPUs other than 0 only wait. */
static int play_exit(int fd, int id)
{
	static atomic_uint next;
	struct kvm_run *run = mmap(NULL, (size_t)vcpu_mmap_size(), PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0);
	int r = 0;

	if (run == MAP_FAILED)
		abort();
	unsigned i = id == 0 ? atomic_fetch_add(&next, 1) : ~0u;
	if (i >= sizeof(exit_script) / sizeof(exit_script[0])) {
		r = wait_kick(run);
		munmap(run, (size_t)vcpu_mmap_size());
		return r;
	}
	const struct fake_exit *e = &exit_script[i];
	run->exit_reason = e->reason;
	if (e->reason == KVM_EXIT_IO) {
		uint8_t *data = (uint8_t *)run + sysconf(_SC_PAGESIZE);
		run->io.direction = e->write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
		run->io.size = e->size;
		run->io.port = (uint16_t)e->addr;
		run->io.count = e->count;
		run->io.data_offset = (uint64_t)sysconf(_SC_PAGESIZE);
		memset(data, e->data, (size_t)e->size * e->count);
	} else if (e->reason == KVM_EXIT_MMIO) {
		run->mmio.phys_addr = e->addr;
		run->mmio.len = e->size;
		run->mmio.is_write = e->write;
		memset(run->mmio.data, e->data, sizeof(run->mmio.data));
	} else {
		run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
		run->system_event.ndata = 0;
	}
	munmap(run, (size_t)vcpu_mmap_size());
	return r;
}

static int fake_vm_ioctl(int fd, bool kvm, unsigned long req, void *arg)
{
	bool vcpu = is_fake_fd(fd);
	int id = vcpu ? vcpu_ids[fd] : 0;

	switch (req) {
	case KVM_GET_VCPU_MMAP_SIZE:
		return (int)vcpu_mmap_size();
	case KVM_CREATE_VCPU: {
		if (kvm || vcpu)
			break;
		int v = new_fake_fd("fakekvm-vcpu", vcpu_mmap_size());
		if (v >= 0)
			vcpu_ids[v] = (int)(unsigned long)arg;
		return v;
	}
	case KVM_CREATE_DEVICE: {
		struct kvm_create_device *d = arg;
		if (d->flags & KVM_CREATE_DEVICE_TEST)
			return 0;
		int dev = new_fake_fd("fakekvm-device", 0);
		if (dev < 0)
			return -1;
		d->fd = (uint32_t)dev;
		return 0;
	}
	case KVM_RUN: {
		static atomic_bool ran;
		if (!vcpu)
			break;
		if (cfg.forbid_on_run)
			syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
		if (cfg.exits)
			return play_exit(fd, id);
		if (!atomic_exchange(&ran, true)) {
			fputs("fakekvm: first KVM_RUN\n", stderr);
			_exit(0);
		}
		for (;;)                /* another vCPU: the process is ending */
			pause();
	}
	case KVM_GET_ONE_REG: {
		struct kvm_one_reg *r = arg;
		memset((void *)(uintptr_t)r->addr, 0,
		       (size_t)1 << ((r->id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT));
		return 0;
	}
#if defined(__x86_64__) || defined(__i386__)
	case KVM_GET_SUPPORTED_CPUID:
		return fake_cpuid(arg);
	case KVM_GET_EMULATED_CPUID:
	case KVM_GET_CPUID2:
		((struct kvm_cpuid2 *)arg)->nent = 0;
		return 0;
	case KVM_GET_MSR_INDEX_LIST:
		return msr_list(arg, x86_msrs, sizeof(x86_msrs) / sizeof(x86_msrs[0]));
	case KVM_GET_MSR_FEATURE_INDEX_LIST:
		return msr_list(arg, x86_feature_msrs, 1);
	case KVM_GET_MSRS:
	case KVM_SET_MSRS: {            /* both answer how many MSRs they did */
		struct kvm_msrs *m = arg;
		if (req == KVM_GET_MSRS)
			for (uint32_t i = 0; i < m->nmsrs; i++)
				m->entries[i].data = m->entries[i].index == 0x1B
					? 0xFEE00800 | (id == 0 ? 0x100 : 0) : 0;
		return (int)m->nmsrs;
	}
	case KVM_GET_IRQCHIP: {
		struct kvm_irqchip *c = arg;
		memset(&c->chip, 0, sizeof(c->chip));
		return 0;
	}
	case KVM_GET_SREGS:
		reset_sregs(arg, id);
		return 0;
	case KVM_GET_REGS:
		*(struct kvm_regs *)arg = (struct kvm_regs){ .rip = 0xFFF0, .rflags = 2 };
		return 0;
	case KVM_GET_LAPIC:
		reset_lapic(arg, id);
		return 0;
	case KVM_GET_FPU:
		*(struct kvm_fpu *)arg = (struct kvm_fpu){ .fcw = 0x37F, .mxcsr = 0x1F80 };
		return 0;
#endif
	}
	/* Any other "get" reads zeros; everything else just works. */
	if (_IOC_DIR(req) == _IOC_READ && arg)
		memset(arg, 0, _IOC_SIZE(req));
	return 0;
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
			return cfg.fake_vm ? fake_vm_cap((long)arg) : 1;
		if (kvm && req == KVM_CREATE_VM) {
			int vm = memfd_create("fakekvm-vm", MFD_CLOEXEC);
			if (vm >= 0)
				add_vm_fd(vm);
			return vm;
		}
		if (cfg.fake_vm)
			return fake_vm_ioctl(fd, kvm, req, arg);
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
	if (is_fake_fd(fd))
		return fake_vm_ioctl(fd, false, req, arg);
	if (req == KVM_RUN && cfg.forbid_on_run)
		syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	return REAL(ioctl)(fd, req, arg);
}
