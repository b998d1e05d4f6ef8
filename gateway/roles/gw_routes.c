/* The gateway's routes: the table of subnets to agents (configured and advertised), and its copy in the kernel (table, rule, broker pin), kept current by a netlink monitor. */
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fakeip.h"
#include "gateway/core/node.h"
#include "gateway/core/status.h"
#include "gateway/lib/log.h"
#include "gw.h"
#include "mqtt/topic.h"
#include "mqtt/url.h"
#include "netlink/monitor.h"
#include "netlink/nl.h"
#include "roles.h"
#include "route.h"

#define GW_RULE_FAMILIES 2 /* IPv4, IPv6 */

/* 198.18.0.1/30 and fdfe:dcba:9876::1/126 on the TUN (see gw.c). */
#define GW_SELF4_LEN 30
#define GW_SELF6_LEN 126

int gw_routes_parse(
	const struct gateway_config *cfg, const char *default_agent, struct route_table *rt)
{
	for (int i = 0; i < cfg->n_routes + cfg->n_excludes; i++) {
		bool exclude = i >= cfg->n_routes;
		const char *arg = exclude ? cfg->excludes[i - cfg->n_routes] : cfg->routes[i];
		char cidr[NL_PREFIX_STRLEN];
		const char *eq = strchr(arg, '=');
		const char *agent = eq ? eq + 1 : default_agent;
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		struct nl_prefix p;

		if (len >= sizeof(cidr))
			return -EINVAL;
		memcpy(cidr, arg, len);
		cidr[len] = '\0';
		if (nl_prefix_parse(cidr, &p, NULL)) {
			log_warnx("bad %s %s", exclude ? "--exclude" : "--route", arg);
			return -EINVAL;
		}
		int err = route_add(rt, &p, exclude ? ROUTE_EXCLUDED : ROUTE_CONFIGURED,
			exclude ? NULL : agent);
		if (err)
			return err;
	}
	return 0;
}

/* A route of ours into the TUN; an exclusion is a throw route: those addresses fall through to main. */
static int gw_kernel_route(
	const struct nl_prefix *p, enum route_source src, const char *agent, void *arg)
{
	struct gw *g = arg;
	struct nl_route r = {
		.table = gw_table(g), .dst = *p, .oif = g->ifindex, .throw = src == ROUTE_EXCLUDED
	};
	(void)agent;

	int err = nl_route_add(g->nl, &r);
	if (err && err != -EEXIST) {
		char s[NL_PREFIX_STRLEN];
		nl_prefix_format(p, s, sizeof(s));
		log_warnx("cannot route %s into %s: %s", s, tun_name(g->tun), strerror(-err));
		return err;
	}
	return 0;
}

static int gw_same_prefix(
	const struct nl_prefix *p, enum route_source src, const char *agent, void *arg)
{
	(void)src, (void)agent;
	return nl_prefix_equal(p, arg);
}

/* Takes prefix p (an exclusion's throw route, or a route) out of our table in
 * the kernel unless a route of ours (any source) still has it. */
static void gw_kernel_unroute(struct gw *g, const struct nl_prefix *p, bool throw)
{
	struct nl_route r = { .table = gw_table(g), .dst = *p, .oif = g->ifindex, .throw = throw };

	if (route_walk(g->routes, gw_same_prefix, (void *)p))
		return;
	nl_route_del(g->nl, &r);
}

/* --- advertised routes (--auto-routes) --- */

struct advertised {
	const char *agent;
	struct nl_prefix list[STATUS_ROUTES_MAX];
	int n;
};

static int gw_collect_advertised(
	const struct nl_prefix *p, enum route_source src, const char *agent, void *arg)
{
	struct advertised *a = arg;

	if (src == ROUTE_ADVERTISED && !strcmp(agent, a->agent) && a->n < STATUS_ROUTES_MAX)
		a->list[a->n++] = *p;
	return 0;
}

static bool prefix_listed(const struct nl_prefix *p, const struct nl_prefix *list, int n)
{
	for (int i = 0; i < n; i++)
		if (nl_prefix_equal(p, &list[i]))
			return true;
	return false;
}

static int gw_exclusion_overlaps(
	const struct nl_prefix *p, enum route_source src, const char *agent, void *arg)
{
	(void)agent;
	return src == ROUTE_EXCLUDED && nl_prefix_overlaps(p, arg);
}

