/*
 * Notifications of outcomes (docs/notifications.md), against a receiver on
 * loopback that verifies every signature:
 *  - the sender: signed with every secret of a rotation, retried with the same
 *    webhook-id after a 500, a timeout and a receiver gone away, delivered once
 *    it answers, never sent unsigned, each event only where it is wanted;
 *  - the notify file: errors name the file and the field;
 *  - the program: a sync tells each outcome and its run's end, with receipts
 *    and no password, and says how many were delivered; kill -9 between the
 *    outcome and its delivery loses nothing: the next run delivers it.
 */
#include "clitest.h"
#include "gcstest.h"
#include "httptest.h"
#include "receiver.h"

#include "core/error.h"
#include "core/time.h"
#include "service/notify.h"
#include "store/store.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET_OLD "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SECRET_NEW "whsec_c2Vjb25kIHNlY3JldCBrZXkhIQ=="

static const char *const both[] = {SECRET_OLD, SECRET_NEW};

/* A secret file (mode 0600) with these lines. */
static char *secret_file(const char *dir, const char *name, const char *text)
{
    char *path = gcs_test_write_file(dir, name, text);
    assert_int_equal(chmod(path, 0600), 0);
    return path;
}

static char *notify_file(const char *dir, const char *text)
{
    return gcs_test_write_file(dir, "notify.json", text);
}

static gcs_notify_config *load(const char *path)
{
    gcs_notify_config *c = NULL;
    if (gcs_notify_config_load(&c, path) != 0)
        fail_msg("%s", gcs_error_last());
    return c;
}

static void add_event(gcs_store *s, const gcs_notify_config *c, const char *type, const char *key)
{
    json_t *data = json_pack("{s:s,s:s}", "source_key", key, "genesys_id", "g-1");
    gcs_outbox_event ev = {type, data, gcs_notify_routes(c), false, false};
    assert_int_equal(gcs_store_outbox_add(NULL, s, &ev), 0);
    json_decref(data);
}

static const char *state_of(gcs_store *s, int64_t id, char *out, size_t outsz)
{
    gcs_notification n;
    assert_int_equal(gcs_store_notification_get(&n, s, id), 0);
    snprintf(out, outsz, "%s|%s", n.state, n.last_error ? n.last_error : "");
    gcs_notification_release(&n);
    return out;
}

/* ==== The sender ==== */

static void delivery_is_signed_retried_and_recovers(void **state)
{
    (void)state;
    gcs_test_deadline(120);
    char *dir = gcs_test_tmpdir();
    gcs_test_receiver r;
    gcs_test_receiver_start(&r, both, 2);
    char *secrets = secret_file(dir, "hr.whsec", "# rotating: old, then new\n" SECRET_OLD "\n"
                                                 SECRET_NEW "\n");
    char text[1024];
    snprintf(text, sizeof text,
             "{\"endpoints\":[{\"name\":\"hr\",\"url\":\"%s\",\"secret_file\":\"hr.whsec\"}],"
             "\"timeout_s\":1}",
             r.url);
    char *path = notify_file(dir, text);
    gcs_notify_config *c = load(path);
    char url[700];
    snprintf(url, sizeof url, "sqlite:%s/gcscim.db", dir);
    gcs_store *s = NULL;
    assert_int_equal(gcs_store_open(&s, url), 0);
    gcs_store_set_notify_backoff(s, 1, 1);
    add_event(s, c, "user.created", "E1");
    char st[700];

    /* 500: pending again, the reason kept. */
    gcs_test_receiver_set_mode(&r, GCS_RECEIVER_FAIL_500, 0);
    gcs_notify_counts got = {0};
    assert_int_equal(gcs_notify_send_ready(&got, s, c, "t:1", gcs_time_wall_ms() + 10000), 0);
    assert_int_equal(got.failed, 1);
    assert_int_equal(got.delivered, 0);
    assert_string_equal(state_of(s, 1, st, sizeof st), "pending|HTTP 500 from the endpoint");
    usleep(5000);

    /* No answer in time. */
    gcs_test_receiver_set_mode(&r, GCS_RECEIVER_SLOW, 2500);
    assert_int_equal(gcs_notify_send_ready(&got, s, c, "t:1", gcs_time_wall_ms() + 10000), 0);
    assert_int_equal(got.failed, 2);
    assert_non_null(strstr(state_of(s, 1, st, sizeof st), "pending|no answer"));
    usleep(5000);

    /* The receiver goes away. */
    gcs_test_receiver_stop(&r);
    assert_int_equal(gcs_notify_send_ready(&got, s, c, "t:1", gcs_time_wall_ms() + 10000), 0);
    assert_int_equal(got.failed, 3);
    assert_non_null(strstr(state_of(s, 1, st, sizeof st), "pending|no answer"));
    usleep(5000);

    /* It comes back: delivered, once. */
    gcs_test_receiver_restart(&r);
    gcs_test_receiver_set_mode(&r, GCS_RECEIVER_OK, 0);
    assert_int_equal(gcs_notify_send_ready(&got, s, c, "t:1", gcs_time_wall_ms() + 10000), 0);
    assert_int_equal(got.delivered, 1);
    assert_string_equal(state_of(s, 1, st, sizeof st), "delivered|");
    usleep(5000);
    assert_int_equal(gcs_notify_send_ready(&got, s, c, "t:1", gcs_time_wall_ms() + 10000), 0);
    assert_int_equal(got.delivered, 1);

    /* Every attempt that arrived: one webhook-id, each signature of the
     * rotation valid on its own, the same body. */
    json_t *msgs = gcs_test_receiver_messages(&r);
    assert_int_equal(json_array_size(msgs), 3); /* 500, slow, ok (the gone one never came) */
    size_t i;
    json_t *m;
    const char *id0 = json_string_value(json_object_get(json_array_get(msgs, 0), "id"));
    const char *raw0 = json_string_value(json_object_get(json_array_get(msgs, 0), "raw"));
    assert_non_null(id0);
    assert_int_equal(strncmp(id0, "msg_", 4), 0);
    json_array_foreach(msgs, i, m) {
        assert_string_equal(json_string_value(json_object_get(m, "id")), id0);
        assert_string_equal(json_string_value(json_object_get(m, "raw")), raw0);
        assert_true(json_is_true(json_array_get(json_object_get(m, "valid"), 0)));
        assert_true(json_is_true(json_array_get(json_object_get(m, "valid"), 1)));
        json_t *body = json_object_get(m, "body");
        assert_string_equal(json_string_value(json_object_get(body, "type")), "user.created");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(body, "data"), "source_key")), "E1");
    }
    assert_int_equal(r.unsigned_or_bad, 0);
    json_decref(msgs);

    gcs_store_free(s);
    gcs_notify_config_free(c);
    gcs_test_receiver_free(&r);
    free(secrets);
    free(path);
    gcs_test_tmpdir_remove(dir);
}

