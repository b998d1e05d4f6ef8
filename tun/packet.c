/* IP packets of the TUN gateway: parsing, checksums, the NAT rewrite, builders, splitting into fragments. */
#include "packet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "ipfrag.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

enum icmp_unreach_code { /* RFC 792; RFC 1812, 5.2.7.1 */
	ICMP_NET_UNREACH = 0,
	ICMP_HOST_UNREACH = 1,
	ICMP_PORT_UNREACH = 3,
	ICMP_ADMIN_PROHIBITED = 13,
};

enum icmp6_unreach_code { /* RFC 4443, 3.1 */
	ICMP6_NO_ROUTE = 0,
	ICMP6_ADMIN_PROHIBITED = 1,
	ICMP6_ADDR_UNREACH = 3,
	ICMP6_PORT_UNREACH = 4,
};

/* ICMP error messages (RFC 1122, 3.2.2): unreachable, source quench, redirect,
 * time exceeded, parameter problem. Every other type is a query. */
#define ICMP_ERRORS (1u << 3 | 1u << 4 | 1u << 5 | 1u << 11 | 1u << 12)
#define ICMP6_INFO_MIN 128 /* RFC 4443, 2.1: types below are errors */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* ---- checksums ---- */

/* Sums native-endian 32-bit words and swaps once at the end: the one's
 * complement sum does not care about byte order (RFC 1071, 2 (B)). */
uint32_t tun_csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t acc = 0;
	uint32_t w;

	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w, p, 4);
		acc += w;
	}
	if (len) {
		w = 0; /* the odd tail, padded with zeros */
		memcpy(&w, p, len);
		acc += w;
	}
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return sum + ntohs((uint16_t)acc);
}

uint16_t tun_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

uint32_t tun_csum_pseudo(
	const struct tun_addr *src, const struct tun_addr *dst, uint8_t proto, uint32_t len)
{
	size_t alen = addr_len(src->family);
	uint32_t sum = proto + (len >> 16) + (len & 0xffff);

	sum = tun_csum_add(sum, src->ip, alen);
	return tun_csum_add(sum, dst->ip, alen);
}

/* Adds ~m + m' for each 16-bit word of old (m) and new (m'): RFC 1624, 3. */
static uint32_t csum_diff(uint32_t sum, const uint8_t *old, const uint8_t *new, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint16_t)~get16(old + i) + (uint32_t)get16(new + i);
	return sum;
}

uint16_t tun_csum_update16(uint16_t csum, uint16_t old, uint16_t new)
{
	return tun_csum_fold((uint32_t)(uint16_t)~csum + (uint16_t)~old + new);
}

uint16_t tun_csum_update32(uint16_t csum, uint32_t old, uint32_t new)
{
	uint8_t o[4], n[4];

	put32(o, old);
	put32(n, new);
	return tun_csum_update(csum, o, n, sizeof(o));
}

uint16_t tun_csum_update(uint16_t csum, const void *old, const void *new, size_t len)
{
	return tun_csum_fold(csum_diff((uint16_t)~csum, old, new, len));
}

/* ---- the two IP versions ---- */

static void write_ipv4(uint8_t *h, const struct tun_addr *src, const struct tun_addr *dst,
	uint8_t proto, size_t l4_len);
static void write_ipv6(uint8_t *h, const struct tun_addr *src, const struct tun_addr *dst,
	uint8_t proto, size_t l4_len);
static int parse_ipv4(struct tun_pkt *pkt, size_t len);
static int parse_ipv6(struct tun_pkt *pkt, size_t len);
static int icmp_is_error(uint8_t type);
static int icmp6_is_error(uint8_t type);

struct ip_family {
	int family;
	uint8_t version;
	uint8_t hlen;	 /* of the headers we build */
	uint8_t src_off; /* the addresses in the header */
	uint8_t dst_off;
	uint8_t icmp_proto;
	uint8_t unreach_type;
	uint8_t echo_request;
	uint8_t echo_reply;
	uint8_t time_exceeded_type;
	uint16_t min_mtu;
	uint32_t l4_max; /* the most the length fields allow after our header */
	int (*parse)(struct tun_pkt *pkt, size_t len);
	void (*write_hdr)(uint8_t *h, const struct tun_addr *src, const struct tun_addr *dst,
		uint8_t proto, size_t l4_len);
	int (*icmp_is_error)(uint8_t type);
};

