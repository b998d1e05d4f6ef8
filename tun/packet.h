/* IP packets of the TUN gateway: parsing, checksums, the NAT rewrite, builders. */
#ifndef N4M_TUN_PACKET_H
#define N4M_TUN_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TUN_IPV4_HLEN 20      /* RFC 791, 3.1: without options */
#define TUN_IPV6_HLEN 40      /* RFC 8200, 3 */
#define TUN_TCP_HLEN 20	      /* RFC 9293, 3.1: without options */
#define TUN_UDP_HLEN 8	      /* RFC 768 */
#define TUN_ICMP_HLEN 8	      /* RFC 792, RFC 4443 2.1: type, code, checksum, 4 more */
#define TUN_IPV4_MIN_MTU 576  /* RFC 1812, 4.3.2.3: an ICMP error never exceeds it */
#define TUN_IPV6_MIN_MTU 1280 /* RFC 8200, 5; RFC 4443, 2.4 (c) */
#define TUN_TTL 64	      /* of the packets we build */

/* IANA "Assigned Internet Protocol Numbers" */
enum tun_ipproto {
	TUN_IPPROTO_HOPOPTS = 0,   /* RFC 8200, 4.3 */
	TUN_IPPROTO_ICMP = 1,	   /* RFC 792 */
	TUN_IPPROTO_TCP = 6,	   /* RFC 9293 */
	TUN_IPPROTO_UDP = 17,	   /* RFC 768 */
	TUN_IPPROTO_ROUTING = 43,  /* RFC 8200, 4.4 */
	TUN_IPPROTO_FRAGMENT = 44, /* RFC 8200, 4.5 */
	TUN_IPPROTO_ICMPV6 = 58,   /* RFC 4443 */
	TUN_IPPROTO_NONE = 59,	   /* RFC 8200, 4.7 */
	TUN_IPPROTO_DSTOPTS = 60,  /* RFC 8200, 4.6 */
};

enum tun_tcp_flag { /* RFC 9293, 3.1 */
	TUN_TCP_FIN = 0x01,
	TUN_TCP_SYN = 0x02,
	TUN_TCP_RST = 0x04,
	TUN_TCP_PSH = 0x08,
	TUN_TCP_ACK = 0x10,
	TUN_TCP_URG = 0x20,
};

enum tun_icmp_type { /* RFC 792 */
	TUN_ICMP_ECHO_REPLY = 0,
	TUN_ICMP_DEST_UNREACH = 3,
	TUN_ICMP_ECHO = 8,
	TUN_ICMP_TIME_EXCEEDED = 11,
};

enum tun_icmp6_type { /* RFC 4443, 2.1 */
	TUN_ICMP6_DEST_UNREACH = 1,
	TUN_ICMP6_TIME_EXCEEDED = 3,
	TUN_ICMP6_ECHO_REQUEST = 128,
	TUN_ICMP6_ECHO_REPLY = 129,
};

/* Why a destination is unreachable; tun_build_unreach maps it to the ICMP
 * code (RFC 792, RFC 1812 5.2.7.1) or the ICMPv6 code (RFC 4443, 3.1). */
enum tun_unreach {
	TUN_UNREACH_NET,   /* ICMP 0 net unreachable;  ICMPv6 0 no route */
	TUN_UNREACH_HOST,  /* ICMP 1 host unreachable; ICMPv6 3 address unreachable */
	TUN_UNREACH_PORT,  /* ICMP 3 port unreachable; ICMPv6 4 port unreachable */
	TUN_UNREACH_ADMIN, /* ICMP 13 prohibited;      ICMPv6 1 prohibited */
};

enum tun_frag {
	TUN_FRAG_NONE,	/* a whole datagram */
	TUN_FRAG_FIRST, /* offset 0, more follow: it holds the upper-layer header */
	TUN_FRAG_LATER, /* offset > 0 */
};

struct tun_addr {
	int family;	/* AF_INET or AF_INET6 */
	uint8_t ip[16]; /* network order; IPv4 in ip[0..3], the rest zero */
};

