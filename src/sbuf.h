/* sbuf: a growable NUL-terminated string buffer for building text (SQL,
 * CSV, tables, JSON fragments). Never fails: growth goes through xrealloc.
 * A zeroed sbuf ({0}) is a valid empty buffer; sbuf_init only presizes. */
#ifndef STAMPEDE_SBUF_H
#define STAMPEDE_SBUF_H

#include <stddef.h>

struct sbuf {
    char *s;        /* NUL-terminated once anything was added; NULL before */
    size_t len, cap;
};

void sbuf_init(struct sbuf *b, size_t cap);
/* Free the text; the buffer may be initialised again. */
void sbuf_deinit(struct sbuf *b);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_add(struct sbuf *b, const char *data, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addc(struct sbuf *b, char c);
/* Room for n more bytes at the end: write up to n bytes at the returned
 * pointer, then sbuf_commit how many were written. */
char *sbuf_reserve(struct sbuf *b, size_t n);
void sbuf_commit(struct sbuf *b, size_t n);
/* Empty it, keeping the memory (a reused buffer stops allocating). */
void sbuf_reset(struct sbuf *b);
/* Hand the text over (never NULL: "" when empty); the caller frees it with
 * free(); b is left empty and reusable. */
char *sbuf_take(struct sbuf *b, size_t *len);

#endif