static const struct ip_family ip_families[] = {
	{
		.family = AF_INET,
		.version = 4,
		.hlen = TUN_IPV4_HLEN,
		.src_off = 12,
		.dst_off = 16,
		.icmp_proto = TUN_IPPROTO_ICMP,
		.unreach_type = TUN_ICMP_DEST_UNREACH,
		.echo_request = TUN_ICMP_ECHO,
		.echo_reply = TUN_ICMP_ECHO_REPLY,
		.time_exceeded_type = TUN_ICMP_TIME_EXCEEDED,
		.min_mtu = TUN_IPV4_MIN_MTU,
		.l4_max = 0xffff - TUN_IPV4_HLEN,
		.parse = parse_ipv4,
		.write_hdr = write_ipv4,
		.icmp_is_error = icmp_is_error,
	},
	{
		.family = AF_INET6,
		.version = 6,
		.hlen = TUN_IPV6_HLEN,
		.src_off = 8,
		.dst_off = 24,
		.icmp_proto = TUN_IPPROTO_ICMPV6,
		.unreach_type = TUN_ICMP6_DEST_UNREACH,
		.echo_request = TUN_ICMP6_ECHO_REQUEST,
		.echo_reply = TUN_ICMP6_ECHO_REPLY,
		.time_exceeded_type = TUN_ICMP6_TIME_EXCEEDED,
		.min_mtu = TUN_IPV6_MIN_MTU,
		.l4_max = 0xffff,
		.parse = parse_ipv6,
		.write_hdr = write_ipv6,
		.icmp_is_error = icmp6_is_error,
	},
};

/* [why][0] for ICMP, [why][1] for ICMPv6, in ip_families' order. */
static const uint8_t unreach_codes[][2] = {
	[TUN_UNREACH_NET] = { ICMP_NET_UNREACH, ICMP6_NO_ROUTE },
	[TUN_UNREACH_HOST] = { ICMP_HOST_UNREACH, ICMP6_ADDR_UNREACH },
	[TUN_UNREACH_PORT] = { ICMP_PORT_UNREACH, ICMP6_PORT_UNREACH },
	[TUN_UNREACH_ADMIN] = { ICMP_ADMIN_PROHIBITED, ICMP6_ADMIN_PROHIBITED },
};

static const struct ip_family *family_of(int family)
{
	for (size_t i = 0; i < N_ELEMS(ip_families); i++)
		if (ip_families[i].family == family)
			return &ip_families[i];
	return NULL;
}

static const struct ip_family *family_of_version(uint8_t version)
{
	for (size_t i = 0; i < N_ELEMS(ip_families); i++)
		if (ip_families[i].version == version)
			return &ip_families[i];
	return NULL;
}

static void set_addr(struct tun_addr *a, int family, const uint8_t *ip)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->ip, ip, addr_len(family));
}

static int icmp_is_error(uint8_t type)
{
	return type < 32 && (ICMP_ERRORS >> type & 1);
}

static int icmp6_is_error(uint8_t type)
{
	return type < ICMP6_INFO_MIN;
}

/* ---- parsing ---- */

static int parse_ipv4(struct tun_pkt *pkt, size_t len)
{
	const uint8_t *h = pkt->data;
	size_t hlen, total;
	uint16_t frag;

	if (len < TUN_IPV4_HLEN)
		return -EINVAL;
	hlen = (size_t)(h[0] & 0x0f) * 4;
	total = get16(h + 2);
	if (hlen < TUN_IPV4_HLEN || total < hlen || total > len)
		return -EINVAL;
	frag = get16(h + 6);
	if (frag & IPV4_OFFSET)
		pkt->frag = TUN_FRAG_LATER;
	else if (frag & IPV4_MF)
		pkt->frag = TUN_FRAG_FIRST;
	pkt->len = (uint32_t)total;
	pkt->ttl = h[8];
	pkt->proto = h[9];
	set_addr(&pkt->src, AF_INET, h + 12);
	set_addr(&pkt->dst, AF_INET, h + 16);
	pkt->l4_off = (uint32_t)hlen;
	pkt->l4_len = (uint32_t)(total - hlen);
	return 0;
}

