/* A flow: one (agent, local, protocol, src, dst) between a socket and MQTT, with its buffers and teardown. */
#include "flow.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/lib/addr.h"
#include "gateway/lib/clock.h"
#include "gateway/lib/log.h"
#include "gateway/lib/map.h"
#include "gateway/lib/ping.h"
#include "gateway/lib/udpsock.h"
#include "flowseal.h"
#include "kcpflow.h"
#include "status.h"

#define READS_PER_EVENT 4 /* bounded drain so one busy socket can't starve the rest */
#define DGRAM_READS_PER_EVENT 16

static void flow_read_cb(evutil_socket_t fd, short what, void *arg);
static void flow_write_cb(evutil_socket_t fd, short what, void *arg);
static void flow_timer_cb(evutil_socket_t fd, short what, void *arg);
static void flow_flush(struct flow *f);
static void flow_update_read(struct flow *f);
static int flow_write_down(struct flow *f, const uint8_t *p, size_t len);
static void flow_check_done(struct flow *f);
static void flow_down_finished(struct flow *f);
static int flow_publish(struct flow *f, const void *p, size_t len);
static int flow_send_frame(
	struct flow *f, enum frame_type type, uint64_t off, enum frame_result code);
static void flow_frame_cb(evutil_socket_t fd, short what, void *arg);
static void flow_frame_schedule(struct flow *f);
static void flow_grant(struct flow *f);
static void flow_input_frame(struct flow *f, const uint8_t *p, size_t len);
static void flow_tombstone_frame(struct flow *f, const uint8_t *p, size_t len);
static const struct kcpflow_ops flow_kcp_ops;

int flow_key(char *buf, size_t len, const char *agent, const char *local, enum mqtt_proto proto,
	const char *src, const char *dst)
{
	int n = snprintf(
		buf, len, "%s/%s/%s/%s/%s", agent, local, mqtt_proto_name(proto), src, dst);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* One allocation: the flow, its role's bytes, then its key and topic. */
static struct flow *flow_alloc(const struct flow_spec *spec)
{
	size_t priv = (spec->priv_size + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
	size_t klen = strlen(spec->key) + 1, tlen = strlen(spec->topic) + 1;
	struct flow *f = calloc(1, sizeof(*f) + priv + klen + tlen);

	if (!f)
		return NULL;
	char *key = (char *)f->priv + priv, *topic = key + klen;
	memcpy(key, spec->key, klen);
	memcpy(topic, spec->topic, tlen);
	f->key = key;
	f->topic = topic;
	return f;
}

static int flow_kcp_init(struct flow *f)
{
	struct flow_table *t = f->table;

	size_t mtu = f->framed ? f->chunk - 1 : f->chunk; /* a framed one after its 'K' */

	return kcpflow_new(t->base, f->chunk > STATUS_COMPAT_PACKET, mtu, t->rbuf, t->rbuf_size,
		&flow_kcp_ops, f, &f->kcp);
}

uint64_t flow_window(const struct flow_table *t)
{
	unsigned busy = t->busy_now > t->busy_prev ? t->busy_now : t->busy_prev;
	uint64_t w = busy ? FLOW_WINDOW_BUDGET / busy : FLOW_WINDOW;

	return w > FLOW_WINDOW ? FLOW_WINDOW : w < FLOW_WINDOW_MIN ? FLOW_WINDOW_MIN : w;
}

struct flow *flow_new(struct flow_table *t, const struct flow_spec *spec)
{
	struct flow *f;

	if (!flow_table_admit(t) || !(f = flow_alloc(spec)))
		return NULL;
	f->table = t;
	f->id = ++t->next_id;
	f->kind = spec->kind;
	f->proto = spec->proto;
	f->fd = -1;
	f->chunk = spec->chunk;
	f->sink = spec->sink;
	f->on_open = spec->on_open;
	f->framed = mqtt_proto_is_framed(spec->proto);
	f->last_active = time(NULL);
	f->opened_ms = f->heard_ms = clock_ms();
	if (f->framed && f->proto == MQTT_PROTO_TCPX)
		f->rcv_granted = flow_window(t);
	if (mqtt_proto_is_kcp(f->proto) && flow_kcp_init(f))
		goto err_free;
	if (map_put(t->index, f->key, f))
		goto err_kcp;
	TAILQ_INSERT_TAIL(&t->list, f, link);
	evtimer_assign(&f->ev_timer, t->base, flow_timer_cb, f);
	evtimer_assign(&f->ev_frame, t->base, flow_frame_cb, f);
	t->stats->opened++;
	log_debug("flow %llu: new %s %s", (unsigned long long)f->id, mqtt_proto_name(f->proto),
		f->key);
	return f;

err_kcp:
	kcpflow_free(f->kcp);
err_free:
	free(f);
	return NULL;
}

void flow_touch(struct flow *f)
{
	f->last_active = time(NULL);
}

size_t flow_queued(const struct flow *f)
{
	return f->out ? evbuffer_get_length(f->out) : 0;
}

/* The queue for the socket, made when the first bytes wait: most flows never
 * queue any (the socket takes what comes). 0 or -ENOMEM. */
static int flow_make_queue(struct flow *f)
{
	return f->out || (f->out = evbuffer_new()) ? 0 : -ENOMEM;
}

static int flow_queue(struct flow *f, const void *p, size_t len)
{
	return flow_make_queue(f) || evbuffer_add(f->out, p, len) ? -ENOMEM : 0;
}

/* Streams and the agent's datagram flows have a socket of their own. */
static bool flow_owns_fd(const struct flow *f)
{
	return f->kind == FLOW_STREAM || f->kind == FLOW_DGRAM;
}

/* A tcpx flow may send only inside the window its peer granted. */
static bool flow_may_send(const struct flow *f)
{
	return f->opening == FLOW_OPEN_DONE &&
	       (f->proto != MQTT_PROTO_TCPX ||
		       (f->snd_off < f->snd_limit &&
			       f->snd_msgs - f->acked_msgs < FLOW_WINDOW_MSGS));
}

static bool flow_wants_read(const struct flow *f)
{
	return f->events_ready && !f->dead && !f->rd_eof && !f->connecting && !f->table->paused &&
	       flow_owns_fd(f) && flow_may_send(f) && (!f->kcp || kcpflow_wants_more(f->kcp));
}

static void flow_update_read(struct flow *f)
{
	bool want = flow_wants_read(f);

	if (want == f->reading)
		return;
	if (want)
		event_add(&f->ev_read, NULL);
	else
		event_del(&f->ev_read);
	f->reading = want;
}

static void flow_set_writing(struct flow *f, bool want)
{
	if (want == f->writing || !f->events_ready)
		return;
	if (want)
		event_add(&f->ev_write, NULL);
	else
		event_del(&f->ev_write);
	f->writing = want;
}

static void flow_arm_idle(struct flow *f)
{
	struct timeval tv = { f->table->limits.udp_timeout_s, 0 };
	evtimer_add(&f->ev_timer, &tv);
}

static void flow_events_init(struct flow *f)
{
	struct event_base *base = f->table->base;

	event_assign(&f->ev_read, base, f->fd, EV_READ | EV_PERSIST, flow_read_cb, f);
	event_assign(&f->ev_write, base, f->fd, EV_WRITE | EV_PERSIST, flow_write_cb, f);
	f->events_ready = true;
}

void flow_attach(struct flow *f, int fd)
{
	int one = 1;

	if (f->awaiting_socket) {
		f->awaiting_socket = false;
		evtimer_del(&f->ev_timer);
	}
	f->fd = fd;
	if (fd >= 0)
		evutil_make_socket_nonblocking(fd);
	if (f->kind == FLOW_STREAM)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (flow_owns_fd(f))
		flow_events_init(f);
	if (f->kind != FLOW_STREAM)
		flow_arm_idle(f);
	if (f->opening == FLOW_OPEN_CONNECTING) {
		f->opening = FLOW_OPEN_DONE;
		if (flow_send_frame(f, FRAME_RESULT, f->rcv_granted, FRAME_OK))
			return;
		flow_frame_schedule(f);
	}
	flow_update_read(f);
	flow_flush(f);
}

static enum frame_result result_of_errno(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return FRAME_REFUSED;
	case ENETUNREACH:
	case ENETDOWN:
		return FRAME_NET_UNREACHABLE;
	case EHOSTUNREACH:
	case EHOSTDOWN:
		return FRAME_HOST_UNREACHABLE;
	case ETIMEDOUT:
		return FRAME_TIMED_OUT;
	case EACCES:
	case EPERM:
		return FRAME_NOT_ALLOWED;
	}
	return FRAME_FAILED;
}

/* An icmp flow's socket: errno set and -1 if none. */
static int flow_ping_socket(struct flow *f, int family)
{
	enum ping_kind kind = PING_NONE;
	int fd = ping_socket(family, &kind);

	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	f->ping_kind = (uint8_t)kind;
	f->ping_family = family;
	evutil_secure_rng_get_bytes(&f->ping_id, sizeof(f->ping_id));
	return fd;
}

/* Tries the next address; the write event reports the outcome. */
static void flow_connect_next(struct flow *f)
{
	struct timeval tv = { FLOW_CONNECT_TIMEOUT_S, 0 };

	while (f->ai_next) {
		struct evutil_addrinfo *ai = f->ai_next;
		f->ai_next = ai->ai_next;
		int type = f->kind == FLOW_STREAM ? SOCK_STREAM : SOCK_DGRAM;
		int fd = f->proto == MQTT_PROTO_ICMP
				 ? flow_ping_socket(f, ai->ai_family)
				 : socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0 && type == SOCK_DGRAM)
			udpsock_tune(fd); /* a server's burst of replies */
		if (fd < 0) {
			f->connect_err = errno; /* the close line says why, not "no address" */
			if (errno == EMFILE || errno == ENFILE) {
				flow_table_out_of_fds(f->table, errno);
				break; /* the next address would fare no better */
			}
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			f->connecting = false;
			evtimer_del(&f->ev_timer);
			flow_attach(f, fd);
			return;
		}
		if (errno == EINPROGRESS) {
			f->fd = fd;
			f->connecting = true;
			flow_events_init(f);
			flow_set_writing(f, true);
			evtimer_add(&f->ev_timer, &tv);
			return;
		}
		f->connect_err = errno;
		log_debug("flow %llu: connect: %s", (unsigned long long)f->id, strerror(errno));
		close(fd);
	}
	char why[160], tried[ADDR_STRLEN] = "the destination";
	int more = -1;
	for (const struct evutil_addrinfo *ai = f->ai_head; ai; ai = ai->ai_next, more++)
		if (!ai->ai_next)
			addr_format(ai->ai_addr, tried, sizeof(tried));
	snprintf(why, sizeof(why), "cannot connect to %s%s: %s", tried,
		more > 0 ? " (and the name's other addresses)" : "",
		f->connect_err ? strerror(f->connect_err) : "no address");
	flow_fail(f, why, result_of_errno(f->connect_err));
}

