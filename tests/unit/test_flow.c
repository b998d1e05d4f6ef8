/* Unit tests of gateway/core/flow and flowtable: a flow between a socket and MQTT, its ends, limits and teardown. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gateway/core/flow.h"
#include "gateway/core/flowtable.h"
#include "gateway/lib/map.h"

#define KEY_A "ag/lo/tcp/10.0.0.2:40000/192.0.2.1:80"
#define KEY_B "ag/lo/tcp/10.0.0.2:40001/192.0.2.1:80"
#define KEY_C "ag/lo/tcp/10.0.0.2:40002/192.0.2.1:80"
#define KEY_D "ag/lo/tcp/10.0.0.2:40003/192.0.2.1:80"
#define KEY_UDP "ag/lo/udp/10.0.0.2:5353/192.0.2.53:53"
#define KEY_KCP "ag/lo/kcp/10.0.0.2:40004/192.0.2.1:80"
#define TOPIC_OF(key) "n4m/" key
#define CHUNK 1000
#define KCP_CHUNK 32768
#define TICK_MS 2	 /* the longest one loop turn waits when nothing happens */
#define PUMP_TURNS 20000 /* turns before a wait counts as failed */
#define IDLE_TURNS 20	 /* turns that must pass with nothing happening */
#define SINK_MAGIC 0x5eed5eed5eed5eedull

/* Runs the loop until cond holds, at most PUMP_TURNS turns; fails if it never does. */
#define PUMP_UNTIL(fx, cond)                                                                       \
	do {                                                                                       \
		for (int turn_ = 0; turn_ < PUMP_TURNS && !(cond); turn_++)                        \
			event_base_loop((fx)->base, EVLOOP_ONCE);                                  \
		assert_true(cond);                                                                 \
	} while (0)

struct message {
	char *topic;
	uint8_t *data;
	size_t len;
};

/* The broker, as far as a flow table can tell: every publish, in order. */
struct recorder {
	struct message *msgs;
	size_t n, cap;
	int fail; /* what publish returns: 0, or an error such as -ENOTCONN */
};

struct fixture {
	struct event_base *base;
	struct event *tick; /* keeps one EVLOOP_ONCE turn at most TICK_MS long */
	struct flow_stats stats;
	struct recorder rec;
	struct flow_table *t;
};

/* ---- helpers ---- */

static uint8_t pattern_at(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;

	return (uint8_t)(x >> 24 ^ x >> 11 ^ i >> 16);
}

/* A buffer of len bytes of the pattern, from stream offset 0. */
static uint8_t *pattern_new(size_t len)
{
	uint8_t *p = malloc(len);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_at(i);
	return p;
}

static bool pattern_matches(const uint8_t *p, size_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern_at(off + i))
			return false;
	return true;
}

static int record_publish(void *arg, const char *topic, const void *payload, size_t len)
{
	struct recorder *r = arg;

	if (r->fail)
		return r->fail;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->msgs = realloc(r->msgs, r->cap * sizeof(*r->msgs));
		assert_non_null(r->msgs);
	}
	struct message *m = &r->msgs[r->n++];
	m->topic = strdup(topic);
	m->data = malloc(len ? len : 1);
	assert_true(m->topic && m->data);
	memcpy(m->data, payload, len);
	m->len = len;
	return 0;
}

static void recorder_clear(struct recorder *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->msgs[i].topic);
		free(r->msgs[i].data);
	}
	r->n = 0;
}

static size_t empty_messages(const struct recorder *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->msgs[i].len == 0;
	return n;
}

/* Bytes published so far (the end signal aside). */
static size_t published_bytes(const struct recorder *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->msgs[i].len;
	return n;
}

/* Checks every message is on topic, at most chunk long, and that together
 * they are the pattern from offset 0; returns their total length. */
static size_t check_published_stream(const struct recorder *r, const char *topic, size_t chunk)
{
	size_t off = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct message *m = &r->msgs[i];
		assert_string_equal(m->topic, topic);
		assert_true(m->len <= chunk);
		assert_true(pattern_matches(m->data, off, m->len));
		off += m->len;
	}
	return off;
}

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
}

static struct flow_table *table_new(struct fixture *fx, struct flow_stats *stats, struct map *index)
{
	const struct flow_table_config cfg = {
		.base = fx->base,
		.publish = record_publish,
		.publish_arg = &fx->rec,
		.name = "test",
		.limits = { .max_flows = 64, .max_memory = 0, .udp_timeout_s = 60 },
		.stats = stats,
		.index = index,
	};
	struct flow_table *t = NULL;

	assert_int_equal(flow_table_new(&cfg, &t), 0);
	assert_non_null(t);
	return t;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct timeval tick = { 0, TICK_MS * 1000 };

