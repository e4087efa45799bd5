/*
 * Appending receipts: redaction and bounds on the caller's side, then a writer
 * thread that commits them in batches, chained after the head.
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/redact.h"
#include "core/time.h"

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The text fields of a receipt that are copied on append. */
enum { F_RUN, F_OP, F_TYPE, F_KEY, F_GID, F_METHOD, F_PATH, F_REQ, F_RESP, F_ETAG_S, F_ETAG_R,
       F_OUTCOME, F_CORR, F__COUNT };

/* A queued item mark (gcs_store_item_mark_queued): committed in the batch
 * that holds it, after the receipts queued before it. */
typedef struct pending_mark {
    char *block;                   /* the five strings below, in one allocation */
    const char *run_id, *key, *state, *genesys_id, *detail;
    int64_t time_ms;
    bool attempt;                  /* an in_progress mark counts an attempt */
    gcs_store__note *note;         /* the outcome's notification, or NULL */
    gcs_store__links *links;       /* a kept group's parent links, or NULL */
} pending_mark;

/* One entry of the queue: a receipt, or an item mark. */
struct pending_receipt {
    bool is_mark;
    union {
        struct {
            gcs_receipt r;
            char *block;           /* every text field of r, in one allocation */
        };
        pending_mark m;
    };
};

/* ==== Appending ==== */

/* Replaces bytes that are not valid UTF-8 with '?' (PostgreSQL refuses them
 * and JSON cannot carry them). */
/* Replaces each byte of s (len bytes, then a NUL) that is not part of a
 * valid UTF-8 character with '?'. */
