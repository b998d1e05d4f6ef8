/* Kernel network configuration over rtnetlink (libnl-route-3): links, addresses, routes, rules. */
#include "nl.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

struct nl {
	struct nl_sock *sk;
	int kerr; /* the errno of the kernel's last NLMSG_ERROR, negative; 0 none */
};

/* libnl folds the kernel's errno into a few NLE_* codes (ENETUNREACH becomes
 * NLE_FAILURE), so the error callback keeps the original; this table covers
 * errors that never reached the kernel. */
static const int nle_errno[] = {
	[NLE_INTR] = EINTR,
	[NLE_BAD_SOCK] = EBADF,
	[NLE_AGAIN] = EAGAIN,
	[NLE_NOMEM] = ENOMEM,
	[NLE_EXIST] = EEXIST,
	[NLE_INVAL] = EINVAL,
	[NLE_RANGE] = ERANGE,
	[NLE_MSGSIZE] = EMSGSIZE,
	[NLE_OPNOTSUPP] = EOPNOTSUPP,
	[NLE_AF_NOSUPPORT] = EAFNOSUPPORT,
	[NLE_OBJ_NOTFOUND] = ENOENT,
	[NLE_NOADDR] = EADDRNOTAVAIL,
	[NLE_MSG_TRUNC] = EMSGSIZE,
	[NLE_NOACCESS] = EACCES,
	[NLE_PERM] = EPERM,
	[NLE_BUSY] = EBUSY,
	[NLE_NODEV] = ENODEV,
};

/* The one place libnl's results become 0 or -errno. */
static int to_errno(struct nl *nl, int ret)
{
	int e = -ret;

	if (ret >= 0)
		return 0;
	if (nl->kerr)
		return nl->kerr;
	if (e > 0 && e < (int)(sizeof(nle_errno) / sizeof(nle_errno[0])) && nle_errno[e])
		return -nle_errno[e];
	return -EIO;
}

/* Removing what is not there: IPv4 routes say ESRCH, addresses EADDRNOTAVAIL. */
static int gone(int err)
{
	return err == -ESRCH || err == -EADDRNOTAVAIL ? -ENOENT : err;
}

static int on_kernel_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nl *nl = arg;

	(void)who;
	nl->kerr = e->error;
	return NL_STOP;
}

int nl_new(struct nl **nlp)
{
	struct nl_cb *cb;
	struct nl *nl;
	int err;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		err = -ENOMEM;
		goto err_free;
	}
	err = to_errno(nl, nl_connect(nl->sk, NETLINK_ROUTE));
	if (err)
		goto err_sock;
	cb = nl_socket_get_cb(nl->sk);
	nl_cb_err(cb, NL_CB_CUSTOM, on_kernel_error, nl);
	nl_cb_put(cb);
	*nlp = nl;
	return 0;

err_sock:
	nl_socket_free(nl->sk);
err_free:
	free(nl);
	return err;
}