/* An endpoint's answer is its status: a 2xx with a body larger than any the sender
 * reads is delivered all the same (and not retried until it is dead); a redirect is
 * not followed (the message is not posted again elsewhere) but retried. */
static void huge_redirecting_and_slow_endpoints(void **state)
{
    (void)state;
    gcs_test_deadline(120);
    char *dir = gcs_test_tmpdir();
    gcs_test_receiver r;
    gcs_test_receiver_start(&r, both, 2);
    char *secrets = secret_file(dir, "hr.whsec", SECRET_NEW "\n");
    char text[1024];
    snprintf(text, sizeof text,
             "{\"endpoints\":[{\"name\":\"hr\",\"url\":\"%s\",\"secret_file\":\"hr.whsec\"}],"
             "\"timeout_s\":5}",
             r.url);
    char *path = notify_file(dir, text);
    gcs_notify_config *c = load(path);
    char url[700];
    snprintf(url, sizeof url, "sqlite:%s/gcscim.db", dir);
    gcs_store *s = NULL;
    assert_int_equal(gcs_store_open(&s, url), 0);
    gcs_store_set_notify_backoff(s, 1, 1);
    add_event(s, c, "user.created", "E1");
    add_event(s, c, "user.created", "E2");
    char st[700];

    gcs_test_receiver_set_mode(&r, GCS_RECEIVER_REDIRECT, 0);
    gcs_notify_counts got = {0};
    assert_int_equal(gcs_notify_send_ready(&got, s, c, "t:1", gcs_time_wall_ms() + 10000), 0);
    assert_int_equal(got.failed, 2);
    assert_string_equal(state_of(s, 1, st, sizeof st), "pending|HTTP 307 from the endpoint");
    json_t *msgs = gcs_test_receiver_messages(&r);
    assert_int_equal(json_array_size(msgs), 2); /* once each: the redirect was not followed */
    json_decref(msgs);
    usleep(5000);

    gcs_test_receiver_set_mode(&r, GCS_RECEIVER_HUGE_OK, 0);
    memset(&got, 0, sizeof got);
    assert_int_equal(gcs_notify_send_ready(&got, s, c, "t:1", gcs_time_wall_ms() + 10000), 0);
    assert_int_equal(got.failed, 0);
    assert_int_equal(got.delivered, 2);
    assert_string_equal(state_of(s, 1, st, sizeof st), "delivered|");
    assert_string_equal(state_of(s, 2, st, sizeof st), "delivered|");

    /* An endpoint slow to answer, and a notify file allowing it 300 s: a call ends
     * by the sender's deadline all the same (sync and apply wait at most 30 s). */
    add_event(s, c, "user.created", "E3");
    gcs_notify_config_free(c);
    free(path);
    snprintf(text, sizeof text,
             "{\"endpoints\":[{\"name\":\"hr\",\"url\":\"%s\",\"secret_file\":\"hr.whsec\"}],"
             "\"timeout_s\":300}",
             r.url);
    path = notify_file(dir, text);
    c = load(path);
    gcs_test_receiver_set_mode(&r, GCS_RECEIVER_SLOW, 9000);
    memset(&got, 0, sizeof got);
    int64_t began = gcs_time_wall_ms();
    assert_int_equal(gcs_notify_send_ready(&got, s, c, "t:1", began + 1000), 0);
    assert_true(gcs_time_wall_ms() - began < 6000);
    assert_int_equal(got.failed, 1);
    assert_int_equal(got.delivered, 0);
    assert_non_null(strstr(state_of(s, 3, st, sizeof st), "pending|no answer"));

    gcs_store_free(s);
    gcs_notify_config_free(c);
    gcs_test_receiver_free(&r);
    free(secrets);
    free(path);
    gcs_test_tmpdir_remove(dir);
}

