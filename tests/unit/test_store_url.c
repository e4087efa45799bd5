/* Store URLs: which back end, what target, and never a password on screen;
 * the --since/--until time parser. */
#include "gcstest.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/time.h"
#include "store/store.h"
#include "store/store_int.h"

/* SHA-256 of 64 zeros followed by the canonical form in docs/store.md,
 * computed independently (Python's hashlib). */
#define KNOWN_HASH "4c5ced731f12752e6de8a92b37ccdd87a06ae7c9eeea68a116e88625a613709b"

static void expect_parse(const char *url, gcs_store_kind kind, const char *target)
{
    gcs_store_kind k = 0;
    char *t = NULL;
    if (gcs_store_url_parse(&k, &t, url) != 0)
        fail_msg("'%s': %s", url, gcs_error_last());
    assert_int_equal(k, kind);
    assert_string_equal(t, target);
    free(t);
}

static void urls_choose_the_back_end(void **state)
{
    (void)state;
    expect_parse("sqlite:/var/lib/g.db", GCS_STORE_SQLITE, "/var/lib/g.db");
    expect_parse("sqlite:rel/g.db", GCS_STORE_SQLITE, "rel/g.db");
    expect_parse("sqlite:///abs/g.db", GCS_STORE_SQLITE, "/abs/g.db");
    expect_parse("/plain/path.db", GCS_STORE_SQLITE, "/plain/path.db");
    expect_parse("g.db", GCS_STORE_SQLITE, "g.db");
    expect_parse("postgresql://u@h:5432/db", GCS_STORE_POSTGRES, "postgresql://u@h:5432/db");
    expect_parse("postgres://h/db?sslmode=require", GCS_STORE_POSTGRES,
                 "postgres://h/db?sslmode=require");
}

static void bad_urls_are_named(void **state)
{
    (void)state;
    gcs_store_kind k;
    char *t = NULL;
    assert_int_equal(gcs_store_url_parse(&k, &t, ""), GCS_EINVALID);
    assert_int_equal(gcs_store_url_parse(&k, &t, "sqlite:"), GCS_EINVALID);
    assert_int_equal(gcs_store_url_parse(&k, &t, "sqlite://host/x"), GCS_EINVALID);
    assert_int_equal(gcs_store_url_parse(&k, &t, "mysql://h/db"), GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "unknown scheme"));
    char *huge = malloc(GCS_STORE_URL_MAX + 10);
    memset(huge, 'a', GCS_STORE_URL_MAX + 9);
    huge[GCS_STORE_URL_MAX + 9] = '\0';
    assert_int_equal(gcs_store_url_parse(&k, &t, huge), GCS_EINVALID);
    free(huge);
    assert_null(t);
}

static void passwords_are_hidden_for_display(void **state)
{
    (void)state;
    char *d = NULL;
    assert_int_equal(gcs_store_url_display(&d, "postgresql://app:s3cr3t@db.example:5432/g"), 0);
    assert_string_equal(d, "postgresql://app:***@db.example:5432/g");
    free(d);
    assert_int_equal(gcs_store_url_display(&d, "postgresql://h/g?user=a&password=pw1&x=1"), 0);
    assert_string_equal(d, "postgresql://h/g?user=a&password=***&x=1");
    free(d);
    assert_int_equal(gcs_store_url_display(&d, "host=h password=pw2 dbname=g"), 0);
    assert_string_equal(d, "host=h password=*** dbname=g");
    free(d);
    assert_int_equal(gcs_store_url_display(&d, "sqlite:/a:b@c/d.db"), 0);
    assert_string_equal(d, "sqlite:/a:b@c/d.db");
    free(d);
}