void nl_free(struct nl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

/* Starts a request: forget the previous kernel error. */
static struct nl_sock *begin(struct nl *nl)
{
	nl->kerr = 0;
	return nl->sk;
}

static int addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static int to_nl_addr(const struct nl_prefix *p, struct nl_addr **ap)
{
	int alen = addr_len(p->family);

	if (!alen)
		return -EAFNOSUPPORT;
	if (p->len > alen * 8)
		return -EINVAL;
	*ap = nl_addr_build(p->family, p->addr, alen);
	if (!*ap)
		return -ENOMEM;
	nl_addr_set_prefixlen(*ap, p->len);
	return 0;
}

int nl_ifindex(struct nl *nl, const char *name, int *ifindex)
{
	struct rtnl_link *link;
	int err;

	err = to_errno(nl, rtnl_link_get_kernel(begin(nl), 0, name, &link));
	if (err)
		return err;
	*ifindex = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return 0;
}

int nl_link_up(struct nl *nl, int ifindex, unsigned int mtu, unsigned int txqlen)
{
	struct rtnl_link *link, *change;
	int err;

	err = to_errno(nl, rtnl_link_get_kernel(begin(nl), ifindex, NULL, &link));
	if (err)
		return err;
	change = rtnl_link_alloc();
	if (!change) {
		err = -ENOMEM;
		goto err_link;
	}
	rtnl_link_set_flags(change, IFF_UP);
	if (mtu)
		rtnl_link_set_mtu(change, mtu);
	if (txqlen)
		rtnl_link_set_txqlen(change, txqlen);
	err = to_errno(nl, rtnl_link_change(begin(nl), link, change, 0));
	rtnl_link_put(change);
err_link:
	rtnl_link_put(link);
	return err;
}

/* add: NLM_F_EXCL, so both families answer EEXIST for an existing address. */
static int address_change(struct nl *nl, int ifindex, const struct nl_prefix *p, bool add)
{
	struct rtnl_addr *a;
	struct nl_addr *local;
	int err;

	err = to_nl_addr(p, &local);
	if (err)
		return err;
	a = rtnl_addr_alloc();
	if (!a) {
		err = -ENOMEM;
		goto err_local;
	}
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, p->family);
	err = to_errno(nl, rtnl_addr_set_local(a, local));
	if (err)
		goto err_addr;
	rtnl_addr_set_prefixlen(a, p->len);
	if (p->family == AF_INET6)
		rtnl_addr_set_flags(a, IFA_F_NODAD);
	if (add)
		err = to_errno(nl, rtnl_addr_add(begin(nl), a, NLM_F_EXCL));
	else
		err = gone(to_errno(nl, rtnl_addr_delete(begin(nl), a, 0)));
err_addr:
	rtnl_addr_put(a);
err_local:
	nl_addr_put(local);
	return err;
}

int nl_address_add(struct nl *nl, int ifindex, const struct nl_prefix *p)
{
	return address_change(nl, ifindex, p, true);
}

int nl_address_del(struct nl *nl, int ifindex, const struct nl_prefix *p)
{
	return address_change(nl, ifindex, p, false);
}

