/* libFuzzer target of mqtt/url: parse any string; check every field of what parses. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/url.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static bool terminated(const char *field, size_t size)
{
	return memchr(field, '\0', size) != NULL;
}

static void check_fields_terminated(const struct mqtt_url *u)
{
	check(terminated(u->host, sizeof(u->host)));
	check(terminated(u->user, sizeof(u->user)));
	check(terminated(u->password, sizeof(u->password)));
	check(terminated(u->prefix, sizeof(u->prefix)));
	check(terminated(u->client_id, sizeof(u->client_id)));
	check(terminated(u->cafile, sizeof(u->cafile)));
	check(terminated(u->capath, sizeof(u->capath)));
	check(terminated(u->cert, sizeof(u->cert)));
	check(terminated(u->key, sizeof(u->key)));
	for (int i = 0; i < MQTT_URL_BROKERS; i++)
		check(terminated(u->brokers[i].host, sizeof(u->brokers[i].host)));
}

/* The authority of s: after the scheme, up to the path, query or fragment. */
static size_t authority(const char *s, const char **start)
{
	*start = strstr(s, "://") + 3;
	return strcspn(*start, "/?#");
}

static void check_host(const char *host, const char *s)
{
	const char *auth;
	size_t alen = authority(s, &auth);
	char *copy = strndup(auth, alen);

	check(copy);
	check(host[0]);
	for (const char *p = host; *p; p++)
		check(isalnum((unsigned char)*p) || strchr(".-_:%", *p));
	/* the host is taken as it is written, without decoding */
	check(strstr(copy, host));
	free(copy);
}

/* A list of 1..MQTT_URL_BROKERS hosts, the first of which is host and port. */
static void check_brokers(const struct mqtt_url *u, const char *s)
{
	check(u->n_brokers >= 1 && u->n_brokers <= MQTT_URL_BROKERS);
	check(!strcmp(u->brokers[0].host, u->host) && u->brokers[0].port == u->port);
	for (int i = 0; i < u->n_brokers; i++) {
		check(u->brokers[i].port > 0);
		check_host(u->brokers[i].host, s);
	}
}

static void check_prefix(const char *prefix)
{
	size_t n = strlen(prefix);

	check(n > 0);
	check(!strpbrk(prefix, "+#"));
	check(prefix[0] != '/' && prefix[n - 1] != '/' && !strstr(prefix, "//"));
}

static void check_accepted(const struct mqtt_url *u, const char *s)
{
	check(u->tls == !strncmp(s, "mqtts://", 8));
	check(u->tls || !strncmp(s, "mqtt://", 7));
	check(u->port > 0);
	check(u->keepalive >= 5 && u->keepalive <= 65535);
	check_host(u->host, s);
	check_brokers(u, s);
	check_prefix(u->prefix);
	check(!u->has_password || u->user[0]);
	check(u->has_password || !u->password[0]);
	for (const char *c = u->client_id; *c; c++)
		check((unsigned char)*c > ' ' && !strchr("+#/", *c));
	/* no explicit port: the scheme's */
	if (!strchr(u->host, ':') && u->host[0] != '[') {
		const char *auth, *at;
		size_t alen = authority(s, &auth);
		char *hostport = strndup(auth, alen);

		check(hostport);
		at = strrchr(hostport, '@');
		if (!strchr(at ? at + 1 : hostport, ':'))
			check(u->port == (u->tls ? 8883 : 1883));
		free(hostport);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A heap string of exactly its length plus the NUL; the input up to its first NUL. */
	size_t n = strnlen((const char *)data, size);
	char *s = malloc(n + 1);
	struct mqtt_url *u = malloc(sizeof(*u)), *again = malloc(sizeof(*again));
	const char *why = NULL;
	int err;

	check(s && u && again);
	memcpy(s, data, n);
	s[n] = '\0';
	memset(u, 0xa5, sizeof(*u));
	err = mqtt_url_parse(s, u, &why);
	check(err == 0 || err == -EINVAL);
	check_fields_terminated(u);
	if (err) {
		check(why && *why);
	} else {
		check_accepted(u, s);
	}
	/* the same answer without a reason asked for, and the same fields */
	memset(again, 0x5a, sizeof(*again));
	check(mqtt_url_parse(s, again, NULL) == err);
	check(err || !memcmp(u, again, sizeof(*u)));
	free(again);
	free(u);
	free(s);
	return 0;
}
