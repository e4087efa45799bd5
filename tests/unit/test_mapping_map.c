/*
 * Rows into desired SCIM users, what only C can say: rows built by hand (bad
 * bytes a source never hands out), the fields of a row's errors, the manager
 * written once resolved, the organisation's names, and attribute values for
 * diffing. What a profile makes of rows is data: tests/data/mapping/cases/,
 * run by test_mapping_cases.c.
 */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mapping/map.h"

#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define GEN "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"

/* ==== Helpers ==== */

static gcs_profile *profile(const char *yaml)
{
    gcs_profile *p = NULL;
    if (gcs_profile_load_mem(&p, "t.yaml", yaml, strlen(yaml)) != 0)
        fail_msg("profile: %s", gcs_error_last());
    return p;
}

/* A row from "name=value" strings (NULL-terminated); columns are positions. */
typedef struct test_row {
    gcs_row row;
    gcs_row_field fields[32];
    char *names[32];
} test_row;

static const gcs_row *make_row(test_row *t, const char *const *kv)
{
    memset(t, 0, sizeof *t);
    size_t n = 0;
    for (; kv[n]; n++) {
        const char *eq = strchr(kv[n], '=');
        t->names[n] = strndup(kv[n], (size_t)(eq - kv[n]));
        assert_non_null(t->names[n]);
        t->fields[n].name = t->names[n];
        t->fields[n].value = eq + 1;
        t->fields[n].column = (unsigned int)n + 1;
    }
    t->row.file = "hr.csv";
    t->row.line = 7;
    t->row.number = 6;
    t->row.count = n;
    t->row.fields = t->fields;
    return &t->row;
}

static void free_row(test_row *t)
{
    for (size_t i = 0; i < t->row.count; i++)
        free(t->names[i]);
}

/* Maps and expects success. */
static void map_ok(gcs_map_user *u, const gcs_profile *p, const char *const *kv)
{
    test_row t;
    int rc = gcs_map_row(u, p, make_row(&t, kv), NULL);
    free_row(&t);
    if (rc != 0 || u->status != GCS_MAP_OK)
        fail_msg("row rejected: %s", gcs_error_last());
}

/* Maps and expects rejection with an error holding `part`. */
static void rejected(const char *yaml, const char *const *kv, const gcs_org_names *org,
                     const char *part)
{
    gcs_profile *p = profile(yaml);
    gcs_map_user u;
    test_row t;
    int rc = gcs_map_row(&u, p, make_row(&t, kv), org);
    free_row(&t);
    assert_int_equal(rc, GCS_EINVALID);
    assert_int_equal(u.status, GCS_MAP_REJECTED);
    assert_null(u.user);
    assert_null(u.source_key);
    assert_int_equal(u.match_count, 0);
    assert_true(u.errors.count > 0);
    bool found = false;
    for (size_t i = 0; i < u.errors.count; i++) {
        char text[1024];
        found = found || strstr(gcs_row_error_format(text, sizeof text, &u.errors.items[i]), part);
    }
    if (!found)
        fail_msg("no error holds '%s'; first: %s", part, gcs_error_last());
    gcs_map_user_release(&u);
    gcs_profile_free(p);
}

static gcs_org_names *org_from_seed(void)
{
    json_error_t err;
    json_t *seed = json_load_file(GCS_TEST_SOURCE_DIR "/examples/org.json", 0, &err);
    assert_non_null(seed);
    gcs_org_names *org;
    assert_int_equal(gcs_org_names_new(&org), 0);
    const char *kinds[] = {"roles", "divisions", "skills", "languages"};
    for (int k = 0; k < GCS_ORG__COUNT; k++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(seed, kinds[k]), i, e) {
            assert_int_equal(gcs_org_names_add(org, (gcs_org_kind)k,
                                               json_string_value(json_object_get(e, "name"))), 0);
        }
    }
    json_decref(seed);
    return org;
}

/* ==== Rows built by hand ==== */

#define BASE "attributes:\n  userName: email\n"

static void bad_text_in_a_handmade_row(void **state)
{
    (void)state;
    const char *kv[] = {"email=a@example.com", "t=bad \xff byte", NULL};
    rejected(BASE "  title: t\n", kv, NULL, "not valid UTF-8");
    rejected(BASE "  displayName:\n    template: \"{t}\"\n", kv, NULL, "not valid UTF-8");
}

/* Every error of a row, with its place: file, line, column and field; the
 * thread's error is the first. */
static void errors_carry_their_place(void **state)
{
    (void)state;
    const char *kv[] = {"email=bob@", "id=E1", "t=abc", "p=12345", "d=2021-02-30", NULL};
    gcs_profile *p = profile(BASE "  phoneNumbers.work: p\n  dateHire: d\n");
    gcs_map_user u;
    test_row t;
    assert_int_equal(gcs_map_row(&u, p, make_row(&t, kv), NULL), GCS_EINVALID);
    assert_int_equal(u.errors.count, 3);
    assert_string_equal(u.errors.items[1].file, "hr.csv");
    assert_int_equal(u.errors.items[1].line, 7);
    assert_int_equal(u.errors.items[1].column, 4);
    assert_string_equal(u.errors.items[1].field, "p");
    assert_non_null(strstr(gcs_error_last(), "'bob@' is not an email address"));
    free_row(&t);
    gcs_map_user_release(&u);
    gcs_profile_free(p);
}

