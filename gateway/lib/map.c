/* A string-keyed hash map; the caller owns keys and values and keeps a key alive while it is mapped. */
#include "map.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	const char *key;
	uint64_t hash;
	void *val;
};

#define MAP_MIN_SLOTS 64

struct map {
	struct entry **slots;
	size_t nslots, size;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

struct map *map_new(void)
{
	struct map *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->nslots = MAP_MIN_SLOTS;
	m->slots = calloc(m->nslots, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void map_free(struct map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nslots; i++) {
		for (struct entry *e = m->slots[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	}
	free(m->slots);
	free(m);
}

static struct entry **find(const struct map *m, const char *key, uint64_t h)
{
	struct entry **p = &m->slots[h & (m->nslots - 1)];

	for (; *p; p = &(*p)->next)
		if ((*p)->hash == h && !strcmp((*p)->key, key))
			break;
	return p;
}

void *map_get(const struct map *m, const char *key)
{
	struct entry *e = *find(m, key, hash_str(key));

	return e ? e->val : NULL;
}

/* Rehashes into n slots (a power of two). */
static void resize(struct map *m, size_t n)
{
	struct entry **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return; /* stay at the old size: slower, still correct */
	for (size_t i = 0; i < m->nslots; i++) {
		for (struct entry *e = m->slots[i], *next; e; e = next) {
			next = e->next;
			e->next = slots[e->hash & (n - 1)];
			slots[e->hash & (n - 1)] = e;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
}

int map_put(struct map *m, const char *key, void *val)
{
	uint64_t h = hash_str(key);
	struct entry **p = find(m, key, h);

	if (*p) {
		(*p)->key = key;
		(*p)->val = val;
		return 0;
	}
	struct entry *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	*e = (struct entry){ NULL, key, h, val };
	*p = e;
	if (++m->size > m->nslots)
		resize(m, m->nslots * 2);
	return 0;
}

void map_del(struct map *m, const char *key)
{
	struct entry **p = find(m, key, hash_str(key));
	struct entry *e = *p;

	if (!e)
		return;
	*p = e->next;
	free(e);
	/* a crowd of flows gone: give back their slots too (a quarter full, so
	 * the size that comes next is half full, and does not grow at once) */
	if (--m->size < m->nslots / 4 && m->nslots > MAP_MIN_SLOTS)
		resize(m, m->nslots / 2);
}

size_t map_size(const struct map *m)
{
	return m->size;
}

void map_clear(struct map *m, void (*free_val)(void *val))
{
	for (size_t i = 0; i < m->nslots; i++) {
		for (struct entry *e = m->slots[i], *n; e; e = n) {
			n = e->next;
			if (free_val)
				free_val(e->val);
			free(e);
		}
		m->slots[i] = NULL;
	}
	m->size = 0;
}

void map_walk(const struct map *m, void (*fn)(const char *key, void *val, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nslots; i++)
		for (struct entry *e = m->slots[i]; e; e = e->next)
			fn(e->key, e->val, arg);
}
