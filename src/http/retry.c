#include "http/retry.h"

gcs_retry_verdict gcs_retry_decide(int status, gcs_transport_fail fail, bool idempotent,
                                   int retry_after_s, gcs_http_outcome classified)
{
    gcs_retry_verdict v = {GCS_RETRY_NONE, classified};
    if (status == 0) {
        switch (fail) {
        case GCS_TRANSPORT_CONNECT:
            v.outcome = GCS_HTTP_TRANSPORT_ERROR;
            v.retry = GCS_RETRY_CONNECT;
            break;
        case GCS_TRANSPORT_DROPPED:
        case GCS_TRANSPORT_TIMEOUT:
            if (idempotent) {
                v.outcome = GCS_HTTP_TRANSPORT_ERROR;
                v.retry = fail == GCS_TRANSPORT_DROPPED ? GCS_RETRY_DROPPED : GCS_RETRY_TIMEOUT;
            } else {
                v.outcome = GCS_HTTP_OUTCOME_UNKNOWN;
            }
            break;
        case GCS_TRANSPORT_OK:
        case GCS_TRANSPORT_TOO_LARGE:
        case GCS_TRANSPORT_OTHER:
            v.outcome = GCS_HTTP_TRANSPORT_ERROR;
            break;
        }
        return v;
    }
    switch (status) {
    case 429:
        if (retry_after_s > GCS_HTTP_DAILY_LIMIT_S) {
            v.outcome = GCS_HTTP_DAILY_LIMIT;
        } else {
            v.outcome = GCS_HTTP_RATE_LIMITED;
            v.retry = GCS_RETRY_RATE_LIMIT;
        }
        break;
    case 503:
        v.outcome = GCS_HTTP_SERVER_ERROR;
        v.retry = GCS_RETRY_SERVER;
        break;
    case 502:
    case 504:
        if (idempotent) {
            v.outcome = GCS_HTTP_SERVER_ERROR;
            v.retry = GCS_RETRY_SERVER;
        } else {
            v.outcome = GCS_HTTP_OUTCOME_UNKNOWN;
        }
        break;
    case 500:
        v.outcome = GCS_HTTP_SERVER_ERROR;
        if (idempotent)
            v.retry = GCS_RETRY_SERVER;
        break;
    default:
        break;
    }
    return v;
}

int64_t gcs_retry_backoff_us(int attempt, int64_t base_us, int64_t cap_us, uint64_t rnd)
{
    if (attempt < 1)
        attempt = 1;
    if (base_us <= 0)
        return 0;
    int64_t ceiling = base_us;
    for (int i = 1; i < attempt && ceiling < cap_us; i++)
        ceiling *= 2;
    if (cap_us > 0 && ceiling > cap_us)
        ceiling = cap_us;
    return (int64_t)(rnd % (uint64_t)(ceiling + 1));
}

const char *gcs_retry_reason_name(gcs_retry_reason r)
{
    switch (r) {
    case GCS_RETRY_NONE:
        return "none";
    case GCS_RETRY_RATE_LIMIT:
        return "rate_limit";
    case GCS_RETRY_SERVER:
        return "server_error";
    case GCS_RETRY_CONNECT:
        return "connect";
    case GCS_RETRY_DROPPED:
        return "dropped";
    case GCS_RETRY_TIMEOUT:
        return "timeout";
    case GCS_RETRY_AUTH:
        return "auth";
    case GCS_RETRY_REASON_COUNT:
        break;
    }
    return "unknown";
}
