/*
 * Scenario tests as data, in the manner of curl's tests/data: each directory
 * under tests/data/scenarios/ is one test, runnable alone by its name
 * (test_scenarios NAME). A scenario holds an emulator seed (`seed.json`), any
 * input files, and a `script` of steps run in order against a fresh emulator and
 * a fresh SQLite store:
 *
 *   run EXIT ARGS...            gcscim ARGS must exit with EXIT (or one of EXIT|EXIT...)
 *   stdout-has TEXT             the last run's standard output contains TEXT
 *   stdout-lacks TEXT / stderr-has TEXT / stderr-lacks TEXT
 *   stdout-lines N              the last run printed exactly N lines
 *   writes N                    the emulator has answered N writes in all
 *   route METHOD ROUTE STATUS N the emulator answered ROUTE with STATUS N times; ROUTE as the
 *                               emulator counts it: one /api/v2/scim/ prefix for both, {id}
 *   user USERNAME PATH JSON     the user's attribute (PATH: a top-level name, or
 *                               enterprise.NAME / genesys.NAME) equals JSON
 *   no-user USERNAME            no such user exists
 *   user-count N                the organisation holds N users
 *   config JSON                 POST /_emulator/config (faults, latency, limits)
 *   wire FILE                   the requests on the wire so far (from the receipts), one
 *                               line each, sorted: METHOD PATH [If-Match V] -> STATUS and
 *                               the body, with ids as {id} and the token call left out;
 *                               must equal {data}/FILE (GCS_UPDATE_GOLDEN=1 rewrites it)
 *   edit FILE FROM => TO        replaces the first FROM by TO in {tmp}/FILE
 *   reseal FILE                 recomputes the identity of the plan {tmp}/FILE after
 *                               an edit, as anyone can (it is a plain digest)
 *   patch USERNAME JSON-OP      another tool PATCHes the user behind our back
 *
 * In arguments, {data} is the scenario's directory, {tmp} a fresh directory
 * for plans and outputs, and {port} the emulator's port. Arguments are split on spaces; TEXT is the rest of the
 * line. Lines starting with # are comments.
 */
#include "clitest.h"
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
        } else if (strncmp(p, "{port}", 6) == 0) {
            assert_int_equal(gcs_buf_printf(&b, "%d", s->emu.port), 0);
            p += 6;
        } else {
            assert_int_equal(gcs_buf_putc(&b, *p++), 0);
        }
    }
    snprintf(out, outsz, "%s", b.ptr ? b.ptr : "");
    gcs_buf_release(&b);
}

