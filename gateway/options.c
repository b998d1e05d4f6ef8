/* The commands and their options: one table read by the command line and by the config file. */
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/core/node.h"
#include "gateway/core/status.h"
#include "gateway/lib/addr.h"
#include "gateway/lib/basicauth.h"
#include "gateway/lib/log.h"
#include "gateway/lib/peerkeys.h"
#include "gateway/roles/roles.h"
#include "mqtt/url.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define STATUS_LISTEN_MAX 64 /* as struct config holds it */

/* ---- where an option's value goes ---- */

enum field_kind {
	FIELD_STRING, /* copied, at most size - 1 characters */
	FIELD_INT,    /* min..max */
	FIELD_MIB,    /* min..max MiB, kept in bytes (a size_t) */
	FIELD_FLAG,   /* a bool */
	FIELD_PARSE,  /* parse(role_cfg, arg, err) */
};

struct binding {
	int opt;
	bool in_node; /* in struct node_config, else in the role's own config */
	enum field_kind kind;
	size_t offset, size;
	const char *what; /* how errors name it */
	long min, max;
	int (*parse)(void *role_cfg, const char *arg, char *err);
};

#define FIELD(type, field) offsetof(type, field), sizeof(((type *)0)->field)
#define NODE_STRING(opt, field, what)                                                              \
	{                                                                                          \
		opt, true, FIELD_STRING, FIELD(struct node_config, field), what, 0, 0, NULL        \
	}
#define ROLE_STRING(opt, type, field, what)                                                        \
	{                                                                                          \
		opt, false, FIELD_STRING, FIELD(type, field), what, 0, 0, NULL                     \
	}
#define ROLE_INT(opt, type, field, what, min, max)                                                 \
	{                                                                                          \
		opt, false, FIELD_INT, FIELD(type, field), what, min, max, NULL                    \
	}
#define ROLE_FLAG(opt, type, field)                                                                \
	{                                                                                          \
		opt, false, FIELD_FLAG, FIELD(type, field), NULL, 0, 0, NULL                       \
	}
#define NODE_PARSE(opt, fn)                                                                        \
	{                                                                                          \
		opt, true, FIELD_PARSE, 0, 0, NULL, 0, 0, fn                                       \
	}
#define ROLE_PARSE(opt, fn)                                                                        \
	{                                                                                          \
		opt, false, FIELD_PARSE, 0, 0, NULL, 0, 0, fn                                      \
	}
#define END_BINDINGS                                                                               \
	{                                                                                          \
		0, false, FIELD_STRING, 0, 0, NULL, 0, 0, NULL                                     \
	}

#define fail(err, ...) fail_with(err, OPT_ERR_MAX, EXIT_USAGE, __VA_ARGS__)

/* ---- the options that need more than a copy ---- */

/* --socks-user USER:PASS, or @FILE whose first line is USER:PASS (keeps it out of ps). */
static int parse_socks_user(void *role_cfg, const char *arg, char *err)
{
	struct socks_credentials *auth = &((struct local_socks_config *)role_cfg)->auth;
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
	if (!colon || ulen == 0 || ulen >= sizeof(auth->user) || !colon[1] ||
		strlen(colon + 1) >= sizeof(auth->pass))
		return fail(err, "bad --socks-user: want USER:PASS (each 1..255 bytes) or @FILE");
	memcpy(auth->user, spec, ulen);
	auth->user[ulen] = '\0';
	strcpy(auth->pass, colon + 1);
	return 0;
}

/* --seal-peer AGENT=KEY: the key is the last KEY_TEXT_LEN characters (base64 ends in '='). */
static int parse_seal_peer(void *node_cfg, const char *arg, char *err)
{
	struct node_config *node = node_cfg;
	struct seal_pin *pin = &node->seal_pins[node->n_seal_pins];
	size_t len = strlen(arg);
	size_t agent_len = len > KEY_TEXT_LEN ? len - KEY_TEXT_LEN - 1 : 0;

	if (node->n_seal_pins >= NODE_SEAL_PINS)
		return fail(err, "more than %d --seal-peer options", NODE_SEAL_PINS);
	if (!agent_len || arg[agent_len] != '=' || agent_len >= sizeof(pin->agent) ||
		keys_decode(pin->pub, arg + agent_len + 1, KEY_TEXT_LEN) ||
		keys_peer_dh((uint8_t[KEY_LEN]){ 0 }, pin->pub))
		return fail(
			err, "bad --seal-peer %s: want AGENT=KEY, KEY from net4mqtt pubkey", arg);
	memcpy(pin->agent, arg, agent_len);
	pin->agent[agent_len] = '\0';
	if (!mqtt_level_valid(pin->agent) || strchr(pin->agent, ','))
		return fail(err,
			"bad --seal-peer %s: AGENT is one agent id (a pool's members each "
			"get their own)",
			arg);
	for (int i = 0; i < node->n_seal_pins; i++)
		if (!strcmp(node->seal_pins[i].agent, pin->agent))
			return fail(err, "--seal-peer for %s given twice", pin->agent);
	node->n_seal_pins++;
	return 0;
}

/* --seal-key, --seal-peer, --seal-peers: each needs the others it works with. */
static int check_seal(
	const struct command *c, const struct node_config *node, const void *role_cfg, char *err)
{
	char why[KEY_ERR_MAX];
	uint8_t key[KEY_LEN];

	if (node->seal_key[0]) {
		int rc = keys_read(key, node->seal_key, "--seal-key", why);
		sodium_memzero(key, sizeof(key));
		if (rc)
			return fail(err, "%s", why);
	}
	if (c->role->is_agent) {
		const struct agent_config *cfg = role_cfg;
		if (node->n_seal_pins)
			return fail(err, "--seal-peer is for locals: an agent lists the locals it "
					 "lets in with --seal-peers FILE");
		if (node->seal_key[0] && !cfg->seal_peers[0])
			return fail(err,
				"--seal-key on an agent needs --seal-peers FILE: the locals' "
				"public keys it lets open flows");
		if (cfg->seal_peers[0] && !node->seal_key[0])
			return fail(err, "--seal-peers needs --seal-key FILE: the agent's own key");
		if (cfg->seal_peers[0]) {
			struct peer_keys *list = malloc(sizeof(*list));
			char lerr[PEERKEYS_ERR_MAX];
			int rc = list ? peerkeys_read(cfg->seal_peers, list, lerr) : -ENOMEM;
			free(list);
			if (rc)
				return fail(err, "%s", list ? lerr : "out of memory");
		}
		return 0;
	}
	if (node->n_seal_pins && !node->seal_key[0])
		return fail(err, "--seal-peer needs --seal-key FILE: this local's own key");
	return 0;
}