	if (!fx || !(fx->base = event_base_new()))
		return -1;
	fx->tick = event_new(fx->base, -1, EV_PERSIST, noop_cb, NULL);
	if (!fx->tick || event_add(fx->tick, &tick))
		return -1;
	fx->t = table_new(fx, &fx->stats, NULL);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	flow_destroy_all(fx->t);
	flow_table_free(fx->t);
	event_free(fx->tick);
	event_base_free(fx->base);
	recorder_clear(&fx->rec);
	free(fx->rec.msgs);
	free(fx);
	return 0;
}

static void pump_idle(struct fixture *fx)
{
	for (int i = 0; i < IDLE_TURNS; i++)
		event_base_loop(fx->base, EVLOOP_ONCE);
}

static struct flow *new_flow_in(struct flow_table *t, enum flow_kind kind, enum mqtt_proto proto,
	const char *key, const char *topic, size_t chunk)
{
	const struct flow_spec spec = {
		.kind = kind,
		.proto = proto,
		.key = key,
		.topic = topic,
		.chunk = chunk,
	};

	return flow_new(t, &spec);
}

/* A stream flow on one end of a socketpair; *client is the other end, non-blocking. */
static struct flow *open_stream_in(struct flow_table *t, enum mqtt_proto proto, const char *key,
	const char *topic, size_t chunk, int *client)
{
	struct flow *f = new_flow_in(t, FLOW_STREAM, proto, key, topic, chunk);
	int sv[2];

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	flow_attach(f, sv[1]);
	*client = sv[0];
	return f;
}

static struct flow *open_stream(struct fixture *fx, const char *key, const char *topic, int *client)
{
	return open_stream_in(fx->t, MQTT_PROTO_TCP, key, topic, CHUNK, client);
}

/* Writes what the socket takes of data[*off, len). */
static void write_some(int fd, const uint8_t *data, size_t len, size_t *off)
{
	while (*off < len) {
		ssize_t w = send(fd, data + *off, len - *off, MSG_NOSIGNAL);
		if (w < 0) {
			assert_true(errno == EAGAIN);
			return;
		}
		*off += (size_t)w;
	}
}

/* Reads what the socket has into buf[*off, cap); true at the end of the
 * stream (an EOF, or a reset). More than cap bytes fail the test. */
static bool read_some(int fd, uint8_t *buf, size_t cap, size_t *off)
{
	for (;;) {
		uint8_t scratch[1];
		uint8_t *dst = *off < cap ? buf + *off : scratch;
		ssize_t r = read(fd, dst, *off < cap ? cap - *off : sizeof(scratch));
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return true;
		if (r < 0) {
			assert_int_equal(errno, EAGAIN);
			return false;
		}
		assert_true(*off + (size_t)r <= cap); /* nothing beyond what was sent */
		*off += (size_t)r;
	}
}

/* Bytes waiting unread in the socket's receive queue. */
static size_t unread(int fd)
{
	int n = 0;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return (size_t)n;
}

/* --max-memory reads the heap from mallinfo2(), which a sanitizer's allocator leaves at zero. */
static void skip_unless_heap_is_measured(void)
{
	struct mallinfo2 mi = mallinfo2();

	if (mi.uordblks + mi.hblkhd == 0)
		skip();
}

/* ---- the flow key and admission ---- */

static void test_busy_flows_share_the_window_budget(void **state)
{
	struct flow_table t = { 0 };
	(void)state;

	assert_int_equal(flow_window(&t), FLOW_WINDOW); /* nothing busy */
	t.busy_now = 1;
	assert_int_equal(flow_window(&t), FLOW_WINDOW);
	t.busy_now = 16;
	assert_int_equal(flow_window(&t), FLOW_WINDOW);
	t.busy_prev = 32; /* the busier of the two epochs counts */
	assert_int_equal(flow_window(&t), FLOW_WINDOW_BUDGET / 32);
	t.busy_now = 100;
	assert_int_equal(flow_window(&t), FLOW_WINDOW_BUDGET / 100);
	assert_true(flow_window(&t) * 100 <= FLOW_WINDOW_BUDGET);
	t.busy_now = 100000;
	assert_int_equal(flow_window(&t), FLOW_WINDOW_MIN);
}

static void test_key_formats_and_refuses_overlong(void **state)
{
	char buf[FLOW_KEY_MAX], tiny[16];

	(void)state;
	assert_int_equal(flow_key(buf, sizeof(buf), "ag", "lo", MQTT_PROTO_TCP, "1.2.3.4:5",
				 "[2001:db8::1]:80"),
		0);
	assert_string_equal(buf, "ag/lo/tcp/1.2.3.4:5/[2001:db8::1]:80");
	assert_int_equal(
		flow_key(tiny, sizeof(tiny), "ag", "lo", MQTT_PROTO_UDP, "1.2.3.4:5", "6.7.8.9:10"),
		-ENAMETOOLONG);
}

