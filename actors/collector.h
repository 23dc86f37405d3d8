/* collector: collects datasets' rows from APIs (loop 0) for
 * POST /v1/datasets/{id}/collect (a new version, stored) and /preview
 * (one iteration, rows shown, nothing stored); docs/datasets.md.
 *
 * A job runs a dataset's collect spec (collect_spec.h): it resolves every
 * host of its routes once (evdns), refuses the job when any address a
 * name has is one the SSRF guard refuses (ssrf.h; config collect_allow
 * lets ranges through), connects only to the addresses it checked and
 * checks the connected peer again before sending (hfetch.h), runs pre
 * once, the routes `iterations` times, post once (also after a failed
 * route, to log out), and is bounded by the spec's limits (time, rows,
 * bytes). Nothing blocks the loop. A collected version is written in one
 * statement that takes the next version number under the dataset's row
 * lock, so concurrent collections never collide.
 *
 * The API reaches it through the run manager (its peer for jobs), which
 * forwards MSG_DS_COLLECT here unchanged: the reply goes straight back to
 * the API. MSG_STOP: jobs in flight are answered 503 and dropped, then
 * MSG_STOPPED. */
#ifndef STAMPEDE_COLLECTOR_H
#define STAMPEDE_COLLECTOR_H

#include "actor.h"
#include "uuid.h"

enum {
    MSG_DS_COLLECT = MSG_RANGE_PLATFORM + 0x60, /* struct ds_collect; reply struct ds_collect_reply */
    MSG_DS_COLLECT_REPLY,
};

struct ds_collect {
    msg_t m;
    char dataset_id[UUID_STR_LEN];
    char *spec;         /* owned: the collect object (JSON text), as validated by the API */
    int preview;        /* one iteration, nothing stored */
};
/* Destructor of ds_collect (frees spec): MSG_NEW, then set m.dtor. */
void ds_collect_dtor(msg_t *m);

struct ds_collect_reply {
    msg_t m;
    int status;         /* 200 (preview), 201 (a version stored), or the error's */
    char code[32];      /* error code: invalid, address_not_allowed, collect_failed, ... */
    char field[192];    /* the field at fault ("collect.routes[0].url"), or "" */
    char message[600];
    char *body;         /* owned: the JSON answer of a success, else NULL */
};

struct collector_config {
    actor_t *store;
    const char *allow;  /* CIDRs the SSRF guard lets through (ssrf_allow_parse); NULL = none */
};

/* Create on loop l. NULL with a message in err when allow does not parse
 * or the resolver cannot be made. */
actor_t *collector_new(struct loop *l, const struct collector_config *cfg, char *err, size_t errlen);
/* After every loop has stopped; jobs left are dropped. NULL is a no-op. */
void collector_free(actor_t *a);

/* A dataset version as the API shows it, as SQL over alias v of
 * dataset_versions (one json text column). */
#define DS_VERSION_JSON(v)                                                                                  \
    "(SELECT row_to_json(x) FROM (SELECT " v ".dataset_id, " v ".version, " v ".columns, " v ".row_count AS rows," \
    " " v ".bytes, " v ".origin, to_char(" v ".created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')" \
    " AS created_at) x)::text"

/* A new version of dataset $1: columns $2 (a JSON array of names), row
 * count $3, bytes $4, rows $5 (ds_rows.h form), origin $6 ('upload' or
 * 'collect'). The dataset's row is locked and its latest_version taken
 * and raised in the same statement. No row back: no such dataset. */
#define DS_INSERT_VERSION_SQL                                                                               \
    "WITH d AS (UPDATE datasets SET latest_version = latest_version + 1, updated_at = now()"               \
    "  WHERE id = $1 RETURNING id, latest_version),"                                                        \
    " v AS (INSERT INTO dataset_versions (dataset_id, version, columns, row_count, bytes, content, origin)" \
    "  SELECT d.id, d.latest_version, ARRAY(SELECT c FROM json_array_elements_text($2::json)"               \
    "   WITH ORDINALITY AS x(c, i) ORDER BY i), $3::bigint, $4::bigint, $5::json, $6 FROM d RETURNING *)"   \
    " SELECT " DS_VERSION_JSON("v") " FROM v"

#endif
