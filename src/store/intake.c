/*
 * Intake: accepted events and requests become jobs, durably and once
 * (docs/store.md, "Intake"; docs/serve.md).
 *
 * A batch is one write transaction, so that the service can answer many
 * events with one commit (intake_pass says how). Of two deliveries of one id,
 * on one host or two sharing a PostgreSQL database, exactly one records the
 * id: the other's insert finds the row (waiting for the first's commit when
 * it is not committed yet), its transaction starts again and then sees the
 * id as known, so only one job is enqueued.
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/time.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int id_row(const char *const *cols, int ncols, void *payload)
{
    if (ncols > 0 && cols[0])
        *(int64_t *)payload = gcs_store__sql_int(cols[0]);
    return 0;
}

#define ID_CHUNK 64   /* webhook ids per statement: SQLite allows 32766 parameters */

/* An IN list or a VALUES list of n groups of `group` placeholders. */
static int placeholders(gcs_buf *out, const char *head, size_t n, const char *group,
                        const char *tail)
{
    int rc = gcs_buf_puts(out, head);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = gcs_buf_printf(out, "%s%s", i ? "," : "", group);
    if (rc == 0)
        rc = gcs_buf_puts(out, tail);
    return rc < 0 ? gcs_error_set(GCS_ENOMEM, "out of memory") : 0;
}

typedef struct known_ctx {
    gcs_intake_item *items;
    size_t n;
} known_ctx;

/* Whether a request asked what the first with its id asked. The first's
 * NULL is not compared (an id recorded before what requests asked was
 * kept); a request without a digest never matches a first that has one. */
static bool same_request(const char *asked, const char *first)
{
    if (!first)
        return true;
    return asked && strcmp(asked, first) == 0;
}

/* A webhook id already recorded: every item carrying it is a duplicate of
 * its job, or a conflict when it asks something else. */
static int known_row(const char *const *cols, int ncols, void *payload)
{
    known_ctx *k = payload;
    if (ncols < 3 || !cols[0])
        return 0;
    for (size_t i = 0; i < k->n; i++) {
        gcs_intake_item *it = &k->items[i];
        if (it->webhook_id && strcmp(it->webhook_id, cols[0]) == 0) {
            if (same_request(it->request_hash, cols[2]))
                it->duplicate = true;
            else
                it->conflict = true;
            it->job_id = gcs_store__sql_int(cols[1]);
        }
    }
    return 0;
}

/* Size of the next statement over `left` ids: a power of two up to ID_CHUNK,
 * so that few distinct statements are prepared and cached. */
static size_t chunk_of(size_t left)
{
    size_t c = ID_CHUNK;
    while (c > left)
        c /= 2;
    return c;
}

/*
 * One pass over a batch inside its transaction:
 *  1. the webhook ids already recorded (a SELECT per chunk) make their items
 *     duplicates, and so does an id repeated within the batch;
 *  2. every other item is enqueued (one multi-row upsert per 64 jobs, their
 *     ids coming back with their keys: gcs_store__jobs_enqueue_many);
 *  3. their ids are recorded (one multi-row INSERT per chunk). An insert that
 *     finds an id already there means another host recorded it since step 1:
 *     GCS_ECONFLICT, and the caller runs the batch again from the start, when
 *     step 1 sees it.
 * Three statements per event become three per chunk of 64 events: what
 * PostgreSQL's round trips make worth it.
 */