static void times_parse_with_zones(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(gcs_time_parse_iso8601(&ms, "1970-01-01"), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(gcs_time_parse_iso8601(&ms, "2026-11-18T11:06:40Z"), 0);
    assert_int_equal(ms, 1795000000000LL);
    assert_int_equal(gcs_time_parse_iso8601(&ms, "2026-11-18T13:06:40.250+02:00"), 0);
    assert_int_equal(ms, 1795000000250LL);
    assert_int_equal(gcs_time_parse_iso8601(&ms, "2026-11-18 11:06"), 0);
    assert_int_equal(ms, 1794999960000LL);
    assert_int_equal(gcs_time_parse_iso8601(&ms, "2026-02-29"), GCS_EUSAGE);
    assert_int_equal(gcs_time_parse_iso8601(&ms, "2026-11-18T25:00"), GCS_EUSAGE);
    assert_int_equal(gcs_time_parse_iso8601(&ms, "2026-11-18T11:06:40Zjunk"), GCS_EUSAGE);
    assert_int_equal(gcs_time_parse_iso8601(&ms, "yesterday"), GCS_EUSAGE);
    assert_int_equal(gcs_time_parse_iso8601(&ms, "2026-11-18T11:06:40."), GCS_EUSAGE);
}

static void csv_fields_are_quoted_when_needed(void **state)
{
    (void)state;
    gcs_buf b;
    gcs_buf_init(&b, 1024);
    assert_int_equal(gcs_buf_csv_field(&b, "plain"), 0);
    assert_int_equal(gcs_buf_putc(&b, '|'), 0);
    assert_int_equal(gcs_buf_csv_field(&b, "a,b"), 0);
    assert_int_equal(gcs_buf_putc(&b, '|'), 0);
    assert_int_equal(gcs_buf_csv_field(&b, "say \"hi\"\nthere"), 0);
    assert_int_equal(gcs_buf_putc(&b, '|'), 0);
    assert_int_equal(gcs_buf_csv_field(&b, " padded"), 0);
    assert_string_equal(b.ptr, "plain|\"a,b\"|\"say \"\"hi\"\"\nthere\"|\" padded\"");
    gcs_buf_release(&b);
}

static void canonical_form_is_unambiguous(void **state)
{
    (void)state;
    gcs_receipt a = {.seq = 1, .run_id = "ab", .operation = "c"};
    gcs_receipt b = {.seq = 1, .run_id = "a", .operation = "bc"};
    gcs_receipt c = {.seq = 1, .run_id = "ab", .operation = NULL};
    gcs_receipt d = {.seq = 1, .run_id = "ab", .operation = ""};
    char ha[65], hb[65], hc[65], hd[65];
    assert_int_equal(gcs_receipt_hash(ha, gcs_receipt_genesis_hash, &a), 0);
    assert_int_equal(gcs_receipt_hash(hb, gcs_receipt_genesis_hash, &b), 0);
    assert_int_equal(gcs_receipt_hash(hc, gcs_receipt_genesis_hash, &c), 0);
    assert_int_equal(gcs_receipt_hash(hd, gcs_receipt_genesis_hash, &d), 0);
    assert_string_not_equal(ha, hb);
    assert_string_not_equal(hc, hd); /* NULL is not the empty string */
    gcs_buf buf;
    gcs_buf_init(&buf, 4096);
    assert_int_equal(gcs_receipt_canonical(&buf, &a), 0);
    assert_non_null(strstr(buf.ptr, "gcscim-receipt-v1\nseq=1\ntime_ms=0\nrun_id=2:ab\n"
                                    "operation=1:c\nresource_type=~\n"));
    gcs_buf_release(&buf);
    /* A known vector, so that the format cannot change by accident. */
    gcs_receipt e = {.seq = 1, .time_ms = 1795000000000LL, .operation = "create", .status = 201,
                     .attempts = 1, .outcome = "ok"};
    char he[65];
    assert_int_equal(gcs_receipt_hash(he, gcs_receipt_genesis_hash, &e), 0);
    assert_int_equal(strlen(he), 64);
    assert_string_equal(he, KNOWN_HASH);
}

static bool scan(const char *text)
{
    return gcs_store__receipt_json_has_sensitive_key(text, strlen(text));
}

static void json_bodies_with_secrets_are_spotted(void **state)
{
    (void)state;
    assert_true(scan("{\"userName\":\"a\",\"password\":\"x\"}"));
    assert_true(scan("{\"a\":{\"b\":[{\"client_secret\" : {\"x\":1}}]}}"));
    assert_true(scan("{\"Access_Token\":1}"));
    assert_true(scan("{\"pass\\u0077ord\":\"x\"}")); /* escaped: careful path */
    assert_true(scan("{\"unterminated"));
    assert_false(scan("{\"userName\":\"password\",\"active\":true}"));
    assert_false(scan("{\"note\":\"password: x\",\"k\":[\"token\",1]}"));
    assert_false(scan("{\"Operations\":[{\"op\":\"replace\",\"path\":\"active\","
                      "\"value\":false}]}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls_choose_the_back_end),
        cmocka_unit_test(bad_urls_are_named),
        cmocka_unit_test(passwords_are_hidden_for_display),
        cmocka_unit_test(times_parse_with_zones),
        cmocka_unit_test(csv_fields_are_quoted_when_needed),
        cmocka_unit_test(canonical_form_is_unambiguous),
        cmocka_unit_test(json_bodies_with_secrets_are_spotted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
