/* Unit tests of mqtt/kcp: wire format, lossy loopback transfers, flow control, bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqtt/kcp.h"

#define MIB (1024 * 1024)

static const struct kcp_config fast_config = {
	.mtu = 16000,
	.snd_wnd = 256,
	.rcv_wnd = 256,
	.interval = 10,
	.nodelay = true,
	.fastresend = 2,
	.nocwnd = true,
};

/* ---- wire format, against hand-written bytes ---- */

struct capture {
	uint8_t buf[4][2048];
	size_t len[4];
	int n;
};

static int capture_output(const uint8_t *buf, size_t len, void *arg)
{
	struct capture *c = arg;

	assert_true(c->n < 4);
	assert_true(len <= sizeof(c->buf[0]));
	memcpy(c->buf[c->n], buf, len);
	c->len[c->n++] = len;
	return 0;
}

static void test_wire_push_in_ack_out(void **state)
{
	/* clang-format off */
	/* two PUSH segments in one datagram, as a peer would send them */
	static const uint8_t in[] = {
		0x00, 0x00, 0x00, 0x00, /* conv 0 */
		0x51, 0x00, 0x80, 0x00, /* cmd 81 push, frg 0, wnd 128 */
		0x04, 0x03, 0x02, 0x01, /* ts 0x01020304 */
		0x00, 0x00, 0x00, 0x00, /* sn 0 */
		0x00, 0x00, 0x00, 0x00, /* una 0 */
		0x05, 0x00, 0x00, 0x00, /* len 5 */
		'h', 'e', 'l', 'l', 'o',
		0x00, 0x00, 0x00, 0x00, 0x51, 0x00, 0x80, 0x00, 0x05, 0x03, 0x02, 0x01,
		0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,
		'w', 'o', 'r', 'l', 'd',
	};
	/* our acks: wnd 128 - 2 queued, una 2, each echoing its segment's sn and ts */
	static const uint8_t acks[] = {
		0x00, 0x00, 0x00, 0x00, 0x52, 0x00, 0x7e, 0x00, 0x04, 0x03, 0x02, 0x01,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x52, 0x00, 0x7e, 0x00, 0x05, 0x03, 0x02, 0x01,
		0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	/* clang-format on */
	struct capture c = { .n = 0 };
	struct kcp *k = kcp_new(0, &kcp_compat_config, capture_output, &c);
	uint8_t out[16];

	(void)state;
	assert_non_null(k);
	assert_true(kcp_idle(k));
	assert_int_equal(kcp_input(k, in, sizeof(in)), 0);
	assert_int_equal(kcp_readable(k), 10);
	assert_false(kcp_idle(k)); /* acks pending */
	kcp_flush(k, 1000);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.len[0], sizeof(acks));
	assert_memory_equal(c.buf[0], acks, sizeof(acks));
	assert_true(kcp_idle(k));

	/* reads may split segments and join them */
	assert_int_equal(kcp_recv(k, out, 3), 3);
	assert_memory_equal(out, "hel", 3);
	assert_int_equal(kcp_readable(k), 7);
	assert_int_equal(kcp_recv(k, out, sizeof(out)), 7);
	assert_memory_equal(out, "loworld", 7);
	assert_int_equal(kcp_recv(k, out, sizeof(out)), 0);
	assert_int_equal(kcp_stats(k)->bad_input, 0);
	kcp_free(k);
}