struct connected_check {
	const struct nl_prefix *p;
	int tun_ifindex;
};

/* A subnet the gateway sits on (a device route of main, not the TUN's) that p overlaps. */
static int gw_connected_overlaps(const struct nl_route *r, void *arg)
{
	const struct connected_check *c = arg;

	if (r->has_gateway || !r->oif || r->oif == c->tun_ifindex || !r->dst.len)
		return 0;
	return nl_prefix_overlaps(c->p, &r->dst);
}

/* What an agent may not advertise: a default route, our own and special
 * address blocks, the subnets the gateway is attached to (its LAN, its
 * uplink), and anything that would undo an --exclude. NULL if fine. */
static const char *gw_advert_refused(struct gw *g, const struct nl_prefix *p)
{
	static const char *const reserved[] = {
		"198.18.0.0/15",
		"fdfe:dcba:9876::/48", /* the TUN's and the fake-ip pool's */
		"127.0.0.0/8",
		"169.254.0.0/16",
		"224.0.0.0/3",
		"::1/128",
		"fe80::/10",
		"ff00::/8",
	};
	struct nl_prefix r;

	if (p->len == 0)
		return "a default route";
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (!nl_prefix_parse(reserved[i], &r, NULL) && nl_prefix_overlaps(p, &r))
			return "overlaps a reserved or the gateway's own block";
	if (gw_cfg(g)->dns && (nl_prefix_overlaps(p, &gw_cfg(g)->fake_ip.net4) ||
				      nl_prefix_overlaps(p, &gw_cfg(g)->fake_ip.net6)))
		return "overlaps the fake-ip range";
	if (route_walk(g->routes, gw_exclusion_overlaps, (void *)p))
		return "overlaps an --exclude";
	struct connected_check c = { p, g->ifindex };
	if (nl_route_walk(g->nl, p->family, GW_MAIN_TABLE, gw_connected_overlaps, &c) > 0)
		return "overlaps a subnet the gateway is attached to";
	return NULL;
}

/* No loops: when the broker is inside a routed subnet, its traffic keeps using main. */
static void gw_pin_broker(struct gw *g)
{
	for (int i = 0; i < g->n_broker && !g->pinned; i++) {
		if (!route_lookup(g->routes, g->broker[i].family, g->broker[i].addr, NULL))
			continue;
		g->pin = g->broker[i];
		nl_rule_del(g->nl, &g->pin, GW_MAIN_TABLE, gw_pin_prio(g));
		g->pinned = !nl_rule_add(g->nl, &g->pin, GW_MAIN_TABLE, gw_pin_prio(g));
		log_info("broker %s is in a routed subnet: pinned to the main table",
			g->node->url->host);
	}
}

/* --auto-routes: an agent's status names the subnets it reaches; offline (st NULL), none. */
void gw_routes_on_peer(struct gw *g, const char *agent, const struct status *st)
{
	struct advertised old = { .agent = agent };
	char cidr[NL_PREFIX_STRLEN];
	int n_new = st ? st->n_routes : 0;

	route_walk(g->routes, gw_collect_advertised, &old);
	for (int i = 0; i < old.n; i++) {
		if (prefix_listed(&old.list[i], st ? st->routes : NULL, n_new))
			continue;
		route_del(g->routes, &old.list[i], ROUTE_ADVERTISED, agent);
		gw_kernel_unroute(g, &old.list[i], false);
		nl_prefix_format(&old.list[i], cidr, sizeof(cidr));
		if (log_budget_ok(&g->route_lines))
			log_info("%s withdrawn (agent %s %s)", cidr, agent,
				st ? "stopped advertising it" : "offline");
	}
	for (int i = 0; i < n_new; i++) {
		if (prefix_listed(&st->routes[i], old.list, old.n))
			continue;
		nl_prefix_format(&st->routes[i], cidr, sizeof(cidr));
		const char *why = gw_advert_refused(g, &st->routes[i]);
		if (why) {
			if (log_budget_ok(&g->route_lines))
				log_warnx("agent %s advertises %s: ignored (%s)", agent, cidr, why);
			continue;
		}
		if (route_add(g->routes, &st->routes[i], ROUTE_ADVERTISED, agent))
			continue;
		gw_kernel_route(&st->routes[i], ROUTE_ADVERTISED, agent, g);
		if (log_budget_ok(&g->route_lines))
			log_info("%s routed to agent %s (advertised)", cidr, agent);
	}
	if (!g->pinned)
		gw_pin_broker(g);
}

