/* fuzz_duration: durations ("1m30s", "250ms", "1.5s") and sizes ("1MiB")
 * as scripts, the config and the REST API write them (src/duration.c).
 * Input: a string. Oracles: an accepted duration is at most ~317 years and
 * what duration_format writes for it parses back to the same value; a
 * size with more digits than a uint64 holds is refused. The input's first
 * 8 bytes are also formatted as a number of microseconds. */
#include "fuzz.h"

#include "duration.h"

#include <ctype.h>

#define MAX_US 10000000000000000ull /* duration.c's bound, 1e16 us */

/* duration_format(us) must read back as us: exactly below 2^50 us (35
 * years), where duration_parse's double arithmetic is exact to the
 * microsecond; within a few microseconds above. */
static void round_trip(uint64_t us)
{
    char buf[64];
    uint64_t back = 0;
    duration_format(us, buf, sizeof buf);
    int rc = duration_parse(buf, &back);
    uint64_t slack = us >> 50, diff = back > us ? back - us : us - back;
    if (rc != 0 || diff > slack)
        fprintf(stderr, "duration_format(%llu) = \"%s\" reads back as %s%llu\n",
                (unsigned long long)us, buf, rc ? "an error, " : "", (unsigned long long)back);
    FUZZ_CHECK(rc == 0 && diff <= slack);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    uint64_t us = 0;
    if (duration_parse(s, &us) == 0) {
        FUZZ_CHECK(us <= MAX_US);
        round_trip(us);
    }

    uint64_t bytes = 0;
    if (size_parse(s, &bytes) == 0) {
        /* the leading digits must fit in a uint64 */
        uint64_t v = 0;
        for (const char *p = s; isdigit((unsigned char)*p); p++)
            FUZZ_CHECK(!__builtin_mul_overflow(v, 10, &v) && !__builtin_add_overflow(v, (uint64_t)(*p - '0'), &v));
        FUZZ_CHECK(bytes >= v);
    }

    if (size >= 8) {
        uint64_t raw;
        memcpy(&raw, data, 8);
        round_trip(raw % (MAX_US + 1));
        round_trip(raw % 100000000000ull); /* the common range: under a day */
    }
    free(s);
    return 0;
}