static void test_new_indexes_counts_and_refuses_over_max_flows(void **state)
{
	struct fixture *fx = *state;
	char key[sizeof(KEY_A)];
	struct flow *f, *g;

	fx->t->limits.max_flows = 2;
	memcpy(key, KEY_A, sizeof(key));
	const struct flow_spec spec = {
		.kind = FLOW_STREAM,
		.proto = MQTT_PROTO_TCP,
		.key = key,
		.topic = TOPIC_OF(KEY_A),
		.chunk = CHUNK,
		.priv_size = 3,
	};
	f = flow_new(fx->t, &spec);
	assert_non_null(f);
	memset(key, 'x', sizeof(key) - 1); /* the flow keeps its own copy */
	assert_ptr_equal(flow_table_find(fx->t, KEY_A), f);
	assert_string_equal(f->key, KEY_A);
	assert_string_equal(f->topic, TOPIC_OF(KEY_A));
	assert_ptr_equal(f->table, fx->t);
	assert_true(flow_is_open(f));
	assert_int_equal((uintptr_t)flow_priv(f) % _Alignof(max_align_t), 0);
	assert_memory_equal(flow_priv(f), "\0\0\0", 3);
	assert_int_equal(fx->stats.opened, 1);
	assert_int_equal(flow_table_size(fx->t), 1);

	g = new_flow_in(fx->t, FLOW_STREAM, MQTT_PROTO_TCP, KEY_B, TOPIC_OF(KEY_B), CHUNK);
	assert_non_null(g);
	assert_int_not_equal(g->id, f->id);
	assert_int_equal(fx->stats.opened, 2);

	/* a third is over max_flows */
	assert_null(new_flow_in(fx->t, FLOW_STREAM, MQTT_PROTO_TCP, KEY_C, TOPIC_OF(KEY_C), CHUNK));
	assert_int_equal(fx->stats.over_limit, 1);
	assert_int_equal(fx->stats.opened, 2);
	assert_int_equal(flow_table_size(fx->t), 2);
	assert_null(flow_table_find(fx->t, KEY_C));

	/* destroying one frees its key and its place at once */
	flow_destroy(g);
	assert_null(flow_table_find(fx->t, KEY_B));
	assert_int_equal(flow_table_size(fx->t), 1);
	g = new_flow_in(fx->t, FLOW_STREAM, MQTT_PROTO_TCP, KEY_C, TOPIC_OF(KEY_C), CHUNK);
	assert_non_null(g);
	assert_ptr_equal(flow_table_find(fx->t, KEY_C), g);
}

static void test_new_refused_over_max_memory(void **state)
{
	struct fixture *fx = *state;

	skip_unless_heap_is_measured();
	fx->t->limits.max_memory = 1; /* any heap at all is over it */
	assert_null(new_flow_in(fx->t, FLOW_STREAM, MQTT_PROTO_TCP, KEY_A, TOPIC_OF(KEY_A), CHUNK));
	assert_int_equal(fx->stats.over_limit, 1);
	assert_int_equal(fx->stats.opened, 0);
	assert_int_equal(flow_table_size(fx->t), 0);
}

/* ---- stream data ---- */

static void test_up_publishes_socket_bytes_in_chunks(void **state)
{
	struct fixture *fx = *state;
	const size_t total = 300 * 1024 + 123;
	uint8_t *data = pattern_new(total);
	size_t written = 0;
	int client;
	struct flow *f = open_stream(fx, KEY_A, TOPIC_OF(KEY_A), &client);

	for (int turn = 0; turn < PUMP_TURNS && published_bytes(&fx->rec) < total; turn++) {
		write_some(client, data, total, &written);
		event_base_loop(fx->base, EVLOOP_ONCE);
	}
	assert_int_equal(check_published_stream(&fx->rec, TOPIC_OF(KEY_A), CHUNK), total);
	assert_true(fx->rec.n >= (total + CHUNK - 1) / CHUNK);
	assert_int_equal(empty_messages(&fx->rec), 0);
	assert_int_equal(f->bytes_up, total);
	assert_true(flow_is_open(f));
	close(client);
	free(data);
}

static void test_up_splits_a_stream_payload_at_chunk(void **state)
{
	struct fixture *fx = *state;
	uint8_t *data = pattern_new(2 * CHUNK + 500);
	struct flow *f =
		new_flow_in(fx->t, FLOW_STREAM, MQTT_PROTO_TCP, KEY_A, TOPIC_OF(KEY_A), CHUNK);

	assert_non_null(f);
	flow_up(f, data, 2 * CHUNK + 500);
	assert_int_equal(fx->rec.n, 3);
	assert_int_equal(fx->rec.msgs[0].len, CHUNK);
	assert_int_equal(fx->rec.msgs[1].len, CHUNK);
	assert_int_equal(fx->rec.msgs[2].len, 500);
	assert_int_equal(check_published_stream(&fx->rec, TOPIC_OF(KEY_A), CHUNK), 2 * CHUNK + 500);
	free(data);
}

