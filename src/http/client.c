/*
 * client.c - the request engine's loop: lifecycle, submitting, queues, dispatch,
 * reading answers, running. (transfer.c puts an attempt on the wire, complete.c
 * finishes a call, stats.c counts.)
 *
 * A submitted request becomes a job. Jobs wait in one of three queues: `login`
 * (token endpoint calls, sent first and outside every brake), `ready` (FIFO) and
 * `delayed` (retries sorted by the instant they may go). dispatch() moves jobs
 * onto the wire while the in-flight ceiling, the breaker, the pacer and the
 * token allow; finish_attempt() reads each answer and either queues the job
 * again or completes it. Everything runs on the caller's thread inside
 * gcs_http_run_once().
 */
#include "http/client.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "core/error.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/time.h"
#include "http/client_internal.h"
#include "core/version_gen.h"

/* ==== Small helpers ==== */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t next_rand(gcs_http_client *c)
{
    /* xorshift64*: jitter needs spread, not secrecy. */
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static bool has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

/* A job is in exactly one queue or in none: pushing one that is queued, or
 * removing one from a queue that does not hold it, would corrupt both lists. */
void gcs_http__queue_push_back(queue *q, job *j)
{
    assert(j->queued_in == NULL && "a job is in one queue at a time");
    j->queued_in = q;
    j->next = NULL;
    j->prev = q->tail;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->n++;
}

void gcs_http__queue_push_front(queue *q, job *j)
{
    assert(j->queued_in == NULL && "a job is in one queue at a time");
    j->queued_in = q;
    j->prev = NULL;
    j->next = q->head;
    if (q->head)
        q->head->prev = j;
    else
        q->tail = j;
    q->head = j;
    q->n++;
}

void gcs_http__queue_remove(queue *q, job *j)
{
    assert(j->queued_in == q && "a job is removed from the queue that holds it");
    assert(q->n > 0);
    j->queued_in = NULL;
    if (j->prev)
        j->prev->next = j->next;
    else
        q->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        q->tail = j->prev;
    j->next = j->prev = NULL;
    q->n--;
    assert((q->n == 0) == (q->head == NULL));
}

/* Keeps `delayed` sorted by not_before (retries are few; a linear walk is fine). */
void gcs_http__queue_insert_sorted(queue *q, job *j)
{
    assert(j->queued_in == NULL && "a job is in one queue at a time");
    job *at = q->tail;
    while (at && at->not_before_us > j->not_before_us)
        at = at->prev;
    if (!at) {
        gcs_http__queue_push_front(q, j);
        return;
    }
    j->prev = at;
    j->next = at->next;
    if (at->next)
        at->next->prev = j;
    else
        q->tail = j;
    at->next = j;
    j->queued_in = q;
    q->n++;
}

static void free_wiped(char *s, bool wipe)
{
    if (s && wipe)
        explicit_bzero(s, strlen(s));
    free(s);
}

void gcs_http__job_free(job *j)
{
    if (!j)
        return;
    free(j->method);
    free(j->path);
    free(j->url);
    free_wiped(j->body, j->sensitive);
    free(j->content_type);
    free(j->if_match);
    free(j->if_none_match);
    if (j->headers) {
        /* Extra headers carry credentials (the token endpoint's Basic line). */
        for (char **h = j->headers; *h; h++)
            free_wiped(*h, true);
        free(j->headers);
    }
    free_wiped(j->auth_line, true);
    free(j->own_lines);
    free(j->nodes);
    if (j->sensitive)
        gcs_buf_release_secure(&j->in);
    else
        gcs_buf_release(&j->in);
    free(j);
}

void gcs_http__url_host_port(char *out, size_t outsz, const char *url)
{
    const char *p = strstr(url, "://");
    bool tls = strncmp(url, "https", 5) == 0;
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n); /* user info never goes in a message */
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *close = p[0] == '[' ? memchr(p, ']', n) : NULL;
    const char *colon = memchr(close ? close : p, ':', n - (size_t)((close ? close : p) - p));
    if (colon)
        snprintf(out, outsz, "%.*s", (int)n, p);
    else
        snprintf(out, outsz, "%.*s:%d", (int)n, p, tls ? 443 : 80);
}

/* ==== Stopping ==== */

void gcs_http__stop(gcs_http_client *c, int code, gcs_http_outcome outcome, const char *msg)
{
    if (c->stop_code)
        return;
    c->stop_code = code;
    c->stop_outcome = outcome;
    snprintf(c->stop_msg, sizeof c->stop_msg, "%s", msg);
    GCS_ERR("http.stopped", "message", c->stop_msg);
}

int gcs_http_client_stopped(const gcs_http_client *c)
{
    return c->stop_code;
}

