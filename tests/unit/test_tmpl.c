/* test_tmpl: compiling {{...}} placeholders (and refusing bad ones), every
 * builtin's format and range, the encodings for each place a value lands,
 * and variables. */
#include "check_main.h"
#include "tmpl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct tmpl_syms syms;
static uint64_t rng[4];

static char *render_with(const char *src, enum tmpl_enc enc, const struct tmpl_val *vars, int nvars)
{
    struct tmpl t = { 0 };
    char err[200];
    ck_assert_msg(tmpl_append(&t, src, strlen(src), enc, &syms, err, sizeof err) == 0, "%s: %s", src, err);
    struct tmpl_ctx c = { .rng = rng, .vu = 7, .iteration = 42, .vars = vars, .nvars = nvars };
    struct sbuf b = { 0 };
    tmpl_render(&t, &c, &b);
    tmpl_deinit(&t);
    char *s = b.s ? b.s : strdup("");
    return s;
}

static char *render(const char *src, enum tmpl_enc enc)
{
    return render_with(src, enc, NULL, 0);
}

static void expect_error(const char *src, const char *frag)
{
    struct tmpl t = { 0 };
    char err[200] = "";
    ck_assert_msg(tmpl_append(&t, src, strlen(src), TMPL_ENC_RAW, &syms, err, sizeof err) == -1, "accepted %s", src);
    ck_assert_msg(strstr(err, frag), "%s: error \"%s\" lacks \"%s\"", src, err, frag);
    tmpl_deinit(&t);
}

static void setup(void)
{
    tmpl_rng_seed(rng);
}

static void teardown(void)
{
    tmpl_syms_deinit(&syms);
}

START_TEST(literals_stay_static)
{
    struct tmpl t = { 0 };
    char err[200];
    ck_assert_int_eq(tmpl_append(&t, "/a/b?c=d{", 9, TMPL_ENC_URL, &syms, err, sizeof err), 0);
    tmpl_append_lit(&t, " HTTP/1.1", 9);
    size_t len;
    const char *s = tmpl_static(&t, &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, "/a/b?c=d{ HTTP/1.1");
    ck_assert_int_eq(t.nsegs, 1); /* adjacent literals merge */
    ck_assert_int_eq(tmpl_append(&t, "{{uuid}}", 8, TMPL_ENC_URL, &syms, err, sizeof err), 0);
    ck_assert_ptr_null(tmpl_static(&t, &len));
    ck_assert_int_eq(t.dynamic, 1);
    tmpl_deinit(&t);
}
END_TEST

START_TEST(bad_placeholders_are_refused)
{
    expect_error("/x/{{uuid", "is not closed");
    expect_error("{{}}", "expected a variable name");
    expect_error("{{ }}", "expected a variable name");
    expect_error("{{9lives}}", "expected a variable name");
    expect_error("{{a b}}", "expected a variable name");
    expect_error("{{uuid:4}}", "takes no argument");
    expect_error("{{random_int}}", "two integers");
    expect_error("{{random_int:1}}", "two integers");
    expect_error("{{random_int:a:5}}", "two integers");
    expect_error("{{random_int:5:1}}", "greater than the maximum");
    expect_error("{{random_int:1:99999999999999999999}}", "two integers");
    expect_error("{{random_string:0}}", "N from 1 to");
    expect_error("{{random_string:70000}}", "N from 1 to");
    expect_error("{{random_string:x}}", "N from 1 to");
    expect_error("{{env:}}", "{{env:NAME}}");
    expect_error("{{env:STAMPEDE_SURELY_UNSET_VAR}}", "is not set");
    expect_error("{{raw:}}", "expected a variable name");
    expect_error("{{raw:uuid}}", "is a builtin");
    expect_error("{{x{{y}}}}", "do not nest");
    /* a NUL byte is no name character (strchr("_.-", 0) matched it, and
     * "{{i\0d}}" became a second variable named "i"; found by fuzz_tmpl) */
    ck_assert(!tmpl_valid_name("i\0d", 3));
    ck_assert(!tmpl_valid_name("i\0", 2));
    ck_assert(tmpl_valid_name("a_b.c-d", 7));
}
END_TEST

START_TEST(uuid_is_v4_and_unique)
{
    char prev[40] = "";
    for (int i = 0; i < 1000; i++) {
        char *u = render("{{uuid}}", TMPL_ENC_RAW);
        ck_assert_uint_eq(strlen(u), 36);
        for (int k = 0; k < 36; k++) {
            if (k == 8 || k == 13 || k == 18 || k == 23)
                ck_assert_int_eq(u[k], '-');
            else
                ck_assert_msg(isxdigit((unsigned char)u[k]) && !isupper((unsigned char)u[k]), "%s", u);
        }
        ck_assert_int_eq(u[14], '4');
        ck_assert_ptr_nonnull(strchr("89ab", u[19]));
        ck_assert_str_ne(u, prev);
        snprintf(prev, sizeof prev, "%s", u);
        free(u);
    }
}
END_TEST

