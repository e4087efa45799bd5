/* receipt_formats.c - a receipt as JSON and as a CSV line, the formats of
 * `gcscim receipts export` and of anything else that hands receipts out. */
#include "store/store.h"
#include "core/buf.h"
#include "core/time.h"

#include <jansson.h>

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *gcs_receipt_json(const gcs_receipt *r)
{
    char when[40];
    gcs_time_format_iso8601(when, sizeof when, r->time_ms);
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(r->seq));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "time_ms", json_integer(r->time_ms));
    json_object_set_new(o, "run_id", str_or_null(r->run_id));
    json_object_set_new(o, "operation", str_or_null(r->operation));
    json_object_set_new(o, "resource_type", str_or_null(r->resource_type));
    json_object_set_new(o, "source_key", str_or_null(r->source_key));
    json_object_set_new(o, "genesys_id", str_or_null(r->genesys_id));
    json_object_set_new(o, "method", str_or_null(r->method));
    json_object_set_new(o, "path", str_or_null(r->path));
    json_object_set_new(o, "request_body", str_or_null(r->request_body));
    json_object_set_new(o, "status", json_integer(r->status));
    json_object_set_new(o, "response_body", str_or_null(r->response_body));
    json_object_set_new(o, "etag_sent", str_or_null(r->etag_sent));
    json_object_set_new(o, "etag_received", str_or_null(r->etag_received));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "latency_ms", json_integer(r->latency_ms));
    json_object_set_new(o, "outcome", str_or_null(r->outcome));
    json_object_set_new(o, "correlation_id", str_or_null(r->correlation_id));
    json_object_set_new(o, "prev_hash", str_or_null(r->prev_hash));
    json_object_set_new(o, "hash", str_or_null(r->hash));
    return o;
}

const char gcs_receipt_csv_header[] =
    "seq,time,run_id,operation,resource_type,source_key,genesys_id,method,path,request_body,"
    "status,response_body,etag_sent,etag_received,attempts,latency_ms,outcome,correlation_id,"
    "prev_hash,hash\n";

int gcs_receipt_csv(gcs_buf *out, const gcs_receipt *r)
{
    char when[40];
    gcs_time_format_iso8601(when, sizeof when, r->time_ms);
    const char *text[] = {r->run_id, r->operation, r->resource_type, r->source_key,
                          r->genesys_id, r->method, r->path, r->request_body};
    int rc = gcs_buf_printf(out, "%lld,%s", (long long)r->seq, when);
    for (size_t i = 0; i < sizeof text / sizeof *text && rc == 0; i++) {
        rc = gcs_buf_putc(out, ',');
        if (rc == 0)
            rc = gcs_buf_csv_field(out, text[i]);
    }
    if (rc == 0)
        rc = gcs_buf_printf(out, ",%d,", r->status);
    if (rc == 0)
        rc = gcs_buf_csv_field(out, r->response_body);
    const char *tail[] = {r->etag_sent, r->etag_received};
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        rc = gcs_buf_putc(out, ',');
        if (rc == 0)
            rc = gcs_buf_csv_field(out, tail[i]);
    }
    if (rc == 0)
        rc = gcs_buf_printf(out, ",%d,%lld,", r->attempts, (long long)r->latency_ms);
    const char *last[] = {r->outcome, r->correlation_id, r->prev_hash, r->hash};
    for (size_t i = 0; i < 4 && rc == 0; i++) {
        if (i > 0)
            rc = gcs_buf_putc(out, ',');
        if (rc == 0)
            rc = gcs_buf_csv_field(out, last[i]);
    }
    return rc ? rc : gcs_buf_putc(out, '\n');
}