/* The length of the extension header `next` at off, 0 if `next` is none we
 * walk, or -EINVAL. Sets pkt->frag for a fragment header. */
static int ipv6_ext_len(struct tun_pkt *pkt, uint8_t next, size_t off)
{
	const uint8_t *e = pkt->data + off;
	size_t left = pkt->len - off, elen;
	uint16_t frag;

	switch (next) {
	case TUN_IPPROTO_HOPOPTS:
		if (off != TUN_IPV6_HLEN) /* RFC 8200, 4.1: only right after the header */
			return -EINVAL;
		/* fall through */
	case TUN_IPPROTO_ROUTING:
	case TUN_IPPROTO_DSTOPTS:
		if (left < IPV6_EXT_UNIT)
			return -EINVAL;
		elen = ((size_t)e[1] + 1) * IPV6_EXT_UNIT;
		break;
	case TUN_IPPROTO_FRAGMENT:
		if (left < IPV6_FRAG_HLEN)
			return -EINVAL;
		elen = IPV6_FRAG_HLEN;
		frag = get16(e + 2);
		/* An atomic fragment (offset 0, M 0) is a whole packet: RFC 6946, 4. */
		if (frag & IPV6_OFFSET)
			pkt->frag = TUN_FRAG_LATER;
		else if (frag & IPV6_FRAG_M)
			pkt->frag = TUN_FRAG_FIRST;
		break;
	default:
		return 0;
	}
	return elen > left ? -EINVAL : (int)elen;
}

static int parse_ipv6(struct tun_pkt *pkt, size_t len)
{
	const uint8_t *h = pkt->data;
	size_t off = TUN_IPV6_HLEN;
	uint8_t next;
	int elen;

	if (len < TUN_IPV6_HLEN || TUN_IPV6_HLEN + (size_t)get16(h + 4) > len)
		return -EINVAL;
	pkt->len = TUN_IPV6_HLEN + get16(h + 4);
	pkt->ttl = h[7];
	set_addr(&pkt->src, AF_INET6, h + 8);
	set_addr(&pkt->dst, AF_INET6, h + 24);
	/* Each header is at least 8 bytes long, so this ends. */
	for (next = h[6]; (elen = ipv6_ext_len(pkt, next, off)) > 0; off += (size_t)elen) {
		next = pkt->data[off];
		if (pkt->frag) {
			off += (size_t)elen;
			break;
		}
	}
	if (elen < 0)
		return elen;
	pkt->proto = next;
	pkt->l4_off = (uint32_t)off;
	pkt->l4_len = (uint32_t)(pkt->len - off);
	return 0;
}

static int parse_tcp(struct tun_pkt *pkt, const uint8_t *t)
{
	size_t doff = (size_t)(t[12] >> 4) * 4;

	if (doff < TUN_TCP_HLEN || doff > pkt->l4_len)
		return -EINVAL;
	pkt->sport = get16(t);
	pkt->dport = get16(t + 2);
	pkt->tcp_flags = t[13];
	pkt->payload_off = pkt->l4_off + (uint32_t)doff;
	pkt->payload_len = pkt->l4_len - (uint32_t)doff;
	return 0;
}

static int parse_udp(struct tun_pkt *pkt, const uint8_t *u)
{
	uint16_t ulen = get16(u + 4);

	/* A shorter UDP length leaves padding that is not the datagram's. */
	if (ulen < TUN_UDP_HLEN || ulen > pkt->l4_len)
		return -EINVAL;
	pkt->l4_len = ulen;
	pkt->sport = get16(u);
	pkt->dport = get16(u + 2);
	pkt->payload_off = pkt->l4_off + TUN_UDP_HLEN;
	pkt->payload_len = ulen - TUN_UDP_HLEN;
	return 0;
}

