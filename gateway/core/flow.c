/* A flow: one (agent, local, protocol, src, dst) between a socket and MQTT, with its buffers and teardown. */
#include "flow.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/lib/addr.h"
#include "kcpflow.h"
#include "gateway/lib/log.h"
#include "gateway/lib/map.h"
#include "status.h"

#define READS_PER_EVENT 4 /* bounded drain so one busy socket can't starve the rest */

static void flow_read_cb(evutil_socket_t fd, short what, void *arg);
static void flow_write_cb(evutil_socket_t fd, short what, void *arg);
static void flow_timer_cb(evutil_socket_t fd, short what, void *arg);
static void flow_flush(struct flow *f);

struct flow *flow_find(struct node *n, const char *key)
{
	return map_get(n->flows, key);
}

struct flow *flow_new(struct node *n, enum flow_kind kind, enum mqtt_proto proto,
	const char *key, const char *topic, size_t chunk)
{
	struct flow *f;

	if (!node_admit_flow(n) || !(f = calloc(1, sizeof(*f))))
		return NULL;
	f->out = evbuffer_new();
	if (!f->out)
		goto err_free;
	f->node = n;
	f->id = ++n->next_flow_id;
	f->kind = kind;
	f->proto = proto;
	f->fd = -1;
	f->chunk = chunk;
	f->last_active = time(NULL);
	f->opened_ms = node_now_ms();
	snprintf(f->key, sizeof(f->key), "%s", key);
	snprintf(f->topic, sizeof(f->topic), "%s", topic);
	if (proto == MQTT_PROTO_KCP && kcpflow_init(f, chunk > STATUS_COMPAT_PACKET))
		goto err_buf;
	if (map_put(n->flows, f->key, f))
		goto err_kcp;
	TAILQ_INSERT_TAIL(&n->flow_list, f, link);
	evtimer_assign(&f->ev_timer, n->base, flow_timer_cb, f);
	n->stats.flows_opened++;
	log_debug("flow %llu: new %s %s", (unsigned long long)f->id, mqtt_proto_name(proto), key);
	return f;

err_kcp:
	kcpflow_free(f);
err_buf:
	evbuffer_free(f->out);
err_free:
	free(f);
	return NULL;
}

/* Streams and the agent's datagram flows have a socket of their own. */
static bool flow_owns_fd(const struct flow *f)
{
	return f->kind == FLOW_STREAM || f->kind == FLOW_DGRAM;
}

static bool flow_wants_read(const struct flow *f)
{
	return f->events_ready && !f->dead && !f->rd_eof && !f->connecting && !f->node->paused &&
	       flow_owns_fd(f) && (!f->kcp || kcpflow_wants_more(f));
}

void flow_update_read(struct flow *f)
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
	struct timeval tv = { f->node->cfg.udp_timeout_s, 0 };
	evtimer_add(&f->ev_timer, &tv);
}

