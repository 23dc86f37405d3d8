/* log: leveled, tagged lines written atomically to one descriptor. */
#include "log.h"

#include <event2/event.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The only mutable state: set once by log_init, read by every thread. */
static _Atomic int max_level = LOG_INFO;
static _Atomic int out_fd = 2;

static const char *const names[] = { "error", "warn", "info", "debug", "trace" };
static const char *const labels[] = { "ERROR", "WARN ", "INFO ", "DEBUG", "TRACE" };

void log_init(enum log_level level, int fd)
{
    atomic_store(&max_level, (int)level);
    atomic_store(&out_fd, fd);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load_explicit(&max_level, memory_order_relaxed);
}

int log_enabled(enum log_level level)
{
    return (int)level <= atomic_load_explicit(&max_level, memory_order_relaxed);
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i <= LOG_TRACE; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return (level >= LOG_ERROR && level <= LOG_TRACE) ? names[level] : "?";
}

void log_vwrite(enum log_level level, const char *tag, const char *fmt, va_list ap)
{
    if (!log_enabled(level))
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, labels[level], tag ? tag : "-");
    if (n < 0)
        return;
    size_t len = (size_t)n;
    int m = vsnprintf(line + len, sizeof line - len - 1, fmt, ap);
    if (m < 0)
        return;
    len += (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2; /* truncated: keep the line terminated */
    /* Messages from libraries often carry their own newline. */
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    line[len++] = '\n';
    (void)!write(atomic_load(&out_fd), line, len);
}

void log_write(enum log_level level, const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, tag, fmt, ap);
    va_end(ap);
}

static void on_libevent_log(int severity, const char *msg)
{
    enum log_level l = LOG_DEBUG;
    switch (severity) {
    case EVENT_LOG_ERR: l = LOG_ERROR; break;
    case EVENT_LOG_WARN: l = LOG_WARN; break;
    case EVENT_LOG_MSG: l = LOG_INFO; break;
    default: break;
    }
    log_write(l, "libevent", "%s", msg);
}

void log_route_libevent(void)
{
    event_set_log_callback(on_libevent_log);
}
