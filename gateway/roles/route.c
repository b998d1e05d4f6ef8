/* The route table: subnets to agent ids, longest prefix match, IPv4 and IPv6. */
#include "route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define ADDR_MAX_BITS 128

/* One route of a prefix; agent is NULL for an exclusion. */
struct rec {
	enum route_source src;
	char *agent;
};

/* The routes of one prefix, sorted by source then agent: recs[0] decides lookups. */
struct prefix {
	uint8_t addr[16];
	struct rec *recs;
	size_t nrecs;
	char *pool; /* several advertisers and nothing before them: "a,b,c", what lookups return */
};

/* The prefixes of one length, sorted by address for binary search. */
struct level {
	struct prefix *v;
	size_t n, cap;
};

struct family_table {
	struct level levels[ADDR_MAX_BITS + 1];
};

struct route_table {
	struct family_table v4, v6;
	size_t count;
};

struct route_table *route_table_new(void)
{
	return calloc(1, sizeof(struct route_table));
}

static void free_prefix(struct prefix *px)
{
	for (size_t i = 0; i < px->nrecs; i++)
		free(px->recs[i].agent);
	free(px->recs);
	free(px->pool);
}

/* Several agents advertise the prefix (and no exclusion or configured route
 * comes first): they form a pool, in id order. Returns 0 or -ENOMEM. */
static int prefix_pool_update(struct prefix *px)
{
	size_t len = 0;

	free(px->pool);
	px->pool = NULL;
	if (px->nrecs < 2 || px->recs[0].src != ROUTE_ADVERTISED)
		return 0;
	for (size_t i = 0; i < px->nrecs; i++)
		len += strlen(px->recs[i].agent) + 1;
	if (!(px->pool = malloc(len)))
		return -ENOMEM;
	px->pool[0] = '\0';
	for (size_t i = 0; i < px->nrecs; i++) {
		if (i)
			strcat(px->pool, ",");
		strcat(px->pool, px->recs[i].agent);
	}
	return 0;
}

static void free_family(struct family_table *ft)
{
	for (int len = 0; len <= ADDR_MAX_BITS; len++) {
		struct level *lv = &ft->levels[len];

		for (size_t i = 0; i < lv->n; i++)
			free_prefix(&lv->v[i]);
		free(lv->v);
	}
}

void route_table_free(struct route_table *rt)
{
	if (!rt)
		return;
	free_family(&rt->v4);
	free_family(&rt->v6);
	free(rt);
}

static struct level *level_of(struct route_table *rt, int family, int len)
{
	return family == AF_INET ? &rt->v4.levels[len] : &rt->v6.levels[len];
}

static const struct level *level_get(const struct route_table *rt, int family, int len)
{
	return family == AF_INET ? &rt->v4.levels[len] : &rt->v6.levels[len];
}

