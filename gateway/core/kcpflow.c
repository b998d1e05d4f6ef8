/* The kcp protocol of a stream flow: the socket's bytes ride in KCP segments, one timer per busy flow. */
#include "kcpflow.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <time.h>

#include "flow.h"
#include "gateway/lib/log.h"
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

/* KCP's clock: milliseconds that wrap around (ikcp compares them modulo 2^32). */
static uint32_t now_ms(void)
{
	return (uint32_t)node_now_ms();
}

static int kcpflow_output(const uint8_t *buf, size_t len, void *arg)
{
	struct flow *f = arg;

	/* a failed publish is a lost datagram to KCP; the broker's loss closes flows elsewhere */
	return node_publish(f->node, f->topic, buf, len);
}

/* Sends the end signal once everything we sent is acknowledged, or after a bounded wait. */
static void kcpflow_try_end(struct flow *f, uint32_t now)
{
	if (!f->eof_pending)
		return;
	bool acked = kcp_unacked(f->kcp) == 0;
	if (!acked && (int32_t)(now - f->eof_since_ms) < KCP_EOF_WAIT_MS)
		return;
	if (!acked)
		log_info("flow %llu: peer did not acknowledge the end of the stream in time",
			(unsigned long long)f->id);
	f->eof_pending = false;
	if (flow_publish(f, "", 0))
		return;
	flow_check_done(f);
}

static void kcpflow_schedule(struct flow *f);

static void kcpflow_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flow *f = arg;
	uint32_t now = now_ms();
	(void)fd, (void)what;

	f->kcp_timer = false;
	if (kcp_unacked(f->kcp) > 0 && (int32_t)(now - f->kcp_heard_ms) > KCP_DEAD_MS) {
		flow_close(f, "kcp peer stopped answering", true);
		return;
	}
	kcp_update(f->kcp, now);
	flow_update_read(f);
	kcpflow_try_end(f, now);
	if (!f->dead)
		kcpflow_schedule(f);
}

/* One timer per flow, armed only while KCP has something to time. */
static void kcpflow_schedule(struct flow *f)
{
	uint32_t now = now_ms();

	if (kcp_idle(f->kcp) && !f->eof_pending) {
		if (f->kcp_timer)
			event_del(&f->ev_kcp);
		f->kcp_timer = false;
		return;
	}
	uint32_t wait = kcp_check(f->kcp, now) - now;
	if (wait > 1000)
		wait = 1000;
	struct timeval tv = { 0, (suseconds_t)wait * 1000 };
	evtimer_add(&f->ev_kcp, &tv);
	f->kcp_timer = true;
}

int kcpflow_init(struct flow *f, bool peer_is_ours)
{
	struct kcp_config cfg = peer_is_ours ? kcp_fast_config : kcp_compat_config;

	if (peer_is_ours && cfg.mtu > f->chunk)
		cfg.mtu = (uint32_t)f->chunk;
	if (!peer_is_ours)
		cfg.interval = 20; /* a local choice: acks sooner than net4mqtt's 100 ms */
	f->kcp = kcp_new(0, &cfg, kcpflow_output, f);
	if (!f->kcp)
		return -1;
	evtimer_assign(&f->ev_kcp, f->node->base, kcpflow_timer_cb, f);
	f->kcp_heard_ms = now_ms();
	return 0;
}

void kcpflow_free(struct flow *f)
{
	if (!f->kcp)
		return;
	if (f->kcp_timer)
		event_del(&f->ev_kcp);
	f->kcp_timer = false;
	kcp_free(f->kcp);
	f->kcp = NULL;
}

bool kcpflow_wants_more(const struct flow *f)
{
	return kcp_unacked(f->kcp) < (size_t)KCP_SEND_QUEUE_WNDS * 256;
}

bool kcpflow_drained(const struct flow *f)
{
	return kcp_readable(f->kcp) == 0;
}

void kcpflow_up(struct flow *f, const uint8_t *p, size_t len)
{
	if (kcp_send(f->kcp, p, len)) {
		flow_close(f, "out of memory", true);
		return;
	}
	f->bytes_up += len;
	kcp_flush(f->kcp, now_ms());
	if (f->dead)
		return;
	flow_update_read(f);
	kcpflow_schedule(f);
}

void kcpflow_up_end(struct flow *f)
{
	f->eof_pending = true;
	f->eof_since_ms = now_ms();
	kcpflow_try_end(f, f->eof_since_ms);
	if (!f->dead)
		kcpflow_schedule(f);
}

void kcpflow_deliver(struct flow *f)
{
	struct node *n = f->node;

	while (!f->dead && f->fd >= 0 && !f->connecting && evbuffer_get_length(f->out) == 0) {
		size_t got = kcp_recv(f->kcp, n->rbuf, n->rbuf_size);
		if (got == 0)
			break;
		f->bytes_down += got;
		if (flow_write_down(f, n->rbuf, got))
			return;
	}
	if (f->dead)
		return;
	kcp_flush(f->kcp, now_ms()); /* a window that opened again is told at once */
	if (f->dead)
		return;
	flow_down_finished(f);
	if (!f->dead)
		kcpflow_schedule(f);
}

void kcpflow_input(struct flow *f, const uint8_t *p, size_t len)
{
	f->kcp_heard_ms = now_ms();
	if (kcp_input(f->kcp, p, len))
		f->node->stats.bad_payload++;
	flow_update_read(f); /* acks may have made room to send */
	kcpflow_try_end(f, now_ms());
	if (!f->dead)
		kcpflow_deliver(f);
}
