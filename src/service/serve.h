/*
 * serve.h - `gcscim serve` assembled from the configuration: the files it
 * reads (event secrets, API keys, TLS), the Genesys session, the service
 * (service.h), the HTTP server, and the workers. The program only parses its
 * command line, handles signals and tells systemd; everything else is here.
 *
 * Rules kept at start: plain HTTP only on a loopback address (anything else
 * needs tls_cert and tls_key); secret files (event secrets, API keys, the TLS
 * key) must be mode 0600; at least one way in must be configured (event
 * secrets or API keys). Each refusal is one message naming the setting.
 */
#ifndef GCS_SERVICE_SERVE_H
#define GCS_SERVICE_SERVE_H

#include <stdint.h>

#include "core/config.h"

#include <stddef.h>

typedef struct gcs_serve gcs_serve;

/* The refusals of gcs_serve_start that need no network (listen address, TLS
 * and secret files, plain HTTP off loopback), for `gcscim doctor`. On success
 * `summary` says what serve would use ("listen 127.0.0.1:8080 (plain HTTP on
 * loopback), 1 event secret, 2 API keys"). Nothing is kept. */
int gcs_serve_check(const gcs_config *cfg, char *summary, size_t summary_size);
/* The refusal of a profile that generates passwords (its password policy)
 * when serve has nowhere to write them: no passwords_file, or one that cannot
 * be written (docs/serve.md, "Passwords"). Writes nothing (doctor's check);
 * gcs_serve_start also creates the file, private. */
struct gcs_password_policy;
int gcs_serve_check_passwords(const struct gcs_password_policy *policy, const char *profile_path,
                              const char *passwords_file);
/* Starts listening and working; writes the ready file last. */
int gcs_serve_start(gcs_serve **out, const gcs_config *cfg);
/* The base URL it answers on ("http://127.0.0.1:8080"). */
const char *gcs_serve_url(const gcs_serve *s);
/*
 * The stop asked by SIGTERM: from now on /readyz and every new request answer
 * 503; the workers stop claiming and get shutdown_grace to finish their jobs,
 * then give back what they hold (pending again, leases released). Returns
 * once every worker is idle.
 */
void gcs_serve_drain(gcs_serve *s);
/* Closes everything. NULL ok. */
void gcs_serve_free(gcs_serve *s);
/* The shutdown_grace setting, in milliseconds. */
int64_t gcs_serve_grace_ms(const gcs_serve *s);

#endif
