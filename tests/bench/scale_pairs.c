// SPDX-License-Identifier: MIT
/* scale_pairs: many agent/local pairs on one broker, for tests/e2e/scale.sh and
 * `make bench` (tests/scale-lib.sh starts the pairs). */

/*
 * scale_pairs run -b BASE -n N [-c CONNS] [-s SIZE] [-t SECS] [-j PARALLEL] [-v]
 *	Pair i (0 <= i < N) is the local-port on 127.0.0.1:BASE+i. For each pair,
 *	CONNS (default 1) TCP connections, each sending SIZE bytes (default 65536)
 *	of a pattern seeded by the pair and connection index, then shutting down
 *	its side; the echo must come back byte-exact, followed by EOF. At most
 *	PARALLEL connections are open at once (default all). Everything must be
 *	done within SECS (default 60); what is not is a failure. Prints a line per
 *	failure (and per pair with -v), then
 *	"scale: pairs=N ok=K failed=F bytes=B secs=S aggregate_MBps=X (B: bytes echoed)
 *	 pair_MBps_median=Y pair_MBps_min=Z"; exit 1 when any pair failed.
 *	Per pair: SIZE*CONNS bytes echoed / (its last connection's end - its first's
 *	start).
 *
 * scale_pairs echo -p PORT
 *	an echo server in one epoll thread (any write size, a half close passed
 *	on), until killed.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 16384
#define ECHO_BUF 65536

struct options {
	int base, n, conns, secs, parallel, port;
	size_t size;
	bool verbose;
};

static struct options opt = { .conns = 1, .size = 65536, .secs = 60 };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- the pattern: byte p of stream k, stateless ---- */

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void pattern(uint64_t stream, size_t pos, unsigned char *out, size_t len)
{
	uint64_t seed = splitmix(stream);

	for (size_t i = 0; i < len;) {
		size_t p = pos + i;
		uint64_t w = splitmix(seed ^ (p >> 3));
		for (size_t b = p & 7; b < 8 && i < len; b++, i++)
			out[i] = (unsigned char)(w >> (b * 8));
	}
}

/* ---- the client ---- */

struct conn {
	int fd, pair, idx;
	bool connected, shut, done, failed;
	size_t sent, recvd;
	unsigned char out[CHUNK];
	size_t out_off, out_len;
};

struct pair {
	double start, end;
	int done, failed;
};

static int ep;
static struct conn *conns;
static struct pair *pairs;
static int n_open, n_finished;

static uint64_t stream_of(const struct conn *c)
{
	return (uint64_t)c->pair * 65536 + (uint64_t)c->idx;
}

static void conn_end(struct conn *c, const char *why)
{
	struct pair *p = &pairs[c->pair];

	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
		n_open--;
	}
	c->done = true;
	n_finished++;
	p->done++;
	p->end = now_s();
	if (why) {
		c->failed = true;
		p->failed++;
		printf("pair %d (port %d) conn %d: FAIL %s (sent %zu, received %zu of %zu)\n",
			c->pair, opt.base + c->pair, c->idx, why, c->sent, c->recvd, opt.size);
	}
}

static int conn_start(struct conn *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)(opt.base + c->pair)),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };

	if (!pairs[c->pair].start)
		pairs[c->pair].start = now_s();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		conn_end(c, strerror(errno));
		return -1;
	}
	n_open++;
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
		conn_end(c, strerror(errno));
		return -1;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

static void conn_write(struct conn *c)
{
	while (c->sent < opt.size) {
		if (c->out_off == c->out_len) {
			size_t len = opt.size - c->sent < CHUNK ? opt.size - c->sent : CHUNK;
			pattern(stream_of(c), c->sent, c->out, len);
			c->out_off = 0;
			c->out_len = len;
		}
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN)
				conn_end(c, strerror(errno));
			return;
		}
		c->out_off += (size_t)w;
		c->sent += (size_t)w;
	}
	if (!c->shut) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		shutdown(c->fd, SHUT_WR);
		c->shut = true;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

