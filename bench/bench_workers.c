/*
 * bench_workers - the service's workers (src/service/workers.h) against the
 * emulator: how the one session they share holds up, and how soon an event on
 * an idle service reaches Genesys.
 *
 *   bench_workers [--jobs N] [--latency MS] [--limit N/S] [--members M]
 *
 * The emulator answers every API call after MS milliseconds (default 20: a
 * round trip to a real region), with its rate limit at N/S (default off).
 *  - throughput: N person jobs (creates) are enqueued at once, then 1 worker,
 *    then 4 workers (fresh store and organisation each time) take them; the
 *    time until every job is done gives jobs/s, with the requests each job
 *    cost and how long a job waited for the engine on average;
 *  - latency: on an idle service (4 workers waiting), one job at a time is
 *    enqueued and notified; the time until it is done (its create answered)
 *    is measured 30 times: p50 and p99, also in round trips (MS);
 *  - a group event (--members M, default 50): M people are created, then a
 *    group job naming them all is timed from enqueue to done (the group
 *    created with its members), then the same job again (nothing to write),
 *    then one with a member fewer; each with the requests it cost.
 * Prints as its last line one JSON object with all three.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "service/workers.h"
#include "support/benchconn.h"
#include "support/benchproc.h"

static const char profile[] = "version: 1\n"
                              "managed_by: gcscim\n"
                              "match: [externalId, userName]\n"
                              "attributes:\n"
                              "  userName: {from: email, required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  externalId: {from: id, required: true}\n"
                              "  title: title\n";
/* The same with a groups section, for group jobs. */
static const char groups_section[] = "groups:\n  column: teams\n  hierarchy: kept\n";

static int enqueue(gcs_store *s, int i, int64_t *id)
{
    char payload[512], key[64];
    snprintf(payload, sizeof payload,
             "{\"v\":1,\"kind\":\"person\",\"key\":\"E%06d\",\"event\":\"upsert\","
             "\"row\":{\"id\":\"E%06d\",\"first\":\"Person\",\"last\":\"%d\","
             "\"email\":\"person%06d@example.com\",\"title\":\"Agent\"}}",
             i, i, i, i);
    snprintf(key, sizeof key, "person:E%06d", i);
    return gcs_store_job_enqueue(id, s, key, payload, 5);
}

typedef struct setup {
    char dir[256];
    char api_url[256];
    char db[512];
    char profile_path[512];
    pid_t emu;
    gcs_bench_conn conn;
} setup;

