/* Socket addresses as the topic scheme writes them: "ip:port", "[v6]:port", "host:port". */
#include "addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
		return 0;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
		return 0;
	}
	default:
		return -EAFNOSUPPORT;
	}
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int addr_split(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = s;
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		n = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - s);
		if (memchr(s, ':', n)) /* bare IPv6 without brackets is ambiguous */
			return -EINVAL;
	}
	if (n == 0 || n >= hostlen)
		return -EINVAL;
	if (parse_port(colon + 1, port))
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	return 0;
}

int addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[ADDR_HOST_MAX];
	uint16_t port;

	if (addr_split(s, host, sizeof(host), &port))
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (s[0] != '[' && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
		return 0;
	}
	if (s[0] == '[' && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

int addr_valid_hostname(const char *host)
{
	size_t n = strlen(host);

	if (n == 0 || n > 253 || host[0] == '.' || host[0] == '-')
		return 0;
	for (const char *p = host; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return 0;
		if (p[0] == '.' && p[1] == '.')
			return 0;
	}
	return 1;
}

int addr_kxdns_agent(const char *host, const char *domain, char *agent, size_t len)
{
	size_t hlen = strlen(host), dlen = strlen(domain);

	if (dlen == 0 || hlen <= dlen + 1 || host[hlen - dlen - 1] != '.' ||
		strcasecmp(host + hlen - dlen, domain))
		return 0;
	size_t n = strcspn(host, ".");
	if (n == 0 || n >= len)
		return 0;
	memcpy(agent, host, n);
	agent[n] = '\0';
	return 1;
}

bool addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr)[0] == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}
