#include "core/error.h"
#include "core/redact.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MESSAGE_MAX 1024

static _Thread_local char last_message[MESSAGE_MAX];
static _Thread_local int last_code;

const char *gcs_strerror(int code)
{
    switch (code) {
    case GCS_OK: return "ok";
    case GCS_ERROR: return "error";
    case GCS_ENOMEM: return "out of memory";
    case GCS_EINVALID: return "invalid input";
    case GCS_ENOTFOUND: return "not found";
    case GCS_ECONFLICT: return "version conflict";
    case GCS_EEXISTS: return "already exists";
    case GCS_ERATELIMIT: return "rate limited";
    case GCS_ETIMEOUT: return "timed out";
    case GCS_EAUTH: return "unauthorised";
    case GCS_EFORBIDDEN: return "forbidden";
    case GCS_EUNKNOWN: return "outcome unknown";
    case GCS_ESERVER: return "server error";
    case GCS_ETRANSPORT: return "transport error";
    case GCS_EIO: return "i/o error";
    case GCS_EUSAGE: return "usage error";
    case GCS_EREFUSED: return "refused";
    case GCS_ECANCELLED: return "cancelled";
    case GCS_EDAILYLIMIT: return "daily limit reached";
    case GCS_EBREAKER: return "circuit breaker open";
    case GCS_EUNREACHABLE: return "Genesys unreachable";
    default: return "unknown error";
    }
}

static void store_message(const char *text)
{
    gcs_redact_text(last_message, sizeof last_message, text);
}

int gcs_error_set(int code, const char *fmt, ...)
{
    char raw[MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    store_message(raw);
    last_code = code;
    return code;
}

int gcs_error_prefix(int code, const char *fmt, ...)
{
    char prefix[MESSAGE_MAX], raw[MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (last_message[0])
        snprintf(raw, sizeof raw, "%s: %s", prefix, last_message);
    else
        snprintf(raw, sizeof raw, "%s: %s", prefix, gcs_strerror(code));
    store_message(raw);
    last_code = code;
    return code;
}

const char *gcs_error_last(void)
{
    if (last_message[0])
        return last_message;
    return gcs_strerror(last_code);
}

int gcs_error_last_code(void)
{
    return last_code;
}

void gcs_error_clear(void)
{
    last_message[0] = '\0';
    last_code = GCS_OK;
}
