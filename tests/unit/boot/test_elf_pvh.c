/* Tests for the ELF/PVH loader: a synthetic x86_64 vmlinux with Xen notes
 * and PT_LOAD segments, loaded into a malloc'd guest RAM, and the
 * hvm_start_info (Xen public/arch-x86/hvm/start_info.h) checked field by
 * field. Every multi-byte field goes through le.h so the test also holds
 * on a big-endian host. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "le.h"

#define MiB (1ULL << 20)
#define RAM_SIZE (64 * MiB)

#define KERNEL_ADDR 0x100000ULL
#define ZERO_PAGE   0x7000ULL
#define PVH_INFO    0x6000ULL
#define CMDLINE     0x20000ULL
#define CMDLINE_MAX 4096ULL
#define RSDP        0xE0000ULL

/* The synthetic vmlinux. */
#define NPHDR       5
#define NOTE_A_OFF  0x200        /* PT_NOTE: a GNU build-id only */
#define NOTE_A_SIZE 36
#define NOTE_B_OFF  0x240        /* PT_NOTE: empty note, Xen GUEST_OS, Xen PHYS32_ENTRY */
#define NOTE_B_SIZE 0x3c
#define PVH_NOTE    (NOTE_B_OFF + 12 + 24)   /* the PHYS32_ENTRY note */
#define TEXT_OFF    0x1000
#define TEXT_SIZE   0x2000
#define TEXT_PADDR  0x1000000ULL
#define DATA_OFF    0x3000
#define DATA_FILESZ 0x800
#define DATA_MEMSZ  0x3000
#define DATA_PADDR  0x1400000ULL
#define IMG_SIZE    0x3800
#define ENTRY       0x1000123u

static uint8_t *ram;
static struct guest_mem gm;
static struct x86_boot_layout L;
static struct e820_entry e820[3];
static uint8_t img[IMG_SIZE];
static size_t img_size;
static char err[BOOT_ERR_MAX];
static struct x86_boot_result res;

static uint8_t *ph(int i) { return img + 64 + 56 * i; }

static void put_phdr(int i, uint32_t type, uint64_t off, uint64_t paddr, uint64_t filesz,
		     uint64_t memsz)
{
	uint8_t *p = ph(i);

	le32_put(p, type);
	le32_put(p + 4, PF_R | PF_X);
	le64_put(p + 8, off);
	le64_put(p + 16, 0xffffffff80000000ULL + paddr);   /* vaddr: ignored */
	le64_put(p + 24, paddr);
	le64_put(p + 32, filesz);
	le64_put(p + 40, memsz);
	le64_put(p + 48, 0x1000);
}

/* Writes one note at p; returns the bytes it takes. */
static size_t put_note(uint8_t *p, const char *name, uint32_t namesz, uint32_t type,
		       const void *desc, uint32_t descsz)
{
	size_t n = 12;

	le32_put(p, namesz);
	le32_put(p + 4, descsz);
	le32_put(p + 8, type);
	memcpy(p + n, name, namesz);
	n += (namesz + 3) & ~3u;
	memcpy(p + n, desc, descsz);
	return n + ((descsz + 3) & ~3u);
}