void flow_connect(struct flow *f, struct evutil_addrinfo *ai)
{
	f->resolving = false;
	f->ai_head = f->ai_next = ai;
	flow_connect_next(f);
}

static void flow_connect_done(struct flow *f)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS)
		return;
	flow_set_writing(f, false);
	f->events_ready = false;
	if (err) {
		f->connect_err = err;
		log_debug("flow %llu: connect: %s", (unsigned long long)f->id, strerror(err));
		close(f->fd);
		f->fd = -1;
		flow_connect_next(f);
		return;
	}
	evtimer_del(&f->ev_timer);
	f->connecting = false;
	evutil_freeaddrinfo(f->ai_head);
	f->ai_head = f->ai_next = NULL;
	flow_attach(f, f->fd);
}

/* Both directions ended (and the end signal went out, and was acknowledged if framed): close. */
static void flow_check_done(struct flow *f)
{
	if (f->rd_eof && f->end_sent && f->wr_shut && (!f->framed || f->end_acked))
		flow_close(f, "both directions ended", false);
}

_Static_assert(FLOW_RBUF_SIZE <= FLOWSEAL_PLAIN_MAX, "a read buffer's message fits the seal");

void flow_table_seal_io(
	struct flow_table *t, const char *topic, bool framed, struct flowseal_io *io)
{
	struct flow_stats *st = t->stats;

	*io = (struct flowseal_io){
		.publish = t->publish,
		.publish_arg = t->publish_arg,
		.topic = topic,
		.framed = framed,
		.now_ms = clock_ms(),
		.bad = &st->sealed_bad,
		.replayed = &st->sealed_replayed,
		.early = &st->sealed_early,
		.dgram_dropped = &st->udp_dropped,
	};
}

/* An encrypted flow's seal: where its messages go, what it counts. */
static void flow_seal_io(const struct flow *f, struct flowseal_io *io)
{
	flow_table_seal_io(f->table, f->topic, f->framed, io);
}

/* One message on the flow's topic, through its table's publisher (sealed, for an
 * encrypted flow): 0 or -errno, nothing else. */
static int flow_emit(struct flow *f, const void *p, size_t len)
{
	struct flowseal_io io;

	if (!f->seal)
		return f->table->publish(f->table->publish_arg, f->topic, p, len);
	flow_seal_io(f, &io);
	return flowseal_emit(f->seal, &io, p, len);
}

