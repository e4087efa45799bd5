/*
 * sync_group.c - "provision this group": one directory group from an event,
 * planned alone, checked for approval, applied with receipts (sync.h).
 *
 * The group becomes a record of a groups file (mapping/groups_file.h), read by
 * the groups file's own reader, and goes through the group planner and apply
 * that `gcscim sync` uses; only the reads differ: the members named, by key,
 * and the group by name, instead of the whole organisation.
 */
#include "engine/sync.h"
#include "engine/sync_internal.h"

#include "core/error.h"
#include "core/log.h"
#include "engine/apply.h"
#include "engine/group_planner.h"
#include "engine/recorder.h"
#include "genesys/directory.h"
#include "mapping/groups_file.h"
#include "mapping/profile.h"
#include "plan/group_plan.h"
#include "plan/group_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN_LISTED_MAX 100 /* unknown members named in a result (all are counted) */

/* The event's group as a groups file record: children are the event's own
 * concern (see the header), the rest is the file's shape. */
static int defs_of(gcs_group_defs *defs, const json_t *group)
{
    json_t *record = json_deep_copy(group);
    GCS_CHECK_ALLOC(record);
    json_object_del(record, "children");
    json_object_del(record, "nesting");
    if (json_is_null(json_object_get(record, "description")))
        json_object_del(record, "description");
    json_t *list = json_pack("[o]", record);
    char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    GCS_CHECK_ALLOC(text);
    int rc = gcs_groups_file_read_mem(defs, "event.json", text, strlen(text));
    free(text);
    return rc;
}

/* ==== Flattened: the members of the groups below, from their own events ====
 *
 * The directory's hierarchy is what the events said: a flattened group's
 * members are its own and, transitively, those of the children it names, each
 * child as its newest event (its newest job of key "group:CHILD" that was not
 * dropped) gave it. The groups below are resolved by the groups file's
 * reader and the hierarchy's (plan/group_tree.h: cycles, depth and size
 * rejected, never a recursion). A child no event named yet rejects the group:
 * its members cannot be known, and a guess would remove people. */

#define GROUPS_BELOW_MAX 1000

typedef struct newest_group {
    json_t *group; /* the newest group object of a job, or NULL */
} newest_group;

static int take_newest(const gcs_job *j, void *payload)
{
    newest_group *n = payload;
    if (n->group || strcmp(j->state, GCS_JOB_DROPPED) == 0)
        return 0;
    json_t *doc = json_loads(j->payload, 0, NULL);
    json_t *g = json_object_get(doc, "group");
    if (json_is_object(g) && json_is_array(json_object_get(g, "members")))
        n->group = json_incref(g);
    json_decref(doc);
    return 0;
}

/* A groups file record of a group object: key, name, members, children. */
static json_t *hierarchy_record(const json_t *group)
{
    json_t *children = json_object_get(group, "children");
    json_t *r = json_pack("{s:O,s:O,s:o}", "key", json_object_get(group, "key"), "members",
                          json_object_get(group, "members"),
                          "children", children ? json_incref(children) : json_array());
    if (r && json_object_get(group, "name"))
        json_object_set(r, "name", json_object_get(group, "name"));
    return r;
}

/* *out: `group` with its members made everybody below it and no children;
 * or NULL with why[] set when that cannot be known. */
