/*
 * store.h - durable state: receipts, runs and their items, and the job queue.
 *
 * One interface, two back ends chosen by the URL given to gcs_store_open():
 *   sqlite:PATH or a bare PATH      embedded SQLite (WAL mode), the default;
 *   postgresql://... / postgres://... PostgreSQL through libpq, for several hosts.
 * The schema is versioned and migrated automatically when a store is opened.
 *
 * Invariants the store keeps (docs/store.md explains each):
 *  - Receipts are append-only: the database refuses UPDATE and DELETE on them.
 *    Each receipt carries prev_hash and hash = SHA-256(prev_hash || canonical
 *    content, sequence number included), so gcs_store_receipts_verify() finds any
 *    edit, deletion, insertion or reordering. Appends are serialised so that the
 *    chain stays linear even with several hosts on one PostgreSQL database.
 *  - gcs_store_receipt_append() queues; a writer thread with a connection of its
 *    own commits the queue in batches (one starts at GCS_STORE_BATCH_MAX receipts), at the
 *    latest GCS_STORE_BATCH_MS after a receipt was queued. A receipt is durable
 *    (survives a crash of the process) once gcs_store_flush() has returned 0 after
 *    it; marking an item, finishing a run, listing, verifying and gcs_store_free()
 *    flush first.
 *  - A job key never has two jobs running under a live lease at once.
 *
 * A gcs_store is used from one thread at a time (open one store per thread);
 * its receipt writer thread is internal. Strings inside structs passed to a callback are borrowed
 * for the duration of the call; structs filled through `out` belong to the
 * caller and are released with their _release function.
 */
#ifndef GCS_STORE_STORE_H
#define GCS_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

#include <jansson.h>

typedef struct gcs_store gcs_store;

typedef enum gcs_store_kind {
    GCS_STORE_SQLITE = 1,
    GCS_STORE_POSTGRES = 2,
} gcs_store_kind;

#define GCS_STORE_URL_MAX 4096
#define GCS_STORE_BATCH_MAX 512   /* a commit starts as soon as this many are queued */
#define GCS_STORE_BATCH_MS 50     /* longest a queued receipt waits for its commit */
#define GCS_RECEIPT_BODY_MAX (64 * 1024) /* request/response bodies kept, in bytes */
#define GCS_RECEIPT_FIELD_MAX 4096       /* every other text field */

/* ==== Opening ==== */

/* "sqlite:$XDG_STATE_HOME/gcscim/gcscim.db" (~/.local/state/... when unset).
 * Does not create anything. The caller frees *out. */
int gcs_store_default_url(char **out);
/* Splits a store URL into its back end and target (the SQLite path, or the
 * libpq connection string unchanged). Rejects empty paths, unknown schemes
 * ("mysql://"), NUL-free strings longer than GCS_STORE_URL_MAX. Caller frees *target. */
int gcs_store_url_parse(gcs_store_kind *kind, char **target, const char *url);
/* The URL with any password replaced by *** (postgresql://u:***@h/db,
 * password=***), for showing to people. Caller frees *out. */
int gcs_store_url_display(char **out, const char *url);
/* Opens (and migrates) the store at `url`; NULL means gcs_store_default_url(),
 * whose directory is created with mode 0700. */
int gcs_store_open(gcs_store **out, const char *url);
/* gcs_store_open() of a store that must already exist, for commands that only
 * read or check what was recorded: a SQLite file that does not exist is
 * GCS_ENOTFOUND, naming it, and nothing is created (a mistyped path, or a
 * deleted database, is never shown as an empty store whose chain holds). */
int gcs_store_open_existing(gcs_store **out, const char *url);
/* Flushes queued receipts (errors are logged), stops the writer, closes. Accepts NULL. */
void gcs_store_free(gcs_store *s);
/* "sqlite" or "postgresql". */
const char *gcs_store_backend(const gcs_store *s);
gcs_store_kind gcs_store_kind_of(const gcs_store *s);
/* The schema version after migrations. */
int gcs_store_schema_version(int *out, gcs_store *s);
/* Runs one SQL statement with no parameters (tests and diagnostics). */
int gcs_store_exec_raw(gcs_store *s, const char *sql);

/* ==== Receipts ==== */

