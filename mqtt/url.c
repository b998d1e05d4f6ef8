/* The broker URL: mqtt[s]://[user[:password]@]host[:port][,host[:port]...]/PREFIX?client_id=ID&cafile=..&cert=..&key=.. */
#include "url.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decodes s[0..n) into out; rejects truncated escapes, NULs and overlong results. */
static int pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -EINVAL;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= outlen)
			return -EINVAL;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int parse_userinfo(struct mqtt_url *u, const char *s, size_t n, const char **why)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon ? (size_t)(colon - s) : n;

	if (pct_decode(s, ulen, u->user, sizeof(u->user)) || !u->user[0]) {
		*why = "bad user name";
		return -EINVAL;
	}
	if (colon) {
		u->has_password = true;
		if (pct_decode(colon + 1, n - ulen - 1, u->password, sizeof(u->password))) {
			*why = "bad password";
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_hostport(struct mqtt_broker *u, const char *s, size_t n, const char **why)
{
	const char *host = s, *portstr = NULL;
	size_t hlen = n;

	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close) {
			*why = "unterminated [IPv6] host";
			return -EINVAL;
		}
		host = s + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < s + n) {
			if (close[1] != ':') {
				*why = "junk after [IPv6] host";
				return -EINVAL;
			}
			portstr = close + 2;
		}
	} else {
		const char *colon = memchr(s, ':', n);
		if (colon) {
			hlen = (size_t)(colon - s);
			portstr = colon + 1;
		}
	}
	if (hlen == 0 || hlen >= sizeof(u->host)) {
		*why = "missing or overlong host";
		return -EINVAL;
	}
	memcpy(u->host, host, hlen);
	u->host[hlen] = '\0';
	for (const char *p = u->host; *p; p++) {
		if (!isalnum((unsigned char)*p) && !strchr(".-_:%", *p)) {
			*why = "bad character in host";
			return -EINVAL;
		}
	}
	if (portstr) {
		size_t plen = (size_t)(s + n - portstr);
		unsigned long v = 0;
		if (plen == 0 || plen > 5) {
			*why = "bad port";
			return -EINVAL;
		}
		for (size_t i = 0; i < plen; i++) {
			if (!isdigit((unsigned char)portstr[i])) {
				*why = "bad port";
				return -EINVAL;
			}
			v = v * 10 + (unsigned long)(portstr[i] - '0');
		}
		if (v == 0 || v > 65535) {
			*why = "port out of range";
			return -EINVAL;
		}
		u->port = (uint16_t)v;
	}
	return 0;
}

/* host[:port][,host[:port]...]: each without a port has the scheme's. */
static int parse_brokers(
	struct mqtt_url *u, const char *s, size_t n, uint16_t port, const char **why)
{
	const char *end = s + n;

	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		size_t len = comma ? (size_t)(comma - s) : (size_t)(end - s);
		if (u->n_brokers == MQTT_URL_BROKERS) {
			*why = "more than 8 brokers";
			return -EINVAL;
		}
		if (len == 0 && (comma || u->n_brokers)) {
			*why = "empty host in the broker list";
			return -EINVAL;
		}
		struct mqtt_broker *b = &u->brokers[u->n_brokers];
		b->port = port;
		if (parse_hostport(b, s, len, why))
			return -EINVAL;
		u->n_brokers++;
		if (!comma)
			break;
		s = comma + 1;
	}
	strcpy(u->host, u->brokers[0].host);
	u->port = u->brokers[0].port;
	return 0;
}

