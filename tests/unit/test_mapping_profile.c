/* Mapping profiles: loading YAML and JSON, what they expose, and errors with lines. */
#include "gcstest.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mapping/profile.h"

static gcs_profile *load(const char *name, const char *text)
{
    gcs_profile *p = NULL;
    int rc = gcs_profile_load_mem(&p, name, text, strlen(text));
    if (rc != 0)
        fail_msg("%s: %s", name, gcs_error_last());
    return p;
}

/* Loading must fail with a message holding each of the given parts. */
static void refused(const char *name, const char *text, const char *part1, const char *part2)
{
    gcs_profile *p = NULL;
    int rc = gcs_profile_load_mem(&p, name, text, strlen(text));
    if (rc != GCS_EINVALID) {
        gcs_profile_free(p);
        fail_msg("%s was accepted (rc %d): %s", name, rc, text);
    }
    assert_null(p);
    const char *msg = gcs_error_last();
    if (!strstr(msg, part1) || (part2 && !strstr(msg, part2)))
        fail_msg("message '%s' lacks '%s' / '%s'", msg, part1, part2 ? part2 : "");
}

static void example_profile_loads(void **state)
{
    (void)state;
    gcs_profile *p;
    assert_int_equal(gcs_profile_load(&p, GCS_TEST_SOURCE_DIR "/examples/profile.yaml"), 0);
    assert_string_equal(gcs_profile_managed_authority(p), "gcscim");
    assert_int_equal(gcs_profile_match_count(p), 2);
    assert_string_equal(gcs_profile_match_key(p, 0), "externalId");
    assert_string_equal(gcs_profile_match_key(p, 1), "userName");
    assert_false(gcs_profile_password_policy(p)->enabled);

    const gcs_profile_attr *a = gcs_profile_attr_find(p, "department");
    assert_non_null(a);
    assert_int_equal(a->target, GCS_TARGET_DEPARTMENT);
    assert_string_equal(a->path, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department");
    assert_int_equal(a->mode, GCS_ATTR_ALWAYS);
    a = gcs_profile_attr_find(p, "dateHire");
    assert_int_equal(a->mode, GCS_ATTR_CREATE_ONLY);
    a = gcs_profile_attr_find(p, "phoneNumbers.mobile");
    assert_string_equal(a->path, "phoneNumbers");
    assert_string_equal(a->sub, "mobile");
    a = gcs_profile_attr_find(p, "externalIds.hr");
    assert_string_equal(a->sub, "hr");
    a = gcs_profile_attr_find(p, "email");
    assert_string_equal(a->path, "emails");
    assert_string_equal(a->sub, "work");
    /* The first matching key is required. */
    assert_true(gcs_profile_attr_find(p, "externalId")->required);
    assert_null(gcs_profile_attr_find(p, "nickName"));
    assert_int_equal(gcs_profile_attr_count(p), 17);
    assert_string_equal(gcs_profile_attr_at(p, 0)->name, "externalId");

    const char *header[] = {"employee_id", "first_name", "last_name", "email", "job_title",
                            "department", "division", "work_phone", "mobile_phone", "hire_date",
                            "manager_id", "status", "roles", "skills", "languages", "teams"};
    assert_int_equal(gcs_profile_check_fields(p, "hr.csv", header, 16), 0);
    /* The groups section's column is a field the profile reads too. */
    assert_int_equal(gcs_profile_check_fields(p, "hr.csv", header, 15), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "source field 'teams'"));
    const gcs_profile_groups *g = gcs_profile_groups_of(p);
    assert_true(g->enabled);
    assert_int_equal(g->hierarchy, GCS_GROUPS_KEPT);
    assert_false(g->authoritative);
    assert_int_equal(g->separator, ';');
    assert_non_null(strstr(g->file, "/examples/groups.csv"));
    assert_int_equal(gcs_profile_check_fields(p, "hr.csv", header, 14), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "source field 'languages'"));
    assert_non_null(strstr(gcs_error_last(), "line 76"));
    gcs_profile_free(p);

    gcs_profile *bulk;
    assert_int_equal(gcs_profile_load(&bulk, GCS_TEST_SOURCE_DIR "/examples/bulk-update/profile.yaml"), 0);
    assert_null(gcs_profile_managed_authority(bulk));
    assert_string_equal(gcs_profile_match_key(bulk, 0), "employeeNumber");
    assert_int_equal(gcs_profile_attr_count(bulk), 2);
    gcs_profile_free(bulk);
}

