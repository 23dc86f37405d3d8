/* run_render: a script step as the bytes of its HTTP/1.1 request — once,
 * when nothing in it varies, or per request from its compiled templates
 * into the VU's own buffer (no allocation once the buffer has grown). */
#include "run_shard_int.h"

#include "xmalloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int sends_length(const struct script_step *st)
{
    return st->body || strcmp(st->method, "POST") == 0 || strcmp(st->method, "PUT") == 0 ||
           strcmp(st->method, "PATCH") == 0;
}

static void lit(struct tmpl *t, const char *s)
{
    tmpl_append_lit(t, s, strlen(s));
}

void shard_render_requests(struct shard *s)
{
    const struct script *sc = s->sc;
    int n = sc->nsteps;
    s->req = xcalloc((size_t)n, sizeof *s->req);
    s->req_len = xcalloc((size_t)n, sizeof *s->req_len);
    s->req_flags = xcalloc((size_t)n, sizeof *s->req_flags);
    s->req_t = xcalloc((size_t)n, sizeof *s->req_t);
    s->req_body = xcalloc((size_t)n, sizeof *s->req_body);
    for (int i = 0; i < n; i++) {
        const struct script_step *st = &sc->steps[i];
        struct tmpl *t = &s->req_t[i];
        int own_ua = 0; /* the step's own User-Agent replaces the script's */
        for (int h = 0; h < st->nheaders; h++)
            own_ua |= strcasecmp(st->headers[h].name, "User-Agent") == 0;
        lit(t, st->method);
        lit(t, " ");
        tmpl_append_tmpl(t, &st->target_t);
        lit(t, " HTTP/1.1\r\nHost: ");
        lit(t, sc->origins[st->origin].authority);
        lit(t, "\r\n");
        if (!own_ua) {
            lit(t, "User-Agent: ");
            lit(t, sc->user_agent ? sc->user_agent : "stampede");
            lit(t, "\r\n");
        }
        for (int h = 0; h < st->nheaders; h++) {
            lit(t, st->headers[h].name);
            lit(t, ": ");
            tmpl_append_tmpl(t, &st->header_t[h]);
            lit(t, "\r\n");
        }
        int generated = sc->telemetry && i < sc->nmain; /* telemetry documents */
        if (generated) {
            /* the body and its length come per request (shard_render) */
        } else if (st->body_t.dynamic) {
            s->req_body[i] = &st->body_t; /* its length is known once rendered */
        } else {
            if (sends_length(st)) {
                char cl[48];
                snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", st->body_len);
                lit(t, cl);
            }
            lit(t, "\r\n");
            if (st->body_len)
                tmpl_append_lit(t, st->body, st->body_len);
        }
        size_t len;
        const char *bytes = tmpl_static(t, &len);
        if (bytes && !s->req_body[i] && !generated) {
            s->req[i] = xmalloc(len + 1);
            memcpy(s->req[i], bytes, len + 1);
            s->req_len[i] = len;
            tmpl_deinit(t);
        }
        s->req_flags[i] = strcmp(st->method, "HEAD") == 0 ? HTTP_PARSE_HEAD : 0;
    }
}

const char *shard_render(struct shard *s, struct vu *v, int step, size_t *len)
{
    if (s->req[step]) {
        *len = s->req_len[step];
        return s->req[step];
    }
    struct tmpl_ctx c = {
        .rng = s->rng, .vu = v->num, .iteration = v->iterations, .vars = v->vars, .nvars = s->sc->vars.n,
    };
    sbuf_reset(&v->out);
    tmpl_render(&s->req_t[step], &c, &v->out);
    const struct tmpl *body = s->req_body[step];
    const struct script_telemetry *tel = s->sc->telemetry;
    if (tel && step < s->sc->nmain) {
        /* documents owed to this signal, fractions carried to its next request */
        struct tstream *ts = &s->ts[step];
        ts->acc += ts->per_post;
        int n = (int)(ts->acc + 1e-9);
        if (n < 1)
            n = 1;
        ts->acc -= n;
        v->ndocs = n;
        sbuf_reset(&s->scratch);
        telemetry_body(tel, step, n, s->rng, &s->scratch);
        char cl[48];
        int k = snprintf(cl, sizeof cl, "Content-Length: %zu\r\n\r\n", s->scratch.len);
        sbuf_add(&v->out, cl, (size_t)k);
        sbuf_add(&v->out, s->scratch.s, s->scratch.len);
    } else if (body) {
        sbuf_reset(&s->scratch);
        tmpl_render(body, &c, &s->scratch);
        char cl[48];
        int k = snprintf(cl, sizeof cl, "Content-Length: %zu\r\n\r\n", s->scratch.len);
        sbuf_add(&v->out, cl, (size_t)k);
        sbuf_add(&v->out, s->scratch.s, s->scratch.len);
    }
    *len = v->out.len;
    return v->out.s;
}

void shard_render_free(struct shard *s)
{
    for (int i = 0; s->req && i < s->nsteps; i++) {
        free(s->req[i]);
        tmpl_deinit(&s->req_t[i]);
    }
    free(s->req);
    free(s->req_len);
    free(s->req_flags);
    free(s->req_t);
    free(s->req_body);
    sbuf_deinit(&s->scratch);
}
