/* The gateway's TCP NAT table: (client, destination) 4-tuples to NAT ports and back. */
#include "nat.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "siphash.h"

/* The binary key: family, C, D, c, d (ports big-endian); IPv4 zero-padded. */
#define KEY_LEN 37

/* An entry's state picks its timeout and the expiry list it waits on. */
enum phase {
	PHASE_HALF_OPEN,
	PHASE_OPEN,
	PHASE_CLOSED,
	N_PHASES,
};

enum dir {
	FROM_CLIENT = 1,
	FROM_LISTENER = 2,
};

struct entry {
	struct entry *hnext;	   /* forward hash chain */
	struct entry *prev, *next; /* expiry list of its phase, soonest deadline first */
	uint64_t hash;
	uint64_t deadline;
	uint16_t port;
	uint8_t phase;
	uint8_t fin; /* enum dir bits: who sent a FIN */
	bool rst;
	bool synack;	  /* the listener answered the SYN */
	bool established; /* and the client acknowledged */
	bool hashed;	  /* reachable by tuple; not once a new SYN took the tuple over */
	uint8_t key[KEY_LEN];
};

struct list {
	struct entry *head, *tail;
};

struct tun_nat {
	struct tun_nat_config cfg;
	struct entry **slots; /* forward: by tuple */
	size_t mask;
	struct entry **by_port; /* reverse: indexed by port - port_min */
	uint16_t *free_ports;	/* FIFO ring: the port freed longest ago comes first */
	size_t nports, free_head, nfree;
	/* Each phase has one timeout, and a refresh moves the entry to the tail,
	 * so every list stays sorted by deadline. */
	struct list lists[N_PHASES];
	uint64_t now;
	struct tun_nat_stats st;
};

void tun_nat_config_default(struct tun_nat_config *cfg)
{
	*cfg = (struct tun_nat_config){
		.port_min = 10000,
		.port_max = 60000,
		.syn_timeout_ms = 30 * 1000,
		.idle_timeout_ms = 2 * 3600 * 1000,
		.close_timeout_ms = 10 * 1000,
	};
}

static int pack_key(const struct tun_nat_tuple *t, uint8_t *key)
{
	size_t alen;

	if (t->family == AF_INET)
		alen = 4;
	else if (t->family == AF_INET6)
		alen = 16;
	else
		return -EAFNOSUPPORT;
	memset(key, 0, KEY_LEN);
	key[0] = t->family == AF_INET ? 4 : 6;
	memcpy(key + 1, t->src, alen);
	memcpy(key + 17, t->dst, alen);
	key[33] = t->sport >> 8, key[34] = t->sport & 0xff;
	key[35] = t->dport >> 8, key[36] = t->dport & 0xff;
	return 0;
}

static void unpack_key(const uint8_t *key, struct tun_nat_tuple *t)
{
	memset(t, 0, sizeof(*t));
	t->family = key[0] == 4 ? AF_INET : AF_INET6;
	memcpy(t->src, key + 1, 16);
	memcpy(t->dst, key + 17, 16);
	t->sport = (uint16_t)(key[33] << 8 | key[34]);
	t->dport = (uint16_t)(key[35] << 8 | key[36]);
}

static int key_family(const uint8_t *key)
{
	return key[0] == 4 ? AF_INET : AF_INET6;
}

static int check_config(const struct tun_nat_config *c)
{
	if (!c->port_min || c->port_min > c->port_max)
		return -EINVAL;
	if (!c->syn_timeout_ms || !c->idle_timeout_ms || !c->close_timeout_ms)
		return -EINVAL;
	return 0;
}

int tun_nat_new(struct tun_nat **natp, const struct tun_nat_config *cfg)
{
	struct tun_nat *nat;
	size_t nslots = 16;

	if (check_config(cfg))
		return -EINVAL;
	nat = calloc(1, sizeof(*nat));
	if (!nat)
		return -ENOMEM;
	nat->cfg = *cfg;
	nat->nports = (size_t)cfg->port_max - cfg->port_min + 1;
	if (!cfg->max_entries || cfg->max_entries > nat->nports)
		nat->cfg.max_entries = (uint32_t)nat->nports;
	while (nslots < nat->cfg.max_entries)
		nslots *= 2;
	nat->mask = nslots - 1;
	nat->slots = calloc(nslots, sizeof(*nat->slots));
	nat->by_port = calloc(nat->nports, sizeof(*nat->by_port));
	nat->free_ports = calloc(nat->nports, sizeof(*nat->free_ports));
	if (!nat->slots || !nat->by_port || !nat->free_ports) {
		tun_nat_free(nat);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nat->nports; i++)
		nat->free_ports[i] = (uint16_t)(cfg->port_min + i);
	nat->nfree = nat->nports;
	*natp = nat;
	return 0;
}

