/* The net4mqtt topic scheme: PREFIX/AGENT_ID/LOCAL_ID/LABEL/PROTOCOL/SRC/DST. */
#include "topic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const label_names[] = {
	[MQTT_LABEL_I] = "i",
	[MQTT_LABEL_O] = "o",
	[MQTT_LABEL_V] = "v",
	[MQTT_LABEL_X] = "x",
};

static const char *const proto_names[] = {
	[MQTT_PROTO_NONE] = MQTT_NIL,
	[MQTT_PROTO_TCP] = "tcp",
	[MQTT_PROTO_UDP] = "udp",
	[MQTT_PROTO_KCP] = "kcp",
	[MQTT_PROTO_TCPX] = "tcpx",
	[MQTT_PROTO_KCPX] = "kcpx",
	[MQTT_PROTO_ICMP] = "icmp",
	[MQTT_PROTO_SEAL] = "seal",
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

const char *mqtt_label_name(enum mqtt_label label)
{
	return (unsigned)label < N_ELEMS(label_names) ? label_names[label] : "?";
}

const char *mqtt_proto_name(enum mqtt_proto proto)
{
	return (unsigned)proto < N_ELEMS(proto_names) ? proto_names[proto] : "?";
}

static int lookup(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], s))
			return (int)i;
	return -1;
}

int mqtt_level_valid(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s == '/' || *s == '+' || *s == '#' || (unsigned char)*s < 0x20)
			return 0;
	return 1;
}

const char *mqtt_level_at(const char *key, int i, size_t *len)
{
	for (; i > 0; i--) {
		if (!(key = strchr(key, '/')))
			return NULL;
		key++;
	}
	*len = strcspn(key, "/");
	return key;
}

/* Copies the next level of *p into out; returns 0, -EINVAL if empty or too long. */
static int next_level(const char **p, char *out)
{
	const char *s = *p;
	size_t n = strcspn(s, "/");

	if (n == 0 || n >= MQTT_LEVEL_MAX)
		return -EINVAL;
	memcpy(out, s, n);
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == '+' || out[i] == '#')
			return -EINVAL;
	s += n;
	if (*s == '/') {
		s++;
		if (!*s) /* trailing slash: an empty last level */
			return -EINVAL;
	}
	*p = s;
	return 0;
}

int mqtt_topic_parse(const char *prefix, const char *topic, struct mqtt_topic *t)
{
	size_t plen = strlen(prefix);
	char label[MQTT_LEVEL_MAX], proto[MQTT_LEVEL_MAX];
	char *levels[] = { t->agent, t->local, label, proto, t->src, t->dst };
	const char *p;

	if (strncmp(topic, prefix, plen) || topic[plen] != '/')
		return -ENOENT;
	p = topic + plen + 1;
	for (size_t i = 0; i < N_ELEMS(levels); i++) {
		if (!*p) {
			strcpy(levels[i], MQTT_NIL);
			continue;
		}
		if (next_level(&p, levels[i]))
			return -EINVAL;
	}
	if (*p)
		return -EINVAL; /* more than six levels */
	int l = lookup(label_names, N_ELEMS(label_names), label);
	if (l < 0)
		return -EINVAL;
	t->label = (enum mqtt_label)l;
	t->proto = MQTT_PROTO_NONE;
	if (t->label == MQTT_LABEL_I || t->label == MQTT_LABEL_O) {
		int pr = lookup(proto_names, N_ELEMS(proto_names), proto);
		if (pr <= 0)
			return -EINVAL;
		t->proto = (enum mqtt_proto)pr;
	}
	return 0;
}

int mqtt_topic_build(char *buf, size_t len, const char *prefix, const char *agent,
	const char *local, enum mqtt_label label, enum mqtt_proto proto, const char *src,
	const char *dst)
{
	if (!mqtt_level_valid(agent) || !mqtt_level_valid(local) || !mqtt_level_valid(src) ||
		!mqtt_level_valid(dst))
		return -EINVAL;
	int n = snprintf(buf, len, "%s/%s/%s/%s/%s/%s/%s", prefix, agent, local,
		mqtt_label_name(label), mqtt_proto_name(proto), src, dst);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return n;
}

int mqtt_topic_status(
	char *buf, size_t len, const char *prefix, const char *agent, const char *local)
{
	if (!mqtt_level_valid(agent) || !mqtt_level_valid(local))
		return -EINVAL;
	int n = snprintf(buf, len, "%s/%s/%s/v/%s", prefix, agent, local, MQTT_NIL);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return n;
}
