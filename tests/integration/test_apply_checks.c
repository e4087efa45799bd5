/*
 * apply's own checks, through the library against the emulator, with plans
 * built in memory (so that a hand-edited plan file need not get past the plan's
 * identity check to be tested): an operation the planner marked unmanaged is
 * refused unless it is an adoption; a deactivation is re-checked against the
 * user as it is now; a plan held by another process is refused without a
 * request; a finished plan is "already applied" without a request; a failed
 * run retries only its failed items.
 */
#include "gcstest.h"
#include "httptest.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "engine/apply.h"
#include "genesys/directory.h"
#include "genesys/session.h"
#include "mapping/profile.h"
#include "store/store.h"

static const char seed[] =
    "{\"roles\":[{\"name\":\"Master Admin\"}],\"users\":["
    " {\"userName\":\"admin@example.com\",\"displayName\":\"The Admin\",\"title\":\"Boss\","
    "  \"active\":true},"
    " {\"userName\":\"m1@example.com\",\"displayName\":\"Managed One\",\"title\":\"Agent\","
    "  \"active\":true,\"" GCS_SCIM_GENESYS_USER "\":{\"externalIds\":[{\"authority\":\"gcscim\","
    "\"value\":\"M1\"}]}}]}";

typedef struct fixture {
    gcs_test_server emu;
    char *dir;
    gcs_config cfg;
    gcs_genesys_session *session;
    gcs_store *store;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = gcs_test_tmpdir();
    gcs_test_emulator_start_seeded(&f->emu, f->dir, seed, NULL);
    gcs_log_set_level(GCS_LOG_OFF);
    gcs_test_config_for_emulator(&f->cfg, f->emu.api_url);
    gcs_test_open_session_and_store(&f->session, &f->store, &f->cfg, f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gcs_store_free(f->store);
    gcs_genesys_session_free(f->session);
    gcs_config_release(&f->cfg);
    gcs_test_server_stop(&f->emu);
    gcs_test_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* The user as the emulator holds it now (new reference). */
static json_t *user_named(fixture *f, const char *name)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "state", NULL);
    size_t i;
    json_t *u, *found = NULL;
    json_array_foreach(json_object_get(st, "users"), i, u)
    {
        if (strcmp(json_string_value(json_object_get(u, "userName")), name) == 0)
            found = json_incref(u);
    }
    json_decref(st);
    assert_non_null(found);
    return found;
}

static long emu_requests(fixture *f)
{
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "stats", NULL);
    long n = (long)json_integer_value(json_object_get(st, "requests"));
    json_decref(st);
    return n;
}

static void plan_start(gcs_plan *p)
{
    gcs_plan_options o;
    gcs_plan_options_init(&o);
    assert_int_equal(gcs_plan_begin(p, "http://127.0.0.1:1", "hr.csv", "p.yaml", &o), 0);
    json_object_set_new(p->doc, "marker", json_string("gcscim"));
}

/* Adds kind for `name`'s user: replace `attr` with `value`. */
static void plan_op(fixture *f, gcs_plan *p, gcs_plan_kind kind, const char *key, const char *name,
                    const char *attr, json_t *value, int managed)
{
    json_t *u = user_named(f, name);
    char *etag = gcs_directory_user_etag(u);
    json_t *ops = json_pack("[{s:s,s:s,s:o}]", "op", "replace", "path", attr, "value", value);
    json_t *extra = managed < 0 ? NULL : json_pack("{s:b}", "managed", managed);
    assert_int_equal(gcs_plan_add(p, kind, key, name, json_string_value(json_object_get(u, "id")),
                                  etag, ops, NULL, extra),
                     0);
    free(etag);
    json_decref(u);
}

static int apply(fixture *f, gcs_apply_result *r, const gcs_plan *p)
{
    gcs_apply_options o = {.command = "apply"};
    gcs_plan_options_init(&o.approval);
    assert_int_equal(gcs_plan_options_approve(&o.approval, "deactivate=10"), 0);
    assert_int_equal(gcs_plan_options_approve(&o.approval, "adopt=10"), 0);
    return gcs_apply_run(r, f->session->client, f->store, p, &o);
}

