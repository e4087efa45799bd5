#include "core/time.h"
#include "core/error.h"

#include <string.h>

#include <errno.h>
#include <stdio.h>
#include <time.h>

int64_t gcs_time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t gcs_time_mono_ms(void)
{
    return gcs_time_mono_us() / 1000;
}

int64_t gcs_time_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gcs_time_format_iso8601(char *out, size_t outsz, int64_t wall_ms)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

void gcs_time_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* ==== Parsing ==== */

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int gcs_time_parse_iso8601(int64_t *out, const char *text)
{
    const char *p = text;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
    *out = 0;
    if (!text || strlen(text) > 40 || digits(&p, 4, &y) < 0 || *p++ != '-' ||
        digits(&p, 2, &mo) < 0 || *p++ != '-' || digits(&p, 2, &d) < 0)
        goto bad;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
            goto bad;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec) < 0)
                goto bad;
            if (*p == '.') {
                p++;
                int n = 0, frac = 0;
                while (*p >= '0' && *p <= '9' && n < 9) {
                    if (n < 3)
                        frac = frac * 10 + (*p - '0');
                    p++;
                    n++;
                }
                if (n == 0)
                    goto bad;
                for (int i = n; i < 3; i++)
                    frac *= 10;
                ms = frac;
            }
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om;
            if (digits(&p, 2, &oh) < 0 || *p++ != ':' || digits(&p, 2, &om) < 0 || oh > 23 ||
                om > 59)
                goto bad;
            off = sign * (oh * 60 + om);
        }
    }
    if (*p || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 60)
        goto bad;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    /* timegm normalises 31 February into March: refuse what it had to fix. */
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
        goto bad;
    *out = ((int64_t)t - (int64_t)off * 60) * 1000 + ms;
    return 0;
bad:
    return gcs_error_set(GCS_EUSAGE,
                         "'%.64s' is not a time: give 2026-11-22, 2026-11-22T06:30:00Z or "
                         "2026-11-22T08:30:00+02:00",
                         text ? text : "");
}
