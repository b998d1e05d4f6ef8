/* Peers that went offline, held a moment before their flows end: a spoofed offline status is contradicted at once. */
#ifndef N4M_GRACE_H
#define N4M_GRACE_H

#include <stdint.h>

struct event_base;
struct grace;

/* What to do once a peer has stayed offline for the whole delay. */
typedef void grace_expired_fn(void *arg, const char *agent, const char *local);

/* At most max peers wait at once (-ENOSPC beyond: the caller acts at once). */
struct grace *grace_new(
	struct event_base *base, int max, uint64_t delay_ms, grace_expired_fn *expired, void *arg);
void grace_free(struct grace *g); /* accepts NULL; expires nothing */

/* agent/local went offline: expired is called delay_ms from now unless
 * grace_cancel comes first. Already waiting: it keeps its first time.
 * 0, -ENOSPC (max are waiting), -ENOMEM. */
int grace_add(struct grace *g, const char *agent, const char *local);
/* agent/local is online again: it no longer waits. */
void grace_cancel(struct grace *g, const char *agent, const char *local);
/* Peers waiting now. */
int grace_count(const struct grace *g);

#endif
