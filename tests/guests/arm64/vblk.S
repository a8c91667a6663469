/* vblk.S — a freestanding arm64 test guest that drives the first virtio-mmio
 * device (a virtio-blk disk at 0x0A000000) from a chosen byte order, to prove
 * kvmini's endianness rule (DESIGN.md) on real KVM:
 *
 *   MODE_LE      little-endian throughout (SCTLR_EL1.EE = 0).
 *   MODE_BE      SCTLR_EL1.EE = E0E = 1 before the first device access, so the
 *                reset comes from a big-endian vCPU: a legacy (version 1)
 *                device must then use big-endian rings, request headers and
 *                config space; a modern (version 2) one stays little-endian.
 *   MODE_SWITCH  phase A: reset while little-endian, then EE = 1 and drive
 *                the device from big-endian code with LITTLE-endian rings
 *                (legacy: the order sampled at reset sticks); phase B: reset
 *                again, now from big-endian, and drive it with big-endian
 *                rings (legacy: a new reset samples the new order).
 *   MODE_SNAP    as MODE_BE up to the first session's end, then prints
 *                "VBLK WAITING" and waits for a byte on the UART: the host
 *                snapshots it there, kills kvmini and restores it in a new
 *                process, which feeds the byte. Then, with no reset and no
 *                new set-up, through the same ring in the same byte order:
 *                read sector 1 back, write sector 2 (a second pattern) and
 *                read it back. A device that came back little-endian, or
 *                with other ring indexes, fails here.
 *
 * Each session: check MagicValue/Version/DeviceID, reset, ACKNOWLEDGE|DRIVER,
 * features (modern: VERSION_1 + FEATURES_OK), one queue of 8 (legacy:
 * GuestPageSize/QueueAlign/QueuePFN; modern: QueueDesc/Driver/Device,
 * QueueReady), DRIVER_OK, capacity from config space (device order), then
 * T_OUT of sector 1 (a byte pattern), T_IN of sector 1 (compared), T_IN of
 * sector 0 (must start with "kvmini-endian-s0", put there by the scenario).
 * Every request checks the used ring (idx, id, len), the status byte and
 * InterruptStatus. Output on the 16550 at 0x09000000:
 *   VBLK PASS <le|be|switch>-<legacy|modern>
 *   VBLK FAIL <mode> <phase>/<check> got=0x........
 * then PSCI SYSTEM_OFF (kvmini exits 0 either way: look at the console).
 *
 * Byte order, the whole point: the virtio-mmio REGISTERS are little-endian on
 * the bus in both versions (rev around ldr/str when big-endian, as Linux's
 * readl/writel on a BE kernel). Rings, descriptors, request headers and
 * legacy config space are in the DEVICE's order: little for version 2, for
 * version 1 the order of the vCPU that wrote Status = 0. x26 says whether
 * the CPU's current order differs from the device's; the st*d/ld*d helpers
 * swap iff it does. Data bytes (sector contents, strings) are only ever
 * accessed with byte loads/stores, so they look the same from either order.
 *
 * Caveat of big-endian mode: data loads from the image itself (literal pools,
 * .quad constants) would come back byte-swapped. Constants are built with
 * movz/movk only; instructions are little-endian whatever EE says.
 *
 * The MMU is switched on (identity map: 0-1 GiB Device-nGnRnE, 1-2 GiB normal
 * write-back) once the final CPU order is set, because stage-1 table walks
 * use SCTLR_EL1.EE too and because cacheable guest memory keeps the guest
 * coherent with kvmini's view of RAM on hardware without stage-2 FWB.
 *
 * Build: see build.sh (aarch64-linux-gnu-gcc -nostdlib -ffreestanding
 * -DMODE_xx, ld -T vblk.ld, objcopy -O binary).
 */
#if !defined(MODE_LE) && !defined(MODE_BE) && !defined(MODE_SWITCH) && !defined(MODE_SNAP)
#error "define one of MODE_LE, MODE_BE, MODE_SWITCH, MODE_SNAP"
#endif

