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
#include "gateway/lib/keys.h"
#include "mqtt/frame.h"
#include "mqtt/topic.h"

struct evbuffer;
struct evutil_addrinfo;
struct flow_seal;
struct flowseal_io;
struct kcpflow;
struct seal;

#define FLOW_KEY_MAX (MQTT_LEVEL_MAX * 4 + 16)
#define FLOW_CONNECT_TIMEOUT_S 10
/* A flow ended by an error stays this long as a tombstone: it answers the
 * peer's further data with another empty payload, which tells the peer to
 * abort (reset) its side, and it keeps late data from opening a new flow. */
#define FLOW_LINGER_S 10
/* ... and one whose ABORT was not acknowledged goes on repeating it this long:
 * a peer that lost every copy under a long overload would wait for its data
 * until its keepalive (FLOW_KEEPALIVE_S) otherwise. */
#define FLOW_ABORT_LINGER_S 60
#define FLOW_ABORT_REPEAT_MS 200
/* A local's tcp flow to an agent never seen online ends if nothing at all
 * comes back this long: a mistyped agent id fails instead of hanging. (A
 * net4mqtt agent need not publish a status; it answers a flow with data, or
 * with the end signal when it cannot connect.) */
#define FLOW_AGENT_SILENCE_S 30
#define FLOW_SOCKET_WAIT_S                                                                         \
	10 /* a stream opened before its client's socket exists (flow_await_socket) */
#define FLOW_DGRAM_QUEUE_MAX (256 * 1024) /* datagrams waiting for a socket still connecting */

/* Framed streams (tcpx, kcpx; mqtt/frame.h). The window: how far a tcpx sender
 * may run ahead of what its peer wrote to its socket. make bench, one flow on
 * loopback, tcpx against --plain-streams in the same run: 1 MiB 0.70, 2 MiB
 * 0.89 to 1.32 (noisy), 4 MiB 1.05. 2 MiB is 32 messages of 64 KiB: 30 busy
 * flows still fit in mosquitto's default queue of 1000 messages per client. */
#define FLOW_WINDOW (2u << 20)
/* Busy flows of a table share this much window (each at least FLOW_WINDOW_MIN):
 * 100 busy flows of 2 MiB would hold 200 MiB in flight, a second of the
 * tunnel's throughput, and 5000 messages where mosquitto queues 1000 per
 * client; 32 MiB is 800 messages of 40 KiB. iperf3 -P 100 through local-port,
 * received, against one flow in the same minute: 0.74-0.85 (0.70-0.72 before). */
#define FLOW_WINDOW_BUDGET (32u << 20)
#define FLOW_WINDOW_MIN (256u << 10)
#define FLOW_BUSY_EPOCH_MS 128 /* a flow is busy if DATA arrived in the last one or two */
/* ... and how many DATA frames it may have sent that its peer has not said it
 * received: a sender that writes in small pieces stays as far below the
 * broker's queue as one writing 64 KiB at a time. */
#define FLOW_WINDOW_MSGS 64u
#define FLOW_RESEND_MS 1000	 /* OPEN, END, ABORT without an answer; PROBE while blocked */
#define FLOW_OPEN_TIMEOUT_S 30	 /* an OPEN with no RESULT: the agent is gone or never was */
#define FLOW_END_TIMEOUT_S 30	 /* an END never acknowledged: the flow fails */
#define FLOW_IDLE_S 300		 /* nothing heard from the peer: the flow fails */
#define FLOW_KEEPALIVE_S 100	 /* nothing heard this long: a PROBE asks the peer */
#define FLOW_UNKNOWN_ANSWERS 200 /* per second: answers to frames of flows no one has */

enum flow_kind {
	FLOW_STREAM,	 /* tcp or kcp: a connected socket of its own */
	FLOW_DGRAM,	 /* udp with a connected socket of its own (the agent's) */
	FLOW_DGRAM_SINK, /* udp without one: datagrams from MQTT go to the flow's sink, which
			    its role set (a listener's socket shared by clients, the TUN) */
};

struct flow;
/* Where a FLOW_DGRAM_SINK flow's datagrams from MQTT go. */
typedef void flow_sink_fn(struct flow *f, const uint8_t *payload, size_t len);
/* A local's stream: what its OPEN came to (at once, FRAME_OK, toward a peer
 * without our stream frames). After a result other than FRAME_OK the flow ends
 * when this returns. */
typedef void flow_open_fn(struct flow *f, enum frame_result result);

/* Where a framed stream is in its opening. */
enum flow_opening {
	FLOW_OPEN_DONE,	      /* open (and every unframed flow) */
	FLOW_OPEN_SENT,	      /* a local: OPEN sent, no RESULT yet */
	FLOW_OPEN_CONNECTING, /* an agent: connecting to the destination */
};