static void conn_read(struct conn *c)
{
	unsigned char in[CHUNK], want[CHUNK];
	char why[96];

	for (;;) {
		ssize_t r = recv(c->fd, in, sizeof(in), 0);
		if (r < 0) {
			if (errno != EAGAIN)
				conn_end(c, strerror(errno));
			return;
		}
		if (r == 0) {
			conn_end(c, c->recvd == opt.size ? NULL : "EOF before the whole echo");
			return;
		}
		if (c->recvd + (size_t)r > opt.size) {
			conn_end(c, "more bytes than were sent");
			return;
		}
		pattern(stream_of(c), c->recvd, want, (size_t)r);
		if (memcmp(in, want, (size_t)r)) {
			size_t i = 0;
			while (in[i] == want[i])
				i++;
			snprintf(why, sizeof(why), "byte %zu differs", c->recvd + i);
			conn_end(c, why);
			return;
		}
		c->recvd += (size_t)r;
	}
}

static int run_pairs(void)
{
	int total = opt.n * opt.conns, next = 0, ok = 0, failed = 0;
	double start, deadline, *rates;
	struct epoll_event evs[256];

	conns = calloc((size_t)total, sizeof(*conns));
	pairs = calloc((size_t)opt.n, sizeof(*pairs));
	rates = calloc((size_t)opt.n, sizeof(*rates));
	ep = epoll_create1(0);
	if (!conns || !pairs || !rates || ep < 0) {
		fprintf(stderr, "scale_pairs: out of memory\n");
		return 2;
	}
	/* connection j of pair i at j * N + i: the pairs start round-robin */
	for (int k = 0; k < total; k++) {
		conns[k].fd = -1;
		conns[k].pair = k % opt.n;
		conns[k].idx = k / opt.n;
	}
	start = now_s();
	deadline = start + opt.secs;
	while (n_finished < total) {
		while (next < total && (!opt.parallel || n_open < opt.parallel))
			conn_start(&conns[next++]);
		double left = deadline - now_s();
		if (left <= 0)
			break;
		int n = epoll_wait(ep, evs, 256, left > 1 ? 1000 : (int)(left * 1000) + 1);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->done)
				continue;
			if (!c->connected) {
				int err = 0;
				socklen_t len = sizeof(err);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err) {
					conn_end(c, strerror(err));
					continue;
				}
				c->connected = true;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				conn_read(c);
			if (!c->done && !c->shut && (evs[i].events & EPOLLOUT))
				conn_write(c);
		}
	}
	double secs = now_s() - start;
	for (int k = 0; k < total; k++)
		if (!conns[k].done)
			conn_end(&conns[k], k >= next ? "never started" : "timed out");
	int n_rates = 0;
	for (int i = 0; i < opt.n; i++) {
		struct pair *p = &pairs[i];
		double t = p->end - p->start,
		       rate = t > 0 ? (double)opt.size * opt.conns / t / 1e6 : 0;
		if (p->failed) {
			failed++;
			continue;
		}
		ok++;
		rates[n_rates++] = rate;
		if (opt.verbose)
			printf("pair %d (port %d): ok %zu B in %.3f s, %.2f MB/s\n", i,
				opt.base + i, opt.size * (size_t)opt.conns, t, rate);
	}
	/* sort the rates for the median (insertion sort: N is small) */
	for (int i = 1; i < n_rates; i++)
		for (int j = i; j > 0 && rates[j - 1] > rates[j]; j--) {
			double t = rates[j];
			rates[j] = rates[j - 1];
			rates[j - 1] = t;
		}
	double bytes = 0; /* echoed back, failed connections' bytes too */
	for (int k = 0; k < total; k++)
		bytes += (double)conns[k].recvd;
	printf("scale: pairs=%d ok=%d failed=%d bytes=%.0f secs=%.3f aggregate_MBps=%.2f "
	       "pair_MBps_median=%.2f pair_MBps_min=%.2f\n",
		opt.n, ok, failed, bytes, secs, bytes / secs / 1e6,
		n_rates ? (n_rates % 2 ? rates[n_rates / 2]
				       : (rates[n_rates / 2 - 1] + rates[n_rates / 2]) / 2)
			: 0,
		n_rates ? rates[0] : 0);
	fflush(stdout);
	free(rates);
	free(pairs);
	free(conns);
	close(ep);
	return failed ? 1 : 0;
}

