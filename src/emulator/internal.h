/*
 * internal.h - what the emulator's files share. Not a public interface.
 *
 * Locking: every function here that touches `emu->org`, tokens, windows, the
 * PRNGs or the stats expects the caller to hold `emu->lock`, except where it
 * says otherwise. The dispatcher (emulator.c) takes the lock once per request,
 * after the simulated latency.
 *
 * Users and groups are JSON documents (their SCIM representation, meta
 * included) with hash indexes by id and by lowercased name, so that the hot
 * paths (token check, window, lookup by id or userName) are O(1).
 */
#ifndef GCS_EMULATOR_INTERNAL_H
#define GCS_EMULATOR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "emulator/emulator.h"
#include "core/buf.h"
#include "core/scim.h"
#include "http/server.h"

/* The emulator's short names for the URNs of core/scim.h. */
#define SCIM_USER_SCHEMA GCS_SCIM_CORE_USER
#define SCIM_GROUP_SCHEMA GCS_SCIM_GROUP
#define SCIM_ENTERPRISE GCS_SCIM_ENTERPRISE_USER
#define SCIM_GENESYS GCS_SCIM_GENESYS_USER
#define SCIM_LIST_SCHEMA GCS_SCIM_LIST_RESPONSE
#define SCIM_PATCH_SCHEMA GCS_SCIM_PATCHOP
#define SCIM_ERROR_SCHEMA GCS_SCIM_ERROR

#define EMU_MAX_SKILLS 50
#define EMU_PC_AUTHORITY "x-pc:scimv2:v1"  /* the immutable externalIds entry */
#define EMU_MAX_PAGE 500
/* Hard ceilings, so that no client can grow the emulator without bound. */
#define EMU_MAX_USERS 1000000
#define EMU_MAX_GROUPS 100000
#define EMU_STATE_MAX ((size_t)8 << 30)   /* /_emulator/state's answer */
#define EMU_MAX_GRANTS 1000       /* per subject */
#define EMU_MAX_MEMBER_IDS 50     /* per Platform members call */

/* ==== A string-keyed hash map (chained, power-of-two buckets) ==== */

typedef struct emu_map_entry {
    struct emu_map_entry *next;
    uint64_t hash;
    void *value;
    char key[];
} emu_map_entry;

typedef struct emu_map {
    emu_map_entry **buckets;
    size_t nbuckets;
    size_t count;
} emu_map;

void gcs_emu_map_init(emu_map *m);
void gcs_emu_map_release(emu_map *m);
void *gcs_emu_map_get(const emu_map *m, const char *key);
/* Inserts or replaces. */
int gcs_emu_map_put(emu_map *m, const char *key, void *value);
void gcs_emu_map_remove(emu_map *m, const char *key);
/* Lowercases ASCII into out (truncating at outsz). */
void gcs_emu_lower(char *out, size_t outsz, const char *in);

/* ==== The organisation ==== */

typedef struct emu_user {
    char id[40];
    json_t *doc;        /* the SCIM resource, meta and groups included */
    long version;
    char *cached;       /* doc serialised, or NULL when stale */
    json_t *authz;      /* role grants as a subject: {version, grants:[{roleId,divisionId}]}, or NULL */
    size_t slot;        /* in emu_org.order */
    uint64_t born;      /* gcs_emu.user_births when it was made (dump.c) */
    bool listed_active; /* the state order.c counts it under */
} emu_user;

typedef struct emu_group {
    char id[40];
    json_t *doc;        /* the SCIM group resource */
    json_t *platform;   /* name, type, visibility, rulesVisible, rolesEnabled, description */
    long version;
    json_t *authz;      /* as on a user */
} emu_group;

/* The users that hold an external key. */
typedef struct emu_ext {
    struct emu_user **users;
    size_t count, cap;
} emu_ext;

/* Users in creation order with O(log n) ranks by state (order.c). */
typedef struct emu_order {
    emu_user **slots;   /* creation order; NULL where a user was deleted */
    size_t nslots, cap, holes;
    int32_t *fw[2];     /* Fenwick trees over slots: [0] inactive, [1] active */
    size_t count[2];    /* users per state */
} emu_order;

