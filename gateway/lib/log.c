/* The one logger: stderr in the foreground, syslog as a daemon. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static int log_verbosity;
static bool log_foreground = true;

void log_init(int verbosity, bool foreground)
{
	log_verbosity = verbosity;
	log_foreground = foreground;
	if (!foreground)
		openlog("net4mqtt", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_verbosity(int verbosity)
{
	log_verbosity = verbosity;
}

bool log_enabled(enum log_level lvl)
{
	return (int)lvl <= log_verbosity;
}

static const char *const level_names[] = { "WARN", "INFO", "DEBUG", "TRACE" };
static const int level_priorities[] = { LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG };

static void log_vwrite(enum log_level lvl, int saved_errno, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (saved_errno) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved_errno));
	}
	if (!log_foreground) {
		syslog(level_priorities[lvl], "%s", msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, level_names[lvl], msg);
}

void log_vlog(enum log_level lvl, const char *fmt, va_list ap)
{
	if (log_enabled(lvl))
		log_vwrite(lvl, 0, fmt, ap);
}

#define LOG_FN(name, lvl, with_errno)                                                              \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		int saved = with_errno ? errno : 0;                                                \
		if (!log_enabled(lvl))                                                             \
			return;                                                                    \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vwrite(lvl, saved, fmt, ap);                                                   \
		va_end(ap);                                                                        \
	}

LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_trace, LOG_LVL_TRACE, 0)

void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(LOG_LVL_WARN, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(LOG_LVL_WARN, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
