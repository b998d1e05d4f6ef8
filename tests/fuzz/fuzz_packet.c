/* libFuzzer target of tun/packet: parse any packet, verify it against a plain
 * RFC 1071 sum, NAT-rewrite it, and answer it with every builder. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tun/packet.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/*
 * The input: a control block, then the packet.
 *   ctl[0]      flags (CTL_*)
 *   ctl[1..16]  an address (the rewrite's source, unreachable's `from`, the UDP source)
 *   ctl[17..32] another (the rewrite's and the UDP destination)
 *   ctl[33..36] two ports, big-endian
 */
enum {
	CTL_PARTIAL = 0x01,	 /* also rewrite in l4_csum_partial mode */
	CTL_OTHER_FAMILY = 0x02, /* rewrite to (and answer from) the other family */
	CTL_FROM = 0x04,	 /* unreachable from ctl's first address, not orig's destination */
	CTL_UDP6 = 0x08,	 /* build the UDP datagram over IPv6 */
	CTL_WHY_SHIFT = 4,	 /* 3 bits: enum tun_unreach, >= 4 is refused */
};
#define CTL_LEN 37

#define MOD 0xffffu /* one's complement sums are equal modulo 2^16 - 1 */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

/* ---- a reference Internet checksum: big-endian words, one at a time ---- */

static uint64_t ref_sum(const uint8_t *p, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += rd16(p + i);
	if (n & 1)
		s += (uint64_t)p[n - 1] << 8;
	return s;
}

/* The folded sum, never 0 unless every word was. */
static uint16_t ref_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t mod(uint64_t s)
{
	return (uint32_t)(s % MOD);
}

static size_t alen_of(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static int other_family(int family)
{
	return family == AF_INET ? AF_INET6 : AF_INET;
}

static uint64_t ref_addr_sum(const struct tun_pkt *p)
{
	size_t alen = alen_of(p->src.family);

	return ref_sum(p->src.ip, alen) + ref_sum(p->dst.ip, alen);
}

static bool l4_known(uint8_t proto)
{
	return proto == TUN_IPPROTO_TCP || proto == TUN_IPPROTO_UDP || proto == TUN_IPPROTO_ICMP ||
	       proto == TUN_IPPROTO_ICMPV6;
}

static size_t csum_off(uint8_t proto)
{
	switch (proto) {
	case TUN_IPPROTO_TCP:
		return 16;
	case TUN_IPPROTO_UDP:
		return 6;
	default:
		return 2;
	}
}

/* RFC 9293 3.1, RFC 768, RFC 8200 8.1; ICMP (RFC 792) has no pseudo-header. */
static int ref_verify(const struct tun_pkt *p)
{
	const uint8_t *l4 = p->data + p->l4_off;
	uint64_t s;

	if (p->src.family == AF_INET &&
		ref_fold(ref_sum(p->data, (p->data[0] & 0x0f) * 4u)) != 0xffff)
		return -EBADMSG;
	if (p->frag || !l4_known(p->proto))
		return 0;
	if (p->proto == TUN_IPPROTO_UDP && !rd16(l4 + 6))
		return p->src.family == AF_INET ? 0 : -EBADMSG;
	s = ref_sum(l4, p->l4_len);
	if (p->proto != TUN_IPPROTO_ICMP)
		s += ref_addr_sum(p) + p->proto + (p->l4_len >> 16) + (p->l4_len & 0xffff);
	return ref_fold(s) == 0xffff ? 0 : -EBADMSG;
}

/* ---- parsing ---- */

static uint8_t *copy_exact(const uint8_t *data, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);

	check(b);
	memcpy(b, data, n);
	return b;
}

static bool addr_is(const struct tun_addr *a, int family, const uint8_t *ip)
{
	static const uint8_t zero[16];
	size_t alen = alen_of(family);

	return a->family == family && !memcmp(a->ip, ip, alen) &&
	       !memcmp(a->ip + alen, zero, 16 - alen);
}

