/*
 * A create written to the plan as text, without a tree, held to the tree's way
 * over generated users: the changes (gcs_diff_create_changes_text against
 * gcs_diff_user's diff from nothing), the strings and spaced values the plan's
 * line is made of (against jansson's dump), and the whole line
 * (gcs_plan_add_create_texts against gcs_plan_add_create_text). A text the
 * hand-written way declines must be one the generator made odd on purpose.
 */
#include "gcstest.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jsontext.h"
#include "core/scim.h"
#include "plan/diff.h"
#include "plan/plan.h"

#define CASES 3000

static unsigned seed = 1130;

static int pick(int n)
{
    return rand_r(&seed) % n;
}

/* ==== Generated values ==== */

static const char *const pieces[] = {
    "a", "Zoë", "O'Brien", "say \"hi\"", "back\\slash", "tab\t", "\n", "\x01", "\x1f",
    "\xe2\x80\xae", "\xe2\x80\x8f", "\xd8\x9c", "München", "a, b: c", "{[", "]}", "null", "",
    " ", "/", "\x7f", "\xc2\x85", "\xf0\x9f\x98\x80", "urn:x", ":", ",",
};

static char *random_text(char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int k = pick(4); k > 0; k--) {
        const char *p = pieces[pick(sizeof pieces / sizeof *pieces)];
        if (n + strlen(p) + 1 > size)
            break;
        memcpy(out + n, p, strlen(p) + 1);
        n += strlen(p);
    }
    return out;
}

/* A member name or an entry's type: plain, or (rarely) odd on purpose: with an
 * escape, or long enough to pass the diff's 512-byte labels. */
static const char *random_name(char *out, size_t size, const char *plain, bool *odd)
{
    int r = pick(60);
    if (r == 0) {
        *odd = true;
        return "ty\"pe";
    }
    if (r == 1) {
        *odd = true;
        memset(out, 'x', size - 1 < 520 ? size - 1 : 520);
        out[size - 1 < 520 ? size - 1 : 520] = '\0';
        return out;
    }
    return plain;
}

static json_t *random_scalar(void)
{
    char text[128];
    switch (pick(9)) {
    case 0: return json_null();
    case 1: return json_true();
    case 2: return json_false();
    case 3: return json_integer(pick(2000) - 1000);
    case 4: return json_real((double)pick(1000) / 8.0);
    case 5: return json_string("");
    case 6: return json_array();
    case 7: return json_object();
    default: return json_string(random_text(text, sizeof text));
    }
}

/* emails, phoneNumbers: entries by type; sometimes not an array, an entry not
 * an object, a type that is not a string, no value. */
static json_t *random_entries(const char *tag, bool *odd)
{
    static const char *const types[] = {"work", "mobile", "home", "other", "gcscim", "hr"};
    if (pick(12) == 0)
        return random_scalar();
    json_t *a = json_array();
    char name[600], text[128];
    for (int k = pick(4); k > 0; k--) {
        if (pick(15) == 0) {
            json_array_append_new(a, random_scalar());
            continue;
        }
        json_t *e = json_object();
        if (pick(8) == 0)
            json_object_set_new(e, "primary", json_true());
        if (pick(10) == 0)
            json_object_set_new(e, tag, json_integer(3));
        else if (pick(12) != 0)
            json_object_set_new(e, tag,
                                json_string(random_name(name, sizeof name, types[pick(6)], odd)));
        if (pick(6) == 0)
            json_object_set_new(e, "value", random_scalar());
        else if (pick(10) != 0)
            json_object_set_new(e, "value", json_string(random_text(text, sizeof text)));
        if (pick(8) == 0) {
            /* the tag after the value: members in another order */
            json_t *t = json_object_get(e, tag);
            if (t) {
                json_incref(t);
                json_object_del(e, tag);
                json_object_set_new(e, tag, t);
            }
        }
        json_array_append_new(a, e);
    }
    return a;
}

static json_t *random_set(const char *key)
{
    static const char *const roles[] = {"Employee", "Agent", "Master Admin", "master admin",
                                        "Team Lead", "Supervisor"};
    if (pick(10) == 0)
        return random_scalar();
    json_t *a = json_array();
    for (int k = pick(4); k > 0; k--) {
        json_t *e = json_pack("{s:s}", key, roles[pick(6)]);
        if (strcmp(key, "name") == 0)
            json_object_set_new(e, "proficiency", json_real((double)pick(6)));
        json_array_append_new(a, e);
    }
    return a;
}

