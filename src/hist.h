/* hist: a fixed-size log-linear latency histogram (HDR-style), values in µs.
 * Recording is a few instructions with no allocation; a histogram holds no
 * pointers, so it can be memcpy'd into a message, merged, and encoded. */
#ifndef STAMPEDE_HIST_H
#define STAMPEDE_HIST_H

#include <stddef.h>
#include <stdint.h>

/*
 * Bucket layout. Values 0..255 µs each have their own bucket (exact). Each
 * range [2^k, 2^(k+1)) for k = 8..36 is split into 128 equal buckets of width
 * 2^(k-7), so a bucket is at most 1/128 of its lowest value wide and a
 * reported percentile (the bucket's midpoint) is within 1/256 (0.4%) of the
 * true value. Tracked range: 0 .. HIST_MAX_US = 2^37 - 1 µs (about 38 h).
 * Larger values are counted in the last bucket and in `overflow`; `max`
 * keeps their exact value.
 */
#define HIST_SUB_BITS     7
#define HIST_SUB_BUCKETS  (1u << HIST_SUB_BITS)               /* 128 */
#define HIST_TOP_BIT      36                                  /* last [2^k, 2^(k+1)) */
#define HIST_BUCKETS      ((HIST_TOP_BIT - HIST_SUB_BITS + 2) * HIST_SUB_BUCKETS) /* 3968 */
#define HIST_MAX_US       ((UINT64_C(1) << (HIST_TOP_BIT + 1)) - 1)

/*
 * A histogram: 31,784 bytes (5 + 3968 uint64_t), no pointers and no padding,
 * so memcpy copies it and memcmp compares two of them.
 * Invariants: count == sum of counts[]; empty <=> count == 0, and then
 * min == UINT64_MAX, max == 0, sum == overflow == 0.
 * `sum` saturates at UINT64_MAX instead of wrapping (584,000 years of µs;
 * only reached by absurd inputs). Not thread-safe: one owner per histogram;
 * to combine across threads, send a copy and hist_merge() it on the receiver.
 */
struct hist {
    uint64_t count;                 /* values recorded */
    uint64_t min;                   /* exact smallest value; UINT64_MAX if empty */
    uint64_t max;                   /* exact largest value, even above HIST_MAX_US */
    uint64_t sum;                   /* µs, saturating */
    uint64_t overflow;              /* values > HIST_MAX_US (also in the last bucket) */
    uint64_t counts[HIST_BUCKETS];
};

_Static_assert(sizeof(struct hist) == (5 + HIST_BUCKETS) * sizeof(uint64_t),
               "struct hist must have no padding");

/* Empty the histogram. hist_reset is the same operation, for reuse. */
void hist_init(struct hist *h);
void hist_reset(struct hist *h);

/* Bucket of v_us; values above HIST_MAX_US map to the last bucket.
 * Branch-free: a clz and a shift. */
static inline unsigned hist_bucket_index(uint64_t v_us)
{
    uint64_t c = v_us < HIST_MAX_US ? v_us : HIST_MAX_US;
    /* c | 255 makes values < 256 use shift 0, i.e. one bucket per value. */
    unsigned shift = (unsigned)(63 - __builtin_clzll(c | 255u)) - HIST_SUB_BITS;
    return (shift << HIST_SUB_BITS) + (unsigned)(c >> shift);
}

/* Lowest and highest value (inclusive, µs) of bucket i < HIST_BUCKETS. */
uint64_t hist_bucket_low(unsigned i);
uint64_t hist_bucket_high(unsigned i);

/* Record one value. */
static inline void hist_record(struct hist *h, uint64_t v_us)
{
    h->counts[hist_bucket_index(v_us)]++;
    h->count++;
    h->overflow += v_us > HIST_MAX_US;
    uint64_t s = h->sum + v_us;
    h->sum = s < v_us ? UINT64_MAX : s;     /* saturate instead of wrapping */
    h->min = v_us < h->min ? v_us : h->min;
    h->max = v_us > h->max ? v_us : h->max;
}

