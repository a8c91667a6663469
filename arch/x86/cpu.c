/* x86 vCPU state: CPUID, MSRs, FPU, local APIC and boot registers. */
#include "arch/x86/cpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/layout.h"

#define CPUID_MAX_ENTRIES 256

struct kvm_cpuid2 *x86_supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return NULL;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

static unsigned bits_for(int n)
{
	unsigned b = 0;
	while ((1 << b) < n)
		b++;
	return b;
}

/* One socket of ncpus cores, one thread each; APIC id == vCPU index. */
static void patch_entry(struct kvm_cpuid_entry2 *e, int id, int ncpus)
{
	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000FFFF) | (uint32_t)id << 24 | (uint32_t)ncpus << 16;
		e->ecx |= 1u << 31;                 /* running under a hypervisor */
		if (ncpus > 1)
			e->edx |= 1u << 28;         /* HTT: the ebx count is valid */
		break;
	case 4:                                     /* Intel cache topology */
		e->eax &= 0x3FFF;
		e->eax |= (uint32_t)(ncpus - 1) << 26;
		break;
	case 0xB:
	case 0x1F:                                  /* extended topology */
		e->edx = (uint32_t)id;
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = 1u << 8;           /* level 0: SMT */
		} else if (e->index == 1) {
			e->eax = bits_for(ncpus);
			e->ebx = (uint32_t)ncpus;
			e->ecx = 2u << 8 | 1;       /* level 1: core */
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;          /* invalid level ends the list */
		}
		break;
	case 0x80000008:                            /* AMD: number of cores */
		e->ecx = (e->ecx & ~0xF0FFu) | (uint32_t)(ncpus - 1) | bits_for(ncpus) << 12;
		break;
	case 0x8000001E:                            /* AMD: extended APIC id */
		e->eax = (uint32_t)id;
		e->ebx = (uint32_t)id & 0xFF;
		e->ecx = 0;
		break;
	}
}

int x86_vcpu_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *tmpl, int id, int ncpus)
{
	size_t sz = sizeof(*tmpl) + tmpl->nent * sizeof(tmpl->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int ret = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, tmpl, sz);
	for (unsigned i = 0; i < c->nent; i++)
		patch_entry(&c->entries[i], id, ncpus);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		ret = -errno;
	free(c);
	return ret;
}

int x86_vcpu_set_msrs(int vcpu_fd)
{
	static const struct { uint32_t index; uint64_t data; } init[] = {
		{ 0x174, 0 }, { 0x175, 0 }, { 0x176, 0 },      /* SYSENTER_CS/ESP/EIP */
		{ 0xC0000081, 0 }, { 0xC0000082, 0 },          /* STAR, LSTAR */
		{ 0xC0000083, 0 }, { 0xC0000084, 0 },          /* CSTAR, SYSCALL_MASK */
		{ 0xC0000102, 0 },                             /* KERNEL_GS_BASE */
		{ 0x10, 0 },                                   /* TSC */
		{ 0x1A0, 1 },                                  /* MISC_ENABLE: fast strings */
		{ 0x2FF, (1 << 11) | 6 },                      /* MTRRdefType: on, write-back */
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m;

	/* One at a time: KVM stops a batch at the first MSR it refuses, and an
	 * optional one (MISC_ENABLE on an AMD host) must not hide the rest. */
	for (unsigned i = 0; i < sizeof(init) / sizeof(init[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.hdr.nmsrs = 1;
		m.e.index = init[i].index;
		m.e.data = init[i].data;
		if (ioctl(vcpu_fd, KVM_SET_MSRS, &m) < 0)
			return -errno;
	}
	return 0;
}

int x86_vcpu_set_fpu(int vcpu_fd)
{
	struct kvm_fpu fpu = { .fcw = 0x37F, .mxcsr = 0x1F80 };
	return ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

/* LINT0 as ExtINT (the 8259 reaches the boot CPU), LINT1 as NMI: what a PC
 * BIOS leaves behind and Linux expects in virtual wire mode. */
int x86_vcpu_set_lapic(int vcpu_fd)
{
	struct kvm_lapic_state l;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	uint32_t *lint0 = (uint32_t *)(void *)&l.regs[0x350];
	uint32_t *lint1 = (uint32_t *)(void *)&l.regs[0x360];
	*lint0 = (*lint0 & ~0x700u) | (7u << 8);
	*lint1 = (*lint1 & ~0x700u) | (4u << 8);
	return ioctl(vcpu_fd, KVM_SET_LAPIC, &l) < 0 ? -errno : 0;
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, int s, int db, int l)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xFFFFFFFF, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = (uint8_t)db, .s = (uint8_t)s,
		.l = (uint8_t)l, .g = 1,
	};
}

int x86_vcpu_set_boot_regs(int vcpu_fd, int long_mode, uint64_t rip, uint64_t arg)
{
	struct kvm_sregs sr;
	struct kvm_regs r = { .rflags = 2, .rip = rip };

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	/* Selectors match the GDT written at X86_GDT_ADDR (the boot
	 * protocol's __BOOT_CS 0x10 and __BOOT_DS 0x18). */
	sr.cs = seg(0x10, 0xB, 1, !long_mode, long_mode);
	sr.ds = sr.es = sr.fs = sr.gs = sr.ss = seg(0x18, 0x3, 1, 1, 0);
	sr.tr = seg(0x20, 0xB, 0, 0, 0);
	sr.tr.limit = 0x67;
	sr.tr.g = 0;
	sr.gdt.base = X86_GDT_ADDR;
	sr.gdt.limit = 5 * 8 - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	if (long_mode) {
		sr.cr0 = 0x80000011;       /* PG | ET | PE */
		sr.cr3 = X86_PML4_ADDR;
		sr.cr4 = 0x20;             /* PAE */
		sr.efer = 0x500;           /* LME | LMA */
		r.rsi = arg;               /* boot_params */
	} else {
		sr.cr0 = 0x11;             /* ET | PE */
		sr.cr3 = 0;
		sr.cr4 = 0;
		sr.efer = 0;
		r.rbx = arg;               /* hvm_start_info */
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sr) < 0 || ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return 0;
}

void x86_vcpu_dump(int vcpu_fd, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(out, "  (registers unavailable: %s)\n", strerror(errno));
		return;
	}
	fprintf(out,
		"  rip %016llx rsp %016llx rflags %08llx\n"
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rbp %016llx\n"
		"  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		"  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
		"  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx\n"
		"  cs %04x (base %llx) ss %04x ds %04x gdt %llx/%x idt %llx/%x\n",
		r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp,
		r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15,
		s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.cs.selector, s.cs.base,
		s.ss.selector, s.ds.selector, s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
}
