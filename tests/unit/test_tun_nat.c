/* Unit tests of tun/nat: 4-tuple keys, TCP-aware expiry, port reuse, exhaustion, a random model. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "tun/nat.h"

#define SEC 1000ull
#define SYN TUN_NAT_SYN
#define ACK TUN_NAT_ACK
#define FIN TUN_NAT_FIN
#define RST TUN_NAT_RST

static struct tun_nat_tuple tuple(const char *c, uint16_t cport, const char *d, uint16_t dport)
{
	struct tun_nat_tuple t;
	int family = strchr(c, ':') ? AF_INET6 : AF_INET;

	memset(&t, 0, sizeof(t));
	t.family = family;
	assert_int_equal(inet_pton(family, c, t.src), 1);
	assert_int_equal(inet_pton(family, d, t.dst), 1);
	t.sport = cport;
	t.dport = dport;
	return t;
}

static void assert_tuple_equal(const struct tun_nat_tuple *a, const struct tun_nat_tuple *b)
{
	assert_int_equal(a->family, b->family);
	assert_memory_equal(a->src, b->src, 16);
	assert_memory_equal(a->dst, b->dst, 16);
	assert_int_equal(a->sport, b->sport);
	assert_int_equal(a->dport, b->dport);
}

static struct tun_nat *nat_with(uint16_t port_min, uint16_t port_max, uint32_t max_entries)
{
	struct tun_nat_config cfg;
	struct tun_nat *nat;

	tun_nat_config_default(&cfg);
	cfg.port_min = port_min;
	cfg.port_max = port_max;
	cfg.max_entries = max_entries;
	assert_int_equal(tun_nat_new(&nat, &cfg), 0);
	return nat;
}

static uint16_t fwd(struct tun_nat *nat, const struct tun_nat_tuple *t, uint8_t flags, uint64_t now)
{
	uint16_t port = 0;

	assert_int_equal(tun_nat_forward(nat, t, flags, now, &port), 0);
	return port;
}

static void rev(struct tun_nat *nat, uint16_t port, uint8_t flags, uint64_t now,
	const struct tun_nat_tuple *want)
{
	struct tun_nat_tuple got;

	assert_int_equal(tun_nat_reverse(nat, want->family, port, flags, now, &got), 0);
	assert_tuple_equal(&got, want);
}

/* SYN, SYN-ACK, ACK at time now; returns the NAT port. */
static uint16_t handshake(struct tun_nat *nat, const struct tun_nat_tuple *t, uint64_t now)
{
	uint16_t port = fwd(nat, t, SYN, now);

	rev(nat, port, SYN | ACK, now, t);
	assert_int_equal(fwd(nat, t, ACK, now), port);
	return port;
}

static bool present(const struct tun_nat *nat, int family, uint16_t port, uint64_t now)
{
	struct tun_nat_tuple t;

	return tun_nat_lookup(nat, family, port, now, &t) == 0;
}

static struct tun_nat_stats stats(const struct tun_nat *nat)
{
	struct tun_nat_stats st;

	tun_nat_stats(nat, &st);
	return st;
}

static void test_config(void **state)
{
	struct tun_nat_config cfg, bad;
	struct tun_nat *nat = NULL;

	(void)state;
	tun_nat_config_default(&cfg);
	assert_int_equal(cfg.port_min, 10000);
	assert_int_equal(cfg.port_max, 60000);
	assert_int_equal(cfg.idle_timeout_ms, 2 * 3600 * SEC);
	bad = cfg, bad.port_min = 0;
	assert_int_equal(tun_nat_new(&nat, &bad), -EINVAL);
	bad = cfg, bad.port_min = 2000, bad.port_max = 1999;
	assert_int_equal(tun_nat_new(&nat, &bad), -EINVAL);
	bad = cfg, bad.syn_timeout_ms = 0;
	assert_int_equal(tun_nat_new(&nat, &bad), -EINVAL);
	bad = cfg, bad.close_timeout_ms = 0;
	assert_int_equal(tun_nat_new(&nat, &bad), -EINVAL);
	assert_null(nat);
	bad = cfg, bad.port_min = bad.port_max = 65535; /* one port */
	assert_int_equal(tun_nat_new(&nat, &bad), 0);
	tun_nat_free(nat);
	tun_nat_free(NULL);
}

