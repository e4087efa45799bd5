/*
 * sync.c - "provision these people": rows in memory, planned for exactly their
 * keys, checked for approval, applied with receipts (sync.h).
 */
#include "engine/sync.h"
#include "engine/sync_internal.h"

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "engine/apply.h"
#include "engine/recorder.h"
#include "plan/group_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gcs_sync_plan(gcs_plan *plan, gcs_planner_stats *stats, gcs_genesys_session *session,
                  gcs_store *store, const gcs_planner_options *planner, const char *client_id,
                  const char *client_secret)
{
    int rc = gcs_planner_run_recorded(plan, stats, session->client, store, planner);
    if (rc == 0 && (rc = gcs_plan_seal(plan, client_id, client_secret)) < 0)
        gcs_plan_release(plan);
    return rc;
}

int gcs_sync_plan_applied(bool *done, gcs_run *run, gcs_store *store, const gcs_plan *plan)
{
    *done = false;
    memset(run, 0, sizeof *run);
    int rc = gcs_store_run_find_latest(run, store, gcs_plan_identity(plan));
    if (rc == GCS_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (strcmp(run->state, GCS_RUN_DONE) == 0)
        *done = true;
    else
        gcs_run_release(run);
    return 0;
}

void gcs_sync_options_init(gcs_sync_options *o)
{
    memset(o, 0, sizeof *o);
    gcs_plan_options_init(&o->plan);
}

/* The rows as NDJSON, one per line in subject order (leavers have none), so
 * that a rejected row's line says whose it was: line_of[i] is subject i's. */
static int rows_text(gcs_buf *out, long *line_of, const gcs_sync_subject *subjects, size_t n)
{
    long line = 0;
    for (size_t i = 0; i < n; i++) {
        line_of[i] = 0;
        if (!subjects[i].row)
            continue;
        if (!json_is_object(subjects[i].row))
            return gcs_error_set(GCS_EINVALID, "the row of '%s' is not a JSON object",
                                 subjects[i].key);
        char *text = json_dumps(subjects[i].row, JSON_COMPACT);
        if (!text)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        int rc = gcs_buf_puts(out, text);
        if (rc == 0)
            rc = gcs_buf_putc(out, '\n');
        free(text);
        if (rc < 0)
            return rc;
        line_of[i] = ++line;
    }
    return 0;
}

typedef struct apply_seen {
    json_t *by_key;   /* key -> {"outcome": apply outcome name, "genesys_id", "message"} */
} apply_seen;

static void on_apply_event(const gcs_apply_event *e, void *payload)
{
    apply_seen *s = payload;
    if (!e->key)
        return;
    json_object_set_new(s->by_key, e->key,
                        json_pack("{s:s,s:s?,s:s?}", "outcome", gcs_apply_outcome_name(e->outcome),
                                  "genesys_id", e->genesys_id, "message", e->message));
}

static const char *op_outcome(const char *kind)
{
    if (!kind)
        return GCS_SYNC_UPDATED;
    if (strcmp(kind, "create") == 0)
        return GCS_SYNC_CREATED;
    if (strcmp(kind, "deactivate") == 0)
        return GCS_SYNC_DEACTIVATED;
    if (strcmp(kind, "reactivate") == 0)
        return GCS_SYNC_REACTIVATED;
    return GCS_SYNC_UPDATED; /* update, adopt */
}

static json_t *find_op(const gcs_plan *plan, const char *key)
{
    size_t i;
    json_t *op;
    json_array_foreach(gcs_plan_operations(plan), i, op) {
        const char *k = json_string_value(json_object_get(op, "key"));
        if (k && strcmp(k, key) == 0)
            return op;
    }
    return NULL;
}

/* The rejection of the row on `line` ("NAME:LINE" locations), or NULL. */
static const json_t *find_rejection(const gcs_plan *plan, const char *name, long line)
{
    char location[256];
    snprintf(location, sizeof location, "%s:%ld", name, line);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(plan->doc, "rejected"), i, r) {
        const char *loc = json_string_value(json_object_get(r, "location"));
        if (loc && strcmp(loc, location) == 0)
            return r;
    }
    return NULL;
}

