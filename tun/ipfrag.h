/* The header fields of IP fragmentation, for packet.c (which splits) and frag.c (which joins). */
#ifndef N4M_TUN_IPFRAG_H
#define N4M_TUN_IPFRAG_H

#define IPV4_DF 0x4000	   /* RFC 791, 3.1: don't fragment */
#define IPV4_MF 0x2000	   /* more fragments */
#define IPV4_OFFSET 0x1fff /* fragment offset, in 8-byte units */
#define IPV6_FRAG_M 0x0001 /* RFC 8200, 4.5: more fragments */
#define IPV6_OFFSET 0xfff8 /* fragment offset, already times 8 */
#define IPV6_FRAG_HLEN 8
#define IPV6_EXT_UNIT 8 /* RFC 8200, 4.3: Hdr Ext Len is in 8-octet units */

#endif