static void build_elf(void)
{
	uint8_t q[8], id[20];
	size_t n;

	memset(img, 0, sizeof(img));
	memcpy(img, ELFMAG, SELFMAG);
	img[EI_CLASS] = ELFCLASS64;
	img[EI_DATA] = ELFDATA2LSB;
	img[EI_VERSION] = EV_CURRENT;
	le16_put(img + 16, ET_EXEC);
	le16_put(img + 18, EM_X86_64);
	le32_put(img + 20, EV_CURRENT);
	le64_put(img + 24, 0xffffffff81000000ULL);           /* e_entry: not used */
	le64_put(img + 32, 64);                              /* e_phoff */
	le16_put(img + 52, 64);
	le16_put(img + 54, 56);
	le16_put(img + 56, NPHDR);

	put_phdr(0, PT_NOTE, NOTE_A_OFF, 0, NOTE_A_SIZE, NOTE_A_SIZE);
	put_phdr(1, PT_NOTE, NOTE_B_OFF, 0, NOTE_B_SIZE, NOTE_B_SIZE);
	put_phdr(2, PT_LOAD, TEXT_OFF, TEXT_PADDR, TEXT_SIZE, TEXT_SIZE);
	put_phdr(3, PT_LOAD, DATA_OFF, DATA_PADDR, DATA_FILESZ, DATA_MEMSZ);
	put_phdr(4, PT_GNU_STACK, 0, 0, 0, 0);

	memset(id, 0x42, sizeof(id));
	n = put_note(img + NOTE_A_OFF, "GNU", 4, NT_GNU_BUILD_ID, id, sizeof(id));
	assert_int_equal(n, NOTE_A_SIZE);
	n = put_note(img + NOTE_B_OFF, "", 0, 0, "", 0);
	n += put_note(img + NOTE_B_OFF + n, "Xen", 4, 6, "linux", 6);   /* GUEST_OS */
	assert_int_equal(NOTE_B_OFF + n, PVH_NOTE);
	le64_put(q, 0xffffffff00000000ULL | ENTRY);         /* desc is a quad on x86_64 */
	n += put_note(img + NOTE_B_OFF + n, "Xen", 4, 18, q, 8);
	assert_int_equal(n, NOTE_B_SIZE);

	for (size_t i = 0; i < TEXT_SIZE; i++)
		img[TEXT_OFF + i] = (uint8_t)(i * 13 + 7);
	for (size_t i = 0; i < DATA_FILESZ; i++)
		img[DATA_OFF + i] = (uint8_t)(i * 29 + 3) | 1;   /* never 0, never 0xAA */
	img_size = IMG_SIZE;
}

static int setup(void **state)
{
	(void)state;
	if (!ram)
		ram = malloc(RAM_SIZE);
	assert_non_null(ram);
	memset(ram, 0xAA, RAM_SIZE);
	memset(&gm, 0, sizeof(gm));
	assert_int_equal(gm_add_region(&gm, 0, RAM_SIZE, ram), 0);
	e820[0] = (struct e820_entry){ 0, 0x9FC00, E820_RAM };
	e820[1] = (struct e820_entry){ 0x9FC00, 0x60400, E820_RESERVED };
	e820[2] = (struct e820_entry){ 0x100000, RAM_SIZE - 0x100000, E820_RAM };
	L = (struct x86_boot_layout){
		.lowmem_end = RAM_SIZE, .kernel_addr = KERNEL_ADDR, .zero_page = ZERO_PAGE,
		.pvh_info = PVH_INFO, .cmdline_addr = CMDLINE, .cmdline_max = CMDLINE_MAX,
		.rsdp = RSDP, .e820 = e820, .nr_e820 = 3,
	};
	build_elf();
	memset(err, 0, sizeof(err));
	memset(&res, 0x5A, sizeof(res));
	return 0;
}

static int teardown_all(void **state)
{
	(void)state;
	free(ram);
	ram = NULL;
	return 0;
}

static int load(const uint8_t *initrd, size_t isize, const char *cmdline)
{
	return x86_boot_load(&gm, &L, img, img_size, initrd, isize, cmdline, &res, err,
			     sizeof(err));
}

/* The plan: what kvmini checks before /dev/kvm, with no guest memory. */
static int plan(size_t isize, const char *cmdline, struct x86_boot_result *r)
{
	return x86_boot_plan(&L, img, img_size, isize, cmdline, r, err, sizeof(err));
}

static int parse(struct elf_pvh_info *ei)
{
	return elf_pvh_parse(img, img_size, ei, err, sizeof(err));
}

static void check_unchanged(uint64_t gpa, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (ram[gpa + i] != 0xAA)
			fail_msg("guest byte 0x%llx changed", (unsigned long long)(gpa + i));
}

/* Every malformed kernel is refused by the parser, by the plan (before
 * /dev/kvm, naming --kernel) and by the load, with guest memory untouched. */
