/* Sealed flows (docs/protocol.md, "Encrypted flows"): an IK-like handshake, then ChaCha20-Poly1305. */
#include <errno.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "seal.h"

#define LABEL "net4mqtt seal v1"
#define LABEL_MAC "net4mqtt seal mac"
#define CTX_MIX "n4mseal1"   /* chaining and message keys of the handshake */
#define CTX_SPLIT "n4mseal2" /* the transport keys */

/* The handshake's running values, copied so that a message that fails changes nothing. */
struct hs {
	uint8_t h[32];
	uint8_t ck[32];
	uint8_t k[32];
};

static void hs_wipe(struct hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* h = H(h || data) */
static void mix_hash(uint8_t h[32], const uint8_t *data, size_t len)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, h, 32);
	crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, h, 32);
}

/* ck, k = MIX(ck, DH(priv, pub)); -EBADMSG for a small-order pub (an all-zero result). */
static int mix_key(struct hs *hs, const uint8_t priv[KEY_LEN], const uint8_t pub[KEY_LEN])
{
	uint8_t dh[32], prk[32];
	int rc = 0;

	if (crypto_scalarmult(dh, priv, pub)) {
		rc = -EBADMSG;
		goto out;
	}
	crypto_generichash(prk, sizeof(prk), dh, sizeof(dh), hs->ck, sizeof(hs->ck));
	crypto_kdf_derive_from_key(hs->ck, sizeof(hs->ck), 1, CTX_MIX, prk);
	crypto_kdf_derive_from_key(hs->k, sizeof(hs->k), 2, CTX_MIX, prk);
out:
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(prk, sizeof(prk));
	return rc;
}

static void nonce_of(uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES], uint64_t counter)
{
	memset(n, 0, crypto_aead_chacha20poly1305_IETF_NPUBBYTES);
	for (int i = 0; i < 8; i++, counter >>= 8)
		n[4 + i] = (uint8_t)counter;
}

/* c = AEAD(k, nonce 0, m, ad = h), then h = H(h || c). c has len + SEAL_TAG_LEN bytes. */
static void hs_seal(struct hs *hs, const uint8_t *m, size_t len, uint8_t *c)
{
	uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	nonce_of(n, 0);
	crypto_aead_chacha20poly1305_ietf_encrypt(c, NULL, m, len, hs->h, 32, NULL, n, hs->k);
	mix_hash(hs->h, c, len + SEAL_TAG_LEN);
}

/* m = the plaintext of c (clen bytes with its tag), then h = H(h || c); -EBADMSG. */
static int hs_open(struct hs *hs, const uint8_t *c, size_t clen, uint8_t *m)
{
	uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	nonce_of(n, 0);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(m, NULL, NULL, c, clen, hs->h, 32, n, hs->k))
		return -EBADMSG;
	mix_hash(hs->h, c, clen);
	return 0;
}

/* An open's mac: a keyed hash of the bytes before it, keyed by H(LABEL_MAC || the responder's
 * public key). Whoever does not know that key (it is in no status) cannot make an open the
 * responder spends a Diffie-Hellman on: it drops the rest after one hash (WireGuard's mac1). */
static void open_mac(
	uint8_t mac[SEAL_MAC_LEN], const uint8_t *msg, size_t len, const uint8_t rpub[KEY_LEN])
{
	uint8_t key[32];
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, sizeof(key));
	crypto_generichash_update(&st, (const uint8_t *)LABEL_MAC, strlen(LABEL_MAC));
	crypto_generichash_update(&st, rpub, KEY_LEN);
	crypto_generichash_final(&st, key, sizeof(key));
	crypto_generichash(mac, SEAL_MAC_LEN, msg, len, key, sizeof(key));
}

/* The values both sides start from: the label, the prologue, the responder's key. */
static void hs_init(struct hs *hs, const void *prologue, size_t plen, const uint8_t rpub[KEY_LEN])
{
	crypto_generichash(hs->h, sizeof(hs->h), (const uint8_t *)LABEL, strlen(LABEL), NULL, 0);
	memcpy(hs->ck, hs->h, sizeof(hs->ck));
	mix_hash(hs->h, prologue, plen);
	mix_hash(hs->h, rpub, KEY_LEN);
}

