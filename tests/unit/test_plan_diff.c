/* The fewest PATCH operations between a current and a desired user. */
#include "gcstest.h"

#include <stdlib.h>
#include <string.h>

#include "plan/diff.h"

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fail_msg("bad test JSON: %s", err.text);
    return j;
}

static char *ops_for(const char *desired, const char *current, const char *skip)
{
    json_t *d = parse(desired), *c = parse(current), *s = skip ? parse(skip) : NULL;
    json_t *ops = NULL, *changes = NULL;
    assert_int_equal(gcs_diff_user(&ops, &changes, d, c, s), 0);
    assert_int_equal(json_array_size(ops), json_array_size(changes));
    char *text = json_dumps(ops, JSON_COMPACT);
    json_decref(d);
    json_decref(c);
    json_decref(s);
    json_decref(ops);
    json_decref(changes);
    return text;
}

#define EXPECT_OPS(desired, current, skip, want)                                                   \
    do {                                                                                           \
        char *got_ = ops_for(desired, current, skip);                                              \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

static void identical_users_need_nothing(void **state)
{
    (void)state;
    const char *u = "{\"userName\":\"a@x.com\",\"displayName\":\"A\",\"active\":true,"
                    "\"roles\":[{\"value\":\"Agent\"},{\"value\":\"Employee\"}]}";
    EXPECT_OPS(u, u, NULL, "[]");
    /* Order of a set and case of a userName do not matter. */
    EXPECT_OPS(u,
               "{\"userName\":\"A@X.com\",\"displayName\":\"A\",\"active\":true,\"id\":\"1\","
               "\"roles\":[{\"value\":\"Employee\"},{\"value\":\"Agent\"}],\"title\":\"x\"}",
               NULL, "[]");
}

static void simple_values_are_replaced_or_removed(void **state)
{
    (void)state;
    EXPECT_OPS("{\"title\":\"Lead\",\"displayName\":\"Ann\"}",
               "{\"title\":\"Agent\",\"displayName\":\"Ann\"}", NULL,
               "[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Lead\"}]");
    EXPECT_OPS("{\"title\":\"\"}", "{\"title\":\"Agent\"}", NULL,
               "[{\"op\":\"remove\",\"path\":\"title\"}]");
    EXPECT_OPS("{\"title\":null}", "{}", NULL, "[]");
    EXPECT_OPS("{\"active\":false}", "{\"active\":true}", NULL,
               "[{\"op\":\"replace\",\"path\":\"active\",\"value\":false}]");
}

static void extension_paths_use_full_urns(void **state)
{
    (void)state;
    EXPECT_OPS("{\"" GCS_SCIM_ENTERPRISE_USER "\":{\"department\":\"Sales\",\"employeeNumber\":\"7\"}}",
               "{\"" GCS_SCIM_ENTERPRISE_USER "\":{\"department\":\"Ops\",\"employeeNumber\":\"7\"}}",
               NULL,
               "[{\"op\":\"replace\",\"path\":\"" GCS_SCIM_ENTERPRISE_USER
               ":department\",\"value\":\"Sales\"}]");
    EXPECT_OPS("{\"" GCS_SCIM_ENTERPRISE_USER "\":{\"manager\":{\"value\":\"m2\"}}}",
               "{\"" GCS_SCIM_ENTERPRISE_USER "\":{\"manager\":{\"value\":\"m1\"}}}", NULL,
               "[{\"op\":\"replace\",\"path\":\"" GCS_SCIM_ENTERPRISE_USER
               ":manager\",\"value\":{\"value\":\"m2\"}}]");
}

static void typed_entries_change_alone(void **state)
{
    (void)state;
    const char *have = "{\"phoneNumbers\":[{\"value\":\"+3531\",\"type\":\"work\"},"
                       "{\"value\":\"+3532\",\"type\":\"mobile\"}]}";
    EXPECT_OPS("{\"phoneNumbers\":[{\"value\":\"+3539\",\"type\":\"mobile\"}]}", have, NULL,
               "[{\"op\":\"replace\",\"path\":\"phoneNumbers[type eq \\\"mobile\\\"].value\","
               "\"value\":\"+3539\"}]");
    EXPECT_OPS("{\"phoneNumbers\":[{\"value\":\"+3535\",\"type\":\"home\"}]}", have, NULL,
               "[{\"op\":\"add\",\"path\":\"phoneNumbers\",\"value\":[{\"value\":\"+3535\","
               "\"type\":\"home\"}]}]");
    EXPECT_OPS("{\"phoneNumbers\":[{\"value\":\"\",\"type\":\"mobile\"}]}", have, NULL,
               "[{\"op\":\"remove\",\"path\":\"phoneNumbers[type eq \\\"mobile\\\"]\"}]");
    /* The read-only "other" email is left alone; the work email compares without case. */
    EXPECT_OPS("{\"emails\":[{\"value\":\"Ann@X.com\",\"type\":\"work\",\"primary\":true}]}",
               "{\"emails\":[{\"value\":\"ann@x.com\",\"type\":\"work\"},"
               "{\"value\":\"z@x.com\",\"type\":\"other\"}]}",
               NULL, "[]");
}

static void sets_are_replaced_whole(void **state)
{
    (void)state;
    EXPECT_OPS("{\"" GCS_SCIM_GENESYS_USER "\":{\"routingSkills\":[{\"name\":\"Billing\","
               "\"proficiency\":4}]}}",
               "{\"" GCS_SCIM_GENESYS_USER "\":{\"routingSkills\":[{\"name\":\"Billing\","
               "\"proficiency\":3.0}]}}",
               NULL,
               "[{\"op\":\"replace\",\"path\":\"" GCS_SCIM_GENESYS_USER ":routingSkills\",\"value\":"
               "[{\"name\":\"Billing\",\"proficiency\":4}]}]");
    EXPECT_OPS("{\"" GCS_SCIM_GENESYS_USER "\":{\"routingSkills\":[{\"name\":\"Billing\","
               "\"proficiency\":4}]}}",
               "{\"" GCS_SCIM_GENESYS_USER "\":{\"routingSkills\":[{\"name\":\"Billing\","
               "\"proficiency\":4.0}]}}",
               NULL, "[]");
    EXPECT_OPS("{\"roles\":[]}", "{\"roles\":[{\"value\":\"Agent\"}]}", NULL,
               "[{\"op\":\"remove\",\"path\":\"roles\"}]");
}

static void external_ids_are_only_added(void **state)
{
    (void)state;
    const char *have = "{\"" GCS_SCIM_GENESYS_USER "\":{\"externalIds\":[{\"authority\":"
                       "\"x-pc:scimv2:v1:abc\",\"value\":\"1\"}]}}";
    EXPECT_OPS("{\"" GCS_SCIM_GENESYS_USER "\":{\"externalIds\":[{\"authority\":\"gcscim\","
               "\"value\":\"E7\"}]}}",
               have, NULL,
               "[{\"op\":\"add\",\"path\":\"" GCS_SCIM_GENESYS_USER ":externalIds\",\"value\":"
               "[{\"authority\":\"gcscim\",\"value\":\"E7\"}]}]");
}

static void create_only_attributes_are_skipped(void **state)
{
    (void)state;
    EXPECT_OPS("{\"title\":\"New\",\"" GCS_SCIM_ENTERPRISE_USER "\":{\"employeeNumber\":\"9\"},"
               "\"password\":\"x\"}",
               "{\"title\":\"Old\",\"" GCS_SCIM_ENTERPRISE_USER "\":{\"employeeNumber\":\"1\"}}",
               "[\"title\",\"" GCS_SCIM_ENTERPRISE_USER ":employeeNumber\"]", "[]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identical_users_need_nothing),
        cmocka_unit_test(simple_values_are_replaced_or_removed),
        cmocka_unit_test(extension_paths_use_full_urns),
        cmocka_unit_test(typed_entries_change_alone),
        cmocka_unit_test(sets_are_replaced_whole),
        cmocka_unit_test(external_ids_are_only_added),
        cmocka_unit_test(create_only_attributes_are_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