/* Each endpoint gets the events its filter takes, signed with its own secret. */
static void each_endpoint_gets_its_events_with_its_secret(void **state)
{
    (void)state;
    gcs_test_deadline(60);
    char *dir = gcs_test_tmpdir();
    const char *const only_new[] = {SECRET_NEW};
    gcs_test_receiver hr, audit;
    gcs_test_receiver_start(&hr, both, 1);        /* knows the old secret only */
    gcs_test_receiver_start(&audit, only_new, 1);
    char *s1 = secret_file(dir, "hr.whsec", SECRET_OLD "\n");
    char *s2 = secret_file(dir, "audit.whsec", SECRET_NEW "\n");
    char text[1024];
    snprintf(text, sizeof text,
             "{\"endpoints\":["
             "{\"name\":\"hr\",\"url\":\"%s\",\"secret_file\":\"hr.whsec\",\"events\":[\"user.*\"]},"
             "{\"name\":\"audit\",\"url\":\"%s\",\"secret_file\":\"audit.whsec\","
             "\"events\":[\"run.finished\",\"provisioning.failed\"]}]}",
             hr.url, audit.url);
    char *path = notify_file(dir, text);
    gcs_notify_config *c = load(path);
    char url[700];
    snprintf(url, sizeof url, "sqlite:%s/gcscim.db", dir);
    gcs_store *s = NULL;
    assert_int_equal(gcs_store_open(&s, url), 0);
    add_event(s, c, "user.created", "E1");
    add_event(s, c, "run.finished", "-");
    add_event(s, c, "provisioning.failed", "E2");
    add_event(s, c, "group.changed", "G1"); /* nobody takes it: not even written */
    gcs_notify_counts got = {0};
    assert_int_equal(gcs_notify_send_ready(&got, s, c, "t:1", gcs_time_wall_ms() + 10000), 0);
    assert_int_equal(got.delivered, 3);
    json_t *a = gcs_test_receiver_messages(&hr), *b = gcs_test_receiver_messages(&audit);
    assert_int_equal(json_array_size(a), 1);
    assert_int_equal(json_array_size(b), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(b, 0), "body"), "type")),
                        "run.finished");
    assert_int_equal(hr.unsigned_or_bad, 0);
    assert_int_equal(audit.unsigned_or_bad, 0);
    json_decref(a);
    json_decref(b);
    gcs_store_free(s);
    gcs_notify_config_free(c);
    gcs_test_receiver_free(&hr);
    gcs_test_receiver_free(&audit);
    free(s1);
    free(s2);
    free(path);
    gcs_test_tmpdir_remove(dir);
}

/* serve's notifier thread: sends what is written, when woken, on its own
 * connection, and counts what it did; stopping leaves the rest for later. */
