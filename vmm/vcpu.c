/* vCPU threads: KVM_RUN and the exits that come back to user space. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "vmm/exit.h"
#include "vmm/virtio_host.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

/* KVMINI_TRACE=unhandled logs accesses no device claimed; =all logs every
 * port and MMIO access. For finding out what a guest expects. */
static int trace_level(void)
{
	static int level = -1;
	if (level < 0) {
		const char *t = getenv("KVMINI_TRACE");
		level = !t ? 0 : !strcmp(t, "all") ? 2 : 1;
	}
	return level;
}

static void trace(const char *space, uint64_t addr, const uint8_t *data, uint32_t len,
		  int is_write, int unhandled)
{
	uint64_t v = 0;

	if (trace_level() < (unhandled ? 1 : 2))
		return;
	for (uint32_t i = 0; i < len && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	fprintf(stderr, "kvmini: trace: %s %s 0x%llx len %u %s 0x%llx%s\n", space,
		is_write ? "write" : "read", (unsigned long long)addr, len,
		is_write ? "<-" : "->", (unsigned long long)v, unhandled ? " (unhandled)" : "");
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	int is_write = r->io.direction == KVM_EXIT_IO_OUT;

	exit_stats_port(&v->stats, r->io.port, is_write);
	/* String I/O (rep outs/ins) arrives as count back-to-back accesses. */
	for (uint32_t i = 0; i < r->io.count; i++, data += r->io.size) {
		int rc = bus_access(&v->vm->pio, r->io.port, data, r->io.size, is_write);
		trace("pio", r->io.port, data, r->io.size, is_write, rc != 0);
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;

	exit_stats_mmio(&v->stats, r->mmio.phys_addr, r->mmio.is_write);
	int rc = bus_access(&v->vm->mmio, r->mmio.phys_addr, r->mmio.data, r->mmio.len,
			    r->mmio.is_write);
	trace("mmio", r->mmio.phys_addr, r->mmio.data, r->mmio.len, r->mmio.is_write, rc != 0);
}

static __attribute__((format(printf, 2, 3)))
void crash(struct vcpu *v, const char *fmt, ...)
{
	char why[96];
	char *dump = NULL;
	size_t dlen = 0;
	FILE *f = open_memstream(&dump, &dlen);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (f) {
		fprintf(f, "vCPU %d registers:\n", v->id);
		arch_vcpu_dump(v->fd, f);
		fclose(f);
	}
	pthread_mutex_lock(&v->vm->exit_lock);
	if (!v->vm->crash_dump) {
		v->vm->crash_dump = dump;
		dump = NULL;
	}
	pthread_mutex_unlock(&v->vm->exit_lock);
	free(dump);
	vm_request_exit(v->vm, KVMINI_EXIT_CRASH, "vCPU %d: %s", v->id, why);
}

static void handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_exit(v->vm, KVMINI_EXIT_POWEROFF, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_exit(v->vm, KVMINI_EXIT_REBOOT, "guest rebooted");
		break;
	case KVM_SYSTEM_EVENT_CRASH:
		vm_request_exit(v->vm, KVMINI_EXIT_PANIC, "guest crashed (system event)");
		break;
	default:
		crash(v, "unknown system event %u", v->run->system_event.type);
	}
}

/* Returns 0 to keep running, 1 when this vCPU is done. */
static int handle_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;

	exit_stats_reason(&v->stats, r->exit_reason);
	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return 0;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return 0;
	case KVM_EXIT_INTR:
		return 0;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(v);
		return 1;
	case KVM_EXIT_SHUTDOWN:
		crash(v, "triple fault (KVM_EXIT_SHUTDOWN)");
		return 1;
	case KVM_EXIT_FAIL_ENTRY:
		crash(v, "VM entry failed (hardware reason 0x%llx)",
		      (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		return 1;
	case KVM_EXIT_INTERNAL_ERROR:
		crash(v, "KVM internal error (suberror %u)", r->internal.suberror);
		return 1;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; ours has one, so a halt
		 * reaching us means the guest stopped for good. */
		crash(v, "halted with no way to wake it");
		return 1;
	default:
		crash(v, "unexpected KVM exit reason %u", r->exit_reason);
		return 1;
	}
}

static void sigusr1_noop(int sig) {}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	struct sigaction sa = { .sa_handler = sigusr1_noop };
	sigset_t set;

	/* SIGUSR1 kicks this thread out of KVM_RUN (no SA_RESTART). */
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	virtio_host_set_current_vcpu(v->fd);   /* a reset from here samples this vCPU's byte order */
	/* Before the first KVM_RUN: guest code never runs on an unfiltered thread. */
	int e = seccomp_enter(SECCOMP_VCPU);
	if (e) {
		vm_request_exit(vm, KVMINI_EXIT_ERROR, "vCPU %d: cannot install its seccomp filter: %s",
				v->id, strerror(-e));
		return NULL;
	}

	/* Once the VM's end is decided (exit_status set: the guest powered off
	 * or reset through a port, a verdict came, ...) nothing the guest does
	 * matters: stop at once rather than run until the main thread kicks us.
	 * A guest that powers off through the ACPI sleep register polls its
	 * WAK_STS until then, 20 to 200 port exits in the lab. */
	while (!atomic_load(&vm->stopping) && atomic_load(&vm->exit_status) < 0) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				exit_stats_reason(&v->stats, KVM_EXIT_INTR);
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				/* A pause (vm_pause.c): this KVM_RUN completed the
				 * last exit, so the vCPU's state is whole now. */
				if (atomic_load(&vm->pause_req))
					vcpu_park(v);
				continue;
			}
			vm_request_exit(vm, KVMINI_EXIT_ERROR, "vCPU %d: KVM_RUN: %s", v->id,
					strerror(errno));
			break;
		}
		if (handle_exit(v))
			break;
	}
	return NULL;
}
