/*
 * `gcscim serve` tells what its workers did (docs/notifications.md): a signed
 * event becomes a job, the job's outcome is written with its notification,
 * and serve's notifier delivers it, signed, with the job and who asked; its
 * /metrics count it.
 */
#include "receiver.h"
#include "servetest.h"

#include "core/time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NOTIFY_SECRET "whsec_c2Vjb25kIHNlY3JldCBrZXkhIQ=="

/* The fields of servetest.h's rows, nothing else. */
static const char profile[] = "version: 1\n"
                              "managed_by: gcscim\n"
                              "match: [externalId]\n"
                              "attributes:\n"
                              "  userName: {from: email, transform: [trim, lower], required: true}\n"
                              "  displayName: {template: \"{first_name} {last_name}\", required: true}\n"
                              "  externalId: {from: employee_id, required: true}\n"
                              "  title: job_title\n";

static void serve_notifies_each_job_outcome(void **state)
{
    (void)state;
    gcs_test_deadline(120);
    gcs_test_serve t;
    gcs_test_serve_init(&t, NULL, NULL);
    const char *const secrets[] = {NOTIFY_SECRET};
    gcs_test_receiver r;
    gcs_test_receiver_start(&r, secrets, 1);
    char *prof = gcs_test_write_file(t.dir, "profile.yaml", profile);
    char *secret = gcs_test_write_file(t.dir, "hr.whsec", NOTIFY_SECRET "\n");
    assert_int_equal(chmod(secret, 0600), 0);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"endpoints\":[{\"name\":\"hr\",\"url\":\"%s\",\"secret_file\":\"hr.whsec\","
             "\"events\":[\"user.*\",\"provisioning.*\"]}],\"timeout_s\":2}",
             r.url);
    char *notify = gcs_test_write_file(t.dir, "notify.json", text);
    gcs_test_server srv;
    const char *extra[] = {"--profile", prof, "--notify-file", notify, NULL};
    gcs_test_serve_start(&t, &srv, extra);

    char body[4096];
    gcs_test_serve_event_body(body, sizeof body, "person.created", "NT100");
    gcs_test_http h;
    gcs_test_serve_post_signed(&h, srv.api_url, SECRET_OLD, "msg_nt100", gcs_test_serve_now_s(),
                               body, NULL);
    assert_int_equal(h.status, 202);
    int64_t job = gcs_test_serve_job_of(&h);
    gcs_test_http_release(&h);

    json_t *msgs = NULL;
    for (int i = 0; i < 600; i++) {
        msgs = gcs_test_receiver_messages(&r);
        if (json_array_size(msgs) >= 1)
            break;
        json_decref(msgs);
        msgs = NULL;
        gcs_time_sleep_ms(50);
    }
    if (!msgs)
        fail_msg("no notification within 30 s");
    json_t *m = json_array_get(msgs, 0);
    assert_true(json_is_true(json_array_get(json_object_get(m, "valid"), 0)));
    json_t *b = json_object_get(m, "body"), *data = json_object_get(b, "data");
    assert_string_equal(json_string_value(json_object_get(b, "type")), "user.created");
    assert_string_equal(json_string_value(json_object_get(data, "source_key")), "NT100");
    assert_non_null(json_string_value(json_object_get(data, "genesys_id")));
    char job_text[24];
    snprintf(job_text, sizeof job_text, "%lld", (long long)job);
    assert_string_equal(json_string_value(json_object_get(data, "job_id")), job_text);
    assert_non_null(json_string_value(json_object_get(data, "actor")));
    assert_true(json_array_size(json_object_get(data, "receipts")) >= 1);
    assert_int_equal(r.unsigned_or_bad, 0);
    json_decref(msgs);

    /* /metrics counts the delivery (the notifier's pass may lag a moment). */
    bool counted = false;
    for (int i = 0; i < 100 && !counted; i++) {
        gcs_test_http mr;
        gcs_test_serve_call(&mr, srv.api_url, "GET", "/metrics", NULL, NULL);
        counted = mr.status == 200 && mr.body.ptr &&
                  strstr(mr.body.ptr, "gcscim_notifications_sent_total{outcome=\"delivered\"} 1") &&
                  strstr(mr.body.ptr, "gcscim_notifications{state=\"pending\"} 0");
        gcs_test_http_release(&mr);
        if (!counted)
            gcs_time_sleep_ms(50);
    }
    assert_true(counted);

    /* The same outcome's audit line, with its receipts, in serve's log. */
    bool audited = false;
    FILE *log = fopen(srv.log_path, "r");
    char line[16384];
    while (log && !audited && fgets(line, sizeof line, log))
        audited = strstr(line, "\"event\":\"audit.outcome\"") && strstr(line, "NT100") &&
                  strstr(line, "\"receipts\":[");
    if (log)
        fclose(log);
    assert_true(audited);

    assert_int_equal(gcs_test_server_stop(&srv), 0);
    gcs_test_receiver_free(&r);
    free(prof);
    free(secret);
    free(notify);
    gcs_test_serve_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serve_notifies_each_job_outcome),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
