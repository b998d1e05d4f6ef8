/* The gateway role: a TUN device and routes send chosen subnets here; TCP is terminated by the kernel through a NAT rewrite, UDP is parsed directly. */
#include "roles.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/lib/addr.h"
#include "fakeip.h"
#include "gateway/core/flow.h"
#include "gwdns.h"
#include "gateway/http.h"
#include "gateway/lib/listener.h"
#include "gateway/lib/log.h"
#include "mqtt/client.h"
#include "netlink/monitor.h"
#include "netlink/nl.h"
#include "route.h"
#include "gateway/core/status.h"
#include "tun/nat.h"
#include "tun/packet.h"
#include "tun/tun.h"

#define GW_TABLE 1883	      /* our routing table */
#define GW_RULE_PRIO 1883     /* from all lookup GW_TABLE */
#define GW_PIN_PRIO 1882      /* to BROKER lookup main, when the broker is in a routed subnet */
#define GW_MAIN_TABLE 254
#define GW_PACKETS_PER_EVENT 64
#define GW_EXPIRE_BUDGET 1024
#define GW_BROKER_ADDRS 8

/* 198.18.0.0/30 (RFC 2544 benchmarking space) and a ULA /126: .1 is the
 * TUN and the listener, .2 the NAT's pseudo-client. */
static const uint8_t gw_self4[4] = { 198, 18, 0, 1 }, gw_pseudo4[4] = { 198, 18, 0, 2 };
static const uint8_t gw_self6[16] = { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, [15] = 1 };
static const uint8_t gw_pseudo6[16] = { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, [15] = 2 };

struct gw {
	struct tun *tun;
	struct event *ev_tun, *ev_expire;
	struct tun_nat *nat;
	struct route_table *routes;
	struct nl *nl;
	struct nl_monitor *monitor;
	struct event *ev_reapply;
	int ifindex;
	struct evconnlistener *listen4, *listen6;
	uint16_t port4, port6;
	struct tun_addr self4, pseudo4, self6, pseudo6;
	bool rule4, rule6, pinned;
	struct nl_prefix pin;
	struct nl_prefix broker[GW_BROKER_ADDRS];
	int n_broker;
	struct gwdns *dns; /* --dns */
	unsigned long bad_packets, fragments, no_agent, tun_drops;
	struct virtio_net_hdr vnet; /* of the packet in pkt, as read */
	uint8_t pkt[TUN_PACKET_MAX + 1];
};

static struct gw *gw_of(struct node *n)
{
	return n->role_data;
}

static void tun_addr_format(const struct tun_addr *a, uint16_t port, char *buf, size_t len)
{
	struct sockaddr_storage ss;

	tun_addr_to_sockaddr(a, port, &ss);
	addr_format((struct sockaddr *)&ss, buf, len);
}

/* The agent that serves dst, if it is online; NULL otherwise. For a fake-ip
 * address (--dns) *fake is its entry, else NULL. */
static const char *gw_agent_for(struct node *n, const struct tun_addr *dst,
	const struct fakeip_entry **fake)
{
	struct gw *g = gw_of(n);
	const char *agent;

	*fake = NULL;
	if (g->dns && gwdns_in_pool(dst)) {
		*fake = gwdns_fake(g->dns, dst);
		agent = *fake ? (*fake)->agent : NULL;
	} else {
		agent = route_lookup(g->routes, dst->family, dst->ip, NULL);
	}
	if (!agent || !node_peer_online(n, agent, MQTT_NIL) || !mqtt_client_connected(n->mqtt))
		return NULL;
	return agent;
}

/* DST of a flow: the address, or for a fake one "-" (the agent's default
 * target) or the name it stands for, which the agent resolves. */
static void gw_flow_dst(const struct fakeip_entry *fake, const struct tun_addr *d, uint16_t port,
	char *buf, size_t len)
{
	if (!fake)
		tun_addr_format(d, port, buf, len);
	else if (fake->agent_default)
		snprintf(buf, len, "%s", MQTT_NIL);
	else
		snprintf(buf, len, "%s:%u", fake->name, port);
}

static bool gw_hijacks(struct node *n, uint16_t dport)
{
	return n->cfg.dns_hijack && dport == GWDNS_PORT;
}

