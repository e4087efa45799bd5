/*
 * Intake: accepted events and requests become jobs, durably and once
 * (docs/store.md, "Intake"; docs/serve.md).
 *
 * A batch is one write transaction, so that the service can answer many
 * events with one commit. Each webhook id is inserted first with ON CONFLICT
 * DO NOTHING: of two deliveries of one id, on one host or two sharing a
 * PostgreSQL database, exactly one inserts the row (the other waits for the
 * first's commit, then sees the conflict) and only that one enqueues a job.
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/time.h"

#include <stdint.h>
#include <string.h>

static int id_row(const char *const *cols, int ncols, void *payload)
{
    if (ncols > 0 && cols[0])
        *(int64_t *)payload = gcs_store__sql_int(cols[0]);
    return 0;
}

static int intake_one(gcs_store *s, gcs_intake_item *it, const char *now)
{
    int rc;
    int64_t changes = 0;
    it->job_id = 0;
    it->duplicate = false;
    if (it->webhook_id) {
        size_t len = strnlen(it->webhook_id, GCS_WEBHOOK_ID_MAX + 1);
        if (len == 0 || len > GCS_WEBHOOK_ID_MAX)
            return gcs_error_set(GCS_EINVALID, "a webhook id must be 1 to %d bytes",
                                 GCS_WEBHOOK_ID_MAX);
        const char *params[] = {it->webhook_id, now};
        if ((rc = gcs_store__sql_exec(s,
                                      "INSERT INTO webhook_ids (webhook_id, job_id, received_ms)"
                                      " VALUES (?, NULL, ?) ON CONFLICT (webhook_id) DO NOTHING",
                                      params, 2, NULL, NULL, &changes)) < 0)
            return rc;
        if (changes == 0) {
            const char *p[] = {it->webhook_id};
            it->duplicate = true;
            return gcs_store__sql_exec(s, "SELECT job_id FROM webhook_ids WHERE webhook_id = ?",
                                       p, 1, id_row, &it->job_id, NULL);
        }
    }
    if ((rc = gcs_store_job_enqueue(&it->job_id, s, it->key, it->payload, it->max_attempts)) < 0)
        return rc;
    if (it->webhook_id) {
        char job[24];
        const char *params[] = {gcs_store__sql_i64(job, it->job_id), it->webhook_id};
        rc = gcs_store__sql_exec(s, "UPDATE webhook_ids SET job_id = ? WHERE webhook_id = ?",
                                 params, 2, NULL, NULL, NULL);
    }
    return rc;
}

int gcs_store_intake_commit(gcs_store *s, gcs_intake_item *items, size_t n, int64_t retention_ms)
{
    int rc;
    char now[24], cutoff[24];
    int64_t wall = gcs_time_wall_ms();
    gcs_store__sql_i64(now, wall);
    if ((rc = gcs_store__sql_begin(s, true)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if ((rc = intake_one(s, &items[i], now)) < 0)
            goto out;
    }
    if (retention_ms > 0) {
        const char *params[] = {gcs_store__sql_i64(cutoff, wall - retention_ms)};
        if ((rc = gcs_store__sql_exec(s, "DELETE FROM webhook_ids WHERE received_ms < ?", params,
                                      1, NULL, NULL, NULL)) < 0)
            goto out;
    }
    rc = gcs_store__sql_commit(s);
out:
    if (rc < 0) {
        gcs_store__sql_rollback(s);
        for (size_t i = 0; i < n; i++) {
            items[i].job_id = 0;
            items[i].duplicate = false;
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
