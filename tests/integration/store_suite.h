/*
 * store_suite.h - the store's test suite, shared by both back ends.
 *
 * Included once by test_store_sqlite.c and once by test_store_postgres.c, each
 * of which defines fixture_open() (a fresh, empty store per test: a new SQLite
 * file, or a new PostgreSQL schema) and fixture_close(), and lists the tests.
 * Every test here must pass on both back ends.
 */
#ifndef GCS_TESTS_STORE_SUITE_H
#define GCS_TESTS_STORE_SUITE_H

#include "gcstest.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/time.h"
#include "store/store.h"

typedef struct fixture {
    gcs_store *s;
    char *url;      /* opens the same store again */
    char *dir;      /* SQLite: the directory holding the file */
    char *schema;   /* PostgreSQL: the schema of this test */
} fixture;

/* Defined by the including file. */
static int fixture_open(void **state);
static int fixture_close(void **state);

/* ==== Helpers ==== */

static gcs_store *store_of(void **state)
{
    return ((fixture *)*state)->s;
}

static gcs_store *reopen(void **state)
{
    fixture *f = *state;
    gcs_store_free(f->s);
    f->s = NULL;
    if (gcs_store_open(&f->s, f->url) != 0)
        fail_msg("cannot reopen %s: %s", f->url, gcs_error_last());
    return f->s;
}

static void append_n(gcs_store *s, int n, const char *run_id)
{
    for (int i = 0; i < n; i++) {
        char key[32], gid[48];
        snprintf(key, sizeof key, "emp-%04d", i);
        snprintf(gid, sizeof gid, "gid-%04d", i);
        gcs_receipt r = {
            .run_id = run_id, .operation = "create", .resource_type = "user",
            .source_key = key, .genesys_id = gid, .method = "POST", .path = "/api/v2/scim/v2/Users",
            .request_body = "{\"userName\":\"a@example.com\",\"password\":\"hunter2-secret\"}",
            .status = 201, .response_body = "{\"id\":\"x\"}", .etag_received = "W/\"1\"",
            .attempts = 1, .latency_ms = 12, .outcome = "ok", .correlation_id = "corr-1"};
        assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    }
    assert_int_equal(gcs_store_flush(s), 0);
}

static void expect_broken(gcs_store *s, int64_t seq, const char *words)
{
    gcs_verify_result v;
    assert_int_equal(gcs_store_receipts_verify(&v, s), 0);
    if (v.ok || v.broken_seq != seq || !strstr(v.reason, words))
        fail_msg("expected a break at %" PRId64 " (%s), got ok=%d at %" PRId64 ": %s", seq, words,
                 v.ok, v.broken_seq, v.reason);
}

static void expect_intact(gcs_store *s, int64_t n)
{
    gcs_verify_result v;
    assert_int_equal(gcs_store_receipts_verify(&v, s), 0);
    if (!v.ok)
        fail_msg("chain broken at %" PRId64 ": %s", v.broken_seq, v.reason);
    assert_int_equal(v.checked, n);
    assert_int_equal(v.head_seq, n);
}

static void raw_ok(gcs_store *s, const char *sql)
{
    if (gcs_store_exec_raw(s, sql) != 0)
        fail_msg("%s: %s", sql, gcs_error_last());
}

/* What an attacker with write access does first: remove the guards. */
static void drop_guards(gcs_store *s)
{
    if (gcs_store_kind_of(s) == GCS_STORE_SQLITE) {
        raw_ok(s, "DROP TRIGGER receipts_no_update; DROP TRIGGER receipts_no_delete;"
                  " DROP TRIGGER chain_head_forward; DROP TRIGGER chain_head_no_delete");
    } else {
        raw_ok(s, "DROP TRIGGER receipts_no_change ON receipts;"
                  " DROP TRIGGER receipts_no_truncate ON receipts;"
                  " DROP TRIGGER chain_head_forward ON chain_head");
    }
}

typedef struct collected {
    int n;
    int64_t seqs[64];
    char keys[64][32];
    char bodies[64][256];
} collected;

static int collect(const gcs_receipt *r, void *payload)
{
    collected *c = payload;
    if (c->n < 64) {
        c->seqs[c->n] = r->seq;
        snprintf(c->keys[c->n], sizeof c->keys[0], "%s", r->source_key ? r->source_key : "");
        snprintf(c->bodies[c->n], sizeof c->bodies[0], "%s",
                 r->request_body ? r->request_body : "");
    }
    c->n++;
    return 0;
}

/* ==== Receipts ==== */

/* Every text field of a receipt, one after the other. */
static int dump_all(const gcs_receipt *r, void *payload)
{
    const char *f[] = {r->run_id, r->operation, r->source_key, r->path, r->request_body,
                       r->response_body, r->etag_sent, r->etag_received, r->outcome};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        assert_int_equal(gcs_buf_printf(payload, "%s\n", f[i] ? f[i] : "~"), 0);
    return 0;
}

static void receipts_round_trip_redacted_and_bounded(void **state)
{
    gcs_store *s = store_of(state);
    char *big = malloc(GCS_RECEIPT_BODY_MAX * 2 + 1);
    memset(big, 'x', GCS_RECEIPT_BODY_MAX * 2);
    big[GCS_RECEIPT_BODY_MAX * 2] = '\0';
    gcs_receipt r = {.run_id = "run-1", .operation = "create", .source_key = "emp-1",
                     .method = "POST", .path = "/api/v2/scim/v2/Users",
                     .request_body = "{\"userName\":\"a\",\"password\":\"hunter2-secret\"}",
                     .status = 201, .response_body = big, .etag_sent = "W/\"0\"",
                     .attempts = 2, .latency_ms = 33, .outcome = "ok"};
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    /* 1 until the writer's timer commits it, which may already have happened. */
    assert_true(gcs_store_pending_receipts(s) <= 1);
    assert_int_equal(gcs_store_flush(s), 0);
    assert_int_equal(gcs_store_pending_receipts(s), 0);
    free(big);

    collected c = {0};
    gcs_receipt_filter f = {.run_id = "run-1"};
    assert_int_equal(gcs_store_receipts_each(s, &f, collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.seqs[0], 1);
    assert_null(strstr(c.bodies[0], "hunter2"));
    assert_non_null(strstr(c.bodies[0], "\"password\":\"***\""));

    expect_intact(s, 1);
}

static void receipts_drop_registered_secrets_from_any_body(void **state)
{
    gcs_store *s = store_of(state);
    gcs_redact_register("tok-8c1d9e2f3a");
    gcs_receipt r = {.operation = "patch", .status = 200,
                     .request_body = "{\"note\":\"tok-8c1d9e2f3a\",\"active\":true}",
                     .response_body = "{\"echo\":\"tok-8c1d9e2f3a\"}",
                     .path = "/api/v2/scim/v2/Users?access_token=tok-8c1d9e2f3a"};
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    assert_int_equal(gcs_store_flush(s), 0);
    gcs_redact_reset();
    collected c = {0};
    assert_int_equal(gcs_store_receipts_each(s, NULL, collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_null(strstr(c.bodies[0], "tok-8c1d9e2f3a"));
    assert_non_null(strstr(c.bodies[0], "\"active\":true"));
    gcs_buf dump;
    gcs_buf_init(&dump, 1 << 20);
    assert_int_equal(gcs_store_receipts_each(s, NULL, dump_all, &dump), 0);
    assert_null(strstr(dump.ptr, "tok-8c1d9e2f3a"));
    gcs_buf_release(&dump);
}

static int body_len(const gcs_receipt *r, void *payload)
{
    size_t *len = payload;
    *len = strlen(r->response_body);
    if (!strstr(r->response_body, "[truncated"))
        *len = 0;
    return 0;
}

static void receipts_response_body_is_bounded(void **state)
{
    gcs_store *s = store_of(state);
    size_t n = GCS_RECEIPT_BODY_MAX * 2;
    char *big = malloc(n + 1);
    memset(big, 'y', n);
    big[n] = '\0';
    gcs_receipt r = {.operation = "read", .status = 200, .response_body = big, .outcome = "ok"};
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    assert_int_equal(gcs_store_flush(s), 0);
    free(big);
    size_t len = 0;
    assert_int_equal(gcs_store_receipts_each(s, NULL, body_len, &len), 0);
    assert_true(len > 0);
    assert_true(len <= GCS_RECEIPT_BODY_MAX);
    expect_intact(s, 1);
}

static int fields_of_big_request(const gcs_receipt *r, void *payload)
{
    gcs_buf *b = payload;
    const char *cut = strstr(r->request_body, "...[truncated 131073 bytes]");
    return gcs_buf_printf(b, "%zu %d|%s|%s|%s|%s|%s|%s|%s", strlen(r->request_body),
                          cut && cut[27] == '\0', r->run_id, r->source_key,
                          r->genesys_id ? r->genesys_id : "~", r->path, r->response_body,
                          r->etag_received, r->correlation_id);
}

/* A body the caller redacted is bounded too, and the fields around it in the
 * copy keep their own values: each cut where its own bytes end. */
static void receipts_redacted_body_is_bounded_and_fields_kept(void **state)
{
    gcs_store *s = store_of(state);
    size_t n = GCS_RECEIPT_BODY_MAX * 2 + 1;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    gcs_receipt r = {.operation = "create", .run_id = "run-big", .source_key = "emp-1",
                     .method = "POST", .path = "/api/v2/scim/v2/Users", .request_body = big,
                     .response_body = "{\"id\":\"u1\"}", .etag_received = "W/\"1\"",
                     .correlation_id = "corr-1", .status = 201, .outcome = "ok",
                     .bodies_redacted = true};
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    free(big);
    gcs_buf got;
    gcs_buf_init(&got, 0);
    assert_int_equal(gcs_store_receipts_each(s, NULL, fields_of_big_request, &got), 0);
    char want[256];
    snprintf(want, sizeof want, "%d 1|run-big|emp-1|~|/api/v2/scim/v2/Users|{\"id\":\"u1\"}|W/\"1\"|corr-1",
             GCS_RECEIPT_BODY_MAX);
    assert_string_equal(got.ptr, want);
    gcs_buf_release(&got);
    expect_intact(s, 1);
}

static void receipts_filters(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 5, "run-a");
    append_n(s, 3, "run-b");
    collected c = {0};
    gcs_receipt_filter f = {.run_id = "run-b"};
    assert_int_equal(gcs_store_receipts_each(s, &f, collect, &c), 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.seqs[0], 6);

    memset(&c, 0, sizeof c);
    f = (gcs_receipt_filter){.user = "emp-0001"};
    assert_int_equal(gcs_store_receipts_each(s, &f, collect, &c), 0);
    assert_int_equal(c.n, 2);
    memset(&c, 0, sizeof c);
    f = (gcs_receipt_filter){.user = "gid-0004"};
    assert_int_equal(gcs_store_receipts_each(s, &f, collect, &c), 0);
    assert_int_equal(c.n, 1);

    memset(&c, 0, sizeof c);
    f = (gcs_receipt_filter){.limit = 2, .newest_first = true};
    assert_int_equal(gcs_store_receipts_each(s, &f, collect, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.seqs[0], 8);
    assert_int_equal(c.seqs[1], 7);

    memset(&c, 0, sizeof c);
    f = (gcs_receipt_filter){.outcome = "failed"};
    assert_int_equal(gcs_store_receipts_each(s, &f, collect, &c), 0);
    assert_int_equal(c.n, 0);

    memset(&c, 0, sizeof c);
    int64_t now = gcs_time_wall_ms();
    f = (gcs_receipt_filter){.since_ms = now + 60000};
    assert_int_equal(gcs_store_receipts_each(s, &f, collect, &c), 0);
    assert_int_equal(c.n, 0);
    f = (gcs_receipt_filter){.since_ms = now - 60000, .until_ms = now + 60000};
    assert_int_equal(gcs_store_receipts_each(s, &f, collect, &c), 0);
    assert_int_equal(c.n, 8);
}

static void receipts_database_refuses_update_and_delete(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 3, "run-1");
    assert_true(gcs_store_exec_raw(s, "UPDATE receipts SET status = 500 WHERE seq = 2") < 0);
    assert_non_null(strstr(gcs_error_last(), "append-only"));
    assert_true(gcs_store_exec_raw(s, "DELETE FROM receipts WHERE seq = 3") < 0);
    assert_non_null(strstr(gcs_error_last(), "append-only"));
    assert_true(gcs_store_exec_raw(s, "DELETE FROM receipts") < 0);
    if (gcs_store_kind_of(s) == GCS_STORE_POSTGRES) {
        assert_true(gcs_store_exec_raw(s, "TRUNCATE receipts") < 0);
        assert_non_null(strstr(gcs_error_last(), "append-only"));
    }
    /* Moving the head back (to hide a truncated tail) is refused as well. */
    assert_true(gcs_store_exec_raw(s, "UPDATE chain_head SET seq = 1") < 0);
    assert_true(gcs_store_exec_raw(s, "DELETE FROM chain_head") < 0);
    expect_intact(s, 3);
}

static void verify_catches_an_edit(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 10, "run-1");
    expect_intact(s, 10);
    drop_guards(s);
    raw_ok(s, "UPDATE receipts SET status = 204 WHERE seq = 4");
    expect_broken(s, 4, "edited");
}

static void verify_catches_an_edit_of_the_hash_too(void **state)
{
    /* Rewriting a receipt and its own hash still breaks the next link. */
    gcs_store *s = store_of(state);
    append_n(s, 6, "run-1");
    drop_guards(s);
    gcs_receipt r = {.seq = 3, .time_ms = 1, .operation = "forged", .status = 200};
    char prev[65] = {0}, hash[65];
    /* Any prev works for the attacker's purpose: the hash is of their choosing. */
    memcpy(prev, gcs_receipt_genesis_hash, 65);
    assert_int_equal(gcs_receipt_hash(hash, prev, &r), 0);
    char sql[512];
    snprintf(sql, sizeof sql,
             "UPDATE receipts SET operation = 'forged', hash = '%s' WHERE seq = 3", hash);
    raw_ok(s, sql);
    expect_broken(s, 3, "edited");
}

static void verify_catches_a_deletion(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 10, "run-1");
    drop_guards(s);
    raw_ok(s, "DELETE FROM receipts WHERE seq = 5");
    expect_broken(s, 6, "missing");
}

