/* What the local-side roles (local-port, local-socks, the gateway) share: opening a flow toward an agent, and what comes back for it. */
#include "local.h"

#include <errno.h>
#include <event2/listener.h>
#include <stdio.h>
#include <string.h>

#include "gateway/core/flowseal.h"
#include "gateway/core/node.h"
#include "gateway/lib/addr.h"
#include "gateway/lib/listener.h"
#include "gateway/lib/log.h"
#include "mqtt/client.h"
#include "mqtt/url.h"

#define LISTEN_BACKLOG 4096

enum mqtt_proto local_stream_proto(struct node *n, const char *agent, enum mqtt_proto proto)
{
	if (!node_seal_pin(n, agent) && !node_peer_streams(n, agent, MQTT_NIL))
		return proto;
	return mqtt_proto_is_kcp(proto) ? MQTT_PROTO_KCPX : MQTT_PROTO_TCPX;
}

/* The topic (and wire key) of an encrypted flow: a fresh flow id, and nothing of what it
 * carries. */
static int local_sealed_topic(
	struct node *n, const char *agent, char topic[MQTT_TOPIC_MAX], char wire_key[FLOW_KEY_MAX])
{
	char id[FLOWSEAL_ID_LEN + 1];
	const char *local = n->cfg.local_id;

	flowseal_new_id(id);
	if (flow_key(wire_key, FLOW_KEY_MAX, agent, local, MQTT_PROTO_SEAL, id, MQTT_NIL))
		return -ENAMETOOLONG;
	return mqtt_topic_build(topic, MQTT_TOPIC_MAX, n->url->prefix, agent, local, MQTT_LABEL_I,
		MQTT_PROTO_SEAL, id, MQTT_NIL);
}

static struct flow *local_flow_new(
	struct node *n, struct flow_spec *spec, const char *src, const char *agent, const char *dst)
{
	char key[FLOW_KEY_MAX], topic[MQTT_TOPIC_MAX], wire_key[FLOW_KEY_MAX];
	const char *local = n->cfg.local_id;
	const uint8_t *pin = node_seal_pin(n, agent);

	if (spec->kind == FLOW_STREAM)
		spec->proto = local_stream_proto(n, agent, spec->proto);
	int tlen = pin ? local_sealed_topic(n, agent, topic, wire_key)
		       : mqtt_topic_build(topic, sizeof(topic), n->url->prefix, agent, local,
				 MQTT_LABEL_I, spec->proto, src, dst);
	if (tlen < 0 || flow_key(key, sizeof(key), agent, local, spec->proto, src, dst))
		return NULL;
	struct flow *old = flow_table_find(n->flows, key);
	if (old)
		flow_destroy(old); /* the client reused its address: this is a new flow */
	spec->key = key;
	spec->topic = topic;
	spec->chunk = node_chunk_for(n, agent, MQTT_NIL, (size_t)tlen, spec->kind);
	if (pin) /* the open carries the first frame or datagram, and what the flow is */
		spec->chunk -= FLOWSEAL_LOCAL_OVERHEAD(strlen(dst), strlen(src));
	struct flow *f = flow_new(n->flows, spec);
	if (!f)
		return NULL;
	if (pin && flow_seal_initiate(f, n->seal_self, pin, wire_key)) {
		flow_destroy(f);
		return NULL;
	}
	if (spec->proto == MQTT_PROTO_TCP && !node_peer_online(n, agent, MQTT_NIL))
		flow_await_agent(f);
	log_debug("flow %llu: %s %s -> %s via agent %s%s", (unsigned long long)f->id,
		mqtt_proto_name(spec->proto), src, dst, agent, pin ? ", encrypted" : "");
	return f;
}

struct flow *local_open_flow(struct node *n, enum flow_kind kind, enum mqtt_proto proto,
	const char *src, const char *agent, const char *dst, flow_sink_fn *sink, size_t priv_size)
{
	struct flow_spec spec = {
		.kind = kind, .proto = proto, .sink = sink, .priv_size = priv_size
	};

	return local_flow_new(n, &spec, src, agent, dst);
}

struct flow *local_open_stream(struct node *n, enum mqtt_proto proto, const char *src,
	const char *agent, const char *dst, flow_open_fn *on_open, size_t priv_size)
{
	struct flow_spec spec = {
		.kind = FLOW_STREAM, .proto = proto, .on_open = on_open, .priv_size = priv_size
	};

	return local_flow_new(n, &spec, src, agent, dst);
}

struct flow *local_open_stream_from(struct node *n, enum mqtt_proto proto,
	const struct sockaddr *client, const char *agent, const char *dst, flow_open_fn *on_open,
	size_t priv_size)
{
	char src[ADDR_STRLEN];

	if (addr_format(client, src, sizeof(src)))
		return NULL;
	return local_open_stream(n, proto, src, agent, dst, on_open, priv_size);
}

void local_on_data(struct node *n, const struct mqtt_topic *t, const uint8_t *payload, size_t len)
{
	char key[FLOW_KEY_MAX];
	struct flow *f = NULL;

	if (!flow_key(key, sizeof(key), t->agent, t->local, t->proto, t->src, t->dst))
		f = flow_table_find(n->flows, key);
	/* an encrypted flow is in the index under its addresses too, but hears only its seal
	 * topic: on the plain topic those addresses name, it is no flow (so a message there
	 * neither resets it nor tells whether it exists) */
	if (f && f->seal && t->proto != MQTT_PROTO_SEAL)
		f = NULL;
	if (!f && mqtt_proto_is_framed(t->proto)) {
		char topic[MQTT_TOPIC_MAX]; /* an answer goes to the agent's i topic */
		if (mqtt_topic_build(topic, sizeof(topic), n->url->prefix, t->agent, t->local,
			    MQTT_LABEL_I, t->proto, t->src, t->dst) >= 0)
			flow_answer_unknown(n->flows, topic, payload, len);
		return;
	}
	if (!f) {
		n->stats.flow.unknown_flow++; /* ended here already, or never ours */
		return;
	}
	flow_input(f, payload, len);
}

bool local_can_open(struct node *n, int fd)
{
	if (mqtt_client_connected(n->mqtt))
		return true;
	log_warnx("broker not connected, refusing a new connection");
	flow_close_reset(fd);
	return false;
}

int local_listen_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	if (!addr_parse(addr, ss, len))
		return 0;
	log_warnx("bad listen address %s: want IP:PORT or [IPv6]:PORT", addr);
	return -EINVAL;
}

struct evconnlistener *local_listen_tcp(struct node *n, const char *addr,
	void (*accept)(struct evconnlistener *, int, struct sockaddr *, int, void *))
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (local_listen_addr(addr, &ss, &len))
		return NULL;
	struct evconnlistener *l = evconnlistener_new_bind(n->base, accept, n,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, LISTEN_BACKLOG,
		(struct sockaddr *)&ss, (int)len);
	if (!l) {
		log_error("cannot listen on %s", addr);
		return NULL;
	}
	if (listener_guard(l)) {
		log_error("cannot listen on %s: out of memory", addr);
		evconnlistener_free(l);
		return NULL;
	}
	log_info("listening on tcp %s", addr);
	return l;
}