/* The transport keys from the last chaining key; the handshake's secrets are wiped. */
static void split(struct seal *s, const struct hs *hs)
{
	crypto_kdf_derive_from_key(s->initiator ? s->tx_key : s->rx_key, 32, 1, CTX_SPLIT, hs->ck);
	crypto_kdf_derive_from_key(s->initiator ? s->rx_key : s->tx_key, 32, 2, CTX_SPLIT, hs->ck);
	s->tx_next = 0;
	s->rx_top = 0;
	memset(s->rx_seen, 0, sizeof(s->rx_seen));
	sodium_memzero(s->hash, sizeof(s->hash));
	sodium_memzero(s->ck, sizeof(s->ck));
	sodium_memzero(s->eph_priv, sizeof(s->eph_priv));
	s->state = SEAL_READY;
}

static int check_header(const uint8_t *msg, size_t len, size_t min, uint8_t type)
{
	if (len < SEAL_HEADER_LEN || msg[0] != SEAL_VERSION || msg[1] != type)
		return -EPROTO;
	return len < min ? -EBADMSG : 0;
}

int seal_type_of(const uint8_t *msg, size_t len)
{
	if (len < SEAL_HEADER_LEN || msg[0] != SEAL_VERSION)
		return -EPROTO;
	switch (msg[1]) {
	case SEAL_OPEN:
	case SEAL_REPLY:
	case SEAL_DATA:
		return msg[1];
	}
	return -EPROTO;
}

void seal_wipe(struct seal *s)
{
	if (s)
		sodium_memzero(s, sizeof(*s));
}

int seal_open_build(struct seal *s, const struct key_pair *self, const uint8_t peer_pub[KEY_LEN],
	const void *prologue, size_t prologue_len, const uint8_t *payload, size_t len, uint8_t *out,
	size_t cap)
{
	struct hs hs;
	int rc;

	seal_wipe(s);
	if (cap < SEAL_OPEN_OVERHEAD || len > cap - SEAL_OPEN_OVERHEAD || len > INT32_MAX)
		return -ENOSPC;
	if ((rc = keys_init()) || keys_peer_dh(s->peer_dh, peer_pub))
		return rc ? rc : -EINVAL;
	s->initiator = true;
	memcpy(s->peer_pub, peer_pub, KEY_LEN);
	hs_init(&hs, prologue, prologue_len, peer_pub);
	randombytes_buf(s->eph_priv, sizeof(s->eph_priv));
	crypto_scalarmult_base(s->eph_pub, s->eph_priv);

	uint8_t *p = out;
	*p++ = SEAL_VERSION;
	*p++ = SEAL_OPEN;
	memcpy(p, s->eph_pub, KEY_LEN);
	mix_hash(hs.h, p, KEY_LEN);
	p += KEY_LEN;
	if (mix_key(&hs, s->eph_priv, s->peer_dh)) /* es */
		goto err;
	hs_seal(&hs, self->pub, KEY_LEN, p);
	p += KEY_LEN + SEAL_TAG_LEN;
	if (mix_key(&hs, self->dh_priv, s->peer_dh)) /* ss */
		goto err;
	hs_seal(&hs, payload, len, p);
	p += len + SEAL_TAG_LEN;
	open_mac(p, out, (size_t)(p - out), peer_pub);
	p += SEAL_MAC_LEN;
	memcpy(s->hash, hs.h, sizeof(s->hash));
	memcpy(s->ck, hs.ck, sizeof(s->ck));
	seal_open_id(out, (size_t)(p - out), s->open_id);
	s->state = SEAL_OPENED;
	hs_wipe(&hs);
	return (int)(p - out);
err:
	hs_wipe(&hs);
	seal_wipe(s);
	return -EINVAL; /* the peer's key is a small-order point */
}

void seal_open_id(const uint8_t *msg, size_t len, uint8_t out[SEAL_OPEN_ID_LEN])
{
	crypto_generichash(out, SEAL_OPEN_ID_LEN, msg, len, NULL, 0);
}

