#include "core/log.h"
#include "core/buf.h"
#include "core/redact.h"
#include "core/time.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <stdbool.h>
#include "core/error.h"

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
    /* Text lines: the last line of defence, the whole line passes the text rules
     * again. Masking grows a line by a few bytes at most: twice the room is
     * plenty. JSON lines are not passed again: every part of them (event, keys,
     * values) was redacted before it was escaped, and masking escaped text could
     * eat the backslash of a \" and break the line's JSON. */
    gcs_buf line;
    gcs_buf_init_secure(&line, LINE_MAX_BYTES * 2);
    if (current_format == GCS_LOG_JSON) {
        if (gcs_buf_put(&line, raw->ptr, raw->len) < 0)
            goto out;
    } else if (gcs_redact_append(&line, raw->ptr) < 0) {
        gcs_buf_clear(&line);
        if (gcs_buf_puts(&line, current_format == GCS_LOG_JSON
                                    ? "{\"event\":\"log.dropped\",\"reason\":\"could not be redacted\"}"
                                    : "(log line dropped: could not be redacted)") < 0)
            goto out;
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
out:
    gcs_buf_release(&line);
}

/* ==== Building a line within its bound ====
 *
 * A line never passes LINE_MAX_BYTES and is always whole (valid JSON in the
 * JSON format): a value that does not fit is cut at a character boundary and
 * ends with TRUNCATED_MARK; a field that cannot fit at all is left out, and the
 * line then ends with "truncated":true (truncated=true in text). Room for that
 * ending is kept at every step (LINE_RESERVE). */

#define LINE_RESERVE 64
#define TRUNCATED_MARK "\xe2\x80\xa6[truncated]"

