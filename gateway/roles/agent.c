/* The agent role (exit node): opens each flow that arrives on MQTT to its destination, never blocking. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "gateway/core/flow.h"
#include "gateway/core/flowseal.h"
#include "gateway/lib/clock.h"
#include "gateway/lib/addr.h"
#include "gateway/lib/log.h"
#include "gateway/lib/map.h"
#include "gateway/lib/peerkeys.h"
#include "gateway/lib/ping.h"
#include "mqtt/kcp.h"
#include "mqtt/url.h"
#include "roles.h"

/* The opens of encrypted flows accepted in the last 2 * FLOWSEAL_STAMP_SLACK_MS: one
 * published again is a replay (older ones fail the stamp check). At most this many, for all
 * locals together: over about 270 new flows a second, opens are refused until old ones
 * expire. */
#define AGENT_OPENS_SEEN_MAX 65536

/* The key a local id last opened an encrypted flow with: its statuses must be signed by it. */
#define AGENT_LOCAL_KEYS_MAX 4096 /* as many as the peer table holds */
struct local_key {
	uint8_t pub[KEY_LEN];
	char id[];
};

struct open_seen {
	TAILQ_ENTRY(open_seen) link;
	uint64_t until_ms;
	char id[2 * SEAL_OPEN_ID_LEN + 1];
};
TAILQ_HEAD(open_seen_list, open_seen);

/* What the agent keeps while it runs: the resolver, made at the first name; the unused-flow
 * sweep; with --seal-key, the locals it lets in and the opens it has seen. */
struct agent {
	struct evdns_base *dns;
	struct event *ev_sweep;
	uint64_t peer_limit_logged_ms;
	struct peer_keys *seal_peers;
	struct map *local_keys; /* local id -> struct local_key, from the opens accepted */
	struct map *opens_seen;
	struct open_seen_list opens_order; /* oldest first */
	uint64_t seal_logged_ms;
	unsigned long seal_unlogged;
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
	if (log_second_due(&a->peer_limit_logged_ms))
		log_warnx("refusing new flows from local %s: %d open, its --max-flows-per-peer "
			  "(%lu refused so far)",
			local, max, n->stats.over_peer_limit);
	return false;
}

