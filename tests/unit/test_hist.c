/* test_hist: unit tests for src/hist.c — bucket geometry, percentile error
 * against exact nearest-rank values, merge, clamping, and the encoding
 * (round trips, truncation, garbage). Deterministic: a seeded local PRNG. */
#include "hist.h"
#include "xmalloc.h"
#include "check_main.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

/* For loops of many checks: ck_assert reports a checkpoint to the parent
 * process on every pass (a write per call when forking); this only calls
 * into Check when the condition fails. */
#define require(cond, ...)                  \
    do {                                    \
        if (!(cond))                        \
            ck_abort_msg(__VA_ARGS__);      \
    } while (0)

/* xoshiro256** seeded through splitmix64: independent of libc's rand(). */
struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [lo, hi]. */
static uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi)
{
    return lo + rng_next(r) % (hi - lo + 1);
}

/* Standard normal (Box-Muller). */
static double rng_normal(struct rng *r)
{
    double u1 = 1.0 - rng_unit(r), u2 = rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static struct hist *hist_alloc(void)
{
    struct hist *h = xmalloc(sizeof *h);
    hist_init(h);
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

/* The invariants struct hist documents; returns NULL or what is broken. */
static const char *invariant_error(const struct hist *h)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        total += h->counts[i];
    if (total != h->count)
        return "counts do not add up to count";
    if (h->count == 0)
        return h->min == UINT64_MAX && h->max == 0 && h->sum == 0 && h->overflow == 0
               ? NULL : "empty histogram with non-empty fields";
    if (h->min > h->max)
        return "min > max";
    unsigned lo = hist_bucket_index(h->min), hi = hist_bucket_index(h->max);
    if (h->counts[lo] == 0 || h->counts[hi] == 0)
        return "min or max bucket is empty";
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        if (h->counts[i] && (i < lo || i > hi))
            return "nonzero bucket outside [min, max]";
    if (h->overflow > h->counts[HIST_BUCKETS - 1])
        return "overflow larger than the last bucket";
    return NULL;
}

/* Encode into a fresh exact-size buffer; caller frees with free(). */
static uint8_t *encode_alloc(const struct hist *h, size_t *len)
{
    *len = hist_encode(h, NULL, 0);
    uint8_t *buf = xmalloc(*len);
    ck_assert_uint_eq(hist_encode(h, buf, *len), *len);
    return buf;
}

/* Byte builder for hand-made encodings. */
struct buf {
    uint8_t b[128];
    size_t n;
};

static void b_byte(struct buf *b, uint8_t v)
{
    ck_assert_uint_lt(b->n, sizeof b->b);
    b->b[b->n++] = v;
}

static void b_var(struct buf *b, uint64_t v)
{
    while (v >= 0x80) {
        b_byte(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    b_byte(b, (uint8_t)v);
}

/* Two histograms reused across many decodes. */
struct scratch {
    struct hist h, before;
};

static struct scratch *scratch_new(void)
{
    struct scratch *s = xmalloc(sizeof *s);
    hist_init(&s->before);
    hist_record(&s->before, 4242);
    return s;
}

/* Decode in[0..len) and check the result code; on failure *h must be
 * unchanged. Returns hist_decode's result; the histogram is in s->h. */
static int decode_checked(struct scratch *s, const uint8_t *in, size_t len)
{
    memcpy(&s->h, &s->before, sizeof s->h);
    int rc = hist_decode(&s->h, in, len);
    require(rc == 0 || rc == -1, "hist_decode returned %d", rc);
    if (rc < 0)
        require(memcmp(&s->h, &s->before, sizeof s->h) == 0, "failed decode modified *h");
    return rc;
}

/* ---- bucket geometry --------------------------------------------------- */

START_TEST(test_bucket_geometry)
{
    ck_assert_uint_eq(HIST_BUCKETS, 3968);
    ck_assert_uint_eq(hist_bucket_low(0), 0);
    ck_assert_uint_eq(hist_bucket_high(HIST_BUCKETS - 1), HIST_MAX_US);
    ck_assert_uint_ge(HIST_MAX_US, UINT64_C(1) << 36);
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
        require(lo <= hi, "bucket %u: low > high", i);
        if (i > 0)                                             /* contiguous, monotonic */
            require(lo == hist_bucket_high(i - 1) + 1, "bucket %u: gap or overlap", i);
        require(hist_bucket_index(lo) == i && hist_bucket_index(hi) == i,
                "bucket %u: index of its bounds differs", i);
        if (i < 256)
            require(lo == hi && lo == i, "bucket %u not exact", i);    /* exact below 256 µs */
        else
            require((hi - lo + 1) * 128 <= lo,                  /* width <= low/128 */
                    "bucket %u [%lu, %lu] too wide", i, (unsigned long)lo, (unsigned long)hi);
    }
}
END_TEST

START_TEST(test_bucket_index_edges)
{
    for (int k = 0; k < 64; k++) {
        uint64_t p = UINT64_C(1) << k;
        uint64_t vs[3] = { p - 1, p, p + 1 };
        for (int j = 0; j < 3; j++) {
            uint64_t v = vs[j];
            unsigned i = hist_bucket_index(v);
            require(i < HIST_BUCKETS, "index %u out of range", i);
            if (v <= HIST_MAX_US)
                require(hist_bucket_low(i) <= v && v <= hist_bucket_high(i),
                        "%lu not in its bucket %u", (unsigned long)v, i);
            else
                require(i == HIST_BUCKETS - 1, "%lu not clamped", (unsigned long)v);
        }
    }
    ck_assert_uint_eq(hist_bucket_index(UINT64_MAX), HIST_BUCKETS - 1);
    struct rng r;
    rng_seed(&r, 7);
    for (int n = 0; n < 1000000; n++) {
        uint64_t v = rng_next(&r) >> (rng_next(&r) % 64);
        unsigned i = hist_bucket_index(v);
        if (v <= HIST_MAX_US)
            require(hist_bucket_low(i) <= v && v <= hist_bucket_high(i),
                    "%lu not in its bucket %u", (unsigned long)v, i);
        else
            require(i == HIST_BUCKETS - 1, "%lu not clamped", (unsigned long)v);
    }
}
END_TEST

/* ---- percentiles against exact nearest rank ---------------------------- */

typedef uint64_t (*gen_fn)(struct rng *r);

static uint64_t gen_uniform(struct rng *r)
{
    return rng_range(r, 1, 1000000);
}

static uint64_t gen_exponential(struct rng *r)     /* mean 10 ms */
{
    return (uint64_t)(-log(1.0 - rng_unit(r)) * 10000.0);
}

static uint64_t gen_bimodal(struct rng *r)         /* 70% ~100 µs, 30% ~200 ms */
{
    return rng_unit(r) < 0.7 ? rng_range(r, 90, 110) : rng_range(r, 180000, 220000);
}

static uint64_t gen_lognormal(struct rng *r)       /* median 2 ms, tail clipped at 100 s */
{
    double v = exp(log(2000.0) + 2.5 * rng_normal(r));
    return v < 1.0 ? 1 : v > 1e8 ? 100000000 : (uint64_t)v;
}

static uint64_t gen_equal(struct rng *r)
{
    (void)r;
    return 12345;
}

/* Record n samples into a histogram and a sorted array, then compare every
 * percentile p = 0.0, 0.1, ..., 100.0 with the exact nearest-rank value. */
static void check_distribution(const char *name, gen_fn gen, size_t n, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    uint64_t *v = xmalloc(n * sizeof *v), sum = 0;
    struct hist *h = hist_alloc();
    for (size_t i = 0; i < n; i++) {
        v[i] = gen(&r);
        sum += v[i];
        hist_record(h, v[i]);
    }
    qsort(v, n, sizeof *v, cmp_u64);

    ck_assert_uint_eq(hist_count(h), n);
    ck_assert_uint_eq(hist_min(h), v[0]);
    ck_assert_uint_eq(hist_max(h), v[n - 1]);
    ck_assert_uint_eq(h->sum, sum);
    ck_assert_double_eq(hist_mean(h), (double)sum / (double)n);
    ck_assert_ptr_null(invariant_error(h));

    for (uint64_t pm = 0; pm <= 1000; pm++) {       /* p in tenths of a percent */
        uint64_t rank = (pm * n + 999) / 1000;
        if (rank == 0)
            rank = 1;
        uint64_t exact = v[rank - 1], got = hist_percentile(h, (double)pm / 10.0);
        /* The contract is 1%; the design bound is half a bucket, 1/256. */
        require(absdiff(got, exact) * 100 <= exact && absdiff(got, exact) * 256 <= exact,
                "%s: p%.1f = %lu, exact %lu", name, (double)pm / 10.0,
                (unsigned long)got, (unsigned long)exact);
    }
    ck_assert_uint_eq(hist_percentile(h, 0), v[0]);
    ck_assert_uint_eq(hist_percentile(h, 100), v[n - 1]);

    /* The named report percentiles, spelled the way callers spell them. */
    static const double named[] = { 50, 75, 90, 95, 99, 99.9 };
    static const uint64_t named_pm[] = { 500, 750, 900, 950, 990, 999 };
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        uint64_t exact = v[(named_pm[k] * n + 999) / 1000 - 1];
        uint64_t got = hist_percentile(h, named[k]);
        ck_assert_msg(absdiff(got, exact) * 100 <= exact, "%s: p%g = %lu, exact %lu",
                      name, named[k], (unsigned long)got, (unsigned long)exact);
    }
    free(v);
    free(h);
}

START_TEST(test_percentiles_uniform)
{
    check_distribution("uniform", gen_uniform, 200000, 1);
}
END_TEST

START_TEST(test_percentiles_exponential)
{
    check_distribution("exponential", gen_exponential, 200000, 2);
}
END_TEST

START_TEST(test_percentiles_bimodal)
{
    check_distribution("bimodal", gen_bimodal, 200000, 3);
}
END_TEST

START_TEST(test_percentiles_lognormal)
{
    check_distribution("lognormal", gen_lognormal, 200000, 4);
}
END_TEST

START_TEST(test_percentiles_all_equal)
{
    check_distribution("all-equal", gen_equal, 100000, 5);
    struct hist *h = hist_alloc();
    hist_record_n(h, 12345, 100000);
    for (int p = 0; p <= 100; p++)
        ck_assert_uint_eq(hist_percentile(h, p), 12345);   /* exact: clamped into [min, max] */
    free(h);
}
END_TEST

START_TEST(test_percentiles_single_value)
{
    struct hist *h = hist_alloc();
    hist_record(h, 987654);
    for (int p = 0; p <= 100; p++)
        ck_assert_uint_eq(hist_percentile(h, p), 987654);
    ck_assert_uint_eq(hist_min(h), 987654);
    ck_assert_uint_eq(hist_max(h), 987654);
    ck_assert_double_eq(hist_mean(h), 987654.0);
    free(h);
}
END_TEST

/* Make h hold value 1 `ones` times and value 2 `twos` times. Only buckets 1
 * and 2 are ever used, so this skips a 31 KB hist_init per case. */
static void set_ones_twos(struct hist *h, uint64_t ones, uint64_t twos)
{
    h->counts[1] = h->counts[2] = 0;
    h->count = h->sum = h->overflow = h->max = 0;
    h->min = UINT64_MAX;
    hist_record_n(h, 1, ones);
    hist_record_n(h, 2, twos);
}

/* The rank is exactly ceil(p/100 * count), even when p*count/100 is an
 * integer that double arithmetic lands a hair above (99.9 * 100000). */
START_TEST(test_percentile_rank_exact)
{
    static const uint64_t counts[] = { 7, 1000, 100000, 1000003, 1000000000 };
    struct hist *h = hist_alloc();
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        uint64_t n = counts[c];
        for (uint64_t den = 1000; den <= 10000; den *= 10) {
            for (uint64_t pm = 1; pm < den; pm++) {
                uint64_t rank = (pm * n + den - 1) / den;
                if (rank == 0 || rank == n)
                    continue;
                /* Ranks 1..rank hold value 1, the rest value 2. */
                set_ones_twos(h, rank, n - rank);
                double p = (double)pm / (double)(den / 100);
                require(hist_percentile(h, p) == 1, "count %lu p%g: rank past %lu",
                        (unsigned long)n, p, (unsigned long)rank);
                set_ones_twos(h, rank - 1, n - rank + 1);
                require(hist_percentile(h, p) == 2, "count %lu p%g: rank before %lu",
                        (unsigned long)n, p, (unsigned long)rank);
            }
        }
    }
    free(h);
}
END_TEST