int gcs_emu_order_append(emu_order *o, emu_user *u, bool active);
void gcs_emu_order_remove(emu_order *o, emu_user *u);
void gcs_emu_order_set_active(emu_order *o, emu_user *u, bool active);
/* The k-th (from 0) user of that state in creation order, or NULL. */
emu_user *gcs_emu_order_nth(const emu_order *o, bool active, size_t k);
void gcs_emu_order_release(emu_order *o);

typedef struct emu_list {
    json_t *items;      /* array of {id, name, ...} */
    emu_map by_name;    /* exact name -> json_t* element (borrowed) */
    emu_map by_id;
} emu_list;

typedef struct emu_org {
    emu_list roles, divisions, skills, languages;
    emu_order order;    /* creation order, ranked by state */
    size_t nusers;      /* live users */
    emu_map user_by_id, user_by_name;   /* name key lowercased */
    emu_map user_by_ext;                /* externalId and externalIds pairs -> emu_ext */
    emu_group **groups;
    size_t ngroups, capgroups;
    emu_map group_by_id, group_by_name; /* name key lowercased */
} emu_org;

typedef struct emu_token {
    int64_t expires_ms;  /* monotonic */
    char scopes[256];    /* ",scim,groups," or "" for every scope */
    int64_t window_start_ms;
    int window_count;
    char client[64];
    int client_index;    /* in gcs_emu.clients */
} emu_token;

typedef struct emu_stats {
    json_t *routes;      /* route -> {status -> count} */
    long rate_limited;
    long tokens_issued;
    long faults[5];      /* 500, 502, 503, 504, drop */
    long hidden_writes;
    long requests;
    long users_examined; /* users a list page looked at (O(page) when indexed) */
} emu_stats;

struct gcs_emu {
    pthread_mutex_t lock;
    gcs_emu_config config;
    struct {
        char *id;
        char *secret;
        char *scopes;    /* NULL = every scope */
    } clients[GCS_EMU_MAX_CLIENTS];
    int nclients;
    struct {
        int64_t window_start_ms;
        int window_count;
    } client_windows[GCS_EMU_MAX_CLIENTS]; /* with config.rate_per_client */
    uint64_t seed;
    json_t *seed_doc;    /* the initial organisation, for reset */
    json_t *user_schemas; /* every user's `schemas`, one array shared (never changed in place) */
    size_t synthetic_users;
    unsigned synthetic_inactive_every;
    char *synthetic_marker; /* the managed authority of synthetic users, or NULL */
    bool generated_fields;
    char base_url[128];
    emu_org org;
    emu_map tokens;      /* access token -> emu_token* */
    uint64_t rng_ids, rng_faults, rng_writer, rng_latency;
    emu_stats stats;
    uint64_t user_births;   /* users made since the start */
    struct emu_dump *dumps; /* /_emulator/state answers being sent (dump.c) */
    atomic_long in_flight;
    atomic_long max_in_flight;
    atomic_ulong correlation;
};

/* One request being answered. */
typedef struct emu_req {
    gcs_emu *emu;
    const gcs_http_request *http;
    gcs_http_response *resp;
    const char *route;   /* stats key, e.g. "GET /scim/users/{id}" */
    const emu_token *token; /* the caller's, on API routes */
    bool scim;           /* errors in the SCIM schema */
    bool window;         /* add the inin-ratelimit headers below */
    long rl_count, rl_allowed, rl_reset;
    /* The body parsed before the lock was taken (json_loadb is the costly
     * part of a write); parse_body hands it over. */
    bool preparsed;
    json_t *pre;
    char pre_err[160];
    char correlation[40];
} emu_req;

/* ==== Random numbers (splitmix64: reproducible from --fault-seed) ==== */

