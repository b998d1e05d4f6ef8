/* Unit tests of tun/frag: IPv4 and IPv6 reassembly, overlaps, timeout, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tun/frag.h"
#include "tun/packet.h"

#define PKT_MAX (TUN_IPV6_HLEN + 0xffff)
#define FRAG_HLEN 8 /* the IPv6 fragment header, RFC 8200 4.5 */

static const struct tun_frag_limits lim_default = TUN_FRAG_LIMITS_DEFAULT;

/* A UDP datagram and the fragments the tests cut from it. */
struct whole {
	int family;
	uint8_t buf[PKT_MAX];
	size_t len, hlen; /* hlen: the IP header */
	uint8_t frag[PKT_MAX];
	size_t frag_len;
};

static struct tun_addr addr(int family, const char *s)
{
	struct tun_addr a;

	memset(&a, 0, sizeof(a));
	a.family = family;
	assert_int_equal(inet_pton(family, s, a.ip), 1);
	return a;
}

/* A datagram of n payload bytes from src (the same destination for all). */
static void make_whole(struct whole *w, int family, const char *src, size_t n)
{
	struct tun_addr s = addr(family, src),
			d = addr(family, family == AF_INET ? "10.1.2.3" : "2001:db8::9");
	uint8_t *payload = malloc(n);
	int len;

	assert_non_null(payload);
	for (size_t i = 0; i < n; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	len = tun_build_udp(w->buf, sizeof(w->buf), &s, 1111, &d, 2222, payload, n);
	assert_true(len > 0);
	free(payload);
	w->family = family;
	w->len = (size_t)len;
	w->hlen = family == AF_INET ? TUN_IPV4_HLEN : TUN_IPV6_HLEN;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Cuts bytes [off, off + len) of w's IP payload into w->frag, with id. */
static void cut(struct whole *w, size_t off, size_t len, int more, uint32_t id)
{
	uint8_t *f = w->frag;

	if (w->family == AF_INET) {
		memcpy(f, w->buf, TUN_IPV4_HLEN);
		put16(f + 2, (uint16_t)(TUN_IPV4_HLEN + len));
		put16(f + 4, (uint16_t)id);
		put16(f + 6, (uint16_t)((more ? 0x2000 : 0) | off / 8));
		put16(f + 10, 0);
		put16(f + 10, tun_csum_fold(tun_csum_add(0, f, TUN_IPV4_HLEN)));
		memcpy(f + TUN_IPV4_HLEN, w->buf + TUN_IPV4_HLEN + off, len);
		w->frag_len = TUN_IPV4_HLEN + len;
		return;
	}
	memcpy(f, w->buf, TUN_IPV6_HLEN);
	put16(f + 4, (uint16_t)(FRAG_HLEN + len));
	f[6] = TUN_IPPROTO_FRAGMENT;
	f[40] = TUN_IPPROTO_UDP;
	f[41] = 0;
	put16(f + 42, (uint16_t)(off | (more ? 1 : 0)));
	put16(f + 44, (uint16_t)(id >> 16));
	put16(f + 46, (uint16_t)id);
	memcpy(f + TUN_IPV6_HLEN + FRAG_HLEN, w->buf + TUN_IPV6_HLEN + off, len);
	w->frag_len = TUN_IPV6_HLEN + FRAG_HLEN + len;
}

/* The IPv4 ID tun_build_udp chose, so that the result is the datagram itself. */
static uint32_t id_of(const struct whole *w)
{
	return w->family == AF_INET ? (uint32_t)(w->buf[4] << 8 | w->buf[5]) : 0x12345678;
}

/* Cuts and adds one fragment; returns tun_frag_add's result. */
static int add(struct tun_frag_table *t, struct whole *w, size_t off, size_t len, int more,
	uint64_t now, uint8_t *out, size_t *out_len)
{
	struct tun_pkt p;

	cut(w, off, len, more, id_of(w));
	assert_int_equal(tun_parse(&p, w->frag, w->frag_len), 0);
	assert_int_not_equal(p.frag, TUN_FRAG_NONE);
	return tun_frag_add(t, &p, now, out, PKT_MAX, out_len);
}

/* out holds w, byte for byte, and is a packet tun_parse and tun_verify take. */
static void assert_rebuilt(const struct whole *w, uint8_t *out, size_t out_len)
{
	struct tun_pkt p;

	assert_int_equal(out_len, w->len);
	assert_memory_equal(out, w->buf, w->len);
	assert_int_equal(tun_parse(&p, out, out_len), 0);
	assert_int_equal(p.frag, TUN_FRAG_NONE);
	assert_int_equal(p.proto, TUN_IPPROTO_UDP);
	assert_int_equal(tun_verify(&p), 0);
}

/* Adds w's IP payload in pieces of `step` bytes, in the order order[] says. */
static void reassemble(int family, size_t n, size_t step, const size_t *order, size_t count)
{
	struct tun_frag_table *t = tun_frag_new(&lim_default);
	struct whole *w = malloc(sizeof(*w));
	uint8_t *out = malloc(PKT_MAX);
	size_t out_len, data;

	assert_non_null(t);
	assert_non_null(w);
	assert_non_null(out);
	make_whole(w, family, family == AF_INET ? "10.0.0.2" : "fd00::2", n);
	data = w->len - w->hlen;
	assert_int_equal((data + step - 1) / step, count);
	for (size_t i = 0; i < count; i++) {
		size_t off = order[i] * step, len = off + step < data ? step : data - off;

		assert_int_equal(add(t, w, off, len, off + len < data, 0, out, &out_len), 0);
		if (i + 1 < count) {
			assert_int_equal(out_len, 0);
			assert_int_equal(tun_frag_count(t), 1);
		}
	}
	assert_rebuilt(w, out, out_len);
	assert_int_equal(tun_frag_count(t), 0);
	assert_int_equal(tun_frag_mem(t, NULL), 0);
	assert_int_equal(tun_frag_stats(t)->reassembled, 1);
	free(out);
	free(w);
	tun_frag_free(t);
}

static void test_in_order(void **state)
{
	static const size_t order[] = { 0, 1 };

	(void)state;
	reassemble(AF_INET, 100, 56, order, 2);
	reassemble(AF_INET6, 100, 56, order, 2);
}

static void test_out_of_order(void **state)
{
	static const size_t order[] = { 2, 0, 3, 1 };

	(void)state;
	reassemble(AF_INET, 200, 56, order, 4);
	reassemble(AF_INET6, 200, 56, order, 4);
}

/* 3000 bytes of payload, 3008 of UDP: 1008 + 1008 + 992. */
static void test_3000_in_3(void **state)
{
	static const size_t order[] = { 1, 2, 0 };

	(void)state;
	reassemble(AF_INET, 3000, 1008, order, 3);
	reassemble(AF_INET6, 3000, 1008, order, 3);
}

struct fixture {
	struct tun_frag_table *t;
	struct whole w;
	uint8_t out[PKT_MAX];
	size_t out_len;
};

static struct fixture *fixture_new(const struct tun_frag_limits *l, int family, size_t n)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_non_null(f->t = tun_frag_new(l));
	make_whole(&f->w, family, family == AF_INET ? "10.0.0.2" : "fd00::2", n);
	return f;
}

static void fixture_free(struct fixture *f)
{
	tun_frag_free(f->t);
	free(f);
}

static int fadd(struct fixture *f, size_t off, size_t len, int more, uint64_t now)
{
	return add(f->t, &f->w, off, len, more, now, f->out, &f->out_len);
}

static void test_duplicate(void **state)
{
	int families[] = { AF_INET, AF_INET6 };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct fixture *f = fixture_new(&lim_default, families[i], 100);
		size_t mem;

		assert_int_equal(fadd(f, 0, 56, 1, 0), 0);
		mem = tun_frag_mem(f->t, NULL);
		assert_int_equal(fadd(f, 0, 56, 1, 0), 0);
		assert_int_equal(f->out_len, 0);
		assert_int_equal(tun_frag_mem(f->t, NULL), mem);
		assert_int_equal(fadd(f, 56, 52, 0, 0), 0);
		assert_rebuilt(&f->w, f->out, f->out_len);
		fixture_free(f);
	}
}

