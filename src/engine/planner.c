#include "engine/planner.h"
#include "core/error.h"
#include "core/jsontext.h"
#include "core/log.h"
#include "core/siphash.h"
#include "core/strmap.h"
#include "engine/current_user.h"
#include "engine/group_planner.h"
#include "engine/managed_digest.h"
#include "engine/recorder.h"
#include "engine/row_spill.h"
#include "genesys/directory.h"
#include "mapping/map.h"
#include "mapping/profile.h"
#include "plan/diff.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void gcs_planner_options_init(gcs_planner_options *o)
{
    memset(o, 0, sizeof *o);
    o->source_format = GCS_SOURCE_AUTO;
    o->targeted_max = 20;
    gcs_plan_options_init(&o->plan);
}

int gcs_planner_check_inputs(const gcs_planner_options *o)
{
    gcs_profile *p = NULL;
    int rc = gcs_profile_load(&p, o->profile_path);
    if (rc == 0 && o->source_path && !o->source_data)
        rc = gcs_source_check_profile(p, o->source_path, o->source_format, NULL);
    gcs_profile_free(p);
    return rc < 0 ? rc : 0;
}

/* ==== State of one planning run ==== */

/*
 * Rows and Genesys users are many (a million of each). A mapped row stays in
 * memory as a row_ref: what the decisions need across rows (its status, the
 * user it matched, the digest of what it wants, its line). Its strings (key,
 * match values, manager key, userName and the desired user as compact JSON
 * text) are written to the row spill file (engine/row_spill.h) as soon as it is
 * mapped, and read back, as a `desired`, only while the row is matched or
 * decided. The key index (`by_key`) is the only other thing a row keeps.
 */
typedef struct row_ref {
    uint64_t at;              /* its record in the spill file */
    uint32_t size;            /* the record's bytes */
    uint32_t matched;         /* 1 + the matched user's place in planner.users; 0: none */
    unsigned long line;       /* the line it starts on in the source */
    gcs_managed_digest digest; /* of the desired user, when has_digest */
    uint8_t status;           /* gcs_map_status: GCS_MAP_OK until rejected */
    signed char active;       /* gcs_managed_active of the desired user */
    bool has_digest;
} row_ref;

/* A row read back from the spill file, while it is matched or decided: every
 * string points into `record`. */
typedef struct desired {
    row_ref *ref;             /* the row in memory: status and match are kept there */
    size_t index;             /* its place in planner.rows */
    gcs_map_user m;           /* m.user is NULL but while the row is decided */
    char *record;             /* the spilled record, NUL-terminated strings */
    const char *user_text;    /* the desired user, compact JSON */
    const char *user_name;    /* its userName, or NULL */
    json_t *current;          /* the matched user, parsed while the row is decided */
    bool standard_schemas;    /* user_text left out "schemas": planner.schemas */
} desired;

/* One allocation per user: engine/current_user.h. */
typedef gcs_current_user current_user;

typedef struct planner {
    const gcs_planner_options *o;
    gcs_planner_stats *stats;
    gcs_http_client *client;
    gcs_profile *profile;
    const gcs_org_names *org;       /* the names rows are checked against */
    gcs_org_names *org_owned;       /* fetched by this plan (else given) */
    gcs_plan *plan;
    const char *marker;       /* the managed authority */

    row_ref *rows;
    size_t count, cap;
    gcs_row_spill *spill;     /* every kept row's strings (row_spill.h) */
    gcs_buf record;           /* a row's record while it is written */
    gcs_strmap by_key;        /* source key -> index in rows */
    /* Found while the rows are read, acted on once all are (reject_duplicates):
     * each later row with a key already seen, and every userName's hash. */
    struct row_pair { uint32_t row, first; } *key_dups;
    size_t key_dup_count, key_dup_cap;
    struct name_hash { uint64_t hash; uint32_t row; } *name_hashes;
    size_t name_hash_count, name_hash_cap;
    json_t *rejected_values;  /* every value of every rejected row: protects its user */

    /* Every Genesys user read, in blocks of USER_BLOCK that never move: the
     * organisation's users without an array's doubling (USER_AT). */
    current_user **user_blocks;
    size_t user_count, block_count, block_cap;
    gcs_strmap index;         /* "key\x1fvalue" -> 1 + place in users */
    gcs_strmap claimed;       /* user id -> index in rows of the row that matched it */
    bool source_clean;        /* the source was read to its end */
    bool reads_roles;         /* current users were read with their roles */
    gcs_group_planner *groups; /* the profile's groups (engine/group_planner.c), or NULL */
    /* lookups_at_once: filter -> {"rc", "message", "user" (or null)}, the
     * answer of each targeted read sent ahead, taken when its turn comes. */
    json_t *prefetched;
    gcs_digester digester;    /* rows and users compared by digest first */
    gcs_buf scratch;          /* a user's record while it is built */
    char *file_name;          /* the source's name, once for every row */
    gcs_buf expanded;         /* a kept text with its URNs again, while it is parsed */
    gcs_buf user_text;        /* a user's text read back from the spill file */
    gcs_buf body;             /* a create's body text, while it is added to the plan */
    gcs_buf changes;          /* a create's changes, written from its body's text */
    gcs_buf privileged;       /* the privileged roles a create grants, as text */
    gcs_buf row_text;         /* a mapped row's desired user, while it is kept */
    gcs_buf manager;          /* a create's manager, as its body's text says it */
    gcs_buf with_manager;     /* a create's body with its manager's id */
    json_t *schemas;          /* the schemas of every desired user, once */
    char *schemas_head;       /* '{"schemas":[...]': how a desired user's text starts */
    json_t *role_holders;     /* user id -> privileged roles held, once read; or NULL */
    bool holders_forbidden;   /* the client may not read roles: users are read one by one */
    bool manages_manager;     /* the profile keeps the manager in step (not create-only) */
    bool group_targets;        /* --target group:KEY given: every row is read for its groups */
    json_t *context;           /* with group targets: an untargeted row's key -> its match
                                * pairs [[key, value]...], to find a member's Genesys id */
    /* An allocation failed in a step that has no error return (an index entry,
     * a protected value): the plan would be wrong, so the run fails at its end. */
    bool oom;
    /* The first other failure of such a step (a text not read back from the
     * spill file): the run fails with it, as it was told. */
    int failed_rc;
    char failed_message[512];
} planner;

/* Keeps the error just set (rc, gcs_error_last) for the run's end, unless one
 * is kept already: for steps that cannot return it. */
static void keep_failure(planner *p, int rc)
{
    if (rc == GCS_ENOMEM)
        p->oom = true;
    else if (p->failed_rc == 0) {
        p->failed_rc = rc < 0 ? rc : GCS_ERROR;
        snprintf(p->failed_message, sizeof p->failed_message, "%s", gcs_error_last());
    }
}

/* The error of a step that failed without returning it: the one kept, else
 * out of memory. Returns the code, with the message set. */
static int kept_failure(const planner *p)
{
    if (p->failed_rc)
        return gcs_error_set(p->failed_rc, "%s", p->failed_message);
    return gcs_error_set(GCS_ENOMEM, "out of memory");
}

#define USER_BLOCK 4096
/* The user at index i (0-based, below user_count). */
#define USER_AT(p, i) ((p)->user_blocks[(i) / USER_BLOCK][(i) % USER_BLOCK])

/*
 * Index key for a matching key and its value: the key named by a byte (an
 * authority's name after \x06 and before \x1f: no key name holds a control
 * character), then the value's 128-bit keyed hash (SipHash-1-3 twice, the
 * digester's keys), userName and email ignoring case. An organisation's index
 * holds two or more keys a user: the hash costs 16 bytes where the value took
 * 30 and more. As for the managed digest, two values that share a hash are a
 * chance below 2^-100 in a plan of a million, and keys picked at random per
 * run leave none to be chosen. Returns the key's length (at most INDEX_KEY_MAX), or 0
 * when out of memory.
 */
#define INDEX_KEY_MAX 320
static size_t index_key(planner *p, char out[INDEX_KEY_MAX], const char *key, const char *value)
{
    bool nocase = strcmp(key, "userName") == 0 || strcmp(key, "email") == 0;
    static const char *const known[] = {"externalId", "userName", "email", "employeeNumber"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof known / sizeof *known && n == 0; i++) {
        if (strcmp(key, known[i]) == 0)
            out[n++] = (char)(2 + i);
    }
    const char *external_ids = "externalIds.";
    if (n == 0) {
        if (strncmp(key, external_ids, strlen(external_ids)) == 0) {
            out[n++] = '\x06';
            key += strlen(external_ids);
        }
        size_t kn = strnlen(key, INDEX_KEY_MAX - 18 - n);
        memcpy(out + n, key, kn);
        n += kn;
        out[n++] = '\x1f';
    }
    size_t vn = strlen(value);
    char room[256], *lower = room;
    if (nocase) {
        if (vn > sizeof room && !(lower = malloc(vn)))
            return 0;
        for (size_t i = 0; i < vn; i++)
            lower[i] = (char)tolower((unsigned char)value[i]);
        value = lower;
    }
    uint64_t h[2] = {gcs_siphash13(value, vn, p->digester.k[0], p->digester.k[1]),
                     gcs_siphash13(value, vn, p->digester.k[2], p->digester.k[3])};
    if (lower != room)
        free(lower);
    memcpy(out + n, h, sizeof h);
    return n + sizeof h;
}

static void index_put(planner *p, const char *key, const char *value, size_t place)
{
    if (!value || !*value)
        return;
    char k[INDEX_KEY_MAX];
    size_t len = index_key(p, k, key, value);
    if (!len || gcs_strmap_put(&p->index, k, len, place, false) < 0)
        p->oom = true;
}

/* 1 + the place of the user with this value of a matching key, or 0. */
static size_t index_get(planner *p, const char *key, const char *value)
{
    if (!value || !*value)
        return 0;
    char k[INDEX_KEY_MAX];
    uint64_t place = 0;
    size_t len = index_key(p, k, key, value);
    if (!len)
        p->oom = true;
    else if (!gcs_strmap_get(&p->index, k, len, &place))
        place = 0;
    return (size_t)place;
}

/* The row that claimed the Genesys user `id`, or NULL. */
static row_ref *claimant(planner *p, const char *id)
{
    uint64_t row;
    return id && gcs_strmap_get_str(&p->claimed, id, &row) ? &p->rows[row] : NULL;
}

static void claim(planner *p, const char *id, size_t row)
{
    if (id && gcs_strmap_put_str(&p->claimed, id, row, true) < 0)
        p->oom = true;
}

/* The row that claimed the user at `place` (1-based; 0: none), or NULL. A
 * claim is kept on the user itself; only a user whose id another user read
 * shares (mark_shared_ids) is claimed through its id, so that every place of
 * that id sees the claim. */
static row_ref *claimant_at(planner *p, size_t place)
{
    if (place == 0 || place > p->user_count || !USER_AT(p, place - 1).has_id)
        return NULL;
    const current_user *cu = &USER_AT(p, place - 1);
    if (cu->shared_id)
        return claimant(p, cu->blob);
    return cu->claimed_by ? &p->rows[cu->claimed_by - 1] : NULL;
}

static void claim_at(planner *p, size_t place, size_t row)
{
    if (place == 0 || place > p->user_count || !USER_AT(p, place - 1).has_id)
        return;
    current_user *cu = &USER_AT(p, place - 1);
    if (cu->shared_id)
        claim(p, cu->blob, row);
    else
        cu->claimed_by = (uint32_t)row + 1;
}

/* The first row with this source key, or NULL. */
static row_ref *row_by_key(planner *p, const char *key)
{
    uint64_t row;
    return key && gcs_strmap_get_str(&p->by_key, key, &row) ? &p->rows[row] : NULL;
}

/* ==== Texts kept short ====
 *
 * Kept texts name the SCIM extensions by one byte (engine/current_user.h). */

#define URN_PREFIX GCS_URN_PREFIX
#define URN_MARK GCS_URN_MARK

static size_t squeeze_urns(char *text)
{
    return gcs_urn_squeeze(text);
}

/* The text as it was, parsed; NULL when out of memory (or not JSON). */
static json_t *parse_squeezed(planner *p, const char *text)
{
    if (!strchr(text, URN_MARK))
        return json_loads(text, 0, NULL);
    gcs_buf *b = &p->expanded;
    gcs_buf_clear(b);
    int rc = 0;
    for (const char *r = text; *r && rc == 0; r++)
        rc = *r == URN_MARK ? gcs_buf_puts(b, URN_PREFIX) : gcs_buf_putc(b, *r);
    return rc == 0 ? json_loadb(b->ptr, b->len, 0, NULL) : NULL;
}

