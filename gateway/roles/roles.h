/* The roles a node can run, and the options each is configured with (see gateway/options.c). */
#ifndef N4M_ROLES_H
#define N4M_ROLES_H

#include <stdbool.h>

#include "allow.h"
#include "fakeip.h"
#include "gateway/core/node.h"
#include "mqtt/topic.h"
#include "netlink/prefix.h"
#include "socks/handshake.h"

#define ROLE_LIST_MAX 64 /* --route, --exclude, --allow, --advertise: each at most this many */
#define ROLE_REMOTE_DOMAINS_MAX 16
#define ROLE_PATH_MAX 256
#define GW_TABLE_DEFAULT 1883	     /* --table */
#define GW_RULE_PRIO_DEFAULT 1883    /* --rule-priority */
#define GW_RULE_PRIO_MIN 3	     /* its pin rule at - 1 and --bypass at - 2 stay above 0 */
#define GW_RULE_PRIO_MAX 32765	     /* below main's 32766 */
#define GW_SELF4_NET "198.18.0.0/30" /* the TUN's own (gw.c) */
#define GW_SELF6_NET "fdfe:dcba:9876::/126"

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
	int max_flows_per_peer; /* open flows one local id may have here; 0: AGENT_PER_PEER_SHARE */
	int unused_timeout_s;	/* a stream with no byte either way this long ends; 0: never */
	char seal_peers[NODE_PATH_MAX]; /* --seal-peers FILE: who may open encrypted flows */
};

/* Without --max-flows-per-peer, one local id may hold this percentage of
 * --max-flows: a stranger with publish rights under one id leaves a quarter of
 * the agent to the real locals, and a single busy local (a gateway for a whole
 * LAN) still has most of it. tests/e2e/udp_flood.sh holds 10,000 UDP flows
 * from one local at once: a quarter (4096) and a half (8192) both broke it. */
#define AGENT_PER_PEER_PERCENT 75
#define AGENT_UNUSED_TIMEOUT_S 60

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
	struct fakeip_ranges fake_ip; /* --fake-ip-range: the pool's prefixes */
	uint8_t fake_ip_given;	      /* 1: an IPv4 --fake-ip-range was given, 2: an IPv6 one */
	char fake_ip_cache[ROLE_PATH_MAX]; /* --fake-ip-cache FILE; "" none */
	/* the kernel's side: not reloadable */
	int table;	   /* our routing table */
	int rule_priority; /* `from all lookup TABLE`; the broker pin is at - 1, --bypass at - 2 */
	/* --bypass: sources that never enter the TUN (`from CIDR lookup main`); reloadable */
	struct nl_prefix bypass[ROLE_LIST_MAX];
	int n_bypass;
};

#endif
