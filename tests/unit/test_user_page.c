/* A page of a user listing read as it streams (genesys/user_page.h) against the
 * reference: the page parsed by jansson and each user's record made from the
 * tree (engine/current_user.h). Over generated pages (every attribute a profile
 * can manage, unicode raw and escaped, escapes, nulls, reals, nested and
 * unknown members, members in any order and repeated, values of unexpected
 * types), the record must be the same bytes and the same digest, and every
 * value the planner's index and group planner look at the same. Then what a
 * page may not be: every prefix of a page, and pages with bytes changed, are
 * refused whenever jansson refuses them, and never taken as whole. */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/valgrind.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/scim.h"
#include "engine/current_user.h"
#include "engine/managed_digest.h"
#include "engine/row_spill.h"
#include "genesys/user_page.h"
#include "mapping/map.h"
#include "mapping/profile.h"

static const char profile_text[] = "version: 1\n"
                                   "managed_by: gcscim\n"
                                   "match: [userName, externalId]\n"
                                   "attributes:\n"
                                   "  userName: {from: email, required: true}\n"
                                   "  displayName: {from: name, required: true}\n"
                                   "  externalId: hrid\n"
                                   "  active: status\n"
                                   "  title: title\n"
                                   "  email: email\n"
                                   "  department: dept\n"
                                   "  division: div\n"
                                   "  dateHire: hired\n"
                                   "  manager: boss\n"
                                   "  employeeNumber: {from: id, mode: create_only}\n"
                                   "  phoneNumbers.work: work\n"
                                   "  phoneNumbers.mobile: {from: mobile, mode: create_only}\n"
                                   "  roles: roles\n"
                                   "  routingSkills: {from: skills, proficiency: 3}\n"
                                   "  routingLanguages: {from: langs, proficiency: 2}\n"
                                   "  externalIds.hr: id\n";

#define MARKER "gcscim"

/* ==== Generated pages ==== */

static unsigned long long rng = 88172645463325252ull;

static unsigned next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

static unsigned pick(unsigned n)
{
    return next() % n;
}

static void put(gcs_buf *b, const char *s)
{
    assert_int_equal(gcs_buf_puts(b, s), 0);
}

#define PRINTF(b, ...) assert_int_equal(gcs_buf_printf(b, __VA_ARGS__), 0)

/* How many generated cases a property runs: all of them natively (ASan), a tenth
 * under valgrind, which looks for memory errors, not for more cases, and runs
 * each about fifty times slower. */
static int cases(int n)
{
    return RUNNING_ON_VALGRIND ? (n + 9) / 10 : n;
}

static void gen_string(gcs_buf *b)
{
    static const char *const pieces[] = {
        "a", "Zoe", "smith", " ", "42", "é", "€", "中文", "😀", "\\\"", "\\\\", "\\/", "\\b",
        "\\f", "\\n", "\\r", "\\t", "\\u00e9", "\\u0001", "\\u001F", "\\u20AC", "\\ud83d\\ude00",
        "\\u007f", "\x7f", "urn:ietf:params:scim:schemas:extension:", "urn:", "@example.com",
        "'", "<>&", "\\u0041"};
    put(b, "\"");
    unsigned n = pick(6);
    for (unsigned i = 0; i < n; i++)
        put(b, pieces[pick(sizeof pieces / sizeof *pieces)]);
    put(b, "\"");
}

static void gen_number(gcs_buf *b)
{
    static const char *const numbers[] = {"0", "-0", "1", "-17", "3", "9223372036854775807",
                                          "-9223372036854775808", "1.5", "-0.0", "0.1", "1e5",
                                          "1E-7", "2.5e+300", "123456789.123456789e10", "3.0",
                                          "1e-400", "0.30000000000000004", "100e0"};
    put(b, numbers[pick(sizeof numbers / sizeof *numbers)]);
}

static void gen_value(gcs_buf *b, int depth);

