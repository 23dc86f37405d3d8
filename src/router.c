/* router: segment-by-segment matching of paths against route patterns. */
#include "router.h"

#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct router {
    struct route *routes;
    size_t n, cap;
};

struct router *router_new(void)
{
    return xcalloc(1, sizeof(struct router));
}

void router_free(struct router *r)
{
    if (!r)
        return;
    free(r->routes);
    free(r);
}

void router_add(struct router *r, unsigned methods, const char *pattern, void *handler,
                unsigned flags)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->routes = xrealloc(r->routes, r->cap * sizeof *r->routes);
    }
    r->routes[r->n] = (struct route){ methods, pattern, handler, flags, (unsigned)r->n };
    r->n++;
}

/* Split "/a/b/c" into segments (pointers into s, lengths). -1 if too many. */
static int split(const char *s, const char **seg, size_t *len)
{
    int n = 0;
    while (*s == '/')
        s++;
    while (*s) {
        if (n == ROUTER_MAX_SEGMENTS)
            return -1;
        const char *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        seg[n] = s;
        len[n] = l;
        n++;
        s += l;
        while (*s == '/')
            s++;
        /* an empty segment ("//") is collapsed, like most servers do */
    }
    return n;
}

static int match_one(const struct route *rt, const char **ps, const size_t *pl, int pn,
                     struct route_match *m)
{
    const char *ts[ROUTER_MAX_SEGMENTS];
    size_t tl[ROUTER_MAX_SEGMENTS];
    int tn = split(rt->pattern, ts, tl);
    if (tn != pn)
        return 0;
    int np = 0;
    for (int i = 0; i < tn; i++) {
        if (ts[i][0] == ':') {
            if (np == ROUTER_MAX_PARAMS || pl[i] >= sizeof m->params[0].value)
                return 0;
            snprintf(m->params[np].name, sizeof m->params[np].name, "%.*s", (int)tl[i] - 1, ts[i] + 1);
            memcpy(m->params[np].value, ps[i], pl[i]);
            m->params[np].value[pl[i]] = '\0';
            np++;
        } else if (tl[i] != pl[i] || memcmp(ts[i], ps[i], pl[i]) != 0) {
            return 0;
        }
    }
    m->nparams = np;
    return 1;
}

int router_match(const struct router *r, unsigned method, const char *path, struct route_match *m)
{
    memset(m, 0, sizeof *m);
    const char *ps[ROUTER_MAX_SEGMENTS];
    size_t pl[ROUTER_MAX_SEGMENTS];
    if (!path || path[0] != '/')
        return ROUTER_NOT_FOUND;
    int pn = split(path, ps, pl);
    if (pn < 0)
        return ROUTER_NOT_FOUND;
    struct route_match tmp;
    for (size_t i = 0; i < r->n; i++) {
        const struct route *rt = &r->routes[i];
        memset(&tmp, 0, sizeof tmp);
        if (!match_one(rt, ps, pl, pn, &tmp))
            continue;
        if (rt->methods & (1u << method)) {
            *m = tmp;
            m->route = rt;
            return ROUTER_OK;
        }
        m->allowed |= rt->methods;
    }
    return m->allowed ? ROUTER_METHOD : ROUTER_NOT_FOUND;
}

const char *route_param(const struct route_match *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return m->params[i].value;
    return NULL;
}

const struct route *router_route(const struct router *r, size_t i)
{
    return i < r->n ? &r->routes[i] : NULL;
}

size_t router_count(const struct router *r)
{
    return r->n;
}
