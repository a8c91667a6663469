#include "vmm/console.h"
#include "vmm/verdict.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define CTRL_A 0x01

/* Saved terminal state, global so a fatal-signal handler can restore it. */
static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;

void console_restore(void)
{
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
		tio_saved = 0;
	}
}

static void fatal_signal(int sig)
{
	console_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void enter_raw_mode(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio))
		return;
	t = saved_tio;
	cfmakeraw(&t);
	/* Keep output post-processing off too: the guest sends its own \r\n. */
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t))   /* keep type-ahead */
		return;
	tio_saved = 1;
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGQUIT };
	for (unsigned i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], fatal_signal);
}

int console_open(struct console *c, const struct vm_config *cfg, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->kind = cfg->console;
	c->in_fd = -1;
	c->out_fd = -1;
	switch (cfg->console) {
	case CONSOLE_STDIO:
		c->out_fd = STDOUT_FILENO;
		/* No usable stdin (closed, as under CI) just means no input. */
		if (fcntl(STDIN_FILENO, F_GETFL) >= 0)
			c->in_fd = STDIN_FILENO;
		break;
	case CONSOLE_FILE:
		c->out_fd = open(cfg->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->out_fd < 0) {
			snprintf(err, errlen, "--console: cannot open '%s': %s",
				 cfg->console_path, strerror(errno));
			return -errno;
		}
		break;
	case CONSOLE_NONE:
		break;
	}
	return 0;
}

void console_start(struct console *c)
{
	if (c->kind == CONSOLE_STDIO && c->in_fd == STDIN_FILENO)
		enter_raw_mode();
}

static void user_write(struct console *c, const uint8_t *buf, size_t len)
{
	while (c->out_fd >= 0 && len) {
		ssize_t n = write(c->out_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;     /* a closed stdout must not stop the guest */
		buf += n;
		len -= (size_t)n;
	}
}

void console_write(struct console *c, const uint8_t *buf, size_t len)
{
	if (c->verdict)
		verdict_feed(c->verdict, buf, len);
	user_write(c, buf, len);
}

static void input_byte(struct console *c, uint8_t b)
{
	if (c->escape) {
		c->escape = 0;
		if (b == 'x' || b == 'X') {
			c->quit = 1;
			return;
		}
		if (b == 'h' || b == '?') {
			static const char help[] = "\r\nkvmini: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A\r\n";
			user_write(c, (const uint8_t *)help, sizeof(help) - 1);
			return;
		}
		if (b != CTRL_A)
			return;
	} else if (b == CTRL_A && tio_saved) {
		c->escape = 1;      /* the escape only applies to an interactive terminal */
		return;
	}
	if (c->npending < sizeof(c->pending))
		c->pending[c->npending++] = b;
}

int console_read_input(struct console *c)
{
	uint8_t buf[64];
	size_t room = sizeof(c->pending) - c->npending;

	if (c->in_fd < 0)
		return 0;
	if (room > sizeof(buf))
		room = sizeof(buf);
	ssize_t n = read(c->in_fd, buf, room);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	if (n == 0) {
		c->in_fd = -1;
		return 0;
	}
	for (ssize_t i = 0; i < n; i++)
		input_byte(c, buf[i]);
	return (int)n;
}

void console_close(struct console *c)
{
	console_restore();
	if (c->kind == CONSOLE_FILE && c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
}
