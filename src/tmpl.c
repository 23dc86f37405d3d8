/* tmpl: compiling {{...}} placeholders and rendering them per request. */
#include "tmpl.h"

#include "xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MAX_RANDOM_STRING 65536
#define MAX_NAME 64

/* ---- symbols ---- */

void tmpl_syms_deinit(struct tmpl_syms *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    s->names = NULL;
    s->n = s->cap = 0;
}

int tmpl_syms_find(const struct tmpl_syms *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return i;
    return -1;
}

int tmpl_syms_intern(struct tmpl_syms *s, const char *name, size_t len)
{
    for (int i = 0; i < s->n; i++)
        if (strlen(s->names[i]) == len && memcmp(s->names[i], name, len) == 0)
            return i;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->names = xrealloc(s->names, (size_t)s->cap * sizeof *s->names);
    }
    s->names[s->n] = xstrndup(name, len);
    return s->n++;
}

static const char *const builtins[] = { "uuid", "timestamp", "iso_time", "random_int", "random_string",
                                        "vu", "iteration", "env", "raw", NULL };

int tmpl_is_builtin(const char *name)
{
    for (const char *const *b = builtins; *b; b++)
        if (strcmp(*b, name) == 0)
            return 1;
    return 0;
}

/* ---- building ---- */

static struct tmpl_seg *push_seg(struct tmpl *t, enum tmpl_op op, enum tmpl_enc enc)
{
    if (t->nsegs == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 4;
        t->segs = xrealloc(t->segs, (size_t)t->cap * sizeof *t->segs);
    }
    struct tmpl_seg *g = &t->segs[t->nsegs++];
    memset(g, 0, sizeof *g);
    g->op = (uint8_t)op;
    g->enc = (uint8_t)enc;
    g->var = -1;
    if (op != TMPL_LIT)
        t->dynamic = 1;
    return g;
}

void tmpl_append_lit(struct tmpl *t, const char *s, size_t len)
{
    if (!len)
        return;
    if (t->text_len + len + 1 > t->text_cap) {
        while (t->text_len + len + 1 > t->text_cap)
            t->text_cap = t->text_cap * 2 + 64;
        t->text = xrealloc(t->text, t->text_cap);
    }
    memcpy(t->text + t->text_len, s, len);
    /* extend the previous literal when it ends where this one starts */
    struct tmpl_seg *last = t->nsegs ? &t->segs[t->nsegs - 1] : NULL;
    if (last && last->op == TMPL_LIT && last->off + last->len == t->text_len) {
        last->len += (uint32_t)len;
    } else {
        struct tmpl_seg *g = push_seg(t, TMPL_LIT, TMPL_ENC_RAW);
        g->off = (uint32_t)t->text_len;
        g->len = (uint32_t)len;
    }
    t->text_len += len;
    t->text[t->text_len] = '\0';
}

void tmpl_append_tmpl(struct tmpl *t, const struct tmpl *src)
{
    for (int i = 0; i < src->nsegs; i++) {
        const struct tmpl_seg *g = &src->segs[i];
        if (g->op == TMPL_LIT) {
            tmpl_append_lit(t, src->text + g->off, g->len);
        } else {
            struct tmpl_seg *d = push_seg(t, (enum tmpl_op)g->op, (enum tmpl_enc)g->enc);
            *d = *g;
        }
    }
}

void tmpl_deinit(struct tmpl *t)
{
    free(t->text);
    free(t->segs);
    memset(t, 0, sizeof *t);
}

void tmpl_each_var(const struct tmpl *t, void (*fn)(int var, void *arg), void *arg)
{
    for (int i = 0; i < t->nsegs; i++)
        if (t->segs[i].op == TMPL_VAR)
            fn(t->segs[i].var, arg);
}

