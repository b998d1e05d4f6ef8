/* Listening sockets that survive running out of descriptors: accept errors pause them for a second. */
#include "listener.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "log.h"

/* One per guarded listener, as many as there are: an unguarded one would spin on EMFILE. */
struct guard {
	struct evconnlistener *l;
	struct event *resume;
	char role[LOG_ROLE_MAX]; /* the role that made it, for the log line */
	struct guard *next;
};

static struct guard *guards;

static struct guard *guard_of(const struct evconnlistener *l)
{
	struct guard *g = guards;

	while (g && g->l != l)
		g = g->next;
	return g;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct guard *g = arg;

	(void)fd, (void)what;
	evconnlistener_enable(g->l);
}

static void error_cb(struct evconnlistener *l, void *arg)
{
	static uint64_t logged;
	const struct timeval second = { 1, 0 };
	int err = EVUTIL_SOCKET_ERROR();
	struct guard *g = guard_of(l);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char where[ADDR_STRLEN] = "?";
	char role[LOG_ROLE_MAX];
	(void)arg;

	if (log_second_due(&logged)) {
		if (!getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len))
			addr_format((struct sockaddr *)&ss, where, sizeof(where));
		log_get_role(role);
		log_set_role(g ? g->role : NULL);
		log_warnx("accept on %s: %s: not accepting for a second", where,
			evutil_socket_error_to_string(err));
		log_set_role(role[0] ? role : NULL);
	}
	evconnlistener_disable(l);
	if (g)
		evtimer_add(g->resume, &second);
}

int listener_guard(struct evconnlistener *l)
{
	struct guard *g = calloc(1, sizeof(*g));

	if (!g || !(g->resume = evtimer_new(evconnlistener_get_base(l), resume_cb, g))) {
		free(g);
		return -1;
	}
	g->l = l;
	log_get_role(g->role);
	g->next = guards;
	guards = g;
	evconnlistener_set_error_cb(l, error_cb);
	return 0;
}

void listener_free(struct evconnlistener *l)
{
	struct guard **pp = &guards;

	if (!l)
		return;
	while (*pp && (*pp)->l != l)
		pp = &(*pp)->next;
	if (*pp) {
		struct guard *g = *pp;
		*pp = g->next;
		event_free(g->resume);
		free(g);
	}
	evconnlistener_free(l);
}
