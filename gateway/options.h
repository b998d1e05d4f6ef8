/* The commands and their options: one table read by the command line and by the config file. */
#ifndef N4M_OPTIONS_H
#define N4M_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "gateway/lib/basicauth.h"
#include "mqtt/url.h"

struct node_config;
struct role_ops;
struct binding;

#define EXIT_USAGE 2
#define OPT_ERR_MAX 320
#define DEFAULT_MAX_FLOWS 16384
#define DEFAULT_MAX_MEMORY_MIB 512 /* of heap: leaves room on a 1 GiB appliance */
#define DEFAULT_MQTT_URL "mqtt://localhost:1883/net4mqtt"

enum long_only_option { /* past every short option's character */
	OPT_ADVERTISE = 256,
	OPT_AUTO_ROUTES,
	OPT_DNS,
	OPT_DNS_HIJACK,
	OPT_REMOTE_DOMAIN,
	OPT_DNS_UPSTREAM,
	OPT_ALLOW,
	OPT_SOCKS_USER,
	OPT_MAX_FLOWS,
	OPT_MAX_MEMORY,
	OPT_USER,
	OPT_STATUS_LISTEN,
	OPT_STATUS_PASSWORD,
	OPT_PLAIN_STREAMS,
	OPT_PACKET_SIZE,
	OPT_TABLE,
	OPT_RULE_PRIORITY,
	OPT_FAKE_IP_RANGE,
	OPT_FAKE_IP_CACHE,
	OPT_BYPASS,
	OPT_PASSWORD_FILE,
	OPT_CAFILE,
	OPT_CAPATH,
	OPT_CERT,
	OPT_KEY,
	OPT_INSECURE,
	OPT_TLS_VERSION,
	OPT_SNI,
	OPT_MAX_FLOWS_PER_PEER,
	OPT_UNUSED_TIMEOUT,
	OPT_SEAL_KEY,
	OPT_SEAL_PEER,
	OPT_SEAL_PEERS,
	OPT_END /* past the last */
};

#define MQTT_PASSWORD_ENV "NET4MQTT_PASSWORD"

/* The MQTT connection's options beside its URL, as mosquitto_sub has them; "" or false: not given. */
struct mqtt_opts {
	char password_file[MQTT_URL_PATH];
	char cafile[MQTT_URL_PATH];
	char capath[MQTT_URL_PATH];
	char cert[MQTT_URL_PATH];
	char key[MQTT_URL_PATH];
	bool insecure;
	char tls_version[16];
	char sni[MQTT_URL_FIELD];
};

/* A command that runs one role, and where each of its options goes. */
struct command {
	const char *name;
	const char *summary;
	const char *usage;
	const struct role_ops *role;
	const char *shortopts;
	const struct binding *bindings;	  /* its options, past those of every command */
	void (*defaults)(void *role_cfg); /* beyond all zeros; NULL: none */
	/* the role's options once all are in: checks, and fills in defaults that depend on others */
	int (*check)(void *role_cfg, const struct node_config *node, char *err);
};

extern const struct command option_commands[];
extern const size_t option_n_commands;
extern const struct option option_long[]; /* getopt_long's table */

const struct command *option_command(const char *name);
void option_usage(const struct command *c, FILE *out);

/* The option a long name ("max-flows") stands for, or -1. */
int option_by_name(const char *name);
/* "--max-flows" (or "-v" for a short-only option), for messages. */
const char *option_name(int opt);
bool option_takes_value(int opt);
bool option_allowed(const struct command *c, int opt);

/* The defaults of every command's options (node) and of c's role (role_cfg, c->role->config_size bytes). */
void option_defaults(const struct command *c, struct node_config *node, void *role_cfg);
/* Sets opt from arg (NULL for a flag) in node or role_cfg; 0, or EXIT_USAGE with why in err. */
int option_apply(const struct command *c, struct node_config *node, void *role_cfg, int opt,
	const char *arg, char err[OPT_ERR_MAX]);
/* Unsets a flag (a config file's "no"). */
void option_clear_flag(const struct command *c, void *role_cfg, int opt);
/* Checks the whole once every option is in; fills in defaults that depend on the command. */
int option_check(const struct command *c, const struct mqtt_url *url, struct node_config *node,
	void *role_cfg, char err[OPT_ERR_MAX]);
/* Is opt one of struct mqtt_opts'? */
bool option_is_mqtt(int opt);
/* Sets opt (one of them; arg NULL for --insecure) in o; 0, or EXIT_USAGE with why in err. */
int option_mqtt_set(struct mqtt_opts *o, int opt, const char *arg, char err[OPT_ERR_MAX]);
/* Puts o into url, over its query: the password from --password-file, else $NET4MQTT_PASSWORD,
 * else the URL's; the TLS options. argv: the URL was on the command line (a password in it is
 * warned about; errors name --options, else config keys). 0, or EXIT_USAGE with why in err and
 * the option at fault in *bad. */
int option_mqtt_apply(const struct mqtt_opts *o, struct mqtt_url *url, bool argv, int *bad,
	char err[OPT_ERR_MAX]);
/* "127.0.0.1:9810" and the like: an IP:PORT for the status server. */
int option_check_status_listen(const char *arg, char err[OPT_ERR_MAX]);
/* The status server's address and whether it has a password: beyond loopback, it must.
 * argv: errors name --options, else config keys. 0, or EXIT_USAGE with why in err. */
int option_check_status_access(
	const char *listen, bool has_password, bool argv, char err[OPT_ERR_MAX]);
/* --status-password FILE (argv), or the config's "status-password = @FILE": the file's one line
 * into password. 0, or EXIT_USAGE with why in err. */
int option_read_status_password(
	const char *arg, bool argv, char password[BASIC_AUTH_PASSWORD_MAX], char err[OPT_ERR_MAX]);

#endif