static int parse_icmp(struct tun_pkt *pkt, const uint8_t *i)
{
	pkt->icmp_type = i[0];
	pkt->icmp_code = i[1];
	pkt->payload_off = pkt->l4_off + TUN_ICMP_HLEN;
	pkt->payload_len = pkt->l4_len - TUN_ICMP_HLEN;
	return 0;
}

struct l4_proto {
	uint8_t proto;
	uint8_t hlen;	  /* the least header */
	uint8_t csum_off; /* the checksum field in it */
	uint8_t pseudo;	  /* the checksum covers the pseudo-header */
	int (*parse)(struct tun_pkt *pkt, const uint8_t *hdr);
};

static const struct l4_proto l4_protos[] = {
	{ TUN_IPPROTO_TCP, TUN_TCP_HLEN, 16, 1, parse_tcp },
	{ TUN_IPPROTO_UDP, TUN_UDP_HLEN, 6, 1, parse_udp },
	{ TUN_IPPROTO_ICMP, TUN_ICMP_HLEN, 2, 0, parse_icmp },
	{ TUN_IPPROTO_ICMPV6, TUN_ICMP_HLEN, 2, 1, parse_icmp },
};

static const struct l4_proto *l4_find(uint8_t proto)
{
	for (size_t i = 0; i < N_ELEMS(l4_protos); i++)
		if (l4_protos[i].proto == proto)
			return &l4_protos[i];
	return NULL;
}

int tun_parse(struct tun_pkt *pkt, uint8_t *buf, size_t len)
{
	const struct ip_family *f;
	const struct l4_proto *l4;
	int ret;

	memset(pkt, 0, sizeof(*pkt));
	pkt->data = buf;
	if (len < 1 || !(f = family_of_version(buf[0] >> 4)))
		return -EINVAL;
	ret = f->parse(pkt, len);
	if (ret || pkt->frag || !(l4 = l4_find(pkt->proto)))
		return ret;
	if (pkt->l4_len < l4->hlen)
		return -EINVAL;
	return l4->parse(pkt, buf + pkt->l4_off);
}

/* ---- verification ---- */

/* The checksum over the upper layer with its checksum field as it is: 0 when right. */
static uint16_t l4_csum(const struct tun_pkt *pkt, const struct l4_proto *l4)
{
	uint32_t sum = 0;

	if (l4->pseudo)
		sum = tun_csum_pseudo(&pkt->src, &pkt->dst, pkt->proto, pkt->l4_len);
	return tun_csum_fold(tun_csum_add(sum, pkt->data + pkt->l4_off, pkt->l4_len));
}

int tun_verify(const struct tun_pkt *pkt)
{
	const struct l4_proto *l4 = l4_find(pkt->proto);
	size_t hlen = (size_t)(pkt->data[0] & 0x0f) * 4;

	if (pkt->src.family == AF_INET && tun_csum_fold(tun_csum_add(0, pkt->data, hlen)))
		return -EBADMSG;
	if (pkt->frag || !l4)
		return 0;
	if (pkt->proto == TUN_IPPROTO_UDP && !get16(pkt->data + pkt->l4_off + l4->csum_off))
		/* No checksum: allowed over IPv4 only (RFC 768; RFC 8200, 8.1). */
		return pkt->src.family == AF_INET ? 0 : -EBADMSG;
	return l4_csum(pkt, l4) ? -EBADMSG : 0;
}

/* ---- addresses ---- */

void tun_addr_set(struct tun_addr *a, int family, const uint8_t *ip)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->ip, ip, family == AF_INET ? 4 : 16);
}

bool tun_addr_eq(const struct tun_addr *a, const struct tun_addr *b)
{
	return a->family == b->family && !memcmp(a->ip, b->ip, a->family == AF_INET ? 4 : 16);
}

socklen_t tun_addr_to_sockaddr(const struct tun_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->ip, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(&sin6->sin6_addr, a->ip, 16);
	return sizeof(*sin6);
}

