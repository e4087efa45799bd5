/*
 * A row mapped flat (gcs_map_row_flat: no tree) held to the tree gcs_map_row
 * builds, over generated profiles and rows: the same status and errors, the
 * same compact text (gcs_map_user_put_text against the tree's dump less its
 * schemas), the same digest or the same absence of one (gcs_digester_mapped
 * against gcs_digester_user), the same `active` and userName, and the tree
 * gcs_map_user_build makes equal to gcs_map_row's. Values hold quotes,
 * backslashes, control and bidi characters, accents, separators and empty
 * pieces; profiles mix every target but skills and languages (which a flat
 * profile does not take), transforms, defaults, constants, markers.
 */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/jsontext.h"
#include "core/scim.h"
#include "engine/managed_digest.h"
#include "mapping/map.h"
#include "mapping/profile.h"
#include "mapping/source.h"

#define PROFILES 60
#define ROWS 150

static unsigned seed = 1201;

static int pick(int n)
{
    return rand_r(&seed) % n;
}

/* ==== Generated profiles ==== */

/* Attribute lines a profile may hold; those of one group set one member, so
 * a profile takes at most one of each group (a YAML key once). */
typedef struct choice {
    int group;
    const char *yaml;
} choice;

static const choice choices[] = {
    {0, "  userName: {from: email, required: true}\n"},
    {0, "  userName: {from: email, transform: [trim, lower], required: true}\n"},
    {1, "  displayName: {template: \"{first} {last}\", transform: trim}\n"},
    {1, "  displayName: {from: first, default: \"No name\"}\n"},
    {2, "  title: title\n"},
    {2, "  title: {from: title, transform: [upper]}\n"},
    {3, "  externalId: {from: id, transform: [trim, upper]}\n"},
    {4, "  active:\n    from: status\n    transform:\n      - lookup: {active: \"true\", "
        "leaver: \"false\"}\n        default: \"true\"\n"},
    {4, "  active: {value: \"true\"}\n"},
    {4, "  active: {value: \"no\"}\n"},
    {5, "  email: email\n"},
    {5, "  email: {from: email, mode: create_only}\n"},
    {6, "  phoneNumbers.work: work\n"},
    {7, "  phoneNumbers.mobile: {from: mobile, mode: create_only}\n"},
    {8, "  department: {from: dept, transform: trim}\n"},
    {8, "  department: {from: dept, default: Home}\n"},
    {9, "  division: div\n"},
    {10, "  employeeNumber: {from: id, mode: create_only}\n"},
    {11, "  dateHire: hire\n"},
    {12, "  roles: {from: roles, transform: [{split: \";\"}]}\n"},
    {12, "  roles: {from: roles}\n"},
    {13, "  externalIds.hr: id\n"},
    {14, "  externalIds.badge: {from: title, transform: [lower]}\n"},
    {15, "  manager: {from: mgr, transform: [trim, upper]}\n"},
    {16, "  externalIds.Gcscim: id\n"},
};
#define GROUPS 17

static char *random_profile(char *out, size_t size)
{
    static const char *const markers[] = {"", "managed_by: gcscim\n", "managed_by: false\n",
                                          "managed_by: hr-sync\n"};
    char attrs[4096];
    size_t n = 0;
    bool used[GROUPS] = {false};
    used[0] = true; /* userName, always there: it is matched */
    const choice *user_name = &choices[pick(2)];
    /* Attributes in a random order: the tree's members follow it. */
    size_t order[sizeof choices / sizeof *choices];
    size_t count = sizeof choices / sizeof *choices;
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)pick((int)i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    size_t user_name_at = (size_t)pick(4);
    for (size_t i = 0; i < count; i++) {
        const choice *c = &choices[order[i]];
        if (i == user_name_at)
            n += (size_t)snprintf(attrs + n, sizeof attrs - n, "%s", user_name->yaml);
        if (used[c->group] || pick(3) == 0)
            continue;
        used[c->group] = true;
        n += (size_t)snprintf(attrs + n, sizeof attrs - n, "%s", c->yaml);
    }
    /* Matching keys among the attributes mapped: externalId (group 3), email (5). */
    snprintf(out, size, "version: 1\n%smatch: [%s%suserName]\nattributes:\n%s",
             markers[pick(4)], used[3] && pick(2) ? "externalId, " : "",
             used[5] && pick(2) ? "email, " : "", attrs);
    return out;
}

