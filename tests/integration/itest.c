/* itest: stack fixture, server process control and a blocking HTTP client. */
#include "itest.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct itest_stack stack;

uint64_t itest_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

const struct itest_stack *itest_stack(void)
{
    return &stack;
}

static const char *srcdir(void)
{
    const char *s = getenv("STAMPEDE_SRCDIR");
    return s ? s : ".";
}

static int stack_cmd(const char *cmd, const char *arg)
{
    char line[1200];
    snprintf(line, sizeof line, "bash '%s/contrib/stack.sh' %s '%s' %s >>'%s/stack-cmd.log' 2>&1",
             srcdir(), cmd, stack.dir, arg ? arg : "", stack.dir);
    int rc = system(line);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int itest_stack_cmd(const char *cmd)
{
    return stack_cmd(cmd, NULL);
}

static void read_env(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/stack.env", stack.dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "itest: cannot read %s\n", path);
        exit(99);
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "STACK_PG_PORT=%d", &stack.pg_port) == 1)
            continue;
        sscanf(line, "STACK_REDIS_PORT=%d", &stack.redis_port);
    }
    fclose(f);
    snprintf(stack.pg_dsn, sizeof stack.pg_dsn, "host=127.0.0.1 port=%d dbname=stampede user=stampede",
             stack.pg_port);
    snprintf(stack.redis_url, sizeof stack.redis_url, "redis://127.0.0.1:%d", stack.redis_port);
}

void itest_stack_up(void)
{
    if (stack.dir[0])
        return;
    const char *d = getenv("STAMPEDE_STACK_DIR");
    if (d && *d) {
        snprintf(stack.dir, sizeof stack.dir, "%s", d);
    } else {
        char tmpl[] = "/tmp/stampede-itest-XXXXXX";
        if (!mkdtemp(tmpl)) {
            perror("itest: mkdtemp");
            exit(99);
        }
        chmod(tmpl, 0755);
        snprintf(stack.dir, sizeof stack.dir, "%s", tmpl);
        stack.owned = 1;
        setenv("STAMPEDE_PG_PORT", "auto", 1);
        setenv("STAMPEDE_REDIS_PORT", "auto", 1);
        if (itest_stack_cmd("start") != 0) {
            fprintf(stderr, "itest: cannot start PostgreSQL and Redis (see %s/stack-cmd.log)\n", stack.dir);
            exit(99); /* a hard error for the harness, never a pass */
        }
    }
    read_env();
}

void itest_stack_down(void)
{
    if (stack.owned) {
        itest_stack_cmd("stop");
        char line[700];
        snprintf(line, sizeof line, "rm -rf '%s'", stack.dir);
        if (system(line) != 0)
            fprintf(stderr, "itest: could not remove %s\n", stack.dir);
        /* the cluster may live under /var/tmp when the dir was not reachable */
    }
    memset(&stack, 0, sizeof stack);
}

const char *itest_createdb(const char *prefix)
{
    static char dsn[256];
    static int seq;
    char name[64];
    snprintf(name, sizeof name, "%s_%d_%d", prefix, (int)getpid(), ++seq);
    ck_assert_int_eq(stack_cmd("createdb", name), 0);
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d dbname=%s user=stampede", stack.pg_port, name);
    return dsn;
}

int itest_log_contains(const struct itest_server *s, const char *needle)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static int log_port(const struct itest_server *s)
{
    FILE *f = fopen(s->log, "r");
    if (!f)
        return 0;
    char line[4096];
    int port = 0;
    while (!port && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "listening on http://127.0.0.1:");
        if (p)
            port = atoi(p + strlen("listening on http://127.0.0.1:"));
    }
    fclose(f);
    return port;
}

int itest_server_start(struct itest_server *s, const char *dsn, const char *redis_url,
                       const char *const *extra, int *exit_status)
{
    static int seq;
    memset(s, 0, sizeof *s);
    snprintf(s->log, sizeof s->log, "%s/server-%d-%d.log", stack.dir, (int)getpid(), ++seq);
    const char *bin = getenv("STAMPEDE_BIN");
    if (!bin)
        bin = "./stampede";
    const char *argv[40];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "serve";
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--pg-dsn";
    argv[n++] = dsn ? dsn : stack.pg_dsn;
    argv[n++] = "--redis-url";
    argv[n++] = redis_url ? redis_url : stack.redis_url;
    argv[n++] = "--loops";
    argv[n++] = "2";
    argv[n++] = "--log-level";
    argv[n++] = "debug";
    argv[n++] = "--live-listen"; /* never the default port: servers of tests overlap */
    argv[n++] = "127.0.0.1:0";
    for (int i = 0; extra && extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        /* a clean environment: only what we pass on the command line */
        unsetenv("STAMPEDE_CONFIG");
        unsetenv("STAMPEDE_LISTEN");
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    uint64_t until = itest_now_ms() + 10000;
    while (itest_now_ms() < until) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            if (exit_status)
                *exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            s->pid = 0;
            return -1;
        }
        int port = log_port(s);
        if (port > 0) {
            s->port = (uint16_t)port;
            return 0;
        }
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    s->pid = 0;
    return -1;
}

