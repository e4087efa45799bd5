/*
 * Scenario tests as data, in the manner of curl's tests/data: each directory
 * under tests/data/scenarios/ is one test, runnable alone by its name
 * (test_scenarios NAME). A scenario holds an emulator seed (`seed.json`), any
 * input files, and a `script` of steps run in order against a fresh emulator and
 * a fresh SQLite store:
 *
 *   run EXIT ARGS...            gcscim ARGS must exit with EXIT
 *   stdout-has TEXT             the last run's standard output contains TEXT
 *   stdout-lacks TEXT / stderr-has TEXT / stderr-lacks TEXT
 *   stdout-lines N              the last run printed exactly N lines
 *   writes N                    the emulator has answered N writes in all
 *   route METHOD ROUTE STATUS N the emulator answered ROUTE with STATUS N times
 *                               (ROUTE as its stats name it: /api/v2/scim/users/{id})
 *   user USERNAME PATH JSON     the user's attribute (PATH: a top-level name, or
 *                               enterprise.NAME / genesys.NAME) equals JSON
 *   no-user USERNAME            no such user exists
 *   edit FILE FROM => TO        replaces the first FROM by TO in {tmp}/FILE
 *   reseal FILE                 recomputes the identity of the plan {tmp}/FILE after
 *                               an edit, as anyone can (it is a plain digest)
 *   patch USERNAME JSON-OP      another tool PATCHes the user behind our back
 *
 * In arguments, {data} is the scenario's directory and {tmp} a fresh directory
 * for plans and outputs. Arguments are split on spaces; TEXT is the rest of the
 * line. Lines starting with # are comments.
 */
#include "gcstest.h"
#include "httptest.h"
#include "plan/plan.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTERPRISE "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define GENESYS "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"

typedef struct scenario {
    char name[128];
    char data[1024];
    char *tmp;
    gcs_test_server emu;
    gcs_test_run last;
    bool ran;
    unsigned long line;
} scenario;

/* {data} and {tmp} in `in`, expanded into out. */
static void expand(const scenario *s, char *out, size_t outsz, const char *in)
{
    gcs_buf b;
    gcs_buf_init(&b, 0);
    for (const char *p = in; *p;) {
        if (strncmp(p, "{data}", 6) == 0) {
            assert_int_equal(gcs_buf_puts(&b, s->data), 0);
            p += 6;
        } else if (strncmp(p, "{tmp}", 5) == 0) {
            assert_int_equal(gcs_buf_puts(&b, s->tmp), 0);
            p += 5;
        } else {
            assert_int_equal(gcs_buf_putc(&b, *p++), 0);
        }
    }
    snprintf(out, outsz, "%s", b.ptr ? b.ptr : "");
    gcs_buf_release(&b);
}

static void step_run(scenario *s, char *args)
{
    int want = atoi(strtok(args, " "));
    const char *argv[64];
    char expanded[64][1024];
    size_t n = 0;
    argv[n++] = gcs_test_cli_path();
    for (char *a; (a = strtok(NULL, " ")) != NULL && n < 63; n++) {
        expand(s, expanded[n], sizeof expanded[n], a);
        argv[n] = expanded[n];
    }
    argv[n] = NULL;
    char env_api[256], env_db[1200];
    snprintf(env_api, sizeof env_api, "GENESYSCLOUD_API_URL=%s", s->emu.api_url);
    snprintf(env_db, sizeof env_db, "GCSCIM_DB=sqlite:%s/gcscim.db", s->tmp);
    const char *env[] = {env_api, env_db, "GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator",
                         "GENESYSCLOUD_OAUTHCLIENT_SECRET=gcscim-emulator-secret", NULL};
    if (s->ran)
        gcs_test_run_release(&s->last);
    gcs_test_run_program(&s->last, argv, env, NULL, 60000);
    s->ran = true;
    if (s->last.exit_code != want)
        fail_msg("%s/script:%lu: exit %d, expected %d\n--- stdout\n%s--- stderr\n%s", s->name,
                 s->line, s->last.exit_code, want, s->last.out.ptr ? s->last.out.ptr : "",
                 s->last.err.ptr ? s->last.err.ptr : "");
}

static void step_text(scenario *s, const char *verb, const char *text)
{
    if (!s->ran)
        fail_msg("%s/script:%lu: %s before any run", s->name, s->line, verb);
    bool is_out = strncmp(verb, "stdout", 6) == 0;
    bool want = strstr(verb, "-has") != NULL;
    const char *hay = is_out ? s->last.out.ptr : s->last.err.ptr;
    char needle[2048];
    expand(s, needle, sizeof needle, text);
    bool found = hay && strstr(hay, needle);
    if (found != want)
        fail_msg("%s/script:%lu: %s '%s'\n--- stdout\n%s--- stderr\n%s", s->name, s->line, verb,
                 needle, s->last.out.ptr ? s->last.out.ptr : "",
                 s->last.err.ptr ? s->last.err.ptr : "");
}