uint64_t gcs_emu_rand(uint64_t *state);
/* Text for the paths every request takes, without snprintf (which parsed its
 * format on each call: a tenth of a request). The hex is the low `digits`
 * nibbles, zero-padded; the decimal is zero-padded to min_digits; both
 * return the end (no NUL). gcs_emu_cat appends s at out[*len] as snprintf
 * would: truncated to fit, always terminated. */
char *gcs_emu_put_hex(char *p, uint64_t v, int digits);
char *gcs_emu_put_dec(char *p, long v, int min_digits);
void gcs_emu_cat(char *out, size_t outsz, size_t *len, const char *s);
double gcs_emu_rand_unit(uint64_t *state);
void gcs_emu_uuid(char out[40], uint64_t *state);

/* ==== JSON without jansson's loop checks (json_fast.c) ==== */

int gcs_emu_json_dump(gcs_buf *b, const json_t *j);
/* A string as gcs_emu_json_dump writes one: quoted and escaped. */
int gcs_emu_json_dump_string(gcs_buf *b, const char *s);
/* Compact text (caller frees), or NULL. */
char *gcs_emu_json_text(const json_t *j);
/* Deep copy of containers; scalars shared. New reference. */
json_t *gcs_emu_json_copy(const json_t *j);
/* A JSON object read from text the way json_loadb reads it, for the common
 * case (ASCII, no \u escapes, no reals, integers under 19 digits); NULL for
 * anything else (then ask json_loadb, for the value or the error). */
json_t *gcs_emu_json_parse_fast(const char *text, size_t len);

/* ==== Answers (emulator.c) ==== */

