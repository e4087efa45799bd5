/*
 * Group hierarchy (store.h, "Group hierarchy"): the parent links of kept
 * groups as last applied, written with the group's item mark.
 */
#include "store/store_int.h"

#include "core/error.h"
#include "core/time.h"

#include <stdlib.h>
#include <string.h>

void gcs_store__links_free(gcs_store__links *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        free(l->parents[i]);
    free(l->parents);
    free(l->group_key);
    free(l->group_id);
    free(l->run_id);
    free(l);
}

int gcs_store__links_copy(gcs_store__links **out, const gcs_group_links *links, const char *run_id)
{
    *out = NULL;
    if (!links->group_key || (links->count && !links->parents))
        return gcs_error_set(GCS_EINVALID, "group links need a group key");
    gcs_store__links *l = calloc(1, sizeof *l);
    GCS_CHECK_ALLOC(l);
    bool failed = !(l->group_key = strdup(links->group_key)) ||
                  (links->group_id && !(l->group_id = strdup(links->group_id))) ||
                  (run_id && !(l->run_id = strdup(run_id))) ||
                  (links->count && !(l->parents = calloc(links->count, sizeof *l->parents)));
    for (size_t i = 0; !failed && i < links->count; i++) {
        if (!links->parents[i]) {
            gcs_store__links_free(l);
            return gcs_error_set(GCS_EINVALID, "group '%s': a parent key is missing",
                                 links->group_key);
        }
        failed = !(l->parents[i] = strdup(links->parents[i]));
        l->count += !failed;
    }
    if (failed) {
        gcs_store__links_free(l);
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    *out = l;
    return 0;
}

int gcs_store__links_write(gcs_store *s, const gcs_store__links *l, int64_t time_ms)
{
    const char *del[] = {l->group_key};
    int rc = gcs_store__sql_exec(s, "DELETE FROM group_links WHERE group_key = ?", del, 1, NULL,
                                 NULL, NULL);
    char now[24];
    gcs_store__sql_i64(now, time_ms);
    for (size_t i = 0; rc == 0 && i < l->count; i++) {
        const char *params[] = {l->group_key, l->parents[i], l->group_id, l->run_id, now};
        rc = gcs_store__sql_exec(s,
                                 "INSERT INTO group_links (group_key, parent_key, group_id,"
                                 " run_id, updated_ms) VALUES (?, ?, ?, ?, ?)"
                                 " ON CONFLICT (group_key, parent_key) DO NOTHING",
                                 params, 5, NULL, NULL, NULL);
    }
    if (rc < 0)
        gcs_error_prefix(rc, "cannot record the parents of group '%s'", l->group_key);
    return rc;
}

int gcs_store_item_mark_group(gcs_store *s, const char *run_id, const char *key,
                              const char *state, const char *genesys_id, const char *detail,
                              const gcs_outbox_event *ev, const gcs_group_links *links)
{
    if (!links || !state || strcmp(state, GCS_ITEM_DONE) != 0) /* failed: the old links hold */
        return ev ? gcs_store_item_mark_notify(s, run_id, key, state, genesys_id, detail, ev)
                  : gcs_store_item_mark_queued(s, run_id, key, state, genesys_id, detail);
    if (!run_id || !key)
        return gcs_error_set(GCS_EINVALID, "an item mark needs a run and a key");
    gcs_store__note *note = NULL;
    gcs_store__links *copy = NULL;
    int rc;
    if (ev && (rc = gcs_store__note_prepare(&note, ev)) < 0)
        return rc;
    if ((rc = gcs_store__links_copy(&copy, links, run_id)) < 0) {
        gcs_store__note_free(note);
        return rc;
    }
    rc = gcs_store__mark_enqueue_full(s, run_id, key, state, genesys_id, detail, false, note, copy);
    if (rc < 0)
        gcs_error_prefix(rc, "cannot mark item '%s' of run '%s'", key, run_id);
    return rc;
}

typedef struct links_walk {
    int (*parent_fn)(const char *parent_key, void *payload);
    int (*child_fn)(const char *group_key, const char *group_id, void *payload);
    void *payload;
} links_walk;

static int link_row(const char *const *cols, int ncols, void *payload)
{
    links_walk *w = payload;
    if (ncols < 1 || !cols[0])
        return 0;
    return w->parent_fn ? w->parent_fn(cols[0], w->payload)
                        : w->child_fn(cols[0], ncols > 1 ? cols[1] : NULL, w->payload);
}

int gcs_store_group_parents_each(gcs_store *s, const char *group_key,
                                 int (*fn)(const char *parent_key, void *payload), void *payload)
{
    links_walk w = {fn, NULL, payload};
    const char *params[] = {group_key};
    int rc = gcs_store_flush(s); /* what this process applied is read back */
    if (rc == 0)
        rc = gcs_store__sql_exec(s,
                                 "SELECT parent_key FROM group_links WHERE group_key = ?"
                                 " ORDER BY parent_key",
                                 params, 1, link_row, &w, NULL);
    return rc;
}

int gcs_store_group_children_each(gcs_store *s, const char *parent_key,
                                  int (*fn)(const char *group_key, const char *group_id,
                                            void *payload),
                                  void *payload)
{
    links_walk w = {NULL, fn, payload};
    const char *params[] = {parent_key};
    int rc = gcs_store_flush(s);
    if (rc == 0)
        rc = gcs_store__sql_exec(s,
                                 "SELECT group_key, group_id FROM group_links WHERE parent_key = ?"
                                 " ORDER BY group_key",
                                 params, 1, link_row, &w, NULL);
    return rc;
}
