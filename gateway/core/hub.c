/* One MQTT connection shared by the roles (nodes) of a process: its will, subscriptions and dispatch. */
#include "hub.h"

#include <errno.h>
#include <event2/util.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "gateway/lib/log.h"
#include "gateway/lib/map.h"
#include "mqtt/client.h"
#include "node.h"
#include "status.h"

static void random_client_id(char *buf, size_t len)
{
	static const char alnum[] =
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	unsigned char r[7];

	evutil_secure_rng_get_bytes(r, sizeof(r));
	for (size_t i = 0; i < sizeof(r) && i + 1 < len; i++)
		buf[i] = alnum[r[i] % (sizeof(alnum) - 1)];
	buf[len < 8 ? len - 1 : 7] = '\0';
}

int hub_init(struct hub *h, struct event_base *base, const struct mqtt_url *url)
{
	memset(h, 0, sizeof(*h));
	h->base = base;
	h->url = *url;
	if (url->client_id[0])
		snprintf(h->client_id, sizeof(h->client_id), "%s", url->client_id);
	else
		random_client_id(h->client_id, sizeof(h->client_id));
	h->local_flows = map_new();
	return h->local_flows ? 0 : -ENOMEM;
}

int hub_add(struct hub *h, struct node *n)
{
	if (h->n_nodes >= HUB_NODES_MAX)
		return -ENOSPC;
	for (int i = 0; i < h->n_nodes; i++)
		if (n->role->is_agent && h->nodes[i]->role->is_agent &&
			!strcmp(n->cfg.agent_id, h->nodes[i]->cfg.agent_id))
			return -EEXIST;
	if (!n->role->is_agent)
		flow_table_share_index(n->flows, h->local_flows);
	n->quiet_peers = h->n_nodes > 0;
	h->nodes[h->n_nodes++] = n;
	return 0;
}

static void hub_on_connect(void *arg)
{
	struct hub *h = arg;
	char patterns[2][MQTT_TOPIC_MAX], done[2 * HUB_NODES_MAX][MQTT_TOPIC_MAX];
	int n_done = 0;

	for (int i = 0; i < h->n_nodes; i++) {
		log_set_role(h->nodes[i]->name);
		node_connected(h->nodes[i], patterns);
		for (int p = 0; p < 2; p++) {
			bool dup = false;
			for (int d = 0; d < n_done; d++)
				dup = dup || !strcmp(done[d], patterns[p]);
			if (dup)
				continue; /* locals sharing an id, and everyone's status pattern */
			mqtt_client_subscribe(h->mqtt, patterns[p]);
			strcpy(done[n_done++], patterns[p]);
		}
	}
	log_set_role(NULL);
}

static void hub_on_disconnect(void *arg)
{
	struct hub *h = arg;

	for (int i = 0; i < h->n_nodes; i++) {
		log_set_role(h->nodes[i]->name);
		node_disconnected(h->nodes[i]);
	}
	log_set_role(NULL);
}

static void hub_on_congested(void *arg)
{
	struct hub *h = arg;

	for (int i = 0; i < h->n_nodes; i++) {
		log_set_role(h->nodes[i]->name);
		node_congested(h->nodes[i], true);
	}
	log_set_role(NULL);
}

static void hub_on_drain(void *arg)
{
	struct hub *h = arg;

	for (int i = 0; i < h->n_nodes; i++) {
		log_set_role(h->nodes[i]->name);
		node_congested(h->nodes[i], false);
	}
	log_set_role(NULL);
}

/* Data for a local id: its node, or, when locals share the id, the node whose flow it is. */
static struct node *hub_local_for(struct hub *h, const struct mqtt_topic *t)
{
	struct node *first = NULL;
	char key[FLOW_KEY_MAX];
	bool shared = false;

	for (int i = 0; i < h->n_nodes && !shared; i++) {
		struct node *n = h->nodes[i];
		if (n->role->is_agent || strcmp(n->cfg.local_id, t->local))
			continue;
		shared = first != NULL;
		if (!first)
			first = n;
	}
	if (!shared || flow_key(key, sizeof(key), t->agent, t->local, t->proto, t->src, t->dst))
		return first;
	struct flow *f = map_get(h->local_flows, key);
	for (int i = 0; f && i < h->n_nodes; i++)
		if (h->nodes[i]->flows == f->table)
			return h->nodes[i];
	return first;
}

static struct node *hub_agent_for(struct hub *h, const struct mqtt_topic *t)
{
	for (int i = 0; i < h->n_nodes; i++)
		if (h->nodes[i]->role->is_agent && !strcmp(h->nodes[i]->cfg.agent_id, t->agent))
			return h->nodes[i];
	return NULL;
}

/* A status on a topic one of our nodes publishes on (locals in one process may
 * share an id, and so a topic): unless it is what one of them last published
 * there, someone else wrote it, and the first of them puts its own back. */