#define EXPECT_PARSE_FAIL(msg_part)                                         \
	do {                                                                \
		struct elf_pvh_info ei_;                                    \
		struct x86_boot_result pr_;                                 \
		assert_int_equal(parse(&ei_), -ENOEXEC);                    \
		if (!strstr(err, msg_part))                                 \
			fail_msg("message '%s' lacks '%s'", err, msg_part); \
		assert_int_equal(plan(0, "x", &pr_), -ENOEXEC);             \
		if (strncmp(err, "--kernel: ", 10) || !strstr(err, msg_part)) \
			fail_msg("plan says '%s', not --kernel: ...'%s'", err, msg_part); \
		assert_int_equal(load(NULL, 0, "x"), -ENOEXEC);             \
		check_unchanged(PVH_INFO, 0x200);                           \
		check_unchanged(TEXT_PADDR, 16);                            \
		check_unchanged(CMDLINE, 16);                               \
	} while (0)

static void parse_ok(void **state)
{
	struct elf_pvh_info ei;

	(void)state;
	memset(&ei, 0x5A, sizeof(ei));
	assert_int_equal(parse(&ei), 0);
	assert_int_equal(ei.entry, ENTRY);
	assert_int_equal(ei.lowest, TEXT_PADDR);
	assert_int_equal(ei.highest, DATA_PADDR + DATA_MEMSZ);
	assert_int_equal(boot_detect(img, img_size), KERNEL_ELF);

	/* A 4-byte descriptor works as well as a quad. */
	le32_put(img + PVH_NOTE + 4, 4);
	le32_put(img + PVH_NOTE + 16, 0x2000000);
	assert_int_equal(parse(&ei), 0);
	assert_int_equal(ei.entry, 0x2000000);
	/* The first PHYS32_ENTRY note counts, in whichever PT_NOTE it sits. */
	setup(NULL);
	le32_put(ph(0), PT_NULL);
	assert_int_equal(parse(&ei), 0);
	assert_int_equal(ei.entry, ENTRY);
}

static void load_segments(void **state)
{
	(void)state;
	assert_int_equal(elf_pvh_load(img, img_size, &gm, err, sizeof(err)), 0);
	assert_memory_equal(ram + TEXT_PADDR, img + TEXT_OFF, TEXT_SIZE);
	assert_memory_equal(ram + DATA_PADDR, img + DATA_OFF, DATA_FILESZ);
	/* bss zeroed, and not a byte more. */
	for (uint64_t a = DATA_PADDR + DATA_FILESZ; a < DATA_PADDR + DATA_MEMSZ; a++)
		if (ram[a])
			fail_msg("bss byte 0x%llx is 0x%02x", (unsigned long long)a, ram[a]);
	assert_int_equal(ram[DATA_PADDR + DATA_MEMSZ], 0xAA);
	assert_int_equal(ram[TEXT_PADDR - 1], 0xAA);
	check_unchanged(TEXT_PADDR + TEXT_SIZE, DATA_PADDR - TEXT_PADDR - TEXT_SIZE);
	/* Notes are not loaded (their paddr 0 is untouched). */
	check_unchanged(0, 0x1000);
}

