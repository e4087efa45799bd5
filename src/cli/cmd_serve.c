/* gcscim serve: the always-on service (src/service/serve.h). This file only
 * turns signals into a stop and tells systemd (Type=notify) where it stands. */
#include "cli/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "service/serve.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <systemd/sd-daemon.h>

gcs_exit gcs_cmd_serve(gcs_cli *cli, int argc, char **argv)
{
    int first, rc;
    gcs_serve *srv = NULL;
    gcs_exit code = gcs_cli_parse(cli, argc, argv, NULL, NULL, NULL, &first);
    if (code != GCS_EXIT_OK)
        return code;
    if (first < argc)
        return gcs_cli_usage_error(cli, "serve", "unexpected argument '%s'", argv[first]);
    if ((rc = gcs_cli_load_config(cli)) < 0)
        return gcs_cli_fail(cli, rc);

    /* Every thread started from here on inherits the mask: the signals are
     * taken by sigwait below, never by a worker in the middle of a call. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = gcs_serve_start(&srv, &cli->config)) < 0) {
        code = gcs_cli_fail(cli, rc);
        goto out;
    }
    sd_notify(0, "READY=1\nSTATUS=accepting events");

    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    sd_notify(0, "STOPPING=1\nSTATUS=draining");
    GCS_INFO("serve.stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
    gcs_serve_drain(srv);
    code = GCS_EXIT_OK;
out:
    gcs_serve_free(srv);
    if (code == GCS_EXIT_OK)
        GCS_INFO("serve.stopped");
    return code;
}
