/* The fake-ip pool: slots of names, their addresses, and recycling of the least recently used. */
#include "fakeip.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/lib/map.h"

const uint8_t fakeip_net4[4] = { 198, 19, 0, 0 };
const uint8_t fakeip_net6[16] = { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x00, 0x01 };

struct slot {
	struct fakeip_entry e; /* first: an entry is its slot */
	char *name, *agent;    /* owned; e.name and e.agent point here */
	struct slot *newer, *older;
	uint64_t used_ms;
};

struct fakeip_pool {
	struct slot *slots;
	uint32_t capacity;
	uint32_t
		nused; /* slots [0, nused) hold a name: a slot is only ever recycled, never freed */
	uint32_t hold_ms;
	uint64_t now_ms; /* the latest time seen, so the LRU list stays ordered by time */
	struct slot *newest, *oldest;
	struct map *names; /* name -> struct slot */
};

struct fakeip_pool *fakeip_new(uint32_t capacity, uint32_t hold_ms)
{
	struct fakeip_pool *p;

	if (!capacity || capacity > FAKEIP_CAPACITY_MAX)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
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
	for (uint32_t i = 0; i < p->nused; i++) {
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

	if (p->nused < p->capacity)
		return &p->slots[p->nused];
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
	touch(p, s, false);
	*out = s;
	return 0;

err_free:
	free(agent_copy);
	free(name);
	return -ENOMEM;
}

static int set_agent(struct slot *s, const char *agent)
{
	char *copy;

	if (!strcmp(s->agent, agent))
		return 0;
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
		ret = set_agent(s, agent);
		if (ret)
			return ret;
		touch(p, s, true);
	} else {
		ret = take_slot(p, key, agent, &s);
		if (ret)
			return ret;
	}
	s->e.agent_default = agent_default;
	*out = &s->e;
	return 0;
}

bool fakeip_contains(int family, const uint8_t *ip)
{
	if (!ip)
		return false;
	if (family == AF_INET)
		return !memcmp(ip, fakeip_net4, FAKEIP_PREFIX4_LEN / 8);
	if (family == AF_INET6)
		return !memcmp(ip, fakeip_net6, FAKEIP_PREFIX6_LEN / 8);
	return false;
}

/* The host part of ip within the prefix: slot index + 1 for an address of the pool. */
static uint64_t host_part(int family, const uint8_t *ip)
{
	uint64_t v = 0;

	if (family == AF_INET)
		return (uint64_t)ip[2] << 8 | ip[3];
	for (int i = FAKEIP_PREFIX6_LEN / 8; i < 16; i++)
		v = v << 8 | ip[i];
	return v;
}

const struct fakeip_entry *fakeip_lookup(
	struct fakeip_pool *p, int family, const uint8_t *ip, uint64_t now_ms)
{
	struct slot *s;
	uint64_t host;

	if (!p || !fakeip_contains(family, ip))
		return NULL;
	host = host_part(family, ip);
	if (!host || host > p->nused)
		return NULL;
	s = &p->slots[host - 1];
	tick(p, now_ms);
	touch(p, s, true);
	return &s->e;
}

void fakeip_addr(const struct fakeip_entry *e, int family, uint8_t *ip)
{
	uint32_t host = e->index + 1;

	if (family == AF_INET) {
		memcpy(ip, fakeip_net4, 4);
		ip[2] = host >> 8;
		ip[3] = host & 0xff;
	} else if (family == AF_INET6) {
		memcpy(ip, fakeip_net6, 16);
		ip[12] = host >> 24;
		ip[13] = (host >> 16) & 0xff;
		ip[14] = (host >> 8) & 0xff;
		ip[15] = host & 0xff;
	}
}

size_t fakeip_size(const struct fakeip_pool *p)
{
	return p ? p->nused : 0;
}
