/* test_cron: cron expressions — every piece of syntax, the Vixie day rule,
 * every error message, daylight saving in both hemispheres and odd
 * offsets, a property test against a brute-force search written here
 * independently, and the speed of rare and impossible expressions. */
#include "check_main.h"
#include "cron.h"
#include "tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "2026-03-29T03:00:00+02:00" or "...Z" as Unix seconds. */
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

static struct tz_zone *zone(const char *name)
{
    char err[256] = "";
    struct tz_zone *z = tz_load(name, err, sizeof err);
    ck_assert_msg(z != NULL, "%s: %s", name, err);
    return z;
}

static struct cron *parse_ok(const char *expr)
{
    char err[256] = "";
    struct cron *c = cron_parse(expr, err, sizeof err);
    ck_assert_msg(c != NULL, "\"%s\" refused: %s", expr, err);
    return c;
}

/* The next fire times of expr in zone after from, formatted and joined
 * with spaces, must equal want. */
static void expect_line(int line, const char *expr, const char *zname, const char *from, const char *want)
{
    struct cron *c = parse_ok(expr);
    struct tz_zone *z = zone(zname);
    char got[2048] = "", buf[48];
    int n = 1;
    for (const char *p = want; *p; p++)
        n += *p == ' ';
    int64_t t = at(from);
    for (int i = 0; i < n; i++) {
        t = cron_next(c, z, t);
        if (t < 0) {
            strcat(got, i ? " none" : "none");
            break;
        }
        ck_assert_int_gt(cron_format_iso(t, z, buf, sizeof buf), 0);
        if (i)
            strcat(got, " ");
        strcat(got, buf);
    }
    ck_assert_msg(strcmp(got, want) == 0, "line %d: \"%s\" in %s after %s:\n  got  %s\n  want %s", line, expr,
                  zname, from, got, want);
    cron_free(c);
    tz_free(z);
}
#define EXPECT(expr, zname, from, want) expect_line(__LINE__, expr, zname, from, want)

/* Two expressions fire at the same times for a while. */
static void expect_same(const char *a, const char *b)
{
    struct cron *ca = parse_ok(a), *cb = parse_ok(b);
    struct tz_zone *z = tz_utc();
    int64_t ta = at("2026-01-01T00:00:00Z"), tb = ta;
    for (int i = 0; i < 200; i++) {
        ta = cron_next(ca, z, ta);
        tb = cron_next(cb, z, tb);
        ck_assert_msg(ta == tb && ta > 0, "\"%s\" and \"%s\" differ at fire %d: %lld vs %lld", a, b, i,
                      (long long)ta, (long long)tb);
    }
    cron_free(ca);
    cron_free(cb);
    tz_free(z);
}

/* 2026-01-01 is a Thursday. */
#define NEW_YEAR "2026-01-01T00:00:00Z"

START_TEST(syntax)
{
    EXPECT("* * * * *", "UTC", NEW_YEAR, "2026-01-01T00:01:00+00:00 2026-01-01T00:02:00+00:00");
    EXPECT("*/15 * * * *", "UTC", NEW_YEAR,
           "2026-01-01T00:15:00+00:00 2026-01-01T00:30:00+00:00 2026-01-01T00:45:00+00:00 2026-01-01T01:00:00+00:00");
    EXPECT("10-40/15 * * * *", "UTC", NEW_YEAR,
           "2026-01-01T00:10:00+00:00 2026-01-01T00:25:00+00:00 2026-01-01T00:40:00+00:00 2026-01-01T01:10:00+00:00");
    EXPECT("50/5 * * * *", "UTC", NEW_YEAR,
           "2026-01-01T00:50:00+00:00 2026-01-01T00:55:00+00:00 2026-01-01T01:50:00+00:00");
    EXPECT("1,2,59 * * * *", "UTC", NEW_YEAR,
           "2026-01-01T00:01:00+00:00 2026-01-01T00:02:00+00:00 2026-01-01T00:59:00+00:00 2026-01-01T01:01:00+00:00");
    EXPECT("0 9-17/4,23 * * *", "UTC", NEW_YEAR,
           "2026-01-01T09:00:00+00:00 2026-01-01T13:00:00+00:00 2026-01-01T17:00:00+00:00 2026-01-01T23:00:00+00:00");
    EXPECT("0 0 1 jan,Jul *", "UTC", NEW_YEAR, "2026-07-01T00:00:00+00:00 2027-01-01T00:00:00+00:00");
    EXPECT("0 0 1 FEB-apr/2 *", "UTC", NEW_YEAR, "2026-02-01T00:00:00+00:00 2026-04-01T00:00:00+00:00");
    EXPECT("0 12 * * mon-FRI", "UTC", NEW_YEAR,
           "2026-01-01T12:00:00+00:00 2026-01-02T12:00:00+00:00 2026-01-05T12:00:00+00:00");
    EXPECT("0 0 * * FRI-SUN", "UTC", NEW_YEAR,
           "2026-01-02T00:00:00+00:00 2026-01-03T00:00:00+00:00 2026-01-04T00:00:00+00:00 2026-01-09T00:00:00+00:00");
    EXPECT("0 0 * * 1/2", "UTC", NEW_YEAR, /* Mon, Wed, Fri: 6 is the end */
           "2026-01-02T00:00:00+00:00 2026-01-05T00:00:00+00:00 2026-01-07T00:00:00+00:00 2026-01-09T00:00:00+00:00");
    EXPECT("  0\t0  * *  SAT  ", "UTC", NEW_YEAR, "2026-01-03T00:00:00+00:00 2026-01-10T00:00:00+00:00");
    /* six fields: seconds first */
    EXPECT("*/20 * * * * *", "UTC", NEW_YEAR,
           "2026-01-01T00:00:20+00:00 2026-01-01T00:00:40+00:00 2026-01-01T00:01:00+00:00");
    EXPECT("30 0 12 * * *", "UTC", NEW_YEAR, "2026-01-01T12:00:30+00:00 2026-01-02T12:00:30+00:00");
    EXPECT("5/20 1 * * * *", "UTC", NEW_YEAR,
           "2026-01-01T00:01:05+00:00 2026-01-01T00:01:25+00:00 2026-01-01T00:01:45+00:00 2026-01-01T01:01:05+00:00");
    EXPECT("59 59 23 31 12 *", "UTC", NEW_YEAR, "2026-12-31T23:59:59+00:00 2027-12-31T23:59:59+00:00");
    /* strictly after */
    EXPECT("0 0 * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00+00:00");
    EXPECT("0 0 * * *", "UTC", "2025-12-31T23:59:59Z", "2026-01-01T00:00:00+00:00");
}
END_TEST

