/* SOCKS5 server protocol (RFC 1928, RFC 1929): greeting, username/password, request and reply
 * codecs over buffers. */
#include "socks.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int socks_parse_greeting(const uint8_t *buf, size_t len, uint32_t *offers)
{
	if (len < 2)
		return len && buf[0] != SOCKS_VERSION ? -EPROTO : 0;
	if (buf[0] != SOCKS_VERSION || buf[1] == 0)
		return -EPROTO;
	size_t n = 2 + (size_t)buf[1];
	if (len < n)
		return 0;
	*offers = 0;
	for (size_t i = 2; i < n; i++)
		if (buf[i] < 32)
			*offers |= 1u << buf[i];
	return (int)n;
}

/* One length-prefixed field of RFC 1929, 2 (ULEN UNAME or PLEN PASSWD) into a string. */
static int copy_field(const uint8_t *p, size_t n, char *out, size_t size)
{
	if (memchr(p, '\0', n))
		return -EINVAL; /* would end the string early: "alice\0x" is not "alice" */
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int socks_parse_userpass(
	const uint8_t *buf, size_t len, char *user, size_t ulen, char *pass, size_t plen)
{
	if (len < 1)
		return 0;
	if (buf[0] != SOCKS_USERPASS_VERSION)
		return -EPROTO;
	if (len < 2)
		return 0;
	size_t un = buf[1], at_plen = 2 + un;
	if (un == 0)
		return -EPROTO;
	if (len <= at_plen)
		return 0;
	size_t pn = buf[at_plen], need = at_plen + 1 + pn;
	if (pn == 0)
		return -EPROTO;
	if (len < need)
		return 0;
	int err = copy_field(buf + 2, un, user, ulen);
	if (!err)
		err = copy_field(buf + at_plen + 1, pn, pass, plen);
	return err ? err : (int)need;
}

size_t socks_build_userpass_reply(uint8_t out[SOCKS_USERPASS_REPLY_LEN], bool ok)
{
	out[0] = SOCKS_USERPASS_VERSION;
	out[1] = ok ? SOCKS_USERPASS_SUCCESS : SOCKS_USERPASS_FAILURE;
	return SOCKS_USERPASS_REPLY_LEN;
}

static int parse_domain(const uint8_t *p, size_t n, char *host)
{
	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int c = p[i];
		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return -EINVAL;
	}
	memcpy(host, p, n);
	host[n] = '\0';
	return 0;
}

int socks_parse_request(
	const uint8_t *buf, size_t len, struct socks_request *req, enum socks_reply *reply)
{
	size_t need;

	if (len >= 1 && buf[0] != SOCKS_VERSION)
		return -EPROTO;
	if (len < 5)
		return 0;
	req->cmd = buf[1];
	req->atyp = buf[3];
	switch (req->atyp) {
	case SOCKS_ATYP_IPV4:
		need = 4 + 4 + 2;
		break;
	case SOCKS_ATYP_IPV6:
		need = 4 + 16 + 2;
		break;
	case SOCKS_ATYP_DOMAIN:
		need = 4 + 1 + (size_t)buf[4] + 2;
		break;
	default:
		*reply = SOCKS_ATYP_NOT_SUPPORTED;
		return -ENOTSUP;
	}
	if (len < need)
		return 0;
	const uint8_t *a = buf + 4;
	switch (req->atyp) {
	case SOCKS_ATYP_IPV4:
		inet_ntop(AF_INET, a, req->host, sizeof(req->host));
		break;
	case SOCKS_ATYP_IPV6:
		inet_ntop(AF_INET6, a, req->host, sizeof(req->host));
		break;
	case SOCKS_ATYP_DOMAIN:
		if (parse_domain(a + 1, a[0], req->host)) {
			*reply = SOCKS_HOST_UNREACHABLE;
			return -ENOTSUP;
		}
		break;
	}
	req->port = (uint16_t)(buf[need - 2] << 8 | buf[need - 1]);
	if (buf[2] != 0x00)
		return -EPROTO;
	if (req->cmd != SOCKS_CMD_CONNECT) {
		*reply = SOCKS_CMD_NOT_SUPPORTED;
		return -ENOTSUP;
	}
	return (int)need;
}

size_t socks_build_reply(uint8_t *buf, enum socks_reply reply)
{
	memset(buf, 0, SOCKS_REPLY_LEN);
	buf[0] = SOCKS_VERSION;
	buf[1] = (uint8_t)reply;
	buf[3] = SOCKS_ATYP_IPV4;
	return SOCKS_REPLY_LEN;
}

int socks_request_dst(const struct socks_request *req, char *buf, size_t len)
{
	const char *fmt = req->atyp == SOCKS_ATYP_IPV6 ? "[%s]:%u" : "%s:%u";
	int n = snprintf(buf, len, fmt, req->host, req->port);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
