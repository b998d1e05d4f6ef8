/* Unit tests of tun/packet: parsing, checksums, the NAT rewrite and the builders. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tun/frag.h"
#include "tun/packet.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })
#define PKT_MAX (TUN_IPV6_HLEN + 0xffff)

/* ---- hand-written packets; checksums computed elsewhere (Python) ---- */
/* laid out header by header, by hand: */
/* clang-format off */

/* IPv4 TCP SYN 10.0.0.2:40000 -> 93.184.216.34:80, DF, MSS option */
static const uint8_t pkt_v4_syn[] = {
	0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0xe8, 0xbb,
	0x0a, 0x00, 0x00, 0x02, 0x5d, 0xb8, 0xd8, 0x22,
	0x9c, 0x40, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00,
	0x60, 0x02, 0xff, 0xff, 0x77, 0x53, 0x00, 0x00,
	0x02, 0x04, 0x05, 0xb4,
};

/* IPv4 with 4 bytes of options, UDP 192.168.1.10:54321 -> 8.8.8.8:53 "hello" */
static const uint8_t pkt_v4_udp[] = {
	0x46, 0x00, 0x00, 0x25, 0xab, 0xcd, 0x00, 0x00, 0x40, 0x11, 0xfa, 0x37,
	0xc0, 0xa8, 0x01, 0x0a, 0x08, 0x08, 0x08, 0x08,
	0x01, 0x01, 0x01, 0x00,
	0xd4, 0x31, 0x00, 0x35, 0x00, 0x0d, 0x15, 0xd9,
	'h', 'e', 'l', 'l', 'o',
};

/* IPv6 TCP ACK|PSH [2001:db8::1]:50000 -> [2001:db8:1::80]:443 "abc" */
static const uint8_t pkt_v6_tcp[] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x17, 0x06, 0x40,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
	0xc3, 0x50, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef,
	0x50, 0x18, 0x01, 0x00, 0x2b, 0xc9, 0x00, 0x00,
	'a', 'b', 'c',
};

/* IPv6, hop-by-hop and destination options (PadN), UDP [fd00::2]:5000 ->
 * [2001:db8::53]:53 "payload" */
static const uint8_t pkt_v6_udp[] = {
	0x60, 0x0a, 0xbc, 0xde, 0x00, 0x1f, 0x00, 0xff,
	0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
	0x3c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
	0x11, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
	0x13, 0x88, 0x00, 0x35, 0x00, 0x0f, 0x03, 0xd5,
	'p', 'a', 'y', 'l', 'o', 'a', 'd',
};

/* IPv4 ICMP echo 10.0.0.2 -> 198.18.0.1, id 0x1234 seq 1 "pingdata" */
static const uint8_t pkt_v4_ping[] = {
	0x45, 0x00, 0x00, 0x24, 0x00, 0x42, 0x40, 0x00, 0x40, 0x01, 0x6a, 0x82,
	0x0a, 0x00, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x01,
	0x08, 0x00, 0x2e, 0x37, 0x12, 0x34, 0x00, 0x01,
	'p', 'i', 'n', 'g', 'd', 'a', 't', 'a',
};

/* ICMPv6 echo request fd00::2 -> fd00::1, id 0xabcd seq 7 "ping" */
static const uint8_t pkt_v6_ping[] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x3a, 0x40,
	0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	0x80, 0x00, 0xfb, 0x0e, 0xab, 0xcd, 0x00, 0x07,
	'p', 'i', 'n', 'g',
};

/* IPv4 first fragment (MF) of a 100-byte UDP datagram 10.0.0.2 -> 10.1.2.3 */
static const uint8_t pkt_v4_frag1[] = {
	0x45, 0x00, 0x00, 0x24, 0x00, 0x07, 0x20, 0x00, 0x40, 0x11, 0x44, 0xbd,
	0x0a, 0x00, 0x00, 0x02, 0x0a, 0x01, 0x02, 0x03,
	0x04, 0x57, 0x08, 0xae, 0x00, 0x64, 0x55, 0x55,
	'1', '2', '3', '4', '5', '6', '7', '8',
};

/* ... and a later one, offset 2 (16 bytes), last */
static const uint8_t pkt_v4_frag2[] = {
	0x45, 0x00, 0x00, 0x1c, 0x00, 0x07, 0x00, 0x02, 0x40, 0x11, 0x64, 0xc3,
	0x0a, 0x00, 0x00, 0x02, 0x0a, 0x01, 0x02, 0x03,
	'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H',
};

#define V6_FD00_2 0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02
#define V6_DB8_9 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09

/* IPv6 fragment header, offset 0, M: the first fragment of a UDP datagram */
static const uint8_t pkt_v6_frag1[] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x2c, 0x40, V6_FD00_2, V6_DB8_9,
	0x11, 0x00, 0x00, 0x01, 0x00, 0x00, 0xca, 0xfe,
	0x04, 0x57, 0x08, 0xae, 0x00, 0x64, 0x55, 0x55,
	'1', '2', '3', '4', '5', '6', '7', '8',
};

/* ... offset 1 (8 bytes), more follow */
static const uint8_t pkt_v6_frag2[] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x2c, 0x40, V6_FD00_2, V6_DB8_9,
	0x11, 0x00, 0x00, 0x09, 0x00, 0x00, 0xca, 0xfe,
	'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H',
};

/* An atomic fragment (offset 0, no M, RFC 6946): a whole UDP datagram "atom" */
static const uint8_t pkt_v6_atomic[] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x2c, 0x40, V6_FD00_2, V6_DB8_9,
	0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xca, 0xfe,
	0x04, 0x57, 0x08, 0xae, 0x00, 0x0c, 0xf7, 0x2a,
	'a', 't', 'o', 'm',
};

/* Destination options, then hop-by-hop, which must come first (RFC 8200, 4.1) */
static const uint8_t pkt_v6_hbh_late[] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x3c, 0x40, V6_FD00_2, V6_DB8_9,
	0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
	0x11, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
	0x04, 0x57, 0x08, 0xae, 0x00, 0x08, 0x00, 0x00,
};
/* clang-format on */

struct parse_case {
	const char *name;
	const uint8_t *buf;
	size_t len;
	const char *src, *dst;
	uint8_t ttl, proto, frag, tcp_flags, icmp_type;
	uint16_t sport, dport;
	uint32_t l4_off, l4_len, payload_off, payload_len;
};

#define PKT(p) p, sizeof(p)

static const struct parse_case parse_cases[] = {
	{ "IPv4 TCP SYN", PKT(pkt_v4_syn), "10.0.0.2", "93.184.216.34", 64, TUN_IPPROTO_TCP,
		TUN_FRAG_NONE, TUN_TCP_SYN, 0, 40000, 80, 20, 24, 44, 0 },
	{ "IPv4 options UDP", PKT(pkt_v4_udp), "192.168.1.10", "8.8.8.8", 64, TUN_IPPROTO_UDP,
		TUN_FRAG_NONE, 0, 0, 54321, 53, 24, 13, 32, 5 },
	{ "IPv6 TCP", PKT(pkt_v6_tcp), "2001:db8::1", "2001:db8:1::80", 64, TUN_IPPROTO_TCP,
		TUN_FRAG_NONE, TUN_TCP_ACK | TUN_TCP_PSH, 0, 50000, 443, 40, 23, 60, 3 },
	{ "IPv6 ext headers UDP", PKT(pkt_v6_udp), "fd00::2", "2001:db8::53", 255, TUN_IPPROTO_UDP,
		TUN_FRAG_NONE, 0, 0, 5000, 53, 56, 15, 64, 7 },
	{ "IPv4 echo", PKT(pkt_v4_ping), "10.0.0.2", "198.18.0.1", 64, TUN_IPPROTO_ICMP,
		TUN_FRAG_NONE, 0, TUN_ICMP_ECHO, 0, 0, 20, 16, 28, 8 },
	{ "ICMPv6 echo", PKT(pkt_v6_ping), "fd00::2", "fd00::1", 64, TUN_IPPROTO_ICMPV6,
		TUN_FRAG_NONE, 0, TUN_ICMP6_ECHO_REQUEST, 0, 0, 40, 12, 48, 4 },
	{ "IPv4 first fragment", PKT(pkt_v4_frag1), "10.0.0.2", "10.1.2.3", 64, TUN_IPPROTO_UDP,
		TUN_FRAG_FIRST, 0, 0, 0, 0, 20, 16, 0, 0 },
	{ "IPv4 later fragment", PKT(pkt_v4_frag2), "10.0.0.2", "10.1.2.3", 64, TUN_IPPROTO_UDP,
		TUN_FRAG_LATER, 0, 0, 0, 0, 20, 8, 0, 0 },
	{ "IPv6 first fragment", PKT(pkt_v6_frag1), "fd00::2", "2001:db8::9", 64, TUN_IPPROTO_UDP,
		TUN_FRAG_FIRST, 0, 0, 0, 0, 48, 16, 0, 0 },
	{ "IPv6 later fragment", PKT(pkt_v6_frag2), "fd00::2", "2001:db8::9", 64, TUN_IPPROTO_UDP,
		TUN_FRAG_LATER, 0, 0, 0, 0, 48, 8, 0, 0 },
	{ "IPv6 atomic fragment", PKT(pkt_v6_atomic), "fd00::2", "2001:db8::9", 64, TUN_IPPROTO_UDP,
		TUN_FRAG_NONE, 0, 0, 1111, 2222, 48, 12, 56, 4 },
};

