/* sqlq: parametrised SQL builder. */
#include "sqlq.h"

#include "xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void sqlq_init(struct sqlq *q, const char *head)
{
    sbuf_init(&q->sql, 512);
    sbuf_adds(&q->sql, head);
    q->n = 0;
}

void sqlq_deinit(struct sqlq *q)
{
    sbuf_deinit(&q->sql);
    for (int i = 0; i < q->n; i++)
        free(q->params[i]);
    q->n = 0;
}

void sqlq_printf(struct sqlq *q, const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    sbuf_adds(&q->sql, s);
    free(s);
}

int sqlq_param(struct sqlq *q, const char *value)
{
    if (q->n >= SQLQ_MAX_PARAMS) {
        fprintf(stderr, "stampede: sqlq: more than %d parameters\n", SQLQ_MAX_PARAMS);
        abort();
    }
    q->params[q->n] = value ? xstrdup(value) : NULL;
    return ++q->n;
}