static const json_t *find_skip(const gcs_plan *plan, const char *key)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(plan->doc, "skipped"), i, s) {
        const char *k = json_string_value(json_object_get(s, "key"));
        if (k && strcmp(k, key) == 0)
            return s;
    }
    return NULL;
}

/* What happened to subject i, as {"key","outcome","genesys_id","detail"}. */
static json_t *subject_outcome(const gcs_plan *plan, const gcs_planner_stats *stats, bool lone,
                               const gcs_sync_subject *sub, long line, const char *name,
                               const json_t *applied, bool planned_only)
{
    const char *outcome = GCS_SYNC_UNCHANGED, *genesys_id = NULL;
    char detail[1024] = "";
    const json_t *rej = line ? find_rejection(plan, name, line) : NULL;
    json_t *op = find_op(plan, sub->key);
    if (rej) {
        const char *field = json_string_value(json_object_get(rej, "field"));
        outcome = GCS_SYNC_REJECTED;
        snprintf(detail, sizeof detail, "%s%s%s", field ? field : "", field ? ": " : "",
                 json_string_value(json_object_get(rej, "reason"))
                     ? json_string_value(json_object_get(rej, "reason"))
                     : "rejected");
    } else if (op) {
        const char *kind = json_string_value(json_object_get(op, "kind"));
        outcome = op_outcome(kind);
        genesys_id = json_string_value(json_object_get(op, "id"));
        if (kind && strcmp(kind, "adopt") == 0)
            snprintf(detail, sizeof detail, "adopted: an existing user is now managed");
        const json_t *a = applied ? json_object_get(applied, sub->key) : NULL;
        const char *ao = json_string_value(json_object_get(a, "outcome"));
        if (json_string_value(json_object_get(a, "genesys_id")))
            genesys_id = json_string_value(json_object_get(a, "genesys_id"));
        if (ao && (strcmp(ao, gcs_apply_outcome_name(GCS_APPLY_FAILED)) == 0 ||
                   strcmp(ao, gcs_apply_outcome_name(GCS_APPLY_DRIFT)) == 0)) {
            outcome = GCS_SYNC_FAILED;
            snprintf(detail, sizeof detail, "%s: %s", ao,
                     json_string_value(json_object_get(a, "message"))
                         ? json_string_value(json_object_get(a, "message"))
                         : "");
        } else if (!a && !planned_only) {
            outcome = GCS_SYNC_FAILED;
            snprintf(detail, sizeof detail, "the planned %s was not applied", kind ? kind : "change");
        }
    } else if (sub->row && lone && stats->untargeted > 0) {
        /* The planner saw the row but not for this key: it names another person. */
        outcome = GCS_SYNC_REJECTED;
        snprintf(detail, sizeof detail,
                 "the row's key (the profile's externalId column) is not '%s'", sub->key);
    } else if (sub->row && lone && stats->out_of_scope > 0) {
        snprintf(detail, sizeof detail, "out of the profile's scope: left alone");
    } else {
        const json_t *skip = find_skip(plan, sub->key);
        if (skip)
            snprintf(detail, sizeof detail, "%s",
                     json_string_value(json_object_get(skip, "why"))
                         ? json_string_value(json_object_get(skip, "why"))
                         : "left alone");
        else if (!sub->row)
            snprintf(detail, sizeof detail, "no active user managed by gcscim has this key");
    }
    return json_pack("{s:s,s:s,s:s?,s:s?}", "key", sub->key, "outcome", outcome, "genesys_id",
                     genesys_id, "detail", detail[0] ? detail : NULL);
}

typedef struct seq_list {
    json_t *seqs;
    json_t *ids;     /* source key -> a Genesys id a receipt names */
    json_t *all;     /* [seq, source key or null, Genesys id or null] in order */
} seq_list;

