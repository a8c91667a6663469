/* A tiny AML emitter. Section numbers refer to ACPI 6.3: §20.2 is the AML
 * grammar, §6.4 the resource descriptors.
 *
 * Errors are sticky: every call checks the buffer and its input, records a
 * failure in a->overflow or a->invalid and carries on without writing out of
 * bounds, so builders need no error check per call, only aml_finish(). */
#include "arch/x86/aml.h"

#include <errno.h>
#include <string.h>

/* Opcodes, §20.2.2 - §20.2.5 and §20.3. */
enum {
	AML_ZERO_OP = 0x00,
	AML_ONE_OP = 0x01,
	AML_NAME_OP = 0x08,
	AML_BYTE_PREFIX = 0x0A,
	AML_WORD_PREFIX = 0x0B,
	AML_DWORD_PREFIX = 0x0C,
	AML_STRING_PREFIX = 0x0D,
	AML_QWORD_PREFIX = 0x0E,
	AML_SCOPE_OP = 0x10,
	AML_BUFFER_OP = 0x11,
	AML_PACKAGE_OP = 0x12,
	AML_METHOD_OP = 0x14,
	AML_DUAL_NAME_PREFIX = 0x2E,
	AML_MULTI_NAME_PREFIX = 0x2F,
	AML_EXT_OP_PREFIX = 0x5B,
	AML_DEVICE_OP = 0x82,          /* after AML_EXT_OP_PREFIX */
	AML_ROOT_CHAR = '\\',
	AML_PARENT_PREFIX = '^',
	AML_RETURN_OP = 0xA4,
};

/* §20.2.4: one byte holds 6 bits; each of up to 3 more bytes adds 8 bits
 * above a 4-bit nybble, so the largest PkgLength is 2^28 - 1. */
#define AML_PKGLEN_MAX 0x0FFFFFFFu

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = buf ? cap : 0;
}

int aml_finish(struct aml *a)
{
	if (a->invalid || a->depth != 0)
		return -EINVAL;
	return a->overflow ? -ENOSPC : 0;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = 1;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, int n)
{
	uint8_t b[8];

	for (int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, (size_t)n);
}

int aml_pkglength_encode(uint32_t len, uint8_t out[4])
{
	int n;

	if (len > AML_PKGLEN_MAX)
		return -EINVAL;
	if (len <= 0x3F) {
		out[0] = (uint8_t)len;
		return 1;
	}
	/* Multi-byte form: bits 7-6 of the lead byte count the bytes that
	 * follow, bits 5-4 must be zero, bits 3-0 are the low nybble. */
	n = len <= 0xFFF ? 2 : len <= 0xFFFFF ? 3 : 4;
	out[0] = (uint8_t)(((n - 1) << 6) | (len & 0xF));
	for (int i = 1; i < n; i++)
		out[i] = (uint8_t)(len >> (4 + 8 * (i - 1)));
	return n;
}

/* Opens a PkgLength scope: reserves one byte, the common case, and remembers
 * where. Depth beyond AML_MAX_DEPTH is counted but not recorded, so that the
 * matching aml_end() calls still balance while aml_finish() reports it. */
static void pkg_begin(struct aml *a)
{
	if (a->depth >= AML_MAX_DEPTH)
		a->invalid = 1;
	else
		a->open[a->depth] = a->len;
	a->depth++;
	aml_byte(a, 0);
}

void aml_end(struct aml *a)
{
	size_t start, body;
	uint8_t enc[4];
	int n;

	if (a->depth == 0) {
		a->invalid = 1;
		return;
	}
	a->depth--;
	if (a->depth >= AML_MAX_DEPTH || a->overflow || a->invalid)
		return;
	start = a->open[a->depth];
	body = a->len - start - 1;
	/* The PkgLength counts its own bytes (§20.2.4), so pick the smallest
	 * encoding whose size plus the body still fits that encoding. The spec
	 * only requires more than one byte above 63; we always emit the
	 * minimal form, as iasl does, and move the body when it grows. */
	if (body + 1 <= 0x3F)
		n = 1;
	else if (body + 2 <= 0xFFF)
		n = 2;
	else if (body + 3 <= 0xFFFFF)
		n = 3;
	else if (body + 4 <= AML_PKGLEN_MAX)
		n = 4;
	else {
		a->invalid = 1;
		return;
	}
	if ((size_t)(n - 1) > a->cap - a->len) {
		a->overflow = 1;
		return;
	}
	memmove(a->buf + start + n, a->buf + start + 1, body);
	a->len += (size_t)(n - 1);
	aml_pkglength_encode((uint32_t)(body + (size_t)n), enc);
	memcpy(a->buf + start, enc, (size_t)n);
}

static int is_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c)
{
	return is_lead_char(c) || (c >= '0' && c <= '9');
}

/* Emits the NameSeg spelled by the first len chars of s (§20.2.2): a lead
 * char, up to three name chars, padded with '_' to four. */
