/* config: defaults, file, environment and flags, applied in that order so
 * the later source wins. One table describes every setting. */
#include "config.h"

#include "duration.h"
#include "ssrf.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { T_LISTEN, T_STR, T_OPTSTR, T_INT, T_LEVEL, T_SIZE, T_DURATION, T_CIDRS };

struct opt {
    const char *key;  /* file key; the flag is --key with '_' -> '-' */
    const char *env;
    enum opt_type type;
    size_t off;
    int min, max;     /* T_INT bounds */
    const char *def;
    const char *help;
};

#define OFF(f) offsetof(struct config, f)

static const struct opt opts[] = {
    { "listen", "STAMPEDE_LISTEN", T_LISTEN, OFF(listen_host), 0, 0, "127.0.0.1:8420",
      "address:port of the REST API (port 0 = ephemeral)" },
    { "pg_dsn", "STAMPEDE_PG_DSN", T_STR, OFF(pg_dsn), 0, 0,
      "host=127.0.0.1 port=54329 dbname=stampede user=stampede",
      "PostgreSQL connection string (libpq conninfo or URI)" },
    { "redis_url", "STAMPEDE_REDIS_URL", T_STR, OFF(redis_url), 0, 0, "redis://127.0.0.1:63799",
      "Redis for metrics pub/sub" },
    { "loops", "STAMPEDE_LOOPS", T_INT, OFF(loops), 0, 256, "0",
      "reactor threads (0 = one per online core)" },
    { "worker_nice", "STAMPEDE_WORKER_NICE", T_INT, OFF(worker_nice), 0, 19, "10",
      "nice value of the worker loops that run load, so the API keeps the CPU it needs" },
    { "log_level", "STAMPEDE_LOG_LEVEL", T_LEVEL, OFF(log_level), 0, 0, "info",
      "error, warn, info, debug or trace" },
    { "max_body", "STAMPEDE_MAX_BODY", T_SIZE, OFF(max_body_bytes), 0, 0, "1MiB",
      "largest request body the API accepts" },
    { "pg_pool", "STAMPEDE_PG_POOL", T_INT, OFF(pg_pool), 1, 64, "2",
      "PostgreSQL connections kept by the store" },
    { "pg_timeout", "STAMPEDE_PG_TIMEOUT", T_DURATION, OFF(pg_timeout_us), 0, 0, "5s",
      "deadline of one database query" },
    { "request_timeout", "STAMPEDE_REQUEST_TIMEOUT", T_DURATION, OFF(request_timeout_us), 0, 0,
      "10s", "deadline of an API request waiting on another actor" },
    { "channel_prefix", "STAMPEDE_CHANNEL_PREFIX", T_STR, OFF(channel_prefix), 0, 0, "stampede",
      "prefix of the Redis pub/sub channels" },
    { "live_listen", "STAMPEDE_LIVE_LISTEN", T_LISTEN, OFF(live_host), 0, 0, "127.0.0.1:8421",
      "address:port of the live WebSocket gateway (path /v1/live; port 0 = ephemeral)" },
    { "live_threads", "STAMPEDE_LIVE_THREADS", T_INT, OFF(live_threads), 1, 16, "2",
      "service threads of the WebSocket gateway (connections are spread over them)" },
    { "live_ping", "STAMPEDE_LIVE_PING", T_DURATION, OFF(live_ping_us), 0, 0, "20s",
      "a live client silent this long is pinged; one that does not answer within as long again is closed" },
    { "dashboard_dir", "STAMPEDE_DASHBOARD_DIR", T_OPTSTR, OFF(dashboard_dir), 0, 0, "",
      "folder of the dashboard's files, served at / (empty: the build's contrib/dashboard)" },
    { "api_token", "STAMPEDE_API_TOKEN", T_OPTSTR, OFF(api_token), 0, 0, "",
      "when set, every /v1 route needs Authorization: Bearer <token> (/healthz, /metrics stay open)" },
    { "collect_allow", "STAMPEDE_COLLECT_ALLOW", T_CIDRS, OFF(collect_allow), 0, 0, "",
      "CIDRs that dataset collection may reach although they are loopback, private, link-local or "
      "metadata addresses (e.g. 127.0.0.1/32); empty: none" },
};

#define NOPTS (sizeof opts / sizeof opts[0])

/* "address:port" into host (64 bytes) and *port. */
static int set_listen(char *out_host, uint16_t *out_port, const char *v, char *err, size_t errlen)
{
    char host[64];
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v) {
        snprintf(err, errlen, "expected ADDRESS:PORT like 127.0.0.1:8420, got '%s'", v);
        return -1;
    }
    size_t hl = (size_t)(colon - v);
    if (v[0] == '[' && hl >= 2 && v[hl - 1] == ']') { /* [::1]:8420 */
        v++;
        hl -= 2;
    }
    if (hl >= sizeof host) {
        snprintf(err, errlen, "address too long");
        return -1;
    }
    memcpy(host, v, hl);
    host[hl] = '\0';
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1) {
        snprintf(err, errlen, "'%s' is not a numeric IP address", host);
        return -1;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535) {
        snprintf(err, errlen, "port must be 0..65535, got '%s'", colon + 1);
        return -1;
    }
    snprintf(out_host, 64, "%s", host);
    *out_port = (uint16_t)port;
    return 0;
}

