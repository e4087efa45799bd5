/*
 * gcscim doctor against the emulator: a healthy setup passes (exit 0, one JSON
 * document), and each check fails for its own reason with advice.
 */
#include "gcstest.h"
#include "httptest.h"

#include "store/store.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char seed[] =
    "{\"roles\":[{\"name\":\"Employee\"},{\"name\":\"Agent\"}],"
    " \"divisions\":[{\"name\":\"Home\"}],\"skills\":[{\"name\":\"Billing\"}],"
    " \"languages\":[{\"name\":\"English\"}],"
    " \"users\":[{\"userName\":\"old@example.com\",\"displayName\":\"Old Timer\"}]}";

static const char profile[] = "version: 1\n"
                              "match: [externalId, userName]\n"
                              "attributes:\n"
                              "  userName: {from: email, required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  externalId: {from: id, required: true}\n"
                              "  title: title\n"
                              "  division: division\n"
                              "  roles: {from: roles, transform: [{split: \";\"}]}\n";

static const char hr[] = "id,first,last,email,title,division,roles\n"
                         "E1,Ann,Archer,ann@example.com,Lead,Home,Employee;Agent\n"
                         "E2,Bob,Baker,bob@example.com,Agent,Home,Agent\n";

typedef struct fixture {
    gcs_test_server emu;
    bool started;
    char *dir;
    char env_api[256], env_login[256], env_db[600], env_secret[700];
    char *profile, *source;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = gcs_test_tmpdir();
    f->profile = gcs_test_write_file(f->dir, "profile.yaml", profile);
    f->source = gcs_test_write_file(f->dir, "hr.csv", hr);
    snprintf(f->env_db, sizeof f->env_db, "GCSCIM_DB=sqlite:%s/gcscim.db", f->dir);
    snprintf(f->env_secret, sizeof f->env_secret,
             "GENESYSCLOUD_OAUTHCLIENT_SECRET=gcscim-emulator-secret");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->started)
        gcs_test_server_stop(&f->emu);
    chmod(f->dir, 0700);
    free(f->profile);
    free(f->source);
    gcs_test_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Starts the emulator with the seed and `extra` arguments (NULL-terminated). */
static void start(fixture *f, const char *const *extra)
{
    char *seed_path = gcs_test_write_file(f->dir, "org.json", seed);
    const char *args[32] = {"--seed", seed_path, "--rate-limit", "300/60"};
    size_t n = 4;
    for (; extra && *extra && n < 31; extra++)
        args[n++] = *extra;
    args[n] = NULL;
    gcs_test_server_start(&f->emu, gcs_test_emulator_path(), args, 10000);
    f->started = true;
    free(seed_path);
    snprintf(f->env_api, sizeof f->env_api, "GENESYSCLOUD_API_URL=%s", f->emu.api_url);
}

/* Runs gcscim doctor ARGS... (NULL-terminated) with the fixture's environment. */
static int doctor(fixture *f, gcs_test_run *r, ...)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = gcs_test_cli_path();
    argv[n++] = "doctor";
    va_list ap;
    va_start(ap, r);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 31)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    const char *env[8];
    size_t e = 0;
    env[e++] = f->env_api;
    env[e++] = f->env_db;
    env[e++] = "GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator";
    env[e++] = f->env_secret;
    if (f->env_login[0])
        env[e++] = f->env_login;
    env[e] = NULL;
    gcs_test_run_program(r, argv, env, NULL, 60000);
    return r->exit_code;
}

/* The check named `name` of a --json report (borrowed from doc). */
static json_t *check(json_t *doc, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "checks"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
            return c;
    }
    fail_msg("no check '%s' in the report", name);
    return NULL;
}

static const char *status(json_t *doc, const char *name)
{
    return json_string_value(json_object_get(check(doc, name), "status"));
}

static const char *detail(json_t *doc, const char *name)
{
    return json_string_value(json_object_get(check(doc, name), "detail"));
}

static const char *advice(json_t *doc, const char *name)
{
    const char *a = json_string_value(json_object_get(check(doc, name), "advice"));
    return a ? a : "";
}

