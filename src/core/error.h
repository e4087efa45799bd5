/*
 * error.h - error codes and the last error message of the calling thread.
 *
 * A function that can fail returns int: 0 on success or one negative gcs_error
 * code. The codes are stable: only failures a caller acts on get their own code;
 * everything else is GCS_ERROR with a message. The message is one lowercase line
 * naming the thing and what is wrong with it, e.g.
 *   cannot read config file 'gcscim.json': line 4: unknown key 'regoin'
 * It is kept per thread (libgit2's git_error_last), passed through the secret
 * redaction layer when set, and never overwritten by a vaguer one: callers that
 * add context use gcs_error_prefix().
 */
#ifndef GCS_CORE_ERROR_H
#define GCS_CORE_ERROR_H

typedef enum gcs_error {
    GCS_OK = 0,
    GCS_ERROR = -1,           /* generic failure; see the message */
    GCS_ENOMEM = -2,          /* out of memory */
    GCS_EINVALID = -3,        /* bad input: a file, a row, a field, a flag value */
    GCS_ENOTFOUND = -4,       /* the resource does not exist */
    GCS_ECONFLICT = -5,       /* version conflict: stale ETag (400 invalidVers, 409, 412) */
    GCS_EEXISTS = -6,         /* uniqueness conflict (409 uniqueness) */
    GCS_ERATELIMIT = -7,      /* rate limited beyond the retry budget */
    GCS_ETIMEOUT = -8,        /* a deadline passed */
    GCS_EAUTH = -9,           /* credentials rejected (401 / OAuth error) */
    GCS_EFORBIDDEN = -10,     /* 403: a scope or permission is missing */
    GCS_EUNKNOWN = -11,       /* outcome unknown: the request may or may not have happened */
    GCS_ESERVER = -12,        /* server error (5xx) after retries */
    GCS_ETRANSPORT = -13,     /* connection failed or dropped */
    GCS_EIO = -14,            /* local I/O: files, database */
    GCS_EUSAGE = -15,         /* wrong command line usage */
    GCS_EREFUSED = -16,       /* refused by a safety rule (needs explicit approval) */
    GCS_ECANCELLED = -17,     /* stopped on request (signal, shutdown) */
    GCS_EDAILYLIMIT = -18,    /* Retry-After over 180 s: a daily limit was reached */
    GCS_EBREAKER = -19,       /* circuit breaker open */
    GCS_EUNREACHABLE = -20,   /* total outage: the breaker gave up, or every call of a run failed */
} gcs_error;

/* A short, fixed name for a code ("not found", "version conflict"). Never NULL. */
const char *gcs_strerror(int code);

/* Sets the calling thread's message (printf-style) and returns code, so that
 * `return gcs_error_set(GCS_EINVALID, "...")` reads naturally. Secrets known to
 * the redaction layer are scrubbed from the message. */
int gcs_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to the current message, keeping its detail. Returns code. */
int gcs_error_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's last message, or the code's name when none was set.
 * Borrowed: valid until the next gcs_error_* call on this thread. */
const char *gcs_error_last(void);

/* The code that went with the last message (GCS_OK if none). */
int gcs_error_last_code(void);

void gcs_error_clear(void);

/*
 * Allocation checks (libgit2's GIT_ERROR_CHECK_ALLOC): when `ptr` is NULL, set
 * GCS_ENOMEM with the message "out of memory" and return it, or store it in `rc`
 * and jump to `label` (the function's one exit path) for the _GOTO form.
 */
#define GCS_CHECK_ALLOC(ptr)                                                                       \
    do {                                                                                           \
        if ((ptr) == NULL)                                                                         \
            return gcs_error_set(GCS_ENOMEM, "out of memory");                                     \
    } while (0)

#define GCS_CHECK_ALLOC_GOTO(ptr, rc, label)                                                       \
    do {                                                                                           \
        if ((ptr) == NULL) {                                                                       \
            (rc) = gcs_error_set(GCS_ENOMEM, "out of memory");                                     \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

#endif
