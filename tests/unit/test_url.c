/* Unit tests of mqtt/url: the broker URL mqtt[s]://[user[:password]@]host[:port]/PREFIX?query. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "mqtt/url.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* What a URL must parse to; NULL strings mean "", keepalive 0 means the default of 30. */
struct url_want {
	bool tls;
	const char *host;
	uint16_t port;
	const char *user;
	const char *password;
	bool has_password;
	const char *prefix;
	const char *client_id;
	const char *cafile;
	const char *capath;
	const char *cert;
	const char *key;
	bool insecure;
	const char *tls_version;
	const char *sni;
	int keepalive;
};

struct url_case {
	const char *in;
	struct url_want want;
};

static const struct url_case good_cases[] = {
	/* defaults */
	{ "mqtt://localhost", { .host = "localhost", .port = 1883, .prefix = "net4mqtt" } },
	{ "mqtt://localhost/", { .host = "localhost", .port = 1883, .prefix = "net4mqtt" } },
	{ "mqtt://localhost/net4mqtt/",
		{ .host = "localhost", .port = 1883, .prefix = "net4mqtt" } },
	{ "mqtt://localhost?client_id=c1",
		{ .host = "localhost", .port = 1883, .prefix = "net4mqtt", .client_id = "c1" } },
	{ "mqtts://broker.example.org",
		{ .tls = true, .host = "broker.example.org", .port = 8883, .prefix = "net4mqtt" } },
	{ "mqtts://broker.example.org:1884/x",
		{ .tls = true, .host = "broker.example.org", .port = 1884, .prefix = "x" } },
	{ "mqtt://10.0.0.1:1/p", { .host = "10.0.0.1", .port = 1, .prefix = "p" } },
	{ "mqtt://h:65535/p", { .host = "h", .port = 65535, .prefix = "p" } },
	/* prefix */
	{ "mqtt://h/custom", { .host = "h", .port = 1883, .prefix = "custom" } },
	{ "mqtt://h/custom/", { .host = "h", .port = 1883, .prefix = "custom" } },
	{ "mqtt://h/site/a/net4mqtt", { .host = "h", .port = 1883, .prefix = "site/a/net4mqtt" } },
	{ "mqtt://h/site/a/net4mqtt/", { .host = "h", .port = 1883, .prefix = "site/a/net4mqtt" } },
	{ "mqtt://h/a%20b", { .host = "h", .port = 1883, .prefix = "a b" } },
	/* user and password */
	{ "mqtt://alice@h", { .host = "h", .port = 1883, .user = "alice", .prefix = "net4mqtt" } },
	{ "mqtt://alice:s3cret@h:1884/p", { .host = "h",
						  .port = 1884,
						  .user = "alice",
						  .password = "s3cret",
						  .has_password = true,
						  .prefix = "p" } },
	{ "mqtt://alice:@h", { .host = "h",
				     .port = 1883,
				     .user = "alice",
				     .password = "",
				     .has_password = true,
				     .prefix = "net4mqtt" } },
	{ "mqtt://al%40ice:p%3Aw%2Fd%25%3f@h/p", { .host = "h",
							 .port = 1883,
							 .user = "al@ice",
							 .password = "p:w/d%?",
							 .has_password = true,
							 .prefix = "p" } },
	{ "mqtt://alice:pass:word@h", { .host = "h",
					      .port = 1883,
					      .user = "alice",
					      .password = "pass:word",
					      .has_password = true,
					      .prefix = "net4mqtt" } },
	/* query */
	{ "mqtt://h/p?client_id=abc",
		{ .host = "h", .port = 1883, .prefix = "p", .client_id = "abc" } },
	{ "mqtt://h/?client_id=abc",
		{ .host = "h", .port = 1883, .prefix = "net4mqtt", .client_id = "abc" } },
	{ "mqtt://h/p?client_id=", { .host = "h", .port = 1883, .prefix = "p" } },
	{ "mqtt://h/p?client_id", { .host = "h", .port = 1883, .prefix = "p" } },
	{ "mqtt://h/p?", { .host = "h", .port = 1883, .prefix = "p" } },
	{ "mqtt://h/p?client_id=a%2Db", /* %-decoded */
		{ .host = "h", .port = 1883, .prefix = "p", .client_id = "a-b" } },
	{ "mqtt://h/p?foo=bar&client_id=x&&clean_session=true",
		{ .host = "h", .port = 1883, .prefix = "p", .client_id = "x" } },
	{ "mqtts://h/p?cafile=/etc/ca.pem&cert=/c.pem&key=/k%20x.pem&capath=/etc/ssl",
		{ .tls = true,
			.host = "h",
			.port = 8883,
			.prefix = "p",
			.cafile = "/etc/ca.pem",
			.cert = "/c.pem",
			.key = "/k x.pem",
			.capath = "/etc/ssl" } },
	{ "mqtts://h?insecure=1", { .tls = true,
					  .host = "h",
					  .port = 8883,
					  .prefix = "net4mqtt",
					  .insecure = true } },
	{ "mqtts://10.0.0.1/p?tls_version=tlsv1.3&sni=broker.example.org",
		{ .tls = true,
			.host = "10.0.0.1",
			.port = 8883,
			.prefix = "p",
			.tls_version = "tlsv1.3",
			.sni = "broker.example.org" } },
	{ "mqtts://h?insecure=0",
		{ .tls = true, .host = "h", .port = 8883, .prefix = "net4mqtt" } },
	{ "mqtt://h?keepalive=60",
		{ .host = "h", .port = 1883, .prefix = "net4mqtt", .keepalive = 60 } },
	{ "mqtt://h?keep_alive_secs=5",
		{ .host = "h", .port = 1883, .prefix = "net4mqtt", .keepalive = 5 } },
	/* IPv6 */
	{ "mqtt://[::1]:1884/p", { .host = "::1", .port = 1884, .prefix = "p" } },
	{ "mqtt://[::1]", { .host = "::1", .port = 1883, .prefix = "net4mqtt" } },
	{ "mqtts://u:pw@[2001:db8::1]/p?client_id=z", { .tls = true,
							      .host = "2001:db8::1",
							      .port = 8883,
							      .user = "u",
							      .password = "pw",
							      .has_password = true,
							      .prefix = "p",
							      .client_id = "z" } },
};

