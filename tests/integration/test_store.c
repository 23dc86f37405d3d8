/* test_store: the store actor in-process against the real PostgreSQL —
 * migrations, queries, atomic multi-statement jobs, error mapping,
 * deadlines, fail-fast while down, and stop. */
#include "check_main.h"
#include "itest.h"
#include "probe.h"
#include "status.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct probe p;
static actor_t *store_actor; /* freed after the loops stop */

static actor_t *make_store(const char *dsn, uint64_t timeout_us)
{
    struct store_config sc = { dsn, 2, timeout_us, p.actor };
    actor_t *st = store_new(loop_group_get(p.g, 0), &sc);
    store_actor = st;
    msg_t *w = msg_new(MSG_DEP_WATCH, sizeof(msg_t));
    w->reply_to = p.actor;
    ck_assert_int_eq(actor_send_urgent(st, w), 0);
    return st;
}

/* Wait until a DEP_POSTGRES status with up == want arrives. */
static int wait_status(int want, int timeout_ms)
{
    uint64_t until = itest_now_ms() + (uint64_t)timeout_ms;
    while (itest_now_ms() < until) {
        struct msg_dep_status *s = (struct msg_dep_status *)probe_wait(&p, MSG_DEP_STATUS, 100);
        if (!s)
            continue;
        int up = s->up;
        msg_free(&s->m);
        if (up == want)
            return 0;
    }
    return -1;
}

static struct store_result *query(actor_t *st, struct store_query *q, int timeout_ms)
{
    static uint64_t corr = 1000;
    probe_send(&p, st, &q->m, ++corr);
    struct store_result *r = (struct store_result *)probe_wait(&p, MSG_STORE_RESULT, timeout_ms);
    ck_assert_msg(r != NULL, "no answer from the store");
    ck_assert_uint_eq(r->m.corr, corr);
    return r;
}

static struct store_result *q1(actor_t *st, const char *sql, int nparams, const char *const *params)
{
    struct store_query *q = store_query_new();
    ck_assert_int_eq(store_query_add(q, sql, nparams, params), 0);
    return query(st, q, 10000);
}

static void stop_store(actor_t *st)
{
    probe_send(&p, st, msg_new(MSG_STOP, sizeof(msg_t)), 1);
    msg_t *m = probe_wait(&p, MSG_STOPPED, 10000);
    ck_assert_ptr_nonnull(m);
    msg_free(m);
}

static void setup(void)
{
    probe_start(&p, 1);
}

static void teardown(void)
{
    probe_stop(&p);
    store_free(store_actor);
    store_actor = NULL;
    probe_free(&p);
}

START_TEST(migrates_then_answers_queries)
{
    char dsn[256];
    snprintf(dsn, sizeof dsn, "%s", itest_createdb("store"));
    actor_t *st = make_store(dsn, 5000000);
    probe_run(&p);
    ck_assert_int_eq(wait_status(1, 10000), 0);
    const char *params[] = { "20", "22" };
    struct store_result *r = q1(st, "SELECT $1::int + $2::int", 2, params);
    ck_assert_int_eq(r->status, STORE_OK);
    ck_assert_str_eq(PQgetvalue(r->res[0], 0, 0), "42");
    msg_free(&r->m);
    r = q1(st, "SELECT count(*) FROM schema_migrations", 0, NULL);
    ck_assert_int_eq(r->status, STORE_OK);
    ck_assert_str_ne(PQgetvalue(r->res[0], 0, 0), "0");
    msg_free(&r->m);
    /* NULL parameters are SQL NULL */
    const char *np[] = { NULL };
    r = q1(st, "SELECT $1::text IS NULL", 1, np);
    ck_assert_str_eq(PQgetvalue(r->res[0], 0, 0), "t");
    msg_free(&r->m);
    stop_store(st);
    /* after stop: fails at once */
    r = q1(st, "SELECT 1", 0, NULL);
    ck_assert_int_eq(r->status, STORE_EUNAVAILABLE);
    msg_free(&r->m);
}
END_TEST

