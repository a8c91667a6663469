/* The guest console as the user sees it: stdout/stdin (raw mode on a
 * terminal, restored on every way out), a file, or nothing. Input goes
 * through the Ctrl-A escape (Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A). */
#ifndef KVMINI_VMM_CONSOLE_H
#define KVMINI_VMM_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/cli.h"

struct console {
	enum console_kind kind;
	int out_fd;          /* -1: discard */
	int in_fd;           /* -1: no input */
	int escape;          /* saw Ctrl-A */
	int quit;            /* Ctrl-A x seen */
	uint8_t pending[256];/* input not yet taken by the UART */
	size_t npending;
	struct verdict *verdict;   /* sees all guest output (NULL: none) */
};

/* Opens the console's file (--console file:PATH), checked before /dev/kvm.
 * 0, or -errno with a message naming --console. */
int console_open(struct console *c, const struct vm_config *cfg, char *err, size_t errlen);
/* Puts a terminal on stdin into raw mode: only once the VM is about to run,
 * so an error before that leaves the terminal alone. */
void console_start(struct console *c);
/* Guest console output, from any of the guest's consoles: to the
 * verdicts (and --console-log), then to the user. */
void console_write(struct console *c, const uint8_t *buf, size_t len);
/* Reads what stdin has, applies the escape, appends to pending. Returns
 * bytes read, 0 at end of input (input is then closed), -errno on error. */
int console_read_input(struct console *c);
/* Puts the terminal back as it was; safe to call more than once and from a
 * fatal-signal handler. */
void console_restore(void);
void console_close(struct console *c);

#endif