static void test_overlap(void **state)
{
	int families[] = { AF_INET, AF_INET6 };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct fixture *f = fixture_new(&lim_default, families[i], 100);

		assert_int_equal(fadd(f, 0, 56, 1, 0), 0);
		assert_int_equal(fadd(f, 48, 60, 0, 0), -EBADMSG);
		assert_int_equal(tun_frag_stats(f->t)->overlaps, 1);
		/* RFC 5722, 4: the whole datagram is gone */
		assert_int_equal(tun_frag_count(f->t), 0);
		assert_int_equal(tun_frag_mem(f->t, NULL), 0);
		assert_int_equal(fadd(f, 56, 52, 0, 0), 0);
		assert_int_equal(f->out_len, 0);
		/* an overlap inside what is held: same offset, another length */
		assert_int_equal(fadd(f, 56, 48, 1, 0), -EBADMSG);
		assert_int_equal(tun_frag_stats(f->t)->overlaps, 2);
		assert_int_equal(tun_frag_stats(f->t)->reassembled, 0);
		fixture_free(f);
	}
}

/* Adds bytes [off, off + len) of f's datagram under another id. */
static int fadd_id(struct fixture *f, size_t off, size_t len, int more, uint32_t id, uint64_t now)
{
	struct tun_pkt p;

	cut(&f->w, off, len, more, id);
	assert_int_equal(tun_parse(&p, f->w.frag, f->w.frag_len), 0);
	return tun_frag_add(f->t, &p, now, f->out, PKT_MAX, &f->out_len);
}

