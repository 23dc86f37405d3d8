/* fuzz_cron: cron expressions (cron_parse) and their next fire times
 * (cron_next) in real time zones, as schedules give them (src/cron.c).
 * Input: one byte choosing the zone, eight bytes giving the instant to
 * start from, then the expression. Oracles: a refused expression says
 * why; fire times strictly increase; the first fire after any instant
 * between two fires is the later one (cron_next(t - 1) == t, and from a
 * point in between); every fire prints as ISO 8601. */
#include "fuzz.h"
#include "fuzz_zones.h"

#include "cron.h"

#define YEAR1 (-62135596800ll)   /* 0001-01-01T00:00:00Z */
#define YEAR10000 253402300800ll /* 10000-01-01T00:00:00Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    const struct tz_zone *z = fuzz_zone(data[0]);
    uint64_t raw;
    memcpy(&raw, data + 1, 8);
    /* mostly years 1970-2100, sometimes anywhere the search allows, rarely
     * anything at all */
    int64_t after;
    switch (raw & 3) {
    case 0: after = (int64_t)(raw >> 2); break;
    case 1: after = YEAR1 - 86400 + (int64_t)((raw >> 2) % (uint64_t)(YEAR10000 - YEAR1 + 2 * 86400)); break;
    default: after = (int64_t)((raw >> 2) % 4102444800ull); break;
    }
    char *expr = fuzz_cstr(data + 9, size - 9);

    char err[256] = "";
    struct cron *c = cron_parse(expr, err, sizeof err);
    if (!c) {
        FUZZ_CHECK(err[0] != '\0');
        free(expr);
        return 0;
    }
    uint64_t rng = raw | 1;
    int64_t t = after;
    for (int i = 0; i < 4; i++) {
        int64_t next = cron_next(c, z, t);
        if (next == -1) /* none; instants before 1970 are negative too */
            break;
        if (next <= t)
            fprintf(stderr, "cron_next(\"%s\", %s, %lld) = %lld\n", expr, tz_name(z), (long long)t,
                    (long long)next);
        FUZZ_CHECK(next > t);
        FUZZ_CHECK(next < YEAR10000 + 2 * 86400);
        char iso[32];
        FUZZ_CHECK(cron_format_iso(next, z, iso, sizeof iso) > 0);
        /* no fire in (t, next): starting anywhere there finds next */
        int64_t mid = t + 1 + (int64_t)(fuzz_rand(&rng) % (uint64_t)(next - t));
        int64_t again = cron_next(c, z, mid - 1);
        if (again != next)
            fprintf(stderr, "cron_next(\"%s\", %s): from %lld -> %lld, from %lld -> %lld\n", expr,
                    tz_name(z), (long long)t, (long long)next, (long long)(mid - 1), (long long)again);
        FUZZ_CHECK(again == next);
        t = next;
    }
    cron_free(c);
    free(expr);
    return 0;
}
