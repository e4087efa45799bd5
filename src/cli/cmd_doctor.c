/* gcscim doctor: parses, runs the checks (engine/doctor.h), prints them. */
#include "cli/cli.h"
#include "core/error.h"
#include "engine/doctor.h"
#include "service/serve_doctor.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_SOURCE = 1,
    OPT_PROFILE,
    OPT_FORMAT,
    OPT_ANCHOR,
};

static const struct option doctor_options[] = {
    {"source", required_argument, NULL, OPT_SOURCE},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"anchor", required_argument, NULL, OPT_ANCHOR},
    {NULL, 0, NULL, 0},
};

static int on_option(int id, const char *arg, void *payload)
{
    gcs_doctor_options *o = payload;
    switch (id) {
    case OPT_SOURCE: o->source_path = arg; return 0;
    case OPT_PROFILE: o->profile_path = arg; return 0;
    case OPT_FORMAT:
        if (gcs_source_format_parse(&o->source_format, arg) < 0)
            return gcs_error_set(GCS_EUSAGE, "unknown --format '%s' (csv, json, ndjson)", arg);
        return 0;
    case OPT_ANCHOR: return gcs_cli_parse_anchor(&o->anchor_seq, o->anchor_hash, arg);
    default: return gcs_error_set(GCS_EUSAGE, "unknown option");
    }
}

static void print_text(gcs_cli *cli, const gcs_doctor_report *r)
{
    static const char *const shown[] = {"ok", "WARN", "FAIL", "skip"};
    long counts[4] = {0};
    size_t width = 5;
    for (size_t i = 0; i < r->count; i++) {
        size_t n = strlen(r->checks[i].name);
        width = n > width ? n : width;
    }
    fprintf(cli->out, "%-*s  %-6s  %s\n", (int)width, "CHECK", "STATUS", "DETAIL");
    for (size_t i = 0; i < r->count; i++) {
        const gcs_doctor_check *c = &r->checks[i];
        counts[c->status]++;
        fprintf(cli->out, "%-*s  %-6s  %s\n", (int)width, c->name, shown[c->status], c->detail);
        if (c->advice)
            fprintf(cli->out, "%-*s          -> %s\n", (int)width, "", c->advice);
    }
    fprintf(cli->out, "\n%ld failed, %ld warning%s, %ld ok, %ld skipped\n",
            counts[GCS_DOCTOR_FAIL], counts[GCS_DOCTOR_WARN],
            counts[GCS_DOCTOR_WARN] == 1 ? "" : "s", counts[GCS_DOCTOR_OK],
            counts[GCS_DOCTOR_SKIPPED]);
}

gcs_exit gcs_cmd_doctor(gcs_cli *cli, int argc, char **argv)
{
    gcs_doctor_options o;
    gcs_doctor_options_init(&o);
    int first, rc;
    if ((rc = gcs_cli_parse(cli, argc, argv, doctor_options, on_option, &o, &first)) != 0)
        return rc;
    if (first < argc)
        return gcs_cli_usage_error(cli, "doctor", "unexpected argument '%s'", argv[first]);
    if (!o.source_path != !o.profile_path)
        return gcs_cli_usage_error(cli, "doctor", "give --source and --profile together");

    /* A configuration that does not load is the first finding, not the end. */
    char config_error[1024] = "";
    if ((rc = gcs_cli_load_config(cli)) < 0) {
        if (rc == GCS_EUSAGE)
            return gcs_cli_fail(cli, rc);
        snprintf(config_error, sizeof config_error, "%s", gcs_error_last());
        o.config_error = config_error;
    }
    o.config = &cli->config;
    o.more_checks = gcs_serve_doctor_checks;

    gcs_doctor_report report;
    if ((rc = gcs_doctor_run(&report, &o)) < 0) {
        gcs_doctor_report_release(&report);
        return gcs_cli_fail(cli, rc);
    }
    if (cli->json) {
        json_t *doc = gcs_doctor_report_json(&report);
        gcs_cli_print_json(cli, doc);
        json_decref(doc);
    } else {
        print_text(cli, &report);
    }
    int code = gcs_doctor_failed(&report) ? GCS_EXIT_FAILURE : GCS_EXIT_OK;
    gcs_doctor_report_release(&report);
    return code;
}
