/*
 * log.h - structured logging that cannot print a secret.
 *
 * The library never prints: it emits events (a name and key/value fields)
 * through this module, and the program chooses the output: JSON lines for the
 * service, readable lines for a terminal, or its own sink (tests use one).
 * Every field (its key and value, and the event) passes through redact.h before
 * it is escaped: values of sensitive keys become "***", and registered secrets
 * are removed from any text; a text line passes the rules once more as a whole.
 * A line never passes 64 KiB and is always whole: a JSON line is one valid JSON
 * object in valid UTF-8 (bytes that are not UTF-8 become U+FFFD); a value that
 * does not fit is cut at a character boundary and ends with "…[truncated]"; a
 * field with no room left is left out and the line ends with "truncated":true
 * (truncated=true in text).
 * GCS_LOG tests the level before any formatting happens (redis serverLog).
 */
#ifndef GCS_CORE_LOG_H
#define GCS_CORE_LOG_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

typedef enum gcs_log_level {
    GCS_LOG_DEBUG = 0,
    GCS_LOG_INFO = 1,
    GCS_LOG_WARN = 2,
    GCS_LOG_ERROR = 3,
    GCS_LOG_OFF = 4,
} gcs_log_level;

typedef enum gcs_log_format {
    GCS_LOG_TEXT = 0, /* 2026-11-22T06:30:00.123Z warn http.retry status=503 attempt=2 */
    GCS_LOG_JSON = 1, /* {"ts":"…","level":"warn","event":"http.retry","status":503,…} */
} gcs_log_format;

/* A sink receives each finished, redacted line (without the newline). */
typedef void (*gcs_log_sink_fn)(gcs_log_level level, const char *line, void *payload);

void gcs_log_set_level(gcs_log_level level);
gcs_log_level gcs_log_get_level(void);
void gcs_log_set_format(gcs_log_format format);
/* Lines go to `stream` (default stderr). */
void gcs_log_set_stream(FILE *stream);
/* Replaces the stream with a callback; NULL restores the stream. */
void gcs_log_set_sink(gcs_log_sink_fn sink, void *payload);

int gcs_log_level_parse(const char *name, gcs_log_level *out);
const char *gcs_log_level_name(gcs_log_level level);
int gcs_log_format_parse(const char *name, gcs_log_format *out);

static inline bool gcs_log_enabled(gcs_log_level level)
{
    extern gcs_log_level gcs_log_current_level;
    return level >= gcs_log_current_level;
}

/* Emits an event with string fields given as key, value pairs ended by NULL.
 * A NULL value is printed as null. */
void gcs_log_kv(gcs_log_level level, const char *event, ...) __attribute__((sentinel));
/* Emits an event whose fields are the members of `fields` (borrowed; may be NULL). */
void gcs_log_json(gcs_log_level level, const char *event, const json_t *fields);

#define GCS_LOG(level, ...)                                                                        \
    do {                                                                                           \
        if (gcs_log_enabled(level))                                                                \
            gcs_log_kv(level, __VA_ARGS__, NULL);                                                  \
    } while (0)
#define GCS_DEBUG(...) GCS_LOG(GCS_LOG_DEBUG, __VA_ARGS__)
#define GCS_INFO(...) GCS_LOG(GCS_LOG_INFO, __VA_ARGS__)
#define GCS_WARN(...) GCS_LOG(GCS_LOG_WARN, __VA_ARGS__)
#define GCS_ERR(...) GCS_LOG(GCS_LOG_ERROR, __VA_ARGS__)

#endif