START_TEST(test_percentile_small_values_exact)
{
    struct hist *h = hist_alloc();
    for (uint64_t v = 0; v < 256; v++)
        hist_record(h, v);
    for (uint64_t pm = 0; pm <= 1000; pm++) {
        uint64_t rank = (pm * 256 + 999) / 1000;
        uint64_t got = hist_percentile(h, (double)pm / 10.0);
        require(got == (rank ? rank - 1 : 0), "p%.1f = %lu", (double)pm / 10.0, (unsigned long)got);
    }
    free(h);
}
END_TEST

START_TEST(test_percentile_arguments)
{
    struct hist *h = hist_alloc();
    ck_assert_uint_eq(hist_percentile(h, 50), 0);        /* empty */
    hist_record(h, 300);
    hist_record(h, 5000);
    hist_record(h, 70000);
    ck_assert_uint_eq(hist_percentile(h, -5), 300);
    ck_assert_uint_eq(hist_percentile(h, NAN), 300);
    ck_assert_uint_eq(hist_percentile(h, 0), 300);
    ck_assert_uint_eq(hist_percentile(h, 100), 70000);
    ck_assert_uint_eq(hist_percentile(h, 250), 70000);
    ck_assert_uint_eq(hist_percentile(h, INFINITY), 70000);
    /* Any p > 0 means rank 1, even one so small that p * count underflows. */
    hist_init(h);
    hist_record(h, 1000);                               /* bucket [1000, 1003] */
    hist_record(h, 5000);
    ck_assert_uint_eq(hist_percentile(h, 1e-9), 1001);
    ck_assert_uint_eq(hist_percentile(h, 5e-324), 1001);
    ck_assert_uint_eq(hist_percentile(h, 0), 1000);
    free(h);
}
END_TEST