/* An agent id, or a pool of them ("ag1,ag2,ag3": no empty member). */
static bool agent_spec_valid(const char *s)
{
	return mqtt_level_valid(s) && s[0] != ',' && s[strlen(s) - 1] != ',' && !strstr(s, ",,");
}

/* --remote-domain SUFFIX=AGENT */
static int parse_remote_domain(void *role_cfg, const char *arg, char *err)
{
	struct gateway_config *cfg = role_cfg;
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
	if (!addr_valid_hostname(r->suffix) || !agent_spec_valid(r->agent))
		return fail(err, "bad --remote-domain %s: want SUFFIX=AGENT", arg);
	cfg->n_remote_domains++;
	return 0;
}

/* --dns-upstream IP or IP:PORT ([IPv6]:PORT), kept as IP:PORT */
static int parse_dns_upstream(void *role_cfg, const char *arg, char *err)
{
	struct gateway_config *cfg = role_cfg;
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
static int parse_route_or_exclude(
	struct gateway_config *cfg, const char *arg, bool exclude, char *err)
{
	const char *what = exclude ? "--exclude" : "--route";
	int *count = exclude ? &cfg->n_excludes : &cfg->n_routes;
	char cidr[NL_PREFIX_STRLEN];
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	struct nl_prefix p;

	if (*count >= ROLE_LIST_MAX)
		return fail(err, "too many %s options (%s)", what, arg);
	if (len >= sizeof(cidr) || (exclude && eq))
		return fail(err, "bad %s %s: want CIDR%s", what, arg, exclude ? "" : "[=AGENT]");
	memcpy(cidr, arg, len);
	cidr[len] = '\0';
	if (nl_prefix_parse(cidr, &p, NULL) ||
		(eq && (!agent_spec_valid(eq + 1) || strlen(eq + 1) >= NODE_ID_MAX)))
		return fail(err, "bad %s %s: want CIDR%s", what, arg, exclude ? "" : "[=AGENT]");
	if (exclude)
		strcpy(cfg->excludes[(*count)++], arg);
	else
		strcpy(cfg->routes[(*count)++], arg);
	return 0;
}

static int parse_route(void *role_cfg, const char *arg, char *err)
{
	return parse_route_or_exclude(role_cfg, arg, false, err);
}

static int parse_exclude(void *role_cfg, const char *arg, char *err)
{
	return parse_route_or_exclude(role_cfg, arg, true, err);
}

/* A decimal number, all of arg; false for anything else. */
static bool whole_number(const char *arg, long *out)
{
	char *end;

	if (!*arg || strspn(arg, "0123456789") != strlen(arg) || strlen(arg) > 10)
		return false;
	*out = strtol(arg, &end, 10);
	return !*end;
}

/* --table N: any table but the kernel's own */
static int parse_table(void *role_cfg, const char *arg, char *err)
{
	long v;

	if (!whole_number(arg, &v) || v < 1 || v > INT32_MAX || (v >= 253 && v <= 255))
		return fail(err,
			"bad --table %s: want 1..2147483647 but not 253, 254 or 255 (the "
			"kernel's default, main and local tables)",
			arg);
	((struct gateway_config *)role_cfg)->table = (int)v;
	return 0;
}

/* --rule-priority N: below main's 32766, with room for the pin and --bypass rules under it */
static int parse_rule_priority(void *role_cfg, const char *arg, char *err)
{
	long v;

	if (!whole_number(arg, &v) || v < GW_RULE_PRIO_MIN || v > GW_RULE_PRIO_MAX)
		return fail(err,
			"bad --rule-priority %s: want %d..%d (0, 32766 and 32767 are the "
			"kernel's rules; the broker pin and --bypass take the two below it)",
			arg, GW_RULE_PRIO_MIN, GW_RULE_PRIO_MAX);
	((struct gateway_config *)role_cfg)->rule_priority = (int)v;
	return 0;
}

/* --fake-ip-range CIDR: the pool's IPv4 or IPv6 prefix, one of each at most */
static int parse_fake_ip_range(void *role_cfg, const char *arg, char *err)
{
	struct gateway_config *cfg = role_cfg;
	struct nl_prefix p;
	bool masked;
	const char *why;

	if (strlen(arg) >= NL_PREFIX_STRLEN || nl_prefix_parse(arg, &p, &masked))
		return fail(err, "bad --fake-ip-range %s: want an IPv4 or IPv6 CIDR", arg);
	if ((why = fakeip_range_refused(&p, masked)))
		return fail(err, "bad --fake-ip-range %s: %s", arg, why);
	uint8_t bit = p.family == AF_INET ? 1 : 2;
	if (cfg->fake_ip_given & bit)
		return fail(err, "--fake-ip-range %s: an %s range is given already (one of each)",
			arg, bit == 1 ? "IPv4" : "IPv6");
	cfg->fake_ip_given |= bit;
	if (bit == 1)
		cfg->fake_ip.net4 = p;
	else
		cfg->fake_ip.net6 = p;
	return 0;
}

/* --bypass CIDR: LAN sources that keep to the main table */
static int parse_bypass(void *role_cfg, const char *arg, char *err)
{
	struct gateway_config *cfg = role_cfg;
	struct nl_prefix *p = &cfg->bypass[cfg->n_bypass];

	if (cfg->n_bypass >= (int)N_ELEMS(cfg->bypass))
		return fail(err, "too many --bypass options (%s)", arg);
	if (strlen(arg) >= NL_PREFIX_STRLEN || nl_prefix_parse(arg, p, NULL))
		return fail(err, "bad --bypass %s: want an IPv4 or IPv6 CIDR", arg);
	if (!p->len)
		return fail(err,
			"bad --bypass %s: a default route would keep every host out of the "
			"gateway (give the hosts' addresses)",
			arg);
	for (int i = 0; i < cfg->n_bypass; i++)
		if (nl_prefix_equal(&cfg->bypass[i], p))
			return fail(err, "--bypass %s is given twice", arg);
	cfg->n_bypass++;
	return 0;
}

static int parse_allow(void *role_cfg, const char *arg, char *err)
{
	struct agent_config *cfg = role_cfg;

	if (cfg->n_allow >= (int)N_ELEMS(cfg->allow))
		return fail(err, "too many --allow options (%s)", arg);
	if (allow_parse(arg, &cfg->allow[cfg->n_allow]))
		return fail(err, "bad --allow %s: want CIDR or CIDR:PORTS (80,443,8000-8100)", arg);
	cfg->n_allow++;
	return 0;
}

static int parse_advertise(void *role_cfg, const char *arg, char *err)
{
	struct agent_config *cfg = role_cfg;

	if (cfg->n_advertise >= (int)N_ELEMS(cfg->advertise))
		return fail(err, "too many --advertise options (%s)", arg);
	struct nl_prefix *p = &cfg->advertise[cfg->n_advertise];
	char subnet[NL_PREFIX_STRLEN];
	bool masked;

	if (strlen(arg) >= NL_PREFIX_STRLEN || nl_prefix_parse(arg, p, &masked))
		return fail(err, "bad --advertise %s: want CIDR", arg);
	if (p->len == 0)
		return fail(err,
			"--advertise %s is a default route: advertise the subnets behind this "
			"agent, not the whole Internet",
			arg);
	if (masked) {
		nl_prefix_format(p, subnet, sizeof(subnet));
		return fail(err, "--advertise %s has host bits set: the subnet is %s", arg, subnet);
	}
	cfg->n_advertise++;
	return 0;
}

/* ---- each command's options ---- */

/* Every command's: the limits of its flows. */
static const struct binding node_bindings[] = {
	{ 'U', true, FIELD_INT, FIELD(struct node_config, limits.udp_timeout_s),
		"--udp-timeout (seconds)", 1, 86400, NULL },
	{ OPT_MAX_FLOWS, true, FIELD_INT, FIELD(struct node_config, limits.max_flows),
		"--max-flows", 1, 1 << 20, NULL },
	{ OPT_MAX_MEMORY, true, FIELD_MIB, FIELD(struct node_config, limits.max_memory),
		"--max-memory (MiB)", 16, 1 << 20, NULL },
	{ OPT_PLAIN_STREAMS, true, FIELD_FLAG, FIELD(struct node_config, plain_streams), NULL, 0, 0,
		NULL },
	{ OPT_PACKET_SIZE, true, FIELD_INT, FIELD(struct node_config, packet_size),
		"--packet-size (bytes)", NODE_PACKET_MIN, STATUS_MAX_PACKET, NULL },
	NODE_STRING(OPT_SEAL_KEY, seal_key, "--seal-key file name"),
	NODE_PARSE(OPT_SEAL_PEER, parse_seal_peer),
	END_BINDINGS,
};

static const struct binding agent_bindings[] = {
	NODE_STRING('i', agent_id, "id"),
	ROLE_STRING('t', struct agent_config, target, "target"),
	ROLE_PARSE(OPT_ALLOW, parse_allow),
	ROLE_PARSE(OPT_ADVERTISE, parse_advertise),
	ROLE_INT(OPT_MAX_FLOWS_PER_PEER, struct agent_config, max_flows_per_peer,
		"--max-flows-per-peer", 1, 1 << 20),
	ROLE_INT(OPT_UNUSED_TIMEOUT, struct agent_config, unused_timeout_s,
		"--unused-timeout (seconds)", 0, 86400),
	ROLE_STRING(OPT_SEAL_PEERS, struct agent_config, seal_peers, "--seal-peers file name"),
	END_BINDINGS,
};

static const struct binding local_port_bindings[] = {
	NODE_STRING('a', agent_id, "agent id"),
	NODE_STRING('i', local_id, "id"),
	ROLE_STRING('l', struct local_port_config, listen, "listen address"),
	ROLE_STRING('t', struct local_port_config, target, "target"),
	ROLE_FLAG('u', struct local_port_config, udp),
	ROLE_FLAG('k', struct local_port_config, kcp),
	END_BINDINGS,
};

static const struct binding local_socks_bindings[] = {
	NODE_STRING('a', agent_id, "agent id"),
	NODE_STRING('i', local_id, "id"),
	ROLE_STRING('l', struct local_socks_config, listen, "listen address"),
	ROLE_STRING('d', struct local_socks_config, domain, "domain"),
	ROLE_FLAG('k', struct local_socks_config, kcp),
	ROLE_PARSE(OPT_SOCKS_USER, parse_socks_user),
	END_BINDINGS,
};

static const struct binding gateway_bindings[] = {
	NODE_STRING('a', agent_id, "agent id"),
	NODE_STRING('i', local_id, "id"),
	ROLE_FLAG('k', struct gateway_config, kcp),
	ROLE_STRING('T', struct gateway_config, tun_name, "TUN name"),
	ROLE_INT('M', struct gateway_config, mtu, "--mtu", 1280, 65535),
	ROLE_PARSE('R', parse_route),
	ROLE_PARSE('X', parse_exclude),
	ROLE_FLAG(OPT_AUTO_ROUTES, struct gateway_config, auto_routes),
	ROLE_FLAG(OPT_DNS, struct gateway_config, dns),
	ROLE_FLAG(OPT_DNS_HIJACK, struct gateway_config, dns_hijack),
	ROLE_PARSE(OPT_REMOTE_DOMAIN, parse_remote_domain),
	ROLE_PARSE(OPT_DNS_UPSTREAM, parse_dns_upstream),
	ROLE_STRING('d', struct gateway_config, domain, "domain"),
	ROLE_PARSE(OPT_FAKE_IP_RANGE, parse_fake_ip_range),
	ROLE_STRING(OPT_FAKE_IP_CACHE, struct gateway_config, fake_ip_cache, "--fake-ip-cache"),
	ROLE_PARSE(OPT_TABLE, parse_table),
	ROLE_PARSE(OPT_RULE_PRIORITY, parse_rule_priority),
	ROLE_PARSE(OPT_BYPASS, parse_bypass),
	END_BINDINGS,
};

/* ---- each command's defaults and checks ---- */

static void local_port_defaults(void *role_cfg)
{
	struct local_port_config *cfg = role_cfg;

	strcpy(cfg->listen, "127.0.0.1:4444");
}

static void local_socks_defaults(void *role_cfg)
{
	struct local_socks_config *cfg = role_cfg;

	strcpy(cfg->listen, "127.0.0.1:4444");
	strcpy(cfg->domain, "net4mqtt.local");
}

static void gateway_defaults(void *role_cfg)
{
	struct gateway_config *cfg = role_cfg;

	strcpy(cfg->tun_name, "n4m0");
	cfg->mtu = 1500;
	strcpy(cfg->domain, "net4mqtt.local");
	fakeip_ranges_default(&cfg->fake_ip);
	cfg->table = GW_TABLE_DEFAULT;
	cfg->rule_priority = GW_RULE_PRIO_DEFAULT;
}

static int check_target(const char *target, char *err)
{
	char host[ADDR_HOST_MAX];
	uint16_t port;

	if (strcmp(target, "-") && (addr_split(target, host, sizeof(host), &port) || port == 0 ||
					   !mqtt_level_valid(target)))
		return fail(err, "bad target %s: want HOST:PORT or [IPv6]:PORT", target);
	return 0;
}

static int check_listen(const char *listen, char *err)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (addr_parse(listen, &ss, &len))
		return fail(err, "bad listen address %s: want IP:PORT or [IPv6]:PORT", listen);
	return 0;
}

