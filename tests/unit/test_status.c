/* Unit tests of gateway/status: the retained online/offline message and its capabilities. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/core/status.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_build(void **state)
{
	char buf[512];

	(void)state;
	int n = status_build(buf, sizeof(buf), "agent", "agent-a", STATUS_STREAMS, false, NULL, 0);
	assert_true(n > 0);
	assert_int_equal(n, strlen(buf));
	assert_int_equal(buf[0], '{');
	assert_int_equal(buf[n - 1], '}');
	assert_non_null(strstr(buf, "\"online\":true"));
	assert_non_null(strstr(buf, "\"max_packet\":65536"));
	assert_non_null(strstr(buf, "\"role\":\"agent\""));
	assert_non_null(strstr(buf, "\"id\":\"agent-a\""));
	assert_non_null(strstr(buf, "\"version\":\"" N4M_VERSION "\""));

	n = status_build(buf, sizeof(buf), "local-socks", "l1", STATUS_STREAMS, false, NULL, 0);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\"role\":\"local-socks\""));
	assert_non_null(strstr(buf, "\"id\":\"l1\""));
}

static void test_build_too_small(void **state)
{
	char buf[512];

	(void)state;
	int n = status_build(buf, sizeof(buf), "agent", "agent-a", STATUS_STREAMS, false, NULL, 0);
	assert_true(n > 0);
	assert_int_equal(
		status_build(buf, (size_t)n, "agent", "agent-a", STATUS_STREAMS, false, NULL, 0),
		-ENAMETOOLONG);
	assert_int_equal(status_build(buf, 8, "agent", "agent-a", STATUS_STREAMS, false, NULL, 0),
		-ENAMETOOLONG);
	assert_int_equal(status_build(buf, (size_t)n + 1, "agent", "agent-a", STATUS_STREAMS, false,
				 NULL, 0),
		n);
}

/* What our own peers publish must read back as online, with their capabilities. */
static void test_parse_own(void **state)
{
	char buf[512];
	struct status st;

	(void)state;
	int n = status_build(buf, sizeof(buf), "agent", "agent-a", STATUS_STREAMS, false, NULL, 0);
	assert_true(n > 0);
	memset(&st, 0x55, sizeof(st));
	status_parse(buf, (size_t)n, &st);
	assert_true(st.online);
	assert_int_equal(st.max_packet, STATUS_MAX_PACKET);
	assert_string_equal(st.role, "agent");
}

/* An id spelling a key ("role", "max_packet") comes first in our JSON: it must not hide the key. */
static void test_parse_id_named_like_a_key(void **state)
{
	static const char *const ids[] = { "role", "max_packet", "online", "id", "version" };
	char buf[512];
	struct status st;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(ids); i++) {
		int n = status_build(
			buf, sizeof(buf), "gateway", ids[i], STATUS_STREAMS, false, NULL, 0);
		assert_true(n > 0);
		status_parse(buf, (size_t)n, &st);
		if (!st.online || st.max_packet != STATUS_MAX_PACKET || strcmp(st.role, "gateway"))
			print_error("status_parse(\"%s\") lost a field\n", buf);
		assert_true(st.online);
		assert_int_equal(st.max_packet, STATUS_MAX_PACKET);
		assert_string_equal(st.role, "gateway");
	}
	status_parse("{\"id\":\"online\",\"online\":false}", 30, &st);
	assert_false(st.online);
}

struct parse_case {
	const char *payload;
	size_t len; /* 0: strlen(payload) */
	bool online;
	int max_packet;
	const char *role;
};

static const struct parse_case parse_cases[] = {
	/* the last will and other short payloads: offline */
	{ STATUS_WILL, 0, false, 0, "" },
	{ "", 0, false, 0, "" },
	{ "12345", 0, false, 0, "" },
	/* liveman: more than 5 bytes is online, JSON or not */
	{ "online", 0, true, 0, "" },
	{ "hello world", 0, true, 0, "" },
	{ "{\"online\":true}", 0, true, 0, "" }, /* a net4mqtt peer: no capabilities */
	/* offline */
	{ "{\"online\":false}", 0, false, 0, "" },
	{ "{\"online\": false, \"id\":\"x\"}", 0, false, 0, "" },
	{ "{\"id\":\"x\",\"online\" : false}", 0, false, 0, "" },
	/* capabilities */
	{ "{\"online\":true,\"role\":\"gateway\",\"max_packet\":32768}", 0, true, 32768,
		"gateway" },
	{ "{\"max_packet\": 1024,\"online\":true}", 0, true, 1024, "" },
	{ "{\"online\":true,\"max_packet\":16777216}", 0, true, 16777216, "" },
	/* max_packet out of range or not a number: ignored */
	{ "{\"online\":true,\"max_packet\":0}", 0, true, 0, "" },
	{ "{\"online\":true,\"max_packet\":100}", 0, true, 0, "" },
	{ "{\"online\":true,\"max_packet\":1023}", 0, true, 0, "" },
	{ "{\"online\":true,\"max_packet\":16777217}", 0, true, 0, "" },
	{ "{\"online\":true,\"max_packet\":-65536}", 0, true, 0, "" },
	{ "{\"online\":true,\"max_packet\":99999999999999999999}", 0, true, 0, "" },
	{ "{\"online\":true,\"max_packet\":\"65536\"}", 0, true, 0, "" },
	{ "{\"online\":true,\"max_packet\":null}", 0, true, 0, "" },
	/* role that does not fit, or is not a string */
	{ "{\"online\":true,\"role\":\"0123456789012345678901234567890123456789\"}", 0, true, 0,
		"" },
	{ "{\"online\":true,\"role\":7}", 0, true, 0, "" },
	{ "{\"online\":true,\"role\":\"agent", 0, true, 0, "" },
	/* len is honoured: the bytes past it are not part of the payload */
	{ "{\"online\":true,\"max_packet\":40961234}", 32, true, 4096, "" },
	{ "{\"online\":true,\"role\":\"agentXXX\"}", 28, true, 0, "" },
	{ "{}{\"online\":true}", 2, false, 0, "" },
};