static struct tun_addr addr(const char *s)
{
	struct tun_addr a;

	memset(&a, 0, sizeof(a));
	a.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(a.family, s, a.ip), 1);
	return a;
}

static void assert_addr(const struct tun_addr *a, const char *s)
{
	struct tun_addr want = addr(s);

	assert_int_equal(a->family, want.family);
	assert_memory_equal(a->ip, want.ip, sizeof(want.ip));
}

static void check_case(const struct parse_case *c, const struct tun_pkt *p)
{
	assert_int_equal(p->len, c->len);
	assert_addr(&p->src, c->src);
	assert_addr(&p->dst, c->dst);
	assert_int_equal(p->ttl, c->ttl);
	assert_int_equal(p->proto, c->proto);
	assert_int_equal(p->frag, c->frag);
	assert_int_equal(p->tcp_flags, c->tcp_flags);
	assert_int_equal(p->icmp_type, c->icmp_type);
	assert_int_equal(p->icmp_code, 0);
	assert_int_equal(p->sport, c->sport);
	assert_int_equal(p->dport, c->dport);
	assert_int_equal(p->l4_off, c->l4_off);
	assert_int_equal(p->l4_len, c->l4_len);
	assert_int_equal(p->payload_off, c->payload_off);
	assert_int_equal(p->payload_len, c->payload_len);
}

/* A heap copy of exactly len bytes, so that ASan sees any read past it. */
static uint8_t *dup_exact(const uint8_t *buf, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, buf, len);
	return p;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		uint8_t *b = dup_exact(c->buf, c->len);
		struct tun_pkt p;

		if (tun_parse(&p, b, c->len))
			print_error("parse \"%s\" failed\n", c->name);
		assert_int_equal(tun_parse(&p, b, c->len), 0);
		assert_ptr_equal(p.data, b);
		check_case(c, &p);
		assert_int_equal(tun_verify(&p), 0);
		free(b);
	}
}

/* Bytes after the datagram (its length field says where it ends) are not its. */
static void test_parse_trailing(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		uint8_t b[256];
		struct tun_pkt p;

		memset(b, 0xa5, sizeof(b));
		memcpy(b, c->buf, c->len);
		assert_int_equal(tun_parse(&p, b, sizeof(b)), 0);
		check_case(c, &p);
		assert_int_equal(tun_verify(&p), 0);
	}
}

/* Every truncation of the buffer is refused, and nothing is read past it. */
static void test_parse_truncated(void **state)
{
	size_t n_checked = 0;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];

		for (size_t n = 0; n < c->len; n++, n_checked++) {
			uint8_t *b = dup_exact(c->buf, n);
			struct tun_pkt p;

			assert_int_equal(tun_parse(&p, b, n), -EINVAL);
			free(b);
		}
	}
	assert_true(n_checked > 400);
}

/* Truncations with the IP length field made to agree: refused when the cut
 * falls inside a header (or a UDP datagram, whose own length says more),
 * accepted inside a TCP or ICMP payload. */
static void test_parse_truncated_consistent(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		int v4 = c->buf[0] >> 4 == 4;
		size_t hlen = v4 ? (size_t)(c->buf[0] & 0x0f) * 4 : TUN_IPV6_HLEN;

		if (c->frag)
			continue;
		for (size_t n = hlen; n < c->len; n++) {
			uint8_t *b = dup_exact(c->buf, n);
			int want = n >= c->payload_off && c->proto != TUN_IPPROTO_UDP ? 0 : -EINVAL;
			struct tun_pkt p;

			b[v4 ? 2 : 4] = (uint8_t)((v4 ? n : n - hlen) >> 8);
			b[v4 ? 3 : 5] = (uint8_t)(v4 ? n : n - hlen);
			assert_int_equal(tun_parse(&p, b, n), want);
			if (!want) {
				assert_int_equal(p.len, n);
				assert_int_equal(p.payload_off + p.payload_len, n);
			}
			free(b);
		}
	}
}

struct bad_case {
	const char *name;
	const uint8_t *base;
	size_t len;
	size_t off; /* where to patch */
	uint8_t val;
};

static const struct bad_case bad_cases[] = {
	{ "IPv4 IHL 4", PKT(pkt_v4_syn), 0, 0x44 },
	{ "IPv4 IHL 0", PKT(pkt_v4_syn), 0, 0x40 },
	{ "IPv4 IHL 15 > total length", PKT(pkt_v4_syn), 0, 0x4f },
	{ "version 5", PKT(pkt_v4_syn), 0, 0x55 },
	{ "version 0", PKT(pkt_v4_syn), 0, 0x05 },
	{ "IPv4 total length < header", PKT(pkt_v4_syn), 3, 0x13 },
	{ "IPv4 total length > buffer", PKT(pkt_v4_syn), 3, 0x2d },
	{ "IPv4 total length 64k", PKT(pkt_v4_syn), 2, 0xff },
	{ "TCP data offset 4", PKT(pkt_v4_syn), 32, 0x40 },
	{ "TCP data offset 0", PKT(pkt_v4_syn), 32, 0x00 },
	{ "TCP data offset past the end", PKT(pkt_v4_syn), 32, 0x70 },
	{ "UDP length 7", PKT(pkt_v4_udp), 29, 0x07 },
	{ "UDP length 0", PKT(pkt_v4_udp), 29, 0x00 },
	{ "UDP length > IP", PKT(pkt_v4_udp), 29, 0x0e },
	{ "IPv6 with version 4", PKT(pkt_v6_tcp), 0, 0x40 },
	{ "IPv6 version 7", PKT(pkt_v6_tcp), 0, 0x70 },
	{ "IPv6 payload length > buffer", PKT(pkt_v6_tcp), 5, 0x18 },
	{ "IPv6 payload length 64k", PKT(pkt_v6_tcp), 4, 0xff },
	{ "hop-by-hop length past the end", PKT(pkt_v6_udp), 41, 0x03 },
	{ "hop-by-hop long, the next one cut", PKT(pkt_v6_udp), 41, 0x02 },
	{ "hop-by-hop after destination options", PKT(pkt_v6_udp), 48, 0x00 },
	{ "destination options length past the end", PKT(pkt_v6_udp), 49, 0xff },
	{ "IPv6 UDP length 7", PKT(pkt_v6_udp), 61, 0x07 },
	{ "IPv6 UDP length > IP", PKT(pkt_v6_udp), 61, 0x10 },
	{ "IPv6 TCP data offset 3", PKT(pkt_v6_tcp), 52, 0x30 },
	{ "hop-by-hop not first", PKT(pkt_v6_hbh_late), 6, TUN_IPPROTO_DSTOPTS },
};

static void test_parse_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		uint8_t *b = dup_exact(c->base, c->len);
		struct tun_pkt p;

		b[c->off] = c->val;
		if (tun_parse(&p, b, c->len) != -EINVAL)
			print_error("malformed \"%s\" accepted\n", c->name);
		assert_int_equal(tun_parse(&p, b, c->len), -EINVAL);
		free(b);
	}
}

/* A UDP length short of the IP length leaves padding, not the datagram's. */
static void test_parse_udp_padding(void **state)
{
	uint8_t b[sizeof(pkt_v4_udp) + 3] = { 0 };
	struct tun_pkt p;

	(void)state;
	memcpy(b, pkt_v4_udp, sizeof(pkt_v4_udp));
	b[3] = sizeof(b);
	b[10] = b[11] = 0;
	wr16(b + 10, tun_csum_fold(tun_csum_add(0, b, 24)));
	assert_int_equal(tun_parse(&p, b, sizeof(b)), 0);
	assert_int_equal(p.len, sizeof(b));
	assert_int_equal(p.l4_len, 13);
	assert_int_equal(p.payload_len, 5);
	assert_int_equal(tun_verify(&p), 0);
}

/* An ICMP message shorter than the 8-byte header, with consistent lengths. */
static void test_parse_short_icmp(void **state)
{
	uint8_t b[27];
	struct tun_pkt p;

	(void)state;
	memcpy(b, pkt_v4_ping, sizeof(b));
	b[3] = sizeof(b);
	assert_int_equal(tun_parse(&p, b, sizeof(b)), -EINVAL);
}

/* An unknown upper layer parses, without ports. */
static void test_parse_other_proto(void **state)
{
	uint8_t b[sizeof(pkt_v6_frag2)];
	struct tun_pkt p;

	(void)state;
	memcpy(b, pkt_v6_frag2, sizeof(b));
	b[6] = 132; /* SCTP, no fragment header */
	assert_int_equal(tun_parse(&p, b, sizeof(b)), 0);
	assert_int_equal(p.proto, 132);
	assert_int_equal(p.frag, TUN_FRAG_NONE);
	assert_int_equal(p.l4_off, 40);
	assert_int_equal(p.l4_len, 16);
	assert_int_equal(p.sport, 0);
	b[6] = TUN_IPPROTO_NONE;
	assert_int_equal(tun_parse(&p, b, sizeof(b)), 0);
	assert_int_equal(p.proto, TUN_IPPROTO_NONE);
}