/* The seal made for f: its wire key names f in the index too. 0 or -ENOMEM. */
static int flow_seal_attach(struct flow *f, struct flow_seal *fs)
{
	if (!fs)
		return -ENOMEM;
	if (map_put(f->table->index, flowseal_wire_key(fs), f)) {
		flowseal_free(fs);
		return -ENOMEM;
	}
	f->table->aliases++;
	f->seal = fs;
	return 0;
}

/* Level idx of a flow key ("AGENT/LOCAL/PROTO/SRC/DST") into out, or false. */
static bool key_part(const char *key, int idx, char *out, size_t cap)
{
	size_t len;
	const char *level = mqtt_level_at(key, idx, &len);

	if (!level || len >= cap)
		return false;
	memcpy(out, level, len);
	out[len] = '\0';
	return true;
}

int flow_seal_initiate(struct flow *f, const struct key_pair *self, const uint8_t peer_pub[KEY_LEN],
	const char *wire_key)
{
	char src[MQTT_LEVEL_MAX], dst[MQTT_LEVEL_MAX];

	if (!key_part(f->key, 3, src, sizeof(src)) || !key_part(f->key, 4, dst, sizeof(dst)))
		return -EINVAL;
	return flow_seal_attach(
		f, flowseal_initiator(self, peer_pub, wire_key, f->proto, src, dst));
}

int flow_seal_respond(struct flow *f, struct seal *s, const char *wire_key)
{
	struct flowseal_io io;
	int err = flow_seal_attach(f, flowseal_responder(s, wire_key));

	if (err)
		return err;
	flow_seal_io(f, &io);
	return flowseal_reply(f->seal, &io);
}

const uint8_t *flow_seal_peer(const struct flow *f)
{
	return f->seal ? flowseal_peer(f->seal) : NULL;
}

static void flow_seal_drop(struct flow *f)
{
	struct flow_table *t = f->table;

	if (!f->seal)
		return;
	if (map_get(t->index, flowseal_wire_key(f->seal)) == f) {
		map_del(t->index, flowseal_wire_key(f->seal));
		t->aliases--;
	}
	flowseal_free(f->seal);
	f->seal = NULL;
}

/* Why a flow ends when a message of it could not go out. */
static const char *publish_failed(int err)
{
	if (err == -ENOTCONN)
		return "broker connection lost";
	if (err == -ETIMEDOUT) /* flowseal_emit */
		return "the agent never answered the encrypted open";
	return "publish failed";
}

/* Publishes on the flow's topic; on failure the flow is closed and < 0 returned. */
static int flow_publish(struct flow *f, const void *p, size_t len)
{
	int err = flow_emit(f, p, len);

	if (err) {
		flow_close(f, publish_failed(err), true);
		return err;
	}
	f->bytes_up += len;
	f->table->stats->stream_up += len;
	f->last_active = time(NULL);
	if (len == 0)
		f->end_sent = true;
	return 0;
}

/* Stream bytes from the socket into KCP. */
static void flow_kcp_up(struct flow *f, const uint8_t *p, size_t len)
{
	if (kcpflow_send(f->kcp, p, len)) {
		flow_close(f, "out of memory", true);
		return;
	}
	f->bytes_up += len;
	f->table->stats->stream_up += len;
	flow_update_read(f);
}

/* The socket ended its stream: say so, at once (tcp) or once the peer has everything (kcp). */
static void flow_read_eof(struct flow *f)
{
	f->rd_eof = true;
	flow_update_read(f);
	log_debug("flow %llu: socket ended its stream", (unsigned long long)f->id);
	if (!f->framed && f->bytes_up == 0 && f->bytes_down == 0 && f->table->is_local) {
		/* toward a net4mqtt agent, which opens a flow on its first data: nothing to end there */
		f->end_sent = true;
		flow_close(f, "closed before sending anything", false);
		return;
	}
	if (f->kcp) {
		kcpflow_end(f->kcp);
		return;
	}
	if (f->framed) {
		f->end_sent = true;
		f->end_ms = clock_ms();
		if (flow_send_frame(f, FRAME_END, f->snd_off, FRAME_OK))
			return;
		flow_frame_schedule(f);
		return;
	}
	if (flow_publish(f, "", 0))
		return;
	flow_check_done(f);
}

/* tcpx: stream bytes, already at rbuf + FRAME_DATA_HDR, go out as one DATA frame. */
static int flow_publish_data(struct flow *f, uint8_t *frame, size_t len)
{
	struct frame fr = { .type = FRAME_DATA, .off = f->snd_off };

	frame_header(frame, &fr);
	int err = flow_emit(f, frame, FRAME_DATA_HDR + len);
	if (err) {
		flow_close(f, publish_failed(err), true);
		return err;
	}
	f->snd_off += len;
	f->bytes_up += len;
	f->table->stats->stream_up += len;
	f->last_active = time(NULL);
	f->snd_msgs++;
	if (!flow_may_send(f)) {
		flow_update_read(f);
		flow_frame_schedule(f); /* blocked: probe if no window comes */
	}
	return 0;
}

/* How much one read may take: a message's worth, and for tcpx what the window leaves. */
static size_t flow_read_size(const struct flow *f, size_t *skip)
{
	size_t room = f->table->rbuf_size, want = f->chunk;

	*skip = f->proto == MQTT_PROTO_TCPX ? FRAME_DATA_HDR : 0;
	room -= *skip;
	want -= *skip;
	if (want > room)
		want = room;
	if (*skip && f->snd_limit - f->snd_off < want)
		want = (size_t)(f->snd_limit - f->snd_off);
	return want;
}

static void flow_read_stream(struct flow *f)
{
	struct flow_table *t = f->table;

	for (int i = 0; i < READS_PER_EVENT && f->reading; i++) {
		size_t skip, want = flow_read_size(f, &skip);
		ssize_t r = read(f->fd, t->rbuf + skip, want);
		if (r > 0) {
			if (f->kcp)
				flow_kcp_up(f, t->rbuf, (size_t)r);
			else if (skip && flow_publish_data(f, t->rbuf, (size_t)r))
				return;
			else if (!skip && flow_publish(f, t->rbuf, (size_t)r))
				return;
			if ((size_t)r < want)
				return; /* drained: spare the read that would say EAGAIN */
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r < 0) {
			flow_close(f, strerror(errno), true);
			return;
		}
		flow_read_eof(f);
		return;
	}
}

static void flow_read_dgram(struct flow *f)
{
	struct flow_table *t = f->table;

	for (int i = 0; i < DGRAM_READS_PER_EVENT && f->reading; i++) {
		ssize_t r = udpsock_recv(f->fd, t->rbuf, t->rbuf_size, NULL, NULL, &f->overflows,
			&t->stats->udp_rcvbuf_dropped);
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED)
				flow_close(f, strerror(errno), true);
			return;
		}
		if (f->proto != MQTT_PROTO_ICMP) {
			flow_up(f, t->rbuf, (size_t)r);
			continue;
		}
		ssize_t rest =
			ping_reply(t->rbuf, (size_t)r, f->ping_family, f->ping_kind, f->ping_id);
		if (rest >= 0)
			flow_up(f, t->rbuf + rest, (size_t)(r - rest));
	}
}

