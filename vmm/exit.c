#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "vmm/exit.h"
#include "vmm/vm.h"

/* With exit_lock held: the first outcome wins. */
static void request_locked(struct vm *vm, int status, const char *fmt, va_list ap)
{
	int none = -1;

	if (atomic_compare_exchange_strong(&vm->exit_status, &none, status)) {
		vsnprintf(vm->exit_reason, sizeof(vm->exit_reason), fmt, ap);
		uint64_t one = 1;
		if (write(vm->exit_efd, &one, sizeof(one)) < 0) {
			/* the eventfd counter cannot overflow from one write */
		}
	}
}

static void request(struct vm *vm, int status, int guest_status, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->exit_lock);
	if (atomic_load(&vm->exit_status) < 0 && status == KVMINI_EXIT_GUEST)
		vm->guest_status = guest_status;
	va_start(ap, fmt);
	request_locked(vm, status, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&vm->exit_lock);
}

void vm_guest_reported(struct vm *vm, int status)
{
	request(vm, KVMINI_EXIT_GUEST, status, "the guest reported status %d", status);
}

void vm_request_exit(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->exit_lock);
	va_start(ap, fmt);
	request_locked(vm, status, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&vm->exit_lock);
}