void mqtt_url_brokers_str(const struct mqtt_url *u, int i, char *buf, size_t len)
{
	int from = i < 0 ? 0 : i, to = i < 0 ? u->n_brokers : i + 1;
	size_t o = 0;

	buf[0] = '\0';
	for (int k = from; k < to && o < len; k++) {
		const struct mqtt_broker *b = &u->brokers[k];
		int v6 = strchr(b->host, ':') != NULL;
		int w = snprintf(buf + o, len - o, "%s%s%s%s:%u", k > from ? "," : "",
			v6 ? "[" : "", b->host, v6 ? "]" : "", b->port);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

/* The prefix is the path without one leading and one trailing '/'. */
static int parse_prefix(struct mqtt_url *u, const char *s, size_t n, const char **why)
{
	if (n && s[0] == '/')
		s++, n--;
	if (n && s[n - 1] == '/')
		n--;
	if (n == 0) {
		strcpy(u->prefix, MQTT_DEFAULT_PREFIX);
		return 0;
	}
	if (pct_decode(s, n, u->prefix, sizeof(u->prefix))) {
		*why = "bad or overlong prefix";
		return -EINVAL;
	}
	if (strpbrk(u->prefix, "+#") || strstr(u->prefix, "//") || u->prefix[0] == '/' ||
		u->prefix[strlen(u->prefix) - 1] == '/') {
		*why = "prefix must not contain '+', '#' or empty levels";
		return -EINVAL;
	}
	return 0;
}

struct query_key {
	const char *name;
	size_t off;
	size_t size;
};

#define QK(name, field)                                                                            \
	{                                                                                          \
		name, offsetof(struct mqtt_url, field), sizeof(((struct mqtt_url *)0)->field)      \
	}
static const struct query_key query_keys[] = {
	QK("client_id", client_id),
	QK("cafile", cafile),
	QK("capath", capath),
	QK("cert", cert),
	QK("key", key),
	QK("tls_version", tls_version),
	QK("sni", sni),
};

static int parse_query_pair(struct mqtt_url *u, const char *s, size_t n, const char **why)
{
	const char *eq = memchr(s, '=', n);
	size_t klen = eq ? (size_t)(eq - s) : n;
	const char *v = eq ? eq + 1 : s + n;
	size_t vlen = (size_t)(s + n - v);
	char val[MQTT_URL_PATH];

	if (pct_decode(v, vlen, val, sizeof(val))) {
		*why = "bad query value";
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(query_keys) / sizeof(query_keys[0]); i++) {
		const struct query_key *k = &query_keys[i];
		if (strlen(k->name) == klen && !memcmp(k->name, s, klen)) {
			if (strlen(val) >= k->size) {
				*why = "query value too long";
				return -EINVAL;
			}
			strcpy((char *)u + k->off, val);
			return 0;
		}
	}
	if (klen == 8 && !memcmp(s, "insecure", 8)) {
		u->insecure = strcmp(val, "0") && strcmp(val, "false");
		return 0;
	}
	if ((klen == 15 && !memcmp(s, "keep_alive_secs", 15)) ||
		(klen == 9 && !memcmp(s, "keepalive", 9))) {
		char *end;
		long ka = strtol(val, &end, 10);
		if (!val[0] || *end || ka < 5 || ka > 65535) {
			*why = "keepalive must be 5..65535 seconds";
			return -EINVAL;
		}
		u->keepalive = (int)ka;
		return 0;
	}
	return 0; /* other rumqttc options are accepted and ignored, as net4mqtt's URLs may carry them */
}

static int parse_query(struct mqtt_url *u, const char *s, const char **why)
{
	while (*s) {
		size_t n = strcspn(s, "&");
		if (n && parse_query_pair(u, s, n, why))
			return -EINVAL;
		s += n;
		if (*s == '&')
			s++;
	}
	return 0;
}

int mqtt_url_parse(const char *s, struct mqtt_url *u, const char **why)
{
	static const char *unused;
	const char *p;
	uint16_t port;

	if (!why)
		why = &unused;
	memset(u, 0, sizeof(*u));
	u->keepalive = 30;
	if (!strncmp(s, "mqtt://", 7)) {
		p = s + 7;
		port = 1883;
	} else if (!strncmp(s, "mqtts://", 8)) {
		p = s + 8;
		u->tls = true;
		port = 8883;
	} else {
		*why = "scheme must be mqtt:// or mqtts://";
		return -EINVAL;
	}
	size_t alen = strcspn(p, "/?#");
	const char *at = NULL;
	for (const char *q = p; q < p + alen; q++)
		if (*q == '@')
			at = q;
	if (at) {
		if (parse_userinfo(u, p, (size_t)(at - p), why))
			return -EINVAL;
		alen -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	if (parse_brokers(u, p, alen, port, why))
		return -EINVAL;
	p += alen;
	size_t plen = strcspn(p, "?#");
	if (parse_prefix(u, p, plen, why))
		return -EINVAL;
	p += plen;
	if (*p == '#') {
		*why = "fragment not allowed";
		return -EINVAL;
	}
	if (*p == '?' && parse_query(u, p + 1, why))
		return -EINVAL;
	for (const char *c = u->client_id; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == '+' || *c == '#' || *c == '/') {
			*why = "bad character in client_id";
			return -EINVAL;
		}
	}
	return 0;
}
