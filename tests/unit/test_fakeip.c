/* Unit tests of gateway/fakeip: stable addresses, lookups, LRU recycling, hold time, bounds, a
 * model. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/roles/fakeip.h"
#include "netlink/prefix.h"

static int family_of(const char *ip)
{
	return strchr(ip, ':') ? AF_INET6 : AF_INET;
}

static const struct fakeip_entry *assign(
	struct fakeip_pool *p, const char *name, const char *agent, uint64_t now)
{
	const struct fakeip_entry *e = NULL;

	assert_int_equal(fakeip_assign(p, name, agent, false, now, &e), 0);
	assert_non_null(e);
	return e;
}

static int try_assign(struct fakeip_pool *p, const char *name, uint64_t now)
{
	const struct fakeip_entry *e;

	return fakeip_assign(p, name, "agent", false, now, &e);
}

static const struct fakeip_entry *lookup(struct fakeip_pool *p, const char *ip, uint64_t now)
{
	uint8_t addr[16];
	int family = family_of(ip);

	assert_int_equal(inet_pton(family, ip, addr), 1);
	return fakeip_lookup(p, family, addr, now);
}

static bool contains(const struct fakeip_pool *p, const char *ip)
{
	uint8_t addr[16];
	int family = family_of(ip);

	assert_int_equal(inet_pton(family, ip, addr), 1);
	return fakeip_contains(p, family, addr);
}

/* A macro, so a failure names the test's line. */
#define assert_lookup(p, ip, now, want)                                                            \
	do {                                                                                       \
		const struct fakeip_entry *got_ = lookup(p, ip, now);                              \
		const char *want_ = (want);                                                        \
		if (want_)                                                                         \
			assert_string_equal(got_ ? got_->name : "(null)", want_);                  \
		else if (got_)                                                                     \
			fail_msg("%s owned by %s, want none", ip, got_->name);                     \
	} while (0)

#define assert_addr(e, ip)                                                                         \
	do {                                                                                       \
		uint8_t got_[16], want_[16];                                                       \
		int family_ = family_of(ip);                                                       \
		assert_int_equal(inet_pton(family_, ip, want_), 1);                                \
		fakeip_addr(e, family_, got_);                                                     \
		assert_memory_equal(got_, want_, family_ == AF_INET ? 4 : 16);                     \
	} while (0)

static void test_prefixes(void **state)
{
	struct fakeip_ranges r;
	uint8_t want[16];

	(void)state;
	fakeip_ranges_default(&r);
	assert_int_equal(inet_pton(AF_INET, "198.19.0.0", want), 1);
	assert_memory_equal(r.net4.addr, want, 4);
	assert_int_equal(r.net4.len, 16);
	assert_int_equal(inet_pton(AF_INET6, "fdfe:dcba:9876:1::", want), 1);
	assert_memory_equal(r.net6.addr, want, 16);
	assert_int_equal(r.net6.len, 64);
	assert_int_equal(fakeip_ranges_capacity(&r), FAKEIP_CAPACITY_MAX);
}

static void test_stable(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 16, 1000);
	const struct fakeip_entry *a, *b;
	uint32_t index;

	(void)state;
	assert_non_null(p);
	a = assign(p, "a.example", "agent1", 0);
	assert_string_equal(a->name, "a.example");
	assert_string_equal(a->agent, "agent1");
	assert_int_equal(a->index, 0);
	assert_addr(a, "198.19.0.1");
	assert_addr(a, "fdfe:dcba:9876:1::1");
	index = a->index;
	for (uint64_t t = 1; t < 10; t++) {
		b = assign(p, "a.example", "agent1", t * 5000);
		assert_int_equal(b->index, index);
		assert_addr(b, "198.19.0.1");
		assert_addr(b, "fdfe:dcba:9876:1::1");
	}
	assert_int_equal(fakeip_size(p), 1);
	fakeip_free(p);
}

