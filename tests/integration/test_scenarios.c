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
 *   stdout FILE / stderr FILE   the last run's standard output (error), normalised, must
 *                               equal {data}/FILE whole (GCS_UPDATE_GOLDEN=1 rewrites it);
 *   stdout-json FILE            the same for a --json run: stdout must be one JSON document
 *                               on one line, kept in FILE indented by two spaces;
 *                               the normaliser (tests/support/golden.h) replaces the
 *                               scenario's paths by {data} and {tmp}, and run ids, times,
 *                               ids, digests, the port, durations and rates by {run},
 *                               {time}, {id}, {digest}, {port}, {duration} and {rate}
 *   wire FILE                   the requests on the wire so far (from the receipts), one
 *                               line each, sorted: METHOD PATH [If-Match V] -> STATUS and
 *                               the body, with ids as {id} and the token call left out
 *                               (a call the run stopped before sending: "-> not sent");
 *                               must equal {data}/FILE (GCS_UPDATE_GOLDEN=1 rewrites it)
 *   edit FILE FROM => TO        replaces the first FROM by TO in {tmp}/FILE
 *   crlf FILE                   ends every line of {tmp}/FILE in CR LF (a Windows editor)
 *   reseal FILE                 recomputes the identity of the plan {tmp}/FILE after
 *                               an edit, as anyone can (it is a plain digest)
 *   patch USERNAME JSON-OP      another tool PATCHes the user behind our back
 *   remember-run NAME           the run id the last run printed ("(run ID" on stdout, or
 *                               "run ID is recorded" on stderr) becomes {NAME}
 *   group FIELD NAME = JSON     the Genesys group NAME (spaces allowed): FIELD `members` (their
 *                               userNames, sorted), `grants` ("Role@Division", sorted),
 *                               `description`, `visibility`, `rolesEnabled`, or `exists` (true/false)
 *   group-count N               the organisation holds N groups
 *   group-member ADD|REMOVE USERNAME NAME   another tool changes the group's members behind our back
 *   group-create NAME           another tool (or an earlier, interrupted run) creates the group
 *   group-rename NAME => NEW    another tool renames the group behind our back
 *   delete-user USERNAME        someone deletes the user by hand (SCIM DELETE)
 *   reset                       the organisation goes back to the seed (POST /_emulator/reset:
 *                               what gcscim did is gone; the emulator's counts start again)
 *
 * In arguments, {data} is the scenario's directory, {tmp} a fresh directory
 * for plans and outputs, {port} the emulator's port, and {NAME} a remembered run. Arguments
 * are split on spaces; TEXT is the rest of the line. Lines starting with # are comments. An
 * optional file `emulator` in the scenario holds more arguments for the emulator (its clients
 * and their scopes).
 */
#include "clitest.h"
#include "gcstest.h"
#include "golden.h"
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
    struct {
        char name[32];
        char value[80];
    } runs[8];           /* remember-run NAME */
    size_t run_count;
} scenario;

/* {NAME} of a remembered run at *p: appended to b, *p moved past it. */
static bool remembered(const scenario *s, gcs_buf *b, const char **p)
{
    for (size_t i = 0; i < s->run_count; i++) {
        size_t n = strlen(s->runs[i].name);
        if (strncmp(*p + 1, s->runs[i].name, n) == 0 && (*p)[n + 1] == '}') {
            assert_int_equal(gcs_buf_puts(b, s->runs[i].value), 0);
            *p += n + 2;
            return true;
        }
    }
    return false;
}

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
        } else if (*p == '{' && remembered(s, &b, &p)) {
            continue;
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

/* What a Windows editor or a text-mode transfer does to a file: every LF becomes CR LF. */
static void step_crlf(scenario *s, const char *file)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", s->tmp, file);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    gcs_buf text;
    gcs_buf_init(&text, 0);
    int c;
    while ((c = fgetc(f)) != EOF)
        assert_int_equal(c == '\n' ? gcs_buf_puts(&text, "\r\n") : gcs_buf_putc(&text, (char)c), 0);
    fclose(f);
    f = fopen(path, "w");
    assert_non_null(f);
    fwrite(text.ptr, 1, text.len, f);
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

static void step_remember_run(scenario *s, const char *name)
{
    const char *out = s->ran && s->last.out.ptr ? s->last.out.ptr : "";
    const char *err = s->ran && s->last.err.ptr ? s->last.err.ptr : "";
    const char *at = strstr(out, "(run ");
    if (at)
        at += 5;
    else if ((at = strstr(err, "gcscim: run ")) != NULL)
        at += 12;
    if (!at || !*name || strlen(name) >= sizeof s->runs[0].name ||
        s->run_count == sizeof s->runs / sizeof *s->runs) {
        fail_msg("%s/script:%lu: no run id to remember as '%s'", s->name, s->line, name);
        return;
    }
    size_t n = strspn(at, "0123456789abcdefABCDEFTZ-");
    snprintf(s->runs[s->run_count].name, sizeof s->runs[0].name, "%s", name);
    snprintf(s->runs[s->run_count].value, sizeof s->runs[0].value, "%.*s", (int)n, at);
    s->run_count++;
}

static void step_patch(scenario *s, char *args)
{
    char *user_name = strtok(args, " "), *op = strtok(NULL, "");
    assert_non_null(op);
    gcs_test_emu_patch_user(&s->emu, user_name, op);
}

/* ==== Groups ==== */

static json_t *find_group(json_t *state, const char *name)
{
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(state, "groups"), i, g) {
        const char *n = json_string_value(json_object_get(g, "name"));
        if (n && strcmp(n, name) == 0)
            return g;
    }
    return NULL;
}

