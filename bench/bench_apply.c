/*
 * bench_apply - what one Genesys call costs gcscim's apply, everything included:
 * receipts (redaction, the writer thread, the chain), run items, the request
 * engine and libcurl.
 *
 *   bench_apply [--users N] [--in-flight N] [--emulator-threads N] [--notify 1]
 *
 * Starts the emulator (limit off) with an empty organisation, plans N creates
 * (an export of N people) and applies them with gcs_apply_run, then plans N
 * PATCHes (every title changed) and applies those: each apply a real run with
 * receipts and run items in a SQLite store in a temporary directory. Only the
 * applies are timed: CPU is this process's user + system time (getrusage, every
 * thread, the receipt writer included) around gcs_apply_run, divided by the
 * calls the emulator answered. Like the program, jansson wipes what it frees.
 * With --notify 1 every outcome also writes its notification to the outbox
 * (one endpoint taking every event; nothing is sent), as with a notify file.
 * Prints as its last line one JSON object: per phase `cpu_us_per_op`,
 * `main_thread_us_per_op` (the apply loop's own thread), `wall_s`, `ops_per_s`,
 * `requests` (API calls the emulator answered), `connects` (new connections
 * the engine opened) and `emulator_cpu_us_per_op`; then `peak_rss_mib` of this
 * process and the load average at the start.
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
#include "core/redact.h"
#include "core/time.h"
#include "engine/apply.h"
#include "engine/planner.h"
#include "genesys/session.h"
#include "support/benchconn.h"
#include "support/benchproc.h"

static const char profile[] = "version: 1\n"
                              "match: [userName]\n"
                              "attributes:\n"
                              "  userName: {from: email, required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  title: title\n"
                              "  department: dept\n";

static void write_export(const char *path, int users, const char *title)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs("email,first,last,title,dept\n", f);
    for (int i = 0; i < users; i++)
        fprintf(f, "person%06d@example.com,Person,%d,%s,Support\n", i, i, title);
    fclose(f);
}

static int64_t rusage_us(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

typedef struct phase {
    const char *name;
    long ops, requests, connects, failed;
    double wall_s, cpu_us_per_op, main_us_per_op, emu_us_per_op;
} phase;

/* Plans `source` against the emulator, then applies the plan, timing the apply. */
/* --notify 1: one endpoint that takes every event. */
static bool notify;
static const gcs_outbox_route every_event = {"bench", NULL};
static const gcs_outbox_routes bench_routes = {&every_event, 1, 0};

static int run_phase(phase *out, int users, gcs_genesys_session *s, gcs_store *store, const char *source,
                     const char *prof, const char *api_url, pid_t emu)
{
    gcs_plan plan;
    gcs_planner_stats stats;
    gcs_apply_result result;
    gcs_planner_options po;
    gcs_planner_options_init(&po);
    po.source_path = source;
    po.profile_path = prof;
    po.api_url = s->api_url;
    /* Changing every title is a mass change: approved, as a person would. */
    char approval[64];
    snprintf(approval, sizeof approval, "change:title=%d", users);
    int rc = gcs_plan_options_approve(&po.plan, approval);
    if (rc == 0)
        rc = gcs_planner_run(&plan, &stats, s->client, &po);
    if (rc < 0)
        return rc;
    gcs_http_stats before, after;
    gcs_http_client_stats(&before, s->client);
    long req0 = gcs_bench_emulator_calls(api_url, NULL, NULL);
    int64_t emu0 = gcs_bench_cpu_us(emu);
    int64_t t0 = gcs_time_mono_us(), cpu0 = rusage_us(RUSAGE_SELF),
            main0 = rusage_us(RUSAGE_THREAD);
    gcs_apply_options ao = {.command = "apply", .approval = po.plan,
                            .notify = notify ? &bench_routes : NULL};
    rc = gcs_apply_run(&result, s->client, store, &plan, &ao);
    int64_t wall = gcs_time_mono_us() - t0, cpu = rusage_us(RUSAGE_SELF) - cpu0,
            main_cpu = rusage_us(RUSAGE_THREAD) - main0;
    int64_t emu_cpu = gcs_bench_cpu_us(emu) - emu0;
    gcs_http_client_stats(&after, s->client);
    out->requests = gcs_bench_emulator_calls(api_url, NULL, NULL) - req0;
    out->connects = (long)(after.connects - before.connects);
    out->ops = result.total;
    out->failed = result.counts[GCS_APPLY_FAILED] + result.counts[GCS_APPLY_DRIFT];
    long calls = out->requests > 0 ? out->requests : 1;
    out->wall_s = (double)wall / 1e6;
    out->cpu_us_per_op = (double)cpu / (double)calls;
    out->main_us_per_op = (double)main_cpu / (double)calls;
    out->emu_us_per_op = (double)emu_cpu / (double)calls;
    gcs_plan_release(&plan);
    return rc;
}

