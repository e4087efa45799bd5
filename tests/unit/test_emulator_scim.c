/* The emulator's SCIM filter parser/evaluator and PATCH engine, in process. */
#include <stdlib.h>
#include <string.h>

#include "gcstest.h"
#include "emulator/internal.h"

#define ENT SCIM_ENTERPRISE
#define GEN SCIM_GENESYS

static json_t *doc(void)
{
    json_t *d = json_loads(
        "{\"id\":\"u1\",\"userName\":\"Ann@Example.com\",\"displayName\":\"Ann\",\"active\":true,"
        "\"title\":\"Agent\",\"emails\":[{\"type\":\"work\",\"value\":\"ann@example.com\"}],"
        "\"phoneNumbers\":[{\"type\":\"work\",\"value\":\"+331\"},{\"type\":\"mobile\",\"value\":\"+336\"}],"
        "\"" ENT "\":{\"division\":\"Home\",\"manager\":{\"value\":\"u9\"}},"
        "\"" GEN "\":{\"externalIds\":[{\"authority\":\"hr\",\"value\":\"H1\"}],"
        "\"routingSkills\":[{\"name\":\"Billing\",\"proficiency\":3}]}}",
        0, NULL);
    assert_non_null(d);
    return d;
}

static bool matches(const char *filter)
{
    char err[256];
    scim_filter *f = gcs_scim_filter_parse(filter, err, sizeof err);
    if (!f)
        fail_msg("filter '%s' did not parse: %s", filter, err);
    json_t *d = doc();
    bool m = gcs_scim_filter_match(f, d);
    json_decref(d);
    gcs_scim_filter_free(f);
    return m;
}

static void test_filters(void **state)
{
    (void)state;
    assert_true(matches("userName eq \"ann@example.com\""));   /* case-insensitive */
    assert_true(matches("USERNAME Eq \"ANN@example.COM\""));
    assert_false(matches("userName eq \"bob@example.com\""));
    assert_true(matches("userName ne \"bob@example.com\""));
    assert_true(matches("userName sw \"ann\" and userName ew \".com\" and userName co \"@ex\""));
    assert_true(matches("active eq true"));
    assert_true(matches("active eq \"true\""));
    assert_false(matches("active eq false"));
    assert_true(matches("title pr"));
    assert_false(matches("nickName pr"));
    assert_true(matches("email eq \"ann@example.com\""));
    assert_true(matches("emails.value eq \"ann@example.com\""));
    assert_true(matches("emails[type eq \"work\" and value co \"ann\"]"));
    assert_false(matches("emails[type eq \"other\"]"));
    assert_true(matches("phoneNumbers[type eq \"mobile\"]"));
    assert_true(matches("manager eq \"u9\""));
    assert_true(matches("division eq \"home\""));
    assert_true(matches(ENT ":manager.value eq \"u9\""));
    assert_true(matches(GEN ":externalIds[authority eq \"hr\" and value eq \"H1\"]"));
    assert_false(matches(GEN ":externalIds[authority eq \"hr\" and value eq \"H2\"]"));
    assert_true(matches(GEN ":routingSkills[name eq \"Billing\" and proficiency ge 3]"));
    assert_false(matches(GEN ":routingSkills[proficiency gt 3]"));
    /* and binds tighter than or; not and parentheses. */
    assert_true(matches("userName eq \"x\" or title eq \"Agent\" and active eq true"));
    assert_false(matches("(userName eq \"x\" or title eq \"Agent\") and active eq false"));
    assert_true(matches("not (userName eq \"x\")"));

    char err[256];
    static const char *const bad[] = {"", "userName", "userName eq", "userName xx \"a\"",
                                      "(userName eq \"a\"", "emails[type eq \"w\"", "a eq \"unterminated",
                                      "userName eq \"a\" junk", "not userName eq \"a\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        scim_filter *f = gcs_scim_filter_parse(bad[i], err, sizeof err);
        if (f)
            fail_msg("filter '%s' should not parse", bad[i]);
        assert_true(strlen(err) > 0);
    }
    /* Nesting is bounded. */
    char deep[200];
    memset(deep, '(', 100);
    strcpy(deep + 100, "a eq 1");
    assert_null(gcs_scim_filter_parse(deep, err, sizeof err));
}

