/* The status server (libevent's evhttp): the page at /, /metrics for Prometheus, /status JSON,
 * /status.txt; behind a password where one is set. */
#include "http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/lib/addr.h"
#include "gateway/lib/basicauth.h"
#include "gateway/core/flow.h"
#include "gateway/core/hub.h"
#include "gateway/core/peers.h"
#include "gateway/lib/clock.h"
#include "gateway/lib/json.h"
#include "gateway/lib/log.h"
#include "mqtt/client.h"
#include "gateway/core/node.h"
#include "gateway/core/pool.h"
#include "gateway/core/status.h"

#define FETCH_TIMEOUT_S 5
#define FETCH_MAX (8u << 20)

/* The page at /: gateway/web/index.html, which the Makefile turns into this array. */
extern const unsigned char web_page[];
extern const size_t web_page_len;

struct http_status {
	struct evhttp *http;
	struct hub *hub;
	char password[BASIC_AUTH_PASSWORD_MAX]; /* "" none */
};

/* ---- /metrics ---- */

static unsigned long long uptime_s(const struct hub *hub)
{
	return hub->n_nodes ? (clock_ms() - hub->nodes[0]->started_ms) / 1000 : 0;
}

struct counter {
	const char *family, *label;
	size_t offset;
	bool wide; /* unsigned long long, else unsigned long */
};

#define STAT(field) offsetof(struct node_stats, field)
static const struct counter counters[] = {
	{ "flows_opened_total", NULL, STAT(flow.opened), false },
	{ "flows_closed_total", NULL, STAT(flow.closed), false },
	{ "flows_overflowed_total", NULL, STAT(flow.overflowed), false },
	{ "mqtt_bytes_total", "direction=\"up\"", STAT(bytes_up), true },
	{ "mqtt_bytes_total", "direction=\"down\"", STAT(bytes_down), true },
	{ "flow_bytes_total", "direction=\"up\"", STAT(flow.stream_up), true },
	{ "flow_bytes_total", "direction=\"down\"", STAT(flow.stream_down), true },
	{ "mqtt_messages_total", "direction=\"up\"", STAT(msgs_up), true },
	{ "mqtt_messages_total", "direction=\"down\"", STAT(msgs_down), true },
	{ "drops_total", "reason=\"bad_topic\"", STAT(bad_topic), false },
	{ "drops_total", "reason=\"bad_payload\"", STAT(flow.bad_payload), false },
	{ "drops_total", "reason=\"unknown_flow\"", STAT(flow.unknown_flow), false },
	{ "drops_total", "reason=\"udp_queue_full\"", STAT(flow.udp_dropped), false },
	{ "drops_total", "reason=\"udp_socket_buffer\"", STAT(flow.udp_rcvbuf_dropped), false },
	{ "drops_total", "reason=\"stream_lost\"", STAT(flow.lost), false },
	{ "drops_total", "reason=\"refused\"", STAT(refused), false },
	{ "drops_total", "reason=\"over_limit\"", STAT(flow.over_limit), false },
	{ "drops_total", "reason=\"over_peer_limit\"", STAT(over_peer_limit), false },
	{ "drops_total", "reason=\"peer_table_full\"", STAT(peers_refused), false },
	{ "drops_total", "reason=\"seal_open_refused\"", STAT(seal_refused), false },
	{ "drops_total", "reason=\"seal_plain\"", STAT(seal_plain_dropped), false },
	{ "drops_total", "reason=\"seal_bad\"", STAT(flow.sealed_bad), false },
	{ "drops_total", "reason=\"seal_replayed\"", STAT(flow.sealed_replayed), false },
	{ "drops_total", "reason=\"seal_early\"", STAT(flow.sealed_early), false },
	{ "status_spoofed_total", NULL, STAT(status_spoofed), false },
	{ "status_forged_total", NULL, STAT(status_forged), false },
	{ "status_logs_suppressed_total", NULL, STAT(status_logs_suppressed), false },
	{ "flows_unused_total", NULL, STAT(unused_closed), false },
};

