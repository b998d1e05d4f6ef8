/* Unit tests of gateway/lib/seal: handshake, transport both ways, tampering, replays, wrong keys. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "gateway/lib/keys.h"
#include "gateway/lib/seal.h"

#define PROLOGUE "agent-a/local-1/0123456789abcdef"
#define BUF 2048

struct pair {
	struct key_pair local, agent;
	struct seal l, a; /* the local's (initiator) and the agent's (responder) */
};

static void make_key(struct key_pair *kp)
{
	uint8_t priv[KEY_LEN];

	keys_generate(priv);
	assert_int_equal(keys_pair(kp, priv), 0);
}

static int setup(void **state)
{
	static struct pair p;

	memset(&p, 0, sizeof(p));
	make_key(&p.local);
	make_key(&p.agent);
	*state = &p;
	return 0;
}

/* The open and the reply between p's keys; returns the open's length (msg holds it). */
static int handshake(struct pair *p, uint8_t *open_msg)
{
	uint8_t reply[BUF], out[BUF];
	const uint8_t hello[] = "OPEN 10.0.0.1:80";
	const uint8_t back[] = "RESULT 0";

	int n = seal_open_build(&p->l, &p->local, p->agent.pub, PROLOGUE, strlen(PROLOGUE), hello,
		sizeof(hello), open_msg, BUF);
	assert_int_equal(n, sizeof(hello) + SEAL_OPEN_OVERHEAD);
	assert_int_equal(p->l.state, SEAL_OPENED);
	assert_int_equal(seal_type_of(open_msg, (size_t)n), SEAL_OPEN);
	int m = seal_open_accept(&p->a, &p->agent, PROLOGUE, strlen(PROLOGUE), open_msg, (size_t)n,
		out, sizeof(out));
	assert_int_equal(m, sizeof(hello));
	assert_memory_equal(out, hello, sizeof(hello));
	assert_true(keys_equal(p->a.peer_pub, p->local.pub)); /* who opened it */
	assert_memory_equal(p->a.open_id, p->l.open_id, SEAL_OPEN_ID_LEN);
	assert_memory_equal(p->a.eph_pub, p->l.eph_pub, KEY_LEN);
	int r = seal_reply_build(&p->a, back, sizeof(back), reply, sizeof(reply));
	assert_int_equal(r, sizeof(back) + SEAL_REPLY_OVERHEAD);
	assert_int_equal(p->a.state, SEAL_READY);
	assert_int_equal(seal_type_of(reply, (size_t)r), SEAL_REPLY);
	assert_int_equal(seal_reply_accept(&p->l, &p->local, reply, (size_t)r, out, sizeof(out)),
		sizeof(back));
	assert_memory_equal(out, back, sizeof(back));
	assert_int_equal(p->l.state, SEAL_READY);
	return n;
}

/* from seals len bytes, to opens them. */
static void transfer(struct seal *from, struct seal *to, size_t len)
{
	uint8_t in[BUF], msg[BUF], out[BUF];

	randombytes_buf(in, len);
	int n = seal_encrypt(from, in, len, msg, sizeof(msg));
	assert_int_equal(n, len + SEAL_DATA_OVERHEAD);
	assert_int_equal(seal_type_of(msg, (size_t)n), SEAL_DATA);
	assert_int_equal(seal_decrypt(to, msg, (size_t)n, out, sizeof(out)), len);
	assert_memory_equal(out, in, len);
}

/* A full handshake, then messages both ways; the handshake's secrets are gone. */
static void test_handshake_and_transport(void **state)
{
	struct pair *p = *state;
	uint8_t open_msg[BUF];

	handshake(p, open_msg);
	for (size_t len = 0; len < 1500; len += 97) {
		transfer(&p->l, &p->a, len);
		transfer(&p->a, &p->l, len);
	}
	assert_memory_equal(p->l.tx_key, p->a.rx_key, 32);
	assert_memory_equal(p->l.rx_key, p->a.tx_key, 32);
	assert_memory_not_equal(p->l.tx_key, p->l.rx_key, 32);
	assert_true(sodium_is_zero(p->l.eph_priv, KEY_LEN));
	assert_true(sodium_is_zero(p->a.eph_priv, KEY_LEN));
	assert_true(sodium_is_zero(p->l.ck, 32));
	assert_true(sodium_is_zero(p->a.ck, 32));
	seal_wipe(&p->l);
	assert_true(sodium_is_zero((const uint8_t *)&p->l, sizeof(p->l)));
	seal_wipe(NULL);
}

