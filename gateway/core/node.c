/* One MQTT endpoint running one role: its connection, peers' status, flow table and counters. */
#include "node.h"

#include <errno.h>
#include <malloc.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "gateway/lib/clock.h"
#include "gateway/lib/log.h"
#include "gateway/lib/map.h"
#include "mqtt/client.h"
#include "status.h"

#define PUBLISH_OVERHEAD 8 /* fixed header (1 + up to 4 length bytes) + 2-byte topic length, and one spare */
#define RBUF_SIZE (64 * 1024 + 64)

struct peer {
	char key[2 * MQTT_LEVEL_MAX + 2];
	struct status st;
};

int node_flow_key(char *buf, size_t len, const char *agent, const char *local,
	enum mqtt_proto proto, const char *src, const char *dst)
{
	int n = snprintf(buf, len, "%s/%s/%s/%s/%s", agent, local, mqtt_proto_name(proto), src, dst);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static struct peer *peer_get(struct node *n, const char *agent, const char *local)
{
	char key[2 * MQTT_LEVEL_MAX + 2];

	snprintf(key, sizeof(key), "%s/%s", agent, local);
	return map_get(n->peers, key);
}

/* Bytes malloc has handed out (heap and mmapped chunks), at most max_age_ms old. */
static size_t node_heap(struct node *n, uint64_t max_age_ms)
{
	uint64_t now = node_now_ms();

	if (now - n->heap_checked_ms >= max_age_ms || !n->heap_checked_ms) {
		struct mallinfo2 mi = mallinfo2();
		n->heap_used = mi.uordblks + mi.hblkhd;
		n->heap_checked_ms = now;
	}
	return n->heap_used;
}

bool node_admit_flow(struct node *n)
{
	char why[96];
	size_t open = map_size(n->flows), heap;

	if ((int)open >= n->cfg.max_flows)
		snprintf(why, sizeof(why), "%zu open (--max-flows %d)", open, n->cfg.max_flows);
	else if (n->cfg.max_memory && (heap = node_heap(n, 100)) >= n->cfg.max_memory)
		snprintf(why, sizeof(why), "heap %zu MiB, over --max-memory %zu MiB", heap >> 20,
			n->cfg.max_memory >> 20);
	else
		return true;
	n->stats.over_limit++;
	uint64_t now = node_now_ms();
	if (now - n->limit_logged_ms >= 1000 || !n->limit_logged_ms) {
		log_warnx("%s: refusing new flows: %s", n->name, why);
		n->limit_logged_ms = now;
	}
	return false;
}

size_t node_flow_cap(struct node *n, size_t queued)
{
	/* only a flow with more than the tight cap queued asks, and at 1 ms it
	 * sees the heap fresh enough not to overshoot by much at any speed */
	if (queued > NODE_TIGHT_FLOW_CAP && n->cfg.max_memory && node_heap(n, 1) >= n->cfg.max_memory)
		return NODE_TIGHT_FLOW_CAP;
	return FLOW_OUT_CAP;
}

uint64_t node_now_ms(void)
{
	return clock_ms();
}

bool node_peer_online(struct node *n, const char *agent, const char *local)
{
	struct peer *p = peer_get(n, agent, local);

	return p && p->st.online;
}

bool node_peer_offline(struct node *n, const char *agent, const char *local)
{
	struct peer *p = peer_get(n, agent, local);

	return p && !p->st.online;
}

size_t node_chunk_for(struct node *n, const char *peer_agent, const char *peer_local,
	size_t topic_len)
{
	struct peer *p = peer_get(n, peer_agent, peer_local);
	size_t max = STATUS_COMPAT_PACKET;

	/* a local learns the agent's size, an agent the local's; ids "-" of both kinds share a topic */
	if (p && p->st.max_packet && (!strcmp(p->st.role, "agent") == !n->is_agent))
		max = (size_t)p->st.max_packet;
	if (max > RBUF_SIZE)
		max = RBUF_SIZE;
	if (max < topic_len + PUBLISH_OVERHEAD + 512)
		return 512;
	return max - topic_len - PUBLISH_OVERHEAD;
}

int node_publish(struct node *n, const char *topic, const void *payload, size_t len)
{
	int err = mqtt_client_publish(n->mqtt, topic, payload, len);

	if (err)
		return err;
	n->stats.msgs_up++;
	n->stats.bytes_up += len;
	if (mqtt_client_congested(n->mqtt) && !n->paused) {
		log_debug("%s: mqtt backlog %zu bytes, pausing reads", n->name,
			mqtt_client_backlog(n->mqtt));
		flow_pause_all(n, true);
	}
	return 0;
}

void node_publish_status(struct node *n, bool online)
{
	char buf[STATUS_JSON_MAX];
	const char *id = n->is_agent ? n->cfg.agent_id : n->cfg.local_id;
	int len = online ? status_build(buf, sizeof(buf), n->role->name, id, n->cfg.advertise,
				   n->cfg.n_advertise)
			 : (int)strlen(strcpy(buf, STATUS_WILL));

	if (len > 0)
		mqtt_client_publish_retained(n->mqtt, n->status_topic, buf, (size_t)len);
}

void node_connected(struct node *n, char patterns[2][MQTT_TOPIC_MAX])
{
	const char *prefix = n->cfg.url.prefix;

	if (n->is_agent)
		snprintf(patterns[0], MQTT_TOPIC_MAX, "%s/%s/+/i/#", prefix, n->cfg.agent_id);
	else
		snprintf(patterns[0], MQTT_TOPIC_MAX, "%s/+/%s/o/#", prefix, n->cfg.local_id);
	snprintf(patterns[1], MQTT_TOPIC_MAX, "%s/+/+/v/#", prefix);
	node_publish_status(n, true);
}

void node_disconnected(struct node *n)
{
	flow_close_all(n, "broker connection lost", NULL, NULL);
	if (n->paused)
		flow_pause_all(n, false);
}

void node_drained(struct node *n)
{
	if (n->paused) {
		log_debug("%s: mqtt backlog drained, resuming reads", n->name);
		flow_pause_all(n, false);
	}
}

static void peer_went_offline(struct node *n, const struct mqtt_topic *t)
{
	bool agent_status = strcmp(t->agent, MQTT_NIL) != 0;

	if (!n->is_agent && agent_status)
		flow_close_all(n, "agent went offline", t->agent, NULL);
	else if (n->is_agent && !agent_status)
		flow_close_all(n, "local went offline", NULL, t->local);
}

static struct peer *peer_new(struct node *n, const struct mqtt_topic *t)
{
	struct peer *peer = calloc(1, sizeof(*peer));

