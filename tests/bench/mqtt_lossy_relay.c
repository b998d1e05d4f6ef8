// SPDX-License-Identifier: MIT
/* mqtt_lossy_relay: joins two prefixes of one broker through a lossy link, for the kcp tests. */

/*
 * mqtt_lossy_relay -h HOST -p PORT -a PREFIX_A -b PREFIX_B -l LOSS [-s SEED]
 *
 * A local on prefix A and an agent on prefix B talk through this relay:
 *	A/+/+/i/#  and  A/-/+/v/#  (local data, local status)  -> same topic under B
 *	B/+/+/o/#  and  B/+/-/v/#  (agent data, agent status)  -> same topic under A
 * The filters cannot loop: what goes A->B is local traffic (i, or status with
 * agent "-"), what comes back B->A is agent traffic (o, or status with local
 * "-"); the one status topic both shapes share, PREFIX/-/-/v/..., is not
 * relayed, and neither prefix may be a level-prefix of the other.
 *
 * Each non-empty data (i/o) message is dropped with probability LOSS from a
 * seeded PRNG (one stream per direction, so a seed replays the same pattern
 * for the same message sequence). Empty payloads (end of stream) and status
 * messages always go through. Data is republished at QoS 0, not retained;
 * status keeps its QoS and retain flag (MQTT 5 retain-as-published).
 *
 * One connection per direction subscribes to its source and publishes to the
 * destination: one publisher per direction keeps the per-topic order. Each
 * connection runs in its own libmosquitto thread with TCP_NODELAY.
 *
 * Prints "ready" on stdout once both subscriptions are acknowledged. SIGUSR1
 * prints the counters; SIGINT/SIGTERM prints them and exits 0.
 */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#define TOPIC_MAX 1024

struct dir_stats {
	atomic_ullong relayed, relayed_bytes; /* data messages passed on */
	atomic_ullong dropped, dropped_bytes; /* data messages lost on purpose */
	atomic_ullong ends;		      /* empty data payloads (always passed) */
	atomic_ullong status;		      /* status messages (always passed) */
	atomic_ullong failed;		      /* publishes libmosquitto refused */
};

struct dir {
	const char *name; /* "A->B" */
	const char *src;  /* prefix we subscribe under */
	const char *dst;  /* prefix we publish under */
	char data_filter[TOPIC_MAX];
	char status_filter[TOPIC_MAX];
	uint64_t rng; /* splitmix64 state, touched only by this direction's thread */
	struct mosquitto *mosq;
	struct dir_stats st;
};

static double loss;
static atomic_int subacks;

static void die(const char *what, int rc)
{
	fprintf(stderr, "mqtt_lossy_relay: %s: %s\n", what,
		rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	exit(1);
}

static void usage(void)
{
	fputs("usage: mqtt_lossy_relay -h HOST -p PORT -a PREFIX_A -b PREFIX_B -l LOSS [-s SEED]\n"
	      "  LOSS: probability (0..1) of dropping each non-empty i/o message\n",
		stderr);
	exit(2);
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) / (double)(1ull << 53);
}

/* The label (third level after the prefix) of a topic under prefix, or 0. */
static char topic_label(const char *topic, const char *prefix)
{
	size_t plen = strlen(prefix);
	const char *p = topic + plen;

	if (strncmp(topic, prefix, plen) || *p != '/')
		return 0;
	for (int level = 0; level < 2; level++) {
		p = strchr(p + 1, '/');
		if (!p)
			return 0;
	}
	p++;
	return (p[0] && (p[1] == '/' || p[1] == '\0')) ? p[0] : 0;
}

static void on_connect(struct mosquitto *mosq, void *arg, int rc)
{
	struct dir *d = arg;
	char *subs[2] = { d->data_filter, d->status_filter };

	if (rc) {
		fprintf(stderr, "mqtt_lossy_relay: %s: connect refused: %s\n", d->name,
			mosquitto_connack_string(rc));
		return;
	}
	/* QoS 1 lets status keep its QoS; data arrives at its own QoS 0 anyway */
	rc = mosquitto_subscribe_multiple(
		mosq, NULL, 2, subs, 1, MQTT_SUB_OPT_RETAIN_AS_PUBLISHED, NULL);
	if (rc)
		fprintf(stderr, "mqtt_lossy_relay: %s: subscribe: %s\n", d->name,
			mosquitto_strerror(rc));
}

static void on_subscribe(struct mosquitto *mosq, void *arg, int mid, int n, const int *granted)
{
	struct dir *d = arg;
	(void)mosq, (void)mid;

	for (int i = 0; i < n; i++) {
		if (granted[i] > 2) {
			fprintf(stderr, "mqtt_lossy_relay: %s: subscription refused (%d)\n",
				d->name, granted[i]);
			return;
		}
	}
	if (atomic_fetch_add(&subacks, 1) == 1) {
		printf("ready\n");
		fflush(stdout);
	}
}

static void on_disconnect(struct mosquitto *mosq, void *arg, int rc)
{
	struct dir *d = arg;
	(void)mosq;

	if (rc)
		fprintf(stderr, "mqtt_lossy_relay: %s: disconnected (%s), reconnecting\n", d->name,
			mosquitto_strerror(rc));
}