START_TEST(multi_statement_jobs_are_atomic_and_errors_map)
{
    char dsn[256];
    snprintf(dsn, sizeof dsn, "%s", itest_createdb("store"));
    actor_t *st = make_store(dsn, 5000000);
    probe_run(&p);
    ck_assert_int_eq(wait_status(1, 10000), 0);
    struct store_result *r = q1(st, "CREATE TABLE t (x int UNIQUE, y int CHECK (y > 0))", 0, NULL);
    ck_assert_int_eq(r->status, STORE_OK);
    msg_free(&r->m);
    /* second statement fails: the first is rolled back */
    struct store_query *q = store_query_new();
    const char *a[] = { "1", "5" }, *b[] = { "2", "-1" };
    store_query_add(q, "INSERT INTO t VALUES ($1, $2)", 2, a);
    store_query_add(q, "INSERT INTO t VALUES ($1, $2)", 2, b);
    r = query(st, q, 10000);
    ck_assert_int_eq(r->status, STORE_EINVALID);
    ck_assert_int_eq(r->failed, 1);
    ck_assert_str_eq(r->sqlstate, "23514");
    msg_free(&r->m);
    r = q1(st, "SELECT count(*) FROM t", 0, NULL);
    ck_assert_str_eq(PQgetvalue(r->res[0], 0, 0), "0");
    msg_free(&r->m);
    /* both valid: both applied, results per statement */
    q = store_query_new();
    const char *c[] = { "2", "7" };
    store_query_add(q, "INSERT INTO t VALUES ($1, $2) RETURNING x", 2, a);
    store_query_add(q, "INSERT INTO t VALUES ($1, $2) RETURNING y", 2, c);
    r = query(st, q, 10000);
    ck_assert_int_eq(r->status, STORE_OK);
    ck_assert_int_eq(r->n, 2);
    ck_assert_str_eq(PQgetvalue(r->res[0], 0, 0), "1");
    ck_assert_str_eq(PQgetvalue(r->res[1], 0, 0), "7");
    msg_free(&r->m);
    /* unique violation -> conflict; syntax error -> failed */
    r = q1(st, "INSERT INTO t VALUES ($1, $2)", 2, a);
    ck_assert_int_eq(r->status, STORE_ECONFLICT);
    ck_assert_int_eq(store_status_http(r->status), 409);
    msg_free(&r->m);
    r = q1(st, "SELEC 1", 0, NULL);
    ck_assert_int_eq(r->status, STORE_EFAILED);
    ck_assert_ptr_nonnull(r->error);
    msg_free(&r->m);
    stop_store(st);
}
END_TEST

START_TEST(deadline_resets_the_connection)
{
    char dsn[256];
    snprintf(dsn, sizeof dsn, "%s", itest_createdb("store"));
    actor_t *st = make_store(dsn, 300000); /* 300 ms */
    probe_run(&p);
    ck_assert_int_eq(wait_status(1, 10000), 0);
    uint64_t t0 = itest_now_ms();
    struct store_result *r = q1(st, "SELECT pg_sleep(3)", 0, NULL);
    uint64_t took = itest_now_ms() - t0;
    ck_assert_int_eq(r->status, STORE_ETIMEOUT);
    ck_assert_msg(took >= 250 && took < 1500, "timed out after %llu ms", (unsigned long long)took);
    msg_free(&r->m);
    /* the pool recovers: the next query works (maybe after a reconnect) */
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        r = q1(st, "SELECT 1", 0, NULL);
        ok = r->status == STORE_OK;
        msg_free(&r->m);
        if (!ok)
            usleep(100000);
    }
    ck_assert(ok);
    stop_store(st);
}
END_TEST

START_TEST(unreachable_database_fails_fast)
{
    /* nothing listens on port 1 */
    actor_t *st = make_store("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2", 5000000);
    probe_run(&p);
    struct msg_dep_status *s = (struct msg_dep_status *)probe_wait(&p, MSG_DEP_STATUS, 2000);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->up, 0);
    msg_free(&s->m);
    usleep(300000); /* a few failed attempts */
    uint64_t t0 = itest_now_ms();
    struct store_result *r = q1(st, "SELECT 1", 0, NULL);
    ck_assert_int_eq(r->status, STORE_EUNAVAILABLE);
    ck_assert_int_eq(store_status_http(r->status), 503);
    ck_assert_ptr_nonnull(strstr(r->error, "refused"));
    ck_assert_uint_lt(itest_now_ms() - t0, 100);
    msg_free(&r->m);
    stop_store(st);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, itest_stack_up, itest_stack_down);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, migrates_then_answers_queries);
    tcase_add_test(tc, multi_statement_jobs_are_atomic_and_errors_map);
    tcase_add_test(tc, deadline_resets_the_connection);
    tcase_add_test(tc, unreachable_database_fails_fast);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(store_suite)
