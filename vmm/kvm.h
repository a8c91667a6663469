/* /dev/kvm, opened once per process and checked before any VM is built: it
 * must be a KVM device, speak API version 12 and answer every capability
 * the architecture's table (arch_kvm_caps) asks for. Features with a
 * fallback (ioeventfd, irqfd) are only recorded here. */
#ifndef KVMINI_VMM_KVM_H
#define KVMINI_VMM_KVM_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/cli.h"

struct kvm_sys {
	int fd;
	bool ioeventfd;      /* KVM_CAP_IOEVENTFD: else kicks are served on the vCPU thread */
	bool irqfd;          /* KVM_CAP_IRQFD: else KVM_IRQ_LINE / KVM_SIGNAL_MSI */
};

/* Opens and checks /dev/kvm for the run cfg describes. 0, or -errno with
 * one line in err naming what is wrong (k->fd is then -1). */
int kvm_open(struct kvm_sys *k, const struct vm_config *cfg, char *err, size_t errlen);

/* Says on stderr, once per process, which fallbacks this run will use. */
void kvm_note_fallbacks(const struct kvm_sys *k, const struct vm_config *cfg);

void kvm_close(struct kvm_sys *k);

#endif