int tmpl_valid_name(const char *s, size_t n)
{
    if (n == 0 || n > MAX_NAME || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

static int parse_i64(const char *s, size_t n, int64_t *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end || !(isdigit((unsigned char)buf[0]) || buf[0] == '-'))
        return -1;
    *out = v;
    return 0;
}

/* One placeholder: p..p+n is what stands between the braces. */
static int compile_one(struct tmpl *t, const char *p, size_t n, enum tmpl_enc enc, struct tmpl_syms *syms,
                       char *err, size_t errlen)
{
    while (n && *p == ' ')
        p++, n--;
    while (n && p[n - 1] == ' ')
        n--;
    const char *colon = memchr(p, ':', n);
    size_t head = colon ? (size_t)(colon - p) : n;
    const char *arg = colon ? colon + 1 : NULL;
    size_t argn = colon ? n - head - 1 : 0;
#define IS(w) (head == sizeof(w) - 1 && memcmp(p, w, head) == 0)
    static const struct {
        const char *name;
        enum tmpl_op op;
    } simple[] = { { "uuid", TMPL_UUID }, { "timestamp", TMPL_TIMESTAMP }, { "iso_time", TMPL_ISO_TIME },
                   { "vu", TMPL_VU }, { "iteration", TMPL_ITERATION } };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (head == strlen(simple[i].name) && memcmp(p, simple[i].name, head) == 0) {
            if (colon) {
                snprintf(err, errlen, "{{%.*s}}: %s takes no argument", (int)n, p, simple[i].name);
                return -1;
            }
            push_seg(t, simple[i].op, enc);
            return 0;
        }
    }
    if (IS("random_int")) {
        const char *c2 = arg ? memchr(arg, ':', argn) : NULL;
        int64_t a, b;
        if (!c2 || parse_i64(arg, (size_t)(c2 - arg), &a) < 0 ||
            parse_i64(c2 + 1, argn - (size_t)(c2 - arg) - 1, &b) < 0) {
            snprintf(err, errlen, "{{%.*s}}: expected {{random_int:MIN:MAX}} with two integers", (int)n, p);
            return -1;
        }
        if (a > b) {
            snprintf(err, errlen, "{{%.*s}}: the minimum is greater than the maximum", (int)n, p);
            return -1;
        }
        struct tmpl_seg *g = push_seg(t, TMPL_RANDOM_INT, enc);
        g->a = a;
        g->b = b;
        return 0;
    }
    if (IS("random_string")) {
        int64_t len;
        if (!arg || parse_i64(arg, argn, &len) < 0 || len < 1 || len > MAX_RANDOM_STRING) {
            snprintf(err, errlen, "{{%.*s}}: expected {{random_string:N}} with N from 1 to %d", (int)n, p,
                     MAX_RANDOM_STRING);
            return -1;
        }
        push_seg(t, TMPL_RANDOM_STRING, enc)->a = len;
        return 0;
    }
    if (IS("env")) {
        char name[MAX_NAME + 1];
        if (!arg || argn == 0 || argn > MAX_NAME) {
            snprintf(err, errlen, "{{%.*s}}: expected {{env:NAME}}", (int)n, p);
            return -1;
        }
        memcpy(name, arg, argn);
        name[argn] = '\0';
        const char *v = getenv(name);
        if (!v) {
            snprintf(err, errlen, "{{%.*s}}: the environment variable %s is not set", (int)n, p, name);
            return -1;
        }
        /* read once: the value is literal text from here on, still encoded */
        struct tmpl tmp = { 0 };
        tmpl_append_lit(&tmp, v, strlen(v));
        if (enc == TMPL_ENC_RAW) {
            tmpl_append_tmpl(t, &tmp);
        } else {
            struct sbuf b = { 0 };
            struct tmpl_val val = { v, (uint32_t)strlen(v) };
            struct tmpl_seg g = { .op = TMPL_VAR, .enc = (uint8_t)enc, .var = 0 };
            struct tmpl one = { .segs = &g, .nsegs = 1 };
            struct tmpl_ctx c = { .vars = &val, .nvars = 1 };
            tmpl_render(&one, &c, &b);
            tmpl_append_lit(t, b.s ? b.s : "", b.len);
            sbuf_deinit(&b);
        }
        tmpl_deinit(&tmp);
        return 0;
    }
    int raw = IS("raw");
    const char *name = raw ? arg : p;
    size_t nlen = raw ? argn : n;
    if (!name || !tmpl_valid_name(name, nlen)) {
        snprintf(err, errlen, "{{%.*s}}: expected a variable name (letters, digits, _ . -) or a builtin", (int)n,
                 p);
        return -1;
    }
    char nm[MAX_NAME + 1];
    memcpy(nm, name, nlen);
    nm[nlen] = '\0';
    if (tmpl_is_builtin(nm)) {
        snprintf(err, errlen, "{{%.*s}}: %s is a builtin, not a variable", (int)n, p, nm);
        return -1;
    }
    struct tmpl_seg *g = push_seg(t, TMPL_VAR, raw ? (enc == TMPL_ENC_HEADER ? TMPL_ENC_HEADER : TMPL_ENC_RAW) : enc);
    g->var = tmpl_syms_intern(syms, name, nlen);
    return 0;
#undef IS
}