typedef struct gcs_receipt {
    int64_t seq;                /* assigned by the store: 1, 2, 3, ... */
    int64_t time_ms;            /* wall clock; 0 on append means "now" */
    const char *run_id;         /* any field may be NULL */
    const char *operation;      /* create, patch, deactivate, read, token, ... */
    const char *resource_type;  /* user, group, ... */
    const char *source_key;     /* the HR system's key for the person */
    const char *genesys_id;
    const char *method;
    const char *path;
    const char *request_body;   /* secrets are removed on append */
    int status;                 /* HTTP status, 0 when no response */
    const char *response_body;  /* cut to GCS_RECEIPT_BODY_MAX on append */
    const char *etag_sent;
    const char *etag_received;
    int attempts;
    int64_t latency_ms;
    const char *outcome;        /* ok, failed, conflict, unknown, ... */
    const char *correlation_id;
    const char *prev_hash;      /* 64 hex digits; set by the store */
    const char *hash;
    /* On append: request_body and response_body were redacted already, by the
     * rules of core/redact.h (the request engine's receipt hook gives them so):
     * the store only makes them valid UTF-8 and bounds them. */
    bool bodies_redacted;
} gcs_receipt;

typedef struct gcs_receipt_filter {
    int64_t seq_min, seq_max;   /* 0: unbounded */
    const char *user;           /* source_key or genesys_id */
    const char *run_id;
    const char *outcome;
    int64_t since_ms, until_ms; /* 0: unbounded; until is exclusive */
    int64_t limit;              /* 0: no limit */
    bool newest_first;
} gcs_receipt_filter;

/* Called for each receipt; a nonzero return stops the walk and is returned. */
typedef int (*gcs_receipt_fn)(const gcs_receipt *r, void *payload);

/* Queues a copy of r (request body redacted, bodies bounded). Durable only after
 * a successful gcs_store_flush(). Waits when 4,096 receipts are already queued. */
int gcs_store_receipt_append(gcs_store *s, const gcs_receipt *r);
/* Waits until every receipt appended before the call is committed. On failure
 * the receipts stay queued, in order, and the next flush tries again. */
int gcs_store_flush(gcs_store *s);
/* Gives back the page cache of the caller's connection (SQLite: PRAGMA
 * shrink_memory; nothing on PostgreSQL), after writes that nothing reads again
 * soon: a run's plan and its items, written when it begins, would otherwise
 * stay cached for the whole run (up to 32 MiB). */
void gcs_store_shrink(gcs_store *s);
/* Number of receipts appended but not yet committed. */
size_t gcs_store_pending_receipts(const gcs_store *s);
/* Streams matching receipts (flushes first). `f` may be NULL. */
/* A receipt as a JSON object (new reference) and as one CSV line under
 * gcs_receipt_csv_header (the formats of `receipts export`). */
json_t *gcs_receipt_json(const gcs_receipt *r);
int gcs_receipt_csv(gcs_buf *out, const gcs_receipt *r);
extern const char gcs_receipt_csv_header[];

int gcs_store_receipts_each(gcs_store *s, const gcs_receipt_filter *f, gcs_receipt_fn fn,
                            void *payload);

typedef struct gcs_verify_result {
    bool ok;
    int64_t checked;         /* receipts whose hash was recomputed */
    int64_t head_seq;        /* the chain head as recorded by the store */
    char head_hash[65];
    int64_t broken_seq;      /* the first receipt that breaks the chain, or 0 */
    char reason[256];        /* why, when !ok */
} gcs_verify_result;

/* Walks the whole chain in order without loading it into memory. Returns 0 when
 * the walk completed (out->ok says whether the chain holds), < 0 on I/O errors. */
int gcs_store_receipts_verify(gcs_verify_result *out, gcs_store *s);
/* The same, and receipt anchor_seq must have the hash anchor_hash: a head that
 * `verify` printed earlier and that was kept elsewhere. This finds even a chain
 * that was rewritten and re-hashed from that point on. */
int gcs_store_receipts_verify_anchored(gcs_verify_result *out, gcs_store *s, int64_t anchor_seq,
                                       const char *anchor_hash);
/* The incremental form: walks from receipt anchor_seq (whose hash must still be
 * anchor_hash) to the head, so it costs the receipts appended since. Receipts
 * before the anchor are not read: an edit there that leaves the anchor's hash
 * alone is found by the full walk only. out->checked counts from the anchor. */
int gcs_store_receipts_verify_since(gcs_verify_result *out, gcs_store *s, int64_t anchor_seq,
                                    const char *anchor_hash);

/* The canonical bytes that are hashed (see docs/store.md), and the hash. */
int gcs_receipt_canonical(gcs_buf *out, const gcs_receipt *r);
int gcs_receipt_hash(char out[65], const char *prev_hash, const gcs_receipt *r);
/* The prev_hash of receipt 1: 64 zeros. */
extern const char gcs_receipt_genesis_hash[65];