static int set_opt(struct config *c, const struct opt *o, const char *v, char *err, size_t errlen)
{
    char *p = (char *)c + o->off;
    switch (o->type) {
    case T_LISTEN:
        return o->off == OFF(live_host) ? set_listen(c->live_host, &c->live_port, v, err, errlen)
                                         : set_listen(c->listen_host, &c->listen_port, v, err, errlen);
    case T_STR:
    case T_OPTSTR:
        if (!*v && o->type == T_STR) {
            snprintf(err, errlen, "must not be empty");
            return -1;
        }
        free(*(char **)p);
        *(char **)p = xstrdup(v);
        return 0;
    case T_INT: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || !*v || *end || n < o->min || n > o->max) {
            snprintf(err, errlen, "expected an integer %d..%d, got '%s'", o->min, o->max, v);
            return -1;
        }
        *(int *)p = (int)n;
        return 0;
    }
    case T_CIDRS: {
        struct ssrf_allow a;
        if (ssrf_allow_parse(v, &a, err, errlen) < 0)
            return -1;
        ssrf_allow_free(&a);
        free(*(char **)p);
        *(char **)p = xstrdup(v);
        return 0;
    }
    case T_LEVEL:
        if (log_level_parse(v, (enum log_level *)p) < 0) {
            snprintf(err, errlen, "expected error|warn|info|debug|trace, got '%s'", v);
            return -1;
        }
        return 0;
    case T_SIZE:
        if (size_parse(v, (uint64_t *)p) < 0 || *(uint64_t *)p == 0) {
            snprintf(err, errlen, "expected a size like 1MiB or 65536, got '%s'", v);
            return -1;
        }
        return 0;
    case T_DURATION:
        if (duration_parse(v, (uint64_t *)p) < 0 || *(uint64_t *)p == 0) {
            snprintf(err, errlen, "expected a duration like 5s or 500ms, got '%s'", v);
            return -1;
        }
        return 0;
    }
    return -1;
}

static const struct opt *find_key(const char *key)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].key, key) == 0)
            return &opts[i];
    return NULL;
}

/* "--pg-dsn" -> the option whose key is "pg_dsn". */
static const struct opt *find_flag(const char *flag, size_t len)
{
    char key[64];
    if (len >= sizeof key)
        return NULL;
    for (size_t i = 0; i < len; i++)
        key[i] = flag[i] == '-' ? '_' : flag[i];
    key[len] = '\0';
    return find_key(key);
}

void config_init(struct config *c)
{
    memset(c, 0, sizeof *c);
    char err[256];
    for (size_t i = 0; i < NOPTS; i++)
        if (set_opt(c, &opts[i], opts[i].def, err, sizeof err) < 0)
            abort(); /* a bad default is a programmer error */
}

void config_deinit(struct config *c)
{
    free(c->pg_dsn);
    free(c->redis_url);
    free(c->channel_prefix);
    free(c->api_token);
    free(c->dashboard_dir);
    free(c->collect_allow);
    free(c->config_path);
    memset(c, 0, sizeof *c);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        /* Allow "quoted values" so a DSN with spaces reads naturally. */
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        const struct opt *o = find_key(key);
        if (!o) {
            snprintf(err, errlen, "%s:%d: unknown key '%s'", path, lineno, key);
            rc = -1;
            break;
        }
        char why[200];
        if (set_opt(c, o, val, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, key, why);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* Split "--key=value" / "--key value" into name and value; 0, or -1 when
 * the value is missing. */
static int flag_value(int argc, char **argv, int *i, const char **name, size_t *nlen,
                      const char **val)
{
    const char *a = argv[*i] + 2;
    const char *eq = strchr(a, '=');
    *name = a;
    if (eq) {
        *nlen = (size_t)(eq - a);
        *val = eq + 1;
        return 0;
    }
    *nlen = strlen(a);
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 0;
}

int config_resolve(struct config *c, int argc, char **argv, config_getenv_cb env, char *err,
                   size_t errlen)
{
    char why[200];
    /* Pass 1: find the config file (flag beats environment). */
    const char *path = env ? env("STAMPEDE_CONFIG") : NULL;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--config", 8) == 0 && (argv[i][8] == '\0' || argv[i][8] == '=')) {
            const char *name, *val;
            size_t nl;
            if (flag_value(argc, argv, &i, &name, &nl, &val) < 0) {
                snprintf(err, errlen, "--config: missing value");
                return -1;
            }
            path = val;
        }
    }
    if (path && *path) {
        if (load_file(c, path, err, errlen) < 0)
            return -1;
        free(c->config_path);
        c->config_path = xstrdup(path);
    }
    /* Pass 2: environment. */
    for (size_t i = 0; env && i < NOPTS; i++) {
        const char *v = env(opts[i].env);
        if (v && set_opt(c, &opts[i], v, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: %s", opts[i].env, why);
            return -1;
        }
    }
    /* Pass 3: flags. */
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s'", argv[i]);
            return -1;
        }
        const char *name, *val;
        size_t nl;
        const char *flag = argv[i];
        if (flag_value(argc, argv, &i, &name, &nl, &val) < 0) {
            snprintf(err, errlen, "%s: missing value", flag);
            return -1;
        }
        if (nl == 6 && strncmp(name, "config", 6) == 0)
            continue;
        const struct opt *o = find_flag(name, nl);
        if (!o) {
            snprintf(err, errlen, "unknown option '--%.*s'", (int)nl, name);
            return -1;
        }
        if (set_opt(c, o, val, why, sizeof why) < 0) {
            snprintf(err, errlen, "--%.*s: %s", (int)nl, name, why);
            return -1;
        }
    }
    return 0;
}

void config_usage(FILE *out)
{
    fprintf(out, "  %-22s %-26s %s\n", "--config PATH", "STAMPEDE_CONFIG", "settings file (key = value)");
    for (size_t i = 0; i < NOPTS; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", opts[i].key);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  %-22s %-26s %s [%s]\n", flag, opts[i].env, opts[i].help, opts[i].def);
    }
}