/* Writes (every method but GET) the emulator answered, admin routes aside. */
static long count_writes(const json_t *stats)
{
    long n = 0;
    const char *route;
    json_t *by_status;
    json_object_foreach(json_object_get(stats, "routes"), route, by_status) {
        if (strncmp(route, "GET ", 4) == 0 || strstr(route, "/oauth/") || strstr(route, "/_emulator"))
            continue;
        const char *status;
        json_t *count;
        json_object_foreach(by_status, status, count) n += (long)json_integer_value(count);
    }
    return n;
}

static void step_counts(scenario *s, const char *verb, char *args)
{
    json_t *st = gcs_test_emu_admin(&s->emu, "GET", "stats", NULL);
    long got, want;
    char what[600];
    if (strcmp(verb, "writes") == 0) {
        want = atol(args);
        got = count_writes(st);
        snprintf(what, sizeof what, "writes");
    } else {
        char *method = strtok(args, " "), *route = strtok(NULL, " "), *status = strtok(NULL, " ");
        char *n = strtok(NULL, " ");
        assert_non_null(n);
        /* The emulator counts /api/v2/scim/v2/users under /api/v2/scim/users: a
         * route under its other name would always be answered 0 times. */
        if (strstr(route, "/scim/v2/"))
            fail_msg("%s/script:%lu: the emulator's stats name SCIM routes without /v2/ "
                     "(/api/v2/scim/users, /api/v2/scim/users/{id})",
                     s->name, s->line);
        char key[600];
        snprintf(key, sizeof key, "%s %s", method, route);
        want = atol(n);
        got = (long)json_integer_value(json_object_get(json_object_get(json_object_get(st, "routes"), key),
                                                       status));
        snprintf(what, sizeof what, "%s answered %s", key, status);
    }
    if (got != want) {
        char *dump = json_dumps(json_object_get(st, "routes"), JSON_INDENT(1));
        fail_msg("%s/script:%lu: %s %ld times, expected %ld\n%s", s->name, s->line, what, got, want,
                 dump ? dump : "");
    }
    json_decref(st);
}

static json_t *find_user(scenario *s, const char *user_name)
{
    json_t *st = gcs_test_emu_admin(&s->emu, "GET", "state", NULL);
    size_t i;
    json_t *u, *found = NULL;
    json_array_foreach(json_object_get(st, "users"), i, u) {
        const char *un = json_string_value(json_object_get(u, "userName"));
        if (un && strcmp(un, user_name) == 0)
            found = json_incref(u);
    }
    json_decref(st);
    return found;
}

static void step_user(scenario *s, char *args)
{
    char *user_name = strtok(args, " "), *path = strtok(NULL, " "), *want_text = strtok(NULL, "");
    assert_non_null(want_text);
    json_t *u = find_user(s, user_name);
    if (!u) {
        fail_msg("%s/script:%lu: no user %s", s->name, s->line, user_name);
        return;
    }
    const json_t *v = u;
    if (strncmp(path, "enterprise.", 11) == 0)
        v = json_object_get(json_object_get(u, ENTERPRISE), path + 11);
    else if (strncmp(path, "genesys.", 8) == 0)
        v = json_object_get(json_object_get(u, GENESYS), path + 8);
    else
        v = json_object_get(u, path);
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
    if (!want)
        fail_msg("%s/script:%lu: bad JSON '%s'", s->name, s->line, want_text);
    if (!json_equal((json_t *)v, want)) {
        char *got = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        fail_msg("%s/script:%lu: %s %s is %s, expected %s", s->name, s->line, user_name, path,
                 got ? got : "(absent)", want_text);
    }
    json_decref(want);
    json_decref(u);
}

