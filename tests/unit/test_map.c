/* Unit tests of gateway/map: the string-keyed hash map behind the flow tables. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/lib/map.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define VAL(i) ((void *)(uintptr_t)((i) + 1)) /* never NULL */
#define N_MANY 20000

static int setup(void **state)
{
	struct map *m = map_new();

	if (!m)
		return -1;
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	map_free(*state);
	return 0;
}

static const char *const keys[] = {
	"net4mqtt/a/l/i/tcp/1.2.3.4:5000/10.0.0.1:80",
	"net4mqtt/a/l/i/tcp/1.2.3.4:5001/10.0.0.1:80",
	"net4mqtt/a/l/i/udp/1.2.3.4:5000/10.0.0.1:80", "[::1]:80", "a", "b",
	"", /* the empty key is a key like any other */
};

static void test_empty(void **state)
{
	struct map *m = *state;

	assert_int_equal(map_size(m), 0);
	assert_null(map_get(m, "a"));
	assert_null(map_get(m, ""));
	map_del(m, "a"); /* deleting what is not there is a no-op */
	assert_int_equal(map_size(m), 0);
}

static void test_put_get_del(void **state)
{
	struct map *m = *state;

	for (size_t i = 0; i < N_ELEMS(keys); i++) {
		assert_int_equal(map_put(m, keys[i], VAL(i)), 0);
		assert_int_equal(map_size(m), i + 1);
	}
	for (size_t i = 0; i < N_ELEMS(keys); i++)
		assert_ptr_equal(map_get(m, keys[i]), VAL(i));
	assert_null(map_get(m, "net4mqtt/a/l/i/tcp/1.2.3.4:5002/10.0.0.1:80"));
	assert_null(map_get(m, "c"));

	/* lookups compare contents, not pointers */
	char copy[64];
	strcpy(copy, keys[0]);
	assert_ptr_equal(map_get(m, copy), VAL(0));

	map_del(m, keys[1]);
	assert_int_equal(map_size(m), N_ELEMS(keys) - 1);
	assert_null(map_get(m, keys[1]));
	for (size_t i = 0; i < N_ELEMS(keys); i++)
		if (i != 1)
			assert_ptr_equal(map_get(m, keys[i]), VAL(i));
	map_del(m, keys[1]); /* twice */
	assert_int_equal(map_size(m), N_ELEMS(keys) - 1);
}

static void test_replace(void **state)
{
	struct map *m = *state;
	char *k1 = strdup("flow-key"), *k2 = strdup("flow-key");

	assert_non_null(k1);
	assert_non_null(k2);
	assert_int_equal(map_put(m, k1, VAL(1)), 0);
	assert_int_equal(map_put(m, "other", VAL(9)), 0);
	assert_int_equal(map_put(m, k2, VAL(2)), 0);
	assert_int_equal(map_size(m), 2);
	assert_ptr_equal(map_get(m, "flow-key"), VAL(2));
	assert_ptr_equal(map_get(m, "other"), VAL(9));

	/* the map now holds k2: the caller may free the key it replaced (ASan checks this) */
	free(k1);
	assert_ptr_equal(map_get(m, "flow-key"), VAL(2));
	map_del(m, "flow-key");
	assert_null(map_get(m, "flow-key"));
	assert_int_equal(map_size(m), 1);
	free(k2);
}

typedef char keybuf[16];

static keybuf *many_keys(void)
{
	keybuf *k = calloc(N_MANY, sizeof(*k));

	assert_non_null(k);
	for (int i = 0; i < N_MANY; i++)
		snprintf(k[i], sizeof(k[i]), "key-%d", i);
	return k;
}

