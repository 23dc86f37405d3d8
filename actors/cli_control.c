/* cli_control: typed live control for `stampede run`. */
#include "cli_control.h"

#include "cli_report.h"
#include "duration.h"
#include "xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LINE_MAX_LEN 256
#define MAX_TOKENS 5

struct ctl {
    actor_t *self;
    struct cli_control_config cfg;
    struct event *ev;
    char line[LINE_MAX_LEN];
    size_t len;
    int overlong; /* discarding the rest of a line that did not fit */
};

/* ---- parsing ---- */

static enum control_parse_result bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum control_parse_result bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return CONTROL_BAD;
}

/* A non-negative number, optionally followed by suffix ("%" or "/s"). */
static int parse_value(const char *tok, const char *suffix, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    if (end == tok || errno || !isfinite(v) || v < 0)
        return -1;
    if (*end && !(suffix && strcmp(end, suffix) == 0))
        return -1;
    *out = v;
    return 0;
}

enum control_parse_result cli_control_parse(const char *line, struct control_cmd *out, char *err,
                                            size_t errlen)
{
    char buf[LINE_MAX_LEN];
    snprintf(buf, sizeof buf, "%s", line);
    char *tok[MAX_TOKENS + 1];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, " \t\r\n", &save); t;
         t = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == MAX_TOKENS)
            return bad(err, errlen, "too many words (%s)", "try \"help\"");
        tok[n++] = t;
    }
    if (n == 0)
        return CONTROL_EMPTY;
    memset(out, 0, sizeof *out);

    static const struct {
        const char *word;
        enum run_op op;
        const char *suffix; /* NULL: takes no value */
        const char *what;
    } cmds[] = {
        { "rate", RUN_OP_SET_RATE, "/s", "iterations per second" },
        { "vus", RUN_OP_SET_VUS, "", "a number of VUs" },
        { "scale", RUN_OP_SCALE, "%", "a percent like 50%" },
        { "pause", RUN_OP_PAUSE, NULL, NULL },
        { "resume", RUN_OP_RESUME, NULL, NULL },
        { "stop", RUN_OP_STOP, NULL, NULL },
    };
    if (strcasecmp(tok[0], "help") == 0 || strcmp(tok[0], "?") == 0)
        return n == 1 ? CONTROL_HELP_CMD : bad(err, errlen, "help takes no arguments");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcasecmp(tok[0], cmds[i].word) != 0)
            continue;
        out->op = cmds[i].op;
        if (!cmds[i].suffix)
            return n == 1 ? CONTROL_CMD : bad(err, errlen, "%s takes no arguments", cmds[i].word);
        if (n < 2)
            return bad(err, errlen, "%s: give %s", cmds[i].word, cmds[i].what);
        if (parse_value(tok[1], cmds[i].suffix, &out->value) < 0)
            return bad(err, errlen, "%s: expected %s, got \"%.40s\"", cmds[i].word, cmds[i].what,
                       tok[1]);
        int at = 2;
        /* a telemetry run's signal: "rate 300 logs" */
        if (out->op == RUN_OP_SET_RATE && at < n &&
            (strcasecmp(tok[at], "logs") == 0 || strcasecmp(tok[at], "metrics") == 0 ||
             strcasecmp(tok[at], "traces") == 0)) {
            snprintf(out->signal, sizeof out->signal, "%s", tok[at]);
            for (char *p = out->signal; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            at++;
        }
        if (at < n && strcasecmp(tok[at], "over") == 0) {
            if (++at == n)
                return bad(err, errlen, "%s: \"over\" needs a duration like 10s", cmds[i].word);
        }
        if (at < n) {
            if (duration_parse(tok[at], &out->ramp_us) < 0)
                return bad(err, errlen, "%s: expected a ramp duration like 10s, got \"%.40s\"",
                           cmds[i].word, tok[at]);
            at++;
        }
        if (at < n)
            return bad(err, errlen, "%s: unexpected \"%.40s\"", cmds[i].word, tok[at]);
        return CONTROL_CMD;
    }
    return bad(err, errlen, "unknown command \"%.40s\" (try \"help\")", tok[0]);
}

