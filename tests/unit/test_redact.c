/* The redaction layer: no secret survives into a log line or an error message. */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/redact.h"

static char *redact(const char *in)
{
    gcs_buf b;
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_redact_append(&b, in), 0);
    return gcs_buf_detach(&b);
}

static int reset(void **state)
{
    (void)state;
    gcs_redact_reset();
    return 0;
}

static void registered_secret_is_removed_anywhere(void **state)
{
    (void)state;
    gcs_redact_register("Zx9-very-secret");
    char *s = redact("connecting with Zx9-very-secret and againZx9-very-secret!");
    assert_null(strstr(s, "Zx9-very-secret"));
    assert_string_equal(s, "connecting with *** and again***!");
    free(s);
}

static void short_values_are_not_registered(void **state)
{
    (void)state;
    gcs_redact_register("ab");
    char *s = redact("about abc");
    assert_string_equal(s, "about abc");
    free(s);
}

static void authorization_header_is_masked(void **state)
{
    (void)state;
    char *s = redact("Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9.abc");
    assert_null(strstr(s, "eyJ"));
    free(s);
    s = redact("authorization: Basic Y2xpZW50OnNlY3JldA==\nnext");
    assert_null(strstr(s, "Y2xpZW50"));
    assert_non_null(strstr(s, "next"));
    free(s);
    s = redact("sent bearer abc123def to the API");
    assert_string_equal(s, "sent bearer *** to the API");
    free(s);
}

static void json_and_form_values_are_masked(void **state)
{
    (void)state;
    char *s = redact("{\"userName\":\"a@b.c\",\"password\":\"hunter2!\",\"x\":1}");
    assert_string_equal(s, "{\"userName\":\"a@b.c\",\"password\":\"***\",\"x\":1}");
    free(s);
    s = redact("{\"access_token\" : \"t0k\\\"en\", \"expires_in\":86400}");
    assert_null(strstr(s, "t0k"));
    assert_non_null(strstr(s, "86400"));
    free(s);
    s = redact("grant_type=client_credentials&client_secret=abc%20def&x=1");
    assert_string_equal(s, "grant_type=client_credentials&client_secret=***&x=1");
    free(s);
    s = redact("password=hunter2 user=bob");
    assert_string_equal(s, "password=*** user=bob");
    free(s);
}

static void harmless_text_is_untouched(void **state)
{
    (void)state;
    const char *text = "token.refresh done: tokens_issued=3 secretary=ann basics=1";
    char *s = redact(text);
    assert_string_equal(s, text);
    free(s);
}

static void json_copy_masks_sensitive_keys(void **state)
{
    (void)state;
    gcs_redact_register("the-access-token-123");
    json_t *in = json_pack("{s:s,s:s,s:{s:s},s:[s]}", "userName", "ann@example.com", "password",
                           "P4ss!", "nested", "client_secret", "cs", "notes",
                           "token was the-access-token-123");
    json_t *out = gcs_redact_json(in);
    char *text = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(text);
    assert_null(strstr(text, "P4ss!"));
    assert_null(strstr(text, "\"cs\""));
    assert_null(strstr(text, "the-access-token-123"));
    assert_non_null(strstr(text, "ann@example.com"));
    free(text);
    json_decref(in);
    json_decref(out);
}

static void sensitive_keys(void **state)
{
    (void)state;
    assert_true(gcs_redact_is_sensitive_key("Authorization"));
    assert_true(gcs_redact_is_sensitive_key("client_secret"));
    assert_true(gcs_redact_is_sensitive_key("access_token"));
    assert_true(gcs_redact_is_sensitive_key("password"));
    assert_true(gcs_redact_is_sensitive_key("webhook_secret"));
    assert_false(gcs_redact_is_sensitive_key("userName"));
    assert_false(gcs_redact_is_sensitive_key("tokens_issued"));
}

static void error_messages_are_redacted(void **state)
{
    (void)state;
    gcs_redact_register("cs-0123456789");
    gcs_error_set(GCS_EAUTH, "login failed for secret cs-0123456789 with Bearer abcdef");
    assert_null(strstr(gcs_error_last(), "cs-0123456789"));
    assert_null(strstr(gcs_error_last(), "abcdef"));
    gcs_error_clear();
}

/* ==== The logger: every line through the layer ==== */

static gcs_buf captured;

