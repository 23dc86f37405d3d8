/* pg: the non-blocking libpq state machine behind the store actor. */
#include "pg.h"

#include "log.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_STMT_CACHE 128

struct pg_conn {
    struct event_base *base;
    struct evdns_base *dns;
    char *conninfo;
    char tag[48];
    pg_state_cb on_state;
    void *arg;
    pg_notify_cb on_notify;
    void *notify_arg;

    enum pg_state state;
    PGconn *conn;
    int fd;
    struct event *rev, *wev;
    struct event *defer_ev; /* runs connect steps and failures from the loop */
    struct evdns_getaddrinfo_request *dns_req;
    char hostaddr[INET6_ADDRSTRLEN];
    char resolving[128];        /* the host name being looked up, for messages */

    /* the running job */
    pg_done_cb done;
    void *done_arg;
    int pipeline;
    int cur;              /* statement whose results are being read */
    int cmd, ncmds;       /* pipeline: the command being read, commands sent */
    struct {
        int stmt;         /* the statement it belongs to */
        int prep;         /* a prepare (its slot), or -1: the statement itself */
    } cmds[2 * PG_MAX_STMTS];

    /* Statements prepared on this connection (named "s<slot>"): planned
     * once per connection instead of once per query. Bounded: past
     * PG_STMT_CACHE distinct texts, statements go unprepared. */
    struct {
        char *sql;        /* NULL = free */
        int nparams;
        int ready;        /* its prepare succeeded */
    } cache[PG_STMT_CACHE];
    int ncache;
    struct pg_outcome out;
    char errbuf[512];
    char broken[512]; /* set when a send failed: reset from the loop */
};

static void set_state(struct pg_conn *c, enum pg_state st, const char *why)
{
    c->state = st;
    if (c->on_state)
        c->on_state(c, st, why, c->arg);
}

static void drop_events(struct pg_conn *c)
{
    if (c->rev) {
        event_free(c->rev);
        c->rev = NULL;
    }
    if (c->wev) {
        event_free(c->wev);
        c->wev = NULL;
    }
    c->fd = -1;
}

static void clear_outcome(struct pg_conn *c)
{
    for (int i = 0; i < PG_MAX_STMTS; i++) {
        if (c->out.res[i])
            PQclear(c->out.res[i]);
    }
    memset(&c->out, 0, sizeof c->out);
}

/* Finish the running job: hand the outcome to its callback, then clear. */
static void finish_job(struct pg_conn *c)
{
    pg_done_cb done = c->done;
    void *arg = c->done_arg;
    c->done = NULL;
    c->done_arg = NULL;
    if (c->out.ok && c->out.failed < 0)
        c->out.error = NULL;
    if (done) {
        /* The callback may start the next job: keep our outcome safe. */
        struct pg_outcome o = c->out;
        memset(&c->out, 0, sizeof c->out);
        char err[sizeof c->errbuf];
        if (o.error) {
            snprintf(err, sizeof err, "%s", o.error);
            o.error = err;
        }
        done(c, &o, arg);
        for (int i = 0; i < PG_MAX_STMTS; i++)
            if (o.res[i])
                PQclear(o.res[i]);
    } else {
        clear_outcome(c);
    }
}

static void cache_clear(struct pg_conn *c)
{
    for (int i = 0; i < c->ncache; i++) {
        free(c->cache[i].sql);
        c->cache[i].sql = NULL;
    }
    c->ncache = 0;
}

static void close_conn(struct pg_conn *c)
{
    cache_clear(c); /* prepared statements live and die with the session */
    if (c->defer_ev)
        event_del(c->defer_ev);
    c->broken[0] = '\0';
    if (c->dns_req) {
        evdns_getaddrinfo_cancel(c->dns_req);
        c->dns_req = NULL;
    }
    drop_events(c);
    if (c->conn) {
        PQfinish(c->conn);
        c->conn = NULL;
    }
}

void pg_conn_reset(struct pg_conn *c, const char *why)
{
    if (c->state == PG_DOWN)
        return;
    int had_job = c->done != NULL;
    close_conn(c);
    if (had_job) {
        c->out.ok = 0;
        c->out.conn_lost = 1;
        if (c->out.failed < 0)
            c->out.failed = c->cur;
        c->out.sqlstate[0] = '\0';
        snprintf(c->errbuf, sizeof c->errbuf, "%s", why);
        c->out.error = c->errbuf;
    }
    c->state = PG_DOWN;
    if (had_job)
        finish_job(c);
    set_state(c, PG_DOWN, why);
}

static void on_notice(void *arg, const char *message)
{
    struct pg_conn *c = arg;
    log_info(c->tag, "server notice: %s", message);
}

static void on_io(evutil_socket_t fd, short what, void *arg);

