/* HTTP basic authentication (RFC 7617): checking an Authorization header, and writing one. */
#ifndef N4M_BASICAUTH_H
#define N4M_BASICAUTH_H

#include <stdbool.h>
#include <stddef.h>

#define BASIC_AUTH_PASSWORD_MAX 128 /* with its NUL */
#define BASIC_AUTH_REALM "net4mqtt"

/* Whether header (an Authorization value, or NULL) carries password, under any user name.
 * Takes the same time whatever password it carries, right or wrong, short or long. */
bool basic_auth_ok(const char *header, const char *password);

/* "Basic BASE64(user:password)" into out; 0, or -ENOSPC when it does not fit in len. */
int basic_auth_header(const char *user, const char *password, char *out, size_t len);

#endif