/* The libnl route for r; the caller puts it. */
static int build_route(const struct nl_route *r, struct rtnl_route **routep)
{
	struct rtnl_route *route;
	struct rtnl_nexthop *nh;
	struct nl_addr *dst, *gw = NULL;
	struct nl_prefix g = { .family = r->dst.family };
	int err;

	err = to_nl_addr(&r->dst, &dst);
	if (err)
		return err;
	if (r->has_gateway) {
		memcpy(g.addr, r->gateway, sizeof(g.addr));
		g.len = addr_len(g.family) * 8;
		err = to_nl_addr(&g, &gw);
		if (err)
			goto err_dst;
	}
	err = -ENOMEM;
	route = rtnl_route_alloc();
	nh = rtnl_route_nh_alloc();
	if (!route || !nh)
		goto err_route;
	rtnl_route_set_family(route, r->dst.family);
	rtnl_route_set_table(route, r->table);
	rtnl_route_set_dst(route, dst);
	rtnl_route_set_protocol(route, RTPROT_STATIC);
	rtnl_route_set_scope(route, gw || r->throw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	rtnl_route_set_type(route, r->throw ? RTN_THROW : RTN_UNICAST);
	if (!r->throw) {
		rtnl_route_nh_set_ifindex(nh, r->oif);
		if (gw)
			rtnl_route_nh_set_gateway(nh, gw);
		rtnl_route_add_nexthop(route, nh); /* the route owns nh now */
		nh = NULL;
	}
	*routep = route;
	err = 0;
	route = NULL;
err_route:
	if (nh)
		rtnl_route_nh_free(nh);
	if (route)
		rtnl_route_put(route);
	nl_addr_put(gw);
err_dst:
	nl_addr_put(dst);
	return err;
}

int nl_route_add(struct nl *nl, const struct nl_route *r)
{
	struct rtnl_route *route;
	int err;

	err = build_route(r, &route);
	if (err)
		return err;
	err = to_errno(nl, rtnl_route_add(begin(nl), route, NLM_F_EXCL));
	rtnl_route_put(route);
	return err;
}

int nl_route_del(struct nl *nl, const struct nl_route *r)
{
	struct rtnl_route *route;
	int err;

	err = build_route(r, &route);
	if (err)
		return err;
	err = gone(to_errno(nl, rtnl_route_delete(begin(nl), route, 0)));
	rtnl_route_put(route);
	return err;
}

/* Fills r from a libnl route: table, first nexthop's link and gateway. */
static void route_info(struct rtnl_route *route, struct nl_route *r)
{
	struct rtnl_nexthop *nh;
	struct nl_addr *gw;

	r->table = rtnl_route_get_table(route);
	r->oif = 0;
	r->has_gateway = false;
	memset(r->gateway, 0, sizeof(r->gateway));
	if (rtnl_route_get_nnexthops(route) < 1)
		return;
	nh = rtnl_route_nexthop_n(route, 0);
	r->oif = rtnl_route_nh_get_ifindex(nh);
	gw = rtnl_route_nh_get_gateway(nh);
	if (gw && nl_addr_get_family(gw) == r->dst.family &&
		nl_addr_get_len(gw) == (unsigned int)addr_len(r->dst.family)) {
		memcpy(r->gateway, nl_addr_get_binary_addr(gw), nl_addr_get_len(gw));
		r->has_gateway = true;
	}
}

static int on_route(struct nl_msg *msg, void *arg)
{
	struct rtnl_route **routep = arg;

	if (!*routep && rtnl_route_parse(nlmsg_hdr(msg), routep) < 0)
		*routep = NULL;
	return NL_OK;
}

/* RTM_GETROUTE with RTM_F_LOOKUP_TABLE, so the answer names the table that
 * matched rather than main. The answer comes before the ack. */
int nl_route_get(struct nl *nl, int family, const void *addr, struct nl_route *r)
{
	int alen = addr_len(family);
	struct rtmsg rtm = {
		.rtm_family = family, .rtm_dst_len = alen * 8, .rtm_flags = RTM_F_LOOKUP_TABLE
	};
	struct rtnl_route *route = NULL;
	struct nl_sock *sk = begin(nl);
	struct nl_msg *msg;
	struct nl_cb *cb, *scb;
	int err;

	if (!alen)
		return -EAFNOSUPPORT;
	msg = nlmsg_alloc_simple(RTM_GETROUTE, 0);
	if (!msg)
		return -ENOMEM;
	err = -ENOMEM;
	if (nlmsg_append(msg, &rtm, sizeof(rtm), NLMSG_ALIGNTO) < 0 ||
		nla_put(msg, RTA_DST, alen, addr) < 0)
		goto err_msg;
	scb = nl_socket_get_cb(sk);
	cb = nl_cb_clone(scb); /* keeps on_kernel_error */
	nl_cb_put(scb);
	if (!cb)
		goto err_msg;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_route, &route);
	err = nl_send_auto(sk, msg);
	if (err >= 0)
		err = nl_recvmsgs(sk, cb);
	if (err >= 0)
		err = nl_wait_for_ack(sk);
	err = to_errno(nl, err);
	if (!err && !route)
		err = -EIO;
	if (!err) {
		memset(r, 0, sizeof(*r));
		r->dst.family = family;
		memcpy(r->dst.addr, addr, alen);
		r->dst.len = alen * 8;
		route_info(route, r);
	}
	rtnl_route_put(route);
	nl_cb_put(cb);
err_msg:
	nlmsg_free(msg);
	return err;
}

/* Runs cb over a snapshot of every route of family (all tables). */
static int foreach_route(
	struct nl *nl, int family, void (*cb)(struct nl_object *, void *), void *arg)
{
	struct nl_cache *cache;
	int err;

	if (!addr_len(family))
		return -EAFNOSUPPORT;
	err = to_errno(nl, rtnl_route_alloc_cache(begin(nl), family, 0, &cache));
	if (err)
		return err;
	nl_cache_foreach(cache, cb, arg);
	nl_cache_free(cache);
	return 0;
}

struct walk {
	uint32_t table;
	int (*fn)(const struct nl_route *r, void *arg);
	void *arg;
	int ret;
};

