#include "httptest.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static size_t on_data(char *ptr, size_t size, size_t n, void *userdata)
{
    gcs_buf *b = userdata;
    return gcs_buf_put(b, ptr, size * n) == 0 ? size * n : 0;
}

void gcs_test_http_do(gcs_test_http *out, const char *method, const char *url,
                      const char *const *headers, const char *body, size_t body_len)
{
    memset(out, 0, sizeof *out);
    gcs_buf_init(&out->headers, 0);
    gcs_buf_init(&out->body, 0);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    /* Expect: 100-continue would add a round trip to every large body. */
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    out->curl_code = (int)curl_easy_perform(c);
    if (out->curl_code == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    out->json = json_loadb(out->body.ptr, out->body.len, 0, NULL);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
}

void gcs_test_http_release(gcs_test_http *r)
{
    gcs_buf_release(&r->headers);
    gcs_buf_release(&r->body);
    json_decref(r->json);
    r->json = NULL;
}

const char *gcs_test_http_header(const gcs_test_http *r, const char *name, char *out, size_t outsz)
{
    size_t n = strlen(name);
    const char *p = r->headers.ptr;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t vlen = len - (size_t)(v - p);
            snprintf(out, outsz, "%.*s", (int)vlen, v);
            return out;
        }
        p = eol ? eol + 2 : NULL;
    }
    return NULL;
}

char *gcs_test_emu_token(const gcs_test_server *s, const char *id, const char *secret)
{
    char url[256], user[256];
    snprintf(url, sizeof url, "%s/oauth/token", s->login_url);
    CURL *c = curl_easy_init();
    gcs_buf body;
    gcs_buf_init(&body, 0);
    snprintf(user, sizeof user, "%s:%s", id, secret);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USERPWD, user);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "grant_type=client_credentials");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    json_t *j = json_loads(body.ptr, 0, NULL);
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    if (!tok)
        fail_msg("no token from %s: %s", url, body.ptr);
    char *copy = strdup(tok);
    json_decref(j);
    gcs_buf_release(&body);
    return copy;
}

void gcs_test_emu_call(gcs_test_http *out, const gcs_test_server *s, const char *token,
                       const char *method, const char *path, const char *body, const char *extra)
{
    char url[2048], auth[512];
    snprintf(url, sizeof url, "%s%s", s->api_url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    const char *headers[4] = {auth, NULL, NULL, NULL};
    size_t n = 1;
    if (body)
        headers[n++] = "Content-Type: application/scim+json";
    if (extra)
        headers[n++] = extra;
    gcs_test_http_do(out, method, url, headers, body, body ? strlen(body) : 0);
}

json_t *gcs_test_emu_admin(const gcs_test_server *s, const char *method, const char *name,
                           const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_emulator/%s", s->api_url, name);
    gcs_test_http r;
    gcs_test_http_do(&r, method, url, NULL, body, body ? strlen(body) : 0);
    if (r.status != 200)
        fail_msg("admin %s %s: status %ld: %s", method, name, r.status, r.body.ptr);
    json_t *j = json_incref(r.json);
    gcs_test_http_release(&r);
    return j;
}
