/* Unit tests of gateway/addr: formatting, splitting and parsing "host:port", kxdns names. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "gateway/lib/addr.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct format_case {
	int family;
	const char *ip;
	uint16_t port;
	const char *want;
};

static const struct format_case format_cases[] = {
	{ AF_INET, "1.2.3.4", 80, "1.2.3.4:80" },
	{ AF_INET, "0.0.0.0", 0, "0.0.0.0:0" },
	{ AF_INET, "255.255.255.255", 65535, "255.255.255.255:65535" },
	{ AF_INET, "10.0.0.1", 0x1234, "10.0.0.1:4660" }, /* catches a missing ntohs */
	{ AF_INET6, "::1", 80, "[::1]:80" },
	{ AF_INET6, "::", 0, "[::]:0" },
	{ AF_INET6, "2001:db8::1", 443, "[2001:db8::1]:443" },
	{ AF_INET6, "::ffff:1.2.3.4", 8080, "[::ffff:1.2.3.4]:8080" },
	{ AF_INET6, "fe80::1:2:3:4", 65535, "[fe80::1:2:3:4]:65535" },
};

static void test_format(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(format_cases); i++) {
		const struct format_case *c = &format_cases[i];
		struct sockaddr_storage ss;
		char buf[ADDR_STRLEN];

		memset(&ss, 0, sizeof(ss));
		if (c->family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			sin->sin_family = AF_INET;
			sin->sin_port = htons(c->port);
			assert_int_equal(inet_pton(AF_INET, c->ip, &sin->sin_addr), 1);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(c->port);
			assert_int_equal(inet_pton(AF_INET6, c->ip, &sin6->sin6_addr), 1);
		}
		assert_int_equal(addr_format((struct sockaddr *)&ss, buf, sizeof(buf)), 0);
		assert_string_equal(buf, c->want);
	}
}

static void test_format_unsupported_family(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[ADDR_STRLEN] = "untouched";

	(void)state;
	assert_int_equal(addr_format((struct sockaddr *)&sun, buf, sizeof(buf)), -EAFNOSUPPORT);
}

struct split_case {
	const char *in;
	int ret;
	const char *host;
	uint16_t port;
};

static const struct split_case split_cases[] = {
	{ "1.2.3.4:80", 0, "1.2.3.4", 80 },
	{ "example.org:443", 0, "example.org", 443 },
	{ "a:65535", 0, "a", 65535 },
	{ "[::1]:80", 0, "::1", 80 },
	{ "[2001:db8::1]:8080", 0, "2001:db8::1", 8080 },
	{ "[::ffff:1.2.3.4]:1", 0, "::ffff:1.2.3.4", 1 },
	/* rejected */
	{ .in = "1.2.3.4", .ret = -EINVAL },	 /* missing port */
	{ .in = "example.org", .ret = -EINVAL }, /* missing port */
	{ .in = "1.2.3.4:", .ret = -EINVAL },	 /* empty port */
	{ .in = "h:65536", .ret = -EINVAL },	 /* port > 65535 */
	{ .in = "h:99999999999999999999999", .ret = -EINVAL },
	{ .in = "h:x", .ret = -EINVAL }, /* non-numeric port */
	{ .in = "h:8x", .ret = -EINVAL },
	{ .in = "h:80 ", .ret = -EINVAL },
	{ .in = "h: 80", .ret = -EINVAL },
	{ .in = "h:-1", .ret = -EINVAL },
	{ .in = "h:+80", .ret = -EINVAL },
	{ .in = ":80", .ret = -EINVAL }, /* empty host */
	{ .in = "[]:80", .ret = -EINVAL },
	{ .in = "::1:80", .ret = -EINVAL }, /* bare IPv6 without brackets */
	{ .in = "2001:db8::1:443", .ret = -EINVAL },
	{ .in = "[::1]", .ret = -EINVAL }, /* bracketed, no port */
	{ .in = "[::1]:", .ret = -EINVAL },
	{ .in = "[::1]80", .ret = -EINVAL },
	{ .in = "[::1:80", .ret = -EINVAL }, /* unterminated '[' */
	{ .in = "[::1]:80:81", .ret = -EINVAL },
	{ .in = "", .ret = -EINVAL },
	{ .in = ":", .ret = -EINVAL },
};

static void test_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(split_cases); i++) {
		const struct split_case *c = &split_cases[i];
		char host[ADDR_HOST_MAX];
		uint16_t port = 0;

		int ret = addr_split(c->in, host, sizeof(host), &port);
		if (ret != c->ret)
			print_error("addr_split(\"%s\") = %d\n", c->in, ret);
		assert_int_equal(ret, c->ret);
		if (c->ret)
			continue;
		assert_string_equal(host, c->host);
		assert_int_equal(port, c->port);
	}
}