void flow_up(struct flow *f, const uint8_t *payload, size_t len)
{
	if (f->kcp) {
		flow_kcp_up(f, payload, len);
		return;
	}
	if (f->proto == MQTT_PROTO_TCPX) {
		/* a SOCKS client's early bytes, a few hundred at most: well inside the window
		 * the agent grants, even before this side has heard it */
		size_t most = f->chunk - FRAME_DATA_HDR, skip = FRAME_DATA_HDR;
		while (len > 0 && !f->dead) {
			size_t n = len < most ? len : most;
			memcpy(f->table->rbuf + skip, payload, n);
			if (flow_publish_data(f, f->table->rbuf, n))
				return;
			payload += n;
			len -= n;
		}
		return;
	}
	if (f->kind == FLOW_STREAM) {
		while (len > 0 && !f->dead) {
			size_t n = len < f->chunk ? len : f->chunk;
			if (flow_publish(f, payload, n))
				return;
			payload += n;
			len -= n;
		}
		return;
	}
	if (len > f->chunk) {
		f->table->stats->udp_dropped++;
		log_debug("flow %llu: %zu-byte datagram exceeds the peer's %zu, dropped",
			(unsigned long long)f->id, len, f->chunk);
		return;
	}
	flow_publish(f, payload, len);
}

static void flow_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;
	log_set_role(f->table->name);
	(void)fd, (void)what;

	if (f->kind == FLOW_STREAM)
		flow_read_stream(f);
	else
		flow_read_dgram(f);
}

static void flow_flush_stream(struct flow *f)
{
	while (flow_queued(f) > 0) {
		int w = evbuffer_write(f->out, f->fd);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			flow_close(f, strerror(errno), true);
			return;
		}
	}
	bool pending = flow_queued(f) > 0;
	flow_set_writing(f, pending);
	flow_grant(f);
	if (pending)
		return;
	if (f->kcp)
		kcpflow_deliver(f->kcp); /* room again: take more from KCP */
	flow_down_finished(f);
}

/* The receiving direction is complete: shut the socket's sending side once its queue is empty. */
static void flow_down_finished(struct flow *f)
{
	if (f->dead || !f->wr_eof || f->wr_shut || f->fd < 0 || f->connecting)
		return;
	if (flow_queued(f) > 0 || (f->kcp && !kcpflow_drained(f->kcp)))
		return;
	shutdown(f->fd, SHUT_WR);
	f->wr_shut = true;
	flow_check_done(f);
}

/* A datagram to the flow's socket: as it is, or for icmp as an echo request. */
static void flow_send_dgram(struct flow *f, const uint8_t *p, size_t len)
{
	static uint8_t echo[PING_HLEN + UINT16_MAX];

	if (f->proto == MQTT_PROTO_ICMP) {
		ssize_t n = ping_request(echo, sizeof(echo), f->ping_family, f->ping_id, p, len);
		if (n < 0) {
			f->table->stats->udp_dropped++;
			return;
		}
		p = echo;
		len = (size_t)n;
	}
	if (send(f->fd, p, len, 0) < 0)
		f->table->stats->udp_dropped++;
}

/* Datagrams wait in `out` as a 2-byte length and the bytes, until connected. */
static void flow_flush_dgram(struct flow *f)
{
	uint8_t *buf = f->table->rbuf;
	uint16_t len;

	while (flow_queued(f) > 0 && evbuffer_remove(f->out, &len, sizeof(len)) == sizeof(len)) {
		evbuffer_remove(f->out, buf, len);
		flow_send_dgram(f, buf, len);
	}
}

static void flow_flush(struct flow *f)
{
	if (f->fd < 0 || f->connecting || f->dead)
		return;
	if (f->kind == FLOW_STREAM)
		flow_flush_stream(f);
	else if (f->kind == FLOW_DGRAM)
		flow_flush_dgram(f);
}

static void flow_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;
	log_set_role(f->table->name);
	(void)fd, (void)what;

	if (f->connecting)
		flow_connect_done(f);
	else
		flow_flush(f);
}

/* Writes to the socket what it takes, queueing the rest (capped); 0, or < 0 if the flow ended. */
static int flow_write_down(struct flow *f, const uint8_t *p, size_t len)
{
	if (flow_queued(f) == 0 && f->fd >= 0 && !f->connecting) {
		ssize_t w = write(f->fd, p, len); /* the common case: no copy */
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			flow_close(f, strerror(errno), true);
			return -EPIPE;
		}
		if (w > 0) {
			p += w;
			len -= (size_t)w;
		}
		if (len == 0)
			return 0;
	}
	size_t cap = flow_table_cap(f->table, flow_queued(f) + len);
	if (flow_queued(f) + len > cap) {
		f->table->stats->overflowed++;
		flow_close(f,
			cap < FLOW_OUT_CAP ? "destination too slow: 1 MiB queued while the heap is "
					     "over --max-memory"
					   : "destination too slow: send buffer over its cap",
			true);
		return -ENOBUFS;
	}
	if (flow_queue(f, p, len)) {
		flow_close(f, "out of memory", true);
		return -ENOMEM;
	}
	flow_flush(f);
	return f->dead ? -EPIPE : 0;
}

static void flow_input_stream(struct flow *f, const uint8_t *p, size_t len)
{
	if (len == 0 && f->wr_eof) {
		/* a second end signal: the peer ended the flow with an error */
		flow_close(f, "peer aborted the flow", true);
		return;
	}
	if (len == 0) {
		f->wr_eof = true;
		if (f->kcp)
			kcpflow_deliver(f->kcp);
		flow_down_finished(f);
		return;
	}
	if (f->kcp) {
		if (kcpflow_input(f->kcp, p, len))
			f->table->stats->bad_payload++;
		flow_down_finished(f);
		return;
	}
	if (f->wr_eof) {
		f->table->stats->bad_payload++;
		return; /* data after the end of the stream */
	}
	f->bytes_down += len;
	f->table->stats->stream_down += len;
	flow_write_down(f, p, len);
}

static void flow_input_dgram(struct flow *f, const uint8_t *p, size_t len)
{
	f->bytes_down += len;
	f->table->stats->stream_down += len;
	if (f->kind == FLOW_DGRAM_SINK) {
		f->sink(f, p, len);
		return;
	}
	if (f->fd >= 0 && !f->connecting) {
		flow_send_dgram(f, p, len);
		return;
	}
	uint16_t l = (uint16_t)len;
	if (len > UINT16_MAX || flow_queued(f) + len > FLOW_DGRAM_QUEUE_MAX || flow_make_queue(f) ||
		evbuffer_expand(f->out, sizeof(l) + len)) {
		f->table->stats->udp_dropped++;
		return;
	}
	evbuffer_add(f->out, &l, sizeof(l)); /* room made above: both or neither */
	evbuffer_add(f->out, p, len);
}