static void step_run(scenario *s, char *args)
{
    char *wanted = strtok(args, " ");
    const char *argv[64];
    char expanded[64][1024];
    size_t n = 0;
    argv[n++] = "gcscim";
    for (char *a; (a = strtok(NULL, " ")) != NULL && n < 63; n++) {
        expand(s, expanded[n], sizeof expanded[n], a);
        argv[n] = expanded[n];
    }
    argv[n] = NULL;
    char db[1200];
    snprintf(db, sizeof db, "sqlite:%s/gcscim.db", s->tmp);
    gcs_test_cli cli;
    gcs_test_cli_init(&cli, &s->emu, db);
    if (s->ran)
        gcs_test_run_release(&s->last);
    gcs_test_cli_runv(&cli, &s->last, argv + 1);
    s->ran = true;
    bool ok = false;
    for (const char *w = wanted; w && *w; w = strchr(w, '|') ? strchr(w, '|') + 1 : NULL)
        ok |= atoi(w) == s->last.exit_code;
    if (!ok)
        fail_msg("%s/script:%lu: exit %d, expected %s\n--- stdout\n%s--- stderr\n%s", s->name,
                 s->line, s->last.exit_code, wanted, s->last.out.ptr ? s->last.out.ptr : "",
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

static void step_counts(scenario *s, const char *verb, char *args)
{
    json_t *st = gcs_test_emu_admin(&s->emu, "GET", "stats", NULL);
    long got, want;
    char what[600];
    if (strcmp(verb, "writes") == 0) {
        want = atol(args);
        got = gcs_test_emu_writes(&s->emu);
        snprintf(what, sizeof what, "writes");
    } else {
        char *method = strtok(args, " "), *route = strtok(NULL, " "), *status = strtok(NULL, " ");
        char *n = strtok(NULL, " ");
        assert_non_null(n);
        char key[600];
        /* A route spelt otherwise than the emulator counts it would always be 0. */
        if (strstr(route, "/scim/v2/"))
            fail_msg("%s/script:%lu: the emulator counts SCIM routes under /api/v2/scim/, not "
                     "/api/v2/scim/v2/", s->name, s->line);
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
    return gcs_test_emu_user_named(&s->emu, user_name);
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
    gcs_plan plan = {json_load_file(path, 0, NULL), NULL};
    assert_non_null(plan.doc);
    assert_int_equal(gcs_plan_finish(&plan), 0);
    assert_int_equal(gcs_plan_write(&plan, path), 0);
    gcs_plan_release(&plan);
}

static void step_patch(scenario *s, char *args)
{
    char *user_name = strtok(args, " "), *op = strtok(NULL, "");
    assert_non_null(op);
    gcs_test_emu_patch_user(&s->emu, user_name, op);
}

/* Genesys ids (UUIDs) as {id}, in place. */
static void hide_ids(char *t)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    for (char *p = t; *p; p++) {
        char *q = p;
        bool uuid = true;
        for (int g = 0; g < 5 && uuid; g++) {
            for (int i = 0; i < groups[g]; i++, q++)
                uuid &= (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f');
            if (g < 4)
                uuid &= *q++ == '-';
        }
        if (uuid) {
            memcpy(p, "{id}", 4);
            memmove(p + 4, q, strlen(q) + 1);
            p += 3;
        }
    }
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What went on the wire, normalised so that the same run gives the same text. */
static void step_wire(scenario *s, const char *file)
{
    char db[1200];
    snprintf(db, sizeof db, "sqlite:%s/gcscim.db", s->tmp);
    gcs_test_cli cli;
    gcs_test_cli_init(&cli, &s->emu, db);
    gcs_test_run r;
    const char *args[] = {"receipts", "export", "--format", "jsonl", NULL};
    if (gcs_test_cli_runv(&cli, &r, args) != 0)
        fail_msg("%s/script:%lu: receipts export failed: %s", s->name, s->line, r.err.ptr);
    char *lines[4096];
    size_t n = 0;
    for (char *line = strtok(r.out.ptr ? r.out.ptr : (char *)"", "\n"); line && n < 4096;
         line = strtok(NULL, "\n")) {
        json_t *rec = json_loads(line, 0, NULL);
        const char *path = json_string_value(json_object_get(rec, "path"));
        if (!rec || !path || strstr(path, "/oauth/")) {
            json_decref(rec);
            continue;
        }
        gcs_buf b;
        gcs_buf_init(&b, 0);
        const char *body = json_string_value(json_object_get(rec, "request_body"));
        json_t *parsed = body ? json_loads(body, 0, NULL) : NULL;
        char *canon = parsed ? json_dumps(parsed, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        const char *etag = json_string_value(json_object_get(rec, "etag_sent"));
        assert_int_equal(gcs_buf_printf(&b, "%s %s%s%s -> %lld%s%s",
                                        json_string_value(json_object_get(rec, "method")), path,
                                        etag ? " If-Match " : "", etag ? etag : "",
                                        (long long)json_integer_value(json_object_get(rec, "status")),
                                        canon ? " " : "", canon ? canon : ""),
                         0);
        free(canon);
        json_decref(parsed);
        json_decref(rec);
        hide_ids(b.ptr);
        lines[n++] = gcs_buf_detach(&b);
    }
    qsort(lines, n, sizeof *lines, by_text);
    gcs_buf got;
    gcs_buf_init(&got, 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(gcs_buf_printf(&got, "%s\n", lines[i]), 0);
        free(lines[i]);
    }
    gcs_test_run_release(&r);
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", s->data, file);
    const char *update = getenv("GCS_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(got.ptr ? got.ptr : "", f);
        fclose(f);
    } else {
        FILE *f = fopen(path, "r");
        gcs_buf want;
        gcs_buf_init(&want, 0);
        char chunk[4096];
        size_t k;
        while (f && (k = fread(chunk, 1, sizeof chunk, f)) > 0)
            assert_int_equal(gcs_buf_put(&want, chunk, k), 0);
        if (f)
            fclose(f);
        if (!f || strcmp(want.ptr ? want.ptr : "", got.ptr ? got.ptr : "") != 0)
            fail_msg("%s/script:%lu: the wire differs from %s (GCS_UPDATE_GOLDEN=1 rewrites "
                     "it)\n--- got\n%s--- want\n%s",
                     s->name, s->line, file, got.ptr ? got.ptr : "", want.ptr ? want.ptr : "");
        gcs_buf_release(&want);
    }
    gcs_buf_release(&got);
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
        } else if (strcmp(line, "user-count") == 0) {
            json_t *st = gcs_test_emu_admin(&s->emu, "GET", "state", NULL);
            long got = (long)json_array_size(json_object_get(st, "users"));
            json_decref(st);
            if (got != atol(rest))
                fail_msg("%s/script:%lu: %ld users, expected %s", s->name, s->line, got, rest);
        } else if (strcmp(line, "config") == 0) {
            json_t *answer = gcs_test_emu_admin(&s->emu, "POST", "config", rest);
            if (!answer)
                fail_msg("%s/script:%lu: the emulator refused config %s", s->name, s->line, rest);
            json_decref(answer);
        } else if (strcmp(line, "wire") == 0) {
            step_wire(s, rest);
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
