/* Reassembly of IPv4 and IPv6 fragments: bounded memory, a timeout, overlaps refused. */
#include "frag.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define IPV4_DF 0x4000	   /* RFC 791, 3.1: don't fragment */
#define IPV4_MF 0x2000	   /* more fragments */
#define IPV4_OFFSET 0x1fff /* fragment offset, in 8-byte units */
#define IPV6_FRAG_M 0x0001 /* RFC 8200, 4.5: more fragments */
#define IPV6_OFFSET 0xfff8 /* fragment offset, already times 8 */
#define IPV6_FRAG_HLEN 8
#define IPV6_EXT_UNIT 8 /* RFC 8200, 4.3: Hdr Ext Len is in 8-octet units */
#define FRAG_UNIT 8	/* every fragment but the last holds a multiple of it */
#define IP_MAX 65535

/* One fragment's data, kept in a list sorted by offset. */
struct frag {
	struct frag *next;
	uint32_t off, len;
	uint8_t data[];
};

struct dgram {
	struct dgram *next;
	struct tun_addr src, dst;
	uint32_t id;
	uint8_t proto;
	bool have_last;
	uint64_t born_ms;
	uint32_t end; /* of the data, once the last fragment is in */
	uint32_t got; /* bytes of data held; no overlaps, so == end means whole */
	size_t mem;
	struct frag *frags;
	/* From the first fragment: the IPv4 header, or the IPv6 header and the
	 * extension headers before the fragment header. */
	uint8_t *hdr;
	uint32_t hlen;
};

struct tun_frag_table {
	struct tun_frag_limits lim;
	struct dgram *list;
	size_t mem, count;
	struct tun_frag_stats stats;
};

/* What a fragment says about itself. */
struct frag_info {
	uint32_t id, off, len, hlen; /* hlen: the part before the fragmentable one */
	bool more;
	const uint8_t *data;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

struct tun_frag_table *tun_frag_new(const struct tun_frag_limits *l)
{
	struct tun_frag_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->lim = *l;
	if (t->lim.max_size > IP_MAX)
		t->lim.max_size = IP_MAX;
	return t;
}

/* Unlinks and frees the datagram *pp points to. */
static void dgram_drop(struct tun_frag_table *t, struct dgram **pp)
{
	struct dgram *d = *pp;
	struct frag *f, *next;

	*pp = d->next;
	for (f = d->frags; f; f = next) {
		next = f->next;
		free(f);
	}
	t->mem -= d->mem;
	t->count--;
	free(d->hdr);
	free(d);
}

void tun_frag_free(struct tun_frag_table *t)
{
	if (!t)
		return;
	while (t->list)
		dgram_drop(t, &t->list);
	free(t);
}

static bool expired(const struct tun_frag_table *t, const struct dgram *d, uint64_t now_ms)
{
	return now_ms >= d->born_ms && now_ms - d->born_ms >= t->lim.timeout_ms;
}

/* Drops the expired datagrams but keep (which the caller is adding to). */
static void expire_but(struct tun_frag_table *t, uint64_t now_ms, const struct dgram *keep)
{
	struct dgram **pp = &t->list;

	while (*pp) {
		if (*pp != keep && expired(t, *pp, now_ms)) {
			t->stats.timed_out++;
			dgram_drop(t, pp);
		} else {
			pp = &(*pp)->next;
		}
	}
}

size_t tun_frag_mem(const struct tun_frag_table *t, const struct tun_addr *src)
{
	size_t mem = 0;

	if (!src)
		return t->mem;
	for (const struct dgram *d = t->list; d; d = d->next)
		if (tun_addr_eq(&d->src, src))
			mem += d->mem;
	return mem;
}

size_t tun_frag_count(const struct tun_frag_table *t)
{
	return t->count;
}

const struct tun_frag_stats *tun_frag_stats(const struct tun_frag_table *t)
{
	return &t->stats;
}

void tun_frag_expire(struct tun_frag_table *t, uint64_t now_ms)
{
	expire_but(t, now_ms, NULL);
}

/* ---- one fragment ---- */

static int frag_info(const struct tun_pkt *pkt, struct frag_info *fi)
{
	const uint8_t *p = pkt->data, *fh;
	uint16_t f;

	if (pkt->src.family == AF_INET) {
		f = get16(p + 6);
		fi->id = get16(p + 4);
		fi->off = (uint32_t)(f & IPV4_OFFSET) * FRAG_UNIT;
		fi->more = f & IPV4_MF;
		fi->hlen = pkt->l4_off;
	} else {
		/* tun_parse stops right after the fragment header */
		if (pkt->l4_off < TUN_IPV6_HLEN + IPV6_FRAG_HLEN)
			return -EINVAL;
		fh = p + pkt->l4_off - IPV6_FRAG_HLEN;
		f = get16(fh + 2);
		fi->id = get32(fh + 4);
		fi->off = f & IPV6_OFFSET;
		fi->more = f & IPV6_FRAG_M;
		fi->hlen = pkt->l4_off - IPV6_FRAG_HLEN;
	}
	fi->data = p + pkt->l4_off;
	fi->len = pkt->l4_len;
	return 0;
}

/* The result's size as max_size counts it, for a datagram whose data ends at end. */
static uint32_t result_size(int family, uint32_t hlen, uint32_t end)
{
	return family == AF_INET ? hlen + end : hlen - TUN_IPV6_HLEN + end;
}

static struct dgram **dgram_find(
	struct tun_frag_table *t, const struct tun_pkt *pkt, const struct frag_info *fi)
{
	struct dgram **pp;

