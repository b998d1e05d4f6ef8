/* Unit tests of mqtt/topic: PREFIX/AGENT_ID/LOCAL_ID/LABEL/PROTOCOL/SRC/DST. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mqtt/topic.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct parse_case {
	const char *prefix;
	const char *topic;
	int ret;
	const char *agent, *local;
	enum mqtt_label label;
	enum mqtt_proto proto;
	const char *src, *dst;
};

static const struct parse_case parse_cases[] = {
	{ "net4mqtt", "net4mqtt/agent-0/local-0/i/tcp/1.2.3.4:5000/10.0.0.1:80", 0, "agent-0",
		"local-0", MQTT_LABEL_I, MQTT_PROTO_TCP, "1.2.3.4:5000", "10.0.0.1:80" },
	{ "net4mqtt", "net4mqtt/a/l/o/udp/127.0.0.1:4444/127.0.0.1:4433", 0, "a", "l", MQTT_LABEL_O,
		MQTT_PROTO_UDP, "127.0.0.1:4444", "127.0.0.1:4433" },
	{ "net4mqtt", "net4mqtt/a/l/i/kcp/1.2.3.4:1/-", 0, "a", "l", MQTT_LABEL_I, MQTT_PROTO_KCP,
		"1.2.3.4:1", "-" },
	/* ours, between our own peers: the same streams in frames */
	{ "net4mqtt", "net4mqtt/a/l/o/tcpx/1.2.3.4:1/-", 0, "a", "l", MQTT_LABEL_O, MQTT_PROTO_TCPX,
		"1.2.3.4:1", "-" },
	{ "net4mqtt", "net4mqtt/a/l/i/kcpx/1.2.3.4:1/-", 0, "a", "l", MQTT_LABEL_I, MQTT_PROTO_KCPX,
		"1.2.3.4:1", "-" },
	/* ours: an echo's identifier where a port would be, the destination's port 0 */
	{ "net4mqtt", "net4mqtt/a/l/o/icmp/1.2.3.4:4660/10.20.0.2:0", 0, "a", "l", MQTT_LABEL_O,
		MQTT_PROTO_ICMP, "1.2.3.4:4660", "10.20.0.2:0" },
	/* ours: an encrypted flow, its flow id where the source would be */
	{ "net4mqtt", "net4mqtt/a/l/i/seal/0123456789abcdef/-", 0, "a", "l", MQTT_LABEL_I,
		MQTT_PROTO_SEAL, "0123456789abcdef", "-" },
	{ "net4mqtt", "net4mqtt/a/l/i/tcp/[::1]:5000/[2001:db8::1]:443", 0, "a", "l", MQTT_LABEL_I,
		MQTT_PROTO_TCP, "[::1]:5000", "[2001:db8::1]:443" },
	{ "net4mqtt", "net4mqtt/a/l/i/tcp/1.2.3.4:5/example.org:443", 0, "a", "l", MQTT_LABEL_I,
		MQTT_PROTO_TCP, "1.2.3.4:5", "example.org:443" },
	/* missing trailing levels read as "-" */
	{ "net4mqtt", "net4mqtt/a/b/v", 0, "a", "b", MQTT_LABEL_V, MQTT_PROTO_NONE, "-", "-" },
	{ "net4mqtt", "net4mqtt/a/b/i/tcp", 0, "a", "b", MQTT_LABEL_I, MQTT_PROTO_TCP, "-", "-" },
	{ "net4mqtt", "net4mqtt/a/b/o/udp/1.2.3.4:5", 0, "a", "b", MQTT_LABEL_O, MQTT_PROTO_UDP,
		"1.2.3.4:5", "-" },
	/* status and user data: the protocol level is not looked at */
	{ "net4mqtt", "net4mqtt/agent-a/-/v/-", 0, "agent-a", "-", MQTT_LABEL_V, MQTT_PROTO_NONE,
		"-", "-" },
	{ "net4mqtt", "net4mqtt/-/local-a/v/-", 0, "-", "local-a", MQTT_LABEL_V, MQTT_PROTO_NONE,
		"-", "-" },
	{ "net4mqtt", "net4mqtt/a/b/v/tcp/s/d", 0, "a", "b", MQTT_LABEL_V, MQTT_PROTO_NONE, "s",
		"d" },
	{ "net4mqtt", "net4mqtt/a/b/x/anything", 0, "a", "b", MQTT_LABEL_X, MQTT_PROTO_NONE, "-",
		"-" },
	/* multi-level prefix */
	{ "site/a/net4mqtt", "site/a/net4mqtt/ag/lo/o/tcp/1.2.3.4:1/5.6.7.8:2", 0, "ag", "lo",
		MQTT_LABEL_O, MQTT_PROTO_TCP, "1.2.3.4:1", "5.6.7.8:2" },
	{ "site/a/net4mqtt", "site/a/net4mqtt/ag/-/v/-", 0, "ag", "-", MQTT_LABEL_V,
		MQTT_PROTO_NONE, "-", "-" },
	/* not under the prefix */
	{ .prefix = "net4mqtt", .topic = "other/a/b/v", .ret = -ENOENT },
	{ .prefix = "net4mqtt", .topic = "net4mqttx/a/b/v", .ret = -ENOENT },
	{ .prefix = "net4mqtt", .topic = "net4mqt/a/b/v", .ret = -ENOENT },
	{ .prefix = "net4mqtt", .topic = "/net4mqtt/a/b/v", .ret = -ENOENT },
	{ .prefix = "net4mqtt", .topic = "NET4MQTT/a/b/v", .ret = -ENOENT },
	{ .prefix = "net4mqtt", .topic = "net4mqtt", .ret = -ENOENT }, /* the prefix only */
	{ .prefix = "net4mqtt", .topic = "", .ret = -ENOENT },
	{ .prefix = "site/a/net4mqtt", .topic = "site/b/net4mqtt/a/b/v", .ret = -ENOENT },
	{ .prefix = "site/a/net4mqtt", .topic = "net4mqtt/a/b/v", .ret = -ENOENT },
	{ .prefix = "site/a/net4mqtt", .topic = "site/a/net4mqtt", .ret = -ENOENT },
	/* bad input */
	{ .prefix = "net4mqtt", .topic = "net4mqtt/", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a", .ret = -EINVAL },   /* label "-" */
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b", .ret = -EINVAL }, /* label "-" */
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/i/tcp/s/d/e", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/v/-/-/-/-/-", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a//i/tcp/s/d", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt//b/v", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/i/tcp//d", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/v/", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/i/tcp/s/d/", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/i/tcp/s/", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/z/tcp/s/d", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/I/tcp/s/d", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/io/tcp/s/d", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/-/tcp/s/d", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/i/sctp/s/d", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/o/TCP/s/d", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/i/-/s/d", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/o/-", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/i", .ret = -EINVAL }, /* protocol "-" */
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a+/b/v", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b/i/tcp/s/d#", .ret = -EINVAL },
	{ .prefix = "net4mqtt", .topic = "net4mqtt/a/b\n/v", .ret = -EINVAL },
};