/* Far past the initial table size: everything stays retrievable through the rehashes. */
static void test_growth(void **state)
{
	struct map *m = *state;
	keybuf *k = many_keys();

	for (int i = 0; i < N_MANY; i++) {
		assert_int_equal(map_put(m, k[i], VAL(i)), 0);
		if (i == 63 || i == 64 || i == 65 || i == 10000) {
			/* around the first growth and at 10000: nothing lost so far */
			for (int j = 0; j <= i; j++)
				assert_ptr_equal(map_get(m, k[j]), VAL(j));
		}
	}
	assert_int_equal(map_size(m), N_MANY);
	for (int i = 0; i < N_MANY; i++)
		assert_ptr_equal(map_get(m, k[i]), VAL(i));
	assert_null(map_get(m, "key-20000"));
	assert_null(map_get(m, "key--1"));

	/* replacing every value does not change the size */
	for (int i = 0; i < N_MANY; i++)
		assert_int_equal(map_put(m, k[i], VAL(N_MANY - i)), 0);
	assert_int_equal(map_size(m), N_MANY);
	for (int i = 0; i < N_MANY; i++)
		assert_ptr_equal(map_get(m, k[i]), VAL(N_MANY - i));

	/* delete the odd ones: the even ones (same chains) survive */
	for (int i = 1; i < N_MANY; i += 2)
		map_del(m, k[i]);
	assert_int_equal(map_size(m), N_MANY / 2);
	for (int i = 0; i < N_MANY; i++) {
		if (i % 2)
			assert_null(map_get(m, k[i]));
		else
			assert_ptr_equal(map_get(m, k[i]), VAL(N_MANY - i));
	}

	/* and then all of them */
	for (int i = 0; i < N_MANY; i++)
		map_del(m, k[i]);
	assert_int_equal(map_size(m), 0);
	for (int i = 0; i < N_MANY; i++)
		assert_null(map_get(m, k[i]));

	/* still usable */
	assert_int_equal(map_put(m, k[7], VAL(7)), 0);
	assert_ptr_equal(map_get(m, k[7]), VAL(7));
	assert_int_equal(map_size(m), 1);
	map_del(m, k[7]);
	free(k);
}

/* Deleting most of a large map shrinks it as it goes: what is left stays retrievable. */
static void test_shrink(void **state)
{
	struct map *m = *state;
	keybuf *k = many_keys();

	for (int i = 0; i < N_MANY; i++)
		assert_int_equal(map_put(m, k[i], VAL(i)), 0);
	for (int i = 0; i < N_MANY - 10; i++) {
		map_del(m, k[i]);
		if (i % 997 == 0 || i > N_MANY - 200)
			for (int j = i + 1; j < N_MANY; j += 1 + (N_MANY - j) / 64)
				assert_ptr_equal(map_get(m, k[j]), VAL(j));
	}
	assert_int_equal(map_size(m), 10);
	for (int i = 0; i < N_MANY; i++) {
		if (i < N_MANY - 10)
			assert_null(map_get(m, k[i]));
		else
			assert_ptr_equal(map_get(m, k[i]), VAL(i));
	}
	/* and it grows again */
	for (int i = 0; i < N_MANY - 10; i++)
		assert_int_equal(map_put(m, k[i], VAL(i)), 0);
	assert_int_equal(map_size(m), N_MANY);
	for (int i = 0; i < N_MANY; i++)
		assert_ptr_equal(map_get(m, k[i]), VAL(i));
	map_clear(m, NULL);
	free(k);
}

static int freed;

static void count_free(void *val)
{
	assert_non_null(val);
	freed++;
}

static void test_clear(void **state)
{
	struct map *m = *state;
	keybuf *k = many_keys();

	for (int i = 0; i < 1000; i++)
		assert_int_equal(map_put(m, k[i], VAL(i)), 0);
	freed = 0;
	map_clear(m, count_free);
	assert_int_equal(freed, 1000);
	assert_int_equal(map_size(m), 0);
	for (int i = 0; i < 1000; i++)
		assert_null(map_get(m, k[i]));

	/* usable after a clear; clearing without a free_val only drops the entries */
	assert_int_equal(map_put(m, k[1], VAL(1)), 0);
	assert_ptr_equal(map_get(m, k[1]), VAL(1));
	map_clear(m, NULL);
	assert_int_equal(map_size(m), 0);
	assert_null(map_get(m, k[1]));
	free(k);
}

/* Freeing a map that still holds entries frees them (ASan/LSan checks); NULL is accepted. */
static void test_free_nonempty(void **state)
{
	struct map *m = map_new();

	(void)state;
	assert_non_null(m);
	for (size_t i = 0; i < N_ELEMS(keys); i++)
		assert_int_equal(map_put(m, keys[i], VAL(i)), 0);
	map_free(m);
	map_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shrink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
		cmocka_unit_test(test_free_nonempty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
