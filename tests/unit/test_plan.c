/* Plans: stable order, identity, approval of mass deactivations, files. */
#include "gcstest.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "plan/plan.h"
#include "plan/internal.h"

static char *read_whole(const char *path)
{
    /* Not getdelim(&local): inlined, GCC 12 takes its result for a pointer to the
     * local itself (-Wdangling-pointer in optimised builds). */
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    char chunk[65536];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ok = gcs_buf_put(&b, chunk, n) == 0;
    ok = ok && !ferror(f);
    fclose(f);
    if (!ok) {
        gcs_buf_release(&b);
        return NULL;
    }
    return gcs_buf_detach(&b);
}

static void build(gcs_plan *p, int deactivations, long managed)
{
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_begin(p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    for (int i = 0; i < deactivations; i++) {
        char key[32], id[32];
        snprintf(key, sizeof key, "L%03d", i);
        snprintf(id, sizeof id, "id-%d", i);
        gcs_plan_add(p, GCS_PLAN_DEACTIVATE, key, NULL, id, "3",
                     json_pack("[{s:s,s:s,s:b}]", "op", "replace", "path", "active", "value", 0),
                     NULL, json_pack("{s:b}", "leaver", 1));
    }
    gcs_plan_add(p, GCS_PLAN_UPDATE, "E2", "b@x.com", "id-b", "7",
                 json_pack("[{s:s,s:s,s:s}]", "op", "replace", "path", "title", "value", "Lead"),
                 json_pack("[{s:s,s:s,s:s}]", "attribute", "title", "old", "Agent", "new", "Lead"),
                 NULL);
    gcs_plan_add(p, GCS_PLAN_CREATE, "E1", "a@x.com", NULL, NULL,
                 json_pack("{s:s,s:s}", "userName", "a@x.com", "displayName", "A"), NULL, NULL);
    gcs_plan_set_counts(p, 5, managed);
    assert_int_equal(gcs_plan_finish(p), 0);
}

static void operations_are_ordered_and_counted(void **state)
{
    (void)state;
    gcs_plan p;
    build(&p, 2, 100);
    json_t *ops = gcs_plan_operations(&p);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "kind")), "create");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 1), "kind")), "update");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 2), "key")), "L000");
    assert_int_equal(gcs_plan_count(&p, GCS_PLAN_DEACTIVATE), 2);
    assert_int_equal(strlen(gcs_plan_identity(&p)), 64);
    /* A plain create cannot matter to the approval rule; the rest may. */
    assert_false(gcs_plan_weighs_at(&p, 0));
    assert_true(gcs_plan_weighs_at(&p, 1));
    assert_true(gcs_plan_weighs_at(&p, 2));
    gcs_plan_release(&p);
}

/* A create that grants a privileged role, or replaces a value, is looked at. */
static void creates_that_grant_or_replace_weigh(void **state)
{
    (void)state;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    gcs_plan p;
    assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    gcs_plan_add(&p, GCS_PLAN_CREATE, "A", "a@x.com", NULL, NULL, json_object(), NULL,
                 json_pack("{s:[s]}", "privileged", "Master Admin"));
    gcs_plan_add(&p, GCS_PLAN_CREATE, "B", "b@x.com", NULL, NULL, json_object(),
                 json_pack("[{s:s,s:s,s:s}]", "attribute", "title", "old", "Agent", "new", "Lead"),
                 NULL);
    gcs_plan_add(&p, GCS_PLAN_CREATE, "C", "c@x.com", NULL, NULL, json_object(),
                 json_pack("[{s:s,s:n,s:s}]", "attribute", "title", "old", "new", "Lead"), NULL);
    gcs_plan_set_counts(&p, 0, 100);
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_true(gcs_plan_weighs_at(&p, 0));
    assert_true(gcs_plan_weighs_at(&p, 1));
    assert_false(gcs_plan_weighs_at(&p, 2));
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_non_null(strstr(gcs_error_last(), "--approve privileged:A"));
    gcs_plan_release(&p);
}

/* A create added from its body's compact text is the operation, byte for byte,
 * that gcs_plan_add writes of the parsed body: escapes, UTF-8, reals, nested
 * and empty values, extra members; and it weighs as that one does. */
static void a_create_added_as_text_is_the_same_operation(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{}",
        "{\"schemas\":[\"urn:a\",\"urn:b\"],\"userName\":\"a@x.com\",\"active\":true}",
        "{\"displayName\":\"Zo\\u00e9 \\\"Q\\\" \\\\ a,b:c\",\"title\":\"\\n\\t\\u0001\","
        "\"roles\":[{\"value\":\"Master Admin\"}],\"x\":{\"skills\":[{\"name\":\"s, t\","
        "\"proficiency\":3.0}],\"empty\":[],\"none\":{}},\"n\":-12}",
        "{\"u\":\"caf\xc3\xa9 \xe2\x80\xae\"}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        char *texts[2];
        bool weigh[2];
        for (int way = 0; way < 2; way++) {
            gcs_plan_options o;
            gcs_plan_options_init(&o);
            gcs_plan p;
            assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
            json_t *changes = json_pack("[{s:s,s:n,s:s}]", "attribute", "title", "old", "new",
                                        "Lead, \"senior\"");
            json_t *extra = json_pack("{s:s,s:[s]}", "location", "hr.csv:2", "privileged",
                                      i == 2 ? "Master Admin" : "");
            if (i != 2)
                json_object_del(extra, "privileged");
            if (way == 0) {
                json_t *body = json_loads(bodies[i], 0, NULL);
                assert_non_null(body);
                assert_int_equal(gcs_plan_add(&p, GCS_PLAN_CREATE, "K\"1", "a@x.com", NULL, NULL,
                                              body, changes, extra),
                                 0);
            } else {
                /* the text as the planner keeps it: jansson's compact dump */
                json_t *body = json_loads(bodies[i], 0, NULL);
                char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
                assert_non_null(text);
                assert_int_equal(
                    gcs_plan_add_create_text(&p, "K\"1", "a@x.com", text, changes, extra), 0);
                free(text);
                json_decref(body);
            }
            assert_int_equal(gcs_plan_finish(&p), 0);
            weigh[way] = gcs_plan_weighs_at(&p, 0);
            char *all;
            assert_int_equal(gcs_plan_dump(&all, &p), 0);
            texts[way] = strdup(strstr(all, "{\"seq\": 1"));
            free(all);
            gcs_plan_release(&p);
        }
        assert_string_equal(texts[0], texts[1]);
        assert_int_equal(weigh[0], weigh[1]);
        free(texts[0]);
        free(texts[1]);
    }
}

/* Two plans made of the same changes are two plans (their runs are told
 * apart by the identity), of one content key (their lease is one). */
static void a_plan_made_again_is_a_plan_of_its_own(void **state)
{
    (void)state;
    gcs_plan a, b, c;
    build(&a, 1, 10);
    build(&b, 1, 10);
    build(&c, 2, 10);
    const char *na = json_string_value(json_object_get(a.doc, "nonce"));
    assert_non_null(na);
    assert_int_equal(strlen(na), 32);
    assert_string_not_equal(na, json_string_value(json_object_get(b.doc, "nonce")));
    assert_string_not_equal(gcs_plan_identity(&a), gcs_plan_identity(&b));
    assert_int_equal(strlen(gcs_plan_content_key(&a)), 64);
    assert_string_equal(gcs_plan_content_key(&a), gcs_plan_content_key(&b));
    assert_string_not_equal(gcs_plan_content_key(&a), gcs_plan_identity(&a));
    assert_string_not_equal(gcs_plan_content_key(&a), gcs_plan_content_key(&c));
    /* When and from which files it was made are sealed, not its content. */
    json_object_set_new(b.doc, "created", json_string("2001-01-01T00:00:00Z"));
    json_object_set_new(json_object_get(b.doc, "source"), "path", json_string("other.csv"));
    char before[65];
    snprintf(before, sizeof before, "%s", gcs_plan_identity(&b));
    assert_int_equal(gcs_plan_finish(&b), 0);
    assert_string_not_equal(gcs_plan_identity(&b), before);
    assert_string_equal(gcs_plan_content_key(&a), gcs_plan_content_key(&b));
    assert_int_equal(gcs_plan_check_current(&a, "a.json"), 0);
    gcs_plan_release(&a);
    gcs_plan_release(&b);
    gcs_plan_release(&c);
}

/* A plan of the format before the nonce reads (undo reads the plans kept with
 * older runs, by their identities), and is refused for apply, saying why. */
