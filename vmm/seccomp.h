/* Seccomp allow-lists per thread (issue 12): the main thread installs its
 * list before the first VM is built, so nothing the guest can reach runs
 * without a filter; each vCPU and I/O thread adds its own, narrower list
 * when it starts. A forbidden call kills kvmini with SIGSYS after one line
 * naming the call and the thread (--seccomp=on, the default); with
 * --seccomp=log the kernel logs it and lets it through; off installs
 * nothing. The lists are in seccomp.c, each group with its reason. */
#ifndef KVMINI_VMM_SECCOMP_H
#define KVMINI_VMM_SECCOMP_H

enum seccomp_mode { SECCOMP_ON, SECCOMP_LOG, SECCOMP_OFF };
enum seccomp_role { SECCOMP_MAIN, SECCOMP_VCPU, SECCOMP_IO };

/* Once per process, before any filter: the SIGSYS handler. 0 or -errno
 * (-ENOSYS: no filters for this architecture). */
int seccomp_setup(enum seccomp_mode mode);
/* The calling thread's filter for its role. 0 or -errno. */
int seccomp_enter(enum seccomp_role role);
enum seccomp_mode seccomp_mode(void);
/* A call's name, if it is one we list; NULL otherwise. */
const char *seccomp_syscall_name(long nr);

#endif
