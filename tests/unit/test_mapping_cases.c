/*
 * Rows into desired SCIM users, as data: each tests/data/mapping/cases/NAME.case
 * is one test (ctest mapping.NAME; test_mapping_cases NAME runs it alone). A
 * case is a text file of sections, each opened by a line "--- NAME":
 *
 *   # lines before the first section say what the case shows
 *   --- profile.yaml          the mapping profile (profile.json too; with both,
 *                             each must give the same outcome)
 *   --- source.csv            the rows (source.json, source.jsonl); optional
 *   --- org                   optional: the organisation's names, as an emulator
 *                             seed inline ({"skills":[{"name":"Billing"}]}) or
 *                             the path of one in the repository
 *   --- expected              the outcome, always the last section
 *
 * A section may take its content from a file of the repository instead:
 * "--- source.csv from examples/hr-export.csv" (the file's path then names it
 * in messages). The outcome is the profile's refusal, or one entry per record:
 *
 *   source.csv:2: ok; match externalId=E1, userName=a@example.com; manager E0;
 *   create only dateHire
 *     {the desired user, keys sorted}
 *   source.csv:3: out of scope
 *   source.csv:4: rejected
 *     source.csv: line 4, column 1 (email): userName: 'bob@' is not an email address
 *   source.csv:5: bad row
 *     source.csv: line 5: ...
 *
 * GCS_UPDATE_GOLDEN=1 rewrites the expected section from what the case gives.
 * Whatever the case, every outcome is also checked against gcs_map_row's
 * contract (a rejected row yields nothing but errors, the thread's error is the
 * first of them, an accepted row's key is its first matching key).
 */
#include "gcstest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mapping/map.h"
#include "mapping/source.h"

#define CASES        GCS_TEST_SOURCE_DIR "/tests/data/mapping/cases"
#define MAX_CASES    512
#define MAX_SECTIONS 8

typedef struct mapping_case {
    char name[128];
    char path[512];
} mapping_case;

typedef struct section {
    char name[128];   /* "profile.yaml", or the repository path it comes from */
    const char *kind; /* the section's own name: "profile.yaml", "source.csv", ... */
    char *text;       /* owned */
    size_t len;
} section;

typedef struct case_file {
    gcs_buf raw;        /* the whole file */
    size_t expected_at; /* offset of the expected section's content */
    section sections[MAX_SECTIONS];
    size_t count;
} case_file;

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    gcs_buf b;
    gcs_buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        assert_int_equal(gcs_buf_put(&b, chunk, n), 0);
    fclose(f);
    if (!b.ptr)
        assert_int_equal(gcs_buf_puts(&b, ""), 0);
    *len = b.len;
    return gcs_buf_detach(&b);
}

/* Splits the file into its sections; fails the test on a malformed case. */
static void parse_case(case_file *cf, const mapping_case *mc)
{
    memset(cf, 0, sizeof *cf);
    size_t len;
    char *text = read_whole(mc->path, &len);
    if (!text)
        fail_msg("cannot read %s", mc->path);
    gcs_buf_init(&cf->raw, 0);
    assert_int_equal(gcs_buf_put(&cf->raw, text, len), 0);
    free(text);
    const char *p = cf->raw.ptr, *end = cf->raw.ptr + cf->raw.len;
    section *open = NULL;
    const char *body = NULL;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        if (end - p > 4 && strncmp(p, "--- ", 4) == 0) {
            if (open) {
                open->len = (size_t)(p - body);
                open->text = strndup(body, open->len);
                assert_non_null(open->text);
            }
            if (cf->count == MAX_SECTIONS)
                fail_msg("%s: more than %d sections", mc->name, MAX_SECTIONS);
            open = &cf->sections[cf->count++];
            char header[512];
            snprintf(header, sizeof header, "%.*s", (int)((nl ? nl : end) - p - 4), p + 4);
            char *from = strstr(header, " from ");
            if (from)
                *from = '\0';
            snprintf(open->name, sizeof open->name, "%s", from ? from + 6 : header);
            static const char *const kinds[] = {"profile.yaml", "profile.yml", "profile.json",
                                                "source.csv",   "source.json", "source.jsonl",
                                                "org",          "expected"};
            for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
                if (strcmp(header, kinds[k]) == 0)
                    open->kind = kinds[k];
            if (!open->kind)
                fail_msg("%s: unknown section '%s'", mc->name, header);
            body = next;
            if (from) {
                char path[1024];
                snprintf(path, sizeof path, "%s/%s", GCS_TEST_SOURCE_DIR, from + 6);
                open->text = read_whole(path, &open->len);
                if (!open->text)
                    fail_msg("%s: cannot read %s", mc->name, path);
                open = NULL;
            }
            if (strcmp(header, "expected") == 0)
                cf->expected_at = (size_t)(next - cf->raw.ptr);
        }
        p = next;
    }
    if (open) {
        open->len = (size_t)(end - body);
        open->text = strndup(body, open->len);
        assert_non_null(open->text);
    }
    if (cf->count == 0 || strcmp(cf->sections[cf->count - 1].kind, "expected") != 0)
        fail_msg("%s: the last section must be 'expected'", mc->name);
}

