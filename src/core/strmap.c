#include "core/strmap.h"
#include "core/error.h"
#include "core/siphash.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES ((size_t)1 << 31)

/* ==== The map ==== */

void gcs_strmap_init(gcs_strmap *m)
{
    memset(m, 0, sizeof *m);
}

void gcs_strmap_release(gcs_strmap *m)
{
    free(m->arena);
    free(m->entries);
    free(m->slots);
    gcs_strmap_init(m);
}

static void choose_key(gcs_strmap *m)
{
    uint64_t k[2];
    gcs_siphash_random_key(k, m);
    m->k0 = k[0];
    m->k1 = k[1] | 1; /* never zero: zero means "not chosen yet" */
}

static uint64_t hash_of(const gcs_strmap *m, const char *key, size_t len)
{
    return gcs_siphash13(key, len, m->k0, m->k1);
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t find_slot(const gcs_strmap *m, const char *key, size_t len, uint64_t h)
{
    size_t mask = m->slot_count - 1, i = (size_t)h & mask;
    for (;;) {
        uint32_t s = m->slots[i];
        if (s == 0)
            return i;
        const gcs_strmap_entry *e = &m->entries[s - 1];
        if (e->hash == (uint32_t)(h >> 32) && e->key_len == len &&
            memcmp(m->arena + e->key_off, key, len) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

static int grow_slots(gcs_strmap *m)
{
    size_t n = m->slot_count ? m->slot_count * 2 : 64;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    size_t mask = n - 1;
    for (size_t e = 0; e < m->count; e++) {
        const gcs_strmap_entry *x = &m->entries[e];
        size_t i = (size_t)hash_of(m, m->arena + x->key_off, x->key_len) & mask;
        while (slots[i])
            i = (i + 1) & mask;
        slots[i] = (uint32_t)(e + 1);
    }
    free(m->slots);
    m->slots = slots;
    m->slot_count = n;
    return 0;
}

static int reserve(void **ptr, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : first;
    while (n < need)
        n += n / 2 + 1; /* 1.5x: the arena is the biggest part, and it is copied */
    void *p = realloc(*ptr, n * size);
    if (!p)
        return gcs_error_set(GCS_ENOMEM, "out of memory");
    *ptr = p;
    *cap = n;
    return 0;
}

int gcs_strmap_put(gcs_strmap *m, const char *key, size_t len, uint64_t value, bool replace)
{
    if (len >= UINT32_MAX || m->count >= MAX_ENTRIES)
        return gcs_error_set(GCS_EINVALID, "index: too many or too long keys");
    if (m->k1 == 0)
        choose_key(m);
    /* Load at most 1/2: probes stay short without storing the hashes twice. */
    if ((m->count + 1) * 2 > m->slot_count) {
        int rc = grow_slots(m);
        if (rc < 0)
            return rc;
    }
    uint64_t h = hash_of(m, key, len);
    size_t i = find_slot(m, key, len, h);
    if (m->slots[i]) {
        if (replace)
            m->entries[m->slots[i] - 1].value = value;
        return 0;
    }
    int rc = reserve((void **)&m->arena, &m->arena_cap, m->arena_len + len + 1, 1, 4096);
    if (rc == 0)
        rc = reserve((void **)&m->entries, &m->entry_cap, m->count + 1, sizeof *m->entries, 64);
    if (rc < 0)
        return rc;
    gcs_strmap_entry *e = &m->entries[m->count];
    e->key_off = m->arena_len;
    e->key_len = (uint32_t)len;
    e->hash = (uint32_t)(h >> 32);
    e->value = value;
    memcpy(m->arena + m->arena_len, key, len);
    m->arena[m->arena_len + len] = '\0';
    m->arena_len += len + 1;
    m->slots[i] = (uint32_t)++m->count;
    return 1;
}

int gcs_strmap_put_str(gcs_strmap *m, const char *key, uint64_t value, bool replace)
{
    return gcs_strmap_put(m, key, strlen(key), value, replace);
}

bool gcs_strmap_get(const gcs_strmap *m, const char *key, size_t len, uint64_t *value_out)
{
    if (m->count == 0)
        return false;
    size_t i = find_slot(m, key, len, hash_of(m, key, len));
    if (!m->slots[i])
        return false;
    if (value_out)
        *value_out = m->entries[m->slots[i] - 1].value;
    return true;
}

bool gcs_strmap_get_str(const gcs_strmap *m, const char *key, uint64_t *value_out)
{
    return gcs_strmap_get(m, key, strlen(key), value_out);
}

bool gcs_strmap_entry_of(const gcs_strmap *m, const char *key, size_t len, size_t *entry_out)
{
    if (m->count == 0)
        return false;
    size_t i = find_slot(m, key, len, hash_of(m, key, len));
    if (!m->slots[i])
        return false;
    *entry_out = m->slots[i] - 1;
    return true;
}

size_t gcs_strmap_count(const gcs_strmap *m)
{
    return m->count;
}

const char *gcs_strmap_key_at(const gcs_strmap *m, size_t i, size_t *len_out)
{
    if (i >= m->count)
        return NULL;
    if (len_out)
        *len_out = m->entries[i].key_len;
    return m->arena + m->entries[i].key_off;
}

uint64_t gcs_strmap_value_at(const gcs_strmap *m, size_t i)
{
    return i < m->count ? m->entries[i].value : 0;
}

size_t gcs_strmap_bytes(const gcs_strmap *m)
{
    return m->arena_cap + m->entry_cap * sizeof *m->entries + m->slot_count * sizeof *m->slots;
}
