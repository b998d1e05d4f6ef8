/* The local roles: local-port (a TCP or UDP port forwarded to one target) and local-socks (SOCKS5). */
#include "roles.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/lib/addr.h"
#include "gateway/core/flow.h"
#include "gateway/lib/listener.h"
#include "gateway/lib/log.h"
#include "mqtt/client.h"
#include "socks/socks.h"

#define LISTEN_BACKLOG 4096
#define UDP_READS_PER_EVENT 16
#define LOCAL_UDP_RCVBUF (4 << 20)
#define SOCKS_HANDSHAKE_TIMEOUT_S 10
#define SOCKS_BUF 600 /* greeting (257) + request (262), or the RFC 1929 request (513) alone */

struct local {
	struct evconnlistener *listener; /* tcp */
	int udp_fd;
	struct event *udp_ev;
	bool udp_reading;
	TAILQ_HEAD(, socks_conn) handshakes;
};

static struct local *local_of(struct node *n)
{
	return n->role_data;
}

static int local_listen_addr(struct node *n, struct sockaddr_storage *ss, socklen_t *len)
{
	if (addr_parse(n->cfg.listen, ss, len)) {
		log_warnx("bad listen address %s: want IP:PORT or [IPv6]:PORT", n->cfg.listen);
		return -EINVAL;
	}
	return 0;
}

/* Opens the flow for a client; agent and dst are where it goes. */
struct flow *local_open_flow_named(struct node *n, enum flow_kind kind, enum mqtt_proto proto,
	const char *src, const char *agent, const char *dst)
{
	char key[FLOW_KEY_MAX], topic[MQTT_TOPIC_MAX];
	const char *local = n->cfg.local_id;
	int tlen = mqtt_topic_build(topic, sizeof(topic), n->cfg.url.prefix, agent, local,
		MQTT_LABEL_I, proto, src, dst);
	if (tlen < 0 || node_flow_key(key, sizeof(key), agent, local, proto, src, dst))
		return NULL;
	struct flow *old = flow_find(n, key);
	if (old)
		flow_destroy(old); /* the client reused its address: this is a new flow */
	size_t chunk = node_chunk_for(n, agent, MQTT_NIL, (size_t)tlen);
	struct flow *f = flow_new(n, kind, proto, key, topic, chunk);
	if (f && kind == FLOW_STREAM && proto == MQTT_PROTO_TCP && !node_peer_online(n, agent, MQTT_NIL))
		flow_await_agent(f);
	if (f)
		log_debug("flow %llu: %s %s -> %s via agent %s", (unsigned long long)f->id,
			mqtt_proto_name(proto), src, dst, agent);
	return f;
}

static struct flow *local_open_flow(struct node *n, enum flow_kind kind, enum mqtt_proto proto,
	const struct sockaddr *client, const char *agent, const char *dst)
{
	char src[ADDR_STRLEN];

	if (addr_format(client, src, sizeof(src)))
		return NULL;
	return local_open_flow_named(n, kind, proto, src, agent, dst);
}

static enum mqtt_proto local_stream_proto(struct node *n)
{
	return n->cfg.kcp ? MQTT_PROTO_KCP : MQTT_PROTO_TCP;
}

static bool local_can_open(struct node *n, int fd)
{
	if (mqtt_client_connected(n->mqtt))
		return true;
	log_warnx("%s: broker not connected, refusing a new connection", n->name);
	flow_close_reset(fd);
	return false;
}

static void port_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
	int salen, void *arg)
{
	struct node *n = arg;
	(void)l, (void)salen;

	if (!local_can_open(n, fd))
		return;
	if (node_peer_offline(n, n->cfg.agent_id, MQTT_NIL)) {
		log_info("%s: agent %s is offline: connection refused", n->name, n->cfg.agent_id);
		flow_close_reset(fd);
		return;
	}
	struct flow *f = local_open_flow(n, FLOW_STREAM, local_stream_proto(n), sa,
		n->cfg.agent_id, n->cfg.target);
	if (!f) {
		close(fd);
		return;
	}
	flow_attach(f, fd);
}

