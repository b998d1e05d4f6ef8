/* Unit tests of gateway/core/pool: the members of "ag1,ag2,ag3" and which one a flow goes to. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gateway/core/pool.h"

struct seen {
	char list[256];
};

static void collect(const char *member, void *arg)
{
	struct seen *s = arg;

	strcat(s->list, member);
	strcat(s->list, ";");
}

static void test_walk(void **state)
{
	struct seen s = { "" };

	(void)state;
	pool_walk("a,bb,,ccc,", 64, collect, &s);
	assert_string_equal(s.list, "a;bb;ccc;");
	s.list[0] = '\0';
	pool_walk("single", 64, collect, &s);
	assert_string_equal(s.list, "single;");
	s.list[0] = '\0';
	pool_walk("short,toolongmember", 6, collect, &s); /* members of max_len or more: skipped */
	assert_string_equal(s.list, "short;");
}

/* Which members are online: a string of their names, each followed by ';'. */
static bool online(void *ctx, const char *member)
{
	char key[64];

	snprintf(key, sizeof(key), "%s;", member);
	return strstr(ctx, key) != NULL;
}

static void pick(const char *spec, uint32_t flow, const char *up, char *out)
{
	pool_pick(spec, &flow, sizeof(flow), online, (void *)up, out, 64);
}

static void test_pick_spreads_and_sticks(void **state)
{
	int count[3] = { 0 };
	char out[64], again[64];

	(void)state;
	for (uint32_t flow = 0; flow < 3000; flow++) {
		pick("a1,a2,a3", flow, "a1;a2;a3;", out);
		pick("a1,a2,a3", flow, "a1;a2;a3;", again);
		assert_string_equal(out, again); /* the same flow, the same member */
		assert_true(out[0] == 'a' && out[1] >= '1' && out[1] <= '3' && !out[2]);
		count[out[1] - '1']++;
	}
	for (int i = 0; i < 3; i++) /* about a third each */
		assert_true(count[i] > 800 && count[i] < 1200);
}

static void test_pick_member_leaves(void **state)
{
	char all[64], without[64];

	(void)state;
	for (uint32_t flow = 0; flow < 3000; flow++) {
		pick("a1,a2,a3", flow, "a1;a2;a3;", all);
		pick("a1,a2,a3", flow, "a1;a3;", without);
		if (strcmp(all, "a2")) /* only a2's flows move */
			assert_string_equal(all, without);
		else
			assert_string_not_equal(without, "a2");
	}
}

static void test_pick_none_online(void **state)
{
	char out[64];

	(void)state;
	pick("a1,a2,a3", 7, "", out);
	assert_string_equal(out, "a1"); /* the first, whose status says why it fails */
	pick("a1,a2,a3", 7, "a3;", out);
	assert_string_equal(out, "a3");
	pick(",,", 7, "", out);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_pick_spreads_and_sticks),
		cmocka_unit_test(test_pick_member_leaves),
		cmocka_unit_test(test_pick_none_online),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