/* Runs doctor --json with the fixture's source and profile; parses stdout. */
static json_t *doctor_json_with(fixture *f, int expect_exit, const char *flag, const char *value)
{
    gcs_test_run r;
    int code = doctor(f, &r, "--json", "--source", f->source, "--profile", f->profile, flag, value,
                      NULL);
    json_error_t err;
    json_t *doc = json_loads(r.out.ptr ? r.out.ptr : "", 0, &err);
    if (code != expect_exit || !doc)
        print_error("exit %d\nstdout:\n%s\nstderr:\n%s\n", code, r.out.ptr ? r.out.ptr : "",
                    r.err.ptr ? r.err.ptr : "");
    assert_int_equal(code, expect_exit);
    assert_non_null(doc);
    /* Never the secret, in any output. */
    assert_null(strstr(r.out.ptr, "gcscim-emulator-secret"));
    assert_true(!r.err.ptr || !strstr(r.err.ptr, "gcscim-emulator-secret"));
    gcs_test_run_release(&r);
    return doc;
}

static json_t *doctor_json(fixture *f, int expect_exit)
{
    return doctor_json_with(f, expect_exit, NULL, NULL);
}

/* ==== gcscim serve's settings ==== */

/* Writes a config file for serve (the settings serve alone takes as flags) and
 * an event secrets file of the given mode; returns the config's path. */
