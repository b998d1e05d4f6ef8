/* The retained status message on PREFIX/AGENT/LOCAL/v/-: online JSON with capabilities, or the last will "{}". */
#ifndef N4M_STATUS_H
#define N4M_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include "netlink/prefix.h"

#define STATUS_WILL "{}"
#define STATUS_MAX_PACKET 65536	   /* what our peers accept in one publish */
#define STATUS_COMPAT_PACKET 10240 /* what a net4mqtt (rumqttc) peer accepts */
#define STATUS_ROUTES_MAX 64	   /* subnets an agent advertises */
#define STATUS_JSON_MAX 8192	   /* the longest status we build or read */
#define STATUS_STREAMS 1	   /* the version of the stream extension we speak (mqtt/frame.h) */

struct status {
	bool online;
	char role[32];
	int max_packet; /* 0: not said, a net4mqtt peer */
	int streams; /* "streams": the version of our stream extension it speaks (tcpx, kcpx); 0: none */
	bool icmp;    /* "icmp": an agent that carries ICMP echo (MQTT_PROTO_ICMP) */
	int n_routes; /* "routes": the subnets an agent reaches (well-formed ones only) */
	struct nl_prefix routes[STATUS_ROUTES_MAX];
	unsigned long long epoch; /* a keyed peer's: when its connection was made (ms); 0: none */
	bool seal;		  /* "seal":1, a keyed peer's: it takes encrypted flows */
	bool verified; /* not in the JSON: its signature checked out with the key we know the peer
			* by (node.c); only such a status orders the ones after it */
};

/* The online status; streams (0: none) becomes "streams", icmp "icmp":1,
 * routes (n_routes of them, may be 0) "routes":[...]. Returns its length or
 * -ENAMETOOLONG. */
int status_build(char *buf, size_t len, const char *role, const char *id, int streams, bool icmp,
	const struct nl_prefix *routes, int n_routes);
/* Parses what a peer published; never fails: unknown payloads are online
 * (liveman treats > 5 bytes as online) without capabilities. */
void status_parse(const void *payload, size_t len, struct status *st);

#endif
