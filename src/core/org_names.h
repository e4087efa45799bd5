/*
 * org_names.h - the names that exist in an organisation (roles, divisions,
 * skills, languages), by kind.
 *
 * Filled by genesys/directory.h (gcs_directory_fetch_org_names), read by the
 * mapping's validation (mapping/map.h): it lives in core so that neither of
 * those sibling modules has to include the other.
 */
#ifndef GCS_CORE_ORG_NAMES_H
#define GCS_CORE_ORG_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* The names that exist in the organisation, fetched once per run by the
 * planner. Lookups are exact (Genesys names are case-sensitive); an error for
 * a name that exists with another case suggests it. */
typedef enum gcs_org_kind {
    GCS_ORG_ROLE,
    GCS_ORG_DIVISION,
    GCS_ORG_SKILL,
    GCS_ORG_LANGUAGE,
    GCS_ORG__COUNT
} gcs_org_kind;

typedef struct gcs_org_names gcs_org_names;

int gcs_org_names_new(gcs_org_names **out);
/* Adds a name (copied). Returns 0 or GCS_ENOMEM. */
int gcs_org_names_add(gcs_org_names *names, gcs_org_kind kind, const char *name);
bool gcs_org_names_has(const gcs_org_names *names, gcs_org_kind kind, const char *name);
/* A name equal to `name` ignoring ASCII case, or NULL. Borrowed. */
const char *gcs_org_names_similar(const gcs_org_names *names, gcs_org_kind kind,
                                  const char *name);
size_t gcs_org_names_count(const gcs_org_names *names, gcs_org_kind kind);
void gcs_org_names_free(gcs_org_names *names);

#endif
