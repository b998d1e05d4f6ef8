/* libFuzzer target of gateway/lib/basicauth: any Authorization header, against a password; what
 * the client writes for a password taken from the input is always accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/lib/basicauth.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char header[4096], password[BASIC_AUTH_PASSWORD_MAX], written[512];

	if (size >= sizeof(header))
		return 0;
	memcpy(header, data, size);
	header[size] = '\0';
	basic_auth_ok(header, "s3cret");

	size_t n = strnlen(header, sizeof(password) - 1);
	memcpy(password, header, n);
	password[n] = '\0';
	if (n && !basic_auth_header("user", password, written, sizeof(written)))
		check(basic_auth_ok(written, password));
	return 0;
}
