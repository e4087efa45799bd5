/* The emulator's SCIM filters as a table (test_emulator_filters.tsv): each
 * line is a filter and the ids it must answer, or the error status. Requests
 * go through gcs_emu_handle in process (no sockets, so that no URL encoding
 * stands between the table and the parser). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emulator.h"
#include "gcstest.h"
#include "http/server.h"

#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define GEN "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"

static const char seed_text[] =
    "{\"divisions\":[{\"name\":\"Home\"},{\"name\":\"divisionName\"}],"
    "\"groups\":[{\"id\":\"g1\",\"name\":\"Sales\",\"type\":\"official\",\"members\":[\"u1\"]},"
    "{\"id\":\"g2\",\"name\":\"Sales Team\",\"type\":\"official\",\"members\":[\"u2\",\"u4\"]},"
    "{\"id\":\"g3\",\"name\":\"Support\",\"type\":\"official\"}],"
    "\"users\":["
    "{\"id\":\"u1\",\"userName\":\"search@sample.org\",\"displayName\":\"Search\",\"externalId\":\"167844\","
    "\"emails\":[{\"type\":\"work\",\"value\":\"a@b.c\"}],"
    "\"" ENT "\":{\"division\":\"divisionName\",\"employeeNumber\":\"12\",\"manager\":{\"value\":\"u2\"}},"
    "\"" GEN "\":{\"externalIds\":[{\"authority\":\"A\",\"value\":\"V\"}]}},"
    "{\"id\":\"u2\",\"userName\":\"bob@example.com\",\"displayName\":\"Bob\",\"externalId\":\"X-2\","
    "\"" ENT "\":{\"division\":\"Home\",\"employeeNumber\":\"13\"}},"
    "{\"id\":\"u3\",\"userName\":\"carl@example.com\",\"displayName\":\"Carl\",\"active\":false,"
    "\"externalId\":\"167844\",\"" GEN "\":{\"externalIds\":[{\"authority\":\"A\",\"value\":\"W\"}]}},"
    "{\"id\":\"u4\",\"userName\":\"dora@example.com\",\"displayName\":\"Dora Sales\",\"title\":\"Sales Lead\"}]}";

static gcs_emu *emu;
static char auth[128];

static void dispatch(gcs_http_response *resp, const char *method, const char *path,
                     const char *filter, const char *body, const char *authz)
{
    gcs_http_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = path;
    req.body = body ? body : "";
    req.body_len = strlen(req.body);
    req.headers[0].name = "Authorization";
    req.headers[0].value = authz;
    req.nheaders = 1;
    if (filter) {
        req.args[0].name = "filter";
        req.args[0].value = filter;
        req.nargs = 1;
    }
    gcs_http_server_dispatch(resp, &req, gcs_emu_handle, emu);
}

static int setup(void **state)
{
    (void)state;
    gcs_emu_options opts;
    gcs_emu_options_init(&opts);
    opts.config.rate_limit = 0;
    opts.clients[0].id = "c";
    opts.clients[0].secret = "s";
    opts.nclients = 1;
    opts.seeded = true;
    opts.seed = 7;
    json_t *seed = json_loads(seed_text, 0, NULL);
    assert_non_null(seed);
    assert_int_equal(gcs_emu_new(&emu, &opts, seed), 0);
    json_decref(seed);
    gcs_http_response resp;
    dispatch(&resp, "POST", "/oauth/token", NULL, "grant_type=client_credentials",
             "Basic Yzpz" /* c:s */);
    assert_int_equal(resp.status, 200);
    json_t *j = json_loads(resp.body.ptr, 0, NULL);
    snprintf(auth, sizeof auth, "Bearer %s", json_string_value(json_object_get(j, "access_token")));
    json_decref(j);
    gcs_http_response_release(&resp);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gcs_emu_free(emu);
    emu = NULL;
    return 0;
}

/* What a list answers for the filter: "u1,u3", "-" for none, or the status. */
static void answer(char *out, size_t outsz, const char *resource, const char *filter)
{
    char path[64];
    snprintf(path, sizeof path, "/api/v2/scim/v2/%s", resource);
    gcs_http_response resp;
    dispatch(&resp, "GET", path, filter, NULL, auth);
    if (resp.status != 200) {
        snprintf(out, outsz, "%d", resp.status);
        gcs_http_response_release(&resp);
        return;
    }
    json_t *j = json_loads(resp.body.ptr, 0, NULL);
    json_t *list = json_object_get(j, "Resources");
    size_t i, n = 0;
    json_t *r;
    out[0] = '\0';
    json_array_foreach(list, i, r)
        n += (size_t)snprintf(out + n, n < outsz ? outsz - n : 0, "%s%s", i ? "," : "",
                              json_string_value(json_object_get(r, "id")));
    if (!json_array_size(list))
        snprintf(out, outsz, "-");
    assert_int_equal(json_integer_value(json_object_get(j, "totalResults")), json_array_size(list));
    json_decref(j);
    gcs_http_response_release(&resp);
}

static void test_filter_table(void **state)
{
    (void)state;
    const char *path = GCS_TEST_SOURCE_DIR "/tests/integration/test_emulator_filters.tsv";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    int lineno = 0, cases = 0, failures = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char *resource = line, *filter = strchr(line, '\t');
        char *want = filter ? strchr(filter + 1, '\t') : NULL;
        if (!filter || !want) {
            print_error("%s:%d: want three tab-separated columns\n", path, lineno);
            failures++;
            continue;
        }
        *filter++ = '\0';
        *want++ = '\0';
        char got[1024];
        answer(got, sizeof got, resource, filter);
        cases++;
        if (strcmp(got, want) != 0) {
            print_error("%s:%d: %s filter '%s': want %s, got %s\n", path, lineno, resource, filter,
                        want, got);
            failures++;
        }
    }
    fclose(f);
    assert_true(cases >= 40);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_filter_table, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
