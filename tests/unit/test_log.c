/* Unit tests of gateway/lib/log: the role each line names, as set and as cut to LOG_ROLE_MAX. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "gateway/lib/log.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_copied),
		cmocka_unit_test(test_role_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
