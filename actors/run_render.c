/* run_render: a script step as the bytes of its HTTP/1.1 request. */
#include "run_shard_int.h"

#include "xmalloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void shard_render_requests(struct shard *s)
{
    const struct script *sc = s->sc;
    s->req = xcalloc((size_t)sc->nsteps, sizeof *s->req);
    s->req_len = xcalloc((size_t)sc->nsteps, sizeof *s->req_len);
    s->req_flags = xcalloc((size_t)sc->nsteps, sizeof *s->req_flags);
    for (int i = 0; i < sc->nsteps; i++) {
        const struct script_step *st = &sc->steps[i];
        size_t cap = 256 + strlen(st->target) + sc->origins[st->origin].authority[0] +
                     strlen(sc->origins[st->origin].authority) + st->body_len +
                     (sc->user_agent ? strlen(sc->user_agent) : 0);
        for (int h = 0; h < st->nheaders; h++)
            cap += strlen(st->headers[h].name) + strlen(st->headers[h].value) + 4;
        char *b = xmalloc(cap);
        int own_ua = 0; /* the step's own User-Agent replaces the script's */
        for (int h = 0; h < st->nheaders; h++)
            own_ua |= strcasecmp(st->headers[h].name, "User-Agent") == 0;
        int n = snprintf(b, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n", st->method, st->target,
                         sc->origins[st->origin].authority);
        if (!own_ua)
            n += snprintf(b + n, cap - (size_t)n, "User-Agent: %s\r\n",
                          sc->user_agent ? sc->user_agent : "stampede");
        for (int h = 0; h < st->nheaders; h++)
            n += snprintf(b + n, cap - (size_t)n, "%s: %s\r\n", st->headers[h].name, st->headers[h].value);
        if (st->body || strcmp(st->method, "POST") == 0 || strcmp(st->method, "PUT") == 0 ||
            strcmp(st->method, "PATCH") == 0)
            n += snprintf(b + n, cap - (size_t)n, "Content-Length: %zu\r\n", st->body_len);
        n += snprintf(b + n, cap - (size_t)n, "\r\n");
        if (st->body_len) {
            memcpy(b + n, st->body, st->body_len);
            n += (int)st->body_len;
        }
        s->req[i] = b;
        s->req_len[i] = (size_t)n;
        s->req_flags[i] = strcmp(st->method, "HEAD") == 0 ? HTTP_PARSE_HEAD : 0;
    }
}