static void test_timeout(void **state)
{
	struct tun_frag_limits l = lim_default;
	struct fixture *f;

	(void)state;
	l.timeout_ms = 1000;
	f = fixture_new(&l, AF_INET, 100);
	assert_int_equal(fadd(f, 0, 56, 1, 5000), 0);
	tun_frag_expire(f->t, 5999);
	assert_int_equal(tun_frag_count(f->t), 1);
	tun_frag_expire(f->t, 6000);
	assert_int_equal(tun_frag_count(f->t), 0);
	assert_int_equal(tun_frag_mem(f->t, NULL), 0);
	assert_int_equal(tun_frag_stats(f->t)->timed_out, 1);

	/* a fragment late for its datagram starts a new one */
	assert_int_equal(fadd(f, 0, 56, 1, 7000), 0);
	assert_int_equal(fadd(f, 56, 52, 0, 8000), 0);
	assert_int_equal(f->out_len, 0);
	assert_int_equal(tun_frag_stats(f->t)->timed_out, 2);
	assert_int_equal(tun_frag_count(f->t), 1);
	fixture_free(f);

	/* a clock that goes back: the datagram is as old as the newest, and
	 * expires with it, not before it */
	f = fixture_new(&l, AF_INET, 100);
	assert_int_equal(fadd_id(f, 0, 56, 1, 1, 5000), 0);
	assert_int_equal(fadd_id(f, 0, 56, 1, 2, 4000), 0);
	tun_frag_expire(f->t, 5999);
	assert_int_equal(tun_frag_count(f->t), 2);
	assert_int_equal(fadd_id(f, 56, 52, 0, 2, 5999), 0);
	assert_int_not_equal(f->out_len, 0);
	assert_int_equal(tun_frag_count(f->t), 1);
	tun_frag_expire(f->t, 6000);
	assert_int_equal(tun_frag_count(f->t), 0);
	fixture_free(f);
}

/* A fragment of an expired datagram goes to a new one, never to the next in the table. */
static void test_timeout_not_next(void **state)
{
	struct tun_frag_limits l = lim_default;
	struct fixture *f;

	(void)state;
	l.timeout_ms = 1000;
	f = fixture_new(&l, AF_INET6, 100);
	assert_int_equal(fadd_id(f, 0, 56, 1, 1, 0), 0);
	assert_int_equal(fadd_id(f, 0, 56, 1, 2, 100), 0);
	assert_int_equal(fadd_id(f, 56, 52, 0, 2, 1200), 0);
	assert_int_equal(f->out_len, 0);
	assert_int_equal(tun_frag_stats(f->t)->timed_out, 1);
	assert_int_equal(tun_frag_count(f->t), 2);
	fixture_free(f);
}

/* Fills the table with first fragments of datagrams 1, 2, ... from src until
 * one is refused; returns how many were taken. */
static int fill(struct tun_frag_table *t, int family, const char *src, struct whole *w)
{
	uint8_t out[64];
	size_t out_len;
	struct tun_pkt p;
	int n, ret;

	make_whole(w, family, src, 1000);
	for (n = 0; n < 10000; n++) {
		cut(w, 0, 504, 1, (uint32_t)n + 1);
		assert_int_equal(tun_parse(&p, w->frag, w->frag_len), 0);
		ret = tun_frag_add(t, &p, 0, out, sizeof(out), &out_len);
		if (ret)
			break;
	}
	assert_int_equal(ret, -ENOBUFS);
	return n;
}

static void test_source_limit(void **state)
{
	struct tun_frag_limits l = lim_default;
	struct tun_frag_table *t;
	struct whole *w = malloc(sizeof(*w));
	struct tun_addr a = addr(AF_INET, "10.0.0.2"), b = addr(AF_INET6, "fd00::7");
	int n;

	(void)state;
	l.source_bytes = 4000;
	assert_non_null(w);
	assert_non_null(t = tun_frag_new(&l));
	n = fill(t, AF_INET, "10.0.0.2", w);
	assert_true(n >= 3 && n < 8);
	assert_true(tun_frag_mem(t, &a) <= l.source_bytes);
	assert_int_equal(tun_frag_stats(t)->over_limit, 1);
	/* another source still gets its share */
	assert_int_equal(fill(t, AF_INET6, "fd00::7", w), n);
	assert_true(tun_frag_mem(t, &b) <= l.source_bytes);
	assert_int_equal(tun_frag_count(t), (size_t)n * 2);
	free(w);
	tun_frag_free(t);
}