static void a_plan_without_a_nonce_reads_but_is_not_applied(void **state)
{
    (void)state;
    static const char v2[] =
        "{\"format\": \"gcscim-plan/2\", \"target\": {\"api_url\": \"http://x\"}, "
        "\"managed_total\": 0, \"identity\": "
        "\"151bbf164367ab5b513584332294226538209d978bf04282d8d3a1962ba83617\", \"operations\": [\n"
        "]}\n";
    gcs_plan p;
    assert_int_equal(gcs_plan_parse(&p, v2, strlen(v2), "old.json"), 0);
    assert_string_equal(gcs_plan_content_key(&p), gcs_plan_identity(&p));
    assert_int_equal(gcs_plan_check_current(&p, "old.json"), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "cannot apply plan 'old.json': it was made by an "
                                             "earlier gcscim (gcscim-plan/2, without a nonce)"));
    assert_non_null(strstr(gcs_error_last(), "make a new plan"));
    gcs_plan_release(&p);
    /* Its identity is still checked, the old way. */
    char edited[sizeof v2];
    memcpy(edited, v2, sizeof v2);
    memcpy(strstr(edited, "\"managed_total\": 0"), "\"managed_total\": 9", 18);
    assert_int_equal(gcs_plan_parse(&p, edited, strlen(edited), "old.json"), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "changed after gcscim made it"));
}

static void mass_deactivation_needs_approval(void **state)
{
    (void)state;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    gcs_plan p;
    build(&p, 11, 1000); /* over the count of 10 */
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_non_null(strstr(gcs_error_last(), "--approve deactivate=11"));
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate=10"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate=11"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);

    gcs_plan_options_init(&o);
    build(&p, 4, 20); /* 20% of managed users: over the share */
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    gcs_plan_release(&p);
    build(&p, 1, 2); /* one leaver of two: under the floor of the share rule */
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
    build(&p, 3, 4); /* 75%, but still at the floor */
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
    build(&p, 3, 1000); /* few and a small share: fine */
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
    build(&p, 3, 3); /* under the floor, but every managed user: a header-only export */
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_non_null(strstr(gcs_error_last(), "every user gcscim manages (3) is absent"));
    assert_non_null(strstr(gcs_error_last(), "--approve deactivate=3"));
    gcs_plan_release(&p);
}

/* The identity is a digest anyone can recompute; the seal needs the secret. */
static void a_plan_is_sealed_with_the_credentials(void **state)
{
    (void)state;
    gcs_plan p;
    build(&p, 1, 100);
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "client", "s3cret"), GCS_EINVALID);
    assert_int_equal(gcs_plan_seal(&p, "client", "s3cret"), 0);
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "client", "s3cret"), 0);
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "client", "other"), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "its seal does not match"));
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "other-client", "s3cret"), GCS_EINVALID);
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "client", NULL), GCS_EINVALID);
    assert_int_equal(gcs_plan_seal(&p, "client", ""), GCS_EINVALID);
    /* An edit and a recomputed identity: the seal no longer matches. */
    json_object_set_new(json_array_get(gcs_plan_operations(&p), 0), "managed", json_true());
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(gcs_plan_check_seal(&p, "p.json", "client", "s3cret"), GCS_EINVALID);
    gcs_plan_release(&p);
}

/* n updates of one attribute from `old` to `new_value` (NULL: emptied). */
static void build_changes(gcs_plan *p, int n, const char *attribute, const char *old,
                          const char *new_value, long managed)
{
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_begin(p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    for (int i = 0; i < n; i++) {
        char key[32], id[32];
        snprintf(key, sizeof key, "U%03d", i);
        snprintf(id, sizeof id, "id-%d", i);
        gcs_plan_add(p, GCS_PLAN_UPDATE, key, NULL, id, "3", json_array(),
                     json_pack("[{s:s,s:s,s:s?}]", "attribute", attribute, "old", old, "new",
                               new_value),
                     NULL);
    }
    gcs_plan_set_counts(p, 0, managed);
    assert_int_equal(gcs_plan_finish(p), 0);
}

static const char *first_need(const gcs_plan *p, const gcs_plan_options *o, json_t **keep)
{
    *keep = gcs_plan_needs(p, o);
    return json_string_value(json_object_get(json_array_get(*keep, 0), "what"));
}

static void mass_clearing_and_changing_need_approval(void **state)
{
    (void)state;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    gcs_plan p;
    json_t *needs;
    /* A column that went missing empties an attribute across the org. */
    build_changes(&p, 11, "title", "Agent", NULL, 1000);
    assert_string_equal(first_need(&p, &o, &needs), "clear:title");
    json_decref(needs);
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_non_null(strstr(gcs_error_last(), "--approve clear:title=11"));
    assert_int_equal(gcs_plan_options_approve(&o, "clear:title=11"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);

    /* Enterprise paths are named by their last part. */
    gcs_plan_options_init(&o);
    build_changes(&p, 101, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                  "Sales", "Support", 100000);
    assert_string_equal(first_need(&p, &o, &needs), "change:department");
    json_decref(needs);
    gcs_plan_release(&p);
    build_changes(&p, 100, "title", "Agent", "Lead", 100000); /* at the count: fine */
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
    /* Filling an empty attribute takes nothing away. */
    build_changes(&p, 500, "title", NULL, "Lead", 600);
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
}

/* The rule reads most updates from their text; an attribute with an escape,
 * changes to "active" and fills are counted as the parsed path counts them. */
static void changes_are_counted_alike_from_text_and_parsed(void **state)
{
    (void)state;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    gcs_plan p;
    json_t *needs;
    build_changes(&p, 11, "ti\"tle", "Agent", "Lead", 20);
    assert_string_equal(first_need(&p, &o, &needs), "change:ti\"tle");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(needs, 0), "count")), 11);
    json_decref(needs);
    gcs_plan_release(&p);
    build_changes(&p, 11, "title", "Agent", "", 20);
    assert_string_equal(first_need(&p, &o, &needs), "clear:title");
    json_decref(needs);
    gcs_plan_release(&p);
    build_changes(&p, 50, "active", "true", "false", 20);
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
}

/* The parser's reading of member texts (NULL: absent), each parsed alone as
 * gcs_plan_op_part_at parses them: a new object, or NULL when one of them
 * does not parse (the rule then needs "unreadable-plan"). */
static json_t *parsed_members(const char *const *texts)
{
    json_t *op = json_object();
    for (int m = 0; m < GCS_PLAN__COUNTED; m++) {
        if (!texts[m])
            continue;
        json_t *v = json_loads(texts[m], JSON_DECODE_ANY, NULL);
        if (!v) {
            json_decref(op);
            return NULL;
        }
        json_object_set_new(op, gcs_plan__counted_members[m], v);
    }
    return op;
}

/* Whether the text path counts `texts` as the parser counts `op` (NULL: it
 * does not parse): it may always leave them to the parser, but what it
 * counts itself is what the parser would, and never a privileged role or a
 * role removed, which only the parsed path says. Says which case differs. */
static bool counted_alike(const char *const *texts, const json_t *op, const char *what)
{
    gcs_plan__tally by_text = {.clears = json_object(), .changes = json_object()};
    gcs_plan__tally by_parser = {.clears = json_object(), .changes = json_object()};
    int text = gcs_plan__count_text(texts, &by_text);
    int parsed = op ? gcs_plan__count_parsed(op, &by_parser) : 0;
    bool alike = text == 0 ? json_object_size(by_text.clears) == 0 &&
                                 json_object_size(by_text.changes) == 0 &&
                                 by_text.deactivations == 0 && by_text.leavers == 0 &&
                                 by_text.adoptions == 0
                           : op && parsed == 1 && by_parser.privileged == 0 &&
                                 by_parser.removals == 0 &&
                                 json_equal(by_text.clears, by_parser.clears) &&
                                 json_equal(by_text.changes, by_parser.changes) &&
                                 by_text.deactivations == by_parser.deactivations &&
                                 by_text.leavers == by_parser.leavers &&
                                 by_text.adoptions == by_parser.adoptions;
    if (!alike)
        print_message("counted otherwise from text (%d) than parsed (%s): %s\n", text,
                      op ? "read" : "unreadable", what);
    json_decref(by_text.clears);
    json_decref(by_text.changes);
    json_decref(by_parser.clears);
    json_decref(by_parser.changes);
    return alike;
}

/* Crafted member texts that no sealed plan holds (an edited plan fails its
 * identity), each counted by the text path as the parser counts it, or left
 * to the parser: escapes, blanks, elements that are no change, nesting, text
 * cut short or run on, repeated names, what the kind, leaver and privileged
 * members may hold. */
