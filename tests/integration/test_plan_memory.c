/*
 * Planning in flat memory: a plan keeps of each row only a few words in memory
 * (its strings wait in the planner's spill file until the row is decided, and
 * each operation waits in the plan's own file), so the memory a plan of many
 * new people needs grows by far less per row than the rows' text.
 *
 * Two measures of it. The live heap, sampled while gcs_planner_run plans
 * 20,000 creates (the sanitizer's count under ASan, glibc's otherwise), must
 * grow by less than RowHeapBudget bytes per row. And, where the build is not
 * sanitized (ASan's shadow memory needs terabytes of address space), `gcscim
 * plan` of 60,000 creates must succeed under `ulimit -v` set a few MiB above
 * what a plan of 10 rows needs: the code that kept each mapped row in memory
 * (about 500 bytes a row more) ran out of address space there.
 */
#include "gcstest.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "engine/planner.h"
#include "genesys/session.h"
#include "store/store.h"

#define ROWS 20000
/* What a row may cost the heap while the plan is made: its row_ref, its key in
 * the index, its operation's place in the plan (about 200 bytes in all). Rows
 * kept in memory as mapped users cost some 700. */
#define ROW_HEAP_BUDGET 350

static const char profile[] = "version: 1\n"
                              "match: [userName]\n"
                              "attributes:\n"
                              "  userName: {from: email, required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  title: title\n"
                              "  department: dept\n";

/* Bytes currently allocated on the heap: the sanitizer's count under ASan
 * (whose quarantine keeps freed memory resident, so RSS says nothing there),
 * glibc's otherwise. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
size_t __sanitizer_get_current_allocated_bytes(void); /* the ASan runtime's */
static size_t live_heap(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#else
#define SANITIZED 0
#include <malloc.h>
static size_t live_heap(void)
{
    return mallinfo2().uordblks;
}
#endif

typedef struct fixture {
    gcs_test_server emu;
    char *dir;
    char *profile;
    gcs_config cfg;
    gcs_genesys_session *session;
    gcs_store *store;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = gcs_test_tmpdir();
    gcs_test_emulator_start_seeded(&f->emu, f->dir, "{\"users\":[]}", NULL);
    gcs_log_set_level(GCS_LOG_OFF);
    gcs_test_config_for_emulator(&f->cfg, f->emu.api_url);
    gcs_test_open_session_and_store(&f->session, &f->store, &f->cfg, f->dir);
    f->profile = gcs_test_write_file(f->dir, "profile.yaml", profile);
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
    free(f->profile);
    gcs_test_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* An export of n new people; the caller frees the path. */
static char *write_export(const fixture *f, const char *name, int n)
{
    char *path = gcs_test_write_file(f->dir, name, "email,first,last,title,dept\n");
    FILE *out = fopen(path, "a");
    assert_non_null(out);
    for (int i = 0; i < n; i++)
        fprintf(out, "person%06d@example.com,Person,%d,Agent,Support\n", i, i);
    fclose(out);
    return path;
}

typedef struct sampler {
    atomic_bool stop;
    size_t peak;
} sampler;

static void *sample(void *payload)
{
    sampler *s = payload;
    struct timespec pause = {0, 1000000};
    while (!atomic_load(&s->stop)) {
        size_t now = live_heap();
        if (now > s->peak)
            s->peak = now;
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static void heap_grows_by_a_few_words_per_row(void **state)
{
    fixture *f = *state;
    char *source = write_export(f, "load.csv", ROWS);
    gcs_planner_options po;
    gcs_planner_options_init(&po);
    po.source_path = source;
    po.profile_path = f->profile;
    po.api_url = f->emu.api_url;
    gcs_plan plan;
    gcs_planner_stats stats;
    sampler s = {.peak = 0};
    size_t before = live_heap();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sample, &s), 0);
    int rc = gcs_planner_run(&plan, &stats, f->session->client, &po);
    atomic_store(&s.stop, true);
    pthread_join(t, NULL);
    if (rc != 0)
        fail_msg("plan: %s", gcs_error_last());
    assert_int_equal(stats.created, ROWS);
    assert_int_equal(gcs_plan_size(&plan), ROWS);
    gcs_plan_release(&plan);
    size_t growth = s.peak > before ? s.peak - before : 0;
    print_message("peak heap growth planning %d creates: %zu KiB (%zu bytes a row)\n", ROWS,
                  growth / 1024, growth / ROWS);
    assert_true(growth < (size_t)ROWS * ROW_HEAP_BUDGET);
    free(source);
}

/* gcscim plan of `source` under `ulimit -v kib`: its exit code. */
static int plan_under_limit(const fixture *f, const char *source, long kib)
{
    char limit[32], api[256];
    snprintf(limit, sizeof limit, "%ld", kib);
    snprintf(api, sizeof api, "GENESYSCLOUD_API_URL=%s", f->emu.api_url);
    char out[512], db[600];
    snprintf(out, sizeof out, "%s/plan.json", f->dir);
    snprintf(db, sizeof db, "GCSCIM_DB=sqlite:%s/cli.db", f->dir);
    const char *argv[] = {"/bin/sh", "-c", "ulimit -v \"$0\" && exec \"$@\" >/dev/null", limit,
                          gcs_test_cli_path(), "--log-level", "warn", "plan", "--profile",
                          f->profile, "--source", source, "--out", out, NULL};
    const char *env[] = {api, db, "GENESYSCLOUD_OAUTHCLIENT_ID=gcscim-emulator",
                         "GENESYSCLOUD_OAUTHCLIENT_SECRET=gcscim-emulator-secret", NULL};
    gcs_test_run r;
    gcs_test_run_program(&r, argv, env, NULL, 120000);
    int code = r.exit_code;
    gcs_test_run_release(&r);
    return code;
}

static void plan_fits_a_small_address_space(void **state)
{
    if (SANITIZED)
        skip(); /* ASan reserves its shadow memory: no address-space limit fits it */
    fixture *f = *state;
    char *small = write_export(f, "small.csv", 10);
    char *large = write_export(f, "large.csv", 60000);
    /* The least address space (to 2 MiB) in which a plan of 10 rows is made. */
    long low = 8 * 1024, high = 4 * 1024 * 1024;
    assert_int_equal(plan_under_limit(f, small, high), 0);
    while (high - low > 2048) {
        long mid = (low + high) / 2;
        if (plan_under_limit(f, small, mid) == 0)
            high = mid;
        else
            low = mid;
    }
    /* 60,000 rows in 24 MiB more: about 400 bytes a row, where their text alone
     * (the desired users, some 250 bytes each) and the mapped rows took more. */
    long limit = high + 24 * 1024;
    print_message("a plan of 10 rows fits %ld KiB; 60,000 rows are planned in %ld KiB\n", high,
                  limit);
    assert_int_equal(plan_under_limit(f, large, limit), 0);
    free(small);
    free(large);
}

int main(void)
{
    gcs_test_deadline(880); /* under its ctest TIMEOUT (GCS_LONG_TESTS) */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(heap_grows_by_a_few_words_per_row, setup, teardown),
        cmocka_unit_test_setup_teardown(plan_fits_a_small_address_space, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
