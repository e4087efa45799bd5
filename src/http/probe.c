#include "http/probe.h"
#include "core/error.h"
#include "core/time.h"
#include "core/version_gen.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void gcs_http_probe_init(gcs_http_probe *p, size_t body_max)
{
    memset(p, 0, sizeof *p);
    gcs_http_headers_reset(&p->h);
    p->date_s = -1;
    gcs_buf_init(&p->body, body_max);
}

void gcs_http_probe_release(gcs_http_probe *p)
{
    gcs_buf_release(&p->body);
}

static size_t probe_header(char *data, size_t size, size_t nmemb, void *userp)
{
    gcs_http_probe *p = userp;
    size_t n = size * nmemb;
    gcs_http_headers_parse_line(&p->h, data, n);
    if (n > 5 && strncmp(data, "HTTP/", 5) == 0) {
        p->date_s = -1;
    } else if (n > 5 && strncasecmp(data, "date:", 5) == 0) {
        char v[128];
        snprintf(v, sizeof v, "%.*s", (int)(n - 5 < sizeof v - 1 ? n - 5 : sizeof v - 1), data + 5);
        v[strcspn(v, "\r\n")] = '\0';
        time_t t = curl_getdate(v, NULL);
        p->date_s = t > 0 ? (int64_t)t : -1;
    }
    return n;
}

static size_t probe_body(char *data, size_t size, size_t nmemb, void *userp)
{
    gcs_http_probe *p = userp;
    size_t n = size * nmemb;
    return gcs_buf_put(&p->body, data, n) == 0 ? n : 0;
}

int gcs_http_probe_get(gcs_http_probe *p, const char *url, const char *const *header_lines,
                       const char *ca_bundle, long timeout_ms)
{
    int rc = 0;
    struct curl_slist *headers = NULL;
    CURL *e = NULL;
    p->status = 0;
    if (!(e = curl_easy_init())) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; header_lines && header_lines[i]; i++) {
        struct curl_slist *h = curl_slist_append(headers, header_lines[i]);
        if (!h) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
        headers = h;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "gcscim/" GCS_VERSION_STRING);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_bundle && *ca_bundle)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_bundle);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, probe_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, probe_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    p->sent_ms = gcs_time_wall_ms();
    CURLcode cc = curl_easy_perform(e);
    p->received_ms = gcs_time_wall_ms();
    if (cc != CURLE_OK) {
        rc = gcs_error_set(cc == CURLE_OPERATION_TIMEDOUT ? GCS_ETIMEOUT : GCS_ETRANSPORT, "%s",
                           errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    p->status = (int)status;
out:
    /* Header lines may hold a token. */
    for (struct curl_slist *h = headers; h; h = h->next)
        memset(h->data, 0, strlen(h->data));
    curl_slist_free_all(headers);
    if (e)
        curl_easy_cleanup(e);
    return rc;
}