static void crafted_texts_are_counted_as_the_parser_counts_them(void **state)
{
    (void)state;
    static const char *const changes[] = {
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"\"},{\"attribute\":\"title\",\"old\":"
        "\"a\",\"new\":null},{\"attribute\":\"department\",\"old\":\"x\",\"new\":[]}]",
        "[]", "[ ]", "[\n]", "{}", "\"x\"", "null", "3", "", " []",
        /* escapes: in values, in a member's name, in what is compared */
        "[{\"attribute\":\"ti\\u0074le\",\"old\":\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"title\",\"old\":\"a\\\"\",\"new\":\"b\"}]",
        "[{\"\\u0061ttribute\":\"title\",\"old\":\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"title\",\"\\u006fld\":\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"n\\u0065w\":\"\"}]",
        "[{\"attribute\":\"\\u0061ctive\",\"old\":\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"r\\u006fles\",\"old\":[{\"value\":\"A\"}],\"new\":[]}]",
        "[{\"attribute\":\"title\",\"old\":\"\\u0000\",\"new\":\"b\"}]",
        /* blanks anywhere JSON allows them */
        "[ {\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"} ]",
        "[{\"attribute\" : \"title\" , \"old\" : \"a\" , \"new\" : \"b\"}]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"} ,{\"attribute\":\"x\",\"old\":"
        "\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"},\n\t{\"attribute\":\"x\",\"old\":"
        "\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"title\",\"old\":[ ],\"new\":\"b\"}]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":[ ]}]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":[\n]}]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"}\n]",
        /* elements that are no change, and nesting */
        "[\"title\"]", "[null]", "[true,false]", "[1,{\"attribute\":\"title\",\"old\":\"a\","
                                                 "\"new\":\"b\"}]",
        "[[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"}]]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\",\"more\":[{\"attribute\":\"x\","
        "\"old\":\"a\",\"new\":\"\"}]}]",
        "[{\"attribute\":{\"title\":1},\"old\":\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":1,\"old\":\"a\",\"new\":\"b\"}]",
        "[{\"old\":\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"title\"}]",
        "[{\"attribute\":\"title\",\"old\":{},\"new\":{}}]",
        "[{\"attribute\":\"title\",\"old\":[\"\"],\"new\":[null]}]",
        "[{\"attribute\":\"n\",\"old\":1.5,\"new\":2e3}]",
        "[{\"attribute\":\"n\",\"old\":0,\"new\":false}]",
        /* cut short, run on, or not JSON at all */
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"}",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"},",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"},]",
        "[{\"attribute\":\"title\",\"old\":\"a\"", "[", "[{", "[{\"attribute\":\"title",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"}]x",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"}][]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"}{\"attribute\":\"x\",\"old\":"
        "\"a\",\"new\":\"b\"}]",
        "[,{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\",}]",
        "[{\"attribute\":\"title\" \"old\":\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"title\",\"old\":a,\"new\":\"b\"}]",
        "[{\"attribute\":\"ti\xfftle\",\"old\":\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"ti\ttle\",\"old\":\"a\",\"new\":\"b\"}]",
        /* repeated names: the parser keeps the last */
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\",\"attribute\":\"roles\"}]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"old\":null,\"new\":\"b\"}]",
        "[{\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\",\"new\":\"\"}]",
        "[{\"attribute\":\"active\",\"attribute\":\"title\",\"old\":\"a\",\"new\":\"b\"}]",
        /* what the rule sets apart */
        "[{\"attribute\":\"roles\",\"old\":[{\"value\":\"A\"}],\"new\":[]}]",
        "[{\"attribute\":\"roles\",\"old\":[],\"new\":[{\"value\":\"A\"}]}]",
        "[{\"attribute\":\"active\",\"old\":true,\"new\":false}]",
        "[{\"attribute\":\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
        "department\",\"old\":\"a\",\"new\":\"b\"}]",
        "[{\"attribute\":\"phoneNumbers[mobile]\",\"old\":\"1\",\"new\":\"\"}]",
    };
    static const char *const kinds[][3] = {
        /* kind, leaver, privileged */
        {"\"update\"", NULL, NULL},
        {"\"update\"", NULL, "[]"},
        {"\"update\"", NULL, "[ ]"},
        {"\"update\"", NULL, "[\"Master Admin\"]"},
        {"\"update\"", NULL, "[\"Master Admin\""},
        {"\"update\"", NULL, "{}"},
        {"\"deactivate\"", "true", NULL},
        {"\"deactivate\"", "1", NULL},
        {"\"deactivate\"", "tru", NULL},
        {"\"deactivate\"", "null", "[]"},
        {"\"adopt\"", NULL, NULL},
        {"\"reactivate\"", NULL, NULL},
        {"\"upd\\u0061te\"", NULL, NULL},
        {"\"deactiv\\u0061te\"", "true", NULL},
        {"\"update\"x", NULL, NULL},
        {"\"update", NULL, NULL},
        {"\"nonsense\"", NULL, NULL},
        {"[\"update\"]", NULL, NULL},
        {NULL, NULL, NULL},
    };
    size_t differ = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        for (size_t c = 0; c <= sizeof changes / sizeof *changes; c++) {
            const char *texts[GCS_PLAN__COUNTED] = {
                kinds[k][0], kinds[k][1], kinds[k][2],
                c < sizeof changes / sizeof *changes ? changes[c] : NULL};
            json_t *op = parsed_members(texts);
            char what[512];
            snprintf(what, sizeof what, "kind %s leaver %s privileged %s changes %s",
                     texts[0] ? texts[0] : "-", texts[1] ? texts[1] : "-",
                     texts[2] ? texts[2] : "-", texts[3] ? texts[3] : "-");
            differ += !counted_alike(texts, op, what);
            json_decref(op);
        }
    }
    assert_int_equal(differ, 0);
    /* The plain case is the text path's own: it does not leave all to the parser. */
    const char *plain[GCS_PLAN__COUNTED] = {"\"update\"", NULL, "[]", changes[0]};
    gcs_plan__tally t = {.clears = json_object(), .changes = json_object()};
    assert_int_equal(gcs_plan__count_text(plain, &t), 1);
    assert_int_equal(json_integer_value(json_object_get(t.changes, "title")), 1);
    json_decref(t.clears);
    json_decref(t.changes);
}

/* An operation's members as the rule reads them from its text: a member whose
 * name holds an escape is the member a parser finds, never absent. */
static void member_names_with_escapes_are_read_as_the_parser_reads_them(void **state)
{
    (void)state;
    static const char *const ops[] = {
        "{\"kind\": \"update\", \"key\": \"E1\", \"ch\\u0061nges\": [{\"attribute\": \"title\", "
        "\"old\": \"a\", \"new\": \"b\"}]}",
        "{\"kind\": \"update\", \"key\": \"E1\", \"privil\\u0065ged\": [\"Master Admin\"], "
        "\"changes\": []}",
        "{\"k\\u0069nd\": \"deactivate\", \"key\": \"E1\", \"changes\": []}",
        "{\"kind\": \"deactivate\", \"le\\u0061ver\": true, \"changes\": []}",
        "{\"kind\": \"update\", \"x\\\"y\": 1, \"changes\": [{\"attribute\": \"title\", "
        "\"old\": \"a\", \"new\": \"\"}]}",
        "{\"kind\": \"update\", \"changes\": [{\"attribute\": \"title\", \"old\": \"a\", "
        "\"new\": \"b\"}], \"privileged\": []}",
        "{\"kind\": \"update\", \"changes\": [{\"\\u0061ttribute\": \"title\", \"old\": \"a\", "
        "\"new\": \"b\"}]}",
    };
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        char *texts[GCS_PLAN__COUNTED];
        assert_int_equal(gcs_plan__member_texts_of(ops[i], strlen(ops[i]),
                                                   gcs_plan__counted_members, GCS_PLAN__COUNTED,
                                                   texts),
                         0);
        json_t *op = json_loads(ops[i], JSON_REJECT_DUPLICATES, NULL);
        assert_non_null(op);
        assert_true(counted_alike((const char *const *)texts, op, ops[i]));
        json_decref(op);
        for (int m = 0; m < GCS_PLAN__COUNTED; m++)
            free(texts[m]);
    }
}

static void roles_privileged_users_and_adoptions_need_approval(void **state)
{
    (void)state;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    gcs_plan p;
    assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    for (int i = 0; i < 11; i++) {
        char key[32];
        snprintf(key, sizeof key, "R%02d", i);
        gcs_plan_add(&p, GCS_PLAN_UPDATE, key, NULL, "id", "1", json_array(),
                     json_pack("[{s:s,s:[{s:s},{s:s}],s:[{s:s}]}]", "attribute", "roles", "old",
                               "value", "Agent", "value", "Supervisor", "new", "value", "Agent"),
                     NULL);
    }
    gcs_plan_add(&p, GCS_PLAN_ADOPT, "A1", "a@x.com", "id-a", "4", json_array(), NULL,
                 json_pack("{s:b}", "managed", 0));
    gcs_plan_add(&p, GCS_PLAN_UPDATE, "BOSS", "boss@x.com", "id-boss", "9", json_array(), NULL,
                 json_pack("{s:[s]}", "privileged", "Master Admin"));
    gcs_plan_set_counts(&p, 0, 100000);
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    const char *msg = gcs_error_last();
    assert_non_null(strstr(msg, "--approve remove-roles=11"));
    assert_non_null(strstr(msg, "--approve adopt=1"));
    assert_non_null(strstr(msg, "--approve privileged:BOSS"));
    assert_int_equal(gcs_plan_options_approve(&o, "remove-roles=11"), 0);
    assert_int_equal(gcs_plan_options_approve(&o, "adopt=1"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_int_equal(gcs_plan_options_approve(&o, "privileged:BOSS"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
}

static void approvals_are_parsed_strictly(void **state)
{
    (void)state;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate=x"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate=-1"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "=3"), GCS_EUSAGE);
    /* A misspelt kind approves nothing: said at once, not by a refusal later. */
    assert_int_equal(gcs_plan_options_approve(&o, "deactivat=5"), GCS_EUSAGE);
    assert_non_null(strstr(gcs_error_last(), "unknown kind 'deactivat'"));
    assert_int_equal(gcs_plan_options_approve(&o, "clear:=5"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "privileged"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "Deactivate=5"), GCS_EUSAGE);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate=3"), 0);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate-despite-rejects"), 0);
    assert_int_equal(gcs_plan_options_approve(&o, "privileged:E7"), 0);
    assert_int_equal(o.approval_count, 3);
    assert_int_equal(o.approvals[0].count, 3);
    assert_int_equal(o.approvals[1].count, -1);
}

