/* Unit tests of gateway/fakeip_cache: the fake-ip pool written and read back, malformed and
 * hostile files, changed ranges, the atomic save. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/roles/fakeip.h"
#include "gateway/roles/fakeip_cache.h"

static struct fakeip_ranges ranges_of(const char *r4, const char *r6)
{
	struct fakeip_ranges r;

	assert_int_equal(nl_prefix_parse(r4, &r.net4, NULL), 0);
	assert_int_equal(nl_prefix_parse(r6, &r.net6, NULL), 0);
	return r;
}

/* Reads text into a fresh pool over ranges (NULL: the defaults). */
static struct fakeip_pool *read_text(
	const struct fakeip_ranges *r, const char *text, size_t len, struct fakeip_cache_stats *st)
{
	struct fakeip_pool *p = fakeip_new(r, 0, 1000);
	FILE *f = fmemopen((void *)text, len, "r");

	assert_non_null(p);
	assert_non_null(f);
	assert_int_equal(fakeip_cache_read(p, f, 0, st), 0);
	fclose(f);
	return p;
}

static struct fakeip_pool *read_str(
	const struct fakeip_ranges *r, const char *text, struct fakeip_cache_stats *st)
{
	return read_text(r, text, strlen(text), st);
}

/* The text fakeip_cache_write makes of p; free it. */
static char *write_text(const struct fakeip_pool *p, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(fakeip_cache_write(p, f), 0);
	fclose(f);
	return buf;
}

static const struct fakeip_entry *at(struct fakeip_pool *p, const char *ip)
{
	uint8_t a[16];
	int family = strchr(ip, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(family, ip, a), 1);
	return fakeip_lookup(p, family, a, 0);
}

#define assert_at(p, ip, want)                                                                     \
	do {                                                                                       \
		const struct fakeip_entry *e_ = at(p, ip);                                         \
		const char *w_ = (want);                                                           \
		if (w_)                                                                            \
			assert_string_equal(e_ ? e_->name : "(none)", w_);                         \
		else if (e_)                                                                       \
			fail_msg("%s is %s, want none", ip, e_->name);                             \
	} while (0)

struct names {
	char list[16][32];
	int n;
};

static void collect(const struct fakeip_entry *e, void *arg)
{
	struct names *n = arg;

	if (n->n < 16)
		snprintf(n->list[n->n++], sizeof(n->list[0]), "%s", e->name);
}

static void test_round_trip(void **state)
{
	struct fakeip_pool *p = fakeip_new(NULL, 0, 1000), *q;
	const struct fakeip_entry *e;
	struct fakeip_cache_stats st;
	struct names before = { .n = 0 }, after = { .n = 0 };
	size_t len;
	char *text;

	(void)state;
	assert_int_equal(fakeip_assign(p, "site.net4mqtt.local", "site", true, 1, &e), 0);
	assert_int_equal(fakeip_assign(p, "web.example.internal", "far-1", false, 2, &e), 0);
	assert_int_equal(fakeip_assign(p, "other.example.internal", "far-1", false, 3, &e), 0);
	assert_non_null(at(p, "198.19.0.1")); /* site is now the most recently used */
	text = write_text(p, &len);
	assert_non_null(strstr(text, "ranges 198.19.0.0/16 fdfe:dcba:9876:1::/64\n"));
	assert_non_null(strstr(text, "\n0 site.net4mqtt.local site default\n"));
	assert_non_null(strstr(text, "\n1 web.example.internal far-1 name\n"));

	q = read_text(NULL, text, len, &st);
	assert_int_equal(st.restored, 3);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(fakeip_size(q), 3);
	fakeip_walk(p, collect, &before);
	fakeip_walk(q, collect, &after);
	assert_int_equal(after.n, 3);
	for (int i = 0; i < 3; i++) /* the same order of use */
		assert_string_equal(before.list[i], after.list[i]);
	e = at(q, "198.19.0.1");
	assert_non_null(e);
	assert_string_equal(e->name, "site.net4mqtt.local");
	assert_string_equal(e->agent, "site");
	assert_true(e->agent_default);
	e = at(q, "fdfe:dcba:9876:1::2");
	assert_non_null(e);
	assert_string_equal(e->name, "web.example.internal");
	assert_string_equal(e->agent, "far-1");
	assert_false(e->agent_default);
	/* the same name asked again after the restart: the same address */
	assert_int_equal(fakeip_assign(q, "other.example.internal", "far-1", false, 5, &e), 0);
	assert_int_equal(e->index, 2);
	/* and a new one takes a free slot */
	assert_int_equal(fakeip_assign(q, "new.example.internal", "far-1", false, 5, &e), 0);
	assert_int_equal(e->index, 3);
	free(text);
	fakeip_free(p);
	fakeip_free(q);
}

