/* sbuf: growable string buffer. */
#include "sbuf.h"

#include "xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init(struct sbuf *b, size_t cap)
{
    b->cap = cap ? cap : 64;
    b->s = xmalloc(b->cap);
    b->s[0] = '\0';
    b->len = 0;
}

void sbuf_deinit(struct sbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

static void grow(struct sbuf *b, size_t need)
{
    if (b->s && b->len + need + 1 <= b->cap)
        return;
    while (b->len + need + 1 > b->cap)
        b->cap = b->cap * 2 + 64;
    b->s = xrealloc(b->s, b->cap);
    b->s[b->len] = '\0';
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    grow(b, 0);
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        grow(b, n > 0 ? (size_t)n : 256);
    }
}

void sbuf_add(struct sbuf *b, const char *data, size_t n)
{
    grow(b, n);
    if (n)
        memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void sbuf_adds(struct sbuf *b, const char *s)
{
    sbuf_add(b, s, strlen(s));
}

void sbuf_addc(struct sbuf *b, char c)
{
    sbuf_add(b, &c, 1);
}

char *sbuf_take(struct sbuf *b, size_t *len)
{
    char *s = b->s ? b->s : xstrdup("");
    if (len)
        *len = b->len;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

char *sbuf_reserve(struct sbuf *b, size_t n)
{
    grow(b, n);
    return b->s + b->len;
}

void sbuf_commit(struct sbuf *b, size_t n)
{
    b->len += n;
    b->s[b->len] = '\0';
}

void sbuf_reset(struct sbuf *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = '\0';
}
