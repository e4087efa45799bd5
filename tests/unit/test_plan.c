/* Plans: stable order, identity, approval of mass deactivations, files. */
#include "gcstest.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "plan/plan.h"

static void build(gcs_plan *p, int deactivations, long managed)
{
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_begin(p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    for (int i = 0; i < deactivations; i++) {
        char key[32], id[32];
        snprintf(key, sizeof key, "L%03d", i);
        snprintf(id, sizeof id, "id-%d", i);
        gcs_plan_add(p, GCS_PLAN_DEACTIVATE, key, NULL, id, "3",
                     json_pack("[{s:s,s:s,s:b}]", "op", "replace", "path", "active", "value", 0),
                     NULL, json_pack("{s:b}", "leaver", 1));
    }
    gcs_plan_add(p, GCS_PLAN_UPDATE, "E2", "b@x.com", "id-b", "7",
                 json_pack("[{s:s,s:s,s:s}]", "op", "replace", "path", "title", "value", "Lead"),
                 json_pack("[{s:s,s:s,s:s}]", "attribute", "title", "old", "Agent", "new", "Lead"),
                 NULL);
    gcs_plan_add(p, GCS_PLAN_CREATE, "E1", "a@x.com", NULL, NULL,
                 json_pack("{s:s,s:s}", "userName", "a@x.com", "displayName", "A"), NULL, NULL);
    gcs_plan_set_counts(p, 5, managed);
    assert_int_equal(gcs_plan_finish(p), 0);
}

static void operations_are_ordered_and_counted(void **state)
{
    (void)state;
    gcs_plan p;
    build(&p, 2, 100);
    json_t *ops = gcs_plan_operations(&p);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "kind")), "create");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 1), "kind")), "update");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 2), "key")), "L000");
    assert_int_equal(gcs_plan_count(&p, GCS_PLAN_DEACTIVATE), 2);
    assert_int_equal(strlen(gcs_plan_identity(&p)), 64);
    gcs_plan_release(&p);
}

static void identity_depends_on_content_only(void **state)
{
    (void)state;
    gcs_plan a, b, c;
    build(&a, 1, 10);
    build(&b, 1, 10);
    build(&c, 2, 10);
    assert_string_equal(gcs_plan_identity(&a), gcs_plan_identity(&b));
    assert_string_not_equal(gcs_plan_identity(&a), gcs_plan_identity(&c));
    gcs_plan_release(&a);
    gcs_plan_release(&b);
    gcs_plan_release(&c);
}

static void mass_deactivation_needs_approval(void **state)
{
    (void)state;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    gcs_plan p;
    build(&p, 11, 1000); /* over the count of 10 */
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_non_null(strstr(gcs_error_last(), "--approve deactivate=11"));
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate=10"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate=11"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);

    gcs_plan_options_init(&o);
    build(&p, 4, 20); /* 20% of managed users: over the share */
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    gcs_plan_release(&p);
    build(&p, 1, 2); /* one leaver of two: under the floor of the share rule */
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
    build(&p, 3, 4); /* 75%, but still at the floor */
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
    build(&p, 3, 1000); /* few and a small share: fine */
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
    build(&p, 3, 3); /* under the floor, but every managed user: a header-only export */
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_non_null(strstr(gcs_error_last(), "every user gcscim manages (3) is absent"));
    assert_non_null(strstr(gcs_error_last(), "--approve deactivate=3"));
    gcs_plan_release(&p);
}

/* The identity is a digest anyone can recompute; the seal needs the secret. */
static void a_plan_is_sealed_with_the_credentials(void **state)
{
    (void)state;
    gcs_plan p;
    build(&p, 1, 100);
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "client", "s3cret"), GCS_EINVALID);
    assert_int_equal(gcs_plan_seal(&p, "client", "s3cret"), 0);
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "client", "s3cret"), 0);
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "client", "other"), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "its seal does not match"));
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "other-client", "s3cret"), GCS_EINVALID);
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "client", NULL), GCS_EINVALID);
    assert_int_equal(gcs_plan_seal(&p, "client", ""), GCS_EINVALID);
    /* An edit and a recomputed identity: the seal no longer matches. */
    json_object_set_new(json_array_get(gcs_plan_operations(&p), 0), "managed", json_true());
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "client", "s3cret"), GCS_EINVALID);
    gcs_plan_release(&p);
}

