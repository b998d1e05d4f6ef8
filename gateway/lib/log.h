/* The one logger: stderr (with <N> priorities when stderr is the journal), or syslog when asked. */
#ifndef N4M_LOG_H
#define N4M_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* error: what stops a role or the process; logged at every verbosity */
enum log_level { LOG_LVL_ERROR = -1, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL_TRACE };

enum log_target {
	LOG_TO_STDERR, /* "HH:MM:SS.mmm LEVEL role: message"; "<N>LEVEL role: message" to the journal */
	LOG_TO_SYSLOG, /* facility daemon, ident net4mqtt[PID] */
};

/* verbosity: -1 errors only, 0 warnings (the default), 1 info, 2 debug, 3 trace */
void log_init(int verbosity, enum log_target target);
void log_set_verbosity(int verbosity);
bool log_enabled(enum log_level lvl);

/* The role whose work is being done: each line starts "role: ". Every event callback that belongs
 * to a role sets it (NULL for the process's own work, which then names the default: the one role of
 * a single-role process, none when there are several). Both are copied (at most LOG_ROLE_MAX - 1
 * bytes): a role's memory may be gone before the next line. */
#define LOG_ROLE_MAX 64
void log_set_role(const char *role);
void log_set_default_role(const char *role);
/* The role set now ("" for none), for a caller that puts it back. */
void log_get_role(char out[LOG_ROLE_MAX]);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* At lvl, if that level is logged; for hooks that hand on a va_list (mqtt/). */
void log_vlog(enum log_level lvl, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Lines a peer can make us say at its own rate (statuses, advertised routes): the
 * first per_second of each second are said, the rest left out and counted in one
 * line ("N WHAT left out (over M a second)") at the first line due in a later
 * second. Zero-initialised but for per_second and what. */
struct log_budget {
	unsigned per_second;
	const char *what;
	uint64_t second;
	unsigned used;
};
/* Whether a line may be said now; false also counts it as left out. */
bool log_budget_ok(struct log_budget *b);
/* For a line said at most once a second: true (and *last_ms set to now) if none was
 * in the last second; *last_ms starts at 0. */
bool log_second_due(uint64_t *last_ms);

/* For a parser that says why it refused: the message into err (cap bytes), rc returned. */
int fail_with(char *err, size_t cap, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* At the error level, then exit(1). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