/* ---- exact statistics, record_n, merge --------------------------------- */

START_TEST(test_empty)
{
    struct hist *h = hist_alloc();
    ck_assert(hist_is_empty(h));
    ck_assert_uint_eq(hist_count(h), 0);
    ck_assert_uint_eq(hist_min(h), 0);
    ck_assert_uint_eq(hist_max(h), 0);
    ck_assert_double_eq(hist_mean(h), 0.0);
    ck_assert_double_eq(hist_stddev(h), 0.0);
    ck_assert_ptr_null(invariant_error(h));
    hist_record(h, 0);                                   /* 0 µs is a value */
    ck_assert(!hist_is_empty(h));
    ck_assert_uint_eq(h->counts[0], 1);
    ck_assert_uint_eq(hist_min(h), 0);
    hist_reset(h);
    ck_assert(hist_is_empty(h));
    ck_assert_uint_eq(h->min, UINT64_MAX);
    ck_assert_uint_eq(h->counts[0], 0);
    free(h);
}
END_TEST

START_TEST(test_exact_stats)
{
    struct hist *h = hist_alloc();
    uint64_t vals[] = { 4, 1, 1000003, 3, 2, 77777777 };
    for (size_t i = 0; i < 6; i++)
        hist_record(h, vals[i]);
    ck_assert_uint_eq(hist_count(h), 6);
    ck_assert_uint_eq(hist_min(h), 1);
    ck_assert_uint_eq(hist_max(h), 77777777);
    ck_assert_uint_eq(h->sum, 78777790);
    ck_assert_double_eq(hist_mean(h), 78777790.0 / 6.0);
    ck_assert_uint_eq(h->overflow, 0);
    free(h);
}
END_TEST