int seal_open_accept(struct seal *s, const struct key_pair *self, const void *prologue,
	size_t prologue_len, const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	return seal_open_accept_if(s, self, prologue, prologue_len, msg, len, out, cap, NULL, NULL);
}

int seal_open_accept_if(struct seal *s, const struct key_pair *self, const void *prologue,
	size_t prologue_len, const uint8_t *msg, size_t len, uint8_t *out, size_t cap,
	bool (*allowed)(const uint8_t pub[KEY_LEN], void *arg), void *arg)
{
	struct hs hs;
	int rc;

	seal_wipe(s);
	if ((rc = check_header(msg, len, SEAL_OPEN_OVERHEAD, SEAL_OPEN)))
		return rc;
	const uint8_t *e = msg + SEAL_HEADER_LEN, *stat = e + KEY_LEN;
	const uint8_t *box = stat + KEY_LEN + SEAL_TAG_LEN;
	size_t n = len - SEAL_OPEN_OVERHEAD;
	if (n > cap || n > INT32_MAX)
		return -ENOSPC;
	if ((rc = keys_init()))
		return rc;
	uint8_t mac[SEAL_MAC_LEN];
	open_mac(mac, msg, len - SEAL_MAC_LEN, self->pub);
	if (sodium_memcmp(mac, msg + len - SEAL_MAC_LEN, SEAL_MAC_LEN))
		return -EBADMSG; /* not made for our key: no Diffie-Hellman spent on it */
	hs_init(&hs, prologue, prologue_len, self->pub);
	mix_hash(hs.h, e, KEY_LEN);
	rc = -EBADMSG;
	if (mix_key(&hs, self->dh_priv, e) || /* es */
		hs_open(&hs, stat, KEY_LEN + SEAL_TAG_LEN, s->peer_pub))
		goto err;
	if (allowed && !allowed(s->peer_pub, arg)) {
		rc = -EPERM;
		goto err;
	}
	if (keys_peer_dh(s->peer_dh, s->peer_pub) ||
		mix_key(&hs, self->dh_priv, s->peer_dh) || /* ss */
		hs_open(&hs, box, n + SEAL_TAG_LEN, out))
		goto err;
	memcpy(s->eph_pub, e, KEY_LEN);
	memcpy(s->hash, hs.h, sizeof(s->hash));
	memcpy(s->ck, hs.ck, sizeof(s->ck));
	seal_open_id(msg, len, s->open_id);
	s->state = SEAL_ACCEPTED;
	hs_wipe(&hs);
	return (int)n;
err:
	hs_wipe(&hs);
	seal_wipe(s);
	if (cap)
		sodium_memzero(out, n < cap ? n : cap);
	return rc;
}

int seal_reply_build(struct seal *s, const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
	uint8_t eph_priv[KEY_LEN];
	struct hs hs;
	int rc = -EINVAL;

	if (s->state != SEAL_ACCEPTED)
		return -EINVAL;
	if (cap < SEAL_REPLY_OVERHEAD || len > cap - SEAL_REPLY_OVERHEAD || len > INT32_MAX)
		return -ENOSPC;
	memcpy(hs.h, s->hash, sizeof(hs.h));
	memcpy(hs.ck, s->ck, sizeof(hs.ck));
	randombytes_buf(eph_priv, sizeof(eph_priv));
	out[0] = SEAL_VERSION;
	out[1] = SEAL_REPLY;
	crypto_scalarmult_base(out + SEAL_HEADER_LEN, eph_priv);
	mix_hash(hs.h, out + SEAL_HEADER_LEN, KEY_LEN);
	if (mix_key(&hs, eph_priv, s->eph_pub) || mix_key(&hs, eph_priv, s->peer_dh)) /* ee, se */
		goto out;
	hs_seal(&hs, payload, len, out + SEAL_HEADER_LEN + KEY_LEN);
	split(s, &hs);
	rc = (int)(len + SEAL_REPLY_OVERHEAD);
out:
	sodium_memzero(eph_priv, sizeof(eph_priv));
	hs_wipe(&hs);
	return rc;
}

