/* arm64 vCPU state for snapshots: every register KVM_GET_REG_LIST names
 * (core registers, system registers, the timer's CNT/CVAL/CTL, firmware
 * pseudo-registers such as the PSCI version), each with its id and size,
 * and the PSCI power state (KVM_GET_MP_STATE: a secondary the guest never
 * started stays off). Loading sets them in the same order on a vCPU
 * initialised as at boot (KVM_ARM_VCPU_INIT), before it first runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "arch/arch.h"
#include "state.h"

#define VCPU_VERSION 1
#define MAX_REGS 4096
#define MAX_REG_BYTES 256            /* KVM_REG_SIZE_U2048 */

static uint32_t reg_size(uint64_t id)
{
	return 1u << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}

static struct kvm_reg_list *reg_list(int fd)
{
	struct kvm_reg_list probe = { .n = 0 }, *l;

	if (ioctl(fd, KVM_GET_REG_LIST, &probe) < 0 && errno != E2BIG)
		return NULL;
	if (probe.n > MAX_REGS)
		return NULL;
	l = calloc(1, sizeof(*l) + probe.n * sizeof(l->reg[0]));
	if (!l)
		return NULL;
	l->n = probe.n;
	if (ioctl(fd, KVM_GET_REG_LIST, l) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

int arch_vcpu_save(struct arch_host *h, int fd, int id, struct state_w *w, char *err,
		   size_t errlen)
{
	struct kvm_reg_list *l = reg_list(fd);
	struct kvm_mp_state mp;
	uint8_t v[MAX_REG_BYTES];

	if (!l) {
		snprintf(err, errlen, "vCPU %d: KVM_GET_REG_LIST: %s", id, strerror(errno));
		return -EIO;
	}
	size_t at = sw_begin(w, STATE_TAG('A', '6', '4', 'C'), VCPU_VERSION);
	sw_u32(w, (uint32_t)l->n);
	for (uint64_t i = 0; i < l->n; i++) {
		uint64_t rid = l->reg[i];
		uint32_t n = reg_size(rid);
		struct kvm_one_reg one = { .id = rid, .addr = (uint64_t)(uintptr_t)v };
		if (n > sizeof(v) || ioctl(fd, KVM_GET_ONE_REG, &one) < 0) {
			snprintf(err, errlen, "vCPU %d: KVM_GET_ONE_REG 0x%llx: %s", id,
				 (unsigned long long)rid, n > sizeof(v) ? "too large" : strerror(errno));
			free(l);
			return -EIO;
		}
		sw_u64(w, rid);
		sw_u32(w, n);
		sw_bytes(w, v, n);   /* KVM's bytes, in the host's (arm64: little) order */
	}
	free(l);
	if (ioctl(fd, KVM_GET_MP_STATE, &mp) < 0) {
		snprintf(err, errlen, "vCPU %d: KVM_GET_MP_STATE: %s", id, strerror(errno));
		return -errno;
	}
	sw_u32(w, mp.mp_state);
	sw_end(w, at);
	return 0;
}

int arch_vcpu_load(struct arch_host *h, int fd, int id, struct state_r *rr)
{
	struct state_r s;
	uint8_t v[MAX_REG_BYTES];

	if (sr_section(rr, STATE_TAG('A', '6', '4', 'C'), VCPU_VERSION, NULL, &s, "arm64 vCPU"))
		return -EINVAL;
	uint32_t n = sr_u32(&s);
	if (sr_ok(&s) && n > MAX_REGS)
		return sr_fail(&s, "vCPU %d: %u registers saved", id, n);
	for (uint32_t i = 0; i < n && sr_ok(&s); i++) {
		uint64_t rid = sr_u64(&s);
		uint32_t len = sr_u32(&s);
		if (sr_ok(&s) && (len != reg_size(rid) || len > sizeof(v)))
			return sr_fail(&s, "vCPU %d: register 0x%llx saved with %u bytes", id,
				       (unsigned long long)rid, len);
		sr_bytes(&s, v, sr_ok(&s) ? len : 0);
		struct kvm_one_reg one = { .id = rid, .addr = (uint64_t)(uintptr_t)v };
		if (sr_ok(&s) && ioctl(fd, KVM_SET_ONE_REG, &one) < 0)
			return sr_fail(&s, "vCPU %d: KVM refuses register 0x%llx: %s", id,
				       (unsigned long long)rid, strerror(errno));
	}
	struct kvm_mp_state mp = { .mp_state = sr_u32(&s) };
	if (sr_ok(&s) && ioctl(fd, KVM_SET_MP_STATE, &mp) < 0)
		return sr_fail(&s, "vCPU %d: KVM_SET_MP_STATE %u: %s", id, mp.mp_state,
			       strerror(errno));
	return sr_end(&s, "arm64 vCPU");
}