	for (pp = &t->list; *pp; pp = &(*pp)->next) {
		struct dgram *d = *pp;

		if (d->id == fi->id && d->proto == pkt->proto && tun_addr_eq(&d->src, &pkt->src) &&
			tun_addr_eq(&d->dst, &pkt->dst))
			break;
	}
	return pp;
}

/* The link that points to d. */
static struct dgram **dgram_link(struct tun_frag_table *t, const struct dgram *d)
{
	struct dgram **pp = &t->list;

	while (*pp != d)
		pp = &(*pp)->next;
	return pp;
}

static struct dgram *dgram_new(struct tun_frag_table *t, const struct tun_pkt *pkt,
	const struct frag_info *fi, uint64_t now)
{
	struct dgram *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->src = pkt->src;
	d->dst = pkt->dst;
	d->id = fi->id;
	d->proto = pkt->proto;
	d->born_ms = now;
	d->mem = sizeof(*d);
	d->next = t->list;
	t->list = d;
	t->mem += d->mem;
	t->count++;
	return d;
}

/*
 * Where the fragment goes in d's list: *pos is the link to set. Returns 0,
 * 1 for an exact duplicate, -EBADMSG for an overlap, -EINVAL for a fragment
 * that disagrees with where the last one said the data ends.
 */
static int frag_place(struct dgram *d, const struct frag_info *fi, struct frag ***pos)
{
	uint32_t end = fi->off + fi->len;
	struct frag **pp = &d->frags, *f;

	for (; (f = *pp) && f->off + f->len <= fi->off; pp = &f->next)
		;
	if (f && f->off == fi->off && f->len == fi->len)
		return 1;
	if (f && f->off < end)
		return -EBADMSG;
	if (d->have_last && (end > d->end || (!fi->more && end != d->end)))
		return -EINVAL;
	if (!fi->more && f) /* data past the end */
		return -EINVAL;
	*pos = pp;
	return 0;
}

/* Stores the fragment at *pos; the first one's headers too. */
static int frag_store(struct tun_frag_table *t, struct dgram *d, const struct tun_pkt *pkt,
	const struct frag_info *fi, struct frag **pos)
{
	struct frag *f = malloc(sizeof(*f) + fi->len);

	if (!f)
		return -ENOMEM;
	if (!fi->off) {
		if (!(d->hdr = malloc(fi->hlen))) {
			free(f);
			return -ENOMEM;
		}
		memcpy(d->hdr, pkt->data, fi->hlen);
		d->hlen = fi->hlen;
	}
	f->off = fi->off;
	f->len = fi->len;
	memcpy(f->data, fi->data, fi->len);
	f->next = *pos;
	*pos = f;
	if (!fi->more) {
		d->have_last = true;
		d->end = fi->off + fi->len;
	}
	d->got += fi->len;
	d->mem += sizeof(*f) + fi->len + (fi->off ? 0 : fi->hlen);
	t->mem += sizeof(*f) + fi->len + (fi->off ? 0 : fi->hlen);
	return 0;
}

/* Would cost more bytes pass a limit? Expired datagrams but d are dropped first. */
static bool over_limit(struct tun_frag_table *t, const struct dgram *d, const struct tun_addr *src,
	size_t cost, uint64_t now)
{
	if (t->mem + cost > t->lim.total_bytes || tun_frag_mem(t, src) + cost > t->lim.source_bytes)
		expire_but(t, now, d);
	return t->mem + cost > t->lim.total_bytes ||
	       tun_frag_mem(t, src) + cost > t->lim.source_bytes;
}

/* The IPv6 next header field that names the fragment header: in the header,
 * or in the last extension header before it. */
static int ipv6_next_field(const uint8_t *h, uint32_t hlen)
{
	uint32_t field = 6, off = TUN_IPV6_HLEN;

	while (off < hlen) {
		field = off;
		off += ((uint32_t)h[off + 1] + 1) * IPV6_EXT_UNIT;
	}
	return off == hlen ? (int)field : -EINVAL;
}

/* Writes d as one packet into out; -EMSGSIZE, -ENOSPC or -EINVAL. */
static int dgram_build(const struct tun_frag_table *t, const struct dgram *d, uint8_t *out,
	size_t out_size, size_t *out_len)
{
	uint32_t len = d->hlen + d->end, size = result_size(d->src.family, d->hlen, d->end);
	struct tun_pkt q;
	int field;

	if (size > t->lim.max_size)
		return -EMSGSIZE;
	if (len > out_size)
		return -ENOSPC;
	memcpy(out, d->hdr, d->hlen);
	for (const struct frag *f = d->frags; f; f = f->next)
		memcpy(out + d->hlen + f->off, f->data, f->len);
	if (d->src.family == AF_INET) {
		put16(out + 2, (uint16_t)len);
		put16(out + 6, get16(out + 6) & IPV4_DF);
		put16(out + 10, 0);
		put16(out + 10, tun_csum_fold(tun_csum_add(0, out, d->hlen)));
	} else {
		if ((field = ipv6_next_field(out, d->hlen)) < 0)
			return field;
		put16(out + 4, (uint16_t)size);
		out[field] = d->proto;
	}
	/* What we hand on is a whole packet tun_parse takes, or nothing. */
	if (tun_parse(&q, out, len) || q.frag || q.len != len)
		return -EINVAL;
	*out_len = len;
	return 0;
}

static void count_error(struct tun_frag_table *t, int err)
{
	switch (err) {
	case -EBADMSG:
		t->stats.overlaps++;
		break;
	case -ENOBUFS:
	case -ENOMEM:
		t->stats.over_limit++;
		break;
	case -EMSGSIZE:
	case -ENOSPC:
		t->stats.oversized++;
		break;
	default:
		t->stats.bad++;
	}
}

/* Adds the fragment to its datagram d (new or not); 1 once d is whole. */
static int dgram_add(struct tun_frag_table *t, struct dgram *d, const struct tun_pkt *pkt,
	const struct frag_info *fi, uint64_t now)
{
	size_t cost = sizeof(struct frag) + fi->len + (fi->off ? 0 : fi->hlen);
	struct frag **pos;
	int ret;

	if ((ret = frag_place(d, fi, &pos)))
		return ret == 1 ? 0 : ret; /* a duplicate is ignored */
	if (over_limit(t, d, &pkt->src, cost, now))
		return -ENOBUFS;
	if ((ret = frag_store(t, d, pkt, fi, pos)))
		return ret;
	return d->hdr && d->have_last && d->got == d->end;
}

int tun_frag_add(struct tun_frag_table *t, const struct tun_pkt *pkt, uint64_t now_ms, uint8_t *out,
	size_t out_size, size_t *out_len)
{
	struct frag_info fi;
	struct dgram **pp, *d;
	int ret = 0;

	*out_len = 0;
	if (!pkt->frag || frag_info(pkt, &fi)) {
		t->stats.bad++;
		return -EINVAL;
	}
	if (!fi.len || (fi.more && fi.len % FRAG_UNIT))
		ret = -EINVAL;
	else if (result_size(pkt->src.family, fi.hlen, fi.off + fi.len) > t->lim.max_size)
		ret = -EMSGSIZE;
	pp = dgram_find(t, pkt, &fi);
	if ((d = *pp) && expired(t, d, now_ms)) {
		t->stats.timed_out++;
		dgram_drop(t, pp); /* *pp is now the next datagram */
		d = NULL;
	}
	if (ret)
		goto err_drop;
	if (!d) {
		if (over_limit(t, NULL, &pkt->src, sizeof(struct dgram), now_ms)) {
			t->stats.over_limit++;
			return -ENOBUFS;
		}
		if (!(d = dgram_new(t, pkt, &fi, now_ms)))
			return -ENOMEM;
	}
	ret = dgram_add(t, d, pkt, &fi, now_ms);
	if (ret == 0)
		return 0; /* incomplete, or a duplicate */
	if (ret == 1 && !(ret = dgram_build(t, d, out, out_size, out_len)))
		t->stats.reassembled++;
	else
		count_error(t, ret);
	/* dgram_add may have expired others: pp may be stale, d is not */
	dgram_drop(t, dgram_link(t, d));
	return ret;
err_drop:
	count_error(t, ret);
	if (d)
		dgram_drop(t, pp);
	return ret;
}