/* ==== Runs and items ==== */

#define GCS_RUN_RUNNING "running"
#define GCS_RUN_DONE "done"
#define GCS_RUN_FAILED "failed"
#define GCS_RUN_INTERRUPTED "interrupted"

#define GCS_ITEM_PENDING "pending"
#define GCS_ITEM_IN_PROGRESS "in_progress"
#define GCS_ITEM_DONE "done"
#define GCS_ITEM_FAILED "failed"

typedef struct gcs_run {
    char *id;            /* "20261122T063000Z-1a2b3c4d": sorts by start time */
    char *command;
    char *plan_id;       /* identity of the plan (e.g. its hash): what resume matches */
    char *state;         /* GCS_RUN_* */
    int64_t started_ms, finished_ms, updated_ms;
    int64_t pending, in_progress, done, failed; /* item counts */
} gcs_run;

typedef struct gcs_run_item {
    const char *run_id;
    const char *key;
    const char *state;       /* GCS_ITEM_* */
    const char *genesys_id;  /* NULL until known */
    const char *detail;
    int attempts;            /* times it was marked in_progress */
    int64_t updated_ms;
} gcs_run_item;

void gcs_run_release(gcs_run *r);
/* Starts a run in state running. */
int gcs_store_run_begin(gcs_run *out, gcs_store *s, const char *command, const char *plan_id);
/* The newest run of this plan still running, interrupted or failed (a process
 * killed with -9 leaves its run "running"; resuming a failed run retries its
 * failed items), or GCS_ENOTFOUND. */
int gcs_store_run_find_resumable(gcs_run *out, gcs_store *s, const char *plan_id);
/* The newest run of this plan whatever its state, or GCS_ENOTFOUND. */
int gcs_store_run_find_latest(gcs_run *out, gcs_store *s, const char *plan_id);
int gcs_store_run_get(gcs_run *out, gcs_store *s, const char *run_id);
/* Sets the final (or interrupted) state; flushes receipts first. */
int gcs_store_run_finish(gcs_store *s, const char *run_id, const char *state);
/* Newest first; limit 0 means all. */
int gcs_store_runs_each(gcs_store *s, int64_t limit, int (*fn)(const gcs_run *r, void *payload),
                        void *payload);
/* Records the planned items as pending in one transaction (existing ones are
 * left as they are, so calling it again on resume is harmless). */
int gcs_store_items_add(gcs_store *s, const char *run_id, const char *const *keys, size_t n);
/*
 * Sets an item's state, durably: the mark is committed by the receipt writer in
 * one transaction with every receipt and mark queued before it, and the call
 * returns once that transaction is committed. Mark a create in_progress BEFORE
 * sending it: a resumed run that finds an item in_progress must look the user
 * up (by externalId / userName) instead of creating again. genesys_id NULL
 * keeps the known one. Each in_progress mark counts an attempt.
 */
int gcs_store_item_mark(gcs_store *s, const char *run_id, const char *key, const char *state,
                        const char *genesys_id, const char *detail);
/*
 * The same mark, queued: the writer commits it with the next batch, after the
 * receipts and marks queued before it (so a mark never lands without the
 * receipt of the call it records, and never overtakes an earlier mark of the
 * item). Durable once gcs_store_flush() has returned 0 after it; a crash
 * before that loses the mark with those receipts, and the item keeps its
 * earlier state. For outcomes that a resume can establish again (done,
 * failed); the in_progress mark a create needs before it is sent only when a
 * flush follows before the create leaves.
 * Fails when the writer's last batch failed, so that a caller stops sending.
 * Reading runs or items flushes first.
 */
int gcs_store_item_mark_queued(gcs_store *s, const char *run_id, const char *key,
                               const char *state, const char *genesys_id, const char *detail);
/* Fills *out with owned copies; release with gcs_run_item_release. */
int gcs_store_item_get(gcs_run_item *out, gcs_store *s, const char *run_id, const char *key);
void gcs_run_item_release(gcs_run_item *item);
/* Items of a run in key order, optionally only those in `state`. */
int gcs_store_items_each(gcs_store *s, const char *run_id, const char *state,
                         int (*fn)(const gcs_run_item *item, void *payload), void *payload);

/* ==== The plan of each run ==== */

/* A run's plan is kept at most this big; apply does not keep a larger one (its
 * run cannot be undone). */
