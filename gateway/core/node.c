/* One role on the hub's MQTT connection: its id and status, its peers' statuses, its flow table and counters. */
#include "node.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "grace.h"
#include "gateway/lib/clock.h"
#include "gateway/lib/json.h"
#include "gateway/lib/log.h"
#include "mqtt/client.h"
#include "mqtt/url.h"
#include "peers.h"
#include "pool.h"
#include "status.h"

#define PUBLISH_OVERHEAD                                                                           \
	8 /* fixed header (1 + up to 4 length bytes) + 2-byte topic length, and one spare */

const char *node_id(const struct node *n)
{
	return n->role->is_agent ? n->cfg.agent_id : n->cfg.local_id;
}

static void node_peer_gone(void *arg, const char *agent, const char *local);

static void respoof_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	(void)fd;
	(void)what;

	log_set_role(n->name);
	n->respoofed_ms = clock_ms();
	if (!n->stopping && n->mqtt && mqtt_client_connected(n->mqtt))
		node_publish_status(n, true);
	log_set_role(NULL);
}

static int node_flow_publish(void *arg, const char *topic, const void *payload, size_t len)
{
	return node_publish(arg, topic, payload, len);
}

/* --seal-key, read now: before start-up drops root, who may be the only one who can read it. */
static int node_seal_init(struct node *n)
{
	uint8_t priv[KEY_LEN];
	char err[KEY_ERR_MAX];

	if (!n->cfg.seal_key[0])
		return 0;
	if (keys_init())
		return -EIO;
	if (keys_read(priv, n->cfg.seal_key, "--seal-key", err)) {
		log_errorx("%s", err);
		return -EINVAL;
	}
	n->seal_self = sodium_malloc(sizeof(*n->seal_self));
	int rc = n->seal_self ? keys_pair(n->seal_self, priv) : -ENOMEM;
	sodium_memzero(priv, sizeof(priv));
	if (!rc) {
		char pub[KEY_TEXT_LEN + 1];
		keys_encode(pub, n->seal_self->pub);
		log_info("encrypted flows: our public key is %s", pub);
	}
	return rc;
}

int node_init(struct node *n, struct event_base *base, const struct mqtt_url *url, const char *name,
	const struct node_config *cfg, const void *role_cfg, const struct role_ops *role)
{
	memset(n, 0, sizeof(*n));
	n->base = base;
	n->url = url;
	n->cfg = *cfg;
	n->role = role;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->started_ms = clock_ms();
	if (mqtt_topic_status(n->status_topic, sizeof(n->status_topic), url->prefix,
		    role->is_agent ? cfg->agent_id : MQTT_NIL,
		    role->is_agent ? MQTT_NIL : cfg->local_id) < 0)
		return -EINVAL;
	struct flow_table_config fc = {
		.base = base,
		.publish = node_flow_publish,
		.publish_arg = n,
		.name = n->name,
		.limits = cfg->limits,
		.stats = &n->stats.flow,
		.is_local = !role->is_agent,
	};
	n->own_len = -1;
	n->status_lines =
		(struct log_budget){ .per_second = NODE_STATUS_LOGS, .what = "peer status lines" };
	n->role_cfg = malloc(role->config_size ? role->config_size : 1);
	n->peers = peers_new(PEERS_MAX);
	n->gone = grace_new(base, PEERS_MAX, NODE_OFFLINE_GRACE_MS, node_peer_gone, n);
	n->ev_respoof = evtimer_new(base, respoof_cb, n);
	if (!n->role_cfg || !n->peers || !n->gone || !n->ev_respoof ||
		flow_table_new(&fc, &n->flows))
		return -ENOMEM;
	memcpy(n->role_cfg, role_cfg, role->config_size);
	return node_seal_init(n);
}

const uint8_t *node_seal_pin(const struct node *n, const char *agent)
{
	if (!n->seal_self)
		return NULL;
	for (int i = 0; i < n->cfg.n_seal_pins; i++)
		if (!strcmp(n->cfg.seal_pins[i].agent, agent))
			return n->cfg.seal_pins[i].pub;
	return NULL;
}

size_t node_chunk_for(struct node *n, const char *peer_agent, const char *peer_local,
	size_t topic_len, enum flow_kind kind)
{
	const struct status *st = peers_get(n->peers, peer_agent, peer_local);
	size_t max = STATUS_COMPAT_PACKET;

	/* a local learns the agent's size, an agent the local's; ids "-" of both kinds share a topic */
	if (st && st->max_packet && (!strcmp(st->role, "agent") == !n->role->is_agent))
		max = (size_t)st->max_packet;
	if (kind == FLOW_STREAM && max > (size_t)n->cfg.packet_size)
		max = (size_t)n->cfg.packet_size; /* a datagram is one publish, whatever its size */
	if (max > n->flows->rbuf_size)
		max = n->flows->rbuf_size;
	if (max < topic_len + PUBLISH_OVERHEAD + 512)
		return 512;
	return max - topic_len - PUBLISH_OVERHEAD;
}

