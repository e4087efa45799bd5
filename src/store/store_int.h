/*
 * store_int.h - what the store's files share: the back-end vtable and the
 * gcs_store struct.
 *
 * Every operation of store.h is written once, in SQL that both SQLite and
 * PostgreSQL accept, over a small vtable: run one statement with text
 * parameters (written `?`; the PostgreSQL back end numbers them), receiving
 * each row as an array of strings (NULL for SQL NULL) through a callback.
 * Statements are prepared once per connection and cached by their text.
 * Where the dialects differ (transaction modes, row locks), the code looks at
 * `kind`.
 */
#ifndef GCS_STORE_STORE_INT_H
#define GCS_STORE_STORE_INT_H

#include "store/store.h"

#include <pthread.h>

/* One row: ncols strings, NULL for SQL NULL. A nonzero return stops the walk
 * (the back end discards the rest) and is returned by exec. */
typedef int (*gcs_sql_row_fn)(const char *const *cols, int ncols, void *payload);

typedef struct gcs_store_ops {
    const char *name;
    /* Runs one statement. params[i] may be NULL. *changes (may be NULL) gets the
     * number of rows inserted/updated/deleted. */
    int (*exec)(gcs_store *s, const char *sql, const char *const *params, int nparams,
                gcs_sql_row_fn fn, void *payload, int64_t *changes);
    /* Runs one statement (no result rows) once per row of params
     * (nrows x nparams, row-major), stopping at the first failure. PostgreSQL
     * pipelines them: one round trip per chunk instead of one per row. */
    int (*exec_many)(gcs_store *s, const char *sql, const char *const *params, int nparams,
                     size_t nrows);
    /* Runs several statements without parameters (migrations). */
    int (*exec_script)(gcs_store *s, const char *sql);
    void (*close)(gcs_store *s);
} gcs_store_ops;

extern const gcs_store_ops gcs_store_sqlite_ops;
extern const gcs_store_ops gcs_store_postgres_ops;

/* An exponential backoff: base_ms after the first attempt, doubling, at most
 * max_ms (the job queue's and the outbox's). */
typedef struct gcs_store__backoff {
    int64_t base_ms, max_ms;
} gcs_store__backoff;

/* Sets b from a caller's figures: base at least 1 ms, max at least base. */
void gcs_store__backoff_set(gcs_store__backoff *b, int64_t base_ms, int64_t max_ms);
/* The wait before the next attempt, after `attempts` of them. */
int64_t gcs_store__backoff_ms(const gcs_store__backoff *b, int attempts);

typedef struct pending_receipt pending_receipt;
typedef struct receipt_writer receipt_writer;

struct gcs_store {
    const gcs_store_ops *ops;
    gcs_store_kind kind;
    void *impl;                    /* the back end's connection */
    char *target;                  /* what it was opened with (for a second connection) */
    int in_tx;                     /* a transaction is open */
    receipt_writer *writer;        /* receipts.c: started by the first append */
    gcs_store__backoff job_backoff, note_backoff;
};

int gcs_store__sqlite_open(gcs_store *s, const char *path);
int gcs_store__postgres_open(gcs_store *s, const char *conninfo);
int gcs_store__migrate(gcs_store *s);

/* Helpers over ops->exec. */
int gcs_store__sql_exec(gcs_store *s, const char *sql, const char *const *params, int nparams,
                        gcs_sql_row_fn fn, void *payload, int64_t *changes);
/* BEGIN for reading (a consistent snapshot) or for writing (serialised with
 * other writers: IMMEDIATE in SQLite). */
int gcs_store__sql_begin(gcs_store *s, bool write);
int gcs_store__sql_commit(gcs_store *s);
/* Rolls back if a transaction is open; never fails the caller's path. */
void gcs_store__sql_rollback(gcs_store *s);
/* " FOR UPDATE" on PostgreSQL, "" on SQLite (whose write transactions are
 * already exclusive). */
const char *gcs_store__sql_for_update(const gcs_store *s);
/* " FOR UPDATE SKIP LOCKED" on PostgreSQL, "" on SQLite: a queue's claim
 * passes over the rows another claimer holds. */
const char *gcs_store__sql_skip_locked(const gcs_store *s);
/* Runs `sql`, an UPDATE of one row: its parameters are the time now, nnow
 * times (at most 4), then `id`. *changed gets the number of rows it changed
 * (0: the row is not in a state the statement takes). */
int gcs_store__update_row_now(int64_t *changed, gcs_store *s, const char *sql, int nnow,
                              int64_t id);
/* The same, for a change asked for by hand: when it changes no row, returns
 * refused(s, id, what), which says why the row cannot be changed. */
int gcs_store__update_row_or_refuse(gcs_store *s, const char *sql, int nnow, int64_t id,
                                    int (*refused)(gcs_store *s, int64_t id, const char *what),
                                    const char *what);