int seal_reply_accept(struct seal *s, const struct key_pair *self, const uint8_t *msg, size_t len,
	uint8_t *out, size_t cap)
{
	struct hs hs;
	int rc;

	if (s->state != SEAL_OPENED)
		return -EINVAL;
	if ((rc = check_header(msg, len, SEAL_REPLY_OVERHEAD, SEAL_REPLY)))
		return rc;
	const uint8_t *e = msg + SEAL_HEADER_LEN;
	size_t n = len - SEAL_REPLY_OVERHEAD;
	if (n > cap || n > INT32_MAX)
		return -ENOSPC;
	memcpy(hs.h, s->hash, sizeof(hs.h));
	memcpy(hs.ck, s->ck, sizeof(hs.ck));
	mix_hash(hs.h, e, KEY_LEN);
	rc = -EBADMSG;
	if (mix_key(&hs, s->eph_priv, e) || mix_key(&hs, self->dh_priv, e) || /* ee, se */
		hs_open(&hs, e + KEY_LEN, n + SEAL_TAG_LEN, out))
		goto out;
	split(s, &hs);
	rc = (int)n;
out:
	hs_wipe(&hs);
	return rc;
}

/* The transport's AEAD: ChaCha20-Poly1305 of RFC 8439, the very function of
 * crypto_aead_chacha20poly1305_ietf (ciphertext, then the tag), from OpenSSL: its
 * vectorised code seals and opens 40 KiB messages three times as fast as libsodium
 * 1.0.18's on this machine (1.8 against 0.6 GB/s; tests/bench/seal_speed.c), and a
 * tunnel at 500 MB/s spends that difference on both of its ends. One context, reset
 * for each message: the loop is single-threaded. */
static EVP_CIPHER_CTX *aead_ctx(void)
{
	static EVP_CIPHER_CTX *ctx;

	if (!ctx)
		ctx = EVP_CIPHER_CTX_new();
	return ctx;
}

static int aead_encrypt(uint8_t *c, const uint8_t *m, size_t len, const uint8_t *ad, size_t ad_len,
	const uint8_t *nonce, const uint8_t key[32])
{
	EVP_CIPHER_CTX *x = aead_ctx();
	int n;

	if (!x || EVP_EncryptInit_ex(x, EVP_chacha20_poly1305(), NULL, key, nonce) != 1 ||
		EVP_EncryptUpdate(x, NULL, &n, ad, (int)ad_len) != 1 ||
		(len && EVP_EncryptUpdate(x, c, &n, m, (int)len) != 1) ||
		EVP_EncryptFinal_ex(x, c + len, &n) != 1 ||
		EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG_LEN, c + len) != 1)
		return -EIO;
	return 0;
}

/* c holds the ciphertext and its tag (len + SEAL_TAG_LEN bytes); m gets len bytes, or
 * zeros if the tag does not verify. */
static int aead_decrypt(uint8_t *m, const uint8_t *c, size_t len, const uint8_t *ad, size_t ad_len,
	const uint8_t *nonce, const uint8_t key[32])
{
	EVP_CIPHER_CTX *x = aead_ctx();
	int n;

	if (!x || EVP_DecryptInit_ex(x, EVP_chacha20_poly1305(), NULL, key, nonce) != 1 ||
		EVP_DecryptUpdate(x, NULL, &n, ad, (int)ad_len) != 1 ||
		(len && EVP_DecryptUpdate(x, m, &n, c, (int)len) != 1) ||
		EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG_LEN, (void *)(c + len)) !=
			1 ||
		EVP_DecryptFinal_ex(x, m + len, &n) != 1) {
		sodium_memzero(m, len);
		return -EBADMSG;
	}
	return 0;
}

int seal_encrypt(struct seal *s, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	if (s->state != SEAL_READY)
		return -EINVAL;
	if (cap < SEAL_DATA_OVERHEAD || len > cap - SEAL_DATA_OVERHEAD || len > INT32_MAX)
		return -ENOSPC;
	if (s->tx_next == UINT64_MAX)
		return -EOVERFLOW;
	out[0] = SEAL_VERSION;
	out[1] = SEAL_DATA;
	put_be64(out + SEAL_HEADER_LEN, s->tx_next);
	nonce_of(n, s->tx_next);
	if (aead_encrypt(out + SEAL_DATA_HEADER, in, len, out, SEAL_DATA_HEADER, n, s->tx_key))
		return -EIO;
	s->tx_next++;
	return (int)(len + SEAL_DATA_OVERHEAD);
}