bool node_peer_online(struct node *n, const char *agent, const char *local)
{
	const struct status *st = peers_get(n->peers, agent, local);

	return st && st->online;
}

bool node_peer_streams(struct node *n, const char *agent, const char *local)
{
	const struct status *st = peers_get(n->peers, agent, local);

	return !n->cfg.plain_streams && st && st->online && st->streams >= STATUS_STREAMS;
}

static bool member_online(void *arg, const char *member)
{
	return node_peer_online(arg, member, MQTT_NIL);
}

const char *node_pick_agent(struct node *n, const char *spec, const void *flow_id, size_t flow_len,
	char out[NODE_ID_MAX])
{
	if (!strchr(spec, ','))
		return spec;
	pool_pick(spec, flow_id, flow_len, member_online, n, out, NODE_ID_MAX);
	return out;
}

struct pool_render {
	struct node *n;
	const char *spec;
	struct evbuffer *out;
	int members;
};

static void member_json(const char *member, void *arg)
{
	struct pool_render *r = arg;

	evbuffer_add_printf(r->out, "%s{\"id\":", r->members++ ? "," : "");
	json_string(r->out, member);
	evbuffer_add_printf(r->out, ",\"online\":%s}",
		node_peer_online(r->n, member, MQTT_NIL) ? "true" : "false");
}

void node_pool_json(struct node *n, const char *spec, struct evbuffer *out, int *count)
{
	struct pool_render r = { n, spec, out, 0 };

	evbuffer_add_printf(out, "%s{\"pool\":", (*count)++ ? "," : "");
	json_string(out, spec);
	evbuffer_add_printf(out, ",\"members\":[");
	pool_walk(spec, NODE_ID_MAX, member_json, &r);
	evbuffer_add_printf(out, "]}");
}

static void member_metric(const char *member, void *arg)
{
	struct pool_render *r = arg;

	evbuffer_add_printf(r->out, "net4mqtt_pool_member_online{role=");
	json_string(r->out, r->n->name);
	evbuffer_add_printf(r->out, ",pool=");
	json_string(r->out, r->spec);
	evbuffer_add_printf(r->out, ",agent=");
	json_string(r->out, member);
	evbuffer_add_printf(r->out, "} %d\n", node_peer_online(r->n, member, MQTT_NIL));
}

void node_pool_metrics(struct node *n, const char *spec, struct evbuffer *out)
{
	struct pool_render r = { n, spec, out, 0 };

	pool_walk(spec, NODE_ID_MAX, member_metric, &r);
}

bool node_peer_icmp(struct node *n, const char *agent)
{
	const struct status *st = peers_get(n->peers, agent, MQTT_NIL);

	return st && st->online && st->icmp;
}

bool node_peer_offline(struct node *n, const char *agent, const char *local)
{
	const struct status *st = peers_get(n->peers, agent, local);

	return st && !st->online;
}

int node_publish(struct node *n, const char *topic, const void *payload, size_t len)
{
	int err = mqtt_client_publish(n->mqtt, topic, payload, len);

	if (err)
		return err;
	n->stats.msgs_up++;
	n->stats.bytes_up += len;
	return 0;
}

/* A keyed node's status (json, ending in '}'): with "seal" and "epoch", signed into buf. */
static int node_status_sign(struct node *n, char *json, int len, char *buf, size_t cap)
{
	char tail[64];
	int t = snprintf(
		tail, sizeof(tail), ",\"seal\":1,\"epoch\":%llu}", (unsigned long long)n->epoch);

	if (len <= 0 || (size_t)len + (size_t)t >= STATUS_JSON_MAX)
		return -ENAMETOOLONG;
	memcpy(json + len - 1, tail, (size_t)t + 1);
	return keys_status_sign(
		n->seal_self, n->status_topic, json, (size_t)(len - 1 + t), buf, cap);
}