/* n updates of one attribute from `old` to `new_value` (NULL: emptied). */
static void build_changes(gcs_plan *p, int n, const char *attribute, const char *old,
                          const char *new_value, long managed)
{
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_begin(p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    for (int i = 0; i < n; i++) {
        char key[32], id[32];
        snprintf(key, sizeof key, "U%03d", i);
        snprintf(id, sizeof id, "id-%d", i);
        gcs_plan_add(p, GCS_PLAN_UPDATE, key, NULL, id, "3", json_array(),
                     json_pack("[{s:s,s:s,s:s?}]", "attribute", attribute, "old", old, "new",
                               new_value),
                     NULL);
    }
    gcs_plan_set_counts(p, 0, managed);
    assert_int_equal(gcs_plan_finish(p), 0);
}

static const char *first_need(const gcs_plan *p, const gcs_plan_options *o, json_t **keep)
{
    *keep = gcs_plan_needs(p, o);
    return json_string_value(json_object_get(json_array_get(*keep, 0), "what"));
}

static void mass_clearing_and_changing_need_approval(void **state)
{
    (void)state;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    gcs_plan p;
    json_t *needs;
    /* A column that went missing empties an attribute across the org. */
    build_changes(&p, 11, "title", "Agent", NULL, 1000);
    assert_string_equal(first_need(&p, &o, &needs), "clear:title");
    json_decref(needs);
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_non_null(strstr(gcs_error_last(), "--approve clear:title=11"));
    assert_int_equal(gcs_plan_options_approve(&o, "clear:title=11"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);

    /* Enterprise paths are named by their last part. */
    gcs_plan_options_init(&o);
    build_changes(&p, 101, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                  "Sales", "Support", 100000);
    assert_string_equal(first_need(&p, &o, &needs), "change:department");
    json_decref(needs);
    gcs_plan_release(&p);
    build_changes(&p, 100, "title", "Agent", "Lead", 100000); /* at the count: fine */
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
    /* Filling an empty attribute takes nothing away. */
    build_changes(&p, 500, "title", NULL, "Lead", 600);
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
}

static void roles_privileged_users_and_adoptions_need_approval(void **state)
{
    (void)state;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    gcs_plan p;
    assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    for (int i = 0; i < 11; i++) {
        char key[32];
        snprintf(key, sizeof key, "R%02d", i);
        gcs_plan_add(&p, GCS_PLAN_UPDATE, key, NULL, "id", "1", json_array(),
                     json_pack("[{s:s,s:[{s:s},{s:s}],s:[{s:s}]}]", "attribute", "roles", "old",
                               "value", "Agent", "value", "Supervisor", "new", "value", "Agent"),
                     NULL);
    }
    gcs_plan_add(&p, GCS_PLAN_ADOPT, "A1", "a@x.com", "id-a", "4", json_array(), NULL,
                 json_pack("{s:b}", "managed", 0));
    gcs_plan_add(&p, GCS_PLAN_UPDATE, "BOSS", "boss@x.com", "id-boss", "9", json_array(), NULL,
                 json_pack("{s:[s]}", "privileged", "Master Admin"));
    gcs_plan_set_counts(&p, 0, 100000);
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    const char *msg = gcs_error_last();
    assert_non_null(strstr(msg, "--approve remove-roles=11"));
    assert_non_null(strstr(msg, "--approve adopt=1"));
    assert_non_null(strstr(msg, "--approve privileged:BOSS"));
    assert_int_equal(gcs_plan_options_approve(&o, "remove-roles=11"), 0);
    assert_int_equal(gcs_plan_options_approve(&o, "adopt=1"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_int_equal(gcs_plan_options_approve(&o, "privileged:BOSS"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
}

static void approvals_are_parsed_strictly(void **state)
{
    (void)state;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate=x"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate=-1"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "=3"), GCS_EUSAGE);
    /* A misspelt kind approves nothing: said at once, not by a refusal later. */
    assert_int_equal(gcs_plan_options_approve(&o, "deactivat=5"), GCS_EUSAGE);
    assert_non_null(strstr(gcs_error_last(), "unknown kind 'deactivat'"));
    assert_int_equal(gcs_plan_options_approve(&o, "clear:=5"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "privileged"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "Deactivate=5"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate=3"), 0);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate-despite-rejects"), 0);
    assert_int_equal(gcs_plan_options_approve(&o, "privileged:E7"), 0);
    assert_int_equal(o.approval_count, 3);
    assert_int_equal(o.approvals[0].count, 3);
    assert_int_equal(o.approvals[1].count, -1);
}

static void an_edited_plan_is_refused(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    gcs_plan p;
    build(&p, 2, 1000);
    assert_int_equal(gcs_plan_write(&p, path), 0);
    gcs_plan_release(&p);
    assert_int_equal(gcs_plan_read(&p, path), 0);
    gcs_plan_release(&p);
    /* Point a deactivation at someone else, or lower the managed count that the
     * share rule divides by: both change what the plan is. */
    const char *edits[][2] = {{"\"id-1\"", "\"id-admin\""}, {"\"managed_total\": 1000", "\"managed_total\": 9"}};
    for (size_t e = 0; e < 2; e++) {
        json_t *doc = json_load_file(path, 0, NULL);
        char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(doc);
        assert_non_null(text);
        char *at = strstr(text, edits[e][0]);
        assert_non_null(at);
        gcs_buf edited;
        gcs_buf_init(&edited, 0);
        assert_int_equal(gcs_buf_put(&edited, text, (size_t)(at - text)), 0);
        assert_int_equal(gcs_buf_puts(&edited, edits[e][1]), 0);
        assert_int_equal(gcs_buf_puts(&edited, at + strlen(edits[e][0])), 0);
        char edited_path[700];
        snprintf(edited_path, sizeof edited_path, "%s/edited%zu.json", dir, e);
        free(gcs_test_write_file(dir, strrchr(edited_path, '/') + 1, edited.ptr));
        assert_int_equal(gcs_plan_read(&p, edited_path), GCS_EINVALID);
        assert_non_null(strstr(gcs_error_last(), "changed after gcscim made it"));
        gcs_buf_release(&edited);
        free(text);
    }
    gcs_test_tmpdir_remove(dir);
}

/* A plan file is whole or absent: a failed write is an error and leaves the
 * earlier file as it was, with no temporary file behind. */
static void a_failed_write_is_an_error_and_leaves_nothing_half_written(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[600], missing[700];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    snprintf(missing, sizeof missing, "%s/no/such/dir/plan.json", dir);
    gcs_plan p;
    build(&p, 1, 10);
    assert_int_equal(gcs_plan_write(&p, missing), GCS_EIO);
    assert_non_null(strstr(gcs_error_last(), "cannot write plan"));
    free(gcs_test_write_file(dir, "plan.json", "the earlier plan\n"));
    /* A directory it may not write to (as root every write succeeds: skipped). */
    assert_int_equal(chmod(dir, 0500), 0);
    int rc = gcs_plan_write(&p, path);
    assert_int_equal(chmod(dir, 0700), 0);
    if (geteuid() != 0) { /* root writes anywhere */
        assert_int_equal(rc, GCS_EIO);
        FILE *f = fopen(path, "r");
        char line[64] = "";
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof line, f));
        fclose(f);
        assert_string_equal(line, "the earlier plan\n");
    }
    gcs_plan_release(&p);
    gcs_test_tmpdir_remove(dir);
}

static void files_round_trip_privately(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    gcs_plan p, q;
    build(&p, 1, 10);
    assert_int_equal(gcs_plan_write(&p, path), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(gcs_plan_read(&q, path), 0);
    assert_string_equal(gcs_plan_identity(&p), gcs_plan_identity(&q));
    gcs_plan_release(&q);

    /* A hand-edited operation changes the identity; a broken one is named. */
    char *bad = gcs_test_write_file(dir, "bad.json",
                                    "{\"format\":\"gcscim-plan/1\",\"operations\":"
                                    "[{\"kind\":\"update\",\"key\":\"E1\"}]}");
    assert_int_equal(gcs_plan_read(&q, bad), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "operation 1 is malformed"));
    char *notplan = gcs_test_write_file(dir, "x.json", "{\"a\":1}\n");
    assert_int_equal(gcs_plan_read(&q, notplan), GCS_EINVALID);
    char *broken = gcs_test_write_file(dir, "y.json", "{\n\"a\":\n");
    assert_int_equal(gcs_plan_read(&q, broken), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "line 3"));

    gcs_plan_release(&p);
    free(bad);
    free(notplan);
    free(broken);
    gcs_test_tmpdir_remove(dir);
}

/* The check the command line ran itself, now the library's: a plan applies
 * only to the API it was made for. */
/* A plan in memory (kept in the store with its run) reads back as a file does,
 * seal included, and meets the same checks: an edit is refused, naming it. */
static void a_dumped_plan_parses_back_with_the_same_checks(void **state)
{
    (void)state;
    gcs_plan p, back;
    char *text = NULL;
    build(&p, 1, 10);
    assert_int_equal(gcs_plan_seal(&p, "client", "secret"), 0);
    assert_int_equal(gcs_plan_dump(&text, &p), 0);
    assert_int_equal(gcs_plan_parse(&back, text, strlen(text), "kept for run R"), 0);
    assert_string_equal(gcs_plan_identity(&back), gcs_plan_identity(&p));
    assert_int_equal(gcs_plan_check_seal(&back, "kept for run R", "client", "secret"), 0);
    gcs_plan_release(&back);
    char *edit = strstr(text, "\"Lead\"");
    assert_non_null(edit);
    memcpy(edit, "\"Boss\"", 6);
    assert_int_equal(gcs_plan_parse(&back, text, strlen(text), "kept for run R"), GCS_EINVALID);
    assert_null(back.doc);
    assert_non_null(strstr(gcs_error_last(), "cannot use plan 'kept for run R': it was changed"));
    assert_int_equal(gcs_plan_parse(&back, "{\"format\":", 11, "kept for run R"), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "cannot read plan 'kept for run R': line 1"));
    free(text);
    gcs_plan_release(&p);
}