static void hub_own_status(struct hub *h, const char *topic, const void *payload, size_t len)
{
	struct node *owner = NULL;

	for (int i = 0; i < h->n_nodes; i++) {
		struct node *n = h->nodes[i];
		if (strcmp(topic, n->status_topic))
			continue;
		if (node_status_is_own(n, payload, len))
			return;
		if (!owner)
			owner = n;
	}
	if (!owner)
		return;
	log_set_role(owner->name);
	node_status_spoofed(owner, payload, len);
}

static void hub_on_message(void *arg, const char *topic, const void *payload, size_t len)
{
	struct hub *h = arg;
	struct mqtt_topic t;
	struct node *n;

	if (h->n_nodes == 0)
		return;
	if (mqtt_topic_parse(h->url.prefix, topic, &t)) {
		h->nodes[0]->stats.bad_topic++;
		log_debug("mqtt: bad topic dropped: %.200s", topic);
		return;
	}
	switch (t.label) {
	case MQTT_LABEL_V:
		hub_own_status(h, topic, payload, len);
		for (int i = 0; i < h->n_nodes; i++) {
			log_set_role(h->nodes[i]->name);
			node_status_message(h->nodes[i], &t, topic, payload, len);
		}
		log_set_role(NULL);
		return;
	case MQTT_LABEL_X:
		return;
	case MQTT_LABEL_I:
		n = hub_agent_for(h, &t);
		break;
	case MQTT_LABEL_O:
	default:
		n = hub_local_for(h, &t);
		break;
	}
	if (!n) {
		h->nodes[0]->stats.bad_topic++; /* not subscribed to: a broker's overlap */
		return;
	}
	log_set_role(n->name);
	node_data(n, &t, topic, payload, len);
	log_set_role(NULL);
}

static void hub_on_log(void *arg, enum mqtt_log_level level, const char *fmt, va_list ap)
{
	static const enum log_level levels[] = {
		[MQTT_LOG_WARN] = LOG_LVL_WARN,
		[MQTT_LOG_INFO] = LOG_LVL_INFO,
		[MQTT_LOG_TRACE] = LOG_LVL_TRACE,
	};
	char role[LOG_ROLE_MAX];
	(void)arg;

	log_get_role(role);
	log_set_role(NULL); /* the connection is the whole process's */
	log_vlog(levels[level], fmt, ap);
	log_set_role(role);
}

/* Before each connection: a new epoch for every node's statuses, and the will of the first. */
static void hub_will(void *arg, struct mqtt_will *will)
{
	struct hub *h = arg;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	h->epoch = now > h->epoch ? now : h->epoch + 1;
	for (int i = 0; i < h->n_nodes; i++)
		node_new_epoch(h->nodes[i], h->epoch);
	int len = node_will(h->will_owner, h->will, sizeof(h->will));
	if (len < 0)
		len = (int)strlen(strcpy(h->will, STATUS_WILL));
	*will = (struct mqtt_will){ h->will_owner->status_topic, h->will, (size_t)len };
}

static const struct mqtt_client_ops hub_mqtt_ops = {
	.on_connect = hub_on_connect,
	.on_disconnect = hub_on_disconnect,
	.on_message = hub_on_message,
	.on_congested = hub_on_congested,
	.on_drain = hub_on_drain,
	.on_log = hub_on_log,
	.will = hub_will,
};

int hub_open(struct hub *h)
{
	struct node *owner = h->n_nodes ? h->nodes[0] : NULL;
	int err;

	for (int i = 0; i < h->n_nodes && !owner->role->is_agent; i++)
		if (h->nodes[i]->role->is_agent)
			owner = h->nodes[i];
	if (!owner)
		return -EINVAL;
	struct mqtt_will will = { owner->status_topic, STATUS_WILL, strlen(STATUS_WILL) };
	h->will_owner = owner;
	if ((err = mqtt_client_new(
		     h->base, &h->url, h->client_id, &will, &hub_mqtt_ops, h, &h->mqtt)))
		return err;
	for (int i = 0; i < h->n_nodes; i++)
		h->nodes[i]->mqtt = h->mqtt;
	return 0;
}

int hub_start(struct hub *h)
{
	return mqtt_client_start(h->mqtt);
}

static void hub_stopped(void *arg)
{
	struct hub *h = arg;

	if (h->stopped)
		h->stopped(h->stopped_arg);
}

void hub_stop(struct hub *h, void (*stopped)(void *arg), void *arg)
{
	h->stopped = stopped;
	h->stopped_arg = arg;
	for (int i = 0; i < h->n_nodes; i++)
		node_stop(h->nodes[i]);
	mqtt_client_shutdown(h->mqtt, hub_stopped);
}

void hub_free(struct hub *h)
{
	mqtt_client_free(h->mqtt);
	h->mqtt = NULL;
	map_free(h->local_flows);
	h->local_flows = NULL;
}
