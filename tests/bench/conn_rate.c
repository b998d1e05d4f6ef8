// SPDX-License-Identifier: MIT
/* conn_rate: new TCP connections per second, as health checks and short
 * requests make them, for `make bench`. */

/*
 * conn_rate client -p PORT [-h HOST] [-c CLIENTS] [-t SECS] [-s SIZE]
 *	CLIENTS threads (default 1), each in a loop for SECS seconds (default 5):
 *	connect, send SIZE bytes (default 10), read them back, close. Prints
 *	"conns_per_sec=<n> conns=<n> failed=<n>"; exit 1 when any connection
 *	failed or none completed. Each step waits at most STEP_SECS.
 *
 * conn_rate echo -p PORT [-h HOST]
 *	an echo server in one epoll thread, until killed.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define STEP_SECS 5
#define MAX_CLIENTS 256
#define MAX_SIZE 65536

struct options {
	struct sockaddr_in addr;
	int clients, secs;
	size_t size;
};

static struct options opt = { .clients = 1, .secs = 5, .size = 10 };
static atomic_long conns, failures;
static atomic_bool stop;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One connection: connect, echo opt.size bytes, close. 0, or -1 (said once). */
static int one_exchange(char *out, char *in)
{
	struct timeval step = { .tv_sec = STEP_SECS };
	size_t got = 0;
	int one = 1, rc = -1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &step, sizeof(step));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &step, sizeof(step));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&opt.addr, sizeof(opt.addr)) ||
		send(fd, out, opt.size, MSG_NOSIGNAL) != (ssize_t)opt.size)
		goto out;
	while (got < opt.size) {
		ssize_t n = recv(fd, in + got, opt.size - got, 0);
		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	rc = memcmp(in, out, opt.size) ? -1 : 0;
out:
	if (rc && atomic_fetch_add(&failures, 1) == 0)
		fprintf(stderr, "conn_rate: a connection failed after %zu of %zu bytes: %s\n", got,
			opt.size, errno ? strerror(errno) : "wrong bytes or early end");
	close(fd);
	return rc;
}

static void *client_loop(void *arg)
{
	char *out = malloc(opt.size), *in = malloc(opt.size);
	(void)arg;

	if (!out || !in) {
		atomic_fetch_add(&failures, 1);
		goto out;
	}
	for (size_t i = 0; i < opt.size; i++)
		out[i] = (char)('a' + i % 26);
	while (!atomic_load(&stop))
		if (one_exchange(out, in) == 0)
			atomic_fetch_add(&conns, 1);
out:
	free(out);
	free(in);
	return NULL;
}

static int run_clients(void)
{
	pthread_t threads[MAX_CLIENTS];
	double start = now_s(), secs;
	long done;

	for (int i = 0; i < opt.clients; i++)
		if (pthread_create(&threads[i], NULL, client_loop, NULL)) {
			fprintf(stderr, "conn_rate: cannot start client threads\n");
			return 1;
		}
	while (now_s() - start < opt.secs && !atomic_load(&failures))
		usleep(10000);
	atomic_store(&stop, true);
	for (int i = 0; i < opt.clients; i++)
		pthread_join(threads[i], NULL);
	secs = now_s() - start;
	done = atomic_load(&conns);
	printf("conns_per_sec=%.0f conns=%ld failed=%ld\n", (double)done / secs, done,
		atomic_load(&failures));
	return atomic_load(&failures) || !done;
}

static int run_echo(void)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];
	char buf[MAX_SIZE];
	int one = 1, ep = epoll_create1(0);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ep < 0 || lfd < 0 || bind(lfd, (struct sockaddr *)&opt.addr, sizeof(opt.addr)) ||
		listen(lfd, 4096)) {
		fprintf(stderr, "conn_rate: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
				if (c < 0)
					continue;
				setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				ev.data.fd = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				continue;
			}
			/* a small exchange fits the socket buffer: what is read is written */
			ssize_t r = recv(fd, buf, sizeof(buf), 0);
			if (r > 0 && send(fd, buf, (size_t)r, MSG_NOSIGNAL) == r)
				continue;
			if (r < 0 && errno == EAGAIN)
				continue;
			close(fd);
		}
	}
}

int main(int argc, char **argv)
{
	int c;

	if (argc < 2 || (strcmp(argv[1], "client") && strcmp(argv[1], "echo"))) {
		fprintf(stderr, "usage: conn_rate client|echo -p PORT [-h HOST] [-c CLIENTS] "
				"[-t SECS] [-s SIZE]\n");
		return 2;
	}
	opt.addr.sin_family = AF_INET;
	opt.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	optind = 2;
	while ((c = getopt(argc, argv, "h:p:c:t:s:")) != -1) {
		switch (c) {
		case 'h':
			if (inet_pton(AF_INET, optarg, &opt.addr.sin_addr) != 1)
				return fprintf(stderr, "conn_rate: bad host %s\n", optarg), 2;
			break;
		case 'p':
			opt.addr.sin_port = htons((uint16_t)atoi(optarg));
			break;
		case 'c':
			opt.clients = atoi(optarg);
			break;
		case 't':
			opt.secs = atoi(optarg);
			break;
		case 's':
			opt.size = (size_t)atol(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!opt.addr.sin_port || opt.clients < 1 || opt.clients > MAX_CLIENTS || opt.secs < 1 ||
		opt.size < 1 || opt.size > MAX_SIZE) {
		fprintf(stderr,
			"conn_rate: want -p PORT, 1 <= CLIENTS <= %d, SECS >= 1, 1 <= SIZE "
			"<= %d\n",
			MAX_CLIENTS, MAX_SIZE);
		return 2;
	}
	return strcmp(argv[1], "echo") ? run_clients() : run_echo();
}
