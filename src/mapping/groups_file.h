/*
 * groups_file.h - the directory's groups: a groups file, and the memberships
 * a people export names in a column.
 *
 * A groups file is CSV or JSON (an array of objects, or one object per line),
 * read with the same streaming sources as the people export (mapping/source.h),
 * one group per record:
 *   key          the directory's key of the group (required, unique)
 *   name         the Genesys group's name (default: the key); unique, since
 *                Genesys groups are matched by name
 *   description, type (official | social), visibility (public | owners |
 *                members): what the file does not say is left as Genesys has it
 *                (a group created gets official and public)
 *   parents / parent, children   other groups' keys: the hierarchy
 *   members      direct members, by person key (the people export's key)
 *   roles        role grants its members get through the group, each a role
 *                and a division: "Agent@Home;Supervisor@Support", or in JSON
 *                [{"role": "Agent", "division": "Home"}]
 * Lists are separated by ';' or given as a JSON array of strings. A field that
 * is not one of these, in a CSV header, stops the file (a typo would lose a
 * column silently); in a JSON record it rejects that group.
 *
 * Invariants: a group that is not valid is not in `items` but in `rejected`,
 * with the file, line, field and why; keys and names of `items` are unique
 * (a second group with a key or a name already used is rejected, naming the
 * first one's line). Strings are owned by the gcs_group_defs.
 */
#ifndef GCS_MAPPING_GROUPS_FILE_H
#define GCS_MAPPING_GROUPS_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "mapping/row.h"

#define GCS_GROUPS_MAX     100000 /* groups in one file */
#define GCS_GROUP_KEY_MAX  200    /* bytes in a key */
#define GCS_GROUP_NAME_MAX 255    /* bytes in a name (the Genesys limit) */
#define GCS_GROUP_LIST_MAX 100000 /* items in one list field */

typedef struct gcs_group_grant {
    char *role;
    char *division;
} gcs_group_grant;

typedef struct gcs_string_list {
    char **items;
    size_t count, cap;
} gcs_string_list;

typedef struct gcs_group_def {
    char *key;
    char *name;
    char *description;        /* NULL: not managed */
    char *type;               /* "official" or "social"; NULL: not managed */
    char *visibility;         /* "public", "owners" or "members"; NULL: not managed */
    gcs_string_list parents;  /* group keys */
    gcs_string_list children; /* group keys */
    gcs_string_list members;  /* person keys, direct members */
    gcs_group_grant *roles;
    size_t nroles;
    bool has_roles; /* a roles field was given: the group's grants are managed */
    char *location; /* "FILE:LINE", or "column FIELD" for a group only a column names */
} gcs_group_def;

typedef struct gcs_group_defs {
    gcs_group_def *items;
    size_t count, cap;
    gcs_row_errors rejected; /* one entry per problem of a rejected group (the first
                              * GCS_ROW_ERRORS_MAX: a hostile file cannot grow it) */
    size_t rejected_groups;  /* groups rejected (a group with two problems counts once) */
    void *index;             /* key -> position (private) */
    void *rejected_index;    /* key -> line, of a rejected group (private): a column
                              * naming it does not make a bare group of that key */
} gcs_group_defs;

/* An empty set (allocates nothing). */
void gcs_group_defs_init(gcs_group_defs *d);
void gcs_group_defs_release(gcs_group_defs *d);

/*
 * Reads a groups file into `d` (initialised by the caller, possibly holding
 * groups already). Returns 0 when the file was read to its end (some groups
 * may have been rejected: see d->rejected), GCS_EINVALID for a file that
 * cannot be read as a whole (unknown CSV column, broken JSON framing), naming
 * the file and line, GCS_EIO, GCS_ENOMEM.
 */
int gcs_groups_file_read(gcs_group_defs *d, const char *path);
/* The same over memory; `name` stands for the file in messages and its
 * extension picks the format (as gcs_source_open_mem). */
int gcs_groups_file_read_mem(gcs_group_defs *d, const char *name, const void *data, size_t len);

/* The group with this key, or NULL. Borrowed. */
gcs_group_def *gcs_group_defs_find(const gcs_group_defs *d, const char *key);

/*
 * A membership from the people export's column: `person` belongs to the
 * group `group_key`. A key no file defines becomes a group of that name (its
 * location `where`, e.g. "column teams"). GCS_EINVALID for a key that cannot
 * be a group's (empty, too long), GCS_ENOMEM.
 */
int gcs_group_defs_add_member(gcs_group_defs *d, const char *group_key, const char *person,
                              const char *where);

/* Splits a list field: a JSON array of strings when it starts with '[', else
 * items separated by `sep`, blanks around them removed, empty ones dropped.
 * GCS_EINVALID (message: what is wrong) for a malformed array or too many. */
int gcs_string_list_split(gcs_string_list *out, const char *text, char sep);
int gcs_string_list_add(gcs_string_list *l, const char *s, size_t len);
bool gcs_string_list_has(const gcs_string_list *l, const char *s);
void gcs_string_list_release(gcs_string_list *l);

#endif
