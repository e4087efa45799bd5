/* The emulator's request handling without sockets: GET and PATCH of one user
 * through gcs_emu_handle, to see what the emulator itself costs per request
 * (bench/emulator.sh measures it over HTTP with wrk).
 *
 *   bench_emulator_dispatch [--users N]
 *   bench_emulator_dispatch --creates N
 *   bench_emulator_dispatch --ops N       (GETs and PATCHes: 200,000 each by default)
 *
 * With --users N (up to 1,000,000, all active), the organisation also holds N
 * synthetic users, and the run times list pages at the start and at the end
 * (startIndex = N - 99), an indexed lookup, a filter that scans, and the
 * state dump (streamed, read and thrown away: rss_mib is the peak with it,
 * rss_before_state_mib the peak before it), besides the GET and PATCH rates,
 * in one JSON line.
 *
 * With --creates N, the work of an initial load and a 1% update as gcscim
 * sends it: N creates (POST, the body gcscim builds), a walk of every user in
 * pages of 500 with the attributes a sync compares, and a PATCH with If-Match
 * of every hundredth user; microseconds per create, per user served in a page
 * and per PATCH (one thread: wall time is the emulator's CPU). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/time.h"
#include "emulator/emulator.h"
#include "http/server.h"

#define USER_ID "5b0f8a52-8a6c-4c1e-9d43-1c7e5e0b7a01"

static const char seed_text[] =
    "{\"roles\":[{\"name\":\"Agent\"}],\"divisions\":[{\"name\":\"Home\"}],\"skills\":[{\"name\":\"Billing\"}],"
    "\"users\":[{\"id\":\"" USER_ID "\",\"userName\":\"bench@example.com\",\"displayName\":\"Bench\","
    "\"title\":\"Agent\",\"roles\":[{\"value\":\"Agent\"}],\"emails\":[{\"type\":\"work\",\"value\":\"bench@example.com\",\"primary\":true}],"
    "\"phoneNumbers\":[{\"type\":\"work\",\"value\":\"+15555550100\"}],"
    "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"division\":\"Home\",\"department\":\"Ops\"},"
    "\"urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User\":{\"routingSkills\":[{\"name\":\"Billing\",\"proficiency\":3}]}}]}";

static const char patch_body[] =
    "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":["
    "{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Lead\"},"
    "{\"op\":\"replace\",\"path\":\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department\",\"value\":\"Sales\"}]}";

static const char patch_title[] =
    "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":["
    "{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Senior Agent\"}]}";

static gcs_http_request make(const char *method, const char *path, const char *body, const char *auth)
{
    gcs_http_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = path;
    req.body = body ? body : "";
    req.body_len = body ? strlen(body) : 0;
    req.headers[0].name = "Authorization";
    req.headers[0].value = auth;
    req.headers[1].name = "Content-Type";
    req.headers[1].value = "application/scim+json";
    req.nheaders = 2;
    return req;
}

static int run(gcs_emu *emu, const char *method, const char *path, const char *body,
               const char *auth, int n, double *out_rate)
{
    gcs_http_request req = make(method, path, body, auth);
    int bad = 0;
    int64_t t0 = gcs_time_mono_us();
    for (int i = 0; i < n; i++) {
        gcs_http_response resp;
        gcs_http_server_dispatch(&resp, &req, gcs_emu_handle, emu);
        bad += resp.status != 200;
        gcs_http_response_release(&resp);
    }
    *out_rate = n / ((gcs_time_mono_us() - t0) / 1e6);
    return bad;
}

/* Mean microseconds of a list request (query given as name/value pairs),
 * over `n` runs; *items is the page's itemsPerPage. */
static double time_list(gcs_emu *emu, const char *auth, const char *const *args, int n, int *bad,
                        long *items)
{
    gcs_http_request req = make("GET", "/api/v2/scim/v2/users", NULL, auth);
    for (size_t i = 0; args[2 * i]; i++) {
        req.args[i].name = args[2 * i];
        req.args[i].value = args[2 * i + 1];
        req.nargs++;
    }
    int64_t t0 = gcs_time_mono_us();
    for (int i = 0; i < n; i++) {
        gcs_http_response resp;
        gcs_http_server_dispatch(&resp, &req, gcs_emu_handle, emu);
        *bad += resp.status != 200;
        if (i == 0) {
            json_t *j = json_loadb(resp.body.ptr, resp.body.len, 0, NULL);
            *items = (long)json_integer_value(json_object_get(j, "itemsPerPage"));
            json_decref(j);
        }
        gcs_http_response_release(&resp);
    }
    return (double)(gcs_time_mono_us() - t0) / n;
}

static long rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