static void capture(gcs_log_level level, const char *line, void *payload)
{
    (void)level;
    (void)payload;
    assert_int_equal(gcs_buf_puts(&captured, line), 0);
    assert_int_equal(gcs_buf_putc(&captured, '\n'), 0);
}

static void logs_never_show_secrets(void **state)
{
    (void)state;
    gcs_buf_init(&captured, 0);
    gcs_log_set_sink(capture, NULL);
    gcs_log_set_level(GCS_LOG_DEBUG);
    gcs_redact_register("client-secret-XYZ");
    gcs_redact_register("access-token-ABC");

    for (int format = GCS_LOG_TEXT; format <= GCS_LOG_JSON; format++) {
        gcs_log_set_format((gcs_log_format)format);
        GCS_INFO("http.request", "Authorization", "Bearer access-token-ABC", "path", "/api/v2/x");
        GCS_WARN("oauth.failed", "client_secret", "client-secret-XYZ", "why", "bad");
        GCS_ERR("http.body", "body", "{\"password\":\"P@ss\",\"userName\":\"u@x.y\"}");
        GCS_DEBUG("note", "msg", "header was authorization: Basic Y2lkOmNzZWNyZXQ=");
        GCS_INFO("free-text", "msg", "the secret is client-secret-XYZ, token access-token-ABC");
        json_t *fields = json_pack("{s:s,s:{s:s}}", "user", "u@x.y", "request", "access_token",
                                   "access-token-ABC");
        gcs_log_json(GCS_LOG_INFO, "structured", fields);
        json_decref(fields);
    }
    gcs_log_set_sink(NULL, NULL);

    assert_null(strstr(captured.ptr, "client-secret-XYZ"));
    assert_null(strstr(captured.ptr, "access-token-ABC"));
    assert_null(strstr(captured.ptr, "P@ss"));
    assert_null(strstr(captured.ptr, "Y2lkOmNzZWNyZXQ"));
    /* The rest of the information is still there. */
    assert_non_null(strstr(captured.ptr, "/api/v2/x"));
    assert_non_null(strstr(captured.ptr, "u@x.y"));
    assert_non_null(strstr(captured.ptr, "\"event\":\"oauth.failed\""));
    /* Every JSON line is valid JSON. */
    char *line = captured.ptr;
    int json_lines = 0;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        if (line[0] == '{') {
            json_error_t err;
            json_t *j = json_loads(line, 0, &err);
            assert_non_null(j);
            json_decref(j);
            json_lines++;
        }
        line = nl + 1;
    }
    assert_int_equal(json_lines, 6);
    gcs_buf_release(&captured);
}


/* ==== The text rules as a table: what is a credential and what is a word ==== */

static void table_of_masked_and_kept(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        /* Masked: real credentials. */
        {"Authorization: Bearer abc.def", "Authorization: ***"},
        {"Authorization: Basic Y2lkOmNz", "Authorization: ***"},
        {"authorization: SSWS 00abcdef", "authorization: ***"},
        {"  Proxy-Authorization: Negotiate xyz", "  Proxy-Authorization: ***"},
        {"x\nAuthorization: Token t0k3n\ny", "x\nAuthorization: ***\ny"},
        {"sent Bearer eyJ0 then", "sent Bearer *** then"},
        {"{\"password\":\"hunter2\"}", "{\"password\":\"***\"}"},
        {"{'client_secret': 'cs-1'}", "{'client_secret': '***'}"},
        {"{\\\"access_token\\\":\\\"tok\\\"}", "{\\\"access_token\\\":\\\"***\\\"}"},
        {"client_secret=abc&x=1", "client_secret=***&x=1"},
        {"?api_key=k-123 more", "?api_key=*** more"},
        {"webhook_secret = w1", "webhook_secret = ***"},
        /* Every key is ruled in or out by its last letter first: each letter
         * a key may end with, in either case. */
        {"{\"X-API-KEY\":\"k1\",\"Cookie\":\"c1\",\"DB_PASSWORD\":\"p1\"}",
         "{\"X-API-KEY\":\"***\",\"Cookie\":\"***\",\"DB_PASSWORD\":\"***\"}"},
        {"{\"session-token\":\"t1\",\"App_Secret\":\"s1\",\"private_key\":\"p2\"}",
         "{\"session-token\":\"***\",\"App_Secret\":\"***\",\"private_key\":\"***\"}"},
        {"{\"title\":\"Lead\",\"userName\":\"a@b.c\",\"tokens\":\"3\"}",
         "{\"title\":\"Lead\",\"userName\":\"a@b.c\",\"tokens\":\"3\"}"},
        /* Kept: words that only look like keys. */
        {"the OAuth client needs the 'authorization:readonly' scope",
         "the OAuth client needs the 'authorization:readonly' scope"},
        {"missing authorization:readonly, authorization", "missing authorization:readonly, authorization"},
        {"POST /oauth/token: transport error: cannot reach login.x:443",
         "POST /oauth/token: transport error: cannot reach login.x:443"},
        {"the login service gave no access token (transport error)",
         "the login service gave no access token (transport error)"},
        {"GET /api/v2/authorization/roles: 403", "GET /api/v2/authorization/roles: 403"},
        /* A line that starts like a header is taken for one. */
        {"token: refreshed ahead of expiry", "token: *** ahead of expiry"},
        {"a secret: nobody knows", "a secret: nobody knows"},
        {"basics=1 bearers=2 tokens_issued=3", "basics=1 bearers=2 tokens_issued=3"},
        {"scope scim:readonly and groups:readonly", "scope scim:readonly and groups:readonly"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *s = redact(cases[i].in);
        if (strcmp(s, cases[i].want) != 0)
            fail_msg("case %zu: '%s' gave '%s', want '%s'", i, cases[i].in, s, cases[i].want);
        free(s);
    }
}

