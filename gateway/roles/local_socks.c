/* The local-socks role: a SOCKS5 server whose clients name their destination (like ss-local, v2ray socks). */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "gateway/lib/addr.h"
#include "gateway/lib/listener.h"
#include "gateway/lib/log.h"
#include "local.h"
#include "mqtt/client.h"
#include "roles.h"
#include "socks/handshake.h"

#define SOCKS_HANDSHAKE_TIMEOUT_S 10

/* A client still in its handshake, on its own events. */
struct socks_conn {
	TAILQ_ENTRY(socks_conn) link;
	struct node *node;
	int fd;
	struct sockaddr_storage client;
	struct event *ev_read, *ev_timeout;
	struct socks_handshake hs;
};

struct socks_front {
	struct evconnlistener *listener;
	TAILQ_HEAD(, socks_conn) handshakes;
};

static const struct local_socks_config *socks_cfg(const struct node *n)
{
	return n->role_cfg;
}

static void socks_conn_free(struct socks_conn *sc)
{
	struct socks_front *front = sc->node->role_data;

	TAILQ_REMOVE(&front->handshakes, sc, link);
	event_free(sc->ev_read);
	event_free(sc->ev_timeout);
	if (sc->fd >= 0)
		close(sc->fd);
	socks_handshake_clear(&sc->hs); /* may hold a password */
	free(sc);
}

/* Best effort: a client that can't take a few bytes is gone or going. */
static bool socks_send(void *arg, const uint8_t *p, size_t n)
{
	struct socks_conn *sc = arg;

	return write(sc->fd, p, n) == (ssize_t)n;
}

static void socks_refuse(struct socks_conn *sc, const char *why)
{
	log_info("socks: client refused: %s", why);
	sc->node->stats.refused++;
	socks_conn_free(sc);
}

static void socks_fail(struct socks_conn *sc, enum socks_reply rep, const char *why)
{
	uint8_t reply[SOCKS_REPLY_LEN];

	socks_send(sc, reply, socks_build_reply(reply, rep));
	socks_refuse(sc, why);
}

/* Where the request goes: kxdns names an agent (its default target), else the default agent. */
static int socks_route(struct node *n, const struct socks_request *req, char *agent, char *dst)
{
	if (req->atyp == SOCKS_ATYP_DOMAIN &&
		addr_kxdns_agent(req->host, socks_cfg(n)->domain, agent, MQTT_LEVEL_MAX)) {
		strcpy(dst, MQTT_NIL);
		return 0;
	}
	snprintf(agent, MQTT_LEVEL_MAX, "%s", n->cfg.agent_id);
	return socks_request_dst(req, dst, MQTT_LEVEL_MAX);
}

/* A client waiting for its flow's OPEN to come to something: its socket and the bytes it sent early. */
struct socks_waiting {
	int fd;
	size_t n_early;
	uint8_t early[SOCKS_HANDSHAKE_BUF];
};

/* RFC 1928's word for what the agent's connect came to. */
static enum socks_reply socks_reply_for(enum frame_result r)
{
	switch (r) {
	case FRAME_OK:
		return SOCKS_SUCCEEDED;
	case FRAME_REFUSED:
		return SOCKS_CONN_REFUSED;
	case FRAME_NET_UNREACHABLE:
		return SOCKS_NET_UNREACHABLE;
	case FRAME_HOST_UNREACHABLE:
	case FRAME_NO_NAME:
		return SOCKS_HOST_UNREACHABLE;
	case FRAME_TIMED_OUT:
		return SOCKS_TTL_EXPIRED;
	case FRAME_NOT_ALLOWED:
		return SOCKS_NOT_ALLOWED;
	default:
		return SOCKS_GENERAL_FAILURE;
	}
}

/* The agent connected (or not): the client hears the reply only now, and its
 * connection becomes the flow's. Toward a net4mqtt agent this comes at once. */
static void socks_opened(struct flow *f, enum frame_result result)
{
	struct socks_waiting *w = flow_priv(f);
	uint8_t reply[SOCKS_REPLY_LEN];
	size_t rlen = socks_build_reply(reply, socks_reply_for(result));
	int fd = w->fd;
	bool sent = write(fd, reply, rlen) == (ssize_t)rlen;

	w->fd = -1;
	if (result != FRAME_OK) {
		log_info("socks: %s: %s", f->key, frame_result_str(result));
		close(fd);
		return;
	}
	if (!sent) {
		close(fd);
		flow_close(f, "socks client went away", true);
		return;
	}
	flow_attach(f, fd);
	if (w->n_early && !f->dead)
		flow_up(f, w->early, w->n_early);
}