/* Data for a flow this side ended with an error: say so again, at a bounded rate. */
static void flow_tombstone_input(struct flow *f, size_t len)
{
	struct flow_table *t = f->table;
	struct timeval now, diff;

	if (len == 0 || mqtt_proto_is_dgram(f->proto) || !f->lingering)
		return;
	t->stats->unknown_flow++;
	event_base_gettimeofday_cached(t->base, &now);
	timersub(&now, &f->last_abort, &diff);
	if (diff.tv_sec == 0 && diff.tv_usec < FLOW_ABORT_REPEAT_MS * 1000)
		return;
	f->last_abort = now;
	flow_emit(f, "", 0);
}

void flow_await_socket(struct flow *f)
{
	struct timeval tv = { FLOW_SOCKET_WAIT_S, 0 };

	f->awaiting_socket = true;
	evtimer_add(&f->ev_timer, &tv);
}

void flow_await_agent(struct flow *f)
{
	struct timeval tv = { FLOW_AGENT_SILENCE_S, 0 };

	f->awaiting_agent = true;
	evtimer_add(&f->ev_timer, &tv);
}

void flow_input(struct flow *f, const uint8_t *payload, size_t len)
{
	if (f->seal) {
		struct flowseal_io io;
		flow_seal_io(f, &io);
		enum flowseal_in r = flowseal_input(f->seal, &io, &payload, &len);
		if (r == FLOWSEAL_BAD && !f->dead)
			flow_fail(f,
				"a message failed its seal check (tampered, or not the peer's): "
				"reset",
				FRAME_FAILED);
		if (r != FLOWSEAL_PLAINTEXT)
			return;
	}
	flow_input_plain(f, payload, len);
}

void flow_input_plain(struct flow *f, const uint8_t *payload, size_t len)
{
	if (f->dead && f->framed) {
		flow_tombstone_frame(f, payload, len);
		return;
	}
	if (f->dead) {
		flow_tombstone_input(f, len);
		return;
	}
	if (f->framed) {
		flow_input_frame(f, payload, len);
		return;
	}
	f->last_active = time(NULL);
	if (f->awaiting_socket) {
		flow_close(f, "the client's connection never arrived", true);
		return;
	}
	if (f->awaiting_agent) {
		f->awaiting_agent = false;
		evtimer_del(&f->ev_timer);
	}
	if (f->kind == FLOW_STREAM)
		flow_input_stream(f, payload, len);
	else
		flow_input_dgram(f, payload, len);
}

/* ---- framed streams (tcpx, kcpx): our extension, mqtt/frame.h ---- */

static int emit_frame(struct flow_table *t, const char *topic, enum frame_type type, uint64_t off,
	enum frame_result code)
{
	uint8_t buf[FRAME_CTL_MAX];
	struct frame fr = { .type = type, .off = off, .code = code };

	return t->publish(t->publish_arg, topic, buf, frame_header(buf, &fr));
}

static int flow_emit_frame(
	struct flow *f, enum frame_type type, uint64_t off, enum frame_result code)
{
	uint8_t buf[FRAME_CTL_MAX];
	struct frame fr = { .type = type, .off = off, .code = code };

	return flow_emit(f, buf, frame_header(buf, &fr));
}

/* A control frame on a flow that runs: on failure the flow is closed and < 0 returned. */
static int flow_send_frame(
	struct flow *f, enum frame_type type, uint64_t off, enum frame_result code)
{
	int err = flow_emit_frame(f, type, off, code);

	if (err)
		flow_close(f, publish_failed(err), true);
	return err;
}

/* tcpx: its window is used up, and its socket still has more to say. */
static bool flow_blocked(const struct flow *f)
{
	return !f->dead && f->proto == MQTT_PROTO_TCPX && f->opening == FLOW_OPEN_DONE &&
	       !f->rd_eof && !flow_may_send(f);
}

/* ms until the frame timer has something to do; 0: nothing. */
static uint64_t flow_frame_delay(const struct flow *f, uint64_t now)
{
	uint64_t silent = now - f->heard_ms, keepalive = FLOW_KEEPALIVE_S * 1000ull;

	if (f->dead)
		return f->abort_sent && !f->abort_acked ? FLOW_RESEND_MS : 0;
	if (f->opening == FLOW_OPEN_CONNECTING)
		return 0; /* the connect timer runs */
	if (f->opening == FLOW_OPEN_SENT || (f->end_sent && !f->end_acked) || flow_blocked(f))
		return FLOW_RESEND_MS;
	if (silent < keepalive)
		return keepalive - silent;
	return 10 * FLOW_RESEND_MS; /* silent: ask again, until FLOW_IDLE_S */
}

static void flow_frame_schedule(struct flow *f)
{
	uint64_t now = clock_ms(), delay = flow_frame_delay(f, now);

	if (!f->framed || !delay || (f->frame_due_ms && f->frame_due_ms <= now + delay))
		return;
	struct timeval tv = { (time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000 };
	f->frame_due_ms = now + delay;
	evtimer_add(&f->ev_frame, &tv);
}

static void flow_frame_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;
	log_set_role(f->table->name);
	uint64_t now = clock_ms();
	(void)fd, (void)what;

	f->frame_due_ms = 0;
	if (f->dead) {
		if (f->abort_sent && !f->abort_acked)
			flow_emit_frame(f, FRAME_ABORT, 0, f->result);
		flow_frame_schedule(f);
		return;
	}
	if (now - f->heard_ms >= FLOW_IDLE_S * 1000ull) {
		flow_fail(f, "nothing heard from the peer for too long", FRAME_TIMED_OUT);
		return;
	}
	if (f->opening == FLOW_OPEN_SENT) {
		if (now - f->opened_ms >= FLOW_OPEN_TIMEOUT_S * 1000ull) {
			flow_fail(f, "no answer from the agent", FRAME_TIMED_OUT);
			return;
		}
		if (flow_send_frame(f, FRAME_OPEN, f->rcv_granted, FRAME_OK))
			return;
	} else if (f->end_sent && !f->end_acked) {
		if (now - f->end_ms >= FLOW_END_TIMEOUT_S * 1000ull) {
			flow_fail(f, "the peer never acknowledged the end of the stream",
				FRAME_FAILED);
			return;
		}
		uint64_t end = f->proto == MQTT_PROTO_TCPX ? f->snd_off : f->bytes_up;
		if (flow_send_frame(f, FRAME_END, end, FRAME_OK))
			return;
	}
	if (flow_blocked(f) || now - f->heard_ms >= FLOW_KEEPALIVE_S * 1000ull) {
		f->probed_ms = now;
		if (flow_send_frame(f, FRAME_PROBE, f->snd_off, FRAME_OK))
			return;
	}
	flow_frame_schedule(f);
}

