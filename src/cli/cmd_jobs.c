/* gcscim jobs list|show|retry|drop|approve: the durable job queue used by serve. */
#include "cli/cli.h"
#include "core/error.h"
#include "core/redact.h"
#include "core/time.h"
#include "plan/plan.h"
#include "store/store.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_STATE = 0x100, OPT_APPROVE };

static const struct option options[] = {
    {"state", required_argument, NULL, OPT_STATE},
    {"approve", required_argument, NULL, OPT_APPROVE},
    {NULL, 0, NULL, 0},
};

typedef struct jobs_opts {
    const char *state;
    const char *approve[GCS_PLAN_APPROVALS_MAX]; /* borrowed from argv */
    size_t approve_count;
} jobs_opts;

static int on_option(int id, const char *arg, void *payload)
{
    jobs_opts *jo = payload;
    const char **state = &jo->state;
    if (id == OPT_APPROVE) {
        gcs_plan_options check;
        gcs_plan_options_init(&check);
        int rc = gcs_plan_options_approve(&check, arg);
        if (rc < 0)
            return rc;
        if (jo->approve_count == GCS_PLAN_APPROVALS_MAX)
            return gcs_error_set(GCS_EUSAGE, "at most %d --approve", GCS_PLAN_APPROVALS_MAX);
        jo->approve[jo->approve_count++] = arg;
        return 0;
    }
    if (id != OPT_STATE)
        return gcs_error_set(GCS_EUSAGE, "unexpected option");
    const char *const states[] = {GCS_JOB_PENDING, GCS_JOB_RUNNING, GCS_JOB_DONE,
                                  GCS_JOB_DEAD,    GCS_JOB_DROPPED, GCS_JOB_NEEDS_APPROVAL};
    return gcs_cli_parse_state(state, arg, states, sizeof states / sizeof *states);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *job_json(const gcs_job *j)
{
    char nb[40], lease[40], created[40], updated[40];
    gcs_cli_format_time(nb, sizeof nb, j->not_before_ms);
    gcs_cli_format_time(lease, sizeof lease, j->lease_until_ms);
    gcs_cli_format_time(created, sizeof created, j->created_ms);
    gcs_cli_format_time(updated, sizeof updated, j->updated_ms);
    /* The queue keeps the payload as given (the worker needs it); what is shown
     * is redacted. */
    json_t *raw = json_loads(j->payload, JSON_DECODE_ANY, NULL);
    json_t *payload = raw ? gcs_redact_json(raw) : NULL;
    json_decref(raw);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(j->id));
    json_object_set_new(o, "key", json_string(j->key));
    json_object_set_new(o, "state", json_string(j->state));
    json_object_set_new(o, "attempts", json_integer(j->attempts));
    json_object_set_new(o, "max_attempts", json_integer(j->max_attempts));
    json_object_set_new(o, "not_before", json_string(nb));
    json_object_set_new(o, "lease_owner", str_or_null(j->lease_owner));
    json_object_set_new(o, "lease_until", j->lease_until_ms ? json_string(lease) : json_null());
    json_object_set_new(o, "last_error", str_or_null(j->last_error));
    json_object_set_new(o, "created", json_string(created));
    json_object_set_new(o, "updated", json_string(updated));
    if (!payload) {
        gcs_buf b;
        gcs_buf_init(&b, GCS_JOB_PAYLOAD_MAX * 2);
        gcs_redact_append(&b, j->payload);
        payload = json_string(b.ptr);
        gcs_buf_release(&b);
    }
    json_object_set_new(o, "payload", payload);
    /* The outcome the worker wrote (JSON text it made itself), redacted like
     * the payload all the same. */
    json_t *raw_result = j->result ? json_loads(j->result, JSON_DECODE_ANY, NULL) : NULL;
    json_object_set_new(o, "result", raw_result ? gcs_redact_json(raw_result) : json_null());
    json_decref(raw_result);
    return o;
}

typedef struct printer {
    gcs_cli *cli;
    json_t *array;
} printer;

static int list_row(const gcs_job *j, void *payload)
{
    printer *p = payload;
    if (p->array) {
        json_array_append_new(p->array, job_json(j));
        return 0;
    }
    char nb[40];
    gcs_cli_format_time(nb, sizeof nb, j->not_before_ms);
    fprintf(p->cli->out, "%-7lld %-24s %-8s %2d/%-2d %-24s %s\n", (long long)j->id, j->key,
            j->state, j->attempts, j->max_attempts, nb, j->last_error ? j->last_error : "");
    return 0;
}

static int show(gcs_cli *cli, gcs_store *s, int64_t id)
{
    gcs_job j;
    int rc = gcs_store_job_get(&j, s, id);
    if (rc < 0)
        return rc;
    json_t *o = job_json(&j);
    if (cli->json)
        gcs_cli_print_json(cli, o);
    else
        gcs_cli_print_fields(cli, o, 13);
    json_decref(o);
    gcs_job_release(&j);
    return 0;
}

/* The job's payload with the approvals recorded in it: those given, or else
 * every one its result says it needs (what `jobs show` listed). */
