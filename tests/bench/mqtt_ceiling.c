// SPDX-License-Identifier: MIT
/* mqtt_ceiling: the raw broker ceiling (QoS 0 throughput, publish round trip) for `make bench`. */

/*
 * mqtt_ceiling throughput -h HOST -p PORT -s SIZE -n BYTES [-w WINDOW]
 *	one publisher and one subscriber connection; SIZE-byte QoS 0 messages
 *	on one topic until the subscriber has BYTES. At most WINDOW bytes
 *	(default 4 MiB) are published and not yet received, so the broker
 *	never queues enough to drop. Prints
 *	"throughput_MBps=<MB/s, 10^6 bytes> messages=<n>".
 *
 * mqtt_ceiling rtt -h HOST -p PORT -s SIZE -n COUNT [-f]
 *	client A publishes SIZE bytes on topic a, client B republishes them on
 *	topic b, A waits for them; COUNT rounds after a few warm-up rounds.
 *	With -f, B runs in a forked process, as the two ends of a tunnel do.
 *	Prints "rtt_us_median=<us> rtt_us_p99=<us>".
 *
 * The connections of a process live in its one thread, driven by poll() and
 * mosquitto_loop_read/write/misc, as net4mqtt drives its own. Every wait is
 * bounded: no progress for STALL_SECS, or TOTAL_SECS in all, is a failure.
 * Exit 0 on success, 1 with one line on stderr otherwise.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mosquitto.h>

#define TOTAL_SECS 60.0
#define STALL_SECS 10.0
#define READ_BURST 256
#define WARMUP_ROUNDS 10
#define DEFAULT_WINDOW (4u << 20)

enum mode { MODE_THROUGHPUT, MODE_RTT };

struct peer {
	struct mosquitto *mosq;
	const char *name;
	const char *sub_topic; /* NULL: this peer only publishes */
	bool connected;
	bool subscribed;
};

struct bench {
	enum mode mode;
	const char *host;
	int port;
	size_t size;
	uint64_t count; /* throughput: bytes to receive; rtt: rounds */
	uint64_t window;
	char topic_a[96];
	char topic_b[96];
	unsigned char *payload;
	struct peer a;	       /* throughput: publisher; rtt: pinger */
	struct peer b;	       /* throughput: subscriber; rtt: echo */
	struct peer *peers[2]; /* the ones this process drives */
	int npeers;
	bool fork_echo;
	int ctl_fd; /* -f: socket to the other process, or -1 */
	bool ctl_readable;

	/* throughput */
	uint64_t published;
	uint64_t received;
	uint64_t messages;

	/* rtt */
	bool waiting;
	double sent_at;
	double *samples;
	uint64_t rounds; /* completed, warm-up included */

	double last_progress;
	bool failed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("mqtt_ceiling: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void)
{
	fputs("usage: mqtt_ceiling throughput -h HOST -p PORT -s SIZE -n BYTES [-w WINDOW]\n"
	      "       mqtt_ceiling rtt -h HOST -p PORT -s SIZE -n COUNT [-f]\n"
	      "sizes take a k, m or g suffix (powers of 1024)\n",
		stderr);
	exit(1);
}

/* "64k" -> 65536; exits on anything else than a positive number with an optional suffix. */
static uint64_t parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		die("bad %s: %s", what, s);
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10, end++;
		break;
	case 'm':
	case 'M':
		v <<= 20, end++;
		break;
	case 'g':
	case 'G':
		v <<= 30, end++;
		break;
	}
	if (*end || v == 0)
		die("bad %s: %s", what, s);
	return v;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct peer *p = obj;

	if (rc)
		die("%s: connect refused: %s", p->name, mosquitto_connack_string(rc));
	p->connected = true;
	if (p->sub_topic && mosquitto_subscribe(mosq, NULL, p->sub_topic, 0) != MOSQ_ERR_SUCCESS)
		die("%s: subscribe failed", p->name);
	if (!p->sub_topic)
		p->subscribed = true;
}