#define GCS_STORE_PLAN_MAX (256L * 1024 * 1024)

/*
 * Keeps the plan document a run applies (`text`, `len` bytes of JSON), once:
 * the first one kept for a run stays (a resume keeps the same plan again
 * harmlessly). GCS_EINVALID when len is over GCS_STORE_PLAN_MAX (nothing is
 * read), GCS_ENOTFOUND when there is no such run.
 */
int gcs_store_run_plan_put(gcs_store *s, const char *run_id, const char *text, size_t len);
/*
 * The same from a source of text in pieces, never held whole: `feed` fills buf
 * with at most size bytes and returns how many, 0 at the end, (size_t)-1 on an
 * error (errno set); gcs_plan_text_feed is one. The text is kept as parts of
 * at most GCS_STORE_PLAN_PART bytes, each cut on a UTF-8 character's boundary,
 * in one transaction with the run's row in run_plans: all or nothing.
 * GCS_EINVALID once the text passes GCS_STORE_PLAN_MAX (nothing is kept).
 */
#define GCS_STORE_PLAN_PART ((size_t)1 << 20)
typedef size_t (*gcs_store_text_feed_fn)(char *buf, size_t size, void *payload);
int gcs_store_run_plan_put_feed(gcs_store *s, const char *run_id, gcs_store_text_feed_fn feed,
                                void *payload);
/* Part `part` (from 0) of the plan kept for run_id, in order: their texts one
 * after the other are the plan (*out is the caller's, NUL-terminated, *len its
 * length; len may be NULL). GCS_ENOTFOUND past the last part, and for part 0
 * when no plan was kept. How undo reads a plan without holding it whole. */
int gcs_store_run_plan_part(char **out, size_t *len, gcs_store *s, const char *run_id, long part);
/* The plan kept for run_id whole (*out is the caller's, NUL-terminated, *len its
 * length; len may be NULL), or GCS_ENOTFOUND. */
int gcs_store_run_plan_get(char **out, size_t *len, gcs_store *s, const char *run_id);

/* ==== Run leases: one apply or sync of a plan at a time ==== */

/*
 * A lease names the process that is applying a plan (keyed by the plan's
 * identity, so that two processes starting the same plan cannot both create a
 * run of it either). It is taken and renewed by single conditional statements
 * (INSERT ... ON CONFLICT DO UPDATE ... WHERE): of two processes, on one host
 * or several sharing a PostgreSQL database, exactly one wins. Times are the
 * hosts' wall clocks: hosts sharing a database must keep them in step (NTP)
 * to well within a lease's length.
 */
typedef struct gcs_run_lease {
    char *plan_id;
    char *run_id;        /* NULL until the holder names its run */
    char *owner;         /* "HOST:PID:TOKEN": unique per process */
    char *host;
    int64_t pid;
    int64_t since_ms;    /* when this owner took it */
    int64_t heartbeat_ms;/* its last renewal */
    int64_t until_ms;    /* it expires then unless renewed */
} gcs_run_lease;

void gcs_run_lease_release(gcs_run_lease *l);
/*
 * Takes the lease of plan_id for `owner` until now + ttl_ms. Granted when
 * nobody holds it, when the holder's lease has expired, when the holder is
 * `owner` itself (then `since` is kept), or when the holder is `dead_owner` (a
 * holder the caller proved dead, e.g. a process of this host that no longer
 * exists; NULL: none). GCS_ECONFLICT when someone else holds it: *holder (may
 * be NULL) then describes the holder.
 */
int gcs_store_lease_take(gcs_run_lease *holder, gcs_store *s, const char *plan_id,
                         const char *owner, const char *host, int64_t pid, int64_t ttl_ms,
                         const char *dead_owner);
/* Extends the lease to now + ttl_ms and records run_id (NULL keeps it).
 * GCS_ECONFLICT when `owner` no longer holds it (it expired and was taken). */
int gcs_store_lease_renew(gcs_store *s, const char *plan_id, const char *owner,
                          const char *run_id, int64_t ttl_ms);
/* Gives the lease up; nothing happens when `owner` does not hold it. */
int gcs_store_lease_release(gcs_store *s, const char *plan_id, const char *owner);
/* The lease of plan_id, expired or not; GCS_ENOTFOUND when none. */
int gcs_store_lease_get(gcs_run_lease *out, gcs_store *s, const char *plan_id);

/* ==== Hosts: the processes sharing one client's rate limit ==== */

