/* org_names.c - sorted name sets, one per kind (see org_names.h). */
#include "core/org_names.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

typedef struct name_set {
    char **names;   /* sorted once lookups start; kept sorted on insert */
    size_t count, cap;
} name_set;

struct gcs_org_names {
    name_set sets[GCS_ORG__COUNT];
};

int gcs_org_names_new(gcs_org_names **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : gcs_error_set(GCS_ENOMEM, "out of memory");
}

/* Binary search; returns the index of `name` or where it would go. */
static size_t find_slot(const name_set *set, const char *name, bool *found)
{
    size_t lo = 0, hi = set->count;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(set->names[mid], name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int gcs_org_names_add(gcs_org_names *names, gcs_org_kind kind, const char *name)
{
    name_set *set = &names->sets[kind];
    bool found;
    size_t at = find_slot(set, name, &found);
    if (found)
        return 0;
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        char **p = realloc(set->names, cap * sizeof *p);
        if (!p)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
        set->names = p;
        set->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    memmove(set->names + at + 1, set->names + at, (set->count - at) * sizeof *set->names);
    set->names[at] = copy;
    set->count++;
    return 0;
}

bool gcs_org_names_has(const gcs_org_names *names, gcs_org_kind kind, const char *name)
{
    bool found;
    find_slot(&names->sets[kind], name, &found);
    return found;
}

const char *gcs_org_names_similar(const gcs_org_names *names, gcs_org_kind kind,
                                  const char *name)
{
    const name_set *set = &names->sets[kind];
    for (size_t i = 0; i < set->count; i++) {
        if (strcasecmp(set->names[i], name) == 0)
            return set->names[i];
    }
    return NULL;
}

size_t gcs_org_names_count(const gcs_org_names *names, gcs_org_kind kind)
{
    return names->sets[kind].count;
}

void gcs_org_names_free(gcs_org_names *names)
{
    if (!names)
        return;
    for (int k = 0; k < GCS_ORG__COUNT; k++) {
        for (size_t i = 0; i < names->sets[k].count; i++)
            free(names->sets[k].names[i]);
        free(names->sets[k].names);
    }
    free(names);
}
