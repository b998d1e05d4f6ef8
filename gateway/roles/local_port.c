/* The local-port role: a TCP or UDP port forwarded to one target behind an agent (like ss-tunnel, v2ray dokodemo-door). */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/lib/addr.h"
#include "gateway/lib/listener.h"
#include "gateway/lib/log.h"
#include "gateway/lib/udpsock.h"
#include "local.h"
#include "mqtt/client.h"
#include "roles.h"

#define UDP_READS_PER_EVENT 16

struct port {
	struct evconnlistener *listener; /* tcp */
	int udp_fd;			 /* udp: one socket for every client */
	uint32_t udp_overflows;		 /* its drop count, as the kernel last said */
	struct event *udp_ev;
	bool udp_reading;
};

/* A udp flow's client: replies go to it from the listener's socket. */
struct udp_client {
	struct port *port;
	struct sockaddr_storage addr;
	socklen_t len;
};

static const struct local_port_config *port_cfg(const struct node *n)
{
	return n->role_cfg;
}

static enum mqtt_proto port_stream_proto(const struct node *n)
{
	return port_cfg(n)->kcp ? MQTT_PROTO_KCP : MQTT_PROTO_TCP;
}

static void port_accept_cb(
	struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct node *n = arg;
	(void)l, (void)salen;
	log_set_role(n->name);

	char src[ADDR_STRLEN], pick[NODE_ID_MAX];

	if (!local_can_open(n, fd))
		return;
	addr_format(sa, src, sizeof(src));
	const char *agent = node_pick_agent(n, n->cfg.agent_id, src, strlen(src), pick);
	if (node_peer_offline(n, agent, MQTT_NIL)) {
		log_info("agent %s is offline: connection refused", agent);
		flow_close_reset(fd);
		return;
	}
	struct flow *f = local_open_stream_from(
		n, port_stream_proto(n), sa, agent, port_cfg(n)->target, NULL, 0);
	if (!f) {
		flow_close_reset(fd);
		return;
	}
	flow_attach(f, fd); /* read once the agent has connected */
	flow_open(f);
}

static void udp_reply(struct flow *f, const uint8_t *payload, size_t len)
{
	struct udp_client *c = flow_priv(f);

	if (sendto(c->port->udp_fd, payload, len, 0, (struct sockaddr *)&c->addr, c->len) < 0)
		f->table->stats->udp_dropped++;
}

/* The client's flow: the one it has, or a new one. */
static struct flow *udp_flow(struct node *n, const struct sockaddr_storage *ss, socklen_t sl)
{
	struct port *p = n->role_data;
	char src[ADDR_STRLEN], key[FLOW_KEY_MAX], pick[NODE_ID_MAX];
	const char *target = port_cfg(n)->target;

	addr_format((const struct sockaddr *)ss, src, sizeof(src));
	const char *agent = node_pick_agent(n, n->cfg.agent_id, src, strlen(src), pick);
	flow_key(key, sizeof(key), agent, n->cfg.local_id, MQTT_PROTO_UDP, src, target);
	struct flow *f = flow_table_find(n->flows, key);
	if (f)
		return f;
	f = local_open_flow(n, FLOW_DGRAM_SINK, MQTT_PROTO_UDP, src, agent, target, udp_reply,
		sizeof(struct udp_client));
	if (!f)
		return NULL;
	struct udp_client *c = flow_priv(f);
	c->port = p;
	memcpy(&c->addr, ss, sl);
	c->len = sl;
	flow_attach(f, -1);
	return f;
}

static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	struct port *p = n->role_data;
	uint8_t *buf = n->flows->rbuf;
	(void)what;

	log_set_role(n->name);
	for (int i = 0; i < UDP_READS_PER_EVENT && p->udp_reading; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t r = udpsock_recv(fd, buf, n->flows->rbuf_size, (struct sockaddr *)&ss, &sl,
			&p->udp_overflows, &n->stats.flow.udp_rcvbuf_dropped);
		if (r < 0)
			return;
		if (!mqtt_client_connected(n->mqtt)) {
			n->stats.flow.udp_dropped++;
			continue;
		}
		struct flow *f = udp_flow(n, &ss, sl);
		if (!f)
			continue;
		flow_touch(f);
		flow_up(f, buf, (size_t)r);
	}
}

static int port_listen_udp(struct node *n, struct port *p)
{
	const char *listen = port_cfg(n)->listen;
	struct sockaddr_storage ss;
	socklen_t len;

	if (local_listen_addr(listen, &ss, &len))
		return -EINVAL;
	p->udp_fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->udp_fd < 0 || bind(p->udp_fd, (struct sockaddr *)&ss, len) < 0) {
		log_error("cannot bind udp %s", listen);
		return -errno;
	}
	udpsock_tune(p->udp_fd); /* one socket takes every client's datagrams */
	p->udp_ev = event_new(n->base, p->udp_fd, EV_READ | EV_PERSIST, udp_read_cb, n);
	if (!p->udp_ev)
		return -ENOMEM;
	event_add(p->udp_ev, NULL);
	p->udp_reading = true;
	log_info("listening on udp %s", listen);
	return 0;
}

static void port_on_pause(struct node *n, bool paused)
{
	struct port *p = n->role_data;

	if (!p || !p->udp_ev || p->udp_reading == !paused)
		return;
	if (paused)
		event_del(p->udp_ev);
	else
		event_add(p->udp_ev, NULL);
	p->udp_reading = !paused;
}

static int port_start(struct node *n)
{
	struct port *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->udp_fd = -1;
	n->role_data = p;
	if (port_cfg(n)->udp)
		return port_listen_udp(n, p);
	p->listener = local_listen_tcp(n, port_cfg(n)->listen, port_accept_cb);
	return p->listener ? 0 : -EADDRNOTAVAIL;
}

static void port_stop(struct node *n)
{
	struct port *p = n->role_data;

	if (!p)
		return;
	listener_free(p->listener);
	if (p->udp_ev)
		event_free(p->udp_ev);
	if (p->udp_fd >= 0)
		close(p->udp_fd);
	free(p);
	n->role_data = NULL;
}

const struct role_ops local_port_role = {
	.name = "local-port",
	.config_size = sizeof(struct local_port_config),
	.start = port_start,
	.on_data = local_on_data,
	.on_pause = port_on_pause,
	.on_stop = port_stop,
};
