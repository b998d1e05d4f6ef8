/* net4mqtt: the command line, the event loop and the signals. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <linux/capability.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "node.h"
#include "privs.h"
#include "roles.h"

#define EXIT_USAGE 2
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

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
};

#define DEFAULT_MAX_FLOWS 16384
#define DEFAULT_MAX_MEMORY_MIB 512 /* of heap: leaves room on a 1 GiB appliance */

struct command {
	const char *name;
	const char *summary;
	const char *usage;
	const struct role_ops *role;
	bool is_agent;
	const char *shortopts;
};

static const struct command commands[] = {
	{ "agent", "exit node: opens the flows that arrive on MQTT (like ss-server, v2ray freedom)",
		"[-m URL] [-t TARGET] [-i ID] [--allow CIDR[:PORTS] ...] [--advertise CIDR ...]", &agent_role,
		true, "m:t:i:vh" },
	{ "local-port", "forwards a local TCP/UDP port to a target behind an agent (like ss-tunnel, v2ray dokodemo-door)",
		"[-m URL] [-l LISTEN] [-t TARGET] [-a AGENT_ID] [-i ID] [-u] [-k]", &local_port_role,
		false, "m:l:t:a:i:ukvh" },
	{ "local-socks", "SOCKS5 server; the client names the destination (like ss-local, v2ray socks)",
		"[-m URL] [-l LISTEN] [-d DOMAIN] [-a AGENT_ID] [-i ID] [--socks-user USER:PASS|@FILE] [-k]",
		&local_socks_role,
		false, "m:l:d:a:i:kvh" },
	{ "gateway", "TUN gateway: routes subnets into MQTT for every host behind it (like tun2socks)",
		"[-m URL] [-i ID] [-a DEFAULT_AGENT] [--tun NAME] [--mtu N] --route CIDR[=AGENT] ... [--exclude CIDR ...]\n"
		"         [--auto-routes] [--dns [--dns-hijack] [--remote-domain SUFFIX=AGENT ...] [--dns-upstream IP]] [-k]",
		&gateway_role, false, "m:a:i:kvh" },
};

static const struct option long_options[] = {
	{ "mqtt-url", required_argument, NULL, 'm' },
	{ "listen", required_argument, NULL, 'l' },
	{ "target", required_argument, NULL, 't' },
	{ "agent-id", required_argument, NULL, 'a' },
	{ "id", required_argument, NULL, 'i' },
	{ "udp", no_argument, NULL, 'u' },
	{ "kcp", no_argument, NULL, 'k' },
	{ "domain", required_argument, NULL, 'd' },
	{ "udp-timeout", required_argument, NULL, 'U' },
	{ "tun", required_argument, NULL, 'T' },
	{ "mtu", required_argument, NULL, 'M' },
	{ "route", required_argument, NULL, 'R' },
	{ "exclude", required_argument, NULL, 'X' },
	{ "advertise", required_argument, NULL, OPT_ADVERTISE },
	{ "auto-routes", no_argument, NULL, OPT_AUTO_ROUTES },
	{ "dns", no_argument, NULL, OPT_DNS },
	{ "dns-hijack", no_argument, NULL, OPT_DNS_HIJACK },
	{ "remote-domain", required_argument, NULL, OPT_REMOTE_DOMAIN },
	{ "dns-upstream", required_argument, NULL, OPT_DNS_UPSTREAM },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "socks-user", required_argument, NULL, OPT_SOCKS_USER },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
	{ "user", required_argument, NULL, OPT_USER },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fprintf(out, "net4mqtt %s: TCP and UDP over MQTT\n\n"
		     "Usage: net4mqtt [-v...] COMMAND [OPTIONS]\n\nCommands:\n", N4M_VERSION);
	for (size_t i = 0; i < N_ELEMS(commands); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nOptions:\n"
		     "  -v...          verbose: warn by default, -v info, -vv debug, -vvv trace\n"
		     "  -h, --help     this help; COMMAND -h for a command's options\n"
		     "  -V, --version  version\n");
}