static void test_distinct(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 300, 1000);
	bool seen[300] = { false };
	char name[32];

	(void)state;
	for (int i = 0; i < 300; i++) {
		const struct fakeip_entry *e;
		uint8_t v4[4], v6[16];

		snprintf(name, sizeof(name), "host%d.example", i);
		e = assign(p, name, "agent", i);
		assert_int_equal(e->index, i); /* lowest free slot first */
		assert_false(seen[e->index]);
		seen[e->index] = true;
		fakeip_addr(e, AF_INET, v4);
		fakeip_addr(e, AF_INET6, v6);
		assert_int_equal(v4[2] << 8 | v4[3], i + 1);
		assert_int_equal(v6[14] << 8 | v6[15], i + 1);
		assert_true(fakeip_contains(p, AF_INET, v4));
		assert_true(fakeip_contains(p, AF_INET6, v6));
	}
	assert_int_equal(fakeip_size(p), 300);
	assert_addr(assign(p, "host255.example", "agent", 300), "198.19.1.0");
	assert_addr(assign(p, "host299.example", "agent", 300), "198.19.1.44");
	assert_addr(assign(p, "host299.example", "agent", 300), "fdfe:dcba:9876:1::12c");
	fakeip_free(p);
}

static void test_lookup(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 8, 1000);

	(void)state;
	assign(p, "a.example", "x", 0);
	assign(p, "b.example", "y", 0);
	assert_lookup(p, "198.19.0.1", 1, "a.example");
	assert_lookup(p, "198.19.0.2", 1, "b.example");
	assert_lookup(p, "fdfe:dcba:9876:1::1", 1, "a.example");
	assert_lookup(p, "fdfe:dcba:9876:1::2", 1, "b.example");
	assert_string_equal(lookup(p, "198.19.0.2", 1)->agent, "y");
	assert_lookup(p, "198.19.0.3", 1, NULL); /* a free slot */
	assert_lookup(p, "fdfe:dcba:9876:1::3", 1, NULL);
	fakeip_free(p);
}

static void test_case(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 8, 1000);
	const struct fakeip_entry *e;

	(void)state;
	e = assign(p, "WWW.Example.COM", "x", 0);
	assert_string_equal(e->name, "www.example.com");
	assert_int_equal(assign(p, "www.example.com", "x", 0)->index, e->index);
	assert_int_equal(fakeip_size(p), 1);
	fakeip_free(p);
}

static void test_update(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 8, 1000);
	const struct fakeip_entry *e;

	(void)state;
	assert_int_equal(fakeip_assign(p, "a.example", "agent1", true, 0, &e), 0);
	assert_true(e->agent_default);
	assert_int_equal(fakeip_assign(p, "a.example", "agent2", false, 1, &e), 0);
	assert_string_equal(e->agent, "agent2");
	assert_false(e->agent_default);
	assert_int_equal(e->index, 0);
	assert_int_equal(fakeip_assign(p, "a.example", "agent2", true, 2, &e), 0);
	assert_string_equal(e->agent, "agent2");
	assert_true(e->agent_default);
	e = lookup(p, "198.19.0.1", 3);
	assert_string_equal(e->agent, "agent2");
	assert_true(e->agent_default);
	assert_int_equal(fakeip_size(p), 1);
	fakeip_free(p);
}

static void test_lru(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 3, 1000);

	(void)state;
	assign(p, "a", "x", 0);
	assign(p, "b", "x", 1);
	assign(p, "c", "x", 2);
	assert_lookup(p, "198.19.0.1", 3, "a");		       /* a lookup refreshes a */
	assert_int_equal(assign(p, "d", "x", 5000)->index, 1); /* b's */
	assign(p, "c", "x", 5001);			       /* an assign refreshes c */
	assert_int_equal(assign(p, "e", "x", 5002)->index, 0); /* a's */
	assert_int_equal(assign(p, "f", "x", 6002)->index, 1); /* d's */
	assert_lookup(p, "198.19.0.1", 6003, "e");
	assert_lookup(p, "198.19.0.2", 6003, "f");
	assert_lookup(p, "198.19.0.3", 6003, "c");
	assert_int_equal(fakeip_size(p), 3);
	fakeip_free(p);
}

static void test_hold(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 2, 1000);

	(void)state;
	assign(p, "a", "x", 0);
	assign(p, "b", "x", 500);
	assert_int_equal(try_assign(p, "c", 999), -ENOSPC);
	assert_int_equal(fakeip_size(p), 2);
	assert_lookup(p, "198.19.0.1", 999, "a"); /* a failed assign recycled nothing */
	/* a is refreshed at 999, so b is the oldest, held until 1500 */
	assert_int_equal(try_assign(p, "c", 1499), -ENOSPC);
	assert_int_equal(assign(p, "c", "x", 1500)->index, 1);
	assert_int_equal(try_assign(p, "d", 1998), -ENOSPC);
	assert_int_equal(assign(p, "d", "x", 1999)->index, 0);
	/* time that goes back is taken as no time passing: d stays held */
	assert_int_equal(try_assign(p, "e", 100), -ENOSPC);
	assert_int_equal(try_assign(p, "e", 2499), -ENOSPC);
	assert_int_equal(assign(p, "e", "x", 2500)->index, 1);
	fakeip_free(p);
}