static int flatten(json_t **out, char *why, size_t whysz, gcs_store *store, const json_t *group)
{
    *out = NULL;
    why[0] = '\0';
    const char *key = json_string_value(json_object_get(group, "key"));
    json_t *records = json_array(), *seen = json_object(), *queue = json_array();
    char *text = NULL;
    gcs_group_defs defs;
    gcs_group_defs_init(&defs);
    gcs_group_tree tree;
    bool built = false;
    int rc = 0;
    if (!records || !seen || !queue ||
        json_array_append_new(records, hierarchy_record(group)) < 0 ||
        json_object_set_new(seen, key, json_true()) < 0) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if (json_object_get(group, "children"))
        json_array_extend(queue, json_object_get(group, "children"));
    for (size_t next = 0; next < json_array_size(queue) && rc == 0; next++) {
        const char *child = json_string_value(json_array_get(queue, next));
        if (!child || json_object_get(seen, child))
            continue; /* a cycle is the tree's to reject */
        if (json_array_size(records) > GROUPS_BELOW_MAX) {
            snprintf(why, whysz, "children: more than %d groups below it", GROUPS_BELOW_MAX);
            goto out;
        }
        char job_key[GCS_GROUP_KEY_MAX + 8];
        snprintf(job_key, sizeof job_key, "group:%s", child);
        newest_group newest = {NULL};
        if ((rc = gcs_store_jobs_of_key(store, job_key, 0, take_newest, &newest)) < 0)
            goto out;
        if (!newest.group) {
            snprintf(why, whysz,
                     "children: group '%.200s' is not known yet (flattened, a group takes its "
                     "children's members from their own events: send that group's event first)",
                     child);
            goto out;
        }
        json_t *grandchildren = json_object_get(newest.group, "children");
        if (json_object_set_new(seen, child, json_true()) < 0 ||
            json_array_append_new(records, hierarchy_record(newest.group)) < 0 ||
            (grandchildren && json_array_extend(queue, grandchildren) < 0))
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        json_decref(newest.group);
    }
    if (rc < 0)
        goto out;
    text = json_dumps(records, JSON_COMPACT);
    GCS_CHECK_ALLOC_GOTO(text, rc, out);
    if ((rc = gcs_groups_file_read_mem(&defs, "events.json", text, strlen(text))) < 0 ||
        (rc = gcs_group_tree_build(&tree, &defs, GCS_GROUPS_FLATTENED)) < 0)
        goto out;
    built = true;
    const gcs_group_node *mine = NULL;
    for (size_t i = 0; i < tree.count && !mine; i++) {
        if (strcmp(tree.nodes[i].def->key, key) == 0)
            mine = &tree.nodes[i];
    }
    if (!mine) { /* the event's own record was refused: planned as given, refused there */
        *out = json_incref((json_t *)group);
        goto out;
    }
    if (mine->rejected) {
        snprintf(why, whysz, "children: %s", mine->why ? mine->why : "the hierarchy is not valid");
        goto out;
    }
    json_t *flat = json_deep_copy(group), *members = json_array();
    const char *person;
    json_t *yes;
    json_object_foreach(mine->members, person, yes) {
        json_array_append_new(members, json_string(person));
    }
    if (!flat || !members || json_object_set_new(flat, "members", members) < 0) {
        json_decref(flat);
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    json_object_del(flat, "children");
    *out = flat;
out:
    if (built)
        gcs_group_tree_release(&tree);
    gcs_group_defs_release(&defs);
    free(text);
    json_decref(records);
    json_decref(seen);
    json_decref(queue);
    return rc;
}

typedef struct group_seen {
    const char *outcome; /* apply's outcome name for the group, or NULL */
    char genesys_id[80];
    char message[512];
} group_seen;

static void on_group_event(const gcs_apply_event *e, void *payload)
{
    group_seen *s = payload;
    if (!e->kind || strncmp(e->kind, "group ", 6) != 0)
        return;
    s->outcome = gcs_apply_outcome_name(e->outcome);
    snprintf(s->genesys_id, sizeof s->genesys_id, "%s", e->genesys_id ? e->genesys_id : "");
    snprintf(s->message, sizeof s->message, "%s", e->message ? e->message : "");
}

static int collect_seq(const gcs_receipt *r, void *payload)
{
    return json_array_append_new(payload, json_integer(r->seq)) < 0
               ? gcs_error_set(GCS_ENOMEM, "out of memory")
               : 0;
}

static int receipts_of(json_t *seqs, gcs_store *store, const char *run_id)
{
    if (!run_id || !*run_id)
        return 0;
    gcs_receipt_filter f = {0};
    f.run_id = run_id;
    return gcs_store_receipts_each(store, &f, collect_seq, seqs);
}

/* ==== Members, by key ====
 *
 * Each member key is tried by gcscim's marker (when the profile has one), then
 * by externalId; the first that finds a user wins. The reads go in waves, as
 * the planner's targeted reads do: every member's next key at once (at most
 * WAVE_MAX a wave), so that a group costs two round trips of reads, not one
 * per member. Each read's receipt names the person. */

#define WAVE_MAX 500

typedef struct member_read {
    size_t member;   /* index in the event's members */
    char *filter, *path;
    int rc;
    json_t *user;    /* the one user found, or NULL */
    char message[600];
} member_read;

static void on_member_read(const gcs_http_client_response *res, void *payload)
{
    member_read *m = payload;
    if (res->error != 0) {
        m->rc = res->error;
        snprintf(m->message, sizeof m->message, "cannot look up user (%s): %s", m->filter,
                 res->message);
        return;
    }
    json_t *found = NULL;
    m->rc = gcs_directory_found_user(&found, res->json, m->filter);
    if (m->rc < 0)
        snprintf(m->message, sizeof m->message, "%s", gcs_error_last());
    else if (found)
        m->user = json_incref(found);
}

/* Sends reads[0..n) at once; found[member] takes each user found. */
static int read_wave(json_t **found, member_read *reads, size_t n, gcs_http_client *client,
                     gcs_recorder *rec, const json_t *members, long *requests)
{
    int rc = 0;
    size_t submitted = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        gcs_recorder_learn_path(rec, json_string_value(json_array_get(members, reads[i].member)),
                                reads[i].path);
        gcs_http_client_request req = {.method = "GET", .path = reads[i].path};
        if ((rc = gcs_http_submit(client, &req, on_member_read, &reads[i])) == 0) {
            submitted++;
            (*requests)++;
        }
    }
    int run_rc = gcs_http_run(client);
    for (size_t i = 0; i < submitted; i++) {
        if (reads[i].rc < 0 && rc == 0)
            rc = gcs_error_set(reads[i].rc, "%s", reads[i].message);
        if (reads[i].user && !found[reads[i].member])
            found[reads[i].member] = json_incref(reads[i].user);
    }
    return rc < 0 ? rc : run_rc;
}