static void test_four_tuple(void **state)
{
	struct tun_nat *nat = nat_with(10000, 60000, 0);
	struct tun_nat_tuple a = tuple("192.168.1.10", 40000, "10.20.0.5", 80);
	struct tun_nat_tuple b = tuple("192.168.1.10", 40000, "10.20.0.6", 80);
	struct tun_nat_tuple c = tuple("192.168.1.10", 40000, "10.20.0.5", 81);
	struct tun_nat_tuple d = tuple("fd00::10", 40000, "fd20::5", 80);
	uint16_t pa, pb, pc, pd;

	(void)state;
	pa = fwd(nat, &a, SYN, 0);
	pb = fwd(nat, &b, SYN, 0);
	pc = fwd(nat, &c, SYN, 0);
	pd = fwd(nat, &d, SYN, 0);
	assert_true(pa != pb && pa != pc && pb != pc && pd != pa && pd != pb && pd != pc);
	assert_true(pa >= 10000 && pa <= 60000);
	/* replies, interleaved, go back to their own connection */
	rev(nat, pb, SYN | ACK, 1, &b);
	rev(nat, pd, SYN | ACK, 1, &d);
	rev(nat, pa, SYN | ACK, 1, &a);
	rev(nat, pc, SYN | ACK, 1, &c);
	assert_int_equal(fwd(nat, &a, ACK, 2), pa);
	assert_int_equal(fwd(nat, &b, ACK, 2), pb);
	assert_int_equal(fwd(nat, &c, ACK, 2), pc);
	assert_int_equal(fwd(nat, &d, ACK, 2), pd);
	/* a retransmitted SYN keeps its port */
	assert_int_equal(fwd(nat, &a, SYN, 3), pa);
	assert_int_equal(stats(nat).entries, 4);
	assert_int_equal(stats(nat).created, 4);
	tun_nat_free(nat);
}

static void test_ipv4_padding_ignored(void **state)
{
	struct tun_nat *nat = nat_with(10000, 60000, 0);
	struct tun_nat_tuple t = tuple("10.0.0.1", 1234, "10.20.0.1", 22), dirty = t, got;
	uint16_t port = fwd(nat, &t, SYN, 0);

	(void)state;
	memset(dirty.src + 4, 0xaa, 12);
	memset(dirty.dst + 4, 0x55, 12);
	assert_int_equal(fwd(nat, &dirty, SYN, 1), port);
	assert_int_equal(tun_nat_lookup(nat, AF_INET, port, 1, &got), 0);
	assert_tuple_equal(&got, &t);
	tun_nat_free(nat);
}

static void test_no_entry(void **state)
{
	struct tun_nat *nat = nat_with(10000, 10100, 0);
	struct tun_nat_tuple t = tuple("10.0.0.1", 1234, "10.20.0.1", 22), got;
	uint16_t port;

	(void)state;
	assert_int_equal(tun_nat_forward(nat, &t, ACK, 0, &port), -ENOENT);
	assert_int_equal(tun_nat_forward(nat, &t, SYN | ACK, 0, &port), -ENOENT);
	assert_int_equal(tun_nat_forward(nat, &t, SYN | RST, 0, &port), -ENOENT);
	assert_int_equal(tun_nat_forward(nat, &t, RST, 0, &port), -ENOENT);
	assert_int_equal(tun_nat_reverse(nat, AF_INET, 10000, ACK, 0, &got), -ENOENT);
	assert_int_equal(stats(nat).missed, 5);
	assert_int_equal(stats(nat).entries, 0);
	port = fwd(nat, &t, SYN, 0);
	/* out of range, wrong family */
	assert_int_equal(tun_nat_reverse(nat, AF_INET, 9999, ACK, 0, &got), -ENOENT);
	assert_int_equal(tun_nat_reverse(nat, AF_INET, 10101, ACK, 0, &got), -ENOENT);
	assert_int_equal(tun_nat_reverse(nat, AF_INET6, port, ACK, 0, &got), -ENOENT);
	assert_int_equal(tun_nat_lookup(nat, AF_INET6, port, 0, &got), -ENOENT);
	t.family = AF_UNIX;
	assert_int_equal(tun_nat_forward(nat, &t, SYN, 0, &port), -EAFNOSUPPORT);
	tun_nat_free(nat);
}