/* The user at `place` (1-based), parsed again: a new reference, or NULL when
 * out of memory or its text cannot be read back (the failure is kept, and the
 * run fails with it: kept_failure). */
static json_t *user_at(planner *p, size_t place)
{
    if (place == 0 || place > p->user_count)
        return NULL;
    const current_user *cu = &USER_AT(p, place - 1);
    gcs_error_clear();
    const char *text = gcs_current_user_text(cu, p->spill, &p->user_text);
    if (!text) {
        keep_failure(p, gcs_error_last_code() ? gcs_error_last_code() : GCS_ENOMEM);
        return NULL;
    }
    json_t *u = parse_squeezed(p, text);
    if (u && cu->has_id && json_object_set_new(u, "id", json_string(cu->blob)) < 0)
        json_decref(u), u = NULL;
    if (u && cu->version_at &&
        json_object_set_new(u, "meta",
                            json_pack("{s:s}", "version", cu->blob + cu->version_at)) < 0)
        json_decref(u), u = NULL;
    if (!u)
        p->oom = true;
    return u;
}

static const char *id_at(const planner *p, size_t place)
{
    return place && place <= p->user_count && USER_AT(p, place - 1).has_id ? USER_AT(p, place - 1).blob
                                                                         : NULL;
}

static const char *marker_at(const planner *p, size_t i)
{
    return USER_AT(p, i).marker_at ? USER_AT(p, i).blob + USER_AT(p, i).marker_at : NULL;
}

static json_t *ext(const json_t *user, const char *urn)
{
    return json_object_get(user, urn);
}

/* The user's value for one of the profile's matching keys, or the marker. */
static void index_user(planner *p, json_t *user, size_t place)
{
    index_put(p, "externalId", json_string_value(json_object_get(user, "externalId")), place);
    index_put(p, "userName", json_string_value(json_object_get(user, "userName")), place);
    index_put(p, "employeeNumber",
              json_string_value(json_object_get(ext(user, GCS_SCIM_ENTERPRISE_USER), "employeeNumber")),
              place);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(user, "emails"), i, e) {
        const char *type = json_string_value(json_object_get(e, "type"));
        if (type && strcmp(type, "work") == 0)
            index_put(p, "email", json_string_value(json_object_get(e, "value")), place);
    }
    json_array_foreach(json_object_get(ext(user, GCS_SCIM_GENESYS_USER), "externalIds"), i, e) {
        const char *authority = json_string_value(json_object_get(e, "authority"));
        if (!authority)
            continue;
        char key[300];
        snprintf(key, sizeof key, "externalIds.%s", authority);
        index_put(p, key, json_string_value(json_object_get(e, "value")), place);
    }
}

/* The same keys from a user's flat record (genesys/user_page.h). */
static void index_fields(planner *p, const gcs_user_fields *f, size_t place)
{
    index_put(p, "externalId", f->str[GCS_USER_EXTERNALID], place);
    index_put(p, "userName", f->str[GCS_USER_USERNAME], place);
    index_put(p, "employeeNumber", f->str[GCS_USER_EMPLOYEENUMBER], place);
    for (size_t i = 0; i < f->list[GCS_USER_EMAILS].count; i++) {
        const gcs_user_entry *e = &f->list[GCS_USER_EMAILS].at[i];
        if (e->key && strcmp(e->key, "work") == 0)
            index_put(p, "email", e->value, place);
    }
    for (size_t i = 0; i < f->list[GCS_USER_EXTERNALIDS].count; i++) {
        const gcs_user_entry *e = &f->list[GCS_USER_EXTERNALIDS].at[i];
        if (!e->key)
            continue;
        char key[300];
        snprintf(key, sizeof key, "externalIds.%s", e->key);
        index_put(p, key, e->value, place);
    }
}

/* Whether `user` holds `value` under the matching key `key`, as index_user
 * indexes it (userName and email ignoring case). The index compares only the
 * values' hashes; a row is matched once the values themselves agree. */
static bool same_match_value(const char *held, const char *value, bool nocase)
{
    return held && (nocase ? strcasecmp(held, value) == 0 : strcmp(held, value) == 0);
}

static bool holds_match_value(const json_t *user, const char *key, const char *value)
{
    if (strcmp(key, "externalId") == 0)
        return same_match_value(json_string_value(json_object_get(user, "externalId")), value, false);
    if (strcmp(key, "userName") == 0)
        return same_match_value(json_string_value(json_object_get(user, "userName")), value, true);
    if (strcmp(key, "employeeNumber") == 0)
        return same_match_value(json_string_value(json_object_get(
                                    ext(user, GCS_SCIM_ENTERPRISE_USER), "employeeNumber")),
                                value, false);
    size_t i;
    json_t *e;
    if (strcmp(key, "email") == 0) {
        json_array_foreach(json_object_get(user, "emails"), i, e) {
            const char *type = json_string_value(json_object_get(e, "type"));
            if (type && strcmp(type, "work") == 0 &&
                same_match_value(json_string_value(json_object_get(e, "value")), value, true))
                return true;
        }
        return false;
    }
    const char *external_ids = "externalIds.";
    if (strncmp(key, external_ids, strlen(external_ids)) != 0)
        return false;
    const char *wanted = key + strlen(external_ids);
    json_array_foreach(json_object_get(ext(user, GCS_SCIM_GENESYS_USER), "externalIds"), i, e) {
        const char *authority = json_string_value(json_object_get(e, "authority"));
        if (authority && strcmp(authority, wanted) == 0 &&
            same_match_value(json_string_value(json_object_get(e, "value")), value, false))
            return true;
    }
    return false;
}

static const char *marker_value(const planner *p, const json_t *user)
{
    if (!p->marker)
        return NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(ext(user, GCS_SCIM_GENESYS_USER), "externalIds"), i, e) {
        const char *authority = json_string_value(json_object_get(e, "authority"));
        if (authority && strcmp(authority, p->marker) == 0)
            return json_string_value(json_object_get(e, "value"));
    }
    return NULL;
}

static current_user *next_user(planner *p)
{
    if (p->user_count == p->block_count * USER_BLOCK) {
        if (p->block_count == p->block_cap) {
            size_t cap = p->block_cap ? p->block_cap * 2 : 16;
            current_user **blocks = realloc(p->user_blocks, cap * sizeof *blocks);
            if (!blocks)
                return NULL;
            p->user_blocks = blocks;
            p->block_cap = cap;
        }
        if (!(p->user_blocks[p->block_count] = malloc(USER_BLOCK * sizeof(current_user))))
            return NULL;
        p->block_count++;
    }
    return &USER_AT(p, p->user_count);
}

/* Takes in the record just built at users[user_count]. */
static void took_record(planner *p)
{
    p->user_count++;
    p->stats->current_users++;
}

/* A user read whole (a targeted read). */
static int collect_user(json_t *user, void *payload)
{
    planner *p = payload;
    current_user *u = next_user(p);
    if (!u)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    int rc = gcs_current_user_from_json(u, &p->scratch, &p->digester, p->marker, user, p->spill);
    if (rc < 0)
        return rc;
    took_record(p);
    index_user(p, user, p->user_count);
    return gcs_group_planner_note_user(p->groups, user, p->marker);
}

/* A user of a listed page, read as it streamed: its flat record. */
static int collect_read(const gcs_user_read *user, void *payload)
{
    planner *p = payload;
    current_user *u = next_user(p);
    if (!u)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    int rc = gcs_current_user_from_read(u, &p->scratch, &p->digester, p->marker, user, p->spill);
    if (rc < 0)
        return rc;
    took_record(p);
    index_fields(p, user->fields, p->user_count);
    return gcs_group_planner_note_fields(p->groups, user->fields, p->marker);
}

/* ==== 1-3: profile, names, rows ==== */

static int fetch_names(gcs_org_names **out, const gcs_profile *profile, gcs_http_client *client,
                       long *requests)
{
    bool want[GCS_ORG__COUNT] = {false};
    bool any = false;
    for (size_t i = 0; i < gcs_profile_attr_count(profile); i++) {
        switch (gcs_profile_attr_at(profile, i)->target) {
        case GCS_TARGET_DIVISION: want[GCS_ORG_DIVISION] = any = true; break;
        case GCS_TARGET_ROLES: want[GCS_ORG_ROLE] = any = true; break;
        case GCS_TARGET_SKILLS: want[GCS_ORG_SKILL] = any = true; break;
        case GCS_TARGET_LANGUAGES: want[GCS_ORG_LANGUAGE] = any = true; break;
        default: break;
        }
    }
    int rc = gcs_org_names_new(out);
    if (rc == 0 && any)
        rc = gcs_directory_fetch_org_names(*out, client, want, requests);
    return rc;
}

static int fetch_org_names(planner *p)
{
    if (p->o->org_names) {
        p->org = p->o->org_names;
        return 0;
    }
    int rc = fetch_names(&p->org_owned, p->profile, p->client, &p->stats->requests);
    p->org = p->org_owned;
    return rc;
}

int gcs_planner_fetch_org_names(gcs_org_names **out, gcs_http_client *client,
                                const char *profile_path, long *requests)
{
    gcs_profile *profile = NULL;
    long n = 0;
    *out = NULL;
    int rc = gcs_profile_load(&profile, profile_path);
    if (rc == 0)
        rc = fetch_names(out, profile, client, &n);
    if (rc < 0) {
        gcs_org_names_free(*out);
        *out = NULL;
    }
    if (requests)
        *requests += n;
    gcs_profile_free(profile);
    return rc;
}

static void remember_rejected_row(planner *p, const gcs_row *row)
{
    for (size_t i = 0; row && i < row->count; i++) {
        if (row->fields[i].value[0] &&
            json_object_set_new(p->rejected_values, row->fields[i].value, json_true()) < 0)
            p->oom = true;
    }
}

/* "FILE:LINE" into out as snprintf(out, size, "%s:%lu", ...) writes it, cut
 * where it cuts, without its cost (a row's location is written for every row). */
static void format_location(char *out, size_t size, const char *file, unsigned long line)
{
    char digits[24];
    int nd = 0;
    do
        digits[nd++] = (char)('0' + line % 10);
    while (line /= 10);
    if (!file)
        file = "(null)"; /* glibc's */
    size_t n = strlen(file);
    if (n > size - 1)
        n = size - 1;
    memcpy(out, file, n);
    if (n + 1 < size)
        out[n++] = ':';
    while (nd > 0 && n + 1 < size)
        out[n++] = digits[--nd];
    out[n] = '\0';
}

/* Records one error of a rejected row; the caller counts the row once. */
static void reject(planner *p, const gcs_row_error *e)
{
    char location[600];
    format_location(location, sizeof location, e->file, e->line);
    gcs_plan_reject(p->plan, location, e->field, e->message);
}

/* Rejects a row that had mapped: it leaves the plan, and its key and matching
 * values protect the user they name from deactivation. */
static void reject_mapped(planner *p, desired *d, const char *field, const char *why)
{
    char location[600];
    format_location(location, sizeof location, d->m.file, d->m.line);
    gcs_plan_reject(p->plan, location, field, why);
    if (d->m.status != GCS_MAP_OK)
        return;
    d->m.status = GCS_MAP_REJECTED;
    if (d->ref)
        d->ref->status = GCS_MAP_REJECTED;
    p->stats->mapped--;
    p->stats->rejected++;
    if (d->m.source_key && json_object_set_new(p->rejected_values, d->m.source_key, json_true()) < 0)
        p->oom = true;
    for (size_t k = 0; k < d->m.match_count; k++) {
        if (json_object_set_new(p->rejected_values, d->m.match[k].value, json_true()) < 0)
            p->oom = true;
    }
}

static bool targeted(const planner *p, const char *key)
{
    if (!p->o->targets)
        return true;
    for (size_t i = 0; key && i < p->o->target_count; i++) {
        if (strcmp(p->o->targets[i], key) == 0)
            return true;
    }
    return false;
}

/* A row that could not be mapped names no key: it concerns a target when any
 * of its values is one. */
static bool row_targeted(const planner *p, const gcs_row *row)
{
    for (size_t i = 0; p->o->targets && i < row->count; i++) {
        if (targeted(p, row->fields[i].value))
            return true;
    }
    return !p->o->targets;
}

/* A row no target names, when a group is targeted: the person is not planned,
 * but is a member the group may need (found by key once the users are read),
 * and a rejected row still protects the user it names from removal. */