static char *serve_config(fixture *f, const char *listen, mode_t secrets_mode, const char *notify)
{
    char *secrets = gcs_test_write_file(f->dir, "event-secrets",
                                        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
    assert_int_equal(chmod(secrets, secrets_mode), 0);
    char text[2048];
    snprintf(text, sizeof text,
             "{\"listen\":\"%s\",\"event_secrets_file\":\"%s\",\"profile\":\"%s\"%s%s%s}",
             listen, secrets, f->profile, notify ? ",\"notify_file\":\"" : "",
             notify ? notify : "", notify ? "\"" : "");
    free(secrets);
    return gcs_test_write_file(f->dir, "serve-config.json", text);
}

static void serve_settings_are_checked_as_serve_would(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    /* Set up well: what serve would use, and its profile loads. */
    char *config = serve_config(f, "127.0.0.1:8080", 0600, NULL);
    json_t *doc = doctor_json_with(f, 0, "--config", config);
    assert_string_equal(status(doc, "serve"), "ok");
    assert_non_null(strstr(detail(doc, "serve"), "1 event secret"));
    assert_string_equal(status(doc, "serve-profile"), "ok");
    json_decref(doc);
    free(config);
    /* A secrets file others may read: serve would refuse to start, and so doctor fails. */
    config = serve_config(f, "127.0.0.1:8080", 0644, NULL);
    doc = doctor_json_with(f, 1, "--config", config);
    assert_string_equal(status(doc, "serve"), "fail");
    assert_non_null(strstr(detail(doc, "serve"), "chmod 600"));
    assert_null(strstr(detail(doc, "serve"), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    json_decref(doc);
    free(config);
    /* Plain HTTP off loopback. */
    config = serve_config(f, "0.0.0.0:8080", 0600, NULL);
    doc = doctor_json_with(f, 1, "--config", config);
    assert_string_equal(status(doc, "serve"), "fail");
    assert_non_null(strstr(detail(doc, "serve"), "loopback"));
    json_decref(doc);
    free(config);
    /* A notify file that does not parse names itself. */
    char *notify = gcs_test_write_file(f->dir, "notify.json", "{\"endpoints\":[{\"ur\":1}]}");
    config = serve_config(f, "127.0.0.1:8080", 0600, notify);
    doc = doctor_json_with(f, 1, "--config", config);
    assert_string_equal(status(doc, "notify"), "fail");
    assert_non_null(strstr(detail(doc, "notify"), "notify.json"));
    json_decref(doc);
    free(config);
    free(notify);
    /* A profile that generates passwords, and serve given nowhere to write them. */
    char *base = NULL;
    {
        FILE *fp = fopen(f->profile, "r");
        assert_non_null(fp);
        base = calloc(1, 65536);
        assert_non_null(base);
        size_t n = fread(base, 1, 65535, fp);
        fclose(fp);
        base[n] = '\0';
    }
    char text[70000];
    snprintf(text, sizeof text, "%s\npassword: {generate: true}\n", base);
    free(base);
    char *pw_profile = gcs_test_write_file(f->dir, "pw-profile.yaml", text);
    char *secrets = gcs_test_write_file(f->dir, "event-secrets",
                                        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
    assert_int_equal(chmod(secrets, 0600), 0);
    snprintf(text, sizeof text, "{\"event_secrets_file\":\"%s\",\"profile\":\"%s\"}", secrets,
             pw_profile);
    config = gcs_test_write_file(f->dir, "serve-config.json", text);
    doc = doctor_json_with(f, 1, "--config", config);
    assert_string_equal(status(doc, "serve-profile"), "fail");
    assert_non_null(strstr(detail(doc, "serve-profile"), "passwords_file"));
    json_decref(doc);
    free(config);
    /* With a passwords_file serve could create: ok, and doctor wrote nothing. */
    char passwords[700];
    snprintf(passwords, sizeof passwords, "%s/passwords.csv", f->dir);
    snprintf(text, sizeof text,
             "{\"event_secrets_file\":\"%s\",\"profile\":\"%s\",\"passwords_file\":\"%s\"}",
             secrets, pw_profile, passwords);
    config = gcs_test_write_file(f->dir, "serve-config.json", text);
    doc = doctor_json_with(f, 0, "--config", config);
    assert_string_equal(status(doc, "serve-profile"), "ok");
    assert_int_equal(access(passwords, F_OK), -1);
    json_decref(doc);
    free(config);
    free(secrets);
    free(pw_profile);
}

/* ==== A healthy setup ==== */

static void healthy_setup_passes_and_json_parses(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    json_t *doc = doctor_json(f, 0);
    assert_true(json_is_true(json_object_get(doc, "ok")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "summary"), "fail")), 0);
    const char *ok[] = {"config", "credentials", "token", "api", "clock", "scim-read",
                        "roles-read", "divisions-read", "rate-limit", "profile",
                        "source-fields", "org-names", "rows", "sync-cost", "store-open",
                        "store-writable", "receipts", NULL};
    for (const char **n = ok; *n; n++) {
        if (strcmp(status(doc, *n), "ok") != 0)
            fail_msg("check %s: %s (%s)", *n, status(doc, *n), detail(doc, *n));
    }
    /* What cannot be proven without writing says so; what the profile does not need is skipped. */
    assert_string_equal(status(doc, "scim-write"), "skipped");
    assert_non_null(strstr(detail(doc, "scim-write"), "without writing"));
    assert_string_equal(status(doc, "skills-read"), "skipped");
    assert_string_equal(status(doc, "serve"), "skipped");
    assert_non_null(strstr(detail(doc, "serve"), "not set up for gcscim serve"));
    assert_string_equal(status(doc, "outbox"), "ok");
    assert_string_equal(status(doc, "notify"), "skipped");
    /* The limit from the answer headers, and the cost of a sync at it. */
    json_t *rl = json_object_get(check(doc, "rate-limit"), "data");
    assert_int_equal(json_integer_value(json_object_get(rl, "allowed")), 300);
    json_t *cost = json_object_get(check(doc, "sync-cost"), "data");
    assert_int_equal(json_integer_value(json_object_get(cost, "writes_worst")), 2);
    assert_true(json_integer_value(json_object_get(cost, "reads")) >= 2);
    json_decref(doc);

    /* Nothing was written to Genesys. */
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    const char *route;
    json_t *by_status;
    json_object_foreach(json_object_get(st, "routes"), route, by_status) {
        if (strncmp(route, "GET ", 4) != 0 && !strstr(route, "/oauth/"))
            fail_msg("doctor sent %s", route);
    }
    json_decref(st);

    /* The text for people names every check and ends with the counts. */
    gcs_test_run r;
    assert_int_equal(doctor(f, &r, NULL), 0);
    assert_non_null(strstr(r.out.ptr, "token"));
    assert_non_null(strstr(r.out.ptr, "0 failed"));
    gcs_test_run_release(&r);
}

/* ==== Credentials and region ==== */

static void wrong_secret_is_rejected_by_the_login_host(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    snprintf(f->env_secret, sizeof f->env_secret, "GENESYSCLOUD_OAUTHCLIENT_SECRET=not-the-secret");
    json_t *doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "token"), "fail");
    assert_non_null(strstr(detail(doc, "token"), "client id or secret rejected"));
    assert_non_null(strstr(detail(doc, "token"), "127.0.0.1"));
    assert_non_null(strstr(advice(doc, "token"), "region"));
    assert_string_equal(status(doc, "api"), "skipped");
    /* The checks that need no token still run. */
    assert_string_equal(status(doc, "source-fields"), "ok");
    assert_string_equal(status(doc, "store-writable"), "ok");
    json_decref(doc);
}