static int approve(gcs_cli *cli, gcs_store *s, int64_t id, const jobs_opts *jo)
{
    gcs_job j;
    int rc = gcs_store_job_get(&j, s, id);
    if (rc < 0)
        return rc;
    json_t *payload = json_loads(j.payload, 0, NULL);
    json_t *result = j.result ? json_loads(j.result, 0, NULL) : NULL;
    json_t *list = json_array();
    if (strcmp(j.state, GCS_JOB_NEEDS_APPROVAL) != 0) {
        rc = gcs_error_set(GCS_ECONFLICT, "job %lld is %s, not waiting for an approval",
                           (long long)id, j.state);
        goto out;
    }
    if (!json_is_object(payload) || !list) {
        rc = gcs_error_set(GCS_EINVALID, "job %lld: its payload is not a JSON object", (long long)id);
        goto out;
    }
    for (size_t i = 0; i < jo->approve_count; i++)
        json_array_append_new(list, json_string(jo->approve[i]));
    size_t i;
    json_t *n;
    json_array_foreach(jo->approve_count ? NULL : json_object_get(result, "needs"), i, n) {
        const char *flag = json_string_value(json_object_get(n, "flag"));
        if (flag && strncmp(flag, "--approve ", 10) == 0)
            json_array_append_new(list, json_string(flag + 10));
    }
    if (json_array_size(list) == 0) {
        rc = gcs_error_set(GCS_EUSAGE, "job %lld: nothing to approve: give --approve KIND=N",
                           (long long)id);
        goto out;
    }
    json_object_set(payload, "approve", list);
    json_object_set_new(payload, "approved_by", json_string("gcscim jobs approve"));
    char *text = json_dumps(payload, JSON_COMPACT);
    rc = text ? gcs_store_job_approve(s, id, text) : gcs_error_set(GCS_ENOMEM, "out of memory");
    free(text);
    if (rc == 0) {
        char *flags = json_dumps(list, JSON_COMPACT);
        if (cli->json)
            fprintf(cli->out, "{\"id\":%lld,\"state\":\"%s\",\"approve\":%s}\n", (long long)id,
                    GCS_JOB_PENDING, flags ? flags : "[]");
        else
            fprintf(cli->out, "job %lld is now %s, approved: %s\n", (long long)id,
                    GCS_JOB_PENDING, flags ? flags : "?");
        free(flags);
    }
out:
    json_decref(payload);
    json_decref(result);
    json_decref(list);
    gcs_job_release(&j);
    return rc;
}

gcs_exit gcs_cmd_jobs(gcs_cli *cli, int argc, char **argv)
{
    int first, rc;
    jobs_opts jo = {0};
    gcs_store *s = NULL;
    int64_t id = 0;
    const char *sub = NULL;
    static const char *const subs[] = {"list", "show", "retry", "drop", "approve", NULL};
    if ((rc = gcs_cli_parse(cli, argc, argv, options, on_option, &jo, &first)) != 0)
        return rc;
    const char *state = jo.state;
    if ((rc = gcs_cli_parse_row_operands(cli, "jobs", "job", subs, argc, argv, first, &sub,
                                         &id)) != GCS_EXIT_OK)
        return rc;
    bool is_list = strcmp(sub, "list") == 0, is_approve = strcmp(sub, "approve") == 0;
    if (state && !is_list)
        return gcs_cli_usage_error(cli, "jobs", "--state is for jobs list");
    if (jo.approve_count && !is_approve)
        return gcs_cli_usage_error(cli, "jobs", "--approve is for jobs approve");
    if ((rc = gcs_cli_load_config(cli)) < 0 || (rc = gcs_cli_open_store(cli, &s)) < 0)
        return gcs_cli_fail(cli, rc);
    if (is_list) {
        printer p = {cli, cli->json ? json_array() : NULL};
        if (!cli->json)
            fprintf(cli->out, "%-7s %-24s %-8s %-5s %-24s %s\n", "ID", "KEY", "STATE", "TRIES",
                    "NOT_BEFORE", "LAST_ERROR");
        rc = gcs_store_jobs_each(s, state, list_row, &p);
        if (rc == 0 && p.array)
            gcs_cli_print_json(cli, p.array);
        json_decref(p.array);
    } else if (strcmp(sub, "show") == 0) {
        rc = show(cli, s, id);
    } else if (is_approve) {
        rc = approve(cli, s, id, &jo);
    } else {
        bool retry = strcmp(sub, "retry") == 0;
        rc = retry ? gcs_store_job_retry(s, id) : gcs_store_job_drop(s, id);
        if (rc == 0) {
            const char *now = retry ? GCS_JOB_PENDING : GCS_JOB_DROPPED;
            if (cli->json)
                fprintf(cli->out, "{\"id\":%lld,\"state\":\"%s\"}\n", (long long)id, now);
            else
                fprintf(cli->out, "job %lld is now %s\n", (long long)id, now);
        }
    }
    gcs_store_free(s);
    return rc < 0 ? gcs_cli_fail(cli, rc) : GCS_EXIT_OK;
}