static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct mqtt_topic t;

		memset(&t, 0x55, sizeof(t));
		int ret = mqtt_topic_parse(c->prefix, c->topic, &t);
		if (ret != c->ret)
			print_error("mqtt_topic_parse(\"%s\", \"%s\") = %d\n", c->prefix, c->topic,
				ret);
		assert_int_equal(ret, c->ret);
		if (ret)
			continue;
		assert_string_equal(t.agent, c->agent);
		assert_string_equal(t.local, c->local);
		assert_int_equal(t.label, c->label);
		assert_int_equal(t.proto, c->proto);
		assert_string_equal(t.src, c->src);
		assert_string_equal(t.dst, c->dst);
	}
}

/* A level must fit MQTT_LEVEL_MAX with its NUL; 300 characters is bad input, not an overflow. */
static void test_parse_long_level(void **state)
{
	char topic[MQTT_TOPIC_MAX], level[400];
	struct mqtt_topic t;
	static const size_t lens[] = { MQTT_LEVEL_MAX - 1, MQTT_LEVEL_MAX, 300 };
	/* the long level goes into each of the six positions in turn */
	static const char *const fmts[] = {
		"net4mqtt/%s/l/i/tcp/s/d",
		"net4mqtt/a/%s/i/tcp/s/d",
		"net4mqtt/a/l/%s/tcp/s/d",
		"net4mqtt/a/l/i/%s/s/d",
		"net4mqtt/a/l/i/tcp/%s/d",
		"net4mqtt/a/l/i/tcp/s/%s",
	};

	(void)state;
	for (size_t f = 0; f < N_ELEMS(fmts); f++) {
		for (size_t l = 0; l < N_ELEMS(lens); l++) {
			memset(level, 'x', lens[l]);
			level[lens[l]] = '\0';
			snprintf(topic, sizeof(topic), fmts[f], level);
			int ret = mqtt_topic_parse("net4mqtt", topic, &t);
			/* label and protocol levels are never valid when long */
			int want = lens[l] < MQTT_LEVEL_MAX && (f != 2 && f != 3) ? 0 : -EINVAL;
			if (ret != want)
				print_error("level %zu of %zu chars: %d\n", f, lens[l], ret);
			assert_int_equal(ret, want);
		}
	}
	memset(level, 'x', MQTT_LEVEL_MAX - 1);
	level[MQTT_LEVEL_MAX - 1] = '\0';
	snprintf(topic, sizeof(topic), "net4mqtt/a/l/i/tcp/s/%s", level);
	assert_int_equal(mqtt_topic_parse("net4mqtt", topic, &t), 0);
	assert_string_equal(t.dst, level);
}

