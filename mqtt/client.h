/* libmosquitto driven from the libevent loop: connect, reconnect with backoff, publish with a byte backlog. */
#ifndef N4M_MQTT_CLIENT_H
#define N4M_MQTT_CLIENT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct mqtt_url;
struct mqtt_broker;
struct mqtt_client;

enum mqtt_log_level { MQTT_LOG_WARN, MQTT_LOG_INFO, MQTT_LOG_TRACE };

struct mqtt_will {
	const char *topic;
	const void *payload;
	size_t len;
};

struct mqtt_client_ops {
	void (*on_connect)(void *arg);	  /* CONNACK accepted: subscribe and say hello here */
	void (*on_disconnect)(void *arg); /* connection lost; a reconnect is scheduled */
	void (*on_message)(void *arg, const char *topic, const void *payload, size_t len);
	void (*on_congested)(void *arg); /* backlog rose above the high watermark: stop producing */
	void (*on_drain)(void *arg);	 /* backlog fell below the low watermark: go on */
	/* what the client has to say (connects, losses, libmosquitto's own
	 * messages): one line, printf-style, not yet formatted so that a level
	 * nobody reads costs nothing; NULL: nothing is said */
	void (*on_log)(void *arg, enum mqtt_log_level level, const char *fmt, va_list ap);
	/* the will for the next connection, asked before each attempt; NULL: the one given to
	 * mqtt_client_new, always */
	void (*will)(void *arg, struct mqtt_will *will);
};

int mqtt_client_new(struct event_base *base, const struct mqtt_url *url, const char *client_id,
	const struct mqtt_will *will, const struct mqtt_client_ops *ops, void *arg,
	struct mqtt_client **out);
void mqtt_client_free(struct mqtt_client *c);

/* Starts connecting; failures are retried with backoff. */
int mqtt_client_start(struct mqtt_client *c);

int mqtt_client_subscribe(struct mqtt_client *c, const char *pattern);
/* QoS 0 data publish; returns 0, -ENOTCONN, -EMSGSIZE or -ENOMEM. */
int mqtt_client_publish(struct mqtt_client *c, const char *topic, const void *payload, size_t len);
/* QoS 1 retained publish (status). */
int mqtt_client_publish_retained(
	struct mqtt_client *c, const char *topic, const void *payload, size_t len);

bool mqtt_client_connected(const struct mqtt_client *c);
/* Above the high watermark of bytes handed to libmosquitto and not yet written? */
bool mqtt_client_congested(const struct mqtt_client *c);
size_t mqtt_client_backlog(const struct mqtt_client *c);
unsigned long mqtt_client_reconnects(const struct mqtt_client *c);
/* The broker of the url's list connected to, or tried next. */
const struct mqtt_broker *mqtt_client_broker(const struct mqtt_client *c);

/* Sends DISCONNECT after what is queued; done() runs when it is written or after a timeout. */
void mqtt_client_shutdown(struct mqtt_client *c, void (*done)(void *arg));

#endif
