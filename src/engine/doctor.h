/*
 * doctor.h - the checks a person runs before the first real sync (and a
 * monitor runs every hour): configuration, credentials and region, the API
 * host and its clock, permissions, the rate limit and what a sync would cost,
 * the profile against the source and the organisation, and the store.
 *
 * Read-only by design: nothing is written to Genesys, no plan is written, and
 * the store's write check leaves no trace (store/store.h, gcs_store_check_writable).
 * Every request but one goes through the request engine (http/client.h). The
 * exception is the probe of the API host (GET /api/v2/scim/v2/users?count=0),
 * made with libcurl directly because the engine does not hand answer headers
 * to its callers, and the clock check needs `Date` and the rate-limit check
 * the inin-ratelimit-* headers. It uses the same CA bundle and timeout.
 *
 * The result is a list of checks in a fixed order. Each has a stable name (for
 * monitors), a status, one line of detail and, unless it is ok or skipped, one
 * line of advice that says what to do. No check ever shows the client secret
 * or a token. A check that cannot run because an earlier one failed is
 * skipped, naming the check it waits for.
 */
#ifndef GCS_ENGINE_DOCTOR_H
#define GCS_ENGINE_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/config.h"
#include "mapping/source.h"

typedef enum gcs_doctor_status {
    GCS_DOCTOR_OK = 0,
    GCS_DOCTOR_WARN,     /* works, but something deserves attention */
    GCS_DOCTOR_FAIL,     /* a sync would fail, or do harm: fix it first */
    GCS_DOCTOR_SKIPPED,  /* not checked; detail says why */
} gcs_doctor_status;

typedef struct gcs_doctor_check {
    char *name;     /* stable: "token", "clock", "scim-read", "store-writable", ... */
    gcs_doctor_status status;
    char *detail;   /* one line, never NULL */
    char *advice;   /* one line of what to do; NULL when ok or skipped */
    json_t *data;   /* figures for monitors (owned), or NULL */
} gcs_doctor_check;

typedef struct gcs_doctor_report {
    gcs_doctor_check *checks;
    size_t count, cap;
} gcs_doctor_report;

typedef struct gcs_doctor_options {
    const gcs_config *config;       /* the effective configuration (borrowed) */
    const char *config_error;       /* when the configuration did not load: why (the
                                       `config` check fails and the rest is skipped) */
    const char *source_path;        /* both or neither: the profile/source checks */
    const char *profile_path;
    gcs_source_format source_format;
    int examples;                   /* rejected rows shown per reason (default 3) */
    int timeout_ms;                 /* per request; 0: the configured timeout */
    int64_t anchor_seq;             /* a receipt chain head from an earlier check (0: none): */
    char anchor_hash[65];           /* receipt anchor_seq must still have this hash */
    /* Checks of a layer above the engine (gcscim serve's settings), run last
     * when the configuration loaded; they add their lines with gcs_doctor_add.
     * NULL: "serve" is reported skipped. */
    void (*more_checks)(gcs_doctor_report *out, const gcs_config *config, void *ctx);
    void *more_checks_ctx;
} gcs_doctor_options;

/* Clock skew thresholds in seconds (|server - ours|). */
#define GCS_DOCTOR_SKEW_WARN_S 60
#define GCS_DOCTOR_SKEW_FAIL_S 300

void gcs_doctor_options_init(gcs_doctor_options *o);

/*
 * Runs every check. *out is initialised here and holds the checks (release
 * it). Returns 0 whatever the checks found; a check whose line could not be
 * allocated is left out. A negative code is reserved for failures that leave
 * no report at all.
 */
int gcs_doctor_run(gcs_doctor_report *out, const gcs_doctor_options *o);
void gcs_doctor_report_release(gcs_doctor_report *r);
/* Adds one line to a report (advice may be NULL). The line, or NULL when out
 * of memory (the line is lost; the report goes on). */
gcs_doctor_check *gcs_doctor_add(gcs_doctor_report *r, const char *name,
                                 gcs_doctor_status status, const char *detail, const char *advice);

/* True when any check failed (warnings do not count). */
bool gcs_doctor_failed(const gcs_doctor_report *r);
/* "ok", "warn", "fail", "skipped". */
const char *gcs_doctor_status_name(gcs_doctor_status s);
/* The whole report as one JSON document (new reference):
 * {"ok":bool,"summary":{"ok":N,"warn":N,"fail":N,"skipped":N},
 *  "checks":[{"name","status","detail","advice"?,"data"?}]}. */
json_t *gcs_doctor_report_json(const gcs_doctor_report *r);

/* ==== Pure parts, tested without I/O ==== */

/* The status of a clock skew of `skew_s` seconds (either sign). */
gcs_doctor_status gcs_doctor_clock_status(int64_t skew_s);

/* "roles: role 'Wizard' does not exist" -> "roles: role '…' does not exist":
 * the values in quotes are replaced so that rows rejected for one reason
 * count together. Caller frees. */
char *gcs_doctor_reason(const char *message);

/* What a full sync costs in requests: reading every user (active, then
 * inactive) at `page` users a request, `org_reads` for the organisation's
 * names, and at worst one write per row. */
typedef struct gcs_doctor_cost {
    long reads;
    long writes_worst;
    double minutes;      /* (reads + writes_worst) at `per_minute`; -1 when unknown */
} gcs_doctor_cost;

void gcs_doctor_sync_cost(gcs_doctor_cost *out, long active_users, long inactive_users, int page,
                          long org_reads, long rows, double per_minute);

#endif
