/* Fuzzes the emulator's request handling in process, without sockets: any
 * method, path, query, headers and body go through gcs_emu_handle, which must
 * answer (or drop) and never crash or leak.
 *
 * Input: "METHOD\nPATH\nQUERY\nHeader: value\n...\n\nBODY", or up to eight
 * such requests separated by lines "%%" (sent in order). A valid bearer token
 * is added unless a request brings its own Authorization header; a request
 * that starts with '!' is sent as one whose body was too large.
 *
 * Every input starts from the same emulator: after each one the organisation
 * is reset to the seed (a few dozen allocations for this seed), and after one
 * that touched tokens or settings the tokens are revoked, one is issued and
 * the settings are put back. So an input's result never depends on the inputs
 * before it (a crash reproduces from its file alone), and what an input
 * allocates is freed before the next one: libFuzzer's leak check, which
 * re-runs an input under LeakSanitizer whenever mallocs and frees differ,
 * stays quiet. Before, the organisation grew for 2,000 inputs and every admin
 * input issued a token that was never dropped (so /_emulator/stats listed up
 * to 10,000 windows): about 110 executions a second with the leak check on,
 * 800 with it off. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emulator.h"
#include "http/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char seed_text[] =
    "{\"roles\":[{\"name\":\"Agent\",\"id\":\"r1\"}],\"divisions\":[{\"name\":\"Home\",\"id\":\"d1\"}],"
    "\"skills\":[{\"name\":\"Billing\"}],\"languages\":[{\"name\":\"French\"}],"
    "\"groups\":[{\"name\":\"Team A\",\"type\":\"official\",\"id\":\"g1\",\"members\":[\"u1\"],"
    "\"rolesEnabled\":true,\"grants\":[{\"roleId\":\"r1\",\"divisionId\":\"d1\"}]},"
    "{\"name\":\"Team B\",\"type\":\"social\",\"id\":\"g2\"}],"
    "\"users\":[{\"id\":\"u1\",\"userName\":\"ann@example.com\",\"displayName\":\"Ann\","
    "\"phoneNumbers\":[{\"type\":\"mobile\",\"value\":\"+33612345678\"}]},"
    "{\"id\":\"u2\",\"userName\":\"bob@example.com\",\"displayName\":\"Bob\",\"active\":false}]}";

#define SEPARATOR "\n%%\n"
#define MAX_REQUESTS 8

static gcs_emu *emu;
static char auth[128];

static void call(const char *method, const char *path, const char *body, const char *header,
                 const char *value, gcs_http_response *resp)
{
    gcs_http_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = path;
    req.body = body;
    req.body_len = strlen(body);
    if (header) {
        req.headers[0].name = header;
        req.headers[0].value = value;
        req.nheaders = 1;
    }
    gcs_http_server_dispatch(resp, &req, gcs_emu_handle, emu);
}

static void new_token(void)
{
    gcs_http_response resp;
    call("POST", "/oauth/token", "grant_type=client_credentials", "Authorization",
         "Basic Yzpz" /* c:s */, &resp);
    json_t *j = json_loads(resp.body.ptr, 0, NULL);
    snprintf(auth, sizeof auth, "Bearer %s", json_string_value(json_object_get(j, "access_token")));
    json_decref(j);
    gcs_http_response_release(&resp);
}

/* Whatever an input did to the settings, the next one starts from these. */
static void settle(void)
{
    json_t *cfg = json_pack("{s:i,s:i,s:i,s:f,s:f,s:i,s:[]}", "latency_ms", 0, "latency_jitter_ms", 0,
                            "rate_limit", 0, "fault_rate", 0.05, "concurrent_writer", 0.05,
                            "token_ttl", 86400, "fault_kinds");
    gcs_emu_configure(emu, cfg);
    json_decref(cfg);
    new_token();
}

static void init_once(void)
{
    if (emu)
        return;
    gcs_emu_options opts;
    gcs_emu_options_init(&opts);
    opts.clients[0].id = "c";
    opts.clients[0].secret = "s";
    opts.nclients = 1;
    opts.seeded = true;
    opts.seed = 1;
    json_t *seed = json_loads(seed_text, 0, NULL);
    if (gcs_emu_new(&emu, &opts, seed) < 0)
        abort();
    json_decref(seed);
    settle();
}

/* Next line of the input (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **cursor, char *end)
{
    if (*cursor >= end)
        return NULL;
    char *line = *cursor;
    char *nl = memchr(line, '\n', (size_t)(end - line));
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = end;
    }
    return line;
}

/* Parses one request out of [cur, end) (NUL-terminated at end) and sends it.
 * True when it went to /oauth/token or an admin route. */
static bool one_request(char *cur, char *end)
{
    bool too_large = cur < end && *cur == '!';
    gcs_http_request req;
    memset(&req, 0, sizeof req);
    req.method = next_line(&cur, end);
    req.path = next_line(&cur, end);
    char *query = next_line(&cur, end);
    if (!req.method || !req.path)
        return false;
    for (char *save = NULL, *kv = query ? strtok_r(query, "&", &save) : NULL;
         kv && req.nargs < GCS_HTTP_MAX_ARGS; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        req.args[req.nargs].name = kv;
        req.args[req.nargs].value = eq ? eq + 1 : "";
        req.nargs++;
    }
    bool has_auth = false;
    char *line;
    while ((line = next_line(&cur, end)) && *line && req.nheaders < GCS_HTTP_MAX_HEADERS - 1) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        has_auth = has_auth || strcasecmp(line, "Authorization") == 0;
        req.headers[req.nheaders].name = line;
        req.headers[req.nheaders].value = v;
        req.nheaders++;
    }
    if (!has_auth) {
        req.headers[req.nheaders].name = "Authorization";
        req.headers[req.nheaders].value = auth;
        req.nheaders++;
    }
    req.body = cur < end ? cur : "";
    req.body_len = cur < end ? (size_t)(end - cur) : 0;
    req.body_too_large = too_large;

    gcs_http_response resp;
    gcs_http_server_dispatch(&resp, &req, gcs_emu_handle, emu);
    if (resp.status < 100 || resp.status > 599)
        abort();
    gcs_http_response_release(&resp);
    return strncmp(req.path, "/_emulator/", 11) == 0 || strcmp(req.path, "/oauth/token") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    if (size > 600000)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* Up to MAX_REQUESTS requests, split at SEPARATOR lines: a sequence (create,
     * then patch, then list) reaches state one request alone cannot. */
    bool touched = false;
    char *cur = buf, *end = buf + size;
    for (int n = 0; cur <= end && n < MAX_REQUESTS; n++) {
        char *sep = n + 1 < MAX_REQUESTS ? memmem(cur, (size_t)(end - cur), SEPARATOR, strlen(SEPARATOR)) : NULL;
        char *stop = sep ? sep : end;
        *stop = '\0';
        touched = one_request(cur, stop) || touched;
        if (!sep)
            break;
        cur = sep + strlen(SEPARATOR);
    }

    gcs_http_response resp;
    call("POST", "/_emulator/reset", "", NULL, NULL, &resp);
    gcs_http_response_release(&resp);
    if (touched) {
        call("POST", "/_emulator/revoke-tokens", "", NULL, NULL, &resp);
        gcs_http_response_release(&resp);
        settle();
    }
    free(buf);
    return 0;
}