void tun_nat_free(struct tun_nat *nat)
{
	if (!nat)
		return;
	if (nat->by_port)
		for (size_t i = 0; i < nat->nports; i++)
			free(nat->by_port[i]);
	free(nat->free_ports);
	free(nat->by_port);
	free(nat->slots);
	free(nat);
}

/* Never lets time run backwards, so the expiry lists stay sorted. */
static uint64_t clock_at(struct tun_nat *nat, uint64_t now_ms)
{
	if (now_ms > nat->now)
		nat->now = now_ms;
	return nat->now;
}

static void list_del(struct list *l, struct entry *e)
{
	*(e->prev ? &e->prev->next : &l->head) = e->next;
	*(e->next ? &e->next->prev : &l->tail) = e->prev;
	e->prev = e->next = NULL;
}

static void list_append(struct list *l, struct entry *e)
{
	e->prev = l->tail;
	e->next = NULL;
	*(l->tail ? &l->tail->next : &l->head) = e;
	l->tail = e;
}

static uint32_t phase_timeout(const struct tun_nat *nat, enum phase phase)
{
	switch (phase) {
	case PHASE_HALF_OPEN:
		return nat->cfg.syn_timeout_ms;
	case PHASE_OPEN:
		return nat->cfg.idle_timeout_ms;
	default:
		return nat->cfg.close_timeout_ms;
	}
}

static enum phase phase_of(const struct entry *e)
{
	if (e->rst || e->fin == (FROM_CLIENT | FROM_LISTENER))
		return PHASE_CLOSED;
	return e->established ? PHASE_OPEN : PHASE_HALF_OPEN;
}

/* Follows the connection's state from one packet's flags, then refreshes the entry. */
static void track(struct tun_nat *nat, struct entry *e, enum dir dir, uint8_t flags)
{
	if (flags & TUN_NAT_RST)
		e->rst = true;
	if (flags & TUN_NAT_FIN)
		e->fin |= dir;
	if (dir == FROM_LISTENER && (flags & TUN_NAT_SYN) && (flags & TUN_NAT_ACK))
		e->synack = true;
	/* the handshake's last ACK: a SYN flood never leaves the short timeout */
	if (dir == FROM_CLIENT && e->synack && (flags & TUN_NAT_ACK) && !(flags & TUN_NAT_SYN))
		e->established = true;
	list_del(&nat->lists[e->phase], e);
	e->phase = phase_of(e);
	e->deadline = nat->now + phase_timeout(nat, e->phase);
	list_append(&nat->lists[e->phase], e);
}

static bool expired(const struct entry *e, uint64_t now)
{
	return e->deadline <= now;
}

static uint64_t hash_key(const struct tun_nat *nat, const uint8_t *key)
{
	return tun_siphash(key, KEY_LEN, nat->cfg.hash_key);
}

static struct entry **find(const struct tun_nat *nat, const uint8_t *key, uint64_t hash)
{
	struct entry **p = &nat->slots[hash & nat->mask];

	for (; *p; p = &(*p)->hnext)
		if ((*p)->hash == hash && !memcmp((*p)->key, key, KEY_LEN))
			break;
	return p;
}

static void unhash(struct tun_nat *nat, struct entry *e)
{
	struct entry **p = &nat->slots[e->hash & nat->mask];

	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	e->hnext = NULL;
	e->hashed = false;
}

/* The only place an entry is freed; its port goes to the back of the free queue. */
static void reap(struct tun_nat *nat, struct entry *e)
{
	if (e->hashed)
		unhash(nat, e);
	list_del(&nat->lists[e->phase], e);
	nat->by_port[e->port - nat->cfg.port_min] = NULL;
	nat->free_ports[(nat->free_head + nat->nfree++) % nat->nports] = e->port;
	nat->st.entries--;
	nat->st.expired++;
	free(e);
}

/* The entry whose deadline comes first, or NULL. */
static struct entry *oldest(const struct tun_nat *nat)
{
	struct entry *best = NULL;

	for (int i = 0; i < N_PHASES; i++) {
		struct entry *e = nat->lists[i].head;
		if (e && (!best || e->deadline < best->deadline))
			best = e;
	}
	return best;
}

