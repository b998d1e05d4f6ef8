/* The gateway's TCP NAT table: (client, destination) 4-tuples to NAT ports and back. */
#ifndef N4M_TUN_NAT_H
#define N4M_TUN_NAT_H

#include <stdint.h>

struct tun_nat;

/* TCP header flags (RFC 9293, 3.1): pass the header's flags byte as it is. */
enum tun_nat_tcp_flag {
	TUN_NAT_FIN = 0x01,
	TUN_NAT_SYN = 0x02,
	TUN_NAT_RST = 0x04,
	TUN_NAT_ACK = 0x10,
};

#define TUN_NAT_NEVER UINT64_MAX /* tun_nat_expire's next_ms when the table is empty */

/* One connection as the client sees it: client C:c to destination D:d. */
struct tun_nat_tuple {
	int family;	 /* AF_INET or AF_INET6 */
	uint8_t src[16]; /* C, network order; IPv4 uses the first 4 bytes */
	uint8_t dst[16]; /* D */
	uint16_t sport;	 /* c, host order */
	uint16_t dport;	 /* d, host order */
};

struct tun_nat_config {
	uint16_t port_min, port_max; /* NAT ports, inclusive; one range for both families */
	uint32_t max_entries;	     /* 0 or more than the range: the size of the range */
	uint32_t syn_timeout_ms;     /* half-open: SYN seen, handshake not complete */
	uint32_t idle_timeout_ms;    /* established, or closed in one direction only */
	uint32_t close_timeout_ms;   /* FIN in both directions, or an RST (TIME_WAIT-like) */
	uint8_t hash_key[16];	     /* random bytes, so clients can't aim at one hash chain */
};

struct tun_nat_stats {
	uint64_t entries; /* in the table now, expired ones not yet removed included */
	uint64_t created;
	uint64_t expired;
	uint64_t refused; /* SYNs refused: no NAT port or entry left */
	uint64_t missed;  /* packets with no entry */
};

/* 10000..60000, 30 s half-open, 2 h idle, 10 s closed, a zero hash key. */
void tun_nat_config_default(struct tun_nat_config *cfg);

/* 0, -EINVAL for a bad config, -ENOMEM. */
int tun_nat_new(struct tun_nat **natp, const struct tun_nat_config *cfg);
void tun_nat_free(struct tun_nat *nat);

/*
 * Times are milliseconds on any monotonic clock; a time earlier than one seen
 * before counts as that one. Every packet refreshes its entry. An entry
 * expires at its last packet plus the timeout of its state; an expired entry
 * is gone even if tun_nat_expire has not run yet. A NAT port is reused only
 * after its entry expired, and free ports are used least recently freed first.
 */

/* A packet from the client: the NAT port its entry maps to. A SYN (without
 * ACK) creates the entry, or a new one if the old one is closed (the old keeps
 * its port for replies until it expires). Returns 0; -ENOENT when a packet
 * other than a SYN has no entry (answer with an RST unless it is one);
 * -ENOSPC when a SYN finds no free port or entry (old entries keep working);
 * -ENOMEM; -EAFNOSUPPORT. */
int tun_nat_forward(struct tun_nat *nat, const struct tun_nat_tuple *t, uint8_t tcp_flags,
	uint64_t now_ms, uint16_t *port);

/* A packet from the listener to NAT port `port`: fills t with the connection
 * it belongs to (the reply goes D:d -> C:c). Returns 0 or -ENOENT (also when
 * the entry is of the other family). */
int tun_nat_reverse(struct tun_nat *nat, int family, uint16_t port, uint8_t tcp_flags,
	uint64_t now_ms, struct tun_nat_tuple *t);

/* Like tun_nat_reverse, for an accepted socket: no packet, no refresh. */
int tun_nat_lookup(const struct tun_nat *nat, int family, uint16_t port, uint64_t now_ms,
	struct tun_nat_tuple *t);

/* Removes up to budget expired entries and returns how many; *next_ms is when
 * to run again: now_ms if expired entries remain, TUN_NAT_NEVER if the table
 * is empty, else the next deadline. */
int tun_nat_expire(struct tun_nat *nat, uint64_t now_ms, unsigned int budget, uint64_t *next_ms);

void tun_nat_stats(const struct tun_nat *nat, struct tun_nat_stats *st);

#endif
