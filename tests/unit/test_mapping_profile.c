/* Mapping profiles: what a loaded profile exposes, defaults, files. The profiles
 * refused, each with its message and line, are data: tests/data/mapping/cases/profile-*. */
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

/* privileged_roles: default, explicit list, empty list (its errors are data:
 * tests/data/mapping/cases/profile-privileged-roles-*). */
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
        cmocka_unit_test(privileged_roles),
        cmocka_unit_test(files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
