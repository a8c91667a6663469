/* The text a guest writes to the kvmini.exit port (--guest-status): its
 * status as decimal digits, optional blanks (space, tab, CR) around them,
 * ended by a newline or by the end of the stream (the guest closing the
 * port). Anything else on a line makes the line malformed. Pure, so it is
 * unit-tested; vdev_console.c feeds it. */
#ifndef KVMINI_VMM_STATUS_TEXT_H
#define KVMINI_VMM_STATUS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most digits a status may have (it fits an int). */
#define STATUS_TEXT_DIGITS 9

struct status_text {
	char line[32];               /* the line so far, printable, cut short */
	size_t len;
	bool bad, blank;             /* malformed / blanks after the digits */
};

/* Told of each complete line that is not empty: status >= 0, or -1 with
 * the line's text (for a warning) when it is not a status. */
typedef void (*status_text_line)(void *opaque, int status, const char *text);

void status_text_feed(struct status_text *t, const uint8_t *buf, size_t len,
		      status_text_line line, void *opaque);
/* The stream ended (port closed, device reset): a pending line counts. */
void status_text_end(struct status_text *t, status_text_line line, void *opaque);

#endif
