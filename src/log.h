/* log: the one logging module.
 * Lines go to one file descriptor (stderr by default), each written with a
 * single write(2) so lines from different loops never interleave. The level
 * is checked before anything is formatted. Any thread may call these.
 * Never log per request on the load path: count, then report once. */
#ifndef STAMPEDE_LOG_H
#define STAMPEDE_LOG_H

#include <stdarg.h>

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN,
    LOG_INFO,
    LOG_DEBUG,
    LOG_TRACE,
};

/* Set where lines go and the most verbose level written. Call before the
 * loops start; not thread-safe against concurrent log_write. */
void log_init(enum log_level max_level, int fd);
enum log_level log_get_level(void);
int log_enabled(enum log_level level);

/* Parse "error|warn|info|debug|trace"; 0 on success, -1 on unknown. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/* tag names the writer: a module ("main") or an actor ("run_shard#2"). */
void log_write(enum log_level level, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vwrite(enum log_level level, const char *tag, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Route libevent's internal messages into this logger. */
void log_route_libevent(void);

#define log_error(tag, ...) log_write(LOG_ERROR, (tag), __VA_ARGS__)
#define log_warn(tag, ...)  log_write(LOG_WARN, (tag), __VA_ARGS__)
#define log_info(tag, ...)  log_write(LOG_INFO, (tag), __VA_ARGS__)
#define log_debug(tag, ...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, (tag), __VA_ARGS__); } while (0)
#define log_trace(tag, ...) do { if (log_enabled(LOG_TRACE)) log_write(LOG_TRACE, (tag), __VA_ARGS__); } while (0)

#endif
