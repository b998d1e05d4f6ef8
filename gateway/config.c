/* The file of `net4mqtt run -c`: an INI file (libinih) of process-wide keys and one section per role. */
#include "config.h"

#include "gateway/roles/roles.h"

#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_ERRORS_MAX 20
#define CONFIG_LINE_MAX 199 /* libinih's buffer is 200 bytes */
#define SEEN_MAX 512	    /* past every option's value */
/* the slots in seen[][] of the two [net4mqtt] keys that are no command-line option */
enum { SEEN_LOG = SEEN_MAX - 2, SEEN_LOG_LEVEL = SEEN_MAX - 1 };
_Static_assert((int)OPT_END <= (int)SEEN_LOG, "options would share seen[][] slots with log keys");

struct reader {
	FILE *f;
	int line;
	char *buf;
	size_t cap;
};

struct loader {
	struct config *c;
	FILE *errors;
	int n_errors;
	struct reader rd;
	bool roles_pass;	     /* first pass: [net4mqtt]; second: the roles */
	struct node_config defaults; /* [net4mqtt]'s max-flows and the like, for every role */
	struct config_role *current; /* the section being read (second pass) */
	int seen[CONFIG_ROLES_MAX + 1][SEEN_MAX]; /* the line each key was given on, per section */
};

__attribute__((format(printf, 4, 5))) static void config_error(
	struct loader *l, int line, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (l->n_errors++ >= CONFIG_ERRORS_MAX)
		return;
	fprintf(l->errors, "net4mqtt: %s:%d: ", l->c->path, line);
	if (key)
		fprintf(l->errors, "%s: ", key);
	va_start(ap, fmt);
	vfprintf(l->errors, fmt, ap);
	va_end(ap);
	fputc('\n', l->errors);
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* "local-port web" -> command local-port; NULL for an unknown role. */
static const struct command *section_command(const char *name)
{
	char role[64];
	size_t len = strcspn(name, " \t");

	if (len >= sizeof(role))
		return NULL;
	memcpy(role, name, len);
	role[len] = '\0';
	return option_command(role);
}

const struct config_role *config_role_named(const struct config *c, const char *name)
{
	for (int i = 0; i < c->n_roles; i++)
		if (!strcmp(c->roles[i].name, name))
			return &c->roles[i];
	return NULL;
}

static void section_begin(struct loader *l, char *name, int line)
{
	struct config *c = l->c;
	const struct command *cmd = section_command(name);

	l->current = NULL;
	if (!strcmp(name, CONFIG_SECTION))
		return;
	if (!cmd) {
		config_error(l, line, NULL,
			"unknown section [%s]: want [%s], [agent], [gateway], "
			"[local-port NAME] or [local-socks NAME]",
			name, CONFIG_SECTION);
		return;
	}
	const struct config_role *dup = config_role_named(c, name);
	if (dup) {
		config_error(l, line, NULL,
			"section [%s] again (first on line %d): give each its "
			"own name, e.g. [%s 2]",
			name, dup->line, cmd->name);
		return;
	}
	if (c->n_roles >= CONFIG_ROLES_MAX) {
		config_error(
			l, line, NULL, "too many sections (at most %d roles)", CONFIG_ROLES_MAX);
		return;
	}
	struct config_role *r = config_add_role(c, cmd, name, &l->defaults);
	if (!r) {
		config_error(l, line, NULL, "out of memory");
		return;
	}
	r->line = line;
	if (cmd->role->is_agent) /* [net4mqtt]'s seal-peer pins agents for the locals */
		r->cfg.n_seal_pins = 0;
	l->current = r;
}

/* Whether a line is a [section], blank, a comment, a continuation, or has a key; notes sections. */
static void reader_check(struct loader *l, char *raw)
{
	char line[CONFIG_LINE_MAX + 2];
	int n = l->rd.line;

	snprintf(line, sizeof(line), "%s", raw);
	if (n == 1 && !strncmp(line, "\xEF\xBB\xBF", 3)) /* a byte order mark */
		memmove(line, line + 3, strlen(line + 3) + 1);
	char *s = trim(line);
	if (!*s || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		char *end = strchr(s, ']');
		if (!end) {
			if (l->roles_pass)
				config_error(l, n, NULL, "section header without ']'");
			return;
		}
		*end = '\0';
		if (l->roles_pass)
			section_begin(l, trim(s + 1), n);
		return;
	}
	if (!strpbrk(s, "=:") && l->roles_pass)
		config_error(
			l, n, NULL, "want KEY = VALUE, [SECTION] or a comment, not '%.40s'", s);
}

/* libinih's line reader: counts lines, refuses long ones, and checks each before libinih parses it. */
static char *reader_line(char *str, int num, void *stream)
{
	struct loader *l = stream;
	ssize_t len = getline(&l->rd.buf, &l->rd.cap, l->rd.f);

	if (len < 0)
		return NULL;
	l->rd.line++;
	if (len > 0 && l->rd.buf[len - 1] == '\n')
		l->rd.buf[--len] = '\0';
	if (len >= num || len > CONFIG_LINE_MAX) {
		if (l->roles_pass)
			config_error(l, l->rd.line, NULL, "line longer than %d characters",
				CONFIG_LINE_MAX);
		str[0] = '\0'; /* skipped */
		return str;
	}
	reader_check(l, l->rd.buf);
	/* without its indentation: libinih would take an indented line for the
	 * previous key's continuation, and repeat that key */
	snprintf(str, (size_t)num, "%s\n", l->rd.buf + strspn(l->rd.buf, " \t"));
	return str;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no",
		"false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i]) || !strcasecmp(v, no[i])) {
			*out = !strcasecmp(v, yes[i]);
			return 0;
		}
	}
	return -1;
}