START_TEST(sunday_and_names)
{
    expect_same("0 0 * * 7", "0 0 * * 0");
    expect_same("0 0 * * SUN", "0 0 * * 0");
    expect_same("0 0 * * sun", "0 0 * * 7");
    expect_same("0 0 * * 5-7", "0 0 * * 0,5,6");
    expect_same("0 0 * * fri-sun", "0 0 * * 5,6,7");
    expect_same("0 0 * * 0-7", "0 0 * * *");
    expect_same("0 0 * Jan-Dec Mon-Sat", "0 0 * 1-12 1-6");
    expect_same("0 0 * * TUE,thu", "0 0 * * 2,4");
    expect_same("0 0 * * */7", "0 0 * * 0"); /* 7 fits the step: Sundays only */
    expect_same("0 0 * 1,3,5,7,9,11 *", "0 0 * JAN/2 *");
    EXPECT("0 0 * * 7", "UTC", NEW_YEAR, "2026-01-04T00:00:00+00:00 2026-01-11T00:00:00+00:00");
}
END_TEST

START_TEST(macros)
{
    EXPECT("@yearly", "UTC", NEW_YEAR, "2027-01-01T00:00:00+00:00 2028-01-01T00:00:00+00:00");
    EXPECT("@annually", "UTC", NEW_YEAR, "2027-01-01T00:00:00+00:00");
    EXPECT("@monthly", "UTC", NEW_YEAR, "2026-02-01T00:00:00+00:00 2026-03-01T00:00:00+00:00");
    EXPECT("@weekly", "UTC", NEW_YEAR, "2026-01-04T00:00:00+00:00 2026-01-11T00:00:00+00:00");
    EXPECT("@daily", "UTC", NEW_YEAR, "2026-01-02T00:00:00+00:00 2026-01-03T00:00:00+00:00");
    EXPECT("@midnight", "UTC", NEW_YEAR, "2026-01-02T00:00:00+00:00");
    EXPECT("@hourly", "UTC", NEW_YEAR, "2026-01-01T01:00:00+00:00 2026-01-01T02:00:00+00:00");
    EXPECT("  @DAILY ", "UTC", NEW_YEAR, "2026-01-02T00:00:00+00:00");
    expect_same("@hourly", "0 0 * * * *");
    expect_same("@weekly", "0 0 * * 0");
}
END_TEST

START_TEST(question_mark)
{
    expect_same("0 0 ? * MON", "0 0 * * MON");
    expect_same("0 0 1 * ?", "0 0 1 * *");
    expect_same("0 0 0 ? * 2-4", "0 0 * * 2-4");
}
END_TEST

/* Vixie cron: both day fields restricted = either; one starting with '*'
 * (or '?') = both must match. */
START_TEST(vixie_day_rule)
{
    EXPECT("0 0 13 * FRI", "UTC", NEW_YEAR,
           "2026-01-02T00:00:00+00:00 2026-01-09T00:00:00+00:00 2026-01-13T00:00:00+00:00 2026-01-16T00:00:00+00:00");
    EXPECT("0 0 1 * MON", "UTC", "2026-01-20T00:00:00Z",
           "2026-01-26T00:00:00+00:00 2026-02-01T00:00:00+00:00 2026-02-02T00:00:00+00:00");
    /* dom starts with '*': odd days that are Fridays */
    EXPECT("0 0 */2 * FRI", "UTC", NEW_YEAR,
           "2026-01-09T00:00:00+00:00 2026-01-23T00:00:00+00:00 2026-02-13T00:00:00+00:00");
    /* dow starts with '*': the 13th when it is a Sunday (*\/7 = Sunday) */
    EXPECT("0 0 13 * */7", "UTC", NEW_YEAR, "2026-09-13T00:00:00+00:00 2026-12-13T00:00:00+00:00");
    /* '*' alone: only the other field counts */
    EXPECT("0 0 13 * *", "UTC", NEW_YEAR, "2026-01-13T00:00:00+00:00 2026-02-13T00:00:00+00:00");
    EXPECT("0 0 * * FRI", "UTC", NEW_YEAR, "2026-01-02T00:00:00+00:00 2026-01-09T00:00:00+00:00");
    /* "0 0 29 2 MON": February 29 or any Monday of February */
    EXPECT("0 0 29 2 MON", "UTC", NEW_YEAR,
           "2026-02-02T00:00:00+00:00 2026-02-09T00:00:00+00:00 2026-02-16T00:00:00+00:00 2026-02-23T00:00:00+00:00 "
           "2027-02-01T00:00:00+00:00");
}
END_TEST