static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s); /* nobody listens there now */
    return ntohs(a.sin_port);
}

static void unreachable_login_host_is_named(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    int port = closed_port();
    snprintf(f->env_login, sizeof f->env_login, "GENESYSCLOUD_LOGIN_URL=http://127.0.0.1:%d", port);
    json_t *doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "token"), "fail");
    char want[64];
    snprintf(want, sizeof want, "cannot reach 127.0.0.1:%d", port);
    assert_non_null(strstr(detail(doc, "token"), want));
    assert_non_null(strstr(advice(doc, "token"), "region"));
    json_decref(doc);
}

static void missing_secret_and_bad_config_are_the_first_findings(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    snprintf(f->env_secret, sizeof f->env_secret, "GCSCIM_LOG_LEVEL=warn");
    json_t *doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "config"), "ok");
    assert_string_equal(status(doc, "credentials"), "fail");
    assert_non_null(strstr(detail(doc, "credentials"), "client_secret is not set"));
    assert_non_null(strstr(advice(doc, "credentials"), "GENESYSCLOUD_OAUTHCLIENT_SECRET"));
    assert_string_equal(status(doc, "token"), "skipped");
    json_decref(doc);

    /* A configuration file that does not parse: named, and the rest waits for it. */
    char *bad = gcs_test_write_file(f->dir, "config.json", "{\"region\": ");
    snprintf(f->env_secret, sizeof f->env_secret, "GCSCIM_CONFIG=%s", bad);
    doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "config"), "fail");
    assert_non_null(strstr(detail(doc, "config"), "config.json"));
    assert_string_equal(status(doc, "token"), "skipped");
    assert_string_equal(status(doc, "store-open"), "skipped");
    json_decref(doc);
    free(bad);
}

/* ==== Clock ==== */

static void clock_skew_over_five_minutes_fails(void **state)
{
    fixture *f = *state;
    const char *extra[] = {"--clock-skew", "400", NULL};
    start(f, extra);
    json_t *doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "clock"), "fail");
    assert_non_null(strstr(detail(doc, "clock"), "ahead of ours"));
    assert_non_null(strstr(advice(doc, "clock"), "NTP"));
    json_int_t skew = json_integer_value(json_object_get(json_object_get(check(doc, "clock"), "data"), "skew_s"));
    assert_true(skew >= 398 && skew <= 402);
    json_decref(doc);
}

static void clock_skew_over_a_minute_warns(void **state)
{
    fixture *f = *state;
    const char *extra[] = {"--clock-skew", "-90", NULL};
    start(f, extra);
    json_t *doc = doctor_json(f, 0); /* a warning is not a failure */
    assert_string_equal(status(doc, "clock"), "warn");
    assert_non_null(strstr(detail(doc, "clock"), "behind"));
    json_decref(doc);
}

/* ==== Permissions ==== */

static void missing_scope_is_named(void **state)
{
    fixture *f = *state;
    const char *extra[] = {"--client", "gcscim-emulator:gcscim-emulator-secret", "--client-scopes",
                           "gcscim-emulator=scim:readonly", NULL};
    start(f, extra);
    json_t *doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "scim-read"), "ok");
    /* The profile maps roles and a division: both reads are needed and refused. */
    assert_string_equal(status(doc, "roles-read"), "fail");
    assert_non_null(strstr(detail(doc, "roles-read"), "403"));
    assert_non_null(strstr(detail(doc, "roles-read"), "authorization:readonly"));
    assert_non_null(strstr(advice(doc, "roles-read"), "authorization:readonly"));
    assert_string_equal(status(doc, "divisions-read"), "fail");
    json_decref(doc);
}

/* ==== Profile, source, organisation ==== */

static void missing_column_is_named_with_a_suggestion(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    free(f->source);
    f->source = gcs_test_write_file(f->dir, "hr.csv",
                                    "id,first,last,email,job_title,division,roles\n"
                                    "E1,Ann,Archer,ann@example.com,Lead,Home,Agent\n");
    free(f->profile);
    f->profile = gcs_test_write_file(f->dir, "profile.yaml",
                                     "version: 1\n"
                                     "attributes:\n"
                                     "  userName: {from: email, required: true}\n"
                                     "  displayName: {template: \"{first} {last}\"}\n"
                                     "  externalId: {from: id, required: true}\n"
                                     "  title: jobtitle\n");
    json_t *doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "source-fields"), "fail");
    assert_non_null(strstr(detail(doc, "source-fields"), "'jobtitle'"));
    assert_non_null(strstr(detail(doc, "source-fields"), "did you mean 'job_title'"));
    assert_string_equal(status(doc, "rows"), "skipped");
    json_decref(doc);
}