static void test_wire_push_out_ack_in(void **state)
{
	/* clang-format off */
	/* what we send for kcp_send("abc") at 0x11223344 ms */
	static const uint8_t push[] = {
		0x00, 0x00, 0x00, 0x00, 0x51, 0x00, 0x80, 0x00, /* conv, push, frg, wnd 128 */
		0x44, 0x33, 0x22, 0x11,				/* ts: the clock */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* sn 0, una 0 */
		0x03, 0x00, 0x00, 0x00, 'a', 'b', 'c',
	};
	/* the peer acks sn 0 (una 1), echoing ts; its window is 32 */
	static const uint8_t ack[] = {
		0x00, 0x00, 0x00, 0x00, 0x52, 0x00, 0x20, 0x00, 0x44, 0x33, 0x22, 0x11,
		0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	/* the peer probes our window */
	static const uint8_t wask[] = {
		0x00, 0x00, 0x00, 0x00, 0x53, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	/* and we tell it: 128 free, una 0 (we received nothing) */
	static const uint8_t wins[] = {
		0x00, 0x00, 0x00, 0x00, 0x54, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	/* clang-format on */
	struct capture c = { .n = 0 };
	struct kcp *k = kcp_new(0, &kcp_compat_config, capture_output, &c);

	(void)state;
	assert_int_equal(kcp_send(k, (const uint8_t *)"abc", 3), 0);
	assert_int_equal(kcp_unacked(k), 1);
	assert_false(kcp_idle(k));
	kcp_flush(k, 0x11223344);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.len[0], sizeof(push));
	assert_memory_equal(c.buf[0], push, sizeof(push));

	/* the ack empties the send buffer; nothing is left for the timer */
	assert_int_equal(kcp_input(k, ack, sizeof(ack)), 0);
	assert_int_equal(kcp_unacked(k), 0);
	assert_true(kcp_idle(k));

	/* a window probe is answered with our window at the next flush */
	assert_int_equal(kcp_input(k, wask, sizeof(wask)), 0);
	assert_false(kcp_idle(k));
	assert_int_equal(kcp_check(k, 0x11223350), 0x11223350);
	kcp_update(k, 0x11223350);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.len[1], sizeof(wins));
	assert_memory_equal(c.buf[1], wins, sizeof(wins));
	assert_true(kcp_idle(k));
	kcp_free(k);
}

static void test_new_rejects_bad_config(void **state)
{
	struct kcp_config cfg = kcp_compat_config;
	struct capture c = { .n = 0 };

	(void)state;
	assert_null(kcp_new(0, &cfg, NULL, NULL));
	cfg.mtu = 24;
	assert_null(kcp_new(0, &cfg, capture_output, &c));
	cfg = kcp_compat_config;
	cfg.rcv_wnd = 0;
	assert_null(kcp_new(0, &cfg, capture_output, &c));
	cfg = kcp_compat_config;
	cfg.snd_wnd = 70000;
	assert_null(kcp_new(0, &cfg, capture_output, &c));
	kcp_free(NULL);
}

/* ---- a simulated lossy network between two endpoints ---- */

struct pkt {
	uint64_t at;  /* delivery time, simulated ms */
	uint64_t seq; /* order sent: a link without jitter keeps it */
	int to;
	size_t len;
	uint8_t *data;
};

struct link {
	unsigned drop_pct, dup_pct;
	unsigned delay_min, delay_jitter; /* ms; jitter reorders */
};

struct end {
	struct net *net;
	int id;
	struct kcp *k;
	const uint8_t *tx; /* what this end sends */
	size_t tx_len, tx_off;
	const uint8_t *rx; /* what it must receive */
	size_t rx_len, rx_off;
	bool reading;
	unsigned long dgrams;		      /* datagrams output */
	size_t max_dgram, max_push, min_push; /* largest datagram, largest/smallest PUSH data */
};

struct net {
	uint64_t rng;
	uint64_t now;
	uint64_t seq;
	uint32_t clock_base; /* kcp sees clock_base + now: tests timestamp wrap-around */
	struct link link;
	struct kcp_config cfg;
	struct pkt *q;
	size_t nq, capq;
	struct end end[2];
	size_t send_limit; /* the application stops writing at this many unacked segments */
	uint8_t *rbuf;
};

static uint64_t rnd(struct net *n)
{
	/* splitmix64 */
	uint64_t z = (n->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t clk(const struct net *n)
{
	return n->clock_base + (uint32_t)n->now;
}

static void fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	struct net tmp = { .rng = seed };

	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = rnd(&tmp);
		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
}

static void enqueue(struct net *n, int to, const uint8_t *buf, size_t len)
{
	struct pkt *p;

	if (n->nq == n->capq) {
		n->capq = n->capq ? n->capq * 2 : 64;
		n->q = realloc(n->q, n->capq * sizeof(*n->q));
		assert_non_null(n->q);
	}
	p = &n->q[n->nq++];
	p->at = n->now + n->link.delay_min + rnd(n) % (n->link.delay_jitter + 1);
	p->seq = n->seq++;
	p->to = to;
	p->len = len;
	p->data = malloc(len);
	assert_non_null(p->data);
	memcpy(p->data, buf, len);
}

/* Checks every datagram's layout and size limits, then lets the link lose, copy or delay it. */
static void inspect(struct end *e, const uint8_t *buf, size_t len)
{
	size_t mss = e->net->cfg.mtu - KCP_OVERHEAD;

	assert_true(len >= KCP_OVERHEAD && len <= e->net->cfg.mtu);
	if (len > e->max_dgram)
		e->max_dgram = len;
	for (size_t off = 0; off < len;) {
		const uint8_t *h = buf + off;
		size_t dlen = h[20] | h[21] << 8 | (size_t)h[22] << 16 | (size_t)h[23] << 24;

		assert_true(off + KCP_OVERHEAD + dlen <= len);
		assert_int_equal(h[5], 0); /* stream mode: frg 0 */
		assert_true(h[4] >= KCP_CMD_PUSH && h[4] <= KCP_CMD_WINS);
		if (h[4] == KCP_CMD_PUSH) {
			assert_true(dlen > 0 && dlen <= mss);
			if (dlen > e->max_push)
				e->max_push = dlen;
			if (dlen < e->min_push)
				e->min_push = dlen;
		} else {
			assert_int_equal(dlen, 0);
		}
		off += KCP_OVERHEAD + dlen;
	}
}

static int sim_output(const uint8_t *buf, size_t len, void *arg)
{
	struct end *e = arg;
	struct net *n = e->net;

	inspect(e, buf, len);
	e->dgrams++;
	if (rnd(n) % 100 < n->link.drop_pct)
		return 0;
	enqueue(n, !e->id, buf, len);
	if (rnd(n) % 100 < n->link.dup_pct)
		enqueue(n, !e->id, buf, len);
	return 0;
}

static void net_init(struct net *n, const struct kcp_config *cfg, const struct link *link,
	uint64_t seed, size_t len)
{
	memset(n, 0, sizeof(*n));
	n->rng = seed;
	n->link = *link;
	n->cfg = *cfg;
	n->send_limit = 2 * cfg->snd_wnd;
	n->rbuf = malloc(65536);
	assert_non_null(n->rbuf);
	for (int i = 0; i < 2; i++) {
		struct end *e = &n->end[i];
		uint8_t *tx = malloc(len ? len : 1);

		assert_non_null(tx);
		fill_random(tx, len, seed + 1 + (uint64_t)i);
		e->net = n;
		e->id = i;
		e->tx = tx;
		e->tx_len = len;
		e->reading = true;
		e->min_push = SIZE_MAX;
		e->k = kcp_new(0, cfg, sim_output, e);
		assert_non_null(e->k);
	}
	for (int i = 0; i < 2; i++) {
		n->end[i].rx = n->end[!i].tx;
		n->end[i].rx_len = n->end[!i].tx_len;
	}
}

static void net_free(struct net *n)
{
	for (int i = 0; i < 2; i++) {
		kcp_free(n->end[i].k);
		free((void *)n->end[i].tx);
	}
	for (size_t i = 0; i < n->nq; i++)
		free(n->q[i].data);
	free(n->q);
	free(n->rbuf);
}

/* Mostly large chunks, sometimes tiny ones. */
static size_t chunk(struct net *n)
{
	return rnd(n) % 8 ? 1 + rnd(n) % 65536 : 1 + rnd(n) % 200;
}

static void app_send(struct end *e)
{
	struct net *n = e->net;

	while (e->tx_off < e->tx_len && kcp_unacked(e->k) < n->send_limit) {
		size_t len = chunk(n);

		if (len > e->tx_len - e->tx_off)
			len = e->tx_len - e->tx_off;
		assert_int_equal(kcp_send(e->k, e->tx + e->tx_off, len), 0);
		e->tx_off += len;
		kcp_flush(e->k, clk(n));
	}
}

static void app_recv(struct end *e)
{
	struct net *n = e->net;
	size_t got;

	if (!e->reading)
		return;
	do {
		size_t want = chunk(n);
		size_t readable = kcp_readable(e->k);

		got = kcp_recv(e->k, n->rbuf, want);
		assert_int_equal(got, want < readable ? want : readable);
		assert_true(e->rx_off + got <= e->rx_len);
		assert_memory_equal(n->rbuf, e->rx + e->rx_off, got);
		e->rx_off += got;
	} while (got);
}

/* The index of the earliest packet due now (first sent among equals), or -1. */
static ssize_t due_packet(const struct net *n)
{
	ssize_t best = -1;

	for (size_t i = 0; i < n->nq; i++) {
		const struct pkt *p = &n->q[i];

		if (p->at > n->now)
			continue;
		if (best < 0 || p->at < n->q[best].at ||
			(p->at == n->q[best].at && p->seq < n->q[best].seq))
			best = (ssize_t)i;
	}
	return best;
}

static void deliver(struct net *n)
{
	ssize_t i;

	while ((i = due_packet(n)) >= 0) {
		struct pkt p = n->q[i];
		struct end *e = &n->end[p.to];

		n->q[i] = n->q[--n->nq];
		assert_int_equal(kcp_input(e->k, p.data, p.len), 0);
		free(p.data);
		kcp_flush(e->k, clk(n));
	}
}

static void timers(struct end *e)
{
	uint32_t now = clk(e->net);

	if (kcp_idle(e->k) || (int32_t)(kcp_check(e->k, now) - now) > 0)
		return;
	kcp_update(e->k, now);
	/* after an update, the next one is in the future */
	assert_true(kcp_idle(e->k) || (int32_t)(kcp_check(e->k, now) - now) > 0);
}

/* The next simulated time at which something happens, or UINT64_MAX if nothing will. */
static uint64_t next_event(const struct net *n)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < n->nq; i++)
		if (n->q[i].at < next)
			next = n->q[i].at;
	for (int i = 0; i < 2; i++) {
		const struct end *e = &n->end[i];
		uint32_t now = clk(n);

		if (!kcp_idle(e->k)) {
			int32_t d = (int32_t)(kcp_check(e->k, now) - now);

			assert_true(d > 0);
			if (n->now + (uint64_t)d < next)
				next = n->now + (uint64_t)d;
		}
	}
	return next;
}

