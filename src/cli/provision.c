#include "cli/provision.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "plan/group_plan.h"
#include "core/error.h"
#include "engine/sync.h"

#include "core/log.h"
#include "core/time.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_SOURCE = 1,
    OPT_PROFILE,
    OPT_OUT,
    OPT_FORMAT,
    OPT_NO_CREATE,
    OPT_NO_UPDATE,
    OPT_NO_DEACTIVATE,
    OPT_ALLOW_DEACTIVATIONS,
    OPT_MAX_DEACTIVATIONS,
    OPT_MAX_SHARE,
    OPT_STRICT,
    OPT_PASSWORDS_OUT,
    OPT_APPROVE,
    OPT_MAX_CHANGES,
    OPT_MAX_CHANGE_SHARE,
    OPT_DETAILED_EXITCODE,
    OPT_TARGET,
    OPT_CANARY,
};

static const struct option provision_options[] = {
    {"source", required_argument, NULL, OPT_SOURCE},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"out", required_argument, NULL, OPT_OUT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"no-create", no_argument, NULL, OPT_NO_CREATE},
    {"no-update", no_argument, NULL, OPT_NO_UPDATE},
    {"no-deactivate", no_argument, NULL, OPT_NO_DEACTIVATE},
    {"allow-deactivations", required_argument, NULL, OPT_ALLOW_DEACTIVATIONS},
    {"max-deactivations", required_argument, NULL, OPT_MAX_DEACTIVATIONS},
    {"max-deactivation-share", required_argument, NULL, OPT_MAX_SHARE},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"passwords-out", required_argument, NULL, OPT_PASSWORDS_OUT},
    {"approve", required_argument, NULL, OPT_APPROVE},
    {"max-changes", required_argument, NULL, OPT_MAX_CHANGES},
    {"max-change-share", required_argument, NULL, OPT_MAX_CHANGE_SHARE},
    {"detailed-exitcode", no_argument, NULL, OPT_DETAILED_EXITCODE},
    {"target", required_argument, NULL, OPT_TARGET},
    {"canary", required_argument, NULL, OPT_CANARY},
    {NULL, 0, NULL, 0},
};

void gcs_provision_init(gcs_provision *p, gcs_cli *cli, const char *command)
{
    memset(p, 0, sizeof *p);
    p->cli = cli;
    p->command = command;
    gcs_planner_options_init(&p->planner);
}

void gcs_provision_release(gcs_provision *p)
{
    gcs_genesys_session_free(p->session);
    p->session = NULL;
    gcs_store_free(p->store);
    p->store = NULL;
    gcs_notify_config_free(p->notify);
    p->notify = NULL;
}

int gcs_provision_load_notify(gcs_provision *p)
{
    const char *path = gcs_config_get(&p->cli->config, GCS_CFG_NOTIFY_FILE);
    if (!p->actor[0]) {
        char host[256] = "localhost";
        struct passwd *pw = getpwuid(geteuid());
        gethostname(host, sizeof host - 1);
        snprintf(p->actor, sizeof p->actor, "cli:%s@%s", pw ? pw->pw_name : "unknown", host);
    }
    if (p->notify || !path || !*path)
        return 0;
    return gcs_notify_config_load(&p->notify, path);
}