static void an_edited_plan_is_refused(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    gcs_plan p;
    build(&p, 2, 1000);
    assert_int_equal(gcs_plan_write(&p, path), 0);
    gcs_plan_release(&p);
    assert_int_equal(gcs_plan_read(&p, path), 0);
    gcs_plan_release(&p);
    /* Point a deactivation at someone else, or lower the managed count that the
     * share rule divides by: both change what the plan is. */
    /* Nor may what people read of it be changed: when and from which files it
     * was made, its summary, or its nonce (another plan's run would be resumed). */
    const char *edits[][2] = {{"\"id-1\"", "\"id-admin\""},
                              {"\"managed_total\": 1000", "\"managed_total\": 9"},
                              {"\"created\": \"", "\"created\": \"1"},
                              {"\"path\": \"hr.csv\"", "\"path\": \"other.csv\""},
                              {"\"deactivate\": 2", "\"deactivate\": 0"},
                              {"\"nonce\": \"", "\"nonce\": \"0"}};
    for (size_t e = 0; e < sizeof edits / sizeof *edits; e++) {
        char *text = read_whole(path);
        assert_non_null(text);
        char *at = strstr(text, edits[e][0]);
        assert_non_null(at);
        gcs_buf edited;
        gcs_buf_init(&edited, 0);
        assert_int_equal(gcs_buf_put(&edited, text, (size_t)(at - text)), 0);
        assert_int_equal(gcs_buf_puts(&edited, edits[e][1]), 0);
        assert_int_equal(gcs_buf_puts(&edited, at + strlen(edits[e][0])), 0);
        char edited_path[700];
        snprintf(edited_path, sizeof edited_path, "%s/edited%zu.json", dir, e);
        free(gcs_test_write_file(dir, strrchr(edited_path, '/') + 1, edited.ptr));
        assert_int_equal(gcs_plan_read(&p, edited_path), GCS_EINVALID);
        assert_non_null(strstr(gcs_error_last(), "changed after gcscim made it"));
        gcs_buf_release(&edited);
        free(text);
    }
    /* The same document laid out otherwise is not read: the identity is over
     * the lines gcscim wrote. */
    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc); /* still one JSON document for any reader */
    char *indented = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    assert_non_null(indented);
    free(gcs_test_write_file(dir, "indented.json", indented));
    free(indented);
    snprintf(path, sizeof path, "%s/indented.json", dir);
    assert_int_equal(gcs_plan_read(&p, path), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "not a gcscim-plan/3 file"));
    gcs_test_tmpdir_remove(dir);
}

/* A plan file is whole or absent: a failed write is an error and leaves the
 * earlier file as it was, with no temporary file behind. */
static void a_failed_write_is_an_error_and_leaves_nothing_half_written(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[600], missing[700];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    snprintf(missing, sizeof missing, "%s/no/such/dir/plan.json", dir);
    gcs_plan p;
    build(&p, 1, 10);
    assert_int_equal(gcs_plan_write(&p, missing), GCS_EIO);
    assert_non_null(strstr(gcs_error_last(), "cannot write plan"));
    free(gcs_test_write_file(dir, "plan.json", "the earlier plan\n"));
    /* A directory it may not write to (as root every write succeeds: skipped). */
    assert_int_equal(chmod(dir, 0500), 0);
    int rc = gcs_plan_write(&p, path);
    assert_int_equal(chmod(dir, 0700), 0);
    if (geteuid() != 0) { /* root writes anywhere */
        assert_int_equal(rc, GCS_EIO);
        FILE *f = fopen(path, "r");
        char line[64] = "";
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof line, f));
        fclose(f);
        assert_string_equal(line, "the earlier plan\n");
    }
    gcs_plan_release(&p);
    gcs_test_tmpdir_remove(dir);
}

/* The names in dir, but . and .., sorted and joined by spaces. */
static void list_dir(char *out, size_t size, const char *dir)
{
    out[0] = '\0';
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0)
            snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? " " : "",
                     names[i]->d_name);
        free(names[i]);
    }
    free(names);
}

/* A writer killed while it writes (here by SIGXFSZ at a file size limit, as
 * kill -9 would) leaves nothing next to the plan; a temporary name a writer
 * left on this host, whose process is gone, is removed by the next write. */
static void a_writer_killed_midway_leaves_nothing_behind(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[600], names[4096];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    gcs_plan p;
    build(&p, 300, 1000); /* some 60 KB */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit none = {0, 0}, small = {4096, 4096};
        setrlimit(RLIMIT_CORE, &none);
        setrlimit(RLIMIT_FSIZE, &small);
        _exit(gcs_plan_write(&p, path) == 0 ? 0 : 3);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* In the allocation-failure run (tests/torture), an allocation of the
     * write may fail first: the write then fails (3), and leaves nothing
     * either. */
    if (!(getenv("GCS_FAILALLOC") && WIFEXITED(status) && WEXITSTATUS(status) == 3)) {
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGXFSZ);
    }
    list_dir(names, sizeof names, dir);
    assert_string_equal(names, "");

    /* Names a writer may leave between two system calls, or without O_TMPFILE:
     * one of a process gone, one of a live process (init), one of another host. */
    char host[256];
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        *c = *c == '/' ? '_' : *c;
    pid_t gone = fork();
    assert_true(gone >= 0);
    if (gone == 0)
        _exit(0);
    assert_int_equal(waitpid(gone, &status, 0), gone);
    char left[3][800];
    snprintf(left[0], sizeof left[0], "plan.json.tmp.%s.%ld.aBcD09", host, (long)gone);
    snprintf(left[1], sizeof left[1], "plan.json.tmp.%s.1.aBcD09", host);
    snprintf(left[2], sizeof left[2], "plan.json.tmp.%s-elsewhere.%ld.aBcD09", host, (long)gone);
    for (int i = 0; i < 3; i++)
        free(gcs_test_write_file(dir, left[i], "half a plan"));
    assert_int_equal(gcs_plan_write(&p, path), 0);
    char want[4096];
    snprintf(want, sizeof want, "plan.json %s %s", left[2], left[1]);
    list_dir(names, sizeof names, dir);
    /* sorted: "plan.json" first, then the other host's name ("-" < "."), then init's */
    assert_string_equal(names, want);
    gcs_plan_release(&p);
    gcs_test_tmpdir_remove(dir);
}

static void files_round_trip_privately(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    gcs_plan p, q;
    build(&p, 1, 10);
    assert_int_equal(gcs_plan_write(&p, path), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(gcs_plan_read(&q, path), 0);
    assert_string_equal(gcs_plan_identity(&p), gcs_plan_identity(&q));
    gcs_plan_release(&q);

    /* A hand-edited operation changes the identity; a broken one is named. */
#define HEAD "{\"format\": \"gcscim-plan/2\", \"target\": {\"api_url\": \"x\"}, \"operations\": [\n"
    char *bad = gcs_test_write_file(dir, "bad.json",
                                    HEAD "{\"seq\": 1, \"kind\": \"update\", \"key\": \"E1\"}\n]}\n");
    assert_int_equal(gcs_plan_read(&q, bad), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "line 2: operation 1 is malformed"));
    char *notplan = gcs_test_write_file(dir, "x.json", "{\"a\":1}\n");
    assert_int_equal(gcs_plan_read(&q, notplan), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "not a gcscim-plan/3 file"));
    char *broken = gcs_test_write_file(dir, "y.json", HEAD "{\"seq\": 1,\n]}\n");
    assert_int_equal(gcs_plan_read(&q, broken), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "line 2"));
    char *cut = gcs_test_write_file(dir, "z.json", HEAD);
    assert_int_equal(gcs_plan_read(&q, cut), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "cut short"));
#undef HEAD

    gcs_plan_release(&p);
    free(bad);
    free(notplan);
    free(broken);
    free(cut);
    gcs_test_tmpdir_remove(dir);
}

