/*
 * The routes of `gcscim serve` (docs/serve.md): dispatch, the two ways work
 * comes in (POST /v1/events, POST /v1/users), and the service's lifecycle.
 * Reading routes are in server_rest.c, health and metrics in server_health.c.
 */
#include "service/service_internal.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "service/event.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_AFTER_S "5"

/* ==== Answers ==== */

void gcs_service__reply(gcs_http_response *out, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (!text) {
        gcs_http_response_set(out, 500, "application/json", "{\"error\":\"out of memory\"}\n");
        return;
    }
    size_t len = strlen(text);
    text[len] = '\n';
    out->status = status;
    gcs_buf_clear(&out->body);
    if (gcs_buf_put(&out->body, text, len + 1) < 0 ||
        gcs_http_response_header(out, "Content-Type", "application/json") < 0)
        out->status = 500;
    free(text);
}

void gcs_service__reply_error(gcs_http_response *out, const gcs_http_request *req, int status,
                              const char *message)
{
    json_t *body = json_pack("{s:s, s:s}", "error", message, "request_id", req->request_id);
    gcs_service__reply(out, status, body);
    if (status == 503)
        gcs_http_response_header(out, "Retry-After", RETRY_AFTER_S);
    if (status == 401)
        gcs_http_response_header(out, "WWW-Authenticate", "Bearer");
}

/*
 * The caller's API key, which must hold `right`: NULL after answering 401
 * (no key, or none that matches) or 403 (the key lacks the right).
 */
const gcs_api_key *gcs_service__authorize(gcs_service *s, gcs_http_response *out,
                                          const gcs_http_request *req, unsigned right)
{
    const char *auth = gcs_http_request_header(req, "Authorization");
    const gcs_api_key *key = gcs_api_keys_find(s->o.api_keys, auth);
    if (!key) {
        gcs_service__reply_error(out, req, 401,
                                 auth ? "the API key is not known"
                                      : "an API key is needed (Authorization: Bearer KEY)");
        return NULL;
    }
    if (!(key->rights & right)) {
        char msg[160];
        snprintf(msg, sizeof msg, "the API key '%s' lacks the right '%s'", key->name,
                 right == GCS_RIGHT_EVENTS ? "events"
                 : right == GCS_RIGHT_PROVISION ? "provision"
                                                  : "read");
        gcs_service__reply_error(out, req, 403, msg);
        return NULL;
    }
    return key;
}

/* ==== Submitting work ==== */

/* Turns a checked event into a job and commits it. 0 with *item filled, or
 * the intake's error (the answer is the caller's). A request's idempotency
 * record is `dedup_id` with `request_hash`; an event's is its webhook id. */
static int submit(gcs_service *s, gcs_intake_item *item, const gcs_event *e,
                  const gcs_event_origin *origin, const char *dedup_id,
                  const char *request_hash)
{
    char *key = NULL, *payload = NULL;
    int rc;
    if ((rc = gcs_event_job(&key, &payload, e, origin)) < 0)
        return rc;
    memset(item, 0, sizeof *item);
    item->webhook_id = dedup_id ? dedup_id : origin->webhook_id;
    item->request_hash = request_hash;
    item->key = key;
    item->payload = payload;
    item->max_attempts = s->max_attempts;
    rc = gcs_service__intake_submit(s, item);
    item->key = item->payload = NULL;
    free(key);
    free(payload);
    return rc;
}

static void count(gcs_service *s, gcs_event_outcome o)
{
    gcs_metrics_count_event(&s->metrics, o);
}

static bool printable_id(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        if ((unsigned char)id[n] < 0x21 || (unsigned char)id[n] == 0x7f ||
            n >= GCS_WEBHOOK_ID_MAX)
            return false;
    }
    return n > 0;
}

#define IDEMPOTENCY_KEY_MAX 128

/* What a request asks, whatever its spacing and member order: the SHA-256 of
 * its body as compact JSON with sorted members, in hex (65 bytes). */
static int request_digest(char hex[65], const char *body, size_t len)
{
    json_t *doc = json_loadb(body ? body : "", len, 0, NULL);
    /* an event's "timestamp" is informative: a sender may write it afresh
     * on a retry of the same event */
    if (json_is_object(doc))
        json_object_del(doc, "timestamp");
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, strlen(text), digest);
    free(text);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return 0;
}

