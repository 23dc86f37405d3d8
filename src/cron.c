/* cron: the expression parser and the field-by-field next-fire search,
 * with cronie's daylight-saving rules (contract and semantics in cron.h). */
#include "cron.h"

#include "errbuf.h"
#include "xmalloc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_EXPR_LEN 1024
#define NO_MATCH INT64_MAX
#define HORIZON_S ((int64_t)146097 * 86400) /* 400 Gregorian years */

enum field { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, NFIELDS };

static const char *const month_names[] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                           "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL };
static const char *const dow_names[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL };

/* A field's values: min..max is what "*" and "N/S" cover; a single value
 * may go up to vmax (day of week 7). names[i] names value name_base + i. */
static const struct field_def {
    const char *what;
    int min, max, vmax;
    const char *const *names;
    int name_base;
} fields[NFIELDS] = {
    [F_SEC] = { "second", 0, 59, 59, NULL, 0 },
    [F_MIN] = { "minute", 0, 59, 59, NULL, 0 },
    [F_HOUR] = { "hour", 0, 23, 23, NULL, 0 },
    [F_DOM] = { "day of month", 1, 31, 31, NULL, 0 },
    [F_MON] = { "month", 1, 12, 12, month_names, 1 },
    [F_DOW] = { "day of week", 0, 6, 7, dow_names, 0 },
};

static const struct {
    const char *name, *expr;
} macros[] = {
    { "@yearly", "0 0 0 1 1 *" }, { "@annually", "0 0 0 1 1 *" }, { "@monthly", "0 0 0 1 * *" },
    { "@weekly", "0 0 0 * * 0" }, { "@daily", "0 0 0 * * *" },    { "@midnight", "0 0 0 * * *" },
    { "@hourly", "0 0 * * * *" },
};

/* Invariants: bits[f] has bit v set for each matching value v, within
 * min..max of the field (day of week 7 is folded into 0); none is empty. */
struct cron {
    uint64_t bits[NFIELDS];
    int use_or; /* day of month and day of week both restricted: either may match */
    int wild;   /* minute or hour starts with '*': cronie's wildcard job */
    int never;  /* no month has any of the days of month asked for */
};

/* ---- parsing ---- */

/* Where a field error is reported: "field 3 (day of month): ". */
struct field_ctx {
    enum field f;
    int pos; /* 1-based, as written */
    const char *text; /* the whole field */
    char *err;
    size_t errlen;
};

