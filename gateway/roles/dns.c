/* DNS messages (RFC 1035): parsing a query, building its answer or an error reply. */
#include "dns.h"

#include <errno.h>
#include <string.h>

/* RFC 1035, 4.1.1: id, flags, then the four section counts */
#define DNS_OFF_QDCOUNT 4
#define DNS_OFF_ANCOUNT 6
#define DNS_OFF_NSCOUNT 8
#define DNS_OFF_ARCOUNT 10

/* RFC 1035, 4.1.2: the smallest question, the root name and QTYPE, QCLASS */
#define DNS_QUESTION_MIN 5

/* RFC 1035, 4.1.4: a length octet with both top bits set starts a pointer;
 * 01 and 10 are other label types (RFC 6891, 5), which we don't know. */
#define DNS_LABEL_TYPE 0xc0
#define DNS_PTR_QUESTION 0xc00c /* a pointer to offset 12, the question's name */

/* RFC 1035, 4.1.3: name (the pointer), TYPE, CLASS, TTL, RDLENGTH */
#define DNS_RR_FIXED 12

/* Presentation: at most DNS_NAME_MAX - 2 bytes and dots, each at most "\DDD". */
_Static_assert(DNS_NAME_STRLEN >= 4 * (DNS_NAME_MAX - 2) + 1, "DNS_NAME_STRLEN too short");

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* Only ASCII letters fold (RFC 4343, 3). */
static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Writes one label byte in presentation form; returns how many chars. */
static size_t put_byte(char *out, uint8_t b)
{
	char c = lower((char)b);

	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
		out[0] = c;
		return 1;
	}
	out[0] = '\\';
	out[1] = (char)('0' + b / 100);
	out[2] = (char)('0' + b / 10 % 10);
	out[3] = (char)('0' + b % 10);
	return 4;
}

/* Reads the uncompressed name at *off into out (presentation form) and moves
 * *off past it; -EINVAL if it is truncated, compressed or too long. */
static int read_name(char *out, const uint8_t *msg, size_t len, size_t *off)
{
	size_t pos = *off, wire = 0, n = 0;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -EINVAL;
		l = msg[pos++];
		if (l & DNS_LABEL_TYPE)
			return -EINVAL;
		wire += 1 + (size_t)l;
		if (wire > DNS_NAME_MAX)
			return -EINVAL;
		if (!l)
			break;
		if (len - pos < l)
			return -EINVAL;
		if (n)
			out[n++] = '.';
		for (size_t i = 0; i < l; i++)
			n += put_byte(out + n, msg[pos + i]);
		pos += l;
	}
	out[n] = '\0';
	*off = pos;
	return 0;
}

static int parse_question(struct dns_query *q, const uint8_t *msg, size_t len)
{
	size_t off = DNS_HEADER_LEN;
	int err;

	if (rd16(msg + DNS_OFF_QDCOUNT) != 1)
		return -EINVAL;
	err = read_name(q->name, msg, len, &off);
	if (err)
		return err;
	if (len - off < 4)
		return -EINVAL;
	q->qtype = rd16(msg + off);
	q->qclass = rd16(msg + off + 2);
	/* At most 12 + 255 + 4: the offset fits its 16 bits. */
	q->question_end = (uint16_t)(off + 4);
	return 0;
}

static void reset_question(struct dns_query *q)
{
	q->name[0] = '\0';
	q->qtype = q->qclass = q->question_end = 0;
}

int dns_parse_query(struct dns_query *q, const uint8_t *msg, size_t len)
{
	int err;

	q->id = q->flags = 0;
	reset_question(q);
	if (len < DNS_HEADER_LEN)
		return -EBADMSG;
	q->id = rd16(msg);
	q->flags = rd16(msg + 2);
	/* Answering a response could start a loop between two servers. */
	if (q->flags & DNS_FLAG_QR)
		return -EBADMSG;
	if (DNS_OPCODE(q->flags) != DNS_OPCODE_QUERY)
		return -EOPNOTSUPP;
	err = parse_question(q, msg, len);
	if (err)
		reset_question(q);
	return err;
}

