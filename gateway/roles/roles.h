/* The roles a node can run. */
#ifndef N4M_ROLES_H
#define N4M_ROLES_H

#include "gateway/core/node.h"

extern const struct role_ops agent_role;
extern const struct role_ops local_port_role;
extern const struct role_ops local_socks_role;
extern const struct role_ops gateway_role;

struct flow;
enum flow_kind;
/* Opens a local's flow from client src ("ip:port") to dst through agent,
 * replacing a flow (or tombstone) with the same addresses. */
struct flow *local_open_flow_named(struct node *n, enum flow_kind kind, enum mqtt_proto proto,
	const char *src, const char *agent, const char *dst);
/* What every local does with data from MQTT: hand it to its flow. */
void local_on_data(struct node *n, const struct mqtt_topic *t, const uint8_t *payload, size_t len);

#endif