/* A long run fetches a token again and again: the client secret and the Basic
 * credential stay registered all the same. */
static void long_lived_secrets_outlive_a_thousand_tokens(void **state)
{
    (void)state;
    gcs_redact_register("client-secret-0123456789");
    gcs_redact_register("Y2xpZW50OnNlY3JldA==");
    char tok[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(tok, sizeof tok, "access-token-%04d-abcdef", i);
        gcs_redact_register_token(tok);
    }
    char *s = redact("secret client-secret-0123456789 basic-cred Y2xpZW50OnNlY3JldA== "
                     "new access-token-0999-abcdef");
    assert_string_equal(s, "secret *** basic-cred *** new ***");
    free(s);
    /* Only the most recent tokens are kept: the first has gone (long expired). */
    s = redact("old access-token-0000-abcdef");
    assert_string_equal(s, "old access-token-0000-abcdef");
    free(s);
}

/* ==== Secrets written with JSON escapes ==== */

/* One level of JSON string escapes undone, by hand (not the redactor's
 * code): what a reader of the text sees once it decodes it. */
static char *unescape_once(const char *in)
{
    size_t n = strlen(in), m = 0;
    char *out = malloc(n + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n;) {
        unsigned long u = 0, low = 0;
        if (in[i] == '\\' && in[i + 1] && strchr("\"\\/bfnrt", in[i + 1])) {
            const char *e = strchr("\"\\/bfnrt", in[i + 1]);
            out[m++] = "\"\\/\b\f\n\r\t"[e - "\"\\/bfnrt"];
            i += 2;
        } else if (in[i] == '\\' && in[i + 1] == 'u' && sscanf(in + i + 2, "%4lx", &u) == 1 &&
                   strspn(in + i + 2, "0123456789abcdefABCDEF") >= 4) {
            size_t used = 6;
            if (u >= 0xD800 && u <= 0xDBFF && in[i + 6] == '\\' && in[i + 7] == 'u' &&
                strspn(in + i + 8, "0123456789abcdefABCDEF") >= 4 &&
                sscanf(in + i + 8, "%4lx", &low) == 1 && low >= 0xDC00 && low <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
                used = 12;
            } else if (u >= 0xD800 && u <= 0xDFFF) {
                out[m++] = in[i++];
                continue;
            }
            if (u < 0x80) {
                out[m++] = (char)u;
            } else if (u < 0x800) {
                out[m++] = (char)(0xC0 | (u >> 6));
                out[m++] = (char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                out[m++] = (char)(0xE0 | (u >> 12));
                out[m++] = (char)(0x80 | ((u >> 6) & 0x3F));
                out[m++] = (char)(0x80 | (u & 0x3F));
            } else {
                out[m++] = (char)(0xF0 | (u >> 18));
                out[m++] = (char)(0x80 | ((u >> 12) & 0x3F));
                out[m++] = (char)(0x80 | ((u >> 6) & 0x3F));
                out[m++] = (char)(0x80 | (u & 0x3F));
            }
            i += used;
        } else {
            out[m++] = in[i++];
        }
    }
    out[m] = '\0';
    return out;
}

/* Whether `secret` can be read in text, as it is or decoded up to three times. */
static bool readable_in(const char *text, const char *secret)
{
    char *cur = strdup(text);
    assert_non_null(cur);
    bool found = false;
    for (int level = 0; level <= 3 && !found; level++) {
        found = strstr(cur, secret) != NULL;
        char *next = unescape_once(cur);
        free(cur);
        cur = next;
    }
    free(cur);
    return found;
}

/* The secret written as jansson writes a string (quotes included): flags 0,
 * or with every non-ASCII character and '/' escaped. */
static char *as_json_string(const char *secret, size_t flags)
{
    json_t *v = json_string(secret);
    char *s = json_dumps(v, JSON_ENCODE_ANY | flags);
    json_decref(v);
    assert_non_null(s);
    return s;
}

/* Every byte of an ASCII-or-UTF-8 secret as \uXXXX (in capitals), a
 * character beyond U+FFFF as a surrogate pair. */
static char *all_escaped(const char *secret)
{
    gcs_buf b;
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_buf_putc(&b, '"'), 0);
    char *ascii = as_json_string(secret, JSON_ENSURE_ASCII);
    char *plain = unescape_once(ascii); /* "..." with the escapes undone: quotes around it */
    for (size_t i = 1; plain[i + 1];) {
        unsigned char c = (unsigned char)plain[i];
        unsigned long u;
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        u = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
        for (size_t k = 1; k < n; k++)
            u = (u << 6) | ((unsigned char)plain[i + k] & 0x3F);
        if (u >= 0x10000)
            assert_int_equal(gcs_buf_printf(&b, "\\u%04lX\\u%04lX", 0xD800 + ((u - 0x10000) >> 10),
                                            0xDC00 + ((u - 0x10000) & 0x3FF)),
                             0);
        else
            assert_int_equal(gcs_buf_printf(&b, "\\u%04lX", u), 0);
        i += n;
    }
    assert_int_equal(gcs_buf_putc(&b, '"'), 0);
    free(ascii);
    free(plain);
    return gcs_buf_detach(&b);
}