static const struct {
	const char *family, *help;
} helps[] = {
	{ "flows_opened_total", "Flows opened." },
	{ "flows_closed_total", "Flows closed." },
	{ "flows_overflowed_total", "Flows ended because their socket could not keep up." },
	{ "mqtt_bytes_total", "Payload bytes published (up) and received (down) on MQTT." },
	{ "flow_bytes_total", "The clients' bytes (and datagrams' bytes) carried: from sockets to "
			      "MQTT (up), from MQTT to sockets (down); without framing." },
	{ "mqtt_messages_total", "Messages published (up) and received (down) on MQTT." },
	{ "drops_total", "Messages, datagrams and flows dropped or refused, by reason." },
	{ "status_spoofed_total", "Statuses on our own status topic that were not ours (we "
				  "republished ours)." },
	{ "status_logs_suppressed_total", "Peer status log lines left out over the rate limit." },
	{ "status_forged_total", "Statuses of keyed peers ignored: not signed by the peer's key, "
				 "or older than the last one taken." },
	{ "flows_unused_total", "An agent's streams ended because no byte went either way "
				"(--unused-timeout)." },
};

static void family(struct evbuffer *o, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(
		o, "# HELP net4mqtt_%s %s\n# TYPE net4mqtt_%s %s\n", name, help, name, type);
}

static unsigned long long counter_value(const struct node_stats *s, const struct counter *c)
{
	const char *p = (const char *)s + c->offset;

	return c->wide ? *(const unsigned long long *)p : *(const unsigned long *)p;
}

static void metrics_flows_open(struct hub *hub, struct evbuffer *o)
{
	static const enum mqtt_proto protos[] = { MQTT_PROTO_TCP, MQTT_PROTO_UDP, MQTT_PROTO_KCP,
		MQTT_PROTO_ICMP };

	family(o, "flows", "gauge",
		"Flows open now, by role and protocol (tcpx counts as tcp, kcpx as kcp).");
	for (int i = 0; i < hub->n_nodes; i++) {
		unsigned long open[MQTT_PROTO_ICMP + 1] = { 0 };
		struct flow *f;
		TAILQ_FOREACH(f, &hub->nodes[i]->flows->list, link)
		if (flow_is_open(f))
			open[f->proto == MQTT_PROTO_TCPX      ? MQTT_PROTO_TCP
				: f->proto == MQTT_PROTO_KCPX ? MQTT_PROTO_KCP
							      : f->proto]++;
		for (size_t p = 0; p < sizeof(protos) / sizeof(protos[0]); p++)
			evbuffer_add_printf(o, "net4mqtt_flows{role=\"%s\",protocol=\"%s\"} %lu\n",
				hub->nodes[i]->name, mqtt_proto_name(protos[p]), open[protos[p]]);
	}
}

static void metrics_counters(struct hub *hub, struct evbuffer *o)
{
	const char *last = "";

	for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		const struct counter *k = &counters[c];
		if (strcmp(last, k->family)) {
			for (size_t h = 0; h < sizeof(helps) / sizeof(helps[0]); h++)
				if (!strcmp(helps[h].family, k->family))
					family(o, k->family, "counter", helps[h].help);
			last = k->family;
		}
		for (int i = 0; i < hub->n_nodes; i++)
			evbuffer_add_printf(o, "net4mqtt_%s{role=\"%s\"%s%s} %llu\n", k->family,
				hub->nodes[i]->name, k->label ? "," : "", k->label ? k->label : "",
				counter_value(&hub->nodes[i]->stats, k));
	}
}

/* An agent's status is on AGENT/-; "-/-" is an agent's only if its status says so. */
static bool peer_is_agent(const char *key, const struct status *st)
{
	if (strncmp(key, MQTT_NIL "/", 2))
		return !strcmp(strchr(key, '/') ? strchr(key, '/') + 1 : "", MQTT_NIL);
	return !strcmp(key, MQTT_NIL "/" MQTT_NIL) && !strcmp(st->role, "agent");
}