static void test_fragments(void **state)
{
	uint8_t b[sizeof(pkt_v4_frag1)];
	struct tun_addr a = addr("1.2.3.4");
	struct tun_pkt p;

	(void)state;
	memcpy(b, pkt_v4_frag1, sizeof(b));
	assert_int_equal(tun_parse(&p, b, sizeof(b)), 0);
	assert_int_equal(p.frag, TUN_FRAG_FIRST);
	assert_int_equal(tun_rewrite(&p, &a, 1, &a, 2), -EINVAL);
	assert_memory_equal(b, pkt_v4_frag1, sizeof(b));
	/* a middle fragment: MF and an offset */
	b[6] = 0x20;
	b[7] = 0x01;
	assert_int_equal(tun_parse(&p, b, sizeof(b)), 0);
	assert_int_equal(p.frag, TUN_FRAG_LATER);
	/* the header checksum is still checked */
	assert_int_equal(tun_verify(&p), -EBADMSG);

	/* what follows a fragment header is not walked, even if it names one */
	uint8_t b6[sizeof(pkt_v6_frag2)];
	memcpy(b6, pkt_v6_frag2, sizeof(b6));
	b6[40] = TUN_IPPROTO_DSTOPTS;
	assert_int_equal(tun_parse(&p, b6, sizeof(b6)), 0);
	assert_int_equal(p.frag, TUN_FRAG_LATER);
	assert_int_equal(p.proto, TUN_IPPROTO_DSTOPTS);
	assert_int_equal(p.l4_off, 48);
	assert_int_equal(tun_verify(&p), 0);
}

/* ---- checksums ---- */

/* The reference: RFC 1071 word by word, over a pseudo-header and data. */
static uint16_t ref_csum(const uint8_t *ph, size_t phlen, const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < phlen; i += 2)
		s += (uint32_t)(ph[i] << 8 | ph[i + 1]);
	for (size_t i = 0; i < len; i++)
		s += i & 1 ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void rnd_fill(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rnd();
}

/* RFC 1071, 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2. */
static void test_csum_rfc1071(void **state)
{
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	(void)state;
	assert_int_equal(tun_csum_fold(tun_csum_add(0, b, sizeof(b))), (uint16_t)~0xddf2);
	assert_int_equal(
		tun_csum_fold(tun_csum_add(tun_csum_add(0, b, 4), b + 4, 4)), (uint16_t)~0xddf2);
	assert_int_equal(tun_csum_fold(tun_csum_add(0, b, 0)), 0xffff);
	assert_int_equal(tun_csum_fold(tun_csum_add(0, b + 2, 1)), (uint16_t)~0xf200);
}

static void test_csum_random(void **state)
{
	static uint8_t b[2048 + 8];

	(void)state;
	for (int i = 0; i < 5000; i++) {
		size_t len = rnd() % 2048, skew = rnd() % 8, cut = (rnd() % (len + 1)) & ~(size_t)1;
		uint8_t *p = b + skew; /* unaligned too */

		rnd_fill(p, len);
		uint16_t want = ref_csum(NULL, 0, p, len);
		assert_int_equal(tun_csum_fold(tun_csum_add(0, p, len)), want);
		assert_int_equal(
			tun_csum_fold(tun_csum_add(tun_csum_add(0, p, cut), p + cut, len - cut)),
			want);
	}
}

/* The pseudo-headers of RFC 768 / RFC 9293 (IPv4, 16-bit length) and RFC 8200
 * 8.1 (IPv6, 32-bit upper-layer length), against the reference. */
static void test_csum_pseudo(void **state)
{
	struct tun_addr s4 = addr("10.0.0.2"), d4 = addr("93.184.216.34");
	struct tun_addr s6 = addr("2001:db8::1"), d6 = addr("fd00:1:2:3:4:5:6:7");
	uint8_t ph4[12] = { 10, 0, 0, 2, 93, 184, 216, 34, 0, 17, 0x12, 0x34 };
	uint8_t ph6[40];

	(void)state;
	assert_int_equal(tun_csum_fold(tun_csum_pseudo(&s4, &d4, 17, 0x1234)),
		ref_csum(ph4, sizeof(ph4), NULL, 0));
	memcpy(ph6, s6.ip, 16);
	memcpy(ph6 + 16, d6.ip, 16);
	memcpy(ph6 + 32, (const uint8_t[]){ 0, 1, 0x23, 0x45, 0, 0, 0, 6 }, 8);
	assert_int_equal(tun_csum_fold(tun_csum_pseudo(&s6, &d6, 6, 0x12345)),
		ref_csum(ph6, sizeof(ph6), NULL, 0));
}

/* RFC 1624, 4: eqn. 3 turns HC dd2f, m 5555 -> m' 3285 into 0000, as a full
 * recomputation does, where eqn. 2 gave ffff. */