void gcs_provision_notify(gcs_provision *p, json_t *report)
{
    if (!p->notify || !p->store)
        return;
    gcs_notify_counts sent = {0};
    int64_t pending = 0, dead = 0;
    char sender[300];
    snprintf(sender, sizeof sender, "%s:%ld", p->actor, (long)getpid());
    /* Interrupted: leave the sending to the next run or serve. */
    int rc = 0;
    const volatile sig_atomic_t *stop = gcs_cli_interrupt_flag();
    if (!stop || !*stop)
        rc = gcs_notify_send_ready(&sent, p->store, p->notify, sender,
                                   gcs_time_wall_ms() + GCS_PROVISION_NOTIFY_MS);
    if (rc < 0)
        GCS_WARN("notify.send_failed", "error", gcs_error_last());
    if (gcs_store_notification_counts(&pending, &dead, p->store) < 0)
        GCS_WARN("notify.count_failed", "error", gcs_error_last());
    if (report && json_is_object(report)) {
        json_object_set_new(report, "notifications",
                            json_pack("{s:I,s:I,s:I}", "delivered", (json_int_t)sent.delivered,
                                      "pending", (json_int_t)pending, "dead", (json_int_t)dead));
        return;
    }
    if (p->cli->json || (sent.delivered == 0 && pending == 0 && sent.dead == 0))
        return;
    fprintf(p->cli->out, "%llu notification%s delivered, %lld pending for serve",
            (unsigned long long)sent.delivered, sent.delivered == 1 ? "" : "s", (long long)pending);
    if (dead)
        fprintf(p->cli->out, ", %lld dead (gcscim notifications list --state dead)",
                (long long)dead);
    fputs(".\n", p->cli->out);
}

static int parse_count(long *out, const char *flag, const char *arg)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 0)
        return gcs_error_set(GCS_EUSAGE, "%s needs a non-negative whole number, not '%s'", flag,
                             arg);
    *out = v;
    return 0;
}

static int parse_share(double *out, const char *flag, const char *arg)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= 0 && v <= 100))
        return gcs_error_set(GCS_EUSAGE, "%s needs a percentage from 0 to 100, not '%s'", flag, arg);
    *out = v / 100.0;
    return 0;
}

static int on_option(int id, const char *arg, void *payload)
{
    gcs_provision *p = payload;
    gcs_plan_options *o = &p->planner.plan;
    switch (id) {
    case OPT_SOURCE: p->planner.source_path = arg; return 0;
    case OPT_PROFILE: p->planner.profile_path = arg; return 0;
    case OPT_OUT: p->out_path = arg; return 0;
    case OPT_FORMAT:
        return gcs_source_format_parse(&p->planner.source_format, arg) < 0
                   ? gcs_error_set(GCS_EUSAGE, "unknown --format '%s' (csv, json, ndjson)", arg)
                   : 0;
    case OPT_NO_CREATE: o->no_create = true; return 0;
    case OPT_NO_UPDATE: o->no_update = true; return 0;
    case OPT_NO_DEACTIVATE: o->no_deactivate = true; return 0;
    case OPT_ALLOW_DEACTIVATIONS: {
        long n = 0;
        char text[64];
        int rc = parse_count(&n, "--allow-deactivations", arg);
        snprintf(text, sizeof text, "deactivate=%ld", n);
        return rc < 0 ? rc : gcs_plan_options_approve(o, text);
    }
    case OPT_APPROVE: return gcs_plan_options_approve(o, arg);
    case OPT_MAX_DEACTIVATIONS:
        return parse_count(&o->removals.max_count, "--max-deactivations", arg);
    case OPT_MAX_SHARE:
        return parse_share(&o->removals.max_share, "--max-deactivation-share", arg);
    case OPT_MAX_CHANGES: return parse_count(&o->changes.max_count, "--max-changes", arg);
    case OPT_MAX_CHANGE_SHARE:
        return parse_share(&o->changes.max_share, "--max-change-share", arg);
    case OPT_DETAILED_EXITCODE: p->detailed_exitcode = true; return 0;
    case OPT_CANARY: {
        size_t len = strlen(arg);
        if (len > 1 && arg[len - 1] == '%') {
            char num[32];
            snprintf(num, sizeof num, "%.*s", (int)(len - 1), arg);
            double share = 0;
            int rc = parse_share(&share, "--canary", num);
            if (rc == 0 && share <= 0)
                rc = gcs_error_set(GCS_EUSAGE, "--canary needs a share above 0%%, not '%s'", arg);
            p->canary_share = share;
            return rc;
        }
        int rc = parse_count(&p->canary_count, "--canary", arg);
        if (rc == 0 && p->canary_count == 0)
            rc = gcs_error_set(GCS_EUSAGE, "--canary needs N (1 or more) or P%%, not '%s'", arg);
        return rc;
    }
    case OPT_TARGET:
        if (!*arg)
            return gcs_error_set(GCS_EUSAGE, "--target needs a source key");
        if (p->target_count == GCS_PROVISION_TARGETS_MAX)
            return gcs_error_set(GCS_EUSAGE, "at most %d --target keys", GCS_PROVISION_TARGETS_MAX);
        p->targets[p->target_count++] = arg;
        p->planner.targets = p->targets;
        p->planner.target_count = p->target_count;
        p->planner.target_groups = true; /* docs/plan.md, "Groups": targets */
        return 0;
    case OPT_STRICT: p->planner.strict = true; return 0;
    case OPT_PASSWORDS_OUT: p->passwords_out = arg; return 0;
    }
    return gcs_error_set(GCS_EUSAGE, "unexpected option");
}

