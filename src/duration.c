/* duration: "1m30s"-style durations and "1MiB"-style sizes. */
#include "duration.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *suffix;
    double us;
} units[] = {
    { "us", 1.0 }, { "µs", 1.0 }, { "ms", 1e3 }, { "s", 1e6 }, { "m", 60e6 }, { "h", 3600e6 }, { "d", 86400e6 },
};

#define MAX_US 1e16 /* ~317 years: anything above is surely a typo */

int duration_parse(const char *s, uint64_t *out_us)
{
    if (!s || !*s)
        return -1;
    if (strcmp(s, "0") == 0) {
        *out_us = 0;
        return 0;
    }
    double total = 0;
    const char *p = s;
    while (*p) {
        /* digits with at most one '.', no sign, no exponent */
        const char *q = p;
        int dots = 0, digits = 0;
        while (isdigit((unsigned char)*q) || *q == '.') {
            dots += *q == '.';
            digits += *q != '.';
            q++;
        }
        if (!digits || dots > 1)
            return -1;
        char num[64];
        if ((size_t)(q - p) >= sizeof num)
            return -1;
        memcpy(num, p, (size_t)(q - p));
        num[q - p] = '\0';
        double v = strtod(num, NULL);
        if (!isfinite(v))
            return -1;
        p = q;
        size_t best = 0;
        double mult = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t l = strlen(units[i].suffix);
            if (l > best && strncmp(p, units[i].suffix, l) == 0) {
                best = l;
                mult = units[i].us;
            }
        }
        if (!best)
            return -1;
        p += best;
        total += v * mult;
        if (total > MAX_US)
            return -1;
    }
    *out_us = (uint64_t)llround(total);
    return 0;
}

/* us / unit written exactly: the whole part, then the fraction of `digits`
 * digits without its trailing zeros ("1.5", "59.999999", "2"), then the
 * suffix. Exact so that duration_parse reads back the same value: "%g"
 * kept 6 digits ("1.23457s") and wrote exponents duration_parse refuses
 * ("1e+06s", from curl -m 1000000.5). */
static void format_decimal(char *buf, size_t len, uint64_t us, uint64_t unit, int digits,
                           const char *suffix)
{
    unsigned long long whole = us / unit, frac = us % unit;
    if (!frac) {
        snprintf(buf, len, "%llu%s", whole, suffix);
        return;
    }
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    snprintf(buf, len, "%llu.%0*llu%s", whole, digits, frac, suffix);
}

char *duration_format(uint64_t us, char *buf, size_t len)
{
    if (us == 0)
        snprintf(buf, len, "0s");
    else if (us < 1000)
        snprintf(buf, len, "%lluus", (unsigned long long)us);
    else if (us < 1000000)
        format_decimal(buf, len, us, 1000, 3, "ms");
    else if (us < 60000000 || us % 1000000)
        format_decimal(buf, len, us, 1000000, 6, "s");
    else if (us % 3600000000ull == 0)
        snprintf(buf, len, "%lluh", (unsigned long long)(us / 3600000000ull));
    else if (us % 60000000 == 0)
        snprintf(buf, len, "%llum", (unsigned long long)(us / 60000000));
    else
        snprintf(buf, len, "%llum%llus", (unsigned long long)(us / 60000000),
                 (unsigned long long)(us % 60000000 / 1000000));
    return buf;
}

int size_parse(const char *s, uint64_t *out_bytes)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE) /* strtoull gives ULLONG_MAX: too many digits is no size */
        return -1;
    uint64_t mult = 1;
    if (*end) {
        switch (tolower((unsigned char)*end)) {
        case 'k': mult = 1024ull; break;
        case 'm': mult = 1024ull * 1024; break;
        case 'g': mult = 1024ull * 1024 * 1024; break;
        case 'b': mult = 1; break;
        default: return -1;
        }
        end++;
        if (*end && strcasecmp(end, "ib") != 0 && strcasecmp(end, "b") != 0)
            return -1;
    }
    if (v > UINT64_MAX / mult)
        return -1;
    *out_bytes = v * mult;
    return 0;
}