static void flow_events_init(struct flow *f)
{
	struct event_base *base = f->node->base;

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
				f->node->stats.over_limit++;
				log_warn("flow %llu: no socket for the destination", (unsigned long long)f->id);
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

void flow_check_done(struct flow *f)
{
	if (f->rd_eof && f->end_sent && f->wr_shut)
		flow_close(f, "both directions ended", false);
}

int flow_publish(struct flow *f, const void *p, size_t len)
{
	int err = node_publish(f->node, f->topic, p, len);

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

static void flow_read_stream(struct flow *f)
{
	struct node *n = f->node;
	size_t want = f->chunk < n->rbuf_size ? f->chunk : n->rbuf_size;

	for (int i = 0; i < READS_PER_EVENT && f->reading; i++) {
		ssize_t r = read(f->fd, n->rbuf, want);
		if (r > 0) {
			if (f->kcp)
				kcpflow_up(f, n->rbuf, (size_t)r);
			else if (flow_publish(f, n->rbuf, (size_t)r))
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
		f->rd_eof = true;
		flow_update_read(f);
		log_debug("flow %llu: socket ended its stream", (unsigned long long)f->id);
		if (f->kcp) {
			kcpflow_up_end(f); /* the end signal waits until the peer has it all */
			return;
		}
		if (flow_publish(f, "", 0))
			return;
		flow_check_done(f);
		return;
	}
}

static void flow_read_dgram(struct flow *f)
{
	struct node *n = f->node;

	for (int i = 0; i < READS_PER_EVENT && f->reading; i++) {
		ssize_t r = recv(f->fd, n->rbuf, n->rbuf_size, 0);
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNREFUSED)
				flow_close(f, strerror(errno), true);
			return;
		}
		flow_up(f, n->rbuf, (size_t)r);
	}
}

void flow_up(struct flow *f, const uint8_t *payload, size_t len)
{
	if (f->kcp) {
		kcpflow_up(f, payload, len);
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
		f->node->stats.udp_dropped++;
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
	if (!pending && f->kcp) {
		kcpflow_deliver(f); /* room again: take more from KCP */
		return;
	}
	if (!pending)
		flow_down_finished(f);
}

void flow_down_finished(struct flow *f)
{
	if (f->dead || !f->wr_eof || f->wr_shut || f->fd < 0 || f->connecting)
		return;
	if (evbuffer_get_length(f->out) > 0 || (f->kcp && !kcpflow_drained(f)))
		return;
	shutdown(f->fd, SHUT_WR);
	f->wr_shut = true;
	flow_check_done(f);
}

/* Datagrams wait in `out` as a 2-byte length and the bytes, until connected. */
static void flow_flush_dgram(struct flow *f)
{
	uint8_t *buf = f->node->rbuf;
	uint16_t len;

	while (evbuffer_remove(f->out, &len, sizeof(len)) == sizeof(len)) {
		evbuffer_remove(f->out, buf, len);
		if (send(f->fd, buf, len, 0) < 0)
			f->node->stats.udp_dropped++;
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

int flow_write_down(struct flow *f, const uint8_t *p, size_t len)
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
	size_t cap = node_flow_cap(f->node, evbuffer_get_length(f->out) + len);
	if (evbuffer_get_length(f->out) + len > cap) {
		f->node->stats.flows_overflowed++;
		flow_close(f, cap < FLOW_OUT_CAP
				? "destination too slow: 1 MiB queued while the heap is over --max-memory"
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
			kcpflow_deliver(f);
		else
			flow_down_finished(f);
		return;
	}
	if (f->kcp) {
		kcpflow_input(f, p, len);
		return;
	}
	if (f->wr_eof) {
		f->node->stats.bad_payload++;
		return; /* data after the end of the stream */
	}
	f->bytes_down += len;
	flow_write_down(f, p, len);
}

static void flow_input_dgram(struct flow *f, const uint8_t *p, size_t len)
{
	f->bytes_down += len;
	if (f->kind == FLOW_DGRAM_TUN) {
		f->node->role->dgram_reply(f->node, f, p, len);
		return;
	}
	if (f->kind == FLOW_DGRAM_SHARED) {
		if (sendto(f->fd, p, len, 0, (struct sockaddr *)&f->peer, f->peerlen) < 0)
			f->node->stats.udp_dropped++;
		return;
	}
	if (f->fd >= 0 && !f->connecting) {
		if (send(f->fd, p, len, 0) < 0)
			f->node->stats.udp_dropped++;
		return;
	}
	uint16_t l = (uint16_t)len;
	if (len > UINT16_MAX || evbuffer_get_length(f->out) + len > 256 * 1024) {
		f->node->stats.udp_dropped++;
		return;
	}
	evbuffer_add(f->out, &l, sizeof(l));
	evbuffer_add(f->out, p, len);
}

/* Data for a flow this side ended with an error: say so again, at a bounded rate. */
static void flow_tombstone_input(struct flow *f, size_t len)
{
	struct timeval now, diff;

	if (len == 0 || f->proto == MQTT_PROTO_UDP)
		return;
	f->node->stats.unknown_flow++;
	event_base_gettimeofday_cached(f->node->base, &now);
	timersub(&now, &f->last_abort, &diff);
	if (diff.tv_sec == 0 && diff.tv_usec < FLOW_ABORT_REPEAT_MS * 1000)
		return;
	f->last_abort = now;
	node_publish(f->node, f->topic, "", 0);
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

static void flow_free(struct flow *f)
{
	struct node *n = f->node;

	if (map_get(n->flows, f->key) == f)
		map_del(n->flows, f->key);
	if (f->dead && f->lingering)
		n->stats.flows_lingering--;
	TAILQ_REMOVE(&n->flow_list, f, link);
	evtimer_del(&f->ev_timer);
	free(f);
}

static void flow_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;
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
		log_warnx("flow %llu: no answer in %d s from agent %.*s, whose status was never seen: "
			  "is its id right?", (unsigned long long)f->id, FLOW_AGENT_SILENCE_S,
			(int)strcspn(f->key, "/"), f->key);
		flow_close(f, "no answer from the agent", true);
		return;
	}
	time_t idle = time(NULL) - f->last_active;
	if (idle >= f->node->cfg.udp_timeout_s) {
		flow_close(f, "idle timeout", false);
		return;
	}
	struct timeval tv = { f->node->cfg.udp_timeout_s - idle, 0 };
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
	kcpflow_free(f);
	if (f->ai_head)
		evutil_freeaddrinfo(f->ai_head);
	f->ai_head = f->ai_next = NULL;
	evbuffer_free(f->out);
	f->out = NULL;
	evtimer_del(&f->ev_timer);
}

static void flow_end(struct flow *f, const char *why, bool error, bool may_linger);

void flow_close(struct flow *f, const char *why, bool error)
{
	flow_end(f, why, error, true);
}

void flow_destroy(struct flow *f)
{
	flow_end(f, "replaced by a new flow with the same addresses", true, false);
	flow_free(f);
}

static void flow_end(struct flow *f, const char *why, bool error, bool may_linger)
{
	if (!f || f->dead)
		return;
	struct node *n = f->node;
	f->dead = true;
	if (f->proto != MQTT_PROTO_UDP && !f->end_sent) {
		f->end_sent = true;
		node_publish(n, f->topic, "", 0); /* end of stream: the peer ends its side */
	}
	flow_release(f, error);
	n->stats.flows_closed++;
	if (error)
		log_info("flow %llu: closed: %s (socket->mqtt %llu, mqtt->socket %llu bytes)", (unsigned long long)f->id,
			why, f->bytes_up, f->bytes_down);
	else
		log_debug("flow %llu: closed: %s (socket->mqtt %llu, mqtt->socket %llu bytes)",
			(unsigned long long)f->id, why, f->bytes_up, f->bytes_down);
	if (may_linger && error && f->proto != MQTT_PROTO_UDP && !n->stopping) {
		struct timeval tv = { FLOW_LINGER_S, 0 };
		f->lingering = true;
		n->stats.flows_lingering++;
		/* the first data after this answers at once; repeats are rate-limited */
		f->last_abort = (struct timeval){ 0, 0 };
		evtimer_add(&f->ev_timer, &tv);
		return;
	}
	/* freed from the loop, never under a caller that may still look at f->dead */
	event_active(&f->ev_timer, EV_TIMEOUT, 0);
}


void flow_pause_all(struct node *n, bool paused)
{
	struct flow *f;

	n->paused = paused;
	TAILQ_FOREACH(f, &n->flow_list, link)
		flow_update_read(f);
	if (n->role->on_pause)
		n->role->on_pause(n, paused);
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

void flow_close_all(struct node *n, const char *why, const char *only_peer_agent,
	const char *only_peer_local)
{
	struct flow *f, *next;

	for (f = TAILQ_FIRST(&n->flow_list); f; f = next) {
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

void flow_destroy_all(struct node *n)
{
	struct flow *f;

	while ((f = TAILQ_FIRST(&n->flow_list))) {
		if (!f->dead)
			flow_release(f, false);
		flow_free(f);
	}
}
