/* The kcp protocol of a stream flow: the socket's bytes ride in KCP segments, one timer per busy flow. */
#ifndef N4M_KCPFLOW_H
#define N4M_KCPFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct flow;

/* Sets up KCP for a kcp flow; fast settings when the peer is one of ours. */
int kcpflow_init(struct flow *f, bool peer_is_ours);
void kcpflow_free(struct flow *f);

/* Bytes read from the socket. */
void kcpflow_up(struct flow *f, const uint8_t *p, size_t len);
/* The socket ended its stream: the end signal follows once the peer has everything. */
void kcpflow_up_end(struct flow *f);
/* A datagram from MQTT. */
void kcpflow_input(struct flow *f, const uint8_t *p, size_t len);
/* Moves received bytes to the socket while it takes them. */
void kcpflow_deliver(struct flow *f);
/* Should the socket be read (is the send queue short enough)? */
bool kcpflow_wants_more(const struct flow *f);
/* Everything received has reached the socket? */
bool kcpflow_drained(const struct flow *f);

#endif
