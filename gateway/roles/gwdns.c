/* The gateway's DNS server: fake-ip answers for agents and remote domains, other names forwarded through the default agent. */
#include "gwdns.h"

#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway/lib/addr.h"
#include "dns.h"
#include "fakeip.h"
#include "fakeip_cache.h"
#include "gateway/core/flow.h"
#include "gateway/core/node.h"
#include "gateway/lib/clock.h"
#include "gateway/lib/listener.h"
#include "gateway/lib/log.h"
#include "mqtt/client.h"
#include "local.h"
#include "roles.h"
#include "tun/packet.h"
#include "tun/tun.h"

#define GWDNS_TCP_IDLE_S 10
#define GWDNS_TCP_OUT_CAP                                                                          \
	(64 * 1024) /* answers queued to a TCP client before it stops being read */
#define GWDNS_UDP_BATCH 64
#define GWDNS_TCP_MAX 64     /* clients at once: a new one beyond it closes the oldest */
#define GWDNS_CACHE_SAVE_S 5 /* --fake-ip-cache: written at most this often, when it changed */

struct dns_tcp;

/* Where an answer goes. */
enum sink_kind {
	SINK_SOCKET, /* our UDP socket on the TUN's address: sendto the client */
	SINK_TUN,    /* a hijacked datagram: a UDP packet from the address it was sent to */
	SINK_TCP,    /* a TCP client: length-prefixed (RFC 1035, 4.2.2) */
};

struct sink {
	enum sink_kind kind;
	int fd;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct tun_addr client, server;
	uint16_t client_port, server_port;
	struct dns_tcp *tcp;
};

struct pending {
	bool used;
	uint16_t id, orig_id;
	uint64_t deadline_ms;
	struct sink sink;
	uint16_t qlen; /* the question as sent, which the answer must repeat */
	uint8_t question[DNS_NAME_MAX + 4];
};

struct dns_tcp {
	TAILQ_ENTRY(dns_tcp) link;
	struct gwdns *d;
	struct bufferevent *bev;
};

struct gwdns {
	struct node *n;
	struct tun *tun;
	struct fakeip_pool *pool;
	struct event *ev_save;	       /* --fake-ip-cache: a save is due */
	uint64_t saved_changes;	       /* fakeip_changes of the pool as last saved (or read) */
	bool save_failed;	       /* the last save failed: said once until one works */
	char upstream[MQTT_LEVEL_MAX]; /* "" when there is none */
	char fwd_src[ADDR_STRLEN];
	int udp_fd[2];
	struct event *ev_udp[2];
	struct evconnlistener *tcp[2];
	TAILQ_HEAD(, dns_tcp) conns; /* oldest first */
	int n_conns;
	struct pending pending[GWDNS_PENDING_MAX];
	unsigned long queries, fake, forwarded, refused, malformed, lost, pool_full;
	uint8_t msg[65536];		    /* a query read, or being forwarded */
	uint8_t out[TUN_IPV6_HLEN + 65536]; /* an answer, with room for its IP/UDP headers */
};

static void tcp_close(struct dns_tcp *c);

static const struct gateway_config *gwdns_cfg(const struct gwdns *d)
{
	return d->n->role_cfg;
}

/* ---- --fake-ip-cache ---- */

static bool cache_stale(const struct gwdns *d)
{
	return gwdns_cfg(d)->fake_ip_cache[0] && fakeip_changes(d->pool) != d->saved_changes;
}

static void cache_save(struct gwdns *d)
{
	const char *path = gwdns_cfg(d)->fake_ip_cache;
	uint64_t changes = fakeip_changes(d->pool);
	int err = fakeip_cache_save(d->pool, path);

	if (err) {
		if (!d->save_failed)
			log_warnx(
				"dns: cannot write the fake-ip cache %s: %s", path, strerror(-err));
		d->save_failed = true;
		return;
	}
	if (d->save_failed)
		log_info("dns: the fake-ip cache %s is written again", path);
	d->save_failed = false;
	d->saved_changes = changes;
	log_debug("dns: fake-ip cache %s: %zu entries", path, fakeip_size(d->pool));
}

static void cache_save_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gwdns *d = arg;
	(void)fd, (void)what;

	log_set_role(d->n->name);
	if (cache_stale(d))
		cache_save(d);
}