static void test_csum_rfc1624(void **state)
{
	(void)state;
	assert_int_equal(tun_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

/* Change 2, 4 or 16 bytes at an even offset of random data; the incremental
 * update equals the recomputation. */
static void test_csum_update_random(void **state)
{
	static const size_t widths[] = { 2, 4, 16 };
	uint8_t b[200];

	(void)state;
	for (int i = 0; i < 10000; i++) {
		size_t w = widths[rnd() % N_ELEMS(widths)] & 0x1e; /* bounds w for gcc -fsanitize */
		size_t len = 2 + w + rnd() % (sizeof(b) - 2 - w);
		size_t off = 2 + ((rnd() % (len - w - 1)) & ~(size_t)1);
		uint8_t old[32], new[32];
		uint16_t c, want;

		rnd_fill(b, len);
		b[0] |= 1; /* never all zeros: a pseudo-header never is */
		c = ref_csum(NULL, 0, b, len);
		memcpy(old, b + off, w);
		rnd_fill(new, w);
		if (rnd() % 4 == 0)
			memset(new, rnd() % 2 ? 0xff : 0x00, w);
		memcpy(b + off, new, w);
		want = ref_csum(NULL, 0, b, len);
		assert_int_equal(tun_csum_update(c, old, new, w), want);
		if (w == 2)
			assert_int_equal(tun_csum_update16(c, (uint16_t)(old[0] << 8 | old[1]),
						 (uint16_t)(new[0] << 8 | new[1])),
				want);
		if (w == 4)
			assert_int_equal(tun_csum_update32(c, rd32(old), rd32(new)), want);
	}
}

/* ---- random packets, and the NAT rewrite ---- */

static size_t pseudo(
	uint8_t *ph, const uint8_t *ip, int v6, uint8_t proto, size_t len, size_t src_off)
{
	size_t alen = v6 ? 16 : 4;

	memcpy(ph, ip + src_off, 2 * alen);
	ph[2 * alen] = 0;
	ph[2 * alen + 1] = proto;
	ph[2 * alen + 2] = (uint8_t)(len >> 8);
	ph[2 * alen + 3] = (uint8_t)len;
	return 2 * alen + 4;
}

/* The checksums a packet should carry, recomputed with the reference. */
struct sums {
	uint16_t ip, l4;
};

static struct sums ref_sums(const uint8_t *pkt, size_t l4_off, size_t l4_len, uint8_t proto)
{
	int v6 = pkt[0] >> 4 == 6;
	size_t csum_off = proto == TUN_IPPROTO_TCP ? 16 : 6;
	uint8_t ph[40], l4[PKT_MAX];
	struct sums s = { 0, 0 };
	size_t phlen = pseudo(ph, pkt, v6, proto, l4_len, v6 ? 8 : 12);

	memcpy(l4, pkt + l4_off, l4_len);
	l4[csum_off] = l4[csum_off + 1] = 0;
	s.l4 = ref_csum(ph, phlen, l4, l4_len);
	if (proto == TUN_IPPROTO_UDP && !s.l4)
		s.l4 = 0xffff;
	if (!v6) {
		uint8_t h[60];
		size_t hlen = (size_t)(pkt[0] & 0x0f) * 4;

		memcpy(h, pkt, hlen);
		h[10] = h[11] = 0;
		s.ip = ref_csum(NULL, 0, h, hlen);
	}
	return s;
}

static void rnd_addr(struct tun_addr *a, int family)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	rnd_fill(a->ip, family == AF_INET ? 4 : 16);
}

/* Writes random IPv6 extension headers (hop-by-hop only first); returns their length. */
static size_t rnd_ext(uint8_t *p, uint8_t *first, uint8_t last)
{
	static const uint8_t types[] = { TUN_IPPROTO_DSTOPTS, TUN_IPPROTO_ROUTING };
	size_t n = rnd() % 4, off = 0;
	uint8_t *next = first;

	for (size_t i = 0; i < n; i++) {
		size_t elen = 8 * (1 + rnd() % 3);

		*next = i == 0 && rnd() % 2 ? TUN_IPPROTO_HOPOPTS : types[rnd() % 2];
		rnd_fill(p + off, elen);
		p[off + 1] = (uint8_t)(elen / 8 - 1);
		next = p + off;
		off += elen;
	}
	*next = last;
	return off;
}

struct gen {
	uint8_t buf[4096];
	size_t len, l4_off, l4_len;
	uint8_t proto;
	int udp_nocsum;
};

/* A random TCP or UDP packet with IPv4 options or IPv6 extension headers, TCP
 * options, any payload length, and right checksums. */
static void gen_packet(struct gen *g, int family, uint8_t proto)
{
	int v6 = family == AF_INET6;
	size_t hlen = v6 ? TUN_IPV6_HLEN : 20 + 4 * (rnd() % 2 ? rnd() % 11 : 0);
	size_t l4h = proto == TUN_IPPROTO_TCP ? 20 + 4 * (rnd() % 11) : 8;
	size_t pl = rnd() % 4 ? rnd() % 1500 : rnd() % 8;
	uint8_t *h = g->buf, *t;
	struct sums s;

	memset(g, 0, sizeof(*g));
	g->proto = proto;
	rnd_fill(h, hlen);
	if (v6) {
		h[0] = 0x60 | (h[0] & 0x0f);
		hlen += rnd_ext(h + hlen, h + 6, proto);
	} else {
		h[0] = (uint8_t)(0x40 | (hlen / 4));
		h[6] &= 0x40; /* DF or not; never a fragment */
		h[7] = 0;
		h[9] = proto;
	}
	t = h + hlen;
	rnd_fill(t, l4h + pl);
	g->l4_off = hlen;
	g->l4_len = l4h + pl;
	g->len = hlen + l4h + pl;
	wr16(h + (v6 ? 4 : 2), (uint16_t)(v6 ? g->len - 40 : g->len));
	if (proto == TUN_IPPROTO_TCP)
		t[12] = (uint8_t)((l4h / 4) << 4 | (t[12] & 0x0f));
	else
		wr16(t + 4, (uint16_t)g->l4_len);
	s = ref_sums(h, g->l4_off, g->l4_len, proto);
	g->udp_nocsum = !v6 && proto == TUN_IPPROTO_UDP && rnd() % 8 == 0;
	wr16(t + (proto == TUN_IPPROTO_TCP ? 16 : 6), g->udp_nocsum ? 0 : s.l4);
	if (!v6)
		wr16(h + 10, s.ip);
}

static void check_rewrite(int family, uint8_t proto)
{
	struct tun_addr src, dst;
	struct tun_pkt p, q;
	struct gen g;

	gen_packet(&g, family, proto);
	assert_int_equal(tun_parse(&p, g.buf, g.len), 0);
	assert_int_equal(p.proto, proto);
	assert_int_equal(p.l4_off, g.l4_off);
	assert_int_equal(tun_verify(&p), 0);
	rnd_addr(&src, family);
	rnd_addr(&dst, family);
	/* sometimes keep one end, as the gateway's rewrite of one side does */
	if (rnd() % 4 == 0)
		src = p.src;
	uint16_t sport = (uint16_t)rnd(), dport = (uint16_t)rnd();
	assert_int_equal(tun_rewrite(&p, &src, sport, &dst, dport), 0);
	assert_memory_equal(&p.src, &src, sizeof(src));
	assert_memory_equal(&p.dst, &dst, sizeof(dst));
	assert_int_equal(p.sport, sport);
	assert_int_equal(p.dport, dport);

	struct sums s = ref_sums(g.buf, g.l4_off, g.l4_len, proto);
	const uint8_t *csum = g.buf + g.l4_off + (proto == TUN_IPPROTO_TCP ? 16 : 6);
	assert_int_equal(rd16(csum), g.udp_nocsum ? 0 : s.l4);
	if (family == AF_INET)
		assert_int_equal(rd16(g.buf + 10), s.ip);

	assert_int_equal(tun_parse(&q, g.buf, g.len), 0);
	assert_int_equal(tun_verify(&q), 0);
	assert_memory_equal(&q, &p, sizeof(p));
}

static void test_rewrite_random(void **state)
{
	static const int families[] = { AF_INET, AF_INET6 };
	static const uint8_t protos[] = { TUN_IPPROTO_TCP, TUN_IPPROTO_UDP };

	(void)state;
	for (int i = 0; i < 10000; i++)
		for (size_t f = 0; f < N_ELEMS(families); f++)
			for (size_t k = 0; k < N_ELEMS(protos); k++)
				check_rewrite(families[f], protos[k]);
}

/* A packet from a TUN with offloads (VIRTIO_NET_HDR_F_NEEDS_CSUM) carries only
 * the pseudo-header's sum, uncomplemented, in its checksum field. After the
 * rewrite, completing it as the device does (sum from the L4 header to the end,
 * complement) gives the checksum of the rewritten packet. */
static void check_rewrite_partial(int family, uint8_t proto)
{
	size_t csum_off = proto == TUN_IPPROTO_TCP ? 16 : 6;
	struct tun_addr src, dst;
	struct tun_pkt p;
	uint8_t ph[40];
	struct gen g;

	gen_packet(&g, family, proto);
	uint8_t *l4 = g.buf + g.l4_off;
	size_t phlen =
		pseudo(ph, g.buf, family == AF_INET6, proto, g.l4_len, family == AF_INET6 ? 8 : 12);
	wr16(l4 + csum_off, (uint16_t)~ref_csum(NULL, 0, ph, phlen));
	assert_int_equal(tun_parse(&p, g.buf, g.len), 0);
	p.l4_csum_partial = true;
	rnd_addr(&src, family);
	rnd_addr(&dst, family);
	assert_int_equal(tun_rewrite(&p, &src, (uint16_t)rnd(), &dst, (uint16_t)rnd()), 0);

	uint16_t done = ref_csum(NULL, 0, l4, g.l4_len);
	struct sums s = ref_sums(g.buf, g.l4_off, g.l4_len, proto);
	if (proto == TUN_IPPROTO_UDP && !done)
		done = 0xffff; /* RFC 768, as the kernel sends it */
	assert_int_equal(done, s.l4);
	if (family == AF_INET)
		assert_int_equal(rd16(g.buf + 10), s.ip);
}

static void test_rewrite_partial_random(void **state)
{
	(void)state;
	for (int i = 0; i < 10000; i++) {
		check_rewrite_partial(AF_INET, TUN_IPPROTO_TCP);
		check_rewrite_partial(AF_INET6, TUN_IPPROTO_TCP);
		check_rewrite_partial(AF_INET, TUN_IPPROTO_UDP);
		check_rewrite_partial(AF_INET6, TUN_IPPROTO_UDP);
	}
}

/* A rewrite whose UDP checksum comes out 0 sends 0xffff, as a recomputation
 * does (RFC 768). With source port 0 the datagram sums to S and its checksum
 * is ~S; that as the source port makes the sum all ones. */
static void test_rewrite_udp_zero(void **state)
{
	(void)state;
	for (int i = 0; i < 200; i++) {
		int family = i % 2 ? AF_INET6 : AF_INET;
		uint8_t ph[40], l4[2048];
		struct tun_pkt p;
		struct gen g;

		do
			gen_packet(&g, family, TUN_IPPROTO_UDP);
		while (g.udp_nocsum);
		assert_int_equal(tun_parse(&p, g.buf, g.len), 0);
		size_t phlen = pseudo(ph, g.buf, family == AF_INET6, TUN_IPPROTO_UDP, g.l4_len,
			family == AF_INET6 ? 8 : 12);
		memcpy(l4, g.buf + g.l4_off, g.l4_len);
		memset(l4, 0, 2);
		memset(l4 + 6, 0, 2);
		uint16_t sport = ref_csum(ph, phlen, l4, g.l4_len);
		struct tun_addr src = p.src, dst = p.dst;
		assert_int_equal(tun_rewrite(&p, &src, sport, &dst, p.dport), 0);
		assert_int_equal(rd16(g.buf + g.l4_off + 6), 0xffff);
		assert_int_equal(ref_sums(g.buf, g.l4_off, g.l4_len, TUN_IPPROTO_UDP).l4, 0xffff);
		assert_int_equal(tun_verify(&p), 0);
	}
}

static void test_rewrite_refused(void **state)
{
	struct tun_addr a4 = addr("1.2.3.4"), a6 = addr("::1");
	uint8_t b[64];
	struct tun_pkt p;

	(void)state;
	memcpy(b, pkt_v6_tcp, sizeof(pkt_v6_tcp));
	assert_int_equal(tun_parse(&p, b, sizeof(pkt_v6_tcp)), 0);
	assert_int_equal(tun_rewrite(&p, &a4, 1, &a4, 2), -EINVAL);
	assert_int_equal(tun_rewrite(&p, &a6, 1, &a4, 2), -EINVAL);
	assert_memory_equal(b, pkt_v6_tcp, sizeof(pkt_v6_tcp));
	memcpy(b, pkt_v6_ping, sizeof(pkt_v6_ping));
	assert_int_equal(tun_parse(&p, b, sizeof(b)), 0);
	assert_int_equal(tun_rewrite(&p, &a6, 1, &a6, 2), -EINVAL);
}

/* The gateway's two rewrites of section 2 compose back to the original. */
static void test_rewrite_roundtrip(void **state)
{
	struct tun_addr gw = addr("198.18.0.1"), pseudo_client = addr("198.18.0.2");
	uint8_t b[sizeof(pkt_v4_syn)];
	struct tun_pkt p;

	(void)state;
	memcpy(b, pkt_v4_syn, sizeof(b));
	assert_int_equal(tun_parse(&p, b, sizeof(b)), 0);
	struct tun_addr c = p.src, d = p.dst;
	assert_int_equal(tun_rewrite(&p, &pseudo_client, 10001, &gw, 7000), 0);
	assert_int_equal(tun_verify(&p), 0);
	assert_int_equal(tun_rewrite(&p, &c, 40000, &d, 80), 0);
	assert_memory_equal(b, pkt_v4_syn, sizeof(b));
}

/* ---- builders ---- */

static void parse_ok(struct tun_pkt *p, uint8_t *b, int len)
{
	assert_true(len > 0);
	assert_int_equal(tun_parse(p, b, (size_t)len), 0);
	assert_int_equal(p->len, len);
	assert_int_equal(tun_verify(p), 0);
	assert_int_equal(p->ttl, TUN_TTL);
	assert_int_equal(p->frag, TUN_FRAG_NONE);
}

static void check_udp(const char *src, const char *dst, size_t len)
{
	static uint8_t b[PKT_MAX], payload[PKT_MAX];
	struct tun_addr s = addr(src), d = addr(dst);
	size_t hlen = s.family == AF_INET ? 28 : 48;
	struct tun_pkt p;
	int n;

	rnd_fill(payload, len);
	n = tun_build_udp(b, sizeof(b), &s, 53, &d, 40000, payload, len);
	assert_int_equal(n, hlen + len);
	parse_ok(&p, b, n);
	assert_int_equal(p.proto, TUN_IPPROTO_UDP);
	assert_memory_equal(&p.src, &s, sizeof(s));
	assert_memory_equal(&p.dst, &d, sizeof(d));
	assert_int_equal(p.sport, 53);
	assert_int_equal(p.dport, 40000);
	assert_int_equal(p.payload_off, hlen);
	assert_int_equal(p.payload_len, len);
	assert_memory_equal(b + hlen, payload, len);
	assert_int_not_equal(rd16(b + p.l4_off + 6), 0);
	if (s.family == AF_INET)
		assert_int_equal(b[6] & 0x40, 0); /* DF clear */
	assert_int_equal(tun_build_udp(b, (size_t)n - 1, &s, 53, &d, 40000, payload, len), -ENOSPC);
	/* the payload already in place */
	memcpy(b + hlen, payload, len);
	uint8_t *copy = dup_exact(b, (size_t)n);
	assert_int_equal(tun_build_udp(b, sizeof(b), &s, 53, &d, 40000, b + hlen, len), n);
	assert_memory_equal(b, copy, (size_t)n);
	free(copy);
}

static void test_build_udp(void **state)
{
	static const size_t lens[] = { 0, 1, 5, 8, 511, 1472, 9000 };

	(void)state;
	for (size_t i = 0; i < N_ELEMS(lens); i++) {
		check_udp("93.184.216.34", "10.0.0.2", lens[i]);
		check_udp("2001:db8::53", "fd00::2", lens[i]);
	}
	for (int i = 0; i < 300; i++) {
		check_udp("198.18.0.1", "10.0.0.2", rnd() % 3000);
		check_udp("fd00::1", "fd00::2", rnd() % 3000);
	}
	check_udp("1.2.3.4", "5.6.7.8", 0xffff - 28);
	check_udp("::1", "::2", 0xffff - 8);
}

/* DF is clear, so different datagrams of a flow need different IPv4 IDs
 * (RFC 6864, 4.2): the kernel may fragment them on the way to the client. */
static void test_build_udp_ipv4_id(void **state)
{
	struct tun_addr s = addr("93.184.216.34"), d = addr("10.0.0.2");
	uint8_t a[64], b[64];

	(void)state;
	assert_int_equal(tun_build_udp(a, sizeof(a), &s, 53, &d, 40000, "one", 3), 31);
	assert_int_equal(tun_build_udp(b, sizeof(b), &s, 53, &d, 40000, "two", 3), 31);
	assert_int_not_equal(rd16(a + 4), rd16(b + 4));
	assert_int_equal(rd16(a + 6), 0);
}

static void test_build_udp_refused(void **state)
{
	static uint8_t b[PKT_MAX + 16];
	struct tun_addr a4 = addr("1.2.3.4"), a6 = addr("::1");

	(void)state;
	assert_int_equal(tun_build_udp(b, sizeof(b), &a4, 1, &a6, 2, b, 1), -EINVAL);
	assert_int_equal(tun_build_udp(b, sizeof(b), &a4, 1, &a4, 2, b, 0xffff - 27), -EMSGSIZE);
	assert_int_equal(tun_build_udp(b, sizeof(b), &a6, 1, &a6, 2, b, 0xffff - 7), -EMSGSIZE);
	assert_int_equal(tun_build_udp(b, 0, &a4, 1, &a4, 2, b, 0), -ENOSPC);
	assert_int_equal(tun_build_udp(b, 47, &a6, 1, &a6, 2, b, 0), -ENOSPC);
}

static void check_rst(const uint8_t *orig, size_t len, uint32_t seq, uint32_t ack, uint8_t flags)
{
	uint8_t b[128], *in = dup_exact(orig, len);
	struct tun_pkt o, p;
	int n;

	assert_int_equal(tun_parse(&o, in, len), 0);
	n = tun_build_rst(b, sizeof(b), &o);
	parse_ok(&p, b, n);
	assert_int_equal(n, (o.src.family == AF_INET ? 20 : 40) + 20);
	assert_int_equal(p.proto, TUN_IPPROTO_TCP);
	assert_memory_equal(&p.src, &o.dst, sizeof(p.src));
	assert_memory_equal(&p.dst, &o.src, sizeof(p.dst));
	assert_int_equal(p.sport, o.dport);
	assert_int_equal(p.dport, o.sport);
	assert_int_equal(p.tcp_flags, flags);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(rd32(b + p.l4_off + 4), seq);
	assert_int_equal(rd32(b + p.l4_off + 8), ack);
	assert_int_equal(tun_build_rst(b, (size_t)n - 1, &o), -ENOSPC);
	/* in place, over the segment it answers */
	uint8_t *big = malloc(128);
	memcpy(big, orig, len);
	assert_int_equal(tun_parse(&o, big, len), 0);
	memset(b, 0, sizeof(b));
	assert_int_equal(tun_build_rst(b, sizeof(b), &o), n);
	assert_int_equal(tun_build_rst(big, 128, &o), n);
	assert_memory_equal(big, b, (size_t)n);
	free(big);
	free(in);
}

static void test_build_rst(void **state)
{
	uint8_t fin[sizeof(pkt_v4_syn)];

	(void)state;
	/* a SYN: <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK> */
	check_rst(PKT(pkt_v4_syn), 0, 0x11223345, TUN_TCP_RST | TUN_TCP_ACK);
	/* an ACK: <SEQ=SEG.ACK><CTL=RST> */
	check_rst(PKT(pkt_v6_tcp), 0xdeadbeef, 0, TUN_TCP_RST);
	/* a FIN with no ACK counts one; checksums don't matter to the builder */
	memcpy(fin, pkt_v4_syn, sizeof(fin));
	fin[33] = TUN_TCP_FIN | TUN_TCP_PSH;
	check_rst(PKT(fin), 0, 0x11223345, TUN_TCP_RST | TUN_TCP_ACK);
	/* sequence numbers wrap */
	fin[24] = fin[25] = fin[26] = fin[27] = 0xff;
	check_rst(PKT(fin), 0, 0, TUN_TCP_RST | TUN_TCP_ACK);
}

static void test_build_rst_refused(void **state)
{
	uint8_t b[128], in[sizeof(pkt_v4_syn)];
	struct tun_pkt o;

	(void)state;
	memcpy(in, pkt_v4_syn, sizeof(in));
	in[33] = TUN_TCP_RST | TUN_TCP_ACK; /* never answer an RST */
	assert_int_equal(tun_parse(&o, in, sizeof(in)), 0);
	assert_int_equal(tun_build_rst(b, sizeof(b), &o), -EINVAL);
	memcpy(b, pkt_v4_udp, sizeof(pkt_v4_udp));
	assert_int_equal(tun_parse(&o, b, sizeof(pkt_v4_udp)), 0);
	assert_int_equal(tun_build_rst(in, sizeof(in), &o), -EINVAL);
	memcpy(b, pkt_v4_frag1, sizeof(pkt_v4_frag1));
	b[9] = TUN_IPPROTO_TCP;
	assert_int_equal(tun_parse(&o, b, sizeof(pkt_v4_frag1)), 0);
	assert_int_equal(tun_build_rst(in, sizeof(in), &o), -EINVAL);
}

/* Builds the error about orig and checks it: the addresses, the type and
 * code, 4 zero bytes, and the quote, the first `quote` bytes of orig. */
static int check_unreach(const uint8_t *orig, size_t len, enum tun_unreach why, const char *from,
	uint8_t code, size_t quote)
{
	static uint8_t b[2048];
	uint8_t *in = dup_exact(orig, len);
	struct tun_addr f;
	struct tun_pkt o, p;
	int n;

	memset(&f, 0, sizeof(f));
	assert_int_equal(tun_parse(&o, in, len), 0);
	if (from)
		f = addr(from);
	n = tun_build_unreach(b, sizeof(b), &o, why, from ? &f : NULL);
	if (n < 0) {
		free(in);
		return n;
	}
	int v4 = o.src.family == AF_INET;
	size_t hlen = v4 ? 20 : 40;
	parse_ok(&p, b, n);
	assert_int_equal(n, hlen + 8 + quote);
	assert_int_equal(p.proto, v4 ? TUN_IPPROTO_ICMP : TUN_IPPROTO_ICMPV6);
	assert_int_equal(p.icmp_type, v4 ? TUN_ICMP_DEST_UNREACH : TUN_ICMP6_DEST_UNREACH);
	assert_int_equal(p.icmp_code, code);
	assert_memory_equal(&p.src, from ? &f : &o.dst, sizeof(p.src));
	assert_memory_equal(&p.dst, &o.src, sizeof(p.dst));
	assert_memory_equal(b + hlen + 4, "\0\0\0\0", 4);
	assert_int_equal(p.payload_len, quote);
	assert_memory_equal(b + p.payload_off, orig, quote);
	assert_int_equal(tun_build_unreach(b, (size_t)n - 1, &o, why, from ? &f : NULL), -ENOSPC);
	/* in place */
	uint8_t *big = malloc(2048);
	memcpy(big, orig, len);
	assert_int_equal(tun_parse(&o, big, len), 0);
	assert_int_equal(tun_build_unreach(big, 2048, &o, why, from ? &f : NULL), n);
	assert_memory_equal(big, b, (size_t)n);
	free(big);
	free(in);
	return n;
}

static void test_build_unreach(void **state)
{
	static uint8_t big[1500];
	static const uint8_t payload[1500 - 28];
	struct tun_addr c4 = addr("10.0.0.2"), d4 = addr("93.184.216.34");
	struct tun_addr c6 = addr("fd00::2"), d6 = addr("2001:db8::53");

	(void)state;
	/* the whole of a small packet, IP options included */
	assert_int_equal(check_unreach(PKT(pkt_v4_udp), TUN_UNREACH_PORT, NULL, 3, 37), 65);
	assert_int_equal(check_unreach(PKT(pkt_v4_syn), TUN_UNREACH_HOST, "198.18.0.1", 1, 44), 72);
	assert_int_equal(check_unreach(PKT(pkt_v6_udp), TUN_UNREACH_PORT, NULL, 4, 71), 119);
	assert_int_equal(check_unreach(PKT(pkt_v6_tcp), TUN_UNREACH_HOST, "fd00::1", 3, 63), 111);
	assert_int_equal(check_unreach(PKT(pkt_v4_syn), TUN_UNREACH_NET, NULL, 0, 44), 72);
	assert_int_equal(check_unreach(PKT(pkt_v4_syn), TUN_UNREACH_ADMIN, NULL, 13, 44), 72);
	assert_int_equal(check_unreach(PKT(pkt_v6_tcp), TUN_UNREACH_NET, NULL, 0, 63), 111);
	assert_int_equal(check_unreach(PKT(pkt_v6_tcp), TUN_UNREACH_ADMIN, NULL, 1, 63), 111);
	/* a query (echo) may be answered with an error */
	assert_int_equal(check_unreach(PKT(pkt_v4_ping), TUN_UNREACH_HOST, NULL, 1, 36), 64);
	assert_int_equal(check_unreach(PKT(pkt_v6_ping), TUN_UNREACH_HOST, NULL, 3, 52), 100);
	/* and so may a first fragment */
	assert_int_equal(check_unreach(PKT(pkt_v4_frag1), TUN_UNREACH_PORT, NULL, 3, 36), 64);
	assert_int_equal(check_unreach(PKT(pkt_v6_frag1), TUN_UNREACH_PORT, NULL, 4, 64), 112);
	/* big packets: as much as fits in 576 / 1280 bytes */
	int n = tun_build_udp(big, sizeof(big), &c4, 1, &d4, 2, payload, sizeof(payload));
	assert_int_equal(n, 1500);
	assert_int_equal(check_unreach(big, 1500, TUN_UNREACH_PORT, NULL, 3, 548), 576);
	n = tun_build_udp(big, sizeof(big), &c6, 1, &d6, 2, payload, 1500 - 48);
	assert_int_equal(n, 1500);
	assert_int_equal(check_unreach(big, 1500, TUN_UNREACH_PORT, NULL, 4, 1232), 1280);
	n = tun_build_udp(big, sizeof(big), &c6, 1, &d6, 2, payload, 1232 - 48);
	assert_int_equal(check_unreach(big, (size_t)n, TUN_UNREACH_PORT, NULL, 4, 1232), 1280);
}

static void test_build_unreach_refused(void **state)
{
	uint8_t b[2048], err[2048];
	struct tun_addr a6 = addr("::1");
	struct tun_pkt o;
	int n;

	(void)state;
	/* never an error about an error */
	memcpy(b, pkt_v4_udp, sizeof(pkt_v4_udp));
	assert_int_equal(tun_parse(&o, b, sizeof(pkt_v4_udp)), 0);
	n = tun_build_unreach(err, sizeof(err), &o, TUN_UNREACH_PORT, NULL);
	assert_int_equal(check_unreach(err, (size_t)n, TUN_UNREACH_HOST, NULL, 0, 0), -EINVAL);
	assert_int_equal(
		tun_build_unreach(err, sizeof(err), &o, TUN_UNREACH_ADMIN + 1, NULL), -EINVAL);
	assert_int_equal(tun_build_unreach(err, sizeof(err), &o, TUN_UNREACH_PORT, &a6), -EINVAL);
	memcpy(b, pkt_v6_tcp, sizeof(pkt_v6_tcp));
	assert_int_equal(tun_parse(&o, b, sizeof(pkt_v6_tcp)), 0);
	n = tun_build_unreach(err, sizeof(err), &o, TUN_UNREACH_PORT, NULL);
	assert_int_equal(check_unreach(err, (size_t)n, TUN_UNREACH_HOST, NULL, 0, 0), -EINVAL);
	/* nor about a later fragment */
	assert_int_equal(check_unreach(PKT(pkt_v4_frag2), TUN_UNREACH_PORT, NULL, 0, 0), -EINVAL);
	assert_int_equal(check_unreach(PKT(pkt_v6_frag2), TUN_UNREACH_PORT, NULL, 0, 0), -EINVAL);
}

/* Errors are sent about ICMP queries, never about ICMP errors. */
static void test_build_unreach_icmp_types(void **state)
{
	static const struct {
		uint8_t type;
		int error;
	} v4[] = {
		{ 0, 0 }, { 3, 1 }, { 4, 1 }, { 5, 1 }, { 8, 0 }, { 9, 0 }, { 10, 0 },
		{ 11, 1 }, { 12, 1 }, { 13, 0 }, { 14, 0 }, { 17, 0 }, { 18, 0 }, { 255, 0 },
	}, v6[] = {
		{ 0, 1 }, { 1, 1 }, { 2, 1 }, { 3, 1 }, { 4, 1 }, { 127, 1 },
		{ 128, 0 }, { 129, 0 }, { 135, 0 }, { 255, 0 },
	};
	uint8_t b[64], err[2048];
	struct tun_pkt o;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(v4); i++) {
		memcpy(b, pkt_v4_ping, sizeof(pkt_v4_ping));
		b[20] = v4[i].type;
		assert_int_equal(tun_parse(&o, b, sizeof(pkt_v4_ping)), 0);
		assert_int_equal(tun_build_unreach(err, sizeof(err), &o, TUN_UNREACH_HOST, NULL),
			v4[i].error ? -EINVAL : 64);
	}
	for (size_t i = 0; i < N_ELEMS(v6); i++) {
		memcpy(b, pkt_v6_ping, sizeof(pkt_v6_ping));
		b[40] = v6[i].type;
		assert_int_equal(tun_parse(&o, b, sizeof(pkt_v6_ping)), 0);
		assert_int_equal(tun_build_unreach(err, sizeof(err), &o, TUN_UNREACH_HOST, NULL),
			v6[i].error ? -EINVAL : 100);
	}
}

