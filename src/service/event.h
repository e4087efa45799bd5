/*
 * event.h - what `gcscim serve` accepts as a person event (POST /v1/events) or
 * a provisioning request (POST /v1/users), checked and turned into a job
 * payload (the contract of docs/serve.md, "Events" and "Jobs").
 *
 * An event, in the Standard Webhooks payload form:
 *   {"type": "person.created" | "person.changed" | "person.left",
 *    "timestamp": "2026-11-30T08:00:00Z",          (optional, informative)
 *    "data": {"key": "E1001", "row": {COLUMN: VALUE, ...}}}
 * A request body is the "data" object alone. The row holds the source's
 * columns as the mapping profile names them (the same shape as a row of the
 * HR export), so one profile serves the file and the events. "person.left"
 * carries no row (absent or null).
 *
 * Invariants: a parse either fills *out completely or fails with GCS_EINVALID
 * and a message that names the offending field ("data.row.email: ...") and
 * never quotes a value; nothing is kept from the body after the call but what
 * *out owns. Group events are refused (not supported yet).
 */
#ifndef GCS_SERVICE_EVENT_H
#define GCS_SERVICE_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define GCS_EVENT_KEY_MAX 256       /* bytes of a person's key */
#define GCS_EVENT_FIELD_MAX 256     /* bytes of a column's name */
#define GCS_EVENT_FIELDS_MAX 512    /* columns of one row */
#define GCS_EVENT_VALUE_MAX 16384   /* bytes of one value */

typedef enum gcs_event_action {
    GCS_EVENT_UPSERT = 1,   /* created or changed: the row is the desired state */
    GCS_EVENT_LEAVE = 2,    /* the person left: deactivate if managed */
} gcs_event_action;

typedef struct gcs_event {
    gcs_event_action action;
    char *key;        /* owned */
    json_t *row;      /* owned; NULL for a leave */
} gcs_event;

void gcs_event_release(gcs_event *e);

/* An event body (above). GCS_EINVALID naming the field; GCS_ENOMEM. */
int gcs_event_parse(gcs_event *out, const char *body, size_t len);
/* A provisioning request body: {"key": ..., "row": {...}} (always an upsert). */
int gcs_event_parse_request(gcs_event *out, const char *body, size_t len);

typedef struct gcs_event_origin {
    const char *origin;        /* "event" or "rest" */
    const char *webhook_id;    /* events only; NULL otherwise */
    const char *requested_by;  /* the API key's name, or "webhook" */
    int64_t accepted_ms;
} gcs_event_origin;

/* The job key ("person:" + key) and payload (JSON text) of the job contract.
 * Both are the caller's to free. */
int gcs_event_job(char **out_key, char **out_payload, const gcs_event *e,
                  const gcs_event_origin *o);

#endif
