/* libFuzzer target of socks/: greeting, credentials and request on any bytes and every prefix, and the handshake machine fed them in pieces. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "socks/handshake.h"
#include "socks/socks.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* Longest messages: a greeting of 255 methods, a request with a 255-byte name,
 * credentials of 255 bytes each. */
#define GREETING_MAX (2 + 255)
#define REQUEST_MAX (4 + 1 + 255 + 2)
#define USERPASS_MAX (3 + 2 * SOCKS_USERPASS_FIELD_MAX)
#define USER_SIZE 32 /* the buffers of the credentials: some fit, some do not */
#define PASS_SIZE 64

/* An exact heap copy of the first n bytes: ASan sees any read past them. */
static uint8_t *copy_exact(const uint8_t *data, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);

	check(b);
	memcpy(b, data, n);
	return b;
}

static int greeting(const uint8_t *data, size_t n, uint32_t *offers)
{
	uint8_t *b = copy_exact(data, n);
	int ret = socks_parse_greeting(b, n, offers);

	free(b);
	return ret;
}

static void check_greeting(const uint8_t *data, size_t size)
{
	uint32_t offers = 0xdeadbeef, want = 0;
	int ret = greeting(data, size, &offers), prev = 0;

	check(ret >= 0 || ret == -EPROTO);
	if (ret > 0) {
		check((size_t)ret <= size && (size_t)ret == 2 + (size_t)data[1]);
		check(data[0] == SOCKS_VERSION && data[1] > 0);
		for (int i = 2; i < ret; i++)
			if (data[i] < 32)
				want |= 1u << data[i];
		check(offers == want);
	} else if (ret == -EPROTO) {
		check(data[0] != SOCKS_VERSION || (size >= 2 && data[1] == 0));
	} else {
		check(size < 2 || size < 2 + (size_t)data[1]);
	}
	/* a prefix needs more, or already has the whole answer */
	for (size_t n = 0; n <= size && n <= GREETING_MAX + 1; n++) {
		int r = greeting(data, n, &offers);

		check(r == 0 || r == ret);
		check(!prev || r == prev); /* once decided, more bytes change nothing */
		prev = r;
	}
}

static int request(
	const uint8_t *data, size_t n, struct socks_request *req, enum socks_reply *reply)
{
	uint8_t *b = copy_exact(data, n);
	int ret;

	memset(req, 0xa5, sizeof(*req));
	*reply = (enum socks_reply)0x7f;
	ret = socks_parse_request(b, n, req, reply);
	free(b);
	return ret;
}

static bool domain_ok(const uint8_t *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum(p[i]) && p[i] != '-' && p[i] != '.' && p[i] != '_')
			return false;
	return true;
}

/* The address as the request carries it; false if it is not one we parse. */
static bool host_matches(const struct socks_request *req, const uint8_t *a)
{
	uint8_t bin[16];

	switch (req->atyp) {
	case SOCKS_ATYP_IPV4:
		return inet_pton(AF_INET, req->host, bin) == 1 && !memcmp(bin, a, 4);
	case SOCKS_ATYP_IPV6:
		return inet_pton(AF_INET6, req->host, bin) == 1 && !memcmp(bin, a, 16);
	case SOCKS_ATYP_DOMAIN:
		return strlen(req->host) == a[0] && !memcmp(req->host, a + 1, a[0]);
	}
	return false;
}

static void check_dst(const struct socks_request *req)
{
	char *buf;
	int n;

	/* first measure, then into buffers of exactly the size and one byte less */
	buf = malloc(SOCKS_HOST_MAX + 16);
	check(buf && socks_request_dst(req, buf, SOCKS_HOST_MAX + 16) == 0);
	n = (int)strlen(buf);
	check(strstr(buf, req->host));
	free(buf);
	buf = malloc((size_t)n + 1);
	check(buf && socks_request_dst(req, buf, (size_t)n + 1) == 0);
	check(socks_request_dst(req, buf, (size_t)n) == -ENAMETOOLONG);
	free(buf);
}