/* ---- the guest's world (arch/arm64/layout.h) ---- */
#define RAM_BASE        0x40000000
/* Overridable only to try the guest under QEMU's own "virt" machine (TCG, no
 * kvmini): -DUART_PL011 -DVMMIO_BASE=0x0a003e00 (QEMU fills its virtio-mmio
 * windows from the top). See build.sh --qemu. */
#ifndef UART_BASE
#define UART_BASE       0x09000000      /* 16550: THR +0, LSR +5 */
#endif
#ifndef VMMIO_BASE
#define VMMIO_BASE      0x0A000000      /* first virtio-mmio window */
#endif

/* scratch memory, all below RAM_BASE + IMAGE_SIZE (the header claims it) */
#define IMAGE_SIZE      0x200000
#define RING            0x40100000      /* descriptor table, 8 x 16 bytes */
#define AVAIL           0x40100080      /* legacy layout: right after it */
#define USED            0x40101000      /* legacy layout: next 4 KiB */
#define HDR             0x40102000      /* virtio_blk_outhdr, 16 bytes */
#define STAT            0x40102010      /* status byte */
#define SCR             0x40102020      /* 8 bytes of scratch */
#define BUFA            0x40103000      /* the pattern written */
#define BUFB            0x40104000      /* what is read back */
#define PT              0x40105000      /* level-1 translation table */
#define BUFC            0x40107000      /* MODE_SNAP: the second pattern */
#define STACK_TOP       0x40110000

#define QSIZE           8
#define EXPECT_CAPACITY 2048            /* the scenarios' disk: 1 MiB */

/* virtio-mmio registers (virtio 1.2 §4.2.2) */
#define R_MAGIC         0x000
#define R_VERSION       0x004
#define R_DEVICE_ID     0x008
#define R_DEV_FEAT      0x010
#define R_DEV_FEAT_SEL  0x014
#define R_DRV_FEAT      0x020
#define R_DRV_FEAT_SEL  0x024
#define R_GUEST_PAGE    0x028           /* legacy */
#define R_QUEUE_SEL     0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM     0x038
#define R_QUEUE_ALIGN   0x03c           /* legacy */
#define R_QUEUE_PFN     0x040           /* legacy */
#define R_QUEUE_READY   0x044           /* modern */
#define R_QUEUE_NOTIFY  0x050
#define R_INT_STATUS    0x060
#define R_INT_ACK       0x064
#define R_STATUS        0x070
#define R_DESC_LO       0x080
#define R_DESC_HI       0x084
#define R_DRIVER_LO     0x090
#define R_DRIVER_HI     0x094
#define R_DEVICE_LO     0x0a0
#define R_DEVICE_HI     0x0a4
#define R_CONFIG        0x100

#define S_ACK           1
#define S_DRIVER        2
#define S_DRIVER_OK     4
#define S_FEATURES_OK   8

#define T_IN            0
#define T_OUT           1
#define F_NEXT          1
#define F_WRITE         2

#define SCTLR_M         (1 << 0)
#define SCTLR_C         (1 << 2)
#define SCTLR_I         (1 << 12)
#define SCTLR_E0E_EE    (3 << 24)

/* Fixed registers:
 *   x19 phase name   x20 virtio-mmio base   x21 mode name    x22 version
 *   x23 check name   x24 used idx seen      x25 avail idx    x26 swap flag
 *   x27 device is BE x28 CPU is BE
 * Helpers take x0/x1, return in x0 and clobber only x9 (and x10 for I/O). */

/* A 32-bit constant without a literal pool (see the caveat above). */
.macro movl reg, imm
	movz \reg, #((\imm) & 0xffff)
	movk \reg, #(((\imm) >> 16) & 0xffff), lsl #16
.endm

.macro phase name
	.pushsection .rodata.str, "a"