START_TEST(random_int_covers_its_range_inclusive)
{
    int seen[11] = { 0 };
    for (int i = 0; i < 5000; i++) {
        char *s = render("{{random_int:-5:5}}", TMPL_ENC_RAW);
        char *end;
        long v = strtol(s, &end, 10);
        ck_assert_msg(!*end && v >= -5 && v <= 5, "%s", s);
        seen[v + 5]++;
        free(s);
    }
    for (int k = 0; k < 11; k++)
        ck_assert_msg(seen[k] > 300, "value %d seen %d times in 5000", k - 5, seen[k]);
    char *one = render("{{random_int:7:7}}", TMPL_ENC_RAW);
    ck_assert_str_eq(one, "7");
    free(one);
    char *big = render("{{random_int:-9223372036854775808:9223372036854775807}}", TMPL_ENC_RAW);
    char *end;
    strtoll(big, &end, 10);
    ck_assert(!*end && *big);
    free(big);
}
END_TEST

START_TEST(random_string_length_and_alphabet)
{
    int classes[3] = { 0 };
    for (int i = 0; i < 200; i++) {
        char *s = render("{{random_string:37}}", TMPL_ENC_RAW);
        ck_assert_uint_eq(strlen(s), 37);
        for (const char *p = s; *p; p++) {
            ck_assert_msg(isalnum((unsigned char)*p), "%s", s);
            classes[isupper((unsigned char)*p) ? 0 : islower((unsigned char)*p) ? 1 : 2]++;
        }
        free(s);
    }
    for (int k = 0; k < 3; k++)
        ck_assert_int_gt(classes[k], 500);
}
END_TEST

START_TEST(time_vu_iteration_env)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char *t = render("{{timestamp}}", TMPL_ENC_RAW);
    long long v = atoll(t);
    ck_assert_msg(v >= now_ms && v < now_ms + 5000, "%s vs %lld", t, now_ms);
    free(t);
    char *iso = render("{{iso_time}}", TMPL_ENC_RAW);
    ck_assert_uint_eq(strlen(iso), 24);
    int y, mo, d, h, mi, sec, ms;
    ck_assert_int_eq(sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &y, &mo, &d, &h, &mi, &sec, &ms), 7);
    ck_assert_int_ge(y, 2024);
    free(iso);
    char *vi = render("vu={{vu}} it={{ iteration }}", TMPL_ENC_RAW);
    ck_assert_str_eq(vi, "vu=7 it=42");
    free(vi);
    setenv("STAMPEDE_TMPL_TEST", "a b/c", 1);
    char *e = render("/x/{{env:STAMPEDE_TMPL_TEST}}", TMPL_ENC_URL);
    ck_assert_str_eq(e, "/x/a%20b%2Fc");
    free(e);
}
END_TEST

START_TEST(values_are_encoded_where_they_land)
{
    struct tmpl_val vals[1] = { { "a \"q\" \\ /?&=\r\n\t\x01é", 0 } };
    vals[0].len = (uint32_t)strlen(vals[0].p);
    ck_assert_int_eq(tmpl_syms_intern(&syms, "v", 1), 0);
    char *u = render_with("/p/{{v}}", TMPL_ENC_URL, vals, 1);
    ck_assert_str_eq(u, "/p/a%20%22q%22%20%5C%20%2F%3F%26%3D%0D%0A%09%01%C3%A9");
    free(u);
    char *j = render_with("{\"k\":\"{{v}}\"}", TMPL_ENC_JSON, vals, 1);
    ck_assert_str_eq(j, "{\"k\":\"a \\\"q\\\" \\\\ /?&=\\r\\n\\t\\u0001é\"}");
    free(j);
    char *h = render_with("Bearer {{v}}", TMPL_ENC_HEADER, vals, 1);
    ck_assert_str_eq(h, "Bearer a \"q\" \\ /?&=  \t é");
    free(h);
    char *r = render_with("{{v}}", TMPL_ENC_RAW, vals, 1);
    ck_assert_str_eq(r, vals[0].p);
    free(r);
    char *raw = render_with("/p/{{raw:v}}", TMPL_ENC_URL, vals, 1);
    ck_assert_str_eq(raw, "/p/a \"q\" \\ /?&=\r\n\t\x01é");
    free(raw);
    /* an unset variable renders empty */
    char *unset = render_with("[{{w}}]", TMPL_ENC_RAW, vals, 1);
    ck_assert_str_eq(unset, "[]");
    free(unset);
    ck_assert_int_eq(tmpl_syms_find(&syms, "w"), 1);
    ck_assert_int_eq(tmpl_syms_find(&syms, "zz"), -1);
}
END_TEST

static Suite *tmpl_suite(void)
{
    Suite *s = suite_create("tmpl");
    TCase *t = tcase_create("tmpl");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, literals_stay_static);
    tcase_add_test(t, bad_placeholders_are_refused);
    tcase_add_test(t, uuid_is_v4_and_unique);
    tcase_add_test(t, random_int_covers_its_range_inclusive);
    tcase_add_test(t, random_string_length_and_alphabet);
    tcase_add_test(t, time_vu_iteration_env);
    tcase_add_test(t, values_are_encoded_where_they_land);
    suite_add_tcase(s, t);
    return s;
}

CHECK_MAIN(tmpl_suite)
