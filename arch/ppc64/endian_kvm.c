/* The KVM side of ppc64's byte order: the MSR, read with KVM_GET_REGS.
 * powerpc64 builds only (struct kvm_regs of <asm/kvm.h> on powerpc). */
#include <errno.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "arch/ppc64/endian.h"

int ppc64_kvm_get_msr(int vcpu_fd, uint64_t *msr)
{
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0)
		return -errno;
	*msr = regs.msr;
	return 0;
}

int (*ppc64_get_msr)(int vcpu_fd, uint64_t *msr) = ppc64_kvm_get_msr;

int ppc64_vcpu_is_big_endian(int vcpu_fd)
{
	uint64_t msr;

	if (ppc64_get_msr(vcpu_fd, &msr) < 0)
		return -1;
	return ppc64_is_big_endian(msr);
}
