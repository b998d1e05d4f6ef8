/* Unit tests of socks/handshake: the SOCKS5 server handshake state machine, its replies and refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "socks/handshake.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

/* What a client on the other end saw, and what the server's owner was handed. */
struct client {
	uint8_t sent[64]; /* the replies, one after the other */
	size_t n_sent;
	bool send_fails;
	int requests;
	struct socks_request req;
	uint8_t early[SOCKS_HANDSHAKE_BUF];
	size_t n_early;
};

static bool record_send(void *arg, const uint8_t *p, size_t n)
{
	struct client *c = arg;

	if (c->send_fails)
		return false;
	assert_true(c->n_sent + n <= sizeof(c->sent));
	memcpy(c->sent + c->n_sent, p, n);
	c->n_sent += n;
	return true;
}

static void record_request(
	void *arg, const struct socks_request *req, const uint8_t *early, size_t n_early)
{
	struct client *c = arg;

	c->requests++;
	c->req = *req;
	memcpy(c->early, early, n_early);
	c->n_early = n_early;
}

static const struct socks_handshake_ops ops = { record_send, record_request };

static const struct socks_credentials alice = { "alice", "s3cret" };

/* A whole exchange: a greeting, the credentials if any, a request. */
static const uint8_t greet_no_auth[] = { 0x05, 0x01, 0x00 };
static const uint8_t greet_userpass[] = { 0x05, 0x01, 0x02 };
static const uint8_t greet_both[] = { 0x05, 0x02, 0x00, 0x02 };
static const uint8_t login_alice[] = { 0x01, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', '3', 'c', 'r', 'e',
	't' };
static const uint8_t login_wrong[] = { 0x01, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', '3', 'c', 'r', 'e',
	'x' };
static const uint8_t connect_web[] = { 0x05, 0x01, 0x00, 0x03, 11, 'e', 'x', 'a', 'm', 'p', 'l',
	'e', '.', 'o', 'r', 'g', 0x01, 0xbb };

struct exchange {
	uint8_t bytes[SOCKS_HANDSHAKE_BUF + 64];
	size_t len;
};

static void add(struct exchange *e, const uint8_t *p, size_t n)
{
	assert_true(e->len + n <= sizeof(e->bytes));
	memcpy(e->bytes + e->len, p, n);
	e->len += n;
}

/* Feeds e to a fresh handshake in pieces of `step` bytes (0: all at once); the result of
 * the last, and why if it was a refusal (copied: the reason lives in the handshake). */
static enum socks_handshake_result run(const struct socks_credentials *auth,
	const struct exchange *e, size_t step, struct client *c, char why[SOCKS_WHY_MAX])
{
	struct socks_handshake h;
	enum socks_handshake_result r = SOCKS_HANDSHAKE_WAIT;
	const char *said = NULL;

	socks_handshake_init(&h, auth, &ops, c);
	for (size_t off = 0; off < e->len && r == SOCKS_HANDSHAKE_WAIT;) {
		size_t n = step && e->len - off > step ? step : e->len - off;
		r = socks_handshake_input(&h, e->bytes + off, n, &said);
		off += n;
	}
	snprintf(why, SOCKS_WHY_MAX, "%s", r == SOCKS_HANDSHAKE_REFUSED && said ? said : "");
	return r;
}

static void expect_sent(const struct client *c, const uint8_t *want, size_t n)
{
	assert_int_equal(c->n_sent, n);
	assert_memory_equal(c->sent, want, n);
}

static void test_no_auth_connect(void **state)
{
	struct exchange e = { .len = 0 };
	char why[SOCKS_WHY_MAX];
	(void)state;

	add(&e, greet_no_auth, sizeof(greet_no_auth));
	add(&e, connect_web, sizeof(connect_web));
	/* all at once, and a byte at a time: the same replies, the same request */
	for (size_t step = 0; step <= 1; step++) {
		struct client c = { .n_sent = 0 };
		assert_int_equal(run(NULL, &e, step, &c, why), SOCKS_HANDSHAKE_DONE);
		expect_sent(&c, BYTES(0x05, 0x00));
		assert_int_equal(c.requests, 1);
		assert_int_equal(c.req.cmd, SOCKS_CMD_CONNECT);
		assert_int_equal(c.req.atyp, SOCKS_ATYP_DOMAIN);
		assert_string_equal(c.req.host, "example.org");
		assert_int_equal(c.req.port, 443);
		assert_int_equal(c.n_early, 0);
	}
}