/* POST /v1/events */
static void post_event(gcs_service *s, gcs_http_response *out, const gcs_http_request *req)
{
    const char *id = gcs_http_request_header(req, "webhook-id");
    const gcs_api_key *key = NULL;
    if (req->body_too_large) {
        count(s, GCS_EVENT_TOO_LARGE);
        gcs_service__reply_error(out, req, 413, "the event is larger than the body limit");
        return;
    }
    /* An API key, when one is presented, must be a good one; without event
     * secrets it is the only proof of who sends. */
    const char *auth = gcs_http_request_header(req, "Authorization");
    if (auth || s->o.secret_count == 0) {
        key = gcs_api_keys_find(s->o.api_keys, auth);
        if (!key || !(key->rights & GCS_RIGHT_EVENTS)) {
            count(s, GCS_EVENT_UNAUTHORIZED);
            gcs_service__reply_error(out, req, 401,
                                     s->o.secret_count == 0 && !auth
                                         ? "an API key with the right 'events' is needed"
                                         : "the API key is not known or lacks the right 'events'");
            return;
        }
    }
    if (s->o.secret_count > 0) {
        gcs_webhook_verdict v = gcs_webhook_verify(
            s->o.secrets, s->o.secret_count, id, gcs_http_request_header(req, "webhook-timestamp"),
            gcs_http_request_header(req, "webhook-signature"), req->body, req->body_len,
            gcs_time_wall_ms() / 1000, GCS_WEBHOOK_TOLERANCE_S);
        if (v == GCS_WEBHOOK_STALE) {
            count(s, GCS_EVENT_STALE_TIMESTAMP);
            gcs_service__reply_error(out, req, 401,
                                     "webhook-timestamp is more than 5 minutes from now");
            return;
        }
        if (v == GCS_WEBHOOK_MISSING) {
            count(s, GCS_EVENT_BAD_SIGNATURE);
            gcs_service__reply_error(out, req, 401,
                                     "webhook-id, webhook-timestamp and webhook-signature are "
                                     "needed (Standard Webhooks)");
            return;
        }
        if (v != GCS_WEBHOOK_VALID) {
            count(s, GCS_EVENT_BAD_SIGNATURE);
            gcs_service__reply_error(out, req, 401, "webhook-signature: no signature matches");
            return;
        }
    }
    if (!id || !printable_id(id)) {
        count(s, GCS_EVENT_MALFORMED);
        gcs_service__reply_error(out, req, 400,
                                 "webhook-id: missing, or not 1 to 256 printable characters");
        return;
    }

    gcs_event e;
    if (gcs_event_parse(&e, req->body, req->body_len) < 0) {
        count(s, GCS_EVENT_MALFORMED);
        gcs_service__reply_error(out, req, 400, gcs_error_last());
        return;
    }
    /* What the event asks is kept with its id, so that an id used again for
     * another event is refused, never acknowledged as a duplicate of the
     * first (which would drop it). Ids given with an API key alone are that
     * key's own, as Idempotency-Keys are: two senders may number alike. The
     * scoped id holds blanks, which no webhook id may (printable_id). */
    char digest[65];
    char dedup_id[sizeof "event  " + GCS_API_KEY_NAME_MAX + GCS_WEBHOOK_ID_MAX];
    if (request_digest(digest, req->body, req->body_len) < 0) {
        gcs_service__reply_error(out, req, 500, gcs_error_last());
        gcs_event_release(&e);
        return;
    }
    if (s->o.secret_count == 0)
        snprintf(dedup_id, sizeof dedup_id, "event %s %s", key->name, id);
    gcs_event_origin origin = {"event", id, key ? key->name : "webhook", gcs_time_wall_ms()};
    gcs_intake_item item;
    int rc = submit(s, &item, &e, &origin, s->o.secret_count == 0 ? dedup_id : NULL, digest);
    if (rc < 0) {
        count(s, GCS_EVENT_UNAVAILABLE);
        GCS_WARN("serve.event_refused", "request_id", req->request_id, "webhook_id", id,
                 "error", gcs_error_last());
        gcs_service__reply_error(out, req, 503, gcs_error_last());
    } else if (item.conflict) {
        count(s, GCS_EVENT_MALFORMED);
        char msg[GCS_WEBHOOK_ID_MAX + 160];
        snprintf(msg, sizeof msg,
                 "webhook-id '%s' was used for another event (job %lld): each event needs an id "
                 "of its own",
                 id, (long long)item.job_id);
        GCS_WARN("serve.webhook_id_conflict", "request_id", req->request_id, "webhook_id", id,
                 "subject", e.key);
        gcs_service__reply_error(out, req, 422, msg);
    } else if (item.duplicate) {
        count(s, GCS_EVENT_DUPLICATE);
        gcs_service__reply(out, 200,
                           json_pack("{s:I, s:b}", "job", (json_int_t)item.job_id, "duplicate", 1));
    } else {
        count(s, GCS_EVENT_ACCEPTED);
        char job[24];
        snprintf(job, sizeof job, "%lld", (long long)item.job_id);
        GCS_INFO("serve.event_accepted", "request_id", req->request_id, "webhook_id", id,
                 "subject", e.key, "job_id", job);
        gcs_service__reply(out, 202, json_pack("{s:I}", "job", (json_int_t)item.job_id));
    }
    gcs_event_release(&e);
}

