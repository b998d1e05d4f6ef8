/* One role on the hub's MQTT connection: its id and status, its peers' statuses, its flow table and counters. */
#ifndef N4M_NODE_H
#define N4M_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "flowtable.h"
#include "gateway/lib/keys.h"
#include "gateway/lib/log.h"
#include "mqtt/topic.h"
#include "status.h"

struct event;
struct event_base;
struct evbuffer;
struct mqtt_client;
struct mqtt_url;
struct nl_prefix;
struct node;
struct grace;
struct peers;
struct status;

#define NODE_ID_MAX 128
/* The largest publish we send a peer of ours (it takes STATUS_MAX_PACKET): see
 * docs/protocol.md, "Packet size". Mosquitto holds a message in three buffers of
 * its size at once (read, stored, written); while they fit glibc's 128 KiB trim
 * threshold its heap stays put, past it (when they lie at the top of its heap,
 * as in a fresh broker) every message costs a brk() that shrinks the heap and a
 * TLB flush. Loopback, a fresh mosquitto 2.0.11 as shipped, raw QoS 0
 * throughput (tests/bench/mqtt_ceiling): 32 KiB 620-670 MB/s, 40 KiB 660-890,
 * 42 KiB 670-850, 44 KiB 290, 48 KiB 230-260, 64 KiB 80-120; with the trim
 * threshold raised, 40 KiB 840 and 64 KiB 660. aedes: 40 KiB 400, 64 KiB 350. */
#define NODE_PACKET_SIZE 40960
#define NODE_PACKET_MIN 4096
/* A peer's offline status ends its flows this long after, if no online status
 * contradicts it first: anyone who may publish on the prefix can publish "{}"
 * on a peer's status topic, and the peer republishes its own at once
 * (NODE_RESPOOF_MS); a real will is acted on this much later. */
#define NODE_OFFLINE_GRACE_MS 1000
#define NODE_RESPOOF_MS 100 /* at most this often we republish our status over a spoof */
#define NODE_STATUS_LOGS 10 /* peer status lines a second, then a count of those left out */

/* What a role is, and what it does with the node's events. */
struct role_ops {
	const char *name;
	bool is_agent;	    /* the exit node: flows arrive on its i topics; else a local */
	size_t config_size; /* its options (struct agent_config, ...), of which the node keeps a copy */
	int (*start)(struct node *n);
	void (*on_data)(
		struct node *n, const struct mqtt_topic *t, const uint8_t *payload, size_t len);
	void (*on_pause)(
		struct node *n, bool paused); /* stop/resume reading what its flows do not own */
	void (*on_stop)(struct node *n);
	/* a peer's status arrived (st) or it went offline (st NULL) */
	void (*on_peer)(
		struct node *n, const char *agent, const char *local, const struct status *st);
	/* the subnets its status advertises; returns how many */
	int (*advertised)(const struct node *n, const struct nl_prefix **routes);
	/* copies the options a reload applies (routes, allowlists, ...) from src to dst */
	void (*reloadable)(void *dst, const void *src);
	/* a reload: next is the config to run from now on; 0, or < 0 to keep the old one */
	int (*reload)(struct node *n, const void *next);
	/* /metrics and /status: the role's own figures (Prometheus lines; JSON members) */
	void (*metrics)(struct node *n, struct evbuffer *out);
	void (*status_json)(struct node *n, struct evbuffer *out);
	/* an agent: the key a local's statuses must be signed with (learned from its encrypted
	 * flows), or NULL */
	const uint8_t *(*status_key)(struct node *n, const char *local);
	/* the agent specs it routes to besides its default agent (a gateway's routes): fn for
	 * each, pools or not */
	void (*agent_specs)(
		struct node *n, void (*fn)(struct node *n, const char *spec, void *arg), void *arg);
};

#define NODE_PATH_MAX 1024
#define NODE_SEAL_PINS 32

