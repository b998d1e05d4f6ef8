/* The TUN device: open (IFF_TUN, IFF_NO_PI, non-blocking), read and write whole IP packets. */
#include "tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct tun {
	int fd;
	char name[TUN_NAME_MAX];
};

int tun_open(const char *name, struct tun **out)
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
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		goto err_close;
	}
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

ssize_t tun_read(struct tun *t, uint8_t *buf, size_t len)
{
	ssize_t n = read(t->fd, buf, len);

	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((size_t)n == len)
		return -EMSGSIZE; /* a packet as large as the buffer may have been cut */
	return n;
}

int tun_write(struct tun *t, const uint8_t *buf, size_t len)
{
	ssize_t n = write(t->fd, buf, len);

	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (size_t)n == len ? 0 : -EIO;
}