static int collect_seq(const gcs_receipt *r, void *payload)
{
    seq_list *l = payload;
    json_array_append_new(l->seqs, json_integer(r->seq));
    json_array_append_new(l->all, json_pack("[I,s?,s?]", (json_int_t)r->seq, r->source_key,
                                            r->genesys_id));
    if (r->source_key && r->genesys_id && !json_object_get(l->ids, r->source_key))
        json_object_set_new(l->ids, r->source_key, json_string(r->genesys_id));
    return 0;
}

/* The receipts that name a person: by their key, or by their Genesys id. */
static json_t *receipts_of_person(const seq_list *l, const char *key, const char *genesys_id)
{
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(l->all, i, r) {
        const char *k = json_string_value(json_array_get(r, 1));
        const char *id = json_string_value(json_array_get(r, 2));
        if ((k && strcmp(k, key) == 0) || (genesys_id && id && strcmp(id, genesys_id) == 0))
            json_array_append(out, json_array_get(r, 0));
    }
    return out;
}

static void learn_read(void *ctx, const char *key, const char *path)
{
    gcs_recorder_learn_path(ctx, key, path);
}

static int receipts_of(seq_list *l, gcs_store *store, const char *run_id)
{
    if (!run_id || !*run_id)
        return 0;
    gcs_receipt_filter f = {0};
    f.run_id = run_id;
    return gcs_store_receipts_each(store, &f, collect_seq, l);
}

typedef struct seen_user {
    const char *key;
    bool seen;
} seen_user;

static int names_a_user(const gcs_receipt *r, void *payload)
{
    seen_user *s = payload;
    bool created = r->status == 201 && r->method && strcmp(r->method, "POST") == 0 &&
                   r->resource_type && strcmp(r->resource_type, "user") == 0;
    if (r->source_key && (r->genesys_id || created) && strcmp(r->source_key, s->key) == 0) {
        s->seen = true;
        return 1; /* enough */
    }
    return 0;
}

/* Whether a receipt names this person with a Genesys user (gcscim found,
 * adopted or changed them before: the user's id) or their create succeeded:
 * their marker read will most likely find them. A store that cannot say
 * answers no: every read is sent then. */
static bool seen_before(gcs_store *store, const char *key)
{
    gcs_receipt_filter f = {.user = key, .limit = 20, .newest_first = true};
    seen_user s = {key, false};
    if (gcs_store_receipts_each(store, &f, names_a_user, &s) < 0)
        gcs_error_clear();
    return s.seen;
}

bool gcs_engine__all_approved(const json_t *needs)
{
    size_t i;
    json_t *n;
    json_array_foreach(needs, i, n) {
        if (!json_is_true(json_object_get(n, "approved")))
            return false;
    }
    return true;
}

void gcs_engine__notify_needs_approval(gcs_store *store, const gcs_plan *plan, const json_t *needs,
                                      json_t *subjects, json_t *groups,
                                      const gcs_sync_options *o)
{
    json_t *data = json_pack("{s:s,s:s,s:s?,s:s?,s:o,s:o*,s:O}", "command",
                             o->command ? o->command : "serve", "plan_id",
                             gcs_plan_identity(plan), "job_id", o->job_id, "actor", o->actor,
                             "subjects", subjects ? subjects : json_array(), "groups", groups,
                             "needs", needs);
    gcs_outbox_event ev = {"provisioning.needs_approval", data, o->notify, false, false};
    if (data && gcs_store_outbox_add(NULL, store, &ev) < 0)
        GCS_WARN("sync.notify_failed", "error", gcs_error_last());
    json_decref(data);
}

