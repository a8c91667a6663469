/* The control socket: see api.h. */
#define _GNU_SOURCE
#include "vmm/api.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/apiproto.h"
#include "vmm/exit.h"
#include "vmm/snapshot.h"
#include "vmm/virtio_host.h"
#include "vmm/vm.h"

#define API_TAG 0x4150490000000000ull     /* "API" in the top bytes; slot below */
#define API_LISTEN 0xffff
#define API_CONNS 4

struct conn {
	int fd;
	char buf[API_LINE_MAX];
	size_t len;
};

struct api {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct conn c[API_CONNS];
};

/* The directory must not be writable by others (they could replace the
 * socket between our bind and a client's connect), unless it is sticky. */
static int check_dir(const char *path, char *err, size_t errlen)
{
	char copy[PATH_MAX];
	struct stat st;

	snprintf(copy, sizeof(copy), "%s", path);
	const char *dir = dirname(copy);
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "--api-socket: cannot use directory '%s': %s", dir,
			 strerror(errno));
		return -errno;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen, "--api-socket: directory '%s' is writable by others (mode %04o); "
			 "use one only you can write to", dir, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int api_open(struct api **out, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct api *a;
	struct stat st;
	int r;

	*out = NULL;
	if (!path[0] || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--api-socket: '%s': a socket path is 1 to %zu characters", path,
			 sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	if ((r = check_dir(path, err, errlen)))
		return r;
	/* A socket left by an earlier kvmini goes; anything else stays. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
			snprintf(err, errlen, "--api-socket: '%s' exists and is not a socket of ours",
				 path);
			return -EEXIST;
		}
		unlink(path);
	}
	if (!(a = calloc(1, sizeof(*a))))
		return -ENOMEM;
	for (int i = 0; i < API_CONNS; i++)
		a->c[i].fd = -1;
	strcpy(a->path, path);
	strcpy(sa.sun_path, path);
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old = umask(077);      /* the socket is 0600 from its first moment */
	r = a->fd < 0 || bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(a->fd, 4) < 0 ? -errno : 0;
	umask(old);
	if (r) {
		snprintf(err, errlen, "--api-socket: cannot listen on '%s': %s", path, strerror(-r));
		if (a->fd >= 0)
			close(a->fd);
		free(a);
		return r;
	}
	*out = a;
	return 0;
}

void api_close(struct api *a)
{
	if (!a)
		return;
	for (int i = 0; i < API_CONNS; i++)
		if (a->c[i].fd >= 0)
			close(a->c[i].fd);
	close(a->fd);
	unlink(a->path);
	free(a);
}

static void add(int epfd, int fd, uint64_t slot)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = API_TAG | slot };

	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
}

void api_watch(struct api *a, int epfd)
{
	add(epfd, a->fd, API_LISTEN);
	for (int i = 0; i < API_CONNS; i++)
		if (a->c[i].fd >= 0)
			add(epfd, a->c[i].fd, (uint64_t)i);
}

bool api_owns(uint64_t tag)
{
	return (tag & ~0xffffull) == API_TAG;
}

static void drop(struct conn *c, int epfd)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static void reply(struct conn *c, const char *s)
{
	size_t n = strlen(s), off = 0;

	/* Replies are short and the client waits for them: a full socket
	 * buffer is a client that stopped reading; give up on it. */
	while (off < n) {
		ssize_t k = write(c->fd, s + off, n - off);
		if (k <= 0)
			return;
		off += (size_t)k;
	}
}

static void error_reply(struct conn *c, const char *msg)
{
	char q[512], line[600];

	api_json_string(q, sizeof(q), msg);
	snprintf(line, sizeof(line), "{\"ok\": false, \"error\": %s}\n", q);
	reply(c, line);
}

static void status_reply(struct conn *c, struct vm *vm)
{
	char line[256];

	snprintf(line, sizeof(line),
		 "{\"ok\": true, \"state\": \"%s\", \"vcpus\": %d, \"memory_mib\": %llu, "
		 "\"version\": \"%s\"}\n", vm->paused ? "paused" : "running", vm->nr_vcpus,
		 (unsigned long long)(vm->ram_size >> 20), KVMINI_VERSION);
	reply(c, line);
}

static void run(struct conn *c, const char *line, struct vm *vm)
{
	struct api_cmd cmd;
	char err[256], q[API_LINE_MAX + 64], out[API_LINE_MAX + 256];
	struct snap_stats st;

	if (api_parse(line, &cmd, err, sizeof(err))) {
		error_reply(c, err);
		return;
	}
	switch (cmd.kind) {
	case API_STATUS:
		status_reply(c, vm);
		return;
	case API_PAUSE:
		if (vm_pause(vm, err, sizeof(err)))
			error_reply(c, err);
		else
			status_reply(c, vm);
		return;
	case API_RESUME:
		vm_resume(vm);
		status_reply(c, vm);
		return;
	case API_SNAPSHOT:
		if (vm_snapshot(vm, cmd.dir, &st, err, sizeof(err))) {
			error_reply(c, err);
			return;
		}
		api_json_string(q, sizeof(q), cmd.dir);
		snprintf(out, sizeof(out),
			 "{\"ok\": true, \"dir\": %s, \"state_bytes\": %llu, \"memory_bytes\": %llu, "
			 "\"paused_ms\": %.1f, \"state\": \"%s\"}\n", q,
			 (unsigned long long)st.state_bytes, (unsigned long long)st.memory_bytes,
			 st.paused_ms, vm->paused ? "paused" : "running");
		reply(c, out);
		return;
	case API_QUEUES: {
		char *qs = virtio_host_queues_json(vm->virtio);
		char *all = NULL;
		if (!qs || asprintf(&all, "{\"ok\": true, \"devices\": %s}\n", qs) < 0)
			error_reply(c, "out of memory");
		else
			reply(c, all);
		free(qs);
		free(all);
		return;
	}
	case API_QUIT:
		reply(c, "{\"ok\": true, \"state\": \"quitting\"}\n");
		vm_request_exit(vm, KVMINI_EXIT_SIGTERM, "stopped by the API's quit command");
		return;
	}
}

static void readable(struct api *a, struct conn *c, int epfd, struct vm *vm)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	char *nl;

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			drop(c, epfd);
		return;
	}
	c->len += (size_t)n;
	while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len))) {
		*nl = 0;
		run(c, c->buf, vm);
		size_t used = (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len - used);
		c->len -= used;
	}
	if (c->fd >= 0 && c->len == sizeof(c->buf)) {
		error_reply(c, "request line too long");
		drop(c, epfd);
	}
}

void api_event(struct api *a, int epfd, uint64_t tag, struct vm *vm)
{
	uint64_t slot = tag & 0xffff;

	if (slot == API_LISTEN) {
		int fd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		for (int i = 0; i < API_CONNS; i++)
			if (a->c[i].fd < 0) {
				a->c[i].fd = fd;
				a->c[i].len = 0;
				add(epfd, fd, (uint64_t)i);
				return;
			}
		struct conn busy = { .fd = fd };
		error_reply(&busy, "too many connections");
		close(fd);
		return;
	}
	if (slot < API_CONNS && a->c[slot].fd >= 0)
		readable(a, &a->c[slot], epfd, vm);
}
