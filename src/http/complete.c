/*
 * complete.c - finishing a call: the response handed to the caller (body parsed
 * when JSON, SCIM / Genesys / OAuth error fields, one line for people), the
 * receipt (bodies redacted), the counters, the callback, exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/time.h"
#include "http/client_internal.h"

/* ==== Responses ==== */

void gcs_http_client_response_init(gcs_http_client_response *r)
{
    memset(r, 0, sizeof *r);
    gcs_buf_init(&r->body, 0);
    r->retry_after_s = -1;
}

/* Overwrites every string a parsed answer holds, when nobody else holds it. */
static void wipe_json(json_t *v)
{
    if (!v || v->refcount > 1)
        return;
    const char *key;
    json_t *x;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        json_object_foreach(v, key, x) wipe_json(x);
        break;
    case JSON_ARRAY:
        json_array_foreach(v, i, x) wipe_json(x);
        break;
    case JSON_STRING:
        explicit_bzero((char *)json_string_value(v), json_string_length(v));
        break;
    default:
        break;
    }
}

void gcs_http_client_response_release_secure(gcs_http_client_response *r)
{
    if (!r)
        return;
    wipe_json(r->json);
    if (r->body.cap)
        explicit_bzero(r->body.ptr, r->body.cap);
    gcs_http_client_response_release(r);
}

void gcs_http_client_response_release(gcs_http_client_response *r)
{
    if (!r)
        return;
    free(r->etag);
    gcs_buf_release(&r->body);
    json_decref(r->json);
    free(r->scim_type);
    free(r->detail);
    free(r->correlation_id);
    gcs_http_client_response_init(r);
}

/* Pulls scimType/detail (SCIM), code/message (Genesys) or error/error_description
 * (OAuth) out of an error body. */
static void error_fields(gcs_http_client_response *r)
{
    static const char *const pairs[][2] = {
        {"scimType", "detail"}, {"code", "message"}, {"error", "error_description"}};
    if (!json_is_object(r->json))
        return;
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        const char *t = json_string_value(json_object_get(r->json, pairs[i][0]));
        const char *d = json_string_value(json_object_get(r->json, pairs[i][1]));
        if (t && !r->scim_type)
            r->scim_type = strdup(t);
        if (d && !r->detail)
            r->detail = strdup(d);
    }
}

static void parse_body(gcs_http_client_response *r, const char *ctype)
{
    if (r->json || r->body.len == 0)
        return;
    bool jsonish =
        (ctype && strcasestr(ctype, "json")) || r->body.ptr[0] == '{' || r->body.ptr[0] == '[';
    if (jsonish)
        r->json = json_loadb(r->body.ptr, r->body.len, 0, NULL);
}

/* ==== Completing a call ==== */

/* The body as a receipt may hold it. JSON with a sensitive key is masked key
 * by key (from `parsed` when the caller has it already); any other body gets
 * the text rules, which do to JSON without such a key all that the structured
 * redaction would (registered secrets and credential shapes, in every string),
 * without parsing and serialising it again: every call pays for this. */
