/* Unit tests of gateway/lib/ping: the agent's echo requests and which replies are ours. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/lib/ping.h"

static uint16_t sum16(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | (i + 1 < len ? p[i + 1] : 0));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void test_request(void **state)
{
	const uint8_t rest[] = { 0x00, 0x07, 'h', 'e', 'l', 'l', 'o' }; /* sequence 7, data */
	uint8_t buf[64];

	(void)state;
	ssize_t n = ping_request(buf, sizeof(buf), AF_INET, 0x1234, rest, sizeof(rest));
	assert_int_equal(n, 6 + sizeof(rest));
	assert_int_equal(buf[0], 8); /* echo */
	assert_int_equal(buf[1], 0);
	assert_int_equal(buf[4] << 8 | buf[5], 0x1234);
	assert_memory_equal(buf + 6, rest, sizeof(rest));
	assert_int_equal(sum16(buf, (size_t)n), 0xffff); /* the checksum is right (odd length) */
	n = ping_request(buf, sizeof(buf), AF_INET6, 0x1234, rest, sizeof(rest));
	assert_int_equal(buf[0], 128);
	assert_int_equal(buf[2] << 8 | buf[3], 0); /* the kernel fills ICMPv6's in */
	assert_int_equal(ping_request(buf, sizeof(buf), AF_INET, 1, rest, 1), -EINVAL);
	assert_int_equal(ping_request(buf, 12, AF_INET, 1, rest, sizeof(rest)), -ENOSPC);
}

static void test_reply(void **state)
{
	uint8_t dgram[] = { 0, 0, 0xab, 0xcd, 0x43, 0x21, 0x00, 0x09, 'x' };
	uint8_t raw4[20 + sizeof(dgram)] = { 0x45 };
	uint8_t v6[] = { 129, 0, 0, 0, 0x43, 0x21, 0x00, 0x09 };

	(void)state;
	memcpy(raw4 + 20, dgram, sizeof(dgram));
	/* a datagram socket: the kernel matched the identifier; the sequence starts at 6 */
	assert_int_equal(ping_reply(dgram, sizeof(dgram), AF_INET, PING_DGRAM, 0), 6);
	/* raw: the IP header comes first, and the identifier must be ours */
	assert_int_equal(ping_reply(raw4, sizeof(raw4), AF_INET, PING_RAW, 0x4321), 26);
	assert_int_equal(ping_reply(raw4, sizeof(raw4), AF_INET, PING_RAW, 0x4322), -1);
	assert_int_equal(ping_reply(v6, sizeof(v6), AF_INET6, PING_RAW, 0x4321), 6);
	assert_int_equal(ping_reply(v6, sizeof(v6), AF_INET6, PING_RAW, 1), -1);
	/* not an echo reply, short, or a bad IP header */
	dgram[0] = 8;
	assert_int_equal(ping_reply(dgram, sizeof(dgram), AF_INET, PING_DGRAM, 0), -1);
	assert_int_equal(ping_reply(v6, sizeof(v6), AF_INET, PING_DGRAM, 0), -1);
	assert_int_equal(ping_reply(v6, 7, AF_INET6, PING_DGRAM, 0), -1);
	raw4[0] = 0x44;
	assert_int_equal(ping_reply(raw4, sizeof(raw4), AF_INET, PING_RAW, 0x4321), -1);
	assert_int_equal(ping_reply(raw4, 10, AF_INET, PING_RAW, 0x4321), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