static int keep_context(planner *p, const desired *d, const gcs_row *row)
{
    if (d->m.status == GCS_MAP_REJECTED) {
        remember_rejected_row(p, row);
        return 0;
    }
    if (d->m.status != GCS_MAP_OK || !d->m.source_key)
        return 0;
    json_t *pairs = json_array();
    GCS_CHECK_ALLOC(pairs);
    for (size_t k = 0; k < d->m.match_count; k++)
        json_array_append_new(pairs, json_pack("[s,s]", d->m.match[k].key, d->m.match[k].value));
    if (json_object_set_new(p->context, d->m.source_key, pairs) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return gcs_group_planner_note_row(p->groups, d->m.source_key, row);
}

/* ==== Rows out of memory ====
 *
 * A kept row's record in the spill file: a header (the number of match values,
 * then which strings follow), then NUL-terminated strings: the file's name when
 * it is not the source's, the source key, the manager's key, the userName, the
 * desired user's text, then each match value after its key, the key as the
 * address of the profile's own string (borrowed for the whole run, and the
 * file is this process's alone). */

enum {
    RECORD_OWN_FILE = 1,
    RECORD_MANAGER = 2,
    RECORD_USER_NAME = 4,
    RECORD_STANDARD_SCHEMAS = 8,
};

typedef struct record_head {
    uint32_t match_count;
    uint32_t flags;
} record_head;

static int put_string(gcs_buf *b, const char *s)
{
    return gcs_buf_put(b, s, strlen(s) + 1);
}

/* Writes the mapped row d->m (whose user is `text`) to the spill file and
 * fills in r->at and r->size. */
static int spill_row(planner *p, row_ref *r, const gcs_map_user *m, const char *user_name,
                     const char *text, bool standard_schemas)
{
    gcs_buf *b = &p->record;
    gcs_buf_clear(b);
    bool own_file = m->file && strcmp(m->file, p->file_name) != 0;
    record_head h = {(uint32_t)m->match_count,
                     (own_file ? RECORD_OWN_FILE : 0) | (m->manager_key ? RECORD_MANAGER : 0) |
                         (user_name ? RECORD_USER_NAME : 0) |
                         (standard_schemas ? RECORD_STANDARD_SCHEMAS : 0)};
    int rc = gcs_buf_put(b, &h, sizeof h);
    if (rc == 0 && own_file)
        rc = put_string(b, m->file);
    if (rc == 0)
        rc = put_string(b, m->source_key);
    if (rc == 0 && m->manager_key)
        rc = put_string(b, m->manager_key);
    if (rc == 0 && user_name)
        rc = put_string(b, user_name);
    if (rc == 0)
        rc = put_string(b, text);
    for (size_t k = 0; k < m->match_count && rc == 0; k++) {
        rc = gcs_buf_put(b, &m->match[k].key, sizeof m->match[k].key);
        if (rc == 0)
            rc = put_string(b, m->match[k].value);
    }
    if (rc < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    if (b->len > UINT32_MAX)
        return gcs_error_set(GCS_EINVALID, "%s: line %lu: the row is too large", m->file, m->line);
    r->size = (uint32_t)b->len;
    return gcs_row_spill_append(p->spill, b->ptr, b->len, &r->at);
}

/* The string at *c; moves *c past it. */
static char *next_string(char **c)
{
    char *s = *c;
    *c += strlen(s) + 1;
    return s;
}

/* Row i read back into d (release it with unload_row). */
static int load_row(planner *p, size_t i, desired *d)
{
    memset(d, 0, sizeof *d);
    row_ref *r = &p->rows[i];
    d->ref = r;
    d->index = i;
    d->record = malloc((size_t)r->size + 1);
    GCS_CHECK_ALLOC(d->record);
    int rc = gcs_row_spill_read(p->spill, r->at, r->size, d->record);
    if (rc < 0)
        return rc;
    d->record[r->size] = '\0';
    record_head h;
    memcpy(&h, d->record, sizeof h);
    char *c = d->record + sizeof h;
    d->m.status = (gcs_map_status)r->status;
    d->m.line = r->line;
    d->m.file = (h.flags & RECORD_OWN_FILE) ? next_string(&c) : p->file_name;
    d->m.source_key = next_string(&c);
    d->m.manager_key = (h.flags & RECORD_MANAGER) ? next_string(&c) : NULL;
    d->user_name = (h.flags & RECORD_USER_NAME) ? next_string(&c) : NULL;
    d->user_text = next_string(&c);
    d->standard_schemas = (h.flags & RECORD_STANDARD_SCHEMAS) != 0;
    if (h.match_count && !(d->m.match = calloc(h.match_count, sizeof *d->m.match)))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    d->m.match_count = h.match_count;
    for (size_t k = 0; k < h.match_count; k++) {
        memcpy(&d->m.match[k].key, c, sizeof d->m.match[k].key);
        c += sizeof d->m.match[k].key;
        d->m.match[k].value = next_string(&c);
    }
    return 0;
}

/* Releases what load_row read back (the row's state stays in its row_ref). */
static void unload_row(desired *d)
{
    free(d->m.match);
    free(d->record);
    json_decref(d->m.user);
    json_decref(d->current);
    memset(d, 0, sizeof *d);
}

/* Rejects row i, which is not read back: it is, for as long as it takes. */
static void reject_row(planner *p, size_t i, const char *field, const char *why)
{
    desired d;
    int rc = load_row(p, i, &d);
    if (rc < 0)
        keep_failure(p, rc);
    else
        reject_mapped(p, &d, field, why);
    unload_row(&d);
}

/* Remembers what reject_duplicates needs of a kept row: a key already seen,
 * and its userName's hash (case aside). */
static void note_for_duplicates(planner *p, size_t row, const char *key, const char *user_name)
{
    uint64_t first;
    if (key && *key && gcs_strmap_get_str(&p->by_key, key, &first)) {
        if (p->key_dup_count == p->key_dup_cap) {
            size_t cap = p->key_dup_cap ? 2 * p->key_dup_cap : 16;
            struct row_pair *more = realloc(p->key_dups, cap * sizeof *more);
            if (!more) {
                p->oom = true;
                return;
            }
            p->key_dups = more;
            p->key_dup_cap = cap;
        }
        p->key_dups[p->key_dup_count++] = (struct row_pair){(uint32_t)row, (uint32_t)first};
    }
    if (!user_name || !*user_name)
        return;
    if (p->name_hash_count == p->name_hash_cap) {
        size_t cap = p->name_hash_cap ? 2 * p->name_hash_cap : 256;
        struct name_hash *more = realloc(p->name_hashes, cap * sizeof *more);
        if (!more) {
            p->oom = true;
            return;
        }
        p->name_hashes = more;
        p->name_hash_cap = cap;
    }
    uint64_t h = 14695981039346656037u; /* FNV-1a: equal names, equal hashes */
    for (const char *c = user_name; *c; c++)
        h = (h ^ (unsigned char)tolower((unsigned char)*c)) * 1099511628211u;
    p->name_hashes[p->name_hash_count++] = (struct name_hash){h, (uint32_t)row};
}

/*
 * A mapped row's digest, `active` and text (in p->row_text, its URNs not yet
 * squeezed): 1 when the text leaves out the standard schemas, 0 when it holds
 * them, or an error. A flat row (mapping/map.h) is written and fingerprinted
 * from its values, its schemas the standard ones by construction; a value the
 * text cannot hold makes it a tree, which takes the tree's way.
 */
static int row_text(planner *p, row_ref *r, gcs_map_user *m)
{
    gcs_buf *b = &p->row_text;
    int rc = m->values ? gcs_map_user_put_text(b, m, p->profile) : 0;
    if (rc == 1) {
        if ((rc = gcs_digester_mapped(&p->digester, m, &r->digest)) < 0)
            return rc;
        r->has_digest = rc == 1;
        r->active = (signed char)m->active;
        return 1;
    }
    if (rc < 0 || (!m->user && (rc = gcs_map_user_build(m, p->profile)) < 0))
        return rc;
    /* Fingerprinted while it is a tree, then kept as text until the row is decided. */
    if ((rc = gcs_digester_user(&p->digester, m->user, true, &r->digest)) < 0)
        return rc;
    r->has_digest = rc == 1;
    r->active = (signed char)gcs_managed_active(m->user);
    bool standard_schemas = json_equal(json_object_get(m->user, "schemas"), p->schemas);
    if (standard_schemas)
        json_object_del(m->user, "schemas");
    /* what json_dumps(JSON_COMPACT) writes, without its dump (it names and
     * hashes every object and array it enters) */
    rc = gcs_json_text_put_compact(b, m->user);
    char *dumped = rc == 0 ? json_dumps(m->user, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if ((rc == 0 && (!dumped || gcs_buf_puts(b, dumped) < 0)) || rc < 0) {
        free(dumped);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    free(dumped);
    return standard_schemas ? 1 : 0;
}

static int add_row(planner *p, const gcs_row *row)
{
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        row_ref *rows = realloc(p->rows, cap * sizeof *rows);
        GCS_CHECK_ALLOC(rows);
        p->rows = rows;
        p->cap = cap;
    }
    if (p->count >= UINT32_MAX - 1)
        return gcs_error_set(GCS_EINVALID, "%s: more rows than a plan takes", row->file);
    desired dm, *d = &dm;
    memset(d, 0, sizeof *d);
    int rc = gcs_map_row_flat(&d->m, p->profile, row, p->org);
    if (rc == GCS_ENOMEM)
        return rc;
    if (d->m.status == GCS_MAP_OUT_OF_SCOPE) {
        p->stats->out_of_scope++;
        gcs_map_user_release(&d->m);
        return 0;
    }
    if ((d->m.status == GCS_MAP_OK && !targeted(p, d->m.source_key)) ||
        (d->m.status != GCS_MAP_OK && !row_targeted(p, row))) {
        p->stats->untargeted++;
        rc = p->group_targets ? keep_context(p, d, row) : 0;
        gcs_map_user_release(&d->m);
        return rc;
    }
    if (d->m.status == GCS_MAP_REJECTED) {
        for (size_t i = 0; i < d->m.errors.count; i++)
            reject(p, &d->m.errors.items[i]);
        p->stats->rejected++;
        remember_rejected_row(p, row);
        gcs_map_user_release(&d->m);
        return p->o->strict ? gcs_error_set(GCS_EINVALID, "%s", gcs_error_last()) : 0;
    }
    row_ref *r = &p->rows[p->count];
    memset(r, 0, sizeof *r);
    r->status = GCS_MAP_OK;
    r->line = d->m.line;
    gcs_buf *b = &p->row_text;
    gcs_buf_clear(b);
    rc = row_text(p, r, &d->m);
    if (rc < 0 || (!p->file_name && d->m.file && !(p->file_name = strdup(d->m.file)))) {
        gcs_map_user_release(&d->m);
        return rc < 0 ? rc : gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    bool standard_schemas = rc == 1;
    char *text = b->ptr;
    b->len = squeeze_urns(text);
    const char *user_name = d->m.user ? json_string_value(json_object_get(d->m.user, "userName"))
                                      : gcs_map_user_name(&d->m, p->profile);
    rc = spill_row(p, r, &d->m, user_name, text, standard_schemas);
    if (rc == 0)
        note_for_duplicates(p, p->count, d->m.source_key, user_name);
    /* A second row with the same key rejects both (decide() does it): keep the first. */
    if (rc == 0 && gcs_strmap_put_str(&p->by_key, d->m.source_key, p->count, false) < 0)
        p->oom = true;
    if (rc == 0) {
        p->count++;
        p->stats->mapped++;
        rc = gcs_group_planner_note_row(p->groups, d->m.source_key, row);
    }
    gcs_map_user_release(&d->m);
    return rc;
}

/* The values of a bad row protect whatever user they name, as a rejected
 * row's do: a ragged record still says whose it is. */
static void remember_bad_values(planner *p, const gcs_source *src)
{
    const char *values[64];
    size_t n = gcs_source_bad_values(src, values, sizeof values / sizeof *values);
    for (size_t i = 0; i < n; i++) {
        if (values[i][0] && json_object_set_new(p->rejected_values, values[i], json_true()) < 0)
            p->oom = true;
    }
}

static int read_source(planner *p)
{
    gcs_source *src = NULL;
    gcs_field_names *names = NULL;
    int rc = p->o->source_data
                 ? gcs_source_open_mem(&src, p->o->source_path ? p->o->source_path : "<memory>",
                                       p->o->source_data, p->o->source_len, p->o->source_format,
                                       NULL)
                 : gcs_source_open(&src, p->o->source_path, p->o->source_format, NULL);
    if (rc < 0)
        return rc;
    /* A file was checked against the profile before anything was read from
     * Genesys (standard input and pipes, read once only, were not); every
     * source is checked again as it is read, so that a file replaced in
     * between (an export rewritten) cannot map its rows with a column missing,
     * as if each row emptied it. A CSV's header is checked once; JSON records
     * only until every field was met. */
    if ((rc = gcs_field_names_new(&names, p->profile, src)) < 0)
        goto out;
    /* A plan of named people does not need the groups column: without it, their
     * memberships are left as they are (group_planner.c). */
    if (names && p->o->targets && gcs_profile_groups_of(p->profile)->enabled)
        gcs_field_names_excuse(names, gcs_profile_groups_of(p->profile)->column);
    for (;;) {
        const gcs_row *row;
        rc = gcs_source_next(&row, src);
        if (rc == GCS_SOURCE_END)
            break;
        p->stats->rows++;
        if (rc == GCS_EINVALID) {
            reject(p, gcs_source_error(src));
            remember_bad_values(p, src);
            p->stats->rejected++;
            if (p->o->strict)
                goto out;
            continue;
        }
        if (rc < 0)
            goto out;
        if (names && (rc = gcs_field_names_add_row(names, row)) < 0)
            goto out;
        if ((rc = add_row(p, row)) < 0)
            goto out;
    }
    /* A CSV's header is checked even without rows; JSON without records has
     * nothing to check the profile against (only leavers named). */
    if (names && (gcs_source_records(src) > 0 || gcs_field_names_are_columns(names)) &&
        (rc = gcs_field_names_check(names)) < 0)
        goto out;
    rc = 0;
    p->source_clean = gcs_source_clean(src);
out:
    gcs_field_names_free(names);
    gcs_source_free(src);
    return rc;
}

/* ==== 4: current users ==== */

static char *wanted_attributes(planner *p)
{
    json_t *set = json_object();
    const char *always[] = {"id", "userName", "active", "meta",
                            GCS_SCIM_GENESYS_USER ":externalIds"};
    bool failed = !set;
    for (size_t i = 0; i < sizeof always / sizeof *always; i++)
        failed |= json_object_set_new(set, always[i], json_true()) < 0;
    for (size_t i = 0; i < gcs_profile_attr_count(p->profile); i++)
        failed |= json_object_set_new(set, gcs_profile_attr_at(p->profile, i)->path, json_true()) < 0;
    if (p->groups) /* every group's membership, from its members */
        failed |= json_object_set_new(set, "groups", json_true()) < 0;
    for (size_t i = 0; i < gcs_profile_match_count(p->profile); i++) {
        const char *k = gcs_profile_match_key(p->profile, i);
        const char *path = strcmp(k, "email") == 0            ? "emails"
                           : strcmp(k, "employeeNumber") == 0 ? GCS_SCIM_ENTERPRISE_USER ":employeeNumber"
                           : strncmp(k, "externalIds.", 12) == 0 ? NULL
                                                                 : k;
        if (path)
            failed |= json_object_set_new(set, path, json_true()) < 0;
    }
    if (failed) {
        /* a missing attribute would make every user read look incomplete */
        json_decref(set);
        gcs_error_set(GCS_ENOMEM, "out of memory");
        return NULL;
    }
    gcs_buf b;
    gcs_buf_init(&b, 16384);
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(set, k, v) {
        if (rc == 0 && b.len)
            rc = gcs_buf_putc(&b, ',');
        if (rc == 0)
            rc = gcs_buf_puts(&b, k);
    }
    json_decref(set);
    if (rc < 0) {
        gcs_buf_release(&b);
        return NULL; /* the message says what was too long */
    }
    return gcs_buf_detach(&b);
}

/* ==== Targeted reads: one filtered read per key, many people at once ====
 *
 * Each person has keys to try in order (the marker, the profile's match keys,
 * the userName); the first that finds a user wins, as with one read after the
 * other. The reads go in waves: every person's next untried key at once, one
 * round trip per wave instead of one per read. A key already answered by an
 * earlier read (the index) costs nothing; two people needing the same read in
 * one wave share it: the second asks in the next wave, if it still must.
 * With lookups_at_once every read of every person goes out first, together
 * (prefetch_targets), and the waves then take their answers from what came
 * back instead of sending: the same users are collected, in the same order,
 * as if each wave had been sent. */

#define TARGET_KEYS_MAX 16

typedef struct target_reads {
    const char *person;   /* the source key the reads are for */
    const char *keys[TARGET_KEYS_MAX];
    const char *values[TARGET_KEYS_MAX];
    size_t n, next;  /* keys, and the next one to try */
    bool done;       /* found, or every key tried */
} target_reads;

typedef struct lookup {
    size_t who;
    char *filter;
    char *path;
    int rc;
    json_t *user;    /* the one user found, or NULL */
    char message[600];
} lookup;

static void on_lookup(const gcs_http_client_response *res, void *payload)
{
    lookup *l = payload;
    if (res->error != 0) {
        l->rc = res->error;
        snprintf(l->message, sizeof l->message, "cannot look up user (%s): %s", l->filter,
                 res->message);
        return;
    }
    json_t *found = NULL;
    l->rc = gcs_directory_found_user(&found, res->json, l->filter);
    if (l->rc < 0)
        snprintf(l->message, sizeof l->message, "%s", gcs_error_last());
    else if (found)
        l->user = json_incref(found);
}

/* The answer of a read sent ahead (lookups_at_once), taken as if sent now;
 * false when it was not sent ahead. */
static bool take_prefetched(planner *p, lookup *l)
{
    json_t *a = p->prefetched ? json_object_get(p->prefetched, l->filter) : NULL;
    if (!a)
        return false;
    l->rc = (int)json_integer_value(json_object_get(a, "rc"));
    snprintf(l->message, sizeof l->message, "%s",
             json_string_value(json_object_get(a, "message"))
                 ? json_string_value(json_object_get(a, "message"))
                 : "");
    json_t *user = json_object_get(a, "user");
    l->user = json_is_object(user) ? json_incref(user) : NULL;
    return true;
}

/* Sends one wave of reads (or takes their answers sent ahead) and takes in
 * their answers, in the people's order. */
static int read_wave(planner *p, target_reads *t, lookup *wave, size_t n)
{
    int rc = 0;
    size_t taken = 0, submitted = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (take_prefetched(p, &wave[i])) {
            taken++;
            continue;
        }
        gcs_http_client_request req = {.method = "GET", .path = wave[i].path};
        if (p->o->on_targeted_read && t[wave[i].who].person)
            p->o->on_targeted_read(p->o->on_targeted_read_ctx, t[wave[i].who].person,
                                   wave[i].path);
        rc = gcs_http_submit(p->client, &req, on_lookup, &wave[i]);
        if (rc == 0) {
            taken++;
            submitted++;
            p->stats->requests++;
        }
    }
    int run_rc = submitted ? gcs_http_run(p->client) : 0;
    for (size_t i = 0; i < taken; i++) {
        lookup *l = &wave[i];
        if (l->rc < 0 && rc == 0)
            rc = gcs_error_set(l->rc, "%s", l->message);
        /* A user read but not kept (its text not spilled, no memory) would
         * leave its row matching nobody, planned as a create: the run fails. */
        if (rc == 0 && l->user && (rc = collect_user(l->user, p)) == 0)
            t[l->who].done = true;
    }
    return rc < 0 ? rc : run_rc;
}

static void wave_release(lookup *wave, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(wave[i].filter);
        free(wave[i].path);
        json_decref(wave[i].user);
    }
}

static bool likely_found(const planner *p, const char *person)
{
    for (size_t i = 0; person && i < p->o->likely_found_count; i++) {
        if (strcmp(p->o->likely_found[i], person) == 0)
            return true;
    }
    return false;
}

/* lookups_at_once: every read any of the people could need, sent together
 * (each filter once), their answers kept for read_targets to take in turn;
 * only the first of those likely found by it (likely_found). */
static int prefetch_targets(planner *p, target_reads *t, size_t count)
{
    size_t cap = 0;
    for (size_t i = 0; i < count; i++)
        cap += t[i].n;
    lookup *all = calloc(cap ? cap : 1, sizeof *all);
    if (!p->prefetched)
        p->prefetched = json_object();
    GCS_CHECK_ALLOC(all);
    int rc = p->prefetched ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        /* Someone likely found by their first read needs no other yet. */
        bool first_only = likely_found(p, t[i].person);
        for (size_t k = 0; k < t[i].n && rc == 0; k++) {
            gcs_error_clear();
            char *filter = gcs_directory_filter_for(t[i].keys[k], t[i].values[k]);
            if (!filter) {
                if (gcs_error_last_code() == GCS_ENOMEM)
                    rc = GCS_ENOMEM;
                continue; /* a key no filter can express: read_targets passes it */
            }
            if (json_object_get(p->prefetched, filter)) {
                free(filter);
                if (first_only)
                    break;
                continue;
            }
            lookup *l = &all[n++];
            l->who = i;
            l->filter = filter;
            l->path = gcs_directory_find_path(filter);
            if (!l->path || json_object_set_new(p->prefetched, filter, json_null()) < 0)
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            if (first_only)
                break;
        }
    }
    size_t submitted = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        gcs_http_client_request req = {.method = "GET", .path = all[i].path};
        if (p->o->on_targeted_read && t[all[i].who].person)
            p->o->on_targeted_read(p->o->on_targeted_read_ctx, t[all[i].who].person,
                                   all[i].path);
        if ((rc = gcs_http_submit(p->client, &req, on_lookup, &all[i])) == 0) {
            submitted++;
            p->stats->requests++;
        }
    }
    int run_rc = submitted ? gcs_http_run(p->client) : 0;
    for (size_t i = 0; i < submitted && rc == 0; i++) {
        json_t *answer = json_pack("{s:i,s:s,s:O?}", "rc", all[i].rc, "message",
                                   all[i].message, "user", all[i].user);
        if (!answer || json_object_set_new(p->prefetched, all[i].filter, answer) < 0)
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    /* A read that was not answered is not kept: read_targets sends it again. */
    for (size_t i = submitted; i < n; i++) {
        if (all[i].filter)
            json_object_del(p->prefetched, all[i].filter);
    }
    wave_release(all, n);
    free(all);
    return rc < 0 ? rc : run_rc;
}

/* Reads, in waves, until every person is found or out of keys. */
static int read_targets(planner *p, target_reads *t, size_t count)
{
    lookup *wave = calloc(count ? count : 1, sizeof *wave);
    json_t *asked = json_object();
    int rc = 0;
    if (!wave || !asked)
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    while (rc == 0) {
        size_t n = 0;
        json_object_clear(asked);
        for (size_t i = 0; i < count && rc == 0; i++) {
            target_reads *r = &t[i];
            char *filter = NULL;
            while (!r->done) {
                if (r->next >= r->n || index_get(p, r->keys[r->next], r->values[r->next])) {
                    r->done = true; /* out of keys, or answered by a read made already */
                    break;
                }
                gcs_error_clear();
                if ((filter = gcs_directory_filter_for(r->keys[r->next], r->values[r->next])))
                    break;
                if (gcs_error_last_code() == GCS_ENOMEM) {
                    rc = GCS_ENOMEM; /* not "no such user": that would plan a create */
                    break;
                }
                r->next++; /* a key no filter can express: no user is found by it */
            }
            if (!filter)
                continue;
            if (json_object_get(asked, filter)) { /* the same read is in this wave */
                free(filter);
                continue;
            }
            lookup *l = &wave[n];
            memset(l, 0, sizeof *l);
            l->who = i;
            l->filter = filter;
            l->path = gcs_directory_find_path(filter);
            if (!l->path || json_object_set_new(asked, filter, json_true()) < 0) {
                n++;
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
                break;
            }
            n++;
            r->next++;
        }
        if (rc == 0 && n == 0)
            break;
        if (rc == 0)
            rc = read_wave(p, t, wave, n);
        wave_release(wave, n);
    }
    free(wave);
    json_decref(asked);
    return rc;
}

/* Each row's keys in the order they are tried: the marker, the match keys,
 * then the userName. */
static void targets_of_rows(planner *p, target_reads *t, const desired *loaded,
                            const char *marker_key)
{
    for (size_t i = 0; i < p->count; i++) {
        const desired *d = &loaded[i];
        target_reads *r = &t[i];
        r->person = d->m.source_key;
        if (p->marker) {
            r->keys[r->n] = marker_key;
            r->values[r->n++] = d->m.source_key;
        }
        bool by_user_name = false;
        for (size_t k = 0; k < d->m.match_count && r->n < TARGET_KEYS_MAX - 1; k++) {
            r->keys[r->n] = d->m.match[k].key;
            r->values[r->n++] = d->m.match[k].value;
            by_user_name |= strcmp(d->m.match[k].key, "userName") == 0;
        }
        /* Genesys keeps userNames unique whatever the match keys: a create must
         * know whether its userName is taken (it is an adoption then). */
        const char *user_name = d->user_name;
        if (!by_user_name && user_name) {
            r->keys[r->n] = "userName";
            r->values[r->n++] = user_name;
        }
    }
}

/* A targeted key with no row may be a leaver: found by its marker. Returns
 * how many there are. */
static size_t targets_of_leavers(planner *p, target_reads *t, const char *marker_key)
{
    if (!p->marker)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < p->o->target_count; i++) {
        const char *key = p->o->targets[i];
        if (row_by_key(p, key))
            continue;
        t[n].person = key;
        t[n].keys[0] = marker_key;
        t[n].values[0] = key;
        t[n++].n = 1;
    }
    return n;
}