/* Never about packets to or from an address that is not one host. */
static void test_build_unreach_not_unicast(void **state)
{
	static const struct {
		size_t off;
		uint8_t val;
	} v4[] = {
		{ 16, 224 }, /* to 224.0.0.34 */
		{ 16, 239 },
		{ 12, 224 }, /* from multicast */
	}, v6[] = {
		{ 24, 0xff }, /* to ff01:db8:1::80 */
		{ 8, 0xff },
	};
	uint8_t b[128], err[2048];
	struct tun_pkt o;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(v4); i++) {
		memcpy(b, pkt_v4_syn, sizeof(pkt_v4_syn));
		b[v4[i].off] = v4[i].val;
		assert_int_equal(tun_parse(&o, b, sizeof(pkt_v4_syn)), 0);
		assert_int_equal(
			tun_build_unreach(err, sizeof(err), &o, TUN_UNREACH_PORT, NULL), -EINVAL);
	}
	for (size_t i = 0; i < N_ELEMS(v6); i++) {
		memcpy(b, pkt_v6_tcp, sizeof(pkt_v6_tcp));
		b[v6[i].off] = v6[i].val;
		assert_int_equal(tun_parse(&o, b, sizeof(pkt_v6_tcp)), 0);
		assert_int_equal(
			tun_build_unreach(err, sizeof(err), &o, TUN_UNREACH_PORT, NULL), -EINVAL);
	}
	memcpy(b, pkt_v4_syn, sizeof(pkt_v4_syn));
	memset(b + 16, 0xff, 4); /* to 255.255.255.255 */
	assert_int_equal(tun_parse(&o, b, sizeof(pkt_v4_syn)), 0);
	assert_int_equal(tun_build_unreach(err, sizeof(err), &o, TUN_UNREACH_PORT, NULL), -EINVAL);
	memset(b + 16, 0, 4); /* to 0.0.0.0 */
	assert_int_equal(tun_parse(&o, b, sizeof(pkt_v4_syn)), 0);
	assert_int_equal(tun_build_unreach(err, sizeof(err), &o, TUN_UNREACH_PORT, NULL), -EINVAL);
	memcpy(b, pkt_v6_tcp, sizeof(pkt_v6_tcp));
	memset(b + 8, 0, 16); /* from :: */
	assert_int_equal(tun_parse(&o, b, sizeof(pkt_v6_tcp)), 0);
	assert_int_equal(tun_build_unreach(err, sizeof(err), &o, TUN_UNREACH_PORT, NULL), -EINVAL);
}