static void test_malformed(void **state)
{
	static const char text[] =
		"# a comment\n"
		"\n"
		"   \t \n"
		"ranges 198.19.0.0/16 fdfe:dcba:9876:1::/64\n"
		"0 good.example a default\n"
		"garbage\n"
		"1 two.fields\n"
		"2 too many fields here name\n"
		"x3 bad.index a name\n"
		"-4 negative a name\n"
		"99999999999 huge a name\n"
		"5 bad.flag a maybe\n"
		"6 name\x01with.control a name\n"
		"7 ok.example b name\r\n"
		"ranges 10.0.0.0/33 fd00::/64\n" /* a bad ranges line: entries after it dropped */
		"8 after.bad.ranges a name\n"
		"ranges 198.19.0.0/16 fdfe:dcba:9876:1::/64\n"
		"9 last.example a name"; /* no newline at the end */
	struct fakeip_cache_stats st;
	struct fakeip_pool *p;

	(void)state;
	p = read_str(NULL, text, &st);
	assert_int_equal(st.restored, 3);
	assert_int_equal(st.malformed, 9);
	assert_int_equal(st.dropped, 1);
	assert_at(p, "198.19.0.1", "good.example");
	assert_at(p, "198.19.0.8", "ok.example");
	assert_at(p, "198.19.0.10", "last.example");
	assert_at(p, "198.19.0.9", NULL);
	assert_int_equal(fakeip_size(p), 3);
	fakeip_free(p);
}

static void test_hostile(void **state)
{
	struct fakeip_cache_stats st;
	struct fakeip_pool *p;
	char *text = malloc(200000);
	size_t n = 0;

	(void)state;
	assert_non_null(text);
	/* no ranges line: nothing is restored */
	p = read_str(NULL, "0 a.example a name\n1 b.example b default\n", &st);
	assert_int_equal(st.restored, 0);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(fakeip_size(p), 0);
	fakeip_free(p);

	/* a line far longer than any entry, a NUL, names over the limit, twice a name or slot */
	n += (size_t)sprintf(text + n, "ranges 198.19.0.0/16 fdfe:dcba:9876:1::/64\n");
	memset(text + n, 'x', 100000);
	n += 100000;
	text[n++] = '\n';
	n += (size_t)sprintf(text + n, "0 nul");
	text[n++] = '\0';
	n += (size_t)sprintf(text + n, "after a name\n");
	n += (size_t)sprintf(text + n, "1 ");
	memset(text + n, 'n', 300);
	n += 300;
	n += (size_t)sprintf(text + n, " a name\n");
	n += (size_t)sprintf(text + n, "2 dup.example a name\n3 DUP.example a name\n");
	n += (size_t)sprintf(text + n, "2 other.example a name\n");
	n += (size_t)sprintf(text + n, "65533 top.example a name\n65534 past.example a name\n");
	p = read_text(NULL, text, n, &st);
	assert_at(p, "198.19.0.3", "dup.example");
	assert_at(p, "198.19.255.254", "top.example");
	assert_int_equal(st.restored, 2);
	assert_int_equal(st.dropped, 2); /* the name again, the slot again */
	assert_true(st.malformed >= 3);	 /* the long line, the long name, the index past the max */
	assert_int_equal(fakeip_size(p), 2);
	fakeip_free(p);

	/* random bytes: never a crash, never more than the pool holds */
	srand(42);
	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)(rand() % 4000);
		for (size_t i = 0; i < len; i++) {
			int r = rand() % 10;
			text[i] = r < 2	  ? '\n'
				  : r < 4 ? ' '
				  : r < 6 ? (char)('0' + rand() % 10)
					  : (char)(rand() % 256);
		}
		if (round % 2)
			memcpy(text, "ranges 198.19.0.0/30 fd00::/120\n", 32 < len ? 32 : len);
		struct fakeip_ranges small = ranges_of("198.19.0.0/30", "fd00::/120");
		p = read_text(&small, text, len, &st);
		assert_true(fakeip_size(p) <= 2);
		fakeip_free(p);
	}
	free(text);
}