/* tcpx: our window, and how many DATA frames we received. */
static int flow_send_window(struct flow *f)
{
	uint8_t buf[FRAME_CTL_MAX];
	struct frame fr = { .type = FRAME_WINDOW, .off = f->rcv_granted, .msgs = f->rcv_msgs };
	int err = flow_emit(f, buf, frame_header(buf, &fr));

	if (err)
		flow_close(f, publish_failed(err), true);
	else
		f->granted_msgs = f->rcv_msgs;
	return err;
}

/* tcpx: a WINDOW once the socket has taken a quarter of the window (of a window
 * shrunk by many busy flows, up to half of it, at most 256 KiB: fewer WINDOW
 * messages; iperf3 -P 100 gained 7-18%), or a quarter of the frames the peer may
 * send arrived, since the last one. */
static void flow_grant(struct flow *f)
{
	if (f->proto != MQTT_PROTO_TCPX || f->dead || f->opening != FLOW_OPEN_DONE || f->wr_eof)
		return;
	uint64_t window = flow_window(f->table), step = window / 4;
	if (step < FLOW_WINDOW / 8) /* a small window of many busy flows: half of it */
		step = window / 2 < FLOW_WINDOW / 8 ? window / 2 : FLOW_WINDOW / 8;
	uint64_t limit = f->rcv_off - flow_queued(f) + window;
	if (limit < f->rcv_granted + step && f->rcv_msgs - f->granted_msgs < FLOW_WINDOW_MSGS / 4)
		return;
	if (limit > f->rcv_granted)
		f->rcv_granted = limit;
	flow_send_window(f);
}

void flow_open(struct flow *f)
{
	if (!f->framed) {
		if (f->on_open)
			f->on_open(f, FRAME_OK);
		return;
	}
	f->opening = FLOW_OPEN_SENT;
	flow_update_read(f); /* an attached socket waits for the RESULT (kcpx read it at once) */
	if (flow_send_frame(f, FRAME_OPEN, f->rcv_granted, FRAME_OK))
		return;
	flow_frame_schedule(f);
}

void flow_accept_open(struct flow *f, uint64_t window)
{
	f->opening = FLOW_OPEN_CONNECTING;
	f->snd_limit = window;
}

/* A local's OPEN succeeded: the role hears it, and the socket is read from now on. */
static void flow_opened(struct flow *f, uint64_t window)
{
	f->opening = FLOW_OPEN_DONE;
	if (window > f->snd_limit)
		f->snd_limit = window;
	log_debug("flow %llu: open", (unsigned long long)f->id);
	if (f->on_open)
		f->on_open(f, FRAME_OK);
	if (f->dead)
		return;
	flow_update_read(f);
	flow_flush(f);
	flow_frame_schedule(f);
}

/* A hole in the stream: a message the broker dropped. */
static void flow_lost(struct flow *f)
{
	f->table->stats->lost++;
	flow_fail(f, "a message of the stream was lost on the way (the broker dropped it)",
		FRAME_LOST);
}

/* A busy flow: DATA arrived in this epoch (counted once per flow and epoch). */
static void flow_note_busy(struct flow *f)
{
	struct flow_table *t = f->table;
	uint32_t epoch = (uint32_t)(clock_ms() / FLOW_BUSY_EPOCH_MS);

	if (epoch != t->busy_epoch) {
		t->busy_prev = epoch == t->busy_epoch + 1 ? t->busy_now : 0;
		t->busy_now = 0;
		t->busy_epoch = epoch;
	}
	if (f->busy_epoch != epoch) {
		f->busy_epoch = epoch;
		t->busy_now++;
	}
}

static void flow_input_data(struct flow *f, const struct frame *fr)
{
	if (f->proto != MQTT_PROTO_TCPX || f->wr_eof) {
		flow_fail(f, "the peer sent data where none can be", FRAME_FAILED);
		return;
	}
	if (fr->off != f->rcv_off) {
		flow_lost(f);
		return;
	}
	if (fr->off + fr->len > f->rcv_granted) {
		flow_fail(f, "the peer sent beyond its window", FRAME_FAILED);
		return;
	}
	f->rcv_off += fr->len;
	f->rcv_msgs++;
	flow_note_busy(f);
	f->bytes_down += fr->len;
	f->table->stats->stream_down += fr->len;
	if (!flow_write_down(f, fr->data, fr->len))
		flow_grant(f);
}

static void flow_input_end(struct flow *f, const struct frame *fr)
{
	if (!f->wr_eof && f->proto == MQTT_PROTO_TCPX && fr->off != f->rcv_off) {
		flow_lost(f); /* the stream's tail was lost */
		return;
	}
	f->wr_eof = true;
	if (flow_send_frame(f, FRAME_END_ACK, fr->off, FRAME_OK))
		return;
	if (f->kcp)
		kcpflow_deliver(f->kcp);
	flow_down_finished(f);
}

static void flow_input_frame(struct flow *f, const uint8_t *p, size_t len)
{
	struct frame fr;

	if (frame_parse(p, len, &fr)) {
		f->table->stats->bad_payload++;
		return;
	}
	f->heard_ms = clock_ms();
	if (f->opening == FLOW_OPEN_SENT) {
		if (fr.type == FRAME_RESULT && fr.code != FRAME_OK) {
			f->end_sent = true; /* the agent has no flow: nothing to abort there */
			flow_fail(f, frame_result_str(fr.code), fr.code);
			return;
		}
		if (fr.type == FRAME_ABORT || fr.type == FRAME_ABORT_ACK || fr.type == FRAME_OPEN)
			; /* not an answer to the OPEN */
		else	  /* the RESULT, or it was lost and the flow runs already */
			flow_opened(
				f, fr.type == FRAME_RESULT || fr.type == FRAME_WINDOW ? fr.off : 0);
		if (f->dead || fr.type == FRAME_RESULT)
			return;
	}
	switch (fr.type) {
	case FRAME_OPEN: /* a repeated OPEN: its RESULT was lost */
		if (f->opening == FLOW_OPEN_DONE)
			flow_send_frame(f, FRAME_RESULT, f->rcv_granted, FRAME_OK);
		break;
	case FRAME_RESULT:
	case FRAME_ABORT_ACK:
		break;
	case FRAME_DATA:
		flow_input_data(f, &fr);
		break;
	case FRAME_KCP:
		if (!f->kcp || kcpflow_input(f->kcp, fr.data, fr.len))
			f->table->stats->bad_payload++;
		else
			flow_down_finished(f);
		break;
	case FRAME_WINDOW:
		if (fr.off > f->snd_limit)
			f->snd_limit = fr.off;
		if ((int32_t)(fr.msgs - f->acked_msgs) > 0)
			f->acked_msgs = fr.msgs;
		flow_update_read(f);
		break;
	case FRAME_PROBE: /* its offset: what the peer has sent; short of it, our tail was lost */
		if (f->proto == MQTT_PROTO_TCPX && !f->wr_eof && fr.off > f->rcv_off)
			flow_lost(f);
		else
			flow_send_window(f);
		break;
	case FRAME_END:
		flow_input_end(f, &fr);
		break;
	case FRAME_END_ACK:
		if (f->end_sent && !f->end_acked) {
			f->end_acked = true;
			flow_check_done(f);
		}
		break;
	case FRAME_ABORT:
		flow_emit_frame(f, FRAME_ABORT_ACK, 0, FRAME_OK);
		f->end_sent = true; /* the peer knows */
		flow_fail(f,
			fr.code == FRAME_LOST ? "the peer lost a message of the stream"
					      : "the peer aborted the flow",
			fr.code == FRAME_OK ? FRAME_FAILED : fr.code);
		break;
	}
	if (!f->dead)
		flow_frame_schedule(f);
}