/* The host must fit hostlen with its NUL: hostlen - 1 characters pass, hostlen fail. */
static void test_split_overlong_host(void **state)
{
	char in[ADDR_HOST_MAX + 16], host[ADDR_HOST_MAX];
	uint16_t port;

	(void)state;
	memset(in, 'a', ADDR_HOST_MAX - 1);
	strcpy(in + ADDR_HOST_MAX - 1, ":80");
	assert_int_equal(addr_split(in, host, sizeof(host), &port), 0);
	assert_int_equal(strlen(host), ADDR_HOST_MAX - 1);
	assert_int_equal(port, 80);

	memset(in, 'a', ADDR_HOST_MAX);
	strcpy(in + ADDR_HOST_MAX, ":80");
	assert_int_equal(addr_split(in, host, sizeof(host), &port), -EINVAL);

	/* a small caller buffer, with and without brackets */
	char small[8];
	assert_int_equal(addr_split("1234567:1", small, sizeof(small), &port), 0);
	assert_string_equal(small, "1234567");
	assert_int_equal(addr_split("12345678:1", small, sizeof(small), &port), -EINVAL);
	assert_int_equal(addr_split("[1::2:3]:1", small, sizeof(small), &port), 0);
	assert_string_equal(small, "1::2:3");
	assert_int_equal(addr_split("[1::2:3:4]:1", small, sizeof(small), &port), -EINVAL);
}

struct parse_case {
	const char *in;
	int ret;
	int family;
	const char *ip;
	uint16_t port;
};

static const struct parse_case parse_cases[] = {
	{ "1.2.3.4:80", 0, AF_INET, "1.2.3.4", 80 },
	{ "127.0.0.1:65535", 0, AF_INET, "127.0.0.1", 65535 },
	{ "10.0.0.1:4660", 0, AF_INET, "10.0.0.1", 0x1234 },
	{ "[::1]:80", 0, AF_INET6, "::1", 80 },
	{ "[2001:db8::1]:443", 0, AF_INET6, "2001:db8::1", 443 },
	{ "[::ffff:1.2.3.4]:8080", 0, AF_INET6, "::ffff:1.2.3.4", 8080 },
	/* numeric only */
	{ .in = "example.org:80", .ret = -EINVAL },
	{ .in = "localhost:80", .ret = -EINVAL },
	{ .in = "1.2.3.256:80", .ret = -EINVAL },
	{ .in = "1.2.3:80", .ret = -EINVAL },
	{ .in = "[example.org]:80", .ret = -EINVAL },
	{ .in = "[1.2.3.4]:80", .ret = -EINVAL }, /* brackets are for IPv6 only */
	{ .in = "[::1::2]:80", .ret = -EINVAL },
	{ .in = "::1:80", .ret = -EINVAL },
	{ .in = "1.2.3.4", .ret = -EINVAL },
	{ .in = "1.2.3.4:65536", .ret = -EINVAL },
	{ .in = "[::1]", .ret = -EINVAL },
};

static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct sockaddr_storage ss;
		socklen_t sslen = 0;
		char buf[ADDR_STRLEN];

		int ret = addr_parse(c->in, &ss, &sslen);
		if (ret != c->ret)
			print_error("addr_parse(\"%s\") = %d\n", c->in, ret);
		assert_int_equal(ret, c->ret);
		if (c->ret)
			continue;
		assert_int_equal(ss.ss_family, c->family);
		if (c->family == AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
			struct in_addr want;
			assert_int_equal(sslen, sizeof(struct sockaddr_in));
			assert_int_equal(inet_pton(AF_INET, c->ip, &want), 1);
			assert_memory_equal(&sin->sin_addr, &want, sizeof(want));
			assert_int_equal(ntohs(sin->sin_port), c->port);
		} else {
			const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
			struct in6_addr want;
			assert_int_equal(sslen, sizeof(struct sockaddr_in6));
			assert_int_equal(inet_pton(AF_INET6, c->ip, &want), 1);
			assert_memory_equal(&sin6->sin6_addr, &want, sizeof(want));
			assert_int_equal(ntohs(sin6->sin6_port), c->port);
		}
		/* and back: the topic scheme needs format(parse(s)) == s for canonical s */
		assert_int_equal(addr_format((struct sockaddr *)&ss, buf, sizeof(buf)), 0);
		assert_string_equal(buf, c->in);
	}
}