/* (Re)register read/write events for the current socket; libpq may change
 * the socket during connection (several hosts, SSL fallback). */
static int watch(struct pg_conn *c, int want_write)
{
    int fd = PQsocket(c->conn);
    if (fd < 0)
        return -1;
    if (fd != c->fd) {
        drop_events(c);
        c->fd = fd;
        c->rev = event_new(c->base, fd, EV_READ | EV_PERSIST, on_io, c);
        c->wev = event_new(c->base, fd, EV_WRITE | EV_PERSIST, on_io, c);
        if (!c->rev || !c->wev)
            return -1;
        event_add(c->rev, NULL);
    }
    if (want_write)
        event_add(c->wev, NULL);
    else
        event_del(c->wev);
    return 0;
}

static void connect_step(struct pg_conn *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->conn);
    switch (st) {
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
        if (watch(c, st == PGRES_POLLING_WRITING) < 0)
            pg_conn_reset(c, "no socket while connecting");
        return;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(c->conn, 1) != 0) {
            pg_conn_reset(c, "cannot set non-blocking mode");
            return;
        }
        PQsetNoticeProcessor(c->conn, on_notice, c);
        if (watch(c, 0) < 0) {
            pg_conn_reset(c, "no socket after connecting");
            return;
        }
        set_state(c, PG_READY, NULL);
        return;
    default: {
        char why[sizeof c->errbuf];
        snprintf(why, sizeof why, "%s", PQerrorMessage(c->conn));
        size_t l = strlen(why);
        while (l && (why[l - 1] == '\n' || why[l - 1] == ' '))
            why[--l] = '\0';
        pg_conn_reset(c, why[0] ? why : "connection failed");
        return;
    }
    }
}

static void note_error(struct pg_conn *c, const PGresult *r)
{
    if (c->out.failed >= 0)
        return;
    c->out.ok = 0;
    c->out.failed = c->cur;
    const char *ss = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(c->out.sqlstate, sizeof c->out.sqlstate, "%s", ss ? ss : "");
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    snprintf(c->errbuf, sizeof c->errbuf, "%s", msg ? msg : PQresultErrorMessage(r));
    c->out.error = c->errbuf;
}

static void keep_result(struct pg_conn *c, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR)
        note_error(c, r);
    int i = c->cur < c->out.n ? c->cur : c->out.n - 1;
    if (c->out.res[i])
        PQclear(c->out.res[i]); /* several results (simple multi-statement): keep the last */
    c->out.res[i] = r;
}

/* libpq reports a connection that broke while a result was awaited as an
 * error result of its own, with no SQLSTATE: that is a lost connection,
 * not a failed statement. */
static void mark_if_lost(struct pg_conn *c)
{
    if (c->out.failed >= 0 && !c->out.sqlstate[0] && PQstatus(c->conn) == CONNECTION_BAD)
        c->out.conn_lost = 1;
}

/* Read what has arrived; complete the job when its last result is in. */
static void read_results(struct pg_conn *c)
{
    if (!PQconsumeInput(c->conn)) {
        char why[sizeof c->errbuf];
        snprintf(why, sizeof why, "connection lost: %s", PQerrorMessage(c->conn));
        size_t l = strlen(why);
        while (l && (why[l - 1] == '\n' || why[l - 1] == ' '))
            why[--l] = '\0';
        pg_conn_reset(c, why);
        return;
    }
    PGnotify *nt;
    while ((nt = PQnotifies(c->conn)) != NULL) {
        log_debug(c->tag, "notification on %s", nt->relname);
        if (c->on_notify)
            c->on_notify(c, nt->relname, nt->extra ? nt->extra : "", c->notify_arg);
        PQfreemem(nt);
    }
    if (!c->done) {
        /* Idle: nothing should arrive but errors (e.g. admin shutdown). */
        if (PQstatus(c->conn) == CONNECTION_BAD)
            pg_conn_reset(c, "connection closed by the server");
        return;
    }
    while (c->done && !PQisBusy(c->conn)) {
        PGresult *r = PQgetResult(c->conn);
        if (!c->pipeline) {
            if (!r) {
                mark_if_lost(c);
                c->state = PG_READY;
                finish_job(c);
                return;
            }
            keep_result(c, r);
            continue;
        }
        if (!r) { /* end of one command's results */
            c->cmd++;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            mark_if_lost(c);
            if (PQexitPipelineMode(c->conn) != 1) {
                pg_conn_reset(c, "cannot leave pipeline mode");
                return;
            }
            c->state = PG_READY;
            finish_job(c);
            return;
        }
        if (st == PGRES_PIPELINE_ABORTED) {
            PQclear(r);
            continue;
        }
        int k = c->cmd < c->ncmds ? c->cmd : c->ncmds - 1;
        c->cur = c->cmds[k].stmt;
        int slot = c->cmds[k].prep;
        if (slot >= 0 && st == PGRES_COMMAND_OK) {
            c->cache[slot].ready = 1;
            PQclear(r);
            continue;
        }
        if (slot >= 0) { /* the prepare failed: the statement's error; forget the slot */
            free(c->cache[slot].sql);
            c->cache[slot].sql = NULL;
        }
        keep_result(c, r);
    }
    if (c->conn && PQstatus(c->conn) == CONNECTION_BAD)
        pg_conn_reset(c, "connection closed by the server");
}