static void verify_catches_a_deleted_tail(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 10, "run-1");
    drop_guards(s);
    raw_ok(s, "DELETE FROM receipts WHERE seq >= 9");
    expect_broken(s, 9, "missing");
}

static int copy_hash(const gcs_receipt *r, void *p)
{
    snprintf(p, 65, "%s", r->hash);
    return 0;
}

static void verify_catches_an_insertion(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 10, "run-1");
    drop_guards(s);
    /* The attacker makes room after receipt 5 and forges a receipt 6 correctly
     * chained to receipt 5; the old receipt 6, now 7, no longer links. */
    char prev[65] = {0};
    gcs_receipt_filter f = {.seq_min = 5, .seq_max = 5};
    assert_int_equal(gcs_store_receipts_each(s, &f, copy_hash, prev), 0);
    assert_int_equal(strlen(prev), 64);
    raw_ok(s, "UPDATE receipts SET seq = seq + 1000 WHERE seq > 5");
    raw_ok(s, "UPDATE receipts SET seq = seq - 999 WHERE seq > 1000");
    gcs_receipt r = {.seq = 6, .time_ms = 1000, .operation = "forged", .status = 201,
                     .attempts = 1, .outcome = "ok"};
    char hash[65];
    assert_int_equal(gcs_receipt_hash(hash, prev, &r), 0);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO receipts (seq, time_ms, operation, status, attempts, latency_ms,"
             " outcome, prev_hash, hash) VALUES (6, 1000, 'forged', 201, 1, 0, 'ok', '%s', '%s')",
             prev, hash);
    raw_ok(s, sql);
    expect_broken(s, 7, "prev_hash");
}

typedef struct rewrite {
    gcs_store *s;
    char prev[65];
    gcs_buf sql;
} rewrite;

/* The attacker's tool: re-hash every receipt from its own content, so that the
 * rewritten chain holds on its own. */
static int rehash(const gcs_receipt *r, void *payload)
{
    rewrite *w = payload;
    char hash[65];
    assert_int_equal(gcs_receipt_hash(hash, w->prev, r), 0);
    assert_int_equal(gcs_buf_printf(&w->sql, "UPDATE receipts SET prev_hash = '%s', hash = '%s' WHERE seq = %lld;",
                   w->prev, hash, (long long)r->seq), 0);
    memcpy(w->prev, hash, 65);
    return 0;
}

static void an_anchor_catches_a_rewritten_chain(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 8, "run-1");
    gcs_verify_result v;
    assert_int_equal(gcs_store_receipts_verify(&v, s), 0);
    char anchor[65];
    memcpy(anchor, v.head_hash, 65);
    assert_int_equal(gcs_store_receipts_verify_anchored(&v, s, 8, anchor), 0);
    assert_true(v.ok);
    assert_int_equal(gcs_store_receipts_verify_anchored(&v, s, 9, anchor), 0);
    assert_false(v.ok); /* an anchor past the end */

    drop_guards(s);
    raw_ok(s, "UPDATE receipts SET status = 500 WHERE seq = 3");
    rewrite w = {.s = s};
    memcpy(w.prev, gcs_receipt_genesis_hash, 65);
    gcs_buf_init(&w.sql, 1 << 20);
    assert_int_equal(gcs_store_receipts_each(s, NULL, rehash, &w), 0);
    assert_int_equal(gcs_buf_printf(&w.sql, "UPDATE chain_head SET hash = '%s' WHERE id = 1", w.prev), 0);
    raw_ok(s, w.sql.ptr);
    gcs_buf_release(&w.sql);
    expect_intact(s, 8); /* the forgery holds on its own... */
    assert_int_equal(gcs_store_receipts_verify_anchored(&v, s, 8, anchor), 0);
    assert_false(v.ok); /* ...but not against the hash kept elsewhere */
    assert_int_equal(v.broken_seq, 8);
    assert_non_null(strstr(v.reason, "recorded earlier"));
}

/* The incremental walk reads from the anchor on, and still catches an edit at
 * or after it, and an anchor whose hash changed. */
static void verify_since_walks_from_the_anchor(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 5, "run-1");
    gcs_verify_result v;
    assert_int_equal(gcs_store_receipts_verify(&v, s), 0);
    char anchor[65];
    memcpy(anchor, v.head_hash, 65);
    append_n(s, 3, "run-2");
    assert_int_equal(gcs_store_receipts_verify_since(&v, s, 5, anchor), 0);
    assert_true(v.ok);
    assert_int_equal(v.head_seq, 8);
    assert_int_equal(v.checked, 4); /* receipts 5 to 8 */
    char wrong[65];
    memcpy(wrong, anchor, 65);
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    assert_int_equal(gcs_store_receipts_verify_since(&v, s, 5, wrong), 0);
    assert_false(v.ok);
    assert_int_equal(v.broken_seq, 5);

    drop_guards(s);
    raw_ok(s, "UPDATE receipts SET status = 500 WHERE seq = 7");
    assert_int_equal(gcs_store_receipts_verify_since(&v, s, 5, anchor), 0);
    assert_false(v.ok);
    assert_int_equal(v.broken_seq, 7);
    raw_ok(s, "UPDATE receipts SET status = 500 WHERE seq = 5");
    assert_int_equal(gcs_store_receipts_verify_since(&v, s, 5, anchor), 0);
    assert_false(v.ok);
    assert_int_equal(v.broken_seq, 5);
    raw_ok(s, "DELETE FROM receipts WHERE seq = 5");
    assert_int_equal(gcs_store_receipts_verify_since(&v, s, 5, anchor), 0);
    assert_false(v.ok);
    assert_int_equal(v.broken_seq, 6);
}

static void verify_catches_an_append_past_the_head(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 3, "run-1");
    raw_ok(s, "INSERT INTO receipts (seq, time_ms, status, attempts, latency_ms, prev_hash, hash)"
              " VALUES (4, 1, 200, 1, 0, 'x', 'y')");
    expect_broken(s, 4, "beyond the chain head");
}

static void verify_catches_a_reordering(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 10, "run-1");
    drop_guards(s);
    raw_ok(s, "UPDATE receipts SET seq = -3 WHERE seq = 3");
    raw_ok(s, "UPDATE receipts SET seq = 3 WHERE seq = 4");
    raw_ok(s, "UPDATE receipts SET seq = 4 WHERE seq = -3");
    expect_broken(s, 3, "prev_hash");
}

static void verify_empty_chain_holds(void **state)
{
    gcs_store *s = store_of(state);
    expect_intact(s, 0);
}

static void receipts_survive_reopen_and_chain_continues(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 4, "run-1");
    gcs_receipt r = {.operation = "read", .status = 200};
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    /* Not flushed explicitly: gcs_store_free flushes. */
    s = reopen(state);
    append_n(s, 2, "run-2");
    expect_intact(s, 7);
    int v = 0;
    assert_int_equal(gcs_store_schema_version(&v, s), 0);
    assert_int_equal(v, 12);
}

static int collect_owned(const char *value, void *payload)
{
    gcs_buf *b = payload;
    return gcs_buf_printf(b, "%s,", value);
}

/* What gcscim added to a group is recorded once, per kind, and forgotten when
 * it removed it: the only memberships it may take away. */
static void group_ownership_is_recorded_per_group_and_kind(void **state)
{
    gcs_store *s = store_of(state);
    gcs_buf b;
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_store_owned_add(s, "g1", GCS_OWNED_MEMBER, "u2", "run-1"), 0);
    assert_int_equal(gcs_store_owned_add(s, "g1", GCS_OWNED_MEMBER, "u1", "run-1"), 0);
    assert_int_equal(gcs_store_owned_add(s, "g1", GCS_OWNED_MEMBER, "u1", "run-2"), 0);
    assert_int_equal(gcs_store_owned_add(s, "g1", GCS_OWNED_GRANT, "r1/d1", "run-1"), 0);
    assert_int_equal(gcs_store_owned_add(s, "g2", GCS_OWNED_MEMBER, "u3", NULL), 0);
    assert_int_equal(gcs_store_owned_each(s, "g1", GCS_OWNED_MEMBER, collect_owned, &b), 0);
    assert_string_equal(b.ptr, "u1,u2,");
    assert_int_equal(gcs_store_owned_remove(s, "g1", GCS_OWNED_MEMBER, "u1"), 0);
    assert_int_equal(gcs_store_owned_remove(s, "g1", GCS_OWNED_MEMBER, "nobody"), 0);
    gcs_buf_release(&b);
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_store_owned_each(s, "g1", GCS_OWNED_MEMBER, collect_owned, &b), 0);
    assert_string_equal(b.ptr, "u2,");
    gcs_buf_release(&b);
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_store_owned_each(s, "g1", GCS_OWNED_GRANT, collect_owned, &b), 0);
    assert_string_equal(b.ptr, "r1/d1,");
    gcs_buf_release(&b);
}

/* The hosts sharing one client's rate limit: each beat counts the live ones;
 * a host that stops beating stops counting once its row expires, one that
 * leaves at once. */
static void hosts_count_while_they_beat(void **state)
{
    gcs_store *s = store_of(state);
    int live = 0;
    assert_int_equal(gcs_store_host_beat(&live, s, "a:1", 60000), 0);
    assert_int_equal(live, 1);
    assert_int_equal(gcs_store_host_beat(&live, s, "b:2", 60000), 0);
    assert_int_equal(live, 2);
    /* Beating again is no second host. */
    assert_int_equal(gcs_store_host_beat(&live, s, "a:1", 60000), 0);
    assert_int_equal(live, 2);
    /* c's row expires at once: it counts for nobody after. */
    assert_int_equal(gcs_store_host_beat(&live, s, "c:3", 1), 0);
    usleep(5000);
    assert_int_equal(gcs_store_host_beat(&live, s, "a:1", 60000), 0);
    assert_int_equal(live, 2);
    assert_int_equal(gcs_store_host_leave(s, "b:2"), 0);
    assert_int_equal(gcs_store_host_beat(&live, s, "a:1", 60000), 0);
    assert_int_equal(live, 1);
    assert_int_equal(gcs_store_host_leave(s, "nobody"), 0);
}

static int count_receipts(const gcs_receipt *r, void *payload)
{
    (void)r;
    (*(int *)payload)++;
    return 0;
}

static void receipts_are_committed_on_a_timer(void **state)
{
    fixture *f = *state;
    gcs_receipt r = {.operation = "read", .status = 200};
    assert_int_equal(gcs_store_receipt_append(f->s, &r), 0);
    /* No flush: the writer commits within GCS_STORE_BATCH_MS by itself. */
    gcs_store *other = NULL;
    assert_int_equal(gcs_store_open(&other, f->url), 0);
    int n = 0;
    for (int i = 0; i < 500 && n == 0; i++) { /* up to 10 s on a loaded machine */
        gcs_time_sleep_ms(20);
        n = 0;
        assert_int_equal(gcs_store_receipts_each(other, NULL, count_receipts, &n), 0);
    }
    assert_int_equal(n, 1);
    gcs_store_free(other);
}

