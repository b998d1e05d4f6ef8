/* UDP sockets that take bursts and say what the kernel dropped: a large receive buffer, SO_RXQ_OVFL. */
#ifndef N4M_UDPSOCK_H
#define N4M_UDPSOCK_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define UDPSOCK_RCVBUF (4 << 20) /* a burst of thousands of datagrams */

/* Asks for UDPSOCK_RCVBUF (forced past net.core.rmem_max where we may) and for drop counts. */
void udpsock_tune(int fd);

/* recvfrom() that also adds to *dropped the datagrams the kernel dropped on
 * this socket (its receive buffer was full) since the last call; *seen holds
 * the socket's running count between calls. */
ssize_t udpsock_recv(int fd, void *buf, size_t len, struct sockaddr *from, socklen_t *fromlen,
	uint32_t *seen, unsigned long *dropped);

#endif