	if (!peer)
		return NULL;
	snprintf(peer->key, sizeof(peer->key), "%s/%s", t->agent, t->local);
	if (map_put(n->peers, peer->key, peer)) {
		free(peer);
		return NULL;
	}
	return peer;
}

static void node_on_status(struct node *n, const struct mqtt_topic *t, const void *p, size_t len)
{
	struct peer *peer = peer_get(n, t->agent, t->local);
	struct status st;

	status_parse(p, len, &st);
	if (!st.online) {
		bool was_online = peer && peer->st.online;
		if (len == 0 && peer) { /* the retained status was cleared: unknown again */
			map_del(n->peers, peer->key);
			free(peer);
		} else if (len > 0 && (peer || (peer = peer_new(n, t)))) {
			peer->st = st; /* known to be offline: new flows to it fail fast */
		}
		if (was_online) {
			if (!n->quiet_peers)
				log_info("peer %s/%s went offline", t->agent, t->local);
			peer_went_offline(n, t);
			if (n->role->on_peer)
				n->role->on_peer(n, t->agent, t->local, NULL);
		}
		return;
	}
	if (!peer && !(peer = peer_new(n, t)))
		return;
	peer->st = st;
	if (!n->quiet_peers)
		log_info("peer %s online (role %s, max_packet %d, %d routes)", peer->key,
		st.role[0] ? st.role : "?", st.max_packet, st.n_routes);
	if (n->role->on_peer)
		n->role->on_peer(n, t->agent, t->local, &st);
}

void node_status_message(struct node *n, const struct mqtt_topic *t, const char *topic,
	const void *payload, size_t len)
{
	if (strcmp(topic, n->status_topic))
		node_on_status(n, t, payload, len);
}

void node_data(struct node *n, const struct mqtt_topic *t, const char *topic, const void *payload,
	size_t len)
{
	if (len > STATUS_MAX_PACKET) {
		n->stats.bad_payload++;
		log_debug("mqtt: %zu-byte payload over %d dropped: %.200s", len, STATUS_MAX_PACKET,
			topic);
		return;
	}
	n->stats.msgs_down++;
	n->stats.bytes_down += len;
	n->role->on_data(n, t, payload, len);
}

int node_init(struct node *n, struct event_base *base, const struct node_config *cfg,
	const struct role_ops *role, bool is_agent)
{
	memset(n, 0, sizeof(*n));
	n->base = base;
	n->cfg = *cfg;
	n->role = role;
	n->is_agent = is_agent;
	snprintf(n->name, sizeof(n->name), "%s", role->name);
	n->started_ms = node_now_ms();
	TAILQ_INIT(&n->flow_list);
	if (mqtt_topic_status(n->status_topic, sizeof(n->status_topic), n->cfg.url.prefix,
		    is_agent ? n->cfg.agent_id : MQTT_NIL, is_agent ? MQTT_NIL : n->cfg.local_id) < 0)
		return -EINVAL;
	n->flows = map_new();
	n->peers = map_new();
	n->rbuf_size = RBUF_SIZE;
	n->rbuf = malloc(n->rbuf_size);
	if (!n->flows || !n->peers || !n->rbuf)
		return -ENOMEM;
	return 0;
}

void node_log_stats(const struct node *n, bool always)
{
	const struct node_stats *s = &n->stats;
	void (*out)(const char *, ...) = always ? log_warnx : log_info;

	out("%s stats: flows open %lu lingering %lu opened %lu closed %lu overflowed %lu; "
		  "published %llu msgs %llu bytes; received %llu msgs %llu bytes; "
		  "dropped: bad_topic %lu bad_payload %lu unknown_flow %lu udp %lu refused %lu over_limit %lu; "
		  "mqtt reconnects %lu",
		n->name, s->flows_opened - s->flows_closed, s->flows_lingering, s->flows_opened, s->flows_closed, s->flows_overflowed, s->msgs_up,
		s->bytes_up, s->msgs_down, s->bytes_down, s->bad_topic, s->bad_payload,
		s->unknown_flow, s->udp_dropped, s->refused, s->over_limit, mqtt_client_reconnects(n->mqtt));
}

void node_stop(struct node *n)
{
	n->stopping = true;
	if (n->role->on_stop)
		n->role->on_stop(n);
	flow_close_all(n, "shutting down", NULL, NULL);
	if (n->mqtt && mqtt_client_connected(n->mqtt))
		node_publish_status(n, false); /* a clean disconnect does not fire the will */
}

void node_free(struct node *n)
{
	flow_destroy_all(n);
	if (n->peers)
		map_clear(n->peers, free);
	if (!n->flows_shared)
		map_free(n->flows);
	map_free(n->peers);
	if (n->dns)
		evdns_base_free(n->dns, 0);
	free(n->rbuf);
}

/* Copies the keys a reload applies from src to dst. */
static void reloadable_copy(struct node_config *dst, const struct node_config *src)
{
	memcpy(dst->routes, src->routes, sizeof(dst->routes));
	dst->n_routes = src->n_routes;
	memcpy(dst->excludes, src->excludes, sizeof(dst->excludes));
	dst->n_excludes = src->n_excludes;
	memcpy(dst->allow, src->allow, sizeof(dst->allow));
	dst->n_allow = src->n_allow;
	memcpy(dst->advertise, src->advertise, sizeof(dst->advertise));
	dst->n_advertise = src->n_advertise;
	memcpy(dst->socks_user, src->socks_user, sizeof(dst->socks_user));
	memcpy(dst->socks_pass, src->socks_pass, sizeof(dst->socks_pass));
	dst->max_flows = src->max_flows;
	dst->max_memory = src->max_memory;
}

void node_reload(struct node *n, const struct node_config *fresh)
{
	static struct node_config next, others;
	bool advertise_changed = n->cfg.n_advertise != fresh->n_advertise ||
		memcmp(n->cfg.advertise, fresh->advertise, sizeof(fresh->advertise));

	others = *fresh;
	reloadable_copy(&others, &n->cfg);
	if (memcmp(&others, &n->cfg, sizeof(others)))
		log_warnx("reload: [%s]: keys other than route, exclude, allow, advertise, "
			  "socks-user, max-flows and max-memory changed: they take a restart", n->name);
	next = n->cfg;
	reloadable_copy(&next, fresh);
	if (n->role->reload && n->role->reload(n, &next)) {
		log_warnx("reload: [%s]: keeping its running config", n->name);
		return;
	}
	n->cfg = next;
	if (advertise_changed && n->mqtt && mqtt_client_connected(n->mqtt))
		node_publish_status(n, true);
	log_info("reload: [%s]: %d routes, %d excludes, %d allow rules, %d advertised", n->name,
		n->cfg.n_routes, n->cfg.n_excludes, n->cfg.n_allow, n->cfg.n_advertise);
}

struct peers_walk {
	void (*fn)(const char *key, const struct status *st, void *arg);
	void *arg;
};

static void peer_visit(const char *key, void *val, void *arg)
{
	struct peers_walk *w = arg;

	w->fn(key, &((struct peer *)val)->st, w->arg);
}

void node_peers_walk(struct node *n, void (*fn)(const char *key, const struct status *st, void *arg),
	void *arg)
{
	struct peers_walk w = { fn, arg };

	map_walk(n->peers, peer_visit, &w);
}