/* Record the same value n times (n == 0 does nothing). */
static inline void hist_record_n(struct hist *h, uint64_t v_us, uint64_t n)
{
    if (n == 0)
        return;
    uint64_t add, s;
    if (__builtin_mul_overflow(v_us, n, &add) || __builtin_add_overflow(h->sum, add, &s))
        s = UINT64_MAX;
    h->sum = s;
    h->counts[hist_bucket_index(v_us)] += n;
    h->count += n;
    h->overflow += v_us > HIST_MAX_US ? n : 0;
    h->min = v_us < h->min ? v_us : h->min;
    h->max = v_us > h->max ? v_us : h->max;
}

/* dst += src, exactly: the result equals having recorded both streams into
 * one histogram. src is borrowed and unchanged; dst == src is allowed. */
void hist_merge(struct hist *dst, const struct hist *src);

int hist_is_empty(const struct hist *h);
uint64_t hist_count(const struct hist *h);
/* Exact extremes in µs; 0 for an empty histogram. */
uint64_t hist_min(const struct hist *h);
uint64_t hist_max(const struct hist *h);
/* sum / count in µs; 0.0 if empty. Inexact once sum has saturated. */
double hist_mean(const struct hist *h);
/* Population standard deviation in µs, computed from bucket midpoints
 * clamped into [min, max] (each value within 0.4%; values above HIST_MAX_US
 * count as the last bucket's midpoint). 0.0 if empty. Walks all buckets. */
double hist_stddev(const struct hist *h);

/*
 * The value at nearest rank ceil(p/100 * count), p in [0, 100], in µs.
 * Reported as the midpoint of that value's bucket, clamped into [min, max]:
 * so p0 (and p < 0, NaN) == min, p100 (and p > 100) == max, and a histogram
 * of equal values reports that value exactly. Ranks that fall on values
 * above HIST_MAX_US report max. 0 if empty. Walks the buckets (≤ 3968).
 */
uint64_t hist_percentile(const struct hist *h, double p);

/*
 * Serialization, for database rows and the network. Format (version 1):
 *   byte    HIST_ENCODING_VERSION
 *   varint  count                  (LEB128, unsigned, minimal length)
 *   if count > 0:
 *     varint min, max, sum, overflow
 *     runs up to the last nonzero bucket, each:
 *       varint zeros   zero buckets skipped (>= 1 except in the first run)
 *       varint n       nonzero buckets that follow (>= 1)
 *       n varints      their counts (each >= 1)
 * The encoding is canonical: equal histograms give equal bytes.
 * An empty histogram takes 2 bytes; a latency run of 100 to 10M samples
 * (log-normal, one decade wide) takes about 0.3 to 3 KB.
 */
#define HIST_ENCODING_VERSION 1
/* Upper bound on hist_encode's result for any histogram (47,667 bytes):
 * header, a 10-byte varint per bucket, and at most (buckets+1)/2 runs each
 * with two varints of at most 2 bytes. */
#define HIST_ENCODED_MAX (1 + 5 * 10 + HIST_BUCKETS * 10 + (HIST_BUCKETS + 1) / 2 * 4)

/* Write h's encoding into out[0..cap) and return its length in bytes.
 * If the result is > cap nothing is written (out may be NULL with cap 0,
 * to ask for the size). Never fails. */
size_t hist_encode(const struct hist *h, uint8_t *out, size_t cap);

/* Replace *h with the histogram encoded in in[0..len) (borrowed).
 * Returns 0, or -1 if the input is truncated, has trailing bytes, a wrong
 * version, or is otherwise malformed or inconsistent (counts not adding up
 * to count, min/max outside the nonzero buckets, ...); on -1 *h is left
 * unchanged. Reads nothing outside in[0..len); safe on untrusted input. */
int hist_decode(struct hist *h, const uint8_t *in, size_t len);

#endif