static void test_total_limit(void **state)
{
	struct tun_frag_limits l = lim_default;
	struct tun_frag_table *t;
	struct whole *w = malloc(sizeof(*w));
	struct tun_addr b = addr(AF_INET, "10.0.0.3");
	int n;

	(void)state;
	l.total_bytes = 6000;
	l.source_bytes = 4000;
	assert_non_null(w);
	assert_non_null(t = tun_frag_new(&l));
	n = fill(t, AF_INET, "10.0.0.2", w);
	/* the second source fills what the first left of the total */
	assert_true(fill(t, AF_INET, "10.0.0.3", w) < n);
	assert_true(tun_frag_mem(t, NULL) <= l.total_bytes);
	assert_true(tun_frag_mem(t, &b) > 0);
	/* what expires frees its memory, and room is made for more */
	tun_frag_expire(t, l.timeout_ms);
	assert_int_equal(tun_frag_mem(t, NULL), 0);
	assert_int_equal(fill(t, AF_INET, "10.0.0.3", w), n);
	free(w);
	tun_frag_free(t);
}

static void test_oversized(void **state)
{
	struct tun_frag_limits l = lim_default;
	struct fixture *f;
	int families[] = { AF_INET, AF_INET6 };
	size_t small;

	(void)state;
	l.max_size = 1000;
	for (size_t i = 0; i < 2; i++) {
		f = fixture_new(&l, families[i], 1200); /* 1208 bytes of UDP */
		assert_int_equal(fadd(f, 0, 600, 1, 0), 0);
		assert_int_equal(fadd(f, 600, 608, 0, 0), -EMSGSIZE);
		assert_int_equal(tun_frag_stats(f->t)->oversized, 1);
		assert_int_equal(tun_frag_count(f->t), 0);
		fixture_free(f);
	}

	/* a result larger than the caller's buffer */
	f = fixture_new(&lim_default, AF_INET, 100);
	assert_int_equal(fadd(f, 0, 56, 1, 0), 0);
	cut(&f->w, 56, 52, 0, id_of(&f->w));
	{
		struct tun_pkt p;

		assert_int_equal(tun_parse(&p, f->w.frag, f->w.frag_len), 0);
		small = f->w.len - 1;
		assert_int_equal(tun_frag_add(f->t, &p, 0, f->out, small, &f->out_len), -ENOSPC);
	}
	assert_int_equal(tun_frag_stats(f->t)->oversized, 1);
	assert_int_equal(tun_frag_count(f->t), 0);
	fixture_free(f);
}

static void test_malformed(void **state)
{
	struct fixture *f = fixture_new(&lim_default, AF_INET6, 100);
	struct tun_pkt p;

	(void)state;
	/* a middle fragment whose length is not a multiple of 8 */
	assert_int_equal(fadd(f, 0, 56, 1, 0), 0);
	assert_int_equal(fadd(f, 56, 20, 1, 0), -EINVAL);
	assert_int_equal(tun_frag_count(f->t), 0);
	/* two last fragments that disagree on the end */
	assert_int_equal(fadd(f, 56, 52, 0, 0), 0);
	assert_int_equal(fadd(f, 8, 40, 0, 0), -EINVAL);
	/* data past the end */
	assert_int_equal(fadd(f, 16, 16, 0, 0), 0);
	assert_int_equal(fadd(f, 40, 8, 1, 0), -EINVAL);
	assert_int_equal(tun_frag_stats(f->t)->bad, 3);
	assert_int_equal(tun_frag_count(f->t), 0);
	/* a whole packet is not a fragment */
	assert_int_equal(tun_parse(&p, f->w.buf, f->w.len), 0);
	assert_int_equal(tun_frag_add(f->t, &p, 0, f->out, PKT_MAX, &f->out_len), -EINVAL);
	assert_int_equal(tun_frag_stats(f->t)->bad, 4);
	fixture_free(f);
}

/* Past max_frags fragments, a datagram is dropped; up to it, it is rebuilt. */
static void test_max_frags(void **state)
{
	struct tun_frag_limits l = lim_default;
	int families[] = { AF_INET, AF_INET6 };

	(void)state;
	l.max_frags = 64;
	for (size_t i = 0; i < 2; i++) {
		/* 608 bytes of UDP: 76 fragments of 8 */
		struct fixture *f = fixture_new(&l, families[i], 600);

		for (size_t k = 0; k < 64; k++)
			assert_int_equal(fadd(f, 8 * (k * 7 % 76), 8, 1, 0), 0);
		/* a duplicate is no fragment more */
		assert_int_equal(fadd(f, 0, 8, 1, 0), 0);
		assert_int_equal(tun_frag_count(f->t), 1);
		assert_int_equal(fadd(f, 600, 8, 0, 0), -ENOBUFS);
		assert_int_equal(tun_frag_stats(f->t)->too_many, 1);
		assert_int_equal(tun_frag_stats(f->t)->over_limit, 0);
		assert_int_equal(tun_frag_count(f->t), 0);
		assert_int_equal(tun_frag_mem(f->t, NULL), 0);
		fixture_free(f);
	}
	l.max_frags = 76;
	for (size_t i = 0; i < 2; i++) {
		struct fixture *f = fixture_new(&l, families[i], 600);

		for (size_t k = 0; k < 76; k++)
			assert_int_equal(fadd(f, 8 * (k * 7 % 76), 8, k * 7 % 76 != 75, 0), 0);
		assert_rebuilt(&f->w, f->out, f->out_len);
		assert_int_equal(tun_frag_stats(f->t)->too_many, 0);
		fixture_free(f);
	}
}