/* Makes room for one more entry by removing the oldest, if it has expired. */
static bool make_room(struct tun_nat *nat)
{
	struct entry *e;

	if (nat->nfree && nat->st.entries < nat->cfg.max_entries)
		return true;
	e = oldest(nat);
	if (!e || !expired(e, nat->now))
		return false;
	reap(nat, e);
	return true;
}

static int create(struct tun_nat *nat, const uint8_t *key, uint64_t hash, struct entry **ep)
{
	struct entry *e;
	struct entry **slot;

	if (!make_room(nat))
		return -ENOSPC;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, KEY_LEN);
	e->hash = hash;
	e->port = nat->free_ports[nat->free_head];
	nat->free_head = (nat->free_head + 1) % nat->nports;
	nat->nfree--;
	nat->by_port[e->port - nat->cfg.port_min] = e;
	/* at the head of its chain: found before an old entry of the same tuple */
	slot = &nat->slots[hash & nat->mask];
	e->hnext = *slot;
	*slot = e;
	e->hashed = true;
	e->phase = PHASE_HALF_OPEN;
	list_append(&nat->lists[e->phase], e);
	nat->st.entries++;
	nat->st.created++;
	*ep = e;
	return 0;
}

/* The live entry of a tuple; an expired one is removed on the way. */
static struct entry *find_live(struct tun_nat *nat, const uint8_t *key, uint64_t hash)
{
	struct entry *e = *find(nat, key, hash);

	if (e && expired(e, nat->now)) {
		reap(nat, e);
		e = NULL;
	}
	return e;
}

static bool opens(uint8_t flags)
{
	return (flags & (TUN_NAT_SYN | TUN_NAT_ACK | TUN_NAT_RST | TUN_NAT_FIN)) == TUN_NAT_SYN;
}

int tun_nat_forward(struct tun_nat *nat, const struct tun_nat_tuple *t, uint8_t tcp_flags,
	uint64_t now_ms, uint16_t *port)
{
	uint8_t key[KEY_LEN];
	struct entry *e, *old;
	uint64_t hash;
	int err;

	err = pack_key(t, key);
	if (err)
		return err;
	clock_at(nat, now_ms);
	hash = hash_key(nat, key);
	e = old = find_live(nat, key, hash);
	if (opens(tcp_flags) && (!old || old->phase == PHASE_CLOSED)) {
		err = create(nat, key, hash, &e);
		if (err) {
			nat->st.refused++;
			return err;
		}
		if (old) /* the client reused its port: the old entry keeps only its replies */
			unhash(nat, old);
	} else if (!e) {
		nat->st.missed++;
		return -ENOENT;
	}
	track(nat, e, FROM_CLIENT, tcp_flags);
	*port = e->port;
	return 0;
}

static struct entry *by_port(const struct tun_nat *nat, int family, uint16_t port)
{
	struct entry *e;

	if (port < nat->cfg.port_min || port > nat->cfg.port_max)
		return NULL;
	e = nat->by_port[port - nat->cfg.port_min];
	if (e && key_family(e->key) != family)
		return NULL;
	return e;
}

int tun_nat_reverse(struct tun_nat *nat, int family, uint16_t port, uint8_t tcp_flags,
	uint64_t now_ms, struct tun_nat_tuple *t)
{
	struct entry *e = by_port(nat, family, port);

	clock_at(nat, now_ms);
	if (e && expired(e, nat->now)) {
		reap(nat, e);
		e = NULL;
	}
	if (!e) {
		nat->st.missed++;
		return -ENOENT;
	}
	track(nat, e, FROM_LISTENER, tcp_flags);
	unpack_key(e->key, t);
	return 0;
}

int tun_nat_lookup(const struct tun_nat *nat, int family, uint16_t port, uint64_t now_ms,
	struct tun_nat_tuple *t)
{
	const struct entry *e = by_port(nat, family, port);

	if (!e || expired(e, now_ms > nat->now ? now_ms : nat->now))
		return -ENOENT;
	unpack_key(e->key, t);
	return 0;
}

int tun_nat_expire(struct tun_nat *nat, uint64_t now_ms, unsigned int budget, uint64_t *next_ms)
{
	uint64_t now = clock_at(nat, now_ms);
	struct entry *e;
	int n = 0;

	if (budget > INT_MAX)
		budget = INT_MAX;
	while ((e = oldest(nat)) && expired(e, now) && (unsigned int)n < budget) {
		reap(nat, e);
		n++;
	}
	if (!e)
		*next_ms = TUN_NAT_NEVER;
	else
		*next_ms = expired(e, now) ? now : e->deadline;
	return n;
}

void tun_nat_stats(const struct tun_nat *nat, struct tun_nat_stats *st)
{
	*st = nat->st;
}
