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
