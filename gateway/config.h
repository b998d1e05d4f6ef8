/* The file of `net4mqtt run -c`: an INI file (libinih) of process-wide keys and one section per role. */
#ifndef N4M_CONFIG_H
#define N4M_CONFIG_H

#include <limits.h>
#include <stdio.h>

#include "gateway/core/hub.h"
#include "gateway/core/node.h"
#include "mqtt/url.h"
#include "options.h"

#define CONFIG_ROLES_MAX HUB_NODES_MAX
#define CONFIG_SECTION "net4mqtt" /* the process-wide keys */
#define CONFIG_STATUS_LISTEN "127.0.0.1:9810"

struct config_role {
	const struct command *cmd;
	char name[64]; /* its section: "agent", "local-port web" */
	int line;      /* of the section header */
	struct node_config cfg;
	void *role_cfg; /* the role's own options: cmd->role->config_size bytes */
};

struct config {
	char path[PATH_MAX];
	int verbose;		/* log-level: error -1, warn 0, info 1, debug 2, trace 3 */
	bool log_syslog;	/* log = syslog */
	char user[64];		/* "" stay root */
	char status_listen[64]; /* "" no HTTP status */
	bool status_listen_set; /* by the file: else run's --default-status-listen */
	char status_password[BASIC_AUTH_PASSWORD_MAX]; /* "" none: loopback only */
	struct mqtt_url url;
	struct mqtt_opts mqtt; /* password-file, cafile, ...: put into url when all is read */
	struct config_role roles[CONFIG_ROLES_MAX];
	int n_roles;
};

/* Reads path into c. Returns 0, or EXIT_USAGE after writing one
 * "FILE:LINE: KEY: why" line per error to errors. Free c with config_free
 * either way. */
int config_load(const char *path, struct config *c, FILE *errors);
/* Frees what c holds (its roles' options); c itself is the caller's. */
void config_free(struct config *c);
/* Adds a role of command cmd named name, with its defaults (and base's
 * node options if not NULL); NULL when there are CONFIG_ROLES_MAX already or
 * no memory. */
struct config_role *config_add_role(struct config *c, const struct command *cmd, const char *name,
	const struct node_config *base);

/* The role of c named name ("local-port web"), or NULL. */
const struct config_role *config_role_named(const struct config *c, const char *name);

#endif
