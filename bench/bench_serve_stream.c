/*
 * bench_serve_stream - a sustained stream of events above the rate limit,
 * taken by the service's workers (src/service/workers.h) on one host or on
 * several sharing one PostgreSQL database and one client's limit.
 *
 *   bench_serve_stream [--limit 120/10] [--seconds 60] [--over 1.5] [--latency 20]
 *                      [--hosts 1,2]
 *
 * The emulator answers after --latency ms and holds the client's tokens to
 * one limit (--rate-limit-per-client: each host has a token of its own, the
 * sum is what counts). For --seconds, person jobs (creates, about 4 requests
 * each) are enqueued at --over times what the limit allows and every host's
 * workers are woken; then the stream stops and the queue drains. Each host is
 * a gcs_workers with a session (token) of its own, all in this process.
 *  - utilisation: requests the emulator accepted during the stream over those
 *    the limit allowed in that time (the stream starts with a fresh window);
 *  - share_429: answers 429 over all requests, stream and drain;
 *  - drain_s: from the stream's end until every job is done, with the queue
 *    left then (jobs_left_at_end) and the requests that took. The pacer lets
 *    work that fits in a window's allowance go at once, so a drain of k
 *    windows' worth of requests may end early in the k-th window.
 * One host runs on SQLite and on PostgreSQL, more on PostgreSQL only, which
 * needs GCSCIM_TEST_PG (scripts/with-postgres sets it). Prints as its last
 * line one JSON object with a run per configuration.
 */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "service/workers.h"
#include "support/benchconn.h"
#include "support/benchproc.h"

enum { HOSTS_MAX = 4, REQUESTS_PER_JOB = 4 };

static const char profile[] = "version: 1\n"
                              "managed_by: gcscim\n"
                              "match: [externalId, userName]\n"
                              "attributes:\n"
                              "  userName: {from: email, required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  externalId: {from: id, required: true}\n"
                              "  title: title\n";

typedef struct params {
    int allowed, window_s, seconds;
    double over;
    const char *latency, *limit;
} params;

static int enqueue(gcs_store *s, int i)
{
    char payload[512], key[64];
    int64_t id;
    snprintf(payload, sizeof payload,
             "{\"v\":1,\"kind\":\"person\",\"key\":\"S%06d\",\"event\":\"upsert\","
             "\"row\":{\"id\":\"S%06d\",\"first\":\"Person\",\"last\":\"%d\","
             "\"email\":\"stream%06d@example.com\",\"title\":\"Agent\"}}",
             i, i, i, i);
    snprintf(key, sizeof key, "person:S%06d", i);
    return gcs_store_job_enqueue(&id, s, key, payload, 5);
}

/* The emulator's request and 429 counts (API routes and token alike). */
static void emulator_counts(const char *api_url, long *requests, long *limited)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "curl -s %s/_emulator/stats", api_url);
    FILE *p = popen(cmd, "r");
    json_t *st = p ? json_loadf(p, 0, NULL) : NULL;
    if (p)
        pclose(p);
    *requests = (long)json_integer_value(json_object_get(st, "requests"));
    *limited = (long)json_integer_value(json_object_get(st, "rate_limited"));
    json_decref(st);
}

/* A fresh schema of the PostgreSQL database at base: its URL in out. */
static int pg_schema(char *out, size_t outsz, const char *base, const char *schema)
{
    PGconn *pg = PQconnectdb(base);
    int rc = -1;
    if (PQstatus(pg) == CONNECTION_OK) {
        char sql[256];
        PQclear(PQexec(pg, "SET client_min_messages = warning"));
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema,
                 schema);
        PGresult *res = PQexec(pg, sql);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
        PQclear(res);
    }
    PQfinish(pg);
    snprintf(out, outsz, "%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
             schema);
    return rc;
}