static int check_domain(const char *domain, char *err)
{
	if (!domain[0] || !addr_valid_hostname(domain))
		return fail(err, "bad domain '%s'", domain);
	return 0;
}

static void agent_defaults(void *role_cfg)
{
	struct agent_config *cfg = role_cfg;

	cfg->unused_timeout_s = AGENT_UNUSED_TIMEOUT_S;
}

static int agent_check(void *role_cfg, const struct node_config *node, char *err)
{
	struct agent_config *cfg = role_cfg;
	(void)node;

	if (!cfg->target[0])
		strcpy(cfg->target, "127.0.0.1:7777");
	return check_target(cfg->target, err);
}

static int local_port_check(void *role_cfg, const struct node_config *node, char *err)
{
	struct local_port_config *cfg = role_cfg;
	(void)node;

	if (cfg->kcp && cfg->udp)
		return fail(err, "-k (kcp) carries TCP; it does not go with -u");
	if (!cfg->target[0])
		strcpy(cfg->target, "-");
	if (check_target(cfg->target, err))
		return EXIT_USAGE;
	return check_listen(cfg->listen, err);
}

static int local_socks_check(void *role_cfg, const struct node_config *node, char *err)
{
	struct local_socks_config *cfg = role_cfg;
	(void)node;

	if (check_domain(cfg->domain, err))
		return EXIT_USAGE;
	return check_listen(cfg->listen, err);
}