static void unmanaged_update_is_refused_but_an_adoption_is_not(void **state)
{
    fixture *f = *state;
    gcs_plan p;
    gcs_apply_result r;
    plan_start(&p);
    plan_op(f, &p, GCS_PLAN_UPDATE, "X1", "admin@example.com", "title", json_string("Pwned"), 0);
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(apply(f, &r, &p), GCS_ERROR);
    assert_int_equal(r.counts[GCS_APPLY_DRIFT], 1);
    json_t *u = user_named(f, "admin@example.com");
    assert_string_equal(json_string_value(json_object_get(u, "title")), "Boss");
    json_decref(u);
    gcs_plan_release(&p);

    plan_start(&p);
    plan_op(f, &p, GCS_PLAN_ADOPT, "X1", "admin@example.com", "title", json_string("Adopted"), 0);
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(apply(f, &r, &p), 0);
    assert_int_equal(r.counts[GCS_APPLY_ADOPTED], 1);
    u = user_named(f, "admin@example.com");
    assert_string_equal(json_string_value(json_object_get(u, "title")), "Adopted");
    json_decref(u);
    gcs_plan_release(&p);
}

static void deactivation_is_rechecked_against_the_user(void **state)
{
    fixture *f = *state;
    gcs_plan p;
    gcs_apply_result r;
    plan_start(&p);
    /* A deactivation pointed at an unmanaged admin (as a hand-edited plan would). */
    plan_op(f, &p, GCS_PLAN_DEACTIVATE, "M9", "admin@example.com", "active", json_false(), -1);
    plan_op(f, &p, GCS_PLAN_DEACTIVATE, "M1", "m1@example.com", "active", json_false(), -1);
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(apply(f, &r, &p), GCS_ERROR);
    assert_int_equal(r.counts[GCS_APPLY_DRIFT], 1);
    assert_int_equal(r.counts[GCS_APPLY_DONE], 1);
    json_t *u = user_named(f, "admin@example.com");
    assert_true(json_is_true(json_object_get(u, "active")));
    json_decref(u);
    u = user_named(f, "m1@example.com");
    assert_true(json_is_false(json_object_get(u, "active")));
    json_decref(u);
    gcs_plan_release(&p);
}

static void a_plan_held_elsewhere_is_refused_without_a_request(void **state)
{
    fixture *f = *state;
    gcs_plan p;
    gcs_apply_result r;
    plan_start(&p);
    plan_op(f, &p, GCS_PLAN_UPDATE, "M1", "m1@example.com", "title", json_string("Lead"), 1);
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(gcs_store_lease_take(NULL, f->store, gcs_plan_content_key(&p), "far:77:t", "far",
                                          77, 60000, NULL),
                     0);
    long before = emu_requests(f);
    assert_int_equal(apply(f, &r, &p), GCS_EREFUSED);
    assert_non_null(strstr(gcs_error_last(), "pid 77 on far, since "));
    assert_int_equal(emu_requests(f), before);
    /* Once it is given back, the plan runs. */
    assert_int_equal(gcs_store_lease_release(f->store, gcs_plan_content_key(&p), "far:77:t"), 0);
    assert_int_equal(apply(f, &r, &p), 0);
    assert_int_equal(r.counts[GCS_APPLY_DONE], 1);
    /* The lease is given back at the end. */
    gcs_run_lease l;
    assert_int_equal(gcs_store_lease_get(&l, f->store, gcs_plan_content_key(&p)), GCS_ENOTFOUND);
    gcs_plan_release(&p);
}