static void check_request(const uint8_t *data, size_t size)
{
	struct socks_request req, r2;
	enum socks_reply reply, reply2;
	int ret = request(data, size, &req, &reply), prev = 0;

	check(ret >= 0 || ret == -EPROTO || ret == -ENOTSUP);
	if (ret > 0) {
		check((size_t)ret <= size);
		check(data[0] == SOCKS_VERSION && data[1] == SOCKS_CMD_CONNECT && data[2] == 0);
		check(req.cmd == SOCKS_CMD_CONNECT && req.atyp == data[3]);
		check(memchr(req.host, '\0', sizeof(req.host)));
		check(host_matches(&req, data + 4));
		check(req.port == (data[ret - 2] << 8 | data[ret - 1]));
		check(req.atyp != SOCKS_ATYP_DOMAIN || domain_ok(data + 5, data[4]));
		check_dst(&req);
	} else if (ret == -ENOTSUP) {
		check(reply == SOCKS_ATYP_NOT_SUPPORTED || reply == SOCKS_HOST_UNREACHABLE ||
			reply == SOCKS_CMD_NOT_SUPPORTED);
		if (reply == SOCKS_CMD_NOT_SUPPORTED)
			check(memchr(req.host, '\0', sizeof(req.host)) && data[1] != 1);
	} else if (ret == -EPROTO) {
		check(size >= 1);
	}
	/* every prefix: "need more", or the same verdict (and reply) as the whole */
	for (size_t n = 0; n <= size && n <= REQUEST_MAX + 1; n++) {
		int r = request(data, n, &r2, &reply2);

		check(r == 0 || r == ret);
		check(r != -ENOTSUP || reply2 == reply);
		check(!prev || r == prev);
		prev = r;
	}
}

struct creds {
	char *user, *pass; /* exactly USER_SIZE and PASS_SIZE bytes */
};

static int userpass(const uint8_t *data, size_t n, struct creds *c)
{
	uint8_t *b = copy_exact(data, n);
	int ret;

	memset(c->user, 0xa5, USER_SIZE);
	memset(c->pass, 0xa5, PASS_SIZE);
	ret = socks_parse_userpass(b, n, c->user, USER_SIZE, c->pass, PASS_SIZE);
	free(b);
	return ret;
}

/* A field as the string it must come out as: -EINVAL with a NUL in it,
 * -ENAMETOOLONG without room for it and its NUL. */
static int field_err(const uint8_t *p, size_t n, size_t size)
{
	if (memchr(p, '\0', n))
		return -EINVAL;
	return n >= size ? -ENAMETOOLONG : 0;
}

/* RFC 1929, 2: VER ULEN UNAME PLEN PASSWD, as socks.h words it. */
static int model_userpass(const uint8_t *b, size_t len)
{
	size_t un, pn;
	int ue, pe;

	if (len < 1)
		return 0;
	if (b[0] != SOCKS_USERPASS_VERSION)
		return -EPROTO;
	if (len < 2)
		return 0;
	un = b[1];
	if (!un)
		return -EPROTO;
	if (len < 3 + un)
		return 0;
	pn = b[2 + un];
	if (!pn)
		return -EPROTO;
	if (len < 3 + un + pn)
		return 0;
	ue = field_err(b + 2, un, USER_SIZE);
	pe = field_err(b + 3 + un, pn, PASS_SIZE);
	return ue ? ue : pe ? pe : (int)(3 + un + pn);
}

static void check_userpass(const uint8_t *data, size_t size)
{
	struct creds c = { malloc(USER_SIZE), malloc(PASS_SIZE) };
	int ret, want = model_userpass(data, size), prev = 0;

	check(c.user && c.pass);
	ret = userpass(data, size, &c);
	if (want == -EINVAL || want == -ENAMETOOLONG) {
		/* which field is looked at first is not said: either one's error */
		size_t un = data[1], pn = data[2 + un];

		check(ret == field_err(data + 2, un, USER_SIZE) ||
			ret == field_err(data + 3 + un, pn, PASS_SIZE));
		check(ret == -EINVAL || ret == -ENAMETOOLONG);
	} else {
		check(ret == want);
	}
	if (ret > 0) {
		size_t un = data[1], pn = data[2 + un];

		check((size_t)ret <= size);
		check(strlen(c.user) == un && !memcmp(c.user, data + 2, un));
		check(strlen(c.pass) == pn && !memcmp(c.pass, data + 3 + un, pn));
	}
	for (size_t n = 0; n <= size && n <= USERPASS_MAX + 1; n++) {
		int r = userpass(data, n, &c);

		check(r == 0 || r == ret);
		check(!prev || r == prev);
		prev = r;
	}
	free(c.pass);
	free(c.user);
}

