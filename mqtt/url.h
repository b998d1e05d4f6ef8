/* The broker URL: mqtt[s]://[user[:password]@]host[:port][,host[:port]...]/PREFIX?client_id=ID&cafile=..&cert=..&key=..&tls_version=..&sni=..
 * Several comma-separated brokers (a cluster's nodes) share the scheme, credentials, prefix and query. */
#ifndef N4M_MQTT_URL_H
#define N4M_MQTT_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQTT_URL_FIELD 256
#define MQTT_URL_PATH 1024
#define MQTT_DEFAULT_PREFIX "net4mqtt"
#define MQTT_URL_BROKERS 8 /* at most this many host[:port] in the list */

struct mqtt_broker {
	char host[MQTT_URL_FIELD];
	uint16_t port;
};

struct mqtt_url {
	bool tls;
	char host[MQTT_URL_FIELD]; /* the first broker of the list */
	uint16_t port;
	struct mqtt_broker brokers[MQTT_URL_BROKERS]; /* tried in turn, round robin */
	int n_brokers;				      /* 1.. MQTT_URL_BROKERS */
	char user[MQTT_URL_FIELD];		      /* empty: no authentication */
	char password[MQTT_URL_FIELD];
	bool has_password;
	char prefix[MQTT_URL_FIELD];
	char client_id[MQTT_URL_FIELD]; /* empty: the caller picks a random one */
	char cafile[MQTT_URL_PATH];
	char capath[MQTT_URL_PATH];
	char cert[MQTT_URL_PATH];
	char key[MQTT_URL_PATH];
	bool insecure; /* ?insecure=1: skip hostname verification (testing only) */
	char tls_version
		[16]; /* ?tls_version=tlsv1.2|tlsv1.3; empty: libmosquitto's default (1.2 or newer) */
	char sni[MQTT_URL_FIELD]; /* ?sni=NAME: the name sent and verified; empty: the broker's host */
	int keepalive;		  /* seconds */
};

/* Returns 0, or -EINVAL with *why set to a one-line reason. */
int mqtt_url_parse(const char *s, struct mqtt_url *u, const char **why);

/* "host:port" ([v6]:port) of broker i; "h1:p1,h2:p2" of all of them with i < 0. */
void mqtt_url_brokers_str(const struct mqtt_url *u, int i, char *buf, size_t len);

#endif
