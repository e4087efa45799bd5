/*
 * bench_store: receipts appended per second and the time to verify a chain of
 * N receipts, on SQLite (always) and PostgreSQL (with --pg URL or
 * $GCSCIM_TEST_PG; the benchmark works in a schema of its own and drops it).
 *
 *   bench_store [--count N] [--dir DIR] [--pg URL]
 *
 * Two workloads on SQLite: "create" (a body with a password, redacted as JSON)
 * then "patch" (a PatchOp without sensitive keys, up to 200,000 of them); the
 * create one on PostgreSQL.
 * Appends go through gcs_store_receipt_append, which commits in batches
 * (GCS_STORE_BATCH_MAX receipts or GCS_STORE_BATCH_MS); a final flush is
 * inside the timing, so every receipt counted is committed. Then 1,000 more are
 * appended and verified from the old head (gcs_store_receipts_verify_since, what
 * serve's background check does each interval). Last line: JSON.
 */
#include "core/error.h"
#include "core/time.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct result {
    double append_per_s;
    double append_cpu_us;  /* CPU time of the appending thread per receipt */
    double writer_cpu_us;  /* the rest of the process (the writer thread) per receipt */
    double verify_s;
    double verify_cpu_s;   /* CPU time of the process while verifying */
    long long verified;
    double since_ms;       /* verify_since from the old head over 1,000 new receipts */
    long long since_checked;
} result;

/* The machine is shared: CPU time says what a free core would do. */
static int64_t thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t process_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Appends receipts first .. first + count - 1 (their source keys). */
static int append(gcs_store *s, long first, long count, const char *req, const char *resp,
                  bool patch)
{
    int rc = 0;
    for (long i = first; i < first + count && rc == 0; i++) {
        char key[32], id[40];
        snprintf(key, sizeof key, "HR-%07ld", i);
        /* Ids in no order, as Genesys gives them: each insert lands somewhere
         * in the Genesys-id index, not at its end. */
        uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15u;
        h ^= h >> 29;
        snprintf(id, sizeof id, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(h >> 32),
                 (unsigned)(h >> 16) & 0xffff, (unsigned)h & 0xfff, (unsigned)(i & 0xfff),
                 (unsigned long long)(h & 0xffffffffffffu));
        gcs_receipt r = {.run_id = "20261122T063000Z-bench", .operation = patch ? "patch" : "create",
                         .resource_type = "user", .source_key = key,
                         .genesys_id = id, .method = "POST",
                         .path = "/api/v2/scim/v2/Users", .request_body = req, .status = 201,
                         .response_body = resp, .etag_received = "W/\"3\"", .attempts = 1,
                         .latency_ms = 87, .outcome = "ok", .correlation_id = "c0ffee"};
        rc = gcs_store_receipt_append(s, &r);
    }
    return rc;
}

/* create: a SCIM create with a password (the JSON redaction path, the costly
 * case); patch: a SCIM PatchOp with no sensitive key (most calls of a sync). */
static int fill_and_verify(result *out, const char *url, long count, bool patch)
{
    gcs_store *s = NULL;
    int rc = gcs_store_open(&s, url);
    if (rc < 0)
        return rc;
    const char *req = patch ? "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                              "\"Operations\":[{\"op\":\"replace\",\"path\":\"title\","
                              "\"value\":\"Senior Agent\"},{\"op\":\"replace\",\"path\":"
                              "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
                              "department\",\"value\":\"Support\"}]}"
                            : "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
                              "\"userName\":\"jane.doe@example.com\",\"externalId\":\"HR-0012345\","
                              "\"name\":{\"givenName\":\"Jane\",\"familyName\":\"Doe\"},"
                              "\"active\":true,\"password\":\"not-stored\"}";
    const char *resp = "{\"id\":\"6f1c2a1e-9b7d-4c1e-8d2a-3f4b5c6d7e8f\",\"userName\":"
                       "\"jane.doe@example.com\",\"active\":true,\"meta\":{\"version\":\"W/\\\"3\\\"\","
                       "\"resourceType\":\"User\"}}";
    int64_t t0 = gcs_time_mono_us(), c0 = thread_cpu_us(), p0 = process_cpu_us();
    rc = append(s, 0, count, req, resp, patch);
    int64_t c1 = thread_cpu_us();
    if (rc == 0)
        rc = gcs_store_flush(s);
    int64_t t1 = gcs_time_mono_us();
    gcs_verify_result v = {.ok = true};
    int64_t p1 = process_cpu_us();
    out->writer_cpu_us = (double)((p1 - p0) - (c1 - c0)) / count;
    if (rc == 0 && !patch)
        rc = gcs_store_receipts_verify(&v, s);
    int64_t t2 = gcs_time_mono_us(), p2 = process_cpu_us();
    if (rc == 0 && !v.ok)
        rc = gcs_error_set(GCS_ERROR, "chain broken at %lld: %s", (long long)v.broken_seq,
                           v.reason);
    if (rc == 0) {
        out->append_per_s = count / ((t1 - t0) / 1e6);
        out->append_cpu_us = (double)(c1 - c0) / count;
        out->verify_s = (t2 - t1) / 1e6;
        out->verify_cpu_s = (p2 - p1) / 1e6;
        out->verified = v.checked;
    }
    /* serve's background check: from the head verified last, over what came since. */
    if (rc == 0 && !patch && (rc = append(s, count, 1000, req, resp, patch)) == 0 &&
        (rc = gcs_store_flush(s)) == 0) {
        gcs_verify_result since;
        int64_t t3 = gcs_time_mono_us();
        rc = gcs_store_receipts_verify_since(&since, s, v.head_seq, v.head_hash);
        out->since_ms = (gcs_time_mono_us() - t3) / 1e3;
        out->since_checked = since.checked;
        if (rc == 0 && !since.ok)
            rc = gcs_error_set(GCS_ERROR, "verify_since: %s", since.reason);
    }
    gcs_store_free(s);
    return rc;
}

