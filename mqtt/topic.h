/* The net4mqtt topic scheme: PREFIX/AGENT_ID/LOCAL_ID/LABEL/PROTOCOL/SRC/DST. */
#ifndef N4M_MQTT_TOPIC_H
#define N4M_MQTT_TOPIC_H

#include <stddef.h>

#define MQTT_NIL "-"
#define MQTT_LEVEL_MAX 272 /* "host:port" with a 253-character name, and then some */
#define MQTT_TOPIC_MAX 1536

enum mqtt_label {
	MQTT_LABEL_I, /* local -> agent data */
	MQTT_LABEL_O, /* agent -> local data */
	MQTT_LABEL_V, /* status */
	MQTT_LABEL_X, /* user data */
};

enum mqtt_proto {
	MQTT_PROTO_NONE, /* "-" or anything on v/x topics */
	MQTT_PROTO_TCP,
	MQTT_PROTO_UDP,
	MQTT_PROTO_KCP,
	/* ours, between our own peers: the same streams in frames (mqtt/frame.h) */
	MQTT_PROTO_TCPX,
	MQTT_PROTO_KCPX,
	/* ours: ICMP echo through an agent that says "icmp" in its status */
	MQTT_PROTO_ICMP,
	/* ours: an encrypted flow; its protocol travels inside (docs/protocol.md, "Encrypted
	 * flows"): PREFIX/AGENT/LOCAL/i/seal/FLOW_ID/- */
	MQTT_PROTO_SEAL,
};

/* tcp, kcp, tcpx, kcpx: a byte stream. */
static inline int mqtt_proto_is_stream(enum mqtt_proto p)
{
	return p == MQTT_PROTO_TCP || p == MQTT_PROTO_KCP || p == MQTT_PROTO_TCPX ||
	       p == MQTT_PROTO_KCPX;
}

/* udp, icmp: each payload is one datagram; an empty one is an empty datagram. */
static inline int mqtt_proto_is_dgram(enum mqtt_proto p)
{
	return p == MQTT_PROTO_UDP || p == MQTT_PROTO_ICMP;
}

/* kcp, kcpx: a stream carried in KCP segments. */
static inline int mqtt_proto_is_kcp(enum mqtt_proto p)
{
	return p == MQTT_PROTO_KCP || p == MQTT_PROTO_KCPX;
}

/* tcpx, kcpx: every payload is a frame (mqtt/frame.h). */
static inline int mqtt_proto_is_framed(enum mqtt_proto p)
{
	return p == MQTT_PROTO_TCPX || p == MQTT_PROTO_KCPX;
}

struct mqtt_topic {
	char agent[MQTT_LEVEL_MAX];
	char local[MQTT_LEVEL_MAX];
	enum mqtt_label label;
	enum mqtt_proto proto;
	char src[MQTT_LEVEL_MAX];
	char dst[MQTT_LEVEL_MAX];
};

const char *mqtt_label_name(enum mqtt_label label);
const char *mqtt_proto_name(enum mqtt_proto proto);

/* Parses the six levels after PREFIX; missing trailing levels read as "-".
 * Returns 0; -ENOENT if the topic is not under prefix; -EINVAL for bad input
 * (more levels, empty levels, unknown label, data topic with unknown protocol). */
int mqtt_topic_parse(const char *prefix, const char *topic, struct mqtt_topic *t);

/* Writes the full topic; returns its length, or -ENAMETOOLONG / -EINVAL
 * (a level that is empty or holds '/', '+' or '#'). */
int mqtt_topic_build(char *buf, size_t len, const char *prefix, const char *agent,
	const char *local, enum mqtt_label label, enum mqtt_proto proto, const char *src,
	const char *dst);

/* The status topic of a node: PREFIX/AGENT/LOCAL/v/- */
int mqtt_topic_status(
	char *buf, size_t len, const char *prefix, const char *agent, const char *local);

/* Is s usable as one topic level (non-empty, no '/', '+', '#', no control characters)? */
int mqtt_level_valid(const char *s);

/* Level i (from 0) of a '/'-separated key or topic: its start, and its length in *len; NULL
 * where there are fewer levels. */
const char *mqtt_level_at(const char *key, int i, size_t *len);

#endif
