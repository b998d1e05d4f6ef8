/* The SOCKS5 server handshake (RFC 1928 greeting and request, RFC 1929 credentials) as a state
 * machine over the bytes a client sends; the caller owns the socket. */
#include "handshake.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* What one state made of the bytes at hand. */
enum step {
	STEP_WAIT,    /* needs more bytes */
	STEP_NEXT,    /* moved to the next state: run it on what is left */
	STEP_REFUSED, /* h->why says why */
	STEP_GONE,
	STEP_DONE, /* handed over: h is the caller's again */
};

void socks_handshake_init(struct socks_handshake *h, const struct socks_credentials *auth,
	const struct socks_handshake_ops *ops, void *arg)
{
	memset(h, 0, sizeof(*h));
	h->auth = auth && auth->user[0] ? auth : NULL;
	h->ops = ops;
	h->arg = arg;
	h->state = SOCKS_HS_GREETING;
}

void socks_handshake_clear(struct socks_handshake *h)
{
	explicit_bzero(h->buf, sizeof(h->buf));
	h->used = 0;
}

static enum step refuse(struct socks_handshake *h, const char *why)
{
	snprintf(h->why, sizeof(h->why), "%s", why);
	return STEP_REFUSED;
}

static void consume(struct socks_handshake *h, size_t n)
{
	memmove(h->buf, h->buf + n, h->used - n);
	h->used -= n;
	explicit_bzero(h->buf + h->used, n); /* what moved down may have been a password */
}

/* RFC 1928, 3: the one method this server takes, if the client offers it. */
static uint8_t pick_method(const struct socks_handshake *h, uint32_t offers)
{
	uint8_t m = h->auth ? SOCKS_METHOD_USERPASS : SOCKS_METHOD_NO_AUTH;

	return offers & (1u << m) ? m : SOCKS_METHOD_UNACCEPTABLE;
}

static enum step on_greeting(struct socks_handshake *h)
{
	uint32_t offers;
	int r = socks_parse_greeting(h->buf, h->used, &offers);

	if (r == 0)
		return STEP_WAIT;
	if (r < 0)
		return refuse(h, "not SOCKS5");
	uint8_t method = pick_method(h, offers);
	uint8_t reply[2] = { SOCKS_VERSION, method };
	if (method == SOCKS_METHOD_UNACCEPTABLE) {
		h->ops->send(h->arg, reply, sizeof(reply));
		return refuse(h, h->auth ? "no username/password offered" : "no usable method");
	}
	if (!h->ops->send(h->arg, reply, sizeof(reply)))
		return STEP_GONE;
	consume(h, (size_t)r);
	h->state = method == SOCKS_METHOD_USERPASS ? SOCKS_HS_AUTH : SOCKS_HS_REQUEST;
	return STEP_NEXT;
}

bool socks_secret_equal(const char got[static SOCKS_USERPASS_FIELD_MAX + 1],
	const char want[static SOCKS_USERPASS_FIELD_MAX + 1])
{
	unsigned diff = 0, got_end = 0, want_end = 0;

	/* past a string's end only its length counts: the two ends must be at the same place */
	for (size_t i = 0; i <= SOCKS_USERPASS_FIELD_MAX; i++) {
		got_end |= got[i] == '\0';
		want_end |= want[i] == '\0';
		unsigned live = (got_end & want_end) - 1; /* all ones until both have ended */
		diff |= (got_end ^ want_end) | ((unsigned)(uint8_t)(got[i] ^ want[i]) & live);
	}
	return diff == 0;
}

static bool credentials_ok(const struct socks_credentials *auth,
	const char user[static SOCKS_USERPASS_FIELD_MAX + 1],
	const char pass[static SOCKS_USERPASS_FIELD_MAX + 1])
{
	/* both compared whatever the first says, so the time doesn't tell which was wrong */
	bool user_ok = socks_secret_equal(user, auth->user);
	bool pass_ok = socks_secret_equal(pass, auth->pass);

	return user_ok && pass_ok;
}

/* A user name as a log line may show it: printable ASCII as is, other bytes as \xNN. */
static void user_shown(const char *user, char *out, size_t size)
{
	size_t o = 0;

	for (const uint8_t *p = (const uint8_t *)user; *p && o + 5 <= size; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", *p);
	}
	out[o] = '\0';
}

/* RFC 1929: the credentials the client sent, against the ones required. */
static enum step on_auth(struct socks_handshake *h)
{
	char user[SOCKS_USERPASS_FIELD_MAX + 1] = "", pass[SOCKS_USERPASS_FIELD_MAX + 1] = "";
	char shown[4 * SOCKS_USERPASS_FIELD_MAX + 1];
	uint8_t reply[SOCKS_USERPASS_REPLY_LEN];

	int r = socks_parse_userpass(h->buf, h->used, user, sizeof(user), pass, sizeof(pass));
	if (r == 0)
		return STEP_WAIT;
	if (r == -EPROTO)
		return refuse(h, "malformed username/password request");
	bool ok = r > 0 && credentials_ok(h->auth, user, pass);
	explicit_bzero(pass, sizeof(pass));
	size_t n = socks_build_userpass_reply(reply, ok);
	if (!ok) {
		/* RFC 1929, 2: after a failure status the server MUST close */
		h->ops->send(h->arg, reply, n);
		user_shown(user, shown, sizeof(shown));
		snprintf(h->why, sizeof(h->why), "%s for user \"%s\"",
			r == -EINVAL ? "a NUL byte in the username or password"
				     : "wrong username or password",
			shown);
		return STEP_REFUSED;
	}
	if (!h->ops->send(h->arg, reply, n))
		return STEP_GONE;
	consume(h, (size_t)r);
	h->state = SOCKS_HS_REQUEST;
	return STEP_NEXT;
}

static enum step on_request(struct socks_handshake *h)
{
	struct socks_request req;
	enum socks_reply rep = SOCKS_GENERAL_FAILURE;
	int r = socks_parse_request(h->buf, h->used, &req, &rep);

	if (r == 0)
		return STEP_WAIT;
	if (r == -ENOTSUP) {
		uint8_t reply[SOCKS_REPLY_LEN];
		h->ops->send(h->arg, reply, socks_build_reply(reply, rep));
		return refuse(h, "unsupported request");
	}
	if (r < 0)
		return refuse(h, "malformed request");
	consume(h, (size_t)r);
	h->ops->request(h->arg, &req, h->buf, h->used); /* may free h */
	return STEP_DONE;
}

static enum step (*const states[])(struct socks_handshake *) = {
	[SOCKS_HS_GREETING] = on_greeting,
	[SOCKS_HS_AUTH] = on_auth,
	[SOCKS_HS_REQUEST] = on_request,
};

enum socks_handshake_result socks_handshake_input(
	struct socks_handshake *h, const uint8_t *p, size_t n, const char **why)
{
	enum step step;

	if (n >= sizeof(h->buf) - h->used)
		return SOCKS_HANDSHAKE_GONE; /* far more than a handshake */
	memcpy(h->buf + h->used, p, n);
	h->used += n;
	/* each state only moves forward, so this runs at most once per state */
	do
		step = states[h->state](h);
	while (step == STEP_NEXT);
	switch (step) {
	case STEP_WAIT:
		return SOCKS_HANDSHAKE_WAIT;
	case STEP_DONE:
		return SOCKS_HANDSHAKE_DONE;
	case STEP_REFUSED:
		*why = h->why;
		return SOCKS_HANDSHAKE_REFUSED;
	default:
		return SOCKS_HANDSHAKE_GONE;
	}
}