static void test_paths(void **state)
{
    (void)state;
    scim_path p;
    char err[256];
    assert_int_equal(gcs_scim_path_parse(&p, "title", err, sizeof err), 0);
    assert_string_equal(p.attr, "title");
    assert_string_equal(p.urn, "");
    gcs_scim_path_release(&p);
    assert_int_equal(gcs_scim_path_parse(&p, "phoneNumbers[type eq \"mo]bile\"].value", err, sizeof err), 0);
    assert_string_equal(p.attr, "phoneNumbers");
    assert_string_equal(p.filter, "type eq \"mo]bile\"");
    assert_string_equal(p.sub, "value");
    gcs_scim_path_release(&p);
    assert_int_equal(gcs_scim_path_parse(&p, ENT ":manager.value", err, sizeof err), 0);
    assert_string_equal(p.urn, ENT);
    assert_string_equal(p.attr, "manager");
    assert_string_equal(p.sub, "value");
    gcs_scim_path_release(&p);
    assert_int_equal(gcs_scim_path_parse(&p, SCIM_USER_SCHEMA ":userName", err, sizeof err), 0);
    assert_string_equal(p.urn, "");
    assert_string_equal(p.attr, "userName");
    gcs_scim_path_release(&p);
    assert_int_equal(gcs_scim_path_parse(&p, GEN, err, sizeof err), 0);
    assert_string_equal(p.urn, GEN);
    assert_string_equal(p.attr, "");
    gcs_scim_path_release(&p);
    assert_int_equal(gcs_scim_path_parse(&p, "", err, sizeof err), -1);
    assert_int_equal(gcs_scim_path_parse(&p, "a[b eq 1", err, sizeof err), -1);
    assert_int_equal(gcs_scim_path_parse(&p, "a b", err, sizeof err), -1);
    assert_int_equal(gcs_scim_path_parse(&p, "a[x eq 1]junk", err, sizeof err), -1);
}

static json_t *patched(const char *ops, int want_rc, const char *want_type)
{
    char body[2048];
    snprintf(body, sizeof body, "{\"Operations\":%s}", ops);
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    json_t *d = doc();
    scim_patch_error err;
    int rc = gcs_scim_patch_apply(d, b, "User", &err);
    json_decref(b);
    if (rc != want_rc)
        fail_msg("%s: rc %d (%s)", ops, rc, rc ? err.detail : "");
    if (want_type)
        assert_string_equal(err.scim_type, want_type);
    return d;
}