/* A body's JSON may write a registered secret with escapes (\/ \" \\ \u00e9,
 * a surrogate pair, every character as \uXXXX, JSON inside a JSON string):
 * however written, it is gone from what the text rules make of the body, from
 * a head of it, and from the structured copy; such a body is never "clean". */
static void a_secret_written_with_escapes_is_removed(void **state)
{
    (void)state;
    static const char secret[] = "pa/ss\"wo\\rd-\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80x";
    gcs_redact_register(secret);
    char *forms[6];
    forms[0] = as_json_string(secret, 0);
    forms[1] = as_json_string(secret, JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH);
    forms[2] = all_escaped(secret);
    /* JSON inside a JSON string, twice: each level escapes the one inside */
    for (int k = 3; k < 6; k++) {
        char inner[1024];
        snprintf(inner, sizeof inner, "{\"detail\":%s}", forms[k - 3]);
        forms[k] = as_json_string(inner, k == 4 ? JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH : 0);
    }
    char *twice = as_json_string(forms[4], 0); /* three levels deep */
    for (int k = 0; k < 7; k++) {
        const char *form = k < 6 ? forms[k] : twice;
        char body[4096];
        snprintf(body, sizeof body,
                 "{\"error\":\"invalid_client\",\"detail\":%s,\"echo\":[%s,%s],\"x\":1}", form,
                 form, form);
        assert_true(readable_in(body, secret)); /* the test's own decoder reads it */
        assert_false(gcs_redact_json_text_is_clean(body, strlen(body)));
        char *out = redact(body);
        if (readable_in(out, secret))
            fail_msg("form %d: '%s' redacted to '%s'", k, body, out);
        assert_non_null(strstr(out, "invalid_client")); /* the rest is kept */
        assert_non_null(strstr(out, ",\"x\":1}"));
        /* every head is the head of the whole, and shows none of it */
        size_t whole_len = strlen(out);
        for (size_t keep = 0; keep <= whole_len + 1; keep++) {
            gcs_buf head;
            gcs_buf_init(&head, 0);
            bool cut = false;
            assert_int_equal(
                gcs_redact_append_head(&head, body, strlen(body), keep, &cut, NULL), 0);
            size_t want = whole_len > keep ? keep : whole_len;
            assert_int_equal(head.len, want);
            assert_memory_equal(head.ptr, out, want);
            gcs_buf_release(&head);
        }
        /* the structured copy: jansson undoes one level, the text rules the rest */
        json_t *parsed = json_loads(body, 0, NULL);
        assert_non_null(parsed);
        json_t *clean = gcs_redact_json(parsed);
        char *dumped = json_dumps(clean, JSON_COMPACT);
        assert_non_null(dumped);
        assert_false(readable_in(dumped, secret));
        free(dumped);
        json_decref(clean);
        json_decref(parsed);
        free(out);
    }
    /* The escapes that spell it go whole, nothing around them. */
    char *out = redact("{\"detail\":\"pa\\/ss\\\"wo\\\\rd-\\u00e9\\u20ac\\ud83d\\ude00x\",\"n\":2}");
    assert_string_equal(out, "{\"detail\":\"***\",\"n\":2}");
    free(out);
    for (int k = 0; k < 6; k++)
        free(forms[k]);
    free(twice);
}

