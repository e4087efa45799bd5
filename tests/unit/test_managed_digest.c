/* The planner's digest of managed attributes (engine/managed_digest.h): equal
 * digests must mean that the diff finds nothing. Examples, then a property
 * test over random pairs of users (6,000: valgrind runs it too), most of them alike up to a change
 * that the diff sees (a title) or does not (the case of a userName, the order of roles, 3
 * against 3.0, an entry of another type or authority). */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/scim.h"
#include "engine/managed_digest.h"
#include "mapping/profile.h"
#include "plan/diff.h"

static const char profile_text[] = "version: 1\n"
                                   "managed_by: gcscim\n"
                                   "match: [userName]\n"
                                   "attributes:\n"
                                   "  userName: {from: email, required: true}\n"
                                   "  displayName: {from: name, required: true}\n"
                                   "  active: status\n"
                                   "  title: title\n"
                                   "  email: email\n"
                                   "  department: dept\n"
                                   "  employeeNumber: {from: id, mode: create_only}\n"
                                   "  phoneNumbers.work: work\n"
                                   "  phoneNumbers.mobile: {from: mobile, mode: create_only}\n"
                                   "  roles: roles\n"
                                   "  routingSkills: {from: skills, proficiency: 3}\n"
                                   "  externalIds.hr: id\n";

static gcs_profile *load_profile(void)
{
    gcs_profile *p = NULL;
    int rc = gcs_profile_load_mem(&p, "digest.yaml", profile_text, strlen(profile_text));
    if (rc != 0)
        fail_msg("profile: %s", gcs_error_last());
    return p;
}

/* The digests of a desired and a current user, and whether the planner would
 * call them unchanged without a diff. */
static bool looks_unchanged(gcs_digester *d, const json_t *desired, const json_t *current)
{
    gcs_managed_digest a, b;
    int ra = gcs_digester_user(d, desired, true, &a);
    int rb = gcs_digester_user(d, current, false, &b);
    assert_true(ra >= 0 && rb >= 0);
    int active = gcs_managed_active(desired);
    return ra == 1 && rb == 1 && gcs_managed_digest_equal(&a, &b) &&
           (active == GCS_MANAGED_ACTIVE_ABSENT || active == gcs_managed_active(current));
}

/* What the planner's full path decides: the number of PATCH operations. */
static size_t diff_ops(const gcs_profile *profile, const json_t *desired, const json_t *current)
{
    json_t *want = json_deep_copy(desired);
    json_t *skip = gcs_managed_complete(profile, want, false);
    json_t *ops = NULL;
    assert_int_equal(gcs_diff_user(&ops, NULL, want, current, skip), 0);
    size_t n = json_array_size(ops);
    json_decref(ops);
    json_decref(skip);
    json_decref(want);
    return n;
}

static json_t *person(const char *title)
{
    return json_pack("{s:[s],s:s,s:s,s:b,s:s,s:[{s:s,s:s,s:b}],s:[{s:s}],s:{s:s},s:{s:[{s:s,s:s},{"
                     "s:s,s:s}],s:[{s:s,s:f}]}}",
                     "schemas", GCS_SCIM_CORE_USER, "userName", "ann@example.com", "displayName",
                     "Ann", "active", 1, "title", title, "emails", "type", "work", "value",
                     "ann@example.com", "primary", 1, "roles", "value", "Agent",
                     GCS_SCIM_ENTERPRISE_USER, "department", "Support", GCS_SCIM_GENESYS_USER,
                     "externalIds", "authority", "gcscim", "value", "ann@example.com", "authority",
                     "hr", "value", "E1", "routingSkills", "name", "Billing", "proficiency", 3.0);
}

