/* The agent's allowlist: which destinations (CIDR and ports) it may open. */
#include "allow.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* "80", "8000-8100", "80,443,8000-8100" */
static int parse_ports(const char *s, struct allow_rule *r)
{
	while (*s) {
		char *end;
		long lo = strtol(s, &end, 10), hi = lo;
		if (end == s || lo < 1 || lo > 65535)
			return -EINVAL;
		if (*end == '-') {
			s = end + 1;
			hi = strtol(s, &end, 10);
			if (end == s || hi < lo || hi > 65535)
				return -EINVAL;
		}
		if (r->n_ranges == ALLOW_PORT_RANGES || (*end && *end != ','))
			return -EINVAL;
		r->ports[r->n_ranges].lo = (uint16_t)lo;
		r->ports[r->n_ranges].hi = (uint16_t)hi;
		r->n_ranges++;
		s = *end ? end + 1 : end;
		if (*end && !*s)
			return -EINVAL; /* a trailing comma */
	}
	return 0;
}

int allow_parse(const char *s, struct allow_rule *r)
{
	char net[64];
	const char *ports = NULL, *slash = strchr(s, '/');
	size_t len;

	memset(r, 0, sizeof(*r));
	if (s[0] == '[') { /* [IPv6]:PORTS */
		const char *close = strchr(s, ']');
		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		s++;
		len = (size_t)(close - s);
		ports = close[1] ? close + 2 : NULL;
	} else if (slash) { /* CIDR, then maybe :PORTS */
		const char *colon = strchr(slash, ':');
		len = colon ? (size_t)(colon - s) : strlen(s);
		ports = colon ? colon + 1 : NULL;
	} else if (strchr(s, '.') && strchr(s, ':')) { /* IPv4:PORTS */
		const char *colon = strchr(s, ':');
		len = (size_t)(colon - s);
		ports = colon + 1;
	} else {
		len = strlen(s);
	}
	if (len == 0 || len >= sizeof(net))
		return -EINVAL;
	memcpy(net, s, len);
	net[len] = '\0';
	if (nl_prefix_parse(net, &r->net, NULL))
		return -EINVAL;
	if (ports && (!*ports || parse_ports(ports, r)))
		return -EINVAL;
	return 0;
}

static bool rule_match(const struct allow_rule *r, int family, const uint8_t *ip, uint16_t port)
{
	if (r->net.family != family || !nl_prefix_contains(&r->net, ip))
		return false;
	if (r->n_ranges == 0)
		return true;
	for (int i = 0; i < r->n_ranges; i++)
		if (port >= r->ports[i].lo && port <= r->ports[i].hi)
			return true;
	return false;
}

bool allow_match(const struct allow_rule *rules, int n, const struct sockaddr *sa)
{
	const uint8_t *ip;
	uint16_t port;
	int family = sa->sa_family;

	if (family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		ip = (const uint8_t *)&sin->sin_addr;
		port = ntohs(sin->sin_port);
	} else if (family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		ip = (const uint8_t *)&sin6->sin6_addr;
		port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			family = AF_INET;
			ip += 12;
		}
	} else {
		return false;
	}
	for (int i = 0; i < n; i++)
		if (rule_match(&rules[i], family, ip, port))
			return true;
	return false;
}