/* A packet we built, with final checksums. */
static void gw_write(struct gw *g, const uint8_t *p, int len)
{
	if (len > 0 && tun_write(g->tun, p, (size_t)len, NULL))
		g->tun_drops++;
}

/* The packet read, rewritten: its offload header (segmentation, partial checksum) still holds. */
static void gw_forward(struct gw *g, const struct tun_pkt *pkt)
{
	if (tun_write(g->tun, pkt->data, pkt->len, &g->vnet))
		g->tun_drops++;
}

/* No agent for this packet: a TCP reset or an ICMP unreachable, so the client fails fast. */
static void gw_refuse(struct gw *g, struct tun_pkt *pkt)
{
	static uint8_t reply[TUN_IPV6_MIN_MTU];
	int len;

	g->no_agent++;
	if (pkt->proto == TUN_IPPROTO_TCP)
		len = tun_build_rst(reply, sizeof(reply), pkt);
	else
		len = tun_build_unreach(reply, sizeof(reply), pkt, TUN_UNREACH_HOST, NULL);
	gw_write(g, reply, len);
}

static const struct tun_addr *gw_self(struct gw *g, int family)
{
	return family == AF_INET ? &g->self4 : &g->self6;
}

static const struct tun_addr *gw_pseudo(struct gw *g, int family)
{
	return family == AF_INET ? &g->pseudo4 : &g->pseudo6;
}

static uint16_t gw_port(struct gw *g, int family)
{
	return family == AF_INET ? g->port4 : g->port6;
}

/* The kernel's reply from the listener to NAT port n: back to D:d -> C:c. */
static void gw_tcp_from_listener(struct gw *g, struct tun_pkt *pkt)
{
	struct tun_nat_tuple t;
	struct tun_addr c, d;

	if (tun_nat_reverse(g->nat, pkt->src.family, pkt->dport, pkt->tcp_flags, node_now_ms(), &t))
		return; /* the entry expired: the kernel will time out */
	tun_addr_set(&c, t.family, t.src);
	tun_addr_set(&d, t.family, t.dst);
	if (!tun_rewrite(pkt, &d, t.dport, &c, t.sport))
		gw_forward(g, pkt);
}

/* A client's segment C:c -> D:d: to the listener as pseudo:n -> self:P. */
static void gw_tcp_from_client(struct node *n, struct gw *g, struct tun_pkt *pkt)
{
	struct tun_nat_tuple t = { .family = pkt->src.family, .sport = pkt->sport, .dport = pkt->dport };
	const struct fakeip_entry *fake;
	uint16_t port;

	if ((pkt->tcp_flags & TUN_TCP_SYN) && !(pkt->tcp_flags & TUN_TCP_ACK) &&
		!gw_hijacks(n, pkt->dport) && !gw_agent_for(n, &pkt->dst, &fake)) {
		gw_refuse(g, pkt);
		return;
	}
	memcpy(t.src, pkt->src.ip, 16);
	memcpy(t.dst, pkt->dst.ip, 16);
	int err = tun_nat_forward(g->nat, &t, pkt->tcp_flags, node_now_ms(), &port);
	if (err) {
		if (!(pkt->tcp_flags & TUN_TCP_RST))
			gw_refuse(g, pkt); /* no entry (or no room): reset */
		return;
	}
	int fam = pkt->src.family;
	if (!tun_rewrite(pkt, gw_pseudo(g, fam), port, gw_self(g, fam), gw_port(g, fam)))
		gw_forward(g, pkt);
}

static void gw_udp(struct node *n, struct gw *g, struct tun_pkt *pkt)
{
	char src[ADDR_STRLEN], dst[MQTT_LEVEL_MAX], key[FLOW_KEY_MAX];
	const struct fakeip_entry *fake;

	if (gw_hijacks(n, pkt->dport)) {
		gwdns_from_tun(g->dns, pkt);
		return;
	}
	const char *agent = gw_agent_for(n, &pkt->dst, &fake);
	if (!agent) {
		gw_refuse(g, pkt);
		return;
	}
	tun_addr_format(&pkt->src, pkt->sport, src, sizeof(src));
	gw_flow_dst(fake, &pkt->dst, pkt->dport, dst, sizeof(dst));
	node_flow_key(key, sizeof(key), agent, n->cfg.local_id, MQTT_PROTO_UDP, src, dst);
	struct flow *f = flow_find(n, key);
	if (!f || f->dead) {
		f = local_open_flow_named(n, FLOW_DGRAM_TUN, MQTT_PROTO_UDP, src, agent, dst);
		if (!f)
			return;
		tun_addr_to_sockaddr(&pkt->src, pkt->sport, &f->peer);
		tun_addr_to_sockaddr(&pkt->dst, pkt->dport, &f->origin);
		flow_attach(f, -1);
	}
	f->last_active = time(NULL);
	flow_up(f, pkt->data + pkt->payload_off, pkt->payload_len);
}