static void step_edit(scenario *s, char *args)
{
    char *file = strtok(args, " "), *from = strtok(NULL, ""), *to = from ? strstr(from, " => ") : NULL;
    if (!to) {
        fail_msg("%s/script:%lu: edit FILE FROM => TO", s->name, s->line);
        return;
    }
    *to = '\0';
    to += 4;
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", s->tmp, file);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    gcs_buf text;
    gcs_buf_init(&text, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(gcs_buf_put(&text, chunk, n), 0);
    fclose(f);
    char *at = text.ptr ? strstr(text.ptr, from) : NULL;
    if (!at) {
        fail_msg("%s/script:%lu: '%s' not in %s", s->name, s->line, from, file);
        gcs_buf_release(&text);
        return;
    }
    f = fopen(path, "w");
    assert_non_null(f);
    fwrite(text.ptr, 1, (size_t)(at - text.ptr), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
    gcs_buf_release(&text);
}

/* What a hostile editor does after an edit: the identity is a digest of the
 * content, so it can be made to match again without any secret. */
static void step_reseal(scenario *s, const char *file)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", s->tmp, file);
    gcs_plan plan = {json_load_file(path, 0, NULL)};
    assert_non_null(plan.doc);
    assert_int_equal(gcs_plan_finish(&plan), 0);
    assert_int_equal(gcs_plan_write(&plan, path), 0);
    gcs_plan_release(&plan);
}

static void step_patch(scenario *s, char *args)
{
    char *user_name = strtok(args, " "), *op = strtok(NULL, "");
    json_t *u = find_user(s, user_name);
    assert_non_null(u);
    char *token = gcs_test_emu_token(&s->emu, "gcscim-emulator", "gcscim-emulator-secret");
    char path[300], body[4096];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s",
             json_string_value(json_object_get(u, "id")));
    snprintf(body, sizeof body,
             "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
             "\"Operations\":[%s]}",
             op);
    gcs_test_http h;
    gcs_test_emu_call(&h, &s->emu, token, "PATCH", path, body, NULL);
    assert_int_equal(h.status, 200);
    gcs_test_http_release(&h);
    free(token);
    json_decref(u);
}

static void run_scenario(void **state)
{
    scenario *s = *state;
    char path[1200];
    snprintf(path, sizeof path, "%s/seed.json", s->data);
    const char *args[] = {"--seed", path, "--rate-limit", "0", NULL};
    gcs_test_server_start(&s->emu, gcs_test_emulator_path(), args, 10000);
    s->tmp = gcs_test_tmpdir();

    snprintf(path, sizeof path, "%s/script", s->data);
    FILE *f = fopen(path, "r");
    if (!f) {
        fail_msg("cannot read %s", path);
        return;
    }
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        s->line++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char *rest = strchr(line, ' ');
        if (rest)
            *rest++ = '\0';
        else
            rest = line + strlen(line);
        if (strcmp(line, "run") == 0)
            step_run(s, rest);
        else if (strcmp(line, "stdout-has") == 0 || strcmp(line, "stdout-lacks") == 0 ||
                 strcmp(line, "stderr-has") == 0 || strcmp(line, "stderr-lacks") == 0)
            step_text(s, line, rest);
        else if (strcmp(line, "stdout-lines") == 0) {
            long lines = 0;
            for (const char *c = s->ran && s->last.out.ptr ? s->last.out.ptr : ""; *c; c++)
                lines += *c == '\n';
            if (lines != atol(rest))
                fail_msg("%s/script:%lu: %ld lines on stdout, expected %s\n%s", s->name, s->line,
                         lines, rest, s->last.out.ptr ? s->last.out.ptr : "");
        } else if (strcmp(line, "writes") == 0 || strcmp(line, "route") == 0)
            step_counts(s, line, rest);
        else if (strcmp(line, "user") == 0)
            step_user(s, rest);
        else if (strcmp(line, "no-user") == 0) {
            json_t *u = find_user(s, rest);
            if (u)
                fail_msg("%s/script:%lu: user %s exists", s->name, s->line, rest);
        } else if (strcmp(line, "edit") == 0)
            step_edit(s, rest);
        else if (strcmp(line, "patch") == 0)
            step_patch(s, rest);
        else if (strcmp(line, "reseal") == 0)
            step_reseal(s, rest);
        else
            fail_msg("%s/script:%lu: unknown step '%s'", s->name, s->line, line);
    }
    fclose(f);
}

static int teardown(void **state)
{
    scenario *s = *state;
    gcs_test_server_stop(&s->emu);
    if (s->ran)
        gcs_test_run_release(&s->last);
    gcs_test_tmpdir_remove(s->tmp);
    s->tmp = NULL;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const scenario *)a)->name, ((const scenario *)b)->name);
}

int main(int argc, char **argv)
{
    gcs_test_deadline(600);
    const char *root = GCS_TEST_SOURCE_DIR "/tests/data/scenarios";
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", root);
        return 1;
    }
    scenario *all = calloc(256, sizeof *all);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256) {
        if (e->d_name[0] == '.')
            continue;
        if (argc > 1 && strcmp(argv[1], e->d_name) != 0)
            continue;
        snprintf(all[n].name, sizeof all[n].name, "%s", e->d_name);
        snprintf(all[n].data, sizeof all[n].data, "%s/%s", root, e->d_name);
        n++;
    }
    closedir(d);
    qsort(all, n, sizeof *all, by_name);
    struct CMUnitTest *tests = calloc(n ? n : 1, sizeof *tests);
    for (size_t i = 0; i < n; i++) {
        tests[i] = (struct CMUnitTest){all[i].name, run_scenario, NULL, teardown, &all[i]};
    }
    int rc = n ? _cmocka_run_group_tests("scenarios", tests, n, NULL, NULL) : 1;
    free(tests);
    free(all);
    return rc;
}
