/* Building one VM, running its main loop, and tearing it down. The main
 * thread waits in epoll for: the end of the VM, signals, the timeout, and
 * console input; vCPU threads do the rest. */
#include "vmm/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "vmm/api.h"
#include "vmm/console.h"
#include "vmm/exit.h"
#include "vmm/iothread.h"
#include "vmm/kvm.h"
#include "vmm/restore.h"
#include "vmm/verdict.h"
#include "vmm/virtio_host.h"

#define ERRLEN 256

static int map_pio(void *opaque, uint64_t base, uint64_t len, const struct io_ops *ops, void *dev)
{
	return bus_map(&((struct vm *)opaque)->pio, base, len, ops, dev);
}

static int map_mmio(void *opaque, uint64_t base, uint64_t len, const struct io_ops *ops, void *dev)
{
	return bus_map(&((struct vm *)opaque)->mmio, base, len, ops, dev);
}

static void sys_event(void *opaque, enum sys_event ev)
{
	struct vm *vm = opaque;

	switch (ev) {
	case SYS_EVENT_POWEROFF:
		vm_request_exit(vm, KVMINI_EXIT_POWEROFF, "guest powered off");
		break;
	case SYS_EVENT_RESET:
		vm_request_exit(vm, KVMINI_EXIT_REBOOT, "guest rebooted");
		break;
	case SYS_EVENT_PANIC:
		vm_request_exit(vm, KVMINI_EXIT_PANIC, "guest panicked (pvpanic)");
		break;
	}
}

static void uart_tx(void *opaque, const uint8_t *buf, size_t len)
{
	console_write(((struct vm *)opaque)->con, buf, len);
}

static int rx_efd = -1;

static void uart_rx_space(void *opaque)
{
	uint64_t one = 1;
	if (rx_efd >= 0 && write(rx_efd, &one, sizeof(one)) < 0) {
		/* a full counter already means "wake up" */
	}
}

#define HUGE_2M (2ull << 20)

/* Guest RAM starting on a 2 MiB boundary of our address space: KVM maps
 * guest memory with huge pages only where the guest-physical and host
 * addresses agree modulo 2 MiB, so an unaligned mapping is faulted in 4 KiB
 * at a time even when transparent huge pages back it (measured in the lab:
 * 85 % of a boot's exits were such faults). Over-allocate, trim both ends. */
/* A restore (fd >= 0) maps its snapshot's memory file there instead,
 * MAP_PRIVATE: pages come from the file as the guest touches them, and its
 * writes stay in this process (another restore of the file sees none). */
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif

static uint8_t *map_ram(uint64_t size, int fd, bool hugetlb)
{
	if (hugetlb && fd < 0) {
		/* hugetlbfs pages come 2 MiB-aligned and are never swapped. */
		uint8_t *h = mmap(NULL, size, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
		return h == MAP_FAILED ? NULL : h;
	}
	uint8_t *p = mmap(NULL, size + HUGE_2M, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + size, (size_t)(p + size + HUGE_2M - (a + size)));
	if (fd >= 0 && mmap(a, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
			    fd, 0) == MAP_FAILED) {
		munmap(a, size);
		return NULL;
	}
	return a;
}

static int setup_memory(struct vm *vm, char *err)
{
	struct arch_ram_region r[GM_MAX_REGIONS];
	int n = arch_ram_regions(vm->cfg->mem_size, r, GM_MAX_REGIONS);
	uint64_t off = 0;

	vm->ram_size = vm->cfg->mem_size;
	vm->ram = map_ram(vm->ram_size, vm->env->restore ? restore_memory_fd(vm->env->restore) : -1,
			  vm->cfg->hugepages);
	if (!vm->ram) {
		if (vm->cfg->hugepages)
			snprintf(err, ERRLEN, "--hugepages: cannot map %llu MiB of 2 MiB huge pages: %s "
				 "(reserve them in /proc/sys/vm/nr_hugepages)",
				 (unsigned long long)(vm->ram_size >> 20), strerror(errno));
		else
			snprintf(err, ERRLEN, "--memory: cannot allocate %llu MiB: %s",
				 (unsigned long long)(vm->ram_size >> 20), strerror(errno));
		return -ENOMEM;
	}
	if (!vm->cfg->hugepages)
		madvise(vm->ram, vm->ram_size, MADV_HUGEPAGE);
	for (int i = 0; i < n; i++) {
		struct kvm_userspace_memory_region m = {
			.slot = (uint32_t)i, .guest_phys_addr = r[i].gpa,
			.memory_size = r[i].size, .userspace_addr = (uintptr_t)(vm->ram + off),
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &m) < 0) {
			snprintf(err, ERRLEN, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
			return -errno;
		}
		gm_add_region(&vm->mem, r[i].gpa, r[i].size, vm->ram + off);
		off += r[i].size;
	}
	return 0;
}

static int create_vcpus(struct vm *vm, char *err)
{
	for (int i = 0; i < vm->cfg->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		*v = (struct vcpu){ .vm = vm, .id = i, .fd = -1 };
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (v->fd < 0) {
			snprintf(err, ERRLEN, "--cpus: cannot create vCPU %d: %s", i, strerror(errno));
			return -errno;
		}
		vm->nr_vcpus = i + 1;
		v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			snprintf(err, ERRLEN, "vCPU %d: cannot map kvm_run: %s", i, strerror(errno));
			return -errno;
		}
		int r = arch_vcpu_init(&vm->arch, v->fd, i, err, ERRLEN);
		if (r)
			return r;
	}
	return 0;
}