/* ==== Generated rows ==== */

static const char *const pieces[] = {
    "a", "Zoë", "O'Brien", "say \"\"hi\"\"", "back\\slash", "tab\t", "\x01", "\x1f",
    "\xe2\x80\xae", "\xe2\x80\x8f", "München", "a; b", ";", "{[", "]}", "null", "", " ",
    "/", "\x7f", "\xc2\x85", "\xf0\x9f\x98\x80", "urn:ietf:params:scim:schemas:extension:",
    "active", "leaver", "true", "+1 555 0100", "2020-01-31", "Admin", "Admin;Agent",
};

static size_t put_cell(char *out, size_t size)
{
    size_t n = 0;
    out[n++] = '"';
    for (int k = pick(4); k > 0; k--) {
        const char *p = pieces[pick(sizeof pieces / sizeof *pieces)];
        if (n + strlen(p) + 3 > size)
            break;
        memcpy(out + n, p, strlen(p));
        n += strlen(p);
    }
    out[n++] = '"';
    return n;
}

static const char header[] = "email,first,last,title,id,status,work,mobile,dept,div,hire,roles,mgr\n";

static char *random_csv(size_t *len)
{
    size_t size = 64 + ROWS * 13 * 200, n = strlen(header);
    char *out = malloc(size);
    assert_non_null(out);
    memcpy(out, header, n);
    for (int r = 0; r < ROWS; r++) {
        for (int c = 0; c < 13; c++) {
            if (c == 0) { /* a userName most rows have, some twice */
                n += (size_t)snprintf(out + n, size - n, "%sp%d@example.com", pick(9) ? "" : " ",
                                      pick(3) ? r : 0);
            } else if ((c == 6 || c == 7) && pick(4)) { /* phones that validate */
                static const char *const phones[] = {"", "+15550100", "+4930123456", "+61298765432"};
                n += (size_t)snprintf(out + n, size - n, "%s", phones[pick(4)]);
            } else if (c == 10 && pick(4)) { /* hire dates that validate */
                n += (size_t)snprintf(out + n, size - n, "%s", pick(2) ? "2020-01-31" : "");
            } else {
                n += put_cell(out + n, size - n - 2);
            }
            out[n++] = c < 12 ? ',' : '\n';
        }
    }
    *len = n;
    return out;
}

/* ==== The two ways held together ==== */

static char *tree_text(json_t *user)
{
    json_t *copy = json_deep_copy(user);
    assert_non_null(copy);
    json_object_del(copy, "schemas");
    char *text = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(copy);
    assert_non_null(text);
    return text;
}