static void test_half_open_expiry(void **state)
{
	struct tun_nat *nat = nat_with(10000, 60000, 0);
	struct tun_nat_tuple a = tuple("10.0.0.1", 1000, "10.20.0.1", 80);
	struct tun_nat_tuple b = tuple("10.0.0.1", 1001, "10.20.0.1", 80);
	uint64_t next;
	uint16_t pa, pb;

	(void)state;
	pa = fwd(nat, &a, SYN, 0);
	pb = fwd(nat, &b, SYN, 5 * SEC);
	/* SYN-ACK without the client's ACK: still half-open (a SYN flood stays short) */
	rev(nat, pb, SYN | ACK, 10 * SEC, &b);
	assert_int_equal(tun_nat_expire(nat, 29 * SEC, 100, &next), 0);
	assert_int_equal(next, 30 * SEC);
	assert_true(present(nat, AF_INET, pa, 30 * SEC - 1));
	assert_false(present(nat, AF_INET, pa, 30 * SEC));
	assert_int_equal(tun_nat_expire(nat, 30 * SEC, 100, &next), 1);
	assert_int_equal(next, 40 * SEC);
	assert_true(present(nat, AF_INET, pb, 40 * SEC - 1));
	assert_int_equal(tun_nat_expire(nat, 40 * SEC, 100, &next), 1);
	assert_int_equal(next, TUN_NAT_NEVER);
	assert_int_equal(stats(nat).expired, 2);
	assert_int_equal(stats(nat).entries, 0);
	tun_nat_free(nat);
}

static void test_established_idle(void **state)
{
	struct tun_nat *nat = nat_with(10000, 60000, 0);
	struct tun_nat_tuple a = tuple("fd00::1", 1000, "fd20::1", 443);
	const uint64_t idle = 2 * 3600 * SEC;
	uint64_t next;
	uint16_t port;

	(void)state;
	port = handshake(nat, &a, 0);
	assert_int_equal(tun_nat_expire(nat, 31 * SEC, 100, &next), 0);
	assert_int_equal(next, idle);
	/* quiet for an hour, then the listener sends: refreshed from the reply side */
	rev(nat, port, ACK, 3600 * SEC, &a);
	assert_int_equal(tun_nat_expire(nat, idle, 100, &next), 0);
	assert_int_equal(next, 3600 * SEC + idle);
	assert_int_equal(fwd(nat, &a, ACK, 3600 * SEC + idle - 1), port);
	assert_true(present(nat, AF_INET6, port, 3600 * SEC + 2 * idle - 2));
	assert_false(present(nat, AF_INET6, port, 3600 * SEC + 2 * idle - 1));
	/* no expire call in between: the packet still meets no entry */
	assert_int_equal(tun_nat_forward(nat, &a, ACK, 3600 * SEC + 2 * idle - 1, &port), -ENOENT);
	assert_int_equal(stats(nat).expired, 1);
	assert_int_equal(stats(nat).entries, 0);
	tun_nat_free(nat);
}