gcs_exit gcs_provision_parse(gcs_provision *p, int argc, char **argv, bool wants_source,
                        int *first_operand)
{
    int rc = gcs_cli_parse(p->cli, argc, argv, provision_options, on_option, p, first_operand);
    p->argc = argc;
    p->argv = argv;
    if (rc != 0)
        return rc;
    if (wants_source && !p->planner.source_path)
        return gcs_cli_usage_error(p->cli, p->command, "missing --source FILE");
    if (wants_source && !p->planner.profile_path)
        return gcs_cli_usage_error(p->cli, p->command, "missing --profile FILE");
    /* An apply runs exactly its plan: narrowing it is the plan's job. */
    if (!wants_source && p->target_count)
        return gcs_cli_usage_error(p->cli, p->command,
                                   "--target is for plan and sync: make a plan of those people");
    bool undo = strcmp(p->command, "undo") == 0;
    if (undo && (p->planner.source_path || p->planner.profile_path))
        return gcs_cli_usage_error(p->cli, p->command,
                                   "undo takes a run id, not --source or --profile");
    if (!wants_source && !undo &&
        (p->planner.source_path || p->planner.profile_path || p->out_path))
        return gcs_cli_usage_error(p->cli, p->command,
                                   "apply takes a plan file, not --source, --profile or --out");
    return 0;
}

int gcs_provision_connect(gcs_provision *p)
{
    int rc;
    if ((rc = gcs_cli_load_config(p->cli)) < 0)
        return rc;
    /* A bad notify file too: outcomes must not happen that cannot be told. */
    if ((rc = gcs_provision_load_notify(p)) < 0)
        return rc;
    /* A bad profile is rejected before anything is read from Genesys. */
    if (p->planner.profile_path && (rc = gcs_planner_check_inputs(&p->planner)) < 0)
        return rc;
    if (!p->store && (rc = gcs_store_open(&p->store, gcs_config_get(&p->cli->config, GCS_CFG_DB))) < 0)
        return rc;
    if ((rc = gcs_genesys_session_open(&p->session, &p->cli->config, NULL)) < 0)
        return rc;
    p->planner.api_url = p->session->api_url;
    /* Wrong credentials fail here, before any other work. */
    return gcs_token_ensure(p->session->token, p->session->client);
}

void gcs_provision_print_report(FILE *out, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    fprintf(out, "%s\n", text ? text : "{}");
    free(text);
}

/* What needs approval, for people: one line each, with the flag that approves it. */
static void print_needs(FILE *out, const json_t *needs)
{
    size_t i;
    json_t *n;
    bool header = false;
    json_array_foreach(needs, i, n) {
        if (!header)
            fputs("\nNeeds approval before apply:\n", out);
        header = true;
        bool ok = json_is_true(json_object_get(n, "approved"));
        fprintf(out, "  %s %s: %s\n", ok ? "approved" : "needs",
                json_string_value(json_object_get(n, "flag")),
                json_string_value(json_object_get(n, "why")));
    }
}

