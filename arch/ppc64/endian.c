/* ppc64 byte order from the MSR: no KVM, no host assumptions (endian.h).
 * QEMU's ppc_cpu_is_big_endian (its virtio byte-order hook) decides the same way. */
#include "arch/ppc64/endian.h"

int ppc64_is_big_endian(uint64_t msr)
{
	return !(msr & PPC64_MSR_LE);
}
