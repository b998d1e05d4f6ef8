/* libFuzzer target of tun/nat: operations from the input on a small table, against a shadow. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tun/nat.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/*
 * The input: CFG_LEN bytes of configuration, then operations of OP_LEN bytes:
 *   op[0]  bits 0-2: enum op; bit 3: pass a stale time; bits 4-7: ms to advance first
 *   op[1]  the argument: tuple, port, budget or time
 *   op[2]  TCP flags
 */
#define CFG_LEN 8
#define OP_LEN 3
#define MAX_PORTS 16
#define N_TUPLES 8
#define START_MS 1000

enum op {
	OP_FORWARD,
	OP_FORWARD2,
	OP_SYN,
	OP_REVERSE,
	OP_LOOKUP,
	OP_EXPIRE,
	OP_JUMP,
	OP_BAD_FAMILY,
};

/* What the shadow knows of the entry holding one NAT port. */
struct shadow {
	bool valid; /* an entry was given this port and is not known to be gone */
	int tuple;
	uint64_t last; /* its last packet */
	bool rst;
	uint8_t fin; /* 1: the client's, 2: the listener's */
};

struct model {
	struct tun_nat *nat;
	struct tun_nat_config cfg;
	uint32_t nports, limit; /* limit: the entries the table may hold */
	uint64_t wall;		/* the test's clock, from the operations */
	uint64_t now;		/* the table's: the latest time it was told */
	struct shadow port[MAX_PORTS];
	uint16_t cur[N_TUPLES]; /* the port of a tuple's newest entry; 0: none */
	uint64_t created, refused, missed;
	struct tun_nat_tuple tuples[N_TUPLES];
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Tuples i and i ^ 4 hold the same bytes in the two families. */
static void make_tuples(struct model *m, const uint8_t *cfg)
{
	for (int i = 0; i < N_TUPLES; i++) {
		struct tun_nat_tuple *t = &m->tuples[i];

		memset(t, 0, sizeof(*t));
		t->family = i & 4 ? AF_INET6 : AF_INET;
		t->src[0] = 10, t->src[3] = cfg[7];
		t->dst[0] = 93, t->dst[3] = (uint8_t)(i & 1);
		t->sport = (uint16_t)(40000 + (i & 3));
		t->dport = 443;
	}
}

static bool same_tuple(const struct tun_nat_tuple *a, const struct tun_nat_tuple *b)
{
	size_t alen = a->family == AF_INET6 ? 16 : 4;

	return a->family == b->family && !memcmp(a->src, b->src, alen) &&
	       !memcmp(a->dst, b->dst, alen) && a->sport == b->sport && a->dport == b->dport;
}

static bool closed(const struct shadow *s)
{
	return s->rst || s->fin == 3;
}

/* The timeout of an entry lies in [lo, hi]: nat.h names the closed state exactly;
 * half-open or established depends on the handshake. */
static void timeout_bounds(
	const struct model *m, const struct shadow *s, uint64_t *lo, uint64_t *hi)
{
	uint32_t a = m->cfg.syn_timeout_ms, b = m->cfg.idle_timeout_ms;

	if (closed(s)) {
		*lo = *hi = m->cfg.close_timeout_ms;
		return;
	}
	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
}

static bool live_sure(const struct model *m, const struct shadow *s, uint64_t t)
{
	uint64_t lo, hi;

	if (!s->valid)
		return false;
	timeout_bounds(m, s, &lo, &hi);
	return t < s->last + lo;
}

static bool dead_sure(const struct model *m, const struct shadow *s, uint64_t t)
{
	uint64_t lo, hi;

	if (!s->valid)
		return true;
	timeout_bounds(m, s, &lo, &hi);
	return t >= s->last + hi;
}

static struct shadow *shadow_of(struct model *m, uint16_t port)
{
	if (port < m->cfg.port_min || port > m->cfg.port_max)
		return NULL;
	return &m->port[port - m->cfg.port_min];
}

static uint32_t count(const struct model *m, bool sure)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < m->nports; i++) {
		const struct shadow *s = &m->port[i];

		n += sure ? live_sure(m, s, m->now) : !dead_sure(m, s, m->now);
	}
	return n;
}

static void track(struct shadow *s, uint8_t flags, uint8_t dir, uint64_t now)
{
	if (flags & TUN_NAT_RST)
		s->rst = true;
	if (flags & TUN_NAT_FIN)
		s->fin |= dir;
	s->last = now;
}

/* An entry is gone from the table: its port may be given out again. */
static void forget(struct model *m, uint16_t port)
{
	struct shadow *s = shadow_of(m, port);

	if (s->valid && m->cur[s->tuple] == port)
		m->cur[s->tuple] = 0;
	s->valid = false;
}

static void check_stats(const struct model *m)
{
	struct tun_nat_stats st;

	tun_nat_stats(m->nat, &st);
	check(st.created == m->created && st.refused == m->refused && st.missed == m->missed);
	check(st.expired <= st.created && st.entries == st.created - st.expired);
	check(st.entries <= m->limit && st.entries >= count(m, true));
}

