/*
 * The durable job queue (docs/store.md, "Job queue").
 *
 * States: pending -> running -> done; running -> pending (failed, retried after
 * a backoff) or dead (attempts spent); pending/dead -> dropped by hand; dead,
 * dropped or done -> pending by `jobs retry`.
 * At most one job per key is pending (a unique partial index): enqueueing a key
 * that has one replaces its payload, because only the newest desired state
 * matters. A job is claimed only when no other job of its key runs under a
 * live lease; on PostgreSQL the candidates are locked FOR UPDATE SKIP LOCKED
 * and the key with a transaction-scoped advisory lock, so that workers on
 * several hosts never take two jobs of one key, nor one job twice.
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/time.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_COLUMNS                                                                                \
    "id, job_key, payload, state, attempts, max_attempts, not_before_ms, lease_owner,"            \
    " lease_until_ms, last_error, created_ms, updated_ms, result"
#define CLAIM_BATCH 32

void gcs_job_release(gcs_job *j)
{
    if (!j)
        return;
    free(j->key);
    free(j->payload);
    free(j->state);
    free(j->lease_owner);
    free(j->last_error);
    free(j->result);
    memset(j, 0, sizeof *j);
}

void gcs_store_set_job_backoff(gcs_store *s, int64_t base_ms, int64_t max_ms)
{
    gcs_store__backoff_set(&s->job_backoff, base_ms, max_ms);
}

/* ==== Reading ==== */

