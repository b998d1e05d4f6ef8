/* Unit tests of gateway/allow: the agent's --allow rules. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "gateway/roles/allow.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static struct sockaddr_storage sa_of(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return ss;
}

static void test_parse(void **state)
{
	static const struct {
		const char *spec;
		int ok, ranges;
	} cases[] = {
		{ "10.0.0.0/8", 1, 0 },
		{ "10.1.2.3", 1, 0 },
		{ "10.0.0.0/8:80", 1, 1 },
		{ "10.0.0.0/8:80,443,8000-8100", 1, 3 },
		{ "10.1.2.3:22", 1, 1 },
		{ "fd00::/8", 1, 0 },
		{ "fd00::1", 1, 0 },
		{ "fd00::/8:443", 1, 1 },
		{ "[fd00::1]:22", 1, 1 },
		{ "[fd00::1]", 1, 0 },
		{ "0.0.0.0/0:1-65535", 1, 1 },
		{ "", 0, 0 },
		{ "10.0.0.0/33", 0, 0 },
		{ "10.0.0.0/8:", 0, 0 },
		{ "10.0.0.0/8:0", 0, 0 },
		{ "10.0.0.0/8:65536", 0, 0 },
		{ "10.0.0.0/8:90-80", 0, 0 },
		{ "10.0.0.0/8:80,", 0, 0 },
		{ "10.0.0.0/8:80;443", 0, 0 },
		{ "10.0.0.0/8:1,2,3,4,5,6,7,8,9", 0, 0 },
		{ "[fd00::1", 0, 0 },
		{ "[fd00::1]x", 0, 0 },
		{ "example.org", 0, 0 },
		{ "10.0.0.0/8:http", 0, 0 },
	};
	struct allow_rule r;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		int err = allow_parse(cases[i].spec, &r);
		if ((err == 0) != cases[i].ok)
			fail_msg("allow_parse(\"%s\") = %d", cases[i].spec, err);
		if (!err && r.n_ranges != cases[i].ranges)
			fail_msg("allow_parse(\"%s\"): %d port ranges", cases[i].spec, r.n_ranges);
		if (err)
			assert_int_equal(err, -EINVAL);
	}
}

static void test_match(void **state)
{
	static const char *specs[] = { "10.20.0.0/16:80,443", "192.168.1.7", "fd20::/64:8000-8100",
		"[fd30::1]:22" };
	static const struct {
		const char *ip;
		uint16_t port;
		bool allowed;
	} cases[] = {
		{ "10.20.1.2", 80, true },
		{ "10.20.255.255", 443, true },
		{ "10.20.1.2", 81, false },
		{ "10.21.0.1", 80, false },
		{ "192.168.1.7", 1, true },
		{ "192.168.1.7", 65535, true },
		{ "192.168.1.8", 80, false },
		{ "::ffff:10.20.0.1", 80, true }, /* v4-mapped counts as IPv4 */
		{ "::ffff:10.20.0.1", 22, false },
		{ "fd20::1", 8000, true },
		{ "fd20::ffff", 8100, true },
		{ "fd20::1", 8101, false },
		{ "fd20:0:0:1::1", 8000, false },
		{ "fd30::1", 22, true },
		{ "fd30::2", 22, false },
		{ "127.0.0.1", 80, false },
	};
	struct allow_rule rules[N_ELEMS(specs)];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(specs); i++)
		assert_int_equal(allow_parse(specs[i], &rules[i]), 0);
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct sockaddr_storage ss = sa_of(cases[i].ip, cases[i].port);
		if (allow_match(rules, (int)N_ELEMS(rules), (struct sockaddr *)&ss) !=
			cases[i].allowed)
			fail_msg("%s port %u: expected %s", cases[i].ip, cases[i].port,
				cases[i].allowed ? "allowed" : "refused");
	}
	/* no rules: nothing matches (the caller treats "no --allow" as allow-all) */
	struct sockaddr_storage ss = sa_of("10.20.1.2", 80);
	assert_false(allow_match(rules, 0, (struct sockaddr *)&ss));
}

/* Prefix lengths that are not a multiple of 8 cut inside a byte. */
static void test_match_odd_prefix(void **state)
{
	struct allow_rule r;
	struct sockaddr_storage in = sa_of("10.0.0.127", 1), out = sa_of("10.0.0.128", 1);

	(void)state;
	assert_int_equal(allow_parse("10.0.0.0/25", &r), 0);
	assert_true(allow_match(&r, 1, (struct sockaddr *)&in));
	assert_false(allow_match(&r, 1, (struct sockaddr *)&out));
	assert_int_equal(allow_parse("0.0.0.0/0", &r), 0);
	assert_true(allow_match(&r, 1, (struct sockaddr *)&out));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_odd_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