static void nameseg_n(struct aml *a, const char *s, size_t len)
{
	char seg[4] = { '_', '_', '_', '_' };

	if (len < 1 || len > 4 || !is_lead_char(s[0])) {
		a->invalid = 1;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_name_char(s[i])) {
			a->invalid = 1;
			return;
		}
		seg[i] = s[i];
	}
	aml_bytes(a, seg, 4);
}

void aml_nameseg(struct aml *a, const char *name)
{
	if (!name) {
		a->invalid = 1;
		return;
	}
	nameseg_n(a, name, strlen(name));
}

/* NameString (§20.2.2): an optional root or parent prefix, then zero
 * (NullName), one, two (DualNamePrefix) or more (MultiNamePrefix)
 * dot-separated segments. */
static void aml_namestring(struct aml *a, const char *path)
{
	const char *p = path, *seg;
	size_t nseg = 0;

	if (!path) {
		a->invalid = 1;
		return;
	}
	if (*p == AML_ROOT_CHAR)
		aml_byte(a, (uint8_t)*p++);
	else
		while (*p == AML_PARENT_PREFIX)
			aml_byte(a, (uint8_t)*p++);
	if (*p) {
		nseg = 1;
		for (const char *q = p; *q; q++)
			nseg += *q == '.';
	}
	if (nseg == 0) {
		aml_byte(a, 0x00);          /* NullName */
		return;
	}
	if (nseg > 255) {
		a->invalid = 1;
		return;
	}
	if (nseg == 2)
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nseg);
	}
	for (seg = p;; seg = p + 1) {
		p = strchr(seg, '.');
		if (!p)
			p = seg + strlen(seg);
		nameseg_n(a, seg, (size_t)(p - seg));
		if (!*p)
			break;
	}
}

/* Integer constants use the shortest of the encodings of §20.2.3. A QWord
 * only means 64 bits in a definition block of revision 2 or more; the DSDT
 * we build is revision 2. */
void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0)
		aml_byte(a, AML_ZERO_OP);
	else if (v == 1)
		aml_byte(a, AML_ONE_OP);
	else if (v <= 0xFF) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xFFFF) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xFFFFFFFF) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

/* String := StringPrefix AsciiCharList NullChar, chars 0x01-0x7F (§20.2.3). */
void aml_string(struct aml *a, const char *s)
{
	if (!s) {
		a->invalid = 1;
		return;
	}
	for (const char *p = s; *p; p++)
		if ((uint8_t)*p > 0x7F)
			a->invalid = 1;
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* EISA ID compression, as the ASL EISAID() macro does it (ACPI 6.3 §19.6):
 * three letters of 5 bits each ('A' = 1) in bits 14-0 of a big-endian word,
 * then four hex digits as two big-endian bytes; the result is a DWord
 * constant, so "PNP0501" is 41 D0 05 01 in memory, 0x0105D041. */
void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t b[4];
	uint16_t vendor = 0;
	int d[4];

	if (!id || strlen(id) != 7) {
		a->invalid = 1;
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			a->invalid = 1;
			return;
		}
		vendor = (uint16_t)(vendor << 5 | (id[i] - 0x40));
	}
	for (int i = 0; i < 4; i++) {
		d[i] = hexval(id[3 + i]);
		if (d[i] < 0) {
			a->invalid = 1;
			return;
		}
	}
	b[0] = (uint8_t)(vendor >> 8);
	b[1] = (uint8_t)vendor;
	b[2] = (uint8_t)(d[0] << 4 | d[1]);
	b[3] = (uint8_t)(d[2] << 4 | d[3]);
	aml_byte(a, AML_DWORD_PREFIX);
	aml_bytes(a, b, 4);
}

/* DefScope := ScopeOp PkgLength NameString TermList */
void aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	pkg_begin(a);
	aml_namestring(a, path);
}

/* DefDevice := DeviceOp PkgLength NameString TermList */
void aml_device_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	pkg_begin(a);
	aml_namestring(a, name);
}

/* DefName := NameOp NameString DataRefObject; the caller emits the object. */
void aml_name_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, name);
}

/* DefPackage := PackageOp PkgLength NumElements PackageElementList */
void aml_package_begin(struct aml *a, uint8_t nelems)
{
	aml_byte(a, AML_PACKAGE_OP);
	pkg_begin(a);
	aml_byte(a, nelems);
}

/* DefMethod := MethodOp PkgLength NameString MethodFlags TermList; flags
 * bits 2-0 are the argument count, bit 3 (serialized) and the sync level
 * stay zero. */
void aml_method_begin(struct aml *a, const char *name, uint8_t nargs)
{
	if (nargs > 7)
		a->invalid = 1;
	aml_byte(a, AML_METHOD_OP);
	pkg_begin(a);
	aml_namestring(a, name);
	aml_byte(a, nargs & 7);
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN_OP);
}