struct build_case {
	const char *prefix;
	const char *agent, *local;
	enum mqtt_label label;
	enum mqtt_proto proto;
	const char *src, *dst;
	const char *want;
};

static const struct build_case build_cases[] = {
	{ "net4mqtt", "agent-0", "local-0", MQTT_LABEL_I, MQTT_PROTO_TCP, "1.2.3.4:5000",
		"10.0.0.1:80", "net4mqtt/agent-0/local-0/i/tcp/1.2.3.4:5000/10.0.0.1:80" },
	{ "net4mqtt", "a", "l", MQTT_LABEL_O, MQTT_PROTO_UDP, "[::1]:5000", "[2001:db8::1]:53",
		"net4mqtt/a/l/o/udp/[::1]:5000/[2001:db8::1]:53" },
	{ "net4mqtt", "a", "l", MQTT_LABEL_I, MQTT_PROTO_KCP, "1.2.3.4:1", "-",
		"net4mqtt/a/l/i/kcp/1.2.3.4:1/-" },
	{ "net4mqtt", "a", "l", MQTT_LABEL_I, MQTT_PROTO_TCP, "1.2.3.4:1", "example.org:443",
		"net4mqtt/a/l/i/tcp/1.2.3.4:1/example.org:443" },
	{ "site/a/net4mqtt", "ag", "lo", MQTT_LABEL_O, MQTT_PROTO_TCP, "1.2.3.4:1", "5.6.7.8:2",
		"site/a/net4mqtt/ag/lo/o/tcp/1.2.3.4:1/5.6.7.8:2" },
	{ "net4mqtt", "a", "-", MQTT_LABEL_V, MQTT_PROTO_NONE, "-", "-", "net4mqtt/a/-/v/-/-/-" },
	{ "p", "a", "l", MQTT_LABEL_X, MQTT_PROTO_NONE, "s", "d", "p/a/l/x/-/s/d" },
};