/* --- the kernel's side: the TUN's addresses, the rule, the table --- */

static void gw_rules(struct gw *g, bool add)
{
	for (int fam = 0; fam < GW_RULE_FAMILIES; fam++) {
		struct nl_prefix all = { .family = fam ? AF_INET6 : AF_INET };
		bool *have = fam ? &g->rule6 : &g->rule4;
		if (add) {
			nl_rule_del(
				g->nl, &all, gw_table(g), gw_rule_prio(g)); /* a crashed run's */
			*have = !nl_rule_add(g->nl, &all, gw_table(g), gw_rule_prio(g));
		} else if (*have) {
			nl_rule_del(g->nl, &all, gw_table(g), gw_rule_prio(g));
			*have = false;
		}
		nl_route_flush(g->nl, all.family, gw_table(g));
	}
}

/* --- --bypass: `from CIDR lookup main`, below our rule --- */

static void gw_bypass_log(const struct nl_prefix *p, const char *what, int err)
{
	char cidr[NL_PREFIX_STRLEN];

	nl_prefix_format(p, cidr, sizeof(cidr));
	if (err)
		log_warnx("cannot %s the --bypass rule from %s: %s", what, cidr, strerror(-err));
	else
		log_info("--bypass: from %s lookup main %s", cidr, what);
}

static void gw_bypass_add(struct gw *g, const struct nl_prefix *p)
{
	nl_rule_from_del(g->nl, p, GW_MAIN_TABLE, gw_bypass_prio(g)); /* a crashed run's */
	int err = nl_rule_from_add(g->nl, p, GW_MAIN_TABLE, gw_bypass_prio(g));
	gw_bypass_log(p, "added", err == -EEXIST ? 0 : err);
}

static void gw_bypass_del(struct gw *g, const struct nl_prefix *p)
{
	int err = nl_rule_from_del(g->nl, p, GW_MAIN_TABLE, gw_bypass_prio(g));
	gw_bypass_log(p, "removed", err == -ENOENT ? 0 : err);
}

static bool bypass_listed(const struct gateway_config *cfg, const struct nl_prefix *p)
{
	return prefix_listed(p, cfg->bypass, cfg->n_bypass);
}

/* The brokers' addresses (every one of a list), resolved once at start (getaddrinfo
 * blocks: never again later). */
static void gw_resolve_broker(struct gw *g)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV }, *ai;
	const struct mqtt_url *u = g->node->url;

	for (int i = 0; i < u->n_brokers; i++) {
		if (getaddrinfo(u->brokers[i].host, "1883", &hints, &ai))
			continue;
		for (struct addrinfo *a = ai; a && g->n_broker < GW_BROKER_ADDRS; a = a->ai_next) {
			if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
				continue;
			struct nl_prefix *b = &g->broker[g->n_broker++];
			b->family = a->ai_family;
			b->len = a->ai_family == AF_INET ? 32 : 128;
			memcpy(b->addr,
				a->ai_family == AF_INET
					? (const void *)&((struct sockaddr_in *)a->ai_addr)
						  ->sin_addr
					: (const void *)&((struct sockaddr_in6 *)a->ai_addr)
						  ->sin6_addr,
				a->ai_family == AF_INET ? 4 : 16);
		}
		freeaddrinfo(ai);
	}
}

int gw_routes_configure_tun(struct gw *g)
{
	struct nl_prefix a4 = { .family = AF_INET, .len = GW_SELF4_LEN };
	struct nl_prefix a6 = { .family = AF_INET6, .len = GW_SELF6_LEN };
	int err;

	memcpy(a4.addr, g->self4.ip, 4);
	memcpy(a6.addr, g->self6.ip, 16);
	if ((err = nl_ifindex(g->nl, tun_name(g->tun), &g->ifindex)) ||
		(err = nl_address_add(g->nl, g->ifindex, &a4)) ||
		(err = nl_address_add(g->nl, g->ifindex, &a6)) ||
		(err = nl_link_up(g->nl, g->ifindex, (unsigned int)gw_cfg(g)->mtu, GW_TXQLEN)))
		return err;
	nl_rp_filter(tun_name(g->tun), 2);
	return 0;
}