static void gw_icmp(struct gw *g, struct tun_pkt *pkt)
{
	bool echo = pkt->icmp_type == (pkt->proto == TUN_IPPROTO_ICMP ? TUN_ICMP_ECHO : TUN_ICMP6_ECHO_REQUEST);

	if (echo && tun_addr_eq(&pkt->dst, gw_self(g, pkt->dst.family)))
		gw_write(g, pkt->data, tun_build_echo_reply(pkt->data, sizeof(g->pkt), pkt));
}

static void gw_packet(struct node *n, struct gw *g, size_t len)
{
	struct tun_pkt pkt;

	if (tun_parse(&pkt, g->pkt, len)) {
		g->bad_packets++;
		return;
	}
	pkt.l4_csum_partial = g->vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (pkt.frag != TUN_FRAG_NONE) {
		g->fragments++;
		return;
	}
	switch (pkt.proto) {
	case TUN_IPPROTO_TCP:
		if (tun_addr_eq(&pkt.src, gw_self(g, pkt.src.family)) &&
			pkt.sport == gw_port(g, pkt.src.family))
			gw_tcp_from_listener(g, &pkt);
		else
			gw_tcp_from_client(n, g, &pkt);
		break;
	case TUN_IPPROTO_UDP:
		gw_udp(n, g, &pkt);
		break;
	case TUN_IPPROTO_ICMP:
	case TUN_IPPROTO_ICMPV6:
		gw_icmp(g, &pkt);
		break;
	}
}

static void gw_tun_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	struct gw *g = gw_of(n);
	(void)fd, (void)what;

	for (int i = 0; i < GW_PACKETS_PER_EVENT; i++) {
		ssize_t r = tun_read(g->tun, g->pkt, sizeof(g->pkt), &g->vnet);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			g->bad_packets++;
			continue;
		}
		gw_packet(n, g, (size_t)r);
	}
}

static void gw_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw *g = arg;
	uint64_t next;
	(void)fd, (void)what;

	tun_nat_expire(g->nat, node_now_ms(), GW_EXPIRE_BUDGET, &next);
}

/* The kernel accepted a NATed connection: its peer's port names the client and destination. */
static void gw_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
	int salen, void *arg)
{
	struct node *n = arg;
	struct gw *g = gw_of(n);
	struct tun_nat_tuple t;
	struct tun_addr c, d, pseudo;
	const struct fakeip_entry *fake;
	char src[ADDR_STRLEN], dst[MQTT_LEVEL_MAX];
	(void)l, (void)salen;

	uint16_t port = tun_addr_from_sockaddr(sa, &pseudo);
	if (tun_nat_lookup(g->nat, sa->sa_family, port, node_now_ms(), &t)) {
		close(fd); /* no entry: not ours, or expired */
		return;
	}
	tun_addr_set(&c, t.family, t.src);
	tun_addr_set(&d, t.family, t.dst);
	if (gw_hijacks(n, t.dport)) {
		gwdns_tcp(g->dns, fd);
		return;
	}
	const char *agent = gw_agent_for(n, &d, &fake);
	tun_addr_format(&c, t.sport, src, sizeof(src));
	gw_flow_dst(fake, &d, t.dport, dst, sizeof(dst));
	struct flow *f = agent ? local_open_flow_named(n, FLOW_STREAM,
					 n->cfg.kcp ? MQTT_PROTO_KCP : MQTT_PROTO_TCP, src, agent, dst)
			       : NULL;
	if (!f) {
		flow_close_reset(fd);
		return;
	}
	flow_attach(f, fd);
}