static void walk_one(struct nl_object *obj, void *arg)
{
	struct rtnl_route *route = (struct rtnl_route *)obj;
	struct nl_addr *dst = rtnl_route_get_dst(route);
	struct walk *w = arg;
	struct nl_route r = { 0 };

	if (w->ret || rtnl_route_get_table(route) != w->table ||
		rtnl_route_get_type(route) != RTN_UNICAST || !dst ||
		nl_addr_get_len(dst) > sizeof(r.dst.addr))
		return;
	r.dst.family = nl_addr_get_family(dst);
	r.dst.len = (uint8_t)nl_addr_get_prefixlen(dst);
	memcpy(r.dst.addr, nl_addr_get_binary_addr(dst), nl_addr_get_len(dst));
	route_info(route, &r);
	w->ret = w->fn(&r, w->arg);
}

int nl_route_walk(struct nl *nl, int family, uint32_t table,
	int (*fn)(const struct nl_route *r, void *arg), void *arg)
{
	struct walk w = { .table = table, .fn = fn, .arg = arg };
	int err = foreach_route(nl, family, walk_one, &w);

	return err ? err : w.ret;
}

struct flush {
	struct nl *nl;
	uint32_t table;
	int deleted;
	int err;
};

static void flush_one(struct nl_object *obj, void *arg)
{
	struct rtnl_route *route = (struct rtnl_route *)obj;
	struct flush *f = arg;
	int err;

	if (rtnl_route_get_table(route) != f->table)
		return;
	err = gone(to_errno(f->nl, rtnl_route_delete(begin(f->nl), route, 0)));
	if (!err)
		f->deleted++;
	else if (err != -ENOENT && !f->err)
		f->err = err;
}

int nl_route_flush(struct nl *nl, int family, uint32_t table)
{
	struct flush f = { .nl = nl, .table = table };
	int err = foreach_route(nl, family, flush_one, &f);

	if (err)
		return err;
	return f.err ? f.err : f.deleted;
}

static int rule_change(struct nl *nl, const struct nl_prefix *dst, uint32_t table,
	uint32_t priority, bool add, bool from)
{
	struct rtnl_rule *rule;
	struct nl_addr *a = NULL;
	int err;

	if (!addr_len(dst->family))
		return -EAFNOSUPPORT;
	rule = rtnl_rule_alloc();
	if (!rule)
		return -ENOMEM;
	rtnl_rule_set_family(rule, dst->family);
	rtnl_rule_set_prio(rule, priority);
	rtnl_rule_set_table(rule, table);
	rtnl_rule_set_action(rule, FR_ACT_TO_TBL);
	if (dst->len) {
		err = to_nl_addr(dst, &a);
		if (err)
			goto err_rule;
		err = to_errno(nl, from ? rtnl_rule_set_src(rule, a) : rtnl_rule_set_dst(rule, a));
		if (err)
			goto err_addr;
	}
	if (add)
		err = to_errno(nl, rtnl_rule_add(begin(nl), rule, NLM_F_EXCL));
	else
		err = gone(to_errno(nl, rtnl_rule_delete(begin(nl), rule, 0)));
err_addr:
	nl_addr_put(a);
err_rule:
	rtnl_rule_put(rule);
	return err;
}

int nl_rule_add(struct nl *nl, const struct nl_prefix *dst, uint32_t table, uint32_t priority)
{
	return rule_change(nl, dst, table, priority, true, false);
}

int nl_rule_del(struct nl *nl, const struct nl_prefix *dst, uint32_t table, uint32_t priority)
{
	return rule_change(nl, dst, table, priority, false, false);
}

int nl_rule_from_add(struct nl *nl, const struct nl_prefix *src, uint32_t table, uint32_t priority)
{
	return rule_change(nl, src, table, priority, true, true);
}

int nl_rule_from_del(struct nl *nl, const struct nl_prefix *src, uint32_t table, uint32_t priority)
{
	return rule_change(nl, src, table, priority, false, true);
}

int nl_rp_filter(const char *ifname, int mode)
{
	char path[64 + IF_NAMESIZE], val[4];
	int fd, n, len, err = 0;

	if (!*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/') ||
		!strcmp(ifname, ".") || !strcmp(ifname, "..") || mode < 0 || mode > 2)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", ifname);
	len = snprintf(val, sizeof(val), "%d\n", mode);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		err = -errno;
	else if (n != len)
		err = -EIO;
	close(fd);
	return err;
}
