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

#include "gateway/lib/clock.h"
#include "gateway/lib/log.h"
#include "gateway/lib/map.h"
#include "kcpflow.h"
#include "status.h"

#define READS_PER_EVENT 4 /* bounded drain so one busy socket can't starve the rest */

static void flow_read_cb(evutil_socket_t fd, short what, void *arg);
static void flow_write_cb(evutil_socket_t fd, short what, void *arg);
static void flow_timer_cb(evutil_socket_t fd, short what, void *arg);
static void flow_flush(struct flow *f);
static void flow_update_read(struct flow *f);
static int flow_write_down(struct flow *f, const uint8_t *p, size_t len);
static void flow_check_done(struct flow *f);
static void flow_down_finished(struct flow *f);
static int flow_publish(struct flow *f, const void *p, size_t len);
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

	return kcpflow_new(t->base, f->chunk > STATUS_COMPAT_PACKET, f->chunk, t->rbuf,
		t->rbuf_size, &flow_kcp_ops, f, &f->kcp);
}

struct flow *flow_new(struct flow_table *t, const struct flow_spec *spec)
{
	struct flow *f;

	if (!flow_table_admit(t) || !(f = flow_alloc(spec)))
		return NULL;
	f->out = evbuffer_new();
	if (!f->out)
		goto err_free;
	f->table = t;
	f->id = ++t->next_id;
	f->kind = spec->kind;
	f->proto = spec->proto;
	f->fd = -1;
	f->chunk = spec->chunk;
	f->sink = spec->sink;
	f->last_active = time(NULL);
	f->opened_ms = clock_ms();
	if (f->proto == MQTT_PROTO_KCP && flow_kcp_init(f))
		goto err_buf;
	if (map_put(t->index, f->key, f))
		goto err_kcp;
	TAILQ_INSERT_TAIL(&t->list, f, link);
	evtimer_assign(&f->ev_timer, t->base, flow_timer_cb, f);
	t->stats->opened++;
	log_debug("flow %llu: new %s %s", (unsigned long long)f->id, mqtt_proto_name(f->proto),
		f->key);
	return f;

err_kcp:
	kcpflow_free(f->kcp);
err_buf:
	evbuffer_free(f->out);
err_free:
	free(f);
	return NULL;
}

void flow_touch(struct flow *f)
{
	f->last_active = time(NULL);
}

/* Streams and the agent's datagram flows have a socket of their own. */
static bool flow_owns_fd(const struct flow *f)
{
	return f->kind == FLOW_STREAM || f->kind == FLOW_DGRAM;
}

static bool flow_wants_read(const struct flow *f)
{
	return f->events_ready && !f->dead && !f->rd_eof && !f->connecting && !f->table->paused &&
	       flow_owns_fd(f) && (!f->kcp || kcpflow_wants_more(f->kcp));
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

	f->fd = fd;
	if (fd >= 0)
		evutil_make_socket_nonblocking(fd);
	if (f->kind == FLOW_STREAM)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (flow_owns_fd(f))
		flow_events_init(f);
	if (f->kind != FLOW_STREAM)
		flow_arm_idle(f);
	flow_update_read(f);
	flow_flush(f);
}