/* Two handshakes between the same keys give different transport keys (fresh ephemerals). */
static void test_fresh_keys(void **state)
{
	struct pair *p = *state;
	uint8_t open_msg[BUF], first[32];

	handshake(p, open_msg);
	memcpy(first, p->l.tx_key, 32);
	handshake(p, open_msg);
	assert_memory_not_equal(first, p->l.tx_key, 32);
}

/* Every byte of an open, flipped, is refused; the untouched open still works after. */
static void test_open_tampered(void **state)
{
	struct pair *p = *state;
	uint8_t msg[BUF], out[BUF];
	const uint8_t hello[] = "x";

	int n = seal_open_build(&p->l, &p->local, p->agent.pub, PROLOGUE, strlen(PROLOGUE), hello,
		sizeof(hello), msg, sizeof(msg));
	for (int i = 0; i < n; i++) {
		msg[i] ^= 0x40;
		int rc = seal_open_accept(&p->a, &p->agent, PROLOGUE, strlen(PROLOGUE), msg,
			(size_t)n, out, sizeof(out));
		assert_true(rc == -EBADMSG || rc == -EPROTO);
		assert_int_equal(p->a.state, SEAL_IDLE);
		msg[i] ^= 0x40;
	}
	for (int len = 0; len < n; len++) /* truncated */
		assert_true(seal_open_accept(&p->a, &p->agent, PROLOGUE, strlen(PROLOGUE), msg,
				    (size_t)len, out, sizeof(out)) < 0);
	assert_int_equal(seal_open_accept(&p->a, &p->agent, PROLOGUE, strlen(PROLOGUE), msg,
				 (size_t)n, out, sizeof(out)),
		sizeof(hello));
	/* the same open for another topic */
	assert_int_equal(seal_open_accept(&p->a, &p->agent, "agent-a/local-1/0123456789abcdee",
				 strlen(PROLOGUE), msg, (size_t)n, out, sizeof(out)),
		-EBADMSG);
}

/* Every byte of a reply, flipped, is refused and leaves the initiator waiting. */
static void test_reply_tampered(void **state)
{
	struct pair *p = *state;
	uint8_t msg[BUF], reply[BUF], out[BUF];

	int n = seal_open_build(&p->l, &p->local, p->agent.pub, PROLOGUE, strlen(PROLOGUE),
		(const uint8_t *)"o", 1, msg, sizeof(msg));
	assert_int_equal(seal_open_accept(&p->a, &p->agent, PROLOGUE, strlen(PROLOGUE), msg,
				 (size_t)n, out, sizeof(out)),
		1);
	int r = seal_reply_build(&p->a, (const uint8_t *)"r", 1, reply, sizeof(reply));
	for (int i = 0; i < r; i++) {
		reply[i] ^= 0x01;
		int rc = seal_reply_accept(&p->l, &p->local, reply, (size_t)r, out, sizeof(out));
		assert_true(rc == -EBADMSG || rc == -EPROTO);
		assert_int_equal(p->l.state, SEAL_OPENED);
		reply[i] ^= 0x01;
	}
	assert_int_equal(
		seal_reply_accept(&p->l, &p->local, reply, (size_t)r, out, sizeof(out)), 1);
	transfer(&p->l, &p->a, 100);
}

