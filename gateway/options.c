/* The commands and their options: one table read by the command line and by the config file. */
#include "options.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/lib/addr.h"
#include "gateway/roles/roles.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

const struct command option_commands[] = {
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
const size_t option_n_commands = N_ELEMS(option_commands);

const struct option option_long[] = {
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
	{ "status-listen", required_argument, NULL, OPT_STATUS_LISTEN },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

const struct command *option_command(const char *name)
{
	for (size_t i = 0; i < N_ELEMS(option_commands); i++)
		if (!strcmp(option_commands[i].name, name))
			return &option_commands[i];
	return NULL;
}

void option_usage(const struct command *c, FILE *out)
{
	fprintf(out,
		"Usage: net4mqtt %s %s\n\n%s\n\n"
		"  -m, --mqtt-url URL   broker: mqtt[s]://[user[:pass]@]host[:port]/PREFIX[?client_id=ID]\n"
		"                       (default " DEFAULT_MQTT_URL ")\n",
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
		     "      --user NAME      run as NAME after start-up (when started as root)\n"
		     "      --status-listen ADDR  serve /metrics and /status on this loopback IP:PORT\n",
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

int option_by_name(const char *name)
{
	for (const struct option *o = option_long; o->name; o++)
		if (!strcmp(o->name, name))
			return o->val;
	return -1;
}

const char *option_name(int opt)
{
	static char name[40];

	for (const struct option *o = option_long; o->name; o++) {
		if (o->val == opt) {
			snprintf(name, sizeof(name), "--%s", o->name);
			return name;
		}
	}
	snprintf(name, sizeof(name), "-%c", opt);
	return name;
}

bool option_takes_value(int opt)
{
	for (const struct option *o = option_long; o->name; o++)
		if (o->val == opt)
			return o->has_arg != no_argument;
	return false;
}

bool option_allowed(const struct command *c, int opt)
{
	switch (opt) {
	case 'U':
	case 'h':
	case '?':
	case OPT_MAX_FLOWS:
	case OPT_MAX_MEMORY:
	case OPT_USER:
	case OPT_STATUS_LISTEN:
		return true;
	case OPT_ADVERTISE:
	case OPT_ALLOW:
		return c->is_agent;
	case OPT_SOCKS_USER:
		return c->role == &local_socks_role;
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

void option_defaults(struct node_config *cfg)
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

__attribute__((format(printf, 2, 3))) static int fail(char err[OPT_ERR_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, OPT_ERR_MAX, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

static int copy_opt(char *dst, size_t len, const char *arg, const char *what, char *err)
{
	if (strlen(arg) >= len)
		return fail(err, "%s too long (at most %zu characters)", what, len - 1);
	strcpy(dst, arg);
	return 0;
}

static int parse_number(const char *arg, long min, long max, const char *what, int *out, char *err)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (!*arg || *end || v < min || v > max)
		return fail(err, "%s wants %ld..%ld, not %s", what, min, max, arg);
	*out = (int)v;
	return 0;
}

/* --socks-user USER:PASS, or @FILE whose first line is USER:PASS (keeps it out of ps). */
static int parse_socks_user(struct node_config *cfg, const char *arg, char *err)
{
	char line[600];
	const char *spec = arg;

	if (arg[0] == '@') {
		FILE *f = fopen(arg + 1, "r");
		if (!f)
			return fail(err, "cannot read --socks-user file %s", arg + 1);
		bool ok = fgets(line, sizeof(line), f) != NULL;
		fclose(f);
		if (!ok)
			return fail(err, "--socks-user file %s is empty", arg + 1);
		line[strcspn(line, "\r\n")] = '\0';
		spec = line;
	}
	const char *colon = strchr(spec, ':');
	size_t ulen = colon ? (size_t)(colon - spec) : 0;
	/* RFC 1929, 2: each 1..255 bytes */
	if (!colon || ulen == 0 || ulen >= sizeof(cfg->socks_user) || !colon[1] ||
		strlen(colon + 1) >= sizeof(cfg->socks_pass))
		return fail(err, "bad --socks-user: want USER:PASS (each 1..255 bytes) or @FILE");
	memcpy(cfg->socks_user, spec, ulen);
	cfg->socks_user[ulen] = '\0';
	strcpy(cfg->socks_pass, colon + 1);
	return 0;
}

/* --remote-domain SUFFIX=AGENT */
static int parse_remote_domain(struct node_config *cfg, const char *arg, char *err)
{
	const char *eq = strchr(arg, '=');
	struct remote_domain *r = &cfg->remote_domains[cfg->n_remote_domains];
	size_t len = eq ? (size_t)(eq - arg) : 0;

	if (cfg->n_remote_domains >= (int)N_ELEMS(cfg->remote_domains))
		return fail(err, "too many --remote-domain options (%s)", arg);
	if (!eq || len == 0 || len >= sizeof(r->suffix) || strlen(eq + 1) >= sizeof(r->agent))
		return fail(err, "bad --remote-domain %s: want SUFFIX=AGENT", arg);
	memcpy(r->suffix, arg, len);
	r->suffix[len] = '\0';
	strcpy(r->agent, eq + 1);
	if (!addr_valid_hostname(r->suffix) || !mqtt_level_valid(r->agent))
		return fail(err, "bad --remote-domain %s: want SUFFIX=AGENT", arg);
	cfg->n_remote_domains++;
	return 0;
}

/* --dns-upstream IP or IP:PORT ([IPv6]:PORT), kept as IP:PORT */
static int parse_dns_upstream(struct node_config *cfg, const char *arg, char *err)
{
	char with_port[80];
	struct sockaddr_storage ss;
	socklen_t len;

	if (strlen(arg) > 64)
		return fail(err, "bad --dns-upstream %.64s...: want IP or IP:PORT", arg);
	if (addr_parse(arg, &ss, &len)) {
		snprintf(with_port, sizeof(with_port), strchr(arg, ':') ? "[%s]:53" : "%s:53", arg);
		if (addr_parse(with_port, &ss, &len))
			return fail(err, "bad --dns-upstream %s: want IP or IP:PORT", arg);
	}
	return addr_format((struct sockaddr *)&ss, cfg->dns_upstream, sizeof(cfg->dns_upstream))
		? fail(err, "bad --dns-upstream %s", arg)
		: 0;
}

/* --route CIDR[=AGENT] and --exclude CIDR: checked here, parsed again by the gateway. */
static int parse_route(struct node_config *cfg, const char *arg, bool exclude, char *err)
{
	const char *what = exclude ? "--exclude" : "--route";
	int *count = exclude ? &cfg->n_excludes : &cfg->n_routes;
	char cidr[NL_PREFIX_STRLEN];
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	struct nl_prefix p;

	if (*count >= (int)N_ELEMS(cfg->routes))
		return fail(err, "too many %s options (%s)", what, arg);
	if (len >= sizeof(cidr) || (exclude && eq))
		return fail(err, "bad %s %s: want CIDR%s", what, arg, exclude ? "" : "[=AGENT]");
	memcpy(cidr, arg, len);
	cidr[len] = '\0';
	if (nl_prefix_parse(cidr, &p, NULL) ||
		(eq && (!mqtt_level_valid(eq + 1) || strlen(eq + 1) >= NODE_ID_MAX)))
		return fail(err, "bad %s %s: want CIDR%s", what, arg, exclude ? "" : "[=AGENT]");
	if (exclude)
		strcpy(cfg->excludes[(*count)++], arg);
	else
		strcpy(cfg->routes[(*count)++], arg);
	return 0;
}

static int parse_list_item(struct node_config *cfg, int opt, const char *arg, char *err)
{
	if (opt == OPT_ALLOW) {
		if (cfg->n_allow >= (int)N_ELEMS(cfg->allow))
			return fail(err, "too many --allow options (%s)", arg);
		if (allow_parse(arg, &cfg->allow[cfg->n_allow]))
			return fail(err, "bad --allow %s: want CIDR or CIDR:PORTS (80,443,8000-8100)", arg);
		cfg->n_allow++;
		return 0;
	}
	if (cfg->n_advertise >= (int)N_ELEMS(cfg->advertise))
		return fail(err, "too many --advertise options (%s)", arg);
	if (nl_prefix_parse(arg, &cfg->advertise[cfg->n_advertise], NULL))
		return fail(err, "bad --advertise %s: want CIDR", arg);
	cfg->n_advertise++;
	return 0;
}

static bool *option_flag(struct node_config *cfg, int opt)
{
	switch (opt) {
	case 'u':
		return &cfg->udp;
	case 'k':
		return &cfg->kcp;
	case OPT_AUTO_ROUTES:
		return &cfg->auto_routes;
	case OPT_DNS:
		return &cfg->dns;
	case OPT_DNS_HIJACK:
		return &cfg->dns_hijack;
	default:
		return NULL;
	}
}

void option_clear_flag(struct node_config *cfg, int opt)
{
	bool *flag = option_flag(cfg, opt);

	if (flag)
		*flag = false;
}

int option_check_status_listen(const char *arg, char err[OPT_ERR_MAX])
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (strlen(arg) >= sizeof(((struct node_config *)0)->status_listen) ||
		addr_parse(arg, &ss, &len))
		return fail(err, "bad status address %s: want IP:PORT or [IPv6]:PORT", arg);
	if (!addr_is_loopback((struct sockaddr *)&ss))
		return fail(err, "status address %s is not a loopback address: metrics and flows "
				 "are for this host only", arg);
	return 0;
}

int option_apply(const struct command *c, struct node_config *cfg, int opt, const char *arg,
	char err[OPT_ERR_MAX])
{
	bool *flag = option_flag(cfg, opt);

	if (flag) {
		*flag = true;
		return 0;
	}
	switch (opt) {
	case 'l':
		return copy_opt(cfg->listen, sizeof(cfg->listen), arg, "listen address", err);
	case 't':
		return copy_opt(cfg->target, sizeof(cfg->target), arg, "target", err);
	case 'a':
		return copy_opt(cfg->agent_id, sizeof(cfg->agent_id), arg, "agent id", err);
	case 'i':
		return copy_opt(c->is_agent ? cfg->agent_id : cfg->local_id, NODE_ID_MAX, arg, "id", err);
	case 'd':
		return copy_opt(cfg->domain, sizeof(cfg->domain), arg, "domain", err);
	case 'U':
		return parse_number(arg, 1, 86400, "--udp-timeout (seconds)", &cfg->udp_timeout_s, err);
	case 'T':
		return copy_opt(cfg->tun_name, sizeof(cfg->tun_name), arg, "TUN name", err);
	case 'M':
		return parse_number(arg, 1280, 65535, "--mtu", &cfg->mtu, err);
	case 'R':
	case 'X':
		return parse_route(cfg, arg, opt == 'X', err);
	case OPT_ALLOW:
	case OPT_ADVERTISE:
		return parse_list_item(cfg, opt, arg, err);
	case OPT_SOCKS_USER:
		return parse_socks_user(cfg, arg, err);
	case OPT_MAX_FLOWS:
		return parse_number(arg, 1, 1 << 20, "--max-flows", &cfg->max_flows, err);
	case OPT_MAX_MEMORY: {
		int mib, bad = parse_number(arg, 16, 1 << 20, "--max-memory (MiB)", &mib, err);
		if (!bad)
			cfg->max_memory = (size_t)mib << 20;
		return bad;
	}
	case OPT_USER:
		return copy_opt(cfg->user, sizeof(cfg->user), arg, "--user", err);
	case OPT_STATUS_LISTEN:
		if (option_check_status_listen(arg, err))
			return EXIT_USAGE;
		strcpy(cfg->status_listen, arg);
		return 0;
	case OPT_REMOTE_DOMAIN:
		return parse_remote_domain(cfg, arg, err);
	case OPT_DNS_UPSTREAM:
		return parse_dns_upstream(cfg, arg, err);
	default:
		return fail(err, "option not valid for %s: %s", c->name, option_name(opt));
	}
}

/* Routes with no =AGENT go to -a: there must be one. */
static int check_routes_have_agent(const struct node_config *cfg, char *err)
{
	for (int i = 0; i < cfg->n_routes; i++)
		if (!strchr(cfg->routes[i], '=') && !strcmp(cfg->agent_id, MQTT_NIL))
			return fail(err, "--route %s names no agent and there is no -a (agent-id)",
				cfg->routes[i]);
	return 0;
}

int option_check(const struct command *c, struct node_config *cfg, char err[OPT_ERR_MAX])
{
	uint16_t port;
	char host[ADDR_HOST_MAX];

	if (!mqtt_level_valid(cfg->agent_id) || !mqtt_level_valid(cfg->local_id) ||
		strpbrk(cfg->agent_id, "\"\\") || strpbrk(cfg->local_id, "\"\\"))
		return fail(err, "ids must be non-empty and hold no '/', '+', '#', '\"' or '\\'");
	if (cfg->kcp && cfg->udp)
		return fail(err, "-k (kcp) carries TCP; it does not go with -u");
	if (c->is_agent && !cfg->target[0])
		strcpy(cfg->target, "127.0.0.1:7777");
	if (!c->is_agent && !cfg->target[0])
		strcpy(cfg->target, "-");
	if (strcmp(cfg->target, "-") && (addr_split(cfg->target, host, sizeof(host), &port) ||
						port == 0 || !mqtt_level_valid(cfg->target)))
		return fail(err, "bad target %s: want HOST:PORT or [IPv6]:PORT", cfg->target);
	if (!cfg->domain[0] || !addr_valid_hostname(cfg->domain))
		return fail(err, "bad domain '%s'", cfg->domain);
	const char *files[] = { cfg->url.cafile, cfg->url.capath, cfg->url.cert, cfg->url.key };
	for (size_t i = 0; i < N_ELEMS(files); i++)
		if (files[i][0] && access(files[i], R_OK))
			return fail(err, "cannot read %s from the MQTT URL", files[i]);
	if (c->role == &gateway_role && cfg->n_routes == 0 && !cfg->auto_routes)
		return fail(err, "gateway: give at least one --route CIDR[=AGENT], or --auto-routes");
	if (check_routes_have_agent(cfg, err))
		return EXIT_USAGE;
	if ((cfg->dns_hijack || cfg->n_remote_domains || cfg->dns_upstream[0]) && !cfg->dns)
		return fail(err, "--dns-hijack, --remote-domain and --dns-upstream go with --dns");
	if (cfg->dns_upstream[0] && !strcmp(cfg->agent_id, MQTT_NIL))
		return fail(err, "--dns-upstream needs a default agent (-a) to reach it through");
	if (!c->is_agent && c->role != &gateway_role) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (addr_parse(cfg->listen, &ss, &len))
			return fail(err, "bad listen address %s: want IP:PORT or [IPv6]:PORT",
				cfg->listen);
	}
	return 0;
}
