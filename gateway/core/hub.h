/* One MQTT connection shared by the roles (nodes) of a process: its will, subscriptions and dispatch. */
#ifndef N4M_HUB_H
#define N4M_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "mqtt/url.h"
#include "status.h"

struct event_base;
struct mqtt_client;
struct map;
struct node;

#define HUB_NODES_MAX 16

struct hub {
	struct event_base *base;
	struct mqtt_client *mqtt;
	struct mqtt_url url;
	char client_id[MQTT_URL_FIELD];
	struct node *nodes[HUB_NODES_MAX];
	int n_nodes;
	struct map *local_flows; /* every local role's flows: locals may share an id */
	const char *config_path; /* the file of `run -c`, absolute; NULL for a role command */
	struct node *will_owner; /* whose offline status the will is */
	char will[STATUS_JSON_MAX];
	uint64_t epoch; /* of the last connection (ms since 1970), for keyed nodes' statuses */
	void (*stopped)(void *arg);
	void *stopped_arg;
};

int hub_init(struct hub *h, struct event_base *base, const struct mqtt_url *url);
/* Adds a node (after node_init, before hub_open); -ENOSPC, or -EEXIST for a second agent with its id. */
int hub_add(struct hub *h, struct node *n);
/* Creates the connection: its will says offline for the first agent, else the first node. */
int hub_open(struct hub *h);
/* Starts connecting (after the roles started). */
int hub_start(struct hub *h);
/* Stops every node, then disconnects; stopped(arg) runs once the broker has it (or a timeout). */
void hub_stop(struct hub *h, void (*stopped)(void *arg), void *arg);
/* Frees the connection (not the nodes). */
void hub_free(struct hub *h);

#endif
