/* Unit tests of gateway/lib/basicauth: Authorization headers right, wrong and malformed, and the
 * header the status client writes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "gateway/lib/basicauth.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct auth_case {
	const char *header;
	bool ok;
};

/* Against the password "s3cret" (admin:s3cret is YWRtaW46czNjcmV0). */
static const struct auth_case auth_cases[] = {
	{ "Basic YWRtaW46czNjcmV0", true },
	{ "basic YWRtaW46czNjcmV0", true },	  /* the scheme is case-insensitive */
	{ "  Basic   YWRtaW46czNjcmV0  ", true }, /* spaces around */
	{ "Basic OnMzY3JldA==", true },		  /* ":s3cret": an empty user name */
	{ "Basic c29tZW9uZTpzM2NyZXQ=", true },	  /* someone:s3cret: any user name */
	{ "Basic YTpiOnMzY3JldA==", false },	  /* a:b:s3cret: the user ends at the first colon */
	{ "Basic YWRtaW46czNjcmV0eA==", false },  /* admin:s3cretx */
	{ "Basic YWRtaW46czNjcmU=", false },	  /* admin:s3cre */
	{ "Basic YWRtaW46", false },		  /* admin: */
	{ "Basic YWRtaW4=", false },		  /* admin, no colon */
	{ "Basic czNjcmV0", false },		  /* s3cret, no colon */
	{ "Basic", false },
	{ "Basic ", false },
	{ "BasicYWRtaW46czNjcmV0", false },
	{ "Bearer YWRtaW46czNjcmV0", false },
	{ "Basic YWRtaW46czNjcmV0 x", false }, /* two tokens */
	{ "Basic YWRtaW46czNjcmV0!", false },  /* not base64 */
	{ "Basic YWRtaW46czNjcmV0=", false },  /* bad padding */
	{ "", false },
};

static void test_check(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(auth_cases); i++)
		if (basic_auth_ok(auth_cases[i].header, "s3cret") != auth_cases[i].ok)
			fail_msg("\"%s\": want %s", auth_cases[i].header,
				auth_cases[i].ok ? "ok" : "refused");
	assert_false(basic_auth_ok(NULL, "s3cret"));
}

static void test_too_long(void **state)
{
	char header[2048] = "Basic ";

	(void)state;
	memset(header + 6, 'A', sizeof(header) - 7);
	assert_false(basic_auth_ok(header, "s3cret"));
}

/* What the client writes, the server accepts; with another password, not. */
static void test_round_trip(void **state)
{
	char header[512], password[BASIC_AUTH_PASSWORD_MAX];

	(void)state;
	assert_int_equal(
		basic_auth_header("net4mqtt", "pa:ss w\xc3\xb6rd", header, sizeof(header)), 0);
	assert_string_equal(header, "Basic bmV0NG1xdHQ6cGE6c3Mgd8O2cmQ=");
	assert_true(basic_auth_ok(header, "pa:ss w\xc3\xb6rd"));
	assert_false(basic_auth_ok(header, "pa:ss word"));

	memset(password, 'p', sizeof(password) - 1); /* the longest */
	password[sizeof(password) - 1] = '\0';
	assert_int_equal(basic_auth_header("net4mqtt", password, header, sizeof(header)), 0);
	assert_true(basic_auth_ok(header, password));
	assert_int_equal(basic_auth_header("net4mqtt", password, header, 64), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
