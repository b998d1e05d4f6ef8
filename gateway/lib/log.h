/* The one logger: stderr in the foreground, syslog as a daemon. */
#ifndef N4M_LOG_H
#define N4M_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LVL_WARN = 0, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL_TRACE };

void log_init(int verbosity, bool foreground);
void log_set_verbosity(int verbosity);
bool log_enabled(enum log_level lvl);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* At lvl, if that level is logged; for hooks that hand on a va_list (mqtt/). */
void log_vlog(enum log_level lvl, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
