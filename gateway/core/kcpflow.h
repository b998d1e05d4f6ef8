/* A stream carried in KCP segments on the event loop: one timer per busy session, the end-of-stream wait, a silent peer detected. */
#ifndef N4M_KCPFLOW_H
#define N4M_KCPFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct kcpflow;

/* What a session asks of its owner (a flow). A callback that may end the
 * owner returns < 0 when it did: the owner has freed the session, and the
 * session touches nothing more. */
struct kcpflow_ops {
	/* a KCP datagram for the peer; a failure is a lost datagram, which KCP resends */
	int (*output)(void *arg, const uint8_t *p, size_t len);
	/* whether the socket takes received bytes now */
	bool (*can_take)(void *arg);
	/* bytes received, in order, for the socket */
	int (*deliver)(void *arg, const uint8_t *p, size_t len);
	/* everything sent before kcpflow_end is acknowledged (acked), or the wait
	 * for it ran out: the owner sends the end signal */
	int (*end)(void *arg, bool acked);
	/* acknowledgements made room in the send queue */
	void (*room)(void *arg);
	/* the peer said nothing for too long while data waited for it: the owner ends */
	void (*peer_gone)(void *arg);
};

/* peer_is_ours: large segments and fast timers; else net4mqtt's sizes. chunk
 * caps a segment's size; buf (size bytes, the owner's) receives into. */
int kcpflow_new(struct event_base *base, bool peer_is_ours, size_t chunk, uint8_t *buf, size_t size,
	const struct kcpflow_ops *ops, void *arg, struct kcpflow **out);
void kcpflow_free(struct kcpflow *k); /* accepts NULL */

/* Bytes from the socket, to send: 0, or -ENOMEM. */
int kcpflow_send(struct kcpflow *k, const uint8_t *p, size_t len);
/* The socket ended its stream: ops->end once the peer has everything. */
void kcpflow_end(struct kcpflow *k);
/* A datagram from the peer; -EBADMSG if KCP refused it (the rest goes on). */
int kcpflow_input(struct kcpflow *k, const uint8_t *p, size_t len);
/* The socket takes bytes again: hand it what was received. */
void kcpflow_deliver(struct kcpflow *k);
/* Should the socket be read (is the send queue short enough)? */
bool kcpflow_wants_more(const struct kcpflow *k);
/* Has everything received reached the socket? */
bool kcpflow_drained(const struct kcpflow *k);

#endif