static void test_early_data_handed_over(void **state)
{
	struct exchange e = { .len = 0 };
	struct client c = { .n_sent = 0 };
	char why[SOCKS_WHY_MAX];
	(void)state;

	add(&e, greet_both, sizeof(greet_both)); /* offers both: no auth is picked */
	add(&e, connect_web, sizeof(connect_web));
	add(&e, (const uint8_t *)"GET / HTTP/1.0\r\n\r\n", 18);
	assert_int_equal(run(NULL, &e, 0, &c, why), SOCKS_HANDSHAKE_DONE);
	expect_sent(&c, BYTES(0x05, 0x00));
	assert_int_equal(c.n_early, 18);
	assert_memory_equal(c.early, "GET / HTTP/1.0\r\n\r\n", 18);
}

static void test_userpass_accepted(void **state)
{
	struct exchange e = { .len = 0 };
	char why[SOCKS_WHY_MAX];
	(void)state;

	add(&e, greet_both, sizeof(greet_both));
	add(&e, login_alice, sizeof(login_alice));
	add(&e, connect_web, sizeof(connect_web));
	for (size_t step = 0; step <= 3; step += 3) {
		struct client c = { .n_sent = 0 };
		assert_int_equal(run(&alice, &e, step, &c, why), SOCKS_HANDSHAKE_DONE);
		/* method 2 chosen, RFC 1929 success */
		expect_sent(&c, BYTES(0x05, 0x02, 0x01, 0x00));
		assert_int_equal(c.requests, 1);
		assert_string_equal(c.req.host, "example.org");
	}
}

struct refusal_case {
	const char *name;
	bool auth; /* the server requires alice */
	const uint8_t *parts[3];
	size_t lens[3];
	const uint8_t *replies; /* what the client is sent before the server closes */
	size_t n_replies;
	const char *why;
};

#define PART(a) a, sizeof(a)

static const uint8_t socks4[] = { 0x04, 0x01, 0x00, 0x50, 10, 0, 0, 1, 0 };
static const uint8_t login_v2[] = { 0x02, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', '3', 'c', 'r', 'e',
	't' };
static const uint8_t login_nul[] = { 0x01, 5, 'a', 'l', 0, 'c', 'e', 6, 's', '3', 'c', 'r', 'e',
	't' };
static const uint8_t login_odd_user[] = { 0x01, 4, 'a', 0x01, '"', 'b', 1, 'x' };
static const uint8_t bind_request[] = { 0x05, 0x02, 0x00, 0x01, 10, 0, 0, 1, 0, 80 };
static const uint8_t request_v4[] = { 0x04, 0x01, 0x00, 0x01, 10, 0, 0, 1, 0, 80 };

static const struct refusal_case refusals[] = {
	{ "SOCKS4", false, { socks4 }, { sizeof(socks4) }, NULL, 0, "not SOCKS5" },
	{ "no auth offered to a server that requires it", true, { greet_no_auth },
		{ sizeof(greet_no_auth) }, BYTES(0x05, 0xff), "no username/password offered" },
	{ "only user/pass offered to a server without it", false, { greet_userpass },
		{ sizeof(greet_userpass) }, BYTES(0x05, 0xff), "no usable method" },
	{ "wrong password", true, { greet_userpass, login_wrong },
		{ sizeof(greet_userpass), sizeof(login_wrong) }, BYTES(0x05, 0x02, 0x01, 0x01),
		"wrong username or password for user \"alice\"" },
	{ "a NUL in the user name", true, { greet_userpass, login_nul },
		{ sizeof(greet_userpass), sizeof(login_nul) }, BYTES(0x05, 0x02, 0x01, 0x01),
		"a NUL byte in the username or password for user \"\"" },
	{ "a user name shown escaped", true, { greet_userpass, login_odd_user },
		{ sizeof(greet_userpass), sizeof(login_odd_user) }, BYTES(0x05, 0x02, 0x01, 0x01),
		"wrong username or password for user \"a\\x01\\x22b\"" },
	{ "credentials of another version", true, { greet_userpass, login_v2 },
		{ sizeof(greet_userpass), sizeof(login_v2) }, BYTES(0x05, 0x02),
		"malformed username/password request" },
	{ "BIND", false, { greet_no_auth, bind_request },
		{ sizeof(greet_no_auth), sizeof(bind_request) },
		BYTES(0x05, 0x00, 0x05, SOCKS_CMD_NOT_SUPPORTED, 0x00, 0x01, 0, 0, 0, 0, 0, 0),
		"unsupported request" },
	{ "a request of another version", false, { greet_no_auth, request_v4 },
		{ sizeof(greet_no_auth), sizeof(request_v4) }, BYTES(0x05, 0x00),
		"malformed request" },
};