static void command_usage(const struct command *c, FILE *out)
{
	fprintf(out,
		"Usage: net4mqtt %s %s\n\n%s\n\n"
		"  -m, --mqtt-url URL   broker: mqtt[s]://[user[:pass]@]host[:port]/PREFIX[?client_id=ID]\n"
		"                       (default mqtt://localhost:1883/net4mqtt)\n",
		c->name, c->usage, c->summary);
	if (strchr(c->shortopts, 'l'))
		fprintf(out, "  -l, --listen ADDR    listen on IP:PORT or [IPv6]:PORT (default 127.0.0.1:4444)\n");
	if (strchr(c->shortopts, 't'))
		fprintf(out, c->is_agent
			? "  -t, --target ADDR    default target, for flows that name none (default 127.0.0.1:7777)\n"
			: "  -t, --target ADDR    HOST:PORT the agent connects to (default: the agent's own target)\n");
	if (strchr(c->shortopts, 'd'))
		fprintf(out, "  -d, --domain DOMAIN  AGENT.DOMAIN names an agent (default net4mqtt.local)\n");
	if (strchr(c->shortopts, 'a'))
		fprintf(out, "  -a, --agent-id ID    the agent to use (default -)\n");
	fprintf(out, "  -i, --id ID          this node's id (default -)\n");
	if (strchr(c->shortopts, 'u'))
		fprintf(out, "  -u, --udp            forward UDP instead of TCP\n");
	if (strchr(c->shortopts, 'k'))
		fprintf(out, "  -k, --kcp            carry TCP inside KCP: survives lost messages, flow-controlled\n");
	fprintf(out, "      --udp-timeout S  idle UDP flows end after S seconds (default 60)\n"
		     "      --max-flows N    refuse new flows while N are open (default %d)\n"
		     "      --max-memory MIB refuse new flows above this much heap (default %d)\n"
		     "      --user NAME      run as NAME after start-up (when started as root)\n",
		DEFAULT_MAX_FLOWS, DEFAULT_MAX_MEMORY_MIB);
	if (c->is_agent)
		fprintf(out, "      --allow CIDR[:PORTS]  open only these destinations (repeatable; PORTS: 80,443,8000-8100);\n"
			     "                       without it, any (the default target always)\n"
			     "      --advertise CIDR  tell gateways (--auto-routes) this subnet is reachable here\n");
	if (c->role == &local_socks_role)
		fprintf(out, "      --socks-user USER:PASS  require this SOCKS5 username/password (RFC 1929);\n"
			     "                       @FILE reads USER:PASS from the file's first line\n");
	if (c->role == &gateway_role)
		fprintf(out, "      --tun NAME       the TUN device (default n4m0)\n"
			     "      --mtu N          its MTU (default 1500)\n"
			     "      --route CIDR[=AGENT]  send this subnet into the TUN, to AGENT (default: -a)\n"
			     "      --exclude CIDR   never route this part of a routed subnet\n"
			     "      --auto-routes    also route the subnets online agents advertise\n"
			     "      --dns            answer DNS on the TUN's addresses (198.18.0.1, fdfe:dcba:9876::1)\n"
			     "      --dns-hijack     ... and every port 53 query routed into the TUN\n"
			     "      --remote-domain SUFFIX=AGENT  names under SUFFIX are resolved by AGENT\n"
			     "      --dns-upstream IP[:PORT]  other names: this resolver, through the default agent\n");
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "net4mqtt: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return EXIT_USAGE;
}

static void config_defaults(struct node_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	strcpy(cfg->agent_id, "-");
	strcpy(cfg->local_id, "-");
	strcpy(cfg->listen, "127.0.0.1:4444");
	strcpy(cfg->domain, "net4mqtt.local");
	strcpy(cfg->tun_name, "n4m0");
	cfg->mtu = 1500;
	cfg->udp_timeout_s = 60;
	cfg->max_flows = DEFAULT_MAX_FLOWS;
	cfg->max_memory = (size_t)DEFAULT_MAX_MEMORY_MIB << 20;
}

static int copy_opt(char *dst, size_t len, const char *arg, const char *what)
{
	if (strlen(arg) >= len)
		return bad_usage("%s too long", what);
	strcpy(dst, arg);
	return 0;
}

static int parse_number(const char *arg, long min, long max, const char *what, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (!*arg || *end || v < min || v > max) {
		fprintf(stderr, "net4mqtt: %s wants %ld..%ld, not %s\n", what, min, max, arg);
		return EXIT_USAGE;
	}
	*out = (int)v;
	return 0;
}

/* --socks-user USER:PASS, or @FILE whose first line is USER:PASS (keeps it out of ps). */
static int parse_socks_user(struct node_config *cfg, const char *arg)
{
	char line[600];
	const char *spec = arg;

	if (arg[0] == '@') {
		FILE *f = fopen(arg + 1, "r");
		if (!f)
			return bad_usage("cannot read --socks-user file %s", arg + 1);
		bool ok = fgets(line, sizeof(line), f) != NULL;
		fclose(f);
		if (!ok)
			return bad_usage("--socks-user file %s is empty", arg + 1);
		line[strcspn(line, "\r\n")] = '\0';
		spec = line;
	}
	const char *colon = strchr(spec, ':');
	size_t ulen = colon ? (size_t)(colon - spec) : 0;
	/* RFC 1929, 2: each 1..255 bytes */
	if (!colon || ulen == 0 || ulen >= sizeof(cfg->socks_user) || !colon[1] ||
		strlen(colon + 1) >= sizeof(cfg->socks_pass))
		return bad_usage("%s", "bad --socks-user: want USER:PASS (each 1..255 bytes) or @FILE");
	memcpy(cfg->socks_user, spec, ulen);
	cfg->socks_user[ulen] = '\0';
	strcpy(cfg->socks_pass, colon + 1);
	return 0;
}