/* Routes with no =AGENT go to -a: there must be one. */
static int check_routes_have_agent(
	const struct gateway_config *cfg, const char *agent_id, char *err)
{
	for (int i = 0; i < cfg->n_routes; i++)
		if (!strchr(cfg->routes[i], '=') && !strcmp(agent_id, MQTT_NIL))
			return fail(err, "--route %s names no agent and there is no -a (agent-id)",
				cfg->routes[i]);
	return 0;
}

/* The prefix of --route CIDR[=AGENT] or --exclude CIDR (checked when given). */
static struct nl_prefix route_prefix(const char *arg)
{
	char cidr[NL_PREFIX_STRLEN];
	struct nl_prefix p;

	snprintf(cidr, sizeof(cidr), "%.*s", (int)strcspn(arg, "="), arg);
	nl_prefix_parse(cidr, &p, NULL);
	return p;
}

/* The same prefix twice (as routes, exclusions, or one of each): refused. */
static int check_duplicate_routes(const struct gateway_config *cfg, char *err)
{
	int n = cfg->n_routes + cfg->n_excludes;

	for (int i = 0; i < n; i++) {
		const char *a =
			i < cfg->n_routes ? cfg->routes[i] : cfg->excludes[i - cfg->n_routes];
		struct nl_prefix p = route_prefix(a);
		for (int j = 0; j < i; j++) {
			const char *b = j < cfg->n_routes ? cfg->routes[j]
							  : cfg->excludes[j - cfg->n_routes];
			struct nl_prefix q = route_prefix(b);
			if (nl_prefix_equal(&p, &q))
				return fail(err, "%s %s: that prefix is given already (%s %s)",
					i < cfg->n_routes ? "--route" : "--exclude", a,
					j < cfg->n_routes ? "--route" : "--exclude", b);
		}
	}
	return 0;
}

/* What would take addresses the gateway needs: a route over the TUN's own
 * (a default route aside: the TUN's addresses stay local), and with --dns a
 * fake-ip range that overlaps the TUN's own, a route or an exclusion. */
static int check_overlaps(const struct gateway_config *cfg, char *err)
{
	static const char *const own[2] = { GW_SELF4_NET, GW_SELF6_NET };
	const struct nl_prefix *fake[2] = { &cfg->fake_ip.net4, &cfg->fake_ip.net6 };
	struct nl_prefix self[2];
	char f[NL_PREFIX_STRLEN];

	for (int k = 0; k < 2; k++)
		nl_prefix_parse(own[k], &self[k], NULL);
	for (int i = 0; i < cfg->n_routes; i++) {
		struct nl_prefix p = route_prefix(cfg->routes[i]);
		for (int k = 0; k < 2 && p.len; k++)
			if (nl_prefix_overlaps(&p, &self[k]))
				return fail(err, "--route %s overlaps the TUN's own %s",
					cfg->routes[i], own[k]);
	}
	if (!cfg->dns)
		return 0;
	for (int k = 0; k < 2; k++) {
		const char *dflt = cfg->fake_ip_given & (1 << k) ? "" : " (the default)";
		nl_prefix_format(fake[k], f, sizeof(f));
		if (nl_prefix_overlaps(fake[k], &self[k]))
			return fail(err, "--fake-ip-range %s%s overlaps the TUN's own %s", f, dflt,
				own[k]);
		for (int i = 0; i < cfg->n_routes + cfg->n_excludes; i++) {
			bool ex = i >= cfg->n_routes;
			const char *a = ex ? cfg->excludes[i - cfg->n_routes] : cfg->routes[i];
			struct nl_prefix p = route_prefix(a);
			if (p.len && nl_prefix_overlaps(fake[k], &p))
				return fail(err,
					"--fake-ip-range %s%s overlaps %s %s: give the pool "
					"another --fake-ip-range",
					f, dflt, ex ? "--exclude" : "--route", a);
		}
	}
	return 0;
}

