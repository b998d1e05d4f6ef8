/* Unit tests of gateway/core/kcpflow: KCP sessions on the event loop, back to back, lossy, ending, and carrying flows end to end. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway/core/flow.h"
#include "gateway/core/flowtable.h"
#include "gateway/core/kcpflow.h"
#include "gateway/core/status.h"
#include "gateway/lib/clock.h"

#define MIB (1024 * 1024)
#define FAST_CHUNK 65536		  /* over STATUS_COMPAT_PACKET: a peer of ours */
#define COMPAT_CHUNK STATUS_COMPAT_PACKET /* a net4mqtt peer */
#define RBUF_SIZE (64 * 1024)
#define PIECE (16 * 1024) /* bytes per kcpflow_send */
#define TICK_MS 2	  /* the longest one loop turn waits when nothing happens */
#define TURNS 50000	  /* turns before a wait counts as failed */
#define IDLE_TURNS 20	  /* turns that must pass with nothing happening */
#define EOF_WAIT_MS 30000 /* kcpflow.c's KCP_EOF_WAIT_MS */
#define DEAD_MS 60000	  /* kcpflow.c's KCP_DEAD_MS */
#define FLOW_KEY "ag/lo/kcp/10.0.0.2:40000/192.0.2.1:80"

/* ---- the clock ---- */

static uint64_t clock_skew_ms; /* a test jumps past a timeout by setting it */

/* The library's clock, skewed: this definition is linked instead of gateway/lib/clock.c's. */
uint64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + clock_skew_ms;
}

/* ---- helpers ---- */

static uint8_t pattern_at(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;

	return (uint8_t)(x >> 24 ^ x >> 11 ^ i >> 16);
}

static void pattern_fill(uint8_t *p, size_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_at(off + i);
}

static bool pattern_matches(const uint8_t *p, size_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern_at(off + i))
			return false;
	return true;
}

/* Datagrams (or MQTT messages) in flight, oldest first. */
struct dgram {
	uint8_t *p;
	size_t len;
};

struct queue {
	struct dgram *v;
	size_t head, n, cap;
};

static void queue_push(struct queue *q, const uint8_t *p, size_t len)
{
	if (q->head == q->n)
		q->head = q->n = 0;
	if (q->n == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 256;
		q->v = realloc(q->v, q->cap * sizeof(*q->v));
		assert_non_null(q->v);
	}
	struct dgram *d = &q->v[q->n++];
	d->p = malloc(len ? len : 1);
	assert_non_null(d->p);
	memcpy(d->p, p, len);
	d->len = len;
}

static size_t queue_len(const struct queue *q)
{
	return q->n - q->head;
}

/* The oldest datagram, which the caller frees; false if none. */
static bool queue_pop(struct queue *q, struct dgram *d)
{
	if (q->head == q->n)
		return false;
	*d = q->v[q->head++];
	return true;
}

static void queue_free(struct queue *q)
{
	struct dgram d;

	while (queue_pop(q, &d))
		free(d.p);
	free(q->v);
	*q = (struct queue){ 0 };
}

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
}

/* A loop whose EVLOOP_ONCE turns never wait longer than TICK_MS. */
static struct event_base *base_new(struct event **tick)
{
	struct event_base *base = event_base_new();
	struct timeval tv = { 0, TICK_MS * 1000 };

	assert_non_null(base);
	*tick = event_new(base, -1, EV_PERSIST, noop_cb, NULL);
	assert_non_null(*tick);
	assert_int_equal(event_add(*tick, &tv), 0);
	return base;
}

static void base_free(struct event_base *base, struct event *tick)
{
	event_free(tick);
	event_base_free(base);
}

/* ---- two sessions back to back ---- */

enum frees_in { FREES_NOWHERE, FREES_IN_DELIVER, FREES_IN_END, FREES_IN_PEER_GONE };

