/* The kvmini.exit port's text: see status_text.h. */
#include "vmm/status_text.h"

#include <stdlib.h>

void status_text_end(struct status_text *t, status_text_line line, void *opaque)
{
	t->line[t->len] = 0;
	if (t->len)
		line(opaque, t->bad ? -1 : atoi(t->line), t->line);
	t->len = 0;
	t->bad = t->blank = false;
}

void status_text_feed(struct status_text *t, const uint8_t *buf, size_t len,
		      status_text_line line, void *opaque)
{
	for (size_t i = 0; i < len; i++) {
		char ch = (char)buf[i];

		if (ch == '\n') {
			status_text_end(t, line, opaque);
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\r') {
			t->blank = t->len > 0;          /* leading blanks are fine */
			continue;
		}
		if (ch < '0' || ch > '9' || t->blank || t->len >= STATUS_TEXT_DIGITS)
			t->bad = true;
		/* What fits, printable, for the caller's warning. */
		if (t->len < sizeof(t->line) - 1)
			t->line[t->len++] = ch >= ' ' && ch < 127 ? ch : '?';
	}
}