static bool same_addr(const struct tun_addr *a, const struct tun_addr *b)
{
	return addr_is(a, b->family, b->ip);
}

static void check_l4(const struct tun_pkt *p)
{
	const uint8_t *l4 = p->data + p->l4_off;

	switch (p->proto) {
	case TUN_IPPROTO_TCP: {
		uint32_t doff = (uint32_t)(l4[12] >> 4) * 4;

		check(p->l4_off + p->l4_len == p->len && doff >= TUN_TCP_HLEN && doff <= p->l4_len);
		check(p->payload_off == p->l4_off + doff && p->payload_len == p->l4_len - doff);
		check(p->sport == rd16(l4) && p->dport == rd16(l4 + 2) && p->tcp_flags == l4[13]);
		break;
	}
	case TUN_IPPROTO_UDP:
		check(p->l4_len == rd16(l4 + 4) && p->l4_len >= TUN_UDP_HLEN);
		check(p->l4_off + p->l4_len <= p->len);
		check(p->payload_off == p->l4_off + TUN_UDP_HLEN);
		check(p->payload_len == p->l4_len - TUN_UDP_HLEN);
		check(p->sport == rd16(l4) && p->dport == rd16(l4 + 2));
		break;
	case TUN_IPPROTO_ICMP:
	case TUN_IPPROTO_ICMPV6:
		check(p->l4_off + p->l4_len == p->len && p->l4_len >= TUN_ICMP_HLEN);
		check(p->icmp_type == l4[0] && p->icmp_code == l4[1]);
		check(p->payload_off == p->l4_off + TUN_ICMP_HLEN);
		check(p->payload_len == p->l4_len - TUN_ICMP_HLEN);
		break;
	default:
		check(p->l4_off + p->l4_len == p->len);
	}
}

static void check_parsed(const struct tun_pkt *p, const uint8_t *buf, size_t len)
{
	check(p->data == buf && p->len <= len && p->l4_off <= p->len);
	check(p->src.family == p->dst.family && p->frag <= TUN_FRAG_LATER);
	if (buf[0] >> 4 == 4) {
		check(p->src.family == AF_INET && p->len == rd16(buf + 2));
		check(p->l4_off == (buf[0] & 0x0fu) * 4 && p->l4_off >= TUN_IPV4_HLEN);
		check(p->ttl == buf[8] && p->proto == buf[9]);
		check(addr_is(&p->src, AF_INET, buf + 12) && addr_is(&p->dst, AF_INET, buf + 16));
	} else {
		check(buf[0] >> 4 == 6 && p->src.family == AF_INET6);
		check(p->len == TUN_IPV6_HLEN + rd16(buf + 4) && p->l4_off >= TUN_IPV6_HLEN);
		check(p->ttl == buf[7] && (p->l4_off - TUN_IPV6_HLEN) % 8 == 0);
		check(addr_is(&p->src, AF_INET6, buf + 8) && addr_is(&p->dst, AF_INET6, buf + 24));
	}
	if (!p->frag)
		check_l4(p);
}

/* ---- the NAT rewrite ---- */

struct target {
	struct tun_addr src, dst;
	uint16_t sport, dport;
};

static void make_addr(struct tun_addr *a, int family, const uint8_t *ip)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->ip, ip, alen_of(family));
}

/* Was byte i of the packet one the rewrite may change? */
static bool rewritable(const struct tun_pkt *p, size_t i)
{
	size_t l4 = p->l4_off, c = l4 + csum_off(p->proto);

	if (p->src.family == AF_INET && (i == 10 || i == 11 || (i >= 12 && i < 20)))
		return true;
	if (p->src.family == AF_INET6 && i >= 8 && i < 40)
		return true;
	return (i >= l4 && i < l4 + 4) || i == c || i == c + 1;
}

