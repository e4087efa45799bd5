/*
 * bench_undo - what taking a run back costs: keeping the run's plan in the store
 * when the run begins, planning the undo (one read per user the run changed),
 * and applying it.
 *
 *   bench_undo [--users N] [--in-flight N]
 *
 * Starts the emulator (limit off) with an empty organisation, creates N users
 * (plan and apply, not timed), then changes every title (plan and apply: the
 * run to take back). Then times:
 *  - keep: the plan of that run dumped and kept for a new run, as apply does
 *    when a run begins (gcs_plan_text_feed + gcs_store_run_plan_put_feed: in
 *    pieces, never whole), and its size;
 *  - undo: gcs_undo_plan of the run (reads every user it changed);
 *  - apply: gcs_apply_run of the undo plan (N PATCHes back).
 * Prints as its last line one JSON object: per phase `wall_s`, `cpu_us_per_user`
 * (this process's user + system CPU, every thread) and, for undo and apply,
 * `requests` (calls the client sent); the kept plan's `plan_mib`; `peak_rss_mib`
 * of this process and the load average at the start.
 */
#include <jansson.h>
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
#include "engine/undo.h"
#include "genesys/session.h"
#include "support/benchconn.h"
#include "support/benchproc.h"

static const char profile[] = "version: 1\n"
                              "managed_by: gcscim\n"
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

static int64_t cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

typedef struct phase {
    double wall_s, cpu_us_per_user;
    long requests;
} phase;

typedef struct timer {
    int64_t t0, cpu0;
} timer;

static timer start(void)
{
    return (timer){gcs_time_mono_us(), cpu_us()};
}

static void stop(phase *p, const timer *t, int users)
{
    p->wall_s = (double)(gcs_time_mono_us() - t->t0) / 1e6;
    p->cpu_us_per_user = (double)(cpu_us() - t->cpu0) / (users > 0 ? users : 1);
}

/* Plans `source`, seals the plan as the command line does, applies it. */
static int plan_and_apply(char *run_id, size_t run_id_size, gcs_plan *plan_out, gcs_bench_conn *c,
                          const char *source, const char *prof, int users)
{
    gcs_planner_options po;
    gcs_planner_stats stats;
    gcs_apply_result result;
    gcs_plan plan;
    gcs_planner_options_init(&po);
    po.source_path = source;
    po.profile_path = prof;
    po.api_url = c->session->api_url;
    char approval[64];
    snprintf(approval, sizeof approval, "change:title=%d", users);
    int rc = gcs_plan_options_approve(&po.plan, approval);
    if (rc == 0)
        rc = gcs_planner_run(&plan, &stats, c->session->client, &po);
    if (rc < 0)
        return rc;
    rc = gcs_plan_seal(&plan, gcs_config_get(&c->cfg, GCS_CFG_CLIENT_ID),
                       gcs_config_get(&c->cfg, GCS_CFG_CLIENT_SECRET));
    gcs_apply_options ao = {.command = "apply", .approval = po.plan};
    if (rc == 0)
        rc = gcs_apply_run(&result, c->session->client, c->store, &plan, &ao);
    if (rc == 0)
        snprintf(run_id, run_id_size, "%s", result.run_id);
    if (rc == 0 && plan_out)
        *plan_out = plan;
    else
        gcs_plan_release(&plan);
    return rc;
}

