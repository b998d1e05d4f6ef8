/* The gateway role: a TUN device and routes send chosen subnets here; TCP is terminated by the kernel through a NAT rewrite, UDP is parsed directly. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/core/node.h"
#include "gateway/lib/log.h"
#include "gw.h"
#include "gwdns.h"
#include "local.h"
#include "mqtt/topic.h"
#include "netlink/nl.h"
#include "roles.h"
#include "route.h"

/* 198.18.0.0/30 (RFC 2544 benchmarking space) and a ULA /126: .1 is the
 * TUN and the listener, .2 the NAT's pseudo-client. */
static const uint8_t gw_self4[4] = { 198, 18, 0, 1 }, gw_pseudo4[4] = { 198, 18, 0, 2 };
static const uint8_t gw_self6[16] = { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, [15] = 1 };
static const uint8_t gw_pseudo6[16] = { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, [15] = 2 };

/* The TUN, configured by netlink: its name, addresses, MTU. */
static int gw_open_tun(struct gw *g)
{
	int err;

	if ((err = nl_new(&g->nl))) {
		log_errorx("netlink: %s", strerror(-err));
		return err;
	}
	if ((err = tun_open(gw_cfg(g)->tun_name, TUN_OFFLOAD, &g->tun))) {
		log_errorx("cannot open TUN %s: %s (needs CAP_NET_ADMIN)", gw_cfg(g)->tun_name,
			strerror(-err));
		return err;
	}
	if ((err = gw_routes_configure_tun(g))) {
		log_errorx("cannot configure %s: %s", tun_name(g->tun), strerror(-err));
		return err;
	}
	return 0;
}

static int gw_start(struct node *n)
{
	struct gw *g = calloc(1, sizeof(*g));
	int err;

	if (!g)
		return -ENOMEM;
	n->role_data = g;
	g->route_lines = (struct log_budget){ .per_second = GW_ROUTE_LOGS,
		.what = "advertised route lines" };
	g->node = n;
	tun_addr_set(&g->self4, AF_INET, gw_self4);
	tun_addr_set(&g->pseudo4, AF_INET, gw_pseudo4);
	tun_addr_set(&g->self6, AF_INET6, gw_self6);
	tun_addr_set(&g->pseudo6, AF_INET6, gw_pseudo6);
	g->routes = route_table_new();
	if (!g->routes || gw_routes_parse(gw_cfg(g), n->cfg.agent_id, g->routes))
		return -EINVAL;
	if ((err = gw_open_tun(g)) || (err = gw_packet_start(g)))
		return err;
	if (gw_cfg(g)->dns && (err = gwdns_new(n, g->tun, &g->self4, &g->self6, &g->dns)))
		return err;
	if ((err = gw_routes_start(g)))
		return err;
	log_info("id %s: %s up, %zu routes, NAT listener ports %u/%u", n->cfg.local_id,
		tun_name(g->tun), route_count(g->routes), g->port4, g->port6);
	return 0;
}

static void gw_stop(struct node *n)
{
	struct gw *g = n->role_data;

	if (!g)
		return;
	gw_routes_stop(g);
	gwdns_free(g->dns);
	log_info("bad packets %lu, fragments %lu, refused (no agent) %lu, tun drops %lu",
		g->bad_packets, g->fragments, g->no_agent, g->tun_drops);
	gw_packet_stop(g);
	tun_close(g->tun); /* the device goes, and its routes with it */
	if (g->nl)
		nl_free(g->nl);
	route_table_free(g->routes);
	free(g);
	n->role_data = NULL;
}

static void gw_on_peer(
	struct node *n, const char *agent, const char *local, const struct status *st)
{
	struct gw *g = n->role_data;

	if (!g || !gw_cfg(g)->auto_routes || strcmp(local, MQTT_NIL) || !strcmp(agent, MQTT_NIL))
		return;
	gw_routes_on_peer(g, agent, st);
}

static void gw_reloadable(void *dst, const void *src)
{
	struct gateway_config *d = dst;
	const struct gateway_config *s = src;

	memcpy(d->routes, s->routes, sizeof(d->routes));
	d->n_routes = s->n_routes;
	memcpy(d->excludes, s->excludes, sizeof(d->excludes));
	d->n_excludes = s->n_excludes;
	memcpy(d->bypass, s->bypass, sizeof(d->bypass));
	d->n_bypass = s->n_bypass;
}

static int gw_reload(struct node *n, const void *next)
{
	struct gw *g = n->role_data;

	return g ? gw_routes_reload(g, next) : 0;
}

const struct role_ops gateway_role = {
	.name = "gateway",
	.config_size = sizeof(struct gateway_config),
	.start = gw_start,
	.on_data = local_on_data,
	.on_stop = gw_stop,
	.on_peer = gw_on_peer,
	.reloadable = gw_reloadable,
	.reload = gw_reload,
	.metrics = gw_metrics,
	.status_json = gw_status_json,
	.agent_specs = gw_agent_specs,
};
