/* Unit tests of gateway/config: the INI file of `net4mqtt run -c`, its values and its errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/lib/keys.h"
#include "gateway/roles/roles.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define NO_LINE (-1) /* an error line whose number is not checked */

/* A role's own options, as its command keeps them. */
#define AGENT(r) ((const struct agent_config *)(r)->role_cfg)
#define GATEWAY(r) ((const struct gateway_config *)(r)->role_cfg)
#define SOCKS(r) ((const struct local_socks_config *)(r)->role_cfg)
#define PORT(r) ((const struct local_port_config *)(r)->role_cfg)

/* A config file under /tmp (removed once read), what config_load made of it and said. */
struct loaded {
	char path[64];
	struct config *c;
	char *errors; /* what config_load wrote, one line per error */
	size_t len;
	int rc;
};

static void load_file(struct loaded *l, const char *path)
{
	FILE *out = open_memstream(&l->errors, &l->len);

	assert_non_null(out);
	l->c = malloc(sizeof(*l->c));
	assert_non_null(l->c);
	l->rc = config_load(path, l->c, out);
	assert_int_equal(fclose(out), 0);
}

static void load(struct loaded *l, const char *text)
{
	memset(l, 0, sizeof(*l));
	strcpy(l->path, "/tmp/n4m-test-config.XXXXXX");
	int fd = mkstemp(l->path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	load_file(l, l->path);
	unlink(l->path); /* now, so that a failed assertion leaves nothing behind */
}

static void loaded_free(struct loaded *l)
{
	config_free(l->c);
	free(l->c);
	free(l->errors);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Whether errors holds a line "net4mqtt: PATH:LINE: KEY: ..." (or "PATH:LINE: ..." without
 * a key) that contains what. */
static bool has_error(const struct loaded *l, int line, const char *key, const char *what)
{
	char prefix[256];
	int n = line == NO_LINE ? snprintf(prefix, sizeof(prefix), "net4mqtt: %s:", l->path)
				: snprintf(prefix, sizeof(prefix), "net4mqtt: %s:%d: %s%s", l->path,
					  line, key ? key : "", key ? ": " : "");

	for (const char *s = l->errors; s && *s;) {
		const char *end = strchr(s, '\n');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		char one[1024];
		snprintf(one, sizeof(one), "%.*s", (int)len, s);
		if (!strncmp(one, prefix, (size_t)n) && strstr(one + n, what))
			return true;
		s += len + (end != NULL);
	}
	return false;
}

static void expect_error(const struct loaded *l, int line, const char *key, const char *what)
{
	if (!has_error(l, line, key, what))
		fail_msg("no error line %d key %s with \"%s\" in:\n%s", line, key ? key : "(none)",
			what, l->errors ? l->errors : "");
}

/* The one config that uses every section kind and every key. */
static const char full_config[] =
	"\xEF\xBB\xBF# every section kind and every key; a byte order mark before this line\n"
	"; a comment with a semicolon\n"
	"[net4mqtt]\n"
	"mqtt-url = mqtt://u:p@broker.example:1884/site/n4m?client_id=box1\n"
	"log-level = debug\n"
	"user = nobody\n"
	"status-listen = 127.0.0.1:9911\n"
	"max-flows = 100 ; every role's, unless it says otherwise\n"
	"max-memory = 64\n"
	"udp-timeout = 30\n"
	"\n"
	"[agent]\n" /* line 12 */
	"id = site-b\n"
	"target = 127.0.0.1:8080\n"
	"allow = 10.1.0.0/16:80,443\n"
	"allow = 192.168.7.7\n"
	"advertise = 10.1.0.0/16\n"
	"advertise = fd00:1::/64\n"
	"max-flows = 5\n"
	"\n"
	"[gateway]\n" /* line 21 */
	"id = gw1\n"
	"agent-id = site-b\n"
	"tun = n4m9\n"
	"mtu = 1400 ; inline comment\n"
	"route = 10.1.0.0/16=site-b\n"
	"route = 10.2.0.0/16\n"
	"exclude = 10.1.9.0/24\n"
	"exclude = 10.2.9.0/24\n"
	"auto-routes = true\n"
	"dns = On\n"
	"dns-hijack = TRUE\n"
	"remote-domain = corp.example=site-b\n"
	"remote-domain = lab.example=site-c\n"
	"dns-upstream = 10.1.0.53\n"
	"kcp = 0\n"
	"max-memory = 32\n"
	"\n"
	"[local-socks]\n" /* line 39 */
	"listen = 127.0.0.1:1080\n"
	"domain = n4m.example\n"
	"agent-id = site-b\n"
	"id = socks1\n"
	"socks-user = alice:pa#ss\n"
	"kcp = false\n"
	"udp-timeout = 90\n"
	"\n"
	"  ; an indented comment\n"
	"[local-port web]\n" /* line 49 */
	"listen = 0.0.0.0:8080\n"
	"target = 10.1.0.5:80\n"
	"agent-id = site-b\n"
	"id = lp1\n"
	"udp = no\n"
	"kcp = yes\n"
	"\n"
	"[local-port dns]\n" /* line 57 */
	"listen = 127.0.0.1:5353\n"
	"target = 10.1.0.53:53\n"
	"udp = 1\n"
	"kcp = off\n";

static void test_full(void **state)
{
	struct loaded l;
	const struct config_role *r;
	char cidr[NL_PREFIX_STRLEN];

	(void)state;
	load(&l, full_config);
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	assert_int_equal(l.len, 0);
	const struct config *c = l.c;
	assert_string_equal(c->path, l.path);
	assert_int_equal(c->verbose, 2);
	assert_string_equal(c->user, "nobody");
	assert_string_equal(c->status_listen, "127.0.0.1:9911");
	assert_false(c->url.tls);
	assert_string_equal(c->url.host, "broker.example");
	assert_int_equal(c->url.port, 1884);
	assert_string_equal(c->url.user, "u");
	assert_string_equal(c->url.password, "p");
	assert_string_equal(c->url.prefix, "site/n4m");
	assert_string_equal(c->url.client_id, "box1");
	assert_int_equal(c->n_roles, 5);

	static const struct {
		const char *name, *cmd;
		int line, max_flows, max_memory_mib, udp_timeout;
	} roles[] = {
		{ "agent", "agent", 12, 5, 64, 30 },
		{ "gateway", "gateway", 21, 100, 32, 30 },
		{ "local-socks", "local-socks", 39, 100, 64, 90 },
		{ "local-port web", "local-port", 49, 100, 64, 30 },
		{ "local-port dns", "local-port", 57, 100, 64, 30 },
	};
	for (size_t i = 0; i < N_ELEMS(roles); i++) {
		r = &c->roles[i];
		assert_string_equal(r->name, roles[i].name);
		assert_ptr_equal(r->cmd, option_command(roles[i].cmd));
		assert_int_equal(r->line, roles[i].line);
		assert_ptr_equal(config_role_named(c, roles[i].name), r);
		/* [net4mqtt]'s defaults, unless the section has its own */
		assert_int_equal(r->cfg.limits.max_flows, roles[i].max_flows);
		assert_int_equal(r->cfg.limits.max_memory, (size_t)roles[i].max_memory_mib << 20);
		assert_int_equal(r->cfg.limits.udp_timeout_s, roles[i].udp_timeout);
		/* process-wide keys (mqtt-url, user) are the process's alone, checked above */
		assert_non_null(r->role_cfg);
	}
	assert_null(config_role_named(c, "local-port"));
	assert_null(config_role_named(c, "local-port nope"));

	r = config_role_named(c, "agent");
	assert_string_equal(r->cfg.agent_id, "site-b");
	assert_string_equal(AGENT(r)->target, "127.0.0.1:8080");
	assert_int_equal(AGENT(r)->n_allow, 2);
	assert_int_equal(AGENT(r)->allow[0].n_ranges, 2);
	assert_int_equal(AGENT(r)->allow[0].ports[0].lo, 80);
	assert_int_equal(AGENT(r)->allow[0].ports[1].hi, 443);
	assert_int_equal(AGENT(r)->allow[1].n_ranges, 0);
	assert_int_equal(AGENT(r)->allow[1].net.len, 32);
	assert_int_equal(AGENT(r)->n_advertise, 2);
	assert_int_equal(nl_prefix_format(&AGENT(r)->advertise[0], cidr, sizeof(cidr)), 0);
	assert_string_equal(cidr, "10.1.0.0/16");
	assert_int_equal(nl_prefix_format(&AGENT(r)->advertise[1], cidr, sizeof(cidr)), 0);
	assert_string_equal(cidr, "fd00:1::/64");

	r = config_role_named(c, "gateway");
	assert_string_equal(r->cfg.local_id, "gw1");
	assert_string_equal(r->cfg.agent_id, "site-b");
	assert_string_equal(GATEWAY(r)->tun_name, "n4m9");
	assert_int_equal(GATEWAY(r)->mtu, 1400);
	assert_int_equal(GATEWAY(r)->n_routes, 2);
	assert_string_equal(GATEWAY(r)->routes[0], "10.1.0.0/16=site-b");
	assert_string_equal(GATEWAY(r)->routes[1], "10.2.0.0/16");
	assert_int_equal(GATEWAY(r)->n_excludes, 2);
	assert_string_equal(GATEWAY(r)->excludes[0], "10.1.9.0/24");
	assert_string_equal(GATEWAY(r)->excludes[1], "10.2.9.0/24");
	assert_true(GATEWAY(r)->auto_routes);
	assert_true(GATEWAY(r)->dns);
	assert_true(GATEWAY(r)->dns_hijack);
	assert_int_equal(GATEWAY(r)->n_remote_domains, 2);
	assert_string_equal(GATEWAY(r)->remote_domains[0].suffix, "corp.example");
	assert_string_equal(GATEWAY(r)->remote_domains[0].agent, "site-b");
	assert_string_equal(GATEWAY(r)->remote_domains[1].suffix, "lab.example");
	assert_string_equal(GATEWAY(r)->remote_domains[1].agent, "site-c");
	assert_string_equal(GATEWAY(r)->dns_upstream, "10.1.0.53:53");
	assert_false(GATEWAY(r)->kcp);

	r = config_role_named(c, "local-socks");
	assert_string_equal(SOCKS(r)->listen, "127.0.0.1:1080");
	assert_string_equal(SOCKS(r)->domain, "n4m.example");
	assert_string_equal(r->cfg.agent_id, "site-b");
	assert_string_equal(r->cfg.local_id, "socks1");
	assert_string_equal(SOCKS(r)->auth.user, "alice");
	assert_string_equal(SOCKS(r)->auth.pass, "pa#ss"); /* '#' after a value is no comment */
	assert_false(SOCKS(r)->kcp);

	r = config_role_named(c, "local-port web");
	assert_string_equal(PORT(r)->listen, "0.0.0.0:8080");
	assert_string_equal(PORT(r)->target, "10.1.0.5:80");
	assert_string_equal(r->cfg.agent_id, "site-b");
	assert_string_equal(r->cfg.local_id, "lp1");
	assert_false(PORT(r)->udp);
	assert_true(PORT(r)->kcp);

	r = config_role_named(c, "local-port dns");
	assert_string_equal(PORT(r)->listen, "127.0.0.1:5353");
	assert_string_equal(PORT(r)->target, "10.1.0.53:53");
	assert_string_equal(r->cfg.agent_id, "-"); /* defaults of the command line */
	assert_string_equal(r->cfg.local_id, "-");
	assert_true(PORT(r)->udp);
	assert_false(PORT(r)->kcp);
	loaded_free(&l);
}

/* Defaults when a file says little; [net4mqtt] read first wherever it is in the file. */
/* The gateway's kernel and fake-ip keys; bypass and fake-ip-range repeat. */
static void test_gateway_keys(void **state)
{
	struct loaded l;
	char cidr[NL_PREFIX_STRLEN];
	const struct gateway_config *g;

	(void)state;
	load(&l, "[gateway]\nagent-id = a\nroute = 10.0.0.0/8\n");
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	g = GATEWAY(&l.c->roles[0]);
	assert_int_equal(g->table, 1883);
	assert_int_equal(g->rule_priority, 1883);
	assert_int_equal(g->n_bypass, 0);
	assert_string_equal(g->domain, "net4mqtt.local");
	assert_string_equal(g->fake_ip_cache, "");
	nl_prefix_format(&g->fake_ip.net4, cidr, sizeof(cidr));
	assert_string_equal(cidr, "198.19.0.0/16");
	nl_prefix_format(&g->fake_ip.net6, cidr, sizeof(cidr));
	assert_string_equal(cidr, "fdfe:dcba:9876:1::/64");
	loaded_free(&l);

	load(&l, "[gateway]\n"
		 "agent-id = a\n"
		 "route = 10.0.0.0/8\n"
		 "table = 100\n"
		 "rule-priority = 500\n"
		 "bypass = 192.168.1.7\n"
		 "bypass = fd00::/64\n"
		 "dns = yes\n"
		 "domain = home.arpa\n"
		 "fake-ip-range = fd00:99::/112\n"
		 "fake-ip-range = 100.64.0.0/24\n"
		 "fake-ip-cache = /var/lib/net4mqtt/fakeip.cache\n");
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	g = GATEWAY(&l.c->roles[0]);
	assert_int_equal(g->table, 100);
	assert_int_equal(g->rule_priority, 500);
	assert_int_equal(g->n_bypass, 2);
	nl_prefix_format(&g->bypass[0], cidr, sizeof(cidr));
	assert_string_equal(cidr, "192.168.1.7/32");
	nl_prefix_format(&g->bypass[1], cidr, sizeof(cidr));
	assert_string_equal(cidr, "fd00::/64");
	assert_string_equal(g->domain, "home.arpa");
	nl_prefix_format(&g->fake_ip.net4, cidr, sizeof(cidr));
	assert_string_equal(cidr, "100.64.0.0/24");
	nl_prefix_format(&g->fake_ip.net6, cidr, sizeof(cidr));
	assert_string_equal(cidr, "fd00:99::/112");
	assert_int_equal(fakeip_ranges_capacity(&g->fake_ip), 254);
	assert_string_equal(g->fake_ip_cache, "/var/lib/net4mqtt/fakeip.cache");
	loaded_free(&l);
}

static void test_defaults(void **state)
{
	struct loaded l;
	char comment[200];

	(void)state;
	load(&l, "[local-port]\n"
		 "listen = 127.0.0.1:4000\n"
		 "[net4mqtt]\n"
		 "max-flows = 7\n");
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	assert_int_equal(l.c->n_roles, 1);
	assert_int_equal(l.c->verbose, 0);
	assert_false(l.c->log_syslog);
	assert_string_equal(l.c->user, "");
	assert_string_equal(l.c->status_listen, CONFIG_STATUS_LISTEN);
	assert_false(l.c->status_listen_set); /* run's --default-status-listen applies */
	assert_string_equal(l.c->url.host, "localhost");
	assert_int_equal(l.c->url.port, 1883);
	assert_string_equal(l.c->url.prefix, "net4mqtt");
	const struct config_role *r = &l.c->roles[0];
	assert_string_equal(r->name, "local-port");
	assert_int_equal(r->cfg.limits.max_flows, 7);
	assert_int_equal(r->cfg.limits.max_memory, (size_t)DEFAULT_MAX_MEMORY_MIB << 20);
	assert_string_equal(PORT(r)->target, "-");
	assert_false(PORT(r)->udp);
	loaded_free(&l);

	/* indented lines are lines of their own, not continuations of the key above */
	load(&l, "[agent]\nid = a\n  target = 127.0.0.1:80\nallow = 10.0.0.0/8\n\t10.2.0.0/16\n");
	assert_int_equal(l.rc, EXIT_USAGE);
	assert_non_null(strstr(l.errors, ":5: want KEY = VALUE"));
	loaded_free(&l);
	load(&l, "[agent]\nid = a\n  target = 127.0.0.1:80\n\tallow = 10.0.0.0/8\n");
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	assert_string_equal(AGENT(&l.c->roles[0])->target, "127.0.0.1:80");
	assert_int_equal(AGENT(&l.c->roles[0])->n_allow, 1);
	loaded_free(&l);

	/* status-listen = off; a 199-character line is the longest allowed */
	memset(comment, 'x', sizeof(comment));
	comment[0] = '#';
	comment[199] = '\0';
	char text[512];
	snprintf(text, sizeof(text),
		"[net4mqtt]\nstatus-listen = off\nlog-level = trace\n%s\n[agent]\n", comment);
	load(&l, text);
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	assert_string_equal(l.c->status_listen, "");
	assert_int_equal(l.c->verbose, 3);
	assert_string_equal(AGENT(&l.c->roles[0])->target, "127.0.0.1:7777");
	loaded_free(&l);

	/* CRLF line ends; a byte order mark right before a section header */
	load(&l, "\xEF\xBB\xBF[agent]\r\nid = crlf\r\ntarget = 127.0.0.1:81\r\n\r\n"
		 "[local-port x]\r\nudp = yes\r\n");
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	assert_int_equal(l.c->n_roles, 2);
	assert_string_equal(l.c->roles[0].name, "agent");
	assert_string_equal(l.c->roles[0].cfg.agent_id, "crlf");
	assert_string_equal(AGENT(&l.c->roles[0])->target, "127.0.0.1:81");
	assert_string_equal(l.c->roles[1].name, "local-port x");
	assert_true(PORT(&l.c->roles[1])->udp);
	loaded_free(&l);
}

struct bad_case {
	const char *text;
	int line;
	const char *key; /* NULL: an error about a section, "FILE:LINE: [section]..." */
	const char *what;
};

static const struct bad_case bad_cases[] = {
	{ "[agent]\nid = a\n[bogus]\nx = 1\n", 3, NULL, "unknown section [bogus]" },
	{ "[agent]\nid = a\n[local-port web]\nlisten = 127.0.0.1:1\n[local-port web]\nid = b\n", 5,
		NULL, "section [local-port web] again (first on line 3)" },
	{ "[agent]\nid = a\nfrobnicate = 1\n", 3, "frobnicate", "not a key of [agent]" },
	{ "[agent]\nid = a\ntun = n4m1\n", 3, "tun", "not a key of [agent]" },
	{ "[local-port web]\nsocks-user = a:b\n", 2, "socks-user",
		"not a key of [local-port web]" },
	{ "[agent]\nhelp = yes\n", 2, "help", "not a key of [agent]" },
	{ "[net4mqtt]\ntun = n4m1\n[agent]\n", 2, "tun", "not a key of [net4mqtt]" },
	{ "[agent]\nid = a\nmqtt-url = mqtt://localhost/x\n", 3, "mqtt-url", "goes in [net4mqtt]" },
	{ "[local-socks]\nstatus-listen = 127.0.0.1:1\n", 2, "status-listen",
		"goes in [net4mqtt]" },
	{ "[agent]\npassword-file = /x\n", 2, "password-file", "goes in [net4mqtt]" },
	{ "[agent]\nsni = b.example\n", 2, "sni", "goes in [net4mqtt]" },
	{ "[net4mqtt]\ntls-version = tlsv1.1\n[agent]\n", 2, "tls-version",
		"bad --tls-version tlsv1.1: want tlsv1.2 (1.2 or newer) or tlsv1.3" },
	{ "[net4mqtt]\ninsecure = maybe\n[agent]\n", 2, "insecure", "want yes or no" },
	{ "[net4mqtt]\nmqtt-url = mqtt://u@h/p\ncafile = /dev/null\n[agent]\n", 3, NULL,
		"cafile goes with an mqtts:// URL (mqtt:// is not encrypted)" },
	{ "[net4mqtt]\npassword-file = /nonexistent/pw\nmqtt-url = mqtt://u@h/p\n[agent]\n", 2,
		NULL, "cannot read password-file /nonexistent/pw: No such file or directory" },
	{ "[net4mqtt]\npassword-file = /dev/null\nmqtt-url = mqtt://h/p\n[agent]\n", 2, NULL,
		"password-file wants a user name in the MQTT URL" },
	{ "[net4mqtt]\npassword-file = /dev/null\nmqtt-url = mqtt://u@h/p\n[agent]\n", 2, NULL,
		"password-file /dev/null is empty" },
	{ "[gateway]\nroute = 10.0.0.0/8=a\nmtu = 99\n", 3, "mtu", "1280..65535, not 99" },
	{ "[gateway]\nroute = 10.0.0.0/33=a\n", 2, "route", "bad --route 10.0.0.0/33=a" },
	{ "[gateway]\nroute = 10.0.0.0/8=a\nexclude = 10.0.0.0/8=a\n", 3, "exclude",
		"bad --exclude" },
	{ "[gateway]\nroute = 10.0.0.0/8=a\ntable = 254\n", 3, "table", "bad --table 254" },
	{ "[gateway]\nroute = 10.0.0.0/8=a\ntable = 100\ntable = 101\n", 4, "table",
		"given again (first on line 3)" },
	{ "[gateway]\nroute = 10.0.0.0/8=a\nrule-priority = 32767\n", 3, "rule-priority",
		"bad --rule-priority 32767" },
	{ "[gateway]\nroute = 10.0.0.0/8=a\nbypass = ::/0\n", 3, "bypass", "bad --bypass ::/0" },
	{ "[gateway]\nroute = 10.0.0.0/8=a\ndns = yes\nfake-ip-range = 100.64.0.0/24\n"
	  "fake-ip-range = 100.65.0.0/24\n",
		5, "fake-ip-range", "an IPv4 range is given already" },
	{ "[gateway]\nroute = 10.0.0.0/8=a\ndns = yes\nfake-ip-range = 10.9.0.0/16\n", 1, NULL,
		"[gateway]: --fake-ip-range 10.9.0.0/16 overlaps --route 10.0.0.0/8=a" },
	{ "[gateway]\nroute = 10.0.0.0/8=a\nfake-ip-cache = /x\n", 1, NULL,
		"--fake-ip-cache go with --dns" },
	{ "[agent]\nallow = 10.0.0.0/8:0\n", 2, "allow", "bad --allow 10.0.0.0/8:0" },
	{ "[agent]\nallow = 10.0.0.300/8\n", 2, "allow", "bad --allow" },
	{ "[agent]\nadvertise = 10.0.0.0/40\n", 2, "advertise", "bad --advertise 10.0.0.0/40" },
	{ "[local-port web]\nudp = maybe\n", 2, "udp", "want yes or no, not 'maybe'" },
	{ "[local-port web]\nkcp =\n", 2, "kcp", "want yes or no" },
	{ "[net4mqtt]\nmax-flows = 0\n[agent]\n", 2, "max-flows", "wants 1..1048576, not 0" },
	{ "[agent]\nmax-memory = 8\n", 2, "max-memory", "16..1048576, not 8" },
	{ "[agent]\nudp-timeout = soon\n", 2, "udp-timeout", "not soon" },
	{ "[agent]\nid = a\nid = b\n", 3, "id", "given again (first on line 2)" },
	{ "[net4mqtt]\nmax-flows = 5\nmax-flows = 6\n[agent]\n", 3, "max-flows",
		"given again (first on line 2)" },
	{ "[local-port]\nudp = yes\nudp = no\n", 3, "udp", "given again (first on line 2)" },
	{ "[net4mqtt]\nlog = syslog\nlog = stderr\n[agent]\n", 3, "log",
		"given again (first on line 2)" },
	{ "[net4mqtt]\nlog-level = info\nlog-level = debug\n[agent]\n", 3, "log-level",
		"given again (first on line 2)" },
	{ "id = a\n[agent]\n", 1, "id", "comes before any [section]" },
	{ "[agent]\nid = a\njust some words\n", 3, NULL, "want KEY = VALUE" },
	{ "[agent]\nid = a\n[local-port web\n", 3, NULL, "section header without ']'" },
	{ "[gateway]\nroute = 10.0.0.0/8=a\n[gateway 2]\nroute = 10.0.0.0/8=a\ntun = n4m1\n", 3,
		NULL, "[gateway 2]: one gateway per process" },
	{ "[agent]\nid = a\n[agent b]\nid = a\n", 4, "id",
		"[agent b]: agent id a is [agent]'s too" },
	{ "[agent]\n[agent 2]\n", 2, "id", "agent id - is [agent]'s too" },
	{ "[agent]\nid = a\n\n[gateway]\nid = g\n", 4, NULL,
		"[gateway]: gateway: give at least one --route" },
	{ "[local-port x]\nudp = yes\nkcp = yes\n", 1, NULL,
		"[local-port x]: -k (kcp) carries TCP" },
	{ "[local-port x]\nlisten = nowhere\n", 1, NULL,
		"[local-port x]: bad listen address nowhere" },
	{ "[agent]\nid = a/b\n", 1, NULL, "[agent]: ids must be non-empty" },
	{ "[agent]\ntarget = 127.0.0.1:80 # no comment\n", 1, NULL, "[agent]: bad target" },
	{ "[net4mqtt]\nstatus-listen = 0.0.0.0:9810\n[agent]\n", 2, "status-listen",
		"is not a loopback address" },
	{ "[net4mqtt]\nstatus-listen = localhost\n[agent]\n", 2, "status-listen",
		"bad status address" },
	{ "[net4mqtt]\nstatus-listen = [::]:9810\n[agent]\n", 2, "status-listen",
		"not a loopback address: beyond this host the status server wants a password "
		"(status-password = @FILE)" },
	{ "[net4mqtt]\nstatus-password = hunter2\n[agent]\n", 2, "status-password",
		"want @FILE: the file that holds the password" },
	{ "[net4mqtt]\nstatus-password = @/nonexistent/pw\n[agent]\n", 2, "status-password",
		"cannot read status-password /nonexistent/pw" },
	{ "[agent]\nstatus-password = @/etc/hosts\n", 2, "status-password", "goes in [net4mqtt]" },
	{ "[net4mqtt]\nmqtt-url = http://example.org/x\n[agent]\n", 2, "mqtt-url",
		"bad MQTT URL http://example.org/x" },
	{ "[net4mqtt]\nlog-level = loud\n[agent]\n", 2, "log-level",
		"want error, warn, info, debug or trace, not 'loud'" },
	{ "[net4mqtt]\nlog = journal\n[agent]\n", 2, "log",
		"want stderr or syslog, not 'journal'" },
	{ "[net4mqtt]\nlog-level = info\n", NO_LINE, NULL, "no role: add an [agent]" },
	{ "# nothing\n", NO_LINE, NULL, "no role" },
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad_cases); i++) {
		const struct bad_case *b = &bad_cases[i];
		struct loaded l;
		load(&l, b->text);
		if (l.rc != EXIT_USAGE)
			fail_msg("case %zu: config_load %d, not %d, for:\n%s", i, l.rc, EXIT_USAGE,
				b->text);
		if (!has_error(&l, b->line, b->key, b->what))
			fail_msg("case %zu: no error line %d key %s with \"%s\" for:\n%s\n"
				 "got:\n%s",
				i, b->line, b->key ? b->key : "(none)", b->what, b->text, l.errors);
		if (count_lines(l.errors) != 1)
			fail_msg("case %zu: %d error lines, not 1:\n%s", i, count_lines(l.errors),
				l.errors);
		loaded_free(&l);
	}
}