static void wave_release(member_read *reads, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(reads[i].filter);
        free(reads[i].path);
        json_decref(reads[i].user);
    }
}

/* Finds each member named: people gets key -> {"id", "userName"} for those
 * found (and the planner their groups), unknown the keys of the others, in
 * the event's order. */
static int find_members(json_t *people, json_t *unknown, gcs_group_planner *g,
                        gcs_http_client *client, gcs_recorder *rec, const char *marker,
                        const json_t *members, long *requests)
{
    size_t count = json_array_size(members);
    char by_marker[200];
    snprintf(by_marker, sizeof by_marker, "externalIds.%s", marker ? marker : "");
    const char *const fields[] = {marker ? by_marker : NULL, "externalId"};
    json_t **found = calloc(count ? count : 1, sizeof *found);
    member_read *reads = calloc(count < WAVE_MAX ? (count ? count : 1) : WAVE_MAX, sizeof *reads);
    int rc = 0;
    if (!found || !reads) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t f = 0; f < 2 && rc == 0; f++) {
        if (!fields[f])
            continue;
        size_t next = 0;
        while (next < count && rc == 0) {
            size_t n = 0;
            for (; next < count && n < WAVE_MAX && rc == 0; next++) {
                if (found[next])
                    continue;
                gcs_error_clear();
                const char *value = json_string_value(json_array_get(members, next));
                char *filter = gcs_directory_filter_for(fields[f], value);
                if (!filter) {
                    if (gcs_error_last_code() == GCS_ENOMEM)
                        rc = GCS_ENOMEM; /* not "no such user" */
                    continue;            /* a key no filter can express finds nobody */
                }
                member_read *m = &reads[n++];
                memset(m, 0, sizeof *m);
                m->member = next;
                m->filter = filter;
                if (!(m->path = gcs_directory_find_path(filter)))
                    rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            }
            if (rc == 0 && n > 0)
                rc = read_wave(found, reads, n, client, rec, members, requests);
            wave_release(reads, n);
        }
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        const char *key = json_string_value(json_array_get(members, i));
        if (!found[i]) {
            if (json_array_append_new(unknown, json_string(key)) < 0)
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            continue;
        }
        const char *id = json_string_value(json_object_get(found[i], "id"));
        const char *user_name = json_string_value(json_object_get(found[i], "userName"));
        gcs_recorder_learn(rec, key, id, user_name);
        if (json_object_set_new(people, key,
                                json_pack("{s:s?,s:s?}", "id", id, "userName", user_name)) < 0)
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        else
            rc = gcs_group_planner_note_user(g, found[i], marker);
    }
