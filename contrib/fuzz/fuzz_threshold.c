/* fuzz_threshold: k6-style threshold metrics and expressions
 * (src/threshold.c), as scripts give them: "http_req_duration{step:home}"
 * with ["p(95)<200", "avg<100"]. Input: the metric, a newline, the
 * expression; with no newline, the input is an expression tried on every
 * metric. Oracle: what parses is in range (a finite value, a percentile in
 * (0, 100], an aggregation the metric has); what does not says why. */
#include "fuzz.h"

#include "threshold.h"

#include <math.h>

#define NMETRICS ((int)TM_DATA_SENT + 1)

static void parse_expr(enum threshold_metric m, const char *text)
{
    struct threshold t;
    memset(&t, 0xa5, sizeof t);
    struct threshold before = t;
    char err[256] = "";
    if (threshold_parse_expr(m, text, &t, err, sizeof err) < 0) {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(memcmp(&t, &before, sizeof t) == 0); /* unchanged on failure */
        return;
    }
    FUZZ_CHECK(t.metric == m);
    FUZZ_CHECK(isfinite(t.value));
    FUZZ_CHECK((int)t.agg >= TA_AVG && (int)t.agg <= TA_RATE);
    FUZZ_CHECK((int)t.op >= TO_LT && (int)t.op <= TO_NE);
    FUZZ_CHECK(t.agg == TA_P ? t.p > 0 && t.p <= 100 : t.p == 0);
    FUZZ_CHECK(!threshold_holds(&t, NAN));
    int eq = threshold_holds(&t, t.value);
    FUZZ_CHECK(eq == (t.op == TO_LE || t.op == TO_GE || t.op == TO_EQ));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        enum threshold_metric m;
        char step[65], err[320] = "";
        memset(step, 'x', sizeof step);
        if (threshold_parse_metric(s, &m, step, sizeof step, err, sizeof err) == 0) {
            FUZZ_CHECK((int)m >= 0 && (int)m < NMETRICS);
            FUZZ_CHECK(memchr(step, '\0', sizeof step) != NULL);
            FUZZ_CHECK(strcmp(threshold_metric_name(m), "unknown") != 0);
            FUZZ_CHECK(!strchr(step, '{') && !strchr(step, '}'));
            parse_expr(m, nl + 1);
        } else {
            FUZZ_CHECK(err[0] != '\0');
        }
    } else {
        for (int m = 0; m < NMETRICS; m++)
            parse_expr((enum threshold_metric)m, s);
        struct threshold t;
        char err[64];
        FUZZ_CHECK(threshold_parse_expr((enum threshold_metric)NMETRICS, s, &t, err, sizeof err) < 0);
    }
    free(s);
    return 0;
}
