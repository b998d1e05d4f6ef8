/* ICMP echo from the agent's own network: an unprivileged ICMP datagram socket where
 * net.ipv4.ping_group_range allows it, a raw socket (CAP_NET_RAW) otherwise. */
#include "ping.h"

#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <linux/icmp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IPV4_HLEN_MIN 20

static uint8_t echo_request(int family)
{
	return family == AF_INET6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
}

static uint8_t echo_reply(int family)
{
	return family == AF_INET6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY;
}

/* A raw socket hears every ICMP message of its family: only echo replies get through. */
static int raw_filter(int fd, int family)
{
	if (family == AF_INET6) {
		struct icmp6_filter f;
		ICMP6_FILTER_SETBLOCKALL(&f);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
		return setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
	}
	struct icmp_filter f = { .data = ~(1u << ICMP_ECHOREPLY) }; /* the types it blocks */
	return setsockopt(fd, SOL_RAW, ICMP_FILTER, &f, sizeof(f));
}

int ping_socket(int family, enum ping_kind *kind)
{
	int proto = family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);

	if (fd >= 0) {
		*kind = PING_DGRAM;
		return fd;
	}
	if (errno != EACCES && errno != EPERM)
		return -errno;
	fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return -errno;
	if (raw_filter(fd, family)) {
		int err = -errno;
		close(fd);
		return err;
	}
	*kind = PING_RAW;
	return fd;
}

enum ping_kind ping_probe(void)
{
	enum ping_kind kind = PING_NONE;
	int fd = ping_socket(AF_INET, &kind);

	if (fd < 0)
		return PING_NONE;
	close(fd);
	return kind;
}

static uint16_t checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

ssize_t ping_request(
	uint8_t *buf, size_t size, int family, uint16_t id, const uint8_t *rest, size_t len)
{
	size_t total = PING_HLEN - 2 + len;

	if (len < 2)
		return -EINVAL;
	if (size < total)
		return -ENOSPC;
	buf[0] = echo_request(family);
	buf[1] = 0;
	buf[2] = buf[3] = 0;
	buf[4] = (uint8_t)(id >> 8);
	buf[5] = (uint8_t)id;
	memmove(buf + PING_HLEN - 2, rest, len);
	if (family != AF_INET6) {
		uint16_t c = checksum(buf, total);
		buf[2] = (uint8_t)(c >> 8);
		buf[3] = (uint8_t)c;
	}
	return (ssize_t)total;
}

ssize_t ping_reply(const uint8_t *buf, size_t len, int family, enum ping_kind kind, uint16_t id)
{
	size_t off = 0;

	if (kind == PING_RAW && family == AF_INET) {
		if (len < IPV4_HLEN_MIN || buf[0] >> 4 != 4 ||
			(size_t)(buf[0] & 0xf) * 4 < IPV4_HLEN_MIN)
			return -1;
		off = (size_t)(buf[0] & 0xf) * 4;
	}
	if (len < off + PING_HLEN || buf[off] != echo_reply(family) || buf[off + 1] != 0)
		return -1;
	if (kind == PING_RAW && (uint16_t)(buf[off + 4] << 8 | buf[off + 5]) != id)
		return -1;
	return (ssize_t)(off + PING_HLEN - 2);
}
