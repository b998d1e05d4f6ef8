/* Sealed flows: the handshake in a flow's open and its reply, then AEAD messages with a replay window. */
#ifndef N4M_SEAL_H
#define N4M_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"

/* docs/protocol.md, "Encrypted flows": every message starts with the version and its type. */
#define SEAL_VERSION 1
enum seal_type { SEAL_OPEN = 'H', SEAL_REPLY = 'R', SEAL_DATA = 'D' };

#define SEAL_TAG_LEN 16
#define SEAL_MAC_LEN 16 /* an open's last bytes: keyed by the responder's public key */
#define SEAL_HEADER_LEN 2
/* version, type, E, the sealed static key, the open payload's tag, the mac */
#define SEAL_OPEN_OVERHEAD (SEAL_HEADER_LEN + KEY_LEN + KEY_LEN + 2 * SEAL_TAG_LEN + SEAL_MAC_LEN)
/* version, type, E, the reply payload's tag */
#define SEAL_REPLY_OVERHEAD (SEAL_HEADER_LEN + KEY_LEN + SEAL_TAG_LEN)
/* version, type, u64 counter: the additional data of every transport message */
#define SEAL_DATA_HEADER (SEAL_HEADER_LEN + 8)
#define SEAL_DATA_OVERHEAD (SEAL_DATA_HEADER + SEAL_TAG_LEN)
#define SEAL_WINDOW 256 /* counters below the highest accepted that may still arrive, once */
#define SEAL_OPEN_ID_LEN 16

enum seal_state {
	SEAL_IDLE,     /* nothing yet, or wiped */
	SEAL_OPENED,   /* initiator: open sent, waiting for the reply */
	SEAL_ACCEPTED, /* responder: open accepted, reply not built yet */
	SEAL_READY,    /* transport keys in place */
};

/* One flow's seal: fixed size, no allocation. Fields are the module's; read peer_pub, open_id
 * and eph_pub only. */
struct seal {
	uint8_t state;
	bool initiator;
	uint8_t peer_pub[KEY_LEN];	   /* the peer's public key, once known */
	uint8_t eph_pub[KEY_LEN];	   /* the initiator's ephemeral key (replay cache) */
	uint8_t open_id[SEAL_OPEN_ID_LEN]; /* a hash of the open's bytes (its repeats) */
	/* handshake state, wiped once the transport keys are derived */
	uint8_t hash[32];
	uint8_t ck[32];
	uint8_t eph_priv[KEY_LEN];
	uint8_t peer_dh[KEY_LEN];
	/* transport */
	uint8_t tx_key[32];
	uint8_t rx_key[32];
	uint64_t tx_next;
	uint64_t rx_top; /* one above the highest counter accepted; 0: none yet */
	uint64_t rx_seen[SEAL_WINDOW / 64];
};

/* The open payload's plaintext: what the topic carries for a plain flow. Parsed pointers point
 * into the buffer (no NUL). */
struct seal_hello {
	uint64_t stamp;		   /* ms since 1970, strictly increasing per sender */
	uint8_t proto;		   /* the caller's code for tcpx, kcpx, udp, icmp */
	uint16_t dst_len, src_len; /* a topic level may be longer than 255 (MQTT_LEVEL_MAX) */
	const char *dst, *src;
	const uint8_t *data; /* the flow's first bytes */
	size_t data_len;
};
#define SEAL_HELLO_MIN (8 + 1 + 2 + 1 + 2 + 1) /* one byte of DST and of SRC */

/* Errors (negative): -EPROTO a version or type not ours; -EBADMSG short, malformed, or its tag did
 * not verify (tampered, another flow's or key's); -EALREADY a counter already accepted; -ESTALE a
 * counter below the window; -EINVAL a bad key or a call in the wrong state; -ENOSPC out too
 * small; -EOVERFLOW the counter is spent. Lengths returned are bytes written to out. */

/* Initiator: the open toward the peer whose public key is peer_pub, carrying payload. The
 * prologue (the flow's "AGENT/LOCAL/FLOW_ID") binds it to its topic. */
int seal_open_build(struct seal *s, const struct key_pair *self, const uint8_t peer_pub[KEY_LEN],
	const void *prologue, size_t prologue_len, const uint8_t *payload, size_t len, uint8_t *out,
	size_t cap);
/* Responder: checks an open and decrypts its payload into out; s->peer_pub is then the
 * initiator's key, which the caller looks up in its list before it answers. */
int seal_open_accept(struct seal *s, const struct key_pair *self, const void *prologue,
	size_t prologue_len, const uint8_t *msg, size_t len, uint8_t *out, size_t cap);
/* ... and asks allowed(pub, arg) about the initiator's key as soon as it is decrypted, before
 * the second Diffie-Hellman and the key's conversion: an open from a key it refuses (-EPERM)
 * costs one X25519 operation, not two. allowed may be NULL (every key). */
int seal_open_accept_if(struct seal *s, const struct key_pair *self, const void *prologue,
	size_t prologue_len, const uint8_t *msg, size_t len, uint8_t *out, size_t cap,
	bool (*allowed)(const uint8_t pub[KEY_LEN], void *arg), void *arg);
/* Responder: the reply carrying payload; derives the transport keys. */
int seal_reply_build(struct seal *s, const uint8_t *payload, size_t len, uint8_t *out, size_t cap);
/* Initiator: checks the reply and decrypts its payload into out; derives the transport keys. A
 * reply that fails leaves s as it was. */
int seal_reply_accept(struct seal *s, const struct key_pair *self, const uint8_t *msg, size_t len,
	uint8_t *out, size_t cap);

/* Transport (SEAL_READY): in and out must not overlap. */
int seal_encrypt(struct seal *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap);
/* The window moves only for a message whose tag verifies. */
int seal_decrypt(struct seal *s, const uint8_t *msg, size_t len, uint8_t *out, size_t cap);

/* The open_id seal_open_accept would record for msg: a repeated open is recognised without
 * another handshake. */
void seal_open_id(const uint8_t *msg, size_t len, uint8_t out[SEAL_OPEN_ID_LEN]);

/* A message's type, or -EPROTO: which of the calls above it is for. */
int seal_type_of(const uint8_t *msg, size_t len);
void seal_wipe(struct seal *s);

int seal_hello_build(uint8_t *out, size_t cap, const struct seal_hello *h);
int seal_hello_parse(const uint8_t *buf, size_t len, struct seal_hello *h);

#endif
