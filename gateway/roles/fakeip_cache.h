/* The fake-ip pool saved to a file (--fake-ip-cache) and read back at start, so a name keeps
 * its address across a restart and a flow to an address handed out before it still works. */
#ifndef N4M_FAKEIP_CACHE_H
#define N4M_FAKEIP_CACHE_H

#include <stdint.h>
#include <stdio.h>

struct fakeip_pool;

/* A file larger than this is not read: a full pool of the longest names fits in 27 MB. */
#define FAKEIP_CACHE_MAX_BYTES (32L << 20)
#define FAKEIP_CACHE_LINE_MAX 512

struct fakeip_cache_stats {
	unsigned long restored;	 /* entries put back into the pool */
	unsigned long malformed; /* lines that could not be read */
	unsigned long dropped;	 /* entries outside the pool's ranges now, or taken twice */
};

/*
 * The text format, one entry a line, least recently used first:
 *   # net4mqtt fake-ip cache
 *   ranges 198.19.0.0/16 fdfe:dcba:9876:1::/64
 *   INDEX NAME AGENT default|name
 * INDEX is the slot (address = range + 1 + INDEX); "default": a flow carries
 * DST "-", "name": it carries NAME:PORT. Entries of a file written with other
 * ranges are kept at the same addresses when those are in the pool's ranges
 * now, and dropped otherwise; without a ranges line before them, dropped.
 */

/* Writes p to f; the number of entries left out (a name or agent that does not fit a line). */
unsigned long fakeip_cache_write(const struct fakeip_pool *p, FILE *f);
/* Reads f into p (restoring entries as used at now_ms): 0 however malformed
 * the lines are (counted in st), or -errno of a read error. */
int fakeip_cache_read(
	struct fakeip_pool *p, FILE *f, uint64_t now_ms, struct fakeip_cache_stats *st);

/* fakeip_cache_read of the file at path: -ENOENT when there is none, -EFBIG
 * when it is over FAKEIP_CACHE_MAX_BYTES, or another -errno. */
int fakeip_cache_load(
	struct fakeip_pool *p, const char *path, uint64_t now_ms, struct fakeip_cache_stats *st);
/* Writes p to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. 0 or -errno. */
int fakeip_cache_save(const struct fakeip_pool *p, const char *path);

#endif
