/* UDP sockets that take bursts and say what the kernel dropped: a large receive buffer, SO_RXQ_OVFL. */
#include "udpsock.h"

#include <string.h>
#include <sys/uio.h>

void udpsock_tune(int fd)
{
	int size = UDPSOCK_RCVBUF, one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)); /* capped by rmem_max */
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
}

ssize_t udpsock_recv(int fd, void *buf, size_t len, struct sockaddr *from, socklen_t *fromlen,
	uint32_t *seen, unsigned long *dropped)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint32_t))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { buf, len };
	struct msghdr msg = {
		.msg_name = from,
		.msg_namelen = fromlen ? *fromlen : 0,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	ssize_t r = recvmsg(fd, &msg, 0);

	if (r < 0)
		return r;
	if (fromlen)
		*fromlen = msg.msg_namelen;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL)
			continue;
		uint32_t count;
		memcpy(&count, CMSG_DATA(c), sizeof(count));
		*dropped += count - *seen; /* the kernel's count wraps as a u32 does */
		*seen = count;
	}
	return r;
}
