/* apic: REST helpers for the integration tests. */
#include "apic.h"

#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint16_t port;
static char token[128];

void apic_use(uint16_t p, const char *t)
{
    port = p;
    snprintf(token, sizeof token, "%s", t ? t : "");
}

void apic_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

struct itest_resp apic(const char *method, const char *path, const char *body)
{
    char headers[256] = "";
    if (body)
        snprintf(headers, sizeof headers, "Content-Type: application/json\r\n");
    if (token[0])
        snprintf(headers + strlen(headers), sizeof headers - strlen(headers),
                 "Authorization: Bearer %s\r\n", token);
    struct itest_resp r;
    itest_http(port, method, path, headers, body, body ? strlen(body) : 0, 0, &r);
    return r;
}

struct itest_resp apic_expect(const char *method, const char *path, const char *body, int status)
{
    struct itest_resp r = apic(method, path, body);
    ck_assert_msg(r.status == status, "%s %s: status %d, want %d: %s", method, path, r.status, status,
                  r.body ? r.body : "");
    return r;
}

void apic_error(const char *method, const char *path, const char *body, int status, const char *code,
                const char *field)
{
    struct itest_resp r = apic_expect(method, path, body, status);
    const char *c = apic_str(r.json, "error", "code", NULL);
    ck_assert_msg(c && strcmp(c, code) == 0, "%s %s: code %s, want %s (%s)", method, path, c ? c : "-",
                  code, r.body);
    ck_assert_ptr_nonnull(apic_str(r.json, "error", "message", NULL));
    if (field) {
        const char *f = apic_str(r.json, "error", "field", NULL);
        ck_assert_msg(f && strcmp(f, field) == 0, "%s %s: field %s, want %s (%s)", method, path,
                      f ? f : "null", field, r.body);
    }
    itest_resp_free(&r);
}

static yajl_val vget(yajl_val v, va_list ap)
{
    const char *k;
    while (v && (k = va_arg(ap, const char *)) != NULL) {
        if (YAJL_IS_ARRAY(v)) {
            size_t i = (size_t)atoi(k);
            v = i < v->u.array.len ? v->u.array.values[i] : NULL;
        } else if (YAJL_IS_OBJECT(v)) {
            yajl_val next = NULL;
            for (size_t i = 0; i < v->u.object.len; i++)
                if (strcmp(v->u.object.keys[i], k) == 0)
                    next = v->u.object.values[i];
            v = next;
        } else {
            v = NULL;
        }
    }
    return v;
}

yajl_val apic_get(yajl_val v, ...)
{
    va_list ap;
    va_start(ap, v);
    yajl_val r = vget(v, ap);
    va_end(ap);
    return r;
}

const char *apic_str(yajl_val v, ...)
{
    va_list ap;
    va_start(ap, v);
    yajl_val r = vget(v, ap);
    va_end(ap);
    return YAJL_IS_STRING(r) ? YAJL_GET_STRING(r) : NULL;
}

double apic_num(yajl_val v, ...)
{
    va_list ap;
    va_start(ap, v);
    yajl_val r = vget(v, ap);
    va_end(ap);
    return YAJL_IS_NUMBER(r) ? YAJL_GET_DOUBLE(r) : NAN;
}

static const char *create(const char *path, const char *body)
{
    static char id[64];
    struct itest_resp r = apic_expect("POST", path, body, 201);
    const char *s = apic_str(r.json, "id", NULL);
    ck_assert_ptr_nonnull(s);
    snprintf(id, sizeof id, "%s", s);
    itest_resp_free(&r);
    return id;
}

const char *apic_project(const char *name)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    return create("/v1/projects", body);
}

const char *apic_scenario(const char *project_id, const char *name)
{
    char body[256];
    snprintf(body, sizeof body, "{\"project_id\":\"%s\",\"name\":\"%s\"}", project_id, name);
    return create("/v1/scenarios", body);
}

const char *apic_script(const char *scenario_id, const char *name, const char *definition)
{
    size_t n = strlen(definition) + 256;
    char *body = malloc(n);
    snprintf(body, n, "{\"scenario_id\":\"%s\",\"name\":\"%s\",\"definition\":%s}", scenario_id, name,
             definition);
    const char *id = create("/v1/scripts", body);
    free(body);
    return id;
}

const char *apic_run(const char *body)
{
    return create("/v1/runs", body);
}

const char *apic_wait_status(const char *run_id, const char *states, int timeout_ms)
{
    static char status[32];
    char path[128];
    snprintf(path, sizeof path, "/v1/runs/%s", run_id);
    uint64_t until = itest_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        struct itest_resp r = apic_expect("GET", path, NULL, 200);
        const char *s = apic_str(r.json, "status", NULL);
        snprintf(status, sizeof status, "%s", s ? s : "");
        itest_resp_free(&r);
        char want[256];
        snprintf(want, sizeof want, "|%s|", states);
        char me[40];
        snprintf(me, sizeof me, "|%s|", status);
        if (strstr(want, me))
            return status;
        ck_assert_msg(itest_now_ms() < until, "run %s: status %s, still not %s after %d ms", run_id, status,
                      states, timeout_ms);
        apic_sleep_ms(50);
    }
}

const char *apic_name(const char *prefix)
{
    static char name[96];
    static int n;
    snprintf(name, sizeof name, "%s-%d-%d", prefix, (int)getpid(), ++n);
    return name;
}

char *apic_def_iterations(uint16_t p, const char *path, int vus, int iterations)
{
    char *s = malloc(1024);
    snprintf(s, 1024,
             "{\"target\":\"http://127.0.0.1:%u\",\"steps\":[{\"name\":\"home\",\"path\":\"%s\"}],"
             "\"load\":{\"executor\":\"per-vu-iterations\",\"vus\":%d,\"iterations\":%d,\"max_duration\":\"60s\"}}",
             p, path, vus, iterations);
    return s;
}

char *apic_def_rate(uint16_t p, const char *path, double rate, const char *duration)
{
    char *s = malloc(1024);
    snprintf(s, 1024,
             "{\"target\":\"http://127.0.0.1:%u\",\"steps\":[{\"name\":\"home\",\"path\":\"%s\"}],"
             "\"load\":{\"executor\":\"constant-arrival-rate\",\"rate\":%g,\"duration\":\"%s\","
             "\"pre_allocated_vus\":10,\"max_vus\":50,\"graceful_stop\":\"2s\"}}",
             p, path, rate, duration);
    return s;
}