/* Answers, at most FLOW_UNKNOWN_ANSWERS a second per table: a flood gets no more. */
static bool flow_may_answer(struct flow_table *t)
{
	uint64_t second = clock_ms() / 1000;

	if (second != t->answers_second) {
		t->answers_second = second;
		t->answers = 0;
	}
	return t->answers++ < FLOW_UNKNOWN_ANSWERS;
}

/* An answer on topic, or through tomb (a tombstone: sealed, if its flow was). */
static void answer(struct flow_table *t, struct flow *tomb, const char *topic, enum frame_type type,
	uint64_t off, enum frame_result code)
{
	if (tomb)
		flow_emit_frame(tomb, type, off, code);
	else
		emit_frame(t, topic, type, off, code);
}

/* What a flow that is gone (tomb), or never was here (on topic), says to a frame of it. */
static void answer_frame(struct flow_table *t, struct flow *tomb, const char *topic,
	const struct frame *fr, enum frame_result failed)
{
	switch (fr->type) {
	case FRAME_END: /* the peer has everything: only our acknowledgement was lost */
		answer(t, tomb, topic, FRAME_END_ACK, fr->off, FRAME_OK);
		break;
	case FRAME_ABORT:
		answer(t, tomb, topic, FRAME_ABORT_ACK, 0, FRAME_OK);
		break;
	case FRAME_ABORT_ACK:
	case FRAME_END_ACK:
		break;
	case FRAME_RESULT:
		if (fr->code == FRAME_OK && flow_may_answer(t))
			answer(t, tomb, topic, FRAME_ABORT, 0, failed);
		break;
	case FRAME_OPEN: /* the OPEN of a flow that failed here: its RESULT again */
		if (failed != FRAME_OK)
			answer(t, tomb, topic, FRAME_RESULT, 0, failed);
		break;
	default:
		if (failed != FRAME_OK && flow_may_answer(t))
			answer(t, tomb, topic, FRAME_ABORT, 0, failed);
	}
}

void flow_answer_unknown(
	struct flow_table *t, const char *reply_topic, const uint8_t *payload, size_t len)
{
	struct frame fr;

	t->stats->unknown_flow++;
	if (frame_parse(payload, len, &fr))
		return;
	answer_frame(t, NULL, reply_topic, &fr, FRAME_FAILED);
}

/* A tombstone: acknowledges ENDs and ABORTs; a flow that failed answers the rest with ABORT. */
static void flow_tombstone_frame(struct flow *f, const uint8_t *p, size_t len)
{
	struct frame fr;

	if (frame_parse(p, len, &fr)) {
		f->table->stats->bad_payload++;
		return;
	}
	if (fr.type == FRAME_ABORT_ACK)
		f->abort_acked = true;
	if (fr.type == FRAME_KCP && f->result == FRAME_OK)
		return; /* the last acknowledgements of a stream that ended well */
	answer_frame(f->table, f, f->topic, &fr, f->result);
}

/* ---- KCP: the session's callbacks ---- */

static int flow_kcp_output(void *arg, const uint8_t *p, size_t len)
{
	static uint8_t frame[FLOW_RBUF_SIZE + 1];
	struct flow *f = arg;

	/* a failed publish is a lost datagram to KCP; the broker's loss closes flows elsewhere */
	if (!f->framed)
		return flow_emit(f, p, len);
	if (len >= sizeof(frame))
		return -EMSGSIZE;
	frame[0] = FRAME_KCP;
	memcpy(frame + 1, p, len);
	return flow_emit(f, frame, len + 1);
}

static bool flow_kcp_can_take(void *arg)
{
	struct flow *f = arg;

	return !f->dead && f->fd >= 0 && !f->connecting && flow_queued(f) == 0;
}

static int flow_kcp_deliver(void *arg, const uint8_t *p, size_t len)
{
	struct flow *f = arg;

	f->bytes_down += len;
	f->table->stats->stream_down += len;
	return flow_write_down(f, p, len);
}

static int flow_kcp_end(void *arg, bool acked)
{
	struct flow *f = arg;

	log_set_role(f->table->name); /* from KCP's timer */
	if (!acked)
		log_info("flow %llu: peer did not acknowledge the end of the stream in time",
			(unsigned long long)f->id);
	if (f->framed) {
		f->end_sent = true;
		f->end_ms = clock_ms();
		if (flow_send_frame(f, FRAME_END, f->bytes_up, FRAME_OK))
			return -EPIPE;
		flow_frame_schedule(f);
		return 0;
	}
	if (flow_publish(f, "", 0))
		return -EPIPE;
	flow_check_done(f);
	return f->dead ? -EPIPE : 0;
}

static void flow_kcp_room(void *arg)
{
	flow_update_read(arg);
}

static void flow_kcp_peer_gone(void *arg)
{
	log_set_role(((struct flow *)arg)->table->name); /* from KCP's timer */
	flow_close(arg, "kcp peer stopped answering", true);
}

static const struct kcpflow_ops flow_kcp_ops = {
	.output = flow_kcp_output,
	.can_take = flow_kcp_can_take,
	.deliver = flow_kcp_deliver,
	.end = flow_kcp_end,
	.room = flow_kcp_room,
	.peer_gone = flow_kcp_peer_gone,
};

/* ---- teardown ---- */

static void flow_free(struct flow *f)
{
	struct flow_table *t = f->table;

	if (map_get(t->index, f->key) == f)
		map_del(t->index, f->key);
	flow_seal_drop(f);
	if (f->dead && f->lingering)
		t->stats->lingering--;
	TAILQ_REMOVE(&t->list, f, link);
	evtimer_del(&f->ev_timer);
	evtimer_del(&f->ev_frame);
	free(f);
}

