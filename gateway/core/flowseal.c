/* Encrypted flows: the seal between a flow and MQTT (docs/protocol.md, "Encrypted flows"). */
#include "flowseal.h"

#include <errno.h>
#include <event2/buffer.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/lib/log.h"
#include "mqtt/frame.h"
#include "mqtt/topic.h"

/* The largest message of an encrypted flow: a flow's largest, and the open's extra. */
#define SEALED_MAX (FLOWSEAL_PLAIN_MAX + SEAL_OPEN_OVERHEAD + SEAL_HELLO_MIN + 2 * MQTT_LEVEL_MAX)

struct flow_seal {
	struct seal s;
	const struct key_pair *self; /* an initiator's: the node's, which outlives its flows */
	bool initiator;
	uint8_t proto;	    /* an initiator's flow: what its hello says */
	char *src, *dst;    /* ... in the same allocation, after wire_key */
	uint8_t *handshake; /* our open (initiator) or reply (responder): sent again on a repeat */
	size_t handshake_len;
	uint64_t handshake_ms;	  /* when the open last went out */
	uint64_t open_ms;	  /* when the open was built (its stamp) */
	struct evbuffer *waiting; /* an initiator's datagrams before the reply, length-prefixed */
	char wire_key[];
};

/* The loop is single-threaded: one buffer for what goes out, one for what comes in. */
static uint8_t sealed_out[SEALED_MAX], opened_in[SEALED_MAX];

