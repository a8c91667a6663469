/* Tap backend: see net_tap.h. */
#define _GNU_SOURCE
#include "virtio/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#define HOST_BIG_ENDIAN (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)

_Static_assert(NET_TAP_F_CSUM == TUN_F_CSUM && NET_TAP_F_TSO4 == TUN_F_TSO4 &&
	       NET_TAP_F_TSO6 == TUN_F_TSO6 && NET_TAP_F_TSO_ECN == TUN_F_TSO_ECN &&
	       NET_TAP_F_UFO == TUN_F_UFO, "NET_TAP_F_* follow TUN_F_*");
_Static_assert(NET_TAP_NAME_MAX == IFNAMSIZ, "interface names");

void net_tap_format_error(char *err, size_t errlen, const char *name, int e)
{
	if (e == EPERM || e == EACCES)
		snprintf(err, errlen, "--net: no permission to create/open tap %s "
			 "(needs CAP_NET_ADMIN)", name);
	else if (e == ENOENT || e == ENODEV)
		snprintf(err, errlen, "--net: cannot open tap %s: /dev/net/tun is missing "
			 "(load the tun module)", name);
	else if (e == EBUSY)
		snprintf(err, errlen, "--net: tap %s is busy (another process has it open, "
			 "or it is a tun device or a multi-queue tap)", name);
	else
		snprintf(err, errlen, "--net: cannot open tap %s: %s", name, strerror(e));
}

static void init(struct net_tap *t, int fd)
{
	*t = (struct net_tap){
		.fd = fd,
		.vnet_hdr_len = 10,           /* the kernel's default */
		.vnet_be = HOST_BIG_ENDIAN,   /* tun's legacy default: host order */
	};
}

int net_tap_open_path(struct net_tap *t, const char *dev_path, const char *name, char *err,
		      size_t errlen)
{
	struct ifreq ifr;
	unsigned features = 0;
	int fd, e;

	init(t, -1);
	if (!name || !*name || strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "--net: tap name '%s' must be 1 to %d characters",
			 name ? name : "", IFNAMSIZ - 1);
		return -EINVAL;
	}
	fd = open(dev_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		net_tap_format_error(err, errlen, name, e);
		return -e;
	}
	/* No header, no offloads and no attach without IFF_VNET_HDR. */
	if (ioctl(fd, TUNGETFEATURES, &features) == 0 && !(features & IFF_VNET_HDR)) {
		snprintf(err, errlen, "--net: tap %s: the kernel's tun driver lacks IFF_VNET_HDR",
			 name);
		close(fd);
		return -ENOTSUP;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		net_tap_format_error(err, errlen, name, e);
		close(fd);
		return -e;
	}
	t->fd = fd;
	t->is_tap = true;
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	t->name[IFNAMSIZ - 1] = 0;
	return 0;
}

int net_tap_open(struct net_tap *t, const char *name, char *err, size_t errlen)
{
	return net_tap_open_path(t, "/dev/net/tun", name, err, errlen);
}

int net_tap_open_fd(struct net_tap *t, int fd)
{
	int fl;

	init(t, -1);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	t->fd = fd;
	snprintf(t->name, sizeof(t->name), "fd%d", fd);
	return 0;
}

int net_tap_set_vnet_hdr_len(struct net_tap *t, int len)
{
	if (len != 10 && len != 12)
		return -EINVAL;
	if (t->is_tap && ioctl(t->fd, TUNSETVNETHDRSZ, &len) < 0)
		return -errno;
	t->vnet_hdr_len = len;
	return 0;
}

int net_tap_set_offload(struct net_tap *t, unsigned flags)
{
	if (t->is_tap && ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)flags) < 0)
		return -errno;
	t->offload = flags;
	return 0;
}

/* tun's header order is little-endian if TUNSETVNETLE is on; otherwise
 * big-endian if TUNSETVNETBE is on (only with CONFIG_TUN_VNET_CROSS_LE),
 * else the host's. */
int net_tap_set_vnet_be(struct net_tap *t, bool be)
{
	int on = 1, off = 0;

	if (!t->is_tap) {
		if (be && !HOST_BIG_ENDIAN && t->fake_no_cross_endian)
			return -EINVAL;
		t->vnet_be = be;
		return 0;
	}
	if (!be) {
		if (ioctl(t->fd, TUNSETVNETLE, &on) < 0)
			return -errno;
		t->vnet_be = false;
		return 0;
	}
	if (ioctl(t->fd, TUNSETVNETLE, &off) < 0)
		return -errno;
	/* Now host order, unless TUNSETVNETBE says otherwise. */
	t->vnet_be = HOST_BIG_ENDIAN;
	if (ioctl(t->fd, TUNSETVNETBE, &on) < 0) {
		int e = errno;
		if (HOST_BIG_ENDIAN)
			return 0;
		return -e;
	}
	t->vnet_be = true;
	return 0;
}

ssize_t net_tap_readv(struct net_tap *t, const struct iovec *iov, int n)
{
	for (;;) {
		ssize_t r = readv(t->fd, iov, n);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

ssize_t net_tap_writev(struct net_tap *t, const struct iovec *iov, int n)
{
	for (;;) {
		ssize_t r = writev(t->fd, iov, n);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

void net_tap_close(struct net_tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}
