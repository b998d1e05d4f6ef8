/* The monotonic clock every timer and timeout reads, in milliseconds. */
#ifndef N4M_CLOCK_H
#define N4M_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t clock_ms(void);

#endif