static bool transfer_done(const struct net *n)
{
	for (int i = 0; i < 2; i++) {
		const struct end *e = &n->end[i];

		if (e->tx_off < e->tx_len || e->rx_off < e->rx_len || kcp_unacked(e->k))
			return false;
	}
	return true;
}

/* One instant of simulated time: deliveries, the applications, then the timers. */
static void step(struct net *n)
{
	deliver(n);
	for (int i = 0; i < 2; i++) {
		app_recv(&n->end[i]);
		app_send(&n->end[i]);
	}
	for (int i = 0; i < 2; i++)
		timers(&n->end[i]);
}

/* Runs until done() or the simulated deadline; returns whether done() came true. */
static bool run_until(struct net *n, uint64_t deadline, bool (*done)(const struct net *))
{
	while (!done(n)) {
		uint64_t next;

		step(n);
		if (done(n))
			break;
		next = next_event(n);
		if (next == UINT64_MAX || next > deadline)
			return false;
		n->now = next;
	}
	return true;
}

static void check_transfer(const struct kcp_config *cfg, const struct link *link,
	uint32_t clock_base, uint64_t seed, uint64_t deadline_ms)
{
	struct net n;

	net_init(&n, cfg, link, seed, 4 * MIB);
	n.clock_base = clock_base;
	assert_true(run_until(&n, deadline_ms, transfer_done));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(n.end[i].rx_off, 4 * MIB);
		assert_true(kcp_idle(n.end[i].k));
		assert_int_equal(kcp_stats(n.end[i].k)->bad_input, 0);
	}
	print_message(
		"    %llu simulated ms, %lu+%lu datagrams, retransmits %lu+%lu fast %lu+%lu\n",
		(unsigned long long)n.now, n.end[0].dgrams, n.end[1].dgrams,
		kcp_stats(n.end[0].k)->retransmits, kcp_stats(n.end[1].k)->retransmits,
		kcp_stats(n.end[0].k)->fast_retransmits, kcp_stats(n.end[1].k)->fast_retransmits);
	net_free(&n);
}

