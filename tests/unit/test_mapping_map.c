/* Rows into desired SCIM users: targets, transforms, validation, scope, rejection. */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mapping/map.h"
#include "mapping/source.h"

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

/* Maps and expects success; returns the user's JSON text (sorted keys). */
static char *map_ok(gcs_map_user *u, const gcs_profile *p, const char *const *kv,
                    const gcs_org_names *org)
{
    test_row t;
    int rc = gcs_map_row(u, p, make_row(&t, kv), org);
    free_row(&t);
    if (rc != 0 || u->status != GCS_MAP_OK)
        fail_msg("row rejected: %s", gcs_error_last());
    return json_dumps(u->user, JSON_COMPACT | JSON_SORT_KEYS);
}

/* Maps one attribute's worth: returns the JSON text of `path` inside the user. */
static char *one(const char *yaml, const char *const *kv, const char *key, const char *sub)
{
    gcs_profile *p = profile(yaml);
    gcs_map_user u;
    free(map_ok(&u, p, kv, NULL));
    json_t *v = json_object_get(u.user, key);
    if (sub)
        v = json_object_get(v, sub);
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("(none)");
    gcs_map_user_release(&u);
    gcs_profile_free(p);
    return s;
}

#define ASSERT_ONE(yaml, kv, key, sub, want)                                                       \
    do {                                                                                           \
        char *got_ = one(yaml, kv, key, sub);                                                      \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

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

/* ==== The example: every row of the HR export ==== */

static void example_export_maps_completely(void **state)
{
    (void)state;
    gcs_profile *p;
    assert_int_equal(gcs_profile_load(&p, GCS_TEST_SOURCE_DIR "/examples/profile.yaml"), 0);
    gcs_org_names *org = org_from_seed();
    gcs_source *src;
    assert_int_equal(gcs_source_open(&src, GCS_TEST_SOURCE_DIR "/examples/hr-export.csv",
                                     GCS_SOURCE_AUTO, NULL), 0);
    size_t header_n;
    const char *const *header = gcs_source_header(src, &header_n);
    assert_int_equal(gcs_profile_check_fields(p, "hr-export.csv", header, header_n), 0);

    int ok = 0, out_of_scope = 0, rejected_rows = 0, inactive = 0;
    const gcs_row *row;
    int rc;
    while ((rc = gcs_source_next(&row, src)) == GCS_SOURCE_ROW) {
        gcs_map_user u;
        rc = gcs_map_row(&u, p, row, org);
        if (rc != 0)
            fail_msg("%s", gcs_error_last());
        if (u.status == GCS_MAP_OUT_OF_SCOPE) {
            out_of_scope++;
            assert_null(u.user);
        } else if (u.status == GCS_MAP_REJECTED) {
            rejected_rows++;
        } else {
            ok++;
            inactive += json_is_false(json_object_get(u.user, "active"));
            assert_string_equal(u.source_key, gcs_map_user_match(&u, "externalId"));
        }
        if (u.source_key && !strcmp(u.source_key, "EC1007")) {
            char *s = json_dumps(json_object_get(u.user, "phoneNumbers"), JSON_COMPACT);
            assert_string_equal(s, "[{\"value\":\"+442079460107\",\"type\":\"work\"},"
                                   "{\"value\":\"+447700900107\",\"type\":\"mobile\"}]");
            free(s);
            assert_string_equal(u.manager_key, "EC1003");
        }
        if (u.source_key && !strcmp(u.source_key, "EC1001"))
            assert_null(u.manager_key);
        gcs_map_user_release(&u);
    }
    assert_int_equal(rc, GCS_SOURCE_END);
    assert_int_equal(ok, 24);
    assert_int_equal(out_of_scope, 1); /* the pending hire */
    assert_int_equal(rejected_rows, 0);
    assert_int_equal(inactive, 2);     /* the two leavers */
    gcs_source_free(src);
    gcs_org_names_free(org);
    gcs_profile_free(p);
}

static void exact_shape_of_a_user(void **state)
{
    (void)state;
    gcs_profile *p;
    assert_int_equal(gcs_profile_load(&p, GCS_TEST_SOURCE_DIR "/examples/profile.yaml"), 0);
    gcs_org_names *org = org_from_seed();
    const char *kv[] = {"employee_id=ec1006 ", "first_name=Liam", "last_name=O'Connell",
                        "email= Liam.OConnell@Example.com", "job_title=Senior Support Agent",
                        "department=Support ", "division=Support", "work_phone=(555) 010-1006",
                        "mobile_phone=", "hire_date=03/15/2021", "manager_id=EC1003",
                        "status=Active", "roles=Employee;Agent;Employee",
                        "skills=Technical Support:5;Billing", "languages=English", NULL};
    gcs_map_user u;
    char *got = map_ok(&u, p, kv, org);
    json_t *want = json_pack(
        "{s:[sss],s:s,s:s,s:s,s:b,s:s,s:[{s:s,s:s,s:b}],s:[{s:s,s:s}],s:[{s:s},{s:s}],"
        "s:{s:s,s:s,s:s,s:s},s:{s:[{s:s,s:f},{s:s,s:f}],s:[{s:s,s:f}],s:[{s:s,s:s},{s:s,s:s}]}}",
        "schemas", "urn:ietf:params:scim:schemas:core:2.0:User", ENT, GEN,
        "externalId", "EC1006", "userName", "liam.oconnell@example.com",
        "displayName", "Liam O'Connell", "active", 1, "title", "Senior Support Agent",
        "emails", "value", "liam.oconnell@example.com", "type", "work", "primary", 1,
        "phoneNumbers", "value", "+15550101006", "type", "work",
        "roles", "value", "Employee", "value", "Agent",
        ENT, "department", "Support", "division", "Support", "employeeNumber", "ec1006 ",
        "dateHire", "2021-03-15",
        GEN, "routingSkills", "name", "Technical Support", "proficiency", 5.0, "name", "Billing",
        "proficiency", 3.0, "routingLanguages", "name", "English", "proficiency", 5.0,
        "externalIds", "authority", "hr", "value", "EC1006", "authority", "gcscim", "value",
        "EC1006");
    assert_non_null(want);
    char *want_text = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(got, want_text);
    assert_false(json_object_get(json_object_get(u.user, ENT), "manager") != NULL);
    assert_string_equal(u.manager_key, "EC1003");
    assert_string_equal(u.source_key, "EC1006");
    assert_int_equal(u.match_count, 2);
    assert_string_equal(u.match[1].key, "userName");
    assert_string_equal(u.match[1].value, "liam.oconnell@example.com");
    assert_int_equal(u.create_only_count, 1);
    assert_string_equal(u.create_only[0]->name, "dateHire");
    assert_string_equal(u.file, "hr.csv");
    assert_int_equal(u.line, 7);

    assert_int_equal(gcs_map_user_set_manager(&u, "3b0c6c5e-0000-4000-8000-000000000001"), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(u.user, ENT), "manager"), "value")),
                        "3b0c6c5e-0000-4000-8000-000000000001");
    free(want_text);
    json_decref(want);
    free(got);
    gcs_map_user_release(&u);
    gcs_org_names_free(org);
    gcs_profile_free(p);
}

