/* Unit tests of gateway/lib/log: the role each line names, as set and as cut to
 * LOG_ROLE_MAX; a log budget's lines a second and its count of those left out; a line due
 * once a second. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gateway/lib/clock.h"
#include "gateway/lib/log.h"

static uint64_t now_ms = 5000;

/* The library's clock, set by the test: linked instead of gateway/lib/clock.c's. */
uint64_t clock_ms(void)
{
	return now_ms;
}

static void test_role_copied(void **state)
{
	char role[] = "agent", out[LOG_ROLE_MAX];

	(void)state;
	log_set_role(role);
	role[0] = 'X'; /* the caller's memory may change or go: the role stays */
	log_get_role(out);
	assert_string_equal(out, "agent");
	log_set_role(NULL);
	log_get_role(out);
	assert_string_equal(out, "");
	log_set_role("");
	log_get_role(out);
	assert_string_equal(out, "");
}

static void test_role_cut(void **state)
{
	char longer[LOG_ROLE_MAX + 10], out[LOG_ROLE_MAX];

	(void)state;
	memset(longer, 'r', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	log_set_role(longer);
	log_get_role(out);
	assert_int_equal(strlen(out), LOG_ROLE_MAX - 1);
	assert_memory_equal(out, longer, LOG_ROLE_MAX - 1);
	longer[LOG_ROLE_MAX - 1] = '\0'; /* exactly LOG_ROLE_MAX - 1 bytes: kept whole */
	log_set_role(longer);
	log_get_role(out);
	assert_string_equal(out, longer);
	log_set_role("short"); /* a shorter one after: no tail of the longer left */
	log_get_role(out);
	assert_string_equal(out, "short");
}

/* What the logger writes to stderr while fn runs. */
static void stderr_of(void (*fn)(void *), void *arg, char *out, size_t cap)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);

	assert_non_null(f);
	fflush(stderr);
	dup2(fileno(f), STDERR_FILENO);
	fn(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

struct budget_run {
	struct log_budget *b;
	int calls;
	int said;
};

static void spend(void *arg)
{
	struct budget_run *r = arg;

	r->said = 0;
	for (int i = 0; i < r->calls; i++)
		r->said += log_budget_ok(r->b);
}

static void test_budget(void **state)
{
	struct log_budget b = { .per_second = 3, .what = "peer status lines" };
	struct budget_run r = { .b = &b, .calls = 5 };
	char out[512];

	(void)state;
	log_init(1, LOG_TO_STDERR);
	log_set_role("agent");
	stderr_of(spend, &r, out, sizeof(out));
	assert_int_equal(r.said, 3); /* 3 of 5 in one second */
	assert_string_equal(out, "");
	now_ms += 999; /* the same second still */
	r.calls = 1;
	stderr_of(spend, &r, out, sizeof(out));
	assert_int_equal(r.said, 0);
	now_ms += 1; /* the next second: its first line is said after the count */
	stderr_of(spend, &r, out, sizeof(out));
	assert_int_equal(r.said, 1);
	assert_non_null(strstr(out, "INFO  agent: 3 peer status lines left out (over 3 a second)"));
	now_ms += 5000; /* a quiet second later: nothing was left out */
	r.calls = 3;
	stderr_of(spend, &r, out, sizeof(out));
	assert_int_equal(r.said, 3);
	assert_string_equal(out, "");
}

static void test_second_due(void **state)
{
	uint64_t last = 0;

	(void)state;
	now_ms = 100000;
	assert_true(log_second_due(&last)); /* the first line */
	assert_int_equal(last, 100000);
	now_ms += 999;
	assert_false(log_second_due(&last));
	assert_int_equal(last, 100000); /* a line left out does not move the second */
	now_ms += 1;
	assert_true(log_second_due(&last));
	assert_int_equal(last, 101000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_copied),
		cmocka_unit_test(test_role_cut),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_second_due),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
