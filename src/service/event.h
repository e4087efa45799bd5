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
 * A group event says what one directory group is now (docs/serve.md, "Group
 * events"); it becomes a record of a groups file (mapping/groups_file.h):
 *   {"type": "group.created" | "group.changed",
 *    "data": {"key": "tier2", "name": "Tier 2", "description": "...",
 *             "type": "official", "visibility": "public",
 *             "members": ["E1001", ...],                (person keys, required)
 *             "children": ["tier2-nights", ...], "nesting": "kept" | "flattened",
 *             "roles": [{"role": "Agent", "division": "Home"}, ...]}}
 * Every field but key and members is optional; an unknown one is refused.
 *
 * Invariants: a parse either fills *out completely or fails with GCS_EINVALID
 * and a message that names the offending field ("data.row.email: ...",
 * "data.members[3]: ...") and never quotes a value; nothing is kept from the
 * body after the call but what *out owns.
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
#define GCS_EVENT_GROUP_KEY_MAX 200          /* bytes of a group's key (a groups file's) */
#define GCS_EVENT_GROUP_NAME_MAX 255         /* bytes of a group's name (Genesys's limit) */
#define GCS_EVENT_GROUP_DESCRIPTION_MAX 2048 /* bytes of a group's description */
#define GCS_EVENT_GROUP_MEMBERS_MAX 10000    /* direct members of one group event */
#define GCS_EVENT_GROUP_CHILDREN_MAX 1000    /* child groups of one group event */
#define GCS_EVENT_GROUP_ROLES_MAX 100        /* role grants of one group event */

typedef enum gcs_event_kind {
    GCS_EVENT_PERSON = 0,
    GCS_EVENT_GROUP = 1,
} gcs_event_kind;

typedef enum gcs_event_action {
    GCS_EVENT_UPSERT = 1,   /* created or changed: the row is the desired state */
    GCS_EVENT_LEAVE = 2,    /* the person left: deactivate if managed */
} gcs_event_action;

typedef struct gcs_event {
    gcs_event_kind kind;
    gcs_event_action action;  /* a group event is always an upsert */
    char *key;        /* owned: the person's or the group's key */
    json_t *row;      /* owned; NULL for a leave and for a group */
    json_t *group;    /* owned; a group event's checked data object, else NULL */
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

/* The job key ("person:" + key, or "group:" + key) and payload (JSON text)
 * of the job contract. Both are the caller's to free. */
int gcs_event_job(char **out_key, char **out_payload, const gcs_event *e,
                  const gcs_event_origin *o);

#endif