/* --remote-domain SUFFIX=AGENT */
static int parse_remote_domain(struct node_config *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct remote_domain *r = &cfg->remote_domains[cfg->n_remote_domains];
	size_t len = eq ? (size_t)(eq - arg) : 0;

	if (cfg->n_remote_domains >= (int)N_ELEMS(cfg->remote_domains))
		return bad_usage("too many --remote-domain options (%s)", arg);
	if (!eq || len == 0 || len >= sizeof(r->suffix) || strlen(eq + 1) >= sizeof(r->agent))
		return bad_usage("bad --remote-domain %s: want SUFFIX=AGENT", arg);
	memcpy(r->suffix, arg, len);
	r->suffix[len] = '\0';
	strcpy(r->agent, eq + 1);
	if (!addr_valid_hostname(r->suffix) || !mqtt_level_valid(r->agent))
		return bad_usage("bad --remote-domain %s: want SUFFIX=AGENT", arg);
	cfg->n_remote_domains++;
	return 0;
}

/* --dns-upstream IP or IP:PORT ([IPv6]:PORT), kept as IP:PORT */
static int parse_dns_upstream(struct node_config *cfg, const char *arg)
{
	char with_port[80];
	struct sockaddr_storage ss;
	socklen_t len;

	if (strlen(arg) > 64)
		return bad_usage("bad --dns-upstream %s: want IP or IP:PORT", arg);
	if (addr_parse(arg, &ss, &len)) {
		snprintf(with_port, sizeof(with_port), strchr(arg, ':') ? "[%s]:53" : "%s:53", arg);
		if (addr_parse(with_port, &ss, &len))
			return bad_usage("bad --dns-upstream %s: want IP or IP:PORT", arg);
	}
	return addr_format((struct sockaddr *)&ss, cfg->dns_upstream, sizeof(cfg->dns_upstream))
		? bad_usage("bad --dns-upstream %s", arg)
		: 0;
}

static int parse_option(const struct command *c, struct node_config *cfg, int opt,
	const char *arg, const char **url, int *verbose)
{
	switch (opt) {
	case 'm':
		*url = arg;
		return 0;
	case 'l':
		return copy_opt(cfg->listen, sizeof(cfg->listen), arg, "listen address");
	case 't':
		return copy_opt(cfg->target, sizeof(cfg->target), arg, "target");
	case 'a':
		return copy_opt(cfg->agent_id, sizeof(cfg->agent_id), arg, "agent id");
	case 'i':
		return copy_opt(c->is_agent ? cfg->agent_id : cfg->local_id, NODE_ID_MAX, arg, "id");
	case 'd':
		return copy_opt(cfg->domain, sizeof(cfg->domain), arg, "domain");
	case 'u':
		cfg->udp = true;
		return 0;
	case 'k':
		cfg->kcp = true;
		return 0;
	case 'v':
		(*verbose)++;
		return 0;
	case 'U':
		return parse_number(arg, 1, 86400, "--udp-timeout (seconds)", &cfg->udp_timeout_s);
	case 'T':
		return copy_opt(cfg->tun_name, sizeof(cfg->tun_name), arg, "TUN name");
	case 'M':
		return parse_number(arg, 1280, 65535, "--mtu", &cfg->mtu);
	case 'R':
		if (cfg->n_routes >= (int)N_ELEMS(cfg->routes))
			return bad_usage("too many --route options (%s)", arg);
		cfg->routes[cfg->n_routes++] = arg;
		return 0;
	case 'X':
		if (cfg->n_excludes >= (int)N_ELEMS(cfg->excludes))
			return bad_usage("too many --exclude options (%s)", arg);
		cfg->excludes[cfg->n_excludes++] = arg;
		return 0;
	case OPT_ALLOW:
		if (cfg->n_allow >= (int)N_ELEMS(cfg->allow))
			return bad_usage("too many --allow options (%s)", arg);
		if (allow_parse(arg, &cfg->allow[cfg->n_allow]))
			return bad_usage("bad --allow %s: want CIDR or CIDR:PORTS (80,443,8000-8100)", arg);
		cfg->n_allow++;
		return 0;
	case OPT_SOCKS_USER:
		return parse_socks_user(cfg, arg);
	case OPT_MAX_FLOWS:
		return parse_number(arg, 1, 1 << 20, "--max-flows", &cfg->max_flows);
	case OPT_MAX_MEMORY: {
		int mib, err = parse_number(arg, 16, 1 << 20, "--max-memory (MiB)", &mib);
		cfg->max_memory = (size_t)mib << 20;
		return err;
	}
	case OPT_USER:
		return copy_opt(cfg->user, sizeof(cfg->user), arg, "--user");
	case OPT_ADVERTISE:
		if (cfg->n_advertise >= (int)N_ELEMS(cfg->advertise))
			return bad_usage("too many --advertise options (%s)", arg);
		if (route_prefix_parse(arg, &cfg->advertise[cfg->n_advertise], NULL))
			return bad_usage("bad --advertise %s: want CIDR", arg);
		cfg->n_advertise++;
		return 0;
	case OPT_AUTO_ROUTES:
		cfg->auto_routes = true;
		return 0;
	case OPT_DNS:
		cfg->dns = true;
		return 0;
	case OPT_DNS_HIJACK:
		cfg->dns_hijack = true;
		return 0;
	case OPT_REMOTE_DOMAIN:
		return parse_remote_domain(cfg, arg);
	case OPT_DNS_UPSTREAM:
		return parse_dns_upstream(cfg, arg);
	case 'h':
		command_usage(c, stdout);
		exit(0);
	default:
		command_usage(c, stderr);
		return EXIT_USAGE;
	}
}