struct peer {
	struct kcpflow *k;
	struct peer *other;
	struct queue *out; /* datagrams for the other peer */
	unsigned loss_pct; /* of this peer's datagrams, dropped */
	uint32_t rng;
	bool can_take;
	enum frees_in frees_in; /* the callback that ends the owner, freeing the session */
	size_t to_send, sent;	/* stream bytes for the other peer, and those given to KCP */
	size_t got;		/* stream bytes delivered, in order */
	bool corrupt;		/* some delivered byte was not the stream's */
	int ends, gones;
	bool end_acked;
	size_t other_got_at_end; /* what the other peer had delivered when ops->end came */
	unsigned long rooms, dropped;
	uint8_t rbuf[RBUF_SIZE];
};

struct net {
	struct event_base *base;
	struct event *tick;
	struct queue q[2]; /* q[i]: datagrams for p[i] */
	struct peer p[2];
	unsigned long bad_input;
	uint8_t piece[PIECE];
};

static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void peer_free_session(struct peer *p)
{
	kcpflow_free(p->k);
	p->k = NULL;
}

static int peer_output(void *arg, const uint8_t *buf, size_t len)
{
	struct peer *p = arg;

	if (rng_next(&p->rng) % 100 < p->loss_pct) {
		p->dropped++;
		return 0; /* lost on the way, as far as the sender knows */
	}
	queue_push(p->out, buf, len);
	return 0;
}

static bool peer_can_take(void *arg)
{
	struct peer *p = arg;

	return p->can_take;
}

static int peer_deliver(void *arg, const uint8_t *buf, size_t len)
{
	struct peer *p = arg;

	if (!pattern_matches(buf, p->got, len))
		p->corrupt = true;
	p->got += len;
	if (p->frees_in == FREES_IN_DELIVER) {
		peer_free_session(p);
		return -EPIPE;
	}
	return 0;
}

static int peer_end(void *arg, bool acked)
{
	struct peer *p = arg;

	p->ends++;
	p->end_acked = acked;
	p->other_got_at_end = p->other->got;
	if (p->frees_in == FREES_IN_END) {
		peer_free_session(p);
		return -EPIPE;
	}
	return 0;
}

static void peer_room(void *arg)
{
	struct peer *p = arg;

	p->rooms++;
}

static void peer_gone(void *arg)
{
	struct peer *p = arg;

	p->gones++;
	if (p->frees_in == FREES_IN_PEER_GONE)
		peer_free_session(p);
}

static const struct kcpflow_ops peer_ops = {
	.output = peer_output,
	.can_take = peer_can_take,
	.deliver = peer_deliver,
	.end = peer_end,
	.room = peer_room,
	.peer_gone = peer_gone,
};

static struct net *net_new(bool peer_is_ours, size_t chunk, unsigned loss_pct)
{
	struct net *n = calloc(1, sizeof(*n));

	assert_non_null(n);
	clock_skew_ms = 0;
	n->base = base_new(&n->tick);
	for (int i = 0; i < 2; i++) {
		struct peer *p = &n->p[i];
		p->other = &n->p[1 - i];
		p->out = &n->q[1 - i];
		p->loss_pct = loss_pct;
		p->rng = 0x9e3779b9u * (uint32_t)(i + 1);
		p->can_take = true;
		assert_int_equal(kcpflow_new(n->base, peer_is_ours, chunk, p->rbuf, sizeof(p->rbuf),
					 &peer_ops, p, &p->k),
			0);
	}
	return n;
}

static void net_free(struct net *n)
{
	for (int i = 0; i < 2; i++) {
		peer_free_session(&n->p[i]);
		queue_free(&n->q[i]);
	}
	base_free(n->base, n->tick);
	free(n);
}

/* Hands each peer the datagrams that were in flight to it. */
static void net_exchange(struct net *n)
{
	for (int i = 0; i < 2; i++) {
		struct peer *p = &n->p[i];
		size_t count = queue_len(&n->q[i]);
		struct dgram d;

		while (count-- && queue_pop(&n->q[i], &d)) {
			if (p->k && kcpflow_input(p->k, d.p, d.len))
				n->bad_input++;
			free(d.p);
		}
	}
}

/* Gives KCP more of the peer's stream while it wants more. */
static void feed(struct net *n, struct peer *p)
{
	while (p->k && p->sent < p->to_send && kcpflow_wants_more(p->k)) {
		size_t len = p->to_send - p->sent < PIECE ? p->to_send - p->sent : PIECE;
		pattern_fill(n->piece, p->sent, len);
		assert_int_equal(kcpflow_send(p->k, n->piece, len), 0);
		p->sent += len;
	}
}

