/* The table of commands. Keep it in the order `gcscim --help` shows. */
#include "cli/cli.h"

#include <string.h>

#define PROVISION_OPTIONS                                                                          \
    "  --source FILE               the HR export: CSV (header row) or JSON (array or lines)\n"     \
    "  --profile FILE              the mapping profile (YAML or JSON; docs/mapping.md)\n"          \
    "  --format csv|json|ndjson    the source's format when its extension does not say\n"          \
    "  --no-create                 never create users\n"                                          \
    "  --no-update                 never change existing users (nor reactivate them)\n"           \
    "  --no-deactivate             never deactivate users\n"                                      \
    "  --allow-deactivations N     approve up to N deactivations above the thresholds\n"          \
    "  --max-deactivations N       deactivations allowed without approval (default 10)\n"         \
    "  --max-deactivation-share P  ... and at most P% of managed users (default 5)\n"            \
    "  --strict                    the first bad row stops the run\n"                            \
    "  --passwords-out FILE        where generated passwords go when the profile asks (0600)\n"  \
    "  --json                      one JSON object instead of text\n"

const gcs_cli_command gcs_cli_commands[] = {
    {"plan", "show every change a sync would make, without making any",
     "gcscim plan --source FILE --profile FILE [--out PLAN.json] [options]",
     "Reads the source and the organisation's current users, and shows what would be\n"
     "created (+), updated or reactivated (~) and deactivated (-), with each attribute's\n"
     "old and new value. Writes nothing to Genesys. --out saves the plan (mode 0600) for\n"
     "'gcscim apply'. Exit 3 when some rows were rejected.\n\nOptions:\n"
     "  --out FILE                  save the plan\n" PROVISION_OPTIONS,
     gcs_cmd_plan},
    {"apply", "apply exactly a saved plan",
     "gcscim apply PLAN.json [--allow-deactivations N] [--passwords-out FILE] [--json]",
     "Applies the plan's operations, paced to the rate limit, with a receipt for every\n"
     "call. A user changed since the plan is re-read: the change is applied only if it\n"
     "still holds, otherwise the drift is reported and the user left alone. Running\n"
     "the same command again after an interruption resumes the run. Exit 3 when some\n"
     "operations failed or drifted, 4 when deactivations need approval.",
     gcs_cmd_apply},
    {"sync", "plan and apply in one go",
     "gcscim sync --source FILE --profile FILE [options]",
     "Plans (as 'gcscim plan' shows) and applies (as 'gcscim apply' does). Bulk\n"
     "attribute updates are a sync with a profile that maps only those attributes,\n"
     "run with --no-create --no-deactivate (examples/bulk-update/).\n\nOptions:\n"
     PROVISION_OPTIONS,
     gcs_cmd_sync},
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
     "gcscim jobs list [--state STATE]|show ID|retry ID|drop ID [--json]",
     "  list     every job, oldest first; --state pending|running|done|dead|dropped\n"
     "  show ID  one job with its payload and last error\n"
     "  retry ID make a dead, dropped or done job pending again, attempts reset\n"
     "  drop ID  put a pending or dead job aside (kept for the record)",
     gcs_cmd_jobs},
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