static void gw_dgram_reply(struct node *n, struct flow *f, const uint8_t *payload, size_t len)
{
	struct gw *g = gw_of(n);
	struct tun_addr src, dst;

	if (g->dns && gwdns_upstream_reply(g->dns, f, payload, len))
		return;
	uint16_t sport = tun_addr_from_sockaddr((struct sockaddr *)&f->origin, &src);
	uint16_t dport = tun_addr_from_sockaddr((struct sockaddr *)&f->peer, &dst);

	gw_write(g, g->pkt, tun_build_udp(g->pkt, sizeof(g->pkt), &src, sport, &dst, dport, payload, len));
}

/* --- set-up and teardown --- */

/* --route and --exclude (already checked by the option parser) into rt. */
static int gw_parse_routes(const struct node_config *cfg, struct route_table *rt)
{
	for (int i = 0; i < cfg->n_routes + cfg->n_excludes; i++) {
		bool exclude = i >= cfg->n_routes;
		const char *arg = exclude ? cfg->excludes[i - cfg->n_routes] : cfg->routes[i];
		char cidr[NL_PREFIX_STRLEN];
		const char *eq = strchr(arg, '=');
		const char *agent = eq ? eq + 1 : cfg->agent_id;
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		struct nl_prefix p;

		if (len >= sizeof(cidr))
			return -EINVAL;
		memcpy(cidr, arg, len);
		cidr[len] = '\0';
		if (nl_prefix_parse(cidr, &p, NULL)) {
			log_warnx("gateway: bad %s %s", exclude ? "--exclude" : "--route", arg);
			return -EINVAL;
		}
		int err = route_add(rt, &p, exclude ? ROUTE_EXCLUDED : ROUTE_CONFIGURED,
			exclude ? NULL : agent);
		if (err)
			return err;
	}
	return 0;
}

static int gw_kernel_route(const struct nl_prefix *p, enum route_source src, const char *agent,
	void *arg)
{
	struct gw *g = arg;
	/* an exclude is a throw route: those addresses fall through to main */
	struct nl_route r = { .table = GW_TABLE, .dst = *p, .oif = g->ifindex, .throw = src == ROUTE_EXCLUDED };
	(void)agent;

	int err = nl_route_add(g->nl, &r);
	if (err && err != -EEXIST) {
		char s[NL_PREFIX_STRLEN];
		nl_prefix_format(p, s, sizeof(s));
		log_warnx("gateway: cannot route %s into %s: %s", s, tun_name(g->tun), strerror(-err));
		return err;
	}
	return 0;
}

static void gw_pin_broker(struct node *n, struct gw *g);

static int gw_same_prefix(const struct nl_prefix *p, enum route_source src, const char *agent,
	void *arg)
{
	(void)src, (void)agent;
	return nl_prefix_equal(p, arg);
}

/* Takes prefix p (an exclusion's throw route, or a route) out of our table in
 * the kernel unless a route of ours (any source) still has it. */
static void gw_kernel_unroute(struct gw *g, const struct nl_prefix *p, bool throw)
{
	struct nl_route r = { .table = GW_TABLE, .dst = *p, .oif = g->ifindex, .throw = throw };

	if (route_walk(g->routes, gw_same_prefix, (void *)p))
		return;
	nl_route_del(g->nl, &r);
}

struct advertised {
	const char *agent;
	struct nl_prefix list[STATUS_ROUTES_MAX];
	int n;
};

static int gw_collect_advertised(const struct nl_prefix *p, enum route_source src,
	const char *agent, void *arg)
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

static int gw_exclusion_overlaps(const struct nl_prefix *p, enum route_source src,
	const char *agent, void *arg)
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
		"198.18.0.0/15", "fdfe:dcba:9876::/48", /* the TUN's and the fake-ip pool's */
		"127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3", "::1/128", "fe80::/10", "ff00::/8",
	};
	struct nl_prefix r;

	if (p->len == 0)
		return "a default route";
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (!nl_prefix_parse(reserved[i], &r, NULL) && nl_prefix_overlaps(p, &r))
			return "overlaps a reserved or the gateway's own block";
	if (route_walk(g->routes, gw_exclusion_overlaps, (void *)p))
		return "overlaps an --exclude";
	struct connected_check c = { p, g->ifindex };
	if (nl_route_walk(g->nl, p->family, GW_MAIN_TABLE, gw_connected_overlaps, &c) > 0)
		return "overlaps a subnet the gateway is attached to";
	return NULL;
}