/* The largest datagram cut for an MTU: n fragments, rebuilt. */
static void check_largest(const struct tun_frag_limits *l, int family, size_t mtu, size_t n)
{
	/* IPv4: 65535 bytes in all; IPv6: a payload of 65535 */
	struct fixture *f = fixture_new(l, family, family == AF_INET ? 65535 - 28 : 65535 - 8);
	size_t step = (mtu - f->w.hlen - (family == AF_INET ? 0 : FRAG_HLEN)) / 8 * 8;
	size_t data = f->w.len - f->w.hlen, k = 0;

	for (size_t off = 0; off < data; off += step, k++) {
		size_t len = off + step < data ? step : data - off;

		assert_int_equal(fadd(f, off, len, off + len < data, 0), 0);
	}
	assert_int_equal(k, n);
	assert_rebuilt(&f->w, f->out, f->out_len);
	fixture_free(f);
}

/* The default max_frags lets through the largest datagram cut for IPv6's
 * minimum MTU (1280), and for IPv4's (576), which tun_fragment may do. */
static void test_largest(void **state)
{
	struct tun_frag_limits l = lim_default;

	(void)state;
	l.max_frags = 0; /* the default too */
	check_largest(&lim_default, AF_INET, 1280, 53);
	check_largest(&lim_default, AF_INET6, 1280, 54);
	check_largest(&lim_default, AF_INET, 576, 119);
	check_largest(&l, AF_INET, 576, 119);
}

/* Adds an IPv6 fragment fd00::2 -> 2001:db8::9 whose fragment header names
 * next, then len bytes of data; returns tun_frag_add's result. */
static int add_raw6(struct tun_frag_table *t, uint8_t next, uint32_t id, size_t off, int more,
	const uint8_t *data, size_t len, uint8_t *out, size_t *out_len)
{
	uint8_t *f = calloc(1, TUN_IPV6_HLEN + FRAG_HLEN + len);
	struct tun_addr s = addr(AF_INET6, "fd00::2"), d = addr(AF_INET6, "2001:db8::9");
	struct tun_pkt p;
	int ret;

	assert_non_null(f);
	f[0] = 0x60;
	put16(f + 4, (uint16_t)(FRAG_HLEN + len));
	f[6] = TUN_IPPROTO_FRAGMENT;
	f[7] = 64;
	memcpy(f + 8, s.ip, 16);
	memcpy(f + 24, d.ip, 16);
	f[40] = next;
	put16(f + 42, (uint16_t)(off | (more ? 1 : 0)));
	put16(f + 44, (uint16_t)(id >> 16));
	put16(f + 46, (uint16_t)id);
	memcpy(f + TUN_IPV6_HLEN + FRAG_HLEN, data, len);
	assert_int_equal(tun_parse(&p, f, TUN_IPV6_HLEN + FRAG_HLEN + len), 0);
	assert_int_not_equal(p.frag, TUN_FRAG_NONE);
	ret = tun_frag_add(t, &p, 0, out, PKT_MAX, out_len);
	free(f);
	return ret;
}

/* The same for IPv4, 10.0.0.2 -> 10.1.2.3, of protocol proto. */
static int add_raw4(struct tun_frag_table *t, uint8_t proto, uint16_t id, size_t off, int more,
	const uint8_t *data, size_t len, uint8_t *out, size_t *out_len)
{
	uint8_t *f = calloc(1, TUN_IPV4_HLEN + len);
	struct tun_addr s = addr(AF_INET, "10.0.0.2"), d = addr(AF_INET, "10.1.2.3");
	struct tun_pkt p;
	int ret;

	assert_non_null(f);
	f[0] = 0x45;
	put16(f + 2, (uint16_t)(TUN_IPV4_HLEN + len));
	put16(f + 4, id);
	put16(f + 6, (uint16_t)((more ? 0x2000 : 0) | off / 8));
	f[8] = 64;
	f[9] = proto;
	memcpy(f + 12, s.ip, 4);
	memcpy(f + 16, d.ip, 4);
	put16(f + 10, tun_csum_fold(tun_csum_add(0, f, TUN_IPV4_HLEN)));
	memcpy(f + TUN_IPV4_HLEN, data, len);
	assert_int_equal(tun_parse(&p, f, TUN_IPV4_HLEN + len), 0);
	assert_int_not_equal(p.frag, TUN_FRAG_NONE);
	ret = tun_frag_add(t, &p, 0, out, PKT_MAX, out_len);
	free(f);
	return ret;
}

/* An IPv6 first fragment without the whole header chain is dropped with its
 * datagram (RFC 8200 4.5, RFC 7112). */
