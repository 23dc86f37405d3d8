/* series_writer: stores runs' per-second rows in PostgreSQL (loop 0).
 *
 * metrics sends one MSG_SERIES_BATCH per run and second; the writer keys
 * it by the run's PostgreSQL ids (given by MSG_SERIES_REGISTER before the
 * engine run starts) and inserts everything pending in one statement per
 * flush, once a second, one flush at a time, through the store. While
 * PostgreSQL is down batches wait (bounded by SERIES_MAX_PENDING bytes:
 * beyond it the oldest are dropped and counted) and go out when it is
 * back; a run keeps going meanwhile.
 *
 * MSG_SERIES_SYNC asks for a reply (MSG_SERIES_SYNCED) once every batch of
 * that engine run received so far is stored (or dropped), and forgets the
 * registration: the run manager waits for it before it marks a run over,
 * so a finished run's series is complete when its status says so.
 * MSG_SERIES_STATS_GET answers struct series_stats. */
#ifndef STAMPEDE_SERIES_WRITER_H
#define STAMPEDE_SERIES_WRITER_H

#include "actor.h"
#include "uuid.h"

#include <stddef.h>
#include <stdint.h>

#define SERIES_MAX_PENDING (64u << 20)

enum {
    MSG_SERIES_BATCH = MSG_RANGE_SERIES + 1, /* struct series_batch */
    MSG_SERIES_REGISTER,                     /* struct series_register */
    MSG_SERIES_SYNC,                         /* struct series_sync; reply MSG_SERIES_SYNCED */
    MSG_SERIES_SYNCED,                       /* struct series_sync (the same fields) */
    MSG_SERIES_STATS_GET,                    /* plain msg; reply struct series_stats */
    MSG_SERIES_STATS,
};

struct series_batch {
    msg_t m;
    uint64_t run_id;   /* the engine run */
    char *json;        /* owned: a JSON array of rows (series_gen_rows) */
    size_t len;
};
/* Destructor of a series_batch (frees json); set m.dtor to it. */
void series_batch_dtor(msg_t *m);

struct series_register {
    msg_t m;
    uint64_t run_id;                 /* the engine run */
    char run_uuid[UUID_STR_LEN];     /* runs.id */
    char script_uuid[UUID_STR_LEN];  /* run_scripts.script_id */
};

struct series_sync {
    msg_t m;
    uint64_t run_id;
    uint64_t dropped;  /* in the reply: rows of this run never stored */
};

struct series_stats {
    msg_t m;
    uint64_t batches_stored, batches_dropped, flushes, flush_failures;
    uint64_t pending_bytes, pending_batches;
};

struct series_writer_config {
    actor_t *store;
};

actor_t *series_writer_new(struct loop *l, const struct series_writer_config *cfg);
/* After every loop has stopped. NULL is a no-op. */
void series_writer_free(actor_t *w);

#endif
