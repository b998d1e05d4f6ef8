/* The gateway's packet path: TCP from the TUN goes through a NAT rewrite to the kernel's listener, UDP becomes flows, replies go back as packets. */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fakeip.h"
#include "gateway/core/flow.h"
#include "gateway/core/node.h"
#include "gateway/lib/addr.h"
#include "gateway/lib/clock.h"
#include "gateway/lib/listener.h"
#include "gateway/lib/log.h"
#include "gw.h"
#include "gwdns.h"
#include "local.h"
#include "mqtt/client.h"
#include "roles.h"
#include "route.h"
#include "tun/frag.h"
#include "tun/nat.h"

#define GW_PACKETS_PER_EVENT 64
#define GW_EXPIRE_BUDGET 1024
#define GW_LISTEN_BACKLOG 4096
#define GW_SYN_MAX 256 /* a client's SYN held while the agent connects; larger ones are not held */

/* A client's SYN, held until the agent has connected to where it goes. */
struct gw_held_syn {
	struct gw *g;
	struct virtio_net_hdr vnet;
	uint16_t len;
	uint8_t pkt[GW_SYN_MAX];
};

/* A udp flow's two ends, as the client addressed them: replies are built from dst to src. */
struct gw_udp_ends {
	struct gw *g;
	struct tun_addr client, dest;
	uint16_t client_port, dest_port;
};

static void tun_addr_format(const struct tun_addr *a, uint16_t port, char *buf, size_t len)
{
	struct sockaddr_storage ss;

	tun_addr_to_sockaddr(a, port, &ss);
	addr_format((struct sockaddr *)&ss, buf, len);
}

/* A flow's identity, for picking its member of an agent pool: the same for
 * every packet of a connection (or a udp "connection"), and for its accept. */