static void finished_plan_is_already_applied_and_failed_items_alone_are_retried(void **state)
{
    fixture *f = *state;
    gcs_plan p;
    gcs_apply_result r;
    plan_start(&p);
    plan_op(f, &p, GCS_PLAN_UPDATE, "M1", "m1@example.com", "title", json_string("Lead"), 1);
    plan_op(f, &p, GCS_PLAN_UPDATE, "X1", "admin@example.com", "title", json_string("Pwned"), 0);
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(apply(f, &r, &p), GCS_ERROR);
    assert_int_equal(r.counts[GCS_APPLY_DONE], 1);
    char run_id[80];
    snprintf(run_id, sizeof run_id, "%s", r.run_id);
    gcs_run run;
    assert_int_equal(gcs_store_run_get(&run, f->store, run_id), 0);
    assert_string_equal(run.state, GCS_RUN_FAILED);
    gcs_run_release(&run);

    /* Again: the same run, the done item skipped, only the failed one tried. */
    long before = emu_requests(f);
    assert_int_equal(apply(f, &r, &p), GCS_ERROR);
    assert_true(r.resumed);
    assert_string_equal(r.run_id, run_id);
    assert_int_equal(r.counts[GCS_APPLY_SKIPPED], 1);
    assert_int_equal(r.counts[GCS_APPLY_DRIFT], 1);
    assert_int_equal(emu_requests(f), before); /* the refusal needs no call either */
    gcs_plan_release(&p);

    /* A plan that finished: already applied, nothing sent. */
    plan_start(&p);
    plan_op(f, &p, GCS_PLAN_UPDATE, "M1", "m1@example.com", "title", json_string("Chief"), 1);
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(apply(f, &r, &p), 0);
    assert_false(r.already_applied);
    snprintf(run_id, sizeof run_id, "%s", r.run_id);
    before = emu_requests(f);
    assert_int_equal(apply(f, &r, &p), 0);
    assert_true(r.already_applied);
    assert_string_equal(r.run_id, run_id);
    assert_true(r.finished_ms > 0);
    assert_int_equal(r.requests, 0);
    assert_int_equal(emu_requests(f), before);
    gcs_plan_release(&p);
}

static void plan_create(gcs_plan *p, const char *key, const char *name)
{
    json_t *body =
        json_pack("{s:[s],s:s,s:s,s:{s:[{s:s,s:s}]}}", "schemas",
                  "urn:ietf:params:scim:schemas:core:2.0:User", "userName", name, "displayName",
                  key, GCS_SCIM_GENESYS_USER, "externalIds", "authority", "gcscim", "value", key);
    assert_int_equal(gcs_plan_add(p, GCS_PLAN_CREATE, key, name, NULL, NULL, body, NULL, NULL), 0);
}

typedef struct found_receipt {
    const char *want_id;
    int reads_with_id;
} found_receipt;

static int on_receipt(const gcs_receipt *r, void *payload)
{
    found_receipt *f = payload;
    if (r->operation && strcmp(r->operation, "read") == 0 && r->genesys_id &&
        strcmp(r->genesys_id, f->want_id) == 0)
        f->reads_with_id++;
    return 0;
}

/* A create that finds its own earlier user (409, then the lookup by marker)
 * is done, and the lookup's receipt names the key and the user it found: after
 * a crash it may be the only receipt of that create. */
static void lookup_receipts_name_the_key_and_the_user_found(void **state)
{
    fixture *f = *state;
    char *token = gcs_test_emu_token(&f->emu, "gcscim-emulator", "gcscim-emulator-secret");
    gcs_test_http h;
    gcs_test_emu_call(
        &h, &f->emu, token, "POST", "/api/v2/scim/v2/users",
        "{\"userName\":\"c1@example.com\",\"displayName\":\"C1\",\"" GCS_SCIM_GENESYS_USER
        "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"C1\"}]}}",
        NULL);
    assert_int_equal(h.status, 201);
    char *id = strdup(json_string_value(json_object_get(h.json, "id")));
    gcs_test_http_release(&h);
    free(token);

    gcs_plan p;
    gcs_apply_result r;
    plan_start(&p);
    plan_create(&p, "C1", "c1@example.com");
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(apply(f, &r, &p), 0);
    assert_int_equal(r.counts[GCS_APPLY_DONE], 1);
    found_receipt fr = {id, 0};
    gcs_receipt_filter filter = {.user = "C1"};
    assert_int_equal(gcs_store_receipts_each(f->store, &filter, on_receipt, &fr), 0);
    assert_true(fr.reads_with_id >= 1);
    free(id);
    gcs_plan_release(&p);
}

/* A create that meets a conflict looks its user up; when the marker matches
 * two users it refuses to adopt either (one of them may be somebody else),
 * as the planner's lookup does, instead of taking whichever came first. */
static void a_lookup_that_matches_two_users_adopts_neither(void **state)
{
    fixture *f = *state;
    char *token = gcs_test_emu_token(&f->emu, "gcscim-emulator", "gcscim-emulator-secret");
    const char *names[] = {"c2a@example.com", "c2b@example.com"};
    for (int i = 0; i < 2; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"userName\":\"%s\",\"displayName\":\"C2\",\"" GCS_SCIM_GENESYS_USER
                 "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"C2\"}]}}",
                 names[i]);
        gcs_test_http h;
        gcs_test_emu_call(&h, &f->emu, token, "POST", "/api/v2/scim/v2/users", body, NULL);
        assert_int_equal(h.status, 201);
        gcs_test_http_release(&h);
    }
    free(token);

    gcs_plan p;
    gcs_apply_result r;
    plan_start(&p);
    plan_create(&p, "C2", "c2a@example.com");
    assert_int_equal(gcs_plan_finish(&p), 0);
    assert_int_equal(apply(f, &r, &p), GCS_ERROR);
    assert_int_equal(r.counts[GCS_APPLY_DONE], 0);
    assert_int_equal(r.counts[GCS_APPLY_FAILED], 1);
    gcs_plan_release(&p);
}