static void utf8_sanitize(char *s, size_t len)
{
    unsigned char *p = (unsigned char *)s, *end = p + len;
    while (p < end) {
        /* Eight bytes at a time while they are ASCII (nearly every body is). */
        uint64_t w;
        while (end - p >= (ptrdiff_t)sizeof w && (memcpy(&w, p, sizeof w), !(w & 0x8080808080808080u)))
            p += sizeof w;
        while (p < end && *p && *p < 0x80)
            p++;
        if (p == end || !*p)
            break;
        int n = (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        bool ok = n > 0;
        for (int i = 1; ok && i < n; i++)
            ok = (p[i] & 0xC0) == 0x80;
        if (ok && n == 2 && *p < 0xC2)
            ok = false; /* overlong */
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

/* Cuts s to at most max bytes on a character boundary, saying how long the
 * original (`total` bytes) was. */
static void bound(char *s, size_t max, size_t total)
{
    size_t len = strlen(s);
    if (len <= max)
        return;
    char note[64];
    int n = snprintf(note, sizeof note, "...[truncated %zu bytes]", total > len ? total : len);
    size_t cut = max - (size_t)n;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(s + cut, note, (size_t)n + 1);
}

bool gcs_store__receipt_json_has_sensitive_key(const char *text, size_t len)
{
    return gcs_redact_json_text_has_sensitive_key(text, len);
}

/* A redacted, sanitised, bounded copy of a field: a body not redacted yet, or
 * a path with a query string (which can carry a secret). With `json` (the
 * request body) a JSON document with a sensitive key anywhere is redacted
 * structurally, key by key (gcs_redact_json); one without gets the text rules
 * like the response body: they mask registered secrets and credential shapes
 * in every string, which is all gcs_redact_json would do to it, at a fifth of
 * the cost of parsing and re-serialising it. */
static int redacted_copy(char **out, const char *in, size_t max, bool json)
{
    *out = NULL;
    gcs_buf b;
    gcs_buf_init(&b, 4 * GCS_RECEIPT_BODY_MAX + 64);
    int rc = 0;
    size_t inlen = strnlen(in, 4 * GCS_RECEIPT_BODY_MAX);
    json_t *parsed = NULL;
    if (json && inlen < 4 * GCS_RECEIPT_BODY_MAX && (in[0] == '{' || in[0] == '[') &&
        gcs_store__receipt_json_has_sensitive_key(in, inlen))
        parsed = json_loadb(in, inlen, JSON_DECODE_ANY, NULL);
    if (parsed) {
        /* Structured redaction: every sensitive key's value becomes ***. */
        json_t *clean = gcs_redact_json(parsed);
        char *text = clean ? json_dumps(clean, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        rc = text ? gcs_buf_puts(&b, text) : gcs_error_set(GCS_ENOMEM, "out of memory");
        free(text);
        json_decref(clean);
        json_decref(parsed);
    } else {
        char *head = strndup(in, inlen);
        rc = head ? gcs_redact_append(&b, head) : gcs_error_set(GCS_ENOMEM, "out of memory");
        free(head);
    }
    if (rc == 0) {
        *out = gcs_buf_detach(&b);
        if (!*out)
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if (*out) {
        utf8_sanitize(*out, strlen(*out));
        bound(*out, max, strlen(in));
    }
    gcs_buf_release(&b);
    return rc;
}

/* ==== The receipt writer ====
 *
 * Appends are cheap for the caller: the receipt is redacted and copied into a
 * queue, and a writer thread with its own connection commits the queue in
 * batches, at least every GCS_STORE_BATCH_MS, so that hashing and the database
 * work overlap with the caller's. gcs_store_flush() waits until everything
 * appended before it is committed (or the writer failed), which is the moment
 * a receipt becomes durable. The queue is bounded: an appender that outruns
 * the database waits.
 */

#define QUEUE_MAX (8 * GCS_STORE_BATCH_MAX)
/* The writer connection's SQLite page cache, in KiB (see writer_start). */
#define WRITER_CACHE_KIB "2048"

struct receipt_writer {
    pthread_mutex_t lock;
    pthread_cond_t work;          /* to the writer: something to do */
    pthread_cond_t done;          /* to callers: a batch was committed, or failed */
    pending_receipt *queue;
    size_t n, cap;
    int64_t oldest_ms;            /* monotonic time of queue[0]'s append */
    uint64_t appended, committed; /* entries (receipts and marks), since the writer started */
    uint64_t receipts_appended, receipts_committed;
    uint64_t failures;            /* batches that failed */
    int error;                    /* the last failure's code and message */
    char message[512];
    bool flush_wanted;            /* someone waits in gcs_store_flush */
    bool retry_wanted;            /* after a failure, retry only when asked */
    bool stop;
    pthread_t thread;
    gcs_store conn;               /* the writer's connection */
};

static void pending_release(pending_receipt *p)
{
    if (p->is_mark) {
        free(p->m.block);
        gcs_store__note_free(p->m.note);
        gcs_store__links_free(p->m.links);
        return;
    }
    free(p->block);
}

static const char insert_sql[] =
    "INSERT INTO receipts (seq, time_ms, run_id, operation, resource_type, source_key,"
    " genesys_id, method, path, request_body, status, response_body, etag_sent,"
    " etag_received, attempts, latency_ms, outcome, correlation_id, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* The same statement as gcs_store_item_mark's (runs.c). */
static const char mark_sql[] =
    "INSERT INTO run_items (run_id, item_key, state, genesys_id, detail,"
    " attempts, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (run_id, item_key) DO UPDATE SET state = excluded.state,"
    " genesys_id = COALESCE(excluded.genesys_id, run_items.genesys_id),"
    " detail = excluded.detail, updated_ms = excluded.updated_ms,"
    " attempts = run_items.attempts + ?";

/* The text of one row's numbers and hashes, alive until the batch is sent. */
typedef struct batch_row {
    char seq[24], time[24], status[24], attempts[24], latency[24];
    char prev[65], hash[65];
} batch_row;

/* Commits a batch in one transaction: its receipts chained after the current
 * head, then its item marks in the order they were queued. */
static int write_batch(gcs_store *s, pending_receipt *batch, size_t n, gcs_buf *scratch)
{
    int rc;
    gcs_chain_head h = {0};
    char prev[65], sql[128];
    batch_row *rows = NULL;
    const char **params = NULL, **mparams = NULL;
    size_t nr = 0, nm = 0;
    for (size_t i = 0; i < n; i++)
        nm += batch[i].is_mark;
    nr = n - nm;
    if ((rc = gcs_store__sql_begin(s, true)) < 0)
        goto out;
    /* The chain head row is the lock that keeps the chain linear: on
     * PostgreSQL FOR UPDATE makes every other appender wait for our commit;
     * SQLite's IMMEDIATE transaction already excludes other writers. */
    snprintf(sql, sizeof sql, "SELECT seq, hash FROM chain_head WHERE id = 1%s",
             gcs_store__sql_for_update(s));
    if (nr && (rc = gcs_store__sql_exec(s, sql, NULL, 0, gcs_store__chain_head_row, &h, NULL)) < 0)
        goto out;
    if (nr && !h.found) {
        rc = gcs_error_set(GCS_EIO, "the receipt chain head is missing");
        goto out;
    }
    memcpy(prev, h.hash, sizeof prev);
    int64_t seq = h.seq;
    /* Hash the whole batch, then insert it with one exec_many (one round trip
     * per chunk on PostgreSQL). */
    if (!(rows = malloc((n ? n : 1) * sizeof *rows)) ||
        !(params = malloc((nr ? nr : 1) * 20 * sizeof *params)) ||
        !(mparams = malloc((nm ? nm : 1) * 8 * sizeof *mparams))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    size_t ir = 0, im = 0;
    for (size_t i = 0; i < n; i++) {
        batch_row *row = &rows[i];
        if (batch[i].is_mark) {
            const pending_mark *m = &batch[i].m;
            const char **p = mparams + im++ * 8;
            const char *attempt = m->attempt ? "1" : "0";
            p[0] = m->run_id;
            p[1] = m->key;
            p[2] = m->state;
            p[3] = m->genesys_id;
            p[4] = m->detail;
            p[5] = attempt;
            p[6] = gcs_store__sql_i64(row->time, m->time_ms);
            p[7] = attempt;
            continue;
        }
        gcs_receipt r = batch[i].r;
        r.seq = ++seq;
        memcpy(row->prev, prev, sizeof prev);
        if ((rc = gcs_store__receipt_hash_buf(row->hash, prev, &r, scratch)) < 0)
            goto out;
        const char **p = params + ir++ * 20;
        p[0] = gcs_store__sql_i64(row->seq, r.seq);
        p[1] = gcs_store__sql_i64(row->time, r.time_ms);
        p[2] = r.run_id;
        p[3] = r.operation;
        p[4] = r.resource_type;
        p[5] = r.source_key;
        p[6] = r.genesys_id;
        p[7] = r.method;
        p[8] = r.path;
        p[9] = r.request_body;
        p[10] = gcs_store__sql_i64(row->status, r.status);
        p[11] = r.response_body;
        p[12] = r.etag_sent;
        p[13] = r.etag_received;
        p[14] = gcs_store__sql_i64(row->attempts, r.attempts);
        p[15] = gcs_store__sql_i64(row->latency, r.latency_ms);
        p[16] = r.outcome;
        p[17] = r.correlation_id;
        p[18] = row->prev;
        p[19] = row->hash;
        memcpy(prev, row->hash, sizeof prev);
    }
    if (nr) {
        if ((rc = s->ops->exec_many(s, insert_sql, params, 20, nr)) < 0)
            goto out;
        char nseq[24];
        const char *head_params[] = {gcs_store__sql_i64(nseq, seq), prev};
        if ((rc = gcs_store__sql_exec(s, "UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1",
                               head_params, 2, NULL, NULL, NULL)) < 0)
            goto out;
    }
    if (nm && (rc = s->ops->exec_many(s, mark_sql, mparams, 8, nm)) < 0)
        goto out;
    /* The notifications of the outcomes just marked: in this transaction, so
     * that an outcome is never durable without them (nor they without it). */
    for (size_t i = 0; i < n; i++)
        if (batch[i].is_mark && batch[i].m.note &&
            (rc = gcs_store__note_write(s, batch[i].m.note)) < 0)
            goto out;
    /* A group's hierarchy as applied: with its item mark, never without it. */
    for (size_t i = 0; i < n; i++)
        if (batch[i].is_mark && batch[i].m.links &&
            (rc = gcs_store__links_write(s, batch[i].m.links, batch[i].m.time_ms)) < 0)
            goto out;
    rc = gcs_store__sql_commit(s);
out:
    if (rc < 0) {
        gcs_store__sql_rollback(s);
        gcs_error_prefix(rc, nm ? "cannot append receipts and item marks"
                                : "cannot append receipts");
    }
    free(rows);
    free(params);
    free(mparams);
    return rc;
}

static void *writer_main(void *arg)
{
    receipt_writer *w = arg;
    pending_receipt *batch = NULL;
    size_t batch_cap = 0;
    gcs_buf scratch;
    gcs_buf_init(&scratch, 4 * GCS_RECEIPT_BODY_MAX);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        bool ready = w->n > 0 && (w->n >= GCS_STORE_BATCH_MAX || w->flush_wanted || w->stop ||
                                  gcs_time_mono_ms() - w->oldest_ms >= GCS_STORE_BATCH_MS);
        if (w->retry_wanted && !w->flush_wanted && !w->stop)
            ready = false; /* after a failure: wait to be asked, do not spin */
        if (!ready) {
            if (w->stop && (w->n == 0 || w->retry_wanted))
                break;
            if (w->n == 0 || w->retry_wanted) {
                pthread_cond_wait(&w->work, &w->lock);
            } else {
                int64_t wake = w->oldest_ms + GCS_STORE_BATCH_MS;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                int64_t left_ms = wake - gcs_time_mono_ms();
                if (left_ms < 1)
                    left_ms = 1;
                ts.tv_sec += left_ms / 1000;
                ts.tv_nsec += (left_ms % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&w->work, &w->lock, &ts);
            }
            continue;
        }
        /* Take the whole queue; appenders fill a fresh one meanwhile. */
        pending_receipt *taken = w->queue;
        size_t n = w->n;
        w->queue = batch;
        w->cap = batch_cap;
        w->n = 0;
        batch = taken;
        batch_cap = n; /* its capacity is at least n, which is all we rely on */
        bool stopping = w->stop;
        pthread_cond_broadcast(&w->done); /* appenders waiting for room */
        pthread_mutex_unlock(&w->lock);

        int rc = write_batch(&w->conn, batch, n, &scratch);
        char message[512];
        if (rc < 0)
            snprintf(message, sizeof message, "%s", gcs_error_last());
        /* The audit lines of the outcomes now durable: before a flush that
         * waits for them returns, outside the lock appenders need. */
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (batch[i].is_mark)
                gcs_store__note_audit(batch[i].m.note);

        pthread_mutex_lock(&w->lock);
        size_t receipts = 0;
        for (size_t i = 0; i < n; i++)
            receipts += !batch[i].is_mark;
        if (rc == 0) {
            for (size_t i = 0; i < n; i++)
                pending_release(&batch[i]);
            w->committed += n;
            w->receipts_committed += receipts;
            w->retry_wanted = false;
        } else {
            /* Put the batch back in front, in order, for a later retry. */
            pending_receipt *merged = malloc((n + w->n + 1) * sizeof *merged);
            if (merged) {
                memcpy(merged, batch, n * sizeof *merged);
                if (w->n)
                    memcpy(merged + n, w->queue, w->n * sizeof *merged);
                free(w->queue);
                w->queue = merged;
                w->cap = n + w->n + 1;
                w->n += n;
            } else {
                for (size_t i = 0; i < n; i++)
                    pending_release(&batch[i]);
                w->appended -= n; /* lost: the failure below says so */
                w->receipts_appended -= receipts;
            }
            free(batch); /* its receipts moved to the queue */
            batch = NULL;
            batch_cap = 0;
            w->error = rc;
            snprintf(w->message, sizeof w->message, "%s", message);
            w->failures++;
            w->retry_wanted = true;
            w->oldest_ms = gcs_time_mono_ms();
        }
        w->flush_wanted = false;
        pthread_cond_broadcast(&w->done);
        if (stopping && rc < 0)
            break;
    }
    pthread_mutex_unlock(&w->lock);
    free(batch);
    gcs_buf_release(&scratch);
    return NULL;
}

static int writer_start(gcs_store *s)
{
    int rc;
    receipt_writer *w = calloc(1, sizeof *w);
    GCS_CHECK_ALLOC(w);
    if ((rc = gcs_store__connect_again(&w->conn, s)) < 0) {
        free(w);
        return gcs_error_prefix(rc, "cannot open the receipt writer's connection");
    }
    /* The writer only appends: the right edges of its tables and the paths to
     * the leaves it inserts into. A large cache only kept pages it had written
     * (about 30 MiB at 100,000 receipts, for nothing measurable: bench_store at
     * 1,000,000 receipts appends as fast with 2 MiB, bench/README.md "Store"). */
    if (w->conn.kind == GCS_STORE_SQLITE &&
        (rc = w->conn.ops->exec_script(&w->conn, "PRAGMA cache_size=-" WRITER_CACHE_KIB ";")) < 0) {
        w->conn.ops->close(&w->conn);
        free(w);
        return gcs_error_prefix(rc, "cannot set up the receipt writer's connection");
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        w->conn.ops->close(&w->conn);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->done);
        free(w);
        return gcs_error_set(GCS_ERROR, "cannot start the receipt writer");
    }
    s->writer = w;
    return 0;
}

int gcs_store__receipts_release(gcs_store *s)
{
    receipt_writer *w = s->writer;
    if (!w)
        return 0;
    int rc = gcs_store_flush(s);
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    if (rc == 0 && w->n)
        rc = gcs_error_set(w->error ? w->error : GCS_EIO, "%zu receipts were not stored: %s",
                           w->n, w->message);
    for (size_t i = 0; i < w->n; i++)
        pending_release(&w->queue[i]);
    free(w->queue);
    w->conn.ops->close(&w->conn);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->done);
    free(w);
    s->writer = NULL;
    return rc;
}

size_t gcs_store_pending_receipts(const gcs_store *s)
{
    receipt_writer *w = s->writer;
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    size_t n = (size_t)(w->receipts_appended - w->receipts_committed);
    pthread_mutex_unlock(&w->lock);
    return n;
}

int gcs_store_flush(gcs_store *s)
{
    receipt_writer *w = s->writer;
    int rc = 0;
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    uint64_t target = w->appended, failures = w->failures;
    while (w->committed < target && w->failures == failures) {
        w->flush_wanted = true;
        pthread_cond_signal(&w->work);
        pthread_cond_wait(&w->done, &w->lock);
    }
    if (w->committed < target)
        rc = gcs_error_set(w->error, "%s", w->message);
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/* Adds p (taken over) to the queue: waits while the queue is full, wakes the
 * writer for the first entry and for a full batch. */
static int enqueue(receipt_writer *w, pending_receipt *p)
{
    pthread_mutex_lock(&w->lock);
    /* Bounded memory: wait for the writer when it falls behind (unless it is
     * failing, in which case the caller hears about it at flush time). */
    while (w->n >= QUEUE_MAX && !w->retry_wanted)
        pthread_cond_wait(&w->done, &w->lock);
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        pending_receipt *q = realloc(w->queue, cap * sizeof *q);
        if (!q) {
            pthread_mutex_unlock(&w->lock);
            pending_release(p);
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        }
        w->queue = q;
        w->cap = cap;
    }
    if (w->n == 0)
        w->oldest_ms = gcs_time_mono_ms();
    w->queue[w->n++] = *p;
    w->appended++;
    w->receipts_appended += !p->is_mark;
    if (w->n == 1 || w->n >= GCS_STORE_BATCH_MAX)
        pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

/* The most a receipt keeps of field `i` (F_*): bodies more than the rest. */
static size_t field_max(int i)
{
    return i == F_REQ || i == F_RESP ? GCS_RECEIPT_BODY_MAX : GCS_RECEIPT_FIELD_MAX;
}

int gcs_store_receipt_append(gcs_store *s, const gcs_receipt *r)
{
    int rc = 0;
    pending_receipt p;
    memset(&p, 0, sizeof p);
    if (!s->writer && (rc = writer_start(s)) < 0)
        return rc;
    /* The queued receipt starts as the caller's; its text fields, in the
     * order of F_*, are then pointed into the block. */
    p.r = *r;
    const char **slot[F__COUNT] = {&p.r.run_id,     &p.r.operation,     &p.r.resource_type,
                                   &p.r.source_key, &p.r.genesys_id,    &p.r.method,
                                   &p.r.path,       &p.r.request_body,  &p.r.response_body,
                                   &p.r.etag_sent,  &p.r.etag_received, &p.r.outcome,
                                   &p.r.correlation_id};
    const char *in[F__COUNT];
    for (int i = 0; i < F__COUNT; i++)
        in[i] = *slot[i];
    /* Every field lands in one block that the writer frees once: two
     * allocations a receipt (one on each thread) instead of thirteen of each.
     * A field that needs redaction is made apart first (redacted_copy, already
     * sanitised and bounded); the others are measured here and copied,
     * sanitised and bounded in the block. */
    char *made[F__COUNT] = {0};
    size_t len[F__COUNT] = {0}, total = 0;
    for (int i = 0; i < F__COUNT && rc == 0; i++) {
        if (!in[i])
            continue;
        bool body = i == F_REQ || i == F_RESP;
        size_t max = field_max(i);
        bool redact = (body && !r->bodies_redacted) || (i == F_PATH && strpbrk(in[i], "?="));
        if (redact) {
            rc = redacted_copy(&made[i], in[i], max, i == F_REQ);
            len[i] = made[i] ? strlen(made[i]) : 0;
        } else {
            len[i] = strnlen(in[i], max + 1); /* at most max + 1: bound() then cuts */
        }
        total += len[i] + 1;
    }
    if (rc == 0 && !(p.block = malloc(total ? total : 1)))
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    char *at = p.block;
    for (int i = 0; i < F__COUNT && rc == 0; i++) {
        if (!in[i])
            continue;
        memcpy(at, made[i] ? made[i] : in[i], len[i]);
        at[len[i]] = '\0';
        if (!made[i]) {
            size_t max = field_max(i);
            utf8_sanitize(at, len[i]);
            if (len[i] > max)
                bound(at, max, len[i] + strlen(in[i] + len[i]));
        }
        *slot[i] = at;
        at += len[i] + 1;
    }
    for (int i = 0; i < F__COUNT; i++)
        free(made[i]);
    if (rc < 0) {
        pending_release(&p);
        return rc;
    }
    p.r.time_ms = r->time_ms ? r->time_ms : gcs_time_wall_ms();
    p.r.seq = 0;
    p.r.prev_hash = p.r.hash = NULL;

    return enqueue(s->writer, &p);
}

int gcs_store__mark_enqueue(gcs_store *s, const char *run_id, const char *key, const char *state,
                           const char *genesys_id, const char *detail, bool attempt)
{
    return gcs_store__mark_enqueue_note(s, run_id, key, state, genesys_id, detail, attempt, NULL);
}

int gcs_store__mark_enqueue_note(gcs_store *s, const char *run_id, const char *key,
                                 const char *state, const char *genesys_id, const char *detail,
                                 bool attempt, gcs_store__note *note)
{
    return gcs_store__mark_enqueue_full(s, run_id, key, state, genesys_id, detail, attempt, note,
                                        NULL);
}

int gcs_store__mark_enqueue_full(gcs_store *s, const char *run_id, const char *key,
                                 const char *state, const char *genesys_id, const char *detail,
                                 bool attempt, gcs_store__note *note, gcs_store__links *links)
{
    int rc = 0;
    pending_receipt p;
    memset(&p, 0, sizeof p);
    p.is_mark = true;
    p.m.note = note;
    p.m.links = links;
    if (!s->writer && (rc = writer_start(s)) < 0) {
        pending_release(&p);
        return rc;
    }
    receipt_writer *w = s->writer;
    /* A batch that failed: the caller hears it now, not after the run. */
    pthread_mutex_lock(&w->lock);
    if (w->retry_wanted)
        rc = gcs_error_set(w->error ? w->error : GCS_EIO, "%s", w->message);
    pthread_mutex_unlock(&w->lock);
    if (rc < 0) {
        pending_release(&p);
        return rc;
    }
    p.m.attempt = attempt;
    p.m.time_ms = gcs_time_wall_ms();
    /* The five strings in one block (NULL ones take no room). */
    const char *in[5] = {run_id, key, state, genesys_id, detail};
    const char **field[5] = {&p.m.run_id, &p.m.key, &p.m.state, &p.m.genesys_id, &p.m.detail};
    size_t len[5], total = 0;
    for (int i = 0; i < 5; i++)
        total += in[i] ? (len[i] = strlen(in[i])) + 1 : 0;
    if (!(p.m.block = malloc(total))) {
        pending_release(&p);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    char *at = p.m.block;
    for (int i = 0; i < 5; i++) {
        if (!in[i])
            continue;
        memcpy(at, in[i], len[i] + 1);
        *field[i] = at;
        at += len[i] + 1;
    }
    return enqueue(w, &p);
}