uint16_t tun_addr_from_sockaddr(const struct sockaddr *sa, struct tun_addr *a)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		tun_addr_set(a, AF_INET, (const uint8_t *)&sin->sin_addr);
		return ntohs(sin->sin_port);
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	tun_addr_set(a, AF_INET6, (const uint8_t *)&sin6->sin6_addr);
	return ntohs(sin6->sin6_port);
}

/* ---- the NAT rewrite ---- */

int tun_rewrite(struct tun_pkt *pkt, const struct tun_addr *src, uint16_t sport,
	const struct tun_addr *dst, uint16_t dport)
{
	const struct ip_family *f = family_of(pkt->src.family);
	const struct l4_proto *l4 = l4_find(pkt->proto);
	size_t alen = addr_len(pkt->src.family);
	uint8_t *h = pkt->data, *csum;
	uint32_t diff;
	uint16_t c;

	if (!f || pkt->frag || (pkt->proto != TUN_IPPROTO_TCP && pkt->proto != TUN_IPPROTO_UDP) ||
		src->family != f->family || dst->family != f->family)
		return -EINVAL;
	diff = csum_diff(0, pkt->src.ip, src->ip, alen);
	diff = csum_diff(diff, pkt->dst.ip, dst->ip, alen);
	if (f->family == AF_INET)
		put16(h + 10, tun_csum_fold((uint16_t)~get16(h + 10) + diff));
	csum = h + pkt->l4_off + l4->csum_off;
	if (pkt->l4_csum_partial) {
		/* The field holds the pseudo-header's sum, uncomplemented; the
		 * ports are in the part the device sums later. */
		put16(csum, (uint16_t)~tun_csum_fold(get16(csum) + diff));
	} else if (pkt->proto != TUN_IPPROTO_UDP || get16(csum) || f->family != AF_INET) {
		diff += (uint16_t)~pkt->sport + (uint32_t)sport + (uint16_t)~pkt->dport + dport;
		c = tun_csum_fold((uint16_t)~get16(csum) + diff);
		if (pkt->proto == TUN_IPPROTO_UDP && !c)
			c = 0xffff; /* RFC 768: a computed 0 is sent as all ones */
		put16(csum, c);
	}
	memcpy(h + f->src_off, src->ip, alen);
	memcpy(h + f->dst_off, dst->ip, alen);
	put16(h + pkt->l4_off, sport);
	put16(h + pkt->l4_off + 2, dport);
	set_addr(&pkt->src, f->family, src->ip);
	set_addr(&pkt->dst, f->family, dst->ip);
	pkt->sport = sport;
	pkt->dport = dport;
	return 0;
}

/* ---- builders ---- */

/* DF is clear so that the kernel fragments a datagram too big for the
 * client's link; ID and checksum are filled in by finish(). */
static void write_ipv4(uint8_t *h, const struct tun_addr *src, const struct tun_addr *dst,
	uint8_t proto, size_t l4_len)
{
	memset(h, 0, TUN_IPV4_HLEN);
	h[0] = 4 << 4 | TUN_IPV4_HLEN / 4;
	put16(h + 2, (uint16_t)(TUN_IPV4_HLEN + l4_len));
	h[8] = TUN_TTL;
	h[9] = proto;
	memcpy(h + 12, src->ip, 4);
	memcpy(h + 16, dst->ip, 4);
}

static void write_ipv6(uint8_t *h, const struct tun_addr *src, const struct tun_addr *dst,
	uint8_t proto, size_t l4_len)
{
	memset(h, 0, TUN_IPV6_HLEN);
	h[0] = 6 << 4;
	put16(h + 4, (uint16_t)l4_len);
	h[6] = proto;
	h[7] = TUN_TTL;
	memcpy(h + 8, src->ip, 16);
	memcpy(h + 24, dst->ip, 16);
}

/* Fills the checksums of a packet just written, whose L4 checksum field is 0.
 * The IPv4 ID is the L4 checksum: deterministic, and different for different
 * datagrams of a flow as far as 16 bits allow (RFC 6864, 4.2). */
