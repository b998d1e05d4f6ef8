/* HTTP basic authentication (RFC 7617): an Authorization header's password against ours, in
 * constant time, and the header `net4mqtt status` sends. */
#include "basicauth.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

/* user:password, at most BASIC_AUTH_PASSWORD_MAX of each, in base64 */
#define CREDENTIALS_MAX (2 * BASIC_AUTH_PASSWORD_MAX + 1)
#define CREDENTIALS_B64_MAX (4 * ((CREDENTIALS_MAX + 2) / 3))

/* The credentials "Basic TOKEN" carries, decoded into out; their length, or -1. */
static int decode_credentials(const char *header, unsigned char *out, size_t size)
{
	const char *token, *end;
	size_t token_len, len;

	header += strspn(header, " \t");
	if (strncasecmp(header, "Basic ", 6))
		return -1;
	token = header + 6 + strspn(header + 6, " \t");
	token_len = strcspn(token, " \t");
	if (!token_len || token_len > CREDENTIALS_B64_MAX ||
		token[token_len + strspn(token + token_len, " \t")])
		return -1;
	if (sodium_base642bin(out, size, token, token_len, NULL, &len, &end,
		    sodium_base64_VARIANT_ORIGINAL) ||
		end != token + token_len)
		return -1;
	return (int)len;
}

/* Both hashed first: equal digests take the same time to compare whatever the lengths. */
static bool same_secret(const unsigned char *a, size_t a_len, const char *b)
{
	unsigned char da[crypto_generichash_BYTES], db[crypto_generichash_BYTES];

	crypto_generichash(da, sizeof(da), a, a_len, NULL, 0);
	crypto_generichash(db, sizeof(db), (const unsigned char *)b, strlen(b), NULL, 0);
	return sodium_memcmp(da, db, sizeof(da)) == 0;
}

bool basic_auth_ok(const char *header, const char *password)
{
	unsigned char creds[CREDENTIALS_MAX];
	const unsigned char *colon;
	bool ok = false;
	int len;

	if (!header || sodium_init() < 0)
		return false;
	len = decode_credentials(header, creds, sizeof(creds));
	if (len >= 0 && (colon = memchr(creds, ':', (size_t)len)))
		ok = same_secret(colon + 1, (size_t)(creds + len - colon - 1), password);
	sodium_memzero(creds, sizeof(creds));
	return ok;
}

int basic_auth_header(const char *user, const char *password, char *out, size_t len)
{
	char creds[CREDENTIALS_MAX];
	size_t user_len = strlen(user), n = user_len + 1 + strlen(password);

	if (n > CREDENTIALS_MAX ||
		len < 6 + sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL))
		return -ENOSPC;
	memcpy(creds, user, user_len);
	creds[user_len] = ':';
	memcpy(creds + user_len + 1, password, n - user_len - 1);
	memcpy(out, "Basic ", 6);
	sodium_bin2base64(
		out + 6, len - 6, (const unsigned char *)creds, n, sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(creds, sizeof(creds));
	return 0;
}
