/*
 * Receipts: the canonical form, the SHA-256 chain, listing and verification
 * (appending is writer.c). docs/store.md describes the chain format byte for byte.
 */
#include "store/store_int.h"

#include "core/error.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char gcs_receipt_genesis_hash[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* The text fields of a receipt, in canonical order, with their offsets. */
/* ==== Canonical form and hash ==== */

/* Appends "name=" and v in decimal. printf is a third of the cost of hashing
 * a receipt, hence the hand-written conversion. */
static int put_num(gcs_buf *b, const char *name, long long v, char end)
{
    char tmp[48];
    char *p = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    *--p = end;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    int rc = gcs_buf_puts(b, name);
    if (rc == 0)
        rc = gcs_buf_putc(b, '=');
    if (rc == 0)
        rc = gcs_buf_put(b, p, (size_t)(tmp + sizeof tmp - p));
    return rc;
}

static int put_str(gcs_buf *b, const char *name, const char *v)
{
    if (!v) {
        int rc = gcs_buf_puts(b, name);
        return rc ? rc : gcs_buf_put(b, "=~\n", 3);
    }
    size_t len = strlen(v);
    int rc = put_num(b, name, (long long)len, ':');
    if (rc == 0)
        rc = gcs_buf_put(b, v, len);
    if (rc == 0)
        rc = gcs_buf_putc(b, '\n');
    return rc;
}

static int put_int(gcs_buf *b, const char *name, long long v)
{
    return put_num(b, name, v, '\n');
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

/* OpenSSL 3 looks the algorithm up on every EVP_sha256() digest unless it is
 * fetched once: that lookup alone cost as much as hashing a receipt. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int gcs_store__receipt_hash_buf(char out[65], const char *prev_hash, const gcs_receipt *r,
                                gcs_buf *scratch)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    int rc;
    gcs_buf_clear(scratch);
    if ((rc = gcs_buf_put(scratch, prev_hash, strnlen(prev_hash, 64))) < 0 ||
        (rc = gcs_receipt_canonical(scratch, r)) < 0)
        return gcs_error_set(rc, "receipt %lld is too large to hash", (long long)r->seq);
    pthread_once(&sha256_once, fetch_sha256);
    if (!sha256_md || !EVP_Digest(scratch->ptr, scratch->len, md, &mdlen, sha256_md, NULL) ||
        mdlen != 32)
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
    int rc = gcs_store__receipt_hash_buf(out, prev_hash, r, &b);
    gcs_buf_release(&b);
    return rc;
}

int gcs_store__chain_head_row(const char *const *cols, int ncols, void *payload)
{
    gcs_chain_head *h = payload;
    if (ncols < 2)
        return 0;
    h->seq = gcs_store__sql_int(cols[0]);
    snprintf(h->hash, sizeof h->hash, "%s", cols[1] ? cols[1] : "");
    h->found = true;
    return 0;
}

/* ==== Reading ==== */

#define RECEIPT_COLUMNS                                                                            \
    "seq, time_ms, run_id, operation, resource_type, source_key, genesys_id, method, path,"       \
    " request_body, status, response_body, etag_sent, etag_received, attempts, latency_ms,"       \
    " outcome, correlation_id, prev_hash, hash"

static void row_to_receipt(gcs_receipt *r, const char *const *c)
{
    r->seq = gcs_store__sql_int(c[0]);
    r->time_ms = gcs_store__sql_int(c[1]);
    r->run_id = c[2];
    r->operation = c[3];
    r->resource_type = c[4];
    r->source_key = c[5];
    r->genesys_id = c[6];
    r->method = c[7];
    r->path = c[8];
    r->request_body = c[9];
    r->status = (int)gcs_store__sql_int(c[10]);
    r->response_body = c[11];
    r->etag_sent = c[12];
    r->etag_received = c[13];
    r->attempts = (int)gcs_store__sql_int(c[14]);
    r->latency_ms = gcs_store__sql_int(c[15]);
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
        params[n++] = gcs_store__sql_i64(nums[0], f->seq_min);
    }
    if (rc == 0 && f->seq_max > 0) {
        rc = gcs_buf_puts(&sql, " AND seq <= ?");
        params[n++] = gcs_store__sql_i64(nums[1], f->seq_max);
    }
    if (rc == 0 && f->since_ms > 0) {
        rc = gcs_buf_puts(&sql, " AND time_ms >= ?");
        params[n++] = gcs_store__sql_i64(nums[2], f->since_ms);
    }
    if (rc == 0 && f->until_ms > 0) {
        rc = gcs_buf_puts(&sql, " AND time_ms < ?");
        params[n++] = gcs_store__sql_i64(nums[3], f->until_ms);
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
        rc = gcs_store__sql_exec(s, sql.ptr, params, n, each_row, &e, NULL);
    }
    gcs_buf_release(&sql);
    return rc;
}

