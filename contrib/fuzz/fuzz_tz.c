/* fuzz_tz: the time parts schedules read (src/tz.c). Input: one byte of
 * mode. Mode 0: a zone byte, then a time as "at" gives it (tz_parse_iso);
 * oracle: a local time maps to an instant that shows it, or to the end of
 * the gap that skipped it. Mode 1: the bytes of a TZif file (tz_parse, the
 * system's zone files); oracle: the offset spans of an accepted zone hold
 * the instant asked about and have one offset throughout, and local times
 * map back. */
#include "fuzz.h"
#include "fuzz_zones.h"

#include "cron.h"
#include "tz.h"

static struct tz_zone *utc;

static void iso(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    const struct tz_zone *z = fuzz_zone(data[0]);
    char *s = fuzz_cstr(data + 1, size - 1);
    int64_t t = 0, wall = 0;
    if (tz_parse_iso(s, z, &t) == 0) {
        FUZZ_CHECK(t > -62135596800ll - 86400 && t < 253402300800ll + 86400);
        char buf[40];
        FUZZ_CHECK(cron_format_iso(t, z, buf, sizeof buf) > 0);
        /* In UTC a local time is its own wall time. */
        FUZZ_CHECK(tz_parse_iso(s, utc, &wall) == 0);
        size_t n = strlen(s);
        int local = n > 0 && s[n - 1] != 'Z' && s[n - 1] != 'z' && !strpbrk(s + 16, "+-");
        if (local) {
            int32_t off = tz_offset_at(z, t), before = tz_offset_at(z, t - 1);
            if (t + off != wall) {
                /* skipped by a forward jump: t is where the gap ends */
                FUZZ_CHECK(before < off && wall >= t + before && wall < t + off);
            }
            /* the first instant showing it: no earlier one, under any
             * offset in force shortly before */
            static const int64_t back[] = { 1, 1800, 3600, 7200, 86400 };
            for (size_t i = 0; i < sizeof back / sizeof back[0]; i++) {
                int32_t o = tz_offset_at(z, t - back[i]);
                int64_t u = wall - o;
                FUZZ_CHECK(u >= t || tz_offset_at(z, u) != o);
            }
        }
    }
    free(s);
}

static void tzif(const uint8_t *data, size_t size)
{
    char err[256] = "";
    struct tz_zone *z = tz_parse(data, size, "fuzz", err, sizeof err);
    if (!z) {
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    FUZZ_CHECK(strcmp(tz_name(z), "fuzz") == 0);
    uint64_t rng = size;
    for (int i = 0; i < 8; i++) {
        int64_t t = (int64_t)(fuzz_rand(&rng) % 8000000000ull) - 4000000000ll;
        int64_t s = 0, e = 0;
        int32_t off = tz_span_at(z, t, &s, &e);
        FUZZ_CHECK(off > -TZ_MAX_OFFSET_S && off < TZ_MAX_OFFSET_S);
        FUZZ_CHECK(s <= t && t < e);
        FUZZ_CHECK(tz_offset_at(z, t) == off);
        if (s != INT64_MIN)
            FUZZ_CHECK(tz_offset_at(z, s) == off);
        if (e != INT64_MAX)
            FUZZ_CHECK(tz_offset_at(z, e - 1) == off);
        int64_t back = tz_local_to_utc(z, t + off);
        FUZZ_CHECK(back <= t);
        FUZZ_CHECK(back + tz_offset_at(z, back) == t + off);
    }
    tz_free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!utc)
        utc = tz_utc();
    if (size < 1)
        return 0;
    if (data[0] & 1)
        tzif(data + 1, size - 1);
    else
        iso(data + 1, size - 1);
    return 0;
}