/* Steals `body`. */
void gcs_emu_send_json(emu_req *r, int status, json_t *body);
void gcs_emu_send_raw(emu_req *r, int status, const char *json_text);
void gcs_emu_scim_error(emu_req *r, int status, const char *scim_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void gcs_emu_genesys_error(emu_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Parses the body as a JSON object; answers 415/400 itself and returns NULL on failure. */
json_t *gcs_emu_parse_body(emu_req *r, bool form_ok);
void gcs_emu_now_iso(char out[32]);

/* ==== OAuth and the rate limiter (oauth.c, ratelimit.c) ==== */

void gcs_emu_oauth_token(emu_req *r);
/* Checks the bearer token; answers 401 and returns NULL when it is not valid. */
emu_token *gcs_emu_oauth_check(emu_req *r);
void gcs_emu_tokens_clear(gcs_emu *emu);
/* True when the caller's token has one of the scopes (a NULL-ended list);
 * otherwise answers 403 naming them. */
bool gcs_emu_scope_check(emu_req *r, const char *const *any_of);
/* Counts the request in the token's window and adds the inin-ratelimit headers;
 * answers 429 and returns false once the window is full. */
bool gcs_emu_ratelimit_admit(emu_req *r, emu_token *tok);
json_t *gcs_emu_ratelimit_windows(gcs_emu *emu);

/* ==== Faults (faults.c) ==== */

typedef enum emu_fault {
    EMU_FAULT_NONE = 0,
    EMU_FAULT_500,
    EMU_FAULT_502,
    EMU_FAULT_503,
    EMU_FAULT_504,
    EMU_FAULT_DROP,
} emu_fault;

typedef struct emu_fault_plan {
    emu_fault fault;
    bool after;          /* the request is carried out, then the fault answers */
} emu_fault_plan;

emu_fault_plan gcs_emu_fault_draw(gcs_emu *emu);
/* Replaces the answer with the fault. */
void gcs_emu_fault_apply(emu_req *r, emu_fault fault);
int gcs_emu_latency_draw(gcs_emu *emu);

/* ==== State (state.c) ==== */

int gcs_emu_org_load(gcs_emu *emu, const json_t *seed);
void gcs_emu_org_release(emu_org *org);
/* Appends the whole organisation as JSON text (what /_emulator/state answers). */
int gcs_emu_org_write(gcs_emu *emu, gcs_buf *b);
/* The same up to the users: `{"roles":…,"groups":[…],"users":[`. */
int gcs_emu_org_write_head(gcs_emu *emu, gcs_buf *b);
emu_user *gcs_emu_user_find(gcs_emu *emu, const char *id);
emu_user *gcs_emu_user_find_name(gcs_emu *emu, const char *user_name);
/* Looks an external key up: `externalId` (authority NULL) or a genesys
 * externalIds pair. The users that hold it (borrowed, in no set order);
 * *n is 0 when none does. */
emu_user *const *gcs_emu_user_find_ext(gcs_emu *emu, const char *authority, const char *value, size_t *n);
emu_group *gcs_emu_group_find(gcs_emu *emu, const char *id);
emu_group *gcs_emu_group_find_name(gcs_emu *emu, const char *name);
/* Adds a user whose doc has been validated (doc stolen); sets id and meta. */
emu_user *gcs_emu_user_add(gcs_emu *emu, json_t *doc);
/* Replaces a user's doc (stolen) after a change: bumps the version and meta. */
void gcs_emu_user_replace(gcs_emu *emu, emu_user *u, json_t *doc);
void gcs_emu_user_delete(gcs_emu *emu, emu_user *u);
/* Creates a group from a Platform API body (borrowed, already checked). */
emu_group *gcs_emu_group_add(gcs_emu *emu, const json_t *platform);
void gcs_emu_group_replace(gcs_emu *emu, emu_group *g, json_t *doc);
/* Adds or removes g in the user's read-only `groups`. */
void gcs_emu_user_groups_set(gcs_emu *emu, emu_user *u, const emu_group *g, bool member);
/* Rebuilds every user's read-only `groups` from the groups' members. */
void gcs_emu_groups_refresh_users(gcs_emu *emu);
/* The user's doc serialised (cached). Borrowed. */
const char *gcs_emu_user_text(emu_user *u);
void gcs_emu_user_location(gcs_emu *emu, char *out, size_t outsz, const char *kind,
                           const char *id);

/* ==== /_emulator/state, streamed (dump.c) ==== */

typedef struct emu_dump emu_dump;
/* Answers r with the state as a stream of a snapshot taken now. The dump
 * belongs to the response; every dump must be released (the server stopped)
 * before gcs_emu_free. */
int gcs_emu_dump_start(emu_req *r);
/* Keeps u's text as it is for the dumps under way: called before any change
 * to a user's doc, and before it is deleted. */
void gcs_emu_dump_before_change(gcs_emu *emu, emu_user *u);
/* Fails the dumps under way: the users they point at are about to go. */
void gcs_emu_dumps_break(gcs_emu *emu);

/* ==== SCIM (scim_*.c) ==== */

/* Filters: parsed once, evaluated against a JSON object. */
typedef struct scim_filter scim_filter;
/* Returns NULL with a message in `err` (size errsz) on a syntax error. */
scim_filter *gcs_scim_filter_parse(const char *text, char *err, size_t errsz);
void gcs_scim_filter_free(scim_filter *f);
bool gcs_scim_filter_match(const scim_filter *f, const json_t *resource);
/* If the filter is `ATTR eq "V"` for an attribute named `attr` (case-insensitive),
 * its value; else NULL. Borrowed from the filter. */
const char *gcs_scim_filter_eq_value(const scim_filter *f, const char *attr);
/* If the filter is `active eq true|false` (the value bare or quoted), true with it. */
bool gcs_scim_filter_active_eq(const scim_filter *f, bool *active);
/* If the filter is `[urn:…:User:]externalIds[authority eq "A" and value eq "V"]`,
 * true with A and V (borrowed from the filter). */
bool gcs_scim_filter_extid_pair(const scim_filter *f, const char **authority, const char **value);
/* Sets obj[attr] = value for every `attr eq value` joined by `and` in the
 * filter (what a PATCH that finds no element creates). */
void gcs_scim_filter_eq_terms(const scim_filter *f, json_t *obj);
/* Resolves an attribute path (`userName`, `emails.value`, `urn:…:User:division`,
 * the aliases `email`, `manager`, `division`, `employeeNumber`) in a resource:
 * the values it reaches are appended to `out` (borrowed). */
void gcs_scim_attr_values(const json_t *resource, const char *path, json_t *out);

typedef struct scim_patch_error {
    int status;
    const char *scim_type;
    char detail[256];
} scim_patch_error;

/* Applies a PatchOp body to `doc` (modified in place; the caller passes a copy).
 * `kind` is "User" or "Group". Returns 0 or -1 with `err` filled. */
int gcs_scim_patch_apply(json_t *doc, const json_t *body, const char *kind, scim_patch_error *err);
/* Splits "urn:…:User:attr.sub" / "attr[filter].sub" for the patch engine and
 * the fuzzer; 0 or -1 with err. Fills the parts (strings owned by `out`). */
typedef struct scim_path {
    char urn[128];       /* "" for the core schema */
    char attr[128];
    char *filter;        /* NULL when none; owned */
    char sub[128];       /* "" when none */
} scim_path;
int gcs_scim_path_parse(scim_path *out, const char *path, char *err, size_t errsz);
void gcs_scim_path_release(scim_path *p);

/* Checks a user doc against the organisation (roles, division, skills, …) and
 * normalises it (drops password, unknown attributes). `self` is the user being
 * changed, or NULL on create. Answers the error and returns false on failure. */
bool gcs_emu_user_validate(emu_req *r, json_t *doc, const emu_user *self);
/* Projects `attributes` / `excludedAttributes`; new reference. */
json_t *gcs_emu_project(const json_t *doc, const char *attributes, const char *excluded);
/* The same lists read once, for a page of documents. NULL when out of memory. */
typedef struct emu_projection emu_projection;
emu_projection *gcs_emu_projection_new(const char *attributes, const char *excluded);
void gcs_emu_projection_free(emu_projection *p);
/* True when neither list names anything (documents are answered whole). */
bool gcs_emu_projection_is_whole(const emu_projection *p);
json_t *gcs_emu_projection_apply(const emu_projection *p, const json_t *doc);
/* Appends what gcs_emu_json_dump of gcs_emu_projection_apply(p, doc) would,
 * without building the projected tree (for list pages). */
int gcs_emu_projection_dump(gcs_buf *b, const emu_projection *p, const json_t *doc);
/* Checks If-Match against a version; answers the configured conflict and
 * returns false when stale. */
bool gcs_emu_if_match(emu_req *r, long version);

/* ==== Platform API (platform.c, groups.c, subjects.c) ==== */

/* Genesys paging: pageSize (default 25, at most 500) and pageNumber (from 1). */
typedef struct emu_page {
    long size, number;
} emu_page;
void gcs_emu_page_args(emu_req *r, emu_page *out);
/* The `name` argument of a list: case-insensitive, exact, or a prefix ending in '*'. */
bool gcs_emu_name_matches(const char *have, const char *want);
/* Answers {entities (stolen), pageSize, pageNumber, total, pageCount, …Uri}. */
void gcs_emu_page_send(emu_req *r, const char *base, const emu_page *p, long total, json_t *entities);
void gcs_emu_groups(emu_req *r, const char *tail);
void gcs_emu_subjects(emu_req *r, const char *tail);
/* Renames a group (name already checked free): platform, SCIM and members' `groups`. */
void gcs_emu_group_rename(gcs_emu *emu, emu_group *g, const char *name);
void gcs_emu_group_delete(gcs_emu *emu, emu_group *g);
/* Adds a role grant to a subject's authz (created when NULL): false when it
 * was there already. */
bool gcs_emu_grant_add(json_t **authz, const char *role_id, const char *division_id);

void gcs_emu_scim_users(emu_req *r, const char *rest);
void gcs_emu_scim_groups(emu_req *r, const char *rest);
void gcs_emu_scim_meta(emu_req *r, const char *rest);
void gcs_emu_platform(emu_req *r, const char *rest);
void gcs_emu_admin(emu_req *r, const char *rest);
void gcs_emu_stats_reset(gcs_emu *emu);

#endif