static void on_subscribe(
	struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted_qos)
{
	struct peer *p = obj;

	(void)mosq, (void)mid;
	if (qos_count < 1 || granted_qos[0] > 2)
		die("%s: subscription refused", p->name);
	p->subscribed = true;
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct peer *p = obj;

	(void)mosq;
	die("%s: disconnected: %s", p->name, mosquitto_strerror(rc));
}

/* The message callbacks get the bench through the peer they belong to. */
static struct bench *the_bench;

static void on_message_sub(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
	struct bench *b = the_bench;

	(void)mosq, (void)obj;
	b->received += (uint64_t)m->payloadlen;
	b->messages++;
	b->last_progress = now_s();
}

static void on_message_echo(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
	struct bench *b = the_bench;

	(void)obj;
	if (mosquitto_publish(mosq, NULL, b->topic_b, m->payloadlen, m->payload, 0, false))
		die("echo: publish failed");
}

static void on_message_pinger(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
	struct bench *b = the_bench;
	double t = now_s();

	(void)mosq, (void)obj;
	if (!b->waiting || (size_t)m->payloadlen != b->size)
		die("pinger: unexpected message of %d bytes", m->payloadlen);
	if (b->rounds >= WARMUP_ROUNDS)
		b->samples[b->rounds - WARMUP_ROUNDS] = (t - b->sent_at) * 1e6;
	b->rounds++;
	b->waiting = false;
	b->last_progress = t;
}

