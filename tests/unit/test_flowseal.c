/* Unit tests of gateway/core/flowseal: an encrypted flow's messages between a local's seal and an
 * agent's, through a fake publisher and a clock the test sets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "gateway/core/flowseal.h"
#include "mqtt/frame.h"

#define WIRE "ag/lo/seal/0123456789abcdef/-"
#define SENT_MAX 16
#define MSG_MAX 2048

/* What the fake publisher was handed, in order. */
static struct {
	int n;
	size_t len[SENT_MAX];
	uint8_t msg[SENT_MAX][MSG_MAX];
} sent;

static int fake_publish(void *arg, const char *topic, const void *payload, size_t len)
{
	(void)arg, (void)topic;
	assert_true(sent.n < SENT_MAX && len <= MSG_MAX);
	memcpy(sent.msg[sent.n], payload, len);
	sent.len[sent.n++] = len;
	return 0;
}

struct side {
	struct key_pair kp;
	unsigned long bad, replayed, early, dropped;
	struct flowseal_io io;
};

static struct side local, agent;

static void side_init(struct side *s, bool framed)
{
	uint8_t priv[KEY_LEN];

	memset(s, 0, sizeof(*s));
	keys_generate(priv);
	assert_int_equal(keys_pair(&s->kp, priv), 0);
	s->io = (struct flowseal_io){ .publish = fake_publish,
		.topic = "t",
		.framed = framed,
		.now_ms = 1000,
		.bad = &s->bad,
		.replayed = &s->replayed,
		.early = &s->early,
		.dgram_dropped = &s->dropped };
}

static int setup(void **state)
{
	(void)state;
	memset(&sent, 0, sizeof(sent));
	return 0;
}

/* The agent's side of the open sent[i]: its seal, having published its reply. */
static struct flow_seal *accept_open(int i, struct seal_hello *h)
{
	struct seal s;

	assert_int_equal(seal_type_of(sent.msg[i], sent.len[i]), SEAL_OPEN);
	assert_int_equal(
		flowseal_accept(&agent.kp, WIRE, sent.msg[i], sent.len[i], NULL, NULL, &s, h), 0);
	assert_true(keys_equal(s.peer_pub, local.kp.pub));
	struct flow_seal *fs = flowseal_responder(&s, WIRE);
	assert_non_null(fs);
	assert_int_equal(flowseal_reply(fs, &agent.io), 0);
	assert_int_equal(seal_type_of(sent.msg[sent.n - 1], sent.len[sent.n - 1]), SEAL_REPLY);
	return fs;
}

/* in: what side reads of sent[i]. */
static enum flowseal_in input(
	struct flow_seal *fs, struct side *side, int i, const uint8_t **p, size_t *len)
{
	*p = sent.msg[i];
	*len = sent.len[i];
	return flowseal_input(fs, &side->io, p, len);
}

/* A datagram flow: the first datagram is the open; the next wait for the reply (the open goes
 * again after a second), then follow it sealed; a replay is dropped, a forgery is BAD. */
