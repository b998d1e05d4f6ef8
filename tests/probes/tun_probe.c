/* tun_probe: a TUN device that answers pings and echoes UDP, for the end-to-end test of tun/. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tun/packet.h"
#include "tun/tun.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Answers one packet in place; returns the reply's length, or 0 for none. */
static int answer(uint8_t *buf, size_t size, size_t len, unsigned long *bad)
{
	struct tun_pkt pkt;
	uint8_t payload[2048];

	if (tun_parse(&pkt, buf, len) || tun_verify(&pkt)) {
		(*bad)++;
		return 0;
	}
	if (pkt.proto == TUN_IPPROTO_ICMP || pkt.proto == TUN_IPPROTO_ICMPV6) {
		int n = tun_build_echo_reply(buf, size, &pkt);
		return n > 0 ? n : 0;
	}
	if (pkt.proto != TUN_IPPROTO_UDP || pkt.payload_len > sizeof(payload))
		return 0;
	memcpy(payload, buf + pkt.payload_off, pkt.payload_len);
	struct tun_addr src = pkt.dst, dst = pkt.src;
	int n = tun_build_udp(
		buf, size, &src, pkt.dport, &dst, pkt.sport, payload, pkt.payload_len);
	return n > 0 ? n : 0;
}

int main(int argc, char **argv)
{
	struct tun *t;
	uint8_t buf[65536];
	unsigned long answered = 0, bad = 0;
	int secs = argc > 2 ? atoi(argv[2]) : 60, err;

	if (argc < 2) {
		fprintf(stderr, "usage: tun_probe NAME [SECONDS]\n");
		return 2;
	}
	err = tun_open(argv[1], 0, &t);
	if (err) {
		fprintf(stderr, "tun_probe: cannot open %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready %s\n", tun_name(t));
	fflush(stdout);
	time_t end = time(NULL) + secs;
	while (!stop && time(NULL) < end) {
		struct pollfd pfd = { tun_fd(t), POLLIN, 0 };
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		for (;;) {
			ssize_t n = tun_read(t, buf, sizeof(buf), NULL);
			if (n < 0)
				break;
			int r = answer(buf, sizeof(buf), (size_t)n, &bad);
			if (r > 0 && tun_write(t, buf, (size_t)r, NULL) == 0)
				answered++;
		}
		printf("answered %lu bad %lu\n", answered, bad);
		fflush(stdout);
	}
	tun_close(t);
	return 0;
}
