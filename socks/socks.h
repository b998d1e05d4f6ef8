/* SOCKS5 server protocol (RFC 1928, RFC 1929): greeting, username/password, request and reply
 * codecs over buffers. */
#ifndef N4M_SOCKS_H
#define N4M_SOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SOCKS_VERSION 0x05
#define SOCKS_HOST_MAX 256
#define SOCKS_REPLY_LEN 10 /* VER REP RSV ATYP=1 0.0.0.0 0 */

enum socks_method { /* RFC 1928, 3 */
	SOCKS_METHOD_NO_AUTH = 0x00,
	SOCKS_METHOD_USERPASS = 0x02,
	SOCKS_METHOD_UNACCEPTABLE = 0xff,
};

enum socks_cmd { /* RFC 1928, 4 */
	SOCKS_CMD_CONNECT = 0x01,
	SOCKS_CMD_BIND = 0x02,
	SOCKS_CMD_UDP_ASSOCIATE = 0x03,
};

enum socks_atyp { /* RFC 1928, 5 */
	SOCKS_ATYP_IPV4 = 0x01,
	SOCKS_ATYP_DOMAIN = 0x03,
	SOCKS_ATYP_IPV6 = 0x04,
};

enum socks_reply { /* RFC 1928, 6 */
	SOCKS_SUCCEEDED = 0x00,
	SOCKS_GENERAL_FAILURE = 0x01,
	SOCKS_NOT_ALLOWED = 0x02,
	SOCKS_NET_UNREACHABLE = 0x03,
	SOCKS_HOST_UNREACHABLE = 0x04,
	SOCKS_CONN_REFUSED = 0x05,
	SOCKS_TTL_EXPIRED = 0x06,
	SOCKS_CMD_NOT_SUPPORTED = 0x07,
	SOCKS_ATYP_NOT_SUPPORTED = 0x08,
};

/* RFC 1929, 2: the username/password sub-negotiation, after method 0x02 is selected */
#define SOCKS_USERPASS_VERSION 0x01  /* "the current version of the subnegotiation" */
#define SOCKS_USERPASS_FIELD_MAX 255 /* UNAME and PASSWD: 1 to 255 bytes each */
#define SOCKS_USERPASS_REPLY_LEN 2   /* VER STATUS */

enum socks_userpass_status { /* RFC 1929, 2: any STATUS but 0x00 is a failure */
	SOCKS_USERPASS_SUCCESS = 0x00,
	SOCKS_USERPASS_FAILURE = 0x01,
};

struct socks_request {
	uint8_t cmd;
	uint8_t atyp;
	char host[SOCKS_HOST_MAX]; /* dotted IPv4, textual IPv6 or the domain name */
	uint16_t port;
};

/* The client's method offer. Returns bytes consumed (> 0), 0 when more bytes
 * are needed, -EPROTO for a wrong version or no methods. *offers gets bit
 * (1 << method) for each of methods 0..31 offered. */
int socks_parse_greeting(const uint8_t *buf, size_t len, uint32_t *offers);

/* The request. Returns bytes consumed (> 0), 0 when more are needed;
 * -EPROTO for a broken request (close without reply); -ENOTSUP when the
 * request is well formed but can't be served, with *reply saying why. */
int socks_parse_request(
	const uint8_t *buf, size_t len, struct socks_request *req, enum socks_reply *reply);

/* The username/password request (VER ULEN UNAME PLEN PASSWD). Returns bytes
 * consumed (> 0) with UNAME and PASSWD copied to user and pass as strings,
 * 0 when more bytes are needed, -EPROTO for a wrong version or an empty field
 * (close without reply). A well-formed request whose credentials can't match
 * a configured string gets -EINVAL when a field holds a NUL byte, or
 * -ENAMETOOLONG when ulen or plen has no room for it and its NUL. */
int socks_parse_userpass(
	const uint8_t *buf, size_t len, char *user, size_t ulen, char *pass, size_t plen);

/* Writes the SOCKS_USERPASS_REPLY_LEN-byte reply: STATUS success or failure. */
size_t socks_build_userpass_reply(uint8_t out[SOCKS_USERPASS_REPLY_LEN], bool ok);

/* Writes the SOCKS_REPLY_LEN-byte reply with an unspecified bound address. */
size_t socks_build_reply(uint8_t *buf, enum socks_reply reply);

/* DST as the topic writes it: "1.2.3.4:80", "[::1]:80" or "name:80". */
int socks_request_dst(const struct socks_request *req, char *buf, size_t len);

#endif