static void test_down_writes_payloads_to_socket_in_order(void **state)
{
	struct fixture *fx = *state;
	const size_t total = 300 * 1024 + 77;
	uint8_t *data = pattern_new(total), *got = malloc(total);
	size_t sent = 0, received = 0;
	int client;
	struct flow *f = open_stream(fx, KEY_A, TOPIC_OF(KEY_A), &client);

	assert_non_null(got);
	/* payloads of every size from 1 byte up, more than the socket holds unread */
	for (size_t n = 1; sent < total; n = n * 3 + 1) {
		if (n > 40000)
			n = 1;
		if (n > total - sent)
			n = total - sent;
		flow_input(f, data + sent, n);
		sent += n;
	}
	assert_true(flow_is_open(f));
	for (int turn = 0; turn < PUMP_TURNS && received < total; turn++) {
		assert_false(read_some(client, got, total, &received));
		event_base_loop(fx->base, EVLOOP_ONCE);
	}
	assert_int_equal(received, total);
	assert_memory_equal(got, data, total);
	assert_int_equal(f->bytes_down, total);
	assert_int_equal(fx->stats.overflowed, 0);
	assert_int_equal(fx->rec.n, 0);
	close(client);
	free(got);
	free(data);
}

/* ---- the ends of a stream ---- */

static void test_half_close_then_peer_end_closes_cleanly(void **state)
{
	struct fixture *fx = *state;
	uint8_t buf[16];
	size_t got = 0;
	int client;
	struct flow *f = open_stream(fx, KEY_A, TOPIC_OF(KEY_A), &client);

	/* the client ends its direction: one end signal, and the flow goes on */
	assert_int_equal(shutdown(client, SHUT_WR), 0);
	PUMP_UNTIL(fx, empty_messages(&fx->rec) == 1);
	pump_idle(fx);
	assert_int_equal(fx->rec.n, 1);
	assert_string_equal(fx->rec.msgs[0].topic, TOPIC_OF(KEY_A));
	assert_true(flow_is_open(f));
	assert_int_equal(fx->stats.closed, 0);

	/* the other direction still carries data */
	flow_input(f, (const uint8_t *)"hello", 5);
	PUMP_UNTIL(fx, (read_some(client, buf, sizeof(buf), &got), got == 5));
	assert_memory_equal(buf, "hello", 5);

	/* the peer ends too: the client reads EOF and the flow closes without error */
	flow_input(f, NULL, 0);
	assert_true(read_some(client, buf, sizeof(buf), &got));
	assert_int_equal(got, 5);
	assert_false(flow_is_open(f));
	assert_false(f->lingering);
	assert_int_equal(fx->stats.closed, 1);
	assert_int_equal(fx->rec.n, 1); /* no second end signal */

	/* freed once the loop runs: the key is free, nothing lingers */
	pump_idle(fx);
	assert_null(flow_table_find(fx->t, KEY_A));
	assert_int_equal(flow_table_size(fx->t), 0);
	assert_int_equal(fx->stats.lingering, 0);
	assert_int_equal(fx->stats.overflowed + fx->stats.bad_payload, 0);
	close(client);
}

static void test_peer_end_first_then_client_eof_closes_cleanly(void **state)
{
	struct fixture *fx = *state;
	uint8_t buf[16];
	size_t got = 0;
	int client;
	struct flow *f = open_stream(fx, KEY_A, TOPIC_OF(KEY_A), &client);

	flow_input(f, (const uint8_t *)"bye", 3);
	flow_input(f, NULL, 0);
	PUMP_UNTIL(fx, read_some(client, buf, sizeof(buf), &got));
	assert_int_equal(got, 3);
	assert_true(flow_is_open(f));

	/* data after the end of the stream is refused, not written */
	flow_input(f, (const uint8_t *)"late", 4);
	assert_int_equal(fx->stats.bad_payload, 1);

	/* the client can still send, and then ends */
	assert_int_equal(write(client, "up", 2), 2);
	assert_int_equal(shutdown(client, SHUT_WR), 0);
	PUMP_UNTIL(fx, fx->stats.closed == 1);
	assert_int_equal(fx->rec.n, 2);
	assert_memory_equal(fx->rec.msgs[0].data, "up", 2);
	assert_int_equal(fx->rec.msgs[1].len, 0);
	pump_idle(fx);
	assert_null(flow_table_find(fx->t, KEY_A));
	assert_int_equal(fx->stats.lingering, 0);
	close(client);
}