/* A writer of a FIFO: the rows, once a reader opens it. */
static void *write_fifo(void *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        static const char csv[] = "id,first,last,email,title,division,roles\n"
                                  "E1,Ann,Archer,ann@example.com,Lead,Home,Agent\n";
        ssize_t n = write(fd, csv, sizeof csv - 1);
        (void)n;
        close(fd);
    }
    return NULL;
}

/* A source that can be read once only (a FIFO, process substitution) is not
 * checked by reading it ahead, and the doctor does not wait on it a second time. */
static void source_read_once_is_not_read_twice(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    free(f->source);
    f->source = malloc(strlen(f->dir) + 16);
    sprintf(f->source, "%s/hr.fifo", f->dir);
    assert_int_equal(mkfifo(f->source, 0600), 0);
    pthread_t writer;
    assert_int_equal(pthread_create(&writer, NULL, write_fifo, f->source), 0);
    json_t *doc = doctor_json(f, 0);
    /* a writer still waiting for its reader is let go */
    int unblock = open(f->source, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    pthread_join(writer, NULL);
    if (unblock >= 0)
        close(unblock);
    assert_string_equal(status(doc, "source-fields"), "skipped");
    assert_non_null(strstr(detail(doc, "source-fields"), "read once only"));
    json_decref(doc);
}

/* The groups file is read as plan reads it: a bad group is a warning naming its
 * line, a file that cannot be read fails. */
static void groups_file_is_checked(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    free(f->source);
    f->source = gcs_test_write_file(f->dir, "hr.csv",
                                    "id,first,last,email,teams\n"
                                    "E1,Ann,Archer,ann@example.com,support\n");
    free(f->profile);
    f->profile = gcs_test_write_file(f->dir, "profile.yaml",
                                     "version: 1\n"
                                     "attributes:\n"
                                     "  userName: {from: email, required: true}\n"
                                     "  displayName: {template: \"{first} {last}\"}\n"
                                     "  externalId: {from: id, required: true}\n"
                                     "groups: {column: teams, file: groups.csv}\n");
    char *groups = gcs_test_write_file(f->dir, "groups.csv",
                                       "key,name,type\nsupport,Support,official\nx,X,team\n");
    json_t *doc = doctor_json(f, 0);
    assert_string_equal(status(doc, "groups"), "warn");
    assert_non_null(strstr(detail(doc, "groups"), "1 groups in"));
    assert_non_null(strstr(detail(doc, "groups"), "1 rejected (first:"));
    assert_non_null(strstr(detail(doc, "groups"), "line 3"));
    json_decref(doc);
    free(groups);
    groups = gcs_test_write_file(f->dir, "groups.csv", "key,nmae\nsupport,Support\n");
    doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "groups"), "fail");
    assert_non_null(strstr(detail(doc, "groups"), "unknown column 'nmae'"));
    json_decref(doc);
    free(groups);
}

static void unknown_role_is_named_and_rows_counted(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    free(f->source);
    f->source = gcs_test_write_file(f->dir, "hr.csv",
                                    "id,first,last,email,title,division,roles\n"
                                    "E1,Ann,Archer,ann@example.com,Lead,Home,Agent;Wizard\n"
                                    "E2,Bob,Baker,bob@example.com,Agent,Home,Wizard\n"
                                    "E3,Cid,Cole,cid@example.com,Agent,Home,Agent\n"
                                    "E4,Dee,Dale,dee@example.com,Agent,Home,agent\n");
    json_t *doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "org-names"), "fail");
    assert_non_null(strstr(detail(doc, "org-names"), "role 'Wizard' (2 rows)"));
    assert_non_null(strstr(detail(doc, "org-names"), "role 'agent' (1 row)"));
    /* Rows: three rejected, counted per reason with the first examples. */
    assert_string_equal(status(doc, "rows"), "warn");
    json_t *data = json_object_get(check(doc, "rows"), "data");
    assert_int_equal(json_integer_value(json_object_get(data, "rejected")), 3);
    assert_int_equal(json_integer_value(json_object_get(data, "valid")), 1);
    json_t *reasons = json_object_get(data, "reasons");
    json_t *plain = json_object_get(reasons, "roles: role '...' does not exist in the organisation");
    assert_non_null(plain);
    assert_int_equal(json_integer_value(json_object_get(plain, "count")), 2);
    json_t *examples = json_object_get(plain, "examples");
    assert_int_equal(json_array_size(examples), 2);
    assert_non_null(strstr(json_string_value(json_array_get(examples, 0)), "hr.csv:2:"));
    assert_non_null(strstr(json_string_value(json_array_get(examples, 0)), "'Wizard'"));
    assert_non_null(strstr(detail(doc, "rows"), "3 of 4 rows of "));
    assert_non_null(strstr(detail(doc, "rows"),
                           "2 x roles: role '...' does not exist in the organisation (lines 2, 3)"));
    json_decref(doc);
}

