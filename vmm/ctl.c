/* kvmini ctl SOCKET COMMAND [DIR]: the control socket's client. Sends one
 * request (vmm/apiproto.h), prints the one-line JSON reply on stdout and
 * exits 0 when it says "ok": true, 1 when kvmini refused, 2 when there was
 * no answer (no such socket, kvmini gone, a bad command line). A relative
 * snapshot directory is made absolute here: kvmini's working directory is
 * not the caller's. */
#define _GNU_SOURCE
#include "vmm/ctl.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/apiproto.h"

static int die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "kvmini: ctl: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return 2;
}

int ctl_main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[API_LINE_MAX + 64], err[256], dir[PATH_MAX + 2], reply[64 * 1024];
	const char *arg = argc > 4 ? argv[4] : NULL;
	size_t got = 0;
	int fd, n;

	if (argc < 4 || argc > 5)
		return die("usage: kvmini ctl SOCKET status|pause|resume|quit|queues|snapshot DIR%s%s", "", "");
	if (arg && !strcmp(argv[3], "snapshot") && arg[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)) ||
		    snprintf(dir, sizeof(dir), "%s/%s", cwd, arg) >= (int)sizeof(dir))
			return die("snapshot: cannot make '%s' absolute%s", arg, "");
		arg = dir;
	}
	n = api_request(req, sizeof(req), argv[3], arg, err, sizeof(err));
	if (n < 0)
		return die("%s%s", err, "");
	if (strlen(argv[2]) >= sizeof(sa.sun_path))
		return die("'%s': too long for a socket path%s", argv[2], "");
	strcpy(sa.sun_path, argv[2]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return die("cannot connect to '%s': %s", argv[2], strerror(errno));
	if (write(fd, req, (size_t)n) != n)
		return die("cannot send to '%s': %s", argv[2], strerror(errno));
	/* One line back; a snapshot of a big guest takes a while. */
	while (got < sizeof(reply) - 1 && !memchr(reply, '\n', got)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 600 * 1000) <= 0)
			return die("no answer from '%s' within 600 s%s", argv[2], "");
		ssize_t k = read(fd, reply + got, sizeof(reply) - 1 - got);
		if (k <= 0)
			return die("'%s' closed the connection without an answer%s", argv[2], "");
		got += (size_t)k;
	}
	close(fd);
	reply[got] = 0;
	fputs(reply, stdout);
	return strstr(reply, "\"ok\": true") ? 0 : 1;
}
