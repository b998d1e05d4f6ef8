/* Watches the kernel's link, address and route changes (libmnl) from the gateway's event loop. */
#include "monitor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <event2/event.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>

#define MONITOR_BUF 32768 /* one read holds the largest message the kernel sends */
#define MONITOR_DRAIN 64  /* reads per readiness event, so other fds get their turn */
#define MONITOR_RCVBUF (1 << 20)
#define ATTR_SLOTS 32 /* the attributes read here are all below this type */

struct nl_monitor {
	struct mnl_socket *sock;
	struct event *ev;
	nl_monitor_cb *cb;
	void *arg;
	_Alignas(NLMSG_ALIGNTO) char buf[MONITOR_BUF];
};

static const unsigned int groups[] = {
	RTNLGRP_LINK,
	RTNLGRP_IPV4_IFADDR,
	RTNLGRP_IPV6_IFADDR,
	RTNLGRP_IPV4_ROUTE,
	RTNLGRP_IPV6_ROUTE,
	RTNLGRP_IPV4_RULE,
	RTNLGRP_IPV6_RULE,
};

static int store_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	unsigned int type = mnl_attr_get_type(a);

	if (type < ATTR_SLOTS)
		tb[type] = a;
	return MNL_CB_OK;
}

static int addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* Copies an address attribute of family's size; false if absent or another size. */
static bool copy_addr(const struct nlattr *a, int family, uint8_t *out)
{
	if (!a || mnl_attr_get_payload_len(a) != addr_len(family))
		return false;
	memcpy(out, mnl_attr_get_payload(a), addr_len(family));
	return true;
}

static bool parse_link(const struct nlmsghdr *nlh, struct nl_event *ev)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[ATTR_SLOTS] = { 0 };
	const struct nlattr *name;

	if (mnl_attr_parse(nlh, sizeof(*ifi), store_attr, tb) < 0)
		return false;
	if (nlh->nlmsg_type == RTM_DELLINK)
		ev->kind = NL_EV_LINK_DELETED;
	else
		ev->kind = ifi->ifi_flags & IFF_UP ? NL_EV_LINK_UP : NL_EV_LINK_DOWN;
	ev->ifindex = ifi->ifi_index;
	ev->flags = ifi->ifi_flags;
	name = tb[IFLA_IFNAME];
	if (name && mnl_attr_validate(name, MNL_TYPE_NUL_STRING) == 0)
		snprintf(ev->ifname, sizeof(ev->ifname), "%s", mnl_attr_get_str(name));
	return true;
}

static bool parse_addr(const struct nlmsghdr *nlh, struct nl_event *ev)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[ATTR_SLOTS] = { 0 };

	if (mnl_attr_parse(nlh, sizeof(*ifa), store_attr, tb) < 0)
		return false;
	ev->kind = nlh->nlmsg_type == RTM_NEWADDR ? NL_EV_ADDR_ADDED : NL_EV_ADDR_REMOVED;
	ev->ifindex = ifa->ifa_index;
	ev->addr.family = ifa->ifa_family;
	ev->addr.len = ifa->ifa_prefixlen;
	/* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links */
	return copy_addr(tb[IFA_LOCAL], ifa->ifa_family, ev->addr.addr) ||
	       copy_addr(tb[IFA_ADDRESS], ifa->ifa_family, ev->addr.addr);
}

/* A multipath route: the first nexthop stands for all. */
static void first_nexthop(const struct nlattr *mp, struct nl_route *r)
{
	const struct rtnexthop *nh = mnl_attr_get_payload(mp);
	const struct nlattr *tb[ATTR_SLOTS] = { 0 };
	size_t len = mnl_attr_get_payload_len(mp);

	if (len < sizeof(*nh) || nh->rtnh_len < sizeof(*nh) || nh->rtnh_len > len)
		return;
	r->oif = nh->rtnh_ifindex;
	if (mnl_attr_parse_payload(RTNH_DATA(nh), nh->rtnh_len - sizeof(*nh), store_attr, tb) < 0)
		return;
	r->has_gateway = copy_addr(tb[RTA_GATEWAY], r->dst.family, r->gateway);
}

static bool parse_route(const struct nlmsghdr *nlh, struct nl_event *ev)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[ATTR_SLOTS] = { 0 };
	struct nl_route *r = &ev->route;

	if (!addr_len(rtm->rtm_family) || rtm->rtm_flags & RTM_F_CLONED)
		return false;
	if (mnl_attr_parse(nlh, sizeof(*rtm), store_attr, tb) < 0)
		return false;
	ev->kind = nlh->nlmsg_type == RTM_NEWROUTE ? NL_EV_ROUTE_ADDED : NL_EV_ROUTE_REMOVED;
	r->table = rtm->rtm_table;
	if (tb[RTA_TABLE] && mnl_attr_validate(tb[RTA_TABLE], MNL_TYPE_U32) == 0)
		r->table = mnl_attr_get_u32(tb[RTA_TABLE]);
	r->dst.family = rtm->rtm_family;
	r->dst.len = rtm->rtm_dst_len;
	if (rtm->rtm_dst_len && !copy_addr(tb[RTA_DST], rtm->rtm_family, r->dst.addr))
		return false;
	if (tb[RTA_OIF] && mnl_attr_validate(tb[RTA_OIF], MNL_TYPE_U32) == 0)
		r->oif = mnl_attr_get_u32(tb[RTA_OIF]);
	r->has_gateway = copy_addr(tb[RTA_GATEWAY], rtm->rtm_family, r->gateway);
	if (!r->oif && tb[RTA_MULTIPATH])
		first_nexthop(tb[RTA_MULTIPATH], r);
	ev->ifindex = r->oif;
	return true;
}

