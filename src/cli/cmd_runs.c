/* gcscim runs list|show: the recorded runs of apply and sync, and their items. */
#include "cli/cli.h"
#include "core/error.h"
#include "core/time.h"
#include "store/store.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *run_json(const gcs_run *r)
{
    char started[40], finished[40];
    gcs_cli_format_time(started, sizeof started, r->started_ms);
    gcs_cli_format_time(finished, sizeof finished, r->finished_ms);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "command", str_or_null(r->command));
    json_object_set_new(o, "plan_id", str_or_null(r->plan_id));
    json_object_set_new(o, "state", json_string(r->state));
    json_object_set_new(o, "started", json_string(started));
    json_object_set_new(o, "finished", r->finished_ms ? json_string(finished) : json_null());
    json_object_set_new(o, "items",
                        json_pack("{s:I,s:I,s:I,s:I}", "pending", (json_int_t)r->pending,
                                  "in_progress", (json_int_t)r->in_progress, "done",
                                  (json_int_t)r->done, "failed", (json_int_t)r->failed));
    return o;
}

typedef struct printer {
    gcs_cli *cli;
    json_t *array;
} printer;

static int list_row(const gcs_run *r, void *payload)
{
    printer *p = payload;
    if (p->array) {
        json_array_append_new(p->array, run_json(r));
        return 0;
    }
    char started[40];
    gcs_cli_format_time(started, sizeof started, r->started_ms);
    fprintf(p->cli->out, "%-26s %-11s %-24s %6lld %6lld %6lld %6lld  %s\n", r->id, r->state,
            started, (long long)r->done, (long long)r->failed, (long long)r->in_progress,
            (long long)r->pending, r->command ? r->command : "-");
    return 0;
}

static int item_row(const gcs_run_item *it, void *payload)
{
    printer *p = payload;
    if (p->array) {
        json_array_append_new(p->array,
                              json_pack("{s:s,s:s,s:o,s:i,s:o}", "key", it->key, "state", it->state,
                                        "genesys_id", str_or_null(it->genesys_id), "attempts",
                                        it->attempts, "detail", str_or_null(it->detail)));
        return 0;
    }
    fprintf(p->cli->out, "  %-24s %-11s %-36s %3d  %s\n", it->key, it->state,
            it->genesys_id ? it->genesys_id : "-", it->attempts, it->detail ? it->detail : "");
    return 0;
}

/* Who is applying the run now, when someone is: the lease on its plan (into
 * `o` with --json, else a line). */
static void show_lease(gcs_cli *cli, gcs_store *s, const gcs_run *r, json_t *o)
{
    gcs_run_lease l;
    if (!r->plan_id || gcs_store_lease_get(&l, s, r->plan_id) < 0)
        return;
    if (l.run_id && strcmp(l.run_id, r->id) == 0) {
        char since[40], beat[40], until[40];
        gcs_cli_format_time(since, sizeof since, l.since_ms);
        gcs_cli_format_time(beat, sizeof beat, l.heartbeat_ms);
        gcs_cli_format_time(until, sizeof until, l.until_ms);
        if (o)
            json_object_set_new(o, "lease",
                                json_pack("{s:s,s:s,s:I,s:s,s:s,s:s}", "owner", l.owner, "host",
                                          l.host, "pid", (json_int_t)l.pid, "since", since,
                                          "heartbeat", beat, "until", until));
        else
            fprintf(cli->out,
                    "held by   pid %lld on %s since %s (last heartbeat %s, until %s)\n\n",
                    (long long)l.pid, l.host, since, beat, until);
    }
    gcs_run_lease_release(&l);
}

static int show(gcs_cli *cli, gcs_store *s, const char *id)
{
    gcs_run r;
    int rc = gcs_store_run_get(&r, s, id);
    if (rc < 0)
        return rc;
    printer p = {cli, NULL};
    json_t *o = NULL;
    if (cli->json) {
        o = run_json(&r);
        p.array = json_array();
        json_object_set_new(o, "item_list", p.array);
    } else {
        char started[40], finished[40];
        gcs_cli_format_time(started, sizeof started, r.started_ms);
        gcs_cli_format_time(finished, sizeof finished, r.finished_ms);
        fprintf(cli->out,
                "run       %s\ncommand   %s\nplan      %s\nstate     %s\nstarted   %s\n"
                "finished  %s\nitems     %lld done, %lld failed, %lld in progress, %lld pending\n\n",
                r.id, r.command ? r.command : "-", r.plan_id ? r.plan_id : "-", r.state, started,
                finished, (long long)r.done, (long long)r.failed, (long long)r.in_progress,
                (long long)r.pending);
        show_lease(cli, s, &r, NULL);
        fprintf(cli->out, "  %-24s %-11s %-36s %3s  %s\n", "ITEM", "STATE", "GENESYS_ID", "TRY",
                "DETAIL");
    }
    if (o)
        show_lease(cli, s, &r, o);
    rc = gcs_store_items_each(s, r.id, NULL, item_row, &p);
    if (rc == 0 && o)
        gcs_cli_print_json(cli, o);
    json_decref(o);
    gcs_run_release(&r);
    return rc;
}

gcs_exit gcs_cmd_runs(gcs_cli *cli, int argc, char **argv)
{
    int first, rc;
    gcs_store *s = NULL;
    if ((rc = gcs_cli_parse(cli, argc, argv, NULL, NULL, NULL, &first)) != 0)
        return rc;
    if (first >= argc)
        return gcs_cli_usage_error(cli, "runs", "missing subcommand (list, show)");
    const char *sub = argv[first];
    bool is_show = strcmp(sub, "show") == 0;
    if (!is_show && strcmp(sub, "list") != 0)
        return gcs_cli_usage_error(cli, "runs", "unknown subcommand '%s'", sub);
    if (argc - first - 1 != (is_show ? 1 : 0))
        return gcs_cli_usage_error(cli, "runs", is_show ? "runs show needs one run id"
                                                        : "runs list takes no argument");
    if ((rc = gcs_cli_load_config(cli)) < 0 || (rc = gcs_cli_open_store(cli, &s)) < 0)
        return gcs_cli_fail(cli, rc);
    if (is_show) {
        rc = show(cli, s, argv[first + 1]);
    } else {
        printer p = {cli, cli->json ? json_array() : NULL};
        if (!cli->json)
            fprintf(cli->out, "%-26s %-11s %-24s %6s %6s %6s %6s  %s\n", "RUN", "STATE", "STARTED",
                    "DONE", "FAILED", "BUSY", "TODO", "COMMAND");
        rc = gcs_store_runs_each(s, 0, list_row, &p);
        if (rc == 0 && p.array)
            gcs_cli_print_json(cli, p.array);
        json_decref(p.array);
    }
    gcs_store_free(s);
    return rc < 0 ? gcs_cli_fail(cli, rc) : GCS_EXIT_OK;
}
