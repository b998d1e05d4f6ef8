/* Agent pools: "ag1,ag2,ag3" where one agent id goes, and which member a flow goes to. */
#include "pool.h"

#include <stdint.h>
#include <string.h>

#define POOL_MEMBER_MAX 256

void pool_walk(
	const char *spec, size_t max_len, void (*fn)(const char *member, void *arg), void *arg)
{
	char member[POOL_MEMBER_MAX];

	for (const char *p = spec; *p;) {
		size_t len = strcspn(p, ",");
		if (len && len < max_len && len < sizeof(member)) {
			memcpy(member, p, len);
			member[len] = '\0';
			fn(member, arg);
		}
		p += len + (p[len] == ',');
	}
}

/* FNV-1a over the member and the flow, then splitmix64's finaliser so that near ids spread. */
static uint64_t score(const char *member, const void *flow_id, size_t flow_len)
{
	const uint8_t *p = flow_id;
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *m = member; *m; m++)
		h = (h ^ (uint8_t)*m) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull; /* "ab"+"c" is not "a"+"bc" */
	for (size_t i = 0; i < flow_len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

struct pick {
	const void *flow_id;
	size_t flow_len;
	bool (*online)(void *ctx, const char *member);
	void *ctx;
	char *out;
	bool found;
	uint64_t best;
};

static void consider(const char *member, void *arg)
{
	struct pick *p = arg;
	uint64_t s = score(member, p->flow_id, p->flow_len);

	if (!p->out[0])
		strcpy(p->out, member); /* none online: the first */
	if (p->online(p->ctx, member) && (!p->found || s > p->best)) {
		p->found = true;
		p->best = s;
		strcpy(p->out, member);
	}
}

void pool_pick(const char *spec, const void *flow_id, size_t flow_len,
	bool (*online)(void *ctx, const char *member), void *ctx, char *out, size_t out_size)
{
	struct pick p = { flow_id, flow_len, online, ctx, out, false, 0 };

	out[0] = '\0';
	pool_walk(spec, out_size, consider, &p);
}