/* The rows' people, then the leavers: each found by the first of their keys
 * that finds a user. */
static int find_targeted(planner *p)
{
    char marker_key[300];
    snprintf(marker_key, sizeof marker_key, "externalIds.%s", p->marker ? p->marker : "");
    size_t rows = p->count, all = p->count + p->o->target_count;
    target_reads *t = calloc(all ? all : 1, sizeof *t);
    /* Few rows (the named people, or no more than targeted_max): all read back. */
    desired *loaded = calloc(rows ? rows : 1, sizeof *loaded);
    int rc = t && loaded ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
    for (size_t i = 0; i < rows && rc == 0; i++)
        rc = load_row(p, i, &loaded[i]);
    if (rc == 0)
        targets_of_rows(p, t, loaded, marker_key);
    size_t leavers = rc == 0 ? targets_of_leavers(p, t + rows, marker_key) : 0;
    if (rc == 0 && p->o->lookups_at_once)
        rc = prefetch_targets(p, t, rows + leavers);
    if (rc == 0)
        rc = read_targets(p, t, rows);
    if (rc == 0)
        rc = read_targets(p, t + rows, leavers);
    for (size_t i = 0; loaded && i < rows; i++)
        unload_row(&loaded[i]);
    free(loaded);
    free(t);
    return rc;
}