static void check_echo(const uint8_t *orig, size_t len, uint8_t reply_type)
{
	uint8_t b[256], *in = dup_exact(orig, len);
	struct tun_pkt o, p;
	int n;

	assert_int_equal(tun_parse(&o, in, len), 0);
	n = tun_build_echo_reply(b, sizeof(b), &o);
	parse_ok(&p, b, n);
	assert_int_equal(n, (o.src.family == AF_INET ? 20 : 40) + o.l4_len);
	assert_int_equal(p.proto, o.proto);
	assert_int_equal(p.icmp_type, reply_type);
	assert_int_equal(p.icmp_code, 0);
	assert_memory_equal(&p.src, &o.dst, sizeof(p.src));
	assert_memory_equal(&p.dst, &o.src, sizeof(p.dst));
	/* identifier, sequence number and data come back */
	assert_int_equal(p.l4_len, o.l4_len);
	assert_memory_equal(b + p.l4_off + 4, in + o.l4_off + 4, o.l4_len - 4);
	assert_int_equal(tun_build_echo_reply(b, (size_t)n - 1, &o), -ENOSPC);
	uint8_t *big = malloc(256);
	memcpy(big, orig, len);
	assert_int_equal(tun_parse(&o, big, len), 0);
	assert_int_equal(tun_build_echo_reply(big, 256, &o), n);
	assert_memory_equal(big, b, (size_t)n);
	/* a reply is not answered */
	assert_int_equal(tun_parse(&o, big, (size_t)n), 0);
	assert_int_equal(tun_build_echo_reply(b, sizeof(b), &o), -EINVAL);
	free(big);
	free(in);
}

