/* The TUN device: open (IFF_TUN, IFF_NO_PI, non-blocking), read and write whole IP packets. */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

struct tun {
	int fd;
	bool vnet;
	char name[TUN_NAME_MAX];
};

static int tun_enable_offload(int fd)
{
	int size = sizeof(struct virtio_net_hdr);

	if (ioctl(fd, TUNSETVNETHDRSZ, &size) < 0 ||
		ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0)
		return -errno;
	return 0;
}

int tun_open(const char *name, unsigned flags, struct tun **out)
{
	struct ifreq ifr;
	struct tun *t;
	int err;

	if (strlen(name) >= TUN_NAME_MAX)
		return -ENAMETOOLONG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		err = -errno;
		goto err_free;
	}
	memset(&ifr, 0, sizeof(ifr));
	t->vnet = flags & TUN_OFFLOAD;
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (t->vnet ? IFF_VNET_HDR : 0);
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		goto err_close;
	}
	if (t->vnet && (err = tun_enable_offload(t->fd)))
		goto err_close;
	memcpy(t->name, ifr.ifr_name, TUN_NAME_MAX);
	t->name[TUN_NAME_MAX - 1] = '\0';
	*out = t;
	return 0;

err_close:
	close(t->fd);
err_free:
	free(t);
	return err;
}

void tun_close(struct tun *t)
{
	if (!t)
		return;
	close(t->fd);
	free(t);
}

int tun_fd(const struct tun *t)
{
	return t->fd;
}

const char *tun_name(const struct tun *t)
{
	return t->name;
}

ssize_t tun_read(struct tun *t, uint8_t *buf, size_t len, struct virtio_net_hdr *vnet)
{
	struct virtio_net_hdr scratch;
	struct iovec iov[2] = { { vnet ? vnet : &scratch, sizeof(scratch) }, { buf, len } };
	ssize_t n;

	if (!t->vnet) {
		if (vnet)
			memset(vnet, 0, sizeof(*vnet));
		n = read(t->fd, buf, len);
	} else {
		n = readv(t->fd, iov, 2);
		if (n >= 0 && (n -= (ssize_t)sizeof(scratch)) < 0)
			return -EIO;
	}
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((size_t)n == len)
		return -EMSGSIZE; /* a packet as large as the buffer may have been cut */
	return n;
}

int tun_write(struct tun *t, const uint8_t *buf, size_t len, const struct virtio_net_hdr *vnet)
{
	static const struct virtio_net_hdr whole;
	struct iovec iov[2] = { { (void *)(vnet ? vnet : &whole), sizeof(whole) },
		{ (void *)buf, len } };
	size_t want = len;
	ssize_t n;

	if (t->vnet) {
		n = writev(t->fd, iov, 2);
		want += sizeof(whole);
	} else {
		n = write(t->fd, buf, len);
	}
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (size_t)n == want ? 0 : -EIO;
}
