/*
 * bench_sync - a sync of many users of which few changed: how many requests it
 * costs, against the target (changed users) + (users / page size) + a constant.
 *
 *   bench_sync [--users N] [--changed-percent P] [--limit N/S] [--synthetic]
 *
 * Seeds the emulator with N managed users (with --synthetic the emulator builds
 * them itself, in memory: a seed file of a million users is over its 256 MiB
 * limit), writes an export of the same N people with P% of titles changed, and
 * runs plan + apply in this process (SQLite store in
 * a temporary directory). Prints as its last line one JSON object: users, changed,
 * requests (all API requests the emulator answered, token excluded), reads, writes,
 * page_size, target, within_target, seconds, users_per_s, cpu_us_per_user; the plan
 * alone: plan_cpu_us_per_row (this process's CPU while planning, divided by the
 * rows) and plan_peak_rss_mib (the peak resident size once the plan is made); and
 * peak_rss_mib (the process's peak, apply included) with peak_rss_kib_per_user.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "engine/apply.h"
#include "engine/planner.h"
#include "genesys/session.h"
#include "support/benchconn.h"
#include "support/benchproc.h"

#define GENESYS_EXT "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"
#define PAGE_SIZE 100 /* the planner's page when no costly attribute is read */

static const char profile[] = "version: 1\n"
                              "match: [userName]\n"
                              "attributes:\n"
                              "  userName: {from: email, required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  title: title\n"
                              "  department: dept\n";

/* The people of `gcscim-emulator --synthetic-users N --synthetic-managed gcscim`:
 * user0000001@synthetic.example, "Synthetic User 1", title Agent, "Dept 1"… */
static void write_synthetic_inputs(const char *dir, int users, int changed_every)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/seed.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"users\":[]}\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/hr.csv", dir);
    f = fopen(path, "w");
    fputs("email,first,last,title,dept\n", f);
    for (int i = 1; i <= users; i++)
        fprintf(f, "user%07d@synthetic.example,Synthetic,User %d,%s,Dept %d\n", i, i,
                changed_every && i % changed_every == 0 ? "Senior Agent" : "Agent", i % 20);
    fclose(f);
}