static void a_failed_flush_keeps_the_receipts_for_a_retry(void **state)
{
    gcs_store *s = store_of(state);
    append_n(s, 2, "run-1");
    if (gcs_store_kind_of(s) == GCS_STORE_SQLITE)
        raw_ok(s, "CREATE TRIGGER refuse_all BEFORE INSERT ON receipts"
                  " BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
    else
        raw_ok(s, "CREATE FUNCTION refuse_all() RETURNS trigger LANGUAGE plpgsql AS"
                  " $$ BEGIN RAISE EXCEPTION 'disk says no'; END $$;"
                  " CREATE TRIGGER refuse_all BEFORE INSERT ON receipts"
                  " FOR EACH ROW EXECUTE FUNCTION refuse_all()");
    gcs_receipt r = {.operation = "patch", .status = 200, .source_key = "kept"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    assert_true(gcs_store_flush(s) < 0);
    assert_non_null(strstr(gcs_error_last(), "disk says no"));
    assert_int_equal(gcs_store_pending_receipts(s), 3);
    assert_true(gcs_store_flush(s) < 0); /* still refused: still kept */
    if (gcs_store_kind_of(s) == GCS_STORE_SQLITE)
        raw_ok(s, "DROP TRIGGER refuse_all");
    else
        raw_ok(s, "DROP TRIGGER refuse_all ON receipts");
    assert_int_equal(gcs_store_flush(s), 0);
    assert_int_equal(gcs_store_pending_receipts(s), 0);
    expect_intact(s, 5);
}

/* ==== Crash: acknowledged receipts survive SIGKILL ==== */

static void crash_keeps_every_acknowledged_receipt(void **state)
{
    fixture *f = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        gcs_store *cs = NULL;
        if (gcs_store_open(&cs, f->url) != 0)
            _exit(3);
        int64_t acked = 0;
        for (;;) {
            /* Batches of varying size; after each flush the count is acknowledged. */
            int n = 1 + (int)(acked % 97);
            for (int i = 0; i < n; i++) {
                gcs_receipt r = {.operation = "patch", .source_key = "emp", .status = 200,
                                 .attempts = 1, .outcome = "ok"};
                if (gcs_store_receipt_append(cs, &r) != 0)
                    _exit(4);
            }
            if (gcs_store_flush(cs) != 0)
                _exit(5);
            acked += n;
            if (write(fds[1], &acked, sizeof acked) != sizeof acked)
                _exit(6);
        }
    }
    close(fds[1]);
    int64_t acked = 0, got;
    while (acked < 3000 && read(fds[0], &got, sizeof got) == sizeof got)
        acked = got;
    /* Kill it mid-batch: it is appending the next one right now. */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    while (read(fds[0], &got, sizeof got) == sizeof got)
        acked = got; /* acknowledged before the kill landed */
    close(fds[0]);
    assert_true(WIFSIGNALED(status));
    assert_true(acked >= 3000);

    gcs_store *s = reopen(state);
    gcs_verify_result v;
    assert_int_equal(gcs_store_receipts_verify(&v, s), 0);
    if (!v.ok)
        fail_msg("chain broken after a crash at %" PRId64 ": %s", v.broken_seq, v.reason);
    if (v.head_seq < acked)
        fail_msg("%" PRId64 " receipts acknowledged, %" PRId64 " survived", acked, v.head_seq);
    assert_int_equal(v.checked, v.head_seq);
    /* The store still takes appends after the crash. */
    append_n(s, 2, "after");
    gcs_verify_result v2;
    assert_int_equal(gcs_store_receipts_verify(&v2, s), 0);
    assert_true(v2.ok);
    assert_int_equal(v2.head_seq, v.head_seq + 2);
}

/* ==== Runs ==== */

typedef struct item_list {
    int n;
    char keys[16][32];
} item_list;

static int collect_item(const gcs_run_item *it, void *payload)
{
    item_list *l = payload;
    if (l->n < 16)
        snprintf(l->keys[l->n], sizeof l->keys[0], "%s", it->key);
    l->n++;
    return 0;
}

static void runs_resume_after_a_crash(void **state)
{
    gcs_store *s = store_of(state);
    gcs_run run;
    assert_int_equal(gcs_store_run_begin(&run, s, "apply plan.json", "plan-sha-1"), 0);
    assert_string_equal(run.state, GCS_RUN_RUNNING);
    assert_string_equal(run.plan_id, "plan-sha-1");
    char *id = strdup(run.id);
    gcs_run_release(&run);
    const char *keys[] = {"emp-a", "emp-b", "emp-c", "emp-d"};
    assert_int_equal(gcs_store_items_add(s, id, keys, 4), 0);
    assert_int_equal(gcs_store_item_mark(s, id, "emp-a", GCS_ITEM_IN_PROGRESS, NULL, "create"), 0);
    assert_int_equal(gcs_store_item_mark(s, id, "emp-a", GCS_ITEM_DONE, "gid-a", "created"), 0);
    assert_int_equal(gcs_store_item_mark(s, id, "emp-d", GCS_ITEM_IN_PROGRESS, NULL, "patch"), 0);
    assert_int_equal(gcs_store_item_mark(s, id, "emp-d", GCS_ITEM_FAILED, NULL, "409"), 0);
    /* The create of emp-b is recorded as intended, then the process dies. */
    assert_int_equal(gcs_store_item_mark(s, id, "emp-b", GCS_ITEM_IN_PROGRESS, NULL, "create"), 0);
    s = reopen(state);

    assert_int_equal(gcs_store_run_find_resumable(&run, s, "plan-sha-1"), 0);
    assert_string_equal(run.id, id);
    assert_int_equal(run.done, 1);
    assert_int_equal(run.in_progress, 1);
    assert_int_equal(run.pending, 1);
    assert_int_equal(run.failed, 1);
    gcs_run_release(&run);
    assert_int_equal(gcs_store_run_find_resumable(&run, s, "another-plan"), GCS_ENOTFOUND);

    item_list l = {0};
    assert_int_equal(gcs_store_items_each(s, id, GCS_ITEM_IN_PROGRESS, collect_item, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.keys[0], "emp-b"); /* look it up before creating again */
    memset(&l, 0, sizeof l);
    assert_int_equal(gcs_store_items_each(s, id, GCS_ITEM_PENDING, collect_item, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.keys[0], "emp-c");
    memset(&l, 0, sizeof l);
    assert_int_equal(gcs_store_items_each(s, id, NULL, collect_item, &l), 0);
    assert_int_equal(l.n, 4);

    /* Adding the plan's items again on resume changes nothing. */
    assert_int_equal(gcs_store_items_add(s, id, keys, 4), 0);
    gcs_run_item it;
    assert_int_equal(gcs_store_item_get(&it, s, id, "emp-a"), 0);
    assert_string_equal(it.state, GCS_ITEM_DONE);
    assert_string_equal(it.genesys_id, "gid-a");
    assert_int_equal(it.attempts, 1);
    gcs_run_item_release(&it);

    assert_int_equal(gcs_store_item_mark(s, id, "emp-b", GCS_ITEM_IN_PROGRESS, NULL, "lookup"), 0);
    assert_int_equal(gcs_store_item_mark(s, id, "emp-b", GCS_ITEM_DONE, "gid-b", "found"), 0);
    assert_int_equal(gcs_store_item_get(&it, s, id, "emp-b"), 0);
    assert_int_equal(it.attempts, 2);
    assert_string_equal(it.genesys_id, "gid-b");
    gcs_run_item_release(&it);
    assert_int_equal(gcs_store_item_get(&it, s, id, "nobody"), GCS_ENOTFOUND);

    assert_int_equal(gcs_store_item_mark(s, id, "emp-c", "bogus", NULL, NULL), GCS_EINVALID);
    assert_int_equal(gcs_store_run_finish(s, id, GCS_RUN_DONE), 0);
    assert_int_equal(gcs_store_run_find_resumable(&run, s, "plan-sha-1"), GCS_ENOTFOUND);
    assert_int_equal(gcs_store_run_get(&run, s, id), 0);
    assert_string_equal(run.state, GCS_RUN_DONE);
    assert_true(run.finished_ms >= run.started_ms);
    gcs_run_release(&run);
    assert_int_equal(gcs_store_run_finish(s, "no-such-run", GCS_RUN_DONE), GCS_ENOTFOUND);
    free(id);
}

/* A store made before version 12 (run items beside a rowid, a state index)
 * keeps every item, with its state, id, detail and attempts, when the store is
 * opened by this version, and the counts by state read the same. */
static void items_survive_the_move_to_version_12(void **state)
{
    gcs_store *s = store_of(state);
    gcs_run run;
    assert_int_equal(gcs_store_run_begin(&run, s, "apply plan.json", "plan-v12"), 0);
    char *id = strdup(run.id);
    gcs_run_release(&run);
    const char *keys[] = {"emp-a", "emp-b", "emp-c", "emp-d"};
    assert_int_equal(gcs_store_items_add(s, id, keys, 4), 0);
    assert_int_equal(gcs_store_item_mark(s, id, "emp-a", GCS_ITEM_IN_PROGRESS, NULL, "create"), 0);
    assert_int_equal(gcs_store_item_mark(s, id, "emp-a", GCS_ITEM_DONE, "gid-a", "created"), 0);
    assert_int_equal(gcs_store_item_mark(s, id, "emp-b", GCS_ITEM_IN_PROGRESS, NULL, "create"), 0);
    assert_int_equal(gcs_store_item_mark(s, id, "emp-d", GCS_ITEM_FAILED, NULL, "409"), 0);
    /* Back to the shape of version 11. */
    if (gcs_store_kind_of(s) == GCS_STORE_SQLITE)
        raw_ok(s, "CREATE TABLE run_items_kept AS SELECT * FROM run_items;"
                  "DROP TABLE run_items;"
                  "CREATE TABLE run_items (run_id TEXT NOT NULL REFERENCES runs(id),"
                  " item_key TEXT NOT NULL, state TEXT NOT NULL, genesys_id TEXT, detail TEXT,"
                  " attempts INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL,"
                  " PRIMARY KEY (run_id, item_key));"
                  "INSERT INTO run_items SELECT * FROM run_items_kept;"
                  "DROP TABLE run_items_kept;"
                  "CREATE INDEX run_items_state ON run_items(run_id, state);"
                  "DELETE FROM schema_version WHERE version = 12;");
    else
        raw_ok(s, "CREATE INDEX run_items_state ON run_items(run_id, state);"
                  "DELETE FROM schema_version WHERE version = 12;");
    int v = 0;
    assert_int_equal(gcs_store_schema_version(&v, s), 0);
    assert_int_equal(v, 11);
    s = reopen(state);
    assert_int_equal(gcs_store_schema_version(&v, s), 0);
    assert_int_equal(v, 12);
    assert_int_equal(gcs_store_run_get(&run, s, id), 0);
    assert_int_equal(run.done, 1);
    assert_int_equal(run.in_progress, 1);
    assert_int_equal(run.pending, 1);
    assert_int_equal(run.failed, 1);
    gcs_run_release(&run);
    item_list l = {0};
    assert_int_equal(gcs_store_items_each(s, id, NULL, collect_item, &l), 0);
    assert_int_equal(l.n, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(l.keys[i], keys[i]); /* in key order */
    gcs_run_item it;
    assert_int_equal(gcs_store_item_get(&it, s, id, "emp-a"), 0);
    assert_string_equal(it.state, GCS_ITEM_DONE);
    assert_string_equal(it.genesys_id, "gid-a");
    assert_string_equal(it.detail, "created");
    assert_int_equal(it.attempts, 1);
    gcs_run_item_release(&it);
    /* Marks and new items go on as before. */
    assert_int_equal(gcs_store_item_mark(s, id, "emp-b", GCS_ITEM_DONE, "gid-b", "created"), 0);
    const char *more[] = {"emp-e"};
    assert_int_equal(gcs_store_items_add(s, id, more, 1), 0);
    assert_int_equal(gcs_store_run_get(&run, s, id), 0);
    assert_int_equal(run.done, 2);
    assert_int_equal(run.in_progress, 0);
    assert_int_equal(run.pending, 2);
    gcs_run_release(&run);
    free(id);
}

static int count_runs(const gcs_run *r, void *payload)
{
    (void)r;
    (*(int *)payload)++;
    return 0;
}

static void runs_newest_resumable_wins(void **state)
{
    gcs_store *s = store_of(state);
    gcs_run a, b, c;
    assert_int_equal(gcs_store_run_begin(&a, s, "apply", "p"), 0);
    gcs_time_sleep_ms(5);
    assert_int_equal(gcs_store_run_begin(&b, s, "apply", "p"), 0);
    assert_int_equal(gcs_store_run_finish(s, b.id, GCS_RUN_INTERRUPTED), 0);
    assert_int_equal(gcs_store_run_find_resumable(&c, s, "p"), 0);
    assert_string_equal(c.id, b.id);
    assert_string_equal(c.state, GCS_RUN_INTERRUPTED);
    assert_int_equal(c.finished_ms, 0);
    int n = 0;
    assert_int_equal(gcs_store_runs_each(s, 0, count_runs, &n), 0);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(gcs_store_runs_each(s, 1, count_runs, &n), 0);
    assert_int_equal(n, 1);
    gcs_run_release(&a);
    gcs_run_release(&b);
    gcs_run_release(&c);
}

static void runs_failed_is_resumed_done_is_latest(void **state)
{
    gcs_store *s = store_of(state);
    gcs_run a, b;
    assert_int_equal(gcs_store_run_find_latest(&b, s, "p"), GCS_ENOTFOUND);
    assert_int_equal(gcs_store_run_begin(&a, s, "apply", "p"), 0);
    assert_int_equal(gcs_store_run_finish(s, a.id, GCS_RUN_FAILED), 0);
    /* A failed run is taken up again: its failed items are retried. */
    assert_int_equal(gcs_store_run_find_resumable(&b, s, "p"), 0);
    assert_string_equal(b.id, a.id);
    gcs_run_release(&b);
    assert_int_equal(gcs_store_run_finish(s, a.id, GCS_RUN_DONE), 0);
    assert_int_equal(gcs_store_run_find_resumable(&b, s, "p"), GCS_ENOTFOUND);
    assert_int_equal(gcs_store_run_find_latest(&b, s, "p"), 0);
    assert_string_equal(b.id, a.id);
    assert_string_equal(b.state, GCS_RUN_DONE);
    assert_true(b.finished_ms > 0);
    gcs_run_release(&a);
    gcs_run_release(&b);
}

static void item_mark_flushes_receipts_first(void **state)
{
    gcs_store *s = store_of(state);
    gcs_run run;
    assert_int_equal(gcs_store_run_begin(&run, s, "apply", "p"), 0);
    gcs_receipt r = {.run_id = run.id, .operation = "create", .status = 201};
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    assert_int_equal(gcs_store_item_mark(s, run.id, "k", GCS_ITEM_DONE, "g", NULL), 0);
    assert_int_equal(gcs_store_pending_receipts(s), 0);
    gcs_run_release(&run);
}


/* Refuses every receipt insert (a database that fails), or stops refusing. */
static void refuse_receipts(gcs_store *s, bool refuse)
{
    bool sqlite = gcs_store_kind_of(s) == GCS_STORE_SQLITE;
    if (refuse && sqlite)
        raw_ok(s, "CREATE TRIGGER refuse_all BEFORE INSERT ON receipts"
                  " BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
    else if (refuse)
        raw_ok(s, "CREATE FUNCTION refuse_all() RETURNS trigger LANGUAGE plpgsql AS"
                  " $$ BEGIN RAISE EXCEPTION 'disk says no'; END $$;"
                  " CREATE TRIGGER refuse_all BEFORE INSERT ON receipts"
                  " FOR EACH ROW EXECUTE FUNCTION refuse_all()");
    else
        raw_ok(s, sqlite ? "DROP TRIGGER refuse_all" : "DROP TRIGGER refuse_all ON receipts");
}

static void expect_item(gcs_store *s, const char *run_id, const char *key, const char *state,
                        const char *gid, int attempts)
{
    gcs_run_item it;
    if (gcs_store_item_get(&it, s, run_id, key) != 0)
        fail_msg("item %s: %s", key, gcs_error_last());
    assert_string_equal(it.state, state);
    if (gid)
        assert_string_equal(it.genesys_id, gid);
    else
        assert_null(it.genesys_id);
    assert_int_equal(it.attempts, attempts);
    gcs_run_item_release(&it);
}

/* A queued mark is committed in the same transaction as the receipts queued
 * before it: when they cannot be stored, neither is the mark (an item is never
 * done without the receipt of its call), and the next mark says so at once. */
static void queued_marks_commit_with_their_receipts(void **state)
{
    fixture *f = *state;
    gcs_store *s = f->s, *other = NULL;
    gcs_run run;
    assert_int_equal(gcs_store_run_begin(&run, s, "apply", "p"), 0);
    const char *keys[] = {"k1", "k2"};
    assert_int_equal(gcs_store_items_add(s, run.id, keys, 2), 0);
    refuse_receipts(s, true);
    gcs_receipt r = {.run_id = run.id, .operation = "patch", .source_key = "k1", .status = 200};
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    assert_int_equal(gcs_store_item_mark_queued(s, run.id, "k1", GCS_ITEM_DONE, "g1", "done"), 0);
    assert_true(gcs_store_flush(s) < 0);
    assert_non_null(strstr(gcs_error_last(), "disk says no"));

    assert_int_equal(gcs_store_open(&other, f->url), 0);
    expect_item(other, run.id, "k1", GCS_ITEM_PENDING, NULL, 0);
    /* The writer is failing: the caller hears it with its next mark. */
    assert_true(gcs_store_item_mark_queued(s, run.id, "k2", GCS_ITEM_DONE, "g2", "done") < 0);
    assert_non_null(strstr(gcs_error_last(), "disk says no"));

    refuse_receipts(s, false);
    assert_int_equal(gcs_store_flush(s), 0);
    expect_item(other, run.id, "k1", GCS_ITEM_DONE, "g1", 0);
    expect_item(other, run.id, "k2", GCS_ITEM_PENDING, NULL, 0);
    expect_intact(other, 1);
    gcs_store_free(other);
    gcs_run_release(&run);
}

/* Queued and durable marks of one item land in the order they were made,
 * and whoever reads runs or items sees the queued ones. */
static void marks_keep_their_order_and_are_read_back(void **state)
{
    gcs_store *s = store_of(state);
    gcs_run run;
    assert_int_equal(gcs_store_run_begin(&run, s, "apply", "p"), 0);
    char *id = strdup(run.id);
    gcs_run_release(&run);
    const char *keys[] = {"a", "b"};
    assert_int_equal(gcs_store_items_add(s, id, keys, 2), 0);

    assert_int_equal(gcs_store_item_mark_queued(s, id, "a", GCS_ITEM_FAILED, NULL, "504"), 0);
    assert_int_equal(gcs_store_item_mark(s, id, "a", GCS_ITEM_IN_PROGRESS, NULL, "again"), 0);
    expect_item(s, id, "a", GCS_ITEM_IN_PROGRESS, NULL, 1);

    assert_int_equal(gcs_store_item_mark(s, id, "b", GCS_ITEM_IN_PROGRESS, NULL, "create"), 0);
    assert_int_equal(gcs_store_item_mark_queued(s, id, "b", GCS_ITEM_DONE, "gb", "created"), 0);
    assert_int_equal(gcs_store_run_get(&run, s, id), 0);
    assert_int_equal(run.done, 1);
    assert_int_equal(run.in_progress, 1);
    gcs_run_release(&run);
    assert_int_equal(gcs_store_item_mark_queued(s, id, "a", GCS_ITEM_DONE, "ga", "found"), 0);
    item_list l = {0};
    assert_int_equal(gcs_store_items_each(s, id, GCS_ITEM_DONE, collect_item, &l), 0);
    assert_int_equal(l.n, 2);
    expect_item(s, id, "b", GCS_ITEM_DONE, "gb", 1);
    assert_int_equal(gcs_store_item_mark_queued(s, id, "a", "bogus", NULL, NULL), GCS_EINVALID);
    free(id);
}

/* The request engine redacts the bodies it hands over: the store keeps them
 * as given (bounded, valid UTF-8) and still applies its rules to the path. */
static void bodies_redacted_by_the_caller_are_kept(void **state)
{
    gcs_store *s = store_of(state);
    gcs_receipt r = {.operation = "read", .method = "GET",
                     .path = "/api/v2/x?client_secret=abc-123-xyz",
                     .request_body = "{\"b\":1,\"a\":\"caf\xc3\xa9 \xff\"}",
                     .response_body = "{\"z\":true,\"y\":[]}", .status = 200,
                     .bodies_redacted = true};
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    gcs_buf all;
    gcs_buf_init(&all, 0);
    assert_int_equal(gcs_store_receipts_each(s, NULL, dump_all, &all), 0);
    assert_non_null(strstr(all.ptr, "{\"b\":1,\"a\":\"caf\xc3\xa9 ?\"}\n{\"z\":true,\"y\":[]}\n"));
    assert_null(strstr(all.ptr, "abc-123-xyz"));
    gcs_buf_release(&all);
}

static int collect_request_bodies(const gcs_receipt *r, void *payload)
{
    assert_int_equal(gcs_buf_printf(payload, "%s\n", r->request_body ? r->request_body : "~"), 0);
    return 0;
}

/* Bytes that are not UTF-8 become '?' wherever they stand after a run of
 * ASCII (the copy looks at eight bytes at a time): at each offset from 0 to
 * 19, and a character cut short at the very end. */
static void bodies_are_made_valid_utf8_at_every_offset(void **state)
{
    gcs_store *s = store_of(state);
    static const char *const bad[][2] = {
        {"\xff", "?"},          {"\xc3\xa9", "\xc3\xa9"}, {"\xe2\x82z", "??z"},
        {"\xc0\xaf", "??"},     {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    };
    gcs_buf want;
    gcs_buf_init(&want, 0);
    for (int off = 0; off < 20; off++)
        for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
            char body[128], expect[128];
            snprintf(body, sizeof body, "%.*s%sbbbbbbbbb%s", off, "aaaaaaaaaaaaaaaaaaaa", bad[b][0],
                     off % 2 ? "\xe2\x82" : "");
            snprintf(expect, sizeof expect, "%.*s%sbbbbbbbbb%s", off, "aaaaaaaaaaaaaaaaaaaa",
                     bad[b][1], off % 2 ? "??" : "");
            gcs_receipt r = {.operation = "read", .method = "GET", .path = "/x",
                             .request_body = body, .status = 200, .bodies_redacted = true};
            assert_int_equal(gcs_store_receipt_append(s, &r), 0);
            assert_int_equal(gcs_buf_printf(&want, "%s\n", expect), 0);
        }
    gcs_buf all;
    gcs_buf_init(&all, 0);
    assert_int_equal(gcs_store_receipts_each(s, NULL, collect_request_bodies, &all), 0);
    assert_string_equal(all.ptr, want.ptr);
    gcs_buf_release(&all);
    gcs_buf_release(&want);
}

/* ==== Run leases ==== */

static void leases_one_holder_at_a_time(void **state)
{
    gcs_store *s = store_of(state);
    gcs_run_lease h;
    assert_int_equal(gcs_store_lease_take(&h, s, "plan-1", "hostA:10:aa", "hostA", 10, 30000, NULL),
                     0);
    assert_null(h.owner);
    /* Another process is refused and told who holds it. */
    assert_int_equal(gcs_store_lease_take(&h, s, "plan-1", "hostB:20:bb", "hostB", 20, 30000, NULL),
                     GCS_ECONFLICT);
    assert_string_equal(h.owner, "hostA:10:aa");
    assert_string_equal(h.host, "hostA");
    assert_int_equal(h.pid, 10);
    assert_true(h.until_ms > h.since_ms);
    int64_t since = h.since_ms;
    gcs_run_lease_release(&h);
    /* Another plan is free. */
    assert_int_equal(gcs_store_lease_take(NULL, s, "plan-2", "hostB:20:bb", "hostB", 20, 30000, NULL),
                     0);
    /* The holder renews and names its run; taking it again keeps `since`. */
    gcs_time_sleep_ms(3);
    assert_int_equal(gcs_store_lease_renew(s, "plan-1", "hostA:10:aa", "run-1", 30000), 0);
    assert_int_equal(gcs_store_lease_take(NULL, s, "plan-1", "hostA:10:aa", "hostA", 10, 30000, NULL),
                     0);
    gcs_run_lease l;
    assert_int_equal(gcs_store_lease_get(&l, s, "plan-1"), 0);
    assert_string_equal(l.run_id, "run-1");
    assert_int_equal(l.since_ms, since);
    assert_true(l.heartbeat_ms > since);
    gcs_run_lease_release(&l);
    /* Renewing someone else's lease fails. */
    assert_int_equal(gcs_store_lease_renew(s, "plan-1", "hostB:20:bb", NULL, 30000), GCS_ECONFLICT);
    /* Releasing someone else's lease does nothing; the holder's own frees it. */
    assert_int_equal(gcs_store_lease_release(s, "plan-1", "hostB:20:bb"), 0);
    assert_int_equal(gcs_store_lease_get(&l, s, "plan-1"), 0);
    gcs_run_lease_release(&l);
    assert_int_equal(gcs_store_lease_release(s, "plan-1", "hostA:10:aa"), 0);
    assert_int_equal(gcs_store_lease_get(&l, s, "plan-1"), GCS_ENOTFOUND);
    assert_int_equal(gcs_store_lease_take(NULL, s, "plan-1", "hostB:20:bb", "hostB", 20, 30000, NULL),
                     0);
}

static void leases_expired_or_dead_holder_is_taken_over(void **state)
{
    gcs_store *s = store_of(state);
    /* Held (for longer than any descheduling of this test), then renewed
     * for 40 ms and left to expire. */
    assert_int_equal(gcs_store_lease_take(NULL, s, "p", "a:1:x", "a", 1, 30000, NULL), 0);
    assert_int_equal(gcs_store_lease_take(NULL, s, "p", "b:2:y", "b", 2, 30000, NULL), GCS_ECONFLICT);
    assert_int_equal(gcs_store_lease_renew(s, "p", "a:1:x", "run-a", 40), 0);
    gcs_time_sleep_ms(60);
    /* Expired: taken over, and the old holder learns it lost it. */
    assert_int_equal(gcs_store_lease_take(NULL, s, "p", "b:2:y", "b", 2, 30000, NULL), 0);
    assert_int_equal(gcs_store_lease_renew(s, "p", "a:1:x", NULL, 30000), GCS_ECONFLICT);
    gcs_run_lease l;
    assert_int_equal(gcs_store_lease_get(&l, s, "p"), 0);
    assert_string_equal(l.owner, "b:2:y");
    assert_null(l.run_id); /* the old holder's run is not the new holder's */
    gcs_run_lease_release(&l);
    /* A holder proved dead is taken over at once; a live one is not. */
    assert_int_equal(gcs_store_lease_take(NULL, s, "p", "c:3:z", "c", 3, 30000, "a:1:x"),
                     GCS_ECONFLICT);
    assert_int_equal(gcs_store_lease_take(NULL, s, "p", "c:3:z", "c", 3, 30000, "b:2:y"), 0);
}

/* Many processes race for one plan, each with its own connection: exactly one
 * wins. */
static void leases_race_has_one_winner(void **state)
{
    fixture *f = *state;
    enum { RACERS = 6 };
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[RACERS];
    for (int i = 0; i < RACERS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            gcs_store *cs = NULL;
            if (gcs_store_open(&cs, f->url) != 0)
                _exit(3);
            char owner[32], c;
            snprintf(owner, sizeof owner, "h:%d:t", i);
            if (read(go[0], &c, 1) != 0) /* everybody starts when the pipe closes */
                _exit(4);
            int rc = gcs_store_lease_take(NULL, cs, "raced", owner, "h", i, 30000, NULL);
            gcs_store_free(cs);
            _exit(rc == 0 ? 0 : rc == GCS_ECONFLICT ? 1 : 5);
        }
    }
    close(go[0]);
    gcs_time_sleep_ms(300);
    close(go[1]);
    int winners = 0;
    for (int i = 0; i < RACERS; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        assert_true(WIFEXITED(status));
        int code = WEXITSTATUS(status);
        if (code != 0 && code != 1)
            fail_msg("racer %d exited %d", i, code);
        winners += code == 0;
    }
    assert_int_equal(winners, 1);
}

/* ==== Jobs ==== */

/* Intake: a batch of events becomes jobs in one commit; a webhook id seen
 * before, in an earlier batch or earlier in the same one, queues nothing and
 * names the first delivery's job; ids past the retention are forgotten. */
static void intake_queues_each_webhook_id_once(void **state)
{
    gcs_store *s = store_of(state);
    enum { N = 150 };   /* more than one chunk of ids */
    gcs_intake_item items[N + 2];
    char ids[N][32], keys[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "msg_%d", i);
        snprintf(keys[i], sizeof keys[i], "person:I%d", i);
        items[i] = (gcs_intake_item){ids[i], keys[i], "{\"v\":1}", 5, 0, false, NULL, false};
    }
    /* The same id twice in one batch, and a request without one. */
    items[N] = (gcs_intake_item){ids[3], keys[3], "{\"v\":1}", 5, 0, false, NULL, false};
    items[N + 1] = (gcs_intake_item){NULL, "person:REST", "{\"v\":1}", 5, 0, false, NULL, false};
    assert_int_equal(gcs_store_intake_commit(s, items, N + 2, 0), 0);
    for (int i = 0; i < N; i++) {
        assert_false(items[i].duplicate);
        assert_true(items[i].job_id > 0);
    }
    assert_true(items[N].duplicate);
    assert_int_equal(items[N].job_id, items[3].job_id);
    assert_false(items[N + 1].duplicate);
    gcs_job_counts c;
    assert_int_equal(gcs_store_job_counts(&c, s), 0);
    assert_int_equal(c.pending, N + 1);

    /* Delivered again: every one a duplicate of its first job. */
    gcs_intake_item again[N];
    for (int i = 0; i < N; i++)
        again[i] = (gcs_intake_item){ids[i], keys[i], "{\"v\":2}", 5, 0, false, NULL, false};
    assert_int_equal(gcs_store_intake_commit(s, again, N, 0), 0);
    for (int i = 0; i < N; i++) {
        assert_true(again[i].duplicate);
        assert_int_equal(again[i].job_id, items[i].job_id);
    }
    assert_int_equal(gcs_store_job_counts(&c, s), 0);
    assert_int_equal(c.pending, N + 1);

    /* A retention of 1 ms forgets them: the next delivery is new again. */
    gcs_time_sleep_ms(5);
    gcs_intake_item late = {"msg_late", "person:LATE", "{\"v\":1}", 5, 0, false, NULL, false};
    assert_int_equal(gcs_store_intake_commit(s, &late, 1, 1), 0);
    gcs_intake_item replay = {ids[0], keys[0], "{\"v\":3}", 5, 0, false, NULL, false};
    assert_int_equal(gcs_store_intake_commit(s, &replay, 1, 0), 0);
    assert_false(replay.duplicate);
}

/* Three changes to one person in one batch are one job with the newest row,
 * as they would be one after the other; a job already pending takes the
 * batch's row too. (The intake enqueues a batch in multi-row statements.) */
static void intake_coalesces_one_person_within_a_batch(void **state)
{
    gcs_store *s = store_of(state);
    gcs_intake_item before = {"msg_c0", "person:C", "{\"v\":0}", 5, 0, false, NULL, false};
    assert_int_equal(gcs_store_intake_commit(s, &before, 1, 0), 0);
    gcs_intake_item batch[] = {
        {"msg_c1", "person:C", "{\"v\":1}", 5, 0, false, NULL, false},
        {"msg_d1", "person:D", "{\"v\":1}", 5, 0, false, NULL, false},
        {"msg_c2", "person:C", "{\"v\":2}", 5, 0, false, NULL, false},
        {NULL, "person:D", "{\"v\":2}", 5, 0, false, NULL, false},
        {"msg_c3", "person:C", "{\"v\":3}", 7, 0, false, NULL, false},
    };
    assert_int_equal(gcs_store_intake_commit(s, batch, 5, 0), 0);
    for (int i = 0; i < 5; i++)
        assert_false(batch[i].duplicate || batch[i].conflict);
    assert_int_equal(batch[0].job_id, before.job_id);
    assert_int_equal(batch[2].job_id, before.job_id);
    assert_int_equal(batch[4].job_id, before.job_id);
    assert_int_equal(batch[3].job_id, batch[1].job_id);
    assert_true(batch[1].job_id != before.job_id);
    gcs_job j;
    assert_int_equal(gcs_store_job_get(&j, s, before.job_id), 0);
    assert_string_equal(j.payload, "{\"v\":3}");
    assert_int_equal(j.max_attempts, 7);
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_get(&j, s, batch[1].job_id), 0);
    assert_string_equal(j.payload, "{\"v\":2}");
    gcs_job_release(&j);
    gcs_job_counts c;
    assert_int_equal(gcs_store_job_counts(&c, s), 0);
    assert_int_equal(c.pending, 2);
    /* Each delivery's id is known, with its job. */
    gcs_intake_item again = {"msg_c2", "person:C", "{\"v\":9}", 5, 0, false, NULL, false};
    assert_int_equal(gcs_store_intake_commit(s, &again, 1, 0), 0);
    assert_true(again.duplicate);
    assert_int_equal(again.job_id, before.job_id);
    /* A bad item fails the whole batch, naming the job; nothing is queued. */
    gcs_intake_item bad[] = {
        {"msg_e1", "person:E", "{\"v\":1}", 5, 0, false, NULL, false},
        {"msg_f1", "person:F", "{not json", 5, 0, false, NULL, false},
    };
    assert_true(gcs_store_intake_commit(s, bad, 2, 0) < 0);
    assert_non_null(strstr(gcs_error_last(), "person:F"));
    assert_int_equal(gcs_store_job_counts(&c, s), 0);
    assert_int_equal(c.pending, 2);
}

/* An idempotency key kept with what its request asked: the same ask is a
 * duplicate of the first job, another ask a conflict that enqueues nothing,
 * in one batch or in two; a webhook id (no digest) never meets a digest. */
static void intake_compares_what_an_idempotent_request_asked(void **state)
{
    gcs_store *s = store_of(state);
    gcs_intake_item first = {"rest k1 idem-1", "person:A", "{\"v\":1}", 5, 0, false, "aaaa", false};
    gcs_intake_item same = {"rest k1 idem-1", "person:A", "{\"v\":1}", 5, 0, false, "aaaa", false};
    gcs_intake_item other = {"rest k1 idem-1", "person:B", "{\"v\":2}", 5, 0, false, "bbbb", false};
    gcs_intake_item batch[] = {first, same, other};
    assert_int_equal(gcs_store_intake_commit(s, batch, 3, 0), 0);
    assert_true(batch[0].job_id > 0);
    assert_false(batch[0].duplicate || batch[0].conflict);
    assert_true(batch[1].duplicate);
    assert_false(batch[1].conflict);
    assert_int_equal(batch[1].job_id, batch[0].job_id);
    assert_true(batch[2].conflict);
    assert_false(batch[2].duplicate);
    assert_int_equal(batch[2].job_id, batch[0].job_id);
    gcs_job_counts c;
    assert_int_equal(gcs_store_job_counts(&c, s), 0);
    assert_int_equal(c.pending, 1);

    /* Later, in batches of their own. */
    assert_int_equal(gcs_store_intake_commit(s, &same, 1, 0), 0);
    assert_true(same.duplicate);
    assert_int_equal(same.job_id, batch[0].job_id);
    assert_int_equal(gcs_store_intake_commit(s, &other, 1, 0), 0);
    assert_true(other.conflict);
    assert_int_equal(other.job_id, batch[0].job_id);
    gcs_intake_item plain = {"rest k1 idem-1", "person:A", "{\"v\":1}", 5, 0, false, NULL, false};
    assert_int_equal(gcs_store_intake_commit(s, &plain, 1, 0), 0);
    assert_true(plain.conflict);
    assert_int_equal(gcs_store_job_counts(&c, s), 0);
    assert_int_equal(c.pending, 1);
}

static void jobs_coalesce_pending_of_one_key(void **state)
{
    gcs_store *s = store_of(state);
    int64_t a, b, c;
    assert_int_equal(gcs_store_job_enqueue(&a, s, "user:1", "{\"v\":1}", 5), 0);
    assert_int_equal(gcs_store_job_enqueue(&b, s, "user:1", "{\"v\":2}", 5), 0);
    assert_int_equal(gcs_store_job_enqueue(&c, s, "user:2", "{\"v\":9}", 5), 0);
    assert_int_equal(a, b);
    assert_true(c != a);
    gcs_job j;
    assert_int_equal(gcs_store_job_get(&j, s, a), 0);
    assert_string_equal(j.payload, "{\"v\":2}");
    assert_string_equal(j.state, GCS_JOB_PENDING);
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_enqueue(NULL, s, "user:3", "not json", 5), GCS_EINVALID);
    assert_int_equal(gcs_store_job_enqueue(NULL, s, "", "{}", 5), GCS_EINVALID);
}

static void jobs_one_key_never_runs_twice(void **state)
{
    gcs_store *s = store_of(state);
    int64_t first, second, other;
    assert_int_equal(gcs_store_job_enqueue(&first, s, "k", "{\"v\":1}", 5), 0);
    gcs_job j1, j2;
    assert_int_equal(gcs_store_job_claim(&j1, s, "w1", 60000), 0);
    assert_int_equal(j1.id, first);
    assert_int_equal(j1.attempts, 1);
    assert_string_equal(j1.lease_owner, "w1");
    /* A new desired state while one runs: a second job, held back. */
    assert_int_equal(gcs_store_job_enqueue(&second, s, "k", "{\"v\":2}", 5), 0);
    assert_true(second != first);
    assert_int_equal(gcs_store_job_claim(&j2, s, "w2", 60000), GCS_ENOTFOUND);
    assert_int_equal(gcs_store_job_enqueue(&other, s, "other", "{}", 5), 0);
    assert_int_equal(gcs_store_job_claim(&j2, s, "w2", 60000), 0);
    assert_int_equal(j2.id, other);
    gcs_job_release(&j2);
    assert_int_equal(gcs_store_job_complete(s, first, "w2"), GCS_ECONFLICT);
    assert_int_equal(gcs_store_job_complete(s, first, "w1"), 0);
    assert_int_equal(gcs_store_job_claim(&j2, s, "w2", 60000), 0);
    assert_int_equal(j2.id, second);
    assert_string_equal(j2.payload, "{\"v\":2}");
    gcs_job_release(&j1);
    gcs_job_release(&j2);
}

static void jobs_expired_lease_goes_to_another_worker(void **state)
{
    gcs_store *s = store_of(state);
    int64_t id;
    assert_int_equal(gcs_store_job_enqueue(&id, s, "k", "{}", 5), 0);
    gcs_job j;
    /* Long enough that the next claim comes before it ends, even on a busy
     * machine under the sanitizers. */
    assert_int_equal(gcs_store_job_claim(&j, s, "dies", 1500), 0);
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_claim(&j, s, "w2", 60000), GCS_ENOTFOUND);
    gcs_time_sleep_ms(1600);
    assert_int_equal(gcs_store_job_claim(&j, s, "w2", 60000), 0);
    assert_int_equal(j.id, id);
    assert_int_equal(j.attempts, 2);
    assert_string_equal(j.lease_owner, "w2");
    gcs_job_release(&j);
    /* The first worker wakes up: its lease is gone. */
    assert_int_equal(gcs_store_job_complete(s, id, "dies"), GCS_ECONFLICT);
    assert_int_equal(gcs_store_job_extend(s, id, "dies", 1000), GCS_ECONFLICT);
    assert_int_equal(gcs_store_job_extend(s, id, "w2", 1000), 0);
    assert_int_equal(gcs_store_job_complete(s, id, "w2"), 0);
}