static void peer_open(struct bench *b, struct peer *p, const char *name, const char *sub_topic,
	void (*on_message)(struct mosquitto *, void *, const struct mosquitto_message *))
{
	char id[64];
	int rc;

	snprintf(id, sizeof(id), "ceiling-%s-%ld", name, (long)getpid());
	p->name = name;
	p->sub_topic = sub_topic;
	p->mosq = mosquitto_new(id, true, p);
	if (!p->mosq)
		die("%s: mosquitto_new: %s", name, strerror(errno));
	mosquitto_connect_callback_set(p->mosq, on_connect);
	mosquitto_subscribe_callback_set(p->mosq, on_subscribe);
	mosquitto_disconnect_callback_set(p->mosq, on_disconnect);
	if (on_message)
		mosquitto_message_callback_set(p->mosq, on_message);
	rc = mosquitto_connect(p->mosq, b->host, b->port, 60);
	if (rc)
		die("%s: connect to %s:%d: %s", name, b->host, b->port,
			rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
}

static void check_rc(struct peer *p, int rc, const char *what)
{
	if (rc == MOSQ_ERR_SUCCESS)
		return;
	die("%s: %s: %s", p->name, what,
		rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
}

/* mosquitto_loop_read handles one packet per call: drain until the socket is empty. */
static void peer_read(struct peer *p)
{
	for (int i = 0; i < READ_BURST; i++) {
		errno = 0;
		check_rc(p, mosquitto_loop_read(p->mosq, 1), "read");
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
	}
}

static void peer_flush(struct peer *p)
{
	if (mosquitto_want_write(p->mosq))
		check_rc(p, mosquitto_loop_write(p->mosq, 1), "write");
}

/* One poll over this process's connections (and the control socket); timeout in ms. */
static void pump(struct bench *b, int timeout)
{
	struct pollfd pfd[3];
	int n = b->npeers;

	for (int i = 0; i < n; i++) {
		pfd[i].fd = mosquitto_socket(b->peers[i]->mosq);
		pfd[i].events = POLLIN | (mosquitto_want_write(b->peers[i]->mosq) ? POLLOUT : 0);
		pfd[i].revents = 0;
	}
	pfd[n].fd = b->ctl_fd;
	pfd[n].events = POLLIN;
	pfd[n].revents = 0;
	if (poll(pfd, b->ctl_fd >= 0 ? n + 1 : n, timeout) < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	for (int i = 0; i < n; i++) {
		if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
			peer_read(b->peers[i]);
		if (pfd[i].revents & POLLOUT)
			peer_flush(b->peers[i]);
	}
	/* replies queued by callbacks go out now rather than after another poll */
	for (int i = 0; i < n; i++)
		peer_flush(b->peers[i]);
	if (b->ctl_fd >= 0 && pfd[n].revents)
		b->ctl_readable = true;
}

static void misc(struct bench *b)
{
	for (int i = 0; i < b->npeers; i++)
		check_rc(b->peers[i], mosquitto_loop_misc(b->peers[i]->mosq), "misc");
}

static void check_time(struct bench *b, double start, const char *what)
{
	double t = now_s();

	if (t - start > TOTAL_SECS)
		die("%s: gave up after %.0f s", what, TOTAL_SECS);
	if (t - b->last_progress > STALL_SECS) {
		if (b->mode == MODE_THROUGHPUT)
			die("%s: no progress for %.0f s (published %" PRIu64
			    " bytes, received %" PRIu64 ")",
				what, STALL_SECS, b->published, b->received);
		die("%s: no progress for %.0f s after %" PRIu64 " rounds", what, STALL_SECS,
			b->rounds);
	}
}

static bool peers_ready(const struct bench *b)
{
	for (int i = 0; i < b->npeers; i++)
		if (!b->peers[i]->subscribed)
			return false;
	return true;
}

static void wait_ready(struct bench *b)
{
	double start = now_s();

	b->last_progress = start;
	while (!peers_ready(b)) {
		pump(b, 100);
		check_time(b, start, "connect/subscribe");
	}
	if (b->ctl_fd < 0)
		return;
	/* -f: the echo process says "r" once it is subscribed */
	while (!b->ctl_readable) {
		pump(b, 100);
		check_time(b, start, "echo process start");
	}
	char c;
	if (read(b->ctl_fd, &c, 1) != 1 || c != 'r')
		die("the echo process failed");
	b->ctl_readable = false;
}

static void publish(struct bench *b, struct peer *p, const char *topic)
{
	check_rc(p, mosquitto_publish(p->mosq, NULL, topic, (int)b->size, b->payload, 0, false),
		"publish");
}

static void run_throughput(struct bench *b)
{
	double start, last_misc, secs;

	wait_ready(b);
	start = last_misc = b->last_progress = now_s();
	while (b->received < b->count) {
		/* fill the window; the last message may overshoot count */
		while (b->published < b->count &&
			b->published - b->received + b->size <= b->window) {
			publish(b, &b->a, b->topic_a);
			b->published += b->size;
			if (mosquitto_want_write(b->a.mosq))
				break; /* socket full: let poll say when */
		}
		pump(b, 100);
		if (now_s() - last_misc > 1.0) {
			misc(b);
			check_time(b, start, "throughput");
			last_misc = now_s();
		}
	}
	secs = now_s() - start;
	printf("throughput_MBps=%.2f messages=%" PRIu64 "\n", (double)b->received / secs / 1e6,
		b->messages);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

/* Nearest-rank percentile of sorted samples. */
static double percentile(const double *v, uint64_t n, double pct)
{
	uint64_t rank = (uint64_t)((pct / 100.0) * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

static void run_rtt(struct bench *b)
{
	uint64_t total = b->count + WARMUP_ROUNDS;
	double start, last_misc, median;

	b->samples = calloc(b->count, sizeof(*b->samples));
	if (!b->samples)
		die("out of memory");
	wait_ready(b);
	start = last_misc = b->last_progress = now_s();
	while (b->rounds < total) {
		if (!b->waiting) {
			b->waiting = true;
			b->sent_at = now_s();
			publish(b, &b->a, b->topic_a);
		}
		pump(b, 100);
		if (now_s() - last_misc > 1.0) {
			misc(b);
			check_time(b, start, "rtt");
			last_misc = now_s();
		}
	}
	qsort(b->samples, b->count, sizeof(*b->samples), cmp_double);
	median = b->count % 2 ? b->samples[b->count / 2]
			      : (b->samples[b->count / 2 - 1] + b->samples[b->count / 2]) / 2;
	printf("rtt_us_median=%.1f rtt_us_p99=%.1f\n", median,
		percentile(b->samples, b->count, 99));
	free(b->samples);
}

static void add_peer(struct bench *b, struct peer *p, const char *name, const char *sub_topic,
	void (*on_message)(struct mosquitto *, void *, const struct mosquitto_message *))
{
	peer_open(b, p, name, sub_topic, on_message);
	b->peers[b->npeers++] = p;
}

/*
 * -f: the echo client in a child process. It says "r" on the control socket
 * once subscribed and exits when the parent closes it (or after TOTAL_SECS).
 * Returns the child's pid in the parent.
 */
static pid_t fork_echo(struct bench *b)
{
	int sv[2];
	pid_t pid;
	double start;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0) {
		close(sv[1]);
		b->ctl_fd = sv[0];
		return pid;
	}
	close(sv[0]);
	add_peer(b, &b->b, "echo", b->topic_a, on_message_echo);
	wait_ready(b);
	if (write(sv[1], "r", 1) != 1)
		die("echo: control socket: %s", strerror(errno));
	b->ctl_fd = sv[1];
	start = now_s();
	while (!b->ctl_readable) {
		pump(b, 100);
		misc(b);
		if (now_s() - start > TOTAL_SECS)
			die("echo: gave up after %.0f s", TOTAL_SECS);
	}
	mosquitto_destroy(b->b.mosq);
	_exit(0);
}

static void parse_args(struct bench *b, int argc, char **argv)
{
	int c;

	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "throughput"))
		b->mode = MODE_THROUGHPUT;
	else if (!strcmp(argv[1], "rtt"))
		b->mode = MODE_RTT;
	else
		usage();
	b->host = "127.0.0.1";
	b->port = 1883;
	b->size = b->mode == MODE_RTT ? 64 : 65000;
	b->count = b->mode == MODE_RTT ? 1000 : (256u << 20);
	b->window = DEFAULT_WINDOW;
	optind = 2;
	while ((c = getopt(argc, argv, "h:p:s:n:w:f")) != -1) {
		switch (c) {
		case 'h':
			b->host = optarg;
			break;
		case 'p':
			b->port = (int)parse_size(optarg, "port");
			break;
		case 's':
			b->size = parse_size(optarg, "size");
			break;
		case 'n':
			b->count = parse_size(optarg, "count");
			break;
		case 'w':
			b->window = parse_size(optarg, "window");
			break;
		case 'f':
			b->fork_echo = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || b->port > 65535 || (b->fork_echo && b->mode != MODE_RTT))
		usage();
	if (b->size > 256u << 20)
		die("size too large: %zu", b->size);
	if (b->window < b->size)
		b->window = b->size;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	long pid = (long)getpid();
	pid_t child;
	int status;

	parse_args(&b, argc, argv);
	the_bench = &b;
	snprintf(b.topic_a, sizeof(b.topic_a), "mqtt-ceiling/%ld/a", pid);
	snprintf(b.topic_b, sizeof(b.topic_b), "mqtt-ceiling/%ld/b", pid);
	b.payload = malloc(b.size);
	if (!b.payload)
		die("out of memory");
	for (size_t i = 0; i < b.size; i++)
		b.payload[i] = (unsigned char)(i * 131 + 7);

	mosquitto_lib_init();
	b.ctl_fd = -1;
	if (b.mode == MODE_THROUGHPUT) {
		add_peer(&b, &b.a, "pub", NULL, NULL);
		add_peer(&b, &b.b, "sub", b.topic_a, on_message_sub);
		run_throughput(&b);
	} else if (!b.fork_echo) {
		add_peer(&b, &b.a, "pinger", b.topic_b, on_message_pinger);
		add_peer(&b, &b.b, "echo", b.topic_a, on_message_echo);
		run_rtt(&b);
	} else {
		child = fork_echo(&b);
		add_peer(&b, &b.a, "pinger", b.topic_b, on_message_pinger);
		run_rtt(&b);
		close(b.ctl_fd); /* the echo process exits on EOF */
		if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
			WEXITSTATUS(status))
			die("the echo process failed");
	}
	/* exit without DISCONNECT: on_disconnect would treat it as a failure */
	fflush(stdout);
	for (int i = 0; i < b.npeers; i++)
		mosquitto_destroy(b.peers[i]->mosq);
	mosquitto_lib_cleanup();
	free(b.payload);
	return 0;
}
