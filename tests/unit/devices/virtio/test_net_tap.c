/* The tap backend: error messages, the fd wrapper that the device tests use
 * as a fake tap, and (as root with /dev/net/tun) a real tap: flags, header
 * size, byte order and offload ioctls, and the permission error of an
 * unprivileged process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include <net/if.h>
#include <linux/if_tun.h>

#include "virtio/net_tap.h"

#define HOST_BE (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
#define TEST_TAP "kvmtest0"

static void error_messages(void **s)
{
	char err[256];

	net_tap_format_error(err, sizeof(err), "tap0", EPERM);
	assert_string_equal(err, "--net: no permission to create/open tap tap0 (needs CAP_NET_ADMIN)");
	net_tap_format_error(err, sizeof(err), "tap0", EACCES);
	assert_non_null(strstr(err, "no permission"));
	net_tap_format_error(err, sizeof(err), "tap0", ENOENT);
	assert_non_null(strstr(err, "/dev/net/tun"));
	net_tap_format_error(err, sizeof(err), "tap0", EBUSY);
	assert_non_null(strstr(err, "tap tap0 is busy"));
	net_tap_format_error(err, sizeof(err), "tap0", EIO);
	assert_true(strncmp(err, "--net: ", 7) == 0);
	assert_non_null(strstr(err, "tap0"));
}

static void open_errors(void **s)
{
	struct net_tap t;
	char err[256];

	assert_int_equal(net_tap_open_path(&t, "/nonexistent/net/tun", "tap0", err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "tap0"));
	assert_int_equal(t.fd, -1);
	net_tap_close(&t);   /* harmless */

	assert_int_equal(net_tap_open(&t, "a-name-longer-than-15", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--net: tap name"));
	assert_int_equal(net_tap_open(&t, "", err, sizeof(err)), -EINVAL);
}

static void wrapped_fd(void **s)
{
	struct net_tap t;
	int sv[2];
	uint8_t a[3] = { 1, 2, 3 }, b[2] = { 4, 5 }, in[16];
	struct iovec out[2] = { { a, 3 }, { b, 2 } }, iv = { in, sizeof(in) };

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(net_tap_open_fd(&t, sv[0]), 0);
	assert_false(t.is_tap);
	assert_true(fcntl(t.fd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(t.vnet_hdr_len, 10);
	assert_int_equal(t.vnet_be, HOST_BE);

	/* recorded, not issued */
	assert_int_equal(net_tap_set_vnet_hdr_len(&t, 12), 0);
	assert_int_equal(t.vnet_hdr_len, 12);
	assert_int_equal(net_tap_set_vnet_hdr_len(&t, 11), -EINVAL);
	assert_int_equal(t.vnet_hdr_len, 12);
	assert_int_equal(net_tap_set_offload(&t, NET_TAP_F_CSUM | NET_TAP_F_TSO4), 0);
	assert_int_equal(t.offload, NET_TAP_F_CSUM | NET_TAP_F_TSO4);
	assert_int_equal(net_tap_set_vnet_be(&t, true), 0);
	assert_true(t.vnet_be);
	assert_int_equal(net_tap_set_vnet_be(&t, false), 0);
	assert_false(t.vnet_be);
	t.fake_no_cross_endian = true;
	assert_int_equal(net_tap_set_vnet_be(&t, true), HOST_BE ? 0 : -EINVAL);
	assert_int_equal(t.vnet_be, HOST_BE);

	/* one frame per call, gathered from several iovecs */
	assert_int_equal(net_tap_readv(&t, &iv, 1), -EAGAIN);
	assert_int_equal(net_tap_writev(&t, out, 2), 5);
	assert_int_equal(recv(sv[1], in, sizeof(in), 0), 5);
	assert_memory_equal(in, "\1\2\3\4\5", 5);
	assert_int_equal(send(sv[1], a, 3, 0), 3);
	assert_int_equal(net_tap_readv(&t, &iv, 1), 3);
	net_tap_close(&t);
	assert_int_equal(t.fd, -1);
	close(sv[1]);
}

static bool can_make_taps(void)
{
	return geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0;
}

static void real_tap(void **s)
{
	struct net_tap t, t2;
	char err[256];
	struct ifreq ifr;
	int v;
	unsigned u;

	if (!can_make_taps())
		skip();
	int r = net_tap_open(&t, TEST_TAP, err, sizeof(err));
	if (r == -EPERM || r == -ENOENT || r == -ENODEV)
		skip();      /* a container without the capability or the device */
	assert_int_equal(r, 0);
	assert_true(t.is_tap);
	assert_string_equal(t.name, TEST_TAP);
	assert_true(fcntl(t.fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(t.fd, F_GETFD) & FD_CLOEXEC);
	assert_true(if_nametoindex(TEST_TAP) > 0);

	memset(&ifr, 0, sizeof(ifr));
	assert_int_equal(ioctl(t.fd, TUNGETIFF, &ifr), 0);
	assert_int_equal(ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
			 IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
	assert_false(ifr.ifr_flags & IFF_TUN);

	assert_int_equal(ioctl(t.fd, TUNGETVNETHDRSZ, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(net_tap_set_vnet_hdr_len(&t, 12), 0);
	assert_int_equal(ioctl(t.fd, TUNGETVNETHDRSZ, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(net_tap_set_vnet_hdr_len(&t, 10), 0);
	assert_int_equal(ioctl(t.fd, TUNGETVNETHDRSZ, &v), 0);
	assert_int_equal(v, 10);

	/* byte order: little-endian always; big-endian only where the kernel
	 * can (CONFIG_TUN_VNET_CROSS_LE, or a big-endian host) */
	assert_int_equal(net_tap_set_vnet_be(&t, false), 0);
	assert_false(t.vnet_be);
	assert_int_equal(ioctl(t.fd, TUNGETVNETLE, &v), 0);
	assert_int_equal(v, 1);
	r = net_tap_set_vnet_be(&t, true);
	assert_int_equal(ioctl(t.fd, TUNGETVNETLE, &v), 0);
	assert_int_equal(v, 0);
	if (r == 0) {
		assert_true(t.vnet_be);
	} else {
		assert_int_equal(r, -EINVAL);
		assert_int_equal(t.vnet_be, HOST_BE);
	}

	/* the offloads the device asks for are accepted; nonsense is not */
	unsigned off = NET_TAP_F_CSUM | NET_TAP_F_TSO4 | NET_TAP_F_TSO6 | NET_TAP_F_TSO_ECN;
	assert_int_equal(net_tap_set_offload(&t, off), 0);
	assert_int_equal(t.offload, off);
	assert_int_equal(net_tap_set_offload(&t, 0), 0);
	assert_int_equal(net_tap_set_offload(&t, 0x80000000u), -EINVAL);
	assert_int_equal(t.offload, 0);
	assert_int_equal(ioctl(t.fd, TUNGETFEATURES, &u), 0);
	assert_true(u & IFF_VNET_HDR);

	/* nothing to read on a fresh tap: EAGAIN, not a blocked thread */
	uint8_t buf[2048];
	struct iovec iv = { buf, sizeof(buf) };
	assert_int_equal(net_tap_readv(&t, &iv, 1), -EAGAIN);

	/* a second open of a tap in use: busy */
	r = net_tap_open(&t2, TEST_TAP, err, sizeof(err));
	assert_int_equal(r, -EBUSY);
	assert_non_null(strstr(err, "busy"));

	/* not persistent: closing deletes the interface */
	net_tap_close(&t);
	assert_int_equal(if_nametoindex(TEST_TAP), 0);
}

/* Runs net_tap_open_path as user nobody in a child; returns its -errno
 * (or 1 if it succeeded) and the message in err. */
static int open_as_nobody(const char *dev, const char *name, char *err, size_t errlen)
{
	int fds[2], st;

	memset(err, 0, errlen);
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct net_tap t;
		char e[256] = { 0 };
		int r = -ECHILD;
		close(fds[0]);
		if (setgid(65534) == 0 && setuid(65534) == 0)
			r = net_tap_open_path(&t, dev, name, e, sizeof(e));
		if (r == 0)
			net_tap_close(&t);
		if (write(fds[1], e, strlen(e)) < 0)
			_exit(255);
		_exit(r == 0 ? 1 : -r);
	}
	close(fds[1]);
	assert_true(read(fds[0], err, errlen - 1) >= 0);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st) == 1 ? 1 : -WEXITSTATUS(st);
}

/* An unprivileged process cannot create a tap: the message says why,
 * whether the device node (EACCES) or the capability (EPERM) stops it. */
static void permission_denied(void **s)
{
	const char *want = "--net: no permission to create/open tap kvmtest1 (needs CAP_NET_ADMIN)";
	char err[256], node[] = "/tmp/kvmini-tun-XXXXXX";
	struct stat st;
	int r;

	if (!can_make_taps())
		skip();
	r = open_as_nobody("/dev/net/tun", "kvmtest1", err, sizeof(err));
	if (r == -EACCES || r == -EPERM)
		assert_string_equal(err, want);
	else
		assert_int_equal(r, 1);   /* a world-usable tun and a capable nobody? */

	/* A world-accessible copy of the clone device: now TUNSETIFF itself
	 * refuses (EPERM) -- if this file system allows device nodes. */
	assert_int_equal(stat("/dev/net/tun", &st), 0);
	assert_non_null(mkdtemp(node));
	char path[64];
	snprintf(path, sizeof(path), "%s/tun", node);
	if (mknod(path, S_IFCHR | 0666, st.st_rdev) == 0 && chmod(path, 0666) == 0 &&
	    chmod(node, 0755) == 0) {
		r = open_as_nobody(path, "kvmtest1", err, sizeof(err));
		unlink(path);
		rmdir(node);
		/* EACCES: a nodev mount; 1: a sandbox whose "nobody" keeps
		 * CAP_NET_ADMIN (securebits) -- nothing to check there */
		if (r != -EACCES && r != 1) {
			assert_int_equal(r, -EPERM);
			assert_string_equal(err, want);
		}
		return;
	}
	rmdir(node);
}

int main(void)
{
	const struct CMUnitTest t[] = {
		cmocka_unit_test(error_messages),
		cmocka_unit_test(open_errors),
		cmocka_unit_test(wrapped_fd),
		cmocka_unit_test(real_tap),
		cmocka_unit_test(permission_denied),
	};
	return cmocka_run_group_tests(t, NULL, NULL);
}
