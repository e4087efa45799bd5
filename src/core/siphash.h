/*
 * siphash.h - SipHash-1-3 (Aumasson and Bernstein), a keyed 64-bit hash of
 * short strings: for hash tables and fingerprints whose inputs others may
 * choose (userNames, HR values), keyed at random so that no input can be
 * crafted to collide. Not a MAC for anything that leaves the process.
 * Written here rather than OpenSSL's SIPHASH (EVP_MAC), which costs a context
 * per key hashed, several per row at a million rows; test_strmap holds this one
 * to OpenSSL's on random keys and lengths.
 */
#ifndef GCS_CORE_SIPHASH_H
#define GCS_CORE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t gcs_siphash13(const void *data, size_t len, uint64_t k0, uint64_t k1);

/* Fills key with random bits (the kernel's; the clock and `salt`'s address
 * when the kernel has none yet). */
void gcs_siphash_random_key(uint64_t key[2], const void *salt);

#endif
