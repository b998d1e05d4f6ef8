/* SipHash-2-4 (Aumasson and Bernstein): a keyed hash for tables whose keys
 * strangers choose (the NAT's tuples, fragments' addresses and ids). */
#ifndef N4M_TUN_SIPHASH_H
#define N4M_TUN_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t tun_siphash(const void *in, size_t len, const uint8_t key[16]);

#endif
