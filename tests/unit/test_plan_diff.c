/*
 * The fewest PATCH operations between a current and a desired user, as data:
 * each tests/data/diff/NAME.json is one test, runnable alone by name
 * (test_plan_diff NAME): {"why", "desired", "current", "skip" (optional),
 * "ops" (the operations expected, in order)}.
 */
#include "gcstest.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "plan/diff.h"

#define CASES GCS_TEST_SOURCE_DIR "/tests/data/diff"
#define MAX_CASES 256

typedef struct diff_case {
    char name[128];
    char path[512];
} diff_case;

static void run_case(void **state)
{
    const diff_case *dc = *state;
    json_error_t err;
    json_t *doc = json_load_file(dc->path, 0, &err);
    if (!doc) {
        fail_msg("%s: line %d: %s", dc->path, err.line, err.text);
        return;
    }
    json_t *ops = NULL, *changes = NULL;
    assert_int_equal(gcs_diff_user(&ops, &changes, json_object_get(doc, "desired"),
                                   json_object_get(doc, "current"), json_object_get(doc, "skip")),
                     0);
    /* Every operation has its readable change. */
    assert_int_equal(json_array_size(ops), json_array_size(changes));
    json_t *want = json_object_get(doc, "ops");
    if (!json_equal(ops, want)) {
        char *got_text = json_dumps(ops, JSON_COMPACT), *want_text = json_dumps(want, JSON_COMPACT);
        fail_msg("%s (%s)\n got: %s\nwant: %s", dc->name,
                 json_string_value(json_object_get(doc, "why")), got_text, want_text);
        free(got_text);
        free(want_text);
    }
    json_decref(ops);
    json_decref(changes);
    json_decref(doc);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const diff_case *)a)->name, ((const diff_case *)b)->name);
}

int main(int argc, char **argv)
{
    static diff_case cases[MAX_CASES];
    static struct CMUnitTest tests[MAX_CASES];
    size_t n = 0;
    DIR *d = opendir(CASES);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", CASES);
        return 1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < MAX_CASES) {
        size_t len = strlen(e->d_name);
        if (len < 6 || len - 5 >= sizeof cases[n].name || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        snprintf(cases[n].name, sizeof cases[n].name, "%.*s", (int)(len - 5), e->d_name);
        if (argc > 1 && strcmp(argv[1], cases[n].name) != 0)
            continue;
        snprintf(cases[n].path, sizeof cases[n].path, "%s/%s", CASES, e->d_name);
        n++;
    }
    closedir(d);
    qsort(cases, n, sizeof *cases, by_name);
    for (size_t i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, &cases[i]};
    return n ? _cmocka_run_group_tests("diff", tests, n, NULL, NULL) : 1;
}