static void a_plan_applies_only_to_its_target(void **state)
{
    gcs_plan p;
    build(&p, 0, 10);
    assert_int_equal(gcs_plan_check_target(&p, "http://127.0.0.1:1", "plan.json"), 0);
    assert_int_equal(gcs_plan_check_target(&p, "https://api.mypurecloud.de", "plan.json"),
                     GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "plan 'plan.json' was made for http://127.0.0.1:1"));
    assert_int_equal(gcs_plan_check_target(&p, NULL, "plan.json"), GCS_EINVALID);
    gcs_plan_release(&p);
}

static void text_shows_each_change(void **state)
{
    (void)state;
    gcs_plan p;
    build(&p, 1, 10);
    gcs_plan_reject(&p, "hr.csv:7", "email", "not an email address");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gcs_plan_render_text(&p, f, false);
    fclose(f);
    assert_non_null(strstr(text, "+ create E1 (a@x.com)"));
    assert_non_null(strstr(text, "~ update E2 (b@x.com) id=id-b version=7"));
    assert_non_null(strstr(text, "title                  \"Agent\" -> \"Lead\""));
    assert_non_null(strstr(text, "- deactivate L000"));
    assert_non_null(strstr(text, "! rejected hr.csv:7 field email: not an email address"));
    assert_non_null(strstr(text, "Plan: 1 to create, 0 to adopt, 1 to update, 0 to reactivate, "
                                 "1 to deactivate, 5 unchanged, 0 skipped, 1 rejected."));
    free(text);
    gcs_plan_release(&p);
}

