/* libFuzzer target of tun/frag: a sequence of packets into one table; memory
 * stays within the limits and whatever comes out is a whole packet. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tun/frag.h"
#include "tun/packet.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/*
 * The input: 6 bytes of limits (total, source, timeout, max_size, max_frags,
 * the hash key's bytes), then records of
 *   [0..1]  the packet's length, big-endian
 *   [2]     milliseconds since the previous record (255: run tun_frag_expire too)
 *   [3..]   the packet
 * until the input ends.
 */
#define CTL_LEN 6
#define SOURCES_MAX 64 /* sources remembered, to check what each holds */
#define REC_HLEN 3
#define OUT_MAX (TUN_IPV6_HLEN + 0xffff)

static uint8_t out[OUT_MAX];

static void limits_of(const uint8_t *ctl, struct tun_frag_limits *l)
{
	l->total_bytes = ((size_t)ctl[0] + 1) * 512;
	l->source_bytes = ((size_t)ctl[1] + 1) * 256;
	l->timeout_ms = (uint32_t)ctl[2] * 16;
	l->max_size = 65535 - (uint32_t)ctl[3] * 200;
	l->max_frags = ctl[4] == 255 ? 100000 : ctl[4]; /* 0: the default, 128 */
	memset(l->hash_key, ctl[5], sizeof(l->hash_key));
}

/* The sources given to the table; n > SOURCES_MAX once there are too many. */
struct sources {
	struct tun_addr a[SOURCES_MAX];
	size_t n;
};

static void source_seen(struct sources *s, const struct tun_addr *a)
{
	for (size_t i = 0; i < s->n && i < SOURCES_MAX; i++)
		if (tun_addr_eq(&s->a[i], a))
			return;
	if (s->n < SOURCES_MAX)
		s->a[s->n] = *a;
	if (s->n <= SOURCES_MAX)
		s->n++;
}

/* What the sources hold adds up to what the table holds. */
static void check_sources(const struct tun_frag_table *t, const struct sources *s)
{
	size_t sum = 0;

	if (s->n > SOURCES_MAX)
		return;
	for (size_t i = 0; i < s->n; i++)
		sum += tun_frag_mem(t, &s->a[i]);
	check(sum == tun_frag_mem(t, NULL));
}

static void check_limits(
	const struct tun_frag_table *t, const struct tun_frag_limits *l, const struct tun_pkt *p)
{
	check(tun_frag_mem(t, NULL) <= l->total_bytes);
	check(tun_frag_mem(t, &p->src) <= l->source_bytes);
	check(tun_frag_mem(t, &p->src) <= tun_frag_mem(t, NULL));
	check(tun_frag_count(t) == 0 ? tun_frag_mem(t, NULL) == 0 : tun_frag_mem(t, NULL) > 0);
}

/* A result is one whole packet of the fragment's family and addresses. */
static void check_out(const struct tun_pkt *frag, size_t out_len, const struct tun_frag_limits *l)
{
	struct tun_pkt q;

	check(tun_parse(&q, out, out_len) == 0);
	check(q.frag == TUN_FRAG_NONE && q.len == out_len);
	check(tun_addr_eq(&q.src, &frag->src) && tun_addr_eq(&q.dst, &frag->dst));
	/* IPv6: the fragment header names the first header after it, which may be
	 * an extension header tun_parse walks */
	if (frag->proto != TUN_IPPROTO_DSTOPTS && frag->proto != TUN_IPPROTO_ROUTING)
		check(q.proto == frag->proto);
	if (q.src.family == AF_INET) {
		check(out_len <= l->max_size && !(out[6] & 0x3f) && !out[7]); /* no MF, offset 0 */
		check(tun_csum_fold(tun_csum_add(0, out, q.l4_off)) == 0);    /* the header's sum */
	} else {
		check(out_len - TUN_IPV6_HLEN <= l->max_size);
	}
}

static bool known_error(int ret)
{
	return ret == -EINVAL || ret == -EBADMSG || ret == -ENOBUFS || ret == -EMSGSIZE ||
	       ret == -ENOSPC || ret == -ENOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tun_frag_limits l;
	struct tun_frag_table *t;
	struct sources seen = { .n = 0 };
	uint64_t now = 0;
	size_t off = CTL_LEN;

	if (size < CTL_LEN)
		return 0;
	limits_of(data, &l);
	check(t = tun_frag_new(&l));
	while (size - off >= REC_HLEN) {
		size_t len = (size_t)(data[off] << 8 | data[off + 1]), out_len = 1;
		uint8_t *buf;
		struct tun_pkt p;
		int ret;

		now += data[off + 2];
		off += REC_HLEN;
		if (len > size - off)
			len = size - off;
		if (data[off - 1] == 255) {
			tun_frag_expire(t, now);
			check_sources(t, &seen);
		}
		buf = malloc(len ? len : 1);
		check(buf);
		memcpy(buf, data + off, len);
		off += len;
		if (tun_parse(&p, buf, len) || !p.frag) {
			free(buf);
			continue;
		}
		source_seen(&seen, &p.src);
		ret = tun_frag_add(t, &p, now, out, sizeof(out), &out_len);
		check(ret == 0 || known_error(ret));
		check(ret == 0 || out_len == 0);
		check(!memcmp(buf, data + off - len, len)); /* the fragment is only read */
		if (out_len)
			check_out(&p, out_len, &l);
		check_limits(t, &l, &p);
		check_sources(t, &seen);
		free(buf);
	}
	tun_frag_free(t);
	return 0;
}