/* --dns: the fake-ip prefixes (--fake-ip-range) go into the TUN too. */
static void gw_pool_routes(struct gw *g)
{
	if (!g->dns)
		return;
	gw_kernel_route(&gw_cfg(g)->fake_ip.net4, ROUTE_CONFIGURED, NULL, g);
	gw_kernel_route(&gw_cfg(g)->fake_ip.net6, ROUTE_CONFIGURED, NULL, g);
}

/* Puts back what the gateway needs (routes, rules); adding what is there is harmless. */
static void gw_reapply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw *g = arg;
	(void)fd, (void)what;

	log_set_role(g->node->name);
	for (int fam = 0; fam < GW_RULE_FAMILIES; fam++) {
		struct nl_prefix all = { .family = fam ? AF_INET6 : AF_INET };
		int err = nl_rule_add(g->nl, &all, gw_table(g), gw_rule_prio(g));
		if (!err)
			log_warnx("the rule for table %u was gone: put back", gw_table(g));
	}
	for (int i = 0; i < gw_cfg(g)->n_bypass; i++) {
		const struct nl_prefix *p = &gw_cfg(g)->bypass[i];
		if (!nl_rule_from_add(g->nl, p, GW_MAIN_TABLE, gw_bypass_prio(g))) {
			char cidr[NL_PREFIX_STRLEN];
			nl_prefix_format(p, cidr, sizeof(cidr));
			log_warnx("the --bypass rule from %s was gone: put back", cidr);
		}
	}
	route_walk(g->routes, gw_kernel_route, g);
	gw_pool_routes(g);
}

static void gw_monitor_cb(const struct nl_event *ev, void *arg)
{
	struct gw *g = arg;
	struct timeval soon = { 0, 100 * 1000 }; /* batch a burst of changes */

	log_set_role(g->node->name);
	if (ev->kind == NL_EV_LINK_DELETED && ev->ifindex == g->ifindex) {
		log_errorx("%s was deleted: stopping", tun_name(g->tun));
		event_base_loopexit(g->node->base, NULL);
		return;
	}
	bool ours = ev->ifindex == g->ifindex || ev->kind == NL_EV_RESYNC ||
		    ((ev->kind == NL_EV_ROUTE_REMOVED || ev->kind == NL_EV_RULE_REMOVED) &&
			    ev->route.table == gw_table(g)) ||
		    (ev->kind == NL_EV_RULE_REMOVED && ev->route.table == GW_MAIN_TABLE &&
			    gw_cfg(g)->n_bypass); /* perhaps a --bypass rule */
	if (ours && !evtimer_pending(g->ev_reapply, NULL))
		evtimer_add(g->ev_reapply, &soon);
}

int gw_routes_start(struct gw *g)
{
	struct event_base *base = g->node->base;
	int err;

	g->ev_reapply = evtimer_new(base, gw_reapply_cb, g);
	if (!g->ev_reapply || nl_monitor_new(&g->monitor, base, gw_monitor_cb, g))
		log_warnx("no netlink monitor: routes removed by others stay removed");
	gw_resolve_broker(g);
	gw_pin_broker(g);
	for (int i = 0; i < gw_cfg(g)->n_bypass; i++)
		gw_bypass_add(g, &gw_cfg(g)->bypass[i]);
	g->bypassed = true;
	gw_rules(g, true);
	if ((err = route_walk(g->routes, gw_kernel_route, g)) < 0)
		return err;
	gw_pool_routes(g);
	return 0;
}

void gw_routes_stop(struct gw *g)
{
	if (g->monitor)
		nl_monitor_free(g->monitor); /* before our own removals, which it would undo */
	g->monitor = NULL;
	if (g->ev_reapply)
		event_free(g->ev_reapply);
	g->ev_reapply = NULL;
	if (!g->nl)
		return;
	gw_rules(g, false);
	if (g->pinned)
		nl_rule_del(g->nl, &g->pin, GW_MAIN_TABLE, gw_pin_prio(g));
	for (int i = 0; i < gw_cfg(g)->n_bypass && g->bypassed; i++)
		gw_bypass_del(g, &gw_cfg(g)->bypass[i]);
	g->bypassed = false;
}