static void test_first_frag_v6(void **state)
{
	struct tun_frag_table *t = tun_frag_new(&lim_default);
	uint8_t *out = malloc(PKT_MAX), c[64];
	size_t out_len;

	(void)state;
	assert_non_null(t);
	assert_non_null(out);
	memset(c, 0, sizeof(c));
	/* a UDP header: enough */
	assert_int_equal(add_raw6(t, TUN_IPPROTO_UDP, 1, 0, 1, c, 8, out, &out_len), 0);
	assert_int_equal(tun_frag_count(t), 1);
	/* destination options, and the UDP header left to the next fragment */
	c[0] = TUN_IPPROTO_UDP; /* its next header; c[1] = 0: 8 bytes long */
	assert_int_equal(add_raw6(t, TUN_IPPROTO_DSTOPTS, 2, 0, 1, c, 8, out, &out_len), -EINVAL);
	assert_int_equal(tun_frag_stats(t)->bad, 1);
	assert_int_equal(tun_frag_count(t), 1);
	/* ... which drops what its datagram held */
	assert_int_equal(add_raw6(t, TUN_IPPROTO_DSTOPTS, 3, 8, 1, c, 8, out, &out_len), 0);
	assert_int_equal(tun_frag_count(t), 2);
	assert_int_equal(add_raw6(t, TUN_IPPROTO_DSTOPTS, 3, 0, 1, c, 8, out, &out_len), -EINVAL);
	assert_int_equal(tun_frag_count(t), 1);
	/* routing, destination options, UDP: the whole chain */
	memset(c, 0, sizeof(c));
	c[0] = TUN_IPPROTO_DSTOPTS;
	c[8] = TUN_IPPROTO_UDP;
	assert_int_equal(add_raw6(t, TUN_IPPROTO_ROUTING, 4, 0, 1, c, 24, out, &out_len), 0);
	/* an extension header longer than the fragment */
	c[1] = 1;
	assert_int_equal(add_raw6(t, TUN_IPPROTO_ROUTING, 5, 0, 1, c, 16, out, &out_len), -EINVAL);
	/* hop-by-hop or a fragment header after the fragment header */
	c[1] = 0;
	assert_int_equal(add_raw6(t, TUN_IPPROTO_HOPOPTS, 6, 0, 1, c, 24, out, &out_len), -EINVAL);
	assert_int_equal(add_raw6(t, TUN_IPPROTO_FRAGMENT, 7, 0, 1, c, 24, out, &out_len), -EINVAL);
	/* TCP takes 20 bytes, ICMPv6 8, no next header none */
	assert_int_equal(add_raw6(t, TUN_IPPROTO_TCP, 8, 0, 1, c, 16, out, &out_len), -EINVAL);
	assert_int_equal(add_raw6(t, TUN_IPPROTO_TCP, 9, 0, 1, c, 24, out, &out_len), 0);
	assert_int_equal(add_raw6(t, TUN_IPPROTO_ICMPV6, 10, 0, 1, c, 8, out, &out_len), 0);
	assert_int_equal(add_raw6(t, TUN_IPPROTO_NONE, 11, 0, 1, c, 8, out, &out_len), 0);
	assert_int_equal(tun_frag_stats(t)->bad, 6);
	assert_int_equal(tun_frag_count(t), 5);
	assert_int_equal(tun_frag_stats(t)->reassembled, 0);
	free(out);
	tun_frag_free(t);
}

/* A first fragment that holds destination options and the UDP header: the
 * datagram is rebuilt with them. */
static void test_first_frag_dstopts(void **state)
{
	struct fixture *f = fixture_new(&lim_default, AF_INET6, 100); /* 108 bytes of UDP */
	uint8_t part[8 + 108] = { TUN_IPPROTO_UDP, 0, 1, 4 };	      /* PadN, 4 bytes */
	struct tun_pkt p;

	(void)state;
	memcpy(part + 8, f->w.buf + TUN_IPV6_HLEN, 108);
	assert_int_equal(add_raw6(f->t, TUN_IPPROTO_DSTOPTS, 7, 56, 0, part + 56, sizeof(part) - 56,
				 f->out, &f->out_len),
		0);
	assert_int_equal(
		add_raw6(f->t, TUN_IPPROTO_DSTOPTS, 7, 0, 1, part, 56, f->out, &f->out_len), 0);
	assert_int_equal(f->out_len, TUN_IPV6_HLEN + sizeof(part));
	assert_int_equal(f->out[6], TUN_IPPROTO_DSTOPTS);
	assert_memory_equal(f->out + TUN_IPV6_HLEN, part, sizeof(part));
	assert_int_equal(tun_parse(&p, f->out, f->out_len), 0);
	assert_int_equal(p.frag, TUN_FRAG_NONE);
	assert_int_equal(p.proto, TUN_IPPROTO_UDP);
	assert_int_equal(p.l4_off, TUN_IPV6_HLEN + 8);
	assert_int_equal(tun_verify(&p), 0);
	fixture_free(f);
}