START_TEST(test_record_n)
{
    struct hist *a = hist_alloc(), *b = hist_alloc();
    struct rng r;
    rng_seed(&r, 11);
    for (int k = 0; k < 200; k++) {
        uint64_t v = gen_lognormal(&r), n = rng_range(&r, 0, 50);
        hist_record_n(a, v, n);
        for (uint64_t j = 0; j < n; j++)
            hist_record(b, v);
    }
    hist_record_n(a, UINT64_MAX, 3);
    for (int j = 0; j < 3; j++)
        hist_record(b, UINT64_MAX);
    ck_assert_msg(memcmp(a, b, sizeof *a) == 0, "record_n differs from n records");

    hist_init(a);
    hist_record_n(a, 5, 0);                              /* no-op, min stays unset */
    ck_assert(hist_is_empty(a));
    ck_assert_uint_eq(a->min, UINT64_MAX);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_merge_halves)
{
    enum { N = 200000 };
    struct hist *all = hist_alloc(), *a = hist_alloc(), *b = hist_alloc(), *c = hist_alloc();
    struct rng r;
    rng_seed(&r, 21);
    for (int i = 0; i < N; i++) {
        uint64_t v = i % 1000 == 0 ? rng_next(&r) >> 20 : gen_lognormal(&r);   /* some overflow */
        hist_record(all, v);
        hist_record(i < N / 2 ? a : b, v);
    }
    ck_assert_uint_gt(all->overflow, 0);
    memcpy(c, b, sizeof *c);
    hist_merge(c, a);                                    /* b + a */
    hist_merge(a, b);                                    /* a + b */
    ck_assert_msg(memcmp(a->counts, all->counts, sizeof all->counts) == 0, "merged counts differ");
    ck_assert_msg(memcmp(a, all, sizeof *a) == 0, "merged histogram differs");
    ck_assert_msg(memcmp(c, all, sizeof *c) == 0, "merge is not commutative");

    /* Empty on either side. */
    hist_init(c);
    hist_merge(a, c);
    ck_assert_msg(memcmp(a, all, sizeof *a) == 0, "merging an empty histogram changed dst");
    hist_merge(c, all);
    ck_assert_msg(memcmp(c, all, sizeof *c) == 0, "merge into empty differs");

    /* Self-merge doubles. */
    hist_merge(c, c);
    ck_assert_uint_eq(c->count, 2 * all->count);
    ck_assert_uint_eq(c->min, all->min);
    ck_assert_uint_eq(c->max, all->max);
    ck_assert_ptr_null(invariant_error(c));
    free(all);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_clamp_huge)
{
    struct hist *h = hist_alloc();
    hist_record(h, 1);
    hist_record(h, HIST_MAX_US);                         /* last tracked value */
    hist_record(h, HIST_MAX_US + 1);
    hist_record(h, UINT64_C(1) << 40);
    hist_record(h, UINT64_MAX - 1);
    ck_assert_uint_eq(h->overflow, 3);
    ck_assert_uint_eq(h->counts[HIST_BUCKETS - 1], 4);
    ck_assert_uint_eq(hist_max(h), UINT64_MAX - 1);      /* exact despite the clamp */
    ck_assert_uint_eq(hist_min(h), 1);
    ck_assert_uint_eq(h->sum, UINT64_MAX);               /* saturated, not wrapped */
    ck_assert_uint_eq(hist_percentile(h, 100), UINT64_MAX - 1);
    ck_assert_uint_eq(hist_percentile(h, 90), UINT64_MAX - 1);   /* rank 5: overflowed */
    ck_assert_uint_eq(hist_percentile(h, 50), UINT64_MAX - 1);   /* rank 3: overflowed */
    uint64_t p40 = hist_percentile(h, 40);               /* rank 2: HIST_MAX_US */
    ck_assert_uint_le(absdiff(p40, HIST_MAX_US) * 256, HIST_MAX_US);
    ck_assert_uint_eq(hist_percentile(h, 20), 1);
    ck_assert_ptr_null(invariant_error(h));

    /* All values beyond the range. */
    hist_init(h);
    hist_record(h, UINT64_C(1) << 50);
    ck_assert_uint_eq(h->overflow, 1);
    ck_assert_uint_eq(hist_percentile(h, 50), UINT64_C(1) << 50);
    free(h);
}
END_TEST