static void test_closed_expiry(void **state)
{
	struct tun_nat *nat = nat_with(10000, 60000, 0);
	struct tun_nat_tuple a = tuple("10.0.0.1", 1000, "10.20.0.1", 80);
	struct tun_nat_tuple b = tuple("10.0.0.1", 1001, "10.20.0.1", 80);
	struct tun_nat_tuple c = tuple("10.0.0.1", 1002, "10.20.0.1", 80);
	uint16_t pa = handshake(nat, &a, 0), pb = handshake(nat, &b, 0), pc = handshake(nat, &c, 0);

	(void)state;
	/* a: FIN both ways, last ACK at 100 s: 10 s from then */
	assert_int_equal(fwd(nat, &a, FIN | ACK, 90 * SEC), pa);
	rev(nat, pa, FIN | ACK, 95 * SEC, &a);
	assert_int_equal(fwd(nat, &a, ACK, 100 * SEC), pa);
	/* b: an RST from the listener */
	rev(nat, pb, RST, 100 * SEC, &b);
	/* c: half-closed only: an established connection's timeout */
	assert_int_equal(fwd(nat, &c, FIN | ACK, 100 * SEC), pc);
	assert_true(present(nat, AF_INET, pa, 110 * SEC - 1));
	assert_true(present(nat, AF_INET, pb, 110 * SEC - 1));
	assert_false(present(nat, AF_INET, pa, 110 * SEC));
	assert_false(present(nat, AF_INET, pb, 110 * SEC));
	assert_true(present(nat, AF_INET, pc, 100 * SEC + 2 * 3600 * SEC - 1));
	assert_false(present(nat, AF_INET, pc, 100 * SEC + 2 * 3600 * SEC));
	tun_nat_free(nat);
}

static void test_rst_during_handshake(void **state)
{
	struct tun_nat *nat = nat_with(10000, 60000, 0);
	struct tun_nat_tuple a = tuple("10.0.0.1", 1000, "10.20.0.1", 80);
	uint16_t pa = fwd(nat, &a, SYN, 0);

	(void)state;
	rev(nat, pa, RST | ACK, 1 * SEC, &a); /* nobody listening */
	assert_false(present(nat, AF_INET, pa, 11 * SEC));
	tun_nat_free(nat);
}

/* The client reuses its port after a close: a new NAT port; the old keeps its replies. */
static void test_tuple_reused_after_close(void **state)
{
	struct tun_nat *nat = nat_with(10000, 60000, 0);
	struct tun_nat_tuple a = tuple("10.0.0.1", 1000, "10.20.0.1", 80);
	uint16_t old = handshake(nat, &a, 0), new;
	uint64_t next;

	(void)state;
	assert_int_equal(fwd(nat, &a, FIN | ACK, SEC), old);
	rev(nat, old, FIN | ACK, SEC, &a);
	assert_int_equal(fwd(nat, &a, ACK, SEC), old);
	new = handshake(nat, &a, 2 * SEC);
	assert_int_not_equal(new, old);
	assert_int_equal(fwd(nat, &a, ACK, 3 * SEC), new);
	rev(nat, old, ACK, 3 * SEC, &a); /* the kernel's TIME_WAIT still answers */
	assert_int_equal(stats(nat).entries, 2);
	assert_false(present(nat, AF_INET, old, 13 * SEC));
	assert_int_equal(fwd(nat, &a, ACK, 13 * SEC), new);
	assert_int_equal(tun_nat_expire(nat, 13 * SEC, 100, &next), 1);
	assert_int_equal(stats(nat).entries, 1);
	tun_nat_free(nat);
}

static void close_with_rst(struct tun_nat *nat, const struct tun_nat_tuple *t, uint64_t now)
{
	fwd(nat, t, RST, now);
}