/* --auto-routes: an agent's status names the subnets it reaches; offline (st NULL), none. */
static void gw_on_peer(struct node *n, const char *agent, const char *local, const struct status *st)
{
	struct gw *g = gw_of(n);
	struct advertised old = { .agent = agent };
	char cidr[NL_PREFIX_STRLEN];
	int n_new = st ? st->n_routes : 0;

	if (!g || !n->cfg.auto_routes || strcmp(local, MQTT_NIL) || !strcmp(agent, MQTT_NIL))
		return;
	route_walk(g->routes, gw_collect_advertised, &old);
	for (int i = 0; i < old.n; i++) {
		if (prefix_listed(&old.list[i], st ? st->routes : NULL, n_new))
			continue;
		route_del(g->routes, &old.list[i], ROUTE_ADVERTISED, agent);
		gw_kernel_unroute(g, &old.list[i], false);
		nl_prefix_format(&old.list[i], cidr, sizeof(cidr));
		log_info("gateway: %s withdrawn (agent %s %s)", cidr, agent, st ? "stopped advertising it" : "offline");
	}
	for (int i = 0; i < n_new; i++) {
		if (prefix_listed(&st->routes[i], old.list, old.n))
			continue;
		nl_prefix_format(&st->routes[i], cidr, sizeof(cidr));
		const char *why = gw_advert_refused(g, &st->routes[i]);
		if (why) {
			log_warnx("gateway: agent %s advertises %s: ignored (%s)", agent, cidr, why);
			continue;
		}
		if (route_add(g->routes, &st->routes[i], ROUTE_ADVERTISED, agent))
			continue;
		gw_kernel_route(&st->routes[i], ROUTE_ADVERTISED, agent, g);
		log_info("gateway: %s routed to agent %s (advertised)", cidr, agent);
	}
	if (!g->pinned)
		gw_pin_broker(n, g);
}

static void gw_rules(struct gw *g, bool add)
{
	for (int fam = 0; fam < 2; fam++) {
		struct nl_prefix all = { .family = fam ? AF_INET6 : AF_INET };
		bool *have = fam ? &g->rule6 : &g->rule4;
		if (add) {
			nl_rule_del(g->nl, &all, GW_TABLE, GW_RULE_PRIO); /* a crashed run's */
			*have = !nl_rule_add(g->nl, &all, GW_TABLE, GW_RULE_PRIO);
		} else if (*have) {
			nl_rule_del(g->nl, &all, GW_TABLE, GW_RULE_PRIO);
			*have = false;
		}
		nl_route_flush(g->nl, all.family, GW_TABLE);
	}
}

/* The broker's addresses, resolved once at start (getaddrinfo blocks: never again later). */
static void gw_resolve_broker(struct node *n, struct gw *g)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV }, *ai;

	if (getaddrinfo(n->cfg.url.host, "1883", &hints, &ai))
		return;
	for (struct addrinfo *a = ai; a && g->n_broker < GW_BROKER_ADDRS; a = a->ai_next) {
		if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
			continue;
		struct nl_prefix *b = &g->broker[g->n_broker++];
		b->family = a->ai_family;
		b->len = a->ai_family == AF_INET ? 32 : 128;
		memcpy(b->addr, a->ai_family == AF_INET
				? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
				: (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr,
			a->ai_family == AF_INET ? 4 : 16);
	}
	freeaddrinfo(ai);
}

/* No loops: when the broker is inside a routed subnet, its traffic keeps using main. */
static void gw_pin_broker(struct node *n, struct gw *g)
{
	for (int i = 0; i < g->n_broker && !g->pinned; i++) {
		if (!route_lookup(g->routes, g->broker[i].family, g->broker[i].addr, NULL))
			continue;
		g->pin = g->broker[i];
		nl_rule_del(g->nl, &g->pin, GW_MAIN_TABLE, GW_PIN_PRIO);
		g->pinned = !nl_rule_add(g->nl, &g->pin, GW_MAIN_TABLE, GW_PIN_PRIO);
		log_info("gateway: broker %s is in a routed subnet: pinned to the main table",
			n->cfg.url.host);
	}
}