out:
    for (size_t i = 0; found && i < count; i++)
        json_decref(found[i]);
    free(found);
    free(reads);
    return rc;
}

/* ==== The kept hierarchy ====
 *
 * A group event speaks of its group's children, never of its parents, and
 * its children are their own events: the parent links gcscim recorded for the
 * group (store.h, "Group hierarchy": sync's groups file, kept) stay as
 * recorded. The planner took the event's group for one without parents; its
 * operation gets the recorded parents back and no "parents" change (and goes
 * when nothing else is left to do), so that apply records what was there. */

static int collect_parent(const char *parent_key, void *payload)
{
    return json_array_append_new(payload, json_string(parent_key)) < 0
               ? gcs_error_set(GCS_ENOMEM, "out of memory")
               : 0;
}

static int keep_recorded_parents(gcs_plan *plan, gcs_store *store, const char *key)
{
    json_t *ops = gcs_group_plan_operations(plan);
    json_t *op = json_array_get(ops, 0);
    if (!op)
        return 0;
    json_t *was = json_array();
    GCS_CHECK_ALLOC(was);
    int rc = gcs_store_group_parents_each(store, key, collect_parent, was);
    if (rc == 0 && json_object_set_new(op, "parents", was) < 0)
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    else if (rc < 0)
        json_decref(was);
    json_t *changes = json_object_get(op, "changes");
    for (size_t i = json_array_size(changes); rc == 0 && i-- > 0;) {
        const char *a = json_string_value(json_object_get(json_array_get(changes, i), "attribute"));
        if (a && strcmp(a, "parents") == 0)
            json_array_remove(changes, i);
    }
    static const char *const lists[] = {"changes", "add", "remove", "grant", "revoke"};
    bool any = strcmp(json_string_value(json_object_get(op, "kind")), "create") == 0;
    for (size_t i = 0; i < 5; i++)
        any |= json_array_size(json_object_get(op, lists[i])) > 0;
    if (rc == 0 && !any) {
        json_array_remove(ops, 0);
        gcs_group_plan_set_unchanged(plan, 1);
    }
    return rc;
}

/* What one group op plans, counted for the result. */
static void count_planned(json_t *doc, const json_t *op)
{
    static const char *const lists[] = {"add", "remove", "grant", "revoke"};
    static const char *const names[] = {"added", "removed", "granted", "revoked"};
    for (size_t i = 0; i < 4; i++) {
        size_t n = json_array_size(json_object_get(op, lists[i]));
        json_object_set_new(doc, names[i], json_integer((json_int_t)n));
    }
}