int gcs_sync_provision(json_t **result, gcs_genesys_session *session, gcs_store *store,
                       const gcs_sync_subject *subjects, size_t count,
                       const gcs_sync_options *o)
{
    *result = NULL;
    if (count == 0 || count > GCS_SYNC_SUBJECTS_MAX)
        return gcs_error_set(GCS_EINVALID, "provision needs 1 to %d people, not %zu",
                             GCS_SYNC_SUBJECTS_MAX, count);
    const char *name = "<rows>";
    int rc;
    gcs_buf text;
    gcs_buf_init(&text, (size_t)count * GCS_JOB_PAYLOAD_MAX);
    long *line_of = calloc(count, sizeof *line_of);
    const char **keys = calloc(count, sizeof *keys);
    const char **known = calloc(count, sizeof *known);
    json_t *subjects_out = json_array(), *needs = NULL, *doc = NULL;
    apply_seen seen = {json_object()};
    seq_list receipts = {json_array(), json_object(), json_array()};
    gcs_plan plan = {0};
    bool planned = false;
    if (!line_of || !keys || !known || !subjects_out || !seen.by_key || !receipts.seqs ||
        !receipts.ids || !receipts.all) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (!subjects[i].key || !*subjects[i].key) {
            rc = gcs_error_set(GCS_EINVALID, "person %zu has no key", i + 1);
            goto out;
        }
        keys[i] = subjects[i].key;
    }
    if ((rc = rows_text(&text, line_of, subjects, count)) < 0)
        goto out;

    gcs_planner_options po;
    gcs_planner_options_init(&po);
    po.source_path = name;
    po.source_data = text.ptr ? text.ptr : "";
    po.source_len = text.len;
    po.source_format = GCS_SOURCE_NDJSON;
    po.profile_path = o->profile_path;
    po.api_url = session->api_url;
    po.plan = o->plan;
    po.targets = keys;
    po.target_count = count;
    po.org_names = o->org_names;
    /* A new person costs one round trip of reads, then the create; a person
     * gcscim has met costs the marker's read alone, then the change. */
    po.lookups_at_once = true;
    size_t nknown = 0;
    for (size_t i = 0; i < count; i++) {
        if (subjects[i].row && seen_before(store, subjects[i].key))
            known[nknown++] = subjects[i].key;
    }
    po.likely_found = known;
    po.likely_found_count = nknown;
    gcs_planner_stats stats;
    gcs_recorder rec;
    gcs_recorder_attach(&rec, store, session->client, o->run_label);
    po.on_targeted_read = learn_read;
    po.on_targeted_read_ctx = &rec;
    rc = gcs_planner_run(&plan, &stats, session->client, &po);
    int rec_rc = gcs_recorder_detach(&rec);
    if (rc == 0 && rec_rc < 0) {
        gcs_plan_release(&plan);
        rc = rec_rc;
    }
    if (rc < 0)
        goto out;
    planned = true;
    /* Every plan is a plan of its own (its nonce): a later job whose plan
     * would read the same (a user deleted behind gcscim's back, then the same
     * row again) is not "already applied". The job is sealed too, and is part
     * of the content key the lease is taken on, so that jobs for different
     * people never wait for each other's lease.
     *
     * A retry of this job (its worker died; the job claimed again) plans again
     * from what Genesys holds now, and its plan is a new run rather than the
     * resumed one: resuming would need a nonce derived from the job, and buys
     * nothing here. The planner has just read every subject by marker, keys
     * and userName, which is the look-up a resumed create would make before
     * posting, so a create the dead attempt carried out is not planned again;
     * one still in Genesys's hands while we read meets 409 on a user with our
     * marker and this key (done, no second user), and a PATCH carries the
     * If-Match of the version read now (a conflict re-reads and finds it as
     * planned). Its receipts name the job ("job:ID", run_label) for the reads
     * of every attempt. */
    const char *job = o->job_id ? o->job_id : o->run_label;
    if (job) {
        if (json_object_set_new(plan.doc, "job", json_string(job)) < 0)
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        else
            rc = gcs_plan_finish(&plan);
        if (rc < 0)
            goto out;
    }

    const char *overall = NULL;
    gcs_apply_result ar;
    memset(&ar, 0, sizeof ar);
    needs = gcs_plan_needs(&plan, &o->plan);
    if (!gcs_engine__all_approved(needs)) {
        overall = GCS_SYNC_NEEDS_APPROVAL;
        if (o->notify) {
            json_t *named = json_array();
            for (size_t k = 0; named && k < count; k++)
                json_array_append_new(named, json_string(keys[k]));
            gcs_engine__notify_needs_approval(store, &plan, needs, named, NULL, o);
        }
    } else if (gcs_plan_size(&plan) + gcs_group_plan_count(&plan) > 0) {
        gcs_apply_options ao = {.command = o->command ? o->command : "serve",
                                .approval = o->plan,
                                .on_event = on_apply_event,
                                .payload = &seen,
                                .stop = o->stop,
                                .notify = o->notify,
                                .actor = o->actor,
                                .job_id = o->job_id,
                                .audit = o->audit,
                                .passwords_out = o->passwords_out};
        rc = gcs_apply_run(&ar, session->client, store, &plan, &ao);
        /* Operations that failed or drifted are the subjects' outcomes; any
         * other error stopped the run: the caller tries again later. */
        if (rc < 0 && !(rc == GCS_ERROR && ar.total > 0 && !ar.canary_stopped))
            goto out;
        rc = 0;
    }
    /* The planner's receipts, then apply's: the order they were made in. */
    if ((rc = receipts_of(&receipts, store, o->run_label)) < 0 ||
        (rc = receipts_of(&receipts, store, ar.run_id)) < 0)
        goto out;

    bool any_failed = false;
    for (size_t k = 0; k < count; k++) {
        const gcs_sync_subject *sub = &subjects[k];
        json_t *so;
        if (overall && strcmp(overall, GCS_SYNC_NEEDS_APPROVAL) == 0) {
            so = subject_outcome(&plan, &stats, count == 1, sub, line_of[k], name, NULL, true);
            /* Nothing was sent: what would have happened is not an outcome. */
            if (find_op(&plan, sub->key))
                json_object_set_new(so, "outcome", json_string(GCS_SYNC_NEEDS_APPROVAL));
        } else {
            so = subject_outcome(&plan, &stats, count == 1, sub, line_of[k], name,
                                 ar.already_applied ? NULL : seen.by_key, ar.already_applied);
        }
        if (!json_string_value(json_object_get(so, "genesys_id"))) {
            const char *id = json_string_value(json_object_get(receipts.ids, sub->key));
            if (id && strcmp(json_string_value(json_object_get(so, "outcome")),
                             GCS_SYNC_REJECTED) != 0)
                json_object_set_new(so, "genesys_id", json_string(id));
        }
        json_object_set_new(so, "receipts",
                            receipts_of_person(&receipts, sub->key,
                                               json_string_value(json_object_get(so, "genesys_id"))));
        any_failed |= strcmp(json_string_value(json_object_get(so, "outcome")), GCS_SYNC_FAILED) == 0;
        json_array_append_new(subjects_out, so);
    }
    if (!overall)
        overall = any_failed ? GCS_SYNC_FAILED
                  : count == 1
                      ? json_string_value(json_object_get(json_array_get(subjects_out, 0), "outcome"))
                      : "done";
    doc = json_pack("{s:s,s:O,s:s?,s:O}", "outcome", overall, "subjects", subjects_out, "run_id",
                    ar.run_id[0] ? ar.run_id : NULL, "receipts", receipts.seqs);
    if (doc && strcmp(overall, GCS_SYNC_NEEDS_APPROVAL) == 0)
        json_object_set(doc, "needs", needs);
    if (!doc)
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
out:
    if (rc == 0)
        *result = doc;
    else
        json_decref(doc);
    if (planned)
        gcs_plan_release(&plan);
    json_decref(needs);
    json_decref(subjects_out);
    json_decref(seen.by_key);
    json_decref(receipts.seqs);
    json_decref(receipts.ids);
    json_decref(receipts.all);
    gcs_buf_release(&text);
    free(line_of);
    free(keys);
    free(known);
    return rc;
}
