/* A small string-keyed hash map (FNV-1a, chained, doubling) and the PRNG the
 * emulator draws ids, faults and latencies from. */
#include "emulator/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void gcs_emu_map_init(emu_map *m)
{
    memset(m, 0, sizeof *m);
}

void gcs_emu_map_release(emu_map *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        emu_map_entry *e = m->buckets[i];
        while (e) {
            emu_map_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof *m);
}

void *gcs_emu_map_get(const emu_map *m, const char *key)
{
    if (!m->nbuckets || !key)
        return NULL;
    uint64_t h = hash_key(key);
    for (emu_map_entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e->value;
    return NULL;
}

static int grow(emu_map *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 64;
    emu_map_entry **b = calloc(n, sizeof *b);
    if (!b)
        return GCS_ENOMEM;
    for (size_t i = 0; i < m->nbuckets; i++) {
        emu_map_entry *e = m->buckets[i];
        while (e) {
            emu_map_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

int gcs_emu_map_put(emu_map *m, const char *key, void *value)
{
    int rc;
    if (m->count >= m->nbuckets && (rc = grow(m)) < 0)
        return rc;
    uint64_t h = hash_key(key);
    emu_map_entry **slot = &m->buckets[h & (m->nbuckets - 1)];
    for (emu_map_entry *e = *slot; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0) {
            e->value = value;
            return 0;
        }
    size_t len = strlen(key);
    emu_map_entry *e = malloc(sizeof *e + len + 1);
    if (!e)
        return GCS_ENOMEM;
    e->hash = h;
    e->value = value;
    memcpy(e->key, key, len + 1);
    e->next = *slot;
    *slot = e;
    m->count++;
    return 0;
}

void gcs_emu_map_remove(emu_map *m, const char *key)
{
    if (!m->nbuckets || !key)
        return;
    uint64_t h = hash_key(key);
    for (emu_map_entry **p = &m->buckets[h & (m->nbuckets - 1)]; *p; p = &(*p)->next) {
        emu_map_entry *e = *p;
        if (e->hash == h && strcmp(e->key, key) == 0) {
            *p = e->next;
            free(e);
            m->count--;
            return;
        }
    }
}

void gcs_emu_lower(char *out, size_t outsz, const char *in)
{
    size_t i = 0;
    for (; in && in[i] && i + 1 < outsz; i++) {
        char c = in[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    if (outsz)
        out[i] = '\0';
}

/* ==== PRNG ==== */

uint64_t gcs_emu_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double gcs_emu_rand_unit(uint64_t *state)
{
    return (double)(gcs_emu_rand(state) >> 11) / (double)(1ULL << 53);
}

char *gcs_emu_put_hex(char *p, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        p[i] = hex[v & 15];
    return p + digits;
}

char *gcs_emu_put_dec(char *p, long v, int min_digits)
{
    char tmp[24];
    int n = 0;
    unsigned long u = v < 0 ? 0 - (unsigned long)v : (unsigned long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n < min_digits)
        tmp[n++] = '0';
    if (v < 0)
        *p++ = '-';
    while (n)
        *p++ = tmp[--n];
    return p;
}

void gcs_emu_cat(char *out, size_t outsz, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + 1 >= outsz)
        return;
    if (n > outsz - 1 - *len)
        n = outsz - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

void gcs_emu_uuid(char out[40], uint64_t *state)
{
    uint64_t a = gcs_emu_rand(state), b = gcs_emu_rand(state);
    a = (a & ~0xf000ULL) | 0x4000ULL;                 /* version 4 */
    b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; /* variant 10 */
    /* %08x-%04x-%04x-%04x-%012llx, without snprintf */
    char *p = gcs_emu_put_hex(out, a >> 32, 8);
    *p++ = '-';
    p = gcs_emu_put_hex(p, a >> 16, 4);
    *p++ = '-';
    p = gcs_emu_put_hex(p, a, 4);
    *p++ = '-';
    p = gcs_emu_put_hex(p, b >> 48, 4);
    *p++ = '-';
    p = gcs_emu_put_hex(p, b, 12);
    *p = '\0';
}