/* Escapes that spell no secret are left as they are. */
static void escapes_that_spell_no_secret_are_kept(void **state)
{
    (void)state;
    gcs_redact_register("Zx9-very-secret");
    static const char *const kept[] = {
        "{\"displayName\":\"Zo\\u00e9 \\\"Q\\\" \\\\ a\\/b\\ud83d\\ude00\"}",
        "{\"x\":\"Zx9-very-secre\\u0074X\"}" /* one letter short of it... */,
        "\\u", "\\", "a\\ud800b\\udc00c\\u12", "{\"x\":\"Zx9-very-\\q-secret\"}",
    };
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        char *out = redact(kept[i]);
        if (i == 1)
            assert_string_equal(out, "{\"x\":\"***X\"}"); /* ...or not: it is there, escaped */
        else
            assert_string_equal(out, kept[i]);
        free(out);
    }
    /* A high surrogate pairs only with a low one written right after it. */
    gcs_redact_register("smile-\xf0\x9f\x98\x80-key");
    char *out = redact("{\"a\":\"smile-\\ud83d!ude00-key\"}");
    assert_string_equal(out, "{\"a\":\"smile-\\ud83d!ude00-key\"}");
    free(out);
    out = redact("{\"a\":\"smile-\\ud83d\\ude00-key\"}");
    assert_string_equal(out, "{\"a\":\"***\"}");
    free(out);
}

/* The escaped forms come from the registry as it is: however many tokens
 * were registered, the client secret and the newest tokens are found escaped. */
static void escaped_secrets_outlive_a_thousand_tokens(void **state)
{
    (void)state;
    gcs_redact_register("client/secret-0123456789");
    char tok[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(tok, sizeof tok, "access/token-%04d-abcdef", i);
        gcs_redact_register_token(tok);
    }
    char *s = redact("{\"a\":\"client\\/secret-0123456789\",\"b\":\"access\\/token-0999-abcdef\","
                     "\"c\":\"\\u0061ccess/token-0950-abcdef\"}");
    assert_string_equal(s, "{\"a\":\"***\",\"b\":\"***\",\"c\":\"***\"}");
    free(s);
}

/* ==== Lines too long for the log ==== */

static void oversized_fields_keep_json_valid(void **state)
{
    (void)state;
    gcs_buf_init(&captured, 0);
    gcs_log_set_sink(capture, NULL);
    gcs_log_set_level(GCS_LOG_DEBUG);
    gcs_log_set_format(GCS_LOG_JSON);
    size_t big = 100 * 1024;
    char *body = malloc(big + 1);
    assert_non_null(body);
    memset(body, 'a', big);
    body[big] = '\0';
    /* "é" straddling any cut point must not be split. */
    for (size_t i = 0; i + 1 < big; i += 7) {
        body[i] = '\xc3';
        body[i + 1] = '\xa9';
    }
    GCS_INFO("http.body", "path", "/api/v2/x", "body", body, "after", "kept-or-dropped");
    GCS_INFO("two.halves", "a", body + big / 2, "b", body + big / 2, "c", "small");
    gcs_log_set_sink(NULL, NULL);
    gcs_log_set_format(GCS_LOG_TEXT);
    free(body);

    char *line = captured.ptr;
    int n = 0;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        if (!j)
            fail_msg("line %d is not JSON: %s", n, err.text);
        assert_true(strlen(line) <= 64 * 1024);
        if (n == 0) {
            const char *b = json_string_value(json_object_get(j, "body"));
            assert_non_null(b);
            /* The field says it was cut. */
            assert_non_null(strstr(b, "\xe2\x80\xa6[truncated]"));
            assert_string_equal(json_string_value(json_object_get(j, "path")), "/api/v2/x");
        } else {
            /* Two halves do not fit: the second is cut, what has no room left
             * is left out, and the line says so. */
            assert_null(strstr(json_string_value(json_object_get(j, "a")), "[truncated]"));
            assert_non_null(strstr(json_string_value(json_object_get(j, "b")), "[truncated]"));
            assert_null(json_object_get(j, "c"));
            assert_true(json_is_true(json_object_get(j, "truncated")));
        }
        json_decref(j);
        n++;
        line = nl + 1;
    }
    assert_int_equal(n, 2);
    gcs_buf_release(&captured);
    gcs_log_set_level(GCS_LOG_INFO);
}