static void jobs_back_off_then_dead_letter(void **state)
{
    gcs_store *s = store_of(state);
    gcs_store_set_job_backoff(s, 10000, 60000);
    int64_t id;
    gcs_job j;
    assert_int_equal(gcs_store_job_enqueue(&id, s, "k", "{}", 3), 0);
    for (int attempt = 1; attempt <= 3; attempt++) {
        assert_int_equal(gcs_store_job_claim(&j, s, "w", 60000), 0);
        assert_int_equal(j.attempts, attempt);
        gcs_job_release(&j);
        int64_t before = gcs_time_wall_ms();
        assert_int_equal(gcs_store_job_fail(s, id, "w", "503 from upstream", 0), 0);
        assert_int_equal(gcs_store_job_get(&j, s, id), 0);
        if (attempt < 3) {
            assert_string_equal(j.state, GCS_JOB_PENDING);
            int64_t expect = before + 10000 * (attempt == 1 ? 1 : 2);
            assert_true(j.not_before_ms >= expect && j.not_before_ms <= expect + 2000);
            gcs_job_release(&j);
            /* Not ready during the backoff. */
            assert_int_equal(gcs_store_job_claim(&j, s, "w", 60000), GCS_ENOTFOUND);
            raw_ok(s, "UPDATE jobs SET not_before_ms = 0");
        } else {
            assert_string_equal(j.state, GCS_JOB_DEAD);
            assert_string_equal(j.last_error, "503 from upstream");
            gcs_job_release(&j);
        }
    }
    assert_int_equal(gcs_store_job_claim(&j, s, "w", 60000), GCS_ENOTFOUND);
    assert_int_equal(gcs_store_job_fail(s, id, "w", "again", 0), GCS_ECONFLICT);
    /* By hand: retry brings it back, drop puts it aside. */
    assert_int_equal(gcs_store_job_retry(s, id), 0);
    assert_int_equal(gcs_store_job_get(&j, s, id), 0);
    assert_string_equal(j.state, GCS_JOB_PENDING);
    assert_int_equal(j.attempts, 0);
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_retry(s, id), GCS_ECONFLICT);
    assert_int_equal(gcs_store_job_drop(s, id), 0);
    assert_int_equal(gcs_store_job_get(&j, s, id), 0);
    assert_string_equal(j.state, GCS_JOB_DROPPED);
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_drop(s, 999999), GCS_ENOTFOUND);
    /* A later job of the same key holds a newer row: the older one is not run
     * again over it, unless the later one was dropped. */
    int64_t later;
    assert_int_equal(gcs_store_job_enqueue(&later, s, "k", "{\"row\":\"newer\"}", 3), 0);
    raw_ok(s, "UPDATE jobs SET state = 'done' WHERE job_key = 'k'");
    assert_int_equal(gcs_store_job_retry(s, id), GCS_ECONFLICT);
    assert_non_null(strstr(gcs_error_last(), "came after it"));
    assert_int_equal(gcs_store_job_get(&j, s, id), 0);
    assert_string_equal(j.state, GCS_JOB_DONE);
    gcs_job_release(&j);
    raw_ok(s, "UPDATE jobs SET state = 'dropped' WHERE job_key = 'k' AND id > (SELECT MIN(id) FROM jobs WHERE job_key = 'k')");
    assert_int_equal(gcs_store_job_retry(s, id), 0);
    assert_int_equal(gcs_store_job_drop(s, id), 0);
    /* A retry_after longer than the backoff (Retry-After from upstream) wins. */
    int64_t id2;
    assert_int_equal(gcs_store_job_enqueue(&id2, s, "k2", "{}", 3), 0);
    assert_int_equal(gcs_store_job_claim(&j, s, "w", 60000), 0);
    gcs_job_release(&j);
    int64_t before = gcs_time_wall_ms();
    assert_int_equal(gcs_store_job_fail(s, id2, "w", "429", 45000), 0);
    assert_int_equal(gcs_store_job_get(&j, s, id2), 0);
    assert_true(j.not_before_ms >= before + 45000 && j.not_before_ms <= before + 47000);
    gcs_job_release(&j);
}

