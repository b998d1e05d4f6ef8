/* The key commands: net4mqtt genkey and net4mqtt pubkey. */
#ifndef N4M_KEYCMD_H
#define N4M_KEYCMD_H

#include <stdbool.h>
#include <stdio.h>

/* Whether name is a key command. */
bool keycmd_is(const char *name);
/* Runs argv[0] (a key command) with its arguments; the exit code. */
int keycmd_main(int argc, char **argv);
/* One line per key command, for net4mqtt -h. */
void keycmd_list(FILE *out);

#endif