/* RFC 6479's window: 0 if counter c may be accepted, before its tag is checked. */
static int window_check(const struct seal *s, uint64_t c)
{
	if (c >= s->rx_top)
		return 0;
	if (s->rx_top - c > SEAL_WINDOW)
		return -ESTALE;
	return s->rx_seen[c % SEAL_WINDOW / 64] >> (c % 64) & 1 ? -EALREADY : 0;
}

/* Counter c verified: slide the window up to it (clearing the counters it skips), mark it. */
static void window_mark(struct seal *s, uint64_t c)
{
	if (c >= s->rx_top) {
		if (c - s->rx_top >= SEAL_WINDOW)
			memset(s->rx_seen, 0, sizeof(s->rx_seen));
		else
			for (uint64_t i = s->rx_top; i <= c; i++)
				s->rx_seen[i % SEAL_WINDOW / 64] &= ~(UINT64_C(1) << (i % 64));
		s->rx_top = c + 1;
	}
	s->rx_seen[c % SEAL_WINDOW / 64] |= UINT64_C(1) << (c % 64);
}

int seal_decrypt(struct seal *s, const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
	uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	int rc;

	if (s->state != SEAL_READY)
		return -EINVAL;
	if ((rc = check_header(msg, len, SEAL_DATA_OVERHEAD, SEAL_DATA)))
		return rc;
	size_t mlen = len - SEAL_DATA_OVERHEAD;
	if (mlen > cap || mlen > INT32_MAX)
		return -ENOSPC;
	uint64_t c = get_be64(msg + SEAL_HEADER_LEN);
	if (c == UINT64_MAX) /* never sent */
		return -EBADMSG;
	if ((rc = window_check(s, c)))
		return rc;
	nonce_of(n, c);
	if (aead_decrypt(out, msg + SEAL_DATA_HEADER, mlen, msg, SEAL_DATA_HEADER, n, s->rx_key))
		return -EBADMSG;
	window_mark(s, c);
	return (int)mlen;
}

static uint8_t *put_str(uint8_t *p, const char *s, uint16_t len)
{
	*p++ = (uint8_t)(len >> 8);
	*p++ = (uint8_t)len;
	memcpy(p, s, len);
	return p + len;
}

int seal_hello_build(uint8_t *out, size_t cap, const struct seal_hello *h)
{
	size_t need = 8 + 1 + 2 + (size_t)h->dst_len + 2 + (size_t)h->src_len;

	if (!h->dst_len || !h->src_len)
		return -EINVAL;
	if (need > cap || h->data_len > cap - need || h->data_len > INT32_MAX - need)
		return -ENOSPC;
	uint8_t *p = out;
	put_be64(p, h->stamp);
	p += 8;
	*p++ = h->proto;
	p = put_str(p, h->dst, h->dst_len);
	p = put_str(p, h->src, h->src_len);
	if (h->data_len)
		memcpy(p, h->data, h->data_len);
	return (int)(need + h->data_len);
}

/* A u16 length (at least 1) and its bytes at *p, within end; NULL if they are not there. */
static const char *get_str(const uint8_t **p, const uint8_t *end, uint16_t *len)
{
	if (end - *p < 2)
		return NULL;
	*len = (uint16_t)((*p)[0] << 8 | (*p)[1]);
	*p += 2;
	if (!*len || (size_t)(end - *p) < *len)
		return NULL;
	const char *s = (const char *)*p;
	*p += *len;
	return s;
}

int seal_hello_parse(const uint8_t *buf, size_t len, struct seal_hello *h)
{
	const uint8_t *p = buf, *end = buf + len;

	if (len < SEAL_HELLO_MIN)
		return -EBADMSG;
	h->stamp = get_be64(p);
	p += 8;
	h->proto = *p++;
	if (!(h->dst = get_str(&p, end, &h->dst_len)) || !(h->src = get_str(&p, end, &h->src_len)))
		return -EBADMSG;
	h->data = p;
	h->data_len = (size_t)(end - p);
	return 0;
}
