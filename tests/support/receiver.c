#include "receiver.h"

#include "gcstest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void handle(gcs_http_response *out, const gcs_http_request *req, void *payload)
{
    gcs_test_receiver *r = payload;
    const char *id = gcs_http_request_header(req, "webhook-id");
    const char *ts = gcs_http_request_header(req, "webhook-timestamp");
    const char *sig = gcs_http_request_header(req, "webhook-signature");
    json_t *valid = json_array();
    bool any = false;
    for (size_t i = 0; i < r->nsecrets; i++) {
        bool ok = gcs_webhook_verify(&r->secrets[i], 1, id, ts, sig, req->body, req->body_len,
                                     (int64_t)time(NULL), GCS_WEBHOOK_TOLERANCE_S) ==
                  GCS_WEBHOOK_VALID;
        any = any || ok;
        json_array_append_new(valid, json_boolean(ok));
    }
    pthread_mutex_lock(&r->lock);
    gcs_test_receiver_mode mode = r->mode;
    int slow = r->slow_ms;
    int status = mode == GCS_RECEIVER_FAIL_500 || mode == GCS_RECEIVER_KILL_SENDER ? 500
                 : mode == GCS_RECEIVER_SLOW || mode == GCS_RECEIVER_HUGE_OK       ? 200
                 : mode == GCS_RECEIVER_REDIRECT                                   ? 307
                                                                                   : 204;
    if (mode == GCS_RECEIVER_KILL_SENDER && r->kill_pid > 0)
        kill(r->kill_pid, SIGKILL); /* the outcome is durable: it is what made this message */
    json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
    json_array_append_new(r->messages,
                          json_pack("{s:s?,s:s?,s:s?,s:o,s:o,s:s,s:i}", "id", id, "timestamp", ts,
                                    "signatures", sig, "valid", valid, "body",
                                    body ? body : json_null(), "raw", req->body, "answered",
                                    status));
    if (!any)
        r->unsigned_or_bad++;
    pthread_mutex_unlock(&r->lock);
    if (mode == GCS_RECEIVER_SLOW)
        usleep((useconds_t)slow * 1000);
    if (mode == GCS_RECEIVER_REDIRECT) {
        gcs_http_response_header(out, "Location", r->url);
    } else if (mode == GCS_RECEIVER_HUGE_OK) {
        char *huge = malloc(GCS_RECEIVER_HUGE_BYTES + 1);
        if (huge) {
            memset(huge, ' ', GCS_RECEIVER_HUGE_BYTES);
            huge[0] = '{';
            huge[GCS_RECEIVER_HUGE_BYTES - 1] = '}';
            huge[GCS_RECEIVER_HUGE_BYTES] = '\0';
            gcs_http_response_set(out, status, "application/json", huge);
            free(huge);
            return;
        }
    }
    gcs_http_response_set(out, status, "application/json", status == 204 ? "" : "{}");
}

static void listen_on(gcs_test_receiver *r, int port)
{
    gcs_http_server_options o = {.host = "127.0.0.1", .port = port};
    for (int tries = 0; tries < 50; tries++) {
        if (gcs_http_server_start(&r->server, &o, handle, r) == 0) {
            r->port = gcs_http_server_port(r->server);
            snprintf(r->url, sizeof r->url, "http://127.0.0.1:%d/hooks/gcscim", r->port);
            return;
        }
        usleep(100000); /* the old socket may linger a moment */
    }
    fail_msg("the receiver cannot listen on port %d", port);
}

void gcs_test_receiver_start(gcs_test_receiver *r, const char *const *secrets, size_t n)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->messages = json_array();
    for (size_t i = 0; i < n && i < 2; i++) {
        if (gcs_webhook_secret_parse(&r->secrets[i], secrets[i]) != 0)
            fail_msg("bad test secret %zu", i);
        r->nsecrets++;
    }
    listen_on(r, 0);
}

void gcs_test_receiver_set_mode(gcs_test_receiver *r, gcs_test_receiver_mode mode, int slow_ms)
{
    pthread_mutex_lock(&r->lock);
    r->mode = mode;
    r->slow_ms = slow_ms;
    pthread_mutex_unlock(&r->lock);
}

void gcs_test_receiver_stop(gcs_test_receiver *r)
{
    gcs_http_server_free(r->server);
    r->server = NULL;
}

void gcs_test_receiver_restart(gcs_test_receiver *r)
{
    if (!r->server)
        listen_on(r, r->port);
}

json_t *gcs_test_receiver_messages(gcs_test_receiver *r)
{
    pthread_mutex_lock(&r->lock);
    json_t *copy = json_deep_copy(r->messages);
    pthread_mutex_unlock(&r->lock);
    return copy;
}

void gcs_test_receiver_free(gcs_test_receiver *r)
{
    gcs_test_receiver_stop(r);
    json_decref(r->messages);
    for (size_t i = 0; i < r->nsecrets; i++)
        gcs_webhook_secret_wipe(&r->secrets[i]);
    pthread_mutex_destroy(&r->lock);
}
