/* Unit tests of socks/socks: RFC 1928 greeting, request and reply; RFC 1929 username/password. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "socks/socks.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define BYTES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

struct greeting_case {
	const char *name;
	const uint8_t *buf;
	size_t len;
	int ret;
	uint32_t offers;
};

static const struct greeting_case greeting_cases[] = {
	{ "empty", (const uint8_t *)"", 0, 0, 0 },
	{ "version only", BYTES(0x05), 0, 0 },
	{ "no method list yet", BYTES(0x05, 0x01), 0, 0 },
	{ "methods cut short", BYTES(0x05, 0x02, 0x00), 0, 0 },
	{ "no auth", BYTES(0x05, 0x01, 0x00), 3, 1u << SOCKS_METHOD_NO_AUTH },
	{ "no auth + user/pass", BYTES(0x05, 0x02, 0x00, 0x02), 4,
		1u << SOCKS_METHOD_NO_AUTH | 1u << SOCKS_METHOD_USERPASS },
	{ "user/pass only", BYTES(0x05, 0x01, 0x02), 3, 1u << SOCKS_METHOD_USERPASS },
	{ "method 31", BYTES(0x05, 0x01, 0x1f), 3, 1u << 31 },
	{ "methods >= 32 ignored", BYTES(0x05, 0x03, 0x20, 0x80, 0xff), 5, 0 },
	{ "duplicates", BYTES(0x05, 0x03, 0x00, 0x00, 0x01), 5, 0x3 },
	{ "request pipelined after it", BYTES(0x05, 0x01, 0x00, 0x05, 0x01, 0x00), 3, 0x1 },
	{ "SOCKS4", BYTES(0x04, 0x01, 0x00), -EPROTO, 0 },
	{ "SOCKS4, one byte", BYTES(0x04), -EPROTO, 0 },
	{ "TLS hello", BYTES(0x16, 0x03, 0x01), -EPROTO, 0 },
	{ "HTTP", BYTES('G', 'E', 'T', ' '), -EPROTO, 0 },
	{ "zero methods", BYTES(0x05, 0x00), -EPROTO, 0 },
	{ "zero methods, more bytes", BYTES(0x05, 0x00, 0x00), -EPROTO, 0 },
};

static void test_greeting(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(greeting_cases); i++) {
		const struct greeting_case *c = &greeting_cases[i];
		uint32_t offers = 0xdeadbeef;

		int ret = socks_parse_greeting(c->buf, c->len, &offers);
		if (ret != c->ret)
			print_error("greeting \"%s\": %d\n", c->name, ret);
		assert_int_equal(ret, c->ret);
		if (ret > 0)
			assert_int_equal(offers, c->offers);
	}
}

/* Every strict prefix of a full greeting needs more bytes. */
static void test_greeting_partial(void **state)
{
	static const uint8_t g[] = { 0x05, 0x04, 0x00, 0x01, 0x02, 0x03 };
	uint32_t offers;

	(void)state;
	for (size_t n = 0; n < sizeof(g); n++)
		assert_int_equal(socks_parse_greeting(g, n, &offers), 0);
	assert_int_equal(socks_parse_greeting(g, sizeof(g), &offers), sizeof(g));
	assert_int_equal(offers, 0xf);
}

struct request_case {
	const char *name;
	const uint8_t *buf;
	size_t len;
	int ret;
	enum socks_reply reply; /* for -ENOTSUP */
	uint8_t atyp;
	const char *host;
	uint16_t port;
	const char *dst; /* socks_request_dst */
};

/* A 255-character domain, the most ATYP 3 can carry. */
#define D15 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'
#define D255 D15, D15, D15, D15, D15, D15, D15, D15, D15, D15, D15, D15, D15, D15, D15, D15, D15