static void load_pvh(void **state)
{
	static uint8_t initrd[2 * MiB + 5];
	const char *cmdline = "console=ttyS0 earlyprintk";
	const uint64_t iaddr = (RAM_SIZE - sizeof(initrd)) & ~0xFFFULL;
	const uint8_t *p = ram + PVH_INFO;
	uint64_t modlist, memmap;

	(void)state;
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 7 + 5);
	assert_int_equal(load(initrd, sizeof(initrd), cmdline), 0);

	assert_int_equal(res.mode, X86_ENTRY_PVH32);
	assert_int_equal(res.entry, ENTRY);
	assert_int_equal(res.arg, PVH_INFO);
	assert_int_equal(res.kernel_end, DATA_PADDR + DATA_MEMSZ);
	assert_int_equal(res.initrd_addr, iaddr);
	assert_int_equal(iaddr, 0x3DFF000);
	assert_int_equal(res.initrd_size, sizeof(initrd));
	assert_memory_equal(ram + TEXT_PADDR, img + TEXT_OFF, TEXT_SIZE);
	assert_int_equal(ram[DATA_PADDR + DATA_MEMSZ - 1], 0);
	assert_memory_equal(ram + iaddr, initrd, sizeof(initrd));
	assert_string_equal((const char *)ram + CMDLINE, cmdline);
	check_unchanged(ZERO_PAGE, BP_SIZE);                 /* no zero page for PVH */

	/* struct hvm_start_info */
	assert_int_equal(le32_get(p + 0), PVH_MAGIC);
	assert_int_equal(le32_get(p + 0), 0x336ec578);
	assert_int_equal(le32_get(p + 4), 1);               /* version */
	assert_int_equal(le32_get(p + 8), 0);               /* flags */
	assert_int_equal(le32_get(p + 12), 1);              /* nr_modules */
	modlist = le64_get(p + 16);
	assert_int_equal(le64_get(p + 24), CMDLINE);
	assert_int_equal(le64_get(p + 32), RSDP);
	memmap = le64_get(p + 40);
	assert_int_equal(le32_get(p + 48), 3);              /* memmap_entries */
	assert_int_equal(le32_get(p + 52), 0);              /* reserved */

	/* Both tables follow the info, inside guest RAM, without overlap. */
	assert_true(modlist >= PVH_INFO + PVH_INFO_SIZE);
	assert_int_equal(modlist % 8, 0);
	assert_true(memmap >= modlist + PVH_MODLIST_ENTRY);
	assert_int_equal(memmap % 8, 0);
	assert_true(memmap + 3 * PVH_MEMMAP_ENTRY <= ZERO_PAGE);

	/* struct hvm_modlist_entry { paddr, size, cmdline_paddr, reserved } */
	assert_int_equal(le64_get(ram + modlist), iaddr);
	assert_int_equal(le64_get(ram + modlist + 8), sizeof(initrd));
	assert_int_equal(le64_get(ram + modlist + 16), 0);
	assert_int_equal(le64_get(ram + modlist + 24), 0);

	/* struct hvm_memmap_table_entry { addr, size, type, reserved } */
	for (int i = 0; i < 3; i++) {
		const uint8_t *e = ram + memmap + PVH_MEMMAP_ENTRY * i;

		assert_int_equal(le64_get(e), e820[i].addr);
		assert_int_equal(le64_get(e + 8), e820[i].size);
		assert_int_equal(le32_get(e + 16), e820[i].type);
		assert_int_equal(le32_get(e + 20), 0);
	}
	assert_int_equal(le64_get(ram + memmap + 2 * 24 + 8), RAM_SIZE - 0x100000);
	assert_int_equal(le32_get(ram + memmap + 24 + 16), E820_RESERVED);
	check_unchanged(memmap + 3 * PVH_MEMMAP_ENTRY, 64);
	assert_int_equal(ram[PVH_INFO - 1], 0xAA);
}

static void pvh_no_initrd(void **state)
{
	const uint8_t *p = ram + PVH_INFO;

	(void)state;
	assert_int_equal(load(NULL, 0, ""), 0);
	assert_int_equal(le32_get(p + 12), 0);              /* nr_modules */
	assert_int_equal(res.initrd_size, 0);
	assert_int_equal(ram[CMDLINE], 0);
	check_unchanged(DATA_PADDR + DATA_MEMSZ, RAM_SIZE - DATA_PADDR - DATA_MEMSZ);
}

static void pvh_limits(void **state)
{
	static char c[CMDLINE_MAX + 1];
	size_t room = RAM_SIZE - (DATA_PADDR + DATA_MEMSZ);
	uint8_t *initrd = calloc(1, room + 1);

	(void)state;
	assert_non_null(initrd);
	/* The initrd may reach down to the kernel's end, not below. */
	assert_int_equal(load(initrd, room, "x"), 0);
	assert_int_equal(res.initrd_addr, DATA_PADDR + DATA_MEMSZ);
	setup(NULL);
	assert_int_equal(load(initrd, room + 1, "x"), -ENOMEM);
	assert_int_equal(strncmp(err, "--memory:", 9), 0);
	free(initrd);
	/* The command line is bounded by the layout. */
	setup(NULL);
	memset(c, 'c', CMDLINE_MAX - 1);
	assert_int_equal(load(NULL, 0, c), 0);
	assert_int_equal(strlen((const char *)ram + CMDLINE), CMDLINE_MAX - 1);
	setup(NULL);
	memset(c, 'c', CMDLINE_MAX);
	assert_int_equal(load(NULL, 0, c), -E2BIG);
	assert_int_equal(strncmp(err, "--cmdline:", 10), 0);
	check_unchanged(PVH_INFO, 0x100);
}