/* A clustered broker in the file: the same comma-separated list as on the command line. */
/* log = syslog, log-level = error, and a status-listen the file sets (off counts). */
static void test_log_keys(void **state)
{
	struct loaded l;

	(void)state;
	load(&l, "[net4mqtt]\nlog = syslog\nlog-level = error\nstatus-listen = off\n[agent]\n");
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	assert_true(l.c->log_syslog);
	assert_int_equal(l.c->verbose, -1);
	assert_true(l.c->status_listen_set);
	assert_string_equal(l.c->status_listen, "");
	loaded_free(&l);
	load(&l, "[net4mqtt]\nlog = stderr\nlog-level = TRACE\n[agent]\n");
	assert_int_equal(l.rc, 0);
	assert_false(l.c->log_syslog);
	assert_int_equal(l.c->verbose, 3);
	loaded_free(&l);
}

static void test_broker_list(void **state)
{
	struct loaded l;

	(void)state;
	load(&l, "[net4mqtt]\n"
		 "mqtt-url = mqtt://u:p@node1:1884,node2,[fd00::3]:1885/site/n4m?client_id=box1\n"
		 "[agent]\n"
		 "id = a\n");
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	assert_int_equal(l.c->url.n_brokers, 3);
	assert_string_equal(l.c->url.host, "node1");
	assert_int_equal(l.c->url.port, 1884);
	assert_string_equal(l.c->url.brokers[1].host, "node2");
	assert_int_equal(l.c->url.brokers[1].port, 1883);
	assert_string_equal(l.c->url.brokers[2].host, "fd00::3");
	assert_int_equal(l.c->url.brokers[2].port, 1885);
	assert_string_equal(l.c->url.user, "u");
	assert_string_equal(l.c->url.prefix, "site/n4m");
	loaded_free(&l);

	load(&l, "[net4mqtt]\nmqtt-url = mqtt://node1,,node2/p\n[agent]\nid = a\n");
	assert_int_equal(l.rc, EXIT_USAGE);
	assert_true(has_error(&l, 2, "mqtt-url", "empty host in the broker list"));
	loaded_free(&l);
}

