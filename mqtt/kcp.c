/* KCP ARQ in stream mode: segment queues, acks, retransmission, congestion and flow windows. */
#include "kcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Protocol constants, named after ikcp.c (IKCP_RTO_NDL, IKCP_RTO_MIN, ...). */
enum {
	KCP_RTO_NDL = 30,    /* minimum RTO with nodelay */
	KCP_RTO_MIN = 100,   /* minimum RTO */
	KCP_RTO_DEF = 200,   /* RTO before the first sample */
	KCP_RTO_MAX = 60000, /* ceiling of every RTO, backed off ones included */
	KCP_WND_RCV = 128,   /* what the peer is assumed to advertise until it speaks */
	KCP_NUDGE_MIN_MS = 250,
	KCP_NUDGE_MAX_MS = 10000,
	KCP_NUDGE_MAX_OWED = 256, /* nudges per flush: no real receive window is larger */
	KCP_THRESH_INIT = 2,
	KCP_THRESH_MIN = 2,
	KCP_FASTACK_LIMIT = 5, /* fast-resend a segment only while xmit <= this */
};

/* Local choices. */
enum {
	KCP_PROBE_INIT = 500,	 /* first window probe after the peer's window closed (ikcp: 7 s) */
	KCP_PROBE_LIMIT = 10000, /* probe interval grows x1.5 up to this (ikcp: 120 s) */
	KCP_CLOCK_JUMP = 10000,	 /* a clock jump past this restarts the flush schedule */
	KCP_INTERVAL_MIN = 10,
	KCP_INTERVAL_MAX = 5000,
	KCP_MTU_MIN = 50,
	KCP_MTU_MAX = 1 << 20,
	KCP_WND_MAX = 65535,   /* wnd is a u16 on the wire */
	KCP_SEG_MIN_CAP = 256, /* a small write's segment starts this big and grows by doubling */
	KCP_FIFO_MIN = 16,     /* the send queue's first ring */
	KCP_RTT_SAMPLES = 32,  /* ack timestamps kept between kcp_input() and the next flush */
};

enum kcp_probe {	  /* ikcp.c IKCP_ASK_SEND, IKCP_ASK_TELL */
	KCP_ASK_SEND = 1, /* send a WASK: the peer's window is closed */
	KCP_ASK_TELL = 2, /* send a WINS: our window reopened, or we were asked */
};

/* One segment: data[] has room for cap bytes, len of them used. */
struct kcp_seg {
	uint32_t sn;
	uint32_t ts;	    /* time of the last transmission; the ack echoes it */
	uint32_t resend_at; /* retransmit when the clock reaches this */
	uint32_t rto;
	uint32_t fastack; /* acks for later segments seen since it was sent */
	uint32_t xmit;	  /* transmissions so far */
	uint32_t len, cap;
	uint8_t data[];
};

/* Segments in arrival order: a growable power-of-two ring of pointers, made at the first push. */
struct seg_fifo {
	struct kcp_seg **v;
	uint32_t head, count, mask;
};

/* Segments by sequence number: slot sn & mask, NULL where absent; the owner bounds the span.
 * Made when the first segment needs it: an idle session (most of them) has no window. */
struct seg_win {
	struct kcp_seg **v;
	uint32_t mask;
};

struct kcp_ack {
	uint32_t sn, ts;
};

/* A decoded segment header. */
struct kcp_hdr {
	uint32_t conv;
	uint8_t cmd, frg;
	uint16_t wnd;
	uint32_t ts, sn, una, len;
};

/* The newest ack of one datagram, for fast-resend counting (ikcp's conservative variant). */
struct ack_max {
	bool seen;
	uint32_t sn, ts;
};

struct kcp {
	struct kcp_config cfg;
	uint32_t conv, mss;
	kcp_output_fn output;
	void *arg;

	/* sender: snd_buf holds sn in [snd_una, snd_nxt), NULL once acked */
	struct seg_fifo snd_queue; /* bytes not yet numbered */
	struct seg_win snd_buf;
	uint32_t snd_una, snd_nxt, nsnd_buf;
	uint32_t rmt_wnd, cwnd, ssthresh;
	uint64_t incr;	     /* congestion avoidance: cwnd in bytes, grown per ack */
	uint32_t resend_due; /* no segment needs a timeout resend before this */
	bool fast_due;	     /* some segment reached the fast-resend count */

	/* round-trip estimate (RFC 6298 style, with the interval as clock granularity) */
	int32_t srtt, rttvar;
	uint32_t rto, rto_min;
	uint32_t rtt_ts[KCP_RTT_SAMPLES];
	uint32_t nrtt;