/* ==== Transforms ==== */

#define BASE "attributes:\n  userName: email\n"

static void transforms(void **state)
{
    (void)state;
    const char *kv[] = {"email=a@example.com", "t=  Mixed Case  ", "first=Ann", "last=Lee",
                        "list=a; b ;;c", "status=Leaver", "empty=", "d=15.03.2021",
                        "p=07700 900123", "j=[\"x\",2,\"\"]", NULL};
    ASSERT_ONE(BASE "  title:\n    from: t\n    transform: trim\n", kv, "title", NULL,
               "\"Mixed Case\"");
    ASSERT_ONE(BASE "  title:\n    from: t\n    transform: [trim, lower]\n", kv, "title", NULL,
               "\"mixed case\"");
    ASSERT_ONE(BASE "  title:\n    from: t\n    transform: [upper, trim]\n", kv, "title", NULL,
               "\"MIXED CASE\"");
    ASSERT_ONE(BASE "  displayName:\n    template: \"{last}, {first} {{x}}\"\n", kv,
               "displayName", NULL, "\"Lee, Ann {x}\"");
    ASSERT_ONE(BASE "  displayName:\n    template: \"{first} {missing}\"\n    transform: trim\n",
               kv, "displayName", NULL, "\"Ann\"");
    ASSERT_ONE(BASE "  roles:\n    from: list\n    transform:\n      - split: \";\"\n", kv,
               "roles", NULL, "[{\"value\":\"a\"},{\"value\":\"b\"},{\"value\":\"c\"}]");
    ASSERT_ONE(BASE "  roles:\n    from: j\n    transform: json_list\n", kv, "roles", NULL,
               "[{\"value\":\"x\"},{\"value\":\"2\"}]");
    ASSERT_ONE(BASE "  active:\n    from: status\n    transform:\n"
                    "      - lookup: {active: \"true\", leaver: \"false\"}\n",
               kv, "active", NULL, "false");
    ASSERT_ONE(BASE "  title:\n    from: status\n    transform:\n"
                    "      - lookup: {x: y}\n        default: Unknown\n",
               kv, "title", NULL, "\"Unknown\"");
    ASSERT_ONE(BASE "  title:\n    from: empty\n    transform:\n      - default: Agent\n", kv,
               "title", NULL, "\"Agent\"");
    ASSERT_ONE(BASE "  title:\n    from: empty\n    default: Agent\n", kv, "title", NULL,
               "\"Agent\"");
    ASSERT_ONE(BASE "  title:\n    value: Contractor\n", kv, "title", NULL, "\"Contractor\"");
    ASSERT_ONE(BASE "  title:\n    from: empty\n", kv, "title", NULL, "(none)");
    ASSERT_ONE(BASE "  dateHire:\n    from: d\n    transform:\n      - date: \"%d.%m.%Y\"\n", kv,
               ENT, "dateHire", "\"2021-03-15\"");
    ASSERT_ONE(BASE "  phoneNumbers.mobile:\n    from: p\n    transform:\n      - phone: \"+44\"\n",
               kv, "phoneNumbers", NULL, "[{\"value\":\"+447700900123\",\"type\":\"mobile\"}]");
    ASSERT_ONE("phone_country: 44\n" BASE "  phoneNumbers.home:\n    from: p\n    transform: phone\n",
               kv, "phoneNumbers", NULL, "[{\"value\":\"+447700900123\",\"type\":\"home\"}]");
    ASSERT_ONE(BASE "  routingSkills:\n    from: list\n    transform:\n      - split: \";\"\n"
                    "      - upper\n    proficiency: 2.5\n",
               kv, GEN, "routingSkills",
               "[{\"name\":\"A\",\"proficiency\":2.5},{\"name\":\"B\",\"proficiency\":2.5},"
               "{\"name\":\"C\",\"proficiency\":2.5}]");
    ASSERT_ONE(BASE "  routingLanguages:\n    value: \"French = 4\"\n"
                    "    proficiency_separator: \"=\"\n",
               kv, GEN, "routingLanguages", "[{\"name\":\"French\",\"proficiency\":4.0}]");
    ASSERT_ONE(BASE "  active:\n    value: yes\n", kv, "active", NULL, "true");
}

