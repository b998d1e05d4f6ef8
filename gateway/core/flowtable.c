/* A role's flows: their index by key, their list, counters and limits, and what they share (loop, publisher, read buffer). */
#include "flowtable.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/lib/clock.h"
#include "gateway/lib/log.h"
#include "gateway/lib/map.h"

int flow_table_new(const struct flow_table_config *cfg, struct flow_table **out)
{
	struct flow_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->base = cfg->base;
	t->is_local = cfg->is_local;
	t->publish = cfg->publish;
	t->publish_arg = cfg->publish_arg;
	snprintf(t->name, sizeof(t->name), "%s", cfg->name);
	t->limits = cfg->limits;
	t->stats = cfg->stats;
	t->index = cfg->index;
	t->own_index = !cfg->index;
	TAILQ_INIT(&t->list);
	t->rbuf_size = FLOW_RBUF_SIZE;
	if ((t->own_index && !(t->index = map_new())) || !(t->rbuf = malloc(t->rbuf_size))) {
		flow_table_free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void flow_table_free(struct flow_table *t)
{
	if (!t)
		return;
	if (t->own_index)
		map_free(t->index);
	free(t->rbuf);
	free(t);
}

void flow_table_share_index(struct flow_table *t, struct map *index)
{
	if (t->own_index)
		map_free(t->index);
	t->index = index;
	t->own_index = false;
}

struct flow *flow_table_find(const struct flow_table *t, const char *key)
{
	return map_get(t->index, key);
}

size_t flow_table_size(const struct flow_table *t)
{
	/* a shared index's other tables' aliases count (a little early is safe) */
	return map_size(t->index) - t->aliases;
}

/* Bytes malloc has handed out (heap and mmapped chunks), at most max_age_ms old. */
static size_t table_heap(struct flow_table *t, uint64_t max_age_ms)
{
	uint64_t now = clock_ms();

	if (now - t->heap_checked_ms >= max_age_ms || !t->heap_checked_ms) {
		struct mallinfo2 mi = mallinfo2();
		t->heap_used = mi.uordblks + mi.hblkhd;
		t->heap_checked_ms = now;
	}
	return t->heap_used;
}

bool flow_table_admit(struct flow_table *t)
{
	const struct flow_limits *lim = &t->limits;
	char why[96];
	/* tombstones do not count (a shared index's other tables' do: a little early is safe) */
	size_t open = flow_table_size(t) - t->stats->lingering, heap;

	if ((int)open >= lim->max_flows)
		snprintf(why, sizeof(why), "%zu open (--max-flows %d)", open, lim->max_flows);
	else if (lim->max_memory && (heap = table_heap(t, 100)) >= lim->max_memory)
		snprintf(why, sizeof(why), "heap %zu MiB, over --max-memory %zu MiB", heap >> 20,
			lim->max_memory >> 20);
	else
		return true;
	t->stats->over_limit++;
	if (log_second_due(&t->limit_logged_ms))
		log_warnx("refusing new flows: %s", why);
	return false;
}

void flow_table_out_of_fds(struct flow_table *t, int err)
{
	t->stats->over_limit++;
	if (log_second_due(&t->fds_logged_ms))
		log_warnx("no socket for a destination: %s (such flows end at once; this line at "
			  "most once a second)",
			strerror(err));
}

size_t flow_table_cap(struct flow_table *t, size_t queued)
{
	/* only a flow with more than the tight cap queued asks, and at 1 ms it
	 * sees the heap fresh enough not to overshoot by much at any speed */
	if (queued > FLOW_TIGHT_CAP && t->limits.max_memory &&
		table_heap(t, 1) >= t->limits.max_memory)
		return FLOW_TIGHT_CAP;
	return FLOW_OUT_CAP;
}
