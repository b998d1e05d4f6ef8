/* The fake-ip pool of the gateway's DNS: names to addresses in 198.19.0.0/16 and
 * fdfe:dcba:9876:1::/64. */
#ifndef N4M_FAKEIP_H
#define N4M_FAKEIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKEIP_CAPACITY_MAX 65534 /* 198.19.0.1 .. 198.19.255.254 */
#define FAKEIP_NAME_MAX 255	  /* characters of a name */
#define FAKEIP_AGENT_MAX 127	  /* characters of an agent id */
#define FAKEIP_PREFIX4_LEN 16
#define FAKEIP_PREFIX6_LEN 64

extern const uint8_t fakeip_net4[4];  /* 198.19.0.0, /16 (RFC 2544 benchmarking space) */
extern const uint8_t fakeip_net6[16]; /* fdfe:dcba:9876:1::, /64 (a ULA) */

struct fakeip_pool;

struct fakeip_entry {
	const char *name;   /* lower case */
	const char *agent;  /* the agent that serves it */
	bool agent_default; /* a flow to it carries DST "-" (the agent's default target), else
			       "name:port" */
	uint32_t index; /* its slot: address 198.19.0.0 + 1 + index, fdfe:dcba:9876:1:: + 1 + index
			 */
};

/*
 * capacity 1..FAKEIP_CAPACITY_MAX slots; hold_ms: an entry used less than
 * hold_ms ago is never recycled (a client may still hold the answer: keep it a
 * few times the DNS TTL). NULL on a bad capacity or no memory.
 */
struct fakeip_pool *fakeip_new(uint32_t capacity, uint32_t hold_ms);
void fakeip_free(struct fakeip_pool *p);

/*
 * The entry for name (ASCII upper case is folded to lower case): the existing
 * one (its agent and agent_default updated to those given, its use time
 * refreshed), or a new one in a free slot, or else in the least recently used
 * slot if that was last used hold_ms or more ago (its old name is forgotten).
 * Returns 0 and sets *out (valid until the next fakeip_assign or fakeip_free);
 * -ENOSPC when every slot is held; -EINVAL for an empty name or agent, or one
 * longer than FAKEIP_NAME_MAX / FAKEIP_AGENT_MAX; -ENOMEM.
 */
int fakeip_assign(struct fakeip_pool *p, const char *name, const char *agent, bool agent_default,
	uint64_t now_ms, const struct fakeip_entry **out);
/*
 * The entry that owns address ip (family AF_INET: 4 bytes, AF_INET6: 16,
 * network order), and refreshes its use time (a flow to it counts as use);
 * NULL if ip is outside the pool or its slot is free.
 */
const struct fakeip_entry *fakeip_lookup(
	struct fakeip_pool *p, int family, const uint8_t *ip, uint64_t now_ms);
/* Writes e's address: 4 bytes for AF_INET, 16 for AF_INET6, nothing for another family. */
void fakeip_addr(const struct fakeip_entry *e, int family, uint8_t *ip);
/* Whether ip lies in the pool's prefix, whatever the capacity. */
bool fakeip_contains(int family, const uint8_t *ip);
size_t fakeip_size(const struct fakeip_pool *p); /* slots in use */

#endif