/*
 * Genesys counts requests per token and forbids more tokens to multiply the
 * limit, so the serve processes of one client (several hosts on one
 * PostgreSQL) divide one limit between them: each beats its row here and
 * spends 1/live of it (http/pacer.h). A row lives ttl_ms past its last beat.
 */
/* Records host_id alive until now + ttl_ms, forgets rows past their expiry,
 * and sets *live (may be NULL) to the hosts alive now, this one included. */
int gcs_store_host_beat(int *live, gcs_store *s, const char *host_id, int64_t ttl_ms);
/* host_id stops counting at once (a clean stop). */
int gcs_store_host_leave(gcs_store *s, const char *host_id);

/* ==== Group ownership: what gcscim added to groups ==== */

/*
 * gcscim removes a member from a group, or revokes a role grant the group
 * holds, only when it added it (unless the group is authoritative): each add
 * is recorded here when Genesys confirmed it, and forgotten when gcscim
 * removed it. `kind` is GCS_OWNED_MEMBER (value: a user id) or
 * GCS_OWNED_GRANT (value: "roleId/divisionId"). Adding twice is no error.
 */
#define GCS_OWNED_MEMBER "member"
#define GCS_OWNED_GRANT "grant"

int gcs_store_owned_add(gcs_store *s, const char *group_id, const char *kind, const char *value,
                        const char *run_id);
int gcs_store_owned_remove(gcs_store *s, const char *group_id, const char *kind,
                           const char *value);
/* Calls fn for every value of (group_id, kind); a nonzero return stops and is returned. */
int gcs_store_owned_each(gcs_store *s, const char *group_id, const char *kind,
                         int (*fn)(const char *value, void *payload), void *payload);

/* ==== Group hierarchy: the directory's nesting of kept groups ==== */

/*
 * With the hierarchy kept, each directory group is its own Genesys group and
 * the nesting exists only in the directory: the store records it, per group
 * key, as the parent keys the group had when gcscim last applied it. The links
 * are replaced with the group's item mark, in one transaction, so that they
 * never say more than what was applied. Readers: the planner (a parent link
 * that changed is an operation, shown with old and new parents) and anyone who
 * needs a group's known children (serve's group events).
 */
struct gcs_outbox_event; /* below, "Outbox" */

typedef struct gcs_group_links {
    const char *group_key;      /* the directory's key of the group */
    const char *group_id;       /* its Genesys group (may be NULL) */
    const char *const *parents; /* the parents' directory keys */
    size_t count;
} gcs_group_links;

/*
 * gcs_store_item_mark_notify (ev may be NULL: a plain mark), and, when
 * `links` is not NULL and the state is done, the group's parent links
 * replaced by `links` in the same transaction. Durable once gcs_store_flush
 * has returned 0 after it.
 */
int gcs_store_item_mark_group(gcs_store *s, const char *run_id, const char *key,
                              const char *state, const char *genesys_id, const char *detail,
                              const struct gcs_outbox_event *ev, const gcs_group_links *links);
/* Calls fn for each parent key recorded for group_key, in key order (none
 * when nothing is recorded); a nonzero return stops and is returned. */
int gcs_store_group_parents_each(gcs_store *s, const char *group_key,
                                 int (*fn)(const char *parent_key, void *payload), void *payload);
/* Calls fn for each group recorded under parent_key, in key order, with its
 * Genesys id (NULL when unknown). */
int gcs_store_group_children_each(gcs_store *s, const char *parent_key,
                                  int (*fn)(const char *group_key, const char *group_id,
                                            void *payload),
                                  void *payload);

/* ==== Job queue ==== */

#define GCS_JOB_PENDING "pending"
#define GCS_JOB_RUNNING "running"
#define GCS_JOB_DONE "done"
#define GCS_JOB_DEAD "dead"
#define GCS_JOB_DROPPED "dropped"
#define GCS_JOB_NEEDS_APPROVAL "needs_approval" /* waits for `gcscim jobs approve` */
#define GCS_JOB_PAYLOAD_MAX (1024 * 1024)

typedef struct gcs_job {
    int64_t id;
    char *key;           /* jobs of one key run one at a time, in order */
    char *payload;       /* JSON text */
    char *state;         /* GCS_JOB_* */
    int attempts, max_attempts;
    int64_t not_before_ms;    /* not claimed before this wall-clock time */
    char *lease_owner;
    int64_t lease_until_ms;
    char *last_error;
    int64_t created_ms, updated_ms;
    char *result;        /* JSON text: the outcome, once done or waiting for approval; NULL */
} gcs_job;

