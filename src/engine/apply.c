#include "engine/apply.h"
#include "core/error.h"
#include "core/jsontext.h"
#include "core/log.h"
#include "core/redact.h"
#include "genesys/directory.h"
#include "engine/group_apply.h"
#include "engine/recorder.h"
#include "plan/group_plan.h"
#include "mapping/transform.h"
#include "core/time.h"
#include "mapping/profile.h"
#include "plan/diff.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <sys/random.h>
#include <time.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CONFLICT_REREADS 3

const char *gcs_apply_outcome_name(gcs_apply_outcome o)
{
    static const char *const names[] = {"done", "adopted", "noop", "skipped", "drift", "failed"};
    return (unsigned)o <= GCS_APPLY_FAILED ? names[o] : "?";
}

typedef struct applier applier;

typedef struct op_ctx { /* one per operation of the plan: pointers, then the small fields */
    applier *a;
    size_t index;              /* in the plan */
    json_t *op;                /* the plan's operation while it is being applied, or NULL */
    char *key;
    char *user_name;
    const char *item_state;    /* the item's state at the start (resume) */
    char *id;
    char *etag;
    char *password;            /* generated for this create; wiped when done */
    gcs_plan_kind kind;
    int rereads;
    int lookup_step;           /* which lookup key is being tried */
    bool has_manager;          /* a manager to set once the users exist */
    bool release_queued;       /* its operation is let go of at the next turn */
    bool create_retried;
    bool adopting;
    bool conflicted;           /* the create met a 409: only our own user is taken */
    bool finished;
    bool problem;              /* ended failed or drifted */
    bool canary;               /* among the operations applied first */
} op_ctx;
_Static_assert(sizeof(op_ctx) <= 96, "op_ctx: a million of them are held at once");

struct applier {
    gcs_http_client *client;
    gcs_store *store;
    const gcs_plan *plan;
    const gcs_apply_options *o;
    gcs_apply_result *result;
    const char *marker;        /* managed authority, from the create bodies */
    char run_id[80];
    op_ctx *ops;
    size_t count;
    /* The operations are read from the plan a window at a time (the engine's
     * queue holds no more than FEED_WINDOW calls), and let go of once done. */
    int phase;                 /* what feed() starts: PHASE_* */
    size_t next;               /* the next operation feed() looks at */
    op_ctx **idle;             /* finished operations whose text is let go of */
    size_t idle_count;
    json_t *item_states;       /* key -> state at start */
    gcs_recorder recorder;     /* receipts of every call */
    json_t *resumed_ids;       /* key -> id of the items a resumed run had done: handed to
                                * the operations once (the ids of the run: the recorder) */
    long finished;
    long problems;
    int fatal;                 /* a store failure stops the run */
    bool passwords;            /* the profile asks for passwords */
    /* The run is the plan's (found by its identity); the lease, one run of
     * these changes at a time, is on its content key, which every plan of the
     * same changes shares (two terminals syncing one export at once). */
    const char *identity;
    const char *lease_key;
    char owner[400];
    bool leased;
    bool lease_lost;
    int64_t lease_ms, next_renew_ms;
    /* Stopping on request: nothing new is sent. */
    bool stopping;
    bool canary_only;          /* phases run the canary's operations alone */
    long canary_bad;           /* canary operations that failed or did not hold */
    char canary_why[512];      /* the first reason */
    int64_t stop_deadline_ms;
    gcs_password_policy policy;
    FILE *passwords_out;
    json_t *notified;          /* event type -> how many outcomes of it (run.finished) */
};

/* ==== Bookkeeping ==== */

enum { PHASE_NONE, PHASE_CREATES, PHASE_CHANGES, PHASE_MANAGERS };
#define FEED_WINDOW 256

/* The operation, read again from the plan when it is needed. A plan whose
 * file cannot be read back stops the run (resumable). */
static json_t *op_of(op_ctx *c)
{
    if (c->op)
        return c->op;
    c->op = gcs_plan_op_at(c->a->plan, c->index);
    if (!c->op && !c->a->fatal) {
        c->a->fatal = gcs_error_last_code() ? gcs_error_last_code() : GCS_EIO;
        GCS_ERR("apply.plan_unreadable", "key", c->key, "error", gcs_error_last());
        gcs_http_cancel(c->a->client);
    }
    return c->op;
}

/* The plan's file could not be read back: the run stops (resumable). */
static void fail_plan_unreadable(op_ctx *c)
{
    if (!c->a->fatal) {
        c->a->fatal = gcs_error_last_code() ? gcs_error_last_code() : GCS_EIO;
        GCS_ERR("apply.plan_unreadable", "key", c->key, "error", gcs_error_last());
        gcs_http_cancel(c->a->client);
    }
}

/* Lets go of an operation's text at the next turn of the loop (not now: the
 * callback that finished it may still read it). */
static void release_later(op_ctx *c)
{
    if (c->release_queued || !c->op)
        return;
    c->release_queued = true;
    c->a->idle[c->a->idle_count++] = c;
}

static void release_idle(applier *a)
{
    for (size_t i = 0; i < a->idle_count; i++) {
        op_ctx *c = a->idle[i];
        json_decref(c->op);
        c->op = NULL;
        c->release_queued = false;
    }
    a->idle_count = 0;
}

static void set_str(char **field, const char *value)
{
    char *copy = value ? strdup(value) : NULL;
    free(*field);
    *field = copy;
}

static void learn_id(applier *a, const char *key, const char *id, const char *user_name)
{
    gcs_recorder_learn(&a->recorder, key, id, user_name);
}

/* ==== Outcomes: notifications and audit ==== */

/* The event an outcome is: what happened to the person, or that it failed. */
static const char *outcome_event(gcs_plan_kind kind, gcs_apply_outcome outcome)
{
    if (outcome == GCS_APPLY_FAILED || outcome == GCS_APPLY_DRIFT)
        return "provisioning.failed";
    switch (kind) {
    case GCS_PLAN_CREATE:
        return outcome == GCS_APPLY_ADOPTED ? "user.updated" : "user.created";
    case GCS_PLAN_DEACTIVATE:
        return "user.deactivated";
    case GCS_PLAN_REACTIVATE:
        return "user.reactivated";
    default:
        return "user.updated";
    }
}

/* The last segment of an attribute path: "password" of
 * "urn:ietf:params:scim:schemas:core:2.0:User:password". */
static bool sensitive_attribute(const char *path)
{
    const char *last = path;
    for (const char *p = path; *p; p++)
        if (*p == ':' || *p == '.')
            last = p + 1;
    return gcs_redact_is_sensitive_key(path) || gcs_redact_is_sensitive_key(last);
}

json_t *gcs_apply_told_changes(const json_t *op)
{
    json_t *out = json_array(), *ch;
    size_t i;
    json_array_foreach(json_object_get(op, "changes"), i, ch) {
        const char *attr = json_string_value(json_object_get(ch, "attribute"));
        if (!attr || sensitive_attribute(attr))
            continue;
        json_t *value = json_object_get(ch, "new");
        /* Only an object or an array can hold a sensitive key; a plain value
         * named by a harmless attribute is told as it is. */
        json_t *clean = !value                                      ? json_null()
                        : json_is_object(value) || json_is_array(value) ? gcs_redact_json(value)
                                                                        : json_incref(value);
        json_array_append_new(out, json_pack("{s:s,s:o}", "attribute", attr, "value",
                                             clean ? clean : json_null()));
    }
    return out;
}

/* The operation's changes as told: from its parsed text when it is at hand,
 * else that member alone (a create never parses its operation). */
