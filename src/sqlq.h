/* sqlq: building a parametrised SQL statement piece by piece — the text
 * with $n placeholders and the parameter values side by side, so values
 * never end up in the SQL text. */
#ifndef STAMPEDE_SQLQ_H
#define STAMPEDE_SQLQ_H

#include "sbuf.h"

#define SQLQ_MAX_PARAMS 32

struct sqlq {
    struct sbuf sql;
    int n;
    char *params[SQLQ_MAX_PARAMS]; /* owned copies; NULL = SQL NULL */
};

void sqlq_init(struct sqlq *q, const char *head);
void sqlq_deinit(struct sqlq *q);
/* Append SQL text. Never put a value here: use sqlq_param. */
void sqlq_printf(struct sqlq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Add a parameter (copied; NULL is SQL NULL) and return its number, for
 * "$%d". Past SQLQ_MAX_PARAMS it aborts: the callers' queries are fixed
 * shapes with a handful of parameters. */
int sqlq_param(struct sqlq *q, const char *value);

#endif
