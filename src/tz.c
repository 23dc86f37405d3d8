/* tz: time zones from TZif files (RFC 8536) with the POSIX TZ rule of
 * their footer, the offset lookups cron needs, and the Gregorian calendar.
 * Nothing here reads or changes the process-wide TZ. */
#include "tz.h"

#include "errbuf.h"
#include "xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NAME_LEN 255
#define MAX_FILE_BYTES (1u << 20) /* real zones are under 4 KiB */
#define MAX_TIMECNT 100000u
#define DEFAULT_RULE_TIME_S 7200  /* POSIX: changes happen at 02:00 unless told */
#define RULE_MAX_YEAR 10000000000ll
#define SPAN_MAX_STEPS 64 /* changes keeping the offset stepped over, beyond the table's */

/* One yearly change of a POSIX TZ rule: "Jn", "n" or "Mm.w.d", then
 * "/time" (local time of the change; may be negative or exceed 24h). */
struct rule_date {
    char kind;        /* 'J': day 1-365, Feb 29 never counted; 'D': day 0-365; 'M' */
    int n;            /* day for 'J' and 'D' */
    int mon, week, wday; /* 'M': month 1-12, week 1-5 (5 = the last), weekday 0-6 */
    int32_t secs;     /* local time of the change, seconds from midnight */
};

/* A footer rule. With has_dst, daylight time starts at `start` (given in
 * standard local time) and ends at `end` (given in daylight local time)
 * every year; start may fall after end (southern hemisphere). */
struct rule {
    int32_t std_off, dst_off; /* UTC offsets, east positive */
    int has_dst;              /* 0: std_off all the time */
    struct rule_date start, end;
};

/* Invariants: at[] strictly ascending; every offset within
 * +-TZ_MAX_OFFSET_S; with has_dst, std_off != dst_off. The rule governs
 * t >= at[n-1] (every t when n == 0); off_before holds before at[0], and
 * at all times when n == 0 and there is no rule. */
struct tz_zone {
    char *name;
    size_t n;
    int64_t *at;
    int32_t *off_after; /* offset from at[i] until the next change */
    int32_t off_before;
    int has_rule;
    struct rule rule;
};

/* ---- calendar ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Counting years from March makes the leap day the last day of a year, so
 * month lengths follow the 153/5 pattern; eras of 400 years repeat. */
