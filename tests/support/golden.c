/* Golden outputs and their normaliser (golden.h). */
#include "golden.h"

#include "gcstest.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rule {
    const char *pattern; /* POSIX extended */
    const char *as;
    bool word; /* the match must not touch a letter, digit or '_' */
} rule;

/* Steps 2 to 5, 7 and 8 of golden.h, in order; step 6 (the port) is built at run time. */
static const rule before_port[] = {
    {"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}", "{run}", true},
    {"[0-9]{4}-[0-9]{2}-[0-9]{2}[T "
     "][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})?",
     "{time}", false},
    {"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "{id}", true},
    {"[0-9a-f]{64}", "{digest}", true},
};
static const rule after_port[] = {
    {"[0-9]+(\\.[0-9]+)? ?(ms|s)", "{duration}", true},
    {"[0-9]+(\\.[0-9]+)?/s", "{rate}", true},
};

static bool is_word(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static char *replace_literal(char *text, const char *from, const char *to)
{
    if (!from || !*from)
        return text;
    gcs_buf out;
    gcs_buf_init(&out, 0);
    const char *p = text, *hit;
    size_t n = strlen(from);
    while ((hit = strstr(p, from)) != NULL) {
        assert_int_equal(gcs_buf_put(&out, p, (size_t)(hit - p)), 0);
        assert_int_equal(gcs_buf_puts(&out, to), 0);
        p = hit + n;
    }
    assert_int_equal(gcs_buf_puts(&out, p), 0);
    free(text);
    return gcs_buf_detach(&out);
}

/* Replaces every match of `r` in text (freed) and returns the new text. A
 * match refused for touching a word is skipped one character at a time, so
 * that a shorter match further on is still found. */
static char *replace_pattern(char *text, const rule *r)
{
    regex_t re;
    if (regcomp(&re, r->pattern, REG_EXTENDED) != 0)
        fail_msg("golden: bad pattern %s", r->pattern);
    gcs_buf out;
    gcs_buf_init(&out, 0);
    const char *p = text;
    regmatch_t m;
    while (*p && regexec(&re, p, 1, &m, p == text ? 0 : REG_NOTBOL) == 0) {
        const char *s = p + m.rm_so, *e = p + m.rm_eo;
        bool ok = e > s;
        if (ok && r->word) {
            /* A pattern that starts with ':' is bounded by what follows only. */
            bool before_ok = s == text || !is_word(s[-1]) || !is_word(s[0]);
            ok = before_ok && !is_word(*e);
        }
        if (!ok) {
            assert_int_equal(gcs_buf_put(&out, p, (size_t)(s - p) + 1), 0);
            p = s + 1;
            continue;
        }
        assert_int_equal(gcs_buf_put(&out, p, (size_t)(s - p)), 0);
        assert_int_equal(gcs_buf_puts(&out, r->as), 0);
        p = e;
    }
    assert_int_equal(gcs_buf_puts(&out, p), 0);
    regfree(&re);
    free(text);
    return gcs_buf_detach(&out);
}

char *gcs_test_golden_normalise(const char *text, const gcs_test_golden_vars *vars)
{
    char *t = strdup(text ? text : "");
    assert_non_null(t);
    if (vars) {
        t = replace_literal(t, vars->data, "{data}");
        t = replace_literal(t, vars->tmp, "{tmp}");
    }
    for (size_t i = 0; i < sizeof before_port / sizeof *before_port; i++)
        t = replace_pattern(t, &before_port[i]);
    if (vars && vars->port > 0) {
        char pattern[32];
        snprintf(pattern, sizeof pattern, ":%d", vars->port);
        rule port = {pattern, ":{port}", true};
        t = replace_pattern(t, &port);
    }
    for (size_t i = 0; i < sizeof after_port / sizeof *after_port; i++)
        t = replace_pattern(t, &after_port[i]);
    return t;
}

bool gcs_test_golden_updating(void)
{
    const char *update = getenv("GCS_UPDATE_GOLDEN");
    return update && strcmp(update, "1") == 0;
}

char *gcs_test_golden_check(const char *path, const char *got)
{
    got = got ? got : "";
    if (gcs_test_golden_updating()) {
        FILE *f = fopen(path, "w");
        if (!f)
            fail_msg("cannot write %s", path);
        fputs(got, f);
        assert_int_equal(fclose(f), 0);
        return NULL;
    }
    gcs_buf want;
    gcs_buf_init(&want, 0);
    FILE *f = fopen(path, "r");
    if (f) {
        char chunk[4096];
        size_t k;
        while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
            assert_int_equal(gcs_buf_put(&want, chunk, k), 0);
        fclose(f);
    }
    const char *w = want.ptr ? want.ptr : "";
    if (f && strcmp(w, got) == 0) {
        gcs_buf_release(&want);
        return NULL;
    }
    unsigned long line = 1;
    for (size_t i = 0; got[i] && got[i] == w[i]; i++)
        line += got[i] == '\n';
    gcs_buf msg;
    gcs_buf_init(&msg, 0);
    assert_int_equal(gcs_buf_printf(&msg,
                                    "%s %s at line %lu (GCS_UPDATE_GOLDEN=1 rewrites it)\n"
                                    "--- got\n%s--- want\n%s",
                                    path, f ? "differs" : "is missing", line, got, w),
                     0);
    gcs_buf_release(&want);
    return gcs_buf_detach(&msg);
}