int gcs_sync_provision_group(json_t **result, gcs_genesys_session *session, gcs_store *store,
                             const json_t *group, const gcs_sync_options *o)
{
    *result = NULL;
    const char *key = json_string_value(json_object_get(group, "key"));
    if (!key || !*key)
        return gcs_error_set(GCS_EINVALID, "the group has no key");
    int rc;
    gcs_profile *profile = NULL;
    gcs_group_planner *g = NULL;
    gcs_group_defs defs;
    gcs_group_defs_init(&defs);
    gcs_plan plan = {0};
    bool planned = false, recording = false;
    gcs_recorder rec;
    json_t *people = json_object(), *unknown = json_array(), *none = json_object();
    json_t *needs = NULL, *seqs = json_array(), *doc = NULL, *flat = NULL;
    group_seen seen = {0};
    gcs_apply_result ar;
    memset(&ar, 0, sizeof ar);
    const char *outcome = NULL;
    char detail[1024] = "";
    if (!people || !unknown || !none || !seqs) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = gcs_profile_load(&profile, o->profile_path)) < 0)
        goto out;
    gcs_profile_groups cfg = *gcs_profile_groups_of(profile);
    const char *nesting = json_string_value(json_object_get(group, "nesting"));
    if (nesting)
        cfg.hierarchy = strcmp(nesting, "flattened") == 0 ? GCS_GROUPS_FLATTENED : GCS_GROUPS_KEPT;
    if (!cfg.enabled) {
        outcome = GCS_SYNC_REJECTED;
        snprintf(detail, sizeof detail,
                 "the profile has no groups: section, which group events need (docs/mapping.md)");
        goto answer;
    }
    /* Flattened: the members of the groups below join the event's own. */
    if (cfg.hierarchy == GCS_GROUPS_FLATTENED &&
        json_array_size(json_object_get(group, "children")) > 0) {
        if ((rc = flatten(&flat, detail, sizeof detail, store, group)) < 0)
            goto out;
        if (!flat) {
            outcome = GCS_SYNC_REJECTED;
            goto answer;
        }
    }
    const json_t *wanted = flat ? flat : group;
    if ((rc = defs_of(&defs, wanted)) < 0)
        goto out;
    if (defs.rejected.count > 0 || defs.count != 1) {
        const gcs_row_error *e = defs.rejected.count ? &defs.rejected.items[0] : NULL;
        outcome = GCS_SYNC_REJECTED;
        snprintf(detail, sizeof detail, "%s%s%s", e && e->field ? e->field : "",
                 e && e->field ? ": " : "", e ? e->message : "not a group");
        goto answer;
    }
    if ((rc = gcs_group_planner_new_for(&g, &cfg, store, &defs)) < 0)
        goto out;

    /* The reads: the members named, then the group; each a receipt. */
    long requests = 0;
    gcs_recorder_attach(&rec, store, session->client, o->run_label);
    recording = true;
    rc = find_members(people, unknown, g, session->client, &rec,
                      gcs_profile_managed_authority(profile), json_object_get(wanted, "members"),
                      &requests);
    if (rc == 0)
        rc = gcs_group_planner_read_named(g, session->client, &requests);
    if (rc == 0 && (rc = gcs_plan_begin(&plan, session->api_url, "event", o->profile_path,
                                        &o->plan)) == 0) {
        planned = true;
        if (gcs_profile_managed_authority(profile))
            json_object_set_new(plan.doc, "marker",
                                json_string(gcs_profile_managed_authority(profile)));
        gcs_plan_set_counts(&plan, 0, 0);
        gcs_plan_set_source_facts(&plan, 0, true);
        gcs_plan_set_targeted(&plan, true);
        rc = gcs_group_planner_plan(g, &plan, session->client, people, none, &requests);
    }
    if (rc == 0 && cfg.hierarchy == GCS_GROUPS_KEPT)
        rc = keep_recorded_parents(&plan, store, key);
    /* Every plan is a plan of its own (its nonce): a later event whose plan
     * would read the same (a group deleted behind gcscim's back, the same
     * event again) is not "already applied". The job is sealed too and keys
     * the lease (engine/sync.c says why a retry plans anew rather than
     * resuming: here the group is read by name before any create, and a
     * create answered 409 finds it by name). */
    const char *job = o->job_id ? o->job_id : o->run_label;
    if (rc == 0 && job &&
        json_object_set_new(gcs_group_plan_section(&plan), "job", json_string(job)) < 0)
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    if (rc == 0)
        rc = gcs_plan_finish(&plan);
    recording = false;
    int rec_rc = gcs_recorder_detach(&rec);
    if (rc == 0)
        rc = rec_rc;
    if (rc < 0)
        goto out;

    json_t *op = json_array_get(gcs_group_plan_operations(&plan), 0);
    json_t *section = gcs_group_plan_section(&plan);
    json_t *rejected = json_array_get(json_object_get(section, "rejected"), 0);
    needs = gcs_plan_needs(&plan, &o->plan);
    bool approved = gcs_engine__all_approved(needs);
    if (rejected) {
        const char *field = json_string_value(json_object_get(rejected, "field"));
        const char *reason = json_string_value(json_object_get(rejected, "reason"));
        outcome = GCS_SYNC_REJECTED;
        snprintf(detail, sizeof detail, "%s%s%s", field ? field : "", field ? ": " : "",
                 reason ? reason : "rejected");
    } else if (!approved) {
        outcome = GCS_SYNC_NEEDS_APPROVAL;
        if (o->notify)
            gcs_engine__notify_needs_approval(store, &plan, needs, NULL, json_pack("[s]", key), o);
    } else if (op) {
        const char *kind = json_string_value(json_object_get(op, "kind"));
        gcs_apply_options ao = {.command = o->command ? o->command : "serve",
                                .approval = o->plan,
                                .on_event = on_group_event,
                                .payload = &seen,
                                .stop = o->stop,
                                .notify = o->notify,
                                .actor = o->actor,
                                .job_id = o->job_id,
                                .audit = o->audit};
        rc = gcs_apply_run(&ar, session->client, store, &plan, &ao);
        /* A group that failed or drifted is the outcome; any other error
         * stopped the run: the caller tries again later. */
        if (rc < 0 && !(rc == GCS_ERROR && seen.outcome))
            goto out;
        rc = 0;
        bool failed =
            seen.outcome &&
            (strcmp(seen.outcome, gcs_apply_outcome_name(GCS_APPLY_FAILED)) == 0 ||
             strcmp(seen.outcome, gcs_apply_outcome_name(GCS_APPLY_DRIFT)) == 0);
        if (failed) {
            outcome = GCS_SYNC_FAILED;
            snprintf(detail, sizeof detail, "%s: %s", seen.outcome, seen.message);
        } else if (ar.already_applied) {
            /* The plan was made from what Genesys holds now, yet this job's
             * plan was applied before: Genesys went back to what it was since
             * (a group deleted behind gcscim's back). Nothing was sent: say so
             * (a new event plans again). */
            outcome = GCS_SYNC_FAILED;
            snprintf(detail, sizeof detail,
                     "this very plan was applied before (plan %.64s), and Genesys is back to "
                     "what it was then: nothing was sent",
                     gcs_plan_identity(&plan));
        } else if (!seen.outcome) {
            outcome = GCS_SYNC_FAILED;
            snprintf(detail, sizeof detail, "the planned group %s was not applied",
                     kind ? kind : "change");
        } else {
            outcome = kind && strcmp(kind, "create") == 0 ? GCS_SYNC_CREATED : GCS_SYNC_UPDATED;
        }
    } else {
        outcome = GCS_SYNC_UNCHANGED;
    }
    if ((rc = receipts_of(seqs, store, o->run_label)) < 0 ||
        (rc = receipts_of(seqs, store, ar.run_id)) < 0)
        goto out;