static bool option_repeatable(int opt)
{
	return opt == 'R' || opt == 'X' || opt == OPT_ALLOW || opt == OPT_ADVERTISE ||
	       opt == OPT_REMOTE_DOMAIN || opt == OPT_BYPASS || opt == OPT_FAKE_IP_RANGE ||
	       opt == OPT_SEAL_PEER;
}

/* A key given twice where the second would silently replace the first. */
static bool key_again(struct loader *l, int section, int opt, const char *key)
{
	int *seen = &l->seen[section][opt];

	if (option_repeatable(opt))
		return false;
	if (*seen) {
		config_error(l, l->rd.line, key, "given again (first on line %d)", *seen);
		return true;
	}
	*seen = l->rd.line;
	return false;
}

static const char *const log_levels[] = { "error", "warn", "info", "debug", "trace" };

static void global_key(struct loader *l, const char *key, const char *value)
{
	struct config *c = l->c;
	char err[OPT_ERR_MAX];
	const char *why = NULL;
	int opt = option_by_name(key);
	bool on;

	if (!strcmp(key, "log-level")) {
		if (key_again(l, 0, SEEN_LOG_LEVEL, key))
			return;
		for (int i = 0; i < 5; i++)
			if (!strcasecmp(value, log_levels[i]))
				c->verbose = i - 1;
		if (strcasecmp(value, log_levels[c->verbose + 1]))
			config_error(l, l->rd.line, key,
				"want error, warn, info, debug or trace, not '%s'", value);
		return;
	}
	if (!strcmp(key, "log")) {
		if (key_again(l, 0, SEEN_LOG, key))
			return;
		if (strcmp(value, "stderr") && strcmp(value, "syslog"))
			config_error(l, l->rd.line, key, "want stderr or syslog, not '%s'", value);
		c->log_syslog = !strcmp(value, "syslog");
		return;
	}
	if (opt >= 0 && key_again(l, 0, opt, key))
		return;
	switch (opt) {
	case 'm':
		if (mqtt_url_parse(value, &c->url, &why))
			config_error(l, l->rd.line, key, "bad MQTT URL %s: %s", value, why);
		return;
	case OPT_USER:
		if (strlen(value) >= sizeof(c->user))
			config_error(l, l->rd.line, key, "too long");
		else
			strcpy(c->user, value);
		return;
	case OPT_STATUS_LISTEN:
		c->status_listen_set = true;
		if (!strcmp(value, "off"))
			c->status_listen[0] = '\0';
		else if (option_check_status_listen(value, err))
			config_error(l, l->rd.line, key, "%s", err);
		else
			strcpy(c->status_listen, value);
		return;
	case OPT_STATUS_PASSWORD:
		if (option_read_status_password(value, false, c->status_password, err))
			config_error(l, l->rd.line, key, "%s", err);
		return;
	case OPT_INSECURE:
		if (parse_bool(value, &on))
			config_error(l, l->rd.line, key, "want yes or no, not '%s'", value);
		else
			c->mqtt.insecure = on;
		return;
	case OPT_PASSWORD_FILE:
	case OPT_CAFILE:
	case OPT_CAPATH:
	case OPT_CERT:
	case OPT_KEY:
	case OPT_TLS_VERSION:
	case OPT_SNI:
		if (option_mqtt_set(&c->mqtt, opt, value, err))
			config_error(l, l->rd.line, key, "%s", err);
		return;
	case 'U':
	case OPT_MAX_FLOWS:
	case OPT_MAX_MEMORY:
	case OPT_PACKET_SIZE:
	case OPT_SEAL_KEY:
	case OPT_SEAL_PEER:
		if (option_apply(&option_commands[0], &l->defaults, NULL, opt, value, err))
			config_error(l, l->rd.line, key, "%s", err);
		return;
	}
	config_error(l, l->rd.line, key,
		"not a key of [%s]: it takes mqtt-url, password-file, cafile, capath, cert, key, "
		"insecure, tls-version, sni, log, log-level, user, status-listen, status-password, "
		"max-flows, max-memory, packet-size, udp-timeout, seal-key and seal-peer",
		CONFIG_SECTION);
}