static int steal_lease(const gcs_apply_event *e, void *payload)
{
    (void)e;
    fixture *f = payload;
    /* Another process took the plan over (this one stalled past its lease). */
    return gcs_store_exec_raw(f->store, "UPDATE run_leases SET owner = 'thief:1:x', host = 'thief',"
                                        " pid = 1");
}

static void on_event_steal(const gcs_apply_event *e, void *payload)
{
    static int once;
    if (!once++)
        assert_int_equal(steal_lease(e, payload), 0);
}

/* A run that finds its lease taken over stops at once: two runs of one plan
 * must never go on together. */
static void a_run_whose_lease_is_taken_over_stops(void **state)
{
    fixture *f = *state;
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":100}"));
    gcs_plan p;
    gcs_apply_result r;
    plan_start(&p);
    for (int i = 0; i < 60; i++) {
        char key[16], name[64];
        snprintf(key, sizeof key, "N%02d", i);
        snprintf(name, sizeof name, "n%02d@example.com", i);
        plan_create(&p, key, name);
    }
    assert_int_equal(gcs_plan_finish(&p), 0);
    gcs_apply_options o = {
        .command = "apply", .on_event = on_event_steal, .payload = f, .lease_ms = 300};
    gcs_plan_options_init(&o.approval);
    int rc = gcs_apply_run(&r, f->session->client, f->store, &p, &o);
    assert_int_equal(rc, GCS_ECONFLICT);
    assert_non_null(strstr(gcs_error_last(), "was lost"));
    assert_true(r.counts[GCS_APPLY_DONE] < 60);
    /* The thief's lease is left alone. */
    gcs_run_lease l;
    assert_int_equal(gcs_store_lease_get(&l, f->store, gcs_plan_content_key(&p)), 0);
    assert_string_equal(l.owner, "thief:1:x");
    gcs_run_lease_release(&l);
    gcs_plan_release(&p);
}

static volatile sig_atomic_t stop_flag;

static void on_alarm(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* A stop with calls in flight that take longer than the grace: apply returns
 * within the grace, the run is interrupted, the creates on the wire are left
 * in progress, and the resume finishes without creating anybody twice. */
static void a_stop_waits_no_longer_than_its_grace(void **state)
{
    fixture *f = *state;
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":3000}"));
    gcs_plan p;
    gcs_apply_result r;
    plan_start(&p);
    for (int i = 0; i < 6; i++) {
        char key[16], name[64];
        snprintf(key, sizeof key, "S%d", i);
        snprintf(name, sizeof name, "s%d@example.com", i);
        plan_create(&p, key, name);
    }
    assert_int_equal(gcs_plan_finish(&p), 0);
    gcs_apply_options o = {.command = "apply", .stop = &stop_flag, .stop_grace_ms = 200};
    gcs_plan_options_init(&o.approval);
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, &old);
    struct itimerval t = {.it_value = {0, 300000}};
    stop_flag = 0;
    setitimer(ITIMER_REAL, &t, NULL);
    int64_t t0 = gcs_time_mono_ms();
    int rc = gcs_apply_run(&r, f->session->client, f->store, &p, &o);
    int64_t took = gcs_time_mono_ms() - t0;
    sigaction(SIGALRM, &old, NULL);
    assert_int_equal(rc, GCS_ECANCELLED);
    assert_true(r.interrupted);
    if (getenv("GCS_TEST_VERBOSE"))
        printf("stopped in %lld ms\n", (long long)took);
    if (took > 2500)
        fail_msg("the stop took %lld ms; the grace is 200 ms", (long long)took);
    gcs_run run;
    assert_int_equal(gcs_store_run_get(&run, f->store, r.run_id), 0);
    assert_string_equal(run.state, GCS_RUN_INTERRUPTED);
    assert_true(run.in_progress >= 1);
    assert_int_equal(run.done, 0);
    gcs_run_release(&run);
    gcs_run_lease l;
    assert_int_equal(gcs_store_lease_get(&l, f->store, gcs_plan_content_key(&p)), GCS_ENOTFOUND);

    /* Resumed: everyone there once. */
    json_decref(gcs_test_emu_admin(&f->emu, "POST", "config", "{\"latency_ms\":0}"));
    stop_flag = 0;
    assert_int_equal(gcs_apply_run(&r, f->session->client, f->store, &p, &o), 0);
    assert_true(r.resumed);
    assert_int_equal(r.counts[GCS_APPLY_DONE], 6);
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "state", NULL);
    int found = 0;
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(st, "users"), i, u)
    {
        const char *name = json_string_value(json_object_get(u, "userName"));
        found += name[0] == 's' && strstr(name, "@example.com") != NULL;
    }
    json_decref(st);
    assert_int_equal(found, 6);
    gcs_plan_release(&p);
}

