/*
 * Receipts: the canonical form, the SHA-256 chain, batched appends, listing and
 * verification. docs/store.md describes the chain format byte for byte.
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/time.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char gcs_receipt_genesis_hash[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* The text fields of a receipt, in canonical order, with their offsets. */
enum { F_RUN, F_OP, F_TYPE, F_KEY, F_GID, F_METHOD, F_PATH, F_REQ, F_RESP, F_ETAG_S, F_ETAG_R,
       F_OUTCOME, F_CORR, F__COUNT };

struct pending_receipt {
    gcs_receipt r;
    char *owned[F__COUNT];
};

/* ==== Canonical form and hash ==== */

static int put_str(gcs_buf *b, const char *name, const char *v)
{
    if (!v)
        return gcs_buf_printf(b, "%s=~\n", name);
    size_t len = strlen(v);
    int rc = gcs_buf_printf(b, "%s=%zu:", name, len);
    if (rc == 0)
        rc = gcs_buf_put(b, v, len);
    if (rc == 0)
        rc = gcs_buf_putc(b, '\n');
    return rc;
}

static int put_int(gcs_buf *b, const char *name, long long v)
{
    return gcs_buf_printf(b, "%s=%lld\n", name, v);
}

int gcs_receipt_canonical(gcs_buf *out, const gcs_receipt *r)
{
    int rc = 0;
    rc = rc ? rc : gcs_buf_puts(out, "gcscim-receipt-v1\n");
    rc = rc ? rc : put_int(out, "seq", r->seq);
    rc = rc ? rc : put_int(out, "time_ms", r->time_ms);
    rc = rc ? rc : put_str(out, "run_id", r->run_id);
    rc = rc ? rc : put_str(out, "operation", r->operation);
    rc = rc ? rc : put_str(out, "resource_type", r->resource_type);
    rc = rc ? rc : put_str(out, "source_key", r->source_key);
    rc = rc ? rc : put_str(out, "genesys_id", r->genesys_id);
    rc = rc ? rc : put_str(out, "method", r->method);
    rc = rc ? rc : put_str(out, "path", r->path);
    rc = rc ? rc : put_str(out, "request_body", r->request_body);
    rc = rc ? rc : put_int(out, "status", r->status);
    rc = rc ? rc : put_str(out, "response_body", r->response_body);
    rc = rc ? rc : put_str(out, "etag_sent", r->etag_sent);
    rc = rc ? rc : put_str(out, "etag_received", r->etag_received);
    rc = rc ? rc : put_int(out, "attempts", r->attempts);
    rc = rc ? rc : put_int(out, "latency_ms", r->latency_ms);
    rc = rc ? rc : put_str(out, "outcome", r->outcome);
    rc = rc ? rc : put_str(out, "correlation_id", r->correlation_id);
    return rc;
}

static int hash_with(char out[65], const char *prev_hash, const gcs_receipt *r, gcs_buf *scratch)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    int rc;
    gcs_buf_clear(scratch);
    if ((rc = gcs_buf_put(scratch, prev_hash, strnlen(prev_hash, 64))) < 0 ||
        (rc = gcs_receipt_canonical(scratch, r)) < 0)
        return gcs_error_set(rc, "receipt %lld is too large to hash", (long long)r->seq);
    if (!EVP_Digest(scratch->ptr, scratch->len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return gcs_error_set(GCS_ERROR, "sha-256 failed");
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

int gcs_receipt_hash(char out[65], const char *prev_hash, const gcs_receipt *r)
{
    gcs_buf b;
    gcs_buf_init(&b, 4 * GCS_RECEIPT_BODY_MAX);
    int rc = hash_with(out, prev_hash, r, &b);
    gcs_buf_release(&b);
    return rc;
}

/* ==== Appending ==== */

/* Replaces bytes that are not valid UTF-8 with '?' (PostgreSQL refuses them
 * and JSON cannot carry them). */
static void utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
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

/* Cuts s to at most max bytes on a character boundary, saying so. */
static void bound(char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max)
        return;
    char note[64];
    int n = snprintf(note, sizeof note, "...[truncated %zu bytes]", len);
    size_t cut = max - (size_t)n;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(s + cut, note, (size_t)n + 1);
}

/* A redacted, sanitised, bounded copy of a text field (NULL stays NULL). */
static int copy_field(char **out, const char *in, size_t max, bool body)
{
    *out = NULL;
    if (!in)
        return 0;
    gcs_buf b;
    gcs_buf_init(&b, 4 * GCS_RECEIPT_BODY_MAX + 64);
    int rc = 0;
    size_t inlen = strnlen(in, 4 * GCS_RECEIPT_BODY_MAX);
    json_t *parsed = NULL;
    if (body && inlen < 4 * GCS_RECEIPT_BODY_MAX && (in[0] == '{' || in[0] == '['))
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
        utf8_sanitize(*out);
        bound(*out, max);
    }
    gcs_buf_release(&b);
    return rc;
}

