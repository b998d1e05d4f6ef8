/* Unit tests of gateway/dns: parsing queries, building answers and errors, names, random messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/roles/dns.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define MSG(m) m, sizeof(m)

/* ---- messages captured from dig 9.18 (EDNS OPT with a cookie in additional) ---- */

/* dig example.com A: id 0xdbeb, RD and AD */
static const uint8_t dig_a[] = {
	0xdb,
	0xeb,
	0x01,
	0x20,
	0x00,
	0x01,
	0x00,
	0x00,
	0x00,
	0x00,
	0x00,
	0x01,
	0x07,
	'e',
	'x',
	'a',
	'm',
	'p',
	'l',
	'e',
	0x03,
	'c',
	'o',
	'm',
	0x00,
	0x00,
	0x01,
	0x00,
	0x01,
	0x00,
	0x00,
	0x29,
	0x04,
	0xd0,
	0x00,
	0x00,
	0x00,
	0x00,
	0x00,
	0x0c,
	0x00,
	0x0a,
	0x00,
	0x08,
	0x93,
	0x14,
	0x63,
	0x98,
	0x93,
	0x7b,
	0x27,
	0x77,
};
#define DIG_A_QEND 29

/* dig WWW.Example.ORG AAAA: id 0x9761, the name's case as typed */
static const uint8_t dig_aaaa[] = {
	0x97,
	0x61,
	0x01,
	0x20,
	0x00,
	0x01,
	0x00,
	0x00,
	0x00,
	0x00,
	0x00,
	0x01,
	0x03,
	'W',
	'W',
	'W',
	0x07,
	'E',
	'x',
	'a',
	'm',
	'p',
	'l',
	'e',
	0x03,
	'O',
	'R',
	'G',
	0x00,
	0x00,
	0x1c,
	0x00,
	0x01,
	0x00,
	0x00,
	0x29,
	0x04,
	0xd0,
	0x00,
	0x00,
	0x00,
	0x00,
	0x00,
	0x0c,
	0x00,
	0x0a,
	0x00,
	0x08,
	0x6a,
	0xcd,
	0xf6,
	0x8b,
	0x6d,
	0xf1,
	0xbc,
	0x58,
};
#define DIG_AAAA_QEND 33

/* ---- helpers ---- */

