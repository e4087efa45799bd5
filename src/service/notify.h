/*
 * notify.h - telling the HR system what happened: the sender of the store's
 * outbox (store.h, "Outbox"; docs/notifications.md).
 *
 * The endpoints come from the notify file (JSON, setting `notify_file`):
 *   {"endpoints": [{"name": "hr", "url": "https://hr.example.com/hooks/gcscim",
 *                   "secret_file": "hr.whsec", "events": ["user.*", "run.finished"]}],
 *    "dead_after_s": 86400, "timeout_s": 10}
 * Each endpoint has its own secret file (mode 0600, relative to the notify
 * file's directory): one Standard Webhooks secret ("whsec_…") per line, two
 * during a rotation, and every message then carries both signatures.
 * `events` lists event types or prefixes ("user.*"; absent: every event).
 * An endpoint's URL is https://, or http:// to a loopback address (tests).
 *
 * Delivery is at least once: a notification is claimed under a lease (one
 * sender per notification, across hosts), POSTed through the request engine
 * (http/client.h: TLS verification on) with the headers webhook-id (the
 * notification's id, the same on every attempt), webhook-timestamp and
 * webhook-signature, and marked delivered on a 2xx answer; any other answer
 * or no answer backs off (Retry-After is honoured) until its deadline, then it
 * is dead (`gcscim notifications retry ID` sends it again). Nothing is sent
 * unsigned: an endpoint without a secret is a configuration error.
 */
#ifndef GCS_SERVICE_NOTIFY_H
#define GCS_SERVICE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "service/webhook.h"
#include "store/store.h"

#define GCS_NOTIFY_FILE_MAX (64 * 1024)
#define GCS_NOTIFY_SECRETS_MAX 2

/* The event types gcscim sends (and "*" and "PREFIX.*" in filters). */
extern const char *const gcs_notify_event_types[];

typedef struct gcs_notify_endpoint {
    char *name;
    char *url;
    char *base;            /* scheme://host[:port] */
    char *path;            /* the rest, from its '/' */
    char **events;         /* NULL-terminated, or NULL: every event */
    gcs_webhook_secret secrets[GCS_NOTIFY_SECRETS_MAX];
    size_t nsecrets;
} gcs_notify_endpoint;

typedef struct gcs_notify_config {
    gcs_notify_endpoint endpoints[GCS_NOTE_ENDPOINTS_MAX];
    size_t count;
    int64_t dead_after_ms;
    int timeout_ms;
    gcs_outbox_route routes[GCS_NOTE_ENDPOINTS_MAX];
    gcs_outbox_routes table;   /* what apply and serve write the outbox with */
} gcs_notify_config;

/* Reads and checks the notify file and every endpoint's secret file. Errors
 * name the file and the field ("notify file 'n.json': endpoints[1].url: …").
 * The caller frees *out. */
int gcs_notify_config_load(gcs_notify_config **out, const char *path);
/* The same from text; `dir` is where relative secret files are, or NULL to
 * leave secrets unread (the fuzz harness; such a config cannot send). */
int gcs_notify_config_parse(gcs_notify_config **out, const char *text, size_t len,
                            const char *origin, const char *dir);
/* Wipes the secrets. Accepts NULL. */
void gcs_notify_config_free(gcs_notify_config *c);
/* The routes for gcs_outbox_event (borrowed from c). */
const gcs_outbox_routes *gcs_notify_routes(const gcs_notify_config *c);

typedef struct gcs_notify_counts {
    uint64_t delivered, failed, dead;   /* gcscim_notifications_sent_total{outcome} */
} gcs_notify_counts;

/*
 * Sends what is ready: claims notifications in batches for `sender` (a name
 * unique to this process: "HOST:PID") and delivers them, until none is ready
 * or deadline_ms (wall clock) passes; each call ends by the deadline (given a
 * second at least, and never more than the notify file's timeout): a call cut
 * short is a failed attempt, retried later.
 * Adds what happened to *counts (may be NULL). Returns 0, or a store error.
 */
int gcs_notify_send_ready(gcs_notify_counts *counts, gcs_store *s, const gcs_notify_config *c,
                          const char *sender, int64_t deadline_ms);

/* ==== The notifier thread of `gcscim serve` ==== */

typedef struct gcs_notifier gcs_notifier;

typedef struct gcs_notifier_options {
    const char *store_url;             /* the thread opens its own connection */
    const gcs_notify_config *config;   /* borrowed: outlives the notifier */
    const char *sender;                /* NULL: HOST:PID */
    int64_t poll_ms;                   /* how often it looks without a wake; default 1000 */
} gcs_notifier_options;

int gcs_notifier_start(gcs_notifier **out, const gcs_notifier_options *o);
/* An outcome was recorded: look now. */
void gcs_notifier_wake(gcs_notifier *n);
/* Totals since the start (for /metrics). */
void gcs_notifier_counts(gcs_notify_counts *out, gcs_notifier *n);
/* Stops after the batch in flight (each of its calls ends within the notify
 * file's timeout_s); what it did not deliver stays in the outbox, claimable
 * again once its lease (2 x timeout_s + 1 s) ends. Accepts NULL. */
void gcs_notifier_stop(gcs_notifier *n);

#endif
