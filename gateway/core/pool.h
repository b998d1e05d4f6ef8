/* Agent pools: "ag1,ag2,ag3" where one agent id goes, and which member a flow goes to. */
#ifndef N4M_POOL_H
#define N4M_POOL_H

#include <stdbool.h>
#include <stddef.h>

/* Calls fn for each member of spec (one id, or a comma-separated list; empty members and
 * members of max_len bytes or more are skipped). */
void pool_walk(
	const char *spec, size_t max_len, void (*fn)(const char *member, void *arg), void *arg);

/*
 * The member of spec a flow goes to: among those online(ctx, member) says are,
 * the one whose hash with the flow's identity (flow_id, flow_len bytes) is the
 * highest (rendezvous hashing: a flow keeps its member while that member is
 * online, and a member that leaves or joins moves only its own share). With
 * none online, the first member. Written to out (out_size bytes, each member
 * shorter); "" if spec has no member.
 */
void pool_pick(const char *spec, const void *flow_id, size_t flow_len,
	bool (*online)(void *ctx, const char *member), void *ctx, char *out, size_t out_size);

#endif
