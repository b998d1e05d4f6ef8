/* Reassembly of IPv4 and IPv6 fragments: bounded memory, a timeout, overlaps refused. */
#include "frag.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ipfrag.h"
#include "siphash.h"

#define FRAG_UNIT 8 /* every fragment but the last holds a multiple of it */
#define IP_MAX 65535
#define FRAGS_MAX ((IP_MAX + FRAG_UNIT - 1) / FRAG_UNIT) /* of a datagram, without overlaps */
#define FRAGS_DEFAULT 128

#define HT_MIN 16   /* slots of a hash table, at least; a power of two */
#define FRAGS_MIN 4 /* the first size of a datagram's array of fragments */
#define DKEY_LEN 38 /* a datagram's key: family, protocol, id, source, destination */
#define SKEY_LEN 17 /* a source's key: family, address */

/* One fragment's data. */
struct frag {
	uint32_t off, len;
	uint8_t data[];
};

/* A hash table's link: the first member of what it chains. */
struct hlink {
	struct hlink *next;
	uint64_t hash;
};

struct htab {
	struct hlink **slot;
	size_t mask; /* slots - 1 */
	size_t n;
};

/* A source with datagrams held: what they hold, so that source_bytes is
 * checked in O(1). Freed with its last datagram. */
struct source {
	struct hlink link;
	struct tun_addr addr;
	size_t mem;    /* its datagrams' bytes and this entry's */
	size_t dgrams; /* how many */
};

struct dgram {
	struct hlink link;	     /* in the table of datagrams */
	struct dgram *older, *newer; /* by age: born_ms never decreases from older to newer */
	struct source *src;
	struct tun_addr dst;
	uint32_t id;
	uint8_t proto;
	bool have_last;
	uint16_t nfrags, cap; /* of frags */
	uint64_t born_ms;
	uint32_t end; /* of the data, once the last fragment is in */
	uint32_t got; /* bytes of data held; no overlaps, so == end means whole */
	size_t mem;
	struct frag *
		*frags; /* sorted by offset; they don't overlap, so their ends are sorted too */
	/* From the first fragment: the IPv4 header, or the IPv6 header and the
	 * extension headers before the fragment header. */
	uint8_t *hdr;
	uint32_t hlen;
};