/* After the pool changed: a save within GWDNS_CACHE_SAVE_S, not one per query. */
static void cache_touch(struct gwdns *d)
{
	struct timeval soon = { GWDNS_CACHE_SAVE_S, 0 };

	if (d->ev_save && cache_stale(d) && !evtimer_pending(d->ev_save, NULL))
		evtimer_add(d->ev_save, &soon);
}

/* Before any traffic: the names and addresses of the last run. */
static void cache_load(struct gwdns *d)
{
	const char *path = gwdns_cfg(d)->fake_ip_cache;
	struct fakeip_cache_stats st;
	int err = fakeip_cache_load(d->pool, path, clock_ms(), &st);

	d->saved_changes = fakeip_changes(d->pool);
	if (err == -ENOENT) {
		log_info("dns: no fake-ip cache %s yet", path);
		return;
	}
	if (err) {
		log_warnx("dns: fake-ip cache %s not read: %s", path,
			err == -EFBIG ? "larger than 32 MiB" : strerror(-err));
		return;
	}
	if (st.malformed)
		log_warnx("dns: fake-ip cache %s: %lu malformed lines ignored", path, st.malformed);
	log_info("dns: fake-ip cache %s: %lu names restored, %lu dropped (outside the "
		 "fake-ip range now, or twice)",
		path, st.restored, st.dropped);
	if (st.malformed || st.dropped)
		d->saved_changes--; /* rewritten without them */
}

/* ---- answers ---- */

static void send_answer(struct gwdns *d, const struct sink *s, const uint8_t *p, size_t len)
{
	switch (s->kind) {
	case SINK_SOCKET:
		sendto(s->fd, p, len, 0, (const struct sockaddr *)&s->peer, s->peerlen);
		break;
	case SINK_TUN: {
		/* p may be d->out's payload area already: tun_build_udp allows overlap */
		int plen = tun_build_udp(d->out, sizeof(d->out), &s->server, s->server_port,
			&s->client, s->client_port, p, len);
		if (plen > 0)
			tun_write(d->tun, d->out, (size_t)plen, NULL);
		break;
	}
	case SINK_TCP: {
		uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
		if (len > 0xffff)
			break; /* RFC 1035, 4.2.2: a 16-bit length */
		bufferevent_write(s->tcp->bev, hdr, sizeof(hdr));
		bufferevent_write(s->tcp->bev, p, len);
		break;
	}
	}
}

/* Room for an answer in d->out, past the IP/UDP headers a hijacked one needs. */
static uint8_t *answer_buf(struct gwdns *d, size_t *size)
{
	*size = sizeof(d->out) - TUN_IPV6_HLEN - TUN_UDP_HLEN;
	return d->out + TUN_IPV6_HLEN + TUN_UDP_HLEN;
}

static void send_error(struct gwdns *d, const struct sink *s, const uint8_t *msg, size_t len,
	uint16_t q_end, enum dns_rcode rcode)
{
	size_t size;
	uint8_t *buf = answer_buf(d, &size);
	int olen = dns_build_error(buf, size, msg, len, q_end, rcode);

	if (olen > 0)
		send_answer(d, s, buf, (size_t)olen);
}

/* Which agent serves name, and whether with its default target ("-"): the
 * agents' domain (exactly AGENT.DOMAIN), then --remote-domain suffixes. */
static int match_name(
	struct gwdns *d, const char *name, char *agent, size_t len, bool *agent_default)
{
	const struct gateway_config *cfg = gwdns_cfg(d);
	const char *domain = cfg->domain;

	for (int i = 0; i < cfg->n_remote_domains; i++) {
		const struct remote_domain *r = &cfg->remote_domains[i];
		if (dns_name_under(name, r->suffix)) {
			snprintf(agent, len, "%s", r->agent);
			*agent_default = false;
			return 0;
		}
	}
	if (dns_name_under(name, domain)) {
		if (!addr_kxdns_agent(name, domain, agent, len) ||
			strlen(agent) + 1 + strlen(domain) != strlen(name) ||
			!mqtt_level_valid(agent))
			return -ENOENT; /* the domain itself, or deeper names: no such agent */
		*agent_default = true;
		return 0;
	}
	return -ESRCH;
}