static void flow_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;
	log_set_role(f->table->name);
	int timeout = f->table->limits.udp_timeout_s;
	(void)fd, (void)what;

	if (f->dead && f->abort_sent && !f->abort_acked && f->lingering &&
		clock_ms() - f->dead_ms < FLOW_ABORT_LINGER_S * 1000ull) {
		struct timeval tv = { FLOW_LINGER_S, 0 };
		evtimer_add(&f->ev_timer, &tv); /* its ABORT still wants an answer */
		return;
	}
	if (f->dead) {
		flow_free(f);
		return;
	}
	if (f->connecting) {
		f->connect_err = ETIMEDOUT;
		log_debug("flow %llu: connect timed out", (unsigned long long)f->id);
		flow_set_writing(f, false);
		f->events_ready = false;
		close(f->fd);
		f->fd = -1;
		flow_connect_next(f);
		return;
	}
	if (f->awaiting_socket) {
		flow_close(f, "the client's connection never arrived", true);
		return;
	}
	if (f->awaiting_agent) {
		log_warnx("flow %llu: no answer in %d s from agent %.*s, whose status was never "
			  "seen: "
			  "is its id right?",
			(unsigned long long)f->id, FLOW_AGENT_SILENCE_S, (int)strcspn(f->key, "/"),
			f->key);
		flow_close(f, "no answer from the agent", true);
		return;
	}
	time_t idle = time(NULL) - f->last_active;
	if (idle >= timeout) {
		flow_close(f, "idle timeout", false);
		return;
	}
	struct timeval tv = { timeout - idle, 0 };
	evtimer_add(&f->ev_timer, &tv);
}

void flow_close_reset(int fd)
{
	struct linger lg = { 1, 0 }; /* RST: the client sees an error, not an EOF */

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void flow_release(struct flow *f, bool error)
{
	if (f->events_ready) {
		event_del(&f->ev_read);
		event_del(&f->ev_write);
		f->events_ready = f->reading = f->writing = false;
	}
	if (f->fd >= 0 && flow_owns_fd(f)) {
		if (error && f->kind == FLOW_STREAM)
			flow_close_reset(f->fd);
		else
			close(f->fd);
	}
	f->fd = -1;
	kcpflow_free(f->kcp);
	f->kcp = NULL;
	if (f->ai_head)
		evutil_freeaddrinfo(f->ai_head);
	f->ai_head = f->ai_next = NULL;
	if (f->out)
		evbuffer_free(f->out);
	f->out = NULL;
	evtimer_del(&f->ev_timer);
}

static void flow_end(struct flow *f, const char *why, bool error, bool may_linger)
{
	if (!f || f->dead)
		return;
	struct flow_table *t = f->table;
	if (error && f->result == FRAME_OK)
		f->result = FRAME_FAILED;
	f->dead = true;
	f->dead_ms = clock_ms();
	/* a role waiting for the OPEN's result hears, once, that it came to nothing */
	if (f->opening == FLOW_OPEN_SENT) {
		f->opening = FLOW_OPEN_DONE;
		if (f->on_open)
			f->on_open(f, f->result == FRAME_OK ? FRAME_FAILED : f->result);
	}
	if (f->framed && !f->end_sent && error) {
		f->end_sent = true;
		if (f->opening == FLOW_OPEN_CONNECTING) {
			flow_emit_frame(f, FRAME_RESULT, 0, f->result);
		} else {
			f->abort_sent = true;
			flow_emit_frame(f, FRAME_ABORT, 0, f->result);
		}
	} else if (!f->framed && !mqtt_proto_is_dgram(f->proto) && !f->end_sent) {
		f->end_sent = true;
		/* end of stream: the peer ends its side */
		flow_emit(f, "", 0);
	}
	flow_release(f, error);
	t->stats->closed++;
	if (error)
		log_info("flow %llu: closed: %s (socket->mqtt %llu, mqtt->socket %llu bytes)",
			(unsigned long long)f->id, why, f->bytes_up, f->bytes_down);
	else
		log_debug("flow %llu: closed: %s (socket->mqtt %llu, mqtt->socket %llu bytes)",
			(unsigned long long)f->id, why, f->bytes_up, f->bytes_down);
	/* at most max_flows tombstones: a flood of short flows cannot fill memory with them */
	if (may_linger && (error || f->framed) && !mqtt_proto_is_dgram(f->proto) && !t->stopping &&
		t->stats->lingering < (unsigned long)t->limits.max_flows) {
		struct timeval tv = { FLOW_LINGER_S, 0 };
		f->lingering = true;
		t->stats->lingering++;
		/* the first data after this answers at once; repeats are rate-limited */
		f->last_abort = (struct timeval){ 0, 0 };
		evtimer_add(&f->ev_timer, &tv);
		flow_frame_schedule(f);
		return;
	}
	/* freed from the loop, never under a caller that may still look at f->dead */
	event_active(&f->ev_timer, EV_TIMEOUT, 0);
}

void flow_close(struct flow *f, const char *why, bool error)
{
	flow_end(f, why, error, true);
}

void flow_fail(struct flow *f, const char *why, enum frame_result result)
{
	if (!f || f->dead)
		return;
	f->result = result;
	flow_end(f, why, true, true);
}

void flow_destroy(struct flow *f)
{
	flow_end(f, "replaced by a new flow with the same addresses", true, false);
	flow_free(f);
}

void flow_pause_all(struct flow_table *t, bool paused)
{
	struct flow *f;

	t->paused = paused;
	TAILQ_FOREACH(f, &t->list, link)
	flow_update_read(f);
}

/* Does level `idx` (0 agent, 1 local) of a flow key equal id? */
static bool key_level_is(const char *key, int idx, const char *id)
{
	size_t n;
	const char *level = mqtt_level_at(key, idx, &n);

	return level && strlen(id) == n && !strncmp(level, id, n);
}

void flow_close_all(struct flow_table *t, const char *why, const char *only_peer_agent,
	const char *only_peer_local)
{
	struct flow *f, *next;

	for (f = TAILQ_FIRST(&t->list); f; f = next) {
		next = TAILQ_NEXT(f, link);
		if (f->dead)
			continue;
		if (only_peer_agent && !key_level_is(f->key, 0, only_peer_agent))
			continue;
		if (only_peer_local && !key_level_is(f->key, 1, only_peer_local))
			continue;
		flow_close(f, why, true);
	}
}

void flow_destroy_all(struct flow_table *t)
{
	struct flow *f;

	while ((f = TAILQ_FIRST(&t->list))) {
		if (!f->dead)
			flow_release(f, false);
		flow_free(f);
	}
}