/* ==== Validation ==== */

static void validation(void **state)
{
    (void)state;
    const char *kv[] = {"email=bob@", "id=E1", "t=abc", "p=12345", "d=2021-02-30",
                        "s=Billing:7", "ok=ann@example.com", NULL};
    rejected(BASE, kv, NULL, "hr.csv: line 7, column 1 (email): userName: 'bob@' is not an email address");
    rejected("attributes:\n  userName: ok\n  email: email\n", kv, NULL, "not an email address");
    rejected("attributes:\n  userName: ok\n  title:\n    from: nothing\n    required: true\n", kv,
             NULL, "(nothing): title: is required but the field is empty");
    rejected("attributes:\n  userName: ok\n  title:\n    from: t\n    min_length: 4\n", kv, NULL,
             "shorter than 4");
    rejected("attributes:\n  userName: ok\n  title:\n    from: t\n    max_length: 2\n", kv, NULL,
             "longer than 2");
    rejected("attributes:\n  userName: ok\n  phoneNumbers.work: p\n", kv, NULL,
             "column 4 (p): phoneNumbers.work: '12345' is not an E.164 number");
    rejected("attributes:\n  userName: ok\n  phoneNumbers.work:\n    from: p\n    transform:\n"
             "      - phone: \"1\"\n", kv, NULL, "not a North American number");
    rejected("attributes:\n  userName: ok\n  dateHire: d\n", kv, NULL, "not a YYYY-MM-DD date");
    rejected("attributes:\n  userName: ok\n  routingSkills: s\n", kv, NULL,
             "proficiency 7 is outside 0 to 5");
    rejected("attributes:\n  userName: ok\n  active: t\n", kv, NULL, "'abc' is not true or false");
    rejected("attributes:\n  userName: ok\n  title:\n    from: t\n    transform:\n"
             "      - lookup: {x: y}\n", kv, NULL, "'abc' is not in the lookup table");
    rejected("attributes:\n  userName: ok\n  title:\n    value: \"a,b\"\n    transform:\n"
             "      - split: \",\"\n", kv, NULL, "gives 2 values where one is expected");
    rejected("attributes:\n  userName: ok\n  dateHire:\n    from: t\n    transform:\n"
             "      - date: \"%m/%d/%Y\"\n", kv, NULL, "'abc' does not match the date format");
    rejected("attributes:\n  userName: ok\n  manager: ok\n", kv, NULL, "the person's own key");

    /* Every error of the row is reported, not only the first. */
    gcs_profile *p = profile("attributes:\n  userName: email\n  phoneNumbers.work: p\n"
                             "  dateHire: d\n");
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

static void lists_of_at_most_fifty(void **state)
{
    (void)state;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_buf_puts(&b, "s="), 0);
    for (int i = 0; i < 51; i++)
        assert_int_equal(gcs_buf_printf(&b, "%sS%d:1", i ? ";" : "", i), 0);
    const char *kv[] = {"email=a@example.com", b.ptr, NULL};
    rejected(BASE "  routingSkills:\n    from: s\n    transform:\n      - split: \";\"\n", kv,
             NULL, "51 entries: Genesys allows at most 50");
    rejected(BASE "  routingLanguages:\n    from: s\n    transform:\n      - split: \";\"\n", kv,
             NULL, "51 entries: Genesys allows at most 50");
    /* Fifty is fine. */
    b.len -= strlen(";S50:1");
    b.ptr[b.len] = '\0';
    char *got = one(BASE "  routingSkills:\n    from: s\n    transform:\n      - split: \";\"\n",
                    kv, GEN, "routingSkills");
    json_t *arr = json_loads(got, JSON_DECODE_ANY, NULL);
    assert_int_equal(json_array_size(arr), 50);
    json_decref(arr);
    free(got);
    gcs_buf_release(&b);
}

