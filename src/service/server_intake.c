/*
 * The intake: accepted events and requests are committed by one thread, in
 * batches (one transaction for all that arrived while the previous commit
 * ran), so that a burst costs a commit per batch instead of one per event.
 * Each submitter waits for its batch's commit before it answers: nothing is
 * acknowledged that a crash could lose.
 */
#include "service/service_internal.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <stdio.h>
#include <time.h>
#include <string.h>

#define PENDING_RECOUNT_MS 1000

static void refresh_pending(gcs_service *s, bool force)
{
    gcs_service__intake *in = &s->intake;
    int64_t now = gcs_time_mono_ms();
    if (!force && now - in->counted_ms < PENDING_RECOUNT_MS)
        return;
    int64_t n;
    if (gcs_store_job_pending_count(&n, in->store) == 0)
        atomic_store(&in->pending_jobs, n);
    in->counted_ms = now;
}

static void *committer(void *arg)
{
    gcs_service *s = arg;
    gcs_service__intake *in = &s->intake;
    gcs_intake_item items[GCS_SERVICE__INTAKE_BATCH];
    gcs_service__intake_req *batch[GCS_SERVICE__INTAKE_BATCH];
    pthread_mutex_lock(&in->lock);
    for (;;) {
        while (!in->head && !in->stop) {
            /* Idle: recount the pending jobs now and then, so that a queue
             * that was full is seen draining while no event arrives. */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (pthread_cond_timedwait(&in->wake, &in->lock, &until) != 0 && !in->head &&
                !in->stop) {
                pthread_mutex_unlock(&in->lock);
                refresh_pending(s, false);
                pthread_mutex_lock(&in->lock);
            }
        }
        if (!in->head && in->stop)
            break;
        size_t n = 0;
        while (in->head && n < GCS_SERVICE__INTAKE_BATCH) {
            gcs_service__intake_req *r = in->head;
            in->head = r->next;
            batch[n] = r;
            items[n] = r->item;
            n++;
        }
        if (!in->head)
            in->tail = NULL;
        pthread_mutex_unlock(&in->lock);

        int rc = gcs_store_intake_commit(in->store, items, n, s->retention_ms);
        if (rc < 0)
            GCS_ERR("serve.intake", "error", gcs_error_last());
        size_t fresh = 0;
        for (size_t i = 0; i < n; i++)
            fresh += rc == 0 && !items[i].duplicate && !items[i].conflict;
        if (fresh) {
            atomic_fetch_add(&in->pending_jobs, (long long)fresh);
            refresh_pending(s, false);
        }

        pthread_mutex_lock(&in->lock);
        for (size_t i = 0; i < n; i++) {
            batch[i]->item.job_id = items[i].job_id;
            batch[i]->item.duplicate = items[i].duplicate;
            batch[i]->item.conflict = items[i].conflict;
            batch[i]->rc = rc;
            batch[i]->done = true;
        }
        in->waiting -= n;
        pthread_cond_broadcast(&in->committed);
        if (fresh && s->o.on_enqueued) {
            pthread_mutex_unlock(&in->lock);
            s->o.on_enqueued(s->o.ctx);
            pthread_mutex_lock(&in->lock);
        }
    }
    pthread_mutex_unlock(&in->lock);
    return NULL;
}

int gcs_service__intake_start(gcs_service *s)
{
    gcs_service__intake *in = &s->intake;
    int rc;
    if ((rc = gcs_store_open(&in->store, s->o.db_url)) < 0)
        return rc;
    atomic_init(&in->pending_jobs, 0);
    refresh_pending(s, true);
    if (pthread_create(&in->thread, NULL, committer, s) != 0)
        return gcs_error_set(GCS_ERROR, "cannot start the intake thread");
    in->started = true;
    return 0;
}

void gcs_service__intake_stop(gcs_service *s)
{
    gcs_service__intake *in = &s->intake;
    if (in->started) {
        pthread_mutex_lock(&in->lock);
        in->stop = true;
        pthread_cond_signal(&in->wake);
        pthread_mutex_unlock(&in->lock);
        pthread_join(in->thread, NULL);
        in->started = false;
    }
    gcs_store_free(in->store);
    in->store = NULL;
}

int gcs_service__intake_submit(gcs_service *s, gcs_intake_item *item)
{
    gcs_service__intake *in = &s->intake;
    gcs_service__intake_req req;
    memset(&req, 0, sizeof req);
    req.item = *item;
    pthread_mutex_lock(&in->lock);
    if (in->stop) {
        pthread_mutex_unlock(&in->lock);
        return gcs_error_set(GCS_ECANCELLED, "the service is stopping");
    }
    long long pending = atomic_load(&in->pending_jobs);
    if (in->waiting >= GCS_SERVICE__INTAKE_WAITING ||
        pending + (long long)in->waiting >= s->queue_max) {
        pthread_mutex_unlock(&in->lock);
        return gcs_error_set(GCS_ERATELIMIT, "the queue is full (%lld jobs pending)", pending);
    }
    if (in->tail)
        in->tail->next = &req;
    else
        in->head = &req;
    in->tail = &req;
    in->waiting++;
    pthread_cond_signal(&in->wake);
    while (!req.done)
        pthread_cond_wait(&in->committed, &in->lock);
    pthread_mutex_unlock(&in->lock);
    item->job_id = req.item.job_id;
    item->duplicate = req.item.duplicate;
    item->conflict = req.item.conflict;
    if (req.rc < 0)
        return gcs_error_set(req.rc, "the store cannot commit the job now");
    return 0;
}
