#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "vmm/vm.h"

void vm_request_exit(struct vm *vm, int status, const char *fmt, ...)
{
	int none = -1;
	va_list ap;

	pthread_mutex_lock(&vm->exit_lock);
	if (atomic_compare_exchange_strong(&vm->exit_status, &none, status)) {
		va_start(ap, fmt);
		vsnprintf(vm->exit_reason, sizeof(vm->exit_reason), fmt, ap);
		va_end(ap);
		uint64_t one = 1;
		if (write(vm->exit_efd, &one, sizeof(one)) < 0) {
			/* the eventfd counter cannot overflow from one write */
		}
	}
	pthread_mutex_unlock(&vm->exit_lock);
}