static void jobs_worker_that_keeps_dying_is_dead_lettered(void **state)
{
    gcs_store *s = store_of(state);
    int64_t id;
    gcs_job j;
    assert_int_equal(gcs_store_job_enqueue(&id, s, "k", "{}", 1), 0);
    assert_int_equal(gcs_store_job_claim(&j, s, "dies", 30), 0);
    gcs_job_release(&j);
    gcs_time_sleep_ms(100);
    assert_int_equal(gcs_store_job_claim(&j, s, "w2", 60000), GCS_ENOTFOUND);
    assert_int_equal(gcs_store_job_get(&j, s, id), 0);
    assert_string_equal(j.state, GCS_JOB_DEAD);
    assert_non_null(strstr(j.last_error, "lease expired"));
    gcs_job_release(&j);
}

static int one_done_job_has_result(const gcs_job *j, void *payload)
{
    (void)payload;
    assert_non_null(j->result);
    return 0;
}

static void jobs_outcome_is_kept_with_the_job(void **state)
{
    gcs_store *s = store_of(state);
    int64_t id;
    gcs_job j;
    assert_int_equal(gcs_store_job_enqueue(&id, s, "person:E1", "{\"v\":1}", 5), 0);
    assert_int_equal(gcs_store_job_get(&j, s, id), 0);
    assert_null(j.result);
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_claim(&j, s, "w", 60000), 0);
    gcs_job_release(&j);
    const char *result = "{\"outcome\":\"created\",\"receipts\":[1,2]}";
    assert_int_equal(gcs_store_job_complete_with(s, id, "other", result), GCS_ECONFLICT);
    assert_int_equal(gcs_store_job_complete_with(s, id, "w", result), 0);
    assert_int_equal(gcs_store_job_get(&j, s, id), 0);
    assert_string_equal(j.state, GCS_JOB_DONE);
    assert_string_equal(j.result, result);
    assert_int_equal(j.lease_until_ms, 0);
    gcs_job_release(&j);
    /* Listing reads the result too. */
    assert_int_equal(gcs_store_jobs_each(s, GCS_JOB_DONE, one_done_job_has_result, NULL), 0);
}

