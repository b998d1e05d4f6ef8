/* A role's flows: their index by key, their list, counters and limits, and what they share (loop, publisher, read buffer). */
#ifndef N4M_FLOWTABLE_H
#define N4M_FLOWTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct event_base;
struct flow;
struct map;

#define FLOW_OUT_CAP (16u << 20)  /* bytes waiting for a slow socket before the flow is ended */
#define FLOW_TIGHT_CAP (1u << 20) /* ... while the heap is over --max-memory */
#define FLOW_RBUF_SIZE (64 * 1024 + 64) /* one read buffer for every socket of a table */

/* How flows reach MQTT: one message on topic. 0, or -ENOTCONN, -EMSGSIZE, -ENOMEM. */
typedef int flow_publish_fn(void *arg, const char *topic, const void *payload, size_t len);

struct flow_stats {
	unsigned long opened, closed, overflowed, lingering;
	unsigned long udp_dropped; /* datagrams that could not be queued or sent */
	unsigned long
		udp_rcvbuf_dropped; /* datagrams the kernel dropped: our socket's buffer was full */
	unsigned long bad_payload;  /* data a flow could not take (after its end, bad KCP) */
	unsigned long unknown_flow; /* data for a flow that ended here */
	unsigned long over_limit;   /* flows refused: --max-flows, --max-memory, no descriptor */
	unsigned long lost; /* framed streams that saw a hole: a message the broker dropped */
	/* encrypted flows: messages that failed their check (the flow is reset), that came
	 * again or too late (QoS 1 redelivers; a replay), that came before the keys */
	unsigned long sealed_bad, sealed_replayed, sealed_early;
	unsigned long long stream_up,
		stream_down; /* the clients' bytes: socket -> MQTT, MQTT -> socket */
};

struct flow_limits {
	int max_flows;	   /* new flows are refused at this many (in the index, shared or not) */
	size_t max_memory; /* bytes of heap above which new flows are refused; 0: no limit */
	int udp_timeout_s; /* a datagram flow idle this long ends */
};

TAILQ_HEAD(flow_list, flow);

struct flow_table {
	struct event_base *base;
	flow_publish_fn *publish;
	void *publish_arg;
	char name[64]; /* of the role, for log lines */
	struct flow_limits limits;
	struct flow_stats *stats;
	struct map *index; /* key -> flow; shared by the tables of locals with one id */
	bool own_index;
	size_t aliases; /* keys in index that name a flow a second time (an encrypted flow's) */
	struct flow_list list; /* this table's flows, oldest first (kept by flow.c) */
	uint64_t next_id;
	bool paused;   /* the MQTT backlog is over its high watermark: sockets are not read */
	bool stopping; /* the role is going away: failed flows do not linger */
	bool is_local; /* a local's flows (toward an agent), not an agent's */
	uint8_t *rbuf; /* the loop is single-threaded: one buffer serves every read */
	size_t rbuf_size;
	size_t heap_used; /* bytes, as of heap_checked_ms */
	uint64_t heap_checked_ms, limit_logged_ms, fds_logged_ms;
	uint64_t answers_second; /* flow_answer_unknown: the second counted, and its answers */
	unsigned answers;
	uint32_t busy_epoch;	      /* tcpx flows that received DATA in this epoch ... */
	unsigned busy_now, busy_prev; /* ... and in the one before: they share FLOW_WINDOW_BUDGET */
};

struct flow_table_config {
	struct event_base *base;
	flow_publish_fn *publish;
	void *publish_arg;
	const char *name;
	struct flow_limits limits;
	struct flow_stats *stats; /* where the counters go; the caller's */
	struct map *index; /* a shared index (the caller keeps it longer), or NULL: its own */
	bool is_local;
};

/* 0, -ENOMEM. */
int flow_table_new(const struct flow_table_config *cfg, struct flow_table **out);
/* Frees the table, which must hold no flow (flow_destroy_all). Accepts NULL. */
void flow_table_free(struct flow_table *t);

/* From now on t indexes its flows in index, shared with other tables (the
 * caller keeps it longer), instead of its own; t must hold no flow yet. */
void flow_table_share_index(struct flow_table *t, struct map *index);

/* The flow of key in the index (it may be another table's, when shared), or NULL. */
struct flow *flow_table_find(const struct flow_table *t, const char *key);
/* Flows in the index (of every table sharing it). */
size_t flow_table_size(const struct flow_table *t);

/* Whether a new flow may open: fewer than max_flows, heap under max_memory.
 * If not, counts it and says why (at most once a second). */
bool flow_table_admit(struct flow_table *t);
/* A destination socket could not be made (EMFILE, ENFILE): counted as over a
 * limit and said at most once a second, since a peer may open flows at the
 * broker's rate. */
void flow_table_out_of_fds(struct flow_table *t, int err);
/* The most a flow with queued bytes (and more coming) may queue toward its
 * socket: FLOW_OUT_CAP, or FLOW_TIGHT_CAP while the heap is over max_memory. */
size_t flow_table_cap(struct flow_table *t, size_t queued);

#endif