static void test_hold_zero(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 2, 0);

	(void)state;
	assign(p, "a", "x", 0);
	assign(p, "b", "x", 0);
	assert_int_equal(assign(p, "c", "x", 0)->index, 0);
	assert_int_equal(assign(p, "d", "x", 0)->index, 1);
	fakeip_free(p);
}

static void test_hold_max(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 1, UINT32_MAX);

	(void)state;
	assign(p, "a", "x", 0);
	assert_int_equal(try_assign(p, "b", UINT32_MAX - 1), -ENOSPC);
	assert_int_equal(assign(p, "b", "x", UINT32_MAX)->index, 0);
	assert_int_equal(try_assign(p, "c", UINT64_MAX - 1), 0);
	assert_int_equal(try_assign(p, "d", UINT64_MAX), -ENOSPC);
	fakeip_free(p);
}

static void test_recycled_forgotten(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 2, 100);
	const struct fakeip_entry *e;

	(void)state;
	assign(p, "a", "x", 0);
	assign(p, "b", "x", 1);
	e = assign(p, "c", "y", 200);
	assert_int_equal(e->index, 0);
	assert_string_equal(e->agent, "y");
	assert_lookup(p, "198.19.0.1", 201, "c");
	assert_lookup(p, "fdfe:dcba:9876:1::1", 201, "c");
	/* a is forgotten: assigning it again takes a slot, the oldest (b's) */
	e = assign(p, "a", "x", 300);
	assert_int_equal(e->index, 1);
	assert_lookup(p, "198.19.0.2", 300, "a");
	/* b is forgotten too; c is held (looked up at 201) until 301 */
	assert_int_equal(try_assign(p, "b", 300), -ENOSPC);
	assert_int_equal(assign(p, "b", "x", 301)->index, 0);
	assert_int_equal(fakeip_size(p), 2);
	fakeip_free(p);
}

static void test_bounds(void **state)
{
	static const char *const outside[] = {
		"198.19.0.0",
		"198.19.0.11",
		"198.19.1.1",
		"198.19.255.254",
		"198.19.255.255",
		"198.18.0.1",
		"198.20.0.1",
		"0.0.0.1",
		"fdfe:dcba:9876:1::",
		"fdfe:dcba:9876:1::b",
		"fdfe:dcba:9876:1::fffe",
		"fdfe:dcba:9876:1:1::1",
		"fdfe:dcba:9876:1:8000::1",
		"fdfe:dcba:9876:1:0:1:0:1",
		"fdfe:dcba:9876:1:0:0:1:1",
		"fdfe:dcba:9876:1:ffff:ffff:ffff:1",
		"fdfe:dcba:9876:2::1",
		"fdfe:dcba:9876::1",
		"fdfe:dcba:9877:1::1",
		"::ffff:198.19.0.1",
		"::1",
	};
	struct fakeip_pool *p = fakeip_new(NULL, 10, 1000);
	uint8_t v4[4] = { 198, 19, 0, 1 };
	char name[16];

	(void)state;
	for (int i = 1; i <= 10; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		assign(p, name, "x", 0);
	}
	assert_lookup(p, "198.19.0.1", 0, "h1");
	assert_lookup(p, "198.19.0.10", 0, "h10");
	assert_lookup(p, "fdfe:dcba:9876:1::a", 0, "h10");
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
		assert_lookup(p, outside[i], 0, NULL);
	assert_null(fakeip_lookup(p, AF_UNIX, v4, 0));
	assert_null(fakeip_lookup(p, AF_INET, NULL, 0));
	assert_null(fakeip_lookup(NULL, AF_INET, v4, 0));

	assert_true(contains(p, "198.19.0.0"));
	assert_true(contains(p, "198.19.255.255"));
	assert_false(contains(p, "198.18.255.255"));
	assert_false(contains(p, "198.20.0.0"));
	assert_true(contains(p, "fdfe:dcba:9876:1::"));
	assert_true(contains(p, "fdfe:dcba:9876:1:ffff:ffff:ffff:ffff"));
	assert_false(contains(p, "fdfe:dcba:9876:0:ffff:ffff:ffff:ffff"));
	assert_false(contains(p, "fdfe:dcba:9876:2::"));
	assert_false(contains(p, "::ffff:198.19.0.1"));
	assert_false(fakeip_contains(p, AF_UNIX, v4));
	assert_false(fakeip_contains(p, AF_INET, NULL));
	fakeip_free(p);
}

