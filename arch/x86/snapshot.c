/* x86 state for snapshots: per vCPU, what KVM holds (KVM_GET_REGS, SREGS,
 * XSAVE or FPU, XCRS, the MSRs KVM lists, LAPIC, VCPU_EVENTS, MP_STATE,
 * DEBUGREGS); per VM, the in-kernel PIC pair and IOAPIC, the PIT and the
 * KVM clock. KVM's own structures are kept as they are (blobs with their
 * size): a snapshot is restored on x86 only, which the file header checks.
 *
 * Restore order follows QEMU's (target/i386/kvm): registers, XSAVE, XCRs,
 * special registers, MSRs, MP state, LAPIC, then the TSC deadline MSR
 * (setting the LAPIC resets its timer), events and debug registers; the
 * VM-wide state after every vCPU, the IOAPIC's pending lines re-delivered
 * to the LAPICs just loaded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "arch/arch.h"
#include "state.h"

#define VCPU_VERSION 1
#define VM_VERSION 1
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MAX_MSRS 1024

static void blob(struct state_w *w, const void *p, uint32_t n)
{
	sw_u32(w, n);
	sw_bytes(w, p, n);
}

/* A blob of exactly n bytes into p. */
static void get_blob(struct state_r *r, void *p, uint32_t n, const char *what)
{
	uint32_t len = sr_u32(r);

	if (sr_ok(r) && len != n)
		sr_fail(r, "%s: %u bytes saved, this KVM's structure has %u", what, len, n);
	sr_bytes(r, p, sr_ok(r) ? n : 0);
}