void gcs_job_release(gcs_job *j);
/* Backoff after the n-th failed attempt: min(max_ms, base_ms * 2^(n-1)).
 * Defaults: 1 s and 5 min. */
void gcs_store_set_job_backoff(gcs_store *s, int64_t base_ms, int64_t max_ms);
/* Enqueues a job; a pending job of the same key is replaced (its payload is the
 * newest desired state and it becomes ready now) instead of adding another.
 * *out_id (may be NULL) is the id of the job that will carry the payload. */
int gcs_store_job_enqueue(int64_t *out_id, gcs_store *s, const char *key, const char *payload,
                          int max_attempts);
/* Takes the oldest ready job whose key has no other job under a live lease,
 * leases it to `worker` for lease_ms and counts an attempt. A running job whose
 * lease expired is ready again (or dead when out of attempts).
 * GCS_ENOTFOUND when none is ready. */
int gcs_store_job_claim(gcs_job *out, gcs_store *s, const char *worker, int64_t lease_ms);
/* Renews a lease; GCS_ECONFLICT when the worker no longer holds it. */
int gcs_store_job_extend(gcs_store *s, int64_t id, const char *worker, int64_t lease_ms);
/* GCS_ECONFLICT when the worker no longer holds the lease. */
int gcs_store_job_complete(gcs_store *s, int64_t id, const char *worker);
/* The same, recording the job's outcome (JSON text, at most GCS_JOB_PAYLOAD_MAX
 * bytes; NULL: none). */
int gcs_store_job_complete_with(gcs_store *s, int64_t id, const char *worker,
                                const char *result_json);
/* The job's plan needs an approval: it stops in GCS_JOB_NEEDS_APPROVAL with
 * `result_json` saying what is needed, until gcs_store_job_approve. */
int gcs_store_job_needs_approval(gcs_store *s, int64_t id, const char *worker,
                                 const char *result_json);
/* A job waiting for approval becomes pending again, now, with `payload` (the
 * same job with the approvals recorded in it) and its attempts reset.
 * GCS_ECONFLICT when it is not waiting for approval, or when a newer job of its
 * key exists (not dropped): an approval covers what was shown, never a state
 * older than the newest. */
int gcs_store_job_approve(gcs_store *s, int64_t id, const char *payload);
/* Gives a running job back unfinished (a service stopping): pending again at
 * once, the attempt its claim counted taken back; dropped when a newer job of
 * its key is pending. GCS_ECONFLICT when the worker no longer holds it. */
int gcs_store_job_release(gcs_store *s, int64_t id, const char *worker);
/* Pending again after max(retry_after_ms, backoff), or dead with `reason` when
 * the attempts are spent. */
int gcs_store_job_fail(gcs_store *s, int64_t id, const char *worker, const char *reason,
                       int64_t retry_after_ms);
int gcs_store_job_get(gcs_job *out, gcs_store *s, int64_t id);
/* Oldest first; state NULL means all. */
int gcs_store_jobs_each(gcs_store *s, const char *state,
                        int (*fn)(const gcs_job *j, void *payload), void *payload);
/* A dead, dropped or done job becomes pending with its attempts reset.
 * GCS_ECONFLICT for a running job, when another job of its key is pending, or
 * when a later job of its key (not dropped) exists: that one holds the newer
 * row, which this one would overwrite with its older one. */
int gcs_store_job_retry(gcs_store *s, int64_t id);
/* A pending, dead or waiting-for-approval job becomes dropped (kept for the
 * record). GCS_ECONFLICT for a running job. */
int gcs_store_job_drop(gcs_store *s, int64_t id);

/* ==== Intake: events and requests becoming jobs ==== */

/*
 * One accepted event or request. A webhook id (Standard Webhooks `webhook-id`)
 * makes a delivery idempotent: the first delivery enqueues the job and
 * records the id in the same transaction; a later delivery of the same id
 * (a retry, a replay) enqueues nothing and is told the first one's job.
 * A request with an idempotency key uses the same record, its id scoped so
 * that no webhook id can equal it, and a digest of what it asks
 * (request_hash; events carry one too): the same id with another digest
 * is a conflict, and enqueues nothing either. An id recorded without a
 * digest is not compared; a request without one never matches an id
 * recorded with one.
 */