/* The node whose peers to show: a local sees every agent, its own process's too. */
static struct node *peers_view(struct hub *hub)
{
	for (int i = 0; i < hub->n_nodes; i++)
		if (!hub->nodes[i]->role->is_agent)
			return hub->nodes[i];
	return hub->n_nodes ? hub->nodes[0] : NULL;
}

struct peer_count {
	unsigned long agents, locals;
};

static void count_peer(const char *key, const struct status *st, void *arg)
{
	struct peer_count *c = arg;

	if (st->online && peer_is_agent(key, st))
		c->agents++;
	else if (st->online)
		c->locals++;
}

static size_t rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

#define SPECS_SEEN_MAX 256

/* Each pool once, whichever routes name it. */
struct specs_seen {
	void (*fn)(struct node *n, const char *spec, void *arg);
	void *arg;
	const char *seen[SPECS_SEEN_MAX];
	int n_seen;
};

static void spec_once(struct node *n, const char *spec, void *arg)
{
	struct specs_seen *s = arg;

	if (!strchr(spec, ','))
		return;
	for (int i = 0; i < s->n_seen; i++)
		if (!strcmp(s->seen[i], spec))
			return;
	if (s->n_seen < SPECS_SEEN_MAX)
		s->seen[s->n_seen++] = spec;
	s->fn(n, spec, s->arg);
}

/* The pools of a local: its default agent, and the role's others (a gateway's routes). */
static void each_agent_spec(
	struct node *n, void (*fn)(struct node *n, const char *spec, void *arg), void *arg)
{
	struct specs_seen s = { .fn = fn, .arg = arg };

	spec_once(n, n->cfg.agent_id, &s);
	if (n->role->agent_specs)
		n->role->agent_specs(n, spec_once, &s);
}

static void pool_metrics(struct node *n, const char *spec, void *arg)
{
	node_pool_metrics(n, spec, arg);
}

struct pools_json {
	struct evbuffer *out;
	int count;
};

static void pool_json(struct node *n, const char *spec, void *arg)
{
	struct pools_json *p = arg;

	node_pool_json(n, spec, p->out, &p->count);
}

static void metrics_process(struct hub *hub, struct evbuffer *o)
{
	struct mallinfo2 mi = mallinfo2();
	struct peer_count peers = { 0, 0 };

	if (peers_view(hub))
		peers_walk(peers_view(hub)->peers, count_peer, &peers);
	family(o, "info", "gauge", "The version running.");
	evbuffer_add_printf(o, "net4mqtt_info{version=\"%s\"} 1\n", N4M_VERSION);
	family(o, "uptime_seconds", "gauge", "Seconds since start.");
	evbuffer_add_printf(o, "net4mqtt_uptime_seconds %llu\n", uptime_s(hub));
	family(o, "mqtt_connected", "gauge", "1 while connected to the broker.");
	evbuffer_add_printf(o, "net4mqtt_mqtt_connected %d\n", mqtt_client_connected(hub->mqtt));
	family(o, "mqtt_reconnects_total", "counter", "Connections to the broker after the first.");
	evbuffer_add_printf(
		o, "net4mqtt_mqtt_reconnects_total %lu\n", mqtt_client_reconnects(hub->mqtt));
	family(o, "mqtt_backlog_bytes", "gauge",
		"Bytes handed to the MQTT client, not yet written.");
	evbuffer_add_printf(o, "net4mqtt_mqtt_backlog_bytes %zu\n", mqtt_client_backlog(hub->mqtt));
	family(o, "peers_online", "gauge", "Peers whose status says online.");
	evbuffer_add_printf(o, "net4mqtt_peers_online{kind=\"agent\"} %lu\n", peers.agents);
	evbuffer_add_printf(o, "net4mqtt_peers_online{kind=\"local\"} %lu\n", peers.locals);
	family(o, "heap_bytes", "gauge", "Heap in use (what --max-memory limits).");
	evbuffer_add_printf(o, "net4mqtt_heap_bytes %zu\n", mi.uordblks + mi.hblkhd);
	family(o, "rss_bytes", "gauge", "Resident memory.");
	evbuffer_add_printf(o, "net4mqtt_rss_bytes %zu\n", rss_bytes());
}

