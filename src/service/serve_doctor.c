/*
 * What `gcscim doctor` checks of gcscim serve: the settings serve refuses to
 * start with (listen address, TLS and secret files, plain HTTP off loopback),
 * its profile (and where the passwords it generates go), and the notify file,
 * without listening, calling anyone or writing.
 */
#include "service/serve_doctor.h"

#include "core/error.h"
#include "mapping/profile.h"
#include "service/notify.h"
#include "service/serve.h"

#include <stdbool.h>
#include <stdio.h>

/* Whether this configuration is meant for serve at all: a way in is set. */
static bool serve_configured(const gcs_config *cfg)
{
    const char *secrets = gcs_config_get(cfg, GCS_CFG_EVENT_SECRETS_FILE);
    const char *keys = gcs_config_get(cfg, GCS_CFG_API_KEYS_FILE);
    return (secrets && *secrets) || (keys && *keys);
}

void gcs_serve_doctor_checks(gcs_doctor_report *out, const gcs_config *cfg, void *ctx)
{
    (void)ctx;
    char detail[1024];
    if (!serve_configured(cfg)) {
        gcs_doctor_add(out, "serve", GCS_DOCTOR_SKIPPED,
                       "not set up for gcscim serve (no event_secrets_file or api_keys_file)",
                       NULL);
    } else if (gcs_serve_check(cfg, detail, sizeof detail) < 0) {
        gcs_doctor_add(out, "serve", GCS_DOCTOR_FAIL, gcs_error_last(),
                       "serve would refuse to start: fix the setting the message names "
                       "(docs/serve.md, 'Settings')");
    } else {
        gcs_doctor_add(out, "serve", GCS_DOCTOR_OK, detail, NULL);
    }

    const char *profile = gcs_config_get(cfg, GCS_CFG_PROFILE);
    if (!serve_configured(cfg)) {
        /* nothing more to say: plan and sync take --profile themselves */
    } else if (!profile || !*profile) {
        gcs_doctor_add(out, "serve-profile", GCS_DOCTOR_FAIL, "serve has no mapping profile",
                       "give profile (--profile FILE, GCSCIM_PROFILE or the config file)");
    } else {
        gcs_profile *p = NULL;
        if (gcs_profile_load(&p, profile) < 0) {
            gcs_doctor_add(out, "serve-profile", GCS_DOCTOR_FAIL, gcs_error_last(),
                           "fix the profile; 'gcscim doctor --source FILE --profile FILE' checks "
                           "it against an export");
        } else if (gcs_serve_check_passwords(gcs_profile_password_policy(p), profile,
                                             gcs_config_get(cfg, GCS_CFG_PASSWORDS_FILE)) < 0) {
            gcs_doctor_add(out, "serve-profile", GCS_DOCTOR_FAIL, gcs_error_last(),
                           "serve would refuse to start: give passwords_file, or let Genesys "
                           "make passwords (docs/serve.md, 'Passwords')");
        } else {
            snprintf(detail, sizeof detail, "%s loads", profile);
            gcs_doctor_add(out, "serve-profile", GCS_DOCTOR_OK, detail, NULL);
        }
        gcs_profile_free(p);
    }

    const char *notify = gcs_config_get(cfg, GCS_CFG_NOTIFY_FILE);
    if (!notify || !*notify) {
        gcs_doctor_add(out, "notify", GCS_DOCTOR_SKIPPED,
                       "no notify_file: outcomes are not sent to any endpoint", NULL);
        return;
    }
    gcs_notify_config *nc = NULL;
    if (gcs_notify_config_load(&nc, notify) < 0) {
        gcs_doctor_add(out, "notify", GCS_DOCTOR_FAIL, gcs_error_last(),
                       "fix the notify file (docs/notifications.md)");
        return;
    }
    const gcs_outbox_routes *routes = gcs_notify_routes(nc);
    size_t n = routes ? routes->count : 0;
    snprintf(detail, sizeof detail, "%s: %zu endpoint%s, secrets readable", notify, n,
             n == 1 ? "" : "s");
    gcs_doctor_add(out, "notify", GCS_DOCTOR_OK, detail, NULL);
    gcs_notify_config_free(nc);
}