int main(int argc, char **argv)
{
    int users = 10000;
    const char *in_flight = "16";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--users") == 0)
            users = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--in-flight") == 0)
            in_flight = argv[i + 1];
    }
    gcs_redact_wipe_json_frees();
    gcs_log_set_level(GCS_LOG_WARN);
    double load[3] = {0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;

    char dir[] = "/tmp/gcscim-bench-undo-XXXXXX";
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
    const char *args[] = {"--rate-limit", "0", "--log-level", "warn", NULL};
    pid_t emu = gcs_bench_emulator_start(dir, args, api_url, sizeof api_url);
    if (emu < 0) {
        fprintf(stderr, "bench_undo: cannot start the emulator (%s)\n", gcs_bench_emulator_path());
        return 1;
    }

    gcs_bench_conn conn;
    phase keep = {0}, undo = {0}, back = {0};
    double plan_mib = 0;
    char run_id[80] = "";
    gcs_plan changed = {0}, undo_plan = {0};
    int rc = gcs_bench_open(&conn, api_url, dir, in_flight);
    if (rc == 0)
        rc = gcs_token_ensure(conn.session->token, conn.session->client);
    if (rc == 0)
        rc = plan_and_apply(run_id, sizeof run_id, NULL, &conn, hires, prof, users);
    if (rc == 0)
        rc = plan_and_apply(run_id, sizeof run_id, &changed, &conn, retitled, prof, users);

    /* Keeping a plan of N operations, as apply does when a run begins. */
    if (rc == 0) {
        gcs_run scratch;
        char *text = NULL;
        rc = gcs_store_run_begin(&scratch, conn.store, "bench", "bench-plan");
        timer t = start();
        gcs_plan_text *pieces = NULL;
        if (rc == 0)
            rc = gcs_plan_text_open(&pieces, &changed);
        if (rc == 0)
            rc = gcs_store_run_plan_put_feed(conn.store, scratch.id, gcs_plan_text_feed, pieces);
        gcs_plan_text_close(pieces);
        stop(&keep, &t, users);
        if (rc == 0 && gcs_plan_dump(&text, &changed) == 0) /* its size, not timed */
            plan_mib = (double)strlen(text) / (1024.0 * 1024.0);
        free(text);
        gcs_run_release(&scratch);
    }

    gcs_undo_stats st;
    if (rc == 0) {
        gcs_undo_options uo = {.run_id = run_id,
                               .api_url = conn.session->api_url,
                               .client_id = gcs_config_get(&conn.cfg, GCS_CFG_CLIENT_ID),
                               .client_secret = gcs_config_get(&conn.cfg, GCS_CFG_CLIENT_SECRET)};
        gcs_plan_options_init(&uo.plan);
        timer t = start();
        rc = gcs_undo_plan(&undo_plan, &st, conn.session->client, conn.store, &uo);
        stop(&undo, &t, users);
        undo.requests = st.requests;
    }
    if (rc == 0) {
        gcs_apply_result result;
        gcs_apply_options ao = {.command = "apply"};
        gcs_plan_options_init(&ao.approval);
        char approval[64];
        snprintf(approval, sizeof approval, "change:title=%d", users);
        rc = gcs_plan_options_approve(&ao.approval, approval);
        timer t = start();
        if (rc == 0)
            rc = gcs_apply_run(&result, conn.session->client, conn.store, &undo_plan, &ao);
        stop(&back, &t, users);
        back.requests = result.requests;
        if (rc == 0 && result.counts[GCS_APPLY_DONE] != users) {
            fprintf(stderr, "bench_undo: %ld of %d users taken back\n",
                    result.counts[GCS_APPLY_DONE], users);
            rc = -1;
        }
    }
    if (rc < 0)
        fprintf(stderr, "bench_undo: %s\n", gcs_error_last());
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"users\":%d,\"in_flight\":%s,\"load_avg\":%.2f,"
           "\"keep\":{\"wall_s\":%.3f,\"cpu_us_per_user\":%.1f,\"plan_mib\":%.1f},"
           "\"undo\":{\"wall_s\":%.2f,\"cpu_us_per_user\":%.1f,\"requests\":%ld},"
           "\"apply\":{\"wall_s\":%.2f,\"cpu_us_per_user\":%.1f,\"requests\":%ld},"
           "\"peak_rss_mib\":%.1f}\n",
           users, in_flight, load[0], keep.wall_s, keep.cpu_us_per_user, plan_mib, undo.wall_s,
           undo.cpu_us_per_user, undo.requests, back.wall_s, back.cpu_us_per_user, back.requests,
           (double)ru.ru_maxrss / 1024.0);
    gcs_plan_release(&changed);
    gcs_plan_release(&undo_plan);
    gcs_bench_close(&conn);
    gcs_bench_emulator_stop(emu);
    gcs_bench_remove_dir(dir, "bench_undo");
    return rc < 0 ? 1 : 0;
}
