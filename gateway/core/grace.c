/* Peers that went offline, held a moment before their flows end: a spoofed offline status is contradicted at once. */
#include "grace.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "gateway/lib/clock.h"
#include "gateway/lib/map.h"
#include "mqtt/topic.h"

#define GRACE_KEY_MAX (2 * MQTT_LEVEL_MAX + 2)

struct gone {
	TAILQ_ENTRY(gone) link;
	uint64_t due_ms;
	size_t agent_len; /* key is "AGENT/LOCAL": ids hold no '/' (they are topic levels) */
	char key[];
};

struct grace {
	struct map *by_key;
	TAILQ_HEAD(, gone) queue; /* oldest first: one delay for all, so also soonest due */
	struct event *ev;
	int max;
	uint64_t delay_ms;
	grace_expired_fn *expired;
	void *arg;
};

static void grace_arm(struct grace *g)
{
	struct gone *first = TAILQ_FIRST(&g->queue);
	uint64_t now = clock_ms();

	if (!first)
		return;
	uint64_t wait = first->due_ms > now ? first->due_ms - now : 0;
	struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };
	evtimer_add(g->ev, &tv);
}

static void gone_del(struct grace *g, struct gone *e)
{
	TAILQ_REMOVE(&g->queue, e, link);
	map_del(g->by_key, e->key);
	free(e);
}

static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct grace *g = arg;
	uint64_t now = clock_ms();
	struct gone *e;
	(void)fd;
	(void)what;

	while ((e = TAILQ_FIRST(&g->queue)) && e->due_ms <= now) {
		char ids[GRACE_KEY_MAX];
		memcpy(ids, e->key, strlen(e->key) + 1);
		ids[e->agent_len] = '\0';
		gone_del(g, e); /* before the callback, which may add or cancel */
		g->expired(g->arg, ids, ids + strlen(ids) + 1);
	}
	grace_arm(g);
}

struct grace *grace_new(
	struct event_base *base, int max, uint64_t delay_ms, grace_expired_fn *expired, void *arg)
{
	struct grace *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	TAILQ_INIT(&g->queue);
	g->max = max;
	g->delay_ms = delay_ms;
	g->expired = expired;
	g->arg = arg;
	if (!(g->by_key = map_new()) || !(g->ev = evtimer_new(base, grace_cb, g))) {
		grace_free(g);
		return NULL;
	}
	return g;
}

void grace_free(struct grace *g)
{
	struct gone *e;

	if (!g)
		return;
	while ((e = TAILQ_FIRST(&g->queue)))
		gone_del(g, e);
	if (g->ev)
		event_free(g->ev);
	map_free(g->by_key);
	free(g);
}

int grace_add(struct grace *g, const char *agent, const char *local)
{
	size_t alen = strlen(agent), llen = strlen(local);
	char key[GRACE_KEY_MAX];

	if (alen + llen + 2 > sizeof(key))
		return -ENAMETOOLONG;
	memcpy(key, agent, alen);
	key[alen] = '/';
	memcpy(key + alen + 1, local, llen + 1);
	if (map_get(g->by_key, key))
		return 0;
	if ((int)map_size(g->by_key) >= g->max)
		return -ENOSPC;
	struct gone *e = malloc(sizeof(*e) + alen + llen + 2);
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, alen + llen + 2);
	e->agent_len = alen;
	e->due_ms = clock_ms() + g->delay_ms;
	if (map_put(g->by_key, e->key, e)) {
		free(e);
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(&g->queue, e, link);
	if (!evtimer_pending(g->ev, NULL))
		grace_arm(g);
	return 0;
}

void grace_cancel(struct grace *g, const char *agent, const char *local)
{
	char key[GRACE_KEY_MAX];
	struct gone *e;

	if (map_size(g->by_key) == 0 ||
		(size_t)snprintf(key, sizeof(key), "%s/%s", agent, local) >= sizeof(key))
		return;
	if ((e = map_get(g->by_key, key)))
		gone_del(g, e);
}

int grace_count(const struct grace *g)
{
	return (int)map_size(g->by_key);
}
