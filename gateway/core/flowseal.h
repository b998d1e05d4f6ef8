/* Encrypted flows: the seal between a flow and MQTT (docs/protocol.md, "Encrypted flows"). */
#ifndef N4M_FLOWSEAL_H
#define N4M_FLOWSEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/lib/keys.h"
#include "gateway/lib/seal.h"
#include "mqtt/topic.h"

#define FLOWSEAL_ID_LEN 16	       /* hex digits of a flow id on the wire */
#define FLOWSEAL_WAIT_MAX (64u << 10)  /* datagrams an initiator holds until the reply */
#define FLOWSEAL_REOPEN_MS 1000	       /* a datagram flow's unanswered open goes again */
#define FLOWSEAL_STAMP_SLACK_MS 120000 /* an open's stamp this far from our clock is refused */
/* A datagram flow whose open has gone unanswered this long ends (its stamp would soon be
 * refused, and its repeats carry that stamp): the client's next datagram opens a new one. */
#define FLOWSEAL_OPEN_MAX_AGE_MS (FLOWSEAL_STAMP_SLACK_MS / 2)
#define FLOWSEAL_PLAIN_MAX (64 * 1024 + 64) /* the most a flow hands the seal at once */
/* What an encrypted flow's messages cost beyond the frame or datagram they carry: a local's
 * first is its open (SEAL_OPEN_OVERHEAD and the hello), the rest SEAL_DATA_OVERHEAD. */
#define FLOWSEAL_LOCAL_OVERHEAD(dst_len, src_len)                                                  \
	(SEAL_OPEN_OVERHEAD + SEAL_HELLO_MIN + (dst_len) + (src_len))

struct flow_seal;

/* Where a seal's messages go and what it counts: its flow's, which flow.c gives each call. */
struct flowseal_io {
	int (*publish)(void *arg, const char *topic, const void *payload, size_t len);
	void *publish_arg;
	const char *topic;
	bool framed;	 /* tcpx, kcpx: every payload is a frame (mqtt/frame.h) */
	uint64_t now_ms; /* clock_ms(): when the open went out, how long it waits */
	unsigned long *bad, *replayed, *early, *dgram_dropped;
};

/* What flowseal_input made of a message. */
enum flowseal_in {
	FLOWSEAL_BAD = -1,  /* it failed its check: the flow must be reset */
	FLOWSEAL_NOTHING,   /* nothing for the flow (the handshake, a replay: counted) */
	FLOWSEAL_PLAINTEXT, /* *p, *len are the flow's message */
};

/* A fresh flow id: FLOWSEAL_ID_LEN random hex digits. */
void flowseal_new_id(char id[FLOWSEAL_ID_LEN + 1]);
/* "AGENT/LOCAL/ID" of a wire key "AGENT/LOCAL/seal/ID/-": what the handshake binds. */
int flowseal_prologue(const char *wire_key, char *out, size_t cap);

/* A local's seal toward the agent whose key is peer_pub, for a flow of proto from src to dst;
 * its first message out becomes the open. NULL: out of memory. self must outlive it. */
struct flow_seal *flowseal_initiator(const struct key_pair *self, const uint8_t peer_pub[KEY_LEN],
	const char *wire_key, enum mqtt_proto proto, const char *src, const char *dst);
/* An agent: checks an open (msg) of the flow named by wire_key, from a key allowed takes
 * (seal_open_accept_if: -EPERM, after one DH, for one it does not); hello's pointers are
 * valid until the next call here. 0, or -errno (seal.h's). */
int flowseal_accept(const struct key_pair *self, const char *wire_key, const uint8_t *msg,
	size_t len, bool (*allowed)(const uint8_t pub[KEY_LEN], void *arg), void *arg,
	struct seal *s, struct seal_hello *hello);
/* ... the seal of the flow it opens (s moves into it), and its reply, published. */
struct flow_seal *flowseal_responder(struct seal *s, const char *wire_key);
int flowseal_reply(struct flow_seal *fs, const struct flowseal_io *io);

const char *flowseal_wire_key(const struct flow_seal *fs);
/* The peer's public key: the one the initiator pinned, the one the responder accepted. */
const uint8_t *flowseal_peer(const struct flow_seal *fs);

/* A message out, sealed (or the open, or held until the reply): 0 or -errno. */
int flowseal_emit(struct flow_seal *fs, const struct flowseal_io *io, const void *p, size_t len);
/* A message in. */
enum flowseal_in flowseal_input(
	struct flow_seal *fs, const struct flowseal_io *io, const uint8_t **p, size_t *len);
/* Its keys wiped, its memory freed. Accepts NULL. */
void flowseal_free(struct flow_seal *fs);

#endif