static void defaults(void **state)
{
    (void)state;
    gcs_profile *p = load("p.yaml", "attributes:\n  userName: email\n");
    assert_string_equal(gcs_profile_managed_authority(p), "gcscim");
    /* Default keys that the profile does not map are dropped. */
    assert_int_equal(gcs_profile_match_count(p), 1);
    assert_string_equal(gcs_profile_match_key(p, 0), "userName");
    gcs_profile_free(p);

    p = load("p.yaml", "password:\n  generate: true\n  length: 24\n  min_symbol: 3\n"
                       "attributes:\n  userName: email\n");
    const gcs_password_policy *pw = gcs_profile_password_policy(p);
    assert_true(pw->enabled);
    assert_int_equal(pw->length, 24);
    assert_int_equal(pw->min_symbol, 3);
    assert_int_equal(pw->min_digit, 1);
    gcs_profile_free(p);
}

static void json_profiles_have_lines_too(void **state)
{
    (void)state;
    refused("hr.json",
            "{\n  \"attributes\": {\n    \"userName\": {\n      \"from\": \"email\",\n"
            "      \"transform\": [\"trim\", \"upcase\"]\n    }\n  }\n}\n",
            "cannot read mapping profile 'hr.json': line 5: unknown transform 'upcase'", NULL);
    refused("hr.json", "{\n  \"attributes\": {\n    \"userName\": \"email\",\n  }\n}\n",
            "cannot read mapping profile 'hr.json': line 4", NULL);
    refused("hr.json", "{\"attributes\": {\"userName\": \"a\", \"userName\": \"b\"}}",
            "hr.json", "duplicate");
}