static int finish(uint8_t *buf, size_t len)
{
	struct tun_pkt pkt;
	const struct l4_proto *l4;
	uint16_t c;
	int ret;

	ret = tun_parse(&pkt, buf, len);
	if (ret)
		return ret;
	l4 = l4_find(pkt.proto);
	c = l4_csum(&pkt, l4);
	if (pkt.proto == TUN_IPPROTO_UDP && !c)
		c = 0xffff;
	put16(buf + pkt.l4_off + l4->csum_off, c);
	if (pkt.src.family == AF_INET) {
		put16(buf + 4, c);
		put16(buf + 10, tun_csum_fold(tun_csum_add(0, buf, TUN_IPV4_HLEN)));
	}
	return (int)len;
}

static const struct ip_family *family_pair(const struct tun_addr *a, const struct tun_addr *b)
{
	return a->family == b->family ? family_of(a->family) : NULL;
}

int tun_build_udp(uint8_t *buf, size_t size, const struct tun_addr *src, uint16_t sport,
	const struct tun_addr *dst, uint16_t dport, const void *payload, size_t len)
{
	const struct ip_family *f = family_pair(src, dst);
	uint8_t *u;

	if (!f)
		return -EINVAL;
	if (len > f->l4_max - TUN_UDP_HLEN)
		return -EMSGSIZE;
	if (size < f->hlen + TUN_UDP_HLEN + len)
		return -ENOSPC;
	u = buf + f->hlen;
	memmove(u + TUN_UDP_HLEN, payload, len); /* the payload may already be in buf */
	f->write_hdr(buf, src, dst, TUN_IPPROTO_UDP, TUN_UDP_HLEN + len);
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(TUN_UDP_HLEN + len));
	put16(u + 6, 0);
	return finish(buf, f->hlen + TUN_UDP_HLEN + len);
}

/* RFC 9293, 3.10.7.1: answer an ACK with <SEQ=SEG.ACK><CTL=RST>, anything
 * else with <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
int tun_build_rst(uint8_t *buf, size_t size, const struct tun_pkt *orig)
{
	const struct ip_family *f = family_of(orig->src.family);
	const uint8_t *t = orig->data + orig->l4_off;
	uint32_t seq = 0, ack = 0;
	uint8_t flags = TUN_TCP_RST;
	uint8_t *r;

	if (!f || orig->frag || orig->proto != TUN_IPPROTO_TCP || orig->tcp_flags & TUN_TCP_RST)
		return -EINVAL;
	if (size < (size_t)f->hlen + TUN_TCP_HLEN)
		return -ENOSPC;
	if (orig->tcp_flags & TUN_TCP_ACK) {
		seq = get32(t + 8);
	} else {
		ack = get32(t + 4) + orig->payload_len + !!(orig->tcp_flags & TUN_TCP_SYN) +
		      !!(orig->tcp_flags & TUN_TCP_FIN);
		flags |= TUN_TCP_ACK;
	}
	/* Everything of orig is read: buf may be orig->data. */
	f->write_hdr(buf, &orig->dst, &orig->src, TUN_IPPROTO_TCP, TUN_TCP_HLEN);
	r = buf + f->hlen;
	memset(r, 0, TUN_TCP_HLEN);
	put16(r, orig->dport);
	put16(r + 2, orig->sport);
	put32(r + 4, seq);
	put32(r + 8, ack);
	r[12] = TUN_TCP_HLEN / 4 << 4;
	r[13] = flags;
	return finish(buf, f->hlen + TUN_TCP_HLEN);
}

/* Does a holds one host? Errors are never about packets from or to the
 * unspecified, multicast or broadcast addresses (RFC 1122 3.2.2, RFC 4443 2.4 (e)). */
static int is_unicast(const struct tun_addr *a)
{
	static const uint8_t zero[16], bcast[4] = { 0xff, 0xff, 0xff, 0xff };

	if (a->family == AF_INET)
		return memcmp(a->ip, zero, 4) && memcmp(a->ip, bcast, 4) &&
		       (a->ip[0] & 0xf0) != 0xe0;
	return memcmp(a->ip, zero, 16) && a->ip[0] != 0xff;
}