static int xsave_size(struct arch_host *h)
{
	int n = ioctl(h->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	if (n > (int)sizeof(struct kvm_xsave))
		return n;
	return ioctl(h->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0 ? (int)sizeof(struct kvm_xsave)
									: 0;
}

static struct kvm_msr_list *msr_list(struct arch_host *h)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *l;

	if (ioctl(h->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return NULL;
	if (probe.nmsrs > MAX_MSRS)
		probe.nmsrs = MAX_MSRS;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return NULL;
	l->nmsrs = probe.nmsrs;
	if (ioctl(h->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

static int msr_io(int fd, unsigned long req, uint32_t index, uint64_t *data)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 1;
	m.e.index = index;
	m.e.data = *data;
	int n = ioctl(fd, req, &m);
	if (n == 1 && req == KVM_GET_MSRS)
		*data = m.e.data;
	return n == 1 ? 0 : n < 0 ? -errno : -EINVAL;
}

/* Every MSR KVM lists and will read for this vCPU (one at a time: KVM
 * stops a batch at the first it refuses, and some depend on CPUID). */
static int save_msrs(struct arch_host *h, int fd, struct state_w *w, char *err, size_t errlen)
{
	struct kvm_msr_list *l = msr_list(h);
	uint32_t n = 0;

	if (!l) {
		snprintf(err, errlen, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		return -EIO;
	}
	size_t at = w->len;
	sw_u32(w, 0);                 /* patched below */
	for (uint32_t i = 0; i < l->nmsrs; i++) {
		uint64_t v = 0;
		if (msr_io(fd, KVM_GET_MSRS, l->indices[i], &v))
			continue;
		sw_u32(w, l->indices[i]);
		sw_u64(w, v);
		n++;
	}
	free(l);
	if (!w->err)
		for (int i = 0; i < 4; i++)
			w->buf[at + i] = (uint8_t)(n >> (8 * i));
	return 0;
}

#define GET(req, what, p) do {							\
	if (ioctl(fd, req, p) < 0) {						\
		snprintf(err, errlen, "vCPU %d: %s: %s", id, what, strerror(errno));	\
		r = -errno;							\
		goto out;							\
	}									\
} while (0)

int arch_vcpu_save(struct arch_host *h, int fd, int id, struct state_w *w, char *err,
		   size_t errlen)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs = { 0 };
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	struct kvm_debugregs dbg;
	int xs = xsave_size(h), r = 0;
	void *xbuf = calloc(1, xs > 0 ? (size_t)xs : sizeof(struct kvm_fpu));
	size_t at = sw_begin(w, STATE_TAG('X', '8', '6', 'C'), VCPU_VERSION);

	if (!xbuf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	GET(KVM_GET_REGS, "KVM_GET_REGS", &regs);
	GET(KVM_GET_SREGS, "KVM_GET_SREGS", &sregs);
	if (xs > (int)sizeof(struct kvm_xsave))
		GET(KVM_GET_XSAVE2, "KVM_GET_XSAVE2", xbuf);
	else if (xs)
		GET(KVM_GET_XSAVE, "KVM_GET_XSAVE", xbuf);
	else
		GET(KVM_GET_FPU, "KVM_GET_FPU", xbuf);
	bool has_xcrs = ioctl(h->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	if (has_xcrs)
		GET(KVM_GET_XCRS, "KVM_GET_XCRS", &xcrs);
	GET(KVM_GET_LAPIC, "KVM_GET_LAPIC", &lapic);
	GET(KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", &ev);
	GET(KVM_GET_MP_STATE, "KVM_GET_MP_STATE", &mp);
	GET(KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS", &dbg);
	blob(w, &regs, sizeof(regs));
	blob(w, &sregs, sizeof(sregs));
	sw_u32(w, xs);                /* 0: FPU only; else the XSAVE area's size */
	blob(w, xbuf, xs ? (uint32_t)xs : sizeof(struct kvm_fpu));
	sw_bool(w, has_xcrs);
	blob(w, &xcrs, sizeof(xcrs));
	if ((r = save_msrs(h, fd, w, err, errlen)))
		goto out;
	blob(w, &lapic, sizeof(lapic));
	blob(w, &ev, sizeof(ev));
	sw_u32(w, mp.mp_state);
	blob(w, &dbg, sizeof(dbg));
	sw_end(w, at);
out:
	free(xbuf);
	return r;
}

#define SET(req, what, p) do {							\
	if (sr_ok(r) && ioctl(fd, req, p) < 0)					\
		sr_fail(r, "vCPU %d: %s: %s", id, what, strerror(errno));	\
} while (0)

int arch_vcpu_load(struct arch_host *h, int fd, int id, struct state_r *rr)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	struct kvm_debugregs dbg;
	struct state_r s, *r = &s;
	uint64_t deadline = 0;
	bool has_deadline = false;
	void *xbuf = NULL;

	if (sr_section(rr, STATE_TAG('X', '8', '6', 'C'), VCPU_VERSION, NULL, &s, "x86 vCPU"))
		return -EINVAL;
	get_blob(r, &regs, sizeof(regs), "KVM_REGS");
	get_blob(r, &sregs, sizeof(sregs), "KVM_SREGS");
	uint32_t xs = sr_u32(r);
	int here = xsave_size(h);
	if (sr_ok(r) && (int)xs != here)
		return sr_fail(r, "vCPU %d: an XSAVE area of %u bytes saved, this KVM's is %d (0: "
			       "FPU only)", id, xs, here);
	uint32_t xlen = xs ? xs : sizeof(struct kvm_fpu);
	if (!(xbuf = calloc(1, xlen)))
		return sr_fail(r, "out of memory");
	get_blob(r, xbuf, xlen, "XSAVE");
	bool has_xcrs = sr_bool(r);
	get_blob(r, &xcrs, sizeof(xcrs), "KVM_XCRS");
	SET(KVM_SET_REGS, "KVM_SET_REGS", &regs);
	SET(xs ? KVM_SET_XSAVE : KVM_SET_FPU, xs ? "KVM_SET_XSAVE" : "KVM_SET_FPU", xbuf);
	free(xbuf);
	if (has_xcrs)
		SET(KVM_SET_XCRS, "KVM_SET_XCRS", &xcrs);
	SET(KVM_SET_SREGS, "KVM_SET_SREGS", &sregs);
	uint32_t n = sr_u32(r);
	if (sr_ok(r) && n > MAX_MSRS)
		return sr_fail(r, "vCPU %d: %u MSRs saved", id, n);
	for (uint32_t i = 0; i < n && sr_ok(r); i++) {
		uint32_t index = sr_u32(r);
		uint64_t v = sr_u64(r);
		if (index == MSR_IA32_TSC_DEADLINE) {   /* after the LAPIC */
			has_deadline = true;
			deadline = v;
			continue;
		}
		int e = sr_ok(r) ? msr_io(fd, KVM_SET_MSRS, index, &v) : 0;
		if (e)
			sr_fail(r, "vCPU %d: KVM refuses MSR 0x%x = 0x%llx: %s", id, index,
				(unsigned long long)v, e == -EINVAL ? "not settable" : strerror(-e));
	}
	get_blob(r, &lapic, sizeof(lapic), "KVM_LAPIC");
	get_blob(r, &ev, sizeof(ev), "KVM_VCPU_EVENTS");
	mp.mp_state = sr_u32(r);
	get_blob(r, &dbg, sizeof(dbg), "KVM_DEBUGREGS");
	SET(KVM_SET_MP_STATE, "KVM_SET_MP_STATE", &mp);
	SET(KVM_SET_LAPIC, "KVM_SET_LAPIC", &lapic);
	if (has_deadline && sr_ok(r) && msr_io(fd, KVM_SET_MSRS, MSR_IA32_TSC_DEADLINE, &deadline))
		sr_fail(r, "vCPU %d: KVM refuses the TSC deadline", id);
	/* What GET said is valid, plus the fields QEMU always restores. */
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	SET(KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS", &ev);
	dbg.flags = 0;
	SET(KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", &dbg);
	return sr_end(r, "x86 vCPU");
}

static const struct { uint32_t chip; const char *name; } chips[] = {
	{ KVM_IRQCHIP_PIC_MASTER, "PIC master" },
	{ KVM_IRQCHIP_PIC_SLAVE, "PIC slave" },
	{ KVM_IRQCHIP_IOAPIC, "IOAPIC" },
};

int arch_vm_save(struct arch_host *h, struct state_w *w, char *err, size_t errlen)
{
	size_t at = sw_begin(w, STATE_TAG('X', '8', '6', 'V'), VM_VERSION);
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock = { 0 };

	for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++) {
		struct kvm_irqchip c = { .chip_id = chips[i].chip };
		if (ioctl(h->vm_fd, KVM_GET_IRQCHIP, &c) < 0) {
			snprintf(err, errlen, "KVM_GET_IRQCHIP (%s): %s", chips[i].name, strerror(errno));
			return -errno;
		}
		blob(w, &c, sizeof(c));
	}
	if (ioctl(h->vm_fd, KVM_GET_PIT2, &pit) < 0) {
		snprintf(err, errlen, "KVM_GET_PIT2: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(h->vm_fd, KVM_GET_CLOCK, &clock) < 0) {
		snprintf(err, errlen, "KVM_GET_CLOCK: %s", strerror(errno));
		return -errno;
	}
	blob(w, &pit, sizeof(pit));
	sw_u64(w, clock.clock);
	sw_end(w, at);
	return 0;
}

int arch_vm_load(struct arch_host *h, struct state_r *rr)
{
	struct state_r s, *r = &s;
	struct kvm_pit_state2 pit;
	int fd = h->vm_fd;

	if (sr_section(rr, STATE_TAG('X', '8', '6', 'V'), VM_VERSION, NULL, &s, "x86 machine"))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++) {
		struct kvm_irqchip c;
		get_blob(r, &c, sizeof(c), chips[i].name);
		if (sr_ok(r) && c.chip_id != chips[i].chip)
			return sr_fail(r, "%s: the state of irqchip %u saved here", chips[i].name,
				       c.chip_id);
		if (sr_ok(r) && ioctl(fd, KVM_SET_IRQCHIP, &c) < 0)
			sr_fail(r, "KVM_SET_IRQCHIP (%s): %s", chips[i].name, strerror(errno));
	}
	get_blob(r, &pit, sizeof(pit), "KVM_PIT2");
	struct kvm_clock_data clock = { .clock = sr_u64(r) };
	if (sr_ok(r) && ioctl(fd, KVM_SET_PIT2, &pit) < 0)
		sr_fail(r, "KVM_SET_PIT2: %s", strerror(errno));
	/* The guest's clock goes on from where it stopped. */
	if (sr_ok(r) && ioctl(fd, KVM_SET_CLOCK, &clock) < 0)
		sr_fail(r, "KVM_SET_CLOCK: %s", strerror(errno));
	return sr_end(r, "x86 machine");
}