/* One turn: the streams fed, the datagrams in flight delivered, the timers run. */
static void net_turn(struct net *n)
{
	feed(n, &n->p[0]);
	feed(n, &n->p[1]);
	net_exchange(n);
	bool busy = queue_len(&n->q[0]) || queue_len(&n->q[1]);
	event_base_loop(n->base, busy ? EVLOOP_NONBLOCK : EVLOOP_ONCE);
}

#define NET_TURN_UNTIL(n, cond)                                                                    \
	do {                                                                                       \
		for (int turn_ = 0; turn_ < TURNS && !(cond); turn_++)                             \
			net_turn(n);                                                               \
		assert_true(cond);                                                                 \
	} while (0)

static void net_idle(struct net *n)
{
	for (int i = 0; i < IDLE_TURNS; i++)
		net_turn(n);
}

/* p[0] sends up bytes and p[1] down bytes; both arrive byte-exact, in order. */
static void check_streams(
	bool peer_is_ours, size_t chunk, unsigned loss_pct, size_t up, size_t down)
{
	struct net *n = net_new(peer_is_ours, chunk, loss_pct);

	n->p[0].to_send = up;
	n->p[1].to_send = down;
	NET_TURN_UNTIL(n, n->p[1].got == up && n->p[0].got == down);
	for (int i = 0; i < 2; i++) {
		assert_false(n->p[i].corrupt);
		assert_int_equal(n->p[i].gones, 0);
		if (loss_pct)
			assert_true(n->p[i].dropped > 0);
	}
	assert_int_equal(n->bad_input, 0);
	net_free(n);
}

static void test_stream_arrives_byte_exact_fast(void **state)
{
	(void)state;
	check_streams(true, FAST_CHUNK, 0, 4 * MIB, 1 * MIB);
}

static void test_stream_arrives_byte_exact_compat(void **state)
{
	(void)state;
	check_streams(false, COMPAT_CHUNK, 0, 4 * MIB, 1 * MIB);
}

static void test_stream_survives_loss_fast(void **state)
{
	(void)state;
	check_streams(true, FAST_CHUNK, 10, 4 * MIB, 1 * MIB);
	check_streams(true, 1400, 10, 4 * MIB, 1 * MIB); /* many small segments, many lost */
}

static void test_stream_survives_loss_compat(void **state)
{
	(void)state;
	/* small: a net4mqtt peer's window and timers make a lossy link slow */
	check_streams(false, COMPAT_CHUNK, 10, 128 * 1024, 32 * 1024);
}

/* ---- the end of the stream ---- */

static void test_end_waits_for_every_ack(void **state)
{
	struct net *n = net_new(true, FAST_CHUNK, 0);
	struct peer *tx = &n->p[0], *rx = &n->p[1];
	const size_t total = 512 * 1024;

	(void)state;
	tx->to_send = total;
	feed(n, tx);
	assert_int_equal(tx->sent, total);
	kcpflow_end(tx->k);
	assert_int_equal(tx->ends, 0);

	/* the data arrives but no ack does: no end */
	rx->loss_pct = 100;
	NET_TURN_UNTIL(n, rx->got == total);
	net_idle(n);
	assert_int_equal(tx->ends, 0);

	/* the acks come through: one end, acked, after everything arrived */
	rx->loss_pct = 0;
	NET_TURN_UNTIL(n, tx->ends == 1);
	assert_true(tx->end_acked);
	assert_int_equal(tx->other_got_at_end, total);
	net_idle(n);
	assert_int_equal(tx->ends, 1);
	assert_false(rx->corrupt);
	assert_int_equal(rx->ends, 0);
	net_free(n);
}

static void test_end_with_nothing_unacked_is_at_once(void **state)
{
	struct net *n = net_new(false, COMPAT_CHUNK, 0);

	(void)state;
	kcpflow_end(n->p[0].k);
	assert_int_equal(n->p[0].ends, 1);
	assert_true(n->p[0].end_acked);
	net_idle(n);
	assert_int_equal(n->p[0].ends, 1);
	net_free(n);
}