static const char *name_of_id(json_t *list, const char *id)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *eid = json_string_value(json_object_get(e, "id"));
        if (eid && id && strcmp(eid, id) == 0)
            return json_string_value(json_object_get(e, json_object_get(e, "userName") ? "userName" : "name"));
    }
    return "?";
}

static int by_json_text(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static json_t *sorted_texts(json_t *texts)
{
    size_t n = json_array_size(texts);
    json_t **items = calloc(n ? n : 1, sizeof *items);
    assert_non_null(items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(texts, i);
    qsort(items, n, sizeof *items, by_json_text);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(out, items[i]);
    free(items);
    json_decref(texts);
    return out;
}

static void step_group(scenario *s, char *args)
{
    char *field = strtok(args, " "), *rest = strtok(NULL, "");
    char *eq = rest ? strstr(rest, " = ") : NULL;
    if (!field || !eq) {
        fail_msg("%s/script:%lu: group FIELD NAME = JSON", s->name, s->line);
        return;
    }
    *eq = '\0';
    const char *want_text = eq + 3;
    json_t *st = gcs_test_emu_admin(&s->emu, "GET", "state", NULL);
    assert_non_null(st);
    json_t *g = find_group(st, rest), *got = NULL;
    if (strcmp(field, "exists") == 0) {
        got = json_boolean(g != NULL);
    } else if (!g) {
        fail_msg("%s/script:%lu: no group '%s'", s->name, s->line, rest);
    } else if (strcmp(field, "members") == 0) {
        got = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(g, "members"), i, m)
            json_array_append_new(got, json_string(name_of_id(json_object_get(st, "users"),
                                                              json_string_value(m))));
        got = sorted_texts(got);
    } else if (strcmp(field, "grants") == 0) {
        got = json_array();
        size_t i;
        json_t *gr;
        json_array_foreach(json_object_get(g, "grants"), i, gr) {
            char both[300];
            snprintf(both, sizeof both, "%s@%s",
                     name_of_id(json_object_get(st, "roles"), json_string_value(json_object_get(gr, "roleId"))),
                     name_of_id(json_object_get(st, "divisions"), json_string_value(json_object_get(gr, "divisionId"))));
            json_array_append_new(got, json_string(both));
        }
        got = sorted_texts(got);
    } else {
        got = json_incref(json_object_get(g, field));
    }
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
    if (!want)
        fail_msg("%s/script:%lu: bad JSON '%s'", s->name, s->line, want_text);
    if (!json_equal(got, want)) {
        char *text = got ? json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        fail_msg("%s/script:%lu: group '%s' %s is %s, expected %s", s->name, s->line, rest, field,
                 text ? text : "(absent)", want_text);
        free(text);
    }
    json_decref(want);
    json_decref(got);
    json_decref(st);
}

static void step_group_member(scenario *s, char *args)
{
    char *verb = strtok(args, " "), *user_name = strtok(NULL, " "), *name = strtok(NULL, "");
    assert_non_null(name);
    json_t *st = gcs_test_emu_admin(&s->emu, "GET", "state", NULL);
    json_t *g = find_group(st, name);
    json_t *u = gcs_test_emu_user_named(&s->emu, user_name);
    assert_non_null(g);
    assert_non_null(u);
    char *token = gcs_test_emu_token(&s->emu, "gcscim-emulator", "gcscim-emulator-secret");
    char path[300], body[600];
    const char *uid = json_string_value(json_object_get(u, "id"));
    snprintf(path, sizeof path, "/api/v2/scim/v2/groups/%s",
             json_string_value(json_object_get(g, "id")));
    if (strcmp(verb, "ADD") == 0)
        snprintf(body, sizeof body,
                 "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                 "\"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"}]}]}",
                 uid);
    else
        snprintf(body, sizeof body,
                 "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                 "\"Operations\":[{\"op\":\"remove\",\"path\":\"members[value eq \\\"%s\\\"]\"}]}",
                 uid);
    gcs_test_http h;
    gcs_test_emu_call(&h, &s->emu, token, "PATCH", path, body, NULL);
    assert_int_equal(h.status, 200);
    gcs_test_http_release(&h);
    free(token);
    json_decref(u);
    json_decref(st);
}