static json_t *changed_attributes(op_ctx *c)
{
    static const char *const wanted[] = {"changes"};
    json_t *part = c->op ? json_incref(c->op) : gcs_plan_op_part_at(c->a->plan, c->index, wanted, 1);
    json_t *out = gcs_apply_told_changes(part);
    json_decref(part);
    return out;
}

/* Records an item's outcome, its notification and its audit line in one
 * transaction (queued behind the operation's receipts). */
static int mark_outcome(op_ctx *c, gcs_apply_outcome outcome, const char *state,
                        const char *detail)
{
    applier *a = c->a;
    const char *type = outcome_event(c->kind, outcome);
    if (!a->o->notify && !(a->o->audit && gcs_log_enabled(GCS_LOG_INFO))) /* nobody to tell */
        return gcs_store_item_mark_queued(a->store, a->run_id, c->key, state, c->id, detail);
    json_t *data = json_pack("{s:s,s:s?,s:s?,s:s,s:s,s:o,s:s,s:s?,s:s?,s:s?}", "source_key",
                             c->key, "genesys_id", c->id, "userName", c->user_name, "operation",
                             gcs_plan_kind_name(c->kind), "outcome",
                             gcs_apply_outcome_name(outcome), "changes", changed_attributes(c),
                             "run_id", a->run_id, "job_id", a->o->job_id, "actor", a->o->actor,
                             "detail", outcome == GCS_APPLY_FAILED || outcome == GCS_APPLY_DRIFT
                                           ? detail
                                           : NULL);
    if (!data)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    gcs_outbox_event ev = {type, data, a->o->notify, true, a->o->audit};
    int rc = gcs_store_item_mark_notify(a->store, a->run_id, c->key, state, c->id, detail, &ev);
    json_decref(data);
    if (rc == 0) {
        json_int_t n = json_integer_value(json_object_get(a->notified, type));
        json_object_set_new(a->notified, type, json_integer(n + 1));
    }
    return rc;
}

/* The run's end, with its counts, in the transaction that records it. */
static int finish_run(applier *a, const char *state)
{
    if (strcmp(state, GCS_RUN_DONE) != 0 && strcmp(state, GCS_RUN_FAILED) != 0)
        return gcs_store_run_finish(a->store, a->run_id, state);
    const gcs_apply_result *r = a->result;
    json_t *data = json_pack(
        "{s:s,s:s,s:s?,s:s?,s:s?,s:s,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:O}", "run_id", a->run_id,
        "command", a->o->command ? a->o->command : "apply", "plan_id", a->identity, "job_id",
        a->o->job_id, "actor", a->o->actor, "state", state, "counts", "total", (json_int_t)r->total,
        "done", (json_int_t)r->counts[GCS_APPLY_DONE], "adopted",
        (json_int_t)r->counts[GCS_APPLY_ADOPTED], "unchanged", (json_int_t)r->counts[GCS_APPLY_NOOP],
        "skipped", (json_int_t)r->counts[GCS_APPLY_SKIPPED], "drift",
        (json_int_t)r->counts[GCS_APPLY_DRIFT], "failed", (json_int_t)r->counts[GCS_APPLY_FAILED],
        "events", a->notified);
    if (!data)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    gcs_outbox_event ev = {"run.finished", data, a->o->notify, false, a->o->audit};
    int rc = gcs_store_run_finish_notify(a->store, a->run_id, state, &ev);
    json_decref(data);
    return rc;
}

/* A plan that waits for an approval is an outcome too: nothing was sent, and
 * someone must approve (the flags are in "needs"). The refusal's message is
 * kept for the caller. */
static void notify_needs_approval(gcs_store *store, const gcs_plan *plan,
                                  const gcs_apply_options *o)
{
    char why[1024];
    snprintf(why, sizeof why, "%s", gcs_error_last());
    json_t *data = json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:o}", "command",
                             o->command ? o->command : "apply", "plan_id",
                             gcs_plan_identity(plan), "job_id", o->job_id, "actor", o->actor,
                             "detail", why, "needs", gcs_plan_needs(plan, &o->approval));
    gcs_outbox_event ev = {"provisioning.needs_approval", data, o->notify, false, o->audit};
    if (data && gcs_store_outbox_add(NULL, store, &ev) < 0)
        GCS_WARN("apply.notify_failed", "error", gcs_error_last());
    json_decref(data);
    gcs_error_set(GCS_EREFUSED, "%s", why);
}

/* The same, stopping the run when the store fails. */
static void record_outcome(op_ctx *c, gcs_apply_outcome outcome, const char *state,
                           const char *detail)
{
    applier *a = c->a;
    if (a->fatal)
        return;
    int rc = mark_outcome(c, outcome, state, detail);
    if (rc < 0) {
        a->fatal = rc;
        GCS_ERR("apply.store_failed", "key", c->key, "error", gcs_error_last());
        gcs_http_cancel(a->client);
    }
}

/* Records an item's state, queued behind its call's receipt and committed
 * with the writer's next batch. An in_progress mark (a create about to be
 * sent) is made durable by the engine's start barrier before the POST leaves
 * (start_barrier); an outcome lost in a crash is established again by the
 * resume (a create looked up, a PATCH met by its version conflict and re-read). */
static void mark(op_ctx *c, const char *state, const char *detail)
{
    applier *a = c->a;
    if (a->fatal)
        return;
    int rc = gcs_store_item_mark_queued(a->store, a->run_id, c->key, state, c->id, detail);
    if (rc < 0) {
        a->fatal = rc;
        GCS_ERR("apply.store_failed", "key", c->key, "error", gcs_error_last());
        gcs_http_cancel(a->client);
    }
}

static void forget_password(op_ctx *c)
{
    if (c->password) {
        explicit_bzero(c->password, strlen(c->password));
        free(c->password);
        c->password = NULL;
    }
}

static void finish(op_ctx *c, gcs_apply_outcome outcome, const char *message)
{
    applier *a = c->a;
    if (c->finished)
        return;
    c->finished = true;
    forget_password(c);
    release_later(c);
    /* The one place an outcome becomes durable: with its notification. */
    bool bad = outcome == GCS_APPLY_FAILED || outcome == GCS_APPLY_DRIFT;
    if (bad) {
        c->problem = true;
        a->problems++;
    }
    if (outcome != GCS_APPLY_SKIPPED)
        record_outcome(c, outcome, bad ? GCS_ITEM_FAILED : GCS_ITEM_DONE,
                       bad ? message : gcs_apply_outcome_name(outcome));
    a->result->counts[outcome]++;
    a->finished++;
    if (outcome == GCS_APPLY_FAILED || outcome == GCS_APPLY_DRIFT)
        GCS_WARN("apply.problem", "key", c->key, "kind", gcs_plan_kind_name(c->kind), "outcome",
                 gcs_apply_outcome_name(outcome), "message", message);
    if (a->o->on_event) {
        gcs_apply_event e = {outcome,      gcs_plan_kind_name(c->kind), c->key, c->user_name,
                             c->id,        message,                     a->finished,
                             a->result->total, a->problems};
        a->o->on_event(&e, a->o->payload);
    }
}

static void fail_with(op_ctx *c, const gcs_http_client_response *res, const char *what)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", what, res->message);
    finish(c, GCS_APPLY_FAILED, msg);
}

static json_t *desired_of(op_ctx *c)
{
    return json_object_get(op_of(c), "desired");
}

static json_t *skip_of(op_ctx *c)
{
    return json_object_get(op_of(c), "skip");
}

/* ==== Submitting ==== */