static void test_ranges_changed(void **state)
{
	static const char text[] = "ranges 198.19.0.0/16 fdfe:dcba:9876:1::/64\n"
				   "0 a.example x name\n"
				   "253 b.example x name\n"
				   "254 c.example x name\n"
				   "4000 d.example x name\n";
	struct fakeip_ranges r;
	struct fakeip_cache_stats st;
	struct fakeip_pool *p;

	(void)state;
	/* the same network, shorter: what fits keeps its addresses */
	r = ranges_of("198.19.0.0/24", "fdfe:dcba:9876:1::/64");
	p = read_str(&r, text, &st);
	assert_int_equal(st.restored, 2);
	assert_int_equal(st.dropped, 2);
	assert_at(p, "198.19.0.1", "a.example");
	assert_at(p, "198.19.0.254", "b.example");
	assert_at(p, "fdfe:dcba:9876:1::fe", "b.example");
	fakeip_free(p);
	/* wider, containing the old: the old addresses are still in it, at other slots */
	r = ranges_of("198.18.0.0/15", "fdfe:dcba:9876::/63");
	p = read_str(&r, text, &st);
	assert_int_equal(st.restored, 0); /* the IPv6 addresses moved: dropped */
	fakeip_free(p);
	r = ranges_of("198.18.0.0/15", "fdfe:dcba:9876:1::/64");
	p = read_str(&r, text, &st);
	assert_int_equal(st.restored, 0); /* the slots differ between the two families */
	assert_int_equal(st.dropped, 4);
	fakeip_free(p);
	/* another network altogether */
	r = ranges_of("198.51.100.0/24", "fdfe:dcba:9876:1::/64");
	p = read_str(&r, text, &st);
	assert_int_equal(st.restored, 0);
	assert_int_equal(st.dropped, 4);
	assert_int_equal(fakeip_size(p), 0);
	fakeip_free(p);
	/* the IPv6 range alone changed */
	r = ranges_of("198.19.0.0/16", "fd00:1::/64");
	p = read_str(&r, text, &st);
	assert_int_equal(st.restored, 0);
	fakeip_free(p);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_files(void **state)
{
	char dir[] = "/tmp/n4m-fakeip-cache-XXXXXX", path[128], big[128], sub[128];
	struct fakeip_pool *p = fakeip_new(NULL, 0, 1000), *q;
	const struct fakeip_entry *e;
	struct fakeip_cache_stats st;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fakeip.cache", dir);
	snprintf(big, sizeof(big), "%s/big", dir);
	snprintf(sub, sizeof(sub), "%s/no/such/dir/cache", dir);
	assert_int_equal(fakeip_cache_load(p, path, 0, &st), -ENOENT);
	assert_int_equal(fakeip_assign(p, "a.example", "x", true, 0, &e), 0);
	assert_int_equal(fakeip_cache_save(p, path), 0);
	assert_int_equal(count_files(dir), 1); /* no temporary file left */
	assert_int_equal(fakeip_assign(p, "b.example", "y", false, 0, &e), 0);
	assert_int_equal(fakeip_cache_save(p, path), 0); /* replaces it */
	assert_int_equal(count_files(dir), 1);
	q = fakeip_new(NULL, 0, 1000);
	assert_int_equal(fakeip_cache_load(q, path, 0, &st), 0);
	assert_int_equal(st.restored, 2);
	assert_at(q, "198.19.0.2", "b.example");
	fakeip_free(q);

	assert_true(fakeip_cache_save(p, sub) < 0);
	fd = open(big, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, FAKEIP_CACHE_MAX_BYTES + 1), 0);
	close(fd);
	q = fakeip_new(NULL, 0, 1000);
	assert_int_equal(fakeip_cache_load(q, big, 0, &st), -EFBIG);
	assert_int_equal(fakeip_cache_load(q, dir, 0, &st), -EINVAL);
	assert_int_equal(fakeip_size(q), 0);
	fakeip_free(q);
	unlink(big);
	unlink(path);
	rmdir(dir);
	fakeip_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_ranges_changed),
		cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