void http_status_metrics(struct hub *hub, struct evbuffer *out)
{
	metrics_process(hub, out);
	metrics_flows_open(hub, out);
	metrics_counters(hub, out);
	family(out, "pool_member_online", "gauge",
		"1 while a member of an agent pool (-a A1,A2) is online, by role.");
	for (int i = 0; i < hub->n_nodes; i++)
		if (!hub->nodes[i]->role->is_agent)
			each_agent_spec(hub->nodes[i], pool_metrics, out);
	for (int i = 0; i < hub->n_nodes; i++)
		if (hub->nodes[i]->role->metrics)
			hub->nodes[i]->role->metrics(hub->nodes[i], out);
}

/* ---- /status ---- */

static unsigned long flows_open(struct node *n)
{
	unsigned long open = 0;
	struct flow *f;

	TAILQ_FOREACH(f, &n->flows->list, link)
	open += flow_is_open(f);
	return open;
}

struct agents_json {
	struct evbuffer *out;
	int n;
};

static void agent_json(const char *key, const struct status *st, void *arg)
{
	struct agents_json *a = arg;
	char agent[MQTT_LEVEL_MAX], cidr[NL_PREFIX_STRLEN];
	const char *slash = strchr(key, '/');

	if (!slash || !peer_is_agent(key, st) || (size_t)(slash - key) >= sizeof(agent))
		return;
	memcpy(agent, key, (size_t)(slash - key));
	agent[slash - key] = '\0';
	evbuffer_add_printf(a->out, "%s{\"id\":", a->n++ ? "," : "");
	json_string(a->out, agent);
	evbuffer_add_printf(a->out, ",\"online\":%s,\"role\":", st->online ? "true" : "false");
	json_string(a->out, st->role);
	evbuffer_add_printf(a->out, ",\"routes\":[");
	for (int i = 0; i < st->n_routes; i++) {
		nl_prefix_format(&st->routes[i], cidr, sizeof(cidr));
		evbuffer_add_printf(a->out, "%s\"%s\"", i ? "," : "", cidr);
	}
	evbuffer_add_printf(a->out, "]}");
}

static void role_json(struct node *n, struct evbuffer *o)
{
	const struct node_stats *s = &n->stats;

	evbuffer_add_printf(o, "{\"name\":");
	json_string(o, n->name);
	evbuffer_add_printf(o, ",\"role\":\"%s\",\"id\":", n->role->name);
	json_string(o, node_id(n));
	evbuffer_add_printf(o,
		",\"flows_open\":%lu,\"flows_opened\":%lu,\"bytes_up\":%llu,"
		"\"bytes_down\":%llu,\"msgs_up\":%llu,\"msgs_down\":%llu,\"refused\":%lu,"
		"\"over_limit\":%lu",
		flows_open(n), s->flow.opened, s->bytes_up, s->bytes_down, s->msgs_up, s->msgs_down,
		s->refused, s->flow.over_limit);
	if (!n->role->is_agent) {
		struct pools_json p = { o, 0 };
		evbuffer_add_printf(o, ",\"pools\":[");
		each_agent_spec(n, pool_json, &p);
		evbuffer_add_printf(o, "]");
	}
	if (n->role->status_json)
		n->role->status_json(n, o);
	evbuffer_add_printf(o, "}");
}

