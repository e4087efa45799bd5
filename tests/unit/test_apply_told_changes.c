/* What a notification or an audit line says an operation changed: new values,
 * never a secret (engine/apply.h, gcs_apply_told_changes). */
#include "gcstest.h"

#include "engine/apply.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static char *told(const char *op_text)
{
    json_t *op = json_loads(op_text, 0, NULL);
    assert_non_null(op);
    json_t *changes = gcs_apply_told_changes(op);
    char *text = json_dumps(changes, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(changes);
    json_decref(op);
    return text;
}

static void new_values_in_plan_order(void **state)
{
    (void)state;
    char *t = told("{\"changes\":[{\"attribute\":\"title\",\"old\":\"Agent\",\"new\":\"Lead\"},"
                   "{\"attribute\":\"active\",\"old\":true,\"new\":false},"
                   "{\"attribute\":\"phoneNumbers[type work]\",\"old\":null,\"new\":\"+15550100\"}]}");
    assert_string_equal(t, "[{\"attribute\":\"title\",\"value\":\"Lead\"},"
                           "{\"attribute\":\"active\",\"value\":false},"
                           "{\"attribute\":\"phoneNumbers[type work]\",\"value\":\"+15550100\"}]");
    free(t);
}

static void a_sensitive_attribute_is_left_out(void **state)
{
    (void)state;
    char *t = told("{\"changes\":[{\"attribute\":\"password\",\"new\":\"Hunter2-secret\"},"
                   "{\"attribute\":\"urn:ietf:params:scim:schemas:core:2.0:User:password\","
                   "\"new\":\"Hunter3-secret\"},"
                   "{\"attribute\":\"client_secret\",\"new\":\"abc\"},"
                   "{\"attribute\":\"title\",\"new\":\"Agent\"}]}");
    assert_string_equal(t, "[{\"attribute\":\"title\",\"value\":\"Agent\"}]");
    assert_null(strstr(t, "Hunter"));
    free(t);
}

static void sensitive_keys_inside_a_value_are_masked(void **state)
{
    (void)state;
    char *t = told("{\"changes\":[{\"attribute\":\"urn:x:extension\",\"new\":"
                   "{\"department\":\"Sales\",\"password\":\"Hunter4-secret\"}}]}");
    assert_non_null(strstr(t, "\"department\":\"Sales\""));
    assert_null(strstr(t, "Hunter4"));
    free(t);
}

static void no_changes_is_an_empty_list(void **state)
{
    (void)state;
    char *t = told("{\"kind\":\"deactivate\"}");
    assert_string_equal(t, "[]");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_values_in_plan_order),
        cmocka_unit_test(a_sensitive_attribute_is_left_out),
        cmocka_unit_test(sensitive_keys_inside_a_value_are_masked),
        cmocka_unit_test(no_changes_is_an_empty_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