/* The online status: the role's capabilities and the subnets it advertises (signed, keyed). */
static int node_status_json(struct node *n, char *buf, size_t len)
{
	const struct nl_prefix *routes = NULL;
	int n_routes = n->role->advertised ? n->role->advertised(n, &routes) : 0;
	char json[STATUS_JSON_MAX];

	if (!n->seal_self)
		return status_build(buf, len, n->role->name, node_id(n),
			n->cfg.plain_streams ? 0 : STATUS_STREAMS, n->icmp_echo, routes, n_routes);
	int jlen = status_build(json, sizeof(json), n->role->name, node_id(n), STATUS_STREAMS,
		n->icmp_echo, routes, n_routes);
	return node_status_sign(n, json, jlen, buf, len);
}

int node_will(struct node *n, char *buf, size_t len)
{
	char json[STATUS_JSON_MAX] = "{\"online\":false}";

	if (!n->seal_self)
		return snprintf(buf, len, "%s", STATUS_WILL);
	return node_status_sign(n, json, (int)strlen(json), buf, len);
}

void node_new_epoch(struct node *n, uint64_t epoch)
{
	n->epoch = epoch;
}

void node_publish_status(struct node *n, bool online)
{
	char buf[STATUS_JSON_MAX];
	int len = online ? node_status_json(n, buf, sizeof(buf)) : node_will(n, buf, sizeof(buf));

	if (len <= 0)
		return;
	memcpy(n->own_status, buf, (size_t)len);
	n->own_len = len;
	mqtt_client_publish_retained(n->mqtt, n->status_topic, buf, (size_t)len);
}

bool node_status_is_own(const struct node *n, const void *payload, size_t len)
{
	if (n->stopping)
		return true; /* our own "{}" on the way out, or a spoof no longer worth answering */
	return n->own_len >= 0 && len == (size_t)n->own_len && !memcmp(payload, n->own_status, len);
}

void node_status_spoofed(struct node *n, const void *payload, size_t len)
{
	uint64_t now = clock_ms();

	n->stats.status_spoofed++;
	if (log_second_due(&n->spoof_logged_ms)) {
		/* our will is signed when we have a key: made only when a line is due */
		char will[STATUS_JSON_MAX];
		int will_len = node_will(n, will, sizeof(will));
		if (will_len > 0 && len == (size_t)will_len && !memcmp(payload, will, len))
			log_warnx("%s: our will, which the broker publishes when it loses "
				  "us or stops (or a copy; %lu statuses not ours so far): "
				  "republishing our status",
				n->status_topic, n->stats.status_spoofed);
		else
			log_warnx("%s: a status that is not ours (%lu so far; another "
				  "process with id %s?): republishing ours",
				n->status_topic, n->stats.status_spoofed, node_id(n));
	}
	if (evtimer_pending(n->ev_respoof, NULL))
		return;
	/* at once, but not in a tight loop with a second process that has our id */
	uint64_t wait = now - n->respoofed_ms >= NODE_RESPOOF_MS
				? 0
				: NODE_RESPOOF_MS - (now - n->respoofed_ms);
	struct timeval tv = { 0, (suseconds_t)wait * 1000 };
	if (wait == 0)
		respoof_cb(-1, 0, n);
	else
		evtimer_add(n->ev_respoof, &tv);
}

void node_connected(struct node *n, char patterns[2][MQTT_TOPIC_MAX])
{
	const char *prefix = n->url->prefix;

	if (n->role->is_agent)
		snprintf(patterns[0], MQTT_TOPIC_MAX, "%s/%s/+/i/#", prefix, n->cfg.agent_id);
	else
		snprintf(patterns[0], MQTT_TOPIC_MAX, "%s/+/%s/o/#", prefix, n->cfg.local_id);
	snprintf(patterns[1], MQTT_TOPIC_MAX, "%s/+/+/v/#", prefix);
	node_publish_status(n, true);
}

void node_congested(struct node *n, bool congested)
{
	if (n->flows->paused == congested)
		return;
	log_debug("%s: mqtt backlog %s", n->name,
		congested ? "over its high watermark, pausing reads" : "drained, resuming reads");
	flow_pause_all(n->flows, congested);
	if (n->role->on_pause)
		n->role->on_pause(n, congested);
}

void node_disconnected(struct node *n)
{
	flow_close_all(n->flows, "broker connection lost", NULL, NULL);
	node_congested(n, false);
}

/* The flows with a peer that went offline end: an agent's at a local, a local's at the agent. */
static void peer_went_offline(struct node *n, const char *agent, const char *local)
{
	bool agent_status = strcmp(agent, MQTT_NIL) != 0;

	if (!n->role->is_agent && agent_status)
		flow_close_all(n->flows, "agent went offline", agent, NULL);
	else if (n->role->is_agent && !agent_status)
		flow_close_all(n->flows, "local went offline", NULL, local);
}

