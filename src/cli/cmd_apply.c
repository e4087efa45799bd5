/* gcscim apply PLAN.json: apply exactly that plan. */
#include "cli/provision.h"
#include "core/error.h"

#include <string.h>

int gcs_cmd_apply(gcs_cli *cli, int argc, char **argv)
{
    gcs_provision p;
    gcs_provision_init(&p, cli, "apply");
    int first, code = gcs_provision_parse(&p, argc, argv, false, &first);
    if (code != 0)
        return code;
    if (first >= argc) {
        code = gcs_cli_usage_error(cli, "apply", "missing PLAN.json");
        goto out;
    }
    if (first + 1 < argc) {
        code = gcs_cli_usage_error(cli, "apply", "unexpected argument '%s'", argv[first + 1]);
        goto out;
    }
    gcs_plan plan = {0};
    int rc = gcs_plan_read(&plan, argv[first]);
    if (rc == 0)
        rc = gcs_provision_connect(&p);
    if (rc == 0) {
        /* A plan is only valid for the organisation it was computed against. */
        const char *target =
            json_string_value(json_object_get(json_object_get(plan.doc, "target"), "api_url"));
        if (!target || strcmp(target, p.session->api_url) != 0)
            rc = gcs_error_set(GCS_EINVALID,
                               "plan '%s' was made for %s, but the configured API is %s",
                               argv[first], target ? target : "(unknown)", p.session->api_url);
    }
    if (rc < 0) {
        code = gcs_cli_fail(cli, rc);
        gcs_plan_release(&plan);
        goto out;
    }
    json_t *report = NULL;
    code = gcs_provision_apply(&p, &plan, &report);
    if (report)
        gcs_provision_print_report(cli->out, report);
    json_decref(report);
    gcs_plan_release(&plan);
out:
    gcs_provision_release(&p);
    return code;
}