static void step_group_rename(scenario *s, char *args)
{
    char *arrow = strstr(args, " => ");
    assert_non_null(arrow);
    *arrow = '\0';
    const char *name = args, *to = arrow + 4;
    json_t *st = gcs_test_emu_admin(&s->emu, "GET", "state", NULL);
    json_t *g = find_group(st, name);
    assert_non_null(g);
    char *token = gcs_test_emu_token(&s->emu, "gcscim-emulator", "gcscim-emulator-secret");
    char path[300];
    snprintf(path, sizeof path, "/api/v2/groups/%s", json_string_value(json_object_get(g, "id")));
    gcs_test_http h;
    gcs_test_emu_call(&h, &s->emu, token, "GET", path, NULL, NULL);
    assert_int_equal(h.status, 200);
    json_t *body = json_pack("{s:s,s:O,s:O,s:O}", "name", to, "type",
                             json_object_get(h.json, "type"), "visibility",
                             json_object_get(h.json, "visibility"), "version",
                             json_object_get(h.json, "version"));
    gcs_test_http_release(&h);
    char *text = json_dumps(body, JSON_COMPACT);
    gcs_test_emu_call(&h, &s->emu, token, "PUT", path, text, NULL);
    assert_int_equal(h.status, 200);
    gcs_test_http_release(&h);
    free(text);
    json_decref(body);
    free(token);
    json_decref(st);
}

static void step_group_create(scenario *s, const char *name)
{
    char *token = gcs_test_emu_token(&s->emu, "gcscim-emulator", "gcscim-emulator-secret");
    json_t *body = json_pack("{s:s,s:s,s:s}", "name", name, "type", "official", "visibility", "public");
    char *text = json_dumps(body, JSON_COMPACT);
    gcs_test_http h;
    gcs_test_emu_call(&h, &s->emu, token, "POST", "/api/v2/groups", text, NULL);
    assert_int_equal(h.status, 200);
    gcs_test_http_release(&h);
    free(text);
    json_decref(body);
    free(token);
}

static void step_delete_user(scenario *s, const char *user_name)
{
    json_t *u = gcs_test_emu_user_named(&s->emu, user_name);
    if (!u) {
        fail_msg("%s/script:%lu: no user %s to delete", s->name, s->line, user_name);
        return;
    }
    char *token = gcs_test_emu_token(&s->emu, "gcscim-emulator", "gcscim-emulator-secret");
    char path[300];
    snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s",
             json_string_value(json_object_get(u, "id")));
    gcs_test_http h;
    gcs_test_emu_call(&h, &s->emu, token, "DELETE", path, NULL, NULL);
    assert_int_equal(h.status, 204);
    gcs_test_http_release(&h);
    free(token);
    json_decref(u);
}