/* The plan's text handed out in pieces of any size is what gcs_plan_dump
 * builds whole, byte for byte: what apply keeps of a run's plan. */
static void the_text_in_pieces_is_the_dump(void **state)
{
    (void)state;
    gcs_plan p;
    build(&p, 3, 10);
    assert_int_equal(gcs_plan_seal(&p, "client", "secret"), 0);
    char *whole = NULL;
    assert_int_equal(gcs_plan_dump(&whole, &p), 0);
    size_t len = strlen(whole);
    static const size_t sizes[] = {1, 7, 64, 1 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        gcs_plan_text *t = NULL;
        assert_int_equal(gcs_plan_text_open(&t, &p), 0);
        char *got = malloc(len + sizes[k] + 1);
        assert_non_null(got);
        size_t n = 0, step;
        while ((step = gcs_plan_text_feed(got + n, sizes[k], t)) > 0) {
            assert_true(step != (size_t)-1 && step <= sizes[k]);
            n += step;
            assert_true(n <= len);
        }
        assert_int_equal(n, len);
        assert_memory_equal(got, whole, len);
        assert_int_equal(gcs_plan_text_feed(got, sizes[k], t), 0); /* and stays at its end */
        gcs_plan_text_close(t);
        free(got);
    }
    free(whole);
    gcs_plan_release(&p);
}

/* Operations are read from their text, and built with jansson only when the
 * text check cannot decide: a plan read back weighs each operation as the
 * one built did, and what jansson would refuse is refused. */
static void operations_are_checked_from_their_text(void **state)
{
    (void)state;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    gcs_plan p, back;
    assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
#define J(text) json_loads(text, 0, NULL)
    gcs_plan_add(&p, GCS_PLAN_CREATE, "A", "a@x.com", NULL, NULL, J("{}"), NULL,
                 J("{\"privileged\": [\"Master Admin\"]}"));
    gcs_plan_add(&p, GCS_PLAN_CREATE, "B", "b@x.com", NULL, NULL, J("{}"),
                 J("[{\"attribute\": \"a\", \"old\": null},"
                   " {\"attribute\": \"t\", \"old\": \"Agent \\\"1\\\" ]}\"}]"),
                 NULL);
    gcs_plan_add(&p, GCS_PLAN_CREATE, "C", "c@x.com", NULL, NULL, J("{}"),
                 J("[{\"attribute\": \"t\", \"old\": null, \"new\": \"x\"}, 3, [\"old\"], \"old\"]"),
                 J("{\"privileged\": []}"));
    gcs_plan_add(&p, GCS_PLAN_CREATE, "D", "d@x.com", NULL, NULL, J("{}"), NULL, NULL);
    gcs_plan_add(&p, GCS_PLAN_CREATE, "E", "e@x.com", NULL, NULL, J("{}"), NULL,
                 J("{\"changes\": \"not a list\"}"));
    gcs_plan_add(&p, GCS_PLAN_CREATE, "F", "f@x.com", NULL, NULL, J("{\"n\": 1.5}"),
                 J("[{\"old\": 2.5}]"), NULL); /* reals: left to jansson */
    gcs_plan_add(&p, GCS_PLAN_UPDATE, "G", "g@x.com", "id-g", "1", J("[]"), NULL, NULL);
#undef J
    assert_int_equal(gcs_plan_finish(&p), 0);
    char *text = NULL;
    assert_int_equal(gcs_plan_dump(&text, &p), 0);
    assert_int_equal(gcs_plan_parse(&back, text, strlen(text), "kept"), 0);
    assert_int_equal(gcs_plan_size(&back), 7);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(gcs_plan_kind_at(&back, i), gcs_plan_kind_at(&p, i));
        if (gcs_plan_weighs_at(&back, i) != gcs_plan_weighs_at(&p, i))
            fail_msg("operation %zu weighs %d read back, %d built", i + 1,
                     gcs_plan_weighs_at(&back, i), gcs_plan_weighs_at(&p, i));
    }
    /* A, B, E, F and G weigh; C and D do not */
    assert_false(gcs_plan_weighs_at(&back, 2));
    assert_false(gcs_plan_weighs_at(&back, 3));
    gcs_plan_release(&back);
    free(text);
    gcs_plan_release(&p);

#define HEAD "{\"format\": \"gcscim-plan/2\", \"target\": {\"api_url\": \"x\"}, \"operations\": [\n"
#define CREATE "{\"seq\": 1, \"kind\": \"create\", \"key\": \"E1\", \"body\": {\"userName\": \"e\"}"
    static const struct {
        const char *text, *says;
    } bad[] = {
        {HEAD CREATE ", \"kind\": \"create\"}\n]}\n", "operation 1 is malformed"}, /* repeated */
        {HEAD CREATE ", \"x\": {\"a\": 1, \"a\": 2}}\n]}\n", "operation 1 is malformed"},
        {HEAD "{\"seq\": 1, \"kind\": \"create\", \"key\": \"E1\"}\n]}\n", "is malformed"},
        {HEAD "{\"seq\": 1, \"kind\": \"update\", \"key\": \"E1\", \"id\": \"i\"}\n]}\n",
         "is malformed"},
        {HEAD "{\"seq\": 1, \"kind\": \"remove\", \"key\": \"E1\"}\n]}\n", "is malformed"},
        {HEAD CREATE ", \"s\": \"\\x\"}\n]}\n", "is malformed: invalid escape"},
        {HEAD CREATE ", \"s\": \"\\u0000\"}\n]}\n", "is malformed: \\u0000 is not allowed"},
        {HEAD CREATE ", \"n\": 123456789012345678901234}\n]}\n", "is malformed: too big integer"},
        {HEAD "{\"seq\": 2, \"kind\": \"create\", \"key\": \"E1\", \"body\": {}}\n]}\n",
         "is malformed"}, /* not its position */
        /* an escape in the kind: read by jansson, shaped, and only then refused
         * for an identity that does not match */
        {HEAD "{\"seq\": 1, \"kind\": \"cr\\u0065ate\", \"key\": \"E1\", \"body\": {}}\n]}\n",
         "its identity does not match"},
    };
#undef CREATE
#undef HEAD
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(gcs_plan_parse(&back, bad[i].text, strlen(bad[i].text), "edited"),
                         GCS_EINVALID);
        if (!strstr(gcs_error_last(), bad[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, gcs_error_last(), bad[i].says);
    }
}

/* The check the command line ran itself, now the library's: a plan applies
 * only to the API it was made for. */
/* A plan in memory (kept in the store with its run) reads back as a file does,
 * seal included, and meets the same checks: an edit is refused, naming it. */
static void a_dumped_plan_parses_back_with_the_same_checks(void **state)
{
    (void)state;
    gcs_plan p, back;
    char *text = NULL;
    build(&p, 1, 10);
    assert_int_equal(gcs_plan_seal(&p, "client", "secret"), 0);
    assert_int_equal(gcs_plan_dump(&text, &p), 0);
    assert_int_equal(gcs_plan_parse(&back, text, strlen(text), "kept for run R"), 0);
    assert_string_equal(gcs_plan_identity(&back), gcs_plan_identity(&p));
    assert_int_equal(gcs_plan_check_seal(&back, "kept for run R", "client", "secret"), 0);
    gcs_plan_release(&back);
    char *edit = strstr(text, "\"Lead\"");
    assert_non_null(edit);
    memcpy(edit, "\"Boss\"", 6);
    assert_int_equal(gcs_plan_parse(&back, text, strlen(text), "kept for run R"), GCS_EINVALID);
    assert_null(back.doc);
    assert_non_null(strstr(gcs_error_last(), "cannot use plan 'kept for run R': it was changed"));
    assert_int_equal(gcs_plan_parse(&back, "{\"format\":", 11, "kept for run R"), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "cannot read plan 'kept for run R': not a gcscim-plan/"));
    free(text);
    gcs_plan_release(&p);
}

static void a_plan_applies_only_to_its_target(void **state)
{
    gcs_plan p;
    build(&p, 0, 10);
    assert_int_equal(gcs_plan_check_target(&p, "http://127.0.0.1:1", "plan.json"), 0);
    assert_int_equal(gcs_plan_check_target(&p, "https://api.mypurecloud.de", "plan.json"),
                     GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "plan 'plan.json' was made for http://127.0.0.1:1"));
    assert_int_equal(gcs_plan_check_target(&p, NULL, "plan.json"), GCS_EINVALID);
    gcs_plan_release(&p);
}