static json_t *random_manager(void)
{
    switch (pick(5)) {
    case 0: return json_pack("{s:s}", "value", "5b0f8a52-8a6c-4c1e-9d43-1c7e5e0b7a01");
    case 1: return json_pack("{s:n}", "value");
    case 2: return json_object();
    case 3: return json_string("E7");
    default: return random_scalar();
    }
}

static void maybe(json_t *obj, const char *key, json_t *value)
{
    if (pick(4) == 0)
        json_decref(value);
    else
        json_object_set_new(obj, key, value);
}

/* A desired user as the mapping builds them, and (rarely) odder ones. */
static json_t *random_user(bool *odd)
{
    static const char *const simple[] = {"userName",  "displayName", "title",  "externalId",
                                         "active",    "nickName",    "locale", "password",
                                         "id",        "groups",      "meta"};
    json_t *u = json_object();
    char text[128], name[600];
    if (pick(2))
        json_object_set_new(u, "schemas", json_pack("[ss]", GCS_SCIM_CORE_USER,
                                                    GCS_SCIM_ENTERPRISE_USER));
    for (size_t i = 0; i < sizeof simple / sizeof *simple; i++)
        maybe(u, simple[i],
              pick(3) ? json_string(random_text(text, sizeof text)) : random_scalar());
    maybe(u, "emails", random_entries("type", odd));
    maybe(u, "phoneNumbers", random_entries("type", odd));
    maybe(u, "roles", random_set("value"));
    if (pick(40) == 0)
        json_object_set_new(u, random_name(name, sizeof name, "nickName", odd), json_true());
    if (pick(30) == 0) {
        *odd = true;
        json_object_set_new(u, "na\\me", json_string("x"));
    }
    if (pick(4)) {
        json_t *ent = json_object();
        maybe(ent, "department", pick(3) ? json_string(random_text(text, sizeof text))
                                         : random_scalar());
        maybe(ent, "division", json_string("Home"));
        maybe(ent, "employeeNumber", random_scalar());
        maybe(ent, "manager", random_manager());
        maybe(ent, "emails", random_entries("type", odd)); /* by its name, in an extension */
        if (pick(40) == 0)
            json_object_set_new(ent, random_name(name, sizeof name, "costCenter", odd),
                                json_string("C1"));
        json_object_set_new(u, GCS_SCIM_ENTERPRISE_USER, ent);
    }
    if (pick(4)) {
        json_t *gen = json_object();
        maybe(gen, "routingSkills", random_set("name"));
        maybe(gen, "routingLanguages", random_set("name"));
        maybe(gen, "externalIds", random_entries("authority", odd));
        json_object_set_new(u, GCS_SCIM_GENESYS_USER, gen);
    }
    if (pick(20) == 0) /* a URN whose value is not an object: an attribute by its name */
        json_object_set_new(u, "urn:example:flag", json_string("on"));
    if (pick(20) == 0)
        json_object_set_new(u, "manager", random_manager());
    if (pick(20) == 0)
        json_object_set_new(u, "externalIds", random_entries("authority", odd));
    return u;
}

/* ==== The changes ==== */

static void create_changes_match_the_diff(void **state)
{
    (void)state;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    int written = 0, declined = 0;
    for (int i = 0; i < CASES; i++) {
        bool odd = false;
        json_t *user = random_user(&odd);
        char *text = json_dumps(user, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_t *nothing = json_object(), *ops = NULL, *changes = NULL;
        assert_int_equal(gcs_diff_user(&ops, &changes, user, nothing, NULL), 0);
        char *want = json_dumps(changes, JSON_INDENT(0) | JSON_PRESERVE_ORDER);
        gcs_buf_clear(&b);
        assert_int_equal(gcs_buf_puts(&b, "["), 0);
        size_t count = 99;
        int rc = gcs_diff_create_changes_text(&b, &count, text);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1) {
            assert_int_equal(gcs_buf_puts(&b, "]"), 0);
            if (strcmp(b.ptr, want) != 0)
                fail_msg("case %d: user %s\nwant %s\ngot  %s", i, text, want, b.ptr);
            assert_int_equal(count, json_array_size(changes));
            written++;
        } else {
            if (!odd)
                fail_msg("case %d: declined a plain user: %s", i, text);
            assert_string_equal(b.ptr, "["); /* nothing appended */
            declined++;
        }
        free(want);
        free(text);
        json_decref(ops);
        json_decref(changes);
        json_decref(nothing);
        json_decref(user);
    }
    /* the generator's odd names are rare: most users go the text's way */
    assert_true(written > CASES * 3 / 4);
    assert_true(declined > 0);
    gcs_buf_release(&b);
}