/* libinih reads lines of at most 199 characters: a longer one is an error, not two lines. */
static void test_long_line(void **state)
{
	char text[512], value[200];
	struct loaded l;

	(void)state;
	memset(value, '1', sizeof(value));
	value[200 - strlen("max-flows = ")] = '\0'; /* "max-flows = 111...": 200 characters */
	snprintf(text, sizeof(text), "[agent]\nid = a\nmax-flows = %s\nbogus = 1\n", value);
	load(&l, text);
	assert_int_equal(l.rc, EXIT_USAGE);
	expect_error(&l, 3, NULL, "line longer than 199 characters");
	expect_error(&l, 4, "bogus", "not a key of [agent]"); /* the line count goes on */
	assert_int_equal(count_lines(l.errors), 2);
	loaded_free(&l);
}

static void test_missing_file(void **state)
{
	struct loaded l;

	(void)state;
	memset(&l, 0, sizeof(l));
	load_file(&l, "/tmp/n4m-test-config-no-such-file");
	assert_int_equal(l.rc, EXIT_USAGE);
	assert_non_null(strstr(l.errors,
		"net4mqtt: cannot read /tmp/n4m-test-config-no-such-file: No such file or "
		"directory\n"));
	assert_int_equal(count_lines(l.errors), 1);
	loaded_free(&l);
}

