/* cli_run: `stampede run FILE` and `stampede run --url URL`: the load
 * engine without a server — loops, an in-process bus, runs, metrics and
 * the terminal reporter. Exit codes: 0 ok, 99 thresholds failed, 2 bad
 * script or arguments, 1 anything else. */
#include "cli_run.h"

#include "bus.h"
#include "clock.h"
#include "cli_control.h"
#include "cli_report.h"
#include "duration.h"
#include "json.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "runs.h"
#include "script.h"
#include "xmalloc.h"

#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_HEADERS 32

struct opts {
    const char *file;
    const char *url, *method, *body;
    const char *headers[MAX_HEADERS];
    int nheaders;
    long vus, max_vus;
    double rate;
    uint64_t duration_us;
    int have_vus, have_rate;
    const char *summary_json, *timeseries_csv;
    int loops;
    int insecure, quiet;
    int control; /* -1 auto (a terminal in the foreground), 0 off, 1 on */
    enum log_level log_level;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: stampede run FILE [options]\n"
            "       stampede run --url URL [--vus N | --rate R] [--duration 10s] [options]\n\n"
            "quick mode (no script file):\n"
            "  --url URL            the http:// or https:// URL to load\n"
            "  --vus N              closed model: N virtual users looping (default 10);\n"
            "                       with --rate: pre-allocated VUs\n"
            "  --rate R             open model: R requests per second (constant arrival rate)\n"
            "  --max-vus N          open model: VUs allowed at most (default max(100, 4 x --vus))\n"
            "  --duration D         how long (default 10s)\n"
            "  --method M           HTTP method (default GET)\n"
            "  -H, --header 'K: V'  a request header (repeatable)\n"
            "  --body B             request body\n"
            "  --insecure           do not verify TLS certificates\n\n"
            "options:\n"
            "  --summary-json PATH  write the summary as JSON (docs/summary-format.md)\n"
            "  --timeseries-csv PATH write the per-second series as CSV\n"
            "  --loops N            reactor threads (default: STAMPEDE_LOOPS, else one per core)\n"
            "  --quiet              no progress lines\n"
            "  --control            read live-control commands from stdin even when it is\n"
            "                       not a terminal (on a terminal they are read anyway;\n"
            "                       type help); --no-control: never\n"
            "  --log-level LEVEL    error|warn|info|debug (default warn)\n\n"
            "exit codes: 0 ok, 99 a threshold failed, 2 bad script or arguments, 1 other failure\n");
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("stampede run: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

static int parse_long(const char *flag, const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < min || n > max)
        return bad("%s: expected an integer %ld..%ld, got '%s'", flag, min, max, v);
    *out = n;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->vus = 10;
    o->duration_us = 10000000;
    o->log_level = LOG_WARN;
    o->control = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        char name[64];
        if (strncmp(a, "--", 2) == 0 && strchr(a, '=')) {
            size_t n = (size_t)(strchr(a, '=') - a);
            if (n >= sizeof name)
                return bad("unknown option '%s'", a);
            memcpy(name, a, n);
            name[n] = '\0';
            v = strchr(a, '=') + 1;
            a = name;
        }
        int flag_only = !strcmp(a, "--insecure") || !strcmp(a, "--quiet") || !strcmp(a, "-h") ||
                        !strcmp(a, "--help") || !strcmp(a, "--control") ||
                        !strcmp(a, "--no-control");
        if (a[0] == '-' && !flag_only && !v) {
            if (i + 1 >= argc)
                return bad("%s: missing value", a);
            v = argv[++i];
        }
        int rc = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (a[0] != '-') {
            if (o->file)
                return bad("unexpected argument '%s' (one script file only)", a);
            o->file = a;
        } else if (!strcmp(a, "--url")) {
            o->url = v;
        } else if (!strcmp(a, "--vus")) {
            rc = parse_long(a, v, 1, SCRIPT_MAX_VUS, &o->vus);
            o->have_vus = 1;
        } else if (!strcmp(a, "--max-vus")) {
            rc = parse_long(a, v, 1, SCRIPT_MAX_VUS, &o->max_vus);
        } else if (!strcmp(a, "--rate")) {
            char *end;
            o->rate = strtod(v, &end);
            if (*end || end == v || !(o->rate > 0) || o->rate > SCRIPT_MAX_RATE)
                return bad("--rate: expected a number of requests per second > 0, got '%s'", v);
            o->have_rate = 1;
        } else if (!strcmp(a, "--duration")) {
            if (duration_parse(v, &o->duration_us) < 0 || o->duration_us == 0)
                return bad("--duration: expected a duration like \"30s\", got '%s'", v);
        } else if (!strcmp(a, "--method")) {
            o->method = v;
        } else if (!strcmp(a, "-H") || !strcmp(a, "--header")) {
            if (o->nheaders == MAX_HEADERS)
                return bad("too many headers (at most %d)", MAX_HEADERS);
            if (!strchr(v, ':'))
                return bad("%s: expected 'Name: value', got '%s'", a, v);
            o->headers[o->nheaders++] = v;
        } else if (!strcmp(a, "--body")) {
            o->body = v;
        } else if (!strcmp(a, "--summary-json")) {
            o->summary_json = v;
        } else if (!strcmp(a, "--timeseries-csv")) {
            o->timeseries_csv = v;
        } else if (!strcmp(a, "--loops")) {
            long n;
            rc = parse_long(a, v, 1, 256, &n);
            o->loops = (int)n;
        } else if (!strcmp(a, "--insecure")) {
            o->insecure = 1;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--control")) {
            o->control = 1;
        } else if (!strcmp(a, "--no-control")) {
            o->control = 0;
        } else if (!strcmp(a, "--log-level")) {
            if (log_level_parse(v, &o->log_level) < 0)
                return bad("--log-level: expected error|warn|info|debug|trace, got '%s'", v);
        } else {
            return bad("unknown option '%s'", a);
        }
        if (rc)
            return rc;
    }
    if (!o->file && !o->url)
        return bad("give a script FILE or --url URL (see stampede run --help)");
    if (o->file && o->url)
        return bad("give either a script FILE or --url, not both");
    if (o->file && (o->have_vus || o->have_rate || o->method || o->body || o->nheaders || o->max_vus))
        return bad("--vus, --rate, --max-vus, --method, -H and --body belong to --url mode; "
                   "a script file sets these itself");
    return 0;
}

