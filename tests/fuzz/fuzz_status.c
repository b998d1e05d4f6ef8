/* libFuzzer target of gateway/status: parse any payload; rebuild what it yields, parse back. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/core/status.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

#define ID "agent-1"

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void check_route(const struct nl_prefix *r)
{
	int bits = r->family == AF_INET ? 32 : 128;
	uint8_t masked[16];

	check(r->family == AF_INET || r->family == AF_INET6);
	check(r->len <= bits);
	memcpy(masked, r->addr, sizeof(masked));
	for (int i = r->len; i < 128; i++)
		masked[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
	check(!memcmp(masked, r->addr, sizeof(masked))); /* host bits clear */
}

static bool same_route(const struct nl_prefix *a, const struct nl_prefix *b)
{
	return a->family == b->family && a->len == b->len && !memcmp(a->addr, b->addr, 16);
}

static void check_parsed(const struct status *st, const uint8_t *payload, size_t len)
{
	check(memchr(st->role, '\0', sizeof(st->role)));
	check(st->n_routes >= 0 && st->n_routes <= STATUS_ROUTES_MAX);
	check(!st->max_packet || (st->max_packet >= 1024 && st->max_packet <= 16 << 20));
	for (int i = 0; i < st->n_routes; i++)
		check_route(&st->routes[i]);
	if (st->role[0])
		check(memmem(payload, len, st->role, strlen(st->role)));
	if (len <= 5 || len >= STATUS_JSON_MAX || memchr(payload, '\0', len)) {
		/* not looked into: only whether it is online */
		check(st->online == (len > 5));
		check(!st->role[0] && !st->max_packet && !st->n_routes);
	}
	check(st->online || len <= 5 || memmem(payload, len, "false", 5));
}

/* Builds into a buffer of exactly size bytes. */
static int build(char **out, size_t size, const struct status *st)
{
	*out = malloc(size ? size : 1);
	check(*out);
	return status_build(
		*out, size, st->role, ID, st->streams, st->icmp, st->routes, st->n_routes);
}

/* Our own status, from what a peer's parsed to. */
static void check_rebuild(const struct status *st)
{
	struct status *again = malloc(sizeof(*again)), *third = malloc(sizeof(*third));
	char *buf, *b2;
	int n, n2;

	check(again && third);
	n = build(&buf, STATUS_JSON_MAX, st);
	check(n > 0 && n < STATUS_JSON_MAX && (size_t)n == strlen(buf));
	status_parse(buf, (size_t)n, again);
	check(again->online && again->max_packet == STATUS_MAX_PACKET && again->icmp == st->icmp);
	check(!strcmp(again->role, st->role) && again->n_routes == st->n_routes);
	for (int i = 0; i < st->n_routes; i++)
		check(same_route(&again->routes[i], &st->routes[i]));

	/* exactly big enough, and one byte short */
	n2 = build(&b2, (size_t)n + 1, again);
	check(n2 == n && !strcmp(b2, buf));
	free(b2);
	check(build(&b2, (size_t)n, again) == -ENAMETOOLONG);
	free(b2);

	/* a will is offline, anything else short too */
	status_parse(STATUS_WILL, strlen(STATUS_WILL), third);
	check(!third->online && !third->n_routes);
	free(buf);
	free(third);
	free(again);
}

static void check_bad_route(const struct status *st)
{
	struct status *bad = malloc(sizeof(*bad));
	char *buf;

	check(bad);
	*bad = *st;
	if (bad->n_routes == STATUS_ROUTES_MAX)
		bad->n_routes--;
	bad->routes[bad->n_routes] = (struct nl_prefix){ .family = AF_INET, .len = 33 };
	bad->n_routes++;
	check(build(&buf, STATUS_JSON_MAX, bad) == -EINVAL);
	free(buf);
	free(bad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *payload = malloc(size ? size : 1); /* exact: ASan sees reads past it */
	struct status *st = malloc(sizeof(*st));

	check(payload && st);
	memcpy(payload, data, size);
	memset(st, 0xa5, sizeof(*st));
	status_parse(payload, size, st);
	check(!memcmp(payload, data, size));
	check_parsed(st, payload, size);
	if (size <= 5)
		check(all_zero(st, sizeof(*st)));
	check_rebuild(st);
	check_bad_route(st);
	free(st);
	free(payload);
	return 0;
}