static void test_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(refusals); i++) {
		const struct refusal_case *rc = &refusals[i];
		struct exchange e = { .len = 0 };
		struct client c = { .n_sent = 0 };
		char why[SOCKS_WHY_MAX];

		for (int p = 0; p < 3 && rc->parts[p]; p++)
			add(&e, rc->parts[p], rc->lens[p]);
		enum socks_handshake_result r = run(rc->auth ? &alice : NULL, &e, 0, &c, why);
		if (r != SOCKS_HANDSHAKE_REFUSED || strcmp(why, rc->why))
			fail_msg("%s: result %d, why \"%s\", want \"%s\"", rc->name, r, why,
				rc->why);
		expect_sent(&c, rc->replies, rc->n_replies);
		assert_int_equal(c.requests, 0);
	}
}

static void test_gone(void **state)
{
	struct exchange e = { .len = 0 };
	struct client c = { .send_fails = true };
	uint8_t flood[SOCKS_HANDSHAKE_BUF];
	struct socks_handshake h;
	char said[SOCKS_WHY_MAX];
	const char *why;
	(void)state;

	/* a reply that cannot be sent: close, nothing to say */
	add(&e, greet_no_auth, sizeof(greet_no_auth));
	assert_int_equal(run(NULL, &e, 0, &c, said), SOCKS_HANDSHAKE_GONE);
	/* far more than a handshake, at once or added up */
	memset(flood, 0x05, sizeof(flood));
	socks_handshake_init(&h, NULL, &ops, &c);
	assert_int_equal(
		socks_handshake_input(&h, flood, sizeof(flood), &why), SOCKS_HANDSHAKE_GONE);
	socks_handshake_init(&h, &alice, &ops, &c);
	c.send_fails = false;
	assert_int_equal(socks_handshake_input(&h, greet_userpass, sizeof(greet_userpass), &why),
		SOCKS_HANDSHAKE_WAIT);
	flood[0] = 0x01; /* credentials of 255 + 255 bytes, cut short */
	flood[1] = 0xff;
	flood[2 + 0xff] = 0xff;
	assert_int_equal(socks_handshake_input(&h, flood, 300, &why), SOCKS_HANDSHAKE_WAIT);
	assert_int_equal(socks_handshake_input(&h, flood + 300, 300, &why), SOCKS_HANDSHAKE_GONE);
}

static void test_clear_wipes_password(void **state)
{
	struct client c = { .n_sent = 0 };
	struct socks_handshake h;
	const char *why;
	(void)state;

	socks_handshake_init(&h, &alice, &ops, &c);
	assert_int_equal(socks_handshake_input(&h, greet_userpass, sizeof(greet_userpass), &why),
		SOCKS_HANDSHAKE_WAIT);
	assert_int_equal(socks_handshake_input(&h, login_alice, 8, &why), SOCKS_HANDSHAKE_WAIT);
	assert_non_null(memmem(h.buf, sizeof(h.buf), "alice", 5));
	socks_handshake_clear(&h);
	for (size_t i = 0; i < sizeof(h.buf); i++)
		assert_int_equal(h.buf[i], 0);
}

static void test_secret_equal(void **state)
{
	static const struct {
		const char *a, *b;
		bool equal;
	} cases[] = {
		{ "s3cret", "s3cret", true },
		{ "", "", true },
		{ "s3cre", "s3cret", false },
		{ "s3cret", "s3cre", false },
		{ "s3cret", "s3creT", false },
		{ "x3cret", "s3cret", false },
	};
	(void)state;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char a[SOCKS_USERPASS_FIELD_MAX + 1] = "", b[SOCKS_USERPASS_FIELD_MAX + 1] = "";
		strcpy(a, cases[i].a);
		strcpy(b, cases[i].b);
		/* what follows the end of a string does not count */
		memset(a + strlen(a) + 1, 'z', sizeof(a) - strlen(a) - 1);
		assert_int_equal(socks_secret_equal(a, b), cases[i].equal);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_auth_connect),
		cmocka_unit_test(test_early_data_handed_over),
		cmocka_unit_test(test_userpass_accepted),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_gone),
		cmocka_unit_test(test_clear_wipes_password),
		cmocka_unit_test(test_secret_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