static void answer_fake(struct gwdns *d, const struct sink *s, const struct dns_query *q,
	const uint8_t *msg, const char *agent, bool agent_default)
{
	const struct fakeip_entry *e;
	uint8_t ip[16];
	size_t size, alen = q->qtype == DNS_TYPE_A ? 4 : 16;
	uint8_t *buf = answer_buf(d, &size);
	int olen, err;

	if (q->qclass != DNS_CLASS_IN) {
		send_error(d, s, msg, q->question_end, q->question_end, DNS_RCODE_NOTIMP);
		return;
	}
	if (q->qtype != DNS_TYPE_A && q->qtype != DNS_TYPE_AAAA) {
		olen = dns_build_answer(buf, size, q, msg, NULL, 0, GWDNS_TTL); /* NODATA */
	} else if ((err = fakeip_assign(d->pool, q->name, agent, agent_default, clock_ms(), &e))) {
		/* a full pool is what a flood of names looks like: counted, not logged each time */
		d->pool_full += err == -ENOSPC;
		log_debug("dns: no fake address for %s: %s", q->name,
			err == -ENOSPC ? "every one was used in the last hold time"
				       : strerror(-err));
		send_error(d, s, msg, q->question_end, q->question_end,
			err == -ENOSPC ? DNS_RCODE_SERVFAIL : DNS_RCODE_REFUSED);
		return;
	} else {
		fakeip_addr(e, alen == 4 ? AF_INET : AF_INET6, ip);
		cache_touch(d);
		olen = dns_build_answer(buf, size, q, msg, ip, alen, GWDNS_TTL);
		log_debug("dns: %s -> agent %s (%s), fake index %u", q->name, agent,
			agent_default ? "its default target" : "resolved there", e->index);
	}
	d->fake++;
	if (olen > 0)
		send_answer(d, s, buf, (size_t)olen);
}

/* ---- forwarding through the default agent ---- */

static void upstream_reply(struct flow *f, const uint8_t *p, size_t len);

/* The one udp flow through the default agent (a member of its pool) to --dns-upstream. */
static struct flow *upstream_flow(struct gwdns *d)
{
	struct node *n = d->n;
	char pick[NODE_ID_MAX], key[FLOW_KEY_MAX];
	const char *agent =
		node_pick_agent(n, n->cfg.agent_id, d->fwd_src, strlen(d->fwd_src), pick);

	if (flow_key(key, sizeof(key), agent, n->cfg.local_id, MQTT_PROTO_UDP, d->fwd_src,
		    d->upstream))
		return NULL;
	struct flow *f = flow_table_find(n->flows, key);
	if (f && !f->dead)
		return f;
	if (!node_peer_online(n, agent, MQTT_NIL) || !mqtt_client_connected(n->mqtt))
		return NULL;
	f = local_open_flow(n, FLOW_DGRAM_SINK, MQTT_PROTO_UDP, d->fwd_src, agent, d->upstream,
		upstream_reply, sizeof(d));
	if (!f)
		return NULL;
	memcpy(flow_priv(f), &d, sizeof(d));
	flow_attach(f, -1);
	return f;
}

static struct pending *pending_find(struct gwdns *d, uint16_t id)
{
	for (int i = 0; i < GWDNS_PENDING_MAX; i++)
		if (d->pending[i].used && d->pending[i].id == id)
			return &d->pending[i];
	return NULL;
}

/* A free slot (expired ones are freed on the way) with a fresh random id. */
static struct pending *pending_new(struct gwdns *d, uint64_t now)
{
	struct pending *free_slot = NULL;
	uint16_t id;

	for (int i = 0; i < GWDNS_PENDING_MAX; i++) {
		struct pending *p = &d->pending[i];
		if (p->used && p->deadline_ms <= now) {
			p->used = false;
			d->lost++;
		}
		if (!p->used && !free_slot)
			free_slot = p;
	}
	if (!free_slot)
		return NULL;
	do
		evutil_secure_rng_get_bytes(&id, sizeof(id));
	while (pending_find(d, id));
	free_slot->id = id;
	return free_slot;
}