static void gen_key(gcs_buf *b)
{
    static const char *const keys[] = {"\"x\"", "\"value\"", "\"type\"", "\"é\"", "\"a\\nb\"",
                                       "\"\"", "\"k\\u0002\"", "\"name\"", "\"display\""};
    put(b, keys[pick(sizeof keys / sizeof *keys)]);
}

static void gen_object(gcs_buf *b, int depth)
{
    put(b, "{");
    unsigned n = pick(4);
    for (unsigned i = 0; i < n; i++) {
        if (i)
            put(b, ",");
        gen_key(b); /* repeats happen */
        put(b, ":");
        gen_value(b, depth + 1);
    }
    put(b, "}");
}

static void gen_value(gcs_buf *b, int depth)
{
    switch (pick(depth > 3 ? 5 : 7)) {
    case 0: put(b, "null"); break;
    case 1: put(b, pick(2) ? "true" : "false"); break;
    case 2: gen_number(b); break;
    case 3:
    case 4: gen_string(b); break;
    case 5: gen_object(b, depth); break;
    default:
        put(b, "[");
        for (unsigned i = 0, n = pick(4); i < n; i++) {
            if (i)
                put(b, ",");
            gen_value(b, depth + 1);
        }
        put(b, "]");
    }
}

/* Mostly the expected type, sometimes anything. */
static bool odd(void)
{
    return pick(12) == 0;
}

static void gen_scalar_or_odd(gcs_buf *b);

static void gen_entries(gcs_buf *b, const char *const *fields, size_t nfields,
                        const char *const *first_values, size_t nvalues)
{
    if (odd()) {
        gen_value(b, 2);
        return;
    }
    put(b, "[");
    for (unsigned i = 0, n = pick(4); i < n; i++) {
        if (i)
            put(b, ",");
        if (odd()) {
            gen_value(b, 3);
            continue;
        }
        put(b, "{");
        size_t order[4] = {0, 1, 2, 3};
        for (size_t k = nfields; k > 1; k--) {
            size_t j = pick((unsigned)k), t = order[k - 1];
            order[k - 1] = order[j];
            order[j] = t;
        }
        for (size_t k = 0; k < nfields; k++) {
            if (k)
                put(b, ",");
            PRINTF(b, "\"%s\":", fields[order[k]]);
            if (order[k] == 0 && !odd())
                PRINTF(b, "\"%s\"", first_values[pick((unsigned)nvalues)]);
            else if (order[k] == 1 && strcmp(fields[1], "proficiency") == 0 && !odd())
                gen_number(b);
            else if (odd())
                gen_value(b, 3);
            else
                gen_string(b);
        }
        if (pick(10) == 0) { /* a part named again: the last value stands */
            PRINTF(b, ",\"%s\":", fields[pick((unsigned)nfields)]);
            gen_scalar_or_odd(b);
        }
        if (pick(4) == 0) {
            put(b, ",\"primary\":");
            gen_value(b, 3);
        }
        put(b, "}");
    }
    put(b, "]");
}

static void gen_scalar_or_odd(gcs_buf *b)
{
    if (odd())
        gen_value(b, 2);
    else
        gen_string(b);
}

