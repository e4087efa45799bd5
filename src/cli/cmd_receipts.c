/* gcscim receipts list|show|export|verify: what was done, and proof that the
 * record was not altered. */
#include "cli/cli.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/time.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ==== Shared with the other store commands ==== */

int gcs_cli_open_store(gcs_cli *cli, gcs_store **out)
{
    return gcs_store_open_existing(out, gcs_config_get(&cli->config, GCS_CFG_DB));
}

/* ==== Options ==== */

enum {
    OPT_USER = 0x100,
    OPT_RUN,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_OUTCOME,
    OPT_LIMIT,
    OPT_FORMAT,
    OPT_OUT,
    OPT_ANCHOR,
};

static const struct option options[] = {
    {"user", required_argument, NULL, OPT_USER},
    {"run", required_argument, NULL, OPT_RUN},
    {"since", required_argument, NULL, OPT_SINCE},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"outcome", required_argument, NULL, OPT_OUTCOME},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"out", required_argument, NULL, OPT_OUT},
    {"anchor", required_argument, NULL, OPT_ANCHOR},
    {NULL, 0, NULL, 0},
};

typedef struct opts {
    gcs_receipt_filter filter;
    const char *format;
    const char *out;
    int64_t anchor_seq;       /* --anchor SEQ:HASH, a head printed by an earlier verify */
    char anchor_hash[65];
} opts;

static int on_option(int id, const char *arg, void *payload)
{
    opts *o = payload;
    char *end;
    switch (id) {
    case OPT_USER: o->filter.user = arg; return 0;
    case OPT_RUN: o->filter.run_id = arg; return 0;
    case OPT_OUTCOME: o->filter.outcome = arg; return 0;
    case OPT_SINCE: return gcs_time_parse_iso8601(&o->filter.since_ms, arg);
    case OPT_UNTIL: return gcs_time_parse_iso8601(&o->filter.until_ms, arg);
    case OPT_LIMIT:
        errno = 0;
        o->filter.limit = strtoll(arg, &end, 10);
        if (errno || *end || end == arg || o->filter.limit < 1)
            return gcs_error_set(GCS_EUSAGE, "--limit: '%s' is not a positive number", arg);
        return 0;
    case OPT_FORMAT:
        if (strcmp(arg, "jsonl") != 0 && strcmp(arg, "csv") != 0)
            return gcs_error_set(GCS_EUSAGE, "--format: '%s' is not jsonl or csv", arg);
        o->format = arg;
        return 0;
    case OPT_OUT: o->out = arg; return 0;
    case OPT_ANCHOR: return gcs_cli_parse_anchor(&o->anchor_seq, o->anchor_hash, arg);
    default: return gcs_error_set(GCS_EUSAGE, "unexpected option");
    }
}

/* ==== list, show ==== */

typedef struct printer {
    gcs_cli *cli;
    json_t *array;
    int64_t n;
} printer;

static int print_row(const gcs_receipt *r, void *payload)
{
    printer *p = payload;
    p->n++;
    if (p->array) {
        json_array_append_new(p->array, gcs_receipt_json(r));
        return 0;
    }
    char when[40];
    gcs_time_format_iso8601(when, sizeof when, r->time_ms);
    fprintf(p->cli->out, "%-7lld %-24s %-11s %-6s %-20s %-36s %-6d %s\n", (long long)r->seq,
            when, r->operation ? r->operation : "-", r->resource_type ? r->resource_type : "-",
            r->source_key ? r->source_key : "-", r->genesys_id ? r->genesys_id : "-", r->status,
            r->outcome ? r->outcome : "-");
    return 0;
}

