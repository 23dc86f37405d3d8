/* cli_report: progress lines, the final summary, output files, exit code. */
#include "cli_report.h"

#include "bus.h"
#include "json.h"
#include "report.h"
#include "xmalloc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cli {
    actor_t *self;
    struct cli_report_config cfg;
    int tty;
    int line_open;       /* a progress line is on screen without newline */
    int interrupts;
};

static double num(yajl_val root, const char *a, const char *b, const char *c3)
{
    const char *path[4] = { a, b, c3, NULL };
    yajl_val v = yajl_tree_get(root, path, yajl_t_number);
    return v ? YAJL_GET_DOUBLE(v) : NAN;
}

/* One line per second from the run's live frame (docs/live.md): rates and
 * latencies of that second, failures and drops so far. */
static void progress(struct cli *c, const struct bus_message *bm)
{
    if (c->cfg.quiet)
        return;
    struct json_err e;
    yajl_val root = json_parse(bm->payload, bm->len, JSON_MAX_DEPTH, &e);
    if (!root)
        return;
    double t = num(root, "second", NULL, NULL) + 1, rps = num(root, "rps", NULL, NULL);
    double p50 = num(root, "latency_ms", "corrected", "p50"), p99 = num(root, "latency_ms", "corrected", "p99");
    double failed = num(root, "failed", NULL, NULL), vus = num(root, "vus", NULL, NULL);
    double dropped = num(root, "dropped_iterations", NULL, NULL);
    const char *wpath[] = { "warmup", NULL };
    yajl_val w = yajl_tree_get(root, wpath, yajl_t_true);
    char line[256];
    snprintf(line, sizeof line,
             "[%4.0fs/%.0fs]%s rps %9.1f  p50 %8.3f ms  p99 %8.3f ms  failed %6.0f  vus %5.0f  dropped %6.0f",
             t, (double)c->cfg.planned_us / 1e6, w ? " warmup" : "", rps, isnan(p50) ? 0 : p50,
             isnan(p99) ? 0 : p99, failed, vus, dropped);
    if (c->tty) {
        fprintf(stderr, "\r\033[K%s", line);
        c->line_open = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
    yajl_tree_free(root);
}

static void end_line(struct cli *c)
{
    if (c->line_open) {
        fputc('\n', stderr);
        c->line_open = 0;
    }
}

static int write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, len, f) == len && fputc('\n', f) != EOF;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void finished(struct cli *c, struct run_finished *f)
{
    struct metrics_summary *s = f->summary;
    end_line(c);
    fputs(s->text, stdout);
    fflush(stdout);
    /* aborted without a failed threshold: something broke (a shard could
     * not set up), and a CI job must not read that as a pass */
    int code = s->thresholds_failed ? 99 : s->aborted ? 1 : 0;
    if (c->cfg.summary_json && write_file(c->cfg.summary_json, s->json, s->json_len) < 0) {
        fprintf(stderr, "stampede: cannot write %s: %s\n", c->cfg.summary_json, strerror(errno));
        code = code ? code : 1;
    }
    if (c->cfg.timeseries_csv) {
        FILE *out = fopen(c->cfg.timeseries_csv, "w");
        int ok = out && report_series_csv(out, s->series, s->npoints) == 0;
        if (out && fclose(out) != 0)
            ok = 0;
        if (!ok) {
            fprintf(stderr, "stampede: cannot write %s: %s\n", c->cfg.timeseries_csv, strerror(errno));
            code = code ? code : 1;
        }
    }
    if (s->thresholds_failed)
        fprintf(stderr, "stampede: %d threshold%s failed\n", s->thresholds_failed,
                s->thresholds_failed > 1 ? "s" : "");
    *c->cfg.exit_code = code;
    loop_group_stop(c->cfg.loops);
}

static void interrupt(struct cli *c)
{
    c->interrupts++;
    end_line(c);
    if (c->interrupts > 1) {
        fprintf(stderr, "stampede: interrupted again, exiting without a summary\n");
        *c->cfg.exit_code = 1;
        loop_group_stop(c->cfg.loops);
        return;
    }
    fprintf(stderr, "stampede: stopping (in-flight requests get their graceful stop; Ctrl-C again to quit)\n");
    struct run_control *rc = MSG_NEW(MSG_RUN_CONTROL, struct run_control);
    rc->run_id = c->cfg.run_id;
    rc->op = RUN_OP_STOP;
    if (actor_request(c->self, c->cfg.runs, &rc->m) == 0)
        msg_free(&rc->m);
}

static void cli_handle(actor_t *self, msg_t *m)
{
    struct cli *c = actor_state(self);
    switch (m->type) {
    case MSG_BUS_MESSAGE:
        progress(c, (struct bus_message *)m);
        break;
    case MSG_RUN_EVENT: {
        struct run_event *e = (struct run_event *)m;
        if (e->kind == RUN_EV_ABORTING) {
            end_line(c);
            fprintf(stderr, "stampede: aborting: %s\n", e->detail);
        }
        break;
    }
    case MSG_RUN_FINISHED:
        finished(c, (struct run_finished *)m);
        break;
    case MSG_CLI_INTERRUPT:
        interrupt(c);
        break;
    case MSG_CLI_NOTE:
        end_line(c);
        fprintf(stderr, "%s\n", ((struct cli_note *)m)->text);
        fflush(stderr);
        break;
    default:
        break; /* control replies */
    }
    msg_free(m);
}

actor_t *cli_report_new(struct loop *l, const struct cli_report_config *cfg)
{
    struct cli *c = xcalloc(1, sizeof *c);
    c->cfg = *cfg;
    c->tty = isatty(STDERR_FILENO);
    c->self = actor_new(l, "cli", -1, cli_handle, c, 0);
    struct bus_subscribe *sub = MSG_NEW(MSG_BUS_SUBSCRIBE, struct bus_subscribe);
    snprintf(sub->pattern, sizeof sub->pattern, "*:run:%llu", (unsigned long long)cfg->run_id);
    sub->m.reply_to = c->self;
    if (actor_send_urgent(cfg->bus, &sub->m) < 0)
        msg_free(&sub->m);
    return c->self;
}

void cli_report_free(actor_t *a)
{
    if (!a)
        return;
    free(actor_state(a));
    actor_free(a);
}
