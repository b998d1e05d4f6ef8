/* The peers an agent lets open encrypted flows: a file of "KEY [name]" lines (--seal-peers). */
#ifndef N4M_PEERKEYS_H
#define N4M_PEERKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define PEERKEYS_MAX 1024
#define PEERKEYS_NAME_MAX 64
#define PEERKEYS_ERR_MAX 320

struct peer_key {
	uint8_t pub[KEY_LEN];
	char name[PEERKEYS_NAME_MAX]; /* the line's name, else the key's first 8 characters */
};

struct peer_keys {
	int n;
	struct peer_key keys[PEERKEYS_MAX];
};

/* text (len bytes): one public key per line, a name after it if wanted; blank lines and
 * lines starting with '#' skipped. A bad line, a key listed twice or more than PEERKEYS_MAX
 * is an error naming the line (where names the file). 0 or -EINVAL. */
int peerkeys_parse(const char *text, size_t len, const char *where, struct peer_keys *out,
	char err[PEERKEYS_ERR_MAX]);
/* The file at path, parsed. 0 or -errno. */
int peerkeys_read(const char *path, struct peer_keys *out, char err[PEERKEYS_ERR_MAX]);
/* The entry whose key is pub (compared in constant time), or NULL. */
const struct peer_key *peerkeys_find(const struct peer_keys *list, const uint8_t pub[KEY_LEN]);

#endif