void itest_server_start_healthy(struct itest_server *s, const char *const *extra)
{
    /* A test that failed while PostgreSQL or Redis was stopped did not get
     * to start it again: do it here (a no-op when both run). */
    if (itest_stack_cmd("pg-start") != 0 || itest_stack_cmd("redis-start") != 0)
        ck_abort_msg("cannot start PostgreSQL and Redis (see %s/stack-cmd.log)", stack.dir);
    int st = 0;
    ck_assert_msg(itest_server_start(s, NULL, NULL, extra, &st) == 0, "server exited with %d", st);
    ck_assert_msg(itest_wait_health(s->port, 200, 10000) == 0, "server never became healthy (log %s)", s->log);
}

int itest_server_wait(struct itest_server *s, int timeout_ms)
{
    if (s->pid <= 0)
        return -1;
    uint64_t until = itest_now_ms() + (uint64_t)timeout_ms;
    int st;
    while (itest_now_ms() < until) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        sleep_ms(10);
    }
    return -1;
}

int itest_server_stop(struct itest_server *s, int timeout_ms)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    int st = itest_server_wait(s, timeout_ms);
    if (st < 0 && s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    return st;
}

int itest_wait_health(uint16_t port, int status, int timeout_ms)
{
    uint64_t until = itest_now_ms() + (uint64_t)timeout_ms;
    do {
        struct itest_resp r;
        itest_http(port, "GET", "/healthz", NULL, NULL, 0, 0, &r);
        int st = r.status;
        itest_resp_free(&r);
        if (st == status)
            return 0;
        sleep_ms(20);
    } while (itest_now_ms() < until);
    return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL); /* the server may answer and close early */
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int itest_http(uint16_t port, const char *method, const char *path, const char *extra_headers,
               const char *body, size_t body_len, int chunked, struct itest_resp *r)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    char head[2048];
    int hl;
    if (chunked)
        hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      "Transfer-Encoding: chunked\r\n%s\r\n",
                      method, path, extra_headers ? extra_headers : "");
    else if (body)
        hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      "Content-Length: %zu\r\n%s\r\n",
                      method, path, body_len, extra_headers ? extra_headers : "");
    else
        hl = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n",
                      method, path, extra_headers ? extra_headers : "");
    int ok = write_all(fd, head, (size_t)hl) == 0;
    if (ok && body && chunked) {
        /* chunks of 64 KiB; the server may answer and close early (413) */
        for (size_t off = 0; ok && off < body_len; off += 65536) {
            size_t n = body_len - off < 65536 ? body_len - off : 65536;
            char sz[32];
            int sl = snprintf(sz, sizeof sz, "%zx\r\n", n);
            ok = write_all(fd, sz, (size_t)sl) == 0 && write_all(fd, body + off, n) == 0 &&
                 write_all(fd, "\r\n", 2) == 0;
        }
        if (ok)
            write_all(fd, "0\r\n\r\n", 5);
    } else if (ok && body) {
        write_all(fd, body, body_len); /* may fail if the server answered early */
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
        free(buf);
        r->status = -1;
        return -1;
    }
    *sep = '\0';
    r->headers = strdup(buf);
    const char *b = sep + 4;
    size_t bl = len - (size_t)(b - buf);
    /* our server answers with Content-Length; a chunked answer is not expected */
    r->body = malloc(bl + 1);
    memcpy(r->body, b, bl);
    r->body[bl] = '\0';
    r->body_len = bl;
    free(buf);
    char err[128];
    if (bl)
        r->json = yajl_tree_parse(r->body, err, sizeof err);
    return 0;
}

void itest_resp_free(struct itest_resp *r)
{
    free(r->headers);
    free(r->body);
    if (r->json)
        yajl_tree_free(r->json);
    memset(r, 0, sizeof *r);
}

const char *itest_json_str(const struct itest_resp *r, const char *const *path)
{
    if (!r->json)
        return NULL;
    yajl_val v = yajl_tree_get(r->json, (const char **)path, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : NULL;
}

PGresult *itest_pg(const char *dsn, const char *sql)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    PGresult *r = PQexec(c, sql);
    PQfinish(c);
    return r;
}