static const char *str(const char *s)
{
	return s ? s : "";
}

static bool url_matches(const struct mqtt_url *u, const struct url_want *w)
{
	return u->tls == w->tls && !strcmp(u->host, str(w->host)) && u->port == w->port &&
	       !strcmp(u->user, str(w->user)) && !strcmp(u->password, str(w->password)) &&
	       u->has_password == w->has_password && !strcmp(u->prefix, str(w->prefix)) &&
	       !strcmp(u->client_id, str(w->client_id)) && !strcmp(u->cafile, str(w->cafile)) &&
	       !strcmp(u->capath, str(w->capath)) && !strcmp(u->cert, str(w->cert)) &&
	       !strcmp(u->key, str(w->key)) && u->insecure == w->insecure &&
	       !strcmp(u->tls_version, str(w->tls_version)) && !strcmp(u->sni, str(w->sni)) &&
	       u->keepalive == (w->keepalive ? w->keepalive : 30);
}

static void test_parse_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(good_cases); i++) {
		const struct url_case *c = &good_cases[i];
		const struct url_want *w = &c->want;
		const char *why = NULL;
		struct mqtt_url u;

		int ret = mqtt_url_parse(c->in, &u, &why);
		if (ret)
			print_error("mqtt_url_parse(\"%s\") = %d (%s)\n", c->in, ret, str(why));
		assert_int_equal(ret, 0);
		if (!url_matches(&u, w))
			print_error("mqtt_url_parse(\"%s\"): unexpected fields\n", c->in);
		assert_int_equal(u.tls, w->tls);
		assert_string_equal(u.host, str(w->host));
		assert_int_equal(u.port, w->port);
		assert_string_equal(u.user, str(w->user));
		assert_string_equal(u.password, str(w->password));
		assert_int_equal(u.has_password, w->has_password);
		assert_string_equal(u.prefix, str(w->prefix));
		assert_string_equal(u.client_id, str(w->client_id));
		assert_string_equal(u.cafile, str(w->cafile));
		assert_string_equal(u.capath, str(w->capath));
		assert_string_equal(u.cert, str(w->cert));
		assert_string_equal(u.key, str(w->key));
		assert_int_equal(u.insecure, w->insecure);
		assert_string_equal(u.tls_version, str(w->tls_version));
		assert_string_equal(u.sni, str(w->sni));
		assert_int_equal(u.keepalive, w->keepalive ? w->keepalive : 30);
		/* one host: a list of one */
		assert_int_equal(u.n_brokers, 1);
		assert_string_equal(u.brokers[0].host, u.host);
		assert_int_equal(u.brokers[0].port, u.port);
	}
}

