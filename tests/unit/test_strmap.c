/* gcs_strmap: the flat index of the planner. Examples, then a property test
 * against a plain list on random keys (short alphabets, so that keys repeat,
 * share prefixes and hold NULs). */
#include "gcstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "core/error.h"
#include "core/siphash.h"
#include "core/strmap.h"

static void empty_map_finds_nothing(void **state)
{
    (void)state;
    gcs_strmap m;
    gcs_strmap_init(&m);
    uint64_t v = 7;
    assert_false(gcs_strmap_get_str(&m, "a", &v));
    assert_false(gcs_strmap_get(&m, "", 0, &v));
    assert_int_equal(v, 7);
    assert_int_equal(gcs_strmap_count(&m), 0);
    assert_null(gcs_strmap_key_at(&m, 0, NULL));
    gcs_strmap_release(&m);
    gcs_strmap_release(&m); /* twice is harmless */
}

static void put_keeps_first_value_unless_replaced(void **state)
{
    (void)state;
    gcs_strmap m;
    gcs_strmap_init(&m);
    uint64_t v = 0;
    assert_int_equal(gcs_strmap_put_str(&m,
                                        "userName\x1f"
                                        "a@b.c",
                                        3, false),
                     1);
    assert_int_equal(gcs_strmap_put_str(&m,
                                        "userName\x1f"
                                        "a@b.c",
                                        4, false),
                     0);
    assert_true(gcs_strmap_get_str(&m,
                                   "userName\x1f"
                                   "a@b.c",
                                   &v));
    assert_int_equal(v, 3);
    assert_int_equal(gcs_strmap_put_str(&m,
                                        "userName\x1f"
                                        "a@b.c",
                                        5, true),
                     0);
    assert_true(gcs_strmap_get_str(&m,
                                   "userName\x1f"
                                   "a@b.c",
                                   &v));
    assert_int_equal(v, 5);
    assert_false(gcs_strmap_get_str(&m,
                                    "userName\x1f"
                                    "a@b.C",
                                    NULL));
    assert_false(gcs_strmap_get_str(&m, "userName", NULL));
    assert_int_equal(gcs_strmap_count(&m), 1);
    gcs_strmap_release(&m);
}

static void keys_with_nul_and_empty_key_are_distinct(void **state)
{
    (void)state;
    gcs_strmap m;
    gcs_strmap_init(&m);
    assert_int_equal(gcs_strmap_put(&m, "a\0b", 3, 1, false), 1);
    assert_int_equal(gcs_strmap_put(&m, "a", 1, 2, false), 1);
    assert_int_equal(gcs_strmap_put(&m, "", 0, 3, false), 1);
    uint64_t v;
    assert_true(gcs_strmap_get(&m, "a\0b", 3, &v));
    assert_int_equal(v, 1);
    assert_true(gcs_strmap_get(&m, "a", 1, &v));
    assert_int_equal(v, 2);
    assert_true(gcs_strmap_get(&m, "", 0, &v));
    assert_int_equal(v, 3);
    size_t len;
    assert_memory_equal(gcs_strmap_key_at(&m, 0, &len), "a\0b", 4);
    assert_int_equal(len, 3);
    assert_int_equal(gcs_strmap_value_at(&m, 2), 3);
    gcs_strmap_release(&m);
}

/* The map and a plain list of (key, value) agree after every operation. */
typedef struct model {
    char **keys;
    size_t *lens;
    uint64_t *values;
    size_t n;
} model;

static long model_find(const model *x, const char *key, size_t len)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->lens[i] == len && memcmp(x->keys[i], key, len) == 0)
            return (long)i;
    return -1;
}

static void agrees_with_a_plain_list(void **state)
{
    (void)state;
    enum { OPS = 60000 };
    model x = {calloc(OPS, sizeof(char *)), calloc(OPS, sizeof(size_t)),
               calloc(OPS, sizeof(uint64_t)), 0};
    gcs_strmap m;
    gcs_strmap_init(&m);
    size_t none;
    assert_false(gcs_strmap_entry_of(&m, "", 0, &none));
    unsigned seed = 20261130;
    for (int op = 0; op < OPS; op++) {
        char key[7]; /* short keys over 4 letters: about 5,000 of them, each met often */
        size_t len = (size_t)(rand_r(&seed) % 7);
        for (size_t i = 0; i < len; i++)
            key[i] = "ab\0\x1f"[rand_r(&seed) % 4];
        uint64_t value = (uint64_t)rand_r(&seed) << 20 | (uint64_t)op;
        bool replace = rand_r(&seed) % 2;
        long at = model_find(&x, key, len);
        if (rand_r(&seed) % 3 == 0) { /* a lookup */
            uint64_t got = 0;
            bool found = gcs_strmap_get(&m, key, len, &got);
            assert_int_equal(found, at >= 0);
            if (found)
                assert_int_equal(got, x.values[at]);
            size_t entry = 0;
            assert_int_equal(gcs_strmap_entry_of(&m, key, len, &entry), at >= 0);
            if (at >= 0)
                assert_int_equal(entry, (size_t)at);
            continue;
        }
        int rc = gcs_strmap_put(&m, key, len, value, replace);
        assert_int_equal(rc, at >= 0 ? 0 : 1);
        if (at < 0) {
            x.keys[x.n] = malloc(len + 1);
            memcpy(x.keys[x.n], key, len);
            x.lens[x.n] = len;
            x.values[x.n++] = value;
        } else if (replace) {
            x.values[at] = value;
        }
        assert_int_equal(gcs_strmap_count(&m), x.n);
    }
    /* Every key of the model, in insertion order, with its value. */
    for (size_t i = 0; i < x.n; i++) {
        size_t len;
        const char *k = gcs_strmap_key_at(&m, i, &len);
        assert_int_equal(len, x.lens[i]);
        assert_memory_equal(k, x.keys[i], len);
        assert_int_equal(k[len], '\0');
        uint64_t v;
        assert_true(gcs_strmap_get(&m, x.keys[i], x.lens[i], &v));
        assert_int_equal(v, x.values[i]);
        free(x.keys[i]);
    }
    free(x.keys);
    free(x.lens);
    free(x.values);
    gcs_strmap_release(&m);
}

