/*
 * emulator.h - a local Genesys Cloud: OAuth client credentials, SCIM users and
 * groups, Platform API groups, roles, divisions, skills and languages, with the
 * real service's rate limit headers, errors and injectable faults
 * (docs/emulator.md; the contract is docs/genesys-api.md).
 *
 * The emulator is library code: gcs_emu_handle is an HTTP handler for
 * src/http/server.h, so it runs behind a socket (gcscim-emulator) or is called
 * directly with a request struct (the fuzz harness). All state sits behind one
 * mutex; the handler may be called from any number of threads.
 */
#ifndef GCS_EMULATOR_EMULATOR_H
#define GCS_EMULATOR_EMULATOR_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "http/server.h"

#define GCS_EMU_MAX_CLIENTS 16
#define GCS_EMU_DEFAULT_CLIENT_ID "gcscim-emulator"
#define GCS_EMU_DEFAULT_CLIENT_SECRET "gcscim-emulator-secret"

/* What can change while it runs (POST /_emulator/config). */
typedef struct gcs_emu_config {
    int64_t token_ttl_s;          /* default 86400 */
    int rate_limit;               /* requests per window and token; 0 = off (default 300) */
    int rate_window_s;            /* default 60 */
    /* The limit holds for the sum of an OAuth client's tokens, in one window of
     * the client's; each answer's count stays its token's own (Genesys counts
     * per token, but forbids tokens that multiply the limit: this holds several
     * hosts of one client to one limit, and tests that they keep to it). */
    bool rate_per_client;
    int version_conflict_status;  /* 400 (default), 409 or 412 */
    double fault_rate;            /* 0..1: share of API requests that fault */
    unsigned fault_kinds;         /* bit set of GCS_EMU_FAULT_*; 0 = all */
    int latency_ms;
    int latency_jitter_ms;
    double concurrent_writer;     /* 0..1: share of users read (singly or in list pages) then changed behind the reader */
    bool no_retry_after;          /* 429s say too.many.requests, without Retry-After */
    int64_t clock_skew_s;         /* the Date header is this far from the real clock */
    int max_page;                 /* users a SCIM list page serves at most, 1..500; 0 = 500 */
} gcs_emu_config;

enum {
    GCS_EMU_FAULT_500 = 1 << 0,
    GCS_EMU_FAULT_502 = 1 << 1,
    GCS_EMU_FAULT_503 = 1 << 2,
    GCS_EMU_FAULT_504 = 1 << 3,
    GCS_EMU_FAULT_DROP = 1 << 4,
    GCS_EMU_FAULT_ALL = 0x1f,
};

typedef struct gcs_emu_options {
    gcs_emu_config config;
    struct {
        const char *id;
        const char *secret;
        const char *scopes;       /* "scim:readonly,groups" or NULL = every scope */
    } clients[GCS_EMU_MAX_CLIENTS];
    int nclients;                 /* 0 = the default client above */
    uint64_t seed;                /* PRNG seed for faults, ids, the hidden writer */
    bool seeded;                  /* false = seed from /dev/urandom */
    const char *base_url;         /* "http://127.0.0.1:PORT", used in meta.location */
    size_t synthetic_users;       /* made after the seed's users, on start and on reset */
    unsigned synthetic_inactive_every; /* every Nth synthetic user is inactive; 0 = none (default 10) */
    const char *synthetic_marker; /* when set, synthetic users are managed by this authority: the
                                     externalIds entry {authority, value: their userName}, as a
                                     profile matching by userName marks them */
    bool generated_fields;        /* every user gets the read-only `other` email (= userName) and
                                     the immutable x-pc:scimv2:v1 externalIds entry */
} gcs_emu_options;

typedef struct gcs_emu gcs_emu;

/* Default options: 300/60 rate limit, 400 conflicts, no faults, a day's tokens. */
void gcs_emu_options_init(gcs_emu_options *opts);

/* `seed` (borrowed, may be NULL) is the initial organisation; reset returns to it. */
int gcs_emu_new(gcs_emu **out, const gcs_emu_options *opts, const json_t *seed);
/* After the server that serves it is stopped: a state dump being sent (a
 * streamed answer, released by the server) refers to the emulator. */
void gcs_emu_free(gcs_emu *emu);

/* Reads and checks a seed file: {"roles":[…],"divisions":[…],…,"users":[…]}.
 * A regular file of at most GCS_EMU_SEED_MAX_BYTES, else GCS_EINVALID. */
#define GCS_EMU_SEED_MAX_BYTES (256L * 1024 * 1024)
int gcs_emu_seed_load(json_t **out, const char *path);

/* Sets the base URL after the port is known (meta.location, nextUri). */
void gcs_emu_set_base_url(gcs_emu *emu, const char *base_url);

/* The HTTP handler: payload is the gcs_emu. */
void gcs_emu_handle(gcs_http_response *out, const gcs_http_request *req, void *payload);

/* "N/SECONDS" (or "0" = off) into a rate limit; "MS[:JITTER_MS]" into a latency. */
int gcs_emu_parse_rate(const char *text, int *out_n, int *out_seconds);
int gcs_emu_parse_latency(const char *text, int *out_ms, int *out_jitter_ms);
/* Applies the members of `changes` (fault_rate, rate_limit, latency_ms,
 * version_conflict_status, concurrent_writer, token_ttl, fault_kinds) to the
 * running emulator. All or nothing; GCS_EINVALID with a message. */
/* ["500","502","503","504","drop"] (strings or numbers) into GCS_EMU_FAULT_* bits. */
int gcs_emu_fault_kinds_parse(unsigned *out, const json_t *list);
int gcs_emu_configure(gcs_emu *emu, const json_t *changes);

/* Everything (organisation, users, groups) as JSON; new reference. */
json_t *gcs_emu_state(gcs_emu *emu);

#endif