static int intake_pass(gcs_store *s, gcs_intake_item *items, size_t n, const char *now)
{
    int rc = 0;
    gcs_buf sql;
    const char **params = NULL;
    size_t *fresh = NULL, nfresh = 0;
    gcs_buf_init(&sql, 64 * 1024);
    size_t m = n ? n : 1;
    params = calloc(4 * m, sizeof *params);
    fresh = calloc(m, sizeof *fresh);
    char (*job_ids)[24] = calloc(m, sizeof *job_ids);
    size_t *first_of = malloc(m * sizeof *first_of), *new_items = calloc(m, sizeof *new_items);
    const char **keys = calloc(m, sizeof *keys), **payloads = calloc(m, sizeof *payloads);
    int *attempts = calloc(m, sizeof *attempts);
    int64_t *new_ids = calloc(m, sizeof *new_ids);
    if (first_of)
        for (size_t i = 0; i < m; i++)
            first_of[i] = SIZE_MAX;
    if (!params || !fresh || !job_ids || !first_of || !new_items || !keys || !payloads ||
        !attempts || !new_ids) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    size_t nids = 0;
    for (size_t i = 0; i < n; i++) {
        items[i].job_id = 0;
        items[i].duplicate = items[i].conflict = false;
        if (!items[i].webhook_id)
            continue;
        size_t len = strnlen(items[i].webhook_id, GCS_WEBHOOK_ID_MAX + 1);
        if (len == 0 || len > GCS_WEBHOOK_ID_MAX) {
            rc = gcs_error_set(GCS_EINVALID, "a webhook id must be 1 to %d bytes",
                               GCS_WEBHOOK_ID_MAX);
            goto out;
        }
        params[nids++] = items[i].webhook_id;
    }
    known_ctx known = {items, n};
    for (size_t at = 0; at < nids;) {
        size_t c = chunk_of(nids - at);
        gcs_buf_clear(&sql);
        if ((rc = placeholders(&sql,
                               "SELECT webhook_id, job_id, request_hash FROM webhook_ids"
                               " WHERE webhook_id IN (",
                               c, "?", ")")) < 0 ||
            (rc = gcs_store__sql_exec(s, sql.ptr, params + at, (int)c, known_row, &known, NULL)) < 0)
            goto out;
        at += c;
    }

    /* Enqueue what is new, in as few statements as the rows allow; an id met
     * earlier in this batch follows its first item. */
    size_t nnew = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].duplicate || items[i].conflict)
            continue;
        bool repeat = false;
        for (size_t j = 0; items[i].webhook_id && j < nfresh && !repeat; j++) {
            gcs_intake_item *first = &items[fresh[j]];
            if (first->webhook_id && strcmp(first->webhook_id, items[i].webhook_id) == 0) {
                if (same_request(items[i].request_hash, first->request_hash))
                    items[i].duplicate = true;
                else
                    items[i].conflict = true;
                first_of[i] = fresh[j];
                repeat = true;
            }
        }
        if (repeat)
            continue;
        new_items[nnew] = i;
        keys[nnew] = items[i].key;
        payloads[nnew] = items[i].payload;
        attempts[nnew++] = items[i].max_attempts;
        if (items[i].webhook_id)
            fresh[nfresh++] = i;
    }
    if (nnew > 0 &&
        (rc = gcs_store__jobs_enqueue_many(new_ids, s, keys, payloads, attempts, nnew)) < 0)
        goto out;
    for (size_t k = 0; k < nnew; k++)
        items[new_items[k]].job_id = new_ids[k];
    for (size_t i = 0; i < n; i++)
        if ((items[i].duplicate || items[i].conflict) && first_of[i] != SIZE_MAX)
            items[i].job_id = items[first_of[i]].job_id;

    /* Record the new ids. */
    for (size_t at = 0; at < nfresh;) {
        size_t c = chunk_of(nfresh - at);
        for (size_t k = 0; k < c; k++) {
            gcs_intake_item *it = &items[fresh[at + k]];
            params[4 * k] = it->webhook_id;
            params[4 * k + 1] = gcs_store__sql_i64(job_ids[at + k], it->job_id);
            params[4 * k + 2] = now;
            params[4 * k + 3] = it->request_hash;
        }
        int64_t changes = 0;
        gcs_buf_clear(&sql);
        if ((rc = placeholders(&sql,
                               "INSERT INTO webhook_ids"
                               " (webhook_id, job_id, received_ms, request_hash) VALUES ",
                               c, "(?,?,?,?)", " ON CONFLICT (webhook_id) DO NOTHING")) < 0 ||
            (rc = gcs_store__sql_exec(s, sql.ptr, params, (int)(4 * c), NULL, NULL, &changes)) < 0)
            goto out;
        if (changes != (int64_t)c) {
            rc = gcs_error_set(GCS_ECONFLICT, "a webhook id was recorded meanwhile by another host");
            goto out;
        }
        at += c;
    }
out:
    free(new_ids);
    free(attempts);
    free(payloads);
    free(keys);
    free(new_items);
    free(first_of);
    free(job_ids);
    free(fresh);
    free(params);
    gcs_buf_release(&sql);
    return rc;
}