START_TEST(test_sum_saturates)
{
    struct hist *h = hist_alloc();
    hist_record(h, UINT64_MAX - 5);
    ck_assert_uint_eq(h->sum, UINT64_MAX - 5);
    hist_record(h, 10);
    ck_assert_uint_eq(h->sum, UINT64_MAX);
    hist_record(h, 0);
    ck_assert_uint_eq(h->sum, UINT64_MAX);
    hist_init(h);
    hist_record_n(h, UINT64_C(1) << 40, UINT64_C(1) << 30);   /* 2^70 */
    ck_assert_uint_eq(h->sum, UINT64_MAX);
    ck_assert_uint_eq(h->count, UINT64_C(1) << 30);
    struct hist *g = hist_alloc();
    hist_record(g, UINT64_MAX - 1);
    hist_merge(g, h);
    ck_assert_uint_eq(g->sum, UINT64_MAX);
    free(g);
    free(h);
}
END_TEST

START_TEST(test_stddev)
{
    struct hist *h = hist_alloc();
    hist_record_n(h, 12345, 1000);
    ck_assert_double_eq(hist_stddev(h), 0.0);
    hist_init(h);
    hist_record_n(h, 1000, 500);
    hist_record_n(h, 3000, 500);
    ck_assert_double_eq_tol(hist_stddev(h), 1000.0, 10.0);

    struct rng r;
    rng_seed(&r, 31);
    hist_init(h);
    double s = 0, s2 = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t v = gen_uniform(&r);
        hist_record(h, v);
        s += (double)v;
        s2 += (double)v * (double)v;
    }
    double mean = s / 100000, sd = sqrt(s2 / 100000 - mean * mean);
    ck_assert_double_eq_tol(hist_stddev(h), sd, sd / 100);
    free(h);
}
END_TEST

/* ---- encoding ---------------------------------------------------------- */

/* Encode, decode, compare whole structs, and re-encode to the same bytes. */
static size_t roundtrip(const struct hist *h)
{
    size_t len;
    uint8_t *buf = encode_alloc(h, &len);
    ck_assert_uint_le(len, HIST_ENCODED_MAX);
    struct hist *d = hist_alloc();
    hist_record(d, 99);                                  /* decode must overwrite */
    ck_assert_int_eq(hist_decode(d, buf, len), 0);
    ck_assert_msg(memcmp(d, h, sizeof *h) == 0, "decoded histogram differs");
    size_t len2;
    uint8_t *buf2 = encode_alloc(d, &len2);
    ck_assert_uint_eq(len2, len);
    ck_assert_msg(memcmp(buf, buf2, len) == 0, "re-encoding differs");
    free(buf);
    free(buf2);
    free(d);
    return len;
}

START_TEST(test_encode_roundtrip_sparse)
{
    struct hist *h = hist_alloc();
    ck_assert_uint_eq(roundtrip(h), 2);                  /* empty: version + count */
    static const uint64_t vals[] = { 0, 1, 255, 256, 1000, 1000000, 100000000 };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        hist_record(h, vals[i]);
    hist_record_n(h, 1000, 5);
    size_t len = roundtrip(h);
    ck_assert_uint_le(len, 64);

    hist_init(h);
    hist_record(h, 42);
    roundtrip(h);
    hist_record(h, UINT64_MAX);                          /* overflow and saturated sum */
    roundtrip(h);
    hist_init(h);
    hist_record_n(h, UINT64_MAX, 7);                     /* only overflowed values */
    roundtrip(h);
    free(h);
}
END_TEST

START_TEST(test_encode_roundtrip_dense)
{
    struct hist *h = hist_alloc();
    struct rng r;
    rng_seed(&r, 41);
    /* Every bucket nonzero, counts from 1 to 2^40. */
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
        hist_record_n(h, rng_range(&r, lo, hi), 1 + (rng_next(&r) >> (24 + rng_next(&r) % 40)));
    }
    hist_record_n(h, UINT64_MAX, 3);
    ck_assert_ptr_null(invariant_error(h));
    roundtrip(h);

    /* A realistic run: 200k lognormal latencies. */
    hist_init(h);
    for (int i = 0; i < 200000; i++)
        hist_record(h, gen_lognormal(&r));
    size_t len = roundtrip(h);
    ck_assert_uint_lt(len, 8192);

    /* Alternating zero/nonzero buckets with huge counts: the worst layout. */
    hist_init(h);
    for (unsigned i = 0; i < HIST_BUCKETS; i += 2)
        hist_record_n(h, hist_bucket_low(i), UINT64_C(1) << 50);
    roundtrip(h);
    free(h);
}
END_TEST