/* A field changed by -delta in one's complement, modulo 0xffff (0 and 0xffff are one). */
static void check_field(uint16_t before, uint16_t after, uint64_t old_sum, uint64_t new_sum)
{
	check(mod(after) == mod((uint64_t)before + mod(old_sum) + MOD - mod(new_sum)));
}

static void check_rewrite(
	const uint8_t *pkt_bytes, size_t len, const struct target *to, bool partial)
{
	uint8_t *b = copy_exact(pkt_bytes, len);
	struct tun_pkt p, q;
	bool ok;
	int err, verified;
	uint64_t old_addr, new_addr, old_ports, new_ports;
	uint16_t c4, c;
	size_t co;

	check(tun_parse(&p, b, len) == 0);
	verified = tun_verify(&p);
	p.l4_csum_partial = partial;
	ok = !p.frag && (p.proto == TUN_IPPROTO_TCP || p.proto == TUN_IPPROTO_UDP) &&
	     to->src.family == p.src.family && to->dst.family == p.src.family;
	co = p.l4_off + csum_off(p.proto);
	c4 = rd16(b + 10);
	c = ok ? rd16(b + co) : 0;
	old_addr = ref_addr_sum(&p);
	old_ports = (uint64_t)p.sport + p.dport;
	err = tun_rewrite(&p, &to->src, to->sport, &to->dst, to->dport);
	check(ok ? err == 0 : err == -EINVAL);
	if (!ok) {
		check(!memcmp(b, pkt_bytes, len));
		goto out;
	}
	check(same_addr(&p.src, &to->src) && same_addr(&p.dst, &to->dst));
	check(p.sport == to->sport && p.dport == to->dport);
	for (size_t i = 0; i < len; i++)
		check(rewritable(&p, i) || b[i] == pkt_bytes[i]);
	new_addr = ref_addr_sum(&p);
	new_ports = (uint64_t)to->sport + to->dport;
	if (p.src.family == AF_INET)
		check_field(c4, rd16(b + 10), old_addr, new_addr);
	if (partial) /* the pseudo-header's sum, not complemented: it moves the other way */
		check_field(rd16(b + co), c, old_addr, new_addr);
	else if (p.proto == TUN_IPPROTO_UDP && p.src.family == AF_INET && !c)
		check(!rd16(b + co)); /* "no checksum" stays so */
	else
		check_field(c, rd16(b + co), old_addr + old_ports, new_addr + new_ports);

	check(tun_parse(&q, b, len) == 0);
	check_parsed(&q, b, len);
	check(q.len == p.len && q.proto == p.proto && q.l4_off == p.l4_off && q.l4_len == p.l4_len);
	check(same_addr(&q.src, &to->src) && same_addr(&q.dst, &to->dst));
	check(q.sport == to->sport && q.dport == to->dport);
	check(tun_verify(&q) == ref_verify(&q));
	if (!partial && !verified)
		check(tun_verify(&q) == 0);
out:
	free(b);
}

/* ---- builders ---- */

static size_t hlen_of(int family)
{
	return family == AF_INET6 ? TUN_IPV6_HLEN : TUN_IPV4_HLEN;
}

static bool unicast(const struct tun_addr *a)
{
	static const uint8_t zero[16], bcast[4] = { 0xff, 0xff, 0xff, 0xff };

	if (a->family == AF_INET)
		return memcmp(a->ip, zero, 4) && memcmp(a->ip, bcast, 4) && a->ip[0] >> 4 != 0xe;
	return memcmp(a->ip, zero, 16) && a->ip[0] != 0xff;
}

/* What a builder wrote: a whole packet we parse, whose checksums are right. */
static void check_built(const uint8_t *b, size_t n, struct tun_pkt *q)
{
	uint8_t *copy = copy_exact(b, n);

	check(tun_parse(q, copy, n) == 0);
	check_parsed(q, copy, n);
	check(q->len == n && !q->frag && q->ttl == TUN_TTL);
	check(tun_verify(q) == 0 && ref_verify(q) == 0);
	if (q->proto == TUN_IPPROTO_UDP)
		check(rd16(copy + q->l4_off + 6) != 0);
	q->data = NULL; /* copy is gone */
	free(copy);
}