static const struct link lossy = {
	.drop_pct = 10,
	.dup_pct = 3,
	.delay_min = 5,
	.delay_jitter = 40,
};

static const struct link clean = {
	.delay_min = 2,
};

static void test_transfer_compat_lossy(void **state)
{
	(void)state;
	check_transfer(&kcp_compat_config, &lossy, 0, 1, 3600 * 1000);
}

static void test_transfer_fast_lossy(void **state)
{
	(void)state;
	/* the clock wraps around 2^32 ms during the transfer */
	check_transfer(&fast_config, &lossy, UINT32_MAX - 3000, 2, 600 * 1000);
}

static void test_transfer_fast_clean_cpu(void **state)
{
	clock_t t0 = clock();
	double cpu;

	(void)state;
	check_transfer(&fast_config, &clean, 0, 3, 60 * 1000);
	cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
	print_message("    %.3f s of CPU for 2 x 4 MiB, simulator included\n", cpu);
	assert_true(cpu < 5.0);
}

/* ---- compatibility limits: datagrams <= 1400 bytes, PUSH data <= 1376 ---- */

static void test_compat_sizes(void **state)
{
	struct net n;

	(void)state;
	net_init(&n, &kcp_compat_config, &lossy, 4, 1 * MIB);
	assert_true(run_until(&n, 3600 * 1000, transfer_done));
	for (int i = 0; i < 2; i++) {
		assert_true(n.end[i].max_dgram <= 1400);
		assert_int_equal(n.end[i].max_push, 1376); /* bulk data fills whole segments */
		assert_true(n.end[i].min_push >= 1);
	}
	net_free(&n);
}

