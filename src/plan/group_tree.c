/*
 * group_tree.c - hierarchy, cycles and flattening without recursion
 * (group_tree.h).
 *
 * Edges run parent -> child. Kahn's algorithm, leaves first, gives an order in
 * which every group comes after all the groups below it; the groups it never
 * reaches are on a cycle or above one. A second pass, from the top, within
 * those, takes off the ones merely above a cycle: what is left is exactly the
 * groups on a cycle.
 */
#include "plan/group_tree.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct edge {
    size_t parent, child;
} edge;

typedef struct graph {
    size_t n;
    edge *edges;
    size_t nedges, cap;
    size_t *child_start, *children; /* CSR: the children of p */
    size_t *parent_start, *parents; /* CSR: the parents of c */
} graph;

static void reject(gcs_group_node *node, gcs_group_tree *t, const char *fmt, const char *a,
                   const char *b) __attribute__((format(printf, 3, 0)));
static void reject(gcs_group_node *node, gcs_group_tree *t, const char *fmt, const char *a,
                   const char *b)
{
    if (node->rejected)
        return;
    char why[600];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    /* every caller passes a literal with two %s */
    snprintf(why, sizeof why, fmt, a, b ? b : "");
#pragma GCC diagnostic pop
    node->rejected = true;
    node->why = strdup(why);
    if (!node->why)
        t->oom = true; /* a rejection without its reason is not a result */
    t->rejected++;
}

static int add_edge(graph *g, size_t parent, size_t child)
{
    if (g->nedges == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        edge *e = realloc(g->edges, cap * sizeof *e);
        GCS_CHECK_ALLOC(e);
        g->edges = e;
        g->cap = cap;
    }
    g->edges[g->nedges++] = (edge){parent, child};
    return 0;
}

/* Compressed adjacency in both directions. */
static int index_edges(graph *g)
{
    g->child_start = calloc(g->n + 1, sizeof *g->child_start);
    g->parent_start = calloc(g->n + 1, sizeof *g->parent_start);
    g->children = calloc(g->nedges ? g->nedges : 1, sizeof *g->children);
    g->parents = calloc(g->nedges ? g->nedges : 1, sizeof *g->parents);
    size_t *fill_c = calloc(g->n + 1, sizeof *fill_c), *fill_p = calloc(g->n + 1, sizeof *fill_p);
    int rc = 0;
    if (!g->child_start || !g->parent_start || !g->children || !g->parents || !fill_c || !fill_p) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < g->nedges; i++) {
        g->child_start[g->edges[i].parent + 1]++;
        g->parent_start[g->edges[i].child + 1]++;
    }
    for (size_t i = 0; i < g->n; i++) {
        g->child_start[i + 1] += g->child_start[i];
        g->parent_start[i + 1] += g->parent_start[i];
    }
    for (size_t i = 0; i < g->nedges; i++) {
        size_t p = g->edges[i].parent, c = g->edges[i].child;
        g->children[g->child_start[p] + fill_c[p]++] = c;
        g->parents[g->parent_start[c] + fill_p[c]++] = p;
    }
out:
    free(fill_c);
    free(fill_p);
    return rc;
}

static void graph_release(graph *g)
{
    free(g->edges);
    free(g->child_start);
    free(g->children);
    free(g->parent_start);
    free(g->parents);
}

/* The edges named by every group's parents and children; a name that is no
 * group rejects the group that wrote it. */
static int collect_edges(graph *g, gcs_group_tree *t, const gcs_group_defs *defs)
{
    int rc = 0;
    for (size_t i = 0; i < defs->count && rc == 0; i++) {
        const gcs_group_def *d = &defs->items[i];
        for (size_t k = 0; k < d->parents.count && rc == 0; k++) {
            const gcs_group_def *p = gcs_group_defs_find(defs, d->parents.items[k]);
            if (!p)
                reject(&t->nodes[i], t, "its parent '%s' is not a group of the directory%s",
                       d->parents.items[k], NULL);
            else if (p == d)
                reject(&t->nodes[i], t, "group '%s' is its own parent%s", d->key, NULL);
            else
                rc = add_edge(g, (size_t)(p - defs->items), i);
        }
        for (size_t k = 0; k < d->children.count && rc == 0; k++) {
            const gcs_group_def *c = gcs_group_defs_find(defs, d->children.items[k]);
            if (!c)
                reject(&t->nodes[i], t, "its child '%s' is not a group of the directory%s",
                       d->children.items[k], NULL);
            else if (c == d)
                reject(&t->nodes[i], t, "group '%s' is its own child%s", d->key, NULL);
            else
                rc = add_edge(g, i, (size_t)(c - defs->items));
        }
    }
    return rc;
}

static int set_members(gcs_group_node *node, const gcs_group_def *d)
{
    for (size_t k = 0; k < d->members.count; k++) {
        if (json_object_set_new(node->members, d->members.items[k], json_true()) < 0)
            return gcs_error_set(GCS_ENOMEM, "out of memory");
    }
    return 0;
}