/* Many similar keys (what userNames look like): all found, none confused,
 * and the table stays flat (about 40 bytes an entry besides the keys). */
static void a_hundred_thousand_keys(void **state)
{
    (void)state;
    enum { N = 100000 };
    gcs_strmap m;
    gcs_strmap_init(&m);
    char key[64];
    size_t key_bytes = 0;
    for (uint64_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "userName\x1fperson%06lu@example.com", (unsigned long)i);
        key_bytes += (size_t)n + 1;
        assert_int_equal(gcs_strmap_put(&m, key, (size_t)n, i, false), 1);
    }
    for (uint64_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "userName\x1fperson%06lu@example.com", (unsigned long)i);
        uint64_t v;
        assert_true(gcs_strmap_get(&m, key, (size_t)n, &v));
        assert_int_equal(v, i);
    }
    assert_false(gcs_strmap_get_str(&m, "userName\x1fperson100000@example.com", NULL));
    /* Growth by half leaves at most a third of the arena and entries unused;
     * the table is 2 to 4 slots of 4 bytes an entry. */
    assert_true(gcs_strmap_bytes(&m) < key_bytes * 3 / 2 + (size_t)N * (24 * 3 / 2 + 16));
    gcs_strmap_release(&m);
}

/* The hand-written SipHash-1-3 (a library's would cost a context per key) is
 * OpenSSL's SIPHASH with one compression and three finalisation rounds, on
 * every length around the 8-byte blocks and random keys. */
static void siphash13_is_openssls(void **state)
{
    (void)state;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    assert_non_null(mac);
    unsigned seed = 7;
    unsigned char data[64];
    for (int round = 0; round < 200; round++) {
        uint64_t k[2] = {((uint64_t)rand_r(&seed) << 32) ^ (uint64_t)rand_r(&seed),
                         ((uint64_t)rand_r(&seed) << 32) ^ (uint64_t)rand_r(&seed)};
        unsigned char key[16];
        for (int i = 0; i < 8; i++) {
            key[i] = (unsigned char)(k[0] >> (8 * i));
            key[8 + i] = (unsigned char)(k[1] >> (8 * i));
        }
        size_t len = (size_t)round % sizeof data;
        for (size_t i = 0; i < len; i++)
            data[i] = (unsigned char)rand_r(&seed);
        unsigned int size = 8, c = 1, d = 3;
        OSSL_PARAM params[] = {OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_SIZE, &size),
                               OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_C_ROUNDS, &c),
                               OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_D_ROUNDS, &d),
                               OSSL_PARAM_construct_end()};
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
        assert_non_null(ctx);
        assert_int_equal(EVP_MAC_init(ctx, key, sizeof key, params), 1);
        assert_int_equal(EVP_MAC_update(ctx, data, len), 1);
        unsigned char out[8];
        size_t outlen = 0;
        assert_int_equal(EVP_MAC_final(ctx, out, &outlen, sizeof out), 1);
        EVP_MAC_CTX_free(ctx);
        assert_int_equal(outlen, 8);
        uint64_t want = 0;
        for (int i = 7; i >= 0; i--)
            want = (want << 8) | out[i];
        assert_int_equal(gcs_siphash13(data, len, k[0], k[1]), want);
    }
    EVP_MAC_free(mac);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_map_finds_nothing),
        cmocka_unit_test(put_keeps_first_value_unless_replaced),
        cmocka_unit_test(keys_with_nul_and_empty_key_are_distinct),
        cmocka_unit_test(agrees_with_a_plain_list),
        cmocka_unit_test(a_hundred_thousand_keys),
        cmocka_unit_test(siphash13_is_openssls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