static struct evconnlistener *gw_listen(struct node *n, int family, const uint8_t *ip, uint16_t *port)
{
	struct tun_addr a;
	struct sockaddr_storage ss;
	tun_addr_set(&a, family, ip);
	socklen_t len = tun_addr_to_sockaddr(&a, 0, &ss);
	struct evconnlistener *l = evconnlistener_new_bind(n->base, gw_accept_cb, n,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 4096,
		(struct sockaddr *)&ss, (int)len);
	if (!l)
		return NULL;
	listener_guard(l);
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return l;
}

static int gw_configure_tun(struct node *n, struct gw *g)
{
	struct nl_prefix a4 = { .family = AF_INET, .len = 30 }, a6 = { .family = AF_INET6, .len = 126 };
	int err;

	memcpy(a4.addr, gw_self4, 4);
	memcpy(a6.addr, gw_self6, 16);
	if ((err = nl_ifindex(g->nl, tun_name(g->tun), &g->ifindex)) ||
		(err = nl_address_add(g->nl, g->ifindex, &a4)) ||
		(err = nl_address_add(g->nl, g->ifindex, &a6)) ||
		(err = nl_link_up(g->nl, g->ifindex, (unsigned int)n->cfg.mtu)))
		return err;
	nl_rp_filter(tun_name(g->tun), 2);
	return 0;
}

/* --dns: the fake-ip prefixes go into the TUN too. */
static void gw_pool_routes(struct gw *g)
{
	struct nl_prefix pool[2] = { { .family = AF_INET, .len = FAKEIP_PREFIX4_LEN },
		{ .family = AF_INET6, .len = FAKEIP_PREFIX6_LEN } };

	if (!g->dns)
		return;
	memcpy(pool[0].addr, fakeip_net4, 4);
	memcpy(pool[1].addr, fakeip_net6, 16);
	for (int i = 0; i < 2; i++)
		gw_kernel_route(&pool[i], ROUTE_CONFIGURED, NULL, g);
}

/* Puts back what the gateway needs (routes, rules); adding what is there is harmless. */
static void gw_reapply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw *g = arg;
	(void)fd, (void)what;

	for (int fam = 0; fam < 2; fam++) {
		struct nl_prefix all = { .family = fam ? AF_INET6 : AF_INET };
		int err = nl_rule_add(g->nl, &all, GW_TABLE, GW_RULE_PRIO);
		if (!err)
			log_warnx("gateway: the rule for table %d was gone: put back", GW_TABLE);
	}
	route_walk(g->routes, gw_kernel_route, g);
	gw_pool_routes(g);
}

static void gw_monitor_cb(const struct nl_event *ev, void *arg)
{
	struct node *n = arg;
	struct gw *g = gw_of(n);
	struct timeval soon = { 0, 100 * 1000 }; /* batch a burst of changes */

	if (ev->kind == NL_EV_LINK_DELETED && ev->ifindex == g->ifindex) {
		log_warnx("gateway: %s was deleted: stopping", tun_name(g->tun));
		event_base_loopexit(n->base, NULL);
		return;
	}
	bool ours = ev->ifindex == g->ifindex || ev->kind == NL_EV_RESYNC ||
		((ev->kind == NL_EV_ROUTE_REMOVED || ev->kind == NL_EV_RULE_REMOVED) &&
			ev->route.table == GW_TABLE);
	if (ours && !evtimer_pending(g->ev_reapply, NULL))
		evtimer_add(g->ev_reapply, &soon);
}

