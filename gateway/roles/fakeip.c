/* The fake-ip pool: slots of names, their addresses, and recycling of the least recently used. */
#include "fakeip.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/lib/map.h"

struct slot {
	struct fakeip_entry e; /* first: an entry is its slot */
	char *name, *agent;    /* owned; e.name and e.agent point here */
	struct slot *newer, *older;
	uint64_t used_ms;
};

struct fakeip_pool {
	struct fakeip_ranges ranges;
	struct slot *slots;
	uint32_t capacity;
	uint32_t nused;	    /* slots holding a name: a slot is only ever recycled, never freed */
	uint32_t next_free; /* no free slot below it */
	uint32_t hold_ms;
	uint64_t changes;
	uint64_t now_ms; /* the latest time seen, so the LRU list stays ordered by time */
	struct slot *newest, *oldest;
	struct map *names; /* name -> struct slot */
};

void fakeip_ranges_default(struct fakeip_ranges *r)
{
	nl_prefix_parse(FAKEIP_RANGE4_DEFAULT, &r->net4, NULL);
	nl_prefix_parse(FAKEIP_RANGE6_DEFAULT, &r->net6, NULL);
}

const char *fakeip_range_refused(const struct nl_prefix *p, bool masked)
{
	if (p->family == AF_INET && (p->len < FAKEIP_PREFIX4_MIN || p->len > FAKEIP_PREFIX4_MAX))
		return "an IPv4 range wants a prefix length of /8 to /30";
	if (p->family == AF_INET6 && (p->len < FAKEIP_PREFIX6_MIN || p->len > FAKEIP_PREFIX6_MAX))
		return "an IPv6 range wants a prefix length of /8 to /120";
	if (p->family != AF_INET && p->family != AF_INET6)
		return "not an IPv4 or IPv6 prefix";
	if (masked)
		return "host bits are set (give the network address)";
	return NULL;
}

/* Addresses of a prefix with host_bits, its network and last address aside, up to the max. */
static uint32_t room(int host_bits)
{
	return host_bits >= 17 ? FAKEIP_CAPACITY_MAX : (uint32_t)((1u << host_bits) - 2);
}

uint32_t fakeip_ranges_capacity(const struct fakeip_ranges *r)
{
	uint32_t n4, n6;

	if (r->net4.family != AF_INET || r->net6.family != AF_INET6 ||
		fakeip_range_refused(&r->net4, false) || fakeip_range_refused(&r->net6, false))
		return 0;
	n4 = room(32 - r->net4.len);
	n6 = room(128 - r->net6.len);
	return n4 < n6 ? n4 : n6;
}

static const struct nl_prefix *range_of(const struct fakeip_ranges *r, int family)
{
	return family == AF_INET ? &r->net4 : family == AF_INET6 ? &r->net6 : NULL;
}

void fakeip_range_addr(const struct fakeip_ranges *r, uint32_t index, int family, uint8_t *ip)
{
	const struct nl_prefix *net = range_of(r, family);
	size_t n = family == AF_INET ? 4 : 16;
	uint32_t host = index + 1;

	if (!net)
		return;
	memcpy(ip, net->addr, n);
	/* the host part is at most FAKEIP_CAPACITY_MAX: it fits the last bytes, whose
	 * prefix bits are those of the network */
	for (size_t i = n; i-- > n - 4 && host; host >>= 8)
		ip[i] |= (uint8_t)(host & 0xff);
}

struct fakeip_pool *fakeip_new(
	const struct fakeip_ranges *ranges, uint32_t capacity, uint32_t hold_ms)
{
	struct fakeip_pool *p;
	struct fakeip_ranges def;
	uint32_t most;

	if (!ranges) {
		fakeip_ranges_default(&def);
		ranges = &def;
	}
	most = fakeip_ranges_capacity(ranges);
	if (!capacity)
		capacity = most;
	if (!capacity || capacity > most)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ranges = *ranges;
	p->slots = calloc(capacity, sizeof(*p->slots));
	if (!p->slots)
		goto err_free;
	p->names = map_new();
	if (!p->names)
		goto err_free_slots;
	p->capacity = capacity;
	p->hold_ms = hold_ms;
	return p;

err_free_slots:
	free(p->slots);
err_free:
	free(p);
	return NULL;
}

