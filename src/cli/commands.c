/* The table of commands. Keep it in the order `gcscim --help` shows. */
#include "cli/cli.h"

#include <string.h>

#define PROVISION_OPTIONS                                                                          \
    "  --source FILE               the HR export: CSV (header row) or JSON (array or lines)\n"     \
    "  --profile FILE              the mapping profile (YAML or JSON; docs/mapping.md)\n"          \
    "  --format csv|json|ndjson    the source's format when its extension does not say\n"          \
    "  --target KEY                only this person and their group memberships (repeat for\n"    \
    "                              more): on demand, or to fix one; group:KEY one whole group\n"   \
    "  --no-create                 never create users or groups\n"                                \
    "  --no-update                 never change existing users (nor reactivate them) or groups\n" \
    "  --no-deactivate             never deactivate users\n"                                      \
    APPROVAL_OPTIONS                                                                               \
    "  --strict                    the first bad row stops the run\n"                            \
    "  --passwords-out FILE        where generated passwords go when the profile asks (0600)\n"  \
    "  --json                      one JSON document instead of text\n"

/* What apply and sync take, and plan does not. */
#define CANARY_OPTION                                                                              \
    "  --canary N|P%               apply N operations (or P% of them) first, mixed across kinds;\n" \
    "                              read those users back; go on only if all is as planned\n"

/* What apply also takes: the approvals are of the plan shown, given again. */
#define APPROVAL_OPTIONS                                                                           \
    "  --approve KIND=N            approve what the plan needs (deactivate=N, clear:ATTR=N,\n"     \
    "                              change:ATTR=N, remove-roles=N, adopt=N, privileged:KEY,\n"     \
    "                              deactivate-despite-rejects, remove-members=N,\n"              \
    "                              revoke-grants=N); docs/plan.md, \"Safety\", \"Groups\"\n"      \
    "  --allow-deactivations N     the same as --approve deactivate=N\n"                          \
    "  --max-deactivations N       removals allowed without approval (default 10)\n"            \
    "  --max-deactivation-share P  ... or P% of managed users above 3 (default 5)\n"             \
    "  --max-changes N             changed values of one attribute without approval (100)\n"     \
    "  --max-change-share P        ... or P% of managed users above 10 (default 10)\n"

