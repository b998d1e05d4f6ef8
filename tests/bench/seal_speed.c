/* seal_speed: seal+open throughput of gateway/lib/seal against memcpy of the same bytes, same run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/lib/keys.h"
#include "gateway/lib/seal.h"

#define PROLOGUE "bench/bench/0000000000000000"
#define SECS 0.5

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void handshake(struct seal *l, struct seal *a)
{
	struct key_pair local, agent;
	uint8_t priv[KEY_LEN], msg[256], out[256];

	keys_generate(priv);
	keys_pair(&local, priv);
	keys_generate(priv);
	keys_pair(&agent, priv);
	int n = seal_open_build(
		l, &local, agent.pub, PROLOGUE, strlen(PROLOGUE), NULL, 0, msg, 256);
	if (n < 0 || seal_open_accept(a, &agent, PROLOGUE, strlen(PROLOGUE), msg, (size_t)n, out,
			     sizeof(out)) < 0)
		exit(1);
	n = seal_reply_build(a, NULL, 0, msg, sizeof(msg));
	if (n < 0 || seal_reply_accept(l, &local, msg, (size_t)n, out, sizeof(out)) < 0)
		exit(1);
}

/* MB/s of seal+open (or memcpy twice, its floor) of size-byte messages. */
static double rate(struct seal *l, struct seal *a, size_t size, int plain, uint8_t *in,
	uint8_t *msg, uint8_t *out)
{
	double t0 = now(), t;
	uint64_t bytes = 0;

	do {
		for (int i = 0; i < 64; i++) {
			if (plain) {
				memcpy(msg, in, size);
				memcpy(out, msg, size);
				__asm__ volatile("" : : "r"(out) : "memory");
			} else {
				int n = seal_encrypt(l, in, size, msg, size + SEAL_DATA_OVERHEAD);
				if (n < 0 ||
					seal_decrypt(a, msg, (size_t)n, out, size) != (int)size)
					exit(1);
			}
			bytes += size;
		}
	} while ((t = now() - t0) < SECS);
	return (double)bytes / t / 1e6;
}

int main(void)
{
	static const size_t sizes[] = { 1400, 16384, 40960 };
	struct seal l, a;
	uint8_t *in = malloc(65536), *msg = malloc(65536 + SEAL_DATA_OVERHEAD),
		*out = malloc(65536);

	if (!in || !msg || !out || keys_init())
		return 1;
	memset(in, 0x5a, 65536);
	handshake(&l, &a);
	double t0 = now();
	int hs = 0;
	for (; now() - t0 < SECS; hs++) {
		struct seal x, y;
		handshake(&x, &y);
	}
	printf("handshakes: %.0f/s (open+accept+reply+accept, both sides, one core)\n",
		hs / (now() - t0));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double s = rate(&l, &a, sizes[i], 0, in, msg, out);
		double m = rate(&l, &a, sizes[i], 1, in, msg, out);
		printf("%6zu B: seal+open %7.0f MB/s, memcpy x2 %7.0f MB/s, ratio %.3f\n", sizes[i],
			s, m, s / m);
	}
	free(in);
	free(msg);
	free(out);
	return 0;
}
