/* The SOCKS5 server handshake (RFC 1928 greeting and request, RFC 1929 credentials) as a state
 * machine over the bytes a client sends; the caller owns the socket. */
#ifndef N4M_SOCKS_HANDSHAKE_H
#define N4M_SOCKS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "socks.h"

#define SOCKS_HANDSHAKE_BUF                                                                        \
	600 /* greeting (257) + request (262), or the RFC 1929 request (513) alone */
#define SOCKS_WHY_MAX (4 * SOCKS_USERPASS_FIELD_MAX + 64) /* a refusal, with the user name shown */

/* What a server requires: an empty user means no authentication. Each field
 * is compared whole, in a time that does not depend on what it holds. */
struct socks_credentials {
	char user[SOCKS_USERPASS_FIELD_MAX + 1], pass[SOCKS_USERPASS_FIELD_MAX + 1];
};

struct socks_handshake_ops {
	/* writes a reply to the client; false if it could not (the client is gone) */
	bool (*send)(void *arg, const uint8_t *p, size_t n);
	/* the request is complete, and the rest is the caller's (its reply, the
	 * connection); early holds what the client sent after it. The handshake
	 * is not touched again: the caller may free it here. */
	void (*request)(
		void *arg, const struct socks_request *req, const uint8_t *early, size_t n_early);
};

enum socks_handshake_result {
	SOCKS_HANDSHAKE_WAIT, /* more bytes needed */
	SOCKS_HANDSHAKE_DONE, /* the request went to ops->request */
	SOCKS_HANDSHAKE_REFUSED, /* close: *why says why (the reply the RFCs ask for, if any, was sent) */
	SOCKS_HANDSHAKE_GONE, /* close, nothing to say: a reply could not be sent, or far more than a
				    handshake arrived */
};

enum socks_handshake_state { SOCKS_HS_GREETING, SOCKS_HS_AUTH, SOCKS_HS_REQUEST };

struct socks_handshake {
	const struct socks_credentials *auth;
	const struct socks_handshake_ops *ops;
	void *arg;
	enum socks_handshake_state state;
	uint8_t buf[SOCKS_HANDSHAKE_BUF]; /* received, not yet consumed */
	size_t used;
	char why[SOCKS_WHY_MAX];
};

/* auth NULL (or an empty user): the client may go without authentication;
 * otherwise it must offer username/password and give these. */
void socks_handshake_init(struct socks_handshake *h, const struct socks_credentials *auth,
	const struct socks_handshake_ops *ops, void *arg);
/* Bytes from the client; runs every state they complete. *why is set for REFUSED. */
enum socks_handshake_result socks_handshake_input(
	struct socks_handshake *h, const uint8_t *p, size_t n, const char **why);
/* Wipes what the buffer held: it may hold a password. */
void socks_handshake_clear(struct socks_handshake *h);

/* Equal or not, in a time that says nothing about where they differ or how
 * long either is: all SOCKS_USERPASS_FIELD_MAX + 1 bytes of both are read. */
bool socks_secret_equal(const char got[static SOCKS_USERPASS_FIELD_MAX + 1],
	const char want[static SOCKS_USERPASS_FIELD_MAX + 1]);

#endif