static void names_must_exist_in_the_org(void **state)
{
    (void)state;
    gcs_org_names *org = org_from_seed();
    const char *kv[] = {"email=a@example.com", "r=Employee;Astronaut", "d=Mars", "s=billing",
                        "l=Klingon:2", NULL};
    rejected(BASE "  roles:\n    from: r\n    transform:\n      - split: \";\"\n", kv, org,
             "roles: role 'Astronaut' does not exist in the organisation");
    rejected(BASE "  division: d\n", kv, org, "division 'Mars' does not exist");
    rejected(BASE "  routingSkills: s\n", kv, org,
             "skill 'billing' does not exist in the organisation (names are case-sensitive: "
             "'Billing' does)");
    rejected(BASE "  routingLanguages: l\n", kv, org, "language 'Klingon' does not exist");
    /* Without the org's names (offline), names are not checked. */
    ASSERT_ONE(BASE "  division: d\n", kv, ENT, "division", "\"Mars\"");
    assert_true(gcs_org_names_has(org, GCS_ORG_SKILL, "Billing"));
    assert_false(gcs_org_names_has(org, GCS_ORG_SKILL, "billing"));
    assert_int_equal(gcs_org_names_count(org, GCS_ORG_LANGUAGE), 6);
    gcs_org_names_free(org);
}

/* ==== Scope ==== */

static gcs_map_status scope_of(const char *scope_yaml, const char *const *kv)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml, "scope:\n%s" BASE, scope_yaml);
    gcs_profile *p = profile(yaml);
    gcs_map_user u;
    test_row t;
    int rc = gcs_map_row(&u, p, make_row(&t, kv), NULL);
    assert_int_equal(rc, 0);
    gcs_map_status s = u.status;
    if (s == GCS_MAP_OUT_OF_SCOPE)
        assert_null(u.user);
    free_row(&t);
    gcs_map_user_release(&u);
    gcs_profile_free(p);
    return s;
}