static void the_notifier_thread_sends_what_is_written(void **state)
{
    (void)state;
    gcs_test_deadline(60);
    char *dir = gcs_test_tmpdir();
    gcs_test_receiver r;
    gcs_test_receiver_start(&r, both, 1);
    char *secrets = secret_file(dir, "hr.whsec", SECRET_OLD "\n");
    char text[1024];
    snprintf(text, sizeof text,
             "{\"endpoints\":[{\"url\":\"%s\",\"secret_file\":\"hr.whsec\"}],\"timeout_s\":1}",
             r.url);
    char *path = notify_file(dir, text);
    gcs_notify_config *c = load(path);
    char url[700];
    snprintf(url, sizeof url, "sqlite:%s/gcscim.db", dir);
    gcs_store *s = NULL;
    assert_int_equal(gcs_store_open(&s, url), 0);
    gcs_notifier *n = NULL;
    gcs_notifier_options o = {.store_url = url, .config = c, .poll_ms = 60000};
    assert_int_equal(gcs_notifier_start(&n, &o), 0);
    add_event(s, c, "user.created", "E1");
    add_event(s, c, "user.deactivated", "E2");
    gcs_notifier_wake(n);
    gcs_notify_counts counts = {0};
    for (int i = 0; i < 500 && counts.delivered < 2; i++) {
        usleep(10000);
        gcs_notifier_counts(&counts, n);
    }
    assert_int_equal(counts.delivered, 2);
    int64_t pending = -1, dead = -1;
    assert_int_equal(gcs_store_notification_counts(&pending, &dead, s), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(dead, 0);
    gcs_notifier_stop(n);
    gcs_notifier_stop(NULL);
    assert_int_equal(r.unsigned_or_bad, 0);
    gcs_store_free(s);
    gcs_notify_config_free(c);
    gcs_test_receiver_free(&r);
    free(secrets);
    free(path);
    gcs_test_tmpdir_remove(dir);
}

/* ==== The notify file ==== */

static void expect_refused(const char *dir, const char *text, const char *words)
{
    char *path = notify_file(dir, text);
    gcs_notify_config *c = NULL;
    assert_true(gcs_notify_config_load(&c, path) < 0);
    assert_null(c);
    if (!strstr(gcs_error_last(), words) || !strstr(gcs_error_last(), "notify.json"))
        fail_msg("expected '%s' naming the file, got: %s", words, gcs_error_last());
    free(path);
}

static void notify_file_errors_name_the_file_and_field(void **state)
{
    (void)state;
    char *dir = gcs_test_tmpdir();
    char *ok = secret_file(dir, "ok.whsec", SECRET_OLD "\n");
    char *open_file = gcs_test_write_file(dir, "open.whsec", SECRET_OLD "\n");
    chmod(open_file, 0644);
    char *three = secret_file(dir, "three.whsec", SECRET_OLD "\n" SECRET_NEW "\n" SECRET_OLD "\n");
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"http://hr.example.com/x\","
                        "\"secret_file\":\"ok.whsec\"}]}",
                   "endpoints[0].url: plain http is refused except to loopback");
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"https://hr.example.com/x\"}]}",
                   "endpoints[0].secret_file: every endpoint needs one");
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"https://hr.example.com/x\","
                        "\"secret_file\":\"open.whsec\"}]}",
                   "is readable by others");
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"https://hr.example.com/x\","
                        "\"secret_file\":\"three.whsec\"}]}",
                   "line 3: at most 2 secrets");
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"https://hr.example.com/x\","
                        "\"secret_file\":\"ok.whsec\",\"events\":[\"user.create\"]}]}",
                   "endpoints[0].events[0]: unknown event type 'user.create'");
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"https://hr.example.com/x\","
                        "\"secret_file\":\"ok.whsec\",\"secret\":\"x\"}]}",
                   "endpoints[0]: unknown key 'secret'");
    expect_refused(dir, "{\"endpoints\":[]}", "endpoints: a list of 1 to");
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"https://a.example/x\",\"secret_file\":"
                        "\"ok.whsec\"},{\"url\":\"https://a.example/x\",\"secret_file\":"
                        "\"ok.whsec\"}]}",
                   "endpoints[1].name: 'https://a.example/x' is taken by endpoints[0]");
    expect_refused(dir, "{\"endpoints\": [}", "line 1");
    /* A pipe or a device (a secret_file of /dev/stdin) is refused, not waited on. */
    char fifo[700];
    snprintf(fifo, sizeof fifo, "%s/fifo.whsec", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    gcs_test_deadline(60);
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"https://hr.example.com/x\","
                        "\"secret_file\":\"fifo.whsec\"}]}",
                   "fifo.whsec' is not a regular file");
    /* The secret is never in a message. */
    char *bad = secret_file(dir, "bad.whsec", "whsec_!!notbase64-secretvalue\n");
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"https://hr.example.com/x\","
                        "\"secret_file\":\"bad.whsec\"}]}",
                   "bad.whsec' line 1");
    assert_null(strstr(gcs_error_last(), "notbase64-secretvalue"));
    /* A Windows editor's byte order mark is not part of a notify file or a
     * secret; an error names the line an editor shows, blank lines counted. */
    char *bom = secret_file(dir, "bom.whsec", "\xEF\xBB\xBF" SECRET_OLD "\n");
    char *path = notify_file(dir, "\xEF\xBB\xBF{\"endpoints\":[{\"url\":\"https://hr.example.com/x\","
                                  "\"secret_file\":\"bom.whsec\"}]}");
    gcs_notify_config *loaded = NULL;
    if (gcs_notify_config_load(&loaded, path) < 0)
        fail_msg("%s", gcs_error_last());
    gcs_notify_config_free(loaded);
    free(path);
    free(bom);
    char *gap = secret_file(dir, "gap.whsec", "# rotation\n\n" SECRET_OLD "\n\nwhsec_!!x\n");
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"https://hr.example.com/x\","
                        "\"secret_file\":\"gap.whsec\"}]}",
                   "gap.whsec' line 5");
    free(gap);
    /* Nor are credentials in a URL, refused or left unterminated. */
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"https://bob:pw-in-url-7@hr.example.com/x\","
                        "\"secret_file\":\"ok.whsec\"}]}",
                   "endpoints[0].url: credentials in the URL");
    assert_null(strstr(gcs_error_last(), "pw-in-url-7"));
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"ftp://bob:pw-in-url-8@hr.example.com/x\","
                        "\"secret_file\":\"ok.whsec\"}]}",
                   "endpoints[0].url: not an https:// URL");
    assert_null(strstr(gcs_error_last(), "pw-in-url-8"));
    expect_refused(dir, "{\"endpoints\":[{\"url\":\"https://bob:pw-in-url-9@hr.example.com/x}]}",
                   "line 1");
    assert_null(strstr(gcs_error_last(), "pw-in-url-9"));
    free(ok);
    free(open_file);
    free(three);
    free(bad);
    gcs_test_tmpdir_remove(dir);
}

/* ==== The program ==== */

static const char profile[] = "version: 1\n"
                              "managed_by: gcscim\n"
                              "match: [externalId, userName]\n"
                              "password: {generate: true, length: 20}\n"
                              "attributes:\n"
                              "  userName: {from: email, transform: [trim, lower], required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  externalId: {from: id, required: true}\n"
                              "  title: title\n";

