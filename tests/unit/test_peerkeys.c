/* Unit tests of gateway/lib/peerkeys (an agent's --seal-peers list) and of the helpers encrypted
 * flows build on: the flow id, the handshake's prologue, a keyed status's epoch. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/core/flowseal.h"
#include "gateway/core/status.h"
#include "gateway/lib/peerkeys.h"

static char *key_text(uint8_t pub[KEY_LEN], char text[KEY_TEXT_LEN + 1])
{
	uint8_t priv[KEY_LEN];
	struct key_pair kp;

	keys_generate(priv);
	assert_int_equal(keys_pair(&kp, priv), 0);
	memcpy(pub, kp.pub, KEY_LEN);
	keys_encode(text, kp.pub);
	return text;
}

static int parse(const char *text, struct peer_keys *list, char *err)
{
	return peerkeys_parse(text, strlen(text), "peers", list, err);
}

/* Keys with and without names, comments, blank lines, blanks around, CRLF, no final newline. */
static void test_parse_list(void **state)
{
	char a[KEY_TEXT_LEN + 1], b[KEY_TEXT_LEN + 1], c[KEY_TEXT_LEN + 1], text[512];
	char err[PEERKEYS_ERR_MAX];
	uint8_t pa[KEY_LEN], pb[KEY_LEN], pc[KEY_LEN], other[KEY_LEN];
	struct peer_keys *list = malloc(sizeof(*list));
	(void)state;

	snprintf(text, sizeof(text), "# who may open flows\n\n  %s laptop one \r\n\t%s\n%s gw",
		key_text(pa, a), key_text(pb, b), key_text(pc, c));
	assert_int_equal(parse(text, list, err), 0);
	assert_int_equal(list->n, 3);
	assert_string_equal(list->keys[0].name, "laptop one");
	assert_memory_equal(list->keys[0].pub, pa, KEY_LEN);
	assert_int_equal(strncmp(list->keys[1].name, b, 8), 0); /* unnamed: the key's start */
	assert_string_equal(list->keys[2].name, "gw");
	assert_ptr_equal(peerkeys_find(list, pc), &list->keys[2]);
	key_text(other, a);
	assert_null(peerkeys_find(list, other));
	assert_int_equal(parse("", list, err), 0);
	assert_int_equal(list->n, 0);
	free(list);
}

/* Each bad line is refused with its line number. */
static void test_parse_bad(void **state)
{
	char a[KEY_TEXT_LEN + 1], text[512], err[PEERKEYS_ERR_MAX];
	uint8_t pa[KEY_LEN];
	struct peer_keys *list = malloc(sizeof(*list));
	(void)state;

	key_text(pa, a);
	assert_int_equal(parse("junk\n", list, err), -EINVAL);
	assert_non_null(strstr(err, "peers:1: want a public key"));
	snprintf(text, sizeof(text), "%s a\n# b\n%.43s\n", a, a); /* one character short */
	assert_int_equal(parse(text, list, err), -EINVAL);
	assert_non_null(strstr(err, "peers:3:"));
	snprintf(text, sizeof(text), "%s a\n%s b\n", a, a);
	assert_int_equal(parse(text, list, err), -EINVAL);
	assert_non_null(strstr(err, "peers:2: this key is listed already (a)"));
	snprintf(text, sizeof(text), "%s %0100d\n", a, 0);
	assert_int_equal(parse(text, list, err), -EINVAL);
	assert_non_null(strstr(err, "name is longer"));
	/* an all-zero key: not a point a handshake can use */
	assert_int_equal(
		parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", list, err), -EINVAL);
	assert_int_equal(peerkeys_parse("x\0y", 3, "peers", list, err), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	free(list);
}

static void test_too_many(void **state)
{
	size_t cap = (PEERKEYS_MAX + 1) * (KEY_TEXT_LEN + 1) + 1, used = 0;
	char *text = malloc(cap), k[KEY_TEXT_LEN + 1], err[PEERKEYS_ERR_MAX];
	uint8_t pub[KEY_LEN];
	struct peer_keys *list = malloc(sizeof(*list));
	(void)state;

	for (int i = 0; i <= PEERKEYS_MAX; i++)
		used += (size_t)snprintf(text + used, cap - used, "%s\n", key_text(pub, k));
	assert_int_equal(parse(text, list, err), -EINVAL);
	assert_non_null(strstr(err, "more than"));
	free(text);
	free(list);
}

/* A flow id: 16 lowercase hex digits, a new one each time. */
static void test_flow_id(void **state)
{
	char a[FLOWSEAL_ID_LEN + 1], b[FLOWSEAL_ID_LEN + 1];
	(void)state;

	flowseal_new_id(a);
	flowseal_new_id(b);
	assert_int_equal(strlen(a), FLOWSEAL_ID_LEN);
	for (int i = 0; i < FLOWSEAL_ID_LEN; i++)
		assert_true(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
	assert_string_not_equal(a, b);
}

/* The prologue: the wire key's agent, local and flow id. */
static void test_prologue(void **state)
{
	char out[64];
	(void)state;

	assert_int_equal(flowseal_prologue("ag/loc/seal/0123456789abcdef/-", out, sizeof(out)), 23);
	assert_string_equal(out, "ag/loc/0123456789abcdef");
	assert_int_equal(flowseal_prologue("ag/loc", out, sizeof(out)), -EINVAL);
	assert_int_equal(
		flowseal_prologue("ag/loc/seal/0123456789abcdef/-", out, 8), -ENAMETOOLONG);
}

/* A keyed peer's status: "seal" and "epoch" read; a signed offline status is offline. */
static void test_status_epoch(void **state)
{
	const char *on =
		"{\"online\":true,\"id\":\"a\",\"role\":\"agent\",\"streams\":1,\"seal\":1,"
		"\"epoch\":1765000000123,\"sig\":\"x\"}";
	const char *off = "{\"online\":false,\"seal\":1,\"epoch\":1765000000123,\"sig\":\"x\"}";
	struct status st;
	(void)state;

	status_parse(on, strlen(on), &st);
	assert_true(st.online && st.seal);
	assert_int_equal(st.epoch, 1765000000123ull);
	status_parse(off, strlen(off), &st);
	assert_false(st.online);
	assert_int_equal(st.epoch, 1765000000123ull);
	status_parse("{}", 2, &st);
	assert_false(st.seal);
	assert_int_equal(st.epoch, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_flow_id),
		cmocka_unit_test(test_prologue),
		cmocka_unit_test(test_status_epoch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