/* Every error of a file is said, one line each, in the order of the file. */
static void test_many_errors(void **state)
{
	struct loaded l;

	(void)state;
	load(&l, "[net4mqtt]\n"
		 "log-level = loud\n"
		 "[agent]\n"
		 "tun = n4m1\n"
		 "allow = 10.0.0.0/8:http\n"
		 "[nonsense]\n"
		 "[gateway]\n"
		 "mtu = 99\n"
		 "no equals sign here\n"
		 "[local-port web]\n"
		 "udp = perhaps\n"
		 "[local-port web]\n");
	assert_int_equal(l.rc, EXIT_USAGE);
	expect_error(&l, 2, "log-level", "not 'loud'");
	expect_error(&l, 4, "tun", "not a key of [agent]");
	expect_error(&l, 5, "allow", "bad --allow 10.0.0.0/8:http");
	expect_error(&l, 6, NULL, "unknown section [nonsense]");
	expect_error(&l, 8, "mtu", "1280..65535, not 99");
	expect_error(&l, 9, NULL, "want KEY = VALUE");
	expect_error(&l, 11, "udp", "want yes or no, not 'perhaps'");
	expect_error(&l, 12, NULL, "section [local-port web] again (first on line 10)");
	assert_int_equal(count_lines(l.errors), 8);
	/* in the order of the file within a pass ([net4mqtt] is read first) */
	assert_true(strstr(l.errors, ":4: tun") < strstr(l.errors, ":5: allow"));
	assert_true(strstr(l.errors, ":8: mtu") < strstr(l.errors, ":11: udp"));
	loaded_free(&l);
}