struct tun_frag_table {
	struct tun_frag_limits lim;
	struct htab dgrams, sources;
	struct dgram *oldest, *newest;
	size_t mem;
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

/* ---- hashing ---- */

static size_t addr_len(const struct tun_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

static uint64_t source_hash(const struct tun_frag_table *t, const struct tun_addr *a)
{
	uint8_t k[SKEY_LEN] = { 0 };

	k[0] = a->family == AF_INET ? 4 : 6;
	memcpy(k + 1, a->ip, addr_len(a));
	return tun_siphash(k, sizeof(k), t->lim.hash_key);
}

static uint64_t dgram_hash(const struct tun_frag_table *t, const struct tun_pkt *pkt, uint32_t id)
{
	uint8_t k[DKEY_LEN] = { 0 };

	k[0] = pkt->src.family == AF_INET ? 4 : 6;
	k[1] = pkt->proto;
	k[2] = (uint8_t)(id >> 24), k[3] = (uint8_t)(id >> 16);
	k[4] = (uint8_t)(id >> 8), k[5] = (uint8_t)id;
	memcpy(k + 6, pkt->src.ip, addr_len(&pkt->src));
	memcpy(k + 22, pkt->dst.ip, addr_len(&pkt->dst));
	return tun_siphash(k, sizeof(k), t->lim.hash_key);
}

/* ---- hash tables: chains, of 1/8 to 1 link a slot on average after htab_fit ---- */

static int htab_init(struct htab *h)
{
	if (!(h->slot = calloc(HT_MIN, sizeof(*h->slot))))
		return -ENOMEM;
	h->mask = HT_MIN - 1;
	h->n = 0;
	return 0;
}

static struct hlink *htab_chain(const struct htab *h, uint64_t hash)
{
	return h->slot[hash & h->mask];
}

static void htab_add(struct htab *h, struct hlink *l, uint64_t hash)
{
	struct hlink **pp = &h->slot[hash & h->mask];

	l->hash = hash;
	l->next = *pp;
	*pp = l;
	h->n++;
}

static void htab_del(struct htab *h, struct hlink *l)
{
	struct hlink **pp = &h->slot[l->hash & h->mask];

	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
	h->n--;
}

/* Twice the slots once there are more links than slots (links come one at a
 * time); once fewer than 1/8 as many, as few as hold them all (at least
 * HT_MIN). So never more than 2 slots a link the table has held at once. If
 * the new slots can't be allocated, it stays as it is. */
static void htab_fit(struct htab *h)
{
	size_t slots = h->mask + 1, want = HT_MIN;
	struct hlink **slot, *l, *next;

	if (h->n > slots)
		want = 2 * slots;
	else if (slots > HT_MIN && h->n < slots / 8)
		while (want < h->n)
			want *= 2;
	else
		return;
	if (!(slot = calloc(want, sizeof(*slot))))
		return;
	for (size_t i = 0; i < slots; i++)
		for (l = h->slot[i]; l; l = next) {
			next = l->next;
			l->next = slot[l->hash & (want - 1)];
			slot[l->hash & (want - 1)] = l;
		}
	free(h->slot);
	h->slot = slot;
	h->mask = want - 1;
}

/* ---- sources and datagrams ---- */

static struct source *source_find(const struct tun_frag_table *t, const struct tun_addr *a)
{
	uint64_t hash = source_hash(t, a);

	for (struct hlink *l = htab_chain(&t->sources, hash); l; l = l->next) {
		struct source *s = (struct source *)l;

		if (l->hash == hash && tun_addr_eq(&s->addr, a))
			return s;
	}
	return NULL;
}

/* a's entry, made if it has none; NULL if out of memory. */
static struct source *source_get(struct tun_frag_table *t, const struct tun_addr *a)
{
	struct source *s = source_find(t, a);

	if (s || !(s = calloc(1, sizeof(*s))))
		return s;
	s->addr = *a;
	s->mem = sizeof(*s);
	t->mem += s->mem;
	htab_add(&t->sources, &s->link, source_hash(t, a));
	return s;
}

/* Frees s if it has no datagram left. */
static void source_put(struct tun_frag_table *t, struct source *s)
{
	if (s->dgrams)
		return;
	t->mem -= s->mem;
	htab_del(&t->sources, &s->link);
	free(s);
}

/* Counts bytes more held by d. */
static void charge(struct tun_frag_table *t, struct dgram *d, size_t bytes)
{
	d->mem += bytes;
	d->src->mem += bytes;
	t->mem += bytes;
}

static struct dgram *dgram_find(
	const struct tun_frag_table *t, const struct tun_pkt *pkt, uint32_t id, uint64_t hash)
{
	for (struct hlink *l = htab_chain(&t->dgrams, hash); l; l = l->next) {
		struct dgram *d = (struct dgram *)l;

		if (l->hash == hash && d->id == id && d->proto == pkt->proto &&
			tun_addr_eq(&d->src->addr, &pkt->src) && tun_addr_eq(&d->dst, &pkt->dst))
			return d;
	}
	return NULL;
}

/* A new datagram, the newest; NULL if out of memory. */
static struct dgram *dgram_new(struct tun_frag_table *t, const struct tun_pkt *pkt, uint32_t id,
	uint64_t hash, uint64_t now)
{
	struct source *s = source_get(t, &pkt->src);
	struct dgram *d;

	if (!s)
		return NULL;
	if (!(d = calloc(1, sizeof(*d)))) {
		source_put(t, s);
		return NULL;
	}
	s->dgrams++;
	d->src = s;
	d->dst = pkt->dst;
	d->id = id;
	d->proto = pkt->proto;
	/* a clock that went back would unsort the list: such a one is as old as the newest */
	d->born_ms = t->newest && t->newest->born_ms > now ? t->newest->born_ms : now;
	d->older = t->newest;
	if (t->newest)
		t->newest->newer = d;
	else
		t->oldest = d;
	t->newest = d;
	htab_add(&t->dgrams, &d->link, hash);
	charge(t, d, sizeof(*d));
	return d;
}

static void dgram_drop(struct tun_frag_table *t, struct dgram *d)
{
	struct source *s = d->src;

	htab_del(&t->dgrams, &d->link);
	if (d->older)
		d->older->newer = d->newer;
	else
		t->oldest = d->newer;
	if (d->newer)
		d->newer->older = d->older;
	else
		t->newest = d->older;
	for (size_t i = 0; i < d->nfrags; i++)
		free(d->frags[i]);
	free(d->frags);
	free(d->hdr);
	t->mem -= d->mem;
	s->mem -= d->mem;
	s->dgrams--;
	source_put(t, s);
	free(d);
}

struct tun_frag_table *tun_frag_new(const struct tun_frag_limits *l)
{
	struct tun_frag_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->lim = *l;
	if (t->lim.max_size > IP_MAX)
		t->lim.max_size = IP_MAX;
	if (!t->lim.max_frags)
		t->lim.max_frags = FRAGS_DEFAULT;
	if (t->lim.max_frags > FRAGS_MAX)
		t->lim.max_frags = FRAGS_MAX;
	if (htab_init(&t->dgrams) || htab_init(&t->sources)) {
		free(t->dgrams.slot);
		free(t);
		return NULL;
	}
	return t;
}

void tun_frag_free(struct tun_frag_table *t)
{
	if (!t)
		return;
	while (t->oldest)
		dgram_drop(t, t->oldest);
	free(t->dgrams.slot);
	free(t->sources.slot);
	free(t);
}

static bool expired(const struct tun_frag_table *t, const struct dgram *d, uint64_t now_ms)
{
	return now_ms >= d->born_ms && now_ms - d->born_ms >= t->lim.timeout_ms;
}

/* Drops the expired datagrams but keep (which the caller is adding to): the
 * oldest first, so only those are looked at and the first one not expired. */
static void expire_but(struct tun_frag_table *t, uint64_t now_ms, const struct dgram *keep)
{
	struct dgram *d = t->oldest, *newer;

	for (; d && expired(t, d, now_ms); d = newer) {
		newer = d->newer;
		if (d != keep) {
			t->stats.timed_out++;
			dgram_drop(t, d);
		}
	}
}

size_t tun_frag_mem(const struct tun_frag_table *t, const struct tun_addr *src)
{
	const struct source *s;

	if (!src)
		return t->mem;
	return (s = source_find(t, src)) ? s->mem : 0;
}

size_t tun_frag_count(const struct tun_frag_table *t)
{
	return t->dgrams.n;
}

const struct tun_frag_stats *tun_frag_stats(const struct tun_frag_table *t)
{
	return &t->stats;
}

void tun_frag_expire(struct tun_frag_table *t, uint64_t now_ms)
{
	expire_but(t, now_ms, NULL);
	htab_fit(&t->dgrams);
	htab_fit(&t->sources);
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

/* Where a fragment starting at off goes among d's: the first that ends after off. */
static size_t frag_index(const struct dgram *d, uint32_t off)
{
	size_t lo = 0, hi = d->nfrags, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (d->frags[mid]->off + d->frags[mid]->len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Where the fragment goes in d's array: *pos. Returns 0, 1 for an exact
 * duplicate, -EBADMSG for an overlap, -EINVAL for a fragment that disagrees
 * with where the last one said the data ends.
 */
static int frag_place(const struct dgram *d, const struct frag_info *fi, size_t *pos)
{
	uint32_t end = fi->off + fi->len;
	size_t i = frag_index(d, fi->off);
	const struct frag *f = i < d->nfrags ? d->frags[i] : NULL;

	if (f && f->off == fi->off && f->len == fi->len)
		return 1;
	if (f && f->off < end)
		return -EBADMSG;
	if (d->have_last && (end > d->end || (!fi->more && end != d->end)))
		return -EINVAL;
	if (!fi->more && f) /* data past the end */
		return -EINVAL;
	*pos = i;
	return 0;
}

/* The size of d's array (NULL: a new datagram's) once it holds one fragment
 * more; never above max_frags, which the caller has checked. */
static uint16_t frags_cap(const struct tun_frag_table *t, const struct dgram *d)
{
	uint32_t cap;

	if (d && d->nfrags < d->cap)
		return d->cap;
	cap = d && d->cap ? 2u * d->cap : FRAGS_MIN;
	return (uint16_t)(cap < t->lim.max_frags ? cap : t->lim.max_frags);
}

/* The bytes the fragment adds to d (NULL: to a new datagram, counted in). */
static size_t frag_cost(
	const struct tun_frag_table *t, const struct dgram *d, const struct frag_info *fi)
{
	size_t cost = sizeof(struct frag) + fi->len + (fi->off ? 0 : fi->hlen);

	cost += (size_t)(frags_cap(t, d) - (d ? d->cap : 0)) * sizeof(struct frag *);
	return d ? cost : sizeof(struct dgram) + cost;
}

/* Stores the fragment at pos; the first one's headers too. */
static int frag_store(struct tun_frag_table *t, struct dgram *d, const struct tun_pkt *pkt,
	const struct frag_info *fi, size_t pos)
{
	uint16_t cap = frags_cap(t, d);
	struct frag *f, **frags;

	if (cap > d->cap) {
		if (!(frags = realloc(d->frags, cap * sizeof(*frags))))
			return -ENOMEM;
		charge(t, d, (size_t)(cap - d->cap) * sizeof(*frags));
		d->frags = frags;
		d->cap = cap;
	}
	if (!(f = malloc(sizeof(*f) + fi->len)))
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
	memmove(d->frags + pos + 1, d->frags + pos, (d->nfrags - pos) * sizeof(*d->frags));
	d->frags[pos] = f;
	d->nfrags++;
	if (!fi->more) {
		d->have_last = true;
		d->end = fi->off + fi->len;
	}
	d->got += fi->len;
	charge(t, d, sizeof(*f) + fi->len + (fi->off ? 0 : fi->hlen));
	return 0;
}

/* Would cost more bytes held for src stay within the limits? A source
 * without datagrams would cost its entry too. */
static bool fits(const struct tun_frag_table *t, const struct tun_addr *src, size_t cost)
{
	const struct source *s = source_find(t, src);
	size_t held = s ? s->mem : 0;

	if (!s)
		cost += sizeof(*s);
	return t->mem + cost <= t->lim.total_bytes && held + cost <= t->lim.source_bytes;
}

/* fits(), once the expired datagrams but keep are dropped if it doesn't. */
static bool room(struct tun_frag_table *t, const struct tun_addr *src, size_t cost, uint64_t now,
	const struct dgram *keep)
{
	if (fits(t, src, cost))
		return true;
	expire_but(t, now, keep);
	return fits(t, src, cost);
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
	uint32_t len = d->hlen + d->end, size = result_size(d->src->addr.family, d->hlen, d->end);
	struct tun_pkt q;
	int field;

	if (size > t->lim.max_size)
		return -EMSGSIZE;
	if (len > out_size)
		return -ENOSPC;
	memcpy(out, d->hdr, d->hlen);
	for (size_t i = 0; i < d->nfrags; i++)
		memcpy(out + d->hlen + d->frags[i]->off, d->frags[i]->data, d->frags[i]->len);
	if (d->src->addr.family == AF_INET) {
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

/* A fragment past max_frags, told as -ENOBUFS. */
#define ERR_TOO_MANY (-E2BIG)

/* Counts the error; returns what tun_frag_add says. */
static int count_error(struct tun_frag_table *t, int err)
{
	switch (err) {
	case ERR_TOO_MANY:
		t->stats.too_many++;
		return -ENOBUFS;
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
	return err;
}

/* Adds the fragment to its datagram d (new or not); 1 once d is whole. */
static int dgram_add(struct tun_frag_table *t, struct dgram *d, const struct tun_pkt *pkt,
	const struct frag_info *fi, uint64_t now)
{
	size_t pos;
	int ret;

	if ((ret = frag_place(d, fi, &pos)))
		return ret == 1 ? 0 : ret; /* a duplicate is ignored */
	if (d->nfrags >= t->lim.max_frags)
		return ERR_TOO_MANY;
	if (!room(t, &pkt->src, frag_cost(t, d, fi), now, d))
		return -ENOBUFS;
	if ((ret = frag_store(t, d, pkt, fi, pos)))
		return ret;
	return d->hdr && d->have_last && d->got == d->end;
}

/* The least of an upper-layer header a first fragment must hold: what
 * tun_parse reads of it (the fixed part; TCP options may follow later). */
static uint32_t l4_min(uint8_t proto)
{
	switch (proto) {
	case TUN_IPPROTO_TCP:
		return TUN_TCP_HLEN;
	case TUN_IPPROTO_UDP:
		return TUN_UDP_HLEN;
	case TUN_IPPROTO_ICMP:
	case TUN_IPPROTO_ICMPV6:
		return TUN_ICMP_HLEN;
	default:
		return 0;
	}
}

/*
 * A first fragment holds the whole header chain, the upper-layer header
 * included (RFC 8200 4.5, RFC 7112 5): the IPv6 extension headers tun_parse
 * walks (destination options, routing; hop-by-hop or another fragment header
 * there is malformed), then l4_min() bytes. For IPv4 the same upper-layer
 * header, so that no port or TCP flag is left to a later fragment (the tiny
 * fragment attack, RFC 1858 3.1). 0 or -EINVAL.
 */
static int first_frag_check(const struct tun_pkt *pkt, const struct frag_info *fi)
{
	const uint8_t *p = fi->data;
	uint32_t left = fi->len, elen;
	uint8_t next = pkt->proto;

	while (pkt->src.family == AF_INET6 &&
		(next == TUN_IPPROTO_DSTOPTS || next == TUN_IPPROTO_ROUTING)) {
		if (left < IPV6_EXT_UNIT || (elen = ((uint32_t)p[1] + 1) * IPV6_EXT_UNIT) > left)
			return -EINVAL;
		next = p[0];
		p += elen;
		left -= elen;
	}
	if (pkt->src.family == AF_INET6 &&
		(next == TUN_IPPROTO_HOPOPTS || next == TUN_IPPROTO_FRAGMENT))
		return -EINVAL;
	return left < l4_min(next) ? -EINVAL : 0;
}

/* The fragment's own faults, whatever its datagram holds: 0 or an error. */
static int frag_check(
	const struct tun_frag_table *t, const struct tun_pkt *pkt, const struct frag_info *fi)
{
	if (!fi->len || (fi->more && fi->len % FRAG_UNIT))
		return -EINVAL;
	if (result_size(pkt->src.family, fi->hlen, fi->off + fi->len) > t->lim.max_size)
		return -EMSGSIZE;
	return fi->off ? 0 : first_frag_check(pkt, fi);
}

/* The datagram the fragment starts, if the limits let it in. */
static int dgram_start(struct tun_frag_table *t, const struct tun_pkt *pkt,
	const struct frag_info *fi, uint64_t hash, uint64_t now, struct dgram **dp)
{
	if (!room(t, &pkt->src, frag_cost(t, NULL, fi), now, NULL))
		return -ENOBUFS;
	return (*dp = dgram_new(t, pkt, fi->id, hash, now)) ? 0 : -ENOMEM;
}

int tun_frag_add(struct tun_frag_table *t, const struct tun_pkt *pkt, uint64_t now_ms, uint8_t *out,
	size_t out_size, size_t *out_len)
{
	struct frag_info fi;
	struct dgram *d;
	uint64_t hash;
	int ret;

	*out_len = 0;
	if (!pkt->frag || frag_info(pkt, &fi)) {
		t->stats.bad++;
		return -EINVAL;
	}
	ret = frag_check(t, pkt, &fi);
	hash = dgram_hash(t, pkt, fi.id);
	if ((d = dgram_find(t, pkt, fi.id, hash)) && expired(t, d, now_ms)) {
		t->stats.timed_out++;
		dgram_drop(t, d);
		d = NULL;
	}
	if (!ret && !d)
		ret = dgram_start(t, pkt, &fi, hash, now_ms, &d);
	if (!ret)
		ret = dgram_add(t, d, pkt, &fi, now_ms);
	if (ret == 1 && !(ret = dgram_build(t, d, out, out_size, out_len)))
		t->stats.reassembled++;
	else if (ret)
		ret = count_error(t, ret);
	/* whole, or in error: the datagram goes (dgram_add may have expired others, not d) */
	if (ret || *out_len) {
		if (d)
			dgram_drop(t, d);
	}
	htab_fit(&t->dgrams);
	htab_fit(&t->sources);
	return ret;
}