/* A heap copy of exactly len bytes, so that ASan sees any read past it. */
static uint8_t *dup_exact(const uint8_t *buf, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, buf, len);
	return p;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void rnd_fill(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rnd();
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* The reference for the presentation form, the other way round: writes the
 * wire form of name (labels, \DDD escapes) to out; returns its length. */
static size_t encode_name(uint8_t *out, const char *name)
{
	size_t n = 0, lab = 0;

	if (!*name) {
		out[0] = 0;
		return 1;
	}
	out[lab] = 0;
	n = 1;
	for (const char *p = name; *p; p++) {
		uint8_t b = (uint8_t)*p;

		if (*p == '.') {
			lab = n++;
			out[lab] = 0;
			continue;
		}
		if (*p == '\\') {
			assert_true(p[1] >= '0' && p[1] <= '2' && p[2] >= '0' && p[2] <= '9' &&
				    p[3] >= '0' && p[3] <= '9');
			b = (uint8_t)((p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0'));
			p += 3;
		}
		out[n++] = b;
		out[lab]++;
	}
	out[n++] = 0;
	return n;
}

/* A query with one question: name in presentation form. Returns its length. */
static size_t make_query(uint8_t *buf, uint16_t id, uint16_t flags, const char *name,
	uint16_t qtype, uint16_t qclass)
{
	size_t n;

	memset(buf, 0, DNS_HEADER_LEN);
	wr16(buf, id);
	wr16(buf + 2, flags);
	wr16(buf + 4, 1);
	n = DNS_HEADER_LEN + encode_name(buf + DNS_HEADER_LEN, name);
	wr16(buf + n, qtype);
	wr16(buf + n + 2, qclass);
	return n + 4;
}

static int parse_exact(struct dns_query *q, const uint8_t *msg, size_t len)
{
	uint8_t *b = dup_exact(msg, len);
	int err = dns_parse_query(q, b, len);

	free(b);
	return err;
}

/* ---- parsing ---- */

static void test_parse_dig_a(void **state)
{
	struct dns_query q;

	(void)state;
	assert_int_equal(parse_exact(&q, MSG(dig_a)), 0);
	assert_int_equal(q.id, 0xdbeb);
	assert_int_equal(q.flags, 0x0120);
	assert_string_equal(q.name, "example.com");
	assert_int_equal(q.qtype, DNS_TYPE_A);
	assert_int_equal(q.qclass, DNS_CLASS_IN);
	assert_int_equal(q.question_end, DIG_A_QEND);
}

/* Also: upper case is lowered. */
static void test_parse_dig_aaaa(void **state)
{
	struct dns_query q;

	(void)state;
	assert_int_equal(parse_exact(&q, MSG(dig_aaaa)), 0);
	assert_int_equal(q.id, 0x9761);
	assert_int_equal(q.flags, 0x0120);
	assert_string_equal(q.name, "www.example.org");
	assert_int_equal(q.qtype, DNS_TYPE_AAAA);
	assert_int_equal(q.qclass, DNS_CLASS_IN);
	assert_int_equal(q.question_end, DIG_AAAA_QEND);
}

/* The additional section is not looked into; the question may end the message. */
static void test_parse_no_edns(void **state)
{
	uint8_t b[DIG_A_QEND];
	struct dns_query q;

	(void)state;
	memcpy(b, dig_a, sizeof(b));
	assert_int_equal(parse_exact(&q, MSG(b)), 0);
	assert_int_equal(q.question_end, DIG_A_QEND);
	/* ... nor the counts of the other sections */
	b[7] = 3;
	b[9] = 0xff;
	b[11] = 2;
	assert_int_equal(parse_exact(&q, MSG(b)), 0);
	assert_string_equal(q.name, "example.com");
}

static void test_parse_root(void **state)
{
	static const uint8_t m[] = {
		0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x01, /* . NS IN */
	};
	struct dns_query q;

	(void)state;
	assert_int_equal(parse_exact(&q, MSG(m)), 0);
	assert_string_equal(q.name, "");
	assert_int_equal(q.qtype, 2);
	assert_int_equal(q.question_end, sizeof(m));
}

static void test_parse_escapes(void **state)
{
	static const uint8_t m[] = {
		0x00,
		0x01,
		0x00,
		0x00,
		0x00,
		0x01,
		0x00,
		0x00,
		0x00,
		0x00,
		0x00,
		0x00,
		0x03,
		'a',
		'.',
		'B', /* a label with a dot */
		0x04,
		0x00,
		'x',
		0xff,
		'Z', /* NUL and 0xff */
		0x05,
		'\\',
		' ',
		'"',
		'-',
		'_', /* backslash, space, quote */
		0x06,
		0x80,
		'A',
		'0',
		'9',
		'@',
		0x7f, /* high byte, edges */
		0x00,
		0x00,
		0x01,
		0x00,
		0x01,
	};
	struct dns_query q;

	(void)state;
	assert_int_equal(parse_exact(&q, MSG(m)), 0);
	assert_string_equal(q.name, "a\\046b.\\000x\\255z.\\092\\032\\034-_.\\128a09\\064\\127");
	assert_int_equal(q.question_end, sizeof(m));
}

/* The longest names: 255 bytes on the wire, all escaped, fit name[]. */
static void test_parse_longest(void **state)
{
	uint8_t m[DNS_HEADER_LEN + DNS_NAME_MAX + 4], wire[DNS_NAME_MAX];
	uint8_t *p = m + DNS_HEADER_LEN;
	struct dns_query q;

	(void)state;
	memset(m, 0, sizeof(m));
	m[5] = 1;
	/* 63 + 63 + 63 + 61, with their length octets and the root: 255 */
	for (size_t i = 0, l; i < 4; i++, p += 1 + l) {
		l = i < 3 ? 63 : 61;
		p[0] = (uint8_t)l;
		memset(p + 1, 0xfe, l);
	}
	*p++ = 0;
	wr16(p, DNS_TYPE_A);
	wr16(p + 2, DNS_CLASS_IN);
	assert_int_equal(parse_exact(&q, MSG(m)), 0);
	assert_int_equal(strlen(q.name), 250 * 4 + 3);
	assert_int_equal(q.question_end, sizeof(m));
	assert_int_equal(encode_name(wire, q.name), DNS_NAME_MAX);
	assert_memory_equal(wire, m + DNS_HEADER_LEN, DNS_NAME_MAX);

	/* 127 one-byte labels: as many labels as fit, the most dots */
	p = m + DNS_HEADER_LEN;
	for (size_t i = 0; i < 127; i++, p += 2) {
		p[0] = 1;
		p[1] = '.';
	}
	*p++ = 0;
	wr16(p, DNS_TYPE_A);
	wr16(p + 2, DNS_CLASS_IN);
	assert_int_equal(parse_exact(&q, MSG(m)), 0);
	assert_int_equal(strlen(q.name), 127 * 4 + 126);
}

struct bad_case {
	const char *name;
	const uint8_t *msg;
	size_t len;
	int err;
};

#define HDR(qd) 0xab, 0xcd, 0x01, 0x00, 0x00, qd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
#define Q_EXAMPLE 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x00, 0x00, 0x01, 0x00, 0x01

static const uint8_t bad_qd0[] = { HDR(0), Q_EXAMPLE };
static const uint8_t bad_qd2[] = { HDR(2), Q_EXAMPLE, Q_EXAMPLE };
static const uint8_t bad_qd0_empty[] = { HDR(0) };
static const uint8_t bad_no_question[] = { HDR(1) };
static const uint8_t bad_name_cut[] = { HDR(1), 0x07, 'e', 'x', 'a', 'm' };
static const uint8_t bad_no_root[] = { HDR(1), 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e' };
static const uint8_t bad_qtype_cut[] = { HDR(1), 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x00,
	0x00 };
static const uint8_t bad_qclass_cut[] = { HDR(1), 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x00,
	0x00, 0x01, 0x00 };
static const uint8_t bad_pointer[] = { HDR(1), 0x01, 'a', 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01 };
static const uint8_t bad_pointer_first[] = { HDR(1), 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01 };
static const uint8_t bad_label_0x80[] = { HDR(1), 0x81, 'a', 0x00, 0x00, 0x01, 0x00, 0x01 };
static const uint8_t bad_ok_qr[] = { 0xab, 0xcd, 0x81, 0x80, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, Q_EXAMPLE };
static const uint8_t bad_qr_status[] = { 0xab, 0xcd, 0x90, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, Q_EXAMPLE };
static const uint8_t bad_short[] = { HDR(1) };
static const uint8_t bad_status[] = { 0xab, 0xcd, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, Q_EXAMPLE };
static const uint8_t bad_iquery[] = { 0xab, 0xcd, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, Q_EXAMPLE };
static const uint8_t bad_update_qd0[] = { 0xab, 0xcd, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00 };

static const struct bad_case bad_cases[] = {
	{ "qdcount 0", MSG(bad_qd0), -EINVAL },
	{ "qdcount 2", MSG(bad_qd2), -EINVAL },
	{ "qdcount 0, header only", MSG(bad_qd0_empty), -EINVAL },
	{ "qdcount 1, header only", MSG(bad_no_question), -EINVAL },
	{ "name cut in a label", MSG(bad_name_cut), -EINVAL },
	{ "name without its root label", MSG(bad_no_root), -EINVAL },
	{ "qtype cut", MSG(bad_qtype_cut), -EINVAL },
	{ "qclass cut", MSG(bad_qclass_cut), -EINVAL },
	{ "pointer after a label", MSG(bad_pointer), -EINVAL },
	{ "pointer as the name", MSG(bad_pointer_first), -EINVAL },
	{ "label type 10", MSG(bad_label_0x80), -EINVAL },
	{ "a response", MSG(bad_ok_qr), -EBADMSG },
	{ "a response, opcode STATUS", MSG(bad_qr_status), -EBADMSG },
	{ "11 bytes", bad_short, DNS_HEADER_LEN - 1, -EBADMSG },
	{ "empty", bad_short, 0, -EBADMSG },
	{ "opcode STATUS", MSG(bad_status), -EOPNOTSUPP },
	{ "opcode IQUERY", MSG(bad_iquery), -EOPNOTSUPP },
	{ "opcode UPDATE, qdcount 0", MSG(bad_update_qd0), -EOPNOTSUPP },
};

static void test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct dns_query q;
		int err;

		memset(&q, 0x5a, sizeof(q));
		err = parse_exact(&q, c->msg, c->len);
		if (err != c->err)
			print_error("\"%s\": %d, not %d\n", c->name, err, c->err);
		assert_int_equal(err, c->err);
		assert_int_equal(q.question_end, 0);
		assert_string_equal(q.name, "");
		/* id and flags whenever there was a header */
		assert_int_equal(q.id, c->len >= DNS_HEADER_LEN ? rd16(c->msg) : 0);
		assert_int_equal(q.flags, c->len >= DNS_HEADER_LEN ? rd16(c->msg + 2) : 0);
	}
}

/* A label of 64 (the length octet reads as type 01, RFC 6891 5), and names
 * just over 255 bytes on the wire. */
static void test_parse_too_long(void **state)
{
	uint8_t m[DNS_HEADER_LEN + 300 + 4];
	char name[DNS_NAME_STRLEN];
	struct dns_query q;
	size_t len;

	(void)state;
	memset(name, 'x', 64);
	name[64] = '\0';
	len = make_query(m, 1, 0, name, DNS_TYPE_A, DNS_CLASS_IN);
	assert_int_equal(m[DNS_HEADER_LEN], 64);
	assert_int_equal(parse_exact(&q, m, len), -EINVAL);
	name[63] = '\0';
	len = make_query(m, 1, 0, name, DNS_TYPE_A, DNS_CLASS_IN);
	assert_int_equal(parse_exact(&q, m, len), 0);
	assert_string_equal(q.name, name);

	/* 4 labels of 63: 4 * 64 + 1 = 257 */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[255] = '\0';
	len = make_query(m, 1, 0, name, DNS_TYPE_A, DNS_CLASS_IN);
	assert_int_equal(len, DNS_HEADER_LEN + 257 + 4);
	assert_int_equal(parse_exact(&q, m, len), -EINVAL);
	/* 3 of 63 and one of 62: 256 */
	name[254] = '\0';
	len = make_query(m, 1, 0, name, DNS_TYPE_A, DNS_CLASS_IN);
	assert_int_equal(len, DNS_HEADER_LEN + 256 + 4);
	assert_int_equal(parse_exact(&q, m, len), -EINVAL);
	/* ... and one of 61: 255, the most */
	name[253] = '\0';
	len = make_query(m, 1, 0, name, DNS_TYPE_A, DNS_CLASS_IN);
	assert_int_equal(parse_exact(&q, m, len), 0);
	assert_string_equal(q.name, name);
}

/* Every cut of a query: a header or less is dropped, a cut question is FORMERR,
 * and once the question is whole, the rest does not matter. */
static void test_parse_truncated(void **state)
{
	static const struct {
		const uint8_t *msg;
		size_t len, qend;
	} cases[] = { { MSG(dig_a), DIG_A_QEND }, { MSG(dig_aaaa), DIG_AAAA_QEND } };

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		for (size_t n = 0; n <= cases[i].len; n++) {
			struct dns_query q;
			int want = n < DNS_HEADER_LEN ? -EBADMSG : n < cases[i].qend ? -EINVAL : 0;

			assert_int_equal(parse_exact(&q, cases[i].msg, n), want);
		}
	}
}

/* ---- building answers ---- */

static const uint8_t addr4[4] = { 198, 18, 0, 5 };
static const uint8_t addr6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };

static const uint8_t want_a[] = {
	0xdb,
	0xeb,
	0x85,
	0x80,
	0x00,
	0x01,
	0x00,
	0x01,
	0x00,
	0x00,
	0x00,
	0x00,
	0x07,
	'e',
	'x',
	'a',
	'm',
	'p',
	'l',
	'e',
	0x03,
	'c',
	'o',
	'm',
	0x00,
	0x00,
	0x01,
	0x00,
	0x01,
	0xc0,
	0x0c,
	0x00,
	0x01,
	0x00,
	0x01,
	0x00,
	0x00,
	0x01,
	0x2c,
	0x00,
	0x04,
	198,
	18,
	0,
	5,
};

/* The question as it came, case and all (RFC 4343, 4.1). */
static const uint8_t want_aaaa[] = {
	0x97,
	0x61,
	0x85,
	0x80,
	0x00,
	0x01,
	0x00,
	0x01,
	0x00,
	0x00,
	0x00,
	0x00,
	0x03,
	'W',
	'W',
	'W',
	0x07,
	'E',
	'x',
	'a',
	'm',
	'p',
	'l',
	'e',
	0x03,
	'O',
	'R',
	'G',
	0x00,
	0x00,
	0x1c,
	0x00,
	0x01,
	0xc0,
	0x0c,
	0x00,
	0x1c,
	0x00,
	0x01,
	0x00,
	0x00,
	0x00,
	0x3c,
	0x00,
	0x10,
	0x20,
	0x01,
	0x0d,
	0xb8,
	0,
	0,
	0,
	0,
	0,
	0,
	0,
	0,
	0,
	0,
	0,
	0x01,
};