int gcs_provision_plan(gcs_provision *p, gcs_plan *plan, gcs_planner_stats *stats,
                       json_t **report)
{
    *report = NULL;
    int rc = gcs_sync_plan(plan, stats, p->session, p->store, &p->planner,
                           gcs_config_get(&p->cli->config, GCS_CFG_CLIENT_ID),
                           gcs_config_get(&p->cli->config, GCS_CFG_CLIENT_SECRET));
    if (rc == 0 && (rc = gcs_provision_show(p, plan, stats->current_users, stats->requests,
                                            report)) < 0)
        gcs_plan_release(plan);
    return rc;
}

/* An undo plan says what it takes back of which run, and what it leaves alone. */
static void print_undo(FILE *out, const json_t *undo)
{
    fprintf(out,
            "Undo of run %s: %lld of its %lld operations were done; %lld taken back, %lld "
            "already as before, %lld changed since and left alone.\n",
            json_string_value(json_object_get(undo, "run")),
            (long long)json_integer_value(json_object_get(undo, "done")),
            (long long)json_integer_value(json_object_get(undo, "operations")),
            (long long)json_integer_value(json_object_get(undo, "undone")),
            (long long)json_integer_value(json_object_get(undo, "unchanged")),
            (long long)json_integer_value(json_object_get(undo, "drift")));
}

int gcs_provision_show(gcs_provision *p, gcs_plan *plan, long current_users, long requests,
                       json_t **report)
{
    *report = NULL;
    int rc = gcs_plan_seal(plan, gcs_config_get(&p->cli->config, GCS_CFG_CLIENT_ID),
                           gcs_config_get(&p->cli->config, GCS_CFG_CLIENT_SECRET));
    if (rc < 0)
        return rc;
    if (p->out_path && (rc = gcs_plan_write(plan, p->out_path)) < 0)
        return rc;
    FILE *out = p->cli->out;
    json_t *needs = gcs_plan_needs(plan, &p->planner.plan);
    json_t *undo = json_object_get(plan->doc, "undo");
    if (p->cli->json) {
        json_t *doc = json_pack("{s:O,s:O*,s:O*,s:O*,s:O,s:s,s:{s:I,s:I}}", "summary",
                                json_object_get(plan->doc, "summary"), "rows",
                                json_object_get(plan->doc, "rows"), "rejected",
                                json_object_get(plan->doc, "rejected"), "skipped",
                                json_object_get(plan->doc, "skipped"), "needs_approval", needs,
                                "identity", gcs_plan_identity(plan), "reads", "current_users",
                                (json_int_t)current_users, "requests", (json_int_t)requests);
        if (doc && undo)
            json_object_set(doc, "undo", undo);
        if (doc && strcmp(p->command, "sync") != 0)
            json_object_set(doc, "operations", gcs_plan_operations(plan));
        if (doc && gcs_group_plan_section(plan))
            json_object_set(doc, "groups", gcs_group_plan_section(plan));
        if (doc && p->out_path)
            json_object_set_new(doc, "plan_file", json_string(p->out_path));
        *report = doc;
    } else {
        gcs_plan_render_text(plan, out, isatty(fileno(out)) == 1);
        if (undo)
            print_undo(out, undo);
        print_needs(out, needs);
        if (p->out_path)
            fprintf(out, "Saved the plan to %s; run 'gcscim apply %s' to apply exactly it.\n",
                    p->out_path, p->out_path);
    }
    json_decref(needs);
    return 0;
}

/* ==== Apply's progress and outcome ==== */

typedef struct apply_view {
    gcs_provision *p;
    gcs_progress progress;
} apply_view;

