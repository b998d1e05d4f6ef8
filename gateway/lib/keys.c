/* Peers' keys: libsodium's Ed25519 seed as the private key, its X25519 form, base64, files. */
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keys.h"
#include "log.h"

int keys_init(void)
{
	/* sodium_init is safe to call again: it returns 1 once initialised */
	return sodium_init() < 0 ? -EIO : 0;
}

void keys_generate(uint8_t priv[KEY_LEN])
{
	if (keys_init())
		abort(); /* no randomness: nothing safe to hand back */
	randombytes_buf(priv, KEY_LEN);
}

int keys_pair(struct key_pair *kp, const uint8_t priv[KEY_LEN])
{
	if (keys_init())
		return -EIO;
	crypto_sign_seed_keypair(kp->pub, kp->sign_sk, priv);
	if (crypto_sign_ed25519_sk_to_curve25519(kp->dh_priv, kp->sign_sk) ||
		crypto_sign_ed25519_pk_to_curve25519(kp->dh_pub, kp->pub)) {
		keys_wipe(kp);
		return -EINVAL;
	}
	return 0;
}

int keys_peer_dh(uint8_t dh_pub[KEY_LEN], const uint8_t pub[KEY_LEN])
{
	if (keys_init())
		return -EIO;
	return crypto_sign_ed25519_pk_to_curve25519(dh_pub, pub) ? -EINVAL : 0;
}

void keys_wipe(struct key_pair *kp)
{
	if (kp)
		sodium_memzero(kp, sizeof(*kp));
}

bool keys_equal(const uint8_t a[KEY_LEN], const uint8_t b[KEY_LEN])
{
	return sodium_memcmp(a, b, KEY_LEN) == 0;
}

#define STATUS_LABEL "net4mqtt status v1"
#define SIG_FIELD ",\"sig\":\""

/* The bytes a status signature covers: label, NUL, topic, NUL, the payload before the field. */
static void status_digest(crypto_sign_state *st, const char *topic, const char *body, size_t len)
{
	crypto_sign_init(st);
	crypto_sign_update(st, (const uint8_t *)STATUS_LABEL, sizeof(STATUS_LABEL));
	crypto_sign_update(st, (const uint8_t *)topic, strlen(topic) + 1);
	crypto_sign_update(st, (const uint8_t *)body, len);
}

int keys_status_sign(const struct key_pair *kp, const char *topic, const char *json, size_t len,
	char *out, size_t cap)
{
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_state st;

	if (len < 3 || json[0] != '{' || json[len - 1] != '}' || keys_init()) /* not "{}" */
		return -EINVAL;
	size_t body = len - 1;
	if (cap < KEY_SIG_OVERHEAD + 1 || body > cap - KEY_SIG_OVERHEAD - 1 || body > INT32_MAX)
		return -ENOSPC;
	memmove(out, json, body);
	memcpy(out + body, SIG_FIELD, strlen(SIG_FIELD));
	status_digest(&st, topic, out, body);
	crypto_sign_final_create(&st, sig, NULL, kp->sign_sk);
	char *p = out + body + strlen(SIG_FIELD);
	sodium_bin2base64(
		p, KEY_SIG_TEXT_LEN + 1, sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
	memcpy(p + KEY_SIG_TEXT_LEN, "\"}", 3);
	return (int)(body + KEY_SIG_OVERHEAD);
}

int keys_status_verify(
	const uint8_t pub[KEY_LEN], const char *topic, const char *payload, size_t len)
{
	uint8_t sig[crypto_sign_BYTES];
	crypto_sign_state st;
	size_t n = 0;

	if (len < KEY_SIG_OVERHEAD + 1 || payload[0] != '{' || keys_init())
		return -EBADMSG;
	size_t body = len - KEY_SIG_OVERHEAD;
	const char *field = payload + body, *b64 = field + strlen(SIG_FIELD);
	if (memcmp(field, SIG_FIELD, strlen(SIG_FIELD)) ||
		memcmp(b64 + KEY_SIG_TEXT_LEN, "\"}", 2) ||
		sodium_base642bin(sig, sizeof(sig), b64, KEY_SIG_TEXT_LEN, NULL, &n, NULL,
			sodium_base64_VARIANT_ORIGINAL) ||
		n != sizeof(sig))
		return -EBADMSG;
	status_digest(&st, topic, payload, body);
	return crypto_sign_final_verify(&st, sig, pub) ? -EBADMSG : 0;
}

void keys_encode(char out[KEY_TEXT_LEN + 1], const uint8_t key[KEY_LEN])
{
	sodium_bin2base64(out, KEY_TEXT_LEN + 1, key, KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

int keys_decode(uint8_t key[KEY_LEN], const char *text, size_t len)
{
	size_t n = 0;
	const char *end = NULL;

	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
			      text[len - 1] == '\t'))
		len--;
	while (len && (*text == ' ' || *text == '\t'))
		text++, len--;
	if (len != KEY_TEXT_LEN)
		return -EINVAL;
	if (sodium_base642bin(
		    key, KEY_LEN, text, len, NULL, &n, &end, sodium_base64_VARIANT_ORIGINAL) ||
		n != KEY_LEN || end != text + len) {
		sodium_memzero(key, KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

#define key_fail(err, ...) fail_with(err, KEY_ERR_MAX, -EINVAL, __VA_ARGS__)

int keys_read(uint8_t key[KEY_LEN], const char *spec, const char *what, char err[KEY_ERR_MAX])
{
	const char *path = spec[0] == '@' ? spec + 1 : spec;
	char buf[KEY_TEXT_LEN + 8];
	struct stat st;
	FILE *f = fopen(path, "re");

	if (!f) {
		int e = errno;
		key_fail(err, "cannot read %s %s: %s", what, path, strerror(e));
		return -e;
	}
	setvbuf(f, NULL, _IONBF, 0); /* no stdio buffer: a copy of the key freed unwiped */
	size_t n = fread(buf, 1, sizeof(buf), f);
	bool readable = !fstat(fileno(f), &st) && S_ISREG(st.st_mode) && (st.st_mode & S_IROTH);
	fclose(f);
	const char *nl = memchr(buf, '\n', n);
	if (nl && (size_t)(nl - buf) + 1 < n)
		n = (size_t)(nl - buf) + 1; /* the first line; what follows is ignored */
	int rc = keys_decode(key, buf, n);
	sodium_memzero(buf, sizeof(buf));
	if (rc)
		return key_fail(err,
			"%s %s: want one key of %d base64 characters (net4mqtt genkey)", what, path,
			KEY_TEXT_LEN);
	static char warned[PATH_MAX]; /* the options check and the role's start both read it */
	if (readable && strcmp(warned, path)) {
		log_warnx("%s %s can be read by every user (mode %04o): chmod o-r %s", what, path,
			(unsigned)(st.st_mode & 07777), path);
		snprintf(warned, sizeof(warned), "%s", path);
	}
	return 0;
}
