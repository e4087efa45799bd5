/* The table of commands. Keep it in the order `gcscim --help` shows. */
#include "cli/cli.h"

#include <string.h>

const gcs_cli_command gcs_cli_commands[] = {
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
