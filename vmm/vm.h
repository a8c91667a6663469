/* One virtual machine: KVM fds, guest RAM, buses, vCPU threads and the one
 * place where "the VM is over, with this status" is decided (first wins). */
#ifndef KVMINI_VMM_VM_H
#define KVMINI_VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "arch/arch.h"
#include "guest_mem.h"
#include "serial/uart16550.h"
#include "vmm/bus.h"
#include "vmm/cli.h"
#include "vmm/exit_stats.h"

struct api;
struct backends;
struct restore_src;
struct vcon_host;
struct console;
struct kvm_sys;

struct vcpu {
	struct vm *vm;
	int id, fd;
	struct kvm_run *run;
	pthread_t thread;
	int started;
	struct exit_stats stats;     /* this thread's alone while it runs */
};

struct vm {
	const struct vm_env *env;
	const struct vm_config *cfg;
	struct console *con;
	int kvm_fd, vm_fd;
	int run_size;
	uint8_t *ram;
	uint64_t ram_size;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct arch_host arch;
	struct vcpu vcpus[CLI_MAX_CPUS];
	int nr_vcpus;
	struct uart16550 uart;
	struct virtio_host *virtio;
	struct vcon_host *vcon;      /* the virtio-console device, if any (vdev_console.c) */

	atomic_int exit_status;      /* -1 while running */
	atomic_int stopping;
	int exit_efd;                /* eventfd: wakes the main loop on exit */
	char exit_reason[128];
	int guest_status;            /* what the guest reported (KVMINI_EXIT_GUEST), else -1 */
	char *devices_json;          /* filled by virtio_host_destroy when --result is set */
	char *crash_dump;            /* registers of a crashed vCPU, printed at exit */
	pthread_mutex_t exit_lock;
	const struct timespec *deadline;   /* CLOCK_MONOTONIC; tv_sec 0: none */

	/* Pause (vmm/vm_pause.c): vCPU threads park out of KVM_RUN while
	 * pause_req is set; the API socket's pause and every snapshot. */
	atomic_int pause_req;
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cv;     /* a vCPU parked, or pause_req fell */
	int nparked;                 /* under pause_lock */
	bool paused;                 /* main thread's view: every vCPU is parked */
};

/* The kernel and initrd: only their paths and sizes are kept. Each VM
 * build maps them, loads them into guest RAM and unmaps them again
 * (boot_files_map / _unmap), so no copy lives beside the guest's. */
struct boot_files {
	const char *kernel_path, *initrd_path;
	size_t kernel_size, initrd_size;   /* as first seen; a change is an error */
	const uint8_t *kernel, *initrd;    /* while mapped */
};

/* Maps both files. A file that vanished or changed size since the first
 * map (the sizes recorded then) is an error naming it. 0 or -errno. */
int boot_files_map(struct boot_files *f, char *err, size_t errlen);
void boot_files_unmap(struct boot_files *f);

/* What the process opened and checked once, before the first VM, and keeps
 * across the VMs it builds (--on-reboot restart). */
struct vm_env {
	const struct vm_config *cfg;
	struct console *con;
	const struct kvm_sys *kvm;
	int sig_fd;
	const struct timespec *deadline;   /* CLOCK_MONOTONIC; tv_sec 0: none */
	struct boot_files *files;
	struct backends *backends;         /* cfg's disks and taps, open */
	struct verdict *verdict;           /* console verdicts (vmm/verdict.h) */
	struct api *api;                   /* --api-socket (vmm/api.h), or NULL */
	/* kvmini restore: the snapshot this VM is built from (vmm/restore.h),
	 * or NULL for a boot */
	const struct restore_src *restore;
};

struct vm_outcome {
	int status;
	char reason[128];
	char *crash_dump;    /* malloc'd register dump of a crashed vCPU, or NULL */
	int guest_status;    /* with status KVMINI_EXIT_GUEST: what the guest reported */
	char *devices_json;  /* malloc'd JSON array of the devices' counters, for --result */
	struct exit_stats exits;   /* every vCPU's exits, summed */
};

/* Builds and runs one VM until it ends; returns its exit status (also in
 * out, with the reason). A failure to build is KVMINI_EXIT_ERROR. */
int vm_run(const struct vm_env *env, struct vm_outcome *out);
/* KVMINI_STATS set, non-empty and not "0": print counters on stderr. */
bool vm_stats_wanted(void);

/* Ends the VM with status (the first caller wins) and says why. */
void vm_request_exit(struct vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The guest wrote its status (0..255, or more: kept as given) to the
 * kvmini.exit port: the VM ends with outcome KVMINI_EXIT_GUEST, unless
 * another outcome came first. */
void vm_guest_reported(struct vm *vm, int status);

/* Console input for hvc0 (--console virtio): returns the bytes it took
 * (0 while the guest has no hvc0 open or no room). vdev_console.c. */
size_t vm_hvc_input(struct vm *vm, const uint8_t *buf, size_t len);

void *vcpu_thread(void *arg);

/* Pause and resume (vmm/vm_pause.c), from the main thread. vm_pause
 * returns once every vCPU thread is parked outside KVM_RUN with its last
 * exit completed (KVM_RUN re-entered with immediate_exit), so registers
 * read now are consistent; 0, or -errno with a message when the VM is
 * ending or a vCPU does not stop. vcpu_park: a vCPU thread's side. */
int vm_pause(struct vm *vm, char *err, size_t errlen);
void vm_resume(struct vm *vm);
void vcpu_park(struct vcpu *v);

#endif