static void reject_not_elf(void **state)
{
	struct elf_pvh_info ei;

	(void)state;
	img[3] = 'G';
	assert_int_equal(parse(&ei), -ENOEXEC);
	assert_non_null(strstr(err, "not an ELF file"));
	assert_int_equal(load(NULL, 0, "x"), -ENOEXEC);
	assert_int_equal(strncmp(err, "--kernel:", 9), 0);
	/* Shorter than an ELF header. */
	setup(NULL);
	img_size = 63;
	EXPECT_PARSE_FAIL("not an ELF file");
}

static void reject_wrong_kind(void **state)
{
	(void)state;
	img[EI_CLASS] = ELFCLASS32;
	EXPECT_PARSE_FAIL("not x86_64");
	setup(NULL);
	img[EI_DATA] = ELFDATA2MSB;
	EXPECT_PARSE_FAIL("not x86_64");
	setup(NULL);
	le16_put(img + 18, EM_AARCH64);
	EXPECT_PARSE_FAIL("not x86_64");
	setup(NULL);
	le16_put(img + 18, EM_386);
	EXPECT_PARSE_FAIL("not x86_64");
}

static void reject_no_note(void **state)
{
	(void)state;
	le32_put(img + PVH_NOTE + 8, 17);                  /* another Xen note type */
	EXPECT_PARSE_FAIL("no PVH entry note");
	setup(NULL);
	memcpy(img + PVH_NOTE + 12, "Xem", 4);             /* another owner */
	EXPECT_PARSE_FAIL("no PVH entry note");
	setup(NULL);
	le32_put(img + PVH_NOTE, 3);                       /* "Xen" without its NUL */
	EXPECT_PARSE_FAIL("no PVH entry note");
	setup(NULL);
	le32_put(img + PVH_NOTE + 4, 2);                   /* descriptor too short */
	EXPECT_PARSE_FAIL("no PVH entry note");
	setup(NULL);
	le32_put(ph(1), PT_LOAD);                          /* the note is not in a PT_NOTE */
	le64_put(ph(1) + 24, 0x2000000);
	EXPECT_PARSE_FAIL("no PVH entry note");
	setup(NULL);
	le16_put(img + 56, 0);                             /* no program headers at all */
	EXPECT_PARSE_FAIL("no PVH entry note");
}

static void reject_bad_note_sizes(void **state)
{
	(void)state;
	/* The PVH note's descriptor runs past its segment. */
	le32_put(img + PVH_NOTE + 4, 12);
	EXPECT_PARSE_FAIL("no PVH entry note");
	setup(NULL);
	le32_put(img + PVH_NOTE + 4, 0xFFFFFFFF);
	EXPECT_PARSE_FAIL("no PVH entry note");
	setup(NULL);
	le32_put(img + PVH_NOTE, 0xFFFFFFFD);              /* namesz */
	EXPECT_PARSE_FAIL("no PVH entry note");
	/* An earlier note claims more than the segment holds: the walk stops. */
	setup(NULL);
	le32_put(img + NOTE_B_OFF + 12 + 4, NOTE_B_SIZE);  /* GUEST_OS descsz */
	EXPECT_PARSE_FAIL("no PVH entry note");
	/* The segment ends inside the PVH note's descriptor. */
	setup(NULL);
	le64_put(ph(1) + 32, NOTE_B_SIZE - 4);
	EXPECT_PARSE_FAIL("no PVH entry note");
	/* Trailing bytes too short for a note header end that segment's walk;
	 * the next PT_NOTE is still searched. */
	setup(NULL);
	le64_put(ph(0) + 32, NOTE_A_SIZE + 11);
	le64_put(ph(0) + 40, NOTE_A_SIZE + 11);
	struct elf_pvh_info ei;
	assert_int_equal(parse(&ei), 0);
	assert_int_equal(ei.entry, ENTRY);
}

