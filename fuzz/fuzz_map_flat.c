/* Fuzzes the flat mapping of a row against the tree's: the input is a mapping
 * profile, a line "---", then a CSV export. For every row, gcs_map_row_flat
 * must say what gcs_map_row says (status, errors, keys), and for a row mapped
 * flat its text (gcs_map_user_put_text) must be the tree's compact dump less
 * its schemas, its digest (gcs_digester_mapped) the tree's (gcs_digester_user),
 * and the tree built from it (gcs_map_user_build) the same tree: a plan made
 * either way must be the same plan. */
#include "core/buf.h"
#include "core/error.h"
#include "engine/managed_digest.h"
#include "mapping/map.h"
#include "mapping/profile.h"
#include "mapping/source.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_or_unset(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void compare(const gcs_profile *profile, gcs_digester *dg, const gcs_row *row)
{
    gcs_map_user tree, flat;
    int rc_tree = gcs_map_row(&tree, profile, row, NULL);
    int rc_flat = gcs_map_row_flat(&flat, profile, row, NULL);
    if (rc_tree != rc_flat || tree.status != flat.status || tree.errors.count != flat.errors.count ||
        !same_or_unset(tree.source_key, flat.source_key) ||
        !same_or_unset(tree.manager_key, flat.manager_key) || tree.match_count != flat.match_count)
        abort();
    if (tree.status == GCS_MAP_OK && flat.values) {
        json_t *copy = json_deep_copy(tree.user);
        char *want = NULL;
        gcs_buf b;
        gcs_buf_init(&b, 0);
        if (copy) {
            json_object_del(copy, "schemas");
            want = json_dumps(copy, JSON_COMPACT | JSON_PRESERVE_ORDER);
        }
        int put = want ? gcs_map_user_put_text(&b, &flat, profile) : -1;
        if (put == 1 && strcmp(b.ptr, want) != 0)
            abort();
        gcs_managed_digest a, d;
        int ra = gcs_digester_user(dg, tree.user, true, &a);
        int rd = gcs_digester_mapped(dg, &flat, &d);
        if (ra >= 0 && rd >= 0 && (ra != rd || (ra == 1 && !gcs_managed_digest_equal(&a, &d))))
            abort();
        if (gcs_managed_active(tree.user) != flat.active)
            abort();
        if (gcs_map_user_build(&flat, profile) == 0 && !json_equal(tree.user, flat.user))
            abort();
        free(want);
        json_decref(copy);
        gcs_buf_release(&b);
    }
    gcs_map_user_release(&tree);
    gcs_map_user_release(&flat);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *sep = size >= 5 ? memmem(text, size, "\n---\n", 5) : NULL;
    if (!sep)
        return 0;
    gcs_profile *profile = NULL;
    if (gcs_profile_load_mem(&profile, "fuzz.yaml", text, (size_t)(sep - text) + 1) != 0)
        return 0;
    gcs_digester dg;
    gcs_digester_init(&dg, profile, gcs_profile_managed_authority(profile));
    const char *csv = sep + 5;
    size_t csv_len = size - (size_t)(csv - text);
    gcs_source *src = NULL;
    if (gcs_source_open_mem(&src, "fuzz.csv", csv, csv_len, GCS_SOURCE_CSV, NULL) == 0) {
        for (int rows = 0; rows < 1000; rows++) {
            const gcs_row *row;
            int rc = gcs_source_next(&row, src);
            if (rc == GCS_EINVALID)
                continue;
            if (rc != GCS_SOURCE_ROW)
                break;
            compare(profile, &dg, row);
        }
    }
    gcs_source_free(src);
    gcs_digester_release(&dg);
    gcs_profile_free(profile);
    return 0;
}
