/* The roles a node can run, and the options each is configured with (see gateway/options.c). */
#ifndef N4M_ROLES_H
#define N4M_ROLES_H

#include <stdbool.h>

#include "allow.h"
#include "gateway/core/node.h"
#include "mqtt/topic.h"
#include "netlink/prefix.h"
#include "socks/handshake.h"

#define ROLE_LIST_MAX 64 /* --route, --exclude, --allow, --advertise: each at most this many */
#define ROLE_REMOTE_DOMAINS_MAX 16

extern const struct role_ops agent_role;
extern const struct role_ops local_port_role;
extern const struct role_ops local_socks_role;
extern const struct role_ops gateway_role;

struct agent_config {
	char target[MQTT_LEVEL_MAX];		/* the default target: flows whose DST is "-" */
	struct allow_rule allow[ROLE_LIST_MAX]; /* none: every destination */
	int n_allow;
	struct nl_prefix advertise[ROLE_LIST_MAX]; /* in its status, for gateways' --auto-routes */
	int n_advertise;
};

struct local_port_config {
	char listen[MQTT_LEVEL_MAX];
	char target[MQTT_LEVEL_MAX]; /* DST, or "-": the agent's default target */
	bool udp, kcp;
};

struct local_socks_config {
	char listen[MQTT_LEVEL_MAX];
	char domain[MQTT_LEVEL_MAX]; /* AGENT.DOMAIN names an agent (kxdns) */
	bool kcp;
	struct socks_credentials auth; /* --socks-user (RFC 1929); an empty user: none */
};

struct remote_domain {
	char suffix[256];	 /* names under it ... */
	char agent[NODE_ID_MAX]; /* ... are resolved by this agent */
};

struct gateway_config {
	char tun_name[16];
	int mtu;
	char routes[ROLE_LIST_MAX][NL_PREFIX_STRLEN + NODE_ID_MAX]; /* CIDR[=AGENT] */
	int n_routes;
	char excludes[ROLE_LIST_MAX][NL_PREFIX_STRLEN];
	int n_excludes;
	bool auto_routes; /* install the subnets online agents advertise */
	bool kcp;
	/* --dns */
	bool dns, dns_hijack;
	char domain[MQTT_LEVEL_MAX];
	struct remote_domain remote_domains[ROLE_REMOTE_DOMAINS_MAX];
	int n_remote_domains;
	char dns_upstream[64]; /* IP:PORT the default agent forwards other names to; "" none */
};

#endif