static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		size_t len = c->len ? c->len : strlen(c->payload);
		struct status st;

		memset(&st, 0x55, sizeof(st));
		status_parse(c->payload, len, &st);
		if (st.online != c->online || st.max_packet != c->max_packet)
			print_error("status_parse(\"%.*s\"): online %d max_packet %d\n", (int)len,
				c->payload, st.online, st.max_packet);
		assert_int_equal(st.online, c->online);
		assert_int_equal(st.max_packet, c->max_packet);
		assert_string_equal(st.role, c->role);
	}
}

/* Binary and oversized payloads never crash and read as "online, no capabilities". */
static void test_parse_odd_payloads(void **state)
{
	static const char with_nul[] = "{\"online\":false}\0\"max_packet\":2048";
	uint8_t bin[64];
	char big[4096];
	struct status st;

	(void)state;
	status_parse(with_nul, sizeof(with_nul) - 1, &st);
	assert_true(st.online);
	assert_int_equal(st.max_packet, 0);

	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 37 + 11);
	status_parse(bin, sizeof(bin), &st);
	assert_true(st.online);
	assert_int_equal(st.max_packet, 0);

	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"online\":true,", 15);
	big[sizeof(big) - 1] = '}';
	status_parse(big, sizeof(big), &st);
	assert_true(st.online);
}

/* An agent's advertised subnets go out as "routes" and come back as prefixes. */
static void test_routes_roundtrip(void **state)
{
	struct nl_prefix in[STATUS_ROUTES_MAX];
	char buf[STATUS_JSON_MAX], want[NL_PREFIX_STRLEN], got[NL_PREFIX_STRLEN];
	struct status st;

	(void)state;
	for (int i = 0; i < STATUS_ROUTES_MAX; i++) {
		char cidr[NL_PREFIX_STRLEN];
		if (i % 2)
			snprintf(cidr, sizeof(cidr), "10.%d.0.0/16", i);
		else
			snprintf(cidr, sizeof(cidr), "fd%02x:1234::/64", i);
		assert_int_equal(nl_prefix_parse(cidr, &in[i], NULL), 0);
	}
	int n = status_build(buf, sizeof(buf), "agent", "agent-a", STATUS_STREAMS, false, in, 2);
	assert_true(n > 0);
	assert_non_null(strstr(buf, ",\"routes\":[\"fd00:1234::/64\",\"10.1.0.0/16\"]}"));
	n = status_build(
		buf, sizeof(buf), "agent", "agent-a", STATUS_STREAMS, false, in, STATUS_ROUTES_MAX);
	assert_true(n > 0);
	status_parse(buf, (size_t)n, &st);
	assert_true(st.online);
	assert_int_equal(st.max_packet, STATUS_MAX_PACKET);
	assert_int_equal(st.n_routes, STATUS_ROUTES_MAX);
	for (int i = 0; i < STATUS_ROUTES_MAX; i++) {
		nl_prefix_format(&in[i], want, sizeof(want));
		nl_prefix_format(&st.routes[i], got, sizeof(got));
		assert_string_equal(got, want);
	}
	/* a buffer one short of the whole status is refused */
	assert_int_equal(status_build(buf, (size_t)n, "agent", "agent-a", STATUS_STREAMS, false, in,
				 STATUS_ROUTES_MAX),
		-ENAMETOOLONG);
}

/* Malformed entries are skipped, the rest kept; junk never overruns. */
static void test_routes_malformed(void **state)
{
	static const struct {
		const char *json;
		int n_routes;
	} cases[] = {
		{ "{\"online\":true,\"routes\":[\"10.0.0.0/8\", \"bogus\" ,\"fd00::/8\"]}", 2 },
		{ "{\"online\":true,\"routes\":[\"10.0.0.0/33\"]}", 0 },
		{ "{\"online\":true,\"routes\":\"10.0.0.0/8\"}", 0 },
		{ "{\"online\":true,\"routes\":[\"10.0.0.0/8", 0 },
		{ "{\"online\":true,\"routes\":[10, \"10.0.0.0/8\"]}", 0 },
		{ "{\"online\":true,\"routes\":[]}", 0 },
		{ "{\"online\":true,\"routes\":[\"192.168.1.7\"]}", 1 },
	};
	struct status st;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		status_parse(cases[i].json, strlen(cases[i].json), &st);
		if (st.n_routes != cases[i].n_routes)
			fail_msg("%s: %d routes", cases[i].json, st.n_routes);
	}
}

static void test_icmp(void **state)
{
	char buf[512];
	struct status st;

	(void)state;
	int n = status_build(buf, sizeof(buf), "agent", "agent-a", STATUS_STREAMS, true, NULL, 0);
	assert_non_null(strstr(buf, ",\"icmp\":1"));
	status_parse(buf, (size_t)n, &st);
	assert_true(st.icmp);
	n = status_build(buf, sizeof(buf), "agent", "agent-a", STATUS_STREAMS, false, NULL, 0);
	assert_null(strstr(buf, "icmp"));
	status_parse(buf, (size_t)n, &st);
	assert_false(st.icmp);
	status_parse("{\"online\":true}", 16, &st); /* net4mqtt: no capability */
	assert_false(st.icmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_build_too_small),
		cmocka_unit_test(test_parse_own),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_id_named_like_a_key),
		cmocka_unit_test(test_parse_odd_payloads),
		cmocka_unit_test(test_routes_roundtrip),
		cmocka_unit_test(test_routes_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