int64_t tz_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int tz_weekday(int64_t days)
{
    return (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int tz_days_in_month(int64_t y, int m)
{
    static const int len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 ? 28 + is_leap(y) : len[m - 1];
}

/* ---- POSIX TZ rules (the TZif footer) ---- */

static int64_t rule_day(const struct rule_date *r, int64_t y)
{
    int64_t jan1 = tz_days_from_civil(y, 1, 1);
    switch (r->kind) {
    case 'J':
        return jan1 + r->n - 1 + (is_leap(y) && r->n >= 60);
    case 'D':
        return jan1 + r->n;
    default: {
        int64_t first = tz_days_from_civil(y, r->mon, 1);
        int d = (r->wday - tz_weekday(first) + 7) % 7 + 7 * (r->week - 1);
        while (d >= tz_days_in_month(y, r->mon)) /* week 5: the last one */
            d -= 7;
        return first + d;
    }
    }
}

/* The instants daylight time starts and ends in year y. */
static void rule_changes(const struct rule *r, int64_t y, int64_t *start, int64_t *end)
{
    *start = rule_day(&r->start, y) * 86400 + r->start.secs - r->std_off;
    *end = rule_day(&r->end, y) * 86400 + r->end.secs - r->dst_off;
}

/* t's year, clamped so that the changes of the years around it still fit
 * in an int64_t of seconds. */
static int64_t year_of(int64_t t)
{
    int64_t y;
    int m, d;
    tz_civil_from_days(floor_div(t, 86400), &y, &m, &d);
    return y < -RULE_MAX_YEAR ? -RULE_MAX_YEAR : y > RULE_MAX_YEAR ? RULE_MAX_YEAR : y;
}

/* A change may spill up to 167 hours past its year, so the years either
 * side of t's are looked at too. */
static int32_t rule_offset(const struct rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t y = year_of(t), best = INT64_MIN;
    int32_t off = r->std_off;
    for (int64_t yy = y - 2; yy <= y + 1; yy++) {
        int64_t s, e;
        rule_changes(r, yy, &s, &e);
        if (e <= t && e > best) {
            best = e;
            off = r->std_off;
        }
        if (s <= t && s >= best) { /* a tie means daylight time all year */
            best = s;
            off = r->dst_off;
        }
    }
    return off;
}

static int64_t rule_next(const struct rule *r, int64_t t)
{
    int64_t y = year_of(t), best = INT64_MAX;
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        int64_t s, e;
        rule_changes(r, yy, &s, &e);
        if (s > t && s < best)
            best = s;
        if (e > t && e < best)
            best = e;
    }
    return best;
}

static int64_t rule_prev(const struct rule *r, int64_t t)
{
    int64_t y = year_of(t), best = INT64_MIN;
    for (int64_t yy = y - 2; yy <= y + 1; yy++) {
        int64_t s, e;
        rule_changes(r, yy, &s, &e);
        if (s <= t && s > best)
            best = s;
        if (e <= t && e > best)
            best = e;
    }
    return best;
}

static int parse_num(const char **pp, int maxdigits, int *out)
{
    const char *p = *pp;
    int v = 0, n = 0;
    while (isdigit((unsigned char)*p) && n < maxdigits) {
        v = v * 10 + (*p++ - '0');
        n++;
    }
    if (n == 0)
        return -1;
    *pp = p;
    *out = v;
    return 0;
}

/* [+-]h[h[h]][:mm[:ss]] with hours up to max_h, in seconds. */
static int parse_hms(const char **pp, int max_h, int32_t *out)
{
    const char *p = *pp;
    int sign = 1, h, m = 0, s = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (parse_num(&p, 3, &h) < 0 || h > max_h)
        return -1;
    if (*p == ':') {
        p++;
        if (parse_num(&p, 2, &m) < 0 || m > 59)
            return -1;
        if (*p == ':') {
            p++;
            if (parse_num(&p, 2, &s) < 0 || s > 59)
                return -1;
        }
    }
    *pp = p;
    *out = sign * (h * 3600 + m * 60 + s);
    return 0;
}

/* An abbreviation: letters, or <...> quoting digits and signs too. */
static int parse_abbr(const char **pp)
{
    const char *p = *pp, *start;
    if (*p == '<') {
        start = ++p;
        while (isalnum((unsigned char)*p) || *p == '+' || *p == '-')
            p++;
        if (*p != '>' || p == start)
            return -1;
        p++;
    } else {
        start = p;
        while (isalpha((unsigned char)*p))
            p++;
        if (p == start)
            return -1;
    }
    *pp = p;
    return 0;
}

static int parse_rule_date(const char **pp, struct rule_date *r)
{
    const char *p = *pp;
    memset(r, 0, sizeof *r);
    if (*p == 'J') {
        p++;
        r->kind = 'J';
        if (parse_num(&p, 3, &r->n) < 0 || r->n < 1 || r->n > 365)
            return -1;
    } else if (*p == 'M') {
        p++;
        r->kind = 'M';
        if (parse_num(&p, 2, &r->mon) < 0 || r->mon < 1 || r->mon > 12 || *p++ != '.' ||
            parse_num(&p, 1, &r->week) < 0 || r->week < 1 || r->week > 5 || *p++ != '.' ||
            parse_num(&p, 1, &r->wday) < 0 || r->wday > 6)
            return -1;
    } else {
        r->kind = 'D';
        if (parse_num(&p, 3, &r->n) < 0 || r->n > 365)
            return -1;
    }
    r->secs = DEFAULT_RULE_TIME_S;
    if (*p == '/') {
        p++;
        if (parse_hms(&p, 167, &r->secs) < 0) /* RFC 8536 allows -167..167 hours */
            return -1;
    }
    *pp = p;
    return 0;
}

static int offset_ok(int32_t off)
{
    return off > -TZ_MAX_OFFSET_S && off < TZ_MAX_OFFSET_S;
}

/* "STD offset [DST [offset] [,start[/time],end[/time]]]". POSIX offsets
 * count west of Greenwich, so "CET-1" is UTC+1. Without a rule, the US
 * one of 2007 applies, as in glibc. 0 or -1. */
static int parse_posix_tz(const char *s, struct rule *r)
{
    const char *p = s;
    int32_t off;
    memset(r, 0, sizeof *r);
    if (parse_abbr(&p) < 0 || parse_hms(&p, 24, &off) < 0)
        return -1;
    r->std_off = -off;
    if (*p == '\0')
        return offset_ok(r->std_off) ? 0 : -1;
    if (parse_abbr(&p) < 0)
        return -1;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*p == '+' || *p == '-' || isdigit((unsigned char)*p)) {
        if (parse_hms(&p, 24, &off) < 0)
            return -1;
        r->dst_off = -off;
    }
    if (*p == ',') {
        p++;
        if (parse_rule_date(&p, &r->start) < 0 || *p++ != ',' || parse_rule_date(&p, &r->end) < 0)
            return -1;
    } else {
        r->start = (struct rule_date){ .kind = 'M', .mon = 3, .week = 2, .wday = 0, .secs = DEFAULT_RULE_TIME_S };
        r->end = (struct rule_date){ .kind = 'M', .mon = 11, .week = 1, .wday = 0, .secs = DEFAULT_RULE_TIME_S };
    }
    if (*p != '\0' || !offset_ok(r->std_off) || !offset_ok(r->dst_off))
        return -1;
    if (r->dst_off == r->std_off) /* changes that change nothing */
        r->has_dst = 0;
    return 0;
}