/* The rest of a restored VM's build: no kernel to load, the platform's
 * ports all the same, vCPUs created as at boot and then given the
 * snapshot's state with everything else (vmm/restore.c). */
static int vm_build_restored(struct vm *vm, char *err)
{
	int r;

	if ((r = arch_restore_platform(&vm->arch, err, ERRLEN)) || (r = create_vcpus(vm, err)))
		return r;
	virtio_host_vcpus_ready(vm->virtio);
	return vm_restore_state(vm, err, ERRLEN);
}

static int vm_build(struct vm *vm, char *err)
{
	struct boot_files *f = vm->env->files;
	int kvm_fd = vm->env->kvm->fd;
	int r;

	vm->kvm_fd = kvm_fd;
	/* KVM_CREATE_VM can be interrupted (seen on arm64 in the lab): try
	 * again, as QEMU does. */
	do {
		vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		snprintf(err, ERRLEN, "/dev/kvm: KVM_CREATE_VM refused: %s", strerror(errno));
		return -errno;
	}
	vm->run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0) {
		snprintf(err, ERRLEN, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -EIO;
	}
	if ((r = setup_memory(vm, err)))
		return r;
	vm->arch = (struct arch_host){
		.kvm_fd = kvm_fd, .vm_fd = vm->vm_fd, .mem = &vm->mem,
		.ncpus = vm->cfg->ncpus, .mem_size = vm->ram_size,
		.map_pio = map_pio, .map_mmio = map_mmio, .sys_event = sys_event, .opaque = vm,
	};
	if ((r = arch_vm_init(&vm->arch, err, ERRLEN)))
		return r;
	struct arch_console con;
	arch_console_slot(&vm->arch, &con);
	uart_init(&vm->uart, arch_irq_line(&vm->arch, con.irq),
		  (struct uart_sink){ uart_tx, uart_rx_space, vm });
	if ((r = bus_map(con.is_pio ? &vm->pio : &vm->mmio, con.base, UART_NR_REGS, &uart_io_ops,
			 &vm->uart))) {
		snprintf(err, ERRLEN, "cannot map the UART: %s", strerror(-r));
		return r;
	}
	if ((r = virtio_host_create(vm, &vm->virtio, err, ERRLEN)))
		return r;
	if (vm->env->restore)         /* kvmini restore: RAM has it all */
		return vm_build_restored(vm, err);
	/* The files are mapped only for the copy into guest RAM. */
	if ((r = boot_files_map(f, err, ERRLEN)))
		return r;
	struct arch_boot b = {
		.kernel = f->kernel, .kernel_size = f->kernel_size,
		.initrd = f->initrd, .initrd_size = f->initrd_size,
		.cmdline = vm->cfg->cmdline,
	};
	r = arch_load(&vm->arch, &b, err, ERRLEN);
	boot_files_unmap(f);
	if (r)
		return r;
	if ((r = create_vcpus(vm, err)))
		return r;
	virtio_host_vcpus_ready(vm->virtio);
	return 0;
}