/* Whether a finished call was one the stop cancelled before it was sent: the
 * operation is then left as it is, for the resume. A 403 or a daily limit stops
 * the engine too, and fails the calls still queued without sending them: those
 * are not failures of their operations (marked failed, a resume would look each
 * one up before creating it), only calls the stop kept back. */
static bool left_for_resume(const op_ctx *c, const gcs_http_client_response *res)
{
    if (c->a->stopping && res->outcome == GCS_HTTP_CANCELLED)
        return true;
    return res->attempts == 0 &&
           (res->outcome == GCS_HTTP_FORBIDDEN || res->outcome == GCS_HTTP_DAILY_LIMIT);
}

static void submit_req(op_ctx *c, gcs_http_client_request *req, gcs_http_done_fn done)
{
    if (c->a->stopping)
        return; /* stopping: nothing new goes out; the resume does it */
    if (gcs_http_submit(c->a->client, req, done, c) < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "cannot queue %s %s: %s", req->method, req->path,
                 gcs_error_last());
        finish(c, GCS_APPLY_FAILED, msg);
    }
    c->a->result->requests++;
}

static void submit(op_ctx *c, const char *method, const char *path, const json_t *body,
                   const char *if_match, gcs_http_done_fn done)
{
    /* A create that carries a password: the engine wipes its copies. */
    gcs_http_client_request req = {.method = method, .path = path, .json = body, .if_match = if_match,
                                   .sensitive = c->password != NULL};
    submit_req(c, &req, done);
}

static void user_path(char *out, size_t outsz, const char *id)
{
    snprintf(out, outsz, GCS_SCIM_USERS "/%s", id);
}

/* A PATCH's answer is the user, of which only the new version matters (the
 * ETag, else meta.version): the engine leaves it unparsed (take_version). */
static void submit_patch(op_ctx *c, json_t *ops, gcs_http_done_fn done)
{
    char path[300];
    user_path(path, sizeof path, c->id);
    json_t *body = gcs_diff_patch_body(ops);
    gcs_http_client_request req = {.method = "PATCH", .path = path, .json = body,
                                   .if_match = c->etag, .flags = GCS_HTTP_REQ_NO_JSON,
                                   .sensitive = c->password != NULL};
    submit_req(c, &req, done);
    json_decref(body);
}

static void take_version(op_ctx *c, const gcs_http_client_response *res)
{
    if (res->etag) {
        set_str(&c->etag, res->etag);
        return;
    }
    /* No ETag header: the version in the body, parsed here if the engine did not. */
    json_t *own = res->json || res->body.len == 0 ? NULL
                                                  : json_loadb(res->body.ptr, res->body.len, 0, NULL);
    const json_t *user = res->json ? res->json : own;
    char *e = user ? gcs_directory_user_etag(user) : NULL;
    if (e)
        set_str(&c->etag, e);
    free(e);
    json_decref(own);
}

/* ==== Conflicts: re-read, re-diff, decide ==== */

static bool same_value(const json_t *x, const json_t *y)
{
    if (!x || json_is_null(x))
        return !y || json_is_null(y);
    if (json_is_number(x) && json_is_number(y))
        return json_number_value(x) == json_number_value(y);
    if (json_is_string(x) && json_is_string(y))
        return strcasecmp(json_string_value(x), json_string_value(y)) == 0;
    return json_equal((json_t *)x, (json_t *)y);
}

/* Is every remaining difference one the plan made, from the value it saw? */
static bool only_planned(const json_t *remaining, const json_t *planned)
{
    size_t i, j;
    json_t *r, *p;
    json_array_foreach(remaining, i, r) {
        const char *attr = json_string_value(json_object_get(r, "attribute"));
        bool found = false;
        json_array_foreach(planned, j, p) {
            const char *pa = json_string_value(json_object_get(p, "attribute"));
            if (attr && pa && strcmp(attr, pa) == 0) {
                found = same_value(json_object_get(r, "old"), json_object_get(p, "old"));
                break;
            }
        }
        if (!found)
            return false;
    }
    return true;
}

static void on_patch_done(const gcs_http_client_response *res, void *payload);

static void on_reread(const gcs_http_client_response *res, void *payload)
{
    op_ctx *c = payload;
    if (left_for_resume(c, res))
        return;
    if (res->error) {
        fail_with(c, res, "cannot re-read the user after a version conflict");
        return;
    }
    take_version(c, res);
    json_t *ops = NULL, *changes = NULL;
    if (gcs_diff_user(&ops, &changes, desired_of(c), res->json, skip_of(c)) < 0) {
        finish(c, GCS_APPLY_FAILED, gcs_error_last());
        return;
    }
    if (json_array_size(ops) == 0) {
        finish(c, c->kind == GCS_PLAN_ADOPT ? GCS_APPLY_ADOPTED
                  : c->adopting            ? GCS_APPLY_DONE
                                           : GCS_APPLY_NOOP,
               NULL);
    } else if (c->adopting || only_planned(changes, json_object_get(op_of(c), "changes"))) {
        submit_patch(c, ops, on_patch_done);
    } else {
        char *text = json_dumps(changes, JSON_COMPACT);
        char msg[1024];
        snprintf(msg, sizeof msg, "changed in Genesys since the plan; left alone: %s",
                 text ? text : "");
        free(text);
        finish(c, GCS_APPLY_DRIFT, msg);
    }
    json_decref(ops);
    json_decref(changes);
}

static void reread(op_ctx *c)
{
    char path[300];
    user_path(path, sizeof path, c->id);
    submit(c, "GET", path, NULL, NULL, on_reread);
}

static void on_patch_done(const gcs_http_client_response *res, void *payload)
{
    op_ctx *c = payload;
    if (left_for_resume(c, res))
        return;
    if (res->error == 0) {
        take_version(c, res);
        finish(c, c->kind == GCS_PLAN_ADOPT ? GCS_APPLY_ADOPTED : GCS_APPLY_DONE, NULL);
    } else if (res->outcome == GCS_HTTP_VERSION_CONFLICT && c->rereads < MAX_CONFLICT_REREADS) {
        c->rereads++;
        reread(c);
    } else if (res->outcome == GCS_HTTP_NOT_FOUND) {
        finish(c, GCS_APPLY_DRIFT, "the user no longer exists in Genesys");
    } else {
        fail_with(c, res, "PATCH failed");
    }
}

/* ==== Creates ==== */

static void post_create(op_ctx *c);
static void look_up(op_ctx *c);

/* Whether `user` carries this plan's managed marker with value `key`: a user
 * gcscim created (or adopted) for this person. */
static bool carries_marker(const json_t *user, const char *marker, const char *key)
{
    size_t i;
    json_t *e;
    if (!marker || !key)
        return false;
    json_array_foreach(json_object_get(json_object_get(user, GCS_SCIM_GENESYS_USER), "externalIds"),
                       i, e) {
        const char *authority = json_string_value(json_object_get(e, "authority"));
        const char *value = json_string_value(json_object_get(e, "value"));
        if (authority && value && strcmp(authority, marker) == 0 && strcmp(value, key) == 0)
            return true;
    }
    return false;
}

/* A create found its user already there: ours (an earlier attempt of this
 * plan: finish what it planned), or somebody else's (drift, left alone). */