/* ---- TZif ---- */

struct tzif_header {
    char version; /* '\0' for version 1, else '2', '3', '4' ... */
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

#define TZIF_HEADER_BYTES 44

static int read_header(const uint8_t *p, size_t left, struct tzif_header *h)
{
    if (left < TZIF_HEADER_BYTES || memcmp(p, "TZif", 4) != 0)
        return -1;
    h->version = (char)p[4];
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    return 0;
}

/* Bytes of the data block after header h, whose times take tsize bytes. */
static size_t block_bytes(const struct tzif_header *h, size_t tsize)
{
    return (size_t)h->timecnt * (tsize + 1) + (size_t)h->typecnt * 6 + h->charcnt +
           (size_t)h->leapcnt * (tsize + 4) + h->isstdcnt + h->isutcnt;
}

/* Fills z from the data block at p (described by h, times of tsize
 * bytes). Returns NULL on success, else what is wrong. */
static const char *read_block(struct tz_zone *z, const struct tzif_header *h, const uint8_t *p,
                              size_t tsize)
{
    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 || h->timecnt > MAX_TIMECNT)
        return "bad counts";
    if ((h->isutcnt && h->isutcnt != h->typecnt) || (h->isstdcnt && h->isstdcnt != h->typecnt))
        return "bad counts";
    if (h->leapcnt)
        return "it has leap seconds (a \"right/\" zone), which are not supported";
    const uint8_t *times = p, *idx = p + (size_t)h->timecnt * tsize, *types = idx + h->timecnt;
    int32_t offs[256];
    for (uint32_t i = 0; i < h->typecnt; i++) {
        const uint8_t *t = types + 6 * (size_t)i;
        offs[i] = (int32_t)be32(t);
        if (!offset_ok(offs[i]) || t[4] > 1 || t[5] >= h->charcnt)
            return "bad local time type";
    }
    z->n = h->timecnt;
    z->at = xmalloc((z->n ? z->n : 1) * sizeof *z->at);
    z->off_after = xmalloc((z->n ? z->n : 1) * sizeof *z->off_after);
    z->off_before = offs[0]; /* RFC 8536: type 0 holds before the first transition */
    for (size_t i = 0; i < z->n; i++) {
        z->at[i] = tsize == 8 ? be64(times + 8 * i) : (int64_t)(int32_t)be32(times + 4 * i);
        if (i > 0 && z->at[i] <= z->at[i - 1])
            return "transition times out of order";
        if (idx[i] >= h->typecnt)
            return "bad type index";
        z->off_after[i] = offs[idx[i]];
    }
    return NULL;
}

static struct tz_zone *zone_new(const char *name)
{
    struct tz_zone *z = xcalloc(1, sizeof *z);
    z->name = xstrdup(name ? name : "");
    return z;
}

struct tz_zone *tz_parse(const void *data, size_t len, const char *name, char *err, size_t errlen)
{
    const uint8_t *p = data;
    struct tzif_header h;
    const char *why = NULL;
    struct tz_zone *z = zone_new(name);
    if (read_header(p, len, &h) < 0) {
        why = "not a TZif file";
        goto fail;
    }
    size_t v1 = TZIF_HEADER_BYTES + block_bytes(&h, 4);
    if (v1 > len) {
        why = "truncated";
        goto fail;
    }
    if (h.version == '\0') {
        why = read_block(z, &h, p + TZIF_HEADER_BYTES, 4);
        if (why)
            goto fail;
        return z;
    }
    /* Version 2+: a second header and block with 64-bit times, then the
     * footer "\n<POSIX TZ string>\n". */
    const uint8_t *q = p + v1;
    size_t left = len - v1;
    if (read_header(q, left, &h) < 0) {
        why = "no second header";
        goto fail;
    }
    size_t v2 = TZIF_HEADER_BYTES + block_bytes(&h, 8);
    if (v2 > left) {
        why = "truncated";
        goto fail;
    }
    why = read_block(z, &h, q + TZIF_HEADER_BYTES, 8);
    if (why)
        goto fail;
    const char *foot = (const char *)q + v2, *end = (const char *)p + len;
    const char *nl = foot < end && *foot == '\n' ? memchr(foot + 1, '\n', (size_t)(end - foot - 1)) : NULL;
    if (!nl) {
        why = "no footer";
        goto fail;
    }
    if (nl > foot + 1) {
        char tzstr[128];
        size_t n = (size_t)(nl - foot - 1);
        if (n >= sizeof tzstr || memchr(foot + 1, '\0', n)) {
            why = "bad footer";
            goto fail;
        }
        memcpy(tzstr, foot + 1, n);
        tzstr[n] = '\0';
        if (parse_posix_tz(tzstr, &z->rule) < 0) {
            why = "bad footer";
            goto fail;
        }
        z->has_rule = 1;
    }
    return z;

fail:
    errbuf_set(err, errlen, "time zone \"%s\": %s", z->name, why);
    tz_free(z);
    return NULL;
}

