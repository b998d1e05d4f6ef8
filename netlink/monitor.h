/* Watches the kernel's link, address and route changes (libmnl) from the gateway's event loop. */
#ifndef N4M_NL_MONITOR_H
#define N4M_NL_MONITOR_H

#include <net/if.h>

#include "nl.h"

struct event_base;
struct nl_monitor;

enum nl_event_kind {
	NL_EV_LINK_UP,	    /* RTM_NEWLINK with IFF_UP: sent for any change, up already or not */
	NL_EV_LINK_DOWN,    /* RTM_NEWLINK without IFF_UP */
	NL_EV_LINK_DELETED, /* RTM_DELLINK */
	NL_EV_ADDR_ADDED,
	NL_EV_ADDR_REMOVED,
	NL_EV_ROUTE_ADDED,
	NL_EV_ROUTE_REMOVED,
	NL_EV_RULE_ADDED, /* route.table and route.dst.family are set */
	NL_EV_RULE_REMOVED,
	NL_EV_RESYNC, /* the socket overran (ENOBUFS): events were lost, read the state again */
};

/*
 * Note: when a link goes down, the kernel drops its IPv4 routes without an
 * RTM_DELROUTE, so NL_EV_LINK_DOWN means "its routes are gone" too.
 */
struct nl_event {
	enum nl_event_kind kind;
	int ifindex;		  /* the link; for routes, route.oif */
	unsigned int flags;	  /* link events: IFF_* */
	char ifname[IF_NAMESIZE]; /* link events, "" if the kernel sent none */
	struct nl_prefix addr;	  /* address events: the address and its prefix length */
	struct nl_route route;	  /* route events: table, dst, oif and first gateway */
};

/* Called for each event; ev lives until it returns. It must not free the monitor. */
typedef void nl_monitor_cb(const struct nl_event *ev, void *arg);

/* Subscribes to RTNLGRP_LINK, IPV4/IPV6_IFADDR and IPV4/IPV6_ROUTE and adds
 * a read event to base. Create it before reading the state it watches, so
 * no change falls in between. 0 or -errno. */
int nl_monitor_new(struct nl_monitor **mp, struct event_base *base, nl_monitor_cb *cb, void *arg);
void nl_monitor_free(struct nl_monitor *m);

/* The socket's receive buffer (SO_RCVBUFFORCE if allowed): larger means fewer
 * overruns in bursts; the default is 1 MiB. 0 or -errno. */
int nl_monitor_set_rcvbuf(struct nl_monitor *m, int bytes);

#endif
