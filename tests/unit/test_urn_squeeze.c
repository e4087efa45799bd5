/*
 * gcs_urn_squeeze (engine/current_user.h) held to the byte-at-a-time rewrite
 * it replaced, over generated texts: prefixes whole, cut short, overlapping
 * ("urn:urn:ietf:..."), at the start, at the end, back to back, and none.
 */
#include "gcstest.h"

#include <stdlib.h>
#include <string.h>

#include "engine/current_user.h"

static unsigned seed = 1202;

static size_t squeeze_bytewise(char *text)
{
    const size_t n = sizeof GCS_URN_PREFIX - 1;
    char *w = text;
    for (const char *r = text; *r;) {
        if (*r == 'u' && strncmp(r, GCS_URN_PREFIX, n) == 0) {
            *w++ = GCS_URN_MARK;
            r += n;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - text);
}

static void squeeze_matches_the_bytewise_rewrite(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        GCS_URN_PREFIX, GCS_URN_PREFIX "enterprise:2.0:User", "urn:ietf:params:scim:schemas:",
        "urn:", "u", "urn:urn:ietf:params:scim:schemas:extension:", "{\"", "\":", "\"a\"",
        "Zoë", ",", "}", "urn:ietf:params:scim:schemas:extensio", "\\\"", "x",
    };
    long squeezed = 0;
    for (int c = 0; c < 20000; c++) {
        char a[2048], b[2048];
        size_t n = 0;
        for (int k = rand_r(&seed) % 12; k > 0; k--) {
            const char *p = pieces[rand_r(&seed) % (sizeof pieces / sizeof *pieces)];
            memcpy(a + n, p, strlen(p));
            n += strlen(p);
        }
        a[n] = '\0';
        memcpy(b, a, n + 1);
        size_t la = gcs_urn_squeeze(a), lb = squeeze_bytewise(b);
        assert_int_equal(la, lb);
        assert_int_equal(strlen(a), la);
        assert_string_equal(a, b);
        squeezed += la < n;
    }
    assert_true(squeezed > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(squeeze_matches_the_bytewise_rewrite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