struct tz_zone *tz_utc(void)
{
    struct tz_zone *z = zone_new("UTC");
    z->at = xmalloc(sizeof *z->at);
    z->off_after = xmalloc(sizeof *z->off_after);
    return z;
}

/* 0 if name may be looked up under TZ_DIR, else -1 and why in err. */
static int check_name(const char *name, char *err, size_t errlen)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0) {
        errbuf_set(err, errlen, "time zone name is empty");
        return -1;
    }
    if (len > MAX_NAME_LEN) {
        errbuf_set(err, errlen, "time zone name is longer than %d characters", MAX_NAME_LEN);
        return -1;
    }
    for (const char *c = name; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        if (!isalnum(ch) && !strchr("_+-/.", ch)) {
            if (isprint(ch))
                errbuf_set(err, errlen, "time zone name \"%s\": character '%c' is not allowed (A-Z a-z 0-9 _ + - /)",
                       name, ch);
            else
                errbuf_set(err, errlen, "time zone name: byte 0x%02x is not allowed (A-Z a-z 0-9 _ + - /)", ch);
            return -1;
        }
    }
    if (name[0] == '/') {
        errbuf_set(err, errlen, "time zone name \"%s\": absolute paths are not allowed", name);
        return -1;
    }
    if (strstr(name, "..")) {
        errbuf_set(err, errlen, "time zone name \"%s\": \"..\" is not allowed", name);
        return -1;
    }
    if (strchr(name, '.')) {
        errbuf_set(err, errlen, "time zone name \"%s\": character '.' is not allowed (A-Z a-z 0-9 _ + - /)", name);
        return -1;
    }
    return 0;
}