/* --- a reload: the configured routes that went out, the new ones in --- */

/* The configured routes and exclusions of a table, for a reload to compare. */
struct configured {
	struct configured_route {
		struct nl_prefix p;
		enum route_source src;
		char agent[NODE_ID_MAX];
	} list[2 * ROLE_LIST_MAX];
	int n;
};

static int gw_collect_configured(
	const struct nl_prefix *p, enum route_source src, const char *agent, void *arg)
{
	struct configured *c = arg;

	if (src == ROUTE_ADVERTISED || c->n >= (int)(sizeof(c->list) / sizeof(c->list[0])))
		return 0;
	c->list[c->n].p = *p;
	c->list[c->n].src = src;
	snprintf(c->list[c->n].agent, NODE_ID_MAX, "%s", agent ? agent : "");
	c->n++;
	return 0;
}

static bool configured_has(const struct configured *c, const struct configured_route *r)
{
	for (int i = 0; i < c->n; i++)
		if (nl_prefix_equal(&c->list[i].p, &r->p) && c->list[i].src == r->src &&
			!strcmp(c->list[i].agent, r->agent))
			return true;
	return false;
}

static void gw_log_route(const char *what, const struct configured_route *r)
{
	char cidr[NL_PREFIX_STRLEN];

	nl_prefix_format(&r->p, cidr, sizeof(cidr));
	log_info("reload: %s %s %s%s%s", what, r->src == ROUTE_EXCLUDED ? "exclude" : "route", cidr,
		r->agent[0] ? " to " : "", r->agent);
}

/* Applies the difference between the configured routes of before and after. */
static int gw_routes_apply(
	struct gw *g, const struct configured *before, const struct configured *after)
{
	int err;

	for (int i = 0; i < before->n; i++) {
		const struct configured_route *r = &before->list[i];
		if (configured_has(after, r))
			continue;
		route_del(g->routes, &r->p, r->src, r->agent[0] ? r->agent : NULL);
		gw_kernel_unroute(g, &r->p, r->src == ROUTE_EXCLUDED);
		gw_log_route("removed", r);
	}
	for (int i = 0; i < after->n; i++) {
		const struct configured_route *r = &after->list[i];
		if (configured_has(before, r))
			continue;
		const char *agent = r->agent[0] ? r->agent : NULL;
		if ((err = route_add(g->routes, &r->p, r->src, agent)) ||
			(err = gw_kernel_route(&r->p, r->src, agent, g)) < 0)
			return err;
		gw_log_route("added", r);
	}
	return 0;
}

/* SIGHUP: the routes and exclusions that went are taken out, the new ones put
 * in; the others (and flows on them) are not touched. */
int gw_routes_reload(struct gw *g, const struct gateway_config *next)
{
	struct route_table *fresh = route_table_new();
	struct configured *before = calloc(1, sizeof(*before)), *after = calloc(1, sizeof(*after));
	int err = fresh && before && after ? gw_routes_parse(next, g->node->cfg.agent_id, fresh)
					   : -ENOMEM;

	if (!err) {
		route_walk(g->routes, gw_collect_configured, before);
		route_walk(fresh, gw_collect_configured, after);
		err = gw_routes_apply(g, before, after);
		gw_pin_broker(g);
	}
	if (!err) {
		/* gw_cfg(g) is still the config of before: the rules that went, then the new */
		for (int i = 0; i < gw_cfg(g)->n_bypass; i++)
			if (!bypass_listed(next, &gw_cfg(g)->bypass[i]))
				gw_bypass_del(g, &gw_cfg(g)->bypass[i]);
		for (int i = 0; i < next->n_bypass; i++)
			if (!bypass_listed(gw_cfg(g), &next->bypass[i]))
				gw_bypass_add(g, &next->bypass[i]);
		log_info("reload: now %d routes, %d excludes, %d bypass", next->n_routes,
			next->n_excludes, next->n_bypass);
	}
	free(before);
	free(after);
	route_table_free(fresh);
	return err < 0 ? err : 0;
}
