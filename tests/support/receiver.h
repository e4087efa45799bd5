/*
 * receiver.h - a webhook receiver on loopback for the notification tests: it
 * checks every message's Standard Webhooks signature (service/webhook.h)
 * against the secrets it is given, one at a time (so that a rotation's two
 * signatures are each proven), keeps what it received, and misbehaves on
 * request: answers 500, answers too late, or goes away and comes back on the
 * same port.
 */
#ifndef GCS_TESTS_RECEIVER_H
#define GCS_TESTS_RECEIVER_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "http/server.h"
#include "service/webhook.h"

typedef enum gcs_test_receiver_mode {
    GCS_RECEIVER_OK = 0,     /* 204 */
    GCS_RECEIVER_FAIL_500,   /* 500 */
    GCS_RECEIVER_SLOW,       /* answers 200 after slow_ms */
    GCS_RECEIVER_KILL_SENDER,/* SIGKILLs kill_pid (the sender), then answers 500 */
    GCS_RECEIVER_REDIRECT,   /* 307 to the same URL (a sender that follows it posts twice) */
    GCS_RECEIVER_HUGE_OK,    /* 200 with a body of GCS_RECEIVER_HUGE_BYTES */
} gcs_test_receiver_mode;

#define GCS_RECEIVER_HUGE_BYTES ((size_t)12 << 20)

typedef struct gcs_test_receiver {
    gcs_http_server *server;
    int port;
    char url[128];                    /* http://127.0.0.1:PORT/hooks/gcscim */
    gcs_webhook_secret secrets[2];
    size_t nsecrets;
    pthread_mutex_t lock;
    gcs_test_receiver_mode mode;
    int slow_ms;
    pid_t kill_pid;
    /* What arrived, in order: [{"id","timestamp","signatures","valid":[bool per secret],
     * "body":{…},"raw":"…","answered":status}] */
    json_t *messages;
    int unsigned_or_bad;              /* messages no secret verified */
} gcs_test_receiver;

/* Starts on a free loopback port; the secrets are "whsec_…" texts. */
void gcs_test_receiver_start(gcs_test_receiver *r, const char *const *secrets, size_t n);
void gcs_test_receiver_set_mode(gcs_test_receiver *r, gcs_test_receiver_mode mode, int slow_ms);
/* Goes away (the port refuses connections) and comes back on the same port. */
void gcs_test_receiver_stop(gcs_test_receiver *r);
void gcs_test_receiver_restart(gcs_test_receiver *r);
/* Messages so far (a new reference to a copy). */
json_t *gcs_test_receiver_messages(gcs_test_receiver *r);
void gcs_test_receiver_free(gcs_test_receiver *r);

#endif
