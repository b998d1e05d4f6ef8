/* Unit tests of gateway/route: CIDR parsing, longest prefix match, sources, withdrawal, exclusions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/roles/route.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define CONF ROUTE_CONFIGURED
#define ADV ROUTE_ADVERTISED
#define EXCL ROUTE_EXCLUDED

static struct nl_prefix pfx(const char *s)
{
	struct nl_prefix p;

	assert_int_equal(nl_prefix_parse(s, &p, NULL), 0);
	return p;
}

static void add(struct route_table *rt, const char *cidr, enum route_source src, const char *agent)
{
	struct nl_prefix p = pfx(cidr);

	assert_int_equal(route_add(rt, &p, src, agent), 0);
}

static int del(struct route_table *rt, const char *cidr, enum route_source src, const char *agent)
{
	struct nl_prefix p = pfx(cidr);

	return route_del(rt, &p, src, agent);
}

static const char *lookup(const struct route_table *rt, const char *ip)
{
	uint8_t addr[16];
	int family = strchr(ip, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(family, ip, addr), 1);
	return route_lookup(rt, family, addr, NULL);
}

/* A macro, so a failure names the test's line. */
#define assert_route(rt, ip, want)                                                                 \
	do {                                                                                       \
		const char *got_ = lookup(rt, ip), *want_ = (want);                                \
		if (want_)                                                                         \
			assert_string_equal(got_ ? got_ : "(null)", want_);                        \
		else                                                                               \
			assert_null(got_);                                                         \
	} while (0)

struct parse_case {
	const char *in;
	const char *want; /* formatted back, or NULL: rejected */
	bool masked;
};

static const struct parse_case parse_cases[] = {
	{ "10.20.0.0/16", "10.20.0.0/16", false },
	{ "fd00::/64", "fd00::/64", false },
	{ "0.0.0.0/0", "0.0.0.0/0", false },
	{ "::/0", "::/0", false },
	{ "10.1.2.3", "10.1.2.3/32", false },
	{ "fd00::1", "fd00::1/128", false },
	{ "10.1.2.3/32", "10.1.2.3/32", false },
	{ "10.20.1.0/16", "10.20.0.0/16", true },
	{ "192.168.1.255/23", "192.168.0.0/23", true },
	{ "10.0.0.1/0", "0.0.0.0/0", true },
	{ "fd00::1/64", "fd00::/64", true },
	{ "fd00:0:0:0:ffff::/65", "fd00::8000:0:0:0/65", true },
	{ "10.0.0.0/08", "10.0.0.0/8", false },
	{ "::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104", false },
	{ "10.0.0.0/33", NULL, false },
	{ "1.2.3/8", NULL, false },
	{ "fd00::/129", NULL, false },
	{ "", NULL, false },
	{ "abc", NULL, false },
	{ "abc/8", NULL, false },
	{ "/8", NULL, false },
	{ "10.0.0.0/", NULL, false },
	{ "10.0.0.0/8/8", NULL, false },
	{ "10.0.0.0/-1", NULL, false },
	{ "10.0.0.0/+8", NULL, false },
	{ "10.0.0.0/ 8", NULL, false },
	{ "10.0.0.0/8 ", NULL, false },
	{ " 10.0.0.0/8", NULL, false },
	{ "10.0.0.0/0008", NULL, false },
	{ "10.0.0.256/32", NULL, false },
	{ "010.0.0.0/8", NULL, false },
	{ "fe80::1%eth0/64", NULL, false },
	{ "fd00:::/64", NULL, false },
	{ "10.0.0.0/8\n", NULL, false },
	{ "1111:2222:3333:4444:5555:6666:7777:8888:9999/64", NULL, false },
	{ "1111:2222:3333:4444:5555:6666:777.777.777.777/96", NULL, false },
};

static void test_prefix_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct nl_prefix p;
		char buf[NL_PREFIX_STRLEN];
		bool masked = !c->masked;
		int ret = nl_prefix_parse(c->in, &p, &masked);

		if (!c->want) {
			if (ret != -EINVAL)
				fail_msg("\"%s\" accepted", c->in);
			continue;
		}
		if (ret)
			fail_msg("\"%s\" rejected", c->in);
		assert_int_equal(masked, c->masked);
		assert_int_equal(nl_prefix_format(&p, buf, sizeof(buf)), 0);
		assert_string_equal(buf, c->want);
	}
}

