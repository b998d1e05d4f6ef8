/* libFuzzer target of gateway/lib/seal and the status signatures of gateway/lib/keys: any bytes,
 * and valid messages with bytes flipped; nothing but the untouched message is ever accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/lib/keys.h"
#include "gateway/lib/peerkeys.h"
#include "gateway/lib/seal.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

#define PROLOGUE "agent-a/local-1/0123456789abcdef"
#define MAX 1024
#define TOPIC "net4mqtt/agent-a/-/v/-"
#define STATUS "{\"online\":true,\"id\":\"agent-a\",\"epoch\":1765000000000}"

/* Made once: two key pairs, an open, a reply, a data message, and both sides' states. */
static struct {
	struct key_pair local, agent;
	struct seal opened, accepted, l_ready, a_ready;
	uint8_t open_msg[MAX], reply[MAX], data[MAX];
	char status[MAX];
	int open_len, reply_len, data_len, status_len;
} g;

static void key(struct key_pair *kp, uint8_t fill)
{
	uint8_t priv[KEY_LEN];

	memset(priv, fill, sizeof(priv));
	check(keys_pair(kp, priv) == 0);
}

static void setup(void)
{
	uint8_t out[MAX];

	key(&g.local, 1);
	key(&g.agent, 2);
	g.open_len = seal_open_build(&g.opened, &g.local, g.agent.pub, PROLOGUE, strlen(PROLOGUE),
		(const uint8_t *)"hello", 5, g.open_msg, MAX);
	check(g.open_len > 0);
	check(seal_open_accept(&g.accepted, &g.agent, PROLOGUE, strlen(PROLOGUE), g.open_msg,
		      (size_t)g.open_len, out, MAX) == 5);
	g.a_ready = g.accepted;
	g.reply_len = seal_reply_build(&g.a_ready, (const uint8_t *)"result", 6, g.reply, MAX);
	g.l_ready = g.opened;
	check(seal_reply_accept(&g.l_ready, &g.local, g.reply, (size_t)g.reply_len, out, MAX) == 6);
	g.data_len = seal_encrypt(&g.l_ready, (const uint8_t *)"data", 4, g.data, MAX);
	check(g.data_len == 4 + SEAL_DATA_OVERHEAD);
	g.status_len = keys_status_sign(&g.agent, TOPIC, STATUS, strlen(STATUS), g.status, MAX);
	check(g.status_len > 0);
}

/* msg = valid XOR input (over the input's length; past valid, the input itself). */
static size_t flip(uint8_t *msg, const uint8_t *valid, size_t vlen, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		msg[i] = (uint8_t)((i < vlen ? valid[i] : 0) ^ in[i]);
	return n;
}

static int same(const uint8_t *msg, size_t n, const uint8_t *valid, int vlen)
{
	return n == (size_t)vlen && !memcmp(msg, valid, n);
}

static void fuzz_hello(const uint8_t *in, size_t n)
{
	struct seal_hello h;
	uint8_t out[MAX + 16];

	if (seal_hello_parse(in, n, &h))
		return;
	check(h.dst_len && h.src_len && h.data + h.data_len == in + n);
	check(seal_hello_build(out, sizeof(out), &h) == (int)n && !memcmp(out, in, n));
}

static void fuzz_peer_list(const uint8_t *in, size_t n)
{
	static struct peer_keys list;
	char err[PEERKEYS_ERR_MAX];

	if (peerkeys_parse((const char *)in, n, "fuzz", &list, err)) {
		check(memchr(err, '\0', sizeof(err)) != NULL);
		return;
	}
	for (int i = 0; i < list.n; i++) {
		check(peerkeys_find(&list, list.keys[i].pub) == &list.keys[i]);
		check(memchr(list.keys[i].name, '\0', sizeof(list.keys[i].name)) != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t msg[MAX], out[MAX];
	struct seal s;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1 || size > MAX)
		return 0;
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	int rc;
	seal_type_of(in, n);
	switch (data[0] % 8) {
	case 0:
		fuzz_hello(in, n);
		break;
	case 1: /* an open, flipped */
		flip(msg, g.open_msg, (size_t)g.open_len, in, n);
		rc = seal_open_accept(
			&s, &g.agent, PROLOGUE, strlen(PROLOGUE), msg, n, out, sizeof(out));
		check(rc < 0 ? s.state == SEAL_IDLE : same(msg, n, g.open_msg, g.open_len));
		break;
	case 2: /* any bytes as an open */
		rc = seal_open_accept(
			&s, &g.agent, PROLOGUE, strlen(PROLOGUE), in, n, out, sizeof(out));
		check(rc < 0);
		break;
	case 3: /* a reply, flipped */
		s = g.opened;
		flip(msg, g.reply, (size_t)g.reply_len, in, n);
		rc = seal_reply_accept(&s, &g.local, msg, n, out, sizeof(out));
		check(rc < 0 ? s.state == SEAL_OPENED : same(msg, n, g.reply, g.reply_len));
		break;
	case 4: /* a data message, flipped; then the real one once, and never twice */
		s = g.a_ready;
		flip(msg, g.data, (size_t)g.data_len, in, n);
		rc = seal_decrypt(&s, msg, n, out, sizeof(out));
		check(rc < 0 || same(msg, n, g.data, g.data_len));
		if (rc < 0) {
			check(s.rx_top == 0);
			check(seal_decrypt(&s, g.data, (size_t)g.data_len, out, sizeof(out)) == 4);
		}
		check(seal_decrypt(&s, g.data, (size_t)g.data_len, out, sizeof(out)) < 0);
		break;
	case 5: /* a signed status, flipped */
		flip(msg, (const uint8_t *)g.status, (size_t)g.status_len, in, n);
		rc = keys_status_verify(g.agent.pub, TOPIC, (const char *)msg, n);
		check(rc < 0 || same(msg, n, (const uint8_t *)g.status, g.status_len));
		break;
	case 6: /* any bytes as a status */
		check(keys_status_verify(g.agent.pub, TOPIC, (const char *)in, n) < 0);
		break;
	case 7: /* any bytes as an agent's --seal-peers file: what it takes, it finds */
		fuzz_peer_list(in, n);
		break;
	}
	return 0;
}
