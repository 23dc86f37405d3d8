/* xmalloc: allocation that never returns NULL.
 * Out of memory is not a runtime event we can recover from in a load
 * generator: every function here aborts the process with a message instead. */
#ifndef STAMPEDE_XMALLOC_H
#define STAMPEDE_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Copies of s; caller frees with free(). xstrdup(NULL) returns NULL. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string; caller frees with free(). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
