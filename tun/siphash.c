/* SipHash-2-4 (Aumasson and Bernstein), as its paper specifies it. */
#include "siphash.h"

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void sipround(uint64_t v[4])
{
	v[0] += v[1], v[1] = rotl(v[1], 13), v[1] ^= v[0], v[0] = rotl(v[0], 32);
	v[2] += v[3], v[3] = rotl(v[3], 16), v[3] ^= v[2];
	v[0] += v[3], v[3] = rotl(v[3], 21), v[3] ^= v[0];
	v[2] += v[1], v[1] = rotl(v[1], 17), v[1] ^= v[2], v[2] = rotl(v[2], 32);
}

static uint64_t load_le64(const uint8_t *p, size_t n)
{
	uint64_t x = 0;

	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)p[i] << (8 * i);
	return x;
}

uint64_t tun_siphash(const void *data, size_t len, const uint8_t key[16])
{
	const uint8_t *in = data;
	uint64_t k0 = load_le64(key, 8), k1 = load_le64(key + 8, 8);
	uint64_t v[4] = { 0x736f6d6570736575ull ^ k0, 0x646f72616e646f6dull ^ k1,
		0x6c7967656e657261ull ^ k0, 0x7465646279746573ull ^ k1 };
	uint64_t m;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		m = load_le64(in + i, 8);
		v[3] ^= m;
		sipround(v), sipround(v);
		v[0] ^= m;
	}
	m = load_le64(in + i, len - i) | (uint64_t)len << 56;
	v[3] ^= m;
	sipround(v), sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	sipround(v), sipround(v), sipround(v), sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}
