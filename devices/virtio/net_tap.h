/* A Linux tap device as the backend of virtio-net: Ethernet frames, each
 * prefixed by a virtio_net_hdr, read and written on one non-blocking fd.
 * Knows nothing of virtio queues; the virtio-net device (net.c) drives it.
 *
 * The tap is told three things by the device at activation: the header size
 * (10 or 12 bytes, TUNSETVNETHDRSZ), the offloads the guest accepts
 * (TUNSETOFFLOAD) and the byte order of the header's 16-bit fields
 * (TUNSETVNETLE / TUNSETVNETBE). The device sets the order to its own, so
 * header bytes pass between guest and tap unmodified; vnet_be records the
 * order actually in force, since a kernel without CONFIG_TUN_VNET_CROSS_LE
 * refuses a big-endian header on a little-endian host (the device then swaps
 * the fields itself).
 *
 * All functions return 0 (or a byte count) on success and -errno on failure. */
#ifndef KVMINI_DEVICES_VIRTIO_NET_TAP_H
#define KVMINI_DEVICES_VIRTIO_NET_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NET_TAP_NAME_MAX 16   /* IFNAMSIZ, with the terminating NUL */

/* Offload flags, the values of the kernel's TUN_F_* (linux/if_tun.h). */
#define NET_TAP_F_CSUM    0x01
#define NET_TAP_F_TSO4    0x02
#define NET_TAP_F_TSO6    0x04
#define NET_TAP_F_TSO_ECN 0x08
#define NET_TAP_F_UFO     0x10

struct net_tap {
	int fd;
	char name[NET_TAP_NAME_MAX];
	/* false: an arbitrary fd wrapped by net_tap_open_fd (tests): the
	 * ioctls are not issued, only recorded below. */
	bool is_tap;
	int vnet_hdr_len;       /* header size in force (the kernel's default is 10) */
	unsigned offload;       /* NET_TAP_F_* in force */
	bool vnet_be;           /* header byte order in force: big-endian */
	/* Tests: make net_tap_set_vnet_be(true) fail as a kernel without
	 * CONFIG_TUN_VNET_CROSS_LE does on a little-endian host. */
	bool fake_no_cross_endian;
};

/* Opens /dev/net/tun as tap `name` (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
 * creating the interface if it does not exist, non-blocking and
 * close-on-exec. On failure err holds one line starting with "--net: " that
 * names the tap, and the return value is -errno. */
int net_tap_open(struct net_tap *t, const char *name, char *err, size_t errlen);
/* As net_tap_open with another clone device (tests: a path that fails). */
int net_tap_open_path(struct net_tap *t, const char *dev_path, const char *name, char *err,
		      size_t errlen);
/* The message net_tap_open gives for errno value e (positive). */
void net_tap_format_error(char *err, size_t errlen, const char *name, int e);

/* Wraps an fd that carries one frame per read/write (e.g. a SOCK_SEQPACKET
 * socket of a test) as a tap: it is made non-blocking; the set_* calls below
 * only record their arguments. The tap owns fd from now on. */
int net_tap_open_fd(struct net_tap *t, int fd);

/* TUNSETVNETHDRSZ: len is 10 or 12 (sizeof virtio_net_hdr[_mrg_rxbuf]). */
int net_tap_set_vnet_hdr_len(struct net_tap *t, int len);
/* TUNSETOFFLOAD with NET_TAP_F_* flags: what the guest can take on RX. */
int net_tap_set_offload(struct net_tap *t, unsigned flags);
/* The byte order of the header's fields: big-endian if be, else
 * little-endian. -EINVAL if the kernel cannot; vnet_be always says what is
 * in force afterwards. */
int net_tap_set_vnet_be(struct net_tap *t, bool be);

/* One frame (header + Ethernet frame) per call. -EAGAIN when there is none
 * to read, or (write) the tap cannot take it now. A read returns the frame's
 * length; a frame longer than the buffers is cut short. */
ssize_t net_tap_readv(struct net_tap *t, const struct iovec *iov, int n);
ssize_t net_tap_writev(struct net_tap *t, const struct iovec *iov, int n);

void net_tap_close(struct net_tap *t);

#endif
