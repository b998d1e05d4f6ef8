/* libFuzzer target of mqtt/topic: any topic against a reference model; what parses rebuilds. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/topic.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

#define DEFAULT_PREFIX "net4mqtt"
#define N_LEVELS 6

/* A heap string of exactly n + 1 bytes: a read past its NUL is an overflow ASan sees. */
static char *dup_exact(const uint8_t *s, size_t n)
{
	char *d = malloc(n + 1);

	check(d);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static bool in_level(const char *field, size_t size)
{
	return memchr(field, '\0', size) != NULL;
}

/* One level as topic.h has it: non-empty, no '/', '+', '#' or control
 * characters; and, to parse, shorter than MQTT_LEVEL_MAX. */
static bool level_chars_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == '/' || s[i] == '+' || s[i] == '#')
			return false;
	return true;
}

static bool level_ok(const char *s, size_t n)
{
	return n < MQTT_LEVEL_MAX && level_chars_ok(s, n);
}

static bool level_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && !memcmp(s, name, n);
}

/* The levels after the prefix, split at '/': start and length of each, up to
 * N_LEVELS + 1 of them (one more says "too many"). */
struct split {
	const char *at[N_LEVELS + 1];
	size_t len[N_LEVELS + 1];
	int n;
};

static void split_levels(const char *s, struct split *sp)
{
	sp->n = 0;
	if (!*s)
		return;
	for (;;) {
		size_t n = strcspn(s, "/");

		sp->at[sp->n] = s;
		sp->len[sp->n] = n;
		sp->n++;
		if (!s[n] || sp->n == N_LEVELS + 1)
			return;
		s += n + 1;
	}
}

/* Does the reference model accept the levels? Sets the expected label and protocol. */
static bool model_accepts(const struct split *sp, enum mqtt_label *label, enum mqtt_proto *proto)
{
	static const char *const labels[] = { "i", "o", "v", "x" };
	static const char *const protos[] = { "tcp", "udp", "kcp", "tcpx", "kcpx", "icmp", "seal" };
	int l = -1;

	if (sp->n < 3 || sp->n > N_LEVELS)
		return false;
	for (int i = 0; i < sp->n; i++)
		if (!level_ok(sp->at[i], sp->len[i]))
			return false;
	for (int i = 0; i < 4; i++)
		if (level_is(sp->at[2], sp->len[2], labels[i]))
			l = i;
	if (l < 0)
		return false;
	*label = (enum mqtt_label)l;
	*proto = MQTT_PROTO_NONE;
	if (*label == MQTT_LABEL_V || *label == MQTT_LABEL_X)
		return true;
	if (sp->n < 4)
		return false;
	for (int i = 0; i < (int)(sizeof(protos) / sizeof(protos[0])); i++)
		if (level_is(sp->at[3], sp->len[3], protos[i]))
			*proto = (enum mqtt_proto)(MQTT_PROTO_TCP + i);
	return *proto != MQTT_PROTO_NONE;
}

static bool under_prefix(const char *prefix, const char *topic)
{
	size_t plen = strlen(prefix);

	return !strncmp(topic, prefix, plen) && topic[plen] == '/';
}

static void check_same(const struct mqtt_topic *a, const struct mqtt_topic *b)
{
	check(!strcmp(a->agent, b->agent) && !strcmp(a->local, b->local));
	check(!strcmp(a->src, b->src) && !strcmp(a->dst, b->dst));
	check(a->label == b->label && a->proto == b->proto);
}

/* Builds into a buffer of exactly `size` bytes; returns the buffer (or NULL on error) and the
 * result. */
static char *build_exact(size_t size, const char *prefix, const struct mqtt_topic *t, int *ret)
{
	char *buf = malloc(size ? size : 1);

	check(buf);
	*ret = mqtt_topic_build(
		buf, size, prefix, t->agent, t->local, t->label, t->proto, t->src, t->dst);
	return buf;
}

/* The topic rebuilt from t: the same levels, "-" where the topic had none, and
 * the protocol level normalised to "-" on v and x topics. */
