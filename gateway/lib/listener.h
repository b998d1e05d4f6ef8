/* Listening sockets that survive running out of descriptors: accept errors pause them for a second. */
#ifndef N4M_LISTENER_H
#define N4M_LISTENER_H

struct evconnlistener;

/* An accept error (EMFILE, ENFILE, ENOBUFS...) makes libevent retry at once,
 * forever: a guarded listener pauses for a second instead, saying so (with the
 * role that guarded it and its address) at most once a second. Free it with
 * listener_free. 0, or -1 out of memory (the listener is left unguarded). */
int listener_guard(struct evconnlistener *l);
void listener_free(struct evconnlistener *l); /* accepts NULL */

#endif
