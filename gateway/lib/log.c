/* The one logger: stderr (with <N> priorities when stderr is the journal), or syslog when asked. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static int log_verbosity;
static enum log_target log_target = LOG_TO_STDERR;
static bool log_to_journal;
static char log_role[LOG_ROLE_MAX], log_default_role[LOG_ROLE_MAX];

/* systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr is the journal's stream
 * (systemd.exec(5)); a process that inherited the variable but writes elsewhere must not match. */
static bool stderr_is_journal(void)
{
	const char *s = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!s || sscanf(s, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st))
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(int verbosity, enum log_target target)
{
	log_verbosity = verbosity;
	log_target = target;
	log_to_journal = target == LOG_TO_STDERR && stderr_is_journal();
	if (target == LOG_TO_SYSLOG)
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

/* Set around every message and socket event: a bounded copy, not a printf. */
static void role_copy(char dst[LOG_ROLE_MAX], const char *role)
{
	size_t n = role ? strnlen(role, LOG_ROLE_MAX - 1) : 0;

	if (n)
		memcpy(dst, role, n);
	dst[n] = '\0';
}

void log_set_role(const char *role)
{
	role_copy(log_role, role);
}

void log_set_default_role(const char *role)
{
	role_copy(log_default_role, role);
}

void log_get_role(char out[LOG_ROLE_MAX])
{
	memcpy(out, log_role, LOG_ROLE_MAX);
}

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };
static const int level_priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG };

static void log_vwrite(enum log_level lvl, int saved_errno, const char *fmt, va_list ap)
{
	const char *role = log_role[0] ? log_role : log_default_role;
	int at = (int)lvl - LOG_LVL_ERROR;
	char msg[1024];
	size_t n = 0;

	if (role[0])
		n = (size_t)snprintf(msg, sizeof(msg), "%s: ", role);
	if (n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	if (saved_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved_errno));
	}
	if (log_target == LOG_TO_SYSLOG) {
		syslog(level_priorities[at], "%s", msg);
		return;
	}
	if (log_to_journal) { /* the journal stamps the time; <N> is the line's priority */
		fprintf(stderr, "<%d>%-5s %s\n", level_priorities[at], level_names[at], msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, level_names[at], msg);
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

LOG_FN(log_error, LOG_LVL_ERROR, 1)
LOG_FN(log_errorx, LOG_LVL_ERROR, 0)
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
	log_vwrite(LOG_LVL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

bool log_budget_ok(struct log_budget *b)
{
	uint64_t second = clock_ms() / 1000;

	if (second != b->second) {
		if (b->used > b->per_second)
			log_info("%u %s left out (over %u a second)", b->used - b->per_second,
				b->what, b->per_second);
		b->second = second;
		b->used = 0;
	}
	return ++b->used <= b->per_second;
}

bool log_second_due(uint64_t *last_ms)
{
	uint64_t now = clock_ms();

	if (*last_ms && now - *last_ms < 1000)
		return false;
	*last_ms = now;
	return true;
}

int fail_with(char *err, size_t cap, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return rc;
}