static void gen_member(gcs_buf *b, unsigned which, int n)
{
    static const char *const types[] = {"work", "home", "mobile", "other", "Work"};
    static const char *const authorities[] = {MARKER, "hr", "other"};
    static const char *const typed[] = {"type", "value", "display"};
    static const char *const authority[] = {"authority", "value"};
    static const char *const named[] = {"name", "proficiency", "id"};
    static const char *const valued[] = {"value", "display", "$ref"};
    static const char *const roles[] = {"Agent", "Admin", "agent", ""};
    switch (which) {
    case 0: put(b, "\"schemas\":[\"" GCS_SCIM_CORE_USER "\"]"); break;
    case 1: PRINTF(b, "\"id\":\"id-%d\"", n); break;
    case 2: put(b, "\"userName\":"); gen_scalar_or_odd(b); break;
    case 3: put(b, "\"displayName\":"); gen_scalar_or_odd(b); break;
    case 4: put(b, "\"title\":"); gen_scalar_or_odd(b); break;
    case 5: put(b, "\"externalId\":"); gen_scalar_or_odd(b); break;
    case 6:
        put(b, "\"active\":");
        if (odd())
            gen_value(b, 2);
        else
            put(b, pick(3) ? "true" : "false");
        break;
    case 7: put(b, "\"emails\":"); gen_entries(b, typed, 3, types, 5); break;
    case 8: put(b, "\"phoneNumbers\":"); gen_entries(b, typed, 2, types, 5); break;
    case 9: put(b, "\"roles\":"); gen_entries(b, valued, 2, roles, 4); break;
    case 10: put(b, "\"groups\":"); gen_entries(b, valued, 3, roles, 4); break;
    case 11:
        PRINTF(b, "\"meta\":{\"resourceType\":\"User\",\"version\":\"%u\",\"location\":\"x\"}",
                       pick(9));
        break;
    case 12: {
        put(b, "\"" GCS_SCIM_ENTERPRISE_USER "\":");
        if (odd()) {
            gen_value(b, 1);
            break;
        }
        put(b, "{");
        static const char *const parts[] = {"department", "division", "employeeNumber",
                                            "dateHire", "costCenter"};
        unsigned first = 1;
        for (unsigned i = 0; i < 5; i++) {
            if (pick(3) == 0)
                continue;
            if (!first)
                put(b, ",");
            first = 0;
            PRINTF(b, "\"%s\":", parts[i]);
            gen_scalar_or_odd(b);
            if (pick(10) == 0) { /* named again */
                PRINTF(b, ",\"%s\":", parts[pick(5)]);
                gen_scalar_or_odd(b);
            }
        }
        if (pick(2)) {
            if (!first)
                put(b, ",");
            put(b, "\"manager\":");
            if (odd())
                gen_value(b, 2);
            else
                PRINTF(b, "{\"value\":\"m-%u\",\"displayName\":\"Boss\"}", pick(5));
        }
        put(b, "}");
        break;
    }
    case 13: {
        put(b, "\"" GCS_SCIM_GENESYS_USER "\":");
        if (odd()) {
            gen_value(b, 1);
            break;
        }
        put(b, "{\"externalIds\":");
        gen_entries(b, authority, 2, authorities, 3);
        put(b, ",\"routingSkills\":");
        gen_entries(b, named, 2, roles, 4);
        if (pick(2)) {
            put(b, ",\"routingLanguages\":");
            gen_entries(b, named, 3, roles, 4);
        }
        if (pick(3) == 0) {
            put(b, ",\"extra\":");
            gen_value(b, 2);
        }
        put(b, "}");
        break;
    }
    default:
        gen_key(b);
        put(b, ":");
        gen_value(b, 1);
    }
}

static void gen_user(gcs_buf *b, int n)
{
    unsigned order[16];
    for (unsigned i = 0; i < 16; i++)
        order[i] = i;
    for (unsigned k = 16; k > 1; k--) {
        unsigned j = pick(k), t = order[k - 1];
        order[k - 1] = order[j];
        order[j] = t;
    }
    put(b, "{");
    bool first = true;
    for (unsigned i = 0; i < 16; i++) {
        if (pick(6) == 0)
            continue;
        if (!first)
            put(b, ",");
        first = false;
        gen_member(b, order[i], n);
        if (pick(20) == 0) { /* the same member again */
            put(b, ",");
            gen_member(b, order[i], n);
        }
    }
    put(b, "}");
}

static void gen_page(gcs_buf *b, int users)
{
    gcs_buf_clear(b);
    const char *ws = pick(4) == 0 ? "\n  " : "";
    put(b, "{");
    put(b, ws);
    unsigned first = pick(2);
    if (first)
        PRINTF(b, "\"totalResults\":%d,%s\"x\":[{\"Resources\":1}],", users * 3, ws);
    PRINTF(b, "\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],%s",
                   ws);
    put(b, "\"Resources\":[");
    for (int i = 0; i < users; i++) {
        if (i)
            put(b, pick(3) ? "," : ",\n ");
        gen_user(b, i);
    }
    put(b, "]");
    if (!first)
        PRINTF(b, ",\"totalResults\":%d", users * 3);
    PRINTF(b, ",%s\"startIndex\":1,\"itemsPerPage\":%d}", ws, users);
}

