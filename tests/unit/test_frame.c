/* Unit tests of mqtt/frame: the frames of tcpx and kcpx flows, byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "mqtt/frame.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Every control frame survives header -> parse with its fields. */
static void test_round_trip(void **state)
{
	static const struct frame frames[] = {
		{ .type = FRAME_OPEN, .off = 2u << 20 },
		{ .type = FRAME_RESULT, .code = FRAME_REFUSED, .off = 0 },
		{ .type = FRAME_RESULT, .code = FRAME_OK, .off = 0x0102030405060708ull },
		{ .type = FRAME_WINDOW, .off = UINT64_MAX, .msgs = 0x01020304 },
		{ .type = FRAME_PROBE, .off = 7 },
		{ .type = FRAME_END, .off = 123456789 },
		{ .type = FRAME_END_ACK, .off = 123456789 },
		{ .type = FRAME_ABORT, .code = FRAME_LOST },
		{ .type = FRAME_ABORT_ACK },
	};
	uint8_t buf[FRAME_CTL_MAX];
	struct frame fr;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(frames); i++) {
		size_t n = frame_header(buf, &frames[i]);
		assert_true(n >= 1 && n <= FRAME_CTL_MAX);
		assert_int_equal(frame_parse(buf, n, &fr), 0);
		assert_int_equal(fr.type, frames[i].type);
		assert_int_equal(fr.code, frames[i].code);
		assert_true(fr.off == frames[i].off);
		assert_int_equal(fr.msgs, frames[i].msgs);
		assert_int_equal(fr.len, 0);
	}
}

/* The layout is the contract with other peers: type, then big-endian fields. */
static void test_wire_layout(void **state)
{
	uint8_t buf[FRAME_CTL_MAX];
	struct frame r = { .type = FRAME_RESULT, .code = FRAME_TIMED_OUT, .off = 0x1122 };
	static const uint8_t want_r[] = { 'R', 4, 0, 0, 0, 0, 0, 0, 0x11, 0x22 };
	struct frame d = { .type = FRAME_DATA, .off = 65536 };
	static const uint8_t want_d[] = { 'D', 0, 0, 0, 0, 0, 1, 0, 0 };
	struct frame w = { .type = FRAME_WINDOW, .off = 2, .msgs = 0x0a0b0c0d };
	static const uint8_t want_w[] = { 'W', 0, 0, 0, 0, 0, 0, 0, 2, 0x0a, 0x0b, 0x0c, 0x0d };

	(void)state;
	assert_int_equal(frame_header(buf, &r), sizeof(want_r));
	assert_memory_equal(buf, want_r, sizeof(want_r));
	assert_int_equal(frame_header(buf, &d), FRAME_DATA_HDR);
	assert_memory_equal(buf, want_d, sizeof(want_d));
	assert_int_equal(frame_header(buf, &w), sizeof(want_w));
	assert_memory_equal(buf, want_w, sizeof(want_w));
}

static void test_data_and_kcp(void **state)
{
	uint8_t msg[FRAME_DATA_HDR + 3] = { 'D', 0, 0, 0, 0, 0, 0, 0, 9, 'a', 'b', 'c' };
	uint8_t kcp[] = { 'K', 1, 2, 3, 4 };
	struct frame fr;

	(void)state;
	assert_int_equal(frame_parse(msg, sizeof(msg), &fr), 0);
	assert_int_equal(fr.type, FRAME_DATA);
	assert_true(fr.off == 9);
	assert_int_equal(fr.len, 3);
	assert_ptr_equal(fr.data, msg + FRAME_DATA_HDR);
	assert_int_equal(frame_parse(kcp, sizeof(kcp), &fr), 0);
	assert_int_equal(fr.type, FRAME_KCP);
	assert_int_equal(fr.len, 4);
	assert_ptr_equal(fr.data, kcp + 1);
}

/* Bad input is refused, never half-read. */
static void test_bad(void **state)
{
	static const struct {
		const char *what;
		uint8_t bytes[16];
		size_t len;
	} bad[] = {
		{ "empty", { 0 }, 0 },
		{ "unknown type", { 'Z', 0 }, 2 },
		{ "net4mqtt's end of stream is not a frame", { 0 }, 0 },
		{ "DATA without bytes", { 'D', 0, 0, 0, 0, 0, 0, 0, 0 }, 9 },
		{ "DATA cut short", { 'D', 0, 0, 0 }, 4 },
		{ "KCP without bytes", { 'K' }, 1 },
		{ "WINDOW too long", { 'W', 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5 }, 14 },
		{ "WINDOW without its count", { 'W', 0, 0, 0, 0, 0, 0, 0, 0 }, 9 },
		{ "WINDOW too short", { 'W', 0, 0 }, 3 },
		{ "RESULT with an unknown code", { 'R', 99, 0, 0, 0, 0, 0, 0, 0, 0 }, 10 },
		{ "ABORT with an unknown code", { 'A', 200 }, 2 },
		{ "ABORT_ACK with bytes", { 'a', 0 }, 2 },
	};
	struct frame fr;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		if (frame_parse(bad[i].bytes, bad[i].len, &fr) != -EINVAL)
			fail_msg("accepted: %s", bad[i].what);
	}
}

static void test_result_words(void **state)
{
	(void)state;
	for (int r = FRAME_OK; r <= FRAME_RESULT_MAX; r++)
		assert_string_not_equal(frame_result_str((enum frame_result)r), "?");
	assert_string_equal(frame_result_str(FRAME_REFUSED), "connection refused");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wire_layout),
		cmocka_unit_test(test_data_and_kcp),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_result_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