static void test_exhaustion(void **state)
{
	struct tun_nat *nat = nat_with(20000, 20003, 0);
	struct tun_nat_tuple t[5];
	uint16_t port[4], p;
	uint64_t next;

	(void)state;
	for (int i = 0; i < 5; i++)
		t[i] = tuple("10.0.0.1", (uint16_t)(1000 + i), "10.20.0.1", 80);
	for (int i = 0; i < 4; i++)
		port[i] = handshake(nat, &t[i], 0);
	assert_int_equal(tun_nat_forward(nat, &t[4], SYN, SEC, &p), -ENOSPC);
	assert_int_equal(stats(nat).refused, 1);
	/* old connections keep working */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(fwd(nat, &t[i], ACK, 2 * SEC), port[i]);
		rev(nat, port[i], ACK, 2 * SEC, &t[i]);
	}
	/* a closed one still holds its port until it expires */
	close_with_rst(nat, &t[2], 3 * SEC);
	assert_int_equal(tun_nat_forward(nat, &t[4], SYN, 13 * SEC - 1, &p), -ENOSPC);
	/* then its port goes to the next SYN, even before tun_nat_expire runs */
	assert_int_equal(fwd(nat, &t[4], SYN, 13 * SEC), port[2]);
	assert_int_equal(tun_nat_expire(nat, 13 * SEC, 100, &next), 0);
	assert_int_equal(stats(nat).entries, 4);
	assert_int_equal(stats(nat).expired, 1);
	tun_nat_free(nat);
}

static void test_max_entries(void **state)
{
	struct tun_nat *nat = nat_with(20000, 29999, 2);
	struct tun_nat_tuple t[3];
	uint16_t p;

	(void)state;
	for (int i = 0; i < 3; i++)
		t[i] = tuple("10.0.0.1", (uint16_t)(1000 + i), "10.20.0.1", 80);
	fwd(nat, &t[0], SYN, 0);
	fwd(nat, &t[1], SYN, 0);
	assert_int_equal(tun_nat_forward(nat, &t[2], SYN, 0, &p), -ENOSPC);
	assert_int_equal(fwd(nat, &t[2], SYN, 30 * SEC), 20002);
	tun_nat_free(nat);
}

/* Free ports are used in the order they were freed: a just-freed port waits its turn. */
static void test_port_order(void **state)
{
	struct tun_nat *nat = nat_with(30000, 30007, 0);
	struct tun_nat_tuple t;
	uint64_t next, now = 0;
	uint16_t p;

	(void)state;
	for (int i = 0; i < 8; i++) {
		t = tuple("10.0.0.1", (uint16_t)(1000 + i), "10.20.0.1", 80);
		assert_int_equal(fwd(nat, &t, SYN, now), 30000 + i);
	}
	/* 30005 then 30002 expire */
	t = tuple("10.0.0.1", 1005, "10.20.0.1", 80);
	close_with_rst(nat, &t, 1 * SEC);
	t = tuple("10.0.0.1", 1002, "10.20.0.1", 80);
	close_with_rst(nat, &t, 2 * SEC);
	assert_int_equal(tun_nat_expire(nat, 12 * SEC, 1, &next), 1);
	assert_int_equal(next, 12 * SEC);
	assert_int_equal(tun_nat_expire(nat, 12 * SEC, 1, &next), 1);
	assert_int_equal(next, 30 * SEC);
	t = tuple("10.0.0.2", 1, "10.20.0.1", 80);
	assert_int_equal(fwd(nat, &t, SYN, 12 * SEC), 30005);
	t = tuple("10.0.0.2", 2, "10.20.0.1", 80);
	assert_int_equal(fwd(nat, &t, SYN, 12 * SEC), 30002);
	t = tuple("10.0.0.2", 3, "10.20.0.1", 80);
	assert_int_equal(tun_nat_forward(nat, &t, SYN, 12 * SEC, &p), -ENOSPC);
	/* after the first eight expire, ports come back in the range's order */
	assert_int_equal(tun_nat_expire(nat, 30 * SEC, 100, &next), 6);
	t = tuple("10.0.0.2", 4, "10.20.0.1", 80);
	assert_int_equal(fwd(nat, &t, SYN, 30 * SEC), 30000);
	tun_nat_free(nat);
}