static void text_shows_each_change(void **state)
{
    (void)state;
    gcs_plan p;
    build(&p, 1, 10);
    gcs_plan_reject(&p, "hr.csv:7", "email", "not an email address");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gcs_plan_render_text(&p, f, false);
    fclose(f);
    assert_non_null(strstr(text, "+ create E1 (a@x.com)"));
    assert_non_null(strstr(text, "~ update E2 (b@x.com) id=id-b version=7"));
    assert_non_null(strstr(text, "title                  \"Agent\" -> \"Lead\""));
    assert_non_null(strstr(text, "- deactivate L000"));
    assert_non_null(strstr(text, "! rejected hr.csv:7 field email: not an email address"));
    assert_non_null(strstr(text, "Plan: 1 to create, 0 to adopt, 1 to update, 0 to reactivate, "
                                 "1 to deactivate, 5 unchanged, 0 skipped, 1 rejected."));
    free(text);
    gcs_plan_release(&p);
}

/* The rendering reads a change written as gcscim writes it ({"attribute",
 * "old", "new", a label without escapes) straight from its text, and any other
 * change member by member: generated changes, written both ways (members in
 * another order, or the label's first letter escaped), render alike. */
static char *rendered_changes(const char *changes_text)
{
    gcs_plan p;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    assert_int_equal(gcs_plan_add_create_texts(&p, "E1", "a@x.com", "{\"userName\":\"a@x.com\"}",
                                               changes_text, "hr.csv:2", NULL, NULL),
                     1);
    gcs_plan_set_counts(&p, 0, 0);
    assert_int_equal(gcs_plan_finish(&p), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gcs_plan_render_text(&p, f, false);
    fclose(f);
    gcs_plan_release(&p);
    return text;
}

static void changes_render_alike_however_written(void **state)
{
    (void)state;
    static const char *const labels[] = {
        "title", "displayName", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "phoneNumbers[work]", "externalIds[gcscim]", "a:b", "urn:x", "roles", "x"};
    static const char *const values[] = {
        "null", "\"Agent\"", "\"say \\\"hi\\\"\"", "\"tab\\t\\u001b[2J\"", "\"\u202e exe\"", "3",
        "2.5", "true", "false", "[]", "[{\"value\": \"Admin\"}, {\"value\": \"Agent\"}]",
        "{\"value\": \"id-1\"}", "\"\"", "\"Zo\u00eb\""};
    unsigned seed = 1203;
    char long_label[600];
    memset(long_label, 'l', sizeof long_label - 1);
    long_label[sizeof long_label - 1] = '\0';
    for (int c = 0; c < 300; c++) {
        gcs_buf a, b;
        gcs_buf_init(&a, 0);
        gcs_buf_init(&b, 0);
        int n = rand_r(&seed) % 5;
        bool ok = gcs_buf_putc(&a, '[') == 0 && gcs_buf_putc(&b, '[') == 0;
        for (int k = 0; k < n && ok; k++) {
            int li = rand_r(&seed) % 10;
            const char *label = li < 9 ? labels[li] : long_label;
            const char *old = values[rand_r(&seed) % (sizeof values / sizeof *values)];
            const char *new_ = values[rand_r(&seed) % (sizeof values / sizeof *values)];
            const char *sep = k ? ", " : "";
            ok = gcs_buf_printf(&a, "%s{\"attribute\": \"%s\", \"old\": %s, \"new\": %s}", sep,
                                label, old, new_) == 0;
            if (ok && rand_r(&seed) % 2)
                ok = gcs_buf_printf(&b, "%s{\"new\": %s, \"attribute\": \"%s\", \"old\": %s}", sep,
                                    new_, label, old) == 0;
            else if (ok)
                ok = gcs_buf_printf(&b, "%s{\"attribute\": \"\\u%04x%s\", \"old\": %s, \"new\": %s}",
                                    sep, (unsigned)label[0], label + 1, old, new_) == 0;
        }
        ok = ok && gcs_buf_putc(&a, ']') == 0 && gcs_buf_putc(&b, ']') == 0;
        assert_true(ok);
        char *ta = rendered_changes(a.ptr), *tb = rendered_changes(b.ptr);
        assert_string_equal(ta, tb);
        assert_int_equal(strlen(ta) > 0, true);
        free(ta);
        free(tb);
        gcs_buf_release(&a);
        gcs_buf_release(&b);
    }
}

/* jansson's allocator for the test below: fails the allocation `fail_in`
 * allocations from now (0: this one), then succeeds again. */
static long fail_in = -1;

static void *failing_malloc(size_t n)
{
    if (fail_in >= 0 && fail_in-- == 0)
        return NULL;
    return malloc(n);
}

/* gcs_plan_finish either fails or leaves a whole plan: seq numbers, summary
 * and identity. It used to return 0 with any of them missing when an
 * allocation failed, and the plan went on without an identity. */
static void finish_is_whole_or_fails(void **state)
{
    (void)state;
    long reached = 0;
    for (long n = 0; n < 1000 && reached == 0; n++) {
        gcs_plan_options o;
        gcs_plan_options_init(&o);
        gcs_plan p;
        assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
        gcs_plan_add(&p, GCS_PLAN_CREATE, "E1", "a@x.com", NULL, NULL,
                     json_pack("{s:s}", "userName", "a@x.com"), NULL, NULL);
        gcs_plan_set_counts(&p, 1, 10);
        fail_in = n;
        json_set_alloc_funcs(failing_malloc, free);
        int rc = gcs_plan_finish(&p);
        json_set_alloc_funcs(malloc, free);
        if (fail_in >= 0)
            reached = n; /* finished without meeting the failure: all points done */
        fail_in = -1;
        if (rc == 0) {
            assert_non_null(gcs_plan_identity(&p));
            assert_non_null(json_object_get(p.doc, "summary"));
            assert_non_null(json_object_get(json_array_get(gcs_plan_operations(&p), 0), "seq"));
        } else {
            assert_int_equal(rc, GCS_ENOMEM);
        }
        gcs_plan_release(&p);
    }
    assert_true(reached > 0);
}


/* ==== Streaming: a plan is written, read and hashed a line at a time ==== */

/* A plan of n creates whose bodies carry `pad` bytes each, plus updates and
 * deactivations, in no particular order. */
static void build_large(gcs_plan *p, int n, size_t pad)
{
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_begin(p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    char *filler = malloc(pad + 1);
    assert_non_null(filler);
    memset(filler, 'x', pad);
    filler[pad] = '\0';
    for (int i = n - 1; i >= 0; i--) {
        char key[32], name[64], id[32];
        snprintf(key, sizeof key, "K%06d", i);
        snprintf(name, sizeof name, "person%06d@example.com", i);
        snprintf(id, sizeof id, "id-%d", i);
        if (i % 10 == 3)
            assert_int_equal(gcs_plan_add(p, GCS_PLAN_UPDATE, key, name, id, "\"2\"",
                                          json_pack("[{s:s,s:s,s:s}]", "op", "replace", "path",
                                                    "title", "value", "Lead"),
                                          json_pack("[{s:s,s:s,s:s}]", "attribute", "title", "old",
                                                    "Agent", "new", "Lead"),
                                          json_pack("{s:b}", "managed", 1)),
                             0);
        else if (i % 10 == 7)
            assert_int_equal(gcs_plan_add(p, GCS_PLAN_DEACTIVATE, key, name, id, "\"5\"",
                                          json_pack("[{s:s,s:s,s:b}]", "op", "replace", "path",
                                                    "active", "value", 0),
                                          NULL, json_pack("{s:b}", "leaver", 1)),
                             0);
        else
            assert_int_equal(gcs_plan_add(p, GCS_PLAN_CREATE, key, name, NULL, NULL,
                                          json_pack("{s:s,s:s,s:s}", "userName", name,
                                                    "displayName", "P\u00e9rson \"q\"\n",
                                                    "title", filler),
                                          NULL, NULL),
                             0);
    }
    free(filler);
    gcs_plan_set_counts(p, 0, 100 * (long)n);
    assert_int_equal(gcs_plan_finish(p), 0);
}

typedef struct chunks {
    const char *text;
    size_t len, pos, step;
    size_t fail_at; /* an input error once this many bytes were given; 0: never */
} chunks;

/* Gives the text 1, 2, ... 13 bytes at a time, round and round. */
static size_t feed_chunks(char *buf, size_t size, void *payload)
{
    chunks *c = payload;
    if (c->fail_at && c->pos >= c->fail_at) {
        errno = EIO;
        return (size_t)-1;
    }
    size_t n = c->step++ % 13 + 1;
    if (n > size)
        n = size;
    if (n > c->len - c->pos)
        n = c->len - c->pos;
    memcpy(buf, c->text + c->pos, n);
    c->pos += n;
    return n;
}

static void a_plan_is_read_and_hashed_in_pieces(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    gcs_plan p, q;
    build_large(&p, 300, 200);
    assert_int_equal(gcs_plan_write(&p, path), 0);
    char *text = read_whole(path);
    assert_non_null(text);
    /* One line for the plan, one per operation, one that closes it. */
    size_t lines = 0;
    for (const char *t = text; *t; t++)
        lines += *t == '\n';
    assert_int_equal(lines, 302);

    chunks c = {text, strlen(text), 0, 0, 0};
    gcs_plan_reader r;
    gcs_plan_reader_init(&r, "pieces", feed_chunks, &c);
    assert_int_equal(gcs_plan_read_stream(&q, &r), 0);
    assert_string_equal(gcs_plan_identity(&p), gcs_plan_identity(&q));
    assert_int_equal(gcs_plan_size(&q), 300);
    for (size_t i = 0; i < gcs_plan_size(&p); i++) {
        json_t *x = gcs_plan_op_at(&p, i), *y = gcs_plan_op_at(&q, i);
        assert_true(json_equal(x, y));
        assert_int_equal(gcs_plan_kind_at(&p, i), gcs_plan_kind_at(&q, i));
        /* A part is those members, as the whole operation holds them. */
        static const char *const members[] = {"kind", "changes", "displayName", "version", "seq"};
        json_t *part = gcs_plan_op_part_at(&q, i, members, 5);
        assert_non_null(part);
        for (size_t m = 0; m < 5; m++) {
            json_t *want = json_object_get(y, members[m]);
            if (strcmp(members[m], "seq") == 0 || !want)
                assert_null(json_object_get(part, members[m])); /* seq: the position, not kept */
            else
                assert_true(json_equal(json_object_get(part, members[m]), want));
        }
        json_decref(part);
        /* A member's text is what JSON_COMPACT writes of it: what goes on the wire. */
        const char *member = gcs_plan_kind_at(&q, i) == GCS_PLAN_CREATE ? "body" : "changes";
        char *kept = gcs_plan_member_text_at(&q, i, member);
        char *dumped = json_dumps(json_object_get(y, member), JSON_COMPACT);
        assert_non_null(kept);
        assert_string_equal(kept, dumped);
        free(kept);
        free(dumped);
        assert_null(gcs_plan_member_text_at(&q, i, "nothing"));
        assert_int_equal(gcs_error_last_code(), GCS_ENOTFOUND);
        json_decref(x);
        json_decref(y);
    }
    /* Sorted as ever: creates, then updates, then deactivations, by key. */
    json_t *first = gcs_plan_op_at(&q, 0), *last = gcs_plan_op_at(&q, 299);
    assert_string_equal(json_string_value(json_object_get(first, "key")), "K000000");
    assert_int_equal(json_integer_value(json_object_get(first, "seq")), 1);
    assert_string_equal(json_string_value(json_object_get(last, "kind")), "deactivate");
    json_decref(first);
    json_decref(last);
    gcs_plan_release(&q);

    /* Cut anywhere inside, it is refused; an input error is an I/O error. */
    for (size_t cut = 1; cut < c.len - 3; cut += c.len / 37) {
        chunks part = {text, cut, 0, 0, 0};
        gcs_plan_reader_init(&r, "cut", feed_chunks, &part);
        assert_int_equal(gcs_plan_read_stream(&q, &r), GCS_EINVALID);
        assert_null(q.doc);
    }
    chunks failing = {text, strlen(text), 0, 0, c.len / 2};
    gcs_plan_reader_init(&r, "failing", feed_chunks, &failing);
    assert_int_equal(gcs_plan_read_stream(&q, &r), GCS_EIO);

    /* Two operations swapped (each still whole and well formed) are another plan. */
    char *second = strchr(text, '\n') + 1, *third = strchr(second, '\n') + 1;
    char *fourth = strchr(third, '\n') + 1;
    size_t l2 = (size_t)(third - second), l3 = (size_t)(fourth - third);
    char *swapped = malloc(strlen(text) + 1);
    assert_non_null(swapped);
    size_t at = (size_t)(second - text);
    memcpy(swapped, text, at);
    memcpy(swapped + at, third, l3);
    memcpy(swapped + at + l3, second, l2);
    strcpy(swapped + at + l3 + l2, fourth);
    chunks sw = {swapped, strlen(swapped), 0, 0, 0};
    gcs_plan_reader_init(&r, "swapped", feed_chunks, &sw);
    assert_int_equal(gcs_plan_read_stream(&q, &r), GCS_EINVALID);
    free(swapped);
    free(text);
    gcs_plan_release(&p);
    gcs_test_tmpdir_remove(dir);
}

/* What apply reads of each operation (its strings, its members' text) is what
 * the whole operation holds, for operations that fit the read window and for
 * those larger than it, in any order of reading. */
static void members_read_as_the_operation_holds_them(void **state)
{
    (void)state;
    static const size_t pads[] = {200, 150000};
    for (size_t k = 0; k < 2; k++) {
        gcs_plan p;
        build_large(&p, 40, pads[k]);
        size_t n = gcs_plan_size(&p);
        for (size_t step = 0; step < 2 * n; step++) {
            /* forwards, then backwards: the window is met from both sides */
            size_t i = step < n ? step : 2 * n - 1 - step;
            json_t *op = gcs_plan_op_at(&p, i);
            assert_non_null(op);
            static const char *const names[] = {"key", "userName", "version", "id", "leaver",
                                                "body", "nothing"};
            char *v[7];
            bool present[7];
            assert_int_equal(gcs_plan_op_strings_at(&p, i, names, 7, v, present), 0);
            for (size_t m = 0; m < 7; m++) {
                json_t *want = json_object_get(op, names[m]);
                assert_int_equal(present[m], want != NULL);
                if (json_is_string(want))
                    assert_string_equal(v[m], json_string_value(want)); /* "\"2\"" unescaped */
                else
                    assert_null(v[m]);
                free(v[m]);
            }
            static const char *const members[] = {"operations", "managed", "body", "nothing"};
            char *texts[4];
            assert_int_equal(gcs_plan_member_texts_at(&p, i, members, 4, texts), 0);
            for (size_t m = 0; m < 4; m++) {
                json_t *want = json_object_get(op, members[m]);
                char *dumped = want ? json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
                if (dumped)
                    assert_string_equal(texts[m], dumped);
                else
                    assert_null(texts[m]);
                free(dumped);
                free(texts[m]);
            }
            json_decref(op);
        }
        assert_int_not_equal(gcs_plan_op_strings_at(&p, n, NULL, 0, NULL, NULL), 0);
        gcs_plan_release(&p);
    }
}

/* A member's text is what JSON_COMPACT writes of it whatever its strings
 * hold: blanks after commas and colons inside strings kept, escaped quotes and
 * backslashes (an even run of them before a quote ends the string) copied
 * through, empty strings and strings in arrays. */
static void member_text_is_compact_whatever_its_strings_hold(void **state)
{
    (void)state;
    static const char *const values[] = {
        "Sales, EMEA: north", "a \"quoted\" word, and: more", "ends with a backslash \\",
        "\\\\", "\\\"", "\\\\\"x\\\\", "", ", : ,: ", "\"", "tab\there\nline", "P\u00e9rson",
    };
    enum { N = sizeof values / sizeof *values };
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    gcs_plan p;
    assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    for (size_t i = 0; i < N; i++) {
        char key[32], name[64];
        snprintf(key, sizeof key, "K%02zu", i);
        snprintf(name, sizeof name, "p%02zu@example.com", i);
        json_t *body = json_pack("{s:s,s:s,s:[s,s,i],s:{s:s,s:b}}", "userName", name, "title",
                                 values[i], "list", values[i], values[(i + 1) % N], (int)i,
                                 "nested", "v", values[(i + 2) % N], "flag", 1);
        assert_int_equal(gcs_plan_add(&p, GCS_PLAN_CREATE, key, name, NULL, NULL, body, NULL, NULL),
                         0);
    }
    assert_int_equal(gcs_plan_finish(&p), 0);
    for (size_t i = 0; i < gcs_plan_size(&p); i++) {
        json_t *op = gcs_plan_op_at(&p, i);
        char *want = json_dumps(json_object_get(op, "body"), JSON_COMPACT);
        char *kept = gcs_plan_member_text_at(&p, i, "body");
        assert_non_null(kept);
        assert_string_equal(kept, want);
        free(kept);
        free(want);
        json_decref(op);
    }
    gcs_plan_release(&p);
}

/* A plan's text, then `pad` blank bytes (no newline), in whole chunks. */
typedef struct padded {
    const char *text;
    size_t len, pos, pad;
} padded;

static size_t feed_padded(char *buf, size_t size, void *payload)
{
    padded *f = payload;
    size_t n = 0;
    if (f->pos < f->len) {
        n = f->len - f->pos < size ? f->len - f->pos : size;
        memcpy(buf, f->text + f->pos, n);
    } else if (f->pos < f->len + f->pad) {
        n = f->len + f->pad - f->pos < size ? f->len + f->pad - f->pos : size;
        memset(buf, ' ', n);
    }
    f->pos += n;
    return n;
}

static void a_plan_padded_past_its_end_is_refused_as_bad_input(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    gcs_plan p, q;
    build_large(&p, 3, 10);
    assert_int_equal(gcs_plan_write(&p, path), 0);
    char *text = read_whole(path);
    assert_non_null(text);
    gcs_plan_reader r;
    /* Some blank space after the end is harmless. */
    padded some = {text, strlen(text), 0, 4096};
    gcs_plan_reader_init(&r, "padded", feed_padded, &some);
    assert_int_equal(gcs_plan_read_stream(&q, &r), 0);
    gcs_plan_release(&q);
    /* A blank line past the line limit is bad input, not an input error. */
    padded huge = {text, strlen(text), 0, (size_t)GCS_PLAN_MAX_LINE_BYTES + 1};
    gcs_plan_reader_init(&r, "padded", feed_padded, &huge);
    assert_int_equal(gcs_plan_read_stream(&q, &r), GCS_EINVALID);
    assert_null(q.doc);
    assert_non_null(strstr(gcs_error_last(), "after the plan's end"));
    free(text);
    gcs_plan_release(&p);
    gcs_test_tmpdir_remove(dir);
}

/* jansson's allocations, counted: what lives at once, and the most at once. */
static size_t json_live, json_peak;

static void *counting_malloc(size_t n)
{
    void *p = malloc(n);
    if (p) {
        json_live += malloc_usable_size(p);
        if (json_live > json_peak)
            json_peak = json_live;
    }
    return p;
}

static void counting_free(void *p)
{
    if (p)
        json_live -= malloc_usable_size(p);
    free(p);
}

/* A plan many times larger than the memory its JSON may take is built,
 * written, read, checked, shown and gone through: its operations are never
 * held as one tree, nor as one text. */
static void a_plan_larger_than_its_memory_is_built_and_read(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    const size_t limit = 64 * 1024; /* the plan's file is some 1 MiB */
    json_live = json_peak = 0;
    json_set_alloc_funcs(counting_malloc, counting_free);
    gcs_plan p, q;
    /* (the counting covers what jansson allocates: every tree and text of
     * an operation, the plan's document and the approval's counts) */
    build_large(&p, 1000, 1000);
    assert_int_equal(gcs_plan_write(&p, path), 0);
    gcs_plan_release(&p);
    assert_int_equal(gcs_plan_read(&q, path), 0);
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_options_approve(&o, "deactivate=100"), 0);
    assert_int_equal(gcs_plan_options_approve(&o, "change:title=100"), 0);
    assert_int_equal(gcs_plan_check_approval(&q, &o), 0);
    FILE *devnull = fopen("/dev/null", "w");
    gcs_plan_render_text(&q, devnull, false);
    fclose(devnull);
    size_t creates = 0;
    for (size_t i = 0; i < gcs_plan_size(&q); i++) {
        json_t *op = gcs_plan_op_at(&q, i);
        creates += json_is_object(json_object_get(op, "body"));
        json_decref(op);
    }
    gcs_plan_release(&q);
    json_set_alloc_funcs(malloc, free);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 10 * (off_t)limit);
    assert_int_equal(creates, 800);
    if (json_peak >= limit)
        fail_msg("jansson held %zu bytes at once, over %zu", json_peak, limit);
    gcs_test_tmpdir_remove(dir);
}