static int local_listen_tcp(struct node *n, evconnlistener_cb cb)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (local_listen_addr(n, &ss, &len))
		return -EINVAL;
	local_of(n)->listener = evconnlistener_new_bind(n->base, cb, n,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, LISTEN_BACKLOG,
		(struct sockaddr *)&ss, (int)len);
	if (!local_of(n)->listener) {
		log_warn("%s: cannot listen on %s", n->name, n->cfg.listen);
		return -errno;
	}
	listener_guard(local_of(n)->listener);
	log_info("%s: listening on tcp %s", n->name, n->cfg.listen);
	return 0;
}

static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	(void)what;

	for (int i = 0; i < UDP_READS_PER_EVENT && local_of(n)->udp_reading; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t r = recvfrom(fd, n->rbuf, n->rbuf_size, 0, (struct sockaddr *)&ss, &sl);
		if (r < 0)
			return;
		if (!mqtt_client_connected(n->mqtt)) {
			n->stats.udp_dropped++;
			continue;
		}
		char src[ADDR_STRLEN], key[FLOW_KEY_MAX];
		addr_format((struct sockaddr *)&ss, src, sizeof(src));
		node_flow_key(key, sizeof(key), n->cfg.agent_id, n->cfg.local_id, MQTT_PROTO_UDP,
			src, n->cfg.target);
		struct flow *f = flow_find(n, key);
		if (!f) {
			f = local_open_flow(n, FLOW_DGRAM_SHARED, MQTT_PROTO_UDP,
				(struct sockaddr *)&ss, n->cfg.agent_id, n->cfg.target);
			if (!f)
				continue;
			memcpy(&f->peer, &ss, sl);
			f->peerlen = sl;
			flow_attach(f, fd);
		}
		f->last_active = time(NULL);
		flow_up(f, n->rbuf, (size_t)r);
	}
}

static int local_listen_udp(struct node *n)
{
	struct local *lo = local_of(n);
	struct sockaddr_storage ss;
	socklen_t len;

	if (local_listen_addr(n, &ss, &len))
		return -EINVAL;
	lo->udp_fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lo->udp_fd < 0 || bind(lo->udp_fd, (struct sockaddr *)&ss, len) < 0) {
		log_warn("%s: cannot bind udp %s", n->name, n->cfg.listen);
		return -errno;
	}
	/* one socket takes every client's datagrams: the default buffer (~200 KB)
	 * drops bursts; the kernel caps this at net.core.rmem_max */
	int rcvbuf = LOCAL_UDP_RCVBUF;
	setsockopt(lo->udp_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	lo->udp_ev = event_new(n->base, lo->udp_fd, EV_READ | EV_PERSIST, udp_read_cb, n);
	if (!lo->udp_ev)
		return -ENOMEM;
	event_add(lo->udp_ev, NULL);
	lo->udp_reading = true;
	log_info("%s: listening on udp %s", n->name, n->cfg.listen);
	return 0;
}

void local_on_data(struct node *n, const struct mqtt_topic *t, const uint8_t *payload,
	size_t len)
{
	char key[FLOW_KEY_MAX];
	struct flow *f = NULL;

	if (!node_flow_key(key, sizeof(key), t->agent, t->local, t->proto, t->src, t->dst))
		f = flow_find(n, key);
	if (!f) {
		n->stats.unknown_flow++; /* ended here already, or never ours */
		return;
	}
	flow_input(f, payload, len);
}

static void local_on_pause(struct node *n, bool paused)
{
	struct local *lo = local_of(n);

	if (!lo->udp_ev || lo->udp_reading == !paused)
		return;
	if (paused)
		event_del(lo->udp_ev);
	else
		event_add(lo->udp_ev, NULL);
	lo->udp_reading = !paused;
}

static int local_init(struct node *n)
{
	struct local *lo = calloc(1, sizeof(*lo));

	if (!lo)
		return -ENOMEM;
	lo->udp_fd = -1;
	TAILQ_INIT(&lo->handshakes);
	n->role_data = lo;
	return 0;
}

static int port_start(struct node *n)
{
	if (local_init(n))
		return -ENOMEM;
	return n->cfg.udp ? local_listen_udp(n) : local_listen_tcp(n, port_accept_cb);
}

static void socks_conn_free(struct socks_conn *sc);

