/* A string-keyed hash map; the caller owns keys and values and keeps a key alive while it is mapped. */
#ifndef N4M_MAP_H
#define N4M_MAP_H

#include <stddef.h>

struct map;

struct map *map_new(void);
void map_free(struct map *m);
void *map_get(const struct map *m, const char *key);
/* Maps key to val (replacing an existing mapping); 0 or -ENOMEM. */
int map_put(struct map *m, const char *key, void *val);
void map_del(struct map *m, const char *key);
size_t map_size(const struct map *m);
/* Removes every mapping, calling free_val (if set) on each value. */
void map_clear(struct map *m, void (*free_val)(void *val));
/* Calls fn on every mapping, in no order; fn must not change the map. */
void map_walk(const struct map *m, void (*fn)(const char *key, void *val, void *arg), void *arg);

#endif
