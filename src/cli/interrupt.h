/*
 * interrupt.h - stopping apply and sync cleanly on SIGINT / SIGTERM.
 *
 * The first signal only sets a flag (async-signal-safe) that the run loop
 * checks: it stops sending, lets the calls in flight finish, records the run as
 * interrupted and says how to resume. A second signal ends the process at once
 * (the signal's default action): nothing is lost either, as after kill -9 the
 * resume looks up the creates that were on the wire.
 */
#ifndef GCS_CLI_INTERRUPT_H
#define GCS_CLI_INTERRUPT_H

#include <signal.h>

/* Installs the handlers for SIGINT and SIGTERM and clears the flag. */
void gcs_cli_interrupt_install(void);
/* Puts the previous handlers back. */
void gcs_cli_interrupt_uninstall(void);
/* The flag: nonzero once a signal arrived. */
const volatile sig_atomic_t *gcs_cli_interrupt_flag(void);

#endif