START_TEST(rare_and_never)
{
    EXPECT("0 0 29 2 *", "UTC", NEW_YEAR, "2028-02-29T00:00:00+00:00 2032-02-29T00:00:00+00:00");
    EXPECT("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00+00:00"); /* 2100 is not leap */
    /* February 29 that is a Sunday: 40 years between 2088 and 2128 */
    EXPECT("0 0 29 2 */7", "UTC", "2080-01-01T00:00:00Z", "2088-02-29T00:00:00+00:00 2128-02-29T00:00:00+00:00");
    EXPECT("0 0 31 * *", "UTC", "2026-02-01T00:00:00Z", "2026-03-31T00:00:00+00:00 2026-05-31T00:00:00+00:00");
    EXPECT("0 0 30 2 *", "UTC", NEW_YEAR, "none");
    EXPECT("0 0 31 4,6,9,11 *", "Europe/Berlin", NEW_YEAR, "none");
    EXPECT("0 0 30,31 2 */2", "UTC", NEW_YEAR, "none");
    EXPECT("0 0 0 31 2 *", "UTC", NEW_YEAR, "none");
    /* restricted day of week: February always has Mondays */
    EXPECT("0 0 30 2 MON", "UTC", NEW_YEAR, "2026-02-02T00:00:00+00:00");
    /* the end of the calendar */
    EXPECT("0 0 1 1 *", "UTC", "9998-06-01T00:00:00Z", "9999-01-01T00:00:00+00:00 none");
    struct cron *c = parse_ok("* * * * *");
    struct tz_zone *z = tz_utc();
    ck_assert_int_eq(cron_next(c, z, at("9999-12-31T23:59:00Z")), -1);
    ck_assert_int_eq(cron_next(c, z, INT64_MAX), -1);
    ck_assert_int_eq(cron_next(c, z, INT64_MIN), -1);
    ck_assert_int_eq(cron_next(c, z, at("0001-01-03T00:00:00Z")), at("0001-01-03T00:01:00Z"));
    tz_free(z);
    cron_free(c);
}
END_TEST

static void expect_error(int line, const char *expr, const char *want)
{
    char err[256] = "";
    struct cron *c = cron_parse(expr, err, sizeof err);
    ck_assert_msg(c == NULL, "line %d: \"%s\" accepted", line, expr);
    ck_assert_msg(strcmp(err, want) == 0, "line %d: \"%s\":\n  got  %s\n  want %s", line, expr, err, want);
}
#define ERR(expr, want) expect_error(__LINE__, expr, want)