START_TEST(test_encode_small_buffer)
{
    struct hist *h = hist_alloc();
    for (uint64_t v = 1; v < 100000000; v = v * 3 + 1)
        hist_record(h, v);
    size_t need = hist_encode(h, NULL, 0);
    ck_assert_uint_gt(need, 10);
    uint8_t *buf = xmalloc(need + 16);
    memset(buf, 0xAA, need + 16);
    ck_assert_uint_eq(hist_encode(h, buf, need - 1), need);
    for (size_t i = 0; i < need + 16; i++)
        require(buf[i] == 0xAA, "byte %zu written", i);  /* nothing written */
    ck_assert_uint_eq(hist_encode(h, buf, need + 16), need);
    ck_assert_uint_eq(buf[0], HIST_ENCODING_VERSION);
    ck_assert_uint_eq(buf[need], 0xAA);                  /* nothing past the end */
    free(buf);
    free(h);
}
END_TEST

START_TEST(test_decode_truncated)
{
    struct hist *h = hist_alloc();
    struct scratch *sc = scratch_new();
    struct rng r;
    rng_seed(&r, 51);
    for (int variant = 0; variant < 4; variant++) {
        hist_init(h);
        if (variant == 1)
            hist_record(h, 1234);
        if (variant == 2)
            for (int i = 0; i < 5000; i++)
                hist_record(h, gen_lognormal(&r));
        if (variant == 3) {
            hist_record_n(h, 3, UINT64_C(1) << 62);
            hist_record(h, UINT64_MAX);
        }
        size_t len;
        uint8_t *full = encode_alloc(h, &len);
        ck_assert_int_eq(decode_checked(sc, full, len), 0);
        for (size_t k = 0; k < len; k++) {
            uint8_t *pre = xmalloc(k);                   /* exact size: ASan sees over-reads */
            memcpy(pre, full, k);
            require(decode_checked(sc, pre, k) == -1, "variant %d: prefix %zu/%zu accepted",
                    variant, k, len);
            free(pre);
        }
        free(full);
    }
    ck_assert_int_eq(hist_decode(h, NULL, 0), -1);
    free(sc);
    free(h);
}
END_TEST

START_TEST(test_decode_bad_version)
{
    struct hist *h = hist_alloc();
    struct scratch *sc = scratch_new();
    hist_record(h, 777);
    size_t len;
    uint8_t *buf = encode_alloc(h, &len);
    static const uint8_t bad[] = { 0, 2, 3, 0x81, 0xff };
    for (size_t i = 0; i < sizeof bad; i++) {
        buf[0] = bad[i];
        ck_assert_int_eq(decode_checked(sc, buf, len), -1);
    }
    buf[0] = HIST_ENCODING_VERSION;
    ck_assert_int_eq(decode_checked(sc, buf, len), 0);
    ck_assert_msg(memcmp(&sc->h, h, sizeof *h) == 0, "decoded histogram differs");
    free(sc);
    free(buf);
    free(h);
}
END_TEST

/* Whatever decode accepted (now in h) must satisfy the invariants and be
 * canonical: it re-encodes to the same bytes. */
static void check_accepted(const struct hist *h, const uint8_t *in, size_t len)
{
    const char *err = invariant_error(h);
    require(err == NULL, "accepted input breaks invariant: %s", err);
    size_t len2;
    uint8_t *re = encode_alloc(h, &len2);
    require(len2 == len && memcmp(re, in, len) == 0, "accepted input is not canonical");
    free(re);
}

/* A hand-made encoding: header fields and the run words (zeros, n, counts...). */
struct enc {
    uint64_t count, min, max, sum, overflow;
    uint64_t words[12];
    size_t nwords;
};

