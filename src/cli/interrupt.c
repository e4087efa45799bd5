#include "cli/interrupt.h"

#include <string.h>

static volatile sig_atomic_t stop_flag;
static struct sigaction old_int, old_term;
static int installed;

static void on_signal(int sig)
{
    if (stop_flag) {
        /* The second one: end now, as the signal would have without us. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_flag = 1;
}

void gcs_cli_interrupt_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a wait in poll() returns at once */
    stop_flag = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    installed = 1;
}

void gcs_cli_interrupt_uninstall(void)
{
    if (!installed)
        return;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    installed = 0;
}

const volatile sig_atomic_t *gcs_cli_interrupt_flag(void)
{
    return &stop_flag;
}