/* Peer status lines: at most NODE_STATUS_LOGS a second, then how many were left out. */
static bool status_log_ok(struct node *n)
{
	if (n->quiet_peers)
		return false;
	if (log_budget_ok(&n->status_lines))
		return true;
	n->stats.status_logs_suppressed++;
	return false;
}

/* Offline for the whole grace: its flows end now. */
static void node_gone(struct node *n, const char *agent, const char *local)
{
	if (node_peer_online(n, agent, local))
		return; /* online again since (grace_cancel drops it too) */
	if (status_log_ok(n))
		log_info("peer %s/%s went offline", agent, local);
	peer_went_offline(n, agent, local);
	if (n->role->on_peer)
		n->role->on_peer(n, agent, local, NULL);
}

static void node_peer_gone(void *arg, const char *agent, const char *local)
{
	struct node *n = arg;

	log_set_role(n->name);
	node_gone(n, agent, local);
	log_set_role(NULL);
}

static void peer_refused(struct node *n, const struct mqtt_topic *t)
{
	n->stats.peers_refused++;
	if (!log_second_due(&n->refused_logged_ms))
		return;
	log_warnx("peer table full (%d peers): status of %s/%s ignored (%lu so far)", PEERS_MAX,
		t->agent, t->local, n->stats.peers_refused);
}

/* The key a peer's statuses must be signed with: an agent a local pinned, a local an agent
 * knows from its encrypted flows; NULL: any status counts. */
static const uint8_t *node_status_key(struct node *n, const struct mqtt_topic *t)
{
	if (!n->role->is_agent)
		return strcmp(t->local, MQTT_NIL) ? NULL : node_seal_pin(n, t->agent);
	if (strcmp(t->agent, MQTT_NIL) || !n->role->status_key)
		return NULL;
	return n->role->status_key(n, t->local);
}

/* A keyed peer's status: signed by its key, and not older than the last one taken (an
 * online of a connection after that connection's will, or an earlier connection's). */
static bool node_status_genuine(struct node *n, const struct mqtt_topic *t, const char *topic,
	const void *payload, size_t len)
{
	const uint8_t *key = node_status_key(n, t);
	const struct status *last;
	struct status st;
	const char *why = NULL;

	if (!key)
		return true;
	if (keys_status_verify(key, topic, payload, len)) {
		why = len ? "not signed by its key" : "cleared";
	} else if ((last = peers_get(n->peers, t->agent, t->local)) && last->verified) {
		/* (an unsigned one, taken before we knew the key, orders nothing: a stranger's) */
		status_parse(payload, len, &st);
		if (st.epoch < last->epoch ||
			(st.epoch == last->epoch && st.online && !last->online))
			why = "older than the last one (replayed)";
	}
	if (!why)
		return true;
	n->stats.status_forged++;
	if (log_second_due(&n->forged_logged_ms))
		log_warnx("peer %s/%s: a status %s: ignored (%lu so far)", t->agent, t->local, why,
			n->stats.status_forged);
	return false;
}

void node_status_message(struct node *n, const struct mqtt_topic *t, const char *topic,
	const void *payload, size_t len)
{
	const struct status *st;

	if (!strcmp(topic, n->status_topic))
		return; /* our own (the hub checked it is) */
	if (!node_status_genuine(n, t, topic, payload, len))
		return;
	enum peer_change change = peers_update(n->peers, t->agent, t->local, payload, len, &st);
	if (node_status_key(n, t))
		peers_mark_verified(n->peers, t->agent, t->local);
	switch (change) {
	case PEER_WENT_OFFLINE:
		if (status_log_ok(n))
			log_debug("peer %s/%s says offline: its flows end in %d ms unless it "
				  "says online again",
				t->agent, t->local, NODE_OFFLINE_GRACE_MS);
		if (grace_add(n->gone, t->agent, t->local))
			node_gone(n, t->agent, t->local); /* too many waiting: at once */
		break;
	case PEER_ONLINE:
		grace_cancel(n->gone, t->agent, t->local);
		if (status_log_ok(n))
			log_info("peer %s/%s online (role %s, max_packet %d, %d routes)", t->agent,
				t->local, st->role[0] ? st->role : "?", st->max_packet,
				st->n_routes);
		if (n->role->on_peer)
			n->role->on_peer(n, t->agent, t->local, st);
		break;
	case PEER_REFUSED:
		peer_refused(n, t);
		break;
	case PEER_UNCHANGED:
		break;
	}
}