static void test_bad_args(void **state)
{
	struct fakeip_pool *p;
	const struct fakeip_entry *e = NULL;
	char name[FAKEIP_NAME_MAX + 2], agent[FAKEIP_AGENT_MAX + 2];

	(void)state;
	p = fakeip_new(NULL, 0, 1000); /* 0: as many as the ranges hold */
	assert_int_equal(fakeip_capacity(p), FAKEIP_CAPACITY_MAX);
	fakeip_free(p);
	assert_null(fakeip_new(NULL, FAKEIP_CAPACITY_MAX + 1, 1000));
	assert_null(fakeip_new(NULL, UINT32_MAX, 1000));
	fakeip_free(NULL);
	p = fakeip_new(NULL, 4, 1000);
	assert_non_null(p);
	assert_int_equal(fakeip_assign(p, "", "x", false, 0, &e), -EINVAL);
	assert_int_equal(fakeip_assign(p, "a", "", false, 0, &e), -EINVAL);
	assert_int_equal(fakeip_assign(p, NULL, "x", false, 0, &e), -EINVAL);
	assert_int_equal(fakeip_assign(p, "a", NULL, false, 0, &e), -EINVAL);
	assert_int_equal(fakeip_assign(p, "a", "x", false, 0, NULL), -EINVAL);
	assert_int_equal(fakeip_assign(NULL, "a", "x", false, 0, &e), -EINVAL);

	memset(name, 'n', sizeof(name));
	name[FAKEIP_NAME_MAX + 1] = '\0';
	assert_int_equal(fakeip_assign(p, name, "x", false, 0, &e), -EINVAL);
	name[FAKEIP_NAME_MAX] = '\0';
	assert_int_equal(fakeip_assign(p, name, "x", false, 0, &e), 0);
	assert_int_equal(strlen(e->name), FAKEIP_NAME_MAX);

	memset(agent, 'g', sizeof(agent));
	agent[FAKEIP_AGENT_MAX + 1] = '\0';
	assert_int_equal(fakeip_assign(p, "b", agent, false, 0, &e), -EINVAL);
	/* a rejected agent leaves an existing entry alone */
	assert_int_equal(fakeip_assign(p, name, agent, false, 0, &e), -EINVAL);
	agent[FAKEIP_AGENT_MAX] = '\0';
	assert_int_equal(fakeip_assign(p, "b", agent, false, 0, &e), 0);
	assert_string_equal(e->agent, agent);
	assert_int_equal(fakeip_size(p), 2);
	assert_lookup(p, "198.19.0.1", 0, name);
	assert_string_equal(lookup(p, "198.19.0.1", 0)->agent, "x");
	assert_int_equal(fakeip_size(NULL), 0);
	fakeip_free(p);
}

static void test_capacity_one(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 1, 100);

	(void)state;
	assert_addr(assign(p, "a", "x", 0), "198.19.0.1");
	assert_int_equal(try_assign(p, "b", 99), -ENOSPC);
	assert_lookup(p, "198.19.0.1", 99, "a"); /* refreshes a */
	assert_lookup(p, "198.19.0.2", 99, NULL);
	assert_lookup(p, "fdfe:dcba:9876:1::2", 99, NULL);
	assert_int_equal(try_assign(p, "b", 198), -ENOSPC);
	assert_addr(assign(p, "b", "x", 199), "fdfe:dcba:9876:1::1");
	assert_lookup(p, "198.19.0.1", 199, "b");
	assert_lookup(p, "fdfe:dcba:9876:1::1", 199, "b");
	assert_int_equal(fakeip_size(p), 1);
	fakeip_free(p);
}