static int may_send_error(const struct tun_pkt *orig, const struct ip_family *f)
{
	if (orig->frag == TUN_FRAG_LATER || !is_unicast(&orig->src) || !is_unicast(&orig->dst))
		return 0;
	if (orig->proto != f->icmp_proto)
		return 1;
	/* An ICMP first fragment is not looked into: assume the worst. */
	return !orig->frag && !f->icmp_is_error(orig->icmp_type);
}

/* An ICMP error of type/code about orig, from `from` (NULL: orig's destination). */
static int build_error(uint8_t *buf, size_t size, const struct tun_pkt *orig,
	const struct ip_family *f, uint8_t type, uint8_t code, const struct tun_addr *from)
{
	size_t quote, l4_len;
	uint8_t *i;

	if ((from && from->family != f->family) || !may_send_error(orig, f))
		return -EINVAL;
	quote = f->min_mtu - f->hlen - TUN_ICMP_HLEN;
	if (quote > orig->len)
		quote = orig->len;
	l4_len = TUN_ICMP_HLEN + quote;
	if (size < f->hlen + l4_len)
		return -ENOSPC;
	i = buf + f->hlen;
	memmove(i + TUN_ICMP_HLEN, orig->data, quote); /* first: buf may be orig->data */
	f->write_hdr(buf, from ? from : &orig->dst, &orig->src, f->icmp_proto, l4_len);
	memset(i, 0, TUN_ICMP_HLEN);
	i[0] = type;
	i[1] = code;
	return finish(buf, f->hlen + l4_len);
}

int tun_build_unreach(uint8_t *buf, size_t size, const struct tun_pkt *orig, enum tun_unreach why,
	const struct tun_addr *from)
{
	const struct ip_family *f = family_of(orig->src.family);

	if (!f || (unsigned)why >= N_ELEMS(unreach_codes))
		return -EINVAL;
	return build_error(
		buf, size, orig, f, f->unreach_type, unreach_codes[why][f - ip_families], from);
}

int tun_build_time_exceeded(
	uint8_t *buf, size_t size, const struct tun_pkt *orig, const struct tun_addr *from)
{
	const struct ip_family *f = family_of(orig->src.family);

	if (!f || !from)
		return -EINVAL;
	return build_error(buf, size, orig, f, f->time_exceeded_type, 0, from);
}

int tun_build_echo(uint8_t *buf, size_t size, const struct tun_addr *src,
	const struct tun_addr *dst, bool reply, uint16_t id, const void *rest, size_t len)
{
	const struct ip_family *f = family_pair(src, dst);
	uint8_t *i;

	if (!f || len < sizeof(uint16_t) || !is_unicast(src) || !is_unicast(dst))
		return -EINVAL;
	if (len > f->l4_max - TUN_ICMP_HLEN + sizeof(uint16_t))
		return -EMSGSIZE;
	if (size < f->hlen + TUN_ICMP_HLEN - sizeof(uint16_t) + len)
		return -ENOSPC;
	i = buf + f->hlen;
	memmove(i + TUN_ICMP_HLEN - sizeof(uint16_t), rest, len); /* sequence and data */
	f->write_hdr(buf, src, dst, f->icmp_proto, TUN_ICMP_HLEN - sizeof(uint16_t) + len);
	i[0] = reply ? f->echo_reply : f->echo_request;
	i[1] = 0;
	put16(i + 2, 0);
	put16(i + 4, id);
	return finish(buf, f->hlen + TUN_ICMP_HLEN - sizeof(uint16_t) + len);
}