static const uint8_t want_nodata[] = {
	0x97,
	0x61,
	0x85,
	0x80,
	0x00,
	0x01,
	0x00,
	0x00,
	0x00,
	0x00,
	0x00,
	0x00,
	0x03,
	'W',
	'W',
	'W',
	0x07,
	'E',
	'x',
	'a',
	'm',
	'p',
	'l',
	'e',
	0x03,
	'O',
	'R',
	'G',
	0x00,
	0x00,
	0x1c,
	0x00,
	0x01,
};

static void check_answer(const uint8_t *query, size_t qlen, const void *addr, size_t alen,
	uint32_t ttl, const uint8_t *want, size_t wlen)
{
	uint8_t buf[DNS_UDP_MAX];
	struct dns_query q;
	uint8_t *b;

	assert_int_equal(parse_exact(&q, query, qlen), 0);
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, query, addr, alen, ttl), wlen);
	assert_memory_equal(buf, want, wlen);
	assert_int_equal(buf[wlen], 0xa5);

	/* exactly the size it needs */
	b = malloc(wlen);
	assert_non_null(b);
	assert_int_equal(dns_build_answer(b, wlen, &q, query, addr, alen, ttl), wlen);
	assert_memory_equal(b, want, wlen);
	free(b);

	/* in place, over the query */
	memcpy(buf, query, qlen);
	assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, buf, addr, alen, ttl), wlen);
	assert_memory_equal(buf, want, wlen);
}

static void test_build_answer_a(void **state)
{
	(void)state;
	check_answer(MSG(dig_a), addr4, sizeof(addr4), 300, MSG(want_a));
}

