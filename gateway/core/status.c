/* The retained status message on PREFIX/AGENT/LOCAL/v/-: online JSON with capabilities, or the last will "{}". */
#include "status.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int status_build(char *buf, size_t len, const char *role, const char *id, int streams, bool icmp,
	const struct nl_prefix *routes, int n_routes)
{
	size_t used;
	int n = snprintf(buf, len,
		"{\"online\":true,\"id\":\"%s\",\"role\":\"%s\",\"version\":\"%s\",\"max_packet\":%"
		"d,\"streams\":%d%s",
		id, role, N4M_VERSION, STATUS_MAX_PACKET, streams, icmp ? ",\"icmp\":1" : "");

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	used = (size_t)n;
	for (int i = 0; i < n_routes; i++) {
		char cidr[NL_PREFIX_STRLEN];
		if (nl_prefix_format(&routes[i], cidr, sizeof(cidr)))
			return -EINVAL;
		n = snprintf(buf + used, len - used, "%s\"%s\"", i ? "," : ",\"routes\":[", cidr);
		if (n < 0 || (size_t)n >= len - used)
			return -ENAMETOOLONG;
		used += (size_t)n;
	}
	n = snprintf(buf + used, len - used, "%s}", n_routes ? "]" : "");
	if (n < 0 || (size_t)n >= len - used)
		return -ENAMETOOLONG;
	return (int)(used + (size_t)n);
}

/* Finds "key": in a flat JSON object and returns where its value starts. A
 * "key" not followed by ':' is a value (an id named "role"): keep looking. */
static const char *json_value(const char *json, const char *key)
{
	char pat[48];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	for (const char *s = json; (s = strstr(s, pat)); s++) {
		p = s + strlen(pat);
		while (isspace((unsigned char)*p))
			p++;
		if (*p != ':')
			continue;
		p++;
		while (isspace((unsigned char)*p))
			p++;
		return p;
	}
	return NULL;
}

/* "routes":["10.20.0.0/16","fd20::/64"]: the well-formed prefixes, up to STATUS_ROUTES_MAX. */
static void parse_routes(const char *v, struct status *st)
{
	if (*v++ != '[')
		return;
	while (st->n_routes < STATUS_ROUTES_MAX) {
		while (isspace((unsigned char)*v) || *v == ',')
			v++;
		if (*v != '"')
			return;
		size_t n = strcspn(v + 1, "\"");
		char cidr[NL_PREFIX_STRLEN];
		if (v[1 + n] != '"')
			return;
		if (n < sizeof(cidr)) {
			memcpy(cidr, v + 1, n);
			cidr[n] = '\0';
			if (!nl_prefix_parse(cidr, &st->routes[st->n_routes], NULL))
				st->n_routes++;
		}
		v += n + 2;
	}
}

void status_parse(const void *payload, size_t len, struct status *st)
{
	char json[STATUS_JSON_MAX];
	const char *v;

	memset(st, 0, sizeof(*st));
	st->online = len > 5;
	if (!st->online || len >= sizeof(json))
		return;
	memcpy(json, payload, len);
	json[len] = '\0';
	if (strlen(json) != len)
		return; /* embedded NUL: not JSON */
	if ((v = json_value(json, "online")) && !strncmp(v, "false", 5))
		st->online = false;
	if ((v = json_value(json, "max_packet")) && isdigit((unsigned char)*v)) {
		long n = strtol(v, NULL, 10);
		if (n >= 1024 && n <= (16l << 20))
			st->max_packet = (int)n;
	}
	if ((v = json_value(json, "streams")) && isdigit((unsigned char)*v))
		st->streams = (int)strtol(v, NULL, 10) > 0 ? 1 : 0;
	if ((v = json_value(json, "icmp")) && isdigit((unsigned char)*v))
		st->icmp = strtol(v, NULL, 10) > 0;
	if ((v = json_value(json, "seal")) && isdigit((unsigned char)*v))
		st->seal = strtol(v, NULL, 10) > 0;
	if ((v = json_value(json, "epoch")) && isdigit((unsigned char)*v))
		st->epoch = strtoull(v, NULL, 10);
	if ((v = json_value(json, "routes")))
		parse_routes(v, st);
	if ((v = json_value(json, "role")) && *v == '"') {
		size_t n = strcspn(v + 1, "\"");
		if (n < sizeof(st->role) && v[1 + n] == '"')
			memcpy(st->role, v + 1, n);
	}
}