static void alike_users_have_one_digest(void **state)
{
    (void)state;
    gcs_profile *profile = load_profile();
    gcs_digester d;
    gcs_digester_init(&d, profile, "gcscim");
    json_t *want = person("Agent"), *have = person("Agent");
    /* What Genesys adds or answers differently without the diff minding. */
    json_object_set_new(have, "id", json_string("0a1b"));
    json_object_set_new(have, "meta", json_pack("{s:s}", "version", "3"));
    json_array_append_new(
        json_object_get(json_object_get(have, GCS_SCIM_GENESYS_USER), "externalIds"),
        json_pack("{s:s,s:s}", "authority", "x-pc:scimv2:v1", "value", "z"));
    json_object_set_new(
        json_array_get(
            json_object_get(json_object_get(have, GCS_SCIM_GENESYS_USER), "routingSkills"), 0),
        "proficiency", json_integer(3));
    assert_true(looks_unchanged(&d, want, have));
    assert_int_equal(diff_ops(profile, want, have), 0);

    /* A managed attribute changed: another digest. */
    json_t *promoted = person("Senior Agent");
    assert_false(looks_unchanged(&d, promoted, have));
    assert_int_equal(diff_ops(profile, promoted, have), 1);
    /* The marker of another key: another digest. */
    json_object_set_new(
        json_array_get(json_object_get(json_object_get(have, GCS_SCIM_GENESYS_USER), "externalIds"),
                       0),
        "value", json_string("bob@example.com"));
    assert_false(looks_unchanged(&d, want, have));
    json_decref(want);
    json_decref(have);
    json_decref(promoted);
    gcs_digester_release(&d);
    gcs_profile_free(profile);
}

static void uncovered_desired_users_get_no_digest(void **state)
{
    (void)state;
    gcs_profile *profile = load_profile();
    gcs_digester d;
    gcs_digester_init(&d, profile, "gcscim");
    gcs_managed_digest x;
    json_t *u = person("Agent");
    assert_int_equal(gcs_digester_user(&d, u, true, &x), 1);
    /* A role twice: the diff compares sizes. */
    json_array_append_new(json_object_get(u, "roles"), json_pack("{s:s}", "value", "Agent"));
    assert_int_equal(gcs_digester_user(&d, u, true, &x), 0);
    json_decref(u);
    /* An attribute no profile attribute names. */
    u = person("Agent");
    json_object_set_new(u, "nickName", json_string("A"));
    assert_int_equal(gcs_digester_user(&d, u, true, &x), 0);
    assert_int_equal(gcs_digester_user(&d, u, false, &x), 1); /* a current user may hold anything */
    json_decref(u);
    gcs_digester_release(&d);
    gcs_profile_free(profile);
}

/* ==== Random pairs ==== */

static unsigned seed = 1130;

static int pick(int n)
{
    return rand_r(&seed) % n;
}

static const char *one_of(const char *const *values, int n)
{
    return values[pick(n)];
}

static void maybe_set(json_t *obj, const char *key, json_t *value)
{
    if (value)
        json_object_set_new(obj, key, value);
}

static json_t *random_string(void)
{
    static const char *const v[] = {NULL, "", "A", "a", "B"};
    const char *s = one_of(v, 5);
    return s ? json_string(s) : NULL;
}

static json_t *random_list(const char *key, const char *field, const char *const *parts, int nparts)
{
    if (pick(4) == 0)
        return NULL;
    json_t *list = json_array();
    int n = pick(4);
    for (int i = 0; i < n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, field, json_string(one_of(parts, nparts)));
        if (key) {
            json_t *v = random_string();
            maybe_set(e, key, v ? v : json_string("X"));
        }
        json_array_append_new(list, e);
    }
    return list;
}

static json_t *random_user(void)
{
    static const char *const types[] = {"work", "mobile", "home"};
    static const char *const email_types[] = {"work", "other"};
    static const char *const roles[] = {"A", "B", "a"};
    static const char *const authorities[] = {"gcscim", "hr", "other"};
    json_t *u = json_object();
    static const char *const names[] = {NULL, "ann@x", "ANN@x", "bob@x"};
    const char *un = one_of(names, 4);
    if (un)
        json_object_set_new(u, "userName", json_string(un));
    maybe_set(u, "displayName", random_string());
    maybe_set(u, "title", random_string());
    int active = pick(4);
    if (active < 2)
        json_object_set_new(u, "active", json_boolean(active));
    else if (active == 2)
        json_object_set_new(u, "active", json_string("yes"));
    maybe_set(u, "emails", random_list("value", "type", email_types, 2));
    maybe_set(u, "phoneNumbers", random_list("value", "type", types, 3));
    maybe_set(u, "roles", random_list(NULL, "value", roles, 3));
    json_t *ent = json_object();
    maybe_set(ent, "department", random_string());
    maybe_set(ent, "employeeNumber", random_string());
    json_object_set_new(u, GCS_SCIM_ENTERPRISE_USER, ent);
    json_t *gen = json_object();
    maybe_set(gen, "externalIds", random_list("value", "authority", authorities, 3));
    if (pick(2)) {
        json_t *skills = json_array();
        for (int i = pick(3); i > 0; i--)
            json_array_append_new(
                skills, json_pack("{s:s,s:o}", "name", one_of(roles, 3), "proficiency",
                                  pick(2) ? json_real(3.0) : json_integer(pick(2) ? 3 : 4)));
        json_object_set_new(gen, "routingSkills", skills);
    }
    json_object_set_new(u, GCS_SCIM_GENESYS_USER, gen);
    return u;
}

