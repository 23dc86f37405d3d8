/* tmpl: strings with {{...}} placeholders, compiled once (at validation)
 * into literal and placeholder segments and rendered per request with no
 * heap allocation once the output buffer has grown to size.
 *
 * Placeholders: a variable {{name}} (set by a dataset row or an
 * extraction), {{raw:name}} (the same, never encoded), and the builtins
 * {{uuid}}, {{timestamp}} (Unix ms), {{iso_time}}, {{random_int:A:B}}
 * (inclusive), {{random_string:N}} ([A-Za-z0-9]), {{vu}}, {{iteration}},
 * {{env:NAME}} (read once, when compiled). A value is encoded for where
 * it lands (enum tmpl_enc); literal text is copied as written. */
#ifndef STAMPEDE_TMPL_H
#define STAMPEDE_TMPL_H

#include "sbuf.h"

#include <stddef.h>
#include <stdint.h>

enum tmpl_enc {
    TMPL_ENC_RAW,    /* as is (string bodies) */
    TMPL_ENC_URL,    /* RFC 3986 percent-encoding of all but unreserved characters */
    TMPL_ENC_JSON,   /* escaped for the inside of a JSON string */
    TMPL_ENC_HEADER, /* as is, but CR, LF and other controls become spaces */
};

enum tmpl_op {
    TMPL_LIT,
    TMPL_VAR,
    TMPL_UUID,
    TMPL_TIMESTAMP,
    TMPL_ISO_TIME,
    TMPL_RANDOM_INT,
    TMPL_RANDOM_STRING,
    TMPL_VU,
    TMPL_ITERATION,
};

struct tmpl_seg {
    uint8_t op;      /* enum tmpl_op */
    uint8_t enc;     /* enum tmpl_enc */
    int32_t var;     /* TMPL_VAR: index in the symbol table */
    uint32_t off, len; /* TMPL_LIT: bytes of text */
    int64_t a, b;    /* random_int bounds; random_string length in a */
};

struct tmpl {
    char *text;      /* literal bytes, referenced by TMPL_LIT segments */
    size_t text_len, text_cap;
    struct tmpl_seg *segs;
    int nsegs, cap;
    int dynamic;     /* has a placeholder: must be rendered per request */
};

/* Variable names of a script, each with an index (the VU's value slot). */
struct tmpl_syms {
    char **names;
    int n, cap;
};

void tmpl_syms_deinit(struct tmpl_syms *s);
/* The index of name, added when new. */
int tmpl_syms_intern(struct tmpl_syms *s, const char *name, size_t len);
/* The index of name, or -1. */
int tmpl_syms_find(const struct tmpl_syms *s, const char *name);
/* 1 if s..s+n can name a variable: a letter or _, then letters, digits,
 * _ . - (up to 64). */
int tmpl_valid_name(const char *s, size_t n);
/* 1 if name is a builtin (or a reserved word: raw, env). */
int tmpl_is_builtin(const char *name);

/* Compile s (len bytes) and append it to t (a zeroed tmpl is empty).
 * Variables referenced are interned in syms. 0, or -1 with a message in
 * err ("{{random_int:5:1}}: ..."). */
int tmpl_append(struct tmpl *t, const char *s, size_t len, enum tmpl_enc enc, struct tmpl_syms *syms,
                char *err, size_t errlen);
/* Append literal bytes (never parsed for placeholders). */
void tmpl_append_lit(struct tmpl *t, const char *s, size_t len);
/* Append another compiled template. */
void tmpl_append_tmpl(struct tmpl *t, const struct tmpl *src);
void tmpl_deinit(struct tmpl *t);
/* Call fn for every variable a template reads (its symbol index). */
void tmpl_each_var(const struct tmpl *t, void (*fn)(int var, void *arg), void *arg);

/* A variable's value: bytes owned by whoever set it. */
struct tmpl_val {
    const char *p;
    uint32_t len;
};

/* What placeholders read while rendering. */
struct tmpl_ctx {
    uint64_t *rng;              /* 4 words of xoshiro256** state (tmpl_rng_seed) */
    uint32_t vu;                /* 1-based VU number */
    uint64_t iteration;         /* this VU's, from 0 */
    const struct tmpl_val *vars;/* by symbol index; a NULL p renders as "" */
    int nvars;
};

void tmpl_rng_seed(uint64_t st[4]);
uint64_t tmpl_rng_next(uint64_t st[4]);

/* Append the rendering of t to b. */
void tmpl_render(const struct tmpl *t, const struct tmpl_ctx *c, struct sbuf *b);
/* A static template's bytes (t->dynamic == 0), else NULL. */
const char *tmpl_static(const struct tmpl *t, size_t *len);

#endif