/* POST /v1/users[?wait=SECONDS] */
static void post_user(gcs_service *s, gcs_http_response *out, const gcs_http_request *req)
{
    const gcs_api_key *key = gcs_service__authorize(s, out, req, GCS_RIGHT_PROVISION);
    if (!key)
        return;
    if (req->body_too_large) {
        gcs_service__reply_error(out, req, 413, "the request is larger than the body limit");
        return;
    }
    int wait_s = 0;
    const char *wait = gcs_http_request_arg(req, "wait");
    if (wait) {
        char *end;
        errno = 0;
        long w = strtol(wait, &end, 10);
        if (errno || end == wait || *end || w < 0 || w > s->max_wait_s) {
            char msg[96];
            snprintf(msg, sizeof msg, "wait: a whole number of seconds from 0 to %d",
                     s->max_wait_s);
            gcs_service__reply_error(out, req, 400, msg);
            return;
        }
        wait_s = (int)w;
    }
    /* Idempotency-Key: kept with the webhook ids (and as long), scoped by
     * the caller's API key. The scoped id holds blanks, which no webhook id
     * may (printable_id), so that a request and an event never share one. */
    const char *idem = gcs_http_request_header(req, "Idempotency-Key");
    char dedup_id[sizeof "rest  " + GCS_API_KEY_NAME_MAX + IDEMPOTENCY_KEY_MAX];
    char digest[65];
    if (idem) {
        if (!printable_id(idem) || strlen(idem) > IDEMPOTENCY_KEY_MAX) {
            char msg[128];
            snprintf(msg, sizeof msg, "Idempotency-Key: 1 to %d printable characters, no blanks",
                     IDEMPOTENCY_KEY_MAX);
            gcs_service__reply_error(out, req, 400, msg);
            return;
        }
        snprintf(dedup_id, sizeof dedup_id, "rest %s %s", key->name, idem);
    }
    gcs_event e;
    if (gcs_event_parse_request(&e, req->body, req->body_len) < 0) {
        gcs_service__reply_error(out, req, 400, gcs_error_last());
        return;
    }
    if (idem && request_digest(digest, req->body, req->body_len) < 0) {
        gcs_service__reply_error(out, req, 500, gcs_error_last());
        gcs_event_release(&e);
        return;
    }
    gcs_event_origin origin = {"rest", NULL, key->name, gcs_time_wall_ms()};
    gcs_intake_item item;
    if (submit(s, &item, &e, &origin, idem ? dedup_id : NULL, idem ? digest : NULL) < 0) {
        gcs_service__reply_error(out, req, 503, gcs_error_last());
    } else if (item.conflict) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "Idempotency-Key '%s' was used for another request (job %lld): a new request "
                 "needs a new key",
                 idem, (long long)item.job_id);
        GCS_WARN("serve.idempotency_conflict", "request_id", req->request_id, "requested_by",
                 key->name, "subject", e.key);
        gcs_service__reply_error(out, req, 422, msg);
    } else {
        GCS_INFO(item.duplicate ? "serve.request_replayed" : "serve.request_accepted",
                 "request_id", req->request_id, "requested_by", key->name, "subject", e.key);
        gcs_service__answer_job(s, out, req, item.job_id, wait_s);
        if (item.duplicate)
            gcs_http_response_header(out, "Idempotent-Replayed", "true");
    }
    gcs_event_release(&e);
}

/* ==== Dispatch ==== */

static bool is(const gcs_http_request *req, const char *method)
{
    return strcmp(req->method, method) == 0;
}