/* The handshake is complete: the connection becomes a flow, answered once it opens. */
static void socks_request(
	void *arg, const struct socks_request *req, const uint8_t *early_p, size_t n_early)
{
	struct socks_conn *sc = arg;
	struct node *n = sc->node;
	char spec[MQTT_LEVEL_MAX], dst[MQTT_LEVEL_MAX], src[ADDR_STRLEN], pick[NODE_ID_MAX];

	if (socks_route(n, req, spec, dst)) {
		socks_fail(sc, SOCKS_HOST_UNREACHABLE, "destination too long");
		return;
	}
	addr_format((struct sockaddr *)&sc->client, src, sizeof(src));
	const char *agent = node_pick_agent(n, spec, src, strlen(src), pick);
	if (!mqtt_level_valid(agent)) {
		socks_fail(sc, SOCKS_HOST_UNREACHABLE, "bad agent name");
		return;
	}
	if (!mqtt_client_connected(n->mqtt)) {
		socks_fail(sc, SOCKS_NET_UNREACHABLE, "broker not connected");
		return;
	}
	if (node_peer_offline(n, agent, MQTT_NIL)) {
		socks_fail(sc, SOCKS_HOST_UNREACHABLE, "the agent is offline");
		return;
	}
	enum mqtt_proto proto = socks_cfg(n)->kcp ? MQTT_PROTO_KCP : MQTT_PROTO_TCP;
	struct flow *f = local_open_stream_from(n, proto, (struct sockaddr *)&sc->client, agent,
		dst, socks_opened, sizeof(struct socks_waiting));
	if (!f) {
		socks_fail(sc, SOCKS_GENERAL_FAILURE, "cannot open a flow");
		return;
	}
	struct socks_waiting *w = flow_priv(f);
	w->fd = sc->fd;
	w->n_early = n_early < sizeof(w->early) ? n_early : sizeof(w->early);
	memcpy(w->early, early_p, w->n_early);
	sc->fd = -1;
	socks_conn_free(sc);
	flow_open(f);
}

static const struct socks_handshake_ops socks_ops = {
	.send = socks_send,
	.request = socks_request,
};

static void socks_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct socks_conn *sc = arg;
	uint8_t buf[SOCKS_HANDSHAKE_BUF];
	const char *why;
	(void)what;

	log_set_role(sc->node->name);
	ssize_t r = read(fd, buf, sizeof(buf));
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		socks_conn_free(sc); /* closed or failed */
		return;
	}
	switch (socks_handshake_input(&sc->hs, buf, (size_t)r, &why)) {
	case SOCKS_HANDSHAKE_WAIT:
	case SOCKS_HANDSHAKE_DONE: /* sc is a flow now, or gone */
		break;
	case SOCKS_HANDSHAKE_REFUSED:
		socks_refuse(sc, why);
		break;
	case SOCKS_HANDSHAKE_GONE:
		socks_conn_free(sc);
		break;
	}
	explicit_bzero(buf, sizeof(buf));
}

static void socks_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct socks_conn *sc = arg;
	(void)fd, (void)what;

	log_set_role(sc->node->name);
	log_info("socks: handshake timed out");
	socks_conn_free(sc);
}

static void socks_accept_cb(
	struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct node *n = arg;
	struct socks_front *front = n->role_data;
	struct timeval tv = { SOCKS_HANDSHAKE_TIMEOUT_S, 0 };
	(void)l;
	log_set_role(n->name);

	struct socks_conn *sc = calloc(1, sizeof(*sc));
	if (!sc) {
		close(fd);
		return;
	}
	sc->node = n;
	sc->fd = fd;
	memcpy(&sc->client, sa,
		(size_t)salen < sizeof(sc->client) ? (size_t)salen : sizeof(sc->client));
	socks_handshake_init(&sc->hs, &socks_cfg(n)->auth, &socks_ops, sc);
	sc->ev_read = event_new(n->base, fd, EV_READ | EV_PERSIST, socks_read_cb, sc);
	sc->ev_timeout = evtimer_new(n->base, socks_timeout_cb, sc);
	TAILQ_INSERT_TAIL(&front->handshakes, sc, link);
	if (!sc->ev_read || !sc->ev_timeout) {
		socks_conn_free(sc);
		return;
	}
	event_add(sc->ev_read, NULL);
	evtimer_add(sc->ev_timeout, &tv);
}

static int socks_start(struct node *n)
{
	struct socks_front *front = calloc(1, sizeof(*front));

	if (!front)
		return -ENOMEM;
	TAILQ_INIT(&front->handshakes);
	n->role_data = front;
	front->listener = local_listen_tcp(n, socks_cfg(n)->listen, socks_accept_cb);
	return front->listener ? 0 : -EADDRNOTAVAIL;
}

static void socks_stop(struct node *n)
{
	struct socks_front *front = n->role_data;

	if (!front)
		return;
	while (!TAILQ_EMPTY(&front->handshakes))
		socks_conn_free(TAILQ_FIRST(&front->handshakes));
	listener_free(front->listener);
	free(front);
	n->role_data = NULL;
}

static void socks_reloadable(void *dst, const void *src)
{
	struct local_socks_config *d = dst;
	const struct local_socks_config *s = src;

	d->auth = s->auth;
}

const struct role_ops local_socks_role = {
	.name = "local-socks",
	.config_size = sizeof(struct local_socks_config),
	.start = socks_start,
	.on_data = local_on_data,
	.on_stop = socks_stop,
	.reloadable = socks_reloadable,
};
