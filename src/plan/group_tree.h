/*
 * group_tree.h - a directory's group hierarchy, made into Genesys groups.
 *
 * Directories nest groups; Genesys groups hold users only. Two strategies:
 *   kept:      every directory group is its own Genesys group with its direct
 *              members; the hierarchy is recorded (each node's parents);
 *   flattened: a group's Genesys members are everybody in it or in any group
 *              below it, transitively.
 * The hierarchy is read from both ends (a group's parents, a group's children).
 * Nothing here recurses: the order is found with Kahn's algorithm, so a cycle
 * or a deep chain costs memory proportional to the groups, never stack.
 *
 * Rejected groups (never a write to them): a group on a cycle (self-membership
 * included), a group naming a parent or child no file or column defines, one
 * nested deeper than GCS_GROUP_DEPTH_MAX, and, when flattened, one whose
 * members would exceed GCS_GROUP_MEMBERS_MAX or that holds a rejected group
 * (its membership cannot be known).
 */
#ifndef GCS_PLAN_GROUP_TREE_H
#define GCS_PLAN_GROUP_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "mapping/groups_file.h"
#include "mapping/profile.h"

#define GCS_GROUP_DEPTH_MAX   32     /* levels of nesting */
#define GCS_GROUP_MEMBERS_MAX 100000 /* members of one flattened group */

typedef struct gcs_group_node {
    const gcs_group_def *def; /* borrowed from the defs the tree was built from */
    bool rejected;
    char *why;       /* when rejected: one line */
    json_t *members; /* person key -> true: the Genesys members wanted */
    json_t *parents; /* array of parent group keys (kept: shown in the plan) */
    int depth;       /* 1 for a group with no children */
} gcs_group_node;

typedef struct gcs_group_tree {
    gcs_group_node *nodes; /* in the order of defs */
    size_t count;
    size_t rejected;
    bool oom; /* private: an allocation failed while building */
} gcs_group_tree;

/* Builds the tree of `defs` (borrowed: it must outlive the tree). Returns 0 or
 * GCS_ENOMEM; *out is released on failure. */
int gcs_group_tree_build(gcs_group_tree *out, const gcs_group_defs *defs,
                         gcs_group_hierarchy hierarchy);
void gcs_group_tree_release(gcs_group_tree *t);

#endif