static int check_config(const struct command *c, struct node_config *cfg)
{
	uint16_t port;
	char host[ADDR_HOST_MAX];

	if (!mqtt_level_valid(cfg->agent_id) || !mqtt_level_valid(cfg->local_id) ||
		strpbrk(cfg->agent_id, "\"\\") || strpbrk(cfg->local_id, "\"\\"))
		return bad_usage("%s", "ids must be non-empty and hold no '/', '+', '#', '\"' or '\\'");
	if (cfg->kcp && cfg->udp)
		return bad_usage("%s", "-k (kcp) carries TCP; it does not go with -u");
	if (c->is_agent && !cfg->target[0])
		strcpy(cfg->target, "127.0.0.1:7777");
	if (!c->is_agent && !cfg->target[0])
		strcpy(cfg->target, "-");
	if (strcmp(cfg->target, "-") && (addr_split(cfg->target, host, sizeof(host), &port) ||
						port == 0 || !mqtt_level_valid(cfg->target)))
		return bad_usage("bad target %s: want HOST:PORT or [IPv6]:PORT", cfg->target);
	if (!cfg->domain[0] || !addr_valid_hostname(cfg->domain))
		return bad_usage("bad domain '%s'", cfg->domain);
	const char *files[] = { cfg->url.cafile, cfg->url.capath, cfg->url.cert, cfg->url.key };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (files[i][0] && access(files[i], R_OK))
			return bad_usage("cannot read %s from the MQTT URL", files[i]);
	if (c->role == &gateway_role && cfg->n_routes == 0 && !cfg->auto_routes)
		return bad_usage("%s", "gateway: give at least one --route CIDR[=AGENT], or --auto-routes");
	if ((cfg->dns_hijack || cfg->n_remote_domains || cfg->dns_upstream[0]) && !cfg->dns)
		return bad_usage("%s", "--dns-hijack, --remote-domain and --dns-upstream go with --dns");
	if (cfg->dns_upstream[0] && !strcmp(cfg->agent_id, MQTT_NIL))
		return bad_usage("%s", "--dns-upstream needs a default agent (-a) to reach it through");
	if (!c->is_agent && c->role != &gateway_role) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (addr_parse(cfg->listen, &ss, &len))
			return bad_usage("bad listen address %s: want IP:PORT or [IPv6]:PORT",
				cfg->listen);
	}
	return 0;
}

static bool option_allowed(const struct command *c, int opt)
{
	switch (opt) {
	case 'U':
	case 'h':
	case '?':
		return true;
	case OPT_ADVERTISE:
	case OPT_ALLOW:
		return c->is_agent;
	case OPT_SOCKS_USER:
		return c->role == &local_socks_role;
	case OPT_MAX_FLOWS:
	case OPT_MAX_MEMORY:
	case OPT_USER:
		return true;
	case 'T':
	case 'M':
	case 'R':
	case 'X':
	case OPT_AUTO_ROUTES:
	case OPT_DNS:
	case OPT_DNS_HIJACK:
	case OPT_REMOTE_DOMAIN:
	case OPT_DNS_UPSTREAM:
		return c->role == &gateway_role;
	default:
		return opt < 256 && strchr(c->shortopts, opt);
	}
}

