/* One MQTT endpoint running one role: its connection, peers' status, flow table and counters. */
#ifndef N4M_NODE_H
#define N4M_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "mqtt/topic.h"
#include "mqtt/url.h"
#include "gateway/roles/allow.h"
#include "gateway/roles/route.h"

struct event_base;
struct evdns_base;
struct mqtt_client;
struct map;
struct flow;
struct node;
struct status;
struct hub;
struct evbuffer;
struct node_config;

#define NODE_ID_MAX 128
#define FLOW_KEY_MAX (MQTT_LEVEL_MAX * 4 + 16)

/* What a role does with the node's events. */
struct role_ops {
	const char *name;
	int (*start)(struct node *n);
	void (*on_data)(struct node *n, const struct mqtt_topic *t, const uint8_t *payload, size_t len);
	void (*on_pause)(struct node *n, bool paused); /* stop/resume reading listeners */
	void (*on_stop)(struct node *n);
	/* gateway: a datagram from MQTT for a FLOW_DGRAM_TUN flow */
	void (*dgram_reply)(struct node *n, struct flow *f, const uint8_t *payload, size_t len);
	/* a peer's status arrived (st) or it went offline (st NULL) */
	void (*on_peer)(struct node *n, const char *agent, const char *local, const struct status *st);
	/* a reload: next is the config to run from now on; 0, or < 0 to keep the old one */
	int (*reload)(struct node *n, const struct node_config *next);
	/* /metrics and /status: the role's own figures (Prometheus lines; JSON members) */
	void (*metrics)(struct node *n, struct evbuffer *out);
	void (*status_json)(struct node *n, struct evbuffer *out);
};

struct node_stats {
	unsigned long bad_topic, bad_payload, unknown_flow, udp_dropped, refused, over_limit;
	unsigned long flows_opened, flows_closed, flows_overflowed, flows_lingering;
	unsigned long long bytes_up, bytes_down, msgs_up, msgs_down;
};

struct node_config {
	struct mqtt_url url;
	char client_id[MQTT_URL_FIELD];
	char agent_id[NODE_ID_MAX]; /* the agent's own id, or the default agent of a local */
	char local_id[NODE_ID_MAX];
	char target[MQTT_LEVEL_MAX]; /* agent: default target; local-port: DST or "-" */
	char listen[MQTT_LEVEL_MAX];
	char domain[MQTT_LEVEL_MAX];
	bool udp, kcp;
	int udp_timeout_s;
	/* gateway */
	char tun_name[16];
	int mtu;
	char routes[64][NL_PREFIX_STRLEN + NODE_ID_MAX]; /* CIDR[=AGENT] */
	int n_routes;
	char excludes[64][NL_PREFIX_STRLEN];
	int n_excludes;
	bool auto_routes; /* install the subnets online agents advertise */
	/* agent: --advertise, in its status */
	struct nl_prefix advertise[64];
	int n_advertise;
	/* gateway DNS */
	bool dns, dns_hijack;
	struct remote_domain {
		char suffix[256]; /* names under it ... */
		char agent[NODE_ID_MAX]; /* ... are resolved by this agent */
	} remote_domains[16];
	int n_remote_domains;
	char dns_upstream[64]; /* IP:PORT the default agent forwards other names to; "" none */
	/* agent: --allow; none means every destination */
	struct allow_rule allow[64];
	int n_allow;
	/* local-socks: --socks-user USER:PASS (RFC 1929); empty user: no authentication */
	char socks_user[256], socks_pass[256];
	/* limits */
	int max_flows;		 /* new flows are refused at this many */
	size_t max_memory;	 /* bytes of heap above which new flows are refused */
	char user[64];		 /* --user: run as this user after start-up ("" stay) */
	char status_listen[64];	 /* --status-listen: the HTTP status server's IP:PORT ("" none) */
};

TAILQ_HEAD(flow_list, flow);

