/* The gateway role's insides, shared by its files: gw.c (start, stop, reload), gw_packet.c (the
 * packet path), gw_routes.c (routes and the netlink policy), gw_metrics.c (its figures). */
#ifndef N4M_GW_H
#define N4M_GW_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/core/node.h"
#include "netlink/prefix.h"
#include "roles.h"
#include "tun/packet.h"
#include "tun/tun.h"

struct evbuffer;
struct event;
struct evconnlistener;
struct gateway_config;
struct gwdns;
struct node;
struct nl;
struct nl_monitor;
struct route_table;
struct status;
struct tun_frag_table;
struct tun_nat;

#define GW_MAIN_TABLE 254
#define GW_BROKER_ADDRS 8
/* packets the kernel queues for us to read from the TUN: its default of 500
 * dropped a tenth of a LAN host's 1000-datagram burst */
#define GW_TXQLEN 4096

/* lines a second about advertised routes (routed, ignored, withdrawn), then a count */
#define GW_ROUTE_LOGS 20

struct gw {
	struct node *node;
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
	bool rule4, rule6, pinned, bypassed; /* bypassed: the --bypass rules are in */
	struct nl_prefix pin;
	struct nl_prefix broker[GW_BROKER_ADDRS];
	int n_broker;
	struct gwdns *dns; /* --dns */
	struct tun_frag_table *frags;
	uint32_t frag_id; /* of the IPv6 datagrams we split */
	unsigned long bad_packets, fragments, no_agent, tun_drops;
	unsigned long ttl_exceeded, icmp_refused, frags_sent;
	struct log_budget route_lines; /* what statuses (anyone's, unkeyed) make us say */
	struct virtio_net_hdr vnet;    /* of the packet in pkt, as read */
	uint8_t pkt[TUN_PACKET_MAX + 1];
	uint8_t whole[TUN_PACKET_MAX + 1]; /* a datagram rebuilt from fragments */
	uint8_t piece[TUN_PACKET_MAX + 1]; /* a fragment of a datagram we split */
};

/* The gateway's options, as its node keeps them. */
static inline const struct gateway_config *gw_cfg(const struct gw *g)
{
	return g->node->role_cfg;
}

/* Our routing table (--table) and the priorities of our rules: `from all lookup
 * TABLE` (--rule-priority), `to BROKER lookup main` just below it when the
 * broker is in a routed subnet, `from BYPASS lookup main` (--bypass) below that. */
static inline uint32_t gw_table(const struct gw *g)
{
	return (uint32_t)gw_cfg(g)->table;
}

static inline uint32_t gw_rule_prio(const struct gw *g)
{
	return (uint32_t)gw_cfg(g)->rule_priority;
}

static inline uint32_t gw_pin_prio(const struct gw *g)
{
	return gw_rule_prio(g) - 1;
}

static inline uint32_t gw_bypass_prio(const struct gw *g)
{
	return gw_rule_prio(g) - 2;
}

/* gw_packet.c: the TUN's packets, the NAT listeners, udp flows' replies. */
int gw_packet_start(struct gw *g);
void gw_packet_stop(struct gw *g);

/* gw_routes.c: the route table (configured, advertised) and the kernel's copy of it. */
int gw_routes_parse(
	const struct gateway_config *cfg, const char *default_agent, struct route_table *rt);
int gw_routes_configure_tun(struct gw *g);
int gw_routes_start(struct gw *g);
void gw_routes_stop(struct gw *g);
int gw_routes_reload(struct gw *g, const struct gateway_config *next);
void gw_routes_on_peer(struct gw *g, const char *agent, const struct status *st);

/* gw_metrics.c */
void gw_metrics(struct node *n, struct evbuffer *out);
void gw_status_json(struct node *n, struct evbuffer *out);
void gw_agent_specs(
	struct node *n, void (*fn)(struct node *n, const char *spec, void *arg), void *arg);

#endif