static void test_end_gives_up_waiting_unacked(void **state)
{
	struct net *n = net_new(true, FAST_CHUNK, 0);
	struct peer *tx = &n->p[0];

	(void)state;
	n->p[1].loss_pct = 100; /* no ack ever comes back */
	tx->to_send = 64 * 1024;
	feed(n, tx);
	kcpflow_end(tx->k);
	net_idle(n);
	assert_int_equal(tx->ends, 0);
	clock_skew_ms = EOF_WAIT_MS + 1000; /* past the wait, short of DEAD_MS */
	NET_TURN_UNTIL(n, tx->ends == 1);
	assert_false(tx->end_acked);
	assert_int_equal(tx->gones, 0);
	clock_skew_ms = 0;
	net_free(n);
}

/* ---- flow control ---- */

static void check_flow_control(bool peer_is_ours, size_t chunk)
{
	struct net *n = net_new(peer_is_ours, chunk, 0);
	struct peer *tx = &n->p[0], *rx = &n->p[1];
	unsigned long rooms;
	size_t sent;

	/* the receiver takes nothing: its window fills, and the sender stops wanting more */
	rx->can_take = false;
	tx->to_send = 64 * MIB;
	NET_TURN_UNTIL(n, !kcpflow_wants_more(tx->k));
	net_idle(n);
	assert_false(kcpflow_wants_more(tx->k));
	assert_int_equal(rx->got, 0);
	assert_false(kcpflow_drained(rx->k));
	sent = tx->sent;
	assert_true(sent < tx->to_send);

	/* it takes again: the sender hears of the room and wants more */
	rooms = tx->rooms;
	rx->can_take = true;
	kcpflow_deliver(rx->k);
	assert_true(rx->got > 0);
	NET_TURN_UNTIL(n, kcpflow_wants_more(tx->k));
	assert_true(tx->rooms > rooms);
	NET_TURN_UNTIL(n, tx->sent > sent && rx->got >= sent);
	assert_false(rx->corrupt);
	net_free(n);
}

static void test_full_window_stops_sender_fast(void **state)
{
	(void)state;
	check_flow_control(true, 1400);
}

static void test_full_window_stops_sender_compat(void **state)
{
	(void)state;
	check_flow_control(false, COMPAT_CHUNK);
}

/* ---- callbacks that end the owner ---- */

static void test_deliver_that_frees_session_is_last_touch(void **state)
{
	struct net *n = net_new(true, FAST_CHUNK, 0);
	struct peer *tx = &n->p[0], *rx = &n->p[1];

	(void)state;
	rx->frees_in = FREES_IN_DELIVER;
	tx->to_send = 1 * MIB;
	NET_TURN_UNTIL(n, rx->k == NULL);
	assert_true(rx->got > 0);
	assert_false(rx->corrupt);
	net_idle(n); /* the sender goes on alone; what it sends is dropped */
	net_free(n);
}

static void test_end_at_once_or_timed_out_frees_session_is_last_touch(void **state)
{
	struct net *n = net_new(true, FAST_CHUNK, 0);
	struct peer *tx = &n->p[0], *rx = &n->p[1];

	(void)state;
	/* at once, from kcpflow_end */
	rx->frees_in = FREES_IN_END;
	kcpflow_end(rx->k);
	assert_null(rx->k);
	assert_int_equal(rx->ends, 1);

	/* from the timer, when the wait for acks runs out (the receiver is gone: none comes) */
	tx->frees_in = FREES_IN_END;
	tx->to_send = 64 * 1024;
	feed(n, tx);
	kcpflow_end(tx->k);
	clock_skew_ms = EOF_WAIT_MS + 1000;
	NET_TURN_UNTIL(n, tx->k == NULL);
	assert_int_equal(tx->ends, 1);
	assert_false(tx->end_acked);
	net_idle(n);
	clock_skew_ms = 0;
	net_free(n);
}