static void found_existing(op_ctx *c, const json_t *user)
{
    const char *id = json_string_value(json_object_get(user, "id"));
    if (c->a->marker && !carries_marker(user, c->a->marker, c->key)) {
        char msg[768];
        snprintf(msg, sizeof msg,
                 "userName %s is taken by user %s, which the plan did not foresee and gcscim does "
                 "not manage: left alone",
                 c->user_name ? c->user_name : "?", id ? id : "?");
        set_str(&c->id, NULL);
        finish(c, GCS_APPLY_DRIFT, msg);
        return;
    }
    set_str(&c->id, id);
    char *etag = gcs_directory_user_etag(user);
    set_str(&c->etag, etag);
    free(etag);
    learn_id(c->a, c->key, c->id, c->user_name);
    c->adopting = true; /* a conflict re-reads and applies what remains */
    json_t *ops = NULL, *changes = NULL;
    if (gcs_diff_user(&ops, &changes, desired_of(c) ? desired_of(c) : json_object_get(op_of(c), "body"),
                      user, skip_of(c)) < 0) {
        finish(c, GCS_APPLY_FAILED, gcs_error_last());
        return;
    }
    if (json_array_size(ops) == 0)
        finish(c, GCS_APPLY_DONE, NULL);
    else
        submit_patch(c, ops, on_patch_done);
    json_decref(ops);
    json_decref(changes);
}

/* Lookups, in order: the managed marker (ours), then the userName. */
static char *lookup_filter(op_ctx *c, int step)
{
    if (step == 0 && c->a->marker) {
        char key[300];
        snprintf(key, sizeof key, "externalIds.%s", c->a->marker);
        return gcs_directory_filter_for(key, c->key);
    }
    if (step <= 1 && c->user_name)
        return gcs_directory_filter_for("userName", c->user_name);
    return NULL;
}

static void on_lookup(const gcs_http_client_response *res, void *payload)
{
    op_ctx *c = payload;
    if (left_for_resume(c, res))
        return;
    if (res->error) {
        fail_with(c, res, "cannot look the user up");
        return;
    }
    /* Several matches: adopting one of them could write to the wrong person. */
    char *filter = lookup_filter(c, c->lookup_step);
    json_t *found = NULL;
    int rc = gcs_directory_found_user(&found, res->json, filter ? filter : "");
    free(filter);
    if (rc < 0) {
        finish(c, GCS_APPLY_FAILED, gcs_error_last());
        return;
    }
    if (found) {
        found_existing(c, found);
        return;
    }
    c->lookup_step++;
    look_up(c);
}

static void look_up(op_ctx *c)
{
    char *filter = NULL;
    gcs_error_clear();
    while (c->lookup_step < 2 && !(filter = lookup_filter(c, c->lookup_step))) {
        /* Out of memory is not "nobody there": that would create the user twice. */
        if (gcs_error_last_code() == GCS_ENOMEM) {
            finish(c, GCS_APPLY_FAILED, "cannot look the user up: out of memory");
            return;
        }
        c->lookup_step++;
    }
    if (!filter) {
        /* Nobody there. */
        if (c->conflicted) {
            finish(c, GCS_APPLY_FAILED, "the create met a conflict, but no such user was found");
            return;
        }
        /* The earlier attempt did not happen: send it (once more). */
        post_create(c);
        return;
    }
    char *path = gcs_directory_find_path(filter);
    free(filter);
    if (!path) {
        finish(c, GCS_APPLY_FAILED, "out of memory");
        return;
    }
    gcs_recorder_learn_path(&c->a->recorder, c->key, path);
    submit(c, "GET", path, NULL, NULL, on_lookup);
    free(path);
}

/* The new user's id: read from the answer's text (the engine leaves a
 * create's answer unparsed), parsed only when the text needs it. */
static void set_id_from_answer(op_ctx *c, const gcs_http_client_response *res)
{
    char id[256];
    if (res->json) {
        set_str(&c->id, json_string_value(json_object_get(res->json, "id")));
        return;
    }
    int found = res->body.len ? gcs_json_text_top_string(id, sizeof id, res->body.ptr, "id") : 0;
    if (found > 0) {
        set_str(&c->id, id);
    } else if (found < 0) {
        json_t *user = json_loadb(res->body.ptr, res->body.len, 0, NULL);
        set_str(&c->id, json_string_value(json_object_get(user, "id")));
        json_decref(user);
    } else {
        set_str(&c->id, NULL);
    }
}

static void on_create_done(const gcs_http_client_response *res, void *payload)
{
    op_ctx *c = payload;
    if (left_for_resume(c, res))
        return;
    if (res->error == 0) {
        set_id_from_answer(c, res);
        take_version(c, res);
        learn_id(c->a, c->key, c->id, c->user_name);
        if (c->password && c->a->passwords_out) {
            fprintf(c->a->passwords_out, "%s,%s,%s\n", c->key, c->user_name ? c->user_name : "",
                    c->password);
            fflush(c->a->passwords_out);
        }
        finish(c, GCS_APPLY_DONE, NULL);
    } else if (res->outcome == GCS_HTTP_UNIQUENESS_CONFLICT) {
        /* Not foreseen by the plan: our own earlier create (found by the
         * marker), or somebody else's user (drift). */
        c->conflicted = true;
        c->lookup_step = 0;
        look_up(c);
    } else if (res->outcome == GCS_HTTP_OUTCOME_UNKNOWN && !c->create_retried) {
        c->create_retried = true;
        c->lookup_step = 0;
        look_up(c);
    } else {
        fail_with(c, res, "create failed");
    }
}

/* The create is among the next to go on the wire: its intent is durable before
 * the bytes leave (the start barrier below commits it), so a resumed run that
 * finds it looks the user up instead of creating again (and looks up only
 * those: the creates in flight and the engine's next ones, not every create
 * queued). */
static int create_on_wire(void *payload)
{
    op_ctx *c = payload;
    mark(c, GCS_ITEM_IN_PROGRESS, "create sent");
    return c->a->fatal ? -1 : 0;
}

/* After the on_start hooks of the creates the engine sends next (up to
 * max_in_flight of them), before any of them leaves: their in_progress marks
 * (and the receipts and marks queued before them) committed in one
 * transaction. */
static int start_barrier(void *payload)
{
    applier *a = payload;
    if (a->fatal)
        return -1;
    int rc = gcs_store_flush(a->store);
    if (rc < 0) {
        a->fatal = rc;
        GCS_ERR("apply.store_failed", "error", gcs_error_last());
        gcs_http_cancel(a->client);
        return -1;
    }
    return 0;
}

static void post_create(op_ctx *c)
{
    gcs_http_client_request req = {.method = "POST", .path = GCS_SCIM_USERS,
                                   .on_start = create_on_wire, .flags = GCS_HTTP_REQ_NO_JSON};
    if (c->a->fatal || c->a->stopping)
        return;
    if (!c->a->passwords) {
        /* The body goes out as the plan keeps it: no parse, no serialisation. */
        char *body = gcs_plan_member_text_at(c->a->plan, c->index, "body");
        if (!body) {
            fail_plan_unreadable(c);
            return;
        }
        req.body = body;
        submit_req(c, &req, on_create_done);
        free(body);
        return;
    }
    char pw[129];
    if (gcs_password_generate(pw, sizeof pw, &c->a->policy) < 0) {
        finish(c, GCS_APPLY_FAILED, gcs_error_last());
        return;
    }
    forget_password(c);
    c->password = strdup(pw);
    json_t *body = json_copy(json_object_get(op_of(c), "body"));
    /* Without its copy or its password the body must not be sent: a user
     * created without the password we record would be unreachable. */
    if (!c->password || !body || json_object_set_new(body, "password", json_string(pw)) < 0) {
        explicit_bzero(pw, sizeof pw);
        json_decref(body);
        forget_password(c);
        finish(c, GCS_APPLY_FAILED, "out of memory");
        return;
    }
    explicit_bzero(pw, sizeof pw);
    req.json = body;
    req.sensitive = true; /* the engine wipes its copies */
    submit_req(c, &req, on_create_done);
    /* The engine copied the request; overwrite our copy before it is freed. */
    size_t n = json_string_length(json_object_get(body, "password"));
    char blank[129];
    memset(blank, '*', n < sizeof blank ? n : sizeof blank - 1);
    blank[n < sizeof blank ? n : sizeof blank - 1] = '\0';
    json_string_set(json_object_get(body, "password"), blank);
    json_decref(body);
}

