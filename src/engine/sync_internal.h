/*
 * sync_internal.h - what the two use cases of sync.h (people from rows, one group
 * from an event) share; private to the engine.
 */
#ifndef GCS_ENGINE_SYNC_INTERNAL_H
#define GCS_ENGINE_SYNC_INTERNAL_H

#include "engine/sync.h"
#include "plan/plan.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>

/* Whether every need of gcs_plan_needs() is approved. */
bool gcs_engine__all_approved(const json_t *needs);

/* A plan that waits for an approval is an outcome: nothing was sent, someone
 * must approve (each need names its flag). Told on its own, naming the people
 * (`subjects`) and groups (`groups`) it concerns (both stolen; NULL: none);
 * serve's outcome hook audits it with the job. */
void gcs_engine__notify_needs_approval(gcs_store *store, const gcs_plan *plan, const json_t *needs,
                                      json_t *subjects, json_t *groups,
                                      const gcs_sync_options *o);

#endif