/* "--long" (or "-c" for a short-only option), for messages: argv[optind - 1] may be its argument. */
static const char *option_name(int opt)
{
	static char name[40];

	for (const struct option *o = long_options; o->name; o++) {
		if (o->val == opt) {
			snprintf(name, sizeof(name), "--%s", o->name);
			return name;
		}
	}
	snprintf(name, sizeof(name), "-%c", opt);
	return name;
}

static int parse_command(const struct command *c, int argc, char **argv, struct node_config *cfg,
	int *verbose)
{
	const char *url = "mqtt://localhost:1883/net4mqtt", *why = NULL;
	int opt, err;

	config_defaults(cfg);
	optind = 1;
	while ((opt = getopt_long(argc, argv, c->shortopts, long_options, NULL)) != -1) {
		if (!option_allowed(c, opt))
			return bad_usage("option not valid for this command: %s", option_name(opt));
		if ((err = parse_option(c, cfg, opt, optarg, &url, verbose)))
			return err;
	}
	if (optind < argc)
		return bad_usage("unexpected argument: %s", argv[optind]);
	if (mqtt_url_parse(url, &cfg->url, &why))
	{
		fprintf(stderr, "net4mqtt: bad MQTT URL %s: %s\n", url, why);
		return EXIT_USAGE;
	}
	return check_config(c, cfg);
}

static struct event_base *loop_base;

static void stopped_cb(void *arg)
{
	(void)arg;
	event_base_loopexit(loop_base, NULL);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	static int stops;
	struct node *n = arg;
	(void)what;

	if (sig == SIGUSR1) {
		node_log_stats(n, true);
		return;
	}
	if (stops++) {
		log_warnx("second signal: exiting now");
		exit(1);
	}
	log_info("signal %d: shutting down", (int)sig);
	node_stop(n, stopped_cb);
}

static int run(const struct command *c, struct node_config *cfg)
{
	struct node n;
	struct event *sigs[3];
	const int signums[3] = { SIGINT, SIGTERM, SIGUSR1 };
	int err;

	signal(SIGPIPE, SIG_IGN);
	/* a flow is a socket (two at a gateway): take every descriptor we may */
	struct rlimit nofile;
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	/* libmosquitto allocates and frees a packet per message: keep freed heap
	 * instead of returning it to the kernel and faulting it back in */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
	loop_base = event_base_new();
	if (!loop_base)
		fatalx("cannot create the event loop");
	if ((err = node_init(&n, loop_base, cfg, c->role, c->is_agent)))
		fatalx("%s: cannot initialise: %s", c->name, strerror(-err));
	if ((err = c->role->start(&n))) {
		if (c->role->on_stop)
			c->role->on_stop(&n); /* undo what was installed */
		exit(1);
	}
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(loop_base, signums[i], signal_cb, &n);
		event_add(sigs[i], NULL);
	}
	log_info("%s: broker %s:%u prefix %s client id %s", c->name, cfg->url.host, cfg->url.port,
		cfg->url.prefix, n.cfg.client_id);
	node_start(&n);
	/* everything privileged is done: the gateway keeps CAP_NET_ADMIN for its routes */
	uint64_t keep = c->role == &gateway_role ? 1ull << CAP_NET_ADMIN : 0;
	if ((err = privs_drop(keep, cfg->user)))
		fatalx("cannot drop privileges%s%s: %s", cfg->user[0] ? " to user " : "", cfg->user,
			strerror(-err));
	event_base_dispatch(loop_base);
	node_log_stats(&n, false);
	if (c->role->on_stop && n.role_data)
		c->role->on_stop(&n);
	node_free(&n);
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	event_base_free(loop_base);
	return 0;
}

int main(int argc, char **argv)
{
	int verbose = 0, i = 1;
	static struct node_config cfg;

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
			usage(stderr);
			return EXIT_USAGE;
		}
		verbose += (int)strlen(a) - 1;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t k = 0; k < N_ELEMS(commands); k++) {
		const struct command *c = &commands[k];
		if (strcmp(argv[i], c->name))
			continue;
		int err = parse_command(c, argc - i, argv + i, &cfg, &verbose);
		if (err)
			return err;
		log_init(verbose, true);
		return run(c, &cfg);
	}
	fprintf(stderr, "net4mqtt: unknown command %s\n\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
