/* pg_migrate: apply schema migrations over one ready pg_conn.
 * Under a session advisory lock (two servers starting together apply each
 * migration once), it creates schema_migrations if missing, then runs every
 * migration not yet recorded, each in its own transaction together with the
 * row that records it: a failing migration leaves the schema as it was.
 * A recorded migration whose text changed since is reported as a warning. */
#ifndef STAMPEDE_PG_MIGRATE_H
#define STAMPEDE_PG_MIGRATE_H

#include "migrations.h"
#include "pg.h"

enum pg_migrate_status {
    PG_MIGRATE_OK,
    PG_MIGRATE_FAILED,    /* a migration's SQL failed: do not retry */
    PG_MIGRATE_CONN_LOST, /* the connection broke: retry on a new one */
};

struct pg_migrate;
/* message: why it failed, or a summary on success; valid during the call. */
typedef void (*pg_migrate_cb)(enum pg_migrate_status st, const char *message, int applied,
                              void *arg);

/* Start on a PG_READY connection; the owner must not run other jobs on it
 * until cb has been called (exactly once, never from inside this call).
 * Returns NULL (cb not called) if the first query cannot be sent. The
 * runner frees itself after cb returns. */
struct pg_migrate *pg_migrate_start(struct pg_conn *c, const struct migration *list, size_t n,
                                    pg_migrate_cb cb, void *arg);
/* Checksum used for the recorded text: FNV-1a 64 as 16 hex digits. */
void pg_migrate_checksum(const char *sql, char out[17]);

#endif
