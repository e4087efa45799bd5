/*
 * The planner when what it keeps fails it: its spill file cannot be written or
 * read back, two match values share their hash, a user changes between the
 * passes of a listing, a source can be read only once. Each fails the run or
 * the row, never a decision about the wrong person.
 *
 * The faults come in at link time (-Wl,--wrap, as test_http_wipe does for
 * free): writes to and reads from the spill file (the unlinked file that
 * gcs_row_spill_new opened) fail once armed, and gcs_siphash13 gives two
 * chosen values one hash, and the organisation changes between the two passes
 * of a listing (its active users, then its inactive ones). Each test also checks that its fault was met, so
 * that a change of where the planner writes or reads cannot leave it passing
 * without testing anything.
 */
#include "gcstest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "engine/planner.h"
#include "genesys/session.h"
#include "http/client.h"
#include "httptest.h"
#include "store/store.h"

#define GENESYS_EXT "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User"

/* ==== Faults ==== */

static bool fail_spill_writes, fail_spill_reads_past_start;
static int spill_write_faults, spill_read_faults;
static int spill_fd = -1; /* the file of the latest gcs_row_spill_new */
/* Two values given one hash by gcs_siphash13 (NULL: none). */
static const char *same_hash[2];

int __real_gcs_file_write_all(int fd, const void *p, size_t len);
int __wrap_gcs_file_write_all(int fd, const void *p, size_t len);
ssize_t __real_pread(int fd, void *buf, size_t count, off_t offset);
ssize_t __wrap_pread(int fd, void *buf, size_t count, off_t offset);
uint64_t __real_gcs_siphash13(const void *data, size_t len, uint64_t k0, uint64_t k1);
uint64_t __wrap_gcs_siphash13(const void *data, size_t len, uint64_t k0, uint64_t k1);

struct gcs_row_spill;
int __real_gcs_row_spill_new(struct gcs_row_spill **out);
int __wrap_gcs_row_spill_new(struct gcs_row_spill **out);

/* Whether fd is an unlinked file (the plan's own operations are kept in one too). */
static bool is_unlinked(int fd)
{
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return false;
    target[n] = '\0';
    return strstr(target, " (deleted)") != NULL;
}

/* The spill file is the unlinked file that gcs_row_spill_new adds. */
#define FDS_SEEN 1024
int __wrap_gcs_row_spill_new(struct gcs_row_spill **out)
{
    static bool before[FDS_SEEN];
    for (int fd = 0; fd < FDS_SEEN; fd++)
        before[fd] = is_unlinked(fd);
    int rc = __real_gcs_row_spill_new(out);
    spill_fd = -1;
    for (int fd = 0; rc == 0 && fd < FDS_SEEN && spill_fd < 0; fd++) {
        if (!before[fd] && is_unlinked(fd))
            spill_fd = fd;
    }
    return rc;
}

static bool is_spill(int fd)
{
    return fd >= 0 && fd == spill_fd;
}

int __wrap_gcs_file_write_all(int fd, const void *p, size_t len)
{
    if (fail_spill_writes && is_spill(fd)) {
        spill_write_faults++;
        errno = ENOSPC;
        return -1;
    }
    return __real_gcs_file_write_all(fd, p, len);
}

ssize_t __wrap_pread(int fd, void *buf, size_t count, off_t offset)
{
    if (fail_spill_reads_past_start && offset > 0 && is_spill(fd)) {
        spill_read_faults++;
        errno = EIO;
        return -1;
    }
    return __real_pread(fd, buf, count, offset);
}

uint64_t __wrap_gcs_siphash13(const void *data, size_t len, uint64_t k0, uint64_t k1)
{
    if (same_hash[0] && len == strlen(same_hash[1]) && memcmp(data, same_hash[1], len) == 0)
        return __real_gcs_siphash13(same_hash[0], strlen(same_hash[0]), k0, k1);
    return __real_gcs_siphash13(data, len, k0, k1);
}

/* The change made to a user (its id) just before the listing's inactive pass
 * begins: once, through the SCIM API. */
static const gcs_test_server *between_passes_emu;
static char *between_passes_id, *between_passes_token;
static const char *between_passes_patch;
static int between_passes_made;

