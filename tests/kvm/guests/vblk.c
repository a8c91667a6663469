/* A freestanding x86 test guest for virtio-blk over virtio-mmio, run directly
 * on /dev/kvm (issue 5: the little-endian twin of tests/guests/arm64/vblk.S).
 * It finds the first virtio-mmio device, resets and negotiates through
 * whichever register layout the device has (version 1 legacy or 2 modern),
 * builds a split ring of 8, writes sector 1 with a pattern, reads it back and
 * compares, reads sector 0 and checks the marker the test put there, prints
 * "VBLK PASS legacy|modern" or "VBLK FAIL <step>" on COM1, and powers off. */
#include <stdint.h>

#define MMIO  0xD0000000UL            /* X86_VIRTIO_MMIO_BASE: device 0 */
#define RING  0x300000UL              /* desc; avail at +0x80; used at +0x1000 */
#define HDR   0x302000UL
#define DATA  0x303000UL
#define BACK  0x304000UL
#define STAT  0x305000UL
#define QSIZE 8

#define barrier() __asm__ volatile("" ::: "memory")

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void w32(unsigned off, uint32_t v) { *(volatile uint32_t *)(MMIO + off) = v; }
static inline uint32_t r32(unsigned off) { return *(volatile uint32_t *)(MMIO + off); }

static void putc_(char c)
{
	while (!(inb(0x3FD) & 0x20))
		;
	outb(0x3F8, (uint8_t)c);
}

static void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

static __attribute__((noreturn)) void poweroff(void)
{
	outb(0x600, 5 << 2 | 1 << 5);     /* ACPI sleep control: S5 */
	for (;;)
		__asm__ volatile("hlt");
}

static __attribute__((noreturn)) void fail(const char *step)
{
	puts_("VBLK FAIL ");
	puts_(step);
	puts_("\n");
	poweroff();
}

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
#define F_NEXT 1
#define F_WRITE 2

static volatile struct desc *const desc = (volatile struct desc *)RING;
static volatile uint16_t *const avail = (volatile uint16_t *)(RING + 0x80);   /* flags, idx, ring[] */
static volatile uint16_t *const used_idx = (volatile uint16_t *)(RING + 0x1000 + 2);
static volatile uint32_t *const used_ring = (volatile uint32_t *)(RING + 0x1000 + 4);

static uint16_t next_avail, next_used;

static void set_desc(int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	desc[i].addr = addr;
	desc[i].len = len;
	desc[i].flags = flags;
	desc[i].next = next;
}

/* One request: header, 512 bytes of data (device-writable for IN), status. */
static void request(uint32_t type, uint64_t sector, uint64_t data, const char *step)
{
	volatile uint32_t *hdr = (volatile uint32_t *)HDR;
	volatile uint8_t *status = (volatile uint8_t *)STAT;

	hdr[0] = type;
	hdr[1] = 0;
	*(volatile uint64_t *)(HDR + 8) = sector;
	*status = 0xFF;
	set_desc(0, HDR, 16, F_NEXT, 1);
	set_desc(1, data, 512, (uint16_t)(F_NEXT | (type == 0 ? F_WRITE : 0)), 2);
	set_desc(2, STAT, 1, F_WRITE, 0);
	avail[2 + next_avail % QSIZE] = 0;
	barrier();
	avail[1] = ++next_avail;
	barrier();
	w32(0x050, 0);                     /* QueueNotify */
	for (uint32_t spin = 0; *used_idx == next_used; spin++)
		if (spin > 200000000u)
			fail(step);
	next_used++;
	barrier();
	if (used_ring[2 * ((next_used - 1) % QSIZE)] != 0 || *status != 0)
		fail(step);
	w32(0x064, r32(0x060));            /* InterruptACK */
}

void vblk_main(void)
{
	uint32_t version;

	if (r32(0x000) != 0x74726976 || r32(0x008) != 2)
		fail("probe");
	version = r32(0x004);
	w32(0x070, 0);                     /* reset */
	w32(0x070, 1 | 2);                 /* ACKNOWLEDGE | DRIVER */
	if (version == 2) {
		w32(0x014, 1);
		if (!(r32(0x010) & 1))     /* VERSION_1 offered */
			fail("features");
		w32(0x024, 1);
		w32(0x020, 1);             /* accept VERSION_1 only */
		w32(0x024, 0);
		w32(0x020, 0);
		w32(0x070, 1 | 2 | 8);
		if (!(r32(0x070) & 8))
			fail("features-ok");
	} else {
		w32(0x028, 4096);          /* GuestPageSize */
	}
	w32(0x030, 0);                     /* QueueSel */
	if (r32(0x034) < QSIZE)
		fail("queue-size");
	for (unsigned i = 0; i < 0x2000; i++)
		((volatile uint8_t *)RING)[i] = 0;
	w32(0x038, QSIZE);
	if (version == 2) {
		w32(0x080, (uint32_t)RING);
		w32(0x084, 0);
		w32(0x090, (uint32_t)(RING + 0x80));
		w32(0x094, 0);
		w32(0x0a0, (uint32_t)(RING + 0x1000));
		w32(0x0a4, 0);
		w32(0x044, 1);             /* QueueReady */
	} else {
		w32(0x03c, 4096);          /* QueueAlign: used ring at RING + 0x1000 */
		w32(0x040, (uint32_t)(RING >> 12));
	}
	w32(0x070, r32(0x070) | 4);        /* DRIVER_OK */
	if (r32(0x070) & 0x40)
		fail("needs-reset");

	for (unsigned i = 0; i < 512; i++)
		((volatile uint8_t *)DATA)[i] = (uint8_t)(i * 7 + 3);
	request(1, 1, DATA, "write");
	request(0, 1, BACK, "read");
	for (unsigned i = 0; i < 512; i++)
		if (((volatile uint8_t *)BACK)[i] != (uint8_t)(i * 7 + 3))
			fail("compare");
	request(0, 0, BACK, "read-marker");
	const char *m = "kvmini-vblk-s0";
	for (unsigned i = 0; m[i]; i++)
		if (((volatile uint8_t *)BACK)[i] != (uint8_t)m[i])
			fail("marker");
	puts_(version == 2 ? "VBLK PASS modern\n" : "VBLK PASS legacy\n");
	poweroff();
}
