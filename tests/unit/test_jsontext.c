/* One top-level string of a JSON object read from its text: found, absent, or
 * "parse it" whenever the text is not plain enough to be sure. */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsontext.h"

#include <jansson.h>

static int get(char *out, size_t outsz, const char *text, const char *key)
{
    return gcs_json_text_top_string(out, outsz, text, key);
}

static void top_level_strings_are_read(void **state)
{
    (void)state;
    char v[64];
    assert_int_equal(get(v, sizeof v, "{\"id\":\"abc-1\",\"userName\":\"a@b.c\"}", "id"), 1);
    assert_string_equal(v, "abc-1");
    assert_int_equal(get(v, sizeof v, " {\n \"a\" : { \"id\" : \"inner\" } , \"id\" : \"outer\" }", "id"),
                     1);
    assert_string_equal(v, "outer");
    /* A value that reads like the key is not the key. */
    assert_int_equal(get(v, sizeof v, "{\"x\":\"id\",\"id\":\"real\"}", "id"), 1);
    assert_string_equal(v, "real");
    /* Escaped quotes in other strings do not end them early. */
    assert_int_equal(get(v, sizeof v, "{\"t\":\"say \\\"id\\\":\\\"no\\\"\",\"id\":\"yes\"}", "id"), 1);
    assert_string_equal(v, "yes");
    assert_int_equal(get(v, sizeof v, "{\"id\":\"\"}", "id"), 1);
    assert_string_equal(v, "");
}

static void absent_or_unsure(void **state)
{
    (void)state;
    char v[8];
    assert_int_equal(get(v, sizeof v, "{\"a\":{\"id\":\"x\"},\"b\":[{\"id\":\"y\"}]}", "id"), 0);
    assert_int_equal(get(v, sizeof v, "{}", "id"), 0);
    assert_int_equal(get(v, sizeof v, "[{\"id\":\"x\"}]", "id"), -1);      /* not an object */
    assert_int_equal(get(v, sizeof v, "{\"id\":\"a\\\"b\"}", "id"), -1);   /* an escape */
    assert_int_equal(get(v, sizeof v, "{\"id\":42}", "id"), -1);           /* not a string */
    assert_int_equal(get(v, sizeof v, "{\"id\":\"far-too-long\"}", "id"), -1);
    assert_int_equal(get(v, sizeof v, "{\"id\":\"unterminated", "id"), -1);
    assert_int_equal(get(v, sizeof v, "{\"unterminated", "id"), -1);
    assert_int_equal(get(v, sizeof v, "", "id"), -1);
}

static int span(const char *text, const char *key, char *out, size_t outsz)
{
    const char *start = NULL;
    size_t len = 0;
    int rc = gcs_json_text_top_value(text, key, &start, &len);
    if (rc == 1)
        snprintf(out, outsz, "%.*s", (int)len, start);
    return rc;
}

/* Any top-level value is found whole, whatever it holds. */
static void top_level_values_are_spanned(void **state)
{
    (void)state;
    char v[128];
    const char *op = "{\"seq\": 3, \"kind\": \"update\", \"body\": {\"a\": [1, {\"b\": \"}]\"}], "
                     "\"c\": null}, \"changes\": [{\"old\": \"x,y\", \"new\": true}], "
                     "\"leaver\": true, \"n\": -1.5e3, \"z\": null}";
    assert_int_equal(span(op, "seq", v, sizeof v), 1);
    assert_string_equal(v, "3");
    assert_int_equal(span(op, "kind", v, sizeof v), 1);
    assert_string_equal(v, "\"update\"");
    assert_int_equal(span(op, "body", v, sizeof v), 1);
    assert_string_equal(v, "{\"a\": [1, {\"b\": \"}]\"}], \"c\": null}");
    assert_int_equal(span(op, "changes", v, sizeof v), 1);
    assert_string_equal(v, "[{\"old\": \"x,y\", \"new\": true}]");
    assert_int_equal(span(op, "leaver", v, sizeof v), 1);
    assert_string_equal(v, "true");
    assert_int_equal(span(op, "n", v, sizeof v), 1);
    assert_string_equal(v, "-1.5e3");
    assert_int_equal(span(op, "z", v, sizeof v), 1);
    assert_string_equal(v, "null");
    /* Members of inner objects are not top-level members. */
    assert_int_equal(span(op, "a", v, sizeof v), 0);
    assert_int_equal(span(op, "c", v, sizeof v), 0);
    assert_int_equal(span("{}", "a", v, sizeof v), 0);
    assert_int_equal(span("{\"a\":1}", "a", v, sizeof v), 1);
    assert_string_equal(v, "1");
    /* Not an object, or cut short: parse it. */
    assert_int_equal(span("[1]", "a", v, sizeof v), -1);
    assert_int_equal(span("{\"a\": [1, 2", "a", v, sizeof v), -1);
    assert_int_equal(span("{\"a\" 1}", "a", v, sizeof v), -1);
    assert_int_equal(span("{\"b\": \"x}", "a", v, sizeof v), -1);
    /* A member name with an escape may spell the key a parser finds: parse it. */
    assert_int_equal(span("{\"ch\\u0061nges\": [1]}", "changes", v, sizeof v), -1);
    assert_int_equal(span("{\"kind\": 1, \"x\\\"y\": 2, \"changes\": 3}", "changes", v, sizeof v),
                     -1);
    /* ... unless the key was found before it (a repeated member is refused
     * wherever text is kept). */
    assert_int_equal(span("{\"changes\": 3, \"ch\\u0061nges\": [1]}", "changes", v, sizeof v), 1);
}