static void test_abort_resets_client_and_tombstone_answers(void **state)
{
	struct fixture *fx = *state;
	struct timeval before, after, diff;
	uint8_t buf[16];
	int client;
	struct flow *f = open_stream(fx, KEY_A, TOPIC_OF(KEY_A), &client);

	/* two end signals: the peer aborted */
	flow_input(f, NULL, 0);
	assert_true(flow_is_open(f));
	flow_input(f, NULL, 0);
	assert_false(flow_is_open(f));
	assert_true(f->lingering);
	assert_int_equal(fx->stats.closed, 1);
	assert_int_equal(fx->stats.lingering, 1);
	/* the flow answered with its own end signal */
	assert_int_equal(fx->rec.n, 1);
	assert_int_equal(fx->rec.msgs[0].len, 0);

	/* the client's connection is over: no data, an end or a reset, and writes fail */
	errno = 0;
	ssize_t r = read(client, buf, sizeof(buf));
	assert_true(r == 0 || (r < 0 && errno == ECONNRESET));
	assert_int_equal(send(client, "x", 1, MSG_NOSIGNAL), -1);
	assert_true(errno == EPIPE || errno == ECONNRESET);

	/* the tombstone keeps the key, and answers data with another end signal, rate-limited */
	pump_idle(fx);
	assert_ptr_equal(flow_table_find(fx->t, KEY_A), f);
	gettimeofday(&before, NULL);
	flow_input(f, (const uint8_t *)"late", 4);
	flow_input(f, (const uint8_t *)"later", 5);
	gettimeofday(&after, NULL);
	assert_int_equal(fx->stats.unknown_flow, 2);
	assert_int_equal(fx->rec.n, empty_messages(&fx->rec));
	assert_true(fx->rec.n >= 2); /* the first answer is at once */
	timersub(&after, &before, &diff);
	if (diff.tv_sec == 0 && diff.tv_usec < FLOW_ABORT_REPEAT_MS * 1000)
		assert_int_equal(fx->rec.n, 2); /* the second, this soon, is not answered */
	/* its own end signals are not data */
	flow_input(f, NULL, 0);
	assert_int_equal(fx->stats.unknown_flow, 2);
	assert_int_equal(fx->stats.closed, 1);

	/* a new flow with the same key replaces it at once */
	flow_destroy(f);
	assert_null(flow_table_find(fx->t, KEY_A));
	assert_int_equal(fx->stats.lingering, 0);
	close(client);
}

/* ---- congestion and limits ---- */

static void test_pause_stops_reading_and_resume_publishes_all(void **state)
{
	struct fixture *fx = *state;
	const size_t total = 100 * 1024;
	uint8_t *data = pattern_new(total);
	size_t written = 0;
	int client;
	struct flow *f = open_stream(fx, KEY_A, TOPIC_OF(KEY_A), &client);

	flow_pause_all(fx->t, true);
	write_some(client, data, total, &written);
	assert_true(written > 0);
	pump_idle(fx);
	assert_int_equal(fx->rec.n, 0);
	assert_int_equal(unread(f->fd), written);

	flow_pause_all(fx->t, false);
	for (int turn = 0; turn < PUMP_TURNS && published_bytes(&fx->rec) < total; turn++) {
		write_some(client, data, total, &written);
		event_base_loop(fx->base, EVLOOP_ONCE);
	}
	assert_int_equal(check_published_stream(&fx->rec, TOPIC_OF(KEY_A), CHUNK), total);
	assert_true(flow_is_open(f));
	close(client);
	free(data);
}

static void test_slow_client_over_cap_ends_flow(void **state)
{
	struct fixture *fx = *state;
	const size_t piece = 64 * 1024;
	uint8_t *data = pattern_new(FLOW_OUT_CAP + 8 * piece);
	size_t accepted = 0, queued = 0, in_socket = 0, got = 0;
	uint8_t *read_back;
	int client;
	struct flow *f = open_stream(fx, KEY_A, TOPIC_OF(KEY_A), &client);

	/* the client never reads: everything accepted is in its socket or queued */
	while (flow_is_open(f) && accepted + piece <= FLOW_OUT_CAP + 8 * piece) {
		flow_input(f, data + accepted, piece);
		if (!flow_is_open(f))
			break;
		accepted += piece;
		queued = flow_queued(f);
		in_socket = unread(client);
		assert_int_equal(queued + in_socket, accepted);
		assert_true(queued <= FLOW_OUT_CAP);
		assert_int_equal(fx->stats.overflowed, 0);
	}
	assert_false(flow_is_open(f));
	assert_true(queued + piece > FLOW_OUT_CAP); /* it ended at the cap, not before */
	assert_int_equal(fx->stats.overflowed, 1);
	assert_int_equal(fx->stats.closed, 1);
	assert_int_equal(empty_messages(&fx->rec), 1);
	assert_int_equal(fx->rec.n, 1);

	/* what reached the socket is the stream's start, byte-exact; then the end */
	read_back = malloc(in_socket);
	assert_non_null(read_back);
	assert_true(read_some(client, read_back, in_socket, &got));
	assert_int_equal(got, in_socket);
	assert_memory_equal(read_back, data, in_socket);
	free(read_back);
	close(client);
	free(data);
}