/* Quick mode: write the script as JSON and parse it like a file, so one
 * validator checks both. */
static char *quick_script(const struct opts *o, size_t *len)
{
    yajl_gen g = json_gen_new();
    char d[32];
    yajl_gen_map_open(g);
    json_gen_cstr(g, "steps");
    yajl_gen_array_open(g);
    yajl_gen_map_open(g);
    json_gen_kv_str(g, "name", "request");
    json_gen_kv_str(g, "method", o->method ? o->method : (o->body ? "POST" : "GET"));
    json_gen_kv_str(g, "url", o->url);
    if (o->nheaders) {
        json_gen_cstr(g, "headers");
        yajl_gen_map_open(g);
        for (int i = 0; i < o->nheaders; i++) {
            const char *colon = strchr(o->headers[i], ':');
            char *k = xstrndup(o->headers[i], (size_t)(colon - o->headers[i]));
            const char *val = colon + 1;
            while (*val == ' ')
                val++;
            json_gen_kv_str(g, k, val);
            free(k);
        }
        yajl_gen_map_close(g);
    }
    if (o->body)
        json_gen_kv_str(g, "body", o->body);
    yajl_gen_map_close(g);
    yajl_gen_array_close(g);
    json_gen_cstr(g, "load");
    yajl_gen_map_open(g);
    if (o->have_rate) {
        long pre = o->have_vus ? o->vus : (long)fmax(10, ceil(o->rate / 100));
        long max = o->max_vus ? o->max_vus : (pre * 4 > 100 ? pre * 4 : 100);
        if (max < pre)
            max = pre;
        json_gen_kv_str(g, "executor", "constant-arrival-rate");
        json_gen_kv_double(g, "rate", o->rate, 6);
        json_gen_kv_int(g, "pre_allocated_vus", pre);
        json_gen_kv_int(g, "max_vus", max);
    } else {
        json_gen_kv_str(g, "executor", "constant-vus");
        json_gen_kv_int(g, "vus", o->vus);
    }
    json_gen_kv_str(g, "duration", duration_format(o->duration_us, d, sizeof d));
    json_gen_kv_str(g, "graceful_stop", "5s");
    yajl_gen_map_close(g);
    if (o->insecure)
        json_gen_kv_bool(g, "insecure_skip_tls_verify", 1);
    yajl_gen_map_close(g);
    return json_gen_finish(g, len);
}

/* Quick mode's script is ours: name the flag the user gave, not the
 * generated script's field. */
static const char *quick_field(const char *message)
{
    static const struct {
        const char *field, *flag;
    } map[] = {
        { "steps[0].url", "--url" },       { "steps[0].method", "--method" },
        { "steps[0].headers", "-H" },      { "steps[0].body", "--body" },
        { "target", "--url" },
    };
    static char out[sizeof((struct json_err *)0)->message + 16];
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(map[i].field);
        if (strncmp(message, map[i].field, n) == 0 && (message[n] == ':' || message[n] == '.')) {
            const char *rest = strchr(message + n, ':');
            snprintf(out, sizeof out, "%s%s", map[i].flag, rest ? rest : "");
            return out;
        }
    }
    return message;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    char *buf = xmalloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            if (cap >= (16u << 20)) {
                fclose(f);
                free(buf);
                errno = EFBIG;
                return NULL;
            }
            buf = xrealloc(buf, cap *= 2);
        }
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

