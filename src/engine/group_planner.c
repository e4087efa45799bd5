/*
 * group_planner.c - groups planned after the users (group_planner.h).
 */
#include "engine/group_planner.h"
#include "core/error.h"
#include "http/url.h"
#include "mapping/groups_file.h"
#include "plan/group_plan.h"
#include "plan/group_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GROUPS_PAGE 500

struct gcs_group_planner {
    const gcs_profile_groups *cfg;
    gcs_store *store;
    gcs_group_defs defs;
    json_t *row_problems;  /* [{location, field, reason}] from the people export's column */
    json_t *by_name;       /* Genesys group name -> entity */
    json_t *by_lower_name; /* lowercased name -> entity (a hint, and a match) */
    json_t *members;       /* group id -> {user id -> {userName, key}} */
    json_t *roles;         /* role name -> id */
    json_t *divisions;     /* division name -> id */
    bool wants_grants;
    bool targeted;         /* --target: only what the targets name is planned */
    json_t *group_targets;  /* group key -> true */
    json_t *person_targets; /* person key -> true */
    json_t *unknown;        /* person key -> true: their row has no groups column, so
                             * their memberships are not known and not planned */
};

int gcs_group_planner_new(gcs_group_planner **out, const gcs_profile *profile, gcs_store *store)
{
    *out = NULL;
    const gcs_profile_groups *cfg = gcs_profile_groups_of(profile);
    if (!cfg->enabled)
        return 0;
    gcs_group_planner *g = calloc(1, sizeof *g);
    GCS_CHECK_ALLOC(g);
    g->cfg = cfg;
    g->store = store;
    gcs_group_defs_init(&g->defs);
    g->row_problems = json_array();
    g->by_name = json_object();
    g->by_lower_name = json_object();
    g->members = json_object();
    g->roles = json_object();
    g->divisions = json_object();
    int rc = 0;
    if (!g->row_problems || !g->by_name || !g->by_lower_name || !g->members || !g->roles ||
        !g->divisions) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if (cfg->file && (rc = gcs_groups_file_read(&g->defs, cfg->file)) < 0)
        goto out;
    for (size_t i = 0; i < g->defs.count; i++)
        g->wants_grants |= g->defs.items[i].nroles > 0;
out:
    if (rc < 0) {
        gcs_group_planner_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void gcs_group_planner_free(gcs_group_planner *g)
{
    if (!g)
        return;
    gcs_group_defs_release(&g->defs);
    json_decref(g->row_problems);
    json_decref(g->by_name);
    json_decref(g->by_lower_name);
    json_decref(g->members);
    json_decref(g->roles);
    json_decref(g->divisions);
    json_decref(g->group_targets);
    json_decref(g->person_targets);
    json_decref(g->unknown);
    free(g);
}

static char *lowered(const char *s)
{
    char *l = strdup(s);
    for (char *p = l; p && *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    return l;
}

int gcs_group_planner_target(gcs_group_planner *g, const char *const *targets, size_t count)
{
    if (!g->group_targets && !(g->group_targets = json_object()))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    if (!g->person_targets && !(g->person_targets = json_object()))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    g->targeted = true;
    size_t prefix = strlen(GCS_GROUP_TARGET_PREFIX);
    for (size_t i = 0; i < count; i++) {
        bool group = strncmp(targets[i], GCS_GROUP_TARGET_PREFIX, prefix) == 0;
        json_t *set = group ? g->group_targets : g->person_targets;
        if (json_object_set_new(set, group ? targets[i] + prefix : targets[i], json_true()) < 0)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return 0;
}

/* ==== Sources ==== */

int gcs_group_planner_note_row(gcs_group_planner *g, const char *person_key, const gcs_row *row)
{
    if (!g || !g->cfg->column)
        return 0;
    if (g->targeted && !gcs_row_find(row, g->cfg->column)) {
        /* No column at all (a targeted source may lack it): no memberships to
         * take away on the strength of a column that is not there. */
        if (!g->unknown && !(g->unknown = json_object()))
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        return json_object_set_new(g->unknown, person_key, json_true()) < 0
                   ? gcs_error_set(GCS_ENOMEM, "out of memory")
                   : 0;
    }
    const char *v = gcs_row_get(row, g->cfg->column);
    if (!v || !*v)
        return 0;
    gcs_string_list keys = {0};
    char where[600];
    snprintf(where, sizeof where, "%s:%lu", row->file, row->line);
    int rc = gcs_string_list_split(&keys, v, g->cfg->separator);
    bool told = false;
    for (size_t i = 0; rc == 0 && i < keys.count; i++) {
        rc = gcs_group_defs_add_member(&g->defs, keys.items[i], person_key, where);
        if (rc < 0 && rc != GCS_ENOMEM && told) {
            rc = 0; /* one problem a row is shown: a row cannot make a plan of them */
        } else if (rc < 0 && rc != GCS_ENOMEM) {
            /* The person is still planned, and in the other groups the row names;
             * the group named badly is not. */
            told = true;
            json_t *p = json_pack("{s:s,s:s,s:s}", "location", where, "field", g->cfg->column,
                                  "reason", gcs_error_last());
            rc = p && json_array_append_new(g->row_problems, p) == 0
                     ? 0
                     : gcs_error_set(GCS_ENOMEM, "out of memory");
        }
    }
    gcs_string_list_release(&keys);
    return rc;
}

/* ==== Reading the organisation ==== */

typedef int (*entity_fn)(gcs_group_planner *g, json_t *entity, void *payload);

static int list_paged(gcs_group_planner *g, gcs_http_client *client, const char *base, entity_fn fn,
                      void *payload, long *requests)
{
    int rc = 0;
    long page = 1, pages = 1;
    do {
        char path[256];
        snprintf(path, sizeof path, "%s?pageSize=%d&pageNumber=%ld", base, GROUPS_PAGE, page);
        gcs_http_client_request req = {.method = "GET", .path = path};
        gcs_http_client_response res;
        rc = gcs_http_call(&res, client, &req);
        if (requests)
            (*requests)++;
        if (rc == 0) {
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(res.json, "entities"), i, e)
            {
                if ((rc = fn(g, e, payload)) < 0)
                    break;
            }
            pages = (long)json_integer_value(json_object_get(res.json, "pageCount"));
        } else {
            gcs_error_set(rc, "cannot list %s: %s", base, res.message);
        }
        gcs_http_client_response_release(&res);
        page++;
    } while (rc == 0 && page <= pages);
    return rc;
}

static int keep_group(gcs_group_planner *g, json_t *e, void *payload)
{
    (void)payload;
    const char *name = json_string_value(json_object_get(e, "name"));
    if (!name || !json_string_value(json_object_get(e, "id")))
        return 0;
    char *low = lowered(name);
    GCS_CHECK_ALLOC(low);
    int rc =
        json_object_set(g->by_name, name, e) < 0 || json_object_set(g->by_lower_name, low, e) < 0
            ? gcs_error_set(GCS_ENOMEM, "out of memory")
            : 0;
    free(low);
    return rc;
}

static int keep_named(gcs_group_planner *g, json_t *e, void *payload)
{
    (void)g;
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *id = json_string_value(json_object_get(e, "id"));
    if (name && id && json_object_set_new(payload, name, json_string(id)) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

int gcs_group_planner_read(gcs_group_planner *g, gcs_http_client *client, long *requests)
{
    int rc = list_paged(g, client, "/api/v2/groups", keep_group, NULL, requests);
    /* a person's target plans memberships only: no grant needs the names */
    bool grants = g->wants_grants && (!g->targeted || json_object_size(g->group_targets) > 0);
    if (rc == 0 && grants)
        rc = list_paged(g, client, "/api/v2/authorization/roles", keep_named, g->roles, requests);
    if (rc == 0 && grants)
        rc = list_paged(g, client, "/api/v2/authorization/divisions", keep_named, g->divisions,
                        requests);
    return rc;
}

static const char *marker_value(const json_t *user, const char *marker)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(json_object_get(user, GCS_SCIM_GENESYS_USER), "externalIds"),
                       i, x)
    {
        const char *a = json_string_value(json_object_get(x, "authority"));
        if (marker && a && strcmp(a, marker) == 0)
            return json_string_value(json_object_get(x, "value"));
    }
    return NULL;
}

/* That user `id` is a member of group `gid`, under its userName and key. */
static int note_member(gcs_group_planner *g, const char *id, const char *gid,
                       const char *user_name, const char *key)
{
    json_t *set = json_object_get(g->members, gid);
    if (!set && (json_object_set_new(g->members, gid, set = json_object()) < 0 || !set))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    if (json_object_set_new(set, id,
                            json_pack("{s:s?,s:s?}", "userName", user_name, "key", key)) < 0)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

int gcs_group_planner_note_user(gcs_group_planner *g, const json_t *user, const char *marker)
{
    if (!g)
        return 0;
    const char *id = json_string_value(json_object_get(user, "id"));
    size_t i;
    json_t *ref;
    json_array_foreach(json_object_get(user, "groups"), i, ref)
    {
        const char *gid = json_string_value(json_object_get(ref, "value"));
        if (!gid || !id)
            continue;
        const char *key = marker_value(user, marker);
        if (!key)
            key = json_string_value(json_object_get(user, "externalId"));
        int rc = note_member(g, id, gid, json_string_value(json_object_get(user, "userName")), key);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int gcs_group_planner_note_fields(gcs_group_planner *g, const gcs_user_fields *user,
                                  const char *marker)
{
    if (!g)
        return 0;
    const char *id = user->str[GCS_USER_ID];
    const char *key = NULL;
    for (size_t i = 0; marker && i < user->list[GCS_USER_EXTERNALIDS].count; i++) {
        const gcs_user_entry *x = &user->list[GCS_USER_EXTERNALIDS].at[i];
        if (x->key && strcmp(x->key, marker) == 0) {
            key = x->value;
            break;
        }
    }
    if (!key)
        key = user->str[GCS_USER_EXTERNALID];
    for (size_t i = 0; id && i < user->list[GCS_USER_GROUPS].count; i++) {
        const char *gid = user->list[GCS_USER_GROUPS].at[i].value;
        int rc = gid ? note_member(g, id, gid, user->str[GCS_USER_USERNAME], key) : 0;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ==== Planning one group ==== */

typedef struct run {
    gcs_group_planner *g;
    gcs_plan *plan;
    gcs_http_client *client;
    const json_t *people;
    const json_t *protected_values;
    long *requests;
    long unchanged;
    bool no_create, no_update; /* the plan's options */
} run;

static int collect_owned(const char *value, void *payload)
{
    return json_object_set_new(payload, value, json_true()) < 0
               ? gcs_error_set(GCS_ENOMEM, "out of memory")
               : 0;
}

/* role@division names -> ids; a name that does not exist rejects the group. */
static int resolve_grants(run *r, const gcs_group_node *node, json_t **out, char *why, size_t whysz)
{
    *out = json_array();
    GCS_CHECK_ALLOC(*out);
    why[0] = '\0';
    for (size_t i = 0; i < node->def->nroles; i++) {
        const gcs_group_grant *gr = &node->def->roles[i];
        const char *role_id = json_string_value(json_object_get(r->g->roles, gr->role));
        const char *div_id = json_string_value(json_object_get(r->g->divisions, gr->division));
        const char *what = !role_id ? "role" : "division";
        const char *name = !role_id ? gr->role : gr->division;
        if (!role_id || !div_id) {
            const json_t *all = !role_id ? r->g->roles : r->g->divisions;
            const char *k, *hint = NULL;
            json_t *v;
            json_object_foreach((json_t *)all, k, v)
            {
                if (strcasecmp(k, name) == 0)
                    hint = k;
            }
            if (hint)
                snprintf(why, whysz,
                         "no %s '%s' in the organisation (names are case-sensitive: "
                         "did you mean '%s'?)",
                         what, name, hint);
            else
                snprintf(why, whysz, "no %s '%s' in the organisation", what, name);
            return 0;
        }
        if (json_array_append_new(*out, json_pack("{s:s,s:s,s:s,s:s}", "role", gr->role, "division",
                                                  gr->division, "roleId", role_id, "divisionId",
                                                  div_id)) < 0)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return 0;
}

static bool same_grant(const json_t *a, const char *role_id, const char *div_id)
{
    const char *r = json_string_value(json_object_get(a, "roleId"));
    const char *d = json_string_value(json_object_get(a, "divisionId"));
    return r && d && strcmp(r, role_id) == 0 && strcmp(d, div_id) == 0;
}

/* The grants a group holds, as [{role, division, roleId, divisionId}]. */
static int read_grants(run *r, const char *group_id, json_t **out)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v2/authorization/subjects/%s", group_id);
    gcs_http_client_request req = {.method = "GET", .path = path};
    gcs_http_client_response res;
    int rc = gcs_http_call(&res, r->client, &req);
    (*r->requests)++;
    *out = json_array();
    if (rc == 0 && *out) {
        size_t i;
        json_t *gr;
        json_array_foreach(json_object_get(res.json, "grants"), i, gr)
        {
            json_t *role = json_object_get(gr, "role"), *div = json_object_get(gr, "division");
            json_array_append_new(*out, json_pack("{s:O?,s:O?,s:O?,s:O?}", "role",
                                                  json_object_get(role, "name"), "division",
                                                  json_object_get(div, "name"), "roleId",
                                                  json_object_get(role, "id"), "divisionId",
                                                  json_object_get(div, "id")));
        }
    } else if (rc < 0) {
        gcs_error_set(rc, "cannot read the role grants of group %s: %s", group_id, res.message);
    }
    gcs_http_client_response_release(&res);
    if (!*out && rc == 0)
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    return rc;
}

static bool is_protected(const run *r, const json_t *member)
{
    const char *u = json_string_value(json_object_get(member, "userName"));
    const char *k = json_string_value(json_object_get(member, "key"));
    return (u && json_object_get(r->protected_values, u)) ||
           (k && json_object_get(r->protected_values, k));
}

static json_t *change(const char *attribute, json_t *old, json_t *new_value)
{
    return json_pack("{s:s,s:o,s:o}", "attribute", attribute, "old", old ? old : json_null(), "new",
                     new_value ? new_value : json_null());
}

/* The Genesys group of this name (exact, else ignoring case), or NULL. Borrowed. */
static int find_current(const gcs_group_planner *g, const char *name, json_t **out)
{
    *out = json_object_get(g->by_name, name);
    if (*out)
        return 0;
    char *low = lowered(name);
    GCS_CHECK_ALLOC(low);
    *out = json_object_get(g->by_lower_name, low);
    free(low);
    return 0;
}

/* ==== The kept hierarchy ==== */

static int collect_parent(const char *parent_key, void *payload)
{
    return json_array_append_new(payload, json_string(parent_key)) < 0
               ? gcs_error_set(GCS_ENOMEM, "out of memory")
               : 0;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The node's parents as a sorted array (the store gives its record sorted). */
static json_t *sorted_parents(const gcs_group_node *node)
{
    size_t n = json_array_size(node->parents);
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    json_t *out = json_array();
    if (!keys || !out) {
        free(keys);
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = json_string_value(json_array_get(node->parents, i));
    qsort(keys, n, sizeof *keys, by_text);
    bool failed = false;
    for (size_t i = 0; i < n; i++)
        failed |= json_array_append_new(out, json_string(keys[i] ? keys[i] : "")) < 0;
    free(keys);
    if (failed) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* A "parents" change when the recorded parents differ from the directory's. */
static int plan_parents(run *r, const gcs_group_node *node, json_t *changes)
{
    json_t *was = json_array(), *now = sorted_parents(node);
    int rc = 0;
    if (!was || !now) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = gcs_store_group_parents_each(r->g->store, node->def->key, collect_parent, was)) < 0)
        goto out;
    if (!json_equal(was, now) &&
        json_array_append_new(changes, change("parents", json_incref(was), json_incref(now))) < 0)
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
out:
    json_decref(was);
    json_decref(now);
    return rc;
}

static int plan_one(run *r, const gcs_group_node *node, json_t *unresolved)
{
    const gcs_group_def *d = node->def;
    char why[600];
    json_t *grants = NULL, *op = NULL, *owned_members = NULL, *owned_grants = NULL,
           *current_grants = NULL;
    int rc = resolve_grants(r, node, &grants, why, sizeof why);
    if (rc < 0)
        goto out;
    if (why[0]) {
        rc = gcs_group_plan_reject(r->plan, d->key, d->location, "roles", why);
        goto out;
    }
    json_t *current = NULL;
    if ((rc = find_current(r->g, d->name, &current)) < 0)
        goto out;
    const char *id = json_string_value(json_object_get(current, "id"));
    bool roles_enabled =
        d->nroles > 0 || (current && json_is_true(json_object_get(current, "rolesEnabled")));
    op = json_pack("{s:s,s:s,s:s,s:s?,s:{s:s,s:s,s:s,s:s?,s:b},s:[],s:[],s:[],s:[],s:[],s:O}",
                   "kind", id ? "update" : "create", "key", d->key, "name",
                   current ? json_string_value(json_object_get(current, "name")) : d->name, "id",
                   id, "group", "name", d->name, "type", d->type ? d->type : "official",
                   "visibility", d->visibility ? d->visibility : "public", "description",
                   d->description, "rolesEnabled", roles_enabled, "changes", "add", "remove",
                   "grant", "revoke", "parents", node->parents);
    GCS_CHECK_ALLOC_GOTO(op, rc, out);
    if (id)
        json_object_set(op, "version", json_object_get(current, "version"));

    /* Description, visibility, rolesEnabled */
    json_t *changes = json_object_get(op, "changes");
    if (current) {
        const char *desc = json_string_value(json_object_get(current, "description"));
        if (d->description && strcmp(desc ? desc : "", d->description) != 0)
            json_array_append_new(
                changes, change("description", json_incref(json_object_get(current, "description")),
                                json_string(d->description)));
        /* What the directory does not say stays as Genesys has it: the PUT
         * that changes the rest sends it back unchanged. */
        json_t *want = json_object_get(op, "group");
        static const char *const kept[] = {"type", "visibility", "description"};
        const char *given[] = {d->type, d->visibility, d->description};
        for (size_t k = 0; k < 3; k++) {
            if (!given[k])
                json_object_set(want, kept[k],
                                json_object_get(current, kept[k])
                                    ? json_object_get(current, kept[k])
                                    : json_null());
        }
        const char *vis = json_string_value(json_object_get(current, "visibility"));
        if (d->visibility && strcmp(vis ? vis : "", d->visibility) != 0)
            json_array_append_new(
                changes, change("visibility", json_incref(json_object_get(current, "visibility")),
                                json_string(d->visibility)));
        if (d->nroles > 0 && !json_is_true(json_object_get(current, "rolesEnabled")))
            json_array_append_new(changes, change("rolesEnabled", json_false(), json_true()));
    }

    /* The kept hierarchy: a parent link that changed since gcscim last applied
     * the group (the store's record) is a change of its own, old and new. */
    if (id && r->g->cfg->hierarchy == GCS_GROUPS_KEPT && r->g->store &&
        (rc = plan_parents(r, node, changes)) < 0)
        goto out;

    /* Members */
    json_t *have = id ? json_object_get(r->g->members, id) : NULL;
    json_t *add = json_object_get(op, "add"), *remove = json_object_get(op, "remove");
    json_t *wanted_ids = json_object();
    GCS_CHECK_ALLOC_GOTO(wanted_ids, rc, out);
    const char *person;
    json_t *yes;
    json_object_foreach(node->members, person, yes)
    {
        json_t *who = json_object_get(r->people, person);
        if (!who) {
            json_array_append_new(unresolved,
                                  json_pack("{s:s,s:s}", "group", d->key, "person", person));
            continue;
        }
        const char *uid = json_string_value(json_object_get(who, "id"));
        if (uid)
            json_object_set_new(wanted_ids, uid, json_true());
        if (uid && have && json_object_get(have, uid))
            continue;
        json_array_append_new(add, json_pack("{s:s,s:O?,s:O?}", "key", person, "id",
                                             json_object_get(who, "id"), "userName",
                                             json_object_get(who, "userName")));
    }
    if (id && (owned_members = json_object()) == NULL) {
        json_decref(wanted_ids);
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if (id && r->g->store &&
        (rc = gcs_store_owned_each(r->g->store, id, GCS_OWNED_MEMBER, collect_owned,
                                   owned_members)) < 0) {
        json_decref(wanted_ids);
        goto out;
    }
    const char *uid;
    json_t *m;
    json_object_foreach(have, uid, m)
    {
        if (json_object_get(wanted_ids, uid) || is_protected(r, m))
            continue;
        bool owned = json_object_get(owned_members, uid) != NULL;
        if (!owned && !r->g->cfg->authoritative)
            continue;
        json_array_append_new(remove, json_pack("{s:O?,s:s,s:O?,s:b}", "key",
                                                json_object_get(m, "key"), "id", uid, "userName",
                                                json_object_get(m, "userName"), "owned", owned));
    }
    json_decref(wanted_ids);
    json_object_set_new(op, "current_members", json_integer((json_int_t)json_object_size(have)));

    /* Role grants, for groups whose roles the directory names */
    json_t *grant = json_object_get(op, "grant"), *revoke = json_object_get(op, "revoke");
    if (d->has_roles && id && roles_enabled &&
        json_is_true(json_object_get(current, "rolesEnabled"))) {
        if ((rc = read_grants(r, id, &current_grants)) < 0)
            goto out;
        if (!(owned_grants = json_object())) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
        if (r->g->store && (rc = gcs_store_owned_each(r->g->store, id, GCS_OWNED_GRANT,
                                                      collect_owned, owned_grants)) < 0)
            goto out;
        json_object_set_new(op, "current_grants",
                            json_integer((json_int_t)json_array_size(current_grants)));
    }
    size_t i, j;
    json_t *want, *hold;
    json_array_foreach(grants, i, want)
    {
        bool held = false;
        json_array_foreach(current_grants, j, hold) held |=
            same_grant(hold, json_string_value(json_object_get(want, "roleId")),
                       json_string_value(json_object_get(want, "divisionId")));
        if (!held)
            json_array_append(grant, want);
    }
    json_array_foreach(current_grants, j, hold)
    {
        bool wanted = false;
        json_array_foreach(grants, i, want) wanted |=
            same_grant(hold, json_string_value(json_object_get(want, "roleId")),
                       json_string_value(json_object_get(want, "divisionId")));
        char both[300];
        snprintf(both, sizeof both, "%s/%s",
                 json_string_value(json_object_get(hold, "roleId")) ?: "",
                 json_string_value(json_object_get(hold, "divisionId")) ?: "");
        if (!wanted && (r->g->cfg->authoritative || json_object_get(owned_grants, both)))
            json_array_append(revoke, hold);
    }

    bool any = !id || json_array_size(changes) || json_array_size(add) || json_array_size(remove) ||
               json_array_size(grant) || json_array_size(revoke);
    if (!any) {
        r->unchanged++;
        goto out;
    }
    /* --no-create and --no-update hold for groups as for rows: the group is
     * listed as skipped, with what it would have needed, and nothing is sent. */
    const char *flag = !id && r->no_create ? "--no-create" : id && r->no_update ? "--no-update" : NULL;
    if (flag) {
        rc = gcs_group_plan_skip(r->plan, op, !id ? "no group of this name in Genesys; not created"
                                                  : "update left alone",
                                 flag);
        goto out;
    }
    rc = gcs_group_plan_add(r->plan, op);
    op = NULL;
out:
    json_decref(op);
    json_decref(grants);
    json_decref(owned_members);
    json_decref(owned_grants);
    json_decref(current_grants);
    return rc;
}

/* ==== A person's memberships (--target KEY) ==== */

/* Adds the targeted people the directory puts in this group and removes those
 * it does not (owned, or authoritative, and not protected); nothing else of the
 * group is planned, and its hierarchy record is left as it is (no "parents"). */
static int plan_memberships(run *r, const gcs_group_node *node)
{
    const gcs_group_def *d = node->def;
    json_t *current = NULL, *op = NULL, *owned = NULL;
    int rc = find_current(r->g, d->name, &current);
    if (rc < 0)
        return rc;
    const char *id = json_string_value(json_object_get(current, "id"));
    json_t *have = id ? json_object_get(r->g->members, id) : NULL;
    json_t *add = json_array(), *remove = json_array();
    if (!add || !remove || (id && !(owned = json_object()))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if (id && r->g->store &&
        (rc = gcs_store_owned_each(r->g->store, id, GCS_OWNED_MEMBER, collect_owned, owned)) < 0)
        goto out;
    const char *person;
    json_t *yes;
    json_object_foreach(r->g->person_targets, person, yes)
    {
        if (json_object_get(r->g->unknown, person))
            continue;
        json_t *who = json_object_get(r->people, person);
        const char *uid = json_string_value(json_object_get(who, "id"));
        bool wanted = json_object_get(node->members, person) != NULL;
        json_t *m = uid && have ? json_object_get(have, uid) : NULL;
        if (wanted && who && !m)
            json_array_append_new(add, json_pack("{s:s,s:O?,s:O?}", "key", person, "id",
                                                 json_object_get(who, "id"), "userName",
                                                 json_object_get(who, "userName")));
        if (!wanted && m && !is_protected(r, m) &&
            (r->g->cfg->authoritative || json_object_get(owned, uid)))
            json_array_append_new(remove,
                                  json_pack("{s:s,s:s,s:O?,s:b}", "key", person, "id", uid,
                                            "userName", json_object_get(m, "userName"), "owned",
                                            json_object_get(owned, uid) != NULL));
    }
    if (json_array_size(add) + json_array_size(remove) == 0)
        goto out;
    op = json_pack("{s:s,s:s,s:s,s:s?,s:{s:O?,s:O?,s:O?,s:O?,s:O?},s:[],s:O,s:O,s:[],s:[]}",
                   "kind", id ? "update" : "create", "key", d->key, "name",
                   current ? json_string_value(json_object_get(current, "name")) : d->name, "id",
                   id, "group", "name", current ? json_object_get(current, "name") : NULL, "type",
                   json_object_get(current, "type"), "visibility",
                   json_object_get(current, "visibility"), "description",
                   json_object_get(current, "description"), "rolesEnabled",
                   json_object_get(current, "rolesEnabled"), "changes", "add", add, "remove",
                   remove, "grant", "revoke");
    GCS_CHECK_ALLOC_GOTO(op, rc, out);
    if (!id) {
        json_object_set_new(json_object_get(op, "group"), "name", json_string(d->name));
        rc = gcs_group_plan_skip(r->plan, op,
                                 "no group of this name in Genesys; not created for a person",
                                 "--target " GCS_GROUP_TARGET_PREFIX "KEY creates it");
        goto out;
    }
    json_object_set(op, "version", json_object_get(current, "version"));
    json_t *count = json_object_get(current, "memberCount");
    json_object_set_new(op, "current_members",
                        json_integer(json_is_integer(count) ? json_integer_value(count)
                                                            : (json_int_t)json_object_size(have)));
    if (r->no_update) {
        rc = gcs_group_plan_skip(r->plan, op, "update left alone", "--no-update");
        goto out;
    }
    rc = gcs_group_plan_add(r->plan, op);
    op = NULL;
out:
    json_decref(op);
    json_decref(add);
    json_decref(remove);
    json_decref(owned);
    return rc;
}

static bool names_a_target(const gcs_group_planner *g, const gcs_group_node *node)
{
    const char *person;
    json_t *yes;
    json_object_foreach(g->person_targets, person, yes)
    {
        if (json_object_get(node->members, person))
            return true;
    }
    return false;
}

static bool clash_of(const json_t *by_lower, const gcs_group_node *node)
{
    char *low = lowered(node->def->name);
    bool clash = low && json_integer_value(json_object_get(by_lower, low)) > 1;
    free(low);
    return clash;
}

/* Whether a targeted plan concerns this group, and how: 2 in full, 1 the
 * targeted people's memberships, 0 not at all. */
static int target_scope(const gcs_group_planner *g, const gcs_group_node *node)
{
    if (!g->targeted || json_object_get(g->group_targets, node->def->key))
        return 2;
    /* every group: a person may have to leave one that no longer names them */
    return json_object_size(g->person_targets) > 0 ? 1 : 0;
}

int gcs_group_planner_plan(gcs_group_planner *g, gcs_plan *plan, gcs_http_client *client,
                           const json_t *people, const json_t *protected_values, long *requests)
{
    gcs_group_tree tree;
    const char *hierarchy = g->cfg->hierarchy == GCS_GROUPS_FLATTENED ? "flattened" : "kept";
    int rc = gcs_group_plan_begin(plan, hierarchy, g->cfg->authoritative);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < g->defs.rejected.count; i++) {
        const gcs_row_error *e = &g->defs.rejected.items[i];
        char loc[600];
        snprintf(loc, sizeof loc, "%s:%lu", e->file, e->line);
        if ((rc = gcs_group_plan_reject(plan, NULL, loc, e->field, e->message)) < 0)
            return rc;
    }
    size_t i;
    json_t *p;
    json_array_foreach(g->row_problems, i, p)
    {
        if ((rc = gcs_group_plan_reject(plan, NULL,
                                        json_string_value(json_object_get(p, "location")),
                                        json_string_value(json_object_get(p, "field")),
                                        json_string_value(json_object_get(p, "reason")))) < 0)
            return rc;
    }
    if ((rc = gcs_group_tree_build(&tree, &g->defs, g->cfg->hierarchy)) < 0)
        return rc;
    json_t *options = json_object_get(plan->doc, "options");
    run r = {g,
             plan,
             client,
             people,
             protected_values,
             requests,
             0,
             json_is_true(json_object_get(options, "no_create")),
             json_is_true(json_object_get(options, "no_update"))};
    json_t *by_lower = NULL;
    json_t *unresolved = json_array();
    GCS_CHECK_ALLOC_GOTO(unresolved, rc, out);
    /* Names are matched ignoring case as well: two directory groups whose names
     * differ only in case would be one Genesys group, changed two ways. */
    by_lower = json_object();
    GCS_CHECK_ALLOC_GOTO(by_lower, rc, out);
    for (size_t k = 0; k < tree.count && rc == 0; k++) {
        char *low = lowered(tree.nodes[k].def->name);
        json_t *n = json_object_get(by_lower, low ? low : "");
        if (!low ||
            json_object_set_new(by_lower, low, json_integer(n ? json_integer_value(n) + 1 : 1)) < 0)
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        free(low);
    }
    for (size_t k = 0; k < tree.count && rc == 0; k++) {
        const gcs_group_node *node = &tree.nodes[k];
        int scope = target_scope(g, node);
        if (scope == 0 || (scope == 1 && (node->rejected || clash_of(by_lower, node)) &&
                           !names_a_target(g, node)))
            continue; /* a person's target shows only the problems of its groups */
        char *low = lowered(node->def->name);
        GCS_CHECK_ALLOC_GOTO(low, rc, out);
        bool clash = json_integer_value(json_object_get(by_lower, low)) > 1;
        free(low);
        if (scope == 1 && !node->rejected && !clash)
            rc = plan_memberships(&r, node);
        else if (node->rejected)
            rc = gcs_group_plan_reject(plan, node->def->key, node->def->location, NULL,
                                       node->why ? node->why : "rejected");
        else if (clash)
            rc = gcs_group_plan_reject(plan, node->def->key, node->def->location, "name",
                                       "another group of the directory has this name but for "
                                       "its case: both would be one Genesys group");
        else
            rc = plan_one(&r, node, unresolved);
    }
    /* A group target that names no group of the directory */
    const char *gkey;
    json_t *yes;
    json_object_foreach(g->group_targets, gkey, yes)
    {
        if (rc == 0 && !gcs_group_defs_find(&g->defs, gkey))
            rc = gcs_group_plan_reject(plan, gkey, "--target", NULL,
                                       "no group of the directory has this key");
    }
    if (rc == 0 && json_array_size(unresolved) > 0)
        json_object_set(gcs_group_plan_section(plan), "not_in_source", unresolved);
    gcs_group_plan_set_unchanged(plan, r.unchanged);
out:
    json_decref(by_lower);
    json_decref(unresolved);
    gcs_group_tree_release(&tree);
    return rc;
}

/* ==== One group: serve's group events (engine/sync.h) ==== */

int gcs_group_planner_new_for(gcs_group_planner **out, const gcs_profile_groups *cfg,
                              gcs_store *store, gcs_group_defs *defs)
{
    *out = NULL;
    gcs_group_planner *g = calloc(1, sizeof *g);
    GCS_CHECK_ALLOC(g);
    g->cfg = cfg;
    g->store = store;
    g->defs = *defs;
    gcs_group_defs_init(defs);
    g->row_problems = json_array();
    g->by_name = json_object();
    g->by_lower_name = json_object();
    g->members = json_object();
    g->roles = json_object();
    g->divisions = json_object();
    if (!g->row_problems || !g->by_name || !g->by_lower_name || !g->members || !g->roles ||
        !g->divisions) {
        gcs_group_planner_free(g);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < g->defs.count; i++)
        g->wants_grants |= g->defs.items[i].nroles > 0;
    *out = g;
    return 0;
}

/* A SCIM filter value: quoted, with '"' and '\' escaped (RFC 7644). */
static char *quoted(const char *s)
{
    size_t n = strlen(s);
    char *q = malloc(2 * n + 3), *p = q;
    if (!q)
        return NULL;
    *p++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *p++ = '\\';
        *p++ = *s;
    }
    *p++ = '"';
    *p = '\0';
    return q;
}

/* The SCIM group of this name (its id and members), then the Platform group
 * (its version and settings), as the paged list would have given it. */
static int read_named_group(gcs_group_planner *g, gcs_http_client *client, const char *name,
                            long *requests)
{
    char *value = quoted(name), *filter = NULL, *escaped = NULL;
    int rc = 0;
    gcs_http_client_response res;
    memset(&res, 0, sizeof res);
    GCS_CHECK_ALLOC_GOTO(value, rc, out);
    size_t flen = strlen(value) + sizeof "displayName eq ";
    filter = malloc(flen);
    GCS_CHECK_ALLOC_GOTO(filter, rc, out);
    snprintf(filter, flen, "displayName eq %s", value);
    escaped = gcs_http_escape(filter);
    GCS_CHECK_ALLOC_GOTO(escaped, rc, out);
    size_t plen = strlen(escaped) + 64;
    char *path = malloc(plen);
    GCS_CHECK_ALLOC_GOTO(path, rc, out);
    snprintf(path, plen, "/api/v2/scim/v2/groups?filter=%s&count=2", escaped);
    gcs_http_client_request req = {.method = "GET", .path = path};
    rc = gcs_http_call(&res, client, &req);
    free(path);
    if (requests)
        (*requests)++;
    if (rc < 0) {
        gcs_error_set(rc, "cannot look up group '%s': %s", name, res.message);
        goto out;
    }
    json_t *found = json_array_get(json_object_get(res.json, "Resources"), 0);
    const char *id = json_string_value(json_object_get(found, "id"));
    if (!id)
        goto out; /* none: a create */
    json_t *set = json_object();
    GCS_CHECK_ALLOC_GOTO(set, rc, out);
    if (json_object_set_new(g->members, id, set) < 0) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(found, "members"), i, m)
    {
        const char *uid = json_string_value(json_object_get(m, "value"));
        if (uid && json_object_set_new(set, uid, json_pack("{s:n,s:n}", "userName", "key")) < 0) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
    }
    char entity_path[200];
    snprintf(entity_path, sizeof entity_path, "/api/v2/groups/%.100s", id);
    gcs_http_client_response_release(&res);
    gcs_http_client_request get = {.method = "GET", .path = entity_path};
    rc = gcs_http_call(&res, client, &get);
    if (requests)
        (*requests)++;
    if (rc < 0)
        gcs_error_set(rc, "cannot read group '%s': %s", name, res.message);
    else
        rc = keep_group(g, res.json, NULL);
out:
    gcs_http_client_response_release(&res);
    free(value);
    free(filter);
    free(escaped);
    return rc;
}

int gcs_group_planner_read_named(gcs_group_planner *g, gcs_http_client *client, long *requests)
{
    int rc = 0;
    for (size_t i = 0; i < g->defs.count && rc == 0; i++)
        rc = read_named_group(g, client, g->defs.items[i].name, requests);
    if (rc == 0 && g->wants_grants)
        rc = list_paged(g, client, "/api/v2/authorization/roles", keep_named, g->roles, requests);
    if (rc == 0 && g->wants_grants)
        rc = list_paged(g, client, "/api/v2/authorization/divisions", keep_named, g->divisions,
                        requests);
    return rc;
}

const char *gcs_group_planner_group_id(const gcs_group_planner *g, const char *name)
{
    return json_string_value(json_object_get(json_object_get(g->by_name, name), "id"));
}
