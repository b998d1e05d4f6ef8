/* libFuzzer target of mqtt/kcp: a sender and a receiver over a lossy link, segments injected. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/kcp.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/*
 * Two KCP objects: A sends a known byte stream, B reads it. Their datagrams go
 * through queues the input drops, reorders and duplicates; the input also
 * injects segments of its own into A (anything) and into B (anything but
 * data for B's conversation, which would corrupt the stream we check).
 *
 * The input: HDR_LEN bytes (configs, conv, start time), then operations of
 * one byte each with arguments after them.
 */
#define HDR_LEN 9
#define QUEUE_MAX 64
#define SEND_MAX (128 * 1024) /* stream bytes A sends at most, to keep runs short */
#define RECV_MAX 16384
#define PERIOD 65521 /* of A's stream: a prime, so no shift of whole segments looks right */
#define DRAIN_ROUNDS 20000
#define DRAIN_MS (30 * 60 * 1000)
#define DRAIN_SKIP_MS 250
#define CHECK_MAX_MS 60000 /* no timer is further out than the longest RTO */
/* A run stops once this many datagrams came out, to keep runs fast. */
#define FLOOD_MAX 4000

enum op {
	OP_SEND,
	OP_TICK,
	OP_DELIVER_AB,
	OP_DELIVER_BA,
	OP_DROP,
	OP_REORDER,
	OP_DUPLICATE,
	OP_RECV_B,
	OP_FLUSH,
	OP_JUNK_A,
	OP_CRAFT_A,
	OP_CRAFT_B,
	OP_FAIL_OUTPUT,
	OP_RECV_A,
	OP_WAIT,
	OP_JUMP,
	OP_WRONG_CONV,
	N_OPS,
};

/* The configuration gateway/core/kcpflow.c uses between two net4mqtt-C peers. */
static const struct kcp_config fast_config = {
	.mtu = 32 * 1024,
	.snd_wnd = 256,
	.rcv_wnd = 256,
	.interval = 10,
	.nodelay = true,
	.fastresend = 2,
	.nocwnd = true,
};

struct dgram {
	uint8_t *data; /* exactly len bytes */
	size_t len;
};

struct queue {
	struct dgram q[QUEUE_MAX];
	int n;
};

struct end {
	struct kcp *k;
	const struct kcp_config *cfg;
	struct queue *out; /* where its datagrams go */
	bool fail;	   /* output() reports failure (the datagram is lost) */
	bool is_sender;
};

struct input {
	const uint8_t *p;
	size_t left;
};

static struct {
	struct end a, b;
	struct queue ab, ba;
	uint32_t conv, now;
	size_t sent, received; /* A's stream bytes sent, B's read */
	unsigned long dgrams;  /* output() calls */
	bool junk_in_a;	       /* A was given segments its peer never sent */
} w;

static uint8_t get8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint32_t rd32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A's stream: byte i is stream[i % PERIOD], and any RECV_MAX bytes from there on follow. */
static uint8_t stream[PERIOD + RECV_MAX];

static const uint8_t *stream_at(size_t i)
{
	if (!stream[1])
		for (size_t j = 0; j < sizeof(stream); j++)
			stream[j] = (uint8_t)(j % PERIOD * 131 + (j % PERIOD >> 9) + 1);
	return stream + i % PERIOD;
}

static int32_t tdiff(uint32_t later, uint32_t earlier)
{
	return (int32_t)(later - earlier);
}

/* ---- datagrams ---- */

/* Walks the segments of a datagram as kcp.h lays them out. Returns whether all
 * of it is well-formed; *push says whether a PUSH for conv comes before the
 * first malformed one, *first whether it holds the PUSH of sn 0 with data. */
static bool walk(const uint8_t *d, size_t len, uint32_t conv, bool *push, bool *first)
{
	*push = *first = false;
	if (len < KCP_OVERHEAD)
		return false;
	while (len) {
		uint32_t sn, n;
		uint8_t cmd;

		if (len < KCP_OVERHEAD)
			return false;
		cmd = d[4];
		sn = rd32le(d + 12);
		n = rd32le(d + 20);
		len -= KCP_OVERHEAD;
		if (rd32le(d) != conv || n > len || n > KCP_SEGMENT_MAX || cmd < KCP_CMD_PUSH ||
			cmd > KCP_CMD_WINS)
			return false;
		if (cmd == KCP_CMD_PUSH) {
			*push = true;
			*first |= sn == 0 && n > 0;
		}
		d += KCP_OVERHEAD + n;
		len -= n;
	}
	return true;
}

