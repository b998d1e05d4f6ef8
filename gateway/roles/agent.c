/* The agent role (exit node): opens each flow that arrives on MQTT to its destination, never blocking. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/core/flow.h"
#include "gateway/lib/clock.h"
#include "gateway/lib/addr.h"
#include "gateway/lib/log.h"
#include "gateway/lib/ping.h"
#include "mqtt/kcp.h"
#include "mqtt/url.h"
#include "roles.h"

/* What the agent keeps while it runs: the resolver, made at the first name; the unused-flow sweep. */
struct agent {
	struct evdns_base *dns;
	struct event *ev_sweep;
	uint64_t peer_limit_logged_ms;
};

static const struct agent_config *agent_cfg(const struct node *n)
{
	return n->role_cfg;
}

/* A pending name lookup; the flow may be gone by the time it answers. */
struct lookup {
	struct node *node;
	uint64_t flow_id;
	bool default_target;
	char key[FLOW_KEY_MAX];
};

/* --allow: drops the addresses it does not list (the default target is always
 * allowed) and connects to what is left, or ends the flow. */
static void agent_connect_allowed(
	struct node *n, struct flow *f, struct evutil_addrinfo *ai, bool default_target)
{
	const struct agent_config *cfg = agent_cfg(n);
	struct evutil_addrinfo **link = &ai;

	while (!default_target && cfg->n_allow && *link) {
		struct evutil_addrinfo *a = *link;
		if (allow_match(cfg->allow, cfg->n_allow, a->ai_addr)) {
			link = &a->ai_next;
			continue;
		}
		char addr[ADDR_STRLEN];
		addr_format(a->ai_addr, addr, sizeof(addr));
		log_warnx("flow %llu: %s is not allowed (--allow): refused",
			(unsigned long long)f->id, addr);
		*link = a->ai_next;
		a->ai_next = NULL;
		evutil_freeaddrinfo(a);
	}
	if (!ai) {
		n->stats.refused++;
		flow_fail(f, "destination not allowed", FRAME_NOT_ALLOWED);
		return;
	}
	flow_connect(f, ai);
}

static void lookup_done(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct lookup *l = arg;
	struct flow *f = flow_table_find(l->node->flows, l->key);

	if (!f || f->id != l->flow_id || !f->resolving || f->dead) {
		if (ai)
			evutil_freeaddrinfo(ai);
		free(l);
		return;
	}
	bool default_target = l->default_target;
	struct node *l_node = l->node;
	free(l);
	if (result) {
		log_info("flow %llu: cannot resolve the destination: %s", (unsigned long long)f->id,
			evutil_gai_strerror(result));
		flow_fail(f, "name resolution failed", FRAME_NO_NAME);
		return;
	}
	agent_connect_allowed(l_node, f, ai, default_target);
}

static struct evdns_base *agent_dns(struct node *n)
{
	struct agent *a = n->role_data;