static void flows_json(struct hub *hub, struct evbuffer *o)
{
	uint64_t now = clock_ms();
	unsigned long shown = 0, total = 0;

	evbuffer_add_printf(o, ",\"flows\":[");
	for (int i = 0; i < hub->n_nodes; i++) {
		struct flow *f;
		TAILQ_FOREACH(f, &hub->nodes[i]->flows->list, link)
		{
			if (!flow_is_open(f))
				continue;
			if (total++ >= HTTP_STATUS_FLOWS_MAX)
				continue;
			evbuffer_add_printf(o, "%s{\"role\":", shown++ ? "," : "");
			json_string(o, hub->nodes[i]->name);
			evbuffer_add_printf(o,
				",\"id\":%llu,\"proto\":\"%s\",\"key\":", (unsigned long long)f->id,
				mqtt_proto_name(f->proto));
			json_string(o, f->key);
			evbuffer_add_printf(o,
				",\"bytes_up\":%llu,\"bytes_down\":%llu,\"age_s\":%llu%s}",
				f->bytes_up, f->bytes_down,
				(unsigned long long)(now - f->opened_ms) / 1000,
				f->seal ? ",\"sealed\":true" : "");
		}
	}
	evbuffer_add_printf(o, "],\"flows_listed\":%lu,\"flows_total\":%lu", shown, total);
}

void http_status_json(struct hub *hub, struct evbuffer *o)
{
	struct agents_json agents = { o, 0 };

	evbuffer_add_printf(o,
		"{\"version\":\"%s\",\"uptime_s\":%llu,\"mqtt\":{\"broker\":", N4M_VERSION,
		uptime_s(hub));
	json_string(o, mqtt_client_broker(hub->mqtt)->host); /* of a list, the current one */
	evbuffer_add_printf(o, ",\"port\":%u,\"prefix\":", mqtt_client_broker(hub->mqtt)->port);
	json_string(o, hub->url.prefix);
	evbuffer_add_printf(o, ",\"client_id\":");
	json_string(o, hub->client_id);
	evbuffer_add_printf(o, ",\"connected\":%s,\"reconnects\":%lu},\"config\":",
		mqtt_client_connected(hub->mqtt) ? "true" : "false",
		mqtt_client_reconnects(hub->mqtt));
	if (hub->config_path)
		json_string(o, hub->config_path);
	else
		evbuffer_add_printf(o, "null");
	evbuffer_add_printf(o, ",\"roles\":[");
	for (int i = 0; i < hub->n_nodes; i++) {
		if (i)
			evbuffer_add(o, ",", 1);
		role_json(hub->nodes[i], o);
	}
	evbuffer_add_printf(o, "],\"agents\":[");
	if (peers_view(hub))
		peers_walk(peers_view(hub)->peers, agent_json, &agents);
	evbuffer_add_printf(o, "]");
	flows_json(hub, o);
	evbuffer_add_printf(o, "}\n");
}

/* ---- /status.txt ---- */

static const char *human_bytes(unsigned long long v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", d, units[u]);
	return buf;
}

static void agent_text(const char *key, const struct status *st, void *arg)
{
	struct evbuffer *o = arg;
	char cidr[NL_PREFIX_STRLEN];
	const char *slash = strchr(key, '/');

	if (!slash || !peer_is_agent(key, st))
		return;
	evbuffer_add_printf(
		o, "  %-24.*s %-7s ", (int)(slash - key), key, st->online ? "online" : "offline");
	for (int i = 0; i < st->n_routes; i++) {
		nl_prefix_format(&st->routes[i], cidr, sizeof(cidr));
		evbuffer_add_printf(o, "%s%s", i ? " " : "", cidr);
	}
	evbuffer_add_printf(o, "%s\n", st->n_routes ? "" : "-");
}

static void flows_text(struct hub *hub, struct evbuffer *o)
{
	uint64_t now = clock_ms();
	char up[32], down[32];
	unsigned long total = 0;

	evbuffer_add_printf(o, "\nFlows:\n  %-16s %-5s %10s %10s %7s  %s\n", "ROLE", "PROTO", "UP",
		"DOWN", "AGE", "AGENT/LOCAL/PROTO/SRC/DST");
	for (int i = 0; i < hub->n_nodes; i++) {
		struct flow *f;
		TAILQ_FOREACH(f, &hub->nodes[i]->flows->list, link)
		{
			if (!flow_is_open(f) || total++ >= HTTP_STATUS_FLOWS_MAX)
				continue;
			evbuffer_add_printf(o, "  %-16s %-5s %10s %10s %6llus  %s\n",
				hub->nodes[i]->name, mqtt_proto_name(f->proto),
				human_bytes(f->bytes_up, up, sizeof(up)),
				human_bytes(f->bytes_down, down, sizeof(down)),
				(unsigned long long)(now - f->opened_ms) / 1000, f->key);
		}
	}
	if (!total)
		evbuffer_add_printf(o, "  (none)\n");
	else if (total > HTTP_STATUS_FLOWS_MAX)
		evbuffer_add_printf(o, "  ... %lu flows in all\n", total);
}