/* ---- flow control: a receiver that stops reading stops the sender ---- */

static bool b_has_all(const struct net *n)
{
	return n->end[1].rx_off == n->end[1].rx_len && !kcp_unacked(n->end[0].k);
}

static bool never(const struct net *n)
{
	(void)n;
	return false;
}

static void check_flow_control(const struct kcp_config *cfg, uint64_t seed)
{
	size_t mss = cfg->mtu - KCP_OVERHEAD;
	struct net n;
	size_t tx_mid, readable_mid;
	unsigned long dgrams_mid;

	/* more than the sender's application limit and both windows hold */
	net_init(&n, cfg, &lossy, seed, 16 * MIB);
	n.end[1].tx_len = 0; /* one direction only: 0 -> 1 */
	n.end[0].rx_len = 0;
	n.end[1].reading = false;

	run_until(&n, 30 * 1000, never);
	tx_mid = n.end[0].tx_off;
	readable_mid = kcp_readable(n.end[1].k);
	dgrams_mid = n.end[0].dgrams;
	assert_true(readable_mid > 0);
	assert_true(readable_mid <= cfg->rcv_wnd * mss);
	assert_true(tx_mid < 16 * MIB);

	run_until(&n, 60 * 1000, never);
	/* nothing moved for 30 s: the sender only probed the closed window now and then */
	assert_int_equal(n.end[0].tx_off, tx_mid);
	assert_int_equal(kcp_readable(n.end[1].k), readable_mid);
	assert_true(kcp_unacked(n.end[0].k) <= n.send_limit + 65536 / mss + 1);
	assert_true(n.end[0].dgrams - dgrams_mid < 20);
	print_message("    stalled at %zu bytes sent, %zu readable, %lu probes in 30 s\n", tx_mid,
		readable_mid, n.end[0].dgrams - dgrams_mid);

	/* reading again reopens the window; everything arrives and the sender drains */
	n.end[1].reading = true;
	assert_true(run_until(&n, 3600 * 1000, b_has_all));
	assert_int_equal(n.end[1].rx_off, 16 * MIB);
	assert_int_equal(kcp_unacked(n.end[0].k), 0);
	net_free(&n);
}

