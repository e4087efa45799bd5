/* Groups: the groups file, people's groups from a column, the hierarchy kept or
 * flattened, cycles and limits, and the group section's approvals. */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mapping/groups_file.h"
#include "mapping/profile.h"
#include "plan/group_plan.h"
#include "plan/group_tree.h"

static void read_text(gcs_group_defs *d, const char *name, const char *text, int want_rc)
{
    gcs_group_defs_init(d);
    assert_int_equal(gcs_groups_file_read_mem(d, name, text, strlen(text)), want_rc);
}

/* The n-th rejection's text, as shown. */
static const char *rejection(const gcs_group_defs *d, size_t i)
{
    static char buf[800];
    assert_true(i < d->rejected.count);
    return gcs_row_error_format(buf, sizeof buf, &d->rejected.items[i]);
}

static void csv_groups_are_read_with_lists_and_grants(void **state)
{
    (void)state;
    gcs_group_defs d;
    read_text(&d, "g.csv",
              "key,name,description,visibility,parents,members,roles\n"
              "support,Support,All of support,members,,E1; E2 ;,Agent@Home;Supervisor@Support\n"
              "tier-1,,,,support,,\n",
              0);
    assert_int_equal(d.count, 2);
    gcs_group_def *g = gcs_group_defs_find(&d, "support");
    assert_non_null(g);
    assert_string_equal(g->name, "Support");
    assert_string_equal(g->visibility, "members");
    assert_null(g->type); /* not given: left as Genesys has it */
    assert_int_equal(g->members.count, 2);
    assert_string_equal(g->members.items[1], "E2");
    assert_int_equal(g->nroles, 2);
    assert_string_equal(g->roles[1].role, "Supervisor");
    assert_string_equal(g->roles[1].division, "Support");
    assert_true(g->has_roles);
    g = gcs_group_defs_find(&d, "tier-1");
    assert_string_equal(g->name, "tier-1"); /* the key when no name is given */
    assert_string_equal(g->parents.items[0], "support");
    assert_string_equal(g->location, "g.csv:3");
    gcs_group_defs_release(&d);
}

static void bad_groups_are_rejected_naming_line_and_field(void **state)
{
    (void)state;
    gcs_group_defs d;
    read_text(&d, "g.csv",
              "key,name,type,roles\n"
              "a,A,official,\n"
              "b,B,team,\n"
              "c,C,,Agent\n"
              "a,Other,,\n"
              "d,A,,\n",
              0);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.rejected_groups, 4);
    assert_non_null(strstr(rejection(&d, 0), "g.csv: line 3, column 3 (type)"));
    assert_non_null(strstr(rejection(&d, 0), "'team' is not official or social"));
    assert_non_null(strstr(rejection(&d, 1), "'Agent' is not ROLE@DIVISION"));
    assert_non_null(strstr(rejection(&d, 2), "key 'a' is given to another group before"));
    assert_non_null(strstr(rejection(&d, 3), "name 'A' is taken by the group on line 2"));
    gcs_group_defs_release(&d);
}

static void json_groups_take_arrays_and_reject_unknown_fields(void **state)
{
    (void)state;
    gcs_group_defs d;
    read_text(&d, "g.json",
              "[{\"key\":\"a\",\"children\":[\"b\"],"
              "\"roles\":[{\"role\":\"Agent\",\"division\":\"Home\"}]},\n"
              " {\"key\":\"b\",\"members\":[\"E1\",\"E2\"]},\n"
              " {\"key\":\"c\",\"colour\":\"red\"}]\n",
              0);
    assert_int_equal(d.count, 2);
    assert_string_equal(gcs_group_defs_find(&d, "a")->children.items[0], "b");
    assert_string_equal(gcs_group_defs_find(&d, "a")->roles[0].division, "Home");
    assert_int_equal(gcs_group_defs_find(&d, "b")->members.count, 2);
    assert_non_null(strstr(rejection(&d, 0), "colour"));
    gcs_group_defs_release(&d);
}