struct pool_text {
	struct node *n;
	struct evbuffer *out;
};

static void member_text(const char *member, void *arg)
{
	struct pool_text *p = arg;

	evbuffer_add_printf(p->out, " %s (%s)", member,
		node_peer_online(p->n, member, MQTT_NIL) ? "online" : "offline");
}

static void pool_text(struct node *n, const char *spec, void *arg)
{
	struct pool_text p = { n, arg };

	evbuffer_add_printf(p.out, "  %-16s %s:", n->name, spec);
	pool_walk(spec, NODE_ID_MAX, member_text, &p);
	evbuffer_add_printf(p.out, "\n");
}

void http_status_text(struct hub *hub, struct evbuffer *o)
{
	char up[32], down[32];

	evbuffer_add_printf(o,
		"net4mqtt %s, up %llus\nBroker: %s:%u prefix %s, client id %s: %s, %lu "
		"reconnects\n",
		N4M_VERSION, uptime_s(hub), mqtt_client_broker(hub->mqtt)->host,
		mqtt_client_broker(hub->mqtt)->port, hub->url.prefix, hub->client_id,
		mqtt_client_connected(hub->mqtt) ? "connected" : "NOT CONNECTED",
		mqtt_client_reconnects(hub->mqtt));
	if (hub->config_path)
		evbuffer_add_printf(o, "Config: %s\n", hub->config_path);
	evbuffer_add_printf(o, "\nRoles:\n  %-16s %-16s %6s %8s %10s %10s %8s\n", "ROLE", "ID",
		"FLOWS", "OPENED", "UP", "DOWN", "REFUSED");
	for (int i = 0; i < hub->n_nodes; i++) {
		struct node *n = hub->nodes[i];
		const struct node_stats *s = &n->stats;
		evbuffer_add_printf(o, "  %-16s %-16s %6lu %8lu %10s %10s %8lu\n", n->name,
			node_id(n), flows_open(n), s->flow.opened,
			human_bytes(s->bytes_up, up, sizeof(up)),
			human_bytes(s->bytes_down, down, sizeof(down)),
			s->refused + s->flow.over_limit);
	}
	evbuffer_add_printf(o, "\nPools:\n");
	for (int i = 0; i < hub->n_nodes; i++)
		if (!hub->nodes[i]->role->is_agent)
			each_agent_spec(hub->nodes[i], pool_text, o);
	evbuffer_add_printf(o, "\nAgents:\n  %-24s %-7s %s\n", "ID", "STATUS", "ROUTES");
	if (peers_view(hub))
		peers_walk(peers_view(hub)->peers, agent_text, o);
	flows_text(hub, o);
}

/* ---- the server ---- */

/* With a password set, whether req carries it; if not, answers 401 and says so. */
static bool authorized(struct http_status *h, struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);

	if (!h->password[0] || basic_auth_ok(evhttp_find_header(in, "Authorization"), h->password))
		return true;
	struct evbuffer *body = evbuffer_new();
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);

	/* not evhttp_send_error, which drops the headers set */
	evhttp_add_header(
		out, "WWW-Authenticate", "Basic realm=\"" BASIC_AUTH_REALM "\", charset=\"UTF-8\"");
	evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
	if (body)
		evbuffer_add_printf(body, "net4mqtt: a password is needed\n");
	evhttp_send_reply(req, 401, "Unauthorized", body);
	evbuffer_free(body);
	return false;
}