/* All of fd, up to MAX_FILE_BYTES; caller frees. NULL with errno set. */
static uint8_t *read_fd(int fd, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return NULL;
    if (S_ISDIR(st.st_mode)) {
        errno = ENOENT; /* "Europe" is a folder of zones, not a zone */
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > (off_t)MAX_FILE_BYTES) {
        errno = EFBIG;
        return NULL;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    uint8_t *buf = xmalloc(cap + 1);
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return buf;
}

struct tz_zone *tz_load(const char *name, char *err, size_t errlen)
{
    if (check_name(name, err, errlen) < 0)
        return NULL;
    char path[sizeof TZ_DIR + MAX_NAME_LEN + 2];
    snprintf(path, sizeof path, "%s/%s", TZ_DIR, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    uint8_t *data = NULL;
    int e = 0;
    if (fd >= 0) {
        data = read_fd(fd, &len);
        e = errno;
        close(fd);
    } else {
        e = errno;
    }
    if (!data) {
        if (e == ENOENT || e == ENOTDIR) {
            if (strcmp(name, "UTC") == 0)
                return tz_utc();
            errbuf_set(err, errlen, "unknown time zone \"%s\" (not in %s)", name, TZ_DIR);
        } else {
            char buf[128];
            errbuf_set(err, errlen, "time zone \"%s\": cannot read %s: %s", name, path,
                   strerror_r(e, buf, sizeof buf));
        }
        return NULL;
    }
    struct tz_zone *z = tz_parse(data, len, name, err, errlen);
    free(data);
    return z;
}

void tz_free(struct tz_zone *z)
{
    if (!z)
        return;
    free(z->name);
    free(z->at);
    free(z->off_after);
    free(z);
}

const char *tz_name(const struct tz_zone *z)
{
    return z->name;
}

/* ---- lookups ---- */

/* How many transitions are at or before t. */
static size_t count_le(const struct tz_zone *z, int64_t t)
{
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int rule_governs(const struct tz_zone *z, int64_t t)
{
    return z->has_rule && (z->n == 0 || t >= z->at[z->n - 1]);
}

int32_t tz_offset_at(const struct tz_zone *z, int64_t t)
{
    if (rule_governs(z, t))
        return rule_offset(&z->rule, t);
    size_t i = count_le(z, t);
    return i == 0 ? z->off_before : z->off_after[i - 1];
}

/* The first change (of offset or not) after t, or INT64_MAX. */
static int64_t change_after(const struct tz_zone *z, int64_t t)
{
    size_t i = count_le(z, t);
    if (i < z->n)
        return z->at[i];
    if (z->has_rule && z->rule.has_dst)
        return rule_next(&z->rule, t);
    return INT64_MAX;
}

/* The last change at or before t, or INT64_MIN. */
static int64_t change_at_or_before(const struct tz_zone *z, int64_t t)
{
    if (rule_governs(z, t) && z->rule.has_dst) {
        int64_t p = rule_prev(&z->rule, t);
        if (z->n == 0 || p >= z->at[z->n - 1])
            return p;
    }
    size_t i = count_le(z, t);
    return i ? z->at[i - 1] : INT64_MIN;
}

int32_t tz_span_at(const struct tz_zone *z, int64_t t, int64_t *start, int64_t *end)
{
    int32_t off = tz_offset_at(z, t);
    /* Changes that keep the offset (only the abbreviation or the isdst
     * flag changes) are stepped over. The table holds n of them at most and
     * a rule alternates between two offsets, except the one that keeps
     * daylight time all year ("EST5EDT,0/0,J365/25"): the step limit ends
     * the walk there, at a change that keeps the offset. */
    size_t steps = z->n + SPAN_MAX_STEPS;
    int64_t e = t;
    do
        e = change_after(z, e);
    while (e != INT64_MAX && tz_offset_at(z, e) == off && --steps);
    *end = e;
    if (!start)
        return off;
    int64_t s = t;
    steps = z->n + SPAN_MAX_STEPS;
    for (;;) {
        int64_t p = change_at_or_before(z, s);
        if (p == INT64_MIN || tz_offset_at(z, p - 1) != off || --steps == 0) {
            s = p;
            break;
        }
        s = p - 1;
    }
    *start = s;
    return off;
}

int64_t tz_local_to_utc(const struct tz_zone *z, int64_t wall)
{
    /* Every instant showing wall lies within TZ_MAX_OFFSET_S of it: walk
     * the spans of constant offset from there, in time order. */
    int64_t t = wall - TZ_MAX_OFFSET_S, s, e;
    int32_t prev = 0;
    int have_prev = 0;
    for (;;) {
        int32_t off = tz_span_at(z, t, &s, &e);
        if (have_prev && off > prev && wall >= s + prev && wall < s + off)
            return s; /* skipped: the gap ends at s */
        int64_t c = wall - off;
        if (c >= s && c < e)
            return c;
        if (e == INT64_MAX || e > wall + TZ_MAX_OFFSET_S)
            return c; /* not reached with offsets within TZ_MAX_OFFSET_S */
        prev = off;
        have_prev = 1;
        t = e;
    }
}

/* n digits at *pp into *out. */
static int fixed_digits(const char **pp, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*pp)[i]))
            return -1;
        v = v * 10 + ((*pp)[i] - '0');
    }
    *pp += n;
    *out = v;
    return 0;
}

int tz_parse_iso(const char *s, const struct tz_zone *z, int64_t *out)
{
    const char *p = s;
    int y, mo, d, h, mi, sec = 0;
    if (!p || fixed_digits(&p, 4, &y) < 0 || *p++ != '-' || fixed_digits(&p, 2, &mo) < 0 || *p++ != '-' ||
        fixed_digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (fixed_digits(&p, 2, &h) < 0 || *p++ != ':' || fixed_digits(&p, 2, &mi) < 0)
        return -1;
    if (*p == ':') {
        p++;
        if (fixed_digits(&p, 2, &sec) < 0)
            return -1;
        if (*p == '.' || *p == ',') {
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > tz_days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return -1;
    int64_t wall = tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    if (*p == '\0') {
        *out = tz_local_to_utc(z, wall);
        return 0;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        *out = wall;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -1;
    int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
    if (fixed_digits(&p, 2, &oh) < 0)
        return -1;
    if (*p == ':')
        p++;
    if (*p && fixed_digits(&p, 2, &om) < 0)
        return -1;
    if (*p || oh > 23 || om > 59)
        return -1;
    *out = wall - sign * (oh * 3600 + om * 60);
    return 0;
}