static void test_capacity_max(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, FAKEIP_CAPACITY_MAX, 1000);
	const struct fakeip_entry *e = NULL;
	char name[32];

	(void)state;
	assert_non_null(p);
	for (uint32_t i = 0; i < FAKEIP_CAPACITY_MAX; i++) {
		snprintf(name, sizeof(name), "h%u.example", i);
		e = assign(p, name, "x", 0);
		assert_int_equal(e->index, i);
	}
	assert_addr(e, "198.19.255.254");
	assert_addr(e, "fdfe:dcba:9876:1::fffe");
	assert_int_equal(fakeip_size(p), FAKEIP_CAPACITY_MAX);
	assert_int_equal(try_assign(p, "one.more", 999), -ENOSPC);
	assert_lookup(p, "198.19.255.254", 999, name);
	assert_lookup(p, "fdfe:dcba:9876:1::fffe", 999, name);
	assert_lookup(p, "198.19.255.255", 999, NULL);
	assert_lookup(p, "fdfe:dcba:9876:1::ffff", 999, NULL);
	assert_lookup(p, "198.19.0.0", 999, NULL);
	for (uint32_t i = 0; i < FAKEIP_CAPACITY_MAX; i++) {
		uint8_t v4[4], v6[16];
		const struct fakeip_entry *got;

		snprintf(name, sizeof(name), "h%u.example", i);
		v4[0] = 198;
		v4[1] = 19;
		v4[2] = (i + 1) >> 8;
		v4[3] = (i + 1) & 0xff;
		got = fakeip_lookup(p, AF_INET, v4, 1000);
		assert_non_null(got);
		assert_string_equal(got->name, name);
		fakeip_addr(got, AF_INET6, v6);
		assert_ptr_equal(fakeip_lookup(p, AF_INET6, v6, 1000), got);
	}
	/* h0 was looked up first at 1000, so it is the oldest and goes at 2000 */
	assert_int_equal(try_assign(p, "one.more", 1999), -ENOSPC);
	assert_int_equal(assign(p, "one.more", "x", 2000)->index, 0);
	assert_int_equal(assign(p, "two.more", "x", 2000)->index, 1);
	fakeip_free(p);
}

static struct fakeip_ranges ranges_of(const char *r4, const char *r6)
{
	struct fakeip_ranges r;

	assert_int_equal(nl_prefix_parse(r4, &r.net4, NULL), 0);
	assert_int_equal(nl_prefix_parse(r6, &r.net6, NULL), 0);
	return r;
}

static const char *refused(const char *cidr)
{
	struct nl_prefix p;
	bool masked;

	assert_int_equal(nl_prefix_parse(cidr, &p, &masked), 0);
	return fakeip_range_refused(&p, masked);
}

static void test_range_refused(void **state)
{
	(void)state;
	assert_null(refused("198.19.0.0/16"));
	assert_null(refused("10.0.0.0/8"));
	assert_null(refused("198.51.100.0/30"));
	assert_null(refused("fdfe:dcba:9876:1::/64"));
	assert_null(refused("fd00::/8"));
	assert_null(refused("fd00::/120"));
	assert_non_null(refused("10.0.0.0/7"));
	assert_non_null(refused("0.0.0.0/0"));
	assert_non_null(refused("198.51.100.0/31"));
	assert_non_null(refused("198.51.100.1/32"));
	assert_non_null(refused("fd00::/121"));
	assert_non_null(refused("::/0"));
	assert_non_null(refused("198.51.100.1/24")); /* host bits */
	assert_non_null(refused("fd00::1/64"));
	assert_string_equal(
		refused("198.51.100.1/24"), "host bits are set (give the network address)");
}

static void test_ranges_capacity(void **state)
{
	struct fakeip_ranges r;

	(void)state;
	r = ranges_of("198.51.100.0/24", "fdfe:dcba:9876:1::/64");
	assert_int_equal(fakeip_ranges_capacity(&r), 254);
	r = ranges_of("198.51.100.0/30", "fdfe:dcba:9876:1::/64");
	assert_int_equal(fakeip_ranges_capacity(&r), 2);
	r = ranges_of("10.0.0.0/8", "fd00::/120"); /* the smaller of the two */
	assert_int_equal(fakeip_ranges_capacity(&r), 254);
	r = ranges_of("10.0.0.0/8", "fd00::/8");
	assert_int_equal(fakeip_ranges_capacity(&r), FAKEIP_CAPACITY_MAX);
	r = ranges_of("10.0.0.0/15", "fd00::/100");
	assert_int_equal(fakeip_ranges_capacity(&r), FAKEIP_CAPACITY_MAX);
	r = ranges_of("10.0.0.0/17", "fd00::/100");
	assert_int_equal(fakeip_ranges_capacity(&r), 32766);
	r = ranges_of("10.0.0.0/31", "fd00::/64"); /* refused */
	assert_int_equal(fakeip_ranges_capacity(&r), 0);
	r = ranges_of("fd00::/64", "10.0.0.0/8"); /* the families swapped */
	assert_int_equal(fakeip_ranges_capacity(&r), 0);
	assert_null(fakeip_new(&r, 0, 1000));
	r = ranges_of("198.51.100.0/24", "fd00::/64");
	assert_null(fakeip_new(&r, 255, 1000));
}

