/* The broker URL: mqtt[s]://[user[:password]@]host[:port]/PREFIX?client_id=ID&cafile=..&cert=..&key=.. */
#ifndef N4M_MQTT_URL_H
#define N4M_MQTT_URL_H

#include <stdbool.h>
#include <stdint.h>

#define MQTT_URL_FIELD 256
#define MQTT_URL_PATH 1024
#define MQTT_DEFAULT_PREFIX "net4mqtt"

struct mqtt_url {
	bool tls;
	char host[MQTT_URL_FIELD];
	uint16_t port;
	char user[MQTT_URL_FIELD]; /* empty: no authentication */
	char password[MQTT_URL_FIELD];
	bool has_password;
	char prefix[MQTT_URL_FIELD];
	char client_id[MQTT_URL_FIELD]; /* empty: the caller picks a random one */
	char cafile[MQTT_URL_PATH];
	char capath[MQTT_URL_PATH];
	char cert[MQTT_URL_PATH];
	char key[MQTT_URL_PATH];
	bool insecure; /* ?insecure=1: skip hostname verification (testing only) */
	int keepalive; /* seconds */
};

/* Returns 0, or -EINVAL with *why set to a one-line reason. */
int mqtt_url_parse(const char *s, struct mqtt_url *u, const char **why);

#endif