static void test_tight_cap_while_heap_over_max_memory(void **state)
{
	struct fixture *fx = *state;
	const size_t piece = 64 * 1024;
	uint8_t *data;
	size_t accepted = 0;
	int client;
	struct flow *f;

	skip_unless_heap_is_measured();
	data = pattern_new(FLOW_OUT_CAP);
	f = open_stream(fx, KEY_A, TOPIC_OF(KEY_A), &client);
	fx->t->limits.max_memory = 1; /* the heap is over it from now on */
	while (flow_is_open(f) && accepted + piece <= FLOW_OUT_CAP) {
		flow_input(f, data + accepted, piece);
		if (flow_is_open(f)) {
			accepted += piece;
			assert_true(flow_queued(f) <= FLOW_TIGHT_CAP);
		}
	}
	assert_false(flow_is_open(f));
	assert_true(accepted < FLOW_TIGHT_CAP + unread(client) + piece);
	assert_int_equal(fx->stats.overflowed, 1);
	close(client);
	free(data);
}

static void test_publish_failure_closes_with_error(void **state)
{
	struct fixture *fx = *state;
	int client;
	struct flow *f = open_stream(fx, KEY_A, TOPIC_OF(KEY_A), &client);

	fx->rec.fail = -ENOTCONN;
	assert_int_equal(write(client, "data", 4), 4);
	PUMP_UNTIL(fx, fx->stats.closed == 1);
	assert_ptr_equal(flow_table_find(fx->t, KEY_A), f);
	assert_false(flow_is_open(f));
	assert_true(f->lingering); /* an error, not a clean end */
	assert_int_equal(fx->stats.lingering, 1);
	assert_int_equal(f->bytes_up, 0);
	assert_int_equal(send(client, "x", 1, MSG_NOSIGNAL), -1);
	close(client);
}

static void test_close_all_ends_only_the_peer_given(void **state)
{
	struct fixture *fx = *state;
	struct flow *mine =
		new_flow_in(fx->t, FLOW_STREAM, MQTT_PROTO_TCP, "a1/l1/tcp/s/d", "n4m/a1", CHUNK);
	struct flow *other_local =
		new_flow_in(fx->t, FLOW_STREAM, MQTT_PROTO_TCP, "a1/l2/tcp/s/d", "n4m/a1l2", CHUNK);
	struct flow *prefix =
		new_flow_in(fx->t, FLOW_STREAM, MQTT_PROTO_TCP, "a10/l1/tcp/s/d", "n4m/a10", CHUNK);

	assert_true(mine && other_local && prefix);
	flow_close_all(fx->t, "agent gone", "a1", "l1");
	assert_false(flow_is_open(mine));
	assert_true(flow_is_open(other_local));
	assert_true(flow_is_open(prefix));
	flow_close_all(fx->t, "agent gone", "a1", NULL);
	assert_false(flow_is_open(other_local));
	assert_true(flow_is_open(prefix));
	flow_close_all(fx->t, "broker gone", NULL, NULL);
	assert_false(flow_is_open(prefix));
	assert_int_equal(fx->stats.closed, 3);
	assert_int_equal(empty_messages(&fx->rec), 3);
}

/* ---- datagrams ---- */

struct sink_log {
	uint8_t data[4][2048];
	size_t len[4];
	int n;
	bool priv_intact;
};

struct sink_priv {
	uint64_t magic;
	struct sink_log *log;
	char tag[40];
};

static void record_sink(struct flow *f, const uint8_t *payload, size_t len)
{
	struct sink_priv *p = flow_priv(f);
	struct sink_log *log = p->log;

	log->priv_intact &= p->magic == SINK_MAGIC && !strcmp(p->tag, "role bytes");
	if (log->n < 4 && len <= sizeof(log->data[0])) {
		memcpy(log->data[log->n], payload, len);
		log->len[log->n] = len;
	}
	log->n++;
}