static void reject_phdr_table(void **state)
{
	(void)state;
	le64_put(img + 32, IMG_SIZE);                      /* e_phoff at the end */
	EXPECT_PARSE_FAIL("program header 0 is malformed");
	setup(NULL);
	le64_put(img + 32, IMG_SIZE - 55);                 /* one byte short */
	EXPECT_PARSE_FAIL("program header 0 is malformed");
	setup(NULL);
	le64_put(img + 32, UINT64_MAX - 8);
	EXPECT_PARSE_FAIL("program header 0 is malformed");
	setup(NULL);
	le16_put(img + 54, 32);                            /* e_phentsize too small */
	EXPECT_PARSE_FAIL("program header 0 is malformed");
	/* The table moved to the end of the file: whole, it parses; one more
	 * entry, or a file cut inside the last one, runs off the end. */
	setup(NULL);
	memmove(img + IMG_SIZE - 56 * NPHDR, ph(0), 56 * NPHDR);
	le64_put(img + 32, IMG_SIZE - 56 * NPHDR);
	struct elf_pvh_info ei;
	assert_int_equal(parse(&ei), 0);
	le16_put(img + 56, NPHDR + 1);
	EXPECT_PARSE_FAIL("program header 5 is malformed");
	le16_put(img + 56, NPHDR);
	le64_put(img + IMG_SIZE - 56 * 2 + 32, 0x400);     /* data no longer reaches the end */
	assert_int_equal(parse(&ei), 0);
	img_size = IMG_SIZE - 1;
	EXPECT_PARSE_FAIL("program header 4 is malformed");
}

static void reject_segments(void **state)
{
	(void)state;
	/* p_offset + p_filesz past the end of the file. */
	le64_put(ph(3) + 32, IMG_SIZE - DATA_OFF + 1);
	EXPECT_PARSE_FAIL("program header 3 is malformed");
	setup(NULL);
	le64_put(ph(3) + 8, IMG_SIZE + 1);
	EXPECT_PARSE_FAIL("program header 3 is malformed");
	setup(NULL);
	le64_put(ph(3) + 8, UINT64_MAX);
	le64_put(ph(3) + 32, 2);
	EXPECT_PARSE_FAIL("program header 3 is malformed");
	setup(NULL);
	le64_put(ph(3) + 32, UINT64_MAX);
	le64_put(ph(3) + 40, UINT64_MAX);
	EXPECT_PARSE_FAIL("program header 3 is malformed");
	/* The same checks hold for note segments. */
	setup(NULL);
	le64_put(ph(1) + 32, IMG_SIZE);
	le64_put(ph(1) + 40, IMG_SIZE);
	EXPECT_PARSE_FAIL("program header 1 is malformed");
	/* filesz > memsz. */
	setup(NULL);
	le64_put(ph(3) + 40, DATA_FILESZ - 1);
	EXPECT_PARSE_FAIL("program header 3 is malformed");
	/* paddr + memsz wraps around. */
	setup(NULL);
	le64_put(ph(3) + 24, 0xFFFFFFFFFFFFF000ULL);
	EXPECT_PARSE_FAIL("program header 3 is malformed");
	/* No PT_LOAD with contents. */
	setup(NULL);
	le64_put(ph(2) + 32, 0);
	le64_put(ph(2) + 40, 0);
	le64_put(ph(3) + 32, 0);
	le64_put(ph(3) + 40, 0);
	EXPECT_PARSE_FAIL("no loadable segments");
}