/* IPv4: a first fragment too short for the upper-layer header (RFC 1858). */
static void test_first_frag_v4(void **state)
{
	struct tun_frag_table *t = tun_frag_new(&lim_default);
	uint8_t *out = malloc(PKT_MAX), c[32];
	size_t out_len;

	(void)state;
	assert_non_null(t);
	assert_non_null(out);
	memset(c, 0, sizeof(c));
	assert_int_equal(add_raw4(t, TUN_IPPROTO_TCP, 1, 0, 1, c, 16, out, &out_len), -EINVAL);
	assert_int_equal(add_raw4(t, TUN_IPPROTO_TCP, 2, 0, 1, c, 24, out, &out_len), 0);
	assert_int_equal(add_raw4(t, TUN_IPPROTO_UDP, 3, 0, 1, c, 8, out, &out_len), 0);
	assert_int_equal(add_raw4(t, TUN_IPPROTO_ICMP, 4, 0, 1, c, 8, out, &out_len), 0);
	assert_int_equal(
		add_raw4(t, 132, 5, 0, 1, c, 8, out, &out_len), 0); /* SCTP: not looked into */
	/* a later fragment first: the tiny first one drops it */
	assert_int_equal(add_raw4(t, TUN_IPPROTO_TCP, 6, 16, 1, c, 8, out, &out_len), 0);
	assert_int_equal(tun_frag_count(t), 5);
	assert_int_equal(add_raw4(t, TUN_IPPROTO_TCP, 6, 0, 1, c, 16, out, &out_len), -EINVAL);
	assert_int_equal(tun_frag_count(t), 4);
	assert_int_equal(tun_frag_stats(t)->bad, 2);
	free(out);
	tun_frag_free(t);
}

/* A flood from source A up to its limit doesn't keep source B from reassembling. */
static void test_source_fair(void **state)
{
	struct tun_frag_table *t;
	struct whole *w = malloc(sizeof(*w));
	struct fixture *b = fixture_new(&lim_default, AF_INET, 3000);
	struct tun_addr a = addr(AF_INET, "10.9.9.9");
	size_t held;

	(void)state;
	assert_non_null(w);
	t = b->t;
	fill(t, AF_INET, "10.9.9.9", w);
	held = tun_frag_mem(t, &a);
	assert_true(held <= lim_default.source_bytes);
	assert_true(held + 1000 > lim_default.source_bytes); /* A is at its limit */
	/* B's datagram, in 3 fragments, while A keeps trying */
	assert_int_equal(fadd(b, 1008, 1008, 1, 0), 0);
	cut(w, 0, 504, 1, 50000);
	{
		struct tun_pkt p;
		uint8_t out[64];
		size_t out_len;

		assert_int_equal(tun_parse(&p, w->frag, w->frag_len), 0);
		assert_int_equal(tun_frag_add(t, &p, 0, out, sizeof(out), &out_len), -ENOBUFS);
	}
	assert_int_equal(fadd(b, 2016, 992, 0, 0), 0);
	assert_int_equal(fadd(b, 0, 1008, 1, 0), 0);
	assert_rebuilt(&b->w, b->out, b->out_len);
	assert_int_equal(tun_frag_mem(t, &a), held);
	fixture_free(b);
	free(w);
}

#define FLOOD_SOURCES 200
#define FLOOD_FRAGS 50000

/* xorshift32: the same offsets every run */
static uint32_t next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/*
 * FLOOD_FRAGS later fragments of 8 bytes, each of its own datagram (ids all
 * different), from FLOOD_SOURCES sources (half IPv4, half IPv6), at one a
 * 0.1 ms from now on. Returns how many were taken; memory stays within the
 * limits all along and is accounted by source exactly.
 */
