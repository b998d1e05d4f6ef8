/* DNS messages (RFC 1035): parsing a query, building its answer or an error reply. */
#ifndef N4M_DNS_H
#define N4M_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12    /* RFC 1035, 4.1.1 */
#define DNS_NAME_MAX 255     /* RFC 1035, 2.3.4: on the wire, length octets included */
#define DNS_LABEL_MAX 63     /* RFC 1035, 2.3.4 */
#define DNS_NAME_STRLEN 1024 /* presentation form incl. \DDD escapes, plus NUL */
#define DNS_UDP_MAX 512	     /* RFC 1035, 2.3.4: without EDNS */

/* RFC 1035, 4.1.1: the bits of the header's second 16 */
enum dns_flag {
	DNS_FLAG_QR = 0x8000,
	DNS_FLAG_OPCODE = 0x7800, /* a 4-bit field, see DNS_OPCODE() */
	DNS_FLAG_AA = 0x0400,
	DNS_FLAG_TC = 0x0200,
	DNS_FLAG_RD = 0x0100,
	DNS_FLAG_RA = 0x0080,
	DNS_FLAG_RCODE = 0x000f, /* a 4-bit field, enum dns_rcode */
};

#define DNS_OPCODE(flags) (((flags)&DNS_FLAG_OPCODE) >> 11)

enum dns_opcode { /* RFC 1035, 4.1.1 */
	DNS_OPCODE_QUERY = 0,
	DNS_OPCODE_IQUERY = 1, /* obsolete, RFC 3425 */
	DNS_OPCODE_STATUS = 2,
};

enum dns_type {
	DNS_TYPE_A = 1,	    /* RFC 1035, 3.2.2 */
	DNS_TYPE_CNAME = 5, /* RFC 1035, 3.2.2 */
	DNS_TYPE_AAAA = 28, /* RFC 3596 */
	DNS_TYPE_OPT = 41,  /* RFC 6891 */
	DNS_TYPE_ANY = 255, /* RFC 1035, 3.2.3 */
};

enum dns_class { DNS_CLASS_IN = 1 }; /* RFC 1035, 3.2.4 */

enum dns_rcode { /* RFC 1035, 4.1.1 */
	DNS_RCODE_NOERROR = 0,
	DNS_RCODE_FORMERR = 1,
	DNS_RCODE_SERVFAIL = 2,
	DNS_RCODE_NXDOMAIN = 3,
	DNS_RCODE_NOTIMP = 4,
	DNS_RCODE_REFUSED = 5,
};

struct dns_query {
	uint16_t id;
	uint16_t flags; /* the header's second 16 bits, as received */
	/* Lower case, labels joined by '.', no trailing dot; "" is the root.
	 * A byte that is not [a-z0-9-_] (after lowercasing) inside a label,
	 * '.' included, is written \DDD (RFC 4343, 2.1 presentation form). */
	char name[DNS_NAME_STRLEN];
	uint16_t qtype, qclass;
	uint16_t question_end; /* offset just past the question in the message; 0 if none */
};

/* Parses a standard query with exactly one question. Returns 0; -EBADMSG
 * when the message must be dropped without an answer (shorter than a header,
 * or QR set: a response); -EINVAL when it can be answered with FORMERR
 * (qdcount != 1, a truncated or malformed question, a compression pointer in
 * the question, a label > 63, a name > 255 bytes on the wire); -EOPNOTSUPP
 * when the opcode is not QUERY (answer NOTIMP). id and flags are set whenever
 * the header was readable; on an error question_end is 0. The answer,
 * authority and additional sections are not looked into (an EDNS OPT record
 * there is fine). Never reads past msg + len. */
int dns_parse_query(struct dns_query *q, const uint8_t *msg, size_t len);

/* Builders write a whole message into buf (size bytes) and return its length,
 * or -ENOSPC if it does not fit. buf may be msg: a query can be answered in
 * place. */

/* An answer to q (msg: the query as received; its question is copied
 * verbatim): QR=1, opcode and RD copied, AA=1, RA=1, rcode NOERROR. With
 * addr, one answer record: its name a compression pointer to the question's,
 * type q->qtype (A needs alen 4, AAAA alen 16, anything else is -EINVAL),
 * class IN, the ttl, the address. Without (addr NULL), none: NODATA.
 * -EINVAL too for a q that dns_parse_query did not accept. */
int dns_build_answer(uint8_t *buf, size_t size, const struct dns_query *q, const uint8_t *msg,
	const void *addr, size_t alen, uint32_t ttl);

/* An error reply (rcode) to the message msg/len: id, opcode and RD from its
 * header, QR=1, RA=1; its question copied when q_end (q->question_end, or 0
 * for none) is given and within len, with qdcount 1 then, else 0. Returns the
 * length, -EBADMSG if msg is shorter than a header, -EINVAL for an rcode
 * that does not fit the header's 4 bits (extended ones need EDNS). */
int dns_build_error(uint8_t *buf, size_t size, const uint8_t *msg, size_t len, uint16_t q_end,
	enum dns_rcode rcode);

/* Whether name (presentation form, as in struct dns_query) is suffix or lies
 * under it on a label boundary: "a.example.internal" and "example.internal"
 * are under "example.internal", "badexample.internal" is not. Every name is
 * under the root, "". Case-insensitive; a trailing dot on suffix is ignored. */
bool dns_name_under(const char *name, const char *suffix);

/* The id of a message (its first two bytes), and rewriting it, for a
 * forwarder. The message must hold at least 2 bytes. */
uint16_t dns_get_id(const uint8_t *msg);
void dns_set_id(uint8_t *msg, uint16_t id);

#endif