.Lphase\@: .asciz "\name"
	.popsection
	adr x19, .Lphase\@
.endm

/* expect_eq wa, wb, "check": fail with wa unless wa == wb. */
.macro expect_eq a, b, name
	cmp \a, \b
	b.eq .Lok\@
	.pushsection .rodata.str, "a"
.Lname\@: .asciz "\name"
	.popsection
	adr x23, .Lname\@
	mov w0, \a
	b fail
.Lok\@:
.endm

/* fail_now "check": fail with w0. */
.macro fail_now name
	.pushsection .rodata.str, "a"
.Lfail\@: .asciz "\name"
	.popsection
	adr x23, .Lfail\@
	b fail
.endm

.macro rdreg off
	mov x0, #(\off)
	bl rd32
.endm

.macro wrreg off, val
	mov x0, #(\off)
	movl w1, (\val)
	bl wr32
.endm

.macro say str
	.pushsection .rodata.str, "a"
.Lsay\@: .asciz "\str"
	.popsection
	adr x0, .Lsay\@
	bl puts
.endm

	.section .text.head, "ax"
	.globl _start
_start:
	/* ---- arm64 Image header (Documentation/arch/arm64/booting.rst) ---- */
	b	entry                   /* code0 */
	.long	0                       /* code1 */
	.quad	0                       /* text_offset */
	.quad	IMAGE_SIZE              /* image_size: code + scratch above */
	.quad	0                       /* flags: little-endian kernel, 4K, 2M-aligned base */
	.quad	0, 0, 0                 /* res2-4 */
	.ascii	"ARM\x64"               /* magic at 0x38 */
	.long	0                       /* res5 */

	.text
entry:
	movl	x9, STACK_TOP
	mov	sp, x9
	movl	x20, VMMIO_BASE
	mov	x22, #0
	mov	x23, #0
	mov	x27, #0
	adr	x21, mode_name
	phase	"start"
	mov	x0, #0                  /* whatever the VMM left: start little-endian */
	bl	set_endian
	say	"vblk: mode "
	mov	x0, x21
	bl	puts
	say	"\n"

#if defined(MODE_LE)
	bl	mmu_on
	bl	probe_reset
	bl	drive
#elif defined(MODE_BE)
	mov	x0, #1
	bl	set_endian
	bl	mmu_on
	bl	probe_reset             /* Status = 0 from a big-endian vCPU */
	bl	drive
#elif defined(MODE_SNAP)
	mov	x0, #1
	bl	set_endian
	bl	mmu_on
	bl	probe_reset             /* Status = 0 from a big-endian vCPU */
	bl	drive
	say	"VBLK WAITING\n"
	bl	wait_byte               /* snapshot, kill, restore: then the byte */
	say	"vblk: resumed\n"
	bl	drive_after
#else /* MODE_SWITCH */
	bl	probe_reset             /* Status = 0 from a little-endian vCPU */
	mov	x0, #1
	bl	set_endian              /* ... and only now turn big-endian */
	bl	mmu_on
	say	"vblk: phase A: big-endian vCPU, device reset while little-endian\n"
	bl	drive
	say	"vblk: phase B: reset again from the big-endian vCPU\n"
	bl	probe_reset
	bl	drive
#endif
	say	"VBLK PASS "
	bl	put_mode
	say	"\n"
	b	poweroff

/* ---- sessions ---- */

/* Check the device, reset it from the current CPU order, and work out the
 * device's order: version 2 little, version 1 the CPU's (x28) now. */
