#include "clitest.h"
#include "httptest.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void gcs_test_cli_init(gcs_test_cli *c, const gcs_test_server *emu, const char *db_url)
{
    memset(c, 0, sizeof *c);
    snprintf(c->env_api, sizeof c->env_api, "GENESYSCLOUD_API_URL=%s", emu->api_url);
    snprintf(c->env_db, sizeof c->env_db, "GCSCIM_DB=%s", db_url);
    c->client_id_env = "GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator";
    c->secret_env = "GENESYSCLOUD_OAUTHCLIENT_SECRET=gcscim-emulator-secret";
    c->timeout_ms = 60000;
}

void gcs_test_cli_setenv(gcs_test_cli *c, const char *kv)
{
    for (size_t i = 0; i < GCS_TEST_CLI_EXTRA_ENV; i++) {
        if (!c->extra_env[i]) {
            c->extra_env[i] = kv;
            return;
        }
    }
    fail_msg("more than %d extra environment strings", GCS_TEST_CLI_EXTRA_ENV);
}

#define CLI_ENV_MAX (4 + GCS_TEST_CLI_EXTRA_ENV + 1)
#define CLI_ARGV_MAX 64

/* argv: the program, then args (NULL-terminated); env: what a run gets. */
static void cli_command(const gcs_test_cli *c, const char *argv[CLI_ARGV_MAX],
                        const char *env[CLI_ENV_MAX], const char *const *args)
{
    size_t n = 0, e = 0;
    argv[n++] = gcs_test_cli_path();
    for (size_t i = 0; args[i] && n < CLI_ARGV_MAX - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    env[e++] = c->env_api;
    env[e++] = c->env_db;
    if (c->client_id_env)
        env[e++] = c->client_id_env;
    if (c->secret_env)
        env[e++] = c->secret_env;
    for (size_t i = 0; i < GCS_TEST_CLI_EXTRA_ENV && c->extra_env[i]; i++)
        env[e++] = c->extra_env[i];
    env[e] = NULL;
}

int gcs_test_cli_runv(gcs_test_cli *c, gcs_test_run *r, const char *const *args)
{
    const char *argv[CLI_ARGV_MAX], *env[CLI_ENV_MAX];
    cli_command(c, argv, env, args);
    gcs_test_run_program(r, argv, env, NULL, c->timeout_ms);
    return r->exit_code;
}

pid_t gcs_test_cli_start(gcs_test_cli *c, const char *log_path, const char *const *args)
{
    const char *argv[CLI_ARGV_MAX], *env[CLI_ENV_MAX];
    cli_command(c, argv, env, args);
    fflush(NULL); /* or the child's freopen writes our buffered output again */
    pid_t pid = fork();
    if (pid == 0) {
        FILE *out = freopen(log_path, "a", stdout);
        (void)out;
        dup2(1, 2);
        execve(argv[0], (char *const *)argv, (char *const *)env);
        _exit(127);
    }
    return pid;
}

int gcs_test_cli_run(gcs_test_cli *c, gcs_test_run *r, ...)
{
    const char *args[64];
    size_t n = 0;
    va_list ap;
    va_start(ap, r);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 63)
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return gcs_test_cli_runv(c, r, args);
}

long gcs_test_emu_writes(const gcs_test_server *emu)
{
    json_t *st = gcs_test_emu_admin(emu, "GET", "stats", NULL);
    long n = 0;
    const char *route;
    json_t *by_status;
    json_object_foreach(json_object_get(st, "routes"), route, by_status) {
        if (strncmp(route, "GET ", 4) == 0 || strstr(route, "/oauth/") || strstr(route, "/_emulator"))
            continue;
        const char *status;
        json_t *count;
        json_object_foreach(by_status, status, count) n += (long)json_integer_value(count);
    }
    json_decref(st);
    return n;
}

json_t *gcs_test_emu_user_named(const gcs_test_server *emu, const char *user_name)
{
    json_t *st = gcs_test_emu_admin(emu, "GET", "state", NULL);
    size_t i;
    json_t *u, *found = NULL;
    json_array_foreach(json_object_get(st, "users"), i, u) {
        const char *un = json_string_value(json_object_get(u, "userName"));
        if (!found && un && strcmp(un, user_name) == 0)
            found = json_incref(u);
    }
    json_decref(st);
    return found;
}

void gcs_test_emu_patch_user(const gcs_test_server *emu, const char *user_name,
                             const char *operation)
{
    json_t *u = gcs_test_emu_user_named(emu, user_name);
    assert_non_null(u);
    char *token = gcs_test_emu_token(emu, "gcscim-emulator", "gcscim-emulator-secret");
    char path[300];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s",
             json_string_value(json_object_get(u, "id")));
    gcs_buf body;
    gcs_buf_init(&body, 0);
    assert_int_equal(gcs_buf_printf(&body,
                                    "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                                    "\"Operations\":[%s]}",
                                    operation),
                     0);
    gcs_test_http h;
    gcs_test_emu_call(&h, emu, token, "PATCH", path, body.ptr, NULL);
    assert_int_equal(h.status, 200);
    gcs_test_http_release(&h);
    gcs_buf_release(&body);
    free(token);
    json_decref(u);
}