/* What gcs_plan_put_text writes for s. */
static char *put_text(const char *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    gcs_plan_put_text(f, s);
    assert_int_equal(fclose(f), 0);
    return text;
}

static void plan_text_escapes_control_and_bidi_characters(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain caf\xC3\xA9", "plain caf\xC3\xA9"},         /* UTF-8 text stays */
        {"a\x1b[2Jb\n", "a\\x1B[2Jb\\x0A"},                /* C0 */
        {"del\x7f", "del\\x7F"},                               /* DEL */
        {"c1\xC2\x9B" "31m", "c1\\x9B31m"},                      /* C1 (CSI) */
        {"txt\xE2\x80\xAE" "exe", "txt\\u202Eexe"},            /* right-to-left override */
        {"\xE2\x81\xA6i\xE2\x81\xA9", "\\u2066i\\u2069"}, /* isolates */
        {"m\xE2\x80\x8F\xD8\x9C", "m\\u200F\\u061C"},   /* marks */
        {"\xE2\x80\x94 dash", "\xE2\x80\x94 dash"},         /* U+2014 is no control */
        {"cut\xE2\x80", "cut\xE2\x80"},                       /* a truncated sequence */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = put_text(cases[i].in);
        assert_string_equal(got, cases[i].out);
        free(got);
    }
}