int gcs_http_client_resume(gcs_http_client *c)
{
    if (gcs_http_pending(c) > 0)
        return gcs_error_set(GCS_EINVALID, "a client resumes between runs only");
    c->stop_code = 0;
    c->stop_outcome = GCS_HTTP_OK;
    c->stop_msg[0] = '\0';
    return 0;
}

/* ==== Options and lifecycle ==== */

static int check_base_url(const char *url, const char *what)
{
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        has_crlf(url) || strlen(url) > 1024)
        return gcs_error_set(GCS_EINVALID, "%s '%s' is not an http(s) URL", what,
                             url ? url : "(none)");
    return 0;
}

static char *strip_slash(const char *s)
{
    char *d = strdup(s);
    if (d) {
        size_t n = strlen(d);
        while (n > 0 && d[n - 1] == '/')
            d[--n] = '\0';
    }
    return d;
}

int gcs_http_client_new(gcs_http_client **out, const gcs_http_client_options *o)
{
    int rc = 0;
    gcs_http_client *c = NULL;
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if ((rc = check_base_url(o->api_url, "api url")) < 0)
        goto out;
    if (o->login_url && (rc = check_base_url(o->login_url, "login url")) < 0)
        goto out;
    if (has_crlf(o->user_agent) || has_crlf(o->ca_bundle)) {
        rc = gcs_error_set(GCS_EINVALID, "http client option holds a line break");
        goto out;
    }
    c = calloc(1, sizeof *c);
    GCS_CHECK_ALLOC_GOTO(c, rc, out);
    char ua[64];
    snprintf(ua, sizeof ua, "gcscim/%s", GCS_VERSION_STRING);
    c->api_url = strip_slash(o->api_url);
    c->login_url = strip_slash(o->login_url ? o->login_url : o->api_url);
    c->ca_bundle = dup_or_null(o->ca_bundle);
    c->user_agent = strdup(o->user_agent ? o->user_agent : ua);
    c->multi = curl_multi_init();
    if (!c->api_url || !c->login_url || !c->user_agent || (o->ca_bundle && !c->ca_bundle) ||
        !c->multi) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    size_t ua_n = strlen("User-Agent: ") + strlen(c->user_agent) + 1;
    if (!(c->user_agent_line = malloc(ua_n))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(c->user_agent_line, ua_n, "User-Agent: %s", c->user_agent);
    /* "Expect:" with no value keeps libcurl from asking for 100-continue
     * before a large body: a round trip for nothing. */
    static const char accept[] = "Accept: application/scim+json, application/json";
    static const char no_expect[] = "Expect:";
    c->common_headers[0] = (struct curl_slist){(char *)accept, &c->common_headers[1]};
    c->common_headers[1] = (struct curl_slist){(char *)no_expect, &c->common_headers[2]};
    c->common_headers[2] = (struct curl_slist){c->user_agent_line, NULL};
    c->https = strncmp(c->api_url, "https://", 8) == 0;
    c->max_in_flight = o->max_in_flight > 0 ? o->max_in_flight : 16;
    c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    c->max_attempts = o->max_attempts > 0 ? o->max_attempts : 6;
    c->retry_budget_us = (int64_t)(o->retry_budget_ms > 0 ? o->retry_budget_ms : 120000) * 1000;
    c->backoff_base_us = (int64_t)(o->backoff_base_ms > 0 ? o->backoff_base_ms : 250) * 1000;
    c->backoff_cap_us = (int64_t)(o->backoff_cap_ms > 0 ? o->backoff_cap_ms : 15000) * 1000;
    c->breaker_max_trips = o->breaker_max_trips > 0 ? o->breaker_max_trips : 6;
    c->max_response_bytes = o->max_response_bytes ? o->max_response_bytes : 8u << 20;
    c->auth = o->auth;
    c->rng = o->seed ? o->seed : (uint64_t)gcs_time_mono_us() * 2654435761u + 1;
    gcs_pacer_init(&c->pacer, o->max_rps, 2);
    atomic_init(&c->hosts, 1);
    gcs_breaker_init(&c->breaker,
                     o->breaker_threshold < 0 ? 0
                     : o->breaker_threshold   ? o->breaker_threshold
                                              : 10,
                     (int64_t)(o->breaker_cooldown_ms > 0 ? o->breaker_cooldown_ms : 5000) * 1000);
    gcs_route_counts_init(&c->routes);
    /* Keep enough connections for every request in flight, and prefer
     * multiplexing on HTTP/2 over opening more. */
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->max_in_flight + 4);
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    *out = c;
    c = NULL;
out:
    gcs_http_client_free(c);
    return rc;
}

static void free_queue(queue *q)
{
    job *j = q->head;
    while (j) {
        job *n = j->next;
        gcs_http__job_free(j);
        j = n;
    }
    *q = (queue){0};
}