static void test_build_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(build_cases); i++) {
		const struct build_case *c = &build_cases[i];
		char buf[MQTT_TOPIC_MAX];
		struct mqtt_topic t;

		int n = mqtt_topic_build(buf, sizeof(buf), c->prefix, c->agent, c->local, c->label,
			c->proto, c->src, c->dst);
		assert_int_equal(n, strlen(c->want));
		assert_string_equal(buf, c->want);
		assert_int_equal(mqtt_topic_parse(c->prefix, buf, &t), 0);
		assert_string_equal(t.agent, c->agent);
		assert_string_equal(t.local, c->local);
		assert_int_equal(t.label, c->label);
		assert_int_equal(t.proto, c->proto);
		assert_string_equal(t.src, c->src);
		assert_string_equal(t.dst, c->dst);
	}
}

static const char *const bad_levels[] = { "", "a/b", "/", "a+", "+", "#", "a#b", "a\tb", "\n" };

/* Each bad level is rejected in each of the four caller-supplied positions. */
static void test_build_rejects(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad_levels); i++) {
		for (int pos = 0; pos < 4; pos++) {
			const char *lv[4] = { "a", "l", "1.2.3.4:1", "5.6.7.8:2" };
			char buf[MQTT_TOPIC_MAX];

			lv[pos] = bad_levels[i];
			int ret = mqtt_topic_build(buf, sizeof(buf), "net4mqtt", lv[0], lv[1],
				MQTT_LABEL_I, MQTT_PROTO_TCP, lv[2], lv[3]);
			if (ret != -EINVAL)
				print_error("level \"%s\" at %d: %d\n", bad_levels[i], pos, ret);
			assert_int_equal(ret, -EINVAL);
		}
	}
}

static int build_fixed(char *buf, size_t len)
{
	return mqtt_topic_build(buf, len, "net4mqtt", "a", "l", MQTT_LABEL_I, MQTT_PROTO_TCP,
		"1.2.3.4:1", "5.6.7.8:2");
}

static void test_build_too_long(void **state)
{
	static const char want[] = "net4mqtt/a/l/i/tcp/1.2.3.4:1/5.6.7.8:2";
	char buf[sizeof(want)];

	(void)state;
	assert_int_equal(build_fixed(buf, 8), -ENAMETOOLONG);
	assert_int_equal(build_fixed(buf, 0), -ENAMETOOLONG);
	/* no room for the NUL */
	assert_int_equal(build_fixed(buf, sizeof(want) - 1), -ENAMETOOLONG);
	/* exactly enough */
	assert_int_equal(build_fixed(buf, sizeof(want)), sizeof(want) - 1);
	assert_string_equal(buf, want);
}

static void test_status_topic(void **state)
{
	char buf[MQTT_TOPIC_MAX];
	struct mqtt_topic t;

	(void)state;
	assert_int_equal(mqtt_topic_status(buf, sizeof(buf), "net4mqtt", "agent-a", "-"),
		strlen("net4mqtt/agent-a/-/v/-"));
	assert_string_equal(buf, "net4mqtt/agent-a/-/v/-");
	assert_int_equal(mqtt_topic_parse("net4mqtt", buf, &t), 0);
	assert_int_equal(t.label, MQTT_LABEL_V);
	assert_string_equal(t.agent, "agent-a");
	assert_string_equal(t.local, "-");

	assert_int_equal(mqtt_topic_status(buf, sizeof(buf), "site/a/net4mqtt", "-", "local-b"),
		strlen("site/a/net4mqtt/-/local-b/v/-"));
	assert_string_equal(buf, "site/a/net4mqtt/-/local-b/v/-");

	assert_int_equal(mqtt_topic_status(buf, sizeof(buf), "net4mqtt", "", "-"), -EINVAL);
	assert_int_equal(mqtt_topic_status(buf, sizeof(buf), "net4mqtt", "-", "a/b"), -EINVAL);
	assert_int_equal(mqtt_topic_status(buf, sizeof(buf), "net4mqtt", "+", "-"), -EINVAL);
	assert_int_equal(mqtt_topic_status(buf, sizeof(buf), "net4mqtt", "-", "#"), -EINVAL);
	assert_int_equal(mqtt_topic_status(buf, 10, "net4mqtt", "agent-a", "-"), -ENAMETOOLONG);
}