static int gw_start(struct node *n)
{
	struct gw *g = calloc(1, sizeof(*g));
	struct tun_nat_config nc;
	int err;

	if (!g)
		return -ENOMEM;
	n->role_data = g;
	tun_addr_set(&g->self4, AF_INET, gw_self4);
	tun_addr_set(&g->pseudo4, AF_INET, gw_pseudo4);
	tun_addr_set(&g->self6, AF_INET6, gw_self6);
	tun_addr_set(&g->pseudo6, AF_INET6, gw_pseudo6);
	tun_nat_config_default(&nc);
	evutil_secure_rng_get_bytes(nc.hash_key, sizeof(nc.hash_key));
	g->routes = route_table_new();
	if (!g->routes || tun_nat_new(&g->nat, &nc) || gw_parse_routes(&n->cfg, g->routes))
		return -EINVAL;
	if ((err = nl_new(&g->nl))) {
		log_warnx("gateway: netlink: %s", strerror(-err));
		return err;
	}
	if ((err = tun_open(n->cfg.tun_name, TUN_OFFLOAD, &g->tun))) {
		log_warnx("gateway: cannot open TUN %s: %s (needs CAP_NET_ADMIN)", n->cfg.tun_name,
			strerror(-err));
		return err;
	}
	if ((err = gw_configure_tun(n, g))) {
		log_warnx("gateway: cannot configure %s: %s", tun_name(g->tun), strerror(-err));
		return err;
	}
	g->listen4 = gw_listen(n, AF_INET, gw_self4, &g->port4);
	g->listen6 = gw_listen(n, AF_INET6, gw_self6, &g->port6);
	if (!g->listen4 || !g->listen6) {
		log_warn("gateway: cannot listen on %s", tun_name(g->tun));
		return -EADDRNOTAVAIL;
	}
	if (n->cfg.dns && (err = gwdns_new(n, g->tun, &g->self4, &g->self6, &g->dns)))
		return err;
	g->ev_reapply = evtimer_new(n->base, gw_reapply_cb, g);
	if (!g->ev_reapply || nl_monitor_new(&g->monitor, n->base, gw_monitor_cb, n))
		log_warnx("gateway: no netlink monitor: routes removed by others stay removed");
	gw_resolve_broker(n, g);
	gw_pin_broker(n, g);
	gw_rules(g, true);
	if ((err = route_walk(g->routes, gw_kernel_route, g)) < 0)
		return err;
	gw_pool_routes(g);
	g->ev_tun = event_new(n->base, tun_fd(g->tun), EV_READ | EV_PERSIST, gw_tun_cb, n);
	g->ev_expire = event_new(n->base, -1, EV_PERSIST, gw_expire_cb, g);
	struct timeval second = { 1, 0 };
	if (!g->ev_tun || !g->ev_expire)
		return -ENOMEM;
	event_add(g->ev_tun, NULL);
	event_add(g->ev_expire, &second);
	log_info("gateway %s: %s up, %zu routes, NAT listener ports %u/%u", n->cfg.local_id,
		tun_name(g->tun), route_count(g->routes), g->port4, g->port6);
	return 0;
}

/* The configured routes and exclusions of a table, for a reload to compare. */
struct configured {
	struct configured_route {
		struct nl_prefix p;
		enum route_source src;
		char agent[NODE_ID_MAX];
	} list[128];
	int n;
};

static int gw_collect_configured(const struct nl_prefix *p, enum route_source src,
	const char *agent, void *arg)
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
	log_info("gateway: reload: %s %s %s%s%s", what, r->src == ROUTE_EXCLUDED ? "exclude" : "route",
		cidr, r->agent[0] ? " to " : "", r->agent);
}

/* SIGHUP: the routes and exclusions that went are taken out, the new ones put
 * in; the others (and flows on them) are not touched. */
static int gw_reload(struct node *n, const struct node_config *next)
{
	struct gw *g = gw_of(n);
	struct route_table *fresh = route_table_new();
	static struct configured before, after;
	int err = fresh ? gw_parse_routes(next, fresh) : -ENOMEM;

	if (!g || err)
		goto out;
	before.n = after.n = 0;
	route_walk(g->routes, gw_collect_configured, &before);
	route_walk(fresh, gw_collect_configured, &after);
	for (int i = 0; i < before.n; i++) {
		struct configured_route *r = &before.list[i];
		if (configured_has(&after, r))
			continue;
		route_del(g->routes, &r->p, r->src, r->agent[0] ? r->agent : NULL);
		gw_kernel_unroute(g, &r->p, r->src == ROUTE_EXCLUDED);
		gw_log_route("removed", r);
	}
	for (int i = 0; i < after.n; i++) {
		struct configured_route *r = &after.list[i];
		if (configured_has(&before, r))
			continue;
		const char *agent = r->agent[0] ? r->agent : NULL;
		if ((err = route_add(g->routes, &r->p, r->src, agent)) ||
			(err = gw_kernel_route(&r->p, r->src, agent, g)) < 0)
			break;
		gw_log_route("added", r);
	}
	gw_pin_broker(n, g);
out:
	if (fresh)
		route_table_free(fresh);
	return err < 0 ? err : 0;
}

