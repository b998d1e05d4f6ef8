/* Kernel network configuration over rtnetlink (libnl-route-3): links, addresses, routes, rules. */
#ifndef N4M_NL_H
#define N4M_NL_H

#include <stdbool.h>
#include <stdint.h>

#include "prefix.h"

/*
 * Where the gateway's routes go: a table of its own plus one rule,
 * `from all lookup TABLE priority P`, with P below main's 32766; not main.
 *  - Everything in the table is the gateway's: nl_route_flush empties it at
 *    start (leftovers of a crashed run) and at exit, and no route of anybody
 *    else (DHCP, NetworkManager, a VPN) is ever touched, matched or collides
 *    with ours (no EEXIST because main holds the same prefix).
 *  - The broker is pinned with a rule, not a route: `to BROKER/32 lookup main
 *    priority P-1` sends it along whatever main says now, so the pin follows
 *    main's changes by itself and has no gateway to keep current. (The host
 *    route via the old gateway, nl_route_add with nl_route_get's answer, stays
 *    possible, e.g. when rules are unavailable.)
 *  - The configured subnets win over main even where main is more specific,
 *    which is what routing a subnet into the tunnel asks for. The one trap is
 *    routing 0.0.0.0/0: add `lookup main suppress_prefixlength 0` before it,
 *    as wg-quick does, or the LAN goes into the tunnel too.
 * Routing in main instead gets true longest-prefix match across both, but
 * needs every route tagged and compared to clean up, and a pinned host route
 * that the monitor must rewrite each time main's path to the broker changes.
 */

struct nl; /* one rtnetlink socket; calls block until the kernel answers */

struct nl_route {
	uint32_t table;	      /* 254 is main */
	struct nl_prefix dst; /* nl_route_get: the address looked up, /32 or /128 */
	int oif;	      /* the link; 0 none (blackhole, unreachable) */
	bool has_gateway;     /* false: a device route, the destination is on the link */
	bool throw;	      /* a throw route: lookups here fall through to the next rule */
	uint8_t gateway[16];  /* of dst's family */
};

/*
 * Everything returns 0 or -errno; the kernel's own errno when it answered
 * with one. Adding what is there already is -EEXIST (tolerable); removing
 * what is not there is -ENOENT.
 */
int nl_new(struct nl **nlp);
void nl_free(struct nl *nl);

/* -ENODEV when there is no such link. */
int nl_ifindex(struct nl *nl, const char *name, int *ifindex);

/* Sets the link up, and its MTU and transmit queue length unless 0 (IPv6 needs an MTU of 1280 or more). */
int nl_link_up(struct nl *nl, int ifindex, unsigned int mtu, unsigned int txqlen);

/* IPv6 addresses skip duplicate address detection, so they can be bound at once. */
int nl_address_add(struct nl *nl, int ifindex, const struct nl_prefix *p);
int nl_address_del(struct nl *nl, int ifindex, const struct nl_prefix *p);

/* r->dst via r->oif, through r->gateway if r->has_gateway, in r->table. */
int nl_route_add(struct nl *nl, const struct nl_route *r);
int nl_route_del(struct nl *nl, const struct nl_route *r);

/* The route the kernel would use for addr (4 or 16 bytes) now, rules
 * included: its table, link and gateway. -ENETUNREACH when there is none. */
int nl_route_get(struct nl *nl, int family, const void *addr, struct nl_route *r);

/* Removes every route of family in table; returns how many, or -errno. */
int nl_route_flush(struct nl *nl, int family, uint32_t table);
/* Calls fn for each unicast route of table (family); stops at and returns fn's
 * first non-zero return; 0, or -errno from the kernel. */
int nl_route_walk(struct nl *nl, int family, uint32_t table,
	int (*fn)(const struct nl_route *r, void *arg), void *arg);

/* `to DST lookup TABLE priority PRIORITY`; dst->len 0 is `from all` (dst->family still counts). */
int nl_rule_add(struct nl *nl, const struct nl_prefix *dst, uint32_t table, uint32_t priority);
int nl_rule_del(struct nl *nl, const struct nl_prefix *dst, uint32_t table, uint32_t priority);
/* `from SRC lookup TABLE priority PRIORITY` (src->len 0: `from all`, as above). */
int nl_rule_from_add(struct nl *nl, const struct nl_prefix *src, uint32_t table, uint32_t priority);
int nl_rule_from_del(struct nl *nl, const struct nl_prefix *src, uint32_t table, uint32_t priority);

/* Writes net.ipv4.conf.IFNAME.rp_filter (0 off, 1 strict, 2 loose) in the
 * caller's network namespace. The kernel uses the larger of this and
 * conf.all.rp_filter, so 2 is loose whatever `all` says. */
int nl_rp_filter(const char *ifname, int mode);

#endif