static int fill_job(gcs_job *j, const char *const *c)
{
    memset(j, 0, sizeof *j);
    j->id = gcs_store__sql_int(c[0]);
    j->key = gcs_store__sql_dup(c[1]);
    j->payload = gcs_store__sql_dup(c[2]);
    j->state = gcs_store__sql_dup(c[3]);
    j->attempts = (int)gcs_store__sql_int(c[4]);
    j->max_attempts = (int)gcs_store__sql_int(c[5]);
    j->not_before_ms = gcs_store__sql_int(c[6]);
    j->lease_owner = gcs_store__sql_dup(c[7]);
    j->lease_until_ms = gcs_store__sql_int(c[8]);
    j->last_error = gcs_store__sql_dup(c[9]);
    j->created_ms = gcs_store__sql_int(c[10]);
    j->updated_ms = gcs_store__sql_int(c[11]);
    j->result = gcs_store__sql_dup(c[12]);
    if (!j->key || !j->payload || !j->state || (c[12] && !j->result)) {
        gcs_job_release(j);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return 0;
}

typedef struct one_job {
    gcs_job *out;
    bool found;
} one_job;

static int one_job_row(const char *const *cols, int ncols, void *payload)
{
    one_job *o = payload;
    int rc;
    if (ncols < 13 || o->found)
        return 0;
    if ((rc = fill_job(o->out, cols)) < 0)
        return rc;
    o->found = true;
    return 0;
}

int gcs_store_job_get(gcs_job *out, gcs_store *s, int64_t id)
{
    char nid[24];
    memset(out, 0, sizeof *out);
    one_job o = {out, false};
    const char *params[] = {gcs_store__sql_i64(nid, id)};
    int rc = gcs_store__sql_exec(s, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?", params, 1,
                                 one_job_row, &o, NULL);
    if (rc == 0 && !o.found)
        rc = gcs_error_set(GCS_ENOTFOUND, "no job %lld", (long long)id);
    return rc;
}

typedef struct jobs_ctx {
    int (*fn)(const gcs_job *j, void *payload);
    void *payload;
} jobs_ctx;

static int jobs_row(const char *const *cols, int ncols, void *payload)
{
    jobs_ctx *c = payload;
    gcs_job j;
    int rc;
    if (ncols < 13)
        return 0;
    if ((rc = fill_job(&j, cols)) < 0)
        return rc;
    rc = c->fn(&j, c->payload);
    gcs_job_release(&j);
    return rc;
}

int gcs_store_jobs_each(gcs_store *s, const char *state,
                        int (*fn)(const gcs_job *j, void *payload), void *payload)
{
    jobs_ctx c = {fn, payload};
    const char *params[] = {state};
    if (state)
        return gcs_store__sql_exec(s,
                                   "SELECT " JOB_COLUMNS " FROM jobs WHERE state = ? ORDER BY id",
                                   params, 1, jobs_row, &c, NULL);
    return gcs_store__sql_exec(s, "SELECT " JOB_COLUMNS " FROM jobs ORDER BY id", NULL, 0, jobs_row,
                               &c, NULL);
}

/* ==== Enqueueing ==== */

static int id_row(const char *const *cols, int ncols, void *payload)
{
    if (ncols > 0 && cols[0])
        *(int64_t *)payload = gcs_store__sql_int(cols[0]);
    return 0;
}

/* A job's key and payload as the queue takes them: a key of 1 to
 * GCS_RECEIPT_FIELD_MAX bytes, a payload of JSON within GCS_JOB_PAYLOAD_MAX. */
static int check_job(const char *key, const char *payload)
{
    if (!key || !*key || strlen(key) > GCS_RECEIPT_FIELD_MAX)
        return gcs_error_set(GCS_EINVALID, "a job needs a key of 1 to %d bytes",
                             GCS_RECEIPT_FIELD_MAX);
    size_t len = payload ? strnlen(payload, GCS_JOB_PAYLOAD_MAX + 1) : 0;
    if (!payload || len > GCS_JOB_PAYLOAD_MAX)
        return gcs_error_set(GCS_EINVALID, "job '%s': the payload must be JSON of at most %d bytes",
                             key, GCS_JOB_PAYLOAD_MAX);
    json_error_t jerr;
    json_t *check = json_loadb(payload, len, JSON_DECODE_ANY, &jerr);
    if (!check)
        return gcs_error_set(GCS_EINVALID, "job '%s': the payload is not JSON: %s", key,
                             jerr.text);
    json_decref(check);
    return 0;
}

/* One statement, so that two hosts enqueueing the same key at once still
 * leave one pending job; with several rows, every key at most once. */
#define ENQUEUE_HEAD                                                                               \
    "INSERT INTO jobs (job_key, payload, state, attempts, max_attempts,"                          \
    " not_before_ms, created_ms, updated_ms) VALUES "
#define ENQUEUE_ROW "(?, ?, 'pending', 0, ?, ?, ?, ?)"
#define ENQUEUE_TAIL                                                                               \
    " ON CONFLICT (job_key) WHERE state = 'pending' DO UPDATE SET"                                \
    " payload = excluded.payload, attempts = 0,"                                                  \
    " max_attempts = excluded.max_attempts,"                                                      \
    " not_before_ms = excluded.not_before_ms,"                                                    \
    " updated_ms = excluded.updated_ms, last_error = NULL"

int gcs_store_job_enqueue(int64_t *out_id, gcs_store *s, const char *key, const char *payload,
                          int max_attempts)
{
    int64_t id = 0;
    char now[24], maxa[24];
    int rc;
    if (out_id)
        *out_id = 0;
    if ((rc = check_job(key, payload)) < 0)
        return rc;
    if (max_attempts < 1)
        max_attempts = 1;
    gcs_store__sql_i64(now, gcs_time_wall_ms());
    const char *params[] = {key, payload, gcs_store__sql_i64(maxa, max_attempts), now, now, now};
    rc = gcs_store__sql_exec(s, ENQUEUE_HEAD ENQUEUE_ROW ENQUEUE_TAIL " RETURNING id", params, 6,
                             id_row, &id, NULL);
    if (rc < 0)
        return gcs_error_prefix(rc, "cannot enqueue job '%s'", key);
    if (out_id)
        *out_id = id;
    return 0;
}

#define ENQUEUE_CHUNK 64 /* rows per statement: 6 parameters each */

typedef struct enqueued {
    const char *const *keys;
    const size_t *rows; /* the statement's rows: indexes into keys */
    size_t nrows;
    int64_t *ids;
} enqueued;

/* RETURNING job_key, id: the id goes to every item of that key. */
static int enqueued_row(const char *const *cols, int ncols, void *payload)
{
    enqueued *e = payload;
    if (ncols < 2 || !cols[0])
        return 0;
    for (size_t r = 0; r < e->nrows; r++)
        if (strcmp(e->keys[e->rows[r]], cols[0]) == 0)
            e->ids[e->rows[r]] = gcs_store__sql_int(cols[1]);
    return 0;
}

int gcs_store__jobs_enqueue_many(int64_t *ids, gcs_store *s, const char *const *keys,
                                 const char *const *payloads, const int *max_attempts, size_t n)
{
    int rc = 0;
    char now[24];
    gcs_buf sql;
    gcs_buf_init(&sql, 64 * 1024);
    size_t *last = calloc(n ? n : 1, sizeof *last), nlast = 0;
    const char **params = calloc(6 * ENQUEUE_CHUNK, sizeof *params);
    char(*maxa)[24] = calloc(ENQUEUE_CHUNK, sizeof *maxa);
    if (!last || !params || !maxa) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    gcs_store__sql_i64(now, gcs_time_wall_ms());
    /* The last item of each key is the row: one after the other, the later
     * would take the pending job of the earlier. */
    for (size_t i = 0; i < n; i++) {
        ids[i] = 0;
        if ((rc = check_job(keys[i], payloads[i])) < 0)
            goto out;
        bool later = false;
        for (size_t j = i + 1; j < n && !later; j++)
            later = strcmp(keys[i], keys[j]) == 0;
        if (!later)
            last[nlast++] = i;
    }
    for (size_t at = 0; at < nlast;) {
        size_t c = nlast - at < ENQUEUE_CHUNK ? nlast - at : ENQUEUE_CHUNK;
        gcs_buf_clear(&sql);
        rc = gcs_buf_puts(&sql, ENQUEUE_HEAD);
        for (size_t k = 0; rc == 0 && k < c; k++) {
            size_t i = last[at + k];
            const char **p = params + 6 * k;
            p[0] = keys[i];
            p[1] = payloads[i];
            p[2] = gcs_store__sql_i64(maxa[k], max_attempts[i] < 1 ? 1 : max_attempts[i]);
            p[3] = p[4] = p[5] = now;
            rc = gcs_buf_printf(&sql, "%s" ENQUEUE_ROW, k ? "," : "");
        }
        if (rc == 0)
            rc = gcs_buf_puts(&sql, ENQUEUE_TAIL " RETURNING job_key, id");
        if (rc < 0) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
        enqueued e = {keys, last + at, c, ids};
        if ((rc = gcs_store__sql_exec(s, sql.ptr, params, (int)(6 * c), enqueued_row, &e, NULL)) <
            0) {
            gcs_error_prefix(rc, "cannot enqueue %zu jobs", c);
            goto out;
        }
        at += c;
    }
    /* Every item of a key carries its row's job. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n && ids[i] == 0; j++)
            if (strcmp(keys[i], keys[j]) == 0)
                ids[i] = ids[j];
    for (size_t i = 0; i < n; i++)
        if (ids[i] == 0) {
            rc = gcs_error_set(GCS_ERROR, "job '%s': the store returned no id", keys[i]);
            goto out;
        }
out:
    free(maxa);
    free(params);
    free(last);
    gcs_buf_release(&sql);
    return rc;
}

/* ==== Claiming ==== */

typedef struct candidate {
    int64_t id;
    char key[GCS_RECEIPT_FIELD_MAX + 1];
    bool expired;    /* running under a lease that ran out */
    int attempts, max_attempts;
    char owner[128];
} candidate;

typedef struct candidates {
    candidate *c;
    int n;
} candidates;

static int candidate_row(const char *const *cols, int ncols, void *payload)
{
    candidates *cs = payload;
    if (ncols < 6 || cs->n >= CLAIM_BATCH)
        return 0;
    candidate *c = &cs->c[cs->n++];
    c->id = gcs_store__sql_int(cols[0]);
    snprintf(c->key, sizeof c->key, "%s", cols[1] ? cols[1] : "");
    c->expired = cols[2] && strcmp(cols[2], GCS_JOB_RUNNING) == 0;
    c->attempts = (int)gcs_store__sql_int(cols[3]);
    c->max_attempts = (int)gcs_store__sql_int(cols[4]);
    snprintf(c->owner, sizeof c->owner, "%s", cols[5] ? cols[5] : "");
    return 0;
}

static int bool_row(const char *const *cols, int ncols, void *payload)
{
    if (ncols > 0 && cols[0])
        *(bool *)payload = strcmp(cols[0], "t") == 0 || strcmp(cols[0], "1") == 0 ||
                           strcmp(cols[0], "true") == 0;
    return 0;
}

static int count_row(const char *const *cols, int ncols, void *payload)
{
    if (ncols > 0 && cols[0])
        *(int64_t *)payload = gcs_store__sql_int(cols[0]);
    return 0;
}

/* Whether candidate c may run now: no other job of its key under a live lease,
 * and no older job of its key still waiting to be run again. */
static int key_is_free(bool *out, gcs_store *s, const candidate *c, const char *now)
{
    int rc;
    char nid[24];
    int64_t others = 0;
    *out = false;
    if (s->kind == GCS_STORE_POSTGRES) {
        bool locked = false;
        char lockname[GCS_RECEIPT_FIELD_MAX + 16];
        snprintf(lockname, sizeof lockname, "gcscim.job:%s", c->key);
        const char *p[] = {lockname};
        if ((rc = gcs_store__sql_exec(s, "SELECT pg_try_advisory_xact_lock(hashtext(?))", p, 1,
                                      bool_row, &locked, NULL)) < 0)
            return rc;
        if (!locked)
            return 0; /* another worker is deciding about this key right now */
    }
    const char *params[] = {c->key, gcs_store__sql_i64(nid, c->id), now, nid};
    if ((rc = gcs_store__sql_exec(s,
                                  "SELECT COUNT(*) FROM jobs WHERE job_key = ? AND id <> ?"
                                  " AND state = 'running' AND (lease_until_ms >= ? OR id < ?)",
                                  params, 4, count_row, &others, NULL)) < 0)
        return rc;
    *out = others == 0;
    return 0;
}

int gcs_store_job_claim(gcs_job *out, gcs_store *s, const char *worker, int64_t lease_ms)
{
    int rc;
    char now[24], until[24], nid[24];
    candidate *buf = NULL;
    bool claimed = false;
    memset(out, 0, sizeof *out);
    if (!worker || !*worker || strlen(worker) >= 128)
        return gcs_error_set(GCS_EINVALID, "a worker name of 1 to 127 bytes is needed");
    if (!(buf = calloc(CLAIM_BATCH, sizeof *buf)))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    candidates cs = {buf, 0};
    int64_t t = gcs_time_wall_ms();
    gcs_store__sql_i64(now, t);
    gcs_store__sql_i64(until, t + (lease_ms > 0 ? lease_ms : 1));
    if ((rc = gcs_store__sql_begin(s, true)) < 0)
        goto out;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id, job_key, state, attempts, max_attempts, lease_owner FROM jobs"
             " WHERE (state = 'pending' AND not_before_ms <= ?)"
             " OR (state = 'running' AND lease_until_ms < ?)"
             " ORDER BY id LIMIT %d%s",
             CLAIM_BATCH, gcs_store__sql_skip_locked(s));
    const char *cp[] = {now, now};
    if ((rc = gcs_store__sql_exec(s, sql, cp, 2, candidate_row, &cs, NULL)) < 0)
        goto out;
    for (int i = 0; i < cs.n && !claimed; i++) {
        candidate *c = &cs.c[i];
        gcs_store__sql_i64(nid, c->id);
        if (c->expired && c->attempts >= c->max_attempts) {
            /* Its worker died (or hung) on every attempt: a dead letter. */
            char reason[256];
            snprintf(reason, sizeof reason, "lease expired on attempt %d of %d (worker '%s')",
                     c->attempts, c->max_attempts, c->owner);
            const char *p[] = {reason, now, nid};
            if ((rc = gcs_store__sql_exec(s,
                                          "UPDATE jobs SET state = 'dead', last_error = ?,"
                                          " lease_until_ms = NULL, updated_ms = ? WHERE id = ?",
                                          p, 3, NULL, NULL, NULL)) < 0)
                goto out;
            continue;
        }
        bool free_key;
        if ((rc = key_is_free(&free_key, s, c, now)) < 0)
            goto out;
        if (!free_key)
            continue;
        const char *p[] = {worker, until, now, nid};
        if ((rc = gcs_store__sql_exec(s,
                                      "UPDATE jobs SET state = 'running', lease_owner = ?,"
                                      " lease_until_ms = ?, attempts = attempts + 1, updated_ms = ?"
                                      " WHERE id = ?",
                                      p, 4, NULL, NULL, NULL)) < 0)
            goto out;
        one_job o = {out, false};
        const char *gp[] = {nid};
        if ((rc = gcs_store__sql_exec(s, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?", gp, 1,
                                      one_job_row, &o, NULL)) < 0)
            goto out;
        claimed = o.found;
    }
    if ((rc = gcs_store__sql_commit(s)) < 0)
        goto out;
    if (!claimed)
        rc = GCS_ENOTFOUND; /* the normal "nothing to do": no message needed */
out:
    if (rc < 0) {
        gcs_store__sql_rollback(s);
        gcs_job_release(out);
    }
    free(buf);
    return rc;
}

/* ==== Finishing ==== */

static int lease_lost(gcs_store *s, int64_t id, const char *worker)
{
    gcs_job j;
    int rc = gcs_store_job_get(&j, s, id);
    if (rc < 0)
        return rc;
    rc = gcs_error_set(GCS_ECONFLICT, "job %lld: worker '%s' no longer holds its lease (%s%s%s)",
                       (long long)id, worker, j.state, j.lease_owner ? ", leased to " : "",
                       j.lease_owner ? j.lease_owner : "");
    gcs_job_release(&j);
    return rc;
}

int gcs_store_job_extend(gcs_store *s, int64_t id, const char *worker, int64_t lease_ms)
{
    char nid[24], until[24], now[24];
    int64_t changed = 0, t = gcs_time_wall_ms();
    const char *p[] = {gcs_store__sql_i64(until, t + lease_ms), gcs_store__sql_i64(now, t),
                       gcs_store__sql_i64(nid, id), worker};
    int rc = gcs_store__sql_exec(s,
                                 "UPDATE jobs SET lease_until_ms = ?, updated_ms = ?"
                                 " WHERE id = ? AND state = 'running' AND lease_owner = ?",
                                 p, 4, NULL, NULL, &changed);
    if (rc == 0 && changed == 0)
        rc = lease_lost(s, id, worker);
    return rc;
}

/* Ends a running job that `worker` holds in `state`, with its outcome. */
static int finish(gcs_store *s, int64_t id, const char *worker, const char *state,
                  const char *result_json)
{
    char nid[24], now[24];
    int64_t changed = 0;
    if (result_json && strlen(result_json) > GCS_JOB_PAYLOAD_MAX)
        return gcs_error_set(GCS_EINVALID, "job %lld: its result is over %d bytes", (long long)id,
                             GCS_JOB_PAYLOAD_MAX);
    const char *p[] = {state, result_json, gcs_store__sql_i64(now, gcs_time_wall_ms()),
                       gcs_store__sql_i64(nid, id), worker};
    int rc = gcs_store__sql_exec(s,
                                 "UPDATE jobs SET state = ?, result = ?, lease_until_ms = NULL,"
                                 " updated_ms = ? WHERE id = ? AND state = 'running'"
                                 " AND lease_owner = ?",
                                 p, 5, NULL, NULL, &changed);
    if (rc == 0 && changed == 0)
        rc = lease_lost(s, id, worker);
    return rc;
}

int gcs_store_job_complete(gcs_store *s, int64_t id, const char *worker)
{
    return finish(s, id, worker, GCS_JOB_DONE, NULL);
}

int gcs_store_job_complete_with(gcs_store *s, int64_t id, const char *worker,
                                const char *result_json)
{
    return finish(s, id, worker, GCS_JOB_DONE, result_json);
}

int gcs_store_job_needs_approval(gcs_store *s, int64_t id, const char *worker,
                                 const char *result_json)
{
    return finish(s, id, worker, GCS_JOB_NEEDS_APPROVAL, result_json);
}

int gcs_store_job_release(gcs_store *s, int64_t id, const char *worker)
{
    char nid[24], now[24];
    int64_t changed = 0;
    const char *p[] = {gcs_store__sql_i64(now, gcs_time_wall_ms()), now,
                       gcs_store__sql_i64(nid, id), worker};
    int rc = gcs_store__sql_exec(s,
                                 "UPDATE jobs SET state = 'pending', attempts = CASE WHEN attempts > 0"
                                 " THEN attempts - 1 ELSE 0 END, not_before_ms = ?,"
                                 " lease_owner = NULL, lease_until_ms = NULL, updated_ms = ?"
                                 " WHERE id = ? AND state = 'running' AND lease_owner = ?",
                                 p, 4, NULL, NULL, &changed);
    if (rc == GCS_ECONFLICT) {
        /* A newer state of the key is pending: it supersedes this one. */
        rc = gcs_store__sql_exec(s,
                                 "UPDATE jobs SET state = 'dropped', lease_owner = NULL,"
                                 " lease_until_ms = NULL, updated_ms = ?, last_error ="
                                 " 'given back, superseded by a newer job of the same key'"
                                 " WHERE id = ? AND state = 'running' AND lease_owner = ?",
                                 p + 1, 3, NULL, NULL, &changed);
    }
    if (rc == 0 && changed == 0)
        rc = lease_lost(s, id, worker);
    return rc;
}

typedef struct fail_info {
    bool found;
    int attempts, max_attempts;
    char key[GCS_RECEIPT_FIELD_MAX + 1];
} fail_info;

static int fail_row(const char *const *cols, int ncols, void *payload)
{
    fail_info *f = payload;
    if (ncols < 3)
        return 0;
    f->found = true;
    f->attempts = (int)gcs_store__sql_int(cols[0]);
    f->max_attempts = (int)gcs_store__sql_int(cols[1]);
    snprintf(f->key, sizeof f->key, "%s", cols[2] ? cols[2] : "");
    return 0;
}

int gcs_store_job_fail(gcs_store *s, int64_t id, const char *worker, const char *reason,
                       int64_t retry_after_ms)
{
    int rc;
    char nid[24], now[24], nb[24], sql[256];
    char why[1024];
    fail_info *f = calloc(1, sizeof *f);
    GCS_CHECK_ALLOC(f);
    int64_t t = gcs_time_wall_ms();
    gcs_store__sql_i64(nid, id);
    gcs_store__sql_i64(now, t);
    snprintf(why, sizeof why, "%s", reason ? reason : "failed");
    if ((rc = gcs_store__sql_begin(s, true)) < 0)
        goto out;
    snprintf(sql, sizeof sql,
             "SELECT attempts, max_attempts, job_key FROM jobs"
             " WHERE id = ? AND state = 'running' AND lease_owner = ?%s",
             gcs_store__sql_for_update(s));
    const char *p[] = {nid, worker};
    if ((rc = gcs_store__sql_exec(s, sql, p, 2, fail_row, f, NULL)) < 0)
        goto out;
    if (!f->found) {
        gcs_store__sql_rollback(s);
        rc = lease_lost(s, id, worker);
        goto out;
    }
    const char *state = GCS_JOB_PENDING;
    if (f->attempts >= f->max_attempts) {
        state = GCS_JOB_DEAD;
    } else {
        /* A newer desired state for this key is already waiting: this one is
         * obsolete, and two pending jobs of one key are not allowed. */
        int64_t newer = 0;
        const char *kp[] = {f->key};
        if ((rc = gcs_store__sql_exec(
                 s, "SELECT COUNT(*) FROM jobs WHERE job_key = ? AND state = 'pending'", kp, 1,
                 count_row, &newer, NULL)) < 0)
            goto out;
        if (newer) {
            state = GCS_JOB_DROPPED;
            snprintf(why, sizeof why, "%s (superseded by a newer job of the same key)",
                     reason ? reason : "failed");
        }
    }
    int64_t wait = gcs_store__backoff_ms(&s->job_backoff, f->attempts);
    if (retry_after_ms > wait)
        wait = retry_after_ms;
    const char *up[] = {state, why, gcs_store__sql_i64(nb, t + wait), now, nid};
    if ((rc = gcs_store__sql_exec(s,
                                  "UPDATE jobs SET state = ?, last_error = ?, not_before_ms = ?,"
                                  " lease_until_ms = NULL, updated_ms = ? WHERE id = ?",
                                  up, 5, NULL, NULL, NULL)) < 0)
        goto out;
    rc = gcs_store__sql_commit(s);
out:
    if (rc < 0)
        gcs_store__sql_rollback(s);
    free(f);
    return rc;
}

/* ==== By hand ==== */

static int explain_refusal(gcs_store *s, int64_t id, const char *what)
{
    gcs_job j;
    int rc = gcs_store_job_get(&j, s, id);
    if (rc < 0)
        return rc;
    rc = gcs_error_set(GCS_ECONFLICT, "job %lld is %s: cannot %s it", (long long)id, j.state,
                       what);
    gcs_job_release(&j);
    return rc;
}

/* The newest job of the same key as job `id` that came after it and was not
 * dropped: its id in *newer (0 when none). */
static int newer_job_of_key(int64_t *newer, gcs_store *s, int64_t id)
{
    char nid[24];
    const char *p[] = {gcs_store__sql_i64(nid, id)};
    *newer = 0;
    return gcs_store__sql_exec(s,
                               "SELECT MAX(newer.id) FROM jobs AS newer, jobs AS old"
                               " WHERE old.id = ? AND newer.job_key = old.job_key"
                               " AND newer.id > old.id AND newer.state <> 'dropped'",
                               p, 1, id_row, newer, NULL);
}

int gcs_store_job_retry(gcs_store *s, int64_t id)
{
    int64_t changed;
    int rc = gcs_store__update_row_now(&changed, s,
                                       "UPDATE jobs SET state = 'pending', attempts = 0,"
                                       " not_before_ms = ?, lease_owner = NULL,"
                                       " lease_until_ms = NULL, updated_ms = ?"
                                       " WHERE id = ? AND state IN ('dead', 'dropped', 'done')"
                                       " AND NOT EXISTS (SELECT 1 FROM jobs AS newer"
                                       " WHERE newer.job_key = jobs.job_key"
                                       " AND newer.id > jobs.id AND newer.state <> 'dropped')",
                                       2, id);
    if (rc == GCS_ECONFLICT)
        return gcs_error_set(GCS_ECONFLICT,
                             "job %lld: another job of the same key is already pending",
                             (long long)id);
    if (rc == 0 && changed == 0) {
        /* A newer job of the person (or group) carries a newer row: running
         * this one again would put the older one back over it. */
        int64_t newer = 0;
        if ((rc = newer_job_of_key(&newer, s, id)) < 0)
            return rc;
        if (newer > 0)
            return gcs_error_set(GCS_ECONFLICT,
                                 "job %lld: job %lld of the same key came after it, with a newer "
                                 "row; retrying this one would put the older row back (retry "
                                 "job %lld, or send the event again)",
                                 (long long)id, (long long)newer, (long long)newer);
        rc = explain_refusal(s, id, "retry");
    }
    return rc;
}

int gcs_store_job_drop(gcs_store *s, int64_t id)
{
    return gcs_store__update_row_or_refuse(
        s,
        "UPDATE jobs SET state = 'dropped', lease_until_ms = NULL,"
        " updated_ms = ? WHERE id = ?"
        " AND state IN ('pending', 'dead', 'needs_approval')",
        1, id, explain_refusal, "drop");
}

int gcs_store_job_approve(gcs_store *s, int64_t id, const char *payload)
{
    int rc;
    char nid[24], now[24];
    int64_t changed = 0, newer = 0;
    gcs_job j;
    size_t len = payload ? strnlen(payload, GCS_JOB_PAYLOAD_MAX + 1) : 0;
    if (!payload || len > GCS_JOB_PAYLOAD_MAX)
        return gcs_error_set(GCS_EINVALID, "job %lld: the payload must be JSON of at most %d bytes",
                             (long long)id, GCS_JOB_PAYLOAD_MAX);
    json_t *check = json_loadb(payload, len, JSON_DECODE_ANY, NULL);
    if (!check)
        return gcs_error_set(GCS_EINVALID, "job %lld: the payload is not JSON", (long long)id);
    json_decref(check);
    if ((rc = gcs_store__sql_begin(s, true)) < 0)
        return rc;
    if ((rc = gcs_store_job_get(&j, s, id)) < 0)
        goto out;
    if (strcmp(j.state, GCS_JOB_NEEDS_APPROVAL) != 0) {
        rc = gcs_error_set(GCS_ECONFLICT, "job %lld is %s, not waiting for an approval",
                           (long long)id, j.state);
        gcs_job_release(&j);
        goto out;
    }
    /* An approval is for what was shown: a newer state of the same person
     * makes this one obsolete, and it must not overwrite the newer one. */
    const char *kp[] = {j.key, gcs_store__sql_i64(nid, id)};
    rc = gcs_store__sql_exec(s,
                             "SELECT COUNT(*) FROM jobs WHERE job_key = ? AND id > ?"
                             " AND state <> 'dropped'",
                             kp, 2, count_row, &newer, NULL);
    gcs_job_release(&j);
    if (rc < 0)
        goto out;
    if (newer) {
        rc = gcs_error_set(GCS_ECONFLICT,
                           "job %lld: a newer job of the same key exists; approve that one "
                           "instead, or drop this one",
                           (long long)id);
        goto out;
    }
    const char *p[] = {payload, gcs_store__sql_i64(now, gcs_time_wall_ms()), now, nid};
    if ((rc = gcs_store__sql_exec(s,
                                  "UPDATE jobs SET state = 'pending', payload = ?, attempts = 0,"
                                  " not_before_ms = ?, lease_owner = NULL, lease_until_ms = NULL,"
                                  " last_error = NULL, updated_ms = ?"
                                  " WHERE id = ? AND state = 'needs_approval'",
                                  p, 4, NULL, NULL, &changed)) < 0)
        goto out;
    if (changed == 0) {
        rc = gcs_error_set(GCS_ECONFLICT, "job %lld changed while being approved", (long long)id);
        goto out;
    }
    rc = gcs_store__sql_commit(s);
out:
    if (rc < 0)
        gcs_store__sql_rollback(s);
    return rc;
}