static void compact_declines_what_jansson_cannot_dump(void **state)
{
    (void)state;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    json_t *v = json_pack("{s:s,s:[i,f,b,n]}", "a", "x", "b", -9223372036854775807LL - 1, 0.1,
                          1);
    assert_int_equal(gcs_json_text_put_compact(&b, v), 1);
    char *want = json_dumps(v, JSON_COMPACT);
    assert_string_equal(b.ptr, want);
    free(want);
    json_object_set_new(v, "nul", json_stringn("a\0b", 3));
    gcs_buf_clear(&b);
    assert_int_equal(gcs_json_text_put_compact(&b, v), 0);
    assert_int_equal(b.len, 0);
    json_decref(v);
    gcs_buf_release(&b);
}

static void create_changes_of_what_never_changes(void **state)
{
    (void)state;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    size_t count = 7;
    assert_int_equal(gcs_diff_create_changes_text(&b, &count, "{}"), 1);
    assert_int_equal(count, 0);
    assert_string_equal(b.ptr, "");
    assert_int_equal(gcs_diff_create_changes_text(
                         &b, &count, "{\"schemas\":[\"a\"],\"id\":\"x\",\"title\":\"\"}"),
                     1);
    assert_int_equal(count, 0);
    /* not the text of an object: the tree decides */
    assert_int_equal(gcs_diff_create_changes_text(&b, &count, "[1]"), 0);
    assert_int_equal(gcs_diff_create_changes_text(&b, &count, "{\"a\":1"), 0);
    gcs_buf_release(&b);
}

/* ==== Strings and values as jansson writes them ==== */

static void strings_match_jansson(void **state)
{
    (void)state;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    for (int i = 0; i < 20000; i++) {
        unsigned char s[48];
        size_t n = (size_t)pick(sizeof s);
        /* Half the strings mostly plain: runs of eight and more that the
         * scan passes by eights, a special byte anywhere among them. */
        bool mostly_plain = pick(2) == 0;
        for (size_t k = 0; k < n; k++) {
            int r = mostly_plain && pick(12) != 0 ? 0 : pick(10);
            s[k] = r < 5   ? (unsigned char)(0x20 + pick(0x60))
                   : r < 7 ? (unsigned char)pick(0x20)
                   : r < 8 ? (unsigned char)"\"\\/"[pick(3)]
                           : (unsigned char)(0x80 + pick(0x80));
            if (s[k] == 0)
                s[k] = 'z';
        }
        if (pick(3) == 0 && n > 4) /* valid sequences too: é, U+202E, U+1F600 */
            memcpy(s + pick((int)n - 4), (const char *[]){"\xc3\xa9", "\xe2\x80\xae",
                                                          "\xf0\x9f\x98\x80"}[pick(3)],
                   2);
        s[n] = '\0';
        json_t *str = json_string((const char *)s);
        gcs_buf_clear(&b);
        int rc = gcs_json_text_put_string(&b, (const char *)s, n);
        if (!str) {
            assert_int_equal(rc, 0);
            assert_int_equal(b.len, 0);
            continue;
        }
        char *want = json_dumps(str, JSON_ENCODE_ANY);
        assert_int_equal(rc, 1);
        assert_string_equal(b.ptr, want);
        free(want);
        json_decref(str);
    }
    gcs_buf_release(&b);
}

static void compact_and_spaced_values_match_jansson(void **state)
{
    (void)state;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++) {
        bool odd = false;
        json_t *user = random_user(&odd);
        char *compact = json_dumps(user, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char *want = json_dumps(user, JSON_INDENT(0) | JSON_PRESERVE_ORDER);
        gcs_buf_clear(&b);
        assert_int_equal(gcs_json_text_put_spaced(&b, compact, strlen(compact)), 0);
        assert_string_equal(b.ptr, want);
        /* and the compact text itself, written without jansson's dump */
        gcs_buf_clear(&b);
        assert_int_equal(gcs_json_text_put_compact(&b, user), 1);
        assert_string_equal(b.ptr, compact);
        free(compact);
        free(want);
        json_decref(user);
    }
    gcs_buf_release(&b);
}

