/* net4mqtt: the command line, the config file, the event loop and the signals. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "keycmd.h"
#include "gateway/core/hub.h"
#include "gateway/core/node.h"
#include "gateway/lib/heap.h"
#include "gateway/lib/log.h"
#include "gateway/roles/roles.h"
#include "options.h"
#include "privs.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct app {
	struct event_base *base;
	struct config *config;
	const char *path; /* the config file; NULL for a command line */
	struct hub hub;
	struct node *nodes;
	struct http_status *http;
	int stops;
};

static void usage(FILE *out)
{
	fprintf(out,
		"net4mqtt %s: TCP and UDP over MQTT\n\n"
		"Usage: net4mqtt [-v...] COMMAND [OPTIONS]\n\nCommands:\n",
		N4M_VERSION);
	for (size_t i = 0; i < option_n_commands; i++)
		fprintf(out, "  %-12s %s\n", option_commands[i].name, option_commands[i].summary);
	fprintf(out, "  %-12s %s\n  %-12s %s\n", "run",
		"runs the roles of a config file on one MQTT connection", "status",
		"what a running net4mqtt is doing (flows, agents, counters)");
	keycmd_list(out);
	fprintf(out, "\nOptions:\n"
		     "  -v...          verbose: warn by default, -v info, -vv debug, -vvv trace\n"
		     "  -h, --help     this help; COMMAND -h for a command's options\n"
		     "  -V, --version  version\n");
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "net4mqtt: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return EXIT_USAGE;
}

/* getopt's '?' (unknown option) or ':' (no value) as one line naming the option; cmd is "run",
 * "agent" and so on. getopt itself stays quiet (opterr = 0, optstrings start with ':'). */
static int option_error(const char *cmd, int opt, char **argv)
{
	const char *arg = argv[optind - 1];
	char name[80];

	if (!strncmp(arg, "--", 2))
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
	else
		snprintf(name, sizeof(name), "-%c", optopt);
	if (opt == ':')
		fprintf(stderr, "net4mqtt %s: %s needs a value\n", cmd, name);
	else
		fprintf(stderr, "net4mqtt %s: unknown option %s (net4mqtt %s -h lists them)\n", cmd,
			name, cmd);
	return EXIT_USAGE;
}

/* ":" and then optstring: getopt_long tells a missing value (':') from an unknown option ('?'). */
static const char *quiet_optstring(const char *optstring)
{
	static char buf[128];

	opterr = 0;
	snprintf(buf, sizeof(buf), ":%s", optstring);
	return buf;
}

/* The options every command takes that belong to the whole process, not to its role. */
static int parse_process_option(struct config *conf, int opt, const char *arg, const char **url)
{
	char err[OPT_ERR_MAX];

	switch (opt) {
	case 'v':
		conf->verbose++;
		return 0;
	case 'm':
		*url = arg;
		return 0;
	case OPT_USER:
		if (strlen(arg) >= sizeof(conf->user))
			return bad_usage("--user too long (at most %s characters)", "63");
		strcpy(conf->user, arg);
		return 0;
	case OPT_STATUS_LISTEN:
		if (option_check_status_listen(arg, err))
			return bad_usage("%s", err);
		strcpy(conf->status_listen, arg);
		return 0;
	case OPT_STATUS_PASSWORD:
		if (option_read_status_password(arg, true, conf->status_password, err))
			return bad_usage("%s", err);
		return 0;
	default:
		if (!option_is_mqtt(opt))
			return -1;
		if (option_mqtt_set(&conf->mqtt, opt, arg, err))
			return bad_usage("%s", err);
		return 0;
	}
}