static int read_current(planner *p)
{
    /* A targeted group needs every member's id: all users are read, as a sync would. */
    bool need_all = p->group_targets || (!p->o->targets && (p->groups || !p->o->plan.no_deactivate ||
                                                            (long)p->count > p->o->targeted_max));
    if (!need_all) {
        p->reads_roles = true; /* filtered reads return whole users */
        return find_targeted(p);
    }
    for (size_t i = 0; i < gcs_profile_attr_count(p->profile); i++)
        p->reads_roles |= gcs_profile_attr_at(p->profile, i)->target == GCS_TARGET_ROLES;
    char *attributes = wanted_attributes(p);
    if (!attributes)
        return gcs_error_prefix(gcs_error_last_code() == GCS_ENOMEM ? GCS_ENOMEM : GCS_EINVALID, "cannot list the attributes to read");
    int rc = gcs_directory_list_users(p->client, attributes, true, collect_read, p,
                                      &p->stats->requests);
    free(attributes);
    return rc;
}

/* ==== 5: match, diff, decide ==== */

/* Whether the user matched through the index holds one of the values the row
 * is matched by (its key under the marker, its match values). */
static bool matched_by_value(const planner *p, const desired *d, const json_t *user)
{
    if (p->marker && d->m.source_key) {
        char marker_key[300];
        snprintf(marker_key, sizeof marker_key, "externalIds.%s", p->marker);
        if (holds_match_value(user, marker_key, d->m.source_key))
            return true;
    }
    for (size_t k = 0; k < d->m.match_count; k++) {
        if (holds_match_value(user, d->m.match[k].key, d->m.match[k].value))
            return true;
    }
    return false;
}

/* Rejects a row whose match the index found by a hash its value shares with
 * another (a chance below 2^-100): the user is not the row's, and which user
 * is stays unknown, so nothing is planned for the row. */
static void reject_hash_match(planner *p, desired *d, const char *id)
{
    char why[300];
    snprintf(why, sizeof why,
             "Genesys user %s shares only a hash, not a value, with this row's match values; "
             "plan again",
             id ? id : "?");
    reject_mapped(p, d, NULL, why);
}

static size_t match_user(planner *p, desired *d)
{
    char marker_key[300];
    snprintf(marker_key, sizeof marker_key, "externalIds.%s", p->marker ? p->marker : "");
    size_t u = p->marker ? index_get(p, marker_key, d->m.source_key) : 0;
    for (size_t k = 0; !u && k < d->m.match_count; k++)
        u = index_get(p, d->m.match[k].key, d->m.match[k].value);
    return u;
}

static bool is_active(const json_t *user)
{
    json_t *a = json_object_get(user, "active");
    return !a || json_is_true(a);
}

/* The manager's Genesys id, or NULL when the manager is yet to be created
 * (*pending set) or unknown (*unknown set). */
static const char *resolve_manager(planner *p, const desired *d, bool *pending, bool *unknown)
{
    *pending = *unknown = false;
    const row_ref *mgr = row_by_key(p, d->m.manager_key);
    if (mgr) {
        if (mgr->status == GCS_MAP_OK && mgr->matched)
            return id_at(p, mgr->matched);
        if (mgr->status == GCS_MAP_OK) {
            *pending = true;
            return NULL;
        }
        /* A rejected manager row creates nobody: only an existing user will do. */
    }
    char marker_key[300];
    snprintf(marker_key, sizeof marker_key, "externalIds.%s", p->marker ? p->marker : "");
    size_t u = p->marker ? index_get(p, marker_key, d->m.manager_key) : 0;
    if (u)
        return id_at(p, u);
    *unknown = true;
    return NULL;
}

/* A manager created by this same plan is set once it exists: say so. */
static void add_pending_manager(json_t *changes, const json_t *extra)
{
    const char *key = json_string_value(json_object_get(extra, "manager_key"));
    if (!key)
        return;
    char text[300];
    snprintf(text, sizeof text, "%s (created by this plan)", key);
    json_array_append_new(changes, json_pack("{s:s,s:n,s:s}", "attribute",
                                             GCS_SCIM_ENTERPRISE_USER ":manager", "old", "new", text));
}

/* ==== Privileged roles ==== */

/* Case aside: `privileged_roles: [master admin]` must not protect nothing
 * because the organisation spells it "Master Admin". */
static bool is_privileged(const planner *p, const char *role)
{
    for (size_t i = 0; role && i < gcs_profile_privileged_role_count(p->profile); i++) {
        if (strcasecmp(gcs_profile_privileged_role_at(p->profile, i), role) == 0)
            return true;
    }
    return false;
}

/* The privileged roles among a user's roles ({"value": name} entries), as a new
 * array (empty when none). */
static json_t *privileged_in(const planner *p, const json_t *roles)
{
    json_t *held = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r) {
        const char *name = json_string_value(json_object_get(r, "value"));
        if (is_privileged(p, name))
            json_array_append_new(held, json_string(name));
    }
    return held;
}

/* Who holds a privileged role, read once per run, when the first existing
 * user is changed: the users were read without their roles. */
static int privileged_holders(planner *p, const json_t **out)
{
    if (!p->role_holders) {
        size_t n = gcs_profile_privileged_role_count(p->profile);
        const char **names = calloc(n ? n : 1, sizeof *names);
        GCS_CHECK_ALLOC(names);
        for (size_t i = 0; i < n; i++)
            names[i] = gcs_profile_privileged_role_at(p->profile, i);
        int rc = gcs_directory_role_holders(&p->role_holders, p->client, names, n,
                                            &p->stats->requests);
        free(names);
        if (rc < 0)
            return gcs_error_prefix(rc, "cannot read who holds the privileged roles");
    }
    *out = p->role_holders;
    return 0;
}

/*
 * Which privileged roles an existing user holds, or a create would grant:
 * recorded on the operation so that the approval rule can name the user. When
 * the current users were read without their roles (a profile that does not map
 * them), the holders of the privileged roles are read once, by role: a few
 * requests per run, never one per row or per change.
 */
static int note_privileged(planner *p, json_t *extra, const json_t *current, const json_t *want)
{
    json_t *held = NULL;
    const char *id = json_string_value(json_object_get(current, "id"));
    if (current && !p->reads_roles && !p->holders_forbidden) {
        const json_t *holders = NULL;
        int rc = privileged_holders(p, &holders);
        if (rc == GCS_EFORBIDDEN) {
            /* A client without authorization:readonly: read each changed user. */
            GCS_WARN("plan.roles", "why", gcs_error_last(),
                     "then", "each changed user is read for its roles");
            p->holders_forbidden = true;
            return note_privileged(p, extra, current, want);
        }
        if (rc < 0)
            return rc;
        held = json_deep_copy(json_object_get(holders, id ? id : ""));
        if (!held)
            held = json_array();
    } else if (current && !p->reads_roles) {
        json_t *full = NULL;
        int rc = gcs_directory_get_user(&full, NULL, p->client, id);
        p->stats->requests++;
        if (rc < 0)
            return rc;
        held = privileged_in(p, json_object_get(full, "roles"));
        json_decref(full);
    } else if (current) {
        held = privileged_in(p, json_object_get(current, "roles"));
    } else {
        held = json_array();
    }
    /* Granting a privileged role is as dangerous as taking one away. */
    json_t *granted = privileged_in(p, json_object_get(want, "roles"));
    size_t i;
    json_t *r;
    json_array_foreach(granted, i, r) {
        bool dup = false;
        size_t j;
        json_t *h;
        json_array_foreach(held, j, h) dup |= json_equal(h, r);
        if (!dup)
            json_array_append(held, r);
    }
    json_decref(granted);
    if (json_array_size(held) > 0)
        json_object_set_new(extra, "privileged", held);
    else
        json_decref(held);
    return 0;
}

/* ==== One row's decision ==== */

static void skip_row(planner *p, const desired *d, const char *user_name, const char *why)
{
    char location[600];
    format_location(location, sizeof location, d->m.file, d->m.line);
    gcs_plan_skip(p->plan, d->m.source_key, user_name, location, why);
    p->stats->skipped++;
}

/*
 * A row with no matching user whose userName Genesys already holds: a create
 * would meet 409, so say now what will really happen. The holder is adopted
 * (shown with its full diff; approval needed) unless another row or another
 * managed key has it, which rejects the row.
 */
static size_t user_name_holder(planner *p, desired *d, const char *user_name)
{
    size_t place = index_get(p, "userName", user_name);
    if (!place)
        return 0;
    json_t *u = user_at(p, place);
    if (!u)
        return 0;
    const char *id = id_at(p, place);
    const row_ref *o = claimant_at(p, place);
    char why[600];
    if (o) {
        snprintf(why, sizeof why,
                 "userName '%s' belongs to Genesys user %s, which the row on line %lu matches",
                 user_name, id, o->line);
        reject_mapped(p, d, "userName", why);
        json_decref(u);
        return 0;
    }
    if (!same_match_value(json_string_value(json_object_get(u, "userName")), user_name, true)) {
        reject_hash_match(p, d, id);
        json_decref(u);
        return 0;
    }
    const char *owner = marker_value(p, u);
    if (owner && strcmp(owner, d->m.source_key) != 0) {
        snprintf(why, sizeof why,
                 "userName '%s' belongs to Genesys user %s, which gcscim manages under key '%s'",
                 user_name, id ? id : "?", owner);
        reject_mapped(p, d, "userName", why);
        json_decref(u);
        return 0;
    }
    claim_at(p, place, d->index);
    json_decref(u);
    return place;
}

static const char *resolve_manager(planner *p, const desired *d, bool *pending, bool *unknown);

/* The manager as the diff would see it: the row's, resolved, against the
 * user's (plan/diff.h compares the id exactly; none wants none). */
