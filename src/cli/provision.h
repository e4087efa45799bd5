/*
 * provision.h - what plan, apply and sync share: their options, opening the
 * session and the store, and showing a run's progress and outcome.
 */
#ifndef GCS_CLI_PROVISION_H
#define GCS_CLI_PROVISION_H

#include "cli/cli.h"
#include "engine/apply.h"
#include "engine/planner.h"
#include "genesys/session.h"
#include "service/notify.h"
#include "store/store.h"

#define GCS_PROVISION_TARGETS_MAX 1000

typedef struct gcs_provision {
    gcs_cli *cli;
    const char *command;
    gcs_planner_options planner;
    const char *out_path;   /* plan --out */
    const char *plan_path;  /* apply PLAN.json */
    const char *passwords_out; /* --passwords-out */
    bool detailed_exitcode;    /* plan: exit GCS_EXIT_CHANGES when there is something to do */
    const char *targets[GCS_PROVISION_TARGETS_MAX]; /* --target KEY... (borrowed from argv) */
    size_t target_count;
    long canary_count;         /* --canary N */
    double canary_share;       /* --canary P% (0..1) */
    int argc;                  /* the command's arguments (argv[0] is its name): */
    char **argv;               /* the command line that resumes an interrupted run */
    gcs_genesys_session *session;
    gcs_store *store;
    gcs_notify_config *notify; /* the notify file's endpoints, when the setting names one */
    char actor[320];           /* "cli:USER@HOST": who asked, in notifications and audit lines */
} gcs_provision;

void gcs_provision_init(gcs_provision *p, gcs_cli *cli, const char *command);
void gcs_provision_release(gcs_provision *p);

/* Parses the options of plan, apply and sync. Returns 0, or an exit code. */
gcs_exit gcs_provision_parse(gcs_provision *p, int argc, char **argv, bool wants_source,
                        int *first_operand);
/* Loads the configuration, opens the session (logging in) and the store. */
int gcs_provision_connect(gcs_provision *p);

/* Plans and prints the plan as text; with --json, *report gets the plan's JSON
 * report for the caller to print (one document per command). *plan_out is set. */
int gcs_provision_plan(gcs_provision *p, gcs_plan *plan_out, gcs_planner_stats *stats,
                       json_t **report);
/* Seals the plan, saves it (--out) and shows it: as text, or with --json as
 * the JSON report in *report for the caller to print. `current_users` and
 * `requests` are what making it cost. The plan stays the caller's. */
int gcs_provision_show(gcs_provision *p, gcs_plan *plan, long current_users, long requests,
                       json_t **report);
/* Applies with progress and prints the outcome (or, with --json, sets *report).
 * Returns an exit code. */
gcs_exit gcs_provision_apply(gcs_provision *p, const gcs_plan *plan, json_t **report);
/* Prints a --json report: one compact JSON document on one line. */
void gcs_provision_print_report(FILE *out, const json_t *doc);
/* cmd_apply.c: "already applied (run X, finished at T)" (with --json, sets
 * *report instead); returns GCS_EXIT_OK. */
gcs_exit gcs_provision_already_applied(gcs_provision *p, const char *run_id, int64_t finished_ms,
                                  json_t **report);
/* cmd_apply.c: says the run is interrupted and the command that resumes it;
 * returns GCS_EXIT_INTERRUPTED. */
gcs_exit gcs_provision_interrupted(gcs_provision *p, const char *run_id);

/* Loads the notify file (once) when `notify_file` is set; the configuration
 * must be loaded. */
int gcs_provision_load_notify(gcs_provision *p);
/* With a notify file: sends what the outbox holds ready (this run's outcomes
 * and any left by an earlier one), for at most GCS_PROVISION_NOTIFY_MS, and
 * says how it went ("3 notifications delivered, 1 pending for serve"): on
 * cli->out, or as "notifications" in *report when --json. Nothing without one. */
void gcs_provision_notify(gcs_provision *p, json_t *report);
#define GCS_PROVISION_NOTIFY_MS 30000

/* The whole of `gcscim plan` (apply false) and `gcscim sync` (apply true):
 * parse, connect, plan, and for sync apply. Returns an exit code. */
gcs_exit gcs_provision_main(gcs_cli *cli, const char *command, bool apply, int argc, char **argv);

#endif