/* A role command's argv into a config of one role. */
static int parse_command(const struct command *c, int argc, char **argv, struct config *conf)
{
	const char *url = DEFAULT_MQTT_URL, *why = NULL;
	char err[OPT_ERR_MAX];
	int opt, rc;

	memset(conf, 0, sizeof(*conf));
	struct config_role *r = config_add_role(conf, c, c->name, NULL);
	if (!r)
		return bad_usage("%s", "out of memory");
	optind = 1;
	const char *optstring = quiet_optstring(c->shortopts);
	while ((opt = getopt_long(argc, argv, optstring, option_long, NULL)) != -1) {
		if (opt == 'h') {
			option_usage(c, stdout);
			config_free(conf);
			exit(0);
		}
		if (opt == '?' || opt == ':')
			return option_error(c->name, opt, argv);
		if (!option_allowed(c, opt)) {
			fprintf(stderr,
				"net4mqtt %s: %s is not an option of %s (net4mqtt %s -h lists "
				"them)\n",
				c->name, option_name(opt), c->name, c->name);
			return EXIT_USAGE;
		}
		if ((rc = parse_process_option(conf, opt, optarg, &url)) >= 0) {
			if (rc)
				return rc;
		} else if (option_apply(c, &r->cfg, r->role_cfg, opt, optarg, err)) {
			return bad_usage("%s", err);
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"net4mqtt %s: unexpected argument %s (every value follows its option)\n",
			c->name, argv[optind]);
		return EXIT_USAGE;
	}
	if (mqtt_url_parse(url, &conf->url, &why)) {
		fprintf(stderr, "net4mqtt: bad MQTT URL %s: %s\n", url, why);
		return EXIT_USAGE;
	}
	if (option_mqtt_apply(&conf->mqtt, &conf->url, true, &opt, err))
		return bad_usage("%s", err);
	if (option_check(c, &conf->url, &r->cfg, r->role_cfg, err))
		return bad_usage("%s", err);
	if (conf->status_listen[0] && option_check_status_access(conf->status_listen,
					      conf->status_password[0], true, err))
		return bad_usage("%s", err);
	return 0;
}

/* systemd's readiness protocol (sd_notify(3)): a datagram to $NOTIFY_SOCKET, if set. */
static void notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sun.sun_path))
		return;
	strcpy(sun.sun_path, path);
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract namespace */
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, len) < 0)
		log_debug("systemd notify %s: %s", state, strerror(errno));
	close(fd);
}

static void reload_log_errors(char *errors)
{
	for (char *line = strtok(errors, "\n"); line; line = strtok(NULL, "\n"))
		log_warnx("reload: %s", strncmp(line, "net4mqtt: ", 10) ? line : line + 10);
}

static void reload_apply(struct app *app, const struct config *fresh)
{
	const struct config *now = app->config;

	for (int i = 0; i < now->n_roles; i++) {
		const struct config_role *r = config_role_named(fresh, now->roles[i].name);
		log_set_role(now->roles[i].name);
		if (!r || r->cmd != now->roles[i].cmd)
			log_warnx("reload: its section is gone or changed role: that needs a "
				  "restart");
		else
			node_reload(&app->nodes[i], &r->cfg, r->role_cfg);
	}
	log_set_role(NULL);
	for (int i = 0; i < fresh->n_roles; i++)
		if (!config_role_named(now, fresh->roles[i].name))
			log_warnx("reload: new section [%s] needs a restart", fresh->roles[i].name);
	if (memcmp(&now->url, &fresh->url, sizeof(now->url)) || strcmp(now->user, fresh->user) ||
		strcmp(now->status_listen, fresh->status_listen) ||
		strcmp(now->status_password, fresh->status_password))
		log_warnx("reload: mqtt-url, password-file, the TLS keys, user, status-listen and "
			  "status-password take a restart to change");
	if (fresh->verbose != now->verbose) {
		log_set_verbosity(fresh->verbose);
		app->config->verbose = fresh->verbose;
	}
}

/* SIGHUP without a config file: an agent's --seal-peers file is read again, nothing else. */
static void reload_files(struct app *app)
{
	struct node *n = &app->nodes[0];

	if (!n->role->is_agent || !n->seal_self) {
		log_warnx("SIGHUP: nothing to reload without a config file (run -c FILE)");
		return;
	}
	log_set_role(n->name);
	node_reload(n, &n->cfg, n->role_cfg);
	log_set_role(NULL);
}

/* SIGHUP: routes, allowlists, advertised subnets, SOCKS users and limits, without touching flows. */
static void reload(struct app *app)
{
	struct config *fresh = malloc(sizeof(*fresh));
	char *errors = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&errors, &len);

	if (!app->path) {
		reload_files(app);
		goto out;
	}
	if (!fresh || !out) {
		log_warnx("reload: out of memory");
		goto out;
	}
	notify_systemd("RELOADING=1");
	log_info("reload: reading %s", app->path);
	int bad = config_load(app->path, fresh, out);
	fflush(out);
	if (bad) {
		config_free(fresh);
		reload_log_errors(errors);
		log_warnx("reload: %s has errors: still running the config read before", app->path);
	} else {
		if (!fresh->status_listen_set &&
			!app->config->status_listen_set) /* both defaults */
			strcpy(fresh->status_listen, app->config->status_listen);
		reload_apply(app, fresh);
		config_free(fresh);
		log_info("reload: done");
	}
	notify_systemd("READY=1");