static bool same_manager(planner *p, const desired *d, const current_user *cu)
{
    const char *have = cu->manager_at ? cu->blob + cu->manager_at : NULL;
    if (!d->m.manager_key)
        return !have || !p->manages_manager;
    bool pending, unknown;
    const char *want = resolve_manager(p, d, &pending, &unknown);
    return want && have && strcmp(want, have) == 0;
}

/* The row's desired user, parsed again, "schemas" first as mapped. NULL when
 * out of memory. */
static json_t *desired_user(planner *p, const desired *d)
{
    json_t *u = parse_squeezed(p, d->user_text);
    if (!u || !d->standard_schemas)
        return u;
    json_t *whole = json_pack("{s:O}", "schemas", p->schemas);
    if (!whole || json_object_update(whole, u) < 0) {
        json_decref(whole);
        whole = NULL;
    }
    json_decref(u);
    return whole;
}

/* The row's desired user as compact JSON text, "schemas" first as mapped (in
 * planner.body, valid until the next call); NULL when out of memory. */
static const char *desired_text(planner *p, const desired *d)
{
    gcs_buf *b = &p->body;
    gcs_buf_clear(b);
    const char *text = d->user_text;
    int rc = 0;
    if (d->standard_schemas) {
        rc = gcs_buf_puts(b, p->schemas_head);
        text++; /* past its '{' */
        if (rc == 0 && *text != '}')
            rc = gcs_buf_putc(b, ',');
    }
    for (const char *r = text; *r && rc == 0;) {
        const char *mark = strchr(r, URN_MARK);
        size_t run = mark ? (size_t)(mark - r) : strlen(r);
        rc = gcs_buf_put(b, r, run);
        if (rc == 0 && mark)
            rc = gcs_buf_puts(b, URN_PREFIX);
        r += run + (mark != NULL);
    }
    return rc == 0 ? b->ptr : NULL;
}

/* A row whose managed attributes have the digest of its user's, and whose user
 * carries this row's marker: unchanged, decided without parsing either. */
static bool unchanged_by_digest(planner *p, const desired *d)
{
    const row_ref *r = d->ref;
    if (!r->matched || !r->has_digest)
        return false;
    const current_user *cu = &USER_AT(p, r->matched - 1);
    const char *owner = marker_at(p, r->matched - 1);
    if (p->marker && (!owner || strcmp(owner, d->m.source_key) != 0))
        return false; /* adopted, or another key's: the full path says which */
    if (r->active != GCS_MANAGED_ACTIVE_ABSENT && r->active != cu->active_as_read)
        return false; /* the diff compares `active` only when the row sets it */
    return cu->has_digest && gcs_managed_digest_equal(&cu->digest, &r->digest) &&
           same_manager(p, d, cu);
}

/* Does the profile map roles? A body holds none otherwise. */
static bool maps_roles(const gcs_profile *profile)
{
    for (size_t i = 0; i < gcs_profile_attr_count(profile); i++) {
        if (gcs_profile_attr_at(profile, i)->target == GCS_TARGET_ROLES)
            return true;
    }
    return false;
}

/*
 * The privileged roles a create grants, from its body's text: the array
 * note_privileged would record, as the plan writes it, in planner.privileged
 * (empty when none). 1, or 0 when the roles need the tree (an escape in them,
 * a very long name, text not as jansson dumps it).
 */
