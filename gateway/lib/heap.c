/* The process's heap: libevent's small records kept apart from the flows, and freed heap given back to the kernel. */
#include "heap.h"

#include <event2/event.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define HEAP_POOL 0 /* ASan's allocator must see every allocation */
#else
#define HEAP_POOL 1
#endif

/* Address space for the pool's cells (262,144 of them): more descriptors than
 * a process has. Only the pages used are ever touched. */
#define POOL_BYTES (4u << 20)

/* libevent keeps a small record per descriptor number (evmap_io, 16 bytes)
 * from the first time that number is watched until the loop ends. From
 * malloc, each lands right after the memory of the flow that first used its
 * number: once the flows close, one live record on every page of the freed
 * heap keeps all of it resident, and malloc_trim can give nothing back. In a
 * pool of their own they pin nothing. Cells are carved in order from one
 * reservation and go back on a free list; the pool never shrinks (its peak
 * is about one cell per descriptor). */
static struct {
	uint8_t *base; /* the reservation; NULL until the first cell, or if none could be made */
	size_t carved; /* bytes of it handed out at least once */
	void *free;    /* cells given back, linked through their first word */
	bool failed;   /* no reservation: everything comes from malloc */
} pool;

static bool in_pool(const void *p)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)pool.base;

	return pool.base && a >= b && a < b + POOL_BYTES;
}

static void *cell_get(void)
{
	void *c = pool.free;

	if (c) {
		pool.free = *(void **)c;
		return c;
	}
	if (!pool.base && !pool.failed) {
		void *m = mmap(NULL, POOL_BYTES, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED) {
			pool.failed = true;
			return NULL;
		}
		pool.base = m;
	}
	if (!pool.base || pool.carved == POOL_BYTES)
		return NULL; /* malloc serves the rest */
	c = pool.base + pool.carved;
	pool.carved += HEAP_CELL;
	return c;
}

static void cell_put(void *c)
{
	*(void **)c = pool.free;
	pool.free = c;
}

void *heap_ev_malloc(size_t size)
{
	void *p = size <= HEAP_CELL ? cell_get() : NULL;

	return p ? p : malloc(size);
}

void *heap_ev_realloc(void *p, size_t size)
{
	if (!p)
		return heap_ev_malloc(size);
	if (!in_pool(p))
		return realloc(p, size);
	if (size <= HEAP_CELL)
		return p;
	void *q = malloc(size);
	if (!q)
		return NULL; /* p stays, as realloc leaves it */
	memcpy(q, p, HEAP_CELL);
	cell_put(p);
	return q;
}

void heap_ev_free(void *p)
{
	if (in_pool(p))
		cell_put(p);
	else
		free(p);
}

void heap_setup(void)
{
	/* libmosquitto allocates and frees a packet per message: keep freed heap
	 * instead of returning it to the kernel at each free and faulting it back
	 * in; the trim timer gives it back once a lot of it is free */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
	if (HEAP_POOL)
		event_set_mem_functions(heap_ev_malloc, heap_ev_realloc, heap_ev_free);
}

bool heap_trim_due(struct heap_trim *t, size_t free_bytes)
{
	bool growing = free_bytes > t->last;

	t->last = free_bytes;
	if (free_bytes < t->low)
		t->low = free_bytes;
	if (growing || free_bytes - t->low < HEAP_TRIM_MIN)
		return false;
	t->low = free_bytes;
	return true;
}

/* The heap grew with a crowd of flows, which closed: glibc keeps what they
 * freed (its trim threshold is for the top of the heap only, and we raised
 * it), so the process stays at its peak. malloc_trim returns every free page,
 * wherever it is. Rare, so its page faults afterwards cost little. */
static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct heap_trim *t = arg;
	struct mallinfo2 mi = mallinfo2();
	(void)fd, (void)what;

	if (!heap_trim_due(t, mi.fordblks))
		return;
	malloc_trim(0);
	log_debug("heap: %zu MiB free, %zu MiB in use: free pages given back to the kernel",
		mi.fordblks >> 20, (mi.uordblks + mi.hblkhd) >> 20);
}

struct event *heap_trim_start(struct event_base *base)
{
	static struct heap_trim trim = { SIZE_MAX, SIZE_MAX };
	struct timeval tv = { HEAP_TRIM_INTERVAL_S, 0 };
	struct event *ev = event_new(base, -1, EV_PERSIST, trim_cb, &trim);

	if (ev)
		event_add(ev, &tv);
	return ev;
}