static void vm_stop_vcpus(struct vm *vm)
{
	atomic_store(&vm->stopping, 1);
	/* Parked vCPUs (vm_pause.c) wake up to see stopping. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cv);
	pthread_mutex_unlock(&vm->pause_lock);
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		/* immediate_exit covers a thread that is about to enter KVM_RUN;
		 * the signal covers one already inside it. */
		v->run->immediate_exit = 1;
		pthread_kill(v->thread, SIGUSR1);
	}
	for (int i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].started = 0;
	}
}

static void vm_destroy(struct vm *vm)
{
	vm_stop_vcpus(vm);
	for (int i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, (size_t)vm->run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	virtio_host_destroy(vm->virtio);
	arch_vm_destroy(&vm->arch);
	bus_free(&vm->pio);
	bus_free(&vm->mmio);
	uart_destroy(&vm->uart);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->exit_efd >= 0)
		close(vm->exit_efd);
	free(vm->crash_dump);
	pthread_mutex_destroy(&vm->exit_lock);
	pthread_mutex_destroy(&vm->pause_lock);
	pthread_cond_destroy(&vm->pause_cv);
}

static void feed_uart(struct vm *vm)
{
	struct console *c = vm->con;
	/* --console virtio: input goes to hvc0 */
	size_t n = vm->cfg->vcon.hvc ? vm_hvc_input(vm, c->pending, c->npending)
				     : uart_receive(&vm->uart, c->pending, c->npending);

	memmove(c->pending, c->pending + n, c->npending - n);
	c->npending -= n;
}

static int start_timer(const struct timespec *deadline)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	struct itimerspec its = { .it_value = *deadline };

	if (fd >= 0)
		timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
	return fd;
}