void fakeip_free(struct fakeip_pool *p)
{
	if (!p)
		return;
	map_free(p->names);
	for (uint32_t i = 0; i < p->capacity; i++) {
		free(p->slots[i].name);
		free(p->slots[i].agent);
	}
	free(p->slots);
	free(p);
}

static void lru_unlink(struct fakeip_pool *p, struct slot *s)
{
	if (s->newer)
		s->newer->older = s->older;
	else
		p->newest = s->older;
	if (s->older)
		s->older->newer = s->newer;
	else
		p->oldest = s->newer;
	s->newer = s->older = NULL;
}

static void lru_push(struct fakeip_pool *p, struct slot *s)
{
	s->older = p->newest;
	s->newer = NULL;
	if (p->newest)
		p->newest->newer = s;
	else
		p->oldest = s;
	p->newest = s;
}

/* Marks s used now; s must be linked, or be a slot just taken. */
static void touch(struct fakeip_pool *p, struct slot *s, bool linked)
{
	if (linked && p->newest != s) {
		lru_unlink(p, s);
		lru_push(p, s);
	} else if (!linked) {
		lru_push(p, s);
	}
	s->used_ms = p->now_ms;
}

static void tick(struct fakeip_pool *p, uint64_t now_ms)
{
	if (now_ms > p->now_ms)
		p->now_ms = now_ms;
}

/* Copies name to key in lower case: DNS names compare without case (RFC 4343). */
static int fold_name(const char *name, char *key)
{
	size_t len = strnlen(name, FAKEIP_NAME_MAX + 1);

	if (!len || len > FAKEIP_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		key[i] = c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
	}
	key[len] = '\0';
	return 0;
}

/* A free slot, lowest index first, else the oldest if its hold is over. */
static struct slot *pick_slot(struct fakeip_pool *p)
{
	struct slot *s = p->oldest;

	if (p->nused < p->capacity) {
		while (p->slots[p->next_free].name)
			p->next_free++; /* nused < capacity: there is one */
		return &p->slots[p->next_free];
	}
	if (s && p->now_ms - s->used_ms >= p->hold_ms)
		return s;
	return NULL;
}

/* Gives key a slot; nothing changes unless it succeeds. */
static int take_slot(struct fakeip_pool *p, const char *key, const char *agent, struct slot **out)
{
	struct slot *s = pick_slot(p);
	char *name, *agent_copy;

	if (!s)
		return -ENOSPC;
	name = strdup(key);
	agent_copy = strdup(agent);
	if (!name || !agent_copy)
		goto err_free;
	if (map_put(p->names, name, s))
		goto err_free;
	if (s->name) {
		map_del(p->names, s->name);
		lru_unlink(p, s);
		free(s->name);
		free(s->agent);
	} else {
		p->nused++;
	}
	s->name = name;
	s->agent = agent_copy;
	s->e.name = name;
	s->e.agent = agent_copy;
	s->e.index = (uint32_t)(s - p->slots);
	s->e.ranges = &p->ranges;
	p->changes++;
	touch(p, s, false);
	*out = s;
	return 0;

err_free:
	free(agent_copy);
	free(name);
	return -ENOMEM;
}

static int set_agent(struct fakeip_pool *p, struct slot *s, const char *agent)
{
	char *copy;

	if (!strcmp(s->agent, agent))
		return 0;
	p->changes++;
	copy = strdup(agent);
	if (!copy)
		return -ENOMEM;
	free(s->agent);
	s->agent = copy;
	s->e.agent = copy;
	return 0;
}

int fakeip_assign(struct fakeip_pool *p, const char *name, const char *agent, bool agent_default,
	uint64_t now_ms, const struct fakeip_entry **out)
{
	char key[FAKEIP_NAME_MAX + 1];
	struct slot *s;
	size_t agent_len;
	int ret;

	if (!p || !name || !agent || !out)
		return -EINVAL;
	ret = fold_name(name, key);
	if (ret)
		return ret;
	agent_len = strnlen(agent, FAKEIP_AGENT_MAX + 1);
	if (!agent_len || agent_len > FAKEIP_AGENT_MAX)
		return -EINVAL;
	tick(p, now_ms);
	s = map_get(p->names, key);
	if (s) {
		ret = set_agent(p, s, agent);
		if (ret)
			return ret;
		touch(p, s, true);
	} else {
		ret = take_slot(p, key, agent, &s);
		if (ret)
			return ret;
	}
	if (s->e.agent_default != agent_default)
		p->changes++;
	s->e.agent_default = agent_default;
	*out = &s->e;
	return 0;
}

