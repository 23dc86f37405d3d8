/* target: the test target process, started on an ephemeral port. */
#include "target.h"

#include "itest.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void target_start(struct target *t, const char *const *args)
{
    target_start_program(t, "stampede-target", args);
}

void target_start_program(struct target *t, const char *program, const char *const *args)
{
    char bin[600];
    const char *bd = getenv("STAMPEDE_BUILDDIR");
    snprintf(bin, sizeof bin, "%s/tests/target/%s", bd ? bd : ".", program);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    const char *argv[16] = { bin, "--port", "0" };
    int n = 3;
    for (int i = 0; args && args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[64] = "";
    int port = 0;
    if (fgets(line, sizeof line, f))
        sscanf(line, "PORT %d", &port);
    fclose(f);
    ck_assert_msg(port > 0, "%s did not start (%s)", program, line);
    t->pid = pid;
    t->port = (uint16_t)port;
}

void target_stop(struct target *t)
{
    if (t->pid > 0) {
        kill(t->pid, SIGTERM);
        waitpid(t->pid, NULL, 0);
        t->pid = 0;
    }
}

long target_requests(const struct target *t)
{
    struct itest_resp r;
    itest_http(t->port, "GET", "/__stats", NULL, NULL, 0, 0, &r);
    ck_assert_int_eq(r.status, 200);
    static const char *path[] = { "requests", NULL };
    yajl_val v = yajl_tree_get(r.json, path, yajl_t_number);
    ck_assert_ptr_nonnull(v);
    long n = (long)YAJL_GET_INTEGER(v);
    itest_resp_free(&r);
    return n;
}

long target_path_count(const struct target *t, const char *path)
{
    struct itest_resp r;
    itest_http(t->port, "GET", "/__stats", NULL, NULL, 0, 0, &r);
    ck_assert_int_eq(r.status, 200);
    const char *p[] = { "by_path", path, NULL };
    yajl_val v = yajl_tree_get(r.json, p, yajl_t_number);
    long n = v ? (long)YAJL_GET_INTEGER(v) : 0;
    itest_resp_free(&r);
    return n;
}

long target_stat(const struct target *t, const char *key)
{
    struct itest_resp r;
    itest_http(t->port, "GET", "/__stats", NULL, NULL, 0, 0, &r);
    ck_assert_int_eq(r.status, 200);
    const char *p[] = { key, NULL };
    yajl_val v = yajl_tree_get(r.json, p, yajl_t_number);
    ck_assert_msg(v != NULL, "/__stats has no %s", key);
    long n = (long)YAJL_GET_INTEGER(v);
    itest_resp_free(&r);
    return n;
}

long target_distinct_paths(const struct target *t)
{
    struct itest_resp r;
    itest_http(t->port, "GET", "/__stats", NULL, NULL, 0, 0, &r);
    ck_assert_int_eq(r.status, 200);
    const char *p[] = { "by_path", NULL };
    yajl_val v = yajl_tree_get(r.json, p, yajl_t_object);
    long n = v ? (long)v->u.object.len : 0;
    itest_resp_free(&r);
    return n;
}

void target_reset(const struct target *t)
{
    struct itest_resp r;
    itest_http(t->port, "POST", "/__reset", NULL, "", 0, 0, &r);
    ck_assert_int_eq(r.status, 200);
    itest_resp_free(&r);
}