/* Every byte of a transport message, flipped, is refused; the window did not move. */
static void test_data_tampered(void **state)
{
	struct pair *p = *state;
	uint8_t open_msg[BUF], msg[BUF], out[BUF];

	handshake(p, open_msg);
	int n = seal_encrypt(&p->l, (const uint8_t *)"hello, agent", 12, msg, sizeof(msg));
	for (int i = 0; i < n; i++) {
		msg[i] ^= 0x80;
		int rc = seal_decrypt(&p->a, msg, (size_t)n, out, sizeof(out));
		assert_true(rc == -EBADMSG || rc == -EPROTO);
		msg[i] ^= 0x80;
	}
	assert_int_equal(p->a.rx_top, 0);
	for (int len = 0; len < n; len++)
		assert_true(seal_decrypt(&p->a, msg, (size_t)len, out, sizeof(out)) < 0);
	assert_int_equal(seal_decrypt(&p->a, msg, (size_t)n, out, sizeof(out)), 12);
	assert_memory_equal(out, "hello, agent", 12);
	/* a message of the other direction is not one of this one (counter 1: not yet seen) */
	seal_encrypt(&p->a, (const uint8_t *)"x", 1, msg, sizeof(msg));
	n = seal_encrypt(&p->a, (const uint8_t *)"x", 1, msg, sizeof(msg));
	assert_int_equal(seal_decrypt(&p->a, msg, (size_t)n, out, sizeof(out)), -EBADMSG);
}

/* A replay is refused; reordered messages inside the window are accepted once; older ones
 * are too old. */
static void test_replay_window(void **state)
{
	struct pair *p = *state;
	static uint8_t msgs[SEAL_WINDOW + 10][64];
	int len[SEAL_WINDOW + 10];
	uint8_t open_msg[BUF], out[BUF];

	handshake(p, open_msg);
	for (int i = 0; i < SEAL_WINDOW + 10; i++)
		len[i] = seal_encrypt(&p->l, (const uint8_t *)"data", 4, msgs[i], sizeof(msgs[i]));
	assert_int_equal(seal_decrypt(&p->a, msgs[0], (size_t)len[0], out, sizeof(out)), 4);
	assert_int_equal(seal_decrypt(&p->a, msgs[0], (size_t)len[0], out, sizeof(out)), -EALREADY);
	/* 5 before 3 before 4: each once */
	assert_int_equal(seal_decrypt(&p->a, msgs[5], (size_t)len[5], out, sizeof(out)), 4);
	assert_int_equal(seal_decrypt(&p->a, msgs[3], (size_t)len[3], out, sizeof(out)), 4);
	assert_int_equal(seal_decrypt(&p->a, msgs[4], (size_t)len[4], out, sizeof(out)), 4);
	assert_int_equal(seal_decrypt(&p->a, msgs[3], (size_t)len[3], out, sizeof(out)), -EALREADY);
	assert_int_equal(seal_decrypt(&p->a, msgs[5], (size_t)len[5], out, sizeof(out)), -EALREADY);
	/* jump to the last: 9 is now SEAL_WINDOW below it (the oldest kept), 8 is too old */
	int last = SEAL_WINDOW + 9;
	assert_int_equal(seal_decrypt(&p->a, msgs[last], (size_t)len[last], out, sizeof(out)), 4);
	assert_int_equal(seal_decrypt(&p->a, msgs[8], (size_t)len[8], out, sizeof(out)), -ESTALE);
	assert_int_equal(seal_decrypt(&p->a, msgs[9], (size_t)len[9], out, sizeof(out)), -ESTALE);
	assert_int_equal(seal_decrypt(&p->a, msgs[10], (size_t)len[10], out, sizeof(out)), 4);
	assert_int_equal(
		seal_decrypt(&p->a, msgs[10], (size_t)len[10], out, sizeof(out)), -EALREADY);
	/* the window's bits of counters it slid past were cleared: these were never seen */
	for (int i = 11; i < last; i++)
		assert_int_equal(seal_decrypt(&p->a, msgs[i], (size_t)len[i], out, sizeof(out)), 4);
	for (int i = 10; i <= last; i++)
		assert_int_equal(
			seal_decrypt(&p->a, msgs[i], (size_t)len[i], out, sizeof(out)), -EALREADY);
}

/* A far jump clears the whole window; the counter refuses to wrap. */
static void test_window_jump_and_overflow(void **state)
{
	struct pair *p = *state;
	uint8_t open_msg[BUF], msg[BUF], out[BUF];

	handshake(p, open_msg);
	transfer(&p->l, &p->a, 10);
	p->l.tx_next = 100000;
	transfer(&p->l, &p->a, 10);
	assert_int_equal(p->a.rx_top, 100001);
	p->l.tx_next = UINT64_MAX - 1;
	transfer(&p->l, &p->a, 1);
	assert_int_equal(
		seal_encrypt(&p->l, (const uint8_t *)"x", 1, msg, sizeof(msg)), -EOVERFLOW);
	/* a forged counter of 2^64-1 is never accepted */
	p->l.tx_next = 5;
	int n = seal_encrypt(&p->l, (const uint8_t *)"x", 1, msg, sizeof(msg));
	memset(msg + SEAL_HEADER_LEN, 0xff, 8);
	assert_int_equal(seal_decrypt(&p->a, msg, (size_t)n, out, sizeof(out)), -EBADMSG);
}