	/* receiver: rcv holds the queue [rcv_nxt - nrcv_que, rcv_nxt) and the buffer
	 * [rcv_nxt, rcv_nxt + rcv_wnd), out-of-order segments with holes */
	struct seg_win rcv;
	uint32_t rcv_nxt, nrcv_que;
	size_t rcv_bytes; /* bytes in the queue */
	size_t rcv_off;	  /* bytes of the queue's head already read */
	struct kcp_ack *acks;
	uint32_t nacks, acks_cap;

	/* timers */
	bool started;
	uint32_t current, ts_flush;
	uint32_t probe, probe_wait, ts_probe;

	/* peer_reads_once (net4mqtt calls recv once per datagram, and a stream-mode
	 * recv returns one segment): the segments it holds unread are peer_wnd -
	 * rmt_wnd; once our data is all acked we send that many one-WASK datagrams,
	 * each making it read one, backing off while the count does not shrink */
	uint32_t peer_wnd, nudge_at, nudge_backoff, nudge_last_owed;
	bool nudge_wait;

	uint8_t *obuf; /* the datagram being built, mtu bytes: only during a kcp_flush */
	size_t olen;
	struct kcp_stats stats;
};

const struct kcp_config kcp_compat_config = {
	.mtu = 1400,
	.snd_wnd = 32,
	.rcv_wnd = 128,
	.interval = 100,
	.nodelay = false,
	.fastresend = 0,
	.nocwnd = false,
	.peer_reads_once = true,
};

