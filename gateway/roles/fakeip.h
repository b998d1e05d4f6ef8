/* The fake-ip pool of the gateway's DNS: names to addresses in one IPv4 and one IPv6 prefix
 * (by default 198.19.0.0/16 and fdfe:dcba:9876:1::/64; --fake-ip-range). */
#ifndef N4M_FAKEIP_H
#define N4M_FAKEIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netlink/prefix.h"

#define FAKEIP_CAPACITY_MAX 65534		      /* 198.19.0.1 .. 198.19.255.254 */
#define FAKEIP_NAME_MAX 255			      /* characters of a name */
#define FAKEIP_AGENT_MAX 127			      /* characters of an agent id */
#define FAKEIP_RANGE4_DEFAULT "198.19.0.0/16"	      /* RFC 2544 benchmarking space */
#define FAKEIP_RANGE6_DEFAULT "fdfe:dcba:9876:1::/64" /* a ULA */
/* the prefix lengths a range may have: at least 2 usable addresses (IPv4), 254 (IPv6) */
#define FAKEIP_PREFIX4_MIN 8
#define FAKEIP_PREFIX4_MAX 30
#define FAKEIP_PREFIX6_MIN 8
#define FAKEIP_PREFIX6_MAX 120

/* The pool's prefixes: slot i is address net + 1 + i in each. */
struct fakeip_ranges {
	struct nl_prefix net4, net6;
};

struct fakeip_pool;

struct fakeip_entry {
	const char *name;   /* lower case */
	const char *agent;  /* the agent that serves it */
	bool agent_default; /* a flow to it carries DST "-" (the agent's default target), else
			       "name:port" */
	uint32_t index;	    /* its slot: address net4 + 1 + index, net6 + 1 + index */
	const struct fakeip_ranges *ranges; /* its pool's */
};

/* The default ranges (FAKEIP_RANGE4_DEFAULT, FAKEIP_RANGE6_DEFAULT). */
void fakeip_ranges_default(struct fakeip_ranges *r);
/*
 * Why p cannot be a pool's range, or NULL if it can: a family other than
 * IPv4/IPv6, a prefix length outside FAKEIP_PREFIX4_MIN..MAX (IPv4) or
 * FAKEIP_PREFIX6_MIN..MAX (IPv6), or host bits set (masked, as
 * nl_prefix_parse says).
 */
const char *fakeip_range_refused(const struct nl_prefix *p, bool masked);
/* The slots both ranges have room for (their network and last address
 * aside), at most FAKEIP_CAPACITY_MAX; 0 if either is refused. */
uint32_t fakeip_ranges_capacity(const struct fakeip_ranges *r);
/* Slot index's address in r: 4 bytes for AF_INET, 16 for AF_INET6. */
void fakeip_range_addr(const struct fakeip_ranges *r, uint32_t index, int family, uint8_t *ip);

/*
 * A pool over ranges (NULL: the defaults) with capacity slots (0: as many as
 * the ranges have room for; at most that many); hold_ms: an entry used less
 * than hold_ms ago is never recycled (a client may still hold the answer:
 * keep it a few times the DNS TTL). NULL on bad ranges, a capacity they do
 * not hold, or no memory.
 */
struct fakeip_pool *fakeip_new(
	const struct fakeip_ranges *ranges, uint32_t capacity, uint32_t hold_ms);
void fakeip_free(struct fakeip_pool *p);
const struct fakeip_ranges *fakeip_pool_ranges(const struct fakeip_pool *p);
uint32_t fakeip_capacity(const struct fakeip_pool *p);

/*
 * The entry for name (ASCII upper case is folded to lower case): the existing
 * one (its agent and agent_default updated to those given, its use time
 * refreshed), or a new one in a free slot (lowest index first), or else in
 * the least recently used slot if that was last used hold_ms or more ago (its
 * old name is forgotten). Returns 0 and sets *out (valid until the next
 * fakeip_assign, fakeip_restore or fakeip_free); -ENOSPC when every slot is
 * held; -EINVAL for an empty name or agent, or one longer than
 * FAKEIP_NAME_MAX / FAKEIP_AGENT_MAX; -ENOMEM.
 */
int fakeip_assign(struct fakeip_pool *p, const char *name, const char *agent, bool agent_default,
	uint64_t now_ms, const struct fakeip_entry **out);
/*
 * Puts name back into slot index (a saved pool, read again), used now.
 * -EINVAL for a bad name or agent (as fakeip_assign) or an index past the
 * capacity; -EEXIST when the slot or the name is taken already; -ENOMEM.
 */
int fakeip_restore(struct fakeip_pool *p, uint32_t index, const char *name, const char *agent,
	bool agent_default, uint64_t now_ms);
/*
 * The entry that owns address ip (family AF_INET: 4 bytes, AF_INET6: 16,
 * network order), and refreshes its use time (a flow to it counts as use);
 * NULL if ip is outside the pool or its slot is free.
 */
const struct fakeip_entry *fakeip_lookup(
	struct fakeip_pool *p, int family, const uint8_t *ip, uint64_t now_ms);
/* Writes e's address: 4 bytes for AF_INET, 16 for AF_INET6, nothing for another family. */
void fakeip_addr(const struct fakeip_entry *e, int family, uint8_t *ip);
/* Whether ip lies in the pool's prefix of its family, whatever the capacity. */
bool fakeip_contains(const struct fakeip_pool *p, int family, const uint8_t *ip);
size_t fakeip_size(const struct fakeip_pool *p); /* slots in use */
/* Calls fn for each entry, least recently used first. */
void fakeip_walk(const struct fakeip_pool *p, void (*fn)(const struct fakeip_entry *e, void *arg),
	void *arg);
/* Grows each time a name gets a slot or an entry's agent changes (what a
 * saved copy of the pool holds); use times do not count. */
uint64_t fakeip_changes(const struct fakeip_pool *p);

#endif