static void pending_release(pending_receipt *p)
{
    for (int i = 0; i < F__COUNT; i++)
        free(p->owned[i]);
}

void gcs_store_receipts_release(gcs_store *s)
{
    for (size_t i = 0; i < s->npending; i++)
        pending_release(&s->pending[i]);
    free(s->pending);
    s->pending = NULL;
    s->npending = s->cappending = 0;
}

size_t gcs_store_pending_receipts(const gcs_store *s)
{
    return s->npending;
}

int gcs_store_receipt_append(gcs_store *s, const gcs_receipt *r)
{
    int rc = 0;
    if (s->npending == s->cappending) {
        size_t cap = s->cappending ? s->cappending * 2 : 64;
        pending_receipt *p = realloc(s->pending, cap * sizeof *p);
        if (!p)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        s->pending = p;
        s->cappending = cap;
    }
    pending_receipt *p = &s->pending[s->npending];
    memset(p, 0, sizeof *p);
    const char *in[F__COUNT] = {r->run_id,  r->operation,     r->resource_type, r->source_key,
                                r->genesys_id, r->method,     r->path,          r->request_body,
                                r->response_body, r->etag_sent, r->etag_received, r->outcome,
                                r->correlation_id};
    for (int i = 0; i < F__COUNT && rc == 0; i++) {
        bool body = i == F_REQ || i == F_RESP;
        rc = copy_field(&p->owned[i], in[i], body ? GCS_RECEIPT_BODY_MAX : GCS_RECEIPT_FIELD_MAX,
                        body);
    }
    if (rc < 0) {
        pending_release(p);
        return rc;
    }
    p->r = *r;
    p->r.time_ms = r->time_ms ? r->time_ms : gcs_time_wall_ms();
    p->r.run_id = p->owned[F_RUN];
    p->r.operation = p->owned[F_OP];
    p->r.resource_type = p->owned[F_TYPE];
    p->r.source_key = p->owned[F_KEY];
    p->r.genesys_id = p->owned[F_GID];
    p->r.method = p->owned[F_METHOD];
    p->r.path = p->owned[F_PATH];
    p->r.request_body = p->owned[F_REQ];
    p->r.response_body = p->owned[F_RESP];
    p->r.etag_sent = p->owned[F_ETAG_S];
    p->r.etag_received = p->owned[F_ETAG_R];
    p->r.outcome = p->owned[F_OUTCOME];
    p->r.correlation_id = p->owned[F_CORR];
    p->r.seq = 0;
    p->r.prev_hash = p->r.hash = NULL;
    if (s->npending++ == 0)
        s->oldest_pending_ms = gcs_time_mono_ms();
    if (s->npending >= GCS_STORE_BATCH_MAX ||
        gcs_time_mono_ms() - s->oldest_pending_ms >= GCS_STORE_BATCH_MS)
        rc = gcs_store_flush(s);
    return rc;
}

typedef struct head {
    int64_t seq;
    char hash[65];
    bool found;
} head;

static int head_row(const char *const *cols, int ncols, void *payload)
{
    head *h = payload;
    if (ncols < 2)
        return 0;
    h->seq = gcs_sql_int(cols[0]);
    snprintf(h->hash, sizeof h->hash, "%s", cols[1] ? cols[1] : "");
    h->found = true;
    return 0;
}

static const char insert_sql[] =
    "INSERT INTO receipts (seq, time_ms, run_id, operation, resource_type, source_key,"
    " genesys_id, method, path, request_body, status, response_body, etag_sent,"
    " etag_received, attempts, latency_ms, outcome, correlation_id, prev_hash, hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