void gcs_http_client_free(gcs_http_client *c)
{
    if (!c)
        return;
    if (c->multi) {
        /* Transfers still on the wire. */
        for (job *j = c->wire.head; j; j = j->next) {
            curl_multi_remove_handle(c->multi, j->easy);
            curl_easy_cleanup(j->easy);
            j->easy = NULL;
        }
    }
    free_queue(&c->wire);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < c->pool[k].n; i++)
            curl_easy_cleanup(c->pool[k].h[i]);
        free(c->pool[k].h);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free_queue(&c->login);
    free_queue(&c->ready);
    free_queue(&c->delayed);
    gcs_route_counts_release(&c->routes);
    free(c->api_url);
    free(c->login_url);
    free(c->ca_bundle);
    free(c->user_agent);
    free(c->user_agent_line);
    free(c);
}

void gcs_http_client_set_start_barrier(gcs_http_client *c, int (*fn)(void *payload),
                                       void *payload)
{
    c->start_barrier = fn;
    c->start_barrier_payload = payload;
}

void gcs_http_client_set_hosts(gcs_http_client *c, int hosts)
{
    atomic_store_explicit(&c->hosts, hosts < 1 ? 1 : hosts, memory_order_relaxed);
}

void gcs_http_client_set_receipt_hook(gcs_http_client *c, gcs_http_receipt_fn fn, void *payload)
{
    c->receipt_fn = fn;
    c->receipt_payload = payload;
}

void gcs_http_client_set_receipt_body_max(gcs_http_client *c, size_t max)
{
    c->receipt_body_max = max;
}

/* ==== Submitting ==== */

static const char *default_content_type(const char *path)
{
    return strncmp(path, "/api/v2/scim/", 13) == 0 ? "application/scim+json" : "application/json";
}

/* The job's own header lines, once for all its attempts, and a node for
 * each line it may send (transfer.c links them at every attempt). */
static int build_own_lines(job *j)
{
    const char *names[3] = {"Content-Type: ", "If-Match: ", "If-None-Match: "};
    const char *values[3] = {j->content_type, j->if_match, j->if_none_match};
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        if (values[i])
            n += strlen(names[i]) + strlen(values[i]) + 1;
    if (n && !(j->own_lines = malloc(n)))
        return GCS_ENOMEM;
    char *at = j->own_lines;
    j->n_own_lines = 0;
    for (int i = 0; i < 3; i++) {
        if (!values[i])
            continue;
        at = stpcpy(stpcpy(at, names[i]), values[i]) + 1;
        j->n_own_lines++;
    }
    size_t extra = 0;
    while (j->headers && j->headers[extra])
        extra++;
    j->nodes = calloc(1 + (size_t)j->n_own_lines + extra, sizeof *j->nodes);
    return j->nodes ? 0 : GCS_ENOMEM;
}

static int copy_request(job *j, const gcs_http_client *c, const gcs_http_client_request *r)
{
    const char *base = (r->flags & GCS_HTTP_REQ_LOGIN) ? c->login_url : c->api_url;
    j->method = strdup(r->method);
    j->path = strdup(r->path);
    size_t n = strlen(base) + strlen(r->path) + 1;
    j->url = malloc(n);
    if (j->url)
        snprintf(j->url, n, "%s%s", base, r->path);
    if (r->body) {
        j->body = strdup(r->body);
        j->body_len = strlen(r->body);
    } else if (r->json && r->sensitive) {
        /* json_dumps builds in a buffer that it grows and frees unwiped:
         * measure, then dump straight into our own copy. */
        size_t len = json_dumpb(r->json, NULL, 0, JSON_COMPACT);
        if (len && (j->body = malloc(len + 1))) {
            json_dumpb(r->json, j->body, len, JSON_COMPACT);
            j->body[len] = '\0';
            j->body_len = len;
        }
    } else if (r->json) {
        j->body = json_dumps(r->json, JSON_COMPACT);
        j->body_len = j->body ? strlen(j->body) : 0;
    }
    if (j->body || r->content_type)
        j->content_type = strdup(r->content_type ? r->content_type : default_content_type(r->path));
    j->if_match = dup_or_null(r->if_match);
    j->if_none_match = dup_or_null(r->if_none_match);
    if (r->headers) {
        size_t k = 0;
        while (r->headers[k])
            k++;
        j->headers = calloc(k + 1, sizeof *j->headers);
        for (size_t i = 0; j->headers && i < k; i++)
            if (!(j->headers[i] = strdup(r->headers[i])))
                return GCS_ENOMEM;
        if (!j->headers)
            return GCS_ENOMEM;
    }
    if (build_own_lines(j) < 0)
        return GCS_ENOMEM;
    if (!j->method || !j->path || !j->url || ((r->body || r->json) && !j->body) ||
        ((j->body || r->content_type) && !j->content_type) || (r->if_match && !j->if_match) ||
        (r->if_none_match && !j->if_none_match))
        return GCS_ENOMEM;
    return 0;
}