static void test_build_answer_aaaa(void **state)
{
	(void)state;
	check_answer(MSG(dig_aaaa), addr6, sizeof(addr6), 60, MSG(want_aaaa));
}

static void test_build_nodata(void **state)
{
	(void)state;
	check_answer(MSG(dig_aaaa), NULL, 0, 60, MSG(want_nodata));
	/* the length is not looked at without an address, nor the type */
	check_answer(MSG(dig_aaaa), NULL, 4, 60, MSG(want_nodata));
}

/* The opcode (only QUERY parses) and RD are copied; AD, CD, TC and Z are not. */
static void test_build_answer_flags(void **state)
{
	uint8_t m[sizeof(dig_a)], buf[DNS_UDP_MAX];
	struct dns_query q;

	(void)state;
	memcpy(m, dig_a, sizeof(m));
	wr16(m + 2, 0x027f); /* TC, Z, AD, CD, rcode 15; RD clear */
	assert_int_equal(parse_exact(&q, MSG(m)), 0);
	assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, m, addr4, 4, 1), sizeof(want_a));
	assert_int_equal(rd16(buf + 2), 0x8480);
	assert_int_equal(rd16(buf + 6), 1);
}

static void test_build_answer_nospc(void **state)
{
	static const struct {
		const uint8_t *msg;
		size_t len;
		const void *addr;
		size_t alen, need;
	} cases[] = {
		{ MSG(dig_a), addr4, 4, sizeof(want_a) },
		{ MSG(dig_aaaa), addr6, 16, sizeof(want_aaaa) },
		{ MSG(dig_aaaa), NULL, 0, sizeof(want_nodata) },
	};
	uint8_t buf[DNS_UDP_MAX];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct dns_query q;

		assert_int_equal(parse_exact(&q, cases[i].msg, cases[i].len), 0);
		for (size_t size = 0; size < cases[i].need; size++) {
			uint8_t *b = malloc(size ? size : 1);

			assert_non_null(b);
			memset(buf, 0xa5, sizeof(buf));
			assert_int_equal(dns_build_answer(b, size, &q, cases[i].msg, cases[i].addr,
						 cases[i].alen, 1),
				-ENOSPC);
			/* nothing written */
			assert_int_equal(dns_build_answer(buf, size, &q, cases[i].msg,
						 cases[i].addr, cases[i].alen, 1),
				-ENOSPC);
			for (size_t k = 0; k < sizeof(buf); k++)
				assert_int_equal(buf[k], 0xa5);
			free(b);
		}
	}
}

static void test_build_answer_einval(void **state)
{
	static const uint16_t types[] = { DNS_TYPE_CNAME, DNS_TYPE_ANY, 15 /* MX */, 0, 0xffff };
	uint8_t m[DNS_UDP_MAX], buf[DNS_UDP_MAX];
	struct dns_query q;
	size_t len;

	(void)state;
	assert_int_equal(parse_exact(&q, MSG(dig_a)), 0);
	assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, dig_a, addr6, 16, 1), -EINVAL);
	assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, dig_a, addr4, 0, 1), -EINVAL);
	assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, dig_a, addr4, 5, 1), -EINVAL);
	/* before -ENOSPC */
	assert_int_equal(dns_build_answer(buf, 0, &q, dig_a, addr6, 16, 1), -EINVAL);
	assert_int_equal(parse_exact(&q, MSG(dig_aaaa)), 0);
	assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, dig_aaaa, addr4, 4, 1), -EINVAL);
	assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, dig_aaaa, addr6, 15, 1), -EINVAL);
	for (size_t i = 0; i < N_ELEMS(types); i++) {
		len = make_query(m, 7, 0, "x.example", types[i], DNS_CLASS_IN);
		assert_int_equal(parse_exact(&q, m, len), 0);
		assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, m, addr4, 4, 1), -EINVAL);
		assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, m, addr6, 16, 1), -EINVAL);
		assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, m, NULL, 0, 1), len);
	}
	/* a query that did not parse */
	assert_int_equal(parse_exact(&q, MSG(bad_qd2)), -EINVAL);
	assert_int_equal(dns_build_answer(buf, sizeof(buf), &q, bad_qd2, NULL, 0, 1), -EINVAL);
}

/* ---- building errors ---- */