void tun_addr_set(struct tun_addr *a, int family, const uint8_t *ip);
bool tun_addr_eq(const struct tun_addr *a, const struct tun_addr *b);
/* a and port (host order) as a sockaddr_in or sockaddr_in6; returns its length. */
socklen_t tun_addr_to_sockaddr(
	const struct tun_addr *a, uint16_t port, struct sockaddr_storage *ss);
/* The reverse (AF_INET or AF_INET6): sets a, returns the port in host order. */
uint16_t tun_addr_from_sockaddr(const struct sockaddr *sa, struct tun_addr *a);

/* A parsed packet. It points into the caller's buffer, which tun_rewrite
 * changes in place. */
struct tun_pkt {
	uint8_t *data; /* the IP header */
	uint32_t len;  /* the datagram's length (its header says; <= the buffer) */
	struct tun_addr src, dst;
	uint8_t ttl;	   /* TTL or hop limit */
	uint8_t proto;	   /* enum tun_ipproto: the upper layer, after IPv6 extension headers */
	uint8_t frag;	   /* enum tun_frag; if set, only the fields above and l4_* are set */
	uint8_t tcp_flags; /* enum tun_tcp_flag, for TCP */
	uint8_t icmp_type; /* for ICMP and ICMPv6 */
	uint8_t icmp_code;
	uint16_t sport; /* for TCP and UDP, host order */
	uint16_t dport;
	uint32_t l4_off;      /* the upper-layer header */
	uint32_t l4_len;      /* from l4_off to the end (for UDP, its length field) */
	uint32_t payload_off; /* after the TCP/UDP/ICMP header */
	uint32_t payload_len;
	/* Set by the caller, not by tun_parse: the TCP/UDP checksum field holds
	 * only the pseudo-header's sum, to be completed by the device
	 * (CHECKSUM_PARTIAL, VIRTIO_NET_HDR_F_NEEDS_CSUM); tun_rewrite keeps it so. */
	bool l4_csum_partial;
};

/* Parses a packet that starts at the IP header (IFF_TUN, IFF_NO_PI): IPv4, or
 * IPv6 through hop-by-hop, routing and destination options headers. Fragments
 * (IPv4 MF or offset, an IPv6 fragment header other than an atomic one, RFC
 * 6946) are reported in frag and not looked into. Bytes past the datagram's
 * length are ignored. Checksums are not checked (tun_verify does). Returns 0,
 * or -EINVAL for a short or malformed packet; never reads past buf + len. */
int tun_parse(struct tun_pkt *pkt, uint8_t *buf, size_t len);

/* Checks the IPv4 header checksum and, unless a fragment, the TCP, UDP, ICMP
 * or ICMPv6 checksum. Returns 0 or -EBADMSG. */
int tun_verify(const struct tun_pkt *pkt);

/* The Internet checksum, RFC 1071. A partial sum is a 32-bit accumulator of
 * 16-bit big-endian words; only the last piece added may have an odd length. */
uint32_t tun_csum_add(uint32_t sum, const void *buf, size_t len);
/* Folds the carries and complements: the value of the checksum field, host order. */
uint16_t tun_csum_fold(uint32_t sum);
/* The partial sum of the TCP/UDP/ICMPv6 pseudo-header: RFC 9293 3.1,
 * RFC 768, RFC 8200 8.1. */
uint32_t tun_csum_pseudo(
	const struct tun_addr *src, const struct tun_addr *dst, uint8_t proto, uint32_t len);

/* Incremental update, RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). csum is the
 * checksum field (host order); returns the new one. */
uint16_t tun_csum_update16(uint16_t csum, uint16_t old, uint16_t new);
uint16_t tun_csum_update32(uint16_t csum, uint32_t old, uint32_t new);
/* The same over len bytes (even): an IPv4 (4) or IPv6 (16) address. */
uint16_t tun_csum_update(uint16_t csum, const void *old, const void *new, size_t len);

