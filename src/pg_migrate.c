/* pg_migrate: a small chain of queries that brings the schema up to date. */
#include "pg_migrate.h"

#include "fnv.h"
#include "log.h"
#include "xmalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arbitrary but fixed: the advisory lock key all Stampede servers share. */
#define LOCK_SQL "SELECT pg_advisory_lock(7465931280)"
#define UNLOCK_SQL "SELECT pg_advisory_unlock(7465931280)"

enum step {
    S_LOCK,
    S_TABLE,
    S_LIST,
    S_BEGIN,
    S_APPLY,
    S_RECORD,
    S_COMMIT,
    S_ROLLBACK,
    S_UNLOCK,
};

struct pg_migrate {
    struct pg_conn *c;
    const struct migration *list;
    size_t n, next;
    unsigned char *applied; /* per migration: already recorded */
    enum step step;
    int applied_now;
    enum pg_migrate_status result;
    char message[600];
    pg_migrate_cb cb;
    void *arg;
    char p_version[16], p_name[256], p_sum[17];
};

void pg_migrate_checksum(const char *sql, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)fnv1a(FNV1A_INIT, sql, strlen(sql)));
}

static void on_done(struct pg_conn *c, struct pg_outcome *o, void *arg);

static int run_simple(struct pg_migrate *m, enum step st, const char *sql)
{
    struct pg_stmt s = { sql, 0, NULL };
    m->step = st;
    return pg_conn_exec(m->c, &s, 1, 1, on_done, m);
}

static void finish(struct pg_migrate *m)
{
    m->cb(m->result, m->message, m->applied_now, m->arg);
    free(m->applied);
    free(m);
}

/* Find the next migration to apply, or unlock when none is left. */
static int advance(struct pg_migrate *m)
{
    while (m->next < m->n && m->applied[m->next])
        m->next++;
    if (m->next >= m->n) {
        snprintf(m->message, sizeof m->message, "schema up to date (%zu migrations, %d applied now)",
                 m->n, m->applied_now);
        return run_simple(m, S_UNLOCK, UNLOCK_SQL);
    }
    return run_simple(m, S_BEGIN, "BEGIN");
}

static void fail_sql(struct pg_migrate *m, const char *what, struct pg_outcome *o)
{
    m->result = PG_MIGRATE_FAILED;
    snprintf(m->message, sizeof m->message, "%s: %s%s%s%s", what,
             o->error ? o->error : "unknown error", o->sqlstate[0] ? " (SQLSTATE " : "",
             o->sqlstate, o->sqlstate[0] ? ")" : "");
}

static void on_done(struct pg_conn *c, struct pg_outcome *o, void *arg)
{
    struct pg_migrate *m = arg;
    (void)c;
    if (o->conn_lost) {
        m->result = PG_MIGRATE_CONN_LOST;
        snprintf(m->message, sizeof m->message, "connection lost while migrating: %s",
                 o->error ? o->error : "");
        finish(m);
        return;
    }
    int rc = 0;
    const struct migration *cur = m->next < m->n ? &m->list[m->next] : NULL;
    switch (m->step) {
    case S_LOCK:
        if (!o->ok) {
            fail_sql(m, "cannot take the migration lock", o);
            finish(m);
            return;
        }
        rc = run_simple(m, S_TABLE,
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version integer PRIMARY KEY,"
                        " name text NOT NULL,"
                        " checksum text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())");
        break;
    case S_TABLE: {
        if (!o->ok) {
            fail_sql(m, "cannot create schema_migrations", o);
            rc = run_simple(m, S_UNLOCK, UNLOCK_SQL);
            break;
        }
        struct pg_stmt s = { "SELECT version, checksum FROM schema_migrations", 0, NULL };
        m->step = S_LIST;
        rc = pg_conn_exec(m->c, &s, 1, 0, on_done, m);
        break;
    }
    case S_LIST: {
        if (!o->ok) {
            fail_sql(m, "cannot read schema_migrations", o);
            rc = run_simple(m, S_UNLOCK, UNLOCK_SQL);
            break;
        }
        PGresult *r = o->res[0];
        for (int i = 0; r && i < PQntuples(r); i++) {
            int v = atoi(PQgetvalue(r, i, 0));
            for (size_t k = 0; k < m->n; k++) {
                if (m->list[k].version != v)
                    continue;
                m->applied[k] = 1;
                char sum[17];
                pg_migrate_checksum(m->list[k].sql, sum);
                if (strcmp(sum, PQgetvalue(r, i, 1)) != 0)
                    log_warn("migrate", "migration %03d_%s changed after it was applied",
                             v, m->list[k].name);
            }
        }
        rc = advance(m);
        break;
    }
    case S_BEGIN:
        if (!o->ok) {
            fail_sql(m, "BEGIN failed", o);
            rc = run_simple(m, S_UNLOCK, UNLOCK_SQL);
            break;
        }
        log_info("migrate", "applying %03d_%s", cur->version, cur->name);
        rc = run_simple(m, S_APPLY, cur->sql);
        break;
    case S_APPLY: {
        if (!o->ok) {
            char what[320];
            snprintf(what, sizeof what, "migration %03d_%s failed", cur->version, cur->name);
            fail_sql(m, what, o);
            rc = run_simple(m, S_ROLLBACK, "ROLLBACK");
            break;
        }
        snprintf(m->p_version, sizeof m->p_version, "%d", cur->version);
        snprintf(m->p_name, sizeof m->p_name, "%s", cur->name);
        pg_migrate_checksum(cur->sql, m->p_sum);
        const char *params[3] = { m->p_version, m->p_name, m->p_sum };
        struct pg_stmt s = {
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", 3, params
        };
        m->step = S_RECORD;
        rc = pg_conn_exec(m->c, &s, 1, 0, on_done, m);
        break;
    }
    case S_RECORD:
        if (!o->ok) {
            char what[320];
            snprintf(what, sizeof what, "recording migration %03d failed", cur->version);
            fail_sql(m, what, o);
            rc = run_simple(m, S_ROLLBACK, "ROLLBACK");
            break;
        }
        rc = run_simple(m, S_COMMIT, "COMMIT");
        break;
    case S_COMMIT:
        if (!o->ok) {
            char what[320];
            snprintf(what, sizeof what, "commit of migration %03d failed", cur->version);
            fail_sql(m, what, o);
            rc = run_simple(m, S_UNLOCK, UNLOCK_SQL);
            break;
        }
        m->applied[m->next] = 1;
        m->applied_now++;
        rc = advance(m);
        break;
    case S_ROLLBACK:
        rc = run_simple(m, S_UNLOCK, UNLOCK_SQL);
        break;
    case S_UNLOCK:
        finish(m);
        return;
    }
    if (rc < 0) {
        m->result = PG_MIGRATE_CONN_LOST;
        snprintf(m->message, sizeof m->message, "connection lost while migrating");
        finish(m);
    }
}

struct pg_migrate *pg_migrate_start(struct pg_conn *c, const struct migration *list, size_t n,
                                    pg_migrate_cb cb, void *arg)
{
    struct pg_migrate *m = xcalloc(1, sizeof *m);
    m->c = c;
    m->list = list;
    m->n = n;
    m->applied = xcalloc(n ? n : 1, 1);
    m->cb = cb;
    m->arg = arg;
    m->result = PG_MIGRATE_OK;
    if (run_simple(m, S_LOCK, LOCK_SQL) < 0) {
        free(m->applied);
        free(m);
        return NULL;
    }
    return m;
}