static void test_patch_engine(void **state)
{
    (void)state;
    json_t *d = patched("[{\"op\":\"replace\",\"path\":\"phoneNumbers[type eq \\\"mobile\\\"].value\",\"value\":\"+337\"}]", 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(d, "phoneNumbers"), 1), "value")), "+337");
    json_decref(d);
    d = patched("[{\"op\":\"add\",\"path\":\"phoneNumbers[type eq \\\"home\\\"].value\",\"value\":\"+338\"}]", 0, NULL);
    json_t *home = json_array_get(json_object_get(d, "phoneNumbers"), 2);
    assert_string_equal(json_string_value(json_object_get(home, "type")), "home");
    assert_string_equal(json_string_value(json_object_get(home, "value")), "+338");
    json_decref(d);
    d = patched("[{\"op\":\"remove\",\"path\":\"phoneNumbers[type eq \\\"work\\\"]\"},{\"op\":\"remove\",\"path\":\"phoneNumbers[type eq \\\"nope\\\"]\"}]", 0, NULL);
    assert_int_equal(json_array_size(json_object_get(d, "phoneNumbers")), 1);
    json_decref(d);
    /* add to a multi-valued attribute appends, without duplicates. */
    d = patched("[{\"op\":\"add\",\"path\":\"emails\",\"value\":[{\"type\":\"work\",\"value\":\"ann@example.com\"},{\"type\":\"other\",\"value\":\"a2@example.com\"}]}]", 0, NULL);
    assert_int_equal(json_array_size(json_object_get(d, "emails")), 2);
    json_decref(d);
    /* replace of a multi-valued attribute replaces it. */
    d = patched("[{\"op\":\"replace\",\"path\":\"emails\",\"value\":[{\"type\":\"work\",\"value\":\"x@example.com\"}]}]", 0, NULL);
    assert_int_equal(json_array_size(json_object_get(d, "emails")), 1);
    json_decref(d);
    /* Complex replace merges sub-attributes; case-insensitive names keep their spelling. */
    d = patched("[{\"op\":\"replace\",\"path\":\"" ENT ":MANAGER\",\"value\":{\"displayName\":\"Boss\"}},{\"op\":\"replace\",\"path\":\"TITLE\",\"value\":\"Lead\"}]", 0, NULL);
    json_t *mgr = json_object_get(json_object_get(d, ENT), "manager");
    assert_string_equal(json_string_value(json_object_get(mgr, "value")), "u9");
    assert_string_equal(json_string_value(json_object_get(mgr, "displayName")), "Boss");
    assert_string_equal(json_string_value(json_object_get(d, "title")), "Lead");
    assert_null(json_object_get(d, "TITLE"));
    json_decref(d);
    /* A whole extension at once, and path-less with a URN key. */
    d = patched("[{\"op\":\"add\",\"path\":\"" ENT "\",\"value\":{\"department\":\"Ops\"}},"
                "{\"op\":\"replace\",\"value\":{\"" GEN "\":{\"routingSkills\":[]},\"displayName\":\"A\"}}]", 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, ENT), "department")), "Ops");
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, ENT), "division")), "Home");
    assert_int_equal(json_array_size(json_object_get(json_object_get(d, GEN), "routingSkills")), 0);
    json_decref(d);
    d = patched("[{\"op\":\"remove\",\"path\":\"" GEN "\"}]", 0, NULL);
    assert_null(json_object_get(d, GEN));
    json_decref(d);

    json_decref(patched("[{\"op\":\"replace\",\"path\":\"meta.version\",\"value\":\"2\"}]", -1, "mutability"));
    json_decref(patched("[{\"op\":\"add\",\"path\":\"groups\",\"value\":[]}]", -1, "mutability"));
    json_decref(patched("[{\"op\":\"remove\"}]", -1, "noTarget"));
    json_decref(patched("[{\"op\":\"add\",\"path\":\"title\"}]", -1, "invalidValue"));
    json_decref(patched("[{\"op\":\"add\",\"path\":\"urn:example:ext:User:x\",\"value\":1}]", -1, "invalidPath"));
    json_decref(patched("[{\"op\":\"add\",\"path\":\"emails[type eq]\",\"value\":1}]", -1, "invalidPath"));
    json_decref(patched("[{\"op\":\"add\",\"path\":\"title[type eq \\\"x\\\"]\",\"value\":{}}]", -1, "invalidPath"));
    json_decref(patched("[{\"op\":\"move\",\"path\":\"title\"}]", -1, "invalidSyntax"));
    json_decref(patched("{}", -1, "invalidSyntax"));
}

static void test_projection(void **state)
{
    (void)state;
    json_t *d = doc();
    json_t *p = gcs_emu_project(d, "userName," ENT ":division", NULL);
    assert_non_null(json_object_get(p, "id"));
    assert_non_null(json_object_get(p, "userName"));
    assert_null(json_object_get(p, "title"));
    assert_non_null(json_object_get(json_object_get(p, ENT), "division"));
    assert_null(json_object_get(json_object_get(p, ENT), "manager"));
    json_decref(p);
    p = gcs_emu_project(d, NULL, "title,id," GEN);
    assert_non_null(json_object_get(p, "id"));   /* id is always returned */
    assert_null(json_object_get(p, "title"));
    assert_null(json_object_get(p, GEN));
    assert_non_null(json_object_get(d, GEN));   /* the original is untouched */
    json_decref(p);
    p = gcs_emu_project(d, GEN, GEN ":externalIds");
    assert_null(json_object_get(json_object_get(p, GEN), "externalIds"));
    assert_non_null(json_object_get(json_object_get(d, GEN), "externalIds"));
    json_decref(p);
    json_decref(d);
}

/* A list page writes the projection without building it: the same text as
 * the tree, whatever the list (repeats, cases, sub-attributes, extensions
 * whole and in part, in either order, names that match nothing, too many). */
