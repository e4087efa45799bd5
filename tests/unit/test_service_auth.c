/* API keys (service/auth.h) and events (service/event.h): what a caller
 * sends is read as docs/serve.md says, and refusals name the line or field. */
#include "gcstest.h"

#include "core/error.h"
#include "service/auth.h"
#include "service/event.h"
#include "service/workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static gcs_api_keys *keys_of(const char *text, int want_rc)
{
    gcs_api_keys *k = calloc(1, sizeof *k);
    assert_non_null(k);
    assert_int_equal(gcs_api_keys_parse(k, text, "keys.txt"), want_rc);
    return k;
}

static void api_keys_are_found_by_their_hash_with_their_rights(void **state)
{
    (void)state;
    char a[72], b[72], text[256];
    gcs_api_key_hash_text(a, "key-a");
    gcs_api_key_hash_text(b, "key-b");
    snprintf(text, sizeof text, "# who\n\nportal provision,read %s\r\n  reader read %s\n", a, b);
    gcs_api_keys *k = keys_of(text, 0);
    assert_int_equal(k->count, 2);
    const gcs_api_key *found = gcs_api_keys_find(k, "Bearer key-a");
    assert_non_null(found);
    assert_string_equal(found->name, "portal");
    assert_int_equal(found->rights, GCS_RIGHT_PROVISION | GCS_RIGHT_READ);
    found = gcs_api_keys_find(k, "bearer key-b");
    assert_non_null(found);
    assert_string_equal(found->name, "reader");
    assert_null(gcs_api_keys_find(k, "Bearer key-c"));
    assert_null(gcs_api_keys_find(k, "Basic key-a"));
    assert_null(gcs_api_keys_find(k, "Bearer "));
    assert_null(gcs_api_keys_find(k, NULL));
    free(k);
}

static void api_key_file_errors_name_the_line_never_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"portal provision\n", "keys.txt:1: expected \"NAME RIGHTS sha256:HEX\""},
        {"\nportal write sha256:00\n", "keys.txt:2: unknown right 'write'"},
        {"portal read s3cr3t-key-in-clear\n", "keys.txt:1: the key must be given as sha256:"},
        {"portal read sha256:zz00000000000000000000000000000000000000000000000000000000000000\n",
         "keys.txt:1: the hash is not hexadecimal"},
        {"a read sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
         "a events sha256:1111111111111111111111111111111111111111111111111111111111111111\n",
         "keys.txt:2: the name 'a' is used twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gcs_api_keys *k = keys_of(cases[i].text, GCS_EINVALID);
        if (!strstr(gcs_error_last(), cases[i].message))
            fail_msg("case %zu: '%s'", i, gcs_error_last());
        assert_null(strstr(gcs_error_last(), "s3cr3t"));
        free(k);
    }
}

/* An event secrets file's error names the line as an editor counts it,
 * blank lines and comments included, and never the secret. */
static void event_secrets_file_errors_name_the_line(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *path = gcs_test_write_file(dir, "event-secrets",
                                     "# rotation of 2026-11\n\n"
                                     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\n"
                                     "whsec_!!not-base64-s3cr3t\n");
    assert_int_equal(chmod(path, 0600), 0);
    gcs_webhook_secret secrets[GCS_EVENT_SECRETS_MAX];
    size_t count = 9;
    assert_int_equal(gcs_event_secrets_load(secrets, &count, path), GCS_EINVALID);
    assert_int_equal(count, 0);
    if (!strstr(gcs_error_last(), "event-secrets:5"))
        fail_msg("expected line 5: %s", gcs_error_last());
    assert_null(strstr(gcs_error_last(), "s3cr3t"));
    free(path);
    /* A byte order mark (a Windows editor's) is not part of the first secret. */
    path = gcs_test_write_file(dir, "bom-secrets",
                               "\xEF\xBB\xBFwhsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n");
    assert_int_equal(chmod(path, 0600), 0);
    if (gcs_event_secrets_load(secrets, &count, path) < 0)
        fail_msg("%s", gcs_error_last());
    assert_int_equal(count, 1);
    gcs_webhook_secret_wipe(&secrets[0]);
    free(path);
    gcs_test_tmpdir_remove(dir);
}

