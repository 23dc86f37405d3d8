/* test_duration: durations and sizes as users write them. */
#include "check_main.h"
#include "duration.h"

#include <string.h>

START_TEST(parses_durations)
{
    static const struct {
        const char *s;
        uint64_t us;
    } ok[] = {
        { "0", 0 }, { "500ms", 500000 }, { "10s", 10000000 }, { "2m", 120000000 },
        { "1h", 3600000000ull }, { "1m30s", 90000000 }, { "1.5s", 1500000 }, { "250us", 250 },
        { "1h2m3s", 3723000000ull }, { "0.5ms", 500 }, { "1d", 86400000000ull },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t v = 12345;
        ck_assert_msg(duration_parse(ok[i].s, &v) == 0, "'%s' rejected", ok[i].s);
        ck_assert_msg(v == ok[i].us, "'%s' -> %llu", ok[i].s, (unsigned long long)v);
    }
}
END_TEST

START_TEST(rejects_bad_durations)
{
    static const char *bad[] = { "", "10", "s", "10x", "-5s", "1.2.3s", "ms10", "5 s", "1e3s",
                                 "nan", "99999999999999h", "10s ", NULL };
    for (int i = 0; bad[i]; i++) {
        uint64_t v;
        ck_assert_msg(duration_parse(bad[i], &v) == -1, "'%s' accepted", bad[i]);
    }
    ck_assert_int_eq(duration_parse(NULL, NULL), -1);
}
END_TEST

START_TEST(formats_durations)
{
    char b[32];
    ck_assert_str_eq(duration_format(0, b, sizeof b), "0s");
    ck_assert_str_eq(duration_format(250, b, sizeof b), "250us");
    ck_assert_str_eq(duration_format(1500, b, sizeof b), "1.5ms");
    ck_assert_str_eq(duration_format(30000000, b, sizeof b), "30s");
    ck_assert_str_eq(duration_format(120000000, b, sizeof b), "2m");
    ck_assert_str_eq(duration_format(90000000, b, sizeof b), "1m30s");
    ck_assert_str_eq(duration_format(7200000000ull, b, sizeof b), "2h");
    /* round trip */
    uint64_t v;
    ck_assert_int_eq(duration_parse(duration_format(90000000, b, sizeof b), &v), 0);
    ck_assert_uint_eq(v, 90000000);
}
END_TEST

/* Found by contrib/fuzz (fuzz_duration, fuzz_curl): "%g" kept 6 digits
 * and wrote exponents, so `curl -m 1000000.5` imported as a timeout of
 * "1e+06s", which the script validator refused. */
START_TEST(formats_durations_exactly)
{
    static const struct {
        uint64_t us;
        const char *text;
    } cases[] = {
        { 1234567, "1.234567s" },     { 59999999, "59.999999s" },   { 1000000500000ull, "1000000.5s" },
        { 1001, "1.001ms" },          { 999999, "999.999ms" },      { 90500000, "90.5s" },
        { 31536000000001ull, "31536000.000001s" }, { 1000000, "1s" }, { 61000000, "1m1s" },
    };
    char b[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_str_eq(duration_format(cases[i].us, b, sizeof b), cases[i].text);
        uint64_t v = 0;
        ck_assert_int_eq(duration_parse(b, &v), 0);
        ck_assert_uint_eq(v, cases[i].us);
    }
}
END_TEST

/* Caught by contrib/fuzz (fuzz_duration): strtoull's overflow to
 * ULLONG_MAX was taken as a size. */
START_TEST(rejects_sizes_past_uint64)
{
    uint64_t v = 0;
    ck_assert_int_eq(size_parse("99999999999999999999", &v), -1);
    ck_assert_int_eq(size_parse("18446744073709551616", &v), -1);
    ck_assert_int_eq(size_parse("18446744073709551615", &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

START_TEST(parses_sizes)
{
    uint64_t v;
    ck_assert_int_eq(size_parse("1048576", &v), 0);
    ck_assert_uint_eq(v, 1048576);
    ck_assert_int_eq(size_parse("512k", &v), 0);
    ck_assert_uint_eq(v, 512 * 1024);
    ck_assert_int_eq(size_parse("1MiB", &v), 0);
    ck_assert_uint_eq(v, 1 << 20);
    ck_assert_int_eq(size_parse("2G", &v), 0);
    ck_assert_uint_eq(v, 2ull << 30);
    ck_assert_int_eq(size_parse("1MB", &v), 0);
    ck_assert_uint_eq(v, 1 << 20);
    ck_assert_int_eq(size_parse("lots", &v), -1);
    ck_assert_int_eq(size_parse("1T", &v), -1);
    ck_assert_int_eq(size_parse("-1", &v), -1);
    ck_assert_int_eq(size_parse("99999999999999999999G", &v), -1);
}
END_TEST

static Suite *duration_suite(void)
{
    Suite *s = suite_create("duration");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, parses_durations);
    tcase_add_test(tc, rejects_bad_durations);
    tcase_add_test(tc, formats_durations);
    tcase_add_test(tc, parses_sizes);
    tcase_add_test(tc, formats_durations_exactly);
    tcase_add_test(tc, rejects_sizes_past_uint64);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(duration_suite)