static void test_expire_budget(void **state)
{
	struct tun_nat *nat = nat_with(10000, 60000, 0);
	struct tun_nat_tuple t;
	uint64_t next;

	(void)state;
	for (int i = 0; i < 10; i++) {
		t = tuple("10.0.0.1", (uint16_t)(1000 + i), "10.20.0.1", 80);
		fwd(nat, &t, SYN, (uint64_t)i);
	}
	assert_int_equal(tun_nat_expire(nat, 60 * SEC, 3, &next), 3);
	assert_int_equal(next, 60 * SEC);
	assert_int_equal(tun_nat_expire(nat, 60 * SEC, 0, &next), 0);
	assert_int_equal(next, 60 * SEC);
	assert_int_equal(tun_nat_expire(nat, 60 * SEC, 7, &next), 7);
	assert_int_equal(next, TUN_NAT_NEVER);
	tun_nat_free(nat);
}

/* A clock that steps back counts as the latest time seen. */
static void test_clock_backwards(void **state)
{
	struct tun_nat *nat = nat_with(10000, 60000, 0);
	struct tun_nat_tuple t = tuple("10.0.0.1", 1000, "10.20.0.1", 80);
	uint16_t p = fwd(nat, &t, SYN, 100 * SEC);
	uint64_t next;

	(void)state;
	assert_int_equal(fwd(nat, &t, SYN, 50 * SEC), p);
	assert_int_equal(tun_nat_expire(nat, 0, 100, &next), 0);
	assert_int_equal(next, 130 * SEC);
	tun_nat_free(nat);
}

/*
 * The random run: a model that keeps every connection in an array and
 * searches it linearly, fed the same packets as the table.
 */
#define M_PORT_MIN 40000
#define M_PORT_MAX 40199
#define M_MAX_ENTRIES 150
#define M_SYN_MS (30 * SEC)
#define M_IDLE_MS (600 * SEC)
#define M_CLOSE_MS (10 * SEC)
#define M_RECS 4096

struct mrec {
	struct tun_nat_tuple t;
	uint16_t port;
	uint64_t deadline;
	uint8_t fin; /* 1 client, 2 listener */
	bool rst, synack, est, hashed;
};

struct model {
	struct mrec r[M_RECS];
	size_t n;
	uint64_t now;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13; /* xorshift64 */
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static bool m_live(const struct model *m, const struct mrec *r)
{
	return r->deadline > m->now;
}

static bool same_tuple(const struct tun_nat_tuple *a, const struct tun_nat_tuple *b)
{
	return a->family == b->family && !memcmp(a->src, b->src, 16) &&
	       !memcmp(a->dst, b->dst, 16) && a->sport == b->sport && a->dport == b->dport;
}

static struct mrec *m_by_tuple(struct model *m, const struct tun_nat_tuple *t)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].hashed && m_live(m, &m->r[i]) && same_tuple(&m->r[i].t, t))
			return &m->r[i];
	return NULL;
}

static struct mrec *m_by_port(struct model *m, uint16_t port)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].port == port && m_live(m, &m->r[i]))
			return &m->r[i];
	return NULL;
}

static size_t m_count(const struct model *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		n += m_live(m, &m->r[i]);
	return n;
}

static void m_track(struct model *m, struct mrec *r, bool from_client, uint8_t flags)
{
	uint64_t timeout;

	if (flags & RST)
		r->rst = true;
	if (flags & FIN)
		r->fin |= from_client ? 1 : 2;
	if (!from_client && (flags & SYN) && (flags & ACK))
		r->synack = true;
	if (from_client && r->synack && (flags & ACK) && !(flags & SYN))
		r->est = true;
	if (r->rst || r->fin == 3)
		timeout = M_CLOSE_MS;
	else
		timeout = r->est ? M_IDLE_MS : M_SYN_MS;
	r->deadline = m->now + timeout;
}

