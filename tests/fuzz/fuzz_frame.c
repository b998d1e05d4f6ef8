/* libFuzzer target of mqtt/frame: any payload; what parses rebuilds to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/frame.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1); /* exactly its size: ASan sees a read past it */
	uint8_t hdr[FRAME_CTL_MAX];
	struct frame fr;

	check(copy);
	memcpy(copy, data, size);
	if (frame_parse(copy, size, &fr) == 0) {
		size_t n = frame_header(hdr, &fr);
		check(n <= size && n + fr.len == size);
		check(!memcmp(hdr, copy, n));
		check(!fr.len || fr.data == copy + n);
		check(fr.code <= FRAME_RESULT_MAX);
		check(frame_result_str(fr.code)[0] != '?');
	}
	free(copy);
	return 0;
}