static void errors_name_the_line(void **state)
{
    (void)state;
    refused("hr.yaml",
            "version: 1\nattributes:\n  userName:\n    from: email\n    transform:\n"
            "      - trim\n      - upcase\n",
            "cannot read mapping profile 'hr.yaml': line 7: unknown transform 'upcase'", NULL);
    refused("hr.yaml", "attributes:\n  userName: email\n  nickName: nick\n",
            "line 3: unknown attribute 'nickName'", NULL);
    refused("hr.yaml", "attributes:\n  userName:\n    form: email\n",
            "line 3: unknown key 'form' in attribute 'userName'", NULL);
    refused("hr.yaml", "atributes:\n  userName: email\n", "line 1: unknown key 'atributes'", NULL);
    refused("hr.yaml", "attributes:\n  userName: email\n  userName: mail\n", "line 3",
            "duplicate key 'userName'");
    refused("hr.yaml", "attributes:\n  userName: [email\n", "hr.yaml", "line 3");
    refused("hr.yaml", "base: &b {from: x}\nattributes:\n  userName: *b\n", "line 1",
            "anchors");
    refused("hr.yaml", "version: 2\nattributes:\n  userName: email\n", "line 1",
            "unsupported profile version");
    refused("hr.yaml", "attributes:\n  title:\n    from: t\n    mode: sometimes\n", "line 4",
            "mode must be");
    refused("hr.yaml", "attributes:\n  userName:\n    from: a\n    template: \"{b}\"\n", "line 2",
            "exactly one of from, template or value");
    refused("hr.yaml", "attributes:\n  displayName:\n    template: \"{first} {last\"\n",
            "line 3", "unclosed");
    refused("hr.yaml", "attributes:\n  phoneNumbers.fax: fax\n", "line 2",
            "unknown phone type 'fax'");
    refused("hr.yaml", "attributes:\n  phoneNumbers: phone\n", "line 2", "needs a type");
    refused("hr.yaml", "attributes:\n  externalIds: id\n", "line 2", "needs a authority");
    refused("hr.yaml", "attributes:\n  title.x: t\n", "line 2", "takes no '.x'");
    refused("hr.yaml", "attributes:\n  userName: e\n  work:\n    from: p\n", "line 3",
            "unknown attribute 'work'");
    refused("hr.yaml",
            "attributes:\n  dateHire:\n    from: d\n    transform:\n      - date: \"%m/%Y\"\n",
            "line 5", "needs a year, month and day");
    refused("hr.yaml", "attributes:\n  phoneNumbers.work:\n    from: p\n    transform: phone\n",
            "line 4", "needs a country");
    refused("hr.yaml",
            "attributes:\n  phoneNumbers.work:\n    from: p\n    transform:\n      - phone: \"0044\"\n",
            "line 5", "not a country calling code");
    refused("hr.yaml",
            "attributes:\n  routingSkills:\n    from: s\n    proficiency: 7\n", "line 4",
            "proficiency must be a number from 0 to 5");
    refused("hr.yaml", "attributes:\n  title:\n    from: s\n    proficiency: 2\n", "line 4",
            "applies only to routingSkills");
    refused("hr.yaml", "attributes:\n  title:\n    from: s\n    min_length: 5\n    max_length: 2\n",
            "line 2", "min_length is over max_length");
    refused("hr.yaml", "attributes:\n  title:\n    from: s\n    transform:\n      - split: \"\"\n",
            "line 5", "separator is empty");
    refused("hr.yaml", "attributes:\n  title:\n    from: s\n    transform: [lookup]\n",
            "line 4", "needs an argument");
    refused("hr.yaml", "attributes:\n  title:\n    from: s\n    transform:\n      - lookup: [a]\n",
            "line 5", "lookup needs a table");
    refused("hr.yaml", "match: [employeeNumber]\nattributes:\n  userName: e\n", "line 1",
            "matching key 'employeeNumber' is not mapped");
    refused("hr.yaml", "match: [title]\nattributes:\n  title: e\n", "line 1",
            "'title' cannot be a matching key");
    refused("hr.yaml", "attributes:\n  title: t\n", "no matching key", NULL);
    refused("hr.yaml", "attributes:\n  userName: e\n  externalIds.gcscim: id\n", "line 3",
            "managed marker");
    refused("hr.yaml", "attributes:\n  userName: e\n  email: e\n  title: t\n  email: x\n",
            "line 5", "duplicate key");
    refused("hr.yaml", "attributes:\n  phoneNumbers.work: a\n  phoneNumbers.work: b\n", "line 3",
            NULL);
    refused("hr.yaml", "attributes: {}\n", "line 1", "at least one attribute");
    refused("hr.yaml", "- a\n- b\n", "must be an object", NULL);
    refused("hr.yaml", "", "must be an object", NULL);
    refused("hr.yaml", "password:\n  generate: true\n  length: 4\nattributes:\n  userName: e\n",
            "line 3", "length must be");
    refused("hr.yaml",
            "password:\n  length: 8\n  min_digit: 5\n  min_upper: 5\nattributes:\n  userName: e\n",
            "line 1", "minimums add up");
}

static void scope_errors(void **state)
{
    (void)state;
    refused("s.yaml", "scope:\n  field: status\nattributes:\n  userName: e\n", "line 2",
            "one test");
    refused("s.yaml", "scope:\n  field: status\n  equals: [a, b]\nattributes:\n  userName: e\n",
            "line 3", "takes one value");
    refused("s.yaml", "scope:\n  field: status\n  in: a\nattributes:\n  userName: e\n", "line 3",
            "takes a list");
    refused("s.yaml", "scope:\n  any: []\nattributes:\n  userName: e\n", "line 2",
            "needs a list");
    refused("s.yaml",
            "scope:\n  all:\n    - field: a\n      equals: x\n    - fild: b\n      equals: y\n"
            "attributes:\n  userName: e\n",
            "line 5", "unknown key 'fild'");
    refused("s.yaml", "scope:\n  field: s\n  matches: x\nattributes:\n  userName: e\n", "line 3",
            "unknown key 'matches'");
}

/* privileged_roles: default, explicit list, empty list, and errors with lines
 * in YAML and JSON. */