static void local_stop(struct node *n)
{
	struct local *lo = local_of(n);

	if (!lo)
		return;
	while (!TAILQ_EMPTY(&lo->handshakes))
		socks_conn_free(TAILQ_FIRST(&lo->handshakes));
	if (lo->listener)
		listener_free(lo->listener);
	if (lo->udp_ev)
		event_free(lo->udp_ev);
	if (lo->udp_fd >= 0)
		close(lo->udp_fd);
	free(lo);
	n->role_data = NULL;
}

const struct role_ops local_port_role = {
	.name = "local-port",
	.start = port_start,
	.on_data = local_on_data,
	.on_pause = local_on_pause,
	.on_stop = local_stop,
};

/* ---- local-socks: a SOCKS5 handshake per client, each on its own events ---- */

/* --socks-user fills these, and socks_secret_equal reads every byte of them */
_Static_assert(sizeof(((struct node_config *)0)->socks_user) == SOCKS_USERPASS_FIELD_MAX + 1 &&
		sizeof(((struct node_config *)0)->socks_pass) == SOCKS_USERPASS_FIELD_MAX + 1,
	"socks_user and socks_pass hold one RFC 1929 field each");

enum socks_state { SC_GREETING, SC_AUTH, SC_REQUEST };

/* What a state did with the bytes at hand. */
enum socks_next {
	SOCKS_WAIT, /* needs more bytes */
	SOCKS_NEXT, /* moved to the next state: run it on what is left */
	SOCKS_GONE, /* sc is freed (refused, failed, or now a flow) */
};

struct socks_conn {
	TAILQ_ENTRY(socks_conn) link;
	struct node *node;
	int fd;
	struct sockaddr_storage client;
	enum socks_state state;
	struct event *ev_read, *ev_timeout;
	uint8_t buf[SOCKS_BUF];
	size_t used;
};

static void socks_conn_free(struct socks_conn *sc)
{
	if (!sc)
		return;
	TAILQ_REMOVE(&local_of(sc->node)->handshakes, sc, link);
	event_free(sc->ev_read);
	event_free(sc->ev_timeout);
	if (sc->fd >= 0)
		close(sc->fd);
	explicit_bzero(sc->buf, sizeof(sc->buf)); /* may hold a password */
	free(sc);
}