/* A file of nothing but errors says the first 20 and how many more. */
static void test_error_cap(void **state)
{
	char text[2048] = "[agent]\n";
	struct loaded l;

	(void)state;
	for (int i = 0; i < 30; i++)
		strcat(text, "bogus-key = 1\n");
	load(&l, text);
	assert_int_equal(l.rc, EXIT_USAGE);
	assert_int_equal(count_lines(l.errors), 21);
	expect_error(&l, 2, "bogus-key", "not a key of [agent]");
	expect_error(&l, 21, "bogus-key", "not a key of [agent]");
	assert_false(has_error(&l, 22, "bogus-key", "not a key"));
	char more[128];
	snprintf(more, sizeof(more), "net4mqtt: %s: 10 more errors\n", l.path);
	assert_non_null(strstr(l.errors, more));
	loaded_free(&l);
}

/* socks-user = @FILE reads USER:PASS from the file's first line. */
static void test_socks_user_file(void **state)
{
	char secret[] = "/tmp/n4m-test-socks-user.XXXXXX", text[256];
	struct loaded l;

	(void)state;
	int fd = mkstemp(secret);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "bob:hunter2\nignored\n", 20), 20);
	close(fd);
	snprintf(text, sizeof(text), "[local-socks]\nsocks-user = @%s\n", secret);
	load(&l, text);
	unlink(secret);
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	assert_string_equal(SOCKS(&l.c->roles[0])->auth.user, "bob");
	assert_string_equal(SOCKS(&l.c->roles[0])->auth.pass, "hunter2");
	loaded_free(&l);

	snprintf(text, sizeof(text), "[local-socks]\nsocks-user = @%s\n", secret);
	load(&l, text);
	assert_int_equal(l.rc, EXIT_USAGE);
	expect_error(&l, 2, "socks-user", "cannot read --socks-user file");
	loaded_free(&l);
}