typedef struct cli_fixture {
    gcs_test_server emu;
    char *dir;
    gcs_test_cli cli;
    gcs_test_receiver r;
    char *profile, *source, *notify, *secrets;
    char db[700], passwords[700];
} cli_fixture;

/* The emulator seeded with `org` (a file), or with one role when NULL. */
static void cli_start_org(cli_fixture *f, int rows, const char *org)
{
    memset(f, 0, sizeof *f);
    f->dir = gcs_test_tmpdir();
    char *seed = org ? strdup(org)
                     : gcs_test_write_file(f->dir, "org.json",
                                           "{\"roles\":[{\"name\":\"Employee\"}]}");
    const char *args[] = {"--seed", seed, "--rate-limit", "0", "--client",
                          "gcscim-emulator:gcscim-emulator-secret", NULL};
    gcs_test_server_start(&f->emu, gcs_test_emulator_path(), args, 10000);
    free(seed);
    snprintf(f->db, sizeof f->db, "sqlite:%s/gcscim.db", f->dir);
    snprintf(f->passwords, sizeof f->passwords, "%s/passwords.csv", f->dir);
    gcs_test_cli_init(&f->cli, &f->emu, f->db);
    f->cli.timeout_ms = 90000;
    f->profile = gcs_test_write_file(f->dir, "profile.yaml", profile);
    gcs_buf csv;
    gcs_buf_init(&csv, 0);
    assert_int_equal(gcs_buf_puts(&csv, "id,first,last,email,title\n"), 0);
    for (int i = 0; i < rows; i++)
        assert_int_equal(gcs_buf_printf(&csv, "E%d,First%d,Last%d,p%d@example.com,Agent\n", i, i,
                                        i, i),
                         0);
    f->source = gcs_test_write_file(f->dir, "hr.csv", csv.ptr);
    gcs_buf_release(&csv);
    gcs_test_receiver_start(&f->r, both, 2);
    f->secrets = secret_file(f->dir, "hr.whsec", SECRET_OLD "\n" SECRET_NEW "\n");
    char text[1024];
    snprintf(text, sizeof text,
             "{\"endpoints\":[{\"name\":\"hr\",\"url\":\"%s\",\"secret_file\":\"hr.whsec\"}],"
             "\"timeout_s\":1}",
             f->r.url);
    f->notify = notify_file(f->dir, text);
}

static void cli_start(cli_fixture *f, int rows)
{
    cli_start_org(f, rows, NULL);
}

static void cli_stop(cli_fixture *f)
{
    gcs_test_server_stop(&f->emu);
    gcs_test_receiver_free(&f->r);
    free(f->profile);
    free(f->source);
    free(f->notify);
    free(f->secrets);
    gcs_test_tmpdir_remove(f->dir);
}

static int sync_run(cli_fixture *f, gcs_test_run *r)
{
    return gcs_test_cli_run(&f->cli, r, "sync", "--source", f->source, "--profile", f->profile,
                            "--passwords-out", f->passwords, "--notify-file", f->notify, NULL);
}

/* Every message: signed with both secrets, no password anywhere in it. */
static void check_signed_and_clean(cli_fixture *f, json_t *msgs)
{
    gcs_buf pw;
    gcs_buf_init(&pw, 0);
    FILE *in = fopen(f->passwords, "r");
    char line[512];
    int passwords = 0;
    while (in && fgets(line, sizeof line, in)) {
        line[strcspn(line, "\r\n")] = 0;
        const char *last = strrchr(line, ',');
        if (!last || strcmp(last + 1, "password") == 0)
            continue;
        passwords++;
        size_t i;
        json_t *m;
        json_array_foreach(msgs, i, m) {
            const char *raw = json_string_value(json_object_get(m, "raw"));
            if (strstr(raw, last + 1))
                fail_msg("a generated password was sent: %s", raw);
        }
    }
    if (in)
        fclose(in);
    assert_true(passwords > 0);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        assert_true(json_is_true(json_array_get(json_object_get(m, "valid"), 0)));
        assert_true(json_is_true(json_array_get(json_object_get(m, "valid"), 1)));
        assert_null(strstr(json_string_value(json_object_get(m, "raw")), "assword"));
    }
    assert_int_equal(f->r.unsigned_or_bad, 0);
    gcs_buf_release(&pw);
}