/* ==== The two paths ==== */

typedef struct record {
    gcs_current_user u;
    char *view; /* what the index and group planner read */
} record;

typedef struct records {
    record *r;
    size_t n;
    gcs_digester *d;
    gcs_buf scratch;
    gcs_row_spill *spill; /* the streamed path also keeps its text here, as a plan does */
    gcs_buf text;
} records;

static void put_opt(gcs_buf *b, const char *tag, const char *s)
{
    PRINTF(b, "%s=%s;", tag, s ? s : "(none)");
}

static void put_number(gcs_buf *b, const char *tag, bool has, double v)
{
    if (has)
        PRINTF(b, "%s=%.17g;", tag, v);
    else
        PRINTF(b, "%s=(none);", tag);
}

static const char *const list_names[GCS_USER__LISTS] = {
    "emails", "phoneNumbers", "roles", "groups", "externalIds", "routingSkills",
    "routingLanguages"};
static const char *const key_names[GCS_USER__LISTS] = {"type", "type", NULL, NULL,
                                                        "authority", "name", "name"};

/* Everything a planner reads of a user (the flat record's every value), as
 * json_string_value, json_is_true, json_array_size and json_number_value
 * answer over the whole user parsed. */
static char *view_of(const json_t *user)
{
    gcs_buf b;
    gcs_buf_init(&b, 0);
    const json_t *ent = json_object_get(user, GCS_SCIM_ENTERPRISE_USER);
    const json_t *gen = json_object_get(user, GCS_SCIM_GENESYS_USER);
    put_opt(&b, "id", json_string_value(json_object_get(user, "id")));
    put_opt(&b, "userName", json_string_value(json_object_get(user, "userName")));
    put_opt(&b, "displayName", json_string_value(json_object_get(user, "displayName")));
    put_opt(&b, "title", json_string_value(json_object_get(user, "title")));
    put_opt(&b, "externalId", json_string_value(json_object_get(user, "externalId")));
    put_opt(&b, "version",
            json_string_value(json_object_get(json_object_get(user, "meta"), "version")));
    put_opt(&b, "department", json_string_value(json_object_get(ent, "department")));
    put_opt(&b, "division", json_string_value(json_object_get(ent, "division")));
    put_opt(&b, "employeeNumber", json_string_value(json_object_get(ent, "employeeNumber")));
    put_opt(&b, "dateHire", json_string_value(json_object_get(ent, "dateHire")));
    put_opt(&b, "manager",
            json_string_value(json_object_get(json_object_get(ent, "manager"), "value")));
    PRINTF(&b, "active=%d;", gcs_managed_active(user));
    for (int l = 0; l < GCS_USER__LISTS; l++) {
        const json_t *list =
            json_object_get(l >= GCS_USER_EXTERNALIDS ? gen : user, list_names[l]);
        PRINTF(&b, "%s#%zu;", list_names[l], json_array_size(list));
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e) {
            put_opt(&b, "key", key_names[l] ? json_string_value(json_object_get(e, key_names[l]))
                                            : NULL);
            put_opt(&b, "value", l < GCS_USER_SKILLS ? json_string_value(json_object_get(e, "value"))
                                                     : NULL);
            const json_t *n = l >= GCS_USER_SKILLS ? json_object_get(e, "proficiency") : NULL;
            put_number(&b, "number", json_is_number(n), json_is_number(n) ? json_number_value(n) : 0);
        }
    }
    return gcs_buf_detach(&b);
}