typedef struct gcs_intake_item {
    const char *webhook_id;   /* NULL: not deduplicated (a REST call without a key) */
    const char *key;          /* the job key ("person:E1001") */
    const char *payload;      /* JSON text, at most GCS_JOB_PAYLOAD_MAX */
    int max_attempts;
    int64_t job_id;           /* out: the job that carries it (or carried the first delivery) */
    bool duplicate;           /* out: the webhook id was seen before, asking the same */
    const char *request_hash; /* with a webhook id: what the request asked; NULL: not compared */
    bool conflict;            /* out: the id was seen before asking something else
                               * (job_id: the first one's job) */
} gcs_intake_item;

#define GCS_WEBHOOK_ID_MAX 256
#define GCS_WEBHOOK_ID_RETENTION_MS_DEFAULT ((int64_t)7 * 24 * 3600 * 1000)

/*
 * Commits n items in ONE transaction: each becomes a job (gcs_store_job_enqueue:
 * a pending job of the same key takes the newest payload) and its webhook id is
 * recorded, unless seen before. Webhook ids received more than retention_ms
 * ago are forgotten in the same transaction. All or nothing: on failure no item
 * is committed (the caller answers 503 to each and the sender retries).
 */
int gcs_store_intake_commit(gcs_store *s, gcs_intake_item *items, size_t n, int64_t retention_ms);

/* Counts of jobs by state, for metrics and back-pressure. */
typedef struct gcs_job_counts {
    int64_t pending, running, done, dead, dropped, needs_approval;
} gcs_job_counts;
int gcs_store_job_counts(gcs_job_counts *out, gcs_store *s);
/* The pending jobs only (cheap: an index range), for back-pressure. */
int gcs_store_job_pending_count(int64_t *out, gcs_store *s);
/* The newest `limit` jobs of one key (0: all), newest first. */
int gcs_store_jobs_of_key(gcs_store *s, const char *key, int64_t limit,
                          int (*fn)(const gcs_job *j, void *payload), void *payload);
/* The receipt chain head's sequence number (0 when there is no receipt). */
int gcs_store_chain_head_seq(int64_t *out, gcs_store *s);

/* ==== Outbox: notifications of outcomes, delivered at least once ==== */

/*
 * A notification is written in the same transaction as the outcome it reports
 * (an item mark, a run's end), so that a crash between "done" and "notified"
 * loses nothing; a sender (service/notify.h) then delivers it, at least once.
 * One row per event and endpoint: each endpoint has its own delivery state.
 * Every row of one event shares its webhook id (msg_id), which never changes
 * across attempts, so that receivers deduplicate by it.
 *
 * States: pending -> sending (claimed under a lease) -> delivered;
 * sending -> pending (failed: retried after a backoff) or dead (its deadline,
 * created + dead_after, passed); a pending row past its deadline is dead when a
 * sender next looks; pending or dead -> dropped by hand; dead or dropped ->
 * pending by `notifications retry` (with a fresh deadline). A sending row whose
 * lease ran out (its sender died) is pending again for any sender. Claims take
 * rows under FOR UPDATE SKIP LOCKED on PostgreSQL (SQLite's write transactions
 * are exclusive already): one sender per notification across hosts.
 */

#define GCS_NOTE_PENDING "pending"
#define GCS_NOTE_SENDING "sending"
#define GCS_NOTE_DELIVERED "delivered"
#define GCS_NOTE_DEAD "dead"
#define GCS_NOTE_DROPPED "dropped"
#define GCS_NOTE_DEAD_AFTER_MS (24LL * 3600 * 1000) /* the default deadline */
#define GCS_NOTE_BODY_MAX (256 * 1024)
#define GCS_NOTE_ENDPOINTS_MAX 16

/* Which endpoints take which events: `events` is a NULL-terminated list of
 * event types ("user.created"), or of prefixes ending in ".*" ("user.*"), or
 * NULL for every event. Borrowed by whoever holds the routes. */
typedef struct gcs_outbox_route {
    const char *endpoint;            /* a name of at most 128 bytes */
    const char *const *events;
} gcs_outbox_route;

typedef struct gcs_outbox_routes {
    const gcs_outbox_route *routes;
    size_t count;                    /* at most GCS_NOTE_ENDPOINTS_MAX */
    int64_t dead_after_ms;           /* 0: GCS_NOTE_DEAD_AFTER_MS */
} gcs_outbox_routes;

/* Whether route r takes events of `type`. */
bool gcs_outbox_route_takes(const gcs_outbox_route *r, const char *type);