static void forward(struct gwdns *d, const struct sink *s, const struct dns_query *q,
	const uint8_t *msg, size_t len)
{
	uint64_t now = clock_ms();
	struct pending *p;
	struct flow *f;

	if (!d->upstream[0]) {
		d->refused++;
		send_error(d, s, msg, len, q->question_end, DNS_RCODE_REFUSED);
		return;
	}
	if (!(p = pending_new(d, now)) || !(f = upstream_flow(d))) {
		send_error(d, s, msg, len, q->question_end, DNS_RCODE_SERVFAIL);
		return;
	}
	p->used = true;
	p->orig_id = q->id;
	p->qlen = (uint16_t)(q->question_end - DNS_HEADER_LEN);
	memcpy(p->question, msg + DNS_HEADER_LEN, p->qlen);
	p->deadline_ms = now + GWDNS_FORWARD_TIMEOUT_MS;
	p->sink = *s;
	if (msg != d->msg)
		memmove(d->msg, msg, len);
	dns_set_id(d->msg, p->id);
	flow_touch(f);
	flow_up(f, d->msg, len);
	d->forwarded++;
}

/* The answer's question is the one asked (ASCII case aside: RFC 4343). */
static bool same_question(const struct pending *q, const uint8_t *p, size_t len)
{
	if (len < DNS_HEADER_LEN + (size_t)q->qlen || !(p[2] & DNS_FLAG_QR >> 8))
		return false;
	for (size_t i = 0; i < q->qlen; i++)
		if (tolower(q->question[i]) != tolower(p[DNS_HEADER_LEN + i]))
			return false;
	return true;
}

/* An answer from the upstream: to whoever asked, with the id they used. */
static void upstream_reply(struct flow *f, const uint8_t *p, size_t len)
{
	struct gwdns *d;
	struct pending *q;

	memcpy(&d, flow_priv(f), sizeof(d));
	if (len < DNS_HEADER_LEN || !(q = pending_find(d, dns_get_id(p))) ||
		!same_question(q, p, len))
		return; /* late, spoofed, or not an answer to us */
	struct sink s = q->sink;
	q->used = false;
	if (len > sizeof(d->msg))
		return;
	memcpy(d->msg, p, len);
	dns_set_id(d->msg, q->orig_id);
	send_answer(d, &s, d->msg, len);
}

/* ---- one query, from any transport ---- */

static void handle_query(struct gwdns *d, const struct sink *s, const uint8_t *msg, size_t len)
{
	struct dns_query q;
	char agent[NODE_ID_MAX];
	bool agent_default;
	int err = dns_parse_query(&q, msg, len);

	d->queries++;
	if (err) {
		d->malformed++;
		log_debug("dns: malformed query (%s), %zu bytes", strerror(-err), len);
		if (err != -EBADMSG)
			send_error(d, s, msg, len, 0,
				err == -EOPNOTSUPP ? DNS_RCODE_NOTIMP : DNS_RCODE_FORMERR);
		return;
	}
	switch (match_name(d, q.name, agent, sizeof(agent), &agent_default)) {
	case 0:
		answer_fake(d, s, &q, msg, agent, agent_default);
		break;
	case -ENOENT:
		send_error(d, s, msg, len, q.question_end, DNS_RCODE_NXDOMAIN);
		break;
	default:
		forward(d, s, &q, msg, len);
	}
}

/* ---- transports ---- */

static void udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gwdns *d = arg;
	(void)what;

	log_set_role(d->n->name);
	for (int i = 0; i < GWDNS_UDP_BATCH; i++) {
		struct sink s = { .kind = SINK_SOCKET, .fd = fd, .peerlen = sizeof(s.peer) };
		ssize_t r = recvfrom(
			fd, d->msg, sizeof(d->msg), 0, (struct sockaddr *)&s.peer, &s.peerlen);
		if (r < 0)
			return;
		handle_query(d, &s, d->msg, (size_t)r);
	}
}

void gwdns_from_tun(struct gwdns *d, const struct tun_pkt *pkt)
{
	struct sink s = { .kind = SINK_TUN,
		.client = pkt->src,
		.server = pkt->dst,
		.client_port = pkt->sport,
		.server_port = pkt->dport };

	handle_query(d, &s, pkt->data + pkt->payload_off, pkt->payload_len);
}

static void tcp_read_cb(struct bufferevent *bev, void *arg);