/* The header of a reply: the query's opcode and RD (RFC 1035, 4.1.1) kept. */
static void put_header(uint8_t *buf, uint16_t id, uint16_t qflags, uint16_t flags, uint16_t qdcount,
	uint16_t ancount)
{
	wr16(buf, id);
	wr16(buf + 2, (uint16_t)(DNS_FLAG_QR | (qflags & (DNS_FLAG_OPCODE | DNS_FLAG_RD)) | flags));
	wr16(buf + DNS_OFF_QDCOUNT, qdcount);
	wr16(buf + DNS_OFF_ANCOUNT, ancount);
	wr16(buf + DNS_OFF_NSCOUNT, 0);
	wr16(buf + DNS_OFF_ARCOUNT, 0);
}

static int answer_alen(uint16_t qtype, size_t alen)
{
	if (qtype == DNS_TYPE_A && alen == 4)
		return 0;
	if (qtype == DNS_TYPE_AAAA && alen == 16)
		return 0;
	return -EINVAL;
}

int dns_build_answer(uint8_t *buf, size_t size, const struct dns_query *q, const uint8_t *msg,
	const void *addr, size_t alen, uint32_t ttl)
{
	size_t qend = q->question_end, need = qend;
	uint8_t *rr;

	if (qend < DNS_HEADER_LEN + DNS_QUESTION_MIN)
		return -EINVAL;
	if (addr) {
		if (answer_alen(q->qtype, alen))
			return -EINVAL;
		need += DNS_RR_FIXED + alen;
	}
	if (size < need)
		return -ENOSPC;
	/* The question first: buf may be msg, whose header we overwrite. */
	memmove(buf + DNS_HEADER_LEN, msg + DNS_HEADER_LEN, qend - DNS_HEADER_LEN);
	put_header(buf, q->id, q->flags, DNS_FLAG_AA | DNS_FLAG_RA | DNS_RCODE_NOERROR, 1,
		addr ? 1 : 0);
	if (!addr)
		return (int)need;
	rr = buf + qend;
	wr16(rr, DNS_PTR_QUESTION);
	wr16(rr + 2, q->qtype);
	wr16(rr + 4, DNS_CLASS_IN);
	wr32(rr + 6, ttl);
	wr16(rr + 10, (uint16_t)alen);
	memcpy(rr + DNS_RR_FIXED, addr, alen);
	return (int)need;
}

int dns_build_error(uint8_t *buf, size_t size, const uint8_t *msg, size_t len, uint16_t q_end,
	enum dns_rcode rcode)
{
	bool question = q_end >= DNS_HEADER_LEN + DNS_QUESTION_MIN && q_end <= len;
	size_t need = question ? q_end : DNS_HEADER_LEN;
	uint16_t id, flags;

	if (len < DNS_HEADER_LEN)
		return -EBADMSG;
	if ((unsigned int)rcode > DNS_FLAG_RCODE)
		return -EINVAL;
	if (size < need)
		return -ENOSPC;
	id = rd16(msg);
	flags = rd16(msg + 2);
	if (question)
		memmove(buf + DNS_HEADER_LEN, msg + DNS_HEADER_LEN, need - DNS_HEADER_LEN);
	put_header(buf, id, flags, (uint16_t)(DNS_FLAG_RA | rcode), question ? 1 : 0, 0);
	return (int)need;
}

bool dns_name_under(const char *name, const char *suffix)
{
	size_t nlen = strlen(name), slen = strlen(suffix);
	const char *tail;

	if (slen && suffix[slen - 1] == '.')
		slen--;
	if (!slen)
		return true;
	if (nlen < slen)
		return false;
	tail = name + nlen - slen;
	for (size_t i = 0; i < slen; i++)
		if (lower(tail[i]) != lower(suffix[i]))
			return false;
	/* A literal '.' in a label is \046, so every '.' here is a boundary. */
	return tail == name || tail[-1] == '.';
}

uint16_t dns_get_id(const uint8_t *msg)
{
	return rd16(msg);
}

void dns_set_id(uint8_t *msg, uint16_t id)
{
	wr16(msg, id);
}