int fakeip_restore(struct fakeip_pool *p, uint32_t index, const char *name, const char *agent,
	bool agent_default, uint64_t now_ms)
{
	char key[FAKEIP_NAME_MAX + 1];
	struct slot *s;
	size_t agent_len;
	int ret;

	if (!p || !name || !agent || index >= p->capacity)
		return -EINVAL;
	if ((ret = fold_name(name, key)))
		return ret;
	agent_len = strnlen(agent, FAKEIP_AGENT_MAX + 1);
	if (!agent_len || agent_len > FAKEIP_AGENT_MAX)
		return -EINVAL;
	s = &p->slots[index];
	if (s->name || map_get(p->names, key))
		return -EEXIST;
	tick(p, now_ms);
	s->name = strdup(key);
	s->agent = strdup(agent);
	if (!s->name || !s->agent || map_put(p->names, s->name, s)) {
		free(s->name);
		free(s->agent);
		s->name = s->agent = NULL;
		return -ENOMEM;
	}
	p->nused++;
	s->e.name = s->name;
	s->e.agent = s->agent;
	s->e.agent_default = agent_default;
	s->e.index = index;
	s->e.ranges = &p->ranges;
	p->changes++;
	touch(p, s, false);
	return 0;
}

bool fakeip_contains(const struct fakeip_pool *p, int family, const uint8_t *ip)
{
	const struct nl_prefix *net = p ? range_of(&p->ranges, family) : NULL;

	return ip && net && nl_prefix_contains(net, ip);
}

/* The host part of ip (of net's family, inside net): slot index + 1 for an
 * address of the pool; false when it is past 32 bits. */
static bool host_part(const struct nl_prefix *net, const uint8_t *ip, uint32_t *host)
{
	size_t n = net->family == AF_INET ? 4 : 16;
	uint8_t h[16];

	memcpy(h, ip, n);
	for (size_t i = 0; i < n && i * 8 < net->len; i++)
		h[i] &= (i + 1) * 8 <= net->len ? 0 : (uint8_t)(0xff >> (net->len - i * 8));
	for (size_t i = 0; i + 4 < n; i++)
		if (h[i])
			return false;
	*host = (uint32_t)h[n - 4] << 24 | (uint32_t)h[n - 3] << 16 | (uint32_t)h[n - 2] << 8 |
		h[n - 1];
	return true;
}

const struct fakeip_entry *fakeip_lookup(
	struct fakeip_pool *p, int family, const uint8_t *ip, uint64_t now_ms)
{
	struct slot *s;
	uint32_t host;

	if (!p || !fakeip_contains(p, family, ip) ||
		!host_part(range_of(&p->ranges, family), ip, &host))
		return NULL;
	if (!host || host > p->capacity || !p->slots[host - 1].name)
		return NULL;
	s = &p->slots[host - 1];
	tick(p, now_ms);
	touch(p, s, true);
	return &s->e;
}

void fakeip_addr(const struct fakeip_entry *e, int family, uint8_t *ip)
{
	fakeip_range_addr(e->ranges, e->index, family, ip);
}

size_t fakeip_size(const struct fakeip_pool *p)
{
	return p ? p->nused : 0;
}

const struct fakeip_ranges *fakeip_pool_ranges(const struct fakeip_pool *p)
{
	return &p->ranges;
}

uint32_t fakeip_capacity(const struct fakeip_pool *p)
{
	return p ? p->capacity : 0;
}

void fakeip_walk(
	const struct fakeip_pool *p, void (*fn)(const struct fakeip_entry *e, void *arg), void *arg)
{
	for (const struct slot *s = p ? p->oldest : NULL; s; s = s->newer)
		fn(&s->e, arg);
}

uint64_t fakeip_changes(const struct fakeip_pool *p)
{
	return p ? p->changes : 0;
}