static void check_lookup_is(const struct model *m, int tuple, uint16_t port)
{
	struct tun_nat_tuple t;
	const struct tun_nat_tuple *want = &m->tuples[tuple];
	int other = want->family == AF_INET ? AF_INET6 : AF_INET;

	check(tun_nat_lookup(m->nat, want->family, port, m->now, &t) == 0);
	check(same_tuple(&t, want));
	check(tun_nat_lookup(m->nat, other, port, m->now, &t) == -ENOENT);
}

/* A new entry got port q. */
static void check_created(
	struct model *m, int tuple, uint16_t q, uint8_t flags, const struct tun_nat_stats *before)
{
	struct shadow *s = shadow_of(m, q);
	struct tun_nat_stats st;

	check(s);
	check(!live_sure(m, s, m->now)); /* a port is reused only after its entry expired */
	tun_nat_stats(m->nat, &st);
	if (!st.expired) /* nothing freed yet: the ports in order */
		check(q == m->cfg.port_min + before->created);
	if (s->valid)
		forget(m, q);
	for (int i = 0; i < N_TUPLES; i++)
		if (m->cur[i] == q)
			m->cur[i] = 0;
	*s = (struct shadow){ .valid = true, .tuple = tuple };
	track(s, flags, 1, m->now);
	m->cur[tuple] = q;
	m->created++;
}

/* A time earlier than one seen before counts as that one. */
static uint64_t tell(struct model *m, uint64_t at)
{
	if (at > m->now)
		m->now = at;
	return at;
}

static void op_forward(struct model *m, int tuple, uint8_t flags, uint64_t at)
{
	bool opens =
		(flags & (TUN_NAT_SYN | TUN_NAT_ACK | TUN_NAT_RST | TUN_NAT_FIN)) == TUN_NAT_SYN;
	uint16_t p = m->cur[tuple], q = 0;
	struct shadow *s = p ? shadow_of(m, p) : NULL;
	struct tun_nat_stats before, st;
	bool live, dead, was_closed = s && closed(s);
	uint32_t possible;
	int err;

	tell(m, at);
	live = s && live_sure(m, s, m->now);
	dead = !s || dead_sure(m, s, m->now);
	possible = count(m, false);
	tun_nat_stats(m->nat, &before);
	err = tun_nat_forward(m->nat, &m->tuples[tuple], flags, at, &q);
	tun_nat_stats(m->nat, &st);
	check(err == 0 || err == -ENOENT || err == -ENOSPC);
	if (err == -ENOENT) {
		check(!opens && !live);
		if (s)
			forget(m, p);
		m->missed++;
	} else if (err == -ENOSPC) {
		check(opens && (!live || was_closed));
		/* refused only when the table is full of live entries */
		check(possible >= m->limit);
		if (s && (!was_closed || dead))
			forget(m, p); /* not live then: it was removed on the way */
		m->refused++;
	} else if (st.created == before.created) {
		check(p && q == p && !dead && !(opens && was_closed));
		track(s, flags, 1, m->now);
	} else {
		check(opens && (!live || was_closed));
		if (s && (!was_closed || dead))
			forget(m, p);
		check_created(m, tuple, q, flags, &before);
	}
	if (!err) {
		check(q >= m->cfg.port_min && q <= m->cfg.port_max);
		check_lookup_is(m, tuple, q);
	}
	check_stats(m);
}

/* A port around the range: from one below to one above. */
static uint16_t pick_port(const struct model *m, uint8_t arg)
{
	return (uint16_t)(m->cfg.port_min - 1 + (arg & 0x7f) % (m->nports + 2));
}

/* A reverse (refresh) or a lookup, which may look ahead: it is told a time
 * without moving the table's clock. */
static void op_reverse(struct model *m, uint8_t arg, uint8_t flags, uint64_t at, bool refresh)
{
	int family = arg & 0x80 ? AF_INET6 : AF_INET;
	uint16_t port = pick_port(m, arg);
	struct shadow *s = shadow_of(m, port);
	uint64_t t = refresh ? tell(m, at) : at;
	bool mine = s && s->valid && m->tuples[s->tuple].family == family;
	bool live, dead;
	struct tun_nat_tuple got;
	int err;

	if (t < m->now)
		t = m->now;
	live = mine && live_sure(m, s, t);
	dead = !mine || dead_sure(m, s, t);
	if (refresh)
		err = tun_nat_reverse(m->nat, family, port, flags, at, &got);
	else
		err = tun_nat_lookup(m->nat, family, port, at, &got);
	check(err == 0 || err == -ENOENT);
	if (err) {
		check(!live);
		if (mine && t == m->now) /* expired now, not only at a later time */
			forget(m, port);
		m->missed += refresh;
	} else {
		check(!dead && same_tuple(&got, &m->tuples[s->tuple]));
		if (refresh)
			track(s, flags, 2, m->now);
	}
	check_stats(m);
}