static void queue_push(struct queue *q, const uint8_t *data, size_t len)
{
	uint8_t *copy;

	if (q->n == QUEUE_MAX)
		return; /* a full link drops */
	copy = malloc(len ? len : 1);
	check(copy);
	memcpy(copy, data, len);
	q->q[q->n++] = (struct dgram){ .data = copy, .len = len };
}

static struct dgram queue_take(struct queue *q, int i)
{
	struct dgram d = q->q[i];

	memmove(&q->q[i], &q->q[i + 1], (size_t)(q->n - i - 1) * sizeof(q->q[0]));
	q->n--;
	return d;
}

static void queue_clear(struct queue *q)
{
	while (q->n)
		free(queue_take(q, 0).data);
}

static int output(const uint8_t *buf, size_t len, void *arg)
{
	struct end *e = arg;
	bool push, first;

	/* whole segments, within the mtu; only the sender has data to push */
	check(len > 0 && len <= e->cfg->mtu);
	check(walk(buf, len, w.conv, &push, &first));
	check(!push || e->is_sender);
	check(kcp_opens_stream(w.conv, buf, len) == first);
	w.dgrams++;
	if (e->fail)
		return -1;
	queue_push(e->out, buf, len);
	return 0;
}

/* One datagram into e, from an exact-size heap copy; checks what it may change. */
static int input(struct end *e, const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	unsigned long bad = kcp_stats(e->k)->bad_input;
	size_t readable = kcp_readable(e->k);
	bool push, first, ok = walk(data, len, w.conv, &push, &first);
	int err;

	check(copy);
	memcpy(copy, data, len);
	err = kcp_input(e->k, copy, len);
	free(copy);
	check(err == 0 || err == -EINVAL || err == -ENOMEM);
	check(kcp_stats(e->k)->bad_input == bad + (err == -EINVAL));
	check(err != -EINVAL || !ok);
	check(err || ok);
	/* data only ever adds to what can be read */
	check(kcp_readable(e->k) >= readable);
	check(push || kcp_readable(e->k) == readable);
	return err;
}

static void deliver(struct queue *q, int i, bool keep)
{
	struct end *to = q == &w.ab ? &w.b : &w.a;
	struct dgram d;

	if (!q->n)
		return;
	i %= q->n;
	d = q->q[i];
	input(to, d.data, d.len);
	if (!keep)
		free(queue_take(q, i).data);
}

/* ---- the two ends ---- */

static void check_timers(const struct end *e)
{
	uint32_t next = kcp_check(e->k, w.now);

	check(tdiff(next, w.now) >= 0 && tdiff(next, w.now) <= CHECK_MAX_MS);
	check(!kcp_idle(e->k) || kcp_unacked(e->k) == 0);
}

/* One flush sends at most a window of segments, its acks and a bounded number
 * of nudges: never thousands of datagrams (the nudge flood, fixed). */
#define FLUSH_DGRAMS_MAX 2048

static void flush_bounded(struct kcp *k, bool update_only)
{
	uint64_t before = w.dgrams;

	if (update_only)
		kcp_update(k, w.now);
	else
		kcp_flush(k, w.now);
	check(w.dgrams - before <= FLUSH_DGRAMS_MAX);
}

static void update(void)
{
	flush_bounded(w.a.k, true);
	flush_bounded(w.b.k, true);
	check_timers(&w.a);
	check_timers(&w.b);
}

static void send_a(size_t len)
{
	uint8_t *buf;

	if (w.sent + len > SEND_MAX)
		len = SEND_MAX - w.sent;
	buf = malloc(len ? len : 1);
	check(buf);
	for (size_t off = 0; off < len; off += RECV_MAX)
		memcpy(buf + off, stream_at(w.sent + off),
			len - off < RECV_MAX ? len - off : RECV_MAX);
	check(kcp_send(w.a.k, buf, len) == 0);
	w.sent += len;
	free(buf);
	check(len == 0 || kcp_unacked(w.a.k) > 0);
}

/* Reads into a buffer of exactly len bytes: never more than it holds or than is readable. */
static size_t recv_exact(struct end *e, size_t len, uint8_t **out)
{
	uint8_t *buf = malloc(len ? len : 1);
	size_t readable = kcp_readable(e->k), got;

	check(buf);
	got = kcp_recv(e->k, buf, len);
	check(got == (len < readable ? len : readable));
	check(kcp_readable(e->k) >= readable - got);
	*out = buf;
	return got;
}