int __real_gcs_http_call(gcs_http_client_response *out, gcs_http_client *c,
                         const gcs_http_client_request *req);
int __wrap_gcs_http_call(gcs_http_client_response *out, gcs_http_client *c,
                         const gcs_http_client_request *req);

int __wrap_gcs_http_call(gcs_http_client_response *out, gcs_http_client *c,
                         const gcs_http_client_request *req)
{
    if (between_passes_id && !between_passes_made && req->path &&
        strstr(req->path, "filter=active%20eq%20false")) {
        char path[300];
        snprintf(path, sizeof path, "/api/v2/scim/v2/users/%s", between_passes_id);
        gcs_test_http r;
        gcs_test_emu_call(&r, between_passes_emu, between_passes_token, "PATCH", path,
                          between_passes_patch, NULL);
        if (r.status == 200)
            between_passes_made++;
        else
            print_error("the change between the passes failed: %ld %s\n", r.status, r.body.ptr);
        gcs_test_http_release(&r);
    }
    return __real_gcs_http_call(out, c, req);
}

/* The source file replaced just after the profile was checked against it
 * (an export rewritten by its job while the plan starts), with this text. */
static const char *replace_source_with;

struct gcs_profile;
int __real_gcs_source_check_profile(const struct gcs_profile *profile, const char *path,
                                    int format, const void *options);
int __wrap_gcs_source_check_profile(const struct gcs_profile *profile, const char *path,
                                    int format, const void *options);

int __wrap_gcs_source_check_profile(const struct gcs_profile *profile, const char *path,
                                    int format, const void *options)
{
    int rc = __real_gcs_source_check_profile(profile, path, format, options);
    if (replace_source_with) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(replace_source_with, f);
        fclose(f);
    }
    return rc;
}

/* ==== Fixture ==== */

static const char *source_override; /* a path to plan instead of hr.csv, or NULL */

/* A title long enough that the user's kept text goes to the spill file's disk
 * at once (past the spill's 64 KiB of writes gathered, and past its 128 KiB
 * window of reads), not into a buffer a fault never reaches. */
#define LONG_TITLE 150000

static const char profile[] = "version: 1\n"
                              "managed_by: gcscim\n"
                              "match: [userName]\n"
                              "attributes:\n"
                              "  userName: {from: email, required: true}\n"
                              "  displayName: {template: \"{first} {last}\", required: true}\n"
                              "  title: title\n";
/* Matched by externalId alone: a row without a match meets Genesys's userNames. */
static const char profile_by_external_id[] = "version: 1\n"
                                             "managed_by: gcscim\n"
                                             "match: [externalId]\n"
                                             "attributes:\n"
                                             "  userName: {from: email, required: true}\n"
                                             "  externalId: {from: email, required: true}\n"
                                             "  displayName: {template: \"{first} {last}\", required: true}\n"
                                             "  title: title\n";

typedef struct fixture {
    gcs_test_server emu;
    char *dir;
    char *profile;
    gcs_config cfg;
    gcs_genesys_session *session;
    gcs_store *store;
} fixture;

/* The emulator seeded with `users` (a JSON array's items), a session to it,
 * and the profile (NULL: `profile`). */
static fixture *start_with(const char *users, const char *profile_text)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = gcs_test_tmpdir();
    size_t n = strlen(users) + 64;
    char *seed = malloc(n);
    snprintf(seed, n, "{\"users\":[%s]}", users);
    gcs_test_emulator_start_seeded(&f->emu, f->dir, seed, NULL);
    free(seed);
    gcs_log_set_level(GCS_LOG_OFF);
    gcs_test_config_for_emulator(&f->cfg, f->emu.api_url);
    gcs_test_open_session_and_store(&f->session, &f->store, &f->cfg, f->dir);
    f->profile = gcs_test_write_file(f->dir, "profile.yaml", profile_text ? profile_text : profile);
    return f;
}

static fixture *start(const char *users)
{
    return start_with(users, NULL);
}

