/* Dropping privileges after start-up: every capability but those a role needs, and root itself with --user. */
#ifndef N4M_PRIVS_H
#define N4M_PRIVS_H

#include <stdint.h>

/* Keeps only the capabilities in keep (a mask of 1 << CAP_*), in the
 * effective, permitted and bounding sets; clears ambient and inheritable ones;
 * sets no_new_privs. With user (non-empty), first switches to that user's uid,
 * gid and no supplementary groups. A process without privileges has nothing
 * to drop: returns 0. 0 or -errno. */
int privs_drop(uint64_t keep, const char *user);

#endif