static int pg_admin(const char *base, const char *sql)
{
    PGconn *c = PQconnectdb(base);
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PQclear(PQexec(c, "SET client_min_messages = warning"));
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

int main(int argc, char **argv)
{
    long count = 1000000;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *pg = getenv("GCSCIM_TEST_PG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = atol(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--pg") == 0 && i + 1 < argc)
            pg = argv[++i];
        else {
            fprintf(stderr, "usage: bench_store [--count N] [--dir DIR] [--pg URL]\n");
            return 2;
        }
    }
    char path[4096], url[4200];
    snprintf(path, sizeof path, "%s/bench_store_%d.db", dir, (int)getpid());
    snprintf(url, sizeof url, "sqlite:%s", path);
    result lite = {0}, lite_patch = {0}, post = {0};
    char wal[4200], shm[4200];
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    long npatch = count < 200000 ? count : 200000;
    for (int pass = 0; pass < 2; pass++) {
        if (fill_and_verify(pass ? &lite_patch : &lite, url, pass ? npatch : count, pass) < 0) {
            fprintf(stderr, "sqlite: %s\n", gcs_error_last());
            return 1;
        }
        unlink(path);
        unlink(wal);
        unlink(shm);
    }
    printf("sqlite: %ld receipts appended at %.0f/s (CPU each: %.1f us caller, %.1f us writer); "
           "verified %lld in %.2f s (%.2f s CPU); then from that head over 1,000 new: "
           "%lld checked in %.1f ms\n",
           count, lite.append_per_s, lite.append_cpu_us, lite.writer_cpu_us, lite.verified,
           lite.verify_s, lite.verify_cpu_s, lite.since_checked, lite.since_ms);

    printf("sqlite: %ld patch receipts (no sensitive key) appended at %.0f/s "
           "(CPU each: %.1f us caller, %.1f us writer)\n",
           npatch, lite_patch.append_per_s, lite_patch.append_cpu_us, lite_patch.writer_cpu_us);
    bool have_pg = pg && *pg;
    if (have_pg) {
        char schema[64], sql[256], pgurl[4200];
        snprintf(schema, sizeof schema, "bench_%d", (int)getpid());
        snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
        if (pg_admin(pg, sql) < 0) {
            fprintf(stderr, "postgresql: cannot create schema %s\n", schema);
            return 1;
        }
        snprintf(pgurl, sizeof pgurl, "%s%coptions=-csearch_path%%3D%s", pg,
                 strchr(pg, '?') ? '&' : '?', schema);
        int rc = fill_and_verify(&post, pgurl, count, false);
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
        pg_admin(pg, sql);
        if (rc < 0) {
            fprintf(stderr, "postgresql: %s\n", gcs_error_last());
            return 1;
        }
        printf("postgresql: %ld receipts appended at %.0f/s (CPU each: %.1f us caller, "
               "%.1f us writer); verified %lld in %.2f s (%.2f s CPU in gcscim); then from that "
               "head over 1,000 new: %lld checked in %.1f ms\n",
               count, post.append_per_s, post.append_cpu_us, post.writer_cpu_us, post.verified,
               post.verify_s, post.verify_cpu_s, post.since_checked, post.since_ms);
    }
    printf("{\"count\":%ld,\"sqlite_append_per_s\":%.0f,\"sqlite_append_cpu_us\":%.1f,"
           "\"sqlite_verify_s\":%.3f,\"sqlite_verify_since_1000_ms\":%.1f",
           count, lite.append_per_s, lite.append_cpu_us, lite.verify_s, lite.since_ms);
    printf(",\"sqlite_patch_append_per_s\":%.0f,\"sqlite_patch_append_cpu_us\":%.1f",
           lite_patch.append_per_s, lite_patch.append_cpu_us);
    if (have_pg)
        printf(",\"postgres_append_per_s\":%.0f,\"postgres_append_cpu_us\":%.1f,"
               "\"postgres_verify_s\":%.3f,\"postgres_verify_since_1000_ms\":%.1f",
               post.append_per_s, post.append_cpu_us, post.verify_s, post.since_ms);
    printf("}\n");
    return 0;
}