int gcs_group_tree_build(gcs_group_tree *out, const gcs_group_defs *defs,
                         gcs_group_hierarchy hierarchy)
{
    memset(out, 0, sizeof *out);
    graph g;
    memset(&g, 0, sizeof g);
    g.n = defs->count;
    size_t *order = NULL, *pending = NULL;
    bool *placed = NULL;
    int rc = 0;
    out->count = defs->count;
    out->nodes = calloc(defs->count ? defs->count : 1, sizeof *out->nodes);
    order = calloc(defs->count + 1, sizeof *order);
    pending = calloc(defs->count + 1, sizeof *pending);
    placed = calloc(defs->count + 1, sizeof *placed);
    if (!out->nodes || !order || !pending || !placed) {
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < defs->count; i++) {
        gcs_group_node *node = &out->nodes[i];
        node->def = &defs->items[i];
        node->members = json_object();
        node->parents = json_array();
        if (!node->members || !node->parents) {
            rc = gcs_error_set(GCS_ENOMEM, "out of memory");
            goto out;
        }
    }
    if ((rc = collect_edges(&g, out, defs)) < 0 || (rc = index_edges(&g)) < 0)
        goto out;

    /* Leaves first: a group is placed once every group below it is. */
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < g.n; i++) {
        pending[i] = g.child_start[i + 1] - g.child_start[i];
        if (pending[i] == 0)
            order[tail++] = i;
    }
    while (head < tail) {
        size_t c = order[head++];
        placed[c] = true;
        for (size_t k = g.parent_start[c]; k < g.parent_start[c + 1]; k++) {
            size_t p = g.parents[k];
            if (--pending[p] == 0)
                order[tail++] = p;
        }
    }
    size_t nplaced = tail;

    /* Among the rest, from the top: those with no unplaced parent left are above
     * a cycle, not on one. */
    size_t *top = calloc(g.n + 1, sizeof *top);
    bool *above = calloc(g.n + 1, sizeof *above);
    if (!top || !above) {
        free(top);
        free(above);
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
        goto out;
    }
    head = tail = 0;
    for (size_t i = 0; i < g.n; i++) {
        if (placed[i])
            continue;
        pending[i] = 0;
        for (size_t k = g.parent_start[i]; k < g.parent_start[i + 1]; k++)
            pending[i] += !placed[g.parents[k]];
        if (pending[i] == 0)
            top[tail++] = i;
    }
    while (head < tail) {
        size_t p = top[head++];
        above[p] = true;
        for (size_t k = g.child_start[p]; k < g.child_start[p + 1]; k++) {
            size_t c = g.children[k];
            if (!placed[c] && --pending[c] == 0)
                top[tail++] = c;
        }
    }
    for (size_t i = 0; i < g.n; i++) {
        if (placed[i])
            continue;
        if (!above[i])
            reject(&out->nodes[i], out,
                   "group '%s' is nested in itself (its parents and "
                   "children make a cycle)%s",
                   defs->items[i].key, NULL);
        else if (hierarchy == GCS_GROUPS_FLATTENED)
            reject(&out->nodes[i], out,
                   "group '%s' holds a group nested in itself: its members "
                   "cannot be known%s",
                   defs->items[i].key, NULL);
    }
    free(top);
    free(above);

    /* Depth and members, children before parents. */
    for (size_t o = 0; o < nplaced; o++) {
        size_t i = order[o];
        gcs_group_node *node = &out->nodes[i];
        int depth = 1;
        for (size_t k = g.child_start[i]; k < g.child_start[i + 1]; k++) {
            const gcs_group_node *child = &out->nodes[g.children[k]];
            if (child->depth + 1 > depth)
                depth = child->depth + 1;
            if (hierarchy == GCS_GROUPS_FLATTENED && child->rejected)
                reject(node, out, "it holds group '%s', which is rejected%s", child->def->key,
                       NULL);
        }
        node->depth = depth;
        if (depth > GCS_GROUP_DEPTH_MAX) {
            char limit[32];
            snprintf(limit, sizeof limit, "%d", GCS_GROUP_DEPTH_MAX);
            reject(node, out, "groups are nested deeper than %s levels below '%s'", limit,
                   node->def->key);
        }
        if ((rc = set_members(node, node->def)) < 0)
            goto out;
        if (hierarchy != GCS_GROUPS_FLATTENED || node->rejected)
            continue;
        for (size_t k = g.child_start[i]; k < g.child_start[i + 1]; k++) {
            const gcs_group_node *child = &out->nodes[g.children[k]];
            if (json_object_update(node->members, child->members) < 0) {
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
                goto out;
            }
            if (json_object_size(node->members) > GCS_GROUP_MEMBERS_MAX) {
                char limit[32];
                snprintf(limit, sizeof limit, "%d", GCS_GROUP_MEMBERS_MAX);
                reject(node, out, "flattened, it would have more than %s members%s", limit, NULL);
                json_object_clear(node->members);
                break;
            }
        }
    }
    /* Members of groups not placed (kept: on or above a cycle). */
    for (size_t i = 0; i < g.n; i++) {
        if (!placed[i] && (rc = set_members(&out->nodes[i], &defs->items[i])) < 0)
            goto out;
        for (size_t k = g.parent_start[i]; k < g.parent_start[i + 1]; k++) {
            if (json_array_append_new(out->nodes[i].parents,
                                      json_string(defs->items[g.parents[k]].key)) < 0) {
                rc = gcs_error_set(GCS_ENOMEM, "out of memory");
                goto out;
            }
        }
    }
out:
    if (rc == 0 && out->oom)
        rc = gcs_error_set(GCS_ENOMEM, "out of memory");
    graph_release(&g);
    free(order);
    free(pending);
    free(placed);
    if (rc < 0)
        gcs_group_tree_release(out);
    return rc;
}

void gcs_group_tree_release(gcs_group_tree *t)
{
    for (size_t i = 0; t->nodes && i < t->count; i++) {
        free(t->nodes[i].why);
        json_decref(t->nodes[i].members);
        json_decref(t->nodes[i].parents);
    }
    free(t->nodes);
    memset(t, 0, sizeof *t);
}