static const char *const bad_cases[] = {
	/* scheme */
	"http://h",
	"tcp://h:1883",
	"ws://h",
	"mqtt:/h",
	"mqtt:h",
	"h:1883",
	"",
	/* host */
	"mqtt://",
	"mqtt:///p",
	"mqtt://:1883",
	"mqtt://?client_id=x",
	"mqtt://alice@",
	"mqtt://alice@/p",
	"mqtt://h!x/p",
	"mqtt://h x",
	"mqtt://[]:1883",
	/* port */
	"mqtt://h:",
	"mqtt://h:/p",
	"mqtt://h:abc",
	"mqtt://h:12a",
	"mqtt://h:-1",
	"mqtt://h:+1",
	"mqtt://h:0",
	"mqtt://h:00000",
	"mqtt://h:65536",
	"mqtt://h:70000",
	"mqtt://h:123456",
	"mqtt://h:1883:1884",
	"mqtt://[::1]:0",
	"mqtt://[::1]:70000",
	/* prefix */
	"mqtt://h/a+b",
	"mqtt://h/+",
	"mqtt://h/a/+/b",
	"mqtt://h/a%2Bb", /* '+' sneaked in %-encoded */
	"mqtt://h/a%23",
	"mqtt://h/a//b",
	"mqtt://h//a",
	"mqtt://h/a//",
	"mqtt://h/a%2F%2Fb",
	"mqtt://h/%2Fa",
	"mqtt://h/a#b",
	"mqtt://h/#",
	/* unterminated '[' */
	"mqtt://[::1",
	"mqtt://[::1:1883",
	"mqtt://[::1/p",
	"mqtt://[::1]x",
	"mqtt://[::1]1883",
	/* %-escapes */
	"mqtt://al%4@h",
	"mqtt://al%zzice@h",
	"mqtt://alice:pw%@h",
	"mqtt://alice:pw%4@h",
	"mqtt://alice:pw%00@h",
	"mqtt://h/p%2",
	"mqtt://h/p%g0",
	"mqtt://h/p%00x",
	"mqtt://h/p?client_id=%",
	"mqtt://h/p?client_id=%1",
	"mqtt://h/p?cafile=%zz",
	/* user */
	"mqtt://:pw@h",
	"mqtt://@h",
	/* client_id that can't be an MQTT client id / topic level */
	"mqtt://h/p?client_id=a/b",
	"mqtt://h/p?client_id=a+b",
	"mqtt://h/p?client_id=a%23b",
	"mqtt://h/p?client_id=a%20b",
	/* keepalive out of range */
	"mqtt://h/p?keepalive=4",
	"mqtt://h/p?keepalive=65536",
	"mqtt://h/p?keepalive=",
	"mqtt://h/p?keepalive=1x",
	/* broker lists */
	"mqtt://,",
	"mqtt://h1,",
	"mqtt://h1,/p",
	"mqtt://,h2",
	"mqtt://h1,,h2",
	"mqtt://h1:1883,h2:",
	"mqtt://h1,h2:0",
	"mqtt://h1,h2:65536",
	"mqtt://h1,h!2",
	"mqtt://h1,[::1",
	"mqtt://[::1],[::2]x",
	"mqtt://[::1]:1883[::2]",
	"mqtt://h1;h2",
	"mqtt://h1 h2",
	/* nine: more than MQTT_URL_BROKERS */
	"mqtt://a,b,c,d,e,f,g,h,i",
};

static void test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad_cases); i++) {
		const char *why = NULL;
		struct mqtt_url u;

		int ret = mqtt_url_parse(bad_cases[i], &u, &why);
		if (ret != -EINVAL)
			print_error("mqtt_url_parse(\"%s\") = %d\n", bad_cases[i], ret);
		assert_int_equal(ret, -EINVAL);
		if (!why)
			print_error("mqtt_url_parse(\"%s\"): no reason given\n", bad_cases[i]);
		assert_non_null(why);
		assert_true(strlen(why) > 0);
	}
}

/* why may be NULL, and a failed parse of one URL must not leak fields into the next. */
static void test_parse_null_why_and_reset(void **state)
{
	struct mqtt_url u;

	(void)state;
	assert_int_equal(mqtt_url_parse("http://h", &u, NULL), -EINVAL);
	assert_int_equal(mqtt_url_parse("mqtts://a:b@h:1/x?client_id=c&cafile=f", &u, NULL), 0);
	assert_int_equal(mqtt_url_parse("mqtt://h2", &u, NULL), 0);
	assert_false(u.tls);
	assert_string_equal(u.host, "h2");
	assert_int_equal(u.port, 1883);
	assert_string_equal(u.user, "");
	assert_false(u.has_password);
	assert_string_equal(u.prefix, "net4mqtt");
	assert_string_equal(u.client_id, "");
	assert_string_equal(u.cafile, "");
}