static int privileged_text(planner *p, const char *body)
{
    gcs_buf *b = &p->privileged;
    gcs_buf_clear(b);
    if (gcs_profile_privileged_role_count(p->profile) == 0 || !maps_roles(p->profile))
        return 1; /* no body of this plan grants one: not looked for */
    const char *roles;
    size_t len;
    int found = gcs_json_text_top_value(body, "roles", &roles, &len);
    if (found < 0)
        return 0;
    if (!found || roles[0] != '[' || gcs_profile_privileged_role_count(p->profile) == 0)
        return 1;
    if (memchr(roles, '\\', len))
        return 0;
    size_t names = 0;
    for (const char *at = roles + 1; *at != ']';) {
        const char *end = gcs_json_text_value_end(at), *v;
        size_t vlen;
        if (!end || end == at || (*end != ',' && *end != ']'))
            return 0;
        found = *at == '{' ? gcs_json_text_top_value(at, "value", &v, &vlen) : 0;
        if (found < 0)
            return 0;
        char name[256];
        if (found && v[0] == '"') {
            if (vlen - 2 >= sizeof name)
                return 0;
            memcpy(name, v + 1, vlen - 2);
            name[vlen - 2] = '\0';
            /* once each, exactly as spelt (json_equal) */
            bool dup = false;
            for (const char *h = b->ptr; names && !dup && (h = strchr(h, '"'));) {
                size_t hlen = strcspn(h + 1, "\"");
                dup = hlen == vlen - 2 && memcmp(h + 1, name, hlen) == 0;
                h += hlen + 2;
            }
            if (!dup && is_privileged(p, name)) {
                if (gcs_buf_puts(b, names++ ? ", " : "[") < 0 || gcs_buf_put(b, v, vlen) < 0)
                    return gcs_error_set(GCS_ENOMEM, "out of memory");
            }
        }
        at = *end == ',' ? end + 1 : end;
    }
    if (names && gcs_buf_putc(b, ']') < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 1;
}

/*
 * The body with its manager's Genesys id, as gcs_map_user_set_manager puts it
 * in the tree: {"value": id} last in the enterprise extension, which is added
 * last when the row has none. *body is then planner.with_manager. 1, or 0
 * when the text needs the tree (an extension that is not an object, or that
 * names a manager already; an id jansson would not hold). Or the error.
 */
static int body_with_manager(planner *p, const char **body, const char *id)
{
    const char *text = *body, *ent;
    size_t len, at;
    int found = gcs_json_text_top_value(text, GCS_SCIM_ENTERPRISE_USER, &ent, &len);
    if (found < 0)
        return 0;
    gcs_buf *m = &p->manager;
    gcs_buf_clear(m);
    int rc = 0;
    if (found) {
        const char *v;
        size_t vlen;
        if (len < 2 || ent[0] != '{' || gcs_json_text_top_value(ent, "manager", &v, &vlen) != 0)
            return 0;
        at = (size_t)(ent - text) + len - 1; /* its closing brace */
        rc = gcs_buf_puts(m, len > 2 ? ",\"manager\":{\"value\":" : "\"manager\":{\"value\":");
    } else {
        at = strlen(text) - 1; /* the user's closing brace */
        rc = gcs_buf_puts(m, ",\"" GCS_SCIM_ENTERPRISE_USER "\":{\"manager\":{\"value\":");
    }
    if (rc < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    if ((rc = gcs_json_text_put_string(m, id, strlen(id))) != 1)
        return rc;
    if (gcs_buf_puts(m, found ? "}" : "}}") < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    gcs_buf *w = &p->with_manager;
    gcs_buf_clear(w);
    if (gcs_buf_put(w, text, at) < 0 || gcs_buf_put(w, m->ptr, m->len) < 0 ||
        gcs_buf_puts(w, text + at) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    *body = w->ptr;
    return 1;
}

/*
 * A row that matches no user, decided from its text: created (written to the
 * plan without a tree: its body, changes and privileged roles are texts), or,
 * a leaver, left alone, or skipped under --no-create, exactly as plan_row
 * would. 1 done; 0 when the row needs plan_row's tree after all, before
 * anything is done: a manager whom nobody knows, a userName Genesys holds (an
 * adoption or a rejection), a text the writers decline. Or the error.
 */
static int plan_create_text(planner *p, desired *d, const char *location)
{
    if (d->ref->matched)
        return 0;
    bool pending = false;
    const char *manager_id = NULL;
    if (d->m.manager_key) {
        bool unknown;
        manager_id = resolve_manager(p, d, &pending, &unknown);
        if (unknown)
            return 0;
    }
    /* is_active(): no `active`, or true */
    if (d->ref->active != 1 && d->ref->active != GCS_MANAGED_ACTIVE_ABSENT) {
        p->stats->unchanged++; /* a leaver who never had an account needs nothing */
        return 1;
    }
    if (d->user_name && index_get(p, "userName", d->user_name))
        return 0;
    if (p->o->plan.no_create) {
        skip_row(p, d, d->user_name, "no matching user in Genesys; not created (--no-create)");
        return 1;
    }
    const char *body = desired_text(p, d);
    if (!body)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    int rc = manager_id ? body_with_manager(p, &body, manager_id) : 1;
    if (rc != 1)
        return rc;
    gcs_buf *c = &p->changes;
    gcs_buf_clear(c);
    size_t count = 0;
    rc = gcs_buf_putc(c, '[') < 0 ? gcs_error_set(GCS_ENOMEM, "out of memory") : 1;
    if (rc == 1)
        rc = gcs_diff_create_changes_text(c, &count, body);
    if (rc == 1 && pending) {
        /* add_pending_manager's change, cut where its snprintf cuts */
        char text[300];
        if ((size_t)snprintf(text, sizeof text, "%s (created by this plan)", d->m.manager_key) >=
            sizeof text)
            return 0;
        if (gcs_buf_puts(c, count ? ", " : "") < 0 ||
            gcs_buf_puts(c, "{\"attribute\": \"" GCS_SCIM_ENTERPRISE_USER
                            ":manager\", \"old\": null, \"new\": ") < 0)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        rc = gcs_json_text_put_string(c, text, strlen(text));
        if (rc == 1 && gcs_buf_putc(c, '}') < 0)
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if (rc == 1 && gcs_buf_putc(c, ']') < 0)
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    if (rc == 1)
        rc = privileged_text(p, body);
    if (rc == 1)
        rc = gcs_plan_add_create_texts(p->plan, d->m.source_key, d->user_name, body, c->ptr,
                                       location, pending ? d->m.manager_key : NULL,
                                       p->privileged.len ? p->privileged.ptr : NULL);
    if (rc == 1)
        p->stats->created++;
    return rc;
}

static int plan_row(planner *p, desired *d)
{
    bool manager_set = false;
    if (unchanged_by_digest(p, d)) {
        p->stats->unchanged++;
        return 0;
    }
    char location[600];
    format_location(location, sizeof location, d->m.file, d->m.line);
    int rc = plan_create_text(p, d, location);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    json_t *extra = json_pack("{s:s}", "location", location);
    GCS_CHECK_ALLOC(extra);
    /* The row and its user, parsed again for as long as the row is decided. */
    d->m.user = desired_user(p, d);
    if (!d->m.user || (d->ref->matched && !(d->current = user_at(p, d->ref->matched)))) {
        json_decref(extra);
        return d->m.user ? kept_failure(p) : gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    if (d->current && !matched_by_value(p, d, d->current)) {
        reject_hash_match(p, d, json_string_value(json_object_get(d->current, "id")));
        goto out;
    }

    if (d->m.manager_key) {
        bool pending, unknown;
        const char *id = resolve_manager(p, d, &pending, &unknown);
        if (unknown) {
            char why[300];
            snprintf(why, sizeof why, "manager '%s' is neither in the source nor managed in Genesys",
                     d->m.manager_key);
            reject_mapped(p, d, "manager", why);
            goto out;
        }
        if (id) {
            gcs_map_user_set_manager(&d->m, id);
            manager_set = true;
        } else
            json_object_set_new(extra, "manager_key", json_string(d->m.manager_key));
    }

    const char *user_name = json_string_value(json_object_get(d->m.user, "userName"));
    bool adopting = false;
    if (!d->current) {
        /* A leaver who never had an account needs nothing. */
        if (!is_active(d->m.user)) {
            p->stats->unchanged++;
            goto out;
        }
        d->ref->matched = user_name ? (uint32_t)user_name_holder(p, d, user_name) : 0;
        /* a holder not read back would leave the row planned as a create */
        if (p->failed_rc || p->oom) {
            rc = kept_failure(p);
            goto out;
        }
        if (d->m.status != GCS_MAP_OK)
            goto out;
        if (d->ref->matched && !(d->current = user_at(p, d->ref->matched))) {
            rc = kept_failure(p);
            goto out;
        }
        adopting = d->current != NULL;
    }
    if (!d->current) {
        if (p->o->plan.no_create) {
            skip_row(p, d, user_name, "no matching user in Genesys; not created (--no-create)");
            goto out;
        }
        /* What people read: every attribute the new user gets. */
        json_t *nothing = json_object(), *ops = NULL, *changes = NULL;
        gcs_diff_user(&ops, &changes, d->m.user, nothing, NULL);
        json_decref(nothing);
        json_decref(ops);
        add_pending_manager(changes, extra);
        if ((rc = note_privileged(p, extra, NULL, d->m.user)) < 0) {
            json_decref(changes);
            goto out;
        }
        p->stats->created++;
        /* The body as the row's text says it, unless the manager's id was set
         * in the tree since: no dump of the tree is needed. */
        const char *body = manager_set ? NULL : desired_text(p, d);
        if (body)
            rc = gcs_plan_add_create_text(p->plan, d->m.source_key, user_name, body, changes,
                                          extra);
        else
            rc = gcs_plan_add(p->plan, GCS_PLAN_CREATE, d->m.source_key, user_name, NULL, NULL,
                              json_incref(d->m.user), changes, extra);
        extra = NULL;
        goto out;
    }

    const char *owner = marker_value(p, d->current);
    if (p->marker && owner && strcmp(owner, d->m.source_key) != 0) {
        char why[600];
        snprintf(why, sizeof why, "matches Genesys user %s, which gcscim manages under key '%s'",
                 json_string_value(json_object_get(d->current, "id")), owner);
        reject_mapped(p, d, NULL, why);
        goto out;
    }
    /* Matched by a profile key but not carrying the marker: taking it over is an
     * adoption, shown as such and approved, never a quiet update. */
    adopting |= p->marker && !owner;

    json_t *want = json_deep_copy(d->m.user);
    json_t *skip = gcs_managed_complete(p->profile, want, d->m.manager_key != NULL);
    json_t *ops = NULL, *changes = NULL;
    rc = gcs_diff_user(&ops, &changes, want, d->current, skip);
    if (rc == 0 && (json_array_size(ops) > 0 || json_object_get(extra, "manager_key")))
        add_pending_manager(changes, extra);
    /* Apply re-diffs against these when the user changed since the plan. */
    json_object_set_new(extra, "desired", want);
    json_object_set_new(extra, "skip", skip);
    if (rc < 0) {
        json_decref(ops);
        json_decref(changes);
        goto out;
    }
    bool was_active = is_active(d->current), will_be_active = is_active(d->m.user);
    gcs_plan_kind kind = GCS_PLAN_UPDATE;
    if (adopting)
        kind = GCS_PLAN_ADOPT;
    else if (!was_active && will_be_active)
        kind = GCS_PLAN_REACTIVATE;
    else if (was_active && !will_be_active)
        kind = GCS_PLAN_DEACTIVATE;
    bool manager_only = json_array_size(ops) == 0 && json_object_get(extra, "manager_key");
    if (json_array_size(ops) == 0 && !manager_only) {
        p->stats->unchanged++;
        json_decref(ops);
        json_decref(changes);
        goto out;
    }
    const char *flag = kind == GCS_PLAN_DEACTIVATE ? (p->o->plan.no_deactivate ? "--no-deactivate" : NULL)
                                                   : (p->o->plan.no_update ? "--no-update" : NULL);
    if (flag) {
        char why[200];
        snprintf(why, sizeof why, "%s left alone (%s)", gcs_plan_kind_name(kind), flag);
        skip_row(p, d, user_name, why);
        json_decref(ops);
        json_decref(changes);
        goto out;
    }
    if (p->marker)
        json_object_set_new(extra, "managed", json_boolean(!adopting));
    if ((rc = note_privileged(p, extra, d->current, d->m.user)) < 0) {
        json_decref(ops);
        json_decref(changes);
        goto out;
    }
    long *counter = kind == GCS_PLAN_ADOPT        ? &p->stats->adopted
                    : kind == GCS_PLAN_REACTIVATE ? &p->stats->reactivated
                    : kind == GCS_PLAN_DEACTIVATE ? &p->stats->deactivated
                                                  : &p->stats->updated;
    (*counter)++;
    char *etag = gcs_directory_user_etag(d->current);
    rc = gcs_plan_add(p->plan, kind, d->m.source_key, user_name,
                      json_string_value(json_object_get(d->current, "id")), etag, ops, changes,
                      extra);
    extra = NULL;
    free(etag);
out:
    json_decref(extra);
    return rc;
}

/* One user read from Genesys: a leaver when gcscim manages it and its key
 * left the source. */
static int plan_leaver(planner *p, size_t place, json_t *u, long *managed_total, bool withhold,
                       const char *withheld_why)
{
    const char *key = marker_value(p, u);
    if (!key)
        return 0;
    (*managed_total)++;
    const char *id = json_string_value(json_object_get(u, "id"));
    if (!id || claimant_at(p, place) || !is_active(u) || !targeted(p, key))
        return 0;
    if (row_by_key(p, key))
        return 0;
    if (json_object_get(p->rejected_values, key)) {
        GCS_WARN("plan.kept", "key", key, "why", "its source row was rejected");
        return 0;
    }
    const char *user_name = json_string_value(json_object_get(u, "userName"));
    if (p->o->plan.no_deactivate || withhold) {
        gcs_plan_skip(p->plan, key, user_name, NULL,
                      withhold ? withheld_why : "leaver left active (--no-deactivate)");
        p->stats->leavers_skipped++;
        return 0;
    }
    json_t *extra = json_pack("{s:s,s:b,s:b,s:{s:b},s:[]}", "reason", "not in the source",
                              "leaver", 1, "managed", 1, "desired", "active", 0, "skip");
    int rc = note_privileged(p, extra, u, NULL);
    if (rc < 0) {
        json_decref(extra);
        return rc;
    }
    char *etag = gcs_directory_user_etag(u);
    json_t *ops = json_pack("[{s:s,s:s,s:b}]", "op", "replace", "path", "active", "value", 0);
    json_t *changes = json_pack("[{s:s,s:b,s:b}]", "attribute", "active", "old", 1, "new", 0);
    rc = gcs_plan_add(p->plan, GCS_PLAN_DEACTIVATE, key, user_name, id, etag, ops, changes,
                      extra);
    free(etag);
    if (rc < 0)
        return rc;
    p->stats->leavers_deactivated++;
    return 0;
}

static int plan_leavers(planner *p, long *managed_total)
{
    /* Absence is evidence only when the whole source was read and every row
     * understood: a rejected row or a cut-short file could be the absent ones. */
    bool withhold = (p->stats->rejected > 0 || !p->source_clean) &&
                    !gcs_plan_options_approval(&p->o->plan, "deactivate-despite-rejects");
    char withheld_why[300];
    snprintf(withheld_why, sizeof withheld_why,
             "leaver not deactivated: %ld source rows were rejected (approve with --approve "
             "deactivate-despite-rejects)",
             p->stats->rejected);
    int rc = 0;
    for (size_t i = 0; i < p->user_count && rc == 0; i++) {
        /* Most users are matched by a row, or not managed: decided without
         * parsing them again. */
        const current_user *cu = &USER_AT(p, i);
        const char *marker = marker_at(p, i), *id = id_at(p, i + 1);
        if (!marker)
            continue;
        if (!id || claimant_at(p, i + 1) || !cu->active || row_by_key(p, marker)) {
            (*managed_total)++;
            continue;
        }
        json_t *u = user_at(p, i + 1);
        if (!u)
            return kept_failure(p);
        rc = plan_leaver(p, i + 1, u, managed_total, withhold, withheld_why);
        json_decref(u);
    }
    return rc;
}


/* Two rows with one key, or one userName (Genesys keeps those unique), cannot
 * both be right: both are rejected, and both users are protected. */
static int compare_name_hashes(const void *a, const void *b)
{
    const struct name_hash *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

static int compare_pairs(const void *a, const void *b)
{
    const struct row_pair *x = a, *y = b;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* The lowercased userName of row i, in out (room for GCS_NAME_ROOM bytes). */
enum { NAME_ROOM = 1024 };
static int lowered_name_of(planner *p, size_t i, char *out)
{
    desired d;
    int rc = load_row(p, i, &d);
    out[0] = '\0';
    for (size_t k = 0; rc == 0 && d.user_name && d.user_name[k] && k + 1 < NAME_ROOM; k++) {
        out[k] = (char)tolower((unsigned char)d.user_name[k]);
        out[k + 1] = '\0';
    }
    if (rc == 0 && d.user_name && strlen(d.user_name) >= NAME_ROOM)
        snprintf(out, NAME_ROOM, "%s", d.user_name); /* too long to share a hash by chance */
    unload_row(&d);
    return rc;
}

/* Each later row whose userName (case aside) an earlier row has, with the
 * first such row: rows whose names share a hash are read back and compared. */
static int name_duplicates(planner *p, struct row_pair **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    struct name_hash *h = p->name_hashes;
    size_t n = p->name_hash_count, cap = 0;
    if (n > 1)
        qsort(h, n, sizeof *h, compare_name_hashes);
    char *names = NULL;
    int rc = 0;
    for (size_t g = 0; g < n && rc == 0;) {
        size_t end = g + 1;
        while (end < n && h[end].hash == h[g].hash)
            end++;
        if (end - g > 1) {
            /* rows in order: the first with each name is the one the others meet */
            char *more = realloc(names, (end - g) * NAME_ROOM);
            if (!more) {
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
                break;
            }
            names = more;
            for (size_t k = g; k < end && rc == 0; k++)
                rc = lowered_name_of(p, h[k].row, names + (k - g) * NAME_ROOM);
            for (size_t k = g + 1; k < end && rc == 0; k++) {
                size_t f = g;
                while (f < k && strcmp(names + (f - g) * NAME_ROOM, names + (k - g) * NAME_ROOM))
                    f++;
                if (f == k)
                    continue;
                if (*count == cap) {
                    cap = cap ? 2 * cap : 16;
                    struct row_pair *grown = realloc(*out, cap * sizeof *grown);
                    if (!grown) {
                        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
                        break;
                    }
                    *out = grown;
                }
                (*out)[(*count)++] = (struct row_pair){h[k].row, h[f].row};
            }
        }
        g = end;
    }
    free(names);
    if (rc == 0 && *count > 1)
        qsort(*out, *count, sizeof **out, compare_pairs);
    return rc;
}

/* Rejects row `row` and the earlier row `first`, which share a key or a userName. */
static void reject_pair(planner *p, struct row_pair pair, bool by_name)
{
    desired d;
    int rc = load_row(p, pair.row, &d);
    if (rc < 0) {
        keep_failure(p, rc);
        unload_row(&d);
        return;
    }
    char value[NAME_ROOM];
    if (by_name)
        lowered_name_of(p, pair.row, value);
    else
        snprintf(value, sizeof value, "%s", d.m.source_key);
    const char *what = by_name ? "userName" : "key", *field = by_name ? "userName" : NULL;
    char why[600];
    snprintf(why, sizeof why, "%s '%s' is also on line %lu", what, value, d.m.line);
    reject_row(p, pair.first, field, why);
    snprintf(why, sizeof why, "%s '%s' is also on line %lu", what, value,
             p->rows[pair.first].line);
    reject_mapped(p, &d, field, why);
    unload_row(&d);
}

static void reject_duplicates(planner *p)
{
    struct row_pair *names = NULL;
    size_t name_count = 0;
    int rc = name_duplicates(p, &names, &name_count);
    if (rc < 0)
        keep_failure(p, rc); /* a row not read back, or out of memory */
    /* In the rows' order, each row's key before its userName. */
    size_t k = 0, n = 0;
    while (k < p->key_dup_count || n < name_count) {
        bool key_first = n == name_count ||
                         (k < p->key_dup_count && p->key_dups[k].row <= names[n].row);
        if (key_first)
            reject_pair(p, p->key_dups[k++], false);
        else
            reject_pair(p, names[n++], true);
    }
    free(names);
    free(p->key_dups);
    p->key_dups = NULL;
    p->key_dup_count = p->key_dup_cap = 0;
    free(p->name_hashes);
    p->name_hashes = NULL;
    p->name_hash_count = p->name_hash_cap = 0;
}

/* ==== 6: groups, once the users are planned ==== */

/* Every person the plan knows, by key: the Genesys id of a matched user, or
 * none for a user this plan creates (apply resolves it by key). */
static int plan_groups(planner *p)
{
    json_t *people = json_object();
    GCS_CHECK_ALLOC(people);
    for (size_t i = 0; i < p->count; i++) {
        const row_ref *r = &p->rows[i];
        if (r->status != GCS_MAP_OK || !r->matched)
            continue;
        desired d;
        json_t *current = NULL;
        int rc = load_row(p, i, &d);
        if (rc == 0 && !(current = user_at(p, r->matched)))
            rc = kept_failure(p);
        if (rc == 0)
            json_object_set_new(people, d.m.source_key,
                                json_pack("{s:O?,s:O?}", "id", json_object_get(current, "id"),
                                          "userName", json_object_get(current, "userName")));
        json_decref(current);
        unload_row(&d);
        if (rc < 0) {
            json_decref(people);
            return rc;
        }
    }
    static const char *const wanted[] = {"key", "userName"};
    for (size_t i = 0; i < gcs_plan_size(p->plan); i++) {
        if (gcs_plan_kind_at(p->plan, i) != GCS_PLAN_CREATE)
            continue;
        json_t *op = gcs_plan_op_part_at(p->plan, i, wanted, 2);
        if (!op) {
            json_decref(people);
            return gcs_error_last_code() ? gcs_error_last_code() : GCS_EIO;
        }
        const char *key = json_string_value(json_object_get(op, "key"));
        if (key)
            json_object_set_new(people, key, json_pack("{s:n,s:O?}", "id", "userName",
                                                       json_object_get(op, "userName")));
        json_decref(op);
    }
    /* People a targeted group names whose rows are not planned: their users, by key. */
    const char *key;
    json_t *pairs;
    char marker_key[300];
    snprintf(marker_key, sizeof marker_key, "externalIds.%s", p->marker ? p->marker : "");
    json_object_foreach(p->context, key, pairs)
    {
        if (json_object_get(people, key))
            continue;
        size_t u = p->marker ? index_get(p, marker_key, key) : 0;
        size_t k;
        json_t *pair;
        json_array_foreach(pairs, k, pair)
        {
            if (!u)
                u = index_get(p, json_string_value(json_array_get(pair, 0)),
                              json_string_value(json_array_get(pair, 1)));
        }
        json_t *current = u ? user_at(p, u) : NULL;
        if (u && !current) {
            json_decref(people);
            return kept_failure(p);
        }
        if (current)
            json_object_set_new(people, key,
                                json_pack("{s:O?,s:O?}", "id", json_object_get(current, "id"),
                                          "userName", json_object_get(current, "userName")));
        json_decref(current);
    }
    int rc = gcs_group_planner_plan(p->groups, p->plan, p->client, people, p->rejected_values,
                                    &p->stats->requests);
    json_decref(people);
    return rc;
}

struct id_hash {
    uint64_t hash;
    size_t place;
};

static int by_id_hash(const void *a, const void *b)
{
    const struct id_hash *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* Users read twice (a listing that met a change between its pages, two rows'
 * targeted reads finding one user) share an id: those alone are claimed
 * through the id (claimant_at); equal hashes of different ids only take the
 * same, slower, road. */
static int mark_shared_ids(planner *p)
{
    if (p->user_count < 2)
        return 0;
    struct id_hash *h = malloc(p->user_count * sizeof *h);
    if (!h)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < p->user_count; i++) {
        if (USER_AT(p, i).has_id)
            h[n++] = (struct id_hash){gcs_siphash13(USER_AT(p, i).blob, strlen(USER_AT(p, i).blob),
                                                    p->digester.k[0], p->digester.k[1]),
                                      i};
    }
    qsort(h, n, sizeof *h, by_id_hash);
    for (size_t i = 1; i < n; i++) {
        if (h[i].hash == h[i - 1].hash)
            USER_AT(p, h[i].place).shared_id = USER_AT(p, h[i - 1].place).shared_id = true;
    }
    free(h);
    return 0;
}

static int decide(planner *p)
{
    reject_duplicates(p);
    if (mark_shared_ids(p) < 0)
        return gcs_error_last_code();
    /* Match every row first, so that managers resolve whatever the row order. */
    int rc = 0;
    for (size_t i = 0; i < p->count && rc == 0; i++) {
        if (p->rows[i].status != GCS_MAP_OK)
            continue;
        desired d;
        if ((rc = load_row(p, i, &d)) < 0) {
            unload_row(&d);
            break;
        }
        size_t u = match_user(p, &d);
        const char *id = id_at(p, u);
        row_ref *o = claimant_at(p, u);
        if (o) {
            char why[300];
            snprintf(why, sizeof why, "matches the same Genesys user (%s) as line %lu", id,
                     d.m.line);
            reject_row(p, (size_t)(o - p->rows), NULL, why);
            o->matched = 0;
            snprintf(why, sizeof why, "matches the same Genesys user (%s) as line %lu", id,
                     o->line);
            reject_mapped(p, &d, NULL, why);
        } else {
            claim_at(p, u, i);
            d.ref->matched = (uint32_t)u;
        }
        unload_row(&d);
    }
    long managed_total = 0;
    for (size_t i = 0; i < p->count && rc == 0; i++) {
        if (p->rows[i].status != GCS_MAP_OK)
            continue;
        desired d;
        if ((rc = load_row(p, i, &d)) == 0)
            rc = plan_row(p, &d);
        unload_row(&d);
    }
    if (rc == 0)
        rc = plan_leavers(p, &managed_total);
    gcs_plan_set_counts(p->plan, p->stats->unchanged, managed_total);
    gcs_plan_set_source_facts(p->plan, p->stats->rejected, p->source_clean);
    gcs_plan_set_targeted(p->plan, p->o->targets != NULL);
    const gcs_planner_stats *st = p->stats;
    gcs_plan_set_rows(p->plan,
                      json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "read",
                                (json_int_t)st->rows, "created", (json_int_t)st->created,
                                "adopted", (json_int_t)st->adopted, "updated",
                                (json_int_t)st->updated, "reactivated",
                                (json_int_t)st->reactivated, "deactivated",
                                (json_int_t)st->deactivated, "unchanged",
                                (json_int_t)st->unchanged, "skipped", (json_int_t)st->skipped,
                                "rejected", (json_int_t)st->rejected, "out_of_scope",
                                (json_int_t)st->out_of_scope, "untargeted",
                                (json_int_t)st->untargeted, "leavers_deactivated",
                                (json_int_t)st->leavers_deactivated, "leavers_skipped",
                                (json_int_t)st->leavers_skipped));
    return rc;
}

int gcs_planner_run(gcs_plan *out, gcs_planner_stats *stats, gcs_http_client *client,
                    const gcs_planner_options *o)
{
    planner p;
    memset(&p, 0, sizeof p);
    memset(stats, 0, sizeof *stats);
    memset(out, 0, sizeof *out);
    p.o = o;
    p.stats = stats;
    p.client = client;
    p.plan = out;
    gcs_strmap_init(&p.by_key);
    gcs_strmap_init(&p.index);
    gcs_strmap_init(&p.claimed);
    gcs_buf_init(&p.scratch, 0);
    gcs_buf_init(&p.record, 0);
    gcs_buf_init(&p.body, 0);
    gcs_buf_init(&p.changes, 0);
    gcs_buf_init(&p.privileged, 0);
    gcs_buf_init(&p.row_text, 0);
    gcs_buf_init(&p.manager, 0);
    gcs_buf_init(&p.with_manager, 0);
    gcs_buf_init(&p.expanded, 0);
    gcs_buf_init(&p.user_text, 0);
    p.schemas =
        json_pack("[sss]", GCS_SCIM_CORE_USER, GCS_SCIM_ENTERPRISE_USER, GCS_SCIM_GENESYS_USER);
    p.rejected_values = json_object();
    p.context = json_object();
    int rc = 0;
    char *schemas_text = p.schemas ? json_dumps(p.schemas, JSON_COMPACT) : NULL;
    if (schemas_text && asprintf(&p.schemas_head, "{\"schemas\":%s", schemas_text) < 0)
        p.schemas_head = NULL;
    free(schemas_text);
    if (!p.rejected_values || !p.context || !p.schemas || !p.schemas_head) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }

    if ((rc = gcs_profile_load(&p.profile, o->profile_path)) < 0)
        goto out;
    p.marker = gcs_profile_managed_authority(p.profile);
    gcs_digester_init(&p.digester, p.profile, p.marker);
    for (size_t i = 0; i < gcs_profile_attr_count(p.profile); i++) {
        const gcs_profile_attr *a = gcs_profile_attr_at(p.profile, i);
        p.manages_manager |= a->target == GCS_TARGET_MANAGER && a->mode != GCS_ATTR_CREATE_ONLY;
    }
    if (o->source_path && !o->source_data &&
        (rc = gcs_source_check_profile(p.profile, o->source_path, o->source_format, NULL)) < 0)
        goto out;
    if ((rc = gcs_plan_begin(out, o->api_url, o->source_path, o->profile_path, &o->plan)) < 0)
        goto out;
    if (p.marker)
        json_object_set_new(out->doc, "marker", json_string(p.marker));
    /* --target: a person plans that person's memberships, group:KEY that group
     * (docs/plan.md, "Groups", "Targets"). */
    if ((!o->targets || o->target_groups) &&
        (rc = gcs_group_planner_new(&p.groups, p.profile, o->store)) < 0)
        goto out;
    if (p.groups && o->targets &&
        (rc = gcs_group_planner_target(p.groups, o->targets, o->target_count)) < 0)
        goto out;
    for (size_t i = 0; o->target_groups && o->targets && i < o->target_count; i++) {
        if (strncmp(o->targets[i], GCS_GROUP_TARGET_PREFIX, strlen(GCS_GROUP_TARGET_PREFIX)) != 0)
            continue;
        if (!p.groups) {
            rc = gcs_error_set(GCS_EINVALID, "--target %s: profile '%s' has no groups section",
                               o->targets[i], o->profile_path);
            goto out;
        }
        p.group_targets = true;
    }
    const gcs_password_policy *pw = gcs_profile_password_policy(p.profile);
    if (pw->enabled)
        json_object_set_new(out->doc, "password_policy",
                            json_pack("{s:i,s:i,s:i,s:i,s:i}", "length", pw->length, "min_lower",
                                      pw->min_lower, "min_upper", pw->min_upper, "min_digit",
                                      pw->min_digit, "min_symbol", pw->min_symbol));
    if ((rc = fetch_org_names(&p)) < 0)
        goto out;
    if ((rc = gcs_row_spill_new(&p.spill)) < 0)
        goto out;
    if ((rc = read_source(&p)) < 0)
        goto out;
    if (p.groups && (rc = gcs_group_planner_read(p.groups, client, &stats->requests)) < 0)
        goto out;
    if ((rc = read_current(&p)) < 0)
        goto out;
    if ((rc = decide(&p)) < 0)
        goto out;
    if (p.groups && (rc = plan_groups(&p)) < 0)
        goto out;
    rc = gcs_plan_finish(out);
out:
    if (rc == 0 && (p.failed_rc || p.oom))
        rc = kept_failure(&p);
    if (rc < 0)
        gcs_plan_release(out);
    gcs_row_spill_free(p.spill);
    gcs_buf_release(&p.record);
    gcs_buf_release(&p.body);
    gcs_buf_release(&p.changes);
    gcs_buf_release(&p.privileged);
    gcs_buf_release(&p.row_text);
    gcs_buf_release(&p.manager);
    gcs_buf_release(&p.with_manager);
    free(p.schemas_head);
    free(p.key_dups);
    free(p.name_hashes);
    free(p.file_name);
    json_decref(p.schemas);
    for (size_t i = 0; i < p.user_count; i++) {
        free(USER_AT(&p, i).blob);
    }
    for (size_t i = 0; i < p.block_count; i++)
        free(p.user_blocks[i]);
    free(p.user_blocks);
    free(p.rows);
    gcs_strmap_release(&p.by_key);
    json_decref(p.rejected_values);
    gcs_strmap_release(&p.index);
    gcs_strmap_release(&p.claimed);
    json_decref(p.prefetched);
    gcs_buf_release(&p.scratch);
    gcs_buf_release(&p.expanded);
    gcs_buf_release(&p.user_text);
    json_decref(p.role_holders);
    gcs_digester_release(&p.digester);
    json_decref(p.context);
    gcs_org_names_free(p.org_owned);
    gcs_group_planner_free(p.groups);
    gcs_profile_free(p.profile);
    return rc;
}

int gcs_planner_run_recorded(gcs_plan *out, gcs_planner_stats *stats, gcs_http_client *client,
                             struct gcs_store *store, const gcs_planner_options *options)
{
    gcs_recorder recorder;
    gcs_recorder_attach(&recorder, store, client, NULL);
    gcs_planner_options with_store = *options;
    if (!with_store.store)
        with_store.store = store; /* where group ownership is read */
    int rc = gcs_planner_run(out, stats, client, &with_store);
    int rec_rc = gcs_recorder_detach(&recorder);
    if (rc == 0 && rec_rc < 0) {
        gcs_plan_release(out);
        rc = rec_rc;
    }
    return rc;
}