/* Wrap-around-safe order of sequence numbers and timestamps. */
static inline int32_t tdiff(uint32_t later, uint32_t earlier)
{
	return (int32_t)(later - earlier);
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static inline uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* ---- wire format: 24 bytes, little-endian ---- */

static uint8_t *put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
	return p + 4;
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *hdr_put(uint8_t *p, const struct kcp_hdr *h)
{
	p = put_u32(p, h->conv);
	*p++ = h->cmd;
	*p++ = h->frg;
	p = put_u16(p, h->wnd);
	p = put_u32(p, h->ts);
	p = put_u32(p, h->sn);
	p = put_u32(p, h->una);
	return put_u32(p, h->len);
}

static void hdr_get(struct kcp_hdr *h, const uint8_t *p)
{
	h->conv = get_u32(p);
	h->cmd = p[4];
	h->frg = p[5];
	h->wnd = get_u16(p + 6);
	h->ts = get_u32(p + 8);
	h->sn = get_u32(p + 12);
	h->una = get_u32(p + 16);
	h->len = get_u32(p + 20);
}

/* ---- segments and their containers ---- */

static struct kcp_seg *seg_new(uint32_t cap)
{
	struct kcp_seg *s = malloc(sizeof(*s) + cap);

	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->cap = cap;
	return s;
}

static struct kcp_seg **fifo_at(const struct seg_fifo *q, uint32_t i)
{
	return &q->v[(q->head + i) & q->mask];
}

static int fifo_grow(struct seg_fifo *q)
{
	uint32_t cap = q->v ? (q->mask + 1) * 2 : KCP_FIFO_MIN;
	struct kcp_seg **v = malloc(cap * sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->count; i++)
		v[i] = *fifo_at(q, i);
	free(q->v);
	q->v = v;
	q->head = 0;
	q->mask = cap - 1;
	return 0;
}

static int fifo_push(struct seg_fifo *q, struct kcp_seg *s)
{
	if ((!q->v || q->count > q->mask) && fifo_grow(q))
		return -ENOMEM;
	*fifo_at(q, q->count++) = s;
	return 0;
}

static struct kcp_seg *fifo_pop(struct seg_fifo *q)
{
	struct kcp_seg *s = *fifo_at(q, 0);

	q->head = (q->head + 1) & q->mask;
	q->count--;
	return s;
}

static void fifo_free(struct seg_fifo *q)
{
	while (q->count)
		free(fifo_pop(q));
	free(q->v);
}

static int win_init(struct seg_win *w, uint32_t span)
{
	uint32_t cap = pow2_at_least(span);

	w->v = calloc(cap, sizeof(*w->v));
	w->mask = cap - 1;
	return w->v ? 0 : -ENOMEM;
}

static struct kcp_seg **win_at(const struct seg_win *w, uint32_t sn)
{
	return &w->v[sn & w->mask];
}

static void win_free(struct seg_win *w)
{
	if (!w->v)
		return;
	for (uint32_t i = 0; i <= w->mask; i++)
		free(w->v[i]);
	free(w->v);
}

/* ---- life cycle ---- */

static int config_check(const struct kcp_config *cfg)
{
	if (cfg->mtu < KCP_MTU_MIN || cfg->mtu > KCP_MTU_MAX)
		return -EINVAL;
	if (!cfg->snd_wnd || cfg->snd_wnd > KCP_WND_MAX)
		return -EINVAL;
	if (!cfg->rcv_wnd || cfg->rcv_wnd > KCP_WND_MAX)
		return -EINVAL;
	return 0;
}

static void kcp_init_state(struct kcp *k, uint32_t conv, const struct kcp_config *cfg)
{
	k->cfg = *cfg;
	if (k->cfg.interval < KCP_INTERVAL_MIN)
		k->cfg.interval = KCP_INTERVAL_MIN;
	if (k->cfg.interval > KCP_INTERVAL_MAX)
		k->cfg.interval = KCP_INTERVAL_MAX;
	k->conv = conv;
	k->mss = cfg->mtu - KCP_OVERHEAD;
	k->rmt_wnd = KCP_WND_RCV;
	k->peer_wnd = 0; /* the largest window the peer has advertised */
	k->cwnd = 1;
	k->incr = k->mss;
	k->ssthresh = KCP_THRESH_INIT;
	k->rto = KCP_RTO_DEF;
	k->rto_min = cfg->nodelay ? KCP_RTO_NDL : KCP_RTO_MIN;
}

struct kcp *kcp_new(uint32_t conv, const struct kcp_config *cfg, kcp_output_fn output, void *arg)
{
	struct kcp *k;

	if (!cfg)
		cfg = &kcp_compat_config;
	if (!output || config_check(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	kcp_init_state(k, conv, cfg);
	k->output = output;
	k->arg = arg;
	return k;
}

void kcp_free(struct kcp *k)
{
	if (!k)
		return;
	fifo_free(&k->snd_queue);
	win_free(&k->snd_buf);
	win_free(&k->rcv);
	free(k->acks);
	free(k->obuf);
	free(k);
}

/* ---- sending side: the application's bytes ---- */

/* Makes room for need more bytes in s (need <= mss - len); s may move. */
static struct kcp_seg *seg_reserve(struct kcp_seg *s, uint32_t need, uint32_t mss)
{
	uint32_t cap = s->cap;

	if (s->len + need <= cap)
		return s;
	while (cap < s->len + need)
		cap *= 2;
	cap = min_u32(cap, mss);
	s = realloc(s, sizeof(*s) + cap);
	if (s)
		s->cap = cap;
	return s;
}

/* Appends up to the room left in the last queued segment; returns bytes taken or -ENOMEM. */
static ssize_t append_tail(struct kcp *k, const uint8_t *buf, size_t len)
{
	struct seg_fifo *q = &k->snd_queue;
	struct kcp_seg **tail, *s;
	uint32_t n;

	if (!q->count)
		return 0;
	tail = fifo_at(q, q->count - 1);
	if ((*tail)->len >= k->mss)
		return 0;
	n = (uint32_t)(len < k->mss - (*tail)->len ? len : k->mss - (*tail)->len);
	s = seg_reserve(*tail, n, k->mss);
	if (!s)
		return -ENOMEM;
	*tail = s;
	memcpy(s->data + s->len, buf, n);
	s->len += n;
	return n;
}

/* Undoes a failed kcp_send: drops new segments, trims the old tail back. */
static void send_rollback(struct kcp *k, uint32_t count, uint32_t tail_len)
{
	struct seg_fifo *q = &k->snd_queue;

	while (q->count > count)
		free(*fifo_at(q, --q->count));
	if (count)
		(*fifo_at(q, count - 1))->len = tail_len;
}

/* Queues one new segment holding the first min(len, mss) bytes; returns that count or -ENOMEM. */
static ssize_t append_new(struct kcp *k, const uint8_t *buf, size_t len)
{
	uint32_t n = len < k->mss ? (uint32_t)len : k->mss;
	struct kcp_seg *s = seg_new(max_u32(n, min_u32(KCP_SEG_MIN_CAP, k->mss)));

	if (!s || fifo_push(&k->snd_queue, s)) {
		free(s);
		return -ENOMEM;
	}
	memcpy(s->data, buf, n);
	s->len = n;
	return n;
}

int kcp_send(struct kcp *k, const uint8_t *buf, size_t len)
{
	struct seg_fifo *q = &k->snd_queue;
	uint32_t count = q->count;
	uint32_t tail_len = count ? (*fifo_at(q, count - 1))->len : 0;
	size_t off = 0;

	while (off < len) {
		ssize_t n = append_tail(k, buf + off, len - off);

		if (!n)
			n = append_new(k, buf + off, len - off);
		if (n < 0) {
			send_rollback(k, count, tail_len);
			return -ENOMEM;
		}
		off += (size_t)n;
	}
	return 0;
}

/* ---- receiving side: the application's bytes ---- */

static uint32_t wnd_unused(const struct kcp *k)
{
	return k->nrcv_que < k->cfg.rcv_wnd ? k->cfg.rcv_wnd - k->nrcv_que : 0;
}

/* Frees the queue's head segment once it has been read. */
static void rcv_pop_head(struct kcp *k)
{
	struct kcp_seg **slot = win_at(&k->rcv, k->rcv_nxt - k->nrcv_que);

	k->rcv_bytes -= (*slot)->len;
	free(*slot);
	*slot = NULL;
	k->nrcv_que--;
	k->rcv_off = 0;
}

/* Moves in-order segments from the buffer to the queue while the queue has room. */
static void rcv_advance(struct kcp *k)
{
	struct kcp_seg *s;

	if (!k->rcv.v)
		return; /* nothing received yet */
	while (k->nrcv_que < k->cfg.rcv_wnd && (s = *win_at(&k->rcv, k->rcv_nxt))) {
		k->rcv_bytes += s->len;
		k->nrcv_que++;
		k->rcv_nxt++;
	}
	/* an empty segment would hold a window slot that no read frees */
	while (k->nrcv_que && (*win_at(&k->rcv, k->rcv_nxt - k->nrcv_que))->len == k->rcv_off)
		rcv_pop_head(k);
}

size_t kcp_recv(struct kcp *k, uint8_t *buf, size_t len)
{
	bool was_full = k->nrcv_que >= k->cfg.rcv_wnd;
	size_t done = 0;

	while (done < len && k->nrcv_que) {
		struct kcp_seg *s = *win_at(&k->rcv, k->rcv_nxt - k->nrcv_que);
		size_t n = s->len - k->rcv_off;

		if (n > len - done)
			n = len - done;
		memcpy(buf + done, s->data + k->rcv_off, n);
		done += n;
		k->rcv_off += n;
		if (k->rcv_off == s->len)
			rcv_pop_head(k);
	}
	rcv_advance(k);
	if (was_full && k->nrcv_que < k->cfg.rcv_wnd)
		k->probe |= KCP_ASK_TELL; /* the sender may be waiting for a probe: tell it now */
	return done;
}

size_t kcp_readable(const struct kcp *k)
{
	return k->rcv_bytes - k->rcv_off;
}

/* ---- input ---- */

static void snd_drop(struct kcp *k, uint32_t sn)
{
	struct kcp_seg **slot = win_at(&k->snd_buf, sn);

	if (!*slot)
		return;
	free(*slot);
	*slot = NULL;
	k->nsnd_buf--;
}

/* snd_una follows the oldest segment still unacknowledged. */
static void snd_shrink(struct kcp *k)
{
	while (k->snd_una != k->snd_nxt && !*win_at(&k->snd_buf, k->snd_una))
		k->snd_una++;
}

/* The peer has everything before una. */
static void on_una(struct kcp *k, uint32_t una)
{
	if (tdiff(una, k->snd_una) <= 0)
		return;
	if (tdiff(una, k->snd_nxt) > 0)
		una = k->snd_nxt;
	for (uint32_t sn = k->snd_una; sn != una; sn++)
		snd_drop(k, sn);
	k->snd_una = una;
	snd_shrink(k);
}

static void rtt_sample(struct kcp *k, uint32_t ts)
{
	if (k->nrtt < KCP_RTT_SAMPLES)
		k->rtt_ts[k->nrtt++] = ts;
}

static void ack_max_note(struct ack_max *am, uint32_t sn, uint32_t ts)
{
	if (!am->seen || (tdiff(sn, am->sn) > 0 && tdiff(ts, am->ts) > 0)) {
		am->seen = true;
		am->sn = sn;
		am->ts = ts;
	}
}

static int on_ack(struct kcp *k, const struct kcp_hdr *h, const uint8_t *data, struct ack_max *am)
{
	(void)data;
	/* timed at the next flush: kcp_input() is not told the time */
	rtt_sample(k, h->ts);
	if (tdiff(h->sn, k->snd_una) >= 0 && tdiff(h->sn, k->snd_nxt) < 0) {
		snd_drop(k, h->sn);
		snd_shrink(k);
	}
	ack_max_note(am, h->sn, h->ts);
	return 0;
}

static int ack_push(struct kcp *k, uint32_t sn, uint32_t ts)
{
	if (k->nacks == k->acks_cap) {
		uint32_t cap = k->acks_cap ? k->acks_cap * 2 : 16;
		struct kcp_ack *a = realloc(k->acks, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		k->acks = a;
		k->acks_cap = cap;
	}
	k->acks[k->nacks++] = (struct kcp_ack){ .sn = sn, .ts = ts };
	return 0;
}

static int on_push(struct kcp *k, const struct kcp_hdr *h, const uint8_t *data, struct ack_max *am)
{
	struct kcp_seg **slot;

	(void)am;
	if (tdiff(h->sn, k->rcv_nxt + k->cfg.rcv_wnd) >= 0)
		return 0; /* beyond the window: not acked, the sender will retry */
	if (!k->rcv.v && win_init(&k->rcv, 2 * k->cfg.rcv_wnd))
		return -ENOMEM; /* not acked: the sender will retry */
	slot = win_at(&k->rcv, h->sn);
	if (tdiff(h->sn, k->rcv_nxt) >= 0 && !*slot) {
		struct kcp_seg *s = seg_new(h->len);

		if (!s)
			return -ENOMEM; /* not acked either */
		s->sn = h->sn;
		s->len = h->len;
		memcpy(s->data, data, h->len);
		*slot = s;
		rcv_advance(k);
	}
	/* acked even when old or duplicate, so the sender stops resending it */
	return ack_push(k, h->sn, h->ts);
}

static int on_wask(struct kcp *k, const struct kcp_hdr *h, const uint8_t *data, struct ack_max *am)
{
	(void)h;
	(void)data;
	(void)am;
	k->probe |= KCP_ASK_TELL;
	return 0;
}

static int on_wins(struct kcp *k, const struct kcp_hdr *h, const uint8_t *data, struct ack_max *am)
{
	/* the window itself was taken from the header like for every command */
	(void)k;
	(void)h;
	(void)data;
	(void)am;
	return 0;
}

typedef int (*seg_handler)(
	struct kcp *k, const struct kcp_hdr *h, const uint8_t *data, struct ack_max *am);

static const seg_handler seg_handlers[] = {
	[KCP_CMD_PUSH - KCP_CMD_PUSH] = on_push,
	[KCP_CMD_ACK - KCP_CMD_PUSH] = on_ack,
	[KCP_CMD_WASK - KCP_CMD_PUSH] = on_wask,
	[KCP_CMD_WINS - KCP_CMD_PUSH] = on_wins,
};

#define N_HANDLERS (sizeof(seg_handlers) / sizeof(seg_handlers[0]))

static int hdr_check(uint32_t conv, const struct kcp_hdr *h, size_t left)
{
	if (h->conv != conv || h->len > left || h->len > KCP_SEGMENT_MAX)
		return -EINVAL;
	if (h->cmd < KCP_CMD_PUSH || h->cmd - KCP_CMD_PUSH >= (int)N_HANDLERS)
		return -EINVAL;
	return 0;
}

/* Later acks count against each earlier segment sent no later than the newest acked one. */
static void count_fastacks(struct kcp *k, const struct ack_max *am)
{
	uint32_t fr = k->cfg.fastresend;

	if (!fr || !am->seen || tdiff(am->sn, k->snd_una) < 0 || tdiff(am->sn, k->snd_nxt) >= 0)
		return;
	for (uint32_t sn = k->snd_una; sn != am->sn; sn++) {
		struct kcp_seg *s = *win_at(&k->snd_buf, sn);

		if (s && tdiff(am->ts, s->ts) >= 0 && ++s->fastack == fr)
			k->fast_due = true;
	}
}

/* Slow start below ssthresh, then about one segment per window of acks; never past rmt_wnd. */
static void cwnd_grow(struct kcp *k)
{
	uint32_t mss = k->mss;

	if (k->cwnd >= k->rmt_wnd)
		return;
	if (k->cwnd < k->ssthresh) {
		k->cwnd++;
		k->incr += mss;
	} else {
		if (k->incr < mss)
			k->incr = mss;
		k->incr += (uint64_t)mss * mss / k->incr + mss / 16;
		if ((uint64_t)(k->cwnd + 1) * mss <= k->incr)
			k->cwnd = (uint32_t)((k->incr + mss - 1) / mss);
	}
	if (k->cwnd > k->rmt_wnd) {
		k->cwnd = k->rmt_wnd;
		k->incr = (uint64_t)k->rmt_wnd * mss;
	}
}

/* Takes one segment; the header has been checked. */
static int input_seg(
	struct kcp *k, const struct kcp_hdr *h, const uint8_t *data, struct ack_max *am)
{
	k->rmt_wnd = h->wnd;
	if (h->wnd > k->peer_wnd)
		k->peer_wnd = h->wnd;
	on_una(k, h->una);
	return seg_handlers[h->cmd - KCP_CMD_PUSH](k, h, data, am);
}

int kcp_input(struct kcp *k, const uint8_t *data, size_t len)
{
	uint32_t prev_una = k->snd_una;
	struct ack_max am = { 0 };
	int err = len < KCP_OVERHEAD ? -EINVAL : 0;

	while (!err && len) {
		struct kcp_hdr h;

		if (len < KCP_OVERHEAD) {
			err = -EINVAL;
			break;
		}
		hdr_get(&h, data);
		data += KCP_OVERHEAD;
		len -= KCP_OVERHEAD;
		err = hdr_check(k->conv, &h, len);
		if (err)
			break;
		err = input_seg(k, &h, data, &am);
		data += h.len;
		len -= h.len;
	}
	if (err == -EINVAL)
		k->stats.bad_input++;
	count_fastacks(k, &am);
	if (!k->cfg.nocwnd && tdiff(k->snd_una, prev_una) > 0)
		cwnd_grow(k);
	return err;
}

bool kcp_opens_stream(uint32_t conv, const uint8_t *data, size_t len)
{
	bool first_push = false;

	if (len < KCP_OVERHEAD)
		return false;
	while (len) {
		struct kcp_hdr h;

		if (len < KCP_OVERHEAD)
			return false;
		hdr_get(&h, data);
		data += KCP_OVERHEAD;
		len -= KCP_OVERHEAD;
		if (hdr_check(conv, &h, len))
			return false;
		if (h.cmd == KCP_CMD_PUSH && h.sn == 0 && h.len > 0)
			first_push = true;
		data += h.len;
		len -= h.len;
	}
	return first_push;
}

/* ---- output ---- */

static void out_emit(struct kcp *k)
{
	if (!k->olen)
		return;
	/* a failed output is a lost datagram: the ARQ recovers it like any other */
	(void)k->output(k->obuf, k->olen, k->arg);
	k->olen = 0;
}

/* Appends one segment to the datagram being built, sending that first if it is full. */
static void out_seg(struct kcp *k, const struct kcp_hdr *h, const uint8_t *data)
{
	if (!k->obuf && !(k->obuf = malloc(k->cfg.mtu)))
		return; /* a lost datagram, which the ARQ recovers like any other */
	if (k->olen + KCP_OVERHEAD + h->len > k->cfg.mtu)
		out_emit(k);
	hdr_put(k->obuf + k->olen, h);
	k->olen += KCP_OVERHEAD;
	if (h->len) {
		memcpy(k->obuf + k->olen, data, h->len);
		k->olen += h->len;
	}
}

static void out_ctl(struct kcp *k, uint8_t cmd, uint32_t ts, uint32_t sn)
{
	struct kcp_hdr h = {
		.conv = k->conv,
		.cmd = cmd,
		.wnd = (uint16_t)wnd_unused(k),
		.ts = ts,
		.sn = sn,
		.una = k->rcv_nxt,
	};

	out_seg(k, &h, NULL);
}

static void out_data(struct kcp *k, struct kcp_seg *s)
{
	struct kcp_hdr h = {
		.conv = k->conv,
		.cmd = KCP_CMD_PUSH,
		.wnd = (uint16_t)wnd_unused(k),
		.ts = k->current,
		.sn = s->sn,
		.una = k->rcv_nxt,
		.len = s->len,
	};

	s->ts = k->current;
	out_seg(k, &h, s->data);
}

/* RFC 6298 smoothing, using the flush interval as the clock granularity. */
static void rtt_update(struct kcp *k, int32_t rtt)
{
	if (!k->srtt) {
		k->srtt = rtt;
		k->rttvar = rtt / 2;
	} else {
		int32_t delta = rtt > k->srtt ? rtt - k->srtt : k->srtt - rtt;

		k->rttvar = (3 * k->rttvar + delta) / 4;
		k->srtt = (7 * k->srtt + rtt) / 8;
		if (k->srtt < 1)
			k->srtt = 1;
	}
	k->rto = (uint32_t)k->srtt + max_u32(k->cfg.interval, 4 * (uint32_t)k->rttvar);
	k->rto = min_u32(max_u32(k->rto, k->rto_min), KCP_RTO_MAX);
}

static void rtt_apply(struct kcp *k)
{
	for (uint32_t i = 0; i < k->nrtt; i++) {
		int32_t rtt = tdiff(k->current, k->rtt_ts[i]);

		if (rtt >= 0 && rtt <= KCP_RTO_MAX)
			rtt_update(k, rtt);
	}
	k->nrtt = 0;
}

static void flush_acks(struct kcp *k)
{
	for (uint32_t i = 0; i < k->nacks; i++)
		out_ctl(k, KCP_CMD_ACK, k->acks[i].ts, k->acks[i].sn);
	k->nacks = 0;
}

/* While the peer's window is closed, ask for it now and then; probes space out x1.5. */
static void probe_timer(struct kcp *k)
{
	if (k->rmt_wnd) {
		k->probe_wait = 0;
		return;
	}
	if (!k->probe_wait) {
		k->probe_wait = KCP_PROBE_INIT;
		k->ts_probe = k->current + k->probe_wait;
	} else if (tdiff(k->current, k->ts_probe) >= 0) {
		k->probe_wait = min_u32(k->probe_wait + k->probe_wait / 2, KCP_PROBE_LIMIT);
		k->ts_probe = k->current + k->probe_wait;
		k->probe |= KCP_ASK_SEND;
	}
}

static void flush_probes(struct kcp *k)
{
	probe_timer(k);
	if (k->probe & KCP_ASK_SEND)
		out_ctl(k, KCP_CMD_WASK, 0, 0);
	if (k->probe & KCP_ASK_TELL)
		out_ctl(k, KCP_CMD_WINS, 0, 0);
	k->probe = 0;
}

struct resent {
	uint32_t lost, fast;
};

/* A segment whose timer ran out: back its RTO off (x2, or x1.5 with nodelay). */
static void resend_timeout(struct kcp *k, struct kcp_seg *s, struct resent *r)
{
	if (k->cfg.nodelay)
		s->rto += s->rto / 2;
	else
		s->rto += max_u32(s->rto, k->rto);
	s->rto = min_u32(s->rto, KCP_RTO_MAX);
	s->resend_at = k->current + s->rto;
	k->stats.retransmits++;
	r->lost++;
}

static bool resend_fast(struct kcp *k, struct kcp_seg *s, struct resent *r)
{
	if (!k->cfg.fastresend || s->fastack < k->cfg.fastresend || s->xmit > KCP_FASTACK_LIMIT)
		return false;
	s->fastack = 0;
	s->resend_at = k->current + s->rto;
	k->stats.fast_retransmits++;
	r->fast++;
	return true;
}

/* Walks the segments in flight only when a timer may have run out or fast acks piled up. */
static void flush_resends(struct kcp *k, struct resent *r)
{
	uint32_t next = k->current + KCP_RTO_MAX;
	bool fast = k->fast_due;

	k->fast_due = false;
	if (!k->nsnd_buf || (!fast && tdiff(k->current, k->resend_due) < 0))
		return;
	for (uint32_t sn = k->snd_una; sn != k->snd_nxt; sn++) {
		struct kcp_seg *s = *win_at(&k->snd_buf, sn);
		bool send = true;

		if (!s)
			continue;
		if (tdiff(k->current, s->resend_at) >= 0)
			resend_timeout(k, s, r);
		else
			send = resend_fast(k, s, r);
		if (send) {
			s->xmit++;
			out_data(k, s);
		}
		if (tdiff(s->resend_at, next) < 0)
			next = s->resend_at;
	}
	k->resend_due = next;
}

static uint32_t send_window(const struct kcp *k)
{
	uint32_t wnd = min_u32(k->cfg.snd_wnd, k->rmt_wnd);

	return k->cfg.nocwnd ? wnd : min_u32(wnd, k->cwnd);
}

/* Numbers queued segments and sends them, as many as the windows allow. */
static void flush_new(struct kcp *k)
{
	uint32_t wnd = send_window(k);
	uint32_t extra = k->cfg.nodelay ? 0 : k->rto >> 3;

	if (!k->snd_queue.count || (!k->snd_buf.v && win_init(&k->snd_buf, k->cfg.snd_wnd)))
		return; /* nothing to send, or no memory for it yet: the next flush tries again */
	while (k->snd_queue.count && tdiff(k->snd_nxt, k->snd_una + wnd) < 0) {
		struct kcp_seg *s = fifo_pop(&k->snd_queue);

		s->sn = k->snd_nxt++;
		s->rto = k->rto;
		s->resend_at = k->current + s->rto + extra;
		s->xmit = 1;
		s->fastack = 0;
		if (!k->nsnd_buf++ || tdiff(s->resend_at, k->resend_due) < 0)
			k->resend_due = s->resend_at;
		*win_at(&k->snd_buf, s->sn) = s;
		out_data(k, s);
	}
}

/* Fast resends halve the window to what was in flight; a timeout starts over from one. */
static void cwnd_react(struct kcp *k, uint32_t prior_cwnd, const struct resent *r)
{
	if (r->fast) {
		k->ssthresh = max_u32((k->snd_nxt - k->snd_una) / 2, KCP_THRESH_MIN);
		k->cwnd = k->ssthresh + k->cfg.fastresend;
		k->incr = (uint64_t)k->cwnd * k->mss;
	}
	if (r->lost) {
		k->ssthresh = max_u32(prior_cwnd / 2, KCP_THRESH_MIN);
		k->cwnd = 1;
		k->incr = k->mss;
	}
	if (k->cwnd < 1) {
		k->cwnd = 1;
		k->incr = k->mss;
	}
}

/* The peer cannot hold more unread segments than we ever sent it, nor more than
 * a real receive window: a peer (or anyone posing as one) that advertises
 * 65535 and then 0 must not make us send 65535 datagrams. */
static uint32_t peer_owed(const struct kcp *k)
{
	if (!k->cfg.peer_reads_once || k->snd_queue.count || k->nsnd_buf ||
		k->rmt_wnd >= k->peer_wnd)
		return 0;
	return min_u32(min_u32(k->peer_wnd - k->rmt_wnd, k->snd_nxt), KCP_NUDGE_MAX_OWED);
}

/* One WASK per unread segment, each in its own datagram; the peer answers with WINS (its new window). */
static void flush_nudges(struct kcp *k)
{
	uint32_t owed = peer_owed(k);

	if (!owed || (k->nudge_wait && tdiff(k->current, k->nudge_at) < 0))
		return;
	for (uint32_t i = 0; i < owed; i++) {
		out_emit(k);
		out_ctl(k, KCP_CMD_WASK, 0, 0);
	}
	uint32_t base = max_u32(2 * k->rto, KCP_NUDGE_MIN_MS);
	if (k->nudge_wait && owed >= k->nudge_last_owed)
		k->nudge_backoff = min_u32(k->nudge_backoff * 2, KCP_NUDGE_MAX_MS);
	else
		k->nudge_backoff = base;
	k->nudge_last_owed = owed;
	k->nudge_wait = true;
	k->nudge_at = k->current + k->nudge_backoff;
}

static void start(struct kcp *k, uint32_t now_ms)
{
	if (k->started)
		return;
	k->started = true;
	k->ts_flush = now_ms;
}

void kcp_flush(struct kcp *k, uint32_t now_ms)
{
	uint32_t prior_cwnd = k->cwnd;
	struct resent r = { 0 };

	start(k, now_ms);
	k->current = now_ms;
	rtt_apply(k);
	flush_acks(k);
	flush_probes(k);
	flush_resends(k, &r);
	flush_new(k);
	flush_nudges(k);
	out_emit(k);
	cwnd_react(k, prior_cwnd, &r);
	/* mtu bytes (32 KiB between our peers) per session would be most of an idle
	 * one; a busy one keeps them rather than allocate them at every flush */
	if (kcp_idle(k)) {
		free(k->obuf);
		k->obuf = NULL;
	}
}

/* ---- timers ---- */

/* Something that should not wait for the next interval tick. */
static bool urgent(const struct kcp *k, uint32_t now_ms)
{
	if (k->nacks || k->probe || k->fast_due)
		return true;
	if (peer_owed(k) && (!k->nudge_wait || tdiff(now_ms, k->nudge_at) >= 0))
		return true;
	return k->nsnd_buf && tdiff(now_ms, k->resend_due) >= 0;
}

void kcp_update(struct kcp *k, uint32_t now_ms)
{
	int32_t slack;

	start(k, now_ms);
	slack = tdiff(now_ms, k->ts_flush);
	if (slack >= KCP_CLOCK_JUMP || slack < -KCP_CLOCK_JUMP) {
		k->ts_flush = now_ms;
		slack = 0;
	}
	if (slack >= 0) {
		k->ts_flush += k->cfg.interval;
		if (tdiff(now_ms, k->ts_flush) >= 0)
			k->ts_flush = now_ms + k->cfg.interval;
		kcp_flush(k, now_ms);
	} else if (urgent(k, now_ms)) {
		kcp_flush(k, now_ms);
	}
}

uint32_t kcp_check(const struct kcp *k, uint32_t now_ms)
{
	int32_t slack = tdiff(now_ms, k->ts_flush);
	uint32_t next = k->ts_flush;

	if (!k->started || urgent(k, now_ms))
		return now_ms;
	if (slack >= 0 || slack < -KCP_CLOCK_JUMP)
		return now_ms;
	if (k->nsnd_buf && tdiff(k->resend_due, next) < 0)
		next = k->resend_due;
	if (peer_owed(k) && k->nudge_wait && tdiff(k->nudge_at, next) < 0)
		next = k->nudge_at;
	return next;
}

/* ---- state ---- */

size_t kcp_unacked(const struct kcp *k)
{
	/* segments the peer holds unread count as not yet delivered: the end signal waits for them */
	return (size_t)k->snd_queue.count + k->nsnd_buf + peer_owed(k);
}

bool kcp_idle(const struct kcp *k)
{
	return !k->snd_queue.count && !k->nsnd_buf && !k->nacks && !k->probe && !peer_owed(k);
}

const struct kcp_stats *kcp_stats(const struct kcp *k)
{
	return &k->stats;
}
