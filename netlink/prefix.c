/* IP prefixes as ip-route writes them ("10.20.0.0/16", "fd00::/64"): the one type of routes, rules, addresses and allowlists. */
#include "prefix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int nl_prefix_max_len(int family)
{
	if (family == AF_INET)
		return 32;
	if (family == AF_INET6)
		return 128;
	return -1;
}

bool nl_prefix_mask(uint8_t addr[16], int len)
{
	bool had = false;

	for (int i = len / 8; i < 16; i++) {
		uint8_t keep = i == len / 8 ? (uint8_t)(0xff00 >> (len % 8)) : 0;

		had |= (addr[i] & ~keep) != 0;
		addr[i] &= keep;
	}
	return had;
}

/* A prefix length: 1 to 3 digits, at most max. */
static int parse_len(const char *s, int max, int *len)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 3 || s[n])
		return -EINVAL;
	*len = atoi(s);
	return *len <= max ? 0 : -EINVAL;
}

int nl_prefix_parse(const char *s, struct nl_prefix *p, bool *masked)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	int family, len;
	bool had;

	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	memset(p, 0, sizeof(*p));
	if (inet_pton(family, buf, p->addr) != 1)
		return -EINVAL;
	len = nl_prefix_max_len(family);
	if (slash && parse_len(slash + 1, len, &len))
		return -EINVAL;
	p->family = family;
	p->len = (uint8_t)len;
	had = nl_prefix_mask(p->addr, len);
	if (masked)
		*masked = had;
	return 0;
}

int nl_prefix_format(const struct nl_prefix *p, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	int n;

	if (nl_prefix_max_len(p->family) < p->len)
		return -EINVAL;
	if (!inet_ntop(p->family, p->addr, addr, sizeof(addr)))
		return -EINVAL;
	n = snprintf(buf, len, "%s/%u", addr, p->len);
	return n >= 0 && (size_t)n < len ? 0 : -ENOSPC;
}

bool nl_prefix_contains(const struct nl_prefix *p, const uint8_t *addr)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (memcmp(p->addr, addr, full))
		return false;
	return !rest || !((p->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

bool nl_prefix_overlaps(const struct nl_prefix *a, const struct nl_prefix *b)
{
	const struct nl_prefix *wide = a->len <= b->len ? a : b, *narrow = wide == a ? b : a;

	return a->family == b->family && nl_prefix_contains(wide, narrow->addr);
}

bool nl_prefix_equal(const struct nl_prefix *a, const struct nl_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}