probe_reset:
	stp	x29, x30, [sp, #-16]!
	phase	"probe"
	rdreg	R_MAGIC
	movl	w1, 0x74726976          /* "virt" as a little-endian word */
	expect_eq w0, w1, "magic"
	rdreg	R_VERSION
	mov	w22, w0
	cmp	w0, #1
	b.eq	1f
	mov	w1, #2
	expect_eq w0, w1, "version"
1:	rdreg	R_DEVICE_ID
	mov	w1, #2                  /* block */
	expect_eq w0, w1, "device-id"
	wrreg	R_STATUS, 0             /* reset: the device samples our order */
	rdreg	R_STATUS
	expect_eq w0, wzr, "reset"
	cmp	x22, #1
	csel	x27, x28, xzr, eq
	eor	x26, x27, x28
	mov	x24, #0
	mov	x25, #0
	say	"vblk: virtio-mmio version "
	add	w0, w22, #'0'
	bl	putc
	say	", reset by a "
	bl	put_cpu_order
	say	" vCPU, so rings "
	cbz	x27, 2f
	say	"big-endian\n"
	b	3f
2:	say	"little-endian\n"
3:	ldp	x29, x30, [sp], #16
	ret

/* Set the device up after a reset and run the three requests. */
drive:
	stp	x29, x30, [sp, #-16]!
	phase	"setup"
	wrreg	R_STATUS, S_ACK
	wrreg	R_STATUS, S_ACK | S_DRIVER
	wrreg	R_DEV_FEAT_SEL, 0
	rdreg	R_DEV_FEAT
	cmp	x22, #1
	b.eq	1f
	/* modern: VERSION_1 (feature 32) offered, accepted, FEATURES_OK */
	wrreg	R_DEV_FEAT_SEL, 1
	rdreg	R_DEV_FEAT
	and	w0, w0, #1
	mov	w1, #1
	expect_eq w0, w1, "version-1-offered"
	wrreg	R_DRV_FEAT_SEL, 0
	wrreg	R_DRV_FEAT, 0
	wrreg	R_DRV_FEAT_SEL, 1
	wrreg	R_DRV_FEAT, 1
	wrreg	R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK
	rdreg	R_STATUS
	mov	w1, #(S_ACK | S_DRIVER | S_FEATURES_OK)
	expect_eq w0, w1, "features-ok"
	b	2f
1:	/* legacy: no features, no handshake; the page size for QueuePFN */
	wrreg	R_DRV_FEAT_SEL, 0
	wrreg	R_DRV_FEAT, 0
	wrreg	R_GUEST_PAGE, 4096
2:	/* an empty ring area */
	movl	x0, RING
	mov	x1, #0x2000
3:	stp	xzr, xzr, [x0], #16
	subs	x1, x1, #16
	b.ne	3b
	wrreg	R_QUEUE_SEL, 0
	rdreg	R_QUEUE_NUM_MAX
	cmp	w0, #QSIZE
	b.hs	4f
	mov	w1, #QSIZE
	expect_eq w0, w1, "queue-num-max"
4:	wrreg	R_QUEUE_NUM, QSIZE
	cmp	x22, #1
	b.ne	5f
	wrreg	R_QUEUE_ALIGN, 4096
	wrreg	R_QUEUE_PFN, (RING >> 12)
	rdreg	R_QUEUE_PFN
	movl	w1, (RING >> 12)
	expect_eq w0, w1, "queue-pfn"
	wrreg	R_STATUS, S_ACK | S_DRIVER | S_DRIVER_OK
	rdreg	R_STATUS
	mov	w1, #(S_ACK | S_DRIVER | S_DRIVER_OK)
	expect_eq w0, w1, "driver-ok"
	b	6f
5:	wrreg	R_DESC_LO, RING
	wrreg	R_DESC_HI, 0
	wrreg	R_DRIVER_LO, AVAIL
	wrreg	R_DRIVER_HI, 0
	wrreg	R_DEVICE_LO, USED
	wrreg	R_DEVICE_HI, 0
	wrreg	R_QUEUE_READY, 1
	rdreg	R_QUEUE_READY
	mov	w1, #1
	expect_eq w0, w1, "queue-ready"
	wrreg	R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK
	rdreg	R_STATUS
	mov	w1, #(S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK)
	expect_eq w0, w1, "driver-ok"

6:	/* capacity: config bytes 0..7 in the device's order (legacy: the
	 * order at reset; modern: little-endian) */
	phase	"capacity"
	movl	x2, SCR
	mov	x3, #0
7:	add	x4, x20, #R_CONFIG
	ldrb	w5, [x4, x3]
	strb	w5, [x2, x3]
	add	x3, x3, #1
	cmp	x3, #8
	b.ne	7b
	mov	x0, x2
	bl	ld64d
	mov	x1, #EXPECT_CAPACITY
	cmp	x0, x1
	b.eq	8f
	lsr	x1, x0, #32             /* show the high half if that is where it went */
	cbz	x1, 71f
	mov	x0, x1
71:	fail_now "capacity"

8:	/* T_OUT sector 1 from BUFA (a byte pattern) */
	phase	"write"
	movl	x0, BUFA
	mov	x1, #0
9:	mov	w2, #7
	mul	w2, w1, w2
	add	w2, w2, #3
	strb	w2, [x0, x1]
	add	x1, x1, #1
	cmp	x1, #512
	b.ne	9b
	mov	w0, #T_OUT
	mov	x1, #1
	movl	x2, BUFA
	bl	request

	/* T_IN sector 1 into BUFB, compare */
	phase	"read"
	bl	fill_bufb
	mov	w0, #T_IN
	mov	x1, #1
	movl	x2, BUFB
	bl	request
	phase	"compare"
	movl	x0, BUFA
	movl	x1, BUFB
	mov	x2, #512
	bl	bytecmp
	mov	w1, #512
	expect_eq w0, w1, "sector-1-differs-at"

	/* T_IN sector 0: the scenario's marker */
	phase	"read0"
	bl	fill_bufb
	mov	w0, #T_IN
	mov	x1, #0
	movl	x2, BUFB
	bl	request
	phase	"sector0"
	adr	x0, marker
	movl	x1, BUFB
	mov	x2, #16
	bl	bytecmp
	mov	w1, #16
	expect_eq w0, w1, "marker-differs-at"
	say	"vblk: capacity, write, read-back and sector 0 ok\n"
	ldp	x29, x30, [sp], #16
	ret

#ifdef MODE_SNAP
/* After the restore: the same queue, the same indexes (x24, x25 and the
 * device's), the same byte order. */
drive_after:
	stp	x29, x30, [sp, #-16]!
	phase	"restored-read1"
	bl	fill_bufb
	mov	w0, #T_IN
	mov	x1, #1
	movl	x2, BUFB
	bl	request
	phase	"restored-compare1"
	movl	x0, BUFA
	movl	x1, BUFB
	mov	x2, #512
	bl	bytecmp
	mov	w1, #512
	expect_eq w0, w1, "sector-1-differs-at"
	phase	"restored-write2"
	movl	x0, BUFC
	mov	x1, #0
1:	mov	w2, #11
	mul	w2, w1, w2
	add	w2, w2, #5
	strb	w2, [x0, x1]
	add	x1, x1, #1
	cmp	x1, #512
	b.ne	1b
	mov	w0, #T_OUT
	mov	x1, #2
	movl	x2, BUFC
	bl	request
	phase	"restored-read2"
	bl	fill_bufb
	mov	w0, #T_IN
	mov	x1, #2
	movl	x2, BUFB
	bl	request
	movl	x0, BUFC
	movl	x1, BUFB
	mov	x2, #512
	bl	bytecmp
	mov	w1, #512
	expect_eq w0, w1, "sector-2-differs-at"
	say	"vblk: after the restore: sector 1 read back, sector 2 written and read back\n"
	ldp	x29, x30, [sp], #16
	ret

/* Wait for a byte on the 16550 (LSR.DR), looking about every millisecond. */
wait_byte:
	movl	x10, UART_BASE
	mrs	x11, cntfrq_el0
	lsr	x11, x11, #10
1:	ldrb	w9, [x10, #5]
	tbnz	w9, #0, 3f
	mrs	x12, cntvct_el0
	add	x12, x12, x11
2:	mrs	x13, cntvct_el0
	cmp	x13, x12
	b.lo	2b
	b	1b
3:	ldrb	w9, [x10]
	ret
#endif

fill_bufb:
	movl	x0, BUFB
	mov	x1, #0
	mov	w2, #0xee
1:	strb	w2, [x0, x1]
	add	x1, x1, #1
	cmp	x1, #512
	b.ne	1b
	ret

/* bytecmp(x0 a, x1 b, x2 n) -> w0 = offset of the first difference, or n */
bytecmp:
	mov	x3, #0
1:	cmp	x3, x2
	b.eq	2f
	ldrb	w4, [x0, x3]
	ldrb	w5, [x1, x3]
	cmp	w4, w5
	b.ne	2f
	add	x3, x3, #1
	b	1b
2:	mov	w0, w3
	ret

/* request(w0 type, x1 sector, x2 buffer): one 3-descriptor chain (header,
 * 512 bytes of data, status byte) at descriptors 0-2, every field in the
 * device's order; notify, wait for the used ring, check it. */
request:
	stp	x29, x30, [sp, #-16]!
	mov	w3, w0                  /* type */
	mov	x4, x1                  /* sector */
	mov	x5, x2                  /* buffer */
	movl	x6, HDR
	movl	x7, RING
	/* header: le/virtio32 type, reserved, virtio64 sector */
	mov	x0, x6
	mov	w1, w3
	bl	st32d
	add	x0, x6, #4
	mov	w1, #0
	bl	st32d
	add	x0, x6, #8
	mov	x1, x4
	bl	st64d
	movl	x0, STAT
	mov	w1, #0xff
	strb	w1, [x0]
	/* desc 0: header, device-readable */
	mov	x0, x7
	mov	x1, x6
	bl	st64d
	add	x0, x7, #8
	mov	w1, #16
	bl	st32d
	add	x0, x7, #12
	mov	w1, #F_NEXT
	bl	st16d
	add	x0, x7, #14
	mov	w1, #1
	bl	st16d
	/* desc 1: data; device-writable for T_IN */
	add	x0, x7, #16
	mov	x1, x5
	bl	st64d
	add	x0, x7, #24
	mov	w1, #512
	bl	st32d
	add	x0, x7, #28
	cmp	w3, #T_IN
	mov	w1, #F_NEXT
	mov	w2, #(F_NEXT | F_WRITE)
	csel	w1, w2, w1, eq
	bl	st16d
	add	x0, x7, #30
	mov	w1, #2
	bl	st16d
	/* desc 2: status, device-writable */
	add	x0, x7, #32
	movl	x1, STAT
	bl	st64d
	add	x0, x7, #40
	mov	w1, #1
	bl	st32d
	add	x0, x7, #44
	mov	w1, #F_WRITE
	bl	st16d
	add	x0, x7, #46
	mov	w1, #0
	bl	st16d
	/* avail: ring[idx % QSIZE] = 0, then idx + 1 */
	movl	x8, AVAIL
	and	x0, x25, #(QSIZE - 1)
	add	x0, x8, x0, lsl #1
	add	x0, x0, #4
	mov	w1, #0
	bl	st16d
	dmb	ishst
	add	x25, x25, #1
	add	x0, x8, #2
	and	w1, w25, #0xffff
	bl	st16d
	dsb	sy
	wrreg	R_QUEUE_NOTIFY, 0
	/* poll used.idx (device order) for 10 s of the virtual counter */
	mrs	x11, cntfrq_el0
	mov	x12, #10
	mul	x11, x11, x12
	mrs	x12, cntvct_el0
	add	x11, x11, x12           /* deadline */
	add	w13, w24, #1
	and	w13, w13, #0xffff       /* the idx we wait for */
	movl	x8, USED
1:	add	x0, x8, #2
	bl	ld16d
	cmp	w0, w13
	b.eq	2f
	mrs	x12, cntvct_el0
	cmp	x12, x11
	b.lo	1b
	expect_eq w0, w13, "used-idx-timeout"
2:	dmb	ish
	/* used.ring[seen % QSIZE]: id 0, len = bytes written (status + data) */
	and	x0, x24, #(QSIZE - 1)
	add	x14, x8, x0, lsl #3
	add	x0, x14, #4
	bl	ld32d
	expect_eq w0, wzr, "used-id"
	add	x0, x14, #8
	bl	ld32d
	cmp	w3, #T_IN
	mov	w1, #1
	mov	w2, #513
	csel	w1, w2, w1, eq
	expect_eq w0, w1, "used-len"
	add	x24, x24, #1
	movl	x0, STAT
	ldrb	w0, [x0]
	expect_eq w0, wzr, "status"
	/* the used-buffer interrupt is pending (nobody takes it: DAIF masked) */
	rdreg	R_INT_STATUS
	mov	w15, w0
	and	w0, w0, #1
	mov	w1, #1
	expect_eq w0, w1, "interrupt-status"
	mov	x0, #R_INT_ACK
	mov	w1, w15
	bl	wr32
	ldp	x29, x30, [sp], #16
	ret

/* ---- byte order ---- */

/* set_endian(x0 = 1 big / 0 little): SCTLR_EL1.EE and E0E. A leaf that
 * touches no memory, so no stack frame straddles the switch. */
set_endian:
	mrs	x9, sctlr_el1
	bic	x9, x9, #SCTLR_E0E_EE
	cbz	x0, 1f
	orr	x9, x9, #SCTLR_E0E_EE
1:	msr	sctlr_el1, x9
	isb
	mov	x28, x0
	eor	x26, x27, x28
	ret

/* virtio-mmio registers: little-endian on the bus. */
rd32:
	ldr	w9, [x20, x0]
	cbz	x28, 1f
	rev	w9, w9
1:	mov	w0, w9
	ret

wr32:
	dsb	sy                      /* ring writes before a notify */
	mov	w9, w1
	cbz	x28, 1f
	rev	w9, w9
1:	str	w9, [x20, x0]
	ret

/* shared structures: the device's order; swap iff it differs from ours. */
st16d:
	mov	w9, w1
	cbz	x26, 1f
	rev16	w9, w9
1:	strh	w9, [x0]
	ret

st32d:
	mov	w9, w1
	cbz	x26, 1f
	rev	w9, w9
1:	str	w9, [x0]
	ret

st64d:
	mov	x9, x1
	cbz	x26, 1f
	rev	x9, x9
1:	str	x9, [x0]
	ret

ld16d:
	ldrh	w9, [x0]
	cbz	x26, 1f
	rev16	w9, w9
1:	mov	w0, w9
	ret

ld32d:
	ldr	w9, [x0]
	cbz	x26, 1f
	rev	w9, w9
1:	mov	w0, w9
	ret

ld64d:
	ldr	x9, [x0]
	cbz	x26, 1f
	rev	x9, x9
1:	mov	x0, x9
	ret

/* ---- MMU: identity map, built in the CPU's final order (table walks
 * follow SCTLR_EL1.EE as data accesses do) ---- */
mmu_on:
	movl	x9, PT
	movz	x10, #0x0401            /* block, AttrIndx 0 (Device), AF, */
	movk	x10, #0x0060, lsl #48   /* PXN, UXN: 0 - 1 GiB */
	str	x10, [x9]
	movz	x10, #0x0705            /* block, AttrIndx 1 (Normal WB), */
	movk	x10, #0x4000, lsl #16   /* inner shareable, AF: 1 - 2 GiB */
	str	x10, [x9, #8]
	str	xzr, [x9, #16]
	str	xzr, [x9, #24]
	dsb	sy
	dc	ivac, x9                /* no stale line over what the walker reads */
	dsb	sy
	mov	x10, #0xff00            /* MAIR: attr0 Device-nGnRnE, attr1 Normal WB */
	msr	mair_el1, x10
	movl	x10, 0x803520           /* TCR: T0SZ 32, WB/WB inner-shareable walks, */
	msr	tcr_el1, x10            /* 4K granule, EPD1, IPS 4 GiB */
	msr	ttbr0_el1, x9
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	mrs	x10, sctlr_el1
	orr	x10, x10, #SCTLR_M
	orr	x10, x10, #SCTLR_C
	orr	x10, x10, #SCTLR_I
	msr	sctlr_el1, x10
	isb
	ret

/* ---- console and the end ---- */

putc:                                   /* w0 */
	movl	x10, UART_BASE
#ifdef UART_PL011
1:	ldrb	w9, [x10, #0x18]        /* FR: TXFF */
	tbnz	w9, #5, 1b
#else
1:	ldrb	w9, [x10, #5]           /* LSR: THR empty */
	tbz	w9, #5, 1b
#endif
	strb	w0, [x10]
	ret

puts:                                   /* x0: NUL-terminated */
	stp	x29, x30, [sp, #-16]!
	mov	x12, x0
1:	ldrb	w0, [x12], #1
	cbz	w0, 2f
	bl	putc
	b	1b
2:	ldp	x29, x30, [sp], #16
	ret

puthex32:                               /* w0 */
	stp	x29, x30, [sp, #-16]!
	mov	w11, w0
	mov	x12, #28
1:	lsr	w0, w11, w12
	and	w0, w0, #0xf
	cmp	w0, #10
	add	w9, w0, #'0'
	add	w0, w0, #('a' - 10)
	csel	w0, w9, w0, lo
	bl	putc
	subs	x12, x12, #4
	b.pl	1b
	ldp	x29, x30, [sp], #16
	ret

put_cpu_order:
	stp	x29, x30, [sp, #-16]!
	adr	x0, s_le
	cbz	x28, 1f
	adr	x0, s_be
1:	bl	puts
	ldp	x29, x30, [sp], #16
	ret

put_mode:                               /* "be-legacy" */
	stp	x29, x30, [sp, #-16]!
	mov	x0, x21
	bl	puts
	cmp	x22, #1
	b.ne	1f
	adr	x0, s_legacy
	bl	puts
1:	cmp	x22, #2
	b.ne	2f
	adr	x0, s_modern
	bl	puts
2:	ldp	x29, x30, [sp], #16
	ret

/* fail: w0 the value seen, x19 the phase, x23 the check. */
fail:
	mov	w14, w0
	say	"VBLK FAIL "
	bl	put_mode
	mov	w0, #' '
	bl	putc
	mov	x0, x19
	bl	puts
	cbz	x23, 1f
	mov	w0, #'/'
	bl	putc
	mov	x0, x23
	bl	puts
1:	say	" got=0x"
	mov	w0, w14
	bl	puthex32
	say	" (cpu "
	bl	put_cpu_order
	say	")\n"
poweroff:
	movz	w0, #0x0008             /* PSCI SYSTEM_OFF */
	movk	w0, #0x8400, lsl #16
	hvc	#0
1:	wfi
	b	1b

	.section .rodata.str, "a"
mode_name:
#if defined(MODE_LE)
	.asciz	"le"
#elif defined(MODE_BE)
	.asciz	"be"
#elif defined(MODE_SNAP)
	.asciz	"snap"
#else
	.asciz	"switch"
#endif
s_le:	.asciz	"little-endian"
s_be:	.asciz	"big-endian"
s_legacy: .asciz "-legacy"
s_modern: .asciz "-modern"
marker:	.ascii	"kvmini-endian-s0"