out:
	if (out)
		fclose(out);
	free(errors);
	free(fresh);
}

static void stopped_cb(void *arg)
{
	struct app *app = arg;

	event_base_loopexit(app->base, NULL);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct app *app = arg;
	(void)what;

	log_set_role(NULL);
	if (sig == SIGUSR1) {
		for (int i = 0; i < app->config->n_roles; i++) {
			log_set_role(app->nodes[i].name);
			node_log_stats(&app->nodes[i], true);
		}
		log_set_role(NULL);
		return;
	}
	if (sig == SIGHUP) {
		reload(app);
		return;
	}
	if (app->stops++) {
		log_warnx("second signal: exiting now");
		exit(1);
	}
	log_info("signal %d: shutting down", (int)sig);
	notify_systemd("STOPPING=1");
	hub_stop(&app->hub, stopped_cb, app);
}

static void process_setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	/* a flow is a socket (two at a gateway): take every descriptor we may */
	struct rlimit nofile;
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
}

/* Each role's node on the one hub, and each role started; exits on failure. */
static void start_roles(struct app *app)
{
	struct config *c = app->config;
	int err;

	if ((err = hub_init(&app->hub, app->base, &c->url)))
		fatalx("cannot initialise: %s", strerror(-err));
	if (!(app->nodes = calloc((size_t)c->n_roles, sizeof(*app->nodes))))
		fatalx("out of memory");
	for (int i = 0; i < c->n_roles; i++) {
		struct config_role *r = &c->roles[i];
		struct node *n = &app->nodes[i];
		log_set_role(r->name);
		if ((err = node_init(n, app->base, &app->hub.url, r->name, &r->cfg, r->role_cfg,
			     r->cmd->role)))
			fatalx("cannot initialise: %s", strerror(-err));
		if ((err = hub_add(&app->hub, n)))
			fatalx("%s", strerror(-err));
	}
	log_set_role(NULL);
	if ((err = hub_open(&app->hub)))
		fatalx("cannot create the MQTT client: %s", strerror(-err));
	for (int i = 0; i < c->n_roles; i++) {
		struct node *n = &app->nodes[i];
		log_set_role(n->name);
		if (!n->role->start(n))
			continue;
		log_errorx("could not start: stopping");
		for (int k = i; k >= 0; k--) /* undo what was installed */
			if (app->nodes[k].role->on_stop)
				app->nodes[k].role->on_stop(&app->nodes[k]);
		exit(1);
	}
	log_set_role(NULL);
}

static int run(struct config *c, const char *path)
{
	static struct app app;
	const int signums[] = { SIGINT, SIGTERM, SIGUSR1, SIGHUP };
	struct event *sigs[N_ELEMS(signums)], *trim;
	uint64_t keep = 0;
	int err;

	process_setup();
	app.config = c;
	app.path = path;
	log_set_default_role(c->n_roles == 1 ? c->roles[0].name : NULL);
	if (!(app.base = event_base_new()))
		fatalx("cannot create the event loop");
	start_roles(&app);
	app.hub.config_path = path;
	if (!(trim = heap_trim_start(app.base)))
		fatalx("out of memory");
	for (size_t i = 0; i < N_ELEMS(signums); i++) {
		sigs[i] = evsignal_new(app.base, signums[i], signal_cb, &app);
		event_add(sigs[i], NULL);
	}
	if (c->status_listen[0] && (err = http_status_start(app.base, c->status_listen,
					    c->status_password, &app.hub, &app.http)))
		fatalx("status server on %s: %s", c->status_listen, strerror(-err));
	char brokers[MQTT_URL_BROKERS * (MQTT_URL_FIELD + 8)];
	mqtt_url_brokers_str(&c->url, -1, brokers, sizeof(brokers));
	for (int i = 0; i < c->n_roles; i++) {
		log_set_role(c->roles[i].name);
		log_info("broker%s %s prefix %s client id %s", c->url.n_brokers > 1 ? "s" : "",
			brokers, c->url.prefix, app.hub.client_id);
		if (c->roles[i].cmd->role == &gateway_role)
			keep |= 1ull << CAP_NET_ADMIN; /* for its routes */
		if (app.nodes[i].icmp_raw)
			keep |= 1ull << CAP_NET_RAW; /* its echo requests */
	}
	log_set_role(NULL);
	hub_start(&app.hub);
	if ((err = privs_drop(keep, c->user)))
		fatalx("cannot drop privileges%s%s: %s", c->user[0] ? " to user " : "", c->user,
			strerror(-err));
	notify_systemd("READY=1");
	event_base_dispatch(app.base);
	http_status_free(app.http);
	for (int i = 0; i < c->n_roles; i++) {
		struct node *n = &app.nodes[i];
		log_set_role(n->name);
		node_log_stats(n, false);
		if (n->role->on_stop && n->role_data)
			n->role->on_stop(n);
		node_free(n);
	}
	hub_free(&app.hub);
	free(app.nodes);
	for (size_t i = 0; i < N_ELEMS(signums); i++)
		event_free(sigs[i]);
	event_free(trim);
	event_base_free(app.base);
	return 0;
}

