/*
 * bench_engine - pushes PATCHes through the request engine to gcscim-emulator.
 *
 *   bench_engine [--limit off|N/SECONDS] [--seconds S] [--ops N] [--in-flight M] [--users U]
 *                [--emulator-threads T] [--answers json|text]
 *
 * --limit off (default): N PATCHes (default 20,000) as fast as the engine and
 * the emulator go on this machine. --limit N/S: the emulator enforces that rate
 * limit and the engine runs for S seconds (default 35) with work always queued;
 * limit_utilisation is the accepted rate over the allowed rate.
 * --answers text leaves the answers unparsed (GCS_HTTP_REQ_NO_JSON), as apply's
 * PATCHes and creates do: parsing each answer's user is about a third of the
 * default run's instructions.
 * The emulator (release build) is found through $GCSCIM_EMULATOR or next to this
 * program's build directory. The last line printed is one JSON object.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "genesys/token.h"
#include "http/client.h"
#include "support/benchconn.h"
#include "support/benchproc.h"

#define CLIENT "bench-engine"
#define SECRET "bench-engine-Secret-1"

typedef struct bench {
    gcs_http_client *client;
    int users;
    unsigned flags; /* of every request: GCS_HTTP_REQ_NO_JSON with --answers text */
    long submitted, ok, failed;
} bench;

/* Writes a seed of `users` users and starts the emulator with it. */
static pid_t start_emulator(const char *limit, const char *threads, const char *dir, int users,
                            char *api_url, size_t api_sz)
{
    char seed[PATH_MAX];
    snprintf(seed, sizeof seed, "%s/seed.json", dir);
    json_t *list = json_array();
    for (int i = 0; i < users; i++) {
        char id[64], name[64];
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
        snprintf(name, sizeof name, "bench%d@example.com", i);
        json_array_append_new(
            list, json_pack("{s:s,s:s,s:s}", "id", id, "userName", name, "displayName", name));
    }
    json_t *doc = json_pack("{s:o}", "users", list);
    json_dump_file(doc, seed, JSON_COMPACT);
    json_decref(doc);
    const char *args[] = {"--client", CLIENT ":" SECRET, "--seed", seed, "--rate-limit", limit,
                          "--threads", threads, "--log-level", "warn", NULL};
    return gcs_bench_emulator_start(dir, args, api_url, api_sz);
}

static void on_done(const gcs_http_client_response *res, void *payload)
{
    bench *b = payload;
    if (res->outcome == GCS_HTTP_OK)
        b->ok++;
    else
        b->failed++;
}