static int list(gcs_cli *cli, gcs_store *s, opts *o)
{
    printer p = {cli, cli->json ? json_array() : NULL, 0};
    if (!o->filter.limit)
        o->filter.limit = 50;
    o->filter.newest_first = true;
    if (!cli->json)
        fprintf(cli->out, "%-7s %-24s %-11s %-6s %-20s %-36s %-6s %s\n", "SEQ", "TIME",
                "OPERATION", "TYPE", "KEY", "GENESYS_ID", "STATUS", "OUTCOME");
    int rc = gcs_store_receipts_each(s, &o->filter, print_row, &p);
    if (rc == 0 && p.array)
        gcs_cli_print_json(cli, p.array);
    json_decref(p.array);
    return rc;
}

static int show_one(const gcs_receipt *r, void *payload)
{
    printer *p = payload;
    json_t *o = gcs_receipt_json(r);
    p->n++;
    if (p->cli->json) {
        gcs_cli_print_json(p->cli, o);
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) {
            if (json_is_string(v))
                fprintf(p->cli->out, "%-15s %s\n", k, json_string_value(v));
            else if (json_is_integer(v))
                fprintf(p->cli->out, "%-15s %lld\n", k, (long long)json_integer_value(v));
            else
                fprintf(p->cli->out, "%-15s -\n", k);
        }
    }
    json_decref(o);
    return 0;
}

static int show(gcs_cli *cli, gcs_store *s, const char *id)
{
    char *end;
    long long seq = strtoll(id, &end, 10);
    if (*end || end == id || seq < 1)
        return gcs_error_set(GCS_EUSAGE, "receipt id '%s' is not a number", id);
    printer p = {cli, NULL, 0};
    gcs_receipt_filter f = {.seq_min = seq, .seq_max = seq};
    int rc = gcs_store_receipts_each(s, &f, show_one, &p);
    if (rc == 0 && p.n == 0)
        rc = gcs_error_set(GCS_ENOTFOUND, "no receipt %lld", seq);
    return rc;
}

/* ==== export ==== */

typedef struct exporter {
    FILE *f;
    bool csv;
    gcs_buf line;
    int64_t n;
} exporter;

static int export_row(const gcs_receipt *r, void *payload)
{
    exporter *e = payload;
    int rc;
    gcs_buf_clear(&e->line);
    if (e->csv) {
        if ((rc = gcs_receipt_csv(&e->line, r)) < 0)
            return rc;
    } else {
        json_t *o = gcs_receipt_json(r);
        char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        GCS_CHECK_ALLOC(text);
        rc = gcs_buf_puts(&e->line, text);
        free(text);
        if (rc == 0)
            rc = gcs_buf_putc(&e->line, '\n');
        if (rc < 0)
            return rc;
    }
    if (fwrite(e->line.ptr, 1, e->line.len, e->f) != e->line.len)
        return gcs_error_set(GCS_EIO, "cannot write the export: %s", strerror(errno));
    e->n++;
    return 0;
}

static int export(gcs_cli *cli, gcs_store *s, opts *o)
{
    int rc = 0;
    exporter e = {.f = cli->out, .csv = o->format && strcmp(o->format, "csv") == 0};
    gcs_buf_init(&e.line, 4 * GCS_RECEIPT_BODY_MAX + 8192);
    if (o->out) {
        /* Receipts name people: the export is readable by its owner only. */
        int fd = open(o->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || !(e.f = fdopen(fd, "w"))) {
            rc = gcs_error_set(GCS_EIO, "cannot write '%s': %s", o->out, strerror(errno));
            if (fd >= 0)
                close(fd);
            goto out;
        }
    }
    if (e.csv && fputs(gcs_receipt_csv_header, e.f) == EOF) {
        rc = gcs_error_set(GCS_EIO, "cannot write the export: %s", strerror(errno));
        goto out;
    }
    if ((rc = gcs_store_receipts_each(s, &o->filter, export_row, &e)) < 0)
        goto out;
    if (fflush(e.f) != 0)
        rc = gcs_error_set(GCS_EIO, "cannot write the export: %s", strerror(errno));
    if (rc == 0 && o->out)
        fprintf(cli->err, "gcscim: exported %lld receipts to %s\n", (long long)e.n, o->out);
out:
    if (o->out && e.f && fclose(e.f) != 0 && rc == 0)
        rc = gcs_error_set(GCS_EIO, "cannot write '%s': %s", o->out, strerror(errno));
    gcs_buf_release(&e.line);
    return rc;
}

