/* migrations: the schema migrations compiled into the binary from
 * sql/NNN_name.sql (build-aux/embed-sql.sh generates migrations.c), in
 * version order. A file holds plain statements, no BEGIN/COMMIT: the
 * runner wraps each one in a transaction. */
#ifndef STAMPEDE_MIGRATIONS_H
#define STAMPEDE_MIGRATIONS_H

#include <stddef.h>

struct migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct migration stampede_migrations[];
extern const size_t stampede_migrations_count;

#endif