static void check_reply(uint8_t code)
{
	uint8_t *b = malloc(SOCKS_REPLY_LEN);

	check(b && socks_build_reply(b, (enum socks_reply)code) == SOCKS_REPLY_LEN);
	check(b[0] == SOCKS_VERSION && b[1] == code && b[2] == 0 && b[3] == SOCKS_ATYP_IPV4);
	for (int i = 4; i < SOCKS_REPLY_LEN; i++)
		check(b[i] == 0);
	free(b);
	b = malloc(SOCKS_USERPASS_REPLY_LEN);
	check(b && socks_build_userpass_reply(b, code & 1) == SOCKS_USERPASS_REPLY_LEN);
	check(b[0] == SOCKS_USERPASS_VERSION);
	check(b[1] == (code & 1 ? SOCKS_USERPASS_SUCCESS : SOCKS_USERPASS_FAILURE));
	free(b);
}

/* What the handshake machine did to its client. */
struct hs_client {
	size_t sent;
	int requests;
};

static bool hs_send(void *arg, const uint8_t *p, size_t n)
{
	struct hs_client *c = arg;

	check(n == 2 || n == SOCKS_USERPASS_REPLY_LEN || n == SOCKS_REPLY_LEN);
	check(p[0] == SOCKS_VERSION || p[0] == SOCKS_USERPASS_VERSION);
	c->sent += n;
	return true;
}

static void hs_request(void *arg, const struct socks_request *req, const uint8_t *early, size_t n)
{
	struct hs_client *c = arg;

	check(req->cmd == SOCKS_CMD_CONNECT && memchr(req->host, '\0', sizeof(req->host)));
	check(n < SOCKS_HANDSHAKE_BUF && (n == 0 || early));
	c->requests++;
}

/* The bytes fed in pieces whose sizes the first byte picks: WAIT until one
 * end, then nothing more is fed; a request is handed over at most once. */
static void check_handshake(const uint8_t *data, size_t size, bool auth)
{
	static const struct socks_handshake_ops ops = { hs_send, hs_request };
	static const struct socks_credentials creds = { "user", "pass" };
	struct socks_handshake *h = malloc(sizeof(*h));
	struct hs_client c = { 0, 0 };
	enum socks_handshake_result r = SOCKS_HANDSHAKE_WAIT;
	size_t step = size ? 1 + data[0] % 16 : 1;
	const char *why = NULL;

	check(h);
	socks_handshake_init(h, auth ? &creds : NULL, &ops, &c);
	for (size_t off = 0; off < size && r == SOCKS_HANDSHAKE_WAIT; off += step) {
		size_t n = size - off < step ? size - off : step;
		uint8_t *piece = copy_exact(data + off, n);
		r = socks_handshake_input(h, piece, n, &why);
		free(piece);
	}
	check(c.requests == (r == SOCKS_HANDSHAKE_DONE));
	check(r != SOCKS_HANDSHAKE_REFUSED || (why && *why));
	check(c.sent <= 2 + SOCKS_USERPASS_REPLY_LEN + SOCKS_REPLY_LEN);
	socks_handshake_clear(h);
	free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t offers;
	int n;

	check_greeting(data, size);
	check_request(data, size);
	check_userpass(data, size);
	check_handshake(data, size, false);
	check_handshake(data, size, true);
	/* as a server reads them: the credentials or the request after the greeting */
	n = greeting(data, size, &offers);
	if (n > 0 && offers & 1u << SOCKS_METHOD_USERPASS) {
		int m;
		struct creds c = { malloc(USER_SIZE), malloc(PASS_SIZE) };

		check(c.user && c.pass);
		check_userpass(data + n, size - (size_t)n);
		m = userpass(data + n, size - (size_t)n, &c);
		if (m > 0)
			check_request(data + n + m, size - (size_t)n - (size_t)m);
		free(c.pass);
		free(c.user);
	} else if (n > 0) {
		check_request(data + n, size - (size_t)n);
	}
	if (size)
		check_reply(data[size - 1]);
	return 0;
}