static bool parse_rule(const struct nlmsghdr *nlh, struct nl_event *ev)
{
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[ATTR_SLOTS] = { 0 };

	if (!addr_len(frh->family) || mnl_attr_parse(nlh, sizeof(*frh), store_attr, tb) < 0)
		return false;
	ev->kind = nlh->nlmsg_type == RTM_NEWRULE ? NL_EV_RULE_ADDED : NL_EV_RULE_REMOVED;
	ev->route.dst.family = frh->family;
	ev->route.table = frh->table;
	if (tb[FRA_TABLE] && mnl_attr_validate(tb[FRA_TABLE], MNL_TYPE_U32) == 0)
		ev->route.table = mnl_attr_get_u32(tb[FRA_TABLE]);
	return true;
}

static const struct {
	uint16_t type;
	size_t hdrlen;
	bool (*parse)(const struct nlmsghdr *nlh, struct nl_event *ev);
} handlers[] = {
	{ RTM_NEWLINK, sizeof(struct ifinfomsg), parse_link },
	{ RTM_DELLINK, sizeof(struct ifinfomsg), parse_link },
	{ RTM_NEWADDR, sizeof(struct ifaddrmsg), parse_addr },
	{ RTM_DELADDR, sizeof(struct ifaddrmsg), parse_addr },
	{ RTM_NEWROUTE, sizeof(struct rtmsg), parse_route },
	{ RTM_DELROUTE, sizeof(struct rtmsg), parse_route },
	{ RTM_NEWRULE, sizeof(struct fib_rule_hdr), parse_rule },
	{ RTM_DELRULE, sizeof(struct fib_rule_hdr), parse_rule },
};

/* Messages that don't parse are skipped: a monitor has nobody to answer. */
static int on_message(const struct nlmsghdr *nlh, void *data)
{
	struct nl_monitor *m = data;
	struct nl_event ev;
	size_t i;

	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (handlers[i].type != nlh->nlmsg_type)
			continue;
		if (mnl_nlmsg_get_payload_len(nlh) < handlers[i].hdrlen)
			break;
		memset(&ev, 0, sizeof(ev));
		if (handlers[i].parse(nlh, &ev))
			m->cb(&ev, m->arg);
		break;
	}
	return MNL_CB_OK;
}

static void resync(struct nl_monitor *m)
{
	struct nl_event ev = { .kind = NL_EV_RESYNC };

	m->cb(&ev, m->arg);
}

static void monitor_drain(struct nl_monitor *m)
{
	ssize_t n;
	int i;

	for (i = 0; i < MONITOR_DRAIN; i++) {
		n = mnl_socket_recvfrom(m->sock, m->buf, sizeof(m->buf));
		if (n >= 0) {
			mnl_cb_run(m->buf, n, 0, 0, on_message, m);
			continue;
		}
		if (errno == EINTR)
			continue;
		/* ENOBUFS: the kernel dropped messages; ENOSPC: one was truncated */
		if (errno == ENOBUFS || errno == ENOSPC) {
			resync(m);
			continue;
		}
		return; /* EAGAIN: drained */
	}
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	monitor_drain(arg);
}

int nl_monitor_set_rcvbuf(struct nl_monitor *m, int bytes)
{
	int fd = mnl_socket_get_fd(m->sock);

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) == 0)
		return 0;
	return -errno;
}

static int subscribe(struct mnl_socket *sock)
{
	unsigned int group;
	size_t i;

	if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		group = groups[i];
		if (mnl_socket_setsockopt(sock, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
			return -errno;
	}
	return 0;
}

int nl_monitor_new(struct nl_monitor **mp, struct event_base *base, nl_monitor_cb *cb, void *arg)
{
	struct nl_monitor *m;
	int err;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cb = cb;
	m->arg = arg;
	m->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!m->sock) {
		err = -errno;
		goto err_free;
	}
	err = subscribe(m->sock);
	if (err)
		goto err_close;
	err = nl_monitor_set_rcvbuf(m, MONITOR_RCVBUF);
	if (err)
		goto err_close;
	m->ev = event_new(base, mnl_socket_get_fd(m->sock), EV_READ | EV_PERSIST, on_readable, m);
	if (!m->ev) {
		err = -ENOMEM;
		goto err_close;
	}
	if (event_add(m->ev, NULL) < 0) {
		err = -ENOMEM;
		goto err_event;
	}
	*mp = m;
	return 0;

err_event:
	event_free(m->ev);
err_close:
	mnl_socket_close(m->sock);
err_free:
	free(m);
	return err;
}

void nl_monitor_free(struct nl_monitor *m)
{
	if (!m)
		return;
	event_free(m->ev);
	mnl_socket_close(m->sock);
	free(m);
}
