/* The process's heap: libevent's small records kept apart from the flows, and freed heap given back to the kernel. */
#ifndef N4M_HEAP_H
#define N4M_HEAP_H

#include <stdbool.h>
#include <stddef.h>

struct event;
struct event_base;

#define HEAP_CELL 16 /* the largest allocation libevent gets from the pool: an evmap_io (64-bit) */
#define HEAP_TRIM_INTERVAL_S 5	 /* how often the free heap is looked at */
#define HEAP_TRIM_MIN (1u << 20) /* free heap grown this much since the last trim: trim */

/* malloc's settings, and libevent's allocations through heap_ev_*: call it
 * first, before any libevent function. Not under AddressSanitizer, whose
 * allocator must see every allocation. */
void heap_setup(void);

/* libevent's allocator (event_set_mem_functions): up to HEAP_CELL bytes from
 * a pool of their own, the rest from malloc. Single-threaded, as the loop is. */
void *heap_ev_malloc(size_t size);
void *heap_ev_realloc(void *p, size_t size);
void heap_ev_free(void *p);

/* When to give freed heap back: the free heap's low mark since the last
 * trim, and its last size. Start both at SIZE_MAX. */
struct heap_trim {
	size_t low, last;
};
/* free_bytes: malloc's free heap now, once per HEAP_TRIM_INTERVAL_S. True
 * when it grew by HEAP_TRIM_MIN over its low mark and stopped growing (a crowd
 * of flows closing frees its memory over seconds: one trim once they are all
 * gone); the caller trims, and the mark starts again from here. */
bool heap_trim_due(struct heap_trim *t, size_t free_bytes);

/* A timer on base that trims the heap when heap_trim_due says so; NULL if
 * none could be made. The caller frees it (event_free). */
struct event *heap_trim_start(struct event_base *base);

#endif