int gcs_http_submit(gcs_http_client *c, const gcs_http_client_request *r, gcs_http_done_fn on_done,
                    void *payload)
{
    int rc = 0;
    job *j = NULL;
    if (!r->method || !*r->method || strlen(r->method) > 7 || strpbrk(r->method, " \r\n") ||
        !r->path || r->path[0] != '/' || strpbrk(r->path, " \r\n") || strlen(r->path) > URL_MAX ||
        has_crlf(r->content_type) || has_crlf(r->if_match) || has_crlf(r->if_none_match)) {
        rc = gcs_error_set(GCS_EINVALID, "invalid http request '%s %s'",
                           r->method ? r->method : "?", r->path ? r->path : "?");
        goto out;
    }
    for (const char *const *h = r->headers; h && *h; h++) {
        if (has_crlf(*h) || !strchr(*h, ':')) {
            rc = gcs_error_set(GCS_EINVALID, "invalid header line for '%s %s'", r->method, r->path);
            goto out;
        }
    }
    j = calloc(1, sizeof *j);
    GCS_CHECK_ALLOC_GOTO(j, rc, out);
    j->c = c;
    j->sensitive = r->sensitive;
    if (j->sensitive)
        gcs_buf_init_secure(&j->in, c->max_response_bytes);
    else
        gcs_buf_init(&j->in, c->max_response_bytes);
    if (copy_request(j, c, r) < 0) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    if (j->body_len > GCS_HTTP_MAX_REQUEST_BODY) {
        rc = gcs_error_set(GCS_EINVALID,
                           "request body of %s %s is %zu bytes; the service accepts at most %d",
                           r->method, r->path, j->body_len, GCS_HTTP_MAX_REQUEST_BODY);
        goto out;
    }
    j->flags = r->flags;
    j->idempotent = r->idempotent == 0 ? strcasecmp(r->method, "POST") != 0 : r->idempotent > 0;
    j->on_done = on_done;
    j->on_start = r->on_start;
    j->payload = payload;
    j->last_retry_after = -1;
    j->last_outcome = GCS_HTTP_TRANSPORT_ERROR;
    j->scope = (j->flags & GCS_HTTP_REQ_LOGIN) ? NULL : gcs_http_missing_scope(j->method, j->path);
    if (j->flags & GCS_HTTP_REQ_LOGIN) {
        gcs_http__queue_push_back(&c->login, j);
    } else {
        gcs_http__queue_push_back(&c->ready, j);
        c->st.submitted++;
    }
    j = NULL;
out:
    gcs_http__job_free(j);
    return rc;
}

int gcs_http_pending(const gcs_http_client *c)
{
    return c->login.n + c->ready.n + c->delayed.n + c->in_flight_api + c->in_flight_login;
}

/* ==== Reading an answer ==== */

static void wake_at(gcs_http_client *c, int64_t t)
{
    if (t > 0 && t != INT64_MAX && (c->wake_us == 0 || t < c->wake_us))
        c->wake_us = t;
}

/* The error fields of a failed answer, to tell a version conflict from another
 * 400/409. Both out strings are NULL or owned by *parsed. */
static void peek_error(job *j, json_t **parsed, const char **type, const char **detail)
{
    *parsed = NULL;
    *type = *detail = NULL;
    if (j->in.len == 0)
        return;
    *parsed = json_loadb(j->in.ptr, j->in.len, 0, NULL);
    if (!json_is_object(*parsed))
        return;
    *type = json_string_value(json_object_get(*parsed, "scimType"));
    if (!*type)
        *type = json_string_value(json_object_get(*parsed, "code"));
    *detail = json_string_value(json_object_get(*parsed, "detail"));
    if (!*detail)
        *detail = json_string_value(json_object_get(*parsed, "message"));
}

/* "cannot reach api.example:443: couldn't resolve host name": a failure
 * without an answer names the host and port it was talking to. */
static void transport_why(char *out, size_t outsz, job *j, gcs_transport_fail fail, CURLcode code)
{
    char hp[300];
    gcs_http__url_host_port(hp, sizeof hp, j->url);
    const char *e = curl_easy_strerror(code);
    const char *what = fail == GCS_TRANSPORT_CONNECT   ? "cannot reach"
                       : fail == GCS_TRANSPORT_TIMEOUT ? "no answer in time from"
                       : fail == GCS_TRANSPORT_DROPPED ? "connection dropped by"
                                                       : "transfer failed with";
    int n = snprintf(out, outsz, "%s %s: %s", what, hp, e);
    size_t at = strlen(what) + 1 + strlen(hp) + 2;
    if (n > 0 && at < outsz)
        out[at] = (char)tolower((unsigned char)out[at]);
}

/* True when the scope of j is known to be granted. */
static bool scope_proven(const gcs_http_client *c, const char *scope)
{
    for (int i = 0; i < c->n_proven; i++)
        if (c->proven[i] == scope)
            return true;
    return false;
}

