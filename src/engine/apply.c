#include "engine/apply.h"
#include "core/error.h"
#include "core/log.h"
#include "genesys/directory.h"
#include "engine/recorder.h"
#include "mapping/transform.h"
#include "plan/diff.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
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

typedef struct op_ctx {
    applier *a;
    const json_t *op;          /* borrowed from the plan */
    gcs_plan_kind kind;
    const char *key;
    const char *user_name;
    const char *item_state;    /* the item's state at the start (resume) */
    char *id;
    char *etag;
    int rereads;
    bool create_retried;
    bool adopting;
    bool finished;
    bool problem;              /* ended failed or drifted */
    int lookup_step;           /* which lookup key is being tried */
    char *password;            /* generated for this create; wiped when done */
} op_ctx;

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
    json_t *item_states;       /* key -> state at start */
    gcs_recorder recorder;     /* receipts of every call */
    json_t *key_to_id;         /* ids learned during the run (creates, adoptions) */
    long finished;
    long problems;
    int fatal;                 /* a store failure stops the run */
    bool passwords;            /* the profile asks for passwords */
    gcs_password_policy policy;
    FILE *passwords_out;
};

/* ==== Bookkeeping ==== */

static void set_str(char **field, const char *value)
{
    char *copy = value ? strdup(value) : NULL;
    free(*field);
    *field = copy;
}

static void learn_id(applier *a, const char *key, const char *id, const char *user_name)
{
    gcs_recorder_learn(&a->recorder, key, id, user_name);
    if (id)
        json_object_set_new(a->key_to_id, key, json_string(id));
}

static void mark(op_ctx *c, const char *state, const char *detail)
{
    applier *a = c->a;
    if (a->fatal)
        return;
    int rc = gcs_store_item_mark(a->store, a->run_id, c->key, state, c->id, detail);
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
    if (outcome == GCS_APPLY_FAILED || outcome == GCS_APPLY_DRIFT) {
        c->problem = true;
        mark(c, GCS_ITEM_FAILED, message);
        a->problems++;
    } else if (outcome != GCS_APPLY_SKIPPED) {
        mark(c, GCS_ITEM_DONE, gcs_apply_outcome_name(outcome));
    }
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

static json_t *desired_of(const op_ctx *c)
{
    return json_object_get(c->op, "desired");
}

static json_t *skip_of(const op_ctx *c)
{
    return json_object_get(c->op, "skip");
}

/* ==== Submitting ==== */

static void submit(op_ctx *c, const char *method, const char *path, const json_t *body,
                   const char *if_match, gcs_http_done_fn done)
{
    /* A create that carries a password: the engine wipes its copies. */
    gcs_http_client_request req = {.method = method, .path = path, .json = body, .if_match = if_match,
                                   .sensitive = c->password != NULL};
    if (gcs_http_submit(c->a->client, &req, done, c) < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "cannot queue %s %s: %s", method, path, gcs_error_last());
        finish(c, GCS_APPLY_FAILED, msg);
    }
    c->a->result->requests++;
}

static void user_path(char *out, size_t outsz, const char *id)
{
    snprintf(out, outsz, GCS_SCIM_USERS "/%s", id);
}

static void submit_patch(op_ctx *c, json_t *ops, gcs_http_done_fn done)
{
    char path[300];
    user_path(path, sizeof path, c->id);
    json_t *body = gcs_diff_patch_body(ops);
    submit(c, "PATCH", path, body, c->etag, done);
    json_decref(body);
}

