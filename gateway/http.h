/* The status server (libevent's evhttp): the page at /, /metrics for Prometheus, /status JSON, /status.txt. */
#ifndef N4M_HTTP_H
#define N4M_HTTP_H

#include <stdio.h>

struct event_base;
struct evbuffer;
struct hub;
struct http_status;

#define HTTP_STATUS_FLOWS_MAX 1000	       /* flows listed in /status; all are counted */
#define HTTP_CONFIG_HEADER "X-Net4mqtt-Config" /* the config file's absolute path, if any */

/* Listens on addr (IP:PORT, [IPv6]:PORT); with a password (not NULL or ""), every path asks
 * for it (HTTP basic auth, any user name). 0 or -errno. */
int http_status_start(struct event_base *base, const char *addr, const char *password,
	struct hub *hub, struct http_status **out);
void http_status_free(struct http_status *h); /* accepts NULL */

/* The documents, into out (for the server, and for tests). */
void http_status_metrics(struct hub *hub, struct evbuffer *out);
void http_status_json(struct hub *hub, struct evbuffer *out);
void http_status_text(struct hub *hub, struct evbuffer *out);

/* `net4mqtt status`: GETs path from the server on addr and writes the body to out. With config
 * (an absolute path) not NULL, only if that server's process runs that file; with password
 * not NULL, sends it. 0, or -errno after saying why on stderr. */
int http_status_fetch(
	const char *addr, const char *path, const char *config, const char *password, FILE *out);

#endif
