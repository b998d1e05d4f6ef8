/* The gateway's figures: its NAT, routes and drops for /metrics, its TUN and route table for /status. */
#include <event2/buffer.h>
#include <stdio.h>

#include "gateway/core/node.h"
#include "gateway/lib/json.h"
#include "gw.h"
#include "gwdns.h"
#include "route.h"
#include "tun/frag.h"
#include "tun/nat.h"

/* Packets the kernel dropped before we read them: the TUN's queue (GW_TXQLEN) was full. */
static unsigned long long tun_queue_drops(const char *ifname)
{
	char path[96];
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_dropped", ifname);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

void gw_metrics(struct node *n, struct evbuffer *o)
{
	struct gw *g = n->role_data;
	struct tun_nat_stats st;

	if (!g)
		return;
	tun_nat_stats(g->nat, &st);
	evbuffer_add_printf(o,
		"# HELP net4mqtt_nat_entries TCP connections in the gateway's NAT table.\n"
		"# TYPE net4mqtt_nat_entries gauge\nnet4mqtt_nat_entries %llu\n"
		"# HELP net4mqtt_nat_refused_total SYNs refused: no NAT port or entry left.\n"
		"# TYPE net4mqtt_nat_refused_total counter\nnet4mqtt_nat_refused_total %llu\n",
		(unsigned long long)st.entries, (unsigned long long)st.refused);
	evbuffer_add_printf(o,
		"# HELP net4mqtt_gateway_routes Routes and exclusions in the gateway's table.\n"
		"# TYPE net4mqtt_gateway_routes gauge\nnet4mqtt_gateway_routes %zu\n",
		route_count(g->routes));
	evbuffer_add_printf(o,
		"# HELP net4mqtt_tun_drops_total Packets from the TUN dropped, by reason.\n"
		"# TYPE net4mqtt_tun_drops_total counter\n"
		"net4mqtt_tun_drops_total{reason=\"malformed\"} %lu\n"
		"net4mqtt_tun_drops_total{reason=\"fragment\"} %lu\n"
		"net4mqtt_tun_drops_total{reason=\"no_agent\"} %lu\n"
		"net4mqtt_tun_drops_total{reason=\"write_failed\"} %lu\n"
		"net4mqtt_tun_drops_total{reason=\"queue_full\"} %llu\n",
		g->bad_packets, g->fragments, g->no_agent, g->tun_drops,
		tun_queue_drops(tun_name(g->tun)));
	const struct tun_frag_stats *fs = tun_frag_stats(g->frags);
	evbuffer_add_printf(o,
		"# HELP net4mqtt_tun_reassembly_total Datagrams from the TUN in fragments, by what "
		"became of them.\n"
		"# TYPE net4mqtt_tun_reassembly_total counter\n"
		"net4mqtt_tun_reassembly_total{result=\"reassembled\"} %llu\n"
		"net4mqtt_tun_reassembly_total{result=\"timed_out\"} %llu\n"
		"net4mqtt_tun_reassembly_total{result=\"overlap\"} %llu\n"
		"net4mqtt_tun_reassembly_total{result=\"over_limit\"} %llu\n"
		"net4mqtt_tun_reassembly_total{result=\"too_many_fragments\"} %llu\n"
		"net4mqtt_tun_reassembly_total{result=\"oversized\"} %llu\n"
		"net4mqtt_tun_reassembly_total{result=\"malformed\"} %llu\n"
		"# HELP net4mqtt_tun_reassembly_bytes Memory held by datagrams being reassembled.\n"
		"# TYPE net4mqtt_tun_reassembly_bytes gauge\nnet4mqtt_tun_reassembly_bytes %zu\n"
		"# HELP net4mqtt_tun_reassembly_datagrams Datagrams being reassembled.\n"
		"# TYPE net4mqtt_tun_reassembly_datagrams gauge\n"
		"net4mqtt_tun_reassembly_datagrams %zu\n"
		"# HELP net4mqtt_tun_fragments_sent_total Fragments of datagrams the gateway split "
		"for the LAN.\n"
		"# TYPE net4mqtt_tun_fragments_sent_total counter\n"
		"net4mqtt_tun_fragments_sent_total %lu\n"
		"# HELP net4mqtt_tun_icmp_total ICMP the gateway answered itself, by reason.\n"
		"# TYPE net4mqtt_tun_icmp_total counter\n"
		"net4mqtt_tun_icmp_total{reason=\"ttl_exceeded\"} %lu\n"
		"net4mqtt_tun_icmp_total{reason=\"agent_without_icmp\"} %lu\n",
		(unsigned long long)fs->reassembled, (unsigned long long)fs->timed_out,
		(unsigned long long)fs->overlaps, (unsigned long long)fs->over_limit,
		(unsigned long long)fs->too_many, (unsigned long long)fs->oversized,
		(unsigned long long)fs->bad, tun_frag_mem(g->frags, NULL), tun_frag_count(g->frags),
		g->frags_sent, g->ttl_exceeded, g->icmp_refused);
	if (g->dns)
		gwdns_metrics(g->dns, o);
}

struct routes_json {
	struct evbuffer *out;
	int n;
};

static int gw_route_json(
	const struct nl_prefix *p, enum route_source src, const char *agent, void *arg)
{
	static const char *const sources[] = { "exclude", "configured", "advertised" };
	struct routes_json *r = arg;
	char cidr[NL_PREFIX_STRLEN];

	nl_prefix_format(p, cidr, sizeof(cidr));
	evbuffer_add_printf(r->out,
		"%s{\"prefix\":\"%s\",\"source\":\"%s\",\"agent\":", r->n++ ? "," : "", cidr,
		sources[src]);
	json_string(r->out, agent ? agent : "");
	evbuffer_add_printf(r->out, "}");
	return 0;
}

void gw_status_json(struct node *n, struct evbuffer *o)
{
	struct gw *g = n->role_data;

	if (!g)
		return;
	struct routes_json r = { o, 0 };
	evbuffer_add_printf(o, ",\"tun\":\"%s\",\"routes\":[", tun_name(g->tun));
	route_walk(g->routes, gw_route_json, &r);
	evbuffer_add_printf(o, "]");
}

struct agent_specs {
	const struct route_table *routes;
	struct node *n;
	void (*fn)(struct node *n, const char *spec, void *arg);
	void *arg;
};

static int gw_route_agent(
	const struct nl_prefix *p, enum route_source src, const char *agent, void *arg)
{
	struct agent_specs *a = arg;

	if (src == ROUTE_ADVERTISED) /* several advertisers: one pool */
		agent = route_agent_of(a->routes, p);
	if (agent)
		a->fn(a->n, agent, a->arg);
	return 0;
}

void gw_agent_specs(
	struct node *n, void (*fn)(struct node *n, const char *spec, void *arg), void *arg)
{
	struct gw *g = n->role_data;
	if (!g)
		return;
	struct agent_specs a = { g->routes, n, fn, arg };
	route_walk(g->routes, gw_route_agent, &a);
}