static void event_becomes_the_job_of_the_contract(void **state)
{
    (void)state;
    const char *body = "{\"type\":\"person.changed\",\"data\":{\"key\":\"E1\","
                       "\"row\":{\"email\":\"e1@example.com\",\"grade\":3}}}";
    gcs_event e;
    assert_int_equal(gcs_event_parse(&e, body, strlen(body)), 0);
    assert_int_equal(e.action, GCS_EVENT_UPSERT);
    char *key, *payload;
    gcs_event_origin o = {"event", "msg_1", "webhook", 1700000000000};
    assert_int_equal(gcs_event_job(&key, &payload, &e, &o), 0);
    assert_string_equal(key, "person:E1");
    assert_string_equal(payload,
                        "{\"v\":1,\"kind\":\"person\",\"key\":\"E1\",\"row\":{\"email\":"
                        "\"e1@example.com\",\"grade\":3},\"event\":\"upsert\",\"origin\":"
                        "\"event\",\"webhook_id\":\"msg_1\",\"requested_by\":\"webhook\","
                        "\"accepted_ms\":1700000000000}");
    free(key);
    free(payload);
    gcs_event_release(&e);

    const char *left = "{\"type\":\"person.left\",\"data\":{\"key\":\"E1\",\"row\":null}}";
    assert_int_equal(gcs_event_parse(&e, left, strlen(left)), 0);
    assert_int_equal(e.action, GCS_EVENT_LEAVE);
    gcs_event_origin r = {"rest", NULL, "portal", 5};
    assert_int_equal(gcs_event_job(&key, &payload, &e, &r), 0);
    assert_string_equal(payload, "{\"v\":1,\"kind\":\"person\",\"key\":\"E1\",\"row\":null,"
                                 "\"event\":\"leave\",\"origin\":\"rest\",\"requested_by\":"
                                 "\"portal\",\"accepted_ms\":5}");
    free(key);
    free(payload);
    gcs_event_release(&e);
}

static void event_keys_and_columns_are_bounded(void **state)
{
    (void)state;
    char body[1200];
    char longkey[GCS_EVENT_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    snprintf(body, sizeof body, "{\"key\":\"%s\",\"row\":{\"a\":\"b\"}}", longkey);
    gcs_event e;
    assert_int_equal(gcs_event_parse_request(&e, body, strlen(body)), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "body.key: must be 1 to 256 bytes"));
    const char *dup = "{\"key\":\"E\",\"key\":\"F\",\"row\":{\"a\":\"b\"}}";
    assert_int_equal(gcs_event_parse_request(&e, dup, strlen(dup)), GCS_EINVALID);
    const char *ctl = "{\"key\":\"E\\n1\",\"row\":{\"a\":\"b\"}}";
    assert_int_equal(gcs_event_parse_request(&e, ctl, strlen(ctl)), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "control character"));
    const char *empty = "{\"key\":\"E\",\"row\":{}}";
    assert_int_equal(gcs_event_parse_request(&e, empty, strlen(empty)), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "body.row: has no column"));
}

static void group_event_becomes_the_job_of_the_contract(void **state)
{
    (void)state;
    const char *body = "{\"type\":\"group.changed\","
                       "\"data\":{\"key\":\"tier-2\",\"name\":\"Tier 2\","
                       "\"members\":[\"E1\",\"E2\"],\"nesting\":\"flattened\","
                       "\"roles\":[{\"role\":\"Agent\",\"division\":\"Home\"}]}}";
    gcs_event e;
    assert_int_equal(gcs_event_parse(&e, body, strlen(body)), 0);
    assert_int_equal(e.kind, GCS_EVENT_GROUP);
    assert_int_equal(e.action, GCS_EVENT_UPSERT);
    assert_null(e.row);
    assert_string_equal(e.key, "tier-2");
    char *key, *payload;
    gcs_event_origin o = {"event", "msg_g", "webhook", 7};
    assert_int_equal(gcs_event_job(&key, &payload, &e, &o), 0);
    assert_string_equal(key, "group:tier-2");
    assert_string_equal(payload,
                        "{\"v\":1,\"kind\":\"group\",\"key\":\"tier-2\","
                        "\"group\":{\"key\":\"tier-2\","
                        "\"name\":\"Tier 2\",\"members\":[\"E1\",\"E2\"],\"nesting\":\"flattened\","
                        "\"roles\":[{\"role\":\"Agent\",\"division\":\"Home\"}]},"
                        "\"event\":\"upsert\",\"origin\":\"event\",\"webhook_id\":\"msg_g\","
                        "\"requested_by\":\"webhook\","
                        "\"accepted_ms\":7}");
    /* The workers read back what the front wrote. */
    json_t *doc;
    const json_t *group;
    gcs_plan_options plan;
    gcs_plan_options_init(&plan);
    assert_int_equal(gcs_workers_read_group_payload(&doc, &group, &plan, payload), 0);
    assert_string_equal(json_string_value(json_object_get(group, "name")), "Tier 2");
    json_decref(doc);
    free(key);
    free(payload);
    gcs_event_release(&e);
    /* A group event is not a provisioning request's shape, nor a person's. */
    const char *person_shaped = "{\"type\":\"group.created\",\"data\":{\"key\":\"g\","
                                "\"row\":{\"a\":\"b\"},\"members\":[]}}";
    assert_int_equal(gcs_event_parse(&e, person_shaped, strlen(person_shaped)), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "data.row: unknown field"));
}