static void test_projection_dump(void **state)
{
    (void)state;
    char many[4096] = "";
    for (int i = 0; i < 80; i++)
        strcat(many, i % 2 ? "title," : ENT ":division,");
    const char *const lists[] = {
        "userName,displayName,title,active," ENT ":department," GEN ":externalIds",
        "userName,URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Division," ENT "," ENT ":manager.value",
        ENT ":division," ENT, ENT "," ENT ":division," GEN ":routingSkills",
        "id,schemas,meta,userName,USERNAME,username",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName,emails.value,phoneNumbers",
        ",,, title ,nothing,urn:x:y,urn:,urn:a:b:c.d",
        GEN ":nothing," ENT ":nothing,title",
        many,
    };
    json_t *docs[2] = {doc(), doc()};
    json_object_set_new(docs[1], "schemas", json_pack("[s]", SCIM_USER_SCHEMA));
    json_object_set_new(docs[1], "meta", json_pack("{s:s}", "version", "3"));
    json_object_set_new(docs[1], "urn:x", json_string("not an object"));
    for (size_t d = 0; d < 2; d++) {
        for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
            emu_projection *p = gcs_emu_projection_new(lists[i], NULL);
            assert_non_null(p);
            json_t *tree = gcs_emu_projection_apply(p, docs[d]);
            char *want = gcs_emu_json_text(tree);
            gcs_buf b;
            gcs_buf_init(&b, GCS_BUF_DEFAULT_MAX);
            assert_int_equal(gcs_emu_projection_dump(&b, p, docs[d]), 0);
            assert_string_equal(b.ptr, want);
            gcs_buf_release(&b);
            free(want);
            json_decref(tree);
            gcs_emu_projection_free(p);
        }
    }
    json_decref(docs[0]);
    json_decref(docs[1]);
}

static void test_json_fast(void **state)
{
    (void)state;
    json_t *j = json_loads("{\"a\":\"q\\\"\\\\\\n\\u0001é\",\"b\":[1,2.5,true,false,null],\"c\":{},\"d\":3.0}", 0, NULL);
    char *text = gcs_emu_json_text(j);
    json_t *back = json_loads(text, 0, NULL);
    assert_true(json_equal(j, back));
    assert_string_equal(text, "{\"a\":\"q\\\"\\\\\\n\\u0001é\",\"b\":[1,2.5,true,false,null],\"c\":{},\"d\":3.0}");
    json_t *copy = gcs_emu_json_copy(j);
    assert_true(json_equal(copy, j));
    json_object_set_new(json_object_get(copy, "c"), "x", json_true());
    assert_int_equal(json_object_size(json_object_get(j, "c")), 0);
    free(text);
    json_decref(back);
    json_decref(copy);
    json_decref(j);
}

/* Request bodies read without jansson's reader: the same tree as json_loadb
 * for the common case, and NULL (jansson's turn) for everything else. */
static void test_json_parse_fast(void **state)
{
    (void)state;
    static const char *const same[] = {
        "{\"schemas\":[\"urn:x\"],\"userName\":\"a@example.com\",\"active\":true,\"n\":-12,\"z\":null,\"f\":false}",
        " {\"a\" : [ 1 , {\"b\":\"c\\\"d\\\\e\\/f\\n\\t\"} ] ,\"e\":{}, \"g\":[]}\n",
        "{\"dup\":1,\"x\":2,\"dup\":3}",
        "{\"k\\\"ey\":\"v\",\"k\\\"ey\":\"w\",\"n\":123456789012345678}",
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        json_t *fast = gcs_emu_json_parse_fast(same[i], strlen(same[i]));
        json_t *slow = json_loads(same[i], 0, NULL);
        assert_non_null(fast);
        assert_non_null(slow);
        char *a = gcs_emu_json_text(fast), *b = gcs_emu_json_text(slow);
        assert_string_equal(a, b);   /* values and key order */
        free(a);
        free(b);
        json_decref(fast);
        json_decref(slow);
    }
    static const char *const declined[] = {
        "{\"u\":\"\\u00e9\"}", "{\"r\":1.5}", "{\"e\":1e3}", "{\"big\":1234567890123456789}",
        "{\"lead\":01}", "{\"a\":\"caf\xc3\xa9\"}", "[1,2]", "{\"a\":1}x", "{\"a\":1,}", "{\"a\" 1}",
        "{\"a\":tru}", "{\"c\":\"a\tb\"}", "", "{\"a\":1",
    };
    for (size_t i = 0; i < sizeof declined / sizeof *declined; i++)
        assert_null(gcs_emu_json_parse_fast(declined[i], strlen(declined[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_patch_engine),
        cmocka_unit_test(test_projection),
        cmocka_unit_test(test_projection_dump),
        cmocka_unit_test(test_json_fast),
        cmocka_unit_test(test_json_parse_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