int gcs_store_intake_commit(gcs_store *s, gcs_intake_item *items, size_t n, int64_t retention_ms)
{
    int rc;
    char now[24], cutoff[24];
    for (int attempt = 0;; attempt++) {
        int64_t wall = gcs_time_wall_ms();
        gcs_store__sql_i64(now, wall);
        if ((rc = gcs_store__sql_begin(s, true)) < 0)
            break;
        rc = intake_pass(s, items, n, now);
        if (rc == 0 && retention_ms > 0) {
            const char *params[] = {gcs_store__sql_i64(cutoff, wall - retention_ms)};
            rc = gcs_store__sql_exec(s, "DELETE FROM webhook_ids WHERE received_ms < ?", params, 1,
                                     NULL, NULL, NULL);
        }
        if (rc == 0)
            rc = gcs_store__sql_commit(s);
        if (rc == GCS_ECONFLICT && attempt < 3) {
            gcs_store__sql_rollback(s);
            continue;
        }
        break;
    }
    if (rc < 0) {
        gcs_store__sql_rollback(s);
        for (size_t i = 0; i < n; i++) {
            items[i].job_id = 0;
            items[i].duplicate = items[i].conflict = false;
        }
        gcs_error_prefix(rc, "cannot commit %zu accepted event%s", n, n == 1 ? "" : "s");
    }
    return rc;
}

/* ==== Counts ==== */

static int count_row(const char *const *cols, int ncols, void *payload)
{
    gcs_job_counts *c = payload;
    if (ncols < 2 || !cols[0])
        return 0;
    int64_t n = gcs_store__sql_int(cols[1]);
    if (strcmp(cols[0], GCS_JOB_PENDING) == 0)
        c->pending = n;
    else if (strcmp(cols[0], GCS_JOB_RUNNING) == 0)
        c->running = n;
    else if (strcmp(cols[0], GCS_JOB_DONE) == 0)
        c->done = n;
    else if (strcmp(cols[0], GCS_JOB_DEAD) == 0)
        c->dead = n;
    else if (strcmp(cols[0], GCS_JOB_DROPPED) == 0)
        c->dropped = n;
    else if (strcmp(cols[0], GCS_JOB_NEEDS_APPROVAL) == 0)
        c->needs_approval = n;
    return 0;
}

int gcs_store_job_counts(gcs_job_counts *out, gcs_store *s)
{
    memset(out, 0, sizeof *out);
    return gcs_store__sql_exec(s, "SELECT state, COUNT(*) FROM jobs GROUP BY state", NULL, 0,
                               count_row, out, NULL);
}

int gcs_store_job_pending_count(int64_t *out, gcs_store *s)
{
    *out = 0;
    return gcs_store__sql_exec(s, "SELECT COUNT(*) FROM jobs WHERE state = 'pending'", NULL, 0,
                               id_row, out, NULL);
}

int gcs_store_chain_head_seq(int64_t *out, gcs_store *s)
{
    *out = 0;
    return gcs_store__sql_exec(s, "SELECT seq FROM chain_head WHERE id = 1", NULL, 0, id_row, out,
                               NULL);
}

/* ==== Jobs of one key ==== */

typedef struct key_jobs {
    int (*fn)(const gcs_job *j, void *payload);
    void *payload;
} key_jobs;

static int key_job_id_row(const char *const *cols, int ncols, void *payload)
{
    gcs_buf *ids = payload;
    int64_t id = ncols > 0 && cols[0] ? gcs_store__sql_int(cols[0]) : 0;
    return gcs_buf_put(ids, &id, sizeof id) < 0 ? gcs_error_set(GCS_ENOMEM, "out of memory") : 0;
}

int gcs_store_jobs_of_key(gcs_store *s, const char *key, int64_t limit,
                          int (*fn)(const gcs_job *j, void *payload), void *payload)
{
    char lim[24];
    int rc;
    gcs_buf ids;
    gcs_buf_init(&ids, 1024 * 1024);
    const char *params[] = {key, gcs_store__sql_i64(lim, limit > 0 ? limit : INT64_MAX)};
    /* The ids first, then each job through the one reader of jobs.c, so that
     * the columns are read in one place. */
    if ((rc = gcs_store__sql_exec(s, "SELECT id FROM jobs WHERE job_key = ? ORDER BY id DESC LIMIT ?",
                                  params, 2, key_job_id_row, &ids, NULL)) < 0)
        goto out;
    for (size_t i = 0; i < ids.len / sizeof(int64_t); i++) {
        int64_t id;
        gcs_job j;
        memcpy(&id, ids.ptr + i * sizeof id, sizeof id);
        if ((rc = gcs_store_job_get(&j, s, id)) < 0) {
            if (rc == GCS_ENOTFOUND)
                continue;
            goto out;
        }
        rc = fn(&j, payload);
        gcs_job_release(&j);
        if (rc)
            goto out;
    }
out:
    gcs_buf_release(&ids);
    return rc;
}