/* Field limits: a value that just fits parses, one byte more is an error, never an overflow. */
static void test_parse_lengths(void **state)
{
	char url[4 * MQTT_URL_PATH];
	struct mqtt_url u;
	const char *why;

	(void)state;
	/* host */
	strcpy(url, "mqtt://");
	memset(url + 7, 'h', MQTT_URL_FIELD - 1);
	url[7 + MQTT_URL_FIELD - 1] = '\0';
	assert_int_equal(mqtt_url_parse(url, &u, &why), 0);
	assert_int_equal(strlen(u.host), MQTT_URL_FIELD - 1);
	strcpy(url + 7 + MQTT_URL_FIELD - 1, "h");
	why = NULL;
	assert_int_equal(mqtt_url_parse(url, &u, &why), -EINVAL);
	assert_non_null(why);

	/* client_id */
	strcpy(url, "mqtt://h/p?client_id=");
	size_t n = strlen(url);
	memset(url + n, 'c', MQTT_URL_FIELD - 1);
	url[n + MQTT_URL_FIELD - 1] = '\0';
	assert_int_equal(mqtt_url_parse(url, &u, &why), 0);
	assert_int_equal(strlen(u.client_id), MQTT_URL_FIELD - 1);
	strcpy(url + n + MQTT_URL_FIELD - 1, "c");
	why = NULL;
	assert_int_equal(mqtt_url_parse(url, &u, &why), -EINVAL);
	assert_non_null(why);

	/* prefix */
	strcpy(url, "mqtt://h/");
	n = strlen(url);
	memset(url + n, 'p', MQTT_URL_FIELD - 1);
	url[n + MQTT_URL_FIELD - 1] = '\0';
	assert_int_equal(mqtt_url_parse(url, &u, &why), 0);
	assert_int_equal(strlen(u.prefix), MQTT_URL_FIELD - 1);
	strcpy(url + n + MQTT_URL_FIELD - 1, "p");
	why = NULL;
	assert_int_equal(mqtt_url_parse(url, &u, &why), -EINVAL);
	assert_non_null(why);

	/* cafile */
	strcpy(url, "mqtts://h/p?cafile=");
	n = strlen(url);
	memset(url + n, 'f', MQTT_URL_PATH - 1);
	url[n + MQTT_URL_PATH - 1] = '\0';
	assert_int_equal(mqtt_url_parse(url, &u, &why), 0);
	assert_int_equal(strlen(u.cafile), MQTT_URL_PATH - 1);
	strcpy(url + n + MQTT_URL_PATH - 1, "f");
	why = NULL;
	assert_int_equal(mqtt_url_parse(url, &u, &why), -EINVAL);
	assert_non_null(why);
}

/* Several brokers: host[:port] entries separated by ',', each with the scheme's port
 * unless it gives one; scheme, credentials, prefix and query shared. */
struct brokers_case {
	const char *in;
	int n;
	const char *hosts[MQTT_URL_BROKERS];
	uint16_t ports[MQTT_URL_BROKERS];
	const char *str; /* mqtt_url_brokers_str of all of them */
};

static const struct brokers_case brokers_cases[] = {
	{ "mqtt://host1:1883,host2:1884/PREFIX?client_id=ID", 2, { "host1", "host2" },
		{ 1883, 1884 }, "host1:1883,host2:1884" },
	{ "mqtt://a,b", 2, { "a", "b" }, { 1883, 1883 }, "a:1883,b:1883" },
	{ "mqtts://a,b:1/p", 2, { "a", "b" }, { 8883, 1 }, "a:8883,b:1" },
	{ "mqtt://u:p%40w@10.0.0.1,10.0.0.2:2000/x/y", 2, { "10.0.0.1", "10.0.0.2" },
		{ 1883, 2000 }, "10.0.0.1:1883,10.0.0.2:2000" },
	{ "mqtt://[::1]:1884,h,[2001:db8::2]", 3, { "::1", "h", "2001:db8::2" },
		{ 1884, 1883, 1883 }, "[::1]:1884,h:1883,[2001:db8::2]:1883" },
	{ "mqtt://h,h", 2, { "h", "h" }, { 1883, 1883 }, "h:1883,h:1883" },
	{ "mqtt://a,b,c,d,e,f,g,h:9", 8, { "a", "b", "c", "d", "e", "f", "g", "h" },
		{ 1883, 1883, 1883, 1883, 1883, 1883, 1883, 9 },
		"a:1883,b:1883,c:1883,d:1883,e:1883,f:1883,g:1883,h:9" },
};

