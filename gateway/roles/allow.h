/* The agent's allowlist: which destinations (CIDR and ports) it may open. */
#ifndef N4M_ALLOW_H
#define N4M_ALLOW_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "netlink/prefix.h"

#define ALLOW_PORT_RANGES 8

struct allow_rule {
	struct nl_prefix net;
	int n_ranges; /* 0: every port */
	struct {
		uint16_t lo, hi;
	} ports[ALLOW_PORT_RANGES];
};

/* "10.0.0.0/8", "10.1.2.3", "10.0.0.0/8:80", "10.0.0.0/8:80,443,8000-8100",
 * "fd00::/8", "fd00::/8:443", "[fd00::1]:22". 0 or -EINVAL. */
int allow_parse(const char *s, struct allow_rule *r);
/* Whether sa (AF_INET or AF_INET6; a v4-mapped IPv6 address counts as IPv4)
 * matches one of the n rules. */
bool allow_match(const struct allow_rule *rules, int n, const struct sockaddr *sa);

#endif