static void on_event(const gcs_apply_event *e, void *payload)
{
    apply_view *v = payload;
    FILE *out = v->p->cli->out;
    bool problem = e->outcome == GCS_APPLY_DRIFT || e->outcome == GCS_APPLY_FAILED;
    if (v->progress.tty) {
        if (problem) {
            gcs_progress_clear(&v->progress);
            fprintf(v->p->cli->err, "%s %s %s: %s\n", gcs_apply_outcome_name(e->outcome), e->kind,
                    e->key, e->message ? e->message : "");
        }
        gcs_progress_update(&v->progress, e->finished, e->problems);
    } else if (!v->p->cli->json) {
        fprintf(out, "%ld/%ld %s %s %s%s%s%s%s\n", e->finished, e->total,
                gcs_apply_outcome_name(e->outcome), e->kind, e->key, e->user_name ? " (" : "",
                e->user_name ? e->user_name : "", e->user_name ? ")" : "",
                problem && e->message ? "" : "");
        if (problem && e->message)
            fprintf(out, "    %s\n", e->message);
    }
}

/* Audit lines are for log shippers: with --log-format json. A person at a
 * terminal reads the run's summary (and `gcscim runs show`) instead of one
 * line per user. */
static bool audit_lines(const gcs_provision *p)
{
    const char *format = gcs_config_get(&p->cli->config, GCS_CFG_LOG_FORMAT);
    return format && strcmp(format, "json") == 0;
}

static gcs_exit apply_and_report(gcs_provision *p, const gcs_plan *plan, json_t **report)
{
    *report = NULL;
    if (gcs_plan_size(plan) + gcs_group_plan_count(plan) == 0) {
        if (p->cli->json)
            *report = json_pack("{s:I,s:s}", "total", (json_int_t)0, "message",
                                "nothing to apply");
        else if (json_object_get(plan->doc, "undo"))
            fprintf(p->cli->out, "Nothing to apply: nothing of the run is left to take back.\n");
        else
            fprintf(p->cli->out, "Nothing to apply: Genesys already matches the source.\n");
        return GCS_EXIT_OK;
    }
    apply_view view = {p, {0}};
    gcs_progress_init(&view.progress, p->cli->out,
                      (long)(gcs_plan_size(plan) + gcs_group_plan_count(plan)));
    if (p->cli->json)
        view.progress.tty = false;
    gcs_apply_options o = {.command = p->command, .approval = p->planner.plan,
                           .on_event = on_event, .payload = &view,
                           .passwords_out = p->passwords_out, .stop = gcs_cli_interrupt_flag(),
                           .canary_count = p->canary_count, .canary_share = p->canary_share,
                           .notify = gcs_notify_routes(p->notify), .actor = p->actor,
                           .audit = audit_lines(p)};
    gcs_apply_result result;
    gcs_cli_interrupt_install();
    int rc = gcs_apply_run(&result, p->session->client, p->store, plan, &o);
    gcs_cli_interrupt_uninstall();
    if (result.total && !result.already_applied)
        gcs_progress_finish(&view.progress);
    if (rc == 0 && result.already_applied)
        return gcs_provision_already_applied(p, result.run_id, result.finished_ms, report);
    FILE *out = p->cli->out;
    if (p->cli->json) {
        json_t *j = json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "run", result.run_id,
                              "resumed", result.resumed, "total", (json_int_t)result.total, "done",
                              (json_int_t)result.counts[GCS_APPLY_DONE], "adopted",
                              (json_int_t)result.counts[GCS_APPLY_ADOPTED], "noop",
                              (json_int_t)result.counts[GCS_APPLY_NOOP], "skipped",
                              (json_int_t)result.counts[GCS_APPLY_SKIPPED], "drift",
                              (json_int_t)result.counts[GCS_APPLY_DRIFT], "failed",
                              (json_int_t)result.counts[GCS_APPLY_FAILED], "requests",
                              (json_int_t)result.requests);
        if (result.interrupted)
            json_object_set_new(j, "interrupted", json_true());
        if (result.canary)
            json_object_set_new(j, "canary", json_pack("{s:I,s:b}", "operations",
                                                       (json_int_t)result.canary, "stopped",
                                                       result.canary_stopped));
        if (rc < 0)
            json_object_set_new(j, "error", json_string(gcs_error_last()));
        *report = j;
    } else if (rc != GCS_EREFUSED && (result.total || result.run_id[0])) {
        fprintf(out,
                "Applied%s: %ld done, %ld adopted, %ld already as planned, %ld done earlier, "
                "%ld drifted, %ld failed (run %s).\n",
                result.resumed ? " (resumed)" : "", result.counts[GCS_APPLY_DONE],
                result.counts[GCS_APPLY_ADOPTED], result.counts[GCS_APPLY_NOOP],
                result.counts[GCS_APPLY_SKIPPED], result.counts[GCS_APPLY_DRIFT],
                result.counts[GCS_APPLY_FAILED], result.run_id);
        if (result.canary)
            fprintf(out, "Canary: %ld operations first, then %s.\n", result.canary,
                    result.canary_stopped ? "stopped" : "the rest");
    }
    if (rc == 0)
        return GCS_EXIT_OK;
    if (rc == GCS_ECANCELLED && result.interrupted)
        return gcs_provision_interrupted(p, result.run_id);
    if (rc == GCS_ERROR && result.total) {
        fprintf(p->cli->err, "gcscim: %s\n", gcs_error_last());
        return GCS_EXIT_PARTIAL;
    }
    return gcs_cli_fail(p->cli, rc);
}