static void write_inputs(const char *dir, int users, int changed_every, bool synthetic)
{
    char path[1024];
    if (synthetic) {
        write_synthetic_inputs(dir, users, changed_every);
        goto profile;
    }
    /* Written a user at a time: the bench's own peak RSS is part of what it measures. */
    snprintf(path, sizeof path, "%s/seed.json", dir);
    FILE *seed = fopen(path, "w");
    fputs("{\"users\":[", seed);
    for (int i = 0; i < users; i++)
        fprintf(seed,
                "%s{\"userName\":\"person%06d@example.com\",\"displayName\":\"Person %d\","
                "\"title\":\"Agent\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:"
                "User\":{\"department\":\"Support\"},\"" GENESYS_EXT "\":{\"externalIds\":"
                "[{\"authority\":\"gcscim\",\"value\":\"person%06d@example.com\"}]}}",
                i ? "," : "", i, i, i);
    fputs("]}\n", seed);
    fclose(seed);

    snprintf(path, sizeof path, "%s/hr.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("email,first,last,title,dept\n", f);
    for (int i = 0; i < users; i++)
        fprintf(f, "person%06d@example.com,Person,%d,%s,Support\n", i, i,
                changed_every && i % changed_every == 0 ? "Senior Agent" : "Agent");
    fclose(f);
profile:
    snprintf(path, sizeof path, "%s/profile.yaml", dir);
    f = fopen(path, "w");
    fputs(profile, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    int users = 10000;
    double percent = 1.0;
    const char *limit = "0";
    bool synthetic = false;
    for (int i = 1; i < argc; i++) {
        bool more = i + 1 < argc;
        if (strcmp(argv[i], "--synthetic") == 0)
            synthetic = true;
        else if (more && strcmp(argv[i], "--users") == 0)
            users = atoi(argv[++i]);
        else if (more && strcmp(argv[i], "--changed-percent") == 0)
            percent = atof(argv[++i]);
        else if (more && strcmp(argv[i], "--limit") == 0)
            limit = argv[++i];
    }
    int changed_every = percent > 0 ? (int)(100.0 / percent) : 0;
    int changed = changed_every ? (users + changed_every - 1) / changed_every : 0;
    gcs_log_set_level(GCS_LOG_WARN);

    char dir[] = "/tmp/gcscim-bench-sync-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    write_inputs(dir, users, changed_every, synthetic);
    char seed[1100], api_url[256], source[1100], prof[1100], count[32];
    snprintf(seed, sizeof seed, "%s/seed.json", dir);
    snprintf(count, sizeof count, "%d", users);
    const char *args[] = {"--seed", seed, "--rate-limit", limit, "--log-level", "warn",
                          synthetic ? "--synthetic-users" : NULL, count, "--synthetic-managed",
                          "gcscim", NULL};
    pid_t emu = gcs_bench_emulator_start(dir, args, api_url, sizeof api_url);
    if (emu < 0) {
        fprintf(stderr, "bench_sync: cannot start the emulator (%s)\n", gcs_bench_emulator_path());
        return 1;
    }
    snprintf(source, sizeof source, "%s/hr.csv", dir);
    snprintf(prof, sizeof prof, "%s/profile.yaml", dir);

    gcs_bench_conn conn;
    gcs_plan plan;
    gcs_planner_stats stats;
    gcs_apply_result result;
    int rc = gcs_bench_open(&conn, api_url, dir, NULL);
    gcs_genesys_session *s = conn.session;
    gcs_store *store = conn.store;
    int64_t t0 = gcs_time_mono_us(), cpu0 = gcs_bench_cpu_us(0);
    if (rc == 0)
        rc = gcs_token_ensure(s->token, s->client);
    gcs_planner_options po;
    gcs_planner_options_init(&po);
    po.source_path = source;
    po.profile_path = prof;
    po.api_url = s ? s->api_url : NULL;
    /* The changed titles are the point of the run: approved, as an operator would. */
    char approval[64];
    snprintf(approval, sizeof approval, "change:title=%d", changed);
    gcs_plan_options_approve(&po.plan, approval);
    int64_t plan_cpu0 = gcs_bench_cpu_us(0);
    if (rc == 0)
        rc = gcs_planner_run(&plan, &stats, s->client, &po);
    int64_t plan_cpu = gcs_bench_cpu_us(0) - plan_cpu0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double plan_rss_mib = (double)ru.ru_maxrss / 1024.0;
    gcs_apply_options ao = {.command = "sync", .approval = po.plan};
    if (rc == 0) {
        rc = gcs_apply_run(&result, s->client, store, &plan, &ao);
        gcs_plan_release(&plan);
    }
    double seconds = (double)(gcs_time_mono_us() - t0) / 1e6;
    int64_t cpu = gcs_bench_cpu_us(0) - cpu0;
    if (rc < 0)
        fprintf(stderr, "bench_sync: %s\n", gcs_error_last());
    long reads, writes;
    long requests = gcs_bench_emulator_calls(api_url, &reads, &writes);
    long target = changed + (users + PAGE_SIZE - 1) / PAGE_SIZE + 5;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"users\":%d,\"changed\":%d,\"limit\":\"%s\",\"requests\":%ld,\"reads\":%ld,"
           "\"writes\":%ld,\"page_size\":%d,\"target\":%ld,\"within_target\":%s,"
           "\"seconds\":%.2f,\"users_per_s\":%.0f,\"cpu_us_per_user\":%.1f,"
           "\"plan_cpu_us_per_row\":%.1f,\"plan_peak_rss_mib\":%.1f,\"peak_rss_mib\":%.1f,"
           "\"peak_rss_kib_per_user\":%.2f}\n",
           users, changed, limit, requests, reads, writes, PAGE_SIZE, target,
           requests <= target ? "true" : "false", seconds, users / seconds,
           (double)cpu / users, (double)plan_cpu / users, plan_rss_mib,
           (double)ru.ru_maxrss / 1024.0, (double)ru.ru_maxrss / users);
    gcs_bench_close(&conn);
    gcs_bench_emulator_stop(emu);
    gcs_bench_remove_dir(dir, "bench_sync");
    return rc < 0 ? 1 : 0;
}
