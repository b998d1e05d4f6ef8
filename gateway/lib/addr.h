/* Socket addresses as the topic scheme writes them: "ip:port", "[v6]:port", "host:port". */
#ifndef N4M_ADDR_H
#define N4M_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_STRLEN 64	  /* "[ffff:...:ffff%ifname]:65535" fits */
#define ADDR_HOST_MAX 256 /* a DNS name is at most 253 characters */

/* Writes "ip:port" or "[v6]:port"; returns 0 or -EAFNOSUPPORT. */
int addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* Splits "host:port" or "[v6]:port" into host (without brackets) and port.
 * Returns 0, or -EINVAL for a missing/invalid port or an empty/overlong host. */
int addr_split(const char *s, char *host, size_t hostlen, uint16_t *port);

/* Parses a numeric "ip:port" / "[v6]:port" into ss; -EINVAL if not numeric. */
int addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sslen);

/* Is host a syntactically valid DNS name (letters, digits, '-', '_', '.')? */
int addr_valid_hostname(const char *host);

/* kxdns: if host is "AGENT.DOMAIN" (on a label boundary), copies AGENT's first
 * label, as net4mqtt does, into agent and returns 1; otherwise returns 0. */
int addr_kxdns_agent(const char *host, const char *domain, char *agent, size_t len);

/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104? */
bool addr_is_loopback(const struct sockaddr *sa);

#endif