static void send_ok(
	struct evhttp_request *req, struct hub *hub, const char *type, struct evbuffer *body)
{
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);

	if (hub->config_path) /* `net4mqtt status -c FILE` checks it reached FILE's process */
		evhttp_add_header(headers, HTTP_CONFIG_HEADER, hub->config_path);
	evhttp_add_header(headers, "Content-Type", type);
	evhttp_add_header(headers, "Cache-Control", "no-store");
	evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
}

static void reply(struct evhttp_request *req, const char *type,
	void (*render)(struct hub *, struct evbuffer *), struct http_status *h)
{
	struct evbuffer *body;

	if (!authorized(h, req))
		return;
	if (!(body = evbuffer_new())) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	render(h->hub, body);
	send_ok(req, h->hub, type, body);
	evbuffer_free(body);
}

static void metrics_cb(struct evhttp_request *req, void *arg)
{
	reply(req, "text/plain; version=0.0.4; charset=utf-8", http_status_metrics, arg);
}

static void status_cb(struct evhttp_request *req, void *arg)
{
	reply(req, "application/json", http_status_json, arg);
}

static void status_text_cb(struct evhttp_request *req, void *arg)
{
	reply(req, "text/plain; charset=utf-8", http_status_text, arg);
}

static void render_page(struct hub *hub, struct evbuffer *o)
{
	(void)hub;
	evbuffer_add_reference(o, web_page, web_page_len, NULL, NULL);
}

/* The page: its own script and style inline, nothing from elsewhere, data from /status only. */
static void page_cb(struct evhttp_request *req, void *arg)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Security-Policy",
		"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
		"connect-src 'self'; img-src data:; frame-ancestors 'none'");
	reply(req, "text/html; charset=utf-8", render_page, arg);
}

static void not_found_cb(struct evhttp_request *req, void *arg)
{
	if (authorized(arg, req))
		evhttp_send_error(req, HTTP_NOTFOUND, "try /, /metrics, /status or /status.txt");
}

int http_status_start(struct event_base *base, const char *addr, const char *password,
	struct hub *hub, struct http_status **out)
{
	struct http_status *h = calloc(1, sizeof(*h));
	char host[ADDR_HOST_MAX];
	uint16_t port;

	if (!h)
		return -ENOMEM;
	if (addr_split(addr, host, sizeof(host), &port)) {
		free(h);
		return -EINVAL;
	}
	h->hub = hub;
	if (password && strlen(password) >= sizeof(h->password)) {
		free(h);
		return -EINVAL;
	}
	snprintf(h->password, sizeof(h->password), "%s", password ? password : "");
	if (!(h->http = evhttp_new(base))) {
		free(h);
		return -ENOMEM;
	}
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(h->http, 10);
	evhttp_set_max_headers_size(h->http, 8192);
	evhttp_set_max_body_size(h->http, 0);
	evhttp_set_cb(h->http, "/", page_cb, h);
	evhttp_set_cb(h->http, "/metrics", metrics_cb, h);
	evhttp_set_cb(h->http, "/status", status_cb, h);
	evhttp_set_cb(h->http, "/status.txt", status_text_cb, h);
	evhttp_set_gencb(h->http, not_found_cb, h);
	if (!evhttp_bind_socket_with_handle(h->http, host, port)) {
		int err = errno ? errno : EADDRINUSE;
		http_status_free(h);
		return -err;
	}
	log_info("status: http://%s/ (the page), /metrics, /status%s", addr,
		h->password[0] ? " (with a password)" : "");
	*out = h;
	return 0;
}

void http_status_free(struct http_status *h)
{
	if (!h)
		return;
	evhttp_free(h->http);
	explicit_bzero(h->password, sizeof(h->password));
	free(h);
}

/* ---- the client of `net4mqtt status` ---- */