static void test_build_error(void **state)
{
	uint8_t buf[DNS_UDP_MAX], want[DNS_UDP_MAX];
	struct dns_query q;

	(void)state;
	/* FORMERR, no question: qdcount 2 */
	assert_int_equal(parse_exact(&q, MSG(bad_qd2)), -EINVAL);
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(
		dns_build_error(buf, sizeof(buf), MSG(bad_qd2), q.question_end, DNS_RCODE_FORMERR),
		DNS_HEADER_LEN);
	assert_memory_equal(buf,
		((const uint8_t[]){ 0xab, 0xcd, 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0xa5 }),
		DNS_HEADER_LEN + 1);

	/* NOTIMP: opcode STATUS copied, RD clear */
	assert_int_equal(parse_exact(&q, MSG(bad_status)), -EOPNOTSUPP);
	assert_int_equal(dns_build_error(buf, sizeof(buf), MSG(bad_status), q.question_end,
				 DNS_RCODE_NOTIMP),
		DNS_HEADER_LEN);
	assert_memory_equal(buf,
		((const uint8_t[]){ 0xab, 0xcd, 0x90, 0x84, 0, 0, 0, 0, 0, 0, 0, 0 }),
		DNS_HEADER_LEN);

	/* SERVFAIL with the question: RD copied, AD not, the EDNS record dropped */
	assert_int_equal(parse_exact(&q, MSG(dig_aaaa)), 0);
	memcpy(want, dig_aaaa, DIG_AAAA_QEND);
	memcpy(want, ((const uint8_t[]){ 0x97, 0x61, 0x81, 0x82, 0, 1, 0, 0, 0, 0, 0, 0 }),
		DNS_HEADER_LEN);
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(dns_build_error(buf, sizeof(buf), MSG(dig_aaaa), q.question_end,
				 DNS_RCODE_SERVFAIL),
		DIG_AAAA_QEND);
	assert_memory_equal(buf, want, DIG_AAAA_QEND);
	assert_int_equal(buf[DIG_AAAA_QEND], 0xa5);

	/* NXDOMAIN, REFUSED: only the rcode differs */
	want[3] = 0x83;
	assert_int_equal(dns_build_error(buf, sizeof(buf), MSG(dig_aaaa), q.question_end,
				 DNS_RCODE_NXDOMAIN),
		DIG_AAAA_QEND);
	assert_memory_equal(buf, want, DIG_AAAA_QEND);
	want[3] = 0x85;
	assert_int_equal(
		dns_build_error(buf, sizeof(buf), MSG(dig_aaaa), q.question_end, DNS_RCODE_REFUSED),
		DIG_AAAA_QEND);
	assert_memory_equal(buf, want, DIG_AAAA_QEND);

	/* in place */
	memcpy(buf, dig_aaaa, sizeof(dig_aaaa));
	assert_int_equal(dns_build_error(buf, sizeof(buf), buf, sizeof(dig_aaaa), q.question_end,
				 DNS_RCODE_REFUSED),
		DIG_AAAA_QEND);
	assert_memory_equal(buf, want, DIG_AAAA_QEND);

	/* the same without the question */
	want[5] = 0;
	assert_int_equal(dns_build_error(buf, sizeof(buf), MSG(dig_aaaa), 0, DNS_RCODE_REFUSED),
		DNS_HEADER_LEN);
	assert_memory_equal(buf, want, DNS_HEADER_LEN);
}

static void test_build_error_bad(void **state)
{
	uint8_t buf[DNS_UDP_MAX];

	(void)state;
	/* a question end past the message, or inside the header: no question */
	assert_int_equal(dns_build_error(buf, sizeof(buf), dig_aaaa, DIG_AAAA_QEND - 1,
				 DIG_AAAA_QEND, DNS_RCODE_FORMERR),
		DNS_HEADER_LEN);
	assert_int_equal(rd16(buf + 4), 0);
	assert_int_equal(
		dns_build_error(buf, sizeof(buf), MSG(dig_aaaa), DNS_HEADER_LEN, DNS_RCODE_FORMERR),
		DNS_HEADER_LEN);
	assert_int_equal(rd16(buf + 4), 0);
	assert_int_equal(dns_build_error(buf, sizeof(buf), MSG(dig_aaaa), 5, DNS_RCODE_FORMERR),
		DNS_HEADER_LEN);
	/* the question may end the message */
	assert_int_equal(dns_build_error(buf, sizeof(buf), dig_aaaa, DIG_AAAA_QEND, DIG_AAAA_QEND,
				 DNS_RCODE_FORMERR),
		DIG_AAAA_QEND);
	assert_int_equal(rd16(buf + 4), 1);

	assert_int_equal(
		dns_build_error(buf, sizeof(buf), dig_a, DNS_HEADER_LEN - 1, 0, DNS_RCODE_FORMERR),
		-EBADMSG);
	assert_int_equal(
		dns_build_error(buf, sizeof(buf), MSG(dig_a), 0, (enum dns_rcode)16), -EINVAL);
	for (size_t size = 0; size < DNS_HEADER_LEN; size++)
		assert_int_equal(
			dns_build_error(buf, size, MSG(dig_a), 0, DNS_RCODE_FORMERR), -ENOSPC);
	for (size_t size = 0; size < DIG_A_QEND; size++) {
		uint8_t *b = malloc(size ? size : 1);

		assert_non_null(b);
		assert_int_equal(
			dns_build_error(b, size, MSG(dig_a), DIG_A_QEND, DNS_RCODE_SERVFAIL),
			-ENOSPC);
		free(b);
	}
}

