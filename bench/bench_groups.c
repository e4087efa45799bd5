/*
 * bench_groups - a sync of many groups of which few memberships changed: how
 * many requests it costs.
 *
 *   bench_groups [--groups 1000] [--members 50] [--changed-percent 1] [--limit N/S]
 *
 * Seeds the emulator with G groups of M members each (users in G*M/10 people, each
 * in ten groups, all managed) and writes an export whose `teams` column moves P% of
 * the memberships (a person leaves one group for another: one removal and one add).
 * The profile declares the membership authoritative, so that the removals are
 * planned. Runs plan + apply in this process (SQLite store in a temporary
 * directory). Prints as its last line one JSON object: groups, members, users,
 * changed (memberships), groups_touched, requests, reads, writes, target (the
 * issue's: changed / batch + groups / page + users / page + c, with c = 1, the page
 * of inactive users), floor (a write per group touched + the same reads: a SCIM
 * PATCH changes one group), within_target,
 * within_floor, seconds, left_after (group operations a second plan finds: 0).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "engine/apply.h"
#include "engine/group_apply.h"
#include "engine/planner.h"
#include "plan/group_plan.h"
#include "genesys/directory.h"
#include "genesys/session.h"
#include "support/benchconn.h"
#include "support/benchproc.h"

#define GENESYS_EXT "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"
#define USER_PAGE   GCS_DIRECTORY_PAGE_CHEAP /* the planner's page: no costly attribute is read */
#define GROUP_PAGE  500 /* the group planner's page */
#define PER_PERSON  10  /* groups each person is in */

static const char profile[] = "version: 1\n"
                              "match: [userName]\n"
                              "attributes:\n"
                              "  userName: {from: email, required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "groups:\n"
                              "  column: teams\n"
                              "  authoritative: true\n";

/* The k-th group of person i. */
static int group_of(int i, int k, int groups)
{
    return (i * PER_PERSON + k) % groups;
}

