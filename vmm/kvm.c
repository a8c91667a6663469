/* /dev/kvm: see kvm.h. */
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "arch/arch.h"

static bool has_pci_device(const struct vm_config *cfg)
{
	for (int i = 0; i < cfg->ndisks; i++)
		if (cfg->disks[i].t.transport == TRANSPORT_PCI)
			return true;
	for (int i = 0; i < cfg->nnets; i++)
		if (cfg->nets[i].t.transport == TRANSPORT_PCI)
			return true;
	return cli_vcon_wanted(cfg) && cfg->vcon.t.transport == TRANSPORT_PCI;
}

/* KVM_CHECK_EXTENSION answers 0 for "no" and > 0 for "yes" (some caps
 * answer a count); an error means no as well. */
static bool has_cap(int fd, int cap)
{
	return ioctl(fd, KVM_CHECK_EXTENSION, (unsigned long)cap) > 0;
}

static int check_caps(int fd, const struct vm_config *cfg, char *err, size_t errlen)
{
	size_t n;
	const struct arch_kvm_cap *caps = arch_kvm_caps(&n);
	bool pci = has_pci_device(cfg);

	for (size_t i = 0; i < n; i++) {
		if ((caps[i].pci_only && !pci) || has_cap(fd, caps[i].cap))
			continue;
		snprintf(err, errlen, "/dev/kvm: KVM lacks %s, which kvmini needs for %s",
			 caps[i].name, caps[i].use);
		return -ENOTSUP;
	}
	return 0;
}

int kvm_open(struct kvm_sys *k, const struct vm_config *cfg, char *err, size_t errlen)
{
	int r;

	*k = (struct kvm_sys){ .fd = open("/dev/kvm", O_RDWR | O_CLOEXEC) };
	if (k->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "/dev/kvm: %s (is KVM available, and may this user use it?)",
			 strerror(-r));
		return r;
	}
	/* Anything else at that path (a bind-mounted /dev/null, a plain
	 * file, another driver's node) refuses KVM's first ioctl. */
	int v = ioctl(k->fd, KVM_GET_API_VERSION, 0);
	if (v < 0) {
		r = -errno;
		snprintf(err, errlen, "/dev/kvm: not a KVM device (KVM_GET_API_VERSION: %s)",
			 strerror(-r));
		goto fail;
	}
	if (v != KVM_API_VERSION) {
		r = -EPROTO;
		snprintf(err, errlen, "/dev/kvm: KVM API version %d, kvmini needs %d", v,
			 KVM_API_VERSION);
		goto fail;
	}
	if ((r = check_caps(k->fd, cfg, err, errlen)))
		goto fail;
	k->ioeventfd = has_cap(k->fd, KVM_CAP_IOEVENTFD);
	k->irqfd = has_cap(k->fd, KVM_CAP_IRQFD);
	return 0;
fail:
	close(k->fd);
	k->fd = -1;
	return r;
}

void kvm_note_fallbacks(const struct kvm_sys *k, const struct vm_config *cfg)
{
	if (!cfg->ndisks && !cfg->nnets && !cli_vcon_wanted(cfg))
		return;         /* no virtio device: nothing to notify or interrupt */
	if (!k->ioeventfd && !cfg->no_ioeventfd)
		fprintf(stderr, "kvmini: note: KVM has no ioeventfd; queue notifications are "
			"served on the vCPU thread\n");
	if (!k->irqfd)
		fprintf(stderr, "kvmini: note: KVM has no irqfd; device interrupts are injected "
			"with KVM_IRQ_LINE and KVM_SIGNAL_MSI\n");
}

void kvm_close(struct kvm_sys *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}