/* A new flow (its first message arrived) that connects to its destination. */
static struct flow *agent_flow_new(struct node *n, const struct mqtt_topic *t, const char *key,
	const char *topic, size_t tlen, bool sealed)
{
	enum flow_kind kind = mqtt_proto_is_dgram(t->proto) ? FLOW_DGRAM : FLOW_STREAM;
	struct flow_spec spec = {
		.kind = kind,
		.proto = t->proto,
		.key = key,
		.topic = topic,
		.chunk = node_chunk_for(n, MQTT_NIL, t->local, tlen, kind) -
			 (sealed ? SEAL_DATA_OVERHEAD : 0),
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
	f = agent_flow_new(n, t, key, topic, (size_t)tlen, false);
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
	struct flow *f = agent_flow_new(n, t, key, topic, (size_t)tlen, false);
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

/* ---- encrypted flows ---- */

/* A message an agent with --seal-key drops without a word to its sender: counted, and said
 * here at most once a second. */
__attribute__((format(printf, 3, 4))) static void agent_seal_refuse(
	struct node *n, unsigned long *counter, const char *fmt, ...)
{
	struct agent *a = n->role_data;
	char why[256];
	va_list ap;

	(*counter)++;
	if (!log_second_due(&a->seal_logged_ms)) {
		a->seal_unlogged++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (a->seal_unlogged)
		log_warnx("dropped: %s (and %lu more since the last line)", why, a->seal_unlogged);
	else
		log_warnx("dropped: %s", why);
	a->seal_unlogged = 0;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void opens_expire(struct agent *a, uint64_t now)
{
	struct open_seen *o;

	while ((o = TAILQ_FIRST(&a->opens_order)) && o->until_ms <= now) {
		TAILQ_REMOVE(&a->opens_order, o, link);
		map_del(a->opens_seen, o->id);
		free(o);
	}
}

static void open_id_text(const struct seal *s, char id[2 * SEAL_OPEN_ID_LEN + 1])
{
	for (size_t i = 0; i < SEAL_OPEN_ID_LEN; i++)
		snprintf(id + 2 * i, 3, "%02x", s->open_id[i]);
}

/* Why an accepted open must still be refused (a stale stamp, a replay, no room), or NULL. */
static const char *agent_open_stale(struct agent *a, const struct seal *s, uint64_t stamp)
{
	uint64_t now = wall_ms(), mono = clock_ms();
	char id[2 * SEAL_OPEN_ID_LEN + 1];

	if (stamp + FLOWSEAL_STAMP_SLACK_MS < now || stamp > now + FLOWSEAL_STAMP_SLACK_MS)
		return "an open whose time stamp is over 120 s off our clock (a replay, or a "
		       "clock that is wrong)";
	opens_expire(a, mono);
	open_id_text(s, id);
	if (map_get(a->opens_seen, id))
		return "an open seen before (a replay)";
	if (map_size(a->opens_seen) >= AGENT_OPENS_SEEN_MAX)
		return "an open over the rate this agent remembers";
	struct open_seen *o = malloc(sizeof(*o));
	if (!o)
		return "an open: out of memory";
	memcpy(o->id, id, sizeof(id));
	o->until_ms = mono + 2 * FLOWSEAL_STAMP_SLACK_MS; /* past the stamp's window both ways */
	if (map_put(a->opens_seen, o->id, o)) {
		free(o);
		return "an open: out of memory";
	}
	TAILQ_INSERT_TAIL(&a->opens_order, o, link);
	return NULL;
}

/* The hello's SRC or DST as a topic level, or false. */
static bool hello_level(char out[MQTT_LEVEL_MAX], const char *p, uint16_t len)
{
	if (len >= MQTT_LEVEL_MAX)
		return false;
	memcpy(out, p, len);
	out[len] = '\0';
	return mqtt_level_valid(out) && !memchr(p, '\0', len);
}

/* The flow an accepted open describes, as if its topic had said it in the clear. */
static bool hello_topic(
	const struct mqtt_topic *wire, const struct seal_hello *h, struct mqtt_topic *in)
{
	enum mqtt_proto proto = (enum mqtt_proto)h->proto;

	if (proto != MQTT_PROTO_TCPX && proto != MQTT_PROTO_KCPX && proto != MQTT_PROTO_UDP &&
		proto != MQTT_PROTO_ICMP)
		return false;
	*in = *wire;
	in->proto = proto;
	return hello_level(in->src, h->src, h->src_len) && hello_level(in->dst, h->dst, h->dst_len);
}

/* Starts the flow an open asked for: its first frame (a stream's OPEN) or datagram was inside. */
static void agent_sealed_start(
	struct node *n, struct flow *f, const struct mqtt_topic *in, const struct seal_hello *h)
{
	struct frame fr;

	if (!f->framed) {
		flow_input_plain(f, h->data, h->data_len);
		if (!f->dead)
			agent_connect(n, f, in);
		return;
	}
	if (frame_parse(h->data, h->data_len, &fr) || fr.type != FRAME_OPEN) {
		flow_fail(f, "an open without its stream's OPEN", FRAME_FAILED);
		return;
	}
	flow_accept_open(f, fr.off);
	agent_connect(n, f, in);
}

/* Why key pub may not open a flow as local id `local`, or NULL. The first listed key to
 * open one under an id holds that id until a reload takes the key off the list: a listed
 * local cannot speak for another (sign its statuses, replace its flows, use its share). */
static const char *agent_id_taken(struct node *n, const char *local, const uint8_t pub[KEY_LEN])
{
	struct agent *a = n->role_data;
	const struct local_key *k = map_get(a->local_keys, local);

	if (k)
		return keys_equal(k->pub, pub) ? NULL
					       : "its local id is held by another listed key";
	if (map_size(a->local_keys) >= AGENT_LOCAL_KEYS_MAX)
		return "more local ids than this agent keeps keys for";
	return NULL;
}

/* The key now holds the id (agent_id_taken said it may). */
static void agent_learn_key(struct node *n, const char *local, const uint8_t pub[KEY_LEN])
{
	struct agent *a = n->role_data;
	size_t len = strlen(local) + 1;
	struct local_key *k;

	if (map_get(a->local_keys, local) || !(k = malloc(sizeof(*k) + len)))
		return;
	memcpy(k->pub, pub, KEY_LEN);
	memcpy(k->id, local, len);
	if (map_put(a->local_keys, k->id, k))
		free(k);
}

struct unlisted {
	const struct peer_keys *list;
	const char *ids[AGENT_LOCAL_KEYS_MAX];
	int n;
};

static void note_unlisted(const char *id, void *val, void *arg)
{
	const struct local_key *k = val;
	struct unlisted *u = arg;

	if (!peerkeys_find(u->list, k->pub))
		u->ids[u->n++] = id;
}

/* A reload took keys off the list: the ids they held are free again. */
static void agent_free_ids(struct node *n)
{
	struct agent *a = n->role_data;
	struct unlisted *u = malloc(sizeof(*u));

	if (!u)
		return;
	u->list = a->seal_peers;
	u->n = 0;
	map_walk(a->local_keys, note_unlisted, u);
	for (int i = 0; i < u->n; i++) {
		struct local_key *k = map_get(a->local_keys, u->ids[i]);
		map_del(a->local_keys, u->ids[i]);
		free(k);
	}
	free(u);
}

static const uint8_t *agent_status_key(struct node *n, const char *local)
{
	struct agent *a = n->role_data;
	const struct local_key *k = a && a->local_keys ? map_get(a->local_keys, local) : NULL;

	return k ? k->pub : NULL;
}

/* An open's key, as soon as it is decrypted: the list's entry, or the key refused. */
struct open_key {
	const struct peer_keys *list;
	const struct peer_key *who;
	uint8_t refused[KEY_LEN];
};

static bool agent_open_key(const uint8_t pub[KEY_LEN], void *arg)
{
	struct open_key *k = arg;

	if ((k->who = peerkeys_find(k->list, pub)))
		return true;
	memcpy(k->refused, pub, KEY_LEN);
	return false;
}

/* A listed local's open this agent cannot take (--max-flows, --max-flows-per-peer): it gets
 * the reply, and a stream its RESULT, sealed, so that its client fails now, not after the
 * local's open timeout. */
static void agent_sealed_refusal(
	struct node *n, struct seal *s, const char *wire_key, const char *topic, bool framed)
{
	struct flowseal_io io;
	struct flow_seal *fs = flowseal_responder(s, wire_key);
	uint8_t result[FRAME_CTL_MAX];
	struct frame no = { .type = FRAME_RESULT, .code = FRAME_FAILED };

	flow_table_seal_io(n->flows, topic, framed, &io);
	if (fs && !flowseal_reply(fs, &io) && framed)
		flowseal_emit(fs, &io, result, frame_header(result, &no));
	flowseal_free(fs);
}

/* A message on an encrypted flow's topic that is no flow here: only an open from a listed
 * key makes one; nothing else gets an answer. */
static void agent_on_sealed(struct node *n, const struct mqtt_topic *t, const char *wire_key,
	const uint8_t *payload, size_t len)
{
	struct agent *a = n->role_data;
	struct seal s;
	struct seal_hello h;
	struct mqtt_topic in;
	char key[FLOW_KEY_MAX], topic[MQTT_TOPIC_MAX], pub[KEY_TEXT_LEN + 1];
	const char *stale;

	if (seal_type_of(payload, len) != SEAL_OPEN) {
		n->stats.flow.unknown_flow++; /* of a flow that ended, or never was */
		return;
	}
	/* the list is asked before the second DH: a stranger's open costs one */
	struct open_key k = { .list = a->seal_peers };
	int rc = flowseal_accept(n->seal_self, wire_key, payload, len, agent_open_key, &k, &s, &h);
	if (rc == -EPERM) {
		keys_encode(pub, k.refused);
		agent_seal_refuse(n, &n->stats.seal_refused,
			"an open from %s by key %s, which --seal-peers does not list", t->local,
			pub);
		return;
	}
	if (rc) {
		agent_seal_refuse(n, &n->stats.seal_refused,
			"an open from %s that failed its check (made for another key, or tampered)",
			t->local);
		return;
	}
	const struct peer_key *who = k.who;
	if ((stale = agent_id_taken(n, t->local, s.peer_pub)) ||
		(stale = agent_open_stale(a, &s, h.stamp))) {
		agent_seal_refuse(
			n, &n->stats.seal_refused, "%s, from %s (%s)", stale, t->local, who->name);
	} else if (!hello_topic(t, &h, &in) ||
		   flow_key(key, sizeof(key), in.agent, in.local, in.proto, in.src, in.dst)) {
		agent_seal_refuse(n, &n->stats.seal_refused,
			"an open from %s (%s) with a bad protocol or address", t->local, who->name);
	} else {
		int tlen = agent_reply_topic(n, t, topic);
		struct flow *old = flow_table_find(n->flows, key);
		if (old)
			flow_destroy(old); /* the local reused its addresses: this is a new flow */
		struct flow *f =
			tlen < 0 ? NULL : agent_flow_new(n, &in, key, topic, (size_t)tlen, true);
		if (!f && tlen >= 0) {
			agent_sealed_refusal(
				n, &s, wire_key, topic, mqtt_proto_is_framed(in.proto));
		} else if (f && flow_seal_respond(f, &s, wire_key)) {
			flow_close(f, "cannot answer the open", true);
		} else if (f) {
			log_debug("flow %llu: encrypted, local %s (%s)", (unsigned long long)f->id,
				t->local, who->name);
			agent_learn_key(n, t->local, flow_seal_peer(f));
			agent_sealed_start(n, f, &in, &h);
		}
	}
	seal_wipe(&s);
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
	if (n->seal_self && t->proto != MQTT_PROTO_SEAL) {
		agent_seal_refuse(n, &n->stats.seal_plain_dropped,
			"a plain %s message from %s: this agent takes encrypted flows only",
			mqtt_proto_name(t->proto), t->local);
		return;
	}
	if (t->proto == MQTT_PROTO_SEAL && !f) {
		if (n->seal_self)
			agent_on_sealed(n, t, key, payload, len);
		else
			n->stats.seal_plain_dropped++; /* without --seal-key we take none */
		return;
	}
	if (f && f->seal)
		flow_input(f, payload, len);
	else if (mqtt_proto_is_framed(t->proto))
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

/* --seal-peers, at start and on each reload. */
static int agent_read_seal_peers(struct node *n, const char *path)
{
	struct agent *a = n->role_data;
	struct peer_keys *list = malloc(sizeof(*list));
	char err[PEERKEYS_ERR_MAX];

	if (!list)
		return -ENOMEM;
	if (peerkeys_read(path, list, err)) {
		log_errorx("%s", err);
		free(list);
		return -EINVAL;
	}
	free(a->seal_peers);
	a->seal_peers = list;
	return 0;
}

static int agent_start_seal(struct node *n)
{
	struct agent *a = n->role_data;

	TAILQ_INIT(&a->opens_order);
	if (!n->seal_self)
		return 0;
	if (!(a->opens_seen = map_new()) || !(a->local_keys = map_new()))
		return -ENOMEM;
	if (agent_read_seal_peers(n, agent_cfg(n)->seal_peers))
		return -EINVAL;
	log_info("encrypted flows only: %d locals' keys in %s", a->seal_peers->n,
		agent_cfg(n)->seal_peers);
	return 0;
}

static int agent_start(struct node *n)
{
	const struct agent_config *cfg = agent_cfg(n);

	if (!(n->role_data = calloc(1, sizeof(struct agent))) || agent_start_sweep(n) ||
		agent_start_seal(n))
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
	if (!cfg->n_allow && !n->seal_self)
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
	opens_expire(a, UINT64_MAX);
	map_free(a->opens_seen);
	if (a->local_keys)
		map_clear(a->local_keys, free);
	map_free(a->local_keys);
	free(a->seal_peers);
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
	memcpy(d->seal_peers, s->seal_peers, sizeof(d->seal_peers));
}

/* A reload took keys off --seal-peers: their flows end (a key removed is a local cut off). */
static void agent_drop_unlisted(struct node *n)
{
	struct agent *a = n->role_data;
	struct flow *f, *next;
	unsigned long ended = 0;

	for (f = TAILQ_FIRST(&n->flows->list); f; f = next) {
		next = TAILQ_NEXT(f, link);
		if (!flow_is_open(f) || !f->seal || peerkeys_find(a->seal_peers, flow_seal_peer(f)))
			continue;
		flow_fail(f, "its local's key is no longer in --seal-peers", FRAME_NOT_ALLOWED);
		ended++;
	}
	if (ended)
		log_info("reload: ended %lu flows of locals no longer listed", ended);
}

static int agent_reload(struct node *n, const void *next)
{
	const struct agent_config *cfg = next;
	struct agent *a = n->role_data;

	if (n->seal_self && agent_read_seal_peers(n, cfg->seal_peers))
		return -EINVAL;
	log_info("reload: now %d allow rules, %d advertised subnets", cfg->n_allow,
		cfg->n_advertise);
	if (!n->seal_self)
		return 0;
	agent_drop_unlisted(n);
	agent_free_ids(n);
	log_info("reload: %d locals' keys in %s", a->seal_peers->n, cfg->seal_peers);
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
	.status_key = agent_status_key,
};