static void role_key(struct loader *l, struct config_role *r, const char *key, const char *value)
{
	char err[OPT_ERR_MAX];
	int opt = option_by_name(key);
	bool on;

	if (opt == 'm' || opt == OPT_USER || opt == OPT_STATUS_LISTEN ||
		opt == OPT_STATUS_PASSWORD || option_is_mqtt(opt)) {
		config_error(l, l->rd.line, key, "goes in [%s]: one for the whole process",
			CONFIG_SECTION);
		return;
	}
	if (opt < 0 || opt == 'h' || !option_allowed(r->cmd, opt)) {
		config_error(l, l->rd.line, key, "not a key of [%s] (see net4mqtt %s -h)", r->name,
			r->cmd->name);
		return;
	}
	if (key_again(l, 1 + (int)(r - l->c->roles), opt, key))
		return;
	if (option_takes_value(opt)) {
		if (option_apply(r->cmd, &r->cfg, r->role_cfg, opt, value, err))
			config_error(l, l->rd.line, key, "%s", err);
	} else if (parse_bool(value, &on)) {
		config_error(l, l->rd.line, key, "want yes or no, not '%s'", value);
	} else if (on) {
		option_apply(r->cmd, &r->cfg, r->role_cfg, opt, NULL, err);
	} else {
		option_clear_flag(r->cmd, r->role_cfg, opt);
	}
}

static int config_key(void *arg, const char *section, const char *name, const char *value)
{
	struct loader *l = arg;
	char sect[128], key[128];

	snprintf(sect, sizeof(sect), "%s", section);
	snprintf(key, sizeof(key), "%s", name);
	char *s = trim(sect);
	bool global = !strcmp(s, CONFIG_SECTION);

	if (!*s) {
		if (l->roles_pass)
			config_error(l, l->rd.line, key, "comes before any [section]");
		return 1;
	}
	if (global != !l->roles_pass)
		return 1; /* the other pass's */
	if (global)
		global_key(l, key, value);
	else if (l->current && !strcmp(l->current->name, s))
		role_key(l, l->current, key, value);
	/* else: its section was refused, and said so */
	return 1;
}

static void config_pass(struct loader *l, bool roles)
{
	rewind(l->rd.f);
	l->rd.line = 0;
	l->roles_pass = roles;
	l->current = NULL;
	int bad = ini_parse_stream(reader_line, l, config_key, l);
	if (bad > 0 && roles && !l->n_errors)
		config_error(l, bad, NULL, "cannot parse this line");
}