/* Several keys in one pass: each found as the one-key scan finds it. */
static void several_values_in_one_pass(void **state)
{
    (void)state;
    const char *op = "{\"kind\": \"create\", \"key\": \"E1\", \"body\": {\"id\": \"inner\"}, "
                     "\"manager_key\": null, \"key\": \"second\"}";
    const char *keys[] = {"key", "id", "manager_key", "kind"};
    const char *starts[4];
    size_t lens[4];
    assert_int_equal(gcs_json_text_top_values(op, keys, 4, starts, lens), 3);
    assert_int_equal(lens[0], 4);
    assert_memory_equal(starts[0], "\"E1\"", 4); /* the first of a repeated member */
    assert_null(starts[1]);                       /* only inside the body */
    assert_int_equal(lens[2], 4);
    assert_memory_equal(starts[2], "null", 4);
    assert_int_equal(lens[3], 8);
    assert_memory_equal(starts[3], "\"create\"", 8);
    /* Every key found: the rest is not read (as the one-key scan). */
    assert_int_equal(gcs_json_text_top_values("{\"a\": 1, \"b\": [", keys, 0, starts, lens), 0);
    const char *a[] = {"a"};
    assert_int_equal(gcs_json_text_top_values("{\"a\": 1, \"b\": [", a, 1, starts, lens), 1);
    /* A key missing from text cut short: parse it, nothing counts as found. */
    assert_int_equal(gcs_json_text_top_values("{\"kind\": \"x\", \"b\": [", keys, 4, starts, lens),
                     -1);
    assert_int_equal(gcs_json_text_top_values("[]", keys, 4, starts, lens), -1);
    assert_int_equal(gcs_json_text_top_values("{}", keys, 4, starts, lens), 0);
    assert_null(starts[0]);
}

/* What jansson says of the text: 1 read, 0 refused. */
static int jansson_reads(const char *text, size_t len)
{
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_decref(v);
    return v != NULL;
}

static void check_is(int expected, const char *text, size_t len)
{
    int got = gcs_json_text_check(text, len);
    if (got != expected)
        fail_msg("gcs_json_text_check(%.*s) = %d, expected %d", (int)len, text, got, expected);
    if (got >= 0 && got != jansson_reads(text, len))
        fail_msg("gcs_json_text_check(%.*s) = %d, jansson disagrees", (int)len, text, got);
}

#define CHECK(expected, literal) check_is(expected, literal, sizeof literal - 1)