static int fetch_connect(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct timeval tv = { FETCH_TIMEOUT_S, 0 };
	int fd;

	if (addr_parse(addr, &ss, &len)) {
		fprintf(stderr, "net4mqtt: bad status address %s\n", addr);
		return -EINVAL;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		int err = errno;
		fprintf(stderr,
			"net4mqtt: cannot reach the status server on %s: %s "
			"(is net4mqtt running, with status-listen there?)\n",
			addr, strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

/* Whether the process behind addr runs the config file config (absolute), going by the
 * X-Net4mqtt-Config header among headers; says why not on stderr. */
static bool fetch_runs(const char *headers, const char *addr, const char *config)
{
	const char *name = "\r\n" HTTP_CONFIG_HEADER ": ";
	const char *at = strcasestr(headers, name);
	int len = at ? (int)strcspn(at + strlen(name), "\r\n") : 0;

	if (at && (size_t)len == strlen(config) && !memcmp(at + strlen(name), config, (size_t)len))
		return true;
	if (at)
		fprintf(stderr,
			"net4mqtt: the status server on %s is the one of %.*s, not of %s "
			"(give %s its own status-listen)\n",
			addr, len, at + strlen(name), config, config);
	else
		fprintf(stderr,
			"net4mqtt: the status server on %s runs no config file, not %s "
			"(give %s its own status-listen)\n",
			addr, config, config);
	return false;
}

/* The request line and headers for path, with the password if any, into req: their length,
 * or -ENOSPC. */
static int fetch_request(
	const char *addr, const char *path, const char *password, char *req, size_t size)
{
	char auth[512] = "";
	int len;

	if (password && basic_auth_header(BASIC_AUTH_REALM, password, auth, sizeof(auth)))
		return -ENOSPC;
	len = snprintf(req, size, "GET %s HTTP/1.0\r\nHost: %s\r\n%s%s%s\r\n", path, addr,
		auth[0] ? "Authorization: " : "", auth, auth[0] ? "\r\n" : "");
	explicit_bzero(auth, sizeof(auth));
	return len < 0 || (size_t)len >= size ? -ENOSPC : len;
}

int http_status_fetch(
	const char *addr, const char *path, const char *config, const char *password, FILE *out)
{
	char req[1024], *buf = malloc(FETCH_MAX + 1);
	size_t got = 0;
	ssize_t r;
	int fd = buf ? fetch_connect(addr) : -ENOMEM;

	if (fd < 0) {
		free(buf);
		return fd;
	}
	int len = fetch_request(addr, path, password, req, sizeof(req));
	if (len < 0) {
		fprintf(stderr, "net4mqtt: status server %s: the request is too long\n", addr);
		goto fail;
	}
	bool sent = write(fd, req, (size_t)len) == len;
	explicit_bzero(req, sizeof(req)); /* it may hold the password */
	if (!sent) {
		fprintf(stderr, "net4mqtt: status server %s: %s\n", addr, strerror(errno));
		goto fail;
	}
	while (got < FETCH_MAX && (r = read(fd, buf + got, FETCH_MAX - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	char *body = strstr(buf, "\r\n\r\n");
	if (!strncmp(buf, "HTTP/1.", 7) && strlen(buf) >= 12 && !strncmp(buf + 9, "401", 3)) {
		fprintf(stderr,
			"net4mqtt: the status server on %s wants %s password (status "
			"--status-password FILE, or -c FILE with its status-password)\n",
			addr, password ? "another" : "a");
		goto fail;
	}
	if (strncmp(buf, "HTTP/1.", 7) || strlen(buf) < 12 || strncmp(buf + 9, "200", 3) || !body) {
		fprintf(stderr, "net4mqtt: status server %s answered: %.*s\n", addr,
			(int)strcspn(buf, "\r\n"), got ? buf : "nothing");
		goto fail;
	}
	body[2] = '\0'; /* the headers end with their last line's CRLF */
	if (config && !fetch_runs(buf, addr, config))
		goto fail;
	fputs(body + 4, out);
	close(fd);
	free(buf);
	return 0;
fail:
	close(fd);
	free(buf);
	return -EIO;
}
