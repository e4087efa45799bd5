/*
 * chain_check.h - serve's background check of the receipt chain.
 *
 * One thread with its own store connection verifies the chain at start and
 * then every interval, incrementally: each pass starts from the last head it
 * verified (seq and hash, gcs_store_receipts_verify_anchored) and ends at the
 * head it sees, so a pass costs the receipts written since the previous one.
 * A break is logged at error level naming the first broken receipt, and the
 * chain stays reported as not intact; later passes start over from the
 * beginning, so a repaired store is seen as intact again.
 */
#ifndef GCS_SERVICE_CHAIN_CHECK_H
#define GCS_SERVICE_CHAIN_CHECK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gcs_chain_check gcs_chain_check;

/* What /metrics shows. verified_ms is 0 until a pass reached the head it saw. */
typedef struct gcs_chain_status {
    int64_t verified_ms;     /* wall clock of the last pass that verified up to its head */
    int64_t verified_head;   /* the seq that pass verified up to */
    bool intact;             /* false once a pass found a break */
} gcs_chain_status;

/* Starts the thread; interval_s > 0. The first pass starts at once. */
int gcs_chain_check_start(gcs_chain_check **out, const char *store_url, int64_t interval_s);
void gcs_chain_check_status(gcs_chain_status *out, gcs_chain_check *c);
/* Stops the thread (a pass under way finishes first) and frees. NULL ok. */
void gcs_chain_check_stop(gcs_chain_check *c);

#endif
