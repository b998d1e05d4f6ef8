/* ICMP echo from the agent's own network: an unprivileged ICMP datagram socket where
 * net.ipv4.ping_group_range allows it, a raw socket (CAP_NET_RAW) otherwise. */
#ifndef N4M_PING_H
#define N4M_PING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PING_HLEN 8 /* type, code, checksum, identifier, sequence */

enum ping_kind {
	PING_NONE,  /* neither socket can be had */
	PING_DGRAM, /* SOCK_DGRAM, IPPROTO_ICMP(V6): the kernel owns the identifier */
	PING_RAW,   /* SOCK_RAW: every echo reply arrives; ours carry our identifier */
};

/* A non-blocking socket for echoes to family's addresses: *kind says which; -errno if none. */
int ping_socket(int family, enum ping_kind *kind);
/* What ping_socket would give for IPv4 now (the socket is closed again). */
enum ping_kind ping_probe(void);

/*
 * An echo request into buf: identifier id, then rest (len bytes: the
 * sequence number and the data, as in the echo the client sent). The ICMP
 * checksum is filled in (the kernel fills it for ICMPv6 and datagram sockets
 * anyway). Returns its length, -EINVAL if len < 2, -ENOSPC.
 */
ssize_t ping_request(
	uint8_t *buf, size_t size, int family, uint16_t id, const uint8_t *rest, size_t len);

/*
 * Where, in what a ping socket of kind read (len bytes), the echo reply's
 * sequence number starts (the rest to hand back); -1 for anything else: not
 * an echo reply, a raw socket's reply with another identifier than id, short
 * or malformed. A raw IPv4 socket reads the IP header too.
 */
ssize_t ping_reply(const uint8_t *buf, size_t len, int family, enum ping_kind kind, uint16_t id);

#endif