enum run_option {
	OPT_RUN_CHECK = 256,
	OPT_RUN_SYSLOG,
	OPT_RUN_STATUS,
	OPT_RUN_DEFAULT_STATUS,
	OPT_RUN_STATUS_PASSWORD,
};

static const struct option run_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "syslog", no_argument, NULL, OPT_RUN_SYSLOG },
	{ "check", no_argument, NULL, OPT_RUN_CHECK },
	{ "status-listen", required_argument, NULL, OPT_RUN_STATUS },
	{ "default-status-listen", required_argument, NULL, OPT_RUN_DEFAULT_STATUS },
	{ "status-password", required_argument, NULL, OPT_RUN_STATUS_PASSWORD },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void run_usage(FILE *out)
{
	fprintf(out,
		"Usage: net4mqtt run -c FILE [--check] [--syslog] [--default-status-listen "
		"ADDR|off] "
		"[-v...]\n\n"
		"Runs every role section of FILE (an INI file: see net4mqtt(8)) in one process,\n"
		"on one MQTT connection. SIGHUP re-reads routes, allowlists, advertised subnets,\n"
		"SOCKS users and limits without ending flows.\n\n"
		"  -c, --config FILE  the config file\n"
		"      --check        check FILE, say \"FILE: ok\" and exit\n"
		"      --syslog       log to syslog (daemon, net4mqtt[PID]) instead of stderr;\n"
		"                     the file's \"log = syslog\" says the same\n"
		"  -f, --foreground   log to stderr: the default (kept for older units)\n"
		"      --default-status-listen ADDR|off\n"
		"                     the status server when FILE sets no status-listen\n"
		"                     (default " CONFIG_STATUS_LISTEN
		"; net4mqtt@.service: off)\n");
}

/* The absolute path of the config file, as the status server reports it and `status -c` compares. */
static void config_realpath(const char *path, char out[PATH_MAX])
{
	if (!realpath(path, out))
		snprintf(out, PATH_MAX, "%s", path);
}