/* --seal-peer AGENT=KEY: a local's flows to AGENT are encrypted, toward KEY only. */
struct seal_pin {
	char agent[NODE_ID_MAX];
	uint8_t pub[KEY_LEN];
};

/* What every role is configured with; the rest is the role's (role_cfg). */
struct node_config {
	char agent_id[NODE_ID_MAX]; /* the agent's own id, or the default agent of a local */
	char local_id[NODE_ID_MAX];
	struct flow_limits limits;    /* --max-flows, --max-memory, --udp-timeout */
	bool plain_streams;	      /* --plain-streams: no tcpx, kcpx (mqtt/frame.h) */
	int packet_size;	      /* --packet-size: our largest publish to our peers */
	char seal_key[NODE_PATH_MAX]; /* --seal-key FILE: our private key; "": no encryption */
	struct seal_pin seal_pins[NODE_SEAL_PINS];
	int n_seal_pins;
};

struct node_stats {
	struct flow_stats flow;
	unsigned long bad_topic, refused;
	unsigned long status_spoofed; /* statuses on our own topic that were not ours */
	unsigned long peers_refused;  /* statuses of new peers while the peer table was full */
	unsigned long status_logs_suppressed; /* peer status log lines over the rate */
	unsigned long unused_closed;	      /* an agent's streams ended: no byte either way */
	unsigned long over_peer_limit;	      /* an agent's flows refused: --max-flows-per-peer */
	unsigned long seal_refused;	      /* opens of encrypted flows an agent refused */
	unsigned long seal_plain_dropped;     /* plain messages at a keyed agent (or the reverse) */
	unsigned long status_forged; /* a keyed peer's statuses: unsigned, forged, or old */
	unsigned long long bytes_up, bytes_down, msgs_up, msgs_down;
};

struct node {
	char name[64]; /* the role, or its config file section: "local-port web" */
	struct event_base *base;
	const struct mqtt_url *url; /* the hub's: its prefix begins every topic */
	struct mqtt_client *mqtt;   /* the hub's */
	struct node_config cfg;
	void *role_cfg; /* the role's options: a copy of role->config_size bytes */
	const struct role_ops *role;
	void *role_data;
	char status_topic[MQTT_TOPIC_MAX];
	char own_status[STATUS_JSON_MAX]; /* what we last published on it */
	int own_len;			  /* -1: nothing yet */
	struct event *ev_respoof;	  /* a republish over a spoof, held to NODE_RESPOOF_MS */
	uint64_t respoofed_ms, spoof_logged_ms;
	struct flow_table *flows;
	struct key_pair *seal_self; /* --seal-key's; NULL: no encrypted flows */
	uint64_t epoch;		    /* keyed: in our statuses, the time the connection was made */
	struct peers *peers;
	struct grace *gone; /* peers whose offline status waits NODE_OFFLINE_GRACE_MS */
	uint64_t refused_logged_ms, forged_logged_ms;
	struct log_budget status_lines;
	bool quiet_peers; /* another node of the hub logs peers coming and going */
	bool icmp_echo;	  /* an agent that can ping: "icmp" in its status */
	bool icmp_raw;	  /* ... with a raw socket: it keeps CAP_NET_RAW */
	bool stopping;
	uint64_t started_ms;
	struct node_stats stats;
};

/* The node is added to a hub (hub.h) next, which sets up its connection. */
int node_init(struct node *n, struct event_base *base, const struct mqtt_url *url, const char *name,
	const struct node_config *cfg, const void *role_cfg, const struct role_ops *role);
/* Stops the role and its flows, says offline; the hub then disconnects. */
void node_stop(struct node *n);
void node_free(struct node *n);

/* What the hub tells each node: connected (it fills in the two patterns to
 * subscribe to and publishes its status), connection lost, congestion
 * (stop reading) and its end, a status message (every node gets each one),
 * and data for it (an i topic for an agent, an o topic for a local: the hub
 * dispatches by label and id). */