static void flush(struct pg_conn *c)
{
    int r = PQflush(c->conn);
    if (r < 0) {
        pg_conn_reset(c, "cannot send to the server");
        return;
    }
    /* 1: more to send, wait until writable. */
    if (r == 1)
        event_add(c->wev, NULL);
    else
        event_del(c->wev);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    struct pg_conn *c = arg;
    (void)fd;
    if (c->state == PG_CONNECTING) {
        connect_step(c);
        return;
    }
    if ((what & EV_WRITE) && c->conn) {
        flush(c);
        if (c->state == PG_DOWN)
            return;
    }
    if ((what & EV_READ) && c->conn)
        read_results(c);
}

static void defer(struct pg_conn *c)
{
    static const struct timeval zero = { 0, 0 };
    event_add(c->defer_ev, &zero);
}

/* Every connection attempt's first step and every failure detected inside
 * a call from the owner are run from here, so the owner's callbacks never
 * run re-entrantly inside pg_conn_connect or pg_conn_exec. */
static void on_defer(evutil_socket_t fd, short what, void *arg)
{
    struct pg_conn *c = arg;
    (void)fd;
    (void)what;
    if (c->broken[0]) {
        char why[sizeof c->broken];
        snprintf(why, sizeof why, "%s", c->broken);
        c->broken[0] = '\0';
        pg_conn_reset(c, why);
    } else if (c->state == PG_CONNECTING && c->conn) {
        connect_step(c);
    }
}

static void start_connect(struct pg_conn *c)
{
    const char *keys[3] = { "dbname", NULL, NULL };
    const char *vals[3] = { c->conninfo, NULL, NULL };
    if (c->hostaddr[0]) {
        keys[1] = "hostaddr";
        vals[1] = c->hostaddr;
    }
    c->conn = PQconnectStartParams(keys, vals, 1);
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
        snprintf(c->broken, sizeof c->broken, "%s",
                 c->conn ? PQerrorMessage(c->conn) : "out of memory");
        size_t l = strlen(c->broken);
        while (l && (c->broken[l - 1] == '\n' || c->broken[l - 1] == ' '))
            c->broken[--l] = '\0';
        if (!c->broken[0])
            snprintf(c->broken, sizeof c->broken, "connection failed");
    }
    defer(c);
}

static void on_resolved(int err, struct evutil_addrinfo *ai, void *arg)
{
    if (err == EVUTIL_EAI_CANCEL) {
        /* cancelled by close_conn: libevent calls back later, from the
         * loop, when the connection may be gone (pg_conn_free) or looking
         * a name up again — touch nothing */
        if (ai)
            evutil_freeaddrinfo(ai);
        return;
    }
    struct pg_conn *c = arg;
    c->dns_req = NULL;
    if (err || !ai) {
        if (ai)
            evutil_freeaddrinfo(ai);
        snprintf(c->broken, sizeof c->broken, "cannot resolve the database host %s: %s", c->resolving,
                 evutil_gai_strerror(err));
        defer(c);
        return;
    }
    const void *a = ai->ai_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
    inet_ntop(ai->ai_family, a, c->hostaddr, sizeof c->hostaddr);
    evutil_freeaddrinfo(ai);
    start_connect(c);
}

/* The host named by conninfo when it needs a DNS lookup, else NULL. */
static char *host_to_resolve(const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (!opts) {
        PQfreemem(err);
        return NULL; /* libpq will report the syntax error itself */
    }
    const char *host = NULL, *hostaddr = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
    }
    char *r = NULL;
    unsigned char buf[sizeof(struct in6_addr)];
    if (host && *host && !(hostaddr && *hostaddr) && host[0] != '/' && !strchr(host, ',') &&
        inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
        r = xstrdup(host);
    PQconninfoFree(opts);
    return r;
}