static void test_parse_brokers(void **state)
{
	char buf[MQTT_URL_BROKERS * (MQTT_URL_FIELD + 8)];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(brokers_cases); i++) {
		const struct brokers_case *c = &brokers_cases[i];
		const char *why = NULL;
		struct mqtt_url u;

		int ret = mqtt_url_parse(c->in, &u, &why);
		if (ret)
			print_error("mqtt_url_parse(\"%s\") = %d (%s)\n", c->in, ret, str(why));
		assert_int_equal(ret, 0);
		assert_int_equal(u.n_brokers, c->n);
		for (int k = 0; k < c->n; k++) {
			assert_string_equal(u.brokers[k].host, c->hosts[k]);
			assert_int_equal(u.brokers[k].port, c->ports[k]);
		}
		/* host and port: the first of the list */
		assert_string_equal(u.host, c->hosts[0]);
		assert_int_equal(u.port, c->ports[0]);
		mqtt_url_brokers_str(&u, -1, buf, sizeof(buf));
		assert_string_equal(buf, c->str);
		mqtt_url_brokers_str(&u, c->n - 1, buf, sizeof(buf));
		assert_non_null(strstr(c->str, buf));
	}
}

/* What the brokers share: one set of credentials, prefix, client id and TLS files. */
static void test_parse_brokers_shared(void **state)
{
	struct mqtt_url u;
	char buf[64];

	(void)state;
	assert_int_equal(mqtt_url_parse("mqtts://alice:pw@b1:8884,[fd00::2]/site/net4mqtt?"
					"client_id=c1&cafile=/ca.pem&keepalive=10",
				 &u, NULL),
		0);
	assert_true(u.tls);
	assert_int_equal(u.n_brokers, 2);
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.password, "pw");
	assert_string_equal(u.prefix, "site/net4mqtt");
	assert_string_equal(u.client_id, "c1");
	assert_string_equal(u.cafile, "/ca.pem");
	assert_int_equal(u.keepalive, 10);
	mqtt_url_brokers_str(&u, 1, buf, sizeof(buf));
	assert_string_equal(buf, "[fd00::2]:8883");
	/* a short buffer: cut, terminated */
	mqtt_url_brokers_str(&u, -1, buf, 6);
	assert_string_equal(buf, "b1:88");
	/* a list, then a single host: no broker left over from the list */
	assert_int_equal(mqtt_url_parse("mqtt://h", &u, NULL), 0);
	assert_int_equal(u.n_brokers, 1);
	assert_string_equal(u.brokers[1].host, "");
}

/* Each host of a list has the field limit of a single one. */
static void test_parse_brokers_lengths(void **state)
{
	char url[8 + 3 * MQTT_URL_FIELD];
	struct mqtt_url u;
	const char *why = NULL;

	(void)state;
	strcpy(url, "mqtt://a,");
	size_t n = strlen(url);
	memset(url + n, 'h', MQTT_URL_FIELD - 1);
	strcpy(url + n + MQTT_URL_FIELD - 1, ":2");
	assert_int_equal(mqtt_url_parse(url, &u, &why), 0);
	assert_int_equal(strlen(u.brokers[1].host), MQTT_URL_FIELD - 1);
	assert_int_equal(u.brokers[1].port, 2);
	memset(url + n, 'h', MQTT_URL_FIELD);
	strcpy(url + n + MQTT_URL_FIELD, ":2");
	assert_int_equal(mqtt_url_parse(url, &u, &why), -EINVAL);
	assert_non_null(why);
	/* nine brokers: the reason says so */
	why = NULL;
	assert_int_equal(mqtt_url_parse("mqtt://1,2,3,4,5,6,7,8,9/p", &u, &why), -EINVAL);
	assert_non_null(strstr(why, "brokers"));
	why = NULL;
	assert_int_equal(mqtt_url_parse("mqtt://a,,b", &u, &why), -EINVAL);
	assert_non_null(strstr(why, "empty host"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_null_why_and_reset),
		cmocka_unit_test(test_parse_lengths),
		cmocka_unit_test(test_parse_brokers),
		cmocka_unit_test(test_parse_brokers_shared),
		cmocka_unit_test(test_parse_brokers_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