static void test_end_on_last_ack_frees_session_is_last_touch(void **state)
{
	struct net *n = net_new(true, FAST_CHUNK, 0);
	struct peer *tx = &n->p[0], *rx = &n->p[1];

	(void)state;
	tx->frees_in = FREES_IN_END;
	tx->to_send = 256 * 1024;
	feed(n, tx);
	kcpflow_end(tx->k);
	assert_non_null(tx->k);
	NET_TURN_UNTIL(n, tx->k == NULL);
	assert_int_equal(tx->ends, 1);
	assert_true(tx->end_acked);
	assert_int_equal(rx->got, 256 * 1024);
	net_idle(n);
	net_free(n);
}

static void test_peer_gone_that_frees_session_is_last_touch(void **state)
{
	struct net *n = net_new(true, FAST_CHUNK, 100); /* nothing gets through */
	struct peer *tx = &n->p[0];

	(void)state;
	tx->frees_in = FREES_IN_PEER_GONE;
	tx->to_send = 64 * 1024;
	feed(n, tx);
	net_idle(n);
	assert_int_equal(tx->gones, 0);
	clock_skew_ms = DEAD_MS + 1000;
	NET_TURN_UNTIL(n, tx->k == NULL);
	assert_int_equal(tx->gones, 1);
	assert_int_equal(tx->ends, 0);
	net_idle(n);
	clock_skew_ms = 0;
	net_free(n);
}

/* ---- kcp flows end to end through flow.c ---- */

/* One side: a flow table with one kcp flow on a socketpair, and its client. */
struct side {
	struct flow_table *t;
	struct flow_stats stats;
	struct side *other;
	struct queue inbox; /* what the other side published, for this side's flow */
	const char *topic;
	int client;
	const uint8_t *up; /* what the client sends */
	size_t up_len, written;
	bool shut;
	uint8_t *down; /* what the client received */
	size_t down_cap, got;
	bool eof;
};

static int side_publish(void *arg, const char *topic, const void *payload, size_t len)
{
	struct side *s = arg;

	if (strcmp(topic, s->topic))
		return -EINVAL;
	queue_push(&s->other->inbox, payload, len);
	return 0;
}

static void side_open(struct side *s, struct event_base *base, size_t chunk, const char *topic)
{
	const struct flow_table_config cfg = {
		.base = base,
		.publish = side_publish,
		.publish_arg = s,
		.name = topic,
		.limits = { .max_flows = 8, .max_memory = 0, .udp_timeout_s = 60 },
		.stats = &s->stats,
	};
	const struct flow_spec spec = {
		.kind = FLOW_STREAM,
		.proto = MQTT_PROTO_KCP,
		.key = FLOW_KEY,
		.topic = topic,
		.chunk = chunk,
	};
	struct flow *f;
	int sv[2];

	s->topic = topic;
	assert_int_equal(flow_table_new(&cfg, &s->t), 0);
	f = flow_new(s->t, &spec);
	assert_non_null(f);
	assert_non_null(f->kcp);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	flow_attach(f, sv[1]);
	s->client = sv[0];
}

static void side_close(struct side *s)
{
	flow_destroy_all(s->t);
	flow_table_free(s->t);
	queue_free(&s->inbox);
	close(s->client);
}

/* The client writes what its socket takes, and ends its stream once all is written. */
static void side_write(struct side *s)
{
	while (s->written < s->up_len) {
		ssize_t w =
			send(s->client, s->up + s->written, s->up_len - s->written, MSG_NOSIGNAL);
		if (w < 0) {
			assert_int_equal(errno, EAGAIN);
			return;
		}
		s->written += (size_t)w;
	}
	if (!s->shut) {
		assert_int_equal(shutdown(s->client, SHUT_WR), 0);
		s->shut = true;
	}
}

/* The client reads what arrived; more than was sent fails the test. */
static void side_read(struct side *s)
{
	while (!s->eof) {
		uint8_t scratch[1];
		uint8_t *dst = s->got < s->down_cap ? s->down + s->got : scratch;
		ssize_t r = read(s->client, dst, s->got < s->down_cap ? s->down_cap - s->got : 1);
		if (r == 0) {
			s->eof = true;
			return;
		}
		if (r < 0) {
			assert_int_equal(errno, EAGAIN);
			return;
		}
		assert_true(s->got + (size_t)r <= s->down_cap);
		s->got += (size_t)r;
	}
}

