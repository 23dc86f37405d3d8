/* fuzz_tmpl: the template compiler and renderer (src/tmpl.c), as scripts
 * give them: "/users/{{id}}?q={{uuid}}". Input: a byte choosing the
 * encoding, then the template text. Oracles: a refused template says why
 * and leaves nothing behind; text without "{{" compiles static to itself;
 * rendering twice from the same state gives the same bytes (when no clock
 * is read); variables holding quotes, backslashes, controls and spaces are
 * encoded for where they land — inside a JSON string the result parses,
 * in a URL only unreserved characters and %XX remain, in a header no CR or
 * LF — whenever the literal text itself is fit for that place. */
#include "fuzz.h"

#include "json.h"
#include "tmpl.h"

#include <ctype.h>

/* Values a variable may hold: the awkward ones. */
static const char *const VALUES[] = {
    "", "plain", "a\"quote", "back\\slash", "new\nline\r\n", "tab\tand\x01\x1f",
    "sp ace/?#&=+%", "caf\xc3\xa9", "}}{{",
};
#define NVALUES (sizeof VALUES / sizeof VALUES[0])

static int url_unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* 1 if literal bytes are fit for enc and no {{raw:}} opts out, so the oracle may judge the output. */
static int literal_fit(const struct tmpl *t, enum tmpl_enc enc)
{
    for (int i = 0; i < t->nsegs; i++) {
        const struct tmpl_seg *s = &t->segs[i];
        if (s->op != TMPL_LIT) {
            if (s->enc != enc) /* {{raw:name}} opts out */
                return 0;
            continue;
        }
        for (uint32_t k = 0; k < s->len; k++) {
            unsigned char c = (unsigned char)t->text[s->off + k];
            if (enc == TMPL_ENC_JSON && (c == '"' || c == '\\' || c < 0x20 || c >= 0x80))
                return 0;
            if (enc == TMPL_ENC_URL && !url_unreserved(c))
                return 0;
            if (enc == TMPL_ENC_HEADER && (c == '\r' || c == '\n'))
                return 0;
        }
    }
    return 1;
}

static int reads_clock(const struct tmpl *t)
{
    for (int i = 0; i < t->nsegs; i++)
        if (t->segs[i].op == TMPL_TIMESTAMP || t->segs[i].op == TMPL_ISO_TIME)
            return 1;
    return 0;
}

static void check_output(const struct tmpl *t, enum tmpl_enc enc, const struct sbuf *out)
{
    const char *p = out->s ? out->s : "";
    size_t n = out->len;
    if (!literal_fit(t, enc))
        return;
    if (enc == TMPL_ENC_JSON) {
        /* the JSON parser refuses \u0000, which no encoding produces */
        char *doc = malloc(n + 3);
        FUZZ_CHECK(doc);
        doc[0] = '"';
        memcpy(doc + 1, p, n);
        doc[n + 1] = '"';
        doc[n + 2] = '\0';
        struct json_err e;
        yajl_val v = json_parse(doc, n + 2, JSON_MAX_DEPTH, &e);
        if (!v)
            fprintf(stderr, "not JSON: %s (%s)\n", doc, e.message);
        FUZZ_CHECK(v && YAJL_IS_STRING(v));
        yajl_tree_free(v);
        free(doc);
    } else if (enc == TMPL_ENC_URL) {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c == '%') {
                FUZZ_CHECK(i + 2 < n);
                FUZZ_CHECK(isxdigit((unsigned char)p[i + 1]) && isxdigit((unsigned char)p[i + 2]));
                i += 2;
            } else {
                FUZZ_CHECK(url_unreserved(c));
            }
        }
    } else if (enc == TMPL_ENC_HEADER) {
        FUZZ_CHECK(!memchr(p, '\r', n) && !memchr(p, '\n', n));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum tmpl_enc enc = (enum tmpl_enc)(data[0] % 4);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    struct tmpl t = {0};
    struct tmpl_syms syms = {0};
    char err[256] = "";
    if (tmpl_append(&t, text, len, enc, &syms, err, sizeof err) < 0) {
        FUZZ_CHECK(err[0] != '\0');
        tmpl_deinit(&t);
        tmpl_syms_deinit(&syms);
        return 0;
    }
    /* names interned are valid and found again */
    for (int i = 0; i < syms.n; i++) {
        FUZZ_CHECK(tmpl_valid_name(syms.names[i], strlen(syms.names[i])));
        FUZZ_CHECK(tmpl_syms_find(&syms, syms.names[i]) == i);
    }
    for (int i = 0; i < t.nsegs; i++) {
        const struct tmpl_seg *s = &t.segs[i];
        FUZZ_CHECK(s->op <= TMPL_ITERATION);
        if (s->op == TMPL_LIT)
            FUZZ_CHECK((size_t)s->off + s->len <= t.text_len);
        if (s->op == TMPL_VAR)
            FUZZ_CHECK(s->var >= 0 && s->var < syms.n);
        if (s->op == TMPL_RANDOM_INT)
            FUZZ_CHECK(s->a <= s->b);
    }
    if (!memmem(text, len, "{{", 2)) {
        size_t sl = 0;
        const char *st = tmpl_static(&t, &sl);
        FUZZ_CHECK(!t.dynamic && st && sl == len && memcmp(st, text, len) == 0);
    }

    struct tmpl_val vals[8];
    int nv = syms.n < 8 ? syms.n : 8;
    uint64_t pick = fuzz_fnv(FUZZ_FNV_INIT, data, size);
    for (int i = 0; i < nv; i++) {
        const char *v = VALUES[(pick >> (i * 4)) % NVALUES];
        vals[i].p = v;
        vals[i].len = (uint32_t)strlen(v);
    }
    uint64_t rng1[4] = {pick | 1, 2, 3, 4}, rng2[4] = {pick | 1, 2, 3, 4};
    struct tmpl_ctx c1 = {.rng = rng1, .vu = 7, .iteration = 42, .vars = vals, .nvars = nv};
    struct tmpl_ctx c2 = c1;
    c2.rng = rng2;
    struct sbuf a = {0}, b = {0};
    /* variables past the 8 given render as "" */
    tmpl_render(&t, &c1, &a);
    tmpl_render(&t, &c2, &b);
    if (!reads_clock(&t))
        FUZZ_CHECK(a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0));
    check_output(&t, enc, &a);
    sbuf_deinit(&a);
    sbuf_deinit(&b);
    tmpl_deinit(&t);
    tmpl_syms_deinit(&syms);
    return 0;
}
