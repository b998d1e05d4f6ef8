/* The route table: subnets to agent ids, longest prefix match, IPv4 and IPv6. */
#ifndef N4M_ROUTE_H
#define N4M_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTE_AGENT_MAX 128    /* an agent id is 1..127 characters */
#define ROUTE_PREFIX_STRLEN 50 /* "ffff:...:ffff/128" */

struct route_table;

/* Where a route comes from; at the same prefix, the first listed wins. */
enum route_source {
	ROUTE_EXCLUDED,	  /* --exclude: no agent, lookups inside it find nothing */
	ROUTE_CONFIGURED, /* --route */
	ROUTE_ADVERTISED, /* from an agent's status */
};

struct route_prefix {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order, host bits zero; IPv4 in the first 4 bytes */
	uint8_t len;	  /* 0..32 or 0..128 */
};

/* Parses "10.20.0.0/16" or "fd00::/64"; a bare address is a host prefix (/32,
 * /128), as with ip-route. Host bits are cleared, and *masked (if not NULL)
 * says whether there were any: "10.20.1.0/16" is 10.20.0.0/16, masked.
 * Returns 0 or -EINVAL. */
int route_prefix_parse(const char *s, struct route_prefix *p, bool *masked);
/* "10.20.0.0/16"; buf holds ROUTE_PREFIX_STRLEN. 0 or -EINVAL / -ENOSPC. */
int route_prefix_format(const struct route_prefix *p, char *buf, size_t len);

/* Whether address addr (4 or 16 bytes, of p's family) lies in p. */
bool route_prefix_contains(const struct route_prefix *p, const uint8_t *addr);
/* Whether a and b share an address (one contains the other). */
bool route_prefix_overlaps(const struct route_prefix *a, const struct route_prefix *b);

struct route_table *route_table_new(void);
void route_table_free(struct route_table *rt);

/*
 * Adds a route; agent is NULL for ROUTE_EXCLUDED. A prefix holds one
 * exclusion, one configured route (adding another replaces its agent) and one
 * advertised route per agent; of several advertisers the smallest agent id
 * (strcmp) wins lookups, whatever order their statuses came in. Adding a
 * route that is there already changes nothing. Host bits of p are ignored.
 * Returns 0; -EINVAL for a bad prefix, source or agent; -ENOMEM.
 */
int route_add(struct route_table *rt, const struct route_prefix *p, enum route_source src,
	const char *agent);
/* Removes the route of prefix p and source src; agent NULL means any agent.
 * Returns 0 or -ENOENT. */
int route_del(struct route_table *rt, const struct route_prefix *p, enum route_source src,
	const char *agent);
/* Removes every route of agent from src (an agent went offline: its advertised
 * routes go); returns how many. */
int route_del_agent(struct route_table *rt, enum route_source src, const char *agent);

/*
 * The agent for address addr (4 or 16 bytes, network order), or NULL. The
 * longest matching prefix decides; at the same length an exclusion beats a
 * configured route, which beats an advertised one. So an exclusion longer than
 * (or as long as) the best route makes the lookup return NULL. If matched is
 * not NULL it receives the deciding prefix (on NULL too, when one matched).
 * The string lives until the table next changes.
 */
const char *route_lookup(
	const struct route_table *rt, int family, const void *addr, struct route_prefix *matched);

/* Calls fn for every route (agent NULL for exclusions), prefixes shortest
 * first; stops at and returns fn's first non-zero return. The table must not
 * change meanwhile. */
int route_walk(const struct route_table *rt,
	int (*fn)(
		const struct route_prefix *p, enum route_source src, const char *agent, void *arg),
	void *arg);

/* How many routes (exclusions included). */
size_t route_count(const struct route_table *rt);

#endif
