/* The emulator's request handling without sockets: GET and PATCH of one user
 * through gcs_emu_handle, to see what the emulator itself costs per request
 * (bench/emulator.sh measures it over HTTP with wrk). */
#include <stdio.h>
#include <string.h>

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

static int run(gcs_emu *emu, const char *method, const char *path, const char *body,
               const char *auth, double *out_rate)
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
    int n = 200000, bad = 0;
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

int main(void)
{
    json_t *seed = json_loads(seed_text, 0, NULL);
    gcs_emu_options opts;
    gcs_emu_options_init(&opts);
    opts.config.rate_limit = 0;
    opts.clients[0].id = "b";
    opts.clients[0].secret = "s";
    opts.nclients = 1;
    gcs_emu *emu;
    if (gcs_emu_new(&emu, &opts, seed) < 0)
        return 1;
    gcs_http_request tr;
    memset(&tr, 0, sizeof tr);
    tr.method = "POST";
    tr.path = "/oauth/token";
    tr.body = "grant_type=client_credentials";
    tr.body_len = strlen(tr.body);
    tr.headers[0].name = "Authorization";
    tr.headers[0].value = "Basic Yjpz"; /* b:s */
    tr.nheaders = 1;
    gcs_http_response resp;
    gcs_http_server_dispatch(&resp, &tr, gcs_emu_handle, emu);
    json_t *tok = json_loads(resp.body.ptr, 0, NULL);
    char auth[256];
    snprintf(auth, sizeof auth, "Bearer %s", json_string_value(json_object_get(tok, "access_token")));
    gcs_http_response_release(&resp);
    json_decref(tok);

    double get_rate, patch_rate;
    int bad = run(emu, "GET", "/api/v2/scim/v2/users/" USER_ID, NULL, auth, &get_rate);
    bad += run(emu, "PATCH", "/api/v2/scim/v2/users/" USER_ID, patch_body, auth, &patch_rate);
    printf("{\"bench\":\"emulator_dispatch\",\"get_per_s\":%.0f,\"patch_per_s\":%.0f,\"errors\":%d}\n",
           get_rate, patch_rate, bad);
    gcs_emu_free(emu);
    json_decref(seed);
    return bad ? 1 : 0;
}