/* An event to notify. The body sent is
 * {"type":TYPE,"timestamp":ISO 8601,"data":DATA}, where DATA is `data` with,
 * when receipts_of_key is set, "receipts": the sequence numbers of the
 * receipts of data.run_id naming data.source_key, read in the transaction
 * that commits the event (so that they are exactly the receipts durable with
 * it). `data` must hold no secret: the caller leaves them out. */
typedef struct gcs_outbox_event {
    const char *type;
    const json_t *data;              /* borrowed; copied on the call */
    const gcs_outbox_routes *routes; /* NULL or no route taking it: nothing is written */
    bool receipts_of_key;
    /* Once committed, the event (its data, receipts included, and its type)
     * is also logged as one "audit.outcome" line (core/log.h, level info),
     * whether or not any endpoint takes it. */
    bool audit;
} gcs_outbox_event;

typedef struct gcs_notification {
    int64_t id;
    char *msg_id;        /* the webhook-id: "msg_" + 32 hex digits, one per event */
    char *endpoint;
    char *type;
    char *body;          /* the JSON text sent, fixed at creation */
    char *state;         /* GCS_NOTE_* */
    int attempts;
    int64_t not_before_ms, deadline_ms, dead_after_ms;
    char *lease_owner;
    int64_t lease_until_ms;
    char *last_error;
    int64_t created_ms, updated_ms, delivered_ms;
} gcs_notification;

void gcs_notification_release(gcs_notification *n);

/* The item mark of gcs_store_item_mark_queued, with the notification of the
 * outcome committed in the same transaction (ev NULL: a plain mark). Only an
 * outcome (done, failed) is notified. */
int gcs_store_item_mark_notify(gcs_store *s, const char *run_id, const char *key,
                               const char *state, const char *genesys_id, const char *detail,
                               const gcs_outbox_event *ev);
/* gcs_store_run_finish, with the notification in the same transaction. */
int gcs_store_run_finish_notify(gcs_store *s, const char *run_id, const char *state,
                                const gcs_outbox_event *ev);
/* Writes an event on its own (an outcome that has no other record), flushing
 * queued receipts first. *n_out (may be NULL): rows written. */
int gcs_store_outbox_add(size_t *n_out, gcs_store *s, const gcs_outbox_event *ev);

/* Backoff after the n-th failed attempt: min(max_ms, base_ms * 2^(n-1)).
 * Defaults: 5 s and 10 min. */
void gcs_store_set_notify_backoff(gcs_store *s, int64_t base_ms, int64_t max_ms);
/* Claims up to `max` ready notifications (pending and due by due_ms, 0 for
 * now, or sending under an expired lease) for `sender` until now + lease_ms,
 * counting an attempt on each, oldest first; pending rows past their deadline
 * become dead instead. A sender passes the time its pass began as due_ms, so
 * that what failed during the pass waits for the next one. *out is an array
 * of *n_out (0 when none is ready) that the caller frees with
 * gcs_notifications_free. */
int gcs_store_notifications_claim(gcs_notification **out, size_t *n_out, gcs_store *s,
                                  const char *sender, int64_t lease_ms, int64_t due_ms,
                                  size_t max);
void gcs_notifications_free(gcs_notification *list, size_t n);
/* Delivered (the receiver answered 2xx). GCS_ECONFLICT when the row is no
 * longer pending or sending (dropped meanwhile). */
int gcs_store_notification_delivered(gcs_store *s, int64_t id, const char *sender);
/* Pending again after max(retry_after_ms, backoff), or dead when that would
 * pass its deadline; *dead_out (may be NULL) says which. GCS_ECONFLICT when
 * `sender` no longer holds it. */
int gcs_store_notification_failed(bool *dead_out, gcs_store *s, int64_t id, const char *sender,
                                  const char *reason, int64_t retry_after_ms);
int gcs_store_notification_get(gcs_notification *out, gcs_store *s, int64_t id);
/* Oldest first; state NULL means all. */
int gcs_store_notifications_each(gcs_store *s, const char *state,
                                 int (*fn)(const gcs_notification *n, void *payload),
                                 void *payload);
/* A dead or dropped notification becomes pending, attempts reset, with a new
 * deadline. GCS_ECONFLICT in another state, GCS_ENOTFOUND when none. */
int gcs_store_notification_retry(gcs_store *s, int64_t id);
/* A pending or dead notification becomes dropped (kept for the record). */
int gcs_store_notification_drop(gcs_store *s, int64_t id);
/* How many are pending (including sending) and dead: the gauges of serve. */
int gcs_store_notification_counts(int64_t *pending, int64_t *dead, gcs_store *s);

#endif