static void route(gcs_service *s, gcs_http_response *out, const gcs_http_request *req)
{
    const char *p = req->path;
    if (strcmp(p, "/healthz") == 0) {
        gcs_service__healthz(s, out, req);
        return;
    }
    if (strcmp(p, "/metrics") == 0) {
        gcs_service__metrics(s, out, req);
        return;
    }
    if (strcmp(p, "/readyz") == 0) {
        gcs_service__readyz(s, out, req);
        return;
    }
    if (gcs_service_draining(s)) {
        if (strcmp(p, "/v1/events") == 0)
            count(s, GCS_EVENT_UNAVAILABLE);
        gcs_service__reply_error(out, req, 503, "the service is stopping");
        return;
    }
    const char *allow = NULL;
    if (strcmp(p, "/v1/events") == 0) {
        if (is(req, "POST"))
            {
            post_event(s, out, req);
            return;
        }
        allow = "POST";
    } else if (strcmp(p, "/v1/users") == 0) {
        if (is(req, "POST"))
            {
            post_user(s, out, req);
            return;
        }
        allow = "POST";
    } else if (strncmp(p, "/v1/users/", 10) == 0 && p[10]) {
        if (is(req, "GET"))
            {
            gcs_service__get_user(s, out, req, p + 10);
            return;
        }
        allow = "GET";
    } else if (strncmp(p, "/v1/jobs/", 9) == 0 && p[9]) {
        if (is(req, "GET"))
            {
            gcs_service__get_job(s, out, req, p + 9);
            return;
        }
        allow = "GET";
    } else if (strcmp(p, "/v1/receipts") == 0) {
        if (is(req, "GET"))
            {
            gcs_service__get_receipts(s, out, req);
            return;
        }
        allow = "GET";
    }
    if (allow) {
        gcs_service__reply_error(out, req, 405, "method not allowed");
        gcs_http_response_header(out, "Allow", allow);
        return;
    }
    gcs_service__reply_error(out, req, 404, "no such route");
}

void gcs_service_handle(gcs_http_response *out, const gcs_http_request *req, void *payload)
{
    gcs_service *s = payload;
    int64_t started = gcs_time_mono_us();
    route(s, out, req);
    if (gcs_log_enabled(GCS_LOG_DEBUG) || out->status >= 500) {
        char status[16], us[24];
        snprintf(status, sizeof status, "%d", out->status);
        snprintf(us, sizeof us, "%lld", (long long)(gcs_time_mono_us() - started));
        gcs_log_kv(out->status >= 500 ? GCS_LOG_WARN : GCS_LOG_DEBUG, "http.request", "request_id",
                   req->request_id, "method", req->method, "path", req->path, "status", status,
                   "us", us, "remote", req->remote_addr, NULL);
    }
}

/* ==== Lifecycle ==== */

int gcs_service_new(gcs_service **out, const gcs_service_options *o)
{
    int rc;
    *out = NULL;
    gcs_service *s = calloc(1, sizeof *s);
    GCS_CHECK_ALLOC(s);
    s->o = *o;
    s->retention_ms = o->webhook_retention_ms > 0 ? o->webhook_retention_ms
                                                  : GCS_WEBHOOK_ID_RETENTION_MS_DEFAULT;
    s->queue_max = o->queue_max > 0 ? o->queue_max : 100000;
    s->max_attempts = o->max_attempts > 0 ? o->max_attempts : 5;
    s->max_wait_s = o->max_wait_s > 0 ? o->max_wait_s : 60;
    atomic_init(&s->draining, false);
    pthread_mutex_init(&s->read_lock, NULL);
    pthread_mutex_init(&s->intake.lock, NULL);
    pthread_cond_init(&s->intake.wake, NULL);
    pthread_cond_init(&s->intake.committed, NULL);
    if ((rc = gcs_metrics_init(&s->metrics)) < 0)
        goto out;
    if ((rc = gcs_store_open(&s->read_store, o->db_url)) < 0)
        goto out;
    if ((rc = gcs_service__intake_start(s)) < 0)
        goto out;
    *out = s;
    s = NULL;
out:
    gcs_service_free(s);
    return rc;
}

void gcs_service_free(gcs_service *s)
{
    if (!s)
        return;
    gcs_service__intake_stop(s);
    gcs_store_free(s->read_store);
    gcs_metrics_release(&s->metrics);
    pthread_cond_destroy(&s->intake.committed);
    pthread_cond_destroy(&s->intake.wake);
    pthread_mutex_destroy(&s->intake.lock);
    pthread_mutex_destroy(&s->read_lock);
    free(s);
}

void gcs_service_drain(gcs_service *s)
{
    atomic_store(&s->draining, true);
}

bool gcs_service_draining(const gcs_service *s)
{
    return atomic_load(&((gcs_service *)s)->draining);
}

gcs_metrics *gcs_service_metrics(gcs_service *s)
{
    return &s->metrics;
}
