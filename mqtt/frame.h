/* The frames of a tcpx or kcpx flow: our stream extension between our own peers (docs/protocol.md). */
#ifndef N4M_MQTT_FRAME_H
#define N4M_MQTT_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* The first byte of every payload on a tcpx/kcpx topic. */
enum frame_type {
	FRAME_OPEN = 'O',   /* local -> agent: open the flow; off: the agent may send below it */
	FRAME_RESULT = 'R', /* agent -> local: code (enum frame_result); off as in OPEN */
	FRAME_DATA = 'D',   /* tcpx: stream bytes at offset off */
	FRAME_KCP = 'K',    /* kcpx: one KCP output datagram */
	FRAME_WINDOW =
		'W', /* tcpx: the peer may send bytes below offset off; msgs: DATA frames received */
	FRAME_PROBE = 'P',   /* "are you there, what is my window?": answered by WINDOW */
	FRAME_END = 'E',     /* the sender's stream ends at offset off; repeated until END_ACK */
	FRAME_END_ACK = 'e', /* off: the END's */
	FRAME_ABORT = 'A', /* the flow failed (code: enum frame_result); repeated until ABORT_ACK */
	FRAME_ABORT_ACK = 'a',
};

/* What an OPEN came to, or why a flow was aborted. */
enum frame_result {
	FRAME_OK,
	FRAME_REFUSED,		/* the destination refused the connection */
	FRAME_NET_UNREACHABLE,	/* no route to its network */
	FRAME_HOST_UNREACHABLE, /* no route to it, or it did not answer */
	FRAME_TIMED_OUT,	/* no answer before the agent's connect timeout */
	FRAME_NO_NAME,		/* its name does not resolve */
	FRAME_NOT_ALLOWED,	/* the agent's --allow refuses it */
	FRAME_FAILED,		/* anything else: a limit, no memory, bad input */
	FRAME_LOST,		/* a message of the flow was lost on the way */
	FRAME_RESULT_MAX = FRAME_LOST,
};

#define FRAME_DATA_HDR 9 /* type and offset, before a DATA frame's bytes */
#define FRAME_CTL_MAX 13 /* the longest frame without bytes (WINDOW) */

struct frame {
	enum frame_type type;
	enum frame_result code; /* RESULT, ABORT */
	uint64_t off;		/* OPEN, RESULT, DATA, WINDOW, PROBE, END, END_ACK */
	uint32_t msgs;		/* WINDOW */
	const uint8_t *data;	/* DATA, KCP: the bytes after the header, in the payload */
	size_t len;
};

/* 0, or -EINVAL: an unknown type, a wrong length, an unknown code, DATA or KCP without bytes. */
int frame_parse(const uint8_t *p, size_t len, struct frame *fr);
/* Writes a frame's header (for DATA and KCP, the bytes follow it); returns its length. */
size_t frame_header(uint8_t buf[FRAME_CTL_MAX], const struct frame *fr);
/* "connection refused", ... */
const char *frame_result_str(enum frame_result r);

#endif
