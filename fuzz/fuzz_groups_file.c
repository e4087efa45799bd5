/* Fuzzes the groups file (mapping/groups_file.h) and the hierarchy built from
 * it (plan/group_tree.h), both strategies: whatever the input, reading ends
 * with valid groups or rejections, never a crash, and the tree never recurses.
 * The first byte picks CSV or JSON. */
#include "core/error.h"
#include "mapping/groups_file.h"
#include "plan/group_tree.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *name = data[0] & 1 ? "fuzz.json" : "fuzz.csv";
    gcs_group_defs defs;
    gcs_group_defs_init(&defs);
    int rc = gcs_groups_file_read_mem(&defs, name, data + 1, size - 1);
    if (rc == GCS_ENOMEM)
        __builtin_trap();
    /* A membership from a people export's column joins the same set. */
    if (rc == 0 && gcs_group_defs_add_member(&defs, "column-group", "P1", "column") == GCS_ENOMEM)
        __builtin_trap();
    for (size_t i = 0; i < defs.count; i++) {
        const gcs_group_def *g = &defs.items[i];
        /* Invariants: every group kept has a key and a name, a type and a
         * visibility that are valid when given, and is found again by its key. */
        if (!g->key || !g->name ||
            (g->type && strcmp(g->type, "official") != 0 && strcmp(g->type, "social") != 0) ||
            (g->visibility && strcmp(g->visibility, "public") != 0 &&
             strcmp(g->visibility, "owners") != 0 && strcmp(g->visibility, "members") != 0) ||
            gcs_group_defs_find(&defs, g->key) != g)
            __builtin_trap();
    }
    for (int h = 0; h < 2 && rc == 0; h++) {
        gcs_group_tree tree;
        if (gcs_group_tree_build(&tree, &defs, h ? GCS_GROUPS_FLATTENED : GCS_GROUPS_KEPT) != 0)
            __builtin_trap();
        for (size_t i = 0; i < tree.count; i++) {
            if (tree.nodes[i].depth > GCS_GROUP_DEPTH_MAX && !tree.nodes[i].rejected)
                __builtin_trap();
        }
        gcs_group_tree_release(&tree);
    }
    gcs_group_defs_release(&defs);
    return 0;
}