/* The local pinned another key than the agent's: the agent cannot read the open. */
static void test_wrong_responder_key(void **state)
{
	struct pair *p = *state;
	struct key_pair other;
	uint8_t msg[BUF], out[BUF];

	make_key(&other);
	int n = seal_open_build(&p->l, &p->local, other.pub, PROLOGUE, strlen(PROLOGUE),
		(const uint8_t *)"o", 1, msg, sizeof(msg));
	assert_true(n > 0);
	assert_int_equal(seal_open_accept(&p->a, &p->agent, PROLOGUE, strlen(PROLOGUE), msg,
				 (size_t)n, out, sizeof(out)),
		-EBADMSG);
}

/* A local that claims another's public key without its private key is refused; an unknown but
 * genuine key is reported as itself, for the caller's list to refuse. */
static void test_wrong_initiator_key(void **state)
{
	struct pair *p = *state;
	struct key_pair stranger, forged;
	uint8_t msg[BUF], out[BUF];

	make_key(&stranger);
	forged = stranger;
	memcpy(forged.pub, p->local.pub, KEY_LEN); /* claims to be the local */
	int n = seal_open_build(&p->l, &forged, p->agent.pub, PROLOGUE, strlen(PROLOGUE),
		(const uint8_t *)"o", 1, msg, sizeof(msg));
	assert_int_equal(seal_open_accept(&p->a, &p->agent, PROLOGUE, strlen(PROLOGUE), msg,
				 (size_t)n, out, sizeof(out)),
		-EBADMSG);
	n = seal_open_build(&p->l, &stranger, p->agent.pub, PROLOGUE, strlen(PROLOGUE),
		(const uint8_t *)"o", 1, msg, sizeof(msg));
	assert_int_equal(seal_open_accept(&p->a, &p->agent, PROLOGUE, strlen(PROLOGUE), msg,
				 (size_t)n, out, sizeof(out)),
		1);
	assert_true(keys_equal(p->a.peer_pub, stranger.pub));
	assert_false(keys_equal(p->a.peer_pub, p->local.pub));
	/* a reply from an agent that is not the pinned one fails at the local */
	struct seal impostor;
	uint8_t reply[BUF];
	n = seal_open_build(&p->l, &p->local, p->agent.pub, PROLOGUE, strlen(PROLOGUE),
		(const uint8_t *)"o", 1, msg, sizeof(msg));
	struct key_pair other;
	make_key(&other);
	memset(&impostor, 0, sizeof(impostor));
	assert_true(seal_open_accept(&impostor, &other, PROLOGUE, strlen(PROLOGUE), msg, (size_t)n,
			    out, sizeof(out)) < 0);
	assert_int_equal(seal_reply_build(&impostor, (const uint8_t *)"r", 1, reply, sizeof(reply)),
		-EINVAL);
}

/* The list is asked as soon as the initiator's key is decrypted: a key it refuses is -EPERM
 * and leaves nothing; one it takes is the open accepted, as without the question. */
static int asked;

static bool allow_only(const uint8_t pub[KEY_LEN], void *arg)
{
	asked++;
	return keys_equal(pub, arg);
}