int tun_build_echo_reply(uint8_t *buf, size_t size, const struct tun_pkt *orig)
{
	const struct ip_family *f = family_of(orig->src.family);
	uint8_t *i;

	if (!f || orig->frag || orig->proto != f->icmp_proto ||
		orig->icmp_type != f->echo_request || !is_unicast(&orig->src) ||
		!is_unicast(&orig->dst))
		return -EINVAL;
	if (size < f->hlen + (size_t)orig->l4_len)
		return -ENOSPC;
	i = buf + f->hlen;
	memmove(i, orig->data + orig->l4_off, orig->l4_len); /* id, sequence and data */
	f->write_hdr(buf, &orig->dst, &orig->src, f->icmp_proto, orig->l4_len);
	i[0] = f->echo_reply;
	i[1] = 0;
	put16(i + 2, 0);
	return finish(buf, f->hlen + orig->l4_len);
}

/* ---- fragmentation ---- */

static int fragment_ipv4(
	const uint8_t *pkt, size_t len, size_t mtu, size_t *done, uint8_t *out, size_t out_size)
{
	size_t data = len - TUN_IPV4_HLEN, step = (mtu - TUN_IPV4_HLEN) / 8 * 8;
	size_t n = data - *done < step ? data - *done : step;
	bool more = *done + n < data;

	if (out_size < TUN_IPV4_HLEN + n)
		return -ENOSPC;
	memcpy(out, pkt, TUN_IPV4_HLEN);
	memcpy(out + TUN_IPV4_HLEN, pkt + TUN_IPV4_HLEN + *done, n);
	put16(out + 2, (uint16_t)(TUN_IPV4_HLEN + n));
	put16(out + 6, (uint16_t)((more ? IPV4_MF : 0) | *done / 8));
	put16(out + 10, 0);
	put16(out + 10, tun_csum_fold(tun_csum_add(0, out, TUN_IPV4_HLEN)));
	*done += n;
	return (int)(TUN_IPV4_HLEN + n);
}

static int fragment_ipv6(const uint8_t *pkt, size_t len, size_t mtu, uint32_t id, size_t *done,
	uint8_t *out, size_t out_size)
{
	size_t data = len - TUN_IPV6_HLEN, step = (mtu - TUN_IPV6_HLEN - IPV6_FRAG_HLEN) / 8 * 8;
	size_t n = data - *done < step ? data - *done : step;
	bool more = *done + n < data;
	uint8_t *fh = out + TUN_IPV6_HLEN;

	if (out_size < TUN_IPV6_HLEN + IPV6_FRAG_HLEN + n)
		return -ENOSPC;
	memcpy(out, pkt, TUN_IPV6_HLEN);
	put16(out + 4, (uint16_t)(IPV6_FRAG_HLEN + n));
	out[6] = TUN_IPPROTO_FRAGMENT;
	fh[0] = pkt[6];
	fh[1] = 0;
	put16(fh + 2, (uint16_t)(*done | (more ? IPV6_FRAG_M : 0)));
	put32(fh + 4, id);
	memcpy(fh + IPV6_FRAG_HLEN, pkt + TUN_IPV6_HLEN + *done, n);
	*done += n;
	return (int)(TUN_IPV6_HLEN + IPV6_FRAG_HLEN + n);
}

int tun_fragment(const uint8_t *pkt, size_t len, size_t mtu, uint32_t id, size_t *done,
	uint8_t *out, size_t out_size)
{
	uint8_t version = len ? pkt[0] >> 4 : 0;

	if (version == 4 && len > TUN_IPV4_HLEN && pkt[0] == (4 << 4 | TUN_IPV4_HLEN / 4) &&
		!(get16(pkt + 6) & (IPV4_MF | IPV4_OFFSET)) && mtu >= TUN_IPV4_MIN_MTU &&
		get16(pkt + 2) == len && !(get16(pkt + 6) & IPV4_DF))
		return *done >= len - TUN_IPV4_HLEN
			       ? 0
			       : fragment_ipv4(pkt, len, mtu, done, out, out_size);
	if (version == 6 && len > TUN_IPV6_HLEN && mtu >= TUN_IPV6_MIN_MTU &&
		get16(pkt + 4) == len - TUN_IPV6_HLEN && pkt[6] != TUN_IPPROTO_FRAGMENT)
		return *done >= len - TUN_IPV6_HLEN
			       ? 0
			       : fragment_ipv6(pkt, len, mtu, id, done, out, out_size);
	return -EINVAL;
}