answer:;
    const char *genesys_id = seen.genesys_id[0] ? seen.genesys_id : NULL;
    const char *name = json_string_value(json_object_get(group, "name"));
    if (!genesys_id && g)
        genesys_id = gcs_group_planner_group_id(g, name ? name : key);
    json_t *listed = json_array();
    for (size_t k = 0; listed && k < json_array_size(unknown) && k < UNKNOWN_LISTED_MAX; k++)
        json_array_append(listed, json_array_get(unknown, k));
    const char *hierarchy = cfg.hierarchy == GCS_GROUPS_FLATTENED ? "flattened" : "kept";
    doc = json_pack("{s:s,s:s,s:s?,s:s,s:o,s:I,s:O,s:s?,s:s?}", "outcome", outcome, "group", key,
                    "genesys_id", genesys_id, "nesting", hierarchy, "unknown_members",
                    listed ? listed : json_array(), "unknown_member_count",
                    (json_int_t)json_array_size(unknown), "receipts", seqs, "run_id",
                    ar.run_id[0] ? ar.run_id : NULL, "detail", detail[0] ? detail : NULL);
    GCS_CHECK_ALLOC_GOTO(doc, rc, out);
    if (!json_object_get(doc, "genesys_id"))
        json_object_set_new(doc, "genesys_id", json_null());
    if (!json_object_get(doc, "run_id"))
        json_object_set_new(doc, "run_id", json_null());
    if (!json_object_get(doc, "detail"))
        json_object_set_new(doc, "detail", json_null());
    if (planned)
        count_planned(doc, json_array_get(gcs_group_plan_operations(&plan), 0));
    if (json_object_get(group, "children"))
        json_object_set(doc, "children", json_object_get(group, "children"));
    if (strcmp(outcome, GCS_SYNC_NEEDS_APPROVAL) == 0)
        json_object_set(doc, "needs", needs);
    rc = 0;
out:
    if (recording)
        gcs_recorder_detach(&rec);
    if (rc == 0) {
        *result = doc;
    } else {
        json_decref(doc);
    }
    if (planned)
        gcs_plan_release(&plan);
    gcs_group_planner_free(g);
    gcs_group_defs_release(&defs);
    gcs_profile_free(profile);
    json_decref(people);
    json_decref(unknown);
    json_decref(none);
    json_decref(needs);
    json_decref(seqs);
    json_decref(flat);
    return rc;
}
