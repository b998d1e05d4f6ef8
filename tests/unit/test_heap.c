/* Unit tests of gateway/lib/heap: libevent's small-allocation pool and when freed heap is trimmed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "gateway/lib/heap.h"

#define N_CELLS 5000

/* Small blocks are distinct and writable; freed ones are handed out again. */
static void test_pool_reuse(void **state)
{
	static uint8_t *p[N_CELLS];
	(void)state;

	for (int i = 0; i < N_CELLS; i++) {
		p[i] = heap_ev_malloc(1 + i % HEAP_CELL);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % _Alignof(max_align_t), 0);
		memset(p[i], i & 0xff, HEAP_CELL);
	}
	for (int i = 0; i < N_CELLS; i++) /* no block overlapped another */
		for (int b = 0; b < HEAP_CELL; b++)
			assert_int_equal(p[i][b], i & 0xff);
	uint8_t *last = p[N_CELLS - 1];
	heap_ev_free(last);
	assert_ptr_equal(heap_ev_malloc(HEAP_CELL), last);
	for (int i = 0; i < N_CELLS; i++)
		heap_ev_free(p[i]);
	heap_ev_free(NULL);
}

/* realloc keeps the bytes across the pool's edge, both ways. */
static void test_pool_realloc(void **state)
{
	(void)state;
	uint8_t *p = heap_ev_realloc(NULL, 10);

	assert_non_null(p);
	memcpy(p, "0123456789", 10);
	assert_ptr_equal(heap_ev_realloc(p, HEAP_CELL), p); /* still a cell */
	uint8_t *q = heap_ev_realloc(p, 1000);		    /* out of the pool */
	assert_non_null(q);
	assert_memory_equal(q, "0123456789", 10);
	memset(q + 10, 'x', 990);
	uint8_t *r = heap_ev_realloc(q, 8); /* a malloc block stays one */
	assert_non_null(r);
	assert_memory_equal(r, "01234567", 8);
	heap_ev_free(r);
	uint8_t *big = heap_ev_malloc(HEAP_CELL + 1);
	assert_non_null(big);
	memset(big, 1, HEAP_CELL + 1);
	heap_ev_free(big);
}

/* A trim once the free heap grew by HEAP_TRIM_MIN and stopped growing; then not again. */
static void test_trim_due(void **state)
{
	struct heap_trim t = { SIZE_MAX, SIZE_MAX };
	size_t base = 100 << 10;
	(void)state;

	assert_false(heap_trim_due(&t, base));
	assert_false(heap_trim_due(&t, base + HEAP_TRIM_MIN / 2)); /* too little */
	assert_false(heap_trim_due(&t, base + HEAP_TRIM_MIN));	   /* still growing */
	assert_false(heap_trim_due(&t, base + 3 * HEAP_TRIM_MIN));
	assert_true(heap_trim_due(&t, base + 3 * HEAP_TRIM_MIN));  /* settled */
	assert_false(heap_trim_due(&t, base + 3 * HEAP_TRIM_MIN)); /* done */
	assert_false(heap_trim_due(&t, base + 3 * HEAP_TRIM_MIN - 1));
	/* reused, then freed again */
	assert_false(heap_trim_due(&t, base));
	assert_false(heap_trim_due(&t, base + 2 * HEAP_TRIM_MIN));
	assert_true(
		heap_trim_due(&t, base + 2 * HEAP_TRIM_MIN - 4096)); /* falling counts as settled */
	assert_false(heap_trim_due(&t, base + 2 * HEAP_TRIM_MIN - 4096));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_reuse),
		cmocka_unit_test(test_pool_realloc),
		cmocka_unit_test(test_trim_due),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
