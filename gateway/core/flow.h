/* A flow: one (agent, local, protocol, src, dst) between a socket and MQTT, with its buffers and teardown. */
#ifndef N4M_FLOW_H
#define N4M_FLOW_H

#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <time.h>

#include "flowtable.h"
#include "mqtt/topic.h"

struct evbuffer;
struct evutil_addrinfo;
struct kcpflow;

#define FLOW_KEY_MAX (MQTT_LEVEL_MAX * 4 + 16)
#define FLOW_CONNECT_TIMEOUT_S 10
/* A flow ended by an error stays this long as a tombstone: it answers the
 * peer's further data with another empty payload, which tells the peer to
 * abort (reset) its side, and it keeps late data from opening a new flow. */
#define FLOW_LINGER_S 10
#define FLOW_ABORT_REPEAT_MS 200
/* A local's tcp flow to an agent never seen online ends if nothing at all
 * comes back this long: a mistyped agent id fails instead of hanging. (A
 * net4mqtt agent need not publish a status; it answers a flow with data, or
 * with the end signal when it cannot connect.) */
#define FLOW_AGENT_SILENCE_S 30
#define FLOW_DGRAM_QUEUE_MAX (256 * 1024) /* datagrams waiting for a socket still connecting */

enum flow_kind {
	FLOW_STREAM,	 /* tcp or kcp: a connected socket of its own */
	FLOW_DGRAM,	 /* udp with a connected socket of its own (the agent's) */
	FLOW_DGRAM_SINK, /* udp without one: datagrams from MQTT go to the flow's sink, which
			    its role set (a listener's socket shared by clients, the TUN) */
};

struct flow;
/* Where a FLOW_DGRAM_SINK flow's datagrams from MQTT go. */
typedef void flow_sink_fn(struct flow *f, const uint8_t *payload, size_t len);

/* What a new flow is. */
struct flow_spec {
	enum flow_kind kind;
	enum mqtt_proto proto;
	const char *key;   /* "AGENT/LOCAL/PROTO/SRC/DST" (flow_key) */
	const char *topic; /* where this side publishes */
	size_t chunk;	   /* the largest payload the peer takes */
	flow_sink_fn *sink;
	size_t priv_size; /* bytes for the role that made it, at flow_priv(f) */
};

struct flow {
	TAILQ_ENTRY(flow) link;
	struct flow_table *table;
	uint64_t id;
	enum flow_kind kind;
	enum mqtt_proto proto;
	const char *key, *topic; /* stored after the flow, at their length */
	size_t chunk;
	flow_sink_fn *sink;
	int fd;
	struct event ev_read, ev_write, ev_timer;
	struct evbuffer *out; /* for the socket: stream bytes, or length-prefixed datagrams */
	struct evutil_addrinfo *ai_head, *ai_next;
	bool events_ready, reading, writing;
	bool resolving, connecting, rd_eof, wr_eof, wr_shut, end_sent, dead, lingering;
	bool awaiting_agent; /* FLOW_AGENT_SILENCE_S is running */
	struct kcpflow *kcp; /* kcp flows only */
	time_t last_active;
	uint64_t opened_ms;			 /* clock_ms() */
	struct timeval last_abort;		 /* when a tombstone last repeated the end signal */
	unsigned long long bytes_up, bytes_down; /* socket -> MQTT, MQTT -> socket */
	_Alignas(max_align_t) unsigned char priv[];
};

/* The flow key names one flow: "AGENT/LOCAL/PROTO/SRC/DST". 0 or -ENAMETOOLONG. */
int flow_key(char *buf, size_t len, const char *agent, const char *local, enum mqtt_proto proto,
	const char *src, const char *dst);

/* A new flow in t, indexed by its key (which must be free), or NULL: over a
 * limit (counted and said), or out of memory. */
struct flow *flow_new(struct flow_table *t, const struct flow_spec *spec);
/* The role's bytes of the flow (spec.priv_size of them). */
static inline void *flow_priv(struct flow *f)
{
	return f->priv;
}

/* Starts a flow on a connected socket (a stream a local accepted; -1 for a sink flow). */
void flow_attach(struct flow *f, int fd);
/* Connects to each address in turn; takes ownership of ai. */
void flow_connect(struct flow *f, struct evutil_addrinfo *ai);
/* Arms FLOW_AGENT_SILENCE_S: a local's tcp flow to an agent not known online. */
void flow_await_agent(struct flow *f);
/* A payload that arrived from MQTT for this flow. */
void flow_input(struct flow *f, const uint8_t *payload, size_t len);
/* Publishes bytes the flow's client sent (a datagram, or stream bytes in chunks). */
void flow_up(struct flow *f, const uint8_t *payload, size_t len);
/* Marks the flow used now (its idle timer counts from here). */
void flow_touch(struct flow *f);

/* The one teardown: tells the peer (unless it already knows), closes the socket, and
 * frees the flow from the loop (at once, or after lingering): f stays readable
 * (f->dead) until the caller returns to the loop. */
void flow_close(struct flow *f, const char *why, bool error);
/* Ends a flow (or a tombstone) and frees it at once: a new flow takes its key. */
void flow_destroy(struct flow *f);
/* Closes a socket with a reset: the client sees an error, not an end of stream. */
void flow_close_reset(int fd);

/* Every flow of t: stop or resume reading their sockets (MQTT congestion). */
void flow_pause_all(struct flow_table *t, bool paused);
/* Every flow of t whose agent (key level 0) or local (level 1) is the one
 * given (NULL: any) ends with an error. */
void flow_close_all(struct flow_table *t, const char *why, const char *only_peer_agent,
	const char *only_peer_local);
/* Frees every flow of t at once, tombstones included (the loop is ending). */
void flow_destroy_all(struct flow_table *t);

/* A flow still carrying data: not ended, not a tombstone. */
static inline bool flow_is_open(const struct flow *f)
{
	return !f->dead;
}

#endif
