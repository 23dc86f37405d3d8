/* hist: log-linear latency histogram — bucket geometry, merge, percentiles,
 * and the compact varint encoding used for database rows and messages.
 * The hot path (hist_record) is inline in hist.h. */
#include "hist.h"

#include <math.h>
#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void hist_reset(struct hist *h)
{
    hist_init(h);
}

/* Shift of bucket i: 0 for the exact buckets 0..255, else i/128 - 1.
 * Inverse of hist_bucket_index: i = (shift << 7) + (v >> shift). */
static unsigned bucket_shift(unsigned i)
{
    return i < 2 * HIST_SUB_BUCKETS ? 0 : (i >> HIST_SUB_BITS) - 1;
}

uint64_t hist_bucket_low(unsigned i)
{
    unsigned shift = bucket_shift(i);
    return (uint64_t)(i - (shift << HIST_SUB_BITS)) << shift;
}

uint64_t hist_bucket_high(unsigned i)
{
    return hist_bucket_low(i) + ((UINT64_C(1) << bucket_shift(i)) - 1);
}

static uint64_t bucket_mid(unsigned i)
{
    uint64_t lo = hist_bucket_low(i);
    return lo + (hist_bucket_high(i) - lo) / 2;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->count += src->count;
    dst->overflow += src->overflow;
    dst->sum = sat_add(dst->sum, src->sum);
    /* An empty src has min UINT64_MAX and max 0, so these are no-ops. */
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

int hist_is_empty(const struct hist *h)
{
    return h->count == 0;
}

uint64_t hist_count(const struct hist *h)
{
    return h->count;
}

uint64_t hist_min(const struct hist *h)
{
    return h->count ? h->min : 0;
}

uint64_t hist_max(const struct hist *h)
{
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

double hist_stddev(const struct hist *h)
{
    if (h->count == 0)
        return 0.0;
    double mean = hist_mean(h), acc = 0.0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        if (h->counts[i]) {
            /* Clamped like percentiles, so equal values give exactly 0. */
            uint64_t m = bucket_mid(i);
            m = m < h->min ? h->min : m > h->max ? h->max : m;
            double d = (double)m - mean;
            acc += (double)h->counts[i] * d * d;
        }
    }
    return sqrt(acc / (double)h->count);
}

/* Nearest rank ceil(p/100 * count), in 1..count, for 0 < p < 100.
 * p * count / 100 is computed in double, so 99.9 (not exactly representable)
 * times 100000 could land a hair above 99900 and ceil would give 99901. So
 * a product within a relative 1e-12 above an integer counts as that integer;
 * rounding error is ~1e-16, and for p with up to 4 decimals and counts below
 * 1e8 the true product is never that close above an integer without being one. */
static uint64_t nearest_rank(uint64_t count, double p)
{
    double x = p * (double)count / 100.0;
    double r = ceil(x - x * 1e-12);
    if (!(r >= 1.0))
        return 1;
    if (r >= (double)count)
        return count;
    return (uint64_t)r;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (!(p > 0.0))         /* also NaN */
        return h->min;
    if (p >= 100.0)
        return h->max;

    uint64_t rank = nearest_rank(h->count, p);
    /* Overflowed values are the largest ones: the top `overflow` ranks. */
    if (rank > h->count - h->overflow)
        return h->max;

    uint64_t seen = 0;
    unsigned i = 0;
    for (; i < HIST_BUCKETS - 1; i++) {
        seen += h->counts[i];
        if (seen >= rank)
            break;
    }
    uint64_t v = bucket_mid(i);
    if (v < h->min)
        v = h->min;
    if (v > h->max)
        v = h->max;
    return v;
}

/* ---- encoding ---------------------------------------------------------- */

/* Output cursor: counts every byte, stores only those that fit. */
struct wr {
    uint8_t *out;
    size_t cap;
    size_t len;
};

static void put_byte(struct wr *w, uint8_t b)
{
    if (w->len < w->cap)
        w->out[w->len] = b;
    w->len++;
}

static void put_varint(struct wr *w, uint64_t v)
{
    while (v >= 0x80) {
        put_byte(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    put_byte(w, (uint8_t)v);
}

static void encode_into(const struct hist *h, struct wr *w)
{
    put_byte(w, HIST_ENCODING_VERSION);
    put_varint(w, h->count);
    if (h->count == 0)
        return;
    put_varint(w, h->min);
    put_varint(w, h->max);
    put_varint(w, h->sum);
    put_varint(w, h->overflow);

    unsigned i = 0;
    for (;;) {
        unsigned start = i;
        while (i < HIST_BUCKETS && h->counts[i] == 0)
            i++;
        if (i == HIST_BUCKETS)
            break;                  /* trailing zeros are implicit */
        unsigned first = i;
        while (i < HIST_BUCKETS && h->counts[i] != 0)
            i++;
        put_varint(w, first - start);
        put_varint(w, i - first);
        for (unsigned j = first; j < i; j++)
            put_varint(w, h->counts[j]);
    }
}

size_t hist_encode(const struct hist *h, uint8_t *out, size_t cap)
{
    /* Measure first so that a too-small buffer is left untouched. */
    struct wr w = { NULL, 0, 0 };
    encode_into(h, &w);
    if (w.len <= cap) {
        size_t need = w.len;
        w = (struct wr){ out, cap, 0 };
        encode_into(h, &w);
        return need;
    }
    return w.len;
}

/* ---- decoding ---------------------------------------------------------- */

struct rd {
    const uint8_t *in;
    size_t len;
    size_t pos;
};

/* Read a minimal-length LEB128 varint of at most 64 bits. */
static int get_varint(struct rd *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->pos >= r->len)
            return -1;
        uint8_t b = r->in[r->pos++];
        if (shift == 63 && b > 1)
            return -1;              /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (b == 0 && shift != 0)
                return -1;          /* non-minimal: canonical form only */
            *out = v;
            return 0;
        }
    }
    return -1;
}