static void start_create(op_ctx *c)
{
    if (c->item_state && (strcmp(c->item_state, GCS_ITEM_IN_PROGRESS) == 0 ||
                          strcmp(c->item_state, GCS_ITEM_FAILED) == 0)) {
        c->lookup_step = 0;
        c->create_retried = true;
        look_up(c);
    } else {
        post_create(c);
    }
}

/* ==== Managers of new users ==== */

static void set_manager(op_ctx *c);

static void manager_failed(op_ctx *c, const char *message)
{
    applier *a = c->a;
    GCS_WARN("apply.manager_failed", "key", c->key, "message", message);
    a->problems++;
    c->problem = true;
    char msg[512];
    snprintf(msg, sizeof msg, "manager not set: %s", message);
    /* The user was told as created or updated; that its manager could not be
     * set is an outcome of its own. */
    record_outcome(c, GCS_APPLY_FAILED, GCS_ITEM_FAILED, msg);
    release_later(c);
}

static const char *planned_manager(op_ctx *c)
{
    const char *mkey = json_string_value(json_object_get(op_of(c), "manager_key"));
    return gcs_recorder_id_of(&c->a->recorder, mkey);
}

/* After a conflict: the user as it is now. Already the planned manager (a
 * PATCH that Genesys carried out although it answered 504, or an earlier run
 * of this plan) is success; else the PATCH goes again with the new version. */
static void on_manager_reread(const gcs_http_client_response *res, void *payload)
{
    op_ctx *c = payload;
    if (left_for_resume(c, res))
        return;
    if (res->error) {
        manager_failed(c, res->message);
        return;
    }
    take_version(c, res);
    const char *now = json_string_value(json_object_get(
        json_object_get(json_object_get(res->json, GCS_SCIM_ENTERPRISE_USER), "manager"), "value"));
    const char *want = planned_manager(c);
    if (now && want && strcmp(now, want) == 0) {
        release_later(c);
        return; /* as planned */
    }
    set_manager(c);
}

static void on_manager_done(const gcs_http_client_response *res, void *payload)
{
    op_ctx *c = payload;
    if (left_for_resume(c, res))
        return;
    if (res->error == 0) {
        take_version(c, res);
        release_later(c);
    } else if (res->outcome == GCS_HTTP_VERSION_CONFLICT && c->rereads < MAX_CONFLICT_REREADS) {
        c->rereads++;
        char path[300];
        user_path(path, sizeof path, c->id);
        submit(c, "GET", path, NULL, NULL, on_manager_reread);
    } else {
        manager_failed(c, res->message);
    }
}

static void set_manager(op_ctx *c)
{
    const char *mkey = json_string_value(json_object_get(op_of(c), "manager_key"));
    const char *mid = planned_manager(c);
    if (!c->id)
        return;
    if (!mid) {
        GCS_WARN("apply.manager_unknown", "key", c->key, "manager", mkey);
        c->a->problems++;
        release_later(c);
        return;
    }
    json_t *ops = json_pack("[{s:s,s:s,s:{s:s}}]", "op", "replace", "path",
                            GCS_SCIM_ENTERPRISE_USER ":manager", "value", "value", mid);
    submit_patch(c, ops, on_manager_done);
    json_decref(ops);
}

/* ==== Updates, reactivations, adoptions, deactivations ==== */

static void start_change_with(op_ctx *c, json_t *op);

/* A deactivation is checked against the user as it is now: only an active
 * user that carries the managed marker with this operation's key is
 * deactivated, whatever the plan file says. */
static void on_deactivate_read(const gcs_http_client_response *res, void *payload)
{
    op_ctx *c = payload;
    if (left_for_resume(c, res))
        return;
    if (res->outcome == GCS_HTTP_NOT_FOUND) {
        finish(c, GCS_APPLY_DRIFT, "the user no longer exists in Genesys");
        return;
    }
    if (res->error) {
        fail_with(c, res, "cannot read the user before deactivating it");
        return;
    }
    if (!carries_marker(res->json, c->a->marker, c->key)) {
        finish(c, GCS_APPLY_DRIFT, "not managed by gcscim (no managed marker with this key), "
                                   "left alone");
        return;
    }
    if (json_is_false(json_object_get(res->json, "active"))) {
        finish(c, GCS_APPLY_NOOP, NULL);
        return;
    }
    submit_patch(c, json_object_get(op_of(c), "operations"), on_patch_done);
}

/* An update, a reactivation or an adoption as the plan keeps it: its PATCH's
 * body is written around the operations' text, which goes on the wire as the
 * plan holds it (no parse, no serialisation; what JSON_COMPACT writes of the
 * same body). */
static void start_change_from_text(op_ctx *c)
{
    static const char *const wanted[] = {"managed", "operations"};
    char *texts[2];
    if (gcs_plan_member_texts_at(c->a->plan, c->index, wanted, 2, texts) < 0) {
        fail_plan_unreadable(c);
        return;
    }
    bool unmanaged = texts[0] && strcmp(texts[0], "false") == 0;
    const char *ops = texts[1];
    bool none = !ops || ops[0] != '[' || strcmp(ops, "[]") == 0; /* as json_array_size */
    if (unmanaged && c->kind != GCS_PLAN_ADOPT) {
        finish(c, GCS_APPLY_DRIFT, "not managed by gcscim and not planned as an adoption: left alone");
    } else if (!c->id) {
        finish(c, GCS_APPLY_FAILED, "the operation names no user id");
    } else {
        if (c->kind == GCS_PLAN_ADOPT)
            c->adopting = true;
        if (none) {
            finish(c, GCS_APPLY_NOOP, NULL); /* only a manager to set, in the last phase */
        } else {
            static const char head[] = "{\"schemas\":[\"" GCS_SCIM_PATCHOP "\"],\"Operations\":";
            size_t n = sizeof head + strlen(ops) + 1;
            char *body = malloc(n);
            if (!body) {
                finish(c, GCS_APPLY_FAILED, "out of memory");
            } else {
                snprintf(body, n, "%s%s}", head, ops);
                char path[300];
                user_path(path, sizeof path, c->id);
                gcs_http_client_request req = {.method = "PATCH", .path = path, .body = body,
                                               .if_match = c->etag, .flags = GCS_HTTP_REQ_NO_JSON};
                submit_req(c, &req, on_patch_done);
                free(body);
            }
        }
    }
    free(texts[0]);
    free(texts[1]);
}

static void start_change(op_ctx *c)
{
    if (!c->op && c->kind != GCS_PLAN_DEACTIVATE && !c->password) {
        start_change_from_text(c);
        return;
    }
    /* What the PATCH needs, without the desired state (read only on a conflict). */
    static const char *const wanted[] = {"managed", "operations"};
    json_t *part = c->op ? json_incref(c->op)
                         : gcs_plan_op_part_at(c->a->plan, c->index, wanted, 2);
    if (!part) {
        fail_plan_unreadable(c);
        return;
    }
    start_change_with(c, part);
    json_decref(part);
}