	if (!a->dns)
		a->dns = evdns_base_new(n->base,
			EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	return a->dns;
}

/* Resolves "host:port" (numeric at once, names through evdns) and connects. */
static void agent_open(struct node *n, struct flow *f, const char *dst, bool default_target)
{
	char host[ADDR_HOST_MAX], port[8];
	uint16_t portnum;
	struct evutil_addrinfo hints = { 0 }, *ai = NULL;
	unsigned char tmp[16];

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = f->kind == FLOW_STREAM ? SOCK_STREAM : SOCK_DGRAM;
	hints.ai_flags = EVUTIL_AI_NUMERICSERV;
	if (addr_split(dst, host, sizeof(host), &portnum) ||
		(portnum == 0 && f->proto != MQTT_PROTO_ICMP)) {
		n->stats.bad_topic++;
		flow_close(f, "bad destination address", true);
		return;
	}
	snprintf(port, sizeof(port), "%u", f->proto == MQTT_PROTO_ICMP ? 0 : portnum);
	if (inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1) {
		hints.ai_flags |= EVUTIL_AI_NUMERICHOST;
		if (evutil_getaddrinfo(host, port, &hints, &ai) || !ai) {
			flow_close(f, "bad destination address", true);
			return;
		}
		agent_connect_allowed(n, f, ai, default_target);
		return;
	}
	struct evdns_base *dns = addr_valid_hostname(host) ? agent_dns(n) : NULL;
	if (!dns) {
		n->stats.bad_topic++;
		flow_close(f, "bad destination name", true);
		return;
	}
	struct lookup *l = malloc(sizeof(*l));
	if (!l) {
		flow_close(f, "out of memory", true);
		return;
	}
	l->node = n;
	l->flow_id = f->id;
	l->default_target = default_target;
	snprintf(l->key, sizeof(l->key), "%s", f->key);
	f->resolving = true;
	evdns_getaddrinfo(dns, host, port, &hints, lookup_done, l);
}

/* The topic this agent answers a flow's i topic on: its o topic. */
static int agent_reply_topic(struct node *n, const struct mqtt_topic *t, char *topic)
{
	int tlen = mqtt_topic_build(topic, MQTT_TOPIC_MAX, n->url->prefix, t->agent, t->local,
		MQTT_LABEL_O, t->proto, t->src, t->dst);

	if (tlen < 0)
		n->stats.bad_topic++;
	return tlen;
}

static int agent_per_peer_max(const struct node *n)
{
	int max = agent_cfg(n)->max_flows_per_peer;

	if (max)
		return max;
	max = (int)((long long)n->cfg.limits.max_flows * AGENT_PER_PEER_PERCENT / 100);
	return max > 0 ? max : 1;
}

/* Open flows of local id local. */
static int agent_peer_flows(struct node *n, const char *local)
{
	char prefix[FLOW_KEY_MAX];
	int len = snprintf(prefix, sizeof(prefix), "%s/%s/", n->cfg.agent_id, local), count = 0;
	struct flow *f;

	TAILQ_FOREACH(f, &n->flows->list, link)
	if (flow_is_open(f) && !strncmp(f->key, prefix, (size_t)len))
		count++;
	return count;
}

/* --max-flows-per-peer: one local id (anyone who may publish can take any) has at
 * most its share of the flows; counted, said at most once a second. */
static bool agent_admit_peer(struct node *n, const char *local)
{
	struct agent *a = n->role_data;
	int max = agent_per_peer_max(n);

	/* no id can be over its share while the whole table is under it */
	if ((int)flow_table_size(n->flows) < max || agent_peer_flows(n, local) < max)
		return true;
	n->stats.over_peer_limit++;
	uint64_t now = clock_ms();
	if (now - a->peer_limit_logged_ms >= 1000 || !a->peer_limit_logged_ms) {
		log_warnx("refusing new flows from local %s: %d open, its --max-flows-per-peer "
			  "(%lu refused so far)",
			local, max, n->stats.over_peer_limit);
		a->peer_limit_logged_ms = now;
	}
	return false;
}

/* A new flow (its first message arrived) that connects to its destination. */
static struct flow *agent_flow_new(
	struct node *n, const struct mqtt_topic *t, const char *key, const char *topic, size_t tlen)
{
	enum flow_kind kind = mqtt_proto_is_dgram(t->proto) ? FLOW_DGRAM : FLOW_STREAM;
	struct flow_spec spec = {
		.kind = kind,
		.proto = t->proto,
		.key = key,
		.topic = topic,
		.chunk = node_chunk_for(n, MQTT_NIL, t->local, tlen, kind),
	};
	struct flow *f = agent_admit_peer(n, t->local) ? flow_new(n->flows, &spec) : NULL;

	bool dflt = !strcmp(t->dst, MQTT_NIL);

	if (f)
		log_debug("flow %llu: %s %s from %s/%s to %s%s%s", (unsigned long long)f->id,
			mqtt_proto_name(t->proto), t->src, t->local, t->agent,
			dflt ? "- (default target " : "", dflt ? agent_cfg(n)->target : t->dst,
			dflt ? ")" : "");
	return f;
}

static void agent_connect(struct node *n, struct flow *f, const struct mqtt_topic *t)
{
	bool dflt = !strcmp(t->dst, MQTT_NIL);

	agent_open(n, f, dflt ? agent_cfg(n)->target : t->dst, dflt);
}

/* A tcpx or kcpx flow: opened by its OPEN only, so a stream never starts in its middle. */
static void agent_on_frame(struct node *n, const struct mqtt_topic *t, const char *key,
	struct flow *f, const uint8_t *payload, size_t len)
{
	char topic[MQTT_TOPIC_MAX];
	struct frame fr;
	bool open = !frame_parse(payload, len, &fr) && fr.type == FRAME_OPEN;

	if (f && open && f->dead && f->result == FRAME_OK) {
		flow_destroy(f); /* a finished flow's addresses, reused by a new one */
		f = NULL;
	}
	if (f) {
		flow_input(f, payload, len);
		return;
	}
	int tlen = agent_reply_topic(n, t, topic);
	if (tlen < 0)
		return;
	if (!open) {
		flow_answer_unknown(n->flows, topic, payload, len);
		return;
	}
	f = agent_flow_new(n, t, key, topic, (size_t)tlen);
	if (!f) {
		uint8_t result[FRAME_CTL_MAX];
		struct frame no = { .type = FRAME_RESULT, .code = FRAME_FAILED };
		node_publish(n, topic, result, frame_header(result, &no));
		return;
	}
	flow_accept_open(f, fr.off);
	agent_connect(n, f, t);
}

static void agent_new_flow(struct node *n, const struct mqtt_topic *t, const char *key,
	const uint8_t *payload, size_t len)
{
	char topic[MQTT_TOPIC_MAX];
	int tlen = agent_reply_topic(n, t, topic);

	if (tlen < 0)
		return;
	if (len == 0 && !mqtt_proto_is_dgram(t->proto)) {
		n->stats.flow.unknown_flow++; /* the end of a stream we don't know */
		return;
	}
	if (t->proto == MQTT_PROTO_KCP && !kcp_opens_stream(0, payload, len)) {
		n->stats.flow.unknown_flow++; /* junk, or the tail of a stream that ended */
		return;
	}
	struct flow *f = agent_flow_new(n, t, key, topic, (size_t)tlen);
	if (!f) {
		/* over a limit: a stream's local hears an abort (two end signals) at once */
		if (!mqtt_proto_is_dgram(t->proto) && !node_publish(n, topic, "", 0))
			node_publish(n, topic, "", 0);
		return;
	}
	flow_input(f, payload, len); /* waits in the flow's buffer until connected */
	if (!f->dead)
		agent_connect(n, f, t);
}

static void agent_on_data(
	struct node *n, const struct mqtt_topic *t, const uint8_t *payload, size_t len)
{
	char key[FLOW_KEY_MAX];