/* ---- the echo server ---- */

struct echo {
	int fd;
	bool eof;
	size_t off, len;
	unsigned char buf[ECHO_BUF];
};

static void echo_close(struct echo *e)
{
	close(e->fd);
	free(e);
}

/* Reads when its buffer is empty, writes it out, passes EOF on once all is written. */
static void echo_step(struct echo *e)
{
	for (;;) {
		if (e->len == e->off && !e->eof) {
			ssize_t r = recv(e->fd, e->buf, sizeof(e->buf), 0);
			if (r < 0 && errno == EAGAIN)
				break;
			if (r < 0) {
				echo_close(e);
				return;
			}
			e->off = 0;
			e->len = (size_t)r;
			e->eof = r == 0;
		}
		if (e->off < e->len) {
			ssize_t w = send(e->fd, e->buf + e->off, e->len - e->off, MSG_NOSIGNAL);
			if (w < 0 && errno == EAGAIN)
				break;
			if (w < 0) {
				echo_close(e);
				return;
			}
			e->off += (size_t)w;
			continue;
		}
		if (e->eof) {
			echo_close(e);
			return;
		}
	}
	struct epoll_event ev = { .events = e->off < e->len ? EPOLLOUT : EPOLLIN, .data.ptr = e };
	epoll_ctl(ep, EPOLL_CTL_MOD, e->fd, &ev);
}

static int run_echo(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)opt.port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[256];
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	ep = epoll_create1(0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ep < 0 || lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4096)) {
		fprintf(stderr, "scale_pairs: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			struct echo *e = evs[i].data.ptr;
			if (e) {
				echo_step(e);
				continue;
			}
			int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
			if (fd < 0)
				continue;
			if (!(e = calloc(1, sizeof(*e)))) {
				close(fd);
				continue;
			}
			e->fd = fd;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			struct epoll_event cev = { .events = EPOLLIN, .data.ptr = e };
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
		}
	}
}

int main(int argc, char **argv)
{
	int c;

	if (argc < 2 || (strcmp(argv[1], "run") && strcmp(argv[1], "echo"))) {
		fprintf(stderr,
			"usage: scale_pairs run -b BASE -n N [-c CONNS] [-s SIZE] [-t SECS] "
			"[-j PARALLEL] [-v] | echo -p PORT\n");
		return 2;
	}
	optind = 2;
	while ((c = getopt(argc, argv, "b:n:c:s:t:j:p:v")) != -1) {
		switch (c) {
		case 'b':
			opt.base = atoi(optarg);
			break;
		case 'n':
			opt.n = atoi(optarg);
			break;
		case 'c':
			opt.conns = atoi(optarg);
			break;
		case 's':
			opt.size = (size_t)atol(optarg);
			break;
		case 't':
			opt.secs = atoi(optarg);
			break;
		case 'j':
			opt.parallel = atoi(optarg);
			break;
		case 'p':
			opt.port = atoi(optarg);
			break;
		case 'v':
			opt.verbose = true;
			break;
		default:
			return 2;
		}
	}
	raise_nofile();
	if (!strcmp(argv[1], "echo")) {
		if (opt.port < 1 || opt.port > 65535)
			return fprintf(stderr, "scale_pairs: want -p PORT\n"), 2;
		return run_echo();
	}
	if (opt.base < 1 || opt.n < 1 || opt.base + opt.n > 65536 || opt.conns < 1 ||
		opt.conns > 1000 || opt.size < 1 || opt.secs < 1 || opt.parallel < 0) {
		fprintf(stderr, "scale_pairs: want -b BASE -n N (ports BASE..BASE+N-1), "
				"1 <= CONNS <= 1000, SIZE >= 1, SECS >= 1\n");
		return 2;
	}
	return run_pairs();
}