static void json_list_items_are_trimmed_as_csv_items_are(void **state)
{
    (void)state;
    gcs_group_defs d;
    read_text(&d, "g.json",
              "[{\"key\":\"a\",\"members\":[\" E1 \",\"E2\\t\",\"  \"],\"parents\":[\" b\"]},\n"
              " {\"key\":\"b\"}]\n",
              0);
    gcs_group_def *g = gcs_group_defs_find(&d, "a");
    assert_non_null(g);
    assert_int_equal(g->members.count, 2); /* the blank item is dropped */
    assert_string_equal(g->members.items[0], "E1");
    assert_string_equal(g->members.items[1], "E2");
    assert_string_equal(g->parents.items[0], "b");
    gcs_group_defs_release(&d);
}

static void bidi_controls_in_keys_and_names_are_rejected(void **state)
{
    (void)state;
    gcs_group_defs d;
    /* U+202E (right-to-left override) in a name, U+2067 in a key, U+200F in a
     * column's group key; an ordinary non-ASCII name is fine. */
    read_text(&d, "g.csv",
              "key,name\n"
              "a,Sales \xE2\x80\xAEtxt.exe\n"
              "b\xE2\x81\xA7x,B\n"
              "c,Caf\xC3\xA9\n",
              0);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.rejected_groups, 2);
    assert_non_null(strstr(rejection(&d, 0), "g.csv: line 2, column 2 (name)"));
    assert_non_null(strstr(rejection(&d, 0), "bidirectional control (U+202E at byte 7)"));
    assert_non_null(strstr(rejection(&d, 1), "line 3, column 1 (key)"));
    assert_non_null(strstr(rejection(&d, 1), "U+2067 at byte 2"));
    assert_int_equal(gcs_group_defs_add_member(&d, "x\xE2\x80\x8F", "E1", "column teams"),
                     GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "U+200F"));
    gcs_group_defs_release(&d);
}

static void an_unknown_csv_column_stops_the_file(void **state)
{
    (void)state;
    gcs_group_defs d;
    read_text(&d, "g.csv", "key,name,membres\na,A,E1\n", GCS_EINVALID);
    assert_non_null(
        strstr(gcs_error_last(), "groups file 'g.csv': line 1: unknown column 'membres'"));
    gcs_group_defs_release(&d);
}

static void a_column_names_groups_the_file_does_not_define(void **state)
{
    (void)state;
    gcs_group_defs d;
    read_text(&d, "g.csv", "key,name\nbilling,Billing\n", 0);
    assert_int_equal(gcs_group_defs_add_member(&d, "billing", "E1", "hr.csv:2"), 0);
    assert_int_equal(gcs_group_defs_add_member(&d, "Tier 2", "E1", "hr.csv:2"), 0);
    assert_int_equal(gcs_group_defs_add_member(&d, "Tier 2", "E1", "hr.csv:2"), 0);
    assert_int_equal(d.count, 2);
    assert_string_equal(gcs_group_defs_find(&d, "Tier 2")->name, "Tier 2");
    assert_int_equal(gcs_group_defs_find(&d, "Tier 2")->members.count, 1);
    assert_int_equal(gcs_group_defs_add_member(&d, " padded", "E1", "hr.csv:3"), GCS_EINVALID);
    gcs_group_defs_release(&d);
}

static const char nested[] = "key,parents,members\n"
                             "company,,E0\n"
                             "support,company,E1\n"
                             "tier-1,support,E2\n"
                             "tier-2,support,E3\n"
                             "loop-a,loop-b,E4\n"
                             "loop-b,loop-a,\n"
                             "above,,E5\n"
                             "below,loop-a,E6\n"
                             "lost,nowhere,E7\n";

/* `part` is in `text`, which must be there. */
static bool has(const char *text, const char *part)
{
    assert_non_null(text);
    return strstr(text, part) != NULL;
}

static const gcs_group_node *node(const gcs_group_tree *t, const char *key)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->nodes[i].def->key, key) == 0)
            return &t->nodes[i];
    }
    fail_msg("no node %s", key);
    abort(); /* not reached; says so to an optimiser that would warn of a NULL */
}