/* ---- names and ids ---- */

static void test_name_under(void **state)
{
	static const struct {
		const char *name, *suffix;
		bool under;
	} cases[] = {
		{ "a.example.internal", "example.internal", true },
		{ "example.internal", "example.internal", true },
		{ "x.y.z.example.internal", "example.internal", true },
		{ "badexample.internal", "example.internal", false },
		{ "example.internal.evil", "example.internal", false },
		{ "internal", "example.internal", false },
		{ "", "example.internal", false },
		{ "a.example.internal", "EXAMPLE.Internal", true },
		{ "a.example.internal", "example.internal.", true },
		{ "a.example.internal", "internal", true },
		{ "a.example.internal", "", true },
		{ "a.example.internal", ".", true },
		{ "", "", true },
		{ "a\\046example.internal", "example.internal", false },
		{ "a\\046example.internal", "internal", true },
		{ "a\\046example.internal", "a\\046example.internal", true },
		{ "x\\046a.example", "a.example", false },
		{ "\\000.example", "example", true },
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		bool got = dns_name_under(cases[i].name, cases[i].suffix);

		if (got != cases[i].under)
			print_error(
				"\"%s\" under \"%s\": %d\n", cases[i].name, cases[i].suffix, got);
		assert_int_equal(got, cases[i].under);
	}
}

static void test_id(void **state)
{
	uint8_t m[sizeof(dig_a)];

	(void)state;
	memcpy(m, dig_a, sizeof(m));
	assert_int_equal(dns_get_id(m), 0xdbeb);
	dns_set_id(m, 0x0102);
	assert_int_equal(m[0], 0x01);
	assert_int_equal(m[1], 0x02);
	assert_int_equal(dns_get_id(m), 0x0102);
	assert_memory_equal(m + 2, dig_a + 2, sizeof(m) - 2);
	dns_set_id(m, 0xffff);
	assert_int_equal(dns_get_id(m), 0xffff);
}

/* ---- random names and messages ---- */

/* A random uncompressed name at p, up to 255 bytes; returns its length. */
static size_t rnd_name(uint8_t *p)
{
	static const uint8_t alpha[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
	size_t n = 0, labels = rnd() % 8;
	bool binary = rnd() % 2;

	for (size_t i = 0; i < labels; i++) {
		size_t l = 1 + rnd() % (rnd() % 4 ? 12 : 63);

		if (n + 1 + l + 1 > DNS_NAME_MAX)
			break;
		p[n] = (uint8_t)l;
		for (size_t k = 0; k < l; k++)
			p[n + 1 + k] = binary ? (uint8_t)rnd() : alpha[rnd() % (sizeof(alpha) - 1)];
		n += 1 + l;
	}
	p[n++] = 0;
	return n;
}

/* The name parsed is the one on the wire, lowered: encode_name undoes it. */
static void test_name_roundtrip_random(void **state)
{
	uint8_t m[DNS_HEADER_LEN + DNS_NAME_MAX + 4], wire[DNS_NAME_MAX];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		struct dns_query q;
		size_t n;

		memset(m, 0, DNS_HEADER_LEN);
		m[5] = 1;
		n = rnd_name(m + DNS_HEADER_LEN);
		rnd_fill(m + DNS_HEADER_LEN + n, 4);
		assert_int_equal(parse_exact(&q, m, DNS_HEADER_LEN + n + 4), 0);
		assert_int_equal(q.question_end, DNS_HEADER_LEN + n + 4);
		assert_int_equal(encode_name(wire, q.name), n);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(wire[k], lower(m[DNS_HEADER_LEN + k]));
		for (const char *c = q.name; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
				    *c == '-' || *c == '_' || *c == '.' || *c == '\\');
	}
}

#define RND_MAX 600

/* A seed: one of the dig queries, or a random one, maybe with more after it. */
static size_t rnd_seed(uint8_t *m)
{
	size_t n;

	switch (rnd() % 3) {
	case 0:
		memcpy(m, dig_a, sizeof(dig_a));
		return sizeof(dig_a);
	case 1:
		memcpy(m, dig_aaaa, sizeof(dig_aaaa));
		return sizeof(dig_aaaa);
	default:
		rnd_fill(m, DNS_HEADER_LEN);
		m[2] &= 0x07; /* QUERY, not a response */
		m[4] = 0;
		m[5] = 1;
		n = DNS_HEADER_LEN + rnd_name(m + DNS_HEADER_LEN) + 4;
		rnd_fill(m + n - 4, 4);
		if (rnd() % 2) {
			size_t extra = rnd() % 64;

			rnd_fill(m + n, extra);
			n += extra;
		}
		return n;
	}
}