/* The broker delivers to this side what the other side published. */
static void side_receive(struct side *s)
{
	size_t count = queue_len(&s->inbox);
	struct dgram d;

	while (count-- && queue_pop(&s->inbox, &d)) {
		struct flow *f = flow_table_find(s->t, FLOW_KEY);
		if (f) /* else the flow is gone: a role drops it too */
			flow_input(f, d.p, d.len);
		free(d.p);
	}
}

static bool side_done(const struct side *s)
{
	return s->eof && flow_table_size(s->t) == 0;
}

static void check_flows_end_to_end(size_t chunk, size_t a_to_b, size_t b_to_a)
{
	struct event *tick;
	struct event_base *base = base_new(&tick);
	struct side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	uint8_t *data = malloc(a_to_b > b_to_a ? a_to_b : b_to_a);
	int turn;

	assert_true(a && b && data);
	pattern_fill(data, 0, a_to_b > b_to_a ? a_to_b : b_to_a);
	a->other = b;
	b->other = a;
	side_open(a, base, chunk, "n4m/a-to-b");
	side_open(b, base, chunk, "n4m/b-to-a");
	a->up = b->up = data;
	a->up_len = b->down_cap = a_to_b;
	b->up_len = a->down_cap = b_to_a;
	a->down = malloc(b_to_a);
	b->down = malloc(a_to_b);
	assert_true(a->down && b->down);

	for (turn = 0; turn < TURNS && !(side_done(a) && side_done(b)); turn++) {
		side_write(a);
		side_write(b);
		side_read(a);
		side_read(b);
		side_receive(a);
		side_receive(b);
		bool busy = queue_len(&a->inbox) || queue_len(&b->inbox);
		event_base_loop(base, busy ? EVLOOP_NONBLOCK : EVLOOP_ONCE);
	}
	assert_true(side_done(a) && side_done(b));
	assert_int_equal(b->got, a_to_b);
	assert_memory_equal(b->down, data, a_to_b);
	assert_int_equal(a->got, b_to_a);
	assert_memory_equal(a->down, data, b_to_a);
	for (struct side *s = a; s; s = s == a ? b : NULL) {
		/* closed once, cleanly: no error lingers, nothing refused or lost */
		assert_int_equal(s->stats.opened, 1);
		assert_int_equal(s->stats.closed, 1);
		assert_int_equal(s->stats.lingering, 0);
		assert_int_equal(s->stats.overflowed, 0);
		assert_int_equal(s->stats.bad_payload, 0);
		assert_int_equal(s->stats.unknown_flow, 0);
	}
	side_close(a);
	side_close(b);
	free(a->down);
	free(b->down);
	free(a);
	free(b);
	free(data);
	base_free(base, tick);
}

static void test_kcp_flows_end_to_end_fast(void **state)
{
	(void)state;
	check_flows_end_to_end(FAST_CHUNK, 4 * MIB, 512 * 1024);
}

static void test_kcp_flows_end_to_end_compat(void **state)
{
	(void)state;
	check_flows_end_to_end(COMPAT_CHUNK, 1 * MIB, 256 * 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_arrives_byte_exact_fast),
		cmocka_unit_test(test_stream_arrives_byte_exact_compat),
		cmocka_unit_test(test_stream_survives_loss_fast),
		cmocka_unit_test(test_stream_survives_loss_compat),
		cmocka_unit_test(test_end_waits_for_every_ack),
		cmocka_unit_test(test_end_with_nothing_unacked_is_at_once),
		cmocka_unit_test(test_end_gives_up_waiting_unacked),
		cmocka_unit_test(test_full_window_stops_sender_fast),
		cmocka_unit_test(test_full_window_stops_sender_compat),
		cmocka_unit_test(test_deliver_that_frees_session_is_last_touch),
		cmocka_unit_test(test_end_at_once_or_timed_out_frees_session_is_last_touch),
		cmocka_unit_test(test_end_on_last_ack_frees_session_is_last_touch),
		cmocka_unit_test(test_peer_gone_that_frees_session_is_last_touch),
		cmocka_unit_test(test_kcp_flows_end_to_end_fast),
		cmocka_unit_test(test_kcp_flows_end_to_end_compat),
	};

	/* as the daemon does: a flow's write to a gone socket fails with EPIPE */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