/* Best effort: a client that can't take a few bytes is gone or going. */
static bool socks_send(struct socks_conn *sc, const uint8_t *buf, size_t n)
{
	return write(sc->fd, buf, n) == (ssize_t)n;
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

static void socks_consume(struct socks_conn *sc, size_t n)
{
	memmove(sc->buf, sc->buf + n, sc->used - n);
	sc->used -= n;
	explicit_bzero(sc->buf + sc->used, n); /* what moved down may have been a password */
}

static bool socks_auth_required(const struct node *n)
{
	return n->cfg.socks_user[0] != '\0';
}

/* RFC 1928, 3: the one method this server takes, if the client offers it. */
static uint8_t socks_pick_method(const struct node *n, uint32_t offers)
{
	uint8_t m = socks_auth_required(n) ? SOCKS_METHOD_USERPASS : SOCKS_METHOD_NO_AUTH;

	return offers & (1u << m) ? m : SOCKS_METHOD_UNACCEPTABLE;
}

static enum socks_next socks_on_greeting(struct socks_conn *sc)
{
	uint32_t offers;
	int r = socks_parse_greeting(sc->buf, sc->used, &offers);

	if (r == 0)
		return SOCKS_WAIT;
	if (r < 0) {
		socks_refuse(sc, "not SOCKS5");
		return SOCKS_GONE;
	}
	uint8_t method = socks_pick_method(sc->node, offers);
	uint8_t reply[2] = { SOCKS_VERSION, method };
	if (method == SOCKS_METHOD_UNACCEPTABLE) {
		socks_send(sc, reply, sizeof(reply));
		socks_refuse(sc, socks_auth_required(sc->node) ? "no username/password offered"
							       : "no usable method");
		return SOCKS_GONE;
	}
	if (!socks_send(sc, reply, sizeof(reply))) {
		socks_conn_free(sc);
		return SOCKS_GONE;
	}
	socks_consume(sc, (size_t)r);
	sc->state = method == SOCKS_METHOD_USERPASS ? SC_AUTH : SC_REQUEST;
	return SOCKS_NEXT;
}

/* Equal or not, in a time that says nothing about where they differ or how
 * long the configured one is: all SOCKS_USERPASS_FIELD_MAX + 1 bytes of both
 * are read, with no early exit. Past a string's end only its length counts:
 * the two ends must be at the same place. */
static bool socks_secret_equal(const char got[static SOCKS_USERPASS_FIELD_MAX + 1],
	const char want[static SOCKS_USERPASS_FIELD_MAX + 1])
{
	unsigned diff = 0, got_end = 0, want_end = 0;

	for (size_t i = 0; i <= SOCKS_USERPASS_FIELD_MAX; i++) {
		got_end |= got[i] == '\0';
		want_end |= want[i] == '\0';
		unsigned live = (got_end & want_end) - 1; /* all ones until both have ended */
		diff |= (got_end ^ want_end) | ((unsigned)(uint8_t)(got[i] ^ want[i]) & live);
	}
	return diff == 0;
}

static bool socks_userpass_ok(const struct node *n,
	const char user[static SOCKS_USERPASS_FIELD_MAX + 1],
	const char pass[static SOCKS_USERPASS_FIELD_MAX + 1])
{
	/* both compared whatever the first says, so the time doesn't tell which was wrong */
	bool user_ok = socks_secret_equal(user, n->cfg.socks_user);
	bool pass_ok = socks_secret_equal(pass, n->cfg.socks_pass);

	return user_ok && pass_ok;
}

/* A user name as a log line may show it: printable ASCII as is, other bytes as \xNN. */
static void socks_user_shown(const char *user, char *out, size_t size)
{
	size_t o = 0;

	for (const uint8_t *p = (const uint8_t *)user; *p && o + 5 <= size; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", *p);
	}
	out[o] = '\0';
}

/* RFC 1929: the credentials the client sent, against --socks-user. */
static enum socks_next socks_on_auth(struct socks_conn *sc)
{
	char user[SOCKS_USERPASS_FIELD_MAX + 1] = "", pass[SOCKS_USERPASS_FIELD_MAX + 1] = "";
	char shown[4 * SOCKS_USERPASS_FIELD_MAX + 1], why[sizeof(shown) + 64];
	uint8_t reply[SOCKS_USERPASS_REPLY_LEN];

	int r = socks_parse_userpass(sc->buf, sc->used, user, sizeof(user), pass, sizeof(pass));
	if (r == 0)
		return SOCKS_WAIT;
	if (r == -EPROTO) {
		socks_refuse(sc, "malformed username/password request");
		return SOCKS_GONE;
	}
	bool ok = r > 0 && socks_userpass_ok(sc->node, user, pass);
	explicit_bzero(pass, sizeof(pass));
	size_t n = socks_build_userpass_reply(reply, ok);
	if (!ok) {
		/* RFC 1929, 2: after a failure status the server MUST close */
		socks_send(sc, reply, n);
		socks_user_shown(user, shown, sizeof(shown));
		snprintf(why, sizeof(why), "%s for user \"%s\"",
			r == -EINVAL ? "a NUL byte in the username or password"
				     : "wrong username or password",
			shown);
		socks_refuse(sc, why);
		return SOCKS_GONE;
	}
	if (!socks_send(sc, reply, n)) {
		socks_conn_free(sc);
		return SOCKS_GONE;
	}
	socks_consume(sc, (size_t)r);
	sc->state = SC_REQUEST;
	return SOCKS_NEXT;
}

/* The request is complete: reply, and the connection becomes a flow. */
static void socks_connect(struct socks_conn *sc, const struct socks_request *req)
{
	struct node *n = sc->node;
	char agent[MQTT_LEVEL_MAX], dst[MQTT_LEVEL_MAX];
	uint8_t reply[SOCKS_REPLY_LEN];

	if (req->atyp == SOCKS_ATYP_DOMAIN &&
		addr_kxdns_agent(req->host, n->cfg.domain, agent, sizeof(agent))) {
		strcpy(dst, MQTT_NIL); /* kxdns: the agent's default target */
	} else {
		snprintf(agent, sizeof(agent), "%s", n->cfg.agent_id);
		if (socks_request_dst(req, dst, sizeof(dst))) {
			socks_fail(sc, SOCKS_HOST_UNREACHABLE, "destination too long");
			return;
		}
	}
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
	struct flow *f = local_open_flow(n, FLOW_STREAM, local_stream_proto(n),
		(struct sockaddr *)&sc->client, agent, dst);
	if (!f) {
		socks_fail(sc, SOCKS_GENERAL_FAILURE, "cannot open a flow");
		return;
	}
	size_t rlen = socks_build_reply(reply, SOCKS_SUCCEEDED);
	if (write(sc->fd, reply, rlen) != (ssize_t)rlen) {
		flow_close(f, "socks client went away", true);
		socks_conn_free(sc);
		return;
	}
	int fd = sc->fd;
	uint8_t early[SOCKS_BUF];
	size_t nearly = sc->used;
	memcpy(early, sc->buf, nearly);
	sc->fd = -1;
	socks_conn_free(sc);
	flow_attach(f, fd);
	if (nearly && !f->dead)
		flow_up(f, early, nearly);
}

static enum socks_next socks_on_request(struct socks_conn *sc)
{
	struct socks_request req;
	enum socks_reply rep = SOCKS_GENERAL_FAILURE;
	int r = socks_parse_request(sc->buf, sc->used, &req, &rep);

	if (r == 0)
		return SOCKS_WAIT;
	if (r == -ENOTSUP) {
		socks_fail(sc, rep, "unsupported request");
	} else if (r < 0) {
		socks_refuse(sc, "malformed request");
	} else {
		socks_consume(sc, (size_t)r);
		socks_connect(sc, &req);
	}
	return SOCKS_GONE;
}

static enum socks_next (*const socks_states[])(struct socks_conn *) = {
	[SC_GREETING] = socks_on_greeting,
	[SC_AUTH] = socks_on_auth,
	[SC_REQUEST] = socks_on_request,
};

/* Advances the handshake with what has arrived; returns false once sc is gone.
 * Each state only moves forward, so this runs at most once per state. */
static bool socks_step(struct socks_conn *sc)
{
	enum socks_next next;

	do
		next = socks_states[sc->state](sc);
	while (next == SOCKS_NEXT);
	return next == SOCKS_WAIT;
}

static void socks_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct socks_conn *sc = arg;
	(void)what;

	ssize_t r = read(fd, sc->buf + sc->used, sizeof(sc->buf) - sc->used);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0 || (size_t)r == sizeof(sc->buf) - sc->used) {
		socks_conn_free(sc); /* closed, failed, or far more than a handshake */
		return;
	}
	sc->used += (size_t)r;
	socks_step(sc);
}

