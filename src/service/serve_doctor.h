/*
 * serve_doctor.h - the checks `gcscim doctor` makes of gcscim serve's setup
 * (engine/doctor.h's more_checks hook): "serve" (the settings serve refuses
 * to start with), "serve-profile" and "notify" (the notify file and its
 * secrets). No network, nothing written.
 */
#ifndef GCS_SERVICE_SERVE_DOCTOR_H
#define GCS_SERVICE_SERVE_DOCTOR_H

#include "core/config.h"
#include "engine/doctor.h"

void gcs_serve_doctor_checks(gcs_doctor_report *out, const gcs_config *cfg, void *ctx);

#endif