/* ==== Store ==== */

static void broken_receipt_chain_fails(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    /* A sync leaves receipts; doctor counts them and verifies the chain. */
    gcs_test_run r;
    const char *argv[] = {gcs_test_cli_path(), "sync", "--source", f->source, "--profile",
                          f->profile, NULL};
    const char *env[] = {f->env_api, f->env_db, "GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator",
                         f->env_secret, NULL};
    gcs_test_run_program(&r, argv, env, NULL, 60000);
    assert_int_equal(r.exit_code, 0);
    gcs_test_run_release(&r);
    json_t *doc = doctor_json(f, 0);
    json_int_t receipts = json_integer_value(
        json_object_get(json_object_get(check(doc, "receipts"), "data"), "receipts"));
    assert_true(receipts >= 2);
    /* The head it prints anchors the next check: a chain rewritten up to there fails. */
    json_t *data = json_object_get(check(doc, "receipts"), "data");
    char anchor[128];
    snprintf(anchor, sizeof anchor, "%lld:%s",
             (long long)json_integer_value(json_object_get(data, "head_seq")),
             json_string_value(json_object_get(data, "head_hash")));
    json_decref(doc);
    doc = doctor_json_with(f, 0, "--anchor", anchor);
    assert_string_equal(status(doc, "receipts"), "ok");
    assert_non_null(strstr(detail(doc, "receipts"), "from the anchor"));
    json_decref(doc);
    memset(strchr(anchor, ':') + 1, 'a', 64);
    doc = doctor_json_with(f, 1, "--anchor", anchor);
    assert_string_equal(status(doc, "receipts"), "fail");
    json_decref(doc);

    /* Someone edits a receipt behind the store's back. */
    gcs_store *s = NULL;
    assert_int_equal(gcs_store_open(&s, f->env_db + strlen("GCSCIM_DB=")), 0);
    assert_int_equal(gcs_store_exec_raw(s, "DROP TRIGGER receipts_no_update;"
                                           " UPDATE receipts SET status = 299 WHERE seq = 2"),
                     0);
    gcs_store_free(s);
    doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "receipts"), "fail");
    assert_non_null(strstr(detail(doc, "receipts"), "breaks at receipt 2"));
    assert_non_null(strstr(advice(doc, "receipts"), "evidence"));
    json_decref(doc);
}

/* Makes file permissions bind this process's children even when it runs as
 * root: without CAP_DAC_OVERRIDE in the bounding set, a program it starts
 * cannot write a file that its mode says is read-only. False when that cannot
 * be done (no CAP_SETPCAP). */
static bool permissions_bind_children(void)
{
    if (geteuid() != 0)
        return true;
    return prctl(PR_CAPBSET_DROP, 1 /* CAP_DAC_OVERRIDE */, 0, 0, 0) == 0 || errno == EINVAL;
}

