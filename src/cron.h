/* cron: cron expressions and their next fire time in a time zone (tz.h).
 *
 * Syntax. Five fields "min hour dom mon dow", or six with a leading
 * seconds field "sec min hour dom mon dow" (as Quartz, Spring and robfig
 * write it); five fields fire at second 0. Fields are separated by spaces
 * or tabs. Ranges: second and minute 0-59, hour 0-23, day of month 1-31,
 * month 1-12 or JAN-DEC, day of week 0-7 or SUN-SAT (0 and 7 are Sunday).
 * A field is a comma-separated list of items; an item is
 *   *          every value
 *   N          one value (a number, or a name in month and day of week)
 *   N-M        a range, M >= N (in day of week, SUN may end a range:
 *              FRI-SUN is 5-7)
 *   X/S        every S-th value of X, where X is *, a range N-M, or a
 *              value N meaning N up to the field's end (5/10 = 5-59/10 in
 *              minutes; in day of week the end is 6)
 * Names are three letters, any case. "?" may stand alone as the whole day
 * of month or day of week field and means "*" (as Quartz users write it).
 * Macros, with second 0: @yearly and @annually (0 0 1 1 *), @monthly
 * (0 0 1 * *), @weekly (0 0 * * 0), @daily and @midnight (0 0 * * *),
 * @hourly (0 * * * *).
 *
 * Days, as Vixie cron: when both day of month and day of week are
 * restricted (neither field starts with "*" or "?"), a day matches if
 * EITHER matches ("0 0 1,15 * MON" is the 1st, the 15th and every
 * Monday); when one of them starts with "*" or "?", a day must match both
 * (so "*" leaves only the other, and "*" + "/2" in day of month with MON
 * means the odd-numbered days that are Mondays).
 *
 * Daylight saving, as cronie: an expression is "wildcard" when its minute
 * or hour field starts with "*" (@hourly too), else "fixed-time".
 *  - A wildcard expression fires at every instant whose local time matches:
 *    local times skipped by a forward jump never happen, and in the hour
 *    repeated by a backward jump it fires in both occurrences ("*" + "/15"
 *    in minutes keeps firing every 15 real minutes).
 *  - A fixed-time expression fires once per matching local time: a time
 *    skipped by a forward jump fires at the instant the jump happens (the
 *    first valid moment after the gap: "30 2 * * *" in Europe/Berlin on
 *    2026-03-29 fires at 03:00+02:00; several skipped times make one fire);
 *    a time repeated by a backward jump fires at its first occurrence only.
 * This holds for every change of UTC offset, whatever its size or cause
 * (cronie itself treats jumps over 3 hours as a clock reset; we do not).
 * Seconds play no part in the classification: "* 30 2 * * *" is
 * fixed-time.
 *
 * Search. cron_next works field by field (month, day, hour, minute,
 * second, carrying over), a span of constant UTC offset at a time, never
 * second by second. It looks at most CRON_HORIZON_YEARS (400, one
 * Gregorian cycle, after which the calendar repeats) ahead, and not past
 * the year 9999. An expression whose days cannot exist ("0 0 30 2 *",
 * "0 0 31 4 *": with day of week "*", only those days count) is known at
 * parse time and answers -1 at once; every other expression fires at
 * least every 40 years (the rarest: a February 29 that is also a given
 * weekday, "0 0 29 2 *" + "/7" in day of week: 2088, then 2128).
 *
 * Threads: a parsed expression is immutable; any threads may share it. */
#ifndef STAMPEDE_CRON_H
#define STAMPEDE_CRON_H

#include "tz.h"

#include <stddef.h>
#include <stdint.h>

#define CRON_HORIZON_YEARS 400

struct cron;

/* Parses expr (not kept). NULL with a message in err when it is
 * malformed, naming the field and the token, e.g. "field 3 (day of
 * month): 32 is out of range 1-31" or "expected 5 or 6 fields, got 4"
 * (fields are numbered as written: in a six-field expression, field 1 is
 * the seconds). Caller frees with cron_free. */
struct cron *cron_parse(const char *expr, char *err, size_t errlen);

/* cron_free(NULL) is a no-op. */
void cron_free(struct cron *c);

/* The first fire time strictly after the instant after (Unix seconds),
 * with the expression read in zone z (borrowed). -1 when there is none
 * within the search bound above, or when after is outside the years 1 to
 * 9999. */
int64_t cron_next(const struct cron *c, const struct tz_zone *z, int64_t after);

/* Writes instant t as ISO 8601 local time in zone z with its offset,
 * "2026-03-29T03:00:00+02:00" ("+00:00" in UTC; offsets with seconds,
 * found only in local mean time before ~1900, print as +hh:mm:ss).
 * Returns the length written, or -1 if buf is too small (32 bytes are
 * always enough for the years 1 to 9999). */
int cron_format_iso(int64_t t, const struct tz_zone *z, char *buf, size_t len);

#endif