/* Binary search: the index of addr in lv, or where it would go (*found false). */
static size_t level_find(const struct level *lv, const uint8_t *addr, bool *found)
{
	size_t lo = 0, hi = lv->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(lv->v[mid].addr, addr, 16);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct prefix *level_insert(struct level *lv, size_t at, const uint8_t *addr)
{
	if (lv->n == lv->cap) {
		size_t cap = lv->cap ? lv->cap * 2 : 8;
		struct prefix *v = realloc(lv->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		lv->v = v;
		lv->cap = cap;
	}
	memmove(&lv->v[at + 1], &lv->v[at], (lv->n - at) * sizeof(*lv->v));
	lv->n++;
	memset(&lv->v[at], 0, sizeof(lv->v[at]));
	memcpy(lv->v[at].addr, addr, 16);
	return &lv->v[at];
}

static void level_remove(struct level *lv, size_t at)
{
	free_prefix(&lv->v[at]);
	memmove(&lv->v[at], &lv->v[at + 1], (lv->n - at - 1) * sizeof(*lv->v));
	lv->n--;
}

/* Sorts exclusions first, then configured, then advertised by agent id. */
static int rec_cmp(enum route_source src, const char *agent, const struct rec *r)
{
	if (src != r->src)
		return src < r->src ? -1 : 1;
	if (src != ROUTE_ADVERTISED)
		return 0; /* one of these per prefix */
	return strcmp(agent, r->agent);
}

static int check_route(const struct nl_prefix *p, enum route_source src, const char *agent)
{
	int max = nl_prefix_max_len(p->family);

	if (max < 0 || p->len > max)
		return -EINVAL;
	if (src == ROUTE_EXCLUDED)
		return agent ? -EINVAL : 0;
	if (src != ROUTE_CONFIGURED && src != ROUTE_ADVERTISED)
		return -EINVAL;
	if (!agent || !*agent || strlen(agent) >= ROUTE_AGENT_MAX)
		return -EINVAL;
	return 0;
}

/* Puts the route into the prefix's sorted list, or updates the one it replaces. */
static int prefix_add(struct prefix *px, enum route_source src, const char *agent, bool *added)
{
	char *copy = NULL;
	struct rec *recs;
	size_t i = 0;
	int c = 1;

	while (i < px->nrecs && (c = rec_cmp(src, agent, &px->recs[i])) > 0)
		i++;
	*added = c != 0;
	if (!*added && (!agent || !strcmp(agent, px->recs[i].agent)))
		return 0;
	if (agent && !(copy = strdup(agent)))
		return -ENOMEM;
	if (!*added) { /* a configured route with a new agent */
		free(px->recs[i].agent);
		px->recs[i].agent = copy;
		return 0;
	}
	recs = realloc(px->recs, (px->nrecs + 1) * sizeof(*recs));
	if (!recs) {
		free(copy);
		return -ENOMEM;
	}
	px->recs = recs;
	memmove(&recs[i + 1], &recs[i], (px->nrecs - i) * sizeof(*recs));
	recs[i] = (struct rec){ src, copy };
	px->nrecs++;
	return 0;
}

int route_add(
	struct route_table *rt, const struct nl_prefix *p, enum route_source src, const char *agent)
{
	struct nl_prefix net;
	struct level *lv;
	struct prefix *px;
	bool found, added;
	size_t at;
	int err;

	err = check_route(p, src, agent);
	if (err)
		return err;
	net = *p;
	nl_prefix_mask(net.addr, net.len);
	lv = level_of(rt, net.family, net.len);
	at = level_find(lv, net.addr, &found);
	px = found ? &lv->v[at] : level_insert(lv, at, net.addr);
	if (!px)
		return -ENOMEM;
	err = prefix_add(px, src, agent, &added);
	if (!err)
		err = prefix_pool_update(px);
	if (!px->nrecs) /* a new prefix whose first route failed */
		level_remove(lv, at);
	if (!err && added)
		rt->count++;
	return err;
}

static bool rec_match(const struct rec *r, enum route_source src, const char *agent)
{
	return r->src == src && (!agent || (r->agent && !strcmp(r->agent, agent)));
}

/* Removes the matching routes of the prefix at lv->v[at] (and the prefix once
 * empty); returns how many. */
static int prefix_del(struct level *lv, size_t at, enum route_source src, const char *agent)
{
	struct prefix *px = &lv->v[at];
	size_t j = 0;
	int n = 0;

	for (size_t i = 0; i < px->nrecs; i++) {
		if (rec_match(&px->recs[i], src, agent)) {
			free(px->recs[i].agent);
			n++;
		} else {
			px->recs[j++] = px->recs[i];
		}
	}
	px->nrecs = j;
	if (!j)
		level_remove(lv, at);
	else
		prefix_pool_update(
			px); /* smaller: on no memory, lookups find the first advertiser */
	return n;
}

int route_del(
	struct route_table *rt, const struct nl_prefix *p, enum route_source src, const char *agent)
{
	struct nl_prefix net = *p;
	struct level *lv;
	bool found;
	size_t at;
	int n;

	if (nl_prefix_max_len(net.family) < net.len)
		return -ENOENT;
	nl_prefix_mask(net.addr, net.len);
	lv = level_of(rt, net.family, net.len);
	at = level_find(lv, net.addr, &found);
	if (!found)
		return -ENOENT;
	n = prefix_del(lv, at, src, agent);
	rt->count -= (size_t)n;
	return n ? 0 : -ENOENT;
}

static int family_del_agent(struct family_table *ft, enum route_source src, const char *agent)
{
	int n = 0;

	for (int len = 0; len <= ADDR_MAX_BITS; len++) {
		struct level *lv = &ft->levels[len];

		for (size_t i = lv->n; i-- > 0;)
			n += prefix_del(lv, i, src, agent);
	}
	return n;
}

int route_del_agent(struct route_table *rt, enum route_source src, const char *agent)
{
	int n;

	if (!agent)
		return 0;
	n = family_del_agent(&rt->v4, src, agent) + family_del_agent(&rt->v6, src, agent);
	rt->count -= (size_t)n;
	return n;
}

const char *route_lookup(
	const struct route_table *rt, int family, const void *addr, struct nl_prefix *matched)
{
	int max = nl_prefix_max_len(family);
	uint8_t net[16] = { 0 };
	bool found;

	if (max < 0)
		return NULL;
	for (int len = max; len >= 0; len--) {
		const struct level *lv = level_get(rt, family, len);
		size_t at;

		if (!lv->n)
			continue;
		memcpy(net, addr, (size_t)max / 8);
		nl_prefix_mask(net, len);
		at = level_find(lv, net, &found);
		if (!found)
			continue;
		if (matched) {
			*matched = (struct nl_prefix){ .family = family, .len = (uint8_t)len };
			memcpy(matched->addr, net, 16);
		}
		if (lv->v[at].pool)
			return lv->v[at].pool;
		return lv->v[at].recs[0].agent; /* NULL for an exclusion */
	}
	return NULL;
}

static int walk_family(const struct route_table *rt, int family,
	int (*fn)(const struct nl_prefix *, enum route_source, const char *, void *), void *arg)
{
	for (int len = 0; len <= nl_prefix_max_len(family); len++) {
		const struct level *lv = level_get(rt, family, len);

		for (size_t i = 0; i < lv->n; i++) {
			struct nl_prefix p = { .family = family, .len = (uint8_t)len };
			const struct prefix *px = &lv->v[i];

			memcpy(p.addr, px->addr, 16);
			for (size_t j = 0; j < px->nrecs; j++) {
				int ret = fn(&p, px->recs[j].src, px->recs[j].agent, arg);

				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

const char *route_agent_of(const struct route_table *rt, const struct nl_prefix *p)
{
	struct nl_prefix net = *p;
	bool found;

	if (nl_prefix_max_len(net.family) < net.len)
		return NULL;
	nl_prefix_mask(net.addr, net.len);
	const struct level *lv = level_get(rt, net.family, net.len);
	size_t at = level_find(lv, net.addr, &found);
	if (!found)
		return NULL;
	return lv->v[at].pool ? lv->v[at].pool : lv->v[at].recs[0].agent;
}

int route_walk(const struct route_table *rt,
	int (*fn)(const struct nl_prefix *p, enum route_source src, const char *agent, void *arg),
	void *arg)
{
	int ret = walk_family(rt, AF_INET, fn, arg);

	return ret ? ret : walk_family(rt, AF_INET6, fn, arg);
}

size_t route_count(const struct route_table *rt)
{
	return rt->count;
}