static void jobs_wait_for_approval_then_run_again(void **state)
{
    gcs_store *s = store_of(state);
    int64_t id, other;
    gcs_job j;
    assert_int_equal(gcs_store_job_enqueue(&id, s, "person:E1", "{\"v\":1}", 3), 0);
    assert_int_equal(gcs_store_job_claim(&j, s, "w", 60000), 0);
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_approve(s, id, "{}"), GCS_ECONFLICT); /* running */
    const char *needs = "{\"outcome\":\"needs_approval\",\"needs\":[{\"flag\":\"--approve adopt=1\"}]}";
    assert_int_equal(gcs_store_job_needs_approval(s, id, "w", needs), 0);
    assert_int_equal(gcs_store_job_get(&j, s, id), 0);
    assert_string_equal(j.state, GCS_JOB_NEEDS_APPROVAL);
    assert_string_equal(j.result, needs);
    gcs_job_release(&j);
    /* Nothing to claim while it waits. */
    assert_int_equal(gcs_store_job_claim(&j, s, "w", 60000), GCS_ENOTFOUND);
    assert_int_equal(gcs_store_job_approve(s, id, "not json"), GCS_EINVALID);
    assert_int_equal(gcs_store_job_approve(s, id, "{\"v\":1,\"approve\":[\"adopt=1\"]}"), 0);
    assert_int_equal(gcs_store_job_get(&j, s, id), 0);
    assert_string_equal(j.state, GCS_JOB_PENDING);
    assert_int_equal(j.attempts, 0);
    assert_non_null(strstr(j.payload, "adopt=1"));
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_approve(s, id, "{}"), GCS_ECONFLICT); /* pending now */
    assert_int_equal(gcs_store_job_claim(&j, s, "w", 60000), 0);
    assert_int_equal(j.id, id);
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_needs_approval(s, id, "w", needs), 0);
    /* A newer state of the person came meanwhile: the old one cannot be approved. */
    assert_int_equal(gcs_store_job_enqueue(&other, s, "person:E1", "{\"v\":2}", 3), 0);
    assert_true(other != id);
    assert_int_equal(gcs_store_job_approve(s, id, "{}"), GCS_ECONFLICT);
    assert_non_null(strstr(gcs_error_last(), "newer job"));
    /* It can be dropped. */
    assert_int_equal(gcs_store_job_drop(s, id), 0);
    assert_int_equal(gcs_store_job_approve(s, 999999, "{}"), GCS_ENOTFOUND);
}

static void jobs_failed_job_superseded_by_newer_state(void **state)
{
    gcs_store *s = store_of(state);
    int64_t a, b;
    gcs_job j;
    assert_int_equal(gcs_store_job_enqueue(&a, s, "k", "{\"v\":1}", 5), 0);
    assert_int_equal(gcs_store_job_claim(&j, s, "w", 60000), 0);
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_enqueue(&b, s, "k", "{\"v\":2}", 5), 0);
    assert_int_equal(gcs_store_job_fail(s, a, "w", "timeout", 0), 0);
    assert_int_equal(gcs_store_job_get(&j, s, a), 0);
    assert_string_equal(j.state, GCS_JOB_DROPPED);
    gcs_job_release(&j);
    assert_int_equal(gcs_store_job_claim(&j, s, "w", 60000), 0);
    assert_int_equal(j.id, b);
    gcs_job_release(&j);
}

/* The plan a run applies is kept with it, once, whole, and bounded. */
static void run_plans_are_kept_once_per_run(void **state)
{
    gcs_store *s = store_of(state);
    gcs_run run;
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(gcs_store_run_begin(&run, s, "apply", "plan-1"), 0);
    assert_int_equal(gcs_store_run_plan_get(&text, &len, s, run.id), GCS_ENOTFOUND);
    assert_null(text);
    /* Two MiB of JSON with non-ASCII text: kept byte for byte. */
    size_t big = 2u << 20;
    char *plan = malloc(big + 1);
    assert_non_null(plan);
    memset(plan, 'x', big);
    memcpy(plan, "{\"name\":\"Zo\xc3\xab ", 13);
    memcpy(plan + big - 2, "\"}", 2);
    plan[big] = '\0';
    assert_int_equal(gcs_store_run_plan_put(s, run.id, plan, big), 0);
    /* A resume keeps its plan again: the first one kept stays. */
    assert_int_equal(gcs_store_run_plan_put(s, run.id, "{\"other\":1}", 11), 0);
    s = reopen(state);
    assert_int_equal(gcs_store_run_plan_get(&text, &len, s, run.id), 0);
    assert_int_equal(len, big);
    assert_memory_equal(text, plan, big);
    free(text);
    free(plan);
    /* No such run; over the bound, refused before the text is read. */
    assert_int_equal(gcs_store_run_plan_put(s, "no-such-run", "{}", 2), GCS_ENOTFOUND);
    assert_int_equal(gcs_store_run_plan_put(s, run.id, "{}", (size_t)GCS_STORE_PLAN_MAX + 1),
                     GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "over the 256 MiB"));
    gcs_run_release(&run);
}

