/* The roles a node can run. */
#ifndef N4M_ROLES_H
#define N4M_ROLES_H

#include "node.h"

extern const struct role_ops agent_role;
extern const struct role_ops local_port_role;
extern const struct role_ops local_socks_role;

#endif
