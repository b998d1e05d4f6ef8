/* What the local-side roles (local-port, local-socks, the gateway) share: opening a flow toward an agent, and what comes back for it. */
#ifndef N4M_LOCAL_H
#define N4M_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gateway/core/flow.h"

struct node;
struct evconnlistener;
struct mqtt_topic;

/* A flow from client src ("ip:port") through agent to dst ("host:port" or
 * "-"), replacing a flow (or tombstone) with the same addresses. A stream (tcp,
 * kcp) to an agent that speaks our stream frames becomes tcpx or kcpx; one to
 * an agent not known online gets FLOW_AGENT_SILENCE_S. The caller opens a
 * stream with flow_open. NULL: over a limit, a name too long, or no memory. */
struct flow *local_open_flow(struct node *n, enum flow_kind kind, enum mqtt_proto proto,
	const char *src, const char *agent, const char *dst, flow_sink_fn *sink, size_t priv_size);
/* The protocol a stream toward agent uses: tcpx or kcpx when it speaks our frames. */
enum mqtt_proto local_stream_proto(struct node *n, const char *agent, enum mqtt_proto proto);
/* The same with a callback for the OPEN's result (flow_open_fn). */
struct flow *local_open_stream(struct node *n, enum mqtt_proto proto, const char *src,
	const char *agent, const char *dst, flow_open_fn *on_open, size_t priv_size);
/* A stream for a client's socket address. */
struct flow *local_open_stream_from(struct node *n, enum mqtt_proto proto,
	const struct sockaddr *client, const char *agent, const char *dst, flow_open_fn *on_open,
	size_t priv_size);
/* What every local does with data from MQTT: hand it to its flow. */
void local_on_data(struct node *n, const struct mqtt_topic *t, const uint8_t *payload, size_t len);
/* Whether a new client may be served now (the broker is connected); if not, resets fd. */
bool local_can_open(struct node *n, int fd);
/* The socket address of a listen option (IP:PORT, [IPv6]:PORT); -EINVAL, said why. */
int local_listen_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len);
/* A guarded TCP listener on addr (IP:PORT) for n's clients, or NULL (said why). */
struct evconnlistener *local_listen_tcp(struct node *n, const char *addr,
	void (*accept)(struct evconnlistener *, int, struct sockaddr *, int, void *));

#endif