/* Limits: each one a 400 naming the field, never quoting the value. */
static void group_event_fields_are_bounded(void **state)
{
    (void)state;
    size_t cap = 16 + (size_t)(GCS_EVENT_GROUP_MEMBERS_MAX + 1) * 10 + 200;
    char *body = malloc(cap);
    assert_non_null(body);
    size_t n = (size_t)snprintf(body, cap, "{\"type\":\"group.changed\",\"data\":{\"key\":\"g\","
                                           "\"members\":[");
    for (int i = 0; i <= GCS_EVENT_GROUP_MEMBERS_MAX; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s\"P%d\"", i ? "," : "", i);
    snprintf(body + n, cap - n, "]}}");
    gcs_event e;
    assert_int_equal(gcs_event_parse(&e, body, strlen(body)), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "data.members: more than 10000 entries"));
    free(body);

    char longkey[GCS_EVENT_GROUP_KEY_MAX + 2], text[600];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    snprintf(text, sizeof text,
             "{\"type\":\"group.changed\",\"data\":{\"key\":\"%s\",\"members\":[]}}", longkey);
    assert_int_equal(gcs_event_parse(&e, text, strlen(text)), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "data.key: must be 1 to 200 bytes"));
    assert_null(strstr(gcs_error_last(), longkey));
    static const struct {
        const char *data;
        const char *names;
    } cases[] = {
        {"{\"key\":\"g\",\"members\":[],\"name\":\"\"}", "data.name: must be 1 to 255 bytes"},
        {"{\"key\":\"g\",\"members\":[],\"name\":\"A\\tB\"}",
         "data.name: holds a control character"},
        {"{\"key\":\"g\",\"members\":[],\"description\":7}", "data.description: must be a string"},
        {"{\"key\":\"g\",\"members\":[],\"type\":\"secret\"}",
         "data.type: must be official or social"},
        {"{\"key\":\"g\",\"members\":[],\"children\":[\"c\",\"c\"]}",
         "data.children[1]: listed twice"},
        {"{\"key\":\"g\",\"members\":[],\"roles\":{}}", "data.roles: must be an array"},
        {"{\"key\":\"g\",\"members\":[],\"roles\":[{\"role\":\"A@B\",\"division\":\"D\"}]}",
         "data.roles[0].role: holds '@'"},
        {"{\"key\":\"g\",\"members\":[],\"roles\":[{\"role\":\"A\",\"division\":\"D\",\"x\":1}]}",
         "data.roles[0]: unknown field"},
        {"{\"key\":\"g\",\"members\":[],\"roles\":[{\"role\":\"A\",\"division\":\"D\"},"
         "{\"role\":\"A\",\"division\":\"D\"}]}",
         "data.roles[1]: listed twice"},
        {"{\"key\":\"g\",\"members\":[\"\"]}", "data.members[0]: must be 1 to 256 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(text, sizeof text, "{\"type\":\"group.changed\",\"data\":%s}", cases[i].data);
        if (gcs_event_parse(&e, text, strlen(text)) != GCS_EINVALID ||
            !strstr(gcs_error_last(), cases[i].names))
            fail_msg("case %zu: '%s' (wanted '%s')", i, gcs_error_last(), cases[i].names);
    }
}

/* The events examples/serve/ shows (README, docs/serve.md) are events serve takes. */
static void example_events_parse(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        gcs_event_kind kind;
        const char *job_key;
    } examples[] = {
        {"person-created.json", GCS_EVENT_PERSON, "person:EC2001"},
        {"person-left.json", GCS_EVENT_PERSON, NULL},
        {"group-changed.json", GCS_EVENT_GROUP, "group:onboarding-2026-11"},
    };
    for (size_t i = 0; i < sizeof examples / sizeof *examples; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/examples/serve/%s", GCS_TEST_SOURCE_DIR, examples[i].file);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        char body[8192];
        size_t n = fread(body, 1, sizeof body, fp);
        fclose(fp);
        gcs_event e;
        if (gcs_event_parse(&e, body, n) != 0)
            fail_msg("%s: %s", examples[i].file, gcs_error_last());
        assert_int_equal(e.kind, examples[i].kind);
        char *key, *payload;
        gcs_event_origin o = {"event", "msg_x", "webhook", 1};
        assert_int_equal(gcs_event_job(&key, &payload, &e, &o), 0);
        if (examples[i].job_key)
            assert_string_equal(key, examples[i].job_key);
        free(key);
        free(payload);
        gcs_event_release(&e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(api_keys_are_found_by_their_hash_with_their_rights),
        cmocka_unit_test(api_key_file_errors_name_the_line_never_the_key),
        cmocka_unit_test(event_secrets_file_errors_name_the_line),
        cmocka_unit_test(event_becomes_the_job_of_the_contract),
        cmocka_unit_test(event_keys_and_columns_are_bounded),
        cmocka_unit_test(group_event_becomes_the_job_of_the_contract),
        cmocka_unit_test(group_event_fields_are_bounded),
        cmocka_unit_test(example_events_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
