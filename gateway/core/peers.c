/* What each peer last said on its status topic: who is online, with which capabilities and routes. */
#include "peers.h"

#include <stdio.h>
#include <stdlib.h>

#include "gateway/lib/map.h"
#include "mqtt/topic.h"
#include "status.h"

#define PEER_KEY_MAX (2 * MQTT_LEVEL_MAX + 2)

struct peer {
	char key[PEER_KEY_MAX]; /* "AGENT/LOCAL" */
	struct status st;
	bool offline; /* counted in peers.offline */
};

struct peers {
	struct map *by_key;
	int max, offline; /* the cap; how many known peers say offline (eviction candidates) */
};

struct peers *peers_new(int max)
{
	struct peers *p = calloc(1, sizeof(*p));

	if (p)
		p->max = max;
	if (p && !(p->by_key = map_new())) {
		free(p);
		return NULL;
	}
	return p;
}

void peers_free(struct peers *p)
{
	if (!p)
		return;
	map_clear(p->by_key, free);
	map_free(p->by_key);
	free(p);
}

static struct peer *peer_get(const struct peers *p, const char *agent, const char *local)
{
	char key[PEER_KEY_MAX];

	snprintf(key, sizeof(key), "%s/%s", agent, local);
	return map_get(p->by_key, key);
}

static void peer_del(struct peers *p, struct peer *peer)
{
	if (peer->offline)
		p->offline--;
	map_del(p->by_key, peer->key);
	free(peer);
}

struct victim {
	struct peer *found;
};

static void find_offline(const char *key, void *val, void *arg)
{
	struct victim *v = arg;
	struct peer *peer = val;
	(void)key;

	if (!v->found && peer->offline)
		v->found = peer;
}

/* Room for one more peer that says online (or not): at most max, an offline one evicted. */
static bool peers_room(struct peers *p, bool online)
{
	struct victim v = { NULL };

	if ((int)map_size(p->by_key) < p->max)
		return true;
	if (!online || !p->offline)
		return false;
	map_walk(p->by_key, find_offline, &v);
	if (v.found)
		peer_del(p, v.found);
	return v.found != NULL;
}

static struct peer *peer_new(struct peers *p, const char *agent, const char *local)
{
	struct peer *peer = calloc(1, sizeof(*peer));

	if (!peer)
		return NULL;
	snprintf(peer->key, sizeof(peer->key), "%s/%s", agent, local);
	if (map_put(p->by_key, peer->key, peer)) {
		free(peer);
		return NULL;
	}
	return peer;
}

static void peer_set(struct peers *p, struct peer *peer, const struct status *st)
{
	if (peer->offline != !st->online)
		p->offline += st->online ? -1 : 1;
	peer->offline = !st->online;
	peer->st = *st;
}

enum peer_change peers_update(struct peers *p, const char *agent, const char *local,
	const void *payload, size_t len, const struct status **st_out)
{
	struct peer *peer = peer_get(p, agent, local);
	struct status st;

	status_parse(payload, len, &st);
	if (st_out)
		*st_out = NULL;
	if (!peer && len > 0 && !peers_room(p, st.online))
		return PEER_REFUSED;
	if (!st.online) {
		bool was_online = peer && peer->st.online;
		if (len == 0 && peer) { /* the retained status was cleared: unknown again */
			peer_del(p, peer);
		} else if (len > 0 && (peer || (peer = peer_new(p, agent, local)))) {
			peer_set(p, peer, &st); /* known to be offline: new flows to it fail fast */
			if (st_out)
				*st_out = &peer->st;
		}
		return was_online ? PEER_WENT_OFFLINE : PEER_UNCHANGED;
	}
	if (!peer && !(peer = peer_new(p, agent, local)))
		return PEER_UNCHANGED;
	peer_set(p, peer, &st);
	if (st_out)
		*st_out = &peer->st;
	return PEER_ONLINE;
}

int peers_count(const struct peers *p)
{
	return (int)map_size(p->by_key);
}

const struct status *peers_get(const struct peers *p, const char *agent, const char *local)
{
	struct peer *peer = peer_get(p, agent, local);

	return peer ? &peer->st : NULL;
}

void peers_mark_verified(struct peers *p, const char *agent, const char *local)
{
	struct peer *peer = peer_get(p, agent, local);

	if (peer)
		peer->st.verified = true;
}

struct walk {
	void (*fn)(const char *key, const struct status *st, void *arg);
	void *arg;
};

static void visit(const char *key, void *val, void *arg)
{
	struct walk *w = arg;

	w->fn(key, &((struct peer *)val)->st, w->arg);
}

void peers_walk(const struct peers *p,
	void (*fn)(const char *key, const struct status *st, void *arg), void *arg)
{
	struct walk w = { fn, arg };

	map_walk(p->by_key, visit, &w);
}