static void on_signal(struct vm *vm, int sig_fd)
{
	struct signalfd_siginfo si;

	if (read(sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	switch (si.ssi_signo) {
	case SIGINT:
		vm_request_exit(vm, KVMINI_EXIT_SIGINT, "stopped by SIGINT");
		break;
	case SIGTERM:
		vm_request_exit(vm, KVMINI_EXIT_SIGTERM, "stopped by SIGTERM");
		break;
	case SIGHUP:
		vm_request_exit(vm, KVMINI_EXIT_SIGHUP, "stopped by SIGHUP");
		break;
	}
}

enum { EV_EXIT, EV_SIGNAL, EV_TIMER, EV_INPUT, EV_RXSPACE };

static void epoll_add(int ep, int fd, uint64_t tag)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = tag };
	if (fd >= 0)
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static void main_loop(struct vm *vm, int sig_fd)
{
	struct console *c = vm->con;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int tfd = vm->deadline->tv_sec ? start_timer(vm->deadline) : -1;
	int input_on = c->in_fd >= 0;
	const struct vm_config *cfg = vm->cfg;
	bool ticking = cfg->expect || cfg->nfail_on || cfg->idle_timeout_s > 0;

	epoll_add(ep, vm->exit_efd, EV_EXIT);
	epoll_add(ep, sig_fd, EV_SIGNAL);
	epoll_add(ep, tfd, EV_TIMER);
	epoll_add(ep, rx_efd, EV_RXSPACE);
	if (input_on)
		epoll_add(ep, c->in_fd, EV_INPUT);
	if (vm->env->api)
		api_watch(vm->env->api, ep);

	while (atomic_load(&vm->exit_status) < 0) {
		struct epoll_event ev[8];
		/* Input the UART could not take yet is retried every 20 ms. */
		/* Input the UART could not take yet is retried every 20 ms;
		 * console verdicts and --idle-timeout are looked at every
		 * 100 ms. */
		int n = epoll_wait(ep, ev, 8, c->npending ? 20 : ticking ? 100 : -1);
		uint64_t cnt;

		for (int i = 0; i < n; i++) {
			switch (ev[i].data.u64) {
			case EV_SIGNAL:
				on_signal(vm, sig_fd);
				break;
			case EV_TIMER:
				vm_request_exit(vm, KVMINI_EXIT_TIMEOUT, "--timeout: %g s expired",
						vm->cfg->timeout_s);
				break;
			case EV_INPUT:
				if (console_read_input(c) <= 0 || c->in_fd < 0) {
					epoll_ctl(ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
					input_on = 0;
				}
				if (c->quit)
					vm_request_exit(vm, KVMINI_EXIT_SIGINT, "quit with Ctrl-A x");
				break;
			case EV_RXSPACE:
				if (read(rx_efd, &cnt, sizeof(cnt)) < 0)
					break;
				break;
			default:
				if (vm->env->api && api_owns(ev[i].data.u64))
					api_event(vm->env->api, ep, ev[i].data.u64, vm);
				break;
			}
		}
		if (ticking) {
			verdict_poll(vm->env->verdict);
			if (cfg->idle_timeout_s > 0 && !vm->paused &&
			    verdict_idle_s(vm->env->verdict) >= cfg->idle_timeout_s)
				vm_request_exit(vm, KVMINI_EXIT_IDLE,
						"--idle-timeout: no console output for %g s",
						cfg->idle_timeout_s);
		}
		if (c->npending)
			feed_uart(vm);
		/* Stop reading input while our buffer is full; resume when it drains. */
		if (input_on && c->npending == sizeof(c->pending)) {
			epoll_ctl(ep, EPOLL_CTL_DEL, c->in_fd, NULL);
			input_on = 0;
		} else if (!input_on && c->in_fd >= 0 && c->npending < sizeof(c->pending) / 2) {
			epoll_add(ep, c->in_fd, EV_INPUT);
			input_on = 1;
		}
	}
	if (tfd >= 0)
		close(tfd);
	close(ep);
}

/* A console verdict: --expect met, or a --fail-on pattern seen. */
static void on_verdict(void *opaque, enum verdict_kind kind, const char *pattern)
{
	struct vm *vm = opaque;

	if (kind == VERDICT_EXPECT)
		vm_request_exit(vm, KVMINI_EXIT_EXPECTED, "--expect: the console showed it");
	else
		vm_request_exit(vm, KVMINI_EXIT_FAIL_ON, "--fail-on: the console showed '%s'", pattern);
}

static int start_vcpus(struct vm *vm, char *err)
{
	for (int i = 0; i < vm->nr_vcpus; i++) {
		int r = kvmini_thread_create(&vm->vcpus[i].thread, vcpu_thread, &vm->vcpus[i]);
		if (r) {
			snprintf(err, ERRLEN, "cannot start vCPU thread %d: %s", i, strerror(r));
			return -r;
		}
		vm->vcpus[i].started = 1;
	}
	return 0;
}

bool vm_stats_wanted(void)
{
	const char *stats = getenv("KVMINI_STATS");

	return stats && *stats && strcmp(stats, "0");
}

/* The vCPUs are stopped: their exit counters are whole. KVMINI_STATS=1
 * prints them beside the devices' counters. */
static void sum_exits(struct vm *vm, struct exit_stats *sum)
{
	for (int i = 0; i < vm->nr_vcpus; i++)
		exit_stats_add(sum, &vm->vcpus[i].stats);
	if (vm_stats_wanted())
		exit_stats_print(sum, stderr, 12);
}

int vm_run(const struct vm_env *env, struct vm_outcome *out)
{
	struct vm *vm = calloc(1, sizeof(*vm));   /* large: the vCPU array */
	char err[ERRLEN] = "";

	if (!vm) {
		snprintf(out->reason, sizeof(out->reason), "out of memory");
		return out->status = KVMINI_EXIT_ERROR;
	}
	vm->env = env;
	vm->cfg = env->cfg;
	vm->con = env->con;
	vm->deadline = env->deadline;
	vm->vm_fd = -1;
	atomic_init(&vm->exit_status, -1);
	vm->guest_status = -1;
	pthread_mutex_init(&vm->exit_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cv, NULL);
	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rx_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (vm->exit_efd < 0 || rx_efd < 0 || vm_build(vm, err) ||
	    start_vcpus(vm, err)) {
		vm_request_exit(vm, KVMINI_EXIT_ERROR, "%s", err[0] ? err : strerror(errno));
	} else {
		if (env->restore)
			restore_note_running(env->restore);
		verdict_bind(env->verdict, on_verdict, vm);
		main_loop(vm, env->sig_fd);
	}
	verdict_bind(env->verdict, NULL, NULL);
	vm_stop_vcpus(vm);
	sum_exits(vm, &out->exits);
	out->status = atomic_load(&vm->exit_status);
	out->guest_status = vm->guest_status;
	snprintf(out->reason, sizeof(out->reason), "%s", vm->exit_reason);
	out->crash_dump = vm->crash_dump;
	vm->crash_dump = NULL;
	vm_destroy(vm);
	out->devices_json = vm->devices_json;
	free(vm);
	close(rx_efd);
	rx_efd = -1;
	return out->status;
}
