/* cli_cron: `stampede cron next 'EXPR' [--tz ZONE] [--from TIME] [--count N]`
 * prints the next fire times of a cron expression, one per line, as ISO
 * 8601 local time with offset in the zone — a way to check an expression,
 * and its daylight-saving behaviour, before a schedule uses it. */
#include "cli_cron.h"

#include "cron.h"
#include "tz.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_COUNT 5
#define MAX_COUNT 1000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: stampede cron next 'EXPR' [--tz ZONE] [--from TIME] [--count N]\n\n"
            "Prints the next N fire times (default %d, at most %d) of the cron expression\n"
            "EXPR after TIME (default: now), one per line, as ISO 8601 local time with the\n"
            "offset of ZONE, an IANA time zone such as Europe/Berlin (default UTC).\n\n"
            "EXPR: 'min hour dom mon dow', or 'sec min hour dom mon dow'; each field is *,\n"
            "a value, a range 1-5, a step */15 10-40/5 5/10, or a list of those; months\n"
            "JAN-DEC and days SUN-SAT by name, 0 and 7 are Sunday; or one of @yearly\n"
            "@annually @monthly @weekly @daily @midnight @hourly. When both day fields\n"
            "are restricted, a day matching either fires. Daylight saving as cronie: a\n"
            "fixed time skipped by a forward jump fires when the gap ends, one repeated by\n"
            "a backward jump fires once; expressions with * in minute or hour follow the\n"
            "clock.\n\n"
            "TIME: 2026-03-29T01:59:00+01:00, 2026-03-29T00:59:00Z, or a local time in ZONE\n"
            "without offset, 2026-03-29T01:59[:00] (a space may replace the T).\n\n"
            "exit codes: 0 ok, 1 the expression never fires, 2 a bad expression, zone or\n"
            "argument\n",
            DEFAULT_COUNT, MAX_COUNT);
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]: the value (advancing *i
 * past it), NULL if argv[*i] is not that option. Sets *missing when the
 * value is absent. */
static const char *option(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

static int next_main(int argc, char **argv)
{
    const char *expr = NULL, *zone = "UTC", *from = NULL, *count_s = NULL, *v;
    int missing = 0, only_args = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_args && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            usage(stdout);
            return 0;
        } else if (!only_args && !strcmp(a, "--")) {
            only_args = 1;
        } else if (!only_args && (v = option(argc, argv, &i, "--tz", &missing))) {
            zone = v;
        } else if (!only_args && (v = option(argc, argv, &i, "--from", &missing))) {
            from = v;
        } else if (!only_args && (v = option(argc, argv, &i, "--count", &missing))) {
            count_s = v;
        } else if (missing) {
            fprintf(stderr, "stampede cron next: %s: missing value\n", a);
            return 2;
        } else if (!only_args && a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "stampede cron next: unknown option %s\n\n", a);
            usage(stderr);
            return 2;
        } else if (expr) {
            fprintf(stderr, "stampede cron next: one expression expected, got \"%s\" and \"%s\" "
                            "(quote the expression)\n", expr, a);
            return 2;
        } else {
            expr = a;
        }
    }
    if (!expr) {
        usage(stderr);
        return 2;
    }
    int count = DEFAULT_COUNT;
    if (count_s) {
        char *end;
        errno = 0;
        long n = strtol(count_s, &end, 10);
        if (!isdigit((unsigned char)count_s[0]) || *end || errno || n < 1 || n > MAX_COUNT) {
            fprintf(stderr, "stampede cron next: --count: \"%s\" is not a number from 1 to %d\n", count_s,
                    MAX_COUNT);
            return 2;
        }
        count = (int)n;
    }

    char err[256];
    int rc = 2;
    struct cron *c = NULL;
    struct tz_zone *z = tz_load(zone, err, sizeof err);
    if (!z) {
        fprintf(stderr, "stampede cron next: --tz: %s\n", err);
        goto out;
    }
    c = cron_parse(expr, err, sizeof err);
    if (!c) {
        fprintf(stderr, "stampede cron next: \"%s\": %s\n", expr, err);
        goto out;
    }
    int64_t t = (int64_t)time(NULL);
    if (from && tz_parse_iso(from, z, &t) < 0) {
        fprintf(stderr,
                "stampede cron next: --from: \"%s\" is not a time like 2026-03-29T01:59:00+01:00, "
                "2026-03-29T00:59:00Z or 2026-03-29T01:59:00\n",
                from);
        goto out;
    }
    int printed = 0;
    for (; printed < count; printed++) {
        char buf[48];
        t = cron_next(c, z, t);
        if (t < 0 || cron_format_iso(t, z, buf, sizeof buf) < 0)
            break;
        printf("%s\n", buf);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "stampede cron next: cannot write: %s\n", strerror(errno));
        rc = 1;
    } else if (printed == 0) {
        fprintf(stderr, "stampede cron next: \"%s\" never fires (searched %d years ahead)\n", expr,
                CRON_HORIZON_YEARS);
        rc = 1;
    } else {
        if (printed < count)
            fprintf(stderr, "stampede cron next: no more fire times within %d years\n", CRON_HORIZON_YEARS);
        rc = 0;
    }
out:
    cron_free(c);
    tz_free(z);
    return rc;
}

int cli_cron_main(int argc, char **argv)
{
    if (argc >= 1 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help") || !strcmp(argv[0], "help"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 1 && !strcmp(argv[0], "next"))
        return next_main(argc - 1, argv + 1);
    if (argc >= 1)
        fprintf(stderr, "stampede cron: unknown subcommand \"%s\"\n\n", argv[0]);
    usage(stderr);
    return 2;
}