static void take_version(op_ctx *c, const gcs_http_client_response *res)
{
    if (res->etag)
        set_str(&c->etag, res->etag);
    else if (res->json) {
        char *e = gcs_directory_user_etag(res->json);
        if (e)
            set_str(&c->etag, e);
        free(e);
    }
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
        finish(c, c->adopting ? GCS_APPLY_ADOPTED : GCS_APPLY_NOOP, NULL);
    } else if (c->adopting || only_planned(changes, json_object_get(c->op, "changes"))) {
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
    if (res->error == 0) {
        take_version(c, res);
        finish(c, c->adopting ? GCS_APPLY_ADOPTED : GCS_APPLY_DONE, NULL);
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

static void adopt(op_ctx *c, const json_t *user)
{
    set_str(&c->id, json_string_value(json_object_get(user, "id")));
    char *etag = gcs_directory_user_etag(user);
    set_str(&c->etag, etag);
    free(etag);
    learn_id(c->a, c->key, c->id, c->user_name);
    c->adopting = true;
    json_t *ops = NULL, *changes = NULL;
    if (gcs_diff_user(&ops, &changes, desired_of(c) ? desired_of(c) : json_object_get(c->op, "body"),
                      user, skip_of(c)) < 0) {
        finish(c, GCS_APPLY_FAILED, gcs_error_last());
        return;
    }
    if (json_array_size(ops) == 0)
        finish(c, GCS_APPLY_ADOPTED, NULL);
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
    if (res->error) {
        fail_with(c, res, "cannot look the user up");
        return;
    }
    json_t *found = json_array_get(json_object_get(res->json, "Resources"), 0);
    if (found) {
        adopt(c, found);
        return;
    }
    c->lookup_step++;
    look_up(c);
}

static void look_up(op_ctx *c)
{
    char *filter = NULL;
    while (c->lookup_step < 2 && !(filter = lookup_filter(c, c->lookup_step)))
        c->lookup_step++;
    if (!filter) {
        /* Nobody there: the earlier attempt did not happen. */
        if (c->create_retried && c->adopting) {
            finish(c, GCS_APPLY_FAILED, "user neither created nor found");
            return;
        }
        c->adopting = false;
        post_create(c);
        return;
    }
    char *escaped = curl_easy_escape(NULL, filter, 0);
    char path[2048];
    snprintf(path, sizeof path, GCS_SCIM_USERS "?filter=%s&count=1", escaped ? escaped : "");
    curl_free(escaped);
    free(filter);
    submit(c, "GET", path, NULL, NULL, on_lookup);
}

static void on_create_done(const gcs_http_client_response *res, void *payload)
{
    op_ctx *c = payload;
    if (res->error == 0) {
        set_str(&c->id, json_string_value(json_object_get(res->json, "id")));
        take_version(c, res);
        learn_id(c->a, c->key, c->id, c->user_name);
        if (c->password && c->a->passwords_out) {
            fprintf(c->a->passwords_out, "%s,%s,%s\n", c->key, c->user_name ? c->user_name : "",
                    c->password);
            fflush(c->a->passwords_out);
        }
        finish(c, GCS_APPLY_DONE, NULL);
    } else if (res->outcome == GCS_HTTP_UNIQUENESS_CONFLICT) {
        c->lookup_step = 1; /* the userName is taken: find that user */
        c->adopting = true;
        look_up(c);
    } else if (res->outcome == GCS_HTTP_OUTCOME_UNKNOWN && !c->create_retried) {
        c->create_retried = true;
        c->lookup_step = 0;
        look_up(c);
    } else {
        fail_with(c, res, "create failed");
    }
}

static void post_create(op_ctx *c)
{
    /* The intent is durable before the request leaves: a resumed run that finds
     * it looks the user up instead of creating again. */
    mark(c, GCS_ITEM_IN_PROGRESS, "create sent");
    if (c->a->fatal)
        return;
    if (!c->a->passwords) {
        submit(c, "POST", GCS_SCIM_USERS, json_object_get(c->op, "body"), NULL, on_create_done);
        return;
    }
    char pw[129];
    if (gcs_password_generate(pw, sizeof pw, &c->a->policy) < 0) {
        finish(c, GCS_APPLY_FAILED, gcs_error_last());
        return;
    }
    forget_password(c);
    c->password = strdup(pw);
    json_t *body = json_copy(json_object_get(c->op, "body"));
    json_object_set_new(body, "password", json_string(pw));
    explicit_bzero(pw, sizeof pw);
    submit(c, "POST", GCS_SCIM_USERS, body, NULL, on_create_done);
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

static void on_manager_done(const gcs_http_client_response *res, void *payload)
{
    op_ctx *c = payload;
    if (res->error == 0)
        take_version(c, res);
    else
        GCS_WARN("apply.manager_failed", "key", c->key, "message", res->message);
    if (res->error)
        c->a->problems++;
}

static void set_manager(op_ctx *c)
{
    const char *mkey = json_string_value(json_object_get(c->op, "manager_key"));
    const char *mid = json_string_value(json_object_get(c->a->key_to_id, mkey));
    if (!c->id)
        return;
    if (!mid) {
        GCS_WARN("apply.manager_unknown", "key", c->key, "manager", mkey);
        c->a->problems++;
        return;
    }
    json_t *ops = json_pack("[{s:s,s:s,s:{s:s}}]", "op", "replace", "path",
                            GCS_SCIM_ENTERPRISE_USER ":manager", "value", "value", mid);
    submit_patch(c, ops, on_manager_done);
    json_decref(ops);
}

/* ==== The run ==== */

static int load_item(const gcs_run_item *item, void *payload)
{
    applier *a = payload;
    json_object_set_new(a->item_states, item->key, json_string(item->state));
    if (item->genesys_id)
        json_object_set_new(a->key_to_id, item->key, json_string(item->genesys_id));
    return 0;
}

static int begin_run(applier *a)
{
    gcs_run run;
    memset(&run, 0, sizeof run);
    const char *identity = gcs_plan_identity(a->plan);
    int rc = gcs_store_run_find_resumable(&run, a->store, identity);
    if (rc == 0) {
        a->result->resumed = true;
    } else if (rc == GCS_ENOTFOUND) {
        rc = gcs_store_run_begin(&run, a->store, a->o->command, identity);
    }
    if (rc < 0)
        return rc;
    snprintf(a->run_id, sizeof a->run_id, "%s", run.id);
    snprintf(a->result->run_id, sizeof a->result->run_id, "%s", run.id);
    gcs_run_release(&run);

    json_t *ops = gcs_plan_operations(a->plan);
    size_t n = json_array_size(ops);
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    if (!keys)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        keys[i] = json_string_value(json_object_get(json_array_get(ops, i), "key"));
    rc = gcs_store_items_add(a->store, a->run_id, keys, n);
    free(keys);
    if (rc == 0)
        rc = gcs_store_items_each(a->store, a->run_id, NULL, load_item, a);
    return rc;
}

static const char *find_marker(const gcs_plan *plan)
{
    size_t i;
    json_t *op;
    json_array_foreach(gcs_plan_operations(plan), i, op) {
        const char *m = json_string_value(json_object_get(op, "marker"));
        if (m)
            return m;
    }
    return json_string_value(json_object_get(plan->doc, "marker"));
}

static void run_phase(applier *a, bool creates)
{
    for (size_t i = 0; i < a->count && !a->fatal; i++) {
        op_ctx *c = &a->ops[i];
        if ((c->kind == GCS_PLAN_CREATE) != creates || c->finished)
            continue;
        if (c->item_state && strcmp(c->item_state, GCS_ITEM_DONE) == 0) {
            finish(c, GCS_APPLY_SKIPPED, NULL);
            continue;
        }
        if (creates)
            start_create(c);
        else if (json_array_size(json_object_get(c->op, "operations")) == 0)
            finish(c, GCS_APPLY_NOOP, NULL); /* only a manager to set, in the last phase */
        else
            submit_patch(c, json_object_get(c->op, "operations"), on_patch_done);
    }
}

int gcs_apply_run(gcs_apply_result *out, gcs_http_client *client, gcs_store *store,
                  const gcs_plan *plan, const gcs_apply_options *o)
{
    memset(out, 0, sizeof *out);
    int rc = gcs_plan_check_approval(plan, &o->approval);
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
    a.item_states = json_object();
    a.key_to_id = json_object();

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

    json_t *ops = gcs_plan_operations(plan);
    a.count = json_array_size(ops);
    out->total = (long)a.count;
    a.ops = calloc(a.count ? a.count : 1, sizeof *a.ops);
    if (!a.ops) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = begin_run(&a)) < 0)
        goto out;
    gcs_recorder_attach(&a.recorder, store, client, a.run_id);
    for (size_t i = 0; i < a.count; i++) {
        op_ctx *c = &a.ops[i];
        c->a = &a;
        c->op = json_array_get(ops, i);
        gcs_plan_kind_parse(json_string_value(json_object_get(c->op, "kind")), &c->kind);
        c->key = json_string_value(json_object_get(c->op, "key"));
        c->user_name = json_string_value(json_object_get(c->op, "userName"));
        c->item_state = json_string_value(json_object_get(a.item_states, c->key));
        const char *id = json_string_value(json_object_get(c->op, "id"));
        if (!id)
            id = json_string_value(json_object_get(a.key_to_id, c->key));
        set_str(&c->id, id);
        set_str(&c->etag, json_string_value(json_object_get(c->op, "version")));
        learn_id(&a, c->key, c->id, c->user_name);
    }

    /* Creates first, so that updates and managers can refer to new users. */
    run_phase(&a, true);
    int run_rc = gcs_http_run(client);
    if (run_rc == 0 && !a.fatal) {
        run_phase(&a, false);
        run_rc = gcs_http_run(client);
    }
    if (run_rc == 0 && !a.fatal) {
        for (size_t i = 0; i < a.count; i++) {
            op_ctx *c = &a.ops[i];
            if (json_object_get(c->op, "manager_key") && c->id && !c->problem)
                set_manager(c);
        }
        run_rc = gcs_http_run(client);
    }
    int flush_rc = gcs_recorder_detach(&a.recorder);

    const char *state;
    if (a.fatal || run_rc < 0)
        state = GCS_RUN_INTERRUPTED;
    else
        state = a.problems ? GCS_RUN_FAILED : GCS_RUN_DONE;
    int finish_rc = gcs_store_run_finish(store, a.run_id, state);

    if (a.fatal)
        rc = a.fatal;
    else if (run_rc < 0)
        rc = run_rc;
    else if (flush_rc < 0)
        rc = flush_rc;
    else if (finish_rc < 0)
        rc = finish_rc;
    else if (a.problems)
        rc = gcs_error_set(GCS_ERROR, "%ld of %ld operations failed or drifted", a.problems,
                           out->total);
out:
    if (a.passwords_out) {
        fflush(a.passwords_out);
        fsync(fileno(a.passwords_out));
        fclose(a.passwords_out);
    }
    for (size_t i = 0; a.ops && i < a.count; i++) {
        forget_password(&a.ops[i]);
        free(a.ops[i].id);
        free(a.ops[i].etag);
    }
    free(a.ops);
    json_decref(a.item_states);
    json_decref(a.key_to_id);
    return rc;
}