static void relay(struct dir *d, const struct mosquitto_message *m)
{
	char topic[TOPIC_MAX];
	char label = topic_label(m->topic, d->src);
	bool data = label == 'i' || label == 'o';
	int qos = data ? 0 : m->qos;
	bool retain = data ? false : m->retain;

	if (!label)
		return;
	if (label == 'v' && !strncmp(m->topic + strlen(d->src), "/-/-/", 5))
		return; /* matches both directions' status filters: would loop */
	if (snprintf(topic, sizeof(topic), "%s%s", d->dst, m->topic + strlen(d->src)) >=
		(int)sizeof(topic))
		return;
	if (data && m->payloadlen > 0 && loss > 0 && rng_unit(&d->rng) < loss) {
		atomic_fetch_add_explicit(&d->st.dropped, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&d->st.dropped_bytes, (unsigned long long)m->payloadlen,
			memory_order_relaxed);
		return;
	}
	if (mosquitto_publish(d->mosq, NULL, topic, m->payloadlen, m->payload, qos, retain)) {
		atomic_fetch_add_explicit(&d->st.failed, 1, memory_order_relaxed);
		return;
	}
	if (!data)
		atomic_fetch_add_explicit(&d->st.status, 1, memory_order_relaxed);
	else if (m->payloadlen == 0)
		atomic_fetch_add_explicit(&d->st.ends, 1, memory_order_relaxed);
	else {
		atomic_fetch_add_explicit(&d->st.relayed, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&d->st.relayed_bytes, (unsigned long long)m->payloadlen,
			memory_order_relaxed);
	}
}

static void on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m)
{
	(void)mosq;
	relay(arg, m);
}

static void dir_init(struct dir *d, const char *name, const char *src, const char *dst,
	const char *data_fmt, const char *status_fmt, uint64_t seed)
{
	d->name = name;
	d->src = src;
	d->dst = dst;
	d->rng = seed;
	if (snprintf(d->data_filter, TOPIC_MAX, data_fmt, src) >= TOPIC_MAX ||
		snprintf(d->status_filter, TOPIC_MAX, status_fmt, src) >= TOPIC_MAX)
		usage();
}

static void dir_start(struct dir *d, const char *host, int port)
{
	int rc;

	d->mosq = mosquitto_new(NULL, true, d);
	if (!d->mosq)
		die("mosquitto_new", MOSQ_ERR_ERRNO);
	mosquitto_int_option(d->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(d->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(d->mosq, on_connect);
	mosquitto_subscribe_callback_set(d->mosq, on_subscribe);
	mosquitto_disconnect_callback_set(d->mosq, on_disconnect);
	mosquitto_message_callback_set(d->mosq, on_message);
	mosquitto_reconnect_delay_set(d->mosq, 1, 5, false);
	rc = mosquitto_connect(d->mosq, host, port, 30);
	if (rc)
		die("connect", rc);
	rc = mosquitto_loop_start(d->mosq);
	if (rc)
		die("loop_start", rc);
}

static void dir_print(struct dir *d)
{
	struct dir_stats *s = &d->st;

	printf("%s: relayed %llu msgs %llu bytes, dropped %llu msgs %llu bytes, ends %llu, "
	       "status %llu, failed %llu\n",
		d->name, atomic_load(&s->relayed), atomic_load(&s->relayed_bytes),
		atomic_load(&s->dropped), atomic_load(&s->dropped_bytes), atomic_load(&s->ends),
		atomic_load(&s->status), atomic_load(&s->failed));
	fflush(stdout);
}

/* Is prefix b equal to a or under it (a level-prefix)? Such prefixes could loop. */
static bool nested(const char *a, const char *b)
{
	size_t n = strlen(a);

	return !strncmp(a, b, n) && (b[n] == '\0' || b[n] == '/');
}

int main(int argc, char **argv)
{
	static struct dir ab, ba;
	const char *host = NULL, *pa = NULL, *pb = NULL;
	int port = 1883, opt, sig;
	uint64_t seed = 1;
	char *end;
	sigset_t sigs;

	while ((opt = getopt(argc, argv, "h:p:a:b:l:s:")) != -1) {
		switch (opt) {
		case 'h':
			host = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'a':
			pa = optarg;
			break;
		case 'b':
			pb = optarg;
			break;
		case 'l':
			loss = strtod(optarg, &end);
			if (*end || !(loss >= 0 && loss <= 1))
				usage();
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (!host || !pa || !pb || port <= 0 || optind != argc || nested(pa, pb) || nested(pb, pa))
		usage();

	/* every thread inherits the mask; only sigwait() below sees these */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	mosquitto_lib_init();
	dir_init(&ab, "A->B", pa, pb, "%s/+/+/i/#", "%s/-/+/v/#", seed);
	dir_init(&ba, "B->A", pb, pa, "%s/+/+/o/#", "%s/+/-/v/#", seed ^ 0x5bd1e9955bd1e995ull);
	dir_start(&ab, host, port);
	dir_start(&ba, host, port);

	for (;;) {
		if (sigwait(&sigs, &sig))
			continue;
		dir_print(&ab);
		dir_print(&ba);
		if (sig != SIGUSR1)
			break;
	}
	mosquitto_disconnect(ab.mosq);
	mosquitto_disconnect(ba.mosq);
	mosquitto_loop_stop(ab.mosq, false);
	mosquitto_loop_stop(ba.mosq, false);
	mosquitto_destroy(ab.mosq);
	mosquitto_destroy(ba.mosq);
	mosquitto_lib_cleanup();
	return 0;
}