/* A value shown in a change is escaped as gcs_plan_put_text escapes it (the
 * rendering passes printable ASCII by eights): generated values of controls,
 * DEL, C1 controls, bidi controls, other UTF-8 and runs of plain text. */
static void shown_values_are_escaped_as_put_text_escapes(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "plain text", "abcdefgh", "x", "\x01", "\x1b[2J", "\x7f", "\xc2\x85", "\xc2\x9b",
        "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x80\x8f", "\xd8\x9c", "\xe2\x80\x94", "Zo\xc3\xab",
        "\t", "\n", "~", " ", "\xf0\x9f\x98\x80"};
    unsigned seed = 1205;
    for (int c = 0; c < 500; c++) {
        char value[512];
        size_t n = 0;
        for (int k = 1 + rand_r(&seed) % 8; k > 0; k--) {
            const char *p = pieces[rand_r(&seed) % (sizeof pieces / sizeof *pieces)];
            memcpy(value + n, p, strlen(p));
            n += strlen(p);
        }
        value[n] = '\0';
        json_t *v = json_string(value);
        assert_non_null(v);
        char *v_text = json_dumps(v, JSON_ENCODE_ANY);
        json_decref(v);
        char changes[2048];
        snprintf(changes, sizeof changes, "[{\"attribute\": \"title\", \"old\": null, \"new\": %s}]",
                 v_text);
        free(v_text);
        char *text = rendered_changes(changes);
        char *want = put_text(value);
        const char *at = strstr(text, "(none) -> \"");
        assert_non_null(at);
        at += strlen("(none) -> \"");
        assert_int_equal(strncmp(at, want, strlen(want)), 0);
        assert_memory_equal(at + strlen(want), "\"\n", 2);
        free(want);
        free(text);
    }
}

/* A plan path naming a FIFO nobody writes to (or a typo'd process
 * substitution) is refused at once, as any file that is not a regular one. */
static void a_plan_path_that_is_a_fifo_never_hangs(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/plan.json", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    gcs_test_deadline(30); /* a blocking open would wait here for ever */
    gcs_plan p;
    assert_int_equal(gcs_plan_read(&p, fifo), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "not a regular file"));
    gcs_test_deadline(0);
    gcs_test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plan_text_escapes_control_and_bidi_characters),
        cmocka_unit_test(shown_values_are_escaped_as_put_text_escapes),
        cmocka_unit_test(operations_are_ordered_and_counted),
        cmocka_unit_test(a_create_added_as_text_is_the_same_operation),
        cmocka_unit_test(a_plan_made_again_is_a_plan_of_its_own),
        cmocka_unit_test(a_plan_without_a_nonce_reads_but_is_not_applied),
        cmocka_unit_test(a_plan_path_that_is_a_fifo_never_hangs),
        cmocka_unit_test(operations_are_checked_from_their_text),
        cmocka_unit_test(the_text_in_pieces_is_the_dump),
        cmocka_unit_test(mass_deactivation_needs_approval),
        cmocka_unit_test(mass_clearing_and_changing_need_approval),
        cmocka_unit_test(changes_are_counted_alike_from_text_and_parsed),
        cmocka_unit_test(crafted_texts_are_counted_as_the_parser_counts_them),
        cmocka_unit_test(member_names_with_escapes_are_read_as_the_parser_reads_them),
        cmocka_unit_test(roles_privileged_users_and_adoptions_need_approval),
        cmocka_unit_test(approvals_are_parsed_strictly),
        cmocka_unit_test(creates_that_grant_or_replace_weigh),
        cmocka_unit_test(an_edited_plan_is_refused),
        cmocka_unit_test(a_plan_is_read_and_hashed_in_pieces),
        cmocka_unit_test(members_read_as_the_operation_holds_them),
        cmocka_unit_test(member_text_is_compact_whatever_its_strings_hold),
        cmocka_unit_test(a_plan_padded_past_its_end_is_refused_as_bad_input),
        cmocka_unit_test(a_plan_larger_than_its_memory_is_built_and_read),
        cmocka_unit_test(a_plan_is_sealed_with_the_credentials),
        cmocka_unit_test(files_round_trip_privately),
        cmocka_unit_test(a_dumped_plan_parses_back_with_the_same_checks),
        cmocka_unit_test(a_failed_write_is_an_error_and_leaves_nothing_half_written),
        cmocka_unit_test(a_writer_killed_midway_leaves_nothing_behind),
        cmocka_unit_test(a_plan_applies_only_to_its_target),
        cmocka_unit_test(text_shows_each_change),
        cmocka_unit_test(changes_render_alike_however_written),
        cmocka_unit_test(finish_is_whole_or_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