const gcs_cli_command gcs_cli_commands[] = {
    {"plan", "show every change a sync would make, without making any",
     "gcscim plan --source FILE --profile FILE [--out PLAN.json] [options]",
     "Reads the source and the organisation's current users, and shows what would be\n"
     "created (+), updated or reactivated (~) and deactivated (-), with each attribute's\n"
     "old and new value, and what needs approval. Writes nothing to Genesys. --out saves\n"
     "the plan (mode 0600, sealed) for 'gcscim apply'. Exit 3 when some rows were\n"
     "rejected; with --detailed-exitcode 0 when there is nothing to do, 9 when there are\n"
     "changes, 4 when they need approval.\n\nOptions:\n"
     "  --out FILE                  save the plan\n"
     "  --detailed-exitcode         say in the exit code whether there is anything to do\n"
     PROVISION_OPTIONS,
     gcs_cmd_plan},
    {"apply", "apply exactly a saved plan",
     "gcscim apply PLAN.json [--approve KIND=N]... [--passwords-out FILE] [--json]",
     "Applies the plan's operations, paced to the rate limit, with a receipt for every\n"
     "call. A user changed since the plan is re-read: the change is applied only if it\n"
     "still holds, otherwise the drift is reported and the user left alone. Running\n"
     "the same command again after an interruption resumes the run; a plan already\n"
     "applied sends nothing. A plan changed since 'gcscim plan' wrote it is refused. Exit 3\n"
     "when some operations failed or drifted, 4 when the plan needs approval or another\n"
     "process applies it, 8 when interrupted.\n\nOptions:\n" CANARY_OPTION APPROVAL_OPTIONS
     "  --passwords-out FILE        where generated passwords go when the profile asks (0600)\n"
     "  --json                      one JSON document instead of text\n",
     gcs_cmd_apply},
    {"sync", "plan and apply in one go",
     "gcscim sync --source FILE --profile FILE [options]",
     "Plans (as 'gcscim plan' shows) and applies (as 'gcscim apply' does). Bulk\n"
     "attribute updates are a sync with a profile that maps only those attributes,\n"
     "run with --no-create --no-deactivate (examples/bulk-update/).\n\nOptions:\n"
     CANARY_OPTION PROVISION_OPTIONS,
     gcs_cmd_sync},
    {"undo", "plan the changes that take a run back",
     "gcscim undo RUN [--out PLAN.json] [--approve KIND=N]... [--json]",
     "Builds, from the plan a run applied (kept in the store) and what its items and\n"
     "receipts say really happened, a plan that takes the run back: users it created\n"
     "are deactivated (never deleted), users it deactivated reactivated and those it\n"
     "reactivated deactivated, every attribute it changed gets its earlier value back,\n"
     "and group members and grants it added or removed are taken back (groups stay).\n"
     "A user changed since the run is left alone and listed as skipped. The plan\n"
     "is shown like 'gcscim plan' shows one and applied with 'gcscim apply', with the\n"
     "same approvals and checks; undoing the run of an undo plan restores the run.\n"
     "Writes nothing to Genesys. Exit 3 when some users were left alone.\n\nOptions:\n"
     "  --out FILE                  save the plan\n"
     APPROVAL_OPTIONS
     "  --json                      one JSON document instead of text\n",
     gcs_cmd_undo},
    {"doctor", "check configuration, credentials, permissions, source and store before a sync",
     "gcscim doctor [--source FILE --profile FILE [--format csv|json|ndjson]] [--anchor SEQ:HASH] [--json]",
     "Checks, without writing anything to Genesys, everything a sync depends on, and for\n"
     "each failure says what to do: the configuration and credentials; a token from the\n"
     "login host; the API host and its clock (warn over 60 s, fail over 300 s of skew);\n"
     "the scopes the work needs (SCIM reads; role, division, skill and language reads for\n"
     "what the profile maps; SCIM writes cannot be proven without writing); the rate limit\n"
     "of the token and what a full sync would cost; with --source and --profile, that\n"
     "every field the profile reads is in the source, every role, division, skill and\n"
     "language the source names exists, and which rows would be rejected and why; the\n"
     "store (opens, takes writes, receipt chain holds). Text for people, one JSON\n"
     "document with --json. Exit 0 when no check failed (warnings allowed), 1 when one did.\n\n"
     "Options:\n"
     "  --source FILE               the HR export to check\n"
     "  --profile FILE              the mapping profile to check against it\n"
     "  --format csv|json|ndjson    the source's format when its extension does not say\n"
     "  --anchor SEQ:HASH           the receipt chain head an earlier check printed: the\n"
     "                              chain must not have been rewritten up to there",
     gcs_cmd_doctor},
    {"config", "show the effective configuration and where each value came from",
     "gcscim config show [--json]",
     "Shows every setting, its value and its source (default, env, file or flag).\n"
     "Secrets are shown as ***. API and login URLs not set explicitly are derived\n"
     "from the region.",
     gcs_cmd_config},
    {"receipts", "list, show, export and verify the receipts of every call to Genesys",
     "gcscim receipts list|show ID|export|verify [OPTIONS]",
     "  list     newest first: --user KEY-or-ID, --run ID, --since TIME, --until TIME,\n"
     "           --outcome OUTCOME, --limit N (default 50)\n"
     "  show ID  one receipt, every field\n"
     "  export   oldest first, same filters; --format jsonl|csv (default jsonl),\n"
     "           --out FILE (created mode 0600; default stdout)\n"
     "  verify   recompute the hash chain; exit 0 when it holds, 5 when it does not,\n"
     "           naming the first receipt that breaks it. It prints the head as\n"
     "           SEQ:HASH: keep it elsewhere, and a later verify --anchor SEQ:HASH\n"
     "           also proves that the chain was not rewritten up to there\n"
     "TIME is 2026-11-22, 2026-11-22T06:30:00Z or 2026-11-22T08:30:00+02:00.\n"
     "The store is --db (sqlite:PATH or postgresql://...); see 'gcscim config show'.",
     gcs_cmd_receipts},
    {"runs", "show recorded runs of apply and sync and their progress",
     "gcscim runs list|show ID [--json]",
     "  list     every run, newest first, with item counts\n"
     "  show ID  one run and the state of each of its items",
     gcs_cmd_runs},
    {"jobs", "inspect and manage the durable job queue",
     "gcscim jobs list [--state STATE]|show ID|retry ID|drop ID|approve ID [--approve KIND=N]... "
     "[--json]",
     "  list        every job, oldest first; --state\n"
     "              pending|running|done|dead|dropped|needs_approval\n"
     "  show ID     one job with its payload, last error and result (its outcome)\n"
     "  retry ID    make a dead, dropped or done job pending again, attempts reset\n"
     "  drop ID     put a pending, dead or waiting job aside (kept for the record)\n"
     "  approve ID  a job waiting for approval runs again with the approvals given\n"
     "              (--approve, as plan takes them), or else those its result lists",
     gcs_cmd_jobs},
    {"notifications", "inspect and manage the outbox of notifications to your endpoints",
     "gcscim notifications list [--state STATE]|show ID|retry ID|drop ID [--json]",
     "Each outcome of apply, sync and serve is kept in the store's outbox until its\n"
     "endpoint (the notify file, docs/notifications.md) has answered 2xx; sync and apply\n"
     "send what is ready before they exit, and serve sends continuously.\n"
     "  list     oldest first; --state pending|sending|delivered|dead|dropped\n"
     "  show ID  one notification with its body (the JSON sent) and last error\n"
     "  retry ID send a dead or dropped notification again (same webhook-id)\n"
     "  drop ID  put a pending or dead notification aside (kept for the record)",
     gcs_cmd_notifications},
    {"serve", "run as a service: signed events and REST calls become provisioning jobs",
     "gcscim serve --profile FILE [--listen HOST:PORT] [--event-secrets-file FILE] "
     "[--api-keys-file FILE] [options]",
     "Listens for directory events (POST /v1/events, Standard Webhooks signatures) and\n"
     "REST calls (POST /v1/users, GET /v1/jobs/ID, /v1/users/KEY, /v1/receipts), commits\n"
     "each as a job before answering, and runs the jobs with the workers: the same plan\n"
     "and apply as sync, with receipts. GET /metrics (Prometheus), /healthz, /readyz.\n"
     "SIGTERM: /readyz and new requests answer 503, running jobs get shutdown_grace\n"
     "seconds, then it exits 0. Under systemd it notifies READY=1 and STOPPING=1.\n"
     "docs/serve.md describes the routes, the event format and the answers.\n\n"
     "Settings (flag, environment GCSCIM_NAME, or config file key NAME):\n"
     "  --profile FILE              the mapping profile (YAML or JSON): every job's row\n"
     "                              goes through it, as a file's rows do in sync\n"
     "  --listen HOST:PORT          where to listen (default 127.0.0.1:8080); plain HTTP\n"
     "                              only on loopback, anything else needs TLS\n"
     "  --ready-file FILE           written once listening: {\"api_url\",\"url\",\"port\"}\n"
     "  --tls-cert FILE             TLS certificate chain (PEM)\n"
     "  --tls-key FILE              its private key (PEM, mode 0600)\n"
     "  --workers N                 worker threads (default 4)\n"
     "  --event-secrets-file FILE   Standard Webhooks secrets, one whsec_... a line, two at\n"
     "                              most (a rotation); mode 0600\n"
     "  --api-keys-file FILE        one \"NAME RIGHTS sha256:HEX\" a line, RIGHTS a comma list\n"
     "                              of events, provision, read; mode 0600\n"
     "  --notify-file FILE          outbound notification endpoints (JSON)\n"
     "  --shutdown-grace SECONDS    what running jobs get on SIGTERM (default 30)\n"
     "  --queue-max N               pending jobs past which new work gets 503 (100000)\n"
     "  --chain-verify-interval SECONDS  how often the receipt chain is verified from\n"
     "                              the last verified head (default 300, 0: never)",
     gcs_cmd_serve},
    {"version", "print the version", "gcscim version [--json]", "", gcs_cmd_version},
    {"help", "show help for a command", "gcscim help [COMMAND]", "", gcs_cmd_help},
    {NULL, NULL, NULL, NULL, NULL},
};

const gcs_cli_command *gcs_cli_find_command(const char *name)
{
    for (const gcs_cli_command *c = gcs_cli_commands; c->name; c++) {
        if (strcmp(c->name, name) == 0)
            return c;
    }
    return NULL;
}