static void release_case(case_file *cf)
{
    for (size_t i = 0; i < cf->count; i++)
        free(cf->sections[i].text);
    gcs_buf_release(&cf->raw);
}

static const section *find_section(const case_file *cf, const char *prefix)
{
    for (size_t i = 0; i < cf->count; i++)
        if (strncmp(cf->sections[i].kind, prefix, strlen(prefix)) == 0)
            return &cf->sections[i];
    return NULL;
}

static gcs_org_names *load_org(const section *s)
{
    if (!s)
        return NULL;
    json_error_t err;
    json_t *seed;
    size_t lead = strspn(s->text, " \t\r\n");
    if (s->text[lead] == '{') {
        seed = json_loads(s->text, 0, &err);
    } else {
        char path[1024];
        snprintf(path, sizeof path, "%s/%.*s", GCS_TEST_SOURCE_DIR,
                 (int)strcspn(s->text + lead, "\r\n"), s->text + lead);
        seed = json_load_file(path, 0, &err);
    }
    if (!seed)
        fail_msg("org: line %d: %s", err.line, err.text);
    gcs_org_names *org;
    assert_int_equal(gcs_org_names_new(&org), 0);
    const char *kinds[GCS_ORG__COUNT] = {"roles", "divisions", "skills", "languages"};
    for (int k = 0; k < GCS_ORG__COUNT; k++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(seed, kinds[k]), i, e)
        {
            assert_int_equal(gcs_org_names_add(org, (gcs_org_kind)k,
                                               json_string_value(json_object_get(e, "name"))),
                             0);
        }
    }
    json_decref(seed);
    return org;
}

/* The contract of gcs_map_row, whatever the case. */
static void check_contract(const char *name, int rc, const gcs_map_user *u, const char *error)
{
    switch (u->status) {
    case GCS_MAP_OK:
        assert_int_equal(rc, 0);
        assert_non_null(u->user);
        assert_true(u->match_count > 0);
        assert_string_equal(u->source_key, u->match[0].value);
        assert_int_equal(u->errors.count, 0);
        break;
    case GCS_MAP_OUT_OF_SCOPE:
        assert_int_equal(rc, 0);
        assert_null(u->user);
        break;
    case GCS_MAP_REJECTED: {
        assert_int_equal(rc, GCS_EINVALID);
        assert_null(u->user);
        assert_null(u->source_key);
        assert_int_equal(u->match_count, 0);
        assert_true(u->errors.count > 0);
        char first[1024];
        if (!strstr(error, gcs_row_error_format(first, sizeof first, &u->errors.items[0])) &&
            !strstr(error, u->errors.items[0].message))
            fail_msg("%s: the thread's error '%s' is not the first of the row's ('%s')", name,
                     error, first);
        break;
    }
    default:
        fail_msg("%s: status %d", name, (int)u->status);
    }
}

static void render_user(gcs_buf *out, const gcs_map_user *u)
{
    assert_int_equal(gcs_buf_printf(out, "%s:%lu: ok; match", u->file, u->line), 0);
    for (size_t i = 0; i < u->match_count; i++)
        assert_int_equal(
            gcs_buf_printf(out, "%s %s=%s", i ? "," : "", u->match[i].key, u->match[i].value), 0);
    if (u->manager_key)
        assert_int_equal(gcs_buf_printf(out, "; manager %s", u->manager_key), 0);
    for (size_t i = 0; i < u->create_only_count; i++)
        assert_int_equal(
            gcs_buf_printf(out, "%s%s", i ? ", " : "; create only ", u->create_only[i]->name), 0);
    char *json = json_dumps(u->user, JSON_SORT_KEYS);
    assert_non_null(json);
    assert_int_equal(gcs_buf_printf(out, "\n  %s\n", json), 0);
    free(json);
}

static gcs_source_format format_of(const char *kind)
{
    if (strcmp(kind, "source.csv") == 0)
        return GCS_SOURCE_CSV;
    return strcmp(kind, "source.jsonl") == 0 ? GCS_SOURCE_NDJSON : GCS_SOURCE_JSON;
}

