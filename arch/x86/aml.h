/* A tiny AML (ACPI Machine Language) emitter: just what the DSDT needs. A
 * builder appends bytes to a caller-owned buffer; scopes with a PkgLength are
 * opened and closed so their length is patched in when they end. */
#ifndef KVMINI_ARCH_X86_AML_H
#define KVMINI_ARCH_X86_AML_H

#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

struct aml {
	uint8_t *buf;
	size_t cap, len;
	size_t open[AML_MAX_DEPTH];   /* offsets of open PkgLength scopes */
	int depth;
	int overflow;                 /* set once anything did not fit */
	int invalid;                  /* set once a name, value or nesting was malformed */
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* Returns 0, or -EINVAL if scopes are unbalanced or any name/value was malformed,
 * or -ENOSPC if anything overflowed. */
int aml_finish(struct aml *a);

void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);
void aml_nameseg(struct aml *a, const char *name);   /* "_HID" or "VR00", 4 chars; padded with '_' */
void aml_integer(struct aml *a, uint64_t v);           /* Zero/One/Byte/Word/DWord/QWordConst */
void aml_string(struct aml *a, const char *s);
void aml_eisaid(struct aml *a, const char *id);        /* "PNP0501" -> compressed DWord */

void aml_scope_begin(struct aml *a, const char *path); /* Scope(\_SB_) */
void aml_device_begin(struct aml *a, const char *name);
void aml_end(struct aml *a);                           /* closes the innermost Scope/Device/Package */
void aml_name_begin(struct aml *a, const char *name);  /* Name(XXXX, <next object>) */
void aml_package_begin(struct aml *a, uint8_t nelems);
void aml_method_begin(struct aml *a, const char *name, uint8_t nargs); /* Method(XXXX, n, NotSerialized) */
void aml_return(struct aml *a);                        /* Return(<next object>) */

/* Minimal PkgLength encoding of len (which counts the encoding's own bytes):
 * returns the number of bytes written to out (1..4), or -EINVAL if len does
 * not fit in 28 bits. */
int aml_pkglength_encode(uint32_t len, uint8_t out[4]);

/* Resource templates, emitted as a Buffer object after aml_name_begin("_CRS"). */
struct aml_res {
	uint8_t data[256];
	size_t len;
	int overflow;                 /* passed on to struct aml by aml_res_buffer */
	int invalid;
};
void aml_res_init(struct aml_res *r);
void aml_res_mem32_fixed(struct aml_res *r, uint32_t base, uint32_t size, int writable);
void aml_res_io(struct aml_res *r, uint16_t base, uint8_t len);
void aml_res_irq(struct aml_res *r, uint32_t gsi, int level, int active_low, int shared);  /* Extended Interrupt */
void aml_res_isa_irq(struct aml_res *r, uint8_t irq, int level, int active_low, int shared); /* IRQ(){irq}, irq 0..15 */
void aml_res_buffer(struct aml *a, struct aml_res *r);  /* appends EndTag and emits Buffer */

/* Address Space Descriptors (ACPI 6.4 §6.4.3.5) for a bridge's windows: a
 * producer range [min, max] with fixed ends. width is 2 (Word), 4 (DWord)
 * or 8 (QWord) bytes; type 0 memory, 1 I/O, 2 bus number. */
#define AML_ADDR_MEMORY 0
#define AML_ADDR_IO     1
#define AML_ADDR_BUS    2
void aml_res_addr(struct aml_res *r, int width, uint8_t type, uint8_t type_flags,
		  uint64_t min, uint64_t max);

#endif