static void kept_hierarchy_has_direct_members_and_parents(void **state)
{
    (void)state;
    gcs_group_defs d;
    read_text(&d, "g.csv", nested, 0);
    assert_int_equal(gcs_string_list_add(&gcs_group_defs_find(&d, "above")->children, "loop-a", 6),
                     0);
    gcs_group_tree t;
    assert_int_equal(gcs_group_tree_build(&t, &d, GCS_GROUPS_KEPT), 0);
    assert_int_equal(json_object_size(node(&t, "company")->members), 1);
    assert_int_equal(json_object_size(node(&t, "support")->members), 1);
    assert_string_equal(json_string_value(json_array_get(node(&t, "tier-1")->parents, 0)),
                        "support");
    assert_int_equal(node(&t, "company")->depth, 3);
    assert_true(node(&t, "loop-a")->rejected);
    assert_true(node(&t, "loop-b")->rejected);
    assert_true(has(node(&t, "loop-a")->why, "nested in itself"));
    assert_false(node(&t, "above")->rejected); /* kept: its own members are known */
    assert_false(node(&t, "below")->rejected);
    assert_true(node(&t, "lost")->rejected);
    assert_true(has(node(&t, "lost")->why, "'nowhere' is not a group"));
    assert_int_equal(t.rejected, 3);
    gcs_group_tree_release(&t);
    gcs_group_defs_release(&d);
}

static void flattened_hierarchy_has_everybody_below(void **state)
{
    (void)state;
    gcs_group_defs d;
    read_text(&d, "g.csv", nested, 0);
    assert_int_equal(gcs_string_list_add(&gcs_group_defs_find(&d, "above")->children, "loop-a", 6),
                     0);
    gcs_group_tree t;
    assert_int_equal(gcs_group_tree_build(&t, &d, GCS_GROUPS_FLATTENED), 0);
    json_t *m = node(&t, "company")->members;
    assert_int_equal(json_object_size(m), 4);
    assert_non_null(json_object_get(m, "E3"));
    assert_int_equal(json_object_size(node(&t, "support")->members), 3);
    assert_true(node(&t, "above")->rejected); /* its members cannot be known */
    assert_false(node(&t, "below")->rejected);
    assert_int_equal(t.rejected, 4);
    gcs_group_tree_release(&t);
    gcs_group_defs_release(&d);
}

