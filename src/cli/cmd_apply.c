/* gcscim apply PLAN.json: apply exactly that plan. */
#include "cli/provision.h"
#include "core/error.h"
#include "engine/sync.h"

#include <stdio.h>
#include <string.h>

/* The path as one shell word (single quotes unless it is plainly safe). */
static void print_shell_word(FILE *out, const char *s)
{
    if (*s &&
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@%,=") ==
            strlen(s)) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

gcs_exit gcs_provision_already_applied(gcs_provision *p, const char *run_id, int64_t finished_ms,
                                  json_t **report)
{
    char when[64];
    gcs_cli_format_time(when, sizeof when, finished_ms);
    if (p->cli->json) {
        *report = json_pack("{s:s,s:b,s:s,s:I}", "run", run_id, "already_applied", 1, "finished",
                            when, "requests", (json_int_t)0);
    } else {
        fprintf(p->cli->out, "Already applied (run %s, finished at %s): nothing sent.\n", run_id,
                when);
    }
    return GCS_EXIT_OK;
}

/* The same command line, with every flag it had (approvals included: the
 * resume needs them again), and the global options given after the command. */
gcs_exit gcs_provision_interrupted(gcs_provision *p, const char *run_id)
{
    FILE *err = p->cli->err;
    fprintf(err, "gcscim: %s\n", gcs_error_last());
    fprintf(err, "gcscim: run %s is recorded as interrupted; ", run_id);
    if (p->plan_path)
        fputs("resume it with: gcscim", err);
    else /* a sync plans again from what Genesys now holds: what was done is not redone */
        fputs("resume it by running the same command again: gcscim", err);
    for (int i = 0; i < p->argc && p->argv; i++) {
        fputc(' ', err);
        print_shell_word(err, p->argv[i]);
    }
    fputc('\n', err);
    return GCS_EXIT_INTERRUPTED;
}

/* A plan whose run is done is answered from the store alone: no token is
 * fetched and no call is made. Sets *done. */
static int check_done(bool *done, gcs_provision *p, const gcs_plan *plan)
{
    int rc;
    gcs_run run;
    *done = false;
    if ((rc = gcs_cli_load_config(p->cli)) < 0)
        return rc;
    if ((rc = gcs_store_open(&p->store, gcs_config_get(&p->cli->config, GCS_CFG_DB))) < 0)
        return rc;
    if ((rc = gcs_sync_plan_applied(done, &run, p->store, plan)) < 0 || !*done)
        return rc;
    json_t *report = NULL;
    gcs_provision_already_applied(p, run.id, run.finished_ms, &report);
    /* What an earlier run of it left in the outbox goes now. */
    if ((rc = gcs_provision_load_notify(p)) < 0) {
        json_decref(report);
        gcs_run_release(&run);
        return rc;
    }
    gcs_provision_notify(p, report);
    if (report)
        gcs_provision_print_report(p->cli->out, report);
    json_decref(report);
    gcs_run_release(&run);
    return 0;
}

gcs_exit gcs_cmd_apply(gcs_cli *cli, int argc, char **argv)
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
    p.plan_path = argv[first];
    gcs_plan plan = {0};
    bool done = false;
    int rc = gcs_plan_read(&plan, argv[first]);
    if (rc == 0)
        rc = gcs_plan_check_current(&plan, argv[first]);
    /* The identity is a digest anyone can recompute after an edit: the seal,
     * made with the credentials, is what says gcscim made this plan. */
    if (rc == 0 && (rc = gcs_cli_load_config(cli)) == 0)
        rc = gcs_plan_check_seal(&plan, argv[first], gcs_config_get(&cli->config, GCS_CFG_CLIENT_ID),
                                 gcs_config_get(&cli->config, GCS_CFG_CLIENT_SECRET));
    if (rc == 0)
        rc = check_done(&done, &p, &plan);
    if (rc == 0 && done) {
        gcs_plan_release(&plan);
        code = GCS_EXIT_OK;
        goto out;
    }
    if (rc == 0)
        rc = gcs_provision_connect(&p);
    if (rc == 0)
        rc = gcs_plan_check_target(&plan, p.session->api_url, argv[first]);
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