static void sync_tells_each_outcome_and_its_run(void **state)
{
    (void)state;
    gcs_test_deadline(240);
    cli_fixture f;
    cli_start(&f, 3);
    gcs_test_run r;
    assert_int_equal(gcs_test_cli_run(&f.cli, &r, "sync", "--source", f.source, "--profile",
                                      f.profile, "--passwords-out", f.passwords, "--notify-file",
                                      f.notify, "--log-format", "json", NULL),
                     0);
    if (!strstr(r.out.ptr, "4 notifications delivered, 0 pending for serve."))
        fail_msg("%s\n%s", r.out.ptr, r.err.ptr);
    /* With JSON logs, one audit line per outcome and the run's end, once
     * committed: who, the subject, what changed, the receipts. */
    int audits = 0;
    for (const char *p = r.err.ptr; (p = strstr(p, "\"event\":\"audit.outcome\"")); p++)
        audits++;
    assert_int_equal(audits, 4);
    assert_non_null(strstr(r.err.ptr, "\"type\":\"user.created\""));
    assert_non_null(strstr(r.err.ptr, "\"type\":\"run.finished\""));
    assert_non_null(strstr(r.err.ptr, "\"receipts\":["));
    assert_non_null(strstr(r.err.ptr, "\"actor\":\"cli:"));
    gcs_test_run_release(&r);
    json_t *msgs = gcs_test_receiver_messages(&f.r);
    assert_int_equal(json_array_size(msgs), 4);
    int created = 0, finished = 0;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        json_t *body = json_object_get(m, "body"), *data = json_object_get(body, "data");
        const char *type = json_string_value(json_object_get(body, "type"));
        assert_non_null(json_string_value(json_object_get(body, "timestamp")));
        assert_non_null(json_string_value(json_object_get(data, "run_id")));
        assert_non_null(strstr(json_string_value(json_object_get(data, "actor")), "cli:"));
        if (strcmp(type, "user.created") == 0) {
            created++;
            assert_non_null(json_string_value(json_object_get(data, "genesys_id")));
            assert_int_equal(strncmp(json_string_value(json_object_get(data, "source_key")), "E",
                                     1),
                             0);
            assert_true(json_array_size(json_object_get(data, "receipts")) >= 1);
            assert_true(json_array_size(json_object_get(data, "changes")) >= 3);
        } else if (strcmp(type, "run.finished") == 0) {
            finished++;
            assert_int_equal(
                json_integer_value(json_object_get(json_object_get(data, "counts"), "done")), 3);
            assert_int_equal(json_integer_value(json_object_get(
                                 json_object_get(data, "events"), "user.created")),
                             3);
        } else {
            fail_msg("unexpected event %s", type);
        }
    }
    assert_int_equal(created, 3);
    assert_int_equal(finished, 1);
    check_signed_and_clean(&f, msgs);
    json_decref(msgs);

    /* An update tells what changed, new values only. */
    char *csv = gcs_test_write_file(f.dir, "hr.csv",
                                    "id,first,last,email,title\n"
                                    "E0,First0,Last0,p0@example.com,Supervisor\n"
                                    "E1,First1,Last1,p1@example.com,Agent\n"
                                    "E2,First2,Last2,p2@example.com,Agent\n");
    free(csv);
    assert_int_equal(sync_run(&f, &r), 0);
    assert_null(strstr(r.err.ptr ? r.err.ptr : "", "audit.outcome")); /* text logs: none */
    gcs_test_run_release(&r);
    msgs = gcs_test_receiver_messages(&f.r);
    json_t *upd = json_object_get(json_array_get(msgs, 4), "body");
    assert_string_equal(json_string_value(json_object_get(upd, "type")), "user.updated");
    char *text = json_dumps(json_object_get(json_object_get(upd, "data"), "changes"),
                            JSON_COMPACT);
    assert_string_equal(text, "[{\"attribute\":\"title\",\"value\":\"Supervisor\"}]");
    free(text);
    json_decref(msgs);

    /* The outbox, by hand. */
    assert_int_equal(gcs_test_cli_run(&f.cli, &r, "notifications", "list", "--state",
                                      "delivered", NULL),
                     0);
    assert_non_null(strstr(r.out.ptr, "user.created"));
    assert_non_null(strstr(r.out.ptr, "delivered"));
    gcs_test_run_release(&r);
    assert_int_equal(gcs_test_cli_run(&f.cli, &r, "notifications", "drop", "1", NULL), 1);
    assert_non_null(strstr(r.err.ptr, "notification 1 is delivered: cannot drop it"));
    gcs_test_run_release(&r);
    cli_stop(&f);
}

/* The groups example: each group created or changed is told once as
 * "group.changed", signed, with its members, grants and receipts; routed by
 * the endpoint's events (users' events are not wanted here); a second sync
 * changes nothing and tells nothing. */
