/* test_tz: time zones from TZif files — names refused, offsets and spans,
 * local times in gaps and overlaps, the POSIX footer rule, malformed files,
 * and every offset cross-checked against glibc's localtime_r with TZ set
 * (fine here: a test process is single-threaded; the server never does). */
#include "check_main.h"
#include "tz.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "2026-03-29T01:00:00Z" or with "+hh:mm" / "-hh:mm". */
static int64_t at(const char *iso)
{
    struct tm tm = { 0 };
    char sign = 'Z';
    int oh = 0, om = 0;
    int n = sscanf(iso, "%d-%d-%dT%d:%d:%d%c%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                   &tm.tm_sec, &sign, &oh, &om);
    ck_assert_msg(n == 7 || n == 9, "bad test time %s", iso);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t off = (sign == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    return (int64_t)timegm(&tm) - (sign == 'Z' ? 0 : off);
}

static struct tz_zone *load(const char *name)
{
    char err[256] = "";
    struct tz_zone *z = tz_load(name, err, sizeof err);
    ck_assert_msg(z != NULL, "%s: %s", name, err);
    ck_assert_str_eq(tz_name(z), name);
    return z;
}

static void expect_load_error(const char *name, const char *want)
{
    char err[256] = "";
    struct tz_zone *z = tz_load(name, err, sizeof err);
    ck_assert_msg(z == NULL, "%s loaded", name ? name : "(null)");
    ck_assert_str_eq(err, want);
}

START_TEST(refuses_bad_names)
{
    expect_load_error("", "time zone name is empty");
    expect_load_error(NULL, "time zone name is empty");
    expect_load_error("/etc/localtime", "time zone name \"/etc/localtime\": absolute paths are not allowed");
    expect_load_error("../../etc/passwd", "time zone name \"../../etc/passwd\": \"..\" is not allowed");
    expect_load_error("Europe/../../../etc/passwd",
                      "time zone name \"Europe/../../../etc/passwd\": \"..\" is not allowed");
    expect_load_error("zone.tab", "time zone name \"zone.tab\": character '.' is not allowed (A-Z a-z 0-9 _ + - /)");
    expect_load_error("Europe/Berlin;ls",
                      "time zone name \"Europe/Berlin;ls\": character ';' is not allowed (A-Z a-z 0-9 _ + - /)");
    expect_load_error("Europe/Ber lin",
                      "time zone name \"Europe/Ber lin\": character ' ' is not allowed (A-Z a-z 0-9 _ + - /)");
    expect_load_error("Europe/\nBerlin", "time zone name: byte 0x0a is not allowed (A-Z a-z 0-9 _ + - /)");
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    expect_load_error(longname, "time zone name is longer than 255 characters");
    expect_load_error("Mars/Olympus_Mons", "unknown time zone \"Mars/Olympus_Mons\" (not in " TZ_DIR ")");
    expect_load_error("Europe", "unknown time zone \"Europe\" (not in " TZ_DIR ")");
    expect_load_error("Europe/Berlin/x", "unknown time zone \"Europe/Berlin/x\" (not in " TZ_DIR ")");
    /* a NULL err is allowed */
    ck_assert_ptr_null(tz_load("Nowhere", NULL, 0));
}
END_TEST

START_TEST(known_offsets)
{
    static const struct {
        const char *zone, *when;
        int32_t off;
    } cases[] = {
        { "Europe/Berlin", "2026-01-15T12:00:00Z", 3600 },
        { "Europe/Berlin", "2026-07-15T12:00:00Z", 7200 },
        { "Europe/Berlin", "2026-03-29T00:59:59Z", 3600 },
        { "Europe/Berlin", "2026-03-29T01:00:00Z", 7200 },
        { "Europe/Berlin", "2026-10-25T00:59:59Z", 7200 },
        { "Europe/Berlin", "2026-10-25T01:00:00Z", 3600 },
        { "Australia/Sydney", "2026-01-15T00:00:00Z", 39600 },
        { "Australia/Sydney", "2026-07-15T00:00:00Z", 36000 },
        { "Australia/Sydney", "2026-04-04T15:59:59Z", 39600 },
        { "Australia/Sydney", "2026-04-04T16:00:00Z", 36000 },
        { "Australia/Sydney", "2026-10-03T16:00:00Z", 39600 },
        { "America/New_York", "2026-03-08T06:59:59Z", -18000 },
        { "America/New_York", "2026-03-08T07:00:00Z", -14400 },
        { "America/New_York", "2026-11-01T06:00:00Z", -18000 },
        { "Asia/Kolkata", "2026-06-01T00:00:00Z", 19800 },
        { "Australia/Lord_Howe", "2026-01-15T00:00:00Z", 39600 },
        { "Australia/Lord_Howe", "2026-07-15T00:00:00Z", 37800 },
        { "Australia/Lord_Howe", "2026-10-03T15:30:00Z", 39600 },
        /* after the table of the file (2037): the footer rule */
        { "Europe/Berlin", "2077-07-01T00:00:00Z", 7200 },
        { "Europe/Berlin", "2077-12-01T00:00:00Z", 3600 },
        { "Australia/Sydney", "2091-01-01T00:00:00Z", 39600 },
        { "UTC", "2026-07-15T12:00:00Z", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tz_zone *z = load(cases[i].zone);
        ck_assert_msg(tz_offset_at(z, at(cases[i].when)) == cases[i].off, "%s at %s: %d, want %d", cases[i].zone,
                      cases[i].when, tz_offset_at(z, at(cases[i].when)), cases[i].off);
        tz_free(z);
    }
    tz_free(NULL);
}
END_TEST

START_TEST(spans)
{
    struct tz_zone *z = load("Europe/Berlin");
    int64_t s, e;
    ck_assert_int_eq(tz_span_at(z, at("2026-06-01T00:00:00Z"), &s, &e), 7200);
    ck_assert_int_eq(s, at("2026-03-29T01:00:00Z"));
    ck_assert_int_eq(e, at("2026-10-25T01:00:00Z"));
    ck_assert_int_eq(tz_span_at(z, at("2026-10-25T01:00:00Z"), &s, &e), 3600);
    ck_assert_int_eq(s, at("2026-10-25T01:00:00Z"));
    ck_assert_int_eq(e, at("2027-03-28T01:00:00Z"));
    /* from the rule, after the file's table ends */
    ck_assert_int_eq(tz_span_at(z, at("2050-01-01T00:00:00Z"), &s, &e), 3600);
    ck_assert_int_eq(s, at("2049-10-31T01:00:00Z"));
    ck_assert_int_eq(e, at("2050-03-27T01:00:00Z"));
    tz_free(z);

    z = load("Asia/Kolkata"); /* no change since 1945 */
    ck_assert_int_eq(tz_span_at(z, at("2026-06-01T00:00:00Z"), &s, &e), 19800);
    ck_assert_int_eq(e, INT64_MAX);
    ck_assert_int_lt(s, at("1946-01-01T00:00:00Z"));
    tz_free(z);

    z = tz_utc();
    ck_assert_str_eq(tz_name(z), "UTC");
    ck_assert_int_eq(tz_span_at(z, 0, &s, &e), 0);
    ck_assert_int_eq(s, INT64_MIN);
    ck_assert_int_eq(e, INT64_MAX);
    tz_free(z);
}
END_TEST

START_TEST(local_to_utc)
{
    static const struct {
        const char *zone, *local, *want;
    } cases[] = {
        { "Europe/Berlin", "2026-07-01T12:00:00Z", "2026-07-01T10:00:00Z" },
        /* the skipped 02:30 maps to the end of the gap */
        { "Europe/Berlin", "2026-03-29T02:30:00Z", "2026-03-29T01:00:00Z" },
        { "Europe/Berlin", "2026-03-29T02:00:00Z", "2026-03-29T01:00:00Z" },
        { "Europe/Berlin", "2026-03-29T03:00:00Z", "2026-03-29T01:00:00Z" },
        { "Europe/Berlin", "2026-03-29T01:59:59Z", "2026-03-29T00:59:59Z" },
        /* the repeated 02:30 maps to its first occurrence (still +02:00) */
        { "Europe/Berlin", "2026-10-25T02:30:00Z", "2026-10-25T00:30:00Z" },
        { "Europe/Berlin", "2026-10-25T03:00:00Z", "2026-10-25T02:00:00Z" },
        { "Australia/Sydney", "2026-10-04T02:15:00Z", "2026-10-03T16:00:00Z" },
        { "Australia/Sydney", "2026-04-05T02:15:00Z", "2026-04-04T15:15:00Z" },
        { "Australia/Lord_Howe", "2026-10-04T02:10:00Z", "2026-10-03T15:30:00Z" },
        { "Australia/Lord_Howe", "2026-04-05T01:45:00Z", "2026-04-04T14:45:00Z" },
        { "Asia/Kolkata", "2026-01-01T05:30:00Z", "2026-01-01T00:00:00Z" },
        { "America/New_York", "2026-11-01T01:30:00Z", "2026-11-01T05:30:00Z" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tz_zone *z = load(cases[i].zone);
        int64_t got = tz_local_to_utc(z, at(cases[i].local));
        ck_assert_msg(got == at(cases[i].want), "%s %s: %lld, want %lld", cases[i].zone, cases[i].local,
                      (long long)got, (long long)at(cases[i].want));
        tz_free(z);
    }
}
END_TEST

START_TEST(parse_iso)
{
    struct tz_zone *z = load("Europe/Berlin");
    static const struct {
        const char *in, *want;
    } ok[] = {
        { "2026-03-29T01:59:00+01:00", "2026-03-29T00:59:00Z" },
        { "2026-03-29T00:59:00Z", "2026-03-29T00:59:00Z" },
        { "2026-03-29t00:59:00z", "2026-03-29T00:59:00Z" },
        { "2026-03-29 00:59:00-0130", "2026-03-29T02:29:00Z" },
        { "2026-03-29T00:59:00+05", "2026-03-28T19:59:00Z" },
        { "2026-03-29T00:59:00.999Z", "2026-03-29T00:59:00Z" },
        { "2026-03-29T00:59Z", "2026-03-29T00:59:00Z" },
        /* local times in the zone: plain, skipped, repeated */
        { "2026-07-01T12:00:00", "2026-07-01T10:00:00Z" },
        { "2026-07-01T12:00", "2026-07-01T10:00:00Z" },
        { "2026-03-29T02:30:00", "2026-03-29T01:00:00Z" },
        { "2026-10-25T02:30:00", "2026-10-25T00:30:00Z" },
        { "2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z" },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t t = -1;
        ck_assert_msg(tz_parse_iso(ok[i].in, z, &t) == 0, "%s refused", ok[i].in);
        ck_assert_msg(t == at(ok[i].want), "%s: %lld, want %s", ok[i].in, (long long)t, ok[i].want);
    }
    static const char *const bad[] = {
        "", "2026", "2026-03-29", "2026-03-29T", "2026-3-29T00:00:00Z", "2026-03-29T0:00:00Z",
        "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z",
        "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z",
        "0000-01-01T00:00:00Z", "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:60",
        "2026-01-01T00:00:00+1", "2026-01-01T00:00:00Zjunk", "2026-01-01T00:00:00 ", "2026-01-01T00:00:00.Z",
        "2026-01-01X00:00:00Z", "yesterday", NULL,
    };
    for (int i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        int64_t t = 42;
        ck_assert_msg(tz_parse_iso(bad[i], z, &t) == -1, "\"%s\" accepted", bad[i] ? bad[i] : "(null)");
        ck_assert_int_eq(t, 42);
    }
    tz_free(z);
}
END_TEST

START_TEST(calendar)
{
    /* against timegm/gmtime over 1600..2400, a day at a time in steps */
    for (int64_t days = -135000; days < 157000; days += 13) {
        int64_t y;
        int m, d;
        tz_civil_from_days(days, &y, &m, &d);
        time_t tt = (time_t)(days * 86400);
        struct tm tm;
        gmtime_r(&tt, &tm);
        ck_assert_msg(y == tm.tm_year + 1900 && m == tm.tm_mon + 1 && d == tm.tm_mday, "day %lld", (long long)days);
        ck_assert_int_eq(tz_weekday(days), tm.tm_wday);
        ck_assert_int_eq(tz_days_from_civil(y, m, d), days);
    }
    ck_assert_int_eq(tz_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(tz_days_from_civil(2000, 3, 1), 11017);
    ck_assert_int_eq(tz_days_in_month(2024, 2), 29);
    ck_assert_int_eq(tz_days_in_month(2100, 2), 28);
    ck_assert_int_eq(tz_days_in_month(2000, 2), 29);
    ck_assert_int_eq(tz_days_in_month(2026, 4), 30);
}
END_TEST

/* ---- TZif files made here ---- */

static size_t put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return 4;
}

/* A version 2 file with one time type (offset off) and no transitions,
 * then footer. Returns its length. */
static size_t make_tzif(uint8_t *buf, int32_t off, const char *footer)
{
    size_t n = 0;
    for (int part = 0; part < 2; part++) {
        memcpy(buf + n, "TZif2", 5);
        memset(buf + n + 5, 0, 15);
        n += 20;
        n += put32(buf + n, 0); /* isutcnt */
        n += put32(buf + n, 0); /* isstdcnt */
        n += put32(buf + n, 0); /* leapcnt */
        n += put32(buf + n, 0); /* timecnt */
        n += put32(buf + n, 1); /* typecnt */
        n += put32(buf + n, 4); /* charcnt */
        n += put32(buf + n, (uint32_t)off);
        buf[n++] = 0;
        buf[n++] = 0;
        memcpy(buf + n, "XXX", 4);
        n += 4;
    }
    n += (size_t)sprintf((char *)buf + n, "\n%s\n", footer);
    return n;
}

static int32_t glibc_offset(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    ck_assert_ptr_nonnull(localtime_r(&tt, &tm));
    return (int32_t)tm.tm_gmtoff;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* n random instants in [lo, hi) plus every offset change in it and the
 * seconds either side: tz_offset_at against glibc with TZ=tzvar. */
static long cross_check(const struct tz_zone *z, const char *tzvar, int64_t lo, int64_t hi, int n)
{
    long checked = 0;
    setenv("TZ", tzvar, 1);
    tzset();
    for (int i = 0; i < n; i++) {
        int64_t t = lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
        ck_assert_msg(tz_offset_at(z, t) == glibc_offset(t), "%s at %lld: %d, glibc %d", tzvar, (long long)t,
                      tz_offset_at(z, t), glibc_offset(t));
        checked++;
    }
    int64_t s, e;
    for (int64_t t = lo; t < hi; t = e) {
        int32_t off = tz_span_at(z, t, &s, &e);
        ck_assert_msg(s <= t && t < e, "%s: span [%lld, %lld) misses %lld", tzvar, (long long)s, (long long)e,
                      (long long)t);
        ck_assert_msg(off == glibc_offset(t), "%s at %lld: %d, glibc %d", tzvar, (long long)t, off,
                      glibc_offset(t));
        if (e == INT64_MAX)
            break;
        ck_assert_msg(glibc_offset(e - 1) == off && glibc_offset(e) == tz_offset_at(z, e) &&
                          tz_offset_at(z, e) != off,
                      "%s: change at %lld: %d -> %d, glibc %d -> %d", tzvar, (long long)e, off, tz_offset_at(z, e),
                      glibc_offset(e - 1), glibc_offset(e));
        checked += 3;
    }
    unsetenv("TZ");
    tzset();
    return checked;
}

START_TEST(footer_rules_match_glibc)
{
    static const char *const rules[] = {
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "AEST-10AEDT,M10.1.0,M4.1.0/3",
        "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
        "EST5EDT,M3.2.0,M11.1.0",
        "IST-5:30",
        "<+0545>-5:45",
        "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", /* negative change times */
        "<-01>1<+00>,M3.5.0/0,M10.5.0/1",
        "XXX3YYY,J60/2,J300/2",
        "XXX-2YYY,59/2,299/2",
        "NZST-12NZDT,M9.5.0,M4.1.0/3",
        "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
        "AAA-3BBB-2:30:15,M4.1.0/26,M9.5.0/27",
    };
    int64_t lo = at("1971-01-01T00:00:00Z"), hi = at("2120-01-01T00:00:00Z");
    long checked = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        uint8_t buf[512];
        char err[256] = "";
        size_t len = make_tzif(buf, 0, rules[i]);
        struct tz_zone *z = tz_parse(buf, len, rules[i], err, sizeof err);
        ck_assert_msg(z != NULL, "%s: %s", rules[i], err);
        checked += cross_check(z, rules[i], lo, hi, 5000);
        tz_free(z);
    }
    /* No rule: we take the US one of 2007, as glibc does from 2007 on
     * (before, glibc follows the history in its posixrules file). */
    uint8_t buf[512];
    size_t len = make_tzif(buf, 0, "PST8PDT");
    struct tz_zone *z = tz_parse(buf, len, "PST8PDT", NULL, 0);
    ck_assert_ptr_nonnull(z);
    checked += cross_check(z, "PST8PDT", at("2008-01-01T00:00:00Z"), hi, 5000);
    tz_free(z);
    ck_assert_int_gt(checked, 80000);
}
END_TEST

START_TEST(zone_files_match_glibc)
{
    static const char *const zones[] = {
        "Europe/Berlin", "Europe/London", "Europe/Dublin", "America/New_York", "America/Sao_Paulo",
        "America/St_Johns", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata", "Asia/Kathmandu",
        "Pacific/Chatham", "Pacific/Apia", "Africa/Casablanca", "America/Santiago", "Asia/Tehran", "UTC",
    };
    /* 1850..2150: local mean time, the table, and the footer after 2037 */
    int64_t lo = at("1850-01-01T00:00:00Z"), hi = at("2150-01-01T00:00:00Z");
    long checked = 0;
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        struct tz_zone *z = load(zones[i]);
        checked += cross_check(z, zones[i], lo, hi, 20000);
        tz_free(z);
    }
    ck_assert_int_gt(checked, 300000);
}
END_TEST

/* Every zone of the database loads and agrees with glibc. */
START_TEST(every_zone_loads)
{
    FILE *f = fopen(TZ_DIR "/zone1970.tab", "r");
    ck_assert_msg(f != NULL, "cannot read " TZ_DIR "/zone1970.tab (apt-get install tzdata)");
    char line[1024];
    int zones = 0;
    long checked = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char *save = NULL, *cc = strtok_r(line, "\t\n", &save), *coord = strtok_r(NULL, "\t\n", &save),
             *name = strtok_r(NULL, "\t\n", &save);
        if (!cc || !coord || !name)
            continue;
        struct tz_zone *z = load(name);
        checked += cross_check(z, name, at("1900-01-01T00:00:00Z"), at("2100-01-01T00:00:00Z"), 50);
        tz_free(z);
        zones++;
    }
    fclose(f);
    ck_assert_int_gt(zones, 300);
    ck_assert_int_gt(checked, 50000);
}
END_TEST

static void expect_parse_error(const void *data, size_t len, const char *want)
{
    char err[256] = "";
    struct tz_zone *z = tz_parse(data, len, "Test/Zone", err, sizeof err);
    ck_assert_msg(z == NULL, "parsed, want \"%s\"", want);
    ck_assert_str_eq(err, want);
}

START_TEST(malformed_files)
{
    uint8_t buf[512];
    expect_parse_error("hello", 5, "time zone \"Test/Zone\": not a TZif file");
    expect_parse_error("", 0, "time zone \"Test/Zone\": not a TZif file");
    size_t len = make_tzif(buf, 3600, "CET-1CEST,M3.5.0,M10.5.0/3");
    expect_parse_error(buf, 40, "time zone \"Test/Zone\": not a TZif file");
    expect_parse_error(buf, 50, "time zone \"Test/Zone\": truncated"); /* the first block ends at 54 */
    expect_parse_error(buf, 60, "time zone \"Test/Zone\": no second header");
    expect_parse_error(buf, 100, "time zone \"Test/Zone\": truncated");
    expect_parse_error(buf, len - 1, "time zone \"Test/Zone\": no footer");
    len = make_tzif(buf, 3600, "CET-1CEST,M3.5.0");
    expect_parse_error(buf, len, "time zone \"Test/Zone\": bad footer");
    len = make_tzif(buf, 3600, "CET-1CEST,M13.5.0,M10.5.0");
    expect_parse_error(buf, len, "time zone \"Test/Zone\": bad footer");
    len = make_tzif(buf, 3600, "CET-30");
    expect_parse_error(buf, len, "time zone \"Test/Zone\": bad footer");
    len = make_tzif(buf, 200000, "");
    expect_parse_error(buf, len, "time zone \"Test/Zone\": bad local time type");
    /* leap seconds: the right/ zones */
    FILE *f = fopen(TZ_DIR "/right/UTC", "rb");
    if (f) {
        uint8_t big[4096];
        size_t n = fread(big, 1, sizeof big, f);
        fclose(f);
        expect_parse_error(big, n,
                           "time zone \"Test/Zone\": it has leap seconds (a \"right/\" zone), which are not supported");
    }
    /* an empty footer: the last offset holds for ever */
    char err[256];
    len = make_tzif(buf, -3 * 3600, "");
    struct tz_zone *z = tz_parse(buf, len, "Fixed", err, sizeof err);
    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(tz_offset_at(z, 0), -10800);
    ck_assert_int_eq(tz_offset_at(z, at("2300-01-01T00:00:00Z")), -10800);
    tz_free(z);
    /* a truncated real file */
    f = fopen(TZ_DIR "/Europe/Berlin", "rb");
    ck_assert_ptr_nonnull(f);
    uint8_t big[8192];
    size_t n = fread(big, 1, sizeof big, f);
    fclose(f);
    for (size_t cut = 0; cut < n; cut += 7) {
        z = tz_parse(big, cut, "Europe/Berlin", err, sizeof err);
        ck_assert_msg(z == NULL, "parsed %zu of %zu bytes", cut, n);
    }
    z = tz_parse(big, n, "Europe/Berlin", err, sizeof err);
    ck_assert_ptr_nonnull(z);
    tz_free(z);
}
END_TEST

/* ---- threads ---- */

struct worker {
    const struct tz_zone *z;
    int64_t sum;
};

static void *offsets(void *arg)
{
    struct worker *w = arg;
    int64_t sum = 0, s, e;
    for (int64_t t = at("2000-01-01T00:00:00Z"); t < at("2060-01-01T00:00:00Z"); t += 86400 * 3 + 1234)
        sum += tz_offset_at(w->z, t) + tz_span_at(w->z, t, &s, &e) + tz_local_to_utc(w->z, t) % 1000;
    w->sum = sum;
    return NULL;
}

START_TEST(one_zone_many_threads)
{
    struct tz_zone *z = load("Australia/Sydney");
    struct worker one = { z, 0 }, w[4];
    offsets(&one);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){ z, 0 };
        ck_assert_int_eq(pthread_create(&th[i], NULL, offsets, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(w[i].sum, one.sum);
    }
    tz_free(z);
}
END_TEST

START_TEST(utc_without_file)
{
    struct tz_zone *z = tz_utc();
    ck_assert_int_eq(tz_offset_at(z, 0), 0);
    ck_assert_int_eq(tz_offset_at(z, INT64_MAX), 0);
    ck_assert_int_eq(tz_local_to_utc(z, 1234567), 1234567);
    tz_free(z);
    z = load("UTC");
    ck_assert_int_eq(tz_offset_at(z, at("2026-07-01T00:00:00Z")), 0);
    tz_free(z);
}
END_TEST

static Suite *tz_suite(void)
{
    Suite *s = suite_create("tz");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, refuses_bad_names);
    tcase_add_test(tc, known_offsets);
    tcase_add_test(tc, spans);
    tcase_add_test(tc, local_to_utc);
    tcase_add_test(tc, parse_iso);
    tcase_add_test(tc, calendar);
    tcase_add_test(tc, malformed_files);
    tcase_add_test(tc, one_zone_many_threads);
    tcase_add_test(tc, utc_without_file);
    suite_add_tcase(s, tc);
    TCase *glibc = tcase_create("glibc");
    tcase_set_timeout(glibc, 120);
    tcase_add_test(glibc, footer_rules_match_glibc);
    tcase_add_test(glibc, zone_files_match_glibc);
    tcase_add_test(glibc, every_zone_loads);
    suite_add_tcase(s, glibc);
    return s;
}

CHECK_MAIN(tz_suite)