typedef struct line {
    gcs_buf b;
    bool dropped; /* a field was left out */
} line;

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 when s does not start
 * one (a stray continuation byte, an overlong form, a surrogate, a sequence cut
 * short): a JSON line must be valid UTF-8. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 0)
        return 0;
    for (size_t k = 1; k < n; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0; /* also stops at the NUL */
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

/* Appends s escaped for a JSON string (quote=true) or as is, leaving `keep`
 * bytes of b's room free; what does not fit is cut before a whole character
 * and marked. Returns 0, or <0 when not even the mark fits. */
static int put_bounded(gcs_buf *b, const char *s, bool escape, size_t keep)
{
    size_t mark = sizeof TRUNCATED_MARK - 1;
    for (size_t i = 0; s[i];) {
        size_t n = utf8_seq((const unsigned char *)s + i);
        char esc[8];
        const char *piece = s + i;
        size_t len = n;
        unsigned char c = (unsigned char)s[i];
        if (n == 0) {
            /* Not UTF-8: one byte becomes U+FFFD, so that the line stays valid. */
            n = 1;
            piece = escape ? "\\ufffd" : "\xef\xbf\xbd";
            len = escape ? 6 : 3;
        } else if (escape && n == 1 && (c == '"' || c == '\\' || c < 0x20)) {
            len = c == '"' ? (size_t)snprintf(esc, sizeof esc, "\\\"")
                : c == '\\' ? (size_t)snprintf(esc, sizeof esc, "\\\\")
                : c == '\n' ? (size_t)snprintf(esc, sizeof esc, "\\n")
                : c == '\r' ? (size_t)snprintf(esc, sizeof esc, "\\r")
                : c == '\t' ? (size_t)snprintf(esc, sizeof esc, "\\t")
                            : (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
            piece = esc;
        }
        /* Room for this piece, and still for the mark should the next not fit. */
        if (b->len + len + mark + keep > b->max)
            return gcs_buf_puts(b, TRUNCATED_MARK);
        if (gcs_buf_put(b, piece, len) < 0)
            return gcs_buf_puts(b, TRUNCATED_MARK);
        i += n;
    }
    return 0;
}

static bool text_plain(const char *value)
{
    if (*value == '\0')
        return false;
    for (const char *p = value; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20)
            return false;
    return true;
}

static void begin_line(line *l, gcs_log_level level, const char *raw_event)
{
    char ts[40], event[256];
    gcs_redact_text(event, sizeof event, raw_event);
    gcs_time_format_iso8601(ts, sizeof ts, gcs_time_wall_ms());
    gcs_buf *b = &l->b;
    int rc;
    if (current_format == GCS_LOG_JSON) {
        rc = gcs_buf_printf(b, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"", ts,
                            gcs_log_level_name(level));
        if (rc == 0)
            rc = put_bounded(b, event, true, LINE_RESERVE + 1);
        if (rc == 0)
            rc = gcs_buf_putc(b, '"');
    } else {
        rc = gcs_buf_printf(b, "%s %-5s ", ts, gcs_log_level_name(level));
        if (rc == 0)
            rc = put_bounded(b, event, false, LINE_RESERVE);
    }
    if (rc < 0)
        l->dropped = true; /* cannot happen with a sane bound; end_line still closes it */
}

/* Appends one field whole or not at all. `text` is the redacted value as text
 * (NULL for null); `json` the value already encoded as JSON, when it is not a
 * string (objects, numbers from gcs_log_json), else NULL. */
static void add_field(line *l, const char *raw_key, const char *text, const char *json)
{
    char key[256];
    gcs_redact_text(key, sizeof key, raw_key);
    bool secret = gcs_redact_is_sensitive_key(raw_key);
    if (secret && text) {
        text = GCS_REDACTED;
        json = NULL;
    }
    gcs_buf *b = &l->b;
    size_t at = b->len;
    int rc;
    if (current_format == GCS_LOG_JSON) {
        rc = gcs_buf_puts(b, ",\"");
        if (rc == 0)
            rc = put_bounded(b, key, true, LINE_RESERVE + 8);
        if (rc == 0)
            rc = gcs_buf_puts(b, "\":");
        if (rc == 0 && !text) {
            rc = gcs_buf_puts(b, "null");
        } else if (rc == 0 && json) {
            /* Encoded JSON cannot be cut: too long, it becomes a marked string. */
            if (b->len + strlen(json) + LINE_RESERVE > b->max)
                rc = gcs_buf_puts(b, "\"" TRUNCATED_MARK "\"");
            else
                rc = gcs_buf_puts(b, json);
        } else if (rc == 0) {
            rc = gcs_buf_putc(b, '"');
            if (rc == 0)
                rc = put_bounded(b, text, true, LINE_RESERVE + 1);
            if (rc == 0)
                rc = gcs_buf_putc(b, '"');
        }
    } else {
        rc = gcs_buf_putc(b, ' ');
        if (rc == 0)
            rc = gcs_buf_puts(b, key);
        if (rc == 0)
            rc = gcs_buf_putc(b, '=');
        const char *v = json ? json : text;
        if (rc == 0 && !v) {
            rc = gcs_buf_puts(b, "null");
        } else if (rc == 0 && text_plain(v)) {
            rc = put_bounded(b, v, false, LINE_RESERVE);
        } else if (rc == 0) {
            rc = gcs_buf_putc(b, '"');
            if (rc == 0)
                rc = put_bounded(b, v, true, LINE_RESERVE + 1);
            if (rc == 0)
                rc = gcs_buf_putc(b, '"');
        }
    }
    /* A field must leave room for the line's ending. */
    if (rc == 0 && b->len + LINE_RESERVE > b->max)
        rc = GCS_EINVALID;
    if (rc < 0) {
        b->len = at;
        b->ptr[at] = '\0';
        l->dropped = true;
    }
}

static void end_line(line *l)
{
    /* LINE_RESERVE bytes are always free here: these appends cannot fail. */
    int rc = 0;
    if (current_format == GCS_LOG_JSON)
        rc = gcs_buf_puts(&l->b, l->dropped ? ",\"truncated\":true}" : "}");
    else if (l->dropped)
        rc = gcs_buf_puts(&l->b, " truncated=true");
    if (rc < 0)
        l->b.ptr[0] = '\0'; /* never reached; emit would print an empty line */
}

/* The redacted value of v for a log line: the whole value is redacted before it
 * is cut (a secret cut in two would not be recognised). A value too large even
 * for that is replaced by a note of its size. */
static const char *safe_value(gcs_buf *safe, const char *v, char *note, size_t notesz)
{
    gcs_buf_clear(safe);
    if (gcs_redact_append(safe, v) == 0)
        return safe->ptr;
    snprintf(note, notesz, "(a value of %zu bytes, too large to log)", strlen(v));
    return note;
}

void gcs_log_kv(gcs_log_level level, const char *event, ...)
{
    if (!gcs_log_enabled(level))
        return;
    line l = {.dropped = false};
    gcs_buf safe;
    gcs_buf_init_secure(&l.b, LINE_MAX_BYTES);
    gcs_buf_init_secure(&safe, LINE_MAX_BYTES * 16);
    begin_line(&l, level, event);
    va_list ap;
    va_start(ap, event);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        /* Each value is redacted before it is escaped, so that JSON inside a
         * value ("body") is seen with its own quotes, not escaped ones. */
        char note[80];
        add_field(&l, key, v ? safe_value(&safe, v, note, sizeof note) : NULL, NULL);
    }
    va_end(ap);
    end_line(&l);
    emit(level, &l.b);
    gcs_buf_release(&l.b);
    gcs_buf_release(&safe);
}

void gcs_log_json(gcs_log_level level, const char *event, const json_t *fields)
{
    if (!gcs_log_enabled(level))
        return;
    line l = {.dropped = false};
    gcs_buf_init_secure(&l.b, LINE_MAX_BYTES);
    begin_line(&l, level, event);
    if (fields && json_is_object(fields)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)fields, key, v) {
            json_t *safe = gcs_redact_json(v);
            if (json_is_string(safe) || json_is_null(safe) || !safe) {
                add_field(&l, key, safe ? json_string_value(safe) : NULL, NULL);
            } else {
                char *encoded = json_dumps(safe, JSON_ENCODE_ANY | JSON_COMPACT);
                if (encoded)
                    add_field(&l, key, encoded, encoded);
                else
                    l.dropped = true;
                free(encoded);
            }
            json_decref(safe);
        }
    }
    end_line(&l);
    emit(level, &l.b);
    gcs_buf_release(&l.b);
}
