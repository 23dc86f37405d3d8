/* main: the stampede binary — subcommand dispatch, and for `serve` the
 * process wiring: config, loops, actors, signals and orderly shutdown.
 * This is the only file with process-wide state. */
#include "actor.h"
#include "bus.h"
#include "cli_cron.h"
#include "cli_import.h"
#include "cli_run.h"
#include "clock.h"
#include "config.h"
#include "http_front.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "run_manager.h"
#include "runs.h"
#include "scheduler.h"
#include "series_writer.h"
#include "store.h"
#include "ws_gateway.h"
#include "xmalloc.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum { MSG_APP_SIGNAL = MSG_RANGE_CLI + 0x80 };

#define STOP_DEADLINE_US 20000000u

/* The serve process: the actors, stopped in this order (front first, so no
 * new work arrives; then the runs, which finish and record themselves;
 * dependencies last, so work in flight can finish). */
struct app {
    struct loop_group *loops;
    actor_t *root;
    actor_t *front, *store, *bus, *runs, *metrics, *series, *rm, *listener, *scheduler, *live;
    actor_t *stop_order[12];
    int nstop, stopping, next_stop;
    int exit_code;
    struct actor_timer *deadline;
    struct event *sigint, *sigterm;
};

static struct app app;

static void stop_next(void)
{
    while (app.next_stop < app.nstop) {
        actor_t *a = app.stop_order[app.next_stop++];
        msg_t *m = msg_new(MSG_STOP, sizeof(msg_t));
        m->reply_to = app.root;
        m->corr = (uint64_t)app.next_stop;
        if (actor_send_urgent(a, m) == 0)
            return; /* continue when it answers MSG_STOPPED */
        msg_free(m);
    }
    log_info("main", "all actors stopped");
    loop_group_stop(app.loops);
}

static void begin_stop(const char *why, int code)
{
    if (app.stopping)
        return;
    app.stopping = 1;
    if (code)
        app.exit_code = code;
    log_info("main", "shutting down: %s", why);
    actor_timer_start(app.deadline, STOP_DEADLINE_US, 0);
    stop_next();
}

static void root_handle(actor_t *self, msg_t *m)
{
    (void)self;
    switch (m->type) {
    case MSG_APP_SIGNAL:
        begin_stop("signal received", 0);
        break;
    case MSG_STOPPED:
        stop_next();
        break;
    case MSG_STORE_FATAL:
        log_error("main", "cannot continue: %s", ((struct store_fatal *)m)->reason);
        begin_stop("database migrations failed", 1);
        break;
    case MSG_TIMER:
        log_error("main", "shutdown took longer than %u s; stopping the loops now",
                  STOP_DEADLINE_US / 1000000u);
        app.exit_code = 1;
        loop_group_stop(app.loops);
        return;
    default:
        break;
    }
    msg_free(m);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (app.stopping) {
        log_warn("main", "second signal %d: exiting at once", (int)sig);
        _exit(1);
    }
    msg_t *m = msg_new(MSG_APP_SIGNAL, sizeof(msg_t));
    if (actor_send_urgent(app.root, m) < 0)
        msg_free(m);
}

static void usage_serve(FILE *out)
{
    fprintf(out, "usage: stampede serve [options]\n\noptions (flag, environment, meaning [default]):\n");
    config_usage(out);
}

static const char *env_get(const char *name)
{
    return getenv(name);
}