static void write_inputs(const char *dir, int groups, int users, int moved_every, long *changed,
                         long *touched)
{
    char path[1024];
    json_t *list = json_array(), *glist = json_array();
    json_t **members = calloc((size_t)groups, sizeof *members);
    for (int g = 0; g < groups; g++)
        members[g] = json_array();
    for (int i = 0; i < users; i++) {
        char name[64], display[64];
        snprintf(name, sizeof name, "person%06d@example.com", i);
        snprintf(display, sizeof display, "Person %d", i);
        json_array_append_new(list, json_pack("{s:s,s:s,s:{s:[{s:s,s:s}]}}", "userName", name,
                                              "displayName", display, GENESYS_EXT, "externalIds",
                                              "authority", "gcscim", "value", name));
        for (int k = 0; k < PER_PERSON; k++)
            json_array_append_new(members[group_of(i, k, groups)], json_string(name));
    }
    for (int g = 0; g < groups; g++) {
        char gname[32];
        snprintf(gname, sizeof gname, "G%04d", g);
        json_array_append_new(glist,
                              json_pack("{s:s,s:s,s:s,s:o}", "name", gname, "type", "official",
                                        "visibility", "public", "members", members[g]));
    }
    free(members);
    json_t *doc = json_pack("{s:o,s:o}", "users", list, "groups", glist);
    snprintf(path, sizeof path, "%s/seed.json", dir);
    json_dump_file(doc, path, JSON_COMPACT);
    json_decref(doc);

    char *hit = calloc((size_t)groups, 1);
    *changed = *touched = 0;
    snprintf(path, sizeof path, "%s/hr.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("email,first,last,teams\n", f);
    for (int i = 0; i < users; i++) {
        fprintf(f, "person%06d@example.com,Person,%d,", i, i);
        bool moved = moved_every && i % moved_every == 0;
        int j = moved_every ? i / moved_every : 0;
        for (int k = 0; k < PER_PERSON; k++) {
            int g = group_of(i, k, groups);
            if (moved && k == j % PER_PERSON && groups > PER_PERSON) {
                /* leaves g for a group it is not in, spread over the organisation */
                int to =
                    (i * PER_PERSON + PER_PERSON + (int)((j * 7919L) % (groups - PER_PERSON))) %
                    groups;
                *touched += !hit[g] + !hit[to];
                hit[g] = hit[to] = 1;
                *changed += 2;
                g = to;
            }
            fprintf(f, "%sG%04d", k ? ";" : "", g);
        }
        fputc('\n', f);
    }
    fclose(f);
    free(hit);
    snprintf(path, sizeof path, "%s/profile.yaml", dir);
    f = fopen(path, "w");
    fputs(profile, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    int groups = 1000, per_group = 50;
    double percent = 1.0;
    const char *limit = "0";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--groups") == 0)
            groups = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--members") == 0)
            per_group = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--changed-percent") == 0)
            percent = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--limit") == 0)
            limit = argv[i + 1];
    }
    if (groups < 2 || per_group < 1) {
        fprintf(stderr, "bench_groups: --groups at least 2, --members at least 1\n");
        return 2;
    }
    int users = groups * per_group / PER_PERSON;
    /* A person moved is two changed memberships of PER_PERSON: */
    int moved_every = percent > 0 ? (int)(100.0 * 2 / (percent * PER_PERSON)) : 0;
    gcs_log_set_level(GCS_LOG_WARN);

    char dir[] = "/tmp/gcscim-bench-groups-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    long changed, touched;
    write_inputs(dir, groups, users, moved_every, &changed, &touched);
    char seed[1100], api_url[256], source[1100], prof[1100];
    snprintf(seed, sizeof seed, "%s/seed.json", dir);
    const char *args[] = {"--seed", seed, "--rate-limit", limit, "--log-level", "warn", NULL};
    pid_t emu = gcs_bench_emulator_start(dir, args, api_url, sizeof api_url);
    if (emu < 0) {
        fprintf(stderr, "bench_groups: cannot start the emulator (%s)\n",
                gcs_bench_emulator_path());
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
    int64_t t0 = gcs_time_mono_us();
    if (rc == 0)
        rc = gcs_token_ensure(s->token, s->client);
    gcs_planner_options po;
    gcs_planner_options_init(&po);
    po.source_path = source;
    po.profile_path = prof;
    po.api_url = s ? s->api_url : NULL;
    po.store = conn.store;
    if (rc == 0)
        rc = gcs_planner_run(&plan, &stats, s->client, &po);
    /* the removals are the point here, not a mistake to stop */
    if (rc == 0) {
        char approve[64];
        snprintf(approve, sizeof approve, "remove-members=%ld", changed);
        rc = gcs_plan_options_approve(&po.plan, approve);
    }
    gcs_apply_options ao = {.command = "sync", .approval = po.plan};
    if (rc == 0) {
        rc = gcs_apply_run(&result, s->client, conn.store, &plan, &ao);
        gcs_plan_release(&plan);
    }
    double seconds = (double)(gcs_time_mono_us() - t0) / 1e6;
    if (rc < 0)
        fprintf(stderr, "bench_groups: %s\n", gcs_error_last());
    long reads, writes;
    long requests = gcs_bench_emulator_calls(api_url, &reads, &writes);
    /* Checked after counting: a second plan finds nothing left to do. */
    long left = -1;
    if (rc == 0 && gcs_planner_run(&plan, &stats, s->client, &po) == 0) {
        left = (long)gcs_group_plan_count(&plan);
        gcs_plan_release(&plan);
    }
    /* the reads: the groups' pages, the active users' pages, one page of inactive users */
    long base = (groups + GROUP_PAGE - 1) / GROUP_PAGE + (users + USER_PAGE - 1) / USER_PAGE + 1;
    long target = (changed + GCS_GROUP_PATCH_BATCH - 1) / GCS_GROUP_PATCH_BATCH + base;
    long floor = touched + base;
    printf("{\"groups\":%d,\"members\":%d,\"users\":%d,\"changed\":%ld,\"groups_touched\":%ld,"
           "\"limit\":\"%s\",\"requests\":%ld,\"reads\":%ld,\"writes\":%ld,\"target\":%ld,"
           "\"floor\":%ld,\"within_target\":%s,\"within_floor\":%s,\"seconds\":%.2f,"
           "\"left_after\":%ld}\n",
           groups, per_group, users, changed, touched, limit, requests, reads, writes, target,
           floor, requests <= target ? "true" : "false", requests <= floor ? "true" : "false",
           seconds, left);
    gcs_bench_close(&conn);
    gcs_bench_emulator_stop(emu);
    gcs_bench_remove_dir(dir, "bench_groups");
    return rc < 0 ? 1 : 0;
}