static int open_setup(setup *st, const char *latency, const char *limit, bool groups)
{
    snprintf(st->dir, sizeof st->dir, "%s/gcscim-bench-workers-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(st->dir))
        return -1;
    const char *args[] = {"--rate-limit", limit, "--latency", latency, "--threads", "8", NULL};
    st->emu = gcs_bench_emulator_start(st->dir, args, st->api_url, sizeof st->api_url);
    if (st->emu < 0)
        return -1;
    snprintf(st->profile_path, sizeof st->profile_path, "%s/profile.yaml", st->dir);
    FILE *f = fopen(st->profile_path, "w");
    if (!f)
        return -1;
    fputs(profile, f);
    if (groups)
        fputs(groups_section, f);
    fclose(f);
    snprintf(st->db, sizeof st->db, "sqlite:%s/gcscim.db", st->dir);
    if (gcs_bench_open(&st->conn, st->api_url, st->dir, NULL) < 0)
        return -1;
    return 0;
}

static void close_setup(setup *st)
{
    gcs_bench_close(&st->conn);
    if (st->emu > 0)
        gcs_bench_emulator_stop(st->emu);
    gcs_bench_remove_dir(st->dir, "bench_workers");
}

static gcs_workers_options options(setup *st, int count)
{
    gcs_workers_options o = {.store_url = st->db,
                             .session = st->conn.session,
                             .profile_path = st->profile_path,
                             .count = count,
                             .host_id = "bench"};
    return o;
}

static json_t *throughput(int workers, int jobs, const char *latency, const char *limit)
{
    setup st = {0};
    json_t *out = NULL;
    gcs_workers *w = NULL;
    if (open_setup(&st, latency, limit, false) < 0) {
        fprintf(stderr, "bench_workers: setup: %s\n", gcs_error_last());
        goto done;
    }
    for (int i = 0; i < jobs; i++) {
        int64_t id;
        if (enqueue(st.conn.store, i, &id) < 0) {
            fprintf(stderr, "bench_workers: enqueue: %s\n", gcs_error_last());
            goto done;
        }
    }
    gcs_workers_options o = options(&st, workers);
    int64_t t0 = gcs_time_mono_ms();
    if (gcs_workers_start(&w, &o) < 0) {
        fprintf(stderr, "bench_workers: start: %s\n", gcs_error_last());
        goto done;
    }
    gcs_workers_stats c;
    for (;;) {
        gcs_workers_counts(w, &c);
        if (c.done + c.needs_approval + c.dead >= jobs)
            break;
        gcs_time_sleep_ms(5);
    }
    double secs = (double)(gcs_time_mono_ms() - t0) / 1000.0;
    out = json_pack("{s:i,s:i,s:f,s:f,s:f,s:f,s:I,s:I}", "workers", workers, "jobs", jobs,
                    "wall_s", secs, "jobs_per_s", jobs / secs, "requests_per_job",
                    (double)c.http.completed / jobs, "engine_wait_ms_per_job",
                    (double)c.engine_wait_ms / jobs, "done", (json_int_t)c.done, "status_429",
                    (json_int_t)c.http.status_429);
done:
    gcs_workers_free(w);
    close_setup(&st);
    return out;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static json_t *latency(const char *latency_ms, const char *limit)
{
    enum { SAMPLES = 30 };
    setup st = {0};
    json_t *out = NULL;
    gcs_workers *w = NULL;
    int64_t took[SAMPLES];
    if (open_setup(&st, latency_ms, limit, false) < 0)
        goto done;
    gcs_workers_options o = options(&st, 4);
    if (gcs_workers_start(&w, &o) < 0)
        goto done;
    /* The token first: an idle service has one. */
    if (gcs_token_ensure(st.conn.session->token, st.conn.session->client) < 0)
        goto done;
    gcs_workers_stats before, after;
    gcs_workers_counts(w, &before);
    for (int i = 0; i < SAMPLES; i++) {
        int64_t id;
        gcs_time_sleep_ms(50); /* idle */
        int64_t t0 = gcs_time_mono_us();
        if (enqueue(st.conn.store, i, &id) < 0)
            goto done;
        gcs_workers_notify(w);
        for (;;) {
            gcs_job j;
            if (gcs_store_job_get(&j, st.conn.store, id) < 0)
                goto done;
            bool finished = strcmp(j.state, GCS_JOB_DONE) == 0;
            gcs_job_release(&j);
            if (finished)
                break;
            gcs_time_sleep_ms(1);
        }
        took[i] = gcs_time_mono_us() - t0;
    }
    gcs_workers_counts(w, &after);
    qsort(took, SAMPLES, sizeof *took, cmp_i64);
    double rtt = atof(latency_ms);
    double p50 = (double)took[SAMPLES / 2] / 1000.0, p99 = (double)took[SAMPLES - 1] / 1000.0;
    out = json_pack("{s:i,s:f,s:f,s:f,s:f,s:f}", "samples", SAMPLES, "p50_ms", p50, "p99_ms", p99,
                    "p50_round_trips", rtt > 0 ? p50 / rtt : 0.0, "p99_round_trips",
                    rtt > 0 ? p99 / rtt : 0.0, "requests_per_job",
                    (double)(after.http.completed - before.http.completed) / SAMPLES);
done:
    gcs_workers_free(w);
    close_setup(&st);
    return out;
}

/* Enqueues, notifies and waits for one job; *ms its time, *requests what the
 * engine sent meanwhile. */
static int timed_job(setup *st, gcs_workers *w, const char *key, const char *payload, double *ms,
                     int64_t *requests)
{
    gcs_workers_stats before, after;
    gcs_workers_counts(w, &before);
    int64_t id, t0 = gcs_time_mono_us();
    if (gcs_store_job_enqueue(&id, st->conn.store, key, payload, 5) < 0)
        return -1;
    gcs_workers_notify(w);
    for (;;) {
        gcs_job j;
        if (gcs_store_job_get(&j, st->conn.store, id) < 0)
            return -1;
        bool finished = strcmp(j.state, GCS_JOB_DONE) == 0 || strcmp(j.state, GCS_JOB_DEAD) == 0;
        bool ok = j.result && strstr(j.result, "\"failed\"") == NULL &&
                  strstr(j.result, "\"rejected\"") == NULL;
        gcs_job_release(&j);
        if (finished && !ok)
            return gcs_error_set(GCS_ERROR, "the group job did not succeed");
        if (finished)
            break;
        gcs_time_sleep_ms(1);
    }
    *ms = (double)(gcs_time_mono_us() - t0) / 1000.0;
    gcs_time_sleep_ms(20); /* the counters follow the job's end */
    gcs_workers_counts(w, &after);
    *requests = after.http.completed - before.http.completed;
    return 0;
}

static json_t *group_event(const char *latency_ms, const char *limit, int members)
{
    setup st = {0};
    json_t *out = NULL, *group = NULL, *list = NULL;
    gcs_workers *w = NULL;
    char *payload = NULL;
    if (open_setup(&st, latency_ms, limit, true) < 0)
        goto done;
    for (int i = 0; i < members; i++) {
        int64_t id;
        if (enqueue(st.conn.store, i, &id) < 0)
            goto done;
    }
    gcs_workers_options o = options(&st, 4);
    if (gcs_workers_start(&w, &o) < 0)
        goto done;
    gcs_workers_stats c;
    do {
        gcs_time_sleep_ms(5);
        gcs_workers_counts(w, &c);
    } while (c.done + c.dead < members);
    list = json_array();
    for (int i = 0; i < members; i++) {
        char key[32];
        snprintf(key, sizeof key, "E%06d", i);
        json_array_append_new(list, json_string(key));
    }
    const char *names[] = {"create", "unchanged", "one_removed"};
    double ms[3];
    int64_t requests[3];
    for (int k = 0; k < 3; k++) {
        if (k == 2)
            json_array_remove(list, 0);
        group = json_pack("{s:s,s:s,s:O}", "key", "bench", "name", "Bench Group", "members", list);
        json_t *doc = json_pack("{s:i,s:s,s:s,s:o,s:s}", "v", 1, "kind", "group", "key", "bench",
                                "group", group, "event", "upsert");
        group = NULL;
        payload = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (!payload || timed_job(&st, w, "group:bench", payload, &ms[k], &requests[k]) < 0) {
            fprintf(stderr, "bench_workers: group event: %s\n", gcs_error_last());
            goto done;
        }
        free(payload);
        payload = NULL;
    }
    double rtt = atof(latency_ms);
    out = json_object();
    for (int k = 0; k < 3; k++)
        json_object_set_new(out, names[k],
                            json_pack("{s:f,s:f,s:I}", "ms", ms[k], "round_trips",
                                      rtt > 0 ? ms[k] / rtt : 0.0, "requests",
                                      (json_int_t)requests[k]));
    json_object_set_new(out, "members", json_integer(members));
done:
    free(payload);
    json_decref(list);
    gcs_workers_free(w);
    close_setup(&st);
    return out;
}

int main(int argc, char **argv)
{
    int jobs = 200, members = 50;
    const char *lat = "20", *limit = "0";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--jobs") == 0)
            jobs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--latency") == 0)
            lat = argv[i + 1];
        else if (strcmp(argv[i], "--limit") == 0)
            limit = argv[i + 1];
        else if (strcmp(argv[i], "--members") == 0)
            members = atoi(argv[i + 1]);
    }
    gcs_log_set_level(GCS_LOG_OFF);
    json_t *one = throughput(1, jobs, lat, limit);
    json_t *four = throughput(4, jobs, lat, limit);
    json_t *idle = latency(lat, limit);
    json_t *group = group_event(lat, limit, members);
    double load[1] = {0};
    getloadavg(load, 1);
    json_t *doc = json_pack("{s:s,s:s,s:o*,s:o*,s:o*,s:o*,s:f}", "latency_ms", lat, "limit", limit,
                            "throughput_1_worker", one, "throughput_4_workers", four,
                            "idle_event", idle, "group_event", group, "load_avg", load[0]);
    char *text = json_dumps(doc, JSON_COMPACT);
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(doc);
    return one && four && idle && group ? 0 : 1;
}