static int field_err(const struct field_ctx *fc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int field_err(const struct field_ctx *fc, const char *fmt, ...)
{
    if (!fc->err || fc->errlen == 0)
        return -1;
    int n = snprintf(fc->err, fc->errlen, "field %d (%s): ", fc->pos, fields[fc->f].what);
    if (n >= 0 && (size_t)n < fc->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fc->err + n, fc->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* One value at *pp: digits, or a name where the field has names. The
 * token is the run of letters and digits. *is_name tells which. */
static int parse_value(const struct field_ctx *fc, const char *item, const char **pp, int *out, int *is_name)
{
    const struct field_def *fd = &fields[fc->f];
    const char *p = *pp, *start = p;
    while (isalnum((unsigned char)*p))
        p++;
    int len = (int)(p - start);
    if (len == 0) {
        if (*p)
            return field_err(fc, "unexpected \"%c\" in \"%s\"", *p, item);
        return field_err(fc, "\"%s\" is incomplete", item);
    }
    *pp = p;
    *is_name = 0;
    if (isdigit((unsigned char)*start)) {
        long v = 0;
        for (const char *q = start; q < p; q++) {
            if (!isdigit((unsigned char)*q))
                return field_err(fc, "\"%.*s\" is not a number", len, start);
            if (v < 100000)
                v = v * 10 + (*q - '0');
        }
        if (v < fd->min || v > fd->vmax)
            return field_err(fc, "%.*s is out of range %d-%d", len, start, fd->min, fd->vmax);
        *out = (int)v;
        return 0;
    }
    if (!fd->names)
        return field_err(fc, "\"%.*s\" is not a number", len, start);
    for (int i = 0; fd->names[i]; i++) {
        if (len == 3 && strncasecmp(start, fd->names[i], 3) == 0) {
            *out = fd->name_base + i;
            *is_name = 1;
            return 0;
        }
    }
    return field_err(fc, "unknown name \"%.*s\"", len, start);
}

/* One list item (NUL-terminated copy in item) into *bits. */
static int parse_item(const struct field_ctx *fc, const char *item, uint64_t *bits)
{
    const struct field_def *fd = &fields[fc->f];
    const char *p = item;
    int lo, hi, step = 1, single = 0, is_name;
    if (*p == '\0')
        return field_err(fc, "empty item in \"%s\"", fc->text);
    if (*p == '*' || *p == '?') {
        if (*p == '?' && fc->f != F_DOM && fc->f != F_DOW)
            return field_err(fc, "\"?\" is only allowed in day of month and day of week");
        if (*p == '?' && strcmp(fc->text, "?") != 0)
            return field_err(fc, "\"?\" must be the whole field, not \"%s\"", fc->text);
        p++;
        lo = fd->min;
        hi = fd->max;
    } else {
        if (parse_value(fc, item, &p, &lo, &is_name) < 0)
            return -1;
        hi = lo;
        single = 1;
        if (*p == '-') {
            p++;
            if (parse_value(fc, item, &p, &hi, &is_name) < 0)
                return -1;
            single = 0;
            if (fc->f == F_DOW && is_name && hi == 0 && lo > 0)
                hi = 7; /* FRI-SUN */
            if (hi < lo)
                return field_err(fc, "range \"%.*s\" runs backwards", (int)(p - item), item);
        }
    }
    if (*p == '/') {
        const char *s = ++p;
        long v = 0;
        while (isdigit((unsigned char)*p)) {
            if (v < 100000)
                v = v * 10 + (*p - '0');
            p++;
        }
        if (p == s)
            return field_err(fc, "expected a number after \"/\" in \"%s\"", item);
        if (v == 0)
            return field_err(fc, "step 0 is not allowed");
        if (v > fd->max - fd->min + 1)
            return field_err(fc, "step %.*s is out of range 1-%d", (int)(p - s), s, fd->max - fd->min + 1);
        step = (int)v;
        if (single)
            hi = fd->max < lo ? lo : fd->max; /* "5/10": from 5 to the end */
    }
    if (*p != '\0')
        return field_err(fc, "unexpected \"%c\" in \"%s\"", *p, item);
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ull << v;
    return 0;
}

static int parse_field(const struct field_ctx *fc, uint64_t *bits)
{
    char item[MAX_EXPR_LEN + 1];
    const char *p = fc->text;
    *bits = 0;
    for (;;) {
        size_t n = strcspn(p, ",");
        memcpy(item, p, n);
        item[n] = '\0';
        if (parse_item(fc, item, bits) < 0)
            return -1;
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    if (fc->f == F_DOW && (*bits >> 7 & 1))
        *bits = (*bits & ~(1ull << 7)) | 1; /* 7 is Sunday too */
    return 0;
}

/* Whether some month asked for has some day of month asked for. */
static int days_exist(const struct cron *c)
{
    for (int m = 1; m <= 12; m++) {
        int last = m == 2 ? 29 : tz_days_in_month(2001, m);
        uint64_t valid = ((1ull << last) - 1) << 1;
        if ((c->bits[F_MON] >> m & 1) && (c->bits[F_DOM] & valid))
            return 1;
    }
    return 0;
}

static struct cron *parse_macro(const char *p, char *err, size_t errlen)
{
    size_t n = strcspn(p, " \t");
    const char *rest = p + n + strspn(p + n, " \t");
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
        if (strlen(macros[i].name) == n && strncasecmp(p, macros[i].name, n) == 0) {
            if (*rest) {
                errbuf_set(err, errlen, "unexpected \"%s\" after %s", rest, macros[i].name);
                return NULL;
            }
            return cron_parse(macros[i].expr, err, errlen);
        }
    }
    errbuf_set(err, errlen, "unknown macro \"%.*s\" (known: @yearly @annually @monthly @weekly @daily @midnight @hourly)",
           (int)n, p);
    return NULL;
}

struct cron *cron_parse(const char *expr, char *err, size_t errlen)
{
    if (!expr) {
        errbuf_set(err, errlen, "no expression");
        return NULL;
    }
    const char *p = expr + strspn(expr, " \t");
    if (strlen(p) > MAX_EXPR_LEN) {
        errbuf_set(err, errlen, "expression is longer than %d characters", MAX_EXPR_LEN);
        return NULL;
    }
    if (*p == '@')
        return parse_macro(p, err, errlen);

    char text[NFIELDS][MAX_EXPR_LEN + 1];
    int n = 0;
    while (*p) {
        size_t len = strcspn(p, " \t");
        if (n < NFIELDS) {
            memcpy(text[n], p, len);
            text[n][len] = '\0';
        }
        n++;
        p += len;
        p += strspn(p, " \t");
    }
    if (n != 5 && n != 6) {
        errbuf_set(err, errlen, "expected 5 or 6 fields, got %d", n);
        return NULL;
    }
    struct cron c = { .bits = { [F_SEC] = 1 } }; /* five fields: second 0 */
    const char *ftext[NFIELDS] = { [F_SEC] = "0" };
    for (int i = 0; i < n; i++) {
        struct field_ctx fc = { .f = (enum field)(i + NFIELDS - n), .pos = i + 1, .text = text[i],
                                .err = err, .errlen = errlen };
        if (parse_field(&fc, &c.bits[fc.f]) < 0)
            return NULL;
        ftext[fc.f] = text[i];
    }
    int dom_star = ftext[F_DOM][0] == '*' || ftext[F_DOM][0] == '?';
    int dow_star = ftext[F_DOW][0] == '*' || ftext[F_DOW][0] == '?';
    c.use_or = !dom_star && !dow_star;
    c.wild = ftext[F_MIN][0] == '*' || ftext[F_HOUR][0] == '*';
    /* With "either" every month has matching days (each weekday occurs in
     * it); with "both", a day of month that exists also falls on every
     * weekday within a 400-year cycle. */
    c.never = !c.use_or && !days_exist(&c);
    struct cron *out = xmalloc(sizeof *out);
    *out = c;
    return out;
}

void cron_free(struct cron *c)
{
    free(c);
}

/* ---- search ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The lowest set bit of mask at or above from, or -1. */
static int next_bit(uint64_t mask, int from)
{
    if (from > 63)
        return -1;
    uint64_t m = mask >> from;
    return m ? from + __builtin_ctzll(m) : -1;
}

/* The days of month y-m that match (bit d for day d). */
static uint64_t day_mask(const struct cron *c, int64_t y, int m)
{
    int last = tz_days_in_month(y, m);
    uint64_t dom = c->bits[F_DOM] & (((1ull << last) - 1) << 1), dow = 0;
    int wd = tz_weekday(tz_days_from_civil(y, m, 1));
    for (int d = 1; d <= last; d++, wd = wd == 6 ? 0 : wd + 1)
        if (c->bits[F_DOW] >> wd & 1)
            dow |= 1ull << d;
    return c->use_or ? dom | dow : dom & dow;
}

/* The first wall time >= from whose fields all match, or NO_MATCH if
 * there is none below limit. Each step moves the first field that does
 * not match to its next matching value and resets the fields after it;
 * a field that runs out carries into the one before. */
static int64_t match_next(const struct cron *c, int64_t from, int64_t limit)
{
    int64_t days = floor_div(from, 86400), sod = from - days * 86400, y;
    int mon, day, h = (int)(sod / 3600), mi = (int)(sod / 60 % 60), s = (int)(sod % 60);
    tz_civil_from_days(days, &y, &mon, &day);
    int64_t mask_y = 0;
    int mask_m = 0; /* month of mask; 0: not computed yet */
    uint64_t mask = 0;
    for (;;) {
        int v = next_bit(c->bits[F_MON], mon);
        if (v != mon) {
            if (v < 0) {
                y++;
                v = next_bit(c->bits[F_MON], 1);
            }
            mon = v;
            day = 1;
            h = mi = s = 0;
            if (tz_days_from_civil(y, mon, 1) * 86400 >= limit)
                return NO_MATCH;
        }
        if (mask_m != mon || mask_y != y) {
            mask = day_mask(c, y, mon);
            mask_y = y;
            mask_m = mon;
        }
        v = next_bit(mask, day);
        if (v < 0) {
            if (++mon > 12) {
                mon = 1;
                y++;
            }
            day = 1;
            h = mi = s = 0;
            if (tz_days_from_civil(y, mon, 1) * 86400 >= limit)
                return NO_MATCH;
            continue;
        }
        if (v != day) {
            day = v;
            h = mi = s = 0;
        }
        v = next_bit(c->bits[F_HOUR], h);
        if (v < 0) {
            day++;
            h = mi = s = 0;
            continue;
        }
        if (v != h) {
            h = v;
            mi = s = 0;
        }
        v = next_bit(c->bits[F_MIN], mi);
        if (v < 0) {
            h++;
            mi = s = 0;
            continue;
        }
        if (v != mi) {
            mi = v;
            s = 0;
        }
        v = next_bit(c->bits[F_SEC], s);
        if (v < 0) {
            mi++;
            s = 0;
            continue;
        }
        int64_t w = tz_days_from_civil(y, mon, day) * 86400 + h * 3600 + mi * 60 + v;
        return w < limit ? w : NO_MATCH;
    }
}

/* The last answer of match_next: the next match at or after `from` is
 * `w`, so it is also the answer for any start in [from, w]. A rare
 * expression is then searched once, not once per offset span. */
struct memo {
    int64_t from, w;
};

static int64_t match_next_memo(const struct cron *c, struct memo *m, int64_t from, int64_t limit)
{
    if (m->from <= from && from <= m->w)
        return m->w;
    m->from = from;
    m->w = match_next(c, from, limit);
    return m->w;
}

/* The search walks the spans of constant UTC offset [a, b) from `after`
 * on. Within a span, wall = instant + off is monotonic, so the first
 * matching wall time in [max(a, t) + off, b + off) is the answer. A
 * fixed-time expression also fires at a, the end of a gap, when a skipped
 * wall time in [a + prev, a + off) matches, and skips the wall times
 * below `seen`, which happened already before a backward jump. */
int64_t cron_next(const struct cron *c, const struct tz_zone *z, int64_t after)
{
    int64_t t_min = tz_days_from_civil(1, 1, 2) * 86400;
    int64_t wall_end = tz_days_from_civil(10000, 1, 1) * 86400;
    if (c->never || after < t_min || after >= wall_end)
        return -1;
    int64_t t = after + 1, a, b;
    int32_t off = tz_span_at(z, t, &a, &b);
    int32_t prev = a == INT64_MIN ? off : tz_offset_at(z, a - 1);
    int64_t seen = a == INT64_MIN ? INT64_MIN : a + prev;
    int64_t limit = t + off + HORIZON_S;
    if (limit > wall_end)
        limit = wall_end;
    struct memo m = { INT64_MAX, INT64_MAX };
    for (;;) {
        if (!c->wild && a != INT64_MIN && a >= t && off > prev) {
            int64_t lo = a + prev > seen ? a + prev : seen;
            if (lo < a + off && match_next_memo(c, &m, lo, limit) < a + off)
                return a;
        }
        int64_t from = (a > t ? a : t) + off;
        if (!c->wild && from < seen)
            from = seen;
        int64_t w = match_next_memo(c, &m, from, limit);
        if (w == NO_MATCH)
            return -1;
        if (b == INT64_MAX || w < b + off)
            return w - off;
        if (b + off > seen)
            seen = b + off;
        prev = off;
        a = b;
        off = tz_span_at(z, a, NULL, &b);
    }
}

int cron_format_iso(int64_t t, const struct tz_zone *z, char *buf, size_t len)
{
    int32_t off = tz_offset_at(z, t);
    int64_t w = t + off, days = floor_div(w, 86400), sod = w - days * 86400, y;
    int mon, day;
    tz_civil_from_days(days, &y, &mon, &day);
    int32_t aoff = off < 0 ? -off : off;
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", (long long)y, mon, day,
                     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), off < 0 ? '-' : '+',
                     (int)(aoff / 3600), (int)(aoff / 60 % 60));
    if (aoff % 60)
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, ":%02d", (int)(aoff % 60));
    if (n < 0 || (size_t)n >= len)
        return -1;
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}