static int gateway_check(void *role_cfg, const struct node_config *node, char *err)
{
	struct gateway_config *cfg = role_cfg;

	if (check_domain(cfg->domain, err))
		return EXIT_USAGE;
	if (cfg->n_routes == 0 && !cfg->auto_routes)
		return fail(
			err, "gateway: give at least one --route CIDR[=AGENT], or --auto-routes");
	if (check_routes_have_agent(cfg, node->agent_id, err))
		return EXIT_USAGE;
	if ((cfg->dns_hijack || cfg->n_remote_domains || cfg->dns_upstream[0] ||
		    cfg->fake_ip_given || cfg->fake_ip_cache[0]) &&
		!cfg->dns)
		return fail(err,
			"--dns-hijack, --remote-domain, --dns-upstream, --fake-ip-range and "
			"--fake-ip-cache go with --dns");
	if (cfg->dns_upstream[0] && !strcmp(node->agent_id, MQTT_NIL))
		return fail(err, "--dns-upstream needs a default agent (-a) to reach it through");
	if (check_duplicate_routes(cfg, err) || check_overlaps(cfg, err))
		return EXIT_USAGE;
	return 0;
}

const struct command option_commands[] = {
	{ "agent", "exit node: opens the flows that arrive on MQTT (like ss-server, v2ray freedom)",
		"[-m URL] [-t TARGET] [-i ID] [--allow CIDR[:PORTS] ...] [--advertise CIDR ...]\n"
		"         [--max-flows-per-peer N] [--unused-timeout S]",
		&agent_role, "m:t:i:vh", agent_bindings, agent_defaults, agent_check },
	{ "local-port",
		"forwards a local TCP/UDP port to a target behind an agent (like ss-tunnel, v2ray "
		"dokodemo-door)",
		"[-m URL] [-l LISTEN] [-t TARGET] [-a AGENT_ID] [-i ID] [-u] [-k]",
		&local_port_role, "m:l:t:a:i:ukvh", local_port_bindings, local_port_defaults,
		local_port_check },
	{ "local-socks",
		"SOCKS5 server; the client names the destination (like ss-local, v2ray socks)",
		"[-m URL] [-l LISTEN] [-d DOMAIN] [-a AGENT_ID] [-i ID] [--socks-user "
		"USER:PASS|@FILE] [-k]",
		&local_socks_role, "m:l:d:a:i:kvh", local_socks_bindings, local_socks_defaults,
		local_socks_check },
	{ "gateway",
		"TUN gateway: routes subnets into MQTT for every host behind it (like tun2socks)",
		"[-m URL] [-i ID] [-a DEFAULT_AGENT] [--tun NAME] [--mtu N] --route CIDR[=AGENT] "
		"... [--exclude CIDR ...]\n"
		"         [--auto-routes] [--bypass CIDR ...] [--table N] [--rule-priority N]\n"
		"         [--dns [-d DOMAIN] [--dns-hijack] [--remote-domain SUFFIX=AGENT ...] "
		"[--dns-upstream IP]\n"
		"                [--fake-ip-range CIDR ...] [--fake-ip-cache FILE]] [-k]",
		&gateway_role, "m:a:i:d:kvh", gateway_bindings, gateway_defaults, gateway_check },
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
	{ "status-password", required_argument, NULL, OPT_STATUS_PASSWORD },
	{ "plain-streams", no_argument, NULL, OPT_PLAIN_STREAMS },
	{ "packet-size", required_argument, NULL, OPT_PACKET_SIZE },
	{ "table", required_argument, NULL, OPT_TABLE },
	{ "rule-priority", required_argument, NULL, OPT_RULE_PRIORITY },
	{ "fake-ip-range", required_argument, NULL, OPT_FAKE_IP_RANGE },
	{ "fake-ip-cache", required_argument, NULL, OPT_FAKE_IP_CACHE },
	{ "bypass", required_argument, NULL, OPT_BYPASS },
	{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
	{ "cafile", required_argument, NULL, OPT_CAFILE },
	{ "capath", required_argument, NULL, OPT_CAPATH },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "tls-version", required_argument, NULL, OPT_TLS_VERSION },
	{ "sni", required_argument, NULL, OPT_SNI },
	{ "max-flows-per-peer", required_argument, NULL, OPT_MAX_FLOWS_PER_PEER },
	{ "unused-timeout", required_argument, NULL, OPT_UNUSED_TIMEOUT },
	{ "seal-key", required_argument, NULL, OPT_SEAL_KEY },
	{ "seal-peer", required_argument, NULL, OPT_SEAL_PEER },
	{ "seal-peers", required_argument, NULL, OPT_SEAL_PEERS },
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
		"  -m, --mqtt-url URL   broker: "
		"mqtt[s]://[user[:pass]@]host[:port]/PREFIX[?client_id=ID]\n"
		"                       (default " DEFAULT_MQTT_URL ");\n"
		"                       a cluster: host1[:port],host2[:port],... (up to 8),\n"
		"                       tried in turn, the next one after a lost connection\n"
		"      --password-file FILE  the MQTT password: the file's one line (else\n"
		"                       $" MQTT_PASSWORD_ENV ", else the URL's, which ps shows);\n"
		"                       the user name stays in the URL\n"
		"      --cafile FILE    trust these CAs (mqtts:// only; default: the system's)\n"
		"      --capath DIR     ... or the CAs in this directory\n"
		"      --cert FILE      a client certificate, with --key FILE its key\n"
		"      --insecure       do not check the broker certificate's name (its chain "
		"still)\n"
		"      --tls-version V  tlsv1.2 (1.2 or newer, the default) or tlsv1.3 (1.3 only)\n"
		"      --sni NAME       send NAME as the TLS server name and check the "
		"certificate\n"
		"                       for it, not for the URL's host (which may be an address)\n"
		"                       (these win over the URL's ?cafile= ... ?tls_version= "
		"?sni=)\n",
		c->name, c->usage, c->summary);
	if (strchr(c->shortopts, 'l'))
		fprintf(out, "  -l, --listen ADDR    listen on IP:PORT or [IPv6]:PORT (default "
			     "127.0.0.1:4444)\n");
	if (strchr(c->shortopts, 't'))
		fprintf(out, c->role->is_agent ? "  -t, --target ADDR    default target, for flows "
						 "that name none (default 127.0.0.1:7777)\n"
					       : "  -t, --target ADDR    HOST:PORT the agent "
						 "connects to (default: the agent's own target)\n");
	if (strchr(c->shortopts, 'd'))
		fprintf(out,
			c->role == &gateway_role
				? "  -d, --domain DOMAIN  with --dns, AGENT.DOMAIN names an agent "
				  "(default net4mqtt.local;\n"
				  "                       .local is mDNS's (RFC 6762): dig warns, "
				  "and hosts with nss-mdns\n"
				  "                       (mdns4_minimal [NOTFOUND=return]) never "
				  "ask the gateway for it;\n"
				  "                       pick e.g. net4mqtt.internal or home.arpa "
				  "for them)\n"
				: "  -d, --domain DOMAIN  AGENT.DOMAIN names an agent (default "
				  "net4mqtt.local)\n");
	if (strchr(c->shortopts, 'a'))
		fprintf(out, "  -a, --agent-id ID    the agent to use (default -)\n");
	fprintf(out, "  -i, --id ID          this node's id (default -)\n");
	if (strchr(c->shortopts, 'u'))
		fprintf(out, "  -u, --udp            forward UDP instead of TCP\n");
	if (strchr(c->shortopts, 'k'))
		fprintf(out, "  -k, --kcp            carry TCP inside KCP: survives lost messages, "
			     "flow-controlled\n");
	fprintf(out,
		"      --udp-timeout S  idle UDP flows end after S seconds (default 60)\n"
		"      --max-flows N    refuse new flows while N are open (default %d)\n"
		"      --max-memory MIB refuse new flows above this much heap (default %d)\n"
		"      --plain-streams  streams as net4mqtt carries them (tcp, kcp): no explicit "
		"open,\n"
		"                       flow control or loss detection, even between our peers\n"
		"      --packet-size B  publish at most B bytes in one MQTT packet to our peers "
		"(default %d)\n"
		"      --user NAME      run as NAME after start-up (when started as root)\n"
		"      --status-listen ADDR  serve the page, /metrics and /status on IP:PORT\n"
		"                       (loopback; another address wants --status-password)\n"
		"      --status-password FILE  the status server asks for the file's one line\n"
		"                       (HTTP basic auth, any user name; plain HTTP)\n"
		"      --seal-key FILE  our private key (net4mqtt genkey): encrypted flows with "
		"the\n"
		"                       peers named below (docs/protocol.md, \"Encrypted "
		"flows\")\n",
		DEFAULT_MAX_FLOWS, DEFAULT_MAX_MEMORY_MIB, NODE_PACKET_SIZE);
	if (c->role->is_agent)
		fprintf(out, "      --seal-peers FILE  the locals' public keys (a \"KEY [name]\" "
			     "a line) that may\n"
			     "                       open flows; with --seal-key, nothing else may "
			     "(reread on SIGHUP)\n");
	else
		fprintf(out, "      --seal-peer AGENT=KEY  encrypt every flow to AGENT, whose "
			     "public key is KEY\n"
			     "                       (net4mqtt pubkey; repeatable)\n");
	if (c->role->is_agent)
		fprintf(out, "      --allow CIDR[:PORTS]  open only these destinations "
			     "(repeatable; PORTS: 80,443,8000-8100);\n"
			     "                       without it, any (the default target always)\n"
			     "      --advertise CIDR  tell gateways (--auto-routes) this subnet is "
			     "reachable here\n"
			     "      --max-flows-per-peer N  flows one local id may have open here "
			     "(default: 3/4 of --max-flows)\n"
			     "      --unused-timeout S  end a stream after S seconds with no byte "
			     "either way since\n"
			     "                       it opened (default 60; 0: never)\n");
	if (c->role == &local_socks_role)
		fprintf(out, "      --socks-user USER:PASS  require this SOCKS5 username/password "
			     "(RFC 1929);\n"
			     "                       @FILE reads USER:PASS from the file's first "
			     "line\n");
	if (c->role == &gateway_role)
		fprintf(out,
			"      --tun NAME       the TUN device (default n4m0)\n"
			"      --mtu N          its MTU (default 1500)\n"
			"      --route CIDR[=AGENT]  send this subnet into the TUN, to AGENT "
			"(default: -a)\n"
			"      --exclude CIDR   never route this part of a routed subnet\n"
			"      --auto-routes    also route the subnets online agents advertise\n"
			"      --bypass CIDR    these LAN sources never enter the TUN: `from CIDR "
			"lookup main`\n"
			"                       at priority N-2 (repeatable; reloadable)\n"
			"      --table N        our routing table (default 1883; not 253, 254, "
			"255)\n"
			"      --rule-priority N  of `from all lookup TABLE` (default 1883, "
			"3..32765); "
			"the\n"
			"                       broker pin takes N-1, --bypass N-2\n"
			"      --dns            answer DNS on the TUN's addresses (198.18.0.1, "
			"fdfe:dcba:9876::1)\n"
			"      --dns-hijack     ... and every port 53 query routed into the TUN\n"
			"      --remote-domain SUFFIX=AGENT  names under SUFFIX are resolved by "
			"AGENT\n"
			"      --dns-upstream IP[:PORT]  other names: this resolver, through the "
			"default agent\n"
			"      --fake-ip-range CIDR  the pool's IPv4 (/8../30, default "
			"198.19.0.0/16) or IPv6\n"
			"                       (/8../120, default fdfe:dcba:9876:1::/64) prefix; "
			"one of each\n"
			"      --fake-ip-cache FILE  keep the pool's names and addresses across "
			"restarts\n"
			"                       (default: none)\n");
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

