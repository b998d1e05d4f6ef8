/* KCP ARQ (skywind3000/ikcp wire format), stream mode: a reliable byte stream over lossy datagrams. Pure: no I/O, time is passed in. */
#ifndef N4M_MQTT_KCP_H
#define N4M_MQTT_KCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KCP_SEGMENT_MAX (256 * 1024) /* a longer len field is bad input, whatever our own mtu */
#define KCP_OVERHEAD                                                                               \
	24 /* conv u32, cmd u8, frg u8, wnd u16, ts u32, sn u32, una u32, len u32; little-endian */

enum kcp_cmd { /* ikcp.c */
	KCP_CMD_PUSH = 81,
	KCP_CMD_ACK = 82,
	KCP_CMD_WASK = 83, /* window probe (ask) */
	KCP_CMD_WINS = 84, /* window size (tell) */
};

struct kcp_config {
	uint32_t mtu;	   /* largest datagram handed to output(); segments carry mtu - 24 bytes */
	uint32_t snd_wnd;  /* segments */
	uint32_t rcv_wnd;  /* segments; also what we advertise */
	uint32_t interval; /* ms between flushes */
	bool nodelay;	   /* ikcp nodelay: smaller minimum RTO, no RTO doubling */
	uint32_t fastresend;  /* resend after this many later acks (0: off) */
	bool nocwnd;	      /* no congestion window: send up to min(snd_wnd, rmt_wnd) */
	bool peer_reads_once; /* the peer (net4mqtt) calls recv once per datagram: nudge it */
};

/* A net4mqtt (Rust `kcp` crate default) peer: mtu 1400, wnd 32/128, interval 100. */
extern const struct kcp_config kcp_compat_config;

struct kcp_stats {
	unsigned long bad_input; /* short, wrong conv, absurd length, unknown command */
	unsigned long retransmits, fast_retransmits;
};

struct kcp;

/* output() gets each datagram to send; it returns 0, or < 0 if it could not (counted as loss). */
typedef int (*kcp_output_fn)(const uint8_t *buf, size_t len, void *arg);

struct kcp *kcp_new(uint32_t conv, const struct kcp_config *cfg, kcp_output_fn output, void *arg);
void kcp_free(struct kcp *k);

/* Queues stream bytes (split into segments); 0 or -ENOMEM. */
int kcp_send(struct kcp *k, const uint8_t *buf, size_t len);
/* One received datagram (one or more segments). 0, or -EINVAL if any of it was bad
 * (the good segments before the bad one are still taken; the rest is dropped). */
int kcp_input(struct kcp *k, const uint8_t *data, size_t len);
/* Is this a well-formed datagram that starts a stream (carries the PUSH of sn 0)?
 * Anything else on an unknown flow is stray or junk, not a new connection. */
bool kcp_opens_stream(uint32_t conv, const uint8_t *data, size_t len);
/* Reads in-order stream bytes; returns the count, or 0 if none are ready. */
size_t kcp_recv(struct kcp *k, uint8_t *buf, size_t len);
/* Bytes kcp_recv() would return now. */
size_t kcp_readable(const struct kcp *k);

/* Drives timers and flushes: call at the time kcp_check() said, and after input/send. */
void kcp_update(struct kcp *k, uint32_t now_ms);
/* Flushes acks and data now (after kcp_input or kcp_send). */
void kcp_flush(struct kcp *k, uint32_t now_ms);
/* When kcp_update() must run next (absolute ms); now_ms if it is due. */
uint32_t kcp_check(const struct kcp *k, uint32_t now_ms);

/* Segments queued or in flight, not yet acknowledged by the peer. */
size_t kcp_unacked(const struct kcp *k);
/* Is there anything at all for the timer to do (unacked data, pending acks, probes)? */
bool kcp_idle(const struct kcp *k);
const struct kcp_stats *kcp_stats(const struct kcp *k);

#endif