static void test_flow_control_compat(void **state)
{
	(void)state;
	check_flow_control(&kcp_compat_config, 5);
}

static void test_flow_control_fast(void **state)
{
	struct kcp_config cfg = fast_config;

	(void)state;
	cfg.rcv_wnd = 64;
	check_flow_control(&cfg, 6);
}

/* ---- bad input ---- */

static size_t put_hdr(
	uint8_t *p, uint32_t conv, uint8_t cmd, uint16_t wnd, uint32_t sn, uint32_t len)
{
	memset(p, 0, KCP_OVERHEAD);
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(conv >> (8 * i));
		p[12 + i] = (uint8_t)(sn >> (8 * i));
		p[20 + i] = (uint8_t)(len >> (8 * i));
	}
	p[4] = cmd;
	p[6] = (uint8_t)wnd;
	p[7] = (uint8_t)(wnd >> 8);
	return KCP_OVERHEAD;
}

enum bad_kind {
	BAD_SHORT,
	BAD_CONV,
	BAD_LEN,
	BAD_CMD,
	BAD_CMD_ZERO,
	BAD_HUGE,
	BAD_TRAILER,
	BAD_KINDS
};

/* Builds one bad datagram of the given kind into p; returns its length. */
static size_t make_bad(uint8_t *p, enum bad_kind kind, const struct kcp_config *cfg)
{
	uint16_t wnd = (uint16_t)cfg->rcv_wnd;
	size_t n;

	switch (kind) {
	case BAD_SHORT:
		memset(p, 0, 10);
		return 10;
	case BAD_CONV:
		return put_hdr(p, 1, KCP_CMD_ACK, wnd, 0, 0);
	case BAD_LEN: /* says 100 bytes, carries 50 */
		n = put_hdr(p, 0, KCP_CMD_PUSH, wnd, 0, 100);
		memset(p + n, 'x', 50);
		return n + 50;
	case BAD_CMD:
		return put_hdr(p, 0, 85, wnd, 0, 0);
	case BAD_CMD_ZERO:
		return put_hdr(p, 0, 0, wnd, 0, 0);
	case BAD_HUGE: /* the bytes are there, but no peer sends a segment this long */
		(void)cfg;
		n = put_hdr(p, 0, KCP_CMD_PUSH, wnd, 0, KCP_SEGMENT_MAX + 1);
		memset(p + n, 'y', KCP_SEGMENT_MAX + 1);
		return n + KCP_SEGMENT_MAX + 1;
	case BAD_TRAILER: /* a good probe, then half a header */
		n = put_hdr(p, 0, KCP_CMD_WASK, wnd, 0, 0);
		memset(p + n, 0, 5);
		return n + 5;
	default:
		fail();
	}
	return 0;
}

/* A queue of datagrams in flight, for the recv-once peer test. */
struct dgq {
	uint8_t buf[256][1400];
	size_t len[256];
	int n;
};

static int dgq_output(const uint8_t *buf, size_t len, void *arg)
{
	struct dgq *q = arg;

	assert_true(q->n < 256 && len <= sizeof(q->buf[0]));
	memcpy(q->buf[q->n], buf, len);
	q->len[q->n++] = len;
	return 0;
}

/* net4mqtt reads one segment per datagram it receives. After a loss the
 * segments that arrive at once leave some unread; with peer_reads_once we
 * nudge it until it has read everything, else the request is stranded. */