/* Where c keeps opt, or NULL: every command's limits first, then c's own options. */
static const struct binding *binding_of(const struct command *c, int opt)
{
	for (const struct binding *b = node_bindings; b->opt; b++)
		if (b->opt == opt)
			return b;
	for (const struct binding *b = c->bindings; b->opt; b++)
		if (b->opt == opt)
			return b;
	return NULL;
}

bool option_allowed(const struct command *c, int opt)
{
	switch (opt) {
	case 'h':
	case '?':
	case OPT_USER:
	case OPT_STATUS_LISTEN:
	case OPT_STATUS_PASSWORD:
		return true;
	case OPT_PASSWORD_FILE:
	case OPT_CAFILE:
	case OPT_CAPATH:
	case OPT_CERT:
	case OPT_KEY:
	case OPT_INSECURE:
	case OPT_TLS_VERSION:
	case OPT_SNI:
		return true;
	case 'm':
	case 'v':
		return strchr(c->shortopts, opt) != NULL;
	default:
		return binding_of(c, opt) != NULL;
	}
}

void option_defaults(const struct command *c, struct node_config *node, void *role_cfg)
{
	memset(node, 0, sizeof(*node));
	strcpy(node->agent_id, "-");
	strcpy(node->local_id, "-");
	node->limits.udp_timeout_s = 60;
	node->limits.max_flows = DEFAULT_MAX_FLOWS;
	node->limits.max_memory = (size_t)DEFAULT_MAX_MEMORY_MIB << 20;
	node->packet_size = NODE_PACKET_SIZE;
	if (!role_cfg)
		return;
	memset(role_cfg, 0, c->role->config_size);
	if (c->defaults)
		c->defaults(role_cfg);
}