/* A copy changed in one place, in a way the diff may or may not see. */
static json_t *changed_copy(const json_t *u)
{
    json_t *c = json_deep_copy(u);
    json_t *other = random_user();
    static const char *const keys[] = {"userName", "displayName",  "title", "active",
                                       "emails",   "phoneNumbers", "roles"};
    switch (pick(4)) {
    case 0: /* nothing */
        break;
    case 1: { /* one top-level attribute from another user */
        const char *k = keys[pick(7)];
        json_t *v = json_object_get(other, k);
        if (v)
            json_object_set(c, k, v);
        else
            json_object_del(c, k);
        break;
    }
    case 2: /* an extension from another user */
        json_object_set(
            c, pick(2) ? GCS_SCIM_ENTERPRISE_USER : GCS_SCIM_GENESYS_USER,
            json_object_get(other, pick(2) ? GCS_SCIM_ENTERPRISE_USER : GCS_SCIM_GENESYS_USER));
        break;
    default: { /* lists reversed: order never matters to sets, and types are looked up */
        json_t *roles = json_object_get(c, "roles");
        size_t n = json_array_size(roles);
        for (size_t i = 0; i < n / 2; i++) {
            json_t *a = json_incref(json_array_get(roles, i));
            json_array_set(roles, i, json_array_get(roles, n - 1 - i));
            json_array_set_new(roles, n - 1 - i, a);
        }
        json_t *un = json_object_get(c, "userName");
        if (json_is_string(un) && strcmp(json_string_value(un), "ann@x") == 0)
            json_object_set_new(c, "userName", json_string("ANN@x"));
    }
    }
    json_decref(other);
    return c;
}

static void equal_digests_mean_an_empty_diff(void **state)
{
    (void)state;
    gcs_profile *profile = load_profile();
    gcs_digester d;
    gcs_digester_init(&d, profile, "gcscim");
    if (getenv("GCS_TEST_SEED")) /* other sequences, for a longer search by hand */
        seed = (unsigned)atoi(getenv("GCS_TEST_SEED"));
    int same = 0, changed = 0, missed = 0;
    for (int i = 0; i < 6000; i++) {
        json_t *want = random_user();
        json_t *have = pick(5) ? changed_copy(want) : random_user();
        size_t ops = diff_ops(profile, want, have);
        if (looks_unchanged(&d, want, have)) {
            if (ops != 0) {
                char *a = json_dumps(want, JSON_SORT_KEYS), *b = json_dumps(have, JSON_SORT_KEYS);
                fail_msg("digests equal but the diff has %zu operations:\nwant %s\nhave %s", ops, a,
                         b);
            }
            same++;
        } else if (ops == 0) {
            missed++; /* diffed in full: slower, never wrong */
        } else {
            changed++;
        }
        json_decref(want);
        json_decref(have);
    }
    print_message("unchanged by digest %d, changed %d, unchanged by the diff alone %d\n", same,
                  changed, missed);
    /* The property was tried on both sides. */
    assert_true(same > 200);
    assert_true(changed > 1000);
    gcs_digester_release(&d);
    gcs_profile_free(profile);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alike_users_have_one_digest),
        cmocka_unit_test(uncovered_desired_users_get_no_digest),
        cmocka_unit_test(equal_digests_mean_an_empty_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