static void reject_outside_memory(void **state)
{
	struct guest_mem small = { 0 };

	(void)state;
	/* Ending exactly at the top of RAM is fine... */
	le64_put(ph(3) + 24, RAM_SIZE - DATA_MEMSZ);
	assert_int_equal(load(NULL, 0, "x"), 0);
	assert_int_equal(res.kernel_end, RAM_SIZE);
	assert_int_equal(ram[RAM_SIZE - 1], 0);
	/* ...a page further is not. */
	setup(NULL);
	le64_put(ph(3) + 24, RAM_SIZE - DATA_MEMSZ + 0x1000);
	assert_int_equal(load(NULL, 0, "x"), -ENOMEM);
	assert_int_equal(strncmp(err, "--memory:", 9), 0);
	check_unchanged(PVH_INFO, 0x100);
	check_unchanged(TEXT_PADDR, TEXT_SIZE);
	/* A segment above 4 GiB. */
	setup(NULL);
	le64_put(ph(3) + 24, 0x100000000ULL);
	assert_int_equal(load(NULL, 0, "x"), -ENOMEM);
	assert_int_equal(strncmp(err, "--memory:", 9), 0);
	/* elf_pvh_load itself refuses what guest RAM does not hold. */
	setup(NULL);
	assert_int_equal(gm_add_region(&small, 0, DATA_PADDR + DATA_MEMSZ - 1, ram), 0);
	assert_int_equal(elf_pvh_load(img, img_size, &small, err, sizeof(err)), -ENOMEM);
	assert_non_null(strstr(err, "0x1400000"));
	assert_non_null(strstr(err, "does not fit"));
}

static void reject_below_kernel_addr(void **state)
{
	(void)state;
	le64_put(ph(2) + 24, KERNEL_ADDR - 0x1000);
	assert_int_equal(load(NULL, 0, "x"), -ENOEXEC);
	assert_int_equal(strncmp(err, "--kernel:", 9), 0);
	assert_non_null(strstr(err, "0xff000"));
	check_unchanged(KERNEL_ADDR - 0x1000, TEXT_SIZE);
	/* At kernel_addr exactly it loads. */
	setup(NULL);
	le64_put(ph(2) + 24, KERNEL_ADDR);
	assert_int_equal(load(NULL, 0, "x"), 0);
	assert_memory_equal(ram + KERNEL_ADDR, img + TEXT_OFF, TEXT_SIZE);
}

/* The plan decides what the load does, and needs no more of the layout
 * than the kernel's placement. */
static void plan_pvh(void **state)
{
	static uint8_t initrd[3 * 4096 + 7];
	struct x86_boot_result p;

	(void)state;
	assert_int_equal(plan(sizeof(initrd), "console=ttyS0", &p), 0);
	assert_int_equal(p.mode, X86_ENTRY_PVH32);
	assert_int_equal(p.entry, ENTRY);
	assert_int_equal(p.arg, PVH_INFO);
	assert_int_equal(p.kernel_end, DATA_PADDR + DATA_MEMSZ);
	assert_int_equal(p.initrd_addr, (RAM_SIZE - sizeof(initrd)) & ~0xFFFULL);
	assert_int_equal(p.initrd_size, sizeof(initrd));
	check_unchanged(0, RAM_SIZE);
	assert_int_equal(load(initrd, sizeof(initrd), "console=ttyS0"), 0);
	assert_int_equal(res.entry, p.entry);
	assert_int_equal(res.arg, p.arg);
	assert_int_equal(res.initrd_addr, p.initrd_addr);
	assert_int_equal(res.kernel_end, p.kernel_end);
	/* Only the placement fields of the layout are read. */
	setup(NULL);
	L.e820 = NULL;
	L.nr_e820 = -1;
	L.rsdp = L.cmdline_addr = UINT64_MAX;
	L.zero_page = 0;
	assert_int_equal(plan(0, "", &p), 0);
	assert_int_equal(p.arg, PVH_INFO);
}

/* "Does it fit" is answered from the program headers and the initrd's
 * size alone. */
static void plan_fit(void **state)
{
	struct x86_boot_result p;
	size_t room = RAM_SIZE - (DATA_PADDR + DATA_MEMSZ);

	(void)state;
	assert_int_equal(plan(room, "x", &p), 0);
	assert_int_equal(p.initrd_addr, DATA_PADDR + DATA_MEMSZ);
	assert_int_equal(plan(room + 1, "x", &p), -ENOMEM);
	assert_int_equal(strncmp(err, "--memory: too small", 19), 0);
	assert_int_equal(plan(SIZE_MAX, "x", &p), -ENOMEM);
	assert_int_equal(strncmp(err, "--memory:", 9), 0);
	/* The kernel's bss reaching past the end of low memory. */
	L.lowmem_end = DATA_PADDR + DATA_MEMSZ - 1;
	assert_int_equal(plan(0, "x", &p), -ENOMEM);
	assert_int_equal(strncmp(err, "--memory:", 9), 0);
	assert_non_null(strstr(err, "21 MiB"));
	L.lowmem_end = DATA_PADDR + DATA_MEMSZ;
	assert_int_equal(plan(0, "x", &p), 0);
	assert_int_equal(plan(1, "x", &p), -ENOMEM);
	/* A segment loading below 1 MiB is the kernel's fault, not memory's. */
	setup(NULL);
	le64_put(ph(2) + 24, 0x9F000);
	assert_int_equal(plan(0, "x", &p), -ENOEXEC);
	assert_int_equal(strncmp(err, "--kernel: ELF kernel loads below 1 MiB", 38), 0);
}

