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
	PEER_REFUSED,	   /* a new peer while the table is full: not remembered */
};

/* The most peers a table remembers: a broker participant publishing statuses
 * for thousands of made-up ids must not grow our heap without end. A real
 * deployment has tens; each peer costs about 2 KiB (its routes). */
#define PEERS_MAX 4096

/* A table of at most max peers (PEERS_MAX unless a test wants fewer). When
 * full, a new peer that says online takes the place of one known offline, if
 * any; otherwise it is refused, and so is a new one that says offline (an
 * unknown peer and an offline one both fail a new flow). Those already known
 * are never pushed out by newcomers: a flood cannot evict the agent in use. */
struct peers *peers_new(int max);
void peers_free(struct peers *p); /* accepts NULL */

/* The status payload (len 0: its retained message was cleared, the peer is
 * unknown again) that agent/local published. *st (if not NULL) is what it
 * says now, valid until the next update. */
enum peer_change peers_update(struct peers *p, const char *agent, const char *local,
	const void *payload, size_t len, const struct status **st);

/* Peers remembered now. */
int peers_count(const struct peers *p);

/* The last status of agent/local, or NULL if none was seen (or it was cleared). */
const struct status *peers_get(const struct peers *p, const char *agent, const char *local);
/* The last status of agent/local was signed by its key (status.verified). */
void peers_mark_verified(struct peers *p, const char *agent, const char *local);

/* Every peer whose status was seen: key "AGENT/LOCAL", its last status. */
void peers_walk(const struct peers *p,
	void (*fn)(const char *key, const struct status *st, void *arg), void *arg);

#endif
