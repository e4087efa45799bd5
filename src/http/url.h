/*
 * url.h - building request paths: percent-encoding for query values.
 *
 * The one place outside the request engine where libcurl's URL rules apply,
 * so that the modules above http never include <curl/curl.h>.
 */
#ifndef GCS_HTTP_URL_H
#define GCS_HTTP_URL_H

/* `s` percent-encoded for a URL's query or path (RFC 3986: every byte but
 * ALPHA / DIGIT / "-" / "." / "_" / "~" becomes %XX). Caller frees; NULL when
 * out of memory. */
char *gcs_http_escape(const char *s);

#endif
