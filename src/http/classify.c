#include "http/classify.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

static const char *const outcome_names[GCS_HTTP_OUTCOME_COUNT] = {
    [GCS_HTTP_OK] = "ok",
    [GCS_HTTP_NOT_MODIFIED] = "not modified",
    [GCS_HTTP_VERSION_CONFLICT] = "version conflict",
    [GCS_HTTP_UNIQUENESS_CONFLICT] = "uniqueness conflict",
    [GCS_HTTP_NOT_FOUND] = "not found",
    [GCS_HTTP_INVALID] = "invalid request",
    [GCS_HTTP_UNAUTHORISED] = "unauthorised",
    [GCS_HTTP_FORBIDDEN] = "forbidden",
    [GCS_HTTP_RATE_LIMITED] = "rate limited",
    [GCS_HTTP_DAILY_LIMIT] = "daily limit reached",
    [GCS_HTTP_SERVER_ERROR] = "server error",
    [GCS_HTTP_TRANSPORT_ERROR] = "transport error",
    [GCS_HTTP_OUTCOME_UNKNOWN] = "outcome unknown",
    [GCS_HTTP_BREAKER_OPEN] = "circuit breaker open",
    [GCS_HTTP_CANCELLED] = "cancelled",
};

const char *gcs_http_outcome_name(gcs_http_outcome o)
{
    if ((unsigned)o >= GCS_HTTP_OUTCOME_COUNT)
        return "unknown outcome";
    return outcome_names[o];
}

int gcs_http_outcome_error(gcs_http_outcome o)
{
    switch (o) {
    case GCS_HTTP_OK:
    case GCS_HTTP_NOT_MODIFIED:
        return 0;
    case GCS_HTTP_VERSION_CONFLICT:
        return GCS_ECONFLICT;
    case GCS_HTTP_UNIQUENESS_CONFLICT:
        return GCS_EEXISTS;
    case GCS_HTTP_NOT_FOUND:
        return GCS_ENOTFOUND;
    case GCS_HTTP_INVALID:
        return GCS_EINVALID;
    case GCS_HTTP_UNAUTHORISED:
        return GCS_EAUTH;
    case GCS_HTTP_FORBIDDEN:
        return GCS_EFORBIDDEN;
    case GCS_HTTP_RATE_LIMITED:
        return GCS_ERATELIMIT;
    case GCS_HTTP_DAILY_LIMIT:
        return GCS_EDAILYLIMIT;
    case GCS_HTTP_SERVER_ERROR:
        return GCS_ESERVER;
    case GCS_HTTP_TRANSPORT_ERROR:
        return GCS_ETRANSPORT;
    case GCS_HTTP_OUTCOME_UNKNOWN:
        return GCS_EUNKNOWN;
    case GCS_HTTP_BREAKER_OPEN:
        return GCS_EBREAKER;
    case GCS_HTTP_CANCELLED:
        return GCS_ECANCELLED;
    case GCS_HTTP_OUTCOME_COUNT:
        break;
    }
    return GCS_ERROR;
}

static bool contains_ci(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

gcs_http_outcome gcs_http_classify_status(int status, const char *method, const char *scim_type,
                                          const char *detail)
{
    bool invalid_vers = scim_type && strcasecmp(scim_type, "invalidVers") == 0;
    if (status >= 200 && status < 300)
        return GCS_HTTP_OK;
    if (status == 304)
        return GCS_HTTP_NOT_MODIFIED;
    if (status == 412 || (status == 400 && invalid_vers))
        return GCS_HTTP_VERSION_CONFLICT;
    if (status == 409) {
        if (scim_type && strcasecmp(scim_type, "uniqueness") == 0)
            return GCS_HTTP_UNIQUENESS_CONFLICT;
        if (invalid_vers || contains_ci(detail, "version"))
            return GCS_HTTP_VERSION_CONFLICT;
        /* A bare 409: a create collides with what exists, a write on an
         * existing resource with a newer version of it. */
        if (method && strcasecmp(method, "POST") == 0)
            return GCS_HTTP_UNIQUENESS_CONFLICT;
        return GCS_HTTP_VERSION_CONFLICT;
    }
    if (status == 401)
        return GCS_HTTP_UNAUTHORISED;
    if (status == 403)
        return GCS_HTTP_FORBIDDEN;
    if (status == 404)
        return GCS_HTTP_NOT_FOUND;
    if (status == 429)
        return GCS_HTTP_RATE_LIMITED;
    if (status >= 500)
        return GCS_HTTP_SERVER_ERROR;
    return GCS_HTTP_INVALID;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

const char *gcs_http_missing_scope(const char *method, const char *path)
{
    if (!path)
        return NULL;
    bool read = method && (strcasecmp(method, "GET") == 0 || strcasecmp(method, "HEAD") == 0);
    if (has_prefix(path, "/api/v2/scim/"))
        return read ? "scim:readonly" : "scim";
    if (has_prefix(path, "/api/v2/groups"))
        return read ? "groups:readonly" : "groups";
    if (has_prefix(path, "/api/v2/authorization/"))
        return read ? "authorization:readonly" : "authorization";
    if (has_prefix(path, "/api/v2/routing/"))
        return read ? "routing:readonly" : "routing";
    if (has_prefix(path, "/api/v2/users"))
        return read ? "users:readonly" : "users";
    return NULL;
}

static bool looks_like_id(const char *s, size_t n)
{
    if (n < 8)
        return false;
    bool digit = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isdigit(c))
            digit = true;
        else if (!isalpha(c) && c != '-' && c != '_')
            return false;
    }
    return digit;
}

void gcs_http_route_template(char *out, size_t outsz, const char *path)
{
    if (outsz == 0)
        return;
    size_t o = 0;
    const char *p = path ? path : "";
    size_t end = strcspn(p, "?#");
    size_t i = 0;
    out[0] = '\0';
    while (i < end) {
        if (p[i] == '/') {
            if (o + 1 < outsz)
                out[o++] = '/';
            i++;
            continue;
        }
        size_t n = strcspn(p + i, "/?#");
        if (i + n > end)
            n = end - i;
        const char *seg = looks_like_id(p + i, n) ? "{id}" : NULL;
        size_t m = seg ? 4 : n;
        const char *src = seg ? seg : p + i;
        for (size_t k = 0; k < m && o + 1 < outsz; k++)
            out[o++] = src[k];
        i += n;
    }
    out[o] = '\0';
}