static void prove_scope(gcs_http_client *c, const char *scope)
{
    if (scope && !scope_proven(c, scope) &&
        c->n_proven < (int)(sizeof c->proven / sizeof *c->proven))
        c->proven[c->n_proven++] = scope;
}

/* May j go now? A call whose scope is not proven yet waits while another
 * call needing that scope is on the wire. */
static bool scope_allows(const gcs_http_client *c, const job *j)
{
    if (!j->scope || scope_proven(c, j->scope))
        return true;
    for (const job *w = c->wire.head; w; w = w->next)
        if (w->scope == j->scope)
            return false;
    return true;
}

/* Puts j on the wire now; a call that cannot start completes at once. */
static void start_now(gcs_http_client *c, job *j, const char *token)
{
    bool half_open = c->breaker.state == GCS_BREAKER_HALF_OPEN;
    if (gcs_http__job_start(c, j, token) < 0) {
        gcs_http__job_complete(c, j, GCS_HTTP_TRANSPORT_ERROR, gcs_error_last());
        return;
    }
    if (half_open) {
        j->probe = true;
        gcs_breaker_on_probe_sent(&c->breaker);
    }
}

/* Whether j's start is still to be recorded: a first attempt with an
 * on_start hook whose start barrier has not passed yet. */
static bool start_unrecorded(const job *j)
{
    return j->on_start && j->attempts == 0 && !j->start_recorded;
}

/* The most calls one start barrier records ahead of the wire. */
#define RECORD_AHEAD_MAX 256

/* How many calls, from the head of the ready queue, one barrier records: those
 * that may go next. max_in_flight of them, fewer when the pacer's window has
 * less left; one while only one call may be on the wire (the limit not known
 * yet, or the head's scope not proven). A crash loses at most these: each is
 * looked up on resume, sent or not. */
static int record_ahead_limit(gcs_http_client *c, const job *head, int64_t now)
{
    if (gcs_pacer_probe_only(&c->pacer) || (head->scope && !scope_proven(c, head->scope)))
        return 1;
    int k = c->max_in_flight < RECORD_AHEAD_MAX ? c->max_in_flight : RECORD_AHEAD_MAX;
    int left = gcs_pacer_remaining(&c->pacer, now);
    if (left < k)
        k = left > 1 ? left : 1;
    return k;
}

/* Records the starts of the calls at the head of the ready queue whose start
 * is unrecorded (up to record_ahead_limit, in queue order): each one's on_start,
 * then the barrier once, before any of them goes on the wire. They then go as
 * slots free, without a barrier of their own, so that one barrier (apply: one
 * commit of the creates' in-progress marks) covers a window's worth of calls
 * and none waits for it. On return the head's start is recorded, or the head
 * is completed: refused by its hook or by the barrier, or the client stopped
 * meanwhile, a call completes without being sent. */
static void record_starts(gcs_http_client *c, int64_t now)
{
    job *batch[RECORD_AHEAD_MAX];
    int n = 0, limit = record_ahead_limit(c, c->ready.head, now);
    /* Out of the queue first: a hook that fails may cancel everything queued. */
    while (n < limit && c->ready.head && start_unrecorded(c->ready.head)) {
        batch[n] = c->ready.head;
        gcs_http__queue_remove(&c->ready, batch[n++]);
    }
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (batch[i]->on_start(batch[i]->payload) != 0)
            gcs_http__job_complete(c, batch[i], GCS_HTTP_CANCELLED, "not sent");
        else
            batch[kept++] = batch[i];
    }
    if (kept == 0)
        return;
    int refused = c->start_barrier(c->start_barrier_payload);
    if (refused || c->stop_code) {
        for (int i = 0; i < kept; i++) {
            if (refused)
                gcs_http__job_complete(c, batch[i], GCS_HTTP_CANCELLED, "not sent");
            else
                gcs_http__job_complete(c, batch[i], c->stop_outcome, c->stop_msg);
        }
        return;
    }
    /* Back at the head, in their order. */
    for (int i = kept - 1; i >= 0; i--) {
        batch[i]->start_recorded = true;
        gcs_http__queue_push_front(&c->ready, batch[i]);
    }
}