/* status-password = @FILE: the file's line; with it a status-listen beyond loopback is fine,
 * whichever of the two keys comes first. */
/* A key file of net4mqtt genkey's form at path (mode 0600); its public key into pub. */
static void write_key(char *path, char pub[KEY_TEXT_LEN + 1])
{
	uint8_t priv[KEY_LEN];
	char text[KEY_TEXT_LEN + 1];
	struct key_pair kp;

	int fd = mkstemp(path);
	assert_true(fd >= 0);
	keys_generate(priv);
	assert_int_equal(keys_pair(&kp, priv), 0);
	keys_encode(text, priv);
	keys_encode(pub, kp.pub);
	assert_int_equal(write(fd, text, KEY_TEXT_LEN), KEY_TEXT_LEN);
	assert_int_equal(write(fd, "\n", 1), 1);
	close(fd);
}

/* seal-key and seal-peer in [net4mqtt] stand for every section; an agent's section takes no
 * pin from there (they are for the locals); a section adds its own pins. */
static void test_seal_keys(void **state)
{
	char key[] = "/tmp/n4m-test-seal-key.XXXXXX", peers[] = "/tmp/n4m-test-seal-peers.XXXXXX";
	char pub1[KEY_TEXT_LEN + 1], pub2[KEY_TEXT_LEN + 1], text[1024];
	struct loaded l;

	(void)state;
	write_key(key, pub1);
	int fd = mkstemp(peers);
	assert_true(fd >= 0);
	dprintf(fd, "%s laptop\n", pub1);
	close(fd);
	memcpy(pub2, "Cqwn473/Ger39A+GCpaoDv5YbpLwaqFgWhwKTRufmzM=", KEY_TEXT_LEN + 1);
	snprintf(text, sizeof(text),
		"[net4mqtt]\nseal-key = %s\nseal-peer = ag1=%s\n[agent]\nid = ag0\nseal-peers = "
		"%s\n"
		"[local-port]\nagent-id = ag1\nseal-peer = ag2=%s\n",
		key, pub1, peers, pub2);
	load(&l, text);
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	const struct config_role *agent = &l.c->roles[0], *port = &l.c->roles[1];
	assert_string_equal(agent->cfg.seal_key, key);
	assert_int_equal(agent->cfg.n_seal_pins, 0);
	assert_string_equal(AGENT(agent)->seal_peers, peers);
	assert_string_equal(port->cfg.seal_key, key);
	assert_int_equal(port->cfg.n_seal_pins, 2);
	assert_string_equal(port->cfg.seal_pins[0].agent, "ag1");
	assert_string_equal(port->cfg.seal_pins[1].agent, "ag2");
	loaded_free(&l);

	snprintf(text, sizeof(text), "[local-port]\nseal-peer = ag1=%s\n", pub1);
	load(&l, text);
	assert_int_equal(l.rc, EXIT_USAGE);
	expect_error(&l, NO_LINE, NULL, "--seal-peer needs --seal-key");
	loaded_free(&l);
	snprintf(text, sizeof(text), "[net4mqtt]\nseal-key = %s\n[agent]\n", key);
	load(&l, text);
	assert_int_equal(l.rc, EXIT_USAGE);
	expect_error(&l, NO_LINE, NULL, "needs --seal-peers FILE");
	loaded_free(&l);
	unlink(key);
	unlink(peers);
}