/* Tries the next address; the write event reports the outcome. */
static void flow_connect_next(struct flow *f)
{
	struct timeval tv = { FLOW_CONNECT_TIMEOUT_S, 0 };

	while (f->ai_next) {
		struct evutil_addrinfo *ai = f->ai_next;
		f->ai_next = ai->ai_next;
		int type = f->kind == FLOW_STREAM ? SOCK_STREAM : SOCK_DGRAM;
		int fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				f->table->stats->over_limit++;
				log_warn("flow %llu: no socket for the destination",
					(unsigned long long)f->id);
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
		log_debug("flow %llu: connect: %s", (unsigned long long)f->id, strerror(errno));
		close(fd);
	}
	flow_close(f, "cannot connect to the destination", true);
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

/* Both directions ended (and the end signal went out): close. */
static void flow_check_done(struct flow *f)
{
	if (f->rd_eof && f->end_sent && f->wr_shut)
		flow_close(f, "both directions ended", false);
}

/* One message on the flow's topic, through its table's publisher: 0 or -errno, nothing else. */
static int flow_emit(const struct flow *f, const void *p, size_t len)
{
	return f->table->publish(f->table->publish_arg, f->topic, p, len);
}

/* Publishes on the flow's topic; on failure the flow is closed and < 0 returned. */
static int flow_publish(struct flow *f, const void *p, size_t len)
{
	int err = flow_emit(f, p, len);

	if (err) {
		flow_close(f, err == -ENOTCONN ? "broker connection lost" : "publish failed", true);
		return err;
	}
	f->bytes_up += len;
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
	flow_update_read(f);
}

/* The socket ended its stream: say so, at once (tcp) or once the peer has everything (kcp). */
static void flow_read_eof(struct flow *f)
{
	f->rd_eof = true;
	flow_update_read(f);
	log_debug("flow %llu: socket ended its stream", (unsigned long long)f->id);
	if (f->kcp) {
		kcpflow_end(f->kcp);
		return;
	}
	if (flow_publish(f, "", 0))
		return;
	flow_check_done(f);
}

static void flow_read_stream(struct flow *f)
{
	struct flow_table *t = f->table;
	size_t want = f->chunk < t->rbuf_size ? f->chunk : t->rbuf_size;

	for (int i = 0; i < READS_PER_EVENT && f->reading; i++) {
		ssize_t r = read(f->fd, t->rbuf, want);
		if (r > 0) {
			if (f->kcp)
				flow_kcp_up(f, t->rbuf, (size_t)r);
			else if (flow_publish(f, t->rbuf, (size_t)r))
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

	for (int i = 0; i < READS_PER_EVENT && f->reading; i++) {
		ssize_t r = recv(f->fd, t->rbuf, t->rbuf_size, 0);
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED)
				flow_close(f, strerror(errno), true);
			return;
		}
		flow_up(f, t->rbuf, (size_t)r);
	}
}

void flow_up(struct flow *f, const uint8_t *payload, size_t len)
{
	if (f->kcp) {
		flow_kcp_up(f, payload, len);
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
	(void)fd, (void)what;

	if (f->kind == FLOW_STREAM)
		flow_read_stream(f);
	else
		flow_read_dgram(f);
}

static void flow_flush_stream(struct flow *f)
{
	while (evbuffer_get_length(f->out) > 0) {
		int w = evbuffer_write(f->out, f->fd);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			flow_close(f, strerror(errno), true);
			return;
		}
	}
	bool pending = evbuffer_get_length(f->out) > 0;
	flow_set_writing(f, pending);
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
	if (evbuffer_get_length(f->out) > 0 || (f->kcp && !kcpflow_drained(f->kcp)))
		return;
	shutdown(f->fd, SHUT_WR);
	f->wr_shut = true;
	flow_check_done(f);
}

/* Datagrams wait in `out` as a 2-byte length and the bytes, until connected. */
static void flow_flush_dgram(struct flow *f)
{
	uint8_t *buf = f->table->rbuf;
	uint16_t len;

	while (evbuffer_remove(f->out, &len, sizeof(len)) == sizeof(len)) {
		evbuffer_remove(f->out, buf, len);
		if (send(f->fd, buf, len, 0) < 0)
			f->table->stats->udp_dropped++;
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
	(void)fd, (void)what;

	if (f->connecting)
		flow_connect_done(f);
	else
		flow_flush(f);
}

/* Writes to the socket what it takes, queueing the rest (capped); 0, or < 0 if the flow ended. */
static int flow_write_down(struct flow *f, const uint8_t *p, size_t len)
{
	if (evbuffer_get_length(f->out) == 0 && f->fd >= 0 && !f->connecting) {
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
	size_t cap = flow_table_cap(f->table, evbuffer_get_length(f->out) + len);
	if (evbuffer_get_length(f->out) + len > cap) {
		f->table->stats->overflowed++;
		flow_close(f,
			cap < FLOW_OUT_CAP ? "destination too slow: 1 MiB queued while the heap is "
					     "over --max-memory"
					   : "destination too slow: send buffer over its cap",
			true);
		return -ENOBUFS;
	}
	evbuffer_add(f->out, p, len);
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
	flow_write_down(f, p, len);
}

static void flow_input_dgram(struct flow *f, const uint8_t *p, size_t len)
{
	f->bytes_down += len;
	if (f->kind == FLOW_DGRAM_SINK) {
		f->sink(f, p, len);
		return;
	}
	if (f->fd >= 0 && !f->connecting) {
		if (send(f->fd, p, len, 0) < 0)
			f->table->stats->udp_dropped++;
		return;
	}
	uint16_t l = (uint16_t)len;
	if (len > UINT16_MAX || evbuffer_get_length(f->out) + len > FLOW_DGRAM_QUEUE_MAX) {
		f->table->stats->udp_dropped++;
		return;
	}
	evbuffer_add(f->out, &l, sizeof(l));
	evbuffer_add(f->out, p, len);
}

/* Data for a flow this side ended with an error: say so again, at a bounded rate. */
static void flow_tombstone_input(struct flow *f, size_t len)
{
	struct flow_table *t = f->table;
	struct timeval now, diff;

	if (len == 0 || f->proto == MQTT_PROTO_UDP)
		return;
	t->stats->unknown_flow++;
	event_base_gettimeofday_cached(t->base, &now);
	timersub(&now, &f->last_abort, &diff);
	if (diff.tv_sec == 0 && diff.tv_usec < FLOW_ABORT_REPEAT_MS * 1000)
		return;
	f->last_abort = now;
	flow_emit(f, "", 0);
}

void flow_await_agent(struct flow *f)
{
	struct timeval tv = { FLOW_AGENT_SILENCE_S, 0 };

	f->awaiting_agent = true;
	evtimer_add(&f->ev_timer, &tv);
}

void flow_input(struct flow *f, const uint8_t *payload, size_t len)
{
	if (f->dead) {
		flow_tombstone_input(f, len);
		return;
	}
	f->last_active = time(NULL);
	if (f->awaiting_agent) {
		f->awaiting_agent = false;
		evtimer_del(&f->ev_timer);
	}
	if (f->kind == FLOW_STREAM)
		flow_input_stream(f, payload, len);
	else
		flow_input_dgram(f, payload, len);
}

/* ---- KCP: the session's callbacks ---- */

static int flow_kcp_output(void *arg, const uint8_t *p, size_t len)
{
	struct flow *f = arg;

	/* a failed publish is a lost datagram to KCP; the broker's loss closes flows elsewhere */
	return flow_emit(f, p, len);
}

static bool flow_kcp_can_take(void *arg)
{
	struct flow *f = arg;

	return !f->dead && f->fd >= 0 && !f->connecting && evbuffer_get_length(f->out) == 0;
}

static int flow_kcp_deliver(void *arg, const uint8_t *p, size_t len)
{
	struct flow *f = arg;

	f->bytes_down += len;
	return flow_write_down(f, p, len);
}

static int flow_kcp_end(void *arg, bool acked)
{
	struct flow *f = arg;

	if (!acked)
		log_info("flow %llu: peer did not acknowledge the end of the stream in time",
			(unsigned long long)f->id);
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
	if (f->dead && f->lingering)
		t->stats->lingering--;
	TAILQ_REMOVE(&t->list, f, link);
	evtimer_del(&f->ev_timer);
	free(f);
}

static void flow_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;
	int timeout = f->table->limits.udp_timeout_s;
	(void)fd, (void)what;

	if (f->dead) {
		flow_free(f);
		return;
	}
	if (f->connecting) {
		log_debug("flow %llu: connect timed out", (unsigned long long)f->id);
		flow_set_writing(f, false);
		f->events_ready = false;
		close(f->fd);
		f->fd = -1;
		flow_connect_next(f);
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
	evbuffer_free(f->out);
	f->out = NULL;
	evtimer_del(&f->ev_timer);
}

static void flow_end(struct flow *f, const char *why, bool error, bool may_linger)
{
	if (!f || f->dead)
		return;
	struct flow_table *t = f->table;
	f->dead = true;
	if (f->proto != MQTT_PROTO_UDP && !f->end_sent) {
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
	if (may_linger && error && f->proto != MQTT_PROTO_UDP && !t->stopping) {
		struct timeval tv = { FLOW_LINGER_S, 0 };
		f->lingering = true;
		t->stats->lingering++;
		/* the first data after this answers at once; repeats are rate-limited */
		f->last_abort = (struct timeval){ 0, 0 };
		evtimer_add(&f->ev_timer, &tv);
		return;
	}
	/* freed from the loop, never under a caller that may still look at f->dead */
	event_active(&f->ev_timer, EV_TIMEOUT, 0);
}

void flow_close(struct flow *f, const char *why, bool error)
{
	flow_end(f, why, error, true);
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
	for (int i = 0; i < idx; i++) {
		key = strchr(key, '/');
		if (!key)
			return false;
		key++;
	}
	size_t n = strcspn(key, "/");
	return strlen(id) == n && !strncmp(key, id, n);
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