/* ==== Verifying ==== */

typedef struct verify_ctx {
    gcs_verify_result *res;
    int64_t expect;          /* the next sequence number */
    int64_t anchor_seq;      /* 0, or a receipt whose hash must be anchor_hash */
    const char *anchor_hash;
    bool anchor_seen;
    bool from_anchor;        /* the walk starts at the anchor, trusting its prev_hash */
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
    if (v->from_anchor && r.seq == v->anchor_seq && r.seq == v->expect && r.prev_hash &&
        strlen(r.prev_hash) == 64)
        memcpy(v->prev, r.prev_hash, sizeof v->prev);
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
    if ((rc = gcs_store__receipt_hash_buf(hash, v->prev, &r, &v->scratch)) < 0)
        return rc;
    if (!r.hash || strcmp(r.hash, hash) != 0)
        return broken(v, r.seq, "receipt %lld: content does not match its hash (edited)",
                      (long long)r.seq);
    if (r.seq == v->anchor_seq) {
        v->anchor_seen = true;
        if (strcmp(hash, v->anchor_hash) != 0)
            return broken(v, r.seq,
                          "receipt %lld: its hash is not the one recorded earlier "
                          "(the chain was rewritten up to here)",
                          (long long)r.seq);
    }
    memcpy(v->prev, hash, sizeof v->prev);
    v->expect++;
    v->res->checked++;
    return 0;
}

int gcs_store_receipts_verify(gcs_verify_result *out, gcs_store *s)
{
    return gcs_store_receipts_verify_anchored(out, s, 0, NULL);
}

static int verify_walk(gcs_verify_result *out, gcs_store *s, int64_t anchor_seq,
                       const char *anchor_hash, bool from_anchor)
{
    int rc;
    gcs_chain_head h = {0};
    verify_ctx v = {.res = out, .expect = 1, .anchor_seq = anchor_hash ? anchor_seq : 0,
                    .anchor_hash = anchor_hash};
    v.from_anchor = from_anchor && v.anchor_seq > 0;
    char from[24];
    const char *params[1] = {from};
    snprintf(from, sizeof from, "%lld", (long long)(v.from_anchor ? v.anchor_seq : 1));
    if (v.from_anchor)
        v.expect = v.anchor_seq;
    memset(out, 0, sizeof *out);
    out->ok = true;
    memcpy(v.prev, gcs_receipt_genesis_hash, sizeof v.prev);
    gcs_buf_init(&v.scratch, 4 * GCS_RECEIPT_BODY_MAX);
    if ((rc = gcs_store_flush(s)) < 0)
        goto out;
    /* One snapshot for the head and the walk: appends made meanwhile by other
     * processes are neither seen nor mistaken for an insertion. */
    if ((rc = gcs_store__sql_begin(s, false)) < 0)
        goto out;
    if ((rc = gcs_store__sql_exec(s, "SELECT seq, hash FROM chain_head WHERE id = 1", NULL, 0,
                                  gcs_store__chain_head_row, &h, NULL)) < 0)
        goto out;
    if (!h.found) {
        broken(&v, 1, "the chain head is missing");
        goto done;
    }
    out->head_seq = h.seq;
    memcpy(out->head_hash, h.hash, sizeof out->head_hash);
    rc = gcs_store__sql_exec(s,
                             "SELECT " RECEIPT_COLUMNS " FROM receipts WHERE seq >= ? ORDER BY seq",
                             params, 1, verify_row, &v, NULL);
    if (rc < 0)
        goto out;
    rc = 0;
    if (out->ok && v.expect - 1 < h.seq)
        broken(&v, v.expect, "receipts %lld to %lld are missing (the chain head is at %lld)",
               (long long)v.expect, (long long)h.seq, (long long)h.seq);
    else if (out->ok && strcmp(v.prev, h.hash) != 0)
        broken(&v, h.seq, "receipt %lld does not match the chain head", (long long)h.seq);
    else if (out->ok && v.anchor_seq > 0 && !v.anchor_seen)
        broken(&v, v.anchor_seq, "receipt %lld, recorded earlier, is not in the chain",
               (long long)v.anchor_seq);
done:
    rc = gcs_store__sql_commit(s);
out:
    gcs_store__sql_rollback(s);
    gcs_buf_release(&v.scratch);
    return rc;
}

int gcs_store_receipts_verify_anchored(gcs_verify_result *out, gcs_store *s, int64_t anchor_seq,
                                       const char *anchor_hash)
{
    return verify_walk(out, s, anchor_seq, anchor_hash, false);
}

int gcs_store_receipts_verify_since(gcs_verify_result *out, gcs_store *s, int64_t anchor_seq,
                                    const char *anchor_hash)
{
    return verify_walk(out, s, anchor_seq, anchor_hash, true);
}