#define ENC(cnt, mn, mx, sm, ov, ...)                                         \
    { (cnt), (mn), (mx), (sm), (ov), { __VA_ARGS__ },                         \
      sizeof((uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t) }

#define BIG   (UINT64_C(1) << 40)                        /* beyond HIST_MAX_US */
#define LAST  ((uint64_t)HIST_BUCKETS - 1)

static size_t enc_build(struct buf *b, const struct enc *e)
{
    b->n = 0;
    b_byte(b, HIST_ENCODING_VERSION);
    b_var(b, e->count);
    b_var(b, e->min);
    b_var(b, e->max);
    b_var(b, e->sum);
    b_var(b, e->overflow);
    for (size_t i = 0; i < e->nwords; i++)
        b_var(b, e->words[i]);
    return b->n;
}

/* Valid: values 10, 15, 20 (buckets 10, 15, 20). */
static const struct enc enc_base = ENC(3, 10, 20, 45, 0, 10, 1, 1, 4, 1, 1, 4, 1, 1);

/* Each breaks exactly one rule, so each check in the decoder is needed. */
static const struct {
    const char *what;
    struct enc e;
} bad_encs[] = {
    { "zero count inside a run",   ENC(3, 10, 20, 45, 0, 10, 2, 1, 0, 3, 1, 1, 4, 1, 1) },
    { "run of length 0",           ENC(3, 10, 20, 45, 0, 10, 1, 1, 2, 0, 2, 1, 1, 4, 1, 1) },
    { "later run without a gap",   ENC(4, 10, 20, 56, 0, 10, 1, 1, 0, 1, 1, 3, 1, 1, 4, 1, 1) },
    { "zeros past the last bucket", ENC(3, 10, 20, 45, 0, HIST_BUCKETS, 1, 1, 4, 1, 1, 4, 1, 1) },
    { "zeros wrapping 32 bits",    ENC(3, 10, 20, 45, 0, (UINT64_C(1) << 32) + 10, 1, 1, 4, 1, 1, 4, 1, 1) },
    { "run past the last bucket",  ENC(3, 10, 20, 45, 0, 10, 1, 1, 4, 1, 1, LAST - 16, 2, 1, 1) },
    { "counts short of count",     ENC(4, 10, 20, 55, 0, 10, 1, 1, 4, 1, 1, 4, 1, 1) },
    { "counts beyond count",       ENC(2, 10, 20, 30, 0, 10, 1, 1, 4, 1, 1, 4, 1, 1) },
    { "min > max in one bucket",   ENC(2, 257, 256, 513, 0, 256, 1, 2) },
    { "count 1, min != max",       ENC(1, 256, 257, 256, 0, 256, 1, 1) },
    { "min not in first bucket",   ENC(3, 9, 20, 44, 0, 10, 1, 1, 4, 1, 1, 4, 1, 1) },
    { "max not in last bucket",    ENC(3, 10, 21, 46, 0, 10, 1, 1, 4, 1, 1, 4, 1, 1) },
    { "sum below count values",    ENC(3, 10, 20, 39, 0, 10, 1, 1, 4, 1, 1, 4, 1, 1) },
    { "sum above count values",    ENC(3, 10, 20, 51, 0, 10, 1, 1, 4, 1, 1, 4, 1, 1) },
    { "overflow with small max",   ENC(3, 10, 20, 45, 1, 10, 1, 1, 4, 1, 1, 4, 1, 1) },
    { "huge max, no overflow",     ENC(2, 10, BIG, BIG + 10, 0, 10, 1, 1, LAST - 11, 1, 1) },
    { "huge min, overflow < count", ENC(2, BIG, BIG, 2 * BIG, 1, LAST, 1, 2) },
    { "all overflowed, small min", ENC(2, HIST_MAX_US, BIG, HIST_MAX_US + BIG, 2, LAST, 1, 2) },
    { "overflow beyond last bucket", ENC(3, 10, BIG, BIG + 20, 2, 10, 1, 2, LAST - 11, 1, 1) },
};

/* Replace the count varint (byte 1, one byte long in enc_base) by raw bytes. */
static size_t splice_count(struct buf *b, const uint8_t *raw, size_t n)
{
    size_t len = enc_build(b, &enc_base);
    ck_assert_uint_le(len - 2 + n + 1, sizeof b->b);
    memmove(b->b + 1 + n, b->b + 2, len - 2);
    memcpy(b->b + 1, raw, n);
    return b->n = len - 1 + n;
}

static void expect_rejected(struct scratch *sc, const uint8_t *in, size_t n, const char *what)
{
    uint8_t *exact = xmalloc(n);                         /* exact size for ASan */
    memcpy(exact, in, n);
    ck_assert_msg(decode_checked(sc, exact, n) == -1, "accepted: %s", what);
    free(exact);
}

START_TEST(test_decode_rejects_malformed)
{
    struct buf b;
    struct scratch *sc = scratch_new();
    size_t n = enc_build(&b, &enc_base);
    ck_assert_int_eq(decode_checked(sc, b.b, n), 0);
    ck_assert_uint_eq(sc->h.count, 3);
    ck_assert_uint_eq(sc->h.counts[10] + sc->h.counts[15] + sc->h.counts[20], 3);
    ck_assert_uint_eq(hist_percentile(&sc->h, 50), 15);
    check_accepted(&sc->h, b.b, n);

    for (size_t i = 0; i < sizeof bad_encs / sizeof bad_encs[0]; i++) {
        n = enc_build(&b, &bad_encs[i].e);
        expect_rejected(sc, b.b, n, bad_encs[i].what);
    }

    n = enc_build(&b, &enc_base);
    b_byte(&b, 0);
    expect_rejected(sc, b.b, n + 1, "trailing byte");
    static const uint8_t nonminimal[] = { 0x83, 0x00 };             /* 3 in two bytes */
    n = splice_count(&b, nonminimal, sizeof nonminimal);
    expect_rejected(sc, b.b, n, "non-minimal varint");
    static const uint8_t longest[] = { 0x83, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                       0x80, 0x00 };                /* 11 bytes */
    n = splice_count(&b, longest, sizeof longest);
    expect_rejected(sc, b.b, n, "11-byte varint");
    static const uint8_t bit64[] = { 0x83, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x02 };                        /* 3 + 2^64 */
    n = splice_count(&b, bit64, sizeof bit64);
    expect_rejected(sc, b.b, n, "65-bit varint");
    static const uint8_t empty_trailing[] = { HIST_ENCODING_VERSION, 0, 0 };
    expect_rejected(sc, empty_trailing, sizeof empty_trailing, "empty with trailing byte");
    free(sc);
}
END_TEST


START_TEST(test_decode_garbage)
{
    struct rng r;
    rng_seed(&r, 61);
    struct scratch *sc = scratch_new();
    int accepted = 0;
    for (int i = 0; i < 10000; i++) {
        size_t len = (size_t)rng_range(&r, 0, 300);
        uint8_t *buf = xmalloc(len);                     /* exact size for ASan */
        for (size_t k = 0; k < len; k++)
            buf[k] = (uint8_t)rng_next(&r);
        if (len > 0 && i % 2 == 0)
            buf[0] = HIST_ENCODING_VERSION;              /* get past the version check */
        if (len > 1 && i % 4 == 0)
            buf[1] = (uint8_t)(buf[1] & 0x7f);           /* and a plausible count */
        if (decode_checked(sc, buf, len) == 0) {
            accepted++;
            check_accepted(&sc->h, buf, len);
        }
        free(buf);
    }
    free(sc);
    ck_assert_int_lt(accepted, 100);                     /* garbage is nearly always refused */
}
END_TEST

START_TEST(test_decode_bit_flips)
{
    struct rng r;
    rng_seed(&r, 71);
    struct hist *h = hist_alloc();
    struct scratch *sc = scratch_new();
    for (int i = 0; i < 300; i++)
        hist_record(h, gen_lognormal(&r));
    hist_record(h, UINT64_MAX);
    size_t len;
    uint8_t *orig = encode_alloc(h, &len);
    uint8_t *buf = xmalloc(len);
    int rejected = 0;
    for (size_t k = 0; k < len; k++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, orig, len);
            buf[k] ^= (uint8_t)(1u << bit);
            if (decode_checked(sc, buf, len) == 0)
                check_accepted(&sc->h, buf, len);
            else
                rejected++;
        }
    }
    ck_assert_int_gt(rejected, 0);
    free(sc);
    free(buf);
    free(orig);
    free(h);
}
END_TEST