/* ==== verify ==== */

static int verify(gcs_cli *cli, gcs_store *s, const opts *opt)
{
    gcs_verify_result v;
    int rc = gcs_store_receipts_verify_anchored(&v, s, opt->anchor_seq,
                                                opt->anchor_seq ? opt->anchor_hash : NULL);
    if (rc < 0)
        return gcs_cli_fail(cli, rc);
    if (cli->json) {
        json_t *o = json_pack("{s:b,s:I,s:I,s:s}", "ok", v.ok, "checked", (json_int_t)v.checked,
                              "head_seq", (json_int_t)v.head_seq, "head_hash", v.head_hash);
        if (!v.ok) {
            json_object_set_new(o, "broken_seq", json_integer(v.broken_seq));
            json_object_set_new(o, "reason", json_string(v.reason));
        }
        gcs_cli_print_json(cli, o);
        json_decref(o);
    } else if (v.ok) {
        fprintf(cli->out, "receipt chain holds: %lld receipts, head %lld:%s\n",
                (long long)v.checked, (long long)v.head_seq, v.head_hash);
    } else {
        fprintf(cli->out, "receipt chain broken at receipt %lld: %s\n", (long long)v.broken_seq,
                v.reason);
    }
    return v.ok ? GCS_EXIT_OK : GCS_EXIT_BROKEN;
}

/* ==== The command ==== */

gcs_exit gcs_cmd_receipts(gcs_cli *cli, int argc, char **argv)
{
    int first, rc;
    opts o = {0};
    gcs_store *s = NULL;
    if ((rc = gcs_cli_parse(cli, argc, argv, options, on_option, &o, &first)) != 0)
        return rc;
    if (first >= argc)
        return gcs_cli_usage_error(cli, "receipts", "missing subcommand (list, show, export, verify)");
    const char *sub = argv[first];
    int operands = argc - first - 1;
    bool is_show = strcmp(sub, "show") == 0;
    if (strcmp(sub, "list") != 0 && !is_show && strcmp(sub, "export") != 0 &&
        strcmp(sub, "verify") != 0)
        return gcs_cli_usage_error(cli, "receipts", "unknown subcommand '%s'", sub);
    if (is_show && operands != 1)
        return gcs_cli_usage_error(cli, "receipts", "receipts show needs one receipt id");
    if (!is_show && operands > 0)
        return gcs_cli_usage_error(cli, "receipts", "unexpected argument '%s'", argv[first + 1]);
    if ((o.format || o.out) && strcmp(sub, "export") != 0)
        return gcs_cli_usage_error(cli, "receipts", "--format and --out are for receipts export");
    if (o.anchor_seq && strcmp(sub, "verify") != 0)
        return gcs_cli_usage_error(cli, "receipts", "--anchor is for receipts verify");
    if ((rc = gcs_cli_load_config(cli)) < 0)
        return gcs_cli_fail(cli, rc);
    if ((rc = gcs_cli_open_store(cli, &s)) < 0)
        return gcs_cli_fail(cli, rc);
    if (strcmp(sub, "verify") == 0) {
        int code = verify(cli, s, &o);
        gcs_store_free(s);
        return code;
    }
    if (is_show)
        rc = show(cli, s, argv[first + 1]);
    else if (strcmp(sub, "list") == 0)
        rc = list(cli, s, &o);
    else
        rc = export(cli, s, &o);
    gcs_store_free(s);
    return rc < 0 ? gcs_cli_fail(cli, rc) : GCS_EXIT_OK;
}