static int teardown(void **state)
{
    fixture *f = *state;
    fail_spill_writes = fail_spill_reads_past_start = false;
    spill_write_faults = spill_read_faults = 0;
    same_hash[0] = same_hash[1] = NULL;
    source_override = NULL;
    replace_source_with = NULL;
    free(between_passes_id);
    free(between_passes_token);
    between_passes_id = between_passes_token = NULL;
    between_passes_made = 0;
    if (!f)
        return 0;
    gcs_store_free(f->store);
    gcs_genesys_session_free(f->session);
    gcs_config_release(&f->cfg);
    gcs_test_server_stop(&f->emu);
    free(f->profile);
    gcs_test_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* A seeded user: userName, displayName, title (of `title_len` x's when title is NULL),
 * with the managed marker `key` unless NULL. */
static char *user_json(const char *user_name, const char *title, size_t title_len,
                       const char *key)
{
    char *long_title = NULL;
    if (!title) {
        long_title = malloc(title_len + 1);
        memset(long_title, 'x', title_len);
        long_title[title_len] = '\0';
        title = long_title;
    }
    size_t n = strlen(title) + strlen(user_name) + 512;
    char *out = malloc(n);
    char marker[200] = "";
    if (key)
        snprintf(marker, sizeof marker,
                 ",\"" GENESYS_EXT "\":{\"externalIds\":[{\"authority\":\"gcscim\",\"value\":\"%s\"}]}",
                 key);
    snprintf(out, n, "{\"userName\":\"%s\",\"displayName\":\"Some One\",\"title\":\"%s\"%s}",
             user_name, title, marker);
    free(long_title);
    return out;
}

/* gcs_planner_run of `rows` (CSV after its header); the plan is released. */
static int plan(fixture *f, const char *rows, bool no_deactivate,
                void (*on_read)(void *, const char *, const char *), gcs_planner_stats *stats,
                long counts[GCS_PLAN__KINDS])
{
    char csv[1024];
    snprintf(csv, sizeof csv, "email,first,last,title\n%s", rows);
    char *source = gcs_test_write_file(f->dir, "hr.csv", csv);
    gcs_planner_options po;
    gcs_planner_options_init(&po);
    po.source_path = source_override ? source_override : source;
    po.profile_path = f->profile;
    po.api_url = f->emu.api_url;
    po.plan.no_deactivate = no_deactivate;
    po.on_targeted_read = on_read;
    gcs_plan out;
    int rc = gcs_planner_run(&out, stats, f->session->client, &po);
    memset(counts, 0, GCS_PLAN__KINDS * sizeof *counts);
    if (rc == 0) {
        for (size_t i = 0; i < gcs_plan_size(&out); i++)
            counts[gcs_plan_kind_at(&out, i)]++;
        gcs_plan_release(&out);
    }
    free(source);
    return rc;
}

static void arm_write_faults(void *ctx, const char *key, const char *path)
{
    (void)ctx, (void)key, (void)path;
    fail_spill_writes = true;
}

/* ==== Tests ==== */

/* The user a targeted read finds but the planner cannot keep (its text not
 * written to the spill file) fails the run: left out, its row would match
 * nobody and be planned as a create of someone who exists. */
static void user_read_but_not_kept_fails_the_run(void **state)
{
    char *carol = user_json("carol@example.com", NULL, LONG_TITLE, NULL);
    fixture *f = *state = start(carol);
    free(carol);
    static const char rows[] = "carol@example.com,Carol,Cole,Lead\n";
    gcs_planner_stats stats;
    long counts[GCS_PLAN__KINDS];
    /* Without the fault: carol is found by her targeted read and adopted. */
    assert_int_equal(plan(f, rows, true, NULL, &stats, counts), 0);
    assert_int_equal(counts[GCS_PLAN_ADOPT], 1);
    assert_int_equal(counts[GCS_PLAN_CREATE], 0);

    int rc = plan(f, rows, true, arm_write_faults, &stats, counts);
    assert_true(spill_write_faults > 0);
    assert_int_equal(counts[GCS_PLAN_CREATE], 0);
    assert_int_equal(rc, GCS_EIO);
    assert_non_null(strstr(gcs_error_last(), "spill file"));
    assert_non_null(strstr(gcs_error_last(), strerror(ENOSPC)));
}

/* A user's text that cannot be read back from the spill file fails the run
 * with an I/O error naming the file and why, not "out of memory". */
static void user_not_read_back_is_an_io_error(void **state)
{
    /* old is a leaver (managed, no row): deciding it reads its text back. */
    char *old = user_json("old@example.com", NULL, LONG_TITLE, "old@example.com");
    fixture *f = *state = start(old);
    free(old);
    static const char rows[] = "new@example.com,New,Person,Agent\n";
    gcs_planner_stats stats;
    long counts[GCS_PLAN__KINDS];
    assert_int_equal(plan(f, rows, false, NULL, &stats, counts), 0);
    assert_int_equal(counts[GCS_PLAN_DEACTIVATE], 1);
    assert_int_equal(counts[GCS_PLAN_CREATE], 1);

    fail_spill_reads_past_start = true;
    int rc = plan(f, rows, false, NULL, &stats, counts);
    assert_true(spill_read_faults > 0);
    assert_int_equal(rc, GCS_EIO);
    assert_non_null(strstr(gcs_error_last(), "spill file"));
    assert_non_null(strstr(gcs_error_last(), strerror(EIO)));
}

/* A row whose match value shares its hash with another user's value is not
 * matched to that user: the values themselves are compared. */
static void shared_hash_does_not_match_the_wrong_user(void **state)
{
    char *mallory = user_json("mallory@example.com", "Boss", 0, NULL);
    fixture *f = *state = start(mallory);
    free(mallory);
    static const char rows[] = "alice@example.com,Alice,Archer,Agent\n";
    gcs_planner_stats stats;
    long counts[GCS_PLAN__KINDS];
    assert_int_equal(plan(f, rows, false, NULL, &stats, counts), 0);
    assert_int_equal(counts[GCS_PLAN_CREATE], 1);

    same_hash[0] = "mallory@example.com";
    same_hash[1] = "alice@example.com";
    int rc = plan(f, rows, false, NULL, &stats, counts);
    if (rc != 0)
        fail_msg("plan: %s", gcs_error_last());
    assert_int_equal(counts[GCS_PLAN_ADOPT], 0);
    assert_int_equal(counts[GCS_PLAN_UPDATE], 0);
    assert_int_equal(stats.rejected, 1);
    assert_int_equal(counts[GCS_PLAN_CREATE], 0);
}

/* A row that matches nobody, whose userName shares its hash with another
 * user's userName, does not adopt that user. */
static void shared_hash_does_not_adopt_the_wrong_user(void **state)
{
    char *mallory = user_json("mallory@example.com", "Boss", 0, NULL);
    fixture *f = *state = start_with(mallory, profile_by_external_id);
    free(mallory);
    static const char rows[] = "alice@example.com,Alice,Archer,Agent\n";
    gcs_planner_stats stats;
    long counts[GCS_PLAN__KINDS];
    same_hash[0] = "mallory@example.com";
    same_hash[1] = "alice@example.com";
    int rc = plan(f, rows, false, NULL, &stats, counts);
    if (rc != 0)
        fail_msg("plan: %s", gcs_error_last());
    assert_int_equal(counts[GCS_PLAN_ADOPT], 0);
    assert_int_equal(counts[GCS_PLAN_CREATE], 0);
    assert_int_equal(stats.rejected, 1);
}

/* A user deactivated and renamed between the passes of a listing is read
 * twice, once in each: its two records share an id, and a row matching either
 * claims the user itself (the claim by id). Two rows matching one each are
 * both rejected, as two rows matching one user are, not planned as two
 * operations on one user. */
static void user_read_twice_in_a_listing_is_claimed_once(void **state)
{
    char *old = user_json("old@example.com", "Agent", 0, NULL);
    fixture *f = *state = start(old);
    free(old);
    json_t *st = gcs_test_emu_admin(&f->emu, "GET", "state", NULL);
    between_passes_id = strdup(json_string_value(
        json_object_get(json_array_get(json_object_get(st, "users"), 0), "id")));
    json_decref(st);
    between_passes_token = gcs_test_emu_token(&f->emu, "gcscim-emulator", "gcscim-emulator-secret");
    between_passes_emu = &f->emu;
    between_passes_patch = "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],"
                           "\"Operations\":[{\"op\":\"replace\",\"path\":\"active\",\"value\":false},"
                           "{\"op\":\"replace\",\"path\":\"userName\",\"value\":\"new@example.com\"}]}";
    static const char rows[] = "old@example.com,Old,Name,Agent\n"
                               "new@example.com,New,Name,Agent\n";
    gcs_planner_stats stats;
    long counts[GCS_PLAN__KINDS];
    int rc = plan(f, rows, false, NULL, &stats, counts);
    if (rc != 0)
        fail_msg("plan: %s", gcs_error_last());
    assert_int_equal(between_passes_made, 1);
    assert_int_equal(stats.current_users, 2); /* one user, read in both passes */
    assert_int_equal(stats.rejected, 2);
    for (int k = 0; k < GCS_PLAN__KINDS; k++)
        assert_int_equal(counts[k], 0);
}

/* A source that can be read once only (process substitution: a pipe at
 * /dev/fd/N) is planned whole, not taken half-read by the profile's check. */
static void a_source_from_a_pipe_is_read_once(void **state)
{
    fixture *f = *state = start("");
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    static const char csv[] = "email,first,last,title\n"
                              "p1@example.com,P,1,Agent\np2@example.com,P,2,Agent\n";
    assert_int_equal(write(fds[1], csv, sizeof csv - 1), (ssize_t)(sizeof csv - 1));
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    source_override = path;
    gcs_planner_stats stats;
    long counts[GCS_PLAN__KINDS];
    int rc = plan(f, "", false, NULL, &stats, counts);
    close(fds[0]);
    if (rc != 0)
        fail_msg("plan: %s", gcs_error_last());
    assert_int_equal(counts[GCS_PLAN_CREATE], 2);

    /* and its columns are still checked against the profile, as it is read */
    assert_int_equal(pipe(fds), 0);
    static const char wrong[] = "mail,first,last,title\np1@example.com,P,1,Agent\n";
    assert_int_equal(write(fds[1], wrong, sizeof wrong - 1), (ssize_t)(sizeof wrong - 1));
    close(fds[1]);
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    rc = plan(f, "", false, NULL, &stats, counts);
    close(fds[0]);
    assert_int_equal(rc, GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "'email' is not a column"));

    /* a header and no rows is checked too, as a file with that header is: else
     * its wrong column would pass and every managed user be a leaver */
    assert_int_equal(pipe(fds), 0);
    static const char header_only[] = "mail,first,last,title\n";
    assert_int_equal(write(fds[1], header_only, sizeof header_only - 1),
                     (ssize_t)(sizeof header_only - 1));
    close(fds[1]);
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    rc = plan(f, "", false, NULL, &stats, counts);
    close(fds[0]);
    assert_int_equal(rc, GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "'email' is not a column"));
}

