/* The TUN device: open (IFF_TUN, IFF_NO_PI, non-blocking), read and write whole IP packets. */
#ifndef N4M_TUN_H
#define N4M_TUN_H

#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TUN_NAME_MAX 16 /* IFNAMSIZ */
/* The largest packet a read returns: an IPv6 header and a 64 KiB payload (GSO, TUN_OFFLOAD). */
#define TUN_PACKET_MAX (40 + 65535)

enum tun_open_flags {
	/* IFF_VNET_HDR with checksum and TCP segmentation offload (TUN_F_CSUM,
	 * TUN_F_TSO4, TUN_F_TSO6): the kernel hands over TCP segments of up to
	 * 64 KiB with a partial checksum, and takes them back the same way, so
	 * a bulk transfer crosses the device once per 64 KiB, not per MSS. */
	TUN_OFFLOAD = 1,
};

struct tun;

/* Creates (or attaches to) the device; name "" lets the kernel pick. 0 or -errno. */
int tun_open(const char *name, unsigned flags, struct tun **out);
void tun_close(struct tun *t);
int tun_fd(const struct tun *t);
const char *tun_name(const struct tun *t);

/* One packet into buf: its length, -EAGAIN when none is waiting, -EMSGSIZE if
 * it was cut. vnet (may be NULL) receives its offload header (host byte
 * order); all zero without TUN_OFFLOAD. */
ssize_t tun_read(struct tun *t, uint8_t *buf, size_t len, struct virtio_net_hdr *vnet);
/* One packet out, with the offload header vnet (NULL: a whole packet with
 * final checksums; ignored without TUN_OFFLOAD): 0, -EAGAIN (the queue is
 * full: the packet is dropped), or -errno. */
int tun_write(struct tun *t, const uint8_t *buf, size_t len, const struct virtio_net_hdr *vnet);

#endif