static int cmd_run(int argc, char **argv, int verbose)
{
	const char *path = NULL, *default_status = CONFIG_STATUS_LISTEN;
	bool syslog = false, check = false;
	char err[OPT_ERR_MAX];
	int opt;

	optind = 1;
	const char *optstring = quiet_optstring("c:fvh");
	while ((opt = getopt_long(argc, argv, optstring, run_options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			syslog = false;
			break;
		case OPT_RUN_SYSLOG:
			syslog = true;
			break;
		case OPT_RUN_CHECK:
			check = true;
			break;
		case OPT_RUN_DEFAULT_STATUS:
			if (strcmp(optarg, "off") && option_check_status_listen(optarg, err)) {
				fprintf(stderr, "net4mqtt run: --default-status-listen: %s\n", err);
				return EXIT_USAGE;
			}
			default_status = strcmp(optarg, "off") ? optarg : "";
			break;
		case OPT_RUN_STATUS:
			fprintf(stderr,
				"net4mqtt run: --status-listen belongs in FILE (status-listen = "
				"ADDR); --default-status-listen is the one for when FILE has "
				"none\n");
			return EXIT_USAGE;
		case OPT_RUN_STATUS_PASSWORD:
			fprintf(stderr, "net4mqtt run: --status-password belongs in FILE "
					"(status-password = @FILE)\n");
			return EXIT_USAGE;
		case 'v':
			verbose++;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			return option_error("run", opt, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "net4mqtt run: unexpected argument %s (the file goes after -c)\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (!path) {
		fprintf(stderr, "net4mqtt run: -c FILE is missing: which config file to %s\n",
			check ? "check" : "run");
		return EXIT_USAGE;
	}
	struct config *c = malloc(sizeof(*c));
	int rc = c ? config_load(path, c, stderr) : EXIT_USAGE;
	if (!rc && check)
		printf("%s: ok (%d role%s)\n", path, c->n_roles, c->n_roles == 1 ? "" : "s");
	if (!rc && !c->status_listen_set) {
		snprintf(c->status_listen, sizeof(c->status_listen), "%s", default_status);
		if (c->status_listen[0] && option_check_status_access(c->status_listen,
						   c->status_password[0], false, err)) {
			fprintf(stderr, "net4mqtt run: --default-status-listen: %s\n", err);
			rc = EXIT_USAGE;
		}
	}
	if (!rc && !check) {
		log_init(c->verbose + verbose,
			syslog || c->log_syslog ? LOG_TO_SYSLOG : LOG_TO_STDERR);
		char *abs = malloc(PATH_MAX);
		if (abs)
			config_realpath(path, abs);
		rc = run(c, abs);
		free(abs);
	}
	if (c)
		config_free(c);
	free(c);
	return rc;
}

static const char status_usage[] =
	"Usage: net4mqtt status [-c FILE | --status-listen ADDR] [--status-password FILE]\n";

static int cmd_status(int argc, char **argv)
{
	const char *addr = CONFIG_STATUS_LISTEN, *path = NULL, *password = NULL;
	char abs[PATH_MAX], err[OPT_ERR_MAX];
	char password_buf[BASIC_AUTH_PASSWORD_MAX];
	struct config c;
	int opt;

	optind = 1;
	const char *optstring = quiet_optstring("c:h");
	while ((opt = getopt_long(argc, argv, optstring, run_options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case OPT_RUN_STATUS:
			addr = optarg;
			break;
		case OPT_RUN_STATUS_PASSWORD:
			if (option_read_status_password(optarg, true, password_buf, err)) {
				fprintf(stderr, "net4mqtt status: %s\n", err);
				return EXIT_USAGE;
			}
			password = password_buf;
			break;
		case 'h':
			printf("%s\n"
			       "Shows a running net4mqtt's connection, roles, agents and flows, "
			       "from\n"
			       "its status server (default " CONFIG_STATUS_LISTEN
			       "). With -c, the\n"
			       "one FILE's status-listen names, and only if that process runs "
			       "FILE.\n"
			       "A password: --status-password FILE's one line, else -c FILE's "
			       "status-password.\n",
				status_usage);
			return 0;
		case 'f':
		case 'v':
		case OPT_RUN_SYSLOG:
		case OPT_RUN_CHECK:
		case OPT_RUN_DEFAULT_STATUS:
			fprintf(stderr, "net4mqtt status: %s is an option of run, not status\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			return option_error("status", opt, argv);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "net4mqtt status: unexpected argument %s\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (path) {
		int bad = config_load(path, &c, stderr);
		config_free(&c);
		if (bad)
			return EXIT_USAGE;
		if (!c.status_listen[0]) {
			fprintf(stderr, "net4mqtt status: %s has status-listen = off\n", path);
			return EXIT_USAGE;
		}
		addr = c.status_listen;
		if (!password && c.status_password[0])
			password = c.status_password;
		config_realpath(path, abs);
	}
	return http_status_fetch(addr, "/status.txt", path ? abs : NULL, password, stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	int verbose = 0, i = 1;

	heap_setup(); /* before any libevent call */
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("net4mqtt %s\n", N4M_VERSION);
			return 0;
		}
		if (a[1] != 'v' || a[strspn(a + 1, "v") + 1] != '\0') {
			fprintf(stderr,
				"net4mqtt: unknown option %s before the command (net4mqtt -h lists "
				"the "
				"commands and options)\n",
				a);
			return EXIT_USAGE;
		}
		verbose += (int)strlen(a) - 1;
	}
	if (i >= argc) {
		fprintf(stderr, "net4mqtt: no command given (net4mqtt -h lists them)\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[i], "run"))
		return cmd_run(argc - i, argv + i, verbose);
	if (!strcmp(argv[i], "status"))
		return cmd_status(argc - i, argv + i);
	if (keycmd_is(argv[i]))
		return keycmd_main(argc - i, argv + i);
	const struct command *c = option_command(argv[i]);
	if (!c) {
		fprintf(stderr, "net4mqtt: unknown command %s (net4mqtt -h lists them)\n", argv[i]);
		return EXIT_USAGE;
	}
	struct config *conf = malloc(sizeof(*conf));
	if (!conf)
		return 1;
	int err = parse_command(c, argc - i, argv + i, conf);
	if (!err) {
		log_init(verbose + conf->verbose, LOG_TO_STDERR);
		err = run(conf, NULL);
	}
	config_free(conf);
	free(conf);
	return err;
}