static void submit_one(bench *b)
{
    char path[128], body[256];
    long i = b->submitted++;
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/00000000-0000-4000-8000-%012ld",
             i % b->users);
    snprintf(body, sizeof body,
             "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
             "\"Operations\":[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"T%ld\"}]}",
             i);
    gcs_http_client_request req = {
        .method = "PATCH", .path = path, .body = body, .flags = b->flags};
    if (gcs_http_submit(b->client, &req, on_done, b) < 0) {
        fprintf(stderr, "bench_engine: submit failed\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    const char *limit = "off", *threads = "0", *answers = "json";
    int seconds = 35, in_flight = 0, users = 200;
    long ops = 20000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
            limit = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            ops = atol(argv[++i]);
        else if (strcmp(argv[i], "--in-flight") == 0 && i + 1 < argc)
            in_flight = atoi(argv[++i]);
        else if (strcmp(argv[i], "--emulator-threads") == 0 && i + 1 < argc)
            threads = argv[++i];
        else if (strcmp(argv[i], "--users") == 0 && i + 1 < argc)
            users = atoi(argv[++i]);
        else if (strcmp(argv[i], "--answers") == 0 && i + 1 < argc &&
                 (strcmp(argv[i + 1], "json") == 0 || strcmp(argv[i + 1], "text") == 0))
            answers = argv[++i];
        else {
            fprintf(stderr, "usage: bench_engine [--limit off|N/SECONDS] [--seconds S] "
                            "[--ops N] [--in-flight M] [--users U] [--emulator-threads T] "
                            "[--answers json|text]\n");
            return 2;
        }
    }
    bool limited = strcmp(limit, "off") != 0 && strcmp(limit, "0") != 0;
    int lim_n = 0, lim_s = 0;
    if (limited && (sscanf(limit, "%d/%d", &lim_n, &lim_s) != 2 || lim_n <= 0 || lim_s <= 0)) {
        fprintf(stderr, "bench_engine: bad --limit '%s'\n", limit);
        return 2;
    }
    if (in_flight <= 0)
        in_flight = limited ? 16 : 32;
    gcs_log_set_level(GCS_LOG_WARN);

    char dir[] = "/tmp/bench_engine.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char api[256];
    const char *emu = gcs_bench_emulator_path();
    pid_t pid = start_emulator(limited ? limit : "0", threads, dir, users, api, sizeof api);
    if (pid < 0) {
        fprintf(stderr, "bench_engine: cannot start %s\n", emu);
        return 1;
    }

    gcs_token *tok = NULL;
    bench b = {.users = users,
               .flags = strcmp(answers, "text") == 0 ? GCS_HTTP_REQ_NO_JSON : 0u};
    gcs_http_client_options o = {.api_url = api, .max_in_flight = in_flight};
    if (gcs_token_new(&tok, CLIENT, SECRET) < 0)
        return 1;
    o.auth = gcs_token_auth(tok);
    if (gcs_http_client_new(&b.client, &o) < 0 || gcs_token_ensure(tok, b.client) < 0) {
        fprintf(stderr, "bench_engine: %s\n", gcs_error_last());
        return 1;
    }

    int64_t cpu0 = gcs_bench_cpu_us(0), emu0 = gcs_bench_cpu_us(pid), t0 = gcs_time_mono_us();
    if (limited) {
        int64_t end = t0 + (int64_t)seconds * 1000000;
        while (gcs_time_mono_us() < end) {
            while (gcs_http_pending(b.client) < 2 * in_flight)
                submit_one(&b);
            gcs_http_run_once(b.client, 50);
        }
        gcs_http_run(b.client);
    } else {
        while (b.submitted < ops) {
            while (b.submitted < ops && gcs_http_pending(b.client) < 4 * in_flight)
                submit_one(&b);
            gcs_http_run_once(b.client, 50);
        }
        gcs_http_run(b.client);
    }
    int64_t t1 = gcs_time_mono_us(), cpu1 = gcs_bench_cpu_us(0), emu1 = gcs_bench_cpu_us(pid);

    gcs_http_stats st;
    gcs_http_client_stats(&st, b.client);
    double secs = (double)(t1 - t0) / 1e6;
    double rate = (double)b.ok / secs;
    long done = b.ok + b.failed;
    char util[32] = "null";
    if (limited)
        snprintf(util, sizeof util, "%.4f", rate / ((double)lim_n / lim_s));
    json_t *sj = gcs_http_client_stats_json(b.client);
    char *stext = json_dumps(sj, JSON_COMPACT);
    fprintf(stderr, "engine: %s\n", stext ? stext : "{}");
    free(stext);
    json_decref(sj);
    printf("{\"bench\":\"engine\",\"limit\":\"%s\",\"in_flight\":%d,\"ops\":%ld,\"failed\":%ld,"
           "\"seconds\":%.3f,\"ops_per_s\":%.1f,\"cpu_us_per_op\":%.1f,"
           "\"emulator_cpu_us_per_op\":%.1f,\"limit_utilisation\":%s,\"share_429\":%.5f,"
           "\"status_429\":%llu,\"sent\":%llu,\"emulator_threads\":%s,\"answers\":\"%s\"}\n",
           limited ? limit : "off", in_flight, b.ok, b.failed, secs, rate,
           done ? (double)(cpu1 - cpu0) / (double)done : 0.0,
           done && emu0 >= 0 && emu1 >= 0 ? (double)(emu1 - emu0) / (double)done : 0.0, util,
           st.sent ? (double)st.status_429 / (double)st.sent : 0.0,
           (unsigned long long)st.status_429, (unsigned long long)st.sent, threads, answers);

    gcs_http_client_free(b.client);
    gcs_token_free(tok);
    gcs_bench_emulator_stop(pid);
    gcs_bench_remove_dir(dir, "bench_engine");
    return b.failed ? 1 : 0;
}