static void socks_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct socks_conn *sc = arg;
	(void)fd, (void)what;

	log_info("socks: handshake timed out");
	socks_conn_free(sc);
}

static void socks_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
	int salen, void *arg)
{
	struct node *n = arg;
	struct timeval tv = { SOCKS_HANDSHAKE_TIMEOUT_S, 0 };
	(void)l;

	struct socks_conn *sc = calloc(1, sizeof(*sc));
	if (!sc) {
		close(fd);
		return;
	}
	sc->node = n;
	sc->fd = fd;
	memcpy(&sc->client, sa, (size_t)salen < sizeof(sc->client) ? (size_t)salen : sizeof(sc->client));
	sc->ev_read = event_new(n->base, fd, EV_READ | EV_PERSIST, socks_read_cb, sc);
	sc->ev_timeout = evtimer_new(n->base, socks_timeout_cb, sc);
	TAILQ_INSERT_TAIL(&local_of(n)->handshakes, sc, link);
	if (!sc->ev_read || !sc->ev_timeout) {
		socks_conn_free(sc);
		return;
	}
	event_add(sc->ev_read, NULL);
	evtimer_add(sc->ev_timeout, &tv);
}

static int socks_start(struct node *n)
{
	if (local_init(n))
		return -ENOMEM;
	return local_listen_tcp(n, socks_accept_cb);
}

const struct role_ops local_socks_role = {
	.name = "local-socks",
	.start = socks_start,
	.on_data = local_on_data,
	.on_stop = local_stop,
};
