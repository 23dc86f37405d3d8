/* threshold: parsing of k6-style threshold metrics ("http_req_duration{step:home}")
 * and expressions ("p(95)<200"), and their evaluation against an observed value. */
#include "threshold.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a metric is, which decides the aggregations it has. */
enum metric_kind { MK_TREND, MK_RATE, MK_COUNTER };

static const struct {
    const char *name;
    enum metric_kind kind;
    int per_request; /* recorded per request, so it can be narrowed to one step */
} metrics[] = {
    [TM_HTTP_REQ_DURATION] = { "http_req_duration", MK_TREND, 1 },
    [TM_HTTP_REQ_DURATION_UNCORRECTED] = { "http_req_duration_uncorrected", MK_TREND, 1 },
    [TM_HTTP_REQ_FAILED] = { "http_req_failed", MK_RATE, 1 },
    [TM_HTTP_REQS] = { "http_reqs", MK_COUNTER, 1 },
    [TM_ITERATIONS] = { "iterations", MK_COUNTER, 0 },
    [TM_ITERATION_DURATION] = { "iteration_duration", MK_TREND, 0 },
    [TM_DROPPED_ITERATIONS] = { "dropped_iterations", MK_COUNTER, 0 },
    [TM_CHECKS] = { "checks", MK_RATE, 1 },
    [TM_DATA_RECEIVED] = { "data_received", MK_COUNTER, 1 },
    [TM_DATA_SENT] = { "data_sent", MK_COUNTER, 1 },
};
#define NMETRICS (sizeof metrics / sizeof metrics[0])

static const char *const kind_aggs[] = {
    [MK_TREND] = "avg, min, max, med or p(N)",
    [MK_RATE] = "rate",
    [MK_COUNTER] = "count or rate",
};
static const char *const kind_example[] = {
    [MK_TREND] = "p(95)<200",
    [MK_RATE] = "rate<0.01",
    [MK_COUNTER] = "count>100",
};

const char *threshold_metric_name(enum threshold_metric m)
{
    if ((size_t)m >= NMETRICS)
        return "unknown";
    return metrics[m].name;
}

/* ---- metric names ---- */

/* Contract: on success *metric is set and step_name holds the {step:NAME}
 * filter or "" (the caller resolves it against the script's steps). On
 * failure returns -1 with err set (no field path: the caller adds it). */
int threshold_parse_metric(const char *text, enum threshold_metric *metric, char *step_name,
                           size_t step_len, char *err, size_t errlen)
{
    size_t nlen = strcspn(text, "{");
    size_t m;
    for (m = 0; m < NMETRICS; m++)
        if (strlen(metrics[m].name) == nlen && strncmp(metrics[m].name, text, nlen) == 0)
            break;
    if (m == NMETRICS) {
        snprintf(err, errlen,
                 "unknown metric \"%.*s\"; expected one of http_req_duration, "
                 "http_req_duration_uncorrected, http_req_failed, http_reqs, iterations, "
                 "iteration_duration, dropped_iterations, checks, data_received, data_sent",
                 (int)(nlen > 64 ? 64 : nlen), text);
        return -1;
    }
    if (step_len)
        step_name[0] = '\0';
    if (text[nlen] == '\0') {
        *metric = (enum threshold_metric)m;
        return 0;
    }

    /* "{step:NAME}" and nothing after it */
    const char *f = text + nlen + 1;
    size_t flen = strlen(f);
    if (flen == 0 || f[flen - 1] != '}' || strncmp(f, "step:", 5) != 0) {
        snprintf(err, errlen,
                 "only a step filter is supported after a metric name, e.g. "
                 "\"%s{step:home}\"",
                 metrics[m].name);
        return -1;
    }
    const char *name = f + 5;
    size_t len = flen - 5 - 1;
    if (len == 0 || memchr(name, '{', len) || memchr(name, '}', len)) {
        snprintf(err, errlen, "bad step filter: expected \"%s{step:NAME}\"", metrics[m].name);
        return -1;
    }
    if (!metrics[m].per_request) {
        snprintf(err, errlen,
                 "%s cannot be narrowed to a step: it is measured per iteration, not per request",
                 metrics[m].name);
        return -1;
    }
    if (len >= step_len) {
        snprintf(err, errlen, "step name in the filter is too long");
        return -1;
    }
    memcpy(step_name, name, len);
    step_name[len] = '\0';
    *metric = (enum threshold_metric)m;
    return 0;
}