static void plan_cmdline(void **state)
{
	static char c[CMDLINE_MAX + 1];
	struct x86_boot_result p;

	(void)state;
	memset(c, 'c', CMDLINE_MAX - 1);
	assert_int_equal(plan(0, c, &p), 0);
	c[CMDLINE_MAX - 1] = 'c';
	assert_int_equal(plan(0, c, &p), -E2BIG);
	assert_string_equal(err, "--cmdline: too long (4096 bytes, the kernel accepts 4095)");
	/* Checked with an initrd too, and before anything would be copied. */
	assert_int_equal(plan(4096, c, &p), -E2BIG);
	check_unchanged(CMDLINE, 16);
}

/* An ELF without the PVH note (any ordinary executable, say) is named as
 * such: it is an ELF file, just not one kvmini can enter. */
static void plan_no_pvh_note(void **state)
{
	struct x86_boot_result p;

	(void)state;
	le32_put(img + PVH_NOTE + 8, 17);
	assert_int_equal(plan(0, "x", &p), -ENOEXEC);
	assert_string_equal(err, "--kernel: ELF kernel has no PVH entry note (needs CONFIG_PVH=y)");
	/* No PT_NOTE at all. */
	setup(NULL);
	le32_put(ph(0), PT_NULL);
	le32_put(ph(1), PT_NULL);
	assert_int_equal(plan(0, "x", &p), -ENOEXEC);
	assert_non_null(strstr(err, "no PVH entry note"));
	/* A note that is there but runs off its segment does not count. */
	setup(NULL);
	le32_put(img + PVH_NOTE + 4, 0x7FFFFFFF);
	assert_int_equal(plan(0, "x", &p), -ENOEXEC);
	assert_non_null(strstr(err, "no PVH entry note"));
	/* A 32-bit x86 ELF is refused for what it is first. */
	setup(NULL);
	img[EI_CLASS] = ELFCLASS32;
	assert_int_equal(plan(0, "x", &p), -ENOEXEC);
	assert_non_null(strstr(err, "--kernel: ELF kernel is not x86_64"));
	/* Truncated to the ELF header: its program headers are outside the file. */
	setup(NULL);
	img_size = 64;
	assert_int_equal(plan(0, "x", &p), -ENOEXEC);
	assert_non_null(strstr(err, "--kernel: ELF program header 0 is malformed"));
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test_setup(parse_ok, setup),
		cmocka_unit_test_setup(load_segments, setup),
		cmocka_unit_test_setup(load_pvh, setup),
		cmocka_unit_test_setup(pvh_no_initrd, setup),
		cmocka_unit_test_setup(pvh_limits, setup),
		cmocka_unit_test_setup(reject_not_elf, setup),
		cmocka_unit_test_setup(reject_wrong_kind, setup),
		cmocka_unit_test_setup(reject_no_note, setup),
		cmocka_unit_test_setup(reject_bad_note_sizes, setup),
		cmocka_unit_test_setup(reject_phdr_table, setup),
		cmocka_unit_test_setup(reject_segments, setup),
		cmocka_unit_test_setup(reject_outside_memory, setup),
		cmocka_unit_test_setup(reject_below_kernel_addr, setup),
		cmocka_unit_test_setup(plan_pvh, setup),
		cmocka_unit_test_setup(plan_fit, setup),
		cmocka_unit_test_setup(plan_cmdline, setup),
		cmocka_unit_test_setup(plan_no_pvh_note, setup),
	};

	return cmocka_run_group_tests(t, NULL, teardown_all);
}
