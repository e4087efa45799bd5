/* gcscim undo RUN: the plan that takes a run back, shown like any plan. */
#include "cli/provision.h"
#include "engine/undo.h"

gcs_exit gcs_cmd_undo(gcs_cli *cli, int argc, char **argv)
{
    gcs_provision p;
    gcs_provision_init(&p, cli, "undo");
    json_t *report = NULL;
    int first, code = gcs_provision_parse(&p, argc, argv, false, &first);
    if (code != 0)
        return code;
    if (first >= argc) {
        code = gcs_cli_usage_error(cli, "undo",
                                   "missing RUN (a run id that 'gcscim runs list' shows)");
        goto out;
    }
    if (first + 1 < argc) {
        code = gcs_cli_usage_error(cli, "undo", "unexpected argument '%s'", argv[first + 1]);
        goto out;
    }
    if (p.canary_count || p.canary_share > 0) {
        code =
            gcs_cli_usage_error(cli, "undo", "--canary is for apply: apply the undo plan with it");
        goto out;
    }
    gcs_plan plan;
    gcs_undo_stats stats;
    int rc = gcs_provision_connect(&p);
    if (rc == 0) {
        gcs_undo_options o = {
            .run_id = argv[first],
            .api_url = p.session->api_url,
            .client_id = gcs_config_get(&cli->config, GCS_CFG_CLIENT_ID),
            .client_secret = gcs_config_get(&cli->config, GCS_CFG_CLIENT_SECRET),
            .plan = p.planner.plan,
        };
        rc = gcs_undo_plan(&plan, &stats, p.session->client, p.store, &o);
    }
    if (rc == 0) {
        rc = gcs_provision_show(&p, &plan, stats.users_read, stats.requests, &report);
        gcs_plan_release(&plan);
    }
    if (rc < 0) {
        code = gcs_cli_fail(cli, rc);
        goto out;
    }
    /* Users changed since the run are left alone: the undo is partial. */
    code = stats.drift ? GCS_EXIT_PARTIAL : GCS_EXIT_OK;
    if (report)
        gcs_provision_print_report(cli->out, report);
out:
    json_decref(report);
    gcs_provision_release(&p);
    return code;
}
