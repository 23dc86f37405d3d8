/* import_shell: bash and cmd.exe word splitting for pasted commands. */
#include "hex.h"
#include "import_shell.h"

#include "xmalloc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- words ---- */

static void words_push(struct import_words *w, char *s)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->v = xrealloc(w->v, (size_t)w->cap * sizeof *w->v);
    }
    w->v[w->n++] = s;
}

void import_words_deinit(struct import_words *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->v[i]);
    free(w->v);
    memset(w, 0, sizeof *w);
}

/* One split: the whole text (positions in errors count from it), the words
 * so far, and where notes and the error go. */
struct splitter {
    const char *text;
    struct import_words *words;
    struct import_def *d;
    char *err;
    size_t errlen;
};

static int split_fail(struct splitter *sp, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int split_fail(struct splitter *sp, const char *at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(sp->err, sp->errlen, "%s (at character %zu)", msg, (size_t)(at - sp->text) + 1);
    return -1;
}

/* Note the text from p to the end of its line as ignored. */
static void note_ignored(struct splitter *sp, const char *p, const char *why)
{
    size_t n = strcspn(p, "\r\n");
    import_def_note(sp->d, "ignored '%.*s%s' after the command: %s", (int)(n > 40 ? 40 : n), p,
                    n > 40 ? "..." : "", why);
}

static int starts_curl_word(const char *p)
{
    size_t n = strncasecmp(p, "curl.exe", 8) == 0 ? 8 : strncmp(p, "curl", 4) == 0 ? 4 : 0;
    return n && (!p[n] || isspace((unsigned char)p[n]));
}

/* ---- bash ---- */

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Characters that end a bash word and start an operator. */
static int is_meta(int c)
{
    return c && strchr("|&;<>()", c) != NULL;
}

static int is_name_start(int c)
{
    return isalpha(c) || c == '_';
}

/* Append code point cp as UTF-8. Surrogates and values past U+10FFFF are
 * written too, as bash would; import_def refuses them as not UTF-8. */
static void put_utf8(struct sbuf *b, uint32_t cp)
{
    char u[4];
    if (cp < 0x80) {
        sbuf_addc(b, (char)cp);
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        sbuf_add(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        sbuf_add(b, u, 3);
    } else {
        u[0] = (char)(0xf0 | ((cp >> 18) & 0x07));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        sbuf_add(b, u, 4);
    }
}

/* Up to max hex digits at *pp; returns how many were read. */
static int read_hex(const char **pp, int max, uint32_t *out)
{
    int n = 0;
    uint32_t v = 0;
    while (n < max && hex_digit((unsigned char)**pp) >= 0) {
        v = v * 16 + (uint32_t)hex_digit((unsigned char)**pp);
        (*pp)++;
        n++;
    }
    *out = v;
    return n;
}

/* $'...' (ANSI-C quoting), *pp at the '$'. Escapes as bash expands them;
 * one bash would keep (an unknown letter, "\x" without digits) is kept. */
static int ansi_c(struct splitter *sp, const char **pp, struct sbuf *w)
{
    const char *open = *pp, *p = open + 2;
    for (;;) {
        if (!*p)
            return split_fail(sp, open, "unterminated $'...' string");
        if (*p == '\'') {
            *pp = p + 1;
            return 0;
        }
        if (*p != '\\') {
            sbuf_addc(w, *p++);
            continue;
        }
        const char *esc = p++;
        uint32_t v = 0;
        int c = (unsigned char)*p;
        switch (c) {
        case 'a': v = 7; p++; break;
        case 'b': v = 8; p++; break;
        case 'e': case 'E': v = 27; p++; break;
        case 'f': v = 12; p++; break;
        case 'n': v = 10; p++; break;
        case 'r': v = 13; p++; break;
        case 't': v = 9; p++; break;
        case 'v': v = 11; p++; break;
        case '\\': case '\'': case '"': case '?': v = (uint32_t)c; p++; break;
        case 'c':
            if (!p[1])
                return split_fail(sp, open, "unterminated $'...' string");
            v = (uint32_t)(unsigned char)p[1] & 0x1f;
            p += 2;
            break;
        case 'x': case 'u': case 'U': {
            p++;
            if (read_hex(&p, c == 'x' ? 2 : c == 'u' ? 4 : 8, &v) == 0) {
                sbuf_add(w, esc, 2); /* bash keeps "\x" with no digits */
                continue;
            }
            if (c == 'x') { /* a byte, not a character */
                if (v == 0)
                    return split_fail(sp, esc, "$'...' holds a NUL byte, which no command line "
                                               "can pass to curl");
                sbuf_addc(w, (char)v);
                continue;
            }
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                int n = 0;
                while (n < 3 && *p >= '0' && *p <= '7') {
                    v = v * 8 + (uint32_t)(*p - '0');
                    p++;
                    n++;
                }
                if (v == 0)
                    return split_fail(sp, esc, "$'...' holds a NUL byte, which no command line "
                                               "can pass to curl");
                sbuf_addc(w, (char)(v & 0xff)); /* a byte, like \x */
                continue;
            }
            if (!c)
                return split_fail(sp, open, "unterminated $'...' string");
            sbuf_add(w, esc, 2); /* unknown escape: kept as written */
            p++;
            continue;
        }
        if (v == 0)
            return split_fail(sp, esc, "$'...' holds a NUL byte, which no command line can pass "
                                       "to curl");
        put_utf8(w, v);
    }
}

/* A '$' outside single quotes, *pp at it. Variables cannot be expanded
 * here: they are kept as written, with a note; command substitution is an
 * error, since its output is the whole point. */
static int dollar(struct splitter *sp, const char **pp, struct sbuf *w)
{
    const char *p = *pp;
    if (p[1] == '(')
        return split_fail(sp, p, "command substitution $(...) is not supported");
    const char *name = NULL, *end = NULL;
    if (p[1] == '{') {
        const char *close = strchr(p + 2, '}');
        if (!close)
            return split_fail(sp, p, "unterminated ${...}");
        name = p + 2;
        end = close + 1;
        sbuf_add(w, p, (size_t)(end - p));
        import_def_note(sp->d, "kept ${%.*s} as written: shell variables are not expanded",
                        (int)(close - name), name);
    } else if (is_name_start((unsigned char)p[1])) {
        name = p + 1;
        end = name;
        while (isalnum((unsigned char)*end) || *end == '_')
            end++;
        sbuf_add(w, p, (size_t)(end - p));
        import_def_note(sp->d, "kept $%.*s as written: shell variables are not expanded",
                        (int)(end - name), name);
    } else {
        sbuf_addc(w, '$');
        end = p + 1;
    }
    *pp = end;
    return 0;
}

/* "..." with bash's rules: a backslash escapes only $ ` " \ and newline. */
static int double_quoted(struct splitter *sp, const char **pp, struct sbuf *w)
{
    const char *open = *pp, *p = open + 1;
    for (;;) {
        if (!*p)
            return split_fail(sp, open, "unterminated double quote");
        if (*p == '"') {
            *pp = p + 1;
            return 0;
        }
        if (*p == '\\') {
            if (p[1] && strchr("$`\"\\", p[1])) {
                sbuf_addc(w, p[1]);
                p += 2;
            } else if (p[1] == '\n') {
                p += 2;
            } else if (p[1] == '\r' && p[2] == '\n') {
                p += 3;
            } else {
                sbuf_addc(w, *p++);
            }
        } else if (*p == '`') {
            return split_fail(sp, p, "command substitution (`...`) is not supported");
        } else if (*p == '$') {
            if (dollar(sp, &p, w) < 0)
                return -1;
        } else {
            sbuf_addc(w, *p++);
        }
    }
}

/* One bash word at *pp into w; *quoted says whether any quoting was seen
 * (so '' is a word, and "2" in '2'>x is not a descriptor). */
static int bash_word(struct splitter *sp, const char **pp, struct sbuf *w, int *quoted)
{
    const char *p = *pp;
    while (*p && !is_blank((unsigned char)*p) && !is_meta((unsigned char)*p)) {
        if (*p == '\\') {
            if (p[1] == '\n') {
                p += 2; /* a line continuation inside a word joins it */
            } else if (p[1] == '\r' && p[2] == '\n') {
                p += 3;
            } else if (!p[1]) {
                p++;
            } else {
                sbuf_addc(w, p[1]);
                p += 2;
                *quoted = 1;
            }
        } else if (*p == '\'') {
            const char *close = strchr(p + 1, '\'');
            if (!close)
                return split_fail(sp, p, "unterminated single quote");
            sbuf_add(w, p + 1, (size_t)(close - p - 1));
            p = close + 1;
            *quoted = 1;
        } else if (*p == '$' && p[1] == '\'') {
            if (ansi_c(sp, &p, w) < 0)
                return -1;
            *quoted = 1;
        } else if (*p == '"' || (*p == '$' && p[1] == '"')) {
            if (*p == '$')
                p++; /* $"..." is a translated string: the same text here */
            if (double_quoted(sp, &p, w) < 0)
                return -1;
            *quoted = 1;
        } else if (*p == '`') {
            return split_fail(sp, p, "command substitution (`...`) is not supported");
        } else if (*p == '$') {
            if (dollar(sp, &p, w) < 0)
                return -1;
        } else {
            sbuf_addc(w, *p++);
        }
    }
    *pp = p;
    return 0;
}

/* *pp at '<' or '>': skip the operator and its target word (output files
 * and "2>&1" change nothing about the request). */
static int skip_redirect(struct splitter *sp, const char **pp)
{
    const char *p = *pp, *op = p;
    if (p[0] == '<' && p[1] == '<') {
        note_ignored(sp, op, "a here-document feeds stdin, which is not read");
        *pp = p + strlen(p);
        return 0;
    }
    p++;
    if (*p == '>' || *p == '&' || *p == '|')
        p++;
    while (*p == ' ' || *p == '\t')
        p++;
    struct sbuf w = { 0 };
    int quoted = 0;
    int rc = bash_word(sp, &p, &w, &quoted);
    sbuf_deinit(&w);
    if (rc < 0)
        return -1;
    if (*op == '<')
        import_def_note(sp->d, "ignored the input redirection '%.*s': stdin is not read",
                        (int)(p - op), op);
    *pp = p;
    return 0;
}

/* Split sp->text with bash's rules into sp->words; 0, or -1 with the
 * error set. */
static int split_bash(struct splitter *sp)
{
    const char *p = sp->text;
    int line_start = 0;
    for (;;) {
        for (;;) {
            if (*p == '\n') {
                line_start = 1;
                p++;
            } else if (is_blank((unsigned char)*p)) {
                p++;
            } else if (p[0] == '\\' && p[1] == '\n') {
                p += 2;
            } else if (p[0] == '\\' && p[1] == '\r' && p[2] == '\n') {
                p += 3;
            } else {
                break;
            }
        }
        if (!*p)
            return 0;
        if (*p == '#') { /* a comment, to the end of the line */
            p += strcspn(p, "\n");
            continue;
        }
        /* A newline ends a command in bash; we read on (a line missing its
         * '\' is a common paste), but a new curl starts a new command. */
        if (line_start && sp->words->n > 0 && starts_curl_word(p)) {
            note_ignored(sp, p, "only the first command is imported");
            return 0;
        }
        line_start = 0;
        if (*p == '<' || *p == '>') {
            if (skip_redirect(sp, &p) < 0)
                return -1;
            continue;
        }
        if (is_meta((unsigned char)*p)) {
            note_ignored(sp, p, *p == '&' ? "an unquoted '&' ends a shell command (quote the URL "
                                            "if the '&' belongs to it)"
                                          : "only the curl command itself is imported");
            return 0;
        }
        const char *start = p;
        struct sbuf w = { 0 };
        int quoted = 0;
        if (bash_word(sp, &p, &w, &quoted) < 0) {
            sbuf_deinit(&w);
            return -1;
        }
        int digits = p > start && strspn(start, "0123456789") == (size_t)(p - start);
        if ((*p == '<' || *p == '>') && !quoted && digits) {
            sbuf_deinit(&w); /* "2>": a descriptor number, not a word */
            if (skip_redirect(sp, &p) < 0)
                return -1;
            continue;
        }
        if (w.len == 0 && !quoted) {
            sbuf_deinit(&w);
            continue;
        }
        words_push(sp->words, sbuf_take(&w, NULL));
    }
}

/* ---- Windows cmd.exe ---- */

/* 1 if s has a quoted string closed and at once reopened ("{""a"":1}"),
 * read with bash's quoting: how the older "Copy as cURL (Windows)" writes
 * a quote inside quotes, and something nobody writes for bash. */
static int has_doubled_quote(const char *s)
{
    enum { OUTSIDE, SINGLE, ANSI_C, DOUBLE } st = OUTSIDE;
    const char *open = NULL;
    for (const char *p = s; *p; p++) {
        if (st == SINGLE) {
            if (*p == '\'')
                st = OUTSIDE;
        } else if (*p == '\\') { /* escapes the next character outside '...' */
            if (p[1])
                p++;
        } else if (st == ANSI_C) {
            if (*p == '\'')
                st = OUTSIDE;
        } else if (*p == '$' && p[1] == '\'' && st == OUTSIDE) {
            st = ANSI_C;
            p++;
        } else if (st == DOUBLE) {
            if (*p == '"') {
                if (p[1] == '"' && p > open + 1)
                    return 1;
                st = OUTSIDE;
            }
        } else if (*p == '\'') {
            st = SINGLE;
        } else if (*p == '"') {
            st = DOUBLE;
            open = p;
        }
    }
    return 0;
}

/* Chrome's "Copy as cURL (cmd)" writes ^"...^" quoting, ^-escapes and ^
 * line continuations, the older Windows form "" for a quote inside quotes;
 * a bash command has none of these at a word start or line end, and uses
 * \ continuations instead. */
int import_shell_is_cmd(const char *s)
{
    int caret = 0;
    for (const char *p = s; *p; p++) {
        if (p[0] == '\\' && (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n')))
            return 0;
        if (p[0] == '^' && (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n')))
            caret = 1;
        if (p[0] == '^' && p[1] == '"' && (p == s || isspace((unsigned char)p[-1])))
            caret = 1;
    }
    return caret || has_doubled_quote(s);
}

/* cmd.exe's pass: outside its "..." state, ^X is X (never a quote toggle)
 * and ^ at a line end joins the next line, whose first character is then
 * literal (so "^\n\n" is a newline); & | < > and a plain line end end the
 * command. The result is the command line a program receives. Caller
 * frees. */
static char *cmd_line(struct splitter *sp)
{
    struct sbuf b = { 0 };
    int quoted = 0;
    const char *p = sp->text;
    while (*p) {
        if (*p == '"') {
            quoted = !quoted;
            sbuf_addc(&b, *p++);
        } else if (*p == '^' && !quoted) {
            p++;
            if (p[0] == '\r' && p[1] == '\n')
                p += 2;
            else if (p[0] == '\n')
                p++;
            else if (!p[0])
                break;
            else {
                sbuf_addc(&b, *p++);
                continue;
            }
            /* after a continuation, a newline is a literal newline */
            if (p[0] == '\r' && p[1] == '\n') {
                sbuf_addc(&b, '\n');
                p += 2;
            } else if (p[0] == '\n') {
                sbuf_addc(&b, '\n');
                p++;
            }
        } else if (!quoted && strchr("&|<>", *p)) {
            note_ignored(sp, p, "only the curl command itself is imported");
            break;
        } else if (!quoted && (*p == '\n' || (p[0] == '\r' && p[1] == '\n'))) {
            /* a line end without ^ ends the command */
            p += strspn(p, " \t\r\n");
            if (*p)
                note_ignored(sp, p, "only the first command is imported");
            break;
        } else {
            sbuf_addc(&b, *p++);
        }
    }
    return sbuf_take(&b, NULL);
}

/* The C runtime's split of a Windows command line: only spaces and tabs
 * separate (a newline is a character like any other), "..." quotes, ""
 * inside quotes is a quote, 2n backslashes before a quote are n and the
 * quote counts, 2n+1 are n and a literal quote, other backslashes are
 * literal. */
static void split_crt(struct splitter *sp, const char *line)
{
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return;
        struct sbuf w = { 0 };
        int quoted = 0, any = 0;
        while (*p && (quoted || (*p != ' ' && *p != '\t'))) {
            if (*p == '\\') {
                size_t n = strspn(p, "\\");
                if (p[n] == '"') {
                    for (size_t i = 0; i < n / 2; i++)
                        sbuf_addc(&w, '\\');
                    p += n;
                    if (n % 2) {
                        sbuf_addc(&w, '"');
                        p++;
                    }
                } else {
                    sbuf_add(&w, p, n);
                    p += n;
                }
            } else if (*p == '"') {
                any = 1;
                if (quoted && p[1] == '"') {
                    sbuf_addc(&w, '"');
                    p += 2;
                } else {
                    quoted = !quoted;
                    p++;
                }
            } else {
                sbuf_addc(&w, *p++);
            }
        }
        if (w.len || any)
            words_push(sp->words, sbuf_take(&w, NULL));
        else
            sbuf_deinit(&w);
    }
}

int import_shell_split(const char *text, struct import_def *d, struct import_words *w, char *err,
                       size_t errlen)
{
    struct splitter sp = { text, w, d, err, errlen };
    if (!import_shell_is_cmd(text))
        return split_bash(&sp);
    char *line = cmd_line(&sp);
    split_crt(&sp, line);
    free(line);
    return 0;
}
