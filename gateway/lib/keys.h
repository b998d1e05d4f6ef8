/* A peer's key: generating it, base64 text, reading it from a file, its signing and X25519 forms. */
#ifndef N4M_KEYS_H
#define N4M_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEY_LEN 32
#define KEY_TEXT_LEN 44 /* standard base64 of 32 bytes, with its padding */
#define KEY_ERR_MAX 256

/* One peer's own keys, all from its 32-byte private key (an Ed25519 seed). */
struct key_pair {
	uint8_t pub[KEY_LEN];	  /* Ed25519 public key: the text peers pin */
	uint8_t sign_sk[64];	  /* Ed25519 secret key (seed and public key) */
	uint8_t dh_pub[KEY_LEN];  /* X25519 form of pub */
	uint8_t dh_priv[KEY_LEN]; /* X25519 form of the secret */
};

/* sodium_init, once per process; 0 or -EIO. Every other function here calls it. */
int keys_init(void);

/* A new private key. */
void keys_generate(uint8_t priv[KEY_LEN]);
/* The pair of a private key; 0 or -EINVAL. */
int keys_pair(struct key_pair *kp, const uint8_t priv[KEY_LEN]);
/* A peer's public key in its X25519 form; -EINVAL if it is not a valid point. */
int keys_peer_dh(uint8_t dh_pub[KEY_LEN], const uint8_t pub[KEY_LEN]);
void keys_wipe(struct key_pair *kp);
/* In constant time: a key looked up in a list of allowed keys leaks nothing through timing. */
bool keys_equal(const uint8_t a[KEY_LEN], const uint8_t b[KEY_LEN]);

/* Statuses of keyed peers (docs/protocol.md, "Statuses of keyed peers"): a JSON object with
 * ,"sig":"BASE64"} in place of its closing brace, the signature over a label, the topic and the
 * payload before ,"sig":. */
#define KEY_SIG_TEXT_LEN 88 /* base64 of a 64-byte Ed25519 signature */
#define KEY_SIG_OVERHEAD (sizeof(",\"sig\":\"") - 1 + KEY_SIG_TEXT_LEN + 2)
/* json (len bytes: an object with at least one member) signed into out, with a NUL after it;
 * its length, or -EINVAL, -ENOSPC. */
int keys_status_sign(const struct key_pair *kp, const char *topic, const char *json, size_t len,
	char *out, size_t cap);
/* 0 if payload is a status signed by pub for topic, else -EBADMSG. */
int keys_status_verify(
	const uint8_t pub[KEY_LEN], const char *topic, const char *payload, size_t len);

/* KEY_TEXT_LEN characters and a NUL. */
void keys_encode(char out[KEY_TEXT_LEN + 1], const uint8_t key[KEY_LEN]);
/* Exactly KEY_TEXT_LEN characters of standard base64 (surrounding blanks and one line end
 * allowed); 0 or -EINVAL. */
int keys_decode(uint8_t key[KEY_LEN], const char *text, size_t len);
/* A private key from "@FILE" or "FILE" (its first line); 0 or -errno with a line in err. A file that
 * every user can read is accepted with a warning (the --password-file rule), said once for a
 * path read again in a row. */
int keys_read(uint8_t key[KEY_LEN], const char *spec, const char *what, char err[KEY_ERR_MAX]);

#endif