START_TEST(test_struct_is_flat)
{
    ck_assert_uint_eq(sizeof(struct hist), 31784);
    /* A memcpy'd copy (as sent in a message) behaves like the original. */
    struct hist *h = hist_alloc(), *copy = xmalloc(sizeof *copy);
    for (uint64_t v = 1; v < 1000000; v += 997)
        hist_record(h, v);
    memcpy(copy, h, sizeof *h);
    hist_record(h, 5);
    ck_assert_uint_eq(copy->count + 1, h->count);
    ck_assert_uint_eq(hist_percentile(copy, 99), hist_percentile(h, 99));
    free(copy);
    free(h);
}
END_TEST

static Suite *hist_suite(void)
{
    Suite *s = suite_create("hist");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bucket_geometry);
    tcase_add_test(tc, test_bucket_index_edges);
    tcase_add_test(tc, test_percentiles_uniform);
    tcase_add_test(tc, test_percentiles_exponential);
    tcase_add_test(tc, test_percentiles_bimodal);
    tcase_add_test(tc, test_percentiles_lognormal);
    tcase_add_test(tc, test_percentiles_all_equal);
    tcase_add_test(tc, test_percentiles_single_value);
    tcase_add_test(tc, test_percentile_rank_exact);
    tcase_add_test(tc, test_percentile_small_values_exact);
    tcase_add_test(tc, test_percentile_arguments);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_exact_stats);
    tcase_add_test(tc, test_record_n);
    tcase_add_test(tc, test_merge_halves);
    tcase_add_test(tc, test_clamp_huge);
    tcase_add_test(tc, test_sum_saturates);
    tcase_add_test(tc, test_stddev);
    tcase_add_test(tc, test_encode_roundtrip_sparse);
    tcase_add_test(tc, test_encode_roundtrip_dense);
    tcase_add_test(tc, test_encode_small_buffer);
    tcase_add_test(tc, test_decode_truncated);
    tcase_add_test(tc, test_decode_bad_version);
    tcase_add_test(tc, test_decode_rejects_malformed);
    tcase_add_test(tc, test_decode_garbage);
    tcase_add_test(tc, test_decode_bit_flips);
    tcase_add_test(tc, test_struct_is_flat);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(hist_suite)