static void scope(void **state)
{
    (void)state;
    const char *kv[] = {"email=a@example.com", "status= Active ", "type=", "dept=Sales", NULL};
    assert_int_equal(scope_of("  field: status\n  equals: active\n", kv), GCS_MAP_OK);
    assert_int_equal(scope_of("  field: status\n  equals: leaver\n", kv), GCS_MAP_OUT_OF_SCOPE);
    assert_int_equal(scope_of("  field: status\n  not_equals: leaver\n", kv), GCS_MAP_OK);
    assert_int_equal(scope_of("  field: status\n  in: [leaver, active]\n", kv), GCS_MAP_OK);
    assert_int_equal(scope_of("  field: status\n  not_in: [leaver, active]\n", kv),
                     GCS_MAP_OUT_OF_SCOPE);
    assert_int_equal(scope_of("  field: type\n  empty: true\n", kv), GCS_MAP_OK);
    assert_int_equal(scope_of("  field: type\n  not_empty: true\n", kv), GCS_MAP_OUT_OF_SCOPE);
    assert_int_equal(scope_of("  field: absent\n  empty: true\n", kv), GCS_MAP_OK);
    assert_int_equal(scope_of("  all:\n    - {field: status, equals: active}\n"
                              "    - {field: dept, equals: Support}\n", kv),
                     GCS_MAP_OUT_OF_SCOPE);
    assert_int_equal(scope_of("  any:\n    - {field: status, equals: active}\n"
                              "    - {field: dept, equals: Support}\n", kv),
                     GCS_MAP_OK);
    assert_int_equal(scope_of("  not: {field: dept, in: [Sales, Marketing]}\n", kv),
                     GCS_MAP_OUT_OF_SCOPE);
    assert_int_equal(scope_of("  - {field: status, equals: active}\n"
                              "  - any:\n      - {field: dept, equals: Support}\n"
                              "      - not: {field: type, not_empty: true}\n", kv),
                     GCS_MAP_OK);
}

/* ==== Keys, markers, YAML and JSON ==== */

static void matching_keys_and_marker(void **state)
{
    (void)state;
    const char *kv[] = {"email=ann@example.com", "num=1001", NULL};
    gcs_profile *p = profile("managed_by: acme-sync\nmatch: [employeeNumber, userName]\n"
                             "attributes:\n  userName: email\n  employeeNumber: num\n");
    gcs_map_user u;
    free(map_ok(&u, p, kv, NULL));
    assert_string_equal(u.source_key, "1001");
    assert_string_equal(gcs_map_user_match(&u, "userName"), "ann@example.com");
    char *ids = json_dumps(json_object_get(json_object_get(u.user, GEN), "externalIds"),
                           JSON_COMPACT);
    assert_string_equal(ids, "[{\"authority\":\"acme-sync\",\"value\":\"1001\"}]");
    free(ids);
    gcs_map_user_release(&u);

    /* The first key is required; the second may be missing. */
    const char *nokey[] = {"email=ann@example.com", "num=", NULL};
    test_row t;
    assert_int_equal(gcs_map_row(&u, p, make_row(&t, nokey), NULL), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "employeeNumber: is required"));
    free_row(&t);
    gcs_map_user_release(&u);
    gcs_profile_free(p);

    /* managed_by: false writes no marker. */
    p = profile("managed_by: false\nmatch: [employeeNumber]\nattributes:\n  employeeNumber: num\n");
    free(map_ok(&u, p, kv, NULL));
    assert_null(json_object_get(u.user, GEN));
    gcs_map_user_release(&u);
    gcs_profile_free(p);
}