static void print_phase(const phase *p)
{
    printf("\"%s\":{\"ops\":%ld,\"failed\":%ld,\"requests\":%ld,\"connects\":%ld,"
           "\"wall_s\":%.2f,\"ops_per_s\":%.0f,\"cpu_us_per_op\":%.1f,"
           "\"main_thread_us_per_op\":%.1f,\"emulator_cpu_us_per_op\":%.1f}",
           p->name, p->ops, p->failed, p->requests, p->connects, p->wall_s,
           p->wall_s > 0 ? (double)p->ops / p->wall_s : 0.0, p->cpu_us_per_op, p->main_us_per_op,
           p->emu_us_per_op);
}

int main(int argc, char **argv)
{
    int users = 10000;
    const char *in_flight = "16", *emu_threads = "0";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--users") == 0)
            users = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--in-flight") == 0)
            in_flight = argv[i + 1];
        else if (strcmp(argv[i], "--emulator-threads") == 0)
            emu_threads = argv[i + 1];
        else if (strcmp(argv[i], "--notify") == 0)
            notify = atoi(argv[i + 1]) != 0;
    }
    /* As the program does: every block jansson frees is overwritten. */
    gcs_redact_wipe_json_frees();
    gcs_log_set_level(GCS_LOG_WARN);
    double load[3] = {0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;

    char dir[] = "/tmp/gcscim-bench-apply-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char api_url[256], hires[1100], retitled[1100], prof[1100];
    snprintf(hires, sizeof hires, "%s/hires.csv", dir);
    snprintf(retitled, sizeof retitled, "%s/retitled.csv", dir);
    snprintf(prof, sizeof prof, "%s/profile.yaml", dir);
    write_export(hires, users, "Agent");
    write_export(retitled, users, "Senior Agent");
    FILE *f = fopen(prof, "w");
    if (f) {
        fputs(profile, f);
        fclose(f);
    }
    const char *args[] = {"--rate-limit", "0", "--threads", emu_threads, "--log-level", "warn",
                          NULL};
    pid_t emu = gcs_bench_emulator_start(dir, args, api_url, sizeof api_url);
    if (emu < 0) {
        fprintf(stderr, "bench_apply: cannot start the emulator (%s)\n",
                gcs_bench_emulator_path());
        return 1;
    }

    gcs_bench_conn conn;
    phase creates = {.name = "create"}, patches = {.name = "patch"};
    int rc = gcs_bench_open(&conn, api_url, dir, in_flight);
    gcs_genesys_session *s = conn.session;
    gcs_store *store = conn.store;
    if (rc == 0)
        rc = gcs_token_ensure(s->token, s->client);
    if (rc == 0)
        rc = run_phase(&creates, users, s, store, hires, prof, api_url, emu);
    if (rc == 0)
        rc = run_phase(&patches, users, s, store, retitled, prof, api_url, emu);
    if (rc < 0)
        fprintf(stderr, "bench_apply: %s\n", gcs_error_last());
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"users\":%d,\"in_flight\":%s,\"notify\":%s,\"load_avg\":%.2f,", users, in_flight,
           notify ? "true" : "false", load[0]);
    print_phase(&creates);
    putchar(',');
    print_phase(&patches);
    printf(",\"peak_rss_mib\":%.1f}\n", (double)ru.ru_maxrss / 1024.0);
    gcs_bench_close(&conn);
    gcs_bench_emulator_stop(emu);
    gcs_bench_remove_dir(dir, "bench_apply");
    return rc < 0 ? 1 : 0;
}