int tmpl_append(struct tmpl *t, const char *s, size_t len, enum tmpl_enc enc, struct tmpl_syms *syms,
                char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len) {
        const char *open = NULL;
        for (size_t k = i; k + 1 < len; k++)
            if (s[k] == '{' && s[k + 1] == '{') {
                open = s + k;
                break;
            }
        if (!open) {
            tmpl_append_lit(t, s + i, len - i);
            return 0;
        }
        tmpl_append_lit(t, s + i, (size_t)(open - (s + i)));
        const char *body = open + 2, *close = NULL;
        for (const char *k = body; k + 1 < s + len; k++)
            if (k[0] == '}' && k[1] == '}') {
                close = k;
                break;
            }
        if (!close) {
            snprintf(err, errlen, "\"{{\" at byte %zu is not closed by \"}}\"", (size_t)(open - s));
            return -1;
        }
        if (memchr(body, '{', (size_t)(close - body))) {
            snprintf(err, errlen, "\"{{\" at byte %zu: placeholders do not nest", (size_t)(open - s));
            return -1;
        }
        if (compile_one(t, body, (size_t)(close - body), enc, syms, err, errlen) < 0)
            return -1;
        i = (size_t)(close + 2 - s);
    }
    return 0;
}

const char *tmpl_static(const struct tmpl *t, size_t *len)
{
    if (t->dynamic)
        return NULL;
    *len = t->text_len;
    return t->text ? t->text : "";
}

/* ---- random ---- */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void tmpl_rng_seed(uint64_t st[4])
{
    if (getrandom(st, 4 * sizeof *st, 0) != (ssize_t)(4 * sizeof *st)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        st[0] = (uint64_t)ts.tv_nsec ^ 0x9e3779b97f4a7c15ull;
        st[1] = (uint64_t)ts.tv_sec * 0xbf58476d1ce4e5b9ull;
        st[2] = (uint64_t)(uintptr_t)st ^ 0x94d049bb133111ebull;
        st[3] = 0x2545f4914f6cdd1dull;
    }
    if (!(st[0] | st[1] | st[2] | st[3]))
        st[0] = 1; /* the one state xoshiro cannot leave */
}

/* xoshiro256** (Blackman and Vigna, public domain algorithm). */
uint64_t tmpl_rng_next(uint64_t st[4])
{
    uint64_t r = rotl(st[1] * 5, 7) * 9, t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl(st[3], 45);
    return r;
}

/* ---- rendering ---- */

static const char hexd[] = "0123456789abcdef";

static void put_encoded(struct sbuf *b, const char *p, size_t n, enum tmpl_enc enc)
{
    char *o = sbuf_reserve(b, enc == TMPL_ENC_JSON ? 6 * n : enc == TMPL_ENC_URL ? 3 * n : n);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (enc) {
        case TMPL_ENC_RAW:
            o[w++] = (char)c;
            break;
        case TMPL_ENC_HEADER:
            o[w++] = (c < 0x20 && c != '\t') || c == 0x7f ? ' ' : (char)c;
            break;
        case TMPL_ENC_URL:
            if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
                o[w++] = (char)c;
            } else {
                o[w++] = '%';
                o[w++] = "0123456789ABCDEF"[c >> 4];
                o[w++] = "0123456789ABCDEF"[c & 15];
            }
            break;
        case TMPL_ENC_JSON:
            if (c == '"' || c == '\\') {
                o[w++] = '\\';
                o[w++] = (char)c;
            } else if (c == '\n') {
                o[w++] = '\\';
                o[w++] = 'n';
            } else if (c == '\r') {
                o[w++] = '\\';
                o[w++] = 'r';
            } else if (c == '\t') {
                o[w++] = '\\';
                o[w++] = 't';
            } else if (c < 0x20 || c == 0x7f) {
                memcpy(o + w, "\\u00", 4);
                o[w + 4] = hexd[c >> 4];
                o[w + 5] = hexd[c & 15];
                w += 6;
            } else {
                o[w++] = (char)c;
            }
            break;
        }
    }
    sbuf_commit(b, w);
}