typedef int (*build_fn)(uint8_t *buf, size_t size, const struct tun_pkt *orig, const void *arg);

/*
 * Builds the answer to the packet into a buffer of exactly `want` bytes and
 * checks the result code; one byte short must be -ENOSPC; built in place over a
 * copy of the packet it must come out the same. Returns the answer (or NULL).
 */
static uint8_t *build_all_ways(
	const uint8_t *pkt_bytes, size_t len, build_fn fn, const void *arg, bool ok, size_t want)
{
	uint8_t *orig = copy_exact(pkt_bytes, len), *b = NULL, *in_place;
	struct tun_pkt p, p2;
	int n;

	check(tun_parse(&p, orig, len) == 0);
	if (!ok) {
		uint8_t *big = malloc(2048);

		check(big && fn(big, 2048, &p, arg) == -EINVAL);
		free(big);
		goto out;
	}
	b = malloc(want);
	check(b);
	n = fn(b, want, &p, arg);
	check(n >= 0 && (size_t)n == want);
	check(fn(b + 1, want - 1, &p, arg) == -ENOSPC);
	check(!memcmp(orig, pkt_bytes, len)); /* orig is only read */

	in_place = copy_exact(pkt_bytes, len);
	check(tun_parse(&p2, in_place, len) == 0);
	n = fn(in_place, len, &p2, arg);
	if (len >= want)
		check(n == (int)want && !memcmp(in_place, b, want));
	else
		check(n == -ENOSPC);
	free(in_place);
out:
	free(orig);
	return b;
}

static int build_rst(uint8_t *buf, size_t size, const struct tun_pkt *orig, const void *arg)
{
	(void)arg;
	return tun_build_rst(buf, size, orig);
}

static void check_rst(const uint8_t *pkt_bytes, size_t len, const struct tun_pkt *o)
{
	bool ok = !o->frag && o->proto == TUN_IPPROTO_TCP && !(o->tcp_flags & TUN_TCP_RST);
	size_t want = hlen_of(o->src.family) + TUN_TCP_HLEN;
	uint8_t *b = build_all_ways(pkt_bytes, len, build_rst, NULL, ok, want);
	const uint8_t *t = o->data + o->l4_off, *r;
	struct tun_pkt q;

	if (!b)
		return;
	check_built(b, want, &q);
	r = b + q.l4_off;
	check(q.proto == TUN_IPPROTO_TCP && q.payload_len == 0);
	check(same_addr(&q.src, &o->dst) && same_addr(&q.dst, &o->src));
	check(q.sport == o->dport && q.dport == o->sport);
	if (o->tcp_flags & TUN_TCP_ACK) { /* RFC 9293, 3.10.7.1 */
		check(q.tcp_flags == TUN_TCP_RST && rd32(r + 4) == rd32(t + 8));
	} else {
		uint32_t ack = rd32(t + 4) + o->payload_len + !!(o->tcp_flags & TUN_TCP_SYN) +
			       !!(o->tcp_flags & TUN_TCP_FIN);

		check(q.tcp_flags == (TUN_TCP_RST | TUN_TCP_ACK));
		check(rd32(r + 4) == 0 && rd32(r + 8) == ack);
	}
	free(b);
}

struct unreach_arg {
	enum tun_unreach why;
	const struct tun_addr *from;
};

static int build_unreach(uint8_t *buf, size_t size, const struct tun_pkt *orig, const void *arg)
{
	const struct unreach_arg *u = arg;

	return tun_build_unreach(buf, size, orig, u->why, u->from);
}