/* What the case gives with one of its profiles. */
static void render(gcs_buf *out, const char *case_name, const section *profile_section,
                   const section *source_section, const gcs_org_names *org)
{
    gcs_profile *p = NULL;
    if (gcs_profile_load_mem(&p, profile_section->name, profile_section->text,
                             profile_section->len) != 0) {
        assert_null(p);
        assert_int_equal(gcs_buf_printf(out, "refused: %s\n", gcs_error_last()), 0);
        return;
    }
    if (!source_section) {
        assert_int_equal(gcs_buf_puts(out, "loaded\n"), 0);
        gcs_profile_free(p);
        return;
    }
    gcs_source *src;
    if (gcs_source_open_mem(&src, source_section->name, source_section->text, source_section->len,
                            format_of(source_section->kind), NULL) != 0) {
        assert_int_equal(gcs_buf_printf(out, "stopped: %s\n", gcs_error_last()), 0);
        gcs_profile_free(p);
        return;
    }
    const gcs_row *row;
    int rc;
    char text[2048];
    while ((rc = gcs_source_next(&row, src)) != GCS_SOURCE_END) {
        if (rc == GCS_EINVALID) {
            const gcs_row_error *e = gcs_source_error(src);
            assert_non_null(e);
            assert_int_equal(gcs_buf_printf(out, "%s:%lu: bad row\n  %s\n", e->file, e->line,
                                            gcs_row_error_format(text, sizeof text, e)),
                             0);
            continue;
        }
        if (rc != GCS_SOURCE_ROW) {
            assert_int_equal(gcs_buf_printf(out, "stopped: %s\n", gcs_error_last()), 0);
            break;
        }
        gcs_map_user u;
        rc = gcs_map_row(&u, p, row, org);
        check_contract(case_name, rc, &u, rc ? gcs_error_last() : "");
        if (u.status == GCS_MAP_OK) {
            render_user(out, &u);
        } else {
            assert_int_equal(
                gcs_buf_printf(out, "%s:%lu: %s\n", u.file, u.line,
                               u.status == GCS_MAP_OUT_OF_SCOPE ? "out of scope" : "rejected"),
                0);
            for (size_t i = 0; i < u.errors.count; i++)
                assert_int_equal(
                    gcs_buf_printf(out, "  %s\n",
                                   gcs_row_error_format(text, sizeof text, &u.errors.items[i])),
                    0);
        }
        gcs_map_user_release(&u);
    }
    gcs_source_free(src);
    gcs_profile_free(p);
}

static void run_case(void **state)
{
    const mapping_case *mc = *state;
    case_file cf;
    parse_case(&cf, mc);
    const section *source = find_section(&cf, "source.");
    gcs_org_names *org = load_org(find_section(&cf, "org"));
    gcs_buf got;
    gcs_buf_init(&got, 0);
    const section *first_profile = NULL;
    for (size_t i = 0; i < cf.count; i++) {
        const section *s = &cf.sections[i];
        if (strncmp(s->kind, "profile.", 8) != 0)
            continue;
        gcs_buf this;
        gcs_buf_init(&this, 0);
        render(&this, mc->name, s, source, org);
        if (!first_profile) {
            first_profile = s;
            got = this;
        } else {
            if (strcmp(got.ptr, this.ptr) != 0)
                fail_msg("%s: %s and %s disagree\n--- %s\n%s--- %s\n%s", mc->name,
                         first_profile->name, s->name, first_profile->name, got.ptr, s->name,
                         this.ptr);
            gcs_buf_release(&this);
        }
    }
    if (!first_profile)
        fail_msg("%s: no profile section", mc->name);
    const section *expected = &cf.sections[cf.count - 1];
    const char *update = getenv("GCS_UPDATE_GOLDEN");
    if (update && strcmp(update, "1") == 0) {
        FILE *f = fopen(mc->path, "wb");
        assert_non_null(f);
        fwrite(cf.raw.ptr, 1, cf.expected_at, f);
        fputs(got.ptr, f);
        assert_int_equal(fclose(f), 0);
    } else if (strcmp(expected->text, got.ptr) != 0) {
        fail_msg("%s: the outcome differs from its expected section (GCS_UPDATE_GOLDEN=1 "
                 "rewrites it)\n--- got\n%s--- expected\n%s",
                 mc->name, got.ptr, expected->text);
    }
    gcs_buf_release(&got);
    gcs_org_names_free(org);
    release_case(&cf);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const mapping_case *)a)->name, ((const mapping_case *)b)->name);
}

int main(int argc, char **argv)
{
    gcs_test_deadline(120);
    static mapping_case cases[MAX_CASES];
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
        if (len < 6 || len - 5 >= sizeof cases[n].name || strcmp(e->d_name + len - 5, ".case") != 0)
            continue;
        snprintf(cases[n].name, sizeof cases[n].name, "%.*s", (int)(len - 5), e->d_name);
        if (argc > 1 && strcmp(argv[1], cases[n].name) != 0)
            continue;
        snprintf(cases[n].path, sizeof cases[n].path, "%s/%s", CASES, e->d_name);
        n++;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "no case %s in %s\n", argc > 1 ? argv[1] : "", CASES);
        return 1;
    }
    qsort(cases, n, sizeof *cases, by_name);
    for (size_t i = 0; i < n; i++)
        tests[i] = (struct CMUnitTest){cases[i].name, run_case, NULL, NULL, &cases[i]};
    return _cmocka_run_group_tests("mapping cases", tests, n, NULL, NULL);
}
