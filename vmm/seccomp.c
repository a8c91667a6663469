/* System-call allow-lists: see seccomp.h.
 *
 * Each list names what a thread needs and why. A filter checks the
 * architecture, then the call number against the list; anything else traps
 * (SIGSYS: we name the call and end the process) or, with --seccomp=log, is
 * logged by the kernel and allowed. Filters stack: threads the main thread
 * creates after installing its own inherit it, and vCPU and I/O threads
 * narrow it further with theirs. */
#define _GNU_SOURCE
#include "vmm/seccomp.h"

#include <errno.h>
#include <execinfo.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_AARCH64
#else
#define AUDIT_ARCH_HERE 0
#endif

struct sys {
	const char *name;
	long nr;
};

#define S(n) { #n, __NR_##n }

/* ---- the lists ---- */

/* Every thread: memory (malloc, thread stacks), locks, signals and their
 * return, time, exiting, and I/O on descriptors it already has. */
static const struct sys base[] = {
	S(read), S(write), S(readv), S(writev), S(close), S(lseek), S(fstat), S(newfstatat),
	S(futex), S(mmap), S(munmap), S(mremap), S(mprotect), S(madvise), S(brk),
	S(rt_sigprocmask), S(rt_sigreturn), S(sigaltstack), S(restart_syscall),
	S(exit), S(exit_group), S(gettid), S(getpid), S(tgkill), S(sched_yield),
	S(clock_gettime), S(clock_nanosleep), S(nanosleep), S(getrandom),
#ifdef __NR_rseq
	S(rseq),
#endif
	S(set_robust_list), S(membarrier),
};

/* Device work: a vCPU serves its own kicks without ioeventfd (disk I/O,
 * tap frames), and both vCPU and I/O threads interrupt the guest and
 * wire notifications at DRIVER_OK (KVM ioctls, eventfds, epoll). */
static const struct sys devices[] = {
	S(ioctl),                                     /* KVM_*, TUN* offloads and byte order */
	S(pread64), S(pwrite64), S(preadv), S(pwritev), S(preadv2), S(pwritev2),
	S(fdatasync), S(fsync), S(fallocate),         /* disk requests (sync and thread pool) */
	S(io_uring_enter),                            /* the io_uring engine */
	S(ppoll),                                     /* waiting for a ring to drain (reset) */
#ifdef __NR_poll
	S(poll),
#endif
	S(eventfd2), S(epoll_ctl),                    /* notify_attach at DRIVER_OK */
	S(fcntl),
};

/* I/O threads: their event loop. */
static const struct sys io_loop[] = {
	S(epoll_pwait),
#ifdef __NR_epoll_wait
	S(epoll_wait),
#endif
};

/* The main thread builds each VM (again at --on-reboot restart): vCPU and
 * I/O threads, the block engines' rings and workers, eventfds, timers; it
 * runs the main loop (epoll, signalfd, console input) and stops the VM. */
static const struct sys builder[] = {
	S(clone), S(clone3), S(set_tid_address),
	S(epoll_create1), S(epoll_pwait),
#ifdef __NR_epoll_wait
	S(epoll_wait),
#endif
	S(timerfd_create), S(timerfd_settime), S(signalfd4),
	S(io_uring_setup), S(io_uring_register),
	S(openat), S(statx),                          /* the kernel and initrd, read again at restart */
#ifdef __NR_open
	S(open),
#endif
	S(kill), S(rt_sigaction), S(prlimit64), S(sched_getaffinity),
	S(dup), S(dup3), S(uname),
	S(seccomp),                                   /* vCPU and I/O threads add their own filter */
	/* snapshots (vmm/snapshot.c, api.c): connections on the control socket,
	 * the snapshot directory, files written beside their names, sized
	 * (the memory file is sparse) and renamed into place; the socket is
	 * removed at exit */
	S(accept4), S(mkdirat), S(ftruncate), S(unlinkat),
#ifdef __NR_renameat
	S(renameat),
#endif
	S(renameat2),
#ifdef __NR_mkdir
	S(mkdir),
#endif
#ifdef __NR_rename
	S(rename),
#endif
#ifdef __NR_unlink
	S(unlink),
#endif
};

#ifdef KVMINI_SANITIZE
/* Sanitizer builds only: LeakSanitizer stops the process's threads with
 * ptrace from a helper thread at exit, and reports read /proc. */
static const struct sys sanitizer[] = {
	S(ptrace), S(wait4), S(prctl), S(readlinkat), S(getdents64),
#ifdef __NR_readlink
	S(readlink),
#endif
#ifdef __NR_getdents
	S(getdents),
#endif
	S(sched_getaffinity), S(getppid), S(openat), S(pipe2),
};
#endif

/* Names for the SIGSYS line: every listed call, and some a guest-driven
 * bug is likely to reach for. */
static const struct sys notable[] = {
	S(socket), S(connect), S(bind), S(sendto), S(recvfrom), S(sendmsg), S(recvmsg),
	S(execve), S(execveat), S(unlinkat), S(mkdirat), S(renameat2),
	S(ptrace), S(mount), S(umount2), S(setuid), S(setgid), S(fchmod), S(fchmodat),
	S(truncate), S(ftruncate), S(wait4), S(pipe2), S(getdents64), S(prctl), S(seccomp),
};