/* The same from the flat record. */
static char *view_of_fields(const gcs_user_fields *f)
{
    gcs_buf b;
    gcs_buf_init(&b, 0);
    static const char *const names[GCS_USER__FIELDS] = {
        "id", "userName", "displayName", "title", "externalId", "version",
        "department", "division", "employeeNumber", "dateHire", "manager"};
    for (int i = 0; i < GCS_USER__FIELDS; i++)
        put_opt(&b, names[i], f->str[i]);
    PRINTF(&b, "active=%d;", f->active);
    for (int l = 0; l < GCS_USER__LISTS; l++) {
        PRINTF(&b, "%s#%zu;", list_names[l], f->list[l].count);
        for (size_t i = 0; i < f->list[l].count; i++) {
            const gcs_user_entry *e = &f->list[l].at[i];
            put_opt(&b, "key", e->key);
            put_opt(&b, "value", e->value);
            put_number(&b, "number", e->has_number, e->number);
        }
    }
    return gcs_buf_detach(&b);
}

static const gcs_profile *the_profile;

static record *more(records *rs)
{
    rs->r = realloc(rs->r, (rs->n + 1) * sizeof *rs->r);
    assert_non_null(rs->r);
    return &rs->r[rs->n++];
}

static int take_read(const gcs_user_read *user, void *payload)
{
    records *rs = payload;
    record *r = more(rs);
    assert_int_equal(strlen(user->kept), user->kept_len);
    int rc = gcs_current_user_from_read(&r->u, &rs->scratch, rs->d, MARKER, user, NULL);
    r->view = view_of_fields(user->fields);
    if (rc == 0 && rs->spill) {
        /* Spilled: the same head, and the same text read back. */
        gcs_current_user s;
        assert_int_equal(
            gcs_current_user_from_read(&s, &rs->scratch, rs->d, MARKER, user, rs->spill), 0);
        assert_true(s.spilled);
        assert_int_equal(s.text_at, r->u.text_at);
        assert_memory_equal(s.blob, r->u.blob, r->u.text_at);
        const char *text = gcs_current_user_text(&s, rs->spill, &rs->text);
        assert_non_null(text);
        assert_string_equal(text, r->u.blob + r->u.text_at);
        free(s.blob);
    }
    return rc;
}

static void records_release(records *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->r[i].u.blob);
        free(rs->r[i].view);
    }
    free(rs->r);
    gcs_buf_release(&rs->scratch);
    gcs_buf_release(&rs->text);
    gcs_row_spill_free(rs->spill);
    memset(rs, 0, sizeof *rs);
}

static size_t blob_len(const gcs_current_user *u)
{
    return u->text_at + strlen(u->blob + u->text_at);
}

static void same_record(const record *a, const record *b)
{
    assert_int_equal(blob_len(&a->u), blob_len(&b->u));
    if (memcmp(a->u.blob, b->u.blob, blob_len(&a->u)) != 0)
        fail_msg("kept text differs:\nreference %s\nstreamed  %s", a->u.blob + a->u.text_at,
                 b->u.blob + b->u.text_at);
    assert_int_equal(a->u.marker_at, b->u.marker_at);
    assert_int_equal(a->u.version_at, b->u.version_at);
    assert_int_equal(a->u.manager_at, b->u.manager_at);
    assert_int_equal(a->u.text_at, b->u.text_at);
    assert_int_equal(a->u.text_len, b->u.text_len);
    assert_int_equal(a->u.has_id, b->u.has_id);
    assert_int_equal(a->u.active, b->u.active);
    assert_int_equal(a->u.active_as_read, b->u.active_as_read);
    assert_int_equal(a->u.has_digest, b->u.has_digest);
    if (a->u.has_digest)
        assert_true(gcs_managed_digest_equal(&a->u.digest, &b->u.digest));
    assert_string_equal(a->view, b->view);
}

/* The reference: jansson's tree of the page, a record from each user. 0, or
 * -1 when jansson refuses the text or it is not a list of users. */
static int reference(records *rs, long *total, const char *page, size_t len)
{
    json_t *tree = json_loadb(page, len, 0, NULL);
    json_t *resources = json_object_get(tree, "Resources");
    if (!json_is_object(tree) || (resources && !json_is_array(resources))) {
        json_decref(tree);
        return -1;
    }
    size_t i;
    json_t *u;
    json_array_foreach(resources, i, u) {
        if (!json_is_object(u)) {
            json_decref(tree);
            return -1;
        }
    }
    json_t *t = json_object_get(tree, "totalResults");
    *total = json_is_integer(t) ? (long)json_integer_value(t) : -1;
    json_array_foreach(resources, i, u) {
        record *r = more(rs);
        assert_int_equal(
            gcs_current_user_from_json(&r->u, &rs->scratch, rs->d, MARKER, u, NULL), 0);
        r->view = view_of(u);
    }
    json_decref(tree);
    return 0;
}