static void test_datagrams(void **state)
{
	struct seal_hello h;
	const uint8_t *p;
	size_t len;
	(void)state;

	side_init(&local, false);
	side_init(&agent, false);
	struct flow_seal *l = flowseal_initiator(
		&local.kp, agent.kp.pub, WIRE, MQTT_PROTO_UDP, "1.2.3.4:5", "10.0.0.1:53");
	assert_non_null(l);
	assert_int_equal(flowseal_emit(l, &local.io, "q1", 2), 0);
	assert_int_equal(sent.n, 1);
	local.io.now_ms = 1500;
	assert_int_equal(flowseal_emit(l, &local.io, "q2", 2), 0);
	assert_int_equal(sent.n, 1); /* waits */
	local.io.now_ms = 2000;
	assert_int_equal(flowseal_emit(l, &local.io, "q3", 2), 0);
	assert_int_equal(sent.n, 2); /* the open again, unchanged */
	assert_memory_equal(sent.msg[1], sent.msg[0], sent.len[0]);

	struct flow_seal *a = accept_open(0, &h);
	assert_int_equal(h.proto, MQTT_PROTO_UDP);
	assert_int_equal(h.dst_len, 11);
	assert_memory_equal(h.dst, "10.0.0.1:53", 11);
	assert_int_equal(h.data_len, 2);
	assert_memory_equal(h.data, "q1", 2);
	int reply = sent.n - 1;
	assert_int_equal(input(a, &agent, 1, &p, &len), FLOWSEAL_NOTHING); /* the repeat: ... */
	assert_int_equal(sent.n, reply + 2);				   /* ... the reply again */
	assert_memory_equal(sent.msg[reply + 1], sent.msg[reply], sent.len[reply]);

	assert_int_equal(input(l, &local, reply, &p, &len), FLOWSEAL_NOTHING);
	assert_int_equal(sent.n, reply + 4); /* q2 and q3, sealed */
	assert_int_equal(input(a, &agent, reply + 2, &p, &len), FLOWSEAL_PLAINTEXT);
	assert_true(len == 2 && !memcmp(p, "q2", 2));
	assert_int_equal(input(a, &agent, reply + 3, &p, &len), FLOWSEAL_PLAINTEXT);
	assert_true(len == 2 && !memcmp(p, "q3", 2));
	assert_int_equal(input(a, &agent, reply + 3, &p, &len), FLOWSEAL_NOTHING);
	assert_int_equal(agent.replayed, 1);
	assert_int_equal(input(l, &local, reply + 1, &p, &len), FLOWSEAL_NOTHING); /* a repeat */

	assert_int_equal(flowseal_emit(a, &agent.io, "answer", 6), 0);
	sent.msg[sent.n - 1][2] ^= 0x80; /* another counter, which its tag does not match */
	assert_int_equal(input(l, &local, sent.n - 1, &p, &len), FLOWSEAL_BAD);
	assert_int_equal(local.bad, 1);
	assert_true(keys_equal(flowseal_peer(l), agent.kp.pub));
	assert_true(keys_equal(flowseal_peer(a), local.kp.pub));
	flowseal_free(l);
	flowseal_free(a);
}

/* An open unanswered for FLOWSEAL_OPEN_MAX_AGE_MS ends the flow: its stamp would soon be too
 * old for the agent, and the client's next datagram opens a new flow with a fresh one. */
static void test_open_ages(void **state)
{
	(void)state;
	side_init(&local, false);
	side_init(&agent, false);
	struct flow_seal *l = flowseal_initiator(
		&local.kp, agent.kp.pub, WIRE, MQTT_PROTO_UDP, "1.2.3.4:5", "10.0.0.1:53");
	assert_int_equal(flowseal_emit(l, &local.io, "q1", 2), 0);
	local.io.now_ms = 1000 + FLOWSEAL_OPEN_MAX_AGE_MS - 1;
	assert_int_equal(flowseal_emit(l, &local.io, "q2", 2), 0);
	local.io.now_ms = 1000 + FLOWSEAL_OPEN_MAX_AGE_MS;
	assert_int_equal(flowseal_emit(l, &local.io, "q3", 2), -ETIMEDOUT);
	flowseal_free(l);
}

/* A stream's OPEN repeated is the open again; other frames before the reply (KCP's) are
 * dropped, and data before the keys counts as early at the agent. */
static void test_stream_before_reply(void **state)
{
	uint8_t open[FRAME_CTL_MAX], kcp[] = { FRAME_KCP, 1, 2, 3 };
	struct frame fr = { .type = FRAME_OPEN, .off = 1 << 20 };
	size_t olen = frame_header(open, &fr);
	struct seal_hello h;
	(void)state;

	side_init(&local, true);
	side_init(&agent, true);
	struct flow_seal *l = flowseal_initiator(
		&local.kp, agent.kp.pub, WIRE, MQTT_PROTO_KCPX, "1.2.3.4:5", "10.0.0.1:80");
	assert_int_equal(flowseal_emit(l, &local.io, open, olen), 0);
	assert_int_equal(flowseal_emit(l, &local.io, kcp, sizeof(kcp)), 0);
	assert_int_equal(sent.n, 1);
	assert_int_equal(flowseal_emit(l, &local.io, open, olen), 0);
	assert_int_equal(sent.n, 2);
	assert_memory_equal(sent.msg[1], sent.msg[0], sent.len[0]);
	struct flow_seal *a = accept_open(0, &h);
	assert_int_equal(h.proto, MQTT_PROTO_KCPX);
	assert_int_equal(h.data_len, olen);
	flowseal_free(l);
	flowseal_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_datagrams, setup),
		cmocka_unit_test_setup(test_open_ages, setup),
		cmocka_unit_test_setup(test_stream_before_reply, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
