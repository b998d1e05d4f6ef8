/* libFuzzer target of gateway/dns: parse any message; answer what parses; check the replies. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/roles/dns.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static const uint8_t addr4[4] = { 198, 18, 0, 1 };
static const uint8_t addr6[16] = { 0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

static bool plain(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* The presentation form back to the wire (out: DNS_NAME_MAX bytes); returns
 * its length, checking each escape and label on the way. */
static size_t encode_name(uint8_t *out, const char *name)
{
	size_t n = 1, lab = 0;

	out[0] = 0;
	if (!*name)
		return 1;
	for (const char *p = name; *p; p++) {
		uint8_t b = (uint8_t)*p;

		check(n < DNS_NAME_MAX);
		if (*p == '.') {
			check(out[lab] > 0 && p[1]); /* no empty label, no trailing dot */
			lab = n++;
			out[lab] = 0;
			continue;
		}
		if (*p == '\\') {
			for (int i = 1; i <= 3; i++)
				check(p[i] >= '0' && p[i] <= '9');
			unsigned int v = (unsigned int)((p[1] - '0') * 100 + (p[2] - '0') * 10 +
							(p[3] - '0'));
			check(v <= 255 && !plain((char)lower((uint8_t)v)));
			b = (uint8_t)v;
			p += 3;
		} else {
			check(plain(*p));
		}
		out[n++] = b;
		check(out[lab] < DNS_LABEL_MAX);
		out[lab]++;
	}
	check(n < DNS_NAME_MAX);
	out[n++] = 0;
	return n;
}

static void check_query(const struct dns_query *q, const uint8_t *msg, size_t len)
{
	uint8_t wire[DNS_NAME_MAX];
	size_t qend = q->question_end, wlen;

	check(qend >= DNS_HEADER_LEN + 5 && qend <= len);
	check(memchr(q->name, '\0', sizeof(q->name)));
	check(rd16(msg + 4) == 1);
	wlen = encode_name(wire, q->name);
	check(DNS_HEADER_LEN + wlen + 4 == qend);
	for (size_t i = 0; i < wlen; i++)
		check(wire[i] == lower(msg[DNS_HEADER_LEN + i]));
	check(q->qtype == rd16(msg + qend - 4));
	check(q->qclass == rd16(msg + qend - 2));
}

/* Builds one answer into a buffer of exactly the size it needs, and checks it
 * field by field; then in place over a copy of the query, and one byte short. */
static void check_answer(
	const struct dns_query *q, const uint8_t *msg, size_t len, const uint8_t *addr, size_t alen)
{
	bool fits = !addr || (q->qtype == DNS_TYPE_A && alen == 4) ||
		    (q->qtype == DNS_TYPE_AAAA && alen == 16);
	size_t qend = q->question_end, need = qend + (addr ? 12 + alen : 0);
	uint8_t *b = malloc(need), *copy = malloc(len);
	int n;

	check(b && copy);
	n = dns_build_answer(b, need, q, msg, addr, alen, 0x01020304);
	if (!fits) {
		check(n == -EINVAL);
		goto out;
	}
	check(n >= 0 && (size_t)n == need);
	check(dns_get_id(b) == q->id);
	check(rd16(b + 2) == (0x8000 | (q->flags & 0x7900) | 0x0480));
	check(rd16(b + 4) == 1 && rd16(b + 6) == (addr ? 1 : 0));
	check(rd16(b + 8) == 0 && rd16(b + 10) == 0);
	check(!memcmp(b + DNS_HEADER_LEN, msg + DNS_HEADER_LEN, qend - DNS_HEADER_LEN));
	if (addr) {
		const uint8_t *rr = b + qend;

		check(rd16(rr) == 0xc00c && rd16(rr + 2) == q->qtype && rd16(rr + 4) == 1);
		check(rd16(rr + 6) == 0x0102 && rd16(rr + 8) == 0x0304 && rd16(rr + 10) == alen);
		check(!memcmp(rr + 12, addr, alen));
	}
	check(dns_build_answer(b, need - 1, q, msg, addr, alen, 1) == -ENOSPC);

	memcpy(copy, msg, len);
	if (len >= need) {
		check(dns_build_answer(copy, len, q, copy, addr, alen, 0x01020304) == n);
		check(!memcmp(copy, b, need));
	}
out:
	free(copy);
	free(b);
}

/* An error reply to any message with a header; q_end from the caller. */
static void check_error(const uint8_t *msg, size_t len, uint16_t q_end, enum dns_rcode rcode)
{
	bool question = q_end >= DNS_HEADER_LEN + 5 && q_end <= len;
	size_t need = question ? q_end : DNS_HEADER_LEN;
	uint8_t *b = malloc(need);
	int n;

	check(b);
	n = dns_build_error(b, need, msg, len, q_end, rcode);
	if (len < DNS_HEADER_LEN) {
		check(n == -EBADMSG);
		goto out;
	}
	check(n >= 0 && (size_t)n == need);
	check(dns_get_id(b) == dns_get_id(msg));
	check(rd16(b + 2) == (0x8000 | (rd16(msg + 2) & 0x7900) | 0x0080 | rcode));
	check(rd16(b + 4) == (question ? 1 : 0));
	check(rd16(b + 6) == 0 && rd16(b + 8) == 0 && rd16(b + 10) == 0);
	check(!memcmp(b + DNS_HEADER_LEN, msg + DNS_HEADER_LEN, need - DNS_HEADER_LEN));
	check(dns_build_error(b, need - 1, msg, len, q_end, rcode) == -ENOSPC);
out:
	free(b);
}

static void check_under(const char *name)
{
	check(dns_name_under(name, name));
	check(dns_name_under(name, ""));
	for (const char *p = strchr(name, '.'); p; p = strchr(p + 1, '.'))
		check(dns_name_under(name, p + 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact copy: a read past the end is a heap overflow ASan sees. */
	uint8_t *msg = malloc(size ? size : 1);
	struct dns_query q;
	int err;

	check(msg);
	memcpy(msg, data, size);
	err = dns_parse_query(&q, msg, size);
	check(!err || err == -EBADMSG || err == -EINVAL || err == -EOPNOTSUPP);
	if (size >= DNS_HEADER_LEN) {
		check(q.id == rd16(msg) && q.flags == rd16(msg + 2));
		check(err != -EBADMSG || (q.flags & 0x8000));
	} else {
		check(err == -EBADMSG);
	}
	if (err) {
		check(q.question_end == 0 && q.name[0] == '\0');
	} else {
		check_query(&q, msg, size);
		check_answer(&q, msg, size, addr4, sizeof(addr4));
		check_answer(&q, msg, size, addr6, sizeof(addr6));
		check_answer(&q, msg, size, NULL, 0);
		check_under(q.name);
	}
	check_error(msg, size, q.question_end, DNS_RCODE_FORMERR);
	/* any q_end at all, as a careless caller might pass */
	if (size >= DNS_HEADER_LEN + 2)
		check_error(msg, size, rd16(msg + DNS_HEADER_LEN), DNS_RCODE_SERVFAIL);
	if (size >= 2) {
		uint16_t id = (uint16_t)~rd16(data);

		dns_set_id(msg, id);
		check(dns_get_id(msg) == id && (size < 3 || !memcmp(msg + 2, data + 2, size - 2)));
	}
	free(msg);
	return 0;
}