/* jansson's allocations during an apply, counted: what lives at once, and the
 * most at once (blocks allocated before the count began and freed during it
 * lower the count: the peak is a little under the truth, never over). */
static long json_live, json_peak;

static void *counting_malloc(size_t n)
{
    void *p = malloc(n);
    if (p) {
        json_live += (long)malloc_usable_size(p);
        if (json_live > json_peak)
            json_peak = json_live;
    }
    return p;
}

static void counting_free(void *p)
{
    if (p)
        json_live -= (long)malloc_usable_size(p);
    free(p);
}

/* A plan read from its file and applied while jansson holds at any moment far
 * less than the plan's operations would take as JSON (their text alone is
 * over the limit): apply reads each operation when it runs it. */
static void a_plan_larger_than_its_memory_is_applied(void **state)
{
    fixture *f = *state;
    enum { USERS = 1500, PAD = 2000 };
    const long limit = 2L * 1024 * 1024;
    char *filler = malloc(PAD + 1);
    memset(filler, 'x', PAD);
    filler[PAD] = '\0';
    gcs_plan p;
    plan_start(&p);
    for (int i = 0; i < USERS; i++) {
        char key[32], name[64];
        snprintf(key, sizeof key, "BIG%05d", i);
        snprintf(name, sizeof name, "big%05d@example.com", i);
        json_t *body = json_pack("{s:[s],s:s,s:s,s:s,s:{s:[{s:s,s:s}]}}", "schemas",
                                 "urn:ietf:params:scim:schemas:core:2.0:User", "userName", name,
                                 "displayName", key, "title", filler, GCS_SCIM_GENESYS_USER,
                                 "externalIds", "authority", "gcscim", "value", key);
        assert_int_equal(gcs_plan_add(&p, GCS_PLAN_CREATE, key, name, NULL, NULL, body, NULL, NULL),
                         0);
    }
    free(filler);
    gcs_plan_set_counts(&p, 0, 0);
    assert_int_equal(gcs_plan_finish(&p), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/big.plan.json", f->dir);
    assert_int_equal(gcs_plan_write(&p, path), 0);
    gcs_plan_release(&p);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > limit);

    json_live = json_peak = 0;
    json_set_alloc_funcs(counting_malloc, counting_free);
    gcs_apply_result r;
    int rc = gcs_plan_read(&p, path);
    if (rc == 0)
        rc = apply(f, &r, &p);
    gcs_plan_release(&p);
    json_set_alloc_funcs(malloc, free);
    if (rc != 0)
        fail_msg("apply: %s", gcs_error_last());
    assert_int_equal(r.counts[GCS_APPLY_DONE], USERS);
    if (json_peak >= limit)
        fail_msg("jansson held %ld bytes at once, the limit is %ld", json_peak, limit);
}

int main(void)
{
    gcs_test_deadline(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(unmanaged_update_is_refused_but_an_adoption_is_not, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(deactivation_is_rechecked_against_the_user, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_plan_held_elsewhere_is_refused_without_a_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            finished_plan_is_already_applied_and_failed_items_alone_are_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(a_lookup_that_matches_two_users_adopts_neither, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(lookup_receipts_name_the_key_and_the_user_found, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_run_whose_lease_is_taken_over_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(a_stop_waits_no_longer_than_its_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(a_plan_larger_than_its_memory_is_applied, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