/* ---- expressions ---- */

static const char *skip_spaces(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* A plain decimal number: [+-]digits[.digits][e[+-]digits]. strtod alone
 * would also take "inf", "nan", hex and leading spaces. Returns the number
 * of characters used, 0 if there is no number at p. */
static size_t scan_number(const char *p, double *out)
{
    const char *q = p;
    int digits = 0;
    if (*q == '+' || *q == '-')
        q++;
    while (isdigit((unsigned char)*q))
        q++, digits++;
    if (*q == '.') {
        q++;
        while (isdigit((unsigned char)*q))
            q++, digits++;
    }
    if (!digits)
        return 0;
    if (*q == 'e' || *q == 'E') {
        const char *x = q + 1;
        if (*x == '+' || *x == '-')
            x++;
        if (isdigit((unsigned char)*x)) {
            while (isdigit((unsigned char)*x))
                x++;
            q = x;
        }
    }
    char buf[64];
    size_t n = (size_t)(q - p);
    if (n >= sizeof buf)
        return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return n;
}

static int agg_allowed(enum metric_kind k, enum threshold_agg a)
{
    switch (k) {
    case MK_TREND:
        return a == TA_AVG || a == TA_MIN || a == TA_MAX || a == TA_MED || a == TA_P;
    case MK_RATE:
        return a == TA_RATE;
    case MK_COUNTER:
        return a == TA_COUNT || a == TA_RATE;
    }
    return 0;
}

/* Contract: fills t->metric, agg, p (0 unless TA_P), op and value; leaves
 * step, abort settings and the texts alone (the caller owns those). On
 * failure returns -1 with err quoting the expression, t unchanged. */
int threshold_parse_expr(enum threshold_metric metric, const char *text, struct threshold *t,
                         char *err, size_t errlen)
{
    if ((size_t)metric >= NMETRICS) {
        snprintf(err, errlen, "unknown metric");
        return -1;
    }
    enum metric_kind kind = metrics[metric].kind;
    const char *p = skip_spaces(text);
    if (!*p) {
        snprintf(err, errlen, "empty threshold: expected e.g. \"%s\"", kind_example[kind]);
        return -1;
    }

    /* aggregation */
    static const struct {
        const char *name;
        enum threshold_agg agg;
    } aggs[] = {
        { "avg", TA_AVG }, { "min", TA_MIN }, { "max", TA_MAX }, { "med", TA_MED },
        { "count", TA_COUNT }, { "rate", TA_RATE }, { "p", TA_P },
    };
    const char *w = p;
    while (isalpha((unsigned char)*p))
        p++;
    size_t wlen = (size_t)(p - w);
    size_t ai;
    for (ai = 0; ai < sizeof aggs / sizeof aggs[0]; ai++)
        if (strlen(aggs[ai].name) == wlen && strncmp(aggs[ai].name, w, wlen) == 0)
            break;
    if (wlen == 0) {
        snprintf(err, errlen, "\"%s\": expected an aggregation first; %s has %s (e.g. \"%s\")",
                 text, metrics[metric].name, kind_aggs[kind], kind_example[kind]);
        return -1;
    }
    if (ai == sizeof aggs / sizeof aggs[0]) {
        size_t show = wlen;
        if (show > 32)
            show = 32;
        snprintf(err, errlen, "\"%s\": unknown aggregation \"%.*s\"; %s has %s (e.g. \"%s\")",
                 text, (int)show, w, metrics[metric].name, kind_aggs[kind], kind_example[kind]);
        return -1;
    }
    enum threshold_agg agg = aggs[ai].agg;
    double pct = 0;
    if (agg == TA_P) {
        p = skip_spaces(p);
        if (*p != '(') {
            snprintf(err, errlen, "\"%s\": a percentile is written p(N), e.g. p(95)", text);
            return -1;
        }
        p = skip_spaces(p + 1);
        size_t n = scan_number(p, &pct);
        if (!n) {
            snprintf(err, errlen, "\"%s\": a percentile is written p(N), e.g. p(95)", text);
            return -1;
        }
        p = skip_spaces(p + n);
        if (*p != ')') {
            snprintf(err, errlen, "\"%s\": a percentile is written p(N), e.g. p(95)", text);
            return -1;
        }
        p++;
        if (!(pct > 0 && pct <= 100)) {
            snprintf(err, errlen, "\"%s\": the percentile must be greater than 0 and at most 100",
                     text);
            return -1;
        }
    }
    if (!agg_allowed(kind, agg)) {
        snprintf(err, errlen, "\"%s\": %s has no %s; use %s (e.g. \"%s\")", text,
                 metrics[metric].name, agg == TA_P ? "percentiles" : aggs[ai].name,
                 kind_aggs[kind], kind_example[kind]);
        return -1;
    }

    /* operator: longest match first */
    static const struct {
        const char *s;
        enum threshold_op op;
    } ops[] = {
        { "<=", TO_LE }, { ">=", TO_GE }, { "==", TO_EQ }, { "!=", TO_NE }, { "<", TO_LT }, { ">", TO_GT },
    };
    const char *agg_end = p;
    p = skip_spaces(p);
    size_t oi;
    for (oi = 0; oi < sizeof ops / sizeof ops[0]; oi++)
        if (strncmp(p, ops[oi].s, strlen(ops[oi].s)) == 0)
            break;
    if (oi == sizeof ops / sizeof ops[0]) {
        snprintf(err, errlen,
                 "\"%s\": expected an operator (<, <=, >, >=, == or !=) after \"%.*s\"", text,
                 (int)(agg_end - text), text);
        return -1;
    }
    p += strlen(ops[oi].s);
    if (*p == '=') {
        snprintf(err, errlen, "\"%s\": bad operator \"%s=\"; use <, <=, >, >=, == or !=", text,
                 ops[oi].s);
        return -1;
    }

    /* value */
    p = skip_spaces(p);
    double value;
    size_t n = scan_number(p, &value);
    if (!n) {
        snprintf(err, errlen, "\"%s\": expected a number after \"%s\"", text, ops[oi].s);
        return -1;
    }
    if (!isfinite(value)) {
        snprintf(err, errlen, "\"%s\": the number is out of range", text);
        return -1;
    }
    const char *tail = p + n;
    p = skip_spaces(tail);
    if (*p) {
        if (kind == MK_TREND && isalpha((unsigned char)*tail))
            snprintf(err, errlen,
                     "\"%s\": durations are compared in milliseconds: write a plain number "
                     "(e.g. 250, not 250ms)",
                     text);
        else
            snprintf(err, errlen, "\"%s\": unexpected \"%s\" after the number", text, p);
        return -1;
    }

    t->metric = metric;
    t->agg = agg;
    t->p = agg == TA_P ? pct : 0;
    t->op = ops[oi].op;
    t->value = value;
    return 0;
}

int threshold_holds(const struct threshold *t, double observed)
{
    if (isnan(observed))
        return 0;
    switch (t->op) {
    case TO_LT: return observed < t->value;
    case TO_LE: return observed <= t->value;
    case TO_GT: return observed > t->value;
    case TO_GE: return observed >= t->value;
    case TO_EQ: return observed == t->value;
    case TO_NE: return observed != t->value;
    }
    return 0;
}

void threshold_deinit(struct threshold *t)
{
    if (!t)
        return;
    free(t->metric_text);
    free(t->expr_text);
    t->metric_text = NULL;
    t->expr_text = NULL;
}