static void finish_attempt(gcs_http_client *c, job *j, CURLcode code)
{
    long status = 0;
    char why[160] = "";
    bool login = (j->flags & GCS_HTTP_REQ_LOGIN) != 0;
    gcs_transport_fail fail = gcs_http__job_transport_fail(j, code);
    long connects = 0;
    if (curl_easy_getinfo(j->easy, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && connects > 0)
        c->st.connects += (uint64_t)connects;
    if (code == CURLE_OK)
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    else if (fail == GCS_TRANSPORT_TOO_LARGE)
        snprintf(why, sizeof why, "the answer is larger than %zu bytes", c->max_response_bytes);
    else
        transport_why(why, sizeof why, j, fail, code);
    curl_multi_remove_handle(c->multi, j->easy);
    gcs_http__handle_give(c, j->easy, gcs_http__job_compressed(j));
    j->easy = NULL;
    gcs_http__queue_remove(&c->wire, j);
    int64_t now = gcs_time_mono_us();
    if (login)
        c->in_flight_login--;
    else
        c->in_flight_api--;
    j->last_status = (int)status;
    if (j->h.retry_after >= 0)
        j->last_retry_after = j->h.retry_after;
    if (!login) {
        gcs_route_counts_add(&c->routes, j->method, j->path, (int)status);
        if (status > 0)
            gcs_pacer_on_answer(&c->pacer, j->sent_us, now, (int)status, j->h.rl_count,
                                j->h.rl_allowed, j->h.rl_reset);
    }

    gcs_http_outcome classified = GCS_HTTP_TRANSPORT_ERROR;
    if (status > 0) {
        json_t *parsed = NULL;
        const char *type = NULL, *detail = NULL;
        if (status >= 400 && status < 500)
            peek_error(j, &parsed, &type, &detail);
        classified = gcs_http_classify_status((int)status, j->method, type, detail);
        json_decref(parsed);
    }
    bool probe = j->probe;
    j->probe = false;
    if (status >= 200 && status < 500 && status != 401 && status != 403 && status != 429)
        prove_scope(c, j->scope);

    /* A 401 on the API: the token was refused (expired, revoked). Tell the
     * provider, which fetches a new one, and replay once with it. */
    if (!login && status == 401 && c->auth.get && j->auth_replays == 0) {
        if (c->auth.rejected && j->token)
            c->auth.rejected(j->token, c->auth.payload);
        j->auth_replays++;
        c->st.retries[GCS_RETRY_AUTH]++;
        gcs_breaker_on_success(&c->breaker, probe);
        gcs_http__queue_push_front(&c->ready, j);
        return;
    }

    gcs_retry_verdict v =
        gcs_retry_decide((int)status, fail, j->idempotent, j->h.retry_after, classified);
    j->last_outcome = v.outcome;
    if (!login) {
        gcs_breaker_state before = c->breaker.state;
        bool server_failed = status >= 500 || (status == 0 && fail != GCS_TRANSPORT_TOO_LARGE &&
                                               fail != GCS_TRANSPORT_OTHER);
        if (server_failed) {
            char hp[300];
            gcs_http__url_host_port(hp, sizeof hp, j->url);
            if (status)
                snprintf(c->last_failure, sizeof c->last_failure, "%s %s answered %ld", j->method,
                         j->path, status);
            else
                snprintf(c->last_failure, sizeof c->last_failure, "%s %s: %s", j->method, j->path,
                         why);
            gcs_breaker_on_failure(&c->breaker, now, probe);
        } else {
            gcs_breaker_on_success(&c->breaker, probe);
        }
        if (c->breaker.state != before && c->breaker.state == GCS_BREAKER_OPEN)
            GCS_WARN("http.breaker_open", "reason", status ? "server errors" : "no answers");
        else if (c->breaker.state != before && c->breaker.state == GCS_BREAKER_CLOSED)
            GCS_INFO("http.breaker_closed");
        if (status == 429) {
            c->st.status_429++;
            if (v.retry == GCS_RETRY_RATE_LIMIT)
                gcs_pacer_on_429(&c->pacer, now, j->h.retry_after);
        }
        if (v.outcome == GCS_HTTP_DAILY_LIMIT && !c->stop_code) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "a daily rate limit was reached (Retry-After %d s): the run stops",
                     j->h.retry_after);
            gcs_http__stop(c, GCS_EDAILYLIMIT, GCS_HTTP_DAILY_LIMIT, msg);
        }
    }
    if (v.outcome == GCS_HTTP_DAILY_LIMIT)
        snprintf(why, sizeof why, "a daily rate limit was reached (Retry-After %d s)",
                 j->h.retry_after);

    if (v.retry != GCS_RETRY_NONE && !c->stop_code) {
        int64_t at;
        if (v.retry == GCS_RETRY_RATE_LIMIT) {
            /* API calls wait on the shared pause (the pacer); the token endpoint
             * has its own limit and waits alone. */
            int ra = j->h.retry_after >= 0 ? j->h.retry_after : 3;
            at = login ? now + (int64_t)ra * 1000000 : c->pacer.pause_until_us;
        } else {
            at = now + gcs_retry_backoff_us(j->attempts, c->backoff_base_us, c->backoff_cap_us,
                                            next_rand(c));
        }
        /* 429s are bounded by time alone: the pause, not the attempt, is the cost. */
        bool attempts_left = v.retry == GCS_RETRY_RATE_LIMIT || j->attempts < c->max_attempts;
        if (attempts_left && at - j->first_send_us <= c->retry_budget_us) {
            c->st.retries[v.retry]++;
            if (gcs_log_enabled(GCS_LOG_DEBUG)) {
                char st[16], att[16];
                snprintf(st, sizeof st, "%ld", status);
                snprintf(att, sizeof att, "%d", j->attempts);
                GCS_DEBUG("http.retry", "method", j->method, "path", j->path, "status", st,
                          "attempt", att, "reason", gcs_retry_reason_name(v.retry));
            }
            j->not_before_us = at;
            if (login)
                gcs_http__queue_push_back(&c->login, j);
            else if (v.retry == GCS_RETRY_RATE_LIMIT)
                gcs_http__queue_push_front(&c->ready, j);
            else
                gcs_http__queue_insert_sorted(&c->delayed, j);
            return;
        }
        if (!why[0])
            snprintf(why, sizeof why, "gave up after %d attempts", j->attempts);
    }
    if (v.retry != GCS_RETRY_NONE && c->stop_code && !login) {
        /* It would have been retried, but the run stopped. */
        gcs_http__job_complete(c, j, c->stop_outcome, c->stop_msg);
        return;
    }
    gcs_http__job_complete(c, j, v.outcome, why[0] ? why : NULL);
}

