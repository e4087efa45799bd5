/*
 * Checking a profile against its source: every source field the profile reads
 * (from, template fields, scope fields) must be a field of the source, so that
 * a misspelt column is one error naming the profile line before anything is
 * read from Genesys, instead of an empty value mapped for every row.
 *
 * The rule for what the source "has":
 *   - CSV: the header's names;
 *   - JSON and NDJSON: every key that appears in at least one good record.
 * A gcs_field_names collector knows the fields the profile wants and marks each
 * one seen; it also remembers the closest other name for each missing one, so
 * that the error can say "did you mean 'job_title'?". The check itself is exact
 * whatever the number of names; only the names kept for suggestions are bounded
 * (GCS_FIELD_NAMES_MAX distinct names of at most NAME_KEEP_MAX bytes).
 */
#include "mapping/internal.h"
#include "mapping/profile.h"
#include "mapping/source.h"

#include "core/error.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NAME_KEEP_MAX 256   /* longer names are checked but never suggested */

/* ==== Distance between names ==== */

/* The name as compared for suggestions: ASCII lower case, without '_', '-' or
 * blanks ("Job Title", "job_title" and "JobTitle" are the same). Returns the
 * length written to out (at most NAME_KEEP_MAX). */
static size_t fold(char *out, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n < NAME_KEEP_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '_' || c == '-' || c == ' ' || c == '\t')
            continue;
        out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    return n;
}

/* Levenshtein distance between two folded names (both at most NAME_KEEP_MAX). */
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t row[NAME_KEEP_MAX + 1];
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* Close enough to suggest: at most max(2, len/3) edits, and fewer edits than
 * the name has characters (so "id" never suggests "ab"). */
static bool close_enough(size_t dist, size_t wanted_len)
{
    size_t limit = wanted_len / 3 > 2 ? wanted_len / 3 : 2;
    return dist <= limit && dist < wanted_len;
}

/* ==== The collector ==== */

typedef struct wanted {
    const char *name;       /* borrowed from the profile; not NUL-terminated for templates */
    size_t len;
    unsigned long line;     /* profile line, 0 when unknown */
    bool seen;
    char folded[NAME_KEEP_MAX];
    size_t folded_len;
    char *best;             /* the closest other name so far (owned), or NULL */
    size_t best_dist;
} wanted;

struct gcs_field_names {
    char *profile_file;
    char *source;
    bool columns;           /* CSV: names are columns of a header */
    wanted *w;
    size_t nw, nseen;
    unsigned long records;  /* good records added (JSON) */
    /* Distinct names met, for suggestions: open addressing, power-of-two size. */
    char **set;
    size_t set_cap, set_count;
    bool overflow;          /* more than GCS_FIELD_NAMES_MAX distinct names */
};

static int want(gcs_field_names *n, const char *name, size_t len, unsigned long line)
{
    for (size_t i = 0; i < n->nw; i++) {
        if (n->w[i].len == len && !memcmp(n->w[i].name, name, len))
            return 0; /* the first use names the line */
    }
    wanted *w = realloc(n->w, (n->nw + 1) * sizeof *w);
    GCS_CHECK_ALLOC(w);
    n->w = w;
    w = &n->w[n->nw++];
    memset(w, 0, sizeof *w);
    w->name = name;
    w->len = len;
    w->line = line;
    w->folded_len = fold(w->folded, name, len);
    return 0;
}

static int want_cond(gcs_field_names *n, const gcs_cond *cond)
{
    int rc;
    if (cond->field && (rc = want(n, cond->field, strlen(cond->field), cond->line)) < 0)
        return rc;
    for (size_t i = 0; i < cond->nkids; i++) {
        if ((rc = want_cond(n, &cond->kids[i])) < 0)
            return rc;
    }
    return 0;
}

/* Every source field the profile reads, in profile order: attributes (from,
 * then template fields), then the scope. */