struct sigctx {
    actor_t *cli;
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct sigctx *sc = arg;
    (void)sig;
    (void)what;
    msg_t *m = msg_new(MSG_CLI_INTERRUPT, sizeof(msg_t));
    if (actor_send_urgent(sc->cli, m) < 0)
        msg_free(m);
}

int cli_run_main(int argc, char **argv)
{
    struct opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    log_init(o.log_level, STDERR_FILENO);
    log_route_libevent();
    signal(SIGPIPE, SIG_IGN);
    loop_raise_fd_limit();

    size_t len = 0;
    char *text = o.file ? read_file(o.file, &len) : quick_script(&o, &len);
    if (!text) {
        fprintf(stderr, "stampede run: cannot read %s: %s\n", o.file, strerror(errno));
        return 2;
    }
    struct script *sc = NULL;
    struct json_err e = { "", "" };
    char *dir = NULL;
    if (o.file) { /* a dataset file is read relative to the script */
        const char *slash = strrchr(o.file, '/');
        dir = slash ? xstrndup(o.file, slash == o.file ? 1 : (size_t)(slash - o.file)) : xstrdup(".");
    }
    rc = script_parse_at(text, len, dir ? dir : ".", &sc, &e);
    free(dir);
    if (rc < 0) {
        if (o.file)
            fprintf(stderr, "stampede run: %s: %s\n", o.file, e.message);
        else
            fprintf(stderr, "stampede run: %s\n", quick_field(e.message));
        free(text);
        return 2;
    }
    free(text);

    int nloops = o.loops;
    const char *env_loops = getenv("STAMPEDE_LOOPS");
    if (!nloops && env_loops && *env_loops) { /* like stampede serve: the flag, then the environment */
        long n;
        if (parse_long("STAMPEDE_LOOPS", env_loops, 1, 256, &n) != 0) {
            script_free(sc);
            return 2;
        }
        nloops = (int)n;
    }
    nloops = loop_default_count(nloops);
    char err[256];
    struct loop_group *g = loop_group_new(nloops, err, sizeof err);
    if (!g) {
        fprintf(stderr, "stampede run: %s\n", err);
        script_free(sc);
        return 1;
    }
    struct loop *l0 = loop_group_get(g, 0);
    struct bus_config bc = { NULL, "stampede" };
    actor_t *bus = bus_new(l0, &bc, err, sizeof err);
    struct metrics_config mc = { .bus = bus, .prefix = "stampede" };
    actor_t *metrics = metrics_new(l0, &mc);
    struct runs_config rcfg = { g, metrics };
    actor_t *runs = runs_new(l0, &rcfg);
    int exit_code = 1;
    uint64_t run_id = (uint64_t)clock_wall_ms();
    struct cli_report_config cc = {
        .loops = g,
        .runs = runs,
        .bus = bus,
        .run_id = run_id,
        .planned_us = script_load_duration_us(&sc->load),
        .summary_json = o.summary_json,
        .timeseries_csv = o.timeseries_csv,
        .quiet = o.quiet,
        .exit_code = &exit_code,
    };
    actor_t *cli = cli_report_new(l0, &cc);
    actor_t *ctl = NULL;
    if (o.control == 1 || (o.control == -1 && isatty(STDIN_FILENO) &&
                           tcgetpgrp(STDIN_FILENO) == getpgrp())) {
        /* A job sent to the background later gets EIO, not a stop. */
        signal(SIGTTIN, SIG_IGN);
        struct cli_control_config ctc = { STDIN_FILENO, runs, cli, run_id };
        ctl = cli_control_new(l0, &ctc);
    }
    struct run_start *st = MSG_NEW(MSG_RUN_START, struct run_start);
    st->run_id = run_id;
    st->script = sc;
    st->observer = cli;
    if (actor_send_urgent(runs, &st->m) < 0) {
        fprintf(stderr, "stampede run: the engine did not take the run\n");
        script_free(st->script);
        msg_free(&st->m);
        exit_code = 1;
        loop_group_stop(g);
    }

    struct sigctx sctx = { cli };
    struct event *sigint = evsignal_new(loop_base(l0), SIGINT, on_signal, &sctx);
    struct event *sigterm = evsignal_new(loop_base(l0), SIGTERM, on_signal, &sctx);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    if (loop_group_run(g) < 0 && exit_code == 0)
        exit_code = 1;
    event_free(sigint);
    event_free(sigterm);
    cli_control_free(ctl);
    cli_report_free(cli);
    runs_free(runs);
    metrics_free(metrics);
    bus_free(bus);
    loop_group_free(g);
    return exit_code;
}