/* The NAT rewrite: changes a TCP or UDP packet in place to src:sport ->
 * dst:dport (same family, host-order ports), updating the IPv4 header and
 * TCP/UDP checksums incrementally (a UDP/IPv4 checksum of 0 stays "none";
 * a partial one, see l4_csum_partial, follows the addresses only).
 * Updates pkt. Returns 0, or -EINVAL for a fragment, another protocol or
 * another family. */
int tun_rewrite(struct tun_pkt *pkt, const struct tun_addr *src, uint16_t sport,
	const struct tun_addr *dst, uint16_t dport);

/* Builders write a whole packet into buf (size bytes) and return its length,
 * -ENOSPC if it does not fit, or -EINVAL for input they refuse. buf may be
 * orig->data: a packet can be answered in place. */

/* A UDP datagram src:sport -> dst:dport (same family) carrying len bytes:
 * -EMSGSIZE if that is more than an IP datagram holds. The payload may overlap
 * buf, e.g. be read to buf + 28 (IPv4) or + 48 (IPv6) beforehand. */
int tun_build_udp(uint8_t *buf, size_t size, const struct tun_addr *src, uint16_t sport,
	const struct tun_addr *dst, uint16_t dport, const void *payload, size_t len);

/* The RST that answers a TCP segment, RFC 9293 3.10.7.1; -EINVAL for a
 * fragment, a non-TCP packet or an RST. */
int tun_build_rst(uint8_t *buf, size_t size, const struct tun_pkt *orig);

/* An ICMP (IPv4) or ICMPv6 (IPv6) destination unreachable about orig, from
 * `from` (NULL: orig's destination), quoting as much of orig as keeps the error
 * within the minimum MTU (576, RFC 1812 4.3.2.3; 1280, RFC 4443 2.4 (c)).
 * -EINVAL where no error may be sent (RFC 1122 3.2.2, RFC 4443 2.4 (e)): about
 * an ICMP error, a non-first fragment, or a multicast/broadcast/unspecified
 * address. */
int tun_build_unreach(uint8_t *buf, size_t size, const struct tun_pkt *orig, enum tun_unreach why,
	const struct tun_addr *from);

/* An ICMP time exceeded in transit (RFC 792; ICMPv6, RFC 4443 3.3: hop limit
 * exceeded) about orig, from the router `from`, quoting as tun_build_unreach
 * does; -EINVAL where no error may be sent. */
int tun_build_time_exceeded(
	uint8_t *buf, size_t size, const struct tun_pkt *orig, const struct tun_addr *from);

/* An ICMP echo (reply: echo reply) from src to dst with identifier id; rest is
 * what follows the identifier: the 2-byte sequence number and the data (len
 * bytes in all, at least 2). rest may overlap buf. */
int tun_build_echo(uint8_t *buf, size_t size, const struct tun_addr *src,
	const struct tun_addr *dst, bool reply, uint16_t id, const void *rest, size_t len);

/* The echo reply to an ICMP echo (RFC 792) or ICMPv6 echo request (RFC 4443,
 * 4.2), from its destination; -EINVAL for anything else. */
int tun_build_echo_reply(uint8_t *buf, size_t size, const struct tun_pkt *orig);

/*
 * One fragment of pkt (len bytes), a packet with a plain header as the
 * builders write them (IPv4 without options and DF clear; IPv6 without
 * extension headers), for a link of mtu bytes (at least 576 / 1280). *done
 * counts the bytes of pkt's payload already sent: start it at 0 and call again
 * until 0 is returned. Writes the fragment to out and returns its length;
 * -EINVAL for a packet it does not split (pkt is used as it is: IPv4 keeps its
 * identification, IPv6 fragments carry id); -ENOSPC. A packet within mtu
 * comes out in one piece (IPv4: as it is; IPv6: an atomic fragment): the
 * caller decides when to split.
 */
int tun_fragment(const uint8_t *pkt, size_t len, size_t mtu, uint32_t id, size_t *done,
	uint8_t *out, size_t out_size);

#endif
