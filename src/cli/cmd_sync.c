/* gcscim sync: plan and apply in one go. */
#include "cli/provision.h"

int gcs_cmd_sync(gcs_cli *cli, int argc, char **argv)
{
    gcs_provision p;
    gcs_provision_init(&p, cli, "sync");
    int first, code = gcs_provision_parse(&p, argc, argv, true, &first);
    if (code != 0)
        return code;
    if (first < argc) {
        code = gcs_cli_usage_error(cli, "sync", "unexpected argument '%s'", argv[first]);
        goto out;
    }
    int rc = gcs_provision_connect(&p);
    gcs_plan plan;
    gcs_planner_stats stats;
    if (rc == 0)
        rc = gcs_provision_plan(&p, &plan, &stats);
    if (rc < 0) {
        code = gcs_cli_fail(cli, rc);
        goto out;
    }
    code = gcs_provision_apply(&p, &plan);
    if (code == GCS_EXIT_OK && stats.rejected)
        code = GCS_EXIT_PARTIAL;
    gcs_plan_release(&plan);
out:
    gcs_provision_release(&p);
    return code;
}
