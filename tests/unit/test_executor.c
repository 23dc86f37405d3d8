/* test_executor: planned load, live control and arrival times. */
#include "check_main.h"
#include "executor.h"

#include <math.h>
#include <string.h>

static struct script_load constant_rate(double rate, uint64_t dur_us)
{
    struct script_load l;
    memset(&l, 0, sizeof l);
    l.executor = EXEC_CONSTANT_ARRIVAL_RATE;
    l.rate = rate;
    l.time_unit_us = 1000000;
    l.duration_us = dur_us;
    return l;
}

/* Count arrivals of one shard's share in [0, horizon). */
static long count_arrivals(const struct exec_control *c, const struct exec_profile *p, double share,
                           uint64_t horizon, uint64_t *first, uint64_t *last)
{
    double carry = 0;
    long n = 0;
    uint64_t t = 0;
    /* the first arrival is at 0 by convention of the shard */
    for (;;) {
        if (n == 0 && first)
            *first = t;
        if (last)
            *last = t;
        n++;
        t = exec_arrival_next(c, p, share, t, horizon, &carry);
        if (t == UINT64_MAX)
            break;
    }
    return n;
}

START_TEST(constant_rate_is_exact)
{
    struct script_load l = constant_rate(1000, 10000000);
    struct exec_profile p;
    struct exec_control c;
    exec_profile_from_load(&p, &l);
    exec_control_init(&c);
    ck_assert(p.open);
    ck_assert_uint_eq(p.length_us, 10000000);
    ck_assert_double_eq_tol(exec_profile_at(&p, 5000000), 1000, 1e-9);
    uint64_t last;
    long n = count_arrivals(&c, &p, 1.0, p.length_us, NULL, &last);
    ck_assert_int_eq(n, 10000);
    ck_assert_uint_eq(last, 9999000);
    /* half share: 500/s */
    n = count_arrivals(&c, &p, 0.5, p.length_us, NULL, NULL);
    ck_assert_int_eq(n, 5000);
    /* time_unit 1m: 60 per minute = 1/s */
    l.rate = 60;
    l.time_unit_us = 60000000;
    exec_profile_from_load(&p, &l);
    ck_assert_int_eq(count_arrivals(&c, &p, 1.0, p.length_us, NULL, NULL), 10);
    /* rates whose interval is not a whole number of microseconds keep
     * their count (1700/s once drifted to 1700.68/s by 588 µs steps), and
     * an arrival that float error puts a hair before the end is not in it */
    static const double rates[] = { 1700, 7, 333, 4999.9, 0.5, 123456 };
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        l = constant_rate(rates[i], 4000000);
        exec_profile_from_load(&p, &l);
        long want = (long)ceil(rates[i] * 4 - 1e-9);
        long got = count_arrivals(&c, &p, 1.0, p.length_us, NULL, NULL);
        ck_assert_msg(got == want, "rate %g for 4 s: %ld arrivals, want %ld", rates[i], got, want);
    }
}
END_TEST

START_TEST(ramp_integrates_to_the_area)
{
    struct script_stage st[2] = { { 10000000, 1000 }, { 10000000, 1000 } };
    struct script_load l;
    memset(&l, 0, sizeof l);
    l.executor = EXEC_RAMPING_ARRIVAL_RATE;
    l.start_rate = 0;
    l.time_unit_us = 1000000;
    l.stages = st;
    l.nstages = 2;
    struct exec_profile p;
    struct exec_control c;
    exec_profile_from_load(&p, &l);
    exec_control_init(&c);
    ck_assert_uint_eq(p.length_us, 20000000);
    ck_assert_double_eq_tol(exec_profile_at(&p, 5000000), 500, 1e-6);
    ck_assert_double_eq_tol(exec_profile_at(&p, 15000000), 1000, 1e-6);
    /* 0 -> 1000/s over 10 s is 5000 arrivals, then 10000 more */
    long n = count_arrivals(&c, &p, 1.0, p.length_us, NULL, NULL);
    ck_assert_msg(labs(n - 15000) <= 2, "arrivals %ld", n);
    /* first half only */
    n = count_arrivals(&c, &p, 1.0, 10000000, NULL, NULL);
    ck_assert_msg(labs(n - 5000) <= 2, "arrivals in the ramp %ld", n);
}
END_TEST