/* --- Resource templates (§6.4). Multi-byte fields are little-endian. --- */

void aml_res_init(struct aml_res *r)
{
	memset(r, 0, sizeof(*r));
}

static void res_put(struct aml_res *r, const uint8_t *p, size_t n)
{
	if (r->overflow || n > sizeof(r->data) - r->len) {
		r->overflow = 1;
		return;
	}
	memcpy(r->data + r->len, p, n);
	r->len += n;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* 32-Bit Fixed Memory Range Descriptor (§6.4.3.4): large item 0x86, length
 * 9, information byte bit 0 = read/write. */
void aml_res_mem32_fixed(struct aml_res *r, uint32_t base, uint32_t size, int writable)
{
	uint8_t d[12] = { 0x86, 9, 0, writable ? 1 : 0 };

	put_le(d + 4, base, 4);
	put_le(d + 8, size, 4);
	res_put(r, d, sizeof(d));
}

/* I/O Port Descriptor (§6.4.2.5): small item 0x47 (type 8, length 7).
 * Decode16, a fixed range (minimum == maximum), alignment 1. */
void aml_res_io(struct aml_res *r, uint16_t base, uint8_t len)
{
	uint8_t d[8] = { 0x47, 1 };

	put_le(d + 2, base, 2);
	put_le(d + 4, base, 2);
	d[6] = 1;
	d[7] = len;
	res_put(r, d, sizeof(d));
}

/* Extended Interrupt Descriptor (§6.4.3.6): large item 0x89 with one
 * interrupt number. Flags: bit 0 consumer, bit 1 edge, bit 2 active low,
 * bit 3 shared. Without a ResourceSource the numbers are GSIs. */
void aml_res_irq(struct aml_res *r, uint32_t gsi, int level, int active_low, int shared)
{
	uint8_t d[9] = { 0x89, 6, 0 };

	d[3] = (uint8_t)(1 | (level ? 0 : 2) | (active_low ? 4 : 0) | (shared ? 8 : 0));
	d[4] = 1;
	put_le(d + 5, gsi, 4);
	res_put(r, d, sizeof(d));
}

/* IRQ Descriptor (§6.4.2.1), the 3-byte-body form 0x23: a mask of ISA IRQs
 * and an information byte with bit 0 edge (_HE), bit 3 active low (_LL),
 * bit 4 shared (_SHR). */
void aml_res_isa_irq(struct aml_res *r, uint8_t irq, int level, int active_low, int shared)
{
	uint8_t d[4] = { 0x23 };

	if (irq > 15) {
		r->invalid = 1;
		return;
	}
	put_le(d + 1, 1u << irq, 2);
	d[3] = (uint8_t)((level ? 0 : 1) | (active_low ? 8 : 0) | (shared ? 0x10 : 0));
	res_put(r, d, sizeof(d));
}

/* A ResourceTemplate is a Buffer whose bytes end with an End Tag (§6.4.2.9,
 * 0x79); checksum 0 there means "treat as correct". */
void aml_res_buffer(struct aml *a, struct aml_res *r)
{
	static const uint8_t end_tag[2] = { 0x79, 0 };

	res_put(r, end_tag, sizeof(end_tag));
	a->overflow |= r->overflow;
	a->invalid |= r->invalid;
	/* DefBuffer := BufferOp PkgLength BufferSize ByteList */
	aml_byte(a, AML_BUFFER_OP);
	pkg_begin(a);
	aml_integer(a, r->len);
	aml_bytes(a, r->data, r->len);
	aml_end(a);
}

/* Word (0x88), DWord (0x87) and QWord (0x8A) Address Space Descriptors:
 * resource type, general flags (bit 0 clear: producer; bits 2, 3: min and
 * max fixed), type-specific flags, then granularity, min, max, translation
 * offset and length, each width bytes. */
void aml_res_addr(struct aml_res *r, int width, uint8_t type, uint8_t type_flags,
		  uint64_t min, uint64_t max)
{
	uint8_t d[3 + 3 + 5 * 8];
	uint8_t tag = width == 2 ? 0x88 : width == 4 ? 0x87 : width == 8 ? 0x8A : 0;
	size_t len = 3 + 5 * (size_t)width;

	if (!tag || max < min || (width < 8 && max >> (8 * width))) {
		r->invalid = 1;
		return;
	}
	d[0] = tag;
	put_le(d + 1, len, 2);
	d[3] = type;
	d[4] = 0x0C;
	d[5] = type_flags;
	put_le(d + 6, 0, width);                          /* granularity */
	put_le(d + 6 + width, min, width);
	put_le(d + 6 + 2 * width, max, width);
	put_le(d + 6 + 3 * width, 0, width);              /* translation */
	put_le(d + 6 + 4 * width, max - min + 1, width);  /* length */
	res_put(r, d, 3 + len);
}