static const struct { const struct sys *s; size_t n; } tables[] = {
	{ base, sizeof(base) / sizeof(base[0]) },
	{ devices, sizeof(devices) / sizeof(devices[0]) },
	{ io_loop, sizeof(io_loop) / sizeof(io_loop[0]) },
	{ builder, sizeof(builder) / sizeof(builder[0]) },
	{ notable, sizeof(notable) / sizeof(notable[0]) },
};

const char *seccomp_syscall_name(long nr)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (size_t i = 0; i < tables[t].n; i++)
			if (tables[t].s[i].nr == nr)
				return tables[t].s[i].name;
	return NULL;
}

/* ---- the trap ---- */

static __thread const char *thread_role = "main";
/* glibc's backtrace() could load its unwinder (libgcc_s) before the
 * filters: only then may the trap use it (loading it there is an open). */
static bool unwinder_loaded;
static enum seccomp_mode mode_in_use;

static void put(char *buf, size_t *at, size_t cap, const char *s)
{
	while (*s && *at + 1 < cap)
		buf[(*at)++] = *s++;
}

static void put_num(char *buf, size_t *at, size_t cap, long v)
{
	char d[24];
	int n = 0;
	unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;

	do {
		d[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		put(buf, at, cap, "-");
	while (n && *at + 1 < cap)
		buf[(*at)++] = d[--n];
}

/* Async-signal-safe: formats by hand, one write(2), then dies of SIGSYS. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[200];
	size_t at = 0;
	const char *name = seccomp_syscall_name(si->si_syscall);

	(void)uc;
	put(msg, &at, sizeof(msg), "kvmini: seccomp: the ");
	put(msg, &at, sizeof(msg), thread_role);
	put(msg, &at, sizeof(msg), " thread made a forbidden system call: ");
	if (name) {
		put(msg, &at, sizeof(msg), name);
		put(msg, &at, sizeof(msg), " (");
		put_num(msg, &at, sizeof(msg), si->si_syscall);
		put(msg, &at, sizeof(msg), ")");
	} else {
		put(msg, &at, sizeof(msg), "number ");
		put_num(msg, &at, sizeof(msg), si->si_syscall);
	}
	put(msg, &at, sizeof(msg), "; stopping (--seccomp=log logs such calls instead)\n");
	if (write(STDERR_FILENO, msg, at) < 0) {
		/* nothing more to do */
	}
	/* Where it came from, for the bug report (addresses for addr2line). */
	if (unwinder_loaded) {
		void *frames[24];
		int n = backtrace(frames, 24);
		backtrace_symbols_fd(frames, n, STDERR_FILENO);
	}
	/* Die of the signal itself, so the status says SIGSYS. */
	signal(sig, SIG_DFL);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	kill(getpid(), sig);
}

/* ---- filters ---- */

#define MAX_INSNS 256

static int add_list(struct sock_filter *f, int n, const struct sys *s, size_t count)
{
	for (size_t i = 0; i < count && n < MAX_INSNS - 4; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)s[i].nr, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	return n;
}

static int install(const struct sys *const *lists, const size_t *counts, int nlists, bool set_nnp)
{
	struct sock_filter f[MAX_INSNS];
	int n = 0;
	uint32_t deny = mode_in_use == SECCOMP_LOG ? SECCOMP_RET_LOG : SECCOMP_RET_TRAP;

	/* A call made through another architecture's numbers is refused. */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (int l = 0; l < nlists; l++)
		n = add_list(f, n, lists[l], counts[l]);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, deny);
	struct sock_fprog prog = { .len = (unsigned short)n, .filter = f };
	/* no_new_privs: set by the main thread, inherited by every thread it
	 * creates (which may no longer call prctl). */
	if (set_nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return -errno;
	return 0;
}

int seccomp_setup(enum seccomp_mode mode)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	mode_in_use = mode;
	if (mode == SECCOMP_OFF)
		return 0;
	if (!AUDIT_ARCH_HERE)
		return -ENOSYS;
	sigemptyset(&sa.sa_mask);
	/* backtrace() loads the unwinder on first use: do it now, while
	 * opening a library is still allowed. */
	void *frame;
	unwinder_loaded = backtrace(&frame, 1) > 0;
	return sigaction(SIGSYS, &sa, NULL) ? -errno : 0;
}

int seccomp_enter(enum seccomp_role role)
{
	const struct sys *lists[5];
	size_t counts[5];
	int n = 0;

	if (mode_in_use == SECCOMP_OFF)
		return 0;
	lists[n] = base, counts[n++] = sizeof(base) / sizeof(base[0]);
	lists[n] = devices, counts[n++] = sizeof(devices) / sizeof(devices[0]);
	switch (role) {
	case SECCOMP_MAIN:
		thread_role = "main";
		lists[n] = builder, counts[n++] = sizeof(builder) / sizeof(builder[0]);
#ifdef KVMINI_SANITIZE
		lists[n] = sanitizer, counts[n++] = sizeof(sanitizer) / sizeof(sanitizer[0]);
#endif
		break;
	case SECCOMP_VCPU:
		thread_role = "vCPU";
		break;
	case SECCOMP_IO:
		thread_role = "I/O";
		lists[n] = io_loop, counts[n++] = sizeof(io_loop) / sizeof(io_loop[0]);
		break;
	}
	return install(lists, counts, n, role == SECCOMP_MAIN);
}

enum seccomp_mode seccomp_mode(void)
{
	return mode_in_use;
}
