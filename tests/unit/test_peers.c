/* Unit tests of gateway/core/peers: what each peer's status says, and what a new status changes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "gateway/core/peers.h"
#include "gateway/core/status.h"

#define ONLINE_AGENT "{\"online\":true,\"id\":\"a\",\"role\":\"agent\",\"max_packet\":65536}"

static enum peer_change update(struct peers *p, const char *agent, const char *local,
	const char *payload, const struct status **st)
{
	return peers_update(p, agent, local, payload, strlen(payload), st);
}

static void test_online_offline_cleared(void **state)
{
	struct peers *p = peers_new(PEERS_MAX);
	const struct status *st;
	(void)state;

	assert_non_null(p);
	assert_null(peers_get(p, "a", "-"));
	/* a will for a peer never seen: known offline, nothing changed */
	assert_int_equal(update(p, "a", "-", STATUS_WILL, &st), PEER_UNCHANGED);
	assert_non_null(st);
	assert_false(st->online);
	/* online, with what its status says; every online status says so again */
	assert_int_equal(update(p, "a", "-", ONLINE_AGENT, &st), PEER_ONLINE);
	assert_true(st->online);
	assert_string_equal(st->role, "agent");
	assert_int_equal(st->max_packet, 65536);
	assert_int_equal(update(p, "a", "-", ONLINE_AGENT, &st), PEER_ONLINE);
	assert_ptr_equal(peers_get(p, "a", "-"), st);
	/* its will: gone offline once, then offline still */
	assert_int_equal(update(p, "a", "-", STATUS_WILL, &st), PEER_WENT_OFFLINE);
	assert_false(peers_get(p, "a", "-")->online);
	assert_int_equal(update(p, "a", "-", STATUS_WILL, &st), PEER_UNCHANGED);
	/* the retained status cleared: unknown again */
	assert_int_equal(peers_update(p, "a", "-", "", 0, &st), PEER_UNCHANGED);
	assert_null(st);
	assert_null(peers_get(p, "a", "-"));
	/* online, then cleared: that is going offline too */
	assert_int_equal(update(p, "a", "-", ONLINE_AGENT, NULL), PEER_ONLINE);
	assert_int_equal(peers_update(p, "a", "-", "", 0, NULL), PEER_WENT_OFFLINE);
	assert_null(peers_get(p, "a", "-"));
	peers_free(p);
}

static void count(const char *key, const struct status *st, void *arg)
{
	int *n = arg;

	assert_true(!strcmp(key, "a/-") || !strcmp(key, "-/l"));
	*n += st->online ? 1 : 100;
}

static void test_peers_apart(void **state)
{
	struct peers *p = peers_new(PEERS_MAX);
	int n = 0;
	(void)state;

	/* an agent and a local with the same id are two peers; liveman's rule: > 5 bytes is online */
	assert_int_equal(update(p, "a", "-", ONLINE_AGENT, NULL), PEER_ONLINE);
	assert_int_equal(update(p, "-", "l", "hello!", NULL), PEER_ONLINE);
	assert_int_equal(peers_get(p, "-", "l")->max_packet, 0);
	assert_null(peers_get(p, "-", "a"));
	peers_walk(p, count, &n);
	assert_int_equal(n, 2);
	peers_free(p);
	peers_free(NULL);
}

static void test_bounded(void **state)
{
	struct peers *p = peers_new(2);
	(void)state;

	/* full: a newcomer is refused, what is known still updates */
	assert_int_equal(update(p, "a", "-", ONLINE_AGENT, NULL), PEER_ONLINE);
	assert_int_equal(update(p, "b", "-", ONLINE_AGENT, NULL), PEER_ONLINE);
	assert_int_equal(update(p, "c", "-", ONLINE_AGENT, NULL), PEER_REFUSED);
	assert_int_equal(update(p, "c", "-", STATUS_WILL, NULL), PEER_REFUSED);
	assert_null(peers_get(p, "c", "-"));
	assert_int_equal(update(p, "a", "-", STATUS_WILL, NULL), PEER_WENT_OFFLINE);
	/* an online newcomer takes the place of the peer known offline; an offline one does not */
	assert_int_equal(update(p, "d", "-", STATUS_WILL, NULL), PEER_REFUSED);
	assert_int_equal(update(p, "c", "-", ONLINE_AGENT, NULL), PEER_ONLINE);
	assert_null(peers_get(p, "a", "-"));
	assert_non_null(peers_get(p, "b", "-"));
	assert_int_equal(peers_count(p), 2);
	assert_int_equal(update(p, "e", "-", ONLINE_AGENT, NULL), PEER_REFUSED);
	peers_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_online_offline_cleared),
		cmocka_unit_test(test_peers_apart),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
