/* Drives netlink/ for tests/e2e/netlink.sh: one command per run, or a monitor printing events. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "netlink/monitor.h"
#include "netlink/nl.h"

#define OVERRUN_ADDRS 100

static int parse_prefix(const char *s, struct nl_prefix *p)
{
	char buf[64], *slash, *end;
	long len;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(p, 0, sizeof(*p));
	p->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(p->family, buf, p->addr) != 1)
		return -EINVAL;
	p->len = p->family == AF_INET ? 32 : 128;
	if (slash) {
		len = strtol(slash + 1, &end, 10);
		if (*end || len < 0 || len > p->len)
			return -EINVAL;
		p->len = len;
	}
	return 0;
}

static const char *fmt_addr(int family, const void *addr, char *buf)
{
	return inet_ntop(family, addr, buf, INET6_ADDRSTRLEN) ? buf : "?";
}

static void print_route(const struct nl_route *r)
{
	char a[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN];

	printf("table %u %s/%u dev %d", r->table, fmt_addr(r->dst.family, r->dst.addr, a),
		r->dst.len, r->oif);
	if (r->has_gateway)
		printf(" via %s", fmt_addr(r->dst.family, r->gateway, g));
	printf("\n");
}

static void print_event(const struct nl_event *ev, void *arg)
{
	static const char *const kinds[] = {
		[NL_EV_LINK_UP] = "link up",
		[NL_EV_LINK_DOWN] = "link down",
		[NL_EV_LINK_DELETED] = "link deleted",
		[NL_EV_ADDR_ADDED] = "addr added",
		[NL_EV_ADDR_REMOVED] = "addr removed",
		[NL_EV_ROUTE_ADDED] = "route added",
		[NL_EV_ROUTE_REMOVED] = "route removed",
		[NL_EV_RULE_ADDED] = "rule added",
		[NL_EV_RULE_REMOVED] = "rule removed",
		[NL_EV_RESYNC] = "resync",
	};
	char a[INET6_ADDRSTRLEN];

	(void)arg;
	printf("%s", kinds[ev->kind]);
	switch (ev->kind) {
	case NL_EV_LINK_UP:
	case NL_EV_LINK_DOWN:
	case NL_EV_LINK_DELETED:
		printf(" %d %s\n", ev->ifindex, ev->ifname);
		break;
	case NL_EV_ADDR_ADDED:
	case NL_EV_ADDR_REMOVED:
		printf(" %d %s/%u\n", ev->ifindex, fmt_addr(ev->addr.family, ev->addr.addr, a),
			ev->addr.len);
		break;
	case NL_EV_ROUTE_ADDED:
	case NL_EV_ROUTE_REMOVED:
		printf(" ");
		print_route(&ev->route);
		break;
	case NL_EV_RULE_ADDED:
	case NL_EV_RULE_REMOVED:
		printf(" table %u\n", ev->route.table);
		break;
	case NL_EV_RESYNC:
		printf("\n");
		break;
	}
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs base until SIGTERM, SIGINT or secs. */
static int run_loop(struct event_base *base, int secs)
{
	struct timeval tv = { .tv_sec = secs };
	struct event *term, *intr, *timer;
	int err = -ENOMEM;

	term = evsignal_new(base, SIGTERM, on_stop, base);
	intr = evsignal_new(base, SIGINT, on_stop, base);
	timer = evtimer_new(base, on_stop, base);
	if (term && intr && timer && !evsignal_add(term, NULL) && !evsignal_add(intr, NULL) &&
		!evtimer_add(timer, &tv))
		err = event_base_dispatch(base) < 0 ? -EIO : 0;
	if (timer)
		event_free(timer);
	if (intr)
		event_free(intr);
	if (term)
		event_free(term);
	return err;
}

static int cmd_monitor(struct nl *nl, char **argv)
{
	struct event_base *base;
	struct nl_monitor *m;
	int err;

	(void)nl;
	(void)argv;
	base = event_base_new();
	if (!base)
		return -ENOMEM;
	err = nl_monitor_new(&m, base, print_event, NULL);
	if (err)
		goto err_base;
	printf("ready\n");
	err = run_loop(base, 60);
	nl_monitor_free(m);
err_base:
	event_base_free(base);
	return err;
}

struct overrun {
	struct event_base *base;
	int resyncs;
};

static void count_resync(const struct nl_event *ev, void *arg)
{
	struct overrun *o = arg;

	if (ev->kind == NL_EV_RESYNC && o->resyncs++ == 0)
		event_base_loopbreak(o->base);
}

static void overrun_prefix(int i, struct nl_prefix *p)
{
	*p = (struct nl_prefix){ .family = AF_INET, .addr = { 198, 51, 100, i }, .len = 32 };
}

/* A tiny receive buffer, a burst of changes before the loop runs: the
 * monitor must report that it lost events. */