static void m_compact(struct model *m)
{
	size_t j = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m_live(m, &m->r[i]))
			m->r[j++] = m->r[i];
	m->n = j;
}

static struct tun_nat_tuple random_tuple(void)
{
	static const char *const v4[] = { "192.168.1.1", "192.168.1.2", "10.20.0.1" };
	static const char *const v6[] = { "fd00::1", "fd00::2", "fd20::1" };
	const char *const *a = rnd(2) ? v4 : v6;

	return tuple(a[rnd(3)], (uint16_t)(50000 + rnd(16)), a[rnd(3)], (uint16_t)(80 + rnd(2)));
}

static uint8_t random_flags(bool from_client)
{
	static const uint8_t client[] = { SYN, SYN, SYN, ACK, ACK, ACK, ACK, FIN | ACK, RST,
		SYN | ACK, 0 };
	static const uint8_t listener[] = { SYN | ACK, SYN | ACK, ACK, ACK, ACK, ACK, FIN | ACK,
		RST | ACK };

	if (from_client)
		return client[rnd(sizeof(client))];
	return listener[rnd(sizeof(listener))];
}

static void m_forward(struct tun_nat *nat, struct model *m, int *created)
{
	struct tun_nat_tuple t = random_tuple();
	uint8_t flags = random_flags(true);
	struct mrec *r = m_by_tuple(m, &t);
	bool opens = (flags & (SYN | ACK | RST | FIN)) == SYN;
	uint16_t port = 0;
	int ret = tun_nat_forward(nat, &t, flags, m->now, &port);

	if (opens && (!r || r->rst || r->fin == 3)) {
		if (m_count(m) >= M_MAX_ENTRIES) {
			assert_int_equal(ret, -ENOSPC);
			return;
		}
		assert_int_equal(ret, 0);
		assert_true(port >= M_PORT_MIN && port <= M_PORT_MAX);
		assert_null(m_by_port(m, port)); /* never a port still in use */
		if (r)
			r->hashed = false;
		assert_true(m->n < M_RECS);
		r = &m->r[m->n++];
		*r = (struct mrec){ .t = t, .port = port, .hashed = true };
		(*created)++;
	} else if (!r) {
		assert_int_equal(ret, -ENOENT);
		return;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(port, r->port);
	m_track(m, r, true, flags);
}

static void m_reverse(struct tun_nat *nat, struct model *m)
{
	uint16_t port = (uint16_t)(M_PORT_MIN - 2 + rnd(M_PORT_MAX - M_PORT_MIN + 5));
	uint8_t flags = random_flags(false);
	int family = rnd(2) ? AF_INET : AF_INET6;
	struct tun_nat_tuple got;
	struct mrec *r;
	int ret;

	if (m->n && rnd(4)) { /* mostly a port that is (or was) in use */
		r = &m->r[rnd((uint32_t)m->n)];
		port = r->port;
		family = rnd(20) ? r->t.family : family;
	}
	r = m_by_port(m, port);
	ret = tun_nat_reverse(nat, family, port, flags, m->now, &got);
	if (!r || r->t.family != family) {
		assert_int_equal(ret, -ENOENT);
		return;
	}
	assert_int_equal(ret, 0);
	assert_tuple_equal(&got, &r->t);
	m_track(m, r, false, flags);
}

/* Every live connection is found both ways; expire leaves exactly the live ones. */
static void m_check(struct tun_nat *nat, struct model *m)
{
	struct tun_nat_stats st;
	uint64_t next, want = TUN_NAT_NEVER;

	for (size_t i = 0; i < m->n; i++) {
		struct mrec *r = &m->r[i];
		struct tun_nat_tuple got;
		int ret = tun_nat_lookup(nat, r->t.family, r->port, m->now, &got);

		if (!m_live(m, r) && m_by_port(m, r->port))
			continue; /* the port has a new owner */
		assert_int_equal(ret, m_live(m, r) ? 0 : -ENOENT);
		if (m_live(m, r)) {
			assert_tuple_equal(&got, &r->t);
			if (r->deadline < want)
				want = r->deadline;
		}
	}
	tun_nat_expire(nat, m->now, rnd(2) ? 5 : UINT32_MAX, &next);
	if (next == m->now)
		tun_nat_expire(nat, m->now, UINT32_MAX, &next);
	assert_int_equal(next, want);
	tun_nat_stats(nat, &st);
	assert_int_equal(st.entries, m_count(m));
	assert_int_equal(st.created - st.expired, st.entries);
	m_compact(m);
}

static void test_random_against_model(void **state)
{
	static struct model m;
	struct tun_nat_config cfg;
	struct tun_nat *nat;
	uint32_t step = 1000;
	int created = 0;

	(void)state;
	tun_nat_config_default(&cfg);
	cfg.port_min = M_PORT_MIN;
	cfg.port_max = M_PORT_MAX;
	cfg.max_entries = M_MAX_ENTRIES;
	cfg.syn_timeout_ms = M_SYN_MS;
	cfg.idle_timeout_ms = M_IDLE_MS;
	cfg.close_timeout_ms = M_CLOSE_MS;
	memcpy(cfg.hash_key, "0123456789abcdef", 16);
	assert_int_equal(tun_nat_new(&nat, &cfg), 0);
	for (int i = 0; i < 200000; i++) {
		if (rnd(2))
			m_forward(nat, &m, &created);
		else
			m_reverse(nat, &m);
		if (!rnd(5000)) /* calm and busy phases: busy ones run out of ports */
			step = (uint32_t[]){ 10, 100, 1000 }[rnd(3)];
		m.now += rnd(step);
		if (!rnd(2000))
			m.now += rnd(700) * SEC;
		if (!rnd(500))
			m_check(nat, &m);
	}
	m_check(nat, &m);
	assert_true(created > 5000);
	tun_nat_free(nat);
}

/* A full range of many clients: every connection maps both ways. */
static void test_many_connections(void **state)
{
	struct tun_nat *nat = nat_with(10000, 60000, 0);
	static uint16_t ports[50001];
	static bool used[65536];
	struct tun_nat_tuple t;
	uint16_t p;

	(void)state;
	for (int i = 0; i < 50001; i++) {
		t = tuple("10.0.0.1", 1, "10.20.0.1", 80);
		t.src[2] = (uint8_t)(i >> 8), t.src[3] = (uint8_t)i;
		t.sport = (uint16_t)(1024 + i % 7);
		ports[i] = fwd(nat, &t, SYN, 0);
		assert_false(used[ports[i]]);
		used[ports[i]] = true;
	}
	assert_int_equal(tun_nat_forward(nat, &t, SYN | ACK, 0, &p), 0);
	t.sport++;
	assert_int_equal(tun_nat_forward(nat, &t, SYN, 0, &p), -ENOSPC);
	for (int i = 0; i < 50001; i++) {
		t = tuple("10.0.0.1", 1, "10.20.0.1", 80);
		t.src[2] = (uint8_t)(i >> 8), t.src[3] = (uint8_t)i;
		t.sport = (uint16_t)(1024 + i % 7);
		rev(nat, ports[i], SYN | ACK, 1, &t);
		assert_int_equal(fwd(nat, &t, ACK, 1), ports[i]);
	}
	tun_nat_free(nat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_four_tuple),
		cmocka_unit_test(test_ipv4_padding_ignored),
		cmocka_unit_test(test_no_entry),
		cmocka_unit_test(test_half_open_expiry),
		cmocka_unit_test(test_established_idle),
		cmocka_unit_test(test_closed_expiry),
		cmocka_unit_test(test_rst_during_handshake),
		cmocka_unit_test(test_tuple_reused_after_close),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_max_entries),
		cmocka_unit_test(test_port_order),
		cmocka_unit_test(test_expire_budget),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_many_connections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
