/*
 * strmap.h - a map from strings to numbers in flat memory, for indexes of a
 * million entries (the planner's users by key, rows by key, ids claimed).
 *
 * Keys are copied once into one growing arena (no allocation per entry) and
 * looked up through an open-addressing table (linear probing) of 32-bit entry
 * numbers: an entry costs its key's bytes plus about 40 bytes, against some
 * 150 for a JSON object member holding an integer. The hash is SipHash-1-3
 * keyed at random per map, so that keys chosen by others (userNames in an
 * organisation) cannot be made to collide on purpose.
 *
 * Invariants: a key is any byte string (NULs included, as `len` says); each
 * key is present once; entries keep their insertion order (gcs_strmap_key_at);
 * nothing is ever removed but by gcs_strmap_release. At most 2^31 entries.
 */
#ifndef GCS_CORE_STRMAP_H
#define GCS_CORE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gcs_strmap_entry {
    size_t key_off; /* into the arena */
    uint32_t key_len;
    uint32_t hash; /* low bits of the key's hash: most misses end here */
    uint64_t value;
} gcs_strmap_entry;

typedef struct gcs_strmap {
    char *arena; /* every key, one after the other, each NUL-terminated */
    size_t arena_len, arena_cap;
    gcs_strmap_entry *entries;
    size_t count, entry_cap;
    uint32_t *slots; /* 1 + entry number, 0 for an empty slot; a power of two long */
    size_t slot_count;
    uint64_t k0, k1; /* the hash key */
} gcs_strmap;

/* Prepares an empty map; allocates nothing. */
void gcs_strmap_init(gcs_strmap *m);
/* Frees what the map holds and leaves it empty and usable. */
void gcs_strmap_release(gcs_strmap *m);

/*
 * Adds `key` (len bytes) with `value`. Returns 1 when added, 0 when the key was
 * there already (its value is replaced when `replace`, else left as it was),
 * GCS_ENOMEM (the map is unchanged), GCS_EINVALID past 2^31 entries or a key
 * of 4 GiB.
 */
int gcs_strmap_put(gcs_strmap *m, const char *key, size_t len, uint64_t value, bool replace);
/* The same with a NUL-terminated key. */
int gcs_strmap_put_str(gcs_strmap *m, const char *key, uint64_t value, bool replace);

/* True when `key` is in the map; *value_out (optional) gets its value. */
bool gcs_strmap_get(const gcs_strmap *m, const char *key, size_t len, uint64_t *value_out);
bool gcs_strmap_get_str(const gcs_strmap *m, const char *key, uint64_t *value_out);
/* True when `key` is in the map; *entry_out gets its entry number (the i of
 * gcs_strmap_key_at), so that others can refer to the key without a copy. */
bool gcs_strmap_entry_of(const gcs_strmap *m, const char *key, size_t len, size_t *entry_out);

size_t gcs_strmap_count(const gcs_strmap *m);
/* The i-th key added (NUL-terminated; *len_out optional): borrowed, valid
 * until the next put. */
const char *gcs_strmap_key_at(const gcs_strmap *m, size_t i, size_t *len_out);
uint64_t gcs_strmap_value_at(const gcs_strmap *m, size_t i);

/* Bytes the map holds (arena, entries, table): for benchmarks and tests. */
size_t gcs_strmap_bytes(const gcs_strmap *m);

#endif
