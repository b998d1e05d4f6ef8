/* Listening sockets that survive running out of descriptors: accept errors pause them for a second. */
#include "listener.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define GUARDED_MAX 16

static struct {
	struct evconnlistener *l;
	bool paused;
} guarded[GUARDED_MAX];
static struct event *resume_timer;
static int n_guarded;

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	for (int i = 0; i < GUARDED_MAX; i++) {
		if (guarded[i].l && guarded[i].paused) {
			guarded[i].paused = false;
			evconnlistener_enable(guarded[i].l);
		}
	}
}

static void error_cb(struct evconnlistener *l, void *arg)
{
	static uint64_t logged;
	struct timeval second = { 1, 0 };
	int err = EVUTIL_SOCKET_ERROR();
	uint64_t now = clock_ms();
	(void)arg;

	if (now - logged >= 1000 || !logged) {
		log_warnx("accept: %s: not accepting for a second",
			evutil_socket_error_to_string(err));
		logged = now;
	}
	for (int i = 0; i < GUARDED_MAX; i++)
		if (guarded[i].l == l)
			guarded[i].paused = true;
	evconnlistener_disable(l);
	if (!resume_timer)
		resume_timer = evtimer_new(evconnlistener_get_base(l), resume_cb, NULL);
	if (resume_timer && !evtimer_pending(resume_timer, NULL))
		evtimer_add(resume_timer, &second);
}

void listener_guard(struct evconnlistener *l)
{
	for (int i = 0; i < GUARDED_MAX; i++) {
		if (!guarded[i].l) {
			guarded[i].l = l;
			guarded[i].paused = false;
			n_guarded++;
			evconnlistener_set_error_cb(l, error_cb);
			return;
		}
	}
}

void listener_free(struct evconnlistener *l)
{
	if (!l)
		return;
	for (int i = 0; i < GUARDED_MAX; i++) {
		if (guarded[i].l == l) {
			guarded[i].l = NULL;
			n_guarded--;
		}
	}
	evconnlistener_free(l);
	if (n_guarded == 0 && resume_timer) { /* the last one: nothing left to resume */
		event_free(resume_timer);
		resume_timer = NULL;
	}
}