static void put_u64(struct sbuf *b, uint64_t v, enum tmpl_enc enc)
{
    char buf[24];
    int n = 0;
    do {
        buf[sizeof buf - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_encoded(b, buf + sizeof buf - n, (size_t)n, enc);
}

static void put_uuid(struct sbuf *b, uint64_t *rng)
{
    uint64_t hi = tmpl_rng_next(rng), lo = tmpl_rng_next(rng);
    hi = (hi & ~0xf000ull) | 0x4000ull;               /* version 4 */
    lo = (lo & 0x3fffffffffffffffull) | (1ull << 63); /* variant 10 */
    char *o = sbuf_reserve(b, 36);
    int w = 0;
    for (int i = 0; i < 32; i++) {
        uint64_t word = i < 16 ? hi : lo;
        int shift = 60 - 4 * (i % 16);
        if (i == 8 || i == 12 || i == 16 || i == 20)
            o[w++] = '-';
        o[w++] = hexd[(word >> shift) & 15];
    }
    sbuf_commit(b, 36);
}

void tmpl_render(const struct tmpl *t, const struct tmpl_ctx *c, struct sbuf *b)
{
    for (int i = 0; i < t->nsegs; i++) {
        const struct tmpl_seg *g = &t->segs[i];
        enum tmpl_enc enc = (enum tmpl_enc)g->enc;
        switch ((enum tmpl_op)g->op) {
        case TMPL_LIT:
            sbuf_add(b, t->text + g->off, g->len);
            break;
        case TMPL_VAR:
            if (g->var >= 0 && g->var < c->nvars && c->vars[g->var].p)
                put_encoded(b, c->vars[g->var].p, c->vars[g->var].len, enc);
            break;
        case TMPL_UUID:
            put_uuid(b, c->rng);
            break;
        case TMPL_TIMESTAMP: {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            put_u64(b, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u, enc);
            break;
        }
        case TMPL_ISO_TIME: {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            struct tm tm;
            gmtime_r(&ts.tv_sec, &tm);
            char buf[40];
            int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
            put_encoded(b, buf, (size_t)n, enc);
            break;
        }
        case TMPL_RANDOM_INT: {
            uint64_t span = (uint64_t)g->b - (uint64_t)g->a + 1; /* 0: the whole 64-bit range */
            uint64_t r = tmpl_rng_next(c->rng);
            uint64_t off = span ? (uint64_t)(((unsigned __int128)r * span) >> 64) : r;
            int64_t v = (int64_t)((uint64_t)g->a + off);
            if (v < 0) {
                put_encoded(b, "-", 1, enc);
                put_u64(b, (uint64_t)0 - (uint64_t)v, enc);
            } else {
                put_u64(b, (uint64_t)v, enc);
            }
            break;
        }
        case TMPL_RANDOM_STRING: {
            static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            size_t n = (size_t)g->a;
            char *o = sbuf_reserve(b, n);
            uint64_t r = 0;
            for (size_t k = 0; k < n; k++) {
                if (k % 10 == 0)
                    r = tmpl_rng_next(c->rng);
                o[k] = alnum[r % 62];
                r /= 62;
            }
            sbuf_commit(b, n);
            break;
        }
        case TMPL_VU:
            put_u64(b, c->vu, enc);
            break;
        case TMPL_ITERATION:
            put_u64(b, c->iteration, enc);
            break;
        }
    }
}
