/* The retained status message on PREFIX/AGENT/LOCAL/v/-: online JSON with capabilities, or the last will "{}". */
#include "status.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int status_build(char *buf, size_t len, const char *role, const char *id)
{
	int n = snprintf(buf, len,
		"{\"online\":true,\"id\":\"%s\",\"role\":\"%s\",\"version\":\"%s\",\"max_packet\":%d}",
		id, role, N4M_VERSION, STATUS_MAX_PACKET);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
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

void status_parse(const void *payload, size_t len, struct status *st)
{
	char json[4096];
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
	if ((v = json_value(json, "role")) && *v == '"') {
		size_t n = strcspn(v + 1, "\"");
		if (n < sizeof(st->role) && v[1 + n] == '"')
			memcpy(st->role, v + 1, n);
	}
}
