/*
 * recorder.h - turns every finished call of the request engine into a receipt
 * in the store, naming the person it concerned when it can: by the Genesys id in
 * the path, by the userName of a create, or by the key a lookup was made for
 * (its receipt also names the user it found). A call cancelled before it was
 * sent gets no receipt: it was not made. The engine's receipt hook gives
 * bodies already redacted; the store chains and bounds them.
 * A store failure cancels the client's queued work: a call that cannot be
 * proven is not made.
 */
#ifndef GCS_ENGINE_RECORDER_H
#define GCS_ENGINE_RECORDER_H

#include "core/strmap.h"
#include "http/client.h"
#include "store/store.h"

typedef struct gcs_recorder {
    gcs_store *store;
    gcs_http_client *client;
    char run_id[80];
    /* Flat maps (a run of a million creates learns a million of each): every
     * source key once in `keys`, the others to its entry number there. */
    gcs_strmap keys;
    gcs_strmap ids;         /* Genesys id -> source key (each id kept once) */
    gcs_strmap name_to_key; /* lower-case userName -> source key */
    gcs_strmap path_to_key; /* lookup path (with its filter) -> source key */
    uint64_t *id_of_key;    /* entry of keys -> 1 + entry of ids, 0 when none */
    size_t id_of_key_cap;
    int failed;           /* the first store error, or 0 */
} gcs_recorder;

/* Starts recording the client's calls (run_id may be NULL). */
void gcs_recorder_attach(gcs_recorder *r, gcs_store *store, gcs_http_client *client,
                         const char *run_id);
/* Stops recording and flushes; returns the first store error, or 0. */
int gcs_recorder_detach(gcs_recorder *r);
/* Tells the recorder which person an id and a userName belong to. */
void gcs_recorder_learn(gcs_recorder *r, const char *key, const char *id, const char *user_name);
/* The Genesys id learned last for `key`, or NULL: borrowed, valid until the
 * next gcs_recorder_learn. What apply knows of the ids of the people it made. */
const char *gcs_recorder_id_of(const gcs_recorder *r, const char *key);
/* Tells the recorder that a GET of `path` (a filtered lookup) is made for `key`. */
void gcs_recorder_learn_path(gcs_recorder *r, const char *key, const char *path);

#endif
