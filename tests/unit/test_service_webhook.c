/* Standard Webhooks signatures: the specification's own example, rotation,
 * the replay window and every way a message can fail. */
#include "gcstest.h"

#include <string.h>

#include "core/error.h"
#include "core/redact.h"
#include "service/webhook.h"

/* The example of the Standard Webhooks specification and its libraries. */
#define SPEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SPEC_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SPEC_TS 1614265330
#define SPEC_BODY "{\"test\": 2432232314}"
#define SPEC_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static void signs_the_specification_example(void **state)
{
    (void)state;
    gcs_webhook_secret s;
    assert_int_equal(gcs_webhook_secret_parse(&s, SPEC_SECRET), 0);
    char sig[GCS_WEBHOOK_SIGNATURE_MAX];
    assert_int_equal(gcs_webhook_sign(sig, &s, SPEC_ID, SPEC_TS, SPEC_BODY, strlen(SPEC_BODY)), 0);
    assert_string_equal(sig, SPEC_SIG);
    gcs_webhook_secret_wipe(&s);
}

static gcs_webhook_verdict verify_spec(const gcs_webhook_secret *s, size_t n, const char *sig,
                                       const char *body, int64_t now)
{
    return gcs_webhook_verify(s, n, SPEC_ID, "1614265330", sig, body, strlen(body), now,
                              GCS_WEBHOOK_TOLERANCE_S);
}

static void verifies_and_refuses(void **state)
{
    (void)state;
    gcs_webhook_secret s;
    assert_int_equal(gcs_webhook_secret_parse(&s, SPEC_SECRET), 0);
    assert_int_equal(verify_spec(&s, 1, SPEC_SIG, SPEC_BODY, SPEC_TS), GCS_WEBHOOK_VALID);
    /* one byte of the body changed */
    assert_int_equal(verify_spec(&s, 1, SPEC_SIG, "{\"test\": 2432232315}", SPEC_TS),
                     GCS_WEBHOOK_BAD_SIGNATURE);
    /* another version's signature, or a truncated one, is not a match */
    assert_int_equal(verify_spec(&s, 1, "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                                 SPEC_BODY, SPEC_TS),
                     GCS_WEBHOOK_BAD_SIGNATURE);
    assert_int_equal(verify_spec(&s, 1, "v1,g0hM9SsE+OTPJTGt", SPEC_BODY, SPEC_TS),
                     GCS_WEBHOOK_BAD_SIGNATURE);
    /* several signatures in the header: any one that matches is enough */
    assert_int_equal(verify_spec(&s, 1, "v1,AAAA " SPEC_SIG " v2,xyz", SPEC_BODY, SPEC_TS),
                     GCS_WEBHOOK_VALID);
    /* the replay window: 5 minutes each way */
    assert_int_equal(verify_spec(&s, 1, SPEC_SIG, SPEC_BODY, SPEC_TS + 300), GCS_WEBHOOK_VALID);
    assert_int_equal(verify_spec(&s, 1, SPEC_SIG, SPEC_BODY, SPEC_TS + 301), GCS_WEBHOOK_STALE);
    assert_int_equal(verify_spec(&s, 1, SPEC_SIG, SPEC_BODY, SPEC_TS - 301), GCS_WEBHOOK_STALE);
    /* headers missing or malformed */
    assert_int_equal(gcs_webhook_verify(&s, 1, NULL, "1614265330", SPEC_SIG, "", 0, SPEC_TS, 300),
                     GCS_WEBHOOK_MISSING);
    assert_int_equal(gcs_webhook_verify(&s, 1, SPEC_ID, "16142x5330", SPEC_SIG, "", 0, SPEC_TS, 300),
                     GCS_WEBHOOK_MISSING);
    assert_int_equal(gcs_webhook_verify(&s, 1, SPEC_ID, "1614265330", "", "", 0, SPEC_TS, 300),
                     GCS_WEBHOOK_MISSING);
    assert_int_equal(gcs_webhook_verify(&s, 1, "a.b", "1614265330", SPEC_SIG, "", 0, SPEC_TS, 300),
                     GCS_WEBHOOK_MISSING);
    gcs_webhook_secret_wipe(&s);
}

static void rotation_accepts_either_secret(void **state)
{
    (void)state;
    gcs_webhook_secret two[2];
    assert_int_equal(gcs_webhook_secret_parse(&two[0], "whsec_c2Vjb25kIHNlY3JldCBrZXkhIQ=="), 0);
    assert_int_equal(gcs_webhook_secret_parse(&two[1], SPEC_SECRET), 0);
    assert_int_equal(verify_spec(two, 2, SPEC_SIG, SPEC_BODY, SPEC_TS), GCS_WEBHOOK_VALID);
    assert_int_equal(verify_spec(two, 1, SPEC_SIG, SPEC_BODY, SPEC_TS), GCS_WEBHOOK_BAD_SIGNATURE);
    /* signed with the new secret only: still valid while both are held */
    char sig[GCS_WEBHOOK_SIGNATURE_MAX];
    assert_int_equal(gcs_webhook_sign(sig, &two[0], SPEC_ID, SPEC_TS, SPEC_BODY, strlen(SPEC_BODY)), 0);
    assert_string_not_equal(sig, SPEC_SIG);
    assert_int_equal(verify_spec(two, 2, sig, SPEC_BODY, SPEC_TS), GCS_WEBHOOK_VALID);
    gcs_webhook_secret_wipe(&two[0]);
    gcs_webhook_secret_wipe(&two[1]);
}

static void bad_secrets_are_refused_without_quoting_them(void **state)
{
    (void)state;
    const char *bad[] = {"", "whsec_", "whsec_abc", "whsec_!!!!", "whsec_" "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        gcs_webhook_secret s;
        assert_int_equal(gcs_webhook_secret_parse(&s, bad[i]), GCS_EINVALID);
        if (strlen(bad[i]) > 6)
            assert_null(strstr(gcs_error_last(), bad[i] + 6));
    }
}

static void a_parsed_secret_is_redacted(void **state)
{
    (void)state;
    gcs_webhook_secret s;
    assert_int_equal(gcs_webhook_secret_parse(&s, SPEC_SECRET), 0);
    char out[256];
    gcs_redact_text(out, sizeof out, "secret is " SPEC_SECRET);
    assert_null(strstr(out, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    gcs_webhook_secret_wipe(&s);
}

static void ids_with_a_dot_cannot_be_signed(void **state)
{
    (void)state;
    gcs_webhook_secret s;
    assert_int_equal(gcs_webhook_secret_parse(&s, SPEC_SECRET), 0);
    char sig[GCS_WEBHOOK_SIGNATURE_MAX];
    /* "a.b" + ".ts." would sign the same content as id "a" with another timestamp text */
    assert_int_equal(gcs_webhook_sign(sig, &s, "a.b", 1, "", 0), GCS_EINVALID);
    assert_int_equal(gcs_webhook_sign(sig, &s, "", 1, "", 0), GCS_EINVALID);
    gcs_webhook_secret_wipe(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signs_the_specification_example),
        cmocka_unit_test(verifies_and_refuses),
        cmocka_unit_test(rotation_accepts_either_secret),
        cmocka_unit_test(bad_secrets_are_refused_without_quoting_them),
        cmocka_unit_test(a_parsed_secret_is_redacted),
        cmocka_unit_test(ids_with_a_dot_cannot_be_signed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