static size_t recv_once_transfer(bool nudge)
{
	struct kcp_config cfg = kcp_compat_config;
	struct dgq *ab = calloc(1, sizeof(*ab)), *ba = calloc(1, sizeof(*ba));
	uint8_t req[4000], got[sizeof(req)];
	size_t have = 0;
	bool dropped = false;

	cfg.peer_reads_once = nudge;
	cfg.nocwnd = true; /* all three segments leave at once, as on a warmed-up flow */
	struct kcp *a = kcp_new(0, &cfg, dgq_output, ab);
	struct kcp *b = kcp_new(0, &kcp_compat_config, dgq_output, ba);
	for (size_t i = 0; i < sizeof(req); i++)
		req[i] = (uint8_t)(i * 7);
	assert_int_equal(kcp_send(a, req, sizeof(req)), 0);
	for (uint32_t t = 1000; t < 1000 + 60000; t += 10) {
		kcp_update(a, t);
		kcp_update(b, t);
		for (int i = 0; i < ab->n; i++) {
			if (!dropped && ab->len[i] > KCP_OVERHEAD) {
				dropped = true; /* the first data datagram is lost */
				continue;
			}
			kcp_input(b, ab->buf[i], ab->len[i]);
			have += kcp_recv(b, got + have,
				sizeof(got) - have < 1376 ? sizeof(got) - have : 1376);
			kcp_flush(b, t);
		}
		ab->n = 0;
		for (int i = 0; i < ba->n; i++) {
			kcp_input(a, ba->buf[i], ba->len[i]);
			kcp_flush(a, t);
		}
		ba->n = 0;
		if (have == sizeof(req) && kcp_idle(a))
			break;
	}
	if (have == sizeof(req))
		assert_memory_equal(got, req, sizeof(req));
	else
		assert_false(kcp_idle(a) && nudge); /* never idle while the peer owes reads */
	kcp_free(a);
	kcp_free(b);
	free(ab);
	free(ba);
	return have;
}

static void test_peer_reads_once(void **state)
{
	(void)state;
	assert_int_equal(recv_once_transfer(true), 4000);
	assert_true(recv_once_transfer(false) < 4000); /* the stranding the nudge prevents */
}

static int count_output(const uint8_t *buf, size_t len, void *arg)
{
	(void)buf, (void)len;
	(*(unsigned long *)arg)++;
	return 0;
}

/* A peer (or anyone posing as one) that advertises a window of 65535, then 0,
 * must not make a peer_reads_once sender nudge it 65535 times: it cannot hold
 * more unread segments than it was sent (found by tests/fuzz/fuzz_kcp). */
static void test_nudges_bounded(void **state)
{
	unsigned long sent = 0;
	struct kcp *k = kcp_new(0, &kcp_compat_config, count_output, &sent);
	uint8_t p[KCP_OVERHEAD];

	(void)state;
	assert_non_null(k);
	kcp_update(k, 1000);
	put_hdr(p, 0, KCP_CMD_WINS, 65535, 0, 0);
	assert_int_equal(kcp_input(k, p, sizeof(p)), 0);
	put_hdr(p, 0, KCP_CMD_WINS, 0, 0, 0);
	assert_int_equal(kcp_input(k, p, sizeof(p)), 0);
	for (uint32_t t = 1000; t <= 61000; t += 10)
		kcp_update(k, t);
	assert_true(sent < 1000); /* nothing was ever sent: window probes only */
	kcp_free(k);
}

/* Only a well-formed datagram carrying the stream's first PUSH may open a flow. */
static void test_opens_stream(void **state)
{
	struct capture c = { .n = 0 };
	struct kcp *k = kcp_new(0, &kcp_compat_config, capture_output, &c);
	uint8_t p[KCP_OVERHEAD * 2 + 8];
	size_t n;

	(void)state;
	assert_int_equal(kcp_send(k, (const uint8_t *)"hello", 5), 0);
	kcp_flush(k, 1000);
	assert_int_equal(c.n, 1);
	assert_true(kcp_opens_stream(0, c.buf[0], c.len[0]));
	assert_false(kcp_opens_stream(1, c.buf[0], c.len[0]));	   /* other conv */
	assert_false(kcp_opens_stream(0, c.buf[0], c.len[0] - 1)); /* truncated */
	n = put_hdr(p, 0, KCP_CMD_ACK, 128, 0, 0);
	assert_false(kcp_opens_stream(0, p, n)); /* an ack alone */
	n = put_hdr(p, 0, KCP_CMD_PUSH, 128, 7, 3);
	memcpy(p + n, "abc", 3);
	assert_false(kcp_opens_stream(0, p, n + 3)); /* the middle of an old stream */
	n = put_hdr(p, 0, KCP_CMD_PUSH, 128, 0, 3);
	memcpy(p + n, "abc", 3);
	assert_true(kcp_opens_stream(0, p, n + 3));
	p[n + 3] = 99; /* then a byte of junk */
	assert_false(kcp_opens_stream(0, p, n + 4));
	assert_false(kcp_opens_stream(0, (const uint8_t *)"junk", 4));
	kcp_free(k);
}