static void compare_row(const gcs_profile *profile, gcs_digester *dg, const gcs_row *row,
                        long *flat_rows, long *digests)
{
    gcs_map_user tree, flat;
    int rc_tree = gcs_map_row(&tree, profile, row, NULL);
    char tree_error[1024];
    snprintf(tree_error, sizeof tree_error, "%s", gcs_error_last());
    int rc_flat = gcs_map_row_flat(&flat, profile, row, NULL);
    assert_int_equal(rc_tree, rc_flat);
    assert_int_equal(tree.status, flat.status);
    if (rc_tree < 0)
        assert_string_equal(tree_error, gcs_error_last());
    assert_int_equal(tree.errors.count, flat.errors.count);
    assert_string_equal(tree.source_key ? tree.source_key : "-",
                        flat.source_key ? flat.source_key : "-");
    assert_string_equal(tree.manager_key ? tree.manager_key : "-",
                        flat.manager_key ? flat.manager_key : "-");
    assert_int_equal(tree.match_count, flat.match_count);
    assert_int_equal(tree.create_only_count, flat.create_only_count);
    if (tree.status == GCS_MAP_OK) {
        assert_true(flat.user == NULL && flat.values != NULL);
        (*flat_rows)++;
        gcs_buf b;
        gcs_buf_init(&b, 0);
        assert_int_equal(gcs_map_user_put_text(&b, &flat, profile), 1);
        char *want = tree_text(tree.user);
        assert_string_equal(b.ptr, want);
        free(want);
        gcs_buf_release(&b);

        const char *name = json_string_value(json_object_get(tree.user, "userName"));
        const char *flat_name = gcs_map_user_name(&flat, profile);
        assert_string_equal(name ? name : "-", flat_name ? flat_name : "-");
        assert_int_equal(gcs_managed_active(tree.user), flat.active);

        gcs_managed_digest a, d;
        int ra = gcs_digester_user(dg, tree.user, true, &a);
        int rd = gcs_digester_mapped(dg, &flat, &d);
        assert_int_equal(ra, rd);
        if (ra == 1) {
            assert_true(gcs_managed_digest_equal(&a, &d));
            (*digests)++;
        }

        assert_int_equal(gcs_map_user_build(&flat, profile), 0);
        assert_true(json_equal(tree.user, flat.user));
        char *t1 = json_dumps(tree.user, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char *t2 = json_dumps(flat.user, JSON_COMPACT | JSON_PRESERVE_ORDER);
        assert_string_equal(t1, t2);
        free(t1);
        free(t2);
    }
    gcs_map_user_release(&tree);
    gcs_map_user_release(&flat);
}

static void flat_rows_match_the_tree(void **state)
{
    (void)state;
    long flat_rows = 0, digests = 0, profiles = 0;
    for (int i = 0; i < PROFILES; i++) {
        char text[8192];
        random_profile(text, sizeof text);
        gcs_profile *profile = NULL;
        if (gcs_profile_load_mem(&profile, "flat.yaml", text, strlen(text)) != 0)
            fail_msg("profile %d: %s\n%s", i, gcs_error_last(), text);
        assert_true(gcs_map_profile_is_flat(profile));
        profiles++;
        gcs_digester dg;
        /* Mostly the planner's marker; else none, or another (what the tree's
         * coverage refuses, and a head read from an attribute's entry). */
        static const char *const others[] = {NULL, "hr"};
        int m = pick(4);
        gcs_digester_init(&dg, profile, m < 2 ? gcs_profile_managed_authority(profile)
                                              : others[m - 2]);
        size_t len;
        char *csv = random_csv(&len);
        gcs_source *src = NULL;
        assert_int_equal(gcs_source_open_mem(&src, "rows.csv", csv, len, GCS_SOURCE_CSV, NULL), 0);
        for (;;) {
            const gcs_row *row;
            int rc = gcs_source_next(&row, src);
            if (rc == GCS_SOURCE_END)
                break;
            if (rc == GCS_EINVALID)
                continue; /* a record the source rejects never reaches the mapping */
            assert_int_equal(rc, GCS_SOURCE_ROW);
            compare_row(profile, &dg, row, &flat_rows, &digests);
        }
        gcs_source_free(src);
        free(csv);
        gcs_digester_release(&dg);
        gcs_profile_free(profile);
    }
    print_message("%ld profiles, %ld rows mapped, %ld with a digest\n", profiles, flat_rows, digests);
    /* The generator must reach both ways' interesting cases. */
    assert_true(flat_rows > PROFILES * ROWS / 4);
    assert_true(digests > flat_rows / 4 && digests < flat_rows);
}

/* Skills and languages are written by jansson (reals): such a profile maps
 * to a tree, flat or not. */
static void skills_keep_the_tree(void **state)
{
    (void)state;
    static const char text[] = "version: 1\nmatch: [userName]\nattributes:\n"
                               "  userName: email\n"
                               "  routingSkills: {from: skills, proficiency: 3}\n";
    gcs_profile *profile = NULL;
    assert_int_equal(gcs_profile_load_mem(&profile, "skills.yaml", text, strlen(text)), 0);
    assert_false(gcs_map_profile_is_flat(profile));
    static const char csv[] = "email,skills\na@example.com,Billing\n";
    gcs_source *src = NULL;
    assert_int_equal(gcs_source_open_mem(&src, "s.csv", csv, strlen(csv), GCS_SOURCE_CSV, NULL),
                     0);
    const gcs_row *row;
    assert_int_equal(gcs_source_next(&row, src), GCS_SOURCE_ROW);
    gcs_map_user m;
    assert_int_equal(gcs_map_row_flat(&m, profile, row, NULL), 0);
    assert_non_null(m.user);
    assert_null(m.values);
    gcs_map_user_release(&m);
    gcs_source_free(src);
    gcs_profile_free(profile);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flat_rows_match_the_tree),
        cmocka_unit_test(skills_keep_the_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