static int want_profile(gcs_field_names *n, const gcs_profile *p)
{
    int rc;
    for (size_t i = 0; i < p->nattrs; i++) {
        const gcs_attr_rule *a = &p->attrs[i];
        if (a->from && (rc = want(n, a->from, strlen(a->from), a->line)) < 0)
            return rc;
        for (const char *t = a->tmpl; t && *t; t++) {
            if (t[0] == '{' && t[1] == '{') {
                t++;
            } else if (*t == '{') {
                /* The profile compiler checked that every '{' is closed. */
                const char *end = strchr(t, '}');
                assert(end);
                if ((rc = want(n, t + 1, (size_t)(end - t - 1), a->line)) < 0)
                    return rc;
                t = end;
            }
        }
    }
    if (p->groups.column &&
        (rc = want(n, p->groups.column, strlen(p->groups.column), p->groups_line)) < 0)
        return rc;
    return p->scope ? want_cond(n, p->scope) : 0;
}

static uint64_t hash(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* The slot holding `name`, or the empty slot where it would go. */
static size_t slot(const gcs_field_names *n, const char *name, size_t len)
{
    size_t i = hash(name, len) & (n->set_cap - 1);
    while (n->set[i] && !(strlen(n->set[i]) == len && !memcmp(n->set[i], name, len)))
        i = (i + 1) & (n->set_cap - 1);
    return i;
}

/* Inserts a name into the set; returns 1 when it is new, 0 when known or not
 * kept (too long, or GCS_FIELD_NAMES_MAX names kept already), GCS_ENOMEM. */
static int remember(gcs_field_names *n, const char *name, size_t len)
{
    if (len > NAME_KEEP_MAX)
        return 0;
    if (n->set_cap && n->set[slot(n, name, len)])
        return 0;
    if (n->set_count >= GCS_FIELD_NAMES_MAX) {
        n->overflow = true;
        return 0;
    }
    if (n->set_count * 2 >= n->set_cap) {
        gcs_field_names grown = {.set_cap = n->set_cap ? n->set_cap * 2 : 64};
        if (!(grown.set = calloc(grown.set_cap, sizeof *grown.set)))
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        for (size_t i = 0; i < n->set_cap; i++) {
            if (n->set[i])
                grown.set[slot(&grown, n->set[i], strlen(n->set[i]))] = n->set[i];
        }
        free(n->set);
        n->set = grown.set;
        n->set_cap = grown.set_cap;
    }
    size_t i = slot(n, name, len);
    if (!(n->set[i] = strndup(name, len)))
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    n->set_count++;
    return 1;
}

/* One name of the source: marks the profile field it is, and for every field
 * still missing keeps it as a suggestion when it is the closest so far. */
static int add_name(gcs_field_names *n, const char *name, size_t len)
{
    for (size_t i = 0; i < n->nw; i++) {
        wanted *w = &n->w[i];
        if (!w->seen && w->len == len && !memcmp(w->name, name, len)) {
            w->seen = true;
            n->nseen++;
        }
    }
    int rc = remember(n, name, len);
    if (rc <= 0)
        return rc;
    char folded[NAME_KEEP_MAX];
    size_t flen = fold(folded, name, len);
    for (size_t i = 0; i < n->nw; i++) {
        wanted *w = &n->w[i];
        if (w->seen)
            continue;
        size_t d = distance(w->folded, w->folded_len, folded, flen);
        if (!close_enough(d, w->folded_len) || (w->best && d >= w->best_dist))
            continue;
        char *copy = strndup(name, len);
        GCS_CHECK_ALLOC(copy);
        free(w->best);
        w->best = copy;
        w->best_dist = d;
    }
    return 0;
}

static int names_new(gcs_field_names **out, const gcs_profile *profile, const char *source,
                     bool columns)
{
    gcs_field_names *n = calloc(1, sizeof *n);
    int rc = 0;
    *out = NULL;
    if (!n || !(n->profile_file = strdup(profile->file)) || !(n->source = strdup(source))) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    n->columns = columns;
    rc = want_profile(n, profile);
out:
    if (rc < 0) {
        gcs_field_names_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

/* ==== Public API ==== */

int gcs_field_names_new(gcs_field_names **out, const gcs_profile *profile, const gcs_source *src)
{
    gcs_field_names *n;
    bool csv = gcs_source_get_format(src) == GCS_SOURCE_CSV;
    int rc = names_new(&n, profile, src->name, csv);
    if (rc < 0)
        return rc;
    for (size_t i = 0; csv && i < src->nheader; i++) {
        if ((rc = add_name(n, src->header[i], strlen(src->header[i]))) < 0) {
            gcs_field_names_free(n);
            return rc;
        }
    }
    *out = n;
    return 0;
}

void gcs_field_names_excuse(gcs_field_names *n, const char *name)
{
    for (size_t i = 0; name && i < n->nw; i++) {
        wanted *w = &n->w[i];
        if (!w->seen && w->len == strlen(name) && !memcmp(w->name, name, w->len)) {
            w->seen = true;
            n->nseen++;
        }
    }
}

int gcs_field_names_add_row(gcs_field_names *n, const gcs_row *row)
{
    if (n->columns)
        return 0; /* every row has the header's names */
    n->records++;
    if (gcs_field_names_complete(n))
        return 0; /* nothing left to find, nor to suggest */
    for (size_t i = 0; i < row->count; i++) {
        int rc = add_name(n, row->fields[i].name, strlen(row->fields[i].name));
        if (rc < 0)
            return rc;
    }
    return 0;
}

bool gcs_field_names_complete(const gcs_field_names *n)
{
    return n->nseen == n->nw;
}

int gcs_field_names_check(const gcs_field_names *n)
{
    for (size_t i = 0; i < n->nw; i++) {
        const wanted *w = &n->w[i];
        if (w->seen)
            continue;
        char where[32] = "";
        char hint[NAME_KEEP_MAX + 64] = "";
        if (w->line)
            snprintf(where, sizeof where, "line %lu: ", w->line);
        if (w->best)
            snprintf(hint, sizeof hint, " (did you mean '%s'?)", w->best);
        else if (!n->columns && n->records == 0)
            snprintf(hint, sizeof hint, " (the source has no records)");
        else if (n->overflow)
            snprintf(hint, sizeof hint, " (no close name among the first %d names of the source)",
                     GCS_FIELD_NAMES_MAX);
        return gcs_error_set(GCS_EINVALID,
                             "cannot use mapping profile '%s' with '%s': %ssource field '%.*s' "
                             "is not %s%s",
                             n->profile_file, n->source, where, (int)w->len, w->name,
                             n->columns ? "a column of the source"
                                        : "a key of any record of the source",
                             hint);
    }
    return 0;
}

bool gcs_field_names_are_columns(const gcs_field_names *n)
{
    return n->columns;
}

void gcs_field_names_free(gcs_field_names *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nw; i++)
        free(n->w[i].best);
    free(n->w);
    for (size_t i = 0; i < n->set_cap; i++)
        free(n->set[i]);
    free(n->set);
    free(n->profile_file);
    free(n->source);
    free(n);
}

int gcs_profile_check_fields(const gcs_profile *profile, const char *source_name,
                             const char *const *names, size_t count)
{
    gcs_field_names *n;
    int rc = names_new(&n, profile, source_name, true);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < count; i++) {
        if ((rc = add_name(n, names[i], strlen(names[i]))) < 0)
            goto out;
    }
    rc = gcs_field_names_check(n);
out:
    gcs_field_names_free(n);
    return rc;
}

int gcs_source_check_profile(const gcs_profile *profile, const char *path,
                             gcs_source_format format, const gcs_source_options *options)
{
    gcs_source *src = NULL;
    gcs_field_names *n = NULL;
    int rc;
    /* Standard input, a pipe (process substitution), a FIFO, a socket, a
     * terminal: read once only. Anything else that is not a file (a directory)
     * is opened below and fails here, naming it, before Genesys is called. */
    struct stat st;
    if (!strcmp(path, "-") ||
        (stat(path, &st) == 0 &&
         (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode))))
        return GCS_SOURCE_CHECK_DEFERRED;
    if ((rc = gcs_source_open(&src, path, format, options)) < 0)
        goto out;
    if ((rc = gcs_field_names_new(&n, profile, src)) < 0)
        goto out;
    /* JSON: read names until every wanted field has been met (usually the first
     * record) or the file ends. Bad records are skipped here: the real pass
     * reports them. */
    while (!n->columns && !gcs_field_names_complete(n)) {
        const gcs_row *row;
        rc = gcs_source_next(&row, src);
        if (rc == GCS_SOURCE_END)
            break;
        if (rc == GCS_EINVALID)
            continue;
        if (rc < 0)
            goto out;
        if ((rc = gcs_field_names_add_row(n, row)) < 0)
            goto out;
    }
    rc = gcs_field_names_check(n);
out:
    gcs_field_names_free(n);
    gcs_source_free(src);
    return rc;
}