static void check_rebuild(
	const char *prefix, const char *topic, const struct split *sp, const struct mqtt_topic *t)
{
	size_t plen = strlen(prefix), size = plen + N_LEVELS * (MQTT_LEVEL_MAX + 1) + 1;
	struct mqtt_topic again;
	struct split rsp;
	int n, n2;
	char *buf = build_exact(size, prefix, t, &n), *small;

	check(n > 0 && (size_t)n == strlen(buf) && (size_t)n < size);
	check(!strncmp(buf, topic, plen) && buf[plen] == '/');
	split_levels(buf + plen + 1, &rsp);
	check(rsp.n == N_LEVELS);
	for (int i = 0; i < N_LEVELS; i++) {
		bool nil = i >= sp->n ||
			   (i == 3 && (t->label == MQTT_LABEL_V || t->label == MQTT_LABEL_X));

		if (nil)
			check(level_is(rsp.at[i], rsp.len[i], MQTT_NIL));
		else
			check(rsp.len[i] == sp->len[i] &&
				!memcmp(rsp.at[i], sp->at[i], sp->len[i]));
	}
	check(mqtt_topic_parse(prefix, buf, &again) == 0);
	check_same(t, &again);

	/* exactly big enough, and one byte short */
	free(build_exact((size_t)n + 1, prefix, t, &n2));
	check(n2 == n);
	small = build_exact((size_t)n, prefix, t, &n2);
	check(n2 == -ENAMETOOLONG);
	free(small);
	free(buf);
}

static void check_status(const char *prefix, const struct mqtt_topic *t)
{
	size_t size = strlen(prefix) + 2 * MQTT_LEVEL_MAX + 8;
	char *buf = malloc(size);
	struct mqtt_topic st;
	int n = mqtt_topic_status(buf, size, prefix, t->agent, t->local);

	check(buf && n > 0 && (size_t)n == strlen(buf));
	check(mqtt_topic_parse(prefix, buf, &st) == 0);
	check(st.label == MQTT_LABEL_V && st.proto == MQTT_PROTO_NONE);
	check(!strcmp(st.agent, t->agent) && !strcmp(st.local, t->local));
	check(!strcmp(st.src, MQTT_NIL) && !strcmp(st.dst, MQTT_NIL));
	free(buf);
}

static void check_parsed(const struct mqtt_topic *t, enum mqtt_label label, enum mqtt_proto proto)
{
	const char *const fields[] = { t->agent, t->local, t->src, t->dst };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		check(in_level(fields[i], MQTT_LEVEL_MAX));
		check(mqtt_level_valid(fields[i]));
		check(!strpbrk(fields[i], "/+#"));
	}
	check(t->label == label && t->proto == proto);
	check(strcmp(mqtt_label_name(t->label), "?") && strcmp(mqtt_proto_name(t->proto), "?"));
}

/* Any string as one level of a built topic: refused iff it is not a valid
 * level (mqtt_topic_build has no length limit of its own). */
static void check_level(const char *prefix, const char *s)
{
	bool valid = level_chars_ok(s, strlen(s));
	size_t size = strlen(prefix) + strlen(s) + 32;
	char *buf = malloc(size);
	int n;

	check(buf);
	check(!!mqtt_level_valid(s) == valid);
	n = mqtt_topic_build(buf, size, prefix, "a", "l", MQTT_LABEL_O, MQTT_PROTO_UDP, s, "-");
	check(valid ? n > 0 && (size_t)n == strlen(buf) : n == -EINVAL);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* "PREFIX\0TOPIC", or a whole TOPIC under the default prefix */
	const uint8_t *nul = memchr(data, '\0', size);
	char *prefix, *topic;
	struct mqtt_topic *t = malloc(sizeof(*t));
	enum mqtt_label label;
	enum mqtt_proto proto;
	struct split sp = { .n = 0 };
	bool accept = false;
	int err;

	check(t);
	if (nul) {
		size_t plen = (size_t)(nul - data), rest = size - plen - 1;
		const uint8_t *end = memchr(nul + 1, '\0', rest);

		prefix = dup_exact(data, plen);
		topic = dup_exact(nul + 1, end ? (size_t)(end - nul - 1) : rest);
	} else {
		prefix = dup_exact((const uint8_t *)DEFAULT_PREFIX, strlen(DEFAULT_PREFIX));
		topic = dup_exact(data, size);
	}
	memset(t, 0xa5, sizeof(*t));
	err = mqtt_topic_parse(prefix, topic, t);
	if (under_prefix(prefix, topic)) {
		split_levels(topic + strlen(prefix) + 1, &sp);
		accept = model_accepts(&sp, &label, &proto);
		check(accept ? err == 0 : err == -EINVAL);
	} else {
		check(err == -ENOENT);
	}
	if (accept) {
		check_parsed(t, label, proto);
		check_rebuild(prefix, topic, &sp, t);
		check_status(prefix, t);
	}
	check_level(prefix, topic);
	free(t);
	free(topic);
	free(prefix);
	return 0;
}