/* ==== Dispatch ==== */

static gcs_http_outcome outcome_for_error(int code)
{
    switch (code) {
    case GCS_EAUTH:
        return GCS_HTTP_UNAUTHORISED;
    case GCS_EFORBIDDEN:
        return GCS_HTTP_FORBIDDEN;
    case GCS_ERATELIMIT:
        return GCS_HTTP_RATE_LIMITED;
    case GCS_EDAILYLIMIT:
        return GCS_HTTP_DAILY_LIMIT;
    case GCS_ESERVER:
        return GCS_HTTP_SERVER_ERROR;
    case GCS_EBREAKER:
        return GCS_HTTP_BREAKER_OPEN;
    case GCS_ECANCELLED:
        return GCS_HTTP_CANCELLED;
    case GCS_EINVALID:
        return GCS_HTTP_INVALID;
    default:
        return GCS_HTTP_TRANSPORT_ERROR;
    }
}

static void start_logins(gcs_http_client *c, int64_t now)
{
    job *j = c->login.head;
    while (j) {
        job *next = j->next;
        if (j->not_before_us <= now) {
            gcs_http__queue_remove(&c->login, j);
            if (gcs_http__job_start(c, j, NULL) < 0)
                gcs_http__job_complete(c, j, GCS_HTTP_TRANSPORT_ERROR, gcs_error_last());
        } else {
            wake_at(c, j->not_before_us);
        }
        j = next;
    }
}