/* one request per row, its bytes then what it parses to: */
/* clang-format off */
static const struct request_case request_cases[] = {
	{ .name = "IPv4 CONNECT",
		.buf = BYTES(0x05, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x50),
		10, 0, SOCKS_ATYP_IPV4, "1.2.3.4", 80, "1.2.3.4:80" },
	{ .name = "IPv4 CONNECT, high port",
		.buf = BYTES(0x05, 0x01, 0x00, 0x01, 10, 0, 0, 1, 0xff, 0xfe),
		10, 0, SOCKS_ATYP_IPV4, "10.0.0.1", 65534, "10.0.0.1:65534" },
	{ .name = "IPv4 CONNECT, data after it",
		.buf = BYTES(0x05, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0x01, 0xbb, 'G', 'E', 'T'),
		10, 0, SOCKS_ATYP_IPV4, "1.2.3.4", 443, "1.2.3.4:443" },
	{ .name = "IPv6 CONNECT ::1",
		.buf = BYTES(0x05, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
			0x00, 0x50),
		22, 0, SOCKS_ATYP_IPV6, "::1", 80, "[::1]:80" },
	{ .name = "IPv6 CONNECT 2001:db8::1",
		.buf = BYTES(0x05, 0x01, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 1, 0x1f, 0x90),
		22, 0, SOCKS_ATYP_IPV6, "2001:db8::1", 8080, "[2001:db8::1]:8080" },
	{ .name = "domain CONNECT",
		.buf = BYTES(0x05, 0x01, 0x00, 0x03, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.',
			'o', 'r', 'g', 0x01, 0xbb),
		18, 0, SOCKS_ATYP_DOMAIN, "example.org", 443, "example.org:443" },
	{ .name = "domain CONNECT, one letter",
		.buf = BYTES(0x05, 0x01, 0x00, 0x03, 1, 'a', 0x00, 0x16),
		8, 0, SOCKS_ATYP_DOMAIN, "a", 22, "a:22" },
	/* unsupported commands: well formed, answered with a reply */
	{ .name = "BIND",
		.buf = BYTES(0x05, 0x02, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_CMD_NOT_SUPPORTED },
	{ .name = "UDP ASSOCIATE",
		.buf = BYTES(0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x00),
		.ret = -ENOTSUP, .reply = SOCKS_CMD_NOT_SUPPORTED },
	{ .name = "UDP ASSOCIATE, IPv6",
		.buf = BYTES(0x05, 0x03, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0x00, 0x00),
		.ret = -ENOTSUP, .reply = SOCKS_CMD_NOT_SUPPORTED },
	{ .name = "BIND, domain",
		.buf = BYTES(0x05, 0x02, 0x00, 0x03, 1, 'a', 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_CMD_NOT_SUPPORTED },
	{ .name = "command 0",
		.buf = BYTES(0x05, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_CMD_NOT_SUPPORTED },
	{ .name = "command 9",
		.buf = BYTES(0x05, 0x09, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_CMD_NOT_SUPPORTED },
	/* address types */
	{ .name = "ATYP 0",
		.buf = BYTES(0x05, 0x01, 0x00, 0x00, 1, 2, 3, 4, 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_ATYP_NOT_SUPPORTED },
	{ .name = "ATYP 2",
		.buf = BYTES(0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4, 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_ATYP_NOT_SUPPORTED },
	{ .name = "ATYP 5, as soon as it is known",
		.buf = BYTES(0x05, 0x01, 0x00, 0x05, 1),
		.ret = -ENOTSUP, .reply = SOCKS_ATYP_NOT_SUPPORTED },
	{ .name = "ATYP 0xff",
		.buf = BYTES(0x05, 0x01, 0x00, 0xff, 1, 2, 3, 4, 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_ATYP_NOT_SUPPORTED },
	/* broken: closed without a reply */
	{ .name = "RSV 1",
		.buf = BYTES(0x05, 0x01, 0x01, 0x01, 1, 2, 3, 4, 0x00, 0x50),
		.ret = -EPROTO },
	{ .name = "RSV 0xff, domain",
		.buf = BYTES(0x05, 0x01, 0xff, 0x03, 1, 'a', 0x00, 0x50),
		.ret = -EPROTO },
	{ .name = "version 4",
		.buf = BYTES(0x04, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x50),
		.ret = -EPROTO },
	{ .name = "version 4, one byte",
		.buf = BYTES(0x04),
		.ret = -EPROTO },
	/* domains that can't name a host */
	{ .name = "domain with NUL",
		.buf = BYTES(0x05, 0x01, 0x00, 0x03, 5, 'a', 0x00, 'b', '.', 'c', 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_HOST_UNREACHABLE },
	{ .name = "domain with '/'",
		.buf = BYTES(0x05, 0x01, 0x00, 0x03, 5, 'a', '/', 'b', '.', 'c', 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_HOST_UNREACHABLE },
	{ .name = "domain with ':'", /* would make "host:port" ambiguous */
		.buf = BYTES(0x05, 0x01, 0x00, 0x03, 4, 'a', ':', '8', '0', 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_HOST_UNREACHABLE },
	{ .name = "domain with '+'", /* can't be in a topic level */
		.buf = BYTES(0x05, 0x01, 0x00, 0x03, 3, 'a', '+', 'b', 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_HOST_UNREACHABLE },
	{ .name = "domain with '#'",
		.buf = BYTES(0x05, 0x01, 0x00, 0x03, 3, 'a', '#', 'b', 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_HOST_UNREACHABLE },
	{ .name = "domain with a space",
		.buf = BYTES(0x05, 0x01, 0x00, 0x03, 3, 'a', ' ', 'b', 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_HOST_UNREACHABLE },
	{ .name = "domain with a high byte",
		.buf = BYTES(0x05, 0x01, 0x00, 0x03, 2, 'a', 0xc3, 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_HOST_UNREACHABLE },
	{ .name = "empty domain",
		.buf = BYTES(0x05, 0x01, 0x00, 0x03, 0, 0x00, 0x50),
		.ret = -ENOTSUP, .reply = SOCKS_HOST_UNREACHABLE },
};
/* clang-format on */

static void test_request(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(request_cases); i++) {
		const struct request_case *c = &request_cases[i];
		struct socks_request req;
		enum socks_reply reply = (enum socks_reply)0x77;
		char dst[SOCKS_HOST_MAX + 8];

		int ret = socks_parse_request(c->buf, c->len, &req, &reply);
		if (ret != c->ret)
			print_error("request \"%s\": %d\n", c->name, ret);
		assert_int_equal(ret, c->ret);
		if (ret == -ENOTSUP)
			assert_int_equal(reply, c->reply);
		if (ret <= 0)
			continue;
		assert_int_equal(req.cmd, SOCKS_CMD_CONNECT);
		assert_int_equal(req.atyp, c->atyp);
		assert_string_equal(req.host, c->host);
		assert_int_equal(req.port, c->port);
		assert_int_equal(socks_request_dst(&req, dst, sizeof(dst)), 0);
		assert_string_equal(dst, c->dst);
	}
}

static void test_request_longest_domain(void **state)
{
	static const uint8_t buf[] = { 0x05, 0x01, 0x00, 0x03, 255, D255, 0x00, 0x50 };
	struct socks_request req;
	enum socks_reply reply;
	char dst[SOCKS_HOST_MAX + 8];

	(void)state;
	assert_int_equal(sizeof(buf), 4 + 1 + 255 + 2);
	assert_int_equal(socks_parse_request(buf, sizeof(buf), &req, &reply), sizeof(buf));
	assert_int_equal(strlen(req.host), 255);
	assert_int_equal(req.port, 80);
	assert_int_equal(socks_request_dst(&req, dst, sizeof(dst)), 0);
	assert_int_equal(strlen(dst), 255 + 3);
	for (size_t n = 0; n < sizeof(buf); n++)
		assert_int_equal(socks_parse_request(buf, n, &req, &reply), 0);
}

/* Every strict prefix of a good request needs more bytes, whatever its address type. */
static void test_request_partial(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(request_cases); i++) {
		const struct request_case *c = &request_cases[i];
		struct socks_request req;
		enum socks_reply reply;

		if (c->ret <= 0)
			continue;
		for (size_t n = 0; n < (size_t)c->ret; n++) {
			int ret = socks_parse_request(c->buf, n, &req, &reply);
			if (ret != 0)
				print_error("request \"%s\" cut at %zu: %d\n", c->name, n, ret);
			assert_int_equal(ret, 0);
		}
	}
}

static void test_reply(void **state)
{
	static const enum socks_reply replies[] = {
		SOCKS_SUCCEEDED,
		SOCKS_GENERAL_FAILURE,
		SOCKS_NOT_ALLOWED,
		SOCKS_NET_UNREACHABLE,
		SOCKS_HOST_UNREACHABLE,
		SOCKS_CONN_REFUSED,
		SOCKS_TTL_EXPIRED,
		SOCKS_CMD_NOT_SUPPORTED,
		SOCKS_ATYP_NOT_SUPPORTED,
	};

	(void)state;
	assert_int_equal(SOCKS_REPLY_LEN, 10);
	for (size_t i = 0; i < N_ELEMS(replies); i++) {
		uint8_t buf[SOCKS_REPLY_LEN + 1];
		const uint8_t want[SOCKS_REPLY_LEN] = { 0x05, (uint8_t)replies[i], 0x00, 0x01 };

		memset(buf, 0xaa, sizeof(buf));
		assert_int_equal(socks_build_reply(buf, replies[i]), SOCKS_REPLY_LEN);
		assert_memory_equal(buf, want, SOCKS_REPLY_LEN);
		assert_int_equal(buf[SOCKS_REPLY_LEN], 0xaa); /* nothing past the reply */
	}
}

struct userpass_case {
	const char *name;
	const uint8_t *buf;
	size_t len;
	int ret;
	const char *user, *pass; /* when ret > 0 */
};

static const struct userpass_case userpass_cases[] = {
	{ "alice:s3cret", BYTES(0x01, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', '3', 'c', 'r', 'e', 't'),
		14, "alice", "s3cret" },
	{ "one byte each", BYTES(0x01, 1, 'u', 1, 'p'), 5, "u", "p" },
	{ "request pipelined after it",
		BYTES(0x01, 1, 'u', 1, 'p', 0x05, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x50), 5, "u",
		"p" },
	{ "binary bytes kept as they are",
		BYTES(0x01, 4, 0xff, 0x80, ':', 0x01, 5, ' ', '\n', 0x7f, 0xc3, 0xa9), 12,
		"\xff\x80:\x01", " \n\x7f\xc3\xa9" },
	{ "user with a ':'", BYTES(0x01, 3, 'a', ':', 'b', 1, ':'), 7, "a:b", ":" },
	{ "empty", (const uint8_t *)"", 0, 0, NULL, NULL },
	{ "version only", BYTES(0x01), 0, NULL, NULL },
	{ "no UNAME yet", BYTES(0x01, 5), 0, NULL, NULL },
	{ "UNAME cut short", BYTES(0x01, 5, 'a', 'l', 'i'), 0, NULL, NULL },
	{ "no PLEN yet", BYTES(0x01, 1, 'u'), 0, NULL, NULL },
	{ "no PASSWD yet", BYTES(0x01, 1, 'u', 3), 0, NULL, NULL },
	{ "PASSWD cut short", BYTES(0x01, 1, 'u', 3, 'p', 'w'), 0, NULL, NULL },
	/* broken: closed without a reply */
	{ "SOCKS5 version", BYTES(0x05, 1, 'u', 1, 'p'), -EPROTO, NULL, NULL },
	{ "version 0", BYTES(0x00, 1, 'u', 1, 'p'), -EPROTO, NULL, NULL },
	{ "version 2", BYTES(0x02, 1, 'u', 1, 'p'), -EPROTO, NULL, NULL },
	{ "wrong version, one byte", BYTES(0x05), -EPROTO, NULL, NULL },
	{ "SOCKS5 request instead", BYTES(0x05, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x50), -EPROTO,
		NULL, NULL },
	{ "ULEN 0", BYTES(0x01, 0, 1, 'p'), -EPROTO, NULL, NULL },
	{ "ULEN 0, as soon as it is known", BYTES(0x01, 0), -EPROTO, NULL, NULL },
	{ "PLEN 0", BYTES(0x01, 1, 'u', 0), -EPROTO, NULL, NULL },
	{ "PLEN 0, more bytes after it", BYTES(0x01, 1, 'u', 0, 'p'), -EPROTO, NULL, NULL },
	{ "both empty", BYTES(0x01, 0, 0), -EPROTO, NULL, NULL },
	/* well formed, but no string can hold it: a failure status */
	{ "NUL in UNAME", BYTES(0x01, 7, 'a', 'l', 'i', 'c', 'e', 0x00, 'x', 1, 'p'), -EINVAL, NULL,
		NULL },
	{ "UNAME is a NUL", BYTES(0x01, 1, 0x00, 1, 'p'), -EINVAL, NULL, NULL },
	{ "NUL in PASSWD", BYTES(0x01, 1, 'u', 3, 'p', 0x00, 'w'), -EINVAL, NULL, NULL },
	{ "PASSWD ends in NUL", BYTES(0x01, 1, 'u', 2, 'p', 0x00), -EINVAL, NULL, NULL },
};

static void test_userpass(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(userpass_cases); i++) {
		const struct userpass_case *c = &userpass_cases[i];
		char user[SOCKS_USERPASS_FIELD_MAX + 1], pass[SOCKS_USERPASS_FIELD_MAX + 1];

		int ret = socks_parse_userpass(
			c->buf, c->len, user, sizeof(user), pass, sizeof(pass));
		if (ret != c->ret)
			print_error("userpass \"%s\": %d\n", c->name, ret);
		assert_int_equal(ret, c->ret);
		if (ret <= 0)
			continue;
		assert_string_equal(user, c->user);
		assert_string_equal(pass, c->pass);
	}
}

/* Every strict prefix of a good request needs more bytes. */
static void test_userpass_partial(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(userpass_cases); i++) {
		const struct userpass_case *c = &userpass_cases[i];
		char user[SOCKS_USERPASS_FIELD_MAX + 1], pass[SOCKS_USERPASS_FIELD_MAX + 1];

		if (c->ret <= 0)
			continue;
		for (size_t n = 0; n < (size_t)c->ret; n++) {
			int ret = socks_parse_userpass(
				c->buf, n, user, sizeof(user), pass, sizeof(pass));
			if (ret != 0)
				print_error("userpass \"%s\" cut at %zu: %d\n", c->name, n, ret);
			assert_int_equal(ret, 0);
		}
	}
}

/* ULEN = PLEN = 255, the most RFC 1929 allows: fits a SOCKS_USERPASS_FIELD_MAX + 1 buffer. */
static void test_userpass_longest(void **state)
{
	static const uint8_t buf[] = { 0x01, 255, D255, 255, D255 };
	char user[SOCKS_USERPASS_FIELD_MAX + 1], pass[SOCKS_USERPASS_FIELD_MAX + 1];

	(void)state;
	assert_int_equal(sizeof(buf), 1 + 1 + 255 + 1 + 255);
	int ret = socks_parse_userpass(buf, sizeof(buf), user, sizeof(user), pass, sizeof(pass));
	assert_int_equal(ret, sizeof(buf));
	assert_int_equal(strlen(user), 255);
	assert_int_equal(strlen(pass), 255);
	assert_memory_equal(user, buf + 2, 255);
	assert_memory_equal(pass, buf + 2 + 255 + 1, 255);
	for (size_t n = 0; n < sizeof(buf); n++) {
		ret = socks_parse_userpass(buf, n, user, sizeof(user), pass, sizeof(pass));
		assert_int_equal(ret, 0);
	}
}

/* The caller's buffers bound what is copied: exactly enough room, then one byte short. */
static void test_userpass_room(void **state)
{
	static const uint8_t buf[] = { 0x01, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', '3', 'c', 'r', 'e',
		't' };
	char user[8], pass[8];

	(void)state;
	memset(user, 0xaa, sizeof(user));
	memset(pass, 0xaa, sizeof(pass));
	assert_int_equal(socks_parse_userpass(buf, sizeof(buf), user, 6, pass, 7), sizeof(buf));
	assert_string_equal(user, "alice");
	assert_string_equal(pass, "s3cret");
	assert_int_equal((uint8_t)user[6], 0xaa); /* nothing past the room given */
	assert_int_equal((uint8_t)pass[7], 0xaa);
	assert_int_equal(socks_parse_userpass(buf, sizeof(buf), user, 5, pass, 7), -ENAMETOOLONG);
	assert_int_equal(socks_parse_userpass(buf, sizeof(buf), user, 6, pass, 6), -ENAMETOOLONG);
	assert_int_equal(socks_parse_userpass(buf, sizeof(buf), user, 0, pass, 0), -ENAMETOOLONG);
}

static void test_userpass_reply(void **state)
{
	uint8_t buf[SOCKS_USERPASS_REPLY_LEN + 1];

	(void)state;
	assert_int_equal(SOCKS_USERPASS_REPLY_LEN, 2);
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(socks_build_userpass_reply(buf, true), 2);
	assert_memory_equal(buf, ((const uint8_t[]){ 0x01, 0x00, 0xaa }), 3);
	assert_int_equal(socks_build_userpass_reply(buf, false), 2);
	assert_memory_equal(buf, ((const uint8_t[]){ 0x01, 0x01, 0xaa }), 3);
}

struct dst_case {
	struct socks_request req;
	const char *want;
};

static const struct dst_case dst_cases[] = {
	{ { SOCKS_CMD_CONNECT, SOCKS_ATYP_IPV4, "1.2.3.4", 80 }, "1.2.3.4:80" },
	{ { SOCKS_CMD_CONNECT, SOCKS_ATYP_IPV6, "::1", 80 }, "[::1]:80" },
	{ { SOCKS_CMD_CONNECT, SOCKS_ATYP_IPV6, "2001:db8::1", 65535 }, "[2001:db8::1]:65535" },
	{ { SOCKS_CMD_CONNECT, SOCKS_ATYP_DOMAIN, "example.org", 443 }, "example.org:443" },
	{ { SOCKS_CMD_CONNECT, SOCKS_ATYP_DOMAIN, "h", 0 }, "h:0" },
};

static void test_request_dst(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(dst_cases); i++) {
		const struct dst_case *c = &dst_cases[i];
		char buf[SOCKS_HOST_MAX + 8];

		assert_int_equal(socks_request_dst(&c->req, buf, sizeof(buf)), 0);
		assert_string_equal(buf, c->want);
		/* exactly enough room, then one byte short */
		assert_int_equal(socks_request_dst(&c->req, buf, strlen(c->want) + 1), 0);
		assert_string_equal(buf, c->want);
		assert_int_equal(socks_request_dst(&c->req, buf, strlen(c->want)), -ENAMETOOLONG);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting),
		cmocka_unit_test(test_greeting_partial),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_request_longest_domain),
		cmocka_unit_test(test_request_partial),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_request_dst),
		cmocka_unit_test(test_userpass),
		cmocka_unit_test(test_userpass_partial),
		cmocka_unit_test(test_userpass_longest),
		cmocka_unit_test(test_userpass_room),
		cmocka_unit_test(test_userpass_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