/*
 * Parse and validate in[0..len). With out == NULL only validates; with out
 * set, fills it (only call that way after a NULL pass succeeded, so *out is
 * never left half-written).
 */
static int decode_pass(struct hist *out, const uint8_t *in, size_t len)
{
    struct rd r = { in, len, 0 };
    uint64_t count, min, max, sum, overflow;

    if (len < 1 || in[0] != HIST_ENCODING_VERSION)
        return -1;
    r.pos = 1;
    if (get_varint(&r, &count) < 0)
        return -1;
    if (count == 0) {
        if (r.pos != len)
            return -1;
        if (out)
            hist_init(out);
        return 0;
    }
    if (get_varint(&r, &min) < 0 || get_varint(&r, &max) < 0 ||
        get_varint(&r, &sum) < 0 || get_varint(&r, &overflow) < 0)
        return -1;
    if (min > max || overflow > count)
        return -1;
    /* overflow counts exactly the values > HIST_MAX_US. */
    if ((overflow > 0) != (max > HIST_MAX_US) ||
        (overflow == count) != (min > HIST_MAX_US))
        return -1;
    /* One value equals min, one equals max, the rest lie between; these
     * bounds saturate like sum itself, so a saturated sum still passes. */
    if (count == 1 && min != max)
        return -1;
    uint64_t lo = min, hi = max;
    if (count >= 2) {
        lo = sat_add(sat_add(min, max), sat_mul(count - 2, min));
        hi = sat_add(sat_add(min, max), sat_mul(count - 2, max));
    }
    if (sum < lo || sum > hi)
        return -1;

    if (out) {
        hist_init(out);
        out->count = count;
        out->min = min;
        out->max = max;
        out->sum = sum;
        out->overflow = overflow;
    }

    uint64_t total = 0, last_count = 0;
    unsigned bucket = 0, first_nz = HIST_BUCKETS, last_nz = 0;
    while (r.pos < len) {
        uint64_t zeros, n;
        if (get_varint(&r, &zeros) < 0)
            return -1;
        /* A later run with no gap would be part of the previous run. */
        if ((first_nz != HIST_BUCKETS && zeros == 0) || zeros > HIST_BUCKETS - bucket)
            return -1;
        bucket += (unsigned)zeros;
        if (get_varint(&r, &n) < 0)
            return -1;
        if (n == 0 || n > HIST_BUCKETS - bucket)
            return -1;
        if (first_nz == HIST_BUCKETS)
            first_nz = bucket;
        for (uint64_t j = 0; j < n; j++, bucket++) {
            uint64_t c;
            if (get_varint(&r, &c) < 0 || c == 0)
                return -1;
            if (__builtin_add_overflow(total, c, &total) || total > count)
                return -1;
            if (out)
                out->counts[bucket] = c;
            last_count = c;
        }
        last_nz = bucket - 1;
    }
    if (total != count)
        return -1;
    /* min and max must sit in the first and last nonzero buckets, and the
     * overflowed values all live in the last bucket. */
    if (first_nz != hist_bucket_index(min) || last_nz != hist_bucket_index(max))
        return -1;
    if (overflow > 0 && overflow > last_count)
        return -1;
    return 0;
}

int hist_decode(struct hist *h, const uint8_t *in, size_t len)
{
    if (in == NULL || decode_pass(NULL, in, len) < 0)
        return -1;
    return decode_pass(h, in, len);
}
