/*
 * Serve's background check of the receipt chain (chain_check.h).
 */
#include "service/chain_check.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "store/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gcs_chain_check {
    gcs_store *store;            /* this thread's own connection */
    int64_t interval_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    gcs_chain_status status;     /* under lock */
    /* The anchor of the next pass: the head the last intact pass verified. */
    int64_t anchor_seq;
    char anchor_hash[65];
};

/* One pass from the anchor to the head. */
static void check_once(gcs_chain_check *c)
{
    gcs_verify_result r;
    memset(&r, 0, sizeof r);
    int rc = c->anchor_seq > 0
                 ? gcs_store_receipts_verify_since(&r, c->store, c->anchor_seq, c->anchor_hash)
                 : gcs_store_receipts_verify(&r, c->store);
    if (rc < 0) {
        /* Not a verdict on the chain: the timestamp stays, so the alert fires
         * if the store stays unreadable. */
        GCS_WARN("serve.chain", "error", gcs_error_last());
        return;
    }
    pthread_mutex_lock(&c->lock);
    if (r.ok) {
        c->status.intact = true;
        c->status.verified_ms = gcs_time_wall_ms();
        c->status.verified_head = r.head_seq;
    } else {
        c->status.intact = false;
    }
    pthread_mutex_unlock(&c->lock);
    if (r.ok) {
        c->anchor_seq = r.head_seq;
        snprintf(c->anchor_hash, sizeof c->anchor_hash, "%s", r.head_hash);
        return;
    }
    /* The next pass walks the whole chain again: it is the one way to see a
     * repair, and a break stays reported until then. */
    c->anchor_seq = 0;
    c->anchor_hash[0] = '\0';
    char seq[24];
    snprintf(seq, sizeof seq, "%" PRId64, r.broken_seq);
    GCS_ERR("serve.chain_broken", "receipt", seq, "reason", r.reason);
}

static void *check_main(void *arg)
{
    gcs_chain_check *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        pthread_mutex_unlock(&c->lock);
        check_once(c);
        pthread_mutex_lock(&c->lock);
        if (c->stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(c->interval_ms / 1000);
        ts.tv_nsec += (long)(c->interval_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        while (!c->stop && pthread_cond_timedwait(&c->wake, &c->lock, &ts) == 0) {
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int gcs_chain_check_start(gcs_chain_check **out, const char *store_url, int64_t interval_s)
{
    int rc;
    *out = NULL;
    if (interval_s <= 0)
        return gcs_error_set(GCS_EINVALID, "chain_verify_interval must be positive to start");
    gcs_chain_check *c = calloc(1, sizeof *c);
    GCS_CHECK_ALLOC(c);
    if ((rc = gcs_store_open(&c->store, store_url)) < 0) {
        free(c);
        return gcs_error_prefix(rc, "the receipt chain check cannot open the store");
    }
    c->interval_ms = interval_s * 1000;
    c->status.intact = true;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, check_main, c) != 0) {
        gcs_store_free(c->store);
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->wake);
        free(c);
        return gcs_error_set(GCS_ERROR, "cannot start the receipt chain check thread");
    }
    *out = c;
    return 0;
}

void gcs_chain_check_status(gcs_chain_status *out, gcs_chain_check *c)
{
    pthread_mutex_lock(&c->lock);
    *out = c->status;
    pthread_mutex_unlock(&c->lock);
}

void gcs_chain_check_stop(gcs_chain_check *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    gcs_store_free(c->store);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    free(c);
}