static void test_accept_if(void **state)
{
	struct pair *p = *state;
	uint8_t msg[BUF], out[BUF];
	struct key_pair other;

	make_key(&other);
	int n = seal_open_build(&p->l, &p->local, p->agent.pub, PROLOGUE, strlen(PROLOGUE),
		(const uint8_t *)"hello", 5, msg, sizeof(msg));
	assert_true(n > 0);
	asked = 0;
	assert_int_equal(seal_open_accept_if(&p->a, &p->agent, PROLOGUE, strlen(PROLOGUE), msg,
				 (size_t)n, out, sizeof(out), allow_only, other.pub),
		-EPERM);
	assert_int_equal(asked, 1);
	assert_int_equal(p->a.state, SEAL_IDLE);
	assert_int_equal(seal_reply_build(&p->a, NULL, 0, out, sizeof(out)), -EINVAL);
	asked = 0;
	assert_int_equal(seal_open_accept_if(&p->a, &p->agent, PROLOGUE, strlen(PROLOGUE), msg,
				 (size_t)n, out, sizeof(out), allow_only, p->local.pub),
		5);
	assert_int_equal(asked, 1);
	assert_true(keys_equal(p->a.peer_pub, p->local.pub));
	assert_memory_equal(out, "hello", 5);
	/* a tampered static key never reaches the question */
	asked = 0;
	msg[SEAL_HEADER_LEN + KEY_LEN] ^= 1;
	assert_int_equal(seal_open_accept_if(&p->a, &p->agent, PROLOGUE, strlen(PROLOGUE), msg,
				 (size_t)n, out, sizeof(out), allow_only, p->local.pub),
		-EBADMSG);
	assert_int_equal(asked, 0);
}