static int serve_main(int argc, char **argv)
{
    struct config cfg;
    char err[512];
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage_serve(stdout);
            return 0;
        }
    }
    config_init(&cfg);
    if (config_resolve(&cfg, argc, argv, env_get, err, sizeof err) < 0) {
        fprintf(stderr, "stampede serve: %s\n", err);
        config_deinit(&cfg);
        return 2;
    }
    log_init(cfg.log_level, STDERR_FILENO);
    log_route_libevent();
    signal(SIGPIPE, SIG_IGN);
    loop_raise_fd_limit();

    int nloops = loop_default_count(cfg.loops);
    app.loops = loop_group_new(nloops, err, sizeof err);
    if (!app.loops) {
        log_error("main", "%s", err);
        config_deinit(&cfg);
        return 1;
    }
    loop_group_set_worker_nice(app.loops, cfg.worker_nice);
    struct loop *l0 = loop_group_get(app.loops, 0);
    app.root = actor_new(l0, "main", -1, root_handle, NULL, 0);
    app.deadline = actor_timer_new(app.root, 0);

    struct store_config sc = { cfg.pg_dsn, cfg.pg_pool, cfg.pg_timeout_us, app.root };
    app.store = store_new(l0, &sc);
    struct bus_config bc = { cfg.redis_url, cfg.channel_prefix };
    app.bus = bus_new(l0, &bc, err, sizeof err);
    if (!app.bus) {
        log_error("main", "redis_url: %s", err);
        goto fail;
    }
    /* Runs: the same engine as `stampede run`, shards on loops 1..n-1, with
     * the series stored and the runs' history kept by the run manager. */
    struct series_writer_config swc = { app.store };
    app.series = series_writer_new(l0, &swc);
    struct metrics_config mc = { .bus = app.bus, .series = app.series, .prefix = cfg.channel_prefix };
    app.metrics = metrics_new(l0, &mc);
    struct runs_config rc = { app.loops, app.metrics };
    app.runs = runs_new(l0, &rc);
    struct rm_config rmc = { app.store, app.runs, app.series, app.bus, cfg.channel_prefix, cfg.collect_allow };
    app.rm = run_manager_new(l0, &rmc);
    struct listener_config lc = { cfg.pg_dsn };
    app.listener = listener_new(l0, &lc);
    struct scheduler_config schc = { app.store, app.rm, app.listener, app.bus, cfg.channel_prefix };
    app.scheduler = scheduler_new(l0, &schc);
    struct ws_gateway_config wc = { app.bus, cfg.channel_prefix, cfg.live_host, cfg.live_port,
                                     cfg.live_threads, cfg.api_token, cfg.live_ping_us };
    app.live = ws_gateway_new(l0, &wc, err, sizeof err);
    if (!app.live) {
        log_error("main", "%s", err);
        goto fail;
    }
    struct http_front_config hc = {
        .host = cfg.listen_host,
        .port = cfg.listen_port,
        .max_body_bytes = cfg.max_body_bytes,
        .request_timeout_us = cfg.request_timeout_us,
        .loops = nloops,
        .version = PACKAGE_VERSION,
        .store = app.store,
        .bus = app.bus,
        .runs = app.rm,
        .series = app.series,
        .group = app.loops,
        .api_token = cfg.api_token,
        .live = app.live,
        .live_host = cfg.live_host,
        .dashboard_dir = cfg.dashboard_dir[0] ? cfg.dashboard_dir : STAMPEDE_DASHBOARD_DIR,
    };
    app.front = http_front_new(l0, &hc, err, sizeof err);
    if (!app.front) {
        log_error("main", "%s", err);
        goto fail;
    }
    app.stop_order[app.nstop++] = app.front;
    app.stop_order[app.nstop++] = app.live;
    app.stop_order[app.nstop++] = app.scheduler;
    app.stop_order[app.nstop++] = app.rm;
    app.stop_order[app.nstop++] = app.runs;
    app.stop_order[app.nstop++] = app.metrics;
    app.stop_order[app.nstop++] = app.series;
    app.stop_order[app.nstop++] = app.listener;
    app.stop_order[app.nstop++] = app.store;
    app.stop_order[app.nstop++] = app.bus;

    struct event_base *base = loop_base(l0);
    app.sigint = evsignal_new(base, SIGINT, on_signal, NULL);
    app.sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
    event_add(app.sigint, NULL);
    event_add(app.sigterm, NULL);

    const char *h = cfg.listen_host;
    int v6 = strchr(h, ':') != NULL;
    log_info("main", "stampede %s listening on http://%s%s%s:%u (%d loops)", PACKAGE_VERSION,
             v6 ? "[" : "", h, v6 ? "]" : "", http_front_port(app.front), nloops);
    log_info("main", "live frames on ws://%s%s%s:%u/v1/live", strchr(cfg.live_host, ':') ? "[" : "",
             cfg.live_host, strchr(cfg.live_host, ':') ? "]" : "", ws_gateway_port(app.live));
    if (loop_group_run(app.loops) < 0)
        app.exit_code = 1;
    log_info("main", "bye");

fail:
    if (app.sigint)
        event_free(app.sigint);
    if (app.sigterm)
        event_free(app.sigterm);
    actor_timer_free(app.deadline);
    scheduler_free(app.scheduler);
    ws_gateway_free(app.live);
    listener_free(app.listener);
    run_manager_free(app.rm);
    http_front_free(app.front);
    runs_free(app.runs);
    metrics_free(app.metrics);
    series_writer_free(app.series);
    store_free(app.store);
    bus_free(app.bus);
    actor_free(app.root);
    loop_group_free(app.loops);
    config_deinit(&cfg);
    return app.front ? app.exit_code : 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: stampede <command> [options]\n\n"
            "commands:\n"
            "  serve            run the platform server (REST API, PostgreSQL, Redis)\n"
            "  run FILE         run a load test script from the terminal (no database)\n"
            "  run --url URL    quick test of one URL\n"
            "  import curl|har  make a script from a curl command or a HAR recording\n"
            "  cron next EXPR   print the next fire times of a cron expression\n"
            "  version          print the version\n"
            "  help             this text\n\n"
            "`stampede <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return serve_main(argc - 2, argv + 2);
    if (strcmp(cmd, "run") == 0)
        return cli_run_main(argc - 2, argv + 2);
    if (strcmp(cmd, "import") == 0)
        return cli_import_main(argc - 2, argv + 2);
    if (strcmp(cmd, "cron") == 0)
        return cli_cron_main(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("stampede %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "stampede: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
