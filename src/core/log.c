#include "core/log.h"
#include "core/buf.h"
#include "core/redact.h"
#include "core/time.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

gcs_log_level gcs_log_current_level = GCS_LOG_INFO;

static gcs_log_format current_format = GCS_LOG_TEXT;
static FILE *current_stream;
static gcs_log_sink_fn current_sink;
static void *current_payload;
static pthread_mutex_t output_lock = PTHREAD_MUTEX_INITIALIZER;

#define LINE_MAX_BYTES (64 * 1024)

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void gcs_log_set_level(gcs_log_level level)
{
    gcs_log_current_level = level;
}

gcs_log_level gcs_log_get_level(void)
{
    return gcs_log_current_level;
}

void gcs_log_set_format(gcs_log_format format)
{
    current_format = format;
}

void gcs_log_set_stream(FILE *stream)
{
    pthread_mutex_lock(&output_lock);
    current_stream = stream;
    pthread_mutex_unlock(&output_lock);
}

void gcs_log_set_sink(gcs_log_sink_fn sink, void *payload)
{
    pthread_mutex_lock(&output_lock);
    current_sink = sink;
    current_payload = payload;
    pthread_mutex_unlock(&output_lock);
}

const char *gcs_log_level_name(gcs_log_level level)
{
    return (unsigned)level <= GCS_LOG_OFF ? level_names[level] : "?";
}

int gcs_log_level_parse(const char *name, gcs_log_level *out)
{
    for (int i = 0; i <= GCS_LOG_OFF; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (gcs_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = GCS_LOG_WARN;
        return 0;
    }
    return -1;
}

int gcs_log_format_parse(const char *name, gcs_log_format *out)
{
    if (strcasecmp(name, "text") == 0)
        *out = GCS_LOG_TEXT;
    else if (strcasecmp(name, "json") == 0)
        *out = GCS_LOG_JSON;
    else
        return -1;
    return 0;
}

static void emit(gcs_log_level level, gcs_buf *raw)
{
    /* The last line of defence: the whole line passes the text rules again, so
     * that a secret hidden inside a value that is itself JSON is still caught. */
    gcs_buf line;
    gcs_buf_init(&line, LINE_MAX_BYTES * 2);
    if (gcs_redact_append(&line, raw->ptr) < 0) {
        gcs_buf_clear(&line);
        gcs_buf_puts(&line, "(log line dropped: could not be redacted)");
    }
    pthread_mutex_lock(&output_lock);
    if (current_sink) {
        current_sink(level, line.ptr, current_payload);
    } else {
        FILE *f = current_stream ? current_stream : stderr;
        fputs(line.ptr, f);
        fputc('\n', f);
        fflush(f);
    }
    pthread_mutex_unlock(&output_lock);
    gcs_buf_release_secure(&line);
}

static void put_text_value(gcs_buf *b, const char *value)
{
    if (!value) {
        gcs_buf_puts(b, "null");
        return;
    }
    bool plain = *value != '\0';
    for (const char *p = value; *p; p++) {
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20) {
            plain = false;
            break;
        }
    }
    if (plain) {
        gcs_buf_puts(b, value);
    } else {
        gcs_buf_putc(b, '"');
        gcs_buf_put_json_escaped(b, value);
        gcs_buf_putc(b, '"');
    }
}

static void begin_line(gcs_buf *b, gcs_log_level level, const char *event)
{
    char ts[40];
    gcs_time_format_iso8601(ts, sizeof ts, gcs_time_wall_ms());
    if (current_format == GCS_LOG_JSON) {
        gcs_buf_printf(b, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"", ts,
                       gcs_log_level_name(level));
        gcs_buf_put_json_escaped(b, event);
        gcs_buf_putc(b, '"');
    } else {
        gcs_buf_printf(b, "%s %-5s %s", ts, gcs_log_level_name(level), event);
    }
}

/* Appends one field; `json_value` is the value already encoded as JSON and
 * `text_value` the same for the text format (NULL for null). */
static void add_field(gcs_buf *b, const char *key, const char *json_value, const char *text_value)
{
    bool secret = gcs_redact_is_sensitive_key(key);
    if (current_format == GCS_LOG_JSON) {
        gcs_buf_puts(b, ",\"");
        gcs_buf_put_json_escaped(b, key);
        gcs_buf_puts(b, "\":");
        gcs_buf_puts(b, secret ? "\"" GCS_REDACTED "\"" : json_value);
    } else {
        gcs_buf_putc(b, ' ');
        gcs_buf_puts(b, key);
        gcs_buf_putc(b, '=');
        put_text_value(b, secret ? GCS_REDACTED : text_value);
    }
}

static void end_line(gcs_buf *b)
{
    if (current_format == GCS_LOG_JSON)
        gcs_buf_putc(b, '}');
}

void gcs_log_kv(gcs_log_level level, const char *event, ...)
{
    if (!gcs_log_enabled(level))
        return;
    gcs_buf b, value, safe;
    gcs_buf_init(&b, LINE_MAX_BYTES);
    gcs_buf_init(&value, LINE_MAX_BYTES);
    gcs_buf_init(&safe, LINE_MAX_BYTES);
    begin_line(&b, level, event);
    va_list ap;
    va_start(ap, event);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        /* Each value is redacted before it is escaped, so that JSON inside a
         * value ("body") is seen with its own quotes, not escaped ones. */
        gcs_buf_clear(&safe);
        gcs_buf_clear(&value);
        if (v) {
            gcs_redact_append(&safe, v);
            gcs_buf_putc(&value, '"');
            gcs_buf_put_json_escaped(&value, safe.ptr);
            gcs_buf_putc(&value, '"');
        } else {
            gcs_buf_puts(&value, "null");
        }
        add_field(&b, key, value.ptr, v ? safe.ptr : NULL);
    }
    va_end(ap);
    end_line(&b);
    emit(level, &b);
    gcs_buf_release_secure(&b);
    gcs_buf_release_secure(&value);
    gcs_buf_release_secure(&safe);
}

void gcs_log_json(gcs_log_level level, const char *event, const json_t *fields)
{
    if (!gcs_log_enabled(level))
        return;
    gcs_buf b;
    gcs_buf_init(&b, LINE_MAX_BYTES);
    begin_line(&b, level, event);
    if (fields && json_is_object(fields)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)fields, key, v) {
            json_t *safe = gcs_redact_json(v);
            char *encoded = json_dumps(safe, JSON_ENCODE_ANY | JSON_COMPACT);
            const char *text = json_is_string(safe) ? json_string_value(safe)
                               : json_is_null(safe)  ? NULL
                                                     : encoded;
            add_field(&b, key, encoded ? encoded : "null", text);
            free(encoded);
            json_decref(safe);
        }
    }
    end_line(&b);
    emit(level, &b);
    gcs_buf_release_secure(&b);
}