/* What a new flow is. */
struct flow_spec {
	enum flow_kind kind;
	enum mqtt_proto proto;
	const char *key;   /* "AGENT/LOCAL/PROTO/SRC/DST" (flow_key) */
	const char *topic; /* where this side publishes */
	size_t chunk;	   /* the largest payload the peer takes */
	flow_sink_fn *sink;
	flow_open_fn *on_open; /* a local's stream */
	size_t priv_size;      /* bytes for the role that made it, at flow_priv(f) */
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
	struct evbuffer *out; /* for the socket: stream bytes, or length-prefixed datagrams;
				 made when the first bytes wait (flow_queued) */
	struct evutil_addrinfo *ai_head, *ai_next;
	bool events_ready, reading, writing;
	bool resolving, connecting, rd_eof, wr_eof, wr_shut, end_sent, dead, lingering;
	bool awaiting_agent;	/* FLOW_AGENT_SILENCE_S is running */
	bool awaiting_socket;	/* FLOW_SOCKET_WAIT_S is running */
	struct kcpflow *kcp;	/* kcp flows only */
	struct flow_seal *seal; /* an encrypted flow's (flowseal.h); NULL: a plain one */
	/* framed streams (tcpx, kcpx) */
	bool framed, end_acked, abort_sent, abort_acked;
	enum flow_opening opening;
	enum frame_result result; /* what the OPEN came to; why the flow failed */
	flow_open_fn *on_open;
	struct event ev_frame;		 /* resends, probes, keepalive, the idle limit */
	uint64_t snd_off, snd_limit;	 /* tcpx: bytes sent; the peer's window ends here */
	uint64_t rcv_off, rcv_granted;	 /* tcpx: bytes received; our window ends here */
	uint32_t snd_msgs, acked_msgs;	 /* tcpx: DATA frames sent; received, as the peer said */
	uint32_t rcv_msgs, granted_msgs; /* tcpx: DATA frames received; as our last WINDOW said */
	uint32_t busy_epoch;		 /* tcpx: the last epoch DATA arrived in (flow_window) */
	uint64_t heard_ms, probed_ms;	 /* the peer's last frame; our last PROBE */
	uint64_t end_ms, frame_due_ms;	 /* our END went out; ev_frame fires (0: not armed) */
	uint64_t dead_ms;		 /* it ended (a tombstone since) */
	int connect_err;		 /* the last connect's errno (an agent's) */
	uint32_t overflows; /* FLOW_DGRAM: its socket's drop count, as the kernel last said */
	uint8_t ping_kind;  /* icmp (enum ping_kind): the agent's socket, of ping_family */
	int ping_family;
	uint16_t ping_id; /* icmp, a raw socket: the identifier of our echoes */
	time_t last_active;
	uint64_t opened_ms;			 /* clock_ms() */
	struct timeval last_abort;		 /* when a tombstone last repeated the end signal */
	unsigned long long bytes_up, bytes_down; /* socket -> MQTT, MQTT -> socket */
	_Alignas(max_align_t) unsigned char priv[];
};

/* tcpx: the window a flow of t is granted now, as t's busy flows share FLOW_WINDOW_BUDGET. */
uint64_t flow_window(const struct flow_table *t);

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
/* A stream whose socket comes later (the gateway's, after the kernel's handshake):
 * it fails if none is attached within FLOW_SOCKET_WAIT_S. */
void flow_await_socket(struct flow *f);
/* A local's stream: sends its OPEN (framed), or reports FRAME_OK at once (not framed). */
void flow_open(struct flow *f);
/* An agent's framed stream, on its OPEN: the peer may send below window; connect next. */
void flow_accept_open(struct flow *f, uint64_t window);
/* Answers a frame for a flow that is not here (ended long ago, never ours) on
 * the topic the peer listens on: an END is acknowledged, the rest aborted. */
void flow_answer_unknown(
	struct flow_table *t, const char *reply_topic, const uint8_t *payload, size_t len);
/* Encrypted flows (flowseal.h): a local's flow toward the agent whose key is peer_pub, whose
 * first message out becomes the open; an agent's flow for the open s accepted, whose reply goes
 * out now. wire_key ("AGENT/LOCAL/seal/ID/-") names the flow in the index too. 0 or -errno. */
int flow_seal_initiate(struct flow *f, const struct key_pair *self, const uint8_t peer_pub[KEY_LEN],
	const char *wire_key);
int flow_seal_respond(struct flow *f, struct seal *s, const char *wire_key);
/* Where a seal of table t publishes on topic and what it counts: an encrypted flow's, or one
 * for an open that gets an answer but no flow. */
void flow_table_seal_io(
	struct flow_table *t, const char *topic, bool framed, struct flowseal_io *io);
/* The key of an encrypted flow's peer, or NULL. */
const uint8_t *flow_seal_peer(const struct flow *f);
/* A payload that arrived from MQTT for this flow. */
void flow_input(struct flow *f, const uint8_t *payload, size_t len);
/* ... one already unsealed (an encrypted flow's first, which came inside its open). */
void flow_input_plain(struct flow *f, const uint8_t *payload, size_t len);
/* Publishes bytes the flow's client sent (a datagram, or stream bytes in chunks). */
void flow_up(struct flow *f, const uint8_t *payload, size_t len);
/* Marks the flow used now (its idle timer counts from here). */
void flow_touch(struct flow *f);
/* Bytes waiting for the flow's socket. */
size_t flow_queued(const struct flow *f);

/* The one teardown: tells the peer (unless it already knows), closes the socket, and
 * frees the flow from the loop (at once, or after lingering): f stays readable
 * (f->dead) until the caller returns to the loop. */
void flow_close(struct flow *f, const char *why, bool error);
/* flow_close with an error that says what happened (an agent's RESULT or ABORT carries it). */
void flow_fail(struct flow *f, const char *why, enum frame_result result);
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