/* The manager is a source key until the planner resolves it to a Genesys id. */
static void manager_written_once_resolved(void **state)
{
    (void)state;
    gcs_profile *p = profile("match: [externalId]\nattributes:\n  externalId: id\n"
                             "  userName: email\n  manager: boss\n");
    const char *kv[] = {"id=E2", "email=a@example.com", "boss=E1", NULL};
    gcs_map_user u;
    map_ok(&u, p, kv);
    assert_string_equal(u.manager_key, "E1");
    assert_null(json_object_get(json_object_get(u.user, ENT), "manager"));
    assert_string_equal(u.file, "hr.csv");
    assert_int_equal(u.line, 7);
    assert_int_equal(gcs_map_user_set_manager(&u, "3b0c6c5e-0000-4000-8000-000000000001"), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(u.user, ENT), "manager"), "value")),
                        "3b0c6c5e-0000-4000-8000-000000000001");
    gcs_map_user_release(&u);
    gcs_profile_free(p);
}

static void names_of_the_org(void **state)
{
    (void)state;
    gcs_org_names *org = org_from_seed();
    assert_true(gcs_org_names_has(org, GCS_ORG_SKILL, "Billing"));
    assert_false(gcs_org_names_has(org, GCS_ORG_SKILL, "billing"));
    assert_int_equal(gcs_org_names_count(org, GCS_ORG_LANGUAGE), 6);
    gcs_org_names_free(org);
}

/* ==== Values for diffing ==== */

static void attribute_values_for_diffing(void **state)
{
    (void)state;
    gcs_profile *p;
    assert_int_equal(gcs_profile_load(&p, GCS_TEST_SOURCE_DIR "/examples/profile.yaml"), 0);
    const char *kv[] = {"employee_id=EC1003", "first_name=Priya", "last_name=Raman",
                        "email=priya.raman@example.com", "job_title=Support Team Lead",
                        "department=Support", "division=Support", "work_phone=555-010-1003",
                        "mobile_phone=", "hire_date=09/01/2018", "manager_id=EC1002",
                        "status=Active", "roles=Employee;Team Lead;Agent",
                        "skills=Billing:5;Escalations:4", "languages=English;Tamil:5", NULL};
    gcs_map_user u;
    map_ok(&u, p, kv);
    json_t *seed = json_load_file(GCS_TEST_SOURCE_DIR "/examples/org.json", 0, NULL);
    const json_t *current = json_array_get(json_object_get(seed, "users"), 0);
    assert_string_equal(json_string_value(json_object_get(current, "userName")),
                        "priya.raman@example.com");
    gcs_buf diff;
    gcs_buf_init(&diff, 0);
    for (size_t i = 0; i < gcs_profile_attr_count(p); i++) {
        const gcs_profile_attr *a = gcs_profile_attr_at(p, i);
        json_t *want = gcs_scim_attr_value(u.user, a), *have = gcs_scim_attr_value(current, a);
        if (!gcs_scim_attr_equal(want, have))
            assert_int_equal(gcs_buf_printf(&diff, "%s ", a->name), 0);
        json_decref(want);
        json_decref(have);
    }
    assert_string_equal(diff.ptr, "title roles routingSkills routingLanguages ");
    gcs_buf_release(&diff);

    /* Normalised: order, repeats, integer or real proficiencies do not matter. */
    json_t *x = json_loads("{\"roles\":[{\"value\":\"B\"},{\"value\":\"A\"},{\"value\":\"B\"}],"
                           "\"" GEN "\":{\"routingSkills\":[{\"name\":\"S\",\"proficiency\":3},"
                           "{\"name\":\"R\",\"proficiency\":1.5}]}}", 0, NULL);
    json_t *y = json_loads("{\"roles\":[{\"value\":\"A\"},{\"value\":\"B\"}],"
                           "\"" GEN "\":{\"routingSkills\":[{\"name\":\"R\",\"proficiency\":1.5},"
                           "{\"name\":\"S\",\"proficiency\":3.0}]}}", 0, NULL);
    assert_non_null(x);
    assert_non_null(y);
    const gcs_profile_attr *roles = gcs_profile_attr_find(p, "roles");
    const gcs_profile_attr *skills = gcs_profile_attr_find(p, "routingSkills");
    const gcs_profile_attr *title = gcs_profile_attr_find(p, "title");
    json_t *a = gcs_scim_attr_value(x, roles), *b = gcs_scim_attr_value(y, roles);
    assert_true(gcs_scim_attr_equal(a, b));
    json_decref(a);
    json_decref(b);
    a = gcs_scim_attr_value(x, skills);
    b = gcs_scim_attr_value(y, skills);
    assert_true(gcs_scim_attr_equal(a, b));
    json_decref(a);
    json_decref(b);
    assert_null(gcs_scim_attr_value(x, title));
    assert_true(gcs_scim_attr_equal(NULL, NULL));
    json_t *t = json_string("x");
    assert_false(gcs_scim_attr_equal(t, NULL));
    json_decref(t);

    /* Once resolved, the manager reads back as the Genesys id. */
    assert_int_equal(gcs_map_user_set_manager(&u, "id-1"), 0);
    a = gcs_scim_attr_value(u.user, gcs_profile_attr_find(p, "manager"));
    assert_string_equal(json_string_value(a), "id-1");
    json_decref(a);
    json_decref(x);
    json_decref(y);
    json_decref(seed);
    gcs_map_user_release(&u);
    gcs_profile_free(p);
}

int main(void)
{
    gcs_test_deadline(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_text_in_a_handmade_row),
        cmocka_unit_test(errors_carry_their_place),
        cmocka_unit_test(manager_written_once_resolved),
        cmocka_unit_test(names_of_the_org),
        cmocka_unit_test(attribute_values_for_diffing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