static int cmd_overrun(struct nl *nl, char **argv)
{
	struct overrun o = { 0 };
	struct nl_monitor *m;
	struct nl_prefix p;
	int err, ifindex, i;

	err = nl_ifindex(nl, argv[0], &ifindex);
	if (err)
		return err;
	o.base = event_base_new();
	if (!o.base)
		return -ENOMEM;
	err = nl_monitor_new(&m, o.base, count_resync, &o);
	if (err)
		goto err_base;
	err = nl_monitor_set_rcvbuf(m, 1);
	for (i = 1; !err && i <= OVERRUN_ADDRS; i++) {
		overrun_prefix(i, &p);
		err = nl_address_add(nl, ifindex, &p);
	}
	if (!err)
		err = run_loop(o.base, 10);
	for (i = 1; i <= OVERRUN_ADDRS; i++) {
		overrun_prefix(i, &p);
		nl_address_del(nl, ifindex, &p);
	}
	printf("resyncs %d\n", o.resyncs);
	if (!err && !o.resyncs)
		err = -ETIMEDOUT;
	nl_monitor_free(m);
err_base:
	event_base_free(o.base);
	return err;
}

static int cmd_ifindex(struct nl *nl, char **argv)
{
	int ifindex, err;

	err = nl_ifindex(nl, argv[0], &ifindex);
	if (!err)
		printf("%d\n", ifindex);
	return err;
}

static int cmd_up(struct nl *nl, char **argv)
{
	int ifindex, err;

	err = nl_ifindex(nl, argv[0], &ifindex);
	return err ? err : nl_link_up(nl, ifindex, atoi(argv[1]), 0);
}

/* addr add|del IFNAME PREFIX */
static int cmd_addr(struct nl *nl, char **argv)
{
	struct nl_prefix p;
	int ifindex, err;

	err = nl_ifindex(nl, argv[1], &ifindex);
	if (!err)
		err = parse_prefix(argv[2], &p);
	if (err)
		return err;
	return strcmp(argv[0], "add") ? nl_address_del(nl, ifindex, &p)
				      : nl_address_add(nl, ifindex, &p);
}

/* route add|del TABLE PREFIX IFNAME [GATEWAY] */
static int cmd_route(struct nl *nl, char **argv)
{
	struct nl_route r = { .table = strtoul(argv[1], NULL, 10) };
	struct nl_prefix gw;
	int err;

	err = parse_prefix(argv[2], &r.dst);
	if (!err)
		err = nl_ifindex(nl, argv[3], &r.oif);
	if (!err && argv[4]) {
		err = parse_prefix(argv[4], &gw);
		memcpy(r.gateway, gw.addr, sizeof(r.gateway));
		r.has_gateway = true;
	}
	if (err)
		return err;
	return strcmp(argv[0], "add") ? nl_route_del(nl, &r) : nl_route_add(nl, &r);
}

static int cmd_get(struct nl *nl, char **argv)
{
	struct nl_prefix p;
	struct nl_route r;
	int err;

	err = parse_prefix(argv[0], &p);
	if (!err)
		err = nl_route_get(nl, p.family, p.addr, &r);
	if (!err)
		print_route(&r);
	return err;
}

/* flush inet|inet6 TABLE */
static int cmd_flush(struct nl *nl, char **argv)
{
	int n = nl_route_flush(
		nl, strcmp(argv[0], "inet6") ? AF_INET : AF_INET6, strtoul(argv[1], NULL, 10));

	if (n < 0)
		return n;
	printf("%d\n", n);
	return 0;
}

/* rule add|del PREFIX TABLE PRIORITY; PREFIX 0.0.0.0/0 or ::/0 is "from all" */
static int cmd_rule(struct nl *nl, char **argv)
{
	uint32_t table = strtoul(argv[2], NULL, 10), prio = strtoul(argv[3], NULL, 10);
	struct nl_prefix p;
	int err;

	err = parse_prefix(argv[1], &p);
	if (err)
		return err;
	return strcmp(argv[0], "add") ? nl_rule_del(nl, &p, table, prio)
				      : nl_rule_add(nl, &p, table, prio);
}

static int cmd_rpfilter(struct nl *nl, char **argv)
{
	(void)nl;
	return nl_rp_filter(argv[0], atoi(argv[1]));
}

static const struct {
	const char *name;
	int min_args;
	int (*fn)(struct nl *nl, char **argv);
	const char *usage;
} cmds[] = {
	{ "ifindex", 1, cmd_ifindex, "IFNAME" },
	{ "up", 2, cmd_up, "IFNAME MTU" },
	{ "addr", 3, cmd_addr, "add|del IFNAME PREFIX" },
	{ "route", 4, cmd_route, "add|del TABLE PREFIX IFNAME [GATEWAY]" },
	{ "get", 1, cmd_get, "ADDRESS" },
	{ "flush", 2, cmd_flush, "inet|inet6 TABLE" },
	{ "rule", 4, cmd_rule, "add|del PREFIX TABLE PRIORITY" },
	{ "rpfilter", 2, cmd_rpfilter, "IFNAME MODE" },
	{ "monitor", 0, cmd_monitor, "" },
	{ "overrun", 1, cmd_overrun, "IFNAME" },
};

static int usage(void)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(stderr, "usage: netlink_probe %s %s\n", cmds[i].name, cmds[i].usage);
	return 2;
}

int main(int argc, char **argv)
{
	struct nl *nl;
	size_t i;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, argv[1]))
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]) || argc - 2 < cmds[i].min_args)
		return usage();
	err = nl_new(&nl);
	if (!err) {
		err = cmds[i].fn(nl, argv + 2);
		nl_free(nl);
	}
	if (err) {
		printf("error %s (%s)\n", strerrorname_np(-err), strerror(-err));
		return 1;
	}
	return 0;
}