/* The answers drained: queries may be waiting in the input already. */
static void tcp_write_cb(struct bufferevent *bev, void *arg)
{
	if (bufferevent_get_enabled(bev) & EV_READ)
		return;
	bufferevent_enable(bev, EV_READ);
	tcp_read_cb(bev, arg);
}

static void tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct dns_tcp *c = arg;
	struct gwdns *d = c->d;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t hdr[2];

	log_set_role(d->n->name);
	while (evbuffer_copyout(in, hdr, 2) == 2) {
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		if (evbuffer_get_length(in) < 2 + len)
			break;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, d->msg, len);
		struct sink s = { .kind = SINK_TCP, .tcp = c };
		handle_query(d, &s, d->msg, len);
		if (evbuffer_get_length(bufferevent_get_output(bev)) > GWDNS_TCP_OUT_CAP) {
			bufferevent_disable(bev, EV_READ); /* until the client reads its answers */
			break;
		}
	}
}

static void tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev, (void)what;
	tcp_close(arg); /* end of stream, error or idle */
}

static void tcp_close(struct dns_tcp *c)
{
	for (int i = 0; i < GWDNS_PENDING_MAX; i++)
		if (c->d->pending[i].used && c->d->pending[i].sink.kind == SINK_TCP &&
			c->d->pending[i].sink.tcp == c)
			c->d->pending[i].used = false;
	TAILQ_REMOVE(&c->d->conns, c, link);
	c->d->n_conns--;
	bufferevent_free(c->bev);
	free(c);
}

void gwdns_tcp(struct gwdns *d, int fd)
{
	struct timeval idle = { GWDNS_TCP_IDLE_S, 0 };
	struct dns_tcp *c = calloc(1, sizeof(*c));

	evutil_make_socket_nonblocking(fd);
	if (!c || !(c->bev = bufferevent_socket_new(d->n->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		free(c);
		close(fd);
		return;
	}
	c->d = d;
	bufferevent_setcb(c->bev, tcp_read_cb, tcp_write_cb, tcp_event_cb, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ);
	if (d->n_conns >= GWDNS_TCP_MAX)
		tcp_close(TAILQ_FIRST(&d->conns));
	TAILQ_INSERT_TAIL(&d->conns, c, link);
	d->n_conns++;
}

static void accept_cb(
	struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	(void)l, (void)sa, (void)salen;
	log_set_role(((struct gwdns *)arg)->n->name);
	gwdns_tcp(arg, fd);
}

static int listen_on(struct gwdns *d, int i, const struct tun_addr *self)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(self->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	len = tun_addr_to_sockaddr(self, GWDNS_PORT, &ss);
	d->udp_fd[i] = fd;
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len))
		return -errno;
	d->ev_udp[i] = event_new(d->n->base, fd, EV_READ | EV_PERSIST, udp_cb, d);
	if (!d->ev_udp[i] || event_add(d->ev_udp[i], NULL))
		return -ENOMEM;
	d->tcp[i] = evconnlistener_new_bind(d->n->base, accept_cb, d,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 64,
		(struct sockaddr *)&ss, (int)len);
	if (!d->tcp[i])
		return -errno;
	return listener_guard(d->tcp[i]) ? -ENOMEM : 0;
}

