/* script_tmpl: compiling the {{...}} templates of a script's steps, and
 * refusing a variable nothing can set, with the field that names it. */
#include "script.h"

#include "dataset.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Edit distance, for "did you mean". Short names only. */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

struct check {
    const struct script *s;
    const int *settable; /* by symbol index */
    const char *field;
    struct json_err *e;
    int failed;
};

static void check_var(int var, void *arg)
{
    struct check *c = arg;
    if (c->failed || c->settable[var])
        return;
    const char *name = c->s->vars.names[var];
    const char *best = NULL;
    int bd = 3;
    for (int i = 0; i < c->s->vars.n; i++) {
        if (!c->settable[i])
            continue;
        int d = distance(name, c->s->vars.names[i]);
        if (d < bd) {
            bd = d;
            best = c->s->vars.names[i];
        }
    }
    if (best)
        json_fail(c->e, c->field, "unknown variable \"%s\" (did you mean \"%s\"?)", name, best);
    else
        json_fail(c->e, c->field, "unknown variable \"%s\" (no dataset column or extraction sets it)", name);
    c->failed = 1;
}

int script_parse_extract(struct script *s, struct script_step *st, yajl_val step, const char *sp,
                         struct json_err *e)
{
    char field[256], p[256];
    json_path(field, sizeof field, sp, "extract");
    yajl_val x = json_get(step, "extract");
    if (!x)
        return 0;
    if (!YAJL_IS_OBJECT(x))
        return json_fail(e, field, "expected an object of variable: extractor, got %s", json_type_name(x));
    if (x->u.object.len > 32)
        return json_fail(e, field, "at most 32 extractions per step");
    st->extract = xcalloc(x->u.object.len ? x->u.object.len : 1, sizeof *st->extract);
    for (size_t i = 0; i < x->u.object.len; i++) {
        const char *name = x->u.object.keys[i];
        json_path(p, sizeof p, field, name);
        struct extractor *ex = &st->extract[st->nextract];
        if (extract_compile(ex, x->u.object.values[i], p, e) < 0) {
            extract_free(ex);
            return -1;
        }
        st->nextract++;
        if (!tmpl_valid_name(name, strlen(name)))
            return json_fail(e, p, "\"%.64s\" cannot name a variable (a letter or _, then letters, digits, _ . -)",
                             name);
        if (tmpl_is_builtin(name))
            return json_fail(e, p, "%s is a builtin, not a variable", name);
        ex->var = tmpl_syms_intern(&s->vars, name, strlen(name));
    }
    return 0;
}

static void note_use(int var, void *arg)
{
    struct script_step *st = arg;
    for (int i = 0; i < st->nuses; i++)
        if (st->uses[i] == var)
            return;
    st->uses = xrealloc(st->uses, (size_t)(st->nuses + 1) * sizeof *st->uses);
    st->uses[st->nuses++] = var;
}

static int compile_field(struct script *s, struct tmpl *t, const char *text, size_t len, enum tmpl_enc enc,
                         const char *field, struct json_err *e)
{
    char err[200];
    if (tmpl_append(t, text, len, enc, &s->vars, err, sizeof err) < 0)
        return json_fail(e, field, "%s", err);
    s->dynamic |= t->dynamic;
    return 0;
}

int script_compile_templates(struct script *s, struct json_err *e)
{
    char field[256], hp[192];
    for (int i = 0; i < s->nsteps; i++) {
        struct script_step *st = &s->steps[i];
        char sp[32];
        script_step_path(s, i, sp, sizeof sp);
        snprintf(field, sizeof field, "%s.%s", sp, st->url_given ? "url" : "path");
        if (compile_field(s, &st->target_t, st->target, strlen(st->target), TMPL_ENC_URL, field, e) < 0)
            return -1;
        st->header_t = xcalloc((size_t)(st->nheaders ? st->nheaders : 1), sizeof *st->header_t);
        for (int h = 0; h < st->nheaders; h++) {
            snprintf(hp, sizeof hp, "%s.headers", sp);
            json_path(field, sizeof field, hp, st->headers[h].name);
            if (compile_field(s, &st->header_t[h], st->headers[h].value, strlen(st->headers[h].value),
                              TMPL_ENC_HEADER, field, e) < 0)
                return -1;
        }
        snprintf(field, sizeof field, "%s.body", sp);
        if (st->body && compile_field(s, &st->body_t, st->body, st->body_len,
                                      st->body_json ? TMPL_ENC_JSON : TMPL_ENC_RAW, field, e) < 0)
            return -1;
        tmpl_each_var(&st->target_t, note_use, st);
        for (int h = 0; h < st->nheaders; h++)
            tmpl_each_var(&st->header_t[h], note_use, st);
        tmpl_each_var(&st->body_t, note_use, st);
    }
    /* Every variable read must be set by something: a dataset column or
     * an extraction. */
    int *settable = xcalloc((size_t)(s->vars.n ? s->vars.n : 1), sizeof *settable);
    for (int c = 0; s->dataset && c < s->dataset->rows->ncols; c++)
        settable[s->dataset->col_var[c]] = 1;
    for (int i = 0; i < s->nsteps; i++) /* a value extracted persists: any step may set it */
        for (int k = 0; k < s->steps[i].nextract; k++)
            settable[s->steps[i].extract[k].var] = 1;
    struct check c = { .s = s, .settable = settable, .e = e };
    for (int i = 0; i < s->nsteps && !c.failed; i++) {
        struct script_step *st = &s->steps[i];
        char sp[32];
        script_step_path(s, i, sp, sizeof sp);
        snprintf(field, sizeof field, "%s.%s", sp, st->url_given ? "url" : "path");
        c.field = field;
        tmpl_each_var(&st->target_t, check_var, &c);
        for (int h = 0; h < st->nheaders && !c.failed; h++) {
            snprintf(hp, sizeof hp, "%s.headers", sp);
            json_path(field, sizeof field, hp, st->headers[h].name);
            tmpl_each_var(&st->header_t[h], check_var, &c);
        }
        snprintf(field, sizeof field, "%s.body", sp);
        if (!c.failed)
            tmpl_each_var(&st->body_t, check_var, &c);
    }
    free(settable);
    return c.failed ? -1 : 0;
}