/* The check decides what jansson would, or leaves it to jansson. */
static void documents_are_checked_as_jansson_reads_them(void **state)
{
    (void)state;
    CHECK(1, "{}");
    CHECK(1, "[]");
    CHECK(1, " {\"a\": [1, -2, 0, true, false, null, \"x\"], \"b\": {\"a\": {}}} \r\n");
    CHECK(1, "{\"a\": {\"k\": 1}, \"b\": {\"k\": 2}}"); /* the same name in two objects */
    CHECK(1, "[{\"k\": 1}, {\"k\": 1}]");
    CHECK(1, "{\"s\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"}");
    CHECK(1, "{\"s\": \"\\u00e9 \\uD83D\\uDE00\"}");
    CHECK(1, "{\"n\": 123456789012345678}");
    CHECK(1, "{\"\": 1}");
    /* refused */
    CHECK(0, "");
    CHECK(0, "   ");
    CHECK(0, "\"a\"");   /* not an object or an array */
    CHECK(0, "1");
    CHECK(0, "{");
    CHECK(0, "{\"a\": 1,}");
    CHECK(0, "[1,]");
    CHECK(0, "[1 2]");
    CHECK(0, "{\"a\" 1}");
    CHECK(0, "{a: 1}");
    CHECK(0, "{\"a\": 1} x");
    CHECK(0, "{\"a\": 1}{}");
    CHECK(0, "{\"a\": 1, \"a\": 2}"); /* a repeated name */
    CHECK(0, "{\"a\": {\"b\": 1, \"c\": 2, \"b\": 3}}");
    CHECK(0, "{\"a\": 01}");
    CHECK(0, "{\"a\": -}");
    CHECK(0, "{\"a\": +1}");
    CHECK(0, "{\"a\": tru}");
    CHECK(0, "{\"a\": truex}");
    CHECK(0, "{\"a\": nul}");
    CHECK(0, "{\"a\": \"\x01\"}");       /* a control character */
    CHECK(0, "{\"a\": \"tab\there\"}");  /* a raw tab */
    CHECK(0, "{\"a\": \"\\x\"}");       /* an unknown escape */
    CHECK(0, "{\"a\": \"\\u12\"}");
    CHECK(0, "{\"a\": \"\\u0000\"}");
    CHECK(0, "{\"a\": \"\\uD83D\"}");   /* a high surrogate alone */
    CHECK(0, "{\"a\": \"\\uDE00\"}");   /* a low surrogate alone */
    CHECK(0, "{\"a\": \"\\uD83D\\u0041\"}");
    CHECK(0, "{\"a\": \"\xc3\"}");       /* cut UTF-8 */
    CHECK(0, "{\"a\": \"\xc0\xaf\"}");  /* overlong */
    CHECK(0, "{\"a\": \"\xed\xa0\x80\"}"); /* a surrogate in UTF-8 */
    CHECK(0, "{\"a\": \"\xf4\x90\x80\x80\"}"); /* above U+10FFFF */
    CHECK(0, "{\"a\": \"\xff\"}");
    CHECK(0, "{\"a\": 1}\xc3\xa9");
    CHECK(0, "{\"a\": \"unterminated}");
    check_is(0, "{\"a\": \"x\0y\"}", 12); /* a NUL byte */
    check_is(0, "{\"a\": 1}\0", 9);
    /* left to jansson */
    CHECK(-1, "{\"n\": 1.5}");
    CHECK(-1, "{\"n\": 1e400}");
    CHECK(-1, "{\"n\": 12345678901234567890}");
    CHECK(-1, "{\"a\": 1, \"\\u0061\": 2}"); /* an escaped name: a repeat in disguise */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    check_is(-1, deep, sizeof deep);
}

/* A string's end found by strchr and the backslashes just before the quote,
 * held to a walk taking each backslash with the byte after it, over generated
 * strings of quotes, backslash runs, letters and an end of text. */
static const char *string_end_walked(const char *p)
{
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
            p++;
    }
    return *p ? p + 1 : NULL;
}

static void string_ends_match_a_walk(void **state)
{
    (void)state;
    static const char *const pieces[] = {"a", "\\", "\\\\", "\\\\\\", "\"", "\\\"", "\\\\\"", "{", "]",
                                         " ", "Zo\xc3\xab"};
    unsigned seed = 1204;
    for (int c = 0; c < 20000; c++) {
        char text[256] = "\"";
        size_t n = 1;
        for (int k = rand_r(&seed) % 10; k > 0; k--) {
            const char *p = pieces[rand_r(&seed) % (sizeof pieces / sizeof *pieces)];
            memcpy(text + n, p, strlen(p));
            n += strlen(p);
        }
        text[n] = '\0';
        assert_ptr_equal(gcs_json_text_value_end(text), string_end_walked(text));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(top_level_strings_are_read),
        cmocka_unit_test(absent_or_unsure),
        cmocka_unit_test(top_level_values_are_spanned),
        cmocka_unit_test(several_values_in_one_pass),
        cmocka_unit_test(documents_are_checked_as_jansson_reads_them),
        cmocka_unit_test(string_ends_match_a_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
