/* Device state as little-endian bytes: see state.h. */
#include "state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ---- */

void sw_init(struct state_w *w)
{
	memset(w, 0, sizeof(*w));
}

void sw_free(struct state_w *w)
{
	free(w->buf);
	sw_init(w);
}

static uint8_t *room(struct state_w *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > w->cap - w->len) {
		size_t cap = w->cap ? w->cap : 256;
		while (cap - w->len < n)
			cap *= 2;
		uint8_t *b = realloc(w->buf, cap);
		if (!b) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->buf = b;
		w->cap = cap;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void sw_le(struct state_w *w, uint64_t v, unsigned n)
{
	uint8_t *p = room(w, n);
	if (p)
		put_le(p, v, n);
}

void sw_u8(struct state_w *w, uint8_t v) { sw_le(w, v, 1); }
void sw_u16(struct state_w *w, uint16_t v) { sw_le(w, v, 2); }
void sw_u32(struct state_w *w, uint32_t v) { sw_le(w, v, 4); }
void sw_u64(struct state_w *w, uint64_t v) { sw_le(w, v, 8); }
void sw_bool(struct state_w *w, bool v) { sw_le(w, v ? 1 : 0, 1); }

void sw_bytes(struct state_w *w, const void *src, size_t n)
{
	uint8_t *p = room(w, n);
	if (p && n)
		memcpy(p, src, n);
}

size_t sw_begin(struct state_w *w, uint32_t tag, uint32_t version)
{
	sw_u32(w, tag);
	sw_u32(w, version);
	sw_u32(w, 0);                 /* length, patched by sw_end */
	return w->len;
}

void sw_end(struct state_w *w, size_t at)
{
	if (w->err || at < 4 || at > w->len)
		return;
	size_t n = w->len - at;
	if (n > UINT32_MAX) {
		w->err = -EFBIG;
		return;
	}
	put_le(w->buf + at - 4, n, 4);
}

/* ---- reading ---- */

void sr_init(struct state_r *r, const void *p, size_t len, struct state_err *e)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->e = e;
}

int sr_fail(struct state_r *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->e->err) {
		r->e->err = -EINVAL;
		va_start(ap, fmt);
		vsnprintf(r->e->msg, sizeof(r->e->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

bool sr_ok(const struct state_r *r)
{
	return !r->e->err;
}

static const uint8_t *take(struct state_r *r, size_t n)
{
	if (r->e->err)
		return NULL;
	if (n > r->len - r->off) {
		sr_fail(r, "state ends early (%zu bytes wanted at offset %zu of %zu)", n, r->off,
			r->len);
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t sr_le(struct state_r *r, unsigned n)
{
	const uint8_t *p = take(r, n);
	uint64_t v = 0;

	for (unsigned i = 0; p && i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint8_t sr_u8(struct state_r *r) { return (uint8_t)sr_le(r, 1); }
uint16_t sr_u16(struct state_r *r) { return (uint16_t)sr_le(r, 2); }
uint32_t sr_u32(struct state_r *r) { return (uint32_t)sr_le(r, 4); }
uint64_t sr_u64(struct state_r *r) { return sr_le(r, 8); }

bool sr_bool(struct state_r *r)
{
	uint8_t v = sr_u8(r);

	if (v > 1)
		sr_fail(r, "a flag holds %u, not 0 or 1", v);
	return v == 1;
}

void sr_bytes(struct state_r *r, void *dst, size_t n)
{
	const uint8_t *p = take(r, n);

	if (p)
		memcpy(dst, p, n);
	else if (n)
		memset(dst, 0, n);
}

const char *state_tag_name(uint32_t tag, char buf[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)(tag >> (8 * i));
		buf[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	buf[4] = 0;
	return buf;
}

int sr_section(struct state_r *r, uint32_t tag, uint32_t max_version, uint32_t *version,
	       struct state_r *sub, const char *what)
{
	char want[5], got[5];
	uint32_t t = sr_u32(r), v = sr_u32(r), n = sr_u32(r);

	sr_init(sub, r->p, 0, r->e);
	if (!sr_ok(r))
		return -EINVAL;
	if (t != tag)
		return sr_fail(r, "%s: found section %s where %s belongs", what,
			       state_tag_name(t, got), state_tag_name(tag, want));
	if (v > max_version)
		return sr_fail(r, "%s: section %s version %u is newer than this kvmini reads (%u)",
			       what, state_tag_name(tag, want), v, max_version);
	const uint8_t *p = take(r, n);
	if (!p)
		return -EINVAL;
	sr_init(sub, p, n, r->e);
	if (version)
		*version = v;
	return 0;
}

int sr_end(struct state_r *r, const char *what)
{
	if (!sr_ok(r))
		return -EINVAL;
	if (r->off != r->len)
		return sr_fail(r, "%s: %zu bytes more than this device saves", what, r->len - r->off);
	return 0;
}