/* Both paths over one page; returns whether the streamed reader took it. */
static bool compare_page(gcs_digester *d, const char *page, size_t len, bool must_take)
{
    records ref = {.d = d}, got = {.d = d};
    gcs_buf_init(&ref.scratch, 0);
    gcs_buf_init(&ref.text, 0);
    gcs_buf_init(&got.scratch, 0);
    gcs_buf_init(&got.text, 0);
    assert_int_equal(gcs_row_spill_new(&got.spill), 0);
    long total = -1;
    int ref_rc = reference(&ref, &total, page, len);
    gcs_user_page_info info;
    int rc = gcs_user_page_read(&info, page, len, take_read, &got);
    if (must_take && rc != 0)
        fail_msg("page refused: %s\n%.*s", gcs_error_last(), (int)len, page);
    if (rc == 0) {
        /* Taken: jansson takes it too, and every record is the same. */
        if (ref_rc != 0)
            fail_msg("page jansson refuses was taken:\n%.*s", (int)len, page);
        assert_int_equal(got.n, ref.n);
        assert_int_equal(info.users, (long)ref.n);
        assert_int_equal(info.total_results, total);
        for (size_t i = 0; i < ref.n; i++)
            same_record(&ref.r[i], &got.r[i]);
    } else {
        assert_int_equal(rc, GCS_EINVALID);
        assert_non_null(strstr(gcs_error_last(), "byte "));
    }
    records_release(&ref);
    records_release(&got);
    return rc == 0;
}

static gcs_profile *load_profile(void)
{
    gcs_profile *p = NULL;
    if (gcs_profile_load_mem(&p, "pages.yaml", profile_text, strlen(profile_text)) != 0)
        fail_msg("profile: %s", gcs_error_last());
    return p;
}

/* ==== Tests ==== */

static void test_generated_pages_match_the_reference(void **state)
{
    (void)state;
    gcs_profile *profile = load_profile();
    the_profile = profile;
    gcs_digester d;
    gcs_digester_init(&d, profile, MARKER);
    gcs_buf page;
    gcs_buf_init(&page, 0);
    for (int i = 0; i < cases(400); i++) {
        gen_page(&page, 1 + (int)pick(8));
        compare_page(&d, page.ptr, page.len, true);
    }
    gcs_buf_release(&page);
    gcs_digester_release(&d);
    gcs_profile_free(profile);
}