#define ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define GENESYS "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"

/* A number or a string after "key": in an answer, without parsing it (the
 * bench's own work stays out of the emulator's time). */
static const char *after_key(const gcs_http_response *resp, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = resp->body.ptr ? strstr(resp->body.ptr, pat) : NULL;
    return at ? at + strlen(pat) : "";
}

static long rss_mib(void);

/* The load, the page walk and the update of --creates N. */
static int run_creates(gcs_emu *emu, const char *auth, long n)
{
    int bad = 0;
    char body[1024], path[128];
    char (*ids)[40] = calloc((size_t)n, sizeof *ids);
    if (!ids)
        return 1;
    int64_t t0 = gcs_time_mono_us();
    for (long i = 0; i < n; i++) {
        snprintf(body, sizeof body,
                 "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\",\"" ENTERPRISE "\",\"" GENESYS "\"],"
                 "\"userName\":\"person%06ld@example.com\",\"displayName\":\"Person %ld\",\"title\":\"Agent\","
                 "\"active\":true,\"" ENTERPRISE "\":{\"department\":\"Support\"},"
                 "\"" GENESYS "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"person%06ld@example.com\"}]}}",
                 i, i, i);
        gcs_http_request req = make("POST", "/api/v2/scim/v2/users", body, auth);
        gcs_http_response resp;
        gcs_http_server_dispatch(&resp, &req, gcs_emu_handle, emu);
        bad += resp.status != 201;
        const char *id = after_key(&resp, "id");
        if (*id == '"')
            snprintf(ids[i], sizeof ids[i], "%.36s", id + 1);
        gcs_http_response_release(&resp);
    }
    double create_us = (double)(gcs_time_mono_us() - t0) / (double)n;

    const char *attrs = "userName,displayName,title,active," ENTERPRISE ":department," GENESYS ":externalIds";
    long served = 0, pages = 0;
    t0 = gcs_time_mono_us();
    for (long start = 1; start <= n; start += 500) {
        char sstart[24];
        snprintf(sstart, sizeof sstart, "%ld", start);
        gcs_http_request req = make("GET", "/api/v2/scim/v2/users", NULL, auth);
        req.args[0] = (gcs_http_pair){"startIndex", sstart};
        req.args[1] = (gcs_http_pair){"count", "500"};
        req.args[2] = (gcs_http_pair){"attributes", attrs};
        req.nargs = 3;
        gcs_http_response resp;
        gcs_http_server_dispatch(&resp, &req, gcs_emu_handle, emu);
        bad += resp.status != 200;
        served += strtol(after_key(&resp, "itemsPerPage"), NULL, 10);
        pages++;
        gcs_http_response_release(&resp);
    }
    double page_us = (double)(gcs_time_mono_us() - t0) / (double)(served ? served : 1);

    long patches = 0;
    t0 = gcs_time_mono_us();
    for (long i = 0; i < n; i += 100) {
        snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", ids[i]);
        gcs_http_request req = make("PATCH", path, patch_title, auth);
        req.headers[2] = (gcs_http_pair){"If-Match", "\"1\""};
        req.nheaders = 3;
        gcs_http_response resp;
        gcs_http_server_dispatch(&resp, &req, gcs_emu_handle, emu);
        bad += resp.status != 200;
        patches++;
        gcs_http_response_release(&resp);
    }
    double patch_us = (double)(gcs_time_mono_us() - t0) / (double)(patches ? patches : 1);
    free(ids);
    printf("{\"bench\":\"emulator_dispatch\",\"creates\":%ld,\"create_us\":%.2f,\"pages\":%ld,"
           "\"users_served\":%ld,\"page_us_per_user\":%.3f,\"patches\":%ld,\"patch_us\":%.2f,"
           "\"rss_mib\":%ld,\"errors\":%d}\n",
           n, create_us, pages, served, page_us, patches, patch_us, rss_mib(), bad);
    return bad;
}