static int parse_number(const char *arg, long min, long max, const char *what, long *out, char *err)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (!*arg || *end || v < min || v > max)
		return fail(err, "%s wants %ld..%ld, not %s", what, min, max, arg);
	*out = v;
	return 0;
}

int option_apply(const struct command *c, struct node_config *node, void *role_cfg, int opt,
	const char *arg, char err[OPT_ERR_MAX])
{
	const struct binding *b = binding_of(c, opt);
	long v;

	if (!b)
		return fail(err, "option not valid for %s: %s", c->name, option_name(opt));
	char *field = (char *)(b->in_node ? (void *)node : role_cfg) + b->offset;
	switch (b->kind) {
	case FIELD_STRING:
		if (strlen(arg) >= b->size)
			return fail(
				err, "%s too long (at most %zu characters)", b->what, b->size - 1);
		strcpy(field, arg);
		return 0;
	case FIELD_INT:
		if (parse_number(arg, b->min, b->max, b->what, &v, err))
			return EXIT_USAGE;
		*(int *)field = (int)v;
		return 0;
	case FIELD_MIB:
		if (parse_number(arg, b->min, b->max, b->what, &v, err))
			return EXIT_USAGE;
		*(size_t *)field = (size_t)v << 20;
		return 0;
	case FIELD_FLAG:
		*(bool *)field = true;
		return 0;
	case FIELD_PARSE:
		return b->parse(b->in_node ? (void *)node : role_cfg, arg, err);
	}
	return EXIT_USAGE;
}

void option_clear_flag(const struct command *c, void *role_cfg, int opt)
{
	const struct binding *b = binding_of(c, opt);

	if (b && b->kind == FIELD_FLAG && !b->in_node)
		*(bool *)((char *)role_cfg + b->offset) = false;
}

/* ---- the MQTT connection's options beside its URL ---- */

#define MQTT_OPT(opt, field)                                                                       \
	{                                                                                          \
		opt, offsetof(struct mqtt_opts, field), sizeof(((struct mqtt_opts *)0)->field),    \
			offsetof(struct mqtt_url, field)                                           \
	}

/* The options that are a string, and where the URL keeps the same (SIZE_MAX: nowhere). */
static const struct mqtt_string_opt {
	int opt;
	size_t offset, size, url_offset;
} mqtt_string_opts[] = {
	{ OPT_PASSWORD_FILE, offsetof(struct mqtt_opts, password_file),
		sizeof(((struct mqtt_opts *)0)->password_file), SIZE_MAX },
	MQTT_OPT(OPT_CAFILE, cafile),
	MQTT_OPT(OPT_CAPATH, capath),
	MQTT_OPT(OPT_CERT, cert),
	MQTT_OPT(OPT_KEY, key),
	MQTT_OPT(OPT_TLS_VERSION, tls_version),
	MQTT_OPT(OPT_SNI, sni),
};

bool option_is_mqtt(int opt)
{
	if (opt == OPT_INSECURE)
		return true;
	for (size_t i = 0; i < N_ELEMS(mqtt_string_opts); i++)
		if (mqtt_string_opts[i].opt == opt)
			return true;
	return false;
}

/* "--cafile" on the command line, "cafile" in the config file (option_name's static buffer) */
static const char *mqtt_opt_name(int opt, bool argv)
{
	const char *name = option_name(opt);

	return argv ? name : name + 2;
}

static int check_tls_version(const char *v, const char *what, char *err)
{
	if (v[0] && strcmp(v, "tlsv1.2") && strcmp(v, "tlsv1.3"))
		return fail(err, "bad %s%s: want tlsv1.2 (1.2 or newer) or tlsv1.3", what, v);
	return 0;
}

/* RFC 6066, 3: a host name; "Literal IPv4 and IPv6 addresses are not permitted". */
static int check_sni(const char *name, const char *what, char *err)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (name[0] && (!addr_valid_hostname(name) || inet_pton(AF_INET, name, addr) == 1))
		return fail(err, "bad %s%s: want a DNS name (RFC 6066 sends no IP address)", what,
			name);
	return 0;
}

int option_mqtt_set(struct mqtt_opts *o, int opt, const char *arg, char err[OPT_ERR_MAX])
{
	if (opt == OPT_INSECURE) {
		o->insecure = true;
		return 0;
	}
	for (size_t i = 0; i < N_ELEMS(mqtt_string_opts); i++) {
		const struct mqtt_string_opt *m = &mqtt_string_opts[i];
		if (m->opt != opt)
			continue;
		if (!arg[0] || strlen(arg) >= m->size)
			return fail(err, "bad %s: want 1..%zu characters", option_name(opt),
				m->size - 1);
		if (opt == OPT_TLS_VERSION && check_tls_version(arg, "--tls-version ", err))
			return EXIT_USAGE;
		if (opt == OPT_SNI && check_sni(arg, "--sni ", err))
			return EXIT_USAGE;
		strcpy((char *)o + m->offset, arg);
		return 0;
	}
	return fail(err, "not an MQTT option: %s", option_name(opt));
}

#define SECRET_FILE_MAX 1024 /* the longest secret read_secret_file reads, with its NUL */

/* A secret file's one line (one trailing newline stripped) into out (size bytes with its NUL,
 * at most SECRET_FILE_MAX); what names the option in messages. */
static int read_secret_file(const char *path, const char *what, char *out, size_t size, char *err)
{
	char buf[SECRET_FILE_MAX + 1];
	struct stat st;
	FILE *f = size <= SECRET_FILE_MAX ? fopen(path, "re") : NULL;
	int rc = EXIT_USAGE;

	if (!f)
		return fail(err, "cannot read %s %s: %s", what, path,
			size <= SECRET_FILE_MAX ? strerror(errno) : "no room");
	size_t n = fread(buf, 1, size + 1, f);
	int read_errno = ferror(f) ? errno : 0;
	bool other_readable =
		!fstat(fileno(f), &st) && S_ISREG(st.st_mode) && (st.st_mode & S_IROTH);
	fclose(f);
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	if (read_errno)
		fail(err, "cannot read %s %s: %s", what, path, strerror(read_errno));
	else if (n == 0)
		fail(err, "%s %s is empty", what, path);
	else if (n >= size)
		fail(err, "%s %s: the password is longer than %zu bytes", what, path, size - 1);
	else if (memchr(buf, '\n', n) || memchr(buf, '\0', n))
		fail(err, "%s %s: want the password alone on one line", what, path);
	else
		rc = 0;
	if (!rc) {
		memcpy(out, buf, n);
		out[n] = '\0';
	}
	explicit_bzero(buf, sizeof(buf));
	if (!rc && other_readable)
		log_warnx("%s %s can be read by every user (mode %04o): chmod o-r %s", what, path,
			(unsigned)(st.st_mode & 07777), path);
	return rc;
}

