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

/* A new easy handle with what every transfer of this client has in common.
 * Set once: a handle keeps its options from one transfer to the next, and
 * resetting and setting them again for every call cost more than the call's
 * own work in the engine (each string option is copied, the protocol list
 * parsed, the encodings list built). */
static CURL *new_handle(const gcs_http_client *c, bool compressed)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
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
    /* Compressed answers for reads (list pages are large), gzip alone:
     * libcurl formats the Accept-Encoding line byte by byte, twice, on every
     * call, and the list of every coding it knows ("deflate, gzip, br, zstd")
     * cost twice as much. A write's answer is one small object: its handles
     * ask for none (libcurl decodes only what a handle asked for). */
    if (compressed)
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    return e;
}

bool gcs_http__job_compressed(const job *j)
{
    return strcmp(j->method, "GET") == 0;
}

static CURL *take_handle(gcs_http_client *c, bool compressed)
{
    struct handle_pool *p = &c->pool[compressed];
    if (p->n > 0)
        return p->h[--p->n];
    return new_handle(c, compressed);
}

void gcs_http__handle_give(gcs_http_client *c, CURL *e, bool compressed)
{
    /* Forget what belonged to the last transfer (its job, its body, its
     * header lines: all freed with the job); the common options stay. The
     * body goes first: setting it makes the method POST, which HTTPGET then
     * undoes. */
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, NULL);
    curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
    struct handle_pool *p = &c->pool[compressed];
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 16;
        CURL **h = realloc(p->h, (size_t)cap * sizeof *h);
        if (!h) {
            curl_easy_cleanup(e);
            return;
        }
        p->h = h;
        p->cap = cap;
    }
    p->h[p->n++] = e;
}

/* "Authorization: Bearer TOKEN" for this attempt, in place of the last
 * attempt's line (overwritten, then freed). */
static int set_auth_line(job *j, const char *token)
{
    char *line = NULL;
    if (token) {
        size_t n = strlen(token);
        if (!(line = malloc(sizeof AUTH_PREFIX + n)))
            return GCS_ENOMEM;
        memcpy(line, AUTH_PREFIX, sizeof AUTH_PREFIX - 1);
        memcpy(line + sizeof AUTH_PREFIX - 1, token, n + 1);
    }
    if (j->auth_line) {
        explicit_bzero(j->auth_line, strlen(j->auth_line));
        free(j->auth_line);
    }
    j->auth_line = line;
    j->token = line ? line + sizeof AUTH_PREFIX - 1 : NULL;
    return 0;
}

/* Links the job's header lines in its own nodes, ahead of the client's
 * common ones: libcurl only reads the list, so nothing is copied. */
static struct curl_slist *link_headers(gcs_http_client *c, job *j)
{
    struct curl_slist *first = NULL, **at = &first;
    struct curl_slist *node = j->nodes;
    if (j->auth_line) {
        node->data = j->auth_line;
        *at = node;
        at = &node++->next;
    }
    const char *line = j->own_lines;
    for (int i = 0; i < j->n_own_lines; i++, line += strlen(line) + 1) {
        node->data = (char *)line;
        *at = node;
        at = &node++->next;
    }
    for (char **x = j->headers; x && *x; x++) {
        node->data = *x;
        *at = node;
        at = &node++->next;
    }
    *at = &c->common_headers[0];
    return first;
}

/* Puts the job on the wire. On failure the job is untouched and queued nowhere. */
int gcs_http__job_start(gcs_http_client *c, job *j, const char *token)
{
    int rc = 0;
    bool compressed = gcs_http__job_compressed(j);
    CURL *e = take_handle(c, compressed);
    if (!e)
        return gcs_error_set(GCS_ENOMEM, "cannot create a transfer");
    if ((rc = set_auth_line(j, token)) < 0)
        goto out;

    /* The handle comes from the pool as handle_give left it: a GET without
     * headers, body or job. */
    curl_easy_setopt(e, CURLOPT_URL, j->url);
    if (strcmp(j->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(j->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, j->method);
        if (j->body || strcmp(j->method, "POST") == 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body ? j->body : "");
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
        }
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, link_headers(c, j));
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)j);

    gcs_buf_clear(&j->in);
    j->too_large = false;
    gcs_http_headers_reset(&j->h);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        rc = GCS_ERROR;
        goto out;
    }
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
    if (e)
        gcs_http__handle_give(c, e, compressed);
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
