/* IP prefixes as ip-route writes them ("10.20.0.0/16", "fd00::/64"): the one type of routes, rules, addresses and allowlists. */
#ifndef N4M_NL_PREFIX_H
#define N4M_NL_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NL_PREFIX_STRLEN 50 /* "ffff:...:ffff/128" */

/* A prefix (host bits zero, as nl_prefix_parse leaves them) or an address
 * with its prefix length (an interface address keeps its host bits). */
struct nl_prefix {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	uint8_t len;	  /* 0..32 or 0..128 */
};

/* Parses "10.20.0.0/16" or "fd00::/64"; a bare address is a host prefix (/32,
 * /128), as with ip-route. Host bits are cleared, and *masked (if not NULL)
 * says whether there were any: "10.20.1.0/16" is 10.20.0.0/16, masked.
 * Returns 0 or -EINVAL. */
int nl_prefix_parse(const char *s, struct nl_prefix *p, bool *masked);
/* "10.20.0.0/16"; buf holds NL_PREFIX_STRLEN. 0 or -EINVAL / -ENOSPC. */
int nl_prefix_format(const struct nl_prefix *p, char *buf, size_t len);

/* Whether address addr (4 or 16 bytes, of p's family) lies in p. */
bool nl_prefix_contains(const struct nl_prefix *p, const uint8_t *addr);
/* Whether a and b share an address (one contains the other). */
bool nl_prefix_overlaps(const struct nl_prefix *a, const struct nl_prefix *b);
/* Same family, length and address bytes. */
bool nl_prefix_equal(const struct nl_prefix *a, const struct nl_prefix *b);

/* 32 for AF_INET, 128 for AF_INET6, -1 for anything else. */
int nl_prefix_max_len(int family);
/* Clears the bits of addr (16 bytes) past len; says whether any was set. */
bool nl_prefix_mask(uint8_t addr[16], int len);

#endif