static void dispatch(gcs_http_client *c)
{
    int64_t now = gcs_time_mono_us();
    c->wake_us = 0;
    start_logins(c, now);
    if (c->stop_code) {
        if (c->ready.n || c->delayed.n)
            gcs_http__fail_queued(c, c->stop_outcome, c->stop_msg);
        return;
    }
    while (c->in_flight_api < c->max_in_flight) {
        queue *q;
        if (c->delayed.head && c->delayed.head->not_before_us <= now)
            q = &c->delayed;
        else if (c->ready.head)
            q = &c->ready;
        else
            break;
        int64_t t = 0;
        if (!gcs_breaker_allow(&c->breaker, now, &t)) {
            if (c->breaker.state == GCS_BREAKER_OPEN && c->breaker.trips >= c->breaker_max_trips) {
                /* The server stayed down through every probe: stop. */
                char hp[300], msg[400];
                gcs_http__url_host_port(hp, sizeof hp, c->api_url);
                snprintf(msg, sizeof msg,
                         "Genesys unreachable: %s kept failing through %d probes of the "
                         "circuit breaker (last: %s)",
                         hp, c->breaker.trips, c->last_failure[0] ? c->last_failure : "none");
                c->breaker.trips = 0;
                gcs_http__stop(c, GCS_EUNREACHABLE, GCS_HTTP_BREAKER_OPEN, msg);
                gcs_http__fail_queued(c, GCS_HTTP_BREAKER_OPEN, c->stop_msg);
            }
            wake_at(c, t);
            break;
        }
        gcs_pacer_set_hosts(&c->pacer, atomic_load_explicit(&c->hosts, memory_order_relaxed));
        /* Until the first answer says what the limit is, one request at a time
         * (with other hosts, also until one confirms a new window). */
        if (gcs_pacer_probe_only(&c->pacer) && c->in_flight_api > 0)
            break;
        /* Until its scope is proven, one call per scope. */
        if (!scope_allows(c, q->head))
            break;
        t = gcs_pacer_next_us(&c->pacer, now, c->ready.n + c->delayed.n);
        if (t - now > (int64_t)GCS_HTTP_DAILY_LIMIT_S * 1000000) {
            /* The window's allowance is spent and the next one is further away than a
             * 429's Retry-After may be before it counts as a daily limit: the same
             * verdict, without first running into the 429. */
            char msg[300];
            snprintf(msg, sizeof msg,
                     "a daily rate limit was reached (the limit allows %.3g requests a second "
                     "and the next could go in %lld s): the run stops",
                     gcs_pacer_allowed_rps(&c->pacer), (long long)((t - now) / 1000000));
            gcs_http__stop(c, GCS_EDAILYLIMIT, GCS_HTTP_DAILY_LIMIT, msg);
            gcs_http__fail_queued(c, GCS_HTTP_DAILY_LIMIT, c->stop_msg);
            break;
        }
        if (t > now) {
            if (!c->pace_blocked_us)
                c->pace_blocked_us = now;
            wake_at(c, t);
            break;
        }
        if (q == &c->ready && c->start_barrier && c->breaker.state == GCS_BREAKER_CLOSED &&
            start_unrecorded(q->head)) {
            record_starts(c, now);
            continue; /* the head goes now, or is gone */
        }
        const char *token = NULL;
        if (c->auth.get) {
            int rc = c->auth.get(&token, c, c->auth.payload);
            if (rc == 1)
                break; /* a token is being fetched: everybody waits for it */
            if (rc < 0) {
                char msg[256];
                snprintf(msg, sizeof msg, "%s", gcs_error_last());
                gcs_http__fail_queued(c, outcome_for_error(rc), msg);
                break;
            }
        }
        job *j = q->head;
        gcs_http__queue_remove(q, j);
        if (start_unrecorded(j)) {
            /* A probe of the breaker, or no barrier: the hook, then the barrier
             * for this call alone. */
            if (j->on_start(j->payload) != 0 ||
                (c->start_barrier && c->start_barrier(c->start_barrier_payload) != 0)) {
                gcs_http__job_complete(c, j, GCS_HTTP_CANCELLED, "not sent");
                continue;
            }
            j->start_recorded = true;
        }
        start_now(c, j, token);
        gcs_pacer_on_send(&c->pacer, now);
        if (c->pace_blocked_us) {
            c->st.pacing_wait_ms += (uint64_t)(now - c->pace_blocked_us) / 1000;
            c->pace_blocked_us = 0;
        }
    }
    /* Only a retry whose time is still to come sets the clock: one that is due
     * but held back (breaker, pacer, Retry-After) waits on what holds it, which
     * set its own wake-up above. Waking at an instant already past would spin. */
    if (c->delayed.head && c->delayed.head->not_before_us > now)
        wake_at(c, c->delayed.head->not_before_us);
    /* A fetch the provider submitted just now (the token ran out, or is to be
     * renewed ahead of time) goes at once. */
    if (c->login.n)
        start_logins(c, now);
}

/* ==== Running ==== */

int gcs_http_run_once(gcs_http_client *c, int timeout_ms)
{
    dispatch(c);
    if (gcs_http_pending(c) == 0)
        return 0;
    int wait = timeout_ms < 0 ? 0 : timeout_ms;
    if (c->wake_us) {
        int64_t d = (c->wake_us - gcs_time_mono_us() + 999) / 1000;
        if (d < wait)
            wait = d < 0 ? 0 : (int)d;
    }
    if (c->in_flight_api + c->in_flight_login > 0)
        curl_multi_poll(c->multi, NULL, 0, wait, NULL);
    else
        gcs_time_sleep_ms(wait);
    int running = 0;
    curl_multi_perform(c->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        job *j = NULL;
        CURLcode code = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        finish_attempt(c, j, code);
    }
    dispatch(c);
    return gcs_http_pending(c);
}

int gcs_http_run(gcs_http_client *c)
{
    c->run_answered = c->run_failed = 0;
    while (gcs_http_run_once(c, 1000) > 0)
        ;
    if (c->stop_code)
        return gcs_error_set(c->stop_code, "%s", c->stop_msg);
    if (c->run_failed > 0 && c->run_answered == 0)
        return gcs_error_set(GCS_EUNREACHABLE, "every call failed: %s", c->last_failure);
    return 0;
}

int gcs_http_call(gcs_http_client_response *out, gcs_http_client *c,
                  const gcs_http_client_request *req)
{
    bool done = false;
    gcs_http_client_response_init(out);
    int rc = gcs_http_submit(c, req, NULL, NULL);
    if (rc < 0)
        return rc;
    job *j = (req->flags & GCS_HTTP_REQ_LOGIN) ? c->login.tail : c->ready.tail;
    j->sync_out = out;
    j->sync_done = &done;
    while (!done)
        gcs_http_run_once(c, 1000);
    if (out->error)
        return gcs_error_set(out->error, "%s", out->message);
    return 0;
}
