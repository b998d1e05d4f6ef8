/* Unit tests of gateway/status: the retained online/offline message and its capabilities. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "gateway/status.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_build(void **state)
{
	char buf[512];

	(void)state;
	int n = status_build(buf, sizeof(buf), "agent", "agent-a");
	assert_true(n > 0);
	assert_int_equal(n, strlen(buf));
	assert_int_equal(buf[0], '{');
	assert_int_equal(buf[n - 1], '}');
	assert_non_null(strstr(buf, "\"online\":true"));
	assert_non_null(strstr(buf, "\"max_packet\":65536"));
	assert_non_null(strstr(buf, "\"role\":\"agent\""));
	assert_non_null(strstr(buf, "\"id\":\"agent-a\""));
	assert_non_null(strstr(buf, "\"version\":\"" N4M_VERSION "\""));

	n = status_build(buf, sizeof(buf), "local-socks", "l1");
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\"role\":\"local-socks\""));
	assert_non_null(strstr(buf, "\"id\":\"l1\""));
}

static void test_build_too_small(void **state)
{
	char buf[512];

	(void)state;
	int n = status_build(buf, sizeof(buf), "agent", "agent-a");
	assert_true(n > 0);
	assert_int_equal(status_build(buf, (size_t)n, "agent", "agent-a"), -ENAMETOOLONG);
	assert_int_equal(status_build(buf, 8, "agent", "agent-a"), -ENAMETOOLONG);
	assert_int_equal(status_build(buf, (size_t)n + 1, "agent", "agent-a"), n);
}

/* What our own peers publish must read back as online, with their capabilities. */
static void test_parse_own(void **state)
{
	char buf[512];
	struct status st;

	(void)state;
	int n = status_build(buf, sizeof(buf), "agent", "agent-a");
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
		int n = status_build(buf, sizeof(buf), "gateway", ids[i]);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_too_small),
		cmocka_unit_test(test_parse_own),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_id_named_like_a_key),
		cmocka_unit_test(test_parse_odd_payloads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