/* Calls in the wrong state, short buffers, a bad peer key. */
static void test_states_and_sizes(void **state)
{
	struct pair *p = *state;
	uint8_t msg[BUF], out[BUF], bad[KEY_LEN];

	seal_wipe(&p->l);
	assert_int_equal(seal_encrypt(&p->l, msg, 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(seal_decrypt(&p->l, msg, 40, out, sizeof(out)), -EINVAL);
	assert_int_equal(seal_reply_build(&p->l, msg, 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(seal_reply_accept(&p->l, &p->local, msg, 60, out, sizeof(out)), -EINVAL);
	memset(bad, 0xff, sizeof(bad));
	assert_int_equal(
		seal_open_build(&p->l, &p->local, bad, "p", 1, msg, 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(seal_open_build(&p->l, &p->local, p->agent.pub, "p", 1, msg, 10, out,
				 SEAL_OPEN_OVERHEAD + 9),
		-ENOSPC);
	int n = seal_open_build(
		&p->l, &p->local, p->agent.pub, "p", 1, msg, 10, out, SEAL_OPEN_OVERHEAD + 10);
	assert_int_equal(n, SEAL_OPEN_OVERHEAD + 10);
	assert_int_equal(
		seal_open_accept(&p->a, &p->agent, "p", 1, out, (size_t)n, msg, 9), -ENOSPC);
	assert_int_equal(seal_type_of((const uint8_t *)"\x02H", 2), -EPROTO);
	assert_int_equal(seal_type_of((const uint8_t *)"\x01X", 2), -EPROTO);
	assert_int_equal(seal_type_of((const uint8_t *)"\x01", 1), -EPROTO);
	assert_true(sizeof(struct seal) <= 512); /* one per flow */
}

/* Known answers: RFC 8439, 2.8.2's tag from libsodium's AEAD; our nonce is 4 zero bytes and the
 * counter little-endian, as the protocol document says. */
static void test_known_answers(void **state)
{
	static const char pt[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
				 "only one tip for the future, sunscreen would be it.";
	static const uint8_t nonce[12] = { 0x07, 0, 0, 0, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46,
		0x47 };
	static const uint8_t aad[12] = { 0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5,
		0xc6, 0xc7 };
	static const uint8_t tag[16] = { 0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a, 0x7e, 0x90,
		0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91 };
	uint8_t key[32], c[sizeof(pt) + 16], msg[64], ref[64], n[12] = { 0 };
	struct seal s;
	(void)state;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	crypto_aead_chacha20poly1305_ietf_encrypt(
		c, NULL, (const uint8_t *)pt, sizeof(pt) - 1, aad, sizeof(aad), NULL, nonce, key);
	assert_memory_equal(c + sizeof(pt) - 1, tag, 16);

	memset(&s, 0, sizeof(s));
	s.state = SEAL_READY;
	memcpy(s.tx_key, key, 32);
	s.tx_next = 0x0102030405060708;
	assert_int_equal(seal_encrypt(&s, (const uint8_t *)"abc", 3, msg, sizeof(msg)),
		3 + SEAL_DATA_OVERHEAD);
	assert_memory_equal(msg, "\x01\x44\x01\x02\x03\x04\x05\x06\x07\x08", SEAL_DATA_HEADER);
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(8 - i);
	crypto_aead_chacha20poly1305_ietf_encrypt(
		ref, NULL, (const uint8_t *)"abc", 3, msg, SEAL_DATA_HEADER, NULL, n, key);
	assert_memory_equal(msg + SEAL_DATA_HEADER, ref, 3 + SEAL_TAG_LEN);
	/* ... and what libsodium seals, seal_decrypt opens (the transport is OpenSSL's) */
	memcpy(s.rx_key, key, 32);
	uint8_t out[8];
	assert_int_equal(seal_decrypt(&s, msg, 3 + SEAL_DATA_OVERHEAD, out, sizeof(out)), 3);
	assert_memory_equal(out, "abc", 3);
	msg[SEAL_DATA_HEADER] ^= 1;
	msg[SEAL_HEADER_LEN + 7]++; /* another counter: not a replay, a forgery */
	assert_int_equal(seal_decrypt(&s, msg, 3 + SEAL_DATA_OVERHEAD, out, sizeof(out)), -EBADMSG);
	assert_true(sodium_is_zero(out, 3));
}

/* The open payload's plaintext: round trip, and what does not parse. */
static void test_hello(void **state)
{
	struct seal_hello h = {
		.stamp = 1765000000123,
		.proto = 3,
		.dst_len = 15,
		.dst = "example.org:443",
		.src_len = 12,
		.src = "10.0.0.7:555",
		.data = (const uint8_t *)"OPEN",
		.data_len = 4,
	};
	struct seal_hello g;
	uint8_t buf[128];
	(void)state;

	int n = seal_hello_build(buf, sizeof(buf), &h);
	assert_int_equal(n, 8 + 1 + 2 + 15 + 2 + 12 + 4);
	assert_int_equal(seal_hello_parse(buf, (size_t)n, &g), 0);
	assert_true(g.stamp == h.stamp);
	assert_int_equal(g.proto, 3);
	assert_int_equal(g.dst_len, 15);
	assert_memory_equal(g.dst, "example.org:443", 15);
	assert_int_equal(g.src_len, 12);
	assert_memory_equal(g.src, "10.0.0.7:555", 12);
	assert_int_equal(g.data_len, 4);
	assert_memory_equal(g.data, "OPEN", 4);
	for (int len = 0; len < n - 4; len++) /* cut inside DST or SRC */
		assert_int_equal(seal_hello_parse(buf, (size_t)len, &g), -EBADMSG);
	assert_int_equal(seal_hello_build(buf, (size_t)n - 1, &h), -ENOSPC);
	h.src_len = 0;
	assert_int_equal(seal_hello_build(buf, sizeof(buf), &h), -EINVAL);
	buf[10] = 0; /* no DST */
	assert_int_equal(seal_hello_parse(buf, (size_t)n, &g), -EBADMSG);
	/* a 271-character DST (a 253-character name and its port) fits */
	char dst[271];
	memset(dst, 'a', sizeof(dst));
	h.dst = dst;
	h.dst_len = sizeof(dst);
	h.src_len = 12;
	uint8_t big[400];
	n = seal_hello_build(big, sizeof(big), &h);
	assert_int_equal(n, 8 + 1 + 2 + 271 + 2 + 12 + 4);
	assert_int_equal(seal_hello_parse(big, (size_t)n, &g), 0);
	assert_int_equal(g.dst_len, 271);
	assert_memory_equal(g.src, "10.0.0.7:555", 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_handshake_and_transport, setup),
		cmocka_unit_test_setup(test_fresh_keys, setup),
		cmocka_unit_test_setup(test_open_tampered, setup),
		cmocka_unit_test_setup(test_reply_tampered, setup),
		cmocka_unit_test_setup(test_data_tampered, setup),
		cmocka_unit_test_setup(test_replay_window, setup),
		cmocka_unit_test_setup(test_window_jump_and_overflow, setup),
		cmocka_unit_test_setup(test_wrong_responder_key, setup),
		cmocka_unit_test_setup(test_wrong_initiator_key, setup),
		cmocka_unit_test_setup(test_states_and_sizes, setup),
		cmocka_unit_test_setup(test_accept_if, setup),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_hello),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