static void oversized_text_line_says_truncated(void **state)
{
    (void)state;
    gcs_buf_init(&captured, 0);
    gcs_log_set_sink(capture, NULL);
    size_t big = 70 * 1024;
    char *v = malloc(big + 1);
    assert_non_null(v);
    memset(v, 'b', big);
    v[big] = '\0';
    GCS_WARN("big", "v", v);
    gcs_log_set_sink(NULL, NULL);
    free(v);
    assert_true(captured.len <= 64 * 1024 + 1);
    assert_non_null(strstr(captured.ptr, "\xe2\x80\xa6[truncated]"));
    gcs_buf_release(&captured);
}

static void level_filters_before_formatting(void **state)
{
    (void)state;
    gcs_buf_init(&captured, 0);
    gcs_log_set_sink(capture, NULL);
    gcs_log_set_level(GCS_LOG_WARN);
    GCS_INFO("hidden", "k", "v");
    GCS_WARN("shown", "k", "v");
    gcs_log_set_sink(NULL, NULL);
    assert_null(strstr(captured.ptr, "hidden"));
    assert_non_null(strstr(captured.ptr, "shown"));
    gcs_buf_release(&captured);
    gcs_log_set_level(GCS_LOG_INFO);
}

static char *shapes_in_full(const char *in)
{
    gcs_buf b;
    gcs_buf_init(&b, 0);
    assert_int_equal(gcs_redact_append_shapes_in_full(&b, in), 0);
    return gcs_buf_detach(&b);
}

/* Most bodies are copied without the word-by-word pass; wherever a credential
 * shape can start, even in a value where none is expected, the full pass
 * runs and masks it. */
static void the_shortcut_falls_back_wherever_a_shape_can_start(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        /* a create's body: copied as it is */
        {"{\"userName\":\"a@b.c\",\"displayName\":\"Ann Lee\",\"title\":\"Agent\"}",
         "{\"userName\":\"a@b.c\",\"displayName\":\"Ann Lee\",\"title\":\"Agent\"}"},
        /* secrets where a body has none */
        {"{\"title\":\"see client_secret=abc123\"}", "{\"title\":\"see client_secret=***\"}"},
        {"{\"displayName\":\"Bearer abcdef123\"}", "{\"displayName\":\"Bearer ***\"}"},
        {"{\"displayName\":\"x basic dXNlcjpwdw==\"}", "{\"displayName\":\"x basic ***\"}"},
        {"{\"note\":\"{\\\"token\\\":\\\"abc\\\"}\"}", "{\"note\":\"{\\\"token\\\":\\\"***\\\"}\"}"},
        {"{\"note\":\"'password': 'hunter22'\"}", "{\"note\":\"'password': '***'\"}"},
        {"{\"a\":1}\nAuthorization: Basic Zm9v", "{\"a\":1}\nAuthorization: ***"},
        {"{\"password\" :\"pw\"}", "{\"password\" :\"***\"}"},
        /* a sensitive word that is no key: kept */
        {"{\"title\":\"password reset desk\"}", "{\"title\":\"password reset desk\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = redact(cases[i].in);
        if (strcmp(got, cases[i].out) != 0)
            fail_msg("case %zu: '%s' became '%s', expected '%s'", i, cases[i].in, got,
                     cases[i].out);
        free(got);
    }
    /* Generated texts of the pieces that make a shape: the shortcut and the
     * full pass agree on each. */
    static const char *const pieces[] = {
        "password", "token", "client_secret", "x_token", "Authorization", "Bearer", "basic",
        "title", ":", "=", " ", "\"", "'", "\\", "\n", "{", "}", ",", "abc", "-", "_", "."};
    size_t np = sizeof pieces / sizeof *pieces;
    unsigned seed = 12345;
    char text[256];
    for (int round = 0; round < 50000; round++) {
        size_t len = 0;
        int count = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 12;
        for (int k = 0; k < count; k++) {
            const char *piece = pieces[((seed = seed * 1103515245u + 12345u) >> 16) % np];
            size_t pl = strlen(piece);
            if (len + pl >= sizeof text)
                break;
            memcpy(text + len, piece, pl);
            len += pl;
        }
        text[len] = '\0';
        char *fast = redact(text), *full = shapes_in_full(text);
        if (strcmp(fast, full) != 0)
            fail_msg("'%s': '%s' with the shortcut, '%s' without", text, fast, full);
        free(fast);
        free(full);
    }
}