START_TEST(errors)
{
    ERR("", "expected 5 or 6 fields, got 0");
    ERR("   ", "expected 5 or 6 fields, got 0");
    ERR("* * * *", "expected 5 or 6 fields, got 4");
    ERR("* * * * * * *", "expected 5 or 6 fields, got 7");
    ERR(NULL, "no expression");
    ERR("0 0 32 * *", "field 3 (day of month): 32 is out of range 1-31");
    ERR("0 0 0 * *", "field 3 (day of month): 0 is out of range 1-31");
    ERR("60 * * * *", "field 1 (minute): 60 is out of range 0-59");
    ERR("0 24 * * *", "field 2 (hour): 24 is out of range 0-23");
    ERR("0 0 * 13 *", "field 4 (month): 13 is out of range 1-12");
    ERR("0 0 * 0 *", "field 4 (month): 0 is out of range 1-12");
    ERR("0 0 * * 8", "field 5 (day of week): 8 is out of range 0-7");
    ERR("0 0 * * 99999999999999999999", "field 5 (day of week): 99999999999999999999 is out of range 0-7");
    ERR("60 * * * * *", "field 1 (second): 60 is out of range 0-59");
    ERR("0 0 0 32 * *", "field 4 (day of month): 32 is out of range 1-31");
    ERR("0 0 * * FUNDAY", "field 5 (day of week): unknown name \"FUNDAY\"");
    ERR("0 0 * JANUARY *", "field 4 (month): unknown name \"JANUARY\"");
    ERR("0 0 * * JAN", "field 5 (day of week): unknown name \"JAN\"");
    ERR("0 0 * MON *", "field 4 (month): unknown name \"MON\"");
    ERR("0 0 * * 1-FRIDAY", "field 5 (day of week): unknown name \"FRIDAY\"");
    ERR("x * * * *", "field 1 (minute): \"x\" is not a number");
    ERR("0 JAN * * *", "field 2 (hour): \"JAN\" is not a number");
    ERR("5x * * * *", "field 1 (minute): \"5x\" is not a number");
    ERR("0 0 * 1x *", "field 4 (month): \"1x\" is not a number");
    ERR("*/0 * * * *", "field 1 (minute): step 0 is not allowed");
    ERR("0 0 * * 1-5/0", "field 5 (day of week): step 0 is not allowed");
    ERR("*/61 * * * *", "field 1 (minute): step 61 is out of range 1-60");
    ERR("0 */25 * * *", "field 2 (hour): step 25 is out of range 1-24");
    ERR("0 0 * * */8", "field 5 (day of week): step 8 is out of range 1-7");
    ERR("*/ * * * *", "field 1 (minute): expected a number after \"/\" in \"*/\"");
    ERR("1/x * * * *", "field 1 (minute): expected a number after \"/\" in \"1/x\"");
    ERR("1,,2 * * * *", "field 1 (minute): empty item in \"1,,2\"");
    ERR("1, * * * *", "field 1 (minute): empty item in \"1,\"");
    ERR(",1 * * * *", "field 1 (minute): empty item in \",1\"");
    ERR("1- * * * *", "field 1 (minute): \"1-\" is incomplete");
    ERR("-1 * * * *", "field 1 (minute): unexpected \"-\" in \"-1\"");
    ERR("5-1 * * * *", "field 1 (minute): range \"5-1\" runs backwards");
    ERR("0 0 * * FRI-MON", "field 5 (day of week): range \"FRI-MON\" runs backwards");
    ERR("0 0 * * 5-0", "field 5 (day of week): range \"5-0\" runs backwards");
    ERR("1-2-3 * * * *", "field 1 (minute): unexpected \"-\" in \"1-2-3\"");
    ERR("*5 * * * *", "field 1 (minute): unexpected \"5\" in \"*5\"");
    ERR("1.5 * * * *", "field 1 (minute): unexpected \".\" in \"1.5\"");
    ERR("*/5/2 * * * *", "field 1 (minute): unexpected \"/\" in \"*/5/2\"");
    ERR("? * * * *", "field 1 (minute): \"?\" is only allowed in day of month and day of week");
    ERR("0 0 ?,1 * *", "field 3 (day of month): \"?\" must be the whole field, not \"?,1\"");
    ERR("0 0 * * ?/2", "field 5 (day of week): \"?\" must be the whole field, not \"?/2\"");
    ERR("@reboot", "unknown macro \"@reboot\" (known: @yearly @annually @monthly @weekly @daily @midnight @hourly)");
    ERR("@every 5m", "unknown macro \"@every\" (known: @yearly @annually @monthly @weekly @daily @midnight @hourly)");
    ERR("@daily 0", "unexpected \"0\" after @daily");
    char huge[2000];
    memset(huge, '1', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    ERR(huge, "expression is longer than 1024 characters");
    /* a short buffer gets a truncated, terminated message; none at all is fine */
    char small[12];
    memset(small, 'x', sizeof small);
    ck_assert_ptr_null(cron_parse("0 0 32 * *", small, sizeof small));
    ck_assert_str_eq(small, "field 3 (da");
    ck_assert_ptr_null(cron_parse("0 0 32 * *", NULL, 0));
    cron_free(NULL);
}
END_TEST

/* ---- daylight saving ---- */

START_TEST(berlin_spring_forward)
{
    /* 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC */
    EXPECT("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00+01:00",
           "2026-03-29T03:00:00+02:00 2026-03-30T02:30:00+02:00");
    EXPECT("0 30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00+01:00",
           "2026-03-29T03:00:00+02:00 2026-03-30T02:30:00+02:00");
    /* several skipped times make one fire */
    EXPECT("0,30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00+01:00",
           "2026-03-29T03:00:00+02:00 2026-03-30T02:00:00+02:00");
    EXPECT("0-59/10 2-3 * * *", "Europe/Berlin", "2026-03-29T01:00:00+01:00",
           "2026-03-29T03:00:00+02:00 2026-03-29T03:10:00+02:00");
    EXPECT("15 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00+01:00", "2026-03-29T03:15:00+02:00");
    EXPECT("59 1 * * *", "Europe/Berlin", "2026-03-28T12:00:00+01:00",
           "2026-03-29T01:59:00+01:00 2026-03-30T01:59:00+02:00");
    EXPECT("30 2 * * *", "Europe/Berlin", "2026-03-29T01:59:59+01:00", "2026-03-29T03:00:00+02:00");
    EXPECT("30 2 * * *", "Europe/Berlin", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00");
    /* wildcard expressions follow the clock: no catching up */
    EXPECT("30 * * * *", "Europe/Berlin", "2026-03-29T01:00:00+01:00",
           "2026-03-29T01:30:00+01:00 2026-03-29T03:30:00+02:00");
    EXPECT("* * * * *", "Europe/Berlin", "2026-03-29T01:58:00+01:00",
           "2026-03-29T01:59:00+01:00 2026-03-29T03:00:00+02:00 2026-03-29T03:01:00+02:00");
    EXPECT("*/20 2 * * *", "Europe/Berlin", "2026-03-29T00:00:00+01:00", "2026-03-30T02:00:00+02:00");
    EXPECT("@hourly", "Europe/Berlin", "2026-03-29T01:30:00+01:00",
           "2026-03-29T03:00:00+02:00 2026-03-29T04:00:00+02:00");
}
END_TEST

START_TEST(berlin_fall_back)
{
    /* 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC */
    EXPECT("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00+02:00",
           "2026-10-25T02:30:00+02:00 2026-10-26T02:30:00+01:00");
    EXPECT("0 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00+02:00",
           "2026-10-25T02:00:00+02:00 2026-10-26T02:00:00+01:00");
    EXPECT("0,30 2 * * *", "Europe/Berlin", "2026-10-25T01:00:00+02:00",
           "2026-10-25T02:00:00+02:00 2026-10-25T02:30:00+02:00 2026-10-26T02:00:00+01:00");
    /* starting inside the second occurrence: 02:30 has fired already */
    EXPECT("30 2 * * *", "Europe/Berlin", "2026-10-25T02:10:00+01:00", "2026-10-26T02:30:00+01:00");
    EXPECT("45 2 * * *", "Europe/Berlin", "2026-10-25T02:40:00+02:00", "2026-10-25T02:45:00+02:00");
    EXPECT("0 3 * * *", "Europe/Berlin", "2026-10-25T02:10:00+01:00", "2026-10-25T03:00:00+01:00");
    /* wildcard expressions fire in both occurrences */
    EXPECT("*/30 * * * *", "Europe/Berlin", "2026-10-25T01:00:00+02:00",
           "2026-10-25T01:30:00+02:00 2026-10-25T02:00:00+02:00 2026-10-25T02:30:00+02:00 "
           "2026-10-25T02:00:00+01:00 2026-10-25T02:30:00+01:00 2026-10-25T03:00:00+01:00");
    EXPECT("*/30 * * * *", "Europe/Berlin", "2026-10-25T02:10:00+01:00", "2026-10-25T02:30:00+01:00");
    EXPECT("@hourly", "Europe/Berlin", "2026-10-25T01:30:00+02:00",
           "2026-10-25T02:00:00+02:00 2026-10-25T02:00:00+01:00 2026-10-25T03:00:00+01:00");
    EXPECT("0 30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00+02:00",
           "2026-10-25T02:30:00+02:00 2026-10-26T02:30:00+01:00");
    EXPECT("* 30 2 * * *", "Europe/Berlin", "2026-10-25T02:30:58+02:00",
           "2026-10-25T02:30:59+02:00 2026-10-26T02:30:00+01:00");
}
END_TEST

START_TEST(sydney)
{
    /* DST ends on the first Sunday of April: 2026-04-05 03:00 AEDT -> 02:00 AEST */
    EXPECT("30 2 * * *", "Australia/Sydney", "2026-04-04T12:00:00+11:00",
           "2026-04-05T02:30:00+11:00 2026-04-06T02:30:00+10:00");
    EXPECT("*/30 * * * *", "Australia/Sydney", "2026-04-05T01:50:00+11:00",
           "2026-04-05T02:00:00+11:00 2026-04-05T02:30:00+11:00 2026-04-05T02:00:00+10:00 "
           "2026-04-05T02:30:00+10:00 2026-04-05T03:00:00+10:00");
    /* and starts on the first Sunday of October: 02:00 AEST -> 03:00 AEDT */
    EXPECT("30 2 * * *", "Australia/Sydney", "2026-10-03T12:00:00+10:00",
           "2026-10-04T03:00:00+11:00 2026-10-05T02:30:00+11:00");
    EXPECT("30 * * * *", "Australia/Sydney", "2026-10-04T01:00:00+10:00",
           "2026-10-04T01:30:00+10:00 2026-10-04T03:30:00+11:00");
    EXPECT("0 12 15 1,7 *", "Australia/Sydney", NEW_YEAR, "2026-01-15T12:00:00+11:00 2026-07-15T12:00:00+10:00");
    /* the footer rule, after the file's table */
    EXPECT("30 2 * 10 SUN", "Australia/Sydney", "2055-09-30T00:00:00Z", /* Oct 3 is the day DST starts */
           "2055-10-03T03:00:00+11:00 2055-10-10T02:30:00+11:00");
}
END_TEST

START_TEST(new_york)
{
    EXPECT("30 2 * * *", "America/New_York", "2026-03-07T12:00:00-05:00",
           "2026-03-08T03:00:00-04:00 2026-03-09T02:30:00-04:00");
    EXPECT("30 1 * * *", "America/New_York", "2026-10-31T12:00:00-04:00",
           "2026-11-01T01:30:00-04:00 2026-11-02T01:30:00-05:00");
    EXPECT("0 * * * *", "America/New_York", "2026-11-01T00:30:00-04:00",
           "2026-11-01T01:00:00-04:00 2026-11-01T01:00:00-05:00 2026-11-01T02:00:00-05:00");
    EXPECT("0 9 * * MON-FRI", "America/New_York", "2026-03-06T10:00:00-05:00",
           "2026-03-09T09:00:00-04:00 2026-03-10T09:00:00-04:00");
}
END_TEST

START_TEST(odd_offsets)
{
    EXPECT("0 9 * * *", "Asia/Kolkata", NEW_YEAR, "2026-01-01T09:00:00+05:30 2026-01-02T09:00:00+05:30");
    EXPECT("30 5 * * *", "Asia/Kolkata", "2025-12-31T23:00:00Z", "2026-01-01T05:30:00+05:30");
    EXPECT("*/45 * * * *", "Asia/Kathmandu", "2025-12-31T23:59:00Z",
           "2026-01-01T05:45:00+05:45 2026-01-01T06:00:00+05:45 2026-01-01T06:45:00+05:45");
    /* Lord Howe: 30-minute DST. Ends 2026-04-05 02:00 +11 -> 01:30 +10:30 */
    EXPECT("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00+11:00",
           "2026-04-05T01:45:00+11:00 2026-04-06T01:45:00+10:30");
    EXPECT("*/15 * * * *", "Australia/Lord_Howe", "2026-04-05T01:20:00+11:00",
           "2026-04-05T01:30:00+11:00 2026-04-05T01:45:00+11:00 2026-04-05T01:30:00+10:30 "
           "2026-04-05T01:45:00+10:30 2026-04-05T02:00:00+10:30");
    /* starts 2026-10-04 02:00 +10:30 -> 02:30 +11 */
    EXPECT("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00+10:30",
           "2026-10-04T02:30:00+11:00 2026-10-05T02:15:00+11:00");
    EXPECT("0,15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00+10:30",
           "2026-10-04T02:30:00+11:00 2026-10-05T02:00:00+11:00");
    EXPECT("45 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00+10:30", "2026-10-04T02:45:00+11:00");
    /* Chatham: +12:45 / +13:45 */
    EXPECT("0 12 * * *", "Pacific/Chatham", "2026-06-30T12:00:00Z", "2026-07-01T12:00:00+12:45");
}
END_TEST

START_TEST(format_iso)
{
    struct tz_zone *z = zone("Europe/Berlin");
    char buf[48];
    ck_assert_int_eq(cron_format_iso(at("2026-03-29T01:00:00Z"), z, buf, sizeof buf), 25);
    ck_assert_str_eq(buf, "2026-03-29T03:00:00+02:00");
    ck_assert_int_eq(cron_format_iso(at("2026-03-29T01:00:00Z"), z, buf, 25), -1);
    ck_assert_int_eq(cron_format_iso(at("2026-03-29T01:00:00Z"), z, buf, 26), 25);
    /* local mean time: an offset with seconds */
    ck_assert_int_gt(cron_format_iso(at("1880-01-01T00:00:00Z"), z, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "1880-01-01T00:53:28+00:53:28");
    tz_free(z);
    z = zone("America/New_York");
    cron_format_iso(at("2026-01-01T00:00:00Z"), z, buf, sizeof buf);
    ck_assert_str_eq(buf, "2025-12-31T19:00:00-05:00");
    tz_free(z);
    z = tz_utc();
    cron_format_iso(0, z, buf, sizeof buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00+00:00");
    tz_free(z);
}
END_TEST

/* ---- the property test ----
 * Random expressions, written by a generator that also works out which
 * values each field means, and random start times; cron_next must agree
 * with a brute-force walk over every second (six fields) or minute (five)
 * that applies cronie's rules directly: fire when the local time matches,
 * for fixed-time expressions only the first time a local time is seen,
 * plus once at the first instant after a gap that skipped a match. */

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}
static int pick(int lo, int hi) /* inclusive */
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

struct spec {
    uint64_t bits[6]; /* sec min hour dom mon dow; dow 0-6 */
    int six, dom_star, dow_star, wild;
    char text[400];
};

static const int lo_of[6] = { 0, 0, 0, 1, 1, 0 }, hi_of[6] = { 59, 59, 23, 31, 12, 6 };
static const char *const mon_name[] = { "jan", "FEB", "Mar", "apr", "MAY", "jun",
                                        "JUL", "aug", "Sep", "oct", "NOV", "dec" };
static const char *const dow_name[] = { "sun", "MON", "Tue", "wed", "THU", "fri", "SAT" };

static void put_value(char *out, int f, int v, int allow_name)
{
    if (allow_name && f == 4 && pick(0, 2) == 0)
        strcat(out, mon_name[v - 1]);
    else if (allow_name && f == 5 && pick(0, 2) == 0)
        strcat(out, dow_name[v % 7]);
    else
        sprintf(out + strlen(out), "%d", v);
}

/* A value of field f, sometimes one of those in `likely` (values the
 * start time has, to make fires in the window common). */
static int some_value(int f, const int *likely, int nlikely)
{
    if (nlikely && pick(0, 3) > 0)
        return likely[pick(0, nlikely - 1)];
    return pick(lo_of[f], f == 5 ? 7 : hi_of[f]);
}

static void gen_field(struct spec *sp, int f, const int *likely, int nlikely, int star_pct)
{
    char out[120] = "";
    uint64_t bits = 0;
    int lo = lo_of[f], hi = hi_of[f], span = hi - lo + 1;
    if (pick(0, 99) < star_pct) {
        int q = (f == 3 || f == 5) && pick(0, 9) == 0;
        strcpy(out, q ? "?" : "*");
        for (int v = lo; v <= hi; v++)
            bits |= 1ull << v;
    } else if (pick(0, 5) == 0) {
        int step = pick(1, span);
        sprintf(out, "*/%d", step);
        for (int v = lo; v <= hi; v += step)
            bits |= 1ull << v;
    } else {
        int items = pick(1, 3);
        for (int i = 0; i < items; i++) {
            if (i)
                strcat(out, ",");
            int kind = pick(0, 3), a = some_value(f, likely, nlikely);
            if (kind <= 1) { /* a single value */
                put_value(out, f, a, 1);
                bits |= 1ull << (f == 5 ? a % 7 : a);
            } else if (kind == 2) { /* a-b or a-b/s */
                int b = pick(a, f == 5 ? 7 : hi), step = pick(0, 1) ? 1 : pick(1, span);
                put_value(out, f, a, f != 5 || a != 7); /* "sun-7" would be 0-7 */
                strcat(out, "-");
                put_value(out, f, b, f != 5 || a > 0 || b != 7); /* SUN ends a range as 7 only after MON.. */
                if (step > 1)
                    sprintf(out + strlen(out), "/%d", step);
                for (int v = a; v <= b; v += step)
                    bits |= 1ull << (f == 5 ? v % 7 : v);
            } else { /* a/s: a up to the field's end */
                if (f == 5 && a == 7)
                    a = 0;
                int step = pick(1, span);
                put_value(out, f, a, 1);
                sprintf(out + strlen(out), "/%d", step);
                for (int v = a; v <= hi; v += step)
                    bits |= 1ull << v;
            }
        }
    }
    sp->bits[f] = bits;
    if (f == 3)
        sp->dom_star = out[0] == '*' || out[0] == '?';
    if (f == 5)
        sp->dow_star = out[0] == '*' || out[0] == '?';
    if (f == 1 || f == 2)
        sp->wild |= out[0] == '*';
    if (f > 0 || sp->six) {
        strcat(sp->text, *sp->text ? " " : "");
        strcat(sp->text, out);
    }
}

/* An expression likely to fire around local time `w` (the local time of
 * an offset change, or of the start). */
static void gen_spec(struct spec *sp, int six, int64_t w)
{
    memset(sp, 0, sizeof *sp);
    sp->six = six;
    time_t tt = (time_t)w;
    struct tm tm;
    gmtime_r(&tt, &tm);
    int secs[] = { 0, 30, 59, tm.tm_sec }, mins[] = { 0, 30, tm.tm_min, (tm.tm_min + 10) % 60, (tm.tm_min + 40) % 60 },
        hours[] = { tm.tm_hour, tm.tm_hour, (tm.tm_hour + 1) % 24, 2 };
    int doms[] = { tm.tm_mday, tm.tm_mday % 28 + 1 }, mons[] = { tm.tm_mon + 1 },
        dows[] = { tm.tm_wday, (tm.tm_wday + 1) % 7 };
    if (six)
        gen_field(sp, 0, secs, 4, 30);
    else
        sp->bits[0] = 1;
    gen_field(sp, 1, mins, 5, 20);
    gen_field(sp, 2, hours, 4, 20);
    gen_field(sp, 3, doms, 2, 50);
    gen_field(sp, 4, mons, 1, 60);
    gen_field(sp, 5, dows, 2, 50);
}

/* Does local time w match? Days come from gmtime_r, cached per day. */
struct day_cache {
    int64_t day;
    int ok;
};

static int spec_match(const struct spec *sp, struct day_cache *dc, int64_t w)
{
    int64_t day = w >= 0 ? w / 86400 : (w - 86399) / 86400, sod = w - day * 86400;
    if (!(sp->bits[0] >> (sod % 60) & 1) || !(sp->bits[1] >> (sod / 60 % 60) & 1) || !(sp->bits[2] >> (sod / 3600) & 1))
        return 0;
    if (dc->day != day) {
        time_t tt = (time_t)(day * 86400);
        struct tm tm;
        gmtime_r(&tt, &tm);
        int dom = sp->bits[3] >> tm.tm_mday & 1, dow = sp->bits[5] >> tm.tm_wday & 1;
        dc->day = day;
        dc->ok = (sp->bits[4] >> (tm.tm_mon + 1) & 1) &&
                 ((sp->dom_star || sp->dow_star) ? (dom && dow) : (dom || dow));
    }
    return dc->ok;
}

struct prop_stats {
    long exprs, starts, queries, fires;
    long gap_fires, repeat_fires; /* fires for a skipped time; fires in a repeated hour */
};

/* Every fire instant in (start, end), by walking each second or minute
 * from some hours before start (to know which local times were seen). The
 * offset comes from tz_span_at, kept while the walk stays in the span. */
static int brute_fires(const struct spec *sp, const struct tz_zone *z, int64_t start, int64_t end, int64_t *out,
                       int max, struct prop_stats *st)
{
    int64_t step = sp->six ? 1 : 60, t0 = start - (sp->six ? 4 * 3600 : 2 * 86400);
    t0 -= ((t0 % step) + step) % step;
    struct day_cache dc = { INT64_MIN, 0 };
    int64_t prev = t0 - step + tz_offset_at(z, t0 - step), seen = prev, span_start, span_end = INT64_MIN;
    int32_t off = 0;
    int n = 0;
    for (int64_t t = t0; t < end; t += step) {
        if (t >= span_end)
            off = tz_span_at(z, t, &span_start, &span_end);
        int64_t w = t + off;
        int fire = 0;
        if (sp->wild) {
            fire = spec_match(sp, &dc, w);
            if (fire && w <= seen && t > start)
                st->repeat_fires++;
        } else if (w > seen) {
            fire = spec_match(sp, &dc, w);
            for (int64_t g = (prev > seen ? prev : seen) + step; g < w && !fire; g += step) {
                fire = spec_match(sp, &dc, g); /* skipped by a forward jump */
                if (fire && t > start)
                    st->gap_fires++;
            }
        }
        if (w > seen)
            seen = w;
        prev = w;
        if (fire && t > start && n < max)
            out[n++] = t;
    }
    return n;
}


static void check_one(const struct spec *sp, const struct tz_zone *z, int64_t start, int64_t window,
                      struct prop_stats *st)
{
    static int64_t fires[200000];
    char err[256] = "";
    struct cron *c = cron_parse(sp->text, err, sizeof err);
    ck_assert_msg(c != NULL, "\"%s\" refused: %s", sp->text, err);
    int64_t end = start + window;
    int n = brute_fires(sp, z, start, end, fires, (int)(sizeof fires / sizeof fires[0]), st);
    st->starts++;
    st->fires += n;
    /* chained from start, then from random points */
    int64_t q = start;
    for (int i = 0; i < 60; i++) {
        int64_t qs[2] = { q, start + (int64_t)(rnd() % (uint64_t)window) };
        for (int k = 0; k < 2; k++) {
            int64_t from = qs[k], got = cron_next(c, z, from), want = -1;
            int lo = 0, hi = n; /* first fire > from */
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (fires[mid] <= from)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo < n)
                want = fires[lo];
            st->queries++;
            if (want >= 0)
                ck_assert_msg(got == want, "\"%s\" in %s after %lld: %lld, brute force %lld", sp->text, tz_name(z),
                              (long long)from, (long long)got, (long long)want);
            else
                ck_assert_msg(got >= end || got == -1, "\"%s\" in %s after %lld: %lld, brute force none before %lld",
                              sp->text, tz_name(z), (long long)from, (long long)got, (long long)end);
            if (k == 0)
                q = got;
        }
        if (q < 0 || q >= end)
            break;
    }
    cron_free(c);
}

static const char *const prop_zones[] = {
    "Europe/Berlin", "Australia/Sydney", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
    "Pacific/Chatham", "America/Santiago", "UTC",
};

START_TEST(property_against_brute_force)
{
    enum { NZ = sizeof prop_zones / sizeof prop_zones[0] };
    struct tz_zone *zones[NZ];
    for (int i = 0; i < NZ; i++)
        zones[i] = zone(prop_zones[i]);
    /* the offsets the brute force relies on, against glibc (TZ is set in
     * this single-threaded test process only) */
    for (int i = 0; i < NZ; i++) {
        setenv("TZ", prop_zones[i], 1);
        tzset();
        for (int k = 0; k < 2000; k++) {
            time_t t = (time_t)(at("2019-01-01T00:00:00Z") + (int64_t)(rnd() % (30ull * 365 * 86400)));
            struct tm tm;
            localtime_r(&t, &tm);
            ck_assert_msg(tm.tm_gmtoff == tz_offset_at(zones[i], t), "%s at %lld", prop_zones[i], (long long)t);
        }
    }
    unsetenv("TZ");
    tzset();

    /* CRON_PROPERTY_SEED=n tries other expressions; failures name the seed */
    const char *seed = getenv("CRON_PROPERTY_SEED");
    if (seed && *seed)
        rng = strtoull(seed, NULL, 0) | 1;
    fprintf(stderr, "# property: seed %#llx\n", (unsigned long long)rng);
    struct prop_stats st = { 0, 0, 0, 0, 0, 0 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t lo = at("2019-01-01T00:00:00Z"), years = 30; /* to 2049: the table, then the footer rule */
    for (int e = 0; e < 3000; e++) {
        int six = e % 2;
        const struct tz_zone *z = zones[pick(0, NZ - 1)];
        int64_t window = six ? 8 * 3600 : 4 * 86400;
        /* a start anywhere, or (2 in 3) shortly before an offset change (the
         * DST weeks), with an expression made around the local time of the
         * change: the first skipped or the first repeated local time */
        int64_t start = lo + (int64_t)(rnd() % (uint64_t)(years * 365 * 86400));
        int64_t focus = start + tz_offset_at(z, start);
        if (pick(0, 2) > 0) {
            int64_t s, end;
            tz_span_at(z, start, &s, &end);
            if (end != INT64_MAX && tz_offset_at(z, end) < tz_offset_at(z, end - 1) && pick(0, 1))
                tz_span_at(z, end, &s, &end); /* gaps are rarer: more forward jumps */
            if (end != INT64_MAX) {
                start = end - window / 2 + (int64_t)(rnd() % (uint64_t)window) - window / 4;
                int32_t before = tz_offset_at(z, end - 1), after = tz_offset_at(z, end);
                focus = end + (before < after ? before : after);
            }
        }
        struct spec sp;
        gen_spec(&sp, six, focus);
        st.exprs++;
        check_one(&sp, z, start, window, &st);
        /* the same expression from a later start, in another zone or not */
        if (pick(0, 1))
            z = zones[pick(0, NZ - 1)];
        start += (int64_t)(rnd() % (uint64_t)window);
        check_one(&sp, z, start, window, &st);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr,
            "# property: %ld expressions, %ld start times, %ld cron_next checks, %ld brute-force fires "
            "(%ld after a gap, %ld in a repeated hour), %.2f s\n",
            st.exprs, st.starts, st.queries, st.fires, st.gap_fires, st.repeat_fires, secs);
    ck_assert_int_eq(st.exprs, 3000);
    /* the windows really did hold fires, daylight-saving ones too */
    ck_assert_int_gt(st.fires, 100000);
    ck_assert_int_gt(st.gap_fires, 100);
    ck_assert_int_gt(st.repeat_fires, 10000);
    for (int i = 0; i < NZ; i++)
        tz_free(zones[i]);
}
END_TEST

static double elapsed_s(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/* Rare and impossible expressions answer without walking the calendar
 * minute by minute: 10,000 calls each, a loose bound of one second. */
START_TEST(rare_expressions_are_fast)
{
    static const char *const exprs[] = { "0 0 29 2 MON", "0 0 29 2 *", "0 0 30 2 *", "0 0 0 29 2 */7",
                                         "59 59 23 31 12 *" };
    struct tz_zone *z = zone("Europe/Berlin");
    for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
        struct cron *c = parse_ok(exprs[i]);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int64_t sum = 0, from = at("2000-01-01T00:00:00Z");
        for (int k = 0; k < 10000; k++)
            sum += cron_next(c, z, from + (int64_t)k * 86400 * 3);
        double s = elapsed_s(&t0);
        fprintf(stderr, "# %s: 10000 calls in %.3f s\n", exprs[i], s);
        ck_assert_msg(s < 1.0, "\"%s\": 10000 calls took %.2f s", exprs[i], s);
        ck_assert_int_ne(sum, 0);
        cron_free(c);
    }
    tz_free(z);
}
END_TEST

static Suite *cron_suite(void)
{
    Suite *s = suite_create("cron");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, syntax);
    tcase_add_test(tc, sunday_and_names);
    tcase_add_test(tc, macros);
    tcase_add_test(tc, question_mark);
    tcase_add_test(tc, vixie_day_rule);
    tcase_add_test(tc, rare_and_never);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, format_iso);
    suite_add_tcase(s, tc);
    TCase *dst = tcase_create("dst");
    tcase_add_test(dst, berlin_spring_forward);
    tcase_add_test(dst, berlin_fall_back);
    tcase_add_test(dst, sydney);
    tcase_add_test(dst, new_york);
    tcase_add_test(dst, odd_offsets);
    suite_add_tcase(s, dst);
    TCase *prop = tcase_create("property");
    tcase_set_timeout(prop, 300); /* about 10 s under sanitizers */
    tcase_add_test(prop, property_against_brute_force);
    tcase_add_test(prop, rare_expressions_are_fast);
    suite_add_tcase(s, prop);
    return s;
}

CHECK_MAIN(cron_suite)
