/* Pausing a VM without ending it (snapshots, the API's pause): every vCPU
 * thread leaves KVM_RUN and parks until resumed.
 *
 * A vCPU is kicked the way vm_stop_vcpus kicks it: immediate_exit covers a
 * thread about to enter KVM_RUN, SIGUSR1 one inside it. Either way KVM_RUN
 * returns EINTR, and that return is the only place a thread parks: an exit
 * the thread was handling (an MMIO read, say) is completed by that last
 * KVM_RUN before it returns (api.rst, immediate_exit), so the registers a
 * snapshot reads afterwards are the guest's, not half an instruction's. */
#include "vmm/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/kvm.h>

/* A vCPU thread, after KVM_RUN returned EINTR with pause_req set. */
void vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->pause_lock);
	vm->nparked++;
	pthread_cond_broadcast(&vm->pause_cv);
	while (atomic_load(&vm->pause_req) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cv, &vm->pause_lock);
	vm->nparked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

static void kick_all(struct vm *vm)
{
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->thread, SIGUSR1);
	}
}

int vm_pause(struct vm *vm, char *err, size_t errlen)
{
	int want = 0;

	if (vm->paused)
		return 0;
	for (int i = 0; i < vm->nr_vcpus; i++)
		want += vm->vcpus[i].started;
	atomic_store(&vm->pause_req, 1);
	pthread_mutex_lock(&vm->pause_lock);
	/* A kick can land between a thread's EINTR and its look at
	 * pause_req only as an extra KVM_RUN: kick again until all park. */
	for (int tries = 0; vm->nparked < want; tries++) {
		if (atomic_load(&vm->exit_status) >= 0 || tries == 500) {
			int parked = vm->nparked;
			pthread_mutex_unlock(&vm->pause_lock);
			vm_resume(vm);
			snprintf(err, errlen, tries == 500 ? "%d of %d vCPUs did not stop within 5 s"
							   : "the VM is ending (%d of %d vCPUs stopped)",
				 want - parked, want);
			return tries == 500 ? -ETIMEDOUT : -ESHUTDOWN;
		}
		pthread_mutex_unlock(&vm->pause_lock);
		kick_all(vm);
		pthread_mutex_lock(&vm->pause_lock);
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 10 * 1000 * 1000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		if (vm->nparked < want)
			pthread_cond_timedwait(&vm->pause_cv, &vm->pause_lock, &t);
	}
	pthread_mutex_unlock(&vm->pause_lock);
	vm->paused = true;
	return 0;
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_req, 0);
	pthread_cond_broadcast(&vm->pause_cv);
	pthread_mutex_unlock(&vm->pause_lock);
	vm->paused = false;
}