static void op_expire(struct model *m, uint8_t arg, uint64_t at)
{
	unsigned int budget = arg & 3 ? arg & 3u : UINT_MAX;
	struct tun_nat_stats before, st;
	uint64_t next = 0, hi = m->cfg.syn_timeout_ms;
	int n;

	if (m->cfg.idle_timeout_ms > hi)
		hi = m->cfg.idle_timeout_ms;
	if (m->cfg.close_timeout_ms > hi)
		hi = m->cfg.close_timeout_ms;
	tun_nat_stats(m->nat, &before);
	n = tun_nat_expire(m->nat, tell(m, at), budget, &next);
	tun_nat_stats(m->nat, &st);
	check(n >= 0 && (unsigned int)n <= budget && (uint64_t)n <= before.entries);
	check(st.entries == before.entries - (uint64_t)n);
	check((next == TUN_NAT_NEVER) == (st.entries == 0));
	if (next != TUN_NAT_NEVER)
		check(next >= m->now && next <= m->now + hi);
	if (next == m->now)
		check((unsigned int)n == budget); /* expired ones left over */
	if ((unsigned int)n < budget) {
		/* everything expired is gone: what is left is live */
		check(st.entries <= count(m, false));
		for (uint32_t i = 0; i < m->nports; i++)
			if (m->port[i].valid && dead_sure(m, &m->port[i], m->now))
				forget(m, (uint16_t)(m->cfg.port_min + i));
	}
	check_stats(m);
}

/* Configurations tun_nat_new must refuse. */
static void check_bad_configs(void)
{
	struct tun_nat_config c;
	struct tun_nat *nat = NULL;

	tun_nat_config_default(&c);
	c.port_min = 0;
	check(tun_nat_new(&nat, &c) == -EINVAL);
	tun_nat_config_default(&c);
	c.port_min = (uint16_t)(c.port_max + 1);
	check(tun_nat_new(&nat, &c) == -EINVAL);
	tun_nat_config_default(&c);
	c.close_timeout_ms = 0;
	check(tun_nat_new(&nat, &c) == -EINVAL && !nat);
}

static void setup(struct model *m, const uint8_t *cfg)
{
	memset(m, 0, sizeof(*m));
	tun_nat_config_default(&m->cfg);
	m->nports = 1 + cfg[2] % MAX_PORTS;
	m->cfg.port_min = (uint16_t)(1 + rd16(cfg) % (65536 - MAX_PORTS - 1));
	m->cfg.port_max = (uint16_t)(m->cfg.port_min + m->nports - 1);
	m->cfg.max_entries = cfg[3] % (m->nports + 3);
	m->limit = m->cfg.max_entries && m->cfg.max_entries < m->nports ? m->cfg.max_entries
									: m->nports;
	m->cfg.syn_timeout_ms = 1 + cfg[4] % 64;
	m->cfg.idle_timeout_ms = 1 + cfg[5] % 64;
	m->cfg.close_timeout_ms = 1 + cfg[6] % 64;
	memset(m->cfg.hash_key, cfg[7], sizeof(m->cfg.hash_key));
	m->wall = START_MS;
	m->now = 0; /* a new table has seen no time */
	make_tuples(m, cfg);
	check(tun_nat_new(&m->nat, &m->cfg) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model *m;
	uint8_t *in;

	if (size < CFG_LEN)
		return 0;
	in = malloc(size); /* an exact copy, read op by op */
	m = malloc(sizeof(*m));
	check(in && m);
	memcpy(in, data, size);
	check_bad_configs();
	setup(m, in);
	for (size_t off = CFG_LEN; off + OP_LEN <= size; off += OP_LEN) {
		const uint8_t *op = in + off;
		uint8_t arg = op[1], flags = op[2];
		uint64_t at;
		uint16_t port;

		m->wall += op[0] >> 4;
		at = op[0] & 8 ? m->wall - (arg & 7) : m->wall;
		switch ((enum op)(op[0] & 7)) {
		case OP_FORWARD:
		case OP_FORWARD2:
			op_forward(m, arg % N_TUPLES, flags, at);
			break;
		case OP_SYN:
			op_forward(m, arg % N_TUPLES, TUN_NAT_SYN, at);
			break;
		case OP_REVERSE:
			op_reverse(m, arg, flags, at, true);
			break;
		case OP_LOOKUP:
			op_reverse(m, arg, flags, at + (flags & 0x0f), false);
			break;
		case OP_EXPIRE:
			op_expire(m, arg, at);
			break;
		case OP_JUMP:
			m->wall += (uint64_t)arg * 4;
			break;
		case OP_BAD_FAMILY: {
			struct tun_nat_tuple t = m->tuples[arg % N_TUPLES];

			t.family = AF_UNIX;
			check(tun_nat_forward(m->nat, &t, flags, at, &port) == -EAFNOSUPPORT);
			check_stats(m);
			break;
		}
		}
	}
	tun_nat_free(m->nat);
	tun_nat_free(NULL);
	free(m);
	free(in);
	return 0;
}