static void read_only_store_fails_the_write_check(void **state)
{
    fixture *f = *state;
    start(f, NULL);
    json_t *doc = doctor_json(f, 0); /* creates and migrates the store */
    json_decref(doc);
    if (!permissions_bind_children()) {
        print_message("skipped: running as root without CAP_SETPCAP\n");
        skip();
    }
    char path[600];
    snprintf(path, sizeof path, "%s/gcscim.db", f->dir);
    assert_int_equal(chmod(path, 0400), 0);
    doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "store-open"), "ok");
    assert_string_equal(status(doc, "store-writable"), "fail");
    assert_non_null(strstr(detail(doc, "store-writable"), "readonly"));
    assert_non_null(strstr(advice(doc, "store-writable"), "cannot be written"));
    json_decref(doc);

    /* A new store in a directory nobody may write to does not even open. */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/ro", f->dir);
    assert_int_equal(mkdir(dir, 0555), 0);
    snprintf(f->env_db, sizeof f->env_db, "GCSCIM_DB=sqlite:%s/gcscim.db", dir);
    doc = doctor_json(f, 1);
    assert_string_equal(status(doc, "store-open"), "fail");
    assert_non_null(strstr(advice(doc, "store-open"), "directory"));
    assert_string_equal(status(doc, "store-writable"), "skipped");
    json_decref(doc);
    chmod(dir, 0700);
}

static void sql(PGconn *c, const char *text)
{
    PGresult *res = PQexec(c, text);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", text, PQerrorMessage(c));
    PQclear(res);
}

/* On PostgreSQL: the write check goes through for the owner, and a role that
 * may only read the tables is told that the store takes no writes. */
static void store_on_postgresql(void **state)
{
    fixture *f = *state;
    const char *base = getenv("GCSCIM_TEST_PG");
    if (!base || !*base) {
        print_message("SKIPPED: doctor on PostgreSQL needs GCSCIM_TEST_PG (scripts/test sets it)\n");
        skip();
    }
    start(f, NULL);
    char schema[64], role[64], text[1024];
    snprintf(schema, sizeof schema, "doctor_%d", (int)getpid());
    snprintf(role, sizeof role, "doctor_ro_%d", (int)getpid());
    PGconn *c = PQconnectdb(base);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    snprintf(text, sizeof text, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
    sql(c, text);
    snprintf(f->env_db, sizeof f->env_db, "GCSCIM_DB=%s%coptions=-csearch_path%%3D%s", base,
             strchr(base, '?') ? '&' : '?', schema);
    json_t *doc = doctor_json(f, 0);
    assert_string_equal(status(doc, "store-open"), "ok");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(check(doc, "store-open"), "data"), "backend")),
                        "postgresql");
    assert_string_equal(status(doc, "store-writable"), "ok");
    assert_string_equal(status(doc, "receipts"), "ok");
    json_decref(doc);

    snprintf(text, sizeof text,
             "DROP ROLE IF EXISTS %s; CREATE ROLE %s LOGIN; GRANT USAGE ON SCHEMA %s TO %s;"
             " GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s",
             role, role, schema, role, schema, role);
    sql(c, text);
    snprintf(f->env_db, sizeof f->env_db,
             "GCSCIM_DB=postgresql://%s@%s:%s/%s?options=-csearch_path%%3D%s", role, PQhost(c),
             PQport(c), PQdb(c), schema);
    doc = doctor_json(f, 1);
    /* The store may refuse at opening (its migration check) or at the write. */
    const char *failed = strcmp(status(doc, "store-open"), "fail") == 0 ? "store-open"
                                                                        : "store-writable";
    assert_string_equal(status(doc, failed), "fail");
    assert_non_null(strstr(detail(doc, failed), "permission denied"));
    assert_non_null(strstr(advice(doc, failed), "privileges"));
    json_decref(doc);

    snprintf(text, sizeof text, "DROP SCHEMA %s CASCADE; DROP OWNED BY %s; DROP ROLE %s", schema,
             role, role);
    sql(c, text);
    PQfinish(c);
}

int main(void)
{
    gcs_test_deadline(280);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(healthy_setup_passes_and_json_parses, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_secret_is_rejected_by_the_login_host, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_login_host_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_secret_and_bad_config_are_the_first_findings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(clock_skew_over_five_minutes_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(clock_skew_over_a_minute_warns, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_scope_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_column_is_named_with_a_suggestion, setup, teardown),
        cmocka_unit_test_setup_teardown(source_read_once_is_not_read_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(groups_file_is_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_role_is_named_and_rows_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(broken_receipt_chain_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(serve_settings_are_checked_as_serve_would, setup, teardown),
        cmocka_unit_test_setup_teardown(store_on_postgresql, setup, teardown),
        /* Last: it may take CAP_DAC_OVERRIDE away from the programs this process starts. */
        cmocka_unit_test_setup_teardown(read_only_store_fails_the_write_check, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