gcs_exit gcs_provision_apply(gcs_provision *p, const gcs_plan *plan, json_t **report)
{
    gcs_exit code = apply_and_report(p, plan, report);
    gcs_provision_notify(p, *report);
    return code;
}

gcs_exit gcs_provision_main(gcs_cli *cli, const char *command, bool apply, int argc, char **argv)
{
    gcs_provision p;
    gcs_provision_init(&p, cli, command);
    json_t *plan_report = NULL, *apply_report = NULL;
    int first, code = gcs_provision_parse(&p, argc, argv, true, &first);
    if (code != 0)
        return code;
    if (first < argc) {
        code = gcs_cli_usage_error(cli, command, "unexpected argument '%s'", argv[first]);
        goto out;
    }
    if (!apply && (p.canary_count || p.canary_share > 0)) {
        code = gcs_cli_usage_error(cli, command, "--canary is for apply and sync");
        goto out;
    }
    if (apply && p.detailed_exitcode) {
        code = gcs_cli_usage_error(cli, command, "--detailed-exitcode is for plan");
        goto out;
    }
    gcs_plan plan;
    gcs_planner_stats stats;
    int rc = gcs_provision_connect(&p);
    if (rc == 0)
        rc = gcs_provision_plan(&p, &plan, &stats, &plan_report);
    if (rc < 0) {
        code = gcs_cli_fail(cli, rc);
        goto out;
    }
    if (apply) {
        code = gcs_provision_apply(&p, &plan, &apply_report);
    } else if (p.detailed_exitcode && gcs_plan_size(&plan) + gcs_group_plan_count(&plan) > 0) {
        code = gcs_plan_check_approval(&plan, &p.planner.plan) < 0 ? GCS_EXIT_REFUSED
                                                                    : GCS_EXIT_CHANGES;
    }
    /* Rejected rows, or groups, make a finished run partial. */
    if ((code == GCS_EXIT_OK || code == GCS_EXIT_CHANGES) &&
        (stats.rejected || gcs_group_plan_rejected(&plan)))
        code = GCS_EXIT_PARTIAL;
    gcs_plan_release(&plan);
out:
    /* --json prints one document, whatever happened. */
    if (cli->json && (plan_report || apply_report)) {
        json_t *doc = apply ? json_pack("{s:O*,s:O*}", "plan", plan_report, "apply", apply_report)
                            : json_incref(plan_report);
        gcs_provision_print_report(cli->out, doc);
        json_decref(doc);
    }
    json_decref(plan_report);
    json_decref(apply_report);
    gcs_provision_release(&p);
    return code;
}