int gwdns_new(struct node *n, struct tun *tun, const struct tun_addr *self4,
	const struct tun_addr *self6, struct gwdns **out)
{
	struct gwdns *d = calloc(1, sizeof(*d));
	struct sockaddr_storage ss;
	char key[FLOW_KEY_MAX];
	int err;

	if (!d)
		return -ENOMEM;
	d->n = n;
	d->tun = tun;
	d->udp_fd[0] = d->udp_fd[1] = -1;
	TAILQ_INIT(&d->conns);
	*out = d;
	snprintf(d->upstream, sizeof(d->upstream), "%s", gwdns_cfg(d)->dns_upstream);
	if (!(d->pool = fakeip_new(&gwdns_cfg(d)->fake_ip, 0, GWDNS_HOLD_MS)))
		return -ENOMEM;
	if (gwdns_cfg(d)->fake_ip_cache[0]) {
		if (!(d->ev_save = evtimer_new(n->base, cache_save_cb, d)))
			return -ENOMEM;
		cache_load(d);
		cache_touch(d);
	}
	tun_addr_to_sockaddr(self4, GWDNS_PORT, &ss);
	addr_format((struct sockaddr *)&ss, d->fwd_src, sizeof(d->fwd_src));
	if (d->upstream[0] && (err = flow_key(key, sizeof(key), n->cfg.agent_id, n->cfg.local_id,
				       MQTT_PROTO_UDP, d->fwd_src, d->upstream)))
		return err; /* a key that does not fit: said at start, not at each query */
	for (int i = 0; i < 2; i++) {
		if ((err = listen_on(d, i, i ? self6 : self4))) {
			log_errorx("dns: cannot listen on port %d: %s", GWDNS_PORT, strerror(-err));
			return err;
		}
	}
	char r4[NL_PREFIX_STRLEN], r6[NL_PREFIX_STRLEN];
	nl_prefix_format(&gwdns_cfg(d)->fake_ip.net4, r4, sizeof(r4));
	nl_prefix_format(&gwdns_cfg(d)->fake_ip.net6, r6, sizeof(r6));
	log_info("dns on port %d: *.%s and %d remote domains from %s and %s (%u names), "
		 "others %s%s",
		GWDNS_PORT, gwdns_cfg(d)->domain, gwdns_cfg(d)->n_remote_domains, r4, r6,
		fakeip_capacity(d->pool), d->upstream[0] ? "to " : "refused", d->upstream);
	return 0;
}

void gwdns_free(struct gwdns *d)
{
	if (!d)
		return;
	log_info("dns: %lu queries, %lu fake answers, %lu failed for a full pool, %lu "
		 "forwarded "
		 "(%lu unanswered), %lu refused, %lu malformed",
		d->queries, d->fake, d->pool_full, d->forwarded, d->lost, d->refused, d->malformed);
	while (!TAILQ_EMPTY(&d->conns))
		tcp_close(TAILQ_FIRST(&d->conns));
	for (int i = 0; i < 2; i++) {
		if (d->ev_udp[i])
			event_free(d->ev_udp[i]);
		if (d->udp_fd[i] >= 0)
			close(d->udp_fd[i]);
		listener_free(d->tcp[i]);
	}
	if (d->ev_save) {
		if (cache_stale(d))
			cache_save(d); /* a clean stop */
		event_free(d->ev_save);
	}
	fakeip_free(d->pool);
	free(d);
}

bool gwdns_in_pool(const struct gwdns *d, const struct tun_addr *a)
{
	return fakeip_contains(d->pool, a->family, a->ip);
}

const struct fakeip_entry *gwdns_fake(struct gwdns *d, const struct tun_addr *a)
{
	return fakeip_lookup(d->pool, a->family, a->ip, clock_ms());
}

void gwdns_metrics(const struct gwdns *d, struct evbuffer *o)
{
	evbuffer_add_printf(o,
		"# HELP net4mqtt_dns_queries_total DNS queries the gateway read.\n"
		"# TYPE net4mqtt_dns_queries_total counter\n"
		"net4mqtt_dns_queries_total %lu\n",
		d->queries);
	evbuffer_add_printf(o,
		"# HELP net4mqtt_dns_answers_total DNS queries by outcome.\n"
		"# TYPE net4mqtt_dns_answers_total counter\n"
		"net4mqtt_dns_answers_total{result=\"fake\"} %lu\n"
		"net4mqtt_dns_answers_total{result=\"forwarded\"} %lu\n"
		"net4mqtt_dns_answers_total{result=\"refused\"} %lu\n"
		"net4mqtt_dns_answers_total{result=\"malformed\"} %lu\n"
		"net4mqtt_dns_answers_total{result=\"lost\"} %lu\n"
		"net4mqtt_dns_answers_total{result=\"pool_full\"} %lu\n",
		d->fake, d->forwarded, d->refused, d->malformed, d->lost, d->pool_full);
	evbuffer_add_printf(o,
		"# HELP net4mqtt_fakeip_used Fake addresses assigned now.\n"
		"# TYPE net4mqtt_fakeip_used gauge\nnet4mqtt_fakeip_used %zu\n"
		"# HELP net4mqtt_fakeip_capacity Fake addresses in the pool.\n"
		"# TYPE net4mqtt_fakeip_capacity gauge\nnet4mqtt_fakeip_capacity %u\n",
		fakeip_size(d->pool), fakeip_capacity(d->pool));
}