static bool icmp_error(int family, uint8_t type)
{
	if (family == AF_INET6)
		return type < 128; /* RFC 4443, 2.1 */
	/* RFC 1122, 3.2.2: unreachable, source quench, redirect, time exceeded, parameter problem
	 */
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static void check_unreach(
	const uint8_t *pkt_bytes, size_t len, const struct tun_pkt *o, const struct unreach_arg *u)
{
	static const uint8_t codes4[] = { 0, 1, 3, 13 }, codes6[] = { 0, 3, 4, 1 };
	int fam = o->src.family;
	bool v6 = fam == AF_INET6;
	uint8_t icmp = v6 ? TUN_IPPROTO_ICMPV6 : TUN_IPPROTO_ICMP;
	size_t hlen = hlen_of(fam), mtu = v6 ? TUN_IPV6_MIN_MTU : TUN_IPV4_MIN_MTU;
	size_t quote = mtu - hlen - TUN_ICMP_HLEN < o->len ? mtu - hlen - TUN_ICMP_HLEN : o->len;
	bool ok = (unsigned)u->why < 4 && (!u->from || u->from->family == fam) &&
		  o->frag != TUN_FRAG_LATER && unicast(&o->src) && unicast(&o->dst) &&
		  (o->proto != icmp || (!o->frag && !icmp_error(fam, o->icmp_type)));
	size_t want = hlen + TUN_ICMP_HLEN + quote;
	uint8_t *b = build_all_ways(pkt_bytes, len, build_unreach, u, ok, want);
	struct tun_pkt q;

	if (!b)
		return;
	check(want <= mtu);
	check_built(b, want, &q);
	check(q.proto == icmp &&
		q.icmp_type == (v6 ? TUN_ICMP6_DEST_UNREACH : TUN_ICMP_DEST_UNREACH));
	check(q.icmp_code == (v6 ? codes6 : codes4)[u->why]);
	check(same_addr(&q.src, u->from ? u->from : &o->dst) && same_addr(&q.dst, &o->src));
	check(q.payload_len == quote && !memcmp(b + q.payload_off, pkt_bytes, quote));
	check(rd32(b + q.l4_off + 4) == 0);
	free(b);
}

static int build_echo(uint8_t *buf, size_t size, const struct tun_pkt *orig, const void *arg)
{
	(void)arg;
	return tun_build_echo_reply(buf, size, orig);
}

static void check_echo(const uint8_t *pkt_bytes, size_t len, const struct tun_pkt *o)
{
	bool v6 = o->src.family == AF_INET6;
	uint8_t icmp = v6 ? TUN_IPPROTO_ICMPV6 : TUN_IPPROTO_ICMP;
	bool ok = !o->frag && o->proto == icmp &&
		  o->icmp_type == (v6 ? TUN_ICMP6_ECHO_REQUEST : TUN_ICMP_ECHO) &&
		  unicast(&o->src) && unicast(&o->dst);
	size_t want = hlen_of(o->src.family) + o->l4_len;
	uint8_t *b = build_all_ways(pkt_bytes, len, build_echo, NULL, ok, want);
	struct tun_pkt q;

	if (!b)
		return;
	check_built(b, want, &q);
	check(q.proto == icmp && q.icmp_code == 0);
	check(q.icmp_type == (v6 ? TUN_ICMP6_ECHO_REPLY : TUN_ICMP_ECHO_REPLY));
	check(same_addr(&q.src, &o->dst) && same_addr(&q.dst, &o->src));
	/* identifier, sequence number and data come back */
	check(q.l4_len == o->l4_len);
	check(!memcmp(b + q.l4_off + 4, pkt_bytes + o->l4_off + 4, o->l4_len - 4));
	free(b);
}

/* Any bytes as the payload of a UDP datagram, built apart and in place. */
static void check_udp(const uint8_t *payload, size_t len, const struct target *to)
{
	size_t hlen = hlen_of(to->src.family), want = hlen + TUN_UDP_HLEN + len;
	uint8_t *b = malloc(want), *in_place = malloc(want);
	struct tun_pkt q;
	int n;

	check(b && in_place);
	n = tun_build_udp(b, want, &to->src, to->sport, &to->dst, to->dport, payload, len);
	check(n >= 0 && (size_t)n == want);
	check(tun_build_udp(b, want - 1, &to->src, to->sport, &to->dst, to->dport, payload, len) ==
		-ENOSPC);
	check_built(b, want, &q);
	check(q.proto == TUN_IPPROTO_UDP && q.payload_len == len);
	check(same_addr(&q.src, &to->src) && same_addr(&q.dst, &to->dst));
	check(q.sport == to->sport && q.dport == to->dport);
	check(!memcmp(b + q.payload_off, payload, len));

	/* the payload read into the buffer beforehand */
	memcpy(in_place + hlen + TUN_UDP_HLEN, payload, len);
	n = tun_build_udp(in_place, want, &to->src, to->sport, &to->dst, to->dport,
		in_place + hlen + TUN_UDP_HLEN, len);
	check(n == (int)want && !memcmp(in_place, b, want));
	free(in_place);
	free(b);
}

/* The checksum primitives against the reference, on any bytes. */
static void check_csum(const uint8_t *p, size_t len, const uint8_t *ctl)
{
	uint16_t c = tun_csum_fold(tun_csum_add(0, p, len)), old16 = rd16(ctl + 33),
		 new16 = rd16(ctl + 35);
	uint32_t old32 = rd32(ctl + 1), new32 = rd32(ctl + 5);
	size_t half = len / 2 & ~(size_t)1;

	check(c == (uint16_t)~ref_fold(ref_sum(p, len)));
	check(tun_csum_fold(tun_csum_add(tun_csum_add(0, p, half), p + half, len - half)) == c);
	check_field(c, tun_csum_update16(c, old16, new16), old16, new16);
	check_field(
		c, tun_csum_update32(c, old32, new32), ref_sum(ctl + 1, 4), ref_sum(ctl + 5, 4));
	check_field(c, tun_csum_update(c, ctl + 1, ctl + 17, 16), ref_sum(ctl + 1, 16),
		ref_sum(ctl + 17, 16));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *ctl = data, *pkt_bytes = data + CTL_LEN;
	size_t len = size - CTL_LEN;
	uint8_t *buf;
	struct tun_pkt p;
	struct target to;
	struct unreach_arg u;
	int fam, err;

	if (size < CTL_LEN)
		return 0;
	check_csum(pkt_bytes, len, ctl);
	fam = ctl[0] & CTL_UDP6 ? AF_INET6 : AF_INET;
	make_addr(&to.src, fam, ctl + 1);
	make_addr(&to.dst, fam, ctl + 17);
	to.sport = rd16(ctl + 33);
	to.dport = rd16(ctl + 35);
	check_udp(pkt_bytes, len, &to);

	buf = copy_exact(pkt_bytes, len);
	err = tun_parse(&p, buf, len);
	check(err == 0 || err == -EINVAL);
	check(!memcmp(buf, pkt_bytes, len));
	if (err)
		goto out;
	check_parsed(&p, buf, len);
	check(tun_verify(&p) == ref_verify(&p));

	fam = ctl[0] & CTL_OTHER_FAMILY ? other_family(p.src.family) : p.src.family;
	make_addr(&to.src, fam, ctl + 1);
	make_addr(&to.dst, fam, ctl + 17);
	check_rewrite(pkt_bytes, len, &to, false);
	if (ctl[0] & CTL_PARTIAL)
		check_rewrite(pkt_bytes, len, &to, true);

	check_rst(pkt_bytes, len, &p);
	u.why = (enum tun_unreach)(ctl[0] >> CTL_WHY_SHIFT & 7);
	u.from = ctl[0] & CTL_FROM ? &to.src : NULL;
	check_unreach(pkt_bytes, len, &p, &u);
	check_echo(pkt_bytes, len, &p);
out:
	free(buf);
	return 0;
}