/* Genesys ids (UUIDs) as {id}, in place. */
static void hide_ids(char *t)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    for (char *p = t; *p; p++) {
        char *q = p;
        bool uuid = true;
        /* Stops at the first character that does not fit: never past the end. */
        for (int g = 0; g < 5 && uuid; g++) {
            for (int i = 0; i < groups[g] && uuid; i++, q++)
                uuid = (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f');
            if (g < 4 && uuid)
                uuid = *q++ == '-';
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
        /* A call the run stopped before it left has a receipt too (no attempt). */
        char status[64];
        if (json_integer_value(json_object_get(rec, "attempts")) == 0)
            snprintf(status, sizeof status, "not sent (%s)",
                     json_string_value(json_object_get(rec, "outcome")));
        else
            snprintf(status, sizeof status, "%lld",
                     (long long)json_integer_value(json_object_get(rec, "status")));
        assert_int_equal(gcs_buf_printf(&b, "%s %s%s%s -> %s%s%s",
                                        json_string_value(json_object_get(rec, "method")), path,
                                        etag ? " If-Match " : "", etag ? etag : "", status,
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
    char *differs = gcs_test_golden_check(path, got.ptr);
    if (differs)
        fail_msg("%s/script:%lu: the wire: %s", s->name, s->line, differs);
    gcs_buf_release(&got);
}

/* The last run's whole output, normalised, against a golden file. With
 * stdout-json, the output must be one JSON document on one line; the golden
 * holds it indented, so that a change shows as the lines it changes. */
static void step_golden(scenario *s, const char *verb, const char *file)
{
    if (!s->ran)
        fail_msg("%s/script:%lu: %s before any run", s->name, s->line, verb);
    const gcs_buf *out = strncmp(verb, "stdout", 6) == 0 ? &s->last.out : &s->last.err;
    const gcs_test_golden_vars vars = {s->data, s->tmp, s->emu.port};
    char *got = gcs_test_golden_normalise(out->ptr, &vars);
    if (strcmp(verb, "stdout-json") == 0) {
        const char *nl = strchr(got, '\n');
        if (!nl || nl[1] != '\0')
            fail_msg("%s/script:%lu: stdout is not one line:\n%s", s->name, s->line, got);
        json_error_t err;
        json_t *doc = json_loads(got, 0, &err);
        if (!doc)
            fail_msg("%s/script:%lu: stdout is not one JSON document (%s, column %d):\n%s",
                     s->name, s->line, err.text, err.column, got);
        free(got);
        char *indented = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        assert_non_null(indented);
        json_decref(doc);
        got = malloc(strlen(indented) + 2);
        assert_non_null(got);
        sprintf(got, "%s\n", indented);
        free(indented);
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", s->data, file);
    char *differs = gcs_test_golden_check(path, got);
    free(got);
    if (differs)
        fail_msg("%s/script:%lu: %s: %s", s->name, s->line, verb, differs);
}

static void run_scenario(void **state)
{
    scenario *s = *state;
    char path[1200];
    snprintf(path, sizeof path, "%s/seed.json", s->data);
    const char *args[64] = {"--seed", path, "--rate-limit", "0"};
    size_t nargs = 4;
    char more[4096] = "";
    char more_path[1200];
    snprintf(more_path, sizeof more_path, "%s/emulator", s->data);
    FILE *extra = fopen(more_path, "r");
    if (extra) {
        size_t k = fread(more, 1, sizeof more - 1, extra);
        more[k] = '\0';
        fclose(extra);
        for (char *a = strtok(more, " \t\r\n"); a && nargs < 63; a = strtok(NULL, " \t\r\n"))
            args[nargs++] = a;
    }
    args[nargs] = NULL;
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
        } else if (strcmp(line, "stdout") == 0 || strcmp(line, "stderr") == 0 ||
                   strcmp(line, "stdout-json") == 0) {
            step_golden(s, line, rest);
        } else if (strcmp(line, "wire") == 0) {
            step_wire(s, rest);
        } else if (strcmp(line, "edit") == 0)
            step_edit(s, rest);
        else if (strcmp(line, "crlf") == 0)
            step_crlf(s, rest);
        else if (strcmp(line, "patch") == 0)
            step_patch(s, rest);
        else if (strcmp(line, "reseal") == 0)
            step_reseal(s, rest);
        else if (strcmp(line, "remember-run") == 0)
            step_remember_run(s, rest);
        else if (strcmp(line, "group") == 0)
            step_group(s, rest);
        else if (strcmp(line, "group-member") == 0)
            step_group_member(s, rest);
        else if (strcmp(line, "group-create") == 0)
            step_group_create(s, rest);
        else if (strcmp(line, "group-rename") == 0)
            step_group_rename(s, rest);
        else if (strcmp(line, "delete-user") == 0)
            step_delete_user(s, rest);
        else if (strcmp(line, "reset") == 0) {
            json_t *answer = gcs_test_emu_admin(&s->emu, "POST", "reset", NULL);
            if (!answer)
                fail_msg("%s/script:%lu: the emulator refused a reset", s->name, s->line);
            json_decref(answer);
        }
        else if (strcmp(line, "group-count") == 0) {
            json_t *st = gcs_test_emu_admin(&s->emu, "GET", "state", NULL);
            long got = (long)json_array_size(json_object_get(st, "groups"));
            json_decref(st);
            if (got != atol(rest))
                fail_msg("%s/script:%lu: %ld groups, expected %s", s->name, s->line, got, rest);
        }
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
    gcs_test_deadline(880); /* under its ctest TIMEOUT (GCS_LONG_TESTS) */
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