static json_t *run(const params *pr, int hosts, bool postgres)
{
    char dir[256], api_url[256], db[1200], profile_path[512];
    gcs_bench_conn conn[HOSTS_MAX] = {0};
    gcs_workers *w[HOSTS_MAX] = {0};
    gcs_store *producer = NULL;
    json_t *out = NULL;
    pid_t emu = -1;
    snprintf(dir, sizeof dir, "%s/gcscim-bench-stream-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return NULL;
    const char *args[] = {"--rate-limit", pr->limit, "--rate-limit-per-client", "--latency",
                          pr->latency, "--threads", "8", NULL};
    if ((emu = gcs_bench_emulator_start(dir, args, api_url, sizeof api_url)) < 0)
        goto done;
    snprintf(profile_path, sizeof profile_path, "%s/profile.yaml", dir);
    FILE *f = fopen(profile_path, "w");
    if (!f)
        goto done;
    fputs(profile, f);
    fclose(f);
    if (postgres) {
        char schema[64];
        snprintf(schema, sizeof schema, "bench_stream_%d_%d", (int)getpid(), hosts);
        if (pg_schema(db, sizeof db, getenv("GCSCIM_TEST_PG"), schema) < 0) {
            fprintf(stderr, "bench_serve_stream: cannot make schema %s\n", schema);
            goto done;
        }
    } else {
        snprintf(db, sizeof db, "sqlite:%s/gcscim.db", dir);
    }
    if (gcs_store_open(&producer, db) < 0)
        goto done;
    for (int h = 0; h < hosts; h++) {
        char host_dir[300], host_id[32];
        snprintf(host_dir, sizeof host_dir, "%s/h%d", dir, h);
        snprintf(host_id, sizeof host_id, "bench-host-%d", h + 1);
        if (mkdir(host_dir, 0700) < 0 || gcs_bench_open(&conn[h], api_url, host_dir, NULL) < 0)
            goto done;
        gcs_workers_options o = {.store_url = db,
                                 .session = conn[h].session,
                                 .profile_path = profile_path,
                                 .count = 4,
                                 .host_id = host_id,
                                 .idle_poll_ms = 200};
        if (gcs_workers_start(&w[h], &o) < 0)
            goto done;
    }
    /* Every host counted the others (and claims) before the stream begins. */
    for (int64_t until = gcs_time_mono_ms() + 15000; gcs_time_mono_ms() < until;) {
        int counted = 0;
        for (int h = 0; h < hosts; h++) {
            gcs_workers_stats c;
            gcs_workers_counts(w[h], &c);
            counted += c.hosts == hosts;
        }
        if (counted == hosts)
            break;
        gcs_time_sleep_ms(50);
    }

    double allowed_rps = (double)pr->allowed / pr->window_s;
    double jobs_per_s = pr->over * allowed_rps / REQUESTS_PER_JOB;
    long req0, lim0, req1, lim1, req2, lim2;
    emulator_counts(api_url, &req0, &lim0);
    int64_t t0 = gcs_time_mono_ms(), end = t0 + (int64_t)pr->seconds * 1000;
    int jobs = 0;
    while (gcs_time_mono_ms() < end) {
        int due = (int)((double)(gcs_time_mono_ms() - t0) / 1000.0 * jobs_per_s) + 1;
        for (; jobs < due; jobs++) {
            if (enqueue(producer, jobs) < 0) {
                fprintf(stderr, "bench_serve_stream: enqueue: %s\n", gcs_error_last());
                goto done;
            }
            gcs_workers_notify(w[jobs % hosts]);
        }
        gcs_time_sleep_ms(20);
    }
    emulator_counts(api_url, &req1, &lim1);
    int64_t t1 = gcs_time_mono_ms();
    int64_t done_at_end = 0;
    for (int h = 0; h < hosts; h++) {
        gcs_workers_stats c;
        gcs_workers_counts(w[h], &c);
        done_at_end += c.done + c.dead + c.needs_approval;
    }
    int64_t finished = 0, dead = 0;
    for (int64_t give_up = t1 + 600000; gcs_time_mono_ms() < give_up;) {
        finished = dead = 0;
        for (int h = 0; h < hosts; h++) {
            gcs_workers_stats c;
            gcs_workers_counts(w[h], &c);
            finished += c.done + c.dead + c.needs_approval;
            dead += c.dead;
        }
        if (finished >= jobs)
            break;
        gcs_time_sleep_ms(20);
    }
    int64_t t2 = gcs_time_mono_ms();
    emulator_counts(api_url, &req2, &lim2);
    double stream_s = (double)(t1 - t0) / 1000.0;
    long accepted = (req1 - req0) - (lim1 - lim0);
    long left = jobs - (long)done_at_end;
    out = json_pack("{s:i,s:s,s:i,s:f,s:f,s:I,s:f,s:I,s:I,s:f,s:f,s:I,s:I,s:I}", "hosts", hosts,
                    "store", postgres ? "postgresql" : "sqlite", "jobs", jobs, "stream_s",
                    stream_s, "jobs_per_s_offered", jobs_per_s, "requests_in_stream",
                    (json_int_t)(req1 - req0), "utilisation",
                    (double)accepted / (allowed_rps * stream_s), "requests",
                    (json_int_t)(req2 - req0), "status_429", (json_int_t)(lim2 - lim0),
                    "share_429",
                    req2 > req0 ? (double)(lim2 - lim0) / (double)(req2 - req0) : 0.0, "drain_s",
                    (double)(t2 - t1) / 1000.0, "jobs_left_at_end", (json_int_t)left,
                    "requests_in_drain", (json_int_t)(req2 - req1),
                    "unfinished", (json_int_t)(jobs - finished + dead));
done:
    for (int h = 0; h < hosts; h++)
        gcs_workers_free(w[h]);
    for (int h = 0; h < hosts; h++)
        gcs_bench_close(&conn[h]);
    gcs_store_free(producer);
    if (emu > 0)
        gcs_bench_emulator_stop(emu);
    gcs_bench_remove_dir(dir, "bench_serve_stream");
    return out;
}

int main(int argc, char **argv)
{
    params pr = {.seconds = 60, .over = 1.5, .latency = "20", .limit = "120/10"};
    const char *hosts_list = "1,2";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--limit") == 0)
            pr.limit = argv[i + 1];
        else if (strcmp(argv[i], "--seconds") == 0)
            pr.seconds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--over") == 0)
            pr.over = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--latency") == 0)
            pr.latency = argv[i + 1];
        else if (strcmp(argv[i], "--hosts") == 0)
            hosts_list = argv[i + 1];
    }
    if (sscanf(pr.limit, "%d/%d", &pr.allowed, &pr.window_s) != 2 || pr.allowed <= 0 ||
        pr.window_s <= 0 || pr.seconds <= 0 || pr.over <= 0) {
        fprintf(stderr, "usage: bench_serve_stream [--limit N/S] [--seconds S] [--over X] "
                        "[--latency MS] [--hosts 1,2]\n");
        return 2;
    }
    gcs_log_set_level(GCS_LOG_OFF);
    const char *pg = getenv("GCSCIM_TEST_PG");
    json_t *runs = json_array();
    bool ok = true;
    char list[64];
    snprintf(list, sizeof list, "%s", hosts_list);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int hosts = atoi(t);
        if (hosts < 1 || hosts > HOSTS_MAX)
            continue;
        for (int store = 0; store < 2; store++) {
            bool postgres = store == 1;
            if ((postgres && !(pg && *pg)) || (!postgres && hosts > 1))
                continue;
            json_t *r = run(&pr, hosts, postgres);
            if (r) {
                char *line = json_dumps(r, JSON_COMPACT);
                fprintf(stderr, "bench_serve_stream: %s\n", line ? line : "");
                free(line);
                json_array_append_new(runs, r);
            } else {
                ok = false;
            }
        }
    }
    double load[1] = {0};
    getloadavg(load, 1);
    json_t *doc = json_pack("{s:s,s:i,s:f,s:s,s:o,s:f}", "limit", pr.limit, "seconds",
                            pr.seconds, "over", pr.over, "latency_ms", pr.latency, "runs", runs,
                            "load_avg", load[0]);
    char *text = json_dumps(doc, JSON_COMPACT);
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(doc);
    return ok ? 0 : 1;
}
