/* The route table: subnets to agent ids, longest prefix match, IPv4 and IPv6. */
#ifndef N4M_ROUTE_H
#define N4M_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netlink/prefix.h"

#define ROUTE_AGENT_MAX 128 /* an agent id is 1..127 characters */

struct route_table;

/* Where a route comes from; at the same prefix, the first listed wins. */
enum route_source {
	ROUTE_EXCLUDED,	  /* --exclude: no agent, lookups inside it find nothing */
	ROUTE_CONFIGURED, /* --route */
	ROUTE_ADVERTISED, /* from an agent's status */
};

struct route_table *route_table_new(void);
void route_table_free(struct route_table *rt);

/*
 * Adds a route; agent is NULL for ROUTE_EXCLUDED. A prefix holds one
 * exclusion, one configured route (adding another replaces its agent) and one
 * advertised route per agent; several advertisers form a pool: lookups return
 * "a,b,c", their ids in strcmp order, whatever order their statuses came in
 * (gateway/core/pool.c picks a member per flow). Adding a
 * route that is there already changes nothing. Host bits of p are ignored.
 * Returns 0; -EINVAL for a bad prefix, source or agent; -ENOMEM.
 */
int route_add(struct route_table *rt, const struct nl_prefix *p, enum route_source src,
	const char *agent);
/* Removes the route of prefix p and source src; agent NULL means any agent.
 * Returns 0 or -ENOENT. */
int route_del(struct route_table *rt, const struct nl_prefix *p, enum route_source src,
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
	const struct route_table *rt, int family, const void *addr, struct nl_prefix *matched);

/* What lookups deciding at exactly prefix p find: its agent, its advertisers'
 * pool ("a,b"), or NULL (an exclusion, or no such prefix). */
const char *route_agent_of(const struct route_table *rt, const struct nl_prefix *p);

/* Calls fn for every route (agent NULL for exclusions), prefixes shortest
 * first; stops at and returns fn's first non-zero return. The table must not
 * change meanwhile. */
int route_walk(const struct route_table *rt,
	int (*fn)(const struct nl_prefix *p, enum route_source src, const char *agent, void *arg),
	void *arg);

/* How many routes (exclusions included). */
size_t route_count(const struct route_table *rt);

#endif
