#include "http/url.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

char *gcs_http_escape(const char *s)
{
    /* Copied so that callers free with free(), not curl_free(). */
    char *e = curl_easy_escape(NULL, s, 0);
    char *copy = e ? strdup(e) : NULL;
    curl_free(e);
    return copy;
}