int gcs_store_flush(gcs_store *s)
{
    if (s->npending == 0)
        return 0;
    int rc;
    head h = {0};
    char hash[65], prev[65];
    gcs_buf scratch;
    gcs_buf_init(&scratch, 4 * GCS_RECEIPT_BODY_MAX);
    if ((rc = gcs_sql_begin(s, true)) < 0)
        goto out;
    /* The chain head row is the lock that keeps the chain linear: on
     * PostgreSQL FOR UPDATE makes every other appender wait for our commit;
     * SQLite's IMMEDIATE transaction already excludes other writers. */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT seq, hash FROM chain_head WHERE id = 1%s",
             gcs_sql_for_update(s));
    if ((rc = gcs_sql_exec(s, sql, NULL, 0, head_row, &h, NULL)) < 0)
        goto out;
    if (!h.found) {
        rc = gcs_error_set(GCS_EIO, "the receipt chain head is missing");
        goto out;
    }
    memcpy(prev, h.hash, sizeof prev);
    int64_t seq = h.seq;
    for (size_t i = 0; i < s->npending; i++) {
        gcs_receipt r = s->pending[i].r;
        r.seq = ++seq;
        if ((rc = hash_with(hash, prev, &r, &scratch)) < 0)
            goto out;
        char nseq[24], ntime[24], nstatus[24], natt[24], nlat[24];
        const char *params[20] = {
            gcs_sql_i64(nseq, r.seq),        gcs_sql_i64(ntime, r.time_ms),
            r.run_id,                        r.operation,
            r.resource_type,                 r.source_key,
            r.genesys_id,                    r.method,
            r.path,                          r.request_body,
            gcs_sql_i64(nstatus, r.status),  r.response_body,
            r.etag_sent,                     r.etag_received,
            gcs_sql_i64(natt, r.attempts),   gcs_sql_i64(nlat, r.latency_ms),
            r.outcome,                       r.correlation_id,
            prev,                            hash};
        if ((rc = gcs_sql_exec(s, insert_sql, params, 20, NULL, NULL, NULL)) < 0)
            goto out;
        memcpy(prev, hash, sizeof prev);
    }
    char nseq[24];
    const char *params[] = {gcs_sql_i64(nseq, seq), prev};
    if ((rc = gcs_sql_exec(s, "UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", params, 2,
                           NULL, NULL, NULL)) < 0)
        goto out;
    if ((rc = gcs_sql_commit(s)) < 0)
        goto out;
    for (size_t i = 0; i < s->npending; i++)
        pending_release(&s->pending[i]);
    s->npending = 0;
out:
    if (rc < 0) {
        gcs_sql_rollback(s);
        gcs_error_prefix(rc, "cannot append receipts");
    }
    gcs_buf_release(&scratch);
    return rc;
}

/* ==== Reading ==== */

#define RECEIPT_COLUMNS                                                                            \
    "seq, time_ms, run_id, operation, resource_type, source_key, genesys_id, method, path,"       \
    " request_body, status, response_body, etag_sent, etag_received, attempts, latency_ms,"       \
    " outcome, correlation_id, prev_hash, hash"

static void row_to_receipt(gcs_receipt *r, const char *const *c)
{
    r->seq = gcs_sql_int(c[0]);
    r->time_ms = gcs_sql_int(c[1]);
    r->run_id = c[2];
    r->operation = c[3];
    r->resource_type = c[4];
    r->source_key = c[5];
    r->genesys_id = c[6];
    r->method = c[7];
    r->path = c[8];
    r->request_body = c[9];
    r->status = (int)gcs_sql_int(c[10]);
    r->response_body = c[11];
    r->etag_sent = c[12];
    r->etag_received = c[13];
    r->attempts = (int)gcs_sql_int(c[14]);
    r->latency_ms = gcs_sql_int(c[15]);
    r->outcome = c[16];
    r->correlation_id = c[17];
    r->prev_hash = c[18];
    r->hash = c[19];
}

typedef struct each_ctx {
    gcs_receipt_fn fn;
    void *payload;
} each_ctx;

static int each_row(const char *const *cols, int ncols, void *payload)
{
    each_ctx *e = payload;
    if (ncols < 20)
        return gcs_error_set(GCS_EIO, "receipts table has %d columns, expected 20", ncols);
    gcs_receipt r;
    row_to_receipt(&r, cols);
    return e->fn(&r, e->payload);
}

int gcs_store_receipts_each(gcs_store *s, const gcs_receipt_filter *f, gcs_receipt_fn fn,
                            void *payload)
{
    static const gcs_receipt_filter none = {0};
    int rc;
    if ((rc = gcs_store_flush(s)) < 0)
        return rc;
    if (!f)
        f = &none;
    gcs_buf sql;
    gcs_buf_init(&sql, 4096);
    const char *params[12];
    char nums[6][24];
    int n = 0;
    rc = gcs_buf_puts(&sql, "SELECT " RECEIPT_COLUMNS " FROM receipts WHERE 1 = 1");
    if (rc == 0 && f->seq_min > 0) {
        rc = gcs_buf_puts(&sql, " AND seq >= ?");
        params[n++] = gcs_sql_i64(nums[0], f->seq_min);
    }
    if (rc == 0 && f->seq_max > 0) {
        rc = gcs_buf_puts(&sql, " AND seq <= ?");
        params[n++] = gcs_sql_i64(nums[1], f->seq_max);
    }
    if (rc == 0 && f->since_ms > 0) {
        rc = gcs_buf_puts(&sql, " AND time_ms >= ?");
        params[n++] = gcs_sql_i64(nums[2], f->since_ms);
    }
    if (rc == 0 && f->until_ms > 0) {
        rc = gcs_buf_puts(&sql, " AND time_ms < ?");
        params[n++] = gcs_sql_i64(nums[3], f->until_ms);
    }
    if (rc == 0 && f->user) {
        rc = gcs_buf_puts(&sql, " AND (source_key = ? OR genesys_id = ?)");
        params[n++] = f->user;
        params[n++] = f->user;
    }
    if (rc == 0 && f->run_id) {
        rc = gcs_buf_puts(&sql, " AND run_id = ?");
        params[n++] = f->run_id;
    }
    if (rc == 0 && f->outcome) {
        rc = gcs_buf_puts(&sql, " AND outcome = ?");
        params[n++] = f->outcome;
    }
    if (rc == 0)
        rc = gcs_buf_puts(&sql, f->newest_first ? " ORDER BY seq DESC" : " ORDER BY seq");
    if (rc == 0 && f->limit > 0)
        rc = gcs_buf_printf(&sql, " LIMIT %lld", (long long)f->limit);
    if (rc == 0) {
        each_ctx e = {fn, payload};
        rc = gcs_sql_exec(s, sql.ptr, params, n, each_row, &e, NULL);
    }
    gcs_buf_release(&sql);
    return rc;
}