struct gw_flow_id {
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

/* The agent that serves dst (the member of its pool for this flow), if it
 * is online; NULL otherwise. For a fake-ip address (--dns) *fake is its
 * entry, else NULL. pick holds a pool's member. */
static const char *gw_agent_for(struct gw *g, const struct tun_addr *src, uint16_t sport,
	const struct tun_addr *dst, uint16_t dport, const struct fakeip_entry **fake,
	char pick[NODE_ID_MAX])
{
	struct node *n = g->node;
	struct gw_flow_id id = { .sport = sport, .dport = dport };
	const char *agent;

	*fake = NULL;
	if (g->dns && gwdns_in_pool(g->dns, dst)) {
		*fake = gwdns_fake(g->dns, dst);
		agent = *fake ? (*fake)->agent : NULL;
	} else {
		agent = route_lookup(g->routes, dst->family, dst->ip, NULL);
	}
	if (!agent)
		return NULL;
	memcpy(id.src, src->ip, sizeof(id.src));
	memcpy(id.dst, dst->ip, sizeof(id.dst));
	agent = node_pick_agent(n, agent, &id, sizeof(id), pick);
	if (!node_peer_online(n, agent, MQTT_NIL) || !mqtt_client_connected(n->mqtt))
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

static bool gw_hijacks(struct gw *g, uint16_t dport)
{
	return gw_cfg(g)->dns_hijack && dport == GWDNS_PORT;
}

/* A packet we built, with final checksums. */
static void gw_write(struct gw *g, const uint8_t *p, int len)
{
	if (len > 0 && tun_write(g->tun, p, (size_t)len, NULL))
		g->tun_drops++;
}

/* The largest packet we write whole: the TUN's MTU; for IPv6 at most 1280, the
 * least every IPv6 link carries, as a router on the way may not split it. */
static size_t gw_write_max(struct gw *g, int family)
{
	size_t mtu = (size_t)gw_cfg(g)->mtu;

	return family == AF_INET6 && mtu > TUN_IPV6_MIN_MTU ? TUN_IPV6_MIN_MTU : mtu;
}

/* A packet we built, split into fragments where it is larger than gw_write_max. */
static void gw_write_split(struct gw *g, const uint8_t *p, int len, int family)
{
	size_t done = 0, max = gw_write_max(g, family);
	int n;

	if (len <= 0 || (size_t)len <= max) {
		gw_write(g, p, len);
		return;
	}
	g->frag_id++;
	while ((n = tun_fragment(
			p, (size_t)len, max, g->frag_id, &done, g->piece, sizeof(g->piece))) > 0) {
		gw_write(g, g->piece, n);
		g->frags_sent++;
	}
	if (n < 0)
		g->tun_drops++;
}

/* A packet read, rewritten: its offload header (segmentation, partial checksum) still holds. */
static void gw_forward(struct gw *g, const struct tun_pkt *pkt, const struct virtio_net_hdr *vnet)
{
	if (tun_write(g->tun, pkt->data, pkt->len, vnet))
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

/* The address the gateway answers as a router from (time exceeded): the TUN's
 * far side, which is not a local address the kernel would refuse as a source. */
static const struct tun_addr *gw_hop(struct gw *g, int family)
{
	return gw_pseudo(g, family);
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

	if (tun_nat_reverse(g->nat, pkt->src.family, pkt->dport, pkt->tcp_flags, clock_ms(), &t))
		return; /* the entry expired: the kernel will time out */
	tun_addr_set(&c, t.family, t.src);
	tun_addr_set(&d, t.family, t.dst);
	if (!tun_rewrite(pkt, &d, t.dport, &c, t.sport))
		gw_forward(g, pkt, &g->vnet);
}

/* A client's segment C:c -> D:d, to the listener as pseudo:n -> self:P. */
static void gw_tcp_to_listener(struct gw *g, struct tun_pkt *pkt, const struct virtio_net_hdr *vnet)
{
	struct tun_nat_tuple t = {
		.family = pkt->src.family, .sport = pkt->sport, .dport = pkt->dport
	};
	uint16_t port;

	memcpy(t.src, pkt->src.ip, 16);
	memcpy(t.dst, pkt->dst.ip, 16);
	int err = tun_nat_forward(g->nat, &t, pkt->tcp_flags, clock_ms(), &port);
	if (err) {
		if (!(pkt->tcp_flags & TUN_TCP_RST))
			gw_refuse(g, pkt); /* no entry (or no room): reset */
		return;
	}
	int fam = pkt->src.family;
	if (!tun_rewrite(pkt, gw_pseudo(g, fam), port, gw_self(g, fam), gw_port(g, fam)))
		gw_forward(g, pkt, vnet);
}

/* What the LAN client sees when its destination cannot be reached: a reset
 * for a refusal, an ICMP unreachable for the rest (as a router would say). */
static void gw_tcp_refuse(struct gw *g, struct tun_pkt *pkt, enum frame_result why)
{
	static uint8_t reply[TUN_IPV6_MIN_MTU];
	enum tun_unreach code = TUN_UNREACH_HOST;
	int len;

	if (why == FRAME_NET_UNREACHABLE)
		code = TUN_UNREACH_NET;
	else if (why == FRAME_NOT_ALLOWED)
		code = TUN_UNREACH_ADMIN;
	if (why == FRAME_REFUSED || why == FRAME_FAILED || why == FRAME_LOST)
		len = tun_build_rst(reply, sizeof(reply), pkt);
	else
		len = tun_build_unreach(reply, sizeof(reply), pkt, code, NULL);
	gw_write(g, reply, len);
}

/* The agent connected, or not: the held SYN goes on to the kernel, or the client hears why not. */
static void gw_syn_opened(struct flow *f, enum frame_result result)
{
	struct gw_held_syn *h = flow_priv(f);
	struct tun_pkt pkt;

	if (tun_parse(&pkt, h->pkt, h->len))
		return;
	pkt.l4_csum_partial = h->vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (result != FRAME_OK) {
		gw_tcp_refuse(h->g, &pkt, result);
		return;
	}
	flow_await_socket(f);
	gw_tcp_to_listener(h->g, &pkt, &h->vnet);
}

/* A new connection to an agent that speaks our frames: its SYN waits for the
 * agent's connect, so the client's connect fails or succeeds as the
 * destination's does. Returns false when the SYN should go on at once. */
static bool gw_tcp_hold(
	struct gw *g, struct tun_pkt *pkt, const char *agent, const struct fakeip_entry *fake)
{
	struct node *n = g->node;
	char src[ADDR_STRLEN], dst[MQTT_LEVEL_MAX], key[FLOW_KEY_MAX];
	enum mqtt_proto proto = gw_cfg(g)->kcp ? MQTT_PROTO_KCP : MQTT_PROTO_TCP;

	proto = local_stream_proto(n, agent, proto);
	if (!mqtt_proto_is_framed(proto) || pkt->len > GW_SYN_MAX)
		return false;
	tun_addr_format(&pkt->src, pkt->sport, src, sizeof(src));
	gw_flow_dst(fake, &pkt->dst, pkt->dport, dst, sizeof(dst));
	if (flow_key(key, sizeof(key), agent, n->cfg.local_id, proto, src, dst))
		return false;
	struct flow *f = flow_table_find(n->flows, key);
	if (f && !f->dead) /* a repeated SYN: dropped while the first is held, else it goes on */
		return f->opening != FLOW_OPEN_DONE;
	f = local_open_stream(n, proto, src, agent, dst, gw_syn_opened, sizeof(struct gw_held_syn));
	if (!f) {
		gw_refuse(g, pkt);
		return true;
	}
	struct gw_held_syn *h = flow_priv(f);
	h->g = g;
	h->vnet = g->vnet;
	h->len = (uint16_t)pkt->len;
	memcpy(h->pkt, pkt->data, pkt->len);
	flow_open(f);
	return true;
}

static void gw_tcp_from_client(struct gw *g, struct tun_pkt *pkt)
{
	const struct fakeip_entry *fake;

	if ((pkt->tcp_flags & TUN_TCP_SYN) && !(pkt->tcp_flags & TUN_TCP_ACK) &&
		!gw_hijacks(g, pkt->dport)) {
		char pick[NODE_ID_MAX];
		const char *agent =
			gw_agent_for(g, &pkt->src, pkt->sport, &pkt->dst, pkt->dport, &fake, pick);
		if (!agent) {
			gw_refuse(g, pkt);
			return;
		}
		if (gw_tcp_hold(g, pkt, agent, fake))
			return;
	}
	gw_tcp_to_listener(g, pkt, &g->vnet);
}

/* A datagram from MQTT for a udp flow: a UDP packet from the address the client sent to. */
static void gw_udp_reply(struct flow *f, const uint8_t *payload, size_t len)
{
	struct gw_udp_ends *e = flow_priv(f);
	struct gw *g = e->g;

	gw_write_split(g, g->pkt,
		tun_build_udp(g->pkt, sizeof(g->pkt), &e->dest, e->dest_port, &e->client,
			e->client_port, payload, len),
		e->client.family);
}

/* The datagram flow (udp, icmp) of the client's src_port and dst_port to dst,
 * made if need be; its datagrams back go to sink. NULL if it cannot be had. */
static struct flow *gw_dgram_flow(struct gw *g, struct tun_pkt *pkt, enum mqtt_proto proto,
	uint16_t src_port, uint16_t dst_port, flow_sink_fn *sink)
{
	struct node *n = g->node;
	char src[ADDR_STRLEN], dst[MQTT_LEVEL_MAX], key[FLOW_KEY_MAX];
	const struct fakeip_entry *fake;
	char pick[NODE_ID_MAX];
	const char *agent = gw_agent_for(g, &pkt->src, src_port, &pkt->dst, dst_port, &fake, pick);

	if (!agent) {
		gw_refuse(g, pkt);
		return NULL;
	}
	if (proto == MQTT_PROTO_ICMP && !node_peer_icmp(n, agent)) {
		static uint8_t reply[TUN_IPV6_MIN_MTU];
		g->icmp_refused++;
		gw_write(g, reply,
			tun_build_unreach(reply, sizeof(reply), pkt, TUN_UNREACH_ADMIN, NULL));
		return NULL;
	}
	tun_addr_format(&pkt->src, src_port, src, sizeof(src));
	gw_flow_dst(fake, &pkt->dst, dst_port, dst, sizeof(dst));
	if (flow_key(key, sizeof(key), agent, n->cfg.local_id, proto, src, dst))
		return NULL;
	struct flow *f = flow_table_find(n->flows, key);
	if (!f || f->dead) {
		f = local_open_flow(n, FLOW_DGRAM_SINK, proto, src, agent, dst, sink,
			sizeof(struct gw_udp_ends));
		if (!f)
			return NULL;
		struct gw_udp_ends *e = flow_priv(f);
		*e = (struct gw_udp_ends){ g, pkt->src, pkt->dst, src_port, dst_port };
		flow_attach(f, -1);
	}
	flow_touch(f);
	return f;
}

static void gw_udp(struct gw *g, struct tun_pkt *pkt)
{
	if (gw_hijacks(g, pkt->dport)) {
		gwdns_from_tun(g->dns, pkt);
		return;
	}
	struct flow *f =
		gw_dgram_flow(g, pkt, MQTT_PROTO_UDP, pkt->sport, pkt->dport, gw_udp_reply);
	if (f)
		flow_up(f, pkt->data + pkt->payload_off, pkt->payload_len);
}

/* An echo reply from the agent: the sequence number and data, back to the client. */
static void gw_echo_reply(struct flow *f, const uint8_t *rest, size_t len)
{
	struct gw_udp_ends *e = flow_priv(f);
	struct gw *g = e->g;

	gw_write_split(g, g->pkt,
		tun_build_echo(g->pkt, sizeof(g->pkt), &e->dest, &e->client, true, e->client_port,
			rest, len),
		e->client.family);
}

/* An echo request to a routed address: carried to an agent that pings (our
 * "icmp"); an agent that does not is refused as administratively prohibited.
 * The flow's "port" is the echo's identifier. */
static void gw_echo(struct gw *g, struct tun_pkt *pkt)
{
	const uint8_t *icmp = pkt->data + pkt->l4_off;

	if (pkt->l4_len < TUN_ICMP_HLEN)
		return;
	uint16_t id = (uint16_t)(icmp[4] << 8 | icmp[5]);
	struct flow *f = gw_dgram_flow(g, pkt, MQTT_PROTO_ICMP, id, 0, gw_echo_reply);
	if (f) /* the sequence number and data */
		flow_up(f, icmp + TUN_ICMP_HLEN - 2, pkt->l4_len - (TUN_ICMP_HLEN - 2));
}

static void gw_icmp(struct gw *g, struct tun_pkt *pkt)
{
	bool echo = pkt->icmp_type ==
		    (pkt->proto == TUN_IPPROTO_ICMP ? TUN_ICMP_ECHO : TUN_ICMP6_ECHO_REQUEST);

	if (!echo)
		return;
	if (tun_addr_eq(&pkt->dst, gw_self(g, pkt->dst.family)))
		gw_write(g, pkt->data, tun_build_echo_reply(pkt->data, sizeof(g->pkt), pkt));
	else
		gw_echo(g, pkt);
}

/* A packet that would leave the gateway with no TTL left: the tunnel counts
 * as a hop, so traceroute shows it and then the destination. */
static bool gw_ttl_expires(struct gw *g, struct tun_pkt *pkt)
{
	static uint8_t reply[TUN_IPV6_MIN_MTU];

	if (pkt->ttl > 1 || tun_addr_eq(&pkt->src, gw_self(g, pkt->src.family)))
		return false;
	int len = tun_build_time_exceeded(reply, sizeof(reply), pkt, gw_hop(g, pkt->src.family));
	if (len > 0) { /* none about multicast (MLD reports leave with hop limit 1) */
		g->ttl_exceeded++;
		gw_write(g, reply, len);
	}
	return true;
}

static void gw_dispatch(struct gw *g, struct tun_pkt *pkt);

/* A fragment: held until its datagram is whole, which then goes on as one packet. */
static void gw_fragment(struct gw *g, struct tun_pkt *pkt)
{
	struct tun_pkt whole;
	size_t len = 0;

	if (tun_frag_add(g->frags, pkt, clock_ms(), g->whole, sizeof(g->whole), &len)) {
		g->fragments++;
		return;
	}
	if (!len)
		return;
	if (tun_parse(&whole, g->whole, len) || whole.frag != TUN_FRAG_NONE) {
		g->bad_packets++;
		return;
	}
	memset(&g->vnet, 0, sizeof(g->vnet)); /* built here: no offload to finish */
	gw_dispatch(g, &whole);
}

static void gw_packet(struct gw *g, size_t len)
{
	struct tun_pkt pkt;

	if (tun_parse(&pkt, g->pkt, len)) {
		g->bad_packets++;
		return;
	}
	pkt.l4_csum_partial = g->vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (pkt.frag != TUN_FRAG_NONE)
		gw_fragment(g, &pkt);
	else
		gw_dispatch(g, &pkt);
}

static void gw_dispatch(struct gw *g, struct tun_pkt *pkt)
{
	if (gw_ttl_expires(g, pkt))
		return;
	switch (pkt->proto) {
	case TUN_IPPROTO_TCP:
		if (tun_addr_eq(&pkt->src, gw_self(g, pkt->src.family)) &&
			pkt->sport == gw_port(g, pkt->src.family))
			gw_tcp_from_listener(g, pkt);
		else
			gw_tcp_from_client(g, pkt);
		break;
	case TUN_IPPROTO_UDP:
		gw_udp(g, pkt);
		break;
	case TUN_IPPROTO_ICMP:
	case TUN_IPPROTO_ICMPV6:
		gw_icmp(g, pkt);
		break;
	}
}

static void gw_tun_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw *g = arg;
	(void)fd, (void)what;

	log_set_role(g->node->name);
	for (int i = 0; i < GW_PACKETS_PER_EVENT; i++) {
		ssize_t r = tun_read(g->tun, g->pkt, sizeof(g->pkt), &g->vnet);
		if (r == -EAGAIN)
			return;
		if (r < 0) {
			g->bad_packets++;
			continue;
		}
		gw_packet(g, (size_t)r);
	}
}

static void gw_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw *g = arg;
	uint64_t next;
	(void)fd, (void)what;

	log_set_role(g->node->name);
	tun_nat_expire(g->nat, clock_ms(), GW_EXPIRE_BUDGET, &next);
	tun_frag_expire(g->frags, clock_ms());
}

/* The kernel accepted a NATed connection: its peer's port names the client and destination. */
static void gw_accept_cb(
	struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct gw *g = arg;
	struct node *n = g->node;
	struct tun_nat_tuple t;
	struct tun_addr c, d, pseudo;
	const struct fakeip_entry *fake;
	char src[ADDR_STRLEN], dst[MQTT_LEVEL_MAX];
	(void)l, (void)salen;

	log_set_role(n->name);
	uint16_t port = tun_addr_from_sockaddr(sa, &pseudo);
	if (tun_nat_lookup(g->nat, sa->sa_family, port, clock_ms(), &t)) {
		close(fd); /* no entry: not ours, or expired */
		return;
	}
	tun_addr_set(&c, t.family, t.src);
	tun_addr_set(&d, t.family, t.dst);
	if (gw_hijacks(g, t.dport)) {
		gwdns_tcp(g->dns, fd);
		return;
	}
	char pick[NODE_ID_MAX];
	const char *agent = gw_agent_for(g, &c, t.sport, &d, t.dport, &fake, pick);
	tun_addr_format(&c, t.sport, src, sizeof(src));
	gw_flow_dst(fake, &d, t.dport, dst, sizeof(dst));
	enum mqtt_proto proto = gw_cfg(g)->kcp ? MQTT_PROTO_KCP : MQTT_PROTO_TCP;
	struct flow *f = NULL;
	if (agent) {
		char key[FLOW_KEY_MAX];
		proto = local_stream_proto(n, agent, proto);
		if (!flow_key(key, sizeof(key), agent, n->cfg.local_id, proto, src, dst))
			f = flow_table_find(n->flows, key);
		if (f && !f->dead && f->fd < 0 && f->opening == FLOW_OPEN_DONE) {
			flow_attach(f, fd); /* its SYN was held until the agent connected */
			return;
		}
		f = local_open_stream(n, proto, src, agent, dst, NULL, 0);
	}
	if (!f) {
		flow_close_reset(fd);
		return;
	}
	flow_attach(f, fd);
	flow_open(f);
}

static struct evconnlistener *gw_listen(struct gw *g, const struct tun_addr *a, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = tun_addr_to_sockaddr(a, 0, &ss);
	struct evconnlistener *l = evconnlistener_new_bind(g->node->base, gw_accept_cb, g,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
		GW_LISTEN_BACKLOG, (struct sockaddr *)&ss, (int)len);
	if (!l)
		return NULL;
	if (listener_guard(l)) {
		evconnlistener_free(l);
		return NULL;
	}
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len);
	*port = ntohs(a->family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					   : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return l;
}

int gw_packet_start(struct gw *g)
{
	struct event_base *base = g->node->base;
	struct timeval second = { 1, 0 };
	struct tun_nat_config nc;

	tun_nat_config_default(&nc);
	evutil_secure_rng_get_bytes(nc.hash_key, sizeof(nc.hash_key));
	struct tun_frag_limits fl = TUN_FRAG_LIMITS_DEFAULT;
	evutil_secure_rng_get_bytes(fl.hash_key, sizeof(fl.hash_key));
	if (tun_nat_new(&g->nat, &nc) || !(g->frags = tun_frag_new(&fl)))
		return -ENOMEM;
	g->listen4 = gw_listen(g, &g->self4, &g->port4);
	g->listen6 = gw_listen(g, &g->self6, &g->port6);
	if (!g->listen4 || !g->listen6) {
		log_error("cannot listen on %s", tun_name(g->tun));
		return -EADDRNOTAVAIL;
	}
	g->ev_tun = event_new(base, tun_fd(g->tun), EV_READ | EV_PERSIST, gw_tun_cb, g);
	g->ev_expire = event_new(base, -1, EV_PERSIST, gw_expire_cb, g);
	if (!g->ev_tun || !g->ev_expire)
		return -ENOMEM;
	event_add(g->ev_tun, NULL);
	event_add(g->ev_expire, &second);
	return 0;
}

void gw_packet_stop(struct gw *g)
{
	if (g->ev_tun)
		event_free(g->ev_tun);
	if (g->ev_expire)
		event_free(g->ev_expire);
	listener_free(g->listen4);
	listener_free(g->listen6);
	if (g->nat)
		tun_nat_free(g->nat);
	tun_frag_free(g->frags);
}
