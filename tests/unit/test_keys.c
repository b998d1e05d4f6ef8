/* Unit tests of gateway/lib/keys: generation, the public key, base64 text and key files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/lib/keys.h"

/* RFC 8032, 7.1, TEST 1: the secret key (seed) and its public key. */
static const uint8_t rfc8032_seed[KEY_LEN] = { 0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba,
	0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19,
	0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60 };
static const uint8_t rfc8032_pub[KEY_LEN] = { 0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5,
	0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25,
	0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a };

/* Known answer: the public key of RFC 8032's seed; its X25519 forms agree. */
static void test_pair_known(void **state)
{
	struct key_pair kp;
	uint8_t dh[KEY_LEN], base[KEY_LEN];
	(void)state;

	assert_int_equal(keys_pair(&kp, rfc8032_seed), 0);
	assert_memory_equal(kp.pub, rfc8032_pub, KEY_LEN);
	assert_int_equal(keys_peer_dh(dh, kp.pub), 0);
	assert_true(keys_equal(kp.pub, rfc8032_pub));
	assert_false(keys_equal(kp.pub, rfc8032_seed));
	assert_memory_equal(dh, kp.dh_pub, KEY_LEN);
	assert_int_equal(crypto_scalarmult_base(base, kp.dh_priv), 0);
	assert_memory_equal(base, kp.dh_pub, KEY_LEN);
	keys_wipe(&kp);
	assert_true(sodium_is_zero((const uint8_t *)&kp, sizeof(kp)));
	keys_wipe(NULL);
}

/* Two new keys differ, and both make pairs. */
static void test_generate(void **state)
{
	uint8_t a[KEY_LEN], b[KEY_LEN];
	struct key_pair kp;
	(void)state;

	keys_generate(a);
	keys_generate(b);
	assert_memory_not_equal(a, b, KEY_LEN);
	assert_int_equal(keys_pair(&kp, a), 0);
}

/* Text round trip, with blanks and a line end around it. */
static void test_text_round_trip(void **state)
{
	char text[KEY_TEXT_LEN + 1], padded[64];
	uint8_t key[KEY_LEN];
	(void)state;

	keys_encode(text, rfc8032_pub);
	assert_string_equal(text, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	assert_int_equal(keys_decode(key, text, strlen(text)), 0);
	assert_memory_equal(key, rfc8032_pub, KEY_LEN);
	snprintf(padded, sizeof(padded), "  %s \r\n", text);
	assert_int_equal(keys_decode(key, padded, strlen(padded)), 0);
	assert_memory_equal(key, rfc8032_pub, KEY_LEN);
}

/* Wrong lengths, characters, padding and variants are refused. */
static void test_text_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",	 /* no padding */
		"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo==", /* too long */
		"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=",	 /* URL-safe variant */
		"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcH URo=", /* a blank inside */
		"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR==",	 /* 31 bytes */
		"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n11qYAYKxCrfVS/"
		"7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	};
	uint8_t key[KEY_LEN];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(keys_decode(key, bad[i], strlen(bad[i])), -EINVAL);
}

/* A point that is not on the curve is no peer key. */
static void test_peer_bad_point(void **state)
{
	uint8_t bad[KEY_LEN], dh[KEY_LEN];
	(void)state;

	memset(bad, 0xff, sizeof(bad)); /* not canonical */
	assert_int_equal(keys_peer_dh(dh, bad), -EINVAL);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* Files: @FILE and FILE, a second line ignored; missing and bad files say so. */
static void test_read_file(void **state)
{
	char path[] = "/tmp/test_keys.XXXXXX", spec[64], err[KEY_ERR_MAX];
	uint8_t key[KEY_LEN];
	(void)state;

	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n# a comment\n", 0600);
	snprintf(spec, sizeof(spec), "@%s", path);
	assert_int_equal(keys_read(key, spec, "--key", err), 0);
	assert_memory_equal(key, rfc8032_pub, KEY_LEN);
	assert_int_equal(keys_read(key, path, "--key", err), 0);
	write_file(path, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 0644); /* warns */
	assert_int_equal(keys_read(key, path, "--key", err), 0);
	write_file(path, "not a key\n", 0600);
	assert_int_equal(keys_read(key, path, "--key", err), -EINVAL);
	assert_non_null(strstr(err, "want one key"));
	unlink(path);
	assert_int_equal(keys_read(key, spec, "--key", err), -ENOENT);
	assert_non_null(strstr(err, "cannot read --key"));
}

/* A signed status verifies for its key and topic only; every byte flipped fails. */
static void test_status_signature(void **state)
{
	static const char json[] = "{\"online\":true,\"id\":\"agent-a\",\"epoch\":1765000000000}";
	static const char topic[] = "net4mqtt/agent-a/-/v/-";
	struct key_pair kp, other;
	char out[256];
	(void)state;

	assert_int_equal(keys_pair(&kp, rfc8032_seed), 0);
	assert_int_equal(keys_pair(&other, rfc8032_pub), 0);
	int n = keys_status_sign(&kp, topic, json, strlen(json), out, sizeof(out));
	assert_int_equal(n, strlen(json) - 1 + KEY_SIG_OVERHEAD);
	assert_memory_equal(out, json, strlen(json) - 1);
	assert_memory_equal(out + n - 2, "\"}", 2);
	assert_non_null(strstr(out, ",\"sig\":\""));
	assert_int_equal(keys_status_verify(kp.pub, topic, out, (size_t)n), 0);
	assert_int_equal(keys_status_verify(other.pub, topic, out, (size_t)n), -EBADMSG);
	assert_int_equal(
		keys_status_verify(kp.pub, "net4mqtt/agent-b/-/v/-", out, (size_t)n), -EBADMSG);
	for (int i = 0; i < n; i++) {
		out[i] ^= 0x01;
		assert_int_equal(keys_status_verify(kp.pub, topic, out, (size_t)n), -EBADMSG);
		out[i] ^= 0x01;
	}
	for (int len = 0; len < n; len++)
		assert_int_equal(keys_status_verify(kp.pub, topic, out, (size_t)len), -EBADMSG);
	assert_int_equal(keys_status_verify(kp.pub, topic, "{}", 2), -EBADMSG);
	assert_int_equal(
		keys_status_sign(&kp, topic, "{\"a\":1}", 7, out, KEY_SIG_OVERHEAD + 6), -ENOSPC);
	assert_int_equal(keys_status_sign(&kp, topic, "{\"a\":1}", 7, out, KEY_SIG_OVERHEAD + 7),
		6 + KEY_SIG_OVERHEAD);
	assert_int_equal(keys_status_sign(&kp, topic, "{}", 2, out, sizeof(out)),
		-EINVAL); /* "{,": not JSON */
	assert_int_equal(keys_status_sign(&kp, topic, "[]", 2, out, sizeof(out)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair_known),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_text_round_trip),
		cmocka_unit_test(test_text_bad),
		cmocka_unit_test(test_peer_bad_point),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_status_signature),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