static void test_build_echo_reply(void **state)
{
	uint8_t ext[sizeof(pkt_v6_ping) + 8];

	(void)state;
	check_echo(PKT(pkt_v4_ping), TUN_ICMP_ECHO_REPLY);
	check_echo(PKT(pkt_v6_ping), TUN_ICMP6_ECHO_REPLY);
	/* a destination options header in the request is not in the reply; the
	 * ICMPv6 checksum doesn't cover it */
	memcpy(ext, pkt_v6_ping, 40);
	ext[5] += 8;
	ext[6] = TUN_IPPROTO_DSTOPTS;
	memcpy(ext + 40, (const uint8_t[]){ TUN_IPPROTO_ICMPV6, 0, 1, 4, 0, 0, 0, 0 }, 8);
	memcpy(ext + 48, pkt_v6_ping + 40, sizeof(pkt_v6_ping) - 40);
	check_echo(PKT(ext), TUN_ICMP6_ECHO_REPLY);
}

static void test_build_echo_refused(void **state)
{
	uint8_t b[256], in[64];
	struct tun_pkt o;

	(void)state;
	memcpy(in, pkt_v4_udp, sizeof(pkt_v4_udp));
	assert_int_equal(tun_parse(&o, in, sizeof(pkt_v4_udp)), 0);
	assert_int_equal(tun_build_echo_reply(b, sizeof(b), &o), -EINVAL);
	memcpy(in, pkt_v4_ping, sizeof(pkt_v4_ping));
	memset(in + 16, 0xff, 4); /* a broadcast ping */
	assert_int_equal(tun_parse(&o, in, sizeof(pkt_v4_ping)), 0);
	assert_int_equal(tun_build_echo_reply(b, sizeof(b), &o), -EINVAL);
	memcpy(in, pkt_v4_ping, sizeof(pkt_v4_ping));
	in[9] = TUN_IPPROTO_ICMPV6; /* an ICMPv6 echo request in IPv4 */
	in[20] = TUN_ICMP6_ECHO_REQUEST;
	assert_int_equal(tun_parse(&o, in, sizeof(pkt_v4_ping)), 0);
	assert_int_equal(tun_build_echo_reply(b, sizeof(b), &o), -EINVAL);
}

/* ---- tun_verify ---- */

static void test_verify_bad(void **state)
{
	uint8_t b[256];
	struct tun_pkt p;

	(void)state;
	/* any one byte flipped (addresses, ports, payload, the header) is caught */
	for (size_t i = 0; i < N_ELEMS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		size_t end = c->frag ? 20 : c->len;

		if (c->frag && c->buf[0] >> 4 == 6)
			continue;
		for (size_t k = 0; k < end; k++) {
			memcpy(b, c->buf, c->len);
			b[k] ^= 0x10;
			if (tun_parse(&p, b, c->len))
				continue;
			/* the IPv6 header fields outside the pseudo-header are not covered */
			if (b[0] >> 4 == 6 && k < 8 && k != 4 && k != 5)
				continue;
			if (c->buf[0] >> 4 == 6 && k >= 40 && k < c->l4_off)
				continue; /* nor are extension headers */
			if (tun_verify(&p) != -EBADMSG)
				print_error(
					"\"%s\": byte %zu flipped, still verifies\n", c->name, k);
			assert_int_equal(tun_verify(&p), -EBADMSG);
		}
	}
	/* UDP with no checksum: fine over IPv4, not over IPv6 */
	memcpy(b, pkt_v4_udp, sizeof(pkt_v4_udp));
	b[30] = b[31] = 0;
	assert_int_equal(tun_parse(&p, b, sizeof(pkt_v4_udp)), 0);
	assert_int_equal(tun_verify(&p), 0);
	memcpy(b, pkt_v6_udp, sizeof(pkt_v6_udp));
	b[62] = b[63] = 0;
	assert_int_equal(tun_parse(&p, b, sizeof(pkt_v6_udp)), 0);
	assert_int_equal(tun_verify(&p), -EBADMSG);
}

/* ---- the gateway as a router: time exceeded, echoes it builds, fragments it sends ---- */

static void check_time_exceeded(const uint8_t *orig, size_t len, const char *hop, uint8_t type)
{
	uint8_t in[PKT_MAX], b[PKT_MAX];
	struct tun_addr h = addr(hop);
	struct tun_pkt o, p;
	size_t hlen = h.family == AF_INET ? 20 : 40;
	int n;

	memcpy(in, orig, len);
	assert_int_equal(tun_parse(&o, in, len), 0);
	n = tun_build_time_exceeded(b, sizeof(b), &o, &h);
	parse_ok(&p, b, n);
	assert_int_equal(p.icmp_type, type);
	assert_int_equal(p.icmp_code, 0);
	assert_memory_equal(&p.src, &h, sizeof(h));
	assert_memory_equal(&p.dst, &o.src, sizeof(o.src));
	assert_int_equal((size_t)n, hlen + 8 + len); /* the whole packet quoted: it is small */
	assert_memory_equal(b + hlen + 8, orig, len);
	assert_int_equal(tun_build_time_exceeded(b, sizeof(b), &o, NULL), -EINVAL);
	assert_int_equal(tun_build_time_exceeded(b, (size_t)n - 1, &o, &h), -ENOSPC);
}