int main(int argc, char **argv)
{
    size_t users = 0;
    long creates = 0;
    int ops = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--users") == 0 && i + 1 < argc) {
            users = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            ops = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--creates") == 0 && i + 1 < argc && !users) {
            creates = strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: bench_emulator_dispatch [--users N | --creates N] [--ops N]\n");
            return 2;
        }
    }
    json_t *seed = json_loads(seed_text, 0, NULL);
    gcs_emu_options opts;
    gcs_emu_options_init(&opts);
    opts.config.rate_limit = 0;
    opts.clients[0].id = "b";
    opts.clients[0].secret = "s";
    opts.nclients = 1;
    opts.synthetic_users = users ? users - 1 : 0; /* plus the seed's one */
    opts.synthetic_inactive_every = 0;
    gcs_emu *emu;
    int64_t t0 = gcs_time_mono_us();
    if (gcs_emu_new(&emu, &opts, seed) < 0)
        return 1;
    double load_s = (gcs_time_mono_us() - t0) / 1e6;
    gcs_http_request tr = make("POST", "/oauth/token", "grant_type=client_credentials", "Basic Yjpz" /* b:s */);
    tr.nheaders = 1;
    gcs_http_response resp;
    gcs_http_server_dispatch(&resp, &tr, gcs_emu_handle, emu);
    json_t *tok = json_loads(resp.body.ptr, 0, NULL);
    char auth[256];
    snprintf(auth, sizeof auth, "Bearer %s", json_string_value(json_object_get(tok, "access_token")));
    gcs_http_response_release(&resp);
    json_decref(tok);

    if (creates > 0) {
        int cbad = run_creates(emu, auth, creates);
        gcs_emu_free(emu);
        json_decref(seed);
        return cbad ? 1 : 0;
    }
    double get_rate, patch_rate;
    int n = ops > 0 ? ops : users ? 50000 : 200000;
    int bad = run(emu, "GET", "/api/v2/scim/v2/users/" USER_ID, NULL, auth, n, &get_rate);
    bad += run(emu, "PATCH", "/api/v2/scim/v2/users/" USER_ID, patch_body, auth, n, &patch_rate);
    if (!users) {
        printf("{\"bench\":\"emulator_dispatch\",\"get_per_s\":%.0f,\"patch_per_s\":%.0f,\"errors\":%d}\n",
               get_rate, patch_rate, bad);
        goto out;
    }
    char last[24];
    snprintf(last, sizeof last, "%zu", users > 99 ? users - 99 : 1);
    long items[6] = {0};
    const char *attrs = "userName,displayName,title,active,externalId";
    const char *first_page[] = {"startIndex", "1", "count", "100", "attributes", attrs, NULL};
    const char *last_page[] = {"startIndex", last, "count", "100", "attributes", attrs, NULL};
    const char *last_full[] = {"startIndex", last, "count", "25", NULL};
    const char *by_name[] = {"filter", "userName eq user0500000@synthetic.example", NULL};
    const char *scanning[] = {"filter", "title eq \"Lead\" and displayName co \"nobody\"", NULL};
    double first_us = time_list(emu, auth, first_page, 200, &bad, &items[0]);
    double last_us = time_list(emu, auth, last_page, 200, &bad, &items[1]);
    double last_full_us = time_list(emu, auth, last_full, 200, &bad, &items[2]);
    double by_name_us = time_list(emu, auth, by_name, 200, &bad, &items[3]);
    double scan_us = time_list(emu, auth, scanning, 1, &bad, &items[4]);
    /* The state dump read as the server reads it, a piece at a time, and
     * thrown away as a client would take it: what the dump itself costs. */
    long rss_before_state = rss_mib();
    gcs_http_request sr = make("GET", "/_emulator/state", NULL, auth);
    t0 = gcs_time_mono_us();
    gcs_http_response_init(&resp);
    gcs_emu_handle(&resp, &sr, emu);
    size_t state_bytes = resp.body.len;
    if (resp.stream.read) {
        static char piece[64 * 1024];
        long got;
        state_bytes = 0;
        while ((got = resp.stream.read(resp.stream.cls, piece, sizeof piece)) > 0)
            state_bytes += (size_t)got;
        bad += got < 0;
    }
    double state_s = (gcs_time_mono_us() - t0) / 1e6;
    bad += resp.status != 200;
    gcs_http_response_release(&resp);
    printf("{\"bench\":\"emulator_dispatch\",\"users\":%zu,\"load_s\":%.2f,\"rss_mib\":%ld,"
           "\"rss_before_state_mib\":%ld,"
           "\"get_per_s\":%.0f,\"patch_per_s\":%.0f,"
           "\"page1_count100_us\":%.0f,\"page_last_count100_us\":%.0f,\"page_last_start\":%s,"
           "\"page_last_count25_full_us\":%.0f,\"username_eq_us\":%.0f,\"scan_filter_us\":%.0f,"
           "\"state_s\":%.2f,\"state_mib\":%.0f,\"items\":[%ld,%ld,%ld,%ld],\"errors\":%d}\n",
           users, load_s, rss_mib(), rss_before_state, get_rate, patch_rate, first_us, last_us, last, last_full_us,
           by_name_us, scan_us, state_s, state_bytes / 1048576.0, items[0], items[1], items[2],
           items[3], bad);
out:
    gcs_emu_free(emu);
    json_decref(seed);
    return bad ? 1 : 0;
}