static void test_custom_ranges(void **state)
{
	struct fakeip_ranges r = ranges_of("198.51.100.0/24", "fd00:1:2:3::/112");
	struct fakeip_pool *p = fakeip_new(&r, 0, 1000);
	const struct fakeip_entry *e = NULL;
	char name[32];

	(void)state;
	assert_non_null(p);
	assert_int_equal(fakeip_capacity(p), 254);
	assert_addr(assign(p, "a.example", "x", 0), "198.51.100.1");
	assert_addr(assign(p, "a.example", "x", 0), "fd00:1:2:3::1");
	for (int i = 1; i < 254; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		e = assign(p, name, "x", 0);
	}
	assert_addr(e, "198.51.100.254");
	assert_addr(e, "fd00:1:2:3::fe");
	assert_int_equal(try_assign(p, "full", 1), -ENOSPC);
	assert_lookup(p, "198.51.100.1", 1, "a.example");
	assert_lookup(p, "198.51.100.254", 1, "h253");
	assert_lookup(p, "fd00:1:2:3::fe", 1, "h253");
	assert_lookup(p, "198.51.100.255", 1, NULL);
	assert_lookup(p, "198.51.100.0", 1, NULL);
	assert_lookup(p, "fd00:1:2:3::ff", 1, NULL);
	assert_lookup(p, "fd00:1:2:3::1:1", 1, NULL);
	assert_lookup(p, "198.19.0.1", 1, NULL); /* the default range is not ours now */
	assert_lookup(p, "fdfe:dcba:9876:1::1", 1, NULL);
	assert_true(contains(p, "198.51.100.0"));
	assert_true(contains(p, "198.51.100.255"));
	assert_false(contains(p, "198.51.101.1"));
	assert_false(contains(p, "198.19.0.1"));
	assert_true(contains(p, "fd00:1:2:3::ffff"));
	assert_false(contains(p, "fd00:1:2:3::1:0"));
	fakeip_free(p);

	/* a /30: two addresses, .1 and .2 */
	r = ranges_of("192.0.2.4/30", "fd00::/120");
	p = fakeip_new(&r, 0, 0);
	assert_int_equal(fakeip_capacity(p), 2);
	assert_addr(assign(p, "a", "x", 0), "192.0.2.5");
	assert_addr(assign(p, "b", "x", 0), "192.0.2.6");
	assert_addr(assign(p, "c", "x", 0), "192.0.2.5"); /* a recycled (no hold) */
	assert_lookup(p, "192.0.2.7", 0, NULL);
	fakeip_free(p);
}

struct walked {
	char names[8][16];
	int n;
};

static void walk_cb(const struct fakeip_entry *e, void *arg)
{
	struct walked *w = arg;

	if (w->n < 8)
		snprintf(w->names[w->n++], sizeof(w->names[0]), "%s", e->name);
}

