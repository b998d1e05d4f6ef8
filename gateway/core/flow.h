/* A flow: one (agent, local, protocol, src, dst) between a socket and MQTT, with its buffers and teardown. */
#ifndef N4M_FLOW_H
#define N4M_FLOW_H

#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "node.h"

struct evbuffer;
struct evutil_addrinfo;
struct kcp;

#define FLOW_OUT_CAP (16u << 20) /* bytes waiting for a slow socket before the flow is ended */
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

enum flow_kind {
	FLOW_STREAM,	  /* tcp: a connected socket of its own */
	FLOW_DGRAM,	  /* udp at the agent: a connected socket of its own */
	FLOW_DGRAM_SHARED, /* udp at a local: the listener's socket, replies go to `peer` */
	FLOW_DGRAM_TUN	   /* udp at the gateway: replies are built as packets from `origin` to `peer` */
};

struct flow {
	TAILQ_ENTRY(flow) link;
	struct node *node;
	uint64_t id;
	enum flow_kind kind;
	enum mqtt_proto proto;
	char key[FLOW_KEY_MAX];
	char topic[MQTT_TOPIC_MAX]; /* where this side publishes */
	size_t chunk;		    /* largest payload per publish */
	int fd;
	struct sockaddr_storage peer;	/* the client */
	struct sockaddr_storage origin; /* gateway flows: the destination the client addressed */
	socklen_t peerlen;
	struct event ev_read, ev_write, ev_timer;
	struct evbuffer *out; /* for the socket: stream bytes, or length-prefixed datagrams */
	struct evutil_addrinfo *ai_head, *ai_next;
	bool events_ready, reading, writing;
	bool resolving, connecting, rd_eof, wr_eof, wr_shut, dead, lingering;
	struct kcp *kcp;     /* kcp flows only */
	struct event ev_kcp; /* armed only while KCP has something to time */
	bool kcp_timer, eof_pending, end_sent;
	bool awaiting_agent; /* FLOW_AGENT_SILENCE_S is running */
	uint32_t eof_since_ms, kcp_heard_ms;
	time_t last_active;
	uint64_t opened_ms; /* node_now_ms() */
	struct timeval last_abort; /* when a tombstone last repeated the end signal */
	unsigned long long bytes_up, bytes_down; /* socket -> MQTT, MQTT -> socket */
};

struct flow *flow_new(struct node *n, enum flow_kind kind, enum mqtt_proto proto,
	const char *key, const char *topic, size_t chunk);
/* Starts a flow on a connected socket (stream accepted by a local). */
void flow_attach(struct flow *f, int fd);
/* Connects to each address in turn; takes ownership of ai. */
void flow_connect(struct flow *f, struct evutil_addrinfo *ai);
/* Arms FLOW_AGENT_SILENCE_S: a local's tcp flow to an agent not known online. */
void flow_await_agent(struct flow *f);
/* A payload that arrived from MQTT for this flow. */
void flow_input(struct flow *f, const uint8_t *payload, size_t len);
/* Publishes bytes the flow's client sent (a datagram, or stream bytes in chunks). */
void flow_up(struct flow *f, const uint8_t *payload, size_t len);
/* Publishes on the flow's topic; on failure the flow is closed and < 0 returned. */
int flow_publish(struct flow *f, const void *p, size_t len);
void flow_update_read(struct flow *f);
/* Writes to the socket what it takes, queueing the rest (capped); 0, or < 0 if the flow ended. */
int flow_write_down(struct flow *f, const uint8_t *p, size_t len);
/* Both directions ended (and the end signal went out): close. */
void flow_check_done(struct flow *f);
/* The receiving direction is complete: shut the socket's sending side once its queue is empty. */
void flow_down_finished(struct flow *f);

/* The one teardown: tells the peer (unless it already knows), closes the socket, and
 * frees the flow from the loop (at once, or after lingering): f stays readable
 * (f->dead) until the caller returns to the loop. */
void flow_close(struct flow *f, const char *why, bool error);

/* Ends a flow (or a tombstone) and frees it at once: a new flow takes its key. */
void flow_destroy(struct flow *f);
/* At exit: frees every flow, lingering ones too, without telling peers. */
void flow_destroy_all(struct node *n);

/* Closes a TCP socket with a reset, so its peer sees an error rather than an end of stream. */
void flow_close_reset(int fd);

struct flow *flow_find(struct node *n, const char *key);
void flow_pause_all(struct node *n, bool paused);
void flow_close_all(struct node *n, const char *why, const char *only_peer_agent,
	const char *only_peer_local);

#endif