struct node {
	char name[64]; /* the role, or its config file section: "local-port web" */
	struct event_base *base;
	struct evdns_base *dns;
	struct mqtt_client *mqtt; /* the hub's */
	struct hub *hub;
	struct node_config cfg;
	const struct role_ops *role;
	void *role_data;
	bool is_agent;
	char status_topic[MQTT_TOPIC_MAX];
	struct map *flows; /* by key; every local role of a hub shares one */
	bool flows_shared;
	struct flow_list flow_list;
	bool quiet_peers; /* another node of the hub logs peers coming and going */
	uint64_t started_ms;
	struct map *peers; /* "AGENT/LOCAL" status topic ids -> struct peer */
	bool paused;	   /* MQTT backlog above its high watermark */
	bool stopping;
	uint64_t next_flow_id;
	struct node_stats stats;
	uint8_t *rbuf; /* one read buffer for every socket: the loop is single-threaded */
	size_t rbuf_size;
	size_t heap_used;	  /* bytes, as of heap_checked_ms */
	uint64_t heap_checked_ms, limit_logged_ms;
};

/* A node's MQTT connection is its hub's (hub.h), set up after node_init. */
int node_init(struct node *n, struct event_base *base, const struct node_config *cfg,
	const struct role_ops *role, bool is_agent);
/* Stops the role and its flows, says offline; the hub then disconnects. */
void node_stop(struct node *n);
void node_free(struct node *n);

/* What the hub tells each node: connected (it fills in the two patterns to
 * subscribe to and publishes its status), connection lost, backlog drained,
 * a status message (every node gets each one), and data for it (an i topic
 * for an agent, an o topic for a local: the hub dispatches by label and id). */
void node_connected(struct node *n, char patterns[2][MQTT_TOPIC_MAX]);
void node_disconnected(struct node *n);
void node_drained(struct node *n);
void node_status_message(struct node *n, const struct mqtt_topic *t, const char *topic,
	const void *payload, size_t len);
void node_data(struct node *n, const struct mqtt_topic *t, const char *topic, const void *payload,
	size_t len);
void node_publish_status(struct node *n, bool online);

/* Takes from fresh what may change while flows run (routes, allowlists,
 * advertised subnets, SOCKS user, limits); says which other keys changed. */
void node_reload(struct node *n, const struct node_config *fresh);
/* The counters in one line: at WARN when asked for (SIGUSR1), else at INFO. */
void node_log_stats(const struct node *n, bool always);

/* Largest payload a peer takes on this topic: 64 KiB peers, else net4mqtt's 10 KiB. */
size_t node_chunk_for(struct node *n, const char *peer_agent, const char *peer_local,
	size_t topic_len);

/* The flow key names one flow: "AGENT/LOCAL/PROTO/SRC/DST". */
int node_flow_key(char *buf, size_t len, const char *agent, const char *local,
	enum mqtt_proto proto, const char *src, const char *dst);

/* Whether a new flow may open: fewer than --max-flows, heap under
 * --max-memory. If not, counts it and says why (at most once a second). */
bool node_admit_flow(struct node *n);
/* The most a flow with queued bytes (and more coming) may queue toward its
 * socket: FLOW_OUT_CAP, or NODE_TIGHT_FLOW_CAP while the heap is over --max-memory. */
size_t node_flow_cap(struct node *n, size_t queued);
#define NODE_TIGHT_FLOW_CAP (1u << 20)

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t node_now_ms(void);

/* Has this peer published an online status (and not gone offline since)? */
bool node_peer_online(struct node *n, const char *agent, const char *local);
/* Is its last status offline (its will "{}")? A net4mqtt peer that never
 * publishes a status is neither online nor offline. */
bool node_peer_offline(struct node *n, const char *agent, const char *local);

/* Every peer whose status was seen: key "AGENT/LOCAL", its last status. */
void node_peers_walk(struct node *n, void (*fn)(const char *key, const struct status *st, void *arg),
	void *arg);

int node_publish(struct node *n, const char *topic, const void *payload, size_t len);

#endif
