/* Users in creation order, with ranks: the k-th active user, or the k-th
 * inactive one, in O(log n). This is what makes a list page O(page size)
 * however large the organisation: `startIndex=999901&count=100` finds its
 * first user by rank, not by walking 999,900 others.
 *
 * Slots are append-only; a deleted user leaves a hole (NULL) that no tree
 * counts. When holes outnumber users the slots are compacted, which keeps the
 * order and costs O(n) once per n deletions. Two Fenwick trees (binary indexed
 * trees), one per state, count the users of each state up to a slot. */
#include "emulator/internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define MIN_CAP 256

static void fw_add(int32_t *fw, size_t cap, size_t slot, int32_t delta)
{
    for (size_t i = slot + 1; i <= cap; i += i & (~i + 1))
        fw[i] += delta;
}

/* Builds both trees from the slots in O(cap). */
static void fw_build(emu_order *o)
{
    for (int k = 0; k < 2; k++) {
        memset(o->fw[k], 0, (o->cap + 1) * sizeof *o->fw[k]);
        for (size_t i = 1; i <= o->cap; i++) {
            emu_user *u = i <= o->nslots ? o->slots[i - 1] : NULL;
            if (u && (int)u->listed_active == k)
                o->fw[k][i] += 1;
            size_t j = i + (i & (~i + 1));
            if (j <= o->cap)
                o->fw[k][j] += o->fw[k][i];
        }
    }
}

static int resize(emu_order *o, size_t cap)
{
    emu_user **s = realloc(o->slots, cap * sizeof *s);
    if (!s)
        return GCS_ENOMEM;
    o->slots = s;
    for (int k = 0; k < 2; k++) {
        int32_t *f = realloc(o->fw[k], (cap + 1) * sizeof *f);
        if (!f)
            return GCS_ENOMEM;
        o->fw[k] = f;
    }
    o->cap = cap;
    fw_build(o);
    return 0;
}

void gcs_emu_order_release(emu_order *o)
{
    free(o->slots);
    free(o->fw[0]);
    free(o->fw[1]);
    memset(o, 0, sizeof *o);
}

int gcs_emu_order_append(emu_order *o, emu_user *u, bool active)
{
    int rc;
    if (o->nslots == o->cap && (rc = resize(o, o->cap ? o->cap * 2 : MIN_CAP)) < 0)
        return rc;
    u->slot = o->nslots++;
    u->listed_active = active;
    o->slots[u->slot] = u;
    o->count[active]++;
    fw_add(o->fw[active], o->cap, u->slot, 1);
    return 0;
}

static void compact(emu_order *o)
{
    size_t n = 0;
    for (size_t i = 0; i < o->nslots; i++)
        if (o->slots[i]) {
            o->slots[n] = o->slots[i];
            o->slots[n]->slot = n;
            n++;
        }
    o->nslots = n;
    o->holes = 0;
    fw_build(o);
}

void gcs_emu_order_remove(emu_order *o, emu_user *u)
{
    assert(o->slots[u->slot] == u);
    fw_add(o->fw[u->listed_active], o->cap, u->slot, -1);
    o->count[u->listed_active]--;
    o->slots[u->slot] = NULL;
    if (++o->holes > 1024 && o->holes > o->count[0] + o->count[1])
        compact(o);
}

void gcs_emu_order_set_active(emu_order *o, emu_user *u, bool active)
{
    if (u->listed_active == active)
        return;
    fw_add(o->fw[u->listed_active], o->cap, u->slot, -1);
    o->count[u->listed_active]--;
    u->listed_active = active;
    fw_add(o->fw[active], o->cap, u->slot, 1);
    o->count[active]++;
}

emu_user *gcs_emu_order_nth(const emu_order *o, bool active, size_t k)
{
    if (k >= o->count[active])
        return NULL;
    /* Binary lifting: the last position whose prefix count is <= k. */
    const int32_t *fw = o->fw[active];
    size_t pos = 0, step = 1;
    while (step * 2 <= o->cap)
        step *= 2;
    size_t left = k;
    for (; step; step /= 2)
        if (pos + step <= o->cap && (size_t)fw[pos + step] <= left) {
            pos += step;
            left -= (size_t)fw[pos];
        }
    /* pos is the count of slots before the wanted one. */
    assert(pos < o->nslots && o->slots[pos] && o->slots[pos]->listed_active == active);
    return o->slots[pos];
}