typedef struct piece_feed {
    const char *text;
    size_t len, pos, step;
} piece_feed;

/* Hands the text out `step` bytes at a time, as gcs_plan_text_feed may. */
static size_t feed_pieces(char *buf, size_t size, void *payload)
{
    piece_feed *f = payload;
    size_t n = f->len - f->pos;
    if (n > size)
        n = size;
    if (n > f->step)
        n = f->step;
    memcpy(buf, f->text + f->pos, n);
    f->pos += n;
    return n;
}

/* feed_pieces until its text ends, then an error. */
static size_t feed_then_fail(char *buf, size_t size, void *payload)
{
    size_t n = feed_pieces(buf, size, payload);
    if (n == 0) {
        errno = EIO;
        return (size_t)-1;
    }
    return n;
}

/* A plan kept from a feed is kept in parts, never whole, each cut between two
 * characters (PostgreSQL's TEXT takes no cut character): text of two- and
 * three-byte characters cannot fall on a part's boundary by luck. The parts
 * read back in order are the text, byte for byte. */
static void run_plans_are_kept_in_parts(void **state)
{
    gcs_store *s = store_of(state);
    gcs_run run;
    assert_int_equal(gcs_store_run_begin(&run, s, "apply", "plan-parts"), 0);
    size_t len = 3 * GCS_STORE_PLAN_PART + 1234;
    char *plan = malloc(len + 1);
    assert_non_null(plan);
    size_t n = 0;
    plan[n++] = '{';
    for (unsigned i = 0; n + 4 < len; i++) {
        const char *ch = i % 3 == 0 ? "\xc3\xab" : i % 3 == 1 ? "\xe2\x82\xac" : "a";
        memcpy(plan + n, ch, strlen(ch));
        n += strlen(ch);
    }
    plan[n++] = '}';
    plan[n] = '\0';
    len = n;
    piece_feed f = {plan, len, 0, 65537};
    assert_int_equal(gcs_store_run_plan_put_feed(s, run.id, feed_pieces, &f), 0);
    s = reopen(state);
    size_t got = 0;
    long parts = 0;
    for (;; parts++) {
        char *text = NULL;
        size_t n_part = 0;
        int rc = gcs_store_run_plan_part(&text, &n_part, s, run.id, parts);
        if (rc == GCS_ENOTFOUND)
            break;
        assert_int_equal(rc, 0);
        assert_true(n_part <= GCS_STORE_PLAN_PART);
        assert_true(got + n_part <= len);
        assert_memory_equal(text, plan + got, n_part);
        /* each part begins with a whole character */
        assert_true(((unsigned char)text[0] & 0xC0) != 0x80);
        got += n_part;
        free(text);
    }
    assert_int_equal(got, len);
    assert_int_equal(parts, 4);
    char *whole = NULL;
    size_t whole_len = 0;
    assert_int_equal(gcs_store_run_plan_get(&whole, &whole_len, s, run.id), 0);
    assert_int_equal(whole_len, len);
    assert_memory_equal(whole, plan, len);
    free(whole);
    /* A source that fails half way: nothing is kept, and the run may keep
     * its plan later. */
    gcs_run other;
    assert_int_equal(gcs_store_run_begin(&other, s, "apply", "plan-source-fails"), 0);
    piece_feed failing = {plan, GCS_STORE_PLAN_PART + GCS_STORE_PLAN_PART / 2, 0, 65536};
    assert_int_equal(gcs_store_run_plan_put_feed(s, other.id, feed_then_fail, &failing), GCS_EIO);
    char *none = NULL;
    assert_int_equal(gcs_store_run_plan_part(&none, NULL, s, other.id, 0), GCS_ENOTFOUND);
    assert_int_equal(gcs_store_run_plan_put(s, other.id, "{}", 2), 0);
    assert_int_equal(gcs_store_run_plan_get(&none, NULL, s, other.id), 0);
    assert_string_equal(none, "{}");
    free(none);
    free(plan);
    gcs_run_release(&run);
    gcs_run_release(&other);
}


/* ==== Outbox ==== */

static const char *const only_users[] = {"user.*", NULL};
static const gcs_outbox_route two_routes[] = {{"hr", NULL}, {"audit", only_users}};
static const gcs_outbox_routes two_endpoints = {two_routes, 2, 0};

typedef struct note_seen {
    int n;
    int64_t ids[16];
    char msg[16][40];
    char endpoint[16][32];
    char state[16][16];
    char body[16][1024];
} note_seen;

static int collect_note(const gcs_notification *n, void *payload)
{
    note_seen *c = payload;
    if (c->n < 16) {
        c->ids[c->n] = n->id;
        snprintf(c->msg[c->n], sizeof c->msg[0], "%s", n->msg_id);
        snprintf(c->endpoint[c->n], sizeof c->endpoint[0], "%s", n->endpoint);
        snprintf(c->state[c->n], sizeof c->state[0], "%s", n->state);
        snprintf(c->body[c->n], sizeof c->body[0], "%s", n->body);
    }
    c->n++;
    return 0;
}

/* The audit lines logged while a test runs. */
static char audit_lines[4096];

static void audit_sink(gcs_log_level level, const char *line, void *payload)
{
    (void)level;
    (void)payload;
    if (strstr(line, "audit.outcome"))
        snprintf(audit_lines + strlen(audit_lines), sizeof audit_lines - strlen(audit_lines),
                 "%s\n", line);
}

static void user_event(gcs_outbox_event *ev, json_t **data, const char *type, const char *run,
                       const char *key)
{
    *data = json_pack("{s:s,s:s,s:s}", "source_key", key, "genesys_id", "g-1", "run_id", run);
    *ev = (gcs_outbox_event){type, *data, &two_endpoints, true, true};
}

/* The notification of an outcome is committed with the mark that records the
 * outcome, and with the receipts of the item's calls: when the batch cannot
 * be stored, neither is the notification; when it is, the notification names
 * exactly the receipts of its key in its run. One row per endpoint that takes
 * the event, one webhook id for all of them. */
static int collect_parent(const char *parent_key, void *payload)
{
    return gcs_buf_printf(payload, "%s,", parent_key);
}

static int collect_child(const char *group_key, const char *group_id, void *payload)
{
    return gcs_buf_printf(payload, "%s=%s,", group_key, group_id ? group_id : "?");
}

static void expect_links(gcs_store *s, const char *group_key, const char *parents,
                         const char *parent_key, const char *children)
{
    gcs_buf b;
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_store_group_parents_each(s, group_key, collect_parent, &b), 0);
    assert_string_equal(b.ptr ? b.ptr : "", parents);
    gcs_buf_release(&b);
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_store_group_children_each(s, parent_key, collect_child, &b), 0);
    assert_string_equal(b.ptr ? b.ptr : "", children);
    gcs_buf_release(&b);
}

/* A kept group's parent links are replaced with its item mark, in the same
 * transaction: never recorded when the mark is not, untouched when the group
 * failed, and readable both ways (a group's parents, a parent's children). */
static void group_links_commit_with_the_group_item(void **state)
{
    fixture *f = *state;
    gcs_store *s = f->s, *other = NULL;
    gcs_run run;
    assert_int_equal(gcs_store_run_begin(&run, s, "apply", "p"), 0);
    const char *keys[] = {"group:tier-1"};
    assert_int_equal(gcs_store_items_add(s, run.id, keys, 1), 0);
    const char *both[] = {"support", "cx"};
    gcs_group_links links = {"tier-1", "g-1", both, 2};
    refuse_receipts(s, true);
    gcs_receipt r = {.run_id = run.id, .operation = "update", .source_key = "group:tier-1",
                     .status = 200};
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    assert_int_equal(gcs_store_item_mark_group(s, run.id, "group:tier-1", GCS_ITEM_DONE, "g-1",
                                               "done", NULL, &links),
                     0);
    assert_true(gcs_store_flush(s) < 0);
    assert_int_equal(gcs_store_open(&other, f->url), 0);
    expect_links(other, "tier-1", "", "support", ""); /* the batch failed: no links either */
    expect_item(other, run.id, "group:tier-1", GCS_ITEM_PENDING, NULL, 0);
    refuse_receipts(s, false);
    assert_int_equal(gcs_store_flush(s), 0);
    expect_item(other, run.id, "group:tier-1", GCS_ITEM_DONE, "g-1", 0);
    expect_links(other, "tier-1", "cx,support,", "support", "tier-1=g-1,");
    /* Moved under support alone: cx no longer holds it. */
    gcs_group_links moved = {"tier-1", "g-1", both, 1};
    assert_int_equal(gcs_store_item_mark_group(s, run.id, "group:tier-1", GCS_ITEM_DONE, "g-1",
                                               "done", NULL, &moved),
                     0);
    expect_links(s, "tier-1", "support,", "cx", "");
    /* A failed group keeps the links it had. */
    gcs_group_links none = {"tier-1", "g-1", NULL, 0};
    assert_int_equal(gcs_store_item_mark_group(s, run.id, "group:tier-1", GCS_ITEM_FAILED, NULL,
                                               "boom", NULL, &none),
                     0);
    expect_links(s, "tier-1", "support,", "support", "tier-1=g-1,");
    /* Done with no parents: a top-level group now. */
    assert_int_equal(gcs_store_item_mark_group(s, run.id, "group:tier-1", GCS_ITEM_DONE, "g-1",
                                               "done", NULL, &none),
                     0);
    assert_int_equal(gcs_store_flush(s), 0);
    expect_links(other, "tier-1", "", "support", "");
    gcs_store_free(other);
    gcs_run_release(&run);
}

static void outbox_commits_with_the_outcome(void **state)
{
    fixture *f = *state;
    gcs_store *s = f->s, *other = NULL;
    gcs_run run;
    assert_int_equal(gcs_store_run_begin(&run, s, "apply", "p"), 0);
    const char *keys[] = {"k1"};
    assert_int_equal(gcs_store_items_add(s, run.id, keys, 1), 0);
    gcs_receipt other_key = {.run_id = run.id, .operation = "read", .source_key = "k9",
                             .status = 200};
    assert_int_equal(gcs_store_receipt_append(s, &other_key), 0);
    assert_int_equal(gcs_store_flush(s), 0);
    refuse_receipts(s, true);
    gcs_receipt r = {.run_id = run.id, .operation = "create", .source_key = "k1", .status = 201};
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    assert_int_equal(gcs_store_receipt_append(s, &r), 0);
    gcs_outbox_event ev;
    json_t *data;
    user_event(&ev, &data, "user.created", run.id, "k1");
    audit_lines[0] = 0;
    gcs_log_set_format(GCS_LOG_JSON);
    gcs_log_set_sink(audit_sink, NULL);
    assert_int_equal(gcs_store_item_mark_notify(s, run.id, "k1", GCS_ITEM_DONE, "g-1", "done", &ev),
                     0);
    assert_true(gcs_store_flush(s) < 0);
    assert_string_equal(audit_lines, ""); /* not audited: not durable */
    assert_int_equal(gcs_store_open(&other, f->url), 0);
    note_seen seen = {0};
    assert_int_equal(gcs_store_notifications_each(other, NULL, collect_note, &seen), 0);
    assert_int_equal(seen.n, 0);
    expect_item(other, run.id, "k1", GCS_ITEM_PENDING, NULL, 0);

    refuse_receipts(s, false);
    assert_int_equal(gcs_store_flush(s), 0);
    gcs_log_set_sink(NULL, NULL);
    /* Audited once committed, with the receipts. */
    assert_non_null(strstr(audit_lines, "\"type\":\"user.created\""));
    assert_non_null(strstr(audit_lines, "\"receipts\":[2,3]"));
    expect_item(other, run.id, "k1", GCS_ITEM_DONE, "g-1", 0);
    assert_int_equal(gcs_store_notifications_each(other, GCS_NOTE_PENDING, collect_note, &seen),
                     0);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.endpoint[0], "hr");
    assert_string_equal(seen.endpoint[1], "audit");
    assert_string_equal(seen.msg[0], seen.msg[1]);
    assert_int_equal(strlen(seen.msg[0]), 36);
    assert_non_null(strstr(seen.body[0], "\"type\":\"user.created\""));
    assert_non_null(strstr(seen.body[0], "\"receipts\":[2,3]"));
    /* A run's end goes only where it is wanted. */
    json_t *counts = json_pack("{s:s,s:i}", "run_id", run.id, "created", 1);
    gcs_outbox_event end = {"run.finished", counts, &two_endpoints, false, false};
    assert_int_equal(gcs_store_run_finish_notify(s, run.id, GCS_RUN_DONE, &end), 0);
    seen.n = 0;
    assert_int_equal(gcs_store_notifications_each(other, NULL, collect_note, &seen), 0);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.endpoint[2], "hr");
    assert_non_null(strstr(seen.body[2], "\"type\":\"run.finished\""));
    gcs_run got;
    assert_int_equal(gcs_store_run_get(&got, other, run.id), 0);
    assert_string_equal(got.state, GCS_RUN_DONE);
    gcs_run_release(&got);
    /* A plain mark writes none; nor does an event no route takes. */
    assert_int_equal(gcs_store_item_mark_notify(s, run.id, "k1", GCS_ITEM_DONE, NULL, NULL, NULL),
                     0);
    static const char *const nothing[] = {"group.changed", NULL};
    gcs_outbox_route narrow = {"hr", nothing};
    gcs_outbox_routes one = {&narrow, 1, 0};
    ev.routes = &one;
    size_t written = 9;
    assert_int_equal(gcs_store_outbox_add(&written, s, &ev), 0);
    assert_int_equal(written, 0);
    int64_t pending, dead;
    assert_int_equal(gcs_store_notification_counts(&pending, &dead, other), 0);
    assert_int_equal(pending, 3);
    assert_int_equal(dead, 0);
    json_decref(counts);
    json_decref(data);
    gcs_store_free(other);
    gcs_run_release(&run);
}