/* jobs.c: n jobs enqueued in as few statements as the rows allow (64 a
 * statement), each as gcs_store_job_enqueue would (a pending job of the key
 * takes the newest payload; items of one key in the batch: the last one's
 * payload, one job), ids[i] the job of item i. For the intake: a batch costs
 * one round trip per 64 events, not one each. All or nothing is the caller's
 * transaction. */
int gcs_store__jobs_enqueue_many(int64_t *ids, gcs_store *s, const char *const *keys,
                                 const char *const *payloads, const int *max_attempts, size_t n);

/* Row-value helpers. */
int64_t gcs_store__sql_int(const char *col);
char *
gcs_store__sql_dup(const char *col); /* NULL stays NULL; aborts on OOM is not ok: returns NULL */
/* Formats v into buf (at least 24 bytes) and returns buf. */
const char *gcs_store__sql_i64(char *buf, int64_t v);

/* receipts.c: the hash of r after prev_hash, using scratch for the canonical
 * bytes. */
int gcs_store__receipt_hash_buf(char out[65], const char *prev_hash, const gcs_receipt *r,
                                gcs_buf *scratch);
/* The chain_head row: a row callback filling a gcs_chain_head. */
typedef struct gcs_chain_head {
    int64_t seq;
    char hash[65];
    bool found;
} gcs_chain_head;
int gcs_store__chain_head_row(const char *const *cols, int ncols, void *payload);

/* Opens another connection to the same database into `out` (zeroed), without
 * migrating: the receipt writer's own connection. */
int gcs_store__connect_again(gcs_store *out, const gcs_store *s);
/* writer.c: whether JSON text may have a key whose value must be hidden
 * (gcs_redact_is_sensitive_key), at any depth. Never false when it has one;
 * true as well for escaped or very long keys and for malformed text. */
bool gcs_store__receipt_json_has_sensitive_key(const char *text, size_t len);
/* writer.c: queues an item mark behind the receipts and marks queued before
 * it (the state is checked by the caller); fails at once when the writer's
 * last batch failed. */
int gcs_store__mark_enqueue(gcs_store *s, const char *run_id, const char *key, const char *state,
                           const char *genesys_id, const char *detail, bool attempt);
/* writer.c: flushes, stops the writer thread and closes its connection. */
int gcs_store__receipts_release(gcs_store *s);


/* outbox.c: an event ready to be written (the endpoints that take it, its
 * data as JSON text), prepared on the caller's thread so that the writer's
 * transaction only inserts it. */
typedef struct gcs_store__note {
    char *type;
    char *data;                    /* JSON object text */
    char msg_id[40];
    char *endpoints[GCS_NOTE_ENDPOINTS_MAX];
    size_t nendpoints;
    int64_t dead_after_ms, time_ms;
    bool receipts_of_key;
    char *run_id, *source_key;     /* whose receipts, when receipts_of_key */
    bool audit;
    char *body;                    /* as written by the last gcs_store__note_write */
} gcs_store__note;

/* *out is NULL (and 0 returned) when no route takes the event and it is not
 * audited. */
int gcs_store__note_prepare(gcs_store__note **out, const gcs_outbox_event *ev);
void gcs_store__note_free(gcs_store__note *n);
/* Inserts one row per endpoint, inside the caller's write transaction. */
int gcs_store__note_write(gcs_store *s, gcs_store__note *n);
/* Logs a committed note's audit line, when it asks for one. */
void gcs_store__note_audit(const gcs_store__note *n);
/* writer.c: like gcs_store__mark_enqueue, with a note (taken over, freed on failure). */
int gcs_store__mark_enqueue_note(gcs_store *s, const char *run_id, const char *key,
                                 const char *state, const char *genesys_id, const char *detail,
                                 bool attempt, gcs_store__note *note);

/* hierarchy.c: a kept group's parent links, copied on the caller's thread and
 * written by the writer in the transaction of the group's item mark. */
typedef struct gcs_store__links {
    char *group_key, *group_id, *run_id;
    char **parents;
    size_t count;
} gcs_store__links;

int gcs_store__links_copy(gcs_store__links **out, const gcs_group_links *links,
                          const char *run_id);
void gcs_store__links_free(gcs_store__links *l);
/* Replaces the group's links, inside the caller's write transaction. */
int gcs_store__links_write(gcs_store *s, const gcs_store__links *l, int64_t time_ms);
/* writer.c: like gcs_store__mark_enqueue_note, with links as well (both taken
 * over, freed on failure; either may be NULL). */
int gcs_store__mark_enqueue_full(gcs_store *s, const char *run_id, const char *key,
                                 const char *state, const char *genesys_id, const char *detail,
                                 bool attempt, gcs_store__note *note, gcs_store__links *links);

#endif