/* A source replaced between the profile's check and its reading, by one
 * without a column the profile maps, fails the plan: its rows are not taken
 * as emptying that attribute for everyone. */
static void a_source_replaced_after_its_check_is_checked_again(void **state)
{
    char *bob = user_json("bob@example.com", "Lead", 0, "bob@example.com");
    fixture *f = *state = start(bob);
    free(bob);
    static const char rows[] = "bob@example.com,Bob,B,Lead\n";
    gcs_planner_stats stats;
    long counts[GCS_PLAN__KINDS];
    replace_source_with = "email,first,last\nbob@example.com,Bob,B\n";
    int rc = plan(f, rows, false, NULL, &stats, counts);
    assert_int_equal(rc, GCS_EINVALID);
    assert_non_null(strstr(gcs_error_last(), "'title' is not a column"));
    assert_int_equal(counts[GCS_PLAN_UPDATE], 0);
}

int main(void)
{
    gcs_test_deadline(280);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(user_read_but_not_kept_fails_the_run, teardown),
        cmocka_unit_test_teardown(user_not_read_back_is_an_io_error, teardown),
        cmocka_unit_test_teardown(shared_hash_does_not_match_the_wrong_user, teardown),
        cmocka_unit_test_teardown(shared_hash_does_not_adopt_the_wrong_user, teardown),
        cmocka_unit_test_teardown(user_read_twice_in_a_listing_is_claimed_once, teardown),
        cmocka_unit_test_teardown(a_source_from_a_pipe_is_read_once, teardown),
        cmocka_unit_test_teardown(a_source_replaced_after_its_check_is_checked_again, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
