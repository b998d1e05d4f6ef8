/* What each peer last said on its status topic: who is online, with which capabilities and routes. */
#ifndef N4M_PEERS_H
#define N4M_PEERS_H

#include <stdbool.h>
#include <stddef.h>

struct peers;
struct status;

/* What a status message changed. */
enum peer_change {
	PEER_UNCHANGED,	   /* offline and still offline, or unknown */
	PEER_ONLINE,	   /* says online (again: every online status is one) */
	PEER_WENT_OFFLINE, /* was online, is not any more */
};

struct peers *peers_new(void);
void peers_free(struct peers *p); /* accepts NULL */

/* The status payload (len 0: its retained message was cleared, the peer is
 * unknown again) that agent/local published. *st (if not NULL) is what it
 * says now, valid until the next update. */
enum peer_change peers_update(struct peers *p, const char *agent, const char *local,
	const void *payload, size_t len, const struct status **st);

/* The last status of agent/local, or NULL if none was seen (or it was cleared). */
const struct status *peers_get(const struct peers *p, const char *agent, const char *local);

/* Every peer whose status was seen: key "AGENT/LOCAL", its last status. */
void peers_walk(const struct peers *p,
	void (*fn)(const char *key, const struct status *st, void *arg), void *arg);

#endif