static size_t flood(struct tun_frag_table *t, const struct tun_frag_limits *l, uint64_t now)
{
	struct whole *w4 = malloc(sizeof(*w4)), *w6 = malloc(sizeof(*w6));
	struct tun_addr src[FLOOD_SOURCES];
	uint32_t x = 2463534242u;
	size_t taken = 0, sum = 0;
	uint8_t out[64];

	assert_non_null(w4);
	assert_non_null(w6);
	make_whole(w4, AF_INET, "10.0.0.2", 1200);
	make_whole(w6, AF_INET6, "fd00::2", 1200);
	for (size_t s = 0; s < FLOOD_SOURCES; s++) {
		int family = s % 2 ? AF_INET6 : AF_INET;
		char name[64];

		snprintf(name, sizeof(name), family == AF_INET ? "10.7.%zu.%zu" : "fd00:7::%zx:%zx",
			s / 100, s % 100 + 1);
		src[s] = addr(family, name);
	}
	for (uint32_t i = 0; i < FLOOD_FRAGS; i++) {
		size_t s = i % FLOOD_SOURCES, out_len;
		struct whole *w = src[s].family == AF_INET ? w4 : w6;
		/* bijections of i: the ids differ whatever the source */
		uint32_t id = src[s].family == AF_INET ? (uint16_t)(i * 40503u) : i * 2654435761u;
		size_t off = 8 * (1 + next_rand(&x) % 120);
		struct tun_pkt p;
		int ret;

		cut(w, off, 8, 1, id);
		memcpy(w->frag + (src[s].family == AF_INET ? 12 : 8), src[s].ip,
			src[s].family == AF_INET ? 4 : 16);
		assert_int_equal(tun_parse(&p, w->frag, w->frag_len), 0);
		ret = tun_frag_add(t, &p, now + i / 10, out, sizeof(out), &out_len);
		assert_true(ret == 0 || ret == -ENOBUFS);
		assert_int_equal(out_len, 0);
		taken += !ret;
		assert_true(tun_frag_mem(t, NULL) <= l->total_bytes);
	}
	for (size_t s = 0; s < FLOOD_SOURCES; s++) {
		assert_true(tun_frag_mem(t, &src[s]) <= l->source_bytes);
		sum += tun_frag_mem(t, &src[s]);
	}
	assert_int_equal(sum, tun_frag_mem(t, NULL));
	assert_int_equal(tun_frag_count(t), taken);
	free(w4);
	free(w6);
	return taken;
}

/* A datagram of 3000 bytes from a source the flood didn't use: 0 once rebuilt. */
static int fresh(struct tun_frag_table *t, uint64_t now)
{
	struct whole *w = malloc(sizeof(*w));
	uint8_t *out = malloc(PKT_MAX);
	size_t out_len;
	int ret;

	assert_non_null(w);
	assert_non_null(out);
	make_whole(w, AF_INET6, "fd00:1::1", 3000);
	if (!(ret = add(t, w, 1008, 1008, 1, now, out, &out_len)) &&
		!(ret = add(t, w, 0, 1008, 1, now, out, &out_len)) &&
		!(ret = add(t, w, 2016, 992, 0, now, out, &out_len)))
		assert_rebuilt(w, out, out_len);
	free(out);
	free(w);
	return ret;
}

/* Many sources, each within a share of the total: a new source still reassembles. */
static void test_flood_shares(void **state)
{
	struct tun_frag_limits l = lim_default;
	struct tun_frag_table *t;
	size_t taken;

	(void)state;
	l.source_bytes = l.total_bytes / 256; /* 200 sources can't fill the total */
	memcpy(l.hash_key, "frag-flood-key!!", 16);
	assert_non_null(t = tun_frag_new(&l));
	taken = flood(t, &l, 0);
	assert_true(taken > 10000 && taken < FLOOD_FRAGS);
	assert_int_equal(tun_frag_stats(t)->over_limit, FLOOD_FRAGS - taken);
	assert_int_equal(fresh(t, FLOOD_FRAGS / 10), 0);
	assert_int_equal(tun_frag_count(t), taken);
	tun_frag_expire(t, l.timeout_ms + FLOOD_FRAGS / 10);
	assert_int_equal(tun_frag_count(t), 0);
	assert_int_equal(tun_frag_mem(t, NULL), 0);
	assert_int_equal(tun_frag_stats(t)->timed_out, taken);
	tun_frag_free(t);
}

/*
 * The default limits: 4 sources at source_bytes fill total_bytes, and so do
 * 200 below it. A datagram of a new source is then refused until the flood's
 * time out (total_bytes bounds memory; no datagram held is pushed out).
 */
static void test_flood_total(void **state)
{
	struct tun_frag_table *t;
	size_t taken, left;

	(void)state;
	assert_non_null(t = tun_frag_new(&lim_default));
	taken = flood(t, &lim_default, 0);
	assert_true(taken > 10000 && taken < FLOOD_FRAGS);
	assert_true(tun_frag_mem(t, NULL) + 1000 > lim_default.total_bytes);
	assert_int_equal(fresh(t, FLOOD_FRAGS / 10), -ENOBUFS);
	/* those of the flood's first second time out: room again */
	assert_int_equal(fresh(t, lim_default.timeout_ms + 1000), 0);
	left = tun_frag_count(t);
	assert_true(left < taken);
	assert_int_equal(tun_frag_stats(t)->timed_out, taken - left);
	tun_frag_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_3000_in_3),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_timeout_not_next),
		cmocka_unit_test(test_source_limit),
		cmocka_unit_test(test_total_limit),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_max_frags),
		cmocka_unit_test(test_largest),
		cmocka_unit_test(test_first_frag_v6),
		cmocka_unit_test(test_first_frag_dstopts),
		cmocka_unit_test(test_first_frag_v4),
		cmocka_unit_test(test_source_fair),
		cmocka_unit_test(test_flood_shares),
		cmocka_unit_test(test_flood_total),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