static void test_status_password(void **state)
{
	char secret[] = "/tmp/n4m-test-status-pw.XXXXXX", text[256];
	struct loaded l;

	(void)state;
	int fd = mkstemp(secret);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret pw\n", 10), 10);
	close(fd);
	snprintf(text, sizeof(text),
		"[net4mqtt]\nstatus-password = @%s\nstatus-listen = 0.0.0.0:9810\n[agent]\n",
		secret);
	load(&l, text);
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	assert_string_equal(l.c->status_password, "s3cret pw");
	assert_string_equal(l.c->status_listen, "0.0.0.0:9810");
	loaded_free(&l);

	snprintf(text, sizeof(text),
		"[net4mqtt]\nstatus-listen = 192.0.2.1:9810\nstatus-password = @%s\n[agent]\n",
		secret);
	load(&l, text);
	unlink(secret);
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	loaded_free(&l);

	load(&l,
		"[net4mqtt]\nstatus-listen = 127.0.0.2:9810\n[agent]\n"); /* loopback: none needed */
	assert_int_equal(l.rc, 0);
	assert_string_equal(l.c->status_password, "");
	loaded_free(&l);
}

/* [net4mqtt]'s password-file and TLS keys end up in the URL, over its query. */
static void test_mqtt_keys(void **state)
{
	char secret[] = "/tmp/n4m-test-password.XXXXXX", text[512];
	struct loaded l;

	(void)state;
	int fd = mkstemp(secret);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "pa ss:w@rd\n", 11), 11); /* one newline stripped */
	close(fd);
	snprintf(text, sizeof(text),
		"[net4mqtt]\nmqtt-url = "
		"mqtts://u:inurl@10.0.0.1/p?cafile=/etc/hosts&sni=a.example\n"
		"password-file = %s\ncafile = /dev/null\ncert = /dev/null\nkey = /dev/null\n"
		"tls-version = tlsv1.3\nsni = b.example\ninsecure = yes\n[agent]\n",
		secret);
	load(&l, text);
	unlink(secret);
	if (l.rc)
		fail_msg("config_load: %d:\n%s", l.rc, l.errors);
	assert_string_equal(l.c->url.user, "u");
	assert_string_equal(l.c->url.password, "pa ss:w@rd");
	assert_string_equal(l.c->url.cafile, "/dev/null");
	assert_string_equal(l.c->url.cert, "/dev/null");
	assert_string_equal(l.c->url.key, "/dev/null");
	assert_string_equal(l.c->url.tls_version, "tlsv1.3");
	assert_string_equal(l.c->url.sni, "b.example");
	assert_true(l.c->url.insecure);
	loaded_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_gateway_keys),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_log_keys),
		cmocka_unit_test(test_broker_list),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_socks_user_file),
		cmocka_unit_test(test_status_password),
		cmocka_unit_test(test_mqtt_keys),
		cmocka_unit_test(test_seal_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