static void test_build_time_exceeded(void **state)
{
	uint8_t in[PKT_MAX], b[PKT_MAX];
	struct tun_pkt o;
	struct tun_addr h = addr("198.18.0.2");

	(void)state;
	check_time_exceeded(PKT(pkt_v4_udp), "198.18.0.2", TUN_ICMP_TIME_EXCEEDED);
	check_time_exceeded(PKT(pkt_v6_udp), "fdfe:dcba:9876::2", TUN_ICMP6_TIME_EXCEEDED);
	check_time_exceeded(PKT(pkt_v4_ping), "198.18.0.2", TUN_ICMP_TIME_EXCEEDED);
	/* never about an ICMP error, nor from the other family */
	memcpy(in, pkt_v4_udp, sizeof(pkt_v4_udp));
	assert_int_equal(tun_parse(&o, in, sizeof(pkt_v4_udp)), 0);
	int n = tun_build_time_exceeded(b, sizeof(b), &o, &h);
	assert_int_equal(tun_parse(&o, b, (size_t)n), 0);
	assert_int_equal(tun_build_time_exceeded(in, sizeof(in), &o, &h), -EINVAL);
	struct tun_addr h6 = addr("fd00::1");
	assert_int_equal(tun_parse(&o, in, sizeof(pkt_v4_udp)), 0);
	assert_int_equal(tun_build_time_exceeded(b, sizeof(b), &o, &h6), -EINVAL);
}

static void check_build_echo(const char *src, const char *dst, size_t data_len)
{
	static uint8_t b[PKT_MAX], rest[PKT_MAX];
	struct tun_addr s = addr(src), d = addr(dst);
	size_t hlen = s.family == AF_INET ? 20 : 40;
	struct tun_pkt p;

	rnd_fill(rest, 2 + data_len);
	int n = tun_build_echo(b, sizeof(b), &s, &d, true, 0xbeef, rest, 2 + data_len);
	assert_int_equal(n, hlen + 8 + data_len);
	parse_ok(&p, b, n);
	assert_int_equal(
		p.icmp_type, s.family == AF_INET ? TUN_ICMP_ECHO_REPLY : TUN_ICMP6_ECHO_REPLY);
	assert_int_equal(p.icmp_code, 0);
	assert_memory_equal(&p.src, &s, sizeof(s));
	assert_memory_equal(&p.dst, &d, sizeof(d));
	assert_int_equal(rd16(b + hlen + 4), 0xbeef);
	assert_memory_equal(b + hlen + 6, rest, 2 + data_len); /* sequence and data */
	n = tun_build_echo(b, sizeof(b), &s, &d, false, 7, rest, 2 + data_len);
	parse_ok(&p, b, n);
	assert_int_equal(p.icmp_type, s.family == AF_INET ? TUN_ICMP_ECHO : TUN_ICMP6_ECHO_REQUEST);
	assert_int_equal(
		tun_build_echo(b, (size_t)n - 1, &s, &d, false, 7, rest, 2 + data_len), -ENOSPC);
}

static void test_build_echo(void **state)
{
	uint8_t b[128], rest[2] = { 0 };
	struct tun_addr s = addr("10.0.0.1"), d = addr("10.0.0.2"), s6 = addr("fd00::1");
	struct tun_addr bcast = addr("255.255.255.255");

	(void)state;
	for (size_t len = 0; len < 100; len += 7) {
		check_build_echo("10.20.0.2", "192.168.1.5", len);
		check_build_echo("fd20::2", "fd77::2", len);
	}
	check_build_echo("10.20.0.2", "192.168.1.5", 0xffff - 28);
	assert_int_equal(tun_build_echo(b, sizeof(b), &s, &d, true, 1, rest, 1), -EINVAL);
	assert_int_equal(tun_build_echo(b, sizeof(b), &s, &s6, true, 1, rest, 2), -EINVAL);
	assert_int_equal(tun_build_echo(b, sizeof(b), &s, &bcast, true, 1, rest, 2), -EINVAL);
}

/* Split, every piece parses as a fragment within the MTU, and the reassembler gives back the packet. */
static void check_fragment(const char *src, const char *dst, size_t payload_len, size_t mtu)
{
	static uint8_t b[PKT_MAX], payload[PKT_MAX], piece[PKT_MAX], whole[PKT_MAX];
	struct tun_frag_limits lim = TUN_FRAG_LIMITS_DEFAULT;
	struct tun_frag_table *t = tun_frag_new(&lim);
	struct tun_addr s = addr(src), d = addr(dst);
	size_t done = 0, got = 0, pieces = 0, whole_len = 0;
	struct tun_pkt p;
	int n;

	rnd_fill(payload, payload_len);
	int len = tun_build_udp(b, sizeof(b), &s, 53, &d, 40000, payload, payload_len);
	assert_true(len > 0);
	while ((n = tun_fragment(b, (size_t)len, mtu, 0x12345678, &done, piece, sizeof(piece))) >
		0) {
		assert_true((size_t)n <= mtu);
		assert_int_equal(tun_parse(&p, piece, (size_t)n), 0);
		assert_int_not_equal(p.frag, TUN_FRAG_NONE);
		assert_int_equal(p.proto, TUN_IPPROTO_UDP);
		assert_int_equal(whole_len, 0);
		assert_int_equal(tun_frag_add(t, &p, 1000, whole, sizeof(whole), &whole_len), 0);
		got += (size_t)n;
		pieces++;
	}
	assert_int_equal(n, 0);
	assert_true(pieces >= 2);
	assert_int_equal(whole_len, len);
	assert_memory_equal(whole, b, (size_t)len);
	assert_int_equal(tun_fragment(b, (size_t)len, mtu, 1, &done, piece, sizeof(piece)), 0);
	done = 0;
	assert_int_equal(tun_fragment(b, (size_t)len, mtu, 1, &done, piece, 100), -ENOSPC);
	tun_frag_free(t);
}

static void test_fragment(void **state)
{
	uint8_t b[PKT_MAX], piece[PKT_MAX];
	size_t done = 0;

	(void)state;
	check_fragment("10.20.0.2", "192.168.77.2", 3000, 1500);
	check_fragment("10.20.0.2", "192.168.77.2", 1473, 1500);
	check_fragment("10.20.0.2", "192.168.77.2", 0xffff - 28, 576);
	check_fragment("fd20::2", "fd77::2", 3000, 1280);
	check_fragment("fd20::2", "fd77::2", 1300, 1280);
	check_fragment("fd20::2", "fd77::2", 0xffff - 8, 1280);
	for (int i = 0; i < 50; i++) {
		check_fragment("10.0.0.1", "10.0.0.2", 1600 + rnd() % 8000, 576 + rnd() % 1000);
		check_fragment("fd00::1", "fd00::2", 2300 + rnd() % 8000, 1280 + rnd() % 1000);
	}
	/* refused: a fragment already, a DF packet, an MTU below the minimum */
	memcpy(b, pkt_v4_udp, sizeof(pkt_v4_udp));
	assert_int_equal(
		tun_fragment(b, sizeof(pkt_v4_udp), 500, 1, &done, piece, sizeof(piece)), -EINVAL);
	b[6] |= 0x40;
	assert_int_equal(
		tun_fragment(b, sizeof(pkt_v4_udp), 576, 1, &done, piece, sizeof(piece)), -EINVAL);
	b[6] = 0x20;
	assert_int_equal(
		tun_fragment(b, sizeof(pkt_v4_udp), 576, 1, &done, piece, sizeof(piece)), -EINVAL);
	assert_int_equal(
		tun_fragment(pkt_v6_udp, sizeof(pkt_v6_udp), 1279, 1, &done, piece, sizeof(piece)),
		-EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_trailing),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_truncated_consistent),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_udp_padding),
		cmocka_unit_test(test_parse_short_icmp),
		cmocka_unit_test(test_parse_other_proto),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_build_time_exceeded),
		cmocka_unit_test(test_build_echo),
		cmocka_unit_test(test_fragment),
		cmocka_unit_test(test_csum_rfc1071),
		cmocka_unit_test(test_csum_random),
		cmocka_unit_test(test_csum_pseudo),
		cmocka_unit_test(test_csum_rfc1624),
		cmocka_unit_test(test_csum_update_random),
		cmocka_unit_test(test_rewrite_random),
		cmocka_unit_test(test_rewrite_partial_random),
		cmocka_unit_test(test_rewrite_udp_zero),
		cmocka_unit_test(test_rewrite_refused),
		cmocka_unit_test(test_rewrite_roundtrip),
		cmocka_unit_test(test_build_udp),
		cmocka_unit_test(test_build_udp_ipv4_id),
		cmocka_unit_test(test_build_udp_refused),
		cmocka_unit_test(test_build_rst),
		cmocka_unit_test(test_build_rst_refused),
		cmocka_unit_test(test_build_unreach),
		cmocka_unit_test(test_build_unreach_refused),
		cmocka_unit_test(test_build_unreach_icmp_types),
		cmocka_unit_test(test_build_unreach_not_unicast),
		cmocka_unit_test(test_build_echo_reply),
		cmocka_unit_test(test_build_echo_refused),
		cmocka_unit_test(test_verify_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