static void privileged_roles(void **state)
{
    (void)state;
    gcs_profile *p = load("p.yaml", "attributes:\n  userName: email\n");
    assert_int_equal(gcs_profile_privileged_role_count(p), 1);
    assert_string_equal(gcs_profile_privileged_role_at(p, 0), "Master Admin");
    assert_null(gcs_profile_privileged_role_at(p, 1));
    gcs_profile_free(p);

    p = load("p.yaml", "privileged_roles: [Master Admin, \"Telephony Admin\", Billing]\n"
                       "attributes:\n  userName: email\n");
    assert_int_equal(gcs_profile_privileged_role_count(p), 3);
    assert_string_equal(gcs_profile_privileged_role_at(p, 1), "Telephony Admin");
    assert_string_equal(gcs_profile_privileged_role_at(p, 2), "Billing");
    gcs_profile_free(p);

    /* An explicit empty list protects no role. */
    p = load("p.yaml", "privileged_roles: []\nattributes:\n  userName: email\n");
    assert_int_equal(gcs_profile_privileged_role_count(p), 0);
    assert_null(gcs_profile_privileged_role_at(p, 0));
    gcs_profile_free(p);

    p = load("p.json", "{\"privileged_roles\": [\"Admin\"], \"attributes\": {\"userName\": \"e\"}}");
    assert_int_equal(gcs_profile_privileged_role_count(p), 1);
    assert_string_equal(gcs_profile_privileged_role_at(p, 0), "Admin");
    gcs_profile_free(p);

    refused("p.yaml", "attributes:\n  userName: e\nprivileged_roles: Master Admin\n",
            "p.yaml': line 3: privileged_roles is a list of role names", NULL);
    refused("p.yaml", "privileged_roles:\n  - Master Admin\n  - 42\nattributes:\n  userName: e\n",
            "p.yaml': line 3: privileged_roles: item 2 is not a role name", NULL);
    refused("p.yaml", "privileged_roles:\n  - Master Admin\n  - {name: x}\nattributes:\n  userName: e\n",
            "line 3: privileged_roles: item 2 is not a role name", NULL);
    refused("p.yaml", "privileged_roles:\n  - \"\"\nattributes:\n  userName: e\n",
            "line 2: privileged_roles: an empty role name", NULL);
    refused("p.yaml", "privileged_roles:\n  - \" Admin\"\nattributes:\n  userName: e\n",
            "line 2: privileged_roles: role name ' Admin' has blanks around it", NULL);
    refused("p.yaml", "privileged_roles:\n  - Master Admin\n  - master admin\n"
                      "attributes:\n  userName: e\n",
            "line 3: privileged_roles: role 'master admin' is listed twice", NULL);
    refused("p.json", "{\n  \"attributes\": {\"userName\": \"e\"},\n  \"privileged_roles\": [\n"
                      "    \"Admin\",\n    null\n  ]\n}\n",
            "p.json': line 3: privileged_roles: item 2 is not a role name", NULL);
}

static void files(void **state)
{
    (void)state;
    gcs_profile *p;
    assert_int_equal(gcs_profile_load(&p, "/nonexistent/hr.yaml"), GCS_EIO);
    assert_non_null(strstr(gcs_error_last(), "cannot read mapping profile '/nonexistent/hr.yaml'"));
    char *dir = gcs_test_tmpdir();
    char *path = gcs_test_write_file(dir, "hr.yaml", "attributes:\n  userName:\n    from: e\n"
                                                     "    transform: [upcase]\n");
    assert_int_equal(gcs_profile_load(&p, path), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "hr.yaml': line 4: unknown transform 'upcase'"));
    free(path);
    gcs_test_tmpdir_remove(dir);
}

int main(void)
{
    gcs_test_deadline(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_profile_loads),
        cmocka_unit_test(defaults),
        cmocka_unit_test(json_profiles_have_lines_too),
        cmocka_unit_test(errors_name_the_line),
        cmocka_unit_test(scope_errors),
        cmocka_unit_test(privileged_roles),
        cmocka_unit_test(files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