static void test_bad_input_alone(void **state)
{
	struct capture c = { .n = 0 };
	struct kcp *k = kcp_new(0, &kcp_compat_config, capture_output, &c);
	uint8_t *p = malloc(KCP_OVERHEAD + KCP_SEGMENT_MAX + 1);

	(void)state;
	assert_non_null(p);
	assert_int_equal(kcp_input(k, p, 0), -EINVAL);
	assert_int_equal(kcp_stats(k)->bad_input, 1);
	for (int kind = 0; kind < BAD_KINDS; kind++) {
		size_t len = make_bad(p, kind, &kcp_compat_config);

		assert_int_equal(kcp_input(k, p, len), -EINVAL);
		assert_int_equal(kcp_stats(k)->bad_input, 2 + (unsigned long)kind);
	}
	/* nothing bad was taken: no data, no acks; the good probe before the trailer was */
	assert_int_equal(kcp_readable(k), 0);
	kcp_flush(k, 100);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.len[0], KCP_OVERHEAD);
	assert_int_equal(c.buf[0][4], KCP_CMD_WINS);
	free(p);
	kcp_free(k);
}

static void test_bad_input_during_transfer(void **state)
{
	struct net n;
	uint8_t *p = malloc(KCP_OVERHEAD + KCP_SEGMENT_MAX + 1);
	unsigned long injected[2] = { 0, 0 };
	unsigned steps = 0;

	(void)state;
	assert_non_null(p);
	net_init(&n, &fast_config, &lossy, 7, 4 * MIB);
	while (!transfer_done(&n)) {
		uint64_t next;

		step(&n);
		if (++steps % 7 == 0) {
			int to = (int)(steps / 7 % 2);
			size_t len =
				make_bad(p, (enum bad_kind)(steps / 14 % BAD_KINDS), &fast_config);

			assert_int_equal(kcp_input(n.end[to].k, p, len), -EINVAL);
			injected[to]++;
			assert_int_equal(kcp_stats(n.end[to].k)->bad_input, injected[to]);
			kcp_flush(n.end[to].k, clk(&n));
		}
		if (transfer_done(&n))
			break;
		next = next_event(&n);
		assert_true(next != UINT64_MAX && next < 600 * 1000);
		n.now = next;
	}
	assert_true(injected[0] > BAD_KINDS && injected[1] > BAD_KINDS);
	for (int i = 0; i < 2; i++)
		assert_int_equal(n.end[i].rx_off, 4 * MIB);
	net_free(&n);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_push_in_ack_out),
		cmocka_unit_test(test_wire_push_out_ack_in),
		cmocka_unit_test(test_new_rejects_bad_config),
		cmocka_unit_test(test_transfer_compat_lossy),
		cmocka_unit_test(test_transfer_fast_lossy),
		cmocka_unit_test(test_transfer_fast_clean_cpu),
		cmocka_unit_test(test_compat_sizes),
		cmocka_unit_test(test_flow_control_compat),
		cmocka_unit_test(test_flow_control_fast),
		cmocka_unit_test(test_peer_reads_once),
		cmocka_unit_test(test_nudges_bounded),
		cmocka_unit_test(test_opens_stream),
		cmocka_unit_test(test_bad_input_alone),
		cmocka_unit_test(test_bad_input_during_transfer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