static void yaml_and_json_profiles_agree(void **state)
{
    (void)state;
    const char *yaml =
        "# comment\n"
        "managed_by: gcscim\n"
        "phone_country: 44\n"
        "match: [externalId, userName]\n"
        "scope: {field: status, in: [active, leaver]}\n"
        "attributes:\n"
        "  externalId: id\n"
        "  userName: {from: email, transform: [trim, lower]}\n"
        "  displayName:\n    template: '{first} {last}'\n"
        "  active:\n    from: status\n    transform:\n      - lookup: {active: 'true'}\n"
        "        default: 'false'\n"
        "  phoneNumbers.work: {from: phone, transform: [phone]}\n"
        "  dateHire: {from: hired, transform: [{date: '%d/%m/%Y'}], mode: create_only}\n"
        "  routingSkills: {from: skills, transform: [{split: ','}], proficiency: 1}\n";
    const char *json =
        "{\"managed_by\":\"gcscim\",\"phone_country\":44,\"match\":[\"externalId\",\"userName\"],"
        "\"scope\":{\"field\":\"status\",\"in\":[\"active\",\"leaver\"]},"
        "\"attributes\":{\"externalId\":\"id\","
        "\"userName\":{\"from\":\"email\",\"transform\":[\"trim\",\"lower\"]},"
        "\"displayName\":{\"template\":\"{first} {last}\"},"
        "\"active\":{\"from\":\"status\",\"transform\":[{\"lookup\":{\"active\":\"true\"},"
        "\"default\":\"false\"}]},"
        "\"phoneNumbers.work\":{\"from\":\"phone\",\"transform\":[\"phone\"]},"
        "\"dateHire\":{\"from\":\"hired\",\"transform\":[{\"date\":\"%d/%m/%Y\"}],"
        "\"mode\":\"create_only\"},"
        "\"routingSkills\":{\"from\":\"skills\",\"transform\":[{\"split\":\",\"}],"
        "\"proficiency\":1}}}";
    gcs_profile *py = NULL, *pj = NULL;
    assert_int_equal(gcs_profile_load_mem(&py, "p.yaml", yaml, strlen(yaml)), 0);
    assert_int_equal(gcs_profile_load_mem(&pj, "p.json", json, strlen(json)), 0);
    const char *kv[] = {"id=X1", "email= Ann@Example.com", "first=Ann", "last=Lee",
                        "status=leaver", "phone=020 7946 0000", "hired=01/02/2020",
                        "skills=A,B:4", NULL};
    gcs_map_user uy, uj;
    char *a = map_ok(&uy, py, kv, NULL);
    char *b = map_ok(&uj, pj, kv, NULL);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "\"dateHire\":\"2020-02-01\""));
    assert_non_null(strstr(a, "\"active\":false"));
    assert_non_null(strstr(a, "+442079460000"));
    assert_int_equal(uy.create_only_count, uj.create_only_count);
    free(a);
    free(b);
    gcs_map_user_release(&uy);
    gcs_map_user_release(&uj);
    gcs_profile_free(py);
    gcs_profile_free(pj);
}

static void bad_text_in_a_handmade_row(void **state)
{
    (void)state;
    const char *kv[] = {"email=a@example.com", "t=bad \xff byte", NULL};
    rejected(BASE "  title: t\n", kv, NULL, "not valid UTF-8");
    rejected(BASE "  displayName:\n    template: \"{t}\"\n", kv, NULL, "not valid UTF-8");
}

static void bulk_update_example_maps_only_its_attributes(void **state)
{
    (void)state;
    gcs_profile *p;
    assert_int_equal(gcs_profile_load(&p, GCS_TEST_SOURCE_DIR "/examples/bulk-update/profile.yaml"), 0);
    gcs_source *src;
    assert_int_equal(gcs_source_open(&src, GCS_TEST_SOURCE_DIR "/examples/bulk-update/departments.csv",
                                     GCS_SOURCE_AUTO, NULL), 0);
    const gcs_row *row;
    int n = 0;
    while (gcs_source_next(&row, src) == GCS_SOURCE_ROW) {
        gcs_map_user u;
        assert_int_equal(gcs_map_row(&u, p, row, NULL), 0);
        assert_int_equal(u.status, GCS_MAP_OK);
        assert_string_equal(u.source_key, gcs_row_get(row, "employee_id"));
        /* schemas and the enterprise extension only: no marker, nothing else. */
        assert_int_equal(json_object_size(u.user), 2);
        assert_int_equal(json_object_size(json_object_get(u.user, ENT)), 2);
        gcs_map_user_release(&u);
        n++;
    }
    assert_int_equal(n, 7);
    gcs_source_free(src);
    gcs_profile_free(p);
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
    free(map_ok(&u, p, kv, NULL));
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
        cmocka_unit_test(example_export_maps_completely),
        cmocka_unit_test(exact_shape_of_a_user),
        cmocka_unit_test(transforms),
        cmocka_unit_test(validation),
        cmocka_unit_test(lists_of_at_most_fifty),
        cmocka_unit_test(names_must_exist_in_the_org),
        cmocka_unit_test(scope),
        cmocka_unit_test(matching_keys_and_marker),
        cmocka_unit_test(yaml_and_json_profiles_agree),
        cmocka_unit_test(bad_text_in_a_handmade_row),
        cmocka_unit_test(attribute_values_for_diffing),
        cmocka_unit_test(bulk_update_example_maps_only_its_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