static void test_examples(void **state)
{
    (void)state;
    gcs_profile *profile = load_profile();
    the_profile = profile;
    gcs_digester d;
    gcs_digester_init(&d, profile, MARKER);
    static const char *const taken[] = {
        "{\"Resources\":[]}",
        "{\"totalResults\":0}",
        "{\"totalResults\":2,\"Resources\":[{\"id\":\"a\",\"userName\":\"x\",\"userName\":\"y\","
        "\"name\":{\"g\":1,\"f\":2,\"g\":3}}]}",
        "{\"Resources\":[{\"id\":\"b\",\"title\":\"t\",\"title\":\"u\"}],\"totalResults\":1.5}",
        " {\"Resources\" : [ { \"userName\" : \"\\u00e9\\ud83d\\ude00\" } ] } ",
    };
    for (size_t i = 0; i < sizeof taken / sizeof *taken; i++)
        compare_page(&d, taken[i], strlen(taken[i]), true);
    static const char *const refused[] = {
        "",
        "[]",
        "null",
        "{\"Resources\":{}}",
        "{\"Resources\":[1]}",
        "{\"Resources\":[{\"userName\":\"\\u0000\"}]}",
        "{\"Resources\":[{\"userName\":\"\\ud800\"}]}",
        "{\"Resources\":[{\"userName\":\"\\udc00\\ud800\"}]}",
        "{\"Resources\":[{\"userName\":\"\\ud800\\u0041\"}]}",
        "{\"Resources\":[{\"userName\":\"\xc0\xaf\"}]}",
        "{\"Resources\":[{\"userName\":\"\xed\xa0\x80\"}]}",
        "{\"Resources\":[{\"userName\":\"\xf4\x90\x80\x80\"}]}",
        "{\"Resources\":[{\"n\":99999999999999999999}]}",
        "{\"Resources\":[{\"n\":1e999}]}",
        "{\"Resources\":[]} {}",
        "{\"Resources\":[],\"Resources\":[]}",
        "{\"Resources\":[{\"a\":01}]}",
        "{\"Resources\":[{\"a\":\"x\ty\"}]}",
        "{\"Resources\":[{\"a\":1,}]}",
        "{\"Resources\":[/* */]}",
        "{\"Resources\":[{\"n\":\v1}]}", /* yajl's whitespace, not JSON's */
        "{\"Resources\":[]}\f",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        gcs_user_page_info info;
        int rc = gcs_user_page_read(&info, refused[i], strlen(refused[i]), NULL, NULL);
        if (rc != GCS_EINVALID)
            fail_msg("taken: %s", refused[i]);
        compare_page(&d, refused[i], strlen(refused[i]), false);
    }
    gcs_digester_release(&d);
    gcs_profile_free(profile);
}

/* No prefix of a page is a page: cut anywhere, it is refused (a listing
 * cut short is never taken as whole). */
static void test_every_prefix_is_refused(void **state)
{
    (void)state;
    gcs_buf page;
    gcs_buf_init(&page, 0);
    for (int i = 0; i < cases(20); i++) {
        gen_page(&page, 2);
        for (size_t cut = 0; cut < page.len; cut++) {
            long users = 0;
            int rc = gcs_user_page_read(NULL, page.ptr, cut, NULL, NULL);
            (void)users;
            if (rc != GCS_EINVALID)
                fail_msg("prefix of %zu bytes taken:\n%.*s", cut, (int)cut, page.ptr);
        }
    }
    gcs_buf_release(&page);
}

/* Pages with a byte changed: what jansson refuses is refused, and what is
 * taken is what the reference makes of it. */
static void test_changed_bytes_follow_jansson(void **state)
{
    (void)state;
    gcs_profile *profile = load_profile();
    the_profile = profile;
    gcs_digester d;
    gcs_digester_init(&d, profile, MARKER);
    gcs_buf page;
    gcs_buf_init(&page, 0);
    static const char swaps[] = "{}[],:\"\\u0aeE.-+ \x01\x80\xff\v\f\t";
    size_t taken = 0;
    for (int i = 0; i < cases(1500); i++) {
        gen_page(&page, 1 + (int)pick(3));
        size_t at = pick((unsigned)page.len);
        page.ptr[at] = swaps[pick(sizeof swaps - 1)];
        taken += compare_page(&d, page.ptr, page.len, false);
    }
    assert_true(taken > 0);
    gcs_buf_release(&page);
    gcs_digester_release(&d);
    gcs_profile_free(profile);
}

/* A callback's refusal stops the page with its own code and message. */
static int refuse(const gcs_user_read *user, void *payload)
{
    (void)user;
    ++*(int *)payload;
    return gcs_error_set(GCS_ECONFLICT, "stop here");
}

static void test_callback_stops_the_page(void **state)
{
    (void)state;
    const char *page = "{\"Resources\":[{\"id\":\"a\"},{\"id\":\"b\"}]}";
    int calls = 0;
    assert_int_equal(gcs_user_page_read(NULL, page, strlen(page), refuse, &calls), GCS_ECONFLICT);
    assert_int_equal(calls, 1);
    assert_string_equal(gcs_error_last(), "stop here");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_pages_match_the_reference),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_every_prefix_is_refused),
        cmocka_unit_test(test_changed_bytes_follow_jansson),
        cmocka_unit_test(test_callback_stops_the_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