static char *redacted_body(const char *body, size_t len, const json_t *parsed, bool sensitive)
{
    if (!body || len == 0)
        return NULL;
    /* A sensitive body is not parsed again here: jansson would free the
     * secret's copies unwiped. The text rules mask its JSON as well. */
    bool structured = !sensitive && gcs_redact_json_text_has_sensitive_key(body, len);
    json_t *own = parsed || !structured ? NULL : json_loadb(body, len, 0, NULL);
    if (structured && (parsed || own)) {
        json_t *clean = gcs_redact_json(parsed ? parsed : own);
        char *s = clean ? json_dumps(clean, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(clean);
        json_decref(own);
        return s;
    }
    gcs_buf b;
    gcs_buf_init(&b, 0);
    if (gcs_redact_append(&b, body) < 0) {
        gcs_buf_release(&b);
        return NULL;
    }
    return gcs_buf_detach(&b);
}

/* A body longer than `max` as a receipt keeps it: the head of its redacted
 * text cut on a character boundary, then "...[truncated N bytes]" (N its
 * length as it came), within max bytes. Only the head is redacted, by the
 * text rules, unless the text it came from has a sensitive key (then the
 * whole body is redacted key by key, as above, and cut). */
static char *redacted_head(const char *body, size_t len, const json_t *parsed, bool sensitive,
                           size_t max)
{
    char note[64];
    size_t n = (size_t)snprintf(note, sizeof note, "...[truncated %zu bytes]", len);
    gcs_buf b;
    gcs_buf_init(&b, 0);
    bool cut = false;
    size_t used = len;
    char *s = NULL;
    if (max <= n) /* no room for the note: whole, for the store to bound */
        return redacted_body(body, len, parsed, sensitive);
    if (gcs_redact_append_head(&b, body, len, max, &cut, &used) < 0)
        goto out;
    if (!sensitive && gcs_redact_json_head_has_sensitive_key(body, used)) {
        gcs_buf_release(&b);
        if (!(s = redacted_body(body, len, parsed, sensitive)))
            goto out;
        cut = strlen(s) > max;
        gcs_buf_init(&b, 0);
        if (gcs_buf_put(&b, s, cut ? max : strlen(s)) < 0)
            goto out;
    }
    if (cut) {
        size_t at = max - n;
        while (at > 0 && ((unsigned char)b.ptr[at] & 0xC0) == 0x80)
            at--;
        b.len = at;
        if (gcs_buf_put(&b, note, n) < 0)
            goto out;
    }
    free(s);
    return gcs_buf_detach(&b);
out:
    free(s);
    gcs_buf_release(&b);
    return NULL;
}

/* A body as its receipt keeps it: the body itself when it fits and every rule
 * leaves it as it is (most bodies, found in one scan: no copy), else a
 * redacted copy in *owned, which the caller frees. */
static const char *receipt_body(char **owned, const gcs_http_client *c, const char *body,
                                size_t len, const json_t *parsed, bool sensitive)
{
    size_t max = c->receipt_body_max;
    *owned = NULL;
    if (!body || len == 0)
        return NULL;
    if (!(max && len > max) && gcs_redact_json_text_is_clean(body, len))
        return body;
    *owned = max && len > max ? redacted_head(body, len, parsed, sensitive, max)
                              : redacted_body(body, len, parsed, sensitive);
    return *owned;
}

static void emit_receipt(gcs_http_client *c, job *j, const gcs_http_client_response *res)
{
    char *req_owned, *res_owned;
    const char *req_body = receipt_body(&req_owned, c, j->body, j->body_len, NULL, j->sensitive);
    const char *res_body =
        receipt_body(&res_owned, c, res->body.ptr, res->body.len, res->json, j->sensitive);
    gcs_http_receipt r = {
        .wall_ms = gcs_time_wall_ms(),
        .method = j->method,
        .path = j->path,
        .request_body = req_body,
        .status = res->status,
        .response_body = res_body,
        .etag_sent = j->if_match ? j->if_match : j->if_none_match,
        .etag_received = res->etag,
        .attempts = res->attempts,
        .latency_ms = res->latency_ms,
        .outcome = res->outcome,
        .correlation_id = res->correlation_id,
    };
    c->receipt_fn(&r, c->receipt_payload);
    free(req_owned);
    free(res_owned);
}

/* Completes a job with `outcome`: builds the response from its last attempt,
 * records it, calls back, frees the job. The job is in no queue. */
void gcs_http__job_complete(gcs_http_client *c, job *j, gcs_http_outcome outcome, const char *why)
{
    gcs_http_client_response res;
    gcs_http_client_response_init(&res);
    int64_t now = gcs_time_mono_us();
    res.status = j->last_status;
    res.outcome = outcome;
    res.error = gcs_http_outcome_error(outcome);
    res.attempts = j->attempts;
    res.latency_ms = j->first_send_us ? (now - j->first_send_us) / 1000 : 0;
    res.retry_after_s = j->last_retry_after;
    if (j->h.etag[0])
        res.etag = strdup(j->h.etag);
    if (j->h.correlation_id[0])
        res.correlation_id = strdup(j->h.correlation_id);
    res.body = j->in; /* a sensitive call's buffer stays secure in the response */
    gcs_buf_init(&j->in, c->max_response_bytes);
    if (!(j->flags & GCS_HTTP_REQ_NO_JSON) || outcome != GCS_HTTP_OK)
        parse_body(&res, j->h.content_type);
    if (res.status >= 400)
        error_fields(&res);
    if (outcome == GCS_HTTP_FORBIDDEN)
        res.missing_scope = gcs_http_missing_scope(j->method, j->path);

    /* One line for people, for failures only (it costs a redaction pass);
     * redacted because a detail may echo what we sent. */
    if (res.error) {
        char line[sizeof res.message], scope[160] = "";
        /* A long query is cut: a listing's query alone could fill the line. */
        size_t plen = strcspn(j->path, "?");
        plen += strlen(j->path + plen) > 60 ? 60 : strlen(j->path + plen);
        const char *more = j->path[plen] ? "…" : "";
        if (res.missing_scope) {
            /* Reads are granted by the scope or its :readonly form. */
            const char *ro = strstr(res.missing_scope, ":readonly");
            if (ro)
                snprintf(scope, sizeof scope, ": the OAuth client needs the '%.*s' or '%s' scope",
                         (int)(ro - res.missing_scope), res.missing_scope, res.missing_scope);
            else
                snprintf(scope, sizeof scope, ": the OAuth client needs the '%s' scope",
                         res.missing_scope);
        }
        if (res.status)
            snprintf(line, sizeof line, "%s %.*s%s: %d %s%s%s%s%s%s%s", j->method, (int)plen,
                     j->path, more, res.status, gcs_http_outcome_name(outcome), scope,
                     res.scim_type ? " (" : "", res.scim_type ? res.scim_type : "",
                     res.scim_type ? ")" : "", res.detail || why ? ": " : "",
                     res.detail ? res.detail
                     : why      ? why
                                : "");
        else
            snprintf(line, sizeof line, "%s %.*s%s: %s%s%s%s", j->method, (int)plen, j->path, more,
                     gcs_http_outcome_name(outcome), scope, why ? ": " : "", why ? why : "");
        gcs_redact_text(res.message, sizeof res.message, line);
    }

    if (!(j->flags & GCS_HTTP_REQ_LOGIN)) {
        if (outcome == GCS_HTTP_FORBIDDEN && !c->stop_code &&
            !(j->flags & GCS_HTTP_REQ_MAY_FORBID)) {
            /* A scope or a permission is missing: every other call of its kind
             * would fail alike. Stop before sending them. */
            char msg[sizeof c->stop_msg];
            snprintf(msg, sizeof msg, "%s; the run stops", res.message);
            gcs_http__stop(c, GCS_EFORBIDDEN, GCS_HTTP_FORBIDDEN, msg);
        }
        if (outcome == GCS_HTTP_SERVER_ERROR || outcome == GCS_HTTP_TRANSPORT_ERROR ||
            outcome == GCS_HTTP_OUTCOME_UNKNOWN || outcome == GCS_HTTP_BREAKER_OPEN)
            c->run_failed++;
        else if (res.status > 0)
            c->run_answered++;
        c->st.completed++;
        c->st.by_outcome[outcome]++;
        if (c->receipt_fn)
            emit_receipt(c, j, &res);
        if (outcome != GCS_HTTP_OK && outcome != GCS_HTTP_NOT_MODIFIED)
            GCS_DEBUG("http.failed", "message", res.message);
    }
    if (j->sync_out) {
        *j->sync_out = res;
        *j->sync_done = true;
    } else {
        if (j->on_done)
            j->on_done(&res, j->payload);
        if (j->sensitive)
            gcs_http_client_response_release_secure(&res);
        else
            gcs_http_client_response_release(&res);
    }
    gcs_http__job_free(j);
}

/* Fails every queued API call (not those on the wire) with `outcome`. The queues
 * are detached first so that callbacks which submit more cannot loop forever. */
void gcs_http__fail_queued(gcs_http_client *c, gcs_http_outcome outcome, const char *why)
{
    queue a = c->ready, b = c->delayed;
    c->ready = (queue){0};
    c->delayed = (queue){0};
    for (job *j = a.head; j; j = j->next)
        j->queued_in = &a; /* the detached copies hold them now */
    for (job *j = b.head; j; j = j->next)
        j->queued_in = &b;
    queue *qs[2] = {&b, &a};
    for (int k = 0; k < 2; k++) {
        job *j;
        while ((j = qs[k]->head)) {
            gcs_http__queue_remove(qs[k], j);
            gcs_http__job_complete(c, j, outcome, why);
        }
    }
}

void gcs_http_cancel(gcs_http_client *c)
{
    gcs_http__fail_queued(c, GCS_HTTP_CANCELLED, "cancelled");
}

void gcs_http_abort(gcs_http_client *c)
{
    gcs_http__fail_queued(c, GCS_HTTP_CANCELLED, "cancelled");
    job *j;
    while ((j = c->wire.head)) {
        gcs_http__queue_remove(&c->wire, j);
        curl_multi_remove_handle(c->multi, j->easy);
        curl_easy_cleanup(j->easy); /* stopped mid-transfer: not reused */
        j->easy = NULL;
        if (j->flags & GCS_HTTP_REQ_LOGIN)
            c->in_flight_login--;
        else
            c->in_flight_api--;
        gcs_http__job_complete(c, j, GCS_HTTP_CANCELLED,
                              "abandoned while in flight: its outcome is unknown");
    }
    /* Callbacks may have queued more. */
    gcs_http__fail_queued(c, GCS_HTTP_CANCELLED, "cancelled");
}