void node_connected(struct node *n, char patterns[2][MQTT_TOPIC_MAX]);
void node_disconnected(struct node *n);
void node_congested(struct node *n, bool congested);
void node_status_message(struct node *n, const struct mqtt_topic *t, const char *topic,
	const void *payload, size_t len);
void node_data(struct node *n, const struct mqtt_topic *t, const char *topic, const void *payload,
	size_t len);
void node_publish_status(struct node *n, bool online);
/* Is this payload on our status topic what we last published there? */
bool node_status_is_own(const struct node *n, const void *payload, size_t len);
/* Someone else's status on our topic (or our will, which the broker published):
 * counted, said (once a second), ours republished. */
void node_status_spoofed(struct node *n, const void *payload, size_t len);

/* Takes from fresh (and fresh_role) what may change while flows run (routes,
 * allowlists, advertised subnets, SOCKS user, limits); says which other keys changed. */
void node_reload(struct node *n, const struct node_config *fresh, const void *fresh_role);
/* The counters in one line: at WARN when asked for (SIGUSR1), else at INFO. */
void node_log_stats(const struct node *n, bool always);

/* This node's own id: the agent's, or the local's. */
const char *node_id(const struct node *n);
/* Largest payload to send a peer on this topic: what it takes (64 KiB for ours,
 * net4mqtt's 10 KiB), and for streams at most --packet-size. */
/* Our offline status (the will, for the hub's first node): "{}", or signed with our epoch. */
int node_will(struct node *n, char *buf, size_t len);
/* A new connection is about to be made: our statuses carry this epoch from now on. */
void node_new_epoch(struct node *n, uint64_t epoch);

/* A local: the key of AGENT its flows are sealed toward (--seal-peer), or NULL: plain flows. */
const uint8_t *node_seal_pin(const struct node *n, const char *agent);

size_t node_chunk_for(struct node *n, const char *peer_agent, const char *peer_local,
	size_t topic_len, enum flow_kind kind);
/* Has this peer published an online status (and not gone offline since)? */
bool node_peer_online(struct node *n, const char *agent, const char *local);
/* Does this peer speak our stream frames (tcpx, kcpx), by its online status? */
bool node_peer_streams(struct node *n, const char *agent, const char *local);
/*
 * An agent pool: where one agent id is accepted, a list "ag1,ag2,ag3" is too.
 * The member a new flow goes to: among the members online (their status),
 * the one whose hash with the flow's identity (flow_id, flow_len bytes: its
 * addresses) is highest (rendezvous hashing: a flow keeps its member while
 * that member is online, and a member that leaves moves only its own flows).
 * With none online, the first member. A spec without a comma is returned as
 * it is; otherwise the member is written to out (NODE_ID_MAX bytes).
 */
const char *node_pick_agent(struct node *n, const char *spec, const void *flow_id, size_t flow_len,
	char out[NODE_ID_MAX]);
/* A pool (spec holds a comma: the caller, http.c, picks pools out) in /status:
 * ",{"pool":spec,"members":[{"id":..,"online":..}]}" after the first (*count counts them),
 * and in /metrics:
 * net4mqtt_pool_member_online{role,pool,agent} 1 or 0. */
void node_pool_json(struct node *n, const char *spec, struct evbuffer *out, int *count);
void node_pool_metrics(struct node *n, const char *spec, struct evbuffer *out);
/* Whether agent said "icmp" in its online status: it carries ICMP echo. */
bool node_peer_icmp(struct node *n, const char *agent);
/* Is its last status offline (its will "{}")? A net4mqtt peer that never
 * publishes a status is neither online nor offline. */
bool node_peer_offline(struct node *n, const char *agent, const char *local);

/* One message on the hub's connection, counted: 0 or -errno. */
int node_publish(struct node *n, const char *topic, const void *payload, size_t len);

#endif