int pg_conn_connect(struct pg_conn *c)
{
    if (c->state != PG_DOWN)
        return -1;
    c->state = PG_CONNECTING;
    c->hostaddr[0] = '\0';
    c->broken[0] = '\0';
    char *host = host_to_resolve(c->conninfo);
    if (host && c->dns) {
        struct evutil_addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        snprintf(c->resolving, sizeof c->resolving, "%s", host);
        c->dns_req = evdns_getaddrinfo(c->dns, host, NULL, &hints, on_resolved, c);
        free(host);
        return 0;
    }
    if (host) {
        /* libpq would resolve it itself, blocking the loop: refuse */
        snprintf(c->broken, sizeof c->broken,
                 "cannot resolve the database host %.100s: no DNS resolver (give its address)", host);
        free(host);
        defer(c);
        return 0;
    }
    start_connect(c);
    return 0;
}

/* The cache slot prepared (or being prepared) for this statement's text. */
static int cache_find(const struct pg_conn *c, const struct pg_stmt *st)
{
    for (int i = 0; i < c->ncache; i++)
        if (c->cache[i].sql && c->cache[i].nparams == st->nparams && strcmp(c->cache[i].sql, st->sql) == 0)
            return i;
    return -1;
}

int pg_conn_exec(struct pg_conn *c, const struct pg_stmt *stmts, int n, int simple,
                 pg_done_cb done, void *arg)
{
    if (c->state != PG_READY || n < 1 || n > PG_MAX_STMTS || (simple && n != 1))
        return -1;
    clear_outcome(c);
    c->out.ok = 1;
    c->out.n = n;
    c->out.failed = -1;
    c->cur = 0;
    c->cmd = c->ncmds = 0;
    c->pipeline = !simple;
    int sent = 1;
    if (simple) {
        sent = PQsendQuery(c->conn, stmts[0].sql);
    } else {
        /* One pipeline: a prepare for each statement text this connection
         * has not seen, the statements, one sync (one implicit transaction). */
        sent = PQenterPipelineMode(c->conn);
        for (int i = 0; sent && i < n; i++) {
            int slot = cache_find(c, &stmts[i]), fresh = 0;
            if (slot < 0 && c->ncache < PG_STMT_CACHE) {
                slot = c->ncache++;
                c->cache[slot].sql = xstrdup(stmts[i].sql);
                c->cache[slot].nparams = stmts[i].nparams;
                c->cache[slot].ready = 0;
                fresh = 1;
            }
            char name[16];
            snprintf(name, sizeof name, "s%d", slot);
            if (fresh) {
                sent = PQsendPrepare(c->conn, name, stmts[i].sql, stmts[i].nparams, NULL);
                c->cmds[c->ncmds].stmt = i;
                c->cmds[c->ncmds++].prep = slot;
            }
            if (sent && slot >= 0)
                sent = PQsendQueryPrepared(c->conn, name, stmts[i].nparams, stmts[i].params, NULL, NULL, 0);
            else if (sent)
                sent = PQsendQueryParams(c->conn, stmts[i].sql, stmts[i].nparams, NULL,
                                         stmts[i].params, NULL, NULL, 0);
            c->cmds[c->ncmds].stmt = i;
            c->cmds[c->ncmds++].prep = -1;
        }
        if (sent)
            sent = PQpipelineSync(c->conn);
    }
    if (!sent) {
        /* Report the broken connection from the loop, not from inside this
         * call: callers must never see callbacks run re-entrantly. */
        snprintf(c->broken, sizeof c->broken, "cannot send query: %s", PQerrorMessage(c->conn));
        defer(c);
        return -1;
    }
    c->done = done;
    c->done_arg = arg;
    c->state = PG_BUSY;
    /* Flush from the write callback (the socket is writable at once), so a
     * failure there completes the job later, never inside this call. */
    event_add(c->wev, NULL);
    return 0;
}

struct pg_conn *pg_conn_new(struct event_base *base, struct evdns_base *dns, const char *conninfo,
                            const char *tag, pg_state_cb on_state, void *arg)
{
    struct pg_conn *c = xcalloc(1, sizeof *c);
    c->base = base;
    c->dns = dns;
    c->conninfo = xstrdup(conninfo);
    snprintf(c->tag, sizeof c->tag, "%s", tag);
    c->on_state = on_state;
    c->arg = arg;
    c->fd = -1;
    c->state = PG_DOWN;
    c->defer_ev = evtimer_new(base, on_defer, c);
    if (!c->defer_ev)
        abort();
    return c;
}

void pg_conn_free(struct pg_conn *c)
{
    if (!c)
        return;
    c->on_state = NULL;
    c->done = NULL;
    close_conn(c);
    clear_outcome(c);
    event_free(c->defer_ev);
    free(c->conninfo);
    free(c);
}

void pg_conn_on_notify(struct pg_conn *c, pg_notify_cb cb, void *arg)
{
    c->on_notify = cb;
    c->notify_arg = arg;
}

enum pg_state pg_conn_state(const struct pg_conn *c)
{
    return c->state;
}

const char *pg_conn_tag(const struct pg_conn *c)
{
    return c->tag;
}
