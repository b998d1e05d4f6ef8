/* libFuzzer target of gateway/allow: any rule; what parses prints, parses back, matches itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "gateway/roles/allow.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/*
 * The input: "RULE\0" and then the bytes of addresses to try, 18 at a time
 * (16 address bytes, a port big-endian); with no NUL it is all rule.
 */
#define TRY_LEN 18
#define TRIES_MAX 8
#define RULE_STRLEN (NL_PREFIX_STRLEN + ALLOW_PORT_RANGES * 12 + 2)

static const char other_rule[] = "192.0.2.0/24:1-100,8080";

static int bits_of(int family)
{
	return family == AF_INET ? 32 : 128;
}

static bool bit(const uint8_t *a, int i)
{
	return a[i / 8] >> (7 - i % 8) & 1;
}

static void set_bit(uint8_t *a, int i, bool v)
{
	uint8_t m = (uint8_t)(0x80 >> (i % 8));

	a[i / 8] = (uint8_t)(v ? a[i / 8] | m : a[i / 8] & ~m);
}

static void check_rule(const struct allow_rule *r)
{
	check(r->net.family == AF_INET || r->net.family == AF_INET6);
	check(r->net.len <= bits_of(r->net.family));
	for (int i = r->net.len; i < 128; i++)
		check(!bit(r->net.addr, i)); /* host bits clear, IPv4 zero past 4 bytes */
	check(r->n_ranges >= 0 && r->n_ranges <= ALLOW_PORT_RANGES);
	for (int i = 0; i < r->n_ranges; i++)
		check(r->ports[i].lo >= 1 && r->ports[i].lo <= r->ports[i].hi);
}

static bool same_rule(const struct allow_rule *a, const struct allow_rule *b)
{
	if (a->net.family != b->net.family || a->net.len != b->net.len ||
		memcmp(a->net.addr, b->net.addr, 16) || a->n_ranges != b->n_ranges)
		return false;
	for (int i = 0; i < a->n_ranges; i++)
		if (a->ports[i].lo != b->ports[i].lo || a->ports[i].hi != b->ports[i].hi)
			return false;
	return true;
}

/* "10.0.0.0/8:80,443,8000-8100" */
static void format_rule(const struct allow_rule *r, char *buf, size_t len)
{
	size_t n;

	check(nl_prefix_format(&r->net, buf, len) == 0);
	n = strlen(buf);
	for (int i = 0; i < r->n_ranges; i++) {
		int w = r->ports[i].lo == r->ports[i].hi
				? snprintf(buf + n, len - n, "%c%u", i ? ',' : ':', r->ports[i].lo)
				: snprintf(buf + n, len - n, "%c%u-%u", i ? ',' : ':',
					  r->ports[i].lo, r->ports[i].hi);

		check(w > 0 && (size_t)w < len - n);
		n += (size_t)w;
	}
}

static void check_round_trip(const struct allow_rule *r)
{
	char text[RULE_STRLEN];
	struct allow_rule again;
	char *s;

	format_rule(r, text, sizeof(text));
	s = strdup(text);
	check(s);
	check(allow_parse(s, &again) == 0 && same_rule(r, &again));
	free(s);
}

static bool port_in(const struct allow_rule *r, uint16_t port)
{
	if (!r->n_ranges)
		return true;
	for (int i = 0; i < r->n_ranges; i++)
		if (port >= r->ports[i].lo && port <= r->ports[i].hi)
			return true;
	return false;
}

/* The sockaddr of an address, in an exact-size heap block; IPv4 may come v4-mapped. */
static struct sockaddr *make_sa(int family, const uint8_t *ip, uint16_t port, bool mapped)
{
	if (family == AF_INET && !mapped) {
		struct sockaddr_in *sin = calloc(1, sizeof(*sin));

		check(sin);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip, 4);
		return (struct sockaddr *)sin;
	}
	struct sockaddr_in6 *sin6 = calloc(1, sizeof(*sin6));

	check(sin6);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	if (family == AF_INET) {
		sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sin6->sin6_addr.s6_addr[12], ip, 4);
	} else {
		memcpy(&sin6->sin6_addr, ip, 16);
	}
	return (struct sockaddr *)sin6;
}

static bool v4_mapped(const uint8_t *ip)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(ip, prefix, sizeof(prefix));
}

static bool match_one(
	const struct allow_rule *r, int family, const uint8_t *ip, uint16_t port, bool mapped)
{
	struct sockaddr *sa = make_sa(family, ip, port, mapped);
	bool m = allow_match(r, 1, sa);

	free(sa);
	return m;
}

/* An address inside r's prefix (host bits from try), one just outside, and the other family. */
static void check_tries(const struct allow_rule *r, const uint8_t *try)
{
	int fam = r->net.family, bits = bits_of(fam);
	uint16_t port = (uint16_t)(try[16] << 8 | try[17]);
	uint8_t in[16] = { 0 }, out[16];
	/* a v4-mapped IPv6 address counts as IPv4: no IPv6 rule has it */
	bool want;

	memcpy(in, r->net.addr, 16);
	for (int i = r->net.len; i < bits; i++)
		set_bit(in, i, bit(try, i));
	want = port_in(r, port) && !(fam == AF_INET6 && v4_mapped(in));
	check(match_one(r, fam, in, port, false) == want);
	if (fam == AF_INET)
		check(match_one(r, fam, in, port, true) == want);
	/* never the other family's address of the same bytes (unless it is v4-mapped) */
	if (fam == AF_INET6 || !v4_mapped(in))
		check(!match_one(r, fam == AF_INET ? AF_INET6 : AF_INET, in, port, false));
	if (r->net.len) {
		int flip = try[15] % r->net.len;

		memcpy(out, in, 16);
		set_bit(out, flip, !bit(in, flip));
		check(!match_one(r, fam, out, port, false));
	}
}

static void check_lists(const struct allow_rule *r, const uint8_t *try)
{
	struct allow_rule rules[2];
	struct sockaddr_un *un = calloc(1, sizeof(*un));
	struct sockaddr *sa;
	uint16_t port = (uint16_t)(try[16] << 8 | try[17]);
	bool a, b;

	check(un);
	rules[0] = *r;
	check(allow_parse(other_rule, &rules[1]) == 0);
	for (int i = 0; i < 2; i++) {
		sa = make_sa(i ? AF_INET6 : AF_INET, try, port, false);
		a = allow_match(&rules[0], 1, sa);
		b = allow_match(&rules[1], 1, sa);
		check(allow_match(rules, 2, sa) == (a || b));
		check(!allow_match(rules, 0, sa));
		free(sa);
	}
	un->sun_family = AF_UNIX;
	check(!allow_match(rules, 2, (struct sockaddr *)un));
	free(un);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t slen = nul ? (size_t)(nul - data) : size;
	size_t rest = nul ? size - slen - 1 : 0;
	char *s = malloc(slen + 1); /* exact: ASan sees reads past the NUL */
	struct allow_rule r;
	uint8_t zero[TRY_LEN] = { 0 };
	int err;

	check(s);
	memcpy(s, data, slen);
	s[slen] = '\0';
	err = allow_parse(s, &r);
	check(err == 0 || err == -EINVAL);
	if (!err) {
		check_rule(&r);
		check_round_trip(&r);
		check_tries(&r, zero);
		for (size_t i = 0; i < TRIES_MAX && (i + 1) * TRY_LEN <= rest; i++) {
			check_tries(&r, nul + 1 + i * TRY_LEN);
			check_lists(&r, nul + 1 + i * TRY_LEN);
		}
	}
	free(s);
	return 0;
}