static void test_restore(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 8, 1000);
	struct walked w = { .n = 0 };
	uint64_t changes;

	(void)state;
	assert_int_equal(fakeip_changes(p), 0);
	assert_int_equal(fakeip_restore(p, 5, "Five.Example", "x", true, 0), 0);
	assert_int_equal(fakeip_restore(p, 2, "two.example", "y", false, 1), 0);
	assert_int_equal(fakeip_changes(p), 2);
	assert_int_equal(fakeip_size(p), 2);
	assert_lookup(p, "198.19.0.6", 2, "five.example");
	assert_true(lookup(p, "198.19.0.6", 2)->agent_default);
	assert_lookup(p, "fdfe:dcba:9876:1::3", 2, "two.example");
	assert_string_equal(lookup(p, "198.19.0.3", 2)->agent, "y");
	/* a slot or a name taken, an index past the capacity, bad names */
	assert_int_equal(fakeip_restore(p, 5, "other", "x", false, 3), -EEXIST);
	assert_int_equal(fakeip_restore(p, 6, "TWO.example", "x", false, 3), -EEXIST);
	assert_int_equal(fakeip_restore(p, 8, "eight", "x", false, 3), -EINVAL);
	assert_int_equal(fakeip_restore(p, 6, "", "x", false, 3), -EINVAL);
	assert_int_equal(fakeip_restore(p, 6, "six", "", false, 3), -EINVAL);
	assert_int_equal(fakeip_restore(NULL, 6, "six", "x", false, 3), -EINVAL);
	assert_int_equal(fakeip_size(p), 2);
	/* the same name asked again keeps its restored address */
	assert_int_equal(assign(p, "five.example", "x", 4)->index, 5);
	/* new names take the free slots around the restored ones, lowest first */
	assert_int_equal(assign(p, "n0", "x", 5)->index, 0);
	assert_int_equal(assign(p, "n1", "x", 6)->index, 1);
	assert_int_equal(assign(p, "n3", "x", 7)->index, 3);
	assert_int_equal(assign(p, "n4", "x", 8)->index, 4);
	assert_int_equal(assign(p, "n6", "x", 9)->index, 6);
	assert_int_equal(assign(p, "n7", "x", 10)->index, 7);
	assert_int_equal(try_assign(p, "n8", 11), -ENOSPC);
	assert_int_equal(fakeip_size(p), 8);
	/* least recently used first: two (lookups at 2), five (assign at 4), n0 ... */
	fakeip_walk(p, walk_cb, &w);
	assert_int_equal(w.n, 8);
	assert_string_equal(w.names[0], "two.example");
	assert_string_equal(w.names[1], "five.example");
	assert_string_equal(w.names[2], "n0");
	assert_string_equal(w.names[7], "n7");
	/* the oldest (two's slot 2) goes first once its hold is over */
	assert_int_equal(assign(p, "late", "x", 2000)->index, 2);
	changes = fakeip_changes(p);
	assign(p, "late", "x", 2001); /* use alone is no change */
	lookup(p, "198.19.0.3", 2002);
	assert_int_equal(fakeip_changes(p), changes);
	assert_int_equal(
		fakeip_assign(p, "late", "z", false, 2003, &(const struct fakeip_entry *){ 0 }), 0);
	assert_int_equal(fakeip_changes(p), changes + 1);
	assert_int_equal(
		fakeip_assign(p, "late", "z", true, 2004, &(const struct fakeip_entry *){ 0 }), 0);
	assert_int_equal(fakeip_changes(p), changes + 2);
	fakeip_free(p);
}

/*
 * Random assigns and lookups with random time steps against a model: an array
 * of slots, LRU order kept as a sequence number per slot, searched linearly.
 */
#define M_NAMES_PER_SLOT 3
#define M_OPS 200000

struct mslot {
	char name[16]; /* "" while free */
	char agent[8];
	bool agent_default;
	uint64_t used_ms, seq;
};

struct model {
	struct mslot *slots;
	uint32_t capacity, nused, hold_ms;
	uint64_t now_ms, seq;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: a fixed seed, so a failure repeats */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32) % n;
}

static void m_touch(struct model *m, uint32_t i)
{
	m->slots[i].used_ms = m->now_ms;
	m->slots[i].seq = ++m->seq;
}

/* The slot the pool should give, or -1 for -ENOSPC. */
static int m_pick(const struct model *m)
{
	uint32_t oldest = 0;

	if (m->nused < m->capacity)
		return (int)m->nused;
	for (uint32_t i = 1; i < m->capacity; i++)
		if (m->slots[i].seq < m->slots[oldest].seq)
			oldest = i;
	return m->now_ms - m->slots[oldest].used_ms >= m->hold_ms ? (int)oldest : -1;
}

static int m_find(const struct model *m, const char *name)
{
	for (uint32_t i = 0; i < m->nused; i++)
		if (!strcmp(m->slots[i].name, name))
			return (int)i;
	return -1;
}

static void m_assign(struct fakeip_pool *p, struct model *m)
{
	const struct fakeip_entry *e = NULL;
	char name[16], agent[8];
	bool agent_default = rnd(2);
	int want, ret;

	snprintf(name, sizeof(name), "n%u.test", rnd(m->capacity * M_NAMES_PER_SLOT));
	snprintf(agent, sizeof(agent), "a%u", rnd(4));
	ret = fakeip_assign(p, name, agent, agent_default, m->now_ms, &e);
	want = m_find(m, name);
	if (want < 0) {
		want = m_pick(m);
		if (want < 0) {
			assert_int_equal(ret, -ENOSPC);
			return;
		}
		if (want == (int)m->nused)
			m->nused++;
		strcpy(m->slots[want].name, name);
	}
	assert_int_equal(ret, 0);
	assert_int_equal(e->index, want);
	assert_string_equal(e->name, name);
	assert_string_equal(e->agent, agent);
	assert_int_equal(e->agent_default, agent_default);
	strcpy(m->slots[want].agent, agent);
	m->slots[want].agent_default = agent_default;
	m_touch(m, (uint32_t)want);
}