static void recv_b(size_t len)
{
	uint8_t *buf;
	size_t got = recv_exact(&w.b, len, &buf);

	/* B reads A's stream in order, nothing else */
	check(got <= RECV_MAX && !memcmp(buf, stream_at(w.received), got));
	w.received += got;
	check(w.received <= w.sent);
	free(buf);
}

static void recv_a(size_t len)
{
	uint8_t *buf;

	recv_exact(&w.a, len, &buf);
	free(buf);
}

/* Segments with fields from the input, cmd among those of cmd_mask (bits from
 * KCP_CMD_PUSH); their data is input bytes. */
static void craft(struct end *to, struct input *in, unsigned int cmd_mask)
{
	uint8_t d[4 * (KCP_OVERHEAD + 255)];
	size_t len = 0;
	int nseg = 1 + get8(in) % 4;

	for (int s = 0; s < nseg; s++) {
		uint8_t *h = d + len, cmd = get8(in), n = get8(in);
		int c = cmd % 4;

		while (!(cmd_mask >> c & 1))
			c = (c + 1) % 4;
		wr32le(h, w.conv);
		h[4] = (uint8_t)(KCP_CMD_PUSH + c);
		h[5] = get8(in);
		h[6] = get8(in), h[7] = get8(in); /* wnd */
		wr32le(h + 8, w.now - get8(in));  /* ts: a little while ago */
		wr32le(h + 12, get8(in));	  /* sn and una: near the start */
		wr32le(h + 16, get8(in));
		wr32le(h + 20, n);
		for (int i = 0; i < n; i++)
			h[KCP_OVERHEAD + i] = get8(in);
		len += KCP_OVERHEAD + n;
	}
	input(to, d, len);
}

static void junk(struct end *to, struct input *in)
{
	size_t n = get8(in);
	uint8_t d[255];

	if (n > in->left)
		n = in->left;
	memcpy(d, in->p, n);
	in->p += n, in->left -= n;
	if (to == &w.b) {
		/* data for B that A never sent goes to A instead; kcp_input takes
		 * the segments before the first bad header, so look that far */
		const uint8_t *p = d;
		size_t left = n;

		while (left >= KCP_OVERHEAD && rd32le(p) == w.conv && p[4] != KCP_CMD_PUSH &&
			rd32le(p + 20) <= left - KCP_OVERHEAD) {
			left -= KCP_OVERHEAD + rd32le(p + 20);
			p += KCP_OVERHEAD + rd32le(p + 20);
		}
		if (left >= KCP_OVERHEAD && rd32le(p) == w.conv && p[4] == KCP_CMD_PUSH)
			to = &w.a;
	}
	if (to == &w.a)
		w.junk_in_a = true;
	input(to, d, n);
}

/* Another conversation's datagram changes nothing. */
static void wrong_conv(struct input *in)
{
	uint8_t d[KCP_OVERHEAD + 16];
	struct end *to = get8(in) & 1 ? &w.a : &w.b;
	size_t readable = kcp_readable(to->k);

	memset(d, 0, sizeof(d));
	wr32le(d, w.conv + 1 + get8(in));
	d[4] = KCP_CMD_PUSH;
	wr32le(d + 20, 16);
	check(input(to, d, sizeof(d)) == -EINVAL);
	check(kcp_readable(to->k) == readable);
}

/* With a perfect link and B reading all, A's stream must get through and be
 * acknowledged. Quiet rounds skip ahead (a late update is a slow event loop),
 * so a backed-off retransmission does not take thousands of ticks. */
static void drain(void)
{
	uint32_t start = w.now;
	bool quiet = false;

	w.a.fail = w.b.fail = false;
	for (int round = 0; round < DRAIN_ROUNDS; round++) {
		uint32_t na, nb, next;

		while (w.ab.n || w.ba.n) {
			deliver(&w.ab, 0, false);
			deliver(&w.ba, 0, false);
		}
		while (kcp_readable(w.b.k))
			recv_b(RECV_MAX);
		if ((w.received == w.sent && !kcp_unacked(w.a.k)) || w.dgrams >= FLOOD_MAX)
			return;
		check(tdiff(w.now, start) < DRAIN_MS);
		na = kcp_check(w.a.k, w.now);
		nb = kcp_check(w.b.k, w.now);
		next = tdiff(na, nb) < 0 ? na : nb;
		if (quiet && tdiff(next, w.now) < DRAIN_SKIP_MS)
			next = w.now + DRAIN_SKIP_MS;
		w.now = tdiff(next, w.now) > 0 ? next : w.now + 1;
		update();
		quiet = !w.ab.n && !w.ba.n;
	}
	abort();
}

