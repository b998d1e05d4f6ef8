/* Reassembly of IPv4 and IPv6 fragments: bounded memory, a timeout, overlaps refused. */
#ifndef N4M_TUN_FRAG_H
#define N4M_TUN_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

struct tun_frag_table;

struct tun_frag_limits {
	size_t total_bytes;  /* held by every datagram being reassembled */
	size_t source_bytes; /* held by those of one source address */
	uint32_t timeout_ms; /* from a datagram's first fragment to be seen */
	uint32_t max_size;   /* of the result: IPv4 total length, IPv6 payload length (<= 65535) */
	/* Of one datagram (0: 128; more than 8192 is 8192). The largest datagram
	 * cut for an MTU of 1280 takes 53 (IPv4) or 54 (IPv6); for 576 (IPv4), 119. */
	uint32_t max_frags;
	/* Random bytes, so that senders can't aim at one hash chain: datagrams and
	 * sources are found by a keyed hash (SipHash-2-4). Zero in the default:
	 * the caller fills it (evutil_secure_rng_get_bytes). */
	uint8_t hash_key[16];
};

/* Linux's defaults: net.ipv4.ipfrag_high_thresh, ipfrag_time (30 s); a zero hash key. */
#define TUN_FRAG_LIMITS_DEFAULT                                                                    \
	{                                                                                          \
		.total_bytes = 4u << 20, .source_bytes = 1u << 20, .timeout_ms = 30000,            \
		.max_size = 65535, .max_frags = 128                                                \
	}

struct tun_frag_stats {
	uint64_t reassembled; /* datagrams rebuilt */
	uint64_t timed_out;   /* datagrams dropped incomplete */
	uint64_t overlaps;    /* datagrams dropped for an overlap (RFC 5722) */
	uint64_t over_limit;  /* fragments refused for memory, with their datagram */
	uint64_t too_many;    /* datagrams dropped for a fragment past max_frags */
	uint64_t oversized;   /* datagrams larger than max_size or the caller's buffer */
	uint64_t bad;	      /* malformed or inconsistent fragments, with their datagram */
};

/* NULL if out of memory; max_size above 65535 is taken as 65535. */
struct tun_frag_table *tun_frag_new(const struct tun_frag_limits *l);
void tun_frag_free(struct tun_frag_table *t);

/*
 * Adds one fragment, pkt as tun_parse left it (pkt->frag set; the data it
 * points to is copied). Its datagram and source are found by hash and its
 * place among the datagram's fragments by binary search, so a fragment costs
 * its copy and the timed-out datagrams it drops, however many are held. Datagrams are keyed by family, source, destination,
 * identification and protocol. Returns 0 with *out_len 0 while the datagram is
 * incomplete (or for an exact duplicate, ignored); 0 with the datagram rebuilt
 * in out as one unfragmented packet (IPv4: length, flags and header checksum
 * set; IPv6: payload length set, fragment header removed) once complete; or,
 * counted in the stats:
 *   -EINVAL    malformed: empty, a non-last fragment not a multiple of 8 long,
 *              an end that disagrees with the last fragment's, a first fragment
 *              without the whole header chain (RFC 8200 4.5, RFC 7112: IPv6
 *              extension headers and the upper-layer header; for IPv4 the
 *              upper-layer header, RFC 1858) where TCP needs 20 bytes, UDP, ICMP
 *              and ICMPv6 8; the datagram is dropped
 *   -EBADMSG   overlaps another fragment: the whole datagram is dropped (RFC 5722, 4)
 *   -ENOBUFS   would pass total_bytes or source_bytes (counted in over_limit), or
 *              max_frags (too_many): dropped with its datagram
 *   -EMSGSIZE  the result would pass max_size: the datagram is dropped
 *   -ENOSPC    the result would pass out_size: the datagram is dropped
 * Datagrams older than timeout_ms are dropped here too when the table is full.
 */
int tun_frag_add(struct tun_frag_table *t, const struct tun_pkt *pkt, uint64_t now_ms, uint8_t *out,
	size_t out_size, size_t *out_len);

/* Drops the datagrams whose first fragment came timeout_ms or more before now_ms. */
void tun_frag_expire(struct tun_frag_table *t, uint64_t now_ms);

/* Bytes held (fragments, headers and bookkeeping): by src's datagrams, or all if NULL.
 * O(1). Not counted: the hash tables' slots, at most 2 pointers for each
 * datagram and each source the table has held at once (at least 16 of each),
 * 512 KiB at most with total_bytes 4 MiB, where a datagram takes 168 bytes or more. */
size_t tun_frag_mem(const struct tun_frag_table *t, const struct tun_addr *src);
/* The number of datagrams being reassembled. */
size_t tun_frag_count(const struct tun_frag_table *t);
const struct tun_frag_stats *tun_frag_stats(const struct tun_frag_table *t);

#endif