static void m_lookup(struct fakeip_pool *p, struct model *m)
{
	const struct fakeip_entry *e;
	uint32_t host = rnd(m->capacity + 2); /* 0 and capacity + 1 are outside */
	int family = rnd(2) ? AF_INET : AF_INET6;
	uint8_t ip[16] = { 0 };

	if (family == AF_INET) {
		memcpy(ip, "\xc6\x13", 2); /* 198.19 */
		ip[2] = host >> 8;
		ip[3] = host & 0xff;
	} else {
		memcpy(ip, "\xfd\xfe\xdc\xba\x98\x76\x00\x01", 8);
		ip[14] = host >> 8;
		ip[15] = host & 0xff;
		if (!rnd(8))
			ip[8 + rnd(6)] |= 1u << rnd(8); /* high bits of the interface id */
	}
	e = fakeip_lookup(p, family, ip, m->now_ms);
	if (family == AF_INET6 && memcmp(ip + 8, "\0\0\0\0\0\0", 6)) {
		assert_null(e);
		return;
	}
	if (!host || host > m->capacity || !m->slots[host - 1].name[0]) {
		assert_null(e);
		return;
	}
	assert_non_null(e);
	assert_int_equal(e->index, host - 1);
	assert_string_equal(e->name, m->slots[host - 1].name);
	assert_string_equal(e->agent, m->slots[host - 1].agent);
	assert_int_equal(e->agent_default, m->slots[host - 1].agent_default);
	m_touch(m, host - 1);
}

/*
 * No two live names share an address, and each one's address maps back to it.
 * The lookups refresh every live slot in index order; the caller mirrors that.
 */
static void m_check(struct fakeip_pool *p, const struct model *m)
{
	assert_int_equal(fakeip_size(p), m->nused);
	for (uint32_t i = 0; i < m->nused; i++) {
		const struct fakeip_entry *e;
		uint8_t v4[4] = { 198, 19, (i + 1) >> 8, (i + 1) & 0xff }, v6[16];

		for (uint32_t j = i + 1; j < m->nused; j++)
			assert_string_not_equal(m->slots[i].name, m->slots[j].name);
		e = fakeip_lookup(p, AF_INET, v4, m->now_ms);
		assert_non_null(e);
		assert_string_equal(e->name, m->slots[i].name);
		fakeip_addr(e, AF_INET6, v6);
		assert_ptr_equal(fakeip_lookup(p, AF_INET6, v6, m->now_ms), e);
	}
}

static void m_step_time(struct model *m)
{
	uint32_t r = rnd(100);
	uint64_t step;

	if (r < 60)
		step = rnd(m->hold_ms / 8 + 1);
	else if (r < 95)
		step = rnd(m->hold_ms + 1);
	else if (r < 99)
		step = m->hold_ms + rnd(4 * m->hold_ms + 1);
	else
		step = 0;
	m->now_ms += step;
}

static void run_model(uint32_t capacity, uint32_t hold_ms, int ops)
{
	struct fakeip_pool *p = fakeip_new(NULL, capacity, hold_ms);
	struct model m = { .capacity = capacity, .hold_ms = hold_ms, .now_ms = 1000000 };

	assert_non_null(p);
	m.slots = calloc(capacity, sizeof(*m.slots));
	assert_non_null(m.slots);
	for (int n = 0; n < ops; n++) {
		m_step_time(&m);
		if (rnd(3))
			m_assign(p, &m);
		else
			m_lookup(p, &m);
		if (n % 4096 == 4095) {
			m_check(p, &m);
			for (uint32_t i = 0; i < m.nused; i++)
				m_touch(&m, i);
		}
	}
	m_check(p, &m);
	free(m.slots);
	fakeip_free(p);
}

static void test_model(void **state)
{
	(void)state;
	run_model(1, 50, M_OPS / 10);
	run_model(7, 100, M_OPS / 5);
	run_model(64, 1000, M_OPS / 2);
	run_model(300, 30, M_OPS / 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_stable),
		cmocka_unit_test(test_distinct),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_case),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_lru),
		cmocka_unit_test(test_hold),
		cmocka_unit_test(test_hold_zero),
		cmocka_unit_test(test_hold_max),
		cmocka_unit_test(test_recycled_forgotten),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_capacity_one),
		cmocka_unit_test(test_capacity_max),
		cmocka_unit_test(test_range_refused),
		cmocka_unit_test(test_ranges_capacity),
		cmocka_unit_test(test_custom_ranges),
		cmocka_unit_test(test_restore),
		cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