/* A body that gcs_redact_json_text_is_clean passes is stored as it is: every
 * rule must leave it unchanged, and the key scan must find no sensitive key in
 * it (or the parser refuse it, when the text rules apply alike). Cases where
 * the cheaper scan must say no, then generated texts of the risky pieces. */
static void a_clean_body_is_what_every_rule_leaves(void **state)
{
    (void)state;
    gcs_redact_register("s3cr3t-value");
    static const struct {
        const char *in;
        bool clean;
    } cases[] = {
        {"{\"userName\":\"a@b.c\",\"displayName\":\"Ann Lee\",\"title\":\"Agent\"}", true},
        {"{\"title\":\"password reset desk\"}", true},
        {"{\"password\":\"pw\"}", false},
        {"{\"password\" :\"pw\"}", false},
        {"{\"password\"\t:\"pw\"}", false},
        {"{\"password\"\n:\"pw\"}", false},
        {"{\"pass\\u0077ord\":\"pw\"}", false},
        {"{\"a b_token\":\"x\"}", false},
        {"{\"x\":\"Bearer abc\"}", false},
        {"{\"x\":\"s3cr3t-value\"}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bool got = gcs_redact_json_text_is_clean(cases[i].in, strlen(cases[i].in));
        if (got != cases[i].clean)
            fail_msg("case %zu: '%s' clean %d, expected %d", i, cases[i].in, got, cases[i].clean);
    }
    static const char *const pieces[] = {
        "password", "token", "client_secret", "x_token", "a b_token", "Authorization",
        "Bearer", "basic", "title", "s3cr3t-value", ":", "=", " ", "\"", "'", "\\", "\\u0077",
        "\t", "\n", "\r", "{", "}", "[", "]", ",", "abc", "-", "_", "."};
    size_t np = sizeof pieces / sizeof *pieces;
    unsigned seed = 4242;
    char text[256];
    size_t clean = 0;
    for (int round = 0; round < 100000; round++) {
        size_t len = 0;
        int count = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 12;
        for (int k = 0; k < count; k++) {
            const char *piece = pieces[((seed = seed * 1103515245u + 12345u) >> 16) % np];
            size_t pl = strlen(piece);
            if (len + pl >= sizeof text)
                break;
            memcpy(text + len, piece, pl);
            len += pl;
        }
        text[len] = '\0';
        if (!gcs_redact_json_text_is_clean(text, len))
            continue;
        clean++;
        char *out = redact(text);
        if (strcmp(out, text) != 0)
            fail_msg("'%s' passed as clean, the rules make it '%s'", text, out);
        free(out);
        json_t *parsed = json_loadb(text, len, 0, NULL);
        if (parsed && gcs_redact_json_text_has_sensitive_key(text, len))
            fail_msg("'%s' passed as clean, has a sensitive key", text);
        json_decref(parsed);
    }
    assert_true(clean > 1000); /* the generator reaches the clean side too */
}

/* A head of the redacted text taken from a head of the text is the head of
 * the whole redacted text, at every length: a registered secret cut by the
 * head's end is never shown in part, a masked value cut by it is masked, and
 * text that masks shorten (tokens many times longer than "***") makes the
 * head read further. */
static void a_redacted_head_is_the_head_of_the_redacted_whole(void **state)
{
    (void)state;
    static const char token[] = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.payload-of-a-long-access-token";
    gcs_redact_register_token(token);
    gcs_buf text;
    gcs_buf_init(&text, 0);
    for (int i = 0; i < 40; i++)
        assert_int_equal(gcs_buf_printf(&text,
                                        "{\"title\":\"Agent %d %s\",\"password\":\"pw-%d-long\","
                                        "\"note\":\"Bearer tok%d\",\"x\":\"%s%s\"},",
                                        i, token, i, i, token, token),
                         0);
    char *whole = redact(text.ptr);
    assert_null(strstr(whole, "payload-of"));
    size_t whole_len = strlen(whole);
    assert_true(whole_len < text.len / 3); /* masks shortened it: heads are read again */
    for (size_t keep = 0; keep <= whole_len + 2; keep++) {
        gcs_buf head;
        gcs_buf_init(&head, 0);
        bool cut = true;
        size_t used = 0;
        assert_int_equal(gcs_redact_append_head(&head, text.ptr, text.len, keep, &cut, &used), 0);
        size_t want = whole_len > keep ? keep : whole_len;
        assert_int_equal(head.len, want);
        assert_memory_equal(head.ptr, whole, want);
        assert_int_equal(cut, whole_len > keep);
        assert_true(used <= text.len);
        gcs_buf_release(&head);
    }
    /* A short keep reads a short head of a long text. */
    gcs_buf head;
    gcs_buf_init(&head, 0);
    bool cut = false;
    size_t used = 0;
    assert_int_equal(gcs_redact_append_head(&head, text.ptr, text.len, 10, &cut, &used), 0);
    assert_true(cut);
    assert_true(used < text.len / 4);
    gcs_buf_release(&head);
    free(whole);
    gcs_buf_release(&text);
}

/* The head of a JSON text cut inside a string holds no key of that string's:
 * the whole-text check calls the cut malformed (true), the head's does not,
 * and a sensitive key within the head is found by both. */
static void a_head_cut_inside_a_string_has_no_sensitive_key(void **state)
{
    (void)state;
    static const char page[] = "{\"Resources\":[{\"userName\":\"ann@example.com\",\"title\":\"Agent\"}";
    size_t cut = strlen("{\"Resources\":[{\"userName\":\"ann@exa");
    assert_true(gcs_redact_json_text_has_sensitive_key(page, cut));
    assert_false(gcs_redact_json_head_has_sensitive_key(page, cut));
    assert_false(gcs_redact_json_head_has_sensitive_key(page, strlen(page)));
    static const char keyed[] = "{\"a\":1,\"password\":\"pw\",\"b\":\"long";
    assert_true(gcs_redact_json_head_has_sensitive_key(keyed, strlen(keyed)));
    assert_true(gcs_redact_json_text_has_sensitive_key(keyed, strlen(keyed)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(registered_secret_is_removed_anywhere, reset),
        cmocka_unit_test_setup(short_values_are_not_registered, reset),
        cmocka_unit_test_setup(authorization_header_is_masked, reset),
        cmocka_unit_test_setup(json_and_form_values_are_masked, reset),
        cmocka_unit_test_setup(harmless_text_is_untouched, reset),
        cmocka_unit_test_setup(json_copy_masks_sensitive_keys, reset),
        cmocka_unit_test_setup(sensitive_keys, reset),
        cmocka_unit_test_setup(error_messages_are_redacted, reset),
        cmocka_unit_test_setup(logs_never_show_secrets, reset),
        cmocka_unit_test_setup(level_filters_before_formatting, reset),
        cmocka_unit_test_setup(table_of_masked_and_kept, reset),
        cmocka_unit_test_setup(long_lived_secrets_outlive_a_thousand_tokens, reset),
        cmocka_unit_test_setup(a_secret_written_with_escapes_is_removed, reset),
        cmocka_unit_test_setup(escapes_that_spell_no_secret_are_kept, reset),
        cmocka_unit_test_setup(escaped_secrets_outlive_a_thousand_tokens, reset),
        cmocka_unit_test_setup(oversized_fields_keep_json_valid, reset),
        cmocka_unit_test_setup(oversized_text_line_says_truncated, reset),
        cmocka_unit_test_setup(the_shortcut_falls_back_wherever_a_shape_can_start, reset),
        cmocka_unit_test_setup(a_clean_body_is_what_every_rule_leaves, reset),
        cmocka_unit_test_setup(a_redacted_head_is_the_head_of_the_redacted_whole, reset),
        cmocka_unit_test_setup(a_head_cut_inside_a_string_has_no_sensitive_key, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