	if (flow_key(key, sizeof(key), t->agent, t->local, t->proto, t->src, t->dst)) {
		n->stats.bad_topic++;
		return;
	}
	struct flow *f = flow_table_find(n->flows, key);
	if (mqtt_proto_is_framed(t->proto))
		agent_on_frame(n, t, key, f, payload, len);
	else if (f)
		flow_input(f, payload, len);
	else
		agent_new_flow(n, t, key, payload, len);
}

/* Ends the streams that carried no byte either way for --unused-timeout since they
 * opened: a flood of made-up OPENs holds no connection for long. Either
 * direction counts, so a server that speaks first (ssh, smtp) keeps its flow. */
static void agent_sweep_unused(struct node *n)
{
	uint64_t now = clock_ms(), limit = (uint64_t)agent_cfg(n)->unused_timeout_s * 1000;
	struct flow *f, *next;

	for (f = TAILQ_FIRST(&n->flows->list); f; f = next) {
		next = TAILQ_NEXT(f, link);
		if (f->kind != FLOW_STREAM || !flow_is_open(f) || f->bytes_up || f->bytes_down ||
			now - f->opened_ms < limit)
			continue;
		n->stats.unused_closed++;
		flow_fail(f, "unused: no byte either way since it opened (--unused-timeout)",
			FRAME_FAILED);
	}
}

static void agent_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	(void)fd;
	(void)what;

	log_set_role(n->name);
	agent_sweep_unused(n);
	log_set_role(NULL);
}

static int agent_start_sweep(struct node *n)
{
	struct agent *a = n->role_data;
	struct timeval second = { 1, 0 };

	if (!agent_cfg(n)->unused_timeout_s)
		return 0;
	if (!(a->ev_sweep = event_new(n->base, -1, EV_PERSIST, agent_sweep_cb, n)))
		return -ENOMEM;
	return event_add(a->ev_sweep, &second) ? -ENOMEM : 0;
}

static int agent_start(struct node *n)
{
	const struct agent_config *cfg = agent_cfg(n);

	if (!(n->role_data = calloc(1, sizeof(struct agent))) || agent_start_sweep(n))
		return -ENOMEM;
	enum ping_kind ping = ping_probe();
	n->icmp_echo = ping != PING_NONE;
	n->icmp_raw = ping == PING_RAW;
	if (n->icmp_echo)
		log_info("ICMP echo with a %s socket", n->icmp_raw ? "raw" : "datagram");
	else
		log_info("no ICMP socket (net.ipv4.ping_group_range excludes us, no "
			 "CAP_NET_RAW): echo requests are refused");
	log_info("id %s: default target %s, %d --allow rules, at most %d flows per local id, "
		 "unused streams end after %d s (0: never)",
		n->cfg.agent_id, cfg->target, cfg->n_allow, agent_per_peer_max(n),
		cfg->unused_timeout_s);
	if (!cfg->n_allow)
		log_warnx("no --allow: whoever may publish to %s/%s/+/i/# can reach any "
			  "address this host can",
			n->url->prefix, n->cfg.agent_id);
	return 0;
}

static void agent_stop(struct node *n)
{
	struct agent *a = n->role_data;

	if (!a)
		return;
	if (a->dns)
		evdns_base_free(a->dns, 0);
	if (a->ev_sweep)
		event_free(a->ev_sweep);
	free(a);
	n->role_data = NULL;
}

static int agent_advertised(const struct node *n, const struct nl_prefix **routes)
{
	*routes = agent_cfg(n)->advertise;
	return agent_cfg(n)->n_advertise;
}

static void agent_reloadable(void *dst, const void *src)
{
	struct agent_config *d = dst;
	const struct agent_config *s = src;

	memcpy(d->allow, s->allow, sizeof(d->allow));
	d->n_allow = s->n_allow;
	memcpy(d->advertise, s->advertise, sizeof(d->advertise));
	d->n_advertise = s->n_advertise;
}

static int agent_reload(struct node *n, const void *next)
{
	const struct agent_config *cfg = next;
	(void)n;

	log_info("reload: now %d allow rules, %d advertised subnets", cfg->n_allow,
		cfg->n_advertise);
	return 0;
}

const struct role_ops agent_role = {
	.name = "agent",
	.is_agent = true,
	.config_size = sizeof(struct agent_config),
	.start = agent_start,
	.on_data = agent_on_data,
	.on_stop = agent_stop,
	.advertised = agent_advertised,
	.reloadable = agent_reloadable,
	.reload = agent_reload,
};