static const uint8_t interesting[] = { 0x00, 0x01, 0x3f, 0x40, 0x41, 0x80, 0xbf, 0xc0, 0xff };

static size_t mutate(uint8_t *m, size_t n)
{
	size_t k = rnd() % RND_MAX;

	switch (rnd() % 6) {
	case 0:
		if (n)
			m[rnd() % n] ^= (uint8_t)(1 << rnd() % 8);
		return n;
	case 1:
		if (n)
			m[rnd() % n] = interesting[rnd() % sizeof(interesting)];
		return n;
	case 2:
		return n ? rnd() % n : 0;
	case 3:
		if (k > n)
			rnd_fill(m + n, k - n);
		return k > n ? k : n;
	case 4:
		if (n >= DNS_HEADER_LEN) /* a count, or the header's flags */
			wr16(m + 2 * (1 + rnd() % 5), (uint16_t)rnd());
		return n;
	default:
		if (n > 1) { /* a length byte's worth of shift: move a tail */
			size_t at = rnd() % n, to = rnd() % n;

			memmove(m + to, m + at, n - (at > to ? at : to));
		}
		return n;
	}
}

static void check_parsed(const struct dns_query *q, const uint8_t *m, size_t n)
{
	uint8_t buf[RND_MAX + 32], wire[DNS_NAME_MAX];
	size_t qend = q->question_end, wlen;

	assert_true(qend >= DNS_HEADER_LEN + 5 && qend <= n);
	assert_true(strlen(q->name) < DNS_NAME_STRLEN);
	wlen = encode_name(wire, q->name);
	assert_int_equal(DNS_HEADER_LEN + wlen + 4, qend);
	for (size_t k = 0; k < wlen; k++)
		assert_int_equal(wire[k], lower(m[DNS_HEADER_LEN + k]));
	assert_int_equal(q->qtype, rd16(m + qend - 4));
	assert_int_equal(q->qclass, rd16(m + qend - 2));

	assert_int_equal(dns_build_answer(buf, sizeof(buf), q, m, NULL, 0, 1), qend);
	assert_int_equal(dns_get_id(buf), q->id);
	assert_memory_equal(buf + DNS_HEADER_LEN, m + DNS_HEADER_LEN, qend - DNS_HEADER_LEN);
	assert_int_equal(dns_build_answer(buf, sizeof(buf), q, m, addr4, 4, 1),
		q->qtype == DNS_TYPE_A ? (int)qend + 16 : -EINVAL);
	assert_int_equal(
		dns_build_error(buf, sizeof(buf), m, n, q->question_end, DNS_RCODE_REFUSED), qend);
}

static void test_random_messages(void **state)
{
	static uint8_t m[RND_MAX + 64];
	size_t counts[4] = { 0 };

	(void)state;
	for (int i = 0; i < 100000; i++) {
		struct dns_query q;
		size_t n;
		int err;

		if (rnd() % 8 == 0) {
			n = rnd() % RND_MAX;
			rnd_fill(m, n);
		} else {
			n = rnd_seed(m);
			for (uint32_t k = 1 + rnd() % 4; k; k--)
				n = mutate(m, n);
		}
		err = parse_exact(&q, m, n);
		switch (err) {
		case 0:
			counts[0]++;
			check_parsed(&q, m, n);
			break;
		case -EBADMSG:
			counts[1]++;
			break;
		case -EINVAL:
			counts[2]++;
			break;
		case -EOPNOTSUPP:
			counts[3]++;
			break;
		default:
			fail_msg("parse: %d", err);
		}
		if (err) {
			assert_int_equal(q.question_end, 0);
			assert_int_equal(
				dns_build_error(m + RND_MAX, 64, m, n, 0, DNS_RCODE_FORMERR),
				n < DNS_HEADER_LEN ? -EBADMSG : DNS_HEADER_LEN);
		}
	}
	/* each outcome was reached often enough to mean something */
	for (size_t k = 0; k < N_ELEMS(counts); k++)
		assert_true(counts[k] > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_dig_a),
		cmocka_unit_test(test_parse_dig_aaaa),
		cmocka_unit_test(test_parse_no_edns),
		cmocka_unit_test(test_parse_root),
		cmocka_unit_test(test_parse_escapes),
		cmocka_unit_test(test_parse_longest),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_too_long),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_build_answer_a),
		cmocka_unit_test(test_build_answer_aaaa),
		cmocka_unit_test(test_build_nodata),
		cmocka_unit_test(test_build_answer_flags),
		cmocka_unit_test(test_build_answer_nospc),
		cmocka_unit_test(test_build_answer_einval),
		cmocka_unit_test(test_build_error),
		cmocka_unit_test(test_build_error_bad),
		cmocka_unit_test(test_name_under),
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_name_roundtrip_random),
		cmocka_unit_test(test_random_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