/* The password file's one line into url. */
static int read_password_file(const char *path, struct mqtt_url *url, bool argv, char *err)
{
	if (read_secret_file(path, mqtt_opt_name(OPT_PASSWORD_FILE, argv), url->password,
		    sizeof(url->password), err))
		return EXIT_USAGE;
	url->has_password = true;
	return 0;
}

static int apply_password(
	const struct mqtt_opts *o, struct mqtt_url *url, bool argv, int *bad, char *err)
{
	const char *env = getenv(MQTT_PASSWORD_ENV);

	if (argv && url->has_password)
		log_warnx("the MQTT password in the URL (-m) is visible to every user in ps: give "
			  "it with --password-file FILE or " MQTT_PASSWORD_ENV);
	*bad = OPT_PASSWORD_FILE;
	if (o->password_file[0]) {
		if (!url->user[0])
			return fail(err,
				"%s wants a user name in the MQTT URL: mqtt[s]://USER@HOST/PREFIX",
				mqtt_opt_name(OPT_PASSWORD_FILE, argv));
		if (read_password_file(o->password_file, url, argv, err))
			return EXIT_USAGE;
	} else if (env && env[0]) {
		*bad = 'm';
		if (strlen(env) >= sizeof(url->password))
			return fail(err, MQTT_PASSWORD_ENV " is longer than %zu bytes",
				sizeof(url->password) - 1);
		if (!url->user[0])
			return fail(err,
				MQTT_PASSWORD_ENV " is set, but the MQTT URL names no user: "
						  "mqtt[s]://USER@HOST/PREFIX");
		strcpy(url->password, env);
		url->has_password = true;
	}
	return 0;
}

int option_mqtt_apply(
	const struct mqtt_opts *o, struct mqtt_url *url, bool argv, int *bad, char err[OPT_ERR_MAX])
{
	if (apply_password(o, url, argv, bad, err))
		return EXIT_USAGE;
	for (size_t i = 0; i < N_ELEMS(mqtt_string_opts); i++) {
		const struct mqtt_string_opt *m = &mqtt_string_opts[i];
		const char *v = (const char *)o + m->offset;
		if (!v[0] || m->url_offset == SIZE_MAX)
			continue;
		*bad = m->opt;
		/* TLS is the URL's scheme's to say: a flag turning it on would leave the port */
		if (!url->tls)
			return fail(err, "%s goes with an mqtts:// URL (mqtt:// is not encrypted)",
				mqtt_opt_name(m->opt, argv));
		if (m->opt != OPT_TLS_VERSION && m->opt != OPT_SNI && access(v, R_OK))
			return fail(err, "cannot read %s %s: %s", mqtt_opt_name(m->opt, argv), v,
				strerror(errno));
		strcpy((char *)url + m->url_offset, v);
	}
	*bad = OPT_INSECURE;
	if (o->insecure && !url->tls)
		return fail(err, "%s goes with an mqtts:// URL (mqtt:// is not encrypted)",
			mqtt_opt_name(OPT_INSECURE, argv));
	url->insecure |= o->insecure;
	*bad = url->cert[0] ? OPT_CERT : OPT_KEY;
	if (!url->cert[0] != !url->key[0])
		return fail(err, "%s go together: a client certificate and its key",
			argv ? "--cert and --key" : "cert and key");
	*bad = 'm';
	if (check_tls_version(url->tls_version, "MQTT URL: tls_version=", err) ||
		check_sni(url->sni, "MQTT URL: sni=", err))
		return EXIT_USAGE;
	return 0;
}

int option_check_status_listen(const char *arg, char err[OPT_ERR_MAX])
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (strlen(arg) >= STATUS_LISTEN_MAX || addr_parse(arg, &ss, &len))
		return fail(err, "bad status address %s: want IP:PORT or [IPv6]:PORT", arg);
	return 0;
}

int option_check_status_access(
	const char *listen, bool has_password, bool argv, char err[OPT_ERR_MAX])
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (option_check_status_listen(listen, err))
		return EXIT_USAGE;
	addr_parse(listen, &ss, &len);
	if (has_password || addr_is_loopback((struct sockaddr *)&ss))
		return 0;
	return fail(err,
		"status address %s is not a loopback address: beyond this host the status "
		"server wants a password (%s)",
		listen, argv ? "--status-password FILE" : "status-password = @FILE");
}

int option_read_status_password(
	const char *arg, bool argv, char password[BASIC_AUTH_PASSWORD_MAX], char err[OPT_ERR_MAX])
{
	if (!argv && arg[0] != '@')
		return fail(err, "want @FILE: the file that holds the password, not the password");
	return read_secret_file(argv ? arg : arg + 1,
		argv ? "--status-password" : "status-password", password, BASIC_AUTH_PASSWORD_MAX,
		err);
}

int option_check(const struct command *c, const struct mqtt_url *url, struct node_config *node,
	void *role_cfg, char err[OPT_ERR_MAX])
{
	if (!agent_spec_valid(node->agent_id) || !mqtt_level_valid(node->local_id) ||
		strpbrk(node->agent_id, "\"\\") || strpbrk(node->local_id, "\"\\"))
		return fail(err,
			"ids must be non-empty and hold no '/', '+', '#', '\"' or '\\' (an "
			"agent pool: ag1,ag2 with no empty member)");
	if (c->role->is_agent && strchr(node->agent_id, ','))
		return fail(err,
			"an agent's own id holds no ',' (%s): a list is a pool, for locals",
			node->agent_id);
	if (c->check(role_cfg, node, err) || check_seal(c, node, role_cfg, err))
		return EXIT_USAGE;
	const char *files[] = { url->cafile, url->capath, url->cert, url->key };
	for (size_t i = 0; i < N_ELEMS(files); i++)
		if (files[i][0] && access(files[i], R_OK))
			return fail(err, "cannot read %s from the MQTT URL", files[i]);
	return 0;
}
