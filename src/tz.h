/* tz: IANA time zones ("Europe/Berlin") read from the system tz database
 * (TZif files, RFC 8536) and the calendar arithmetic around them, without
 * touching the process-wide TZ: no setenv("TZ"), tzset() or localtime().
 *
 * Times are int64_t Unix seconds ("instants"). A "wall" time is the local
 * calendar time of a zone written as seconds since 1970-01-01T00:00:00 of
 * that calendar (so wall = instant + offset). Leap seconds do not exist
 * here, as in POSIX time.
 *
 * Threads: a loaded zone is immutable. Any number of threads may call the
 * functions below on the same zone at once; free it once, after the last
 * user is done. Nothing here keeps global state. */
#ifndef STAMPEDE_TZ_H
#define STAMPEDE_TZ_H

#include <stddef.h>
#include <stdint.h>

/* Where tz_load looks; Debian's `tzdata` package fills it. */
#ifndef TZ_DIR
#define TZ_DIR "/usr/share/zoneinfo"
#endif

/* No UTC offset reaches this (the real ones stay within -12h..+14h). */
#define TZ_MAX_OFFSET_S (26 * 3600)

struct tz_zone;

/* Loads the zone called name from TZ_DIR. A name is refused unless it is
 * made of [A-Za-z0-9_+-/] only and is relative with no ".." (so it cannot
 * leave TZ_DIR). "UTC" works even when the file is missing. Files with
 * leap seconds (the "right/" zones) are refused.
 * Returns NULL with a message in err when the name is refused, the zone
 * is unknown (the message names it), or the file cannot be read or is
 * malformed. Caller frees with tz_free. */
struct tz_zone *tz_load(const char *name, char *err, size_t errlen);

/* UTC, built in (no file). Never NULL; caller frees with tz_free. */
struct tz_zone *tz_utc(void);

/* A zone from the len bytes of a TZif file at data (borrowed: copied as
 * needed). name is copied; tz_name returns it. Versions 1 to 4: the 64-bit
 * section is used when present, and its footer (a POSIX TZ string such as
 * "CET-1CEST,M3.5.0,M10.5.0/3") gives the offsets after the last
 * transition. NULL with a message in err if malformed. Caller frees with
 * tz_free. */
struct tz_zone *tz_parse(const void *data, size_t len, const char *name, char *err, size_t errlen);

/* tz_free(NULL) is a no-op. */
void tz_free(struct tz_zone *z);

/* The name given to tz_load/tz_parse ("UTC" for tz_utc). Owned by z. */
const char *tz_name(const struct tz_zone *z);

/* The UTC offset in seconds in effect at instant t (wall = t + offset). */
int32_t tz_offset_at(const struct tz_zone *z, int64_t t);

/* The offset at t, and the span of instants around t that have it:
 * [*start, *end), maximal (the instants either side have another offset;
 * in the odd rule that keeps daylight time all year, a span may also end
 * at a yearly change that keeps the offset). *start is INT64_MIN and *end
 * INT64_MAX where the span is unbounded. start may be NULL (it costs as
 * much as end to find). */
int32_t tz_span_at(const struct tz_zone *z, int64_t t, int64_t *start, int64_t *end);

/* The first instant whose wall time is wall. A wall time skipped by a
 * forward jump (spring forward) maps to the instant of the jump, where the
 * gap ends; one repeated by a backward jump (fall back) maps to its first
 * occurrence. wall must lie within +-2^62. */
int64_t tz_local_to_utc(const struct tz_zone *z, int64_t wall);

/* Reads an ISO 8601 / RFC 3339 time into *out (Unix seconds):
 * YYYY-MM-DD, then 'T', 't' or ' ', then hh:mm[:ss[.fff]], then 'Z', an
 * offset +hh:mm / +hhmm / +hh, or nothing: a local time in z (borrowed),
 * which maps as tz_local_to_utc does. Fractions of a second are dropped.
 * Returns 0, or -1 when s is not such a time or names no real date
 * (2026-02-30) or time (24:00, second 60), or its year is not 1-9999. */
int tz_parse_iso(const char *s, const struct tz_zone *z, int64_t *out);

/* Proleptic Gregorian calendar. Days since 1970-01-01 of y-m-d (m 1-12,
 * d 1-31; not validated), and back; exact for years within +-10^12. */
int64_t tz_days_from_civil(int64_t y, int m, int d);
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* 0 = Sunday .. 6 = Saturday. */
int tz_weekday(int64_t days);
/* Days in month m (1-12) of year y. */
int tz_days_in_month(int64_t y, int m);

#endif
