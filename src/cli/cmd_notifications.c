/* gcscim notifications list|show|retry|drop: the outbox of notifications. */
#include "cli/cli.h"
#include "core/error.h"
#include "store/store.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_STATE = 0x100 };

static const struct option options[] = {
    {"state", required_argument, NULL, OPT_STATE},
    {NULL, 0, NULL, 0},
};

static int on_option(int id, const char *arg, void *payload)
{
    const char **state = payload;
    if (id != OPT_STATE)
        return gcs_error_set(GCS_EUSAGE, "unexpected option");
    const char *const states[] = {GCS_NOTE_PENDING, GCS_NOTE_SENDING, GCS_NOTE_DELIVERED,
                                  GCS_NOTE_DEAD, GCS_NOTE_DROPPED};
    return gcs_cli_parse_state(state, arg, states, sizeof states / sizeof *states);
}

static json_t *time_or_null(int64_t ms)
{
    char t[40];
    if (!ms)
        return json_null();
    gcs_cli_format_time(t, sizeof t, ms);
    return json_string(t);
}

/* The body was written without secrets (docs/notifications.md): shown as sent. */
static json_t *note_json(const gcs_notification *n, bool with_body)
{
    json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:o,s:o,s:o,s:s?,s:o,s:o}", "id",
                          (json_int_t)n->id, "webhook_id", n->msg_id, "endpoint", n->endpoint,
                          "type", n->type, "state", n->state, "attempts", n->attempts,
                          "created", time_or_null(n->created_ms), "next_attempt",
                          strcmp(n->state, GCS_NOTE_PENDING) == 0 ? time_or_null(n->not_before_ms)
                                                                  : json_null(),
                          "deadline", time_or_null(n->deadline_ms), "last_error", n->last_error,
                          "delivered", time_or_null(n->delivered_ms), "updated",
                          time_or_null(n->updated_ms));
    if (o && with_body) {
        json_t *body = json_loads(n->body, 0, NULL);
        json_object_set_new(o, "body", body ? body : json_string(n->body));
    }
    return o;
}

typedef struct printer {
    gcs_cli *cli;
    json_t *array;
} printer;

static int list_row(const gcs_notification *n, void *payload)
{
    printer *p = payload;
    if (p->array) {
        json_array_append_new(p->array, note_json(n, false));
        return 0;
    }
    char created[40];
    gcs_cli_format_time(created, sizeof created, n->created_ms);
    fprintf(p->cli->out, "%-7lld %-22s %-16s %-10s %5d %-24s %s\n", (long long)n->id, n->type,
            n->endpoint, n->state, n->attempts, created, n->last_error ? n->last_error : "");
    return 0;
}

static int show(gcs_cli *cli, gcs_store *s, int64_t id)
{
    gcs_notification n;
    int rc = gcs_store_notification_get(&n, s, id);
    if (rc < 0)
        return rc;
    json_t *o = note_json(&n, true);
    if (cli->json)
        gcs_cli_print_json(cli, o);
    else
        gcs_cli_print_fields(cli, o, 12);
    json_decref(o);
    gcs_notification_release(&n);
    return 0;
}

gcs_exit gcs_cmd_notifications(gcs_cli *cli, int argc, char **argv)
{
    int first, rc;
    const char *state = NULL;
    gcs_store *s = NULL;
    int64_t id = 0;
    const char *sub = NULL;
    static const char *const subs[] = {"list", "show", "retry", "drop", NULL};
    if ((rc = gcs_cli_parse(cli, argc, argv, options, on_option, &state, &first)) != 0)
        return rc;
    if ((rc = gcs_cli_parse_row_operands(cli, "notifications", "notification", subs, argc, argv,
                                         first, &sub, &id)) != GCS_EXIT_OK)
        return rc;
    bool is_list = strcmp(sub, "list") == 0;
    if (state && !is_list)
        return gcs_cli_usage_error(cli, "notifications", "--state is for notifications list");
    if ((rc = gcs_cli_load_config(cli)) < 0 || (rc = gcs_cli_open_store(cli, &s)) < 0)
        return gcs_cli_fail(cli, rc);
    if (is_list) {
        printer p = {cli, cli->json ? json_array() : NULL};
        if (!cli->json)
            fprintf(cli->out, "%-7s %-22s %-16s %-10s %5s %-24s %s\n", "ID", "TYPE", "ENDPOINT",
                    "STATE", "TRIES", "CREATED", "LAST_ERROR");
        rc = gcs_store_notifications_each(s, state, list_row, &p);
        if (rc == 0 && p.array)
            gcs_cli_print_json(cli, p.array);
        json_decref(p.array);
    } else if (strcmp(sub, "show") == 0) {
        rc = show(cli, s, id);
    } else {
        bool retry = strcmp(sub, "retry") == 0;
        rc = retry ? gcs_store_notification_retry(s, id) : gcs_store_notification_drop(s, id);
        if (rc == 0) {
            const char *now = retry ? GCS_NOTE_PENDING : GCS_NOTE_DROPPED;
            if (cli->json)
                fprintf(cli->out, "{\"id\":%lld,\"state\":\"%s\"}\n", (long long)id, now);
            else
                fprintf(cli->out, "notification %lld is now %s%s\n", (long long)id, now,
                        retry ? " (sync, apply or serve sends it)" : "");
        }
    }
    gcs_store_free(s);
    return rc < 0 ? gcs_cli_fail(cli, rc) : GCS_EXIT_OK;
}