static void deep_chains_stop_at_the_depth_limit_without_recursion(void **state)
{
    (void)state;
    /* 10,000 levels: a recursive walk would need a deep stack; this is a loop. */
    gcs_buf csv;
    gcs_buf_init(&csv, 0);
    assert_int_equal(gcs_buf_puts(&csv, "key,parents,members\n"), 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(gcs_buf_printf(&csv, "g%d,g%d,P%d\n", i, i + 1, i), 0);
    assert_int_equal(gcs_buf_puts(&csv, "g10000,,\n"), 0);
    gcs_group_defs d;
    read_text(&d, "deep.csv", csv.ptr, 0);
    gcs_buf_release(&csv);
    gcs_group_tree t;
    assert_int_equal(gcs_group_tree_build(&t, &d, GCS_GROUPS_FLATTENED), 0);
    assert_false(node(&t, "g0")->rejected);
    assert_int_equal(node(&t, "g31")->depth, GCS_GROUP_DEPTH_MAX);
    assert_false(node(&t, "g31")->rejected);
    assert_true(node(&t, "g32")->rejected);
    assert_true(has(node(&t, "g32")->why, "deeper than 32 levels"));
    assert_int_equal(json_object_size(node(&t, "g31")->members), 32);
    assert_int_equal(t.rejected, 10001 - 32);
    gcs_group_tree_release(&t);
    gcs_group_defs_release(&d);
}

static void group_removals_and_revocations_need_approval(void **state)
{
    (void)state;
    gcs_plan p;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    assert_int_equal(gcs_group_plan_begin(&p, "kept", false), 0);
    json_t *removes = json_array();
    for (int i = 0; i < 12; i++)
        json_array_append_new(removes, json_pack("{s:s,s:b}", "id", "u", "owned", 1));
    assert_int_equal(
        gcs_group_plan_add(&p, json_pack("{s:s,s:s,s:o,s:[{s:s}],s:i,s:i}", "kind", "update", "key",
                                         "g", "remove", removes, "revoke", "roleId", "r",
                                         "current_members", 40, "current_grants", 1)),
        0);
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_non_null(strstr(gcs_error_last(), "12 members removed from groups"));
    assert_non_null(strstr(gcs_error_last(), "--approve remove-members=12"));
    assert_int_equal(gcs_plan_options_approve(&o, "remove-members=12"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0); /* one revocation: under the floor */
    o.removals.max_count = 0;
    assert_int_equal(gcs_plan_check_approval(&p, &o), GCS_EREFUSED);
    assert_non_null(strstr(gcs_error_last(), "--approve revoke-grants=1"));
    assert_int_equal(gcs_plan_options_approve(&o, "revoke-grants=1"), 0);
    assert_int_equal(gcs_plan_check_approval(&p, &o), 0);
    gcs_plan_release(&p);
}

static void the_groups_are_sealed_with_the_plan(void **state)
{
    (void)state;
    gcs_plan p;
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_begin(&p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    assert_int_equal(gcs_group_plan_begin(&p, "kept", false), 0);
    assert_int_equal(gcs_group_plan_add(&p, json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "kind", "update",
                                                      "key", "g", "add", "key", "E1", "id", "u1")),
                     0);
    assert_int_equal(gcs_plan_finish(&p), 0);
    char before[65];
    snprintf(before, sizeof before, "%s", gcs_plan_identity(&p));
    json_t *add = json_object_get(json_array_get(gcs_group_plan_operations(&p), 0), "add");
    json_object_set_new(json_array_get(add, 0), "id", json_string("somebody-else"));
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_string_not_equal(before, gcs_plan_identity(&p));
    gcs_plan_release(&p);
}

static void profile_expect(const char *groups, const char *message)
{
    char text[600];
    snprintf(text, sizeof text, "attributes:\n  userName: email\n  externalId: id\ngroups:\n%s",
             groups);
    gcs_profile *p = NULL;
    int rc = gcs_profile_load_mem(&p, "dir/p.yaml", text, strlen(text));
    if (!message) {
        assert_int_equal(rc, 0);
        const gcs_profile_groups *g = gcs_profile_groups_of(p);
        assert_string_equal(g->file, "dir/teams.json");
        assert_string_equal(g->column, "teams");
        assert_int_equal(g->separator, '|');
        assert_int_equal(g->hierarchy, GCS_GROUPS_FLATTENED);
        assert_true(g->authoritative);
    } else {
        assert_int_equal(rc, GCS_EINVALID);
        if (!strstr(gcs_error_last(), message))
            fail_msg("'%s' lacks '%s'", gcs_error_last(), message);
    }
    gcs_profile_free(p);
}

static void the_profile_groups_section_is_checked(void **state)
{
    (void)state;
    profile_expect("  column: teams\n  separator: \"|\"\n  file: teams.json\n"
                   "  hierarchy: flattened\n  authoritative: true\n",
                   NULL);
    profile_expect("  column: teams\n  hierarchy: nested\n",
                   "line 6: groups: hierarchy is kept or flattened");
    profile_expect("  column: teams\n  authoritative: yes please\n",
                   "authoritative is true or false");
    profile_expect("  column: teams\n  separator: \";;\"\n", "separator is one character");
    profile_expect("  hierarchy: kept\n", "name a column of the source, a file, or both");
    profile_expect("  colum: teams\n", "line 5: unknown key 'colum' in groups");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_groups_are_read_with_lists_and_grants),
        cmocka_unit_test(bad_groups_are_rejected_naming_line_and_field),
        cmocka_unit_test(json_groups_take_arrays_and_reject_unknown_fields),
        cmocka_unit_test(json_list_items_are_trimmed_as_csv_items_are),
        cmocka_unit_test(bidi_controls_in_keys_and_names_are_rejected),
        cmocka_unit_test(an_unknown_csv_column_stops_the_file),
        cmocka_unit_test(a_column_names_groups_the_file_does_not_define),
        cmocka_unit_test(kept_hierarchy_has_direct_members_and_parents),
        cmocka_unit_test(flattened_hierarchy_has_everybody_below),
        cmocka_unit_test(deep_chains_stop_at_the_depth_limit_without_recursion),
        cmocka_unit_test(group_removals_and_revocations_need_approval),
        cmocka_unit_test(the_groups_are_sealed_with_the_plan),
        cmocka_unit_test(the_profile_groups_section_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
