/* Device state as bytes, for snapshots: what a device saves and loads is a
 * pure function over a byte buffer, with no file I/O (vmm/ owns the file
 * format around it).
 *
 * Every value is written little-endian, whatever the host: a snapshot taken
 * on one host reads the same on another, and the unit tests mean the same on
 * s390x. State is grouped in sections: a tag (four characters), a version
 * and a length, then the payload; a loader finds the section it expects,
 * refuses a newer version than it knows, and reads the payload with a
 * reader that cannot run past the section's end.
 *
 * Errors stick: the first failed read (past the end, a value out of range,
 * a section of another tag) records one message in the shared state_err,
 * later reads return zeros, and the loader checks once at the end. */
#ifndef KVMINI_DEVICES_STATE_H
#define KVMINI_DEVICES_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATE_TAG(a, b, c, d) \
	((uint32_t)(uint8_t)(a) | (uint32_t)(uint8_t)(b) << 8 | (uint32_t)(uint8_t)(c) << 16 | \
	 (uint32_t)(uint8_t)(d) << 24)

/* ---- writing ---- */

struct state_w {
	uint8_t *buf;
	size_t len, cap;
	int err;                      /* -ENOMEM once an allocation failed */
};

void sw_init(struct state_w *w);
void sw_free(struct state_w *w);
void sw_u8(struct state_w *w, uint8_t v);
void sw_u16(struct state_w *w, uint16_t v);
void sw_u32(struct state_w *w, uint32_t v);
void sw_u64(struct state_w *w, uint64_t v);
void sw_bool(struct state_w *w, bool v);
void sw_bytes(struct state_w *w, const void *p, size_t n);
/* A section: sw_begin writes tag, version and a length to be patched and
 * returns where; sw_end patches the length once the payload is written. */
size_t sw_begin(struct state_w *w, uint32_t tag, uint32_t version);
void sw_end(struct state_w *w, size_t at);

/* ---- reading ---- */

struct state_err {
	int err;                      /* 0, or -EINVAL after the first problem */
	char msg[200];
};

struct state_r {
	const uint8_t *p;
	size_t len, off;
	struct state_err *e;
};

void sr_init(struct state_r *r, const void *p, size_t len, struct state_err *e);
/* Records the first problem (printf-style) and returns -EINVAL. */
int sr_fail(struct state_r *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool sr_ok(const struct state_r *r);
uint8_t sr_u8(struct state_r *r);
uint16_t sr_u16(struct state_r *r);
uint32_t sr_u32(struct state_r *r);
uint64_t sr_u64(struct state_r *r);
bool sr_bool(struct state_r *r);          /* 0 or 1; anything else fails */
void sr_bytes(struct state_r *r, void *dst, size_t n);
/* The next section must carry tag, at most version max_version (its version
 * goes to *version if asked). sub reads its payload; r moves past it.
 * what names the section in messages ("virtio-blk queue 0"). 0 or -EINVAL. */
int sr_section(struct state_r *r, uint32_t tag, uint32_t max_version, uint32_t *version,
	       struct state_r *sub, const char *what);
/* Has r been read to its end without a problem? Fails (naming what) when
 * bytes are left over: a section longer than its reader expected is a
 * section of another shape. */
int sr_end(struct state_r *r, const char *what);
/* A tag as text, for messages ("VIRT"); buf of 5 bytes. */
const char *state_tag_name(uint32_t tag, char buf[5]);

#endif