static void start_change_with(op_ctx *c, json_t *op)
{
    if (json_is_false(json_object_get(op, "managed")) && c->kind != GCS_PLAN_ADOPT) {
        finish(c, GCS_APPLY_DRIFT,
               "not managed by gcscim and not planned as an adoption: left alone");
        return;
    }
    if (!c->id) {
        finish(c, GCS_APPLY_FAILED, "the operation names no user id");
        return;
    }
    if (c->kind == GCS_PLAN_ADOPT)
        c->adopting = true;
    if (json_array_size(json_object_get(op, "operations")) == 0) {
        finish(c, GCS_APPLY_NOOP, NULL); /* only a manager to set, in the last phase */
    } else if (c->kind == GCS_PLAN_DEACTIVATE) {
        char path[300];
        user_path(path, sizeof path, c->id);
        submit(c, "GET", path, NULL, NULL, on_deactivate_read);
    } else {
        submit_patch(c, json_object_get(op, "operations"), on_patch_done);
    }
}

/* ==== The lease: one run of a plan at a time ==== */

static void format_time(char *out, size_t outsz, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Whether the holder is a process of this host that no longer exists (killed
 * with -9, or the machine rebooted): its lease need not run out. */
static bool holder_is_dead(const gcs_run_lease *h, const char *host)
{
    return h->host && strcmp(h->host, host) == 0 && h->pid > 0 && h->pid != (int64_t)getpid() &&
           kill((pid_t)h->pid, 0) != 0 && errno == ESRCH;
}

static int take_lease(applier *a)
{
    char host[256] = "localhost";
    unsigned char rnd[8] = {0};
    int rc;
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return gcs_error_set(GCS_ERROR, "no random bytes for the run's lease");
    snprintf(a->owner, sizeof a->owner, "%s:%lld:%02x%02x%02x%02x%02x%02x%02x%02x", host,
             (long long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    gcs_run_lease h;
    rc = gcs_store_lease_take(&h, a->store, a->lease_key, a->owner, host, (int64_t)getpid(),
                              a->lease_ms, NULL);
    if (rc == GCS_ECONFLICT && h.owner && holder_is_dead(&h, host)) {
        char dead[400];
        snprintf(dead, sizeof dead, "%s", h.owner);
        GCS_INFO("apply.lease_taken_over", "plan", a->identity, "from", dead);
        gcs_run_lease_release(&h);
        rc = gcs_store_lease_take(&h, a->store, a->lease_key, a->owner, host, (int64_t)getpid(),
                                  a->lease_ms, dead);
    }
    if (rc == GCS_ECONFLICT && h.owner) {
        char since[32], beat[32];
        format_time(since, sizeof since, h.since_ms);
        format_time(beat, sizeof beat, h.heartbeat_ms);
        rc = gcs_error_set(GCS_EREFUSED,
                           "plan %.12s (or another plan of the same changes) is being applied "
                           "by another gcscim: pid %lld on %s, since %s (run %s, last heartbeat "
                           "%s); wait for it to end, or for its lease to expire %lld s after its "
                           "last heartbeat",
                           a->identity, (long long)h.pid, h.host, since,
                           h.run_id ? h.run_id : "starting", beat,
                           (long long)(a->lease_ms / 1000));
    }
    gcs_run_lease_release(&h);
    if (rc == 0) {
        a->leased = true;
        a->next_renew_ms = gcs_time_wall_ms() + a->lease_ms / 3;
    }
    return rc;
}

static void renew_lease(applier *a)
{
    if (!a->leased || a->lease_lost || gcs_time_wall_ms() < a->next_renew_ms)
        return;
    int rc = gcs_store_lease_renew(a->store, a->lease_key, a->owner, NULL, a->lease_ms);
    if (rc < 0) {
        /* Another process took the plan over (this one stalled past its lease):
         * two runs must not go on at once, so this one stops now. */
        a->lease_lost = rc == GCS_ECONFLICT;
        if (!a->fatal)
            a->fatal = rc;
        GCS_ERR("apply.lease_lost", "plan", a->identity, "error", gcs_error_last());
        gcs_http_cancel(a->client);
        return;
    }
    a->next_renew_ms = gcs_time_wall_ms() + a->lease_ms / 3;
}

/* ==== The run ==== */

static void begin_stop(applier *a)
{
    a->stopping = true;
    int grace = a->o->stop_grace_ms > 0 ? a->o->stop_grace_ms : GCS_APPLY_STOP_GRACE_MS;
    a->stop_deadline_ms = gcs_time_mono_ms() + grace;
    GCS_WARN("apply.stopping", "run", a->run_id, "reason", "stop requested");
    gcs_http_cancel(a->client);
}

/* Drives the client until every call finished, renewing the lease and
 * watching for a stop request. When stopping, queued calls are cancelled and
 * those in flight get until the deadline. */
static void feed(applier *a);

static int drive(applier *a)
{
    for (;;) {
        release_idle(a);
        feed(a);
        if (!a->stopping && a->o->stop && *a->o->stop)
            begin_stop(a);
        if (a->stopping) {
            gcs_http_cancel(a->client); /* retries queued meanwhile do not go out */
            if (gcs_http_pending(a->client) == 0)
                break;
            if (gcs_time_mono_ms() >= a->stop_deadline_ms) {
                /* Their outcome stays unknown: a create among them is in
                 * progress in the store, and the resume looks it up. */
                GCS_WARN("apply.stop_timeout", "run", a->run_id, "message",
                         "calls still in flight were abandoned");
                gcs_http_abort(a->client);
                break;
            }
        }
        renew_lease(a);
        if (gcs_http_run_once(a->client, 200) == 0 &&
            (a->stopping || a->fatal || a->phase == PHASE_NONE))
            break;
    }
    release_idle(a);
    a->phase = PHASE_NONE;
    if (a->stopping)
        return GCS_ECANCELLED;
    return gcs_http_run(a->client); /* nothing pending: the engine's stop code */
}

static int load_item(const gcs_run_item *item, void *payload)
{
    applier *a = payload;
    /* A state lost here would send a create again: fail the load instead. */
    if (json_object_set_new(a->item_states, item->key, json_string(item->state)) < 0 ||
        (item->genesys_id &&
         json_object_set_new(a->resumed_ids, item->key, json_string(item->genesys_id)) < 0))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    return 0;
}

/* The plan this run applies, kept with the run: what `gcscim undo` takes back.
 * Kept again on a resume (the first one kept stays), so that a crash between
 * beginning the run and keeping its plan loses nothing. */
static int keep_plan(applier *a)
{
    /* A plan the store would refuse is not built as one text (a million
     * users' plan is about 1 GiB): the run goes on, and cannot be undone. */
    if (gcs_plan_operations_bytes(a->plan) > (size_t)GCS_STORE_PLAN_MAX) {
        GCS_WARN("apply.plan_not_kept", "run", a->run_id, "why",
                 "the plan is larger than the store keeps: this run cannot be undone");
        return 0;
    }
    /* Handed to the store a piece at a time: never the whole text at once. */
    gcs_plan_text *text = NULL;
    int rc = gcs_plan_text_open(&text, a->plan);
    if (rc == 0)
        rc = gcs_store_run_plan_put_feed(a->store, a->run_id, gcs_plan_text_feed, text);
    gcs_plan_text_close(text);
    return rc;
}

/* Takes the plan's lease, then finds what to do: nothing (already applied),
 * resume the plan's unfinished run, or begin one. Returns 1 when already
 * applied. */
static int begin_run(applier *a)
{
    gcs_run run;
    int rc;
    memset(&run, 0, sizeof run);
    if ((rc = take_lease(a)) < 0)
        return rc;
    rc = gcs_store_run_find_latest(&run, a->store, a->identity);
    if (rc == 0 && strcmp(run.state, GCS_RUN_DONE) == 0) {
        a->result->already_applied = true;
        a->result->finished_ms = run.finished_ms;
        snprintf(a->result->run_id, sizeof a->result->run_id, "%s", run.id);
        gcs_run_release(&run);
        return 1;
    }
    if (rc == 0) {
        a->result->resumed = true;
    } else if (rc == GCS_ENOTFOUND) {
        rc = gcs_store_run_begin(&run, a->store, a->o->command, a->identity);
    }
    if (rc < 0)
        return rc;
    snprintf(a->run_id, sizeof a->run_id, "%s", run.id);
    snprintf(a->result->run_id, sizeof a->result->run_id, "%s", run.id);
    gcs_run_release(&run);
    if (a->result->resumed && (rc = gcs_store_run_finish(a->store, a->run_id, GCS_RUN_RUNNING)) < 0)
        return rc;
    if ((rc = gcs_store_lease_renew(a->store, a->lease_key, a->owner, a->run_id, a->lease_ms)) < 0)
        return rc;
    if ((rc = keep_plan(a)) < 0)
        return rc;

    size_t n = a->count;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    GCS_CHECK_ALLOC(keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = a->ops[i].key;
    rc = gcs_store_items_add(a->store, a->run_id, keys, n);
    free(keys);
    if (rc == 0)
        rc = gcs_group_apply_items(a->plan, a->store, a->run_id);
    /* The plan and the items just written filled this connection's page
     * cache; the run reads neither again (marks go through the writer's). */
    gcs_store_shrink(a->store);
    /* A run just begun has every item pending and no id learned: only a
     * resumed one has states to read back. */
    if (rc == 0 && a->result->resumed)
        rc = gcs_store_items_each(a->store, a->run_id, NULL, load_item, a);
    return rc;
}

static const char *find_marker(const gcs_plan *plan)
{
    return json_string_value(json_object_get(plan->doc, "marker"));
}

/* Starts the phase's operations while the engine's queue has room: a plan of
 * any size is never queued whole. */
static void feed(applier *a)
{
    while (a->phase != PHASE_NONE && !a->fatal && !a->stopping &&
           gcs_http_pending(a->client) < FEED_WINDOW) {
        if (a->next >= a->count) {
            a->phase = PHASE_NONE;
            break;
        }
        op_ctx *c = &a->ops[a->next++];
        if (a->phase == PHASE_MANAGERS) {
            if (c->has_manager && c->id && !c->problem && op_of(c))
                set_manager(c);
            continue;
        }
        bool creates = a->phase == PHASE_CREATES;
        if ((c->kind == GCS_PLAN_CREATE) != creates || c->finished || (a->canary_only && !c->canary))
            continue;
        if (c->item_state && strcmp(c->item_state, GCS_ITEM_DONE) == 0) {
            finish(c, GCS_APPLY_SKIPPED, NULL);
            continue;
        }
        if (creates)
            start_create(c);
        else
            start_change(c);
    }
}

static void run_phase(applier *a, bool creates)
{
    a->phase = creates ? PHASE_CREATES : PHASE_CHANGES;
    a->next = 0;
    feed(a);
}

/* ==== Canary ==== */

/* The canary: n operations not done yet, taken in turn from each kind so that
 * every kind the plan holds is tried. Returns how many were chosen. */
static long choose_canary(applier *a)
{
    long todo = 0;
    for (size_t i = 0; i < a->count; i++)
        todo += !(a->ops[i].item_state && strcmp(a->ops[i].item_state, GCS_ITEM_DONE) == 0);
    long n = a->o->canary_count;
    if (a->o->canary_share > 0) {
        n = (long)((double)todo * a->o->canary_share + 0.999999);
        if (n < 1)
            n = 1;
    }
    if (n <= 0 || todo == 0)
        return 0;
    if (n > todo)
        n = todo;
    size_t next[GCS_PLAN__KINDS] = {0};
    long chosen = 0;
    for (bool any = true; chosen < n && any;) {
        any = false;
        for (int k = 0; k < GCS_PLAN__KINDS && chosen < n; k++) {
            for (; next[k] < a->count; next[k]++) {
                op_ctx *c = &a->ops[next[k]];
                if ((int)c->kind != k || c->canary ||
                    (c->item_state && strcmp(c->item_state, GCS_ITEM_DONE) == 0))
                    continue;
                c->canary = true;
                chosen++;
                any = true;
                next[k]++;
                break;
            }
        }
    }
    return chosen;
}

static void canary_failed(applier *a, const char *key, const char *why)
{
    if (a->canary_bad++ == 0)
        snprintf(a->canary_why, sizeof a->canary_why, "%s: %s", key ? key : "?", why);
}

static void on_canary_read(const gcs_http_client_response *res, void *payload)
{
    op_ctx *c = payload;
    if (res->error) {
        canary_failed(c->a, c->key, res->message);
        return;
    }
    const json_t *want = desired_of(c) ? desired_of(c) : json_object_get(op_of(c), "body");
    json_t *ops = NULL, *changes = NULL;
    if (gcs_diff_user(&ops, &changes, want, res->json, skip_of(c)) < 0) {
        canary_failed(c->a, c->key, gcs_error_last());
    } else if (json_array_size(ops) > 0) {
        char *text = json_dumps(changes, JSON_COMPACT);
        char why[400];
        snprintf(why, sizeof why, "not as planned when read back: %s", text ? text : "");
        free(text);
        canary_failed(c->a, c->key, why);
    }
    json_decref(ops);
    json_decref(changes);
}

/* Reads every canary user back. The manager is set after the canary, so it is
 * not compared. */
static int verify_canary(applier *a)
{
    for (size_t i = 0; i < a->count; i++) {
        op_ctx *c = &a->ops[i];
        if (!c->canary)
            continue;
        if (c->problem) {
            canary_failed(a, c->key, "failed or drifted");
            continue;
        }
        if (!c->id)
            continue;
        char path[300];
        user_path(path, sizeof path, c->id);
        submit(c, "GET", path, NULL, NULL, on_canary_read);
    }
    return drive(a);
}

int gcs_apply_run(gcs_apply_result *out, gcs_http_client *client, gcs_store *store,
                  const gcs_plan *plan, const gcs_apply_options *o)
{
    memset(out, 0, sizeof *out);
    int rc = gcs_plan_check_approval(plan, &o->approval);
    if (rc == GCS_EREFUSED)
        notify_needs_approval(store, plan, o);
    if (rc < 0)
        return rc;
    applier a;
    memset(&a, 0, sizeof a);
    a.client = client;
    a.store = store;
    a.plan = plan;
    a.o = o;
    a.result = out;
    a.marker = find_marker(plan);
    bool recording = false; /* read at out: set before the first goto */
    a.item_states = json_object();
    a.resumed_ids = json_object();
    a.notified = json_object();
    GCS_CHECK_ALLOC_GOTO(a.item_states, rc, out);
    GCS_CHECK_ALLOC_GOTO(a.resumed_ids, rc, out);
    GCS_CHECK_ALLOC_GOTO(a.notified, rc, out);
    a.identity = gcs_plan_identity(plan);
    a.lease_key = gcs_plan_content_key(plan);
    if (!a.identity || !a.lease_key) {
        rc = gcs_error_set(GCS_EINVALID, "the plan has no identity: it was not finished");
        goto out;
    }
    if ((rc = gcs_plan_check_current(plan, NULL)) < 0)
        goto out;
    a.lease_ms = o->lease_ms > 0 ? o->lease_ms : GCS_APPLY_LEASE_MS;

    json_t *policy = json_object_get(plan->doc, "password_policy");
    if (policy && gcs_plan_count(plan, GCS_PLAN_CREATE) > 0) {
        if (!o->passwords_out) {
            rc = gcs_error_set(GCS_EUSAGE, "the profile asks for passwords: say where to write "
                                           "them with --passwords-out FILE");
            goto out;
        }
        a.passwords = true;
        a.policy = (gcs_password_policy){
            true,
            (unsigned)json_integer_value(json_object_get(policy, "length")),
            (unsigned)json_integer_value(json_object_get(policy, "min_lower")),
            (unsigned)json_integer_value(json_object_get(policy, "min_upper")),
            (unsigned)json_integer_value(json_object_get(policy, "min_digit")),
            (unsigned)json_integer_value(json_object_get(policy, "min_symbol")),
        };
        int fd = open(o->passwords_out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 || fchmod(fd, 0600) < 0 || !(a.passwords_out = fdopen(fd, "a"))) {
            rc = gcs_error_set(GCS_EIO, "cannot write passwords to '%s': %s", o->passwords_out,
                               strerror(errno));
            if (fd >= 0)
                close(fd);
            goto out;
        }
    }

    a.count = gcs_plan_size(plan);
    out->total = (long)a.count + (long)gcs_group_plan_count(plan);
    a.ops = calloc(a.count ? a.count : 1, sizeof *a.ops);
    a.idle = calloc(a.count ? a.count : 1, sizeof *a.idle);
    GCS_CHECK_ALLOC_GOTO(a.ops, rc, out);
    GCS_CHECK_ALLOC_GOTO(a.idle, rc, out);
    /* What every operation needs all along; the rest is read again when it runs. */
    for (size_t i = 0; i < a.count; i++) {
        op_ctx *c = &a.ops[i];
        c->a = &a;
        c->index = i;
        static const char *const wanted[] = {"key", "userName", "id", "version", "manager_key"};
        char *v[5];
        bool present[5];
        if ((rc = gcs_plan_op_strings_at(plan, i, wanted, 5, v, present)) < 0)
            goto out;
        c->kind = gcs_plan_kind_at(plan, i);
        /* gcs_plan_read refused any plan with an unknown kind */
        assert((unsigned)c->kind < GCS_PLAN__KINDS);
        c->key = v[0];
        c->user_name = v[1];
        c->id = v[2];
        c->etag = v[3];
        free(v[4]);
        c->has_manager = present[4];
        if (!c->key) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
    }
    if ((rc = begin_run(&a)) != 0) {
        if (rc > 0) /* already applied: nothing to send */
            rc = 0;
        goto out;
    }
    gcs_recorder_attach(&a.recorder, store, client, a.run_id);
    gcs_http_client_set_start_barrier(client, start_barrier, &a);
    recording = true;
    for (size_t i = 0; i < a.count; i++) {
        op_ctx *c = &a.ops[i];
        c->item_state = json_string_value(json_object_get(a.item_states, c->key));
        if (!c->id)
            set_str(&c->id, json_string_value(json_object_get(a.resumed_ids, c->key)));
        learn_id(&a, c->key, c->id, c->user_name);
    }
    json_object_clear(a.resumed_ids); /* the recorder has them now */

    int run_rc = 0;
    if ((out->canary = choose_canary(&a)) > 0) {
        a.canary_only = true;
        run_phase(&a, true);
        run_rc = drive(&a);
        if (run_rc == 0 && !a.fatal) {
            run_phase(&a, false);
            run_rc = drive(&a);
        }
        if (run_rc == 0 && !a.fatal)
            run_rc = verify_canary(&a);
        a.canary_only = false;
        out->canary_stopped = a.canary_bad > 0;
    }
    /* Creates first, so that updates and managers can refer to new users. */
    if (run_rc == 0 && !a.fatal && !out->canary_stopped) {
        run_phase(&a, true);
        run_rc = drive(&a);
    }
    if (run_rc == 0 && !a.fatal && !out->canary_stopped) {
        run_phase(&a, false);
        run_rc = drive(&a);
    }
    if (run_rc == 0 && !a.fatal && !out->canary_stopped) {
        a.phase = PHASE_MANAGERS;
        a.next = 0;
        run_rc = drive(&a);
    }
    /* Groups last, once the members they name exist (engine/group_apply.c). */
    if (run_rc == 0 && !a.fatal && !out->canary_stopped && !a.stopping &&
        gcs_group_plan_count(plan) > 0) {
        gcs_group_apply ga = {client, store,      a.run_id,   &a.recorder,
                              o,      out,        a.finished, 0,          a.notified};
        int group_rc = gcs_group_apply_run(&ga, plan);
        a.finished = ga.finished;
        a.problems += ga.problems;
        if (group_rc == GCS_EIO || group_rc == GCS_ENOMEM)
            a.fatal = group_rc;
        else if (group_rc < 0)
            run_rc = group_rc;
    }
    gcs_http_client_set_start_barrier(client, NULL, NULL);
    int flush_rc = gcs_recorder_detach(&a.recorder);
    recording = false;

    const char *state;
    if (a.fatal || run_rc < 0 || (out->canary_stopped && !a.problems))
        state = GCS_RUN_INTERRUPTED; /* resumable: the same apply goes on */
    else
        state = a.problems ? GCS_RUN_FAILED : GCS_RUN_DONE;
    /* A run whose lease was taken over belongs to the new holder now. */
    int finish_rc = a.lease_lost ? 0 : finish_run(&a, state);

    if (a.fatal) {
        rc = a.fatal;
    } else if (run_rc == GCS_ECANCELLED) {
        out->interrupted = true;
        rc = gcs_error_set(GCS_ECANCELLED,
                           "interrupted: %ld of %ld operations finished; run %s is resumable",
                           a.finished, out->total, a.run_id);
    } else if (run_rc < 0) {
        rc = run_rc;
    } else if (flush_rc < 0) {
        rc = flush_rc;
    } else if (finish_rc < 0) {
        rc = finish_rc;
    } else if (out->canary_stopped) {
        rc = gcs_error_set(GCS_ERROR,
                           "canary stopped the run: %ld of its %ld operations failed or are not as "
                           "planned (first: %s); the other %ld operations were not sent. Apply the "
                           "same plan again to go on once this is understood",
                           a.canary_bad, out->canary, a.canary_why, out->total - a.finished);
    } else if (a.problems) {
        rc = gcs_error_set(GCS_ERROR, "%ld of %ld operations failed or drifted", a.problems,
                           out->total);
    }
out:
    if (recording) {
        gcs_http_client_set_start_barrier(client, NULL, NULL);
        gcs_recorder_detach(&a.recorder);
    }
    if (a.leased && !a.lease_lost && gcs_store_lease_release(store, a.lease_key, a.owner) < 0)
        GCS_WARN("apply.lease_release_failed", "plan", a.identity, "error", gcs_error_last());
    if (a.passwords_out) {
        fflush(a.passwords_out);
        fsync(fileno(a.passwords_out));
        fclose(a.passwords_out);
    }
    for (size_t i = 0; a.ops && i < a.count; i++) {
        forget_password(&a.ops[i]);
        free(a.ops[i].id);
        free(a.ops[i].etag);
        free(a.ops[i].key);
        free(a.ops[i].user_name);
        json_decref(a.ops[i].op);
    }
    free(a.ops);
    free(a.idle);
    json_decref(a.item_states);
    json_decref(a.resumed_ids);
    json_decref(a.notified);
    return rc;
}