struct level_case {
	const char *s;
	int valid;
};

static const struct level_case level_cases[] = {
	{ "-", 1 },
	{ "a", 1 },
	{ "agent-7", 1 },
	{ "[::1]:80", 1 },
	{ "example.org:443", 1 },
	{ "with space", 1 },
	{ "", 0 },
	{ "a/b", 0 },
	{ "/", 0 },
	{ "+", 0 },
	{ "a+", 0 },
	{ "#", 0 },
	{ "a#", 0 },
	{ "a\tb", 0 },
	{ "\x01", 0 },
};

static void test_level_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(level_cases); i++) {
		int ret = mqtt_level_valid(level_cases[i].s);
		if (ret != level_cases[i].valid)
			print_error("mqtt_level_valid(\"%s\") = %d\n", level_cases[i].s, ret);
		assert_int_equal(ret, level_cases[i].valid);
	}
}

static void test_level_at(void **state)
{
	const char *key = "agent-1/laptop/tcp/127.0.0.1:5000/10.0.0.2:80";
	size_t len = 99;

	(void)state;
	assert_ptr_equal(mqtt_level_at(key, 0, &len), key);
	assert_int_equal(len, 7);
	assert_ptr_equal(mqtt_level_at(key, 2, &len), key + 15);
	assert_int_equal(len, 3);
	assert_string_equal(mqtt_level_at(key, 4, &len), "10.0.0.2:80");
	assert_int_equal(len, 11);
	assert_null(mqtt_level_at(key, 5, &len));
	assert_non_null(mqtt_level_at("a//b", 1, &len));
	assert_int_equal(len, 0); /* an empty level is a level */
	assert_non_null(mqtt_level_at("a/", 1, &len));
	assert_int_equal(len, 0);
	assert_non_null(mqtt_level_at("", 0, &len));
	assert_int_equal(len, 0);
	assert_null(mqtt_level_at("", 1, &len));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(mqtt_label_name(MQTT_LABEL_I), "i");
	assert_string_equal(mqtt_label_name(MQTT_LABEL_O), "o");
	assert_string_equal(mqtt_label_name(MQTT_LABEL_V), "v");
	assert_string_equal(mqtt_label_name(MQTT_LABEL_X), "x");
	assert_string_equal(mqtt_label_name((enum mqtt_label)42), "?");
	assert_string_equal(mqtt_proto_name(MQTT_PROTO_NONE), "-");
	assert_string_equal(mqtt_proto_name(MQTT_PROTO_TCP), "tcp");
	assert_string_equal(mqtt_proto_name(MQTT_PROTO_UDP), "udp");
	assert_string_equal(mqtt_proto_name(MQTT_PROTO_KCP), "kcp");
	assert_string_equal(mqtt_proto_name(MQTT_PROTO_TCPX), "tcpx");
	assert_string_equal(mqtt_proto_name(MQTT_PROTO_KCPX), "kcpx");
	assert_string_equal(mqtt_proto_name(MQTT_PROTO_ICMP), "icmp");
	assert_string_equal(mqtt_proto_name(MQTT_PROTO_SEAL), "seal");
	assert_string_equal(mqtt_proto_name((enum mqtt_proto) - 1), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_long_level),
		cmocka_unit_test(test_build_round_trip),
		cmocka_unit_test(test_build_rejects),
		cmocka_unit_test(test_build_too_long),
		cmocka_unit_test(test_status_topic),
		cmocka_unit_test(test_level_valid),
		cmocka_unit_test(test_level_at),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