/* jansson's allocator for the test below: fails the allocation `fail_in`
 * allocations from now (0: this one), then succeeds again. */
static long fail_in = -1;

static void *failing_malloc(size_t n)
{
    if (fail_in >= 0 && fail_in-- == 0)
        return NULL;
    return malloc(n);
}

/* gcs_plan_finish either fails or leaves a whole plan: seq numbers, summary
 * and identity. It used to return 0 with any of them missing when an
 * allocation failed, and the plan went on without an identity. */
static void finish_is_whole_or_fails(void **state)
{
    (void)state;
    long reached = 0;
    for (long n = 0; n < 1000 && reached == 0; n++) {
        gcs_plan_options o;
        gcs_plan_options_init(&o);
        gcs_plan p;
        assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
        gcs_plan_add(&p, GCS_PLAN_CREATE, "E1", "a@x.com", NULL, NULL,
                     json_pack("{s:s}", "userName", "a@x.com"), NULL, NULL);
        gcs_plan_set_counts(&p, 1, 10);
        fail_in = n;
        json_set_alloc_funcs(failing_malloc, free);
        int rc = gcs_plan_finish(&p);
        json_set_alloc_funcs(malloc, free);
        if (fail_in >= 0)
            reached = n; /* finished without meeting the failure: all points done */
        fail_in = -1;
        if (rc == 0) {
            assert_non_null(gcs_plan_identity(&p));
            assert_non_null(json_object_get(p.doc, "summary"));
            assert_non_null(json_object_get(json_array_get(gcs_plan_operations(&p), 0), "seq"));
        } else {
            assert_int_equal(rc, GCS_ENOMEM);
        }
        gcs_plan_release(&p);
    }
    assert_true(reached > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(operations_are_ordered_and_counted),
        cmocka_unit_test(identity_depends_on_content_only),
        cmocka_unit_test(mass_deactivation_needs_approval),
        cmocka_unit_test(mass_clearing_and_changing_need_approval),
        cmocka_unit_test(roles_privileged_users_and_adoptions_need_approval),
        cmocka_unit_test(approvals_are_parsed_strictly),
        cmocka_unit_test(an_edited_plan_is_refused),
        cmocka_unit_test(a_plan_is_sealed_with_the_credentials),
        cmocka_unit_test(files_round_trip_privately),
        cmocka_unit_test(a_dumped_plan_parses_back_with_the_same_checks),
        cmocka_unit_test(a_failed_write_is_an_error_and_leaves_nothing_half_written),
        cmocka_unit_test(a_plan_applies_only_to_its_target),
        cmocka_unit_test(text_shows_each_change),
        cmocka_unit_test(finish_is_whole_or_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