/* [net4mqtt]'s password-file, cafile and the like into the URL, once all of it is read. */
static void config_mqtt(struct loader *l)
{
	char err[OPT_ERR_MAX];
	int bad = 'm';

	if (l->n_errors || !option_mqtt_apply(&l->c->mqtt, &l->c->url, false, &bad, err))
		return;
	if (l->seen[0][bad]) {
		config_error(l, l->seen[0][bad], NULL, "%s", err);
		return;
	}
	l->n_errors++; /* not of a line: $NET4MQTT_PASSWORD without a user in the default URL */
	fprintf(l->errors, "net4mqtt: %s: %s\n", l->c->path, err);
}

/* A status server beyond loopback only with a password (either key may come first). */
static void config_check_status(struct loader *l)
{
	struct config *c = l->c;
	char err[OPT_ERR_MAX];

	if (c->status_listen_set && c->status_listen[0] &&
		option_check_status_access(c->status_listen, c->status_password[0], false, err))
		config_error(l, l->seen[0][OPT_STATUS_LISTEN], "status-listen", "%s", err);
}

static void config_check_roles(struct loader *l)
{
	struct config *c = l->c;
	char err[OPT_ERR_MAX];
	int gateways = 0;

	if (c->n_roles == 0 && !l->n_errors)
		config_error(l, l->rd.line, NULL,
			"no role: add an [agent], [gateway], [local-port] "
			"or [local-socks] section");
	for (int i = 0; i < c->n_roles; i++) {
		struct config_role *r = &c->roles[i];
		if (option_check(r->cmd, &c->url, &r->cfg, r->role_cfg, err))
			config_error(l, r->line, NULL, "[%s]: %s", r->name, err);
		if (r->cmd->role == &gateway_role && gateways++)
			config_error(l, r->line, NULL, "[%s]: one gateway per process", r->name);
		int id_line = l->seen[1 + i]['i'] ? l->seen[1 + i]['i'] : r->line;
		for (int j = 0; j < i && r->cmd->role->is_agent; j++)
			if (c->roles[j].cmd->role->is_agent &&
				!strcmp(c->roles[j].cfg.agent_id, r->cfg.agent_id))
				config_error(l, id_line, "id", "[%s]: agent id %s is [%s]'s too",
					r->name, r->cfg.agent_id, c->roles[j].name);
	}
}

struct config_role *config_add_role(struct config *c, const struct command *cmd, const char *name,
	const struct node_config *base)
{
	struct config_role *r = &c->roles[c->n_roles];

	if (c->n_roles >= CONFIG_ROLES_MAX || !(r->role_cfg = malloc(cmd->role->config_size)))
		return NULL;
	c->n_roles++;
	r->cmd = cmd;
	snprintf(r->name, sizeof(r->name), "%s", name);
	option_defaults(cmd, &r->cfg, r->role_cfg);
	if (base)
		r->cfg = *base;
	return r;
}

void config_free(struct config *c)
{
	for (int i = 0; i < c->n_roles; i++) {
		free(c->roles[i].role_cfg);
		c->roles[i].role_cfg = NULL;
	}
	c->n_roles = 0;
}

int config_load(const char *path, struct config *c, FILE *errors)
{
	struct loader *l = calloc(1, sizeof(*l));
	const char *why;
	int bad;

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (!l) {
		fprintf(errors, "net4mqtt: %s: out of memory\n", path);
		return EXIT_USAGE;
	}
	l->c = c;
	l->errors = errors;
	option_defaults(NULL, &l->defaults, NULL);
	strcpy(c->status_listen, CONFIG_STATUS_LISTEN);
	mqtt_url_parse(DEFAULT_MQTT_URL, &c->url, &why);
	if (!(l->rd.f = fopen(path, "r"))) {
		fprintf(errors, "net4mqtt: cannot read %s: %m\n", path);
		free(l);
		return EXIT_USAGE;
	}
	config_pass(l, false);
	config_mqtt(l);
	config_check_status(l);
	config_pass(l, true);
	if (!l->n_errors)
		config_check_roles(l);
	if (l->n_errors > CONFIG_ERRORS_MAX)
		fprintf(errors, "net4mqtt: %s: %d more errors\n", path,
			l->n_errors - CONFIG_ERRORS_MAX);
	bad = l->n_errors;
	fclose(l->rd.f);
	free(l->rd.buf);
	free(l);
	return bad ? EXIT_USAGE : 0;
}