struct hostname_case {
	const char *host;
	int valid;
};

static const struct hostname_case hostname_cases[] = {
	{ "example.org", 1 }, { "a", 1 }, { "agent-7.net4mqtt.local", 1 },
	{ "under_score.local", 1 }, { "1.2.3.4", 1 }, { "xn--bcher-kva.example", 1 }, { "", 0 },
	{ ".example.org", 0 }, { "-example.org", 0 }, { "a..b", 0 }, { "a b", 0 }, { "a/b", 0 },
	{ "a:80", 0 }, { "a@b", 0 }, { "a\nb", 0 }, { "[::1]", 0 },
	{ "b\xc3\xbc"
	  "cher.example",
		0 }, /* raw UTF-8 */
};

static void test_valid_hostname(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(hostname_cases); i++) {
		const struct hostname_case *c = &hostname_cases[i];

		int ret = addr_valid_hostname(c->host);
		if (ret != c->valid)
			print_error("addr_valid_hostname(\"%s\") = %d\n", c->host, ret);
		assert_int_equal(ret, c->valid);
	}
}

static void test_valid_hostname_length(void **state)
{
	char name[300];

	(void)state;
	memset(name, 'a', sizeof(name));
	for (size_t i = 63; i < 253; i += 64)
		name[i] = '.'; /* labels of 63 characters */
	name[253] = '\0';
	assert_int_equal(addr_valid_hostname(name), 1);
	name[253] = 'a';
	name[254] = '\0';
	assert_int_equal(addr_valid_hostname(name), 0);
}

struct kxdns_case {
	const char *host;
	const char *domain;
	int ret;
	const char *agent;
};

static const struct kxdns_case kxdns_cases[] = {
	{ "agent-7.net4mqtt.local", "net4mqtt.local", 1, "agent-7" },
	{ "a.net4mqtt.local", "net4mqtt.local", 1, "a" },
	/* the domain matches case-insensitively; the agent is kept as written */
	{ "agent-7.NET4MQTT.Local", "net4mqtt.local", 1, "agent-7" },
	{ "agent-7.net4mqtt.local", "NET4MQTT.LOCAL", 1, "agent-7" },
	{ "Agent-7.net4mqtt.local", "net4mqtt.local", 1, "Agent-7" },
	/* the first label, like net4mqtt's resolver */
	{ "www.agent-7.net4mqtt.local", "net4mqtt.local", 1, "www" },
	/* host equal to the domain */
	{ "test.local", "test.local", 0, NULL },
	/* not on a label boundary */
	{ "footest.local", "test.local", 0, NULL },
	{ "agentnet4mqtt.local", "net4mqtt.local", 0, NULL },
	/* empty agent */
	{ ".net4mqtt.local", "net4mqtt.local", 0, NULL },
	{ "..net4mqtt.local", "net4mqtt.local", 0, NULL },
	/* not under the domain */
	{ "agent-7.other.local", "net4mqtt.local", 0, NULL },
	{ "agent-7.net4mqtt.local.evil", "net4mqtt.local", 0, NULL },
	{ "net4mqtt.local", "agent-7.net4mqtt.local", 0, NULL },
	{ "local", "net4mqtt.local", 0, NULL },
	{ "agent-7.net4mqtt.local", "", 0, NULL },
	{ "", "net4mqtt.local", 0, NULL },
};

static void test_kxdns_agent(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(kxdns_cases); i++) {
		const struct kxdns_case *c = &kxdns_cases[i];
		char agent[64] = "untouched";

		int ret = addr_kxdns_agent(c->host, c->domain, agent, sizeof(agent));
		if (ret != c->ret)
			print_error(
				"addr_kxdns_agent(\"%s\", \"%s\") = %d\n", c->host, c->domain, ret);
		assert_int_equal(ret, c->ret);
		if (c->ret)
			assert_string_equal(agent, c->agent);
	}
}

static void test_kxdns_agent_small_buffer(void **state)
{
	char agent[8];

	(void)state;
	assert_int_equal(addr_kxdns_agent("agent-7.n4m", "n4m", agent, sizeof(agent)), 1);
	assert_string_equal(agent, "agent-7");
	assert_int_equal(addr_kxdns_agent("agent-77.n4m", "n4m", agent, sizeof(agent)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_unsupported_family),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_overlong_host),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_valid_hostname),
		cmocka_unit_test(test_valid_hostname_length),
		cmocka_unit_test(test_kxdns_agent),
		cmocka_unit_test(test_kxdns_agent_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
