/* A stream carried in KCP segments on the event loop: one timer per busy session, the end-of-stream wait, a silent peer detected. */
#include "kcpflow.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>

#include "gateway/lib/clock.h"
#include "mqtt/kcp.h"

#define KCP_FAST_MTU (32 * 1024) /* segment + header per publish between our peers */
#define KCP_SEND_QUEUE_WNDS 2	 /* stop reading the socket past this many windows unacked */
#define KCP_EOF_WAIT_MS 30000	 /* how long the end signal waits for the peer's acks */
#define KCP_DEAD_MS 60000	 /* unacked data and not a word from the peer: it is gone */

/* Between our peers: large segments and windows, short interval, fast resend,
 * and no congestion window (a loss-free broker must not collapse it). */
static const struct kcp_config kcp_fast_config = {
	.mtu = KCP_FAST_MTU,
	.snd_wnd = 256,
	.rcv_wnd = 256,
	.interval = 10,
	.nodelay = true,
	.fastresend = 2,
	.nocwnd = true,
};

struct kcpflow {
	struct kcp *kcp;
	const struct kcpflow_ops *ops;
	void *arg;
	uint8_t *buf;
	size_t size;
	struct event ev_timer; /* armed only while KCP has something to time */
	struct event ev_flush; /* active once after a burst of input: one ack message */
	bool timer_armed, eof_pending;
	uint32_t eof_since_ms, heard_ms;
};

/* KCP's clock: milliseconds that wrap around (ikcp compares them modulo 2^32). */
static uint32_t now_ms(void)
{
	return (uint32_t)clock_ms();
}

static int kcp_output_cb(const uint8_t *buf, size_t len, void *arg)
{
	struct kcpflow *k = arg;

	return k->ops->output(k->arg, buf, len);
}

/* The end signal goes once everything sent is acknowledged, or after a bounded wait. */
static int try_end(struct kcpflow *k, uint32_t now)
{
	if (!k->eof_pending)
		return 0;
	bool acked = kcp_unacked(k->kcp) == 0;
	if (!acked && (int32_t)(now - k->eof_since_ms) < KCP_EOF_WAIT_MS)
		return 0;
	k->eof_pending = false;
	return k->ops->end(k->arg, acked);
}

/* One timer per session, armed only while KCP has something to time. */
static void schedule(struct kcpflow *k)
{
	uint32_t now = now_ms();

	if (kcp_idle(k->kcp) && !k->eof_pending) {
		if (k->timer_armed)
			event_del(&k->ev_timer);
		k->timer_armed = false;
		return;
	}
	uint32_t wait = kcp_check(k->kcp, now) - now;
	if (wait > 1000)
		wait = 1000;
	struct timeval tv = { 0, (suseconds_t)wait * 1000 };
	evtimer_add(&k->ev_timer, &tv);
	k->timer_armed = true;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kcpflow *k = arg;
	(void)fd, (void)what;

	kcp_flush(k->kcp, now_ms());
	schedule(k);
}

/* Acks and window updates of every message of one read burst go out together,
 * once the loop has run the MQTT client's read callback. */
static void flush_soon(struct kcpflow *k)
{
	if (!event_pending(&k->ev_flush, EV_TIMEOUT, NULL))
		event_active(&k->ev_flush, EV_TIMEOUT, 1);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kcpflow *k = arg;
	uint32_t now = now_ms();
	(void)fd, (void)what;

	k->timer_armed = false;
	if (kcp_unacked(k->kcp) > 0 && (int32_t)(now - k->heard_ms) > KCP_DEAD_MS) {
		k->ops->peer_gone(k->arg);
		return;
	}
	kcp_update(k->kcp, now);
	k->ops->room(k->arg);
	if (try_end(k, now) < 0)
		return;
	schedule(k);
}

int kcpflow_new(struct event_base *base, bool peer_is_ours, size_t chunk, uint8_t *buf, size_t size,
	const struct kcpflow_ops *ops, void *arg, struct kcpflow **out)
{
	struct kcp_config cfg = peer_is_ours ? kcp_fast_config : kcp_compat_config;
	struct kcpflow *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	if (peer_is_ours && cfg.mtu > chunk)
		cfg.mtu = (uint32_t)chunk;
	if (!peer_is_ours)
		cfg.interval = 20; /* a local choice: acks sooner than net4mqtt's 100 ms */
	k->kcp = kcp_new(0, &cfg, kcp_output_cb, k);
	if (!k->kcp) {
		free(k);
		return -ENOMEM;
	}
	k->ops = ops;
	k->arg = arg;
	k->buf = buf;
	k->size = size;
	evtimer_assign(&k->ev_timer, base, timer_cb, k);
	event_assign(&k->ev_flush, base, -1, 0, flush_cb, k);
	k->heard_ms = now_ms();
	*out = k;
	return 0;
}

void kcpflow_free(struct kcpflow *k)
{
	if (!k)
		return;
	if (k->timer_armed)
		event_del(&k->ev_timer);
	event_del(&k->ev_flush);
	kcp_free(k->kcp);
	free(k);
}

bool kcpflow_wants_more(const struct kcpflow *k)
{
	return kcp_unacked(k->kcp) < (size_t)KCP_SEND_QUEUE_WNDS * 256;
}

bool kcpflow_drained(const struct kcpflow *k)
{
	return kcp_readable(k->kcp) == 0;
}

int kcpflow_send(struct kcpflow *k, const uint8_t *p, size_t len)
{
	if (kcp_send(k->kcp, p, len))
		return -ENOMEM;
	kcp_flush(k->kcp, now_ms());
	schedule(k);
	return 0;
}

void kcpflow_end(struct kcpflow *k)
{
	k->eof_pending = true;
	k->eof_since_ms = now_ms();
	if (try_end(k, k->eof_since_ms) < 0)
		return;
	schedule(k);
}

void kcpflow_deliver(struct kcpflow *k)
{
	while (k->ops->can_take(k->arg)) {
		size_t got = kcp_recv(k->kcp, k->buf, k->size);
		if (got == 0)
			break;
		if (k->ops->deliver(k->arg, k->buf, got) < 0)
			return;
	}
	flush_soon(k); /* a window that opened again is told in this pass of the loop */
}

int kcpflow_input(struct kcpflow *k, const uint8_t *p, size_t len)
{
	int bad = kcp_input(k->kcp, p, len) ? -EBADMSG : 0;

	k->heard_ms = now_ms();
	k->ops->room(k->arg); /* acks may have made room to send */
	if (try_end(k, now_ms()) < 0)
		return bad;
	kcpflow_deliver(k);
	return bad;
}