void flowseal_new_id(char id[FLOWSEAL_ID_LEN + 1])
{
	uint8_t raw[FLOWSEAL_ID_LEN / 2];

	randombytes_buf(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
}

int flowseal_prologue(const char *wire_key, char *out, size_t cap)
{
	size_t agent_len = 0, local_len = 0, id_len = 0;
	const char *agent = mqtt_level_at(wire_key, 0, &agent_len);
	const char *local = mqtt_level_at(wire_key, 1, &local_len);
	const char *id = mqtt_level_at(wire_key, 3, &id_len);

	if (!agent || !local || !id)
		return -EINVAL;
	int n = snprintf(out, cap, "%.*s/%.*s/%.*s", (int)agent_len, agent, (int)local_len, local,
		(int)id_len, id);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}

/* One allocation: the seal, its wire key, and an initiator's SRC and DST. */
static struct flow_seal *seal_alloc(const char *wire_key, const char *src, const char *dst)
{
	size_t klen = strlen(wire_key) + 1, slen = strlen(src) + 1, dlen = strlen(dst) + 1;
	struct flow_seal *fs = calloc(1, sizeof(*fs) + klen + slen + dlen);

	if (!fs)
		return NULL;
	memcpy(fs->wire_key, wire_key, klen);
	fs->src = fs->wire_key + klen;
	memcpy(fs->src, src, slen);
	fs->dst = fs->src + slen;
	memcpy(fs->dst, dst, dlen);
	return fs;
}

struct flow_seal *flowseal_initiator(const struct key_pair *self, const uint8_t peer_pub[KEY_LEN],
	const char *wire_key, enum mqtt_proto proto, const char *src, const char *dst)
{
	struct flow_seal *fs = seal_alloc(wire_key, src, dst);

	if (!fs)
		return NULL;
	fs->self = self;
	fs->initiator = true;
	fs->proto = (uint8_t)proto;
	memcpy(fs->s.peer_pub, peer_pub, KEY_LEN);
	return fs;
}

const char *flowseal_wire_key(const struct flow_seal *fs)
{
	return fs->wire_key;
}

const uint8_t *flowseal_peer(const struct flow_seal *fs)
{
	return fs->s.peer_pub;
}

void flowseal_free(struct flow_seal *fs)
{
	if (!fs)
		return;
	seal_wipe(&fs->s);
	free(fs->handshake);
	if (fs->waiting)
		evbuffer_free(fs->waiting);
	free(fs);
}

static int publish_raw(const struct flowseal_io *io, const void *p, size_t len)
{
	return io->publish(io->publish_arg, io->topic, p, len);
}

static int keep_handshake(struct flow_seal *fs, const uint8_t *msg, size_t len)
{
	free(fs->handshake);
	fs->handshake_len = 0;
	if (!(fs->handshake = malloc(len)))
		return -ENOMEM;
	memcpy(fs->handshake, msg, len);
	fs->handshake_len = len;
	return 0;
}

/* ms since 1970, strictly increasing in this process: an agent refuses a stamp it has seen. */
static uint64_t hello_stamp(void)
{
	static uint64_t last;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	last = now > last ? now : last + 1;
	return last;
}

/* The first message out: the open, carrying what the flow is and its first frame or datagram. */
static int seal_open(
	struct flow_seal *fs, const struct flowseal_io *io, const uint8_t *p, size_t len)
{
	char prologue[2 * MQTT_LEVEL_MAX + FLOWSEAL_ID_LEN + 3];
	int plen = flowseal_prologue(fs->wire_key, prologue, sizeof(prologue));

	if (plen < 0)
		return -EINVAL;
	struct seal_hello h = {
		.stamp = hello_stamp(),
		.proto = fs->proto,
		.dst_len = (uint16_t)strlen(fs->dst),
		.src_len = (uint16_t)strlen(fs->src),
		.dst = fs->dst,
		.src = fs->src,
		.data = p,
		.data_len = len,
	};
	int hlen = seal_hello_build(opened_in, sizeof(opened_in), &h);
	if (hlen < 0)
		return hlen;
	uint8_t peer[KEY_LEN];
	memcpy(peer, fs->s.peer_pub, KEY_LEN);
	int n = seal_open_build(&fs->s, fs->self, peer, prologue, (size_t)plen, opened_in,
		(size_t)hlen, sealed_out, sizeof(sealed_out));
	sodium_memzero(opened_in, (size_t)hlen);
	if (n < 0) { /* seal_open_build wiped the seal: the pinned key stays for another try */
		memcpy(fs->s.peer_pub, peer, KEY_LEN);
		return n == -ENOSPC ? -EMSGSIZE : n;
	}
	if (keep_handshake(fs, sealed_out, (size_t)n))
		return -ENOMEM;
	fs->open_ms = fs->handshake_ms = io->now_ms;
	return publish_raw(io, sealed_out, (size_t)n);
}

static int seal_resend_open(struct flow_seal *fs, const struct flowseal_io *io)
{
	fs->handshake_ms = io->now_ms;
	return publish_raw(io, fs->handshake, fs->handshake_len);
}

/* An initiator's message before the reply: a datagram waits (bounded); a stream's OPEN
 * repeated is the open again; anything else is dropped (KCP sends it again). A datagram
 * flow's open unanswered for FLOWSEAL_OPEN_MAX_AGE_MS: -ETIMEDOUT (a stream's own OPEN
 * timeout is shorter). */
static int seal_before_reply(
	struct flow_seal *fs, const struct flowseal_io *io, const uint8_t *p, size_t len)
{
	struct frame fr;

	if (io->framed)
		return !frame_parse(p, len, &fr) && fr.type == FRAME_OPEN ? seal_resend_open(fs, io)
									  : 0;
	if (io->now_ms - fs->open_ms >= FLOWSEAL_OPEN_MAX_AGE_MS)
		return -ETIMEDOUT;
	uint16_t l = (uint16_t)len;
	if (!fs->waiting && !(fs->waiting = evbuffer_new()))
		return -ENOMEM;
	if (len > UINT16_MAX || evbuffer_get_length(fs->waiting) + len > FLOWSEAL_WAIT_MAX ||
		evbuffer_expand(fs->waiting, sizeof(l) + len)) {
		(*io->dgram_dropped)++;
	} else {
		evbuffer_add(fs->waiting, &l, sizeof(l));
		evbuffer_add(fs->waiting, p, len);
	}
	if (io->now_ms - fs->handshake_ms >= FLOWSEAL_REOPEN_MS)
		return seal_resend_open(fs, io);
	return 0;
}

int flowseal_emit(struct flow_seal *fs, const struct flowseal_io *io, const void *p, size_t len)
{
	int n;

	switch (fs->s.state) {
	case SEAL_READY:
		n = seal_encrypt(&fs->s, p, len, sealed_out, sizeof(sealed_out));
		if (n < 0)
			return n == -ENOSPC ? -EMSGSIZE : n;
		return publish_raw(io, sealed_out, (size_t)n);
	case SEAL_IDLE:
		return fs->initiator ? seal_open(fs, io, p, len) : -EINVAL;
	case SEAL_OPENED:
		return seal_before_reply(fs, io, p, len);
	default:
		return -EINVAL;
	}
}

/* The reply came: the transport keys are in place, and the datagrams that waited go. */
static void seal_replied(
	struct flow_seal *fs, const struct flowseal_io *io, const uint8_t *msg, size_t len)
{
	uint16_t l;

	if (seal_reply_accept(&fs->s, fs->self, msg, len, opened_in, sizeof(opened_in)) < 0) {
		(*io->bad)++;
		return;
	}
	free(fs->handshake);
	fs->handshake = NULL;
	fs->handshake_len = 0;
	while (fs->waiting && evbuffer_remove(fs->waiting, &l, sizeof(l)) == sizeof(l)) {
		if (evbuffer_remove(fs->waiting, opened_in, l) != (int)l ||
			flowseal_emit(fs, io, opened_in, l))
			break;
	}
	if (fs->waiting) {
		evbuffer_free(fs->waiting);
		fs->waiting = NULL;
	}
}

/* A responder hears the open again: its reply was lost, so it goes again, unchanged. */
static void seal_open_again(
	struct flow_seal *fs, const struct flowseal_io *io, const uint8_t *msg, size_t len)
{
	uint8_t id[SEAL_OPEN_ID_LEN];

	seal_open_id(msg, len, id);
	if (fs->initiator || !fs->handshake || sodium_memcmp(id, fs->s.open_id, sizeof(id))) {
		(*io->replayed)++; /* another open on this flow id: a replay */
		return;
	}
	publish_raw(io, fs->handshake, fs->handshake_len);
}

enum flowseal_in flowseal_input(
	struct flow_seal *fs, const struct flowseal_io *io, const uint8_t **p, size_t *len)
{
	int n;

	switch (seal_type_of(*p, *len)) {
	case SEAL_DATA:
		if (fs->s.state != SEAL_READY) {
			(*io->early)++;
			return FLOWSEAL_NOTHING;
		}
		n = seal_decrypt(&fs->s, *p, *len, opened_in, sizeof(opened_in));
		if (n >= 0) {
			*p = opened_in;
			*len = (size_t)n;
			return FLOWSEAL_PLAINTEXT;
		}
		if (n == -EALREADY || n == -ESTALE) {
			(*io->replayed)++;
			return FLOWSEAL_NOTHING;
		}
		break;
	case SEAL_REPLY:
		if (fs->initiator && fs->s.state == SEAL_OPENED)
			seal_replied(fs, io, *p, *len);
		return FLOWSEAL_NOTHING; /* or a repeat of the reply we have */
	case SEAL_OPEN:
		seal_open_again(fs, io, *p, *len);
		return FLOWSEAL_NOTHING;
	}
	(*io->bad)++;
	return FLOWSEAL_BAD;
}

int flowseal_accept(const struct key_pair *self, const char *wire_key, const uint8_t *msg,
	size_t len, bool (*allowed)(const uint8_t pub[KEY_LEN], void *arg), void *arg,
	struct seal *s, struct seal_hello *hello)
{
	char prologue[2 * MQTT_LEVEL_MAX + FLOWSEAL_ID_LEN + 3];
	int plen = flowseal_prologue(wire_key, prologue, sizeof(prologue));

	if (plen < 0)
		return -EINVAL;
	int n = seal_open_accept_if(s, self, prologue, (size_t)plen, msg, len, opened_in,
		sizeof(opened_in), allowed, arg);
	if (n < 0)
		return n;
	if (seal_hello_parse(opened_in, (size_t)n, hello)) {
		seal_wipe(s);
		return -EBADMSG;
	}
	return 0;
}

struct flow_seal *flowseal_responder(struct seal *s, const char *wire_key)
{
	struct flow_seal *fs = seal_alloc(wire_key, "", "");

	if (fs)
		fs->s = *s;
	seal_wipe(s);
	return fs;
}

int flowseal_reply(struct flow_seal *fs, const struct flowseal_io *io)
{
	int n = seal_reply_build(&fs->s, NULL, 0, sealed_out, sizeof(sealed_out));

	if (n < 0)
		return n;
	if (keep_handshake(fs, sealed_out, (size_t)n))
		return -ENOMEM;
	return publish_raw(io, sealed_out, (size_t)n);
}