static void test_sink_flow_hands_each_datagram_to_its_sink(void **state)
{
	struct fixture *fx = *state;
	struct sink_log log = { .priv_intact = true };
	const struct flow_spec spec = {
		.kind = FLOW_DGRAM_SINK,
		.proto = MQTT_PROTO_UDP,
		.key = KEY_UDP,
		.topic = TOPIC_OF(KEY_UDP),
		.chunk = CHUNK,
		.sink = record_sink,
		.priv_size = sizeof(struct sink_priv),
	};
	static const size_t sizes[] = { 1, 0, 1400, 37 };
	uint8_t *data = pattern_new(1400);
	struct flow *f = flow_new(fx->t, &spec);
	struct sink_priv *p;

	assert_non_null(f);
	p = flow_priv(f);
	p->magic = SINK_MAGIC;
	p->log = &log;
	strcpy(p->tag, "role bytes");
	flow_attach(f, -1);
	for (int i = 0; i < 4; i++)
		flow_input(f, data, sizes[i]);
	assert_int_equal(log.n, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(log.len[i], sizes[i]);
		assert_memory_equal(log.data[i], data, sizes[i]);
	}
	assert_true(log.priv_intact);
	assert_int_equal(f->bytes_down, 1 + 1400 + 37);

	/* a datagram from the role goes up whole; one over chunk is dropped */
	flow_up(f, data, CHUNK);
	flow_up(f, data, CHUNK + 1);
	assert_int_equal(fx->rec.n, 1);
	assert_int_equal(fx->rec.msgs[0].len, CHUNK);
	assert_string_equal(fx->rec.msgs[0].topic, TOPIC_OF(KEY_UDP));
	assert_int_equal(fx->stats.udp_dropped, 1);
	pump_idle(fx);
	assert_true(flow_is_open(f));
	free(data);
}

static void test_dgram_flow_publishes_each_datagram_whole(void **state)
{
	struct fixture *fx = *state;
	static const size_t sent[] = { 10, CHUNK, CHUNK + 1, 500, 1 };
	static const size_t published[] = { 10, CHUNK, 500, 1 };
	uint8_t *data = pattern_new(CHUNK + 1), buf[2048];
	struct flow *f =
		new_flow_in(fx->t, FLOW_DGRAM, MQTT_PROTO_UDP, KEY_UDP, TOPIC_OF(KEY_UDP), CHUNK);
	int sv[2];

	assert_non_null(f);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	flow_attach(f, sv[1]);

	for (int i = 0; i < 5; i++)
		assert_int_equal(send(sv[0], data, sent[i], 0), (ssize_t)sent[i]);
	PUMP_UNTIL(fx, fx->rec.n == 4 && fx->stats.udp_dropped == 1);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(fx->rec.msgs[i].topic, TOPIC_OF(KEY_UDP));
		assert_int_equal(fx->rec.msgs[i].len, published[i]);
		assert_memory_equal(fx->rec.msgs[i].data, data, published[i]);
	}

	/* from MQTT: each payload is one datagram on the socket */
	flow_input(f, data, 300);
	flow_input(f, data + 1, 700);
	assert_int_equal(recv(sv[0], buf, sizeof(buf), 0), 300);
	assert_memory_equal(buf, data, 300);
	assert_int_equal(recv(sv[0], buf, sizeof(buf), 0), 700);
	assert_memory_equal(buf, data + 1, 700);
	assert_true(flow_is_open(f));

	/* a udp flow ends without an end signal */
	flow_close(f, "test", false);
	pump_idle(fx);
	assert_int_equal(fx->rec.n, 4);
	assert_null(flow_table_find(fx->t, KEY_UDP));
	close(sv[0]);
	free(data);
}

/* ---- teardown ---- */

static void test_destroy_all_frees_flows_in_every_state(void **state)
{
	struct fixture *fx = *state;
	uint8_t *data = pattern_new(1 << 20);
	int open_client, half_client, dead_client, kcp_client, closing_client;
	struct flow *f;

	/* open, with bytes queued for a client that does not read */
	f = open_stream(fx, KEY_A, TOPIC_OF(KEY_A), &open_client);
	flow_input(f, data, 1 << 20);
	assert_true(flow_queued(f) > 0);
	/* half-closed */
	open_stream(fx, KEY_B, TOPIC_OF(KEY_B), &half_client);
	assert_int_equal(shutdown(half_client, SHUT_WR), 0);
	/* a lingering tombstone */
	f = open_stream(fx, KEY_C, TOPIC_OF(KEY_C), &dead_client);
	flow_input(f, NULL, 0);
	flow_input(f, NULL, 0);
	assert_true(f->lingering);
	/* closed cleanly, not yet freed by the loop */
	f = open_stream(fx, KEY_D, TOPIC_OF(KEY_D), &closing_client);
	/* kcp, with data in flight and its timer armed */
	open_stream_in(fx->t, MQTT_PROTO_KCP, KEY_KCP, TOPIC_OF(KEY_KCP), KCP_CHUNK, &kcp_client);
	assert_int_equal(write(kcp_client, data, 100000), 100000);
	/* a datagram flow with its idle timer, and one never attached */
	assert_non_null(new_flow_in(
		fx->t, FLOW_DGRAM_SINK, MQTT_PROTO_UDP, KEY_UDP, TOPIC_OF(KEY_UDP), CHUNK));
	flow_attach(flow_table_find(fx->t, KEY_UDP), -1);
	assert_non_null(new_flow_in(fx->t, FLOW_STREAM, MQTT_PROTO_TCP, "ag/lo/tcp/s/d",
		TOPIC_OF("ag/lo/tcp/s/d"), CHUNK));
	PUMP_UNTIL(
		fx, empty_messages(&fx->rec) >= 2 && fx->rec.n > 2); /* the half-close, kcp data */
	flow_close(f, "test", false);

	assert_int_equal(flow_table_size(fx->t), 7);
	flow_destroy_all(fx->t);
	assert_true(TAILQ_EMPTY(&fx->t->list));
	assert_int_equal(flow_table_size(fx->t), 0);
	assert_int_equal(fx->stats.lingering, 0);
	pump_idle(fx); /* no event of a freed flow fires */
	close(open_client);
	close(half_client);
	close(dead_client);
	close(closing_client);
	close(kcp_client);
	free(data);
}

