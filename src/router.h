/* router: match a method and path against patterns like
 * "/v1/projects/:id". Methods are small integers (bit positions in a mask),
 * so the router knows nothing of the HTTP library. A path that matches a
 * pattern under another method yields ROUTER_METHOD with the allowed mask,
 * so the caller can answer 405 with an Allow header. */
#ifndef STAMPEDE_ROUTER_H
#define STAMPEDE_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_PARAMS 4
#define ROUTER_MAX_SEGMENTS 12

enum { ROUTER_OK, ROUTER_NOT_FOUND, ROUTER_METHOD };

struct route {
    unsigned methods;    /* mask of 1u << method */
    const char *pattern; /* borrowed: a string literal */
    void *handler;
    unsigned flags;      /* caller-defined */
    unsigned index;      /* position in the router: 0, 1, ... */
};

struct route_match {
    const struct route *route;
    unsigned allowed; /* ROUTER_METHOD: methods the path accepts */
    int nparams;
    struct {
        char name[24];
        char value[128];
    } params[ROUTER_MAX_PARAMS];
};

struct router;

struct router *router_new(void);
void router_free(struct router *r);
/* Patterns: absolute, '/'-separated; ":name" matches one non-empty segment. */
void router_add(struct router *r, unsigned methods, const char *pattern, void *handler,
                unsigned flags);
/* path is the URL path without the query. A trailing '/' is ignored. */
int router_match(const struct router *r, unsigned method, const char *path, struct route_match *m);
/* The value of a named parameter of a match, or NULL. */
const char *route_param(const struct route_match *m, const char *name);
/* Iterate the routes (for docs and checks). NULL after the last. */
const struct route *router_route(const struct router *r, size_t i);
size_t router_count(const struct router *r);

#endif
