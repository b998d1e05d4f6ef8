/* The fake-ip pool saved to a file and read back: a line per entry, written atomically. */
#include "fakeip_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakeip.h"

#define CACHE_HEADER "# net4mqtt fake-ip cache: INDEX NAME AGENT default|name"

/* A word of a line: printable, no blank. */
static bool word_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

struct writer {
	FILE *f;
	unsigned long left_out;
};

static void write_entry(const struct fakeip_entry *e, void *arg)
{
	struct writer *w = arg;

	if (!word_ok(e->name) || !word_ok(e->agent)) {
		w->left_out++;
		return;
	}
	fprintf(w->f, "%u %s %s %s\n", e->index, e->name, e->agent,
		e->agent_default ? "default" : "name");
}

unsigned long fakeip_cache_write(const struct fakeip_pool *p, FILE *f)
{
	const struct fakeip_ranges *r = fakeip_pool_ranges(p);
	char r4[NL_PREFIX_STRLEN], r6[NL_PREFIX_STRLEN];
	struct writer w = { .f = f };

	nl_prefix_format(&r->net4, r4, sizeof(r4));
	nl_prefix_format(&r->net6, r6, sizeof(r6));
	fprintf(f, "%s\nranges %s %s\n", CACHE_HEADER, r4, r6);
	fakeip_walk(p, write_entry, &w);
	return w.left_out;
}

/* "ranges A B": an IPv4 and an IPv6 range a pool could have. */
static bool parse_ranges(char *a, char *b, struct fakeip_ranges *r)
{
	bool m4, m6;

	return a && b && !nl_prefix_parse(a, &r->net4, &m4) && !nl_prefix_parse(b, &r->net6, &m6) &&
	       r->net4.family == AF_INET && r->net6.family == AF_INET6 &&
	       !fakeip_range_refused(&r->net4, m4) && !fakeip_range_refused(&r->net6, m6);
}

static bool parse_index(const char *s, uint32_t *out)
{
	size_t n = strspn(s, "0123456789");
	unsigned long v;

	if (!n || n > 10 || s[n])
		return false;
	v = strtoul(s, NULL, 10);
	if (v >= FAKEIP_CAPACITY_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The slot in now that has the addresses slot index had in old; false if none. */
static bool remap(const struct fakeip_ranges *old, const struct fakeip_ranges *now,
	uint32_t capacity, uint32_t index, uint32_t *out)
{
	uint8_t a4[4], a6[16], b6[16];
	uint32_t off;

	if (index >= fakeip_ranges_capacity(old))
		return false;
	fakeip_range_addr(old, index, AF_INET, a4);
	fakeip_range_addr(old, index, AF_INET6, a6);
	if (!nl_prefix_contains(&now->net4, a4))
		return false;
	off = be32(a4) - be32(now->net4.addr);
	if (off < 1 || off - 1 >= capacity)
		return false;
	*out = off - 1;
	fakeip_range_addr(now, *out, AF_INET6, b6);
	return !memcmp(a6, b6, 16);
}

struct reading {
	struct fakeip_pool *p;
	uint64_t now_ms;
	struct fakeip_cache_stats *st;
	bool have_ranges;
	struct fakeip_ranges ranges; /* the file's */
};

static void read_line(struct reading *r, char *line)
{
	char *save = NULL, *w[5] = { NULL };
	int n = 0;
	uint32_t index, slot;

	line[strcspn(line, "\r\n")] = '\0';
	if (!line[strspn(line, " \t")] || line[strspn(line, " \t")] == '#')
		return;
	for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		w[n < 5 ? n++ : 4] = t;
	if (w[0] && !strcmp(w[0], "ranges")) {
		r->have_ranges = n == 3 && parse_ranges(w[1], w[2], &r->ranges);
		r->st->malformed += !r->have_ranges;
		return;
	}
	if (n != 4 || !parse_index(w[0], &index) || !word_ok(w[1]) || !word_ok(w[2]) ||
		(strcmp(w[3], "default") && strcmp(w[3], "name"))) {
		r->st->malformed++;
		return;
	}
	if (!r->have_ranges ||
		!remap(&r->ranges, fakeip_pool_ranges(r->p), fakeip_capacity(r->p), index, &slot)) {
		r->st->dropped++;
		return;
	}
	switch (fakeip_restore(r->p, slot, w[1], w[2], !strcmp(w[3], "default"), r->now_ms)) {
	case 0:
		r->st->restored++;
		break;
	case -EEXIST:
		r->st->dropped++;
		break;
	default:
		r->st->malformed++;
	}
}

int fakeip_cache_read(
	struct fakeip_pool *p, FILE *f, uint64_t now_ms, struct fakeip_cache_stats *st)
{
	struct reading r = { .p = p, .now_ms = now_ms, .st = st };
	char line[FAKEIP_CACHE_LINE_MAX + 2];

	memset(st, 0, sizeof(*st));
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			int c;
			while ((c = getc(f)) != EOF && c != '\n')
				; /* the rest of a line too long */
			st->malformed++;
			continue;
		}
		read_line(&r, line);
	}
	return ferror(f) ? -EIO : 0;
}

int fakeip_cache_load(
	struct fakeip_pool *p, const char *path, uint64_t now_ms, struct fakeip_cache_stats *st)
{
	struct stat sb;
	int fd, err;
	FILE *f;

	memset(st, 0, sizeof(*st));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -errno;
	if (fstat(fd, &sb))
		err = -errno;
	else if (!S_ISREG(sb.st_mode))
		err = -EINVAL;
	else if (sb.st_size > FAKEIP_CACHE_MAX_BYTES)
		err = -EFBIG;
	else
		err = 0;
	if (err) {
		close(fd);
		return err;
	}
	if (!(f = fdopen(fd, "r"))) {
		err = -errno;
		close(fd);
		return err;
	}
	err = fakeip_cache_read(p, f, now_ms, st);
	fclose(f);
	return err;
}

/* Makes a rename in path's directory durable. */
static void sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd;

	snprintf(copy, sizeof(copy), "%s", path);
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	fsync(fd);
	close(fd);
}

int fakeip_cache_save(const struct fakeip_pool *p, const char *path)
{
	char tmp[PATH_MAX];
	int fd, err = 0;
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return -errno;
	if (!(f = fdopen(fd, "w"))) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	fakeip_cache_write(p, f);
	errno = 0;
	if (fflush(f) || ferror(f) || fsync(fd))
		err = errno ? -errno : -EIO;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	sync_dir(path);
	return 0;
}