static void sync_tells_each_group_change_once(void **state)
{
    (void)state;
    gcs_test_deadline(240);
    cli_fixture f;
    /* The examples' organisation: "Sales Team" exists already. */
    cli_start_org(&f, 0, GCS_TEST_SOURCE_DIR "/examples/org.json");
    char text[1024];
    snprintf(text, sizeof text,
             "{\"endpoints\":[{\"name\":\"hr\",\"url\":\"%s\",\"secret_file\":\"hr.whsec\","
             "\"events\":[\"group.*\",\"provisioning.failed\"]}],\"timeout_s\":1}",
             f.r.url);
    free(f.notify);
    f.notify = notify_file(f.dir, text);
    gcs_test_run r;
    for (int pass = 0; pass < 2; pass++) {
        int rc = gcs_test_cli_run(&f.cli, &r, "sync", "--source",
                                  GCS_TEST_SOURCE_DIR "/examples/hr-export.csv", "--profile",
                                  GCS_TEST_SOURCE_DIR "/examples/profile.yaml", "--notify-file",
                                  f.notify, "--log-format", "json", "--approve",
                                  pass == 0 ? "adopt=1" : "adopt=0", NULL);
        if (rc != 0)
            fail_msg("sync %d: %d\n%s", pass + 1, rc,
                     r.err.ptr && strlen(r.err.ptr) > 2000 ? r.err.ptr + strlen(r.err.ptr) - 2000
                                                          : r.err.ptr);
        if (pass == 0) { /* the audit line of each group's outcome */
            int audits = 0;
            for (const char *p = r.err.ptr; (p = strstr(p, "\"type\":\"group.changed\"")); p++)
                audits++;
            assert_int_equal(audits, 6);
            /* the run's end counts them (its audit line: the endpoint does not take it) */
            assert_non_null(strstr(r.err.ptr, "\"group.changed\":6"));
        }
        gcs_test_run_release(&r);
    }
    static const char *const names[] = {"Customer Experience", "Support", "Tier 1",
                                        "Tier 2",             "Support Leads", "Sales Team"};
    json_t *msgs = gcs_test_receiver_messages(&f.r);
    /* Six groups changed by the first sync, each once; nothing by the second. */
    assert_int_equal(json_array_size(msgs), 6);
    json_t *seen = json_object(), *ids = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        json_t *body = json_object_get(m, "body"), *data = json_object_get(body, "data");
        assert_string_equal(json_string_value(json_object_get(body, "type")), "group.changed");
        assert_true(json_is_true(json_array_get(json_object_get(m, "valid"), 0)));
        assert_true(json_is_true(json_array_get(json_object_get(m, "valid"), 1)));
        const char *name = json_string_value(json_object_get(data, "name"));
        assert_non_null(name);
        assert_null(json_object_get(seen, name)); /* once */
        json_object_set_new(seen, name, json_true());
        json_object_set_new(ids, json_string_value(json_object_get(m, "id")), json_true());
        assert_non_null(json_string_value(json_object_get(data, "genesys_id")));
        assert_string_equal(json_string_value(json_object_get(data, "outcome")), "done");
        assert_string_equal(json_string_value(json_object_get(data, "operation")),
                            strcmp(name, "Sales Team") == 0 ? "update" : "create");
        assert_non_null(json_string_value(json_object_get(data, "run_id")));
        assert_non_null(strstr(json_string_value(json_object_get(data, "actor")), "cli:"));
        assert_true(json_array_size(json_object_get(data, "receipts")) >= 1);
        assert_true(json_is_array(json_object_get(data, "members_removed")));
        assert_true(json_is_array(json_object_get(data, "grants_revoked")));
        assert_true(json_is_array(json_object_get(data, "changes")));
        json_t *added = json_object_get(data, "members_added");
        size_t k;
        json_t *member;
        json_array_foreach(added, k, member) {
            assert_non_null(json_string_value(json_object_get(member, "id")));
            assert_non_null(json_string_value(json_object_get(member, "source_key")));
        }
        if (strcmp(name, "Support Leads") == 0) {
            assert_true(json_array_size(added) >= 1);
            char *settings = json_dumps(json_object_get(data, "changes"), JSON_COMPACT);
            assert_non_null(
                strstr(settings, "{\"attribute\":\"visibility\",\"value\":\"members\"}"));
            free(settings);
            json_t *g = json_array_get(json_object_get(data, "grants_given"), 0);
            assert_string_equal(json_string_value(json_object_get(g, "role")), "Supervisor");
            assert_non_null(json_string_value(json_object_get(g, "roleId")));
        }
    }
    for (size_t n = 0; n < sizeof names / sizeof *names; n++)
        if (!json_object_get(seen, names[n]))
            fail_msg("no group.changed for %s", names[n]);
    assert_int_equal(json_object_size(ids), 6); /* one webhook-id per event */
    assert_int_equal(f.r.unsigned_or_bad, 0);
    json_decref(seen);
    json_decref(ids);
    json_decref(msgs);
    cli_stop(&f);
}

/* A group that fails is told as provisioning.failed, with its group fields
 * and why; the others are told as changed: "Sales Team" is deleted between
 * the plan and its apply, so its update meets a 404. */
