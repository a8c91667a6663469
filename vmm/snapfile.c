/* The snapshot file format: see snapfile.h. */
#include "vmm/snapfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/cli.h"

const char *snap_arch_name(uint32_t arch)
{
	switch (arch) {
	case SNAP_ARCH_X86_64:
		return "x86_64";
	case SNAP_ARCH_AARCH64:
		return "aarch64";
	}
	return "an unknown architecture";
}

uint32_t snap_crc32(const void *p, size_t len)
{
	static uint32_t table[256];
	const uint8_t *b = p;
	uint32_t c = 0xffffffffu;

	if (!table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;
			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
	for (size_t i = 0; i < len; i++)
		c = table[(c ^ b[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

void snap_write_header(struct state_w *w, const struct snap_header *h)
{
	char ver[16] = { 0 };

	sw_bytes(w, SNAP_MAGIC, 8);
	sw_u32(w, SNAP_FORMAT_VERSION);
	sw_u32(w, h->arch);
	memcpy(ver, h->kvmini_version, strnlen(h->kvmini_version, sizeof(ver)));
	sw_bytes(w, ver, sizeof(ver));
	sw_u64(w, h->ram_size);
	sw_u32(w, h->ncpus);
	sw_u32(w, SNAP_HEADER_SIZE);
	sw_u64(w, h->created);
	sw_u64(w, 0);
}

size_t snap_begin(struct state_w *w, uint32_t tag, uint32_t instance, uint32_t version)
{
	sw_u32(w, tag);
	sw_u32(w, instance);
	sw_u32(w, version);
	sw_u32(w, 0);                 /* sw_end patches the length */
	return w->len;
}

void snap_finish(struct state_w *w)
{
	uint32_t crc = w->err ? 0 : snap_crc32(w->buf, w->len);
	size_t at = snap_begin(w, SNAP_TAG_END, 0, 1);

	sw_u32(w, crc);
	sw_end(w, at);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int parse_header(const uint8_t *buf, size_t len, uint32_t here, struct snap_header *h,
			uint32_t *hsize, char *err, size_t errlen)
{
	if (len < 8 || memcmp(buf, SNAP_MAGIC, 8))
		return cli_fail(err, errlen, "not a kvmini snapshot (no %s header)", SNAP_MAGIC);
	if (len < SNAP_HEADER_SIZE)
		return cli_fail(err, errlen, "truncated: %zu bytes, less than the header", len);
	memset(h, 0, sizeof(*h));
	h->version = le32(buf + 8);
	h->arch = le32(buf + 12);
	memcpy(h->kvmini_version, buf + 16, 16);
	for (int i = 0; i < 16; i++)
		if (h->kvmini_version[i] && (h->kvmini_version[i] < 0x20 || h->kvmini_version[i] > 0x7e))
			h->kvmini_version[i] = '?';
	h->ram_size = le64(buf + 32);
	h->ncpus = le32(buf + 40);
	*hsize = le32(buf + 44);
	h->created = le64(buf + 48);
	if (h->version > SNAP_FORMAT_VERSION)
		return cli_fail(err, errlen, "snapshot format version %u (kvmini %s) is newer than this "
			   "kvmini reads (%d)", h->version, h->kvmini_version, SNAP_FORMAT_VERSION);
	if (h->version == 0)
		return cli_fail(err, errlen, "snapshot format version 0 is not one kvmini ever wrote");
	if (h->arch != here)
		return cli_fail(err, errlen, "a snapshot of an %s guest; this kvmini runs %s guests",
			   snap_arch_name(h->arch), snap_arch_name(here));
	if (*hsize < SNAP_HEADER_SIZE || *hsize > len)
		return cli_fail(err, errlen, "header size %u does not fit a %zu-byte file", *hsize, len);
	if (!h->ncpus || !h->ram_size)
		return cli_fail(err, errlen, "header says %u vCPUs and %llu bytes of RAM", h->ncpus,
			   (unsigned long long)h->ram_size);
	return 0;
}

int snap_parse(const uint8_t *buf, size_t len, uint32_t here, struct snapfile *f, char *err,
	       size_t errlen)
{
	uint32_t hsize = 0;
	size_t off;
	char tag[5];
	int r = parse_header(buf, len, here, &f->h, &hsize, err, errlen);

	f->n = 0;
	if (r)
		return r;
	for (off = hsize;;) {
		if (len - off < 16)
			return cli_fail(err, errlen, "truncated: it ends after %zu bytes without its END "
				   "section", len);
		struct snap_section s = { le32(buf + off), le32(buf + off + 4), le32(buf + off + 8),
					  NULL, le32(buf + off + 12) };
		if (s.len > len - off - 16)
			return cli_fail(err, errlen, "truncated: section %s (%u) at offset %zu claims %zu "
				   "bytes, %zu are left", state_tag_name(s.tag, tag), s.instance, off,
				   s.len, len - off - 16);
		s.p = buf + off + 16;
		if (s.tag == SNAP_TAG_END) {
			if (s.len != 4 || le32(s.p) != snap_crc32(buf, off))
				return cli_fail(err, errlen, "damaged: the checksum does not match its contents");
			if (off + 16 + s.len != len)
				return cli_fail(err, errlen, "%zu bytes after the END section",
					   len - off - 16 - s.len);
			return 0;
		}
		if (snap_find(f, s.tag, s.instance))
			return cli_fail(err, errlen, "section %s (%u) appears twice",
				   state_tag_name(s.tag, tag), s.instance);
		if (f->n == SNAP_MAX_SECTIONS)
			return cli_fail(err, errlen, "more than %d sections", SNAP_MAX_SECTIONS);
		f->s[f->n++] = s;
		off += 16 + s.len;
	}
}

const struct snap_section *snap_find(const struct snapfile *f, uint32_t tag, uint32_t instance)
{
	for (int i = 0; i < f->n; i++)
		if (f->s[i].tag == tag && f->s[i].instance == instance)
			return &f->s[i];
	return NULL;
}

int snap_count(const struct snapfile *f, uint32_t tag)
{
	int n = 0;

	for (int i = 0; i < f->n; i++)
		n += f->s[i].tag == tag;
	return n;
}