void node_data(struct node *n, const struct mqtt_topic *t, const char *topic, const void *payload,
	size_t len)
{
	if (len > STATUS_MAX_PACKET) {
		n->stats.flow.bad_payload++;
		log_debug("mqtt: %zu-byte payload over %d dropped: %.200s", len, STATUS_MAX_PACKET,
			topic);
		return;
	}
	n->stats.msgs_down++;
	n->stats.bytes_down += len;
	n->role->on_data(n, t, payload, len);
}

void node_log_stats(const struct node *n, bool always)
{
	const struct node_stats *s = &n->stats;
	const struct flow_stats *f = &s->flow;
	void (*out)(const char *, ...) = always ? log_warnx : log_info;

	out("stats: flows open %lu lingering %lu opened %lu closed %lu overflowed %lu; "
	    "published %llu msgs %llu bytes; received %llu msgs %llu bytes; "
	    "dropped: bad_topic %lu bad_payload %lu unknown_flow %lu udp %lu udp_rcvbuf %lu "
	    "refused %lu over_limit %lu over_peer_limit %lu; streams lost %lu; "
	    "mqtt reconnects %lu",
		f->opened - f->closed, f->lingering, f->opened, f->closed, f->overflowed,
		s->msgs_up, s->bytes_up, s->msgs_down, s->bytes_down, s->bad_topic, f->bad_payload,
		f->unknown_flow, f->udp_dropped, f->udp_rcvbuf_dropped, s->refused, f->over_limit,
		s->over_peer_limit, f->lost, mqtt_client_reconnects(n->mqtt));
}

void node_stop(struct node *n)
{
	n->stopping = true;
	n->flows->stopping = true;
	if (n->role->on_stop)
		n->role->on_stop(n);
	flow_close_all(n->flows, "shutting down", NULL, NULL);
	if (n->mqtt && mqtt_client_connected(n->mqtt))
		node_publish_status(n, false); /* a clean disconnect does not fire the will */
}

void node_free(struct node *n)
{
	if (n->flows)
		flow_destroy_all(n->flows);
	flow_table_free(n->flows);
	grace_free(n->gone);
	if (n->ev_respoof)
		event_free(n->ev_respoof);
	peers_free(n->peers);
	free(n->role_cfg);
	if (n->seal_self) {
		keys_wipe(n->seal_self);
		sodium_free(n->seal_self);
	}
}

/* The config with fresh's values for what a reload applies, and cur's for the rest. */
static void node_config_reloadable(struct node_config *dst, const struct node_config *src)
{
	dst->limits.max_flows = src->limits.max_flows;
	dst->limits.max_memory = src->limits.max_memory;
	memcpy(dst->seal_pins, src->seal_pins, sizeof(dst->seal_pins));
	dst->n_seal_pins = src->n_seal_pins;
}

/* Whether fresh differs from the running config in what a reload cannot apply. */
static bool node_restart_keys_changed(const struct node *n, const struct node_config *fresh,
	const void *fresh_role, void *scratch)
{
	struct node_config others = *fresh;

	node_config_reloadable(&others, &n->cfg);
	memcpy(scratch, fresh_role, n->role->config_size);
	if (n->role->reloadable)
		n->role->reloadable(scratch, n->role_cfg);
	return memcmp(&others, &n->cfg, sizeof(others)) ||
	       memcmp(scratch, n->role_cfg, n->role->config_size);
}

void node_reload(struct node *n, const struct node_config *fresh, const void *fresh_role)
{
	char before[STATUS_JSON_MAX], after[STATUS_JSON_MAX];
	size_t size = n->role->config_size;
	void *next = malloc(size ? size : 1);

	if (!next) {
		log_warnx("reload: out of memory");
		return;
	}
	if (node_restart_keys_changed(n, fresh, fresh_role, next))
		log_warnx("reload: keys other than route, exclude, bypass, allow, advertise, "
			  "socks-user, max-flows, max-memory and seal-peer changed: they take a "
			  "restart");
	memcpy(next, n->role_cfg, size);
	if (n->role->reloadable)
		n->role->reloadable(next, fresh_role);
	if (n->role->reload && n->role->reload(n, next)) {
		log_warnx("reload: keeping its running config");
		free(next);
		return;
	}
	int had = node_status_json(n, before, sizeof(before));
	node_config_reloadable(&n->cfg, fresh);
	n->flows->limits = n->cfg.limits;
	memcpy(n->role_cfg, next, size);
	free(next);
	int has = node_status_json(n, after, sizeof(after));
	if ((had != has || memcmp(before, after, has > 0 ? (size_t)has : 0)) && n->mqtt &&
		mqtt_client_connected(n->mqtt))
		node_publish_status(n, true);
}