static void a_failed_group_is_told_as_failed(void **state)
{
    (void)state;
    gcs_test_deadline(240);
    cli_fixture f;
    cli_start_org(&f, 0, GCS_TEST_SOURCE_DIR "/examples/org.json");
    char plan[800];
    snprintf(plan, sizeof plan, "%s/plan.json", f.dir);
    gcs_test_run r;
    assert_int_equal(gcs_test_cli_run(&f.cli, &r, "plan", "--source",
                                      GCS_TEST_SOURCE_DIR "/examples/hr-export.csv", "--profile",
                                      GCS_TEST_SOURCE_DIR "/examples/profile.yaml", "--out", plan,
                                      NULL),
                     0);
    gcs_test_run_release(&r);
    char *token = gcs_test_emu_token(&f.emu, "gcscim-emulator", "gcscim-emulator-secret");
    gcs_test_http res;
    gcs_test_emu_call(&res, &f.emu, token, "GET", "/api/v2/groups?name=Sales%20Team", NULL, NULL);
    const char *id = json_string_value(
        json_object_get(json_array_get(json_object_get(res.json, "entities"), 0), "id"));
    assert_non_null(id);
    char path[300];
    snprintf(path, sizeof path, "/api/v2/groups/%s", id);
    gcs_test_http_release(&res);
    gcs_test_emu_call(&res, &f.emu, token, "DELETE", path, NULL, NULL);
    gcs_test_http_release(&res);
    free(token);
    int rc = gcs_test_cli_run(&f.cli, &r, "apply", plan, "--notify-file", f.notify, "--approve",
                              "adopt=1", NULL);
    if (rc != 1 && rc != 3)
        fail_msg("apply: %d\n%s", rc, r.err.ptr);
    gcs_test_run_release(&r);
    json_t *msgs = gcs_test_receiver_messages(&f.r);
    int failed = 0, changed = 0;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        json_t *body = json_object_get(m, "body"), *data = json_object_get(body, "data");
        const char *type = json_string_value(json_object_get(body, "type"));
        const char *key = json_string_value(json_object_get(data, "source_key"));
        if (!key || strncmp(key, "group:", 6) != 0)
            continue; /* a person's */
        assert_true(json_is_true(json_array_get(json_object_get(m, "valid"), 0)));
        if (strcmp(type, "provisioning.failed") == 0) {
            failed++;
            assert_string_equal(key, "group:sales");
            assert_string_equal(json_string_value(json_object_get(data, "name")), "Sales Team");
            assert_string_equal(json_string_value(json_object_get(data, "outcome")), "failed");
            assert_non_null(strstr(json_string_value(json_object_get(data, "detail")),
                                   "update failed"));
            assert_true(json_array_size(json_object_get(data, "receipts")) >= 1);
        } else {
            assert_string_equal(type, "group.changed");
            changed++;
        }
    }
    assert_int_equal(failed, 1);
    assert_int_equal(changed, 5);
    json_decref(msgs);
    cli_stop(&f);
}

/* Starts gcscim with the fixture's environment and its output thrown away. */
static pid_t spawn_sync(cli_fixture *f)
{
    const char *argv[] = {gcs_test_cli_path(), "sync", "--source", f->source, "--profile",
                          f->profile, "--passwords-out", f->passwords, "--notify-file",
                          f->notify, NULL};
    char home[800];
    snprintf(home, sizeof home, "HOME=%s", f->dir);
    const char *env[] = {f->cli.env_api, f->cli.env_db, f->cli.client_id_env, f->cli.secret_env,
                         home, "PATH=/usr/bin:/bin", NULL};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execve(argv[0], (char *const *)argv, (char *const *)env);
        _exit(127);
    }
    return pid;
}

/* kill -9 after the outcomes are durable and before they are delivered: the
 * next run delivers every one, with the webhook-id of the first attempt. */
static void kill_9_between_outcome_and_delivery_loses_nothing(void **state)
{
    (void)state;
    gcs_test_deadline(240);
    cli_fixture f;
    cli_start(&f, 3);
    gcs_test_receiver_set_mode(&f.r, GCS_RECEIVER_KILL_SENDER, 0);
    pid_t pid = spawn_sync(&f);
    f.r.kill_pid = pid;
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    json_t *first = gcs_test_receiver_messages(&f.r);
    assert_true(json_array_size(first) >= 1);

    /* The next run: nothing left to apply; the outbox is sent once the dead
     * sender's lease (2 x timeout + 1 s) has run out. */
    gcs_test_receiver_set_mode(&f.r, GCS_RECEIVER_OK, 0);
    usleep(3200 * 1000);
    gcs_test_run r;
    assert_int_equal(sync_run(&f, &r), 0);
    if (!strstr(r.out.ptr, "4 notifications delivered, 0 pending for serve."))
        fail_msg("%s\n%s", r.out.ptr, r.err.ptr);
    gcs_test_run_release(&r);

    json_t *all = gcs_test_receiver_messages(&f.r);
    /* Each event delivered (answered 2xx) exactly once, and any earlier
     * attempt of it carried the same webhook-id and body. */
    json_t *by_id = json_object();
    size_t i;
    json_t *m;
    int delivered = 0;
    json_array_foreach(all, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        const char *raw = json_string_value(json_object_get(m, "raw"));
        json_t *seen = json_object_get(by_id, id);
        if (seen)
            assert_string_equal(json_string_value(seen), raw);
        else
            json_object_set_new(by_id, id, json_string(raw));
        if (json_integer_value(json_object_get(m, "answered")) < 300)
            delivered++;
    }
    assert_int_equal(delivered, 4);
    assert_int_equal(json_object_size(by_id), 4);
    json_array_foreach(first, i, m)
        assert_non_null(json_object_get(by_id, json_string_value(json_object_get(m, "id"))));
    check_signed_and_clean(&f, all);
    json_decref(by_id);
    json_decref(all);
    json_decref(first);
    cli_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delivery_is_signed_retried_and_recovers),
        cmocka_unit_test(huge_redirecting_and_slow_endpoints),
        cmocka_unit_test(each_endpoint_gets_its_events_with_its_secret),
        cmocka_unit_test(the_notifier_thread_sends_what_is_written),
        cmocka_unit_test(notify_file_errors_name_the_file_and_field),
        cmocka_unit_test(sync_tells_each_outcome_and_its_run),
        cmocka_unit_test(sync_tells_each_group_change_once),
        cmocka_unit_test(a_failed_group_is_told_as_failed),
        cmocka_unit_test(kill_9_between_outcome_and_delivery_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