/* ==== The whole line ==== */

/* The plan's line of its one operation, added the tree's way or the text's. */
static char *line_of(bool texts, const char *key, const char *user_name, const char *body,
                     json_t *changes, const char *location, const char *manager_key,
                     json_t *privileged, bool *weighs)
{
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    gcs_plan p;
    assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    if (texts) {
        char *c = json_dumps(changes, JSON_INDENT(0) | JSON_PRESERVE_ORDER);
        char *priv = privileged ? json_dumps(privileged, JSON_INDENT(0)) : NULL;
        assert_int_equal(gcs_plan_add_create_texts(&p, key, user_name, body, c, location,
                                                   manager_key, priv),
                         1);
        free(c);
        free(priv);
    } else {
        json_t *extra = json_pack("{s:s}", "location", location);
        if (manager_key)
            json_object_set_new(extra, "manager_key", json_string(manager_key));
        if (privileged)
            json_object_set(extra, "privileged", privileged);
        assert_int_equal(gcs_plan_add_create_text(&p, key, user_name, body,
                                                  json_incref(changes), extra),
                         0);
    }
    assert_int_equal(gcs_plan_finish(&p), 0);
    *weighs = gcs_plan_weighs_at(&p, 0);
    char *all;
    assert_int_equal(gcs_plan_dump(&all, &p), 0);
    char *line = strdup(strstr(all, "{\"seq\": 1"));
    free(all);
    gcs_plan_release(&p);
    return line;
}

static bool is_utf8(const char *s)
{
    json_t *v = json_string(s);
    json_decref(v);
    return v != NULL;
}

static void create_lines_match_the_tree(void **state)
{
    (void)state;
    char key[128], name[128], location[128], manager[128];
    int compared = 0;
    for (int i = 0; i < 300; i++) {
        bool odd = false;
        json_t *user = random_user(&odd);
        char *body = json_dumps(user, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_t *nothing = json_object(), *ops = NULL, *changes = NULL;
        assert_int_equal(gcs_diff_user(&ops, &changes, user, nothing, NULL), 0);
        random_text(key, sizeof key);
        random_text(name, sizeof name);
        random_text(manager, sizeof manager);
        snprintf(location, sizeof location, "h\"r\\%s.csv:%d", pick(2) ? "\xc3\xa9" : "", i + 2);
        const char *k = pick(8) ? key : NULL, *u = pick(8) ? name : NULL;
        const char *m = pick(2) ? manager : NULL;
        json_t *privileged = pick(3) ? NULL : json_pack("[ss]", "Master Admin", "A \"b\"");
        if (!is_utf8(key) || !is_utf8(name) || !is_utf8(manager)) {
            /* what jansson would not hold: declined, nothing added */
            gcs_plan_options o;
            gcs_plan_options_init(&o);
            gcs_plan p;
            assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
            int rc = gcs_plan_add_create_texts(&p, key, name, body, "[]", location, manager, NULL);
            assert_int_equal(rc, 0);
            assert_int_equal(gcs_plan_size(&p), 0);
            gcs_plan_release(&p);
        } else {
            bool weighs[2];
            char *tree = line_of(false, k, u, body, changes, location, m, privileged, &weighs[0]);
            char *text = line_of(true, k, u, body, changes, location, m, privileged, &weighs[1]);
            assert_string_equal(text, tree);
            assert_int_equal(weighs[0], weighs[1]);
            free(tree);
            free(text);
            compared++;
        }
        json_decref(privileged);
        free(body);
        json_decref(ops);
        json_decref(changes);
        json_decref(nothing);
        json_decref(user);
    }
    assert_true(compared > 150);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_changes_match_the_diff),
        cmocka_unit_test(create_changes_of_what_never_changes),
        cmocka_unit_test(compact_declines_what_jansson_cannot_dump),
        cmocka_unit_test(strings_match_jansson),
        cmocka_unit_test(compact_and_spaced_values_match_jansson),
        cmocka_unit_test(create_lines_match_the_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