static void test_prefix_format(void **state)
{
	struct nl_prefix p = pfx("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	char buf[NL_PREFIX_STRLEN];

	(void)state;
	assert_int_equal(nl_prefix_format(&p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	assert_int_equal(nl_prefix_format(&p, buf, 10), -ENOSPC);
	p.len = 129;
	assert_int_equal(nl_prefix_format(&p, buf, sizeof(buf)), -EINVAL);
	p.family = AF_UNIX;
	assert_int_equal(nl_prefix_format(&p, buf, sizeof(buf)), -EINVAL);
}

static void test_longest_prefix_v4(void **state)
{
	struct route_table *rt = route_table_new();

	(void)state;
	assert_route(rt, "10.20.30.40", NULL);
	add(rt, "10.0.0.0/8", CONF, "a");
	add(rt, "10.20.0.0/16", CONF, "b");
	add(rt, "10.20.30.0/24", CONF, "c");
	add(rt, "10.20.30.40/32", CONF, "host");
	add(rt, "10.20.30.128/25", CONF, "d");
	assert_route(rt, "10.1.1.1", "a");
	assert_route(rt, "10.20.1.1", "b");
	assert_route(rt, "10.20.30.1", "c");
	assert_route(rt, "10.20.30.40", "host");
	assert_route(rt, "10.20.30.41", "c");
	assert_route(rt, "10.20.30.200", "d");
	assert_route(rt, "11.0.0.1", NULL);
	assert_route(rt, "9.255.255.255", NULL);
	add(rt, "0.0.0.0/0", CONF, "default");
	assert_route(rt, "11.0.0.1", "default");
	assert_route(rt, "fd00::1", NULL); /* families stay apart */
	assert_int_equal(route_count(rt), 6);
	route_table_free(rt);
}

static void test_longest_prefix_v6(void **state)
{
	struct route_table *rt = route_table_new();
	struct nl_prefix m;
	uint8_t addr[16];
	char buf[NL_PREFIX_STRLEN];

	(void)state;
	add(rt, "fd00::/8", CONF, "a");
	add(rt, "fd00:1::/32", CONF, "b");
	add(rt, "fd00:1:2:3::/64", ADV, "c");
	add(rt, "fd00:1:2:3::1/128", CONF, "host");
	add(rt, "fd00:1:2:3:8000::/65", CONF, "upper");
	assert_route(rt, "fd99::1", "a");
	assert_route(rt, "fd00:1:ffff::1", "b");
	assert_route(rt, "fd00:1:2:3::2", "c");
	assert_route(rt, "fd00:1:2:3::1", "host");
	assert_route(rt, "fd00:1:2:3:8000::1", "upper");
	assert_route(rt, "fe00::1", NULL);
	assert_route(rt, "10.0.0.1", NULL);
	assert_int_equal(inet_pton(AF_INET6, "fd00:1:2:3:ffff::9", addr), 1);
	assert_string_equal(route_lookup(rt, AF_INET6, addr, &m), "upper");
	assert_int_equal(nl_prefix_format(&m, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "fd00:1:2:3:8000::/65");
	assert_null(route_lookup(rt, AF_UNIX, addr, NULL));
	route_table_free(rt);
}

static void test_configured_beats_advertised(void **state)
{
	struct route_table *rt = route_table_new();

	(void)state;
	add(rt, "10.20.0.0/16", ADV, "adv");
	assert_route(rt, "10.20.0.1", "adv");
	add(rt, "10.20.0.0/16", CONF, "conf");
	assert_route(rt, "10.20.0.1", "conf");
	/* a longer advertised prefix still wins: the longest prefix decides first */
	add(rt, "10.20.5.0/24", ADV, "adv");
	assert_route(rt, "10.20.5.1", "adv");
	assert_route(rt, "10.20.6.1", "conf");
	assert_int_equal(del(rt, "10.20.0.0/16", CONF, NULL), 0);
	assert_route(rt, "10.20.6.1", "adv");
	assert_int_equal(del(rt, "10.20.0.0/16", CONF, NULL), -ENOENT);
	assert_int_equal(route_count(rt), 2);
	route_table_free(rt);
}

static void test_add_replace_idempotent(void **state)
{
	struct route_table *rt = route_table_new();

	(void)state;
	add(rt, "10.20.0.0/16", CONF, "a");
	add(rt, "10.20.0.0/16", CONF, "a");
	assert_int_equal(route_count(rt), 1);
	add(rt, "10.20.0.0/16", CONF, "b"); /* one configured route per prefix */
	assert_int_equal(route_count(rt), 1);
	assert_route(rt, "10.20.0.1", "b");
	add(rt, "10.20.0.0/16", ADV, "x");
	add(rt, "10.20.0.0/16", ADV, "x");
	add(rt, "10.20.0.0/16", EXCL, NULL);
	add(rt, "10.20.0.0/16", EXCL, NULL);
	assert_int_equal(route_count(rt), 3);
	/* host bits in add and del are ignored */
	add(rt, "10.30.1.2/16", CONF, "c");
	assert_route(rt, "10.30.200.1", "c");
	assert_int_equal(del(rt, "10.30.9.9/16", CONF, "c"), 0);
	assert_route(rt, "10.30.200.1", NULL);
	route_table_free(rt);
}

static void test_several_advertisers(void **state)
{
	struct route_table *rt = route_table_new();

	(void)state;
	add(rt, "10.0.0.0/8", ADV, "zeta");
	add(rt, "10.0.0.0/8", ADV, "alpha");
	add(rt, "10.0.0.0/8", ADV, "mu");
	assert_route(rt, "10.1.1.1", "alpha,mu,zeta"); /* a pool in id order, whatever the order */
	struct nl_prefix p8 = pfx("10.0.0.0/8"), p9 = pfx("10.0.0.0/9");
	assert_string_equal(route_agent_of(rt, &p8), "alpha,mu,zeta");
	assert_null(route_agent_of(rt, &p9)); /* no such prefix */
	assert_int_equal(route_del_agent(rt, ADV, "alpha"), 1);
	assert_route(rt, "10.1.1.1", "mu,zeta");
	assert_int_equal(del(rt, "10.0.0.0/8", ADV, "zeta"), 0);
	assert_route(rt, "10.1.1.1", "mu");
	assert_int_equal(del(rt, "10.0.0.0/8", ADV, "zeta"), -ENOENT);
	add(rt, "10.0.0.0/8", ADV, "zeta");
	assert_int_equal(del(rt, "10.0.0.0/8", ADV, NULL), 0); /* every advertiser */
	assert_route(rt, "10.1.1.1", NULL);
	assert_int_equal(route_count(rt), 0);
	route_table_free(rt);
}

static void test_agent_withdrawal(void **state)
{
	struct route_table *rt = route_table_new();

	(void)state;
	add(rt, "10.1.0.0/16", ADV, "gone");
	add(rt, "10.2.0.0/16", ADV, "gone");
	add(rt, "fd00:2::/32", ADV, "gone");
	add(rt, "10.3.0.0/16", CONF, "gone");
	add(rt, "10.1.0.0/16", ADV, "other");
	add(rt, "10.2.0.0/16", CONF, "other");
	assert_route(rt, "10.1.0.1", "gone,other");
	assert_int_equal(route_del_agent(rt, ADV, "gone"), 3);
	assert_int_equal(route_del_agent(rt, ADV, "gone"), 0);
	assert_route(rt, "10.1.0.1", "other");
	assert_route(rt, "10.2.0.1", "other");
	assert_route(rt, "fd00:2::1", NULL);
	assert_route(rt, "10.3.0.1", "gone"); /* configured: stays */
	assert_int_equal(route_count(rt), 3);
	assert_int_equal(route_del_agent(rt, CONF, "gone"), 1);
	assert_int_equal(route_del_agent(rt, ADV, NULL), 0);
	assert_int_equal(route_count(rt), 2);
	route_table_free(rt);
}

static void test_excludes(void **state)
{
	struct route_table *rt = route_table_new();
	struct nl_prefix m;
	uint8_t addr[4] = { 10, 1, 2, 3 };
	char buf[NL_PREFIX_STRLEN];

	(void)state;
	add(rt, "10.0.0.0/8", CONF, "a");
	add(rt, "10.1.0.0/16", EXCL, NULL);
	assert_route(rt, "10.1.2.3", NULL);
	assert_route(rt, "10.2.0.1", "a");
	assert_null(route_lookup(rt, AF_INET, addr, &m));
	assert_int_equal(nl_prefix_format(&m, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10.1.0.0/16");
	/* a route longer than the exclusion wins inside it */
	add(rt, "10.1.2.0/24", ADV, "b");
	assert_route(rt, "10.1.2.3", "b");
	assert_route(rt, "10.1.3.3", NULL);
	/* at equal length the exclusion wins, over either source */
	add(rt, "10.1.0.0/16", CONF, "c");
	assert_route(rt, "10.1.3.3", NULL);
	add(rt, "fd00::/16", ADV, "v6");
	add(rt, "fd00:dead::/32", EXCL, NULL);
	assert_route(rt, "fd00:dead::1", NULL);
	assert_route(rt, "fd00:beef::1", "v6");
	assert_int_equal(del(rt, "10.1.0.0/16", EXCL, NULL), 0);
	assert_route(rt, "10.1.3.3", "c");
	assert_int_equal(del(rt, "10.1.0.0/16", EXCL, NULL), -ENOENT);
	route_table_free(rt);
}

static void test_add_invalid(void **state)
{
	struct route_table *rt = route_table_new();
	struct nl_prefix p = pfx("10.0.0.0/8");
	char agent[ROUTE_AGENT_MAX + 1];

	(void)state;
	assert_int_equal(route_add(rt, &p, CONF, NULL), -EINVAL);
	assert_int_equal(route_add(rt, &p, ADV, ""), -EINVAL);
	assert_int_equal(route_add(rt, &p, EXCL, "a"), -EINVAL);
	assert_int_equal(route_add(rt, &p, (enum route_source)7, "a"), -EINVAL);
	memset(agent, 'x', sizeof(agent));
	agent[ROUTE_AGENT_MAX] = '\0';
	assert_int_equal(route_add(rt, &p, CONF, agent), -EINVAL);
	agent[ROUTE_AGENT_MAX - 1] = '\0'; /* 127 characters */
	assert_int_equal(route_add(rt, &p, CONF, agent), 0);
	assert_route(rt, "10.9.9.9", agent);
	p.len = 33;
	assert_int_equal(route_add(rt, &p, CONF, "a"), -EINVAL);
	assert_int_equal(route_del(rt, &p, CONF, "a"), -ENOENT);
	p.len = 8;
	p.family = AF_UNIX;
	assert_int_equal(route_add(rt, &p, CONF, "a"), -EINVAL);
	assert_int_equal(route_count(rt), 1);
	route_table_free(rt);
	route_table_free(NULL);
}

struct walk_log {
	char lines[16][NL_PREFIX_STRLEN + ROUTE_AGENT_MAX + 8];
	int n, stop_at;
};

static int walk_fn(const struct nl_prefix *p, enum route_source src, const char *agent, void *arg)
{
	struct walk_log *log = arg;
	char buf[NL_PREFIX_STRLEN];

	assert_int_equal(nl_prefix_format(p, buf, sizeof(buf)), 0);
	snprintf(log->lines[log->n], sizeof(log->lines[0]), "%s %d %s", buf, (int)src,
		agent ? agent : "-");
	return ++log->n == log->stop_at ? 42 : 0;
}

static void test_walk(void **state)
{
	static const char *const want[] = { "10.0.0.0/8 1 a", "10.1.0.0/16 0 -", "10.1.0.0/16 2 b",
		"10.1.0.0/16 2 c", "10.2.0.0/16 1 d", "fd00::/8 2 e" };
	struct route_table *rt = route_table_new();
	struct walk_log log = { .stop_at = -1 };

	(void)state;
	add(rt, "fd00::/8", ADV, "e");
	add(rt, "10.2.0.0/16", CONF, "d");
	add(rt, "10.1.0.0/16", ADV, "c");
	add(rt, "10.1.0.0/16", ADV, "b");
	add(rt, "10.1.0.0/16", EXCL, NULL);
	add(rt, "10.0.0.0/8", CONF, "a");
	assert_int_equal(route_walk(rt, walk_fn, &log), 0);
	assert_int_equal(log.n, N_ELEMS(want));
	for (size_t i = 0; i < N_ELEMS(want); i++)
		assert_string_equal(log.lines[i], want[i]);
	log = (struct walk_log){ .stop_at = 2 };
	assert_int_equal(route_walk(rt, walk_fn, &log), 42);
	assert_int_equal(log.n, 2);
	route_table_free(rt);
}

/*
 * Thousands of random routes against a model: a flat array searched linearly
 * with the same precedence rules.
 */
#define M_ROUTES 3000

struct mroute {
	struct nl_prefix p;
	enum route_source src;
	char agent[8];
	bool live;
};

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13; /* xorshift64 */
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static bool covers(const struct nl_prefix *p, int family, const uint8_t *addr)
{
	if (p->family != family)
		return false;
	for (int bit = 0; bit < p->len; bit++) {
		int mask = 0x80 >> (bit % 8);

		if ((p->addr[bit / 8] & mask) != (addr[bit / 8] & mask))
			return false;
	}
	return true;
}

/* Does a beat b? Longer prefix, then source, then agent id. */
static bool better(const struct mroute *a, const struct mroute *b)
{
	if (a->p.len != b->p.len)
		return a->p.len > b->p.len;
	if (a->src != b->src)
		return a->src < b->src;
	return strcmp(a->agent, b->agent) < 0;
}

static const char *m_lookup(const struct mroute *m, size_t n, int family, const uint8_t *addr)
{
	const struct mroute *best = NULL;

	static char pool[512];

	for (size_t i = 0; i < n; i++)
		if (m[i].live && covers(&m[i].p, family, addr) && (!best || better(&m[i], best)))
			best = &m[i];
	if (!best || best->src == ROUTE_EXCLUDED)
		return NULL;
	if (best->src != ROUTE_ADVERTISED)
		return best->agent;
	/* every advertiser of the winning prefix, in id order: best is the smallest */
	snprintf(pool, sizeof(pool), "%s", best->agent);
	for (const char *last = best->agent;;) {
		const struct mroute *next = NULL;
		for (size_t i = 0; i < n; i++)
			if (m[i].live && m[i].src == ROUTE_ADVERTISED &&
				m[i].p.family == best->p.family && m[i].p.len == best->p.len &&
				!memcmp(m[i].p.addr, best->p.addr, 16) &&
				strcmp(m[i].agent, last) > 0 &&
				(!next || strcmp(m[i].agent, next->agent) < 0))
				next = &m[i];
		if (!next)
			return pool;
		strcat(pool, ",");
		strcat(pool, next->agent);
		last = next->agent;
	}
}

/* Addresses from a small space, so that prefixes nest and collide; routes
 * use nets 0..2 of 4, so some lookups find none. */
static void random_addr(int family, uint8_t *addr, uint32_t nets)
{
	memset(addr, 0, 16);
	addr[0] = (uint8_t)((family == AF_INET ? 10 : 0xf0) + rnd(nets));
	addr[1] = (uint8_t)(rnd(4) << 6 | rnd(2));
	addr[2] = (uint8_t)rnd(4);
	addr[family == AF_INET ? 3 : 15] = (uint8_t)rnd(256);
}

static void random_route(struct mroute *r)
{
	int family = rnd(3) ? AF_INET : AF_INET6;
	int max = family == AF_INET ? 32 : 128;
	static const int lens[] = { 8, 9, 10, 16, 20, 24, 30, 32 };
	int len = lens[rnd(N_ELEMS(lens))];

	memset(r, 0, sizeof(*r));
	if (family == AF_INET6 && len == 32)
		len = max;
	r->p.family = family;
	r->p.len = (uint8_t)len;
	random_addr(family, r->p.addr, 3);
	for (int bit = len; bit < max; bit++)
		r->p.addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
	r->src = rnd(6) ? (enum route_source)(1 + rnd(2)) : ROUTE_EXCLUDED;
	if (r->src != ROUTE_EXCLUDED)
		snprintf(r->agent, sizeof(r->agent), "ag%u", rnd(12));
	r->live = true;
}

/* The model's twin of route_add: replaces a configured route, skips a duplicate. */
static void m_add(struct mroute *m, size_t *n, const struct mroute *r)
{
	for (size_t i = 0; i < *n; i++) {
		struct mroute *o = &m[i];

		if (!o->live || o->src != r->src || o->p.family != r->p.family ||
			o->p.len != r->p.len || memcmp(o->p.addr, r->p.addr, 16))
			continue;
		if (r->src == ROUTE_ADVERTISED && strcmp(o->agent, r->agent))
			continue;
		*o = *r;
		return;
	}
	m[(*n)++] = *r;
}

static void random_lookups(const struct route_table *rt, const struct mroute *m, size_t n)
{
	for (int i = 0; i < 200; i++) {
		int family = rnd(3) ? AF_INET : AF_INET6;
		uint8_t addr[16];
		const char *want, *got;

		random_addr(family, addr, 4);
		want = m_lookup(m, n, family, addr);
		got = route_lookup(rt, family, addr, NULL);
		if (want)
			assert_string_equal(got ? got : "(null)", want);
		else
			assert_null(got);
	}
}

static void test_random_against_model(void **state)
{
	static struct mroute m[M_ROUTES];
	struct route_table *rt = route_table_new();
	size_t n = 0, live;

	(void)state;
	while (n < M_ROUTES) {
		struct mroute r;

		random_route(&r);
		assert_int_equal(
			route_add(rt, &r.p, r.src, r.src == ROUTE_EXCLUDED ? NULL : r.agent), 0);
		m_add(m, &n, &r);
		if (!rnd(100)) { /* an agent goes away */
			char agent[8];
			int removed = 0;

			snprintf(agent, sizeof(agent), "ag%u", rnd(12));
			for (size_t i = 0; i < n; i++) {
				if (m[i].live && m[i].src == ROUTE_ADVERTISED &&
					!strcmp(m[i].agent, agent)) {
					m[i].live = false;
					removed++;
				}
			}
			assert_int_equal(route_del_agent(rt, ROUTE_ADVERTISED, agent), removed);
		}
		if (!rnd(20))
			random_lookups(rt, m, n);
	}
	random_lookups(rt, m, n);
	live = 0;
	for (size_t i = 0; i < n; i++)
		live += m[i].live;
	assert_int_equal(route_count(rt), live);
	assert_true(live > 1000);
	route_table_free(rt);
}

static void test_prefix_overlaps(void **state)
{
	static const struct {
		const char *a, *b;
		bool overlap;
	} cases[] = {
		{ "10.0.0.0/8", "10.20.0.0/16", true }, { "10.20.0.0/16", "10.0.0.0/8", true },
		{ "10.0.0.0/8", "11.0.0.0/8", false }, { "0.0.0.0/0", "192.168.1.1/32", true },
		{ "10.0.0.0/25", "10.0.0.128/25", false }, { "10.0.0.0/24", "10.0.0.128/25", true },
		{ "198.18.0.0/15", "198.19.5.0/24", true },
		{ "198.18.0.0/15", "198.20.0.0/16", false }, { "fd00::/8", "fd20::/64", true },
		{ "fd00::/8", "fe00::/8", false },
		{ "10.0.0.0/8", "a00::/8", false }, /* families differ */
	};
	struct nl_prefix a, b;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(nl_prefix_parse(cases[i].a, &a, NULL), 0);
		assert_int_equal(nl_prefix_parse(cases[i].b, &b, NULL), 0);
		if (nl_prefix_overlaps(&a, &b) != cases[i].overlap)
			fail_msg("%s and %s: expected %s", cases[i].a, cases[i].b,
				cases[i].overlap ? "overlap" : "none");
		if (cases[i].overlap && a.len <= b.len)
			assert_true(nl_prefix_contains(&a, b.addr));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_parse),
		cmocka_unit_test(test_prefix_format),
		cmocka_unit_test(test_longest_prefix_v4),
		cmocka_unit_test(test_longest_prefix_v6),
		cmocka_unit_test(test_configured_beats_advertised),
		cmocka_unit_test(test_add_replace_idempotent),
		cmocka_unit_test(test_several_advertisers),
		cmocka_unit_test(test_agent_withdrawal),
		cmocka_unit_test(test_excludes),
		cmocka_unit_test(test_add_invalid),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_prefix_overlaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