static void gw_stop(struct node *n)
{
	struct gw *g = gw_of(n);

	if (!g)
		return;
	if (g->monitor)
		nl_monitor_free(g->monitor); /* before our own removals, which it would undo */
	if (g->ev_reapply)
		event_free(g->ev_reapply);
	if (g->nl) {
		gw_rules(g, false);
		if (g->pinned)
			nl_rule_del(g->nl, &g->pin, GW_MAIN_TABLE, GW_PIN_PRIO);
	}
	gwdns_free(g->dns);
	log_info("gateway: bad packets %lu, fragments %lu, refused (no agent) %lu, tun drops %lu",
		g->bad_packets, g->fragments, g->no_agent, g->tun_drops);
	if (g->ev_tun)
		event_free(g->ev_tun);
	if (g->ev_expire)
		event_free(g->ev_expire);
	if (g->listen4)
		listener_free(g->listen4);
	if (g->listen6)
		listener_free(g->listen6);
	tun_close(g->tun); /* the device goes, and its routes with it */
	if (g->nl)
		nl_free(g->nl);
	if (g->nat)
		tun_nat_free(g->nat);
	if (g->routes)
		route_table_free(g->routes);
	free(g);
	n->role_data = NULL;
}

static void gw_metrics(struct node *n, struct evbuffer *o)
{
	struct gw *g = gw_of(n);
	struct tun_nat_stats st;

	if (!g)
		return;
	tun_nat_stats(g->nat, &st);
	evbuffer_add_printf(o, "# HELP net4mqtt_nat_entries TCP connections in the gateway's NAT table.\n"
			       "# TYPE net4mqtt_nat_entries gauge\nnet4mqtt_nat_entries %llu\n"
			       "# HELP net4mqtt_nat_refused_total SYNs refused: no NAT port or entry left.\n"
			       "# TYPE net4mqtt_nat_refused_total counter\nnet4mqtt_nat_refused_total %llu\n",
		(unsigned long long)st.entries, (unsigned long long)st.refused);
	evbuffer_add_printf(o, "# HELP net4mqtt_gateway_routes Routes and exclusions in the gateway's table.\n"
			       "# TYPE net4mqtt_gateway_routes gauge\nnet4mqtt_gateway_routes %zu\n",
		route_count(g->routes));
	evbuffer_add_printf(o, "# HELP net4mqtt_tun_drops_total Packets from the TUN dropped, by reason.\n"
			       "# TYPE net4mqtt_tun_drops_total counter\n"
			       "net4mqtt_tun_drops_total{reason=\"malformed\"} %lu\n"
			       "net4mqtt_tun_drops_total{reason=\"fragment\"} %lu\n"
			       "net4mqtt_tun_drops_total{reason=\"no_agent\"} %lu\n"
			       "net4mqtt_tun_drops_total{reason=\"write_failed\"} %lu\n",
		g->bad_packets, g->fragments, g->no_agent, g->tun_drops);
	if (g->dns)
		gwdns_metrics(g->dns, o);
}

struct routes_json {
	struct evbuffer *out;
	int n;
};

static int gw_route_json(const struct nl_prefix *p, enum route_source src, const char *agent,
	void *arg)
{
	static const char *const sources[] = { "exclude", "configured", "advertised" };
	struct routes_json *r = arg;
	char cidr[NL_PREFIX_STRLEN];

	nl_prefix_format(p, cidr, sizeof(cidr));
	evbuffer_add_printf(r->out, "%s{\"prefix\":\"%s\",\"source\":\"%s\",\"agent\":",
		r->n++ ? "," : "", cidr, sources[src]);
	http_json_string(r->out, agent ? agent : "");
	evbuffer_add_printf(r->out, "}");
	return 0;
}

static void gw_status_json(struct node *n, struct evbuffer *o)
{
	struct gw *g = gw_of(n);

	if (!g)
		return;
	struct routes_json r = { o, 0 };
	evbuffer_add_printf(o, ",\"tun\":\"%s\",\"routes\":[", tun_name(g->tun));
	route_walk(g->routes, gw_route_json, &r);
	evbuffer_add_printf(o, "]");
}

const struct role_ops gateway_role = {
	.name = "gateway",
	.start = gw_start,
	.on_data = local_on_data,
	.on_stop = gw_stop,
	.dgram_reply = gw_dgram_reply,
	.on_peer = gw_on_peer,
	.reload = gw_reload,
	.metrics = gw_metrics,
	.status_json = gw_status_json,
};
