/* The gateway's DNS server: fake-ip answers for agents and remote domains, other names forwarded through the default agent. */
#ifndef N4M_GWDNS_H
#define N4M_GWDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GWDNS_PORT 53
#define GWDNS_TTL 10	      /* seconds: fake answers are short-lived */
#define GWDNS_HOLD_MS 120000  /* a fake address is not recycled this long after its last use */
#define GWDNS_PENDING_MAX 256 /* forwarded queries awaiting their answer */
#define GWDNS_FORWARD_TIMEOUT_MS 5000

struct node;
struct tun;
struct tun_addr;
struct tun_pkt;
struct flow;
struct fakeip_entry;
struct gwdns;

/* Parses the DNS options of n's config, fills the fake-ip pool from
 * --fake-ip-cache if there is one, and listens (UDP and TCP) on port 53 of
 * self4 and self6, the TUN's addresses. Writes hijacked answers to tun.
 * 0 or -errno (logged). */
int gwdns_new(struct node *n, struct tun *tun, const struct tun_addr *self4,
	const struct tun_addr *self6, struct gwdns **out);
void gwdns_free(struct gwdns *d);

/* The fake-ip entry owning address a (refreshing it), or NULL. */
const struct fakeip_entry *gwdns_fake(struct gwdns *d, const struct tun_addr *a);
/* Whether a lies in the fake-ip prefixes (--fake-ip-range; 198.19.0.0/16, fdfe:dcba:9876:1::/64). */
bool gwdns_in_pool(const struct gwdns *d, const struct tun_addr *a);

/* --dns-hijack: a UDP query read from the TUN (to any address, port 53),
 * answered with a packet from that address. */
void gwdns_from_tun(struct gwdns *d, const struct tun_pkt *pkt);
/* --dns-hijack: a TCP connection to port 53 accepted through the NAT; takes fd. */
void gwdns_tcp(struct gwdns *d, int fd);

struct evbuffer;
/* Its counters and the pool's use, as Prometheus lines. */
void gwdns_metrics(const struct gwdns *d, struct evbuffer *out);

#endif