static void test_shared_index_finds_and_admits_across_tables(void **state)
{
	struct fixture *fx = *state;
	struct map *index = map_new();
	struct flow_stats stats_1 = { 0 }, stats_2 = { 0 };
	struct flow_table *t1, *t2;
	struct flow *f1, *f2;

	assert_non_null(index);
	t1 = table_new(fx, &stats_1, index);
	t2 = table_new(fx, &stats_2, NULL);
	flow_table_share_index(t2, index);
	t1->limits.max_flows = t2->limits.max_flows = 2;

	f1 = new_flow_in(t1, FLOW_STREAM, MQTT_PROTO_TCP, KEY_A, TOPIC_OF(KEY_A), CHUNK);
	assert_non_null(f1);
	assert_ptr_equal(flow_table_find(t2, KEY_A), f1);
	assert_int_equal(flow_table_size(t2), 1);
	f2 = new_flow_in(t2, FLOW_STREAM, MQTT_PROTO_TCP, KEY_B, TOPIC_OF(KEY_B), CHUNK);
	assert_non_null(f2);
	assert_ptr_equal(flow_table_find(t1, KEY_B), f2);
	assert_ptr_equal(f2->table, t2);

	/* the index holds two: neither table admits a third */
	assert_null(new_flow_in(t1, FLOW_STREAM, MQTT_PROTO_TCP, KEY_C, TOPIC_OF(KEY_C), CHUNK));
	assert_null(new_flow_in(t2, FLOW_STREAM, MQTT_PROTO_TCP, KEY_D, TOPIC_OF(KEY_D), CHUNK));
	assert_int_equal(stats_1.over_limit, 1);
	assert_int_equal(stats_2.over_limit, 1);
	assert_int_equal(stats_1.opened, 1);
	assert_int_equal(stats_2.opened, 1);

	/* each table frees its own flows, and only those */
	flow_destroy_all(t1);
	assert_null(flow_table_find(t2, KEY_A));
	assert_ptr_equal(flow_table_find(t2, KEY_B), f2);
	assert_non_null(
		new_flow_in(t2, FLOW_STREAM, MQTT_PROTO_TCP, KEY_C, TOPIC_OF(KEY_C), CHUNK));
	flow_destroy_all(t2);
	assert_int_equal(map_size(index), 0);
	flow_table_free(t1);
	flow_table_free(t2);
	map_free(index); /* the tables did not own it */
}

/* A test that starts with a fresh fixture (loop, recorder, table). */
#define WITH_TABLE(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_formats_and_refuses_overlong),
		cmocka_unit_test(test_busy_flows_share_the_window_budget),
		WITH_TABLE(test_new_indexes_counts_and_refuses_over_max_flows),
		WITH_TABLE(test_new_refused_over_max_memory),
		WITH_TABLE(test_up_publishes_socket_bytes_in_chunks),
		WITH_TABLE(test_up_splits_a_stream_payload_at_chunk),
		WITH_TABLE(test_down_writes_payloads_to_socket_in_order),
		WITH_TABLE(test_half_close_then_peer_end_closes_cleanly),
		WITH_TABLE(test_peer_end_first_then_client_eof_closes_cleanly),
		WITH_TABLE(test_abort_resets_client_and_tombstone_answers),
		WITH_TABLE(test_pause_stops_reading_and_resume_publishes_all),
		WITH_TABLE(test_slow_client_over_cap_ends_flow),
		WITH_TABLE(test_tight_cap_while_heap_over_max_memory),
		WITH_TABLE(test_publish_failure_closes_with_error),
		WITH_TABLE(test_close_all_ends_only_the_peer_given),
		WITH_TABLE(test_sink_flow_hands_each_datagram_to_its_sink),
		WITH_TABLE(test_dgram_flow_publishes_each_datagram_whole),
		WITH_TABLE(test_destroy_all_frees_flows_in_every_state),
		WITH_TABLE(test_shared_index_finds_and_admits_across_tables),
	};

	/* as the daemon does: a flow's write to a gone socket fails with EPIPE */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
