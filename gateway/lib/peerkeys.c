/* The peers an agent lets open encrypted flows: a file of "KEY [name]" lines (--seal-peers). */
#include "peerkeys.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define PEERKEYS_FILE_MAX (PEERKEYS_MAX * 160) /* a key, a name and a comment per peer */

#define list_fail(err, ...) fail_with(err, PEERKEYS_ERR_MAX, -EINVAL, __VA_ARGS__)

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line (no '\n'): skipped, or a key and its name added to out. */
static int parse_line(const char *p, size_t len, const char *where, int line, struct peer_keys *out,
	char err[PEERKEYS_ERR_MAX])
{
	const char *end = p + len;

	while (p < end && blank(*p))
		p++;
	while (end > p && blank(end[-1]))
		end--;
	if (p == end || *p == '#')
		return 0;
	const char *key_end = p;
	while (key_end < end && !blank(*key_end))
		key_end++;
	const char *name = key_end;
	while (name < end && blank(*name))
		name++;
	struct peer_key k;
	if (keys_decode(k.pub, p, (size_t)(key_end - p)) ||
		keys_peer_dh((uint8_t[KEY_LEN]){ 0 }, k.pub))
		return list_fail(
			err, "%s:%d: want a public key (net4mqtt pubkey) and a name", where, line);
	size_t name_len = (size_t)(end - name);
	if (name_len >= sizeof(k.name))
		return list_fail(err, "%s:%d: the name is longer than %zu characters", where, line,
			sizeof(k.name) - 1);
	if (name_len)
		memcpy(k.name, name, name_len);
	else
		memcpy(k.name, p, name_len = 8);
	k.name[name_len] = '\0';
	for (int i = 0; i < out->n; i++)
		if (keys_equal(out->keys[i].pub, k.pub))
			return list_fail(err, "%s:%d: this key is listed already (%s)", where, line,
				out->keys[i].name);
	if (out->n >= PEERKEYS_MAX)
		return list_fail(err, "%s:%d: more than %d keys", where, line, PEERKEYS_MAX);
	out->keys[out->n++] = k;
	return 0;
}

int peerkeys_parse(const char *text, size_t len, const char *where, struct peer_keys *out,
	char err[PEERKEYS_ERR_MAX])
{
	const char *p = text, *end = text + len;
	int line = 0;

	out->n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		if (memchr(p, '\0', n))
			return list_fail(err, "%s:%d: a NUL byte", where, line);
		int rc = parse_line(p, n, where, line, out, err);
		if (rc)
			return rc;
		p += n + (nl != NULL);
	}
	return 0;
}

int peerkeys_read(const char *path, struct peer_keys *out, char err[PEERKEYS_ERR_MAX])
{
	FILE *f = fopen(path, "re");

	if (!f) {
		int e = errno;
		snprintf(err, PEERKEYS_ERR_MAX, "cannot read the peer list %s: %s", path,
			strerror(e));
		return -e;
	}
	char *buf = malloc(PEERKEYS_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, PEERKEYS_ERR_MAX, "out of memory");
		return -ENOMEM;
	}
	size_t n = fread(buf, 1, PEERKEYS_FILE_MAX + 1, f);
	bool failed = ferror(f);
	fclose(f);
	int rc;
	if (failed)
		rc = list_fail(err, "cannot read the peer list %s", path);
	else if (n > PEERKEYS_FILE_MAX)
		rc = list_fail(err, "the peer list %s is over %d bytes", path, PEERKEYS_FILE_MAX);
	else
		rc = peerkeys_parse(buf, n, path, out, err);
	free(buf);
	return rc;
}

const struct peer_key *peerkeys_find(const struct peer_keys *list, const uint8_t pub[KEY_LEN])
{
	const struct peer_key *found = NULL;

	for (int i = 0; i < list->n; i++) /* every entry: the time says nothing of where */
		if (keys_equal(list->keys[i].pub, pub))
			found = &list->keys[i];
	return found;
}