/* One sender per notification: a claimed one is not claimed again while its
 * lease lives; a sender that died leaves it to the next one; delivered is
 * final; a failure backs off, and one past its deadline is dead. */
static void outbox_claim_deliver_back_off_dead(void **state)
{
    gcs_store *s = store_of(state);
    gcs_store_set_notify_backoff(s, 10000, 60000);
    gcs_outbox_event ev;
    json_t *data;
    user_event(&ev, &data, "user.updated", "run-1", "k1");
    ev.receipts_of_key = false;
    size_t written = 0;
    assert_int_equal(gcs_store_outbox_add(&written, s, &ev), 0);
    assert_int_equal(written, 2);
    json_decref(data);

    gcs_notification *got = NULL;
    size_t n = 0;
    assert_int_equal(gcs_store_notifications_claim(&got, &n, s, "host-a:1", 60000, 0, 1), 0);
    assert_int_equal(n, 1);
    int64_t first = got[0].id;
    assert_string_equal(got[0].state, GCS_NOTE_SENDING);
    assert_int_equal(got[0].attempts, 1);
    gcs_notifications_free(got, n);
    assert_int_equal(gcs_store_notifications_claim(&got, &n, s, "host-b:2", 60000, 0, 10), 0);
    assert_int_equal(n, 1); /* only the other endpoint's row */
    int64_t second = got[0].id;
    assert_true(second != first);
    gcs_notifications_free(got, n);
    assert_int_equal(gcs_store_notifications_claim(&got, &n, s, "host-b:2", 60000, 0, 10), 0);
    assert_int_equal(n, 0);

    /* Delivered once, then final. */
    assert_int_equal(gcs_store_notification_delivered(s, first, "host-a:1"), 0);
    assert_int_equal(gcs_store_notification_drop(s, first), GCS_ECONFLICT);
    assert_int_equal(gcs_store_notification_failed(NULL, s, first, "host-a:1", "late", 0),
                     GCS_ECONFLICT);

    /* Failed: pending after the backoff, not before. */
    int64_t before = gcs_time_wall_ms();
    bool dead = true;
    assert_int_equal(gcs_store_notification_failed(&dead, s, second, "host-b:2", "500", 0), 0);
    assert_false(dead);
    gcs_notification one;
    assert_int_equal(gcs_store_notification_get(&one, s, second), 0);
    assert_string_equal(one.state, GCS_NOTE_PENDING);
    assert_true(one.not_before_ms >= before + 10000 && one.not_before_ms <= before + 12000);
    assert_string_equal(one.last_error, "500");
    gcs_notification_release(&one);
    assert_int_equal(gcs_store_notifications_claim(&got, &n, s, "host-b:2", 60000, 0, 10), 0);
    assert_int_equal(n, 0);

    /* Its sender dies holding it: after the lease, another sender takes it. */
    raw_ok(s, "UPDATE notifications SET not_before_ms = 0");
    assert_int_equal(gcs_store_notifications_claim(&got, &n, s, "host-b:2", 1, 0, 10), 0);
    assert_int_equal(n, 1);
    gcs_notifications_free(got, n);
    usleep(5000);
    assert_int_equal(gcs_store_notifications_claim(&got, &n, s, "host-c:3", 60000, 0, 10), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].attempts, 3);
    gcs_notifications_free(got, n);
    assert_int_equal(gcs_store_notification_failed(NULL, s, second, "host-b:2", "x", 0),
                     GCS_ECONFLICT);

    /* A failure whose next try would pass the deadline: dead. */
    raw_ok(s, "UPDATE notifications SET deadline_ms = 1");
    assert_int_equal(gcs_store_notification_failed(&dead, s, second, "host-c:3", "timeout", 0), 0);
    assert_true(dead);
    int64_t pending, ndead;
    assert_int_equal(gcs_store_notification_counts(&pending, &ndead, s), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(ndead, 1);

    /* By hand: retry brings it back with a fresh deadline; drop puts it aside. */
    assert_int_equal(gcs_store_notification_retry(s, second), 0);
    assert_int_equal(gcs_store_notification_get(&one, s, second), 0);
    assert_string_equal(one.state, GCS_NOTE_PENDING);
    assert_int_equal(one.attempts, 0);
    assert_true(one.deadline_ms >= gcs_time_wall_ms() + GCS_NOTE_DEAD_AFTER_MS - 60000);
    gcs_notification_release(&one);
    assert_int_equal(gcs_store_notification_retry(s, second), GCS_ECONFLICT);
    assert_int_equal(gcs_store_notification_drop(s, second), 0);
    assert_int_equal(gcs_store_notification_drop(s, 999999), GCS_ENOTFOUND);

    /* A pending one that nobody sent by its deadline is dead, not sent. */
    assert_int_equal(gcs_store_notification_retry(s, second), 0);
    raw_ok(s, "UPDATE notifications SET deadline_ms = 1 WHERE state = 'pending'");
    assert_int_equal(gcs_store_notifications_claim(&got, &n, s, "host-c:3", 60000, 0, 10), 0);
    assert_int_equal(n, 0);
    assert_int_equal(gcs_store_notification_get(&one, s, second), 0);
    assert_string_equal(one.state, GCS_NOTE_DEAD);
    gcs_notification_release(&one);
}

/* Two senders claiming at once never take one notification twice. */
static void outbox_race_claims_each_once(void **state)
{
    fixture *f = *state;
    gcs_store *s = f->s;
    gcs_outbox_event ev;
    json_t *data;
    user_event(&ev, &data, "user.created", "r", "k");
    ev.receipts_of_key = false;
    for (int i = 0; i < 20; i++)
        assert_int_equal(gcs_store_outbox_add(NULL, s, &ev), 0);
    json_decref(data);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            gcs_store *mine = NULL;
            if (gcs_store_open(&mine, f->url) != 0)
                _exit(2);
            char sender[16];
            snprintf(sender, sizeof sender, "s%d", k);
            for (;;) {
                gcs_notification *got = NULL;
                size_t n = 0;
                if (gcs_store_notifications_claim(&got, &n, mine, sender, 60000, 0, 3) != 0)
                    _exit(3);
                if (n == 0)
                    break;
                for (size_t i = 0; i < n; i++) {
                    int64_t id = got[i].id;
                    if (write(fds[1], &id, sizeof id) != sizeof id)
                        _exit(4);
                }
                gcs_notifications_free(got, n);
            }
            gcs_store_free(mine);
            _exit(0);
        }
    }
    close(fds[1]);
    int seen[64] = {0}, total = 0;
    int64_t id;
    while (read(fds[0], &id, sizeof id) == sizeof id) {
        assert_true(id > 0 && id < 64);
        seen[id]++;
        total++;
    }
    close(fds[0]);
    for (int k = 0; k < 2; k++) {
        int st;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(total, 40);
    for (int i = 0; i < 64; i++)
        assert_true(seen[i] <= 1);
}

#define STORE_SUITE_TESTS                                                                          \
    cmocka_unit_test_setup_teardown(receipts_round_trip_redacted_and_bounded, fixture_open,        \
                                    fixture_close),                                                \
        cmocka_unit_test_setup_teardown(receipts_response_body_is_bounded, fixture_open,           \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(receipts_drop_registered_secrets_from_any_body,            \
                                        fixture_open, fixture_close),                              \
        cmocka_unit_test_setup_teardown(receipts_filters, fixture_open, fixture_close),            \
        cmocka_unit_test_setup_teardown(receipts_database_refuses_update_and_delete, fixture_open, \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(verify_catches_an_edit, fixture_open, fixture_close),      \
        cmocka_unit_test_setup_teardown(verify_catches_an_edit_of_the_hash_too, fixture_open,      \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(verify_catches_a_deletion, fixture_open, fixture_close),   \
        cmocka_unit_test_setup_teardown(verify_catches_a_deleted_tail, fixture_open,               \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(verify_catches_an_insertion, fixture_open, fixture_close), \
        cmocka_unit_test_setup_teardown(an_anchor_catches_a_rewritten_chain, fixture_open,         \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(verify_since_walks_from_the_anchor, fixture_open,          \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(verify_catches_an_append_past_the_head, fixture_open,      \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(verify_catches_a_reordering, fixture_open, fixture_close), \
        cmocka_unit_test_setup_teardown(verify_empty_chain_holds, fixture_open, fixture_close),    \
        cmocka_unit_test_setup_teardown(receipts_survive_reopen_and_chain_continues, fixture_open, \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(receipts_are_committed_on_a_timer, fixture_open,           \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(a_failed_flush_keeps_the_receipts_for_a_retry,             \
                                        fixture_open, fixture_close),                              \
        cmocka_unit_test_setup_teardown(crash_keeps_every_acknowledged_receipt, fixture_open,      \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(runs_resume_after_a_crash, fixture_open, fixture_close),   \
        cmocka_unit_test_setup_teardown(runs_newest_resumable_wins, fixture_open, fixture_close),  \
        cmocka_unit_test_setup_teardown(runs_failed_is_resumed_done_is_latest, fixture_open,       \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(run_plans_are_kept_once_per_run, fixture_open,             \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(run_plans_are_kept_in_parts, fixture_open,             \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(items_survive_the_move_to_version_12, fixture_open,        \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(leases_one_holder_at_a_time, fixture_open, fixture_close), \
        cmocka_unit_test_setup_teardown(leases_expired_or_dead_holder_is_taken_over, fixture_open, \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(leases_race_has_one_winner, fixture_open, fixture_close),  \
        cmocka_unit_test_setup_teardown(item_mark_flushes_receipts_first, fixture_open,            \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(queued_marks_commit_with_their_receipts, fixture_open,     \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(marks_keep_their_order_and_are_read_back, fixture_open,    \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(receipts_redacted_body_is_bounded_and_fields_kept,         \
                                        fixture_open, fixture_close),                              \
        cmocka_unit_test_setup_teardown(bodies_redacted_by_the_caller_are_kept, fixture_open,      \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(bodies_are_made_valid_utf8_at_every_offset, fixture_open,  \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(intake_queues_each_webhook_id_once, fixture_open,          \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(intake_coalesces_one_person_within_a_batch, fixture_open,  \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(intake_compares_what_an_idempotent_request_asked,         \
                                        fixture_open, fixture_close),                              \
        cmocka_unit_test_setup_teardown(jobs_coalesce_pending_of_one_key, fixture_open,            \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(jobs_outcome_is_kept_with_the_job, fixture_open,           \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(jobs_wait_for_approval_then_run_again, fixture_open,       \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(jobs_one_key_never_runs_twice, fixture_open,               \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(jobs_expired_lease_goes_to_another_worker, fixture_open,   \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(jobs_back_off_then_dead_letter, fixture_open,              \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(jobs_worker_that_keeps_dying_is_dead_lettered,             \
                                        fixture_open, fixture_close),                              \
        cmocka_unit_test_setup_teardown(outbox_commits_with_the_outcome, fixture_open,              \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(outbox_claim_deliver_back_off_dead, fixture_open,           \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(outbox_race_claims_each_once, fixture_open, fixture_close), \
        cmocka_unit_test_setup_teardown(jobs_failed_job_superseded_by_newer_state, fixture_open,   \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(group_ownership_is_recorded_per_group_and_kind,            \
                                        fixture_open, fixture_close),                              \
        cmocka_unit_test_setup_teardown(group_links_commit_with_the_group_item, fixture_open,       \
                                        fixture_close),                                            \
        cmocka_unit_test_setup_teardown(hosts_count_while_they_beat, fixture_open, fixture_close)

#endif
