/*
 * transfer.c - one attempt on the wire: the libcurl easy handle (pooled and
 * reused), its options and headers, the answer's body (bounded) and headers,
 * and how an attempt without an answer ended.
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

/* ==== One attempt on the wire ==== */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    job *j = userp;
    size_t n = size * nmemb;
    if (j->flags & GCS_HTTP_REQ_NO_BODY)
        return n;
    if (gcs_buf_put(&j->in, data, n) < 0) {
        j->too_large = true;
        return 0; /* aborts the transfer: the answer passed its hard maximum */
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    job *j = userp;
    size_t n = size * nmemb;
    gcs_http_headers_parse_line(&j->h, data, n);
    return n;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    char line[URL_MAX];
    int n;
    if (value)
        n = snprintf(line, sizeof line, "%s: %s", name, value);
    else
        n = snprintf(line, sizeof line, "%s:", name); /* removes curl's own */
    struct curl_slist *l = curl_slist_append(*list, line);
    /* What was written, not the whole buffer: every call has four headers. */
    explicit_bzero(line, n < 0 || (size_t)n >= sizeof line ? sizeof line : (size_t)n + 1);
    if (!l)
        return GCS_ENOMEM;
    *list = l;
    return 0;
}

static CURL *take_handle(gcs_http_client *c)
{
    if (c->pool_n > 0) {
        CURL *e = c->pool[--c->pool_n];
        curl_easy_reset(e);
        return e;
    }
    return curl_easy_init();
}

void gcs_http__handle_give(gcs_http_client *c, CURL *e)
{
    if (c->pool_n == c->pool_cap) {
        int cap = c->pool_cap ? c->pool_cap * 2 : 16;
        CURL **p = realloc(c->pool, (size_t)cap * sizeof *p);
        if (!p) {
            curl_easy_cleanup(e);
            return;
        }
        c->pool = p;
        c->pool_cap = cap;
    }
    c->pool[c->pool_n++] = e;
}

/* Puts the job on the wire. On failure the job is untouched and queued nowhere. */
int gcs_http__job_start(gcs_http_client *c, job *j, const char *token)
{
    int rc = 0;
    struct curl_slist *h = NULL;
    CURL *e = take_handle(c);
    if (!e)
        return gcs_error_set(GCS_ENOMEM, "cannot create a transfer");
    char bearer[URL_MAX];
    if (token) {
        int n = snprintf(bearer, sizeof bearer, "Bearer %s", token);
        rc = add_header(&h, "Authorization", bearer);
        explicit_bzero(bearer, n < 0 || (size_t)n >= sizeof bearer ? sizeof bearer : (size_t)n + 1);
        if (rc < 0)
            goto out;
    }
    if ((rc = add_header(&h, "Accept", "application/scim+json, application/json")) < 0 ||
        (rc = add_header(&h, "Expect", NULL)) < 0 ||
        (j->content_type && (rc = add_header(&h, "Content-Type", j->content_type)) < 0) ||
        (j->if_match && (rc = add_header(&h, "If-Match", j->if_match)) < 0) ||
        (j->if_none_match && (rc = add_header(&h, "If-None-Match", j->if_none_match)) < 0))
        goto out;
    for (char **x = j->headers; x && *x; x++) {
        struct curl_slist *l = curl_slist_append(h, *x);
        if (!l) {
            rc = GCS_ENOMEM;
            goto out;
        }
        h = l;
    }

    curl_easy_setopt(e, CURLOPT_URL, j->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(j->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(j->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, j->method);
        if (j->body || strcmp(j->method, "POST") == 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body ? j->body : "");
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
        }
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_bundle)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_bundle);
    if (c->https)
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    /* Every call reuses connections, creates included: a TLS handshake per user
     * would cost more than the call. libcurl silently sends a request again when
     * a reused connection closes before any answer, and the server may have
     * carried it out: that is safe because the calls gcscim makes are idempotent
     * by design. A create sent twice meets 409 for a user carrying this run's
     * own managed marker for its key, which apply counts as done; a PATCH sent
     * twice meets a version conflict and re-reads (engine/apply.h). */
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)j);

    if (j->token) {
        /* The copy from the attempt before (a retry's): overwritten, then freed. */
        explicit_bzero(j->token, strlen(j->token));
        free(j->token);
        j->token = NULL;
    }
    if (token && !(j->token = strdup(token))) {
        rc = GCS_ENOMEM;
        goto out;
    }
    gcs_buf_clear(&j->in);
    j->too_large = false;
    gcs_http_headers_reset(&j->h);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        rc = GCS_ERROR;
        goto out;
    }
    gcs_http__slist_free_wiped(j->slist, true);
    j->slist = h;
    h = NULL;
    j->easy = e;
    e = NULL;
    gcs_http__queue_push_back(&c->wire, j);
    j->sent_us = gcs_time_mono_us();
    if (!j->first_send_us)
        j->first_send_us = j->sent_us;
    j->attempts++;
    if (j->flags & GCS_HTTP_REQ_LOGIN) {
        c->in_flight_login++;
        c->st.token_requests++;
    } else {
        c->in_flight_api++;
        c->st.sent++;
        if (c->in_flight_api > c->st.in_flight_max)
            c->st.in_flight_max = c->in_flight_api;
    }
out:
    gcs_http__slist_free_wiped(h, true);
    if (e)
        gcs_http__handle_give(c, e);
    if (rc < 0)
        return gcs_error_set(rc, "cannot start %s %s", j->method, j->path);
    return 0;
}

gcs_transport_fail gcs_http__job_transport_fail(job *j, CURLcode code)
{
    if (code == CURLE_OK)
        return GCS_TRANSPORT_OK;
    if (j->too_large)
        return GCS_TRANSPORT_TOO_LARGE;
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
        return GCS_TRANSPORT_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: {
        /* Before the request was on the wire a timeout is a failed connect. */
        curl_off_t pre = 0;
        curl_easy_getinfo(j->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        return pre == 0 ? GCS_TRANSPORT_CONNECT : GCS_TRANSPORT_TIMEOUT;
    }
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return GCS_TRANSPORT_DROPPED;
    default:
        return GCS_TRANSPORT_OTHER;
    }
}