/* ==== Verifying ==== */

typedef struct verify_ctx {
    gcs_verify_result *res;
    int64_t expect;          /* the next sequence number */
    char prev[65];
    gcs_buf scratch;
} verify_ctx;

static int broken(verify_ctx *v, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int broken(verify_ctx *v, int64_t seq, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->res->reason, sizeof v->res->reason, fmt, ap);
    va_end(ap);
    v->res->ok = false;
    v->res->broken_seq = seq;
    return 1;
}

static int verify_row(const char *const *cols, int ncols, void *payload)
{
    verify_ctx *v = payload;
    gcs_receipt r;
    char hash[65];
    int rc;
    if (ncols < 20)
        return gcs_error_set(GCS_EIO, "receipts table has %d columns, expected 20", ncols);
    row_to_receipt(&r, cols);
    if (r.seq > v->res->head_seq)
        return broken(v, r.seq, "receipt %lld is beyond the chain head (%lld): inserted",
                      (long long)r.seq, (long long)v->res->head_seq);
    if (r.seq != v->expect)
        return broken(v, r.seq, "receipt %lld follows receipt %lld: receipts are missing",
                      (long long)r.seq, (long long)v->expect - 1);
    if (!r.prev_hash || strcmp(r.prev_hash, v->prev) != 0)
        return broken(v, r.seq,
                      "receipt %lld: prev_hash does not match the hash of receipt %lld "
                      "(deleted, inserted or reordered)",
                      (long long)r.seq, (long long)r.seq - 1);
    if ((rc = hash_with(hash, v->prev, &r, &v->scratch)) < 0)
        return rc;
    if (!r.hash || strcmp(r.hash, hash) != 0)
        return broken(v, r.seq, "receipt %lld: content does not match its hash (edited)",
                      (long long)r.seq);
    memcpy(v->prev, hash, sizeof v->prev);
    v->expect++;
    v->res->checked++;
    return 0;
}

int gcs_store_receipts_verify(gcs_verify_result *out, gcs_store *s)
{
    int rc;
    head h = {0};
    verify_ctx v = {.res = out, .expect = 1};
    memset(out, 0, sizeof *out);
    out->ok = true;
    memcpy(v.prev, gcs_receipt_genesis_hash, sizeof v.prev);
    gcs_buf_init(&v.scratch, 4 * GCS_RECEIPT_BODY_MAX);
    if ((rc = gcs_store_flush(s)) < 0)
        goto out;
    /* One snapshot for the head and the walk: appends made meanwhile by other
     * processes are neither seen nor mistaken for an insertion. */
    if ((rc = gcs_sql_begin(s, false)) < 0)
        goto out;
    if ((rc = gcs_sql_exec(s, "SELECT seq, hash FROM chain_head WHERE id = 1", NULL, 0, head_row,
                           &h, NULL)) < 0)
        goto out;
    if (!h.found) {
        broken(&v, 1, "the chain head is missing");
        goto done;
    }
    out->head_seq = h.seq;
    memcpy(out->head_hash, h.hash, sizeof out->head_hash);
    rc = gcs_sql_exec(s, "SELECT " RECEIPT_COLUMNS " FROM receipts ORDER BY seq", NULL, 0,
                      verify_row, &v, NULL);
    if (rc < 0)
        goto out;
    rc = 0;
    if (out->ok && v.expect - 1 < h.seq)
        broken(&v, v.expect, "receipts %lld to %lld are missing (the chain head is at %lld)",
               (long long)v.expect, (long long)h.seq, (long long)h.seq);
    else if (out->ok && strcmp(v.prev, h.hash) != 0)
        broken(&v, h.seq, "receipt %lld does not match the chain head", (long long)h.seq);
done:
    rc = gcs_sql_commit(s);
out:
    gcs_sql_rollback(s);
    gcs_buf_release(&v.scratch);
    return rc;
}