/* ---- the actor ---- */

static void note(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct ctl *c, const char *fmt, ...)
{
    struct cli_note *n = MSG_NEW(MSG_CLI_NOTE, struct cli_note);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->text, sizeof n->text, fmt, ap);
    va_end(ap);
    if (actor_send_urgent(c->cfg.report, &n->m) < 0)
        msg_free(&n->m);
}

static void command(struct ctl *c, const char *line)
{
    struct control_cmd cmd;
    char err[160];
    switch (cli_control_parse(line, &cmd, err, sizeof err)) {
    case CONTROL_EMPTY:
        return;
    case CONTROL_HELP_CMD:
        note(c, "%s", CONTROL_HELP);
        return;
    case CONTROL_BAD:
        note(c, "%s", err);
        return;
    case CONTROL_CMD:
        break;
    }
    struct run_control *rc = MSG_NEW(MSG_RUN_CONTROL, struct run_control);
    rc->run_id = c->cfg.run_id;
    rc->op = cmd.op;
    rc->value = cmd.value;
    rc->ramp_us = cmd.ramp_us;
    snprintf(rc->signal, sizeof rc->signal, "%s", cmd.signal);
    if (actor_request(c->self, c->cfg.runs, &rc->m) == 0) {
        msg_free(&rc->m);
        note(c, "%s: the run is not taking commands", run_op_name(cmd.op));
    }
}

static void stop_reading(struct ctl *c)
{
    if (c->ev)
        event_del(c->ev);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct ctl *c = arg;
    (void)what;
    ssize_t n = read(fd, c->line + c->len, sizeof c->line - 1 - c->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) { /* end of input, or EIO in the background: the run goes on */
        if (c->len && !c->overlong) {
            c->line[c->len] = '\0';
            command(c, c->line);
        }
        c->len = 0;
        stop_reading(c);
        return;
    }
    c->len += (size_t)n;
    char *start = c->line, *nl;
    while ((nl = memchr(start, '\n', c->len - (size_t)(start - c->line)))) {
        *nl = '\0';
        if (c->overlong)
            c->overlong = 0; /* the tail of a line already refused */
        else
            command(c, start);
        start = nl + 1;
    }
    size_t rest = c->len - (size_t)(start - c->line);
    memmove(c->line, start, rest);
    c->len = rest;
    if (c->len == sizeof c->line - 1) {
        if (!c->overlong)
            note(c, "line too long (at most %d characters)", LINE_MAX_LEN - 2);
        c->overlong = 1;
        c->len = 0;
    }
}

static void ctl_handle(actor_t *self, msg_t *m)
{
    struct ctl *c = actor_state(self);
    if (m->type == MSG_RUN_CONTROL_REPLY) {
        struct run_control_reply *r = (struct run_control_reply *)m;
        if (r->status == 0)
            note(c, "%s", r->message);
        else
            note(c, "refused: %s", r->message);
    }
    msg_free(m);
}

actor_t *cli_control_new(struct loop *l, const struct cli_control_config *cfg)
{
    struct ctl *c = xcalloc(1, sizeof *c);
    c->cfg = *cfg;
    c->self = actor_new(l, "control", -1, ctl_handle, c, 0);
    c->ev = event_new(loop_base(l), cfg->fd, EV_READ | EV_PERSIST, on_readable, c);
    if (!c->ev || event_add(c->ev, NULL) < 0) {
        alog_warn(c->self, "cannot watch fd %d: live control is off", cfg->fd);
        if (c->ev)
            event_free(c->ev);
        c->ev = NULL;
    }
    return c->self;
}

void cli_control_free(actor_t *a)
{
    if (!a)
        return;
    struct ctl *c = actor_state(a);
    if (c->ev)
        event_free(c->ev);
    free(c);
    actor_free(a);
}