/* Configurations kcp_new must refuse, and no output function. */
static void check_bad_configs(void)
{
	struct kcp_config c = fast_config;

	c.mtu = KCP_OVERHEAD;
	check(!kcp_new(0, &c, output, NULL) && errno == EINVAL);
	c = fast_config;
	c.rcv_wnd = 0;
	check(!kcp_new(0, &c, output, NULL) && errno == EINVAL);
	c = fast_config;
	c.snd_wnd = 65536;
	check(!kcp_new(0, &c, output, NULL) && errno == EINVAL);
	check(!kcp_new(0, &fast_config, NULL, NULL) && errno == EINVAL);
}

static void setup(const uint8_t *hdr)
{
	memset(&w, 0, sizeof(w));
	w.conv = rd32le(hdr + 1);
	w.now = rd32le(hdr + 5);
	w.a = (struct end){ .cfg = hdr[0] & 1 ? &fast_config : &kcp_compat_config,
		.out = &w.ab,
		.is_sender = true };
	w.b = (struct end){ .cfg = hdr[0] & 2 ? &fast_config : &kcp_compat_config, .out = &w.ba };
	w.a.k = kcp_new(w.conv, w.a.cfg, output, &w.a);
	w.b.k = kcp_new(w.conv, w.b.cfg, output, &w.b);
	check(w.a.k && w.b.k);
}

static void step(struct input *in)
{
	uint8_t op = get8(in) % N_OPS, arg = get8(in);

	switch ((enum op)op) {
	case OP_SEND:
		send_a((size_t)arg * arg + get8(in));
		break;
	case OP_TICK:
		w.now += arg;
		update();
		break;
	case OP_DELIVER_AB:
		deliver(&w.ab, 0, false);
		break;
	case OP_DELIVER_BA:
		deliver(&w.ba, 0, false);
		break;
	case OP_DROP:
		if (arg & 1 ? w.ba.n : w.ab.n)
			free(queue_take(arg & 1 ? &w.ba : &w.ab, 0).data);
		break;
	case OP_REORDER:
		deliver(arg & 1 ? &w.ba : &w.ab, arg >> 1, false);
		break;
	case OP_DUPLICATE:
		deliver(arg & 1 ? &w.ba : &w.ab, arg >> 1, true);
		break;
	case OP_RECV_B:
		recv_b((size_t)arg * arg / 4 + 1);
		break;
	case OP_FLUSH:
		flush_bounded(arg & 1 ? w.b.k : w.a.k, false);
		break;
	case OP_JUNK_A:
		junk(arg & 1 ? &w.b : &w.a, in);
		break;
	case OP_CRAFT_A:
		w.junk_in_a = true;
		craft(&w.a, in, 0xf);
		break;
	case OP_CRAFT_B:
		craft(&w.b, in, 0xe); /* ACK, WASK, WINS: no data */
		break;
	case OP_FAIL_OUTPUT:
		(arg & 1 ? &w.b : &w.a)->fail = arg & 2;
		break;
	case OP_RECV_A:
		recv_a((size_t)arg * 16);
		break;
	case OP_WAIT:
		w.now = kcp_check(arg & 1 ? w.b.k : w.a.k, w.now);
		update();
		break;
	case OP_JUMP:
		w.now += (uint32_t)arg * 256;
		update();
		break;
	case OP_WRONG_CONV:
		wrong_conv(in);
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	struct input in;

	if (size < HDR_LEN)
		return 0;
	copy = malloc(size);
	check(copy);
	memcpy(copy, data, size);
	check_bad_configs();
	setup(copy);
	in = (struct input){ .p = copy + HDR_LEN, .left = size - HDR_LEN };
	while (in.left && w.dgrams < FLOOD_MAX)
		step(&in);
	if (!w.junk_in_a && w.dgrams < FLOOD_MAX)
		drain();
	kcp_free(w.a.k);
	kcp_free(w.b.k);
	kcp_free(NULL);
	queue_clear(&w.ab);
	queue_clear(&w.ba);
	free(copy);
	return 0;
}