START_TEST(control_scales_and_overrides)
{
    struct script_load l = constant_rate(100, 60000000);
    struct exec_profile p;
    struct exec_control c;
    exec_profile_from_load(&p, &l);
    exec_control_init(&c);
    ck_assert_double_eq_tol(exec_control_value(&c, &p, 1000), 100, 1e-9);
    /* 50% over 10 s starting at 10 s */
    exec_control_set_scale(&c, 10000000, 0.5, 10000000);
    ck_assert_double_eq_tol(exec_control_value(&c, &p, 10000000), 100, 1e-9);
    ck_assert_double_eq_tol(exec_control_value(&c, &p, 15000000), 75, 1e-9);
    ck_assert_double_eq_tol(exec_control_value(&c, &p, 25000000), 50, 1e-9);
    /* absolute level 400 at once at 30 s: scale resets */
    exec_control_set_level(&c, &p, 30000000, 400, 0);
    ck_assert_double_eq_tol(exec_control_value(&c, &p, 30000001), 400, 1e-9);
    ck_assert_double_eq_tol(exec_control_scale_at(&c, 30000001), 1, 1e-9);
    /* arrivals follow the new level: 400/s for 10 s = 4000 */
    double carry = 0;
    uint64_t t = 30000000;
    long n = 0;
    while ((t = exec_arrival_next(&c, &p, 1.0, t, 40000000, &carry)) != UINT64_MAX)
        n++;
    ck_assert_msg(labs(n - 3999) <= 1, "arrivals %ld", n);
    /* a level of 0 means no arrivals */
    exec_control_set_level(&c, &p, 40000000, 0, 0);
    carry = 0;
    ck_assert_uint_eq(exec_arrival_next(&c, &p, 1.0, 40000000, 60000000, &carry), UINT64_MAX);
}
END_TEST

START_TEST(closed_profiles)
{
    struct script_stage st[3] = { { 10000000, 100 }, { 10000000, 100 }, { 5000000, 0 } };
    struct script_load l;
    memset(&l, 0, sizeof l);
    l.executor = EXEC_RAMPING_VUS;
    l.start_vus = 10;
    l.stages = st;
    l.nstages = 3;
    struct exec_profile p;
    exec_profile_from_load(&p, &l);
    ck_assert(!p.open);
    ck_assert_double_eq_tol(exec_profile_at(&p, 0), 10, 1e-9);
    ck_assert_double_eq_tol(exec_profile_at(&p, 5000000), 55, 1e-9);
    ck_assert_double_eq_tol(exec_profile_at(&p, 12000000), 100, 1e-9);
    ck_assert_double_eq_tol(exec_profile_at(&p, 22500000), 50, 1e-9);
    ck_assert_uint_eq(p.length_us, 25000000);
    memset(&l, 0, sizeof l);
    l.executor = EXEC_CONSTANT_VUS;
    l.vus = 7;
    l.duration_us = 3000000;
    exec_profile_from_load(&p, &l);
    ck_assert_double_eq_tol(exec_profile_at(&p, 2999999), 7, 1e-9);
}
END_TEST

START_TEST(split_shares_sum_up)
{
    for (long total = 0; total < 200; total++) {
        for (int n = 1; n <= 8; n++) {
            long sum = 0;
            int lo = 1 << 30, hi = -1;
            for (int i = 0; i < n; i++) {
                int s = exec_split_share(total, i, n);
                sum += s;
                lo = s < lo ? s : lo;
                hi = s > hi ? s : hi;
            }
            ck_assert_int_eq(sum, total);
            ck_assert_int_le(hi - lo, 1);
        }
    }
}
END_TEST

static Suite *executor_suite(void)
{
    Suite *s = suite_create("executor");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, constant_rate_is_exact);
    tcase_add_test(tc, ramp_integrates_to_the_area);
    tcase_add_test(tc, control_scales_and_overrides);
    tcase_add_test(tc, closed_profiles);
    tcase_add_test(tc, split_shares_sum_up);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(executor_suite)
